#include "embed/lexical_embedder.hpp"

#include <utf8proc.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>

#include "common/strings.hpp"

namespace contex::embed {

namespace {

// NFKC, then simple lowercase mapping per code point, as code points.
std::vector<utf8proc_int32_t> NormalizeToCodePoints(std::string_view text) {
    const std::string valid = IsValidUtf8(text) ? std::string(text) : RepairUtf8(text);
    std::vector<utf8proc_int32_t> out;
    utf8proc_uint8_t* nfkc = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(
        reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
        static_cast<utf8proc_ssize_t>(valid.size()), &nfkc,
        static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
    if (n < 0 || nfkc == nullptr) return out;  // only on allocation failure
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(nfkc, &std::free);
    utf8proc_ssize_t pos = 0;
    while (pos < n) {
        utf8proc_int32_t cp = 0;
        const utf8proc_ssize_t len = utf8proc_iterate(nfkc + pos, n - pos, &cp);
        if (len <= 0) break;
        out.push_back(utf8proc_tolower(cp));
        pos += len;
    }
    return out;
}

bool IsWordChar(utf8proc_int32_t cp) {
    switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
            return true;
        default:
            return false;
    }
}

void AppendUtf8(std::string& out, utf8proc_int32_t cp) {
    utf8proc_uint8_t buf[4];
    const utf8proc_ssize_t len = utf8proc_encode_char(cp, buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(len));
}

void AddFeature(std::vector<double>& acc, std::string_view feature, double weight) {
    const std::uint64_t h = Fnv1a64(feature);
    const double sign = (h >> 63) == 0 ? 1.0 : -1.0;
    acc[h % kLexicalDim] += sign * weight;
}

}  // namespace

std::uint64_t Fnv1a64(std::string_view bytes) {
    std::uint64_t h = 14695981039346656037ull;
    for (const char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h;
}

LexicalEmbedder::LexicalEmbedder() : model_id_(kLexicalModelId) {}

std::size_t LexicalEmbedder::CountTokens(std::string_view text) const {
    return ApproximateTokenCount(text);
}

Vector LexicalEmbedder::EmbedOne(std::string_view text) {
    const std::vector<utf8proc_int32_t> cps = NormalizeToCodePoints(text);
    // Tokens as code-point sequences; std::map orders features so the floating-point
    // summation order (and so the output) is the same everywhere.
    std::map<std::vector<utf8proc_int32_t>, int> tf;
    std::vector<utf8proc_int32_t> current;
    for (const utf8proc_int32_t cp : cps) {
        if (IsWordChar(cp)) {
            current.push_back(cp);
        } else if (!current.empty()) {
            ++tf[current];
            current.clear();
        }
    }
    if (!current.empty()) ++tf[current];

    std::vector<double> acc(kLexicalDim, 0.0);
    std::string feature;
    for (const auto& [token, count] : tf) {
        const double weight = 1.0 + std::log(static_cast<double>(count));
        feature.assign("w:");
        for (const auto cp : token) AppendUtf8(feature, cp);
        AddFeature(acc, feature, weight);
        std::vector<utf8proc_int32_t> framed;
        framed.reserve(token.size() + 2);
        framed.push_back('^');
        framed.insert(framed.end(), token.begin(), token.end());
        framed.push_back('$');
        for (std::size_t i = 0; i + 3 <= framed.size(); ++i) {
            feature.assign("g:");
            for (std::size_t k = i; k < i + 3; ++k) AppendUtf8(feature, framed[k]);
            AddFeature(acc, feature, 0.25 * weight);
        }
    }
    double sum = 0;
    for (const double x : acc) sum += x * x;
    Vector out(kLexicalDim, 0.0f);
    if (sum > 0) {
        const double norm = std::sqrt(sum);
        for (int i = 0; i < kLexicalDim; ++i) out[i] = static_cast<float>(acc[i] / norm);
    }
    return out;
}

Result<std::vector<Vector>> LexicalEmbedder::Embed(std::span<const std::string> texts) {
    std::vector<Vector> out;
    out.reserve(texts.size());
    for (const auto& t : texts) out.push_back(EmbedOne(t));
    return out;
}

}  // namespace contex::embed
