//! The action names the server's routes are registered with: the names the
//! request trail has always used, so that audit queries and exports keep
//! finding the same records. (The trail's use of them over HTTP is in
//! tests/integration/audit_trail_actions.rs.)

use super::router::routes;

/// The action registered for a method of a path pattern.
fn action(method: &str, path: &str) -> &'static str {
    let table = routes();
    let found: Vec<_> = table
        .table()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .collect();
    assert_eq!(found.len(), 1, "{method} {path}: {found:?}");
    found[0].action
}

#[test]
fn calls_are_named_after_the_resource() {
    let cases = [
        ("GET", "/scim/v2/Users", "scim.user.list"),
        ("GET", "/scim/v2/Users/{id}", "scim.user.read"),
        ("POST", "/scim/v2/Users/.search", "scim.user.search"),
        ("PATCH", "/scim/v2/Groups/{id}", "scim.group.patch"),
        ("PUT", "/scim/v2/Groups/{id}", "scim.group.replace"),
        ("POST", "/scim/v2/Bulk", "scim.bulk"),
        ("GET", "/scim/v2/Schemas", "scim.discovery.read"),
        ("GET", "/api/v1/audit-logs", "audit_logs.list"),
        ("GET", "/api/v1/audit-logs/export", "audit_logs.export"),
        ("GET", "/api/v1/audit-logs/{id}", "audit_logs.read"),
        (
            "POST",
            "/api/v1/service-access-tokens/{id}/rotate",
            "sat.rotate",
        ),
        ("GET", "/api/v1/service-access-tokens", "sat.list"),
        ("DELETE", "/api/v1/service-access-tokens/{id}", "sat.delete"),
        (
            "DELETE",
            "/api/v1/personal-access-tokens/{id}",
            "pat.delete",
        ),
        ("GET", "/api/v1/organization", "org.read"),
        ("GET", "/api/v1/tokens/self", "token.self"),
        ("POST", "/api/v1/tokens/introspect", "token.introspect"),
        ("POST", "/api/v1/auth/logout", "auth.logout"),
    ];
    for (method, path, want) in cases {
        assert_eq!(action(method, path), want, "{method} {path}");
    }
}

#[test]
fn console_calls_are_named_like_the_api_calls_they_mirror() {
    let cases = [
        ("GET", "/console/tokens", "sat.list"),
        ("POST", "/console/tokens", "sat.create"),
        ("POST", "/console/tokens/{id}/rotate", "sat.rotate"),
        ("GET", "/console/tokens/{id}/rotate", "sat.read"),
        ("GET", "/console/audit-logs", "audit_logs.list"),
        ("GET", "/console/audit-logs/export", "audit_logs.export"),
        ("GET", "/console/audit-logs/{id}", "audit_logs.read"),
        ("GET", "/console/tokens/new", "console.view"),
        ("GET", "/console", "console.view"),
        ("GET", "/console/", "console.view"),
    ];
    for (method, path, want) in cases {
        assert_eq!(action(method, path), want, "{method} {path}");
    }
}

/// Names are `noun.verb` (or deeper), lower case: what audit queries
/// filter on (`action=sat.*`).
#[test]
fn every_route_has_a_dotted_name() {
    let table = routes();
    assert!(!table.table().is_empty());
    for r in table.table() {
        let ok = r.action.split('.').count() >= 2
            && r.action.split('.').all(|part| {
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            });
        assert!(ok, "{} {}: {:?}", r.method, r.path, r.action);
    }
}
