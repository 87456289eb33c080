//! The readers as the rest of Gatehouse sees them (issue 7 items 4 and 5): the card issuer and the
//! fingerprint scanner, each with its link state (disabled, disconnected, starting, ready, not
//! answering) and at most one operation at a time — read one card for the person form, issue
//! cards to a batch list in order, or enrol a fingerprint in three presses. Owns the rules: who may
//! drive a reader (one user at a time; the second is told who holds it), what a card read or an
//! enrolment step does (duplicates refused, the next person in the list gets the card, the
//! template is stored with the person), timeouts of operations, and the views the API, the page
//! and the live event stream show. The bytes on the wire belong to `service` and the codecs; this
//! module holds no port and no socket.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch, Notify};
use utoipa::ToSchema;

use crate::accounts::{Actor, Role};
use crate::app::App;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::persons::batch::{self, IssueSession};
use crate::persons::cards::{self, Base};

/// Events kept per operation (the newest).
pub const MAX_EVENTS: usize = 20;
/// The longest wait for one card.
pub const MAX_WAIT_SECS: u64 = 120;
/// The default wait for one card.
pub const DEFAULT_WAIT_SECS: u64 = 30;
/// A card-issuing run with no card for this long is stopped (the list stays, resumable).
pub const ISSUE_IDLE: Duration = Duration::from_secs(10 * 60);
/// An enrolment with no progress for this long fails.
pub const ENROL_IDLE: Duration = Duration::from_secs(60);

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum ReaderId {
    Card,
    Fingerprint,
}

impl ReaderId {
    pub fn parse(s: &str) -> Result<ReaderId> {
        match s {
            "card" => Ok(ReaderId::Card),
            "fingerprint" => Ok(ReaderId::Fingerprint),
            _ => Err(Error::NotFound(format!(
                "no reader \"{s}\" (there are \"card\" and \"fingerprint\")"
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ReaderId::Card => "card",
            ReaderId::Fingerprint => "fingerprint",
        }
    }
    /// The reader's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            ReaderId::Card => "card reader",
            ReaderId::Fingerprint => "fingerprint scanner",
        }
    }
}

/// The state of the link to the device.
#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Not configured (`none`).
    Disabled,
    /// The port is missing or was closed (unplugged).
    Disconnected,
    /// The port is open; the device has not answered the initialisation yet.
    Starting,
    Ready,
    /// The port is open but the device does not answer.
    NotAnswering,
}

#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    ReadCard,
    IssueCards,
    EnrollFingerprint,
}

impl OpKind {
    fn text(self) -> &'static str {
        match self {
            OpKind::ReadCard => "reading a card",
            OpKind::IssueCards => "issuing cards",
            OpKind::EnrollFingerprint => "enrolling a fingerprint",
        }
    }
}

#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum OpStatus {
    Running,
    Done,
    Failed,
    Stopped,
}

/// One line of an operation's log.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct EventView {
    pub at: String,
    pub text: String,
    pub error: bool,
}

/// What the person at the scanner is asked to do in an enrolment step.
#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum StepAction {
    Press,
    Lift,
    PressAgain,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct OperationView {
    pub id: u64,
    pub kind: OpKind,
    /// Who drives the reader.
    pub user: String,
    pub started: String,
    pub status: OpStatus,
    /// What to do now, or how it ended, in words.
    pub prompt: String,
    /// Enrolment: the step (1–3) and what it asks.
    pub step: Option<u8>,
    pub action: Option<StepAction>,
    /// Enrolment: the person and whether the finger is a duress finger.
    pub person: Option<String>,
    pub duress: bool,
    /// Card issuing: the list, with who is next and the cards given.
    pub session: Option<String>,
    pub issue: Option<IssueSession>,
    /// The last card read, in the display base.
    pub card: Option<String>,
    /// The newest events, oldest first.
    pub events: Vec<EventView>,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct ReaderView {
    pub id: ReaderId,
    /// `pn532`, `em4100`, `r30x` or `none`.
    pub family: String,
    pub port: String,
    pub baud: u32,
    pub state: LinkState,
    /// The state in words, e.g. "disconnected: /dev/gatehouse-card is missing".
    pub message: String,
    /// What the device said about itself (firmware), once it answered.
    pub info: Option<String>,
    /// The user whose operation holds the reader, if one runs.
    pub held_by: Option<String>,
    /// The current or last operation.
    pub operation: Option<OperationView>,
    /// Grows at every change (the event stream sends a view per change).
    pub version: u64,
}

/// What "read card" found.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct CardRead {
    /// In the current display base.
    pub number: String,
    /// Canonical (hex) form.
    pub canonical: String,
}

