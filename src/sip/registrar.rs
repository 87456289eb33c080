//! The registrar (RFC 3261 §10) and what the box itself sends to registered devices. REGISTER is
//! authenticated by digest against the device's SIP password (401 challenge; 403 for wrong
//! credentials, the same for unknown names, counted against the source by the guard); the
//! address-of-record (To) must be the authenticated device's number or alias. Several contacts
//! per device ([`MAX_CONTACTS`], the oldest dropped), Expires bounds (423 with Min-Expires below
//! `--sip-min-expires`, longer requests cut to `--sip-max-expires`), unregister with `Expires: 0`
//! per contact or `*`, out-of-order refreshes ignored by Call-ID/CSeq, expiry sweeps. A device
//! that stays silent for `--sip-keep-alive-interval` is probed with OPTIONS; no answer in time
//! removes the binding (it shows offline). Notices go out as SIP MESSAGE (RFC 3428,
//! `text/plain;charset=UTF-8`) to every live contact; the first 2xx delivers. Works on the core's
//! parts (auth, guard, location); no I/O.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::SocketAddr;

use rsip::headers::UntypedHeader;
use rsip::Header;

use super::auth::{unescape, Verdict};
use super::core::{Action, Core, CoreConfig, Millis, Peer};
use super::location::{Binding, BindingChange, Location};
use super::message::{self, param, Request, Response};

/// Most contacts one device may hold.
pub const MAX_CONTACTS: usize = 5;
/// Expiry when the REGISTER names none (RFC 3261 §10.2.1.1).
pub const DEFAULT_EXPIRES: u32 = 3600;
/// Branch prefix of the requests the registrar sends (OPTIONS, MESSAGE): their responses come
/// back here, not to the proxy.
pub const BRANCH_PREFIX: &str = "z9hG4bK-ghr-";
/// Most requests of our own waiting for an answer.
pub const MAX_PENDING: usize = 4096;
/// Most REGISTER answers kept to answer retransmissions.
pub const MAX_ANSWERED: usize = 16_384;
/// RFC 3261 timer T1 and T2, and how long we wait for an answer (timer F).
const T1: u64 = 500;
const T2: u64 = 4000;
const TIMER_F: u64 = 64 * T1;

#[derive(Debug, Clone)]
enum Purpose {
    KeepAlive { device: u64, contact: String },
    Notice { notice: u64, device: u64 },
}

#[derive(Debug, Clone)]
struct Pending {
    peer: Peer,
    bytes: Vec<u8>,
    retransmit_at: Option<Millis>,
    interval: u64,
    deadline: Millis,
    purpose: Purpose,
}

#[derive(Debug, Default)]
struct NoticeJob {
    outstanding: u32,
    delivered: bool,
    last_error: String,
}

pub struct Registrar {
    /// Answers sent to REGISTERs over UDP, by (branch, sent-by), kept for timer J.
    /// (keyed by a SipHash of branch, sent-by, Call-ID and To user under random keys, so no
    /// one can forge a match).
    answered: HashMap<u64, Millis>,
    keys: std::collections::hash_map::RandomState,
    keepalive_ms: u64,
    next_sweep: Millis,
    pending: HashMap<String, Pending>,
    /// Contacts with a keep-alive probe out, so one probe at a time.
    probing: HashMap<(u64, String), String>,
    notices: HashMap<(u64, u64), NoticeJob>,
    seq: u64,
}

impl Registrar {
    pub fn new(cfg: &CoreConfig) -> Registrar {
        Registrar {
            answered: HashMap::new(),
            keys: std::collections::hash_map::RandomState::new(),
            keepalive_ms: cfg.keepalive_interval_ms.max(1000),
            next_sweep: 0,
            pending: HashMap::new(),
            probing: HashMap::new(),
            notices: HashMap::new(),
            seq: 0,
        }
    }

