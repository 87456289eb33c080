//! The person form (manual 1.2.3): `/persons/new` and `/persons/{id}` with "Basic Info" (ID, name,
//! department, type, validity, room, password, photo) and "More Info", the person's cards (add,
//! set main, duress, freeze, replace, delete, QR code of 8-hex-digit numbers), the fingerprint and
//! face lists, and delete. Calls `persons::{get, create, update, delete, set_photo, delete_photo,
//! add_card, update_card, replace_card, delete_card}` and `cards::qr_svg`; the rules stay there.

use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::persons::{
    base_name, busy_script, department_options, done_text, non_empty, parse_department,
    read_multipart, short_time, Upload,
};
use super::public::CsrfForm;
use super::{csrf_input, csrf_valid, error_box, notice_box, see_other, Frame, SetUp};
use crate::app::App;
use crate::error::Error;
use crate::persons::cards::{self, Base};
use crate::persons::departments::{self, DepartmentView};
use crate::persons::{
    self, CardInput, CardPatch, MoreInfo, PersonInput, PersonPatch, PersonType, PersonView,
};
use crate::serial::readers::LinkState;
use crate::web::auth::PageCaller;
use crate::web::blocking;
use crate::web::error::status_of;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/persons/new", get(new_page).post(create))
        .route("/persons/{id}", get(edit_page).post(save))
        .route("/persons/{id}/delete", post(delete))
        .route("/persons/{id}/photo/delete", post(delete_photo))
        .route("/persons/{id}/cards", post(card_action))
}

/// The form's values as typed (or as stored, when first shown).
#[derive(Default, Clone)]
struct PersonForm {
    id: String,
    name: String,
    department: String,
    kind: String,
    valid_from: String,
    valid_to: String,
    room: String,
    password: String,
    password_clear: bool,
    more: MoreInfo,
    /// The first card of a new person.
    card: String,
}

/// `2026-11-30T22:00:00` (what a `datetime-local` input with seconds shows) for RFC 3339.
fn local_input(rfc3339: &str) -> String {
    rfc3339.trim_end_matches('Z').to_owned()
}

impl PersonForm {
    fn from_view(v: &PersonView) -> PersonForm {
        PersonForm {
            id: v.id.clone(),
            name: v.name.clone(),
            department: v.department.to_string(),
            kind: v.kind.as_str().to_owned(),
            valid_from: local_input(&v.valid_from),
            valid_to: local_input(&v.valid_to),
            room: v.room.clone().unwrap_or_default(),
            password: String::new(),
            password_clear: false,
            more: v.more.clone(),
            card: String::new(),
        }
    }

    fn from_upload(u: &Upload) -> PersonForm {
        let f = |n: &str| u.field(n).to_owned();
        PersonForm {
            id: f("id"),
            name: f("name"),
            department: f("department"),
            kind: f("type"),
            valid_from: f("valid_from"),
            valid_to: f("valid_to"),
            room: f("room"),
            password: f("password"),
            password_clear: u.field("password_clear") == "1",
            more: MoreInfo {
                gender: f("gender"),
                id_type: f("id_type"),
                id_number: f("id_number"),
                phone: f("phone"),
                email: f("email"),
                address: f("address"),
                company: f("company"),
                title: f("title"),
                remarks: f("remarks"),
            },
            card: f("card"),
        }
    }

    fn kind(&self) -> Result<PersonType, Error> {
        PersonType::parse(&self.kind).ok_or_else(|| {
            Error::invalid(
                "person_type",
                "type",
                format!("there is no person type \"{}\"", self.kind),
            )
        })
    }

    fn input(&self) -> Result<PersonInput, Error> {
        Ok(PersonInput {
            id: self.id.clone(),
            name: self.name.clone(),
            department: parse_department(&self.department)?,
            kind: Some(self.kind()?),
            valid_from: non_empty(&self.valid_from),
            valid_to: non_empty(&self.valid_to),
            password: non_empty(&self.password),
            room: non_empty(&self.room),
            more: self.more.clone(),
            cards: non_empty(&self.card)
                .map(|number| CardInput {
                    number,
                    ..Default::default()
                })
                .into_iter()
                .collect(),
        })
    }

    fn patch(&self) -> Result<PersonPatch, Error> {
        Ok(PersonPatch {
            name: Some(self.name.clone()),
            department: parse_department(&self.department)?,
            kind: Some(self.kind()?),
            valid_from: non_empty(&self.valid_from),
            valid_to: non_empty(&self.valid_to),
            password: if self.password_clear {
                Some(String::new())
            } else {
                non_empty(&self.password)
            },
            room: Some(self.room.clone()),
            more: Some(self.more.clone()),
        })
    }
}

