//! The JSON API under `/api/v1/`. Each handler is annotated for the OpenAPI document, which is
//! generated from these annotations and the routes they register (utoipa-axum), so it cannot drift.
//! Handlers authenticate, call the feature modules and shape JSON; they hold no business rule.

mod collection;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

mod dial;
mod groups;
mod intercom;
mod persons;
mod readers;
pub(in crate::web) mod records;
mod transfer;

use super::auth::{clear_cookie, session_cookie, ApiJson, Caller, ClientIp};
use super::blocking;
use super::error::{ApiError, ErrorBody};
use crate::accounts::{
    self, AccountPatch, AccountView, NewAccount, OnlineUser, Role, SecurityQuestion, SetupRequest,
};
use crate::app::App;
use crate::audit::{self, AuditEntry, AuditQuery};
use crate::company::{self, Company};
use crate::error::Error;
use crate::tls::CertInfo;

type ApiResult<T> = Result<T, ApiError>;
type AppState = State<Arc<App>>;

#[derive(OpenApi)]
#[openapi(
    info(title = "Gatehouse API", description = "JSON API of Gatehouse, the building's video-intercom and access-control controller. Authenticate with POST /api/v1/session and send the token as `Authorization: Bearer <token>`. Errors are `{\"error\", \"message\", \"field\"}`."),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody, crate::persons::SearchBy)),
    tags(
        (name = "setup", description = "First-boot setup"),
        (name = "session", description = "Sign in and out, password reset"),
        (name = "accounts", description = "Accounts, roles, allow-lists, online users"),
        (name = "audit", description = "Audit log"),
        (name = "company", description = "Company name and logo (manual 1.1)"),
        (name = "intercom", description = "Building organization and device registry (manual 3.1, 3.2)"),
        (name = "persons", description = "Departments, card settings, persons, cards, batch work (manual 1.2)"),
        (name = "system", description = "Certificate, backup, version"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;
impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::auth::COOKIE,
                "Session cookie set by POST /api/v1/session; state-changing requests must also send X-CSRF-Token.",
            ))),
        );
    }
}

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(setup_status, setup))
        .routes(routes!(session_info, login, logout))
        .routes(routes!(reset_questions))
        .routes(routes!(reset_password))
        .routes(routes!(change_own_password))
        .routes(routes!(set_own_questions))
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account, delete_account))
        .routes(routes!(list_sessions))
        .routes(routes!(end_session))
        .routes(routes!(search_audit))
        .routes(routes!(get_company, set_company))
        .routes(routes!(get_logo, set_logo, delete_logo))
        .routes(routes!(get_certificate, set_certificate))
        .routes(routes!(system_info))
        .routes(routes!(download_backup))
        .routes(routes!(
            persons::list_departments,
            persons::create_department
        ))
        .routes(routes!(
            persons::rename_department,
            persons::delete_department
        ))
        .routes(routes!(
            persons::get_card_settings,
            persons::set_card_settings
        ))
        .routes(routes!(persons::search_persons, persons::create_person))
        .routes(routes!(
            persons::get_person,
            persons::update_person,
            persons::delete_person
        ))
        .routes(routes!(persons::add_card))
        .routes(routes!(persons::update_card, persons::delete_card))
        .routes(routes!(persons::replace_card))
        .routes(routes!(persons::card_qr))
        .routes(routes!(
            persons::get_photo,
            persons::set_photo,
            persons::delete_photo
        ))
        .routes(routes!(persons::batch_add))
        .routes(routes!(persons::batch_edit))
        .routes(routes!(persons::issue_start))
        .routes(routes!(persons::issue_view, persons::issue_stop))
        .routes(routes!(persons::issue_card))
        .routes(routes!(intercom::tree, intercom::set_compound))
        .routes(routes!(intercom::batch))
        .routes(routes!(intercom::add_building))
        .routes(routes!(intercom::add_unit))
        .routes(routes!(intercom::rooms, intercom::add_room))
        .routes(routes!(intercom::update_node, intercom::delete_node))
        .routes(routes!(intercom::list_devices, intercom::create_device))
        .routes(routes!(
            intercom::get_device,
            intercom::update_device,
            intercom::delete_device
        ))
        .routes(routes!(groups::list_groups, groups::create_group))
        .routes(routes!(groups::who_rings))
        .routes(routes!(
            groups::get_group,
            groups::update_group,
            groups::delete_group
        ))
        .routes(routes!(groups::add_member))
        .routes(routes!(groups::remove_member))
        .routes(routes!(groups::member_up))
        .routes(routes!(groups::member_down))
        .routes(routes!(groups::list_notices, groups::create_notice))
        .routes(routes!(
            groups::get_notice,
            groups::update_notice,
            groups::delete_notice
        ))
        .routes(routes!(groups::release_notice))
        .routes(routes!(dial::list, dial::create))
        .routes(routes!(dial::get, dial::delete))
        .routes(routes!(dial::regenerate))
        .routes(routes!(dial::set_room_password, dial::clear_room_password))
        .routes(routes!(dial::send_room))
        .routes(routes!(dial::send_rooms))
        .routes(routes!(dial::send_status))
        .routes(routes!(dial::export_devices))
        .routes(routes!(dial::import_devices))
        .routes(routes!(dial::configtool_template))
        .routes(dial::configtool_import_route())
        .merge(collection::router())
        .merge(records::router())
        .merge(readers::router())
        .routes(routes!(transfer::person_template))
        .routes(routes!(transfer::export_persons))
        .routes(transfer::import_route())
        .fallback(|| async { ApiError(Error::NotFound("no such API route".into())) })
}

