//! JSON API of call records and the SIP status (manual 4 and 5; issue 6 items 4 and 6):
//! `/api/v1/records/calls` (search by device, time range and status, newest first, paged),
//! `/api/v1/records/calls/missed` (a manager client's missed calls), `/api/v1/sip/registrations`
//! (every device with a registration number, online while it has a live binding) and
//! `/api/v1/sip/calls` (live calls), plus the test-only record insertion served only with test
//! hooks on. Reading is for every signed-in account (operators handle calls); the SIP status
//! answers 503 when the SIP service is not running. Handlers call `crate::records::calls` and
//! `crate::sip::service::SipHandle::status` and shape JSON; the page reuses the two status
//! builders below. No rule lives here.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::app::App;
use crate::error::Error;
use crate::intercom::registrations;
use crate::intercom::ringing::DeviceKind;
use crate::records::calls::{self, CallPage, CallQuery, CallRecord, Party};
use crate::sip::service::BindingView;
use crate::web::auth::Caller;
use crate::web::blocking;
use crate::web::error::{bad_body, ApiError, ErrorBody};

type ApiResult<T> = Result<T, ApiError>;
type AppState = State<Arc<App>>;

#[derive(OpenApi)]
#[openapi(tags(
    (name = "records", description = "Call records (manual 5, intercom records): every call attempt with caller, callee, times, duration, who answered and how it ended; and a manager client's missed calls (manual 4)."),
    (name = "sip", description = "The SIP service as it runs: registered devices and live calls. 503 when the service is not running."),
))]
struct RecordsDoc;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::with_openapi(RecordsDoc::openapi())
        .routes(routes!(list_calls))
        .routes(routes!(missed_calls))
        .routes(routes!(test_insert))
        .routes(routes!(sip_registrations))
        .routes(routes!(sip_calls))
}

/// Call records matching the filters, newest first (by start time), one page.
#[utoipa::path(get, path = "/api/v1/records/calls", tag = "records", params(CallQuery), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CallPage), (status = 401, body = ErrorBody), (status = 422, description = "A filter is malformed (the field is named)", body = ErrorBody)))]
async fn list_calls(
    State(app): AppState,
    _caller: Caller,
    Query(q): Query<CallQuery>,
) -> ApiResult<Json<CallPage>> {
    Ok(Json(
        blocking(&app, move |app| calls::query(app, &q)).await?,
    ))
}

/// Which device's missed calls, and the same time range, status and paging as the list.
#[derive(Deserialize, Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
struct MissedQuery {
    /// The device (id), normally a manager client.
    #[param(value_type = u64)]
    device: Option<String>,
    /// Started at or after this time (RFC 3339 or `YYYY-MM-DD`).
    from: Option<String>,
    /// Started at or before this time (RFC 3339 or `YYYY-MM-DD`, the whole day).
    to: Option<String>,
    /// Only those that ended so: missed, cancelled or rejected.
    #[param(value_type = Option<calls::CallStatus>)]
    status: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(value_type = Option<usize>)]
    limit: Option<String>,
    /// Matches to skip (newest first), default 0.
    #[param(value_type = Option<usize>)]
    offset: Option<String>,
}

/// The missed calls of a device (manual 4, "Missed Calls"): the calls that rang it and that
/// nobody answered — they ended missed (no answer in time), cancelled (the caller gave up while
/// it rang) or rejected. Newest first, one page.
#[utoipa::path(get, path = "/api/v1/records/calls/missed", tag = "records", params(MissedQuery), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CallPage), (status = 401, body = ErrorBody), (status = 422, description = "No device, or a malformed filter (the field is named)", body = ErrorBody)))]
async fn missed_calls(
    State(app): AppState,
    _caller: Caller,
    Query(m): Query<MissedQuery>,
) -> ApiResult<Json<CallPage>> {
    let device = match m.device.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(Error::invalid(
                "call_query_device",
                "device",
                "name the device whose missed calls to list (device=ID)",
            )
            .into())
        }
        Some(d) => d.parse::<u64>().map_err(|_| {
            Error::invalid(
                "call_query_number",
                "device",
                format!("device must be a whole number, not \"{d}\""),
            )
        })?,
    };
    let q = CallQuery {
        device: None,
        from: m.from,
        to: m.to,
        status: m.status,
        limit: m.limit,
        offset: m.offset,
    };
    Ok(Json(
        blocking(&app, move |app| calls::missed(app, device, &q)).await?,
    ))
}

