// PostgreSQL back end over libpq: a connection pool (operations.md §3), statements with
// text parameters (vectors as binary BYTEA), LISTEN/NOTIFY contex_changes on a dedicated
// connection, migrations under pg_advisory_lock.
#pragma once

#include <memory>
#include <string>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "storage/storage.hpp"

namespace contex::storage {

// `uri` is a libpq connection URI (postgresql://...). Connects one pooled connection to
// check reachability and logs "PostgreSQL connection established successfully" or
// "Failed to connect to PostgreSQL"; kUnavailable when the server cannot be reached.
// Does not migrate.
Result<std::unique_ptr<Storage>> OpenPostgresStorage(const std::string& uri,
                                                     const StorageConfig& config,
                                                     obs::Logger& logger,
                                                     obs::MetricsRegistry& metrics,
                                                     const Clock& clock);

}  // namespace contex::storage
