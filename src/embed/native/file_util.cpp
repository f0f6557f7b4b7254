#include "embed/native/file_util.hpp"

#include <fstream>
#include <iterator>
#include <system_error>

namespace contex::embed::native::internal {

Result<std::string> ReadFile(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        return NotFound("model file not found: " + path.string());
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return Unavailable("cannot open model file: " + path.string());
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return Unavailable("cannot read model file: " + path.string());
    return data;
}

Result<json::value> ReadJsonFile(const std::filesystem::path& path) {
    CONTEX_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    auto parsed = ParseJson(text);
    if (!parsed.ok()) {
        return InvalidArgument("malformed JSON in " + path.string() + ": " +
                               parsed.error().message);
    }
    return std::move(parsed).value();
}

}  // namespace contex::embed::native::internal
