#include "storage/codec.hpp"

#include <bit>
#include <cstring>

#include "common/time_format.hpp"

namespace contex::storage::internal {

static_assert(std::endian::native == std::endian::little,
              "vector blobs are float32 little-endian; add byte swapping for big-endian hosts");

std::string EncodeVector(std::span<const float> v) {
    std::string out(v.size() * sizeof(float), '\0');
    if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
    return out;
}

Result<std::vector<float>> DecodeVector(std::string_view blob) {
    if (blob.size() % sizeof(float) != 0) {
        return Internal("stored vector blob has a length that is not a multiple of 4");
    }
    std::vector<float> out(blob.size() / sizeof(float));
    if (!out.empty()) std::memcpy(out.data(), blob.data(), blob.size());
    return out;
}

std::string FormatTime(TimePoint t) { return FormatIsoUtc(t); }

Result<TimePoint> ParseTime(std::string_view text) {
    auto t = ParseIsoUtc(text);
    if (!t) return Internal("stored timestamp is malformed: " + std::string(text));
    return *t;
}

std::string JsonText(const json::value& v) { return ToJson(v); }

Result<json::value> ParseJsonColumn(std::string_view text) {
    auto v = ParseJson(text);
    if (!v.ok()) return Internal("stored JSON is malformed");
    return std::move(v).value();
}

Result<json::object> ParseJsonObjectColumn(std::string_view text) {
    CONTEX_ASSIGN_OR_RETURN(json::value v, ParseJsonColumn(text));
    if (!v.is_object()) return Internal("stored JSON column is not an object");
    return std::move(v.as_object());
}

std::string StringArrayJson(const std::vector<std::string>& v) {
    json::array a;
    a.reserve(v.size());
    for (const auto& s : v) a.emplace_back(s);
    return ToJson(a);
}

Result<std::vector<std::string>> ParseStringArrayJson(std::string_view text) {
    std::vector<std::string> out;
    if (text.empty()) return out;
    CONTEX_ASSIGN_OR_RETURN(json::value v, ParseJsonColumn(text));
    if (v.is_null()) return out;
    if (!v.is_array()) return Internal("stored string array is not an array");
    for (const auto& e : v.as_array()) {
        if (!e.is_string()) return Internal("stored string array holds a non-string");
        out.emplace_back(e.as_string());
    }
    return out;
}

Status CheckProject(std::string& record_project, const std::string& project) {
    if (record_project.empty()) {
        record_project = project;
        return OkStatus();
    }
    if (record_project != project) {
        return InvalidArgument("record belongs to project '" + record_project +
                               "', not to the transaction's project '" + project + "'");
    }
    return OkStatus();
}

}  // namespace contex::storage::internal
