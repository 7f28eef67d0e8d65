//! Settings › Organization › Service Access Tokens: the Organization and
//! Workspace tabs, "Generate new token", the one-time view of a new or
//! rotated value, and revoke and rotate behind a confirmation page. Every
//! operation is the API's own use case (`use_cases::service_tokens`), so it
//! is authorized, validated and audited alike.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use uuid::Uuid;

use super::error::{ConsoleError, is_form_mistake, refusal_message, refusal_status};
use super::layout::{self, Nav, Section, csrf_field, form_error, notice, secret_once, time};
use super::picker;
use super::session::{Admin, ConsolePath, CsrfForm, FormData};
use crate::http::AppState;
use crate::identity::workspaces::{self, Workspace};
use crate::permissions::{Action, TokenLevel};
use crate::tokens::{TokenStatus, TokenView};
use crate::use_cases::service_tokens::{self, NewSat};
use crate::use_cases::{Expiry, UseCaseError};

const EXPIRY_CHOICES: [(&str, &str); 7] = [
    ("", "No expiry (or the organization's maximum)"),
    ("7", "7 days"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("180", "180 days"),
    ("365", "1 year"),
    ("730", "2 years"),
];

const GRACE_CHOICES: [(&str, &str); 4] = [
    ("0", "End the old value now"),
    ("3600", "Keep the old value working for 1 hour"),
    ("86400", "Keep the old value working for 24 hours"),
    ("604800", "Keep the old value working for 7 days"),
];

fn tab_of(q: &FormData) -> TokenLevel {
    match q.get("tab") {
        Some("workspace") => TokenLevel::Workspace,
        _ => TokenLevel::Organization,
    }
}

pub(super) fn nav(admin: &Admin) -> Nav<'_> {
    Nav {
        user: admin.user_name(),
        csrf: &admin.csrf,
        section: Section::Tokens,
    }
}

pub(super) fn breadcrumb(last: &str) -> Markup {
    html! {
        nav aria-label="Breadcrumb" class="crumbs" {
            "Settings" (layout::sep()) "Organization" (layout::sep())
            a href="/console/tokens" { "Service Access Tokens" }
            @if !last.is_empty() { (layout::sep()) (last) }
        }
    }
}

fn tabs(current: TokenLevel, new: bool) -> Markup {
    let href = |l: TokenLevel| {
        if new {
            format!("/console/tokens/new?tab={}", l.as_str())
        } else {
            format!("/console/tokens?tab={}", l.as_str())
        }
    };
    html! {
        nav class="tabs" aria-label="Token level" {
            @for (l, label) in [(TokenLevel::Organization, "Organization"), (TokenLevel::Workspace, "Workspace")] {
                @if l == current {
                    a href=(href(l)) aria-current="page" { (label) }
                } @else {
                    a href=(href(l)) { (label) }
                }
            }
        }
    }
}

fn status_badge(s: TokenStatus) -> Markup {
    let (class, label) = match s {
        TokenStatus::Active => ("badge ok", "Active"),
        TokenStatus::Expired => ("badge warn", "Expired"),
        TokenStatus::Revoked => ("badge bad", "Revoked"),
    };
    html! { span class=(class) { (label) } }
}

fn workspace_name(list: &[Workspace], id: Option<Uuid>) -> Markup {
    match id {
        None => html! { span class="none" { "—" } },
        Some(id) => match list.iter().find(|w| w.id == id) {
            Some(w) => html! { (w.name) },
            None => html! { span class="mono" title="deleted workspace" { (id) } },
        },
    }
}

fn permissions(view: &TokenView) -> Markup {
    html! {
        ul class="perms" {
            @for p in &view.permissions { li { code { (p) } } }
        }
    }
}

fn created_by(view: &TokenView) -> Markup {
    let who = view
        .created_by
        .display
        .clone()
        .or_else(|| view.created_by.id.clone())
        .unwrap_or_default();
    html! { (who) " " span class="muted" { "(" (view.created_by.kind) ")" } }
}

/// How far back the list looks for unused permissions.
const ADVISOR_DAYS: i64 = 30;

