// split(v, path) of engine.md §1.5 and the node texts of §1.9 for structured data.
#include <utility>

#include "common/strings.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest::internal {
namespace {

bool IsScalar(const json::value& v) { return !v.is_object() && !v.is_array(); }

bool AllScalars(const json::array& a) {
    for (const auto& item : a) {
        if (!IsScalar(item)) return false;
    }
    return true;
}

// Simple entries: scalar, array of scalars, empty array, empty object.
bool IsSimple(const json::value& v) {
    if (IsScalar(v)) return true;
    if (v.is_array()) return AllScalars(v.get_array());
    return v.get_object().empty();
}

bool NeedsQuoting(std::string_view key) {
    if (key.empty()) return true;
    for (char c : key) {
        if (c == '.' || c == '[' || c == ']' || c == '"' || c == '\\') return true;
    }
    return false;
}

std::string ChildKeyPath(const std::string& path, std::string_view key) {
    std::string out = path;
    if (NeedsQuoting(key)) {
        out += '[';
        AppendJsonString(out, key);
        out += ']';
    } else {
        if (!out.empty()) out += '.';
        out.append(key);
    }
    return out;
}

std::string ChildIndexPath(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

class Splitter {
public:
    explicit Splitter(Emitter& emitter) : emitter_(emitter) {}

    void Split(const json::value& v, const std::string& path, std::size_t depth) {
        if (v.is_object()) {
            SplitObject(v.get_object(), path, depth);
        } else if (v.is_array()) {
            SplitArray(v.get_array(), path, depth);
        } else {
            EmitPrimitive(v, path.empty() ? "value" : path);
        }
    }

private:
    std::string PathTitle() const {
        std::string out;
        for (const auto& t : key_titles_) {
            if (t.empty()) continue;
            if (!out.empty()) out += ' ';
            out += t;
        }
        return out;
    }

    void EmitObject(const json::object& obj, const std::string& path) {
        if (emitter_.over_limit()) {
            emitter_.Add({}, NodeType::kObject, {}, {}, {});
            return;
        }
        std::vector<std::string> parts{emitter_.title(), PathTitle()};
        for (const auto& kv : obj) {
            std::string part(kv.key());
            part += ": ";
            AppendRendered(part, kv.value());
            parts.push_back(std::move(part));
        }
        emitter_.Add(path.empty() ? "root" : path, NodeType::kObject, obj, JoinNodeText(parts),
                     {});
    }

    void EmitArray(const json::array& arr, const std::string& path) {
        if (emitter_.over_limit()) {
            emitter_.Add({}, NodeType::kArray, {}, {}, {});
            return;
        }
        json::object data;
        data["value"] = arr;
        std::string items;
        bool first = true;
        for (const auto& item : arr) {
            if (!first) items += ", ";
            first = false;
            AppendRendered(items, item);
            if (items.size() > kMaxTextChars * 4) break;  // cut anyway by JoinNodeText
        }
        emitter_.Add(path.empty() ? "root" : path, NodeType::kArray, std::move(data),
                     JoinNodeText({emitter_.title(), PathTitle(), items}), {});
    }

    void EmitPrimitive(const json::value& v, const std::string& path) {
        if (emitter_.over_limit()) {
            emitter_.Add({}, NodeType::kPrimitive, {}, {}, {});
            return;
        }
        json::object data;
        data["value"] = v;
        emitter_.Add(path, NodeType::kPrimitive, std::move(data),
                     JoinNodeText({emitter_.title(), PathTitle(), Rendered(v)}), {});
    }

    void SplitObject(const json::object& obj, const std::string& path, std::size_t depth) {
        bool any_complex = false, any_simple = false;
        for (const auto& kv : obj) {
            if (IsSimple(kv.value())) {
                any_simple = true;
            } else {
                any_complex = true;
            }
        }
        if (!any_complex) {
            EmitObject(obj, path);
            return;
        }
        // Guards: too deep, or a child path too long -> the subtree is one leaf.
        if (depth >= kSplitDepth) {
            EmitObject(obj, path);
            return;
        }
        std::vector<std::string> child_paths;
        for (const auto& kv : obj) {
            if (IsSimple(kv.value())) continue;
            child_paths.push_back(ChildKeyPath(path, kv.key()));
            if (child_paths.back().size() > kMaxPathBytes) {
                EmitObject(obj, path);
                return;
            }
        }
        if (any_simple) {
            json::object simple;
            for (const auto& kv : obj) {
                if (IsSimple(kv.value())) simple.emplace(kv.key(), kv.value());
            }
            EmitObject(simple, path);
        }
        std::size_t c = 0;
        for (const auto& kv : obj) {
            if (IsSimple(kv.value())) continue;
            key_titles_.push_back(Humanize(kv.key()));
            Split(kv.value(), child_paths[c++], depth + 1);
            key_titles_.pop_back();
        }
    }

    void SplitArray(const json::array& arr, const std::string& path, std::size_t depth) {
        if (AllScalars(arr) || depth >= kSplitDepth ||
            ChildIndexPath(path, arr.size()).size() > kMaxPathBytes) {
            EmitArray(arr, path);
            return;
        }
        for (std::size_t i = 0; i < arr.size(); ++i) {
            std::string child = ChildIndexPath(path, i);
            if (IsScalar(arr[i])) {
                EmitPrimitive(arr[i], child);
            } else {
                Split(arr[i], child, depth + 1);
            }
        }
    }

    Emitter& emitter_;
    std::vector<std::string> key_titles_;
};

}  // namespace

void SplitStructured(const json::value& v, Emitter& emitter) {
    Splitter(emitter).Split(v, std::string(), 0);
}

std::size_t Depth(const json::value& v, std::size_t limit) {
    // Iterative, so a hostile native value cannot overflow the stack.
    std::vector<std::pair<const json::value*, std::size_t>> stack{{&v, 0}};
    std::size_t max_depth = 0;
    while (!stack.empty()) {
        auto [cur, d] = stack.back();
        stack.pop_back();
        if (cur->is_object() || cur->is_array()) {
            max_depth = std::max(max_depth, d + 1);
            if (max_depth > limit) return max_depth;
            if (cur->is_object()) {
                for (const auto& kv : cur->get_object()) stack.push_back({&kv.value(), d + 1});
            } else {
                for (const auto& item : cur->get_array()) stack.push_back({&item, d + 1});
            }
        }
    }
    return max_depth;
}

bool ValidUtf8Strings(const json::value& v) {
    std::vector<const json::value*> stack{&v};
    while (!stack.empty()) {
        const json::value* cur = stack.back();
        stack.pop_back();
        if (cur->is_string()) {
            const auto& s = cur->get_string();
            if (!IsValidUtf8(std::string_view(s.data(), s.size()))) return false;
        } else if (cur->is_object()) {
            for (const auto& kv : cur->get_object()) {
                if (!IsValidUtf8(kv.key())) return false;
                stack.push_back(&kv.value());
            }
        } else if (cur->is_array()) {
            for (const auto& item : cur->get_array()) stack.push_back(&item);
        }
    }
    return true;
}

}  // namespace contex::ingest::internal
