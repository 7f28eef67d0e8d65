-- Foundation schema (SQLite). Keep in step with migrations/postgres/1_foundation.sql.
-- UUIDs are 16-byte BLOBs; timestamps are fixed-width UTC text (see store/timestamp.rs).

CREATE TABLE server_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE organizations (
    id                       BLOB PRIMARY KEY,
    name                     TEXT NOT NULL UNIQUE,
    max_token_lifetime_days  INTEGER,
    created_at               TEXT NOT NULL
);

CREATE TABLE workspaces (
    id          BLOB PRIMARY KEY,
    org_id      BLOB NOT NULL REFERENCES organizations(id),
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT
);
CREATE UNIQUE INDEX workspaces_live_name ON workspaces (org_id, name) WHERE deleted_at IS NULL;
CREATE INDEX workspaces_org ON workspaces (org_id, created_at);

CREATE TABLE members (
    id                  BLOB PRIMARY KEY,
    org_id              BLOB NOT NULL REFERENCES organizations(id),
    user_name           TEXT NOT NULL,
    -- userName is unique per org without regard to case (RFC 7643 caseExact=false).
    user_name_key       TEXT NOT NULL,
    display_name        TEXT,
    role                TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    active              INTEGER NOT NULL,
    password_hash       TEXT,
    -- Sessions issued before this instant are dead (set on deactivation and demotion).
    sessions_valid_from TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    deleted_at          TEXT
);
CREATE UNIQUE INDEX members_live_user_name ON members (org_id, user_name_key) WHERE deleted_at IS NULL;
CREATE INDEX members_org ON members (org_id, created_at);

CREATE TABLE tokens (
    id                       TEXT PRIMARY KEY,
    org_id                   BLOB NOT NULL REFERENCES organizations(id),
    kind                     TEXT NOT NULL CHECK (kind IN ('sat', 'pat')),
    workspace_id             BLOB REFERENCES workspaces(id),
    member_id                BLOB REFERENCES members(id),
    name                     TEXT NOT NULL,
    description              TEXT,
    permissions              TEXT NOT NULL,
    secret_hash              BLOB NOT NULL,
    pepper_version           INTEGER NOT NULL,
    previous_secret_hash     BLOB,
    previous_pepper_version  INTEGER,
    previous_valid_until     TEXT,
    allowed_cidrs            TEXT,
    created_by_kind          TEXT NOT NULL,
    created_by_id            TEXT,
    created_by_display       TEXT,
    created_at               TEXT NOT NULL,
    expires_at               TEXT,
    rotated_at               TEXT,
    revoked_at               TEXT,
    revoked_reason           TEXT,
    last_used_at             TEXT,
    last_used_ip             TEXT,
    CHECK ((kind = 'pat') = (member_id IS NOT NULL)),
    CHECK (kind = 'sat' OR workspace_id IS NULL)
);
CREATE INDEX tokens_org ON tokens (org_id, kind, created_at);
CREATE INDEX tokens_member ON tokens (member_id) WHERE member_id IS NOT NULL;
CREATE INDEX tokens_workspace ON tokens (workspace_id) WHERE workspace_id IS NOT NULL;

-- One hash chain per organization; refusals that cannot be tied to an
-- organization (an unknown token) go to the chain named 'unattributed'.
CREATE TABLE audit_chain_heads (
    chain     TEXT PRIMARY KEY,
    last_seq  INTEGER NOT NULL,
    last_hash BLOB NOT NULL
);

CREATE TABLE audit_events (
    id              BLOB PRIMARY KEY,
    chain           TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    org_id          BLOB,
    workspace_id    BLOB,
    occurred_at     TEXT NOT NULL,
    actor_kind      TEXT NOT NULL,
    actor_id        TEXT,
    actor_display   TEXT,
    action          TEXT NOT NULL,
    target_type     TEXT,
    target_id       TEXT,
    target_display  TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason          TEXT,
    http_status     INTEGER,
    request_id      TEXT,
    source_ip       TEXT,
    user_agent      TEXT,
    changes         TEXT,
    prev_hash       BLOB NOT NULL,
    hash            BLOB NOT NULL,
    UNIQUE (chain, seq)
);
CREATE INDEX audit_events_org_time ON audit_events (org_id, occurred_at);
CREATE INDEX audit_events_org_action ON audit_events (org_id, action, seq);
