//! Attacks on the audit log by someone who can write to the database, each
//! caught by the one verifier wherever it runs: online
//! (`GET /api/v1/audit-logs/verify`), in the console (Verify chain) and
//! offline (`scimitar audit verify` on a fresh export, its checkpoints and
//! the JWKS), on both backends. The chain is rewritten consistently (every
//! later hash recomputed, the head moved), so only the signed checkpoints
//! can tell.

use std::time::Duration;

use reqwest::StatusCode;
use scimitar::audit::StoredEvent;
use serde_json::Value;

use crate::console_client::Console;
use crate::support::{TestApp, eventually};

/// Checkpoints every 4 records (4, 8, 12, 16); none by time.
const EVERY: i64 = 4;

/// Files of one test, removed at its end.
struct Files(std::path::PathBuf);

impl Files {
    fn new() -> Self {
        let dir = std::env::temp_dir()
            .join("scimitar-tests")
            .join(format!("tamper-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn checkpoint_seqs(app: &TestApp, chain: &str) -> Vec<i64> {
    scimitar::on_db!(app.db(), pool => {
        sqlx::query_scalar("SELECT seq FROM audit_checkpoints WHERE chain = $1 ORDER BY seq")
            .bind(chain)
            .fetch_all(pool)
            .await
    })
    .unwrap()
}

async fn records(app: &TestApp, chain: &str) -> Vec<StoredEvent> {
    scimitar::on_db!(app.db(), pool => {
        sqlx::query_as(
            "SELECT id, chain, seq, org_id, workspace_id, occurred_at, actor_kind, actor_id, \
             actor_display, action, target_type, target_id, target_display, outcome, reason, \
             http_status, request_id, source_ip, user_agent, changes, reported_by, prev_hash, hash \
             FROM audit_events WHERE chain = $1 ORDER BY seq",
        )
        .bind(chain)
        .fetch_all(pool)
        .await
    })
    .unwrap()
}

/// A chain of about 20 records with checkpoints at 4, 8, 12 and 16; an API
/// session; the organization's chain.
async fn setup() -> (TestApp, String, String) {
    let app = TestApp::builder()
        .checkpoint_every(EVERY as u64, Duration::from_secs(3600))
        .start()
        .await;
    let session = app.admin_session().await;
    for i in 0..14 {
        app.create_workspace(&session, &format!("w{i}")).await;
    }
    let org = app.org_of(&session).await;
    assert!(
        eventually(Duration::from_secs(15), || async {
            checkpoint_seqs(&app, &org).await.len() >= 4
        })
        .await,
        "checkpoints were signed"
    );
    assert_eq!(checkpoint_seqs(&app, &org).await[..4], [4, 8, 12, 16]);
    (app, session, org)
}

/// The console, signed in before the attack (so that its sign-in is
/// recorded before it).
async fn console(app: &TestApp) -> Console<'_> {
    let mut c = Console::new(app);
    c.sign_in_admin().await;
    c
}

/// Rewrites record `seq` (its target's display name) and re-chains every
/// record after it and the chain head, as an attacker who can write to the
/// database but cannot sign would.
async fn rewrite_and_rechain(app: &TestApp, org: &str, seq: i64) {
    let mut prev: Option<Vec<u8>> = None;
    let mut last = None;
    for mut r in records(app, org).await {
        if r.seq < seq {
            prev = Some(r.hash.clone());
            continue;
        }
        if r.seq == seq {
            r.target_display = Some("forged".into());
        }
        r.prev_hash = prev.clone().unwrap();
        r.hash = r.compute_hash();
        scimitar::on_db!(app.db(), pool => {
            sqlx::query(
                "UPDATE audit_events SET target_display = $1, prev_hash = $2, hash = $3 \
                 WHERE chain = $4 AND seq = $5",
            )
            .bind(&r.target_display)
            .bind(&r.prev_hash)
            .bind(&r.hash)
            .bind(org)
            .bind(r.seq)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .unwrap();
        prev = Some(r.hash.clone());
        last = Some(r.hash);
    }
    set_head_hash(app, org, None, &last.unwrap()).await;
}

async fn set_head_hash(app: &TestApp, org: &str, seq: Option<i64>, hash: &[u8]) {
    scimitar::on_db!(app.db(), pool => {
        sqlx::query(
            "UPDATE audit_chain_heads SET last_seq = COALESCE($1, last_seq), last_hash = $2 \
             WHERE chain = $3",
        )
        .bind(seq)
        .bind(hash)
        .bind(org)
        .execute(pool)
        .await
        .map(|_| ())
    })
    .unwrap();
}

async fn delete(app: &TestApp, sql: &'static str, org: &str, seq: i64) {
    scimitar::on_db!(app.db(), pool => {
        sqlx::query(sql).bind(org).bind(seq).execute(pool).await.map(|_| ())
    })
    .unwrap();
}

/// Takes the checkpoints (first), the keys and an export with the CLI, as
/// an auditor would, and returns their file names.
async fn take_files(app: &TestApp, files: &Files, tag: &str) -> (String, String, String) {
    let (export, cps, jwks) = (
        files.path(&format!("{tag}.ndjson")),
        files.path(&format!("{tag}-checkpoints.json")),
        files.path("jwks.json"),
    );
    for args in [
        vec!["audit", "checkpoints", "--org", "default", "--output", &cps],
        vec!["audit", "jwks", "--output", &jwks],
        vec!["audit", "export", "--org", "default", "--output", &export],
    ] {
        let run = app.cli(&args).await;
        assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
    }
    (export, cps, jwks)
}

/// `scimitar audit verify --file` on these files: its first break.
async fn offline(app: &TestApp, export: &str, cps: &str, jwks: &str) -> Value {
    let run = app
        .cli(&[
            "audit",
            "verify",
            "--file",
            export,
            "--checkpoints",
            cps,
            "--jwks",
            jwks,
            "--json",
        ])
        .await;
    let report: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON report");
    assert_eq!(run.code, Some(1), "offline verification fails: {report}");
    assert_eq!(report["ok"], false);
    report["first_break"].clone()
}

/// `scimitar audit verify --org default` on the database: its first break.
async fn in_database(app: &TestApp) -> Value {
    let run = app
        .cli(&["audit", "verify", "--org", "default", "--json"])
        .await;
    let report: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON report");
    assert_eq!(run.code, Some(1), "database verification fails: {report}");
    report["first_break"].clone()
}

/// The API's verify: its first break.
async fn online(app: &TestApp, session: &str) -> Value {
    let r = app.get("/api/v1/audit-logs/verify", session).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["ok"], false, "online verification fails: {}", r.text);
    r.body["first_break"].clone()
}

/// The console's Verify chain page shows the break: its kind and seq.
async fn in_console(c: &mut Console<'_>, kind: &str, seq: i64) {
    let page = c.get("/console/audit-logs/verify").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Chain broken"), "{}", page.text);
    assert!(
        page.text.contains(&format!("<code>{kind}</code>")),
        "{kind}: {}",
        page.text
    );
    assert!(
        page.text
            .contains(&format!("<dt>Sequence</dt><dd>{seq}</dd>")),
        "seq {seq}: {}",
        page.text
    );
}

fn is(b: &Value, kind: &str, seq: i64) {
    assert_eq!(b["kind"], kind, "{b}");
    assert_eq!(b["seq"], seq, "{b}");
    for field in ["expected", "found", "detail"] {
        assert!(b.get(field).is_some(), "one shape: {field} in {b}");
    }
}

#[tokio::test]
async fn a_rewritten_and_rechained_record_is_caught_by_the_checkpoint_after_it() {
    let (app, s, org) = setup().await;
    let mut c = console(&app).await;
    let files = Files::new();
    let kept = take_files(&app, &files, "before").await;

    rewrite_and_rechain(&app, &org, 6).await;
    // The hash chain itself is consistent again: only checkpoint 8 knows.
    let (export, cps, jwks) = take_files(&app, &files, "after").await;
    let b = offline(&app, &export, &cps, &jwks).await;
    is(&b, "checkpoint_mismatch", 8);
    assert_ne!(b["expected"], b["found"]);
    is(&in_database(&app).await, "checkpoint_mismatch", 8);
    is(&online(&app, &s).await, "checkpoint_mismatch", 8);
    in_console(&mut c, "checkpoint_mismatch", 8).await;

    // The checkpoints an auditor kept from before say the same.
    is(
        &offline(&app, &export, &kept.1, &kept.2).await,
        "checkpoint_mismatch",
        8,
    );
}

#[tokio::test]
async fn deleting_the_newest_records_and_setting_the_head_back_is_caught() {
    let (app, s, org) = setup().await;
    let mut c = console(&app).await;
    let files = Files::new();

    // Keep records 1 to 9, behind the checkpoints at 12 and 16.
    delete(
        &app,
        "DELETE FROM audit_events WHERE chain = $1 AND seq > $2",
        &org,
        9,
    )
    .await;
    let ninth = records(&app, &org).await.pop().unwrap();
    assert_eq!(ninth.seq, 9);
    set_head_hash(&app, &org, Some(9), &ninth.hash).await;

    let newest = checkpoint_seqs(&app, &org).await.pop().unwrap().to_string();
    let (export, cps, jwks) = take_files(&app, &files, "after").await;
    let b = offline(&app, &export, &cps, &jwks).await;
    is(&b, "truncated", 10);
    assert_eq!(
        (b["expected"].as_str(), b["found"].as_str()),
        (Some(&*newest), Some("9"))
    );
    let b = in_database(&app).await;
    is(&b, "truncated", 10);
    assert_eq!(
        (b["expected"].as_str(), b["found"].as_str()),
        (Some(&*newest), Some("9"))
    );
    // The API's call is recorded at seq 10, the console's after its check:
    // the head is still behind checkpoint 12 each time.
    is(&online(&app, &s).await, "truncated", 10);
    in_console(&mut c, "truncated", 11).await;
}

#[tokio::test]
async fn deleting_a_checkpoint_is_caught_by_the_next_one() {
    let (app, s, org) = setup().await;
    let mut c = console(&app).await;
    let files = Files::new();

    delete(
        &app,
        "DELETE FROM audit_checkpoints WHERE chain = $1 AND seq = $2",
        &org,
        8,
    )
    .await;

    let (export, cps, jwks) = take_files(&app, &files, "after").await;
    let b = offline(&app, &export, &cps, &jwks).await;
    is(&b, "checkpoint_missing", 8);
    is(&in_database(&app).await, "checkpoint_missing", 8);
    is(&online(&app, &s).await, "checkpoint_missing", 8);
    in_console(&mut c, "checkpoint_missing", 8).await;
}

/// Rewriting a record and deleting every checkpoint after it leaves the
/// database nothing to contradict (the server even signs the forged
/// chain anew); the checkpoints an auditor kept, or streamed out, do.
#[tokio::test]
async fn kept_checkpoints_catch_a_rewrite_whose_checkpoints_were_deleted() {
    let (app, _s, org) = setup().await;
    let files = Files::new();
    let kept = take_files(&app, &files, "before").await;

    rewrite_and_rechain(&app, &org, 6).await;
    delete(
        &app,
        "DELETE FROM audit_checkpoints WHERE chain = $1 AND seq > $2",
        &org,
        4,
    )
    .await;

    let (export, _, _) = take_files(&app, &files, "after").await;
    is(
        &offline(&app, &export, &kept.1, &kept.2).await,
        "checkpoint_mismatch",
        8,
    );
}

#[tokio::test]
async fn deleting_the_oldest_records_is_caught_where_no_checkpoint_anchors_the_rest() {
    let (app, s, org) = setup().await;
    let mut c = console(&app).await;

    // Retention only ever deletes up to a checkpoint (4, 8, …): 1 to 5 is
    // not its work.
    delete(
        &app,
        "DELETE FROM audit_events WHERE chain = $1 AND seq <= $2",
        &org,
        5,
    )
    .await;

    let b = in_database(&app).await;
    is(&b, "gap", 6);
    is(&online(&app, &s).await, "gap", 6);
    in_console(&mut c, "gap", 6).await;
}

/// No false alarm: verifying while records and checkpoints keep arriving
/// (each checkpoint read was signed at or before the head read after it).
#[tokio::test]
async fn a_chain_being_written_verifies_at_every_moment() {
    let app = TestApp::builder()
        .checkpoint_every(2, Duration::from_secs(1))
        .start()
        .await;
    let s = app.admin_session().await;
    let writer = {
        let client = app.client.clone();
        let url = app.url("/api/v1/workspaces");
        let s = s.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                let r = client
                    .post(&url)
                    .bearer_auth(&s)
                    .json(&serde_json::json!({ "name": format!("busy{i}") }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
        })
    };
    let mut checked = 0;
    while !writer.is_finished() {
        let r = app.get("/api/v1/audit-logs/verify", &s).await;
        assert_eq!(r.body["ok"], true, "{}", r.text);
        checked += 1;
    }
    writer.await.unwrap();
    // Checkpoints come once a second: on a busy machine the writes may
    // finish before six are signed, and each verification is a record more.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = app.get("/api/v1/audit-logs/verify", &s).await;
        assert_eq!(r.body["ok"], true, "{}", r.text);
        if r.body["checkpoints_verified"].as_u64().unwrap() > 5 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", r.text);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(checked > 1, "verified while the chain grew");
}

/// Rewriting a record, re-chaining, and writing the new hashes into the
/// checkpoints' rows too: the signatures still sign the old ones.
#[tokio::test]
async fn checkpoint_rows_edited_to_match_a_rewrite_are_refused_by_their_signatures() {
    let (app, s, org) = setup().await;
    let mut c = console(&app).await;
    let files = Files::new();

    rewrite_and_rechain(&app, &org, 6).await;
    for r in records(&app, &org).await {
        scimitar::on_db!(app.db(), pool => {
            sqlx::query("UPDATE audit_checkpoints SET hash = $1 WHERE chain = $2 AND seq = $3")
                .bind(&r.hash)
                .bind(&org)
                .bind(r.seq)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .unwrap();
    }

    let (export, cps, jwks) = take_files(&app, &files, "after").await;
    is(
        &offline(&app, &export, &cps, &jwks).await,
        "bad_checkpoint",
        8,
    );
    is(&in_database(&app).await, "bad_checkpoint", 8);
    is(&online(&app, &s).await, "bad_checkpoint", 8);
    in_console(&mut c, "bad_checkpoint", 8).await;
}
