//! Person collection (manual 1.3): users pushed by access-control devices wait here until they
//! are synchronised into person management. Each collected user is compared with the persons on
//! person ID (a person with that ID exists and differs) and on card numbers (a card belongs to
//! another person); conflicts are shown side by side and are only overwritten — the person with
//! that ID replaced, the cards taken from their other owners — after an explicit confirmation.
//! "Auto sync" takes the conflict-free users only. The "subscribe" switch is a stored setting that
//! the device side honours; `receive` is what it calls. Owns the `COLLECTED` table and the
//! `collection_subscribe` setting; writes persons only through [`super::Tables`].

use std::collections::BTreeSet;

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cards::{self, Base};
use super::{departments, Card, Person, PersonSummary, PersonType, PersonView, Tables};
use crate::accounts::Actor;
use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::store::{self, StoreError, Versioned, CARDS, COLLECTED, DEPARTMENTS, PERSONS, SETTINGS};

/// Most collected users kept; beyond it the oldest synced (then the oldest of any) is dropped.
pub const MAX_COLLECTED: usize = 10_000;
const SUBSCRIBE_KEY: &str = "collection_subscribe";
const MAX_DEVICE_CHARS: usize = 64;

/// What a collected user conflicts on.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// A person with the same ID exists and differs.
    PersonId,
    /// At least one card belongs to another person.
    Card,
}

/// The state of a collected user, as stored.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Synced,
    Conflict(Vec<ConflictKind>),
}

/// The state as shown.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusName {
    /// Not synced yet and free of conflicts.
    Pending,
    /// Synchronised into person management (until the device pushes the user again).
    Synced,
    /// Not synced; conflicts with person management.
    Conflict,
}

/// A user pushed by a device, as stored (version 1).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CollectedUser {
    /// Name or serial number of the device that pushed it.
    pub device: String,
    /// The person ID on the device.
    pub user_id: String,
    pub name: String,
    /// Canonical card numbers, the first being the main card.
    pub cards: Vec<String>,
    pub password: Option<String>,
    pub valid_from: u64,
    pub valid_to: u64,
    pub kind: PersonType,
    /// When it was (last) pushed, unix seconds.
    pub received: u64,
    pub status: Status,
}

impl Versioned for CollectedUser {
    const KIND: &'static str = "collected user";
    const VERSION: u8 = 1;
}

/// The on/off switch of subscribing to device pushes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default)]
struct Subscribe {
    enabled: bool,
}

impl Versioned for Subscribe {
    const KIND: &'static str = "collection subscription";
    const VERSION: u8 = 1;
}

