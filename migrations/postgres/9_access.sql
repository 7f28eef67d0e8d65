-- Access driven by the identity provider (PostgreSQL). Keep in step with
-- migrations/sqlite/9_access.sql.

-- A member's direct workspace permissions (an admin's grant by hand), one
-- row per member and workspace, the permissions space-separated.
CREATE TABLE member_workspace_permissions (
    org_id        UUID NOT NULL REFERENCES organizations(id),
    member_id     UUID NOT NULL REFERENCES members(id),
    workspace_id  UUID NOT NULL REFERENCES workspaces(id),
    permissions   TEXT NOT NULL,
    PRIMARY KEY (member_id, workspace_id)
);

-- A SCIM group mapped to the admin role, or to permissions in one
-- workspace. Deleting the group deletes its mappings (in the same
-- transaction, by the code that deletes it, which records the change).
CREATE TABLE group_mappings (
    id            UUID PRIMARY KEY,
    org_id        UUID NOT NULL REFERENCES organizations(id),
    group_id      UUID NOT NULL,
    role          TEXT CHECK (role IN ('admin')),
    workspace_id  UUID REFERENCES workspaces(id),
    permissions   TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    CHECK ((role IS NULL) = (workspace_id IS NOT NULL)),
    CHECK ((workspace_id IS NULL) = (permissions IS NULL))
);
CREATE INDEX group_mappings_org ON group_mappings (org_id, created_at);
CREATE INDEX group_mappings_group ON group_mappings (group_id);

-- A member's effective access (direct and mapped, nothing for an inactive
-- member), kept in step with its sources in the transaction that changes
-- them, so that checking a credential reads it with the member's row.
-- NULL: never recomputed, which means the direct role and nothing else
-- (every member before this migration).
ALTER TABLE members ADD COLUMN access_role TEXT;
ALTER TABLE members ADD COLUMN access_workspaces TEXT;

-- The one workspace whose permissions a narrowed PAT may use.
ALTER TABLE tokens ADD COLUMN scope_workspace_id UUID;

-- Which permissions each token exercised, per day: counted in memory and
-- flushed in batches (never a write per request).
CREATE TABLE token_permission_usage (
    token_id      TEXT NOT NULL,
    permission    TEXT NOT NULL,
    day           TEXT NOT NULL,
    uses          BIGINT NOT NULL,
    last_used_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (token_id, permission, day)
);