#[derive(Serialize, ToSchema)]
struct SetupStatus {
    /// True until the first administrator exists.
    required: bool,
}

/// Whether first-boot setup is still to be done.
#[utoipa::path(get, path = "/api/v1/setup", tag = "setup", responses((status = 200, body = SetupStatus)))]
async fn setup_status(State(app): AppState) -> ApiResult<Json<SetupStatus>> {
    let required = blocking(&app, accounts::setup_required).await?;
    Ok(Json(SetupStatus { required }))
}

/// Creates the first administrator. Answers 409 once set up.
#[utoipa::path(post, path = "/api/v1/setup", tag = "setup", request_body = SetupRequest,
    responses((status = 201, body = AccountView), (status = 409, body = ErrorBody), (status = 422, description = "A rule was broken", body = ErrorBody)))]
async fn setup(
    State(app): AppState,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<SetupRequest>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let view = blocking(&app, move |app| accounts::setup(app, ip, &req)).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Deserialize, Serialize, ToSchema)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
struct SessionInfo {
    /// Bearer token (only in the answer to sign-in).
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// Send as X-CSRF-Token with state-changing requests authenticated by the cookie.
    csrf_token: String,
    session_id: String,
    username: String,
    role: Role,
    /// Seconds of inactivity after which the session ends.
    idle_timeout_seconds: u64,
}

/// Signs in; returns a bearer token and sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = Credentials,
    responses((status = 200, body = SessionInfo), (status = 401, description = "Wrong user name or password (same for unknown names)", body = ErrorBody),
    (status = 403, description = "Address not in the account's allow-list", body = ErrorBody), (status = 429, description = "Locked out", body = ErrorBody)))]
async fn login(
    State(app): AppState,
    ClientIp(ip): ClientIp,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<Response> {
    let (token, s) = blocking(&app, move |app| {
        accounts::login(app, ip, &c.username, &c.password)
    })
    .await?;
    let info = SessionInfo {
        token: Some(token.clone()),
        csrf_token: s.csrf,
        session_id: s.id,
        username: s.username,
        role: s.role,
        idle_timeout_seconds: app.sessions.idle().as_secs(),
    };
    Ok(([(header::SET_COOKIE, session_cookie(&token))], Json(info)).into_response())
}

/// The current session.
#[utoipa::path(get, path = "/api/v1/session", tag = "session", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = SessionInfo), (status = 401, body = ErrorBody)))]
async fn session_info(State(app): AppState, caller: Caller) -> Json<SessionInfo> {
    Json(SessionInfo {
        token: None,
        csrf_token: caller.session.csrf,
        session_id: caller.session.id,
        username: caller.session.username,
        role: caller.session.role,
        idle_timeout_seconds: app.sessions.idle().as_secs(),
    })
}

/// Signs out.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(State(app): AppState, caller: Caller) -> ApiResult<Response> {
    let ip = caller.actor.ip;
    let token = caller.token;
    blocking(&app, move |app| accounts::logout(app, &token, ip)).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_cookie())],
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
struct ResetStart {
    username: String,
}

#[derive(Serialize, ToSchema)]
struct ResetQuestions {
    questions: Vec<String>,
}

/// The three security questions of an account, to reset its password.
#[utoipa::path(post, path = "/api/v1/password-reset/questions", tag = "session", request_body = ResetStart,
    responses((status = 200, body = ResetQuestions), (status = 429, body = ErrorBody)))]
