//! Workspaces: the list and the create form, through the same use cases as
//! `/api/v1/workspaces` (`use_cases::workspaces`).

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::error::{ConsoleError, is_form_mistake, refusal_message, refusal_status};
use super::layout::{self, Nav, Section, csrf_field, form_error, notice, time};
use super::session::{Admin, CsrfForm, FormData};
use crate::http::AppState;
use crate::use_cases::workspaces;

async fn render(
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    name: &str,
    banner: Option<String>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let list = workspaces::list(state, &admin.caller.call()).await?;
    let body = html! {
        h1 { "Workspaces" }
        @if let Some(b) = &banner { (notice(b)) }
        @if list.is_empty() {
            p class="empty" { "No workspaces yet." }
        } @else {
            div class="scroll" {
                table {
                    caption { "Workspaces" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Id" } th scope="col" { "Created" } } }
                    tbody {
                        @for w in &list {
                            tr { td { (w.name) } td class="mono small" { (w.id) } td { (time(Some(w.created_at))) } }
                        }
                    }
                }
            }
        }
        h2 { "Create a workspace" }
        @if let Some(e) = &error { (form_error(e)) }
        form method="post" action="/console/workspaces" class="stack narrow" {
            (csrf_field(&admin.csrf))
            label for="name" { "Name" }
            input id="name" name="name" type="text" required maxlength="100" value=(name);
            button type="submit" class="primary" { "Create workspace" }
        }
    };
    let nav = Nav {
        user: admin.user_name(),
        csrf: &admin.csrf,
        section: Section::Workspaces,
    };
    Ok(layout::respond(
        status,
        layout::page("Workspaces", Some(nav), body),
    ))
}

/// `GET /console/workspaces`.
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    uri: Uri,
) -> Result<Response, ConsoleError> {
    let q = FormData::from_query(uri.query());
    let banner = q
        .text("created")
        .map(|name| format!("Workspace “{name}” was created."));
    render(&state, &admin, StatusCode::OK, "", banner, None).await
}

/// `POST /console/workspaces`.
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    CsrfForm(form): CsrfForm,
) -> Result<Response, ConsoleError> {
    let name = form.get("name").unwrap_or("").to_string();
    match workspaces::create(&state, &admin.caller.call(), &name).await {
        Ok(ws) => {
            let q =
                serde_urlencoded::to_string([("created", ws.name.as_str())]).unwrap_or_default();
            Ok(Redirect::to(&format!("/console/workspaces?{q}")).into_response())
        }
        Err(e) if is_form_mistake(&e) => {
            let (status, reason) = (refusal_status(&e), refusal_message(&e));
            render(&state, &admin, status, &name, None, Some(reason)).await
        }
        Err(e) => Err(e.into()),
    }
}
