#include "storage/storage.hpp"

#include <filesystem>

#include "common/strings.hpp"
#include "observability/logging.hpp"
#include "storage/postgres/pg_storage.hpp"
#include "storage/sqlite/sqlite_storage.hpp"

namespace contex::storage {

Result<DatabaseTarget> ParseDatabaseUrl(const std::optional<std::string>& url,
                                        std::string_view data_dir) {
    DatabaseTarget t;
    if (!url || TrimView(*url).empty()) {
        t.backend = Backend::kSqlite;
        t.sqlite_path = (std::filesystem::path(std::string(data_dir)) / "contex.db").string();
        return t;
    }
    std::string_view u = TrimView(*url);
    auto scheme_end = u.find("://");
    if (scheme_end == std::string_view::npos) {
        return InvalidArgument(
            "DATABASE_URL must start with postgresql://, postgres:// or "
            "sqlite:///");
    }
    std::string scheme = ToLowerAscii(u.substr(0, scheme_end));
    std::string_view rest = u.substr(scheme_end + 3);
    if (scheme == "postgresql" || scheme == "postgres" || scheme == "postgresql+asyncpg" ||
        scheme == "postgres+asyncpg") {
        if (rest.empty()) return InvalidArgument("DATABASE_URL has no host or database");
        t.backend = Backend::kPostgres;
        t.postgres_uri = "postgresql://" + std::string(rest);
        return t;
    }
    if (scheme == "sqlite" || scheme == "sqlite+aiosqlite") {
        // sqlite:///relative/path, sqlite:////absolute/path, sqlite:///:memory:
        if (rest.empty() || rest.front() != '/') {
            return InvalidArgument("DATABASE_URL for SQLite must be sqlite:///<path>");
        }
        std::string_view path = rest.substr(1);
        auto q = path.find('?');
        if (q != std::string_view::npos) path = path.substr(0, q);
        if (path.empty()) return InvalidArgument("DATABASE_URL for SQLite has an empty path");
        t.backend = Backend::kSqlite;
        t.sqlite_path = std::string(path);
        return t;
    }
    return InvalidArgument("DATABASE_URL scheme '" + scheme +
                           "' is not supported (postgresql://, postgres://, "
                           "postgresql+asyncpg://, sqlite:///)");
}

std::string MaskDatabaseUrl(std::string_view url) {
    auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return std::string(url);
    auto auth_start = scheme_end + 3;
    auto at = url.find('@', auth_start);
    auto slash = url.find('/', auth_start);
    if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) {
        return std::string(url);
    }
    auto colon = url.find(':', auth_start);
    if (colon == std::string_view::npos || colon > at) return std::string(url);
    return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

Result<std::unique_ptr<Storage>> OpenStorage(const StorageConfig& config, obs::Logger& logger,
                                             obs::MetricsRegistry& metrics, const Clock& clock) {
    CONTEX_ASSIGN_OR_RETURN(DatabaseTarget target,
                            ParseDatabaseUrl(config.database_url, config.data_dir));
    std::unique_ptr<Storage> storage;
    if (target.backend == Backend::kSqlite) {
        CONTEX_ASSIGN_OR_RETURN(
            storage, OpenSqliteStorage(target.sqlite_path, config, logger, metrics, clock));
    } else {
        CONTEX_ASSIGN_OR_RETURN(
            storage, OpenPostgresStorage(target.postgres_uri, config, logger, metrics, clock));
    }
    if (config.migrate_on_start) CONTEX_TRY(storage->Migrate());
    return storage;
}

}  // namespace contex::storage
