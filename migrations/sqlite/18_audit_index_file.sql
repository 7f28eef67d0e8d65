-- The Audit Log API's filter index moves to a file of its own (SQLite
-- only; `store::index_file` explains why and creates it there, attached to
-- every connection as `audit_filter`). Dropped here, the table's name
-- finds the attached one; `audit::filter_index` fills it again from the
-- records, and filtered queries read the records it does not hold yet
-- meanwhile, so nothing is missed while it does.
DROP TABLE audit_index;
