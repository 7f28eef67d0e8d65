-- The Audit Log API's filter index, moved off the write path. Keep in step
-- with migrations/sqlite/17_audit_filter_index.sql.
--
-- The seven (chain, …, seq) indexes of migration 3 were written by every
-- append: on SQLite a commit of four records wrote about nineteen pages of
-- WAL where the records alone take five, and that commit is most of what a
-- read costs (every read is recorded before it is answered). The filter
-- columns now live in this table, which `audit::filter_index` fills from
-- the records in batches ten times a second. A filtered query reads the
-- indexed part of a chain here and the short unindexed tail from the
-- records themselves, so nothing is missed while the index catches up.
-- Its rows are derived: the records stay the only source of truth, and the
-- table can be emptied and rebuilt from them at any time.
CREATE TABLE audit_index (
    chain        TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL,
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT,
    action       TEXT NOT NULL,
    target_type  TEXT,
    target_id    TEXT,
    workspace_id UUID,
    outcome      TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);

INSERT INTO audit_index (chain, seq, occurred_at, actor_kind, actor_id, action, target_type,
                         target_id, workspace_id, outcome)
SELECT chain, seq, occurred_at, actor_kind, actor_id, action, target_type, target_id,
       workspace_id, outcome
FROM audit_events;

CREATE INDEX audit_index_action ON audit_index (chain, action, seq);
CREATE INDEX audit_index_actor ON audit_index (chain, actor_id, seq);
CREATE INDEX audit_index_actor_kind ON audit_index (chain, actor_kind, seq);
-- target_id is selective on its own; a second index on target_type would tempt
-- the planner away from it when both are given.
CREATE INDEX audit_index_target ON audit_index (chain, target_id, seq);
CREATE INDEX audit_index_workspace ON audit_index (chain, workspace_id, seq);
CREATE INDEX audit_index_outcome ON audit_index (chain, outcome, seq);
CREATE INDEX audit_index_time ON audit_index (chain, occurred_at, seq);

DROP INDEX audit_events_chain_action;
DROP INDEX audit_events_chain_actor;
DROP INDEX audit_events_chain_actor_kind;
DROP INDEX audit_events_chain_target;
DROP INDEX audit_events_chain_workspace;
DROP INDEX audit_events_chain_outcome;
DROP INDEX audit_events_chain_time;
