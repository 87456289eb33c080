//! The SIP service: the thin I/O around the sans-IO [`Core`]. One task owns the core and the UDP
//! socket; stream transports (`super::stream`) hand it framed messages through a bounded channel
//! and take what it sends through per-connection channels. The task fires the core's timers,
//! writes bindings and call records behind (batched, off the async threads), reloads the
//! directory when the configuration changed, hands due notices to the core and reports their
//! outcome, and answers the page's status queries. Owns no protocol rule.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::core::{Action, Core, CoreConfig, LiveCall, Millis, Peer, Transport};
use super::directory::Directory;
use super::location::{self, BindingChange};
use super::message::MAX_MESSAGE;
use crate::app::App;
use crate::records::calls::CallRecord;

/// Most messages from stream connections waiting for the core.
pub const INBOUND_QUEUE: usize = 1024;

/// One framed message from a stream connection.
pub struct Inbound {
    pub peer: Peer,
    pub local: SocketAddr,
    pub bytes: Vec<u8>,
}

/// Where the core's stream sends go: per open connection, a bounded queue of messages.
pub type Connections = Arc<std::sync::Mutex<HashMap<Peer, mpsc::Sender<Vec<u8>>>>>;

/// A registered contact as the page shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BindingView {
    pub device: u64,
    pub name: String,
    pub number: String,
    pub contact: String,
    pub transport: Transport,
    pub source: String,
    pub user_agent: String,
    /// RFC 3339.
    pub expires: String,
    pub expires_in: u64,
    /// RFC 3339.
    pub since: String,
}

/// What the page asks the service.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SipStatus {
    pub bindings: Vec<BindingView>,
    pub calls: Vec<LiveCall>,
    /// Devices that may register (have a registration number).
    pub known_devices: usize,
    pub online_devices: usize,
}

enum Query {
    Status(oneshot::Sender<SipStatus>),
}

/// The handle the web layer keeps (in `App::sip`).
#[derive(Clone)]
pub struct SipHandle {
    tx: mpsc::Sender<Query>,
}

impl SipHandle {
    /// The registered devices and live calls; `None` if the service is not running.
    pub async fn status(&self) -> Option<SipStatus> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Query::Status(tx)).await.ok()?;
        tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .ok()?
            .ok()
    }
}

pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What the running service needs besides the app.
pub struct Sockets {
    pub udp: UdpSocket,
    /// Framed messages from TCP and TLS connections.
    pub inbound: mpsc::Receiver<Inbound>,
    pub connections: Connections,
    /// Dials TCP peers that have no open connection (`None`: stream sends without one drop).
    pub streams: Option<Arc<super::stream::Streams>>,
}

/// Builds the core from the store (directory, persisted bindings).
pub async fn start_core(app: &Arc<App>, cfg: CoreConfig) -> crate::error::Result<Core> {
    let a = app.clone();
    let (dir, bindings) = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::error::Error>((Directory::load(&a)?, location::load(&a)?))
    })
    .await
    .map_err(|e| crate::error::Error::Internal(format!("SIP start: {e}")))??;
    Ok(Core::new(cfg, dir, bindings, now_ms()))
}

