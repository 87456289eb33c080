//! The import/export page of person management (manual 1.2.5.3–4): template downloads (CSV and
//! XLSX), import of a filled template with every rejected row shown (row, column, reason), and
//! export of everyone; export of a selection is an action of the persons list. Calls
//! `crate::persons::transfer` only; owns no rule.

use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::html;
use serde::Deserialize;

use super::company_pages::bad_form;
use super::{csrf_input, csrf_valid, error_box, notice_box, Frame, SetUp};
use crate::app::App;
use crate::error::Error;
use crate::persons::transfer::{self, Format, ImportOutcome, ImportReport, RowError};
use crate::web::auth::PageCaller;
use crate::web::blocking;
use crate::web::error::status_of;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/persons/transfer", get(page))
        .route("/persons/transfer/template", get(template))
        .route("/persons/transfer/export", get(export_all))
        .route(
            "/persons/transfer/import",
            post(import).layer(DefaultBodyLimit::max(transfer::MAX_BYTES)),
        )
}

#[derive(Deserialize, Default)]
struct FormatQuery {
    #[serde(default)]
    format: String,
}

fn format_of(s: &str) -> Format {
    if s.eq_ignore_ascii_case("csv") {
        Format::Csv
    } else {
        Format::Xlsx
    }
}

/// A file download of `bytes` named `persons-<what>.<ext>`.
pub(super) fn download(bytes: Vec<u8>, format: Format, what: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, format.mime().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"persons-{what}.{}\"",
                    format.extension()
                ),
            ),
        ],
        bytes,
    )
        .into_response()
}

async fn show(
    app: &Arc<App>,
    caller: &PageCaller,
    status: StatusCode,
    report: Option<&ImportReport>,
    rows: &[RowError],
    err: Option<&Error>,
) -> Response {
    let frame = Frame::load(app, Some(caller)).await;
    let notice = report.map(|r| {
        format!(
            "Imported {} persons: {} created, {} updated, {} departments created.",
            r.imported, r.created, r.updated, r.departments_created
        )
    });
    frame.page(
        status,
        "Import and export persons",
        html! {
            p.crumbs { a href="/persons" { "← Persons" } }
            (notice_box(notice.as_deref()))
            (error_box(err))
            section.card {
                h2 { "1. Create template" }
                p {
                    "A header row and one example row. Card numbers are written in the current display base; several cards go in one cell separated by "
                    code { ";" }
                    ", each optionally followed by "
                    code { ":" }
                    " and flags (m main, d duress, f frozen), e.g. "
                    code { "02224678:m;0A0B0C0D:df" }
                    "."
                }
                p {
                    a.button.secondary #template-xlsx href="/persons/transfer/template?format=xlsx" { "Template (XLSX)" }
                    " "
                    a.button.secondary #template-csv href="/persons/transfer/template?format=csv" { "Template (CSV)" }
                }
            }
            section.card {
                h2 { "2. Import person list" }
                p { "Every row is checked first. If any row is wrong, nothing is imported and every problem is listed below with its row and column. Existing person IDs are updated." }
                form #import-form method="post" action="/persons/transfer/import" enctype="multipart/form-data" {
                    (csrf_input(caller))
                    label { "File (XLSX or CSV, at most 32 MiB)"
                        input #import-file type="file" name="file" accept=".xlsx,.csv" required;
                    }
                    button #import-submit type="submit" { "Import" }
                }
                @if !rows.is_empty() {
                    h3 { (rows.len()) " problem(s); nothing was imported" }
                    table #import-errors {
                        thead { tr { th { "Row" } th { "Column" } th { "Reason" } } }
                        tbody {
                            @for r in rows {
                                tr { td { (r.row) } td { (r.column) } td { (r.reason) } }
                            }
                        }
                    }
                }
            }
            section.card {
                h2 { "3. Export" }
                p { "Everyone, in a file that imports back without loss. To export some persons, select them in the list and choose Export there." }
                p {
                    a.button #export-all-xlsx href="/persons/transfer/export?format=xlsx" { "Export all (XLSX)" }
                    " "
                    a.button.secondary #export-all-csv href="/persons/transfer/export?format=csv" { "Export all (CSV)" }
                }
            }
        },
    )
}

async fn page(_: SetUp, State(app): State<Arc<App>>, caller: PageCaller) -> Response {
    show(&app, &caller, StatusCode::OK, None, &[], None).await
}

async fn template(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(q): Query<FormatQuery>,
) -> Response {
    let format = format_of(&q.format);
    match blocking(&app, move |app| transfer::template(app, format)).await {
        Ok(bytes) => download(bytes, format, "template"),
        Err(e) => show(&app, &caller, status_of(&e), None, &[], Some(&e)).await,
    }
}

async fn export_all(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(q): Query<FormatQuery>,
) -> Response {
    let format = format_of(&q.format);
    let actor = caller.actor.clone();
    match blocking(&app, move |app| transfer::export(app, &actor, None, format)).await {
        Ok(bytes) => download(bytes, format, "all"),
        Err(e) => show(&app, &caller, status_of(&e), None, &[], Some(&e)).await,
    }
}

async fn import(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let read = async {
        let mut m = multipart.map_err(|e| bad_form(e.body_text()))?;
        let (mut csrf, mut name, mut bytes) = (String::new(), String::new(), Vec::new());
        while let Some(f) = m.next_field().await.map_err(|e| bad_form(e.body_text()))? {
            match f.name() {
                Some("csrf") => csrf = f.text().await.map_err(|e| bad_form(e.body_text()))?,
                Some("file") => {
                    name = f.file_name().unwrap_or("").to_owned();
                    bytes = f
                        .bytes()
                        .await
                        .map_err(|e| bad_form(e.body_text()))?
                        .to_vec();
                }
                _ => {}
            }
        }
        Ok::<_, Error>((csrf, name, bytes))
    };
    let (csrf, name, bytes) = match read.await {
        Ok(x) => x,
        Err(e) => return show(&app, &caller, status_of(&e), None, &[], Some(&e)).await,
    };
    if !csrf_valid(&caller, &csrf) {
        return Frame::load(&app, Some(&caller)).await.csrf_refused();
    }
    // An XLSX file is a zip archive ("PK"); anything else is read as CSV.
    let format = if bytes.starts_with(b"PK") || name.to_lowercase().ends_with(".xlsx") {
        Format::Xlsx
    } else {
        Format::Csv
    };
    let actor = caller.actor.clone();
    match blocking(&app, move |app| {
        transfer::import(app, &actor, &bytes, format)
    })
    .await
    {
        Ok(ImportOutcome::Imported(r)) => {
            show(&app, &caller, StatusCode::OK, Some(&r), &[], None).await
        }
        Ok(ImportOutcome::Rejected(rows)) => {
            show(
                &app,
                &caller,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &rows,
                None,
            )
            .await
        }
        Err(e) => show(&app, &caller, status_of(&e), None, &[], Some(&e)).await,
    }
}
