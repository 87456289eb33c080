//! The sans-IO SIP core: one value that takes received messages (bytes, transport, peer) and the
//! time, and returns [`Action`]s — messages to send, bindings to persist, call records to store,
//! notice outcomes to report. It holds no socket, no timer and no store handle: the service
//! (`super::service`) feeds it and carries the actions out, so every behaviour here is testable
//! byte for byte and fuzzable. Owns the dispatch of a request to the registrar, the proxy or a
//! local answer; the parts own their state.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::directory::Directory;
use super::guard::Guard;
use super::location::{Binding, BindingChange, Location};
use super::message::{self, Parsed};
use super::proxy::Proxy;
use super::registrar::Registrar;

/// Wall-clock time in milliseconds since the Unix epoch; every timer of the core is expressed in
/// it (bindings persist their expiry in it).
pub type Millis = u64;

/// The transports SIP runs on here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// Reliable transports need no retransmissions (RFC 3261 §17: timers A, E, G are UDP only).
    pub fn reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// As written in a Via header.
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

/// The other end of a message: its transport and address. For TCP and TLS the service sends on
/// the open connection from that address, or opens one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Peer {
    pub transport: Transport,
    pub addr: SocketAddr,
}

/// Settings the core needs (from `Config`, plus what the service learnt at start-up).
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Digest realm (the box's host name or address).
    pub realm: String,
    /// Our own sent-by for Via and Record-Route, per transport (the listening addresses, with an
    /// unspecified IP replaced by the address the request arrived on).
    pub udp_addr: SocketAddr,
    pub tcp_addr: SocketAddr,
    pub tls_addr: SocketAddr,
    pub keepalive_interval_ms: u64,
    pub ban_threshold: u32,
    pub ban_duration_ms: u64,
    pub rate_limit: u32,
    pub min_expires: u32,
    pub max_expires: u32,
    /// `Server` / `User-Agent` header value.
    pub server: String,
    /// Per-store random secret (nonces are bound to it).
    pub secret: [u8; 32],
    /// Digest algorithms offered, in order (`MD5`, `SHA-256`); answers in others are refused.
    pub digest_algorithms: Vec<&'static str>,
}

impl CoreConfig {
    /// From the effective configuration.
    pub fn from_config(c: &crate::config::Config, secret: [u8; 32], realm: String) -> CoreConfig {
        CoreConfig {
            realm,
            udp_addr: c.sip_addr,
            tcp_addr: c.sip_addr,
            tls_addr: c.sips_addr,
            keepalive_interval_ms: c.sip_keepalive_interval.as_millis() as u64,
            ban_threshold: c.sip_ban_threshold,
            ban_duration_ms: c.sip_ban_duration.as_millis() as u64,
            rate_limit: c.sip_rate_limit,
            min_expires: c.sip_min_expires,
            max_expires: c.sip_max_expires,
            server: format!("Gatehouse/{}", crate::version::VERSION),
            secret,
            digest_algorithms: c.digest_algorithms(),
        }
    }

    /// Our address for `transport` (what goes in Via and Record-Route).
    pub fn local(&self, transport: Transport) -> SocketAddr {
        match transport {
            Transport::Udp => self.udp_addr,
            Transport::Tcp => self.tcp_addr,
            Transport::Tls => self.tls_addr,
        }
    }
}

/// One call as the page shows it while it lasts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LiveCall {
    pub call_id: String,
    pub caller_number: String,
    pub caller_device: Option<u64>,
    pub dialled: String,
    /// Devices ringing now (or the one that answered).
    pub ringing: Vec<u64>,
    pub answered_by: Option<u64>,
    /// RFC 3339.
    pub started: String,
    pub answered: Option<String>,
}

/// What the service must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send `bytes` to `peer`.
    Send { peer: Peer, bytes: Vec<u8> },
    /// A binding was added, refreshed or removed: persist it (write-behind is fine).
    Binding(BindingChange),
    /// A call attempt ended: store its record.
    CallEnded(crate::records::calls::CallRecord),
    /// A notice MESSAGE to `device` got its final answer (or none in time).
    NoticeOutcome {
        notice: u64,
        device: u64,
        outcome: Result<(), String>,
    },
    /// `device` registered (it had no live binding before): deliver what waited for it.
    DeviceOnline { device: u64 },
    /// `device` lost its last binding (expiry, unregister, or no answer to keep-alive).
    DeviceOffline { device: u64 },
}

