//! The CSV encoding of a record: fixed columns, RFC 4180 quoting, and a
//! guard that keeps a spreadsheet from reading a cell as a formula.

use super::event::StoredEvent;

pub const CSV_COLUMNS: [&str; 23] = [
    "id",
    "chain",
    "seq",
    "org_id",
    "workspace_id",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "actor_display",
    "action",
    "target_type",
    "target_id",
    "target_display",
    "outcome",
    "reason",
    "http_status",
    "request_id",
    "source_ip",
    "user_agent",
    "changes",
    "reported_by",
    "prev_hash",
    "hash",
];

/// The first characters that make a spreadsheet read a cell as a formula
/// (OWASP, "CSV Injection"). Audit records carry text anyone can choose
/// without a credential (a refused sign-in's user name and User-Agent), so
/// an export opened in a spreadsheet must never run it.
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One CSV cell: a would-be formula is prefixed with `'` (shown as text,
/// the value otherwise intact), then quoted when it holds a separator, a
/// quote or a line break (RFC 4180).
fn csv_field(s: &str) -> String {
    let guarded;
    let s = if s.starts_with(FORMULA_TRIGGERS) {
        guarded = format!("'{s}");
        guarded.as_str()
    } else {
        s
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The header row: the names of [`CSV_COLUMNS`].
pub fn csv_header() -> String {
    CSV_COLUMNS.join(",") + "\n"
}

/// One record as a CSV row, in the order of [`CSV_COLUMNS`].
pub fn csv_row(r: &StoredEvent) -> String {
    let v = serde_json::to_value(r).unwrap_or_default();
    let cells: Vec<String> = CSV_COLUMNS
        .iter()
        .map(|c| match &v[*c] {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => csv_field(s),
            other => csv_field(&other.to_string()),
        })
        .collect();
    cells.join(",") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn csv_cells_that_would_be_formulas_are_text() {
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("-2"), "'-2");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\tx"), "'\tx");
        assert_eq!(csv_field("\rx"), "\"'\rx\"");
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        // Only the first character matters.
        assert_eq!(csv_field("a=b"), "a=b");
        assert_eq!(csv_field(""), "");
    }
}