/// What was typed into the card forms, shown again after a refusal.
#[derive(Default)]
struct CardTyped {
    number: String,
    /// (card, new number) of a refused replacement.
    replace: Option<(String, String)>,
}

fn type_label(t: PersonType) -> &'static str {
    match t {
        PersonType::General => "General",
        PersonType::Guest => "Guest",
        PersonType::Vip => "VIP",
        PersonType::Patrol => "Patrol",
        PersonType::Blocklist => "Blocklist",
        PersonType::Other => "Other",
    }
}

/// The person form: Basic Info and More Info side by side (stacked on a phone).
fn person_form(
    caller: &PageCaller,
    f: &PersonForm,
    existing: Option<&PersonView>,
    list: &[DepartmentView],
    base: Base,
) -> Markup {
    let action = match existing {
        Some(p) => format!("/persons/{}", p.id),
        None => "/persons/new".into(),
    };
    let kind = PersonType::parse(&f.kind).unwrap_or_default();
    html! {
        form #person-form method="post" action=(action) enctype="multipart/form-data" {
            (csrf_input(caller))
            div.person-grid {
                fieldset #basic-info {
                    legend { "Basic Info" }
                    div.photo-box {
                        @if let Some(p) = existing.filter(|p| p.has_photo) {
                            img.photo #person-photo src={ "/persons/" (p.id) "/photo" } alt={ "Photo of " (p.name) };
                        } @else {
                            span.photo.none aria-hidden="true" { "No photo" }
                        }
                        div.photo-input {
                            label { "Photo: PNG or JPEG, at most 200 KiB and 1920×1920 pixels"
                                input #photo-file type="file" name="photo" accept="image/png,image/jpeg";
                            }
                            @if existing.is_some_and(|p| p.has_photo) {
                                // submits the separate form below the person form (forms do not nest)
                                button #photo-delete .secondary.small type="submit" form="photo-delete-form" { "Remove photo" }
                            }
                        }
                    }
                    div.pair2 {
                        label { "Person ID"
                            @if existing.is_some() {
                                input #person-id name="id" value=(f.id) readonly;
                            } @else {
                                input #person-id name="id" value=(f.id) required maxlength="30" autocomplete="off";
                            }
                        }
                        label { "Name" input #person-name name="name" value=(f.name) required maxlength="64" autocomplete="off"; }
                    }
                    div.pair2 {
                        label { "Department"
                            select #person-department name="department" { (department_options(list, &f.department, None)) }
                        }
                        label { "Type"
                            select #person-type name="type" {
                                @for t in PersonType::ALL {
                                    option value=(t.as_str()) selected[t == kind] { (type_label(t)) }
                                }
                            }
                        }
                    }
                    div.pair2 {
                        label { "Effective time (UTC)"
                            input #valid-from type="datetime-local" step="1" name="valid_from" value=(f.valid_from);
                            @if existing.is_none() { small.hint { "Empty: from now" } }
                        }
                        label { "Expiry time (UTC)"
                            input #valid-to type="datetime-local" step="1" name="valid_to" value=(f.valid_to);
                            @if existing.is_none() { small.hint { "Empty: ten years on" } }
                        }
                    }
                    div.pair2 {
                        label { "Room" input #person-room name="room" value=(f.room) maxlength="32" placeholder="01#01#302"; }
                        label { "Password (6–8 digits)"
                            input #person-password type="password" name="password" value=(f.password) inputmode="numeric" autocomplete="new-password";
                            @if let Some(p) = existing {
                                small.hint { @if p.password_set { "A password is set; leave empty to keep it." } @else { "No password yet." } }
                            }
                        }
                    }
                    @if existing.is_some_and(|p| p.password_set) {
                        label.check { input type="checkbox" name="password_clear" value="1" checked[f.password_clear]; "Remove the password" }
                    }
                    @if existing.is_none() {
                        label { "Card number (" (base_name(base)) ", optional; more cards on the next page)"
                            input #person-card name="card" value=(f.card) autocomplete="off";
                        }
                        p.inline-actions {
                            button #person-card-read .secondary.small type="button" hidden { "Read from card issuer" }
                            " " span #person-card-read-msg .hint {}
                        }
                        (read_card_script())
                    }
                }
                fieldset #more-info {
                    legend { "More Info" }
                    div.pair2 {
                        label { "Gender"
                            select name="gender" {
                                @for (v, t) in [("", "—"), ("male", "Male"), ("female", "Female")] {
                                    option value=(v) selected[f.more.gender == v] { (t) }
                                }
                            }
                        }
                        label { "Phone" input name="phone" type="tel" value=(f.more.phone) maxlength="32"; }
                    }
                    div.pair2 {
                        label { "ID type" input name="id_type" value=(f.more.id_type) maxlength="32" placeholder="ID card, passport…"; }
                        label { "ID number" input name="id_number" value=(f.more.id_number) maxlength="64"; }
                    }
                    label { "E-mail" input name="email" type="email" value=(f.more.email) maxlength="128"; }
                    label { "Address" input name="address" value=(f.more.address) maxlength="200"; }
                    div.pair2 {
                        label { "Company" input name="company" value=(f.more.company) maxlength="64"; }
                        label { "Title" input name="title" value=(f.more.title) maxlength="64"; }
                    }
                    label { "Remarks" textarea name="remarks" rows="3" maxlength="500" { (f.more.remarks) } }
                }
            }
            button #person-save type="submit" { @if existing.is_some() { "Save" } @else { "Add person" } }
            " "
            a href="/persons" { "Cancel" }
        }
    }
}

