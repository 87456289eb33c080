//! The person-collection pages (manual 1.3): the subscribe switch, the users devices pushed with
//! their status and conflict badges, "Sync selected" (conflicts only with the confirmation box
//! ticked), "Auto sync", "Refresh", and a side-by-side detail of one collected user against the
//! person it would overwrite and the holders of its cards. Calls `persons::collection`; the
//! rules stay there.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;

use super::public::CsrfForm;
use super::{csrf_input, csrf_valid, error_box, notice_box, query_escape, see_other, Frame, SetUp};
use crate::app::App;
use crate::error::Error;
use crate::persons::collection::{
    self, CollectedView, CollectionFilter, ConflictDetail, StatusName, SyncReport,
};
use crate::persons::{PersonType, PersonView};
use crate::web::auth::PageCaller;
use crate::web::blocking;
use crate::web::error::status_of;

const BASE: &str = "/persons/collection";
/// Most rows drawn at once; the filter narrows the rest.
const MAX_ROWS: usize = 1000;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route(BASE, get(list_page))
        .route("/persons/collection/subscribe", post(subscribe))
        .route("/persons/collection/sync", post(sync))
        .route("/persons/collection/auto-sync", post(auto_sync))
        .route("/persons/collection/refresh", post(refresh))
        .route("/persons/collection/{key}", get(detail_page))
}

/// The query of the list page: a filter and the outcome of the last action.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    status: Option<String>,
    q: Option<String>,
    done: Option<String>,
    created: usize,
    overwritten: usize,
    removed: usize,
    skipped: usize,
}

impl ListQuery {
    fn filter(&self) -> CollectionFilter {
        CollectionFilter {
            status: match self.status.as_deref() {
                Some("pending") => Some(StatusName::Pending),
                Some("synced") => Some(StatusName::Synced),
                Some("conflict") => Some(StatusName::Conflict),
                _ => None,
            },
            device: None,
            q: self.q.clone(),
        }
    }

    fn notice(&self) -> Option<String> {
        let counts = || {
            format!(
                "{} created, {} overwritten, {} cards removed from other persons",
                self.created, self.overwritten, self.removed
            )
        };
        Some(match self.done.as_deref()? {
            "sync" => format!("Synced: {}.", counts()),
            "auto-sync" => format!(
                "Auto sync: {}; {} with conflicts left as they are.",
                counts(),
                self.skipped
            ),
            "refresh" => "Conflicts were evaluated again.".to_owned(),
            "subscribe-on" => "Subscribe is on: users pushed by devices are collected.".to_owned(),
            "subscribe-off" => "Subscribe is off.".to_owned(),
            _ => return None,
        })
    }
}

fn report_query(done: &str, r: &SyncReport) -> String {
    format!(
        "{BASE}?done={done}&created={}&overwritten={}&removed={}&skipped={}",
        r.created.len(),
        r.overwritten.len(),
        r.cards_removed.len(),
        r.skipped.len()
    )
}

fn kind_text(k: PersonType) -> &'static str {
    k.as_str()
}

fn status_badges(v: &CollectedView) -> Markup {
    html! {
        @match v.status {
            StatusName::Pending => span.badge.pending { "pending" },
            StatusName::Synced => span.badge.synced { "synced" },
            StatusName::Conflict => {
                @if v.person_id_conflict {
                    span.badge.conflict title="A person with this ID exists and differs" { "person ID conflict" }
                    " "
                }
                @if !v.card_conflicts.is_empty() {
                    span.badge.conflict title="A card belongs to another person" { "card conflict" }
                }
            }
        }
    }
}

/// What the list form had selected, to draw it again after a refusal.
#[derive(Default)]
struct Typed {
    keys: Vec<String>,
    confirm: bool,
}

