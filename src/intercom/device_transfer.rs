//! Export and import of the device list with its registration numbers (manual 3.2, "Import
//! SmartPSS Lite"): a JSON file another Gatehouse imports without loss. The file carries no clear
//! secret and no sealed one (the sealing key is per box): device management passwords are left out
//! and must be typed again, and every imported registration gets a fresh SIP password, reported
//! once in the import's answer. The file also carries the organization (compound, buildings, units,
//! rooms without their unlock passwords): an importing Gatehouse without an organization gets it
//! first; one that has an organization must hold the rooms, units and buildings the registrations
//! name (by their numbers). An import is all-or-nothing:
//! one write transaction. Owns no table (writes `DEVICES` and `REGISTRATIONS` through their rules).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::devices::Device;
use super::registrations::{
    Context, NewRegistration, RegistrationKind, RegistrationType, StationKind,
};
use super::ringing::DeviceKind;
use crate::accounts::Actor;
use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::store::{codec, StoreError, DEVICES};

pub const FORMAT: &str = "gatehouse-devices";
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct DeviceFile {
    /// Always `gatehouse-devices`.
    pub format: String,
    pub version: u32,
    pub devices: Vec<ExportedDevice>,
    /// The organization the registrations refer to; created on import into an empty Gatehouse.
    #[serde(default)]
    pub organization: Option<ExportedOrganization>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct ExportedOrganization {
    pub name: String,
    pub with_units: bool,
    pub buildings: Vec<ExportedNode>,
    pub units: Vec<ExportedNode>,
    pub rooms: Vec<ExportedRoom>,
}

/// A building (`parent` empty) or a unit (`parent` = its building number).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct ExportedNode {
    #[serde(default)]
    pub parent: String,
    pub number: String,
    pub name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct ExportedRoom {
    pub building: String,
    #[serde(default)]
    pub unit: Option<String>,
    pub number: String,
    pub name: String,
    pub remarks: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct ExportedDevice {
    pub name: String,
    pub kind: DeviceKind,
    pub ip: String,
    pub port: u16,
    pub username: String,
    pub number: String,
    #[serde(default)]
    pub registration: Option<ExportedRegistration>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct ExportedRegistration {
    /// The number, checked again on import.
    pub number: String,
    #[serde(rename = "type")]
    pub kind: RegistrationType,
    /// VTH: the organization code of the room (`11#01#11`).
    #[serde(default)]
    pub room: Option<String>,
    #[serde(default)]
    pub extension: Option<u8>,
    #[serde(default)]
    pub station: Option<StationKind>,
    /// VTO: building number, and unit number when the compound has units.
    #[serde(default)]
    pub building: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub suffix: Option<String>,
}

/// What an import did; each SIP password is shown only here.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct Imported {
    pub devices: usize,
    pub registrations: Vec<ImportedRegistration>,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct ImportedRegistration {
    pub device: u64,
    pub number: String,
    pub sip_password: String,
}

/// The device list with registration numbers, without secrets.
pub fn export(app: &App) -> Result<DeviceFile> {
    let org = super::organization::snapshot(app)?;
    let regs = super::registrations::all(app)?;
    let devices = super::devices::list_raw(app)?;
    let out = devices
        .iter()
        .map(|d| ExportedDevice {
            name: d.name.clone(),
            kind: d.kind,
            ip: d.ip.to_string(),
            port: d.port,
            username: d.username.clone(),
            number: d.number.clone(),
            registration: regs.iter().find(|r| r.device == d.id).map(|r| {
                let mut e = ExportedRegistration {
                    number: r.number.clone(),
                    kind: RegistrationType::Vth,
                    room: None,
                    extension: None,
                    station: None,
                    building: None,
                    unit: None,
                    suffix: None,
                };
                match &r.kind {
                    RegistrationKind::Vth { room, extension } => {
                        e.room = org.rooms.get(room).map(|x| org.code(x));
                        e.extension = *extension;
                    }
                    RegistrationKind::Vto {
                        station,
                        unit,
                        building,
                        suffix,
                    } => {
                        e.kind = RegistrationType::Vto;
                        e.station = Some(*station);
                        e.building = org.buildings.get(building).map(|b| b.number.clone());
                        e.unit = unit
                            .and_then(|u| org.units.get(&u))
                            .map(|u| u.number.clone());
                        e.suffix = Some(suffix.clone());
                    }
                    RegistrationKind::Vts { suffix } => {
                        e.kind = RegistrationType::Vts;
                        e.suffix = Some(suffix.clone());
                    }
                    RegistrationKind::Manager => e.kind = RegistrationType::Manager,
                }
                e
            }),
        })
        .collect();
    let organization = ExportedOrganization {
        name: org.compound.name.clone(),
        with_units: org.compound.with_units,
        buildings: org
            .buildings
            .values()
            .map(|b| ExportedNode {
                parent: String::new(),
                number: b.number.clone(),
                name: b.name.clone(),
            })
            .collect(),
        units: org
            .units
            .values()
            .filter_map(|u| {
                let b = org.buildings.get(&u.building)?;
                Some(ExportedNode {
                    parent: b.number.clone(),
                    number: u.number.clone(),
                    name: u.name.clone(),
                })
            })
            .collect(),
        rooms: org
            .rooms
            .values()
            .filter_map(|r| {
                Some(ExportedRoom {
                    building: org.buildings.get(&r.building)?.number.clone(),
                    unit: r
                        .unit
                        .and_then(|u| org.units.get(&u))
                        .map(|u| u.number.clone()),
                    number: r.number.clone(),
                    name: r.name.clone(),
                    remarks: r.remarks.clone(),
                })
            })
            .collect(),
    };
    Ok(DeviceFile {
        format: FORMAT.into(),
        version: 1,
        devices: out,
        organization: Some(organization),
    })
}

/// Reads a device file (JSON); never panics on any input.
pub fn parse(bytes: &[u8]) -> Result<DeviceFile> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Error::TooLarge("a device file has at most 4 MiB".into()));
    }
    let f: DeviceFile = serde_json::from_slice(bytes).map_err(|e| {
        Error::invalid(
            "device_file",
            "file",
            format!("not a Gatehouse device file: {e}"),
        )
    })?;
    if f.format != FORMAT || f.version != 1 {
        return Err(Error::invalid(
            "device_file",
            "file",
            "not a Gatehouse device file (format gatehouse-devices, version 1)",
        ));
    }
    Ok(f)
}

