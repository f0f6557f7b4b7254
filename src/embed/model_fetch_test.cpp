#include "embed/model_fetch.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <random>

#include "common/crypto.hpp"
#include "common/ids.hpp"
#include "embed/testing/fake_http_server.hpp"

namespace contex::embed {
namespace {

namespace fs = std::filesystem;
using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;

constexpr char kRepo[] = "acme/tiny-bert";
constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";

// A hub serving a small fixture model: small files directly (like git files), the
// weights through a redirect to a "CDN" path (like LFS files), with the headers the
// real hub sends. Behaviour switches let tests break a download.
class FakeHub {
  public:
    FakeHub() {
        std::mt19937 rng(42);
        std::string weights(300000, '\0');
        for (auto& c : weights) c = static_cast<char>(rng());
        files_["config.json"] = R"({"hidden_size":64,"num_hidden_layers":2})";
        files_["model.safetensors"] = weights;
        files_["vocab.txt"] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n";
        files_["modules.json"] = "[]";
        files_["1_Pooling/config.json"] = R"({"pooling_mode_mean_tokens":true})";
        server_ =
            std::make_unique<FakeHttpServer>([this](const FakeRequest& r) { return Handle(r); });
    }
    std::string endpoint() const { return server_->base_url(); }
    std::vector<FakeRequest> requests() const { return server_->requests(); }
    const std::string& file(const std::string& name) { return files_[name]; }

    // Serves the weights like the CDN the hub redirects to.
    FakeResponse ServeCdn(const FakeRequest& r) { return Cdn(r); }
    // Redirect LFS downloads to another server (another host:port) instead of /cdn/ here.
    void SetCdnBase(std::string base) {
        std::lock_guard lock(mutex_);
        cdn_base_ = std::move(base);
    }

    std::atomic<int> truncate_next_cdn_at{-1};
    std::atomic<bool> corrupt_cdn{false};
    std::atomic<bool> ignore_range{false};

  private:
    FakeResponse Handle(const FakeRequest& r) {
        const std::string resolve = std::string("/") + kRepo + "/resolve/main/";
        if (r.target.rfind("/cdn/", 0) == 0) return Cdn(r);
        if (r.target.rfind(resolve, 0) != 0) return {404, {}, "no such repo", std::nullopt};
        const std::string name = r.target.substr(resolve.size());
        auto it = files_.find(name);
        if (it == files_.end()) return {404, {{"X-Error-Code", "EntryNotFound"}}, "", std::nullopt};
        if (name == "model.safetensors") {
            return {302,
                    {{"Location", CdnBase() + "/cdn/weights"},
                     {"X-Linked-Etag", "\"" + Sha256Hex(it->second) + "\""},
                     {"X-Linked-Size", std::to_string(it->second.size())},
                     {"X-Repo-Commit", kCommit}},
                    "",
                    std::nullopt};
        }
        return {
            200, {{"X-Repo-Commit", kCommit}, {"ETag", "\"gitsha\""}}, it->second, std::nullopt};
    }

    FakeResponse Cdn(const FakeRequest& r) {
        std::string body = files_["model.safetensors"];
        if (corrupt_cdn) body[body.size() / 2] ^= 0x5a;
        FakeResponse resp;
        auto range = r.headers.find("range");
        if (range != r.headers.end() && !ignore_range) {
            const std::size_t from =
                std::stoull(range->second.substr(std::string("bytes=").size()));
            resp.status = 206;
            resp.headers.push_back({"Content-Range", "bytes " + std::to_string(from) + "-" +
                                                         std::to_string(body.size() - 1) + "/" +
                                                         std::to_string(body.size())});
            body = body.substr(from);
        }
        resp.body = body;
        const int cut = truncate_next_cdn_at.exchange(-1);
        if (cut >= 0) resp.truncate_after = static_cast<std::size_t>(cut);
        return resp;
    }

    std::string CdnBase() {
        std::lock_guard lock(mutex_);
        return cdn_base_;
    }

