-- Ended sessions (sqlite). Keep in step with the other backend's 6_ended_sessions.sql.
-- A session JWT is otherwise valid until it expires; signing out records its
-- jti here so that every instance refuses it from then on. A row is only
-- needed until the session would have expired, and is pruned after that.
CREATE TABLE ended_sessions (
    jti     BLOB PRIMARY KEY,
    org_id  BLOB NOT NULL REFERENCES organizations(id),
    ends_at TEXT NOT NULL
);
CREATE INDEX ended_sessions_ends_at ON ended_sessions (ends_at);
