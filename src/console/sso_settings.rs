//! The organization's single sign-on settings: its OpenID Connect
//! configuration shown with the client secret masked, the form that sets
//! or changes it, and its removal after a confirmation, through the same
//! use cases as `/api/v1/sso` (`use_cases::sso`). The secret is never put
//! back into a page: an empty secret field keeps the stored one, and a
//! refused form asks for it again.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::error::{ConsoleError, is_form_mistake, refusal_message, refusal_status};
use super::layout::{self, Nav, Section, csrf_field, form_error, notice, time};
use super::session::{Admin, CsrfForm, FormData};
use crate::http::AppState;
use crate::sso::config::ClientSecret;
use crate::sso::{Claim, PasswordSignIn, SsoConfig};
use crate::use_cases::UseCaseError;
use crate::use_cases::sso::{self, SsoInput};

const CLAIMS: [(Claim, &str); 3] = [
    (Claim::Email, "email"),
    (Claim::PreferredUsername, "preferred_username"),
    (Claim::Sub, "sub (the provider's subject id)"),
];

fn nav(admin: &Admin) -> Nav<'_> {
    Nav {
        user: admin.user_name(),
        csrf: &admin.csrf,
        section: Section::Sso,
    }
}

/// The form's fields, as stored or as submitted (never the secret).
struct Fields {
    issuer: String,
    client_id: String,
    claim: String,
    password_sign_in: String,
}

impl Fields {
    fn of(config: Option<&SsoConfig>) -> Self {
        match config {
            Some(c) => Fields {
                issuer: c.issuer.clone(),
                client_id: c.client_id.clone(),
                claim: c.claim.as_str().into(),
                password_sign_in: c.password_sign_in.as_str().into(),
            },
            None => Fields {
                issuer: String::new(),
                client_id: String::new(),
                claim: Claim::Email.as_str().into(),
                password_sign_in: PasswordSignIn::All.as_str().into(),
            },
        }
    }
}

