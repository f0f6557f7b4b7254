// TOML 1.0 (toml++) -> JSON data model (engine.md §1.3). toml++ keeps tables in key order,
// so entries are re-ordered by source position to preserve the document's order.
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>

#include "ingest/internal.hpp"

namespace contex::ingest::internal {
namespace {

struct TomlFailure {
    std::string reason;
};

std::string DateText(const toml::date& d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04u-%02u-%02u", unsigned{d.year}, unsigned{d.month},
                  unsigned{d.day});
    return buf;
}

std::string TimeText(const toml::time& t) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%02u:%02u:%02u", unsigned{t.hour}, unsigned{t.minute},
                  unsigned{t.second});
    std::string out = buf;
    if (t.nanosecond != 0) {
        std::snprintf(buf, sizeof buf, ".%09u", static_cast<unsigned>(t.nanosecond));
        std::string frac = buf;
        while (frac.back() == '0') frac.pop_back();
        out += frac;
    }
    return out;
}

std::string DateTimeText(const toml::date_time& dt) {
    std::string out = DateText(dt.date) + "T" + TimeText(dt.time);
    if (dt.offset) {
        int minutes = dt.offset->minutes;
        if (minutes == 0) {
            out += 'Z';
        } else {
            char sign = minutes < 0 ? '-' : '+';
            minutes = std::abs(minutes);
            char buf[16];
            std::snprintf(buf, sizeof buf, "%c%02d:%02d", sign, minutes / 60, minutes % 60);
            out += buf;
        }
    }
    return out;
}

bool Before(const toml::source_position& a, const toml::source_position& b) {
    if (a.line != b.line) return a.line < b.line;
    return a.column < b.column;
}

json::value Convert(const toml::node& node, std::size_t depth) {
    if (depth > kMaxDepth) throw TomlFailure{"nesting deeper than " + std::to_string(kMaxDepth)};
    if (const auto* tbl = node.as_table()) {
        std::vector<std::pair<std::string_view, const toml::node*>> entries;
        for (auto&& [key, value] : *tbl) entries.emplace_back(key.str(), &value);
        std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
            return Before(a.second->source().begin, b.second->source().begin);
        });
        json::object obj;
        for (const auto& [key, value] : entries) obj[key] = Convert(*value, depth + 1);
        return obj;
    }
    if (const auto* arr = node.as_array()) {
        json::array out;
        for (const auto& item : *arr) out.push_back(Convert(item, depth + 1));
        return out;
    }
    if (const auto* s = node.as_string()) return json::string(s->get());
    if (const auto* i = node.as_integer()) return json::value(i->get());
    if (const auto* f = node.as_floating_point()) {
        double d = f->get();
        if (std::isnan(d)) return json::string("nan");
        if (std::isinf(d)) return json::string(d < 0 ? "-inf" : "inf");
        return d;
    }
    if (const auto* b = node.as_boolean()) return b->get();
    if (const auto* d = node.as_date()) return json::string(DateText(d->get()));
    if (const auto* t = node.as_time()) return json::string(TimeText(t->get()));
    if (const auto* dt = node.as_date_time()) return json::string(DateTimeText(dt->get()));
    return nullptr;
}

}  // namespace

Result<json::value> ParseToml(std::string_view text) {
    try {
        toml::table table = toml::parse(text);
        return Convert(table, 0);
    } catch (const TomlFailure& f) {
        return InvalidArgument(f.reason);
    } catch (const toml::parse_error& e) {
        std::string reason(e.description());
        reason += " at line " + std::to_string(e.source().begin.line);
        return InvalidArgument(reason);
    } catch (const std::exception& e) {
        return InvalidArgument(std::string("invalid TOML: ") + e.what());
    }
}

}  // namespace contex::ingest::internal
