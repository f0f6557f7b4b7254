// Hashes and MACs (OpenSSL). Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace contex {

std::string Sha256Hex(std::string_view data);           // lower-hex SHA-256
std::string Sha256Raw(std::string_view data);           // 32 raw bytes
std::string HmacSha256Raw(std::string_view key, std::string_view message);
std::string HmacSha256Hex(std::string_view key, std::string_view message);
std::string HexEncode(std::string_view bytes);
std::string Base64Encode(std::string_view bytes);
// Returns false when `text` is not valid standard base64.
bool Base64Decode(std::string_view text, std::string& out);
// Constant-time equality for secrets.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace contex
