// IP address ranges (CIDR lists, IPv4 and IPv6): TRUSTED_PROXIES, and the webhook
// destination policy (operations.md §8.7). Immutable after Parse; thread-safe.
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <vector>

namespace contex {

// A set of CIDR ranges. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) compare as IPv4.
class AddressRanges {
public:
    // Parses "10.0.0.0/8, 127.0.0.1, ::1/128"; nullopt on a malformed entry.
    static std::optional<AddressRanges> Parse(std::string_view list);
    bool Contains(std::string_view address) const;
    bool empty() const { return ranges_.empty(); }

private:
    struct Range {
        std::array<unsigned char, 16> bytes{};
        int prefix = 0;
        bool v6 = false;
    };
    std::vector<Range> ranges_;
};

}  // namespace contex
