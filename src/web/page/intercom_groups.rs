//! Call groups (manual 3.4): the list, adding a group (name, buildings, ring time), its members in
//! ringing order with Up / Down / Delete, adding a member (manager clients and VTS are offered),
//! deleting a group. Calls `crate::intercom::{call_groups, devices, organization}` only; owns no
//! rule (the domain checks the ring time and which devices may be members).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};

use super::intercom_pages::{f, kind_label, render, Fields};
use super::{csrf_input, csrf_valid, see_other, Frame, SetUp};
use crate::app::App;
use crate::error::Error;
use crate::intercom::call_groups::{self, Move, NewGroup};
use crate::intercom::devices;
use crate::intercom::organization;
use crate::intercom::ringing::DeviceKind;
use crate::web::auth::PageCaller;
use crate::web::blocking;

type Pairs = Vec<(String, String)>;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/intercom/call-groups", get(groups_page).post(add_group))
        .route("/intercom/call-groups/{id}/delete", post(delete_group))
        .route("/intercom/call-groups/{id}/members", post(add_member))
        .route(
            "/intercom/call-groups/{id}/members/{device}/{action}",
            post(member_action),
        )
}

fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "added" => "The call group was added.",
        "deleted" => "The call group was deleted.",
        "member" => "The members were changed.",
        _ => return None,
    })
}

fn one<'a>(form: &'a Pairs, k: &str) -> &'a str {
    form.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.trim())
        .unwrap_or("")
}

fn number<T: std::str::FromStr>(text: &str, k: &'static str) -> Result<T, Error> {
    text.trim()
        .parse()
        .map_err(|_| Error::invalid("form_number", k, format!("{k} must be a whole number")))
}

