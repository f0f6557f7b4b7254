#include "embed/native/bert_model.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/json.hpp"
#include "embed/native/file_util.hpp"
#include "embed/native/intra_op_team.hpp"
#include "embed/native/tokenizer.hpp"

namespace contex::embed::native {
namespace {

namespace fs = std::filesystem;

// Written by tools/make_bert_fixture.py (ctest fixture embed_native_make_bert_fixture).
fs::path FixtureDir(const std::string& variant) {
    return fs::path(CONTEX_BERT_FIXTURE_DIR) / variant;
}

struct Case {
    std::string text;
    std::vector<int32_t> ids;
    std::vector<float> embedding;
};

struct Expected {
    int max_seq_tokens = 0;
    std::string pooling;
    std::vector<Case> cases;
};

Expected LoadExpected(const std::string& variant) {
    auto doc = internal::ReadJsonFile(FixtureDir(variant) / "expected.json");
    EXPECT_TRUE(doc.ok()) << "missing fixture; run the whole suite through ctest (the "
                             "embed_native_make_bert_fixture test writes it): "
                          << (doc.ok() ? "" : doc.error().message);
    Expected e;
    if (!doc.ok()) return e;
    const auto& obj = doc->as_object();
    e.max_seq_tokens = static_cast<int>(obj.at("max_seq_tokens").as_int64());
    e.pooling = std::string(obj.at("pooling").as_string());
    for (const auto& c : obj.at("cases").as_array()) {
        Case cs;
        cs.text = std::string(c.at("text").as_string());
        for (const auto& id : c.at("ids").as_array()) cs.ids.push_back(static_cast<int32_t>(id.as_int64()));
        for (const auto& v : c.at("embedding").as_array()) cs.embedding.push_back(static_cast<float>(v.as_double()));
        e.cases.push_back(std::move(cs));
    }
    return e;
}

// CONTEX_TEST_KERNELS picks the row kernels (the AVX2-only ctest entry sets it).
LoadOptions DefaultOptions() {
    LoadOptions options;
    if (const char* k = std::getenv("CONTEX_TEST_KERNELS")) options.kernels = k;
    return options;
}

std::unique_ptr<BertModel> LoadModel(const std::string& variant, Precision p,
                                     const LoadOptions& options = DefaultOptions()) {
    auto model = BertModel::Load(FixtureDir(variant), p, options);
    EXPECT_TRUE(model.ok()) << (model.ok() ? "" : model.error().message);
    return model.ok() ? std::move(model).value() : nullptr;
}

std::vector<std::vector<int32_t>> Ids(const Expected& e) {
    std::vector<std::vector<int32_t>> ids;
    for (const auto& c : e.cases) ids.push_back(c.ids);
    return ids;
}

double Cosine(const float* a, const float* b, int n) {
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < n; ++i) {
        dot += static_cast<double>(a[i]) * b[i];
        na += static_cast<double>(a[i]) * a[i];
        nb += static_cast<double>(b[i]) * b[i];
    }
    return dot / std::sqrt(na * nb);
}

class BertVariantTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BertVariantTest, TokenizerReproducesReferenceIds) {
    const Expected e = LoadExpected(GetParam());
    ASSERT_GE(e.cases.size(), 50u);
    auto tok = WordPieceTokenizer::Load(FixtureDir(GetParam()));
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    for (const auto& c : e.cases) {
        EXPECT_EQ(tok->Encode(c.text, static_cast<std::size_t>(e.max_seq_tokens)), c.ids)
            << c.text;
    }
}

