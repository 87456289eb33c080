//! The intercom-configuration pages (manual 3.1 and the 3.2 device registry): the organization
//! tree with counts, batch creation while empty, add/rename/delete of buildings, units and rooms,
//! the room list with its `01#01#302` code column, and the device registry. Calls
//! `crate::intercom::{organization, devices}` only; owns no rule.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};

use super::{csrf_input, csrf_valid, error_box, notice_box, query_escape, see_other, Frame, SetUp};
use crate::app::App;
use crate::error::Error;
use crate::intercom::devices::{self, DeviceInput};
use crate::intercom::organization::{
    self, BatchOrganization, CompoundPatch, Level, NewBuilding, NewRoom, NewUnit, NodePatch,
    RoomQuery,
};
use crate::intercom::ringing::DeviceKind;
use crate::intercom::room_passwords;
use crate::web::auth::PageCaller;
use crate::web::blocking;
use crate::web::error::status_of;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/intercom", get(org_page))
        .route("/intercom/compound", post(compound))
        .route("/intercom/batch", post(batch))
        .route("/intercom/buildings", post(add_building))
        .route("/intercom/units", post(add_unit))
        .route("/intercom/rooms", get(rooms_page).post(add_room))
        .route("/intercom/rooms/send", post(send_rooms))
        .route("/intercom/rooms/{id}/password", post(set_room_password))
        .route(
            "/intercom/rooms/{id}/password/clear",
            post(clear_room_password),
        )
        .route("/intercom/rooms/{id}/send", post(send_room))
        .route("/intercom/node/{level}/{id}/rename", post(rename))
        .route("/intercom/node/{level}/{id}/delete", post(delete))
        .route("/intercom/devices", get(devices_page).post(add_device))
        .route("/intercom/devices/{id}/delete", post(delete_device))
}

pub(super) type Fields = HashMap<String, String>;

pub(super) fn f<'a>(m: &'a Fields, k: &str) -> &'a str {
    m.get(k).map(String::as_str).unwrap_or("").trim()
}

pub(super) fn opt(m: &Fields, k: &str) -> Option<String> {
    Some(f(m, k).to_owned()).filter(|s| !s.is_empty())
}

pub(super) fn num<T: std::str::FromStr>(m: &Fields, k: &'static str) -> Result<T, Error> {
    f(m, k)
        .parse()
        .map_err(|_| Error::invalid("form_number", k, format!("{k} must be a whole number")))
}

fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "batch" => "The organization was created.",
        "added" => "Added.",
        "saved" => "Saved.",
        "deleted" => "Deleted.",
        "device" => "The device was added.",
        "password" => "The unlock password was set; sending it is queued.",
        "cleared" => "The unlock password was cleared; its removal is queued.",
        "sent" => "Sending is queued.",
        _ => return None,
    })
}

const KINDS: [(DeviceKind, &str); 7] = [
    (DeviceKind::Vto, "VTO (unit door station)"),
    (DeviceKind::FenceStation, "Fence station"),
    (DeviceKind::VillaStation, "Villa station"),
    (DeviceKind::Vth, "VTH (indoor monitor)"),
    (DeviceKind::Vts, "VTS (master station)"),
    (DeviceKind::AccessController, "Access controller"),
    (DeviceKind::ManagerClient, "Manager client"),
];

pub(super) fn kind_label(k: DeviceKind) -> &'static str {
    KINDS
        .iter()
        .find(|(x, _)| *x == k)
        .map(|(_, l)| *l)
        .unwrap_or("?")
}