pub(super) struct Op {
    pub id: u64,
    pub kind: OpKind,
    pub actor: Actor,
    started: u64,
    pub status: OpStatus,
    prompt: String,
    step: Option<u8>,
    action: Option<StepAction>,
    pub person: Option<String>,
    pub duress: bool,
    pub session: Option<String>,
    card: Option<String>,
    events: VecDeque<EventView>,
    waiter: Option<oneshot::Sender<Result<String>>>,
    deadline: Instant,
    wait_secs: u64,
}

struct Inner {
    state: LinkState,
    message: String,
    info: Option<String>,
    op: Option<Op>,
    next_op: u64,
}

/// One reader: its settings, state, operation and change notifications.
pub struct Reader {
    pub id: ReaderId,
    pub family: String,
    pub port: PathBuf,
    pub baud: u32,
    inner: Mutex<Inner>,
    changed: watch::Sender<u64>,
    /// Wakes the reader's task when the operation changes.
    pub(super) kick: Notify,
}

/// Both readers of the box.
pub struct Readers {
    pub card: Reader,
    pub fingerprint: Reader,
}

impl Readers {
    pub fn new(config: &Config) -> Readers {
        Readers {
            card: Reader::new(
                ReaderId::Card,
                &config.card_reader,
                config.card_reader_port.clone(),
                config.card_reader_baud,
            ),
            fingerprint: Reader::new(
                ReaderId::Fingerprint,
                &config.fingerprint_scanner,
                config.fingerprint_port.clone(),
                config.fingerprint_baud,
            ),
        }
    }

    pub fn get(&self, id: ReaderId) -> &Reader {
        match id {
            ReaderId::Card => &self.card,
            ReaderId::Fingerprint => &self.fingerprint,
        }
    }
}

fn event(text: impl Into<String>, error: bool) -> EventView {
    EventView {
        at: crate::time::rfc3339(crate::time::now()),
        text: text.into(),
        error,
    }
}

