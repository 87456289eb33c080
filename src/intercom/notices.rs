//! Information release (manual 3.5): notices with a subject, a text of up to 1,000 characters, a
//! start time and target devices (door stations, fence and villa stations and indoor monitors that
//! have a registration number). A notice is a draft — changed or deleted freely — until released;
//! once released it is fixed, and each target device goes from pending to delivered or failed.
//! Owns the `NOTICES` table, the schedule (`due`) and the state machine (`report`); the SIP issue
//! does the delivery. Knows nothing of HTTP or SIP.

use std::collections::BTreeMap;

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::devices::{self, Device};
use super::ringing::DeviceKind;
use crate::accounts::Actor;
use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::store::{codec, StoreError, Versioned, DEVICES, NOTICES};

pub const MAX_NOTICES: usize = 1000;
pub const MAX_TEXT: usize = 1000;
pub const MAX_SUBJECT: usize = 100;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeState {
    /// May be changed or deleted; not sent.
    Draft,
    /// Fixed; sent to each target from the start time on.
    Released,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet sent (or not yet released).
    Pending,
    Delivered,
    /// The last attempt failed; it is tried again.
    Failed,
}

/// One target device of a notice and how its delivery went.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Target {
    pub device: u64,
    pub state: DeliveryState,
    /// Unix seconds of the last report.
    pub at: Option<u64>,
    pub attempts: u32,
    pub error: Option<String>,
}

/// A notice as stored (version 1).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Notice {
    pub id: u64,
    pub subject: String,
    pub text: String,
    /// Unix seconds from which it is delivered.
    pub start: u64,
    pub state: NoticeState,
    pub released: Option<u64>,
    pub targets: Vec<Target>,
    pub created: u64,
}

impl Versioned for Notice {
    const KIND: &'static str = "notice";
    const VERSION: u8 = 1;
}

/// A notice as typed; on change, absent fields stay.
#[derive(Deserialize, Serialize, Clone, Debug, Default, ToSchema)]
#[serde(default)]
pub struct NoticeInput {
    pub subject: Option<String>,
    /// Up to 1,000 characters.
    pub text: Option<String>,
    /// RFC 3339 (`2026-11-30T08:00:00Z`), `YYYY-MM-DDTHH:MM` or a date.
    pub start: Option<String>,
    /// Device ids: VTO, fence station, villa station or VTH with a registration number.
    pub devices: Option<Vec<u64>>,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct TargetView {
    pub device: u64,
    /// `null` if the device was deleted since.
    pub name: Option<String>,
    pub state: DeliveryState,
    pub at: Option<String>,
    pub attempts: u32,
    pub error: Option<String>,
}

/// The details of a notice, with the state of each target device.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct NoticeView {
    pub id: u64,
    pub subject: String,
    pub text: String,
    pub start: String,
    pub state: NoticeState,
    pub released: Option<String>,
    pub targets: Vec<TargetView>,
}

/// A notice in the list.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct NoticeSummary {
    pub id: u64,
    pub subject: String,
    pub start: String,
    pub state: NoticeState,
    pub targets: usize,
    pub delivered: usize,
    pub failed: usize,
}

/// One notice to send to one device, for the SIP issue.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Delivery {
    pub notice: u64,
    pub device: u64,
    pub subject: String,
    pub text: String,
    pub start: u64,
    /// Failed attempts so far (for backing off).
    pub attempts: u32,
}

fn read_all(t: &impl ReadableTable<u64, &'static [u8]>) -> Result<Vec<Notice>> {
    let mut out = Vec::new();
    for row in t.iter().map_err(StoreError::from)? {
        let (_, v) = row.map_err(StoreError::from)?;
        out.push(codec::decode(v.value())?);
    }
    Ok(out)
}

fn view(n: &Notice, devs: &BTreeMap<u64, Device>) -> NoticeView {
    NoticeView {
        id: n.id,
        subject: n.subject.clone(),
        text: n.text.clone(),
        start: crate::time::rfc3339(n.start),
        state: n.state,
        released: n.released.map(crate::time::rfc3339),
        targets: n
            .targets
            .iter()
            .map(|t| TargetView {
                device: t.device,
                name: devs.get(&t.device).map(|d| d.name.clone()),
                state: t.state,
                at: t.at.map(crate::time::rfc3339),
                attempts: t.attempts,
                error: t.error.clone(),
            })
            .collect(),
    }
}

