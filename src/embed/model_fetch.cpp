#include "embed/model_fetch.hpp"

#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <system_error>

#include "common/strings.hpp"
#include "embed/http_client.hpp"

namespace contex::embed {

namespace fs = std::filesystem;

namespace {

struct HubFile {
    const char* path;
    bool required;
};

// What a sentence-transformers repository needs; the rest of the repository (ONNX, other
// frameworks' weights) is never downloaded.
constexpr std::array<HubFile, 9> kHubFiles = {{
    {"config.json", true},
    {"model.safetensors", true},
    {"tokenizer.json", false},
    {"vocab.txt", false},
    {"tokenizer_config.json", false},
    {"special_tokens_map.json", false},
    {"sentence_bert_config.json", false},
    {"modules.json", false},
    {"1_Pooling/config.json", false},
}};

struct FetchedFile {
    std::uint64_t size = 0;
    std::string sha256;
    std::string commit;
};

std::string ReplaceSlashes(std::string_view s, std::string_view with) {
    std::string out;
    for (const char c : s) {
        if (c == '/') {
            out.append(with);
        } else {
            out.push_back(c);
        }
    }
    return out;
}

Result<std::string> Sha256OfFile(const fs::path& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return Internal("cannot read " + path.string());
    std::unique_ptr<std::FILE, decltype(&std::fclose)> owner(f, &std::fclose);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
    std::vector<char> buf(1 << 16);
    std::size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
        EVP_DigestUpdate(ctx.get(), buf.data(), n);
    }
    if (std::ferror(f)) return Internal("cannot read " + path.string());
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &len);
    static const char* kHex = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < len; ++i) {
        hex.push_back(kHex[digest[i] >> 4]);
        hex.push_back(kHex[digest[i] & 15]);
    }
    return hex;
}

// "\"abc\"" / "W/\"abc\"" → "abc"; empty unless it is a 64-digit hex SHA-256.
std::string LfsSha256(const std::optional<std::string>& etag) {
    if (!etag) return {};
    std::string_view v = TrimView(*etag);
    if (StartsWith(v, "W/")) v.remove_prefix(2);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (v.size() != 64) return {};
    for (const char c : v) {
        if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
    }
    return ToLowerAscii(v);
}

