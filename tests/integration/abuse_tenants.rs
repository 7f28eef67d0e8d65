//! The abuse limits never lock out a good caller: two tenants (two
//! organizations) behind one address, as behind an identity provider's
//! shared egress, under the default limits. One hammers a revoked token
//! and floods unknown ones; the other's SCIM keeps working throughout.

use serde_json::json;

use crate::support::{Scim, TestApp, user};
use scimitar::config::DEFAULT_LIMITS;

/// An organization with a SCIM token, made as an operator would.
async fn tenant(app: &TestApp, name: &str) -> (String, String) {
    app.cli(&["--json", "org", "create", name]).await.json();
    let t = app
        .cli(&[
            "--json",
            "token",
            "create",
            "--org",
            name,
            "--name",
            "idp",
            "--permission",
            "scim:read",
            "--permission",
            "scim:write",
        ])
        .await
        .json();
    crate::capture::note_secret(t["token"].as_str().unwrap());
    (
        t["id"].as_str().unwrap().to_string(),
        t["token"].as_str().unwrap().to_string(),
    )
}

/// Tenant B reads and writes, and must get what a quiet server gives.
async fn b_still_works(b: &Scim<'_>, n: usize) {
    let r = b.get("/Users?count=1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = b.post("/Users", user(&format!("b-user-{n}"))).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn a_tenant_hammering_a_revoked_token_never_blocks_another_behind_the_same_address() {
    let app = TestApp::spawn().await;
    let (a_id, a_token) = tenant(&app, "tenant-a").await;
    let (_, b_token) = tenant(&app, "tenant-b").await;
    let b = Scim {
        app: &app,
        token: b_token,
    };
    app.cli(&["--json", "token", "revoke", "--org", "tenant-a", &a_id])
        .await
        .json();

    // Past the credential's failure limit, five times over, and past the
    // address's limit for unknown credentials.
    let per_credential = DEFAULT_LIMITS.auth_failures_per_credential as usize;
    let per_address = DEFAULT_LIMITS.auth_failures_per_address as usize;
    let hammer = per_credential * 5 + per_address;
    let (mut refused, mut throttled) = (0, 0);
    for i in 0..hammer {
        let r = app.get("/scim/v2/Users", &a_token).await;
        match r.status.as_u16() {
            401 => refused += 1,
            429 => throttled += 1,
            other => panic!("the revoked token got {other}: {}", r.text),
        }
        if i % 25 == 0 {
            b_still_works(&b, i).await;
        }
    }
    // Refused until its limit, then throttled cheaply (no more 401 records).
    assert_eq!(refused, per_credential);
    assert_eq!(throttled, hammer - per_credential);

    // A flood of unknown tokens from the same address blocks unknown
    // tokens, never tenant B's good one.
    let unknown =
        || scimitar::tokens::PlainToken::generate(scimitar::tokens::TokenKind::Sat).reveal();
    let mut last = 0;
    for _ in 0..per_address + 20 {
        last = app.get("/scim/v2/Users", &unknown()).await.status.as_u16();
    }
    assert_eq!(last, 429);
    b_still_works(&b, hammer + 1).await;
    let r = b
        .post(
            "/Bulk",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [{
                    "method": "POST", "path": "/Users", "bulkId": "x",
                    "data": user("b-bulk-user"),
                }],
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Tenant A's refusals are in tenant A's chain; tenant B's chain holds
    // only B's own calls, none refused.
    let b_org = app.org_of(&b.token).await;
    let b_records = app.audit_records(&b_org).await;
    assert!(
        b_records
            .iter()
            .all(|r| r["outcome"] == "success" || r["action"] == "org.create"),
        "{b_records:?}"
    );
}
