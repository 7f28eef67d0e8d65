//! What the suite leaves behind for `tests/secret_grep.sh`, which checks
//! that no token value or password the tests issued or used ever reached a
//! log line or an audit record. In `$SCIMITAR_TEST_LOG_DIR` (default
//! `target/tmp/test-logs`), per test process:
//!
//! - `server-<pid>.jsonl`: every log line of the in-process servers (one
//!   global `tracing` subscriber, JSON, debug level: more than production
//!   logs at its default `info`);
//! - `cli-<pid>.log`: the stderr of every `scimitar` command the tests ran;
//! - `audit-<pid>-<n>.jsonl`: every audit record of each test database,
//!   dumped when its `TestApp` is dropped;
//! - `secrets-<pid>.txt`: every secret seen: token values and session JWTs
//!   in responses and CLI output, passwords in requests, the bootstrap
//!   password, configured peppers and key-encryption keys;
//! - `canaries-<pid>.txt`: values planted on purpose in a log line and an
//!   audit record (the positive control: the grep must find them).
//!
//! The helpers in `support` feed the registry; tests need not call it.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

/// Where the captured files go.
pub fn dir() -> PathBuf {
    match std::env::var_os("SCIMITAR_TEST_LOG_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-logs"),
    }
}

fn file(name: &str) -> PathBuf {
    dir().join(format!("{name}-{}", std::process::id()))
}

/// Installs the log capture once per process.
pub fn init() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let _ = std::fs::create_dir_all(dir());
        let Ok(log) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file("server").with_extension("jsonl"))
        else {
            return;
        };
        // Debug for everything that handles requests; the HTTP client's
        // own internals (this process also runs reqwest) stay at info.
        let filter = tracing_subscriber::EnvFilter::try_from_env("SCIMITAR_TEST_LOG")
            .unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    "debug,hyper=info,hyper_util=info,reqwest=info,h2=info,sqlx=info",
                )
            });
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(Mutex::new(log))
            .try_init();
        note_secret(crate::support::MEMBER_PASSWORD);
    });
}

fn append(path: PathBuf, text: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

/// Records a secret to look for. Short strings are skipped: they would
/// match innocent text (and no real secret of ours is that short).
pub fn note_secret(secret: &str) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    if secret.len() < 12 || secret.contains('\n') {
        return;
    }
    let seen = SEEN.get_or_init(Default::default);
    if seen.lock().unwrap().insert(secret.to_string()) {
        let _ = std::fs::create_dir_all(dir());
        append(
            file("secrets").with_extension("txt"),
            &format!("{secret}\n"),
        );
    }
}

/// Records a value planted on purpose, which the grep must find.
pub fn note_canary(canary: &str) {
    let _ = std::fs::create_dir_all(dir());
    append(
        file("canaries").with_extension("txt"),
        &format!("{canary}\n"),
    );
}

/// Records every token value (`scim_sat_…`, `scim_pat_…`) in `text`.
pub fn note_tokens_in(text: &str) {
    for prefix in ["scim_sat_", "scim_pat_"] {
        for (at, _) in text.match_indices(prefix) {
            let value: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if value.len() == 69 {
                note_secret(&value);
            }
        }
    }
}

/// Records the secrets a JSON document carries, at any depth: passwords,
/// token values (wherever they appear), session and exchanged JWTs.
pub fn note_json(v: &Value) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match (k.as_str(), x) {
                    ("password", Value::String(s)) => note_secret(s),
                    // A session or exchanged JWT (an audit record's
                    // `changes.token` is an id, not a secret: not noted).
                    ("access_token", Value::String(s)) if s.starts_with("eyJ") => note_secret(s),
                    _ => note_json(x),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(note_json),
        Value::String(s) => note_tokens_in(s),
        _ => {}
    }
}

/// Appends a CLI run's stderr.
pub fn cli_stderr(args: &[&str], stderr: &str) {
    if stderr.is_empty() {
        return;
    }
    let _ = std::fs::create_dir_all(dir());
    append(
        file("cli").with_extension("log"),
        &format!("# scimitar {}\n{stderr}\n", args.join(" ")),
    );
}

/// Dumps every audit record of a test database. Runs from `Drop`, possibly
/// inside the test's runtime, so on a thread of its own.
pub fn dump_audit(database_url: &str) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let url = database_url.to_string();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir().join(format!("audit-{}-{n}.jsonl", std::process::id()));
    crate::support::on_own_runtime(async move {
        let db = scimitar::store::connect(&url.parse().ok()?, 1).await.ok()?;
        let rows: Vec<scimitar::audit::StoredEvent> = scimitar::on_db!(&db, pool => {
            sqlx::query_as(crate::support::audit_select!("ORDER BY chain, seq"))
                .fetch_all(pool)
                .await
        })
        .ok()?;
        let mut out = String::new();
        for r in rows {
            out.push_str(&serde_json::to_string(&r).ok()?);
            out.push('\n');
        }
        let _ = std::fs::create_dir_all(dir());
        std::fs::write(&path, out).ok()
    });
}

/// The positive control: a canary in a log line (the request span logs the
/// path) and in an audit record (a SCIM user's name is its target display).
/// `tests/secret_grep.sh` fails unless it finds each canary in both.
#[tokio::test]
async fn captured_logs_and_audit_records_hold_a_planted_canary() {
    let app = crate::support::TestApp::spawn().await;
    let canary = format!("canary-{}", uuid::Uuid::new_v4().simple());
    note_canary(&canary);
    let scim = app.scim().await;
    scim.create_user(crate::support::user(&canary)).await;
    let r = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/{canary}"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(dir().exists());
}
