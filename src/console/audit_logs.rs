//! Audit Logs: the organization's records with the Audit Log API's filters
//! (time range, actor, action, target, outcome, kind: changes and refusals
//! unless asked otherwise), newest first with cursor
//! pagination, a record's detail, export (the same as the API's) and the
//! result of chain verification.

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use maud::{Markup, html};

use super::error::ConsoleError;
use super::layout::{self, Nav, Section, time};
use super::session::{Admin, ConsolePath, FormData};
use crate::audit::{self, AuditQuery, RawQuery, StoredEvent};
use crate::http::{ApiError, AppState, download};
use crate::permissions::Action;

const PAGE_SIZE: i64 = 50;

/// The filter fields of the page, in form order.
const FILTERS: [&str; 9] = [
    "since",
    "until",
    "actor_type",
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "kind",
];

/// What the page shows unless asked otherwise: the changes and the
/// refusals, not the reads (every page view is one).
const DEFAULT_KINDS: &str = "change,refusal";

/// The kind filter's choices: the API's `kind`, or `all` for no filter.
const KIND_CHOICES: [(&str, &str); 5] = [
    (DEFAULT_KINDS, "Changes and refusals"),
    ("change", "Changes"),
    ("refusal", "Refusals"),
    ("read", "Reads"),
    ("all", "Everything"),
];

/// The chain of the admin's organization.
fn chain_of(admin: &Admin) -> String {
    audit::org_chain(admin.caller.org_id())
}

fn nav(admin: &Admin) -> Nav<'_> {
    Nav {
        user: admin.user_name(),
        csrf: &admin.csrf,
        section: Section::AuditLogs,
    }
}

/// A `datetime-local` value (`2026-11-29T12:40`, no zone) is taken as UTC;
/// an RFC 3339 value passes as is.
fn as_rfc3339(v: &str) -> String {
    let v = v.trim();
    let zoned =
        v.ends_with('Z') || v.ends_with('z') || v.get(19..).is_some_and(|t| t.contains(['+', '-']));
    match v.len() {
        16 if !zoned => format!("{v}:00Z"),
        19 if !zoned => format!("{v}Z"),
        _ => v.to_string(),
    }
}

/// The API's query from the page's query string.
fn raw_query(q: &FormData) -> RawQuery {
    let t = |k: &str| q.text(k);
    RawQuery {
        since: t("since").map(|v| as_rfc3339(&v)),
        until: t("until").map(|v| as_rfc3339(&v)),
        actor_type: t("actor_type"),
        actor_id: t("actor_id"),
        action: t("action"),
        target_type: t("target_type"),
        target_id: t("target_id"),
        outcome: t("outcome"),
        kind: match t("kind").as_deref() {
            None => Some(DEFAULT_KINDS.into()),
            Some("all") => None,
            Some(k) => Some(k.to_string()),
        },
        ..RawQuery::default()
    }
}

/// The page's filters as a query string, with `extra` appended.
fn filter_query(q: &FormData, extra: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, String)> = FILTERS
        .iter()
        .filter_map(|k| q.text(k).map(|v| (*k, v)))
        .collect();
    pairs.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    serde_urlencoded::to_string(&pairs).unwrap_or_default()
}

fn filters_form(q: &FormData) -> Markup {
    let v = |k: &str| q.get(k).unwrap_or("").to_string();
    let select = |name: &str, label: &str, options: &[(&str, &str)]| {
        let current = q
            .get(name)
            .unwrap_or(if name == "kind" { DEFAULT_KINDS } else { "" })
            .to_string();
        html! {
            div class="field" {
                label for=(name) { (label) }
                select id=(name) name=(name) {
                    @for (value, text) in options {
                        option value=(value) selected[current == *value] { (text) }
                    }
                }
            }
        }
    };
    let text = |name: &str, label: &str, hint: &str| {
        html! {
            div class="field" {
                label for=(name) { (label) }
                input id=(name) name=(name) type="text" value=(v(name)) placeholder=(hint);
            }
        }
    };
    html! {
        form method="get" action="/console/audit-logs" class="filters" aria-label="Filter records" {
            div class="field" {
                label for="since" { "From (UTC)" }
                input id="since" name="since" type="text" value=(v("since")) placeholder="2026-01-01T00:00:00Z";
            }
            div class="field" {
                label for="until" { "Until (UTC)" }
                input id="until" name="until" type="text" value=(v("until")) placeholder="2026-12-31T00:00:00Z";
            }
            (select("actor_type", "Actor kind", &[("", "Any"), ("sat", "sat"), ("pat", "pat"), ("member_session", "member_session"), ("operator", "operator"), ("anonymous", "anonymous")]))
            (text("actor_id", "Actor id", "token or member id"))
            (text("action", "Action", "sat.create or sat.*"))
            (text("target_type", "Target type", "sat, workspace, member…"))
            (text("target_id", "Target id", ""))
            (select("outcome", "Outcome", &[("", "Any"), ("success", "Success"), ("failure", "Failure")]))
            (select("kind", "Show", &KIND_CHOICES))
            div class="buttons" {
                button type="submit" class="primary" { "Apply filters" }
                a href="/console/audit-logs" { "Clear" }
            }
        }
    }
}