async fn groups_body(app: &Arc<App>, caller: &PageCaller, typed: &Pairs) -> Result<Markup, Error> {
    let (groups, devs, snap) = blocking(app, |app| {
        Ok((
            call_groups::list(app)?,
            devices::list(app)?,
            organization::snapshot(app)?,
        ))
    })
    .await?;
    let building_code = |id: u64| {
        snap.buildings
            .get(&id)
            .map(|b| b.number.clone())
            .unwrap_or_else(|| "?".into())
    };
    let offered: Vec<_> = devs
        .iter()
        .filter(|d| matches!(d.kind, DeviceKind::ManagerClient | DeviceKind::Vts))
        .collect();
    let chosen = |id: u64| {
        typed
            .iter()
            .any(|(k, v)| k == "buildings" && *v == id.to_string())
    };
    Ok(html! {
        p.crumbs { a href="/intercom" { "← Building management" } }
        p { "Manual 3.4: when a call is made to the management centre, the members of the group of the caller's building ring in turn, each for the ring time." }
        @if groups.is_empty() { p.hint #no-groups { "No call group yet." } }
        @for g in &groups {
            section.card #{ "group-" (g.id) } {
                h2 { (g.name) }
                p { "Buildings: "
                    @if g.buildings.is_empty() { "all" }
                    @for (i, b) in g.buildings.iter().enumerate() { @if i > 0 { ", " } (building_code(*b)) }
                    " · Ring time " (g.ring_seconds) " s" }
                div.scroll { table id={ "members-" (g.id) } {
                    thead { tr { th { "#" } th { "Member" } th { "Type" } th { "Number" } th {} } }
                    tbody {
                        @for (i, m) in g.members.iter().enumerate() {
                            tr {
                                td { (i + 1) }
                                td { (m.name.clone().unwrap_or_else(|| "(deleted device)".into())) }
                                td { (m.kind.map(kind_label).unwrap_or("?")) }
                                td { (m.number.clone().unwrap_or_default()) }
                                td.actions {
                                    @for (action, label) in [("up", "Up"), ("down", "Down"), ("delete", "Delete")] {
                                        form.inline method="post" action={ "/intercom/call-groups/" (g.id) "/members/" (m.device) "/" (action) } {
                                            (csrf_input(caller))
                                            button.small type="submit" { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
                form method="post" action={ "/intercom/call-groups/" (g.id) "/members" } {
                    (csrf_input(caller))
                    label { "Add member (manager clients and VTS)" select name="device" {
                        @for d in &offered { option value=(d.id) { (d.name) " (" (kind_label(d.kind)) ", " (d.number) ")" } }
                    } }
                    button.small type="submit" { "Add member" }
                }
                form method="post" action={ "/intercom/call-groups/" (g.id) "/delete" } {
                    (csrf_input(caller))
                    button.small.danger type="submit" { "Delete group" }
                }
            }
        }
        section.card {
            h2 { "Add call group" }
            form #group-form method="post" action="/intercom/call-groups" {
                (csrf_input(caller))
                div.pair2 {
                    label { "Name" input #group-name name="name" value=(one(typed, "name")) maxlength="64" required; }
                    label { "Ring time (seconds)" input #group-ring type="number" name="ring_seconds" value=(one(typed, "ring_seconds")) placeholder="30"; }
                    label { "Buildings" select #group-buildings name="buildings" multiple {
                        @for b in snap.buildings.values() { option value=(b.id) selected[chosen(b.id)] { (b.number) " " (b.name) } }
                    } }
                }
                button #group-add type="submit" { "Add call group" }
            }
        }
    })
}

async fn groups_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(q): Query<Fields>,
) -> Response {
    let body = groups_body(&app, &caller, &Pairs::new()).await;
    render(
        &app,
        &caller,
        "Call groups",
        body,
        notice(f(&q, "done")),
        None,
    )
    .await
}

async fn group_change(
    app: Arc<App>,
    caller: PageCaller,
    form: Pairs,
    done: &str,
    change: impl FnOnce(&App, &crate::accounts::Actor, &Pairs) -> Result<(), Error> + Send + 'static,
) -> Response {
    if !csrf_valid(&caller, one(&form, "csrf")) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    let fields = form.clone();
    match blocking(&app, move |app| change(app, &actor, &fields)).await {
        Ok(()) => see_other(&format!("/intercom/call-groups?done={done}")),
        Err(e) => {
            let body = groups_body(&app, &caller, &form).await;
            render(&app, &caller, "Call groups", body, None, Some(&e)).await
        }
    }
}

async fn add_group(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(form): Form<Pairs>,
) -> Response {
    group_change(app, caller, form, "added", |app, actor, m| {
        let mut buildings = Vec::new();
        for (_, v) in m.iter().filter(|(k, _)| k == "buildings") {
            buildings.push(number(v, "buildings")?);
        }
        let ring = one(m, "ring_seconds");
        let req = NewGroup {
            name: one(m, "name").into(),
            buildings,
            members: Vec::new(),
            ring_seconds: if ring.is_empty() {
                None
            } else {
                Some(number(ring, "ring_seconds")?)
            },
        };
        call_groups::create(app, actor, &req).map(drop)
    })
    .await
}

async fn delete_group(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<u64>,
    Form(form): Form<Pairs>,
) -> Response {
    group_change(app, caller, form, "deleted", move |app, actor, _| {
        call_groups::delete(app, actor, id)
    })
    .await
}

async fn add_member(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<u64>,
    Form(form): Form<Pairs>,
) -> Response {
    group_change(app, caller, form, "member", move |app, actor, m| {
        call_groups::add_member(app, actor, id, number(one(m, "device"), "device")?).map(drop)
    })
    .await
}

async fn member_action(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path((id, device, action)): Path<(u64, u64, String)>,
    Form(form): Form<Pairs>,
) -> Response {
    group_change(app, caller, form, "member", move |app, actor, _| {
        match action.as_str() {
            "up" => call_groups::move_member(app, actor, id, device, Move::Up),
            "down" => call_groups::move_member(app, actor, id, device, Move::Down),
            "delete" => call_groups::remove_member(app, actor, id, device),
            _ => Err(Error::NotFound(format!("no member action \"{action}\""))),
        }
        .map(drop)
    })
    .await
}
