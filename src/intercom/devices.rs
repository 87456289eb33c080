//! The device registry (manual 3.2 prerequisites): door stations, fence and villa stations,
//! indoor monitors, master stations, access controllers and manager clients, with the address,
//! port and credentials of their HTTP management interface (the password sealed, shown only as
//! set/unset), their device number (VTO `8055`, VTS `101`) and status fields that the SIP and
//! device issues fill. Owns the `DEVICES` table; knows nothing of HTTP or SIP.

use std::net::IpAddr;

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ringing::DeviceKind;
use crate::accounts::Actor;
use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::store::{codec, StoreError, Versioned, DEVICES, REGISTRATIONS};

pub const MAX_DEVICES: usize = 5000;

/// A device as stored (version 1).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Device {
    pub id: u64,
    pub name: String,
    pub kind: DeviceKind,
    pub ip: IpAddr,
    pub port: u16,
    pub username: String,
    /// The management password, sealed (see `crate::secrets`).
    pub password: Option<Vec<u8>>,
    /// e.g. `8055` for a VTO, `101` for a VTS.
    pub number: String,
    /// Filled by the SIP issue (registration) and the device issue (management reachability).
    pub online: bool,
    pub last_seen: Option<u64>,
    pub created: u64,
}

impl Versioned for Device {
    const KIND: &'static str = "device";
    const VERSION: u8 = 1;
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct DeviceView {
    pub id: u64,
    pub name: String,
    pub kind: DeviceKind,
    pub ip: String,
    pub port: u16,
    pub username: String,
    /// Whether a management password is stored (it is never shown).
    pub password_set: bool,
    pub number: String,
    pub online: bool,
    pub last_seen: Option<String>,
}

impl From<&Device> for DeviceView {
    fn from(d: &Device) -> Self {
        DeviceView {
            id: d.id,
            name: d.name.clone(),
            kind: d.kind,
            ip: d.ip.to_string(),
            port: d.port,
            username: d.username.clone(),
            password_set: d.password.is_some(),
            number: d.number.clone(),
            online: d.online,
            last_seen: d.last_seen.map(crate::time::rfc3339),
        }
    }
}

/// A device as typed; on update, absent fields stay and `password: ""` clears it.
#[derive(Deserialize, Serialize, Clone, Debug, Default, ToSchema)]
#[serde(default)]
pub struct DeviceInput {
    pub name: Option<String>,
    pub kind: Option<DeviceKind>,
    pub ip: Option<String>,
    /// HTTP management port (default 80).
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub number: Option<String>,
}

pub(crate) fn seal_context(id: u64) -> String {
    format!("device:{id}")
}

pub fn all(t: &impl ReadableTable<u64, &'static [u8]>) -> Result<Vec<Device>> {
    let mut out = Vec::new();
    for row in t.iter().map_err(StoreError::from)? {
        let (_, v) = row.map_err(StoreError::from)?;
        out.push(codec::decode(v.value())?);
    }
    Ok(out)
}

pub fn list(app: &App) -> Result<Vec<DeviceView>> {
    app.store.read(|txn| {
        let t = txn.open_table(DEVICES).map_err(StoreError::from)?;
        Ok(all(&t)?.iter().map(DeviceView::from).collect())
    })
}

/// Records which devices are reachable now (the SIP service: a live registration). `seen` is
/// the time (unix seconds) of the change. Devices that are gone are skipped. Changes no
/// configuration, so it does not make caches reload.
pub fn set_online(app: &App, changes: &[(u64, bool)], seen: u64) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    app.store.write_quiet(|txn| {
        let mut t = txn.open_table(DEVICES).map_err(StoreError::from)?;
        for (id, online) in changes {
            let current = match t.get(*id).map_err(StoreError::from)? {
                Some(g) => codec::decode::<Device>(g.value())?,
                None => continue,
            };
            if current.online == *online {
                continue;
            }
            let mut d = current;
            d.online = *online;
            d.last_seen = Some(seen);
            let bytes = codec::encode(&d)?;
            t.insert(*id, bytes.as_slice()).map_err(StoreError::from)?;
        }
        Ok(())
    })
}

/// Every device as stored.
pub fn list_raw(app: &App) -> Result<Vec<Device>> {
    app.store
        .read(|txn| all(&txn.open_table(DEVICES).map_err(StoreError::from)?))
}

pub fn load(app: &App, id: u64) -> Result<Device> {
    app.store.read(|txn| {
        let t = txn.open_table(DEVICES).map_err(StoreError::from)?;
        let g = t
            .get(id)
            .map_err(StoreError::from)?
            .ok_or_else(|| Error::NotFound(format!("no device {id}")))?;
        Ok(codec::decode(g.value())?)
    })
}

/// The management password of a device in clear, for the device issue's pushes.
pub fn management_password(app: &App, d: &Device) -> Result<Option<String>> {
    d.password
        .as_ref()
        .map(|s| {
            let clear = app.sealer.open_sealed(&seal_context(d.id), s)?;
            String::from_utf8(clear)
                .map_err(|_| Error::Internal("sealed password is not text".into()))
        })
        .transpose()
}

fn check_name(n: &str) -> Result<String> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 64 {
        return Err(Error::invalid(
            "device_name",
            "name",
            "a device name has 1 to 64 characters",
        ));
    }
    Ok(n.to_owned())
}

