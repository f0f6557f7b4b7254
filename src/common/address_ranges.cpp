#include "common/address_ranges.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "common/strings.hpp"

namespace contex {
namespace {

bool ParseAddress(std::string_view text, std::array<unsigned char, 16>& bytes, bool& v6) {
    std::string s(text);
    std::memset(bytes.data(), 0, bytes.size());
    if (inet_pton(AF_INET, s.c_str(), bytes.data()) == 1) {
        v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, s.c_str(), bytes.data()) == 1) {
        // IPv4-mapped IPv6 (::ffff:a.b.c.d) compares as IPv4.
        static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(bytes.data(), kMapped, 12) == 0) {
            std::memmove(bytes.data(), bytes.data() + 12, 4);
            std::memset(bytes.data() + 4, 0, 12);
            v6 = false;
        } else {
            v6 = true;
        }
        return true;
    }
    return false;
}

}  // namespace

std::optional<AddressRanges> AddressRanges::Parse(std::string_view list) {
    AddressRanges out;
    for (auto raw : Split(list, ',')) {
        auto entry = TrimView(raw);
        if (entry.empty()) continue;
        Range range;
        auto slash = entry.find('/');
        auto addr = entry.substr(0, slash);
        if (!ParseAddress(addr, range.bytes, range.v6)) return std::nullopt;
        int max_prefix = range.v6 ? 128 : 32;
        range.prefix = max_prefix;
        if (slash != std::string_view::npos) {
            auto bits = entry.substr(slash + 1);
            if (bits.empty() || bits.size() > 3) return std::nullopt;
            int p = 0;
            for (char c : bits) {
                if (c < '0' || c > '9') return std::nullopt;
                p = p * 10 + (c - '0');
            }
            if (p > max_prefix) return std::nullopt;
            range.prefix = p;
        }
        out.ranges_.push_back(range);
    }
    return out;
}

bool AddressRanges::Contains(std::string_view address) const {
    std::array<unsigned char, 16> bytes{};
    bool v6 = false;
    if (!ParseAddress(address, bytes, v6)) return false;
    for (const auto& r : ranges_) {
        if (r.v6 != v6) continue;
        int full = r.prefix / 8, rest = r.prefix % 8;
        if (std::memcmp(bytes.data(), r.bytes.data(), static_cast<std::size_t>(full)) != 0) continue;
        if (rest) {
            unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
            if ((bytes[static_cast<std::size_t>(full)] & mask) !=
                (r.bytes[static_cast<std::size_t>(full)] & mask)) {
                continue;
            }
        }
        return true;
    }
    return false;
}

}  // namespace contex
