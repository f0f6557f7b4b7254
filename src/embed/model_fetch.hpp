// Model acquisition (engine.md §2.3): a local directory, or a Hugging Face hub repository
// fetched with libcurl into ${CONTEX_MODEL_DIR}/<repo with / → -->/<revision>/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string_view>

#include "common/json.hpp"
#include "common/result.hpp"
#include "embed/config.hpp"

namespace contex::embed {

inline constexpr std::string_view kManifestName = "contex-manifest.json";

// (bytes done, bytes expected or 0, file name) for the file being downloaded.
using FetchProgress =
    std::function<void(std::uint64_t done, std::uint64_t total, std::string_view file)>;

// True when EMBEDDING_MODEL names a directory (absolute, or starting with '.' or '/').
bool IsModelDirectory(std::string_view model);

// ${CONTEX_MODEL_DIR}/<repo with / → -->/<revision with / → -->.
std::filesystem::path ModelCachePath(const EmbeddingConfig& config);

// A loadable model directory holds config.json, model.safetensors and tokenizer.json or
// vocab.txt. kNotFound naming the first missing file.
Status CheckModelDirectory(const std::filesystem::path& dir);

// Reads contex-manifest.json and checks that every file it lists has the recorded size.
// kNotFound when there is no manifest or a file is missing; kConflict on a size mismatch.
Result<json::object> VerifyManifest(const std::filesystem::path& dir);

// Makes the configured model available locally and returns its directory:
// - a directory model is only checked (CheckModelDirectory);
// - a hub model already in the cache with a valid manifest is returned as is;
// - otherwise it is downloaded from ${HF_ENDPOINT}/<repo>/resolve/<revision>/<file>
//   (bearer HF_TOKEN), resumably (Range) from ${CONTEX_MODEL_DIR}/.partial/, verified
//   (LFS files against X-Linked-Etag's SHA-256, others against their size), given a
//   manifest and renamed into place atomically.
// Errors: kUnavailable when offline (CONTEX_OFFLINE / HF_HUB_OFFLINE) and not cached, on
// network failures (partial files are kept for the next attempt) and checksum or size
// mismatches (the bad file is deleted); kNotFound when a required file does not exist on
// the hub; kPermissionDenied when the hub refuses access (401/403); kInternal on local
// file-system errors. `progress` may be empty. Blocking; safe to call from any thread,
// but not concurrently for the same model.
Result<std::filesystem::path> FetchModel(const EmbeddingConfig& config, FetchProgress progress);

}  // namespace contex::embed
