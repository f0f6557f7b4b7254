// Schema migrations embedded in the binary (operations.md §2.2, §2.3). Ordered; each one
// is idempotent DDL (IF NOT EXISTS) applied in one transaction. The applied version is the
// single row of `alembic_version`; `schema_migrations` keeps the history (version,
// description, applied_at).
#pragma once

#include <span>
#include <string_view>

namespace contex::storage {

struct Migration {
    std::string_view version;  // "001", "002", ... (zero-padded: compare as strings)
    std::string_view description;
    std::string_view postgres_sql;  // statements separated by ';' (one multi-statement exec)
    std::string_view sqlite_sql;
};

// Every migration, oldest first. Static data.
std::span<const Migration> AllMigrations();
// The version of the last migration (what a fresh database ends at).
std::string_view LatestSchemaVersion();

}  // namespace contex::storage
