//! Registration numbers (manual 3.2, dial management): the number each VTH, VTO and VTS dials and
//! is dialled by — `11#01#11#5` for an indoor monitor (building, unit, room, extension),
//! `1#01#8055` for a door station (building, unit, device number), the device number for a master
//! station and for a manager client (a manager's softphone on the platform, so that it can
//! register over SIP and be rung) — with the rules the manual sets, one number per device, numbers unique, and the SIP
//! password of each registration (sealed at rest, context `sip:<device>`, shown once). Owns the
//! `REGISTRATIONS` table; knows nothing of HTTP or SIP (the SIP issue reads [`sip_password`] and
//! matches [`digits_alias`]).

use std::collections::BTreeMap;

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::devices::Device;
use super::organization::Snapshot;
use super::ringing::DeviceKind;
use crate::accounts::Actor;
use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::store::{
    self, codec, StoreError, Versioned, BUILDINGS, DEVICES, REGISTRATIONS, ROOMS, SETTINGS, UNITS,
};

/// What kind of outdoor station a VTO registration is (manual 3.2, "device type").
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StationKind {
    UnitDoorStation,
    FenceStation,
    VillaStation,
}

impl StationKind {
    /// The device kind a station of this kind must be registered on.
    pub fn device_kind(self) -> DeviceKind {
        match self {
            StationKind::UnitDoorStation => DeviceKind::Vto,
            StationKind::FenceStation => DeviceKind::FenceStation,
            StationKind::VillaStation => DeviceKind::VillaStation,
        }
    }
}

/// What a registration number was made from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum RegistrationKind {
    /// An indoor monitor in a room; the extension when the room has more than one VTH.
    Vth { room: u64, extension: Option<u8> },
    /// A door, fence or villa station of a unit (or of a building when the compound has no units).
    Vto {
        station: StationKind,
        unit: Option<u64>,
        building: u64,
        /// The 2 digits typed, equal to the last two of the device number.
        suffix: String,
    },
    /// A master station.
    Vts { suffix: String },
    /// A manager client (softphone); its number is its device number. Added last: stored
    /// registrations encode the variant's index.
    Manager,
}

/// A registration as stored (version 1), keyed by device id.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Registration {
    pub device: u64,
    /// The full number, e.g. `11#01#11#5`.
    pub number: String,
    pub kind: RegistrationKind,
    /// The SIP password, sealed with context `sip:<device>`.
    pub sip_password: Vec<u8>,
    pub created: u64,
}

impl Versioned for Registration {
    const KIND: &'static str = "registration";
    const VERSION: u8 = 1;
}

/// Context the SIP password of `device` is sealed with.
pub fn sip_context(device: u64) -> String {
    format!("sip:{device}")
}

/// Longest field of a registration number (and so longest device number that can be registered):
/// [`digits_alias`] writes each field's length as one digit.
pub const MAX_FIELD_DIGITS: usize = 9;

/// The digits-only alias of a registration number, for keypads and SIP user names that cannot
/// carry `#`: each `#`-separated field is written as its digit count (one digit) followed by its
/// digits. `11#01#11#5` → `2 11 2 01 2 11 1 5` = `21120121115`; `1#01#8055` → `11 2 01 4 8055` =
/// `1120148055`; the VTS number `101` → `3101`. The alias reads back to exactly one number, so two
/// different numbers never share an alias. Every field of a registration number has 1 to
/// [`MAX_FIELD_DIGITS`] digits (the registration rules ensure it); anything else (not a number this
/// module makes) yields an empty string, which matches nothing.
pub fn digits_alias(number: &str) -> String {
    let mut out = String::new();
    for field in number.split('#') {
        if field.is_empty()
            || field.len() > MAX_FIELD_DIGITS
            || !field.bytes().all(|b| b.is_ascii_digit())
        {
            return String::new();
        }
        out.push_str(&field.len().to_string());
        out.push_str(field);
    }
    out
}

