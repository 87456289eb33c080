//! Room unlock passwords (manual 3.3): set, change and clear a room's 6–8 digit password — kept
//! hashed (Argon2id) to check what a visitor types and sealed (context `room:<id>`) for sending —
//! the per-device sending status (pending, sent, failed with the reason) for the door stations of
//! the room's unit and the room's indoor monitors, "send" and "batch send", the queue the device
//! issue drains ([`take_pending`], [`report`]) and [`unlock`], which applies the pure
//! [`crate::intercom::unlock::decide`] to a door station's unit. Owns the `SEND_STATUS` table and
//! the `password` field of rooms; knows nothing of HTTP or of how devices are reached.

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::organization::{Room, RoomPassword};
use super::registrations::{Context, RegistrationKind};
use super::unlock::{self, Decision, RoomCheck};
use crate::accounts::{hashing, Actor};
use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::store::{self, codec, StoreError, Versioned, ROOMS, SEND_STATUS};

/// One `<room>/<device>` status record (version 1).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SendRecord {
    pub room: u64,
    pub device: u64,
    pub state: StoredState,
    /// Random stamp of the queuing, so a late report of an older job changes nothing.
    pub stamp: u64,
    pub updated: u64,
}

/// Where sending a room's password to one device stands.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum StoredState {
    Pending,
    Sent,
    Failed(String),
}

impl Versioned for SendRecord {
    const KIND: &'static str = "send status";
    const VERSION: u8 = 1;
}

/// The status of one device for a room, as listed.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct SendStatusView {
    pub device: u64,
    pub device_name: String,
    pub number: String,
    /// `pending`, `sent`, `failed`, or `not_queued` when nothing was sent to it yet.
    pub state: String,
    pub reason: Option<String>,
    pub updated: Option<String>,
}

/// A password to push to a device; `password: None` means "remove the room's password".
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SendJob {
    pub room: u64,
    /// The room number a visitor types (e.g. `302`).
    pub room_number: String,
    pub device: u64,
    pub password: Option<String>,
    pub stamp: u64,
}

fn key(room: u64, device: u64) -> String {
    format!("{room:020}/{device:020}")
}

fn room_context(room: u64) -> String {
    format!("room:{room}")
}

/// The devices that hold a room's password: the stations of its unit (or of its building when the
/// compound has no units) and its indoor monitors.
pub(crate) fn targets(ctx: &Context, room: &Room) -> Vec<u64> {
    ctx.registrations
        .values()
        .filter(|r| match &r.kind {
            RegistrationKind::Vth { room: x, .. } => *x == room.id,
            RegistrationKind::Vto { unit, building, .. } => match room.unit {
                Some(u) => *unit == Some(u),
                None => unit.is_none() && *building == room.building,
            },
            RegistrationKind::Vts { .. } | RegistrationKind::Manager => false,
        })
        .map(|r| r.device)
        .collect()
}

fn stamp() -> Result<u64> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| Error::Internal(format!("random: {e}")))?;
    Ok(u64::from_le_bytes(b))
}

/// Replaces the room's status records with `pending` for every current target.
fn queue(txn: &WriteTransaction, ctx: &Context, room: &Room) -> Result<usize> {
    let mut t = txn.open_table(SEND_STATUS).map_err(StoreError::from)?;
    let prefix = format!("{:020}/", room.id);
    t.retain(|k, _| !k.starts_with(&prefix))
        .map_err(StoreError::from)?;
    let targets = targets(ctx, room);
    for device in &targets {
        let rec = SendRecord {
            room: room.id,
            device: *device,
            state: StoredState::Pending,
            stamp: stamp()?,
            updated: crate::time::now(),
        };
        store::put(&mut t, &key(room.id, *device), &rec)?;
    }
    Ok(targets.len())
}

fn room_of(ctx: &Context, room: u64) -> Result<&Room> {
    ctx.org
        .rooms
        .get(&room)
        .ok_or_else(|| Error::NotFound(format!("no room {room}")))
}

fn put_room(txn: &WriteTransaction, r: &Room) -> Result<()> {
    txn.open_table(ROOMS)
        .map_err(StoreError::from)?
        .insert(r.id, codec::encode(r)?.as_slice())
        .map_err(StoreError::from)?;
    Ok(())
}

/// Checks a new unlock password: 6 to 8 digits, typed twice alike.
pub fn check_password(password: &str, confirm: &str) -> Result<()> {
    if !(6..=8).contains(&password.len()) || !password.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            "room_password_format",
            "password",
            "an unlock password has 6 to 8 digits",
        ));
    }
    if password != confirm {
        return Err(Error::invalid(
            "room_password_confirm",
            "confirm",
            "the confirmation does not match the password",
        ));
    }
    Ok(())
}