impl Reader {
    fn new(id: ReaderId, family: &str, port: PathBuf, baud: u32) -> Reader {
        let (state, message) = if family == "none" {
            (
                LinkState::Disabled,
                format!("no {} is configured", id.name()),
            )
        } else {
            (
                LinkState::Disconnected,
                format!("waiting for {}", port.display()),
            )
        };
        Reader {
            id,
            family: family.to_owned(),
            port,
            baud,
            inner: Mutex::new(Inner {
                state,
                message,
                info: None,
                op: None,
                next_op: 1,
            }),
            changed: watch::Sender::new(0),
            kick: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// A receiver that sees every change of the view.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn state(&self) -> LinkState {
        self.lock().state
    }

    /// The reader and its operation as the API shows them.
    pub fn view(&self, app: &App) -> ReaderView {
        let base = cards::settings(app).map(|s| s.display).unwrap_or(Base::Hex);
        let (mut v, session) = {
            let i = self.lock();
            let op = i.op.as_ref().map(|o| OperationView {
                id: o.id,
                kind: o.kind,
                user: o.actor.username.clone(),
                started: crate::time::rfc3339(o.started),
                status: o.status,
                prompt: o.prompt.clone(),
                step: o.step,
                action: o.action,
                person: o.person.clone(),
                duress: o.duress,
                session: o.session.clone(),
                issue: None,
                card: o.card.as_deref().map(|c| cards::display(c, base)),
                events: o.events.iter().cloned().collect(),
            });
            let held_by =
                i.op.as_ref()
                    .filter(|o| o.status == OpStatus::Running)
                    .map(|o| o.actor.username.clone());
            (
                ReaderView {
                    id: self.id,
                    family: self.family.clone(),
                    port: self.port.display().to_string(),
                    baud: self.baud,
                    state: i.state,
                    message: i.message.clone(),
                    info: i.info.clone(),
                    held_by,
                    operation: op,
                    version: *self.changed.borrow(),
                },
                i.op.as_ref().and_then(|o| o.session.clone()),
            )
        };
        if let (Some(op), Some(s)) = (v.operation.as_mut(), session) {
            op.issue = batch::view(app, &s).ok();
        }
        v
    }

    /// The link changed (called by the reader's task).
    pub(super) fn set_link(&self, state: LinkState, message: String, info: Option<String>) {
        let lost = {
            let mut i = self.lock();
            if i.state == state && i.message == message && (info.is_none() || i.info == info) {
                return;
            }
            let was = i.state;
            i.state = state;
            i.message = message.clone();
            if info.is_some() {
                i.info = info;
            }
            was == LinkState::Ready && state != LinkState::Ready
        };
        if lost || matches!(state, LinkState::Disconnected | LinkState::NotAnswering) {
            self.link_lost(state, &message);
        } else if state == LinkState::Ready {
            self.note_ready();
        }
        self.bump();
    }

    /// The reader went away: one-shot operations fail, card issuing waits for it to come back.
    fn link_lost(&self, state: LinkState, message: &str) {
        let text = match state {
            LinkState::Disconnected => format!("{} disconnected", self.id.name()),
            _ => format!("the {} does not answer", self.id.name()),
        };
        let mut i = self.lock();
        let Some(op) = i.op.as_mut().filter(|o| o.status == OpStatus::Running) else {
            return;
        };
        match op.kind {
            OpKind::IssueCards => {
                if op.events.back().map(|e| e.text.as_str()) != Some(text.as_str()) {
                    push_event(
                        op,
                        event(format!("{text} — waiting for it ({message})"), true),
                    );
                }
                op.prompt = format!("{text}; reading goes on when it is back");
            }
            OpKind::ReadCard | OpKind::EnrollFingerprint => {
                let code = if state == LinkState::Disconnected {
                    "reader_disconnected"
                } else {
                    "reader_not_answering"
                };
                end(
                    op,
                    OpStatus::Failed,
                    text.clone(),
                    Some(Error::unavailable(code, text)),
                );
            }
        }
    }

    fn note_ready(&self) {
        let mut i = self.lock();
        if let Some(op) =
            i.op.as_mut()
                .filter(|o| o.status == OpStatus::Running && o.kind == OpKind::IssueCards)
        {
            if op.prompt.contains("disconnected") || op.prompt.contains("does not answer") {
                op.prompt = "hold the next card on the reader".into();
                push_event(op, event(format!("{} is back", self.id.name()), false));
            }
        }
    }

    /// Takes the reader for `actor`. The same user may replace their own operation; another
    /// user's running operation is refused with who holds it.
    fn claim(&self, actor: &Actor, make: impl FnOnce(u64) -> Op) -> Result<u64> {
        let id = {
            let mut i = self.lock();
            match i.state {
                LinkState::Disabled => {
                    return Err(Error::conflict(
                        "reader_disabled",
                        format!(
                            "no {} is configured (set {} in the configuration)",
                            self.id.name(),
                            match self.id {
                                ReaderId::Card => "card-reader",
                                ReaderId::Fingerprint => "fingerprint-scanner",
                            }
                        ),
                    ))
                }
                LinkState::Ready => {}
                LinkState::Disconnected => {
                    return Err(Error::unavailable(
                        "reader_disconnected",
                        format!(
                            "the {} is disconnected ({}); plug it in and try again",
                            self.id.name(),
                            i.message.trim_start_matches("disconnected: ")
                        ),
                    ))
                }
                LinkState::Starting => {
                    return Err(Error::unavailable(
                        "reader_starting",
                        format!("the {} is starting; try again in a moment", self.id.name()),
                    ))
                }
                LinkState::NotAnswering => {
                    return Err(Error::unavailable(
                        "reader_not_answering",
                        format!(
                            "the {} on {} does not answer; check its cable and power",
                            self.id.name(),
                            self.port.display()
                        ),
                    ))
                }
            }
            if let Some(op) = i.op.as_mut().filter(|o| o.status == OpStatus::Running) {
                if op.actor.username != actor.username {
                    return Err(Error::conflict(
                        "reader_busy",
                        format!(
                            "the {} is in use by {} ({}, since {}); try again when they finish",
                            self.id.name(),
                            op.actor.username,
                            op.kind.text(),
                            crate::time::rfc3339(op.started)
                        ),
                    ));
                }
                end(
                    op,
                    OpStatus::Stopped,
                    "replaced by a new operation".into(),
                    Some(Error::conflict(
                        "reader_replaced",
                        "the reader was given a new operation",
                    )),
                );
            }
            let id = i.next_op;
            i.next_op += 1;
            i.op = Some(make(id));
            id
        };
        self.bump();
        self.kick.notify_one();
        Ok(id)
    }

    /// Runs `f` on the running operation `op_id` (if it still runs) and publishes the change.
    pub(super) fn with_op<T>(&self, op_id: u64, f: impl FnOnce(&mut Op) -> T) -> Option<T> {
        let r = {
            let mut i = self.lock();
            let op =
                i.op.as_mut()
                    .filter(|o| o.id == op_id && o.status == OpStatus::Running)?;
            f(op)
        };
        self.bump();
        self.kick.notify_one();
        Some(r)
    }

    /// The running operation: its id, kind and (for enrolment) the person and duress flag.
    pub(super) fn running(&self) -> Option<(u64, OpKind)> {
        let i = self.lock();
        i.op.as_ref()
            .filter(|o| o.status == OpStatus::Running)
            .map(|o| (o.id, o.kind))
    }

    /// Ends operations past their deadline.
    pub(super) fn expire(&self) {
        let now = Instant::now();
        let changed = {
            let mut i = self.lock();
            match i
                .op
                .as_mut()
                .filter(|o| o.status == OpStatus::Running && now >= o.deadline)
            {
                Some(op) => {
                    match op.kind {
                        OpKind::ReadCard => {
                            let text = format!(
                                "no card was read within {} s; hold the card flat on the reader",
                                op.wait_secs
                            );
                            end(
                                op,
                                OpStatus::Failed,
                                text.clone(),
                                Some(Error::unavailable("reader_timeout", text)),
                            );
                        }
                        OpKind::IssueCards => end(
                            op,
                            OpStatus::Stopped,
                            "stopped after 10 minutes without a card; start reading again to go on"
                                .into(),
                            None,
                        ),
                        OpKind::EnrollFingerprint => end(
                            op,
                            OpStatus::Failed,
                            "no progress for 60 s; the enrolment was stopped — start again".into(),
                            None,
                        ),
                    }
                    true
                }
                None => false,
            }
        };
        if changed {
            self.bump();
            self.kick.notify_one();
        }
    }

    /// The earliest moment [`Reader::expire`] has something to do.
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        let i = self.lock();
        i.op.as_ref()
            .filter(|o| o.status == OpStatus::Running)
            .map(|o| o.deadline)
    }