TEST_P(BertVariantTest, Fp32MatchesNumpyReference) {
    const Expected e = LoadExpected(GetParam());
    ASSERT_GE(e.cases.size(), 50u);
    auto model = LoadModel(GetParam(), Precision::kFp32);
    ASSERT_NE(model, nullptr);
    EXPECT_EQ(model->info().pooling, e.pooling);
    if (const char* k = std::getenv("CONTEX_TEST_KERNELS")) {
        EXPECT_EQ(model->kernels_name(), k);
    }
    const int h = model->info().hidden;
    auto ws = model->NewWorkspace();
    std::vector<float> out;
    const auto ids = Ids(e);
    ASSERT_TRUE(model->Encode(*ws, ids, out).ok());
    ASSERT_EQ(out.size(), e.cases.size() * static_cast<std::size_t>(h));
    double worst = 0;
    for (std::size_t i = 0; i < e.cases.size(); ++i) {
        for (int c = 0; c < h; ++c) {
            worst = std::max(worst, static_cast<double>(
                                        std::fabs(out[i * h + c] - e.cases[i].embedding[c])));
        }
    }
    EXPECT_LE(worst, 1e-4) << "max abs diff over " << e.cases.size() << " inputs";
    RecordProperty("max_abs_diff", std::to_string(worst));
    // One input per call: short ones run as few rows, where other kernels apply (up to 16
    // tokens the feature-major ones).
    double worst_alone = 0;
    for (std::size_t i = 0; i < e.cases.size(); ++i) {
        ASSERT_TRUE(model->Encode(*ws, std::span(ids).subspan(i, 1), out).ok());
        for (int c = 0; c < h; ++c) {
            worst_alone = std::max(worst_alone, static_cast<double>(std::fabs(
                                                    out[c] - e.cases[i].embedding[c])));
        }
    }
    EXPECT_LE(worst_alone, 1e-4) << "max abs diff, one input per call";
}

// Batches of at most 16 tokens run in the feature-major layout, one lane per token: several
// short sequences share the lanes and must attend only within themselves (alone and in a team).
TEST_P(BertVariantTest, Fp32ShortSequencesBatchedTogetherMatchReference) {
    const Expected e = LoadExpected(GetParam());
    auto model = LoadModel(GetParam(), Precision::kFp32);
    ASSERT_NE(model, nullptr);
    const int h = model->info().hidden;
    std::vector<std::vector<std::size_t>> batches(1);  // case indices, <= 16 tokens each
    std::size_t tokens = 0;
    for (std::size_t i = 0; i < e.cases.size(); ++i) {
        const std::size_t n = e.cases[i].ids.size();
        if (n > 8) continue;
        if (tokens + n > 16) batches.emplace_back(), tokens = 0;
        batches.back().push_back(i);
        tokens += n;
    }
    ASSERT_GE(batches.size(), 3u);
    auto ws = model->NewWorkspace();
    IntraOpTeam team(1);
    for (IntraOpTeam* t : {static_cast<IntraOpTeam*>(nullptr), &team}) {
        for (const auto& cases : batches) {
            ASSERT_GE(cases.size(), 2u);
            std::vector<std::vector<int32_t>> ids;
            for (std::size_t i : cases) ids.push_back(e.cases[i].ids);
            std::vector<float> out;
            ASSERT_TRUE(model->Encode(*ws, ids, out, t).ok());
            for (std::size_t b = 0; b < cases.size(); ++b) {
                for (int c = 0; c < h; ++c) {
                    ASSERT_NEAR(out[b * h + c], e.cases[cases[b]].embedding[c], 1e-4)
                        << e.cases[cases[b]].text << (t ? " (team)" : "");
                }
            }
        }
    }
}

TEST_P(BertVariantTest, Int8StaysCloseToReference) {
    const Expected e = LoadExpected(GetParam());
    ASSERT_GE(e.cases.size(), 50u);
    auto model = LoadModel(GetParam(), Precision::kInt8);
    ASSERT_NE(model, nullptr);
    EXPECT_EQ(model->precision(), Precision::kInt8);
    const int h = model->info().hidden;
    auto ws = model->NewWorkspace();
    std::vector<float> out;
    ASSERT_TRUE(model->Encode(*ws, Ids(e), out).ok());
    double worst = 1.0;
    for (std::size_t i = 0; i < e.cases.size(); ++i) {
        worst = std::min(worst, Cosine(out.data() + i * h, e.cases[i].embedding.data(), h));
    }
    EXPECT_GE(worst, 0.99) << "lowest cosine to the fp32 reference";
    RecordProperty("min_cosine", std::to_string(worst));
}