/// Sets or changes a room's unlock password and queues sending it; returns the devices queued.
pub fn set(app: &App, actor: &Actor, room: u64, password: &str, confirm: &str) -> Result<usize> {
    actor.require_admin()?;
    check_password(password, confirm)?;
    let hash = hashing::hash(password)?;
    let sealed = app.sealer.seal(&room_context(room), password.as_bytes())?;
    app.store.write(|txn| {
        let ctx = Context::read(txn)?;
        let mut r = room_of(&ctx, room)?.clone();
        let changed = r.password.is_some();
        r.password = Some(RoomPassword {
            hash,
            sealed,
            set_at: crate::time::now(),
        });
        put_room(txn, &r)?;
        let n = queue(txn, &ctx, &r)?;
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            if changed {
                "room.password.change"
            } else {
                "room.password.set"
            },
            &ctx.org.code(&r),
            format!("queued for {n} device(s)"),
        )?;
        Ok(n)
    })
}

/// Clears a room's unlock password and queues its removal from the devices.
pub fn clear(app: &App, actor: &Actor, room: u64) -> Result<usize> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let ctx = Context::read(txn)?;
        let mut r = room_of(&ctx, room)?.clone();
        r.password = None;
        put_room(txn, &r)?;
        let n = queue(txn, &ctx, &r)?;
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "room.password.clear",
            &ctx.org.code(&r),
            format!("removal queued for {n} device(s)"),
        )?;
        Ok(n)
    })
}

/// Queues (again) sending the password of each of `rooms`; returns the devices queued.
pub fn send(app: &App, actor: &Actor, rooms: &[u64]) -> Result<usize> {
    actor.require_admin()?;
    if rooms.is_empty() || rooms.len() > super::organization::MAX_ROOMS {
        return Err(Error::invalid(
            "room_send",
            "rooms",
            "choose one or more rooms",
        ));
    }
    app.store.write(|txn| {
        let ctx = Context::read(txn)?;
        let mut n = 0;
        for id in rooms {
            let r = room_of(&ctx, *id)?;
            if r.password.is_none() {
                return Err(Error::invalid(
                    "room_password_missing",
                    "rooms",
                    format!("room {} has no unlock password to send", ctx.org.code(r)),
                ));
            }
            n += queue(txn, &ctx, r)?;
        }
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "room.password.send",
            &format!("{} room(s)", rooms.len()),
            format!("queued for {n} device(s)"),
        )?;
        Ok(n)
    })
}

/// The sending status of a room, per target device.
pub fn status(app: &App, room: u64) -> Result<Vec<SendStatusView>> {
    // (a write transaction only to share `Context::read`; it changes nothing)
    app.store.write(|txn| {
        let ctx = Context::read(txn)?;
        let r = room_of(&ctx, room)?;
        let t = txn.open_table(SEND_STATUS).map_err(StoreError::from)?;
        let mut out = Vec::new();
        for device in targets(&ctx, r) {
            let rec: Option<SendRecord> = store::get(&t, &key(room, device))?;
            let (state, reason) = match rec.as_ref().map(|r| &r.state) {
                None => ("not_queued", None),
                Some(StoredState::Pending) => ("pending", None),
                Some(StoredState::Sent) => ("sent", None),
                Some(StoredState::Failed(why)) => ("failed", Some(why.clone())),
            };
            out.push(SendStatusView {
                device,
                device_name: ctx
                    .devices
                    .get(&device)
                    .map(|d| d.name.clone())
                    .unwrap_or_default(),
                number: ctx
                    .registrations
                    .get(&device)
                    .map(|r| r.number.clone())
                    .unwrap_or_default(),
                state: state.into(),
                reason,
                updated: rec.map(|r| crate::time::rfc3339(r.updated)),
            });
        }
        Ok(out)
    })
}

