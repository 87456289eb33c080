//! The record-routing stateful proxy (RFC 3261 §16) on top of the transactions of
//! [`super::transaction`]: authenticates out-of-dialog requests of devices (Proxy-Authorization,
//! 407), routes them by the directory (parallel forking to every live contact of a room's VTHs,
//! in-turn ringing of a call group with its ring time, 404/403/480/486/408), forwards requests
//! to a binding's source address (RFC 3581) with our Via and Record-Route, sends answers back up
//! by the Via (best answer per §16.7), CANCELs losing branches, ACKs non-2xx answers hop by hop,
//! routes in-dialog requests by their Route (loose routing), and emits a call record when a call
//! attempt ends (an answered call at its BYE). Bounded: transactions, calls and dialogs have
//! caps (503 beyond) and every map is cleaned by timers. Works on the core's parts; no I/O.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rsip::headers::UntypedHeader;
use rsip::{Header, Method};

use super::auth::Verdict;
use super::core::{Action, Core, CoreConfig, LiveCall, Millis, Peer, Transport};
use super::directory::{Route, User};
use super::message::{self, Request, Response};
use super::transaction::{
    ClientEvent, ClientState, ClientTimer, ClientTx, Kind, ServerState, ServerTx, TxKey,
};
use crate::records::calls::{CallRecord, CallStatus};

/// Most server transactions (and as many client ones per branch fan-out) held at once.
pub const MAX_SERVER_TX: usize = 8_192;
pub const MAX_CLIENT_TX: usize = 16_384;
/// Most calls being set up, and most answered calls tracked until their BYE.
pub const MAX_CALLS: usize = 2_048;
pub const MAX_DIALOGS: usize = 2_048;
/// Most branches of one request (contacts of every device rung at once).
pub const MAX_BRANCHES: usize = 16;
/// An answered call without BYE is closed after this long.
pub const MAX_DIALOG_AGE: Millis = 6 * 3_600_000;
/// A call still ringing after this long is given up (whatever the ring plan).
pub const MAX_SETUP: Millis = 30 * 60_000;

/// Which timer of which value fired (the heap holds each value's next deadline; stale
/// entries are skipped when they come up).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Server(TxKey),
    Client(TxKey),
    Call(u64),
    Dialog(String),
}

/// One place a request is sent to.
#[derive(Debug, Clone)]
struct Target {
    device: Option<u64>,
    uri: String,
    peer: Peer,
}

#[derive(Debug)]
struct Branch {
    key: TxKey,
    device: Option<u64>,
    /// Logically over (answered, refused, timed out, or cancelled by us).
    done: bool,
}

/// What the record of a call needs while it is set up.
#[derive(Debug, Clone)]
struct CallInfo {
    call_id: String,
    caller_number: String,
    caller_device: Option<u64>,
    dialled: String,
    rung: Vec<u64>,
    started: Millis,
    answered: Option<Millis>,
    answered_by: Option<u64>,
}

impl CallInfo {
    fn record(&self, ended: Millis, status: CallStatus, sip_code: u16) -> CallRecord {
        CallRecord {
            call_id: self.call_id.clone(),
            caller_number: self.caller_number.clone(),
            caller_device: self.caller_device,
            callee_number: self.dialled.clone(),
            callee_devices: self.rung.clone(),
            started: self.started,
            answered: self.answered,
            ended,
            answered_by: self.answered_by,
            status,
            sip_code,
        }
    }
}

/// The best answer so far (RFC 3261 §16.7): its code and the answer to send up (`None`: we
/// build it).
#[derive(Debug)]
struct Best {
    code: u16,
    bytes: Option<Vec<u8>>,
}

/// A request being proxied (the "response context" of RFC 3261 §16).
#[derive(Debug)]
struct Call {
    server: TxKey,
    upstream: Peer,
    /// Our address the request arrived on (stands in for an unspecified listening address).
    local: IpAddr,
    /// As received (answers we build are built from it).
    req: rsip::Request,
    method: Method,
    /// The headers to forward (Via stamped, Max-Forwards decremented, Record-Route added); our
    /// Via goes in front per branch.
    fwd: Vec<Header>,
    groups: std::collections::VecDeque<Vec<u64>>,
    ring_ms: Option<Millis>,
    ring_until: Option<Millis>,
    give_up_at: Millis,
    branches: Vec<Branch>,
    best: Option<Best>,
    final_sent: bool,
    answered: bool,
    info: Option<CallInfo>,
}

/// An answered call, until its BYE.
#[derive(Debug)]
struct Dialog {
    tags: (String, String),
    info: CallInfo,
    expires_at: Millis,
}

/// What a CANCEL or ACK we build needs from the INVITE it follows.
#[derive(Debug, Clone)]
struct Sent {
    uri: String,
    via: String,
    from: Header,
    to: Header,
    call_id: Header,
    cseq: u32,
    routes: Vec<Header>,
}

pub struct Proxy {
    server: HashMap<TxKey, ServerTx>,
    client: HashMap<TxKey, (ClientTx, Option<Sent>)>,
    calls: HashMap<u64, Call>,
    dialogs: HashMap<String, Dialog>,
    timers: BinaryHeap<Reverse<(Millis, Timer)>>,
    next_id: u64,
    branch_prefix: String,
    udp: SocketAddr,
    tcp: SocketAddr,
    tls: SocketAddr,
}

impl Proxy {
    pub fn new(cfg: &CoreConfig) -> Proxy {
        let mut seed = [0u8; 4];
        if getrandom::fill(&mut seed).is_err() {
            seed.copy_from_slice(&cfg.secret[..4]);
        }
        Proxy {
            server: HashMap::new(),
            client: HashMap::new(),
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            timers: BinaryHeap::new(),
            next_id: 1,
            branch_prefix: format!("z9hG4bK{}", hex::encode(seed)),
            udp: cfg.udp_addr,
            tcp: cfg.tcp_addr,
            tls: cfg.tls_addr,
        }
    }