    std::mutex mutex_;
    std::string cdn_base_;  // guarded by mutex_
    std::map<std::string, std::string> files_;
    std::unique_ptr<FakeHttpServer> server_;
};

class ModelFetchTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("contex-fetch-" + RandomHex(8));
        config_.model = kRepo;
        config_.model_dir = dir_.string();
        config_.hf_endpoint = hub_.endpoint();
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string Read(const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    FakeHub hub_;
    fs::path dir_;
    EmbeddingConfig config_;
};

TEST_F(ModelFetchTest, DownloadsIntoTheCacheWithAManifest) {
    config_.hf_token = "hf_secret";
    std::map<std::string, std::uint64_t> last_progress;
    auto path = FetchModel(config_, [&](std::uint64_t done, std::uint64_t, std::string_view f) {
        last_progress[std::string(f)] = done;
    });
    ASSERT_TRUE(path.ok()) << path.error().message;
    EXPECT_EQ(*path, dir_ / "acme--tiny-bert" / "main");
    EXPECT_EQ(Read(*path / "model.safetensors"), hub_.file("model.safetensors"));
    EXPECT_EQ(Read(*path / "1_Pooling/config.json"), hub_.file("1_Pooling/config.json"));
    EXPECT_FALSE(fs::exists(*path / "tokenizer.json"));  // optional, absent on the hub
    auto manifest = VerifyManifest(*path);
    ASSERT_TRUE(manifest.ok()) << manifest.error().message;
    EXPECT_EQ(manifest->at("commit").as_string(), kCommit);
    EXPECT_EQ(manifest->at("files").at("model.safetensors").at("sha256").as_string(),
              Sha256Hex(hub_.file("model.safetensors")));
    EXPECT_EQ(manifest->at("files").at("vocab.txt").at("size").to_number<std::uint64_t>(),
              hub_.file("vocab.txt").size());
    EXPECT_EQ(last_progress["model.safetensors"], hub_.file("model.safetensors").size());
    EXPECT_FALSE(fs::exists(dir_ / ".partial" / "acme--tiny-bert@main"));
    for (const auto& r : hub_.requests()) {
        if (r.target.rfind("/cdn/", 0) == 0) continue;
        EXPECT_EQ(r.headers.at("authorization"), "Bearer hf_secret") << r.target;
    }
}

TEST_F(ModelFetchTest, DoesNotForwardTheTokenToAnotherHostOnRedirect) {
    FakeHttpServer cdn([this](const FakeRequest& r) { return hub_.ServeCdn(r); });
    hub_.SetCdnBase(cdn.base_url());
    config_.hf_token = "hf_secret";
    auto path = FetchModel(config_, {});
    ASSERT_TRUE(path.ok()) << path.error().message;
    EXPECT_EQ(Read(*path / "model.safetensors"), hub_.file("model.safetensors"));
    const auto cdn_requests = cdn.requests();
    ASSERT_EQ(cdn_requests.size(), 1u);
    EXPECT_EQ(cdn_requests[0].headers.count("authorization"), 0u);
}

TEST_F(ModelFetchTest, UsesTheCacheOnLaterCalls) {
    ASSERT_TRUE(FetchModel(config_, {}).ok());
    const auto requests = hub_.requests().size();
    config_.offline = true;  // and it needs no network
    auto again = FetchModel(config_, {});
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(hub_.requests().size(), requests);
}

TEST_F(ModelFetchTest, OfflineWithoutCacheFailsClearly) {
    config_.offline = true;
    auto path = FetchModel(config_, {});
    ASSERT_FALSE(path.ok());
    EXPECT_EQ(path.error().code, ErrorCode::kUnavailable);
    EXPECT_THAT(path.error().message, HasSubstr("CONTEX_OFFLINE"));
    EXPECT_TRUE(hub_.requests().empty());
}

TEST_F(ModelFetchTest, ResumesAnInterruptedDownloadWithRange) {
    hub_.truncate_next_cdn_at = 100000;
    auto first = FetchModel(config_, {});
    ASSERT_FALSE(first.ok());
    EXPECT_EQ(first.error().code, ErrorCode::kUnavailable);
    EXPECT_FALSE(fs::exists(ModelCachePath(config_)));
    const fs::path part = dir_ / ".partial" / "acme--tiny-bert@main" / "model.safetensors.part";
    ASSERT_TRUE(fs::exists(part));
    EXPECT_EQ(fs::file_size(part), 100000u);

    auto second = FetchModel(config_, {});
    ASSERT_TRUE(second.ok()) << second.error().message;
    EXPECT_EQ(Read(*second / "model.safetensors"), hub_.file("model.safetensors"));
    const auto requests = hub_.requests();
    std::vector<FakeRequest> cdn;
    for (const auto& r : requests) {
        if (r.target == "/cdn/weights") cdn.push_back(r);
    }
    ASSERT_EQ(cdn.size(), 2u);
    EXPECT_EQ(cdn[0].headers.count("range"), 0u);
    EXPECT_EQ(cdn[1].headers.at("range"), "bytes=100000-");
    // Files completed before the interruption are not fetched again.
    int config_fetches = 0;
    for (const auto& r : requests)
        config_fetches +=
            r.target.ends_with("/config.json") && r.target.find("1_Pooling") == std::string::npos;
    EXPECT_EQ(config_fetches, 1);
}

TEST_F(ModelFetchTest, RestartsWhenTheServerIgnoresTheRange) {
    hub_.truncate_next_cdn_at = 5000;
    ASSERT_FALSE(FetchModel(config_, {}).ok());
    hub_.ignore_range = true;
    auto second = FetchModel(config_, {});
    ASSERT_TRUE(second.ok()) << second.error().message;
    EXPECT_EQ(Read(*second / "model.safetensors"), hub_.file("model.safetensors"));
}

TEST_F(ModelFetchTest, RejectsAChecksumMismatchAndKeepsNothing) {
    hub_.corrupt_cdn = true;
    auto path = FetchModel(config_, {});
    ASSERT_FALSE(path.ok());
    EXPECT_EQ(path.error().code, ErrorCode::kUnavailable);
    EXPECT_THAT(path.error().message, HasSubstr("checksum mismatch for model.safetensors"));
    EXPECT_FALSE(fs::exists(ModelCachePath(config_)));
    EXPECT_FALSE(fs::exists(dir_ / ".partial" / "acme--tiny-bert@main" / "model.safetensors.part"));
    hub_.corrupt_cdn = false;  // a later attempt starts clean and succeeds
    EXPECT_TRUE(FetchModel(config_, {}).ok());
}

TEST_F(ModelFetchTest, MissingRepositoryIsNotFound) {
    config_.model = "acme/does-not-exist";
    auto path = FetchModel(config_, {});
    ASSERT_FALSE(path.ok());
    EXPECT_EQ(path.error().code, ErrorCode::kNotFound);
}

TEST_F(ModelFetchTest, RefetchesWhenACachedFileNoLongerMatchesTheManifest) {
    auto path = FetchModel(config_, {});
    ASSERT_TRUE(path.ok());
    std::ofstream(*path / "model.safetensors", std::ios::trunc) << "truncated";
    auto verified = VerifyManifest(*path);
    ASSERT_FALSE(verified.ok());
    EXPECT_EQ(verified.error().code, ErrorCode::kConflict);
    auto again = FetchModel(config_, {});
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(Read(*again / "model.safetensors"), hub_.file("model.safetensors"));
}

TEST_F(ModelFetchTest, DirectoryModelsAreCheckedNotFetched) {
    const fs::path model = dir_ / "local-model";
    fs::create_directories(model);
    std::ofstream(model / "config.json") << "{}";
    config_.model = model.string();
    EXPECT_TRUE(IsModelDirectory(config_.model));
    auto missing = FetchModel(config_, {});
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
    EXPECT_THAT(missing.error().message, HasSubstr("model.safetensors"));
    std::ofstream(model / "model.safetensors") << "x";
    std::ofstream(model / "vocab.txt") << "[UNK]\n";
    auto ok = FetchModel(config_, {});
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(*ok, model);
    EXPECT_TRUE(hub_.requests().empty());
}

TEST(ModelFetch, NamesCacheDirectoriesAfterRepoAndRevision) {
    EmbeddingConfig c;
    c.model_dir = "/cache";
    c.model = "sentence-transformers/all-MiniLM-L6-v2";
    c.model_revision = "refs/pr/1";
    EXPECT_EQ(ModelCachePath(c),
              fs::path("/cache/sentence-transformers--all-MiniLM-L6-v2/refs--pr--1"));
    EXPECT_FALSE(IsModelDirectory("sentence-transformers/all-MiniLM-L6-v2"));
    EXPECT_TRUE(IsModelDirectory("./models/x"));
    EXPECT_TRUE(IsModelDirectory("/opt/models/x"));
}

}  // namespace
}  // namespace contex::embed