std::optional<std::uint64_t> ParseSize(const std::optional<std::string>& s) {
    if (!s) return std::nullopt;
    const std::string_view v = TrimView(*s);
    if (v.empty()) return std::nullopt;
    std::uint64_t n = 0;
    for (const char c : v) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

std::string Endpoint(const EmbeddingConfig& config) {
    std::string e = config.hf_endpoint;
    while (!e.empty() && e.back() == '/') e.pop_back();
    return e;
}

Result<FetchedFile> FetchFile(const EmbeddingConfig& config, std::string_view name,
                              const fs::path& tmp, const FetchProgress& progress,
                              bool allow_restart) {
    const fs::path dest = tmp / std::string(name);
    const fs::path part = tmp / (std::string(name) + ".part");
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    if (ec) return Internal("cannot create " + dest.parent_path().string() + ": " + ec.message());
    if (fs::exists(dest)) {  // verified by an earlier, interrupted fetch
        FetchedFile f;
        f.size = fs::file_size(dest);
        CONTEX_ASSIGN_OR_RETURN(f.sha256, Sha256OfFile(dest));
        return f;
    }
    const std::uint64_t offset = fs::exists(part) ? fs::file_size(part) : 0;

    http::Request req;
    req.url = Endpoint(config) + "/" + config.model + "/resolve/" +
              ReplaceSlashes(config.model_revision, "%2F") + "/" + std::string(name);
    req.follow_redirects = true;
    req.timeout = std::chrono::milliseconds(0);  // large files: a stall ends the transfer instead
    req.stall_timeout = std::chrono::seconds(60);
    if (!config.hf_token.empty()) req.headers.push_back("Authorization: Bearer " + config.hf_token);
    if (offset > 0) req.headers.push_back("Range: bytes=" + std::to_string(offset) + "-");

    std::FILE* out = nullptr;
    bool restarted = false;
    std::string error_body;
    req.on_body = [&](long status, std::string_view chunk) {
        if (status != 200 && status != 206) {
            if (error_body.size() < 4096) error_body.append(chunk);
            return true;
        }
        if (out == nullptr) {
            // 206 continues the partial file; 200 means the server ignored the range.
            restarted = status == 200;
            out = std::fopen(part.c_str(), restarted ? "wb" : "ab");
            if (out == nullptr) return false;
        }
        return std::fwrite(chunk.data(), 1, chunk.size(), out) == chunk.size();
    };
    if (progress) {
        req.on_progress = [&](std::uint64_t now, std::uint64_t total) {
            const std::uint64_t base = restarted ? 0 : offset;
            progress(base + now, total ? base + total : 0, name);
        };
    }
    auto resp = http::Perform(req);
    if (out != nullptr) std::fclose(out);
    if (!resp.ok()) {
        return Unavailable("download of " + std::string(name) + " was interrupted (" +
                           resp.error().message + "); run again to resume");
    }
    const long status = resp->status;
    if (status == 404) {
        return NotFound("the hub has no " + std::string(name) + " in " + config.model + "@" +
                        config.model_revision);
    }
    if (status == 401 || status == 403) {
        return Error(ErrorCode::kPermissionDenied,
                     "the hub refused access to " + config.model + " (HTTP " +
                         std::to_string(status) + "); set HF_TOKEN for gated or private models");
    }
    if (status == 416 && allow_restart) {  // the partial file is not a prefix any more
        fs::remove(part, ec);
        return FetchFile(config, name, tmp, progress, /*allow_restart=*/false);
    }
    if (status != 200 && status != 206) {
        return Unavailable("the hub answered HTTP " + std::to_string(status) + " for " +
                           std::string(name));
    }
    if (!fs::exists(part)) {  // an empty file
        std::FILE* f = std::fopen(part.c_str(), "wb");
        if (f == nullptr) return Internal("cannot write " + part.string());
        std::fclose(f);
    }

    FetchedFile file;
    file.size = fs::file_size(part);
    file.commit = resp->AnyHeader("x-repo-commit").value_or("");
    std::optional<std::uint64_t> expected = ParseSize(resp->AnyHeader("x-linked-size"));
    if (!expected) {
        if (auto len = ParseSize(resp->Header("content-length"))) {
            expected = *len + (status == 206 ? offset : 0);
        }
    }
    if (expected && file.size != *expected) {
        if (file.size > *expected) fs::remove(part, ec);
        return Unavailable("size mismatch for " + std::string(name) + ": expected " +
                           std::to_string(*expected) + " bytes, got " + std::to_string(file.size));
    }
    CONTEX_ASSIGN_OR_RETURN(file.sha256, Sha256OfFile(part));
    const std::string lfs = LfsSha256(resp->AnyHeader("x-linked-etag"));
    if (!lfs.empty() && lfs != file.sha256) {
        fs::remove(part, ec);
        return Unavailable("checksum mismatch for " + std::string(name) + ": expected sha256 " +
                           lfs + ", got " + file.sha256);
    }
    fs::rename(part, dest, ec);
    if (ec) return Internal("cannot rename " + part.string() + ": " + ec.message());
    return file;
}

Status WriteFileAtomically(const fs::path& path, std::string_view content) {
    const fs::path tmp = path.string() + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f.write(content.data(), static_cast<std::streamsize>(content.size()));
        if (!f) return Internal("cannot write " + tmp.string());
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) return Internal("cannot rename " + tmp.string() + ": " + ec.message());
    return OkStatus();
}

}  // namespace

bool IsModelDirectory(std::string_view model) {
    return StartsWith(model, "/") || StartsWith(model, ".") || StartsWith(model, "~");
}

fs::path ModelCachePath(const EmbeddingConfig& config) {
    return fs::path(config.model_dir) / ReplaceSlashes(config.model, "--") /
           ReplaceSlashes(config.model_revision, "--");
}

Status CheckModelDirectory(const fs::path& dir) {
    if (!fs::is_directory(dir))
        return NotFound("model directory " + dir.string() + " does not exist");
    for (const char* f : {"config.json", "model.safetensors"}) {
        if (!fs::is_regular_file(dir / f))
            return NotFound("model directory " + dir.string() + " has no " + f);
    }
    if (!fs::is_regular_file(dir / "tokenizer.json") && !fs::is_regular_file(dir / "vocab.txt")) {
        return NotFound("model directory " + dir.string() +
                        " has neither tokenizer.json nor vocab.txt");
    }
    return OkStatus();
}

