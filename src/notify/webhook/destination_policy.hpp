// Where agent webhooks may go (operations.md §8.7). Link-local (cloud metadata),
// 0.0.0.0/8, multicast and broadcast are always refused; loopback and private ranges too
// when block_private is set; allowed_hosts (hostnames or CIDRs) overrides both. Checked at
// registration (CheckUrl) and by the sender on the resolved address of every attempt
// (AllowsAddress). Immutable after Create; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/address_ranges.hpp"
#include "common/result.hpp"

namespace contex::notify {

struct DestinationPolicyOptions {
    bool block_private = false;             // WEBHOOK_BLOCK_PRIVATE
    std::vector<std::string> allowed_hosts;  // WEBHOOK_ALLOWED_HOSTS: hostnames or CIDRs
};

inline constexpr std::string_view kBlockedAddressMessage =
    "webhook_url resolves to a blocked address";

class DestinationPolicy {
public:
    // Entries of allowed_hosts that parse as an address or CIDR exempt those addresses;
    // the others exempt the hostname (case-insensitive). Never fails.
    explicit DestinationPolicy(const DestinationPolicyOptions& options);

    // Registration-time check of a webhook URL: kInvalidArgument "webhook_url must be an
    // http or https URL with a host" or kBlockedAddressMessage when the host is an address
    // literal that is refused or a name that resolves (getaddrinfo, blocking) to any
    // refused address. A name that does not resolve now passes: every attempt re-checks.
    Status CheckUrl(std::string_view url) const;

    // Whether a connection for `host` (the URL's host, lower case) may go to the numeric
    // `address` (IPv4 or IPv6 text). Unparseable addresses are refused.
    bool AllowsAddress(std::string_view host, std::string_view address) const;

private:
    bool block_private_;
    std::vector<std::string> allowed_names_;
    AddressRanges allowed_ranges_;
    AddressRanges always_blocked_;
    AddressRanges private_ranges_;
};

// The URL's lower-case host (without IPv6 brackets) and port (default 80/443), or
// kInvalidArgument for anything but an absolute http(s) URL with a host.
struct UrlEndpoint {
    std::string scheme;
    std::string host;
    int port = 0;
};
Result<UrlEndpoint> ParseWebhookUrl(std::string_view url);

}  // namespace contex::notify
