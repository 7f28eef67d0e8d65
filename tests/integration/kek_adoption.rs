//! Adopting a configured key-encryption key on a database that began with
//! the generated one: at the first start with it (or with `scimitar keys
//! adopt-kek`) the signing key is rotated, every key is re-encrypted under
//! the configured KEK, the older keys stay published to verify what they
//! signed, and the generated KEK leaves the database, so that a backup
//! taken before cannot open the new key.

use std::time::Duration;

use serde_json::Value;

use crate::audit_signing::{jwks, kids, stored_checkpoints};
use crate::support::{CliRun, TestApp, eventually, fresh_database_url, run_cli};
use scimitar::signing::{GENERATED_KEK_SETTING, Kek, KeyPair, verify_jws};

const KEK: &str = "a configured key-encryption key, from the secret store";
const SELF: &str = "/api/v1/tokens/self";

/// (kid, generation, kek_id, nonce, private_key_enc) of every signing key,
/// oldest first.
type KeyRow = (String, i64, String, Vec<u8>, Vec<u8>);

async fn key_rows(db: &scimitar::store::Db) -> Vec<KeyRow> {
    scimitar::on_db!(db, pool => {
        sqlx::query_as(
            "SELECT kid, generation, kek_id, nonce, private_key_enc FROM signing_keys \
             ORDER BY generation",
        )
        .fetch_all(pool)
        .await
    })
    .unwrap()
}

/// The generated KEK as the server keeps it (noted as a secret, so that the
/// log check looks for it too).
async fn generated_kek(db: &scimitar::store::Db) -> Option<Kek> {
    let hex = scimitar::store::settings::get(db, GENERATED_KEK_SETTING)
        .await
        .unwrap()?;
    crate::capture::note_secret(&hex);
    let bytes = scimitar::store::settings::from_hex(&hex).unwrap();
    Some(Kek::from_bytes(bytes.try_into().unwrap()))
}

fn opens(kek: &Kek, row: &KeyRow) -> bool {
    let (kid, _, kek_id, nonce, sealed) = row;
    kek.decrypt(kek_id, nonce, sealed, kid.as_bytes())
        .is_ok_and(|seed| KeyPair::from_seed(&seed).is_ok_and(|p| p.kid() == kid))
}

fn kid_of(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

async fn audit_jwks(app: &TestApp, session: &str) -> Value {
    let r = app.get("/api/v1/audit-logs/jwks", session).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// `scimitar keys adopt-kek`, with no server running.
async fn adopt_kek(url: &str, kek: Option<&str>, json: bool) -> CliRun {
    let mut args = vec!["keys", "adopt-kek"];
    if json {
        args.push("--json");
    }
    run_cli(url, None, kek, &args, None).await
}

async fn open(url: &str) -> scimitar::store::Db {
    let db = scimitar::store::connect(&url.parse().unwrap(), 2)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db
}

#[tokio::test]
async fn a_restart_with_a_configured_kek_rotates_the_key_and_deletes_the_generated_one() {
    // A first run without a KEK: a session and a checkpoint signed by key A.
    let first = TestApp::builder()
        .checkpoint_every(1, Duration::from_secs(300))
        .start()
        .await;
    let password = first.admin_password.clone();
    let old_session = first.admin_session().await;
    let old_kid = kid_of(&old_session);
    assert_eq!(kids(&jwks(&first).await), vec![old_kid.clone()]);
    let org = first.org_of(&old_session).await;
    assert!(
        eventually(Duration::from_secs(15), || async {
            !stored_checkpoints(&first, &org).await.is_empty()
        })
        .await
    );
    let generated = generated_kek(first.db()).await.expect("a generated KEK");
    let before = key_rows(first.db()).await;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].2, generated.id());
    let url = first.shutdown().await;

    // The restart with a configured KEK adopts it.
    let app = TestApp::builder()
        .key_encryption_key(KEK)
        .checkpoint_every(1, Duration::from_secs(300))
        .start_on(url.clone())
        .await;
    let configured = Kek::parse(KEK).unwrap();
    let published = kids(&jwks(&app).await);
    assert_eq!(published.len(), 2, "{published:?}");
    let new_kid = published[0].clone();
    assert_ne!(new_kid, old_kid, "a new current key");
    assert_eq!(
        published[1], old_kid,
        "the old key is still published for its sessions"
    );
    assert!(
        generated_kek(app.db()).await.is_none(),
        "the generated KEK is gone from server_settings"
    );
    let rows = key_rows(app.db()).await;
    assert_eq!(
        rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        vec![old_kid.clone(), new_kid.clone()]
    );
    for row in &rows {
        assert_eq!(row.2, configured.id(), "{} under the configured KEK", row.0);
        assert!(opens(&configured, row), "{} opens with it", row.0);
        // What a backup taken before holds cannot open it any more.
        assert!(!opens(&generated, row), "{} opens with the old KEK", row.0);
    }
    assert_ne!(rows[1].2, generated.id());
    // The old key's ciphertext, as an earlier backup has it, opens only the
    // old key: never the new current one.
    assert!(opens(&generated, &before[0]));

    // The old session still works; new sessions and checkpoints use the new key.
    assert_eq!(app.get(SELF, &old_session).await.status, 200);
    let login = app.login("default", "admin", &password).await;
    let new_session = login.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(kid_of(&new_session), new_kid);
    app.create_workspace(&new_session, "after").await;
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
    // Every checkpoint, the old key's too, verifies against the audit JWKS.
    let audit = audit_jwks(&app, &new_session).await;
    assert_eq!(kids(&audit), vec![new_kid.clone(), old_kid.clone()]);
    let cps = app
        .get("/api/v1/audit-logs/checkpoints", &new_session)
        .await;
    let cps = cps.body["checkpoints"].as_array().unwrap().clone();
    assert_eq!(cps[0]["kid"], old_kid);
    for cp in &cps {
        verify_jws(cp["jws"].as_str().unwrap(), &audit).expect("verifies");
    }

    // Adopting happens once: the next start changes no key.
    let url = app.shutdown().await;
    let again = TestApp::builder()
        .key_encryption_key(KEK)
        .start_on(url)
        .await;
    assert_eq!(kids(&jwks(&again).await), vec![new_kid, old_kid]);
}

