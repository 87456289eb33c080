//! The RFC 3261 §17 transaction state machines the proxy runs: INVITE and non-INVITE server
//! transactions (absorb retransmitted requests by answering again with the last response; Timer
//! G retransmits a final non-2xx INVITE answer on UDP until the ACK, H gives up waiting for it,
//! I and J keep a completed transaction to absorb stragglers; RFC 6026's Accepted state for
//! forwarded 2xx) and client transactions (Timer A/E retransmit on UDP, B/F time out, C bounds a
//! ringing INVITE, D/K absorb retransmitted final answers, M the Accepted state). Pure values
//! with the time passed in: they say what to send and when they want to be woken; the proxy
//! (`super::proxy`) owns the maps, the messages and every routing decision. No I/O.

use super::core::{Millis, Peer};

/// RTT estimate (RFC 3261 §17.1.1.1).
pub const T1: Millis = 500;
/// Longest retransmission interval for non-INVITE requests and INVITE answers.
pub const T2: Millis = 4_000;
/// How long a message may stay in the network.
pub const T4: Millis = 5_000;
/// Proxy INVITE timer (RFC 3261 §16.6 step 11): more than 3 minutes.
pub const TIMER_C: Millis = 181_000;

/// What a transaction is, for matching (RFC 3261 §17.1.3, §17.2.3): ACK matches the INVITE,
/// CANCEL has its own transaction with the INVITE's branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Invite,
    Cancel,
    Other,
}

impl Kind {
    pub fn of(m: &rsip::Method) -> Kind {
        match m {
            rsip::Method::Invite | rsip::Method::Ack => Kind::Invite,
            rsip::Method::Cancel => Kind::Cancel,
            _ => Kind::Other,
        }
    }
}

/// A transaction's identity: its branch (ours for client transactions, the sender's for server
/// ones) and its kind.
pub type TxKey = (String, Kind);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    /// No final answer yet.
    Proceeding,
    /// Final non-2xx sent (INVITE: waiting for the ACK).
    Completed,
    /// INVITE: the ACK came; absorbing retransmitted ACKs (Timer I).
    Confirmed,
    /// INVITE: a 2xx went up (RFC 6026); retransmitted INVITEs are absorbed, 2xx pass.
    Accepted,
    Terminated,
}

/// A server transaction: what came in, from whom, and the last answer sent.
#[derive(Debug)]
pub struct ServerTx {
    pub peer: Peer,
    pub kind: Kind,
    pub state: ServerState,
    last: Option<Vec<u8>>,
    retransmit_at: Option<Millis>,
    interval: Millis,
    end_at: Option<Millis>,
    /// The proxy context working on the request.
    pub call: Option<u64>,
}

impl ServerTx {
    pub fn new(peer: Peer, kind: Kind, now: Millis) -> ServerTx {
        ServerTx {
            peer,
            kind,
            state: ServerState::Proceeding,
            last: None,
            retransmit_at: None,
            interval: T1,
            // A safety net: a transaction nobody answers still ends (the proxy answers first).
            end_at: Some(now + 2 * 3_600_000),
            call: None,
        }
    }

    /// Passes an answer through the transaction; returns what to send (nothing when a final
    /// answer was already sent, except 2xx to an INVITE, which always go up).
    pub fn respond(&mut self, now: Millis, code: u16, bytes: Vec<u8>) -> Option<Vec<u8>> {
        let invite = self.kind == Kind::Invite;
        match self.state {
            ServerState::Proceeding => {}
            ServerState::Accepted if invite && (200..300).contains(&code) => return Some(bytes),
            _ => return None,
        }
        if code < 200 {
            self.last = Some(bytes.clone());
            return Some(bytes);
        }
        let reliable = self.peer.transport.reliable();
        if invite && code < 300 {
            self.state = ServerState::Accepted;
            self.last = None;
            self.end_at = Some(now + 64 * T1); // Timer L
        } else if invite {
            self.state = ServerState::Completed;
            self.last = Some(bytes.clone());
            if !reliable {
                self.interval = T1;
                self.retransmit_at = Some(now + T1); // Timer G
            }
            self.end_at = Some(now + 64 * T1); // Timer H
        } else {
            self.state = ServerState::Completed;
            self.last = Some(bytes.clone());
            self.end_at = Some(now + if reliable { 0 } else { 64 * T1 }); // Timer J
        }
        Some(bytes)
    }

    /// The request came again: the answer to repeat, if any.
    pub fn on_retransmission(&self) -> Option<Vec<u8>> {
        match self.state {
            ServerState::Proceeding | ServerState::Completed => self.last.clone(),
            _ => None,
        }
    }

