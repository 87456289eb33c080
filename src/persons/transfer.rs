//! Import and export of persons (manual 1.2.5.3–1.2.5.4): the template (header row and one example)
//! and exports as CSV or XLSX, and import of either. One row per person, columns in [`COLUMNS`]
//! order; card numbers in the current display base (stored data stays canonical hex); times as
//! `2026-11-30 08:00:00` UTC. Import is all-or-nothing: every row is checked first with the same
//! rules as the person form (ID, name, password, validity, "More Info", cards and their
//! uniqueness across the file and against other persons) and every bad row is reported with its
//! number, column and reason; only a clean file is written, in one transaction with one audit
//! entry, creating missing departments on the way. Existing IDs are updated (their cards replaced
//! by the row's). Fingerprints, face data and photos are not in the file: an update keeps them.
//! Inputs are bounded ([`MAX_BYTES`], [`MAX_ROWS`], the XLSX's unpacked size). Owns no table.

use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cards::{self, Base};
use super::{
    check_id, check_more, check_name, check_password, check_room, check_validity, departments,
    push_card, Card, MoreInfo, Person, PersonType, Tables, MAX_CARDS,
};
use crate::accounts::Actor;
use crate::app::App;
use crate::error::{Error, Result};
use crate::store::{self, StoreError, DEPARTMENTS, PERSONS};

/// The header row, in order.
pub const COLUMNS: [&str; 18] = [
    "Person ID",
    "Name",
    "Department",
    "Type",
    "Effective Time",
    "Expiry Time",
    "Password",
    "Cards",
    "Room",
    "Gender",
    "ID Type",
    "ID Number",
    "Phone",
    "Email",
    "Address",
    "Company",
    "Title",
    "Remarks",
];
/// Most person rows one file may hold.
pub const MAX_ROWS: usize = 100_000;
/// Largest file accepted.
pub const MAX_BYTES: usize = 32 * 1024 * 1024;
/// Largest unpacked size of an XLSX (a zip): guards against zip bombs. 10,000 full rows unpack
/// to about 8.5 MiB, so 100,000 rows fit with room to spare.
const MAX_UNPACKED: u64 = 256 * 1024 * 1024;
/// At most this many errors are listed; the rest are counted in a last entry.
pub const MAX_ERRORS: usize = 10_000;

const ID: usize = 0;
const NAME: usize = 1;
const DEPT: usize = 2;
const TYPE: usize = 3;
const FROM: usize = 4;
const TO: usize = 5;
const PASSWORD: usize = 6;
const CARDS: usize = 7;
const ROOM: usize = 8;
const MORE: usize = 9;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn mime(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// One problem of an imported file.
#[derive(Serialize, Clone, Debug, PartialEq, Eq, ToSchema)]
pub struct RowError {
    /// 1-based spreadsheet row, the header being row 1 (so the first person is row 2); 0 for the
    /// file as a whole.
    pub row: usize,
    /// The column's header text, or `file`.
    pub column: String,
    pub reason: String,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq, ToSchema)]
pub struct ImportReport {
    /// Rows imported (created + updated).
    pub imported: usize,
    pub created: usize,
    pub updated: usize,
    pub departments_created: usize,
}

#[derive(Debug)]
pub enum ImportOutcome {
    Imported(ImportReport),
    /// Nothing was written.
    Rejected(Vec<RowError>),
}

/// A checked row: the person as the file has it (validity defaulted from now, department not yet
/// resolved), with what the store must still settle.
#[derive(Clone, Debug)]
pub struct Row {
    pub line: usize,
    pub person: Person,
    /// Department names below the root (the root's own name already removed if given).
    pub department: Vec<String>,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
}

fn file_error(reason: impl Into<String>) -> RowError {
    RowError {
        row: 0,
        column: "file".into(),
        reason: reason.into(),
    }
}

// ---------- reading ----------

/// The cells of the person file, as text.
fn read_table(bytes: &[u8], format: Format) -> Result<Vec<(usize, Vec<String>)>, RowError> {
    read_cells(bytes, format, &COLUMNS, MAX_ROWS)
}

/// The cells of a CSV or XLSX file (first sheet) with the header `columns`, as text:
/// `(spreadsheet row, cells)` in row order, header included, cells past `columns` dropped. CSV:
/// UTF-8 with or without byte-order mark, `,` or `;` between cells, the `'` formula escape undone.
/// XLSX: unpacked size bounded (zip bombs). At most [`MAX_BYTES`] and `max_rows` rows below the
/// header. Shared by every spreadsheet import (persons, ConfigTool devices); never panics.
pub fn read_cells(
    bytes: &[u8],
    format: Format,
    columns: &[&str],
    max_rows: usize,
) -> Result<Vec<(usize, Vec<String>)>, RowError> {
    if bytes.len() > MAX_BYTES {
        return Err(file_error(format!(
            "the file has {} bytes; at most {MAX_BYTES} are accepted",
            bytes.len()
        )));
    }
    match format {
        Format::Csv => read_csv(bytes, columns, max_rows),
        Format::Xlsx => read_xlsx(bytes, columns.len(), max_rows),
    }
}

