//! The SIP torture messages of RFC 4475 §3 (typed in from the RFC, byte for byte, under
//! `tests/sip/torture/`, one file per message named by section and the RFC's file name) sent to
//! the running server over UDP, and some over TCP. For each: no crash (the server answers an
//! OPTIONS afterwards), no hang, and the answer the table below documents — the valid requests
//! are answered (whatever the code: the proxy and registrar decide), the invalid ones get 400 or
//! the 4xx/5xx the RFC suggests, or are dropped when no response can be built; responses are
//! never answered (RFC 3261 §18.1.2) and bad ones are dropped.

mod common;
#[path = "common/sipwire.rs"]
mod sipwire;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use sipwire::{header, options, read_message, status, Read};
use tokio::io::AsyncWriteExt;

/// What the server must do with a message.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A valid request: some final or provisional answer (its code is the core's business).
    Answered,
    /// Answered with exactly this code by the message layer.
    Code(u16),
    /// No answer: a response (never answered) or a request without the headers to answer it.
    Silent,
}
use Expect::*;

/// Every message of RFC 4475 §3, with what is expected and why.
const CASES: &[(&str, Expect, &str)] = &[
    // 3.1.1 Valid messages: parsers must accept them.
    (
        "3.1.1.1-wsinv",
        Answered,
        "folding, odd spacing, compact names, unknown headers: an INVITE",
    ),
    (
        "3.1.1.2-intmeth",
        Code(501),
        "an unknown (valid) method with unusual characters: 501",
    ),
    ("3.1.1.3-esc01", Answered, "% escapes in URIs: an INVITE"),
    (
        "3.1.1.4-escnull",
        Answered,
        "escaped NULs in URIs: a REGISTER",
    ),
    (
        "3.1.1.5-esc02",
        Code(501),
        "RE%47IST%45R is an unknown method, not REGISTER: 501",
    ),
    (
        "3.1.1.6-lwsdisp",
        Answered,
        "no space between display name and <: OPTIONS",
    ),
    (
        "3.1.1.7-longreq",
        Answered,
        "very long values and 34 Vias: an INVITE",
    ),
    (
        "3.1.1.8-dblreq",
        Answered,
        "Content-Length 0 then an INVITE: only the REGISTER counts",
    ),
    (
        "3.1.1.9-semiuri",
        Answered,
        "; in the Request-URI user part: OPTIONS",
    ),
    (
        "3.1.1.10-transports",
        Answered,
        "Via with SCTP, TLS, UNKNOWN transports: OPTIONS",
    ),
    (
        "3.1.1.11-mpart01",
        Answered,
        "multipart body with binary octets: a MESSAGE",
    ),
    (
        "3.1.1.12-unreason",
        Silent,
        "a 200 with a UTF-8 reason: a response, absorbed",
    ),
    (
        "3.1.1.13-noreason",
        Silent,
        "a 100 with an empty reason: a response, absorbed",
    ),
    // 3.1.2 Invalid messages.
    (
        "3.1.2.1-badinv01",
        Code(400),
        "empty Via and Contact parameters",
    ),
    (
        "3.1.2.2-clerr",
        Code(400),
        "Content-Length larger than the datagram's body",
    ),
    ("3.1.2.3-ncl", Code(400), "negative Content-Length"),
    (
        "3.1.2.4-scalar02",
        Code(400),
        "CSeq beyond 2^31 (and Max-Forwards, Expires too large)",
    ),
    (
        "3.1.2.5-scalarlg",
        Silent,
        "a response with overlarge numbers: dropped",
    ),
    (
        "3.1.2.6-quotbal",
        Code(400),
        "unterminated quoted display name",
    ),
    ("3.1.2.7-ltgtruri", Code(400), "Request-URI in <>"),
    ("3.1.2.8-lwsruri", Code(400), "space inside the Request-URI"),
    (
        "3.1.2.9-lwsstart",
        Code(400),
        "several spaces between request-line elements",
    ),
    (
        "3.1.2.10-trws",
        Code(400),
        "spaces after SIP/2.0 (the RFC allows either; we refuse)",
    ),
    (
        "3.1.2.11-escruri",
        Code(400),
        "URI headers (?Route=) in the Request-URI",
    ),
    (
        "3.1.2.12-baddate",
        Answered,
        "a non-GMT Date: the Date is not ours to check, an INVITE",
    ),
    (
        "3.1.2.13-regbadct",
        Code(400),
        "Contact with ? not enclosed in <>",
    ),
    ("3.1.2.14-badaspec", Code(400), "spaces inside <> in To"),
    (
        "3.1.2.15-baddn",
        Code(400),
        "unquoted display name with a comma",
    ),
    ("3.1.2.16-badvers", Code(505), "SIP/7.0"),
    ("3.1.2.17-mismatch01", Code(400), "OPTIONS with CSeq INVITE"),
    (
        "3.1.2.18-mismatch02",
        Code(400),
        "NEWMETHOD with CSeq INVITE",
    ),
    (
        "3.1.2.19-bigcode",
        Silent,
        "a response with a 10-digit status code: dropped",
    ),
    // 3.2 Transaction layer.
    (
        "3.2.1-badbranch",
        Answered,
        "branch is only the magic cookie: still an OPTIONS",
    ),
    // 3.3 Application layer.
    (
        "3.3.1-insuf",
        Silent,
        "no To, From, Call-ID: no response can be built, dropped",
    ),
    ("3.3.2-unkscm", Code(416), "unknown Request-URI scheme"),
    ("3.3.3-novelsc", Code(416), "soap.beep: Request-URI scheme"),
    ("3.3.4-unksm2", Code(416), "REGISTER with an isbn: To URI"),
    (
        "3.3.5-bext01",
        Code(420),
        "Proxy-Require with unknown extensions",
    ),
    (
        "3.3.6-invut",
        Answered,
        "unknown Content-Type: the callee's business, an INVITE",
    ),
    (
        "3.3.7-regaut01",
        Answered,
        "unknown Authorization scheme: a REGISTER (challenged)",
    ),
    (
        "3.3.8-multi01",
        Code(400),
        "two Call-IDs, CSeqs, Tos and Froms",
    ),
    ("3.3.9-mcl01", Code(400), "two Content-Lengths"),
    (
        "3.3.10-bcast",
        Silent,
        "a 200 with a broadcast Via: absorbed, nothing sent there",
    ),
    (
        "3.3.11-zeromf",
        Answered,
        "Max-Forwards 0 OPTIONS: answered by the box itself",
    ),
    (
        "3.3.12-cparam01",
        Answered,
        "Contact parameter without <>: a REGISTER",
    ),
    (
        "3.3.13-cparam02",
        Answered,
        "URI parameter in <>: a REGISTER",
    ),
    (
        "3.3.14-regescrt",
        Answered,
        "escaped Route in a Contact URI: a REGISTER",
    ),
    (
        "3.3.15-sdp01",
        Answered,
        "Accept naming no type we offer: an INVITE",
    ),
    // 3.4 Backward compatibility.
    (
        "3.4.1-inv2543",
        Answered,
        "RFC 2543 INVITE: no branch, no Max-Forwards",
    ),
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/sip/torture/{name}.dat",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The Call-ID a fixture carries (long or compact form).
fn call_id(msg: &[u8]) -> Option<String> {
    header(msg, "Call-ID").or_else(|| header(msg, "i"))
}

/// Datagrams received within `wait` whose Call-ID is `id`.
fn answers_to(sock: &UdpSocket, id: &str, wait: Duration, first_only: bool) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match sock.recv(&mut buf) {
            Ok(n) => {
                let m = buf[..n].to_vec();
                if call_id(&m).as_deref() == Some(id) {
                    got.push(m);
                    if first_only {
                        break;
                    }
                }
            }
            Err(_) => break,
        }
    }
    got
}

