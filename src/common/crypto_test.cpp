#include "common/crypto.hpp"
#include "common/ids.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace contex {
namespace {

TEST(Crypto, Sha256MatchesKnownVector) {
    EXPECT_EQ(Sha256Hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, HmacSha256MatchesRfc4231Case2) {
    EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, Base64RoundTripsAndRejectsGarbage) {
    for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff", 2)}) {
        std::string decoded;
        ASSERT_TRUE(Base64Decode(Base64Encode(s), decoded));
        EXPECT_EQ(decoded, s);
    }
    std::string out;
    EXPECT_FALSE(Base64Decode("abc", out));
    EXPECT_FALSE(Base64Decode("a$c=", out));
}

TEST(Ids, RandomHexAndUuidHaveCanonicalShape) {
    auto h = RandomHex(32);
    EXPECT_EQ(h.size(), 32u);
    EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(RandomHex(32), h);
    auto u = NewUuid();
    ASSERT_EQ(u.size(), 36u);
    EXPECT_EQ(u[14], '4');
    EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos);
}

}  // namespace
}  // namespace contex