    /// An ACK matched this INVITE transaction. Returns whether it was absorbed here (an ACK to
    /// a non-2xx answer); an ACK in the Accepted state is the caller's end-to-end ACK.
    pub fn on_ack(&mut self, now: Millis) -> bool {
        match self.state {
            ServerState::Completed => {
                self.state = ServerState::Confirmed;
                self.retransmit_at = None;
                let reliable = self.peer.transport.reliable();
                self.end_at = Some(now + if reliable { 0 } else { T4 }); // Timer I
                true
            }
            ServerState::Confirmed => true,
            _ => false,
        }
    }

    pub fn deadline(&self) -> Option<Millis> {
        [self.retransmit_at, self.end_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fires what is due: returns the answer to retransmit, and whether the transaction ended.
    pub fn on_timer(&mut self, now: Millis) -> (Option<Vec<u8>>, bool) {
        let mut resend = None;
        if let Some(t) = self.retransmit_at {
            if t <= now && self.state == ServerState::Completed {
                resend = self.last.clone();
                self.interval = (self.interval * 2).min(T2);
                self.retransmit_at = Some(now + self.interval);
            }
        }
        if self.end_at.is_some_and(|t| t <= now) {
            self.state = ServerState::Terminated;
            resend = None;
        }
        (resend, self.state == ServerState::Terminated)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    /// Sent, nothing heard (INVITE "Calling", non-INVITE "Trying").
    Calling,
    Proceeding,
    Completed,
    /// INVITE: a 2xx came (RFC 6026); further 2xx pass up.
    Accepted,
    Terminated,
}

/// What to do with a response that matched a client transaction.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// Hand it to the proxy (first final, provisional, every 2xx of an INVITE).
    Pass,
    /// A retransmitted final non-2xx to an INVITE: send the ACK again.
    ResendAck,
    /// Nothing to do.
    Absorb,
}

/// A timer of a client transaction fired.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientTimer {
    Retransmit(Vec<u8>),
    /// Timer B/F (no answer at all) or C (ringing too long): the proxy treats it as a 408.
    Timeout,
    Ended,
}

/// A client transaction: the request we sent on one branch.
#[derive(Debug)]
pub struct ClientTx {
    pub peer: Peer,
    pub kind: Kind,
    pub state: ClientState,
    pub request: Vec<u8>,
    /// The ACK sent for a non-2xx final answer (repeated on its retransmissions).
    pub ack: Option<Vec<u8>>,
    retransmit_at: Option<Millis>,
    interval: Millis,
    /// Timer B/F (Calling), C (INVITE Proceeding).
    timeout_at: Option<Millis>,
    /// Timer D/K/M.
    end_at: Option<Millis>,
    pub call: Option<u64>,
    /// Where a late 2xx goes when the proxy context is gone.
    pub upstream: Option<Peer>,
    /// A CANCEL is wanted as soon as a provisional answer arrives (RFC 3261 §9.1).
    pub cancel_wanted: bool,
    /// A CANCEL was sent.
    pub cancelled: bool,
}

impl ClientTx {
    /// A transaction for `request`, just sent to `peer`.
    pub fn new(now: Millis, peer: Peer, kind: Kind, request: Vec<u8>) -> ClientTx {
        let reliable = peer.transport.reliable();
        ClientTx {
            peer,
            kind,
            state: ClientState::Calling,
            request,
            ack: None,
            retransmit_at: (!reliable).then_some(now + T1), // Timer A / E
            interval: T1,
            timeout_at: Some(now + 64 * T1), // Timer B / F
            end_at: None,
            call: None,
            upstream: None,
            cancel_wanted: false,
            cancelled: false,
        }
    }

    pub fn on_response(&mut self, now: Millis, code: u16) -> ClientEvent {
        let invite = self.kind == Kind::Invite;
        let reliable = self.peer.transport.reliable();
        match self.state {
            ClientState::Calling | ClientState::Proceeding => {
                if code < 200 {
                    self.state = ClientState::Proceeding;
                    if invite {
                        self.retransmit_at = None;
                        self.timeout_at = Some(now + TIMER_C);
                    } else if !reliable {
                        self.interval = T2;
                    }
                    return ClientEvent::Pass;
                }
                self.retransmit_at = None;
                self.timeout_at = None;
                if invite && code < 300 {
                    self.state = ClientState::Accepted;
                    self.end_at = Some(now + 64 * T1); // Timer M
                } else {
                    self.state = ClientState::Completed;
                    let wait = match (invite, reliable) {
                        (_, true) => 0,
                        (true, false) => 32_000, // Timer D
                        (false, false) => T4,    // Timer K
                    };
                    self.end_at = Some(now + wait);
                }
                ClientEvent::Pass
            }
            ClientState::Completed if invite && code >= 300 => ClientEvent::ResendAck,
            ClientState::Accepted if (200..300).contains(&code) => ClientEvent::Pass,
            _ => ClientEvent::Absorb,
        }
    }

