//! Person management (manual 1.2): persons with their ID, name, department, type, validity, photo,
//! password, up to 5 cards, room, "More Info", and room for fingerprints and face data; search and
//! paging. Departments (`departments`), card numbers and settings (`cards`), batch work (`batch`),
//! import/export (`transfer`) and person collection (`collection`) are its sub-modules. Owns the
//! `PERSONS`, `PERSON_INDEX`, `CARDS` and `PHOTOS` tables; knows nothing of HTTP.

pub mod batch;
pub mod cards;
pub mod collection;
pub mod departments;
pub mod transfer;

use std::collections::HashSet;

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::Actor;
use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::store::{
    self, StoreError, Versioned, CARDS, DEPARTMENTS, PERSONS, PERSON_INDEX, PHOTOS,
};
use cards::{Base, CardSettings};

pub const MAX_CARDS: usize = 5;
pub const MAX_FINGERPRINTS: usize = 3;
pub const MAX_PHOTO_BYTES: usize = 200 * 1024;
pub const MAX_PHOTO_PIXELS: usize = 1920;
const TEN_YEARS: u64 = 10 * 365 * 86_400 + 2 * 86_400;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum PersonType {
    #[default]
    General,
    Guest,
    Vip,
    Patrol,
    Blocklist,
    Other,
}

impl PersonType {
    pub const ALL: [PersonType; 6] = [
        PersonType::General,
        PersonType::Guest,
        PersonType::Vip,
        PersonType::Patrol,
        PersonType::Blocklist,
        PersonType::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            PersonType::General => "general",
            PersonType::Guest => "guest",
            PersonType::Vip => "vip",
            PersonType::Patrol => "patrol",
            PersonType::Blocklist => "blocklist",
            PersonType::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<PersonType> {
        let s = s.trim().to_lowercase();
        PersonType::ALL
            .into_iter()
            .find(|t| t.as_str() == s || (s == "block list" && *t == PersonType::Blocklist))
    }
}

/// A card of a person, number in canonical form.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Card {
    pub number: String,
    pub main: bool,
    pub duress: bool,
    pub frozen: bool,
}

/// An opaque biometric template (fingerprint or face) with where and when it was taken.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub data: Vec<u8>,
    /// e.g. `scanner:/dev/gatehouse-fp` or `device:VTO 8055`.
    pub source: String,
    pub captured: u64,
    pub duress: bool,
}

/// "More Info" of the manual (1.2.3 step 3).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, ToSchema)]
#[serde(default)]
pub struct MoreInfo {
    /// `male`, `female` or empty.
    pub gender: String,
    pub id_type: String,
    pub id_number: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub company: String,
    pub title: String,
    pub remarks: String,
}

/// A person as stored (version 1).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub department: u64,
    pub kind: PersonType,
    pub valid_from: u64,
    pub valid_to: u64,
    /// 6–8 digits; devices need the clear value.
    pub password: Option<String>,
    pub cards: Vec<Card>,
    pub room: Option<String>,
    pub more: MoreInfo,
    pub fingerprints: Vec<Template>,
    pub face: Option<Template>,
    pub has_photo: bool,
    pub created: u64,
    pub updated: u64,
}

impl Versioned for Person {
    const KIND: &'static str = "person";
    const VERSION: u8 = 1;
}

/// What search and counts read per person, without decoding the whole record.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct IndexEntry {
    pub department: u64,
    pub name_lower: String,
    pub cards: u8,
}

impl Versioned for IndexEntry {
    const KIND: &'static str = "person index";
    const VERSION: u8 = 1;
}

/// Every index entry, by person ID.
pub fn index_entries(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Vec<(String, IndexEntry)>> {
    let mut out = Vec::new();
    for row in t.iter().map_err(StoreError::from)? {
        let (k, v) = row.map_err(StoreError::from)?;
        out.push((k.value().to_owned(), store::codec::decode(v.value())?));
    }
    Ok(out)
}

// ---------- input and output shapes ----------

/// A person as typed in the form or sent to the API. Times are RFC 3339 or `YYYY-MM-DD`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, ToSchema)]
#[serde(default)]
pub struct PersonInput {
    pub id: String,
    pub name: String,
    /// Department id; the company (1) when absent.
    pub department: Option<u64>,
    #[serde(rename = "type")]
    pub kind: Option<PersonType>,
    /// Default: now.
    pub valid_from: Option<String>,
    /// Default: ten years after `valid_from`.
    pub valid_to: Option<String>,
    /// 6–8 digits; empty or absent for none.
    pub password: Option<String>,
    pub room: Option<String>,
    pub more: MoreInfo,
    /// Cards to add with the person, numbers in the current display base.
    pub cards: Vec<CardInput>,
}

/// Changes to a person; absent fields stay. `password: ""` clears the password.
#[derive(Deserialize, Serialize, Clone, Debug, Default, ToSchema)]
#[serde(default)]
pub struct PersonPatch {
    pub name: Option<String>,
    pub department: Option<u64>,
    #[serde(rename = "type")]
    pub kind: Option<PersonType>,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    pub password: Option<String>,
    pub room: Option<String>,
    pub more: Option<MoreInfo>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, ToSchema)]
