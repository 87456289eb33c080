//! SIP over TCP (`--sip-addr`) and TLS (`--sips-addr`, rustls with the box certificate): accept
//! loops with a bound on open connections, RFC 3261 §18.3 framing by Content-Length (through the
//! sans-IO [`super::framing::Framer`]), RFC 5626 keep-alive pongs, an idle timeout (and a short
//! one for the first message), and the bounded per-connection send queues the service writes to
//! (registered in [`super::service::Connections`] under the peer's transport and address). When
//! the core sends to a TCP peer that has no open connection, [`Streams::open`] dials one. Owns
//! the stream sockets only: every framed message goes to the core through the service's inbound
//! channel; no protocol rule lives here.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::core::{Peer, Transport};
use super::framing::{Frame, Framer};
use super::service::{Connections, Inbound};

/// Most messages waiting to be written on one connection; more are dropped (the core's
/// retransmissions or the peer's own timers recover).
pub const SEND_QUEUE: usize = 64;
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 8 * 1024;
/// A TLS handshake, an outbound connect or one write may not take longer.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection must bring its first complete message within this time (no slow-loris holding
/// a place for the whole idle timeout).
const FIRST_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the accept loops, the connections and the service's dialer share.
pub struct Streams {
    inbound: mpsc::Sender<Inbound>,
    connections: Connections,
    /// One permit per open connection (inbound or outbound, TCP or TLS).
    limit: Arc<Semaphore>,
    /// A connection with no traffic for this long is closed.
    idle: Duration,
}

impl Streams {
    pub fn new(
        inbound: mpsc::Sender<Inbound>,
        connections: Connections,
        max_connections: usize,
        idle: Duration,
    ) -> Arc<Streams> {
        Arc::new(Streams {
            inbound,
            connections,
            limit: Arc::new(Semaphore::new(max_connections)),
            idle,
        })
    }

    /// The idle timeout for a registrar whose longest registration is `max_expires` seconds:
    /// ten minutes, or longer than a registration so a registered device's connection survives
    /// until its refresh.
    pub fn idle_for(max_expires: u32) -> Duration {
        Duration::from_secs(600).max(Duration::from_secs(u64::from(max_expires) + 60))
    }

    /// Open connections now.
    pub fn open_connections(&self) -> usize {
        self.connections.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Accepts connections on `listener` until `shutdown` completes: plain TCP when `tls` is
    /// `None`, else TLS. A connection beyond the bound is closed at once.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Option<TlsAcceptor>,
        shutdown: impl Future<Output = ()>,
    ) {
        let transport = if tls.is_some() {
            Transport::Tls
        } else {
            Transport::Tcp
        };
        tokio::pin!(shutdown);
        loop {
            let (tcp, addr) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "SIP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let Ok(permit) = self.limit.clone().try_acquire_owned() else {
                tracing::debug!(peer = %addr, "SIP connection refused: too many open");
                drop(tcp);
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let local = match tcp.local_addr() {
                Ok(a) => a,
                Err(_) => continue,
            };
            let peer = Peer { transport, addr };
            let streams = self.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let (tx, rx) = mpsc::channel(SEND_QUEUE);
                match tls {
                    None => streams.run(tcp, peer, local, tx, rx, permit).await,
                    Some(acceptor) => {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(s)) => streams.run(s, peer, local, tx, rx, permit).await,
                            Ok(Err(e)) => {
                                tracing::debug!(%addr, error = %e, "SIP TLS handshake failed")
                            }
                            Err(_) => tracing::debug!(%addr, "SIP TLS handshake timed out"),
                        }
                    }
                }
            });
        }
    }

    /// Sends `bytes` to `peer` on a new outbound connection (the peer had none open, e.g. a
    /// device registered over TCP whose connection closed). Messages sent to the peer while the
    /// connection is being set up wait in its queue. Outbound TLS is not supported: the message
    /// is dropped and logged.
    pub fn open(self: &Arc<Self>, peer: Peer, bytes: Vec<u8>) {
        if peer.transport != Transport::Tcp {
            tracing::debug!(to = %peer.addr, "no outbound SIP TLS connections: message dropped");
            return;
        }
        let Ok(permit) = self.limit.clone().try_acquire_owned() else {
            tracing::debug!(to = %peer.addr, "too many SIP connections: message dropped");
            return;
        };
        let (tx, rx) = mpsc::channel(SEND_QUEUE);
        {
            let Ok(mut map) = self.connections.lock() else {
                return;
            };
            if let Some(existing) = map.get(&peer) {
                let _ = existing.try_send(bytes);
                return;
            }
            let _ = tx.try_send(bytes);
            map.insert(peer, tx.clone());
        }
        let streams = self.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(peer.addr)).await {
                Ok(Ok(tcp)) => {
                    let _ = tcp.set_nodelay(true);
                    match tcp.local_addr() {
                        Ok(local) => streams.run(tcp, peer, local, tx, rx, permit).await,
                        Err(_) => streams.forget(peer, &tx),
                    }
                }
                Ok(Err(e)) => {
                    tracing::debug!(to = %peer.addr, error = %e, "SIP connect failed");
                    streams.forget(peer, &tx);
                }
                Err(_) => {
                    tracing::debug!(to = %peer.addr, "SIP connect timed out");
                    streams.forget(peer, &tx);
                }
            }
        });
    }

    /// Removes `peer`'s entry if it is still this connection's.
    fn forget(&self, peer: Peer, tx: &mpsc::Sender<Vec<u8>>) {
        if let Ok(mut map) = self.connections.lock() {
            if map.get(&peer).is_some_and(|t| t.same_channel(tx)) {
                map.remove(&peer);
            }
        }
    }

    /// Serves one connection until it closes, fails to frame, idles out or the service ends.
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        peer: Peer,
        local: SocketAddr,
        tx: mpsc::Sender<Vec<u8>>,
        mut rx: mpsc::Receiver<Vec<u8>>,
        _permit: OwnedSemaphorePermit,
    ) {
        if let Ok(mut map) = self.connections.lock() {
            map.insert(peer, tx.clone());
        }
        tracing::debug!(peer = %peer.addr, transport = ?peer.transport, "SIP connection open");
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut framer = Framer::sip();
        let mut buf = vec![0u8; READ_CHUNK];
        let first_by = tokio::time::Instant::now() + FIRST_MESSAGE_TIMEOUT.min(self.idle);
        let mut framed_one = false;
        let why = 'conn: loop {
            let wait = if framed_one {
                self.idle
            } else {
                first_by.saturating_duration_since(tokio::time::Instant::now())
            };
            tokio::select! {
                r = tokio::time::timeout(wait, rd.read(&mut buf)) => {
                    let n = match r {
                        Err(_) => break 'conn "idle",
                        Ok(Ok(0)) => break 'conn "closed by peer",
                        Ok(Err(_)) => break 'conn "read error",
                        Ok(Ok(n)) => n,
                    };
                    framer.push(&buf[..n]);
                    loop {
                        match framer.next_frame() {
                            Ok(None) => break,
                            Ok(Some(Frame::Ping)) => {
                                if !write(&mut wr, b"\r\n").await {
                                    break 'conn "write failed";
                                }
                            }
                            Ok(Some(Frame::Message(bytes))) => {
                                framed_one = true;
                                let m = Inbound { peer, local, bytes };
                                if self.inbound.send(m).await.is_err() {
                                    break 'conn "service stopped";
                                }
                            }
                            Err(e) => {
                                tracing::debug!(peer = %peer.addr, error = %e, "SIP framing error");
                                break 'conn "framing error";
                            }
                        }
                    }
                }
                m = rx.recv() => match m {
                    Some(bytes) => {
                        // We opened it (or answer on it): the peer owes us no first message.
                        framed_one = true;
                        if !write(&mut wr, &bytes).await {
                            break 'conn "write failed";
                        }
                    }
                    None => break 'conn "queue closed",
                },
            }
        };
        self.forget(peer, &tx);
        let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
        tracing::debug!(peer = %peer.addr, why, "SIP connection closed");
    }
}