    /// Handles a REGISTER. A retransmission (same branch and sent-by over UDP, RFC 3261
    /// §17.2.3) of one that succeeded gets a 200 again, built from the current bindings,
    /// instead of being judged again: its credentials' nonce-count was used, so judging it again
    /// would refuse a device that did nothing wrong. Only a 64-bit digest of the key and a time
    /// are kept per success (a few bytes, not the answer). Retransmissions of refused requests
    /// are simply judged again and get the same refusal.
    pub fn on_register(
        core: &mut Core,
        now: Millis,
        peer: Peer,
        local: SocketAddr,
        req: &Request,
        out: &mut Vec<Action>,
    ) {
        let key = (!peer.transport.reliable())
            .then_some(req.branch.as_ref())
            .flatten()
            .map(|b| {
                core.registrar
                    .keys
                    .hash_one((b, &req.sent_by, &req.call_id, to_user(req)))
            });
        if let Some(k) = key {
            if core.registrar.answered.contains_key(&k) {
                let aor = to_user(req);
                if let Some(device) = core.dir.user_by_name(&aor).map(|u| u.device) {
                    let bytes = ok_answer(core, now, peer, req, device);
                    out.push(Action::Send { peer, bytes });
                    return;
                }
            }
        }
        let start = out.len();
        Self::register(core, now, peer, local, req, out);
        let Some(k) = key else {
            return;
        };
        let ok = out[start..].iter().any(|a| {
            matches!(a, Action::Send { peer: p, bytes } if *p == peer && bytes.starts_with(b"SIP/2.0 200 "))
        });
        if ok {
            let r = &mut core.registrar;
            if r.answered.len() >= MAX_ANSWERED {
                r.answered.retain(|_, t| now.saturating_sub(*t) < 4 * T1);
                if r.answered.len() >= MAX_ANSWERED {
                    r.answered.clear();
                }
            }
            r.answered.insert(k, now);
        }
    }

    fn register(
        core: &mut Core,
        now: Millis,
        peer: Peer,
        local: SocketAddr,
        req: &Request,
        out: &mut Vec<Action>,
    ) {
        let server = core.cfg.server.clone();
        let reply = |code: u16, extra: Vec<Header>| Action::Send {
            peer,
            bytes: message::build_response(&req.raw, Some(peer), code, extra, Vec::new(), &server)
                .into_bytes(),
        };
        let user = match core.auth.check(now, req, &core.dir, false) {
            Verdict::Ok(u) => u,
            Verdict::Challenge { stale } => {
                out.push(reply(401, core.auth.challenge_headers(now, false, stale)));
                return;
            }
            Verdict::Forbidden => {
                core.guard.failed(now, peer.addr.ip());
                out.push(reply(403, Vec::new()));
                return;
            }
        };
        core.guard.succeeded(peer.addr.ip());
        // The address of record must be the device that authenticated.
        let aor = req
            .raw
            .headers
            .iter()
            .find_map(|h| match h {
                Header::To(t) => Some(uri_user(t.value())),
                _ => None,
            })
            .unwrap_or_default();
        if core.dir.user_by_name(&aor).map(|u| u.device) != Some(user.device) {
            out.push(reply(403, Vec::new()));
            return;
        }
        let mut expires_header = None;
        let mut contacts: Vec<String> = Vec::new();
        let mut user_agent = String::new();
        for h in req.raw.headers.iter() {
            match h {
                Header::Expires(e) => expires_header = e.value().trim().parse::<u32>().ok(),
                Header::Contact(c) => contacts.extend(split_contacts(c.value())),
                Header::UserAgent(u) => user_agent = u.value().chars().take(120).collect(),
                _ => {}
            }
        }
        let device = user.device;
        let was_online = core.location.is_online(device, now);
        if contacts.iter().any(|c| c.trim() == "*") {
            if contacts.len() != 1 || expires_header != Some(0) {
                out.push(reply(400, Vec::new()));
                return;
            }
            let gone: Vec<Binding> = core
                .location
                .device_bindings_mut(device)
                .drain(..)
                .collect();
            for b in gone {
                out.push(Action::Binding(BindingChange::Remove {
                    device,
                    contact: b.contact,
                }));
            }
        } else {
            // Check every contact before changing anything.
            let mut wanted = Vec::new();
            for c in &contacts {
                let uri = contact_uri(c);
                if uri.is_empty() || uri.len() > 512 {
                    out.push(reply(400, Vec::new()));
                    return;
                }
                let exp = param(c, "expires")
                    .and_then(|v| v.parse::<u32>().ok())
                    .or(expires_header)
                    .unwrap_or(DEFAULT_EXPIRES);
                if exp != 0 && exp < core.cfg.min_expires {
                    out.push(reply(
                        423,
                        vec![Header::MinExpires(core.cfg.min_expires.to_string().into())],
                    ));
                    return;
                }
                wanted.push((uri, exp.min(core.cfg.max_expires)));
            }
            let ours = our_address(local, req, peer);
            let list = core.location.device_bindings_mut(device);
            list.retain(|b| b.expires_at > now);
            for (uri, exp) in wanted {
                let existing = list.iter().position(|b| b.contact == uri);
                if let Some(i) = existing {
                    let b = &list[i];
                    if b.call_id == req.call_id && b.cseq >= req.cseq {
                        continue; // an older or repeated request (RFC 3261 §10.3 step 7)
                    }
                }
                if exp == 0 {
                    if let Some(i) = existing {
                        let b = list.remove(i);
                        out.push(Action::Binding(BindingChange::Remove {
                            device,
                            contact: b.contact,
                        }));
                    }
                    continue;
                }
                let since = existing.map(|i| list[i].since).unwrap_or(now);
                let target = contact_target(&uri, peer);
                let b = Binding {
                    device,
                    contact: uri,
                    peer: target,
                    expires_at: now + u64::from(exp) * 1000,
                    user_agent: user_agent.clone(),
                    call_id: req.call_id.clone(),
                    cseq: req.cseq,
                    since,
                    last_seen: now,
                    ours: ours.clone(),
                };
                match existing {
                    Some(i) => list[i] = b.clone(),
                    None => list.push(b.clone()),
                }
                out.push(Action::Binding(BindingChange::Upsert(b)));
            }
            while list.len() > MAX_CONTACTS {
                let oldest = (0..list.len()).min_by_key(|&i| list[i].since).unwrap_or(0);
                let b = list.remove(oldest);
                out.push(Action::Binding(BindingChange::Remove {
                    device,
                    contact: b.contact,
                }));
            }
        }
        let bytes = ok_answer(core, now, peer, req, device);
        out.push(Action::Send { peer, bytes });
        let online = core.location.is_online(device, now);
        if online && !was_online {
            out.push(Action::DeviceOnline { device });
        } else if !online && was_online {
            out.push(Action::DeviceOffline { device });
        }
        if !online {
            core.location.devices_mut().remove(&device);
        }
    }

