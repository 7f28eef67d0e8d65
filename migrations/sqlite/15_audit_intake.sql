-- The audit event intake for workspace services (sqlite). Keep in step with
-- migrations/postgres/15_audit_intake.sql.
-- A record reported by a workspace service names the reporting service's
-- organization SAT (its id); null on every other record, whose canonical
-- form is then unchanged (docs/audit-format.md, version 2).
ALTER TABLE audit_events ADD COLUMN reported_by TEXT;

-- One row per event a service reported, keyed by the service's SAT and the
-- event's own id: a retry is answered from here, as the first answer was,
-- and a different body under the same id is a conflict. body_digest is the
-- SHA-256 of the event as sent: the subject token's value is never stored.
-- Written in the same transaction as the record it answers for.
CREATE TABLE audit_intake (
    reporter_id  TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    org_id       BLOB NOT NULL REFERENCES organizations(id),
    body_digest  BLOB NOT NULL,
    answer       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (reporter_id, event_id)
);
CREATE INDEX audit_intake_created_at ON audit_intake (created_at);
