//! The person-collection API (manual 1.3) under `/api/v1/person-collection`: the collected users
//! with their conflicts, the side-by-side detail, sync (with explicit overwrite confirmation),
//! auto sync, refresh and the subscribe switch — for operators and administrators — and the
//! test-only push route, served only when the binary runs with `GATEHOUSE_TEST_HOOKS=1`.
//! Handlers call `persons::collection` and shape JSON; they hold no rule.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::app::App;
use crate::error::Error;
use crate::persons::collection::{
    self, CollectedView, CollectionFilter, ConflictDetail, PushedUser, SyncReport,
};
use crate::web::auth::{ApiJson, Caller};
use crate::web::blocking;
use crate::web::error::{bad_body, ApiError, ErrorBody};

type ApiResult<T> = Result<T, ApiError>;
type AppState = State<Arc<App>>;

#[derive(OpenApi)]
#[openapi(tags((name = "person-collection", description = "Users pushed by devices, their conflicts with person management, and syncing them (manual 1.3). A collected user's `key` is opaque (hexadecimal of `<device>/<user_id>`).")))]
struct CollectionDoc;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::with_openapi(CollectionDoc::openapi())
        .routes(routes!(list_collected))
        .routes(routes!(collected_detail))
        .routes(routes!(sync_selected))
        .routes(routes!(auto_sync))
        .routes(routes!(refresh))
        .routes(routes!(get_subscription, set_subscription))
        .routes(routes!(test_push))
}

/// The collected users, with their conflicts evaluated now.
#[utoipa::path(get, path = "/api/v1/person-collection", tag = "person-collection", params(CollectionFilter), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<CollectedView>), (status = 401, body = ErrorBody)))]
async fn list_collected(
    State(app): AppState,
    _caller: Caller,
    Query(f): Query<CollectionFilter>,
) -> ApiResult<Json<Vec<CollectedView>>> {
    Ok(Json(
        blocking(&app, move |app| collection::list(app, &f)).await?,
    ))
}

/// One collected user beside the person with the same ID and the current owners of its
/// conflicting cards.
#[utoipa::path(get, path = "/api/v1/person-collection/{key}", tag = "person-collection",
    params(("key" = String, Path, description = "The collected user's opaque key (from the list)")), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ConflictDetail), (status = 404, body = ErrorBody)))]
async fn collected_detail(
    State(app): AppState,
    _caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<ConflictDetail>> {
    Ok(Json(
        blocking(&app, move |app| collection::detail(app, &key)).await?,
    ))
}

#[derive(Deserialize, Serialize, ToSchema)]
struct SyncRequest {
    /// Keys of the collected users to sync.
    keys: Vec<String>,
    /// Required to sync users with conflicts: the person with the same ID is overwritten and
    /// conflicting cards are removed from the persons holding them.
    #[serde(default)]
    confirm_overwrite: bool,
}

/// Syncs the selected collected users into person management, all or nothing. With a conflict
/// and without `confirm_overwrite`, answers 409 naming every conflict and changes nothing.
#[utoipa::path(post, path = "/api/v1/person-collection/sync", tag = "person-collection", request_body = SyncRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = SyncReport), (status = 404, body = ErrorBody), (status = 409, description = "Conflicts, not confirmed", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn sync_selected(
    State(app): AppState,
    caller: Caller,
    ApiJson(r): ApiJson<SyncRequest>,
) -> ApiResult<Json<SyncReport>> {
    Ok(Json(
        blocking(&app, move |app| {
            collection::sync(app, &caller.actor, &r.keys, r.confirm_overwrite)
        })
        .await?,
    ))
}

/// Syncs every pending collected user without conflicts; the others are left (listed as skipped).
#[utoipa::path(post, path = "/api/v1/person-collection/auto-sync", tag = "person-collection", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = SyncReport)))]
async fn auto_sync(State(app): AppState, caller: Caller) -> ApiResult<Json<SyncReport>> {
    Ok(Json(
        blocking(&app, move |app| collection::auto_sync(app, &caller.actor)).await?,
    ))
}

/// Re-evaluates every collected user's conflicts, stores the statuses and lists them all.
#[utoipa::path(post, path = "/api/v1/person-collection/refresh", tag = "person-collection", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<CollectedView>)))]
async fn refresh(State(app): AppState, _caller: Caller) -> ApiResult<Json<Vec<CollectedView>>> {
    Ok(Json(blocking(&app, collection::refresh).await?))
}

#[derive(Deserialize, Serialize, ToSchema)]
struct Subscription {
    /// Whether users pushed by devices are taken (manual 1.3 step 2).
    enabled: bool,
}

/// Whether Gatehouse subscribes to the users devices push.
#[utoipa::path(get, path = "/api/v1/person-collection/subscription", tag = "person-collection", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Subscription)))]
async fn get_subscription(State(app): AppState, _caller: Caller) -> ApiResult<Json<Subscription>> {
    let enabled = blocking(&app, collection::subscribed).await?;
    Ok(Json(Subscription { enabled }))
}

/// Turns subscribing to devices' pushes on or off.
#[utoipa::path(put, path = "/api/v1/person-collection/subscription", tag = "person-collection", request_body = Subscription, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Subscription), (status = 422, body = ErrorBody)))]
async fn set_subscription(
    State(app): AppState,
    caller: Caller,
    ApiJson(s): ApiJson<Subscription>,
) -> ApiResult<Json<Subscription>> {
    let on = s.enabled;
    blocking(&app, move |app| {
        collection::set_subscribe(app, &caller.actor, on)
    })
    .await?;
    Ok(Json(Subscription { enabled: on }))
}

#[derive(Deserialize, Serialize, ToSchema)]
struct TestPush {
    /// The device name or serial the user seems to come from.
    device: String,
    user: PushedUser,
}

/// FOR TESTS ONLY: stores a user as if a device had pushed it.
///
/// For the test suite: it calls what the device side will call when a device pushes a user.
/// Disabled — answering 404 like any unknown route — unless Gatehouse runs with the hidden
/// `--test-hooks` option or `GATEHOUSE_TEST_HOOKS=1`, which a real installation never sets.
/// Administrators only.
#[utoipa::path(post, path = "/api/v1/person-collection/test-push", tag = "person-collection", request_body = TestPush, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = CollectedView), (status = 403, body = ErrorBody), (status = 404, description = "Test hooks are off", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn test_push(
    State(app): AppState,
    caller: Result<Caller, ApiError>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<CollectedView>)> {
    if !app.config.test_hooks {
        return Err(Error::NotFound("no such API route".into()).into());
    }
    caller?.actor.require_admin()?;
    let req: TestPush = serde_json::from_slice(&body).map_err(|e| bad_body(e.to_string()))?;
    let view = blocking(&app, move |app| {
        let key = collection::receive(app, &req.device, req.user)?;
        Ok(collection::detail(app, &key)?.collected)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}
