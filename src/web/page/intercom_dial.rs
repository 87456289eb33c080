//! Dial management (manual 3.2): the registration numbers of the VTH, VTO (door, fence, villa
//! station) and VTS devices in one table per type, an add form, delete and SIP-password
//! regeneration. The SIP password is shown once, in the answer of the create or regenerate POST
//! (never in a redirect URL). Calls `crate::intercom::{registrations, devices, organization}`
//! only; owns no rule.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};

use super::intercom_pages::{f, kind_label, num, opt, render, Fields};
use super::{csrf_input, csrf_valid, see_other, Frame, SetUp};
use crate::app::App;
use crate::error::Error;
use crate::intercom::devices;
use crate::intercom::organization;
use crate::intercom::registrations::{
    self, NewRegistration, RegistrationType, RegistrationView, StationKind, WithSipPassword,
};
use crate::web::auth::PageCaller;
use crate::web::blocking;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/intercom/dial", get(dial_page).post(add))
        .route("/intercom/dial/{device}/delete", post(delete))
        .route("/intercom/dial/{device}/regenerate", post(regenerate))
}

const TYPES: [(RegistrationType, &str, &str); 4] = [
    (RegistrationType::Vth, "vth", "VTH (indoor monitor)"),
    (
        RegistrationType::Vto,
        "vto",
        "VTO / fence station / villa station",
    ),
    (RegistrationType::Vts, "vts", "VTS (master station)"),
    (
        RegistrationType::Manager,
        "manager",
        "Manager client (softphone)",
    ),
];

const STATIONS: [(StationKind, &str, &str); 3] = [
    (
        StationKind::UnitDoorStation,
        "unit_door_station",
        "Unit door station",
    ),
    (StationKind::FenceStation, "fence_station", "Fence station"),
    (StationKind::VillaStation, "villa_station", "Villa station"),
];

fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "deleted" => "The registration was deleted.",
        _ => return None,
    })
}

async fn dial_body(
    app: &Arc<App>,
    caller: &PageCaller,
    typed: &Fields,
    shown: Option<&WithSipPassword>,
) -> Result<Markup, Error> {
    let (regs, devs, snap) = blocking(app, |app| {
        Ok((
            registrations::list(app)?,
            devices::list(app)?,
            organization::snapshot(app)?,
        ))
    })
    .await?;
    let tree = snap.tree();
    let csrf = csrf_input(caller);
    let sel = |k: &str, v: &str| f(typed, k) == v;
    Ok(html! {
        p.crumbs { a href="/intercom" { "← Building management" } " · " a href="/intercom/devices" { "Devices" } }
        p { "Manual 3.2: each VTH, VTO and VTS gets a registration number (e.g. "
            code { "01#01#101" } ") and a SIP password it registers with. The SIP password is shown only once. "
            "A manager client's softphone registers with its device number as its registration number." }
        @if let Some(w) = shown {
            section.card #sip-once {
                h2 { "SIP password of " (w.registration.device_name) }
                p { "Registration number " code #shown-number { (w.registration.number) } }
                p { "SIP password: " code #sip-password { (w.sip_password) } }
                p.hint { "Copy it now into the device: it is not shown again (regenerate to get a new one)." }
            }
        }
        @for (t, _, label) in TYPES {
            section.card {
                h2 { (label) }
                div.scroll { table id={ "dial-" (type_value(t)) } {
                    thead { tr { th { "Device" } th { "Type" } th { "Registration No." } th { "Alias" } th { "SIP password" } th {} } }
                    tbody {
                        @for r in regs.iter().filter(|r| r.kind == t) {
                            (row(caller, r))
                        }
                    }
                } }
                @if !regs.iter().any(|r| r.kind == t) { p.hint { "None yet." } }
            }
        }
        section.card {
            h2 { "Add registration" }
            form #dial-form method="post" action="/intercom/dial" {
                (csrf)
                div.pair2 {
                    label { "Device" select #dial-device name="device" {
                        @for d in &devs { option value=(d.id) selected[sel("device", &d.id.to_string())] { (d.name) " (" (kind_label(d.kind)) ", " (d.number) ")" } }
                    } }
                    label { "Registration type" select #dial-type name="type" {
                        @for (_, v, l) in TYPES { option value=(v) selected[sel("type", v)] { (l) } }
                    } }
                }
                fieldset {
                    legend { "VTH" }
                    div.pair2 {
                        label { "Room" select #dial-room name="room" {
                            option value="" { "—" }
                            @for r in snap.rooms.values() { option value=(r.id) selected[sel("room", &r.id.to_string())] { (snap.code(r)) } }
                        } }
                        label { "Extension (1–9, when the room already has a VTH)" input #dial-extension type="number" min="1" max="9" name="extension" value=(f(typed, "extension")); }
                    }
                }
                fieldset {
                    legend { "VTO / fence / villa station" }
                    div.pair2 {
                        label { "Station type" select #dial-station name="station" {
                            @for (_, v, l) in STATIONS { option value=(v) selected[sel("station", v)] { (l) } }
                        } }
                        @if tree.compound.with_units {
                            label { "Unit" select #dial-unit name="unit" {
                                option value="" { "—" }
                                @for b in &tree.buildings { @for u in &b.units { option value=(u.id) selected[sel("unit", &u.id.to_string())] { (u.code) } } }
                            } }
                        } @else {
                            label { "Building" select #dial-building name="building" {
                                option value="" { "—" }
                                @for b in &tree.buildings { option value=(b.id) selected[sel("building", &b.id.to_string())] { (b.code) } }
                            } }
                        }
                    }
                }
                fieldset {
                    legend { "VTO and VTS" }
                    label { "Suffix (2 digits, the last two of the device number)" input #dial-suffix name="suffix" maxlength="2" inputmode="numeric" value=(f(typed, "suffix")); }
                }
                p.hint { "Manager client: no other field; its registration number is its device number." }
                button #dial-add type="submit" { "Add registration" }
            }
        }
    })
}