    /// Stops the running operation: its holder or an administrator may.
    pub fn stop(&self, actor: &Actor) -> Result<()> {
        {
            let mut i = self.lock();
            let Some(op) = i.op.as_mut().filter(|o| o.status == OpStatus::Running) else {
                return Ok(());
            };
            if op.actor.username != actor.username && actor.role != Role::Admin {
                return Err(Error::conflict(
                    "reader_busy",
                    format!(
                        "the {} is in use by {} ({}); only they or an administrator can stop it",
                        self.id.name(),
                        op.actor.username,
                        op.kind.text()
                    ),
                ));
            }
            let text = format!("stopped by {}", actor.username);
            end(
                op,
                OpStatus::Stopped,
                text.clone(),
                Some(Error::conflict("reader_stopped", text)),
            );
        }
        self.bump();
        self.kick.notify_one();
        Ok(())
    }

    /// Stops card issuing for `session` if it runs (the list itself was stopped).
    pub fn stop_session(&self, session: &str) {
        let stopped =
            {
                let mut i = self.lock();
                match i.op.as_mut().filter(|o| {
                    o.status == OpStatus::Running && o.session.as_deref() == Some(session)
                }) {
                    Some(op) => {
                        end(
                            op,
                            OpStatus::Stopped,
                            "the card list was stopped".into(),
                            None,
                        );
                        true
                    }
                    None => false,
                }
            };
        if stopped {
            self.bump();
            self.kick.notify_one();
        }
    }
}