/// `GET /console/tokens?tab=organization|workspace`.
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    uri: Uri,
) -> Result<Response, ConsoleError> {
    let q = FormData::from_query(uri.query());
    let tab = tab_of(&q);
    let tokens = service_tokens::list(&state, &admin.caller.call(), Some(tab), None).await?;
    let spaces = org_workspaces(&state, &admin).await?;
    let revoked = q
        .get("revoked")
        .and_then(|id| tokens.iter().find(|t| t.id == id));
    let edited = q
        .get("edited")
        .and_then(|id| tokens.iter().find(|t| t.id == id));
    let live: Vec<TokenView> = tokens
        .iter()
        .filter(|t| t.status == TokenStatus::Active)
        .cloned()
        .collect();
    let usage = service_tokens::usage_of(&state, live, ADVISOR_DAYS).await?;
    let usage_of = |id: &str| usage.iter().find(|u| u.token_id == id);
    let body = html! {
        (breadcrumb(""))
        h1 { "Service Access Tokens" }
        p class="lead" {
            "Tokens that belong to the organization or to one workspace, never to a person: they keep working when people leave."
        }
        @if let Some(t) = revoked { (notice(&format!("Token “{}” was revoked.", t.name))) }
        @if let Some(t) = edited { (notice(&format!("Token “{}” was changed.", t.name))) }
        (tabs(tab, false))
        p { a class="button primary" href={ "/console/tokens/new?tab=" (tab.as_str()) } { "Generate new token" } }
        @if tokens.is_empty() {
            p class="empty" { "No " (tab.as_str()) " tokens yet." }
        } @else {
            div class="scroll" {
                table class="cards" {
                    caption { (if tab == TokenLevel::Organization { "Organization tokens" } else { "Workspace tokens" }) }
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "Permissions" } th scope="col" { "Workspace" }
                        th scope="col" { "Created by" } th scope="col" { "Created" } th scope="col" { "Expires" }
                        th scope="col" { "Last used" } th scope="col" { "Status" } th scope="col" { span class="sr" { "Actions" } }
                    } }
                    tbody {
                        @for t in &tokens {
                            tr data-token-id=(t.id) {
                                td data-label="Name" { div {
                                    strong { (t.name) }
                                    br; span class="mono muted small" { (t.id) }
                                    @if let Some(d) = &t.description { br; span class="muted small" { (d) } }
                                } }
                                td data-label="Permissions" { div {
                                    (permissions(t))
                                    @if let Some(u) = usage_of(&t.id).filter(|u| !u.unused.is_empty()) {
                                        p class="small muted unused" {
                                            "Unused in " (ADVISOR_DAYS) " days: "
                                            @for p in &u.unused { code { (p) } " " }
                                        }
                                        @if !u.suggested_permissions.is_empty() {
                                            form method="post" action={ "/console/tokens/" (t.id) "/reduce" } class="inline" {
                                                (csrf_field(&admin.csrf))
                                                button type="submit" aria-label={ "Reduce " (t.name) " to its suggested permissions" } {
                                                    "Reduce to suggested permissions"
                                                }
                                            }
                                        }
                                    }
                                } }
                                td data-label="Workspace" { div { (workspace_name(&spaces, t.workspace_id)) } }
                                td data-label="Created by" { div { (created_by(t)) } }
                                td data-label="Created" { div { (time(Some(t.created_at))) } }
                                td data-label="Expires" { div { (time(t.expires_at)) } }
                                td data-label="Last used" { div { (time(t.last_used_at)) } }
                                td data-label="Status" { div { (status_badge(t.status)) } }
                                td class="actions" data-label="Actions" { div {
                                    @if t.status != TokenStatus::Revoked {
                                        a href={ "/console/tokens/" (t.id) "/edit" } aria-label={ "Edit " (t.name) } { "Edit" }
                                        " "
                                        a href={ "/console/tokens/" (t.id) "/rotate" } aria-label={ "Rotate " (t.name) } { "Rotate" }
                                        " "
                                        a class="danger" href={ "/console/tokens/" (t.id) "/revoke" } aria-label={ "Revoke " (t.name) } { "Revoke" }
                                    }
                                } }
                            }
                        }
                    }
                }
            }
        }
    };
    let page = layout::page("Service Access Tokens", Some(nav(&admin)), body);
    Ok(layout::respond(StatusCode::OK, page))
}

/// What the form held, to show it again after a refusal.
#[derive(Default)]
struct Draft {
    name: String,
    description: String,
    expires_in_days: String,
    workspace_id: String,
    permissions: Vec<String>,
    allowed_cidrs: String,
}