async fn write<W: AsyncWrite + Unpin>(wr: &mut W, bytes: &[u8]) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, async {
            wr.write_all(bytes).await?;
            wr.flush().await
        })
        .await,
        Ok(Ok(()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streams(idle: Duration) -> (Arc<Streams>, mpsc::Receiver<Inbound>, Connections) {
        let (tx, rx) = mpsc::channel(16);
        let connections = Connections::default();
        (
            Streams::new(tx, connections.clone(), 4, idle),
            rx,
            connections,
        )
    }

    const MSG: &[u8] = b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1\r\nl: 0\r\n\r\n";

    #[tokio::test]
    async fn sends_to_a_peer_without_connection_on_a_new_one() {
        let (s, mut inbound, connections) = streams(Duration::from_secs(60));
        let device = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = Peer {
            transport: Transport::Tcp,
            addr: device.local_addr().unwrap(),
        };
        s.open(peer, b"first".to_vec());
        // A second message while connecting waits in the same queue: one connection only.
        s.open(peer, b"second".to_vec());
        let (mut conn, _) = tokio::time::timeout(Duration::from_secs(5), device.accept())
            .await
            .unwrap()
            .unwrap();
        let mut got = Vec::new();
        while got.len() < b"firstsecond".len() {
            let mut buf = [0u8; 64];
            let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "closed early");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"firstsecond");
        // What the device sends back on it reaches the core as from that peer.
        conn.write_all(MSG).await.unwrap();
        let m = tokio::time::timeout(Duration::from_secs(5), inbound.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((m.peer, m.bytes.as_slice()), (peer, MSG));
        // Closed by the device: the entry goes.
        drop(conn);
        for _ in 0..100 {
            if connections.lock().unwrap().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("closed connection still registered");
    }

    #[tokio::test]
    async fn refused_connect_and_tls_are_dropped_and_idle_connections_closed() {
        let (s, _inbound, connections) = streams(Duration::from_millis(200));
        // Nobody listens there: the entry is removed again.
        let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = gone.local_addr().unwrap();
        drop(gone);
        s.open(
            Peer {
                transport: Transport::Tcp,
                addr,
            },
            b"x".to_vec(),
        );
        s.open(
            Peer {
                transport: Transport::Tls,
                addr,
            },
            b"x".to_vec(),
        );
        for _ in 0..100 {
            if connections.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(connections.lock().unwrap().is_empty());
        // An accepted connection with no traffic is closed after the idle time.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(s.clone().serve(l, None, std::future::pending()));
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 8];
        let r = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await;
        assert!(
            matches!(r, Ok(Ok(0)) | Ok(Err(_))),
            "idle connection kept: {r:?}"
        );
    }
}
