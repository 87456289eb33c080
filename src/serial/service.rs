//! The readers' tasks (issue 7 items 1, 2 and 4): one tokio task per configured reader opens its
//! port (the board's udev name), runs the sans-IO conversation of its family over a
//! `tokio_util::codec::Framed` port — `pn532_link::Link` for a PN532, the `em4100` decoder with its
//! debounce, `r30x::Probe` and `r30x::Enrolment` for a fingerprint scanner — and reports link
//! changes, cards and enrolment steps to `readers`. A port that cannot be opened, or that fails
//! (the reader was unplugged), is tried again every half second, so a replugged reader comes back
//! by itself; Gatehouse keeps running meanwhile. Owns the ports and the clocks of the readers; it
//! holds no rule of what a card or a template means (that is `readers`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::time::sleep_until;
use tokio_util::codec::Framed;

use super::pn532_link::{Link, Output};
use super::port::{self, Em4100Codec, Pn532Codec, Pn532Item, R30xCodec};
use super::r30x::{self, Action, Enrolment, Event, Probe, ProbeStep};
use super::readers::{self, LinkState, OpKind, Reader, StepAction};
use crate::app::App;
use crate::persons::cards::{self, Base};

/// Between two attempts to open a missing port.
const REOPEN_EVERY: Duration = Duration::from_millis(500);
/// A ready fingerprint scanner is asked for its password this often, so a silent one is noticed.
const FP_HEARTBEAT: Duration = Duration::from_secs(5);
/// After "does not answer", the next probe of the fingerprint scanner.
const FP_RETRY: Duration = Duration::from_secs(2);
/// The latest a task sleeps without looking at its operation.
const MAX_NAP: Duration = Duration::from_millis(500);

/// Starts the task of every configured reader.
pub fn start(app: &Arc<App>) {
    if app.readers.card.family != "none" {
        tokio::spawn(card_task(app.clone()));
    }
    if app.readers.fingerprint.family != "none" {
        tokio::spawn(fingerprint_task(app.clone()));
    }
}

/// Opens the reader's port, retrying while it is missing.
async fn open(reader: &Reader) -> tokio_serial::SerialStream {
    loop {
        reader.expire();
        match port::open(&reader.port, reader.baud) {
            Ok(p) => return p,
            Err(e) => {
                let why = if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "{} is missing (is the reader plugged in?)",
                        reader.port.display()
                    )
                } else {
                    format!("{} cannot be opened: {e}", reader.port.display())
                };
                reader.set_link(
                    LinkState::Disconnected,
                    format!("disconnected: {why}"),
                    None,
                );
                tokio::select! {
                    _ = tokio::time::sleep(REOPEN_EVERY) => {}
                    _ = reader.kick.notified() => {}
                }
            }
        }
    }
}

fn lost(reader: &Reader, e: std::io::Error) {
    tracing::info!(reader = reader.id.as_str(), port = %reader.port.display(), error = %e, "reader disconnected");
    reader.set_link(
        LinkState::Disconnected,
        format!("disconnected: {} was closed ({e})", reader.port.display()),
        None,
    );
}

fn eof() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the port closed")
}

/// The nearest of a protocol deadline (ms since `t0`), the operation's expiry and a short nap.
fn wake_at(t0: Instant, proto_ms: Option<u64>, reader: &Reader) -> tokio::time::Instant {
    let mut at = Instant::now() + MAX_NAP;
    if let Some(ms) = proto_ms {
        at = at.min(t0 + Duration::from_millis(ms));
    }
    if let Some(e) = reader.next_expiry() {
        at = at.min(e);
    }
    tokio::time::Instant::from_std(at)
}

fn ms(t0: Instant) -> u64 {
    t0.elapsed().as_millis() as u64
}

// ---------- card reader ----------

async fn card_task(app: Arc<App>) {
    let reader = &app.readers.card;
    loop {
        let port = open(reader).await;
        tracing::info!(port = %reader.port.display(), family = %reader.family, "card reader port opened");
        let r = if reader.family == "em4100" {
            run_em4100(&app, Framed::new(port, Em4100Codec::default())).await
        } else {
            run_pn532(&app, Framed::new(port, Pn532Codec::default())).await
        };
        if let Err(e) = r {
            lost(reader, e);
        }
        tokio::time::sleep(REOPEN_EVERY).await;
    }
}

/// The card number of a UID in hex, or why it cannot be one.
fn canonical_of(hex: &str) -> Result<String, &'static str> {
    cards::parse(hex, Base::Hex, "card").map_err(|_| "the card's UID does not fit a card number")
}