fn push_event(op: &mut Op, e: EventView) {
    if op.events.len() >= MAX_EVENTS {
        op.events.pop_front();
    }
    op.events.push_back(e);
}

/// Ends `op` with `status`; a waiting "read card" request gets `err` (or a generic failure).
fn end(op: &mut Op, status: OpStatus, text: String, err: Option<Error>) {
    op.status = status;
    op.step = None;
    op.action = None;
    push_event(op, event(text.clone(), matches!(status, OpStatus::Failed)));
    op.prompt = text.clone();
    if let Some(w) = op.waiter.take() {
        let _ = w.send(Err(
            err.unwrap_or_else(|| Error::unavailable("reader_failed", text))
        ));
    }
}

fn new_op(id: u64, kind: OpKind, actor: &Actor, prompt: &str, deadline: Duration) -> Op {
    let mut events = VecDeque::new();
    events.push_back(event(
        format!("{} started by {}", kind.text(), actor.username),
        false,
    ));
    Op {
        id,
        kind,
        actor: actor.clone(),
        started: crate::time::now(),
        status: OpStatus::Running,
        prompt: prompt.into(),
        step: None,
        action: None,
        person: None,
        duress: false,
        session: None,
        card: None,
        events,
        waiter: None,
        deadline: Instant::now() + deadline,
        wait_secs: deadline.as_secs(),
    }
}

// ---------- what users start ----------

/// Reads one card for the person form: waits up to `wait_secs` (1–120, default 30) for a card
/// and answers its number in the display base. A card that already belongs to a person (`person`
/// included, whose form it is) is refused with its owner.
pub async fn read_card(
    app: &Arc<App>,
    actor: &Actor,
    person: Option<String>,
    wait_secs: Option<u64>,
) -> Result<CardRead> {
    let wait = wait_secs.unwrap_or(DEFAULT_WAIT_SECS);
    if wait == 0 || wait > MAX_WAIT_SECS {
        return Err(Error::invalid(
            "read_wait",
            "wait_seconds",
            format!("wait 1 to {MAX_WAIT_SECS} seconds for a card"),
        ));
    }
    let reader = &app.readers.card;
    let (tx, rx) = oneshot::channel();
    reader.claim(actor, |id| {
        let mut op = new_op(
            id,
            OpKind::ReadCard,
            actor,
            "hold a card on the reader",
            Duration::from_secs(wait),
        );
        op.person = person.clone();
        op.waiter = Some(tx);
        op
    })?;
    // The reader's task ends the operation at its deadline, so this always completes.
    let canonical = rx
        .await
        .map_err(|_| Error::Internal("the card reader's task ended".into()))??;
    let app2 = app.clone();
    let c = canonical.clone();
    crate::web::blocking(app, move |_| {
        let base = cards::settings(&app2)?.display;
        if let Some(owner) = crate::persons::card_owner(&app2, &c)? {
            let this = person.as_deref() == Some(owner.as_str());
            return Err(Error::conflict(
                "card_taken",
                if this {
                    format!(
                        "card {} already belongs to this person",
                        cards::display(&c, base)
                    )
                } else {
                    format!(
                        "card {} already belongs to person \"{owner}\"",
                        cards::display(&c, base)
                    )
                },
            ));
        }
        Ok(CardRead {
            number: cards::display(&c, base),
            canonical: c,
        })
    })
    .await
}

