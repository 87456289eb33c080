//! The registrar (RFC 3261 §10): REGISTER authenticated by digest against the device's SIP
//! password, several contacts per number, Expires bounds (423 with Min-Expires), unregister with
//! `Expires: 0` and `*`, binding expiry, OPTIONS keep-alive that marks a silent device offline,
//! and the notices sent as SIP MESSAGE to a device's contacts. Works on the core's parts; no I/O.
//!
//! STUB: REGISTER is answered 501 until the registrar lands.

use std::net::SocketAddr;

use super::core::{Action, Core, CoreConfig, Millis, Peer};
use super::location::Location;
use super::message::{self, Request};

pub struct Registrar {}

impl Registrar {
    pub fn new(_cfg: &CoreConfig) -> Registrar {
        Registrar {}
    }

    pub fn on_register(
        core: &mut Core,
        _now: Millis,
        peer: Peer,
        _local: SocketAddr,
        req: &Request,
        out: &mut Vec<Action>,
    ) {
        out.push(Action::Send {
            peer,
            bytes: message::build_response(
                &req.raw,
                Some(peer),
                501,
                Vec::new(),
                Vec::new(),
                &core.cfg.server,
            )
            .into_bytes(),
        });
    }

    pub fn on_tick(_core: &mut Core, _now: Millis, _out: &mut Vec<Action>) {}

    pub fn next_deadline(&self, _location: &Location) -> Option<Millis> {
        None
    }

    pub fn send_notice(
        _core: &mut Core,
        _now: Millis,
        _notice: u64,
        _device: u64,
        _text: &str,
        _out: &mut Vec<Action>,
    ) -> bool {
        false
    }
}