    pub fn on_request(
        core: &mut Core,
        now: Millis,
        peer: Peer,
        local: SocketAddr,
        req: Request,
        out: &mut Vec<Action>,
    ) {
        // The addresses may have been learnt after start (port 0 in tests).
        core.proxy.udp = core.cfg.udp_addr;
        core.proxy.tcp = core.cfg.tcp_addr;
        core.proxy.tls = core.cfg.tls_addr;
        let method = *req.method();
        if method == Method::Ack {
            return on_ack(core, now, peer, local, req, out);
        }
        if method == Method::Cancel {
            return on_cancel(core, now, peer, req, out);
        }
        let key = server_key(&req);
        if let Some(tx) = core.proxy.server.get(&key) {
            if let Some(bytes) = tx.on_retransmission() {
                out.push(Action::Send { peer, bytes });
            }
            return;
        }
        if max_forwards(&req.raw) == Some(0) {
            return reply(core, peer, &req.raw, 483, out);
        }
        core.proxy.make_room();
        if core.proxy.server.len() >= MAX_SERVER_TX || core.proxy.calls.len() >= MAX_CALLS {
            return reply(core, peer, &req.raw, 503, out);
        }
        if req.to_tag.is_some() {
            in_dialog(core, now, peer, local, key, req, out)
        } else {
            out_of_dialog(core, now, peer, local, key, req, out)
        }
    }

    pub fn on_response(
        core: &mut Core,
        now: Millis,
        _peer: Peer,
        resp: Response,
        out: &mut Vec<Action>,
    ) {
        let Some(branch) = resp.branch.clone() else {
            return;
        };
        let key = (branch, Kind::of(&resp.cseq_method));
        let code = resp.code;
        let Some((tx, sent)) = core.proxy.client.get_mut(&key) else {
            return; // not ours (or long over): a stateful proxy drops it
        };
        let event = tx.on_response(now, code);
        let reschedule = tx.deadline();
        match event {
            ClientEvent::Absorb => return,
            ClientEvent::ResendAck => {
                if let Some(ack) = tx.ack.clone() {
                    out.push(Action::Send {
                        peer: tx.peer,
                        bytes: ack,
                    });
                }
                return;
            }
            ClientEvent::Pass => {}
        }
        let (tx_peer, call, upstream) = (tx.peer, tx.call, tx.upstream);
        let sent = sent.clone();
        if let Some(d) = reschedule {
            core.proxy.schedule(d, Timer::Client(key.clone()));
        }
        if key.1 == Kind::Cancel {
            return;
        }
        // A CANCEL waited for a provisional answer (RFC 3261 §9.1).
        if code < 200 {
            if let Some((tx, _)) = core.proxy.client.get_mut(&key) {
                if tx.cancel_wanted && !tx.cancelled {
                    tx.cancelled = true;
                    if let Some(s) = &sent {
                        send_cancel(core, now, tx_peer, &key.0, s, out);
                    }
                }
            }
        }
        if key.1 == Kind::Invite && code >= 300 {
            if let Some(s) = &sent {
                let ack = build_ack(s, &resp.raw);
                if let Some((tx, _)) = core.proxy.client.get_mut(&key) {
                    tx.ack = Some(ack.clone());
                }
                out.push(Action::Send {
                    peer: tx_peer,
                    bytes: ack,
                });
            }
        }
        let up = strip_top_via(&resp.raw);
        match call.filter(|c| core.proxy.calls.contains_key(c)) {
            Some(id) => on_branch_answer(core, now, id, &key, &resp, up, out),
            None => {
                // The call is over; a late 2xx still goes up (the caller will BYE it).
                if let (Some(peer), true) = (upstream, key.1 == Kind::Invite && code < 300) {
                    out.push(Action::Send { peer, bytes: up });
                }
            }
        }
    }

    pub fn on_tick(core: &mut Core, now: Millis, out: &mut Vec<Action>) {
        let mut budget = 100_000usize;
        while let Some(Reverse((at, _))) = core.proxy.timers.peek() {
            if *at > now || budget == 0 {
                break;
            }
            budget -= 1;
            let Some(Reverse((_, timer))) = core.proxy.timers.pop() else {
                break;
            };
            match timer {
                Timer::Server(key) => server_timer(core, now, key, out),
                Timer::Client(key) => client_timer(core, now, key, out),
                Timer::Call(id) => call_timer(core, now, id, out),
                Timer::Dialog(call_id) => {
                    if core
                        .proxy
                        .dialogs
                        .get(&call_id)
                        .is_some_and(|d| d.expires_at <= now)
                    {
                        if let Some(d) = core.proxy.dialogs.remove(&call_id) {
                            out.push(Action::CallEnded(d.info.record(
                                now,
                                CallStatus::Answered,
                                200,
                            )));
                        }
                    }
                }
            }
        }
    }

    /// At the transaction limits, forgets the transactions that are over and only wait to
    /// absorb retransmissions (RFC 3261 timers D, I, J, K keep them up to 32 s over UDP): under
    /// heavy load a late retransmission is then handled as new rather than new calls refused.
    fn make_room(&mut self) {
        if self.server.len() >= MAX_SERVER_TX {
            self.server
                .retain(|_, tx| tx.state == ServerState::Proceeding);
        }
        if self.client.len() >= MAX_CLIENT_TX {
            self.client.retain(|_, (tx, _)| {
                matches!(tx.state, ClientState::Calling | ClientState::Proceeding)
            });
        }
    }

    pub fn next_deadline(&self) -> Option<Millis> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    pub fn live_calls(&self) -> Vec<LiveCall> {
        let rfc = |ms: Millis| crate::time::rfc3339(ms / 1000);
        let mut v: Vec<LiveCall> = self
            .calls
            .values()
            .filter_map(|c| {
                let info = c.info.as_ref()?;
                if c.final_sent {
                    return None;
                }
                let mut ringing: Vec<u64> = c
                    .branches
                    .iter()
                    .filter(|b| !b.done)
                    .filter_map(|b| b.device)
                    .collect();
                ringing.dedup();
                Some(LiveCall {
                    call_id: info.call_id.clone(),
                    caller_number: info.caller_number.clone(),
                    caller_device: info.caller_device,
                    dialled: info.dialled.clone(),
                    ringing,
                    answered_by: None,
                    started: rfc(info.started),
                    answered: None,
                })
            })
            .collect();
        v.extend(self.dialogs.values().map(|d| LiveCall {
            call_id: d.info.call_id.clone(),
            caller_number: d.info.caller_number.clone(),
            caller_device: d.info.caller_device,
            dialled: d.info.dialled.clone(),
            ringing: d.info.answered_by.into_iter().collect(),
            answered_by: d.info.answered_by,
            started: rfc(d.info.started),
            answered: d.info.answered.map(rfc),
        }));
        v.sort_by(|a, b| a.started.cmp(&b.started));
        v
    }