/// Starts reading cards into the card list `session`: each card goes to the next person waiting.
pub fn start_issue(app: &App, actor: &Actor, session: &str) -> Result<()> {
    let s = batch::view(app, session)?;
    if s.next.is_none() {
        return Err(Error::invalid(
            "batch_done",
            "session",
            "every person in this list has a card",
        ));
    }
    app.readers.card.claim(actor, |id| {
        let mut op = new_op(
            id,
            OpKind::IssueCards,
            actor,
            "hold the next card on the reader",
            ISSUE_IDLE,
        );
        op.session = Some(session.to_owned());
        op
    })?;
    Ok(())
}

/// Starts enrolling a fingerprint of `person` (at most 3; `duress` marks a duress finger).
pub fn start_enroll(app: &App, actor: &Actor, person: &str, duress: bool) -> Result<()> {
    crate::persons::check_fingerprint_room(app, person)?;
    app.readers.fingerprint.claim(actor, |id| {
        let mut op = new_op(
            id,
            OpKind::EnrollFingerprint,
            actor,
            "waiting for the scanner",
            ENROL_IDLE,
        );
        op.person = Some(person.to_owned());
        op.duress = duress;
        op
    })?;
    Ok(())
}

// ---------- what the readers' tasks report ----------

/// A card came to the card reader (canonical number): it answers a waiting "read card", or goes to
/// the next person of the card list being issued. Cards with no operation running are ignored.
pub(super) async fn card_arrived(app: &Arc<App>, canonical: String) {
    let reader = &app.readers.card;
    let Some((op_id, kind)) = reader.running() else {
        return;
    };
    // The display base is a store read: off the reader's task, like the store write below.
    let base = crate::web::blocking(app, |app| Ok(cards::settings(app)?.display))
        .await
        .unwrap_or(Base::Hex);
    let shown = cards::display(&canonical, base);
    match kind {
        OpKind::ReadCard => {
            reader.with_op(op_id, |op| {
                op.card = Some(canonical.clone());
                if let Some(w) = op.waiter.take() {
                    let _ = w.send(Ok(canonical.clone()));
                }
                op.status = OpStatus::Done;
                op.prompt = format!("card {shown} read");
                push_event(op, event(format!("card {shown} read"), false));
            });
        }
        OpKind::IssueCards => {
            let Some((actor, session)) = reader.with_op(op_id, |op| {
                op.card = Some(canonical.clone());
                op.deadline = Instant::now() + ISSUE_IDLE;
                (op.actor.clone(), op.session.clone().unwrap_or_default())
            }) else {
                return;
            };
            let (a, s, n) = (actor.clone(), session.clone(), shown.clone());
            let r = crate::web::blocking(app, move |app| batch::issue(app, &a, &s, &n, None)).await;
            reader.with_op(op_id, |op| match r {
                Ok(view) => {
                    let given = view
                        .items
                        .iter()
                        .find(|i| i.card.as_deref() == Some(shown.as_str()))
                        .map(|i| format!("{} ({})", i.id, i.name))
                        .unwrap_or_default();
                    push_event(op, event(format!("card {shown} → {given}"), false));
                    match view
                        .next
                        .and_then(|n| view.items.into_iter().find(|i| i.id == n))
                    {
                        Some(next) => {
                            op.prompt = format!(
                                "hold the card for {} ({}) on the reader",
                                next.name, next.id
                            )
                        }
                        None => {
                            op.status = OpStatus::Done;
                            op.prompt = "every person in this list has a card".into();
                            push_event(op, event(op.prompt.clone(), false));
                        }
                    }
                }
                Err(e) => {
                    let text = format!("card {shown} not given: {e}");
                    push_event(op, event(text.clone(), true));
                    op.prompt = format!("{text}; hold another card on the reader");
                }
            });
        }
        OpKind::EnrollFingerprint => {}
    }
}

