//! Call groups (manual 3.4): a named group serves one or more buildings (a building belongs to at
//! most one group) and rings its members — manager clients and VTS from the device registry — one
//! after the other in the order kept here (move up, move down, delete), each for the group's ring
//! time. Owns the `CALL_GROUPS` table and `who_rings`, which loads the groups and the platform's
//! manager clients and applies the pure `ringing::management_centre`. Knows nothing of HTTP or SIP.

use std::collections::BTreeMap;

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::devices::{self, Device};
use super::ringing::{self, DeviceKind, Ringing};
use crate::accounts::Actor;
use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::store::{codec, StoreError, Versioned, BUILDINGS, CALL_GROUPS, DEVICES};

pub const MAX_GROUPS: usize = 200;
pub const MAX_MEMBERS: usize = 100;
/// How long each member rings before the next one is tried, unless the group says otherwise.
pub const DEFAULT_RING_SECONDS: u32 = 30;
pub const MIN_RING_SECONDS: u32 = 5;
pub const MAX_RING_SECONDS: u32 = 300;

/// A call group as stored (version 1).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CallGroup {
    pub id: u64,
    pub name: String,
    pub buildings: Vec<u64>,
    /// Device ids, first rings first.
    pub members: Vec<u64>,
    pub ring_seconds: u32,
    pub created: u64,
}

impl Versioned for CallGroup {
    const KIND: &'static str = "call group";
    const VERSION: u8 = 1;
}

/// A member as shown: the device's name, kind and number, or `null`s if the device was deleted.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct MemberView {
    pub device: u64,
    pub name: Option<String>,
    pub kind: Option<DeviceKind>,
    pub number: Option<String>,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct GroupView {
    pub id: u64,
    pub name: String,
    pub buildings: Vec<u64>,
    /// In ringing order.
    pub members: Vec<MemberView>,
    pub ring_seconds: u32,
}

/// A new group; `members` (device ids, in ringing order) may be given now or added later.
#[derive(Deserialize, Serialize, Clone, Debug, Default, ToSchema)]
#[serde(default)]
pub struct NewGroup {
    pub name: String,
    pub buildings: Vec<u64>,
    pub members: Vec<u64>,
    /// Seconds each member rings (5–300, default 30).
    pub ring_seconds: Option<u32>,
}

/// Changes to a group; absent fields stay.
#[derive(Deserialize, Serialize, Clone, Debug, Default, ToSchema)]
#[serde(default)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub buildings: Option<Vec<u64>>,
    pub ring_seconds: Option<u32>,
}

/// A member to add (at the end of the ringing order).
#[derive(Deserialize, Serialize, Clone, Debug, ToSchema)]
pub struct NewMember {
    pub device: u64,
}

/// Which way a member moves in the ringing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Up,
    Down,
}

fn read_groups(t: &impl ReadableTable<u64, &'static [u8]>) -> Result<Vec<CallGroup>> {
    let mut out = Vec::new();
    for row in t.iter().map_err(StoreError::from)? {
        let (_, v) = row.map_err(StoreError::from)?;
        out.push(codec::decode(v.value())?);
    }
    Ok(out)
}

fn device_map(list: Vec<Device>) -> BTreeMap<u64, Device> {
    list.into_iter().map(|d| (d.id, d)).collect()
}

fn view(g: &CallGroup, devs: &BTreeMap<u64, Device>) -> GroupView {
    GroupView {
        id: g.id,
        name: g.name.clone(),
        buildings: g.buildings.clone(),
        members: g
            .members
            .iter()
            .map(|&id| {
                let d = devs.get(&id);
                MemberView {
                    device: id,
                    name: d.map(|d| d.name.clone()),
                    kind: d.map(|d| d.kind),
                    number: d.map(|d| d.number.clone()),
                }
            })
            .collect(),
        ring_seconds: g.ring_seconds,
    }
}

pub fn list(app: &App) -> Result<Vec<GroupView>> {
    app.store.read(|txn| {
        let groups = read_groups(&txn.open_table(CALL_GROUPS).map_err(StoreError::from)?)?;
        let devs = device_map(devices::all(
            &txn.open_table(DEVICES).map_err(StoreError::from)?,
        )?);
        Ok(groups.iter().map(|g| view(g, &devs)).collect())
    })
}

pub fn get(app: &App, id: u64) -> Result<GroupView> {
    list(app)?
        .into_iter()
        .find(|g| g.id == id)
        .ok_or_else(|| not_found(id))
}

