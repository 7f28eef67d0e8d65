//! Group mappings: the list, the add form and removal, through the same use
//! cases as `/api/v1/group-mappings` (`use_cases::group_mappings`). The
//! permission checkboxes are the catalogue's workspace permissions.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use uuid::Uuid;

use super::error::{ConsoleError, is_form_mistake, refusal_message, refusal_status};
use super::layout::{self, Nav, Section, csrf_field, form_error, notice, time};
use super::picker::workspace_picker;
use super::session::{Admin, ConsolePath, CsrfForm, FormData};
use crate::http::AppState;
use crate::identity::workspaces as ws_store;
use crate::use_cases::UseCaseError;
use crate::use_cases::group_mappings::{self, NewMapping};

async fn render(
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    banner: Option<String>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let call = admin.caller.call();
    let list = group_mappings::list(state, &call).await?;
    let groups = group_mappings::groups(state, &call).await?;
    let spaces = ws_store::list(&state.db, admin.caller.org_id())
        .await
        .map_err(UseCaseError::from)?;
    let space_name = |id: Uuid| {
        spaces
            .iter()
            .find(|w| w.id == id)
            .map_or(id.to_string(), |w| w.name.clone())
    };
    let body = html! {
        h1 { "Group mappings" }
        p class="lead" {
            "Map a group pushed by your identity provider to the admin role or to permissions in a workspace: its members hold them for as long as they are in the group, from their very next request."
        }
        @if let Some(b) = &banner { (notice(b)) }
        @if list.is_empty() {
            p class="empty" { "No group is mapped yet." }
        } @else {
            div class="scroll" {
                table class="cards" {
                    caption { "Group mappings" }
                    thead { tr {
                        th scope="col" { "Group" } th scope="col" { "Grants" }
                        th scope="col" { "Created" } th scope="col" { span class="sr" { "Actions" } }
                    } }
                    tbody {
                        @for m in &list {
                            tr data-mapping-id=(m.id) {
                                td data-label="Group" { div { strong { (m.group_display_name) } br; span class="mono muted small" { (m.group) } } }
                                td data-label="Grants" { div {
                                    @if let Some(role) = &m.role { "Role " code { (role) } }
                                    @if let Some(w) = m.workspace {
                                        "In " strong { (space_name(w)) } ": "
                                        @for p in m.permissions.iter().flatten() { code { (p) } " " }
                                    }
                                } }
                                td data-label="Created" { div { (time(Some(m.created_at))) } }
                                td class="actions" data-label="Actions" { div {
                                    form method="post" action={ "/console/group-mappings/" (m.id) "/delete" } class="inline" {
                                        (csrf_field(&admin.csrf))
                                        button type="submit" class="danger" aria-label={ "Remove the mapping of " (m.group_display_name) } { "Remove" }
                                    }
                                } }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Map a group" }
        @if let Some(e) = &error { (form_error(e)) }
        @if groups.is_empty() {
            p { "Your identity provider has pushed no group yet." }
        } @else {
            form method="post" action="/console/group-mappings" class="stack" {
                (csrf_field(&admin.csrf))
                label for="group" { "Group" }
                select id="group" name="group" required {
                    @for (id, name) in &groups { option value=(id) { (name) } }
                }
                fieldset {
                    legend { "Grant" }
                    span class="radio" {
                        input type="radio" id="grant-admin" name="grant" value="admin" checked;
                        label for="grant-admin" { "The admin role" }
                    }
                    span class="radio" {
                        input type="radio" id="grant-workspace" name="grant" value="workspace";
                        label for="grant-workspace" { "Permissions in a workspace" }
                    }
                }
                @if !spaces.is_empty() {
                    label for="workspace" { "Workspace " span class="muted" { "(for permissions)" } }
                    select id="workspace" name="workspace" {
                        @for w in &spaces { option value=(w.id) { (w.name) } }
                    }
                    fieldset class="picker" {
                        legend { "Permissions " span class="muted" { "(for permissions)" } }
                        @for (resource, levels) in workspace_picker() {
                            fieldset class="resource" {
                                legend { (levels[0].resource_label) }
                                div class="levels" {
                                    @for e in &levels {
                                        @let id = format!("gm-{}-{}", resource, e.access);
                                        span class="radio" {
                                            input type="checkbox" id=(id) name="permission" value=(e.name) title=(e.description);
                                            label for=(id) { (e.access_label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                div class="buttons" { button type="submit" class="primary" { "Map group" } }
            }
        }
    };
    let nav = Nav {
        user: admin.user_name(),
        csrf: &admin.csrf,
        section: Section::GroupMappings,
    };
    Ok(layout::respond(
        status,
        layout::page("Group mappings", Some(nav), body),
    ))
}

/// `GET /console/group-mappings`.
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    uri: Uri,
) -> Result<Response, ConsoleError> {
    let q = FormData::from_query(uri.query());
    let banner = q.text("done").map(|d| match d.as_str() {
        "removed" => "The mapping was removed.".to_string(),
        _ => "The group was mapped.".to_string(),
    });
    render(&state, &admin, StatusCode::OK, banner, None).await
}

fn read_create(form: &FormData) -> NewMapping {
    let group = form.text("group").unwrap_or_default();
    match form.text("grant").as_deref() {
        Some("workspace") => NewMapping {
            group,
            role: None,
            workspace: Some(form.text("workspace").unwrap_or_default()),
            permissions: Some(
                form.all("permission")
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            ),
        },
        _ => NewMapping {
            group,
            role: Some("admin".into()),
            workspace: None,
            permissions: None,
        },
    }
}

/// `POST /console/group-mappings`.
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    CsrfForm(form): CsrfForm,
) -> Result<Response, ConsoleError> {
    match group_mappings::create(&state, &admin.caller.call(), read_create(&form)).await {
        Ok(_) => Ok(Redirect::to("/console/group-mappings?done=created").into_response()),
        Err(e) if is_form_mistake(&e) || matches!(e, UseCaseError::NotFound(_)) => {
            let (status, reason) = (refusal_status(&e), refusal_message(&e));
            render(&state, &admin, status, None, Some(reason)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /console/group-mappings/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    admin: Admin,
    ConsolePath(id): ConsolePath<Uuid>,
    CsrfForm(_): CsrfForm,
) -> Result<Response, ConsoleError> {
    group_mappings::delete(&state, &admin.caller.call(), id).await?;
    Ok(Redirect::to("/console/group-mappings?done=removed").into_response())
}
