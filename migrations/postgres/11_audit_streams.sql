-- Audit streams (PostgreSQL). Keep in step with migrations/sqlite/11_audit_streams.sql.

-- A stream POSTs an organization's new audit records to a SIEM. cursor_seq
-- is the last record of the chain the stream is done with (delivered, or
-- left out by its filter): delivery resumes after it, on any instance.
-- The lease says which instance delivers: one at a time, until it expires.
CREATE TABLE audit_streams (
    id                  UUID PRIMARY KEY,
    org_id              UUID NOT NULL REFERENCES organizations(id),
    url                 TEXT NOT NULL,
    format              TEXT NOT NULL,
    filter_action       TEXT,
    filter_outcome      TEXT,
    enabled             BOOLEAN NOT NULL,
    -- XChaCha20-Poly1305 of the signing secret under the key-encryption key
    -- named by secret_kek_id, with the stream id as associated data.
    secret_enc          BYTEA NOT NULL,
    secret_nonce        BYTEA NOT NULL,
    secret_kek_id       TEXT NOT NULL,
    cursor_seq          BIGINT NOT NULL,
    last_delivered_seq  BIGINT,
    last_delivered_at   TIMESTAMPTZ,
    last_attempt_at     TIMESTAMPTZ,
    last_error          TEXT,
    failures            BIGINT NOT NULL,
    lease_owner         TEXT,
    lease_expires_at    TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

CREATE INDEX audit_streams_org ON audit_streams (org_id);