fn not_found(id: u64) -> Error {
    Error::NotFound(format!("no call group {id}"))
}

fn check_name(n: &str, others: &[CallGroup], id: u64) -> Result<String> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 64 {
        return Err(Error::invalid(
            "group_name",
            "name",
            "a group name has 1 to 64 characters",
        ));
    }
    if others
        .iter()
        .any(|g| g.id != id && g.name.eq_ignore_ascii_case(n))
    {
        return Err(Error::conflict(
            "group_name_taken",
            format!("a call group named \"{n}\" already exists"),
        ));
    }
    Ok(n.to_owned())
}

fn check_ring(s: u32) -> Result<u32> {
    if !(MIN_RING_SECONDS..=MAX_RING_SECONDS).contains(&s) {
        return Err(Error::invalid(
            "ring_seconds",
            "ring_seconds",
            format!("the ring time is {MIN_RING_SECONDS} to {MAX_RING_SECONDS} seconds"),
        ));
    }
    Ok(s)
}

/// One or more existing buildings, none twice, none in another group.
fn check_buildings(
    txn: &WriteTransaction,
    list: &[u64],
    others: &[CallGroup],
    id: u64,
) -> Result<Vec<u64>> {
    if list.is_empty() {
        return Err(Error::invalid(
            "group_buildings",
            "buildings",
            "choose at least one building",
        ));
    }
    let t = txn.open_table(BUILDINGS).map_err(StoreError::from)?;
    let mut out: Vec<u64> = Vec::new();
    for &b in list {
        if out.contains(&b) {
            continue;
        }
        if t.get(b).map_err(StoreError::from)?.is_none() {
            return Err(Error::invalid(
                "group_buildings",
                "buildings",
                format!("there is no building {b}"),
            ));
        }
        if let Some(g) = others
            .iter()
            .find(|g| g.id != id && g.buildings.contains(&b))
        {
            return Err(Error::conflict(
                "building_in_group",
                format!(
                    "building {b} already belongs to call group \"{}\"; a building belongs to at most one group",
                    g.name
                ),
            ));
        }
        out.push(b);
    }
    Ok(out)
}

/// A member must be a manager client or a VTS from the registry.
fn check_member(txn: &WriteTransaction, device: u64) -> Result<Device> {
    let t = txn.open_table(DEVICES).map_err(StoreError::from)?;
    let d: Device = match t.get(device).map_err(StoreError::from)? {
        Some(g) => codec::decode(g.value())?,
        None => {
            return Err(Error::invalid(
                "group_member",
                "device",
                format!("there is no device {device}"),
            ))
        }
    };
    if !matches!(d.kind, DeviceKind::ManagerClient | DeviceKind::Vts) {
        return Err(Error::invalid(
            "group_member_kind",
            "device",
            format!(
                "\"{}\" is not a manager client or a VTS; only those answer calls for a group",
                d.name
            ),
        ));
    }
    Ok(d)
}

fn add_checked(txn: &WriteTransaction, g: &mut CallGroup, device: u64) -> Result<Device> {
    let d = check_member(txn, device)?;
    if g.members.contains(&device) {
        return Err(Error::conflict(
            "group_member_exists",
            format!("\"{}\" is already in this group", d.name),
        ));
    }
    if g.members.len() >= MAX_MEMBERS {
        return Err(Error::invalid(
            "group_member_limit",
            "device",
            format!("a call group has at most {MAX_MEMBERS} members"),
        ));
    }
    g.members.push(device);
    Ok(d)
}

fn put(txn: &WriteTransaction, g: &CallGroup) -> Result<()> {
    txn.open_table(CALL_GROUPS)
        .map_err(StoreError::from)?
        .insert(g.id, codec::encode(g)?.as_slice())
        .map_err(StoreError::from)?;
    Ok(())
}

fn all_in(txn: &WriteTransaction) -> Result<Vec<CallGroup>> {
    read_groups(&txn.open_table(CALL_GROUPS).map_err(StoreError::from)?)
}

fn view_in(txn: &WriteTransaction, g: &CallGroup) -> Result<GroupView> {
    let devs = device_map(devices::all(
        &txn.open_table(DEVICES).map_err(StoreError::from)?,
    )?);
    Ok(view(g, &devs))
}

fn record(
    app: &App,
    txn: &WriteTransaction,
    actor: &Actor,
    action: &str,
    g: &CallGroup,
    detail: String,
) -> Result<()> {
    audit::record(
        txn,
        app.config.audit_retention,
        Some(&actor.username),
        actor.ip,
        action,
        &g.name,
        detail,
    )
}

