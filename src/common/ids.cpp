#include "common/ids.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <random>

namespace contex {
namespace {

std::mt19937_64& ThreadRng() {
    thread_local std::mt19937_64 rng = [] {
        std::array<std::uint64_t, 4> seed{};
        if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()), sizeof seed) != 1) {
            std::random_device rd;
            for (auto& s : seed) s = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
        }
        std::seed_seq seq(seed.begin(), seed.end());
        return std::mt19937_64(seq);
    }();
    return rng;
}

}  // namespace

std::string RandomHex(std::size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(n, '0');
    auto& rng = ThreadRng();
    std::uint64_t bits = 0;
    int left = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (left == 0) {
            bits = rng();
            left = 16;
        }
        out[i] = kHex[bits & 15];
        bits >>= 4;
        --left;
    }
    return out;
}

std::string NewUuid() {
    std::string h = RandomHex(32);
    h[12] = '4';
    static constexpr char kVariant[] = "89ab";
    h[16] = kVariant[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3];
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
           "-" + h.substr(20, 12);
}

std::string SecureRandomBytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
        auto& rng = ThreadRng();
        for (auto& c : out) c = static_cast<char>(rng());
    }
    return out;
}

}  // namespace contex