/// Up to `limit` pending sends, for the device issue; they stay pending until [`report`]ed, so a
/// job lost in a restart is taken again. Jobs of devices no longer registered for the room are
/// skipped.
pub fn take_pending(app: &App, limit: usize) -> Result<Vec<SendJob>> {
    app.store.write(|txn| {
        let ctx = Context::read(txn)?;
        let t = txn.open_table(SEND_STATUS).map_err(StoreError::from)?;
        let mut out = Vec::new();
        for rec in store::all::<SendRecord>(&t)? {
            if out.len() >= limit {
                break;
            }
            if rec.state != StoredState::Pending {
                continue;
            }
            let Some(room) = ctx.org.rooms.get(&rec.room) else {
                continue;
            };
            if !targets(&ctx, room).contains(&rec.device) {
                continue;
            }
            let password =
                match &room.password {
                    Some(p) => {
                        let clear = app.sealer.open_sealed(&room_context(room.id), &p.sealed)?;
                        Some(String::from_utf8(clear).map_err(|_| {
                            Error::Internal("sealed room password is not text".into())
                        })?)
                    }
                    None => None,
                };
            out.push(SendJob {
                room: room.id,
                room_number: room.number.clone(),
                device: rec.device,
                password,
                stamp: rec.stamp,
            });
        }
        Ok(out)
    })
}

/// Records the outcome of a job; ignored when the room was queued again since it was taken.
pub fn report(app: &App, job: &SendJob, outcome: std::result::Result<(), String>) -> Result<()> {
    app.store.write(|txn| {
        let mut t = txn.open_table(SEND_STATUS).map_err(StoreError::from)?;
        let k = key(job.room, job.device);
        let Some(mut rec) = store::get::<SendRecord>(&t, &k)? else {
            return Ok(());
        };
        if rec.stamp != job.stamp {
            return Ok(());
        }
        rec.state = match outcome {
            Ok(()) => StoredState::Sent,
            Err(why) => StoredState::Failed(why),
        };
        rec.updated = crate::time::now();
        store::put(&mut t, &k, &rec)?;
        Ok(())
    })
}

