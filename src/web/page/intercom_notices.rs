//! Information release (manual 3.5): the notice list with its state, adding a notice (subject,
//! text, start time in UTC, target devices), changing or deleting it while a draft, releasing it,
//! and its details with the delivery state per device. Only VTO-type and VTH devices with a
//! registration number are offered as targets. Calls `crate::intercom::{notices, registrations}`
//! only; owns no rule (the domain checks lengths, the start time and the targets).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};

use super::intercom_pages::{f, render, Fields};
use super::{csrf_input, csrf_valid, see_other, Frame, SetUp};
use crate::app::App;
use crate::error::Error;
use crate::intercom::notices::{self, DeliveryState, NoticeInput, NoticeState, NoticeView};
use crate::intercom::registrations::{self, RegistrationType, RegistrationView};
use crate::web::auth::PageCaller;
use crate::web::blocking;

type Pairs = Vec<(String, String)>;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/intercom/notices", get(list_page).post(add))
        .route("/intercom/notices/{id}", get(details_page).post(modify))
        .route("/intercom/notices/{id}/delete", post(delete))
        .route("/intercom/notices/{id}/release", post(release))
}

fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "added" => "The notice was added as a draft.",
        "saved" => "Saved.",
        "deleted" => "The notice was deleted.",
        "released" => "The notice was released.",
        _ => return None,
    })
}

fn one<'a>(form: &'a Pairs, k: &str) -> &'a str {
    form.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn state_text(s: NoticeState) -> &'static str {
    match s {
        NoticeState::Draft => "draft",
        NoticeState::Released => "released",
    }
}

fn delivery_text(s: DeliveryState) -> &'static str {
    match s {
        DeliveryState::Pending => "pending",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Failed => "failed",
    }
}

async fn targets(app: &Arc<App>) -> Result<Vec<RegistrationView>, Error> {
    Ok(blocking(app, registrations::list)
        .await?
        .into_iter()
        .filter(|r| matches!(r.kind, RegistrationType::Vto | RegistrationType::Vth))
        .collect())
}

/// The notice form; `typed` holds what was typed (or the draft's values).
fn notice_form(
    caller: &PageCaller,
    action: &str,
    button: &str,
    typed: &Pairs,
    offered: &[RegistrationView],
) -> Markup {
    let chosen = |d: u64| {
        typed
            .iter()
            .any(|(k, v)| k == "devices" && *v == d.to_string())
    };
    html! {
        form #notice-form method="post" action=(action) {
            (csrf_input(caller))
            label { "Subject" input #notice-subject name="subject" value=(one(typed, "subject")) maxlength=(notices::MAX_SUBJECT) required; }
            label { "Text (up to 1000 characters)" textarea #notice-text name="text" maxlength="1000" rows="5" { (one(typed, "text")) } }
            label { "Start time (UTC)" input #notice-start type="datetime-local" name="start" value=(one(typed, "start")) required; }
            fieldset #notice-targets {
                legend { "Target devices (VTO and VTH with a registration number)" }
                @if offered.is_empty() { p.hint { "No VTO or VTH has a registration number yet." } }
                @for r in offered {
                    label.check { input type="checkbox" name="devices" value=(r.device) checked[chosen(r.device)]; (r.device_name) " " code { (r.number) } }
                }
            }
            button #notice-submit type="submit" { (button) }
        }
    }
}

async fn list_body(app: &Arc<App>, caller: &PageCaller, typed: &Pairs) -> Result<Markup, Error> {
    let list = blocking(app, notices::list).await?;
    let offered = targets(app).await?;
    Ok(html! {
        p.crumbs { a href="/intercom" { "← Building management" } }
        p { "Manual 3.5: notices shown on door stations and indoor monitors from their start time. A draft may be changed or deleted; a released notice is fixed." }
        div.scroll { table #notices {
            thead { tr { th { "Subject" } th { "Start (UTC)" } th { "State" } th { "Targets" } th { "Delivered" } th { "Failed" } } }
            tbody {
                @for n in &list {
                    tr #{ "notice-" (n.id) } {
                        td { a href={ "/intercom/notices/" (n.id) } { (n.subject) } }
                        td { (n.start) }
                        td { (state_text(n.state)) }
                        td { (n.targets) } td { (n.delivered) } td { (n.failed) }
                    }
                }
            }
        } }
        @if list.is_empty() { p.hint { "No notice yet." } }
        section.card {
            h2 { "Add notice" }
            (notice_form(caller, "/intercom/notices", "Add notice", typed, &offered))
        }
    })
}

