//! The person-management page (manual 1.2): `/persons` with the department tree (add, rename,
//! delete), the card type and hex/decimal display, search by any/ID/name/card with a department
//! filter, a paged list or card view with photo thumbnails, and batch edit, batch card issuing and
//! delete on the selection. Also serves person photos and the helpers the other person pages share
//! (department select, multipart reading, notices, the submit spinner). Calls `persons::{search,
//! departments, cards, batch}`; every rule stays there.

use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::company_pages::bad_form;
use super::public::CsrfForm;
use super::{csrf_input, csrf_valid, error_box, notice_box, query_escape, see_other, Frame, SetUp};
use crate::app::App;
use crate::error::Error;
use crate::persons::cards::{self, Base, CardSettings, CardType};
use crate::persons::departments::{self, DepartmentView, NewDepartment, ROOT};
use crate::persons::{self, batch, transfer, SearchBy, SearchPage, SearchQuery};
use crate::web::auth::PageCaller;
use crate::web::blocking;
use crate::web::error::status_of;

const PER_PAGE: usize = 50;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/persons", get(list_page))
        .route("/persons/departments", post(add_department))
        .route("/persons/departments/{id}/rename", post(rename_department))
        .route("/persons/departments/{id}/delete", post(delete_department))
        .route("/persons/card-settings", post(save_card_settings))
        .route("/persons/selection", post(selection))
        .route("/persons/{id}/photo", get(photo))
}

// ---------- shared by the person pages ----------

/// The notice of a POST-redirect-GET on the person pages (`?done=`).
pub(super) fn done_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "dept-added" => "The department was added.",
        "dept-renamed" => "The department was renamed.",
        "dept-deleted" => "The department was deleted.",
        "card-settings" => "The card settings were saved.",
        "batch-edited" => "The selected persons were changed.",
        "batch-deleted" => "The selected persons were deleted.",
        "batch-added" => "The persons were added.",
        "person-created" => "The person was added. Add cards and a photo below if needed.",
        "person-saved" => "The person was saved.",
        "person-deleted" => "The person was deleted.",
        "photo-removed" => "The photo was removed.",
        "card-added" => "The card was added.",
        "card-changed" => "The card was changed.",
        "card-replaced" => "The card was replaced; it keeps its main, duress and frozen flags.",
        "card-deleted" => "The card was deleted.",
        "issued" => "The card was issued.",
        "issue-stopped" => "Card issuing was stopped; the cards given so far stay.",
        "imported" => "The import finished.",
        "fingerprint-changed" => "The fingerprint was changed.",
        "fingerprint-deleted" => "The fingerprint was deleted.",
        "reading-stopped" => {
            "Reading cards stopped; the cards given so far stay. Start reading again to go on."
        }
        _ => return None,
    })
}

/// A few lines of plain JavaScript: the button that submitted a form shows a spinner until the
/// next page arrives. Everything works without it.
pub(super) fn busy_script() -> Markup {
    html! {
        script {
            (PreEscaped(
                "document.addEventListener('submit',function(e){var b=e.submitter;\
                 if(b){b.classList.add('busy');b.setAttribute('aria-busy','true');}});\
                 window.addEventListener('pageshow',function(){document.querySelectorAll('.busy')\
                 .forEach(function(b){b.classList.remove('busy');b.removeAttribute('aria-busy');});});"
            ))
        }
    }
}

/// The options of a department select, by path; `blank` adds a first empty option.
pub(super) fn department_options(
    list: &[DepartmentView],
    selected: &str,
    blank: Option<&str>,
) -> Markup {
    html! {
        @if let Some(b) = blank {
            option value="" selected[selected.is_empty()] { (b) }
        }
        @for d in list {
            @let id = d.id.to_string();
            option value=(id) selected[selected == id] { (d.path) }
        }
    }
}

/// The department typed in a select: empty is none, anything else must be a department id.
pub(super) fn parse_department(text: &str) -> Result<Option<u64>, Error> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse().map(Some).map_err(|_| {
        Error::invalid(
            "department_unknown",
            "department",
            format!("there is no department \"{t}\""),
        )
    })
}

