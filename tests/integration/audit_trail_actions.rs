//! The request trail's action names, over real HTTP: a read, a search, an
//! export or a write refused before it changed anything is recorded under
//! the name its route was registered with, in the API, SCIM and the console
//! alike; an unknown route or an unsupported method records nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestApp;

/// How a call authenticates.
#[derive(Clone, Copy)]
enum Auth<'a> {
    Bearer(&'a str),
    /// The console's session cookie.
    Console(&'a str),
}

/// Sends a call with its own request id, by which its record is found.
async fn call(app: &TestApp, method: Method, path: &str, auth: Auth<'_>, request_id: &str) -> u16 {
    let mut req = app
        .client
        .request(method.clone(), app.url(path))
        .header("x-request-id", request_id);
    req = match auth {
        Auth::Bearer(token) => req.bearer_auth(token),
        Auth::Console(session) => req.header("cookie", format!("scimitar_console={session}")),
    };
    if method == Method::POST && path.starts_with("/scim/") {
        req = req
            .header("content-type", "application/scim+json")
            .body("{}");
    }
    req.send().await.expect("request sent").status().as_u16()
}

/// The records of the request with this id.
fn of_request<'a>(records: &'a [Value], request_id: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["request_id"] == request_id)
        .collect()
}

#[tokio::test]
async fn the_trail_names_each_call_as_its_route_was_registered() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    let scim = app.scim().await;
    let ws = app.create_workspace(&s, "prod").await;
    let (sat, _) = app
        .create_sat(
            &s,
            json!({ "name": "etl", "permissions": ["audit_logs:read"] }),
        )
        .await;
    let (_, gateway) = app
        .create_sat(
            &s,
            json!({ "name": "gateway", "permissions": ["tokens:introspect"] }),
        )
        .await;
    let unknown = "01890a5d-ac96-774b-bcce-b302099a8057";
    let (api, sc, console) = (
        Auth::Bearer(&s),
        Auth::Bearer(&scim.token),
        Auth::Console(&s),
    );

    let cases: Vec<(Method, String, Auth, &str)> = vec![
        // The management API.
        (
            Method::GET,
            "/api/v1/service-access-tokens".into(),
            api,
            "sat.list",
        ),
        (
            Method::GET,
            format!("/api/v1/service-access-tokens/{sat}"),
            api,
            "sat.read",
        ),
        (
            Method::POST,
            format!("/api/v1/service-access-tokens/{unknown}/rotate"),
            api,
            "sat.rotate",
        ),
        (
            Method::DELETE,
            format!("/api/v1/service-access-tokens/{unknown}"),
            api,
            "sat.delete",
        ),
        (
            Method::GET,
            "/api/v1/personal-access-tokens".into(),
            api,
            "pat.list",
        ),
        (Method::GET, "/api/v1/tokens/self".into(), api, "token.self"),
        (Method::GET, "/api/v1/organization".into(), api, "org.read"),
        (Method::GET, "/api/v1/members".into(), api, "member.list"),
        (
            Method::GET,
            "/api/v1/workspaces".into(),
            api,
            "workspace.list",
        ),
        (
            Method::HEAD,
            "/api/v1/workspaces".into(),
            api,
            "workspace.list",
        ),
        (
            Method::GET,
            format!("/api/v1/workspaces/{ws}"),
            api,
            "workspace.read",
        ),
        // The audit log API and the token authority.
        (
            Method::GET,
            "/api/v1/audit-logs".into(),
            api,
            "audit_logs.list",
        ),
        (
            Method::GET,
            "/api/v1/audit-logs/export".into(),
            api,
            "audit_logs.export",
        ),
        (
            Method::GET,
            "/api/v1/audit-logs/verify".into(),
            api,
            "audit_logs.verify",
        ),
        (
            Method::GET,
            "/api/v1/audit-logs/checkpoints".into(),
            api,
            "audit_logs.checkpoints",
        ),
        (
            Method::GET,
            "/api/v1/audit-logs/jwks".into(),
            api,
            "audit_logs.jwks",
        ),
        (
            Method::GET,
            format!("/api/v1/audit-logs/{unknown}"),
            api,
            "audit_logs.read",
        ),
        (
            Method::POST,
            "/api/v1/tokens/introspect".into(),
            Auth::Bearer(&gateway),
            "token.introspect",
        ),
        // SCIM.
        (Method::GET, "/scim/v2/Users".into(), sc, "scim.user.list"),
        (
            Method::GET,
            format!("/scim/v2/Users/{unknown}"),
            sc,
            "scim.user.read",
        ),
        (
            Method::POST,
            "/scim/v2/Users/.search".into(),
            sc,
            "scim.user.search",
        ),
        (Method::GET, "/scim/v2/Groups".into(), sc, "scim.group.list"),
        (
            Method::PATCH,
            format!("/scim/v2/Groups/{unknown}"),
            sc,
            "scim.group.patch",
        ),
        (Method::POST, "/scim/v2/.search".into(), sc, "scim.search"),
        (
            Method::GET,
            "/scim/v2/ServiceProviderConfig".into(),
            sc,
            "scim.discovery.read",
        ),
        (
            Method::GET,
            "/scim/v2/Schemas".into(),
            sc,
            "scim.discovery.read",
        ),
        (
            Method::GET,
            "/scim/v2/ResourceTypes/User".into(),
            sc,
            "scim.discovery.read",
        ),
        // The console, named like the API calls its pages mirror.
        (Method::GET, "/console/tokens".into(), console, "sat.list"),
        (
            Method::GET,
            "/console/tokens/new".into(),
            console,
            "console.view",
        ),
        (
            Method::GET,
            format!("/console/tokens/{sat}/rotate"),
            console,
            "sat.read",
        ),
        (
            Method::GET,
            format!("/console/tokens/{sat}/revoke"),
            console,
            "sat.read",
        ),
        // A form without its CSRF token, refused before it changed anything.
        (
            Method::POST,
            format!("/console/tokens/{sat}/revoke"),
            console,
            "sat.revoke",
        ),
        (
            Method::GET,
            "/console/workspaces".into(),
            console,
            "workspace.list",
        ),
        (
            Method::GET,
            "/console/audit-logs".into(),
            console,
            "audit_logs.list",
        ),
        (
            Method::GET,
            "/console/audit-logs/export".into(),
            console,
            "audit_logs.export",
        ),
        (
            Method::GET,
            "/console/audit-logs/verify".into(),
            console,
            "audit_logs.verify",
        ),
        (
            Method::GET,
            format!("/console/audit-logs/{unknown}"),
            console,
            "audit_logs.read",
        ),
    ];
    let mut statuses = Vec::new();
    for (i, (method, path, auth, _)) in cases.iter().enumerate() {
        statuses.push(call(&app, method.clone(), path, *auth, &format!("trail-{i}")).await);
    }

    let records = app.audit_records(&org).await;
    for (i, (method, path, _, action)) in cases.iter().enumerate() {
        let found = of_request(&records, &format!("trail-{i}"));
        assert_eq!(
            found.len(),
            1,
            "{method} {path} ({}): {found:?}",
            statuses[i]
        );
        let r = found[0];
        assert_eq!(r["action"], *action, "{method} {path}: {r}");
        assert_eq!(r["target_type"], "endpoint", "{r}");
        assert_eq!(r["target_id"], format!("{method} {path}"), "{r}");
        assert_eq!(r["http_status"], statuses[i], "{r}");
    }
}

