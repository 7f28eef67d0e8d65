//! Audit streams: each stream's delivery status (last delivered record,
//! lag, last error) and the create form, through the same use cases as
//! `/api/v1/audit-streams` (`use_cases::audit_streams`). A new stream's
//! signing secret is shown on the page that answers the form, once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::error::{ConsoleError, is_form_mistake, refusal_message, refusal_status};
use super::layout::{self, Nav, Section, csrf_field, form_error, notice, time};
use super::session::{Admin, CsrfForm};
use crate::audit::stream::AuditStream;
use crate::http::AppState;
use crate::use_cases::audit_streams::{self, NewAuditStream};

fn nav(admin: &Admin) -> Nav<'_> {
    Nav {
        user: admin.user_name(),
        csrf: &admin.csrf,
        section: Section::AuditStreams,
    }
}

fn status_table(list: &[AuditStream]) -> Markup {
    html! {
        div class="scroll" {
            table {
                caption { "Audit streams and their delivery" }
                thead {
                    tr {
                        th scope="col" { "Receiver" }
                        th scope="col" { "Format" }
                        th scope="col" { "Filter" }
                        th scope="col" { "State" }
                        th scope="col" { "Last delivered" }
                        th scope="col" { "Lag" }
                        th scope="col" { "Last error" }
                    }
                }
                tbody {
                    @for s in list {
                        tr {
                            td class="mono small" { (s.url) }
                            td { (s.format.as_str()) }
                            td class="small" {
                                @match (&s.filter.action, &s.filter.outcome) {
                                    (None, None) => { "every record" }
                                    (a, o) => {
                                        @if let Some(a) = a { "action " code { (a) "*" } " " }
                                        @if let Some(o) = o { "outcome " code { (o) } }
                                    }
                                }
                            }
                            td {
                                @if !s.enabled { "paused" }
                                @else if s.status.last_error.is_some() { strong { "retrying" } }
                                @else { "delivering" }
                            }
                            td {
                                @match s.status.last_delivered_seq {
                                    Some(seq) => { "seq " (seq) br; (time(s.status.last_delivered_at)) }
                                    None => { span class="none" { "nothing yet" } }
                                }
                            }
                            td { (s.status.lag) @if s.status.lag == 1 { " record" } @else { " records" } }
                            td class="small" {
                                @match &s.status.last_error {
                                    Some(e) => {
                                        (e) br;
                                        span class="small" { (s.status.consecutive_failures) " failed attempts, last " (time(s.status.last_attempt_at)) }
                                    }
                                    None => { span class="none" { "—" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn render(
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    form: &NewAuditStream,
    created: Option<(&AuditStream, &str)>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let list = audit_streams::list(state, &admin.caller.call()).await?;
    let body = html! {
        h1 { "Audit streams" }
        p {
            "Each stream POSTs the organization's new audit records to a SIEM, \
             signed, in order, at least once."
        }
        @if let Some((s, secret)) = created {
            (notice(&format!("The stream to {} was created.", s.url)))
            div class="secret" {
                p class="warning" role="alert" {
                    strong { "Copy this signing secret now. " }
                    "It will not be shown again. The receiver checks each request's "
                    code { "scimitar-signature" } " with it."
                }
                label for="token-value" { "Signing secret" }
                div class="copyrow" {
                    input id="token-value" class="mono" type="text" readonly value=(secret)
                        autocomplete="off" spellcheck="false";
                    button type="button" data-copy="token-value" { "Copy" }
                }
                p class="copied" id="copy-status" aria-live="polite" {}
            }
        }
        @if list.is_empty() {
            p class="empty" { "No audit streams yet." }
        } @else {
            (status_table(&list))
        }
        h2 { "Create an audit stream" }
        @if let Some(e) = &error { (form_error(e)) }
        form method="post" action="/console/audit-streams" class="stack narrow" {
            (csrf_field(&admin.csrf))
            label for="url" { "Receiver URL (https)" }
            input id="url" name="url" type="text" inputmode="url" required maxlength="2048"
                placeholder="https://siem.example.com/ingest" value=(form.url);
            label for="format" { "Format" }
            select id="format" name="format" {
                option value="ndjson" selected[form.format != "ocsf"] { "NDJSON (records as exported)" }
                option value="ocsf" selected[form.format == "ocsf"] { "OCSF API Activity" }
            }
            label for="action" { "Only actions starting with (optional)" }
            input id="action" name="action" type="text" maxlength="100" placeholder="scim."
                value=(form.filter_action.as_deref().unwrap_or(""));
            label for="outcome" { "Only outcome" }
            select id="outcome" name="outcome" {
                option value="" { "success and failure" }
                option value="success" selected[form.filter_outcome.as_deref() == Some("success")] { "success" }
                option value="failure" selected[form.filter_outcome.as_deref() == Some("failure")] { "failure" }
            }
            button type="submit" class="primary" { "Create stream" }
        }
    };
    Ok(layout::respond(
        status,
        layout::page("Audit streams", Some(nav(admin)), body),
    ))
}

/// `GET /console/audit-streams`.
pub async fn list(State(state): State<AppState>, admin: Admin) -> Result<Response, ConsoleError> {
    render(
        &state,
        &admin,
        StatusCode::OK,
        &NewAuditStream::default(),
        None,
        None,
    )
    .await
}

/// `POST /console/audit-streams`: the page again, with the new stream's
/// secret (once) or the form's mistake.
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    CsrfForm(form): CsrfForm,
) -> Result<Response, ConsoleError> {
    let optional = |name: &str| form.text(name).filter(|v| !v.trim().is_empty());
    let input = NewAuditStream {
        url: form.get("url").unwrap_or("").to_string(),
        format: form.get("format").unwrap_or("ndjson").to_string(),
        filter_action: optional("action"),
        filter_outcome: optional("outcome"),
    };
    let again = NewAuditStream {
        url: input.url.clone(),
        format: input.format.clone(),
        filter_action: input.filter_action.clone(),
        filter_outcome: input.filter_outcome.clone(),
    };
    let call = admin.caller.call();
    match audit_streams::create(&state, &state.audit_streams, &call, input).await {
        Ok(created) => {
            render(
                &state,
                &admin,
                StatusCode::CREATED,
                &NewAuditStream::default(),
                Some((&created.stream, &created.secret)),
                None,
            )
            .await
        }
        Err(e) if is_form_mistake(&e) => {
            let (status, reason) = (refusal_status(&e), refusal_message(&e));
            render(&state, &admin, status, &again, None, Some(reason)).await
        }
        Err(e) => Err(e.into()),
    }
}
