//! JSON API of call groups (manual 3.4) under `/api/v1/call-groups` — groups, their ordered
//! members and the who-rings check for installers — and of information release (3.5) under
//! `/api/v1/notices`. Thin handlers over `crate::intercom::{call_groups, notices}`; changes are for
//! administrators (the domain checks it), reads for all.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::intercom::call_groups::{self, GroupPatch, GroupView, Move, NewGroup, NewMember};
use crate::intercom::notices::{self, NoticeInput, NoticeSummary, NoticeView};
use crate::intercom::ringing::{DeviceKind, Ringing};
use crate::web::auth::{ApiJson, Caller};
use crate::web::blocking;
use crate::web::error::{ApiError, ErrorBody};

type ApiResult<T> = Result<T, ApiError>;
type AppState = State<Arc<App>>;

/// Call groups.
#[utoipa::path(get, path = "/api/v1/call-groups", tag = "intercom", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<GroupView>)))]
pub async fn list_groups(State(app): AppState, _c: Caller) -> ApiResult<Json<Vec<GroupView>>> {
    Ok(Json(blocking(&app, call_groups::list).await?))
}

/// Adds a call group: a name, one or more buildings (each in at most one group), optional members.
#[utoipa::path(post, path = "/api/v1/call-groups", tag = "intercom", request_body = NewGroup, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = GroupView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_group(
    State(app): AppState,
    c: Caller,
    ApiJson(g): ApiJson<NewGroup>,
) -> ApiResult<(StatusCode, Json<GroupView>)> {
    Ok((
        StatusCode::CREATED,
        Json(blocking(&app, move |app| call_groups::create(app, &c.actor, &g)).await?),
    ))
}

/// One call group.
#[utoipa::path(get, path = "/api/v1/call-groups/{id}", tag = "intercom", params(("id" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody)))]
pub async fn get_group(
    State(app): AppState,
    _c: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Json<GroupView>> {
    Ok(Json(
        blocking(&app, move |app| call_groups::get(app, id)).await?,
    ))
}

/// Changes the name, buildings or ring time of a group; absent fields stay.
#[utoipa::path(patch, path = "/api/v1/call-groups/{id}", tag = "intercom", params(("id" = u64, Path)), request_body = GroupPatch, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_group(
    State(app): AppState,
    c: Caller,
    Path(id): Path<u64>,
    ApiJson(p): ApiJson<GroupPatch>,
) -> ApiResult<Json<GroupView>> {
    Ok(Json(
        blocking(&app, move |app| call_groups::update(app, &c.actor, id, &p)).await?,
    ))
}

/// Deletes a call group; its buildings fall back to the platform's manager clients.
#[utoipa::path(delete, path = "/api/v1/call-groups/{id}", tag = "intercom", params(("id" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_group(
    State(app): AppState,
    c: Caller,
    Path(id): Path<u64>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| call_groups::delete(app, &c.actor, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a member (a manager client or VTS) at the end of the ringing order.
#[utoipa::path(post, path = "/api/v1/call-groups/{id}/members", tag = "intercom", params(("id" = u64, Path)), request_body = NewMember, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_member(
    State(app): AppState,
    c: Caller,
    Path(id): Path<u64>,
    ApiJson(m): ApiJson<NewMember>,
) -> ApiResult<Json<GroupView>> {
    Ok(Json(
        blocking(&app, move |app| {
            call_groups::add_member(app, &c.actor, id, m.device)
        })
        .await?,
    ))
}

/// Removes a member.
#[utoipa::path(delete, path = "/api/v1/call-groups/{id}/members/{device}", tag = "intercom", params(("id" = u64, Path), ("device" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    State(app): AppState,
    c: Caller,
    Path((id, device)): Path<(u64, u64)>,
) -> ApiResult<Json<GroupView>> {
    Ok(Json(
        blocking(&app, move |app| {
            call_groups::remove_member(app, &c.actor, id, device)
        })
        .await?,
    ))
}

/// Moves a member one place up (it rings sooner); the first stays first.
#[utoipa::path(post, path = "/api/v1/call-groups/{id}/members/{device}/up", tag = "intercom", params(("id" = u64, Path), ("device" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody)))]
pub async fn member_up(
    State(app): AppState,
    c: Caller,
    Path((id, device)): Path<(u64, u64)>,
) -> ApiResult<Json<GroupView>> {
    Ok(Json(
        blocking(&app, move |app| {
            call_groups::move_member(app, &c.actor, id, device, Move::Up)
        })
        .await?,
    ))
}