fn too_many_rows(max_rows: usize) -> RowError {
    file_error(format!(
        "the file has more than {max_rows} rows below the header"
    ))
}

fn read_csv(
    bytes: &[u8],
    columns: &[&str],
    max_rows: usize,
) -> Result<Vec<(usize, Vec<String>)>, RowError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // Spreadsheets set to a European locale save with ';' between cells.
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = if !first.contains(&b',') && first.contains(&b';') {
        b';'
    } else {
        b','
    };
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let mut out = Vec::new();
    let mut rec = csv::ByteRecord::new();
    let mut line = 0usize;
    loop {
        match rd.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(RowError {
                    row: line + 1,
                    column: "file".into(),
                    reason: format!("not readable as CSV: {e}"),
                })
            }
        }
        line += 1;
        if line > max_rows + 1 {
            return Err(too_many_rows(max_rows));
        }
        let mut cells = Vec::with_capacity(columns.len());
        for field in rec.iter().take(columns.len()) {
            let text = std::str::from_utf8(field).map_err(|_| RowError {
                row: line,
                column: columns.get(cells.len()).copied().unwrap_or("file").into(),
                reason: "the text is not UTF-8; save the file as \"CSV UTF-8\"".into(),
            })?;
            cells.push(csv_unescape(text).to_owned());
        }
        out.push((line, cells));
    }
    Ok(out)
}

/// Starts of a cell that a spreadsheet would take for a formula.
fn formula_like(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// CSV cells that look like formulas get a leading `'` so a spreadsheet shows them as text
/// (as does a cell that already starts with `'`, so the escape is undone exactly on import).
fn csv_escape(s: &str) -> std::borrow::Cow<'_, str> {
    if formula_like(s) || s.starts_with('\'') {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

fn csv_unescape(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if formula_like(rest) || rest.starts_with('\'') => rest,
        _ => s,
    }
}

/// Checks the unpacked size of every member of the zip by unpacking it (declared sizes can lie).
fn check_unpacked_size(bytes: &[u8]) -> Result<(), RowError> {
    let not_xlsx = |e: &dyn std::fmt::Display| file_error(format!("not an XLSX workbook: {e}"));
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| not_xlsx(&e))?;
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| not_xlsx(&e))?;
        loop {
            let n = f.read(&mut buf).map_err(|e| not_xlsx(&e))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > MAX_UNPACKED {
                return Err(file_error(format!(
                    "the workbook unpacks to more than {} MiB",
                    MAX_UNPACKED >> 20
                )));
            }
        }
    }
    Ok(())
}

fn read_xlsx(
    bytes: &[u8],
    columns: usize,
    max_rows: usize,
) -> Result<Vec<(usize, Vec<String>)>, RowError> {
    use calamine::{DataRef, Reader};
    check_unpacked_size(bytes)?;
    let not_xlsx = |e: &dyn std::fmt::Display| file_error(format!("not an XLSX workbook: {e}"));
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes)).map_err(|e| not_xlsx(&e))?;
    let sheet = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| file_error("the workbook has no sheet"))?;
    let mut cells = wb
        .worksheet_cells_reader(&sheet)
        .map_err(|e| not_xlsx(&e))?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    while let Some(cell) = cells.next_cell().map_err(|e| not_xlsx(&e))? {
        let (r, c) = cell.get_position();
        let (r, c) = (r as usize, c as usize);
        if c >= columns {
            continue;
        }
        let text = match cell.get_value() {
            DataRef::Empty => continue,
            DataRef::String(s) => s.clone(),
            DataRef::SharedString(s) => (*s).to_owned(),
            DataRef::Int(i) => i.to_string(),
            DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            DataRef::Float(f) => f.to_string(),
            DataRef::Bool(b) => b.to_string(),
            DataRef::DateTime(d) => {
                let (y, mo, da, h, mi, s, _) = d.to_ymd_hms_milli();
                format!("{y:04}-{mo:02}-{da:02} {h:02}:{mi:02}:{s:02}")
            }
            DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
            DataRef::Error(e) => format!("#{e:?}"),
        };
        if r > max_rows {
            return Err(too_many_rows(max_rows));
        }
        if rows.len() <= r {
            rows.resize_with(r + 1, Vec::new);
        }
        let row = &mut rows[r];
        if row.len() <= c {
            row.resize(c + 1, String::new());
        }
        row[c] = text;
    }
    Ok(rows
        .into_iter()
        .enumerate()
        .filter(|(_, cells)| !cells.is_empty())
        .map(|(i, cells)| (i + 1, cells))
        .collect())
}

