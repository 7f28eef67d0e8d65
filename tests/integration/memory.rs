//! A running server gives back the memory a burst of work used: after a
//! Bulk import its resident size falls back within seconds
//! (`app::memory`), by at least a quarter of what the import added (the
//! rest is what the server keeps on purpose: the writer's page cache
//! grows with the database). Measured on a `scimitar serve` process of its
//! own, whose size nothing else in the test run moves.

use std::time::Duration;

use serde_json::{Value, json};

use crate::instances::{Instance, KEK};
use crate::support::{drop_database, eventually, fresh_database_url, read, run_cli};

/// The resident size of process `pid`, in KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// A Bulk request creating `count` users, the `from`th on.
fn bulk_of_users(from: usize, count: usize) -> Value {
    let operations: Vec<Value> = (from..from + count)
        .map(|i| {
            json!({
                "method": "POST",
                "path": "/Users",
                "bulkId": format!("u{i}"),
                "data": {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("user.{i:07}@corp.example.org"),
                    "externalId": format!("ext-{i:07}"),
                    "name": {"givenName": "Given", "familyName": format!("Family{i}")},
                    "displayName": format!("User {i}"),
                    "active": true,
                    "emails": [{"value": format!("user.{i:07}@corp.example.org"), "type": "work", "primary": true}],
                },
            })
        })
        .collect();
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": operations,
    })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[tokio::test]
async fn a_bulk_import_gives_its_memory_back() {
    let url = fresh_database_url().await;
    let server = Instance::start(&url).await;
    let pid = server.child.id();
    let created = run_cli(
        &url,
        None,
        Some(KEK),
        &[
            "token",
            "create",
            "--org",
            "default",
            "--name",
            "importer",
            "--permission",
            "scim:write",
            "--json",
        ],
        None,
    )
    .await
    .json();
    let sat = created["token"].as_str().unwrap().to_string();
    let client = crate::support::http_client();

    let before = resident_kib(pid);
    for request in 0..3 {
        let r = read(
            client
                .post(format!("{}/scim/v2/Bulk", server.base))
                .bearer_auth(&sat)
                .header("content-type", "application/scim+json")
                .json(&bulk_of_users(request * 1000, 1000))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let statuses: Vec<&str> = r.body["Operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["status"].as_str().unwrap())
            .collect();
        assert!(statuses.iter().all(|s| *s == "201"), "{statuses:?}");
    }
    let after = resident_kib(pid);
    // Without this the test below would prove nothing.
    assert!(
        after > before + 8 * 1024,
        "the import grew the server by {} KiB only",
        after.saturating_sub(before)
    );

    let given_back = eventually(Duration::from_secs(5), || async {
        resident_kib(pid) < after - (after - before) / 4
    })
    .await;
    assert!(
        given_back,
        "resident {} KiB before the import, {after} KiB after it, {} KiB five seconds later",
        before,
        resident_kib(pid)
    );
    drop(server);
    drop_database(&url);
}