/// Writes the file's organization into an empty store (inside the import's transaction).
fn create_organization(txn: &redb::WriteTransaction, o: &ExportedOrganization) -> Result<()> {
    use super::organization::{Building, Compound, Room, Unit};
    use crate::store::{BUILDINGS, ROOMS, SETTINGS, UNITS};
    let bad = |m: String| Error::invalid("device_file_organization", "file", m);
    if o.rooms.len() > super::organization::MAX_ROOMS {
        return Err(bad("too many rooms in the file".into()));
    }
    let mut settings = txn.open_table(SETTINGS).map_err(StoreError::from)?;
    let name = if o.name.trim().is_empty() {
        "Compound".to_owned()
    } else {
        o.name.trim().chars().take(64).collect()
    };
    crate::store::put(
        &mut settings,
        "compound",
        &Compound {
            name,
            with_units: o.with_units,
        },
    )?;
    drop(settings);
    let digits = |n: &str| !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit());
    let mut bt = txn.open_table(BUILDINGS).map_err(StoreError::from)?;
    let mut buildings = Vec::new();
    for (i, b) in o.buildings.iter().enumerate() {
        if !digits(&b.number)
            || buildings
                .iter()
                .any(|(n, _): &(String, u64)| same(n, &b.number))
        {
            return Err(bad(format!(
                "building \"{}\" is not a valid, unique building number",
                b.number
            )));
        }
        let id = i as u64 + 1;
        let v = Building {
            id,
            number: b.number.clone(),
            name: b.name.chars().take(64).collect(),
        };
        bt.insert(id, codec::encode(&v)?.as_slice())
            .map_err(StoreError::from)?;
        buildings.push((b.number.clone(), id));
    }
    let building = |n: &str| {
        buildings
            .iter()
            .find(|(x, _)| same(x, n))
            .map(|(_, id)| *id)
    };
    let mut ut = txn.open_table(UNITS).map_err(StoreError::from)?;
    let mut units: Vec<(u64, String, u64)> = Vec::new();
    for (i, u) in o.units.iter().enumerate() {
        let b = building(&u.parent)
            .ok_or_else(|| bad(format!("unit {} names no building of the file", u.number)))?;
        if !digits(&u.number)
            || units
                .iter()
                .any(|(pb, n, _)| *pb == b && same(n, &u.number))
        {
            return Err(bad(format!(
                "unit \"{}\" is not a valid, unique unit number",
                u.number
            )));
        }
        let id = i as u64 + 1;
        let v = Unit {
            id,
            building: b,
            number: u.number.clone(),
            name: u.name.chars().take(64).collect(),
        };
        ut.insert(id, codec::encode(&v)?.as_slice())
            .map_err(StoreError::from)?;
        units.push((b, u.number.clone(), id));
    }
    let mut rt = txn.open_table(ROOMS).map_err(StoreError::from)?;
    let mut seen = std::collections::HashSet::new();
    for (i, r) in o.rooms.iter().enumerate() {
        let b = building(&r.building)
            .ok_or_else(|| bad(format!("room {} names no building of the file", r.number)))?;
        let unit = match &r.unit {
            Some(un) => Some(
                units
                    .iter()
                    .find(|(pb, n, _)| *pb == b && same(n, un))
                    .map(|(_, _, id)| *id)
                    .ok_or_else(|| bad(format!("room {} names no unit of the file", r.number)))?,
            ),
            None => None,
        };
        if o.with_units != unit.is_some()
            || !digits(&r.number)
            || !seen.insert((b, unit, r.number.trim_start_matches('0').to_owned()))
        {
            return Err(bad(format!(
                "room \"{}\" is not a valid, unique room of its place",
                r.number
            )));
        }
        let v = Room {
            id: i as u64 + 1,
            building: b,
            unit,
            number: r.number.clone(),
            name: r.name.chars().take(64).collect(),
            remarks: r.remarks.chars().take(64).collect(),
            password: None,
        };
        rt.insert(v.id, codec::encode(&v)?.as_slice())
            .map_err(StoreError::from)?;
    }
    Ok(())
}