async fn reset_questions(
    State(app): AppState,
    ClientIp(ip): ClientIp,
    ApiJson(r): ApiJson<ResetStart>,
) -> ApiResult<Json<ResetQuestions>> {
    let questions = blocking(&app, move |app| {
        accounts::reset_questions(app, ip, &r.username)
    })
    .await?;
    Ok(Json(ResetQuestions { questions }))
}

#[derive(Deserialize, ToSchema)]
struct ResetRequest {
    username: String,
    /// The answers, in the order of the questions.
    answers: Vec<String>,
    new_password: String,
}

/// Resets a password with the answers to the security questions (same lock-out as sign-in).
#[utoipa::path(post, path = "/api/v1/password-reset", tag = "session", request_body = ResetRequest,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn reset_password(
    State(app): AppState,
    ClientIp(ip): ClientIp,
    ApiJson(r): ApiJson<ResetRequest>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| {
        accounts::reset_password(app, ip, &r.username, &r.answers, &r.new_password)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the signed-in account's password; its other sessions end.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "accounts", request_body = PasswordChange, security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 422, body = ErrorBody)))]
async fn change_own_password(
    State(app): AppState,
    caller: Caller,
    ApiJson(r): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| {
        accounts::change_password(app, &caller.actor, &r.current_password, &r.new_password)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
struct QuestionsChange {
    current_password: String,
    security_questions: Vec<SecurityQuestion>,
}

/// Sets the signed-in account's three security questions.
#[utoipa::path(put, path = "/api/v1/me/security-questions", tag = "accounts", request_body = QuestionsChange, security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 422, body = ErrorBody)))]
async fn set_own_questions(
    State(app): AppState,
    caller: Caller,
    ApiJson(r): ApiJson<QuestionsChange>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| {
        accounts::set_questions(
            app,
            &caller.actor,
            &r.current_password,
            &r.security_questions,
        )
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// All accounts (administrators only).
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<AccountView>), (status = 403, body = ErrorBody)))]
async fn list_accounts(State(app): AppState, caller: Caller) -> ApiResult<Json<Vec<AccountView>>> {
    Ok(Json(
        blocking(&app, move |app| accounts::list(app, &caller.actor)).await?,
    ))
}

/// Creates an account (administrators only).
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = NewAccount, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = AccountView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_account(
    State(app): AppState,
    caller: Caller,
    ApiJson(r): ApiJson<NewAccount>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let v = blocking(&app, move |app| accounts::create(app, &caller.actor, &r)).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// One account (administrators, or the account itself).
#[utoipa::path(get, path = "/api/v1/accounts/{username}", tag = "accounts", params(("username" = String, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = AccountView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_account(
    State(app): AppState,
    caller: Caller,
    Path(username): Path<String>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(
        blocking(&app, move |app| {
            accounts::get(app, &caller.actor, &username)
        })
        .await?,
    ))
}

/// Changes role, allow-lists or password of an account (administrators only); its sessions end.
#[utoipa::path(patch, path = "/api/v1/accounts/{username}", tag = "accounts", params(("username" = String, Path)), request_body = AccountPatch, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = AccountView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_account(
    State(app): AppState,
    caller: Caller,
    Path(username): Path<String>,
    ApiJson(p): ApiJson<AccountPatch>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(
        blocking(&app, move |app| {
            accounts::update(app, &caller.actor, &username, &p)
        })
        .await?,
    ))
}

