-- SCIM (PostgreSQL). Keep in step with migrations/sqlite/2_scim.sql.
-- A SCIM User is a member: the normalized SCIM document lives beside the
-- member columns, which stay the truth for userName, active and role.

ALTER TABLE members ADD COLUMN external_id TEXT;
ALTER TABLE members ADD COLUMN scim_doc TEXT;
ALTER TABLE members ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
CREATE INDEX members_org_external_id ON members (org_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX members_org_display_name ON members (org_id, display_name);
-- Live members and groups per organization, kept with every insert and
-- delete, so that an unfiltered list's totalResults costs no count.
ALTER TABLE organizations ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN group_count BIGINT NOT NULL DEFAULT 0;
UPDATE organizations SET member_count =
    (SELECT COUNT(*) FROM members m WHERE m.org_id = organizations.id AND m.deleted_at IS NULL);
-- The default SCIM list order (by id, which is time-ordered): a page needs
-- no sort of the whole organization.
CREATE INDEX members_org_live_id ON members (org_id, id) WHERE deleted_at IS NULL;

CREATE TABLE scim_groups (
    id                UUID PRIMARY KEY,
    org_id            UUID NOT NULL REFERENCES organizations(id),
    display_name      TEXT NOT NULL,
    display_name_key  TEXT NOT NULL,
    external_id       TEXT,
    scim_doc          TEXT NOT NULL,
    version           BIGINT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX scim_groups_org_name ON scim_groups (org_id, display_name_key);
CREATE INDEX scim_groups_org_id ON scim_groups (org_id, id);
CREATE INDEX scim_groups_org_external_id ON scim_groups (org_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE scim_group_members (
    org_id       UUID NOT NULL,
    group_id     UUID NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    member_type  TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    member_id    UUID NOT NULL,
    display      TEXT,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX scim_group_members_member ON scim_group_members (member_id);

-- The search index: one row per leaf value of a resource's document, so
-- that any filter becomes indexed lookups instead of loading resources.
-- `attr` is the top-level attribute (for value paths), `path` the full
-- lowercased leaf path, `elem` the element of a multi-valued attribute.
CREATE TABLE scim_values (
    org_id         UUID NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    UUID NOT NULL,
    attr           TEXT NOT NULL,
    path           TEXT NOT NULL,
    elem           INTEGER NOT NULL,
    v_text         TEXT COLLATE "C",
    v_lower        TEXT COLLATE "C",
    v_num          DOUBLE PRECISION
);
CREATE INDEX scim_values_folded ON scim_values (org_id, resource_type, path, v_lower);
CREATE INDEX scim_values_exact ON scim_values (org_id, resource_type, path, v_text);
CREATE INDEX scim_values_number ON scim_values (org_id, resource_type, path, v_num);
CREATE INDEX scim_values_resource ON scim_values (resource_id, attr, elem);