async fn org_body(app: &Arc<App>, caller: &PageCaller, typed: &Fields) -> Result<Markup, Error> {
    let snap = blocking(app, organization::snapshot).await?;
    let tree = snap.tree();
    let csrf = csrf_input(caller);
    Ok(html! {
        p { "Manual 3.1: one compound of buildings, units (optional) and rooms. The code "
            code { "01#01#302" } " means building 01, unit 01, room 302." }
        p { a href="/intercom/rooms" { "All rooms (" (tree.rooms) ")" } " · " a href="/intercom/devices" { "Devices" } " · " a #nav-dial href="/intercom/dial" { "Dial management" } " · " a #nav-call-groups href="/intercom/call-groups" { "Call groups" } " · " a #nav-notices href="/intercom/notices" { "Information release" } }
        section.card {
            h2 { "Compound" }
            form method="post" action="/intercom/compound" {
                (csrf)
                label { "Name" input #compound-name name="name" value=(tree.compound.name) maxlength="64"; }
                @if tree.buildings.is_empty() {
                    label.check { input type="checkbox" name="with_units" value="1" checked[tree.compound.with_units]; "Rooms sit in units (uncheck for buildings without units)" }
                }
                button #compound-save type="submit" { "Save" }
            }
        }
        @if tree.buildings.is_empty() {
            section.card #batch-card {
                h2 { "Batch add" }
                p.hint { "Only while no organization exists. Buildings and units are numbered 01, 02…; rooms floor + 2 digits (floor 3, room 2 → 302)." }
                form #batch-form method="post" action="/intercom/batch" {
                    (csrf)
                    div.pair2 {
                        label { "Buildings" input #batch-buildings type="number" min="1" max="999" name="buildings" value=(f(typed, "buildings")) required; }
                        label { "Units per building (0: no units)" input #batch-units type="number" min="0" max="99" name="units_per_building" value=(f(typed, "units_per_building")) required; }
                        label { "Floors" input #batch-floors type="number" min="1" max="999" name="floors" value=(f(typed, "floors")) required; }
                        label { "Rooms per floor" input #batch-rooms type="number" min="1" max="99" name="rooms_per_floor" value=(f(typed, "rooms_per_floor")) required; }
                    }
                    button #batch-submit type="submit" { "Create organization" }
                }
            }
        }
        section.card {
            h2 { "Organization (" (tree.rooms) " rooms)" }
            @if tree.buildings.is_empty() { p { "No building yet." } }
            ul.tree #org-tree {
                @for b in &tree.buildings {
                    li #{ "building-" (b.id) } {
                        strong { (b.code) } " " (b.name) " "
                        a.count href={ "/intercom/rooms?building=" (b.id) } { (b.rooms) " rooms" }
                        (node_actions(caller, "building", b.id, &b.name))
                        @if !b.units.is_empty() {
                            ul {
                                @for u in &b.units {
                                    li #{ "unit-" (u.id) } {
                                        (u.code) " " (u.name) " "
                                        a.count href={ "/intercom/rooms?unit=" (u.id) } { (u.rooms) " rooms" }
                                        (node_actions(caller, "unit", u.id, &u.name))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Add" }
            form method="post" action="/intercom/buildings" {
                (csrf)
                div.pair2 {
                    label { "Building number" input name="number" maxlength="3" required; }
                    label { "Name" input name="name" maxlength="64"; }
                }
                button #add-building type="submit" { "Add building" }
            }
            @if tree.compound.with_units && !tree.buildings.is_empty() {
                form method="post" action="/intercom/units" {
                    (csrf)
                    div.pair2 {
                        label { "Building" select name="building" { @for b in &tree.buildings { option value=(b.id) { (b.code) " " (b.name) } } } }
                        label { "Unit number" input name="number" maxlength="2" required; }
                    }
                    button #add-unit type="submit" { "Add unit" }
                }
            }
            @if !tree.buildings.is_empty() {
                form method="post" action="/intercom/rooms" {
                    (csrf)
                    div.pair2 {
                        @if tree.compound.with_units {
                            label { "Unit" select name="unit" { @for b in &tree.buildings { @for u in &b.units { option value=(u.id) { (u.code) } } } } }
                        } @else {
                            label { "Building" select name="building" { @for b in &tree.buildings { option value=(b.id) { (b.code) } } } }
                        }
                        label { "Room number" input name="number" maxlength="6" required; }
                        label { "Room name" input name="name" maxlength="64"; }
                        label { "Remarks" input name="remarks" maxlength="64"; }
                    }
                    button #add-room type="submit" { "Add room" }
                }
            }
        }
    })
}

fn node_actions(caller: &PageCaller, level: &str, id: u64, name: &str) -> Markup {
    html! {
        details.inline-actions {
            summary { "Edit" }
            form method="post" action={ "/intercom/node/" (level) "/" (id) "/rename" } {
                (csrf_input(caller))
                label { "Name" input name="name" value=(name) maxlength="64"; }
                label { "Number (empty: keep)" input name="number" maxlength="6"; }
                button.small type="submit" { "Save" }
            }
            form method="post" action={ "/intercom/node/" (level) "/" (id) "/delete" } {
                (csrf_input(caller))
                button.small.danger type="submit" { "Delete" }
            }
        }
    }
}

pub(super) async fn render(
    app: &Arc<App>,
    caller: &PageCaller,
    title: &str,
    body: Result<Markup, Error>,
    notice_text: Option<&str>,
    err: Option<&Error>,
) -> Response {
    let frame = Frame::load(app, Some(caller)).await;
    match body {
        Ok(b) => frame.page(
            err.map(status_of).unwrap_or(StatusCode::OK),
            title,
            html! { (notice_box(notice_text)) (error_box(err)) (b) },
        ),
        Err(e) => frame.error(&e),
    }
}

async fn org_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(q): Query<Fields>,
) -> Response {
    let body = org_body(&app, &caller, &q).await;
    render(
        &app,
        &caller,
        "Building management",
        body,
        notice(f(&q, "done")),
        None,
    )
    .await
}

/// Which page a posted change comes from: where it goes back to, and what it shows on a refusal.
#[derive(Clone, Copy)]
enum Origin {
    Organization,
    Devices,
}

impl Origin {
    fn path(self) -> &'static str {
        match self {
            Origin::Organization => "/intercom",
            Origin::Devices => "/intercom/devices",
        }
    }

    async fn refused(
        self,
        app: &Arc<App>,
        caller: &PageCaller,
        form: &Fields,
        e: &Error,
    ) -> Response {
        let (title, body) = match self {
            Origin::Organization => ("Building management", org_body(app, caller, form).await),
            Origin::Devices => ("Devices", devices_body(app, caller, form).await),
        };
        render(app, caller, title, body, None, Some(e)).await
    }
}

/// Runs a change posted from `origin`: checks the CSRF token, runs `change`, then goes back with
/// a notice, or shows the page again with the refusal and the typed values.
async fn posted_change(
    origin: Origin,
    app: Arc<App>,
    caller: PageCaller,
    form: Fields,
    done: &str,
    change: impl FnOnce(&App, &crate::accounts::Actor, &Fields) -> Result<(), Error> + Send + 'static,
) -> Response {
    if !csrf_valid(&caller, f(&form, "csrf")) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    let fields = form.clone();
    match blocking(&app, move |app| change(app, &actor, &fields)).await {
        Ok(()) => see_other(&format!("{}?done={done}", origin.path())),
        Err(e) => origin.refused(&app, &caller, &form, &e).await,
    }
}

/// A change posted from the organization page.
async fn org_change(
    app: Arc<App>,
    caller: PageCaller,
    form: Fields,
    done: &str,
    change: impl FnOnce(&App, &crate::accounts::Actor, &Fields) -> Result<(), Error> + Send + 'static,
) -> Response {
    posted_change(Origin::Organization, app, caller, form, done, change).await
}

async fn compound(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(form): Form<Fields>,
) -> Response {
    org_change(app, caller, form, "saved", |app, actor, m| {
        let with_units =
            m.contains_key("with_units") || !organization::snapshot(app)?.buildings.is_empty();
        let patch = CompoundPatch {
            name: opt(m, "name"),
            with_units: Some(with_units),
        };
        // The unit level is only offered while empty; keep it as it is otherwise.
        let patch = if organization::snapshot(app)?.buildings.is_empty() {
            patch
        } else {
            CompoundPatch {
                with_units: None,
                ..patch
            }
        };
        organization::set_compound(app, actor, &patch).map(drop)
    })
    .await
}

async fn batch(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(form): Form<Fields>,
) -> Response {
    org_change(app, caller, form, "batch", |app, actor, m| {
        let req = BatchOrganization {
            buildings: num(m, "buildings")?,
            units_per_building: num(m, "units_per_building")?,
            floors: num(m, "floors")?,
            rooms_per_floor: num(m, "rooms_per_floor")?,
        };
        organization::batch_create(app, actor, &req).map(drop)
    })
    .await
}

async fn add_building(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(form): Form<Fields>,
) -> Response {
    org_change(app, caller, form, "added", |app, actor, m| {
        organization::add_building(
            app,
            actor,
            &NewBuilding {
                number: f(m, "number").into(),
                name: f(m, "name").into(),
            },
        )
        .map(drop)
    })
    .await
}

async fn add_unit(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(form): Form<Fields>,
) -> Response {
    org_change(app, caller, form, "added", |app, actor, m| {
        organization::add_unit(
            app,
            actor,
            &NewUnit {
                building: num(m, "building")?,
                number: f(m, "number").into(),
                name: f(m, "name").into(),
            },
        )
        .map(drop)
    })
    .await
}

async fn add_room(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(form): Form<Fields>,
) -> Response {
    org_change(app, caller, form, "added", |app, actor, m| {
        let req = NewRoom {
            unit: opt(m, "unit").and_then(|u| u.parse().ok()),
            building: opt(m, "building").and_then(|b| b.parse().ok()),
            number: f(m, "number").into(),
            name: f(m, "name").into(),
            remarks: f(m, "remarks").into(),
        };
        organization::add_room(app, actor, &req).map(drop)
    })
    .await
}

fn level_of(s: &str) -> Result<Level, Error> {
    match s {
        "building" => Ok(Level::Building),
        "unit" => Ok(Level::Unit),
        "room" => Ok(Level::Room),
        _ => Err(Error::NotFound(format!("no organization level \"{s}\""))),
    }
}

async fn rename(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path((level, id)): Path<(String, u64)>,
    Form(form): Form<Fields>,
) -> Response {
    org_change(app, caller, form, "saved", move |app, actor, m| {
        let patch = NodePatch {
            number: opt(m, "number"),
            name: Some(f(m, "name").into()),
            remarks: opt(m, "remarks"),
        };
        organization::rename(app, actor, level_of(&level)?, id, &patch)
    })
    .await
}

async fn delete(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path((level, id)): Path<(String, u64)>,
    Form(form): Form<Fields>,
) -> Response {
    org_change(app, caller, form, "deleted", move |app, actor, _| {
        organization::delete(app, actor, level_of(&level)?, id)
    })
    .await
}

async fn rooms_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(q): Query<RoomQuery>,
    Query(d): Query<Fields>,
) -> Response {
    let body = rooms_body(&app, &caller, q, None).await;
    render(&app, &caller, "Rooms", body, notice(f(&d, "done")), None).await
}

/// The room list with each room's unlock password form and sending status (manual 3.3);
/// `typed` is the room whose password form is shown again with what was typed.
async fn rooms_body(
    app: &Arc<App>,
    caller: &PageCaller,
    q: RoomQuery,
    typed: Option<(u64, &Fields)>,
) -> Result<Markup, Error> {
    let query = q.clone();
    let (p, statuses) = blocking(app, move |app| {
        let p = organization::rooms(app, &query)?;
        let mut statuses = HashMap::new();
        for r in &p.items {
            statuses.insert(r.id, room_passwords::status(app, r.id)?);
        }
        Ok((p, statuses))
    })
    .await?;
    let pages = p.total.div_ceil(p.per_page).max(1);
    let link = |n: usize| {
        format!(
            "/intercom/rooms?page={n}{}{}{}",
            q.building
                .map(|b| format!("&building={b}"))
                .unwrap_or_default(),
            q.unit.map(|u| format!("&unit={u}")).unwrap_or_default(),
            q.q.as_deref()
                .map(|t| format!("&q={}", query_escape(t)))
                .unwrap_or_default()
        )
    };
    let kept = |room: u64, k: &str| match typed {
        Some((id, m)) if id == room => f(m, k).to_owned(),
        _ => String::new(),
    };
    Ok(html! {
        p.crumbs { a href="/intercom" { "← Building management" } }
        form.search method="get" action="/intercom/rooms" {
            @if let Some(b) = q.building { input type="hidden" name="building" value=(b); }
            @if let Some(u) = q.unit { input type="hidden" name="unit" value=(u); }
            label { "Search (code, number or name)" input name="q" value=(q.q.clone().unwrap_or_default()); }
            button type="submit" { "Search" }
        }
        p.hint { (p.total) " rooms. Unlock passwords (manual 3.3) have 6 to 8 digits; they are sent to the unit's door stations and the room's indoor monitors." }
        form #batch-send method="post" action="/intercom/rooms/send" {
            (csrf_input(caller))
            button #batch-send-submit type="submit" { "Batch send selected rooms" }
        }
        div.scroll {
        table #rooms {
            thead { tr { th { "Send" } th { "Organization" } th { "Room No." } th { "Room name" } th { "Remarks" } th { "Unlock password" } th { "Sending status" } th {} } }
            tbody {
                @for r in &p.items {
                    tr #{ "room-" (r.id) } {
                        td { input type="checkbox" name="room" value=(r.id) form="batch-send" aria-label={ "Select " (r.code) }; }
                        td { code { (r.code) } }
                        td { (r.number) }
                        td { (r.name) }
                        td { (r.remarks) }
                        td {
                            span #{ "password-state-" (r.id) } { @if r.password_set { "set" } @else { "—" } }
                            details.inline-actions {
                                summary { "Password" }
                                form #{ "room-password-" (r.id) } method="post" action={ "/intercom/rooms/" (r.id) "/password" } {
                                    (csrf_input(caller))
                                    label { "New password" input type="password" name="password" inputmode="numeric" maxlength="8" autocomplete="new-password" value=(kept(r.id, "password")); }
                                    label { "Confirm password" input type="password" name="confirm" inputmode="numeric" maxlength="8" autocomplete="new-password" value=(kept(r.id, "confirm")); }
                                    button.small type="submit" { "Save" }
                                }
                                @if r.password_set {
                                    form method="post" action={ "/intercom/rooms/" (r.id) "/password/clear" } {
                                        (csrf_input(caller))
                                        button.small.danger type="submit" { "Clear" }
                                    }
                                    form method="post" action={ "/intercom/rooms/" (r.id) "/send" } {
                                        (csrf_input(caller))
                                        button.small type="submit" { "Send" }
                                    }
                                }
                            }
                        }
                        td #{ "send-status-" (r.id) } {
                            @let list = statuses.get(&r.id).map(Vec::as_slice).unwrap_or(&[]);
                            @if list.is_empty() { span.hint { "no device" } }
                            ul.send-status {
                                @for st in list {
                                    li { (st.device_name) " (" (st.number) "): " strong { (st.state) }
                                        @if let Some(why) = &st.reason { " — " (why) } }
                                }
                            }
                        }
                        td { (node_actions(caller, "room", r.id, &r.name)) }
                    }
                }
            }
        }
        }
        @if pages > 1 {
            p.pager {
                @if p.page > 1 { a href=(link(p.page - 1)) { "← Previous" } }
                span { "Page " (p.page) " of " (pages) }
                @if p.page < pages { a href=(link(p.page + 1)) { "Next →" } }
            }
        }
    })
}