/// Deletes an account (administrators only; not yourself, not the last administrator).
#[utoipa::path(delete, path = "/api/v1/accounts/{username}", tag = "accounts", params(("username" = String, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_account(
    State(app): AppState,
    caller: Caller,
    Path(username): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| {
        accounts::delete(app, &caller.actor, &username)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Online users (administrators only).
#[utoipa::path(get, path = "/api/v1/sessions", tag = "accounts", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<OnlineUser>), (status = 403, body = ErrorBody)))]
async fn list_sessions(State(app): AppState, caller: Caller) -> ApiResult<Json<Vec<OnlineUser>>> {
    Ok(Json(accounts::online(&app, &caller.actor)?))
}

/// Ends a session (administrators only).
#[utoipa::path(delete, path = "/api/v1/sessions/{session_id}", tag = "accounts", params(("session_id" = String, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn end_session(
    State(app): AppState,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(&app, move |app| {
        accounts::end_session(app, &caller.actor, &id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Searches the audit log, newest first (administrators only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<AuditEntry>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn search_audit(
    State(app): AppState,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    caller.actor.require_admin()?;
    Ok(Json(
        blocking(&app, move |app| audit::search(app, &q)).await?,
    ))
}

/// Company information.
#[utoipa::path(get, path = "/api/v1/company", tag = "company", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Company)))]
async fn get_company(State(app): AppState, _caller: Caller) -> ApiResult<Json<Company>> {
    Ok(Json(blocking(&app, company::get).await?))
}

/// Changes the company name (administrators only).
#[utoipa::path(put, path = "/api/v1/company", tag = "company", request_body = Company, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Company), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_company(
    State(app): AppState,
    caller: Caller,
    ApiJson(c): ApiJson<Company>,
) -> ApiResult<Json<Company>> {
    Ok(Json(
        blocking(&app, move |app| company::set(app, &caller.actor, &c)).await?,
    ))
}

/// The company logo (public: it shows on the sign-in page).
#[utoipa::path(get, path = "/api/v1/company/logo", tag = "company",
    responses((status = 200, description = "PNG or JPEG", content_type = "image/*"), (status = 404, body = ErrorBody)))]
async fn get_logo(State(app): AppState) -> ApiResult<Response> {
    logo_response(&app).await
}

pub async fn logo_response(app: &Arc<App>) -> ApiResult<Response> {
    match blocking(app, company::logo).await? {
        Some(l) => Ok((
            [
                (header::CONTENT_TYPE, l.mime),
                (header::CACHE_CONTROL, "no-cache".into()),
            ],
            l.bytes,
        )
            .into_response()),
        None => Err(Error::NotFound("no logo has been uploaded".into()).into()),
    }
}

/// Uploads the company logo: the raw PNG or JPEG as the body (at most 512 KiB, 2048×2048 pixels).
#[utoipa::path(put, path = "/api/v1/company/logo", tag = "company", security(("bearer" = []), ("cookie" = [])),
    request_body(content = Vec<u8>, content_type = "image/png", description = "PNG or JPEG bytes"),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_logo(State(app): AppState, caller: Caller, body: Bytes) -> ApiResult<StatusCode> {
    blocking(&app, move |app| {
        company::set_logo(app, &caller.actor, &body)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the company logo.
#[utoipa::path(delete, path = "/api/v1/company/logo", tag = "company", security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 403, body = ErrorBody)))]
async fn delete_logo(State(app): AppState, caller: Caller) -> ApiResult<StatusCode> {
    blocking(&app, move |app| company::remove_logo(app, &caller.actor)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The HTTPS certificate in use.
#[utoipa::path(get, path = "/api/v1/certificate", tag = "system", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CertInfo), (status = 403, body = ErrorBody)))]
async fn get_certificate(State(app): AppState, caller: Caller) -> ApiResult<Json<CertInfo>> {
    caller.actor.require_admin()?;
    Ok(Json(app.certs.info()))
}

#[derive(Deserialize, ToSchema)]
struct CertUpload {
    /// PEM certificate chain, leaf first.
    certificate_pem: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    private_key_pem: String,
}

/// Installs an uploaded certificate and key (administrators only); new connections use it at once.
#[utoipa::path(put, path = "/api/v1/certificate", tag = "system", request_body = CertUpload, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CertInfo), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_certificate(
    State(app): AppState,
    caller: Caller,
    ApiJson(u): ApiJson<CertUpload>,
) -> ApiResult<Json<CertInfo>> {
    Ok(Json(
        blocking(&app, move |app| {
            crate::system::install_certificate(
                app,
                &caller.actor,
                u.certificate_pem.as_bytes(),
                u.private_key_pem.as_bytes(),
            )
        })
        .await?,
    ))
}

/// Version, build and uptime.
#[utoipa::path(get, path = "/api/v1/system", tag = "system", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = crate::system::SystemInfo)))]
async fn system_info(State(app): AppState, _caller: Caller) -> Json<crate::system::SystemInfo> {
    Json(crate::system::info(&app))
}

/// Downloads a consistent backup of the store (administrators only).
#[utoipa::path(get, path = "/api/v1/system/backup", tag = "system", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "A Gatehouse store file", content_type = "application/octet-stream"), (status = 403, body = ErrorBody)))]
async fn download_backup(State(app): AppState, caller: Caller) -> ApiResult<Response> {
    backup_response(&app, caller.actor).await
}

pub async fn backup_response(app: &Arc<App>, actor: accounts::Actor) -> ApiResult<Response> {
    let (name, path) = blocking(app, move |app| crate::system::backup_file(app, &actor)).await?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
    // The open file stays readable after its name is gone; nothing is left behind.
    let _ = tokio::fs::remove_file(&path).await;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}
