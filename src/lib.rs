//! Gatehouse: the building's video-intercom and access-control controller.
//!
//! Where things live: `config` (flags, env, TOML), `store` (the redb file, every table),
//! `accounts` (setup, login, roles, sessions, lock-out, allow-lists), `audit` (the audit log),
//! `company` (company name and logo), `tls` (the box certificate), `web` (the HTTPS page and JSON
//! API: thin handlers over the feature modules), `app` (the running whole). Later features get
//! their own module named after the manual's chapter: persons, permissions, intercom (building
//! organization, dial numbers, call groups, notices), sip, serial readers, devices, records.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod cli;
pub mod company;
pub mod config;
pub mod error;
pub mod images;
pub mod intercom;
pub mod persons;
pub mod records;
pub mod secrets;
pub mod serial;
pub mod sip;
pub mod store;
pub mod system;
pub mod time;
pub mod tls;
pub mod version;
pub mod web;