Result<json::object> VerifyManifest(const fs::path& dir) {
    const fs::path path = dir / std::string(kManifestName);
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound("no " + std::string(kManifestName) + " in " + dir.string());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto parsed = ParseJson(text);
    if (!parsed.ok() || !parsed->is_object() || !parsed->as_object().contains("files") ||
        !parsed->as_object().at("files").is_object()) {
        return Error(ErrorCode::kConflict, path.string() + " is not a valid manifest");
    }
    for (const auto& [name, info] : parsed->as_object().at("files").as_object()) {
        const fs::path file = dir / std::string(name);
        std::error_code ec;
        const auto size = fs::file_size(file, ec);
        if (ec) return NotFound("model file " + file.string() + " is missing");
        const json::value* want = info.is_object() ? info.as_object().if_contains("size") : nullptr;
        if (want == nullptr || !want->is_number() ||
            static_cast<std::uint64_t>(want->to_number<double>()) != size) {
            return Error(ErrorCode::kConflict,
                         "model file " + file.string() + " does not have the size in the manifest");
        }
    }
    CONTEX_TRY(CheckModelDirectory(dir));
    return std::move(parsed->as_object());
}

Result<fs::path> FetchModel(const EmbeddingConfig& config, FetchProgress progress) {
    if (IsModelDirectory(config.model)) {
        fs::path dir = config.model;
        if (StartsWith(config.model, "~/")) {
            const char* home = std::getenv("HOME");
            dir = fs::path(home ? home : ".") / config.model.substr(2);
        }
        CONTEX_TRY(CheckModelDirectory(dir));
        return dir;
    }
    const fs::path final_dir = ModelCachePath(config);
    if (fs::exists(final_dir) && VerifyManifest(final_dir).ok()) return final_dir;
    if (config.offline) {
        return Unavailable("model " + config.model + "@" + config.model_revision + " is not in " +
                           final_dir.string() +
                           " and downloads are disabled (CONTEX_OFFLINE / HF_HUB_OFFLINE); run "
                           "`contex model fetch` with network access or set EMBEDDING_MODEL to a "
                           "model directory");
    }
    const fs::path tmp =
        fs::path(config.model_dir) / ".partial" /
        (ReplaceSlashes(config.model, "--") + "@" + ReplaceSlashes(config.model_revision, "--"));
    std::error_code ec;
    fs::create_directories(tmp, ec);
    if (ec) return Internal("cannot create " + tmp.string() + ": " + ec.message());

    json::object files;
    std::string commit;
    for (const HubFile& f : kHubFiles) {
        auto fetched = FetchFile(config, f.path, tmp, progress, /*allow_restart=*/true);
        if (!fetched.ok()) {
            if (fetched.error().code == ErrorCode::kNotFound && !f.required) continue;
            return std::move(fetched).error();
        }
        if (commit.empty()) commit = fetched->commit;
        json::object info;
        info["size"] = fetched->size;
        info["sha256"] = fetched->sha256;
        files[f.path] = std::move(info);
    }
    if (!files.contains("tokenizer.json") && !files.contains("vocab.txt")) {
        return NotFound("the hub has neither tokenizer.json nor vocab.txt in " + config.model +
                        "@" + config.model_revision);
    }
    json::object manifest;
    manifest["repo"] = config.model;
    manifest["revision"] = config.model_revision;
    manifest["commit"] = commit;
    manifest["endpoint"] = Endpoint(config);
    manifest["files"] = std::move(files);
    CONTEX_TRY(
        WriteFileAtomically(tmp / std::string(kManifestName), ToPrettyJson(manifest) + "\n"));

    fs::create_directories(final_dir.parent_path(), ec);
    if (ec)
        return Internal("cannot create " + final_dir.parent_path().string() + ": " + ec.message());
    if (fs::exists(final_dir)) fs::remove_all(final_dir, ec);  // failed verification above
    fs::rename(tmp, final_dir, ec);
    if (ec)
        return Internal("cannot move the model into " + final_dir.string() + ": " + ec.message());
    return final_dir;
}

}  // namespace contex::embed
