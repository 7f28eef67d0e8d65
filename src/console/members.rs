//! Members: the list, and changing a member's role or active flag through
//! the same use case as `PATCH /api/v1/members/{id}` (`use_cases::members`),
//! so that a change is refused (the last admin) and recorded alike.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use uuid::Uuid;

use super::error::{ConsoleError, is_form_mistake, refusal_message, refusal_status};
use super::layout::{self, Nav, Section, csrf_field, form_error, notice, time};
use super::session::{Admin, ConsolePath, CsrfForm, FormData};
use crate::http::AppState;
use crate::identity::access::Source;
use crate::permissions::Role;
use crate::use_cases::{UseCaseError, members};

async fn render(
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    banner: Option<String>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let list = members::list_with_access(state, &admin.caller.call()).await?;
    let spaces = crate::identity::workspaces::list(&state.db, admin.caller.org_id())
        .await
        .map_err(UseCaseError::from)?;
    let space_name = |id: Uuid| {
        spaces
            .iter()
            .find(|w| w.id == id)
            .map_or(id.to_string(), |w| w.name.clone())
    };
    let body = html! {
        h1 { "Members" }
        p class="lead" {
            "Access is the member's direct role and what their identity provider groups are mapped to (see Group mappings). Taking away a member's access (deactivating them, or making an admin a member) ends their sessions and revokes their personal access tokens at once. Service Access Tokens they created keep working."
        }
        @if let Some(b) = &banner { (notice(b)) }
        @if let Some(e) = &error { (form_error(e)) }
        div class="scroll" {
            table class="cards" {
                caption { "Members" }
                thead { tr {
                    th scope="col" { "User name" } th scope="col" { "Role" } th scope="col" { "Workspace access" } th scope="col" { "Status" }
                    th scope="col" { "Created" } th scope="col" { span class="sr" { "Actions" } }
                } }
                tbody {
                    @for m in &list {
                        tr data-member-id=(m.id) {
                            td data-label="User name" { div {
                                strong { (m.user_name) }
                                br; span class="mono muted small" { (m.id) }
                            } }
                            td data-label="Role" { div {
                                strong { (m.role.as_str()) }
                                @for s in &m.role_sources {
                                    br; span class="muted small" { (source_label(s)) }
                                }
                            } }
                            td data-label="Workspace access" { div {
                                @if m.workspace_permissions.is_empty() { span class="muted" { "None" } }
                                @for g in &m.workspace_permissions {
                                    div class="small" {
                                        strong { (space_name(g.workspace_id)) } ": "
                                        @for p in &g.permissions { code { (p) } " " }
                                        span class="muted" { "(" (source_label(&g.source)) ")" }
                                    }
                                }
                            } }
                            td data-label="Status" { div {
                                @if m.active { span class="badge ok" { "Active" } }
                                @else { span class="badge bad" { "Inactive" } }
                            } }
                            td data-label="Created" { div { (time(Some(m.created_at))) } }
                            td class="actions" data-label="Actions" { div {
                                form method="post" action={ "/console/members/" (m.id) } class="inline" {
                                    (csrf_field(&admin.csrf))
                                    @let id = format!("role-{}", m.id);
                                    label for=(id) class="sr" { "Direct role of " (m.user_name) }
                                    select id=(id) name="role" {
                                        @for r in [Role::Admin, Role::Member] {
                                            option value=(r.as_str()) selected[m.direct_role == r] { (r.as_str()) }
                                        }
                                    }
                                    button type="submit" aria-label={ "Set the role of " (m.user_name) } { "Set role" }
                                }
                                form method="post" action={ "/console/members/" (m.id) } class="inline" {
                                    (csrf_field(&admin.csrf))
                                    @if m.active {
                                        input type="hidden" name="active" value="false";
                                        button type="submit" class="danger" aria-label={ "Deactivate " (m.user_name) } { "Deactivate" }
                                    } @else {
                                        input type="hidden" name="active" value="true";
                                        button type="submit" aria-label={ "Activate " (m.user_name) } { "Activate" }
                                    }
                                }
                            } }
                        }
                    }
                }
            }
        }
    };
    let nav = Nav {
        user: admin.user_name(),
        csrf: &admin.csrf,
        section: Section::Members,
    };
    Ok(layout::respond(
        status,
        layout::page("Members", Some(nav), body),
    ))
}

/// Where a grant comes from, in words.
fn source_label(s: &Source) -> String {
    match s {
        Source::Direct => "direct".to_string(),
        Source::GroupMapping { group, .. } => format!("through group “{group}”"),
    }
}

/// `GET /console/members`.
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    uri: Uri,
) -> Result<Response, ConsoleError> {
    let q = FormData::from_query(uri.query());
    let banner = q
        .text("updated")
        .map(|name| format!("Member “{name}” was updated."));
    render(&state, &admin, StatusCode::OK, banner, None).await
}

/// Reads a form's `role` and `active` fields (either or both).
fn read_update(form: &FormData) -> Result<(Option<Role>, Option<bool>), UseCaseError> {
    let role = match form.text("role") {
        None => None,
        Some(r) => Some(
            Role::parse(&r)
                .ok_or_else(|| UseCaseError::Invalid("choose the role admin or member".into()))?,
        ),
    };
    let active = match form.text("active").as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(UseCaseError::Invalid("active is true or false".into())),
    };
    Ok((role, active))
}

/// `POST /console/members/{id}`: changes the role or the active flag.
pub async fn update(
    State(state): State<AppState>,
    admin: Admin,
    ConsolePath(id): ConsolePath<Uuid>,
    CsrfForm(form): CsrfForm,
) -> Result<Response, ConsoleError> {
    let result = match read_update(&form) {
        Ok((role, active)) => members::update(&state, &admin.caller.call(), id, role, active).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(m) => {
            let q = serde_urlencoded::to_string([("updated", m.user_name.as_str())])
                .unwrap_or_default();
            Ok(Redirect::to(&format!("/console/members?{q}")).into_response())
        }
        Err(e) if is_form_mistake(&e) => {
            let (status, reason) = (refusal_status(&e), refusal_message(&e));
            render(&state, &admin, status, None, Some(reason)).await
        }
        Err(e) => Err(e.into()),
    }
}
