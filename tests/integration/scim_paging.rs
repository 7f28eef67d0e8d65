//! Deep pages of unfiltered lists, which start from page anchors once the
//! anchors for the list's current version have been read: every page must
//! be the same slice of the list whichever way it was served, before and
//! after users are created and deleted.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{GROUP_SCHEMA, Scim, TestApp, user};

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// Creates `n` resources of `kind` ("Users" or "Groups") with one Bulk request.
async fn bulk_create(scim: &Scim<'_>, kind: &str, n: usize, tag: &str) {
    let ops: Vec<Value> = (0..n)
        .map(|i| {
            let data = match kind {
                "Users" => user(&format!("{tag}-{i:04}@example.com")),
                _ => json!({ "schemas": [GROUP_SCHEMA], "displayName": format!("{tag}-{i:04}") }),
            };
            json!({ "method": "POST", "path": format!("/{kind}"), "bulkId": format!("b{i}"), "data": data })
        })
        .collect();
    let r = scim
        .post("/Bulk", json!({ "schemas": [BULK], "Operations": ops }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let failed: Vec<&Value> = r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| !o["status"].as_str().unwrap_or("").starts_with('2'))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
}

/// The ids of one page, and totalResults.
async fn page(scim: &Scim<'_>, kind: &str, start_index: usize, count: usize) -> (Vec<String>, i64) {
    let r = scim
        .get(&format!(
            "/{kind}?startIndex={start_index}&count={count}&attributes=id"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    (ids, r.body["totalResults"].as_i64().unwrap())
}

/// The whole list in one page: a first page, which never uses anchors.
async fn whole(scim: &Scim<'_>, kind: &str) -> Vec<String> {
    let (ids, total) = page(scim, kind, 1, 1000).await;
    assert_eq!(ids.len() as i64, total);
    let mut sorted = ids.clone();
    sorted.sort_by_key(|id| uuid::Uuid::parse_str(id).unwrap());
    assert_eq!(ids, sorted, "the default order is by id");
    ids
}

/// Asks for several deep pages repeatedly, long enough for a background
/// rebuild of the anchors to finish, and checks each against `all`.
async fn check_deep_pages(scim: &Scim<'_>, kind: &str, all: &[String]) {
    let starts = [257, 300, 513, all.len() - 20, all.len(), all.len() + 5];
    for round in 0..8 {
        for &start in &starts {
            let (ids, total) = page(scim, kind, start, 50).await;
            assert_eq!(total, all.len() as i64);
            let from = (start - 1).min(all.len());
            let want = &all[from..(from + 50).min(all.len())];
            assert_eq!(ids, want, "{kind} startIndex={start}, round {round}");
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
}

#[tokio::test]
async fn deep_user_pages_are_the_same_slice_before_and_after_changes() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    bulk_create(&scim, "Users", 700, "first").await;
    let all = whole(&scim, "Users").await;
    assert!(all.len() >= 700);
    check_deep_pages(&scim, "Users", &all).await;

    // Deletes before the anchors' positions shift every later row.
    for i in [3, 280, 299, 520] {
        let r = scim.delete(&format!("/Users/{}", all[i])).await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    let all = whole(&scim, "Users").await;
    check_deep_pages(&scim, "Users", &all).await;

    // New users land at the end of the list.
    bulk_create(&scim, "Users", 300, "second").await;
    let all = whole(&scim, "Users").await;
    check_deep_pages(&scim, "Users", &all).await;
}

#[tokio::test]
async fn deep_group_pages_are_the_same_slice_before_and_after_changes() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    bulk_create(&scim, "Groups", 600, "team").await;
    let all = whole(&scim, "Groups").await;
    assert_eq!(all.len(), 600);
    check_deep_pages(&scim, "Groups", &all).await;

    for i in [0, 300] {
        let r = scim.delete(&format!("/Groups/{}", all[i])).await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    let all = whole(&scim, "Groups").await;
    check_deep_pages(&scim, "Groups", &all).await;
}