async fn details_body(
    app: &Arc<App>,
    caller: &PageCaller,
    id: u64,
    typed: Option<&Pairs>,
) -> Result<Markup, Error> {
    let n: NoticeView = blocking(app, move |app| notices::details(app, id)).await?;
    let offered = targets(app).await?;
    let current: Pairs = [
        ("subject".to_owned(), n.subject.clone()),
        ("text".to_owned(), n.text.clone()),
        ("start".to_owned(), n.start.chars().take(16).collect()),
    ]
    .into_iter()
    .chain(
        n.targets
            .iter()
            .map(|t| ("devices".to_owned(), t.device.to_string())),
    )
    .collect();
    let typed = typed.unwrap_or(&current);
    Ok(html! {
        p.crumbs { a href="/intercom/notices" { "← Information release" } }
        section.card {
            h2 { (n.subject) }
            p { "State: " strong #notice-state { (state_text(n.state)) }
                " · Start " (n.start)
                @if let Some(r) = &n.released { " · Released " (r) } }
            p.pre { (n.text) }
            div.scroll { table #notice-devices {
                thead { tr { th { "Device" } th { "State" } th { "At" } th { "Attempts" } th { "Error" } } }
                tbody {
                    @for t in &n.targets {
                        tr #{ "target-" (t.device) } {
                            td { (t.name.clone().unwrap_or_else(|| "(deleted device)".into())) }
                            td { (delivery_text(t.state)) }
                            td { (t.at.clone().unwrap_or_default()) }
                            td { (t.attempts) }
                            td { (t.error.clone().unwrap_or_default()) }
                        }
                    }
                }
            } }
        }
        @if n.state == NoticeState::Draft {
            section.card {
                h2 { "Change draft" }
                (notice_form(caller, &format!("/intercom/notices/{id}"), "Save", typed, &offered))
                form method="post" action={ "/intercom/notices/" (id) "/release" } {
                    (csrf_input(caller))
                    button #notice-release type="submit" { "Release" }
                }
                form method="post" action={ "/intercom/notices/" (id) "/delete" } {
                    (csrf_input(caller))
                    button.danger #notice-delete type="submit" { "Delete" }
                }
            }
        }
    })
}

async fn list_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(q): Query<Fields>,
) -> Response {
    let body = list_body(&app, &caller, &Pairs::new()).await;
    render(
        &app,
        &caller,
        "Information release",
        body,
        notice(f(&q, "done")),
        None,
    )
    .await
}

async fn details_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<u64>,
    Query(q): Query<Fields>,
) -> Response {
    let body = details_body(&app, &caller, id, None).await;
    render(&app, &caller, "Notice", body, notice(f(&q, "done")), None).await
}

fn input_of(m: &Pairs) -> Result<NoticeInput, Error> {
    let mut devices = Vec::new();
    for (_, v) in m.iter().filter(|(k, _)| k == "devices") {
        devices.push(v.parse().map_err(|_| {
            Error::invalid("form_number", "devices", "devices must be whole numbers")
        })?);
    }
    Ok(NoticeInput {
        subject: Some(one(m, "subject").trim().into()),
        text: Some(one(m, "text").into()),
        start: Some(one(m, "start").trim().into()),
        devices: Some(devices),
    })
}

/// Runs a notice change; `id` is the notice whose details page shows an error (`None`: the list).
async fn notice_change(
    app: Arc<App>,
    caller: PageCaller,
    form: Pairs,
    id: Option<u64>,
    change: impl FnOnce(&App, &crate::accounts::Actor, &Pairs) -> Result<String, Error> + Send + 'static,
) -> Response {
    if !csrf_valid(&caller, one(&form, "csrf")) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    let fields = form.clone();
    match blocking(&app, move |app| change(app, &actor, &fields)).await {
        Ok(to) => see_other(&to),
        Err(e) => {
            let body = match id {
                Some(id) => details_body(&app, &caller, id, Some(&form)).await,
                None => list_body(&app, &caller, &form).await,
            };
            render(&app, &caller, "Information release", body, None, Some(&e)).await
        }
    }
}

async fn add(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(form): Form<Pairs>,
) -> Response {
    notice_change(app, caller, form, None, |app, actor, m| {
        let n = notices::create(app, actor, &input_of(m)?)?;
        Ok(format!("/intercom/notices/{}?done=added", n.id))
    })
    .await
}

async fn modify(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<u64>,
    Form(form): Form<Pairs>,
) -> Response {
    notice_change(app, caller, form, Some(id), move |app, actor, m| {
        notices::update(app, actor, id, &input_of(m)?)?;
        Ok(format!("/intercom/notices/{id}?done=saved"))
    })
    .await
}

async fn delete(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<u64>,
    Form(form): Form<Pairs>,
) -> Response {
    notice_change(app, caller, form, Some(id), move |app, actor, _| {
        notices::delete(app, actor, id)?;
        Ok("/intercom/notices?done=deleted".into())
    })
    .await
}

async fn release(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<u64>,
    Form(form): Form<Pairs>,
) -> Response {
    notice_change(app, caller, form, Some(id), move |app, actor, _| {
        notices::release(app, actor, id)?;
        Ok(format!("/intercom/notices/{id}?done=released"))
    })
    .await
}