    fn schedule(&mut self, at: Millis, t: Timer) {
        self.timers.push(Reverse((at, t)));
    }

    fn new_branch(&mut self) -> String {
        self.next_id += 1;
        format!("{}{:x}", self.branch_prefix, self.next_id)
    }

    /// Our address for `transport`, with an unspecified IP replaced by `local`'s.
    fn own(&self, transport: Transport, local: IpAddr) -> SocketAddr {
        let mut a = match transport {
            Transport::Udp => self.udp,
            Transport::Tcp => self.tcp,
            Transport::Tls => self.tls,
        };
        if a.ip().is_unspecified() {
            a.set_ip(local);
        }
        a
    }

    /// Whether host:port names this proxy.
    fn is_us(&self, ip: IpAddr, port: u16, local: IpAddr) -> bool {
        [self.udp, self.tcp, self.tls]
            .iter()
            .any(|a| a.port() == port && (a.ip() == ip || (a.ip().is_unspecified() && ip == local)))
    }
}

// ----- requests -----------------------------------------------------------------------------

fn server_key(req: &Request) -> TxKey {
    let kind = Kind::of(req.method());
    match &req.branch {
        // RFC 3261 §17.2.3: branch, sent-by and method (the kind) together.
        Some(b) if b.starts_with("z9hG4bK") => (format!("{b}|{}", req.sent_by), kind),
        // RFC 2543 peers: no magic cookie; Call-ID, CSeq number and From tag stand in.
        _ => (
            format!(
                "legacy|{}|{}|{}",
                req.call_id,
                req.cseq,
                req.from_tag.as_deref().unwrap_or("")
            ),
            kind,
        ),
    }
}

fn max_forwards(req: &rsip::Request) -> Option<u32> {
    req.headers.iter().find_map(|h| match h {
        Header::MaxForwards(m) => m.value().trim().parse().ok(),
        _ => None,
    })
}

/// A stateless answer.
fn reply(core: &Core, peer: Peer, req: &rsip::Request, code: u16, out: &mut Vec<Action>) {
    let bytes = message::build_response(
        req,
        Some(peer),
        code,
        Vec::new(),
        Vec::new(),
        &core.cfg.server,
    );
    out.push(Action::Send {
        peer,
        bytes: bytes.into_bytes(),
    });
}

/// Creates the server transaction for a request and schedules its timers.
fn open_server(core: &mut Core, now: Millis, key: &TxKey, peer: Peer) {
    let tx = ServerTx::new(peer, key.1, now);
    if let Some(d) = tx.deadline() {
        core.proxy.schedule(d, Timer::Server(key.clone()));
    }
    core.proxy.server.insert(key.clone(), tx);
}

/// Sends an answer through a server transaction.
fn respond(
    core: &mut Core,
    now: Millis,
    key: &TxKey,
    code: u16,
    bytes: Vec<u8>,
    out: &mut Vec<Action>,
) {
    let Some(tx) = core.proxy.server.get_mut(key) else {
        return;
    };
    let peer = tx.peer;
    let sent = tx.respond(now, code, bytes);
    let d = tx.deadline();
    if let Some(bytes) = sent {
        out.push(Action::Send { peer, bytes });
    }
    if code >= 200 {
        if let Some(d) = d {
            core.proxy.schedule(d, Timer::Server(key.clone()));
        }
    }
}

/// Answers `req` through its server transaction with an answer we build.
fn respond_local(
    core: &mut Core,
    now: Millis,
    key: &TxKey,
    req: &rsip::Request,
    code: u16,
    extra: Vec<Header>,
    out: &mut Vec<Action>,
) {
    let Some(peer) = core.proxy.server.get(key).map(|t| t.peer) else {
        return;
    };
    let bytes = message::build_response(req, Some(peer), code, extra, Vec::new(), &core.cfg.server);
    respond(core, now, key, code, bytes.into_bytes(), out);
}

/// The authenticated device sending an out-of-dialog request (digest with Proxy-Authorization,
/// RFC 3261 §22.3), or the answer to give instead: 407 with a challenge, or 403 (counted
/// against the source by the guard).
fn authenticate(
    core: &mut Core,
    now: Millis,
    peer: Peer,
    req: &Request,
) -> Result<Arc<User>, (u16, Vec<Header>)> {
    match core.auth.check(now, req, &core.dir, true) {
        Verdict::Ok(u) => {
            core.guard.succeeded(peer.addr.ip());
            Ok(u)
        }
        Verdict::Challenge { stale } => Err((407, core.auth.challenge_headers(now, true, stale))),
        Verdict::Forbidden => {
            core.guard.failed(now, peer.addr.ip());
            Err((403, Vec::new()))
        }
    }
}

fn out_of_dialog(
    core: &mut Core,
    now: Millis,
    peer: Peer,
    local: SocketAddr,
    key: TxKey,
    req: Request,
    out: &mut Vec<Action>,
) {
    let invite = *req.method() == Method::Invite;
    open_server(core, now, &key, peer);
    let user = match authenticate(core, now, peer, &req) {
        Ok(u) => u,
        Err((code, extra)) => return respond_local(core, now, &key, &req.raw, code, extra, out),
    };
    let dialled = user_part(&req.raw.uri.to_string()).unwrap_or_default();
    let info = invite.then(|| CallInfo {
        call_id: req.call_id.clone(),
        caller_number: user.number.clone(),
        caller_device: Some(user.device),
        dialled: dialled.clone(),
        rung: Vec::new(),
        started: now,
        answered: None,
        answered_by: None,
    });
    let fail = |core: &mut Core, out: &mut Vec<Action>, code: u16, status: CallStatus| {
        respond_local(core, now, &key, &req.raw, code, Vec::new(), out);
        if let Some(i) = &info {
            out.push(Action::CallEnded(i.record(now, status, code)));
        }
    };
    if invite && core.proxy.dialogs.len() >= MAX_DIALOGS {
        return fail(core, out, 503, CallStatus::Failed);
    }
    let (groups, ring_ms) = match core.dir.route(&user, &dialled) {
        Route::Together(d) => (vec![d], None),
        Route::InTurn {
            devices,
            ring_seconds,
        } => (
            devices.into_iter().map(|d| vec![d]).collect(),
            Some(Millis::from(ring_seconds.max(1)) * 1000),
        ),
        Route::NotFound => return fail(core, out, 404, CallStatus::Failed),
        Route::Refused(_) => return fail(core, out, 403, CallStatus::Failed),
    };
    if invite {
        respond_local(core, now, &key, &req.raw, 100, Vec::new(), out);
    }
    let record_route = matches!(
        req.method(),
        Method::Invite | Method::Subscribe | Method::Refer
    );
    let fwd = forward_headers(core, peer, local, &req.raw, record_route);
    let id = core.proxy.next_id;
    core.proxy.next_id += 1;
    core.proxy.calls.insert(
        id,
        Call {
            server: key.clone(),
            upstream: peer,
            local: local.ip(),
            method: *req.method(),
            req: req.raw,
            fwd,
            groups: groups.into(),
            ring_ms,
            ring_until: None,
            give_up_at: now + MAX_SETUP,
            branches: Vec::new(),
            best: None,
            final_sent: false,
            answered: false,
            info,
        },
    );
    if let Some(tx) = core.proxy.server.get_mut(&key) {
        tx.call = Some(id);
    }
    core.proxy.schedule(now + MAX_SETUP, Timer::Call(id));
    if !start_next_group(core, now, id, out) {
        // Nobody to ring: none of the targets is registered.
        finish(core, now, id, Some(480), out);
    }
}

