//! The record-routing stateful proxy (RFC 3261 §16) with its transactions (§17): INVITE and
//! non-INVITE server and client transactions with their timers, parallel and in-turn forking by
//! the directory's routes, CANCEL of the losing branches, ACK for non-2xx, in-dialog requests by
//! Route, and the call records it emits when a call attempt ends. Works on the core's parts;
//! no I/O.
//!
//! STUB: every request that is not REGISTER or OPTIONS is answered 501 until the proxy lands.

use std::net::SocketAddr;

use super::core::{Action, Core, CoreConfig, LiveCall, Millis, Peer};
use super::message::{self, Request, Response};

pub struct Proxy {}

impl Proxy {
    pub fn new(_cfg: &CoreConfig) -> Proxy {
        Proxy {}
    }

    pub fn on_request(
        core: &mut Core,
        _now: Millis,
        peer: Peer,
        _local: SocketAddr,
        req: Request,
        out: &mut Vec<Action>,
    ) {
        if *req.method() == rsip::Method::Ack {
            return;
        }
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

    pub fn on_response(
        _core: &mut Core,
        _now: Millis,
        _peer: Peer,
        _resp: Response,
        _out: &mut Vec<Action>,
    ) {
    }

    pub fn on_tick(_core: &mut Core, _now: Millis, _out: &mut Vec<Action>) {}

    pub fn next_deadline(&self) -> Option<Millis> {
        None
    }

    pub fn live_calls(&self) -> Vec<LiveCall> {
        Vec::new()
    }
}
