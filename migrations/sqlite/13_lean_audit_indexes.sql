-- The first wave's per-organization audit indexes. Every audit query is
-- scoped to a chain and served by the (chain, …, seq) indexes of migration
-- 3, so these two were written on every append and read by nothing: each
-- cost a page of write-ahead log per commit.
DROP INDEX audit_events_org_time;
DROP INDEX audit_events_org_action;