fn actor(r: &StoredEvent) -> Markup {
    let who = r
        .actor_display
        .clone()
        .or_else(|| r.actor_id.clone())
        .unwrap_or_else(|| "—".into());
    html! {
        (who) br; span class="muted small" { (r.actor_kind) }
        @if r.reported_by.is_some() { span class="muted small" { " · reported by a service" } }
    }
}

fn target(r: &StoredEvent) -> Markup {
    match (
        &r.target_type,
        r.target_display.as_ref().or(r.target_id.as_ref()),
    ) {
        (None, None) => html! { span class="none" { "—" } },
        (t, name) => html! {
            (name.cloned().unwrap_or_default())
            @if let Some(t) = t { br; span class="muted small" { (t) } }
        },
    }
}

fn outcome(r: &StoredEvent) -> Markup {
    let class = if r.outcome == "success" {
        "badge ok"
    } else {
        "badge bad"
    };
    html! { span class=(class) { (r.outcome) } }
}

/// `GET /console/audit-logs`: one page, newest first.
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    uri: Uri,
) -> Result<Response, ConsoleError> {
    admin.caller.require(&state, Action::ReadAuditLogs).await?;
    let q = FormData::from_query(uri.query());
    let mut raw = raw_query(&q);
    raw.order = Some("desc".into());
    raw.limit = Some(PAGE_SIZE.to_string());
    raw.cursor = q.text("cursor");
    let chain = chain_of(&admin);
    let query = match AuditQuery::parse(&raw) {
        Ok(query) => match query.check_cursor(&state.db, &chain).await {
            Ok(()) => Ok(query),
            Err(audit::AuditError::Invalid(e)) => Err(e),
            Err(e) => return Err(ApiError::from(e).into()),
        },
        Err(e) => Err(e.to_string()),
    };
    let (records, error) = match query {
        Ok(query) => (
            query
                .page(&state.db, &chain)
                .await
                .map_err(ApiError::from)?,
            None,
        ),
        Err(e) => (Vec::new(), Some(e)),
    };
    let next = (records.len() as i64 == PAGE_SIZE)
        .then(|| records.last().map(|r| r.seq.to_string()))
        .flatten();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = html! {
        h1 { "Audit Logs" }
        p class="lead" { "Every change and every refused request in your organization, in a tamper-evident hash chain." }
        (filters_form(&q))
        @if let Some(e) = &error { (layout::form_error(e)) }
        p class="buttons" {
            a class="button" href={ "/console/audit-logs/export?" (filter_query(&q, &[("format", "ndjson")])) } { "Export NDJSON" }
            a class="button" href={ "/console/audit-logs/export?" (filter_query(&q, &[("format", "csv")])) } { "Export CSV" }
            a class="button" href="/console/audit-logs/verify" { "Verify chain" }
        }
        @if records.is_empty() && error.is_none() {
            p class="empty" { "No records match." }
        } @else if !records.is_empty() {
            div class="scroll" {
                table class="audit cards" {
                    caption { "Audit records, newest first" }
                    thead { tr {
                        th scope="col" { "When" } th scope="col" { "Actor" } th scope="col" { "Action" }
                        th scope="col" { "Target" } th scope="col" { "Outcome" } th scope="col" { "Source address" }
                    } }
                    tbody {
                        @for r in &records {
                            tr data-action=(r.action) {
                                td data-label="When" { div { a href={ "/console/audit-logs/" (r.id) } aria-label={ "Record " (r.seq) ", " (r.action) } { (time(Some(r.occurred_at))) } } }
                                td data-label="Actor" { div { (actor(r)) } }
                                td data-label="Action" { div { code { (r.action) } } }
                                td data-label="Target" { div { (target(r)) } }
                                td data-label="Outcome" { div { (outcome(r)) } }
                                td class="mono small" data-label="Source address" { div { (r.source_ip.clone().unwrap_or_default()) } }
                            }
                        }
                    }
                }
            }
        }
        nav class="pager" aria-label="Pages" {
            @if q.text("cursor").is_some() {
                a href={ "/console/audit-logs?" (filter_query(&q, &[])) } { "Newest" }
            }
            @if let Some(n) = &next {
                a href={ "/console/audit-logs?" (filter_query(&q, &[("cursor", n)])) } rel="next" { "Older records" }
            }
        }
    };
    let page = layout::page("Audit Logs", Some(nav(&admin)), body);
    Ok(layout::respond(status, page))
}

