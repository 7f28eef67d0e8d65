//! Sign-in and sign-out. Sign-in goes through the API's own `sign_in`, so it
//! is checked and recorded (`auth.login`) the same way; then only members
//! the permission core lets manage tokens get a console session. Anyone
//! else is refused, and the refusal is recorded as `auth.denied`. A
//! password that must be replaced first (the bootstrap admin's) brings the
//! form back with fields for a new one, set through the API's own
//! `change_own_password` (`POST /api/v1/auth/password`).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::json;

use super::error::{ConsoleError, error_page};
use super::layout::{self, csrf_field, form_error, notice};
use super::session::{
    Admin, FormData, SESSION_COOKIE, SIGN_IN_COOKIE, check_form, cookie, read_cookie, read_form,
    served_over_tls,
};
use crate::admin_api::auth::{change_own_password, end_session, sign_in};
use crate::audit::{Actor, AuditEvent, Target};
use crate::http::ApiError;
use crate::http::AppState;
use crate::http::extract::request_context;
use crate::permissions::{Action, Principal, authorize};

/// How long the sign-in form stays usable.
const SIGN_IN_NONCE_SECONDS: i64 = 3600;

fn new_nonce() -> String {
    let mut b = [0u8; 24];
    rand::fill(&mut b);
    crate::store::settings::to_hex(&b)
}

fn form(
    csrf: &str,
    organization: &str,
    user_name: &str,
    message: Option<&str>,
    new_password: bool,
) -> maud::Markup {
    html! {
        h1 { @if new_password { "Set a new password" } @else { "Sign in" } }
        @if new_password {
            p { "Your password was set by someone else and only serves to choose your own. \
                 Enter it again, then your new password (at least 12 characters)." }
        } @else {
            p { "The scimitar console is for organization admins." }
        }
        @if let Some(m) = message { (form_error(m)) }
        form method="post" action="/console/sign-in" class="stack narrow" {
            (csrf_field(csrf))
            label for="organization" { "Organization" }
            input id="organization" name="organization" type="text" required
                autocomplete="organization" value=(organization);
            label for="user_name" { "User name" }
            input id="user_name" name="user_name" type="text" required
                autocomplete="username" value=(user_name);
            label for="password" { "Password" }
            input id="password" name="password" type="password" required
                autocomplete="current-password";
            @if new_password {
                label for="new_password" { "New password" }
                input id="new_password" name="new_password" type="password" required
                    minlength="12" autocomplete="new-password";
                label for="new_password_again" { "New password, again" }
                input id="new_password_again" name="new_password_again" type="password"
                    required minlength="12" autocomplete="new-password";
                button type="submit" class="primary" { "Set password and sign in" }
            } @else {
                button type="submit" class="primary" { "Sign in" }
            }
        }
        @if !new_password { (super::sso::button()) }
    }
}

/// What the form shows again: the names typed, and whether it asks for a
/// new password.
struct Filled<'a> {
    organization: &'a str,
    user_name: &'a str,
    new_password: bool,
}

/// Renders the form with a fresh nonce cookie bound to its CSRF token.
fn render(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    filled: Filled<'_>,
    banner: Option<maud::Markup>,
    message: Option<&str>,
) -> Response {
    let nonce = new_nonce();
    let csrf = state.console.for_sign_in(&nonce);
    let body = html! {
        @if let Some(b) = banner { (b) }
        (form(&csrf, filled.organization, filled.user_name, message, filled.new_password))
    };
    let mut resp = layout::respond(status, layout::page("Sign in", None, body));
    let secure = served_over_tls(state, headers);
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie(
            SIGN_IN_COOKIE,
            &nonce,
            "/console/sign-in",
            SIGN_IN_NONCE_SECONDS,
            secure,
        ),
    );
    resp
}

/// `GET /console/sign-in`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let q = FormData::from_query(uri.query());
    let banner = if q.get("expired").is_some() {
        Some(notice("Your session has expired. Sign in again."))
    } else if q.get("signed_out").is_some() {
        Some(notice("You have signed out."))
    } else {
        None
    };
    let empty = Filled {
        organization: "",
        user_name: "",
        new_password: false,
    };
    render(&state, &headers, StatusCode::OK, empty, banner, None)
}

