//! Import of devices from a ConfigTool-style spreadsheet (manual 3.2, "Import devices through
//! ConfigTool"): the template (header row and one example, CSV or XLSX) and the import of a filled
//! one. One row per device, columns in [`COLUMNS`] order: type, name, IP, HTTP port, user and
//! password of the device's management interface, device number, the organization code of the
//! device's place (a VTH's room `01#01#302`, a VTO's unit `01#01`, or its building when the compound
//! has no units; empty for a VTS, manager client or access controller) and, for a VTH only, the
//! extension. Each row adds the device (device rules) and, when it names an organization or is a
//! VTS, its registration number (registration rules; a VTO's 2-digit suffix is the last two digits
//! of its device number); each new SIP password is shown once, in the import's answer. Import is
//! all-or-nothing: every row is checked first — alone ([`parse_rows`], pure), against the other
//! rows (names, registration numbers) and against the store — and every bad row is reported with
//! its number, column and reason; only a clean file is written, in one transaction (audited as
//! `device.import`, and each registration as `registration.create` by the registration rules).
//! Reading and writing the files is `crate::persons::transfer`'s. Owns no table.

use std::collections::HashMap;
use std::net::IpAddr;

use super::device_transfer::{Imported, ImportedRegistration};
use super::devices::{self, Device, MAX_DEVICES};
use super::registrations::{Context, NewRegistration, RegistrationType, StationKind};
use super::ringing::DeviceKind;
use crate::accounts::Actor;
use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::persons::transfer::{read_cells, write_cells, Format, RowError};
use crate::store::{codec, StoreError, DEVICES};

/// The header row, in order.
pub const COLUMNS: [&str; 9] = [
    "Type",
    "Name",
    "IP",
    "Port",
    "User",
    "Password",
    "Device Number",
    "Organization",
    "Extension",
];
/// Most device rows one file may hold (the device registry's limit).
pub const MAX_ROWS: usize = MAX_DEVICES;
/// At most this many errors are listed; the rest are counted in a last entry.
pub const MAX_ERRORS: usize = 1000;

const TYPE: usize = 0;
const NAME: usize = 1;
const IP: usize = 2;
const PORT: usize = 3;
const USER: usize = 4;
const PASSWORD: usize = 5;
const NUMBER: usize = 6;
const ORG: usize = 7;
const EXTENSION: usize = 8;

/// A row checked on its own: the device as the file has it and where it is registered.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Spreadsheet row (the header is row 1).
    pub line: usize,
    pub kind: DeviceKind,
    pub name: String,
    pub ip: IpAddr,
    pub port: u16,
    pub username: String,
    /// Empty: none stored.
    pub password: String,
    pub number: String,
    /// The organization code's fields (`01#01#302` → `["01", "01", "302"]`); empty when none.
    pub organization: Vec<String>,
    pub extension: Option<u8>,
}

impl Row {
    /// Whether the row asks for a registration number.
    pub fn registers(&self) -> bool {
        !self.organization.is_empty() || self.kind == DeviceKind::Vts
    }
}

/// What an import did.
#[derive(Debug)]
pub enum ImportOutcome {
    Imported(Imported),
    /// Nothing was written.
    Rejected(Vec<RowError>),
}

fn file_error(reason: impl Into<String>) -> RowError {
    RowError {
        row: 0,
        column: "file".into(),
        reason: reason.into(),
    }
}

fn parse_kind(s: &str) -> Option<DeviceKind> {
    let k: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    Some(match k.as_str() {
        "vto" | "unitdoorstation" | "doorstation" => DeviceKind::Vto,
        "fencestation" | "fence" => DeviceKind::FenceStation,
        "villastation" | "villa" => DeviceKind::VillaStation,
        "vth" | "indoormonitor" => DeviceKind::Vth,
        "vts" | "masterstation" => DeviceKind::Vts,
        "accesscontroller" => DeviceKind::AccessController,
        "managerclient" | "manager" => DeviceKind::ManagerClient,
        _ => return None,
    })
}

