// Plain text -> paragraph nodes (engine.md §1.8).
#include "common/strings.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest::internal {

void SplitPlainText(std::string_view text, Emitter& emitter) {
    std::string normalized = NormalizeNewlines(text);
    std::vector<std::string_view> lines = SplitLines(normalized);
    std::size_t paragraph = 0;
    std::size_t i = 0;
    while (i < lines.size()) {
        if (IsBlank(lines[i])) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < lines.size() && !IsBlank(lines[j])) ++j;
        // The paragraph is the source range of lines [i, j), trimmed.
        const char* begin = lines[i].data();
        const char* end = lines[j - 1].data() + lines[j - 1].size();
        std::string_view body = TrimView(std::string_view(begin, static_cast<std::size_t>(end - begin)));
        emitter.AddText("paragraph_" + std::to_string(paragraph++), NodeType::kParagraph, body,
                        {emitter.title()}, {}, Emitter::ChunkMode::kProse);
        i = j;
    }
}

}  // namespace contex::ingest::internal
