//! The secret-redaction rules of audit records: what a record may never
//! hold, whoever wrote it. scimitar's own records are built from names and
//! ids (never a value), but text that comes from outside (a workspace
//! service's `changes`, a target's display name) is checked here before it
//! is hashed into a chain, where nothing can be taken out again.
//!
//! A value is withheld (replaced with [`REDACTED`]) when
//! - its member's name says it is a secret (`password`, `secret`, `token`,
//!   `api_key`, `authorization`, `credential`, `private_key`, `cookie`,
//!   `passphrase`, as a word of the name: `client_secret`, `X-Api-Key`),
//!   unless the name says it is only a reference (`…_id`, `…_ids`,
//!   `…_name`, `…_type`, `…_count`, `…_at`);
//! - or the text itself looks like a credential: one of our tokens
//!   (`scim_sat_…`, `scim_pat_…`), a JWT or other compact JWS (`eyJ…` in
//!   three dot-separated parts), an `Authorization` value (`Bearer …`,
//!   `Basic …`) or a PEM private key.

use serde_json::Value;

/// What a withheld value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Words that make a member's value a secret.
const SECRET_WORDS: [&str; 10] = [
    "password",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api_key",
    "authorization",
    "credential",
    "private_key",
    "cookie",
];

/// Name endings that make a member a reference to a secret, not one.
const REFERENCE_ENDINGS: [&str; 6] = ["_id", "_ids", "_name", "_type", "_count", "_at"];

/// Whether a member named `name` holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let name: String = name
        .chars()
        .map(|c| match c {
            '-' | ' ' | '.' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    if REFERENCE_ENDINGS.iter().any(|e| name.ends_with(e)) {
        return false;
    }
    SECRET_WORDS.iter().any(|w| name.contains(w))
}

/// Whether `text` looks like a credential, whatever it is called.
pub fn looks_like_secret(text: &str) -> bool {
    if text.contains("scim_sat_") || text.contains("scim_pat_") {
        return true;
    }
    if text.contains("-----BEGIN") && text.contains("PRIVATE KEY") {
        return true;
    }
    let lower = text.trim_start().to_ascii_lowercase();
    if lower.starts_with("bearer ") || lower.starts_with("basic ") {
        return true;
    }
    text.split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '=' | ':'))
        .any(is_compact_jws)
}

/// `eyJ…` (a base64url JSON object) in three dot-separated base64url parts.
fn is_compact_jws(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[1].len() >= 4
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Withholds the secrets of `value` in place, and returns the paths
/// (`changes.config.api_key`, `changes.headers[0]`) of what it withheld.
pub fn redact(value: &mut Value, path: &str) -> Vec<String> {
    let mut withheld = Vec::new();
    walk(value, path, &mut withheld);
    withheld
}

fn walk(value: &mut Value, path: &str, withheld: &mut Vec<String>) {
    match value {
        Value::String(s) if looks_like_secret(s) => {
            *value = Value::String(REDACTED.into());
            withheld.push(path.to_string());
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{path}[{i}]"), withheld);
            }
        }
        Value::Object(members) => {
            for (name, member) in members.iter_mut() {
                let here = format!("{path}.{name}");
                let empty = member.is_null() || member.as_str().is_some_and(str::is_empty);
                if is_secret_name(name) && !empty {
                    *member = Value::String(REDACTED.into());
                    withheld.push(here);
                } else {
                    walk(member, &here, withheld);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names_are_withheld_and_references_kept() {
        let mut v = json!({
            "name": "etl",
            "client_secret": "abc",
            "X-Api-Key": "k",
            "config": {"password": "p", "token_id": "AbC", "secret_name": "db"},
            "tokens": ["x"],
            "authorization": null,
        });
        let paths = redact(&mut v, "changes");
        assert_eq!(v["name"], "etl");
        assert_eq!(v["client_secret"], REDACTED);
        assert_eq!(v["X-Api-Key"], REDACTED);
        assert_eq!(v["config"]["password"], REDACTED);
        assert_eq!(v["config"]["token_id"], "AbC");
        assert_eq!(v["config"]["secret_name"], "db");
        assert_eq!(v["tokens"], REDACTED);
        assert!(v["authorization"].is_null());
        assert_eq!(paths.len(), 4, "{paths:?}");
        assert!(paths.contains(&"changes.config.password".to_string()));
    }

    #[test]
    fn credential_shaped_text_is_withheld_anywhere() {
        let sat = format!("scim_sat_{}", "A".repeat(60));
        let jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let mut v = json!({
            "note": format!("used {sat} today"),
            "list": ["fine", jwt],
            "header": "Bearer abc",
            "body": "-----BEGIN PRIVATE KEY-----\nMII...",
            "version": "1.2.3",
            "email": "a.b@example.com",
        });
        let paths = redact(&mut v, "changes");
        assert_eq!(v["note"], REDACTED);
        assert_eq!(v["list"][0], "fine");
        assert_eq!(v["list"][1], REDACTED);
        assert_eq!(v["header"], REDACTED);
        assert_eq!(v["body"], REDACTED);
        assert_eq!(v["version"], "1.2.3");
        assert_eq!(v["email"], "a.b@example.com");
        assert!(paths.contains(&"changes.list[1]".to_string()));
        assert!(!looks_like_secret("transformation 42"));
    }
}