    /// Whether a response answers a request the registrar sent.
    pub fn owns(resp: &Response) -> bool {
        resp.branch
            .as_deref()
            .is_some_and(|b| b.starts_with(BRANCH_PREFIX))
    }

    /// A response to one of our OPTIONS or MESSAGE requests.
    pub fn on_response(core: &mut Core, now: Millis, resp: Response, out: &mut Vec<Action>) {
        let Some(branch) = resp.branch.as_deref() else {
            return;
        };
        if resp.code < 200 {
            // Provisional: stop retransmitting, keep waiting (RFC 3261 §17.1.2.2).
            if let Some(p) = core.registrar.pending.get_mut(branch) {
                p.retransmit_at = None;
            }
            return;
        }
        let Some(p) = core.registrar.pending.remove(branch) else {
            return; // a retransmitted final answer
        };
        match p.purpose {
            Purpose::KeepAlive { device, contact } => {
                // Any answer means the device is there.
                core.registrar.probing.remove(&(device, contact.clone()));
                for b in core.location.device_bindings_mut(device) {
                    if b.contact == contact {
                        b.last_seen = now;
                    }
                }
            }
            Purpose::Notice { notice, device } => {
                let outcome = if (200..300).contains(&resp.code) {
                    Ok(())
                } else {
                    Err(format!("the device answered {}", resp.code))
                };
                core.registrar.notice_answer(notice, device, outcome, out);
            }
        }
    }

    fn notice_answer(
        &mut self,
        notice: u64,
        device: u64,
        outcome: Result<(), String>,
        out: &mut Vec<Action>,
    ) {
        let key = (notice, device);
        let Some(job) = self.notices.get_mut(&key) else {
            return;
        };
        job.outstanding = job.outstanding.saturating_sub(1);
        match outcome {
            Ok(()) if !job.delivered => {
                job.delivered = true;
                out.push(Action::NoticeOutcome {
                    notice,
                    device,
                    outcome: Ok(()),
                });
            }
            Ok(()) => {}
            Err(e) => job.last_error = e,
        }
        if job.outstanding == 0 {
            if let Some(job) = self.notices.remove(&key) {
                if !job.delivered {
                    out.push(Action::NoticeOutcome {
                        notice,
                        device,
                        outcome: Err(job.last_error),
                    });
                }
            }
        }
    }

