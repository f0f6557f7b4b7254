// SQLite back end: WAL, one writer connection (transactions via BEGIN IMMEDIATE under a
// process mutex) and a pool of `pool_size` reader connections (operations.md §2.1).
// ":memory:" uses the writer connection for reads too.
#pragma once

#include <memory>
#include <string>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "storage/storage.hpp"

namespace contex::storage {

// Opens (creating parent directories and the file) the database at `path`. Does not
// migrate. kUnavailable when the file cannot be opened.
Result<std::unique_ptr<Storage>> OpenSqliteStorage(const std::string& path,
                                                   const StorageConfig& config, obs::Logger& logger,
                                                   obs::MetricsRegistry& metrics,
                                                   const Clock& clock);

}  // namespace contex::storage
