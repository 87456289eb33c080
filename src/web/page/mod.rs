//! The server-rendered page (maud, no JavaScript): one router for every HTML route, the setup gate
//! (before first-boot setup every page leads to `/setup`), the stylesheet, and the frame every
//! page is drawn in (header with company name and logo, navigation, notice, error, footer with the
//! version). Each submodule owns the routes of one area and calls the same domain functions as the
//! JSON API; no business rule lives here.

mod account_pages;
mod collection_pages;
mod company_pages;
mod home;
mod intercom_dial;
mod intercom_groups;
mod intercom_notices;
mod intercom_pages;
mod persons;
mod persons_batch;
mod persons_form;
mod persons_transfer;
mod public;
mod reader_pages;
mod sip_pages;
mod system_pages;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use super::auth::{csrf_ok, PageCaller};
use super::blocking;
use super::error::{public_message, status_of};
use crate::accounts::{self, Role};
use crate::app::App;
use crate::error::Error;

const STYLE: &str = include_str!("../assets/style.css");

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/assets/style.css", get(style))
        .merge(public::router())
        .merge(home::router())
        .merge(company_pages::router())
        .merge(account_pages::router())
        .merge(system_pages::router())
        .merge(collection_pages::router())
        .merge(persons::router())
        .merge(persons_form::router())
        .merge(persons_batch::router())
        .merge(persons_transfer::router())
        .merge(intercom_pages::router())
        .merge(intercom_dial::router())
        .merge(intercom_groups::router())
        .merge(intercom_notices::router())
        .merge(sip_pages::router())
        .merge(reader_pages::router())
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STYLE,
    )
        .into_response()
}

/// The setup gate, as the first extractor of every page route except `/setup`, the stylesheet
/// and the logo: before first-boot setup it answers 303 to `/setup`.
pub(super) struct SetUp;

impl FromRequestParts<Arc<App>> for SetUp {
    type Rejection = Response;
    async fn from_request_parts(_: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        match blocking(app, accounts::setup_required).await {
            Ok(false) => Ok(SetUp),
            Ok(true) => Err(Redirect::to("/setup").into_response()),
            Err(e) => Err(Frame::load(app, None).await.error(&e)),
        }
    }
}

/// Who is signed in, as the frame shows them.
struct User {
    username: String,
    role: Role,
    csrf: String,
}

/// What every page shows around its content.
pub(super) struct Frame {
    company: String,
    has_logo: bool,
    user: Option<User>,
}

impl Frame {
    /// Reads the company name and whether a logo exists; a store fault shows the default name.
    pub(super) async fn load(app: &Arc<App>, caller: Option<&PageCaller>) -> Frame {
        let company = blocking(app, |app| {
            Ok((
                crate::company::get(app)?.name,
                crate::company::has_logo(app)?,
            ))
        })
        .await;
        let (company, has_logo) = match company {
            Ok(c) => c,
            Err(e) => {
                let _ = public_message(&e); // logs the fault
                (crate::company::Company::default().name, false)
            }
        };
        Frame {
            company,
            has_logo,
            user: caller.map(|c| User {
                username: c.session.username.clone(),
                role: c.session.role,
                csrf: c.session.csrf.clone(),
            }),
        }
    }

