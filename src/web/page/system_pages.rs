//! System pages: the audit log search, the HTTPS certificate (shown and replaced by upload), and
//! version, uptime and backup download. Calls `audit::search`, `system::{info,
//! install_certificate, backup_file}` (through the API's `backup_response`) and `CertStore::info`;
//! the checks on certificates and who may see what stay there.

use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

use super::company_pages::bad_form;
use super::{
    csrf_input, csrf_valid, error_box, notice_box, query_escape, when, Done, Frame, SetUp,
};
use crate::accounts::Role;
use crate::app::App;
use crate::audit::{self, AuditQuery};
use crate::error::Error;
use crate::web::auth::PageCaller;
use crate::web::blocking;
use crate::web::error::status_of;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/audit", get(audit_page))
        .route(
            "/certificate",
            get(certificate_page).post(install_certificate),
        )
        .route("/system", get(system_page))
        .route("/system/backup", get(backup))
}

/// Entries per audit page.
const AUDIT_PAGE: usize = 100;

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuditForm {
    q: String,
    actor: String,
    action: String,
    from: String,
    to: String,
    before: String,
}

impl AuditForm {
    /// The query string of this search, without `before`.
    fn query(&self) -> String {
        [
            ("q", &self.q),
            ("actor", &self.actor),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

fn non_empty(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

async fn audit_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(f): Query<AuditForm>,
) -> Response {
    let frame = Frame::load(&app, Some(&caller)).await;
    if let Err(e) = caller.actor.require_admin() {
        return frame.error(&e);
    }
    let before = match non_empty(&f.before).map(|b| b.parse::<u64>()) {
        None => Ok(None),
        Some(Ok(b)) => Ok(Some(b)),
        Some(Err(_)) => Err(Error::invalid(
            "before",
            "before",
            "\"before\" must be an entry number",
        )),
    };
    let result = match before {
        Ok(before) => {
            let q = AuditQuery {
                q: non_empty(&f.q),
                actor: non_empty(&f.actor),
                action: non_empty(&f.action),
                from: non_empty(&f.from),
                to: non_empty(&f.to),
                before,
                limit: Some(AUDIT_PAGE),
            };
            blocking(&app, move |app| audit::search(app, &q)).await
        }
        Err(e) => Err(e),
    };
    let (entries, err) = match result {
        Ok(e) => (e, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let older = (entries.len() >= AUDIT_PAGE)
        .then(|| entries.last().map(|e| e.id))
        .flatten()
        .map(|id| {
            let q = f.query();
            if q.is_empty() {
                format!("/audit?before={id}")
            } else {
                format!("/audit?{q}&before={id}")
            }
        });
    frame.page(
        err.as_ref().map(status_of).unwrap_or(StatusCode::OK),
        "Audit log",
        html! {
            p { "Sign-ins (successful, failed, locked), sign-outs and every change, newest first. Times are UTC." }
            (error_box(err.as_ref()))
            form.search method="get" action="/audit" {
                label { "Text" input type="search" name="q" value=(f.q); }
                label { "Account" input name="actor" value=(f.actor); }
                label { "Action starts with" input name="action" value=(f.action) placeholder="login"; }
                label { "From" input type="date" name="from" value=(f.from); }
                label { "To" input type="date" name="to" value=(f.to); }
                button #audit-search type="submit" { "Search" }
            }
            @if entries.is_empty() && err.is_none() {
                p #audit-empty { "No entries match." }
            } @else {
                div.scroll {
                    table #audit {
                        thead { tr {
                            th { "#" } th { "Time" } th { "Account" } th { "Address" }
                            th { "Action" } th { "Target" } th { "Detail" }
                        } }
                        tbody {
                            @for e in &entries {
                                tr {
                                    td { (e.id) }
                                    td.nowrap { (when(e.time)) }
                                    td { (e.actor.as_deref().unwrap_or("—")) }
                                    td { (e.ip) }
                                    td { code { (e.action) } }
                                    td { (e.target) }
                                    td { (e.detail) }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(href) = older {
                p { a #audit-older href=(href) { "Older entries →" } }
            }
        },
    )
}

fn cert_body(app: &App, caller: &PageCaller, notice: Option<&str>, err: Option<&Error>) -> Markup {
    let c = app.certs.info();
    let date = |t: i64| when(u64::try_from(t).unwrap_or(0));
    html! {
        p { "The certificate this box presents on HTTPS (and later SIP over TLS)." }
        (notice_box(notice))
        (error_box(err))
        dl.facts #certificate {
            dt { "Subject" } dd { (c.subject) }
            dt { "Issuer" } dd { (c.issuer) @if c.self_signed { " " span.badge { "self-signed" } } }
            dt { "Valid for" } dd { (c.names.join(", ")) }
            dt { "Valid from" } dd { (date(c.not_before)) }
            dt { "Valid until" } dd { (date(c.not_after)) }
            dt { "SHA-256 fingerprint" } dd { code.wrap { (c.sha256_fingerprint) } }
        }
        section.card {
            h2 { "Install a certificate" }
            p.hint { "PEM files: the certificate chain (leaf first) and its private key (PKCS#8, \
                      PKCS#1 or SEC1). New connections use it at once." }
            form.stack method="post" action="/certificate" enctype="multipart/form-data" {
                (csrf_input(caller))
                label { "Certificate (PEM)" input type="file" name="certificate" required; }
                label { "Private key (PEM)" input type="file" name="private_key" required; }
                button #certificate-install type="submit" { "Install certificate" }
            }
        }
    }
}

async fn certificate_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(done): Query<Done>,
) -> Response {
    let frame = Frame::load(&app, Some(&caller)).await;
    if let Err(e) = caller.actor.require_admin() {
        return frame.error(&e);
    }
    let body = cert_body(&app, &caller, done.text(), None);
    frame.page(StatusCode::OK, "Certificate", body)
}

async fn install_certificate(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let frame = Frame::load(&app, Some(&caller)).await;
    let result = match read_cert_form(multipart).await {
        Ok((csrf, cert, key)) => {
            if !csrf_valid(&caller, &csrf) {
                return frame.csrf_refused();
            }
            let actor = caller.actor.clone();
            blocking(&app, move |app| {
                crate::system::install_certificate(app, &actor, &cert, &key)
            })
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => super::see_other("/certificate?done=certificate"),
        Err(e @ Error::Forbidden { .. }) => frame.error(&e),
        Err(e) => {
            let body = cert_body(&app, &caller, None, Some(&e));
            frame.page(status_of(&e), "Certificate", body)
        }
    }
}

/// The `csrf`, `certificate` and `private_key` fields of the upload form.
async fn read_cert_form(
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(String, Vec<u8>, Vec<u8>), Error> {
    let mut multipart = multipart.map_err(|e| bad_form(e.body_text()))?;
    let (mut csrf, mut cert, mut key) = (String::new(), Vec::new(), Vec::new());
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad_form(e.body_text()))?
    {
        let name = field.name().unwrap_or("").to_owned();
        let bytes = field.bytes().await.map_err(|e| bad_form(e.body_text()))?;
        match name.as_str() {
            "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
            "certificate" => cert = bytes.to_vec(),
            "private_key" => key = bytes.to_vec(),
            _ => {}
        }
    }
    Ok((csrf, cert, key))
}

async fn system_page(_: SetUp, State(app): State<Arc<App>>, caller: PageCaller) -> Response {
    let frame = Frame::load(&app, Some(&caller)).await;
    let i = crate::system::info(&app);
    let uptime = humantime::format_duration(std::time::Duration::from_secs(i.uptime_seconds));
    frame.page(
        StatusCode::OK,
        "System",
        html! {
            dl.facts #system {
                dt { "Version" } dd { (i.version) }
                dt { "Commit" } dd { code { (i.commit) } }
                dt { "Target" } dd { code { (i.target) } }
                dt { "Running for" } dd { (uptime.to_string()) }
                dt { "Data partition" } dd #data-space {
                    (format!("{:.1} MiB free of {:.1} MiB", i.data_free_bytes as f64 / 1048576.0, i.data_total_bytes as f64 / 1048576.0))
                }
            }
            section.card {
                h2 { "Backup" }
                @if caller.session.role == Role::Admin {
                    p { "A consistent copy of the whole store (accounts, settings, audit log), \
                         taken while Gatehouse keeps running." }
                    p { a.button #backup-download href="/system/backup" download { "Download backup" } }
                } @else {
                    p.hint { "Only an administrator may download a backup." }
                }
            }
        },
    )
}

async fn backup(_: SetUp, State(app): State<Arc<App>>, caller: PageCaller) -> Response {
    match crate::web::api::backup_response(&app, caller.actor.clone()).await {
        Ok(r) => r,
        Err(e) => Frame::load(&app, Some(&caller)).await.error(&e.0),
    }
}
