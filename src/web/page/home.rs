//! The start page and the manual's feature sections (1–5). The start page links to every section
//! and to the system pages; person management (1) has its working page, `/persons`, where its tile
//! and `/section/persons` lead. Every other section page lists the manual's subsections and says
//! plainly that they are not built yet. Nothing here pretends to work.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::html;

use super::{Frame, SetUp};
use crate::accounts::Role;
use crate::app::App;
use crate::error::Error;
use crate::web::auth::PageCaller;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(home))
        .route("/section/{slug}", get(section))
}

/// One subsection of the manual: number, title, what it will do, and where it lives if built.
struct Part {
    number: &'static str,
    title: &'static str,
    what: &'static str,
    href: Option<&'static str>,
}

struct Section {
    slug: &'static str,
    number: &'static str,
    title: &'static str,
    summary: &'static str,
    parts: &'static [Part],
}

impl Section {
    /// Where the start page's tile leads: the working page once a section has one.
    fn href(&self) -> String {
        match self.slug {
            "persons" => "/persons".into(),
            slug => format!("/section/{slug}"),
        }
    }
}

const fn part(number: &'static str, title: &'static str, what: &'static str) -> Part {
    Part {
        number,
        title,
        what,
        href: None,
    }
}

const SECTIONS: &[Section] = &[
    Section {
        slug: "persons",
        number: "1",
        title: "Person management",
        summary: "The company, departments, persons with their cards, fingerprints and faces.",
        parts: &[
            Part {
                number: "1.1",
                title: "Company",
                what: "Company name and logo shown at the top of every page.",
                href: Some("/company"),
            },
            part("1.2.1", "Departments", "A department tree: add, rename and delete departments."),
            part("1.2.2", "Card type", "ID (125 kHz) or IC (13.56 MHz) cards; card numbers shown in hex or decimal."),
            part("1.2.3", "Persons", "Add persons one by one: ID, name, department, type, validity period, photo, 6–8 digit password, up to 5 cards (main, duress, frozen), up to 3 fingerprints, face data, extended info, room."),
            part("1.2.4", "Batch add", "Add persons in batches with cards read in order from the card issuer."),
            part("1.2.5", "Other operations", "Issue cards in batches, extract persons from a device, import from a template and export (CSV, XLSX), search by ID, name or card, edit department and validity in batches."),
            Part {
                number: "1.3",
                title: "Person collection",
                what: "Devices push their users; conflicts on person ID or card are shown side by side to sync one, the selected or all conflict-free.",
                href: Some("/persons/collection"),
            },
        ],
    },
    Section {
        slug: "permissions",
        number: "2",
        title: "Permission configuration",
        summary: "Who may open which door, and when.",
        parts: &[
            part("2.1", "Permission areas", "Up to 40 areas grouping door channels."),
            part("2.2", "Assigning permissions", "Weekly time plans with holidays; rules joining departments and persons to areas with a time plan and unlock methods."),
            part("2.3", "Authorization progress", "Per device, what was sent, what failed and why, with resend."),
        ],
    },
    Section {
        slug: "intercom-config",
        number: "3",
        title: "Intercom configuration",
        summary: "Buildings, units and rooms, device numbers, call groups and notices.",
        parts: &[
            Part {
                number: "3.1",
                title: "Building management",
                what: "One compound of buildings, units and rooms (01#01#302), created in batches; the device registry.",
                href: Some("/intercom"),
            },
            part("3.2", "Dial management", "Registration numbers of indoor monitors, door stations and master stations; export and import of the device list."),
            part("3.3", "Unlocking through password", "Room unlock passwords sent to the unit's door station and the room's monitor, with their sending status."),
            part("3.4", "Call group", "Manager clients and master stations rung in priority order per building."),
            part("3.5", "Information release", "Timed text notices to door stations and indoor monitors."),
        ],
    },
    Section {
        slug: "intercom",
        number: "4",
        title: "Intercom management",
        summary: "Calls, door opening and live records.",
        parts: &[
            Part {
                number: "4",
                title: "Devices online",
                what: "Devices with a registration number: contact, transport, user agent, expiry and online state.",
                href: Some("/sip/devices"),
            },
            Part {
                number: "4",
                title: "Live calls",
                what: "Calls going through Gatehouse now: who calls, who rings, who answered.",
                href: Some("/sip/calls"),
            },
            Part {
                number: "4",
                title: "Missed calls",
                what: "A manager client's calls that rang it and that nobody answered.",
                href: Some("/records/calls?missed=1"),
            },
            part("4", "Calls", "Dial by full number from the platform, incoming-call notice and call back."),
            part("4", "Remote unlock", "Open door 1 or 2, keep all doors open, restore."),
            part("4", "Snapshots and recordings", "Automatic snapshot and recording of calls (one recording per call)."),
            part("4", "Live records", "The latest 100 call, access and alarm records as they happen."),
        ],
    },
    Section {
        slug: "records",
        number: "5",
        title: "Intercom records",
        summary: "Searching and exporting what happened.",
        parts: &[
            Part {
                number: "5",
                title: "Call records",
                what: "By device, time and status, newest first.",
                href: Some("/records/calls"),
            },
            part("5", "Access-control records", "By device and time."),
            part("5", "Alarm events", "By device and time."),
            part("5", "Export", "All found records to a file."),
        ],
    },
];

