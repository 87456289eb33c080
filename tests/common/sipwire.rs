//! SIP on the wire for the transport and torture tests: build an OPTIONS, read one message off
//! a stream (headers to CRLFCRLF, then Content-Length body octets), pick out a header, and a TLS
//! client that accepts any server certificate (the tests compare its fingerprint themselves).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// An OPTIONS for the box (no To tag) with the given transport name in its Via.
pub fn options(transport: &str, local: std::net::SocketAddr, call_id: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:gatehouse@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bK-{call_id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{local}>;tag=t-{call_id}\r\n\
         To: <sip:gatehouse@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The value of the first header `name` (or its compact form) in a message.
pub fn header(msg: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(msg);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    head.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// The status code of a response.
pub fn status(msg: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(msg);
    let line = text.split("\r\n").next()?;
    line.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// What a read from a stream gave.
#[derive(Debug, PartialEq)]
pub enum Read {
    Message(Vec<u8>),
    /// The peer closed (EOF or reset).
    Closed,
    TimedOut,
}

/// Reads one SIP message from `s` within `wait`; `pending` holds bytes read past it.
pub async fn read_message<S: AsyncRead + Unpin>(
    s: &mut S,
    pending: &mut Vec<u8>,
    wait: Duration,
) -> Read {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let len: usize = header(&pending[..end + 4], "Content-Length")
                .or_else(|| header(&pending[..end + 4], "l"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if pending.len() >= end + 4 + len {
                let rest = pending.split_off(end + 4 + len);
                return Read::Message(std::mem::replace(pending, rest));
            }
        }
        let mut buf = [0u8; 4096];
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return Read::TimedOut,
            Ok(Ok(0)) | Ok(Err(_)) => return Read::Closed,
            Ok(Ok(n)) => pending.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads raw bytes (at most `max`) within `wait`.
pub async fn read_raw<S: AsyncRead + Unpin>(s: &mut S, max: usize, wait: Duration) -> Read {
    let mut buf = vec![0u8; max];
    match tokio::time::timeout(wait, s.read(&mut buf)).await {
        Err(_) => Read::TimedOut,
        Ok(Ok(0)) | Ok(Err(_)) => Read::Closed,
        Ok(Ok(n)) => Read::Message(buf[..n].to_vec()),
    }
}

/// Waits until the peer closes `s` (reading and discarding), or `wait` passes.
pub async fn closed_within<S: AsyncRead + Unpin>(s: &mut S, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS connection to `addr` that accepts whatever certificate the server shows (the box's
/// self-signed one); returns the stream and the SHA-256 of the certificate, hex with colons as
/// the API shows it.
pub async fn tls_connect(
    addr: std::net::SocketAddr,
) -> (
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    String,
) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("TLS port accepts");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .expect("server certificate")
        .clone();
    use sha2::Digest;
    let fp = sha2::Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    (tls, fp)
}