pub(crate) fn read_table(t: &impl ReadableTable<u64, &'static [u8]>) -> Result<Vec<Registration>> {
    let mut out = Vec::new();
    for row in t.iter().map_err(StoreError::from)? {
        let (_, v) = row.map_err(StoreError::from)?;
        out.push(codec::decode(v.value())?);
    }
    Ok(out)
}

/// Every registration, by device id.
pub fn all(app: &App) -> Result<Vec<Registration>> {
    app.store
        .read(|txn| read_table(&txn.open_table(REGISTRATIONS).map_err(StoreError::from)?))
}

/// The registration of `device`, if it has one.
pub fn get(app: &App, device: u64) -> Result<Option<Registration>> {
    app.store.read(|txn| {
        let t = txn.open_table(REGISTRATIONS).map_err(StoreError::from)?;
        match t.get(device).map_err(StoreError::from)? {
            Some(g) => Ok(Some(codec::decode(g.value())?)),
            None => Ok(None),
        }
    })
}

/// The registration number of `device`, if it has one.
pub fn number_of(app: &App, device: u64) -> Result<Option<String>> {
    Ok(get(app, device)?.map(|r| r.number))
}

/// Devices registered as stations (VTO, fence, villa) of `unit`.
pub fn vtos_of_unit(app: &App, unit: u64) -> Result<Vec<u64>> {
    Ok(all(app)?
        .into_iter()
        .filter(|r| matches!(r.kind, RegistrationKind::Vto { unit: Some(u), .. } if u == unit))
        .map(|r| r.device)
        .collect())
}

/// Devices registered as stations directly on `building` (a compound without units).
pub fn vtos_of_building(app: &App, building: u64) -> Result<Vec<u64>> {
    Ok(all(app)?
        .into_iter()
        .filter(|r| {
            matches!(r.kind, RegistrationKind::Vto { unit: None, building: b, .. } if b == building)
        })
        .map(|r| r.device)
        .collect())
}

/// Indoor monitors registered in `room`.
pub fn vths_of_room(app: &App, room: u64) -> Result<Vec<u64>> {
    Ok(all(app)?
        .into_iter()
        .filter(|r| matches!(r.kind, RegistrationKind::Vth { room: x, .. } if x == room))
        .map(|r| r.device)
        .collect())
}

/// The SIP password of `device` in clear (for the SIP issue's digest check).
pub fn sip_password(app: &App, device: u64) -> Result<Option<String>> {
    match get(app, device)? {
        Some(r) => {
            let clear = app
                .sealer
                .open_sealed(&sip_context(device), &r.sip_password)?;
            String::from_utf8(clear)
                .map(Some)
                .map_err(|_| Error::Internal("sealed SIP password is not text".into()))
        }
        None => Ok(None),
    }
}

/// Which form of registration to add.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationType {
    Vth,
    Vto,
    Vts,
    /// A manager client; the number is its device number (no other field).
    Manager,
}

/// A registration as typed in the "Add" dialog of dial management.
#[derive(Serialize, Deserialize, Clone, Debug, ToSchema)]
pub struct NewRegistration {
    pub device: u64,
    #[serde(rename = "type")]
    pub kind: RegistrationType,
    /// VTH: the room.
    #[serde(default)]
    pub room: Option<u64>,
    /// VTH: the extension (1–9), required when the room already has a VTH.
    #[serde(default)]
    pub extension: Option<u8>,
    /// VTO: unit door station, fence station or villa station.
    #[serde(default)]
    pub station: Option<StationKind>,
    /// VTO: the unit (when the compound has units)…
    #[serde(default)]
    pub unit: Option<u64>,
    /// …or the building (when it has none).
    #[serde(default)]
    pub building: Option<u64>,
    /// VTO and VTS: the 2 digits, equal to the last two of the device number.
    #[serde(default)]
    pub suffix: Option<String>,
}

/// A registration as listed; the SIP password is never shown here.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct RegistrationView {
    pub device: u64,
    pub device_name: String,
    pub device_kind: Option<DeviceKind>,
    pub number: String,
    /// Digits-only form (see `digits_alias`).
    pub alias: String,
    #[serde(rename = "type")]
    pub kind: RegistrationType,
    pub room: Option<u64>,
    pub extension: Option<u8>,
    pub station: Option<StationKind>,
    pub unit: Option<u64>,
    pub building: Option<u64>,
    pub suffix: Option<String>,
    pub sip_password_set: bool,
    pub created: String,
}