fn is_station(k: DeviceKind) -> bool {
    matches!(
        k,
        DeviceKind::Vto | DeviceKind::FenceStation | DeviceKind::VillaStation
    )
}

/// Reads and checks every row of the file without touching the store: the header, every field,
/// names unique across the file and registration numbers that would clash between rows. Either
/// every row, or every problem found (at most [`MAX_ERRORS`] listed). Never panics.
pub fn parse_rows(bytes: &[u8], format: Format) -> Result<Vec<Row>, Vec<RowError>> {
    let (rows, errors) = check_rows(bytes, format)?;
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(capped(errors))
    }
}

/// The rows read without error and every error found; `Err` when the file itself cannot be read
/// as a device list.
fn check_rows(bytes: &[u8], format: Format) -> Result<(Vec<Row>, Vec<RowError>), Vec<RowError>> {
    let table = read_cells(bytes, format, &COLUMNS, MAX_ROWS).map_err(|e| vec![e])?;
    let mut lines = table
        .into_iter()
        .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()));
    let Some((header_line, header)) = lines.next() else {
        return Err(vec![file_error(
            "the file is empty; start from the template",
        )]);
    };
    let mut errors = Vec::new();
    for (i, want) in COLUMNS.iter().enumerate() {
        let got = header.get(i).map(|s| s.trim()).unwrap_or("");
        if !got.eq_ignore_ascii_case(want) {
            errors.push(RowError {
                row: header_line,
                column: (*want).into(),
                reason: format!("the header must read \"{want}\" here, not \"{got}\""),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut numbers: HashMap<String, usize> = HashMap::new();
    for (line, cells) in lines {
        let mut err = |column: usize, reason: String| {
            errors.push(RowError {
                row: line,
                column: COLUMNS[column].into(),
                reason,
            })
        };
        let cell = |i: usize| cells.get(i).map(|s| s.trim()).unwrap_or("");
        let kind = parse_kind(cell(TYPE));
        if kind.is_none() {
            err(
                TYPE,
                format!(
                    "\"{}\" is not a device type (VTO, VTH, VTS, Fence Station, Villa Station, \
                     Access Controller, Manager Client)",
                    cell(TYPE)
                ),
            );
        }
        let name = cell(NAME).to_owned();
        if name.is_empty() || name.chars().count() > 64 {
            err(NAME, "a device name has 1 to 64 characters".into());
        } else if let Some(first) = names.insert(name.to_lowercase(), line) {
            err(
                NAME,
                format!("the name \"{name}\" is already used on row {first}"),
            );
        }
        let ip = cell(IP).parse::<IpAddr>().ok();
        if ip.is_none() {
            err(IP, format!("\"{}\" is not an IP address", cell(IP)));
        }
        let port = match cell(PORT) {
            "" => Some(80),
            p => p.parse::<u16>().ok().filter(|p| *p > 0),
        };
        if port.is_none() {
            err(PORT, "the port is a number from 1 to 65535".into());
        }
        let username = match cell(USER) {
            "" => "admin".to_owned(),
            u => u.to_owned(),
        };
        if username.chars().count() > 64 {
            err(USER, "the user has at most 64 characters".into());
        }
        let password = cells.get(PASSWORD).cloned().unwrap_or_default();
        if password.chars().count() > 64 {
            err(PASSWORD, "the password has at most 64 characters".into());
        }
        let number = cell(NUMBER).to_owned();
        if number.is_empty() || number.len() > 10 || !number.bytes().all(|b| b.is_ascii_digit()) {
            err(
                NUMBER,
                "a device number has 1 to 10 digits (e.g. 8055, 101)".into(),
            );
        }
        let org_text = cell(ORG);
        let organization: Vec<String> = if org_text.is_empty() {
            Vec::new()
        } else {
            org_text.split('#').map(|f| f.trim().to_owned()).collect()
        };
        let fields_ok = organization
            .iter()
            .all(|f| !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()));
        if !organization.is_empty() {
            let shape = match kind {
                Some(DeviceKind::Vth) => Some((
                    2..=3,
                    "a room's organization code (building#unit#room, e.g. 01#01#302, or \
                     building#room)",
                )),
                Some(k) if is_station(k) => Some((
                    1..=2,
                    "a unit's organization code (building#unit, e.g. 01#01, or the building alone)",
                )),
                _ => None,
            };
            if let Some((sizes, what)) = shape {
                if !fields_ok || !sizes.contains(&organization.len()) {
                    err(ORG, format!("\"{org_text}\" is not {what}"));
                }
            } else if kind.is_some() {
                err(
                    ORG,
                    "only a VTH (its room) or a door station (its unit) has an organization".into(),
                );
            }
        }
        let extension = match cell(EXTENSION) {
            "" => None,
            e => {
                let v = e.parse::<u8>().ok().filter(|v| (1..=9).contains(v));
                if kind.is_some() && kind != Some(DeviceKind::Vth) {
                    err(EXTENSION, "only a VTH has an extension".into());
                } else if organization.is_empty() {
                    err(EXTENSION, "an extension needs the VTH's room".into());
                } else if v.is_none() {
                    err(EXTENSION, "the extension is a number from 1 to 9".into());
                }
                v
            }
        };
        let (Some(kind), Some(ip), Some(port)) = (kind, ip, port) else {
            continue;
        };
        let had_errors = errors.last().is_some_and(|e| e.row == line);
        let row = Row {
            line,
            kind,
            name,
            ip,
            port,
            username,
            password,
            number,
            organization,
            extension,
        };
        if row.registers() {
            // the registration number as the file spells it, fields without leading zeros
            let mut key: Vec<&str> = row
                .organization
                .iter()
                .map(|f| f.trim_start_matches('0'))
                .collect();
            let ext = row.extension.map(|e| e.to_string());
            match kind {
                DeviceKind::Vth => key.extend(ext.as_deref()),
                _ => key.push(row.number.trim_start_matches('0')),
            }
            let key = format!("{kind:?}:{}", key.join("#"));
            if let Some(first) = numbers.insert(key, line) {
                let column = if kind == DeviceKind::Vth { ORG } else { NUMBER };
                errors.push(RowError {
                    row: line,
                    column: COLUMNS[column].into(),
                    reason: format!("row {first} already gets the same registration number"),
                });
                continue;
            }
        }
        if !had_errors {
            rows.push(row);
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(file_error("the file has no device rows below the header"));
    }
    Ok((rows, errors))
}

fn capped(mut errors: Vec<RowError>) -> Vec<RowError> {
    if errors.len() > MAX_ERRORS {
        let more = errors.len() - MAX_ERRORS;
        errors.truncate(MAX_ERRORS);
        errors.push(file_error(format!("and {more} more errors")));
    }
    errors
}

fn same(a: &str, b: &str) -> bool {
    a.trim_start_matches('0') == b.trim_start_matches('0')
}

/// The registration a row asks for, its organization resolved in the store's; the column and
/// reason when it does not exist.
fn registration_input(
    ctx: &Context,
    row: &Row,
    device: u64,
) -> std::result::Result<NewRegistration, (usize, String)> {
    let org = &ctx.org;
    let code = row.organization.join("#");
    let mut input = NewRegistration {
        device,
        kind: RegistrationType::Vts,
        room: None,
        extension: None,
        station: None,
        unit: None,
        building: None,
        suffix: None,
    };
    let missing = || {
        (
            ORG,
            format!("there is no {code} in the organization; create it first (manual 3.1)"),
        )
    };
    match row.kind {
        DeviceKind::Vth => {
            input.kind = RegistrationType::Vth;
            input.extension = row.extension;
            let room = org.rooms.values().find(|r| {
                let c = org.code(r);
                let fields: Vec<&str> = c.split('#').collect();
                fields.len() == row.organization.len()
                    && fields
                        .iter()
                        .zip(&row.organization)
                        .all(|(a, b)| same(a, b))
            });
            input.room = Some(room.ok_or_else(missing)?.id);
        }
        k if is_station(k) => {
            input.kind = RegistrationType::Vto;
            input.station = Some(match k {
                DeviceKind::FenceStation => StationKind::FenceStation,
                DeviceKind::VillaStation => StationKind::VillaStation,
                _ => StationKind::UnitDoorStation,
            });
            let b = org
                .buildings
                .values()
                .find(|b| same(&b.number, &row.organization[0]))
                .ok_or_else(missing)?;
            input.building = Some(b.id);
            if let Some(u) = row.organization.get(1) {
                let unit = org
                    .units
                    .values()
                    .find(|x| x.building == b.id && same(&x.number, u))
                    .ok_or_else(missing)?;
                input.unit = Some(unit.id);
            }
            input.suffix = Some(suffix(&row.number));
        }
        _ => input.suffix = Some(suffix(&row.number)),
    }
    Ok(input)
}

/// The last two digits of a device number (the VTO and VTS registration suffix).
fn suffix(number: &str) -> String {
    let padded = format!("{number:0>2}");
    padded[padded.len() - 2..].to_owned()
}

/// The column a registration rule's refusal belongs to.
fn column_of(e: &Error, kind: DeviceKind) -> usize {
    match e {
        Error::Invalid {
            field: Some("extension"),
            ..
        } => EXTENSION,
        Error::Invalid {
            field: Some("suffix" | "device"),
            ..
        } => NUMBER,
        Error::Invalid {
            field: Some("station"),
            ..
        } => TYPE,
        _ if kind == DeviceKind::Vts => NUMBER,
        _ => ORG,
    }
}

fn new_device(row: &Row, id: u64) -> Device {
    Device {
        id,
        name: row.name.clone(),
        kind: row.kind,
        ip: row.ip,
        port: row.port,
        username: row.username.clone(),
        password: None,
        number: row.number.clone(),
        online: false,
        last_seen: None,
        created: crate::time::now(),
    }
}

/// Imports a ConfigTool file (administrators): every device and registration, or nothing with
/// every bad row listed.
pub fn import(app: &App, actor: &Actor, bytes: &[u8], format: Format) -> Result<ImportOutcome> {
    actor.require_admin()?;
    // Rows with errors of their own are left out of the store checks, so every row is reported
    // once and its first problem is not hidden behind a later one's.
    let (rows, file_errors) = match check_rows(bytes, format) {
        Ok(checked) => checked,
        Err(errors) => return Ok(ImportOutcome::Rejected(errors)),
    };
    app.store.write(|txn| {
        // First pass: every row against the store and the rows before it, in memory only.
        let mut ctx = Context::read(txn)?;
        let mut errors = file_errors;
        if ctx.devices.len() + rows.len() > MAX_DEVICES {
            errors.push(file_error(format!(
                "{} devices exist; with {} more the limit of {MAX_DEVICES} would be passed",
                ctx.devices.len(),
                rows.len()
            )));
        }
        let first_id = ctx.devices.keys().last().copied().unwrap_or(0) + 1;
        for (i, row) in rows.iter().enumerate() {
            let mut err = |column: usize, reason: String| {
                errors.push(RowError {
                    row: row.line,
                    column: COLUMNS[column].into(),
                    reason,
                })
            };
            if let Some(d) = ctx
                .devices
                .values()
                .find(|d| d.name.eq_ignore_ascii_case(&row.name))
            {
                err(
                    NAME,
                    format!("a device named \"{}\" already exists", d.name),
                );
                continue;
            }
            let d = new_device(row, first_id + i as u64);
            ctx.devices.insert(d.id, d.clone());
            if !row.registers() {
                continue;
            }
            let input = match registration_input(&ctx, row, d.id) {
                Ok(input) => input,
                Err((column, reason)) => {
                    err(column, reason);
                    continue;
                }
            };
            match ctx.build(&input) {
                Ok(r) => {
                    ctx.registrations.insert(r.device, r);
                }
                Err(e) => err(column_of(&e, row.kind), e.to_string()),
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.row);
            return Ok(ImportOutcome::Rejected(capped(errors)));
        }
        // Second pass: the writes, by the same rules (a failure here aborts the transaction).
        let mut ctx = Context::read(txn)?;
        let mut made = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let mut d = new_device(row, first_id + i as u64);
            if !row.password.is_empty() {
                d.password = Some(
                    app.sealer
                        .seal(&devices::seal_context(d.id), row.password.as_bytes())?,
                );
            }
            txn.open_table(DEVICES)
                .map_err(StoreError::from)?
                .insert(d.id, codec::encode(&d)?.as_slice())
                .map_err(StoreError::from)?;
            ctx.devices.insert(d.id, d.clone());
            if !row.registers() {
                continue;
            }
            let input = registration_input(&ctx, row, d.id)
                .map_err(|(_, reason)| Error::Internal(format!("row {}: {reason}", row.line)))?;
            let done = ctx.add(app, txn, actor, &input)?;
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
            "ConfigTool file",
            format!("{} device(s), {} registration(s)", rows.len(), made.len()),
        )?;
        Ok(ImportOutcome::Imported(Imported {
            devices: rows.len(),
            registrations: made,
        }))
    })
}

/// The template: the header row and one example (an indoor monitor in room 01#01#302).
pub fn template(format: Format) -> Result<Vec<u8>> {
    let example: Vec<String> = [
        "VTH",
        "Room 302 monitor",
        "192.168.1.110",
        "80",
        "admin",
        "",
        "9901",
        "01#01#302",
        "1",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let widths = [16.0, 28.0, 16.0, 8.0, 12.0, 14.0, 14.0, 16.0, 10.0];
    write_cells(format, "Devices", &COLUMNS, &widths, &[example])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_of(rows: &[&str]) -> Vec<u8> {
        let mut s = COLUMNS.join(",");
        for r in rows {
            s.push('\n');
            s.push_str(r);
        }
        s.into_bytes()
    }

    #[test]
    fn template_reads_back_in_both_formats() {
        for f in [Format::Csv, Format::Xlsx] {
            let rows = parse_rows(&template(f).unwrap(), f).unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].kind, DeviceKind::Vth);
            assert_eq!(rows[0].organization, ["01", "01", "302"]);
            assert_eq!(rows[0].extension, Some(1));
        }
    }

    #[test]
    fn every_bad_row_is_reported_with_its_column() {
        let e = parse_rows(
            &csv_of(&[
                "VTX,A,10.0.0.1,,,,1,,",
                "VTO,B,10.0.0.x,0,,,80a5,01#01,",
                "VTS,b,10.0.0.3,,,,101,01,",
                "VTO,C,10.0.0.4,,,,8055,1#01,3",
                "VTH,D,10.0.0.5,,,,9901,01#01#302,",
                "VTH,E,10.0.0.6,,,,9902,1#1#302,",
                "VTH,F,10.0.0.7,,,,9903,01#01#30a,12",
            ]),
            Format::Csv,
        )
        .unwrap_err();
        let got: Vec<(usize, &str)> = e.iter().map(|e| (e.row, e.column.as_str())).collect();
        assert_eq!(
            got,
            [
                (2, "Type"),
                (3, "IP"),
                (3, "Port"),
                (3, "Device Number"),
                (4, "Name"),
                (4, "Organization"),
                (5, "Extension"),
                (7, "Organization"),
                (8, "Organization"),
                (8, "Extension"),
            ],
            "{e:?}"
        );
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        for f in [Format::Csv, Format::Xlsx] {
            for bytes in [&b""[..], b"\xff\xfe", b"PK\x03\x04garbage", b"Type\n,,,"] {
                assert!(parse_rows(bytes, f).is_err());
            }
        }
    }
}