fn summary(n: &Notice) -> NoticeSummary {
    let count = |s| n.targets.iter().filter(|t| t.state == s).count();
    NoticeSummary {
        id: n.id,
        subject: n.subject.clone(),
        start: crate::time::rfc3339(n.start),
        state: n.state,
        targets: n.targets.len(),
        delivered: count(DeliveryState::Delivered),
        failed: count(DeliveryState::Failed),
    }
}

pub fn list(app: &App) -> Result<Vec<NoticeSummary>> {
    app.store.read(|txn| {
        let t = txn.open_table(NOTICES).map_err(StoreError::from)?;
        Ok(read_all(&t)?.iter().map(summary).collect())
    })
}

fn not_found(id: u64) -> Error {
    Error::NotFound(format!("no notice {id}"))
}

/// The details of notice `id`.
pub fn details(app: &App, id: u64) -> Result<NoticeView> {
    app.store.read(|txn| {
        let t = txn.open_table(NOTICES).map_err(StoreError::from)?;
        let n: Notice = match t.get(id).map_err(StoreError::from)? {
            Some(g) => codec::decode(g.value())?,
            None => return Err(not_found(id)),
        };
        let devs = devices::all(&txn.open_table(DEVICES).map_err(StoreError::from)?)?
            .into_iter()
            .map(|d| (d.id, d))
            .collect();
        Ok(view(&n, &devs))
    })
}

fn check_subject(s: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > MAX_SUBJECT {
        return Err(Error::invalid(
            "notice_subject",
            "subject",
            format!("a subject has 1 to {MAX_SUBJECT} characters"),
        ));
    }
    Ok(s.to_owned())
}

fn check_text(s: &str) -> Result<String> {
    let s = s.trim();
    let n = s.chars().count();
    if n == 0 || n > MAX_TEXT {
        return Err(Error::invalid(
            "notice_text",
            "text",
            format!("the text has 1 to {MAX_TEXT} characters (this one has {n})"),
        ));
    }
    Ok(s.to_owned())
}

fn check_start(s: &str) -> Result<u64> {
    crate::time::parse(s).ok_or_else(|| {
        Error::invalid(
            "notice_start",
            "start",
            "expected a start time like 2026-11-30T08:00:00Z",
        )
    })
}

/// Whether `device` has a registration number (it is bound to the platform).
fn has_registration(app: &App, device: u64) -> Result<bool> {
    Ok(super::registrations::number_of(app, device)?.is_some())
}

/// Only VTO/VTH kinds with a registration number may receive notices; none twice.
fn check_devices(app: &App, list: &[u64]) -> Result<Vec<u64>> {
    if list.is_empty() {
        return Err(Error::invalid(
            "notice_devices",
            "devices",
            "choose at least one device",
        ));
    }
    let mut out: Vec<u64> = Vec::new();
    for &id in list {
        if out.contains(&id) {
            continue;
        }
        let d = devices::load(app, id).map_err(|e| match e {
            Error::NotFound(m) => Error::invalid("notice_devices", "devices", m),
            other => other,
        })?;
        if !matches!(
            d.kind,
            DeviceKind::Vto | DeviceKind::FenceStation | DeviceKind::VillaStation | DeviceKind::Vth
        ) {
            return Err(Error::invalid(
                "notice_device_kind",
                "devices",
                format!(
                    "\"{}\" is not a VTO or VTH; only door stations and indoor monitors show notices",
                    d.name
                ),
            ));
        }
        if !has_registration(app, id)? {
            return Err(Error::invalid(
                "notice_device_unregistered",
                "devices",
                format!(
                    "\"{}\" has no registration number; bind it to the platform first",
                    d.name
                ),
            ));
        }
        out.push(id);
    }
    Ok(out)
}

fn pending(devices: Vec<u64>) -> Vec<Target> {
    devices
        .into_iter()
        .map(|device| Target {
            device,
            state: DeliveryState::Pending,
            at: None,
            attempts: 0,
            error: None,
        })
        .collect()
}

fn put(txn: &WriteTransaction, n: &Notice) -> Result<()> {
    txn.open_table(NOTICES)
        .map_err(StoreError::from)?
        .insert(n.id, codec::encode(n)?.as_slice())
        .map_err(StoreError::from)?;
    Ok(())
}

fn load_in(txn: &WriteTransaction, id: u64) -> Result<Notice> {
    let t = txn.open_table(NOTICES).map_err(StoreError::from)?;
    let g = t
        .get(id)
        .map_err(StoreError::from)?
        .ok_or_else(|| not_found(id))?;
    Ok(codec::decode(g.value())?)
}

fn record(
    app: &App,
    txn: &WriteTransaction,
    actor: &Actor,
    action: &str,
    n: &Notice,
    detail: String,
) -> Result<()> {
    audit::record(
        txn,
        app.config.audit_retention,
        Some(&actor.username),
        actor.ip,
        action,
        &n.subject,
        detail,
    )
}