// A lone short call split across an IntraOpTeam (columns, heads, rows) computes what one
// thread computes: checked per input with teams of 2 and 3 parts (uneven splits).
TEST_P(BertVariantTest, TeamSplitMatchesOneThread) {
    const Expected e = LoadExpected(GetParam());
    ASSERT_GE(e.cases.size(), 50u);
    for (const Precision p : {Precision::kFp32, Precision::kInt8}) {
        auto model = LoadModel(GetParam(), p);
        ASSERT_NE(model, nullptr);
        if (std::getenv("CONTEX_TEST_KERNELS") == nullptr) {
            ASSERT_TRUE(model->supports_team()) << "the blocked layouts of this CPU split";
        }
        const int h = model->info().hidden;
        auto alone = model->NewWorkspace();
        auto shared = model->NewWorkspace();
        for (const int helpers : {1, 2}) {
            IntraOpTeam team(helpers);
            double worst = 0;
            for (const auto& c : e.cases) {
                const std::vector<std::vector<int32_t>> one = {c.ids};
                std::vector<float> want, got;
                ASSERT_TRUE(model->Encode(*alone, one, want).ok());
                ASSERT_TRUE(model->Encode(*shared, one, got, &team).ok());
                ASSERT_EQ(got.size(), want.size());
                for (int i = 0; i < h; ++i) {
                    worst = std::max(worst, static_cast<double>(std::fabs(got[i] - want[i])));
                    if (p == Precision::kFp32) {
                        ASSERT_NEAR(got[i], c.embedding[i], 1e-4) << c.text;
                    }
                }
            }
            EXPECT_LE(worst, 1e-6) << "team of " << helpers + 1;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BertVariantTest,
                         ::testing::Values("f32_mean", "f16_cls_prefixed", "bf16_max"));

TEST(BertModel, ReadsHyperParametersAndSentenceTransformerConfig) {
    auto model = LoadModel("f32_mean", Precision::kFp32);
    ASSERT_NE(model, nullptr);
    const ModelInfo& info = model->info();
    EXPECT_EQ(info.hidden, 64);
    EXPECT_EQ(info.layers, 2);
    EXPECT_EQ(info.heads, 4);
    EXPECT_EQ(info.intermediate, 128);
    EXPECT_EQ(info.max_position, 64);
    EXPECT_EQ(info.max_seq_tokens, 40);
    EXPECT_EQ(info.pooling, "mean");
    EXPECT_TRUE(info.normalize);
    EXPECT_GE(info.vocab, 1000);
}

TEST(BertModel, EveryKernelSetMatchesReference) {
    const Expected e = LoadExpected("f32_mean");
    ASSERT_FALSE(e.cases.empty());
    for (const char* kernels : {"avx512", "avx2", "generic"}) {
        LoadOptions options;
        options.kernels = kernels;
        auto model = LoadModel("f32_mean", Precision::kFp32, options);
        ASSERT_NE(model, nullptr);
        auto ws = model->NewWorkspace();
        std::vector<float> out;
        ASSERT_TRUE(model->Encode(*ws, Ids(e), out).ok());
        for (std::size_t i = 0; i < e.cases.size(); ++i) {
            for (int c = 0; c < 64; ++c) {
                ASSERT_NEAR(out[i * 64 + c], e.cases[i].embedding[c], 1e-4)
                    << "kernels " << model->kernels_name() << " case " << i;
            }
        }
    }
}

TEST(BertModel, BatchingDoesNotChangeResults) {
    const Expected e = LoadExpected("f32_mean");
    for (Precision p : {Precision::kFp32, Precision::kInt8}) {
        auto model = LoadModel("f32_mean", p);
        ASSERT_NE(model, nullptr);
        auto ws = model->NewWorkspace();
        const auto ids = Ids(e);
        std::vector<float> all;
        ASSERT_TRUE(model->Encode(*ws, ids, all).ok());
        for (std::size_t start = 0; start < ids.size(); start += 7) {
            const std::size_t n = std::min<std::size_t>(7, ids.size() - start);
            std::vector<float> part;
            ASSERT_TRUE(model->Encode(*ws, std::span(ids).subspan(start, n), part).ok());
            for (std::size_t i = 0; i < part.size(); ++i) {
                // Bitwise equal with oneDNN brgemm (AVX-512); other GEMM kernels may sum in
                // a different order for a different row count.
                ASSERT_NEAR(part[i], all[start * 64 + i], 2e-6) << "row " << start + i / 64;
            }
        }
        std::vector<float> again;
        ASSERT_TRUE(model->Encode(*ws, ids, again).ok());
        EXPECT_EQ(again, all) << "same input, same workspace: identical output";
    }
}

TEST(BertModel, WorkspacesRunConcurrently) {
    const Expected e = LoadExpected("f32_mean");
    auto model = LoadModel("f32_mean", Precision::kInt8);
    ASSERT_NE(model, nullptr);
    const auto ids = Ids(e);
    std::vector<float> want;
    ASSERT_TRUE(model->Encode(*model->NewWorkspace(), ids, want).ok());
    std::vector<std::vector<float>> got(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            auto ws = model->NewWorkspace();
            for (int round = 0; round < 3; ++round) {
                if (!model->Encode(*ws, ids, got[t]).ok()) got[t].clear();
            }
        });
    }
    for (auto& th : threads) th.join();
    for (const auto& g : got) {
        ASSERT_EQ(g.size(), want.size());
        for (std::size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], want[i], 2e-5);
    }
}