/// Moves a member one place down (it rings later); the last stays last.
#[utoipa::path(post, path = "/api/v1/call-groups/{id}/members/{device}/down", tag = "intercom", params(("id" = u64, Path), ("device" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody)))]
pub async fn member_down(
    State(app): AppState,
    c: Caller,
    Path((id, device)): Path<(u64, u64)>,
) -> ApiResult<Json<GroupView>> {
    Ok(Json(
        blocking(&app, move |app| {
            call_groups::move_member(app, &c.actor, id, device, Move::Down)
        })
        .await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WhoRingsQuery {
    /// The calling device.
    pub device: u64,
    /// The building the caller is in (for VTO, villa stations and VTH), if any.
    pub building: Option<u64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RingMode {
    /// One after the other, each for `ring_seconds`.
    InTurn,
    /// All at once; the first to answer takes the call.
    Together,
    /// No call is placed (`reason` says why).
    Refused,
}

#[derive(Serialize, ToSchema)]
pub struct RingingDevice {
    pub device: u64,
    pub name: String,
    pub kind: DeviceKind,
}

/// Who rings for a call from a device to the management centre.
#[derive(Serialize, ToSchema)]
pub struct WhoRings {
    pub mode: RingMode,
    /// In ringing order.
    pub devices: Vec<RingingDevice>,
    pub ring_seconds: u32,
    pub reason: Option<String>,
}

/// Who rings, in which order, for a call from `device` (in `building`) to the management centre.
#[utoipa::path(get, path = "/api/v1/call-groups/who-rings", tag = "intercom", params(WhoRingsQuery), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = WhoRings), (status = 404, body = ErrorBody)))]
pub async fn who_rings(
    State(app): AppState,
    _c: Caller,
    Query(q): Query<WhoRingsQuery>,
) -> ApiResult<Json<WhoRings>> {
    Ok(Json(
        blocking(&app, move |app| {
            let answer = call_groups::who_rings(app, q.device, q.building)?;
            let ring_seconds = call_groups::ring_seconds(app, q.building)?;
            let (mode, ids, reason) = match answer {
                Ringing::InTurn(v) => (RingMode::InTurn, v, None),
                Ringing::Together(v) => (RingMode::Together, v, None),
                Ringing::Refused(why) => (RingMode::Refused, Vec::new(), Some(why.to_owned())),
            };
            let all = crate::intercom::devices::list(app)?;
            let devices = ids
                .iter()
                .filter_map(|id| all.iter().find(|d| d.id == *id))
                .map(|d| RingingDevice {
                    device: d.id,
                    name: d.name.clone(),
                    kind: d.kind,
                })
                .collect();
            Ok(WhoRings {
                mode,
                devices,
                ring_seconds,
                reason,
            })
        })
        .await?,
    ))
}

/// Notices (information release).
#[utoipa::path(get, path = "/api/v1/notices", tag = "intercom", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<NoticeSummary>)))]
pub async fn list_notices(State(app): AppState, _c: Caller) -> ApiResult<Json<Vec<NoticeSummary>>> {
    Ok(Json(blocking(&app, notices::list).await?))
}

/// Adds a notice as a draft: subject, text (up to 1,000 characters), start time, target devices.
#[utoipa::path(post, path = "/api/v1/notices", tag = "intercom", request_body = NoticeInput, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = NoticeView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_notice(
    State(app): AppState,
    c: Caller,
    ApiJson(n): ApiJson<NoticeInput>,
) -> ApiResult<(StatusCode, Json<NoticeView>)> {
    Ok((
        StatusCode::CREATED,
        Json(blocking(&app, move |app| notices::create(app, &c.actor, &n)).await?),
    ))
}

/// The details of a notice, with the delivery state of each target device.
#[utoipa::path(get, path = "/api/v1/notices/{id}", tag = "intercom", params(("id" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = NoticeView), (status = 404, body = ErrorBody)))]
pub async fn get_notice(
    State(app): AppState,
    _c: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Json<NoticeView>> {
    Ok(Json(
        blocking(&app, move |app| notices::details(app, id)).await?,
    ))
}

/// Changes a draft notice; refused once released.
#[utoipa::path(patch, path = "/api/v1/notices/{id}", tag = "intercom", params(("id" = u64, Path)), request_body = NoticeInput, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = NoticeView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_notice(
    State(app): AppState,
    c: Caller,
    Path(id): Path<u64>,
    ApiJson(n): ApiJson<NoticeInput>,
) -> ApiResult<Json<NoticeView>> {
    Ok(Json(
        blocking(&app, move |app| notices::update(app, &c.actor, id, &n)).await?,
    ))
}

/// Deletes a draft notice; refused once released.
#[utoipa::path(delete, path = "/api/v1/notices/{id}", tag = "intercom", params(("id" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_notice(
    State(app): AppState,
    c: Caller,
    Path(id): Path<u64>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| notices::delete(app, &c.actor, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Releases a notice: from its start time on it is sent to each target device.
#[utoipa::path(post, path = "/api/v1/notices/{id}/release", tag = "intercom", params(("id" = u64, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = NoticeView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn release_notice(
    State(app): AppState,
    c: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Json<NoticeView>> {
    Ok(Json(
        blocking(&app, move |app| notices::release(app, &c.actor, id)).await?,
    ))
}