fn details_in(txn: &WriteTransaction, n: &Notice) -> Result<NoticeView> {
    let devs = devices::all(&txn.open_table(DEVICES).map_err(StoreError::from)?)?
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    Ok(view(n, &devs))
}

fn released_refusal(n: &Notice, what: &str) -> Error {
    Error::conflict(
        "notice_released",
        format!(
            "notice \"{}\" is released; it can no longer be {what}",
            n.subject
        ),
    )
}

/// Adds a notice as a draft.
pub fn create(app: &App, actor: &Actor, input: &NoticeInput) -> Result<NoticeView> {
    actor.require_admin()?;
    let subject = check_subject(input.subject.as_deref().unwrap_or(""))?;
    let text = check_text(input.text.as_deref().unwrap_or(""))?;
    let start = check_start(input.start.as_deref().unwrap_or(""))?;
    let targets = pending(check_devices(app, input.devices.as_deref().unwrap_or(&[]))?);
    app.store.write(|txn| {
        let t = txn.open_table(NOTICES).map_err(StoreError::from)?;
        if t.len().map_err(StoreError::from)? as usize >= MAX_NOTICES {
            return Err(Error::invalid(
                "notice_limit",
                "subject",
                format!("at most {MAX_NOTICES} notices; delete old ones first"),
            ));
        }
        let id = t
            .last()
            .map_err(StoreError::from)?
            .map(|(k, _)| k.value())
            .unwrap_or(0)
            + 1;
        drop(t);
        let n = Notice {
            id,
            subject,
            text,
            start,
            state: NoticeState::Draft,
            released: None,
            targets,
            created: crate::time::now(),
        };
        put(txn, &n)?;
        record(
            app,
            txn,
            actor,
            "notice.create",
            &n,
            format!(
                "start {}, {} device(s)",
                crate::time::rfc3339(n.start),
                n.targets.len()
            ),
        )?;
        details_in(txn, &n)
    })
}

/// Changes a draft; refused once released.
pub fn update(app: &App, actor: &Actor, id: u64, input: &NoticeInput) -> Result<NoticeView> {
    actor.require_admin()?;
    let subject = input.subject.as_deref().map(check_subject).transpose()?;
    let text = input.text.as_deref().map(check_text).transpose()?;
    let start = input.start.as_deref().map(check_start).transpose()?;
    let devs = input
        .devices
        .as_deref()
        .map(|d| check_devices(app, d))
        .transpose()?;
    app.store.write(|txn| {
        let mut n = load_in(txn, id)?;
        if n.state != NoticeState::Draft {
            return Err(released_refusal(&n, "changed"));
        }
        if let Some(s) = subject {
            n.subject = s;
        }
        if let Some(t) = text {
            n.text = t;
        }
        if let Some(s) = start {
            n.start = s;
        }
        if let Some(d) = devs {
            n.targets = pending(d);
        }
        put(txn, &n)?;
        record(app, txn, actor, "notice.update", &n, "changed".into())?;
        details_in(txn, &n)
    })
}

/// Deletes a draft; refused once released.
pub fn delete(app: &App, actor: &Actor, id: u64) -> Result<()> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let n = load_in(txn, id)?;
        if n.state != NoticeState::Draft {
            return Err(released_refusal(&n, "deleted"));
        }
        txn.open_table(NOTICES)
            .map_err(StoreError::from)?
            .remove(id)
            .map_err(StoreError::from)?;
        record(app, txn, actor, "notice.delete", &n, "deleted".into())
    })
}

/// Releases a draft: from its start time on, each target device is due.
pub fn release(app: &App, actor: &Actor, id: u64) -> Result<NoticeView> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let mut n = load_in(txn, id)?;
        if n.state != NoticeState::Draft {
            return Err(Error::conflict(
                "notice_released",
                format!("notice \"{}\" is already released", n.subject),
            ));
        }
        n.state = NoticeState::Released;
        n.released = Some(crate::time::now());
        put(txn, &n)?;
        record(
            app,
            txn,
            actor,
            "notice.release",
            &n,
            format!(
                "from {} to {} device(s)",
                crate::time::rfc3339(n.start),
                n.targets.len()
            ),
        )?;
        details_in(txn, &n)
    })
}

