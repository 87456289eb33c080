//! The person import/export routes (manual 1.2.5.3–1.2.5.4): template and export downloads, and
//! import of a raw CSV or XLSX body (up to 32 MiB on that route only). Administrators and
//! operators may use them. Rules live in `persons::transfer`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{UtoipaMethodRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::super::auth::Caller;
use super::super::blocking;
use super::super::error::{bad_body, ApiError, ErrorBody};
use crate::app::App;
use crate::error::Error;
use crate::persons::transfer::{self, Format, ImportOutcome, ImportReport, RowError};

type ApiResult<T> = Result<T, ApiError>;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `csv` or `xlsx`.
    #[param(inline)]
    pub(crate) format: Format,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` or `xlsx`.
    #[param(inline)]
    format: Format,
    /// Person IDs separated by commas; all persons when absent.
    ids: Option<String>,
}

/// The answer to a refused import: every bad row, nothing imported.
#[derive(Serialize, ToSchema)]
pub struct ImportRejected {
    /// `import_rejected`.
    error: String,
    message: String,
    field: Option<String>,
    rows: Vec<RowError>,
}

pub(crate) fn download(format: Format, name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, format.mime().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{}\"", format.extension()),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// The import template: the header row and one example person.
#[utoipa::path(get, path = "/api/v1/persons/template", tag = "persons", params(FormatQuery), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "CSV or XLSX file", content_type = "application/octet-stream"), (status = 401, body = ErrorBody)))]
pub async fn person_template(
    State(app): State<Arc<App>>,
    _caller: Caller,
    Query(q): Query<FormatQuery>,
) -> ApiResult<Response> {
    let bytes = blocking(&app, move |app| transfer::template(app, q.format)).await?;
    Ok(download(q.format, "persons-template", bytes))
}

/// Exports the chosen persons (or all) as CSV or XLSX, re-importable as is.
#[utoipa::path(get, path = "/api/v1/persons/export", tag = "persons", params(ExportQuery), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "CSV or XLSX file", content_type = "application/octet-stream"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn export_persons(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let ids: Option<Vec<String>> = q.ids.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let format = q.format;
    let bytes = blocking(&app, move |app| {
        transfer::export(app, &caller.actor, ids.as_deref(), format)
    })
    .await?;
    let name = format!(
        "persons-{}",
        crate::time::rfc3339(crate::time::now())
            .replace([':', '-'], "")
            .trim_end_matches('Z')
    );
    Ok(download(format, &name, bytes))
}

/// Imports persons from the raw CSV or XLSX body: all rows, or none with every bad row listed.
#[utoipa::path(post, path = "/api/v1/persons/import", tag = "persons", params(FormatQuery), security(("bearer" = []), ("cookie" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The CSV or XLSX file (at most 32 MiB)"),
    responses((status = 200, body = ImportReport), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
    (status = 422, description = "Rows with errors; nothing was imported", body = ImportRejected)))]
pub async fn import_persons(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<FormatQuery>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = import_body(body)?;
    let outcome = blocking(&app, move |app| {
        transfer::import(app, &caller.actor, &body, q.format)
    })
    .await?;
    Ok(match outcome {
        ImportOutcome::Imported(report) => Json(report).into_response(),
        ImportOutcome::Rejected(rows) => rejected(rows),
    })
}

/// The 422 `import_rejected` answer listing every bad row of a refused spreadsheet import.
pub(crate) fn rejected(rows: Vec<RowError>) -> Response {
    let bad: std::collections::HashSet<usize> = rows.iter().map(|r| r.row).collect();
    let body = ImportRejected {
        error: "import_rejected".into(),
        message: format!("{} rows have errors; nothing was imported", bad.len()),
        field: None,
        rows,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// The body of a spreadsheet import, or the answer to one too large or unreadable.
pub(crate) fn import_body(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|rej| match rej.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError(Error::TooLarge(format!(
            "an import file has at most {} MiB",
            transfer::MAX_BYTES >> 20
        ))),
        _ => bad_body(rej.body_text()),
    })
}

/// The import route with its own body limit.
pub fn import_route() -> UtoipaMethodRouter<Arc<App>> {
    routes!(import_persons).layer(DefaultBodyLimit::max(transfer::MAX_BYTES))
}
