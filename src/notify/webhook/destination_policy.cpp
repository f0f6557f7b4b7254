#include "notify/webhook/destination_policy.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <boost/url/parse.hpp>

#include "common/strings.hpp"

namespace contex::notify {
namespace {

constexpr std::string_view kAlwaysBlocked =
    "169.254.0.0/16, fe80::/10, 0.0.0.0/8, ::/128, 224.0.0.0/4, ff00::/8, 255.255.255.255/32";
constexpr std::string_view kPrivate =
    "127.0.0.0/8, ::1/128, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, fc00::/7";

Error BadUrl() {
    return InvalidArgument("webhook_url must be an http or https URL with a host");
}

// Numeric text of every address `host` resolves to; empty when it does not resolve.
std::vector<std::string> Resolve(const std::string& host) {
    std::vector<std::string> out;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &list) != 0) return out;
    for (addrinfo* ai = list; ai; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN] = {};
        const void* raw = ai->ai_family == AF_INET
                              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
                              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
        if (inet_ntop(ai->ai_family, raw, text, sizeof text)) out.emplace_back(text);
    }
    freeaddrinfo(list);
    return out;
}

}  // namespace

Result<UrlEndpoint> ParseWebhookUrl(std::string_view url) {
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) return BadUrl();
    UrlEndpoint out;
    out.scheme = ToLowerAscii(parsed->scheme());
    if (out.scheme != "http" && out.scheme != "https") return BadUrl();
    if (!parsed->has_authority()) return BadUrl();
    out.host = ToLowerAscii(parsed->encoded_host_address());
    if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
        out.host = out.host.substr(1, out.host.size() - 2);
    }
    if (out.host.empty()) return BadUrl();
    out.port = out.scheme == "https" ? 443 : 80;
    if (parsed->has_port()) {
        if (parsed->port().empty() || parsed->port_number() == 0) return BadUrl();
        out.port = parsed->port_number();
    }
    return out;
}

DestinationPolicy::DestinationPolicy(const DestinationPolicyOptions& options)
    : block_private_(options.block_private),
      always_blocked_(*AddressRanges::Parse(kAlwaysBlocked)),
      private_ranges_(*AddressRanges::Parse(kPrivate)) {
    std::string cidrs;
    for (const auto& entry : options.allowed_hosts) {
        auto trimmed = TrimView(entry);
        if (trimmed.empty()) continue;
        if (AddressRanges::Parse(trimmed)) {
            cidrs.append(trimmed).push_back(',');
        } else {
            allowed_names_.push_back(ToLowerAscii(trimmed));
        }
    }
    allowed_ranges_ = AddressRanges::Parse(cidrs).value_or(AddressRanges{});
}

bool DestinationPolicy::AllowsAddress(std::string_view host, std::string_view address) const {
    for (const auto& name : allowed_names_) {
        if (name == host) return true;
    }
    if (address.empty() || !AddressRanges::Parse(address)) return false;
    if (allowed_ranges_.Contains(address)) return true;
    if (always_blocked_.Contains(address)) return false;
    if (block_private_ && private_ranges_.Contains(address)) return false;
    return true;
}

Status DestinationPolicy::CheckUrl(std::string_view url) const {
    CONTEX_ASSIGN_OR_RETURN(UrlEndpoint endpoint, ParseWebhookUrl(url));
    std::vector<std::string> addresses;
    if (AddressRanges::Parse(endpoint.host)) {
        addresses.push_back(endpoint.host);
    } else {
        addresses = Resolve(endpoint.host);
    }
    for (const auto& address : addresses) {
        if (!AllowsAddress(endpoint.host, address)) {
            return InvalidArgument(std::string(kBlockedAddressMessage));
        }
    }
    return OkStatus();
}

}  // namespace contex::notify