fn same(a: &str, b: &str) -> bool {
    a.trim_start_matches('0') == b.trim_start_matches('0')
}

/// Imports a device file: every device is added and every registration made again (same numbers,
/// fresh SIP passwords), or nothing changes.
pub fn import(app: &App, actor: &Actor, file: &DeviceFile) -> Result<Imported> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let mut ctx = Context::read(txn)?;
        if let Some(o) = &file.organization {
            if ctx.org.buildings.is_empty() && !o.buildings.is_empty() {
                create_organization(txn, o)?;
                ctx = Context::read(txn)?;
            }
        }
        let mut made = Vec::new();
        for (i, e) in file.devices.iter().enumerate() {
            let at = |m: String| {
                Error::invalid(
                    "device_file_row",
                    "file",
                    format!("device {} (\"{}\"): {m}", i + 1, e.name),
                )
            };
            if ctx
                .devices
                .values()
                .any(|d| d.name.eq_ignore_ascii_case(&e.name))
            {
                return Err(at("a device of that name already exists".into()));
            }
            if e.name.trim().is_empty() || e.name.chars().count() > 64 {
                return Err(at("a device name has 1 to 64 characters".into()));
            }
            if e.number.is_empty()
                || e.number.len() > 10
                || !e.number.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(at("a device number has 1 to 10 digits".into()));
            }
            let ip =
                e.ip.parse()
                    .map_err(|_| at(format!("\"{}\" is not an IP address", e.ip)))?;
            let d = Device {
                id: ctx.devices.keys().last().copied().unwrap_or(0) + 1,
                name: e.name.trim().to_owned(),
                kind: e.kind,
                ip,
                port: e.port.max(1),
                username: e.username.chars().take(64).collect(),
                password: None,
                number: e.number.clone(),
                online: false,
                last_seen: None,
                created: crate::time::now(),
            };
            txn.open_table(DEVICES)
                .map_err(StoreError::from)?
                .insert(d.id, codec::encode(&d)?.as_slice())
                .map_err(StoreError::from)?;
            ctx.devices.insert(d.id, d.clone());
            let Some(r) = &e.registration else { continue };
            let org = &ctx.org;
            let mut input = NewRegistration {
                device: d.id,
                kind: r.kind,
                room: None,
                extension: r.extension,
                station: r.station,
                unit: None,
                building: None,
                suffix: r.suffix.clone(),
            };
            match r.kind {
                RegistrationType::Vth => {
                    let code = r.room.as_deref().unwrap_or("");
                    input.room = org
                        .rooms
                        .values()
                        .find(|x| org.code(x) == code)
                        .map(|x| x.id);
                    if input.room.is_none() {
                        return Err(at(format!(
                            "no room {code} here; create the organization first"
                        )));
                    }
                }
                RegistrationType::Vto => {
                    let b = org
                        .buildings
                        .values()
                        .find(|b| r.building.as_deref().is_some_and(|n| same(n, &b.number)));
                    let Some(b) = b else {
                        return Err(at(
                            "its building does not exist here; create the organization first"
                                .into(),
                        ));
                    };
                    input.building = Some(b.id);
                    if let Some(un) = &r.unit {
                        input.unit = org
                            .units
                            .values()
                            .find(|u| u.building == b.id && same(un, &u.number))
                            .map(|u| u.id);
                        if input.unit.is_none() {
                            return Err(at(format!("unit {}#{un} does not exist here", b.number)));
                        }
                    }
                }
                RegistrationType::Vts | RegistrationType::Manager => {}
            }
            let done = ctx
                .add(app, txn, actor, &input)
                .map_err(|e| at(e.to_string()))?;
            if done.registration.number != r.number {
                return Err(at(format!(
                    "its number would be {} here, not {}",
                    done.registration.number, r.number
                )));
            }
            made.push(ImportedRegistration {
                device: d.id,
                number: done.registration.number,
                sip_password: done.sip_password,
            });
        }
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "device.import",
            "device file",
            format!(
                "{} device(s), {} registration(s)",
                file.devices.len(),
                made.len()
            ),
        )?;
        Ok(Imported {
            devices: file.devices.len(),
            registrations: made,
        })
    })
}