/// Runs a password change posted from the rooms page; on error shows the list again with it.
async fn room_change(
    app: Arc<App>,
    caller: PageCaller,
    form: Vec<(String, String)>,
    room: Option<u64>,
    done: &str,
    change: impl FnOnce(&App, &crate::accounts::Actor, &[(String, String)]) -> Result<usize, Error>
        + Send
        + 'static,
) -> Response {
    let fields: Fields = form.iter().cloned().collect();
    if !csrf_valid(&caller, f(&fields, "csrf")) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    match blocking(&app, move |app| change(app, &actor, &form)).await {
        Ok(_) => see_other(&format!("/intercom/rooms?done={done}")),
        Err(e) => {
            let body = rooms_body(
                &app,
                &caller,
                RoomQuery::default(),
                room.map(|r| (r, &fields)),
            )
            .await;
            render(&app, &caller, "Rooms", body, None, Some(&e)).await
        }
    }
}

fn pick<'a>(form: &'a [(String, String)], k: &str) -> &'a str {
    form.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

async fn set_room_password(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<u64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    room_change(
        app,
        caller,
        form,
        Some(id),
        "password",
        move |app, actor, m| {
            room_passwords::set(app, actor, id, pick(m, "password"), pick(m, "confirm"))
        },
    )
    .await
}