/// The configuration, or `None` when there is none (the use case's 404).
async fn current(state: &AppState, admin: &Admin) -> Result<Option<SsoConfig>, ConsoleError> {
    match sso::get(state, &admin.caller.call()).await {
        Ok(c) => Ok(Some(c)),
        Err(UseCaseError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn summary(state: &AppState, c: &SsoConfig) -> Markup {
    html! {
        dl class="summary" id="sso-configuration" {
            dt { "Issuer" } dd class="mono wrap" { (c.issuer) }
            dt { "Client id" } dd class="mono wrap" { (c.client_id) }
            dt { "Client secret" } dd { span class="mono" { "********" } " " span class="muted small" { "(stored encrypted, never shown)" } }
            dt { "Claim" } dd { code { (c.claim.as_str()) } }
            dt { "Password sign-in" } dd {
                @match c.password_sign_in {
                    PasswordSignIn::All => { code { "all" } " " span class="muted small" { "(every member may still use a password)" } }
                    PasswordSignIn::BreakGlassOnly => { code { "break_glass_only" } " " span class="muted small" { "(only break-glass members)" } }
                }
            }
            dt { "Redirect URI" } dd class="mono wrap" { (state.sso.redirect_uri()) }
            dt { "Changed" } dd { (time(Some(c.updated_at))) }
        }
    }
}

fn form(admin: &Admin, fields: &Fields, configured: bool) -> Markup {
    html! {
        form method="post" action="/console/sso" class="stack" {
            (csrf_field(&admin.csrf))
            label for="issuer" { "Issuer URL" }
            input id="issuer" name="issuer" type="text" inputmode="url" required maxlength="1000"
                placeholder="https://acme.okta.com" value=(fields.issuer) spellcheck="false";
            label for="client_id" { "Client id" }
            input id="client_id" name="client_id" type="text" required maxlength="255"
                value=(fields.client_id) autocomplete="off" spellcheck="false";
            label for="client_secret" {
                "Client secret"
                @if configured { " " span class="muted" { "(leave empty to keep the stored one)" } }
            }
            input id="client_secret" name="client_secret" type="password" maxlength="1000"
                autocomplete="new-password" spellcheck="false" required[!configured];
            label for="claim" { "Claim that names the member" }
            select id="claim" name="claim" {
                @for (claim, label) in CLAIMS {
                    option value=(claim.as_str()) selected[fields.claim == claim.as_str()] { (label) }
                }
            }
            p class="muted small" {
                "Matched, without regard to case, to an active SCIM-provisioned member's user name, then to their primary email."
            }
            fieldset {
                legend { "Password sign-in" }
                span class="radio" {
                    input type="radio" id="psi-all" name="password_sign_in" value="all"
                        checked[fields.password_sign_in != "break_glass_only"];
                    label for="psi-all" { "Every member may still use a password" }
                }
                br;
                span class="radio" {
                    input type="radio" id="psi-break-glass" name="password_sign_in" value="break_glass_only"
                        checked[fields.password_sign_in == "break_glass_only"];
                    label for="psi-break-glass" { "Only break-glass members (marked with the CLI) may use a password" }
                }
            }
            div class="buttons" {
                button type="submit" class="primary" {
                    @if configured { "Save changes" } @else { "Configure single sign-on" }
                }
            }
        }
    }
}

async fn render(
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    banner: Option<&str>,
    submitted: Option<(&Fields, String)>,
) -> Result<Response, ConsoleError> {
    let config = current(state, admin).await?;
    let stored = Fields::of(config.as_ref());
    let (fields, error) = match &submitted {
        Some((f, e)) => (*f, Some(e.as_str())),
        None => (&stored, None),
    };
    let body = html! {
        h1 { "Single sign-on" }
        p class="lead" {
            "Members provisioned by SCIM sign in through your identity provider (OpenID Connect). "
            "Register this redirect URI at the provider: "
            code class="wrap" id="redirect-uri" { (state.sso.redirect_uri()) }
        }
        @if let Some(b) = banner { (notice(b)) }
        @match &config {
            Some(c) => {
                h2 { "Current configuration" }
                (summary(state, c))
                p { a href="/console/sso/remove" class="danger" { "Remove single sign-on" } }
                h2 { "Change the configuration" }
            }
            None => {
                p class="empty" { "Single sign-on is not configured: members sign in with a password." }
                h2 { "Configure single sign-on" }
            }
        }
        @if let Some(e) = error { (form_error(e)) }
        (form(admin, fields, config.is_some()))
    };
    Ok(layout::respond(
        status,
        layout::page("Single sign-on", Some(nav(admin)), body),
    ))
}

/// `GET /console/sso`.
pub async fn page(
    State(state): State<AppState>,
    admin: Admin,
    uri: Uri,
) -> Result<Response, ConsoleError> {
    let q = FormData::from_query(uri.query());
    let banner = q.text("done").map(|d| match d.as_str() {
        "removed" => "Single sign-on was removed: passwords sign everyone in again.",
        _ => "The single sign-on configuration was saved.",
    });
    render(&state, &admin, StatusCode::OK, banner, None).await
}

/// `POST /console/sso`: sets or changes the configuration; a refusal
/// (bad input, an issuer whose discovery fails, `break_glass_only` without
/// a break-glass member) is the form again with the reason.
pub async fn save(
    State(state): State<AppState>,
    admin: Admin,
    CsrfForm(form): CsrfForm,
) -> Result<Response, ConsoleError> {
    let fields = Fields {
        issuer: form.get("issuer").unwrap_or("").trim().to_string(),
        client_id: form.get("client_id").unwrap_or("").trim().to_string(),
        claim: form.get("claim").unwrap_or("").to_string(),
        password_sign_in: form.get("password_sign_in").unwrap_or("all").to_string(),
    };
    // An empty field keeps the stored secret (as leaving it out of the
    // API's PUT does); the use case refuses that on a first configuration.
    let secret = form
        .get("client_secret")
        .filter(|s| !s.is_empty())
        .map(|s| ClientSecret::new(s.to_string()));
    let secret_given = secret.is_some();
    let input = SsoInput {
        issuer: fields.issuer.clone(),
        client_id: fields.client_id.clone(),
        client_secret: secret,
        claim: fields.claim.clone(),
        password_sign_in: Some(fields.password_sign_in.clone()),
    };
    let call = admin.caller.call();
    match sso::configure(&state, &call, state.signer.kek(), &state.sso, input).await {
        Ok(_) => Ok(Redirect::to("/console/sso?done=saved").into_response()),
        Err(e) if is_form_mistake(&e) => {
            let mut reason = refusal_message(&e);
            if secret_given {
                if !reason.ends_with('.') {
                    reason.push('.');
                }
                reason.push_str(" The client secret was not kept: enter it again.");
            }
            let status = refusal_status(&e);
            render(&state, &admin, status, None, Some((&fields, reason))).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /console/sso/remove`: asks for confirmation.
pub async fn confirm_remove(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Response, ConsoleError> {
    let config = sso::get(&state, &admin.caller.call()).await?;
    let body = html! {
        p class="crumbs" { a href="/console/sso" { "Single sign-on" } (layout::sep()) "Remove" }
        h1 { "Remove single sign-on?" }
        p class="warning" {
            "Nobody can sign in through the identity provider any more, and every member with a password may use it again. "
            "Sessions already started stay valid until they end."
        }
        (summary(&state, &config))
        form method="post" action="/console/sso/remove" class="buttons" {
            (csrf_field(&admin.csrf))
            button type="submit" class="danger" { "Remove single sign-on" }
            a href="/console/sso" { "Cancel" }
        }
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page("Remove single sign-on", Some(nav(&admin)), body),
    ))
}

/// `POST /console/sso/remove`.
pub async fn remove(
    State(state): State<AppState>,
    admin: Admin,
    CsrfForm(_): CsrfForm,
) -> Result<Response, ConsoleError> {
    sso::remove(&state, &admin.caller.call()).await?;
    Ok(Redirect::to("/console/sso?done=removed").into_response())
}
