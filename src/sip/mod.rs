//! SIP for door stations, indoor monitors, master stations and managers' softphones (manual
//! chapters 3 and 4): a registrar with digest authentication and a record-routing stateful proxy
//! that routes calls by the building's numbers, keeps call records and delivers notices.
//!
//! Sans-IO first: [`core`] takes bytes and time and returns actions; [`message`] is the one parse
//! entry point; [`auth`], [`guard`], [`location`], [`registrar`] and [`proxy`] are its parts;
//! [`directory`] is what the core knows of the building (loaded from the store). I/O lives only
//! in [`service`] (the task that owns the core and the UDP socket) and [`stream`] (TCP and TLS
//! connections with RFC 3261 framing).

pub mod auth;
pub mod core;
pub mod directory;
pub mod guard;
pub mod location;
pub mod message;
pub mod proxy;
pub mod registrar;
pub mod service;
pub mod stream;
pub mod transaction;