    /// A whole page with `status`.
    pub(super) fn page(&self, status: StatusCode, title: &str, body: Markup) -> Response {
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · " (self.company) " · Gatehouse" }
                    link rel="stylesheet" href="/assets/style.css";
                }
                body {
                    header.top {
                        a.brand href="/" {
                            @if self.has_logo {
                                img #company-logo src="/company/logo" alt="Company logo";
                            }
                            span #company-name { (self.company) }
                        }
                        @if let Some(u) = &self.user {
                            nav.user {
                                a href="/persons" #top-persons { "Persons" }
                                a href="/me" #me-link title="My account" {
                                    (u.username) " (" (u.role.as_str()) ")"
                                }
                                form method="post" action="/logout" {
                                    input type="hidden" name="csrf" value=(u.csrf);
                                    button #logout type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                    main {
                        h1 { (title) }
                        (body)
                    }
                    footer {
                        "Gatehouse " (crate::version::VERSION) " (" (crate::version::COMMIT)
                        ", " (crate::version::TARGET) ")"
                    }
                }
            }
        };
        (
            status,
            [(header::CACHE_CONTROL, "no-store")],
            Html(markup.into_string()),
        )
            .into_response()
    }

    /// A page that only says what went wrong, with the status the error calls for.
    pub(super) fn error(&self, err: &Error) -> Response {
        let title = match err {
            Error::Forbidden { .. } => "Not allowed",
            Error::NotFound(_) => "Not found",
            _ => "Something went wrong",
        };
        self.page(
            status_of(err),
            title,
            html! {
                (error_box(Some(err)))
                p { a href="/" { "Back to the start page" } }
            },
        )
    }

    /// The answer to a form whose CSRF token is missing or wrong.
    pub(super) fn csrf_refused(&self) -> Response {
        self.page(
            StatusCode::FORBIDDEN,
            "Form refused",
            html! {
                p #error .error role="alert" {
                    "This form was refused: its security token (CSRF) is missing or does not \
                     belong to your session. Nothing was changed. Reload the page and try again."
                }
                p { a href="/" { "Back to the start page" } }
            },
        )
    }
}

/// The domain error's message in `#error`, or nothing.
pub(super) fn error_box(err: Option<&Error>) -> Markup {
    html! {
        @if let Some(e) = err {
            p #error .error role="alert" { (public_message(e)) }
        }
    }
}

/// The success notice of a POST-redirect-GET, in `#notice`.
pub(super) fn notice_box(text: Option<&str>) -> Markup {
    html! {
        @if let Some(t) = text {
            p #notice .notice role="status" { (t) }
        }
    }
}

/// The hidden CSRF input of a state-changing form.
pub(super) fn csrf_input(caller: &PageCaller) -> Markup {
    html! { input type="hidden" name="csrf" value=(caller.session.csrf); }
}

/// Whether the form's token is the session's.
pub(super) fn csrf_valid(caller: &PageCaller, given: &str) -> bool {
    csrf_ok(&caller.session, Some(given))
}

/// 303 to `to`.
pub(super) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Splits a text area or comma list into its non-empty entries.
pub(super) fn split_list(text: &str) -> Vec<String> {
    text.split([',', '\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Percent-encodes a query value.
pub(super) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Unix seconds as `2026-11-30 22:00:00 UTC`.
pub(super) fn when(secs: u64) -> String {
    crate::time::rfc3339(secs)
        .replace('T', " ")
        .replace('Z', " UTC")
}

/// The error of two password inputs that differ.
pub(super) fn mismatch(field: &'static str) -> Error {
    Error::invalid(
        "password_confirmation",
        field,
        "the password and its confirmation differ",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_on_commas_and_lines() {
        assert_eq!(
            split_list(" 10.0.0.1, 10.0.0.0/24\r\n\n aa:bb:cc:dd:ee:ff ,"),
            vec!["10.0.0.1", "10.0.0.0/24", "aa:bb:cc:dd:ee:ff"]
        );
        assert!(split_list(" , \n").is_empty());
    }

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}

/// The `?done=` of a POST-redirect-GET.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(super) struct Done {
    pub done: Option<String>,
}

impl Done {
    /// The notice for a known key; unknown keys show nothing.
    pub(super) fn text(&self) -> Option<&'static str> {
        Some(match self.done.as_deref()? {
            "signed-out" => "You are signed out.",
            "reset" => "Your password was reset. Sign in with the new one.",
            "company" => "The company name was saved.",
            "logo" => "The logo was uploaded.",
            "logo-removed" => "The logo was removed.",
            "account-created" => "The account was created.",
            "account-saved" => "The account was saved; its sessions were ended.",
            "account-deleted" => "The account was deleted.",
            "session-ended" => "The session was ended.",
            "certificate" => "The certificate was installed; new connections use it now.",
            "password" => "Your password was changed; your other sessions were ended.",
            "questions" => "Your security questions were saved.",
            _ => return None,
        })
    }
}
