//! What the SIP core knows of the building: every device that may register (its registration
//! number, digits-only alias, kind, place and SIP password) and where each dialled number leads.
//! Built from the store in one read by [`Directory::load`] (the only function here that touches
//! the store), then queried without I/O by the sans-IO core; the SIP service rebuilds it when the
//! intercom configuration changes ([`crate::app::App::sip_generation`]). Owns no table.
//!
//! User names: a device authenticates and registers as its registration number, with `#`
//! escaped as `%23` in a SIP URI (`sip:11%2301%2311%235@box`), or as the number's digits-only
//! alias (`crate::intercom::registrations::digits_alias`: each `#`-separated field written as
//! its length then its digits, `11#01#11#5` → `21120121115`), for devices whose keypad or
//! firmware cannot send `#`. Both names reach the same device and the same dialling rules.
//!
//! Dialling (the number in the Request-URI user part, either form):
//! - a **full number** (a registration number, with its extension for a VTH) rings that device;
//! - a **room code** (`building#unit#room`, which is also the number of the room's first VTH)
//!   dialled by a door station rings every VTH of the room at once; a door station of a unit may
//!   also dial just the room number (`11`), resolved within its own unit (or building);
//! - the **management centre** number (`--management-centre-number`) rings what
//!   `intercom::ringing::management_centre` answers for the caller.

use std::collections::HashMap;
use std::sync::Arc;

use crate::app::App;
use crate::error::Result;
use crate::intercom::call_groups::{self, DEFAULT_RING_SECONDS};
use crate::intercom::organization;
use crate::intercom::registrations::{self, digits_alias, RegistrationKind};
use crate::intercom::ringing::{DeviceKind, Ringing};
use crate::store::{StoreError, DEVICES};

/// A device that may register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub device: u64,
    pub name: String,
    /// The registration number, e.g. `11#01#11#5`.
    pub number: String,
    /// Its digits-only alias, e.g. `21120121115`.
    pub alias: String,
    pub kind: DeviceKind,
    pub building: Option<u64>,
    pub unit: Option<u64>,
    pub room: Option<u64>,
    /// The SIP password in clear (the digest needs it).
    pub password: String,
}

/// Where a dialled number leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Ring these devices at once; the first to answer takes the call, the others get CANCEL.
    Together(Vec<u64>),
    /// Ring these devices one after the other, each for `ring_seconds`.
    InTurn {
        devices: Vec<u64>,
        ring_seconds: u32,
    },
    /// No such number (404).
    NotFound,
    /// The rules forbid this call (403 with the reason).
    Refused(&'static str),
}

/// The building as the SIP core sees it. Cheap to share (`Arc`) between the core and the page.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    users: HashMap<u64, Arc<User>>,
    /// Number and alias → device.
    names: HashMap<String, u64>,
    /// Room code and its alias → VTHs of the room (main first).
    room_codes: HashMap<String, Vec<u64>>,
    /// (unit or building key, room number) → VTHs, for short dialling from a door station.
    room_short: HashMap<(Scope, String), Vec<u64>>,
    /// Per calling device: who answers the management centre, and for how long each rings.
    centre: HashMap<u64, Route>,
    /// The management-centre number.
    centre_number: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scope {
    Unit(u64),
    Building(u64),
}

