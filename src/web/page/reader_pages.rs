//! The page's reader flows (issue 7 item 5): the readers' status page (`/readers`), fingerprint
//! enrolment of a person with its three steps shown live (`/persons/{id}/fingerprints/enroll`),
//! the stored fingerprints' duress flag and deletion, and reading cards from the issuer into a
//! card list (`/persons/issue/{session}/reader`). Live views follow `/api/v1/readers/{id}/events`
//! (server-sent events) with a few lines of plain JavaScript; without JavaScript the live pages
//! reload every two seconds. Calls `crate::serial::readers` and `crate::persons`; no rule here.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::public::CsrfForm;
use super::{csrf_input, csrf_valid, query_escape, see_other, Frame, SetUp};
use crate::app::App;
use crate::error::Error;
use crate::persons;
use crate::serial::readers::{
    self, LinkState, OpKind, OpStatus, OperationView, ReaderId, ReaderView, StepAction,
};
use crate::web::auth::PageCaller;
use crate::web::blocking;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/readers", get(status_page))
        .route("/readers/{id}/stop", post(stop))
        .route(
            "/persons/{id}/fingerprints/enroll",
            get(enroll_page).post(enroll_start),
        )
        .route("/persons/{id}/fingerprints", post(fingerprint_action))
        .route("/persons/issue/{session}/reader", post(issue_start))
        .route("/persons/issue/{session}/reader/stop", post(issue_stop))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StopForm {
    csrf: String,
    /// Where to go after a stop (a path of this site).
    back: String,
}

pub(super) fn state_text(s: LinkState) -> &'static str {
    match s {
        LinkState::Disabled => "not configured",
        LinkState::Disconnected => "disconnected",
        LinkState::Starting => "starting",
        LinkState::Ready => "ready",
        LinkState::NotAnswering => "not answering",
    }
}

fn state_badge(v: &ReaderView) -> Markup {
    let class = match v.state {
        LinkState::Ready => "badge main",
        LinkState::Disabled | LinkState::Starting => "badge",
        _ => "badge duress",
    };
    html! { span class=(class) data-state=(format!("{:?}", v.state).to_lowercase()) { (state_text(v.state)) } }
}

fn kind_text(k: OpKind) -> &'static str {
    match k {
        OpKind::ReadCard => "Read a card",
        OpKind::IssueCards => "Issue cards",
        OpKind::EnrollFingerprint => "Enrol a fingerprint",
    }
}

fn status_text(s: OpStatus) -> &'static str {
    match s {
        OpStatus::Running => "running",
        OpStatus::Done => "done",
        OpStatus::Failed => "failed",
        OpStatus::Stopped => "stopped",
    }
}

fn events_list(op: Option<&OperationView>, id: &str) -> Markup {
    html! {
        ol.events id=(id) {
            @if let Some(op) = op {
                @for e in &op.events {
                    li.error[e.error] { span.muted { (super::persons::short_time(&e.at)) } " " (e.text) }
                }
            }
        }
    }
}

async fn views(app: &Arc<App>) -> Result<(ReaderView, ReaderView), Error> {
    let a = app.clone();
    blocking(app, move |_| {
        Ok((a.readers.card.view(&a), a.readers.fingerprint.view(&a)))
    })
    .await
}

async fn status_page(_: SetUp, State(app): State<Arc<App>>, caller: PageCaller) -> Response {
    let frame = Frame::load(&app, Some(&caller)).await;
    let (card, fp) = match views(&app).await {
        Ok(v) => v,
        Err(e) => return frame.error(&e),
    };
    frame.page(
        StatusCode::OK,
        "Card issuer and fingerprint scanner",
        html! {
            p.crumbs { a href="/persons" { "← Persons" } }
            p { "The readers on the box's serial ports (set in the configuration: " code { "card-reader" } ", "
                code { "fingerprint-scanner" } " and their ports). A reader that is unplugged comes back by itself \
                 when plugged in again." }
            @for v in [&card, &fp] {
                section.card id={ "reader-" (v.id.as_str()) } {
                    h2 { @if v.id == ReaderId::Card { "Card issuer" } @else { "Fingerprint scanner" } " " (state_badge(v)) }
                    dl.facts {
                        dt { "Type" } dd { (v.family) }
                        dt { "Port" } dd { code { (v.port) } " at " (v.baud) " baud" }
                        dt { "State" } dd.reader-message { (v.message) }
                        @if let Some(i) = &v.info { dt { "Device" } dd { (i) } }
                        dt { "In use by" } dd.reader-holder { @if let Some(h) = &v.held_by { (h) } @else { span.muted { "nobody" } } }
                    }
                    @if let Some(op) = &v.operation {
                        p { strong { (kind_text(op.kind)) } " by " (op.user) " — " (status_text(op.status)) ": " (op.prompt) }
                        @if op.status == OpStatus::Running {
                            form method="post" action={ "/readers/" (v.id.as_str()) "/stop" } {
                                (csrf_input(&caller))
                                button.secondary.small type="submit" id={ "stop-" (v.id.as_str()) } { "Stop" }
                            }
                        }
                    }
                }
            }
        },
    )
}

