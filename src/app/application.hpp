// Composition root: the only place that names concrete classes. Builds every component
// from the configuration, wires them, serves HTTP until a shutdown signal, then stops
// them in the order of operations.md §11.
#pragma once

#include <string_view>

#include "app/config.hpp"

namespace contex::app {

inline constexpr std::string_view kVersion = CONTEX_VERSION;

// Runs `contex serve`. Returns the process exit code (0 after a graceful shutdown,
// 1 on a start-up failure).
int RunServer(const Config& config);

// `contex migrate [--status]`: applies the embedded migrations (or prints the schema
// version). Returns 0 on success, 1 when the database is unavailable or a migration fails.
int RunMigrate(const Config& config, bool status_only);

}  // namespace contex::app
