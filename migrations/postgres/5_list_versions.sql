-- List versions (postgres). Keep in step with the other backend's 5_list_versions.sql.
-- Every insert or delete of a member or group moves its organization's
-- version, so that a cache of row positions in the unfiltered list (the page
-- anchors that let a deep SCIM page skip most of its OFFSET) can tell, with
-- the same read that fetches the count, whether it still holds. In the
-- database rather than in memory, so that every instance sees every change.
ALTER TABLE organizations ADD COLUMN member_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN group_version BIGINT NOT NULL DEFAULT 0;