#[tokio::test]
async fn unknown_routes_and_unsupported_methods_record_nothing() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    let scim = app.scim().await;
    let (api, sc, console) = (
        Auth::Bearer(&s),
        Auth::Bearer(&scim.token),
        Auth::Console(&s),
    );
    let cases = [
        (Method::GET, "/api/v1/nowhere", api, 404),
        (Method::PUT, "/api/v1/members", api, 405),
        (Method::POST, "/api/v1/audit-logs/export", api, 405),
        (Method::GET, "/scim/v2/Nowhere", sc, 404),
        (Method::DELETE, "/scim/v2/Schemas", sc, 405),
        (Method::GET, "/scim/v2/Me", sc, 501),
        (Method::GET, "/console/nowhere", console, 404),
        (Method::PUT, "/console/tokens", console, 405),
        (Method::GET, "/nowhere", api, 404),
    ];
    for (i, (method, path, auth, status)) in cases.iter().enumerate() {
        let got = call(&app, method.clone(), path, *auth, &format!("none-{i}")).await;
        assert_eq!(got, *status, "{method} {path}");
    }
    for chain in [org.as_str(), "unattributed"] {
        let records = app.audit_records(chain).await;
        for (i, (method, path, ..)) in cases.iter().enumerate() {
            let found = of_request(&records, &format!("none-{i}"));
            assert!(found.is_empty(), "{method} {path}: {found:?}");
        }
    }
}
