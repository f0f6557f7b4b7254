// YAML (yaml-cpp) -> JSON data model, YAML 1.2 core schema (engine.md §1.3).
//
// Aliases are expanded here, and every produced value (expanded ones included) is counted
// against `max_values`, so an alias bomb fails after bounded work and memory.
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <sstream>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <cmath>

#include "common/strings.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest::internal {
namespace {

struct YamlFailure {
    std::string reason;
};

bool AllDigits(std::string_view s, int base) {
    if (s.empty()) return false;
    for (char c : s) {
        bool ok = (c >= '0' && c <= '9' && (base > 8 || c <= '7')) ||
                  (base == 16 && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
        if (!ok) return false;
    }
    return true;
}

json::value IntegerOrDouble(std::string_view digits, int base, bool negative,
                            std::string_view original) {
    errno = 0;
    std::string s(digits);
    unsigned long long u = std::strtoull(s.c_str(), nullptr, base);
    if (errno == 0) {
        if (!negative && u <= static_cast<unsigned long long>(INT64_MAX)) {
            return json::value(static_cast<std::int64_t>(u));
        }
        if (negative && u <= static_cast<unsigned long long>(INT64_MAX) + 1ULL) {
            return json::value(static_cast<std::int64_t>(0 - u));
        }
    }
    if (base != 10) return json::value(json::string(original));
    std::string full(original);
    return json::value(std::strtod(full.c_str(), nullptr));
}

bool IsCoreFloat(std::string_view s) {
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    std::size_t i = 0;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t int_digits = 0, frac_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
    bool dot = false;
    if (i < s.size() && s[i] == '.') {
        dot = true;
        ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac_digits;
    }
    if (int_digits == 0 && frac_digits == 0) return false;
    if (int_digits == 0 && !dot) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
        std::size_t exp_digits = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
        if (exp_digits == 0) return false;
    }
    return i == s.size();
}

// Resolves a plain scalar with the YAML 1.2 core schema.
json::value ResolvePlain(const std::string& s) {
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    std::string_view v = s;
    if (v == ".inf" || v == ".Inf" || v == ".INF" || v == "+.inf" || v == "+.Inf" ||
        v == "+.INF") {
        return json::string(".inf");
    }
    if (v == "-.inf" || v == "-.Inf" || v == "-.INF") return json::string("-.inf");
    if (v == ".nan" || v == ".NaN" || v == ".NAN") return json::string(".nan");
    if (StartsWith(v, "0o") && AllDigits(v.substr(2), 8)) {
        return IntegerOrDouble(v.substr(2), 8, false, v);
    }
    if (StartsWith(v, "0x") && AllDigits(v.substr(2), 16)) {
        return IntegerOrDouble(v.substr(2), 16, false, v);
    }
    {
        std::string_view d = v;
        bool negative = false;
        if (!d.empty() && (d[0] == '-' || d[0] == '+')) {
            negative = d[0] == '-';
            d.remove_prefix(1);
        }
        if (AllDigits(d, 10)) return IntegerOrDouble(d, 10, negative, v);
    }
    if (IsCoreFloat(v)) {
        double d = std::strtod(s.c_str(), nullptr);
        if (!std::isfinite(d)) return json::string(s);
        return d;
    }
    return json::string(s);
}

// Builds the JSON data model straight from yaml-cpp's parse events. Not using
// YAML::LoadAll on purpose: in yaml-cpp 0.7 it loops forever (allocating a null document
// per turn) on inputs such as `"",` (jbeder/yaml-cpp#1040, fixed upstream after 0.8), and
// building from events lets aliases be expanded and counted here.
class JsonBuilder : public YAML::EventHandler {
public:
    explicit JsonBuilder(std::size_t max_values) : max_values_(max_values) {}

    void OnDocumentStart(const YAML::Mark&) override {
        root_ = nullptr;
        root_null_pos_ = -1;
    }
    void OnDocumentEnd() override {
        if (root_.is_null() && root_null_pos_ >= 0) {
            // A null document at the same position as the previous one: the parser made
            // no progress and would hand out null documents forever.
            if (root_null_pos_ == last_null_doc_pos_) stuck_ = true;
            last_null_doc_pos_ = root_null_pos_;
        }
        docs_.push_back(std::move(root_));
        root_ = nullptr;
    }
    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        if (stack_.empty()) root_null_pos_ = mark.pos;
        Leaf(nullptr, anchor);
    }
    void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
        auto it = anchors_.find(anchor);
        if (it == anchors_.end()) throw YamlFailure{"alias to an unknown or unfinished anchor"};
        aliases_used_ = true;
        Count(it->second.count);
        Place(json::value(it->second.value));
    }
    void OnScalar(const YAML::Mark&, const std::string& tag, YAML::anchor_t anchor,
                  const std::string& value) override {
        Leaf(Scalar(tag, value), anchor);
    }
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        Open(json::array(), anchor);
    }
    void OnSequenceEnd() override { Close(); }
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        Open(json::object(), anchor);
    }
    void OnMapEnd() override { Close(); }

    bool stuck() const { return stuck_; }
    std::size_t documents() const { return docs_.size(); }
    std::vector<json::value>& docs() { return docs_; }

