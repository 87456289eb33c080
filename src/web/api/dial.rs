//! JSON API of dial management (manual 3.2) under `/api/v1/registrations` — registration numbers
//! and their SIP passwords (shown once, on creation or regeneration) — and of room unlock passwords
//! (manual 3.3) under `/api/v1/organization/rooms/…/password`, `…/send` and `…/send-status`. Thin
//! handlers over `crate::intercom::registrations` and `crate::intercom::room_passwords`; changes
//! are for administrators (the domain checks it), reads for all. Also the device list's JSON
//! export/import and the ConfigTool spreadsheet template and import (`crate::intercom::configtool`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::{UtoipaMethodRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::app::App;
use crate::intercom::configtool::{self, ImportOutcome};
use crate::intercom::device_transfer::{self, DeviceFile, Imported};
use crate::intercom::registrations::{self, NewRegistration, RegistrationView, WithSipPassword};
use crate::intercom::room_passwords::{self, SendStatusView};
use crate::persons::transfer::MAX_BYTES;
use crate::web::api::transfer::{download, import_body, rejected, FormatQuery, ImportRejected};
use crate::web::auth::{ApiJson, Caller};
use crate::web::blocking;
use crate::web::error::{ApiError, ErrorBody};

type ApiResult<T> = Result<T, ApiError>;
type AppState = State<Arc<App>>;

/// Every registration number.
#[utoipa::path(get, path = "/api/v1/registrations", tag = "intercom", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<RegistrationView>)))]
pub async fn list(State(app): AppState, _c: Caller) -> ApiResult<Json<Vec<RegistrationView>>> {
    Ok(Json(blocking(&app, registrations::list).await?))
}

/// Adds a registration number to a VTH, VTO, VTS or manager client (`type: manager`, whose number
/// is its device number); the answer's `sip_password` is shown only now.
#[utoipa::path(post, path = "/api/v1/registrations", tag = "intercom", request_body = NewRegistration, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = WithSipPassword), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(app): AppState,
    c: Caller,
    ApiJson(r): ApiJson<NewRegistration>,
) -> ApiResult<(StatusCode, Json<WithSipPassword>)> {
    Ok((
        StatusCode::CREATED,
        Json(blocking(&app, move |app| registrations::create(app, &c.actor, &r)).await?),
    ))
}

/// The registration of a device (the SIP password only as `sip_password_set`).
#[utoipa::path(get, path = "/api/v1/registrations/{device}", tag = "intercom", params(("device" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = RegistrationView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): AppState,
    _c: Caller,
    Path(device): Path<u64>,
) -> ApiResult<Json<RegistrationView>> {
    Ok(Json(
        blocking(&app, move |app| registrations::view(app, device)).await?,
    ))
}