#[serde(default)]
pub struct CardInput {
    /// In the current display base (hexadecimal by default).
    pub number: String,
    pub main: bool,
    pub duress: bool,
    pub frozen: bool,
}

/// Flag changes of a card; absent fields stay.
#[derive(Deserialize, Serialize, Clone, Debug, Default, ToSchema)]
#[serde(default)]
pub struct CardPatch {
    pub main: Option<bool>,
    pub duress: Option<bool>,
    pub frozen: Option<bool>,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct CardView {
    /// In the current display base.
    pub number: String,
    /// Canonical upper-case hexadecimal (what is stored).
    pub canonical: String,
    pub main: bool,
    pub duress: bool,
    pub frozen: bool,
    /// Whether a QR code is offered (8-hex-digit numbers only).
    pub qr: bool,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct TemplateView {
    pub source: String,
    pub captured: String,
    pub duress: bool,
    pub bytes: usize,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct PersonView {
    pub id: String,
    pub name: String,
    pub department: u64,
    pub department_path: String,
    #[serde(rename = "type")]
    pub kind: PersonType,
    pub valid_from: String,
    pub valid_to: String,
    pub password_set: bool,
    pub cards: Vec<CardView>,
    pub room: Option<String>,
    pub more: MoreInfo,
    pub fingerprints: Vec<TemplateView>,
    pub face: Option<TemplateView>,
    pub has_photo: bool,
    pub created: String,
    pub updated: String,
}

pub fn card_view(c: &Card, base: Base) -> CardView {
    CardView {
        number: cards::display(&c.number, base),
        canonical: c.number.clone(),
        main: c.main,
        duress: c.duress,
        frozen: c.frozen,
        qr: cards::has_qr(&c.number),
    }
}

fn template_view(t: &Template) -> TemplateView {
    TemplateView {
        source: t.source.clone(),
        captured: crate::time::rfc3339(t.captured),
        duress: t.duress,
        bytes: t.data.len(),
    }
}

pub fn view(p: &Person, tree: &departments::Tree, base: Base) -> PersonView {
    PersonView {
        id: p.id.clone(),
        name: p.name.clone(),
        department: p.department,
        department_path: departments::path_of(tree, p.department),
        kind: p.kind,
        valid_from: crate::time::rfc3339(p.valid_from),
        valid_to: crate::time::rfc3339(p.valid_to),
        password_set: p.password.is_some(),
        cards: p.cards.iter().map(|c| card_view(c, base)).collect(),
        room: p.room.clone(),
        more: p.more.clone(),
        fingerprints: p.fingerprints.iter().map(template_view).collect(),
        face: p.face.as_ref().map(template_view),
        has_photo: p.has_photo,
        created: crate::time::rfc3339(p.created),
        updated: crate::time::rfc3339(p.updated),
    }
}

// ---------- validation ----------

/// Words that name pages and API routes under `/persons/`; a person ID cannot be one of them.
pub const RESERVED_IDS: &[&str] = &["new", "collection", "template", "export", "import"];

pub fn check_id(id: &str) -> Result<String> {
    let id = id.trim();
    if id.is_empty() || id.len() > 30 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            "person_id_format",
            "id",
            format!("the person ID \"{id}\" must have 1 to 30 letters and digits"),
        ));
    }
    if RESERVED_IDS.iter().any(|r| r.eq_ignore_ascii_case(id)) {
        return Err(Error::invalid(
            "person_id_reserved",
            "id",
            format!("\"{id}\" is reserved for a page of Gatehouse; choose another person ID"),
        ));
    }
    Ok(id.to_owned())
}

pub fn check_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 64 {
        return Err(Error::invalid(
            "person_name",
            "name",
            "the name must have 1 to 64 characters",
        ));
    }
    Ok(n.to_owned())
}

pub fn check_password(pw: &str) -> Result<Option<String>> {
    let pw = pw.trim();
    if pw.is_empty() {
        return Ok(None);
    }
    if !(6..=8).contains(&pw.len()) || !pw.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::invalid(
            "person_password_format",
            "password",
            "the person's password must have 6 to 8 digits",
        ));
    }
    Ok(Some(pw.to_owned()))
}