async fn stop(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<StopForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    match ReaderId::parse(&id).and_then(|id| app.readers.get(id).stop(&caller.actor)) {
        Ok(()) if f.back.starts_with('/') && !f.back.starts_with("//") => see_other(&f.back),
        Ok(()) => see_other("/readers"),
        Err(e) => Frame::load(&app, Some(&caller)).await.error(&e),
    }
}

// ---------- fingerprints ----------

#[derive(Deserialize, Default)]
#[serde(default)]
struct EnrollForm {
    csrf: String,
    duress: String,
}

async fn enroll_start(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<EnrollForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let (actor, pid, duress) = (caller.actor.clone(), id.clone(), f.duress == "1");
    match blocking(&app, move |app| {
        readers::start_enroll(app, &actor, &pid, duress)
    })
    .await
    {
        Ok(()) => see_other(&format!(
            "/persons/{}/fingerprints/enroll",
            query_escape(&id)
        )),
        Err(e) => super::persons_form::edit_with_error(&app, &caller, &id, &e).await,
    }
}

/// The three steps, each waiting, active or done.
fn steps(op: Option<&OperationView>) -> Markup {
    let (cur, action, status) = match op {
        Some(o) => (o.step.unwrap_or(0), o.action, o.status),
        None => (0, None, OpStatus::Stopped),
    };
    let texts = [
        "Press a finger on the scanner",
        "Lift it, then press the same finger again",
        "Lift it, then press it once more",
    ];
    html! {
        ol #enroll-steps .steps {
            @for (i, t) in texts.iter().enumerate() {
                @let n = i as u8 + 1;
                @let state = if status == OpStatus::Done || n < cur || (n == cur && action == Some(StepAction::Lift)) {
                    "done"
                } else if n == cur && status == OpStatus::Running {
                    "active"
                } else {
                    "waiting"
                };
                li id={ "step-" (n) } class=(state) data-step=(n) { strong { "Step " (n) ": " } (t) }
            }
        }
    }
}

/// Plain JavaScript: follows the reader's events and redraws the prompt, steps, events and (on a
/// card list) the table. `kind` is `enroll` or `issue`.
fn live_script(reader: ReaderId, kind: &str) -> Markup {
    let js = format!(
        r#"(function(){{
var kind='{kind}';
if(!window.EventSource){{return;}}
var es=new EventSource('/api/v1/readers/{reader}/events');
function txt(id,t){{var e=document.getElementById(id);if(e){{e.textContent=t;}}}}
function short(at){{return at.replace('T',' ').replace('Z','');}}
es.addEventListener('reader',function(m){{
 var v=JSON.parse(m.data);var op=v.operation;
 txt('reader-state',v.state==='ready'?'':v.message);
 var b=document.getElementById('reader-badge');if(b){{b.textContent=v.state.replace('_',' ');b.dataset.state=v.state;}}
 if(!op){{return;}}
 var ctx=document.getElementById('live-context').dataset;
 if(kind==='issue'&&op.session!==ctx.session){{return;}}
 if(kind==='enroll'&&op.person!==ctx.person){{return;}}
 txt('live-prompt',op.prompt);
 var st=document.getElementById('live-status');if(st){{st.textContent=op.status;st.dataset.status=op.status;}}
 var ev=document.getElementById('live-events');
 if(ev){{ev.innerHTML='';op.events.forEach(function(e){{var li=document.createElement('li');if(e.error){{li.className='error';}}
   var s=document.createElement('span');s.className='muted';s.textContent=short(e.at)+' ';li.appendChild(s);
   li.appendChild(document.createTextNode(e.text));ev.appendChild(li);}});}}
 if(op.card){{txt('live-card',op.card);}}
 if(kind==='enroll'){{
   var cur=op.step||0;
   for(var n=1;n<=3;n++){{var li=document.getElementById('step-'+n);if(!li){{continue;}}
     var s='waiting';
     if(op.status==='done'||n<cur||(n===cur&&op.action==='lift')){{s='done';}}
     else if(n===cur&&op.status==='running'){{s='active';}}
     li.className=s;}}
   if(op.status!=='running'){{var d=document.getElementById('enroll-over');if(d){{d.hidden=false;}}
     var sb=document.getElementById('enroll-stop');if(sb){{sb.hidden=true;}}}}
 }}
 if(kind==='issue'&&op.issue){{
   var s=op.issue;
   s.items.forEach(function(it){{
     var row=document.querySelector('tr[data-person="'+CSS.escape(it.id)+'"]');if(!row){{return;}}
     var c=row.querySelector('.card-cell');
     if(c){{c.innerHTML='';if(it.card){{var k=document.createElement('code');k.className='card-no';k.textContent=it.card;c.appendChild(k);}}
       else{{var w=document.createElement('span');w.className='muted';w.textContent='waiting';c.appendChild(w);}}}}
     row.classList.toggle('next',s.next===it.id);
     row.id=s.next===it.id?'next-person':'issue-'+it.id;
     var badge=row.querySelector('.badge.main');if(badge){{badge.hidden=s.next!==it.id;}}
   }});
   txt('issue-count',s.issued+' of '+s.items.length+' issued');
   var nx=s.items.filter(function(i){{return i.id===s.next;}})[0];
   txt('next-name',nx?nx.name+' ('+nx.id+')':'nobody: every person has a card');
   var f=document.getElementById('issue-form');if(f){{f.hidden=!nx;}}
   if(op.status!=='running'){{var r=document.getElementById('reader-stop');if(r){{r.hidden=true;}}}}
 }}
}});
}})();"#,
        reader = reader.as_str(),
        kind = kind
    );
    html! {
        noscript { meta http-equiv="refresh" content="2"; }
        script { (PreEscaped(js)) }
    }
}

