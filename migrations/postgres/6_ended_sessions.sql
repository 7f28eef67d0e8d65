-- Ended sessions (postgres). Keep in step with the other backend's 6_ended_sessions.sql.
-- A session JWT is otherwise valid until it expires; signing out records its
-- jti here so that every instance refuses it from then on. A row is only
-- needed until the session would have expired, and is pruned after that.
CREATE TABLE ended_sessions (
    jti     UUID PRIMARY KEY,
    org_id  UUID NOT NULL REFERENCES organizations(id),
    ends_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ended_sessions_ends_at ON ended_sessions (ends_at);