/// Parses the validity period; `default_from` when `from` is absent, ten years on when `to` is.
pub fn check_validity(
    from: Option<&str>,
    to: Option<&str>,
    default_from: u64,
    default_to: Option<u64>,
) -> Result<(u64, u64)> {
    let parse = |s: &str, field: &'static str| {
        crate::time::parse(s).ok_or_else(|| {
            Error::invalid(
                "time_format",
                field,
                format!("\"{s}\" is not a time like 2026-11-30 or 2026-11-30T08:00:00Z"),
            )
        })
    };
    let from = match from.filter(|s| !s.trim().is_empty()) {
        Some(s) => parse(s, "valid_from")?,
        None => default_from,
    };
    let to = match to.filter(|s| !s.trim().is_empty()) {
        Some(s) => {
            let t = parse(s, "valid_to")?;
            // a plain date as the end means the end of that day
            if s.trim().len() == 10 {
                t + 86_399
            } else {
                t
            }
        }
        None => default_to.unwrap_or(from + TEN_YEARS),
    };
    if to <= from {
        return Err(Error::invalid(
            "validity_order",
            "valid_to",
            "the expiry time must be after the effective time",
        ));
    }
    Ok((from, to))
}

fn check_text(value: &str, field: &'static str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(Error::invalid(
            "text_too_long",
            field,
            format!("{field} has at most {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

pub fn check_more(m: &MoreInfo) -> Result<MoreInfo> {
    let gender = m.gender.trim().to_lowercase();
    if !["", "male", "female"].contains(&gender.as_str()) {
        return Err(Error::invalid(
            "gender",
            "more.gender",
            "gender is male, female or empty",
        ));
    }
    let email = check_text(&m.email, "more.email", 128)?;
    if !email.is_empty() && (!email.contains('@') || email.contains(char::is_whitespace)) {
        return Err(Error::invalid(
            "email_format",
            "more.email",
            format!("\"{email}\" is not an e-mail address"),
        ));
    }
    Ok(MoreInfo {
        gender,
        id_type: check_text(&m.id_type, "more.id_type", 32)?,
        id_number: check_text(&m.id_number, "more.id_number", 64)?,
        phone: check_text(&m.phone, "more.phone", 32)?,
        email,
        address: check_text(&m.address, "more.address", 200)?,
        company: check_text(&m.company, "more.company", 64)?,
        title: check_text(&m.title, "more.title", 64)?,
        remarks: check_text(&m.remarks, "more.remarks", 500)?,
    })
}

pub fn check_room(room: Option<&str>) -> Result<Option<String>> {
    match room.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => Ok(Some(check_text(r, "room", 32)?)),
        None => Ok(None),
    }
}

// ---------- transaction helpers (shared by batch work and import) ----------

/// The open tables one write needs.
pub struct Tables<'t> {
    pub persons: redb::Table<'t, &'static str, &'static [u8]>,
    pub index: redb::Table<'t, &'static str, &'static [u8]>,
    pub cards: redb::Table<'t, &'static str, &'static [u8]>,
}

