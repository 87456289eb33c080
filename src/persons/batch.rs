//! Batch work on persons: batch add (manual 1.2.4) with generated IDs in one transaction, batch
//! edit of department and validity (1.2.5.7), batch delete of a selection, and card-issuing
//! sessions (1.2.4, 1.2.5.1): an ordered list of persons waiting for a card, each number — typed
//! now, read from a card issuer later — going to the next person waiting (or to a chosen one), one
//! transaction per card. Sessions live in memory, bounded in number and size. Owns no table of its
//! own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{cards, check_validity, departments, push_card, Card, Person, PersonType, Tables};
use crate::accounts::Actor;
use crate::app::App;
use crate::error::{Error, Result};
use crate::store::{StoreError, DEPARTMENTS};

pub const MAX_BATCH: usize = 1000;
const MAX_SESSIONS: usize = 16;
const SESSION_IDLE: Duration = Duration::from_secs(3600);

#[derive(Deserialize, Serialize, Clone, Debug, ToSchema)]
pub struct BatchAdd {
    /// First person ID; it must end in digits, which count up (`A0998` → `A0999`, `A1000`).
    pub start_id: String,
    pub count: usize,
    pub department: Option<u64>,
    #[serde(rename = "type")]
    pub kind: Option<PersonType>,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
}

/// The IDs `start`, `start + 1`, … keeping the width of the trailing digits.
pub fn generate_ids(start: &str, count: usize) -> Result<Vec<String>> {
    let start = super::check_id(start).map_err(|_| {
        Error::invalid(
            "person_id_format",
            "start_id",
            "the start ID must have 1 to 30 letters and digits",
        )
    })?;
    if count == 0 || count > MAX_BATCH {
        return Err(Error::invalid(
            "batch_count",
            "count",
            format!("add 1 to {MAX_BATCH} persons at a time"),
        ));
    }
    let split = start.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (prefix, digits) = start.split_at(split);
    if digits.is_empty() || digits.len() > 18 {
        return Err(Error::invalid(
            "batch_start_id",
            "start_id",
            "the start ID must end in digits (at most 18), e.g. 1001 or A0001",
        ));
    }
    let first: u64 = digits.parse().map_err(|_| {
        Error::invalid(
            "batch_start_id",
            "start_id",
            "the start ID must end in digits",
        )
    })?;
    let width = digits.len();
    let mut out = Vec::with_capacity(count);
    for i in 0..count as u64 {
        let id = format!("{prefix}{:0width$}", first + i);
        if id.len() > 30 {
            return Err(Error::invalid(
                "batch_start_id",
                "start_id",
                "the generated IDs would exceed 30 characters",
            ));
        }
        out.push(id);
    }
    Ok(out)
}