/// Rings the next group of the plan that has a live contact; false when none is left.
fn start_next_group(core: &mut Core, now: Millis, id: u64, out: &mut Vec<Action>) -> bool {
    loop {
        let Some(call) = core.proxy.calls.get_mut(&id) else {
            return false;
        };
        let Some(group) = call.groups.pop_front() else {
            return false;
        };
        let mut targets = Vec::new();
        for d in group {
            for b in core.location.contacts(d, now) {
                if targets.len() < MAX_BRANCHES {
                    targets.push(Target {
                        device: Some(d),
                        uri: b.contact.clone(),
                        peer: b.peer,
                    });
                }
            }
        }
        if targets.is_empty() {
            continue;
        }
        if let Some(ms) = call.ring_ms {
            call.ring_until = Some(now + ms);
            core.proxy.schedule(now + ms, Timer::Call(id));
        }
        for t in targets {
            start_branch(core, now, id, t, out);
        }
        return true;
    }
}

/// Sends the request of call `id` to one target in a new client transaction.
fn start_branch(core: &mut Core, now: Millis, id: u64, t: Target, out: &mut Vec<Action>) {
    core.proxy.make_room();
    if core.proxy.client.len() >= MAX_CLIENT_TX {
        return;
    }
    let branch = core.proxy.new_branch();
    let Some(call) = core.proxy.calls.get(&id) else {
        return;
    };
    let me = core.proxy.own(t.peer.transport, call.local);
    let via = format!(
        "SIP/2.0/{} {};branch={};rport",
        t.peer.transport.via_name(),
        me,
        branch
    );
    let mut headers = Vec::with_capacity(call.fwd.len() + 1);
    let mut placed = false;
    for h in &call.fwd {
        if !placed && matches!(h, Header::Via(_)) {
            headers.push(Header::Via(via.clone().into()));
            placed = true;
        }
        headers.push(h.clone());
    }
    if !placed {
        headers.insert(0, Header::Via(via.clone().into()));
    }
    let bytes = serialize_request(&call.method, &t.uri, &headers, &call.req.body);
    let kind = Kind::of(&call.method);
    let sent = (kind == Kind::Invite).then(|| sent_of(&t.uri, &via, &headers));
    let mut tx = ClientTx::new(now, t.peer, kind, bytes.clone());
    tx.call = Some(id);
    tx.upstream = Some(call.upstream);
    let key = (branch, kind);
    if let Some(d) = tx.deadline() {
        core.proxy.schedule(d, Timer::Client(key.clone()));
    }
    core.proxy.client.insert(key.clone(), (tx, sent));
    let Some(call) = core.proxy.calls.get_mut(&id) else {
        return;
    };
    call.branches.push(Branch {
        key,
        device: t.device,
        done: false,
    });
    if let (Some(info), Some(d)) = (call.info.as_mut(), t.device) {
        if !info.rung.contains(&d) {
            info.rung.push(d);
        }
    }
    out.push(Action::Send {
        peer: t.peer,
        bytes,
    });
}

/// The headers to forward: the sender's Via stamped with received/rport, Max-Forwards one
/// less, our own Route entries popped, credentials for us dropped, Record-Route added.
fn forward_headers(
    core: &Core,
    peer: Peer,
    local: SocketAddr,
    req: &rsip::Request,
    record_route: bool,
) -> Vec<Header> {
    let mut out = Vec::with_capacity(req.headers.iter().count() + 2);
    let mut first_via = true;
    let mut has_mf = false;
    let mut popping = true;
    for h in req.headers.iter() {
        match h {
            Header::Via(v) if first_via => {
                first_via = false;
                out.push(Header::Via(message::stamp_via(v.value(), peer).into()));
            }
            Header::MaxForwards(m) => {
                has_mf = true;
                let n: u32 = m.value().trim().parse().unwrap_or(70);
                out.push(Header::MaxForwards(n.saturating_sub(1).to_string().into()));
            }
            Header::ProxyAuthorization(_) => {}
            Header::Route(r) if popping => {
                let kept: Vec<&str> = split_list(r.value())
                    .into_iter()
                    .skip_while(|e| popping && is_own_uri(core, e, local.ip()))
                    .collect();
                if !kept.is_empty() {
                    popping = false;
                    out.push(Header::Route(kept.join(", ").into()));
                }
            }
            other => out.push(other.clone()),
        }
    }
    if !has_mf {
        out.push(Header::MaxForwards("70".into()));
    }
    if record_route {
        let me = core.proxy.own(peer.transport, local.ip());
        let rr = Header::RecordRoute(
            format!(
                "<sip:{};transport={};lr>",
                me,
                peer.transport.via_name().to_ascii_lowercase()
            )
            .into(),
        );
        let at = out
            .iter()
            .position(|h| matches!(h, Header::RecordRoute(_)))
            .or_else(|| {
                out.iter()
                    .rposition(|h| matches!(h, Header::Via(_)))
                    .map(|i| i + 1)
            })
            .unwrap_or(0);
        out.insert(at, rr);
    }
    out
}