async fn clear_room_password(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<u64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    room_change(app, caller, form, None, "cleared", move |app, actor, _| {
        room_passwords::clear(app, actor, id)
    })
    .await
}

async fn send_room(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<u64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    room_change(app, caller, form, None, "sent", move |app, actor, _| {
        room_passwords::send(app, actor, &[id])
    })
    .await
}

async fn send_rooms(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    room_change(app, caller, form, None, "sent", |app, actor, m| {
        let mut rooms = Vec::new();
        for (k, v) in m.iter().filter(|(k, _)| k == "room") {
            rooms.push(v.parse().map_err(|_| {
                Error::invalid("form_number", "room", format!("{k} must be a whole number"))
            })?);
        }
        room_passwords::send(app, actor, &rooms)
    })
    .await
}

async fn devices_body(
    app: &Arc<App>,
    caller: &PageCaller,
    typed: &Fields,
) -> Result<Markup, Error> {
    let list = blocking(app, devices::list).await?;
    Ok(html! {
        p.crumbs { a href="/intercom" { "← Building management" } }
        p { "Manual 3.2: the devices that register to Gatehouse and whose management interface it uses. Passwords are stored sealed and only shown as set." }
        table #devices {
            thead { tr { th { "Name" } th { "Type" } th { "Address" } th { "Device No." } th { "User" } th { "Password" } th { "Status" } th {} } }
            tbody {
                @for d in &list {
                    tr #{ "device-" (d.id) } {
                        td { (d.name) } td { (kind_label(d.kind)) } td { (d.ip) ":" (d.port) } td { (d.number) }
                        td { (d.username) } td { @if d.password_set { "set" } @else { "unset" } }
                        td { @if d.online { "online" } @else { "offline" } }
                        td {
                            form method="post" action={ "/intercom/devices/" (d.id) "/delete" } {
                                (csrf_input(caller))
                                button.small.danger type="submit" { "Delete" }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Add device" }
            form #device-form method="post" action="/intercom/devices" {
                (csrf_input(caller))
                div.pair2 {
                    label { "Name" input name="name" value=(f(typed, "name")) maxlength="64" required; }
                    label { "Type" select name="kind" { @for (k, l) in KINDS { option value=(kind_value(k)) selected[f(typed, "kind") == kind_value(k)] { (l) } } } }
                    label { "IP address" input name="ip" value=(f(typed, "ip")) required; }
                    label { "Port" input type="number" name="port" value=(if f(typed, "port").is_empty() { "80" } else { f(typed, "port") }) min="1" max="65535"; }
                    label { "User name" input name="username" value=(if f(typed, "username").is_empty() { "admin" } else { f(typed, "username") }) maxlength="64"; }
                    label { "Password" input type="password" name="password" maxlength="64" autocomplete="new-password"; }
                    label { "Device number (e.g. 8055, 101)" input name="number" value=(f(typed, "number")) maxlength="10" required; }
                }
                button #add-device type="submit" { "Add device" }
            }
        }
    })
}

fn kind_value(k: DeviceKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn devices_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(q): Query<Fields>,
) -> Response {
    let body = devices_body(&app, &caller, &Fields::new()).await;
    render(&app, &caller, "Devices", body, notice(f(&q, "done")), None).await
}

/// A change posted from the device page.
async fn device_change(
    app: Arc<App>,
    caller: PageCaller,
    form: Fields,
    done: &str,
    change: impl FnOnce(&App, &crate::accounts::Actor, &Fields) -> Result<(), Error> + Send + 'static,
) -> Response {
    posted_change(Origin::Devices, app, caller, form, done, change).await
}

async fn add_device(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(form): Form<Fields>,
) -> Response {
    device_change(app, caller, form, "device", |app, actor, m| {
        let kind = serde_json::from_value(serde_json::Value::String(f(m, "kind").to_owned()))
            .map_err(|_| Error::invalid("device_kind", "kind", "choose the device type"))?;
        let input = DeviceInput {
            name: Some(f(m, "name").into()),
            kind: Some(kind),
            ip: Some(f(m, "ip").into()),
            port: Some(num(m, "port")?),
            username: Some(f(m, "username").into()),
            password: Some(f(m, "password").into()),
            number: Some(f(m, "number").into()),
        };
        devices::create(app, actor, &input).map(drop)
    })
    .await
}

async fn delete_device(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<u64>,
    Form(form): Form<Fields>,
) -> Response {
    device_change(app, caller, form, "deleted", move |app, actor, _| {
        devices::delete(app, actor, id)
    })
    .await
}
