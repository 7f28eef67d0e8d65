//! The OpenAPI 3.1 document of `/api/v1`, assembled from each edge's part
//! (`admin_api`, `audit_api`, `oauth`: their handlers' `#[utoipa::path]`
//! annotations) and served at `GET /api/v1/openapi.json`. `docs/openapi.json`
//! is a snapshot of it, kept in step by a test here, which also checks that
//! every `/api/v1` route the router serves is described, with its method.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

use crate::http::openapi::{CommonAnswers, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "scimitar admin API",
        description = "The admin API, Audit Log API and token authority of scimitar, under \
            `/api/v1`. Errors are `application/problem+json` (RFC 9457) unless stated. SCIM 2.0 \
            is served under `/scim/v2` and described by its own discovery endpoints \
            (`/scim/v2/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`).",
        license(name = "See the repository"),
    ),
    paths(openapi_json),
    components(schemas(Problem)),
    tags(
        (name = "Authentication", description = "Sign-in, password change, sign-out"),
        (name = "Service Access Tokens", description = "Tokens for services and identity providers"),
        (name = "Personal Access Tokens", description = "An admin's own tokens"),
        (name = "Tokens", description = "What a credential is"),
        (name = "Organization", description = "The caller's organization"),
        (name = "Members", description = "Members of the organization"),
        (name = "Workspaces", description = "Workspaces of the organization"),
        (name = "Group mappings", description = "SCIM groups mapped to the admin role or to workspace permissions"),
        (name = "Permissions", description = "The permission catalogue"),
        (name = "Single sign-on", description = "The organization's OpenID Connect configuration"),
        (name = "Audit streams", description = "The audit log streamed to a SIEM"),
        (name = "Audit logs", description = "The tamper-evident audit log"),
        (name = "Token authority", description = "Introspection and exchange for workspace services"),
        (name = "Meta", description = "This document"),
    ),
    security(("bearer" = []))
)]
struct Root;

/// The document, built once.
pub fn document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(|| {
        let api = crate::admin_api::AdminApi::openapi()
            .merge_from(crate::audit_api::AuditApi::openapi())
            .merge_from(crate::oauth::OAuthApi::openapi())
            .merge_from(crate::sso_login::SsoLoginApi::openapi());
        let mut doc = Root::openapi().nest("/api/v1", api);
        // Once every operation is in, so that each gets its common answers.
        CommonAnswers.modify(&mut doc);
        name_operations(&mut doc);
        doc
    })
}

/// Each operation's id is the audit action its route is registered with
/// (`sat.create`): the name its calls have in the audit log too. Routes
/// that share an action (the SSO round trip's two, `auth.sso`) add their
/// path's last segment, since operation ids must be unique.
fn name_operations(doc: &mut Document) {
    let routes = super::router::routes();
    let documented: Vec<_> = routes
        .table()
        .iter()
        .filter(|r| doc.paths.paths.contains_key(&r.path))
        .collect();
    for r in &documented {
        let shared = documented.iter().filter(|o| o.action == r.action).count() > 1;
        let id = match r.path.rsplit('/').next() {
            Some(last) if shared => format!("{}.{last}", r.action),
            _ => r.action.to_string(),
        };
        let Some(item) = doc.paths.paths.get_mut(&r.path) else {
            continue;
        };
        let op = match r.method {
            "GET" => item.get.as_mut(),
            "POST" => item.post.as_mut(),
            "PUT" => item.put.as_mut(),
            "PATCH" => item.patch.as_mut(),
            "DELETE" => item.delete.as_mut(),
            _ => None,
        };
        if let Some(op) = op {
            op.operation_id = Some(id);
        }
    }
}

/// The document as the snapshot holds it.
pub fn to_json() -> String {
    let mut text = document()
        .to_pretty_json()
        .expect("the document serializes");
    text.push('\n');
    text
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "Meta",
    summary = "This document",
    description = "The OpenAPI 3.1 description of `/api/v1`. Public: no credential.",
    responses((status = 200, description = "The document", content_type = "application/json")),
    security(())
)]
pub async fn openapi_json() -> Response {
    let mut resp = to_json().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const SNAPSHOT: &str = "docs/openapi.json";
    const REGENERATE: &str = "SCIMITAR_UPDATE_OPENAPI";

    /// `docs/openapi.json` is what the server serves. On drift the test
    /// fails; `SCIMITAR_UPDATE_OPENAPI=1 cargo test --lib openapi` rewrites
    /// the snapshot (then review and commit the diff).
    #[test]
    fn the_committed_document_is_the_served_one() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
        let now = to_json();
        if std::env::var_os(REGENERATE).is_some() {
            std::fs::write(&path, &now).expect("snapshot written");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != now {
            let line = committed
                .lines()
                .zip(now.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(now.lines().count()))
                + 1;
            panic!(
                "{SNAPSHOT} is out of step with the code (first difference at line {line}).\n\
                 Regenerate it with `{REGENERATE}=1 cargo test --lib openapi`, review the diff \
                 and commit it."
            );
        }
    }

    /// Every `/api/v1` route the router serves is in the document with its
    /// method, and the document describes no route that is not served. A
    /// new route fails this until its handler is annotated and listed in
    /// its edge's `doc.rs` (see docs/development.md).
    #[test]
    fn every_api_route_is_described_with_its_method() {
        let doc = serde_json::to_value(document()).unwrap();
        let paths = doc["paths"].as_object().expect("paths");
        let routes = super::super::router::routes();
        let mut served = std::collections::BTreeSet::new();
        let mut missing = Vec::new();
        for r in routes.table() {
            if !r.path.starts_with("/api/v1/") {
                continue;
            }
            let method = r.method.to_ascii_lowercase();
            served.insert((r.path.clone(), method.clone()));
            if paths.get(&r.path).and_then(|p| p.get(&method)).is_none() {
                missing.push(format!("{} {}", r.method, r.path));
            }
        }
        assert!(
            missing.is_empty(),
            "routes the OpenAPI document does not describe (annotate the handler with \
             #[utoipa::path], list it in its edge's doc.rs and regenerate docs/openapi.json: \
             see docs/development.md, OpenAPI): {missing:?}"
        );
        let mut extra = Vec::new();
        for (path, item) in paths {
            for method in item.as_object().unwrap().keys() {
                if !served.contains(&(path.clone(), method.clone())) {
                    extra.push(format!("{method} {path}"));
                }
            }
        }
        assert!(
            extra.is_empty(),
            "the document describes routes nobody serves: {extra:?}"
        );
    }

    /// Each operation names who may call it: a permission, or that it is
    /// public or needs none.
    #[test]
    fn every_operation_names_what_it_requires() {
        let doc = serde_json::to_value(document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let text = op["description"].as_str().unwrap_or_default();
                let public = op["security"] == serde_json::json!([{}]);
                let named = text.contains("Requires")
                    || text.contains("No permission")
                    || (public && text.contains("Public"))
                    || (public && text.contains("authenticates the request itself"));
                assert!(named, "{method} {path}: {text:?}");
                for status in ["429", "500"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path} lacks {status}"
                    );
                }
            }
        }
    }
}