    /// Expiry, keep-alive probes, retransmissions and timeouts of our own requests.
    pub fn on_tick(core: &mut Core, now: Millis, out: &mut Vec<Action>) {
        // Our requests: retransmit (UDP) and time out.
        let mut timed_out = Vec::new();
        for (branch, p) in core.registrar.pending.iter_mut() {
            if p.deadline <= now {
                timed_out.push(branch.clone());
            } else if let Some(at) = p.retransmit_at.filter(|at| *at <= now) {
                out.push(Action::Send {
                    peer: p.peer,
                    bytes: p.bytes.clone(),
                });
                p.interval = (p.interval * 2).min(T2);
                p.retransmit_at = Some(at + p.interval);
            }
        }
        for branch in timed_out {
            let Some(p) = core.registrar.pending.remove(&branch) else {
                continue;
            };
            match p.purpose {
                Purpose::KeepAlive { device, contact } => {
                    core.registrar.probing.remove(&(device, contact.clone()));
                    let list = core.location.device_bindings_mut(device);
                    let before = !list.is_empty();
                    list.retain(|b| b.contact != contact);
                    let now_empty = list.is_empty();
                    out.push(Action::Binding(BindingChange::Remove { device, contact }));
                    if before && now_empty {
                        core.location.devices_mut().remove(&device);
                        out.push(Action::DeviceOffline { device });
                    }
                }
                Purpose::Notice { notice, device } => core.registrar.notice_answer(
                    notice,
                    device,
                    Err("the device did not answer".into()),
                    out,
                ),
            }
        }
        if now < core.registrar.next_sweep {
            return;
        }
        core.registrar.next_sweep = now + 1000;
        core.registrar
            .answered
            .retain(|_, t| now.saturating_sub(*t) < TIMER_F);
        // Expired bindings go; silent ones are probed.
        let keepalive = core.registrar.keepalive_ms;
        let mut probes = Vec::new();
        let mut offline = Vec::new();
        for (device, list) in core.location.devices_mut().iter_mut() {
            let had = !list.is_empty();
            list.retain(|b| {
                if b.expires_at <= now {
                    out.push(Action::Binding(BindingChange::Remove {
                        device: b.device,
                        contact: b.contact.clone(),
                    }));
                    false
                } else {
                    true
                }
            });
            if had && list.is_empty() {
                offline.push(*device);
            }
            for b in list.iter() {
                if now.saturating_sub(b.last_seen) >= keepalive {
                    probes.push(b.clone());
                }
            }
        }
        for device in offline {
            core.location.devices_mut().remove(&device);
            out.push(Action::DeviceOffline { device });
        }
        for b in probes {
            let key = (b.device, b.contact.clone());
            if core.registrar.probing.contains_key(&key)
                || core.registrar.pending.len() >= MAX_PENDING
            {
                continue;
            }
            let purpose = Purpose::KeepAlive {
                device: b.device,
                contact: b.contact.clone(),
            };
            let branch = Self::send_request(core, now, &b, "OPTIONS", None, out, purpose);
            core.registrar.probing.insert(key, branch);
        }
    }

    /// Builds, sends and remembers one request of ours to binding `b`.
    fn send_request(
        core: &mut Core,
        now: Millis,
        b: &Binding,
        method: &str,
        body: Option<&str>,
        out: &mut Vec<Action>,
        purpose: Purpose,
    ) -> String {
        let r = &mut core.registrar;
        r.seq += 1;
        let branch = format!("{BRANCH_PREFIX}{:x}-{:x}", now, r.seq);
        let call_id = format!("{:x}-{:x}@gatehouse", now, r.seq);
        let number = core
            .dir
            .user(b.device)
            .map(|u| u.number.replace('#', "%23"))
            .unwrap_or_default();
        let (ctype, body) = match body {
            Some(t) => ("Content-Type: text/plain;charset=UTF-8\r\n", t),
            None => ("", ""),
        };
        let text = format!(
            "{method} {contact} SIP/2.0\r\n\
Via: SIP/2.0/{transport} {ours};branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: \"Gatehouse\" <sip:gatehouse@{ours}>;tag={tag:x}\r\n\
To: <sip:{number}@{ours}>\r\n\
Call-ID: {call_id}\r\n\
CSeq: 1 {method}\r\n\
User-Agent: {server}\r\n\
{ctype}Content-Length: {len}\r\n\r\n{body}",
            contact = b.contact,
            transport = b.peer.transport.via_name(),
            ours = b.ours,
            tag = r.seq,
            server = core.cfg.server,
            len = body.len(),
        );
        let bytes = text.into_bytes();
        out.push(Action::Send {
            peer: b.peer,
            bytes: bytes.clone(),
        });
        let reliable = b.peer.transport.reliable();
        r.pending.insert(
            branch.clone(),
            Pending {
                peer: b.peer,
                bytes,
                retransmit_at: (!reliable).then_some(now + T1),
                interval: T1,
                deadline: now + TIMER_F.min(core.cfg.keepalive_interval_ms.max(T1 * 8)),
                purpose,
            },
        );
        branch
    }