impl Directory {
    /// Reads the registrations, devices, organization and call groups in one go.
    pub fn load(app: &App) -> Result<Directory> {
        let regs = registrations::all(app)?;
        let org = organization::snapshot(app)?;
        let devices: HashMap<u64, crate::intercom::devices::Device> = app.store.read(|txn| {
            let t = txn.open_table(DEVICES).map_err(StoreError::from)?;
            Ok::<_, crate::error::Error>(
                crate::intercom::devices::all(&t)?
                    .into_iter()
                    .map(|d| (d.id, d))
                    .collect(),
            )
        })?;
        let mut users = Vec::new();
        for r in &regs {
            let Some(d) = devices.get(&r.device) else {
                continue;
            };
            // A password that cannot be opened (a damaged record, a seal key from another
            // box) leaves that device unable to register, not the whole building.
            let password = match registrations::sip_password(app, r.device) {
                Ok(Some(p)) => p,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(device = r.device, error = %e, "SIP password unreadable; the device cannot register");
                    continue;
                }
            };
            let (building, unit, room) = match &r.kind {
                RegistrationKind::Vth { room, .. } => match org.rooms.get(room) {
                    Some(rm) => (Some(rm.building), rm.unit, Some(*room)),
                    None => (None, None, Some(*room)),
                },
                RegistrationKind::Vto { unit, building, .. } => (Some(*building), *unit, None),
                _ => (None, None, None),
            };
            users.push(User {
                device: r.device,
                name: d.name.clone(),
                number: r.number.clone(),
                alias: digits_alias(&r.number),
                kind: d.kind,
                building,
                unit,
                room,
                password,
            });
        }
        let mut rooms: Vec<Room> = Vec::new();
        for (id, rm) in &org.rooms {
            rooms.push(Room {
                id: *id,
                code: org.code(rm),
                number: rm.number.clone(),
                scope: match rm.unit {
                    Some(u) => Scope::Unit(u),
                    None => Scope::Building(rm.building),
                },
            });
        }
        let mut centre = HashMap::new();
        // The answer depends only on the caller's kind and building: ask once per pair.
        let mut seen: HashMap<(DeviceKind, Option<u64>), Route> = HashMap::new();
        for u in &users {
            if let Some(r) = seen.get(&(u.kind, u.building)) {
                centre.insert(u.device, r.clone());
                continue;
            }
            let route = match call_groups::who_rings(app, u.device, u.building) {
                Ok(Ringing::InTurn(devices)) => Route::InTurn {
                    devices,
                    ring_seconds: call_groups::ring_seconds(app, u.building)
                        .unwrap_or(DEFAULT_RING_SECONDS),
                },
                Ok(Ringing::Together(devices)) => Route::Together(devices),
                Ok(Ringing::Refused(why)) => Route::Refused(why),
                Err(_) => Route::NotFound,
            };
            seen.insert((u.kind, u.building), route.clone());
            centre.insert(u.device, route);
        }
        Ok(Directory::build(
            users,
            rooms,
            centre,
            app.config.management_centre_number.clone(),
        ))
    }

    /// Builds the indexes (pure; tests call it directly).
    pub fn build(
        users: Vec<User>,
        rooms: Vec<Room>,
        centre: HashMap<u64, Route>,
        centre_number: String,
    ) -> Directory {
        let mut d = Directory {
            centre,
            centre_number,
            ..Default::default()
        };
        // VTHs per room, the main VTH (no extension: its number is the room code) first.
        let mut per_room: HashMap<u64, Vec<&User>> = HashMap::new();
        for u in &users {
            if let (DeviceKind::Vth, Some(room)) = (u.kind, u.room) {
                per_room.entry(room).or_default().push(u);
            }
        }
        for r in &rooms {
            let Some(vths) = per_room.get_mut(&r.id) else {
                continue;
            };
            vths.sort_by(|a, b| (a.number.len(), &a.number).cmp(&(b.number.len(), &b.number)));
            let ids: Vec<u64> = vths.iter().map(|u| u.device).collect();
            d.room_codes.insert(r.code.clone(), ids.clone());
            let alias = digits_alias(&r.code);
            if !alias.is_empty() {
                d.room_codes.insert(alias, ids.clone());
            }
            d.room_short.insert((r.scope, r.number.clone()), ids);
        }
        for u in users {
            d.names.insert(u.number.clone(), u.device);
            if !u.alias.is_empty() {
                d.names.insert(u.alias.clone(), u.device);
            }
            d.users.insert(u.device, Arc::new(u));
        }
        d
    }

    /// The device a user name (number with `#` already unescaped, or alias) belongs to.
    pub fn user_by_name(&self, name: &str) -> Option<&Arc<User>> {
        self.names.get(name).and_then(|id| self.users.get(id))
    }

    pub fn user(&self, device: u64) -> Option<&Arc<User>> {
        self.users.get(&device)
    }

    pub fn users(&self) -> impl Iterator<Item = &Arc<User>> {
        self.users.values()
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    pub fn centre_number(&self) -> &str {
        &self.centre_number
    }

    /// Where `dialled` leads for a call from `caller` (the rules in the module text).
    pub fn route(&self, caller: &User, dialled: &str) -> Route {
        if caller.kind == DeviceKind::Vts && dialled == self.centre_number {
            return Route::Refused("a VTS makes no calls to the management centre");
        }
        if dialled == self.centre_number {
            return self
                .centre
                .get(&caller.device)
                .cloned()
                .unwrap_or(Route::NotFound);
        }
        let is_station = matches!(
            caller.kind,
            DeviceKind::Vto | DeviceKind::VillaStation | DeviceKind::FenceStation
        );
        if is_station {
            if let Some(vths) = self.room_codes.get(dialled) {
                return Route::Together(vths.clone());
            }
            let scope = match (caller.unit, caller.building) {
                (Some(u), _) => Some(Scope::Unit(u)),
                (None, Some(b)) => Some(Scope::Building(b)),
                _ => None,
            };
            if let Some(vths) = scope.and_then(|s| self.room_short.get(&(s, dialled.to_owned()))) {
                return Route::Together(vths.clone());
            }
        }
        match self.names.get(dialled) {
            Some(&id) if id == caller.device => Route::Refused("a device cannot call itself"),
            Some(&id) => Route::Together(vec![id]),
            None => Route::NotFound,
        }
    }
}