async fn home(_: SetUp, State(app): State<Arc<App>>, caller: PageCaller) -> Response {
    let admin = caller.session.role == Role::Admin;
    let frame = Frame::load(&app, Some(&caller)).await;
    frame.page(
        StatusCode::OK,
        "Start",
        html! {
            p #welcome { "Welcome, " strong { (caller.session.username) } ". Choose what to work on." }
            h2 { "Building" }
            ul.tiles {
                @for s in SECTIONS {
                    li { a #{ "nav-" (s.slug) } href=(s.href()) {
                        span.num { (s.number) }
                        strong { (s.title) }
                        small { (s.summary) }
                    } }
                }
            }
            h2 { "System" }
            ul.tiles.small {
                li { a #nav-company href="/company" { strong { "Company" } small { "Name and logo" } } }
                @if admin {
                    li { a #nav-accounts href="/accounts" { strong { "Accounts" } small { "Administrators and operators" } } }
                    li { a #nav-sessions href="/sessions" { strong { "Online users" } small { "Who is signed in" } } }
                    li { a #nav-audit href="/audit" { strong { "Audit log" } small { "Sign-ins and changes" } } }
                    li { a #nav-certificate href="/certificate" { strong { "Certificate" } small { "HTTPS certificate" } } }
                }
                li { a #nav-system href="/system" { strong { "System" } small { "Version and backup" } } }
                li { a #nav-me href="/me" { strong { "My account" } small { "Password and security questions" } } }
            }
        },
    )
}

async fn section(
    _: SetUp,
    State(app): State<Arc<App>>,
    caller: PageCaller,
    Path(slug): Path<String>,
) -> Response {
    let frame = Frame::load(&app, Some(&caller)).await;
    let Some(s) = SECTIONS.iter().find(|s| s.slug == slug) else {
        return frame.error(&Error::NotFound(format!("there is no section \"{slug}\"")));
    };
    if s.href() != format!("/section/{slug}") {
        return Redirect::to(&s.href()).into_response();
    }
    frame.page(
        StatusCode::OK,
        &format!("{} {}", s.number, s.title),
        html! {
            p { (s.summary) }
            p #not-available .warn {
                @if s.parts.iter().any(|p| p.href.is_some()) {
                    "Mostly not available yet: only the parts with an \"Open\" link work today. "
                } @else {
                    "Not available yet: this part of Gatehouse is still being built. "
                }
                "The list below is what it will hold, following the user's manual."
            }
            table.parts {
                thead { tr { th { "Manual" } th { "Part" } th { "What it will do" } th { "State" } } }
                tbody {
                    @for p in s.parts {
                        tr {
                            td { (p.number) }
                            td { (p.title) }
                            td { (p.what) }
                            td {
                                @if let Some(h) = p.href {
                                    a href=(h) { "Open" }
                                } @else {
                                    span.badge { "not available yet" }
                                }
                            }
                        }
                    }
                }
            }
            p { a href="/" { "Back to the start page" } }
        },
    )
}