fn is_own_uri(core: &Core, entry: &str, local: IpAddr) -> bool {
    let Some(uri) = uri_of(entry) else {
        return false;
    };
    match hop_of(uri) {
        Some((addr, _)) => core.proxy.is_us(addr.ip(), addr.port(), local),
        None => false,
    }
}

/// A request inside a dialog: routed by its Route set (loose routing), or by its Request-URI.
fn in_dialog(
    core: &mut Core,
    now: Millis,
    peer: Peer,
    local: SocketAddr,
    key: TxKey,
    req: Request,
    out: &mut Vec<Action>,
) {
    let Some((fwd, uri, target, popped)) = next_hop(core, now, peer, local, &req.raw) else {
        return reply(core, peer, &req.raw, 404, out);
    };
    let known = core.proxy.dialogs.contains_key(&req.call_id)
        || core.proxy.calls.values().any(|c| {
            c.req
                .headers
                .iter()
                .any(|h| matches!(h, Header::CallId(v) if v.value().trim() == req.call_id))
        });
    if !popped && !known && !core.location.all().any(|b| b.peer.addr == peer.addr) {
        return reply(core, peer, &req.raw, 481, out);
    }
    if core
        .proxy
        .is_us(target.addr.ip(), target.addr.port(), local.ip())
    {
        return reply(core, peer, &req.raw, 482, out);
    }
    if *req.method() == Method::Bye {
        end_dialog(core, now, &req, out);
    }
    open_server(core, now, &key, peer);
    if *req.method() == Method::Invite {
        respond_local(core, now, &key, &req.raw, 100, Vec::new(), out);
    }
    let id = core.proxy.next_id;
    core.proxy.next_id += 1;
    core.proxy.calls.insert(
        id,
        Call {
            server: key.clone(),
            upstream: peer,
            local: local.ip(),
            method: *req.method(),
            req: req.raw,
            fwd,
            groups: Default::default(),
            ring_ms: None,
            ring_until: None,
            give_up_at: now + MAX_SETUP,
            branches: Vec::new(),
            best: None,
            final_sent: false,
            answered: false,
            info: None,
        },
    );
    if let Some(tx) = core.proxy.server.get_mut(&key) {
        tx.call = Some(id);
    }
    core.proxy.schedule(now + MAX_SETUP, Timer::Call(id));
    start_branch(
        core,
        now,
        id,
        Target {
            device: None,
            uri,
            peer: target,
        },
        out,
    );
    if core
        .proxy
        .calls
        .get(&id)
        .is_some_and(|c| c.branches.is_empty())
    {
        finish(core, now, id, Some(503), out);
    }
}

/// Where an in-dialog request goes: (headers to forward, Request-URI, peer, whether one of our
/// Route entries was popped).
fn next_hop(
    core: &Core,
    now: Millis,
    peer: Peer,
    local: SocketAddr,
    req: &rsip::Request,
) -> Option<(Vec<Header>, String, Peer, bool)> {
    let mut ruri = req.uri.to_string();
    let mut routes: Vec<String> = req
        .headers
        .iter()
        .filter_map(|h| match h {
            Header::Route(r) => Some(split_list(r.value())),
            _ => None,
        })
        .flatten()
        .map(str::to_owned)
        .collect();
    let mut popped = false;
    // A strict router before us put our URI in the Request-URI (RFC 3261 §16.4).
    if let Some((a, _)) = hop_of(&ruri) {
        if core.proxy.is_us(a.ip(), a.port(), local.ip()) && !routes.is_empty() {
            let last = routes.pop()?;
            ruri = uri_of(&last)?.to_owned();
            popped = true;
        }
    }
    while routes
        .first()
        .is_some_and(|r| is_own_uri(core, r, local.ip()))
    {
        routes.remove(0);
        popped = true;
    }
    let next = match routes.first() {
        Some(r) => uri_of(r)?.to_owned(),
        None => ruri.clone(),
    };
    let target = resolve(core, now, &next)?;
    let mut fwd = forward_headers(core, peer, local, req, false);
    fwd.retain(|h| !matches!(h, Header::Route(_)));
    if !routes.is_empty() {
        let at = fwd
            .iter()
            .rposition(|h| matches!(h, Header::Via(_)))
            .map(|i| i + 1)
            .unwrap_or(0);
        fwd.insert(at, Header::Route(routes.join(", ").into()));
    }
    Some((fwd, ruri, target, popped))
}

/// The peer a URI leads to: the source address of the binding whose contact it is (NAT-safe),
/// else its host and port (no DNS here: a name that is not an IP does not resolve).
fn resolve(core: &Core, now: Millis, uri: &str) -> Option<Peer> {
    let (addr, transport) = hop_of(uri)?;
    let bound = core.location.all().find(|b| {
        b.expires_at > now
            && (b.contact == uri || hop_of(&b.contact).is_some_and(|(a, _)| a == addr))
    });
    Some(match bound {
        Some(b) => b.peer,
        None => Peer { transport, addr },
    })
}

/// A BYE ends the answered call of its dialog.
fn end_dialog(core: &mut Core, now: Millis, req: &Request, out: &mut Vec<Action>) {
    let matches = core.proxy.dialogs.get(&req.call_id).is_some_and(|d| {
        let (a, b) = (req.from_tag.as_deref(), req.to_tag.as_deref());
        let (x, y) = (Some(d.tags.0.as_str()), Some(d.tags.1.as_str()));
        (a, b) == (x, y) || (a, b) == (y, x)
    });
    if matches {
        if let Some(d) = core.proxy.dialogs.remove(&req.call_id) {
            out.push(Action::CallEnded(d.info.record(
                now,
                CallStatus::Answered,
                200,
            )));
        }
    }
}

fn on_ack(
    core: &mut Core,
    now: Millis,
    peer: Peer,
    local: SocketAddr,
    req: Request,
    out: &mut Vec<Action>,
) {
    let key = server_key(&req);
    if let Some(tx) = core.proxy.server.get_mut(&key) {
        if tx.on_ack(now) {
            if let Some(d) = tx.deadline() {
                core.proxy.schedule(d, Timer::Server(key));
            }
            return; // hop-by-hop ACK of a non-2xx answer: ours
        }
    }
    // ACK of a 2xx: end to end, stateless, by the Route set.
    if req.to_tag.is_none() || max_forwards(&req.raw) == Some(0) {
        return;
    }
    let Some((fwd, uri, target, _)) = next_hop(core, now, peer, local, &req.raw) else {
        return;
    };
    if core
        .proxy
        .is_us(target.addr.ip(), target.addr.port(), local.ip())
    {
        return;
    }
    let branch = core.proxy.new_branch();
    let me = core.proxy.own(target.transport, local.ip());
    let via = format!(
        "SIP/2.0/{} {};branch={};rport",
        target.transport.via_name(),
        me,
        branch
    );
    let mut headers = vec![Header::Via(via.into())];
    headers.extend(fwd);
    out.push(Action::Send {
        peer: target,
        bytes: serialize_request(&Method::Ack, &uri, &headers, &req.raw.body),
    });
}

