//! Batch pages: batch add (manual 1.2.4: start ID, count, department, type, validity) going
//! straight to card issuing for the persons it created, and the card-issuing page (1.2.5.1,
//! Figure 1-8): the ordered list with the next person waiting marked, one input that gives a typed
//! number to that person, an input per row for a chosen person, and Stop. Calls
//! `persons::batch::{add, start, view, issue, stop}`; reading numbers from a card issuer comes later.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::html;
use serde::Deserialize;

use super::persons::{
    base_name, busy_script, department_options, done_text, non_empty, parse_department,
};
use super::public::CsrfForm;
use super::{csrf_input, csrf_valid, error_box, notice_box, query_escape, see_other, Frame, SetUp};
use crate::app::App;
use crate::error::Error;
use crate::persons::batch::{self, BatchAdd, IssueStart};
use crate::persons::{cards, departments, PersonType};
use crate::web::auth::PageCaller;
use crate::web::blocking;
use crate::web::error::status_of;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/persons/batch-add", get(batch_add_page).post(batch_add))
        .route("/persons/issue/{session}", get(issue_page).post(issue))
        .route("/persons/issue/{session}/stop", post(stop))
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct BatchAddForm {
    csrf: String,
    start_id: String,
    count: String,
    department: String,
    #[serde(rename = "type")]
    kind: String,
    valid_from: String,
    valid_to: String,
}

impl BatchAddForm {
    fn request(&self) -> Result<BatchAdd, Error> {
        let count = self.count.trim().parse().map_err(|_| {
            Error::invalid(
                "batch_count",
                "count",
                format!("\"{}\" is not a number of persons", self.count),
            )
        })?;
        let kind = match self.kind.trim() {
            "" => None,
            k => Some(PersonType::parse(k).ok_or_else(|| {
                Error::invalid(
                    "person_type",
                    "type",
                    format!("there is no person type \"{k}\""),
                )
            })?),
        };
        Ok(BatchAdd {
            start_id: self.start_id.clone(),
            count,
            department: parse_department(&self.department)?,
            kind,
            valid_from: non_empty(&self.valid_from),
            valid_to: non_empty(&self.valid_to),
        })
    }
}