async fn run_pn532(app: &Arc<App>, mut port: port::Pn532Port) -> std::io::Result<()> {
    let reader = &app.readers.card;
    reader.set_link(
        LinkState::Starting,
        "port open; waking the PN532".into(),
        None,
    );
    let t0 = Instant::now();
    let mut link = Link::new(app.config.reader_answer_timeout.as_millis() as u64);
    let mut outs: Vec<Output> = Vec::new();
    link.start(ms(t0), &mut |o| outs.push(o));
    loop {
        for o in std::mem::take(&mut outs) {
            match o {
                Output::Send(f) => port.send(&f[..]).await?,
                Output::Ready(fw) => reader.set_link(
                    LinkState::Ready,
                    "ready".into(),
                    Some(format!(
                        "PN532 (IC 0x{:02X}) firmware {}.{}",
                        fw.ic, fw.ver, fw.rev
                    )),
                ),
                Output::Card(uid) => match canonical_of(&uid) {
                    Ok(c) => readers::card_arrived(app, c).await,
                    Err(why) => readers::card_unreadable(app, why),
                },
                Output::Unreadable(why) => readers::card_unreadable(app, why),
                Output::NoAnswer => reader.set_link(
                    LinkState::NotAnswering,
                    format!(
                        "the PN532 on {} does not answer; check its cable, power and that it is in HSU (UART) mode",
                        reader.port.display()
                    ),
                    None,
                ),
            }
        }
        let polling = matches!(
            reader.running(),
            Some((_, OpKind::ReadCard | OpKind::IssueCards))
        );
        link.set_polling(polling, ms(t0), &mut |o| outs.push(o));
        if !outs.is_empty() {
            continue;
        }
        let at = wake_at(t0, link.deadline(), reader);
        tokio::select! {
            item = port.next() => match item {
                Some(Ok(Pn532Item::Frame(ev))) => link.on_event(&ev, ms(t0), &mut |o| outs.push(o)),
                Some(Ok(Pn532Item::BadChecksum)) => link.on_bad_frame(ms(t0), &mut |o| outs.push(o)),
                Some(Err(e)) => return Err(e),
                None => return Err(eof()),
            },
            _ = sleep_until(at) => {
                link.tick(ms(t0), &mut |o| outs.push(o));
                reader.expire();
            }
            _ = reader.kick.notified() => {}
        }
    }
}

async fn run_em4100(app: &Arc<App>, mut port: port::Em4100Port) -> std::io::Result<()> {
    let reader = &app.readers.card;
    // An EM4100 reader only speaks when a card is held: an open port is all there is to check.
    reader.set_link(
        LinkState::Ready,
        "ready (the reader speaks only when a card is held)".into(),
        Some("EM4100 125 kHz reader (RDM6300 ASCII protocol)".into()),
    );
    let t0 = Instant::now();
    let mut debounce = super::em4100::Debounce::new(super::em4100::DEFAULT_HOLD_MS);
    let mut op_seen = None;
    loop {
        let running = reader.running().map(|(id, _)| id);
        if running != op_seen {
            // A card already held when an operation starts counts as a new card.
            debounce.reset();
            op_seen = running;
        }
        let at = wake_at(t0, None, reader);
        tokio::select! {
            item = port.next() => match item {
                Some(Ok(card)) => {
                    if debounce.report(&card, ms(t0)) && running.is_some() {
                        match canonical_of(&card.hex()) {
                            Ok(c) => readers::card_arrived(app, c).await,
                            Err(why) => readers::card_unreadable(app, why),
                        }
                    }
                }
                Some(Err(e)) => return Err(e),
                None => return Err(eof()),
            },
            _ = sleep_until(at) => reader.expire(),
            _ = reader.kick.notified() => {}
        }
    }
}

// ---------- fingerprint scanner ----------

async fn fingerprint_task(app: Arc<App>) {
    let reader = &app.readers.fingerprint;
    loop {
        let port = open(reader).await;
        tracing::info!(port = %reader.port.display(), "fingerprint scanner port opened");
        let framed = Framed::new(port, R30xCodec::new(r30x::DEFAULT_ADDRESS));
        if let Err(e) = run_r30x(&app, framed).await {
            lost(reader, e);
        }
        tokio::time::sleep(REOPEN_EVERY).await;
    }
}

enum Mode {
    /// VerifyPassword sent; waiting.
    Probing(Probe),
    /// Ready; probe again at the instant (ms).
    Idle(u64),
    /// Not answering or refusing; probe again at the instant (ms).
    Resting(u64),
    /// Enrolling for operation `op`.
    Enrolling { op: u64, e: Box<Enrolment> },
}

fn step_text(n: u8, what: Action) -> (StepAction, String) {
    match what {
        Action::Press => (
            StepAction::Press,
            format!("step {n} of 3: press a finger on the scanner"),
        ),
        Action::Lift => (
            StepAction::Lift,
            format!("step {n} of 3 done: lift the finger"),
        ),
        Action::PressAgain => (
            StepAction::PressAgain,
            format!("step {n} of 3: press the same finger again"),
        ),
    }
}

