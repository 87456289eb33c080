//! Export and import of the device list with its registration numbers (manual 3.2, "Import
//! SmartPSS Lite"): a JSON file another Gatehouse imports without loss. The file carries no clear
//! secret and no sealed one (the sealing key is per box): device management passwords are left out
//! and must be typed again, and every imported registration gets a fresh SIP password, reported
//! once in the import's answer. Rooms, units and buildings are referred to by their numbers, so the
//! importing Gatehouse needs the same organization (manual 3.1) first. An import is all-or-nothing:
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
                }
                e
            }),
        })
        .collect();
    Ok(DeviceFile {
        format: FORMAT.into(),
        version: 1,
        devices: out,
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

fn same(a: &str, b: &str) -> bool {
    a.trim_start_matches('0') == b.trim_start_matches('0')
}

/// Imports a device file: every device is added and every registration made again (same numbers,
/// fresh SIP passwords), or nothing changes.
pub fn import(app: &App, actor: &Actor, file: &DeviceFile) -> Result<Imported> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let mut ctx = Context::read(txn)?;
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
                RegistrationType::Vts => {}
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