private:
    struct Frame {
        json::value container;
        YAML::anchor_t anchor;
        std::size_t values_before;
        bool expecting_key = true;
        std::string key;
    };
    struct Anchored {
        json::value value;
        std::size_t count;
    };

    static std::string Safe(const std::string& s) {
        // Escapes such as "\uD800" or "\x80" decode to ill-formed UTF-8.
        return IsValidUtf8(s) ? s : RepairUtf8(s);
    }

    static json::value Scalar(const std::string& tag, const std::string& text) {
        if (tag == "?" || tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" ||
            tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:null") {
            json::value v = ResolvePlain(text);
            if (v.is_string()) return json::string(Safe(std::string(v.get_string())));
            return v;
        }
        return json::string(Safe(text));  // quoted ("!"), !!str or any other tag
    }

    void Count(std::size_t n) {
        values_ += n;
        if (values_ > max_values_) {
            throw YamlFailure{(aliases_used_ ? "alias expansion exceeds "
                                             : "document has more than ") +
                              std::to_string(max_values_) + " values"};
        }
    }

    void Leaf(json::value v, YAML::anchor_t anchor) {
        Count(1);
        if (anchor != YAML::NullAnchor) anchors_[anchor] = Anchored{v, 1};
        Place(std::move(v));
    }

    void Open(json::value container, YAML::anchor_t anchor) {
        if (stack_.size() + 1 > kMaxDepth) {
            throw YamlFailure{"nesting deeper than " + std::to_string(kMaxDepth)};
        }
        Count(1);
        stack_.push_back(Frame{std::move(container), anchor, values_, true, {}});
    }

    void Close() {
        if (stack_.empty()) throw YamlFailure{"unbalanced YAML events"};
        Frame f = std::move(stack_.back());
        stack_.pop_back();
        if (f.anchor != YAML::NullAnchor) {
            anchors_[f.anchor] = Anchored{f.container, values_ - f.values_before + 1};
        }
        Place(std::move(f.container));
    }

    void Place(json::value v) {
        if (stack_.empty()) {
            root_ = std::move(v);
            return;
        }
        Frame& top = stack_.back();
        if (top.container.is_array()) {
            top.container.get_array().push_back(std::move(v));
            return;
        }
        if (top.expecting_key) {
            // Keys are not values of the data model: only a scalar key's count is returned.
            if (!v.is_object() && !v.is_array() && values_ > 0) --values_;
            if (v.is_string()) {
                top.key = std::string(v.get_string());
            } else if (v.is_null()) {
                top.key = "null";
            } else if (v.is_object() || v.is_array()) {
                top.key = ToJson(v);
            } else {
                top.key = Rendered(v);
            }
            top.expecting_key = false;
        } else {
            top.container.get_object()[top.key] = std::move(v);  // last wins, first position
            top.expecting_key = true;
        }
    }

    std::size_t max_values_;
    std::size_t values_ = 0;
    std::vector<Frame> stack_;
    std::map<YAML::anchor_t, Anchored> anchors_;
    json::value root_;
    int root_null_pos_ = -1;
    int last_null_doc_pos_ = -2;
    bool stuck_ = false;
    bool aliases_used_ = false;
    std::vector<json::value> docs_;
};

}  // namespace

Result<json::value> ParseYaml(std::string_view text, std::size_t max_values) {
    // YAML text never contains NUL; yaml-cpp would take NULs as a sign of UTF-16/32 and
    // decode the bytes as such.
    if (text.find('\0') != std::string_view::npos) {
        return InvalidArgument("YAML cannot contain NUL characters");
    }
    try {
        std::istringstream stream{std::string(text)};
        YAML::Parser parser(stream);
        JsonBuilder builder(max_values);
        while (parser.HandleNextDocument(builder)) {
            if (builder.stuck()) return InvalidArgument("invalid YAML (parser made no progress)");
            if (builder.documents() > max_values) {
                return InvalidArgument("more than " + std::to_string(max_values) + " documents");
            }
        }
        std::vector<json::value>& docs = builder.docs();
        if (docs.empty()) return json::value(nullptr);
        if (docs.size() == 1) return std::move(docs[0]);
        json::array arr;
        for (auto& d : docs) arr.push_back(std::move(d));
        return json::value(std::move(arr));
    } catch (const YamlFailure& f) {
        return InvalidArgument(f.reason);
    } catch (const YAML::Exception& e) {
        std::string reason = e.msg.empty() ? std::string("invalid YAML") : e.msg;
        if (e.mark.line >= 0) reason += " at line " + std::to_string(e.mark.line + 1);
        return InvalidArgument(reason);
    } catch (const std::exception& e) {
        return InvalidArgument(std::string("invalid YAML: ") + e.what());
    }
}

}  // namespace contex::ingest::internal