fn on_cancel(core: &mut Core, now: Millis, peer: Peer, req: Request, out: &mut Vec<Action>) {
    let key = server_key(&req);
    if let Some(tx) = core.proxy.server.get(&key) {
        if let Some(bytes) = tx.on_retransmission() {
            out.push(Action::Send { peer, bytes });
        }
        return;
    }
    let invite_key = (key.0.clone(), Kind::Invite);
    let Some(call) = core.proxy.server.get(&invite_key).map(|t| t.call) else {
        return reply(core, peer, &req.raw, 481, out);
    };
    if core.proxy.server.len() < MAX_SERVER_TX {
        open_server(core, now, &key, peer);
        respond_local(core, now, &key, &req.raw, 200, Vec::new(), out);
    } else {
        reply(core, peer, &req.raw, 200, out);
    }
    let Some(id) = call else { return };
    let Some(c) = core.proxy.calls.get_mut(&id) else {
        return;
    };
    if c.final_sent {
        return;
    }
    c.groups.clear();
    cancel_branches(core, now, id, None, out);
    finish(core, now, id, Some(487), out);
}

// ----- answers --------------------------------------------------------------------------------

/// An answer on a branch of call `id` (after the client transaction let it through).
fn on_branch_answer(
    core: &mut Core,
    now: Millis,
    id: u64,
    key: &TxKey,
    resp: &Response,
    up: Vec<u8>,
    out: &mut Vec<Action>,
) {
    let code = resp.code;
    let Some(call) = core.proxy.calls.get_mut(&id) else {
        return;
    };
    let server = call.server.clone();
    let Some(bi) = call.branches.iter().position(|b| &b.key == key) else {
        return;
    };
    if code < 200 {
        if code > 100 && !call.final_sent && !call.branches[bi].done {
            respond(core, now, &server, code, up, out);
        }
        return;
    }
    if code < 300 {
        call.branches[bi].done = true;
        let invite = call.method == Method::Invite;
        let first = !call.answered && !call.final_sent;
        if first {
            call.answered = true;
            call.final_sent = true;
            call.groups.clear();
        }
        let device = call.branches[bi].device;
        let upstream = call.upstream;
        let info = call.info.take().filter(|_| first && invite);
        // 2xx always go up, even after another final answer (RFC 3261 §16.7 step 5).
        match core.proxy.server.get(&server).map(|t| t.state) {
            Some(ServerState::Proceeding | ServerState::Accepted) => {
                respond(core, now, &server, code, up, out)
            }
            _ if invite => out.push(Action::Send {
                peer: upstream,
                bytes: up,
            }),
            _ => {}
        }
        if first {
            cancel_branches(core, now, id, Some(bi), out);
        }
        if let Some(mut info) = info {
            info.answered = Some(now);
            info.answered_by = device;
            let to_tag = message::param(
                &resp
                    .raw
                    .headers
                    .iter()
                    .find_map(|h| match h {
                        Header::To(t) => Some(t.value().to_owned()),
                        _ => None,
                    })
                    .unwrap_or_default(),
                "tag",
            )
            .unwrap_or_default();
            let from_tag = from_tag_of(&core.proxy.calls[&id].req);
            let expires_at = now + MAX_DIALOG_AGE;
            if let Some(old) = core.proxy.dialogs.insert(
                info.call_id.clone(),
                Dialog {
                    tags: (from_tag, to_tag),
                    info,
                    expires_at,
                },
            ) {
                // Same Call-ID answered again (a re-used Call-ID): the older call ended now.
                out.push(Action::CallEnded(old.info.record(
                    now,
                    CallStatus::Answered,
                    200,
                )));
            }
            let cid = core.proxy.calls[&id]
                .info
                .as_ref()
                .map(|i| i.call_id.clone());
            let cid = cid.unwrap_or_else(|| call_id_of(&core.proxy.calls[&id].req));
            core.proxy.schedule(expires_at, Timer::Dialog(cid));
        }
        return check_done(core, now, id, out);
    }
    if call.branches[bi].done {
        return; // cancelled by us (ring time over, or answered elsewhere)
    }
    call.branches[bi].done = true;
    if better(code, call.best.as_ref().map(|b| b.code)) {
        call.best = Some(Best {
            code,
            bytes: Some(up),
        });
    }
    if code >= 600 {
        call.groups.clear();
        cancel_branches(core, now, id, None, out);
    }
    check_done(core, now, id, out);
}

/// RFC 3261 §16.7 step 6: 6xx first, then the lowest class; within 4xx some codes say more.
fn better(code: u16, best: Option<u16>) -> bool {
    fn rank(c: u16) -> (u16, u16) {
        let class = match c / 100 {
            6 => 0,
            3 => 1,
            4 => 2,
            _ => 3,
        };
        let within = match c {
            401 | 407 | 415 | 420 | 484 => 0,
            486 => 1,
            403 => 2,
            480 => 4,
            408 => 5,
            487 => 6,
            _ => 3,
        };
        (class, within)
    }
    best.is_none_or(|b| rank(code) < rank(b))
}

/// CANCELs every branch still ringing except `keep`; they count as done.
fn cancel_branches(
    core: &mut Core,
    now: Millis,
    id: u64,
    keep: Option<usize>,
    out: &mut Vec<Action>,
) {
    let Some(call) = core.proxy.calls.get_mut(&id) else {
        return;
    };
    let mut keys = Vec::new();
    for (i, b) in call.branches.iter_mut().enumerate() {
        if Some(i) != keep && !b.done {
            b.done = true;
            keys.push(b.key.clone());
        }
    }
    for key in keys {
        cancel_client(core, now, &key, out);
    }
}

