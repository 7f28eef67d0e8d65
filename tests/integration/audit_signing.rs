//! Signing keys and signed audit checkpoints: checkpoints every N records or
//! M seconds, their JWS verified against /.well-known/jwks.json, offline
//! verification of an export (and its failures), key rotation, and the
//! key-encryption key.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{CliRun, TestApp, eventually, fresh_database_url};
use scimitar::audit::checkpoints::{CHECKPOINT_TYP, CheckpointClaims};
use scimitar::signing::{KeyPair, verify_jws};
use scimitar::store::settings::to_hex;

const CHECKPOINTS: &str = "/api/v1/audit-logs/checkpoints";

pub(crate) async fn jwks(app: &TestApp) -> Value {
    let r = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

pub(crate) fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// (seq, kid) of a chain's checkpoints, read from the database (reading
/// through the API would add audit records of its own).
pub(crate) async fn stored_checkpoints(app: &TestApp, chain: &str) -> Vec<(i64, String)> {
    scimitar::on_db!(app.db(), pool => {
        sqlx::query_as("SELECT seq, kid FROM audit_checkpoints WHERE chain = $1 ORDER BY seq")
            .bind(chain)
            .fetch_all(pool)
            .await
    })
    .unwrap()
}

async fn head(app: &TestApp, chain: &str) -> i64 {
    scimitar::on_db!(app.db(), pool => {
        sqlx::query_scalar("SELECT last_seq FROM audit_chain_heads WHERE chain = $1")
            .bind(chain)
            .fetch_one(pool)
            .await
    })
    .unwrap()
}

/// Waits until the newest record of `chain` is covered by a checkpoint.
async fn wait_until_covered(app: &TestApp, chain: &str) -> i64 {
    let covered = eventually(Duration::from_secs(15), || async {
        let last = head(app, chain).await;
        stored_checkpoints(app, chain)
            .await
            .last()
            .is_some_and(|(seq, _)| *seq == last)
    })
    .await;
    let last = head(app, chain).await;
    assert!(covered, "no checkpoint at the head (seq {last})");
    last
}

/// Runs `scimitar` with no database reachable: `audit verify` must not
/// need one.
async fn offline_cli(args: &[&str]) -> CliRun {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(args)
        .env(
            "SCIMITAR_DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/nothing",
        )
        .env_remove("SCIMITAR_TOKEN_PEPPER")
        .env_remove("SCIMITAR_KEY_ENCRYPTION_KEY")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run scimitar");
    CliRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

struct Files {
    dir: std::path::PathBuf,
}

impl Files {
    fn new() -> Self {
        let dir = std::env::temp_dir()
            .join("scimitar-tests")
            .join(format!("signing-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `audit verify` on these files, offline; the one JSON object it prints
/// and its exit code.
async fn verify(files: &Files, export: &str, checkpoints: &str) -> (Option<i32>, Value) {
    let (e, c, j) = (
        files.path(export),
        files.path(checkpoints),
        files.path("jwks.json"),
    );
    let run = offline_cli(&[
        "audit",
        "verify",
        "--file",
        &e,
        "--checkpoints",
        &c,
        "--jwks",
        &j,
        "--json",
    ])
    .await;
    assert_eq!(
        run.stdout.lines().count(),
        1,
        "{} / {}",
        run.stdout,
        run.stderr
    );
    (run.code, serde_json::from_str(run.stdout.trim()).unwrap())
}

#[tokio::test]
async fn checkpoints_come_every_n_records_and_verify_against_the_jwks() {
    let app = TestApp::builder()
        .checkpoint_every(5, Duration::from_secs(300))
        .start()
        .await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    for i in 0..12 {
        app.create_workspace(&s, &format!("w{i}")).await;
    }
    assert!(
        eventually(Duration::from_secs(15), || async {
            stored_checkpoints(&app, &org).await.len() >= 2
        })
        .await,
        "checkpoints appear after every 5 records"
    );

    let keys = jwks(&app).await;
    let r = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("public, max-age=300")
    );
    let jwk = &keys["keys"][0];
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&jwk["kty"], &jwk["crv"], &jwk["alg"], &jwk["use"]),
        (
            &json!("OKP"),
            &json!("Ed25519"),
            &json!("EdDSA"),
            &json!("sig")
        )
    );
    assert!(jwk.get("d").is_none(), "public keys only");

    let listed = app.get(CHECKPOINTS, &s).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let cps = listed.body["checkpoints"].as_array().unwrap().clone();
    assert!(cps.len() >= 2);
    let mut previous = 0;
    for cp in &cps {
        let seq = cp["seq"].as_i64().unwrap();
        assert!(
            seq >= previous + 5,
            "oldest first, at least 5 records apart: {cps:?}"
        );
        previous = seq;
        let jws = cp["jws"].as_str().unwrap();
        let header = jsonwebtoken::decode_header(jws).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
        assert_eq!(header.typ.as_deref(), Some(CHECKPOINT_TYP));
        assert_eq!(header.kid.as_deref(), cp["kid"].as_str());
        let claims: CheckpointClaims =
            serde_json::from_value(verify_jws(jws, &keys).expect("signature verifies")).unwrap();
        assert_eq!(claims.chain, org);
        assert_eq!(claims.seq, seq);
        assert_eq!(claims.hash, cp["hash"].as_str().unwrap());
        assert_eq!(claims.time, cp["time"].as_str().unwrap());
        // The signed hash is the record's.
        let record = &app.audit_records(&org).await[(seq - 1) as usize];
        assert_eq!(record["seq"], seq);
        assert_eq!(record["hash"], cp["hash"]);
    }
    let some = app
        .get(&format!("{CHECKPOINTS}?from_seq={}", cps[1]["seq"]), &s)
        .await;
    assert_eq!(some.body["checkpoints"][0], cps[1]);

    // Same permission as the rest of the audit log.
    let (_, member) = app.signed_in_member("default", "reader", "member").await;
    app.get(CHECKPOINTS, &member).await.assert_problem(403);
    let anonymous = app
        .request(reqwest::Method::GET, CHECKPOINTS, None, None)
        .await;
    anonymous.assert_problem(401);
}

#[tokio::test]
async fn a_quiet_chain_gets_its_checkpoint_after_m_seconds() {
    let app = TestApp::builder()
        .checkpoint_every(1000, Duration::from_secs(1))
        .start()
        .await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    app.create_workspace(&s, "only").await;
    let seq = wait_until_covered(&app, &org).await;
    assert!(seq < 1000);
}

#[tokio::test]
async fn an_export_verifies_offline_and_tampering_does_not() {
    let app = TestApp::builder()
        .checkpoint_every(4, Duration::from_secs(2))
        .start()
        .await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    for i in 0..9 {
        app.create_workspace(&s, &format!("w{i}")).await;
    }
    let last = wait_until_covered(&app, &org).await;
    let files = Files::new();
    let exported = app
        .cli(&[
            "audit",
            "export",
            "--org",
            "default",
            "--output",
            &files.path("export.ndjson"),
            "--json",
        ])
        .await
        .json();
    assert_eq!(exported["records"], last);
    assert_eq!(exported["next_cursor"], last.to_string());
    let cps = app
        .cli(&[
            "audit",
            "checkpoints",
            "--org",
            &org,
            "--output",
            &files.path("checkpoints.json"),
            "--json",
        ])
        .await
        .json();
    assert!(cps["checkpoints"].as_u64().unwrap() >= 2);
    app.cli(&[
        "audit",
        "jwks",
        "--output",
        &files.path("jwks.json"),
        "--json",
    ])
    .await
    .json();
    // The file is what the API serves.
    let file_jwks: Value =
        serde_json::from_str(&std::fs::read_to_string(files.path("jwks.json")).unwrap()).unwrap();
    assert_eq!(file_jwks, jwks(&app).await);

    let (code, report) = verify(&files, "export.ndjson", "checkpoints.json").await;
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["records"], last);
    assert_eq!(report["anchored"], true);
    assert_eq!(report["attested_through"], last);
    assert_eq!(report["checkpoints_matched"], cps["checkpoints"]);

    // Human output too.
    let run = offline_cli(&[
        "audit",
        "verify",
        "--file",
        &files.path("export.ndjson"),
        "--checkpoints",
        &files.path("checkpoints.json"),
        "--jwks",
        &files.path("jwks.json"),
    ])
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.starts_with("ok: "), "{}", run.stdout);

    let text = std::fs::read_to_string(files.path("export.ndjson")).unwrap();
    let lines: Vec<&str> = text.lines().collect();

    // One byte changed in record 4.
    let mut bytes = lines[3].as_bytes().to_vec();
    let at = lines[3].find("\"action\":\"").unwrap() + "\"action\":\"".len();
    bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
    let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    edited[3] = String::from_utf8(bytes).unwrap();
    std::fs::write(files.path("edited.ndjson"), edited.join("\n") + "\n").unwrap();
    let (code, report) = verify(&files, "edited.ndjson", "checkpoints.json").await;
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_break"]["kind"], "hash_mismatch");
    assert_eq!(report["first_break"]["seq"], 4);

    // A line deleted.
    let mut missing: Vec<&str> = lines.clone();
    missing.remove(5);
    std::fs::write(files.path("missing.ndjson"), missing.join("\n") + "\n").unwrap();
    let (code, report) = verify(&files, "missing.ndjson", "checkpoints.json").await;
    assert_eq!(code, Some(1));
    assert_eq!(report["first_break"]["kind"], "gap");
    assert_eq!(report["first_break"]["seq"], 7);

    // A checkpoint signed by another key: under its own kid (not
    // published), and under the server's kid.
    let genuine: Value =
        serde_json::from_str(&std::fs::read_to_string(files.path("checkpoints.json")).unwrap())
            .unwrap();
    let mallory = KeyPair::generate();
    let first = &genuine["checkpoints"][0];
    let claims: CheckpointClaims =
        serde_json::from_value(verify_jws(first["jws"].as_str().unwrap(), &file_jwks).unwrap())
            .unwrap();
    let forged_jws = mallory.sign_jws_typed(CHECKPOINT_TYP, &claims).unwrap();
    let mut forged = genuine.clone();
    forged["checkpoints"][0]["jws"] = json!(forged_jws);
    forged["checkpoints"][0]["kid"] = json!(mallory.kid());
    std::fs::write(files.path("forged.json"), forged.to_string()).unwrap();
    let (code, report) = verify(&files, "export.ndjson", "forged.json").await;
    assert_eq!(code, Some(1));
    assert_eq!(report["first_break"]["kind"], "bad_checkpoint");
    assert!(
        report["first_break"]["detail"]
            .as_str()
            .unwrap()
            .contains("not in the JWKS"),
        "{report}"
    );
    let genuine_jws = first["jws"].as_str().unwrap();
    let (signing_input, _) = genuine_jws.rsplit_once('.').unwrap();
    let (_, mallory_sig) = forged_jws.rsplit_once('.').unwrap();
    let mut resigned = genuine.clone();
    resigned["checkpoints"][0]["jws"] = json!(format!("{signing_input}.{mallory_sig}"));
    std::fs::write(files.path("resigned.json"), resigned.to_string()).unwrap();
    let (code, report) = verify(&files, "export.ndjson", "resigned.json").await;
    assert_eq!(code, Some(1));
    assert_eq!(report["first_break"]["kind"], "bad_checkpoint");
    assert!(
        report["first_break"]["detail"]
            .as_str()
            .unwrap()
            .contains("bad signature"),
        "{report}"
    );

    // A forged record with every later hash recomputed: consistent as a
    // chain, refused by the signed checkpoint.
    let mut records: Vec<scimitar::audit::StoredEvent> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    records[1].actor_display = Some("mallory".into());
    for i in 1..records.len() {
        records[i].prev_hash = records[i - 1].hash.clone();
        records[i].hash = records[i].compute_hash();
    }
    let rewritten: String = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    std::fs::write(files.path("rewritten.ndjson"), rewritten).unwrap();
    let (code, report) = verify(&files, "rewritten.ndjson", "checkpoints.json").await;
    assert_eq!(code, Some(1));
    assert_eq!(report["first_break"]["kind"], "checkpoint_mismatch");

    // A resumed export (from a cursor at a checkpoint) is anchored by it.
    let anchor = genuine["checkpoints"][0]["seq"].as_i64().unwrap();
    let resumed = app
        .cli(&[
            "audit",
            "export",
            "--org",
            &org,
            "--cursor",
            &anchor.to_string(),
            "--output",
            &files.path("resumed.ndjson"),
            "--json",
        ])
        .await
        .json();
    assert_eq!(resumed["first_seq"], anchor + 1);
    let (code, report) = verify(&files, "resumed.ndjson", "checkpoints.json").await;
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["anchored"], true);

    // The API's export verifies the same way (checkpoints first: one
    // signed after the export would say records are missing from it).
    let api_cps = app.get(CHECKPOINTS, &s).await;
    std::fs::write(files.path("api-checkpoints.json"), &api_cps.text).unwrap();
    let api_export = app.get("/api/v1/audit-logs/export", &s).await;
    std::fs::write(files.path("api.ndjson"), &api_export.text).unwrap();
    let (code, report) = verify(&files, "api.ndjson", "api-checkpoints.json").await;
    assert_eq!(code, Some(0), "{report}");
    assert!(report["records"].as_i64().unwrap() >= last);

    // CSV exports are for reading, not verifying.
    let csv = app
        .cli(&[
            "audit",
            "export",
            "--org",
            &org,
            "--format",
            "csv",
            "--action",
            "workspace.*",
            "--output",
            &files.path("export.csv"),
            "--json",
        ])
        .await
        .json();
    assert_eq!(csv["records"], 9);
    let csv_text = std::fs::read_to_string(files.path("export.csv")).unwrap();
    assert!(csv_text.starts_with("id,chain,seq,"));
    assert_eq!(csv_text.lines().count(), 10);
}

