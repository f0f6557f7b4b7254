#include "storage/migrations/migrations.hpp"

#include <array>
#include <string>

namespace contex::storage {
namespace {

// 001: the Python server's baseline tables, in their current column form, so a fresh
// database is created directly at the latest version. Names are those the runbook uses.
constexpr std::string_view kPostgres001 = R"SQL(
CREATE TABLE IF NOT EXISTS projects (
    project_id VARCHAR(255) PRIMARY KEY,
    tenant_id VARCHAR(255) NOT NULL DEFAULT 'default',
    last_sequence BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now());

CREATE TABLE IF NOT EXISTS events (
    id BIGSERIAL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    tenant_id VARCHAR(255) NULL,
    event_type TEXT NOT NULL,
    data JSONB NOT NULL,
    sequence BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    data_key TEXT,
    data_format VARCHAR(50),
    content_hash CHAR(64),
    changed BOOLEAN NOT NULL DEFAULT true);
CREATE UNIQUE INDEX IF NOT EXISTS idx_events_project_sequence ON events (project_id, sequence);
CREATE INDEX IF NOT EXISTS idx_events_project_created ON events (project_id, created_at);
CREATE INDEX IF NOT EXISTS idx_events_tenant ON events (tenant_id);

CREATE TABLE IF NOT EXISTS embeddings (
    id BIGSERIAL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    data_key TEXT NOT NULL,
    node_key TEXT NOT NULL,
    node_path TEXT,
    node_type VARCHAR(50),
    description TEXT,
    data JSONB NOT NULL,
    data_original TEXT NULL,
    data_format VARCHAR(50),
    embedding BYTEA NULL,
    model_id VARCHAR(255),
    dim INT,
    text_hash CHAR(64),
    metadata JSONB NOT NULL DEFAULT '{}',
    node_index INT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS idx_embeddings_project ON embeddings (project_id);
CREATE UNIQUE INDEX IF NOT EXISTS idx_embeddings_project_node_key ON embeddings (project_id, node_key);
CREATE INDEX IF NOT EXISTS idx_embeddings_project_data_key ON embeddings (project_id, data_key);

CREATE TABLE IF NOT EXISTS agent_registrations (
    agent_id VARCHAR(255) PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    tenant_id VARCHAR(255),
    needs TEXT[] DEFAULT '{}',
    notification_method VARCHAR(20) NOT NULL DEFAULT 'redis',
    response_format VARCHAR(20) NOT NULL DEFAULT 'json',
    notification_channel VARCHAR(255),
    webhook_url TEXT,
    webhook_secret TEXT,
    data_keys TEXT[] DEFAULT '{}',
    last_sequence VARCHAR(255) NOT NULL DEFAULT '0',
    last_seen TIMESTAMPTZ,
    data JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS idx_agent_project ON agent_registrations (project_id);
CREATE INDEX IF NOT EXISTS idx_agent_tenant ON agent_registrations (tenant_id);
CREATE INDEX IF NOT EXISTS idx_agent_last_seen ON agent_registrations (last_seen);

CREATE TABLE IF NOT EXISTS snapshots (
    id BIGSERIAL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    sequence BIGINT NOT NULL,
    data JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS idx_snapshots_project_sequence ON snapshots (project_id, sequence);

CREATE TABLE IF NOT EXISTS tenants (
    tenant_id VARCHAR(255) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    plan VARCHAR(50) NOT NULL DEFAULT 'free',
    status VARCHAR(20) NOT NULL DEFAULT 'active',
    owner_email VARCHAR(255),
    settings JSONB NOT NULL DEFAULT '{}',
    quotas JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    suspended_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS tenant_usage (
    tenant_id VARCHAR(255) PRIMARY KEY REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    events_this_month BIGINT NOT NULL DEFAULT 0,
    api_calls_this_month BIGINT NOT NULL DEFAULT 0,
    storage_bytes BIGINT NOT NULL DEFAULT 0,
    projects_count INT NOT NULL DEFAULT 0,
    agents_count INT NOT NULL DEFAULT 0,
    api_keys_count INT NOT NULL DEFAULT 0,
    period_start TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS tenant_projects (
    tenant_id VARCHAR(255) NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    project_id VARCHAR(255) PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS idx_tenant_projects_tenant ON tenant_projects (tenant_id);

CREATE TABLE IF NOT EXISTS api_keys (
    key_id VARCHAR(255) PRIMARY KEY,
    key_hash VARCHAR(255) UNIQUE NOT NULL,
    name VARCHAR(255) NOT NULL,
    prefix VARCHAR(10) NOT NULL,
    scopes TEXT[] NOT NULL DEFAULT '{}',
    tenant_id VARCHAR(255) REFERENCES tenants(tenant_id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    hash_scheme VARCHAR(20) NOT NULL DEFAULT 'hmac-sha256',
    salt_fingerprint CHAR(8),
    last_used_at TIMESTAMPTZ,
    expires_at TIMESTAMPTZ,
    created_by VARCHAR(255));
CREATE INDEX IF NOT EXISTS idx_api_keys_hash ON api_keys (key_hash);
CREATE TABLE IF NOT EXISTS api_key_roles (
    key_id VARCHAR(255) PRIMARY KEY REFERENCES api_keys(key_id) ON DELETE CASCADE,
    role VARCHAR(50) NOT NULL DEFAULT 'readonly',
    projects TEXT[] NOT NULL DEFAULT '{}');

CREATE TABLE IF NOT EXISTS audit_events (
    event_id UUID PRIMARY KEY,
    "timestamp" TIMESTAMPTZ NOT NULL DEFAULT now(),
    event_type VARCHAR(100) NOT NULL,
    severity VARCHAR(20) NOT NULL DEFAULT 'info',
    actor_id VARCHAR(255),
    actor_type VARCHAR(50),
    actor_ip VARCHAR(50),
    actor_user_agent TEXT,
    tenant_id VARCHAR(255),
    project_id VARCHAR(255),
    resource_type VARCHAR(50),
    resource_id VARCHAR(255),
    action TEXT NOT NULL,
    details JSONB NOT NULL DEFAULT '{}',
    result VARCHAR(20) NOT NULL DEFAULT 'success',
    request_id VARCHAR(255),
    endpoint VARCHAR(512),
    method VARCHAR(10),
    before_state JSONB,
    after_state JSONB);
CREATE INDEX IF NOT EXISTS idx_audit_tenant ON audit_events (tenant_id);
CREATE INDEX IF NOT EXISTS idx_audit_actor ON audit_events (actor_id);
CREATE INDEX IF NOT EXISTS idx_audit_type ON audit_events (event_type);
CREATE INDEX IF NOT EXISTS idx_audit_timestamp ON audit_events ("timestamp");
CREATE INDEX IF NOT EXISTS idx_audit_actor_timestamp ON audit_events (actor_id, "timestamp" DESC);

CREATE TABLE IF NOT EXISTS rate_limit_entries (
    id BIGSERIAL PRIMARY KEY,
    rate_key VARCHAR(512) NOT NULL,
    "timestamp" DOUBLE PRECISION NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS idx_rate_limit_entries_key_ts ON rate_limit_entries (rate_key, "timestamp");

CREATE TABLE IF NOT EXISTS service_accounts (
    account_id VARCHAR(255) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    tenant_id VARCHAR(255) REFERENCES tenants(tenant_id) ON DELETE SET NULL,
    role VARCHAR(50) NOT NULL DEFAULT 'readonly',
    allowed_projects TEXT[] NOT NULL DEFAULT '{}',
    is_active BOOLEAN NOT NULL DEFAULT true,
    created_by VARCHAR(255),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS service_account_keys (
    key_id VARCHAR(255) PRIMARY KEY,
    account_id VARCHAR(255) NOT NULL REFERENCES service_accounts(account_id) ON DELETE CASCADE,
    key_hash VARCHAR(255) UNIQUE NOT NULL,
    prefix VARCHAR(10) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ);
CREATE INDEX IF NOT EXISTS idx_service_account_keys_account ON service_account_keys (account_id);

CREATE TABLE IF NOT EXISTS webhook_endpoints (
    endpoint_id VARCHAR(255) PRIMARY KEY,
    tenant_id VARCHAR(255),
    project_id VARCHAR(255),
    url TEXT NOT NULL,
    secret TEXT,
    events TEXT[] NOT NULL DEFAULT '{}',
    is_active BOOLEAN NOT NULL DEFAULT true,
    description TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS idx_webhook_endpoints_project ON webhook_endpoints (project_id);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    delivery_id VARCHAR(64) PRIMARY KEY,
    endpoint_id VARCHAR(255) NOT NULL REFERENCES webhook_endpoints(endpoint_id) ON DELETE CASCADE,
    event_type VARCHAR(100) NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'pending',
    attempts INT NOT NULL DEFAULT 0,
    last_attempt_at TIMESTAMPTZ,
    response_status INT,
    response_body TEXT,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    payload JSONB,
    next_attempt_at TIMESTAMPTZ,
    locked_until TIMESTAMPTZ);
CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id);
CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'retrying');
)SQL";

// 002: this product's additions. On a fresh database the ALTERs are no-ops; on a
// Python-server database they add the new columns and backfill (operations.md §2.3).
// 002 runs in three parts (see PostgresMigration002()): the column changes below on
// whichever Python-server tables exist, then the 001 DDL again (creates any baseline table a
// Python database lacks; a no-op on a fresh one), then kPostgres002Tail (backfills and the
// new tables).
constexpr std::string_view kPostgres002Head = R"SQL(
ALTER TABLE IF EXISTS projects ADD COLUMN IF NOT EXISTS last_sequence BIGINT NOT NULL DEFAULT 0;
ALTER TABLE IF EXISTS events ALTER COLUMN event_type TYPE TEXT;
ALTER TABLE IF EXISTS events ADD COLUMN IF NOT EXISTS data_key TEXT;
ALTER TABLE IF EXISTS events ADD COLUMN IF NOT EXISTS data_format VARCHAR(50);
ALTER TABLE IF EXISTS events ADD COLUMN IF NOT EXISTS content_hash CHAR(64);
ALTER TABLE IF EXISTS events ADD COLUMN IF NOT EXISTS changed BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE IF EXISTS embeddings ALTER COLUMN data_key TYPE TEXT;
ALTER TABLE IF EXISTS embeddings ALTER COLUMN node_key TYPE TEXT;
ALTER TABLE IF EXISTS embeddings ADD COLUMN IF NOT EXISTS model_id VARCHAR(255);
ALTER TABLE IF EXISTS embeddings ADD COLUMN IF NOT EXISTS dim INT;
ALTER TABLE IF EXISTS embeddings ADD COLUMN IF NOT EXISTS text_hash CHAR(64);
ALTER TABLE IF EXISTS embeddings ADD COLUMN IF NOT EXISTS metadata JSONB NOT NULL DEFAULT '{}';
ALTER TABLE IF EXISTS embeddings ADD COLUMN IF NOT EXISTS node_index INT NOT NULL DEFAULT 0;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns
             WHERE table_name = 'embeddings' AND column_name = 'embedding'
               AND udt_name = 'vector') THEN
    ALTER TABLE embeddings RENAME COLUMN embedding TO embedding_pgvector;
  END IF;
END $$;
ALTER TABLE IF EXISTS embeddings ADD COLUMN IF NOT EXISTS embedding BYTEA NULL;
ALTER TABLE IF EXISTS agent_registrations ADD COLUMN IF NOT EXISTS data_keys TEXT[] DEFAULT '{}';
ALTER TABLE IF EXISTS agent_registrations ADD COLUMN IF NOT EXISTS last_seen TIMESTAMPTZ;
ALTER TABLE IF EXISTS agent_registrations ADD COLUMN IF NOT EXISTS data JSONB NOT NULL DEFAULT '{}';
ALTER TABLE IF EXISTS api_keys ADD COLUMN IF NOT EXISTS hash_scheme VARCHAR(20) NOT NULL DEFAULT 'hmac-sha256';
ALTER TABLE IF EXISTS api_keys ADD COLUMN IF NOT EXISTS salt_fingerprint CHAR(8);
ALTER TABLE IF EXISTS api_keys ADD COLUMN IF NOT EXISTS last_used_at TIMESTAMPTZ;
ALTER TABLE IF EXISTS api_keys ADD COLUMN IF NOT EXISTS expires_at TIMESTAMPTZ;
ALTER TABLE IF EXISTS api_keys ADD COLUMN IF NOT EXISTS created_by VARCHAR(255);
ALTER TABLE IF EXISTS webhook_deliveries ADD COLUMN IF NOT EXISTS payload JSONB;
ALTER TABLE IF EXISTS webhook_deliveries ADD COLUMN IF NOT EXISTS next_attempt_at TIMESTAMPTZ;
ALTER TABLE IF EXISTS webhook_deliveries ADD COLUMN IF NOT EXISTS locked_until TIMESTAMPTZ;
)SQL";

constexpr std::string_view kPostgres002Tail = R"SQL(
ALTER TABLE projects ADD COLUMN IF NOT EXISTS rebuild_required BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS idx_events_project_data_key ON events (project_id, data_key, sequence);

UPDATE events SET data_key = (SELECT k FROM jsonb_object_keys(data) AS k LIMIT 1)
 WHERE data_key IS NULL AND jsonb_typeof(data) = 'object'
   AND (SELECT count(*) FROM jsonb_object_keys(data)) = 1;
-- Every project with events predates this schema: its nodes must be rebuilt from the newest
-- event of each data key (a fresh database has no events here).
INSERT INTO projects (project_id, last_sequence, rebuild_required)
  SELECT project_id, max(sequence), true FROM events GROUP BY project_id
ON CONFLICT (project_id) DO UPDATE
  SET last_sequence = GREATEST(projects.last_sequence, EXCLUDED.last_sequence),
      rebuild_required = true;

CREATE TABLE IF NOT EXISTS data_keys (
    project_id VARCHAR(255) NOT NULL,
    data_key TEXT NOT NULL,
    data_format VARCHAR(50) NOT NULL,
    content_hash CHAR(64) NOT NULL,
    data_original JSONB NOT NULL,
    node_count INT NOT NULL,
    sequence BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, data_key));

CREATE TABLE IF NOT EXISTS agent_needs (
    agent_id VARCHAR(255) NOT NULL REFERENCES agent_registrations(agent_id) ON DELETE CASCADE,
    need_index INT NOT NULL,
    need TEXT NOT NULL,
    embedding BYTEA,
    model_id VARCHAR(255),
    PRIMARY KEY (agent_id, need_index));

CREATE TABLE IF NOT EXISTS agent_matches (
    agent_id VARCHAR(255) NOT NULL REFERENCES agent_registrations(agent_id) ON DELETE CASCADE,
    project_id VARCHAR(255) NOT NULL,
    need_index INT NOT NULL,
    node_key TEXT NOT NULL,
    data_key TEXT NOT NULL,
    similarity REAL,
    keyword_score REAL,
    PRIMARY KEY (agent_id, need_index, node_key));
CREATE INDEX IF NOT EXISTS idx_agent_matches_project ON agent_matches (project_id);

CREATE TABLE IF NOT EXISTS agent_notifications (
    id BIGSERIAL PRIMARY KEY,
    message_id VARCHAR(64) UNIQUE NOT NULL,
    agent_id VARCHAR(255) NOT NULL REFERENCES agent_registrations(agent_id) ON DELETE CASCADE,
    project_id VARCHAR(255) NOT NULL,
    sequence BIGINT NOT NULL,
    type VARCHAR(32) NOT NULL,
    payload JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivery_status VARCHAR(20) NULL,
    attempts INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    locked_until TIMESTAMPTZ,
    last_status_code INT,
    last_error TEXT,
    delivered_at TIMESTAMPTZ);
CREATE INDEX IF NOT EXISTS idx_agent_notifications_agent_seq ON agent_notifications (agent_id, sequence, id);
CREATE INDEX IF NOT EXISTS idx_agent_notifications_due ON agent_notifications (next_attempt_at)
    WHERE delivery_status = 'pending';
CREATE INDEX IF NOT EXISTS idx_agent_notifications_leased ON agent_notifications (locked_until)
    WHERE delivery_status = 'delivering';

CREATE TABLE IF NOT EXISTS rate_limit_counters (
    rate_key VARCHAR(512) NOT NULL,
    window_start BIGINT NOT NULL,
    count INT NOT NULL,
    PRIMARY KEY (rate_key, window_start));

CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope VARCHAR(255) NOT NULL,
    idem_key VARCHAR(255) NOT NULL,
    request_hash CHAR(64) NOT NULL,
    state VARCHAR(20) NOT NULL,
    status_code INT,
    response_headers JSONB,
    response_body BYTEA,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ,
    PRIMARY KEY (scope, idem_key));
CREATE INDEX IF NOT EXISTS idx_idempotency_expires ON idempotency_keys (expires_at);
)SQL";

#define CONTEX_SQLITE_NOW "(strftime('%Y-%m-%dT%H:%M:%f000+00:00','now'))"

constexpr std::string_view kSqlite001 = R"SQL(
CREATE TABLE IF NOT EXISTS projects (
    project_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL DEFAULT 'default',
    last_sequence INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL(,
    updated_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL();

CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id TEXT NOT NULL,
    tenant_id TEXT NULL,
    event_type TEXT NOT NULL,
    data TEXT NOT NULL CHECK (json_valid(data)),
    sequence INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    data_key TEXT,
    data_format TEXT,
    content_hash TEXT,
    changed INTEGER NOT NULL DEFAULT 1);
CREATE UNIQUE INDEX IF NOT EXISTS idx_events_project_sequence ON events (project_id, sequence);
CREATE INDEX IF NOT EXISTS idx_events_project_created ON events (project_id, created_at);
CREATE INDEX IF NOT EXISTS idx_events_tenant ON events (tenant_id);

CREATE TABLE IF NOT EXISTS embeddings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id TEXT NOT NULL,
    data_key TEXT NOT NULL,
    node_key TEXT NOT NULL,
    node_path TEXT,
    node_type TEXT,
    description TEXT,
    data TEXT NOT NULL CHECK (json_valid(data)),
    data_original TEXT NULL,
    data_format TEXT,
    embedding BLOB NULL,
    model_id TEXT,
    dim INTEGER,
    text_hash TEXT,
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    node_index INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_embeddings_project ON embeddings (project_id);
CREATE UNIQUE INDEX IF NOT EXISTS idx_embeddings_project_node_key ON embeddings (project_id, node_key);
CREATE INDEX IF NOT EXISTS idx_embeddings_project_data_key ON embeddings (project_id, data_key);

CREATE TABLE IF NOT EXISTS agent_registrations (
    agent_id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    tenant_id TEXT,
    needs TEXT DEFAULT '[]' CHECK (json_valid(needs)),
    notification_method TEXT NOT NULL DEFAULT 'redis',
    response_format TEXT NOT NULL DEFAULT 'json',
    notification_channel TEXT,
    webhook_url TEXT,
    webhook_secret TEXT,
    data_keys TEXT DEFAULT '[]' CHECK (json_valid(data_keys)),
    last_sequence TEXT NOT NULL DEFAULT '0',
    last_seen TEXT,
    data TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_agent_project ON agent_registrations (project_id);
CREATE INDEX IF NOT EXISTS idx_agent_tenant ON agent_registrations (tenant_id);
CREATE INDEX IF NOT EXISTS idx_agent_last_seen ON agent_registrations (last_seen);

CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    data TEXT NOT NULL CHECK (json_valid(data)),
    created_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL();
CREATE INDEX IF NOT EXISTS idx_snapshots_project_sequence ON snapshots (project_id, sequence);

CREATE TABLE IF NOT EXISTS tenants (
    tenant_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    plan TEXT NOT NULL DEFAULT 'free',
    status TEXT NOT NULL DEFAULT 'active',
    owner_email TEXT,
    settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    quotas TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(quotas)),
    created_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL(,
    updated_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL(,
    suspended_at TEXT);
CREATE TABLE IF NOT EXISTS tenant_usage (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    events_this_month INTEGER NOT NULL DEFAULT 0,
    api_calls_this_month INTEGER NOT NULL DEFAULT 0,
    storage_bytes INTEGER NOT NULL DEFAULT 0,
    projects_count INTEGER NOT NULL DEFAULT 0,
    agents_count INTEGER NOT NULL DEFAULT 0,
    api_keys_count INTEGER NOT NULL DEFAULT 0,
    period_start TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL(,
    updated_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL();
CREATE TABLE IF NOT EXISTS tenant_projects (
    tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    project_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL();
CREATE INDEX IF NOT EXISTS idx_tenant_projects_tenant ON tenant_projects (tenant_id);

CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    key_hash TEXT UNIQUE NOT NULL,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(scopes)),
    tenant_id TEXT REFERENCES tenants(tenant_id) ON DELETE SET NULL,
    created_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL(,
    hash_scheme TEXT NOT NULL DEFAULT 'hmac-sha256',
    salt_fingerprint TEXT,
    last_used_at TEXT,
    expires_at TEXT,
    created_by TEXT);
CREATE INDEX IF NOT EXISTS idx_api_keys_hash ON api_keys (key_hash);
CREATE TABLE IF NOT EXISTS api_key_roles (
    key_id TEXT PRIMARY KEY REFERENCES api_keys(key_id) ON DELETE CASCADE,
    role TEXT NOT NULL DEFAULT 'readonly',
    projects TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(projects)));

CREATE TABLE IF NOT EXISTS audit_events (
    event_id TEXT PRIMARY KEY,
    "timestamp" TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL(,
    event_type TEXT NOT NULL,
    severity TEXT NOT NULL DEFAULT 'info',
    actor_id TEXT,
    actor_type TEXT,
    actor_ip TEXT,
    actor_user_agent TEXT,
    tenant_id TEXT,
    project_id TEXT,
    resource_type TEXT,
    resource_id TEXT,
    action TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    result TEXT NOT NULL DEFAULT 'success',
    request_id TEXT,
    endpoint TEXT,
    method TEXT,
    before_state TEXT CHECK (before_state IS NULL OR json_valid(before_state)),
    after_state TEXT CHECK (after_state IS NULL OR json_valid(after_state)));
CREATE INDEX IF NOT EXISTS idx_audit_tenant ON audit_events (tenant_id);
CREATE INDEX IF NOT EXISTS idx_audit_actor ON audit_events (actor_id);
CREATE INDEX IF NOT EXISTS idx_audit_type ON audit_events (event_type);
CREATE INDEX IF NOT EXISTS idx_audit_timestamp ON audit_events ("timestamp");
CREATE INDEX IF NOT EXISTS idx_audit_actor_timestamp ON audit_events (actor_id, "timestamp" DESC);

CREATE TABLE IF NOT EXISTS rate_limit_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rate_key TEXT NOT NULL,
    "timestamp" REAL NOT NULL,
    created_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL();
CREATE INDEX IF NOT EXISTS idx_rate_limit_entries_key_ts ON rate_limit_entries (rate_key, "timestamp");

CREATE TABLE IF NOT EXISTS service_accounts (
    account_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    tenant_id TEXT REFERENCES tenants(tenant_id) ON DELETE SET NULL,
    role TEXT NOT NULL DEFAULT 'readonly',
    allowed_projects TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(allowed_projects)),
    is_active INTEGER NOT NULL DEFAULT 1,
    created_by TEXT,
    created_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL(,
    updated_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL(,
    last_used_at TEXT);
CREATE TABLE IF NOT EXISTS service_account_keys (
    key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES service_accounts(account_id) ON DELETE CASCADE,
    key_hash TEXT UNIQUE NOT NULL,
    prefix TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL(,
    expires_at TEXT,
    last_used_at TEXT,
    revoked_at TEXT);
CREATE INDEX IF NOT EXISTS idx_service_account_keys_account ON service_account_keys (account_id);

CREATE TABLE IF NOT EXISTS webhook_endpoints (
    endpoint_id TEXT PRIMARY KEY,
    tenant_id TEXT,
    project_id TEXT,
    url TEXT NOT NULL,
    secret TEXT,
    events TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(events)),
    is_active INTEGER NOT NULL DEFAULT 1,
    description TEXT,
    created_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL(,
    updated_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL();
CREATE INDEX IF NOT EXISTS idx_webhook_endpoints_project ON webhook_endpoints (project_id);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(endpoint_id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_at TEXT,
    response_status INTEGER,
    response_body TEXT,
    error TEXT,
    created_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL(,
    payload TEXT CHECK (payload IS NULL OR json_valid(payload)),
    next_attempt_at TEXT,
    locked_until TEXT);
CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id);
CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'retrying');
)SQL";

constexpr std::string_view kSqlite002 = R"SQL(
ALTER TABLE projects ADD COLUMN rebuild_required INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS idx_events_project_data_key ON events (project_id, data_key, sequence);

CREATE TABLE IF NOT EXISTS data_keys (
    project_id TEXT NOT NULL,
    data_key TEXT NOT NULL,
    data_format TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    data_original TEXT NOT NULL CHECK (json_valid(data_original)),
    node_count INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (project_id, data_key));

CREATE TABLE IF NOT EXISTS agent_needs (
    agent_id TEXT NOT NULL REFERENCES agent_registrations(agent_id) ON DELETE CASCADE,
    need_index INTEGER NOT NULL,
    need TEXT NOT NULL,
    embedding BLOB,
    model_id TEXT,
    PRIMARY KEY (agent_id, need_index));

CREATE TABLE IF NOT EXISTS agent_matches (
    agent_id TEXT NOT NULL REFERENCES agent_registrations(agent_id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    need_index INTEGER NOT NULL,
    node_key TEXT NOT NULL,
    data_key TEXT NOT NULL,
    similarity REAL,
    keyword_score REAL,
    PRIMARY KEY (agent_id, need_index, node_key));
CREATE INDEX IF NOT EXISTS idx_agent_matches_project ON agent_matches (project_id);

CREATE TABLE IF NOT EXISTS agent_notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT UNIQUE NOT NULL,
    agent_id TEXT NOT NULL REFERENCES agent_registrations(agent_id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL CHECK (json_valid(payload)),
    created_at TEXT NOT NULL,
    delivery_status TEXT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    locked_until TEXT,
    last_status_code INTEGER,
    last_error TEXT,
    delivered_at TEXT);
CREATE INDEX IF NOT EXISTS idx_agent_notifications_agent_seq ON agent_notifications (agent_id, sequence, id);
CREATE INDEX IF NOT EXISTS idx_agent_notifications_due ON agent_notifications (next_attempt_at)
    WHERE delivery_status = 'pending';
CREATE INDEX IF NOT EXISTS idx_agent_notifications_leased ON agent_notifications (locked_until)
    WHERE delivery_status = 'delivering';

CREATE TABLE IF NOT EXISTS rate_limit_counters (
    rate_key TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (rate_key, window_start));

CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    status_code INTEGER,
    response_headers TEXT CHECK (response_headers IS NULL OR json_valid(response_headers)),
    response_body BLOB,
    created_at TEXT NOT NULL DEFAULT )SQL" CONTEX_SQLITE_NOW R"SQL(,
    expires_at TEXT,
    PRIMARY KEY (scope, idem_key));
CREATE INDEX IF NOT EXISTS idx_idempotency_expires ON idempotency_keys (expires_at);
)SQL";

#undef CONTEX_SQLITE_NOW

const std::string& PostgresMigration002() {
    static const std::string sql =
        std::string(kPostgres002Head) + std::string(kPostgres001) + std::string(kPostgres002Tail);
    return sql;
}

}  // namespace

std::span<const Migration> AllMigrations() {
    static const std::array<Migration, 2> migrations{{
        {"001", "baseline schema (Python server tables)", kPostgres001, kSqlite001},
        {"002",
         "data keys, agent needs/matches/notifications, idempotency, rate-limit counters, "
         "rebuild flag",
         PostgresMigration002(), kSqlite002},
    }};
    return migrations;
}

std::string_view LatestSchemaVersion() { return AllMigrations().back().version; }

}  // namespace contex::storage
