//! JSON API of the serial readers (issue 7 item 5): `/api/v1/readers` (both readers with their
//! state and operation), "read card" for the person form, reading cards into a card list, enrolling
//! a fingerprint, stopping, and `/api/v1/readers/{id}/events`, a server-sent-event stream with the
//! reader's view at every change (the page's live views use it with a few lines of plain
//! JavaScript). Also the fingerprints stored with a person (duress flag, delete). Handlers call
//! `crate::serial::readers` and `crate::persons`; no rule lives here.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures_util::Stream;
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::app::App;
use crate::persons::{self, PersonView};
use crate::serial::readers::{self, CardRead, ReaderId, ReaderView};
use crate::web::auth::{ApiJson, Caller};
use crate::web::blocking;
use crate::web::error::{ApiError, ErrorBody};

type ApiResult<T> = Result<T, ApiError>;
type AppState = State<Arc<App>>;

#[derive(OpenApi)]
#[openapi(tags(
    (name = "readers", description = "The card issuer and the fingerprint scanner on the box's serial ports (manual 1.2.3–1.2.5): state, read a card, issue cards to a list in order, enrol fingerprints in three presses, live events. One user drives a reader at a time; another gets 409 `reader_busy` naming who holds it. A missing or silent reader gives 503 (`reader_disconnected`, `reader_not_answering`, `reader_timeout`)."),
))]
struct ReadersDoc;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::with_openapi(ReadersDoc::openapi())
        .routes(routes!(list_readers))
        .routes(routes!(get_reader))
        .routes(routes!(reader_events))
        .routes(routes!(stop_reader))
        .routes(routes!(read_card))
        .routes(routes!(issue_cards))
        .routes(routes!(enroll_fingerprint))
        .routes(routes!(
            get_fingerprint,
            set_fingerprint,
            delete_fingerprint
        ))
}

fn view(app: &Arc<App>, id: ReaderId) -> ReaderView {
    app.readers.get(id).view(app)
}

/// Both readers: family, port, state in words, firmware, who holds it and the current operation.
#[utoipa::path(get, path = "/api/v1/readers", tag = "readers", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = [ReaderView]), (status = 401, body = ErrorBody)))]
async fn list_readers(State(app): AppState, _c: Caller) -> ApiResult<Json<Vec<ReaderView>>> {
    Ok(Json(
        blocking(&app, |app| {
            Ok(vec![
                app.readers.card.view(app),
                app.readers.fingerprint.view(app),
            ])
        })
        .await?,
    ))
}