/// An optional text: `None` when empty.
pub(super) fn non_empty(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// The value of form field `name` (the first one), or "".
pub(super) fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// The text fields and files of a multipart form.
#[derive(Default)]
pub(super) struct Upload {
    pub fields: Vec<(String, String)>,
    pub files: Vec<(String, Vec<u8>)>,
}

impl Upload {
    pub(super) fn field(&self, name: &str) -> &str {
        field(&self.fields, name)
    }
    /// The bytes of file `name`; `None` when no file was chosen.
    pub(super) fn file(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(k, b)| k == name && !b.is_empty())
            .map(|(_, b)| b.as_slice())
    }
}

/// Reads a multipart form; the fields named in `files` are kept as bytes, the others as text.
pub(super) async fn read_multipart(
    multipart: Result<Multipart, MultipartRejection>,
    files: &[&str],
) -> Result<Upload, Error> {
    let mut m = multipart.map_err(|e| bad_form(e.body_text()))?;
    let mut out = Upload::default();
    while let Some(f) = m.next_field().await.map_err(|e| bad_form(e.body_text()))? {
        let name = f.name().unwrap_or("").to_owned();
        if files.contains(&name.as_str()) {
            let bytes = f.bytes().await.map_err(|e| bad_form(e.body_text()))?;
            out.files.push((name, bytes.to_vec()));
        } else {
            let text = f.text().await.map_err(|e| bad_form(e.body_text()))?;
            out.fields.push((name, text));
        }
    }
    Ok(out)
}

/// How card numbers are typed now, for labels.
pub(super) fn base_name(base: Base) -> &'static str {
    match base {
        Base::Hex => "hexadecimal",
        Base::Decimal => "decimal",
    }
}

/// `2026-11-30 22:00` for an RFC 3339 time, as lists show it.
pub(super) fn short_time(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or(rfc3339).replace('T', " ")
}

// ---------- the list page ----------

/// The state of the list page, all in its query so every link and form keeps it.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub(super) struct ListQuery {
    q: String,
    by: String,
    department: String,
    /// "1"/"0": include sub-departments (default yes).
    sub: String,
    /// Set by the search form, where an unchecked box sends nothing.
    s: String,
    nocard: String,
    page: String,
    view: String,
    done: String,
    /// "all": every box on this page checked.
    sel: String,
}

