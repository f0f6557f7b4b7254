// Embedder: one embedding provider (native BERT, OpenAI-compatible remote, lexical).
// The EmbeddingService puts a cache, a queue and batching in front of one of these.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace contex::embed {

using Vector = std::vector<float>;

// Thread-safe: every method may be called from many threads at once.
class Embedder {
  public:
    virtual ~Embedder() = default;
    // Identity stored with every vector ("sentence-transformers/all-MiniLM-L6-v2",
    // "openai:<model>", "contex/lexical-v1").
    virtual const std::string& model_id() const = 0;
    virtual int dim() const = 0;
    // max_seq_tokens: longer inputs are truncated by the provider.
    virtual int max_tokens() const = 0;
    // Tokens as engine.md §1.10 counts them for chunking (no special tokens).
    virtual std::size_t CountTokens(std::string_view text) const = 0;
    // One L2-normalised row of dim() floats per text, in order. Errors: kUnavailable (remote
    // down, model failure), kTimeout, kInternal (NaN/Inf or zero vector from a model).
    virtual Result<std::vector<Vector>> Embed(std::span<const std::string> texts) = 0;
};

// ceil(words × 4 / 3) with words = runs of non-whitespace (engine.md §1.10, lexical/openai).
std::size_t ApproximateTokenCount(std::string_view text);

// Scales `v` to unit length. kInternal when it holds NaN/Inf, or is zero and
// `allow_zero` is false.
Status NormalizeInPlace(Vector& v, bool allow_zero);

}  // namespace contex::embed