/// The protocol core.
pub struct Core {
    pub(crate) cfg: CoreConfig,
    pub(crate) dir: Arc<Directory>,
    pub(crate) auth: Auth,
    pub(crate) guard: Guard,
    pub(crate) location: Location,
    pub(crate) registrar: Registrar,
    pub(crate) proxy: Proxy,
}

impl Core {
    /// A core with the bindings that were persisted before a restart (expired ones are dropped).
    pub fn new(cfg: CoreConfig, dir: Directory, bindings: Vec<Binding>, now: Millis) -> Core {
        Core {
            auth: Auth::new(&cfg),
            guard: Guard::new(&cfg),
            location: Location::restore(bindings, now),
            registrar: Registrar::new(&cfg),
            proxy: Proxy::new(&cfg),
            dir: Arc::new(dir),
            cfg,
        }
    }

    /// Replaces the directory (after a configuration change). Bindings of devices that are gone
    /// are dropped.
    pub fn set_directory(&mut self, dir: Directory, now: Millis) -> Vec<Action> {
        self.dir = Arc::new(dir);
        let mut out = Vec::new();
        self.location.retain_known(&self.dir, now, &mut out);
        out
    }

    pub fn directory(&self) -> &Arc<Directory> {
        &self.dir
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Handles one received message (a datagram, or one framed message of a stream).
    pub fn on_message(
        &mut self,
        now: Millis,
        peer: Peer,
        local: SocketAddr,
        bytes: &[u8],
    ) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.guard.admit(now, peer.addr.ip()) {
            return out; // rate-limited or banned: dropped without an answer
        }
        let parsed = match message::parse(bytes) {
            Ok(p) => p,
            Err(message::ParseError::Ignore) => return out,
            Err(message::ParseError::Bad { answer }) => {
                if let Some(bytes) = answer {
                    out.push(Action::Send { peer, bytes });
                }
                return out;
            }
        };
        match parsed {
            Parsed::Request(req) => self.on_request(now, peer, local, req, &mut out),
            Parsed::Response(resp) if Registrar::owns(&resp) => {
                Registrar::on_response(self, now, resp, &mut out)
            }
            Parsed::Response(resp) => Proxy::on_response(self, now, peer, resp, &mut out),
        }
        out
    }

    fn on_request(
        &mut self,
        now: Millis,
        peer: Peer,
        local: SocketAddr,
        req: message::Request,
        out: &mut Vec<Action>,
    ) {
        use rsip::Method;
        match req.method() {
            Method::Register => {
                Registrar::on_register(self, now, peer, local, &req, out);
            }
            Method::Options if message::is_for_us(&req) => {
                out.push(Action::Send {
                    peer,
                    bytes: message::options_ok(&req, peer, &self.cfg.server),
                });
            }
            _ => Proxy::on_request(self, now, peer, local, req, out),
        }
    }

    /// Fires the timers due at `now` (retransmissions, transaction timeouts, ring times,
    /// binding expiry, keep-alive probes).
    pub fn on_tick(&mut self, now: Millis) -> Vec<Action> {
        let mut out = Vec::new();
        Registrar::on_tick(self, now, &mut out);
        Proxy::on_tick(self, now, &mut out);
        self.guard.on_tick(now);
        self.auth.on_tick(now);
        out
    }

    /// When `on_tick` next has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        [
            self.registrar.next_deadline(&self.location),
            self.proxy.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Sends notice `notice` to every live contact of `device` as a SIP MESSAGE (RFC 3428).
    /// Returns false (and does nothing) when the device has no live binding; the outcome comes
    /// later as [`Action::NoticeOutcome`].
    pub fn send_notice(
        &mut self,
        now: Millis,
        notice: u64,
        device: u64,
        text: &str,
        out: &mut Vec<Action>,
    ) -> bool {
        Registrar::send_notice(self, now, notice, device, text, out)
    }

    /// Calls in progress, for the page.
    pub fn live_calls(&self) -> Vec<LiveCall> {
        self.proxy.live_calls()
    }
}