/// `POST /console/sign-in`.
pub async fn submit(State(state): State<AppState>, req: Request) -> Result<Response, ConsoleError> {
    let headers = req.headers().clone();
    let (parts, body) = req.into_parts();
    let ctx = request_context(&parts);
    let form = read_form(Request::from_parts(parts, body), &state).await?;
    let nonce = read_cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    check_form(&headers, &form, &nonce, |n| state.console.for_sign_in(n))?;
    let organization = form.text("organization").unwrap_or_default();
    let user_name = form.text("user_name").unwrap_or_default();
    let password = form.get("password").unwrap_or("").to_string();
    let new_password = form
        .get("new_password")
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let changing = new_password.is_some();
    let again = |status, message: &str, new_password| {
        let filled = Filled {
            organization: &organization,
            user_name: &user_name,
            new_password,
        };
        Ok(render(
            &state,
            &headers,
            status,
            filled,
            None,
            Some(message),
        ))
    };

    let signed_in = match new_password {
        Some(new) if form.get("new_password_again") != Some(new.as_str()) => {
            return again(
                StatusCode::BAD_REQUEST,
                "The two new passwords differ.",
                true,
            );
        }
        Some(new) => {
            change_own_password(&state, &ctx, &organization, &user_name, password, new).await
        }
        None => sign_in(&state, &ctx, &organization, &user_name, password).await,
    };
    let (member, jwt) = match signed_in {
        Ok(ok) => ok,
        Err(ApiError::Unauthorized { .. }) => {
            return again(
                StatusCode::UNAUTHORIZED,
                "Wrong organization, user name or password.",
                changing,
            );
        }
        Err(ApiError::Denied {
            slug: "password-change-required",
            ..
        }) => {
            return again(
                StatusCode::FORBIDDEN,
                "Choose a new password to sign in.",
                true,
            );
        }
        // The organization signs in through its identity provider
        // (`break_glass_only`) and this member is not break-glass: the
        // refusal is recorded by the admin API's password policy; the form says
        // where to go.
        Err(ApiError::Denied {
            slug: "password-sign-in-disabled",
            ..
        }) => {
            return again(
                StatusCode::FORBIDDEN,
                "This organization signs in through its identity provider: use \
                 “Sign in with your identity provider” below.",
                false,
            );
        }
        // The new password was refused (the policy, or the same again).
        Err(ApiError::BadRequest(m)) if changing => {
            return again(StatusCode::BAD_REQUEST, &m, true);
        }
        Err(e) => return Err(e.into()),
    };

    let principal = Principal::Session {
        org_id: member.org_id,
        member_id: member.id,
        user_name: member.user_name.clone(),
        access: member.access(),
    };
    if let Err(denied) = authorize(&principal, Action::ManageServiceTokens) {
        let event = AuditEvent::new(
            Some(member.org_id),
            Actor::of(&principal),
            "auth.denied",
            &ctx,
        )
        .target(Target::new("endpoint", "POST /console/sign-in", None))
        .failure(denied.to_string())
        .status(StatusCode::FORBIDDEN.as_u16())
        .changes(json!({ "missing_permission": denied.missing }));
        state.audit.record(event).await.map_err(ApiError::from)?;
        return Ok(error_page(
            StatusCode::FORBIDDEN,
            "Admins only",
            "Your password was right, but only organization admins can use the console. \
             Ask an admin of your organization if you need access.",
        ));
    }

    let secure = served_over_tls(&state, &headers);
    let mut resp = Redirect::to("/console/tokens").into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie(
            SESSION_COOKIE,
            &jwt,
            "/console",
            state.sessions.ttl_seconds(),
            secure,
        ),
    );
    h.append(
        header::SET_COOKIE,
        cookie(SIGN_IN_COOKIE, "", "/console/sign-in", 0, secure),
    );
    Ok(resp)
}

/// `POST /console/sign-out`: ends the session (as `POST /api/v1/auth/logout`
/// does, so that a copy of the cookie is worthless from then on) and
/// forgets the cookie. Needs the session's CSRF token, but not a live
/// session: an expired one may sign out too, which only forgets it.
pub async fn sign_out(
    State(state): State<AppState>,
    admin: Result<Admin, ConsoleError>,
    req: Request,
) -> Result<Response, ConsoleError> {
    let headers = req.headers().clone();
    let form = read_form(req, &state).await?;
    let jwt = read_cookie(&headers, SESSION_COOKIE).unwrap_or_default();
    check_form(&headers, &form, &jwt, |jwt| state.console.for_session(jwt))?;
    if let Ok(admin) = admin {
        end_session(&state, &admin.caller, &jwt).await?;
    }
    let mut resp = Redirect::to("/console/sign-in?signed_out=1").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        cookie(
            SESSION_COOKIE,
            "",
            "/console",
            0,
            served_over_tls(&state, &headers),
        ),
    );
    Ok(resp)
}
