//! Protection of the box from the LAN: a per-source request rate limit and a ban of sources with
//! repeated failed authentications (`--sip-rate-limit`, `--sip-ban-threshold`,
//! `--sip-ban-duration`). Pure state with the time passed in; bounded in the sources it tracks.
//!
//! STUB: the registrar issue fills this in; until then everything is admitted.

use std::net::IpAddr;

use super::core::{CoreConfig, Millis};

pub struct Guard {}

impl Guard {
    pub fn new(_cfg: &CoreConfig) -> Guard {
        Guard {}
    }

    /// Whether a message from `ip` is looked at.
    pub fn admit(&mut self, _now: Millis, _ip: IpAddr) -> bool {
        true
    }

    /// A failed authentication from `ip`.
    pub fn failed(&mut self, _now: Millis, _ip: IpAddr) {}

    pub fn on_tick(&mut self, _now: Millis) {}
}
