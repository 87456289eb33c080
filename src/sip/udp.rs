//! The UDP adapter for SIP: one socket on `--sip-addr`, each datagram handed to the sans-IO
//! [`Endpoint`](super::endpoint::Endpoint), each action sent. Owns the socket only.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::UdpSocket;

use super::endpoint::{Action, Endpoint, MAX_DATAGRAM};

/// Binds `addr` (UDP).
pub async fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    UdpSocket::bind(addr).await
}

/// Serves SIP over UDP until `shutdown` completes.
pub async fn serve(socket: UdpSocket, shutdown: impl Future<Output = ()>) {
    let mut endpoint = Endpoint::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    tokio::pin!(shutdown);
    loop {
        let (n, from) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP port-unreachable from an earlier send shows up here on Linux.
                    tracing::debug!(error = %e, "SIP UDP receive failed");
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        for action in endpoint.on_datagram(from, &buf[..n]) {
            match action {
                Action::Send { to, bytes } => {
                    if let Err(e) = socket.send_to(&bytes, to).await {
                        tracing::debug!(%to, error = %e, "SIP UDP send failed");
                    }
                }
            }
        }
    }
}