fn check_number(n: &str) -> Result<String> {
    let n = n.trim();
    if n.is_empty() || n.len() > 10 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            "device_number",
            "number",
            "a device number has 1 to 10 digits (e.g. 8055, 101)",
        ));
    }
    Ok(n.to_owned())
}

fn check_ip(ip: &str) -> Result<IpAddr> {
    ip.trim()
        .parse()
        .map_err(|_| Error::invalid("device_ip", "ip", format!("\"{ip}\" is not an IP address")))
}

fn check_text(v: &str, field: &'static str) -> Result<String> {
    let v = v.trim();
    if v.chars().count() > 64 {
        return Err(Error::invalid(
            "text_too_long",
            field,
            format!("{field} has at most 64 characters"),
        ));
    }
    Ok(v.to_owned())
}

fn put(txn: &WriteTransaction, d: &Device) -> Result<()> {
    txn.open_table(DEVICES)
        .map_err(StoreError::from)?
        .insert(d.id, codec::encode(d)?.as_slice())
        .map_err(StoreError::from)?;
    Ok(())
}

/// Applies `input` to `d` (a new device when `d.id` was just assigned), checking every field.
fn apply(app: &App, d: &mut Device, input: &DeviceInput, others: &[Device]) -> Result<()> {
    if let Some(n) = &input.name {
        d.name = check_name(n)?;
    }
    if let Some(k) = input.kind {
        d.kind = k;
    }
    if let Some(ip) = &input.ip {
        d.ip = check_ip(ip)?;
    }
    if let Some(p) = input.port {
        if p == 0 {
            return Err(Error::invalid(
                "device_port",
                "port",
                "the port is between 1 and 65535",
            ));
        }
        d.port = p;
    }
    if let Some(u) = &input.username {
        d.username = check_text(u, "username")?;
    }
    if let Some(pw) = &input.password {
        d.password = if pw.is_empty() {
            None
        } else {
            if pw.chars().count() > 64 {
                return Err(Error::invalid(
                    "text_too_long",
                    "password",
                    "the password has at most 64 characters",
                ));
            }
            Some(app.sealer.seal(&seal_context(d.id), pw.as_bytes())?)
        };
    }
    if let Some(n) = &input.number {
        d.number = check_number(n)?;
    }
    if others
        .iter()
        .any(|o| o.id != d.id && o.name.eq_ignore_ascii_case(&d.name))
    {
        return Err(Error::conflict(
            "device_name_taken",
            format!("a device named \"{}\" already exists", d.name),
        ));
    }
    Ok(())
}

pub fn create(app: &App, actor: &Actor, input: &DeviceInput) -> Result<DeviceView> {
    actor.require_admin()?;
    let name = check_name(input.name.as_deref().unwrap_or(""))?;
    let kind = input
        .kind
        .ok_or_else(|| Error::invalid("device_kind", "kind", "choose the device type"))?;
    let ip = check_ip(input.ip.as_deref().unwrap_or(""))?;
    let number = check_number(input.number.as_deref().unwrap_or(""))?;
    app.store.write(|txn| {
        let t = txn.open_table(DEVICES).map_err(StoreError::from)?;
        let others = all(&t)?;
        if others.len() >= MAX_DEVICES {
            return Err(Error::invalid(
                "device_limit",
                "name",
                format!("at most {MAX_DEVICES} devices"),
            ));
        }
        let id = t
            .last()
            .map_err(StoreError::from)?
            .map(|(k, _)| k.value())
            .unwrap_or(0)
            + 1;
        drop(t);
        let mut d = Device {
            id,
            name,
            kind,
            ip,
            port: 80,
            username: "admin".into(),
            password: None,
            number,
            online: false,
            last_seen: None,
            created: crate::time::now(),
        };
        apply(app, &mut d, input, &others)?;
        put(txn, &d)?;
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "device.create",
            &d.name,
            format!("{:?} {}:{} number {}", d.kind, d.ip, d.port, d.number),
        )?;
        Ok(DeviceView::from(&d))
    })
}

pub fn update(app: &App, actor: &Actor, id: u64, input: &DeviceInput) -> Result<DeviceView> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let t = txn.open_table(DEVICES).map_err(StoreError::from)?;
        let others = all(&t)?;
        drop(t);
        let mut d = others
            .iter()
            .find(|d| d.id == id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("no device {id}")))?;
        apply(app, &mut d, input, &others)?;
        put(txn, &d)?;
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "device.update",
            &d.name,
            "changed",
        )?;
        Ok(DeviceView::from(&d))
    })
}

/// Deletes a device; refused while it has a registration number (delete that first).
pub fn delete(app: &App, actor: &Actor, id: u64) -> Result<()> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let regs = txn.open_table(REGISTRATIONS).map_err(StoreError::from)?;
        if let Some(g) = regs.get(id).map_err(StoreError::from)? {
            let r: super::registrations::Registration = codec::decode(g.value())?;
            return Err(Error::conflict(
                "device_registered",
                format!(
                    "device {id} has registration number {}; delete the registration first",
                    r.number
                ),
            ));
        }
        drop(regs);
        let mut t = txn.open_table(DEVICES).map_err(StoreError::from)?;
        let d: Device = match t.remove(id).map_err(StoreError::from)? {
            Some(g) => codec::decode(g.value())?,
            None => return Err(Error::NotFound(format!("no device {id}"))),
        };
        drop(t);
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "device.delete",
            &d.name,
            "deleted",
        )
    })
}
