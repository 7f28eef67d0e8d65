-- Audit Log API (PostgreSQL). Keep in step with migrations/sqlite/3_audit_api.sql.
-- Indexes for the query filters (every query is scoped to one chain and
-- pages by seq), and per-organization retention.

ALTER TABLE organizations ADD COLUMN audit_retention_days INTEGER NOT NULL DEFAULT 365;

-- The time of each chain's newest record: records never go back in time
-- along a chain, so that a time range maps to a sequence range.
ALTER TABLE audit_chain_heads ADD COLUMN last_time TIMESTAMPTZ;

CREATE INDEX audit_events_chain_action ON audit_events (chain, action, seq);
CREATE INDEX audit_events_chain_actor ON audit_events (chain, actor_id, seq);
CREATE INDEX audit_events_chain_actor_kind ON audit_events (chain, actor_kind, seq);
-- target_id is selective on its own; a second index on target_type would tempt
-- the planner away from it when both are given.
CREATE INDEX audit_events_chain_target ON audit_events (chain, target_id, seq);
CREATE INDEX audit_events_chain_workspace ON audit_events (chain, workspace_id, seq);
CREATE INDEX audit_events_chain_outcome ON audit_events (chain, outcome, seq);
CREATE INDEX audit_events_chain_time ON audit_events (chain, occurred_at, seq);
