//! The SIP pages (manual 4 and 5; issue 6 item 6): "Devices online" (every device with a
//! registration number: number, contact, transport, source, user agent, expiry and online
//! state), "Live calls", and "Call records" (filters by device, time range, status and a
//! device's missed calls; newest first; paged). Plain GET forms and links, no JavaScript. Reads
//! the same builders as the JSON API (`crate::web::api::records`) and `crate::records::calls`;
//! owns no rule.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

use super::intercom_pages::{f, kind_label, Fields};
use super::{error_box, query_escape, Frame, SetUp};
use crate::app::App;
use crate::error::Error;
use crate::intercom::ringing::DeviceKind;
use crate::intercom::{devices, registrations};
use crate::records::calls::{self, CallPage, CallQuery, CallStatus, CallView, Party};
use crate::web::api::records::{live_calls, sip_devices};
use crate::web::auth::PageCaller;
use crate::web::blocking;
use crate::web::error::status_of;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/sip/devices", get(devices_page))
        .route("/sip/calls", get(calls_page))
        .route("/records/calls", get(records_page))
}

fn links(current: &str) -> Markup {
    let items = [
        ("/sip/devices", "nav-sip-devices", "Devices online"),
        ("/sip/calls", "nav-sip-calls", "Live calls"),
        ("/records/calls", "nav-call-records", "Call records"),
    ];
    html! {
        p.crumbs {
            a href="/section/intercom" { "← Intercom management" }
            @for (href, id, label) in items {
                " · "
                @if href == current { strong { (label) } } @else { a id=(id) href=(href) { (label) } }
            }
        }
    }
}

fn not_running(frame: &Frame, title: &str, current: &str) -> Response {
    frame.page(
        StatusCode::SERVICE_UNAVAILABLE,
        title,
        html! {
            (links(current))
            p #sip-not-running .warn role="alert" {
                "The SIP service is not running, so there is nothing to show: devices cannot \
                 register and no call goes through. The administrator can find why in the log."
            }
        },
    )
}

/// `2026-11-30T22:00:00Z` → `2026-11-30 22:00:00 UTC` (RFC 3339 from the API views).
fn shown(rfc3339: &str) -> String {
    rfc3339.replace('T', " ").replace('Z', " UTC")
}

