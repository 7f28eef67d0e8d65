-- Kept in step with migrations/sqlite/18_audit_index_file.sql, which moves
-- SQLite's filter index to a file of its own (`store::index_file`) so that
-- its catch-up never holds the records' one write lock. PostgreSQL has
-- row locks: its `audit_index` stays where it is.
SELECT 1;