async fn show_batch_add(
    app: &Arc<App>,
    caller: &PageCaller,
    f: &BatchAddForm,
    err: Option<&Error>,
) -> Response {
    let frame = Frame::load(app, Some(caller)).await;
    let list = match blocking(app, departments::list).await {
        Ok(l) => l,
        Err(e) => return frame.error(&e),
    };
    frame.page(
        err.map(status_of).unwrap_or(StatusCode::OK),
        "Batch add",
        html! {
            p.crumbs { a href="/persons" { "← Persons" } }
            p { "Manual 1.2.4: adds persons with IDs counting up from the start ID (their names are \
                 their IDs until edited), then opens the card-issuing list for them." }
            (error_box(err))
            form.card.narrow #batch-add-form method="post" action="/persons/batch-add" {
                (csrf_input(caller))
                div.pair2 {
                    label { "Start ID (ends in digits)" input #batch-start name="start_id" value=(f.start_id) required maxlength="30" placeholder="1001" autocomplete="off"; }
                    label { "Number of persons" input #batch-count name="count" type="number" min="1" max=(batch::MAX_BATCH) value=(f.count) required; }
                }
                label { "Department"
                    select #batch-add-department name="department" { (department_options(&list, &f.department, None)) }
                }
                label { "Type"
                    select name="type" {
                        @for t in PersonType::ALL {
                            option value=(t.as_str()) selected[f.kind == t.as_str()] { (t.as_str()) }
                        }
                    }
                }
                div.pair2 {
                    label { "Effective time (UTC)" input type="datetime-local" step="1" name="valid_from" value=(f.valid_from); small.hint { "Empty: from now" } }
                    label { "Expiry time (UTC)" input type="datetime-local" step="1" name="valid_to" value=(f.valid_to); small.hint { "Empty: ten years on" } }
                }
                button #batch-add-submit type="submit" { "Add and issue cards" }
            }
            (busy_script())
        },
    )
}

async fn batch_add_page(_: SetUp, State(app): State<Arc<App>>, caller: PageCaller) -> Response {
    let f = BatchAddForm {
        count: "10".into(),
        ..Default::default()
    };
    show_batch_add(&app, &caller, &f, None).await
}

async fn batch_add(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Form(f): Form<BatchAddForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let req = match f.request() {
        Ok(r) => r,
        Err(e) => return show_batch_add(&app, &caller, &f, Some(&e)).await,
    };
    let actor = caller.actor.clone();
    let added = blocking(&app, move |app| {
        let ids = batch::add(app, &actor, &req)?;
        // The persons exist now; if the list cannot start, say they were added.
        let start = IssueStart {
            ids,
            valid_from: None,
            valid_to: None,
        };
        Ok(batch::start(app, &actor, &start).ok())
    })
    .await;
    match added {
        Ok(Some(s)) => see_other(&format!("/persons/issue/{}", query_escape(&s.session))),
        Ok(None) => see_other("/persons?done=batch-added"),
        Err(e) => show_batch_add(&app, &caller, &f, Some(&e)).await,
    }
}

/// What was typed on the issuing page: the number and the person it was for (none: next).
#[derive(Default)]
struct IssueTyped {
    number: String,
    person: String,
}

async fn show_issue(
    app: &Arc<App>,
    caller: &PageCaller,
    session: &str,
    typed: &IssueTyped,
    notice: Option<&str>,
    err: Option<&Error>,
) -> Response {
    let frame = Frame::load(app, Some(caller)).await;
    let sid = session.to_owned();
    let a = app.clone();
    let data = blocking(app, move |app| {
        Ok((
            batch::view(app, &sid)?,
            cards::settings(app)?.display,
            a.readers.card.view(&a),
        ))
    })
    .await;
    let (s, base, reader) = match data {
        Ok(d) => d,
        Err(e) => return frame.error(&e),
    };
    let action = format!("/persons/issue/{}", query_escape(&s.session));
    let next = s
        .next
        .as_deref()
        .and_then(|n| s.items.iter().find(|i| i.id == n));
    frame.page(
        err.map(status_of).unwrap_or(StatusCode::OK),
        "Issue cards",
        html! {
            p.crumbs { a href="/persons" { "← Persons" } }
            p { "Manual 1.2.5.1: hold each card on the card issuer after starting to read, or type its \
                 number (" (base_name(base)) ") and press Enter; it goes to the next person waiting, \
                 marked below, and is stored at once. To give a number to someone else, use the input in \
                 that person's row." }
            (notice_box(notice))
            (error_box(err))
            (super::reader_pages::issue_reader_section(caller, &s.session, &reader))
            section.card.issue-next {
                @if let Some(n) = next {
                    form #issue-form method="post" action=(action) {
                        (csrf_input(caller))
                        label { "Card number for " strong #next-name { (n.name) " (" (n.id) ")" }
                            input #issue-number name="number" autofocus autocomplete="off" required
                                value=(if typed.person.is_empty() { typed.number.as_str() } else { "" });
                        }
                        button #issue-give type="submit" { "Give card" }
                    }
                } @else {
                    p #issue-done .notice { "Every person in this list has a card." }
                }
                p.hint #issue-count { (s.issued) " of " (s.items.len()) " issued" }
            }
            div.scroll {
                table #issue-list {
                    thead { tr { th { "#" } th { "Person ID" } th { "Name" } th { "Card No." } th { "Give a number" } } }
                    tbody {
                        @for (i, item) in s.items.iter().enumerate() {
                            @let is_next = s.next.as_deref() == Some(item.id.as_str());
                            @let row_id = if is_next { "next-person".to_owned() } else { format!("issue-{}", item.id) };
                            tr id=(row_id) .next[is_next] data-person=(item.id) {
                                td { (i + 1) }
                                td.nowrap {
                                    span.badge.main hidden[!is_next] { "next" } " "
                                    a href={ "/persons/" (item.id) } { (item.id) }
                                }
                                td { (item.name) }
                                td.nowrap.card-cell {
                                    @if let Some(c) = &item.card { code.card-no { (c) } } @else { span.muted { "waiting" } }
                                }
                                td {
                                    form.row-issue method="post" action=(action) {
                                        (csrf_input(caller))
                                        input type="hidden" name="person" value=(item.id);
                                        input name="number" autocomplete="off" required aria-label={ "Card number for " (item.id) }
                                            value=(if typed.person == item.id { typed.number.as_str() } else { "" });
                                        button.small.secondary type="submit" { @if item.card.is_some() { "Replace" } @else { "Give" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form method="post" action={ (action) "/stop" } {
                (csrf_input(caller))
                button #issue-stop .secondary type="submit" { "Stop" }
                " " span.hint { "Ends this list; the cards given so far stay." }
            }
            (busy_script())
        },
    )
}

/// The card list's page showing `err` (for the card issuer's refusals).
pub(super) async fn issue_with_error(
    app: &Arc<App>,
    caller: &PageCaller,
    session: &str,
    err: &Error,
) -> Response {
    show_issue(
        app,
        caller,
        session,
        &IssueTyped::default(),
        None,
        Some(err),
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoneQuery {
    done: String,
}

async fn issue_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(session): Path<String>,
    Query(d): Query<DoneQuery>,
) -> Response {
    show_issue(
        &app,
        &caller,
        &session,
        &IssueTyped::default(),
        done_text(&d.done),
        None,
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IssueForm {
    csrf: String,
    number: String,
    person: String,
}

async fn issue(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(session): Path<String>,
    Form(f): Form<IssueForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let (actor, sid) = (caller.actor.clone(), session.clone());
    let (number, person) = (f.number.clone(), non_empty(&f.person));
    match blocking(&app, move |app| {
        batch::issue(app, &actor, &sid, &number, person.as_deref())
    })
    .await
    {
        Ok(_) => see_other(&format!(
            "/persons/issue/{}?done=issued",
            query_escape(&session)
        )),
        Err(e) => {
            let typed = IssueTyped {
                number: f.number,
                person: f.person,
            };
            show_issue(&app, &caller, &session, &typed, None, Some(&e)).await
        }
    }
}

async fn stop(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(session): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    match blocking(&app, move |app| batch::stop(app, &session)).await {
        Ok(()) => see_other("/persons?done=issue-stopped"),
        Err(e) => Frame::load(&app, Some(&caller)).await.error(&e),
    }
}