TEST(BertModel, RejectsInvalidBatches) {
    auto model = LoadModel("f32_mean", Precision::kFp32);
    ASSERT_NE(model, nullptr);
    auto ws = model->NewWorkspace();
    std::vector<float> out;
    std::vector<std::vector<int32_t>> empty_seq = {{2, 3}, {}};
    auto s1 = model->Encode(*ws, empty_seq, out);
    ASSERT_FALSE(s1.ok());
    EXPECT_EQ(s1.error().code, ErrorCode::kInvalidArgument);
    std::vector<std::vector<int32_t>> bad_id = {{2, model->info().vocab, 3}};
    auto s2 = model->Encode(*ws, bad_id, out);
    ASSERT_FALSE(s2.ok());
    EXPECT_EQ(s2.error().code, ErrorCode::kInvalidArgument);
    std::vector<std::vector<int32_t>> too_long = {std::vector<int32_t>(65, 5)};
    auto s3 = model->Encode(*ws, too_long, out);
    ASSERT_FALSE(s3.ok());
    EXPECT_EQ(s3.error().code, ErrorCode::kInvalidArgument);
    auto other = LoadModel("f32_mean", Precision::kFp32);
    ASSERT_NE(other, nullptr);
    auto s4 = other->Encode(*ws, std::vector<std::vector<int32_t>>{{2, 3}}, out);
    ASSERT_FALSE(s4.ok());
    EXPECT_EQ(s4.error().code, ErrorCode::kInvalidArgument);
    ASSERT_TRUE(model->Encode(*ws, {}, out).ok());
    EXPECT_TRUE(out.empty());
}

TEST(BertModel, LoadReportsMissingAndUnsupportedModels) {
    auto missing = BertModel::Load("/nonexistent/model", Precision::kFp32);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

    const fs::path dir = fs::temp_directory_path() / "contex_bert_bad_model";
    fs::remove_all(dir);
    fs::copy(FixtureDir("f32_mean"), dir, fs::copy_options::recursive);
    {
        auto config = internal::ReadJsonFile(dir / "config.json");
        ASSERT_TRUE(config.ok());
        config->as_object()["hidden_act"] = "relu";
        std::ofstream(dir / "config.json") << ToJson(*config);
    }
    auto relu = BertModel::Load(dir, Precision::kFp32);
    ASSERT_FALSE(relu.ok());
    EXPECT_EQ(relu.error().code, ErrorCode::kInvalidArgument);
    {
        auto config = internal::ReadJsonFile(dir / "config.json");
        config->as_object()["hidden_act"] = "gelu";
        config->as_object()["num_hidden_layers"] = 3;  // layer 2 has no tensors
        std::ofstream(dir / "config.json") << ToJson(*config);
    }
    auto missing_layer = BertModel::Load(dir, Precision::kFp32);
    ASSERT_FALSE(missing_layer.ok());
    EXPECT_EQ(missing_layer.error().code, ErrorCode::kInvalidArgument);
    fs::remove_all(dir);
}

}  // namespace
}  // namespace contex::embed::native