pub fn create(app: &App, actor: &Actor, req: &NewGroup) -> Result<GroupView> {
    actor.require_admin()?;
    let ring_seconds = check_ring(req.ring_seconds.unwrap_or(DEFAULT_RING_SECONDS))?;
    app.store.write(|txn| {
        let others = all_in(txn)?;
        if others.len() >= MAX_GROUPS {
            return Err(Error::invalid(
                "group_limit",
                "name",
                format!("at most {MAX_GROUPS} call groups"),
            ));
        }
        let id = others.iter().map(|g| g.id).max().unwrap_or(0) + 1;
        let mut g = CallGroup {
            id,
            name: check_name(&req.name, &others, id)?,
            buildings: check_buildings(txn, &req.buildings, &others, id)?,
            members: Vec::new(),
            ring_seconds,
            created: crate::time::now(),
        };
        for &m in &req.members {
            add_checked(txn, &mut g, m)?;
        }
        put(txn, &g)?;
        record(
            app,
            txn,
            actor,
            "call_group.create",
            &g,
            format!(
                "buildings {:?}, members {:?}, ring {} s",
                g.buildings, g.members, g.ring_seconds
            ),
        )?;
        view_in(txn, &g)
    })
}

/// Loads group `id` in `txn`, with all groups (for the uniqueness checks).
fn load_in(txn: &WriteTransaction, id: u64) -> Result<(CallGroup, Vec<CallGroup>)> {
    let all = all_in(txn)?;
    let g = all
        .iter()
        .find(|g| g.id == id)
        .cloned()
        .ok_or_else(|| not_found(id))?;
    Ok((g, all))
}

pub fn update(app: &App, actor: &Actor, id: u64, p: &GroupPatch) -> Result<GroupView> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let (mut g, others) = load_in(txn, id)?;
        if let Some(n) = &p.name {
            g.name = check_name(n, &others, id)?;
        }
        if let Some(b) = &p.buildings {
            g.buildings = check_buildings(txn, b, &others, id)?;
        }
        if let Some(s) = p.ring_seconds {
            g.ring_seconds = check_ring(s)?;
        }
        put(txn, &g)?;
        record(
            app,
            txn,
            actor,
            "call_group.update",
            &g,
            format!("buildings {:?}, ring {} s", g.buildings, g.ring_seconds),
        )?;
        view_in(txn, &g)
    })
}

pub fn delete(app: &App, actor: &Actor, id: u64) -> Result<()> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let (g, _) = load_in(txn, id)?;
        txn.open_table(CALL_GROUPS)
            .map_err(StoreError::from)?
            .remove(id)
            .map_err(StoreError::from)?;
        record(app, txn, actor, "call_group.delete", &g, "deleted".into())
    })
}

/// Adds a member at the end of the ringing order.
pub fn add_member(app: &App, actor: &Actor, id: u64, device: u64) -> Result<GroupView> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let (mut g, _) = load_in(txn, id)?;
        let d = add_checked(txn, &mut g, device)?;
        put(txn, &g)?;
        record(
            app,
            txn,
            actor,
            "call_group.member_add",
            &g,
            format!("added \"{}\" ({device})", d.name),
        )?;
        view_in(txn, &g)
    })
}

fn member_index(g: &CallGroup, device: u64) -> Result<usize> {
    g.members
        .iter()
        .position(|&m| m == device)
        .ok_or_else(|| Error::NotFound(format!("device {device} is not in call group {}", g.id)))
}

pub fn remove_member(app: &App, actor: &Actor, id: u64, device: u64) -> Result<GroupView> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let (mut g, _) = load_in(txn, id)?;
        let i = member_index(&g, device)?;
        g.members.remove(i);
        put(txn, &g)?;
        record(
            app,
            txn,
            actor,
            "call_group.member_remove",
            &g,
            format!("removed device {device}"),
        )?;
        view_in(txn, &g)
    })
}

/// Moves a member one place earlier (rings sooner) or later; at either end it stays put.
pub fn move_member(app: &App, actor: &Actor, id: u64, device: u64, dir: Move) -> Result<GroupView> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let (mut g, _) = load_in(txn, id)?;
        let i = member_index(&g, device)?;
        let j = match dir {
            Move::Up => i.checked_sub(1),
            Move::Down => Some(i + 1).filter(|&j| j < g.members.len()),
        };
        if let Some(j) = j {
            g.members.swap(i, j);
            put(txn, &g)?;
            record(
                app,
                txn,
                actor,
                "call_group.member_move",
                &g,
                format!("device {device} moved {dir:?} to place {}", j + 1),
            )?;
        }
        view_in(txn, &g)
    })
}