/// Runs until `shutdown` completes; then writes what is pending.
pub async fn run(
    app: Arc<App>,
    mut core: Core,
    sockets: Sockets,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let Sockets {
        udp,
        mut inbound,
        connections,
        streams,
    } = sockets;
    let (qtx, mut queries) = mpsc::channel::<Query>(16);
    let _ = app.sip.set(SipHandle { tx: qtx });
    let mut st = State {
        udp_bound: udp.local_addr().ok(),
        app: app.clone(),
        udp,
        connections,
        streams,
        bindings: HashMap::new(),
        records: Vec::new(),
        outcomes: Vec::new(),
        presence: HashMap::new(),
        local_ips: HashMap::new(),
        generation: app.store.generation(),
        notices_in_flight: HashMap::new(),
        notice_retry: HashMap::new(),
        check_notices: true,
        flushing: None,
    };
    // Who is reachable after a restart: the devices with a restored live binding.
    {
        let now = now_ms();
        let dir = core.directory().clone();
        for u in dir.users() {
            st.presence
                .insert(u.device, core.location().is_online(u.device, now));
        }
    }
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    let mut housekeeping = tokio::time::interval(Duration::from_secs(1));
    housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        let deadline = core.next_deadline();
        let sleep = async {
            match deadline {
                Some(d) => {
                    let wait = d.saturating_sub(now_ms());
                    tokio::time::sleep(Duration::from_millis(wait)).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = st.udp.recv_from(&mut buf) => match r {
                Ok((n, from)) => {
                    st.sync_directory(&mut core).await;
                    let local = st.local_for(from);
                    let peer = Peer { transport: Transport::Udp, addr: from };
                    let actions = core.on_message(now_ms(), peer, local, &buf[..n]);
                    st.carry_out(&mut core, actions).await;
                }
                // ICMP port-unreachable from an earlier send shows up here on Linux.
                Err(e) => tracing::debug!(error = %e, "SIP UDP receive failed"),
            },
            Some(m) = inbound.recv() => {
                st.sync_directory(&mut core).await;
                let actions = core.on_message(now_ms(), m.peer, m.local, &m.bytes);
                st.carry_out(&mut core, actions).await;
            }
            _ = sleep => {
                let actions = core.on_tick(now_ms());
                st.carry_out(&mut core, actions).await;
            }
            _ = housekeeping.tick() => st.housekeeping(&mut core).await,
            Some(q) = queries.recv() => match q {
                Query::Status(tx) => { let _ = tx.send(status(&core)); }
            },
            _ = &mut shutdown => break,
        }
    }
    if let Some(h) = st.flushing.take() {
        let _ = h.await;
    }
    st.flush().await;
}

fn status(core: &Core) -> SipStatus {
    let now = now_ms();
    let dir = core.directory();
    let mut bindings: Vec<BindingView> = core
        .location()
        .all()
        .filter(|b| b.expires_at > now)
        .map(|b| {
            let user = dir.user(b.device);
            BindingView {
                device: b.device,
                name: user.map(|u| u.name.clone()).unwrap_or_default(),
                number: user.map(|u| u.number.clone()).unwrap_or_default(),
                contact: b.contact.clone(),
                transport: b.peer.transport,
                source: b.peer.addr.to_string(),
                user_agent: b.user_agent.clone(),
                expires: crate::time::rfc3339(b.expires_at / 1000),
                expires_in: b.expires_at.saturating_sub(now) / 1000,
                since: crate::time::rfc3339(b.since / 1000),
            }
        })
        .collect();
    bindings.sort_by(|a, b| (&a.number, &a.contact).cmp(&(&b.number, &b.contact)));
    let mut online: Vec<u64> = bindings.iter().map(|b| b.device).collect();
    online.dedup();
    SipStatus {
        online_devices: online.len(),
        known_devices: dir.len(),
        bindings,
        calls: core.live_calls(),
    }
}

struct State {
    app: Arc<App>,
    udp: UdpSocket,
    /// The UDP socket's own address, read once (not a syscall per datagram).
    udp_bound: Option<SocketAddr>,
    connections: Connections,
    streams: Option<Arc<super::stream::Streams>>,
    /// Binding changes not yet written, by store key (the last change wins).
    bindings: HashMap<String, BindingChange>,
    records: Vec<CallRecord>,
    outcomes: Vec<(u64, u64, Result<(), String>)>,
    /// Devices that came online or went offline since the last write.
    presence: HashMap<u64, bool>,
    /// Our own address towards each peer address (see `local_for`).
    local_ips: HashMap<std::net::IpAddr, std::net::IpAddr>,
    generation: u64,
    /// Notice deliveries waiting for their outcome.
    notices_in_flight: HashMap<(u64, u64), Millis>,
    /// When a failed delivery may be tried again.
    notice_retry: HashMap<(u64, u64), Millis>,
    check_notices: bool,
    flushing: Option<tokio::task::JoinHandle<()>>,
}

/// Most binding changes and records held before a write is forced.
const MAX_PENDING: usize = 20_000;

impl State {
    async fn carry_out(&mut self, _core: &mut Core, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send { peer, bytes } => self.send(peer, bytes).await,
                Action::Binding(c) => {
                    let key = match &c {
                        BindingChange::Upsert(b) => b.key(),
                        BindingChange::Remove { device, contact } => format!("{device}/{contact}"),
                    };
                    self.bindings.insert(key, c);
                }
                Action::CallEnded(r) => {
                    tracing::info!(call_id = %r.call_id, caller = %r.caller_number, dialled = %r.callee_number, status = ?r.status, code = r.sip_code, answered_by = ?r.answered_by, "call ended");
                    self.records.push(r)
                }
                Action::NoticeOutcome {
                    notice,
                    device,
                    outcome,
                } => {
                    self.notices_in_flight.remove(&(notice, device));
                    if outcome.is_err() {
                        self.notice_retry
                            .insert((notice, device), now_ms() + 60_000);
                    }
                    self.outcomes.push((notice, device, outcome));
                }
                Action::DeviceOnline { device } => {
                    self.check_notices = true;
                    self.presence.insert(device, true);
                }
                Action::DeviceOffline { device } => {
                    self.presence.insert(device, false);
                }
            }
        }
        if self.bindings.len() + self.records.len() > MAX_PENDING {
            self.flush().await;
        }
    }

    async fn send(&self, peer: Peer, bytes: Vec<u8>) {
        match peer.transport {
            Transport::Udp => {
                if let Err(e) = self.udp.send_to(&bytes, peer.addr).await {
                    tracing::debug!(to = %peer.addr, error = %e, "SIP UDP send failed");
                }
            }
            Transport::Tcp | Transport::Tls => {
                let tx = self
                    .connections
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&peer).cloned());
                match tx {
                    Some(tx) => {
                        if tx.try_send(bytes).is_err() {
                            tracing::debug!(to = %peer.addr, "SIP connection queue full or closed");
                        }
                    }
                    None => match &self.streams {
                        Some(s) => s.open(peer, bytes),
                        None => tracing::debug!(to = %peer.addr, "no SIP connection to send on"),
                    },
                }
            }
        }
    }

    /// Writes pending bindings, records and notice outcomes (one write each kind).
    async fn flush(&mut self) {
        let p = self.take_pending();
        if p.is_empty() {
            return;
        }
        let app = self.app.clone();
        let r = tokio::task::spawn_blocking(move || write_pending(&app, &p)).await;
        if let Ok(Err(e)) = r {
            tracing::warn!(error = %e, "SIP state could not be written");
        }
    }

    /// Our address as `from` sees it. A socket bound to every address (0.0.0.0, as on the box)
    /// does not say which one a datagram came in on; the address the kernel would send to
    /// `from` from is the one a LAN device reaches us at (cached per peer address, bounded).
    fn local_for(&mut self, from: SocketAddr) -> SocketAddr {
        let Some(bound) = self.udp_bound else {
            return from;
        };
        if !bound.ip().is_unspecified() {
            return bound;
        }
        if let Some(ip) = self.local_ips.get(&from.ip()) {
            return SocketAddr::new(*ip, bound.port());
        }
        let probe = |from: SocketAddr| -> std::io::Result<std::net::IpAddr> {
            let any: SocketAddr = if from.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let s = std::net::UdpSocket::bind(any)?;
            s.connect(from)?; // picks a route; sends nothing
            Ok(s.local_addr()?.ip())
        };
        match probe(from) {
            Ok(ip) => {
                if self.local_ips.len() >= 4096 {
                    self.local_ips.clear();
                }
                self.local_ips.insert(from.ip(), ip);
                SocketAddr::new(ip, bound.port())
            }
            Err(_) => bound,
        }
    }

    fn take_pending(&mut self) -> Pending {
        Pending {
            bindings: self.bindings.drain().map(|(_, c)| c).collect(),
            records: std::mem::take(&mut self.records),
            outcomes: std::mem::take(&mut self.outcomes),
            presence: self.presence.drain().collect(),
        }
    }

    /// Rebuilds the directory when the configuration changed since it was loaded, so a device
    /// added a moment ago can register at once.
    async fn sync_directory(&mut self, core: &mut Core) {
        let g = self.app.store.generation();
        if g == self.generation {
            return;
        }
        self.generation = g;
        let app = self.app.clone();
        match tokio::task::spawn_blocking(move || Directory::load(&app)).await {
            Ok(Ok(dir)) => {
                let actions = core.set_directory(dir, now_ms());
                Box::pin(self.carry_out(core, actions)).await;
                self.check_notices = true;
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "SIP directory could not be loaded"),
            Err(e) => tracing::warn!(error = %e, "SIP directory load failed"),
        }
    }

    async fn housekeeping(&mut self, core: &mut Core) {
        // Write behind, without holding the core up.
        if self.flushing.as_ref().is_none_or(|h| h.is_finished()) {
            let p = self.take_pending();
            if !p.is_empty() {
                let app = self.app.clone();
                self.flushing = Some(tokio::task::spawn_blocking(move || {
                    if let Err(e) = write_pending(&app, &p) {
                        tracing::warn!(error = %e, "SIP state could not be written");
                    }
                }));
            }
        }
        self.sync_directory(core).await;
        // Notices: every 5 s, and at once when a device came online or the configuration changed.
        let now = now_ms();
        if self.check_notices || (now / 1000) % 5 == 0 {
            self.check_notices = false;
            let app = self.app.clone();
            let due = tokio::task::spawn_blocking(move || {
                crate::intercom::notices::due(&app, now / 1000)
            })
            .await;
            if let Ok(Ok(due)) = due {
                let mut out = Vec::new();
                for d in due {
                    let key = (d.notice, d.device);
                    if self.notices_in_flight.contains_key(&key)
                        || self.notice_retry.get(&key).is_some_and(|t| *t > now)
                    {
                        continue;
                    }
                    let text = if d.subject.is_empty() {
                        d.text.clone()
                    } else {
                        format!("{}\n\n{}", d.subject, d.text)
                    };
                    if core.send_notice(now, d.notice, d.device, &text, &mut out) {
                        self.notices_in_flight.insert(key, now);
                    }
                }
                self.carry_out(core, out).await;
            }
        }
    }
}

/// What the service writes behind, in one batch.
struct Pending {
    bindings: Vec<BindingChange>,
    records: Vec<CallRecord>,
    outcomes: Vec<(u64, u64, Result<(), String>)>,
    presence: Vec<(u64, bool)>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.bindings.is_empty()
            && self.records.is_empty()
            && self.outcomes.is_empty()
            && self.presence.is_empty()
    }
}

fn write_pending(app: &App, p: &Pending) -> crate::error::Result<()> {
    location::persist(app, &p.bindings)?;
    crate::records::calls::append(app, &p.records)?;
    crate::intercom::devices::set_online(app, &p.presence, crate::time::now())?;
    for (notice, device, outcome) in &p.outcomes {
        if let Err(e) = crate::intercom::notices::report(app, *notice, *device, outcome.clone()) {
            tracing::debug!(notice, device, error = %e, "notice outcome not recorded");
        }
    }
    Ok(())
}