/// A registration just made or whose SIP password was just regenerated: the only time the SIP
/// password is shown.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct WithSipPassword {
    #[serde(flatten)]
    pub registration: RegistrationView,
    pub sip_password: String,
}

impl Registration {
    pub fn input(&self) -> NewRegistration {
        let mut n = NewRegistration {
            device: self.device,
            kind: RegistrationType::Vth,
            room: None,
            extension: None,
            station: None,
            unit: None,
            building: None,
            suffix: None,
        };
        match &self.kind {
            RegistrationKind::Vth { room, extension } => {
                n.room = Some(*room);
                n.extension = *extension;
            }
            RegistrationKind::Vto {
                station,
                unit,
                building,
                suffix,
            } => {
                n.kind = RegistrationType::Vto;
                n.station = Some(*station);
                n.unit = *unit;
                n.building = Some(*building);
                n.suffix = Some(suffix.clone());
            }
            RegistrationKind::Vts { suffix } => {
                n.kind = RegistrationType::Vts;
                n.suffix = Some(suffix.clone());
            }
            RegistrationKind::Manager => n.kind = RegistrationType::Manager,
        }
        n
    }

    pub fn view(&self, device: Option<&Device>) -> RegistrationView {
        let i = self.input();
        RegistrationView {
            device: self.device,
            device_name: device.map(|d| d.name.clone()).unwrap_or_default(),
            device_kind: device.map(|d| d.kind),
            number: self.number.clone(),
            alias: digits_alias(&self.number),
            kind: i.kind,
            room: i.room,
            extension: i.extension,
            station: i.station,
            unit: i.unit,
            building: i.building,
            suffix: i.suffix,
            sip_password_set: !self.sip_password.is_empty(),
            created: crate::time::rfc3339(self.created),
        }
    }
}

/// Everything the rules need, read inside one write transaction.
pub(crate) struct Context {
    pub org: Snapshot,
    pub devices: BTreeMap<u64, Device>,
    pub registrations: BTreeMap<u64, Registration>,
}

fn read_map<T: Versioned>(t: &impl ReadableTable<u64, &'static [u8]>) -> Result<BTreeMap<u64, T>> {
    let mut out = BTreeMap::new();
    for row in t.iter().map_err(StoreError::from)? {
        let (k, v) = row.map_err(StoreError::from)?;
        out.insert(k.value(), codec::decode(v.value())?);
    }
    Ok(out)
}

impl Context {
    pub(crate) fn read(txn: &WriteTransaction) -> Result<Context> {
        let t = |e: redb::TableError| Error::from(StoreError::from(e));
        Ok(Context {
            org: Snapshot {
                compound: store::get(&txn.open_table(SETTINGS).map_err(t)?, "compound")?
                    .unwrap_or_default(),
                buildings: read_map(&txn.open_table(BUILDINGS).map_err(t)?)?,
                units: read_map(&txn.open_table(UNITS).map_err(t)?)?,
                rooms: read_map(&txn.open_table(ROOMS).map_err(t)?)?,
            },
            devices: read_map(&txn.open_table(DEVICES).map_err(t)?)?,
            registrations: read_map(&txn.open_table(REGISTRATIONS).map_err(t)?)?,
        })
    }
}