/// Groups and the platform's manager clients as `management_centre` wants them. Members that are
/// no longer manager clients or VTS (deleted or retyped devices) are left out.
fn inputs(app: &App) -> Result<(Vec<CallGroup>, BTreeMap<u64, Device>)> {
    app.store.read(|txn| {
        let groups = read_groups(&txn.open_table(CALL_GROUPS).map_err(StoreError::from)?)?;
        let devs = device_map(devices::all(
            &txn.open_table(DEVICES).map_err(StoreError::from)?,
        )?);
        Ok((groups, devs))
    })
}

/// Who rings, in which order, for a call from `caller_device` (in `caller_building`, if known) to
/// the management centre (manual 3.4 and its defaults).
pub fn who_rings(
    app: &App,
    caller_device: u64,
    caller_building: Option<u64>,
) -> Result<Ringing<u64>> {
    let (groups, devs) = inputs(app)?;
    let caller = devs
        .get(&caller_device)
        .ok_or_else(|| Error::NotFound(format!("no device {caller_device}")))?;
    let answers = |id: &u64| {
        devs.get(id)
            .is_some_and(|d| matches!(d.kind, DeviceKind::ManagerClient | DeviceKind::Vts))
    };
    let groups: Vec<ringing::Group<u64>> = groups
        .iter()
        .map(|g| ringing::Group {
            buildings: g.buildings.clone(),
            members: g.members.iter().copied().filter(|m| answers(m)).collect(),
        })
        .collect();
    let platform: Vec<u64> = devs
        .values()
        .filter(|d| d.kind == DeviceKind::ManagerClient)
        .map(|d| d.id)
        .collect();
    Ok(ringing::management_centre(
        caller.kind,
        caller_building,
        &groups,
        &platform,
    ))
}