fn list_body(
    caller: &PageCaller,
    subscribed: bool,
    rows: &[CollectedView],
    q: &ListQuery,
    typed: &Typed,
    err: Option<&Error>,
) -> Markup {
    let notice = q.notice();
    let status = q.status.as_deref().unwrap_or("");
    html! {
        p { "Manual 1.3: access-control devices push the users added or changed on them. \
             Sync them into person management; users whose person ID or cards are already \
             in use are shown as conflicts and only synced after you confirm." }
        (notice_box(notice.as_deref()))
        (error_box(err))
        section.card #subscription {
            h2 { "Subscribe" }
            p #subscribe-state {
                "Subscribe is " strong { @if subscribed { "on" } @else { "off" } } ". "
                @if subscribed { "Users pushed by devices are collected." }
                @else { "Users pushed by devices are not collected." }
            }
            form method="post" action="/persons/collection/subscribe" {
                (csrf_input(caller))
                input type="hidden" name="enabled" value=(if subscribed { "0" } else { "1" });
                button #subscribe-toggle type="submit" {
                    @if subscribed { "Turn subscribe off" } @else { "Turn subscribe on" }
                }
            }
        }
        section.card {
            h2 { "Collected users" }
            form.search method="get" action=(BASE) {
                label { "Person ID or name"
                    input name="q" value=(q.q.as_deref().unwrap_or(""));
                }
                label { "Status"
                    select name="status" {
                        option value="" selected[status.is_empty()] { "any" }
                        option value="pending" selected[status == "pending"] { "pending" }
                        option value="conflict" selected[status == "conflict"] { "conflict" }
                        option value="synced" selected[status == "synced"] { "synced" }
                    }
                }
                button #filter type="submit" .secondary { "Search" }
            }
            @if rows.is_empty() {
                p #no-collected { "No collected users." }
            } @else {
                form #sync-form method="post" action="/persons/collection/sync" {
                    (csrf_input(caller))
                    @if rows.len() > MAX_ROWS {
                        p.hint { "Showing the first " (MAX_ROWS) " of " (rows.len()) "; search to narrow." }
                    }
                    div.scroll {
                        table #collected {
                            thead { tr {
                                th { "Select" } th { "Device" } th { "Person ID" } th { "Name" }
                                th { "Type" } th { "Cards" } th { "Received" } th { "Status" } th { "" }
                            } }
                            tbody {
                                @for v in rows.iter().take(MAX_ROWS) {
                                    tr data-key=(v.key) {
                                        td { input type="checkbox" name="key" value=(v.key)
                                            checked[typed.keys.contains(&v.key)]
                                            aria-label={ "Select " (v.user_id) }; }
                                        td { (v.device) }
                                        td { (v.user_id) }
                                        td { (v.name) }
                                        td { (kind_text(v.kind)) }
                                        td { (v.cards.join(", ")) }
                                        td.nowrap { (v.received.replace('T', " ").replace('Z', " UTC")) }
                                        td { (status_badges(v)) }
                                        td { a href={ (BASE) "/" (query_escape(&v.key)) } { "Details" } }
                                    }
                                }
                            }
                        }
                    }
                    label {
                        input #confirm-overwrite type="checkbox" name="confirm" value="1" checked[typed.confirm];
                        " I confirm overwriting conflicting persons and removing their cards from others"
                    }
                    button #sync-selected type="submit" { "Sync selected" }
                }
            }
            form method="post" action="/persons/collection/auto-sync" {
                (csrf_input(caller))
                button #auto-sync type="submit" { "Auto sync" }
                span.hint { " Syncs every pending user without conflicts; the others stay." }
            }
            form method="post" action="/persons/collection/refresh" {
                (csrf_input(caller))
                button #refresh .secondary type="submit" { "Refresh" }
                span.hint { " Evaluates the conflicts again." }
            }
        }
        p { a href="/section/persons" { "Back to person management" } }
    }
}

async fn show_list(
    app: &Arc<App>,
    caller: &PageCaller,
    q: &ListQuery,
    typed: &Typed,
    err: Option<&Error>,
) -> Response {
    let frame = Frame::load(app, Some(caller)).await;
    let filter = q.filter();
    let loaded = blocking(app, move |app| {
        Ok((
            collection::subscribed(app)?,
            collection::list(app, &filter)?,
        ))
    })
    .await;
    let (subscribed, rows) = match loaded {
        Ok(x) => x,
        Err(e) => return frame.error(&e),
    };
    let status = err.map(status_of).unwrap_or(StatusCode::OK);
    frame.page(
        status,
        "Person collection",
        list_body(caller, subscribed, &rows, q, typed, err),
    )
}