fn still_alive(sock: &UdpSocket, n: usize) {
    let id = format!("alive-{n}");
    sock.send(&options("UDP", sock.local_addr().unwrap(), &id))
        .unwrap();
    let got = answers_to(sock, &id, Duration::from_secs(5), true);
    assert!(
        got.first().and_then(|m| status(m)) == Some(200),
        "the server no longer answers OPTIONS (after message {n})"
    );
}

#[test]
fn rfc4475_torture_messages_over_udp() {
    let s = common::Server::start(&[]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(s.sip.unwrap()).unwrap();
    let mut failures = Vec::new();
    for (i, (name, expect, why)) in CASES.iter().enumerate() {
        let bytes = fixture(name);
        let id = call_id(&bytes).unwrap_or_default();
        sock.send(&bytes).unwrap();
        match expect {
            Silent => {
                // Nothing with this Call-ID comes back (a short wait: a drop is immediate).
                let got = answers_to(&sock, &id, Duration::from_millis(300), false);
                if !got.is_empty() {
                    failures.push(format!(
                        "{name} ({why}): answered {:?}",
                        got.iter().map(|m| status(m)).collect::<Vec<_>>()
                    ));
                }
            }
            Answered | Code(_) => {
                let got = answers_to(&sock, &id, Duration::from_secs(5), true);
                let code = got.first().and_then(|m| status(m));
                let ok = match (expect, code) {
                    (Code(want), Some(c)) => c == *want,
                    (Answered, Some(_)) => true,
                    _ => false,
                };
                if !ok {
                    failures.push(format!("{name} ({why}): expected {expect:?}, got {code:?}"));
                }
                if *name == "3.1.1.8-dblreq" {
                    // the answer is the REGISTER's, not the trailing INVITE's
                    let cseq = got.first().and_then(|m| header(m, "CSeq"));
                    assert_eq!(cseq.as_deref(), Some("8 REGISTER"));
                }
            }
        }
        if i % 8 == 7 {
            still_alive(&sock, i);
        }
    }
    still_alive(&sock, CASES.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Over TCP the same bytes are framed by Content-Length: valid messages are answered on the
/// connection, a message refused by the message layer is answered 400 and the connection goes
/// on, and a framing error (negative or conflicting Content-Length) closes the connection.
#[tokio::test]
async fn rfc4475_torture_messages_over_tcp() {
    let s = common::Server::start(&[]);
    let tcp = s.sip_tcp.unwrap();
    let mut c = tokio::net::TcpStream::connect(tcp).await.unwrap();
    let mut pending = Vec::new();
    let wait = Duration::from_secs(5);
    for (name, want) in [
        ("3.1.1.1-wsinv", None),
        ("3.1.1.7-longreq", None),
        ("3.1.1.11-mpart01", None),
        ("3.3.8-multi01", Some(400)),
        ("3.1.2.16-badvers", Some(505)),
        ("3.1.1.6-lwsdisp", Some(200)),
    ] {
        let bytes = fixture(name);
        c.write_all(&bytes).await.unwrap();
        match read_message(&mut c, &mut pending, wait).await {
            Read::Message(m) => {
                assert_eq!(call_id(&m), call_id(&bytes), "{name}");
                if let Some(code) = want {
                    assert_eq!(status(&m), Some(code), "{name}");
                }
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    for name in ["3.1.2.3-ncl", "3.3.9-mcl01"] {
        let mut c = tokio::net::TcpStream::connect(tcp).await.unwrap();
        c.write_all(&fixture(name)).await.unwrap();
        assert!(
            sipwire::closed_within(&mut c, wait).await,
            "{name}: framing error kept the connection open"
        );
    }
    // Content-Length larger than what was sent: the stream waits for the rest, no answer.
    let mut c2 = tokio::net::TcpStream::connect(tcp).await.unwrap();
    c2.write_all(&fixture("3.1.2.2-clerr")).await.unwrap();
    assert_eq!(
        read_message(&mut c2, &mut Vec::new(), Duration::from_millis(500)).await,
        Read::TimedOut
    );
    // The first connection still works.
    let local = c.local_addr().unwrap();
    c.write_all(&options("TCP", local, "tcp-after"))
        .await
        .unwrap();
    match read_message(&mut c, &mut pending, wait).await {
        Read::Message(m) => assert_eq!(status(&m), Some(200)),
        other => panic!("{other:?}"),
    }
}
