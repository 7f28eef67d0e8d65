//! What every HTTP edge's part of the OpenAPI document shares: the
//! problem+json error (the schema of [`super::ApiError`]'s body), the bearer
//! security scheme, and [`CommonAnswers`], which gives each operation the
//! error answers that any request of its kind may get, so that a handler's
//! annotation lists only its own answers (its successes, a conflict).

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};
use utoipa::{Modify, ToSchema};

/// The name of the security scheme (`components.securitySchemes`).
pub const BEARER: &str = "bearer";

/// An error (RFC 9457). Other fields may follow the four standard ones.
#[derive(ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)]
pub struct Problem {
    /// `urn:scimitar:problem:<slug>`: `invalid-request`,
    /// `invalid-permission`, `unauthenticated`, `forbidden`,
    /// `address-not-allowed`, `password-change-required`, `not-found`,
    /// `method-not-allowed`, `conflict`, `payload-too-large`,
    /// `unsupported-media-type`, `too-many-requests`, `request-timeout`,
    /// `internal`, `unavailable`.
    #[schema(rename = "type", example = "urn:scimitar:problem:not-found")]
    kind: String,
    title: String,
    status: u16,
    /// What went wrong, for a person; never a secret.
    detail: String,
    /// On a 403 `forbidden`: the permission the credential lacks.
    missing_permission: Option<String>,
    /// On a 429: as the `Retry-After` header.
    retry_after_seconds: Option<u64>,
}

/// Adds the bearer scheme, and to every operation the problem answers it
/// may get and does not describe itself: 429, 500 and 503 for all; 401 and
/// 403 unless the operation is public; 400 when it takes parameters or a
/// body; 413 and 415 with a body; 404 with a path parameter.
pub struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <value>`: a Service Access Token \
                         (`scim_sat_…`), a Personal Access Token (`scim_pat_…`), or a \
                         session JWT from `POST /api/v1/auth/login`. The console's \
                         session cookie is not accepted here.",
                    ))
                    .build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            let has_id = path.contains('{');
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                add_common(op, has_id);
            }
        }
    }
}

fn add_common(op: &mut Operation, has_id: bool) {
    // `security: [{}]` marks a public operation.
    let public = op
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
    let body = op.request_body.is_some();
    let params = op.parameters.as_ref().is_some_and(|p| !p.is_empty()) || body;
    let mut statuses: Vec<(&str, &str)> = Vec::new();
    if params {
        statuses.push(("400", "The request is malformed or a value is out of range"));
    }
    if !public {
        statuses.push(("401", "No valid credential (`WWW-Authenticate: Bearer`)"));
        statuses.push((
            "403",
            "The credential lacks the permission (`missing_permission`), or is used from \
             outside its CIDR allowlist",
        ));
    }
    if has_id {
        statuses.push((
            "404",
            "No such resource in the caller's organization, or a malformed id",
        ));
    }
    if body {
        statuses.push(("413", "The body is larger than the server accepts"));
        statuses.push(("415", "The body is not `application/json`"));
    }
    statuses.push(("429", "An abuse limit refused the request (`Retry-After`)"));
    statuses.push(("500", "The server failed; the cause is logged, never sent"));
    statuses.push(("503", "The database is unreachable"));
    for (status, description) in statuses {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| problem(description).into());
    }
}

/// A problem answer with this description.
pub fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}
