-- The search index's value indexes become partial. A row now fills only
-- the value column its attribute's filters and sorts read (v_lower for
-- case-insensitive text, v_text for case-exact text, booleans and
-- date-times, v_num for numbers; see scim::index::Slot), so each row
-- enters one value index instead of three. Every filter compares that
-- column (=, <, >, LIKE...), which implies it is not null, so the planner
-- uses the partial index where it used the full one. Rows written before
-- this migration keep every column filled and are found as before.
DROP INDEX scim_values_folded;
DROP INDEX scim_values_exact;
DROP INDEX scim_values_number;
CREATE INDEX scim_values_folded ON scim_values (org_id, resource_type, path, v_lower)
    WHERE v_lower IS NOT NULL;
CREATE INDEX scim_values_exact ON scim_values (org_id, resource_type, path, v_text)
    WHERE v_text IS NOT NULL;
CREATE INDEX scim_values_number ON scim_values (org_id, resource_type, path, v_num)
    WHERE v_num IS NOT NULL;