async fn enroll_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<String>,
) -> Response {
    let frame = Frame::load(&app, Some(&caller)).await;
    let (a, pid) = (app.clone(), id.clone());
    let data = blocking(&app, move |app| {
        Ok((persons::get(app, &pid)?, a.readers.fingerprint.view(&a)))
    })
    .await;
    let (p, v) = match data {
        Ok(d) => d,
        Err(e) => return frame.error(&e),
    };
    let op = v
        .operation
        .as_ref()
        .filter(|o| o.kind == OpKind::EnrollFingerprint && o.person.as_deref() == Some(&p.id));
    let running = op.is_some_and(|o| o.status == OpStatus::Running);
    frame.page(
        StatusCode::OK,
        &format!("Enrol a fingerprint — {} ({})", p.name, p.id),
        html! {
            div #live-context hidden data-person=(p.id) {}
            p.crumbs { a href={ "/persons/" (p.id) } { "← " (p.name) } }
            section.card #enroll-live {
                p { "Fingerprint scanner: " span #reader-badge data-state=(format!("{:?}", v.state).to_lowercase()) { (state_text(v.state)) }
                    " " span #reader-state .hint { @if v.state != LinkState::Ready { (v.message) } } }
                @if let Some(op) = op {
                    p.lead { strong #live-prompt { (op.prompt) } }
                    (steps(Some(op)))
                    p { "Status: " span #live-status data-status=(status_text(op.status)) { (status_text(op.status)) }
                        @if op.duress { " · " span.badge.duress { "duress finger" } } }
                    (events_list(Some(op), "live-events"))
                    @if running {
                        form method="post" action="/readers/fingerprint/stop" {
                            (csrf_input(&caller))
                            input type="hidden" name="back" value={ "/persons/" (p.id) "/fingerprints/enroll" };
                            button #enroll-stop .secondary type="submit" { "Stop" }
                        }
                    }
                    div #enroll-over hidden[running] {
                        p { a.button #enroll-back href={ "/persons/" (p.id) "#biometrics" } { "Back to " (p.name) } }
                    }
                } @else {
                    p { "No enrolment is running for " (p.name) "." }
                    p { a.button href={ "/persons/" (p.id) "#biometrics" } { "Back to " (p.name) } }
                }
            }
            @if running { (live_script(ReaderId::Fingerprint, "enroll")) }
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FingerprintForm {
    csrf: String,
    op: String,
    index: usize,
}

async fn fingerprint_action(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<FingerprintForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let (actor, pid) = (caller.actor.clone(), id.clone());
    let r = blocking(&app, move |app| match f.op.as_str() {
        "duress-on" | "duress-off" => {
            persons::set_fingerprint_duress(app, &actor, &pid, f.index, f.op == "duress-on")
                .map(|_| "fingerprint-changed")
        }
        "delete" => {
            persons::delete_fingerprint(app, &actor, &pid, f.index).map(|_| "fingerprint-deleted")
        }
        other => Err(Error::invalid(
            "fingerprint_action",
            "op",
            format!("there is no fingerprint action \"{other}\""),
        )),
    })
    .await;
    match r {
        Ok(done) => see_other(&format!(
            "/persons/{}?done={done}#biometrics",
            query_escape(&id)
        )),
        Err(e) => super::persons_form::edit_with_error(&app, &caller, &id, &e).await,
    }
}

/// The fingerprints part of the person page: the stored ones (duress, delete) and the enrolment.
pub(super) fn fingerprints_section(
    caller: &PageCaller,
    p: &persons::PersonView,
    scanner: LinkState,
) -> Markup {
    let action = format!("/persons/{}/fingerprints", p.id);
    html! {
        h3 { "Fingerprints (" (p.fingerprints.len()) " of " (persons::MAX_FINGERPRINTS) ")" }
        @if p.fingerprints.is_empty() {
            p.hint #no-fingerprints { "No fingerprint." }
        } @else {
            ul #fingerprints {
                @for (i, t) in p.fingerprints.iter().enumerate() {
                    li data-index=(i + 1) {
                        span { "Finger " (i + 1) ": " (t.source) ", " (super::persons::short_time(&t.captured)) " UTC, " (t.bytes) " bytes" }
                        @if t.duress { " " span.badge.duress { "duress" } }
                        form.inline method="post" action=(action) {
                            (csrf_input(caller))
                            input type="hidden" name="index" value=(i + 1);
                            @if t.duress {
                                button.secondary.small type="submit" name="op" value="duress-off" { "Duress off" }
                            } @else {
                                button.secondary.small type="submit" name="op" value="duress-on" { "Duress on" }
                            }
                            button.danger.small type="submit" name="op" value="delete" { "Delete" }
                        }
                    }
                }
            }
        }
        @if p.fingerprints.len() < persons::MAX_FINGERPRINTS {
            form #enroll-form method="post" action={ "/persons/" (p.id) "/fingerprints/enroll" } {
                (csrf_input(caller))
                label.check { input #enroll-duress type="checkbox" name="duress" value="1"; "Duress finger (raises an alarm when used at a door)" }
                button #enroll-start type="submit" disabled[scanner == LinkState::Disabled] { "Enrol a fingerprint" }
                " " span.hint { "The fingerprint scanner is " (state_text(scanner)) ". The person presses the same finger three times." }
            }
        }
    }
}

// ---------- card lists ----------

async fn issue_start(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(session): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let (actor, sid) = (caller.actor.clone(), session.clone());
    match blocking(&app, move |app| readers::start_issue(app, &actor, &sid)).await {
        Ok(()) => see_other(&format!("/persons/issue/{}", query_escape(&session))),
        Err(e) => super::persons_batch::issue_with_error(&app, &caller, &session, &e).await,
    }
}

async fn issue_stop(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(session): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    match app.readers.card.stop(&caller.actor) {
        Ok(()) => see_other(&format!(
            "/persons/issue/{}?done=reading-stopped",
            query_escape(&session)
        )),
        Err(e) => super::persons_batch::issue_with_error(&app, &caller, &session, &e).await,
    }
}

/// The card issuer's part of a card list's page: start or stop reading, the prompt, the last card
/// read and the events, kept live.
pub(super) fn issue_reader_section(caller: &PageCaller, session: &str, v: &ReaderView) -> Markup {
    let op = v
        .operation
        .as_ref()
        .filter(|o| o.kind == OpKind::IssueCards && o.session.as_deref() == Some(session));
    let running = op.is_some_and(|o| o.status == OpStatus::Running);
    let action = format!("/persons/issue/{}/reader", query_escape(session));
    html! {
        div #live-context hidden data-session=(session) {}
        section.card #issuer {
            h2 { "Card issuer " span #reader-badge .badge data-state=(format!("{:?}", v.state).to_lowercase()) { (state_text(v.state)) } }
            p.hint { span #reader-state { @if v.state != LinkState::Ready { (v.message) } } }
            @if running {
                p.lead { strong #live-prompt { (op.map(|o| o.prompt.as_str()).unwrap_or("")) } }
                p { "Last card read: " code #live-card { (op.and_then(|o| o.card.as_deref()).unwrap_or("—")) } }
                form method="post" action={ (action) "/stop" } {
                    (csrf_input(caller))
                    button #reader-stop .secondary type="submit" { "Stop reading" }
                    " " span.hint { "The list stays; start reading again to go on where it stopped." }
                }
            } @else {
                @if let Some(op) = op { p #live-prompt { (op.prompt) } }
                form method="post" action=(action) {
                    (csrf_input(caller))
                    button #reader-start type="submit" disabled[v.state == LinkState::Disabled] { "Read cards from the issuer" }
                    " " span.hint { "Each card held on the issuer goes to the next person waiting, in list order." }
                }
            }
            (events_list(op, "live-events"))
        }
        @if running { (live_script(ReaderId::Card, "issue")) }
    }
}