/// A card whose answer could not be used (e.g. an unsupported UID length).
pub(super) fn card_unreadable(app: &App, why: &str) {
    let reader = &app.readers.card;
    if let Some((op_id, _)) = reader.running() {
        reader.with_op(op_id, |op| {
            push_event(op, event(format!("card not read: {why}"), true));
        });
    }
}

/// An enrolment step changed: what the person at the scanner must do now.
pub(super) fn enrol_step(app: &App, op_id: u64, n: u8, action: StepAction, text: String) {
    app.readers.fingerprint.with_op(op_id, |op| {
        op.step = Some(n);
        op.action = Some(action);
        op.deadline = Instant::now() + ENROL_IDLE;
        push_event(op, event(text.clone(), false));
        op.prompt = text;
    });
}

/// A problem during enrolment that the person can fix (retry), or a start again.
pub(super) fn enrol_note(app: &App, op_id: u64, text: String) {
    app.readers.fingerprint.with_op(op_id, |op| {
        op.deadline = Instant::now() + ENROL_IDLE;
        push_event(op, event(text.clone(), true));
        op.prompt = text;
    });
}

/// The enrolment failed.
pub(super) fn enrol_failed(app: &App, op_id: u64, text: String) {
    app.readers.fingerprint.with_op(op_id, |op| {
        end(op, OpStatus::Failed, text, None);
    });
}