fn new_form(
    admin: &Admin,
    tab: TokenLevel,
    spaces: &[Workspace],
    draft: &Draft,
    error: Option<&str>,
) -> Markup {
    let has = |p: &str| draft.permissions.iter().any(|d| d == p);
    let body = html! {
        (breadcrumb("Generate new token"))
        h1 { "Generate new token" }
        (tabs(tab, true))
        @if let Some(e) = error { (form_error(e)) }
        @if tab == TokenLevel::Workspace && spaces.is_empty() {
            p { "A workspace token belongs to a workspace, and there is none yet. "
                a href="/console/workspaces" { "Create a workspace" } " first." }
        } @else {
            form method="post" action="/console/tokens" class="stack" {
                (csrf_field(&admin.csrf))
                input type="hidden" name="level" value=(tab.as_str());
                label for="name" { "Name" }
                input id="name" name="name" type="text" required maxlength="200" value=(draft.name);
                label for="description" { "Description " span class="muted" { "(optional)" } }
                textarea id="description" name="description" maxlength="2000" rows="2" { (draft.description) }
                label for="expires_in_days" { "Expiry" }
                select id="expires_in_days" name="expires_in_days" {
                    @for (v, label) in EXPIRY_CHOICES {
                        option value=(v) selected[draft.expires_in_days == v] { (label) }
                    }
                }
                label for="allowed_cidrs" { "Allowed source networks " span class="muted" { "(optional)" } }
                p class="muted small" id="allowed_cidrs-hint" {
                    "CIDR blocks or addresses, separated by spaces, commas or lines. Empty allows any address."
                }
                textarea id="allowed_cidrs" name="allowed_cidrs" rows="2" maxlength="2000"
                    aria-describedby="allowed_cidrs-hint" { (draft.allowed_cidrs) }
                @if tab == TokenLevel::Workspace {
                    label for="workspace_id" { "Workspace" }
                    select id="workspace_id" name="workspace_id" required {
                        @for w in spaces {
                            option value=(w.id) selected[draft.workspace_id == w.id.to_string()] { (w.name) }
                        }
                    }
                }
                (picker::permission_picker(tab, &has))
                div class="buttons" {
                    button type="submit" class="primary" { "Generate token" }
                    a href={ "/console/tokens?tab=" (tab.as_str()) } { "Cancel" }
                }
            }
        }
    };
    layout::page("Generate new token", Some(nav(admin)), body)
}

/// `GET /console/tokens/new?tab=…`.
pub async fn new(
    State(state): State<AppState>,
    admin: Admin,
    uri: Uri,
) -> Result<Response, ConsoleError> {
    admin
        .caller
        .require(&state, Action::ManageServiceTokens)
        .await?;
    let tab = tab_of(&FormData::from_query(uri.query()));
    let spaces = org_workspaces(&state, &admin).await?;
    let page = new_form(&admin, tab, &spaces, &Draft::default(), None);
    Ok(layout::respond(StatusCode::OK, page))
}

/// Reads the form into the use case's request.
fn read_create(form: &FormData, tab: TokenLevel) -> (Draft, Result<NewSat, UseCaseError>) {
    let perms = picker::read_permissions(form, tab);
    let draft = Draft {
        name: form.get("name").unwrap_or("").to_string(),
        description: form.get("description").unwrap_or("").to_string(),
        expires_in_days: form.text("expires_in_days").unwrap_or_default(),
        workspace_id: form.text("workspace_id").unwrap_or_default(),
        permissions: perms.clone(),
        allowed_cidrs: form.get("allowed_cidrs").unwrap_or("").to_string(),
    };
    let expiry = match form.text("expires_in_days") {
        None => Expiry::Unset,
        Some(d) => match d.parse::<i64>() {
            Ok(d) => Expiry::InDays(d),
            Err(_) => {
                let e = UseCaseError::Invalid("choose an expiry from the list".into());
                return (draft, Err(e));
            }
        },
    };
    let workspace_id = match (tab, form.text("workspace_id")) {
        (TokenLevel::Organization, _) => None,
        (TokenLevel::Workspace, None) => {
            let e = UseCaseError::Invalid("choose a workspace".into());
            return (draft, Err(e));
        }
        (TokenLevel::Workspace, Some(w)) => match Uuid::parse_str(&w) {
            Ok(id) => Some(id),
            Err(_) => return (draft, Err(UseCaseError::NotFound("workspace"))),
        },
    };
    if perms.is_empty() {
        let e = UseCaseError::InvalidPermission("choose at least one permission".into());
        return (draft, Err(e));
    }
    // One field for the list: any mix of spaces, commas and lines.
    let allowed_cidrs = draft
        .allowed_cidrs
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let create = NewSat {
        name: draft.name.clone(),
        description: form.text("description"),
        workspace_id,
        permissions: perms,
        expiry,
        allowed_cidrs,
    };
    (draft, Ok(create))
}