    /// When `on_tick` has work: the next sweep (while anything is bound) or a pending request.
    pub fn next_deadline(&self, location: &Location) -> Option<Millis> {
        let sweep = (!location.is_empty()).then_some(self.next_sweep);
        let pending = self
            .pending
            .values()
            .map(|p| p.retransmit_at.unwrap_or(p.deadline).min(p.deadline))
            .min();
        [sweep, pending].into_iter().flatten().min()
    }

    /// Sends a notice to every live contact of `device`; false when it has none.
    pub fn send_notice(
        core: &mut Core,
        now: Millis,
        notice: u64,
        device: u64,
        text: &str,
        out: &mut Vec<Action>,
    ) -> bool {
        let contacts: Vec<Binding> = core.location.contacts(device, now).cloned().collect();
        if contacts.is_empty() || core.registrar.pending.len() + contacts.len() > MAX_PENDING {
            return false;
        }
        let job = core.registrar.notices.entry((notice, device)).or_default();
        job.outstanding += contacts.len() as u32;
        for b in &contacts {
            let purpose = Purpose::Notice { notice, device };
            Self::send_request(core, now, b, "MESSAGE", Some(text), out, purpose);
        }
        true
    }
}

/// The 200 to a REGISTER of `device`: every live contact with its remaining time.
fn ok_answer(core: &Core, now: Millis, peer: Peer, req: &Request, device: u64) -> Vec<u8> {
    let extra: Vec<Header> = core
        .location
        .contacts(device, now)
        .map(|b| {
            Header::Contact(
                format!(
                    "<{}>;expires={}",
                    b.contact,
                    b.expires_at.saturating_sub(now).div_ceil(1000)
                )
                .into(),
            )
        })
        .collect();
    message::build_response(
        &req.raw,
        Some(peer),
        200,
        extra,
        Vec::new(),
        &core.cfg.server,
    )
    .into_bytes()
}

/// The user of a request's To URI.
fn to_user(req: &Request) -> String {
    req.raw
        .headers
        .iter()
        .find_map(|h| match h {
            Header::To(t) => Some(uri_user(t.value())),
            _ => None,
        })
        .unwrap_or_default()
}

/// The user part of the URI in a From/To/Contact value, unescaped.
pub fn uri_user(value: &str) -> String {
    let uri = contact_uri(value);
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .unwrap_or(&uri);
    match rest.split_once('@') {
        Some((user, _)) => unescape(user.split(';').next().unwrap_or(user)),
        None => String::new(),
    }
}

/// The URI of a name-addr or addr-spec (`"Name" <sip:u@h>;p=1` or `sip:u@h;p=1`).
pub fn contact_uri(value: &str) -> String {
    let v = value.trim();
    if let (Some(a), Some(b)) = (v.find('<'), v.rfind('>')) {
        if a < b {
            return v[a + 1..b].trim().to_owned();
        }
    }
    v.split(';').next().unwrap_or("").trim().to_owned()
}

/// Splits a Contact value holding several contacts at the commas outside quotes and `<>`.
pub fn split_contacts(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut cur) = (false, false, String::new());
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .take(MAX_CONTACTS * 2)
        .collect()
}

/// Where requests for a contact go. Over UDP, the contact's own address when it is an IP
/// literal (a LAN device says where it listens, which may differ from the port it sent from);
/// otherwise, and always over TCP and TLS, back to where the REGISTER came from (the open
/// connection; RFC 5626 style), which is also the NAT-safe choice.
pub fn contact_target(uri: &str, source: Peer) -> Peer {
    if source.transport != super::core::Transport::Udp {
        return source;
    }
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .unwrap_or(uri);
    let hostport = rest.rsplit('@').next().unwrap_or(rest);
    let hostport = hostport.split([';', '?']).next().unwrap_or(hostport);
    let parsed = hostport.parse::<SocketAddr>().ok().or_else(|| {
        hostport
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 5060))
    });
    match parsed {
        Some(addr) if !addr.ip().is_unspecified() && addr.port() != 0 => Peer {
            transport: source.transport,
            addr,
        },
        _ => source,
    }
}