/// What the visitor typed on the door station `vto` decides: the rooms considered are those of the
/// station's unit (or of its building when the compound has no units), checked against their
/// stored hashes. A device without a station registration opens nothing.
pub fn unlock(app: &App, vto: u64, typed: &str) -> Result<Decision> {
    let reg = super::registrations::get(app, vto)?
        .ok_or_else(|| Error::NotFound(format!("device {vto} has no registration number")))?;
    let (unit, building) = match reg.kind {
        RegistrationKind::Vto { unit, building, .. } => (unit, building),
        _ => {
            return Err(Error::invalid(
                "unlock_not_a_station",
                "device",
                format!("device {vto} is not registered as a door station"),
            ))
        }
    };
    let rooms: Vec<Room> = app.store.read(|txn| -> Result<Vec<Room>> {
        let t = txn.open_table(ROOMS).map_err(StoreError::from)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::from)? {
            let (_, v) = row.map_err(StoreError::from)?;
            let r: Room = codec::decode(v.value())?;
            let here = match unit {
                Some(u) => r.unit == Some(u),
                None => r.unit.is_none() && r.building == building,
            };
            if here {
                out.push(r);
            }
        }
        Ok(out)
    })?;
    Ok(unlock::decide(typed, |room, pw| {
        match rooms
            .iter()
            .find(|r| unlock::normalize_room(&r.number) == room)
        {
            None => RoomCheck::NoSuchRoom,
            Some(r) => match &r.password {
                None => RoomCheck::NoPassword,
                Some(p) if hashing::verify(pw, &p.hash) => RoomCheck::Matches,
                Some(_) => RoomCheck::Wrong,
            },
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Role;
    use crate::intercom::devices::{self, DeviceInput};
    use crate::intercom::organization::{self, BatchOrganization};
    use crate::intercom::registrations::{self, NewRegistration, RegistrationType, StationKind};
    use crate::intercom::ringing::DeviceKind;

    fn app() -> (tempfile::TempDir, App) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            data_dir: dir.path().to_owned(),
            ..Default::default()
        };
        (dir, App::open(config).unwrap())
    }

    fn actor() -> Actor {
        Actor {
            username: "admin".into(),
            role: Role::Admin,
            ip: [127, 0, 0, 1].into(),
            session_id: "s".into(),
        }
    }

    fn vto(app: &App, name: &str, number: &str, unit: u64) -> u64 {
        let d = devices::create(
            app,
            &actor(),
            &DeviceInput {
                name: Some(name.into()),
                kind: Some(DeviceKind::Vto),
                ip: Some("10.0.0.9".into()),
                number: Some(number.into()),
                ..Default::default()
            },
        )
        .unwrap();
        registrations::create(
            app,
            &actor(),
            &NewRegistration {
                device: d.id,
                kind: RegistrationType::Vto,
                room: None,
                extension: None,
                station: Some(StationKind::UnitDoorStation),
                unit: Some(unit),
                building: None,
                suffix: Some(number[number.len() - 2..].into()),
            },
        )
        .unwrap();
        d.id
    }

    #[test]
    fn unlock_opens_only_the_rooms_of_the_stations_unit() {
        let (_d, app) = app();
        organization::batch_create(
            &app,
            &actor(),
            &BatchOrganization {
                buildings: 1,
                units_per_building: 2,
                floors: 1,
                rooms_per_floor: 2,
            },
        )
        .unwrap();
        let snap = organization::snapshot(&app).unwrap();
        let units: Vec<u64> = snap.units.keys().copied().collect();
        let room_in = |u: u64, n: usize| {
            snap.rooms
                .values()
                .filter(|r| r.unit == Some(u))
                .nth(n)
                .unwrap()
                .clone()
        };
        let a = room_in(units[0], 0);
        let a2 = room_in(units[0], 1);
        let b = room_in(units[1], 0);
        let v1 = vto(&app, "Door 1", "8055", units[0]);
        set(&app, &actor(), a.id, "888888", "888888").unwrap();
        set(&app, &actor(), b.id, "12345678", "12345678").unwrap();
        let typed = |r: &Room, pw: &str| format!("{:0>6}{pw}", r.number);

        assert_eq!(
            unlock(&app, v1, &typed(&a, "888888")).unwrap(),
            Decision::Open {
                room: unlock::normalize_room(&a.number)
            }
        );
        assert_eq!(
            unlock(&app, v1, &format!("#{}#888888#", a.number)).unwrap(),
            Decision::Open {
                room: unlock::normalize_room(&a.number)
            }
        );
        // another unit's room (same number in the other unit is another room): not here
        let other = unlock(&app, v1, &typed(&b, "12345678")).unwrap();
        assert!(
            matches!(
                other,
                Decision::WrongPassword { .. } | Decision::UnknownRoom { .. }
            ),
            "{other:?}"
        );
        assert!(matches!(
            unlock(&app, v1, &typed(&a, "888889")).unwrap(),
            Decision::WrongPassword { .. }
        ));
        assert!(matches!(
            unlock(&app, v1, &typed(&a2, "888888")).unwrap(),
            Decision::RoomWithoutPassword { .. }
        ));
        assert!(matches!(
            unlock(&app, v1, "000999888888").unwrap(),
            Decision::UnknownRoom { .. }
        ));
        assert!(matches!(
            unlock(&app, v1, "12ab").unwrap(),
            Decision::Malformed(_)
        ));
        // cleared: no password any more
        clear(&app, &actor(), a.id).unwrap();
        assert!(matches!(
            unlock(&app, v1, &typed(&a, "888888")).unwrap(),
            Decision::RoomWithoutPassword { .. }
        ));
        // a device that is not a registered station
        assert!(unlock(&app, 999, "000011888888").is_err());
    }

    #[test]
    fn queue_take_and_report() {
        let (_d, app) = app();
        organization::batch_create(
            &app,
            &actor(),
            &BatchOrganization {
                buildings: 1,
                units_per_building: 1,
                floors: 1,
                rooms_per_floor: 1,
            },
        )
        .unwrap();
        let snap = organization::snapshot(&app).unwrap();
        let unit = *snap.units.keys().next().unwrap();
        let room = *snap.rooms.keys().next().unwrap();
        let v = vto(&app, "Door", "8055", unit);
        set(&app, &actor(), room, "888888", "888888").unwrap();
        let jobs = take_pending(&app, 10).unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].device, v);
        assert_eq!(jobs[0].password.as_deref(), Some("888888"));
        report(&app, &jobs[0], Err("timeout".into())).unwrap();
        assert_eq!(status(&app, room).unwrap()[0].state, "failed");
        assert!(take_pending(&app, 10).unwrap().is_empty());
        send(&app, &actor(), &[room]).unwrap();
        let jobs2 = take_pending(&app, 10).unwrap();
        // a stale report of the old job changes nothing
        report(&app, &jobs[0], Ok(())).unwrap();
        assert_eq!(status(&app, room).unwrap()[0].state, "pending");
        report(&app, &jobs2[0], Ok(())).unwrap();
        assert_eq!(status(&app, room).unwrap()[0].state, "sent");
        assert!(set(&app, &actor(), room, "12345", "12345").is_err());
        assert!(set(&app, &actor(), room, "123456789", "123456789").is_err());
        assert!(set(&app, &actor(), room, "123456", "123457").is_err());
    }
}
