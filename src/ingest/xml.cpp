// XML (pugixml) -> JSON data model (engine.md §1.3).
//
// pugixml never loads external resources and only expands the predefined and numeric
// entities; DOCTYPE declarations (the only place entities can be defined) are rejected,
// so neither external entities nor entity expansion bombs reach the data.
#include <pugixml.hpp>

#include <exception>

#include "common/strings.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest::internal {
namespace {

struct XmlFailure {
    std::string reason;
};

// Character references such as "&#xD800;" decode to ill-formed UTF-8; repair them.
std::string Safe(std::string_view s) {
    return IsValidUtf8(s) ? std::string(s) : RepairUtf8(s);
}

json::value ConvertElement(const pugi::xml_node& el, std::size_t depth) {
    if (depth > kMaxDepth) throw XmlFailure{"nesting deeper than " + std::to_string(kMaxDepth)};
    json::object obj;
    for (const auto& attr : el.attributes()) {
        std::string key = "@";
        key += Safe(attr.name());
        obj[key] = json::string(Safe(attr.value()));
    }
    std::string text;
    for (const auto& child : el.children()) {
        switch (child.type()) {
            case pugi::node_element: {
                json::value v = ConvertElement(child, depth + 1);
                std::string name_text = Safe(child.name());
                std::string_view name = name_text;
                auto it = obj.find(name);
                if (it == obj.end()) {
                    obj.emplace(name, std::move(v));
                } else if (it->value().is_array()) {
                    // An element never converts to an array, so an array here is the
                    // list of a repeated tag.
                    it->value().get_array().push_back(std::move(v));
                } else {
                    json::array arr;
                    arr.push_back(std::move(it->value()));
                    arr.push_back(std::move(v));
                    it->value() = std::move(arr);
                }
                break;
            }
            case pugi::node_pcdata:
            case pugi::node_cdata: {
                std::string value_text = Safe(child.value());
                std::string_view piece = TrimView(value_text);
                if (!piece.empty()) {
                    if (!text.empty()) text += ' ';
                    text.append(piece);
                }
                break;
            }
            case pugi::node_doctype: throw XmlFailure{"DOCTYPE declarations are not allowed"};
            default: break;  // comments, processing instructions, declarations: dropped
        }
    }
    if (obj.empty()) {
        if (text.empty()) return json::object();
        return json::string(text);
    }
    if (!text.empty()) obj["#text"] = json::string(text);
    return obj;
}

}  // namespace

Result<json::value> ParseXml(std::string_view text) {
    try {
        pugi::xml_document doc;
        unsigned flags = pugi::parse_default | pugi::parse_doctype;
        pugi::xml_parse_result result =
            doc.load_buffer(text.data(), text.size(), flags, pugi::encoding_utf8);
        if (!result) {
            return InvalidArgument(std::string(result.description()) + " at byte " +
                                   std::to_string(result.offset));
        }
        pugi::xml_node root;
        int roots = 0;
        for (const auto& child : doc.children()) {
            switch (child.type()) {
                case pugi::node_element:
                    ++roots;
                    root = child;
                    break;
                case pugi::node_doctype:
                    return InvalidArgument("DOCTYPE declarations are not allowed");
                case pugi::node_pcdata:
                case pugi::node_cdata:
                    if (!TrimView(child.value()).empty()) {
                        return InvalidArgument("text outside the root element");
                    }
                    break;
                default: break;
            }
        }
        if (roots != 1) {
            return InvalidArgument(roots == 0 ? "no root element" : "more than one root element");
        }
        json::object out;
        out[Safe(root.name())] = ConvertElement(root, 1);
        return json::value(std::move(out));
    } catch (const XmlFailure& f) {
        return InvalidArgument(f.reason);
    } catch (const std::exception& e) {
        return InvalidArgument(std::string("invalid XML: ") + e.what());
    }
}

}  // namespace contex::ingest::internal