/// `GET /console/audit-logs/{id}`: every field of one record.
pub async fn detail(
    State(state): State<AppState>,
    admin: Admin,
    ConsolePath(id): ConsolePath<String>,
) -> Result<Response, ConsoleError> {
    admin.caller.require(&state, Action::ReadAuditLogs).await?;
    let not_found = || ConsoleError::Api(ApiError::NotFound("audit record".into()));
    let id = uuid::Uuid::parse_str(&id).map_err(|_| not_found())?;
    let r = audit::find_record(&state.db, &chain_of(&admin), id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(not_found)?;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    let changes = r
        .changes
        .as_deref()
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
        .and_then(|v| serde_json::to_string_pretty(&v).ok());
    let hex = |b: &[u8]| crate::store::settings::to_hex(b);
    // The reporting service of an event a workspace service reported: its
    // SAT's name, when the token is still there to name it.
    let reporter = match r.reported_by.as_deref() {
        Some(id) => {
            let name = match (crate::tokens::TokenId::parse(id), r.org_id) {
                (Some(tid), Some(org)) => {
                    crate::tokens::get(&state.db, org, &tid, crate::store::Timestamp::now())
                        .await
                        .ok()
                        .map(|t| t.name)
                }
                _ => None,
            };
            Some((id.to_string(), name))
        }
        None => None,
    };
    let body = html! {
        nav aria-label="Breadcrumb" class="crumbs" { a href="/console/audit-logs" { "Audit Logs" } (layout::sep()) "Record " (r.seq) }
        h1 { code { (r.action) } }
        dl class="summary" {
            dt { "When" } dd { (time(Some(r.occurred_at))) }
            dt { "Outcome" } dd { (outcome(&r)) @if let Some(reason) = &r.reason { " " (reason) } }
            dt { "HTTP status" } dd { (r.http_status.map(|s| s.to_string()).unwrap_or_else(|| "—".into())) }
            dt { "Actor kind" } dd { (r.actor_kind) }
            dt { "Actor id" } dd class="mono" { (opt(&r.actor_id)) }
            dt { "Actor" } dd { (opt(&r.actor_display)) }
            dt { "Target type" } dd { (opt(&r.target_type)) }
            dt { "Target id" } dd class="mono" { (opt(&r.target_id)) }
            dt { "Target" } dd { (opt(&r.target_display)) }
            @if let Some((id, name)) = &reporter {
                dt { "Reported by" } dd {
                    (name.clone().unwrap_or_else(|| "a service token".into()))
                    " " span class="mono small" { (id) }
                    br; span class="muted small" { "the workspace service that reported this event" }
                }
            }
            dt { "Workspace" } dd class="mono" { (r.workspace_id.map(|w| w.to_string()).unwrap_or_else(|| "—".into())) }
            dt { "Source address" } dd class="mono" { (opt(&r.source_ip)) }
            dt { "User agent" } dd { (opt(&r.user_agent)) }
            dt { "Request id" } dd class="mono" { (opt(&r.request_id)) }
            dt { "Record id" } dd class="mono" { (r.id) }
            dt { "Sequence" } dd { (r.seq) }
            dt { "Previous hash" } dd class="mono small wrap" { (hex(&r.prev_hash)) }
            dt { "Hash" } dd class="mono small wrap" { (hex(&r.hash)) }
        }
        h2 { "Changes" }
        @match changes {
            Some(c) => pre class="changes" { (c) },
            None => p class="none" { "None." },
        }
    };
    let page = layout::page("Audit record", Some(nav(&admin)), body);
    Ok(layout::respond(StatusCode::OK, page))
}

/// `GET /console/audit-logs/export?…&format=ndjson|csv`: the same export as
/// the API's, with the page's filters.
pub async fn export(
    State(state): State<AppState>,
    admin: Admin,
    uri: Uri,
) -> Result<Response, ConsoleError> {
    let q = FormData::from_query(uri.query());
    admin.caller.require(&state, Action::ReadAuditLogs).await?;
    let (format, query) =
        audit::parse_export(q.text("format").as_deref(), &raw_query(&q)).map_err(ApiError::from)?;
    let chunks = audit::stream_records(state.db.clone(), chain_of(&admin), query, format);
    let body = Body::from_stream(chunks);
    Ok(download::attachment(
        format.media_type(),
        format.file_name(),
        body,
    ))
}

fn opt_num(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_else(|| "—".into())
}

/// `GET /console/audit-logs/verify`: verifies the whole chain against its
/// signed checkpoints, as the API's verify does.
pub async fn verify(State(state): State<AppState>, admin: Admin) -> Result<Response, ConsoleError> {
    admin.caller.require(&state, Action::ReadAuditLogs).await?;
    let nav = nav(&admin);
    let jwks = state.signer.jwks();
    let report = audit::verify_range(&state.db, &chain_of(&admin), 1, None, &jwks)
        .await
        .map_err(ApiError::from)?;
    let body = html! {
        nav aria-label="Breadcrumb" class="crumbs" { a href="/console/audit-logs" { "Audit Logs" } (layout::sep()) "Chain verification" }
        h1 { "Chain verification" }
        @if report.ok {
            p class="notice ok" role="status" id="verify-result" {
                strong { "Chain intact. " } "Every record's hash was recomputed, every link checked, and every signed checkpoint matched."
            }
        } @else if let Some(b) = &report.first_break {
            div class="error" role="alert" id="verify-result" {
                p { strong { "Chain broken: " } (b.detail) }
                dl class="summary" {
                    dt { "Kind" } dd { code { (b.kind) } }
                    dt { "Sequence" } dd { (opt_num(b.seq)) }
                    dt { "Expected" } dd class="mono small wrap" { (b.expected.clone().unwrap_or_else(|| "—".into())) }
                    dt { "Found" } dd class="mono small wrap" { (b.found.clone().unwrap_or_else(|| "—".into())) }
                }
            }
        }
        dl class="summary" {
            dt { "Records checked" } dd { (report.records) }
            dt { "From sequence" } dd { (opt_num(report.first_seq)) }
            dt { "Last sequence" } dd { (opt_num(report.last_seq)) }
            dt { "Chain head" } dd { (opt_num(report.head)) }
            dt { "Signed checkpoints verified" } dd { (report.checkpoints_verified) }
            dt { "Signed through sequence" } dd { (opt_num(report.attested_through)) }
            dt { "Anchored" } dd { (if report.anchored { "yes: the first record links to its predecessor or a signed checkpoint" } else { "no: older records were removed by retention" }) }
        }
        p { "For an independent check, export NDJSON and run " code { "scimitar audit verify" } " offline with the signed checkpoints." }
    };
    let page = layout::page("Chain verification", Some(nav), body);
    Ok(layout::respond(StatusCode::OK, page))
}

#[cfg(test)]
mod tests {
    use super::as_rfc3339;

    #[test]
    fn local_times_from_the_form_are_utc() {
        assert_eq!(as_rfc3339("2026-11-29T12:40"), "2026-11-29T12:40:00Z");
        assert_eq!(as_rfc3339("2026-11-29T12:40:05"), "2026-11-29T12:40:05Z");
        assert_eq!(as_rfc3339("2026-11-29T12:40:05Z"), "2026-11-29T12:40:05Z");
        assert_eq!(
            as_rfc3339("2026-11-29T12:40:05+02:00"),
            "2026-11-29T12:40:05+02:00"
        );
    }
}