/// One reader (`card` or `fingerprint`).
#[utoipa::path(get, path = "/api/v1/readers/{id}", tag = "readers", params(("id" = ReaderId, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ReaderView), (status = 404, body = ErrorBody)))]
async fn get_reader(
    State(app): AppState,
    _c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ReaderView>> {
    let id = ReaderId::parse(&id)?;
    let a = app.clone();
    Ok(Json(blocking(&app, move |_| Ok(view(&a, id))).await?))
}

/// Server-sent events: `event: reader` with the reader's view as JSON, at once and at every
/// change (link state, operation step, card read, enrolment step); a comment every 15 s keeps
/// the connection open.
#[utoipa::path(get, path = "/api/v1/readers/{id}/events", tag = "readers", params(("id" = ReaderId, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "text/event-stream of `reader` events, each a ReaderView", content_type = "text/event-stream", body = String), (status = 404, body = ErrorBody)))]
async fn reader_events(
    State(app): AppState,
    _c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let id = ReaderId::parse(&id)?;
    let rx = app.readers.get(id).subscribe();
    let stream =
        futures_util::stream::unfold((app, rx, true), move |(app, mut rx, first)| async move {
            if !first && rx.changed().await.is_err() {
                return None;
            }
            rx.borrow_and_update();
            let a = app.clone();
            let v = blocking(&app, move |_| Ok(view(&a, id))).await.ok()?;
            let ev = Event::default()
                .event("reader")
                .json_data(&v)
                .unwrap_or_else(|_| Event::default().comment("unencodable view"));
            Some((Ok(ev), (app, rx, false)))
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Stops the reader's running operation (its holder or an administrator). A card list stays,
/// with the cards given so far; reading can start again.
#[utoipa::path(post, path = "/api/v1/readers/{id}/stop", tag = "readers", params(("id" = ReaderId, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ReaderView), (status = 409, description = "Another user's operation (`reader_busy`)", body = ErrorBody)))]
async fn stop_reader(
    State(app): AppState,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ReaderView>> {
    let id = ReaderId::parse(&id)?;
    app.readers.get(id).stop(&c.actor)?;
    let a = app.clone();
    Ok(Json(blocking(&app, move |_| Ok(view(&a, id))).await?))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(default)]
struct ReadCardRequest {
    /// The person whose form asks (so "already belongs to this person" can be said).
    person: Option<String>,
    /// How long to wait for a card, 1–120 s (default 30).
    wait_seconds: Option<u64>,
}

/// Waits for one card on the card issuer and answers its number in the current display base.
/// A card that already belongs to a person is refused (409 `card_taken`, naming the owner).
#[utoipa::path(post, path = "/api/v1/readers/card/read", tag = "readers", request_body = ReadCardRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CardRead),
        (status = 409, description = "`card_taken`, `reader_busy` (names the holder) or `reader_disabled`", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 503, description = "`reader_disconnected`, `reader_not_answering`, `reader_starting` or `reader_timeout` (no card in time)", body = ErrorBody)))]
async fn read_card(
    State(app): AppState,
    c: Caller,
    ApiJson(r): ApiJson<ReadCardRequest>,
) -> ApiResult<Json<CardRead>> {
    Ok(Json(
        readers::read_card(&app, &c.actor, r.person, r.wait_seconds).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
struct IssueRequest {
    /// The card list (from POST /api/v1/persons/issue or batch add).
    session: String,
}

/// Starts reading cards into a card list: each card read goes to the next person waiting, in list
/// order; a duplicate is refused and the person stays waiting. Runs until every person has a
/// card, it is stopped (POST /api/v1/readers/card/stop), or 10 minutes pass without a card.
/// Follow it with GET /api/v1/readers/card/events.
#[utoipa::path(post, path = "/api/v1/readers/card/issue", tag = "readers", request_body = IssueRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 202, body = ReaderView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn issue_cards(
    State(app): AppState,
    c: Caller,
    ApiJson(r): ApiJson<IssueRequest>,
) -> ApiResult<(StatusCode, Json<ReaderView>)> {
    let a = app.clone();
    let v = blocking(&app, move |app| {
        readers::start_issue(app, &c.actor, &r.session)?;
        Ok(view(&a, ReaderId::Card))
    })
    .await?;
    Ok((StatusCode::ACCEPTED, Json(v)))
}

#[derive(Deserialize, ToSchema)]
struct EnrollRequest {
    /// The person ID.
    person: String,
    /// A duress finger (raises an alarm when used at a door).
    #[serde(default)]
    duress: bool,
}

/// Starts enrolling a fingerprint: three presses on the scanner (press, lift, press again…),
/// followed live on GET /api/v1/readers/fingerprint/events; the template is stored with the
/// person (at most 3).
#[utoipa::path(post, path = "/api/v1/readers/fingerprint/enroll", tag = "readers", request_body = EnrollRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 202, body = ReaderView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, description = "`fingerprint_limit`", body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn enroll_fingerprint(
    State(app): AppState,
    c: Caller,
    ApiJson(r): ApiJson<EnrollRequest>,
) -> ApiResult<(StatusCode, Json<ReaderView>)> {
    let a = app.clone();
    let v = blocking(&app, move |app| {
        readers::start_enroll(app, &c.actor, &r.person, r.duress)?;
        Ok(view(&a, ReaderId::Fingerprint))
    })
    .await?;
    Ok((StatusCode::ACCEPTED, Json(v)))
}

#[derive(Deserialize, ToSchema)]
struct FingerprintPatch {
    duress: bool,
}

/// The template of a stored fingerprint (1–3), as the scanner uploaded it (R30x: 512 bytes).
#[utoipa::path(get, path = "/api/v1/persons/{id}/fingerprints/{index}", tag = "persons", params(("id" = String, Path), ("index" = usize, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The template", content_type = "application/octet-stream", body = Vec<u8>), (status = 404, body = ErrorBody)))]
async fn get_fingerprint(
    State(app): AppState,
    _c: Caller,
    Path((id, index)): Path<(String, usize)>,
) -> ApiResult<([(axum::http::HeaderName, &'static str); 1], Vec<u8>)> {
    let data = blocking(&app, move |app| {
        persons::fingerprint_template(app, &id, index)
    })
    .await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
        data,
    ))
}

/// Marks a stored fingerprint (1–3, in enrolment order) as a duress finger or not.
#[utoipa::path(patch, path = "/api/v1/persons/{id}/fingerprints/{index}", tag = "persons", params(("id" = String, Path), ("index" = usize, Path)), request_body = FingerprintPatch, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = PersonView), (status = 404, body = ErrorBody)))]
async fn set_fingerprint(
    State(app): AppState,
    c: Caller,
    Path((id, index)): Path<(String, usize)>,
    ApiJson(p): ApiJson<FingerprintPatch>,
) -> ApiResult<Json<PersonView>> {
    Ok(Json(
        blocking(&app, move |app| {
            persons::set_fingerprint_duress(app, &c.actor, &id, index, p.duress)
        })
        .await?,
    ))
}

/// Deletes a stored fingerprint (1–3); the later ones move up.
#[utoipa::path(delete, path = "/api/v1/persons/{id}/fingerprints/{index}", tag = "persons", params(("id" = String, Path), ("index" = usize, Path)), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = PersonView), (status = 404, body = ErrorBody)))]
async fn delete_fingerprint(
    State(app): AppState,
    c: Caller,
    Path((id, index)): Path<(String, usize)>,
) -> ApiResult<Json<PersonView>> {
    Ok(Json(
        blocking(&app, move |app| {
            persons::delete_fingerprint(app, &c.actor, &id, index)
        })
        .await?,
    ))
}