/// A room as the directory needs it.
#[derive(Debug, Clone)]
pub struct Room {
    pub id: u64,
    /// `building#unit#room` (or `building#room`).
    pub code: String,
    pub number: String,
    scope: Scope,
}

impl Room {
    /// A room in `unit` (when the compound has units) or directly in `building`.
    pub fn new(id: u64, code: &str, number: &str, unit: Option<u64>, building: u64) -> Room {
        Room {
            id,
            code: code.to_owned(),
            number: number.to_owned(),
            scope: match unit {
                Some(u) => Scope::Unit(u),
                None => Scope::Building(building),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(
        device: u64,
        number: &str,
        kind: DeviceKind,
        unit: Option<u64>,
        room: Option<u64>,
    ) -> User {
        User {
            device,
            name: format!("d{device}"),
            number: number.into(),
            alias: digits_alias(number),
            kind,
            building: Some(1),
            unit,
            room,
            password: "pw".into(),
        }
    }

    fn dir() -> Directory {
        let users = vec![
            user(1, "11#01#8055", DeviceKind::Vto, Some(10), None),
            user(2, "11#01#11", DeviceKind::Vth, Some(10), Some(100)),
            user(3, "11#01#11#2", DeviceKind::Vth, Some(10), Some(100)),
            user(4, "888801", DeviceKind::ManagerClient, None, None),
            user(5, "101", DeviceKind::Vts, None, None),
        ];
        let rooms = vec![Room::new(100, "11#01#11", "11", Some(10), 1)];
        let mut centre = HashMap::new();
        centre.insert(1, Route::Together(vec![4]));
        Directory::build(users, rooms, centre, "888888".into())
    }

    #[test]
    fn a_door_station_rings_the_whole_room_others_one_device() {
        let d = dir();
        let vto = d.user(1).unwrap().clone();
        assert_eq!(d.route(&vto, "11#01#11"), Route::Together(vec![2, 3]));
        assert_eq!(d.route(&vto, "2112012"), Route::NotFound);
        assert_eq!(
            d.route(&vto, &digits_alias("11#01#11")),
            Route::Together(vec![2, 3])
        );
        assert_eq!(d.route(&vto, "11"), Route::Together(vec![2, 3]));
        assert_eq!(d.route(&vto, "11#01#11#2"), Route::Together(vec![3]));
        let mgr = d.user(4).unwrap().clone();
        assert_eq!(d.route(&mgr, "11#01#11"), Route::Together(vec![2]));
        assert_eq!(d.route(&mgr, "11"), Route::NotFound);
        assert_eq!(
            d.route(&mgr, "888801"),
            Route::Refused("a device cannot call itself")
        );
        assert_eq!(d.route(&vto, "888888"), Route::Together(vec![4]));
        let vts = d.user(5).unwrap().clone();
        assert!(matches!(d.route(&vts, "888888"), Route::Refused(_)));
        assert_eq!(d.user_by_name("21120121112").unwrap().device, 3);
    }
}