/// Removes the registration of a device.
#[utoipa::path(delete, path = "/api/v1/registrations/{device}", tag = "intercom", params(("device" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(app): AppState,
    c: Caller,
    Path(device): Path<u64>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| {
        registrations::delete(app, &c.actor, device)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Generates a new SIP password for a registration; shown only in this answer.
#[utoipa::path(post, path = "/api/v1/registrations/{device}/sip-password", tag = "intercom", params(("device" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = WithSipPassword), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn regenerate(
    State(app): AppState,
    c: Caller,
    Path(device): Path<u64>,
) -> ApiResult<Json<WithSipPassword>> {
    Ok(Json(
        blocking(&app, move |app| {
            registrations::regenerate_sip_password(app, &c.actor, device)
        })
        .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordInput {
    /// 6 to 8 digits.
    pub password: String,
    /// The same again.
    pub confirm: String,
}

#[derive(Serialize, ToSchema)]
pub struct Queued {
    /// Devices the password (or its removal) is queued for.
    pub queued: usize,
}

/// Sets or changes a room's unlock password; sending to the unit's door stations and the room's
/// indoor monitors is queued.
#[utoipa::path(put, path = "/api/v1/organization/rooms/{id}/password", tag = "intercom", params(("id" = u64, Path)), request_body = PasswordInput, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Queued), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_room_password(
    State(app): AppState,
    c: Caller,
    Path(id): Path<u64>,
    ApiJson(p): ApiJson<PasswordInput>,
) -> ApiResult<Json<Queued>> {
    let queued = blocking(&app, move |app| {
        room_passwords::set(app, &c.actor, id, &p.password, &p.confirm)
    })
    .await?;
    Ok(Json(Queued { queued }))
}

/// Clears a room's unlock password; its removal from the devices is queued.
#[utoipa::path(delete, path = "/api/v1/organization/rooms/{id}/password", tag = "intercom", params(("id" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Queued), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn clear_room_password(
    State(app): AppState,
    c: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Json<Queued>> {
    let queued = blocking(&app, move |app| room_passwords::clear(app, &c.actor, id)).await?;
    Ok(Json(Queued { queued }))
}

/// Sends a room's unlock password to its devices again.
#[utoipa::path(post, path = "/api/v1/organization/rooms/{id}/send", tag = "intercom", params(("id" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Queued), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn send_room(
    State(app): AppState,
    c: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Json<Queued>> {
    let queued = blocking(&app, move |app| room_passwords::send(app, &c.actor, &[id])).await?;
    Ok(Json(Queued { queued }))
}

#[derive(Deserialize, ToSchema)]
pub struct BatchSend {
    pub rooms: Vec<u64>,
}

/// Sends the unlock passwords of several rooms to their devices again.
#[utoipa::path(post, path = "/api/v1/organization/rooms/send", tag = "intercom", request_body = BatchSend, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Queued), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn send_rooms(
    State(app): AppState,
    c: Caller,
    ApiJson(b): ApiJson<BatchSend>,
) -> ApiResult<Json<Queued>> {
    let queued = blocking(&app, move |app| {
        room_passwords::send(app, &c.actor, &b.rooms)
    })
    .await?;
    Ok(Json(Queued { queued }))
}

/// Where sending a room's unlock password stands, per device.
#[utoipa::path(get, path = "/api/v1/organization/rooms/{id}/send-status", tag = "intercom", params(("id" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<SendStatusView>), (status = 404, body = ErrorBody)))]
pub async fn send_status(
    State(app): AppState,
    _c: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Json<Vec<SendStatusView>>> {
    Ok(Json(
        blocking(&app, move |app| room_passwords::status(app, id)).await?,
    ))
}

/// The device list with registration numbers as a JSON file for another Gatehouse; it holds no
/// secret (management passwords are left out, SIP passwords are made anew on import).
#[utoipa::path(get, path = "/api/v1/devices/export", tag = "intercom", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = DeviceFile), (status = 403, body = ErrorBody)))]
pub async fn export_devices(
    State(app): AppState,
    c: Caller,
) -> ApiResult<(
    [(axum::http::HeaderName, &'static str); 1],
    Json<DeviceFile>,
)> {
    c.actor.require_admin()?;
    let f = blocking(&app, device_transfer::export).await?;
    Ok((
        [(
            axum::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"gatehouse-devices.json\"",
        )],
        Json(f),
    ))
}

/// Imports a device file exported by a Gatehouse, all or nothing; the answer shows each new SIP
/// password once.
#[utoipa::path(post, path = "/api/v1/devices/import", tag = "intercom", request_body = DeviceFile, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Imported), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_devices(
    State(app): AppState,
    c: Caller,
    body: axum::body::Bytes,
) -> ApiResult<Json<Imported>> {
    Ok(Json(
        blocking(&app, move |app| {
            let f = device_transfer::parse(&body)?;
            device_transfer::import(app, &c.actor, &f)
        })
        .await?,
    ))
}

/// The ConfigTool template (manual 3.2, "Create ConfigTool Template"): the header row and one
/// example device, as CSV or XLSX.
#[utoipa::path(get, path = "/api/v1/devices/configtool-template", tag = "intercom", params(FormatQuery), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "CSV or XLSX file", content_type = "application/octet-stream"), (status = 401, body = ErrorBody)))]
pub async fn configtool_template(
    State(app): AppState,
    _c: Caller,
    Query(q): Query<FormatQuery>,
) -> ApiResult<Response> {
    let format = q.format;
    let bytes = blocking(&app, move |_| configtool::template(format)).await?;
    Ok(download(format, "configtool-template", bytes))
}

/// Imports devices (and their registration numbers) from a filled ConfigTool template, all or
/// nothing; the answer shows each new SIP password once.
#[utoipa::path(post, path = "/api/v1/devices/configtool-import", tag = "intercom", params(FormatQuery), security(("bearer" = []), ("cookie" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The CSV or XLSX file (at most 32 MiB)"),
    responses((status = 200, body = Imported), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
    (status = 422, description = "Rows with errors; nothing was imported", body = ImportRejected)))]
pub async fn configtool_import(
    State(app): AppState,
    c: Caller,
    Query(q): Query<FormatQuery>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = import_body(body)?;
    let format = q.format;
    let outcome = blocking(&app, move |app| {
        configtool::import(app, &c.actor, &body, format)
    })
    .await?;
    Ok(match outcome {
        ImportOutcome::Imported(done) => Json(done).into_response(),
        ImportOutcome::Rejected(rows) => rejected(rows),
    })
}

/// The ConfigTool import route with its own body limit (that of the person import).
pub fn configtool_import_route() -> UtoipaMethodRouter<Arc<App>> {
    routes!(configtool_import).layer(DefaultBodyLimit::max(MAX_BYTES))
}