/// Creates `count` persons in one transaction; their names are their IDs until edited.
pub fn add(app: &App, actor: &Actor, req: &BatchAdd) -> Result<Vec<String>> {
    let ids = generate_ids(&req.start_id, req.count)?;
    let now = crate::time::now();
    let (from, to) = check_validity(
        req.valid_from.as_deref(),
        req.valid_to.as_deref(),
        now,
        None,
    )?;
    let department = req.department.unwrap_or(departments::ROOT);
    app.store.write(|txn| {
        let tree = departments::load_tree(&txn.open_table(DEPARTMENTS).map_err(StoreError::from)?)?;
        if !tree.contains_key(&department) {
            return Err(Error::invalid(
                "department_unknown",
                "department",
                format!("there is no department {department}"),
            ));
        }
        let mut t = Tables::open(txn)?;
        let taken: Vec<&String> = ids
            .iter()
            .filter(|id| t.get(id).ok().flatten().is_some())
            .take(5)
            .collect();
        if !taken.is_empty() {
            return Err(Error::Conflict {
                code: "person_id_taken",
                message: format!(
                    "these IDs already exist: {}; choose another start ID",
                    taken
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        for id in &ids {
            let p = Person {
                id: id.clone(),
                name: id.clone(),
                department,
                kind: req.kind.unwrap_or_default(),
                valid_from: from,
                valid_to: to,
                password: None,
                cards: Vec::new(),
                room: None,
                more: Default::default(),
                fingerprints: Vec::new(),
                face: None,
                has_photo: false,
                created: now,
                updated: now,
            };
            t.put(&p, None)?;
        }
        drop(t);
        crate::audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "person.batch_add",
            &format!("{}…{}", ids[0], ids[ids.len() - 1]),
            format!(
                "{} persons added to {}",
                ids.len(),
                departments::path_of(&tree, department)
            ),
        )
    })?;
    Ok(ids)
}

#[derive(Deserialize, Serialize, Clone, Debug, ToSchema)]
pub struct BatchEdit {
    pub ids: Vec<String>,
    pub department: Option<u64>,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
}

/// Department and/or validity for the selected persons, in one transaction.
pub fn edit(app: &App, actor: &Actor, req: &BatchEdit) -> Result<usize> {
    if req.ids.is_empty() || req.ids.len() > 100_000 {
        return Err(Error::invalid(
            "batch_selection",
            "ids",
            "select at least one person",
        ));
    }
    let times = req.valid_from.is_some() || req.valid_to.is_some();
    if req.department.is_none() && !times {
        return Err(Error::invalid(
            "batch_nothing",
            "department",
            "choose a department or a validity period to set",
        ));
    }
    let validity = if times {
        Some(check_validity(
            req.valid_from.as_deref(),
            req.valid_to.as_deref(),
            crate::time::now(),
            None,
        )?)
    } else {
        None
    };
    app.store.write(|txn| {
        let tree = departments::load_tree(&txn.open_table(DEPARTMENTS).map_err(StoreError::from)?)?;
        if let Some(d) = req.department {
            if !tree.contains_key(&d) {
                return Err(Error::invalid(
                    "department_unknown",
                    "department",
                    format!("there is no department {d}"),
                ));
            }
        }
        let mut t = Tables::open(txn)?;
        for id in &req.ids {
            let before = t.must(id)?;
            let mut p = before.clone();
            if let Some(d) = req.department {
                p.department = d;
            }
            if let Some((f, to)) = validity {
                p.valid_from = f;
                p.valid_to = to;
            }
            p.updated = crate::time::now();
            t.put(&p, Some(&before))?;
        }
        drop(t);
        let mut what = Vec::new();
        if let Some(d) = req.department {
            what.push(format!("department {}", departments::path_of(&tree, d)));
        }
        if let Some((f, to)) = validity {
            what.push(format!(
                "valid {} to {}",
                crate::time::rfc3339(f),
                crate::time::rfc3339(to)
            ));
        }
        crate::audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "person.batch_edit",
            &format!("{} persons", req.ids.len()),
            what.join("; "),
        )
    })?;
    Ok(req.ids.len())
}

/// Deletes the selected persons with all their data (cards, photo), in one transaction.
pub fn delete(app: &App, actor: &Actor, ids: &[String]) -> Result<usize> {
    if ids.is_empty() || ids.len() > 100_000 {
        return Err(Error::invalid(
            "batch_selection",
            "ids",
            "select at least one person",
        ));
    }
    app.store.write(|txn| {
        let mut t = Tables::open(txn)?;
        for id in ids {
            let p = t.must(id)?;
            t.remove(&p)?;
        }
        drop(t);
        let mut photos = txn
            .open_table(crate::store::PHOTOS)
            .map_err(StoreError::from)?;
        for id in ids {
            photos.remove(id.as_str()).map_err(StoreError::from)?;
        }
        drop(photos);
        crate::audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "person.batch_delete",
            &format!("{} persons", ids.len()),
            ids.join(", "),
        )
    })?;
    Ok(ids.len())
}

// ---------- card-issuing sessions ----------

#[derive(Deserialize, Serialize, Clone, Debug, ToSchema)]
pub struct IssueStart {
    /// Persons in the order cards will be issued; persons that already have a card are refused.
    pub ids: Vec<String>,
    /// Validity given to each person when its card is issued (both or neither).
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct IssueItem {
    pub id: String,
    pub name: String,
    /// The card issued in this session, in the current display base.
    pub card: Option<String>,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct IssueSession {
    pub session: String,
    pub items: Vec<IssueItem>,
    /// The next person waiting for a card, or null when all have one.
    pub next: Option<String>,
    pub issued: usize,
    pub started_by: String,
}

struct Session {
    owner: String,
    items: Vec<(String, String, Option<String>)>,
    validity: Option<(u64, u64)>,
    touched: Instant,
}

#[derive(Default)]
pub struct Sessions {
    inner: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn session_view(id: &str, s: &Session, base: cards::Base) -> IssueSession {
    IssueSession {
        session: id.to_owned(),
        items: s
            .items
            .iter()
            .map(|(pid, name, card)| IssueItem {
                id: pid.clone(),
                name: name.clone(),
                card: card.as_deref().map(|c| cards::display(c, base)),
            })
            .collect(),
        next: s
            .items
            .iter()
            .find(|(_, _, c)| c.is_none())
            .map(|(p, _, _)| p.clone()),
        issued: s.items.iter().filter(|(_, _, c)| c.is_some()).count(),
        started_by: s.owner.clone(),
    }
}

/// Starts a session for persons without a card.
pub fn start(app: &App, actor: &Actor, req: &IssueStart) -> Result<IssueSession> {
    if req.ids.is_empty() || req.ids.len() > MAX_BATCH {
        return Err(Error::invalid(
            "batch_selection",
            "ids",
            format!("select 1 to {MAX_BATCH} persons"),
        ));
    }
    let validity = match (&req.valid_from, &req.valid_to) {
        (None, None) => None,
        (f, t) => Some(check_validity(
            f.as_deref(),
            t.as_deref(),
            crate::time::now(),
            None,
        )?),
    };
    let mut items = Vec::new();
    let mut with_card = Vec::new();
    app.store.read(|txn| {
        let t = txn
            .open_table(crate::store::PERSONS)
            .map_err(StoreError::from)?;
        for id in &req.ids {
            let p: Person = crate::store::get(&t, id)?
                .ok_or_else(|| Error::NotFound(format!("no person with ID \"{id}\"")))?;
            if p.cards.is_empty() {
                items.push((p.id, p.name, None));
            } else {
                with_card.push(p.id);
            }
        }
        Ok::<_, Error>(())
    })?;
    if !with_card.is_empty() {
        return Err(Error::invalid(
            "batch_has_card",
            "ids",
            format!(
                "these persons already have a card: {}",
                with_card.join(", ")
            ),
        ));
    }
    let id = crate::accounts::sessions::random_token(8)?;
    let s = Session {
        owner: actor.username.clone(),
        items,
        validity,
        touched: Instant::now(),
    };
    let base = cards::settings(app)?.display;
    let view = session_view(&id, &s, base);
    let mut map = app.card_sessions.lock();
    map.retain(|_, s| s.touched.elapsed() < SESSION_IDLE);
    if map.len() >= MAX_SESSIONS {
        if let Some(oldest) = map
            .iter()
            .min_by_key(|(_, s)| s.touched)
            .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
    }
    map.insert(id, s);
    Ok(view)
}

pub fn view(app: &App, session: &str) -> Result<IssueSession> {
    let base = cards::settings(app)?.display;
    let map = app.card_sessions.lock();
    let s = map.get(session).ok_or_else(|| {
        Error::NotFound(format!(
            "no card-issuing session {session} (it may have expired)"
        ))
    })?;
    Ok(session_view(session, s, base))
}

pub fn stop(app: &App, session: &str) -> Result<()> {
    // Reading cards into this list from the card issuer stops with it.
    app.readers.card.stop_session(session);
    app.card_sessions
        .lock()
        .remove(session)
        .map(|_| ())
        .ok_or_else(|| Error::NotFound(format!("no card-issuing session {session}")))
}

/// Gives card `number` (in the display base) to `person` — or to the next person waiting — and
/// stores it at once. Duplicates are refused and the person stays waiting.
pub fn issue(
    app: &App,
    actor: &Actor,
    session: &str,
    number: &str,
    person: Option<&str>,
) -> Result<IssueSession> {
    let settings = cards::settings(app)?;
    let canonical = cards::parse(number, settings.display, "number")?;
    let (target, validity) = {
        let map = app.card_sessions.lock();
        let s = map
            .get(session)
            .ok_or_else(|| Error::NotFound(format!("no card-issuing session {session}")))?;
        if s.items
            .iter()
            .any(|(_, _, c)| c.as_deref() == Some(canonical.as_str()))
        {
            return Err(Error::Conflict {
                code: "card_taken",
                message: format!("card {number} was already issued in this session"),
            });
        }
        let target = match person {
            Some(p) => s
                .items
                .iter()
                .find(|(id, _, _)| id == p)
                .map(|(id, _, _)| id.clone())
                .ok_or_else(|| {
                    Error::invalid(
                        "batch_person",
                        "person",
                        format!("\"{p}\" is not in this card list"),
                    )
                })?,
            None => s
                .items
                .iter()
                .find(|(_, _, c)| c.is_none())
                .map(|(id, _, _)| id.clone())
                .ok_or_else(|| {
                    Error::invalid(
                        "batch_done",
                        "number",
                        "every person in this list has a card",
                    )
                })?,
        };
        (target, s.validity)
    };
    app.store.write(|txn| {
        let mut t = Tables::open(txn)?;
        super::check_card_free(&t, &canonical, &target, settings.display)?;
        let before = t.must(&target)?;
        let mut p = before.clone();
        // In a session a person gets one card: a second number for the same row replaces it.
        let previous: Option<String> = {
            let map = app.card_sessions.lock();
            map.get(session).and_then(|s| {
                s.items
                    .iter()
                    .find(|(id, _, _)| *id == target)
                    .and_then(|(_, _, c)| c.clone())
            })
        };
        if let Some(prev) = &previous {
            p.cards.retain(|c| &c.number != prev);
        }
        push_card(
            &mut p,
            Card {
                number: canonical.clone(),
                main: true,
                duress: false,
                frozen: false,
            },
            settings.display,
        )?;
        if let Some((f, to)) = validity {
            p.valid_from = f;
            p.valid_to = to;
        }
        p.updated = crate::time::now();
        t.put(&p, Some(&before))?;
        drop(t);
        crate::audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "person.card.issue",
            &target,
            format!(
                "card {} issued",
                cards::display(&canonical, settings.display)
            ),
        )
    })?;
    let mut map = app.card_sessions.lock();
    let s = map
        .get_mut(session)
        .ok_or_else(|| Error::NotFound(format!("no card-issuing session {session}")))?;
    if let Some(item) = s.items.iter_mut().find(|(id, _, _)| *id == target) {
        item.2 = Some(canonical);
    }
    s.touched = Instant::now();
    Ok(session_view(session, s, settings.display))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_count_up_keeping_width() {
        assert_eq!(
            generate_ids("A0998", 3).unwrap(),
            ["A0998", "A0999", "A1000"]
        );
        assert_eq!(generate_ids("1001", 2).unwrap(), ["1001", "1002"]);
        assert_eq!(generate_ids("99", 2).unwrap(), ["99", "100"]);
        assert_eq!(generate_ids("ABC", 2).unwrap_err().code(), "batch_start_id");
        assert_eq!(generate_ids("1", 0).unwrap_err().code(), "batch_count");
        assert_eq!(generate_ids("1", 1001).unwrap_err().code(), "batch_count");
    }
}
