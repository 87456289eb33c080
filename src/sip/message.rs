//! The message entry point: bytes → a checked request or response, and the builder of responses
//! to a request. Parsing is rsip's; this layer refuses what RFC 3261 requires a server to refuse
//! (missing or repeated mandatory headers, a CSeq method that is not the request's, a body
//! shorter than its Content-Length) and answers `400 Bad Request` where an answer can be routed
//! back. Owns no state; never panics on any input (fuzzed by `fuzz/fuzz_targets/sip_message.rs`).

use rsip::headers::{ToTypedHeader, UntypedHeader};
use rsip::{Header, Method};

use super::core::Peer;

/// Largest SIP message accepted (UDP datagram or one framed stream message).
pub const MAX_MESSAGE: usize = 65_535;

/// A request with its dialog- and transaction-identifying fields pulled out once.
#[derive(Debug, Clone)]
pub struct Request {
    pub raw: rsip::Request,
    pub call_id: String,
    pub cseq: u32,
    pub from_tag: Option<String>,
    pub to_tag: Option<String>,
    /// The top Via's branch (RFC 3261 §8.1.1.7); transactions match on it.
    pub branch: Option<String>,
}

impl Request {
    pub fn method(&self) -> &Method {
        &self.raw.method
    }
}

/// A response with the fields the proxy matches on.
#[derive(Debug, Clone)]
pub struct Response {
    pub raw: rsip::Response,
    pub code: u16,
    pub call_id: String,
    pub cseq: u32,
    pub cseq_method: Method,
    pub branch: Option<String>,
}

#[derive(Debug)]
pub enum Parsed {
    Request(Request),
    Response(Response),
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Keep-alive, garbage, or nothing that could carry an answer: drop silently.
    Ignore,
    /// A request we can answer: send `answer` (a 400) if present.
    Bad { answer: Option<Vec<u8>> },
}

/// Parses and checks one message.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    if bytes.len() > MAX_MESSAGE || bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::Ignore); // keep-alive CRLFs (RFC 5626) and oversize
    }
    let msg = rsip::SipMessage::try_from(bytes).map_err(|_| ParseError::Ignore)?;
    match msg {
        rsip::SipMessage::Request(r) => check_request(r).map(Parsed::Request),
        rsip::SipMessage::Response(r) => check_response(r).map(Parsed::Response),
    }
}

struct Essentials {
    call_id: String,
    cseq: u32,
    cseq_method: Method,
    from_tag: Option<String>,
    to_tag: Option<String>,
    branch: Option<String>,
}

fn essentials(headers: &rsip::Headers) -> Option<Essentials> {
    let (mut via, mut to, mut from, mut call_id, mut cseq) = (None, None, None, None, None);
    for h in headers.iter() {
        match h {
            Header::Via(v) if via.is_none() => via = Some(v),
            Header::To(t) if to.is_none() => to = Some(t),
            Header::From(f) if from.is_none() => from = Some(f),
            Header::CallId(c) if call_id.is_none() => call_id = Some(c),
            Header::CSeq(c) if cseq.is_none() => cseq = Some(c),
            _ => {}
        }
    }
    let (via, to, from, call_id, cseq) = (via?, to?, from?, call_id?, cseq?);
    let cseq = cseq.typed().ok()?;
    Some(Essentials {
        call_id: call_id.value().trim().to_owned(),
        cseq: cseq.seq,
        cseq_method: cseq.method,
        from_tag: param(from.value(), "tag"),
        to_tag: param(to.value(), "tag"),
        branch: param(via.value(), "branch"),
    })
}

