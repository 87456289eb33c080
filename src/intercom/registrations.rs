//! Registration numbers (manual 3.2, dial management): the number each VTH, VTO and VTS dials and
//! is dialled by — `11#01#11#5` for an indoor monitor (building, unit, room, extension),
//! `1#01#8055` for a door station (building, unit, device number), the device number for a master
//! station — with the rules the manual sets, one number per device, numbers unique, and the SIP
//! password of each registration (sealed at rest, context `sip:<device>`, shown once). Owns the
//! `REGISTRATIONS` table; knows nothing of HTTP or SIP (the SIP issue reads [`sip_password`] and
//! matches [`digits_alias`]).

use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ringing::DeviceKind;
use crate::app::App;
use crate::error::{Error, Result};
use crate::store::{codec, StoreError, Versioned, REGISTRATIONS};

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
}