#[tokio::test]
async fn instances_adopting_at_once_rotate_once() {
    let url = fresh_database_url().await;
    let first = open(&url).await;
    let generated = Kek::resolve(&first, None).await.unwrap();
    let old = scimitar::signing::Signer::load(&first, generated)
        .await
        .unwrap()
        .current_kid();
    first.close().await;

    let (a, b) = (open(&url).await, open(&url).await);
    let kek_a = Kek::resolve(&a, Some(KEK)).await.unwrap();
    let kek_b = Kek::resolve(&b, Some(KEK)).await.unwrap();
    assert!(kek_a.holds_generated() && kek_b.holds_generated());
    let (sa, sb) = tokio::join!(
        scimitar::signing::Signer::load(&a, kek_a),
        scimitar::signing::Signer::load(&b, kek_b)
    );
    let (sa, sb) = (sa.unwrap(), sb.unwrap());
    assert_ne!(sa.current_kid(), old);
    assert_eq!(sa.current_kid(), sb.current_kid(), "one new key");
    assert_eq!(kids(&sa.jwks()), vec![sa.current_kid(), old]);
    assert!(generated_kek(&a).await.is_none());
    let configured = Kek::parse(KEK).unwrap();
    assert!(key_rows(&a).await.iter().all(|r| opens(&configured, r)));
    a.close().await;
    b.close().await;
    crate::support::drop_database(&url);
}

#[tokio::test]
async fn keys_adopt_kek_adopts_on_demand_once_and_only_with_a_configured_kek() {
    let first = TestApp::spawn().await;
    let old_kid = kids(&jwks(&first).await)[0].clone();
    let url = first.shutdown().await;

    // Without a configured KEK: refused, nothing changed.
    let refused = adopt_kek(&url, None, true).await;
    assert_eq!(refused.code, Some(2), "{}", refused.stdout);
    let message = serde_json::from_str::<Value>(refused.stdout.trim()).unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("SCIMITAR_KEY_ENCRYPTION_KEY"), "{message}");
    let db = open(&url).await;
    assert!(generated_kek(&db).await.is_some());
    assert_eq!(key_rows(&db).await.len(), 1);

    // With one: adopted, and said so.
    let adopted = adopt_kek(&url, Some(KEK), true).await.json();
    let configured = Kek::parse(KEK).unwrap();
    let new_kid = adopted["kid"].as_str().unwrap().to_string();
    assert_eq!(adopted["adopted"], true);
    assert_eq!(adopted["kek_id"], configured.id());
    assert_eq!(adopted["previous_kid"], old_kid);
    assert_ne!(new_kid, old_kid);
    assert_eq!(adopted["generation"], 2);
    assert_eq!(adopted["rewrapped"], serde_json::json!([old_kid]));
    assert_eq!(adopted["published"], serde_json::json!([new_kid, old_kid]));
    assert!(!adopted.to_string().contains(KEK));
    assert!(generated_kek(&db).await.is_none());
    let rows = key_rows(&db).await;
    assert!(rows.iter().all(|r| opens(&configured, r)));

    // Again: nothing to adopt, no rotation, success.
    let nothing = adopt_kek(&url, Some(KEK), false).await;
    assert_eq!(nothing.code, Some(0), "{}", nothing.stderr);
    assert!(
        nothing.stdout.starts_with("nothing to adopt"),
        "{}",
        nothing.stdout
    );
    let nothing = adopt_kek(&url, Some(KEK), true).await.json();
    assert_eq!(nothing["adopted"], false);
    assert_eq!(nothing["kid"], new_kid);
    assert_eq!(key_rows(&db).await, rows, "nothing changed");

    // "Nothing to adopt" does not hide a wrong KEK.
    let other = "another key-encryption key, long enough to pass";
    let wrong = adopt_kek(&url, Some(other), true).await;
    assert_eq!(wrong.code, Some(1), "{}", wrong.stdout);
    assert!(wrong.stdout.contains("SCIMITAR_KEY_ENCRYPTION_KEY"));
    assert!(!wrong.stdout.contains(other) && !wrong.stderr.contains(other));

    // A run without the KEK now refuses rather than generating a new one
    // (which would open nothing, and be adopted all over again).
    let rotate = run_cli(&url, None, None, &["keys", "rotate", "--json"], None).await;
    assert_eq!(rotate.code, Some(1), "{}", rotate.stdout);
    assert!(rotate.stdout.contains("SCIMITAR_KEY_ENCRYPTION_KEY"));
    assert!(generated_kek(&db).await.is_none());
    assert_eq!(key_rows(&db).await, rows);
    db.close().await;

    // A server started with the KEK after the command adopts nothing more.
    let app = TestApp::builder()
        .key_encryption_key(KEK)
        .start_on(url)
        .await;
    assert_eq!(kids(&jwks(&app).await), vec![new_kid, old_kid]);
}