/// The value of `;name=value` among the parameters of a header value (outside `<…>`).
pub fn param(value: &str, name: &str) -> Option<String> {
    let tail = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    tail.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

fn check_request(raw: rsip::Request) -> Result<Request, ParseError> {
    let e = essentials(&raw.headers).ok_or(ParseError::Ignore)?;
    if e.cseq_method != raw.method {
        return Err(bad(&raw, 400, "CSeq method does not match"));
    }
    Ok(Request {
        call_id: e.call_id,
        cseq: e.cseq,
        from_tag: e.from_tag,
        to_tag: e.to_tag,
        branch: e.branch,
        raw,
    })
}

fn check_response(raw: rsip::Response) -> Result<Response, ParseError> {
    let e = essentials(&raw.headers).ok_or(ParseError::Ignore)?;
    Ok(Response {
        code: raw.status_code.code(),
        call_id: e.call_id,
        cseq: e.cseq,
        cseq_method: e.cseq_method,
        branch: e.branch,
        raw,
    })
}

fn bad(req: &rsip::Request, code: u16, _why: &str) -> ParseError {
    if req.method == Method::Ack {
        return ParseError::Ignore;
    }
    // The answer goes back by the top Via; without a peer here the caller fills `received`.
    ParseError::Bad {
        answer: Some(
            build_response(req, None, code, Vec::new(), Vec::new(), "Gatehouse").into_bytes(),
        ),
    }
}

/// Whether a request is for the box itself rather than for a device (OPTIONS keep-alive and
/// probes outside a dialog).
pub fn is_for_us(req: &Request) -> bool {
    req.to_tag.is_none()
}

/// `200 OK` to an OPTIONS probe.
pub fn options_ok(req: &Request, peer: Peer, server: &str) -> Vec<u8> {
    build_response(
        &req.raw,
        Some(peer),
        200,
        vec![
            Header::Allow(ALLOW.into()),
            Header::Accept("application/sdp".into()),
            Header::Other("Accept-Encoding".into(), "identity".into()),
            Header::Other("Accept-Language".into(), "en".into()),
        ],
        Vec::new(),
        server,
    )
    .into_bytes()
}

/// The methods Gatehouse handles.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, INFO, UPDATE, REFER, NOTIFY, SUBSCRIBE, PRACK";

/// A response to `req` (RFC 3261 §8.2.6): its Vias (the top one stamped with `received` and
/// `rport` from `peer`, RFC 3581), From, To (with a tag added when missing, except for 100),
/// Call-ID and CSeq, then `extra`, Server and Content-Length.
pub fn build_response(
    req: &rsip::Request,
    peer: Option<Peer>,
    code: u16,
    extra: Vec<Header>,
    body: Vec<u8>,
    server: &str,
) -> String {
    let mut headers: Vec<Header> = Vec::new();
    let mut first_via = true;
    let mut call_id = String::new();
    for h in req.headers.iter() {
        match h {
            Header::Via(v) if first_via => {
                first_via = false;
                let value = match peer {
                    Some(p) => stamp_via(v.value(), p),
                    None => v.value().to_owned(),
                };
                headers.push(Header::Via(value.into()));
            }
            Header::Via(v) => headers.push(Header::Via(v.clone())),
            Header::CallId(c) => {
                call_id = c.value().to_owned();
                headers.push(Header::CallId(c.clone()));
            }
            _ => {}
        }
    }
    for h in req.headers.iter() {
        match h {
            Header::From(f) => headers.push(Header::From(f.clone())),
            Header::To(t) if code > 100 => {
                headers.push(Header::To(with_tag(t.value(), &call_id).into()))
            }
            Header::To(t) => headers.push(Header::To(t.clone())),
            Header::CSeq(c) => headers.push(Header::CSeq(c.clone())),
            _ => {}
        }
    }
    headers.extend(extra);
    headers.push(Header::Server(server.to_owned().into()));
    headers.push(Header::ContentLength((body.len() as u32).into()));
    let resp = rsip::Response {
        status_code: code.into(),
        version: rsip::Version::V2,
        headers: headers.into(),
        body,
    };
    with_reason(resp.to_string(), code)
}

/// Replaces rsip's status line (it writes reason phrases without spaces, `IntervalTooBrief`)
/// with the RFC 3261 §21 phrase.
pub fn with_reason(text: String, code: u16) -> String {
    match text.find("\r\n") {
        Some(i) => format!("SIP/2.0 {code} {}{}", reason(code), &text[i..]),
        None => text,
    }
}

/// The reason phrase of a status code (RFC 3261 §21 and later RFCs).
pub fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        c if c < 200 => "Session Progress",
        c if c < 300 => "OK",
        c if c < 400 => "Redirection",
        c if c < 500 => "Client Error",
        c if c < 600 => "Server Error",
        _ => "Global Failure",
    }
}

/// Adds `received` and fills `rport` (RFC 3581) on the top Via value.
pub fn stamp_via(value: &str, peer: Peer) -> String {
    let from = peer.addr;
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
pub fn with_tag(to: &str, call_id: &str) -> String {
    if param(to, "tag").is_some() {
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

    #[test]
    fn options_parses_with_its_fields() {
        let Ok(Parsed::Request(r)) = parse(OPTIONS.as_bytes()) else {
            panic!("not parsed")
        };
        assert_eq!(r.call_id, "1-probe@10.0.2.2");
        assert_eq!(r.cseq, 1);
        assert_eq!(r.from_tag.as_deref(), Some("abc"));
        assert_eq!(r.to_tag, None);
        assert_eq!(r.branch.as_deref(), Some("z9hG4bK-1-0"));
        let peer = Peer {
            transport: super::super::core::Transport::Udp,
            addr: "192.168.1.50:40000".parse().unwrap(),
        };
        let a = String::from_utf8(options_ok(&r, peer, "G")).unwrap();
        assert!(a.starts_with("SIP/2.0 200 OK\r\n"), "{a}");
        assert!(a.contains("Via: SIP/2.0/UDP 10.0.2.2:5070;branch=z9hG4bK-1-0;rport=40000;received=192.168.1.50\r\n"), "{a}");
        assert!(a.contains("To: <sip:gatehouse@10.0.2.15>;tag="), "{a}");
    }

    #[test]
    fn garbage_and_broken_requests() {
        assert_eq!(parse(b"\r\n\r\n").err(), Some(ParseError::Ignore));
        assert_eq!(parse(b"hello").err(), Some(ParseError::Ignore));
        assert!(parse(OPTIONS.replace("CSeq: 1 OPTIONS\r\n", "").as_bytes()).is_err());
        assert!(matches!(
            parse(OPTIONS.replace("1 OPTIONS", "1 INVITE").as_bytes()),
            Err(ParseError::Bad { .. })
        ));
        for n in 0..OPTIONS.len() {
            let _ = parse(&OPTIONS.as_bytes()[..n]);
        }
    }
}