/// `POST /console/tokens`: creates the token and shows its value once.
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    CsrfForm(form): CsrfForm,
) -> Result<Response, ConsoleError> {
    let tab = match form.get("level") {
        Some("workspace") => TokenLevel::Workspace,
        _ => TokenLevel::Organization,
    };
    let (draft, create) = read_create(&form, tab);
    let result = match create {
        Ok(new) => service_tokens::create(&state, &admin.caller.call(), new).await,
        Err(e) => Err(e),
    };
    let (view, plain) = match result {
        Ok(ok) => ok,
        Err(e) if is_form_mistake(&e) => {
            // A mistake in the form: show it again with what was entered
            // (to an admin only: the form is theirs to see).
            admin
                .caller
                .require(&state, Action::ManageServiceTokens)
                .await?;
            let spaces = org_workspaces(&state, &admin).await?;
            let page = new_form(&admin, tab, &spaces, &draft, Some(&refusal_message(&e)));
            return Ok(layout::respond(refusal_status(&e), page));
        }
        Err(e) => return Err(e.into()),
    };
    let spaces = org_workspaces(&state, &admin).await?;
    Ok(shown_once(
        &admin,
        &view,
        &spaces,
        "Token created",
        &plain.reveal(),
    ))
}

/// The page that shows a new value, once.
fn shown_once(
    admin: &Admin,
    view: &TokenView,
    spaces: &[Workspace],
    title: &str,
    value: &str,
) -> Response {
    let tab = view.level.unwrap_or(TokenLevel::Organization);
    let body = html! {
        (breadcrumb(title))
        h1 { (title) }
        (secret_once(value))
        (summary(view, spaces))
        p { a href={ "/console/tokens?tab=" (tab.as_str()) } { "Done: back to Service Access Tokens" } }
    };
    let page = layout::page(title, Some(nav(admin)), body);
    layout::respond(StatusCode::OK, page)
}

/// The organization's workspaces, for names and the workspace picker.
pub(super) async fn org_workspaces(
    state: &AppState,
    admin: &Admin,
) -> Result<Vec<Workspace>, ConsoleError> {
    Ok(workspaces::list(&state.db, admin.caller.org_id())
        .await
        .map_err(UseCaseError::from)?)
}

/// The way back from a confirmation page: the token's own tab.
fn cancel_link(view: &TokenView) -> Markup {
    html! {
        a href={ "/console/tokens?tab=" (view.level.unwrap_or(TokenLevel::Organization).as_str()) } { "Cancel" }
    }
}

pub(super) fn summary(view: &TokenView, spaces: &[Workspace]) -> Markup {
    html! {
        dl class="summary" {
            dt { "Name" } dd { (view.name) }
            dt { "Id" } dd class="mono" { (view.id) }
            dt { "Level" } dd { (view.level.map(|l| l.as_str()).unwrap_or("")) }
            @if view.workspace_id.is_some() {
                dt { "Workspace" } dd { (workspace_name(spaces, view.workspace_id)) }
            }
            dt { "Permissions" } dd { (permissions(view)) }
            @if !view.allowed_cidrs.is_empty() {
                dt { "Allowed networks" } dd class="mono" { (view.allowed_cidrs.join(", ")) }
            }
            dt { "Expires" } dd { (time(view.expires_at)) }
            dt { "Status" } dd { (status_badge(view.status)) }
        }
    }
}

