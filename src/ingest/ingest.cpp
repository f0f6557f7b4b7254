// Parse(): format resolution (§1.2), limits (§1.10) and the dispatch to the splitters.
#include "ingest/ingest.hpp"

#include <exception>
#include <new>

#include "common/crypto.hpp"
#include "common/strings.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest {

std::string_view FormatName(Format format) {
    switch (format) {
        case Format::kJson: return "json";
        case Format::kYaml: return "yaml";
        case Format::kToml: return "toml";
        case Format::kCsv: return "csv";
        case Format::kXml: return "xml";
        case Format::kMarkdown: return "markdown";
        case Format::kCode: return "code";
        case Format::kText: return "text";
    }
    return "text";
}

std::string_view NodeTypeName(NodeType type) {
    switch (type) {
        case NodeType::kObject: return "object";
        case NodeType::kArray: return "array";
        case NodeType::kPrimitive: return "primitive";
        case NodeType::kRow: return "row";
        case NodeType::kHeading: return "heading";
        case NodeType::kParagraph: return "paragraph";
        case NodeType::kCodeBlock: return "code_block";
        case NodeType::kList: return "list";
        case NodeType::kTable: return "table";
        case NodeType::kFunction: return "function";
        case NodeType::kClass: return "class";
    }
    return "object";
}

Result<FormatHint> ResolveHintDetails(std::string_view hint) {
    std::string h = ToLowerAscii(TrimView(hint));
    FormatHint out;
    if (h == "json") {
        out.format = Format::kJson;
    } else if (h == "yaml" || h == "yml") {
        out.format = Format::kYaml;
    } else if (h == "toml") {
        out.format = Format::kToml;
    } else if (h == "csv") {
        out.format = Format::kCsv;
    } else if (h == "tsv") {
        out.format = Format::kCsv;
        out.delimiter = '\t';
    } else if (h == "xml") {
        out.format = Format::kXml;
    } else if (h == "markdown" || h == "md") {
        out.format = Format::kMarkdown;
    } else if (h == "text" || h == "txt" || h == "plain" || h == "plaintext") {
        out.format = Format::kText;
    } else if (h == "code") {
        out.format = Format::kCode;
    } else {
        static const std::pair<std::string_view, std::string_view> kLanguages[] = {
            {"python", "python"}, {"py", "python"},         {"javascript", "javascript"},
            {"js", "javascript"}, {"typescript", "typescript"}, {"ts", "typescript"},
            {"go", "go"},         {"rust", "rust"},         {"rs", "rust"},
            {"java", "java"},     {"c", "c"},               {"cpp", "cpp"},
            {"c++", "cpp"},       {"cs", "csharp"},         {"csharp", "csharp"},
            {"ruby", "ruby"},     {"rb", "ruby"},           {"php", "php"},
            {"kotlin", "kotlin"}, {"swift", "swift"},       {"scala", "scala"},
            {"shell", "shell"},   {"sh", "shell"},          {"bash", "shell"},
            {"sql", "sql"},
        };
        for (const auto& [name, language] : kLanguages) {
            if (h == name) {
                out.format = Format::kCode;
                out.language = std::string(language);
                return out;
            }
        }
        return InvalidArgument("unknown data_format '" + std::string(TrimView(hint)) + "'");
    }
    return out;
}

Result<Format> ResolveHint(std::string_view hint) {
    CONTEX_ASSIGN_OR_RETURN(FormatHint h, ResolveHintDetails(hint));
    return h.format;
}