/// Most records one test insertion takes.
const MAX_TEST_RECORDS: usize = 10_000;

#[derive(Serialize, ToSchema)]
struct Stored {
    stored: usize,
}

/// FOR TESTS ONLY: stores call records as if the SIP service had written them.
///
/// For the test suite: it calls what the SIP service calls when calls end (`records::calls::
/// append`, with its retention). Times are ms since the epoch. Disabled — answering 404 like any
/// unknown route — unless Gatehouse runs with the hidden `--test-hooks` option or
/// `GATEHOUSE_TEST_HOOKS=1`, which a real installation never sets. Administrators only.
#[utoipa::path(post, path = "/api/v1/records/calls/test-insert", tag = "records", request_body = Vec<CallRecord>, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = Stored), (status = 403, body = ErrorBody), (status = 404, description = "Test hooks are off", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn test_insert(
    State(app): AppState,
    caller: Result<Caller, ApiError>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Stored>)> {
    if !app.config.test_hooks {
        return Err(Error::NotFound("no such API route".into()).into());
    }
    caller?.actor.require_admin()?;
    let records: Vec<CallRecord> =
        serde_json::from_slice(&body).map_err(|e| bad_body(e.to_string()))?;
    if records.len() > MAX_TEST_RECORDS {
        return Err(Error::invalid(
            "too_many_records",
            "records",
            format!("at most {MAX_TEST_RECORDS} records at once"),
        )
        .into());
    }
    let stored = records.len();
    blocking(&app, move |app| calls::append(app, &records)).await?;
    Ok((StatusCode::CREATED, Json(Stored { stored })))
}

/// A device that may register, with its live bindings.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct SipDevice {
    pub device: u64,
    pub name: String,
    pub kind: Option<DeviceKind>,
    /// The registration number, e.g. `11#01#11#5`.
    pub number: String,
    /// Its digits-only alias.
    pub alias: String,
    /// Whether it has a live binding.
    pub online: bool,
    /// Its registered contacts (empty when offline).
    pub bindings: Vec<BindingView>,
}

/// Every device with a registration number, online ones with their contacts.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct SipDevices {
    /// Devices with a registration number.
    pub known_devices: usize,
    pub online_devices: usize,
    /// By registration number.
    pub devices: Vec<SipDevice>,
}

/// A call in progress.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct LiveCallView {
    pub call_id: String,
    pub caller: Party,
    /// What was dialled.
    pub dialled: String,
    /// `ringing` or `answered`.
    pub state: String,
    /// Devices ringing now (or the one that answered).
    pub ringing: Vec<Party>,
    pub answered_by: Option<Party>,
    /// RFC 3339.
    pub started: String,
    /// RFC 3339, once answered.
    pub answered: Option<String>,
    /// Seconds since the answer (0 while ringing).
    pub duration_seconds: u64,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct LiveCalls {
    pub calls: Vec<LiveCallView>,
}