    pub fn deadline(&self) -> Option<Millis> {
        [self.retransmit_at, self.timeout_at, self.end_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fires the timer that is due (at most one event per call; the proxy asks again).
    pub fn on_timer(&mut self, now: Millis) -> Option<ClientTimer> {
        if self.end_at.is_some_and(|t| t <= now) {
            self.state = ClientState::Terminated;
            self.end_at = None;
            return Some(ClientTimer::Ended);
        }
        if self.timeout_at.is_some_and(|t| t <= now) {
            self.timeout_at = None;
            self.retransmit_at = None;
            if self.state == ClientState::Calling || self.kind != Kind::Invite {
                self.state = ClientState::Terminated;
            } else {
                // Timer C while ringing: the proxy CANCELs; give the answer time to come back.
                self.end_at = Some(now + 64 * T1);
            }
            return Some(ClientTimer::Timeout);
        }
        if let Some(t) = self.retransmit_at {
            if t <= now {
                let next = if self.kind == Kind::Invite {
                    self.interval * 2
                } else {
                    (self.interval * 2).min(T2)
                };
                self.interval = next;
                self.retransmit_at = Some(now + next);
                return Some(ClientTimer::Retransmit(self.request.clone()));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::core::Transport;

    fn udp() -> Peer {
        Peer {
            transport: Transport::Udp,
            addr: "127.0.0.1:5070".parse().unwrap(),
        }
    }

    #[test]
    fn invite_client_retransmits_doubling_then_times_out() {
        let mut tx = ClientTx::new(0, udp(), Kind::Invite, b"INVITE".to_vec());
        let mut sent = Vec::new();
        let mut now = 0;
        while let Some(d) = tx.deadline() {
            now = d;
            match tx.on_timer(now) {
                Some(ClientTimer::Retransmit(_)) => sent.push(now),
                Some(ClientTimer::Timeout) => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(sent, vec![500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(now, 32_000); // Timer B
        assert_eq!(tx.state, ClientState::Terminated);
    }

    #[test]
    fn non_invite_client_caps_at_t2_and_reliable_sends_once() {
        let mut tx = ClientTx::new(0, udp(), Kind::Other, b"MESSAGE".to_vec());
        let mut sent = Vec::new();
        while let Some(d) = tx.deadline() {
            match tx.on_timer(d) {
                Some(ClientTimer::Retransmit(_)) => sent.push(d),
                _ => break,
            }
        }
        assert_eq!(
            sent,
            vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        let tcp = Peer {
            transport: Transport::Tcp,
            ..udp()
        };
        let mut tx = ClientTx::new(0, tcp, Kind::Other, b"MESSAGE".to_vec());
        assert_eq!(tx.deadline(), Some(32_000));
        assert_eq!(tx.on_timer(32_000), Some(ClientTimer::Timeout));
    }

    #[test]
    fn invite_client_acks_final_retransmissions_then_ends_after_timer_d() {
        let mut tx = ClientTx::new(0, udp(), Kind::Invite, b"INVITE".to_vec());
        assert_eq!(tx.on_response(100, 180), ClientEvent::Pass);
        assert_eq!(tx.deadline(), Some(100 + TIMER_C));
        assert_eq!(tx.on_response(200, 486), ClientEvent::Pass);
        assert_eq!(tx.on_response(300, 486), ClientEvent::ResendAck);
        assert_eq!(tx.deadline(), Some(32_200));
        assert_eq!(tx.on_timer(32_200), Some(ClientTimer::Ended));
    }

    #[test]
    fn invite_server_retransmits_final_until_ack() {
        let mut tx = ServerTx::new(udp(), Kind::Invite, 0);
        assert!(tx.respond(0, 100, b"100".to_vec()).is_some());
        assert_eq!(tx.on_retransmission(), Some(b"100".to_vec()));
        assert!(tx.respond(1000, 486, b"486".to_vec()).is_some());
        assert!(tx.respond(1000, 404, b"404".to_vec()).is_none());
        let mut resent = Vec::new();
        while let Some(d) = tx.deadline() {
            if d > 9000 {
                break;
            }
            let (r, _) = tx.on_timer(d);
            assert_eq!(r.as_deref(), Some(&b"486"[..]));
            resent.push(d);
        }
        assert_eq!(resent, vec![1500, 2500, 4500, 8500]); // Timer G: T1, 2T1, 4T1, T2
        assert!(tx.on_ack(9000));
        assert_eq!(tx.on_retransmission(), None);
        assert_eq!(tx.deadline(), Some(9000 + T4)); // Timer I
        assert_eq!(tx.on_timer(14_000), (None, true));
    }
}