namespace {

using internal::Emitter;

struct Outcome {
    Format format = Format::kText;
    std::string language;
};

// Runs the splitter of an already-resolved text format.
Outcome SplitTextFormat(Format format, std::string_view text, char delimiter,
                        std::string language, Emitter& emitter, std::size_t max_yaml_values) {
    Outcome out{format, {}};
    switch (format) {
        case Format::kCsv: {
            char d = delimiter;
            if (d == 0) {
                d = internal::QualifyingCsvDelimiter(text).value_or(',');
            }
            internal::SplitCsv(text, d, emitter);
            break;
        }
        case Format::kMarkdown: internal::SplitMarkdown(text, emitter, max_yaml_values); break;
        case Format::kCode: out.language = internal::SplitCode(text, std::move(language), emitter); break;
        default: internal::SplitPlainText(text, emitter); break;
    }
    return out;
}

// Parses a string with a structured hint; the error carries the reason on failure.
Result<json::value> ParseStructured(Format format, std::string_view text,
                                    std::size_t max_yaml_values) {
    std::string normalized = internal::NormalizeNewlines(text);
    switch (format) {
        case Format::kJson: {
            JsonParseFailure failure;
            auto parsed = ParseJson(TrimView(normalized), &failure);
            if (!parsed.ok()) {
                return InvalidArgument(failure.reason + " at byte " + std::to_string(failure.offset));
            }
            return parsed;
        }
        case Format::kYaml: {
            std::string dedented = internal::Dedent(normalized);
            return internal::ParseYaml(TrimView(dedented), max_yaml_values);
        }
        case Format::kToml: return internal::ParseToml(normalized);
        case Format::kXml: return internal::ParseXml(TrimView(normalized));
        default: return InvalidArgument("not a structured format");
    }
}

bool IsStructured(Format f) {
    return f == Format::kJson || f == Format::kYaml || f == Format::kToml || f == Format::kXml;
}

Result<Document> ParseImpl(std::string_view data_key, const json::value& data,
                           std::optional<std::string_view> hint, const ParseOptions& options) {
    // Limits first, cheapest checks first.
    if (data.is_string() && data.get_string().size() > options.max_input_bytes) {
        return TooLarge("data is " + std::to_string(data.get_string().size()) +
                        " bytes; the limit is " + std::to_string(options.max_input_bytes));
    }
    if (!data.is_string() && internal::Depth(data, internal::kMaxDepth) > internal::kMaxDepth) {
        return InvalidArgument("data is nested deeper than " +
                               std::to_string(internal::kMaxDepth) + " levels");
    }
    if (!internal::ValidUtf8Strings(data)) return InvalidArgument("data contains invalid UTF-8");
    std::string compact = ToJson(data);
    if (compact.size() > options.max_input_bytes) {
        return TooLarge("data is " + std::to_string(compact.size()) + " bytes; the limit is " +
                        std::to_string(options.max_input_bytes));
    }

    const std::size_t max_yaml_values = options.max_nodes * 10;
    Document doc;
    Emitter emitter(data_key, options);

    std::optional<FormatHint> known;
    std::string hint_text;
    if (hint && !TrimView(*hint).empty()) {
        hint_text = std::string(TrimView(*hint));
        // Issue 3 overrides engine.md §1.2: an unknown hint is the caller's error (422),
        // not a detection with a warning. See docs/decisions/0003-unknown-format-hint.md.
        CONTEX_ASSIGN_OR_RETURN(FormatHint resolved, ResolveHintDetails(hint_text));
        known = std::move(resolved);
    }

    if (!data.is_string()) {
        // Rules 1 and 2: structured JSON; any hint is irrelevant.
        doc.format = Format::kJson;
        internal::SplitStructured(data, emitter);
    } else {
        std::string_view text(data.get_string().data(), data.get_string().size());
        bool done = false;
        std::string failure_reason;
        if (known) {
            if (IsStructured(known->format)) {
                auto parsed = ParseStructured(known->format, text, max_yaml_values);
                if (parsed.ok()) {
                    doc.format = known->format;
                    internal::SplitStructured(*parsed, emitter);
                    done = true;
                } else {
                    failure_reason = parsed.error().message;
                }
            } else {
                std::string normalized = internal::NormalizeNewlines(text);
                Outcome o = SplitTextFormat(known->format, normalized, known->delimiter,
                                            known->language, emitter, max_yaml_values);
                doc.format = o.format;
                doc.language = std::move(o.language);
                done = true;
            }
        }
        if (!done) {
            std::optional<Format> failed;
            if (known && IsStructured(known->format)) failed = known->format;
            internal::Detection det = internal::Detect(text, max_yaml_values, failed);
            doc.format = det.format;
            if (IsStructured(det.format)) {
                internal::SplitStructured(det.value, emitter);
            } else {
                std::string normalized = internal::NormalizeNewlines(text);
                // Code keeps its leading lines so start_line/end_line match the source.
                std::string_view body =
                    det.format == Format::kCode ? std::string_view(normalized) : TrimView(normalized);
                Outcome o = SplitTextFormat(det.format, body, det.delimiter, {}, emitter,
                                            max_yaml_values);
                doc.language = std::move(o.language);
            }
            std::string detected(FormatName(det.format));
            if (known) {
                doc.warnings.push_back("data_format '" + hint_text + "' could not be parsed (" +
                                       failure_reason + "); detected '" + detected + "'");
            }
        }
    }

    if (emitter.over_limit()) {
        return InvalidArgument("data produces " + std::to_string(emitter.count()) +
                               " nodes; the limit is " + std::to_string(options.max_nodes));
    }
    doc.nodes = emitter.Take();
    std::string hash_input(FormatName(doc.format));
    hash_input += '\n';
    hash_input += compact;
    doc.content_hash = Sha256Hex(hash_input);
    return doc;
}

}  // namespace

Result<Document> Parse(std::string_view data_key, const json::value& data,
                       std::optional<std::string_view> hint, const ParseOptions& options) {
    // The parsers wrap their own exceptions; this catches what is left (allocation
    // failure, a throwing count_tokens) so nothing crosses the module boundary.
    try {
        return ParseImpl(data_key, data, hint, options);
    } catch (const std::bad_alloc&) {
        return TooLarge("data needs more memory than is available to parse it");
    } catch (const std::exception& e) {
        return Internal(std::string("ingest failed: ") + e.what());
    }
}

}  // namespace contex::ingest