async fn list_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(q): Query<ListQuery>,
) -> Response {
    show_list(&app, &caller, &q, &Typed::default(), None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SubscribeForm {
    csrf: String,
    enabled: String,
}

async fn subscribe(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(f): Form<SubscribeForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let on = f.enabled == "1";
    let actor = caller.actor.clone();
    match blocking(&app, move |app| collection::set_subscribe(app, &actor, on)).await {
        Ok(()) => see_other(&format!(
            "{BASE}?done={}",
            if on { "subscribe-on" } else { "subscribe-off" }
        )),
        Err(e) => {
            show_list(
                &app,
                &caller,
                &ListQuery::default(),
                &Typed::default(),
                Some(&e),
            )
            .await
        }
    }
}

/// The sync form: `csrf`, one `key` per ticked box and `confirm`.
async fn sync(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let mut csrf = String::new();
    let mut typed = Typed::default();
    for (k, v) in fields {
        match k.as_str() {
            "csrf" => csrf = v,
            "key" => typed.keys.push(v),
            "confirm" => typed.confirm = v == "1",
            _ => {}
        }
    }
    if !csrf_valid(&caller, &csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    let (keys, confirm) = (typed.keys.clone(), typed.confirm);
    match blocking(&app, move |app| {
        collection::sync(app, &actor, &keys, confirm)
    })
    .await
    {
        Ok(r) => see_other(&report_query("sync", &r)),
        Err(e) => show_list(&app, &caller, &ListQuery::default(), &typed, Some(&e)).await,
    }
}

async fn auto_sync(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    match blocking(&app, move |app| collection::auto_sync(app, &actor)).await {
        Ok(r) => see_other(&report_query("auto-sync", &r)),
        Err(e) => {
            show_list(
                &app,
                &caller,
                &ListQuery::default(),
                &Typed::default(),
                Some(&e),
            )
            .await
        }
    }
}

async fn refresh(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    match blocking(&app, |app| collection::refresh(app).map(drop)).await {
        Ok(()) => see_other(&format!("{BASE}?done=refresh")),
        Err(e) => {
            show_list(
                &app,
                &caller,
                &ListQuery::default(),
                &Typed::default(),
                Some(&e),
            )
            .await
        }
    }
}

/// One row of the side-by-side table.
fn side(label: &str, collected: &str, existing: Option<&str>) -> Markup {
    let differs = existing.is_some_and(|e| e != collected);
    html! {
        tr {
            th { (label) }
            td { (collected) }
            td { @match existing { Some(e) => { (e) @if differs { " " span.badge.conflict { "differs" } } }, None => "—" } }
        }
    }
}

fn detail_body(caller: &PageCaller, d: &ConflictDetail) -> Markup {
    let c = &d.collected;
    let e: Option<&PersonView> = d.existing.as_ref();
    let cards = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    let existing_cards = e.map(|p| {
        let mut n: Vec<String> = p.cards.iter().map(|c| c.number.clone()).collect();
        n.sort();
        cards(&n)
    });
    let mut mine = c.cards.clone();
    mine.sort();
    let yes_no = |b: bool| if b { "set" } else { "none" };
    html! {
        p { "Status: " (status_badges(c)) }
        p #consequence .warn { (d.consequence) }
        div.scroll {
            table #side-by-side {
                thead { tr { th { "" } th { "Collected from device " (c.device) } th { "Person in person management" } } }
                tbody {
                    (side("Person ID", &c.user_id, e.map(|p| p.id.as_str())))
                    (side("Name", &c.name, e.map(|p| p.name.as_str())))
                    (side("Person type", kind_text(c.kind), e.map(|p| kind_text(p.kind))))
                    (side("Effective time", &c.valid_from, e.map(|p| p.valid_from.as_str())))
                    (side("Expiry time", &c.valid_to, e.map(|p| p.valid_to.as_str())))
                    (side("Password", yes_no(c.password_set), e.map(|p| yes_no(p.password_set))))
                    (side("Cards", &cards(&mine), existing_cards.as_deref()))
                    tr { th { "Department" } td { "the company (for a new person)" } td { (e.map(|p| p.department_path.as_str()).unwrap_or("—")) } }
                    tr { th { "Received" } td { (c.received) } td { "" } }
                }
            }
        }
        @if !d.card_owners.is_empty() {
            h2 { "Cards held by other persons" }
            table #card-owners {
                thead { tr { th { "Card" } th { "Held by (person ID)" } th { "Name" } th { "Department" } } }
                tbody {
                    @for o in &d.card_owners {
                        tr { td { (o.number) } td { (o.owner.id) } td { (o.owner.name) } td { (o.owner.department_path) } }
                    }
                }
            }
        }
        form method="post" action="/persons/collection/sync" {
            (csrf_input(caller))
            input type="hidden" name="key" value=(c.key);
            @if c.status == StatusName::Conflict {
                label {
                    input #confirm-overwrite type="checkbox" name="confirm" value="1";
                    " I confirm overwriting conflicting persons and removing their cards from others"
                }
            }
            button #sync-one type="submit" { "Sync this user" }
        }
        p { a href=(BASE) { "Back to person collection" } }
    }
}

async fn detail_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(key): Path<String>,
) -> Response {
    let frame = Frame::load(&app, Some(&caller)).await;
    match blocking(&app, move |app| collection::detail(app, &key)).await {
        Ok(d) => frame.page(
            StatusCode::OK,
            &format!(
                "Collected user {} from {}",
                d.collected.user_id, d.collected.device
            ),
            detail_body(&caller, &d),
        ),
        Err(e) => frame.error(&e),
    }
}