/// A user as a device pushes it.
#[derive(Deserialize, Serialize, Clone, Debug, Default, ToSchema)]
#[serde(default)]
pub struct PushedUser {
    /// The person ID on the device: 1 to 30 letters and digits.
    pub user_id: String,
    pub name: String,
    /// Card numbers in hexadecimal (as devices send them), at most 5; the first is the main card.
    pub cards: Vec<String>,
    /// 6–8 digits; empty or absent for none.
    pub password: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`; default: when received.
    pub valid_from: Option<String>,
    /// Default: ten years after `valid_from`.
    pub valid_to: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<PersonType>,
}

/// Which collected users to list; every field is optional.
#[derive(Deserialize, Serialize, Clone, Debug, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct CollectionFilter {
    /// Only users in this state.
    pub status: Option<StatusName>,
    /// Only users pushed by this device (exact name).
    pub device: Option<String>,
    /// Person ID prefix or name substring, any case.
    pub q: Option<String>,
}

/// A card of a collected user that belongs to another person.
#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
pub struct CardConflict {
    /// In the current display base.
    pub number: String,
    pub canonical: String,
    /// The person who holds it now.
    pub owner_id: String,
    pub owner_name: String,
}

/// A collected user as listed, with its conflicts evaluated now.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct CollectedView {
    /// Opaque key of this collected user (hexadecimal of `<device>/<user_id>`), for URLs and sync.
    pub key: String,
    pub device: String,
    pub user_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: PersonType,
    pub valid_from: String,
    pub valid_to: String,
    pub password_set: bool,
    /// In the current display base.
    pub cards: Vec<String>,
    pub received: String,
    pub status: StatusName,
    /// A person with this ID exists and differs from the collected user.
    pub person_id_conflict: bool,
    /// Cards that belong to other persons.
    pub card_conflicts: Vec<CardConflict>,
}

/// The current holder of a conflicting card.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct CardOwner {
    /// In the current display base.
    pub number: String,
    pub owner: PersonSummary,
}

/// A collected user beside the person it would overwrite and the holders of its cards.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct ConflictDetail {
    pub collected: CollectedView,
    /// The person with the same ID, if there is one (whether or not it differs).
    pub existing: Option<PersonView>,
    /// Per conflicting card, its current owner.
    pub card_owners: Vec<CardOwner>,
    /// What syncing this user would do, in words.
    pub consequence: String,
}

/// A card taken from a person by a confirmed sync.
#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
pub struct RemovedCard {
    /// In the current display base.
    pub number: String,
    /// The person it was taken from.
    pub from: String,
    /// The person it now belongs to.
    pub to: String,
}

/// What a sync did.
#[derive(Serialize, Clone, Debug, Default, ToSchema)]
pub struct SyncReport {
    /// Person IDs created.
    pub created: Vec<String>,
    /// Person IDs that existed and were overwritten.
    pub overwritten: Vec<String>,
    /// Cards removed from other persons.
    pub cards_removed: Vec<RemovedCard>,
    /// Keys left alone (auto sync: users with conflicts).
    pub skipped: Vec<String>,
}

// ---------- keys ----------

/// The opaque key of a collected user: hexadecimal of `<device>/<user_id>`.
pub fn key_of(device: &str, user_id: &str) -> String {
    hex::encode(format!("{device}/{user_id}"))
}

/// The store key behind an opaque key.
fn store_key(key: &str) -> Result<String> {
    let unknown = || Error::NotFound(format!("no collected user with key \"{key}\""));
    let bytes = hex::decode(key.trim()).map_err(|_| unknown())?;
    let k = String::from_utf8(bytes).map_err(|_| unknown())?;
    if !k.contains('/') {
        return Err(unknown());
    }
    Ok(k)
}

// ---------- validation ----------

fn check_device(device: &str) -> Result<String> {
    let d = device.trim();
    if d.is_empty()
        || d.chars().count() > MAX_DEVICE_CHARS
        || d.contains('/')
        || d.chars().any(char::is_control)
    {
        return Err(Error::invalid(
            "device_name",
            "device",
            format!("the device name must have 1 to {MAX_DEVICE_CHARS} characters, without '/'"),
        ));
    }
    Ok(d.to_owned())
}

/// Checks a pushed user with the person rules; `now` is when it was received.
pub fn check_pushed(device: &str, u: &PushedUser, now: u64) -> Result<CollectedUser> {
    let device = check_device(device)?;
    let user_id = super::check_id(&u.user_id)?;
    let name = super::check_name(&u.name)?;
    let password = super::check_password(u.password.as_deref().unwrap_or(""))?;
    let (valid_from, valid_to) =
        super::check_validity(u.valid_from.as_deref(), u.valid_to.as_deref(), now, None)?;
    let mut cards_out: Vec<String> = Vec::new();
    for c in &u.cards {
        let n = cards::parse(c, Base::Hex, "cards")?;
        if !cards_out.contains(&n) {
            cards_out.push(n);
        }
    }
    if cards_out.len() > super::MAX_CARDS {
        return Err(Error::invalid(
            "card_limit",
            "cards",
            format!(
                "a person has at most {} cards; \"{user_id}\" has {}",
                super::MAX_CARDS,
                cards_out.len()
            ),
        ));
    }
    Ok(CollectedUser {
        device,
        user_id,
        name,
        cards: cards_out,
        password,
        valid_from,
        valid_to,
        kind: u.kind.unwrap_or_default(),
        received: now,
        status: Status::Pending,
    })
}

// ---------- conflicts ----------

/// The conflicts of one collected user, before they are shaped for display.
#[derive(Debug, Default, PartialEq)]
pub struct Conflicts {
    /// A person with the user's ID exists and differs.
    pub person_id: bool,
    /// (canonical card, current owner) for every card held by another person.
    pub cards: Vec<(String, String)>,
}

impl Conflicts {
    pub fn any(&self) -> bool {
        self.person_id || !self.cards.is_empty()
    }
    pub fn kinds(&self) -> Vec<ConflictKind> {
        let mut k = Vec::new();
        if self.person_id {
            k.push(ConflictKind::PersonId);
        }
        if !self.cards.is_empty() {
            k.push(ConflictKind::Card);
        }
        k
    }
}

/// Whether syncing `u` would change person `p` (same ID) in what a device sends.
pub fn differs(u: &CollectedUser, p: &Person) -> bool {
    let mine: BTreeSet<&str> = u.cards.iter().map(String::as_str).collect();
    let theirs: BTreeSet<&str> = p.cards.iter().map(|c| c.number.as_str()).collect();
    u.name != p.name
        || u.kind != p.kind
        || u.valid_from != p.valid_from
        || u.valid_to != p.valid_to
        || u.password != p.password
        || mine != theirs
}

/// Evaluates `u` against the person with its ID (`existing`) and the card owners.
pub fn evaluate(
    u: &CollectedUser,
    existing: Option<&Person>,
    mut owner_of: impl FnMut(&str) -> Result<Option<String>>,
) -> Result<Conflicts> {
    let mut out = Conflicts {
        person_id: existing.is_some_and(|p| differs(u, p)),
        cards: Vec::new(),
    };
    for c in &u.cards {
        if let Some(owner) = owner_of(c)? {
            if owner != u.user_id {
                out.cards.push((c.clone(), owner));
            }
        }
    }
    Ok(out)
}

/// The status `u` has now: synced stays synced, the others follow their conflicts.
fn current_status(u: &CollectedUser, c: &Conflicts) -> Status {
    match (&u.status, c.any()) {
        (Status::Synced, _) => Status::Synced,
        (_, true) => Status::Conflict(c.kinds()),
        (_, false) => Status::Pending,
    }
}

fn status_name(s: &Status) -> StatusName {
    match s {
        Status::Pending => StatusName::Pending,
        Status::Synced => StatusName::Synced,
        Status::Conflict(_) => StatusName::Conflict,
    }
}

/// Read access to persons and card owners, from a read or a write transaction.
struct Lookup<P, C> {
    persons: P,
    cards: C,
}

impl<P, C> Lookup<P, C>
where
    P: ReadableTable<&'static str, &'static [u8]>,
    C: ReadableTable<&'static str, &'static [u8]>,
{
    fn person(&self, id: &str) -> Result<Option<Person>> {
        Ok(store::get(&self.persons, id)?)
    }
    fn owner(&self, card: &str) -> Result<Option<String>> {
        Ok(self
            .cards
            .get(card)
            .map_err(StoreError::from)?
            .map(|g| String::from_utf8_lossy(g.value()).into_owned()))
    }
    fn evaluate(&self, u: &CollectedUser) -> Result<Conflicts> {
        if u.status == Status::Synced {
            return Ok(Conflicts::default());
        }
        let existing = self.person(&u.user_id)?;
        evaluate(u, existing.as_ref(), |c| self.owner(c))
    }
    fn view(&self, u: &CollectedUser, c: &Conflicts, base: Base) -> Result<CollectedView> {
        let mut card_conflicts = Vec::new();
        for (card, owner) in &c.cards {
            let owner_name = self.person(owner)?.map(|p| p.name).unwrap_or_default();
            card_conflicts.push(CardConflict {
                number: cards::display(card, base),
                canonical: card.clone(),
                owner_id: owner.clone(),
                owner_name,
            });
        }
        Ok(CollectedView {
            key: key_of(&u.device, &u.user_id),
            device: u.device.clone(),
            user_id: u.user_id.clone(),
            name: u.name.clone(),
            kind: u.kind,
            valid_from: crate::time::rfc3339(u.valid_from),
            valid_to: crate::time::rfc3339(u.valid_to),
            password_set: u.password.is_some(),
            cards: u.cards.iter().map(|n| cards::display(n, base)).collect(),
            received: crate::time::rfc3339(u.received),
            status: status_name(&current_status(u, c)),
            person_id_conflict: c.person_id,
            card_conflicts,
        })
    }
}

fn all_collected(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Vec<(String, CollectedUser)>> {
    let mut out = Vec::new();
    for row in t.iter().map_err(StoreError::from)? {
        let (k, v) = row.map_err(StoreError::from)?;
        out.push((k.value().to_owned(), store::codec::decode(v.value())?));
    }
    Ok(out)
}

fn matches(f: &CollectionFilter, v: &CollectedView) -> bool {
    let q =
        f.q.as_deref()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
    f.status.is_none_or(|s| s == v.status)
        && f.device
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .is_none_or(|d| d.trim() == v.device)
        && q.is_none_or(|q| {
            v.user_id.to_lowercase().starts_with(&q) || v.name.to_lowercase().contains(&q)
        })
}

// ---------- operations ----------

/// Stores a user pushed by `device` (replacing what that device pushed before under that ID, which
/// makes it pending again) and returns its key. Checked with the person rules. Keeps at most
/// [`MAX_COLLECTED`] users: beyond, the oldest synced is dropped first, then the oldest of any.
/// Not audited: devices are not accounts; the sync that follows is.
pub fn receive(app: &App, device: &str, user: PushedUser) -> Result<String> {
    let now = crate::time::now();
    let mut u = check_pushed(device, &user, now)?;
    let key = format!("{}/{}", u.device, u.user_id);
    app.store.write(|txn| {
        let mut t = txn.open_table(COLLECTED).map_err(StoreError::from)?;
        {
            let look = Lookup {
                persons: txn.open_table(PERSONS).map_err(StoreError::from)?,
                cards: txn.open_table(CARDS).map_err(StoreError::from)?,
            };
            let c = look.evaluate(&u)?;
            u.status = current_status(&u, &c);
        }
        let fresh = t.get(key.as_str()).map_err(StoreError::from)?.is_none();
        if fresh {
            let len = t.len().map_err(StoreError::from)? as usize;
            if len >= MAX_COLLECTED {
                let rows = all_collected(&t)?;
                let drop_n = len + 1 - MAX_COLLECTED;
                let mut order: Vec<&(String, CollectedUser)> = rows.iter().collect();
                // synced first, then the oldest
                order.sort_by_key(|(_, c)| (c.status != Status::Synced, c.received));
                for (k, c) in order.into_iter().take(drop_n) {
                    if c.status != Status::Synced {
                        tracing::warn!(key = %k, "person collection full: dropping an unsynced user");
                    }
                    t.remove(k.as_str()).map_err(StoreError::from)?;
                }
            }
        }
        store::put(&mut t, &key, &u)?;
        Ok::<_, Error>(())
    })?;
    Ok(key_of(&u.device, &u.user_id))
}

/// The collected users matching `filter`, in key order, with conflicts evaluated now.
pub fn list(app: &App, filter: &CollectionFilter) -> Result<Vec<CollectedView>> {
    let base = cards::settings(app)?.display;
    app.store.read(|txn| {
        let look = Lookup {
            persons: txn.open_table(PERSONS).map_err(StoreError::from)?,
            cards: txn.open_table(CARDS).map_err(StoreError::from)?,
        };
        let t = txn.open_table(COLLECTED).map_err(StoreError::from)?;
        let mut out = Vec::new();
        for (_, u) in all_collected(&t)? {
            let c = look.evaluate(&u)?;
            let v = look.view(&u, &c, base)?;
            if matches(filter, &v) {
                out.push(v);
            }
        }
        Ok(out)
    })
}

/// One collected user beside the person with its ID and the holders of its conflicting cards.
pub fn detail(app: &App, key: &str) -> Result<ConflictDetail> {
    let k = store_key(key)?;
    let base = cards::settings(app)?.display;
    app.store.read(|txn| {
        let look = Lookup {
            persons: txn.open_table(PERSONS).map_err(StoreError::from)?,
            cards: txn.open_table(CARDS).map_err(StoreError::from)?,
        };
        let t = txn.open_table(COLLECTED).map_err(StoreError::from)?;
        let u: CollectedUser = store::get(&t, &k)?
            .ok_or_else(|| Error::NotFound(format!("no collected user with key \"{key}\"")))?;
        let tree = departments::load_tree(&txn.open_table(DEPARTMENTS).map_err(StoreError::from)?)?;
        let c = look.evaluate(&u)?;
        let existing = look.person(&u.user_id)?;
        let mut card_owners = Vec::new();
        for (card, owner) in &c.cards {
            if let Some(p) = look.person(owner)? {
                card_owners.push(CardOwner {
                    number: cards::display(card, base),
                    owner: super::summary(&p, &tree, base),
                });
            }
        }
        let consequence = consequence(&u, existing.is_some(), &c, base);
        Ok(ConflictDetail {
            collected: look.view(&u, &c, base)?,
            existing: existing.as_ref().map(|p| super::view(p, &tree, base)),
            card_owners,
            consequence,
        })
    })
}

fn consequence(u: &CollectedUser, exists: bool, c: &Conflicts, base: Base) -> String {
    let mut parts = Vec::new();
    if u.status == Status::Synced {
        parts.push(format!(
            "Already synced; syncing again writes person \"{}\" once more.",
            u.user_id
        ));
    } else if c.person_id {
        parts.push(format!(
            "Person \"{}\" exists and differs: syncing overwrites its name, type, validity, \
             password and cards with the collected ones (department, room, more info, photo, \
             fingerprints and face stay).",
            u.user_id
        ));
    } else if exists {
        parts.push(format!(
            "Person \"{}\" exists and matches: syncing changes nothing in it.",
            u.user_id
        ));
    } else {
        parts.push(format!(
            "Syncing creates person \"{}\" in the company.",
            u.user_id
        ));
    }
    for (card, owner) in &c.cards {
        parts.push(format!(
            "Card {} is removed from person \"{owner}\".",
            cards::display(card, base)
        ));
    }
    if c.any() {
        parts.push("This needs your confirmation.".into());
    }
    parts.join(" ")
}

/// Writes collected user `u` into person management within `txn`. The caller has checked that
/// conflicts are allowed. Returns whether the person existed and the cards taken from others.
fn apply(
    t: &mut Tables<'_>,
    u: &CollectedUser,
    c: &Conflicts,
    base: Base,
    now: u64,
) -> Result<(bool, Vec<RemovedCard>)> {
    let mut removed = Vec::new();
    for (card, owner) in &c.cards {
        let before = t.must(owner)?;
        let mut p = before.clone();
        p.cards.retain(|x| &x.number != card);
        super::ensure_main(&mut p);
        p.updated = now;
        t.put(&p, Some(&before))?;
        removed.push(RemovedCard {
            number: cards::display(card, base),
            from: owner.clone(),
            to: u.user_id.clone(),
        });
    }
    let before = t.get(&u.user_id)?;
    let mut p = match &before {
        Some(b) => b.clone(),
        None => Person {
            id: u.user_id.clone(),
            name: u.name.clone(),
            department: departments::ROOT,
            kind: u.kind,
            valid_from: u.valid_from,
            valid_to: u.valid_to,
            password: None,
            cards: Vec::new(),
            room: None,
            more: Default::default(),
            fingerprints: Vec::new(),
            face: None,
            has_photo: false,
            created: now,
            updated: now,
        },
    };
    p.name = u.name.clone();
    p.kind = u.kind;
    p.valid_from = u.valid_from;
    p.valid_to = u.valid_to;
    p.password = u.password.clone();
    let old_cards = std::mem::take(&mut p.cards);
    for n in &u.cards {
        // a card the person already had keeps its flags
        let card = old_cards
            .iter()
            .find(|o| &o.number == n)
            .cloned()
            .unwrap_or(Card {
                number: n.clone(),
                main: false,
                duress: false,
                frozen: false,
            });
        super::push_card(&mut p, card, base)?;
    }
    super::ensure_main(&mut p);
    p.updated = now;
    t.put(&p, before.as_ref())?;
    Ok((before.is_some(), removed))
}

/// What sync does per selected key.
enum Mode {
    /// Refuse all if any conflicts, unless overwriting is confirmed.
    Selected { confirm_overwrite: bool },
    /// Skip the users with conflicts.
    Auto,
}

fn run_sync(app: &App, actor: &Actor, keys: &[String], mode: Mode) -> Result<SyncReport> {
    let base = cards::settings(app)?.display;
    let now = crate::time::now();
    app.store.write(|txn| {
        let mut report = SyncReport::default();
        let mut refused = Vec::new();
        let mut col = txn.open_table(COLLECTED).map_err(StoreError::from)?;
        let mut t = Tables::open(txn)?;
        let mut synced_keys = Vec::new();
        for key in keys {
            let k = store_key(key)?;
            let mut u: CollectedUser = store::get(&col, &k)?
                .ok_or_else(|| Error::NotFound(format!("no collected user with key \"{key}\"")))?;
            // evaluated against this transaction: earlier users of the selection count
            let existing = t.get(&u.user_id)?;
            let c = evaluate(&u, existing.as_ref(), |n| t.card_owner(n))?;
            if c.any() {
                match mode {
                    Mode::Auto => {
                        report.skipped.push(key.clone());
                        continue;
                    }
                    Mode::Selected {
                        confirm_overwrite: false,
                    } => {
                        refused.push(describe(&u, &c, base));
                        continue;
                    }
                    Mode::Selected {
                        confirm_overwrite: true,
                    } => {}
                }
            }
            let (existed, removed) = apply(&mut t, &u, &c, base, now)?;
            if existed {
                report.overwritten.push(u.user_id.clone());
            } else {
                report.created.push(u.user_id.clone());
            }
            if c.person_id || !removed.is_empty() {
                synced_keys.push((
                    u.user_id.clone(),
                    u.device.clone(),
                    c.person_id,
                    removed.clone(),
                ));
            }
            report.cards_removed.extend(removed);
            u.status = Status::Synced;
            store::put(&mut col, &k, &u)?;
        }
        if !refused.is_empty() {
            return Err(Error::conflict(
                "collection_conflict",
                format!(
                    "nothing was synced: {} of the selected users conflict with person \
                     management ({}); confirm overwriting to sync them",
                    refused.len(),
                    refused.join("; ")
                ),
            ));
        }
        drop(t);
        drop(col);
        let action = match mode {
            Mode::Auto => "person.collection.auto_sync",
            Mode::Selected { .. } => "person.collection.sync",
        };
        record(
            app,
            txn,
            actor,
            action,
            &format!("{} users", report.created.len() + report.overwritten.len()),
            format!(
                "created: {}; overwritten: {}; skipped for conflicts: {}",
                id_list(&report.created),
                id_list(&report.overwritten),
                report.skipped.len()
            ),
        )?;
        // every destructive change gets its own entry
        for (id, device, overwritten, removed) in synced_keys {
            if overwritten {
                record(
                    app,
                    txn,
                    actor,
                    "person.collection.overwrite",
                    &id,
                    format!("overwritten by the user pushed by device \"{device}\""),
                )?;
            }
            for r in removed {
                record(
                    app,
                    txn,
                    actor,
                    "person.card.delete",
                    &r.from,
                    format!(
                        "card {} removed: synced to person \"{}\" from device \"{device}\"",
                        r.number, r.to
                    ),
                )?;
            }
        }
        Ok(report)
    })
}

fn describe(u: &CollectedUser, c: &Conflicts, base: Base) -> String {
    let mut what = Vec::new();
    if c.person_id {
        what.push(format!("person ID \"{}\" exists and differs", u.user_id));
    }
    for (card, owner) in &c.cards {
        what.push(format!(
            "card {} belongs to \"{owner}\"",
            cards::display(card, base)
        ));
    }
    format!("{}/{}: {}", u.device, u.user_id, what.join(", "))
}

fn id_list(ids: &[String]) -> String {
    const SHOWN: usize = 50;
    if ids.is_empty() {
        return "none".into();
    }
    let mut s = ids
        .iter()
        .take(SHOWN)
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        s.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    s
}

fn record(
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

/// Syncs the collected users `keys` into person management in one transaction. If any conflicts
/// and `confirm_overwrite` is false, nothing changes and the error names every conflict. With it,
/// the person with the same ID is overwritten and conflicting cards are removed from their owners.
pub fn sync(
    app: &App,
    actor: &Actor,
    keys: &[String],
    confirm_overwrite: bool,
) -> Result<SyncReport> {
    let mut unique: Vec<String> = Vec::new();
    for k in keys {
        let k = k.trim().to_owned();
        if !unique.contains(&k) {
            unique.push(k);
        }
    }
    if unique.is_empty() {
        return Err(Error::invalid(
            "collection_selection",
            "keys",
            "select at least one collected user",
        ));
    }
    run_sync(app, actor, &unique, Mode::Selected { confirm_overwrite })
}

/// Syncs every pending user without conflicts; users with conflicts stay as they are.
pub fn auto_sync(app: &App, actor: &Actor) -> Result<SyncReport> {
    let keys = app.store.read(|txn| {
        let t = txn.open_table(COLLECTED).map_err(StoreError::from)?;
        Ok::<_, Error>(
            all_collected(&t)?
                .into_iter()
                .filter(|(_, u)| u.status != Status::Synced)
                .map(|(_, u)| key_of(&u.device, &u.user_id))
                .collect::<Vec<_>>(),
        )
    })?;
    run_sync(app, actor, &keys, Mode::Auto)
}

/// Re-evaluates the conflicts of every collected user, stores the statuses and lists them all.
pub fn refresh(app: &App) -> Result<Vec<CollectedView>> {
    let base = cards::settings(app)?.display;
    app.store.write(|txn| {
        let look = Lookup {
            persons: txn.open_table(PERSONS).map_err(StoreError::from)?,
            cards: txn.open_table(CARDS).map_err(StoreError::from)?,
        };
        let mut t = txn.open_table(COLLECTED).map_err(StoreError::from)?;
        let mut out = Vec::new();
        for (k, mut u) in all_collected(&t)? {
            let c = look.evaluate(&u)?;
            let s = current_status(&u, &c);
            if s != u.status {
                u.status = s;
                store::put(&mut t, &k, &u)?;
            }
            out.push(look.view(&u, &c, base)?);
        }
        Ok(out)
    })
}

/// Whether devices' pushes are taken (manual 1.3 step 2). Off until turned on.
pub fn subscribed(app: &App) -> Result<bool> {
    app.store.read(|txn| {
        let t = txn.open_table(SETTINGS).map_err(StoreError::from)?;
        Ok(store::get::<Subscribe>(&t, SUBSCRIBE_KEY)?
            .unwrap_or_default()
            .enabled)
    })
}

pub fn set_subscribe(app: &App, actor: &Actor, on: bool) -> Result<()> {
    app.store.write(|txn| {
        let mut t = txn.open_table(SETTINGS).map_err(StoreError::from)?;
        store::put(&mut t, SUBSCRIBE_KEY, &Subscribe { enabled: on })?;
        drop(t);
        record(
            app,
            txn,
            actor,
            "person.collection.subscribe",
            "person collection",
            if on {
                "subscribe turned on"
            } else {
                "subscribe turned off"
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Role;
    use crate::persons::{CardInput, PersonInput};

    fn app() -> (tempfile::TempDir, App) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            data_dir: dir.path().to_owned(),
            ..Default::default()
        };
        let app = App::open(config).unwrap();
        (dir, app)
    }

    fn actor() -> Actor {
        Actor {
            username: "admin".into(),
            role: Role::Admin,
            ip: [127, 0, 0, 1].into(),
            session_id: "s".into(),
        }
    }

    fn pushed(id: &str, name: &str, cards: &[&str]) -> PushedUser {
        PushedUser {
            user_id: id.into(),
            name: name.into(),
            cards: cards.iter().map(|c| c.to_string()).collect(),
            valid_from: Some("2024-01-04".into()),
            valid_to: Some("2034-01-04".into()),
            ..Default::default()
        }
    }

    fn person(app: &App, id: &str, name: &str, cards: &[&str]) {
        crate::persons::create(
            app,
            &actor(),
            &PersonInput {
                id: id.into(),
                name: name.into(),
                valid_from: Some("2024-01-04".into()),
                valid_to: Some("2034-01-04".into()),
                cards: cards
                    .iter()
                    .map(|c| CardInput {
                        number: c.to_string(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        )
        .unwrap();
    }

    fn by_id<'a>(l: &'a [CollectedView], id: &str) -> &'a CollectedView {
        l.iter().find(|v| v.user_id == id).unwrap()
    }

    #[test]
    fn conflicts_on_differing_id_and_on_cards_of_others() {
        let now = 1_700_000_000;
        let u = check_pushed("VTO 1", &pushed("7", "Ann", &["a1b2c3d4"]), now).unwrap();
        assert_eq!(u.cards, ["A1B2C3D4"]);
        let mut p = Person {
            id: "7".into(),
            name: "Ann".into(),
            department: 1,
            kind: PersonType::General,
            valid_from: u.valid_from,
            valid_to: u.valid_to,
            password: None,
            cards: vec![Card {
                number: "A1B2C3D4".into(),
                main: true,
                duress: false,
                frozen: false,
            }],
            room: None,
            more: Default::default(),
            fingerprints: vec![],
            face: None,
            has_photo: false,
            created: 0,
            updated: 0,
        };
        let own = |_: &str| Ok(Some("7".to_owned()));
        // the same person with the same card: no conflict at all
        assert_eq!(evaluate(&u, Some(&p), own).unwrap(), Conflicts::default());
        // no person, card free
        assert!(!evaluate(&u, None, |_| Ok(None)).unwrap().any());
        // differing name → ID conflict; the card of another → card conflict
        p.name = "Anne".into();
        let c = evaluate(&u, Some(&p), |_| Ok(Some("9".to_owned()))).unwrap();
        assert!(c.person_id);
        assert_eq!(c.cards, [("A1B2C3D4".to_owned(), "9".to_owned())]);
        assert_eq!(c.kinds(), [ConflictKind::PersonId, ConflictKind::Card]);
        // differing cards alone are an ID conflict too
        p.name = "Ann".into();
        p.cards.clear();
        assert!(evaluate(&u, Some(&p), |_| Ok(None)).unwrap().person_id);
        // synced users are not re-evaluated
        let mut s = u.clone();
        s.status = Status::Synced;
        assert_eq!(current_status(&s, &c), Status::Synced);
        assert_eq!(
            current_status(&u, &c),
            Status::Conflict(vec![ConflictKind::PersonId, ConflictKind::Card])
        );
    }

    #[test]
    fn pushed_users_follow_the_person_rules() {
        let now = 1_700_000_000;
        for (device, u, code) in [
            ("", pushed("1", "A", &[]), "device_name"),
            ("a/b", pushed("1", "A", &[]), "device_name"),
            ("d", pushed("1-2", "A", &[]), "person_id_format"),
            ("d", pushed("1", " ", &[]), "person_name"),
            ("d", pushed("1", "A", &["xyz"]), "card_number_format"),
            (
                "d",
                pushed("1", "A", &["1", "2", "3", "4", "5", "6"]),
                "card_limit",
            ),
            (
                "d",
                PushedUser {
                    password: Some("12".into()),
                    ..pushed("1", "A", &[])
                },
                "person_password_format",
            ),
        ] {
            assert_eq!(
                check_pushed(device, &u, now).unwrap_err().code(),
                code,
                "{device} {u:?}"
            );
        }
        let u = check_pushed("d", &pushed("1", "A", &["1", "01"]), now).unwrap();
        assert_eq!(u.cards, ["00000001"]);
        assert_eq!(store_key(&key_of("d", "1")).unwrap(), "d/1");
        assert_eq!(store_key("zz").unwrap_err().code(), "not_found");
    }

    #[test]
    fn sync_refuses_conflicts_unless_confirmed_and_auto_sync_skips_them() {
        let (_d, app) = app();
        let a = actor();
        person(&app, "7", "Old Ann", &["0A0B0C0D"]);
        person(&app, "8", "Bob", &["11223344", "55667788"]);
        let k_ann = receive(&app, "VTO", pushed("7", "Ann", &["0A0B0C0D"])).unwrap();
        let k_cat = receive(&app, "VTO", pushed("9", "Cat", &["11223344"])).unwrap();
        let k_dan = receive(&app, "VTO", pushed("10", "Dan", &["99999999"])).unwrap();
        let l = list(&app, &CollectionFilter::default()).unwrap();
        assert_eq!(l.len(), 3);
        assert!(by_id(&l, "7").person_id_conflict && by_id(&l, "7").card_conflicts.is_empty());
        assert_eq!(by_id(&l, "9").card_conflicts[0].owner_id, "8");
        assert_eq!(by_id(&l, "9").card_conflicts[0].owner_name, "Bob");
        assert_eq!(by_id(&l, "10").status, StatusName::Pending);
        let only = list(
            &app,
            &CollectionFilter {
                status: Some(StatusName::Conflict),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(only.len(), 2);

        let d = detail(&app, &k_cat).unwrap();
        assert_eq!(d.card_owners[0].owner.id, "8");
        assert!(d.existing.is_none());
        assert_eq!(
            detail(&app, &k_ann).unwrap().existing.unwrap().name,
            "Old Ann"
        );

        // refused as a whole, naming both
        let e = sync(
            &app,
            &a,
            &[k_ann.clone(), k_cat.clone(), k_dan.clone()],
            false,
        )
        .unwrap_err();
        assert_eq!(e.code(), "collection_conflict");
        assert!(e.to_string().contains("VTO/7") && e.to_string().contains("VTO/9"));
        assert!(crate::persons::load(&app, "10").is_err(), "nothing changed");

        // auto sync takes only Dan
        let r = auto_sync(&app, &a).unwrap();
        assert_eq!(r.created, ["10"]);
        assert_eq!(r.skipped.len(), 2);
        assert_eq!(
            crate::persons::load(&app, "10").unwrap().cards[0].number,
            "99999999"
        );

        // confirmed: Ann overwritten, Bob loses the card to Cat
        let r = sync(&app, &a, &[k_ann.clone(), k_cat.clone()], true).unwrap();
        assert_eq!(r.overwritten, ["7"]);
        assert_eq!(r.created, ["9"]);
        assert_eq!(
            r.cards_removed,
            [RemovedCard {
                number: "11223344".into(),
                from: "8".into(),
                to: "9".into()
            }]
        );
        assert_eq!(crate::persons::load(&app, "7").unwrap().name, "Ann");
        let bob = crate::persons::load(&app, "8").unwrap();
        assert_eq!(bob.cards.len(), 1);
        assert!(bob.cards[0].main);
        let l = refresh(&app).unwrap();
        assert!(l.iter().all(|v| v.status == StatusName::Synced));

        // a later change makes a re-pushed user conflict again
        person(&app, "11", "Eve", &["77777777"]);
        receive(&app, "VTO", pushed("12", "Fay", &["77777777"])).unwrap();
        let l = refresh(&app).unwrap();
        assert_eq!(by_id(&l, "12").status, StatusName::Conflict);
        crate::persons::delete(&app, &a, "11").unwrap();
        let l = refresh(&app).unwrap();
        assert_eq!(by_id(&l, "12").status, StatusName::Pending);

        let log = crate::audit::search(
            &app,
            &crate::audit::AuditQuery {
                action: Some("person.card.delete".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(log
            .iter()
            .any(|e| e.target == "8" && e.detail.contains("11223344")));
    }

    #[test]
    fn subscribe_is_off_until_turned_on() {
        let (_d, app) = app();
        assert!(!subscribed(&app).unwrap());
        set_subscribe(&app, &actor(), true).unwrap();
        assert!(subscribed(&app).unwrap());
        set_subscribe(&app, &actor(), false).unwrap();
        assert!(!subscribed(&app).unwrap());
    }

    #[test]
    fn the_collection_is_bounded_dropping_synced_first() {
        let (_d, app) = app();
        // fill directly to the bound
        app.store
            .write(|txn| {
                let mut t = txn.open_table(COLLECTED).map_err(StoreError::from)?;
                for i in 0..MAX_COLLECTED {
                    let mut u =
                        check_pushed("d", &pushed(&i.to_string(), "N", &[]), 1000 + i as u64)?;
                    if i == 5000 {
                        u.status = Status::Synced;
                    }
                    store::put(&mut t, &format!("d/{i}"), &u)?;
                }
                Ok::<_, Error>(())
            })
            .unwrap();
        receive(&app, "d", pushed("fresh", "N", &[])).unwrap();
        let l = list(&app, &CollectionFilter::default()).unwrap();
        assert_eq!(l.len(), MAX_COLLECTED);
        assert!(
            !l.iter().any(|v| v.user_id == "5000"),
            "the synced one went"
        );
        assert!(l.iter().any(|v| v.user_id == "0"));
        receive(&app, "d", pushed("new2", "N", &[])).unwrap();
        let l = list(&app, &CollectionFilter::default()).unwrap();
        assert!(!l.iter().any(|v| v.user_id == "0"), "then the oldest");
        // pushing an existing one again drops nothing
        receive(&app, "d", pushed("new2", "M", &[])).unwrap();
        assert_eq!(
            list(&app, &CollectionFilter::default()).unwrap().len(),
            MAX_COLLECTED
        );
    }
}