// ---------- checking ----------

fn parse_flags(flags: &str) -> Option<(bool, bool, bool)> {
    let (mut m, mut d, mut f) = (false, false, false);
    for c in flags.trim().chars() {
        match c.to_ascii_lowercase() {
            'm' => m = true,
            'd' => d = true,
            'f' => f = true,
            _ => return None,
        }
    }
    Some((m, d, f))
}

/// The department names of a path, the root's name removed when given first.
fn department_parts(path: &str, root_name: &str) -> Vec<String> {
    let mut parts: Vec<String> = path
        .split('/')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if parts
        .first()
        .is_some_and(|p| p.eq_ignore_ascii_case(root_name))
    {
        parts.remove(0);
    }
    parts
}

/// Reads and checks every row of the file without touching the store: the header, every field with
/// the rules of the person form, and cards and IDs unique across the file. Either every row, or
/// every problem found (at most [`MAX_ERRORS`] listed). The root department is taken as
/// `Company` here; [`import`] uses the store's name.
pub fn parse_rows(bytes: &[u8], format: Format, base: Base) -> Result<Vec<Row>, Vec<RowError>> {
    let (rows, errors) = check_rows(bytes, format, base, crate::time::now(), "Company")?;
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(capped(errors))
    }
}

/// Every row that could be read (fields with errors left at defaults) and the errors found; `Err`
/// when the file itself cannot be read as a person list.
fn check_rows(
    bytes: &[u8],
    format: Format,
    base: Base,
    now: u64,
    root_name: &str,
) -> Result<(Vec<Row>, Vec<RowError>), Vec<RowError>> {
    let table = read_table(bytes, format).map_err(|e| vec![e])?;
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
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut card_rows: HashMap<String, usize> = HashMap::new();
    for (line, cells) in lines {
        let mut err = |column: usize, reason: String| {
            errors.push(RowError {
                row: line,
                column: COLUMNS[column].into(),
                reason,
            })
        };
        let cell = |i: usize| cells.get(i).map(|s| s.trim()).unwrap_or("");
        let id = match check_id(cell(ID)) {
            Ok(id) => {
                if let Some(first) = ids.get(&id) {
                    err(ID, format!("the person ID \"{id}\" is also in row {first}"));
                } else {
                    ids.insert(id.clone(), line);
                }
                id
            }
            Err(e) => {
                err(ID, e.to_string());
                String::new()
            }
        };
        let name = check_name(cell(NAME)).unwrap_or_else(|e| {
            err(NAME, e.to_string());
            String::new()
        });
        let department = department_parts(cell(DEPT), root_name);
        if department.len() > 32 {
            err(DEPT, "at most 32 levels of departments".into());
        }
        for part in &department {
            if part.chars().count() > 64 {
                err(
                    DEPT,
                    format!("the department name \"{part}\" has more than 64 characters"),
                );
            }
        }
        let kind = match cell(TYPE) {
            "" => PersonType::General,
            t => PersonType::parse(t).unwrap_or_else(|| {
                err(
                    TYPE,
                    format!(
                        "unknown type \"{t}\"; use general, guest, vip, patrol, blocklist or other"
                    ),
                );
                PersonType::General
            }),
        };
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let (valid_from, valid_to) = (opt(cell(FROM)), opt(cell(TO)));
        let (from, to) = check_validity(valid_from.as_deref(), valid_to.as_deref(), now, None)
            .unwrap_or_else(|e| {
                err(
                    if e.field() == Some("valid_from") {
                        FROM
                    } else {
                        TO
                    },
                    e.to_string(),
                );
                (0, 0)
            });
        let password = check_password(cell(PASSWORD)).unwrap_or_else(|e| {
            err(PASSWORD, e.to_string());
            None
        });
        let room = check_room(Some(cell(ROOM))).unwrap_or_else(|e| {
            err(ROOM, e.to_string());
            None
        });
        let more_cell = |i: usize| cell(MORE + i).to_owned();
        let given = MoreInfo {
            gender: more_cell(0),
            id_type: more_cell(1),
            id_number: more_cell(2),
            phone: more_cell(3),
            email: more_cell(4),
            address: more_cell(5),
            company: more_cell(6),
            title: more_cell(7),
            remarks: more_cell(8),
        };
        let more = match check_more(&given) {
            Ok(m) => m,
            Err(_) => {
                // find every bad column, one at a time
                for i in 0..9 {
                    let mut one = MoreInfo::default();
                    let v = more_cell(i);
                    *[
                        &mut one.gender,
                        &mut one.id_type,
                        &mut one.id_number,
                        &mut one.phone,
                        &mut one.email,
                        &mut one.address,
                        &mut one.company,
                        &mut one.title,
                        &mut one.remarks,
                    ][i] = v;
                    if let Err(e) = check_more(&one) {
                        err(MORE + i, e.to_string());
                    }
                }
                MoreInfo::default()
            }
        };
        let mut person = Person {
            id: id.clone(),
            name,
            department: departments::ROOT,
            kind,
            valid_from: from,
            valid_to: to,
            password,
            cards: Vec::new(),
            room,
            more,
            fingerprints: Vec::new(),
            face: None,
            has_photo: false,
            created: now,
            updated: now,
        };
        let entries: Vec<&str> = cell(CARDS)
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if entries.len() > MAX_CARDS {
            err(
                CARDS,
                format!(
                    "a person has at most {MAX_CARDS} cards; this row has {}",
                    entries.len()
                ),
            );
        } else {
            for entry in entries {
                let (number, flags) = entry.split_once(':').unwrap_or((entry, ""));
                let Some((main, duress, frozen)) = parse_flags(flags) else {
                    err(
                        CARDS,
                        format!(
                        "\"{entry}\": after ':' only the flags m (main), d (duress), f (frozen)"
                    ),
                    );
                    continue;
                };
                let number = match cards::parse(number, base, "cards") {
                    Ok(n) => n,
                    Err(e) => {
                        err(CARDS, e.to_string());
                        continue;
                    }
                };
                if let Some(first) = card_rows.get(&number) {
                    if *first != line {
                        err(
                            CARDS,
                            format!(
                                "card {} is also in row {first}",
                                cards::display(&number, base)
                            ),
                        );
                        continue;
                    }
                }
                card_rows.insert(number.clone(), line);
                let card = Card {
                    number,
                    main,
                    duress,
                    frozen,
                };
                if let Err(e) = push_card(&mut person, card, base) {
                    err(CARDS, e.to_string());
                }
            }
        }
        rows.push(Row {
            line,
            person,
            department,
            valid_from,
            valid_to,
        });
        if rows.len() > MAX_ROWS {
            return Err(vec![too_many_rows(MAX_ROWS)]);
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(file_error("the file has no person rows below the header"));
    }
    Ok((rows, errors))
}

/// Sorted by row, then column; at most [`MAX_ERRORS`] listed.
fn capped(mut errors: Vec<RowError>) -> Vec<RowError> {
    errors.sort_by_key(|e| {
        let col = COLUMNS.iter().position(|c| *c == e.column);
        (e.row, col.unwrap_or(usize::MAX))
    });
    errors.dedup();
    if errors.len() > MAX_ERRORS {
        let more = errors.len() - MAX_ERRORS;
        errors.truncate(MAX_ERRORS);
        errors.push(file_error(format!("{more} more errors are not listed")));
    }
    errors
}

/// Finds the department of `parts` below the root: `Ok(id)` or `Err(how many exist)`.
fn walk(tree: &departments::Tree, parts: &[String]) -> std::result::Result<u64, usize> {
    let mut cur = departments::ROOT;
    for (i, p) in parts.iter().enumerate() {
        match tree
            .values()
            .find(|d| d.parent == Some(cur) && d.name.eq_ignore_ascii_case(p))
        {
            Some(d) => cur = d.id,
            None => return Err(i),
        }
    }
    Ok(cur)
}

fn path_key(parts: &[String]) -> String {
    parts.join("/").to_lowercase()
}

/// Imports a CSV or XLSX file (see the module doc): all rows or, if any is wrong, none.
pub fn import(app: &App, actor: &Actor, bytes: &[u8], format: Format) -> Result<ImportOutcome> {
    if bytes.len() > MAX_BYTES {
        return Err(Error::TooLarge(format!(
            "an import file has at most {} MiB",
            MAX_BYTES >> 20
        )));
    }
    let base = cards::settings(app)?.display;
    let now = crate::time::now();
    let root_name = app.store.read(|txn| {
        let tree = departments::load_tree(&txn.open_table(DEPARTMENTS).map_err(StoreError::from)?)?;
        Ok::<_, Error>(departments::path_of(&tree, departments::ROOT))
    })?;
    // Rows with errors still go through the store's checks below, so one answer lists all.
    let (rows, file_errors) = match check_rows(bytes, format, base, now, &root_name) {
        Ok(checked) => checked,
        Err(errors) => return Ok(ImportOutcome::Rejected(capped(errors))),
    };
    app.store.write(|txn| {
        let mut tree = departments::load_tree(&txn.open_table(DEPARTMENTS).map_err(StoreError::from)?)?;
        let mut t = Tables::open(txn)?;
        let in_file: HashSet<&str> = rows.iter().map(|r| r.person.id.as_str()).collect();
        let mut errors = file_errors;
        let mut missing: HashSet<String> = HashSet::new();
        let mut known: HashMap<String, u64> = HashMap::new();
        let mut people = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut err = |column: usize, reason: String| {
                errors.push(RowError {
                    row: row.line,
                    column: COLUMNS[column].into(),
                    reason,
                })
            };
            if row.person.id.is_empty() {
                continue; // its ID is already reported
            }
            let before = t.get(&row.person.id)?;
            let mut p = row.person.clone();
            if let Some(b) = &before {
                // times left empty keep the stored ones, as in the edit form
                match check_validity(
                    row.valid_from.as_deref(),
                    row.valid_to.as_deref(),
                    b.valid_from,
                    row.valid_to.is_none().then_some(b.valid_to),
                ) {
                    Ok((f, to)) => (p.valid_from, p.valid_to) = (f, to),
                    Err(e) => err(if e.field() == Some("valid_from") { FROM } else { TO }, e.to_string()),
                }
                p.fingerprints = b.fingerprints.clone();
                p.face = b.face.clone();
                p.has_photo = b.has_photo;
                p.created = b.created;
            }
            for c in &p.cards {
                if let Some(owner) = t.card_owner(&c.number)? {
                    // an owner also in the file gets the file's cards instead
                    if owner != p.id && !in_file.contains(owner.as_str()) {
                        err(
                            CARDS,
                            format!(
                                "card {} already belongs to person \"{owner}\"",
                                cards::display(&c.number, base)
                            ),
                        );
                    }
                }
            }
            let key = path_key(&row.department);
            if !known.contains_key(&key) && !missing.contains(&key) {
                match walk(&tree, &row.department) {
                    Ok(id) => {
                        known.insert(key, id);
                    }
                    Err(found) => {
                        let before_count = missing.len();
                        for depth in found + 1..=row.department.len() {
                            missing.insert(path_key(&row.department[..depth]));
                        }
                        if tree.len() + missing.len() > departments::MAX_DEPARTMENTS && before_count < missing.len() {
                            err(DEPT, format!("at most {} departments; this path would pass the limit", departments::MAX_DEPARTMENTS));
                        }
                    }
                }
            }
            people.push((p, before, row));
        }
        if !errors.is_empty() {
            return Ok(ImportOutcome::Rejected(capped(errors)));
        }
        // Release first the cards that updated persons give up, so a card may move between
        // persons of the file whatever their order.
        for (p, before, _) in &people {
            if let Some(b) = before {
                for c in &b.cards {
                    if !p.cards.iter().any(|n| n.number == c.number) {
                        t.cards.remove(c.number.as_str()).map_err(StoreError::from)?;
                    }
                }
            }
        }
        let mut departments_created = 0;
        let (mut created, mut updated) = (0, 0);
        for (p, before, row) in people.iter_mut() {
            let key = path_key(&row.department);
            p.department = match known.get(&key) {
                Some(id) => *id,
                None => {
                    let mut cur = departments::ROOT;
                    for (depth, name) in row.department.iter().enumerate() {
                        cur = match known.get(&path_key(&row.department[..=depth])) {
                            Some(id) => *id,
                            None => match walk(&tree, &row.department[..=depth]) {
                                Ok(id) => id,
                                Err(_) => {
                                    departments_created += 1;
                                    departments::insert(txn, &mut tree, cur, name)?
                                }
                            },
                        };
                    }
                    known.insert(key, cur);
                    cur
                }
            };
            if before.is_some() {
                updated += 1;
            } else {
                created += 1;
            }
            t.put(p, None)?;
        }
        drop(t);
        crate::audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "person.import",
            &format!("{} persons", rows.len()),
            format!(
                "imported from {}: {created} created, {updated} updated, {departments_created} departments created",
                format.extension().to_uppercase()
            ),
        )?;
        Ok(ImportOutcome::Imported(ImportReport {
            imported: rows.len(),
            created,
            updated,
            departments_created,
        }))
    })
}

