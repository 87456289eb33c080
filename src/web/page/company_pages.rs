//! The company page (manual 1.1): the name shown in every page's header and the logo beside it.
//! Calls `company::{get, set, set_logo, remove_logo}`; the logo checks (type, size, pixels) stay
//! there. Also serves the logo itself, to everyone, since the sign-in page shows it.

use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;

use super::public::CsrfForm;
use super::{csrf_input, csrf_valid, error_box, notice_box, see_other, Done, Frame, SetUp};
use crate::accounts::Role;
use crate::app::App;
use crate::company::{self, Company};
use crate::error::Error;
use crate::web::auth::PageCaller;
use crate::web::blocking;
use crate::web::error::status_of;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/company", get(company_page).post(save_name))
        .route("/company/logo", get(logo).post(upload_logo))
        .route("/company/logo/delete", post(delete_logo))
}

async fn logo(State(app): State<Arc<App>>) -> Response {
    match crate::web::api::logo_response(&app).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn body(
    caller: &PageCaller,
    name: &str,
    has_logo: bool,
    notice: Option<&str>,
    err: Option<&Error>,
) -> Markup {
    let admin = caller.session.role == Role::Admin;
    html! {
        p { "Manual 1.1: the company name and logo appear at the top of every page." }
        (notice_box(notice))
        (error_box(err))
        @if !admin {
            p.hint { "Only an administrator may change the company information." }
        }
        section.card {
            h2 { "Name" }
            form method="post" action="/company" {
                (csrf_input(caller))
                label { "Company name"
                    input name="name" value=(name) required maxlength="64" disabled[!admin];
                }
                button #company-save type="submit" disabled[!admin] { "Save" }
            }
        }
        section.card {
            h2 { "Logo" }
            @if has_logo {
                p { img.logo-preview src="/company/logo" alt="Current logo"; }
            } @else {
                p { "No logo yet." }
            }
            form method="post" action="/company/logo" enctype="multipart/form-data" {
                (csrf_input(caller))
                label { "PNG or JPEG, at most 512 KiB and 2048×2048 pixels"
                    input type="file" name="logo" accept="image/png,image/jpeg" required disabled[!admin];
                }
                button #logo-upload type="submit" disabled[!admin] { "Upload logo" }
            }
            @if has_logo {
                form method="post" action="/company/logo/delete" {
                    (csrf_input(caller))
                    button #logo-delete .secondary type="submit" disabled[!admin] { "Remove logo" }
                }
            }
        }
    }
}

/// Shows the company page, with `err` and the typed name after a refused change.
async fn show(
    app: &Arc<App>,
    caller: &PageCaller,
    typed: Option<&str>,
    notice: Option<&str>,
    err: Option<&Error>,
) -> Response {
    let frame = Frame::load(app, Some(caller)).await;
    let name = typed.unwrap_or(&frame.company).to_owned();
    let status = err.map(status_of).unwrap_or(StatusCode::OK);
    let has_logo = frame.has_logo;
    frame.page(
        status,
        "Company",
        body(caller, &name, has_logo, notice, err),
    )
}

async fn company_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(done): Query<Done>,
) -> Response {
    show(&app, &caller, None, done.text(), None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NameForm {
    csrf: String,
    name: String,
}

async fn save_name(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(f): Form<NameForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    let c = Company {
        name: f.name.clone(),
    };
    match blocking(&app, move |app| company::set(app, &actor, &c)).await {
        Ok(_) => see_other("/company?done=company"),
        Err(e) => show(&app, &caller, Some(&f.name), None, Some(&e)).await,
    }
}

async fn upload_logo(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let (csrf, bytes) = match read_logo_form(multipart).await {
        Ok(x) => x,
        Err(e) => return show(&app, &caller, None, None, Some(&e)).await,
    };
    if !csrf_valid(&caller, &csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    match blocking(&app, move |app| company::set_logo(app, &actor, &bytes)).await {
        Ok(()) => see_other("/company?done=logo"),
        Err(e) => show(&app, &caller, None, None, Some(&e)).await,
    }
}

/// The `csrf` and `logo` fields of the upload form.
async fn read_logo_form(
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(String, Vec<u8>), Error> {
    let mut multipart = multipart.map_err(|e| bad_form(e.body_text()))?;
    let (mut csrf, mut logo) = (String::new(), Vec::new());
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad_form(e.body_text()))?
    {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(|e| bad_form(e.body_text()))?,
            Some("logo") => {
                logo = field
                    .bytes()
                    .await
                    .map_err(|e| bad_form(e.body_text()))?
                    .to_vec()
            }
            _ => {}
        }
    }
    Ok((csrf, logo))
}

/// A form body that could not be read.
pub(super) fn bad_form(detail: String) -> Error {
    Error::Invalid {
        code: "bad_form",
        field: None,
        message: format!("the form could not be read: {detail}"),
    }
}

async fn delete_logo(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    match blocking(&app, move |app| company::remove_logo(app, &actor)).await {
        Ok(()) => see_other("/company?done=logo-removed"),
        Err(e) => show(&app, &caller, None, None, Some(&e)).await,
    }
}
