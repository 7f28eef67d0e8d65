//! The Edit page of a Service Access Token: name, description, allowlist,
//! permissions (the catalogue's picker, at the token's level) and an
//! earlier expiry, through the same use case as
//! `PATCH /api/v1/service-access-tokens/{id}`, recorded alike (`sat.update`,
//! each field before and after).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::error::{ConsoleError, is_form_mistake, refusal_message, refusal_status};
use super::layout::{self, csrf_field, form_error};
use super::picker;
use super::session::{Admin, ConsolePath, CsrfForm, FormData};
use super::tokens::{breadcrumb, nav, org_workspaces, summary};
use crate::http::AppState;
use crate::permissions::TokenLevel;
use crate::store::Timestamp;
use crate::tokens::{TokenChanges, TokenView};
use crate::use_cases::UseCaseError;
use crate::use_cases::service_tokens;

async fn render(
    state: &AppState,
    admin: &Admin,
    view: &TokenView,
    status: StatusCode,
    chosen: &[String],
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let spaces = org_workspaces(state, admin).await?;
    let tab = view.level.unwrap_or(TokenLevel::Organization);
    let has = |p: &str| chosen.iter().any(|c| c == p);
    let body = html! {
        (breadcrumb("Edit"))
        h1 { "Edit “" (view.name) "”" }
        (summary(view, &spaces))
        @if let Some(e) = &error { (form_error(e)) }
        form method="post" action={ "/console/tokens/" (view.id) "/edit" } class="stack" {
            (csrf_field(&admin.csrf))
            label for="name" { "Name" }
            input id="name" name="name" type="text" required maxlength="200" value=(view.name);
            label for="description" { "Description " span class="muted" { "(optional)" } }
            textarea id="description" name="description" maxlength="2000" rows="2" { (view.description.clone().unwrap_or_default()) }
            label for="allowed_cidrs" { "Allowed source networks " span class="muted" { "(optional)" } }
            textarea id="allowed_cidrs" name="allowed_cidrs" rows="2" maxlength="2000" { (view.allowed_cidrs.join("\n")) }
            label for="expires_on" { "Bring the expiry forward to " span class="muted" { "(optional, a date)" } }
            input id="expires_on" name="expires_on" type="date";
            (picker::permission_picker(tab, &has))
            div class="buttons" {
                button type="submit" class="primary" { "Save changes" }
                a href={ "/console/tokens?tab=" (tab.as_str()) } { "Cancel" }
            }
        }
    };
    let page = layout::page("Edit token", Some(nav(admin)), body);
    Ok(layout::respond(status, page))
}

/// `GET /console/tokens/{id}/edit`.
pub async fn page(
    State(state): State<AppState>,
    admin: Admin,
    ConsolePath(id): ConsolePath<String>,
) -> Result<Response, ConsoleError> {
    let view = service_tokens::get(&state, &admin.caller.call(), &id).await?;
    let chosen = view.permissions.clone();
    render(&state, &admin, &view, StatusCode::OK, &chosen, None).await
}

/// Reads the form into the fields that differ from `view`, so that the
/// record names exactly what was changed.
fn read(form: &FormData, view: &TokenView, tab: TokenLevel) -> Result<TokenChanges, UseCaseError> {
    let expires_at = match form.text("expires_on") {
        None => None,
        Some(day) => Some(
            Timestamp::parse_rfc3339(&format!("{day}T00:00:00Z"))
                .ok_or_else(|| UseCaseError::Invalid("choose a date for the expiry".into()))?,
        ),
    };
    let cidrs: Vec<String> = form
        .get("allowed_cidrs")
        .unwrap_or("")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let mut permissions = picker::read_permissions(form, tab);
    permissions.sort();
    let mut current = view.permissions.clone();
    current.sort();
    let name = form.text("name").unwrap_or_default();
    let description = form.text("description");
    Ok(TokenChanges {
        name: (name != view.name).then_some(name),
        description: (description != view.description).then_some(description),
        allowed_cidrs: (cidrs != view.allowed_cidrs).then_some(cidrs),
        permissions: (permissions != current).then_some(permissions),
        expires_at,
    })
}

/// `POST /console/tokens/{id}/edit`.
pub async fn save(
    State(state): State<AppState>,
    admin: Admin,
    ConsolePath(id): ConsolePath<String>,
    CsrfForm(form): CsrfForm,
) -> Result<Response, ConsoleError> {
    let call = admin.caller.call();
    let view = service_tokens::get(&state, &call, &id).await?;
    let tab = view.level.unwrap_or(TokenLevel::Organization);
    let result = match read(&form, &view, tab) {
        Ok(changes) => service_tokens::update(&state, &call, &id, changes).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(v) => Ok(Redirect::to(&format!(
            "/console/tokens?tab={}&edited={}",
            tab.as_str(),
            v.id
        ))
        .into_response()),
        Err(e) if is_form_mistake(&e) => {
            let chosen = picker::read_permissions(&form, tab);
            let (status, reason) = (refusal_status(&e), refusal_message(&e));
            render(&state, &admin, &view, status, &chosen, Some(reason)).await
        }
        Err(e) => Err(e.into()),
    }
}