fn row(caller: &PageCaller, r: &RegistrationView) -> Markup {
    html! {
        tr #{ "reg-" (r.device) } {
            td { (r.device_name) }
            td { (r.device_kind.map(kind_label).unwrap_or("?")) }
            td { code.reg-number { (r.number) } }
            td { (r.alias) }
            td { @if r.sip_password_set { "set" } @else { "unset" } }
            td.actions {
                form method="post" action={ "/intercom/dial/" (r.device) "/regenerate" } {
                    (csrf_input(caller))
                    button.small #{ "regenerate-" (r.device) } type="submit" { "Regenerate SIP password" }
                }
                form method="post" action={ "/intercom/dial/" (r.device) "/delete" } {
                    (csrf_input(caller))
                    button.small.danger #{ "delete-reg-" (r.device) } type="submit" { "Delete" }
                }
            }
        }
    }
}

fn type_value(t: RegistrationType) -> &'static str {
    TYPES
        .iter()
        .find(|(x, _, _)| *x == t)
        .map(|(_, v, _)| *v)
        .unwrap_or("?")
}

async fn dial_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(q): Query<Fields>,
) -> Response {
    let body = dial_body(&app, &caller, &Fields::new(), None).await;
    render(
        &app,
        &caller,
        "Dial management",
        body,
        notice(f(&q, "done")),
        None,
    )
    .await
}

/// Runs a change that shows a SIP password: on success the page is answered directly (the
/// password must not travel in a URL), on error the page again with the error and the values.
async fn shown_change(
    app: Arc<App>,
    caller: PageCaller,
    form: Fields,
    done: &'static str,
    change: impl FnOnce(&App, &crate::accounts::Actor, &Fields) -> Result<WithSipPassword, Error>
        + Send
        + 'static,
) -> Response {
    if !csrf_valid(&caller, f(&form, "csrf")) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    let fields = form.clone();
    match blocking(&app, move |app| change(app, &actor, &fields)).await {
        Ok(w) => {
            let body = dial_body(&app, &caller, &Fields::new(), Some(&w)).await;
            render(&app, &caller, "Dial management", body, Some(done), None).await
        }
        Err(e) => {
            let body = dial_body(&app, &caller, &form, None).await;
            render(&app, &caller, "Dial management", body, None, Some(&e)).await
        }
    }
}

fn parse_type(s: &str) -> Result<RegistrationType, Error> {
    TYPES
        .iter()
        .find(|(_, v, _)| *v == s)
        .map(|(t, _, _)| *t)
        .ok_or_else(|| Error::invalid("registration_type", "type", "choose the registration type"))
}

fn parse_station(s: &str) -> Result<StationKind, Error> {
    STATIONS
        .iter()
        .find(|(_, v, _)| *v == s)
        .map(|(t, _, _)| *t)
        .ok_or_else(|| Error::invalid("station_kind", "station", "choose the station type"))
}

fn opt_num<T: std::str::FromStr>(m: &Fields, k: &'static str) -> Result<Option<T>, Error> {
    match opt(m, k) {
        None => Ok(None),
        Some(_) => num(m, k).map(Some),
    }
}

async fn add(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(form): Form<Fields>,
) -> Response {
    shown_change(
        app,
        caller,
        form,
        "The registration was added.",
        |app, actor, m| {
            let kind = parse_type(f(m, "type"))?;
            // Only the fields of the chosen type are passed; the domain checks them.
            let input = NewRegistration {
                device: num(m, "device")?,
                kind,
                room: match kind {
                    RegistrationType::Vth => opt_num(m, "room")?,
                    _ => None,
                },
                extension: match kind {
                    RegistrationType::Vth => opt_num(m, "extension")?,
                    _ => None,
                },
                station: match kind {
                    RegistrationType::Vto => Some(parse_station(f(m, "station"))?),
                    _ => None,
                },
                unit: match kind {
                    RegistrationType::Vto => opt_num(m, "unit")?,
                    _ => None,
                },
                building: match kind {
                    RegistrationType::Vto => opt_num(m, "building")?,
                    _ => None,
                },
                suffix: match kind {
                    RegistrationType::Vto | RegistrationType::Vts => opt(m, "suffix"),
                    RegistrationType::Vth | RegistrationType::Manager => None,
                },
            };
            registrations::create(app, actor, &input)
        },
    )
    .await
}

async fn regenerate(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(device): Path<u64>,
    Form(form): Form<Fields>,
) -> Response {
    shown_change(
        app,
        caller,
        form,
        "A new SIP password was generated.",
        move |app, actor, _| registrations::regenerate_sip_password(app, actor, device),
    )
    .await
}

async fn delete(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(device): Path<u64>,
    Form(form): Form<Fields>,
) -> Response {
    if !csrf_valid(&caller, f(&form, "csrf")) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    match blocking(&app, move |app| registrations::delete(app, &actor, device)).await {
        Ok(()) => see_other("/intercom/dial?done=deleted"),
        Err(e) => {
            let body = dial_body(&app, &caller, &form, None).await;
            render(&app, &caller, "Dial management", body, None, Some(&e)).await
        }
    }
}
