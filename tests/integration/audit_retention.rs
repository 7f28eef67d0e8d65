//! Retention: old records go, up to a signed checkpoint, and the chain
//! still verifies from the oldest record kept.

use std::time::Duration;

use crate::support::{TestApp, eventually};

#[tokio::test]
async fn purged_chains_still_verify_from_their_checkpoint() {
    let app = TestApp::builder()
        .checkpoint_every(5, Duration::from_secs(3600))
        .start()
        .await;
    let s = app.admin_session().await;
    for i in 0..12 {
        app.create_workspace(&s, &format!("w{i}")).await;
    }
    let org = app.get("/api/v1/tokens/self", &s).await.body["org_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Wait for checkpoints to cover most of the chain.
    let covered = eventually(Duration::from_secs(10), || async {
        let r = app.get("/api/v1/audit-logs/checkpoints", &s).await;
        r.body["checkpoints"]
            .as_array()
            .is_some_and(|c| c.len() >= 2)
    })
    .await;
    assert!(covered, "checkpoints were signed");
    let checkpoints =
        app.get("/api/v1/audit-logs/checkpoints", &s).await.body["checkpoints"].clone();
    let boundary = checkpoints[1]["seq"].as_i64().unwrap();

    // Everything up to a little past the second checkpoint counts as old:
    // deletion still stops at the checkpoint.
    let records = app.audit_records(&org).await;
    let past = records.iter().find(|r| r["seq"] == boundary + 2).unwrap();
    let cutoff = scimitar::store::Timestamp::parse_rfc3339(past["occurred_at"].as_str().unwrap())
        .unwrap()
        + time::Duration::microseconds(1);
    // The filter index holds the whole chain, so that its entries go too.
    scimitar::audit::filter_index::catch_up(app.db())
        .await
        .unwrap();
    let deleted = scimitar::audit::retention::purge_chain(app.db(), &org, cutoff)
        .await
        .unwrap();
    assert_eq!(
        deleted as i64, boundary,
        "deleted up to the newest checkpoint that is old enough, no further"
    );

    // The filter index forgets what was purged, and a filtered query
    // answers from what is kept.
    let oldest_indexed: Option<i64> = scimitar::on_db!(app.db(), pool => {
        sqlx::query_scalar("SELECT MIN(seq) FROM audit_index WHERE chain = $1")
            .bind(&org)
            .fetch_one(pool)
            .await
    })
    .unwrap();
    assert_eq!(oldest_indexed, Some(boundary + 1));
    let created = app
        .get("/api/v1/audit-logs?action=workspace.create&limit=100", &s)
        .await;
    let seqs: Vec<i64> = created.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_i64().unwrap())
        .collect();
    let kept_creates = records
        .iter()
        .filter(|r| r["action"] == "workspace.create" && r["seq"].as_i64().unwrap() > boundary)
        .count();
    assert_eq!(seqs.len(), kept_creates, "{}", created.text);
    assert!(seqs.iter().all(|seq| *seq > boundary), "{seqs:?}");

    let report = app.get("/api/v1/audit-logs/verify", &s).await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(report.body["ok"], true, "{}", report.text);
    assert_eq!(report.body["first_seq"], boundary + 1);
    assert_eq!(
        report.body["anchored"], true,
        "anchored by the checkpoint: {}",
        report.text
    );

    // Tampering with the oldest kept record is still caught.
    scimitar::on_db!(app.db(), pool => {
        sqlx::query("UPDATE audit_events SET prev_hash = hash WHERE chain = $1 AND seq = $2")
            .bind(&org)
            .bind(boundary + 1)
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    let broken = app.get("/api/v1/audit-logs/verify", &s).await;
    assert_eq!(broken.body["ok"], false, "{}", broken.text);
}

#[tokio::test]
async fn retention_is_set_per_organization() {
    let app = TestApp::spawn().await;
    let out = app
        .cli(&["org", "set-audit-retention", "default", "30", "--json"])
        .await
        .json();
    assert_eq!(out["audit_retention_days"], 30);
    assert_eq!(
        app.cli(&["org", "set-audit-retention", "default", "0"])
            .await
            .code,
        Some(2)
    );
}
