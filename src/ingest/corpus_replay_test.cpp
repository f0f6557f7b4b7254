// Replays the saved fuzz corpora (fuzz/corpus/<parser>/*) through the parsers with the
// normal compiler, so `make test` catches regressions on every input the fuzzers kept.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ingest/fuzz_support.hpp"

namespace contex::ingest {
namespace {

namespace fs = std::filesystem;

const char* const kParsers[] = {"json", "yaml", "toml", "csv", "xml",
                                "markdown", "code", "text", "detect"};

class CorpusReplay : public ::testing::TestWithParam<const char*> {};

TEST_P(CorpusReplay, EveryInputKeepsTheInvariants) {
    fs::path dir = fs::path(CONTEX_SOURCE_DIR) / "fuzz" / "corpus" / GetParam();
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        std::string problem = fuzz::RunOne(GetParam(), ss.str());
        EXPECT_EQ(problem, "") << entry.path();
        ++files;
    }
    EXPECT_GT(files, 0u) << "empty corpus " << dir;
}

INSTANTIATE_TEST_SUITE_P(Parsers, CorpusReplay, ::testing::ValuesIn(kParsers),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                             return std::string(info.param);
                         });

}  // namespace
}  // namespace contex::ingest
