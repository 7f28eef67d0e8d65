//! The page frame every console page shares (head, navigation, sign-out)
//! and small rendering helpers. maud escapes every interpolated value.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::session::CSRF_FIELD;
use crate::store::Timestamp;

/// Where a page sits in the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Tokens,
    Workspaces,
    Members,
    GroupMappings,
    Sso,
    AuditLogs,
    AuditStreams,
}

/// The signed-in frame: who is signed in and the CSRF token for sign-out.
pub struct Nav<'a> {
    pub user: &'a str,
    pub csrf: &'a str,
    pub section: Section,
}

pub fn page(title: &str, nav: Option<Nav<'_>>, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · scimitar console" }
                link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    span class="brand" { "scimitar" }
                    @if let Some(nav) = &nav {
                        nav aria-label="Main" {
                            ul {
                                (nav_link("/console/tokens", "Service Access Tokens", nav.section == Section::Tokens))
                                (nav_link("/console/workspaces", "Workspaces", nav.section == Section::Workspaces))
                                (nav_link("/console/members", "Members", nav.section == Section::Members))
                                (nav_link("/console/group-mappings", "Group mappings", nav.section == Section::GroupMappings))
                                (nav_link("/console/sso", "Single sign-on", nav.section == Section::Sso))
                                (nav_link("/console/audit-logs", "Audit Logs", nav.section == Section::AuditLogs))
                                (nav_link("/console/audit-streams", "Audit Streams", nav.section == Section::AuditStreams))
                            }
                        }
                        form class="signout" method="post" action="/console/sign-out" {
                            (csrf_field(nav.csrf))
                            span class="who" { "Signed in as " strong { (nav.user) } }
                            button type="submit" class="link" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" { (main) }
            }
        }
    }
}

fn nav_link(href: &str, label: &str, current: bool) -> Markup {
    html! {
        li {
            @if current {
                a href=(href) aria-current="page" { (label) }
            } @else {
                a href=(href) { (label) }
            }
        }
    }
}

pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(token); }
}

/// An HTML response. Console pages are per-user and some show token
/// values once, so none may be cached.
pub fn respond(status: axum::http::StatusCode, markup: Markup) -> Response {
    let mut resp = (status, Html(markup.into_string())).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A time for people: `2026-11-29 12:40:05 UTC`, with the exact value in
/// `datetime`.
pub fn time(t: Option<Timestamp>) -> Markup {
    match t {
        None => html! { span class="none" { "—" } },
        Some(t) => {
            let fmt = time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            );
            let shown = t.inner().format(&fmt).unwrap_or_else(|_| t.to_canonical());
            html! { time datetime=(t.to_canonical()) { (shown) } }
        }
    }
}

/// A notice shown after a change (`role="status"` so screen readers hear it).
pub fn notice(text: &str) -> Markup {
    html! { p class="notice" role="status" { (text) } }
}

/// An error about the submitted form.
pub fn form_error(text: &str) -> Markup {
    html! { p class="error" role="alert" id="form-error" { (text) } }
}

/// The one-time view of a token value, with its copy button.
pub fn secret_once(value: &str) -> Markup {
    html! {
        div class="secret" {
            p class="warning" role="alert" {
                strong { "Copy this token now. " }
                "It will not be shown again: scimitar keeps only a hash of it."
            }
            label for="token-value" { "Token value" }
            div class="copyrow" {
                input id="token-value" class="mono" type="text" readonly value=(value)
                    autocomplete="off" spellcheck="false";
                button type="button" data-copy="token-value" { "Copy" }
            }
            p class="copied" id="copy-status" aria-live="polite" {}
        }
    }
}

/// Raw markup for a non-breaking separator, used in breadcrumbs.
pub fn sep() -> Markup {
    PreEscaped("<span aria-hidden=\"true\"> › </span>".to_string())
}
