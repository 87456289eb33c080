//! The sans-IO SIP endpoint: takes one received datagram (bytes, source, transport) and returns
//! what to send, never touching a socket. Parsing is rsip's; this layer refuses what RFC 3261
//! requires a server to refuse (missing mandatory headers) and builds responses that copy the
//! request's Via (with `received`/`rport` per RFC 3581), From, To (with a tag), Call-ID and CSeq.

use std::net::SocketAddr;

use rsip::headers::{ToTypedHeader, UntypedHeader};
use rsip::{Header, Method, SipMessage};

/// Largest SIP message accepted over UDP (RFC 3261 §18.1.1 allows up to 65,535).
pub const MAX_DATAGRAM: usize = 65_535;

/// What the adapter must do.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Send { to: SocketAddr, bytes: Vec<u8> },
}

/// The protocol core. Holds no socket.
#[derive(Debug, Default)]
pub struct Endpoint {
    server: String,
}

/// The methods Gatehouse answers; grows as the registrar and proxy land.
const ALLOW: &str = "OPTIONS";

impl Endpoint {
    pub fn new() -> Self {
        Endpoint {
            server: format!("Gatehouse/{}", crate::version::VERSION),
        }
    }

    /// Handles one datagram from `from`. Garbage and responses yield nothing.
    pub fn on_datagram(&mut self, from: SocketAddr, bytes: &[u8]) -> Vec<Action> {
        if bytes.len() > MAX_DATAGRAM || bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Vec::new(); // keep-alive CRLFs (RFC 5626) and oversize are ignored
        }
        let msg = match SipMessage::try_from(bytes) {
            Ok(m) => m,
            Err(_) => return Vec::new(),
        };
        let req = match msg {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => return Vec::new(),
        };
        // RFC 3261 §8.1.1: To, From, CSeq, Call-ID, Max-Forwards and Via are mandatory; a request
        // without the ones a response needs cannot be answered at all.
        let mut via = None;
        let (mut to, mut from_h, mut call_id, mut cseq) = (None, None, None, None);
        let mut other_vias = Vec::new();
        for h in req.headers.iter() {
            match h {
                Header::Via(v) if via.is_none() => via = Some(v.clone()),
                Header::Via(v) => other_vias.push(Header::Via(v.clone())),
                Header::To(t) if to.is_none() => to = Some(t.clone()),
                Header::From(f) if from_h.is_none() => from_h = Some(f.clone()),
                Header::CallId(c) if call_id.is_none() => call_id = Some(c.clone()),
                Header::CSeq(c) if cseq.is_none() => cseq = Some(c.clone()),
                _ => {}
            }
        }
        let (Some(via), Some(to), Some(from_h), Some(call_id), Some(cseq)) =
            (via, to, from_h, call_id, cseq)
        else {
            return Vec::new();
        };
        // The CSeq method must be the request's (RFC 3261 §8.1.1.5).
        match cseq.typed() {
            Ok(c) if c.method == req.method => {}
            _ => return Vec::new(),
        }
        if req.method == Method::Ack {
            return Vec::new(); // ACK is never answered
        }
        let (code, extra): (u16, Vec<Header>) = match req.method {
            Method::Options => (
                200,
                vec![
                    Header::Allow(ALLOW.into()),
                    Header::Accept("application/sdp".into()),
                    Header::Other("Accept-Encoding".into(), "identity".into()),
                    Header::Other("Accept-Language".into(), "en".into()),
                ],
            ),
            _ => (501, vec![Header::Allow(ALLOW.into())]),
        };
        let mut headers: Vec<Header> = vec![Header::Via(stamp_via(via.value(), from).into())];
        headers.extend(other_vias);
        headers.push(Header::From(from_h));
        headers.push(Header::To(with_tag(to.value(), call_id.value()).into()));
        headers.push(Header::CallId(call_id));
        headers.push(Header::CSeq(cseq));
        headers.extend(extra);
        headers.push(Header::Server(self.server.clone().into()));
        headers.push(Header::ContentLength(0.into()));
        let resp = rsip::Response {
            status_code: code.into(),
            version: rsip::Version::V2,
            headers: headers.into(),
            body: Vec::new(),
        };
        vec![Action::Send {
            to: from,
            bytes: resp.to_string().into_bytes(),
        }]
    }
}

