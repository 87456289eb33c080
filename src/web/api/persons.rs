//! JSON API of person management (manual 1.2): departments, card settings, persons with their
//! cards and photo, search, batch add, batch edit and card-issuing sessions. Thin handlers over
//! `crate::persons`; operators and administrators alike (operators manage persons).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::error::Error;
use crate::persons::batch::{self, BatchAdd, BatchEdit, IssueSession, IssueStart};
use crate::persons::cards::{self, CardSettings};
use crate::persons::departments::{self, DepartmentView, NewDepartment};
use crate::persons::{
    self, CardInput, CardPatch, PersonInput, PersonPatch, PersonView, SearchPage, SearchQuery,
};
use crate::web::auth::{ApiJson, Caller};
use crate::web::blocking;
use crate::web::error::{ApiError, ErrorBody};

type ApiResult<T> = Result<T, ApiError>;
type AppState = State<Arc<App>>;

/// Departments as a depth-first list (root first), with paths and counts.
#[utoipa::path(get, path = "/api/v1/departments", tag = "persons", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<DepartmentView>)))]
pub async fn list_departments(
    State(app): AppState,
    _c: Caller,
) -> ApiResult<Json<Vec<DepartmentView>>> {
    Ok(Json(blocking(&app, departments::list).await?))
}

/// Adds a department under `parent` (1 is the company).
#[utoipa::path(post, path = "/api/v1/departments", tag = "persons", request_body = NewDepartment, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = DepartmentView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_department(
    State(app): AppState,
    c: Caller,
    ApiJson(r): ApiJson<NewDepartment>,
) -> ApiResult<(StatusCode, Json<DepartmentView>)> {
    let d = blocking(&app, move |app| departments::create(app, &c.actor, &r)).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[derive(Deserialize, ToSchema)]
pub struct Rename {
    name: String,
}

/// Renames a department.
#[utoipa::path(patch, path = "/api/v1/departments/{id}", tag = "persons", params(("id" = u64, Path)), request_body = Rename, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = DepartmentView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn rename_department(
    State(app): AppState,
    c: Caller,
    Path(id): Path<u64>,
    ApiJson(r): ApiJson<Rename>,
) -> ApiResult<Json<DepartmentView>> {
    Ok(Json(
        blocking(&app, move |app| {
            departments::rename(app, &c.actor, id, &r.name)
        })
        .await?,
    ))
}