/// The QR code of a card as an inline SVG (without the XML declaration).
fn qr(canonical: &str) -> Option<PreEscaped<String>> {
    match cards::qr_svg(canonical) {
        Ok(svg) => svg.find("<svg").map(|i| PreEscaped(svg[i..].to_owned())),
        Err(e) => {
            tracing::warn!(error = %e, "qr code");
            None
        }
    }
}

fn cards_section(caller: &PageCaller, p: &PersonView, base: Base, typed: &CardTyped) -> Markup {
    let action = format!("/persons/{}/cards", p.id);
    html! {
        section.card #cards {
            h2 { "Cards (" (p.cards.len()) " of " (persons::MAX_CARDS) ")" }
            @if p.cards.is_empty() {
                p.hint #no-cards { "No card yet." }
            } @else {
                div.scroll {
                    table #cards-table {
                        thead { tr { th { "Card No." } th { "State" } th { "Actions" } } }
                        tbody {
                            @for c in &p.cards {
                                tr #{ "card-" (c.canonical) } {
                                    td.nowrap {
                                        code.card-no { (c.number) }
                                        @if c.qr {
                                            @if let Some(svg) = qr(&c.canonical) {
                                                details.qr {
                                                    summary #{ "qr-link-" (c.canonical) } { "QR" }
                                                    div.qr-code #{ "qr-" (c.canonical) } { (svg) }
                                                }
                                            }
                                        }
                                    }
                                    td {
                                        @if c.main { span.badge.main { "main" } " " }
                                        @if c.duress { span.badge.duress { "duress" } " " }
                                        @if c.frozen { span.badge.frozen { "frozen" } }
                                    }
                                    td.actions.card-actions {
                                        form method="post" action=(action) {
                                            (csrf_input(caller))
                                            input type="hidden" name="number" value=(c.number);
                                            @if !c.main {
                                                button.secondary.small type="submit" name="op" value="main" { "Set main" }
                                            }
                                            @if c.duress {
                                                button.secondary.small type="submit" name="op" value="duress-off" { "Duress off" }
                                            } @else {
                                                button.secondary.small type="submit" name="op" value="duress-on" { "Duress on" }
                                            }
                                            @if c.frozen {
                                                button.secondary.small type="submit" name="op" value="unfreeze" { "Unfreeze" }
                                            } @else {
                                                button.secondary.small type="submit" name="op" value="freeze" { "Freeze" }
                                            }
                                            button.danger.small type="submit" name="op" value="delete" { "Delete" }
                                        }
                                        @let replacing = typed.replace.as_ref().filter(|(n, _)| *n == c.number);
                                        details open[replacing.is_some()] {
                                            summary { "Replace" }
                                            form method="post" action=(action) {
                                                (csrf_input(caller))
                                                input type="hidden" name="number" value=(c.number);
                                                input type="hidden" name="op" value="replace";
                                                label { "New card number (" (base_name(base)) "); main, duress and frozen stay"
                                                    input name="new_number" value=(replacing.map(|(_, n)| n.as_str()).unwrap_or("")) required autocomplete="off";
                                                }
                                                button.small type="submit" { "Replace" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if p.cards.len() < persons::MAX_CARDS {
                form #card-add-form method="post" action=(action) {
                    (csrf_input(caller))
                    label { "Card number (" (base_name(base)) ")"
                        input #card-number name="number" value=(typed.number) required autocomplete="off";
                    }
                    label.check { input type="checkbox" name="main" value="1"; "Main card" }
                    label.check { input type="checkbox" name="duress" value="1"; "Duress card" }
                    button #card-add type="submit" name="op" value="add" { "Add card" }
                    " "
                    button #card-read .secondary type="submit" name="op" value="read" formnovalidate { "Read from card issuer" }
                }
                p.hint { "Type the number, or press " em { "Read from card issuer" } " and hold the card on the \
                          issuer (it waits up to 30 s); the number read is filled in above for you to add. \
                          Only 8-digit hexadecimal numbers have a QR code." }
            }
        }
    }
}

fn biometrics_section(caller: &PageCaller, p: &PersonView, scanner: LinkState) -> Markup {
    html! {
        section.card #biometrics {
            h2 { "Fingerprints and face" }
            (super::reader_pages::fingerprints_section(caller, p, scanner))
            h3 { "Face" }
            @if let Some(t) = &p.face {
                p #face { (t.source) ", " (short_time(&t.captured)) }
            } @else {
                p.hint #no-face { "No face data." }
            }
            p.hint #face-coming { "Face data comes from a face-recognition device (person collection); \
                                   it cannot be enrolled from this page." }
        }
    }
}

/// Plain JavaScript for the new-person form: "Read from card issuer" asks the API for one card
/// (the button shows it is busy while the issuer waits) and fills the card field with the number
/// in the display base, or says why not. Without JavaScript the button stays hidden: cards can be
/// read on the person's page after creation.
fn read_card_script() -> Markup {
    html! {
        script {
            (PreEscaped(
                "(function(){var b=document.getElementById('person-card-read');if(!b||!window.fetch){return;}\
                 b.hidden=false;var m=document.getElementById('person-card-read-msg');\
                 b.addEventListener('click',function(){\
                 var t=document.querySelector('input[name=csrf]');b.classList.add('busy');b.setAttribute('aria-busy','true');\
                 m.textContent='Hold the card on the issuer…';\
                 fetch('/api/v1/readers/card/read',{method:'POST',credentials:'same-origin',\
                 headers:{'content-type':'application/json','x-csrf-token':t?t.value:''},body:'{}'})\
                 .then(function(r){return r.json().then(function(j){return {ok:r.ok,j:j};});})\
                 .then(function(x){if(x.ok){document.getElementById('person-card').value=x.j.number;\
                 m.textContent='Card '+x.j.number+' read.';}else{m.textContent=x.j.message||'The card could not be read.';}})\
                 .catch(function(){m.textContent='The card could not be read.';})\
                 .then(function(){b.classList.remove('busy');b.removeAttribute('aria-busy');});});})();"
            ))
        }
    }
}

/// The edit page of `id` showing `err` (for the reader flows' refusals).
pub(super) async fn edit_with_error(
    app: &Arc<App>,
    caller: &PageCaller,
    id: &str,
    err: &Error,
) -> Response {
    show_edit(
        app,
        caller,
        id,
        None,
        &CardTyped::default(),
        None,
        Some(err),
    )
    .await
}

struct PersonData {
    person: Option<PersonView>,
    departments: Vec<DepartmentView>,
    base: Base,
}

async fn load(app: &Arc<App>, id: Option<String>) -> Result<PersonData, Error> {
    blocking(app, move |app| {
        Ok(PersonData {
            person: id.map(|id| persons::get(app, &id)).transpose()?,
            departments: departments::list(app)?,
            base: cards::settings(app)?.display,
        })
    })
    .await
}

/// The add page with what was typed and the error of a refused add.
async fn show_new(
    app: &Arc<App>,
    caller: &PageCaller,
    typed: &PersonForm,
    err: Option<&Error>,
) -> Response {
    let frame = Frame::load(app, Some(caller)).await;
    let data = match load(app, None).await {
        Ok(d) => d,
        Err(e) => return frame.error(&e),
    };
    frame.page(
        err.map(status_of).unwrap_or(StatusCode::OK),
        "Add person",
        html! {
            p.crumbs { a href="/persons" { "← Persons" } }
            (error_box(err))
            (person_form(caller, typed, None, &data.departments, data.base))
            (busy_script())
        },
    )
}

/// The edit page of person `id`; `typed` replaces the stored values after a refused change.
async fn show_edit(
    app: &Arc<App>,
    caller: &PageCaller,
    id: &str,
    typed: Option<&PersonForm>,
    card_typed: &CardTyped,
    notice: Option<&str>,
    err: Option<&Error>,
) -> Response {
    let frame = Frame::load(app, Some(caller)).await;
    let data = match load(app, Some(id.to_owned())).await {
        Ok(d) => d,
        Err(e) => return frame.error(&e),
    };
    let Some(p) = data.person else {
        return frame.error(&Error::NotFound(format!("no person with ID \"{id}\"")));
    };
    let form = typed.cloned().unwrap_or_else(|| PersonForm::from_view(&p));
    frame.page(
        err.map(status_of).unwrap_or(StatusCode::OK),
        &format!("{} ({})", p.name, p.id),
        html! {
            p.crumbs { a href="/persons" { "← Persons" } " · " span.muted { (p.department_path) } }
            (notice_box(notice))
            (error_box(err))
            (person_form(caller, &form, Some(&p), &data.departments, data.base))
            @if p.has_photo {
                form #photo-delete-form method="post" action={ "/persons/" (p.id) "/photo/delete" } {
                    (csrf_input(caller))
                }
            }
            (cards_section(caller, &p, data.base, card_typed))
            (biometrics_section(caller, &p, app.readers.fingerprint.state()))
            section.card #delete-person {
                details {
                    summary { "Delete this person" }
                    form method="post" action={ "/persons/" (p.id) "/delete" } {
                        (csrf_input(caller))
                        p.hint { "Deletes " (p.name) " with all cards, fingerprints, face data and photo." }
                        button #person-delete .danger type="submit" { "Delete " (p.id) }
                    }
                }
            }
            p.hint { "Added " (short_time(&p.created)) " UTC, last changed " (short_time(&p.updated)) " UTC." }
            (busy_script())
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoneQuery {
    done: String,
}

async fn new_page(_: SetUp, State(app): State<Arc<App>>, caller: PageCaller) -> Response {
    show_new(&app, &caller, &PersonForm::default(), None).await
}

async fn edit_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<String>,
    Query(d): Query<DoneQuery>,
) -> Response {
    show_edit(
        &app,
        &caller,
        &id,
        None,
        &CardTyped::default(),
        done_text(&d.done),
        None,
    )
    .await
}

async fn create(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let upload = match read_multipart(multipart, &["photo"]).await {
        Ok(u) => u,
        Err(e) => return show_new(&app, &caller, &PersonForm::default(), Some(&e)).await,
    };
    if !csrf_valid(&caller, upload.field("csrf")) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let form = PersonForm::from_upload(&upload);
    let input = match form.input() {
        Ok(i) => i,
        Err(e) => return show_new(&app, &caller, &form, Some(&e)).await,
    };
    let photo = upload.file("photo").map(<[u8]>::to_vec);
    let actor = caller.actor.clone();
    // The photo is checked before the person is created, so a refused photo adds nobody.
    let result = blocking(&app, move |app| {
        if let Some(bytes) = &photo {
            persons::check_photo(bytes)?;
        }
        let p = persons::create(app, &actor, &input)?;
        if let Some(bytes) = &photo {
            persons::set_photo(app, &actor, &p.id, bytes)?;
        }
        Ok(p)
    })
    .await;
    match result {
        Ok(p) => see_other(&format!("/persons/{}?done=person-created", p.id)),
        Err(e) => show_new(&app, &caller, &form, Some(&e)).await,
    }
}

async fn save(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let upload = match read_multipart(multipart, &["photo"]).await {
        Ok(u) => u,
        Err(e) => return edit_with_error(&app, &caller, &id, &e).await,
    };
    if !csrf_valid(&caller, upload.field("csrf")) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let form = PersonForm::from_upload(&upload);
    let patch = match form.patch() {
        Ok(p) => p,
        Err(e) => {
            return show_edit(
                &app,
                &caller,
                &id,
                Some(&form),
                &CardTyped::default(),
                None,
                Some(&e),
            )
            .await
        }
    };
    let photo = upload.file("photo").map(<[u8]>::to_vec);
    let (actor, pid) = (caller.actor.clone(), id.clone());
    let result = blocking(&app, move |app| {
        if let Some(bytes) = &photo {
            persons::check_photo(bytes)?;
        }
        persons::update(app, &actor, &pid, &patch)?;
        if let Some(bytes) = &photo {
            persons::set_photo(app, &actor, &pid, bytes)?;
        }
        Ok(())
    })
    .await;
    match result {
        Ok(()) => see_other(&format!("/persons/{id}?done=person-saved")),
        Err(e) => {
            show_edit(
                &app,
                &caller,
                &id,
                Some(&form),
                &CardTyped::default(),
                None,
                Some(&e),
            )
            .await
        }
    }
}

async fn delete(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let (actor, pid) = (caller.actor.clone(), id.clone());
    match blocking(&app, move |app| persons::delete(app, &actor, &pid)).await {
        Ok(()) => see_other("/persons?done=person-deleted"),
        Err(e) => edit_with_error(&app, &caller, &id, &e).await,
    }
}

async fn delete_photo(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    let (actor, pid) = (caller.actor.clone(), id.clone());
    match blocking(&app, move |app| persons::delete_photo(app, &actor, &pid)).await {
        Ok(()) => see_other(&format!("/persons/{id}?done=photo-removed")),
        Err(e) => edit_with_error(&app, &caller, &id, &e).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CardForm {
    csrf: String,
    op: String,
    number: String,
    new_number: String,
    main: String,
    duress: String,
}

/// One change to a person's cards.
enum CardOp {
    Add(CardInput),
    Flags(CardPatch),
    Replace(String),
    Delete,
}

impl CardOp {
    fn from_form(f: &CardForm) -> Result<CardOp, Error> {
        let flags = |p: CardPatch| Ok(CardOp::Flags(p));
        match f.op.as_str() {
            "add" => Ok(CardOp::Add(CardInput {
                number: f.number.clone(),
                main: f.main == "1",
                duress: f.duress == "1",
                frozen: false,
            })),
            "replace" => Ok(CardOp::Replace(f.new_number.clone())),
            "delete" => Ok(CardOp::Delete),
            "main" => flags(CardPatch {
                main: Some(true),
                ..Default::default()
            }),
            "duress-on" | "duress-off" => flags(CardPatch {
                duress: Some(f.op == "duress-on"),
                ..Default::default()
            }),
            "freeze" | "unfreeze" => flags(CardPatch {
                frozen: Some(f.op == "freeze"),
                ..Default::default()
            }),
            other => Err(Error::invalid(
                "card_action",
                "op",
                format!("there is no card action \"{other}\""),
            )),
        }
    }
}

async fn card_action(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<CardForm>,
) -> Response {
    if !csrf_valid(&caller, &f.csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    if f.op == "read" {
        // Wait for a card on the issuer (the button shows it is busy) and fill the number in.
        return match crate::serial::readers::read_card(&app, &caller.actor, Some(id.clone()), None)
            .await
        {
            Ok(card) => {
                let typed = CardTyped {
                    number: card.number.clone(),
                    replace: None,
                };
                let notice = format!(
                    "Card {} read from the issuer. Check the flags and press Add card.",
                    card.number
                );
                show_edit(&app, &caller, &id, None, &typed, Some(&notice), None).await
            }
            Err(e) => edit_with_error(&app, &caller, &id, &e).await,
        };
    }
    let (actor, pid, number) = (caller.actor.clone(), id.clone(), f.number.clone());
    let result = match CardOp::from_form(&f) {
        Err(e) => Err(e),
        Ok(op) => {
            blocking(&app, move |app| {
                Ok(match op {
                    CardOp::Add(card) => {
                        persons::add_card(app, &actor, &pid, &card)?;
                        "card-added"
                    }
                    CardOp::Flags(p) => {
                        persons::update_card(app, &actor, &pid, &number, &p)?;
                        "card-changed"
                    }
                    CardOp::Replace(new) => {
                        persons::replace_card(app, &actor, &pid, &number, &new)?;
                        "card-replaced"
                    }
                    CardOp::Delete => {
                        persons::delete_card(app, &actor, &pid, &number)?;
                        "card-deleted"
                    }
                })
            })
            .await
        }
    };
    match result {
        Ok(done) => see_other(&format!("/persons/{id}?done={done}#cards")),
        Err(e) => {
            let typed = CardTyped {
                number: if f.op == "add" {
                    f.number.clone()
                } else {
                    String::new()
                },
                replace: (f.op == "replace").then(|| (f.number.clone(), f.new_number.clone())),
            };
            show_edit(&app, &caller, &id, None, &typed, None, Some(&e)).await
        }
    }
}
