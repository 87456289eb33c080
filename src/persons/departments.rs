//! Departments (manual 1.2.1): a tree under the company (the root, id 1); add under any
//! department, rename, delete (refused while it holds persons or sub-departments, with the counts).
//! Names are unique among siblings. Owns the `DEPARTMENTS` table; reads `PERSON_INDEX` to count.

use std::collections::{BTreeMap, HashSet};

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::index_entries;
use crate::accounts::Actor;
use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::store::{codec, StoreError, Versioned, DEPARTMENTS, PERSON_INDEX};

/// The root department: the company itself.
pub const ROOT: u64 = 1;
pub const MAX_DEPARTMENTS: usize = 2000;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Department {
    pub id: u64,
    pub parent: Option<u64>,
    pub name: String,
}

impl Versioned for Department {
    const KIND: &'static str = "department";
    const VERSION: u8 = 1;
}

/// A department as listed: with its path and counts.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct DepartmentView {
    pub id: u64,
    /// `null` for the root (the company).
    pub parent: Option<u64>,
    pub name: String,
    /// Names from the root, joined with `/`, e.g. `Company/HR/Payroll`.
    pub path: String,
    /// Persons directly in this department.
    pub persons: usize,
    /// Direct sub-departments.
    pub children: usize,
    pub depth: usize,
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct NewDepartment {
    pub parent: u64,
    pub name: String,
}

/// All departments of a snapshot, by id.
pub type Tree = BTreeMap<u64, Department>;

pub fn load_tree(t: &impl ReadableTable<u64, &'static [u8]>) -> Result<Tree> {
    let mut out = Tree::new();
    for row in t.iter().map_err(StoreError::from)? {
        let (k, v) = row.map_err(StoreError::from)?;
        out.insert(k.value(), codec::decode(v.value())?);
    }
    if out.is_empty() {
        out.insert(ROOT, root());
    }
    Ok(out)
}

fn root() -> Department {
    Department {
        id: ROOT,
        parent: None,
        name: "Company".into(),
    }
}

/// `Company/HR/Payroll` for a department id.
pub fn path_of(tree: &Tree, id: u64) -> String {
    let mut names = Vec::new();
    let mut cur = Some(id);
    let mut guard = 0;
    while let Some(i) = cur {
        let Some(d) = tree.get(&i) else { break };
        names.push(d.name.as_str());
        cur = d.parent;
        guard += 1;
        if guard > 64 {
            break;
        }
    }
    names.reverse();
    names.join("/")
}

/// The department at `path` (names joined with `/`; the root's name may be left out).
pub fn find_path(tree: &Tree, path: &str) -> Option<u64> {
    let mut parts: Vec<&str> = path
        .split('/')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let root_name = tree
        .get(&ROOT)
        .map(|d| d.name.as_str())
        .unwrap_or("Company");
    if parts
        .first()
        .is_some_and(|p| p.eq_ignore_ascii_case(root_name))
    {
        parts.remove(0);
    }
    let mut cur = ROOT;
    for p in parts {
        cur = tree
            .values()
            .find(|d| d.parent == Some(cur) && d.name.eq_ignore_ascii_case(p))?
            .id;
    }
    Some(cur)
}

/// `id` and every department below it.
pub fn subtree(tree: &Tree, id: u64) -> HashSet<u64> {
    let mut out = HashSet::from([id]);
    let mut grew = true;
    while grew {
        grew = false;
        for d in tree.values() {
            if let Some(p) = d.parent {
                if out.contains(&p) && out.insert(d.id) {
                    grew = true;
                }
            }
        }
    }
    out
}

fn check_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 64 || n.contains('/') {
        return Err(Error::invalid(
            "department_name",
            "name",
            "a department name has 1 to 64 characters and no '/'",
        ));
    }
    Ok(n.to_owned())
}

fn sibling_taken(tree: &Tree, parent: u64, name: &str, except: Option<u64>) -> bool {
    tree.values().any(|d| {
        d.parent == Some(parent) && Some(d.id) != except && d.name.eq_ignore_ascii_case(name)
    })
}

pub fn list(app: &App) -> Result<Vec<DepartmentView>> {
    app.store.read(|txn| {
        let t = txn.open_table(DEPARTMENTS).map_err(StoreError::from)?;
        let tree = load_tree(&t)?;
        let mut persons: BTreeMap<u64, usize> = BTreeMap::new();
        let idx = txn.open_table(PERSON_INDEX).map_err(StoreError::from)?;
        for (_, e) in index_entries(&idx)? {
            *persons.entry(e.department).or_default() += 1;
        }
        // depth-first, siblings by name
        let mut out = Vec::new();
        fn walk(
            tree: &Tree,
            id: u64,
            depth: usize,
            persons: &BTreeMap<u64, usize>,
            out: &mut Vec<DepartmentView>,
        ) {
            let Some(d) = tree.get(&id) else { return };
            let mut kids: Vec<&Department> =
                tree.values().filter(|c| c.parent == Some(id)).collect();
            kids.sort_by_key(|c| c.name.to_lowercase());
            out.push(DepartmentView {
                id,
                parent: d.parent,
                name: d.name.clone(),
                path: path_of(tree, id),
                persons: persons.get(&id).copied().unwrap_or(0),
                children: kids.len(),
                depth,
            });
            if depth < 64 {
                for k in kids {
                    walk(tree, k.id, depth + 1, persons, out);
                }
            }
        }
        walk(&tree, ROOT, 0, &persons, &mut out);
        Ok(out)
    })
}

