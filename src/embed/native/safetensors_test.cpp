#include "embed/native/safetensors.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace contex::embed::native::internal {
namespace {

namespace fs = std::filesystem;

fs::path WriteFile(const std::string& name, const std::string& header, const std::string& data) {
    const fs::path path = fs::temp_directory_path() / ("contex_st_" + name + ".safetensors");
    std::ofstream out(path, std::ios::binary);
    const uint64_t len = header.size();
    out.write(reinterpret_cast<const char*>(&len), 8);
    out << header << data;
    return path;
}

std::string Bytes(const void* p, std::size_t n) { return {static_cast<const char*>(p), n}; }

TEST(SafeTensors, ConvertsF16AndBf16AndAcceptsBertPrefix) {
    const uint16_t f16[4] = {0x3C00, 0xC000, 0x0001, 0x7BFF};  // 1, -2, 2^-24, 65504
    const uint16_t bf16[2] = {0x3F80, 0xC040};                  // 1, -3
    const std::string header =
        R"({"bert.a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},)"
        R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"__metadata__":{"x":"y"}})";
    const auto path = WriteFile("ok", header, Bytes(f16, 8) + Bytes(bf16, 4));
    auto st = SafeTensors::Open(path);
    ASSERT_TRUE(st.ok()) << st.error().message;
    auto a = st->ReadF32("a", {2, 2});
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_FLOAT_EQ((*a)[0], 1.0f);
    EXPECT_FLOAT_EQ((*a)[1], -2.0f);
    EXPECT_FLOAT_EQ((*a)[2], 5.9604645e-08f);
    EXPECT_FLOAT_EQ((*a)[3], 65504.0f);
    auto b = st->ReadF32("b", {2});
    ASSERT_TRUE(b.ok());
    EXPECT_FLOAT_EQ((*b)[1], -3.0f);
    auto wrong_shape = st->ReadF32("b", {3});
    ASSERT_FALSE(wrong_shape.ok());
    EXPECT_EQ(wrong_shape.error().code, ErrorCode::kInvalidArgument);
    auto missing = st->ReadF32("c", {1});
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, ErrorCode::kInvalidArgument);
    fs::remove(path);
}

TEST(SafeTensors, RejectsMalformedFiles) {
    auto missing = SafeTensors::Open("/nonexistent/model.safetensors");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

    const auto bad_json = WriteFile("badjson", "{not json", "");
    auto r1 = SafeTensors::Open(bad_json);
    ASSERT_FALSE(r1.ok());
    EXPECT_EQ(r1.error().code, ErrorCode::kInvalidArgument);

    const auto out_of_range =
        WriteFile("range", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "1234");
    auto r2 = SafeTensors::Open(out_of_range);
    ASSERT_FALSE(r2.ok());
    EXPECT_EQ(r2.error().code, ErrorCode::kInvalidArgument);

    const auto size_mismatch =
        WriteFile("size", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "1234");
    auto r3 = SafeTensors::Open(size_mismatch);
    ASSERT_FALSE(r3.ok());
    EXPECT_EQ(r3.error().code, ErrorCode::kInvalidArgument);
    for (const auto& p : {bad_json, out_of_range, size_mismatch}) fs::remove(p);
}

}  // namespace
}  // namespace contex::embed::native::internal
