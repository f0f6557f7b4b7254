// LexicalEmbedder: contex/lexical-v1 (engine.md §2.4), a weight-free fallback. Hashed
// word and character-trigram features, identical output on every platform.
#pragma once

#include "embed/embedder.hpp"

namespace contex::embed {

inline constexpr int kLexicalDim = 384;
inline constexpr int kLexicalMaxTokens = 512;
inline constexpr std::string_view kLexicalModelId = "contex/lexical-v1";

// Stateless and thread-safe. Token-less text yields a zero vector (matches nothing).
class LexicalEmbedder final : public Embedder {
  public:
    LexicalEmbedder();
    const std::string& model_id() const override { return model_id_; }
    int dim() const override { return kLexicalDim; }
    int max_tokens() const override { return kLexicalMaxTokens; }
    std::size_t CountTokens(std::string_view text) const override;
    Result<std::vector<Vector>> Embed(std::span<const std::string> texts) override;

    // The vector of one text (never fails; invalid UTF-8 is repaired first).
    static Vector EmbedOne(std::string_view text);

  private:
    std::string model_id_;
};

// 64-bit FNV-1a (exposed for golden tests).
std::uint64_t Fnv1a64(std::string_view bytes);

}  // namespace contex::embed