/// Deletes an empty department (refused, with the counts, while it holds persons or sub-departments).
#[utoipa::path(delete, path = "/api/v1/departments/{id}", tag = "persons", params(("id" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_department(
    State(app): AppState,
    c: Caller,
    Path(id): Path<u64>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| departments::delete(app, &c.actor, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Card type and number display (hexadecimal or decimal).
#[utoipa::path(get, path = "/api/v1/card-settings", tag = "persons", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CardSettings)))]
pub async fn get_card_settings(State(app): AppState, _c: Caller) -> ApiResult<Json<CardSettings>> {
    Ok(Json(blocking(&app, cards::settings).await?))
}

/// Sets card type and display; stored card numbers never change.
#[utoipa::path(put, path = "/api/v1/card-settings", tag = "persons", request_body = CardSettings, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CardSettings), (status = 400, body = ErrorBody)))]
pub async fn set_card_settings(
    State(app): AppState,
    c: Caller,
    ApiJson(s): ApiJson<CardSettings>,
) -> ApiResult<Json<CardSettings>> {
    Ok(Json(
        blocking(&app, move |app| cards::set_settings(app, &c.actor, s)).await?,
    ))
}

/// Searches persons by ID, name or card (in the display base), by department, paginated.
#[utoipa::path(get, path = "/api/v1/persons", tag = "persons", params(SearchQuery), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = SearchPage), (status = 422, body = ErrorBody)))]
pub async fn search_persons(
    State(app): AppState,
    _c: Caller,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<SearchPage>> {
    Ok(Json(
        blocking(&app, move |app| persons::search(app, &q)).await?,
    ))
}

/// Adds a person (with cards, numbers in the display base).
#[utoipa::path(post, path = "/api/v1/persons", tag = "persons", request_body = PersonInput, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = PersonView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_person(
    State(app): AppState,
    c: Caller,
    ApiJson(p): ApiJson<PersonInput>,
) -> ApiResult<(StatusCode, Json<PersonView>)> {
    let v = blocking(&app, move |app| persons::create(app, &c.actor, &p)).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// One person.
#[utoipa::path(get, path = "/api/v1/persons/{id}", tag = "persons", params(("id" = String, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = PersonView), (status = 404, body = ErrorBody)))]
pub async fn get_person(
    State(app): AppState,
    _c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PersonView>> {
    Ok(Json(
        blocking(&app, move |app| persons::get(app, &id)).await?,
    ))
}

/// Changes a person's details; absent fields stay.
#[utoipa::path(patch, path = "/api/v1/persons/{id}", tag = "persons", params(("id" = String, Path)), request_body = PersonPatch, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = PersonView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_person(
    State(app): AppState,
    c: Caller,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<PersonPatch>,
) -> ApiResult<Json<PersonView>> {
    Ok(Json(
        blocking(&app, move |app| persons::update(app, &c.actor, &id, &p)).await?,
    ))
}

/// Deletes a person with its cards, photo and templates.
#[utoipa::path(delete, path = "/api/v1/persons/{id}", tag = "persons", params(("id" = String, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_person(
    State(app): AppState,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| persons::delete(app, &c.actor, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a card (at most 5; unique across persons; the first is the main card).
#[utoipa::path(post, path = "/api/v1/persons/{id}/cards", tag = "persons", params(("id" = String, Path)), request_body = CardInput, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = PersonView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_card(
    State(app): AppState,
    c: Caller,
    Path(id): Path<String>,
    ApiJson(card): ApiJson<CardInput>,
) -> ApiResult<(StatusCode, Json<PersonView>)> {
    let v = blocking(&app, move |app| {
        persons::add_card(app, &c.actor, &id, &card)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Sets a card's flags: main, duress, frozen.
#[utoipa::path(patch, path = "/api/v1/persons/{id}/cards/{number}", tag = "persons", params(("id" = String, Path), ("number" = String, Path, description = "in the display base")), request_body = CardPatch, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = PersonView), (status = 404, body = ErrorBody)))]
pub async fn update_card(
    State(app): AppState,
    c: Caller,
    Path((id, number)): Path<(String, String)>,
    ApiJson(p): ApiJson<CardPatch>,
) -> ApiResult<Json<PersonView>> {
    Ok(Json(
        blocking(&app, move |app| {
            persons::update_card(app, &c.actor, &id, &number, &p)
        })
        .await?,
    ))
}

/// Deletes a card.
#[utoipa::path(delete, path = "/api/v1/persons/{id}/cards/{number}", tag = "persons", params(("id" = String, Path), ("number" = String, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = PersonView), (status = 404, body = ErrorBody)))]
pub async fn delete_card(
    State(app): AppState,
    c: Caller,
    Path((id, number)): Path<(String, String)>,
) -> ApiResult<Json<PersonView>> {
    Ok(Json(
        blocking(&app, move |app| {
            persons::delete_card(app, &c.actor, &id, &number)
        })
        .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct Replace {
    /// The new number, in the display base; the card keeps its flags.
    new_number: String,
}

/// Replaces a card by a new number, keeping main/duress/frozen.
#[utoipa::path(post, path = "/api/v1/persons/{id}/cards/{number}/replace", tag = "persons", params(("id" = String, Path), ("number" = String, Path)), request_body = Replace, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = PersonView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn replace_card(
    State(app): AppState,
    c: Caller,
    Path((id, number)): Path<(String, String)>,
    ApiJson(r): ApiJson<Replace>,
) -> ApiResult<Json<PersonView>> {
    Ok(Json(
        blocking(&app, move |app| {
            persons::replace_card(app, &c.actor, &id, &number, &r.new_number)
        })
        .await?,
    ))
}

/// The QR code of an 8-hex-digit card, as SVG.
#[utoipa::path(get, path = "/api/v1/persons/{id}/cards/{number}/qr", tag = "persons", params(("id" = String, Path), ("number" = String, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "SVG", content_type = "image/svg+xml"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn card_qr(
    State(app): AppState,
    _c: Caller,
    Path((id, number)): Path<(String, String)>,
) -> ApiResult<Response> {
    let svg = blocking(&app, move |app| {
        let base = cards::settings(app)?.display;
        let canonical = cards::parse(&number, base, "number")?;
        let p = persons::load(app, &id)?;
        if !p.cards.iter().any(|c| c.number == canonical) {
            return Err(Error::NotFound(format!("\"{id}\" has no card {number}")));
        }
        if !cards::has_qr(&canonical) {
            return Err(Error::invalid(
                "card_qr",
                "number",
                "only 8-hex-digit card numbers have a QR code",
            ));
        }
        cards::qr_svg(&canonical)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// The person's photo.
#[utoipa::path(get, path = "/api/v1/persons/{id}/photo", tag = "persons", params(("id" = String, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "PNG or JPEG", content_type = "image/*"), (status = 404, body = ErrorBody)))]
pub async fn get_photo(
    State(app): AppState,
    _c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    photo_response(&app, id).await
}

/// The stored photo of `id` as a response (shared with the page).
pub async fn photo_response(app: &Arc<App>, id: String) -> ApiResult<Response> {
    match blocking(app, move |app| persons::photo(app, &id)).await? {
        Some(img) => Ok((
            [
                (header::CONTENT_TYPE, img.mime),
                (header::CACHE_CONTROL, "private, max-age=60".into()),
            ],
            img.bytes,
        )
            .into_response()),
        None => Err(Error::NotFound("no photo".into()).into()),
    }
}

/// Sets the photo: raw PNG or JPEG body (at most 200 KiB, 1920×1920 pixels).
#[utoipa::path(put, path = "/api/v1/persons/{id}/photo", tag = "persons", params(("id" = String, Path)), security(("bearer" = []), ("cookie" = [])),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_photo(
    State(app): AppState,
    c: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| {
        persons::set_photo(app, &c.actor, &id, &body)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the photo.
#[utoipa::path(delete, path = "/api/v1/persons/{id}/photo", tag = "persons", params(("id" = String, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_photo(
    State(app): AppState,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| persons::delete_photo(app, &c.actor, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct BatchAdded {
    /// The generated person IDs, in order.
    pub ids: Vec<String>,
}

/// Batch add: `count` persons with IDs counting up from `start_id`, in one transaction.
#[utoipa::path(post, path = "/api/v1/persons/batch-add", tag = "persons", request_body = BatchAdd, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = BatchAdded), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn batch_add(
    State(app): AppState,
    c: Caller,
    ApiJson(r): ApiJson<BatchAdd>,
) -> ApiResult<(StatusCode, Json<BatchAdded>)> {
    let ids = blocking(&app, move |app| batch::add(app, &c.actor, &r)).await?;
    Ok((StatusCode::CREATED, Json(BatchAdded { ids })))
}

#[derive(Serialize, ToSchema)]
pub struct BatchEdited {
    pub updated: usize,
}

/// Batch edit: department and/or validity of the selected persons, in one transaction.
#[utoipa::path(post, path = "/api/v1/persons/batch-edit", tag = "persons", request_body = BatchEdit, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = BatchEdited), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn batch_edit(
    State(app): AppState,
    c: Caller,
    ApiJson(r): ApiJson<BatchEdit>,
) -> ApiResult<Json<BatchEdited>> {
    let updated = blocking(&app, move |app| batch::edit(app, &c.actor, &r)).await?;
    Ok(Json(BatchEdited { updated }))
}

/// Starts a card-issuing session (batch add, batch issue cards) for persons without a card.
#[utoipa::path(post, path = "/api/v1/persons/card-issuing", tag = "persons", request_body = IssueStart, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = IssueSession), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn issue_start(
    State(app): AppState,
    c: Caller,
    ApiJson(r): ApiJson<IssueStart>,
) -> ApiResult<(StatusCode, Json<IssueSession>)> {
    let s = blocking(&app, move |app| batch::start(app, &c.actor, &r)).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// A card-issuing session: the ordered list and who is next.
#[utoipa::path(get, path = "/api/v1/persons/card-issuing/{session}", tag = "persons", params(("session" = String, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = IssueSession), (status = 404, body = ErrorBody)))]
pub async fn issue_view(
    State(app): AppState,
    _c: Caller,
    Path(session): Path<String>,
) -> ApiResult<Json<IssueSession>> {
    Ok(Json(
        blocking(&app, move |app| batch::view(app, &session)).await?,
    ))
}

/// Ends a card-issuing session (cards already issued stay).
#[utoipa::path(delete, path = "/api/v1/persons/card-issuing/{session}", tag = "persons", params(("session" = String, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn issue_stop(
    State(app): AppState,
    _c: Caller,
    Path(session): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| batch::stop(app, &session)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct IssueCard {
    /// Card number in the display base.
    pub number: String,
    /// The person to give it to; absent = the next person waiting.
    pub person: Option<String>,
}

/// Issues a card to the next person waiting (or to `person`), stored at once.
#[utoipa::path(post, path = "/api/v1/persons/card-issuing/{session}/cards", tag = "persons", params(("session" = String, Path)), request_body = IssueCard, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = IssueSession), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn issue_card(
    State(app): AppState,
    c: Caller,
    Path(session): Path<String>,
    ApiJson(r): ApiJson<IssueCard>,
) -> ApiResult<Json<IssueSession>> {
    Ok(Json(
        blocking(&app, move |app| {
            batch::issue(app, &c.actor, &session, &r.number, r.person.as_deref())
        })
        .await?,
    ))
}