/// The template arrived: it is stored with the person.
pub(super) async fn enrol_done(app: &Arc<App>, op_id: u64, template: Vec<u8>) {
    let reader = &app.readers.fingerprint;
    let Some((actor, person, duress)) = reader.with_op(op_id, |op| {
        op.prompt = "storing the fingerprint".into();
        (
            op.actor.clone(),
            op.person.clone().unwrap_or_default(),
            op.duress,
        )
    }) else {
        return;
    };
    let source = format!("scanner:{}", reader.port.display());
    let p = person.clone();
    let r = crate::web::blocking(app, move |app| {
        crate::persons::add_fingerprint(app, &actor, &p, template, duress, &source)
    })
    .await;
    reader.with_op(op_id, |op| match r {
        Ok(v) => {
            let text = format!(
                "fingerprint {} of {} stored for {} ({})",
                v.fingerprints.len(),
                crate::persons::MAX_FINGERPRINTS,
                v.name,
                v.id
            );
            op.status = OpStatus::Done;
            op.step = None;
            op.action = None;
            push_event(op, event(text.clone(), false));
            op.prompt = text;
        }
        Err(e) => end(op, OpStatus::Failed, format!("not stored: {e}"), None),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(name: &str, role: Role) -> Actor {
        Actor {
            username: name.into(),
            role,
            ip: std::net::IpAddr::from([127, 0, 0, 1]),
            session_id: String::new(),
        }
    }

    fn ready_reader() -> Reader {
        let r = Reader::new(
            ReaderId::Card,
            "pn532",
            PathBuf::from("/dev/gatehouse-card"),
            115_200,
        );
        r.set_link(LinkState::Ready, "ready".into(), None);
        r
    }

    fn read_op(r: &Reader, a: &Actor, secs: u64) -> Result<oneshot::Receiver<Result<String>>> {
        let (tx, rx) = oneshot::channel();
        r.claim(a, |id| {
            let mut op = new_op(
                id,
                OpKind::ReadCard,
                a,
                "hold a card",
                Duration::from_secs(secs),
            );
            op.waiter = Some(tx);
            op
        })?;
        Ok(rx)
    }

    #[test]
    fn a_missing_or_unconfigured_reader_refuses_with_why() {
        let r = Reader::new(ReaderId::Card, "pn532", PathBuf::from("/dev/x"), 115_200);
        let a = actor("alice", Role::Admin);
        let e = read_op(&r, &a, 5).unwrap_err();
        assert_eq!(e.code(), "reader_disconnected");
        let r = Reader::new(
            ReaderId::Fingerprint,
            "none",
            PathBuf::from("/dev/x"),
            57_600,
        );
        assert_eq!(read_op(&r, &a, 5).unwrap_err().code(), "reader_disabled");
        let r = ready_reader();
        r.set_link(LinkState::NotAnswering, "silent".into(), None);
        let e = read_op(&r, &a, 5).unwrap_err();
        assert_eq!(e.code(), "reader_not_answering");
        assert!(e.to_string().contains("/dev/gatehouse-card"), "{e}");
    }

    #[test]
    fn one_user_at_a_time_and_the_second_is_told_who() {
        let r = ready_reader();
        let (alice, bob) = (actor("alice", Role::Operator), actor("bob", Role::Operator));
        let mut first = read_op(&r, &alice, 30).unwrap();
        let e = read_op(&r, &bob, 30).unwrap_err();
        assert_eq!(e.code(), "reader_busy");
        assert!(e.to_string().contains("alice") && e.to_string().contains("reading a card"));
        assert_eq!(r.stop(&bob).unwrap_err().code(), "reader_busy");
        // The same user replaces their own operation; the first waiter is told.
        let _second = read_op(&r, &alice, 30).unwrap();
        assert_eq!(
            first.try_recv().unwrap().unwrap_err().code(),
            "reader_replaced"
        );
        // An administrator may stop anyone's.
        r.stop(&actor("root", Role::Admin)).unwrap();
        assert!(r.running().is_none());
        read_op(&r, &bob, 30).unwrap();
    }

    #[test]
    fn unplugging_fails_a_read_but_card_issuing_waits() {
        let r = ready_reader();
        let a = actor("alice", Role::Operator);
        let mut rx = read_op(&r, &a, 30).unwrap();
        r.set_link(LinkState::Disconnected, "gone".into(), None);
        assert_eq!(
            rx.try_recv().unwrap().unwrap_err().code(),
            "reader_disconnected"
        );
        r.set_link(LinkState::Ready, "ready".into(), None);
        r.claim(&a, |id| {
            let mut op = new_op(id, OpKind::IssueCards, &a, "next", ISSUE_IDLE);
            op.session = Some("s1".into());
            op
        })
        .unwrap();
        r.set_link(LinkState::Disconnected, "gone".into(), None);
        assert_eq!(r.running().map(|(_, k)| k), Some(OpKind::IssueCards));
        r.set_link(LinkState::Ready, "ready".into(), None);
        r.stop_session("s1");
        assert!(r.running().is_none());
    }

    #[test]
    fn a_read_times_out_at_its_deadline() {
        let r = ready_reader();
        let a = actor("alice", Role::Operator);
        let mut rx = read_op(&r, &a, 0).unwrap();
        r.expire();
        let e = rx.try_recv().unwrap().unwrap_err();
        assert_eq!(e.code(), "reader_timeout");
        assert!(r.running().is_none());
    }
}