async fn run_r30x(app: &Arc<App>, mut port: port::R30xPort) -> std::io::Result<()> {
    let reader = &app.readers.fingerprint;
    let password = app.config.fingerprint_password;
    let timeout = app.config.reader_answer_timeout.as_millis() as u64;
    let address = r30x::DEFAULT_ADDRESS;
    reader.set_link(
        LinkState::Starting,
        "port open; checking the scanner".into(),
        None,
    );
    let t0 = Instant::now();
    let mut probe = Probe::new(password, timeout);
    port.send(&probe.start(ms(t0)).encode(address)[..]).await?;
    let mut mode = Mode::Probing(probe);
    loop {
        // Start or drop an enrolment as the operation says.
        let running = reader.running();
        match (&mode, running) {
            (Mode::Idle(_), Some((op, OpKind::EnrollFingerprint))) => {
                let mut e = Box::new(Enrolment::new(password, timeout));
                let r = e.start(ms(t0));
                mode = Mode::Enrolling { op, e };
                if let Some(cmd) = r.send {
                    port.send(&cmd.encode(address)[..]).await?;
                }
            }
            (Mode::Enrolling { op, .. }, now) if now.map(|(id, _)| id) != Some(*op) => {
                // Stopped by the user, or timed out: the scanner is simply left alone.
                mode = Mode::Idle(ms(t0) + FP_HEARTBEAT.as_millis() as u64);
            }
            _ => {}
        }
        let proto = match &mode {
            Mode::Probing(p) => p.deadline(),
            Mode::Idle(at) | Mode::Resting(at) => Some(*at),
            Mode::Enrolling { e, .. } => e.deadline(),
        };
        let at = wake_at(t0, proto, reader);
        let mut reaction = None;
        tokio::select! {
            item = port.next() => {
                let packet = match item {
                    Some(Ok(p)) => p,
                    Some(Err(e)) => return Err(e),
                    None => return Err(eof()),
                };
                match &mut mode {
                    Mode::Probing(p) => match p.on_packet(&packet) {
                        ProbeStep::Ok => {
                            reader.set_link(LinkState::Ready, "ready".into(), Some("R30x/ZFM fingerprint sensor".into()));
                            mode = Mode::Idle(ms(t0) + FP_HEARTBEAT.as_millis() as u64);
                        }
                        ProbeStep::Refused(code) => {
                            reader.set_link(
                                LinkState::NotAnswering,
                                format!("the scanner refused the password ({}); set fingerprint-password", code.message()),
                                None,
                            );
                            mode = Mode::Resting(ms(t0) + FP_RETRY.as_millis() as u64);
                        }
                        _ => {}
                    },
                    Mode::Enrolling { op, e } => reaction = Some((*op, e.on_packet(&packet, ms(t0)))),
                    _ => {}
                }
            }
            _ = sleep_until(at) => {
                reader.expire();
                let now = ms(t0);
                match &mut mode {
                    Mode::Probing(p) => match p.tick(now) {
                        ProbeStep::Send(cmd) => port.send(&cmd.encode(address)[..]).await?,
                        ProbeStep::NoAnswer => {
                            reader.set_link(
                                LinkState::NotAnswering,
                                format!("the fingerprint scanner on {} does not answer; check its cable and power", reader.port.display()),
                                None,
                            );
                            mode = Mode::Resting(now + FP_RETRY.as_millis() as u64);
                        }
                        _ => {}
                    },
                    Mode::Idle(t) | Mode::Resting(t) if now >= *t => {
                        let mut p = Probe::new(password, timeout);
                        port.send(&p.start(now).encode(address)[..]).await?;
                        mode = Mode::Probing(p);
                    }
                    Mode::Enrolling { op, e } => reaction = Some((*op, e.tick(now))),
                    _ => {}
                }
            }
            _ = reader.kick.notified() => {}
        }
        let Some((op, r)) = reaction else { continue };
        if let Some(cmd) = r.send {
            port.send(&cmd.encode(address)[..]).await?;
        }
        match r.event {
            None => {}
            Some(Event::Step { n, what }) => {
                let (action, text) = step_text(n, what);
                readers::enrol_step(app, op, n, action, text);
            }
            Some(Event::Retry { n, code }) => readers::enrol_note(
                app,
                op,
                format!(
                    "step {n}: {} — lift the finger and press again",
                    code.message()
                ),
            ),
            Some(Event::StartAgain(f)) => readers::enrol_note(
                app,
                op,
                format!("{f}: lift the finger; the enrolment starts again at step 1"),
            ),
            Some(Event::Done(t)) => {
                mode = Mode::Idle(ms(t0) + FP_HEARTBEAT.as_millis() as u64);
                readers::enrol_done(app, op, t.to_vec()).await;
            }
            Some(Event::Failed(f)) => {
                mode = Mode::Idle(ms(t0) + FP_HEARTBEAT.as_millis() as u64);
                readers::enrol_failed(app, op, format!("enrolment failed: {f}"));
                if f == r30x::Failure::NoAnswer {
                    reader.set_link(
                        LinkState::NotAnswering,
                        format!(
                            "the fingerprint scanner on {} does not answer; check its cable and power",
                            reader.port.display()
                        ),
                        None,
                    );
                    mode = Mode::Resting(ms(t0) + FP_RETRY.as_millis() as u64);
                }
            }
        }
    }
}