/// A strong SIP password: 20 characters from an alphabet without look-alikes.
pub fn generate_sip_password() -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let mut buf = [0u8; 32];
        getrandom::fill(&mut buf).map_err(|e| Error::Internal(format!("random: {e}")))?;
        // rejection sampling keeps every character equally likely
        let limit = 256 - 256 % ALPHABET.len();
        for b in buf {
            if (b as usize) < limit && out.len() < 20 {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

fn check_suffix(suffix: Option<&str>, d: &Device, what: &str) -> Result<String> {
    let s = suffix.unwrap_or("").trim();
    if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            "registration_suffix_format",
            "suffix",
            format!("enter a 2-digit number for the {what}"),
        ));
    }
    let padded = format!("{:0>2}", d.number);
    let last = &padded[padded.len() - 2..];
    if s != last {
        return Err(Error::invalid(
            "registration_suffix_mismatch",
            "suffix",
            format!(
                "the 2-digit number must equal the last two digits of the {what}'s number {} ({last})",
                d.number
            ),
        ));
    }
    if d.number.len() > MAX_FIELD_DIGITS {
        return Err(Error::invalid(
            "registration_device_number",
            "device",
            format!("a registered device number has at most {MAX_FIELD_DIGITS} digits"),
        ));
    }
    Ok(s.to_owned())
}

fn wrong_kind(d: &Device, wanted: &str) -> Error {
    Error::invalid(
        "registration_device_kind",
        "device",
        format!(
            "device \"{}\" is {}, not {wanted}",
            d.name,
            serde_json::to_value(d.kind)
                .ok()
                .and_then(|v| v.as_str().map(|s| format!("a {s}")))
                .unwrap_or_else(|| "another kind".into())
        ),
    )
}

