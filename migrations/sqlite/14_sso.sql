-- Sign-in through the organization's OpenID provider (sqlite). Keep in step
-- with migrations/postgres/14_sso.sql.
-- One configuration per organization; the client secret is encrypted with
-- the key-encryption key (like signing keys), bound to the organization id.
CREATE TABLE sso_configs (
    org_id            BLOB PRIMARY KEY REFERENCES organizations(id),
    issuer            TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    secret_enc        BLOB NOT NULL,
    secret_nonce      BLOB NOT NULL,
    kek_id            TEXT NOT NULL,
    claim             TEXT NOT NULL CHECK (claim IN ('email', 'preferred_username', 'sub')),
    password_sign_in  TEXT NOT NULL CHECK (password_sign_in IN ('all', 'break_glass_only')),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
-- The states of sign-ins that came back, so that a state is used once on
-- every instance. Needed only until the state would have expired.
CREATE TABLE sso_used_states (
    state_id    BLOB PRIMARY KEY,
    org_id      BLOB NOT NULL REFERENCES organizations(id),
    expires_at  TEXT NOT NULL
);
CREATE INDEX sso_used_states_expires_at ON sso_used_states (expires_at);
-- Members who may still sign in with a password when the organization
-- allows passwords to break-glass members only (marked by the operator CLI).
CREATE TABLE break_glass_members (
    member_id   BLOB PRIMARY KEY REFERENCES members(id),
    org_id      BLOB NOT NULL REFERENCES organizations(id),
    created_at  TEXT NOT NULL
);