impl<'t> Tables<'t> {
    pub fn open(txn: &'t WriteTransaction) -> Result<Tables<'t>> {
        Ok(Tables {
            persons: txn.open_table(PERSONS).map_err(StoreError::from)?,
            index: txn.open_table(PERSON_INDEX).map_err(StoreError::from)?,
            cards: txn.open_table(CARDS).map_err(StoreError::from)?,
        })
    }

    pub fn get(&self, id: &str) -> Result<Option<Person>> {
        Ok(store::get(&self.persons, id)?)
    }

    pub fn must(&self, id: &str) -> Result<Person> {
        self.get(id)?
            .ok_or_else(|| Error::NotFound(format!("no person with ID \"{id}\"")))
    }

    /// Who owns card `canonical`, if anyone.
    pub fn card_owner(&self, canonical: &str) -> Result<Option<String>> {
        Ok(self
            .cards
            .get(canonical)
            .map_err(StoreError::from)?
            .map(|g| String::from_utf8_lossy(g.value()).into_owned()))
    }

    /// Writes `p` with its index entry and card ownerships (cards no longer held are released).
    pub fn put(&mut self, p: &Person, before: Option<&Person>) -> Result<()> {
        if let Some(old) = before {
            for c in &old.cards {
                if !p.cards.iter().any(|n| n.number == c.number) {
                    self.cards
                        .remove(c.number.as_str())
                        .map_err(StoreError::from)?;
                }
            }
        }
        for c in &p.cards {
            self.cards
                .insert(c.number.as_str(), p.id.as_bytes())
                .map_err(StoreError::from)?;
        }
        store::put(&mut self.persons, &p.id, p)?;
        let entry = IndexEntry {
            department: p.department,
            name_lower: p.name.to_lowercase(),
            cards: p.cards.len() as u8,
        };
        store::put(&mut self.index, &p.id, &entry)?;
        Ok(())
    }

    pub fn remove(&mut self, p: &Person) -> Result<()> {
        for c in &p.cards {
            self.cards
                .remove(c.number.as_str())
                .map_err(StoreError::from)?;
        }
        self.persons
            .remove(p.id.as_str())
            .map_err(StoreError::from)?;
        self.index.remove(p.id.as_str()).map_err(StoreError::from)?;
        Ok(())
    }
}

/// The person holding card `canonical`, if any.
pub fn card_owner(app: &App, canonical: &str) -> Result<Option<String>> {
    app.store.read(|txn| {
        let t = txn.open_table(CARDS).map_err(StoreError::from)?;
        let owner = t
            .get(canonical)
            .map_err(StoreError::from)?
            .map(|g| String::from_utf8_lossy(g.value()).into_owned());
        Ok(owner)
    })
}

/// Checks that card `canonical` may be given to `person` (no other owner).
pub fn check_card_free(t: &Tables<'_>, canonical: &str, person: &str, base: Base) -> Result<()> {
    match t.card_owner(canonical)? {
        Some(owner) if owner != person => Err(Error::Conflict {
            code: "card_taken",
            message: format!(
                "card {} already belongs to person \"{owner}\"",
                cards::display(canonical, base)
            ),
        }),
        _ => Ok(()),
    }
}

/// Adds a card to `p` following the rules: at most 5, no duplicate, exactly one main card.
pub fn push_card(p: &mut Person, card: Card, base: Base) -> Result<()> {
    if p.cards.len() >= MAX_CARDS {
        return Err(Error::invalid(
            "card_limit",
            "number",
            format!(
                "a person has at most {MAX_CARDS} cards; \"{}\" already has {}",
                p.id,
                p.cards.len()
            ),
        ));
    }
    if p.cards.iter().any(|c| c.number == card.number) {
        return Err(Error::Conflict {
            code: "card_taken",
            message: format!(
                "\"{}\" already has card {}",
                p.id,
                cards::display(&card.number, base)
            ),
        });
    }
    let main = card.main || p.cards.is_empty();
    if main {
        for c in &mut p.cards {
            c.main = false;
        }
    }
    p.cards.push(Card { main, ..card });
    Ok(())
}

fn ensure_main(p: &mut Person) {
    if !p.cards.is_empty() && !p.cards.iter().any(|c| c.main) {
        p.cards[0].main = true;
    }
}

fn department_exists(txn: &WriteTransaction, id: u64) -> Result<departments::Tree> {
    let tree = departments::load_tree(&txn.open_table(DEPARTMENTS).map_err(StoreError::from)?)?;
    if !tree.contains_key(&id) {
        return Err(Error::invalid(
            "department_unknown",
            "department",
            format!("there is no department {id}"),
        ));
    }
    Ok(tree)
}

fn audit_person(
    app: &App,
    txn: &WriteTransaction,
    actor: &Actor,
    action: &str,
    id: &str,
    detail: impl Into<String>,
) -> Result<()> {
    audit::record(
        txn,
        app.config.audit_retention,
        Some(&actor.username),
        actor.ip,
        action,
        id,
        detail,
    )
}

// ---------- operations ----------

/// Reads one person as shown.
pub fn get(app: &App, id: &str) -> Result<PersonView> {
    let base = cards::settings(app)?.display;
    app.store.read(|txn| {
        let t = txn.open_table(PERSONS).map_err(StoreError::from)?;
        let p: Person = store::get(&t, id)?
            .ok_or_else(|| Error::NotFound(format!("no person with ID \"{id}\"")))?;
        let tree = departments::load_tree(&txn.open_table(DEPARTMENTS).map_err(StoreError::from)?)?;
        Ok(view(&p, &tree, base))
    })
}

/// Reads one person as stored (templates included), for devices and the readers.
pub fn load(app: &App, id: &str) -> Result<Person> {
    app.store.read(|txn| {
        let t = txn.open_table(PERSONS).map_err(StoreError::from)?;
        store::get(&t, id)?.ok_or_else(|| Error::NotFound(format!("no person with ID \"{id}\"")))
    })
}

/// Builds a new person record from input (cards not yet added).
pub fn build(input: &PersonInput, now: u64) -> Result<Person> {
    let id = check_id(&input.id)?;
    let name = check_name(&input.name)?;
    let (valid_from, valid_to) = check_validity(
        input.valid_from.as_deref(),
        input.valid_to.as_deref(),
        now,
        None,
    )?;
    Ok(Person {
        id,
        name,
        department: input.department.unwrap_or(departments::ROOT),
        kind: input.kind.unwrap_or_default(),
        valid_from,
        valid_to,
        password: check_password(input.password.as_deref().unwrap_or(""))?,
        cards: Vec::new(),
        room: check_room(input.room.as_deref())?,
        more: check_more(&input.more)?,
        fingerprints: Vec::new(),
        face: None,
        has_photo: false,
        created: now,
        updated: now,
    })
}

pub fn create(app: &App, actor: &Actor, input: &PersonInput) -> Result<PersonView> {
    let settings = cards::settings(app)?;
    let now = crate::time::now();
    let mut p = build(input, now)?;
    let mut new_cards = Vec::new();
    for c in &input.cards {
        new_cards.push(Card {
            number: cards::parse(&c.number, settings.display, "cards")?,
            main: c.main,
            duress: c.duress,
            frozen: c.frozen,
        });
    }
    let id = p.id.clone();
    app.store.write(|txn| {
        department_exists(txn, p.department)?;
        let mut t = Tables::open(txn)?;
        if t.get(&p.id)?.is_some() {
            return Err(Error::Conflict {
                code: "person_id_taken",
                message: format!("a person with ID \"{}\" already exists", p.id),
            });
        }
        for c in new_cards {
            check_card_free(&t, &c.number, &p.id, settings.display)?;
            push_card(&mut p, c, settings.display)?;
        }
        t.put(&p, None)?;
        drop(t);
        audit_person(
            app,
            txn,
            actor,
            "person.create",
            &p.id,
            format!("\"{}\"", p.name),
        )
    })?;
    get(app, &id)
}

pub fn update(app: &App, actor: &Actor, id: &str, patch: &PersonPatch) -> Result<PersonView> {
    let name = patch.name.as_deref().map(check_name).transpose()?;
    let password = patch.password.as_deref().map(check_password).transpose()?;
    let more = patch.more.as_ref().map(check_more).transpose()?;
    let room = patch
        .room
        .as_deref()
        .map(|r| check_room(Some(r)))
        .transpose()?;
    app.store.write(|txn| {
        let mut t = Tables::open(txn)?;
        let before = t.must(id)?;
        let mut p = before.clone();
        if let Some(d) = patch.department {
            department_exists(txn, d)?;
            p.department = d;
        }
        if patch.valid_from.is_some() || patch.valid_to.is_some() {
            let (f, to) = check_validity(
                patch.valid_from.as_deref(),
                patch.valid_to.as_deref(),
                p.valid_from,
                patch.valid_to.is_none().then_some(p.valid_to),
            )?;
            p.valid_from = f;
            p.valid_to = to;
        }
        if let Some(n) = name.clone() {
            p.name = n;
        }
        if let Some(pw) = password.clone() {
            p.password = pw;
        }
        if let Some(m) = more.clone() {
            p.more = m;
        }
        if let Some(r) = room.clone() {
            p.room = r;
        }
        if let Some(k) = patch.kind {
            p.kind = k;
        }
        p.updated = crate::time::now();
        t.put(&p, Some(&before))?;
        drop(t);
        audit_person(app, txn, actor, "person.update", id, "details changed")
    })?;
    get(app, id)
}

pub fn delete(app: &App, actor: &Actor, id: &str) -> Result<()> {
    app.store.write(|txn| {
        let mut t = Tables::open(txn)?;
        let p = t.must(id)?;
        t.remove(&p)?;
        drop(t);
        txn.open_table(PHOTOS)
            .map_err(StoreError::from)?
            .remove(id)
            .map_err(StoreError::from)?;
        audit_person(
            app,
            txn,
            actor,
            "person.delete",
            id,
            format!("\"{}\" and all its data", p.name),
        )
    })
}

/// Runs `change` on person `id` with the card settings, then stores it, in one transaction.
fn change_person(
    app: &App,
    actor: &Actor,
    id: &str,
    action: &str,
    change: impl FnOnce(&mut Person, &Tables<'_>, &CardSettings) -> Result<String>,
) -> Result<PersonView> {
    let settings = cards::settings(app)?;
    app.store.write(|txn| {
        let mut t = Tables::open(txn)?;
        let before = t.must(id)?;
        let mut p = before.clone();
        let detail = change(&mut p, &t, &settings)?;
        ensure_main(&mut p);
        p.updated = crate::time::now();
        t.put(&p, Some(&before))?;
        drop(t);
        audit_person(app, txn, actor, action, id, detail)
    })?;
    get(app, id)
}

fn find_card<'a>(p: &'a mut Person, number: &str, base: Base) -> Result<(usize, &'a mut Card)> {
    let canonical = cards::parse(number, base, "number")?;
    let pid = p.id.clone();
    p.cards
        .iter_mut()
        .enumerate()
        .find(|(_, c)| c.number == canonical)
        .ok_or_else(|| {
            Error::NotFound(format!(
                "\"{pid}\" has no card {}",
                cards::display(&canonical, base)
            ))
        })
}

pub fn add_card(app: &App, actor: &Actor, id: &str, card: &CardInput) -> Result<PersonView> {
    change_person(app, actor, id, "person.card.add", |p, t, s| {
        let number = cards::parse(&card.number, s.display, "number")?;
        check_card_free(t, &number, &p.id, s.display)?;
        let shown = cards::display(&number, s.display);
        push_card(
            p,
            Card {
                number,
                main: card.main,
                duress: card.duress,
                frozen: card.frozen,
            },
            s.display,
        )?;
        Ok(format!("card {shown} added"))
    })
}

/// Changes the flags of card `number` (main, duress, frozen).
pub fn update_card(
    app: &App,
    actor: &Actor,
    id: &str,
    number: &str,
    patch: &CardPatch,
) -> Result<PersonView> {
    change_person(app, actor, id, "person.card.update", |p, _, s| {
        let (i, c) = find_card(p, number, s.display)?;
        let mut what = Vec::new();
        if let Some(d) = patch.duress {
            c.duress = d;
            what.push(if d { "duress" } else { "not duress" });
        }
        if let Some(f) = patch.frozen {
            c.frozen = f;
            what.push(if f { "frozen" } else { "unfrozen" });
        }
        if patch.main == Some(true) {
            for (j, other) in p.cards.iter_mut().enumerate() {
                other.main = j == i;
            }
            what.push("main card");
        } else if patch.main == Some(false) {
            return Err(Error::invalid(
                "card_main",
                "main",
                "choose another card as main instead",
            ));
        }
        Ok(format!("card {number}: {}", what.join(", ")))
    })
}

/// Replaces card `number` by `new_number`, keeping its flags.
pub fn replace_card(
    app: &App,
    actor: &Actor,
    id: &str,
    number: &str,
    new_number: &str,
) -> Result<PersonView> {
    change_person(app, actor, id, "person.card.replace", |p, t, s| {
        let new = cards::parse(new_number, s.display, "new_number")?;
        check_card_free(t, &new, &p.id, s.display)?;
        if p.cards.iter().any(|c| c.number == new) {
            return Err(Error::Conflict {
                code: "card_taken",
                message: format!("\"{}\" already has card {new_number}", p.id),
            });
        }
        let (_, c) = find_card(p, number, s.display)?;
        c.number = new;
        Ok(format!("card {number} replaced by {new_number}"))
    })
}

pub fn delete_card(app: &App, actor: &Actor, id: &str, number: &str) -> Result<PersonView> {
    change_person(app, actor, id, "person.card.delete", |p, _, s| {
        let (i, _) = find_card(p, number, s.display)?;
        p.cards.remove(i);
        Ok(format!("card {number} deleted"))
    })
}

// ---------- fingerprints ----------

/// The largest fingerprint template kept (R307/AS608 templates are 512 bytes).
pub const MAX_TEMPLATE_BYTES: usize = 2048;

/// Whether `id` may get another fingerprint (exists, fewer than [`MAX_FINGERPRINTS`]).
pub fn check_fingerprint_room(app: &App, id: &str) -> Result<()> {
    fingerprint_room(&load(app, id)?)
}

fn fingerprint_room(p: &Person) -> Result<()> {
    if p.fingerprints.len() >= MAX_FINGERPRINTS {
        return Err(Error::invalid(
            "fingerprint_limit",
            "person",
            format!(
                "\"{}\" already has {MAX_FINGERPRINTS} fingerprints; delete one first",
                p.id
            ),
        ));
    }
    Ok(())
}

/// Stores a fingerprint template taken by `source` (e.g. `scanner:/dev/gatehouse-fp`) with the
/// person: at most [`MAX_FINGERPRINTS`], each marked duress or not.
pub fn add_fingerprint(
    app: &App,
    actor: &Actor,
    id: &str,
    data: Vec<u8>,
    duress: bool,
    source: &str,
) -> Result<PersonView> {
    if data.is_empty() || data.len() > MAX_TEMPLATE_BYTES {
        return Err(Error::invalid(
            "fingerprint_template",
            "template",
            format!("a fingerprint template has 1 to {MAX_TEMPLATE_BYTES} bytes"),
        ));
    }
    change_person(app, actor, id, "person.fingerprint.add", |p, _, _| {
        fingerprint_room(p)?;
        let n = p.fingerprints.len() + 1;
        p.fingerprints.push(Template {
            data,
            source: source.to_owned(),
            captured: crate::time::now(),
            duress,
        });
        Ok(format!(
            "fingerprint {n} enrolled{}",
            if duress { " (duress)" } else { "" }
        ))
    })
}

fn fingerprint_index(p: &Person, index: usize) -> Result<usize> {
    if index == 0 || index > p.fingerprints.len() {
        return Err(Error::NotFound(format!(
            "\"{}\" has no fingerprint {index}",
            p.id
        )));
    }
    Ok(index - 1)
}

/// The template of fingerprint `index` (1-based), as the scanner gave it.
pub fn fingerprint_template(app: &App, id: &str, index: usize) -> Result<Vec<u8>> {
    let mut p = load(app, id)?;
    let i = fingerprint_index(&p, index)?;
    Ok(p.fingerprints.swap_remove(i).data)
}

/// Marks fingerprint `index` (1-based, in the order enrolled) as a duress finger or not.
pub fn set_fingerprint_duress(
    app: &App,
    actor: &Actor,
    id: &str,
    index: usize,
    duress: bool,
) -> Result<PersonView> {
    change_person(app, actor, id, "person.fingerprint.change", |p, _, _| {
        let i = fingerprint_index(p, index)?;
        if let Some(t) = p.fingerprints.get_mut(i) {
            t.duress = duress;
        }
        Ok(format!(
            "fingerprint {index} {}",
            if duress {
                "marked duress"
            } else {
                "no longer duress"
            }
        ))
    })
}

/// Deletes fingerprint `index` (1-based); the later ones move up.
pub fn delete_fingerprint(app: &App, actor: &Actor, id: &str, index: usize) -> Result<PersonView> {
    change_person(app, actor, id, "person.fingerprint.delete", |p, _, _| {
        let i = fingerprint_index(p, index)?;
        p.fingerprints.remove(i);
        Ok(format!("fingerprint {index} deleted"))
    })
}

// ---------- photo ----------

pub fn check_photo(bytes: &[u8]) -> Result<crate::images::Image> {
    crate::images::check(
        bytes,
        &crate::images::Limits {
            what: "photo",
            field: "photo",
            codes: [
                "photo_empty",
                "photo_too_large",
                "photo_type",
                "photo_dimensions",
            ],
            max_bytes: MAX_PHOTO_BYTES,
            max_pixels: MAX_PHOTO_PIXELS,
        },
    )
}

pub fn set_photo(app: &App, actor: &Actor, id: &str, bytes: &[u8]) -> Result<()> {
    let img = check_photo(bytes)?;
    app.store.write(|txn| {
        let mut t = Tables::open(txn)?;
        let before = t.must(id)?;
        let mut p = before.clone();
        p.has_photo = true;
        p.updated = crate::time::now();
        t.put(&p, Some(&before))?;
        drop(t);
        let mut ph = txn.open_table(PHOTOS).map_err(StoreError::from)?;
        store::put(&mut ph, id, &img)?;
        drop(ph);
        audit_person(
            app,
            txn,
            actor,
            "person.photo",
            id,
            format!("photo set ({}×{})", img.width, img.height),
        )
    })
}

pub fn photo(app: &App, id: &str) -> Result<Option<crate::images::Image>> {
    app.store.read(|txn| {
        let t = txn.open_table(PHOTOS).map_err(StoreError::from)?;
        Ok(store::get(&t, id)?)
    })
}

pub fn delete_photo(app: &App, actor: &Actor, id: &str) -> Result<()> {
    app.store.write(|txn| {
        let mut t = Tables::open(txn)?;
        let before = t.must(id)?;
        let mut p = before.clone();
        p.has_photo = false;
        t.put(&p, Some(&before))?;
        drop(t);
        txn.open_table(PHOTOS)
            .map_err(StoreError::from)?
            .remove(id)
            .map_err(StoreError::from)?;
        audit_person(app, txn, actor, "person.photo", id, "photo removed")
    })
}

// ---------- search ----------

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum SearchBy {
    /// Person ID, name or card number.
    #[default]
    Any,
    Id,
    Name,
    Card,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct SearchQuery {
    /// Text to find: a person ID (prefix), a name (substring, any case) or a card number in the
    /// current display base (exact).
    pub q: Option<String>,
    pub by: Option<SearchBy>,
    /// Only persons of this department…
    pub department: Option<u64>,
    /// …and of its sub-departments (default true).
    pub sub_departments: Option<bool>,
    /// Only persons without a card.
    pub without_card: Option<bool>,
    /// 1-based page (default 1).
    pub page: Option<usize>,
    /// Persons per page, 1–500 (default 50).
    pub per_page: Option<usize>,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct PersonSummary {
    pub id: String,
    pub name: String,
    pub department: u64,
    pub department_path: String,
    #[serde(rename = "type")]
    pub kind: PersonType,
    pub valid_from: String,
    pub valid_to: String,
    /// The main card in the current display base.
    pub main_card: Option<String>,
    pub cards: usize,
    pub has_photo: bool,
    pub fingerprints: usize,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct SearchPage {
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    pub items: Vec<PersonSummary>,
}

pub fn summary(p: &Person, tree: &departments::Tree, base: Base) -> PersonSummary {
    PersonSummary {
        id: p.id.clone(),
        name: p.name.clone(),
        department: p.department,
        department_path: departments::path_of(tree, p.department),
        kind: p.kind,
        valid_from: crate::time::rfc3339(p.valid_from),
        valid_to: crate::time::rfc3339(p.valid_to),
        main_card: p
            .cards
            .iter()
            .find(|c| c.main)
            .map(|c| cards::display(&c.number, base)),
        cards: p.cards.len(),
        has_photo: p.has_photo,
        fingerprints: p.fingerprints.len(),
    }
}

/// The IDs matching `q`, in person-ID order (all of them, for paging and batch selection).
pub fn search_ids(app: &App, q: &SearchQuery, base: Base) -> Result<Vec<String>> {
    let text = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let by = q.by.unwrap_or_default();
    app.store.read(|txn| {
        let tree = departments::load_tree(&txn.open_table(DEPARTMENTS).map_err(StoreError::from)?)?;
        let depts: Option<HashSet<u64>> = q.department.map(|d| {
            if q.sub_departments.unwrap_or(true) {
                departments::subtree(&tree, d)
            } else {
                HashSet::from([d])
            }
        });
        let idx = txn.open_table(PERSON_INDEX).map_err(StoreError::from)?;
        let keep = |e: &IndexEntry| {
            depts.as_ref().is_none_or(|d| d.contains(&e.department))
                && (!q.without_card.unwrap_or(false) || e.cards == 0)
        };
        // Card lookups go through the card index: one read, whatever the number of persons.
        let card_hit = match (text, by) {
            (Some(t), SearchBy::Card | SearchBy::Any) => match cards::parse(t, base, "q") {
                Ok(c) => {
                    let ct = txn.open_table(CARDS).map_err(StoreError::from)?;
                    let owner = ct
                        .get(c.as_str())
                        .map_err(StoreError::from)?
                        .map(|g| String::from_utf8_lossy(g.value()).into_owned());
                    owner
                }
                Err(e) if by == SearchBy::Card => return Err(e),
                Err(_) => None,
            },
            _ => None,
        };
        if by == SearchBy::Card {
            let mut out = Vec::new();
            if let Some(id) = card_hit {
                if let Some(e) = store::get::<IndexEntry>(&idx, &id)? {
                    if keep(&e) {
                        out.push(id);
                    }
                }
            }
            return Ok(out);
        }
        let lower = text.map(str::to_lowercase);
        let mut out = Vec::new();
        for row in idx.iter().map_err(StoreError::from)? {
            let (k, v) = row.map_err(StoreError::from)?;
            let id = k.value();
            let e: IndexEntry = store::codec::decode(v.value())?;
            if !keep(&e) {
                continue;
            }
            let hit = match (&lower, by) {
                (None, _) => true,
                (Some(t), SearchBy::Id) => id.to_lowercase().starts_with(t.as_str()),
                (Some(t), SearchBy::Name) => e.name_lower.contains(t.as_str()),
                (Some(t), _) => {
                    id.to_lowercase().starts_with(t.as_str())
                        || e.name_lower.contains(t.as_str())
                        || card_hit.as_deref() == Some(id)
                }
            };
            if hit {
                out.push(id.to_owned());
            }
        }
        Ok(out)
    })
}

pub fn search(app: &App, q: &SearchQuery) -> Result<SearchPage> {
    let base = cards::settings(app)?.display;
    let ids = search_ids(app, q, base)?;
    let per_page = q.per_page.unwrap_or(50).clamp(1, 500);
    let page = q.page.unwrap_or(1).max(1);
    let start = (page - 1).saturating_mul(per_page);
    let items = app.store.read(|txn| {
        let t = txn.open_table(PERSONS).map_err(StoreError::from)?;
        let tree = departments::load_tree(&txn.open_table(DEPARTMENTS).map_err(StoreError::from)?)?;
        let mut items = Vec::new();
        for id in ids.iter().skip(start).take(per_page) {
            if let Some(p) = store::get::<Person>(&t, id)? {
                items.push(summary(&p, &tree, base));
            }
        }
        Ok::<_, Error>(items)
    })?;
    Ok(SearchPage {
        total: ids.len(),
        page,
        per_page,
        items,
    })
}

/// Number of persons.
pub fn count(app: &App) -> Result<u64> {
    app.store.read(|txn| {
        Ok(txn
            .open_table(PERSON_INDEX)
            .map_err(StoreError::from)?
            .len()
            .map_err(StoreError::from)?)
    })
}
