// Random identifiers: request ids, message ids, UUIDs. Thread-safe; backed by a
// per-thread CSPRNG-seeded generator.
#pragma once

#include <cstddef>
#include <string>

namespace contex {

// n lower-case hex characters from a cryptographically seeded generator.
std::string RandomHex(std::size_t n);
// Canonical lower-case UUID v4 ("3f2b...-...").
std::string NewUuid();
// n bytes from the OS CSPRNG (secrets, keys).
std::string SecureRandomBytes(std::size_t n);

}  // namespace contex