/// How long each member rings for a call from `building`: its group's ring time, or the default.
pub fn ring_seconds(app: &App, building: Option<u64>) -> Result<u32> {
    let (groups, _) = inputs(app)?;
    Ok(building
        .and_then(|b| groups.iter().find(|g| g.buildings.contains(&b)))
        .map(|g| g.ring_seconds)
        .unwrap_or(DEFAULT_RING_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Role;
    use crate::intercom::devices::DeviceInput;
    use crate::intercom::organization::{self, NewBuilding};

    fn app() -> (tempfile::TempDir, App) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            data_dir: dir.path().to_owned(),
            ..Default::default()
        };
        (dir, App::open(config).unwrap())
    }

    fn actor(role: Role) -> Actor {
        Actor {
            username: "admin".into(),
            role,
            ip: [127, 0, 0, 1].into(),
            session_id: "s".into(),
        }
    }

    fn admin() -> Actor {
        actor(Role::Admin)
    }

    fn building(app: &App, n: &str) -> u64 {
        organization::add_building(
            app,
            &admin(),
            &NewBuilding {
                number: n.into(),
                name: String::new(),
            },
        )
        .unwrap()
        .id
    }

    fn device(app: &App, name: &str, kind: DeviceKind, number: &str) -> u64 {
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

    struct Site {
        b1: u64,
        b2: u64,
        b3: u64,
        vto: u64,
        vth: u64,
        fence: u64,
        vts: u64,
        alice: u64,
        bob: u64,
        group: u64,
    }

    /// Buildings 1 and 2 in one group (VTS, then Bob), building 3 without a group; Alice and Bob
    /// are the platform's manager clients.
    fn site(app: &App) -> Site {
        let (b1, b2, b3) = (building(app, "1"), building(app, "2"), building(app, "3"));
        let vto = device(app, "VTO", DeviceKind::Vto, "8001");
        let vth = device(app, "VTH", DeviceKind::Vth, "9901");
        let fence = device(app, "Fence", DeviceKind::FenceStation, "8002");
        let vts = device(app, "VTS", DeviceKind::Vts, "101");
        let alice = device(app, "Alice", DeviceKind::ManagerClient, "888801");
        let bob = device(app, "Bob", DeviceKind::ManagerClient, "888802");
        let group = create(
            app,
            &admin(),
            &NewGroup {
                name: "North".into(),
                buildings: vec![b1, b2],
                members: vec![vts, bob],
                ring_seconds: None,
            },
        )
        .unwrap()
        .id;
        Site {
            b1,
            b2,
            b3,
            vto,
            vth,
            fence,
            vts,
            alice,
            bob,
            group,
        }
    }

    #[test]
    fn a_grouped_building_rings_the_group_in_order() {
        let (_d, app) = app();
        let s = site(&app);
        assert_eq!(
            who_rings(&app, s.vto, Some(s.b1)).unwrap(),
            Ringing::InTurn(vec![s.vts, s.bob])
        );
        assert_eq!(
            who_rings(&app, s.vth, Some(s.b2)).unwrap(),
            Ringing::InTurn(vec![s.vts, s.bob])
        );
        move_member(&app, &admin(), s.group, s.bob, Move::Up).unwrap();
        assert_eq!(
            who_rings(&app, s.vto, Some(s.b1)).unwrap(),
            Ringing::InTurn(vec![s.bob, s.vts])
        );
        assert_eq!(
            ring_seconds(&app, Some(s.b1)).unwrap(),
            DEFAULT_RING_SECONDS
        );
        update(
            &app,
            &admin(),
            s.group,
            &GroupPatch {
                ring_seconds: Some(20),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(ring_seconds(&app, Some(s.b2)).unwrap(), 20);
        assert_eq!(
            ring_seconds(&app, Some(s.b3)).unwrap(),
            DEFAULT_RING_SECONDS
        );
    }

    #[test]
    fn no_group_rings_every_platform_manager_client() {
        let (_d, app) = app();
        let s = site(&app);
        assert_eq!(
            who_rings(&app, s.vto, Some(s.b3)).unwrap(),
            Ringing::Together(vec![s.alice, s.bob])
        );
        assert_eq!(
            who_rings(&app, s.vth, None).unwrap(),
            Ringing::Together(vec![s.alice, s.bob])
        );
        // a group whose members are all gone is no group
        remove_member(&app, &admin(), s.group, s.vts).unwrap();
        devices::delete(&app, &admin(), s.bob).unwrap();
        assert_eq!(
            who_rings(&app, s.vto, Some(s.b1)).unwrap(),
            Ringing::Together(vec![s.alice])
        );
    }

    #[test]
    fn a_fence_station_only_calls_the_platform() {
        let (_d, app) = app();
        let s = site(&app);
        assert_eq!(
            who_rings(&app, s.fence, Some(s.b1)).unwrap(),
            Ringing::Together(vec![s.alice, s.bob])
        );
    }

    #[test]
    fn a_vts_makes_no_calls() {
        let (_d, app) = app();
        let s = site(&app);
        assert!(matches!(
            who_rings(&app, s.vts, Some(s.b1)).unwrap(),
            Ringing::Refused(_)
        ));
        assert!(matches!(
            who_rings(&app, 999, Some(s.b1)),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn membership_buildings_and_order_rules() {
        let (_d, app) = app();
        let s = site(&app);
        let a = admin();
        // a building belongs to at most one group
        let err = create(
            &app,
            &a,
            &NewGroup {
                name: "South".into(),
                buildings: vec![s.b2, s.b3],
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.code(), "building_in_group");
        // only manager clients and VTS are members
        let err = add_member(&app, &a, s.group, s.vto).unwrap_err();
        assert_eq!(err.code(), "group_member_kind");
        let err = add_member(&app, &a, s.group, s.bob).unwrap_err();
        assert_eq!(err.code(), "group_member_exists");
        let g = add_member(&app, &a, s.group, s.alice).unwrap();
        let order: Vec<u64> = g.members.iter().map(|m| m.device).collect();
        assert_eq!(order, vec![s.vts, s.bob, s.alice]);
        let g = move_member(&app, &a, s.group, s.vts, Move::Down).unwrap();
        let order: Vec<u64> = g.members.iter().map(|m| m.device).collect();
        assert_eq!(order, vec![s.bob, s.vts, s.alice]);
        let g = move_member(&app, &a, s.group, s.alice, Move::Down).unwrap();
        assert_eq!(g.members.len(), 3, "the last stays last");
        let err = update(
            &app,
            &a,
            s.group,
            &GroupPatch {
                ring_seconds: Some(1),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("ring_seconds"));
        // operators may not change groups
        let err = delete(&app, &actor(Role::Operator), s.group).unwrap_err();
        assert_eq!(err.code(), "admin_only");
        delete(&app, &a, s.group).unwrap();
        assert!(list(&app).unwrap().is_empty());
    }
}