impl Context {
    /// Checks `input` against every rule and builds the registration (without a SIP password).
    pub(crate) fn build(&self, input: &NewRegistration) -> Result<Registration> {
        let d = self
            .devices
            .get(&input.device)
            .ok_or_else(|| Error::NotFound(format!("no device {}", input.device)))?;
        if let Some(r) = self.registrations.get(&d.id) {
            return Err(Error::conflict(
                "registration_exists",
                format!(
                    "device \"{}\" already has registration number {}; one number per device",
                    d.name, r.number
                ),
            ));
        }
        let org = &self.org;
        let (number, kind) = match input.kind {
            RegistrationType::Vth => {
                if d.kind != DeviceKind::Vth {
                    return Err(wrong_kind(d, "an indoor monitor (VTH)"));
                }
                let room = input
                    .room
                    .and_then(|r| org.rooms.get(&r))
                    .ok_or_else(|| Error::invalid("registration_room", "room", "choose a room"))?;
                if org.compound.with_units && room.unit.is_none() {
                    return Err(Error::invalid(
                        "registration_room_unit",
                        "room",
                        "the organization has units: choose a room of a unit",
                    ));
                }
                if let Some(e) = input.extension {
                    if !(1..=9).contains(&e) {
                        return Err(Error::invalid(
                            "registration_extension",
                            "extension",
                            "the extension is a number from 1 to 9",
                        ));
                    }
                }
                let others: Vec<&Registration> = self
                    .registrations
                    .values()
                    .filter(
                        |r| matches!(r.kind, RegistrationKind::Vth { room: x, .. } if x == room.id),
                    )
                    .collect();
                if input.extension.is_none() && !others.is_empty() {
                    return Err(Error::invalid(
                        "registration_extension_required",
                        "extension",
                        format!(
                            "room {} already has a VTH ({}); enter an extension when a room has more than one VTH",
                            org.code(room),
                            others.iter().map(|r| r.number.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                let code = org.code(room);
                let number = match input.extension {
                    Some(e) => format!("{code}#{e}"),
                    None => code,
                };
                (
                    number,
                    RegistrationKind::Vth {
                        room: room.id,
                        extension: input.extension,
                    },
                )
            }
            RegistrationType::Vto => {
                if !matches!(
                    d.kind,
                    DeviceKind::Vto | DeviceKind::FenceStation | DeviceKind::VillaStation
                ) {
                    return Err(wrong_kind(
                        d,
                        "a door station (VTO, fence or villa station)",
                    ));
                }
                let station = input.station.ok_or_else(|| {
                    Error::invalid("registration_station", "station", "choose the device type")
                })?;
                if station.device_kind() != d.kind {
                    return Err(Error::invalid(
                        "registration_station",
                        "station",
                        format!(
                            "the device type must match the device: \"{}\" is not a {}",
                            d.name,
                            serde_json::to_value(station)
                                .ok()
                                .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                                .unwrap_or_default()
                        ),
                    ));
                }
                let (building, unit) = if org.compound.with_units {
                    let u = input.unit.and_then(|u| org.units.get(&u)).ok_or_else(|| {
                        Error::invalid(
                            "registration_unit",
                            "unit",
                            "the organization has units: choose a unit",
                        )
                    })?;
                    (u.building, Some(u))
                } else {
                    let b = input
                        .building
                        .filter(|b| org.buildings.contains_key(b))
                        .ok_or_else(|| {
                            Error::invalid("registration_unit", "building", "choose a building")
                        })?;
                    (b, None)
                };
                let suffix = check_suffix(input.suffix.as_deref(), d, "VTO")?;
                let b = org
                    .buildings
                    .get(&building)
                    .map(|b| b.number.clone())
                    .unwrap_or_default();
                let number = match unit {
                    Some(u) => format!("{b}#{}#{}", u.number, d.number),
                    None => format!("{b}#{}", d.number),
                };
                (
                    number,
                    RegistrationKind::Vto {
                        station,
                        unit: unit.map(|u| u.id),
                        building,
                        suffix,
                    },
                )
            }
            RegistrationType::Vts => {
                if d.kind != DeviceKind::Vts {
                    return Err(wrong_kind(d, "a master station (VTS)"));
                }
                let suffix = check_suffix(input.suffix.as_deref(), d, "VTS")?;
                (d.number.clone(), RegistrationKind::Vts { suffix })
            }
            RegistrationType::Manager => {
                if d.kind != DeviceKind::ManagerClient {
                    return Err(wrong_kind(d, "a manager client"));
                }
                if d.number.is_empty() || d.number.len() > MAX_FIELD_DIGITS {
                    return Err(Error::invalid(
                        "registration_device_number",
                        "device",
                        format!("a registered device number has 1 to {MAX_FIELD_DIGITS} digits"),
                    ));
                }
                (d.number.clone(), RegistrationKind::Manager)
            }
        };
        let alias = digits_alias(&number);
        // Numbers and aliases share one name space at the registrar: neither may equal another
        // registration's number or alias (all-digit numbers like a VTS's or a manager client's
        // can meet another's alias: `3101` is the alias of `101`).
        if let Some(other) = self.registrations.values().find(|r| {
            let other_alias = digits_alias(&r.number);
            r.number == number || other_alias == alias || r.number == alias || other_alias == number
        }) {
            let name = self
                .devices
                .get(&other.device)
                .map(|d| d.name.as_str())
                .unwrap_or("?");
            return Err(Error::conflict(
                "registration_number_taken",
                format!("registration number {number} is already used by device \"{name}\""),
            ));
        }
        Ok(Registration {
            device: d.id,
            number,
            kind,
            sip_password: Vec::new(),
            created: crate::time::now(),
        })
    }

    /// Adds a registration with a fresh SIP password in `txn`; returns it with the clear password.
    pub(crate) fn add(
        &mut self,
        app: &App,
        txn: &WriteTransaction,
        actor: &Actor,
        input: &NewRegistration,
    ) -> Result<WithSipPassword> {
        let mut r = self.build(input)?;
        let centre = &app.config.management_centre_number;
        if &r.number == centre || &digits_alias(&r.number) == centre {
            return Err(Error::conflict(
                "registration_number_taken",
                format!(
                    "registration number {} would be the management centre's number {centre}",
                    r.number
                ),
            ));
        }
        let pw = generate_sip_password()?;
        r.sip_password = app.sealer.seal(&sip_context(r.device), pw.as_bytes())?;
        put(txn, &r)?;
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "registration.create",
            &r.number,
            format!("device {}", r.device),
        )?;
        let view = r.view(self.devices.get(&r.device));
        self.registrations.insert(r.device, r);
        Ok(WithSipPassword {
            registration: view,
            sip_password: pw,
        })
    }
}

fn put(txn: &WriteTransaction, r: &Registration) -> Result<()> {
    txn.open_table(REGISTRATIONS)
        .map_err(StoreError::from)?
        .insert(r.device, codec::encode(r)?.as_slice())
        .map_err(StoreError::from)?;
    Ok(())
}

/// Every registration as listed, by device id.
pub fn list(app: &App) -> Result<Vec<RegistrationView>> {
    let devices = super::devices::list_raw(app)?;
    Ok(all(app)?
        .iter()
        .map(|r| r.view(devices.iter().find(|d| d.id == r.device)))
        .collect())
}

pub fn view(app: &App, device: u64) -> Result<RegistrationView> {
    let r = get(app, device)?
        .ok_or_else(|| Error::NotFound(format!("device {device} has no registration number")))?;
    let d = super::devices::load(app, device).ok();
    Ok(r.view(d.as_ref()))
}

/// Adds a registration (administrators); the answer carries the SIP password, shown this once.
pub fn create(app: &App, actor: &Actor, input: &NewRegistration) -> Result<WithSipPassword> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let mut ctx = Context::read(txn)?;
        ctx.add(app, txn, actor, input)
    })
}

/// Removes the registration of `device`.
pub fn delete(app: &App, actor: &Actor, device: u64) -> Result<()> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let r: Registration = match txn
            .open_table(REGISTRATIONS)
            .map_err(StoreError::from)?
            .remove(device)
            .map_err(StoreError::from)?
        {
            Some(g) => codec::decode(g.value())?,
            None => {
                return Err(Error::NotFound(format!(
                    "device {device} has no registration number"
                )))
            }
        };
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "registration.delete",
            &r.number,
            format!("device {device}"),
        )
    })
}

