//! The building organization (manual 3.1): one compound (renamable) of buildings, optional units
//! and rooms, shown as the organization code `01#01#302` (building, unit, room; `01#302` without
//! units). Add, rename and delete at every level — a building or unit that still has rooms is not
//! deleted — and batch creation when the compound is empty, in one transaction. Owns the
//! `BUILDINGS`, `UNITS` and `ROOMS` tables and the `compound` setting; knows nothing of HTTP.

use std::collections::BTreeMap;

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::Actor;
use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::store::{self, codec, StoreError, Versioned, BUILDINGS, ROOMS, SETTINGS, UNITS};

pub const MAX_ROOMS: usize = 100_000;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct Compound {
    pub name: String,
    /// Whether rooms sit in units (`01#01#302`) or directly in buildings (`01#302`).
    pub with_units: bool,
}

impl Default for Compound {
    fn default() -> Self {
        Compound {
            name: "Compound".into(),
            with_units: true,
        }
    }
}

impl Versioned for Compound {
    const KIND: &'static str = "compound";
    const VERSION: u8 = 1;
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct Building {
    pub id: u64,
    /// Digits, e.g. `01`.
    pub number: String,
    pub name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct Unit {
    pub id: u64,
    pub building: u64,
    pub number: String,
    pub name: String,
}

/// A room's unlock password: a hash to verify what a visitor types, and the value sealed for
/// sending to devices (which need it in clear). Set by the room-password functions.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RoomPassword {
    pub hash: String,
    pub sealed: Vec<u8>,
    pub set_at: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Room {
    pub id: u64,
    pub building: u64,
    pub unit: Option<u64>,
    /// Digits, e.g. `302`.
    pub number: String,
    pub name: String,
    pub remarks: String,
    pub password: Option<RoomPassword>,
}

macro_rules! versioned {
    ($($t:ty => $k:literal),*) => {$(
        impl Versioned for $t { const KIND: &'static str = $k; const VERSION: u8 = 1; }
    )*};
}
versioned!(Building => "building", Unit => "unit", Room => "room");

/// A room as listed.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct RoomView {
    pub id: u64,
    pub building: u64,
    pub unit: Option<u64>,
    pub number: String,
    pub name: String,
    pub remarks: String,
    /// e.g. `01#01#302`.
    pub code: String,
    pub password_set: bool,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct UnitNode {
    pub id: u64,
    pub number: String,
    pub name: String,
    /// e.g. `01#01`.
    pub code: String,
    pub rooms: usize,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct BuildingNode {
    pub id: u64,
    pub number: String,
    pub name: String,
    pub code: String,
    pub rooms: usize,
    pub units: Vec<UnitNode>,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct Tree {
    pub compound: Compound,
    pub rooms: usize,
    pub buildings: Vec<BuildingNode>,
}

/// Everything of the organization in one snapshot.
pub struct Snapshot {
    pub compound: Compound,
    pub buildings: BTreeMap<u64, Building>,
    pub units: BTreeMap<u64, Unit>,
    pub rooms: BTreeMap<u64, Room>,
}

fn read_all<T: Versioned>(t: &impl ReadableTable<u64, &'static [u8]>) -> Result<BTreeMap<u64, T>> {
    let mut out = BTreeMap::new();
    for row in t.iter().map_err(StoreError::from)? {
        let (k, v) = row.map_err(StoreError::from)?;
        out.insert(k.value(), codec::decode(v.value())?);
    }
    Ok(out)
}

pub fn snapshot(app: &App) -> Result<Snapshot> {
    app.store.read(|txn| {
        Ok(Snapshot {
            compound: store::get(
                &txn.open_table(SETTINGS).map_err(StoreError::from)?,
                "compound",
            )?
            .unwrap_or_default(),
            buildings: read_all(&txn.open_table(BUILDINGS).map_err(StoreError::from)?)?,
            units: read_all(&txn.open_table(UNITS).map_err(StoreError::from)?)?,
            rooms: read_all(&txn.open_table(ROOMS).map_err(StoreError::from)?)?,
        })
    })
}

impl Snapshot {
    /// The organization code of a room.
    pub fn code(&self, r: &Room) -> String {
        let b = self
            .buildings
            .get(&r.building)
            .map(|b| b.number.as_str())
            .unwrap_or("?");
        match r.unit.and_then(|u| self.units.get(&u)) {
            Some(u) => format!("{b}#{}#{}", u.number, r.number),
            None => format!("{b}#{}", r.number),
        }
    }

    pub fn room_view(&self, r: &Room) -> RoomView {
        RoomView {
            id: r.id,
            building: r.building,
            unit: r.unit,
            number: r.number.clone(),
            name: r.name.clone(),
            remarks: r.remarks.clone(),
            code: self.code(r),
            password_set: r.password.is_some(),
        }
    }

    pub fn tree(&self) -> Tree {
        let mut per_unit: BTreeMap<u64, usize> = BTreeMap::new();
        let mut per_building: BTreeMap<u64, usize> = BTreeMap::new();
        for r in self.rooms.values() {
            *per_building.entry(r.building).or_default() += 1;
            if let Some(u) = r.unit {
                *per_unit.entry(u).or_default() += 1;
            }
        }
        let mut buildings: Vec<BuildingNode> = self
            .buildings
            .values()
            .map(|b| {
                let mut units: Vec<UnitNode> = self
                    .units
                    .values()
                    .filter(|u| u.building == b.id)
                    .map(|u| UnitNode {
                        id: u.id,
                        number: u.number.clone(),
                        name: u.name.clone(),
                        code: format!("{}#{}", b.number, u.number),
                        rooms: per_unit.get(&u.id).copied().unwrap_or(0),
                    })
                    .collect();
                units.sort_by(|a, b| num_order(&a.number, &b.number));
                BuildingNode {
                    id: b.id,
                    number: b.number.clone(),
                    name: b.name.clone(),
                    code: b.number.clone(),
                    rooms: per_building.get(&b.id).copied().unwrap_or(0),
                    units,
                }
            })
            .collect();
        buildings.sort_by(|a, b| num_order(&a.number, &b.number));
        Tree {
            compound: self.compound.clone(),
            rooms: self.rooms.len(),
            buildings,
        }
    }
}

/// Orders digit strings by value, then by text.
fn num_order(a: &str, b: &str) -> std::cmp::Ordering {
    let v = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
    v(a).cmp(&v(b)).then_with(|| a.cmp(b))
}

fn check_number(n: &str, field: &'static str, max_digits: usize, what: &str) -> Result<String> {
    let n = n.trim();
    if n.is_empty()
        || n.len() > max_digits
        || !n.bytes().all(|b| b.is_ascii_digit())
        || n.bytes().all(|b| b == b'0')
    {
        return Err(Error::invalid(
            "organization_number",
            field,
            format!("a {what} number has 1 to {max_digits} digits and is not 0"),
        ));
    }
    Ok(n.to_owned())
}

fn check_label(n: &str, field: &'static str) -> Result<String> {
    let n = n.trim();
    if n.chars().count() > 64 {
        return Err(Error::invalid(
            "organization_name",
            field,
            "names have at most 64 characters",
        ));
    }
    Ok(n.to_owned())
}

fn same_number(a: &str, b: &str) -> bool {
    a.trim_start_matches('0') == b.trim_start_matches('0')
}

fn put<T: Versioned>(txn: &WriteTransaction, def: store::SeqTable, id: u64, v: &T) -> Result<()> {
    txn.open_table(def)
        .map_err(StoreError::from)?
        .insert(id, codec::encode(v)?.as_slice())
        .map_err(StoreError::from)?;
    Ok(())
}

fn next_id(txn: &WriteTransaction, def: store::SeqTable) -> Result<u64> {
    let t = txn.open_table(def).map_err(StoreError::from)?;
    let last = t
        .last()
        .map_err(StoreError::from)?
        .map(|(k, _)| k.value())
        .unwrap_or(0);
    Ok(last + 1)
}

fn audit_org(
    app: &App,
    txn: &WriteTransaction,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: impl Into<String>,
) -> Result<()> {
    audit::record(
        txn,
        app.config.audit_retention,
        Some(&actor.username),
        actor.ip,
        action,
        target,
        detail,
    )
}

fn write_snapshot<T>(
    app: &App,
    f: impl FnOnce(&WriteTransaction, Snapshot) -> Result<T>,
) -> Result<T> {
    app.store.write(|txn| {
        let snap = Snapshot {
            compound: store::get(
                &txn.open_table(SETTINGS).map_err(StoreError::from)?,
                "compound",
            )?
            .unwrap_or_default(),
            buildings: read_all(&txn.open_table(BUILDINGS).map_err(StoreError::from)?)?,
            units: read_all(&txn.open_table(UNITS).map_err(StoreError::from)?)?,
            rooms: read_all(&txn.open_table(ROOMS).map_err(StoreError::from)?)?,
        };
        f(txn, snap)
    })
}

#[derive(Deserialize, Serialize, ToSchema, Default)]
#[serde(default)]
pub struct CompoundPatch {
    pub name: Option<String>,
    /// Only while no building exists.
    pub with_units: Option<bool>,
}

pub fn set_compound(app: &App, actor: &Actor, patch: &CompoundPatch) -> Result<Compound> {
    // Intercom configuration is the installer's (administrator's) work.
    actor.require_admin()?;
    write_snapshot(app, |txn, snap| {
        let mut c = snap.compound.clone();
        if let Some(n) = &patch.name {
            let n = n.trim();
            if n.is_empty() || n.chars().count() > 64 {
                return Err(Error::invalid(
                    "organization_name",
                    "name",
                    "the compound name has 1 to 64 characters",
                ));
            }
            c.name = n.to_owned();
        }
        if let Some(w) = patch.with_units {
            if w != c.with_units && !snap.buildings.is_empty() {
                return Err(Error::invalid(
                    "organization_levels",
                    "with_units",
                    "the unit level can only change while the compound is empty",
                ));
            }
            c.with_units = w;
        }
        store::put(
            &mut txn.open_table(SETTINGS).map_err(StoreError::from)?,
            "compound",
            &c,
        )?;
        audit_org(
            app,
            txn,
            actor,
            "organization.compound",
            &c.name,
            format!("units: {}", c.with_units),
        )?;
        Ok(c)
    })
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct NewBuilding {
    pub number: String,
    #[serde(default)]
    pub name: String,
}

pub fn add_building(app: &App, actor: &Actor, req: &NewBuilding) -> Result<Building> {
    // Intercom configuration is the installer's (administrator's) work.
    actor.require_admin()?;
    let number = check_number(&req.number, "number", 3, "building")?;
    let name = check_label(&req.name, "name")?;
    write_snapshot(app, |txn, snap| {
        if snap
            .buildings
            .values()
            .any(|b| same_number(&b.number, &number))
        {
            return Err(Error::conflict(
                "organization_number_taken",
                format!("building {number} already exists"),
            ));
        }
        let b = Building {
            id: next_id(txn, BUILDINGS)?,
            name: if name.is_empty() {
                format!("Building {number}")
            } else {
                name
            },
            number,
        };
        put(txn, BUILDINGS, b.id, &b)?;
        audit_org(
            app,
            txn,
            actor,
            "organization.building.add",
            &b.number,
            b.name.clone(),
        )?;
        Ok(b)
    })
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct NewUnit {
    pub building: u64,
    pub number: String,
    #[serde(default)]
    pub name: String,
}

pub fn add_unit(app: &App, actor: &Actor, req: &NewUnit) -> Result<Unit> {
    // Intercom configuration is the installer's (administrator's) work.
    actor.require_admin()?;
    let number = check_number(&req.number, "number", 2, "unit")?;
    let name = check_label(&req.name, "name")?;
    write_snapshot(app, |txn, snap| {
        if !snap.compound.with_units {
            return Err(Error::invalid(
                "organization_levels",
                "building",
                "this compound has no unit level",
            ));
        }
        let b = snap
            .buildings
            .get(&req.building)
            .ok_or_else(|| Error::NotFound(format!("no building {}", req.building)))?;
        if snap
            .units
            .values()
            .any(|u| u.building == b.id && same_number(&u.number, &number))
        {
            return Err(Error::conflict(
                "organization_number_taken",
                format!("building {} already has unit {number}", b.number),
            ));
        }
        let u = Unit {
            id: next_id(txn, UNITS)?,
            building: b.id,
            name: if name.is_empty() {
                format!("Unit {number}")
            } else {
                name
            },
            number,
        };
        put(txn, UNITS, u.id, &u)?;
        audit_org(
            app,
            txn,
            actor,
            "organization.unit.add",
            &format!("{}#{}", b.number, u.number),
            u.name.clone(),
        )?;
        Ok(u)
    })
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct NewRoom {
    /// The unit (when the compound has units)…
    pub unit: Option<u64>,
    /// …or the building (when it has none).
    pub building: Option<u64>,
    pub number: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub remarks: String,
}

pub fn add_room(app: &App, actor: &Actor, req: &NewRoom) -> Result<RoomView> {
    // Intercom configuration is the installer's (administrator's) work.
    actor.require_admin()?;
    let number = check_number(&req.number, "number", 6, "room")?;
    let name = check_label(&req.name, "name")?;
    let remarks = check_label(&req.remarks, "remarks")?;
    write_snapshot(app, |txn, snap| {
        let (building, unit) = if snap.compound.with_units {
            let u = req.unit.and_then(|u| snap.units.get(&u)).ok_or_else(|| {
                Error::invalid(
                    "organization_room_parent",
                    "unit",
                    "choose the unit of the room",
                )
            })?;
            (u.building, Some(u.id))
        } else {
            let b = req
                .building
                .and_then(|b| snap.buildings.get(&b))
                .ok_or_else(|| {
                    Error::invalid(
                        "organization_room_parent",
                        "building",
                        "choose the building of the room",
                    )
                })?;
            (b.id, None)
        };
        if snap
            .rooms
            .values()
            .any(|r| r.building == building && r.unit == unit && same_number(&r.number, &number))
        {
            return Err(Error::conflict(
                "organization_number_taken",
                format!("room {number} already exists there"),
            ));
        }
        if snap.rooms.len() >= MAX_ROOMS {
            return Err(Error::invalid(
                "organization_limit",
                "number",
                format!("at most {MAX_ROOMS} rooms"),
            ));
        }
        let r = Room {
            id: next_id(txn, ROOMS)?,
            building,
            unit,
            number,
            name,
            remarks,
            password: None,
        };
        put(txn, ROOMS, r.id, &r)?;
        let view = snap.room_view(&r);
        audit_org(
            app,
            txn,
            actor,
            "organization.room.add",
            &view.code,
            r.name.clone(),
        )?;
        Ok(view)
    })
}

#[derive(Deserialize, Serialize, ToSchema, Default)]
#[serde(default)]
pub struct NodePatch {
    pub number: Option<String>,
    pub name: Option<String>,
    /// Rooms only.
    pub remarks: Option<String>,
}

/// Which level a change or deletion is about.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Building,
    Unit,
    Room,
}

pub fn rename(app: &App, actor: &Actor, level: Level, id: u64, patch: &NodePatch) -> Result<()> {
    // Intercom configuration is the installer's (administrator's) work.
    actor.require_admin()?;
    let name = patch
        .name
        .as_deref()
        .map(|n| check_label(n, "name"))
        .transpose()?;
    write_snapshot(app, |txn, snap| match level {
        Level::Building => {
            let mut b = snap
                .buildings
                .get(&id)
                .cloned()
                .ok_or_else(|| Error::NotFound(format!("no building {id}")))?;
            if let Some(n) = &patch.number {
                let n = check_number(n, "number", 3, "building")?;
                if snap
                    .buildings
                    .values()
                    .any(|o| o.id != id && same_number(&o.number, &n))
                {
                    return Err(Error::conflict(
                        "organization_number_taken",
                        format!("building {n} already exists"),
                    ));
                }
                b.number = n;
            }
            if let Some(n) = name.clone() {
                b.name = n;
            }
            put(txn, BUILDINGS, id, &b)?;
            audit_org(
                app,
                txn,
                actor,
                "organization.building.update",
                &b.number,
                b.name.clone(),
            )
        }
        Level::Unit => {
            let mut u = snap
                .units
                .get(&id)
                .cloned()
                .ok_or_else(|| Error::NotFound(format!("no unit {id}")))?;
            if let Some(n) = &patch.number {
                let n = check_number(n, "number", 2, "unit")?;
                if snap
                    .units
                    .values()
                    .any(|o| o.id != id && o.building == u.building && same_number(&o.number, &n))
                {
                    return Err(Error::conflict(
                        "organization_number_taken",
                        format!("unit {n} already exists in this building"),
                    ));
                }
                u.number = n;
            }
            if let Some(n) = name.clone() {
                u.name = n;
            }
            put(txn, UNITS, id, &u)?;
            audit_org(
                app,
                txn,
                actor,
                "organization.unit.update",
                &u.number,
                u.name.clone(),
            )
        }
        Level::Room => {
            let mut r = snap
                .rooms
                .get(&id)
                .cloned()
                .ok_or_else(|| Error::NotFound(format!("no room {id}")))?;
            if let Some(n) = &patch.number {
                let n = check_number(n, "number", 6, "room")?;
                if snap.rooms.values().any(|o| {
                    o.id != id
                        && o.building == r.building
                        && o.unit == r.unit
                        && same_number(&o.number, &n)
                }) {
                    return Err(Error::conflict(
                        "organization_number_taken",
                        format!("room {n} already exists there"),
                    ));
                }
                r.number = n;
            }
            if let Some(n) = name.clone() {
                r.name = n;
            }
            if let Some(rm) = &patch.remarks {
                r.remarks = check_label(rm, "remarks")?;
            }
            put(txn, ROOMS, id, &r)?;
            audit_org(
                app,
                txn,
                actor,
                "organization.room.update",
                &snap.code(&r),
                r.name.clone(),
            )
        }
    })
}

pub fn delete(app: &App, actor: &Actor, level: Level, id: u64) -> Result<()> {
    // Intercom configuration is the installer's (administrator's) work.
    actor.require_admin()?;
    write_snapshot(app, |txn, snap| match level {
        Level::Building => {
            let b = snap
                .buildings
                .get(&id)
                .ok_or_else(|| Error::NotFound(format!("no building {id}")))?;
            let rooms = snap.rooms.values().filter(|r| r.building == id).count();
            if rooms > 0 {
                return Err(Error::conflict(
                    "organization_not_empty",
                    format!(
                        "building {} still has {rooms} room(s); delete them first",
                        b.number
                    ),
                ));
            }
            let mut units = txn.open_table(UNITS).map_err(StoreError::from)?;
            for u in snap.units.values().filter(|u| u.building == id) {
                units.remove(u.id).map_err(StoreError::from)?;
            }
            drop(units);
            txn.open_table(BUILDINGS)
                .map_err(StoreError::from)?
                .remove(id)
                .map_err(StoreError::from)?;
            audit_org(
                app,
                txn,
                actor,
                "organization.building.delete",
                &b.number,
                b.name.clone(),
            )
        }
        Level::Unit => {
            let u = snap
                .units
                .get(&id)
                .ok_or_else(|| Error::NotFound(format!("no unit {id}")))?;
            let rooms = snap.rooms.values().filter(|r| r.unit == Some(id)).count();
            if rooms > 0 {
                return Err(Error::conflict(
                    "organization_not_empty",
                    format!(
                        "unit {} still has {rooms} room(s); delete them first",
                        u.number
                    ),
                ));
            }
            txn.open_table(UNITS)
                .map_err(StoreError::from)?
                .remove(id)
                .map_err(StoreError::from)?;
            audit_org(
                app,
                txn,
                actor,
                "organization.unit.delete",
                &u.number,
                u.name.clone(),
            )
        }
        Level::Room => {
            let r = snap
                .rooms
                .get(&id)
                .ok_or_else(|| Error::NotFound(format!("no room {id}")))?;
            let code = snap.code(r);
            txn.open_table(ROOMS)
                .map_err(StoreError::from)?
                .remove(id)
                .map_err(StoreError::from)?;
            audit_org(
                app,
                txn,
                actor,
                "organization.room.delete",
                &code,
                r.name.clone(),
            )
        }
    })
}

#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
pub struct BatchOrganization {
    pub buildings: u32,
    /// Units per building; 0 for a compound without the unit level.
    pub units_per_building: u32,
    pub floors: u32,
    pub rooms_per_floor: u32,
}

#[derive(Serialize, ToSchema)]
pub struct BatchCreated {
    pub buildings: usize,
    pub units: usize,
    pub rooms: usize,
}

/// Creates the whole organization in one transaction; only while none exists. Buildings and units
/// are numbered `01`, `02`…; rooms `<floor><room:02>` (floor 3, room 2 → `302`).
pub fn batch_create(app: &App, actor: &Actor, req: &BatchOrganization) -> Result<BatchCreated> {
    // Intercom configuration is the installer's (administrator's) work.
    actor.require_admin()?;
    let range = |v: u32, field: &'static str, max: u32| {
        if v == 0 || v > max {
            Err(Error::invalid(
                "organization_batch",
                field,
                format!("{field} must be between 1 and {max}"),
            ))
        } else {
            Ok(())
        }
    };
    range(req.buildings, "buildings", 999)?;
    if req.units_per_building > 99 {
        return Err(Error::invalid(
            "organization_batch",
            "units_per_building",
            "units_per_building must be between 0 and 99",
        ));
    }
    range(req.floors, "floors", 999)?;
    range(req.rooms_per_floor, "rooms_per_floor", 99)?;
    let total = req.buildings as u64
        * req.units_per_building.max(1) as u64
        * req.floors as u64
        * req.rooms_per_floor as u64;
    if total > MAX_ROOMS as u64 {
        return Err(Error::invalid(
            "organization_limit",
            "buildings",
            format!("{total} rooms is more than the {MAX_ROOMS} a compound may hold"),
        ));
    }
    let with_units = req.units_per_building > 0;
    app.store.write(|txn| {
        let b_t = txn.open_table(BUILDINGS).map_err(StoreError::from)?;
        if b_t.len().map_err(StoreError::from)? > 0 {
            return Err(Error::conflict(
                "organization_exists",
                "batch add works only while no organization exists; add buildings, units and rooms one by one instead",
            ));
        }
        drop(b_t);
        let mut settings = txn.open_table(SETTINGS).map_err(StoreError::from)?;
        let mut c: Compound = store::get(&settings, "compound")?.unwrap_or_default();
        c.with_units = with_units;
        store::put(&mut settings, "compound", &c)?;
        drop(settings);
        let mut bt = txn.open_table(BUILDINGS).map_err(StoreError::from)?;
        let mut ut = txn.open_table(UNITS).map_err(StoreError::from)?;
        let mut rt = txn.open_table(ROOMS).map_err(StoreError::from)?;
        let (mut bid, mut uid, mut rid) = (0u64, 0u64, 0u64);
        for b in 1..=req.buildings {
            bid += 1;
            let number = format!("{b:02}");
            let building = Building { id: bid, name: format!("Building {number}"), number };
            bt.insert(bid, codec::encode(&building)?.as_slice()).map_err(StoreError::from)?;
            let units: Vec<Option<u64>> = if with_units {
                (1..=req.units_per_building)
                    .map(|u| {
                        uid += 1;
                        let number = format!("{u:02}");
                        let unit = Unit { id: uid, building: bid, name: format!("Unit {number}"), number };
                        ut.insert(uid, codec::encode(&unit)?.as_slice()).map_err(StoreError::from)?;
                        Ok(Some(uid))
                    })
                    .collect::<Result<_>>()?
            } else {
                vec![None]
            };
            for unit in units {
                for f in 1..=req.floors {
                    for r in 1..=req.rooms_per_floor {
                        rid += 1;
                        let room = Room {
                            id: rid,
                            building: bid,
                            unit,
                            number: format!("{f}{r:02}"),
                            name: String::new(),
                            remarks: String::new(),
                            password: None,
                        };
                        rt.insert(rid, codec::encode(&room)?.as_slice()).map_err(StoreError::from)?;
                    }
                }
            }
        }
        drop((bt, ut, rt));
        audit_org(
            app,
            txn,
            actor,
            "organization.batch",
            &c.name,
            format!("{bid} buildings, {uid} units, {rid} rooms"),
        )?;
        Ok(BatchCreated { buildings: bid as usize, units: uid as usize, rooms: rid as usize })
    })
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct RoomQuery {
    pub building: Option<u64>,
    pub unit: Option<u64>,
    /// Text in the room number, name or code.
    pub q: Option<String>,
    pub page: Option<usize>,
    pub per_page: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct RoomPage {
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    pub items: Vec<RoomView>,
}

pub fn rooms(app: &App, q: &RoomQuery) -> Result<RoomPage> {
    let snap = snapshot(app)?;
    let text =
        q.q.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase);
    let mut all: Vec<RoomView> = snap
        .rooms
        .values()
        .filter(|r| {
            q.building.is_none_or(|b| r.building == b) && q.unit.is_none_or(|u| r.unit == Some(u))
        })
        .map(|r| snap.room_view(r))
        .filter(|v| {
            text.as_ref().is_none_or(|t| {
                v.code.to_lowercase().contains(t) || v.name.to_lowercase().contains(t)
            })
        })
        .collect();
    all.sort_by(|a, b| {
        a.building
            .cmp(&b.building)
            .then(a.unit.cmp(&b.unit))
            .then_with(|| num_order(&a.number, &b.number))
    });
    let per_page = q.per_page.unwrap_or(50).clamp(1, 500);
    let page = q.page.unwrap_or(1).max(1);
    let total = all.len();
    let items = all
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    Ok(RoomPage {
        total,
        page,
        per_page,
        items,
    })
}