/// Adds `received` and fills `rport` (RFC 3581) on the top Via value.
fn stamp_via(value: &str, from: SocketAddr) -> String {
    let mut parts = value.split(';').map(str::trim);
    let sent = parts.next().unwrap_or("");
    let mut out = sent.to_owned();
    let mut has_received = false;
    for p in parts {
        let name = p
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "rport" => out.push_str(&format!(";rport={}", from.port())),
            "received" => {
                has_received = true;
                out.push_str(&format!(";received={}", from.ip()));
            }
            _ => {
                out.push(';');
                out.push_str(p);
            }
        }
    }
    if !has_received {
        out.push_str(&format!(";received={}", from.ip()));
    }
    out
}

/// The To value with a tag, added when the request had none (RFC 3261 §8.2.6.2). The tag is
/// derived from the Call-ID so retransmissions get the same answer.
fn with_tag(to: &str, call_id: &str) -> String {
    let has_tag = to
        .split(';')
        .skip(1)
        .any(|p| p.trim().to_ascii_lowercase().starts_with("tag="));
    if has_tag {
        to.to_owned()
    } else {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(call_id.as_bytes());
        format!("{to};tag={}", hex::encode(&d[..6]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:gatehouse@10.0.2.15 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.2.2:5070;branch=z9hG4bK-1-0;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:probe@10.0.2.2:5070>;tag=abc\r\n\
To: <sip:gatehouse@10.0.2.15>\r\n\
Call-ID: 1-probe@10.0.2.2\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

    fn answer(text: &str) -> Option<String> {
        let from: SocketAddr = "192.168.1.50:40000".parse().unwrap();
        let mut e = Endpoint::new();
        match e.on_datagram(from, text.as_bytes()).pop() {
            Some(Action::Send { to, bytes }) => {
                assert_eq!(to, from);
                Some(String::from_utf8(bytes).unwrap())
            }
            None => None,
        }
    }

    #[test]
    fn options_gets_200_with_received_rport_and_a_tag() {
        let r = answer(OPTIONS).unwrap();
        assert!(r.starts_with("SIP/2.0 200 OK\r\n"), "{r}");
        assert!(r.contains("Via: SIP/2.0/UDP 10.0.2.2:5070;branch=z9hG4bK-1-0;rport=40000;received=192.168.1.50\r\n"), "{r}");
        assert!(r.contains("To: <sip:gatehouse@10.0.2.15>;tag="), "{r}");
        assert!(r.contains("CSeq: 1 OPTIONS\r\n") && r.contains("Call-ID: 1-probe@10.0.2.2\r\n"));
        assert!(r.contains("Allow: OPTIONS\r\n") && r.contains("Content-Length: 0\r\n"));
        // a retransmission gets the same answer
        assert_eq!(answer(OPTIONS).unwrap(), r);
    }

    #[test]
    fn other_requests_get_501_whatever_the_user() {
        let reg = |user: &str| {
            OPTIONS
                .replace("OPTIONS sip:gatehouse", "REGISTER sip:gatehouse")
                .replace("1 OPTIONS", "1 REGISTER")
                .replace("sip:probe@", &format!("sip:{user}@"))
        };
        let a = answer(&reg("1%2301%238055")).unwrap();
        let b = answer(&reg("nobody")).unwrap();
        assert!(a.starts_with("SIP/2.0 501 "), "{a}");
        assert_eq!(a.lines().next(), b.lines().next());
    }

    #[test]
    fn garbage_responses_and_broken_requests_are_dropped() {
        assert_eq!(answer("\r\n\r\n"), None);
        assert_eq!(answer("hello"), None);
        assert_eq!(answer("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"), None);
        assert_eq!(answer(&OPTIONS.replace("CSeq: 1 OPTIONS\r\n", "")), None);
        assert_eq!(
            answer(&OPTIONS.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE")),
            None
        );
        let mut e = Endpoint::new();
        let from: SocketAddr = "10.0.0.1:5060".parse().unwrap();
        for n in 0..512usize {
            let cut = &OPTIONS.as_bytes()[..n % OPTIONS.len()];
            let _ = e.on_datagram(from, cut);
        }
    }
}