/// What the SIP issue should send at `now` (unix seconds): one entry per device of a released
/// notice whose start time has come and that has not been delivered (pending or failed).
pub fn due(app: &App, now: u64) -> Result<Vec<Delivery>> {
    app.store.read(|txn| {
        let t = txn.open_table(NOTICES).map_err(StoreError::from)?;
        let mut out = Vec::new();
        for n in read_all(&t)? {
            if n.state != NoticeState::Released || n.start > now {
                continue;
            }
            for tg in &n.targets {
                if tg.state != DeliveryState::Delivered {
                    out.push(Delivery {
                        notice: n.id,
                        device: tg.device,
                        subject: n.subject.clone(),
                        text: n.text.clone(),
                        start: n.start,
                        attempts: tg.attempts,
                    });
                }
            }
        }
        Ok(out)
    })
}

/// Records how sending `notice` to `device` went. A delivered device stays delivered.
pub fn report(
    app: &App,
    notice: u64,
    device: u64,
    outcome: std::result::Result<(), String>,
) -> Result<()> {
    app.store.write(|txn| {
        let mut n = load_in(txn, notice)?;
        if n.state != NoticeState::Released {
            return Err(Error::conflict(
                "notice_not_released",
                format!("notice {notice} is not released"),
            ));
        }
        let tg = n
            .targets
            .iter_mut()
            .find(|t| t.device == device)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "device {device} is not a target of notice {notice}"
                ))
            })?;
        if tg.state == DeliveryState::Delivered {
            return Ok(());
        }
        tg.at = Some(crate::time::now());
        match outcome {
            Ok(()) => {
                tg.state = DeliveryState::Delivered;
                tg.error = None;
            }
            Err(e) => {
                tg.state = DeliveryState::Failed;
                tg.attempts = tg.attempts.saturating_add(1);
                tg.error = Some(e.chars().take(200).collect());
            }
        }
        put(txn, &n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Role;
    use crate::intercom::devices::DeviceInput;
    use crate::intercom::registrations::{Registration, RegistrationKind};

    fn app() -> (tempfile::TempDir, App) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            data_dir: dir.path().to_owned(),
            ..Default::default()
        };
        (dir, App::open(config).unwrap())
    }

    fn admin() -> Actor {
        Actor {
            username: "admin".into(),
            role: Role::Admin,
            ip: [127, 0, 0, 1].into(),
            session_id: "s".into(),
        }
    }

    /// A device with a registration number (written directly: this module only reads them).
    fn device(app: &App, name: &str, kind: DeviceKind, number: &str) -> u64 {
        let id = unregistered(app, name, kind, number);
        let r = Registration {
            device: id,
            number: format!("1#01#{number}"),
            kind: RegistrationKind::Vts {
                suffix: number.into(),
            },
            sip_password: Vec::new(),
            created: 0,
        };
        app.store
            .write(|txn| -> Result<()> {
                txn.open_table(crate::store::REGISTRATIONS)
                    .map_err(StoreError::from)?
                    .insert(id, codec::encode(&r)?.as_slice())
                    .map_err(StoreError::from)?;
                Ok(())
            })
            .unwrap();
        id
    }

    fn unregistered(app: &App, name: &str, kind: DeviceKind, number: &str) -> u64 {
        devices::create(
            app,
            &admin(),
            &DeviceInput {
                name: Some(name.into()),
                kind: Some(kind),
                ip: Some("10.0.0.9".into()),
                number: Some(number.into()),
                ..Default::default()
            },
        )
        .unwrap()
        .id
    }

    const START: &str = "2030-01-01T08:00:00Z";

    fn start() -> u64 {
        crate::time::parse(START).unwrap()
    }

    fn input(devices: Vec<u64>) -> NoticeInput {
        NoticeInput {
            subject: Some("Water off".into()),
            text: Some("No water on Tuesday from 9 to 12.".into()),
            start: Some(START.into()),
            devices: Some(devices),
        }
    }

    #[test]
    fn draft_release_then_delivered_or_failed() {
        let (_d, app) = app();
        let a = admin();
        let vto = device(&app, "VTO", DeviceKind::Vto, "8001");
        let vth = device(&app, "VTH", DeviceKind::Vth, "9901");
        let n = create(&app, &a, &input(vec![vto, vth])).unwrap();
        assert_eq!(n.state, NoticeState::Draft);
        assert!(
            due(&app, start() + 10).unwrap().is_empty(),
            "drafts are not sent"
        );
        let n = update(
            &app,
            &a,
            n.id,
            &NoticeInput {
                subject: Some("Water cut".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(n.subject, "Water cut");
        let n = release(&app, &a, n.id).unwrap();
        assert_eq!(n.state, NoticeState::Released);
        assert_eq!(
            release(&app, &a, n.id).unwrap_err().code(),
            "notice_released"
        );

        report(&app, n.id, vto, Ok(())).unwrap();
        report(&app, n.id, vth, Err("timeout".into())).unwrap();
        let d = details(&app, n.id).unwrap();
        assert_eq!(d.targets[0].state, DeliveryState::Delivered);
        assert_eq!(d.targets[1].state, DeliveryState::Failed);
        assert_eq!(d.targets[1].error.as_deref(), Some("timeout"));
        assert_eq!(d.targets[1].attempts, 1);
        // a failed device is due again; a delivered one stays delivered
        let due_now = due(&app, start()).unwrap();
        assert_eq!(due_now.len(), 1);
        assert_eq!((due_now[0].device, due_now[0].attempts), (vth, 1));
        report(&app, n.id, vto, Err("late".into())).unwrap();
        report(&app, n.id, vth, Ok(())).unwrap();
        let d = details(&app, n.id).unwrap();
        assert!(d
            .targets
            .iter()
            .all(|t| t.state == DeliveryState::Delivered));
        assert!(due(&app, start()).unwrap().is_empty());
        assert!(matches!(
            report(&app, n.id, 999, Ok(())),
            Err(Error::NotFound(_))
        ));
        let s = list(&app).unwrap();
        assert_eq!((s[0].targets, s[0].delivered, s[0].failed), (2, 2, 0));
    }

    #[test]
    fn no_change_or_delete_after_release() {
        let (_d, app) = app();
        let a = admin();
        let vto = device(&app, "VTO", DeviceKind::Vto, "8001");
        let draft = create(&app, &a, &input(vec![vto])).unwrap();
        delete(&app, &a, draft.id).unwrap();
        assert!(list(&app).unwrap().is_empty());
        let n = create(&app, &a, &input(vec![vto])).unwrap();
        assert!(matches!(
            report(&app, n.id, vto, Ok(())),
            Err(Error::Conflict { .. })
        ));
        release(&app, &a, n.id).unwrap();
        let e = update(
            &app,
            &a,
            n.id,
            &NoticeInput {
                text: Some("changed".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), "notice_released");
        assert_eq!(
            delete(&app, &a, n.id).unwrap_err().code(),
            "notice_released"
        );
        assert_eq!(
            details(&app, n.id).unwrap().text,
            "No water on Tuesday from 9 to 12."
        );
    }

    #[test]
    fn due_respects_the_start_time() {
        let (_d, app) = app();
        let a = admin();
        let vto = device(&app, "VTO", DeviceKind::Vto, "8001");
        let villa = device(&app, "Villa", DeviceKind::VillaStation, "8002");
        let n = create(&app, &a, &input(vec![vto, villa, vto])).unwrap();
        assert_eq!(n.targets.len(), 2, "a device is a target once");
        release(&app, &a, n.id).unwrap();
        assert!(due(&app, start() - 1).unwrap().is_empty());
        let d = due(&app, start()).unwrap();
        assert_eq!(
            d.iter().map(|d| d.device).collect::<Vec<_>>(),
            vec![vto, villa]
        );
        assert_eq!(d[0].subject, "Water off");
    }

    #[test]
    fn input_rules() {
        let (_d, app) = app();
        let a = admin();
        let vto = device(&app, "VTO", DeviceKind::Vto, "8001");
        let vts = device(&app, "VTS", DeviceKind::Vts, "101");
        let mut long = input(vec![vto]);
        long.text = Some("x".repeat(MAX_TEXT + 1));
        assert_eq!(create(&app, &a, &long).unwrap_err().field(), Some("text"));
        long.text = Some("é".repeat(MAX_TEXT));
        assert!(
            create(&app, &a, &long).is_ok(),
            "1,000 characters, not bytes"
        );
        assert_eq!(
            create(&app, &a, &input(vec![vts])).unwrap_err().code(),
            "notice_device_kind"
        );
        let bare = unregistered(&app, "Bare VTH", DeviceKind::Vth, "9902");
        assert_eq!(
            create(&app, &a, &input(vec![vto, bare]))
                .unwrap_err()
                .code(),
            "notice_device_unregistered"
        );
        assert_eq!(
            create(&app, &a, &input(vec![])).unwrap_err().field(),
            Some("devices")
        );
        let mut bad = input(vec![vto]);
        bad.start = Some("tomorrow".into());
        assert_eq!(create(&app, &a, &bad).unwrap_err().field(), Some("start"));
        let op = Actor {
            role: Role::Operator,
            ..admin()
        };
        assert_eq!(
            create(&app, &op, &input(vec![vto])).unwrap_err().code(),
            "admin_only"
        );
    }
}
