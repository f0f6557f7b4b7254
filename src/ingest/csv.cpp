// CSV (RFC 4180) -> row nodes (engine.md §1.6) and the detection rule 6 of §1.2.
#include <set>
#include <unordered_set>

#include "common/strings.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest::internal {
namespace {

// Streams fields and record ends to `sink`: sink.Field(std::string&&),
// sink.EndRecord() -> bool (false stops). Blank lines are skipped; an unterminated quote
// ends the field at end of input.
template <typename Sink>
void ScanCsv(std::string_view text, char delim, Sink& sink) {
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n) {
        // Skip blank lines (only whitespace up to the newline).
        std::size_t j = i;
        while (j < n && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r') &&
               text[j] != delim) {
            ++j;
        }
        if (j >= n) break;
        if (text[j] == '\n') {
            i = j + 1;
            continue;
        }
        // One record.
        while (true) {
            std::string field;
            if (i < n && text[i] == '"') {
                ++i;
                while (i < n) {
                    if (text[i] == '"') {
                        if (i + 1 < n && text[i + 1] == '"') {
                            field += '"';
                            i += 2;
                        } else {
                            ++i;
                            break;
                        }
                    } else {
                        field += text[i++];
                    }
                }
                // Lenient: characters after the closing quote belong to the field.
                while (i < n && text[i] != delim && text[i] != '\n' && text[i] != '\r') {
                    field += text[i++];
                }
            } else {
                while (i < n && text[i] != delim && text[i] != '\n' && text[i] != '\r') {
                    field += text[i++];
                }
            }
            sink.Field(std::move(field));
            if (i < n && text[i] == delim) {
                ++i;
                continue;
            }
            if (i < n && text[i] == '\r') ++i;
            if (i < n && text[i] == '\n') ++i;
            break;
        }
        if (!sink.EndRecord()) return;
    }
}

struct Collector {
    std::vector<std::vector<std::string>> records;
    std::vector<std::string> current;
    void Field(std::string&& f) { current.push_back(std::move(f)); }
    bool EndRecord() {
        records.push_back(std::move(current));
        current.clear();
        return true;
    }
};

struct Qualifier {
    std::vector<std::string> header;
    std::size_t fields = 0;
    std::size_t records = 0;
    bool ok = true;
    void Field(std::string&& f) {
        if (records == 0) header.push_back(std::move(f));
        ++fields;
    }
    bool EndRecord() {
        if (records == 0) {
            std::set<std::string_view> seen;
            if (header.size() < 2) ok = false;
            for (const auto& h : header) {
                std::string_view t = TrimView(h);
                if (t.empty() || !seen.insert(t).second) ok = false;
            }
        } else if (fields != header.size()) {
            ok = false;
        }
        ++records;
        fields = 0;
        return ok;
    }
};

std::vector<std::string> UniqueHeader(const std::vector<std::string>& raw) {
    std::vector<std::string> out;
    std::unordered_set<std::string> used;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        std::string name(TrimView(raw[i]));
        if (name.empty()) name = "column_" + std::to_string(i + 1);
        if (used.count(name)) {
            for (int k = 2;; ++k) {
                std::string candidate = name + "_" + std::to_string(k);
                if (!used.count(candidate)) {
                    name = std::move(candidate);
                    break;
                }
            }
        }
        used.insert(name);
        out.push_back(std::move(name));
    }
    return out;
}

}  // namespace

std::vector<std::vector<std::string>> ReadCsvRecords(std::string_view text, char delimiter) {
    Collector c;
    ScanCsv(text, delimiter, c);
    return std::move(c.records);
}

std::optional<char> QualifyingCsvDelimiter(std::string_view text) {
    text = TrimView(text);
    std::string_view first_line = text.substr(0, text.find('\n'));
    for (char delim : {',', '\t', ';', '|'}) {
        // The header must contain the delimiter unless it is quoted across lines.
        if (first_line.find(delim) == std::string_view::npos &&
            first_line.find('"') == std::string_view::npos) {
            continue;
        }
        Qualifier q;
        ScanCsv(text, delim, q);
        if (q.ok && q.records >= 2) return delim;
    }
    return std::nullopt;
}

void SplitCsv(std::string_view text, char delimiter, Emitter& emitter) {
    Collector c;
    ScanCsv(TrimView(text), delimiter, c);
    if (c.records.empty()) return;
    std::vector<std::string> header = UniqueHeader(c.records[0]);
    for (std::size_t r = 1; r < c.records.size(); ++r) {
        auto& rec = c.records[r];
        std::string path = "row_" + std::to_string(r - 1);
        if (emitter.over_limit()) {
            emitter.Add(std::move(path), NodeType::kRow, {}, {}, {});
            continue;
        }
        json::object row;
        for (std::size_t k = 0; k < header.size(); ++k) {
            if (k < rec.size()) {
                row[header[k]] = json::string(rec[k]);
            } else {
                row[header[k]] = nullptr;
            }
        }
        if (rec.size() > header.size()) {
            json::array extra;
            for (std::size_t k = header.size(); k < rec.size(); ++k) {
                extra.push_back(json::string(rec[k]));
            }
            row["_extra"] = std::move(extra);
        }
        std::vector<std::string> parts{emitter.title()};
        for (const auto& kv : row) {
            std::string part(kv.key());
            part += ": ";
            AppendRendered(part, kv.value());
            parts.push_back(std::move(part));
        }
        std::string node_text = JoinNodeText(parts);
        emitter.Add(std::move(path), NodeType::kRow, std::move(row), std::move(node_text), {});
    }
}

}  // namespace contex::ingest::internal