// ---------- writing ----------

/// `2026-11-30 08:00:00` (UTC).
fn time_text(secs: u64) -> String {
    crate::time::rfc3339(secs)
        .replacen('T', " ", 1)
        .trim_end_matches('Z')
        .to_owned()
}

fn cards_text(cards: &[Card], base: Base) -> String {
    cards
        .iter()
        .map(|c| {
            let mut s = cards::display(&c.number, base);
            if c.main || c.duress || c.frozen {
                s.push(':');
                for (on, f) in [(c.main, 'm'), (c.duress, 'd'), (c.frozen, 'f')] {
                    if on {
                        s.push(f);
                    }
                }
            }
            s
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn record(p: &Person, tree: &departments::Tree, base: Base) -> Vec<String> {
    let m = &p.more;
    vec![
        p.id.clone(),
        p.name.clone(),
        departments::path_of(tree, p.department),
        p.kind.as_str().to_owned(),
        time_text(p.valid_from),
        time_text(p.valid_to),
        p.password.clone().unwrap_or_default(),
        cards_text(&p.cards, base),
        p.room.clone().unwrap_or_default(),
        m.gender.clone(),
        m.id_type.clone(),
        m.id_number.clone(),
        m.phone.clone(),
        m.email.clone(),
        m.address.clone(),
        m.company.clone(),
        m.title.clone(),
        m.remarks.clone(),
    ]
}

fn write_file(format: Format, records: &[Vec<String>]) -> Result<Vec<u8>> {
    let widths: Vec<f64> = (0..COLUMNS.len())
        .map(|c| match c {
            NAME | DEPT | CARDS => 28.0,
            FROM | TO => 20.0,
            _ => 14.0,
        })
        .collect();
    write_cells(format, "Persons", &COLUMNS, &widths, records)
}

/// A CSV (UTF-8 with byte-order mark, formula-like cells escaped with `'`) or XLSX file (one sheet
/// named `sheet`, every cell text, header bold and frozen, column `c` `widths[c]` wide) of the
/// header `columns` and `records`; what [`read_cells`] reads back. Shared by every spreadsheet
/// export and template.
pub fn write_cells(
    format: Format,
    sheet: &str,
    columns: &[&str],
    widths: &[f64],
    records: &[Vec<String>],
) -> Result<Vec<u8>> {
    match format {
        Format::Csv => write_csv(columns, records),
        Format::Xlsx => write_xlsx(sheet, columns, widths, records),
    }
}

fn write_csv(columns: &[&str], records: &[Vec<String>]) -> Result<Vec<u8>> {
    let internal = |e: csv::Error| Error::Internal(format!("csv: {e}"));
    // The byte-order mark makes spreadsheets read the file as UTF-8.
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record(columns).map_err(internal)?;
    for r in records {
        w.write_record(r.iter().map(|c| csv_escape(c).into_owned()))
            .map_err(internal)?;
    }
    w.into_inner()
        .map_err(|e| Error::Internal(format!("csv: {e}")))
}

fn write_xlsx(
    sheet: &str,
    columns: &[&str],
    widths: &[f64],
    records: &[Vec<String>],
) -> Result<Vec<u8>> {
    use rust_xlsxwriter::{Format as Style, Workbook};
    let internal = |e: rust_xlsxwriter::XlsxError| Error::Internal(format!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(sheet).map_err(internal)?;
    // Text cells, so a spreadsheet keeps IDs, card numbers and passwords as typed (leading zeros).
    let text = Style::new().set_num_format("@");
    let bold = Style::new().set_bold().set_num_format("@");
    for (i, name) in columns.iter().enumerate() {
        let c = i as u16;
        ws.set_column_format(c, &text).map_err(internal)?;
        let width = widths.get(i).copied().unwrap_or(14.0);
        ws.set_column_width(c, width).map_err(internal)?;
        ws.write_string_with_format(0, c, *name, &bold)
            .map_err(internal)?;
    }
    ws.set_freeze_panes(1, 0).map_err(internal)?;
    for (i, r) in records.iter().enumerate() {
        let row = u32::try_from(i + 1).map_err(|_| Error::Internal("too many rows".into()))?;
        for (c, v) in r.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(row, c as u16, v).map_err(internal)?;
            }
        }
    }
    wb.save_to_buffer().map_err(internal)
}

/// The template: the header row and one example person (cards in the current display base).
pub fn template(app: &App, format: Format) -> Result<Vec<u8>> {
    let base = cards::settings(app)?.display;
    let root = app.store.read(|txn| {
        let tree = departments::load_tree(&txn.open_table(DEPARTMENTS).map_err(StoreError::from)?)?;
        Ok::<_, Error>(departments::path_of(&tree, departments::ROOT))
    })?;
    let example = [
        "1001".to_owned(),
        "Alice Martin".into(),
        format!("{root}/HR"),
        "general".into(),
        "2026-01-01 00:00:00".into(),
        "2035-12-31 23:59:59".into(),
        "135790".into(),
        format!(
            "{}:m;{}",
            cards::display("02224678", base),
            cards::display("0A0B0C0D", base)
        ),
        "0101".into(),
        "female".into(),
        "passport".into(),
        "X1234567".into(),
        "+33 1 23 45 67 89".into(),
        "alice.martin@example.com".into(),
        "1 Main Street".into(),
        "Example Ltd".into(),
        "Accountant".into(),
        "Example row: replace or delete it. Cards: NUMBER[:flags] separated by ';', flags m = main, d = duress, f = frozen".into(),
    ];
    write_file(format, &[example.to_vec()])
}

/// Exports the persons `ids` (all when `None`), in that order (person-ID order for all).
pub fn export(app: &App, actor: &Actor, ids: Option<&[String]>, format: Format) -> Result<Vec<u8>> {
    let base = cards::settings(app)?.display;
    let records = app.store.read(|txn| {
        let t = txn.open_table(PERSONS).map_err(StoreError::from)?;
        let tree = departments::load_tree(&txn.open_table(DEPARTMENTS).map_err(StoreError::from)?)?;
        let mut out = Vec::new();
        match ids {
            None => {
                for p in store::all::<Person>(&t)? {
                    out.push(record(&p, &tree, base));
                }
            }
            Some(ids) => {
                let mut seen = HashSet::new();
                for id in ids.iter().filter(|id| seen.insert(id.as_str())) {
                    let p: Person = store::get(&t, id)?
                        .ok_or_else(|| Error::NotFound(format!("no person with ID \"{id}\"")))?;
                    out.push(record(&p, &tree, base));
                }
            }
        }
        Ok::<_, Error>(out)
    })?;
    let bytes = write_file(format, &records)?;
    app.store.write(|txn| {
        crate::audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "person.export",
            &format!("{} persons", records.len()),
            format!(
                "exported as {}{}",
                format.extension().to_uppercase(),
                if ids.is_none() { " (all)" } else { "" }
            ),
        )
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Role;

    fn app() -> (tempfile::TempDir, App, Actor) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            data_dir: dir.path().to_owned(),
            ..Default::default()
        };
        let app = App::open(config).unwrap();
        let actor = Actor {
            username: "admin".into(),
            role: Role::Admin,
            ip: [127, 0, 0, 1].into(),
            session_id: "s".into(),
        };
        (dir, app, actor)
    }

    fn csv_of(rows: &[&str]) -> Vec<u8> {
        let mut s = COLUMNS.join(",");
        for r in rows {
            s.push('\n');
            s.push_str(r);
        }
        s.into_bytes()
    }

    fn imported(o: ImportOutcome) -> ImportReport {
        match o {
            ImportOutcome::Imported(r) => r,
            ImportOutcome::Rejected(e) => panic!("rejected: {e:?}"),
        }
    }

    #[test]
    fn times_read_in_every_documented_form() {
        let rows = parse_rows(
            &csv_of(&[
                "1,A,,,2026-11-30 08:00:00,2027-01-01T00:00:00Z,,,,,,,,,,,,",
                "2,B,,,2026-11-30,2026-12-01,,,,,,,,,,,,",
            ]),
            Format::Csv,
            Base::Hex,
        )
        .unwrap();
        assert_eq!(time_text(rows[0].person.valid_from), "2026-11-30 08:00:00");
        assert_eq!(time_text(rows[0].person.valid_to), "2027-01-01 00:00:00");
        assert_eq!(time_text(rows[1].person.valid_to), "2026-12-01 23:59:59");
    }

    #[test]
    fn every_bad_row_is_reported_with_its_column() {
        let bytes = csv_of(&[
            "1001,Good,,,,,,02224678:m,,,,,,,,,,",
            "bad id!,X,,,,,,,,,,,,,,,,",
            "1003,Dup card,,,,,,2224678,,,,,,,,,,",
            "1004,Six,,,,,,1;2;3;4;5;6,,,,,,,,,,",
            "1005,Pw,,,,,123456789,,,,,,,,,,,",
            "1006,Times,,,2026-05-01,2026-04-01,,,,,,,,,,,,",
            "1007,Kind,,wizard,,,,,,,,,,,,,,",
            "1008,Flags,,,,,,0A0B:x,,alien,,,,not-mail,,,,",
            "1001,Again,,,,,,,,,,,,,,,,",
        ]);
        let errs = parse_rows(&bytes, Format::Csv, Base::Hex).unwrap_err();
        let got: Vec<(usize, &str)> = errs.iter().map(|e| (e.row, e.column.as_str())).collect();
        assert_eq!(
            got,
            [
                (3, "Person ID"),
                (4, "Cards"),
                (5, "Cards"),
                (6, "Password"),
                (7, "Expiry Time"),
                (8, "Type"),
                (9, "Cards"),
                (9, "Gender"),
                (9, "Email"),
                (10, "Person ID"),
            ]
        );
        assert!(errs[1].reason.contains("row 2"), "{:?}", errs[1]);
    }

    #[test]
    fn csv_escape_is_undone_exactly() {
        for s in ["=1+1", "-5", "'x", "''=", "plain", "@a", "'=b"] {
            assert_eq!(csv_unescape(&csv_escape(s)), s);
        }
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        for bytes in [
            &b""[..],
            b"\xff\xfe\x00",
            b"PK\x03\x04junk",
            b"a,b\n\"unterminated",
        ] {
            for f in [Format::Csv, Format::Xlsx] {
                assert!(parse_rows(bytes, f, Base::Hex).is_err());
            }
        }
    }

    #[test]
    fn export_import_round_trip_in_both_bases_and_formats() {
        let (_d, app, actor) = app();
        let bytes = csv_of(&[
            "A1,Ann,Company/HR/Payroll,vip,2026-01-01 00:00:00,2030-01-01 00:00:00,123456,02224678:m;0A0B0C0D:df,101,female,passport,P1,+1 555,ann@example.com,\"1 Road, Town\",Acme,Boss,\"=cmd\"",
            "A2,Bob,HR,guest,,,,0F00ABCDEF:f,,,,,,,,,,",
        ]);
        let r = imported(import(&app, &actor, &bytes, Format::Csv).unwrap());
        assert_eq!((r.created, r.updated, r.departments_created), (2, 0, 2));
        let hex = export(&app, &actor, None, Format::Csv).unwrap();
        let text = String::from_utf8(hex.clone()).unwrap();
        assert!(text.contains("02224678:m;0A0B0C0D:df"), "{text}");
        assert!(text.contains("'=cmd"), "{text}");
        let mut s = cards::settings(&app).unwrap();
        s.display = Base::Decimal;
        cards::set_settings(&app, &actor, s).unwrap();
        let dec = String::from_utf8(export(&app, &actor, None, Format::Csv).unwrap()).unwrap();
        assert!(dec.contains("35800696:m;168496141:df"), "{dec}");
        for f in [Format::Csv, Format::Xlsx] {
            let out = export(&app, &actor, None, f).unwrap();
            let r = imported(import(&app, &actor, &out, f).unwrap());
            assert_eq!((r.created, r.updated, r.departments_created), (0, 2, 0));
            assert_eq!(export(&app, &actor, None, f).unwrap().len(), out.len());
        }
        // the selection, in its order
        let one = export(&app, &actor, Some(&["A2".into()]), Format::Csv).unwrap();
        assert_eq!(String::from_utf8(one).unwrap().lines().count(), 2);
        let t = template(&app, Format::Xlsx).unwrap();
        let rows = parse_rows(&t, Format::Xlsx, Base::Decimal).unwrap();
        assert_eq!(rows[0].person.cards[0].number, "02224678");
    }

    #[test]
    fn cards_may_move_between_persons_of_the_file_but_not_from_others() {
        let (_d, app, actor) = app();
        let first = csv_of(&[
            "P1,One,,,,,,11111111,,,,,,,,,,",
            "P2,Two,,,,,,22222222,,,,,,,,,,",
        ]);
        imported(import(&app, &actor, &first, Format::Csv).unwrap());
        let swap = csv_of(&[
            "P2,Two,,,,,,11111111,,,,,,,,,,",
            "P1,One,,,,,,22222222,,,,,,,,,,",
        ]);
        imported(import(&app, &actor, &swap, Format::Csv).unwrap());
        let steal = csv_of(&["P3,Three,,,,,,11111111,,,,,,,,,,"]);
        match import(&app, &actor, &steal, Format::Csv).unwrap() {
            ImportOutcome::Rejected(e) => assert!(e[0].reason.contains("\"P2\""), "{e:?}"),
            ImportOutcome::Imported(r) => panic!("{r:?}"),
        }
        let p1 = crate::persons::load(&app, "P1").unwrap();
        assert_eq!(p1.cards[0].number, "22222222");
    }
}