#[tokio::test]
async fn keys_rotate_publishes_both_keys_and_new_checkpoints_use_the_new_one() {
    let app = TestApp::builder()
        .checkpoint_every(2, Duration::from_secs(300))
        .start()
        .await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    for i in 0..3 {
        app.create_workspace(&s, &format!("a{i}")).await;
    }
    assert!(
        eventually(Duration::from_secs(15), || async {
            !stored_checkpoints(&app, &org).await.is_empty()
        })
        .await
    );
    let before = jwks(&app).await;
    let old_kid = kids(&before)[0].clone();
    assert_eq!(kids(&before).len(), 1);

    let rotated = app.cli(&["keys", "rotate", "--json"]).await.json();
    let new_kid = rotated["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid);
    assert_eq!(rotated["previous_kid"], old_kid);
    assert_eq!(rotated["published"], json!([new_kid, old_kid]));

    // The running server picks the new key up and publishes both.
    assert!(
        eventually(Duration::from_secs(10), || async {
            kids(&jwks(&app).await) == vec![new_kid.clone(), old_kid.clone()]
        })
        .await,
        "both keys published"
    );
    let listed = app.cli(&["keys", "list", "--json"]).await.json();
    assert_eq!(listed["keys"][0]["kid"], new_kid);
    assert_eq!(listed["keys"][0]["current"], true);
    assert_eq!(listed["keys"][1]["current"], false);

    for i in 0..3 {
        app.create_workspace(&s, &format!("b{i}")).await;
    }
    assert!(
        eventually(Duration::from_secs(15), || async {
            stored_checkpoints(&app, &org)
                .await
                .last()
                .is_some_and(|(_, kid)| *kid == new_kid)
        })
        .await,
        "new checkpoints are signed with the new key"
    );
    let all = stored_checkpoints(&app, &org).await;
    assert_eq!(all[0].1, old_kid, "older checkpoints keep their key");
    // Every checkpoint, old key or new, verifies against the published set.
    let now = jwks(&app).await;
    let cps = app.get(CHECKPOINTS, &s).await;
    for cp in cps.body["checkpoints"].as_array().unwrap() {
        verify_jws(cp["jws"].as_str().unwrap(), &now).expect("verifies");
    }
    // And a full export with checkpoints of both keys verifies offline.
    let files = Files::new();
    std::fs::write(
        files.path("export.ndjson"),
        app.get("/api/v1/audit-logs/export", &s).await.text,
    )
    .unwrap();
    std::fs::write(files.path("checkpoints.json"), &cps.text).unwrap();
    std::fs::write(files.path("jwks.json"), now.to_string()).unwrap();
    let (code, report) = verify(&files, "export.ndjson", "checkpoints.json").await;
    assert_eq!(code, Some(0), "{report}");
}

#[tokio::test]
async fn a_configured_key_encryption_key_guards_the_signing_keys() {
    // First run without one: the generated KEK encrypts the first key.
    let first = TestApp::spawn().await;
    let kid = kids(&jwks(&first).await)[0].clone();
    let password = first.admin_password.clone();
    let generated_kek_id: String = scimitar::on_db!(first.db(), pool => {
        sqlx::query_scalar("SELECT kek_id FROM signing_keys").fetch_one(pool).await
    })
    .unwrap();
    let url = first.shutdown().await;

    // Then configured: it is adopted (kek_adoption.rs has the details): a
    // new current key, and every key under the configured KEK.
    let kek = "0123456789abcdef".repeat(4);
    let app = TestApp::builder()
        .key_encryption_key(&kek)
        .checkpoint_every(1, Duration::from_secs(300))
        .start_on(url.clone())
        .await;
    let adopted = kids(&jwks(&app).await);
    assert_eq!(adopted.len(), 2, "{adopted:?}");
    assert_eq!(adopted[1], kid);
    let rows: Vec<(String, Vec<u8>, Vec<u8>)> = scimitar::on_db!(app.db(), pool => {
        sqlx::query_as("SELECT kek_id, public_key, private_key_enc FROM signing_keys")
            .fetch_all(pool)
            .await
    })
    .unwrap();
    assert_eq!(rows.len(), 2);
    for (kek_id, public, private) in rows {
        assert_ne!(
            kek_id, generated_kek_id,
            "re-encrypted with the configured KEK"
        );
        assert_eq!(public.len(), 32);
        assert_eq!(
            private.len(),
            32 + 16,
            "ciphertext and tag, never a bare key"
        );
    }

    // The CLI with the same KEK (TestApp passes it) rotates.
    let rotated = app.cli(&["keys", "rotate", "--json"]).await.json();
    let new_kid = rotated["kid"].as_str().unwrap().to_string();
    // Records written before the server has re-read its keys would be
    // checkpointed under the old one: wait until it publishes the new key.
    assert!(
        eventually(Duration::from_secs(10), || async {
            kids(&jwks(&app).await).contains(&new_kid)
        })
        .await
    );
    let login = app.login("default", "admin", &password).await;
    let s = login.body["access_token"].as_str().unwrap().to_string();
    let org = app.org_of(&s).await;
    assert!(
        eventually(Duration::from_secs(15), || async {
            stored_checkpoints(&app, &org)
                .await
                .last()
                .is_some_and(|(_, k)| *k == new_kid)
        })
        .await
    );

    // With another KEK the CLI refuses, without echoing either key.
    let other = "a different key-encryption key, long enough";
    let refused = app
        .cli(&["--key-encryption-key", other, "keys", "rotate", "--json"])
        .await;
    assert_eq!(refused.code, Some(1), "{}", refused.stdout);
    let message = serde_json::from_str::<Value>(refused.stdout.trim()).unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("SCIMITAR_KEY_ENCRYPTION_KEY"), "{message}");
    for text in [&refused.stdout, &refused.stderr] {
        assert!(!text.contains(&kek) && !text.contains(other), "{text}");
    }
    let short = app
        .cli(&["--key-encryption-key", "short", "keys", "rotate"])
        .await;
    assert_eq!(short.code, Some(2), "a malformed KEK is a usage error");
    assert_eq!(kids(&jwks(&app).await).len(), 3);
    let url = app.shutdown().await;

    // A server given the wrong KEK does not start.
    let mut config = scimitar::config::Config::for_database(url.parse().unwrap());
    config.key_encryption_key = Some(scimitar::config::Secret(other.into()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = match scimitar::app::Server::start(config, listener).await {
        Ok(_) => panic!("started with the wrong key-encryption key"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("SCIMITAR_KEY_ENCRYPTION_KEY"), "{err}");
    assert!(!err.contains(other));
    crate::support::drop_database(&url);
}

#[tokio::test]
async fn instances_starting_together_make_one_key() {
    let url = fresh_database_url().await;
    let open = |url: String| async move {
        let db = scimitar::store::connect(&url.parse().unwrap(), 2)
            .await
            .unwrap();
        db.migrate().await.unwrap();
        db
    };
    // Migrations first (their own locking is not what is tested here).
    let a = open(url.clone()).await;
    let b = open(url.clone()).await;
    let kek = scimitar::signing::Kek::parse(&"ab".repeat(32)).unwrap();
    let (sa, sb) = tokio::join!(
        scimitar::signing::Signer::load(&a, kek.clone()),
        scimitar::signing::Signer::load(&b, kek.clone())
    );
    let (sa, sb) = (sa.unwrap(), sb.unwrap());
    assert_eq!(sa.current_kid(), sb.current_kid());
    assert_eq!(
        scimitar::signing::published_keys(&a).await.unwrap().len(),
        1
    );
    // Concurrent rotations each add one key; both instances then agree.
    let (ra, rb) = tokio::join!(
        scimitar::signing::rotate(&a, &kek),
        scimitar::signing::rotate(&b, &kek)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_ne!(ra.generation, rb.generation);
    sa.refresh(&a).await.unwrap();
    sb.refresh(&b).await.unwrap();
    assert_eq!(sa.current_kid(), sb.current_kid());
    assert_eq!(sa.jwks(), sb.jwks());
    assert_eq!(kids(&sa.jwks()).len(), 3);
    a.close().await;
    b.close().await;
    crate::support::drop_database(&url);
}

/// Key re-reads are a task of their own, independent of checkpoints: a
/// rotation made elsewhere is picked up within about a second.
#[tokio::test]
async fn the_key_refresher_picks_up_a_rotation_on_its_own() {
    let url = fresh_database_url().await;
    let db = scimitar::store::connect(&url.parse().unwrap(), 2)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let kek = scimitar::signing::Kek::parse(&"cd".repeat(32)).unwrap();
    let signer = std::sync::Arc::new(
        scimitar::signing::Signer::load(&db, kek.clone())
            .await
            .unwrap(),
    );
    let refresher = scimitar::signing::spawn_refresher(db.clone(), signer.clone());
    let new = scimitar::signing::rotate(&db, &kek).await.unwrap();
    assert!(
        eventually(Duration::from_secs(5), || async {
            signer.current_kid() == new.kid
        })
        .await,
        "the refresher switched to the new key"
    );
    assert_eq!(kids(&signer.jwks()).len(), 2);
    refresher.abort();
    db.close().await;
    crate::support::drop_database(&url);
}

#[test]
fn checkpoint_claims_are_what_the_docs_say() {
    let c = CheckpointClaims {
        chain: "c".into(),
        seq: 3,
        hash: to_hex(&[0u8; 32]),
        time: "2026-01-01T00:00:00.000000Z".into(),
        prev: Some(0),
    };
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["chain", "hash", "prev", "seq", "time"]
    );
    // Checkpoints signed before `prev` existed still read.
    let old: CheckpointClaims = serde_json::from_value(json!({
        "chain": "c", "seq": 3, "hash": to_hex(&[0u8; 32]), "time": "2026-01-01T00:00:00.000000Z"
    }))
    .unwrap();
    assert_eq!(old.prev, None);
}