/// CANCEL on one INVITE branch: now if it rang, else as soon as it does (RFC 3261 §9.1).
fn cancel_client(core: &mut Core, now: Millis, key: &TxKey, out: &mut Vec<Action>) {
    let Some((tx, sent)) = core.proxy.client.get_mut(key) else {
        return;
    };
    if tx.kind != Kind::Invite || tx.cancelled {
        return;
    }
    match tx.state {
        ClientState::Proceeding => {
            tx.cancelled = true;
            let (peer, sent) = (tx.peer, sent.clone());
            if let Some(s) = sent {
                send_cancel(core, now, peer, &key.0, &s, out);
            }
        }
        ClientState::Calling => tx.cancel_wanted = true,
        _ => {}
    }
}

fn send_cancel(
    core: &mut Core,
    now: Millis,
    peer: Peer,
    branch: &str,
    s: &Sent,
    out: &mut Vec<Action>,
) {
    let mut headers = vec![Header::Via(s.via.clone().into())];
    headers.extend(s.routes.iter().cloned());
    headers.push(Header::MaxForwards("70".into()));
    headers.push(s.from.clone());
    headers.push(s.to.clone());
    headers.push(s.call_id.clone());
    headers.push(Header::CSeq(format!("{} CANCEL", s.cseq).into()));
    headers.push(Header::ContentLength(0.into()));
    let bytes = serialize_request(&Method::Cancel, &s.uri, &headers, &[]);
    let key = (branch.to_owned(), Kind::Cancel);
    if core.proxy.client.len() < MAX_CLIENT_TX {
        let tx = ClientTx::new(now, peer, Kind::Cancel, bytes.clone());
        if let Some(d) = tx.deadline() {
            core.proxy.schedule(d, Timer::Client(key.clone()));
        }
        core.proxy.client.insert(key, (tx, None));
    }
    out.push(Action::Send { peer, bytes });
}

/// Every branch of the ringing group is over: ring the next group or answer up.
fn check_done(core: &mut Core, now: Millis, id: u64, out: &mut Vec<Action>) {
    let Some(call) = core.proxy.calls.get(&id) else {
        return;
    };
    if !call.branches.iter().all(|b| b.done) {
        return;
    }
    if call.final_sent {
        core.proxy.calls.remove(&id);
        return;
    }
    if start_next_group(core, now, id, out) {
        return;
    }
    finish(core, now, id, None, out);
}

/// Sends the final answer up (`code`, or the best answer, or 408), emits the call record and
/// forgets the call.
fn finish(core: &mut Core, now: Millis, id: u64, code: Option<u16>, out: &mut Vec<Action>) {
    let Some(mut call) = core.proxy.calls.remove(&id) else {
        return;
    };
    if call.final_sent {
        return;
    }
    call.final_sent = true;
    let (code, bytes) = match (code, call.best.take()) {
        (Some(c), _) => (c, None),
        (None, Some(b)) if b.code == 503 => (500, None),
        (None, Some(b)) => (b.code, b.bytes),
        (None, None) => (408, None),
    };
    match bytes {
        Some(b) => respond(core, now, &call.server, code, b, out),
        None => respond_local(core, now, &call.server, &call.req, code, Vec::new(), out),
    }
    if let Some(info) = &call.info {
        let status = match code {
            487 => CallStatus::Cancelled,
            486 | 600 => CallStatus::Busy,
            603 | 403 if !info.rung.is_empty() => CallStatus::Rejected,
            408 if !info.rung.is_empty() => CallStatus::Missed,
            _ => CallStatus::Failed,
        };
        out.push(Action::CallEnded(info.record(now, status, code)));
    }
}

// ----- timers ---------------------------------------------------------------------------------

fn server_timer(core: &mut Core, now: Millis, key: TxKey, out: &mut Vec<Action>) {
    let Some(tx) = core.proxy.server.get_mut(&key) else {
        return;
    };
    if tx.deadline().is_none_or(|d| d > now) {
        return;
    }
    let (resend, ended) = tx.on_timer(now);
    let (peer, next) = (tx.peer, tx.deadline());
    if let Some(bytes) = resend {
        out.push(Action::Send { peer, bytes });
    }
    if ended {
        core.proxy.server.remove(&key);
    } else if let Some(d) = next {
        core.proxy.schedule(d, Timer::Server(key));
    }
}

fn client_timer(core: &mut Core, now: Millis, key: TxKey, out: &mut Vec<Action>) {
    let Some((tx, sent)) = core.proxy.client.get_mut(&key) else {
        return;
    };
    if tx.deadline().is_none_or(|d| d > now) {
        return;
    }
    let ev = tx.on_timer(now);
    let (peer, next, call, state, cancelled) =
        (tx.peer, tx.deadline(), tx.call, tx.state, tx.cancelled);
    let sent = sent.clone();
    match ev {
        Some(ClientTimer::Retransmit(bytes)) => out.push(Action::Send { peer, bytes }),
        Some(ClientTimer::Timeout) => {
            // Timer C while ringing: CANCEL it (RFC 3261 §16.8).
            if state != ClientState::Terminated && !cancelled {
                if let (Some(s), Some((tx, _))) = (sent, core.proxy.client.get_mut(&key)) {
                    tx.cancelled = true;
                    send_cancel(core, now, peer, &key.0, &s, out);
                }
            }
            if let Some(id) = call {
                branch_timed_out(core, now, id, &key, out);
            }
        }
        Some(ClientTimer::Ended) | None => {}
    }
    match core.proxy.client.get(&key) {
        Some((tx, _)) if tx.state == ClientState::Terminated => {
            core.proxy.client.remove(&key);
        }
        Some(_) => {
            if let Some(d) = next {
                core.proxy.schedule(d, Timer::Client(key));
            }
        }
        None => {}
    }
}

/// A branch got no final answer in time: it counts as a 408.
fn branch_timed_out(core: &mut Core, now: Millis, id: u64, key: &TxKey, out: &mut Vec<Action>) {
    let Some(call) = core.proxy.calls.get_mut(&id) else {
        return;
    };
    let Some(b) = call.branches.iter_mut().find(|b| &b.key == key) else {
        return;
    };
    if b.done {
        return;
    }
    b.done = true;
    if better(408, call.best.as_ref().map(|b| b.code)) {
        call.best = Some(Best {
            code: 408,
            bytes: None,
        });
    }
    check_done(core, now, id, out);
}