/// How the device reaches us, for the Via and From of what we send it: our socket's address
/// when it is a specific one, else the host and port the device put in its REGISTER's
/// Request-URI (what it was configured with).
fn our_address(local: SocketAddr, req: &Request, peer: Peer) -> String {
    if !local.ip().is_unspecified() {
        return local.to_string();
    }
    let uri = req.raw.uri.to_string();
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .unwrap_or(&uri);
    let host = rest.rsplit('@').next().unwrap_or(rest);
    let host = host.split(';').next().unwrap_or(host).trim();
    if host.is_empty() {
        return format!("{}:{}", peer.addr.ip(), local.port());
    }
    if host.contains(':') && !host.ends_with(']') {
        host.to_owned()
    } else {
        format!("{host}:{}", local.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::intercom::registrations::digits_alias;
    use crate::intercom::ringing::DeviceKind;
    use crate::sip::core::{Core, Transport};
    use crate::sip::directory::{Directory, User};
    use md5::{Digest, Md5};

    const T0: Millis = 1_800_000_000_000;

    fn core() -> Core {
        let a: SocketAddr = "192.168.1.2:5060".parse().unwrap();
        let cfg = CoreConfig {
            realm: "gatehouse".into(),
            udp_addr: a,
            tcp_addr: a,
            tls_addr: a,
            keepalive_interval_ms: 30_000,
            ban_threshold: 5,
            ban_duration_ms: 60_000,
            rate_limit: 1000,
            min_expires: 60,
            max_expires: 3600,
            server: "G".into(),
            secret: [9; 32],
            digest_algorithms: vec!["MD5", "SHA-256"],
        };
        let u = User {
            device: 7,
            name: "VTH".into(),
            number: "1#01#11".into(),
            alias: digits_alias("1#01#11"),
            kind: DeviceKind::Vth,
            building: Some(1),
            unit: None,
            room: None,
            password: "pw".into(),
        };
        let dir = Directory::build(vec![u], vec![], Default::default(), "888888".into());
        Core::new(cfg, dir, Vec::new(), T0)
    }

    fn peer() -> Peer {
        Peer {
            transport: Transport::Udp,
            addr: "192.168.1.50:5060".parse().unwrap(),
        }
    }

    fn local() -> SocketAddr {
        "192.168.1.2:5060".parse().unwrap()
    }

    fn sends(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send { bytes, .. } => Some(String::from_utf8_lossy(bytes).into_owned()),
                _ => None,
            })
            .collect()
    }

    /// REGISTER as `1#01#11` with `contacts` and `extra` headers, answering `challenge` if given.
    fn register(cseq: u32, contacts: &str, extra: &str, challenge: Option<&str>) -> String {
        let user = "1%2301%2311";
        let auth = match challenge {
            Some(ch) => {
                let nonce = ch
                    .split("nonce=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                let h = |s: String| hex::encode(Md5::digest(s.as_bytes()));
                let ha1 = h(format!("{user}:gatehouse:pw"));
                let ha2 = h("REGISTER:sip:192.168.1.2".into());
                let nc = format!("{cseq:08x}");
                let r = h(format!("{ha1}:{nonce}:{nc}:cn:auth:{ha2}"));
                format!("Authorization: Digest username=\"{user}\", realm=\"gatehouse\", nonce=\"{nonce}\", uri=\"sip:192.168.1.2\", response=\"{r}\", algorithm=MD5, cnonce=\"cn\", nc={nc}, qop=auth\r\n")
            }
            None => String::new(),
        };
        format!(
            "REGISTER sip:192.168.1.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.50:5060;branch=z9hG4bK{cseq}\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@192.168.1.2>;tag=f\r\nTo: <sip:{user}@192.168.1.2>\r\n\
Call-ID: reg-1\r\nCSeq: {cseq} REGISTER\r\n{contacts}{extra}{auth}User-Agent: VTH5221\r\nContent-Length: 0\r\n\r\n"
        )
    }

    /// Challenge, then answer: the actions of the authenticated REGISTER.
    fn registered(
        c: &mut Core,
        now: Millis,
        cseq: u32,
        contacts: &str,
        extra: &str,
    ) -> Vec<Action> {
        let a = c.on_message(
            now,
            peer(),
            local(),
            register(cseq, contacts, extra, None).as_bytes(),
        );
        let ch = sends(&a).pop().unwrap();
        assert!(ch.starts_with("SIP/2.0 401 Unauthorized\r\n"), "{ch}");
        let text = register(cseq + 1, contacts, extra, Some(&ch));
        c.on_message(now, peer(), local(), text.as_bytes())
    }

    #[test]
    fn register_binds_contacts_then_unregisters_with_star() {
        let mut c = core();
        let a = registered(
            &mut c,
            T0,
            1,
            "Contact: <sip:1%2301%2311@192.168.1.50:5060>, <sip:1%2301%2311@192.168.1.51:5070>;expires=120\r\n",
            "Expires: 7200\r\n",
        );
        let ok = sends(&a).pop().unwrap();
        assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");
        // Expires 7200 is cut to the maximum (3600); the per-contact 120 stays.
        assert!(
            ok.contains("Contact: <sip:1%2301%2311@192.168.1.50:5060>;expires=3600\r\n"),
            "{ok}"
        );
        assert!(
            ok.contains("Contact: <sip:1%2301%2311@192.168.1.51:5070>;expires=120\r\n"),
            "{ok}"
        );
        assert!(a.contains(&Action::DeviceOnline { device: 7 }));
        let b: Vec<&Binding> = c.location.contacts(7, T0).collect();
        assert_eq!(b.len(), 2);
        assert_eq!(
            b[1].peer.addr,
            "192.168.1.51:5070".parse().unwrap(),
            "requests go to the contact"
        );
        assert_eq!(b[0].ours, "192.168.1.2:5060");
        assert_eq!(b[0].user_agent, "VTH5221");
        // 120 s later the second contact has expired.
        let later = T0 + 121_000;
        let a = c.on_tick(later);
        assert!(a.contains(&Action::Binding(BindingChange::Remove {
            device: 7,
            contact: "sip:1%2301%2311@192.168.1.51:5070".into()
        })));
        // `*` needs Expires: 0 …
        let a = registered(&mut c, later, 10, "Contact: *\r\n", "Expires: 5\r\n");
        assert!(sends(&a).pop().unwrap().starts_with("SIP/2.0 400 "));
        let a = registered(&mut c, later, 20, "Contact: *\r\n", "Expires: 0\r\n");
        let ok = sends(&a).pop().unwrap();
        assert!(
            ok.starts_with("SIP/2.0 200 OK\r\n") && !ok.contains("Contact:"),
            "{ok}"
        );
        assert!(a.contains(&Action::DeviceOffline { device: 7 }));
        assert!(!c.location.is_online(7, later));
    }

    #[test]
    fn a_retransmitted_register_gets_the_same_answer_not_a_replay_refusal() {
        let mut c = core();
        let contact = "Contact: <sip:x@192.168.1.50:5060>\r\n";
        let a = c.on_message(
            T0,
            peer(),
            local(),
            register(1, contact, "", None).as_bytes(),
        );
        let ch = sends(&a).pop().unwrap();
        let signed = register(2, contact, "", Some(&ch));
        let first = sends(&c.on_message(T0, peer(), local(), signed.as_bytes()))
            .pop()
            .unwrap();
        assert!(first.starts_with("SIP/2.0 200 OK\r\n"), "{first}");
        let again = sends(&c.on_message(T0 + 500, peer(), local(), signed.as_bytes()))
            .pop()
            .unwrap();
        assert_eq!(again, first);
        // A new request (new branch) with the same nonce-count is a replay.
        let replay = signed.replace("branch=z9hG4bK2", "branch=z9hG4bK2b");
        let r = sends(&c.on_message(T0 + 600, peer(), local(), replay.as_bytes()))
            .pop()
            .unwrap();
        assert!(r.starts_with("SIP/2.0 403 "), "{r}");
    }

    #[test]
    fn too_brief_gets_423_and_the_address_of_record_must_be_the_device() {
        let mut c = core();
        let a = registered(
            &mut c,
            T0,
            1,
            "Contact: <sip:x@192.168.1.50>\r\n",
            "Expires: 30\r\n",
        );
        let r = sends(&a).pop().unwrap();
        assert!(r.starts_with("SIP/2.0 423 Interval Too Brief\r\n"), "{r}");
        assert!(r.contains("Min-Expires: 60\r\n"), "{r}");
        assert!(!c.location.is_online(7, T0));
        // Too many contacts: only the newest MAX_CONTACTS stay.
        for i in 0..(MAX_CONTACTS as u32 + 2) {
            let contact = format!("Contact: <sip:x@192.168.1.{}>\r\n", 60 + i);
            registered(&mut c, T0 + u64::from(i), 100 + 2 * i, &contact, "");
        }
        assert_eq!(c.location.contacts(7, T0 + 100).count(), MAX_CONTACTS);
    }

    #[test]
    fn keep_alive_probe_and_silence_drops_the_contact() {
        let mut c = core();
        registered(&mut c, T0, 1, "Contact: <sip:x@192.168.1.50:5060>\r\n", "");
        // 30 s of silence: an OPTIONS goes to the contact, retransmitted over UDP.
        let a = c.on_tick(T0 + 30_000);
        let probe = sends(&a).pop().expect("a probe");
        assert!(
            probe.starts_with("OPTIONS sip:x@192.168.1.50:5060 SIP/2.0\r\n"),
            "{probe}"
        );
        assert!(
            probe.contains("Via: SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bK-ghr-"),
            "{probe}"
        );
        assert!(
            probe.contains("To: <sip:1%2301%2311@192.168.1.2:5060>\r\n"),
            "{probe}"
        );
        let a = c.on_tick(T0 + 30_500);
        assert_eq!(sends(&a), vec![probe.clone()], "retransmitted after T1");
        // An answer keeps it; silence later drops it.
        let branch = probe
            .split("branch=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        let ok = format!("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.168.1.2:5060;branch={branch}\r\nFrom: <sip:g@h>;tag=1\r\nTo: <sip:x@h>;tag=2\r\nCall-ID: k\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
        c.on_message(T0 + 30_600, peer(), local(), ok.as_bytes());
        assert!(c.on_tick(T0 + 31_000).is_empty());
        let mut gone = false;
        for s in 0..60 {
            let a = c.on_tick(T0 + 61_000 + s * 1000);
            if a.contains(&Action::DeviceOffline { device: 7 }) {
                gone = true;
                break;
            }
        }
        assert!(gone, "no answer: offline");
        assert!(!c.location.is_online(7, T0 + 130_000));
    }

    #[test]
    fn a_notice_goes_as_message_and_200_delivers_it() {
        let mut c = core();
        registered(&mut c, T0, 1, "Contact: <sip:x@192.168.1.50:5060>\r\n", "");
        let mut out = Vec::new();
        assert!(c.send_notice(T0, 3, 7, "Lift out of order — Käthe", &mut out));
        assert!(
            !c.send_notice(T0, 3, 8, "x", &mut Vec::new()),
            "device 8 is offline"
        );
        let m = sends(&out).pop().unwrap();
        assert!(
            m.starts_with("MESSAGE sip:x@192.168.1.50:5060 SIP/2.0\r\n"),
            "{m}"
        );
        assert!(
            m.contains("Content-Type: text/plain;charset=UTF-8\r\n"),
            "{m}"
        );
        assert!(m.ends_with("\r\n\r\nLift out of order — Käthe"), "{m}");
        let len = "Lift out of order — Käthe".len();
        assert!(m.contains(&format!("Content-Length: {len}\r\n")), "{m}");
        let branch = m
            .split("branch=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        let ok = format!("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.168.1.2:5060;branch={branch}\r\nFrom: <sip:g@h>;tag=1\r\nTo: <sip:x@h>;tag=2\r\nCall-ID: k\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n");
        let a = c.on_message(T0 + 100, peer(), local(), ok.as_bytes());
        assert_eq!(
            a,
            vec![Action::NoticeOutcome {
                notice: 3,
                device: 7,
                outcome: Ok(())
            }]
        );
        // A device that never answers: a failure after the timeout.
        let mut out = Vec::new();
        assert!(c.send_notice(T0 + 200, 4, 7, "again", &mut out));
        let mut failed = false;
        for s in 1..40 {
            let a = c.on_tick(T0 + 200 + s * 1000);
            if a.iter().any(|x| {
                matches!(
                    x,
                    Action::NoticeOutcome {
                        notice: 4,
                        outcome: Err(_),
                        ..
                    }
                )
            }) {
                failed = true;
                break;
            }
        }
        assert!(failed);
    }

    #[test]
    fn contact_parsing() {
        assert_eq!(
            split_contacts("<sip:a@h>;expires=5, \"B, x\" <sip:b@h;transport=tcp>"),
            vec!["<sip:a@h>;expires=5", "\"B, x\" <sip:b@h;transport=tcp>"]
        );
        assert_eq!(
            contact_uri("\"B\" <sip:b@h;transport=tcp>;q=1"),
            "sip:b@h;transport=tcp"
        );
        assert_eq!(contact_uri("sip:b@h;expires=3"), "sip:b@h");
        assert_eq!(uri_user("<sip:11%2301%2311%235@box>;tag=1"), "11#01#11#5");
        assert_eq!(uri_user("sip:box"), "");
        let src = Peer {
            transport: super::super::core::Transport::Udp,
            addr: "10.0.0.9:40000".parse().unwrap(),
        };
        assert_eq!(
            contact_target("sip:1@10.0.0.9:5062;transport=udp", src)
                .addr
                .port(),
            5062
        );
        assert_eq!(
            contact_target("sip:1@10.0.0.8", src).addr,
            "10.0.0.8:5060".parse().unwrap()
        );
        assert_eq!(
            contact_target("sip:1@[::1]:7000", src).addr,
            "[::1]:7000".parse().unwrap()
        );
        assert_eq!(contact_target("sip:1@phone.local:5062", src), src);
        let tcp = Peer {
            transport: super::super::core::Transport::Tcp,
            ..src
        };
        assert_eq!(contact_target("sip:1@10.0.0.8:5062", tcp), tcp);
    }
}
