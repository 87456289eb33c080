//! JSON API of intercom configuration (manual chapter 3) under `/api/v1/organization` (the
//! compound, buildings, units and rooms, batch creation, room listing) and `/api/v1/devices` (the
//! device registry). Thin handlers over
//! `crate::intercom`; changes are for administrators (the domain checks it), reads for all.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;

use crate::app::App;
use crate::intercom::devices::{self, DeviceInput, DeviceView};
use crate::intercom::organization::{
    self, BatchCreated, BatchOrganization, Building, Compound, CompoundPatch, Level, NewBuilding,
    NewRoom, NewUnit, NodePatch, RoomPage, RoomQuery, RoomView, Tree, Unit,
};
use crate::web::auth::{ApiJson, Caller};
use crate::web::blocking;
use crate::web::error::{ApiError, ErrorBody};

type ApiResult<T> = Result<T, ApiError>;
type AppState = State<Arc<App>>;

/// The organization tree: compound, buildings, units, room counts.
#[utoipa::path(get, path = "/api/v1/organization", tag = "intercom", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Tree)))]
pub async fn tree(State(app): AppState, _c: Caller) -> ApiResult<Json<Tree>> {
    Ok(Json(
        blocking(&app, |app| Ok(organization::snapshot(app)?.tree())).await?,
    ))
}

/// Renames the compound; the unit level can change only while it is empty.
#[utoipa::path(patch, path = "/api/v1/organization", tag = "intercom", request_body = CompoundPatch, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Compound), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_compound(
    State(app): AppState,
    c: Caller,
    ApiJson(p): ApiJson<CompoundPatch>,
) -> ApiResult<Json<Compound>> {
    Ok(Json(
        blocking(&app, move |app| {
            organization::set_compound(app, &c.actor, &p)
        })
        .await?,
    ))
}

/// Batch add (only while no organization exists), in one transaction.
#[utoipa::path(post, path = "/api/v1/organization/batch", tag = "intercom", request_body = BatchOrganization, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = BatchCreated), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn batch(
    State(app): AppState,
    c: Caller,
    ApiJson(r): ApiJson<BatchOrganization>,
) -> ApiResult<(StatusCode, Json<BatchCreated>)> {
    let made = blocking(&app, move |app| {
        organization::batch_create(app, &c.actor, &r)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// Adds a building.
#[utoipa::path(post, path = "/api/v1/organization/buildings", tag = "intercom", request_body = NewBuilding, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = Building), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_building(
    State(app): AppState,
    c: Caller,
    ApiJson(r): ApiJson<NewBuilding>,
) -> ApiResult<(StatusCode, Json<Building>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            blocking(&app, move |app| {
                organization::add_building(app, &c.actor, &r)
            })
            .await?,
        ),
    ))
}

/// Adds a unit to a building.
#[utoipa::path(post, path = "/api/v1/organization/units", tag = "intercom", request_body = NewUnit, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = Unit), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_unit(
    State(app): AppState,
    c: Caller,
    ApiJson(r): ApiJson<NewUnit>,
) -> ApiResult<(StatusCode, Json<Unit>)> {
    Ok((
        StatusCode::CREATED,
        Json(blocking(&app, move |app| organization::add_unit(app, &c.actor, &r)).await?),
    ))
}

/// Rooms, filtered by building, unit or text, paginated.
#[utoipa::path(get, path = "/api/v1/organization/rooms", tag = "intercom", params(RoomQuery), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = RoomPage)))]
pub async fn rooms(
    State(app): AppState,
    _c: Caller,
    Query(q): Query<RoomQuery>,
) -> ApiResult<Json<RoomPage>> {
    Ok(Json(
        blocking(&app, move |app| organization::rooms(app, &q)).await?,
    ))
}

/// Adds a room to a unit (or to a building when the compound has no units).
#[utoipa::path(post, path = "/api/v1/organization/rooms", tag = "intercom", request_body = NewRoom, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = RoomView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_room(
    State(app): AppState,
    c: Caller,
    ApiJson(r): ApiJson<NewRoom>,
) -> ApiResult<(StatusCode, Json<RoomView>)> {
    Ok((
        StatusCode::CREATED,
        Json(blocking(&app, move |app| organization::add_room(app, &c.actor, &r)).await?),
    ))
}

/// Changes the number, name (and a room's remarks) of a building, unit or room.
#[utoipa::path(patch, path = "/api/v1/organization/{level}/{id}", tag = "intercom", params(("level" = String, Path, description = "building, unit or room"), ("id" = u64, Path)), request_body = NodePatch, security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_node(
    State(app): AppState,
    c: Caller,
    Path((level, id)): Path<(Level, u64)>,
    ApiJson(p): ApiJson<NodePatch>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| {
        organization::rename(app, &c.actor, level, id, &p)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a building, unit or room; refused, with the count, while a building or unit has rooms.
#[utoipa::path(delete, path = "/api/v1/organization/{level}/{id}", tag = "intercom", params(("level" = String, Path, description = "building, unit or room"), ("id" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_node(
    State(app): AppState,
    c: Caller,
    Path((level, id)): Path<(Level, u64)>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| {
        organization::delete(app, &c.actor, level, id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The device registry.
#[utoipa::path(get, path = "/api/v1/devices", tag = "intercom", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<DeviceView>)))]
pub async fn list_devices(State(app): AppState, _c: Caller) -> ApiResult<Json<Vec<DeviceView>>> {
    Ok(Json(blocking(&app, devices::list).await?))
}

/// Adds a device (name, type, IP, port, management user and password, device number).
#[utoipa::path(post, path = "/api/v1/devices", tag = "intercom", request_body = DeviceInput, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = DeviceView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_device(
    State(app): AppState,
    c: Caller,
    ApiJson(d): ApiJson<DeviceInput>,
) -> ApiResult<(StatusCode, Json<DeviceView>)> {
    Ok((
        StatusCode::CREATED,
        Json(blocking(&app, move |app| devices::create(app, &c.actor, &d)).await?),
    ))
}

/// One device.
#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "intercom", params(("id" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = DeviceView), (status = 404, body = ErrorBody)))]
pub async fn get_device(
    State(app): AppState,
    _c: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Json<DeviceView>> {
    Ok(Json(
        blocking(&app, move |app| {
            Ok(DeviceView::from(&devices::load(app, id)?))
        })
        .await?,
    ))
}

/// Changes a device; absent fields stay, `password: ""` clears the stored password.
#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "intercom", params(("id" = u64, Path)), request_body = DeviceInput, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = DeviceView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_device(
    State(app): AppState,
    c: Caller,
    Path(id): Path<u64>,
    ApiJson(d): ApiJson<DeviceInput>,
) -> ApiResult<Json<DeviceView>> {
    Ok(Json(
        blocking(&app, move |app| devices::update(app, &c.actor, id, &d)).await?,
    ))
}

/// Deletes a device.
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "intercom", params(("id" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_device(
    State(app): AppState,
    c: Caller,
    Path(id): Path<u64>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| devices::delete(app, &c.actor, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