fn seconds(s: u64) -> String {
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn party(p: &Party) -> Markup {
    html! {
        span.party {
            @if p.name.is_empty() && p.number.is_empty() {
                span.muted { "device " (p.device.map(|d| d.to_string()).unwrap_or_else(|| "?".into())) }
            } @else {
                (p.name)
                @if !p.number.is_empty() { " " code { (p.number) } }
            }
        }
    }
}

fn parties(ps: &[Party]) -> Markup {
    html! {
        @for (i, p) in ps.iter().enumerate() {
            @if i > 0 { ", " }
            (party(p))
        }
    }
}

async fn devices_page(_: SetUp, State(app): State<Arc<App>>, caller: PageCaller) -> Response {
    let frame = Frame::load(&app, Some(&caller)).await;
    let title = "Devices online";
    let d = match sip_devices(&app).await {
        Ok(Some(d)) => d,
        Ok(None) => return not_running(&frame, title, "/sip/devices"),
        Err(e) => return frame.error(&e),
    };
    frame.page(
        StatusCode::OK,
        title,
        html! {
            (links("/sip/devices"))
            p { "Every device with a registration number (manual 3.2). A device is online while it has a live \
                 registration; one device may register several contacts." }
            p #sip-summary {
                strong #online-count { (d.online_devices) } " of " strong #known-count { (d.known_devices) } " devices online."
            }
            section.card {
                div.scroll { table #sip-devices {
                    thead { tr {
                        th { "Device" } th { "Type" } th { "Number" } th { "State" } th { "Contact" }
                        th { "Transport" } th { "Source" } th { "User agent" } th { "Expires" } th {}
                    } }
                    tbody {
                        @for dev in &d.devices {
                            @let rows = dev.bindings.len().max(1);
                            @for i in 0..rows {
                                @let b = dev.bindings.get(i);
                                tr id=[(i == 0).then(|| format!("sip-device-{}", dev.device))] .online[dev.online] {
                                    td { (dev.name) }
                                    td { (dev.kind.map(kind_label).unwrap_or("?")) }
                                    td { code.reg-number { (dev.number) } }
                                    td { @if dev.online { span.badge.synced { "online" } } @else { span.badge { "offline" } } }
                                    @if let Some(b) = b {
                                        td { code.wrap { (b.contact) } }
                                        td { (format!("{:?}", b.transport).to_uppercase()) }
                                        td { code { (b.source) } }
                                        td { (b.user_agent) }
                                        td.nowrap title=(shown(&b.expires)) { "in " (seconds(b.expires_in)) br; small.muted { (shown(&b.expires).get(11..).unwrap_or_default()) } }
                                    } @else {
                                        td.muted { "—" } td {} td {} td {} td {}
                                    }
                                    td {
                                        @if i == 0 && dev.kind == Some(DeviceKind::ManagerClient) {
                                            a href={ "/records/calls?missed=1&device=" (dev.device) } { "Missed calls" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
                @if d.devices.is_empty() {
                    p.hint #no-devices { "No device has a registration number yet: give devices their numbers in "
                        a href="/intercom/dial" { "dial management" } "." }
                }
            }
        },
    )
}

async fn calls_page(_: SetUp, State(app): State<Arc<App>>, caller: PageCaller) -> Response {
    let frame = Frame::load(&app, Some(&caller)).await;
    let title = "Live calls";
    let c = match live_calls(&app).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_running(&frame, title, "/sip/calls"),
        Err(e) => return frame.error(&e),
    };
    frame.page(
        StatusCode::OK,
        title,
        html! {
            (links("/sip/calls"))
            p { "Calls going through Gatehouse now. Reload the page to see the latest." }
            section.card {
                div.scroll { table #live-calls {
                    thead { tr { th { "Started" } th { "Caller" } th { "Dialled" } th { "Ringing" } th { "State" } th { "Answered by" } th { "Duration" } } }
                    tbody {
                        @for call in &c.calls {
                            tr {
                                td.nowrap { (shown(&call.started)) }
                                td { (party(&call.caller)) }
                                td { code { (call.dialled) } }
                                td { (parties(&call.ringing)) }
                                td { span.badge.synced[call.state == "answered"] { (call.state) } }
                                td { @if let Some(a) = &call.answered_by { (party(a)) } }
                                td { @if call.state == "answered" { (seconds(call.duration_seconds)) } }
                            }
                        }
                    }
                } }
                @if c.calls.is_empty() { p.hint #no-calls { "No call right now." } }
            }
        },
    )
}

const PAGE_SIZES: [usize; 3] = [25, 50, 100];

fn status_label(s: CallStatus) -> &'static str {
    match s {
        CallStatus::Answered => "Answered",
        CallStatus::Missed => "Missed",
        CallStatus::Rejected => "Rejected",
        CallStatus::Busy => "Busy",
        CallStatus::Cancelled => "Cancelled",
        CallStatus::Failed => "Failed",
    }
}

fn record_row(r: &CallView) -> Markup {
    let bad = !matches!(r.status, CallStatus::Answered);
    html! {
        tr id={ "call-" (r.id) } {
            td.nowrap { (shown(&r.started)) }
            td { (party(&r.caller)) }
            td { code { (r.callee_number) } }
            td { (parties(&r.callee_devices)) }
            td { @if let Some(a) = &r.answered_by { (party(a)) } @else { span.muted { "—" } } }
            td { span.badge.synced[!bad].conflict[bad] { (status_label(r.status)) } }
            td.nowrap { (seconds(r.duration_seconds)) }
            td { (r.sip_code) }
        }
    }
}

/// The query string of the records page for `typed` with `offset`.
fn page_link(typed: &Fields, offset: usize) -> String {
    let mut q = String::from("/records/calls?");
    for k in ["device", "from", "to", "status", "missed", "limit"] {
        let v = f(typed, k);
        if !v.is_empty() {
            q.push_str(&format!("{k}={}&", query_escape(v)));
        }
    }
    q.push_str(&format!("offset={offset}"));
    q
}

async fn records_page(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Query(typed): Query<Fields>,
) -> Response {
    let q = CallQuery {
        device: Some(f(&typed, "device").to_owned()),
        from: Some(f(&typed, "from").to_owned()),
        to: Some(f(&typed, "to").to_owned()),
        status: Some(f(&typed, "status").to_owned()),
        limit: Some(f(&typed, "limit").to_owned()),
        offset: Some(f(&typed, "offset").to_owned()),
    };
    let missed = !f(&typed, "missed").is_empty();
    let result = blocking(&app, move |app| {
        let devs = devices::list(app)?;
        let regs = registrations::list(app)?;
        // Missed calls without a device yet (the start page's link): the form only.
        let page = match q.filter() {
            Ok(mut filter) if missed => match filter.scope {
                calls::Scope::Device(d) => {
                    filter.scope = calls::Scope::MissedBy(d);
                    Some(calls::search(app, &filter))
                }
                _ => None,
            },
            Ok(filter) => Some(calls::search(app, &filter)),
            Err(e) => Some(Err(e)),
        };
        Ok((devs, regs, page))
    })
    .await;
    let frame = Frame::load(&app, Some(&caller)).await;
    let (devs, regs, page) = match result {
        Ok(x) => x,
        Err(e) => return frame.error(&e),
    };
    let (page, err): (Option<CallPage>, Option<Error>) = match page {
        Some(Ok(p)) => (Some(p), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let choose = missed && page.is_none() && err.is_none();
    let sel = |k: &str, v: &str| f(&typed, k) == v;
    let number_of = |id: u64| {
        regs.iter()
            .find(|r| r.device == id)
            .map(|r| r.number.clone())
    };
    let status = err.as_ref().map(status_of).unwrap_or(StatusCode::OK);
    frame.page(
        status,
        "Call records",
        html! {
            (links("/records/calls"))
            p { "Manual 5: every call attempt, newest first. Times are UTC. A device's "
                em { "missed calls" } " (manual 4) are the calls that rang it and that nobody answered: \
                they ended missed, cancelled by the caller, or rejected." }
            (error_box(err.as_ref()))
            form.search #records-form method="get" action="/records/calls" {
                label { "Device" select #records-device name="device" {
                    option value="" { "All devices" }
                    @for d in &devs {
                        option value=(d.id) selected[sel("device", &d.id.to_string())] {
                            (d.name)
                            @if let Some(n) = number_of(d.id) { " (" (n) ")" }
                        }
                    }
                } }
                label { "From (UTC)" input #records-from type="datetime-local" name="from" value=(f(&typed, "from")); }
                label { "To (UTC)" input #records-to type="datetime-local" name="to" value=(f(&typed, "to")); }
                label { "Status" select #records-status name="status" {
                    option value="" { "Any" }
                    @for s in CallStatus::ALL {
                        option value=(s.as_str()) selected[sel("status", s.as_str())] { (status_label(s)) }
                    }
                } }
                label { "Per page" select #records-limit name="limit" {
                    @for n in PAGE_SIZES {
                        option value=(n) selected[sel("limit", &n.to_string()) || (f(&typed, "limit").is_empty() && n == calls::DEFAULT_LIMIT)] { (n) }
                    }
                } }
                label.check { input #records-missed type="checkbox" name="missed" value="1" checked[missed]; "Missed calls of the device" }
                button #records-search type="submit" { "Search" }
            }
            @if choose {
                p #choose-device .hint { "Choose the manager client (or other device) whose missed calls to show, then Search." }
            }
            @if let Some(p) = &page {
                p #records-summary {
                    @if p.total == 0 { "No call record matches." }
                    @else if p.records.is_empty() { "Nothing on this page; " strong #records-total { (p.total) } " records match in all." }
                    @else { "Showing " (p.offset + 1) "–" (p.offset + p.records.len()) " of " strong #records-total { (p.total) } "." }
                }
                section.card {
                    div.scroll { table #call-records {
                        thead { tr { th { "Started" } th { "Caller" } th { "Dialled" } th { "Rang" } th { "Answered by" } th { "Status" } th { "Duration" } th { "SIP" } } }
                        tbody { @for r in &p.records { (record_row(r)) } }
                    } }
                }
                nav.pager {
                    @if p.offset > 0 {
                        a #records-newer href=(page_link(&typed, p.offset.saturating_sub(p.limit))) { "← Newer" }
                    }
                    @if p.offset + p.records.len() < p.total {
                        a #records-older href=(page_link(&typed, p.offset + p.limit)) { "Older →" }
                    }
                }
            }
        },
    )
}