fn call_timer(core: &mut Core, now: Millis, id: u64, out: &mut Vec<Action>) {
    let Some(call) = core.proxy.calls.get_mut(&id) else {
        return;
    };
    if call.give_up_at <= now {
        call.groups.clear();
        cancel_branches(core, now, id, None, out);
        return finish(core, now, id, Some(408), out);
    }
    if call.ring_until.is_some_and(|t| t <= now) {
        call.ring_until = None;
        // Ring time over: this member missed it; CANCEL and ring the next.
        let unanswered = call.branches.iter().any(|b| !b.done);
        if unanswered && better(408, call.best.as_ref().map(|b| b.code)) {
            call.best = Some(Best {
                code: 408,
                bytes: None,
            });
        }
        cancel_branches(core, now, id, None, out);
        check_done(core, now, id, out);
    }
}

// ----- message helpers ------------------------------------------------------------------------

fn call_id_of(req: &rsip::Request) -> String {
    req.headers
        .iter()
        .find_map(|h| match h {
            Header::CallId(c) => Some(c.value().trim().to_owned()),
            _ => None,
        })
        .unwrap_or_default()
}

fn from_tag_of(req: &rsip::Request) -> String {
    req.headers
        .iter()
        .find_map(|h| match h {
            Header::From(f) => message::param(f.value(), "tag"),
            _ => None,
        })
        .unwrap_or_default()
}

/// What CANCEL and ACK of a branch need from the INVITE sent on it.
fn sent_of(uri: &str, via: &str, headers: &[Header]) -> Sent {
    let mut s = Sent {
        uri: uri.to_owned(),
        via: via.to_owned(),
        from: Header::From("".into()),
        to: Header::To("".into()),
        call_id: Header::CallId("".into()),
        cseq: 0,
        routes: Vec::new(),
    };
    for h in headers {
        match h {
            Header::From(_) => s.from = h.clone(),
            Header::To(_) => s.to = h.clone(),
            Header::CallId(_) => s.call_id = h.clone(),
            Header::Route(_) => s.routes.push(h.clone()),
            Header::CSeq(c) => {
                s.cseq = c
                    .value()
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
            }
            _ => {}
        }
    }
    s
}

/// The ACK for a non-2xx final answer (RFC 3261 §17.1.1.3).
fn build_ack(s: &Sent, resp: &rsip::Response) -> Vec<u8> {
    let to = resp
        .headers
        .iter()
        .find(|h| matches!(h, Header::To(_)))
        .cloned()
        .unwrap_or_else(|| s.to.clone());
    let mut headers = vec![Header::Via(s.via.clone().into())];
    headers.extend(s.routes.iter().cloned());
    headers.push(Header::MaxForwards("70".into()));
    headers.push(s.from.clone());
    headers.push(to);
    headers.push(s.call_id.clone());
    headers.push(Header::CSeq(format!("{} ACK", s.cseq).into()));
    headers.push(Header::ContentLength(0.into()));
    serialize_request(&Method::Ack, &s.uri, &headers, &[])
}

/// The answer without our Via, ready to go up.
fn strip_top_via(resp: &rsip::Response) -> Vec<u8> {
    let mut headers: Vec<Header> = Vec::with_capacity(resp.headers.iter().count());
    let mut stripped = false;
    for h in resp.headers.iter() {
        match h {
            Header::Via(v) if !stripped => {
                stripped = true;
                let rest = split_list(v.value());
                if rest.len() > 1 {
                    headers.push(Header::Via(rest[1..].join(", ").into()));
                }
            }
            other => headers.push(other.clone()),
        }
    }
    let code = resp.status_code.code();
    let mut b = format!("SIP/2.0 {code} {}\r\n", message::reason(code)).into_bytes();
    for h in &headers {
        b.extend_from_slice(h.to_string().as_bytes());
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(b"\r\n");
    b.extend_from_slice(&resp.body);
    b
}

fn serialize_request(method: &Method, uri: &str, headers: &[Header], body: &[u8]) -> Vec<u8> {
    let mut b = format!("{method} {uri} SIP/2.0\r\n").into_bytes();
    for h in headers {
        b.extend_from_slice(h.to_string().as_bytes());
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(b"\r\n");
    b.extend_from_slice(body);
    b
}

/// Splits a header value at its top-level commas (outside `<…>` and quotes).
fn split_list(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    for (i, c) in v.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth <= 0 => {
                out.push(v[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(v[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// The URI of a name-addr (`"x" <sip:…>;p`) or addr-spec (`sip:…;p`).
fn uri_of(v: &str) -> Option<&str> {
    match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => Some(v[a + 1..b].trim()),
        _ => v.split(';').next().map(str::trim).filter(|s| !s.is_empty()),
    }
}

/// The user part of a SIP URI, percent-decoded (`11%2301%2311` → `11#01#11`).
fn user_part(uri: &str) -> Option<String> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    let at = rest.find('@')?;
    let user = &rest[..at];
    let user = user.split(';').next().unwrap_or(user);
    let user = user.split(':').next().unwrap_or(user); // user:password
    let bytes = user.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&user[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The next hop of a SIP URI: its IP address and port (5060, 5061 for sips) and transport.
fn hop_of(uri: &str) -> Option<(SocketAddr, Transport)> {
    let (rest, sips) = match uri.strip_prefix("sips:") {
        Some(r) => (r, true),
        None => (uri.strip_prefix("sip:")?, false),
    };
    let rest = match rest.rfind('@') {
        Some(i) => &rest[i + 1..],
        None => rest,
    };
    let end = rest.find([';', '?']).unwrap_or(rest.len());
    let (hostport, params) = (&rest[..end], &rest[end..]);
    let mut transport = if sips { Transport::Tls } else { Transport::Udp };
    for p in params.split(';') {
        if let Some((k, v)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case("transport") {
                transport = match v.trim().to_ascii_lowercase().as_str() {
                    "tcp" => Transport::Tcp,
                    "tls" => Transport::Tls,
                    _ => transport,
                };
            }
        }
    }
    let default = if transport == Transport::Tls {
        5061
    } else {
        5060
    };
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let close = h.find(']')?;
        let port = h[close + 1..].strip_prefix(':').map(|p| p.parse().ok());
        (&h[..close], port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse().ok())),
            None => (hostport, None),
        }
    };
    let port = match port {
        Some(Some(p)) => p,
        Some(None) => return None,
        None => default,
    };
    let ip: IpAddr = host.parse().ok()?;
    Some((SocketAddr::new(ip, port), transport))
}

#[cfg(test)]
mod tests;