/// Replaces the SIP password of `device`'s registration; the new one is shown this once.
pub fn regenerate_sip_password(app: &App, actor: &Actor, device: u64) -> Result<WithSipPassword> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let ctx = Context::read(txn)?;
        let mut r = ctx.registrations.get(&device).cloned().ok_or_else(|| {
            Error::NotFound(format!("device {device} has no registration number"))
        })?;
        let pw = generate_sip_password()?;
        r.sip_password = app.sealer.seal(&sip_context(device), pw.as_bytes())?;
        put(txn, &r)?;
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "registration.sip_password",
            &r.number,
            "regenerated",
        )?;
        Ok(WithSipPassword {
            registration: r.view(ctx.devices.get(&device)),
            sip_password: pw,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_documented_and_distinct() {
        assert_eq!(digits_alias("11#01#11#5"), "21120121115");
        assert_eq!(digits_alias("1#01#8055"), "1120148055");
        assert_eq!(digits_alias("101"), "3101");
        // fields that would run together without the lengths stay apart
        assert_ne!(digits_alias("1#11#1"), digits_alias("11#1#1"));
        assert_ne!(digits_alias("11#01#11"), digits_alias("11#0#111"));
        for bad in ["", "1##2", "1#a", "1234567890", "#1"] {
            assert_eq!(digits_alias(bad), "", "{bad}");
        }
    }

    /// Stored registrations encode the kind's variant index: the manager-client variant came
    /// last, so what was stored before it still decodes to the same kind.
    #[test]
    fn kinds_stored_before_the_manager_client_still_decode() {
        let vts = postcard::to_allocvec(&RegistrationKind::Vts {
            suffix: "01".into(),
        })
        .unwrap();
        assert_eq!(vts, [2, 2, b'0', b'1']);
        let vth: RegistrationKind = postcard::from_bytes(&[0, 7, 1, 2]).unwrap();
        assert_eq!(
            vth,
            RegistrationKind::Vth {
                room: 7,
                extension: Some(2)
            }
        );
        assert_eq!(
            postcard::to_allocvec(&RegistrationKind::Manager).unwrap(),
            [3]
        );
        assert_eq!(
            postcard::to_allocvec(&RegistrationType::Manager).unwrap(),
            [3]
        );
        let r = Registration {
            device: 5,
            number: "7001".into(),
            kind: RegistrationKind::Manager,
            sip_password: vec![1, 2],
            created: 9,
        };
        let back: Registration = codec::decode(&codec::encode(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(r.input().kind, RegistrationType::Manager);
    }
}