/// `GET /console/tokens/{id}/revoke`: asks for confirmation.
pub async fn confirm_revoke(
    State(state): State<AppState>,
    admin: Admin,
    ConsolePath(id): ConsolePath<String>,
) -> Result<Response, ConsoleError> {
    let view = service_tokens::get(&state, &admin.caller.call(), &id).await?;
    let spaces = org_workspaces(&state, &admin).await?;
    let body = html! {
        (breadcrumb("Revoke"))
        h1 { "Revoke “" (view.name) "”?" }
        p class="warning" { "Anything that uses this token stops working at once. This cannot be undone." }
        (summary(&view, &spaces))
        form method="post" action={ "/console/tokens/" (view.id) "/revoke" } class="buttons" {
            (csrf_field(&admin.csrf))
            button type="submit" class="danger" { "Revoke token" }
            (cancel_link(&view))
        }
    };
    let page = layout::page("Revoke token", Some(nav(&admin)), body);
    Ok(layout::respond(StatusCode::OK, page))
}

/// `POST /console/tokens/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    admin: Admin,
    ConsolePath(id): ConsolePath<String>,
    CsrfForm(_): CsrfForm,
) -> Result<Response, ConsoleError> {
    let (view, _) = service_tokens::revoke(&state, &admin.caller.call(), &id).await?;
    let tab = view.level.unwrap_or(TokenLevel::Organization);
    Ok(Redirect::to(&format!(
        "/console/tokens?tab={}&revoked={}",
        tab.as_str(),
        view.id
    ))
    .into_response())
}

/// `GET /console/tokens/{id}/rotate`: asks for confirmation and a grace period.
pub async fn confirm_rotate(
    State(state): State<AppState>,
    admin: Admin,
    ConsolePath(id): ConsolePath<String>,
) -> Result<Response, ConsoleError> {
    let view = service_tokens::get(&state, &admin.caller.call(), &id).await?;
    let spaces = org_workspaces(&state, &admin).await?;
    let body = html! {
        (breadcrumb("Rotate"))
        h1 { "Rotate “" (view.name) "”?" }
        p { "Rotation gives the token a new value; its id, name and permissions stay. The new value is shown once." }
        (summary(&view, &spaces))
        form method="post" action={ "/console/tokens/" (view.id) "/rotate" } class="stack" {
            (csrf_field(&admin.csrf))
            label for="grace_period_seconds" { "The old value" }
            select id="grace_period_seconds" name="grace_period_seconds" {
                @for (v, label) in GRACE_CHOICES { option value=(v) { (label) } }
            }
            div class="buttons" {
                button type="submit" class="primary" { "Rotate token" }
                (cancel_link(&view))
            }
        }
    };
    let page = layout::page("Rotate token", Some(nav(&admin)), body);
    Ok(layout::respond(StatusCode::OK, page))
}

/// `POST /console/tokens/{id}/rotate`: shows the new value once.
pub async fn rotate(
    State(state): State<AppState>,
    admin: Admin,
    ConsolePath(id): ConsolePath<String>,
    CsrfForm(form): CsrfForm,
) -> Result<Response, ConsoleError> {
    let grace = match form.text("grace_period_seconds") {
        None => 0,
        Some(g) => g
            .parse::<i64>()
            .map_err(|_| UseCaseError::Invalid("choose a grace period from the list".into()))?,
    };
    let (view, plain) = service_tokens::rotate(&state, &admin.caller.call(), &id, grace).await?;
    let spaces = org_workspaces(&state, &admin).await?;
    Ok(shown_once(
        &admin,
        &view,
        &spaces,
        "Token rotated",
        &plain.reveal(),
    ))
}

/// `POST /console/tokens/{id}/reduce`: sets the token's permissions to the
/// advisor's suggestion, through the edit use case (recorded as
/// `sat.update`, before and after).
pub async fn reduce(
    State(state): State<AppState>,
    admin: Admin,
    ConsolePath(id): ConsolePath<String>,
    CsrfForm(_): CsrfForm,
) -> Result<Response, ConsoleError> {
    let call = admin.caller.call();
    let usage = service_tokens::usage(&state, &call, &id, ADVISOR_DAYS).await?;
    if usage.suggested_permissions.is_empty() {
        return Err(UseCaseError::Invalid(
            "the token used none of its permissions: nothing to suggest".into(),
        )
        .into());
    }
    let changes = crate::tokens::TokenChanges {
        permissions: Some(usage.suggested_permissions),
        ..Default::default()
    };
    let view = service_tokens::update(&state, &call, &id, changes).await?;
    let tab = view.level.unwrap_or(TokenLevel::Organization);
    Ok(Redirect::to(&format!(
        "/console/tokens?tab={}&edited={}",
        tab.as_str(),
        view.id
    ))
    .into_response())
}