/// Adds a department in `txn` (used by import too); returns its id.
pub fn insert(txn: &WriteTransaction, tree: &mut Tree, parent: u64, name: &str) -> Result<u64> {
    let name = check_name(name)?;
    if !tree.contains_key(&parent) {
        return Err(Error::invalid(
            "department_parent",
            "parent",
            format!("there is no department {parent}"),
        ));
    }
    if sibling_taken(tree, parent, &name, None) {
        return Err(Error::conflict(
            "department_name_taken",
            format!(
                "\"{}\" already has a department named \"{name}\"",
                path_of(tree, parent)
            ),
        ));
    }
    if tree.len() >= MAX_DEPARTMENTS {
        return Err(Error::invalid(
            "department_limit",
            "name",
            format!("at most {MAX_DEPARTMENTS} departments"),
        ));
    }
    let mut t = txn.open_table(DEPARTMENTS).map_err(StoreError::from)?;
    if t.get(ROOT).map_err(StoreError::from)?.is_none() {
        t.insert(ROOT, codec::encode(&root())?.as_slice())
            .map_err(StoreError::from)?;
    }
    let id = tree.keys().next_back().copied().unwrap_or(ROOT) + 1;
    let d = Department {
        id,
        parent: Some(parent),
        name,
    };
    t.insert(id, codec::encode(&d)?.as_slice())
        .map_err(StoreError::from)?;
    tree.insert(id, d);
    Ok(id)
}

pub fn create(app: &App, actor: &Actor, req: &NewDepartment) -> Result<DepartmentView> {
    let id = app.store.write(|txn| {
        let mut tree = load_tree(&txn.open_table(DEPARTMENTS).map_err(StoreError::from)?)?;
        let id = insert(txn, &mut tree, req.parent, &req.name)?;
        let path = path_of(&tree, id);
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "department.create",
            &path,
            "created",
        )?;
        Ok::<_, Error>(id)
    })?;
    get(app, id)
}

pub fn get(app: &App, id: u64) -> Result<DepartmentView> {
    list(app)?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| Error::NotFound(format!("no department {id}")))
}

pub fn rename(app: &App, actor: &Actor, id: u64, name: &str) -> Result<DepartmentView> {
    let name = check_name(name)?;
    app.store.write(|txn| {
        let mut t = txn.open_table(DEPARTMENTS).map_err(StoreError::from)?;
        let tree = load_tree(&t)?;
        let mut d = tree
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("no department {id}")))?;
        if let Some(p) = d.parent {
            if sibling_taken(&tree, p, &name, Some(id)) {
                return Err(Error::conflict(
                    "department_name_taken",
                    format!(
                        "\"{}\" already has a department named \"{name}\"",
                        path_of(&tree, p)
                    ),
                ));
            }
        }
        let old = path_of(&tree, id);
        d.name = name.clone();
        t.insert(id, codec::encode(&d)?.as_slice())
            .map_err(StoreError::from)?;
        drop(t);
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "department.rename",
            &old,
            format!("renamed to \"{name}\""),
        )
    })?;
    get(app, id)
}

pub fn delete(app: &App, actor: &Actor, id: u64) -> Result<()> {
    if id == ROOT {
        return Err(Error::invalid(
            "department_root",
            "id",
            "the company (root department) cannot be deleted",
        ));
    }
    app.store.write(|txn| {
        let t = txn.open_table(DEPARTMENTS).map_err(StoreError::from)?;
        let tree = load_tree(&t)?;
        if !tree.contains_key(&id) {
            return Err(Error::NotFound(format!("no department {id}")));
        }
        let kids = tree.values().filter(|d| d.parent == Some(id)).count();
        drop(t);
        let idx = txn.open_table(PERSON_INDEX).map_err(StoreError::from)?;
        let persons = index_entries(&idx)?.iter().filter(|(_, e)| e.department == id).count();
        drop(idx);
        if kids > 0 || persons > 0 {
            return Err(Error::conflict(
                "department_not_empty",
                format!(
                    "\"{}\" still holds {persons} person(s) and {kids} sub-department(s); move or delete them first",
                    path_of(&tree, id)
                ),
            ));
        }
        let path = path_of(&tree, id);
        let mut t = txn.open_table(DEPARTMENTS).map_err(StoreError::from)?;
        t.remove(id).map_err(StoreError::from)?;
        drop(t);
        audit::record(txn, app.config.audit_retention, Some(&actor.username), actor.ip, "department.delete", &path, "deleted")
    })
}