/// The registered devices, or `None` when the SIP service is not running.
pub(in crate::web) async fn sip_devices(app: &Arc<App>) -> Result<Option<SipDevices>, Error> {
    let Some(handle) = app.sip.get().cloned() else {
        return Ok(None);
    };
    let Some(status) = handle.status().await else {
        return Ok(None);
    };
    let regs = blocking(app, registrations::list).await?;
    let mut by_device: HashMap<u64, Vec<BindingView>> = HashMap::new();
    for b in status.bindings {
        by_device.entry(b.device).or_default().push(b);
    }
    let mut devices: Vec<SipDevice> = regs
        .into_iter()
        .map(|r| {
            let bindings = by_device.remove(&r.device).unwrap_or_default();
            SipDevice {
                device: r.device,
                name: r.device_name,
                kind: r.device_kind,
                alias: r.alias,
                number: r.number,
                online: !bindings.is_empty(),
                bindings,
            }
        })
        .collect();
    // Bindings of a device whose registration went since the service last read it.
    for (device, bindings) in by_device {
        let first = &bindings[0];
        devices.push(SipDevice {
            device,
            name: first.name.clone(),
            kind: None,
            number: first.number.clone(),
            alias: registrations::digits_alias(&first.number),
            online: true,
            bindings,
        });
    }
    devices.sort_by(|a, b| (&a.number, a.device).cmp(&(&b.number, b.device)));
    Ok(Some(SipDevices {
        known_devices: devices.len(),
        online_devices: devices.iter().filter(|d| d.online).count(),
        devices,
    }))
}

/// The live calls, or `None` when the SIP service is not running.
pub(in crate::web) async fn live_calls(app: &Arc<App>) -> Result<Option<LiveCalls>, Error> {
    let Some(handle) = app.sip.get().cloned() else {
        return Ok(None);
    };
    let Some(status) = handle.status().await else {
        return Ok(None);
    };
    let names = blocking(app, calls::names).await?;
    let now = crate::time::now();
    let calls = status
        .calls
        .into_iter()
        .map(|c| {
            let caller = match c.caller_device {
                Some(d) => {
                    let mut p = calls::party(&names, d);
                    if p.number.is_empty() {
                        p.number = c.caller_number.clone();
                    }
                    p
                }
                None => Party {
                    device: None,
                    name: String::new(),
                    number: c.caller_number.clone(),
                },
            };
            let since = c.answered.as_deref().and_then(crate::time::parse);
            LiveCallView {
                call_id: c.call_id,
                caller,
                dialled: c.dialled,
                state: if c.answered_by.is_some() || c.answered.is_some() {
                    "answered".into()
                } else {
                    "ringing".into()
                },
                ringing: c.ringing.iter().map(|d| calls::party(&names, *d)).collect(),
                answered_by: c.answered_by.map(|d| calls::party(&names, d)),
                started: c.started,
                answered: c.answered,
                duration_seconds: since.map(|s| now.saturating_sub(s)).unwrap_or(0),
            }
        })
        .collect();
    Ok(Some(LiveCalls { calls }))
}

/// The answer when the SIP service is not running.
pub(in crate::web) fn not_running() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(ErrorBody {
            error: "sip_not_running".into(),
            message: "the SIP service is not running".into(),
            field: None,
        }),
    )
        .into_response()
}

/// Every device with a registration number, by number: online while it has a live binding, with
/// each registered contact (contact, transport, source, user agent, expiry).
#[utoipa::path(get, path = "/api/v1/sip/registrations", tag = "sip", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = SipDevices), (status = 401, body = ErrorBody), (status = 503, description = "The SIP service is not running", body = ErrorBody)))]
async fn sip_registrations(State(app): AppState, _caller: Caller) -> ApiResult<Response> {
    Ok(match sip_devices(&app).await? {
        Some(d) => Json(d).into_response(),
        None => not_running(),
    })
}

/// The calls in progress: ringing or answered.
#[utoipa::path(get, path = "/api/v1/sip/calls", tag = "sip", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = LiveCalls), (status = 401, body = ErrorBody), (status = 503, description = "The SIP service is not running", body = ErrorBody)))]
async fn sip_calls(State(app): AppState, _caller: Caller) -> ApiResult<Response> {
    Ok(match live_calls(&app).await? {
        Some(c) => Json(c).into_response(),
        None => not_running(),
    })
}