impl ListQuery {
    fn department(&self) -> Option<u64> {
        self.department.trim().parse().ok()
    }
    fn sub_departments(&self) -> bool {
        match self.sub.as_str() {
            "" => self.s.is_empty(),
            v => v != "0",
        }
    }
    fn by(&self) -> SearchBy {
        match self.by.as_str() {
            "id" => SearchBy::Id,
            "name" => SearchBy::Name,
            "card" => SearchBy::Card,
            _ => SearchBy::Any,
        }
    }
    fn page(&self) -> usize {
        self.page.trim().parse().unwrap_or(1).max(1)
    }
    fn cards_view(&self) -> bool {
        self.view == "cards"
    }
    fn search(&self) -> SearchQuery {
        SearchQuery {
            q: non_empty(&self.q),
            by: Some(self.by()),
            department: self.department(),
            sub_departments: Some(self.sub_departments()),
            without_card: Some(self.nocard == "1"),
            page: Some(self.page()),
            per_page: Some(PER_PAGE),
        }
    }
    /// The query string of this state after `change`, without `done`.
    fn with(&self, change: impl FnOnce(&mut ListQuery)) -> String {
        let mut q = self.clone();
        q.done.clear();
        change(&mut q);
        let sub = if q.sub_departments() { "" } else { "0" };
        let pairs = [
            ("q", q.q.as_str()),
            ("by", q.by.as_str()),
            ("department", q.department.as_str()),
            ("sub", sub),
            ("nocard", q.nocard.as_str()),
            ("page", q.page.as_str()),
            ("view", q.view.as_str()),
            ("sel", q.sel.as_str()),
            ("done", q.done.as_str()),
        ];
        pairs
            .iter()
            .filter(|(k, v)| !(v.is_empty() || (*k == "page" && *v == "1")))
            .map(|(k, v)| format!("{k}={}", query_escape(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
    fn href(&self, change: impl FnOnce(&mut ListQuery)) -> String {
        let q = self.with(change);
        if q.is_empty() {
            "/persons".into()
        } else {
            format!("/persons?{q}")
        }
    }
    /// Where a form of this page goes back to after success.
    fn back(&self, done: &str) -> String {
        self.href(|q| {
            q.done = done.into();
            q.sel.clear();
        })
    }
}

/// What the user typed into the list page's forms, shown again after a refusal.
#[derive(Default)]
pub(super) struct Typed {
    dept_name: String,
    rename: Option<String>,
    selected: Vec<String>,
    edit_department: String,
    edit_from: String,
    edit_to: String,
}

struct ListData {
    departments: Vec<DepartmentView>,
    settings: CardSettings,
    found: Result<SearchPage, Error>,
}

async fn load_list(app: &Arc<App>, q: &ListQuery) -> Result<ListData, Error> {
    let sq = q.search();
    blocking(app, move |app| {
        Ok(ListData {
            departments: departments::list(app)?,
            settings: cards::settings(app)?,
            found: persons::search(app, &sq),
        })
    })
    .await
}

/// Shows the list page for `q`, with what was typed and the error of a refused change.
pub(super) async fn show_list(
    app: &Arc<App>,
    caller: &PageCaller,
    q: &ListQuery,
    typed: &Typed,
    err: Option<&Error>,
) -> Response {
    let frame = Frame::load(app, Some(caller)).await;
    let data = match load_list(app, q).await {
        Ok(d) => d,
        Err(e) => return frame.error(&e),
    };
    let (found, search_err) = match data.found {
        Ok(f) => (Some(f), None),
        Err(e) => (None, Some(e)),
    };
    let err = err.or(search_err.as_ref());
    let notice = done_text(&q.done);
    let status = err.map(status_of).unwrap_or(StatusCode::OK);
    frame.page(
        status,
        "Persons",
        html! {
            (toolbar(q))
            (notice_box(notice))
            (error_box(err))
            div.persons-layout {
                aside.side {
                    (department_tree(caller, q, &data.departments, typed))
                    (card_settings_form(caller, q, data.settings))
                }
                div.main-col {
                    (search_form(q, &data.departments))
                    @if let Some(f) = &found {
                        (selection_form(caller, q, &data.departments, f, typed))
                    }
                }
            }
            p.hint {
                "Manual 1.2. The company name and logo (1.1) are on the "
                a href="/company" { "company page" } ". Extracting persons from devices (1.2.5.2) \
                 and person collection (1.3) are not available yet."
            }
            (busy_script())
        },
    )
}

fn toolbar(q: &ListQuery) -> Markup {
    html! {
        div.toolbar {
            a.button #add-person href="/persons/new" { "Add person" }
            a.button.secondary #batch-add href="/persons/batch-add" { "Batch add" }
            a.button.secondary #person-collection href="/persons/collection" { "Person collection" }
            a.button.secondary #transfer href="/persons/transfer" { "Import / export" }
            a.button.secondary #readers-link href="/readers" { "Card issuer and scanner" }
            span.view-toggle role="group" aria-label="Display" {
                a #view-list .current[!q.cards_view()] href=(q.href(|x| x.view.clear())) { "List" }
                a #view-cards .current[q.cards_view()] href=(q.href(|x| x.view = "cards".into())) { "Cards" }
            }
        }
    }
}

fn department_tree(
    caller: &PageCaller,
    q: &ListQuery,
    list: &[DepartmentView],
    typed: &Typed,
) -> Markup {
    let selected = q.department().unwrap_or(ROOT);
    let current = list
        .iter()
        .find(|d| d.id == selected)
        .or_else(|| list.first());
    html! {
        section.card #departments {
            h2 { "Departments" }
            ul.tree {
                @for d in list {
                    li style={ "padding-left:" (d.depth.min(8)) "em" } {
                        a #{ "dept-" (d.id) } .current[d.id == selected]
                            href=(q.href(|x| { x.department = d.id.to_string(); x.page.clear(); x.sel.clear(); })) {
                            (d.name)
                        }
                        " " span.count title="persons directly in it" { (d.persons) }
                    }
                }
            }
            @if let Some(d) = current {
                @let base = format!("/persons/departments/{}", d.id);
                @let back = q.with(|_| {});
                div.dept-actions {
                    p.hint { "Selected: " strong #selected-dept { (d.path) } }
                    form method="post" action={ "/persons/departments?" (back) } {
                        (csrf_input(caller))
                        input type="hidden" name="parent" value=(d.id);
                        label { "New department under " (d.name)
                            input #dept-name name="name" value=(typed.dept_name) required maxlength="64";
                        }
                        button #dept-add type="submit" { "Add" }
                    }
                    details open[typed.rename.is_some()] {
                        summary { "Rename" }
                        form method="post" action={ (base) "/rename?" (back) } {
                            (csrf_input(caller))
                            label { "New name"
                                input #dept-rename-name name="name" value=(typed.rename.as_deref().unwrap_or(&d.name)) required maxlength="64";
                            }
                            button #dept-rename type="submit" { "Rename" }
                        }
                    }
                    @if d.id != ROOT {
                        details {
                            summary { "Delete" }
                            form method="post" action={ (base) "/delete?" (back) } {
                                (csrf_input(caller))
                                p.hint { "Only an empty department (no persons, no sub-departments) can be deleted." }
                                button #dept-delete .danger type="submit" { "Delete " (d.name) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn card_settings_form(caller: &PageCaller, q: &ListQuery, s: CardSettings) -> Markup {
    html! {
        section.card #card-settings {
            h2 { "Card type" }
            form method="post" action={ "/persons/card-settings?" (q.with(|_| {})) } {
                (csrf_input(caller))
                label { "Card type"
                    select #card-type name="card_type" {
                        option value="id" selected[s.card_type == CardType::Id] { "ID card (125 kHz)" }
                        option value="ic" selected[s.card_type == CardType::Ic] { "IC card (13.56 MHz)" }
                    }
                }
                label { "Card numbers shown and typed in"
                    select #card-display name="display" {
                        option value="hex" selected[s.display == Base::Hex] { "Hexadecimal" }
                        option value="decimal" selected[s.display == Base::Decimal] { "Decimal" }
                    }
                }
                button #card-settings-save type="submit" { "Save" }
            }
        }
    }
}

fn search_form(q: &ListQuery, list: &[DepartmentView]) -> Markup {
    let dept = q
        .department()
        .and_then(|d| list.iter().find(|x| x.id == d))
        .map(|d| d.path.clone());
    html! {
        form.search.person-search method="get" action="/persons" {
            input type="hidden" name="s" value="1";
            @if !q.department.is_empty() { input type="hidden" name="department" value=(q.department); }
            @if !q.view.is_empty() { input type="hidden" name="view" value=(q.view); }
            label.grow { "Search"
                input #search-q type="search" name="q" value=(q.q) placeholder="ID, name or card number";
            }
            label { "By"
                select #search-by name="by" {
                    @for (v, t) in [("", "any"), ("id", "person ID"), ("name", "name"), ("card", "card number")] {
                        option value=(v) selected[q.by == v] { (t) }
                    }
                }
            }
            label.check { input #search-sub type="checkbox" name="sub" value="1" checked[q.sub_departments()]; "Include sub-departments" }
            label.check { input #search-nocard type="checkbox" name="nocard" value="1" checked[q.nocard == "1"]; "Only without card" }
            button #search type="submit" { "Search" }
        }
        p.hint {
            "In: " strong { (dept.as_deref().unwrap_or("all departments")) }
            @if dept.is_some() || !q.q.is_empty() || q.nocard == "1" {
                " · " a #search-clear href=(q.href(|x| { *x = ListQuery { view: x.view.clone(), ..Default::default() }; })) { "show everyone" }
            }
        }
    }
}

fn selection_form(
    caller: &PageCaller,
    q: &ListQuery,
    list: &[DepartmentView],
    found: &SearchPage,
    typed: &Typed,
) -> Markup {
    let all = q.sel == "all";
    let checked = |id: &str| all || typed.selected.iter().any(|s| s == id);
    let pages = found.total.div_ceil(found.per_page).max(1);
    let first = (found.page - 1) * found.per_page + 1;
    let last = first + found.items.len().saturating_sub(1);
    html! {
        form #selection method="post" action={ "/persons/selection?" (q.with(|_| {})) } {
            (csrf_input(caller))
            div.selection-bar {
                details #batch-edit-box open[!typed.edit_department.is_empty() || !typed.edit_from.is_empty() || !typed.edit_to.is_empty()] {
                    summary { "Batch edit" }
                    div.batch-edit {
                        label { "Department"
                            select #batch-department name="department" {
                                (department_options(list, &typed.edit_department, Some("(keep)")))
                            }
                        }
                        label { "Effective time (UTC)"
                            input #batch-from type="datetime-local" step="1" name="valid_from" value=(typed.edit_from);
                        }
                        label { "Expiry time (UTC)"
                            input #batch-to type="datetime-local" step="1" name="valid_to" value=(typed.edit_to);
                        }
                        p.hint { "Empty fields are kept. An expiry time alone makes the period start now." }
                        button #batch-edit type="submit" name="action" value="edit" { "Apply to selected" }
                    }
                }
                button #batch-issue .secondary type="submit" name="action" value="issue" { "Batch issue cards" }
                button #export-xlsx .secondary type="submit" name="action" value="export-xlsx" title="The selected persons, or everyone found when none is selected" { "Export (XLSX)" }
                button #export-csv .secondary type="submit" name="action" value="export-csv" { "Export (CSV)" }
                details #delete-box {
                    summary { "Delete selected" }
                    div.batch-edit {
                        p.hint { "Deletes the selected persons with their cards and photos." }
                        button #delete-selected .danger type="submit" name="action" value="delete" { "Delete the selected persons" }
                    }
                }
                @if all {
                    a #select-none href=(q.href(|x| x.sel.clear())) { "Clear selection" }
                } @else {
                    a #select-all href=(q.href(|x| x.sel = "all".into())) { "Select all on this page" }
                }
            }
            p.hint #found {
                @if found.total == 0 { "Nobody found." }
                @else { "Persons " (first) "–" (last) " of " (found.total) }
            }
            @if q.cards_view() {
                ul.person-cards #persons-cards {
                    @for p in &found.items {
                        li.person-card #{ "person-" (p.id) } {
                            label.pick { input #{ "sel-" (p.id) } type="checkbox" name="id" value=(p.id) checked[checked(&p.id)]; span.sr { "Select " (p.id) } }
                            a href={ "/persons/" (p.id) } {
                                (photo_thumb(&p.id, &p.name, p.has_photo, "photo"))
                                strong.name { (p.name) }
                                span { "ID " (p.id) }
                                span.muted { (p.department_path) }
                                span.card-no { @if let Some(c) = &p.main_card { "Card " (c) } @else { "No card" } }
                            }
                        }
                    }
                }
            } @else {
                div.scroll {
                    table #persons-list {
                        thead { tr {
                            th { span.sr { "Select" } } th { "Photo" } th { "Person ID" } th { "Name" }
                            th { "Department" } th { "Type" } th { "Card No." } th { "Valid until" }
                        } }
                        tbody {
                            @for p in &found.items {
                                tr #{ "person-" (p.id) } {
                                    td { input #{ "sel-" (p.id) } type="checkbox" name="id" value=(p.id) checked[checked(&p.id)] aria-label={ "Select " (p.id) }; }
                                    td { (photo_thumb(&p.id, &p.name, p.has_photo, "thumb")) }
                                    td.nowrap { a href={ "/persons/" (p.id) } { (p.id) } }
                                    td { (p.name) }
                                    td { (p.department_path) }
                                    td { (p.kind.as_str()) }
                                    td.nowrap {
                                        @if let Some(c) = &p.main_card { (c) @if p.cards > 1 { " (+" (p.cards - 1) ")" } }
                                    }
                                    td.nowrap title=(p.valid_to) { (p.valid_to.get(..10).unwrap_or(&p.valid_to)) }
                                }
                            }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav.pager aria-label="Pages" {
                    @if found.page > 1 {
                        a #page-prev href=(q.href(|x| { x.page = (found.page - 1).to_string(); x.sel.clear(); })) { "← Previous" }
                    }
                    span { "Page " (found.page) " of " (pages) }
                    @if found.page < pages {
                        a #page-next href=(q.href(|x| { x.page = (found.page + 1).to_string(); x.sel.clear(); })) { "Next →" }
                    }
                }
            }
        }
    }
}

/// The photo scaled down by CSS, loaded lazily; initials when there is none.
fn photo_thumb(id: &str, name: &str, has_photo: bool, class: &str) -> Markup {
    let initials: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect();
    html! {
        @if has_photo {
            img class=(class) src={ "/persons/" (id) "/photo" } alt={ "Photo of " (name) } loading="lazy";
        } @else {
            span class={ (class) " none" } aria-hidden="true" { (initials.to_uppercase()) }
        }
    }
}

async fn list_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(q): Query<ListQuery>,
) -> Response {
    show_list(&app, &caller, &q, &Typed::default(), None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeptForm {
    csrf: String,
    parent: String,
    name: String,
}

async fn add_department(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(q): Query<ListQuery>,
    Form(f): Form<DeptForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    let name = f.name.clone();
    let result = match parse_department(&f.parent) {
        Ok(parent) => {
            let req = NewDepartment {
                parent: parent.unwrap_or(ROOT),
                name,
            };
            blocking(&app, move |app| departments::create(app, &actor, &req)).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(d) => {
            let mut q = q;
            q.department = d.id.to_string();
            see_other(&q.back("dept-added"))
        }
        Err(e) => {
            let typed = Typed {
                dept_name: f.name,
                ..Default::default()
            };
            show_list(&app, &caller, &q, &typed, Some(&e)).await
        }
    }
}

async fn rename_department(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<u64>,
    Query(q): Query<ListQuery>,
    Form(f): Form<DeptForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    let name = f.name.clone();
    match blocking(&app, move |app| departments::rename(app, &actor, id, &name)).await {
        Ok(_) => see_other(&q.back("dept-renamed")),
        Err(e) => {
            let typed = Typed {
                rename: Some(f.name),
                ..Default::default()
            };
            show_list(&app, &caller, &q, &typed, Some(&e)).await
        }
    }
}

async fn delete_department(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<u64>,
    Query(q): Query<ListQuery>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let actor = caller.actor.clone();
    match blocking(&app, move |app| departments::delete(app, &actor, id)).await {
        Ok(()) => {
            let mut q = q;
            q.department.clear();
            see_other(&q.back("dept-deleted"))
        }
        Err(e) => show_list(&app, &caller, &q, &Typed::default(), Some(&e)).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CardSettingsForm {
    csrf: String,
    card_type: String,
    display: String,
}

async fn save_card_settings(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(q): Query<ListQuery>,
    Form(f): Form<CardSettingsForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let card_type = match f.card_type.as_str() {
        "id" => Ok(CardType::Id),
        "ic" => Ok(CardType::Ic),
        _ => Err(Error::invalid(
            "card_type",
            "card_type",
            "choose the card type \"id\" or \"ic\"",
        )),
    };
    let display = match f.display.as_str() {
        "hex" => Ok(Base::Hex),
        "decimal" => Ok(Base::Decimal),
        _ => Err(Error::invalid(
            "card_display",
            "display",
            "choose \"hex\" or \"decimal\"",
        )),
    };
    let actor = caller.actor.clone();
    let result = match (card_type, display) {
        (Ok(card_type), Ok(display)) => {
            let s = CardSettings { card_type, display };
            blocking(&app, move |app| cards::set_settings(app, &actor, s)).await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match result {
        Ok(_) => see_other(&q.back("card-settings")),
        Err(e) => show_list(&app, &caller, &q, &Typed::default(), Some(&e)).await,
    }
}

/// The actions on the selected persons: batch edit, batch issue cards, delete (and export, when
/// there is a transfer module).
async fn selection(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(q): Query<ListQuery>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    if !csrf_valid(&caller, field(&pairs, "csrf")) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let ids: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.clone())
        .collect();
    let typed = Typed {
        selected: ids.clone(),
        edit_department: field(&pairs, "department").to_owned(),
        edit_from: field(&pairs, "valid_from").to_owned(),
        edit_to: field(&pairs, "valid_to").to_owned(),
        ..Default::default()
    };
    let actor = caller.actor.clone();
    let result = match field(&pairs, "action") {
        "edit" => match parse_department(&typed.edit_department) {
            Ok(department) => {
                let req = batch::BatchEdit {
                    ids,
                    department,
                    valid_from: non_empty(&typed.edit_from),
                    valid_to: non_empty(&typed.edit_to),
                };
                blocking(&app, move |app| batch::edit(app, &actor, &req))
                    .await
                    .map(|_| q.back("batch-edited"))
            }
            Err(e) => Err(e),
        },
        "issue" => {
            let req = batch::IssueStart {
                ids,
                valid_from: None,
                valid_to: None,
            };
            blocking(&app, move |app| batch::start(app, &actor, &req))
                .await
                .map(|s| format!("/persons/issue/{}", query_escape(&s.session)))
        }
        "export-xlsx" | "export-csv" => {
            let format = if field(&pairs, "action") == "export-csv" {
                transfer::Format::Csv
            } else {
                transfer::Format::Xlsx
            };
            // Nothing selected: everyone the search found.
            let search = q.search();
            let result = blocking(&app, move |app| {
                let ids = if ids.is_empty() {
                    let base = cards::settings(app)?.display;
                    persons::search_ids(app, &search, base)?
                } else {
                    ids
                };
                transfer::export(app, &actor, Some(&ids), format)
            })
            .await;
            return match result {
                Ok(bytes) => super::persons_transfer::download(bytes, format, "selected"),
                Err(e) => show_list(&app, &caller, &q, &typed, Some(&e)).await,
            };
        }
        "delete" => blocking(&app, move |app| batch::delete(app, &actor, &ids))
            .await
            .map(|_| q.back("batch-deleted")),
        other => Err(Error::invalid(
            "selection_action",
            "action",
            format!("there is no action \"{other}\" on the selection"),
        )),
    };
    match result {
        Ok(to) => see_other(&to),
        Err(e) => show_list(&app, &caller, &q, &typed, Some(&e)).await,
    }
}

async fn photo(
    _: SetUp,
    State(app): State<Arc<App>>,
    _caller: PageCaller,
    Path(id): Path<String>,
) -> Response {
    match blocking(&app, move |app| persons::photo(app, &id)).await {
        Ok(Some(img)) => (
            [
                (header::CONTENT_TYPE, img.mime),
                (header::CACHE_CONTROL, "private, no-cache".into()),
            ],
            img.bytes,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no photo").into_response(),
        Err(e) => (status_of(&e), e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_links_keep_the_state() {
        let q = ListQuery {
            q: "ann lee".into(),
            department: "3".into(),
            s: "1".into(),
            view: "cards".into(),
            done: "dept-added".into(),
            ..Default::default()
        };
        assert!(!q.sub_departments());
        assert_eq!(
            q.href(|x| x.page = "2".into()),
            "/persons?q=ann%20lee&department=3&sub=0&page=2&view=cards"
        );
        assert_eq!(ListQuery::default().href(|_| {}), "/persons");
        assert!(ListQuery::default().sub_departments());
        assert_eq!(
            ListQuery::default().back("dept-deleted"),
            "/persons?done=dept-deleted"
        );
    }
}
