//! SIP over TCP and TLS against the running server, with real sockets: OPTIONS over TCP (same
//! port as UDP) and TLS (the box certificate, and an uploaded one for new connections), two
//! messages in one segment, one message in many writes, the RFC 5626 keep-alive (CRLFCRLF →
//! CRLF), the connection closed on a framing error (oversize header, no Content-Length), the
//! connection bound, and SIPp's TCP transport (`-t t1`). Fails loudly when sipp is missing.

mod common;
#[path = "common/sipwire.rs"]
mod sipwire;

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use sipwire::{closed_within, header, options, read_message, read_raw, status, Read};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);

async fn expect_200<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    pending: &mut Vec<u8>,
    call_id: &str,
) -> Vec<u8> {
    match read_message(s, pending, WAIT).await {
        Read::Message(m) => {
            assert_eq!(status(&m), Some(200), "{}", String::from_utf8_lossy(&m));
            assert_eq!(header(&m, "Call-ID").as_deref(), Some(call_id));
            m
        }
        other => panic!("no answer to {call_id}: {other:?}"),
    }
}

#[tokio::test]
async fn options_over_tcp_and_tls_with_the_box_certificate() {
    let s = common::Server::start(&[]);
    let (udp, tcp, tls) = (s.sip.unwrap(), s.sip_tcp.unwrap(), s.sip_tls.unwrap());
    assert_eq!(udp, tcp, "TCP listens on the UDP address and port");
    assert_ne!(tls.port(), tcp.port());

    let mut c = TcpStream::connect(tcp).await.unwrap();
    let local = c.local_addr().unwrap();
    c.write_all(&options("TCP", local, "tcp-1")).await.unwrap();
    let mut pending = Vec::new();
    let m = expect_200(&mut c, &mut pending, "tcp-1").await;
    let via = header(&m, "Via").unwrap();
    assert!(
        via.contains(&format!("rport={}", local.port())) && via.contains("received=127.0.0.1"),
        "{via}"
    );

    // TLS: the certificate served is the box's (the API's fingerprint).
    common::setup(&s).await;
    let tok = common::admin_token(&s).await;
    let info = common::api_ok(&s, &tok, reqwest::Method::GET, "/api/v1/certificate", None).await;
    let (mut t, fp) = sipwire::tls_connect(tls).await;
    assert_eq!(json!(fp), info["sha256_fingerprint"]);
    let local = t.get_ref().0.local_addr().unwrap();
    t.write_all(&options("TLS", local, "tls-1")).await.unwrap();
    let mut pending = Vec::new();
    expect_200(&mut t, &mut pending, "tls-1").await;

    // An uploaded certificate is served on the next connection, the open one keeps working.
    let key = rcgen::KeyPair::generate().unwrap();
    let p = rcgen::CertificateParams::new(vec!["gate.example.org".to_string()]).unwrap();
    let cert = p.self_signed(&key).unwrap().pem();
    let r = common::client()
        .put(s.url("/api/v1/certificate"))
        .bearer_auth(&tok)
        .json(&json!({"certificate_pem": cert, "private_key_pem": key.serialize_pem()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let uploaded: serde_json::Value = r.json().await.unwrap();
    let (mut t2, fp2) = sipwire::tls_connect(tls).await;
    assert_eq!(json!(fp2), uploaded["sha256_fingerprint"]);
    assert_ne!(fp2, fp);
    let local2 = t2.get_ref().0.local_addr().unwrap();
    t2.write_all(&options("TLS", local2, "tls-2"))
        .await
        .unwrap();
    expect_200(&mut t2, &mut Vec::new(), "tls-2").await;
    t.write_all(&options("TLS", local, "tls-3")).await.unwrap();
    expect_200(&mut t, &mut pending, "tls-3").await;
}

#[tokio::test]
async fn framing_two_in_one_segment_one_in_many_writes_and_keepalive() {
    let s = common::Server::start(&[]);
    let mut c = TcpStream::connect(s.sip_tcp.unwrap()).await.unwrap();
    c.set_nodelay(true).unwrap();
    let local = c.local_addr().unwrap();
    let mut pending = Vec::new();

    // Two messages in one write (one segment on loopback).
    let mut both = options("TCP", local, "two-a");
    both.extend(options("TCP", local, "two-b"));
    c.write_all(&both).await.unwrap();
    expect_200(&mut c, &mut pending, "two-a").await;
    expect_200(&mut c, &mut pending, "two-b").await;

    // One message in many small writes, with pauses so they are separate segments.
    let msg = options("TCP", local, "split");
    for chunk in msg.chunks(7) {
        c.write_all(chunk).await.unwrap();
        c.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    expect_200(&mut c, &mut pending, "split").await;

    // RFC 5626 keep-alive: a double CRLF ping is answered with a single CRLF pong.
    c.write_all(b"\r\n\r\n").await.unwrap();
    assert_eq!(
        read_raw(&mut c, 16, WAIT).await,
        Read::Message(b"\r\n".to_vec())
    );
    // Still framed correctly afterwards.
    c.write_all(&options("TCP", local, "after-ping"))
        .await
        .unwrap();
    expect_200(&mut c, &mut pending, "after-ping").await;
}

#[tokio::test]
async fn framing_errors_close_the_connection() {
    let s = common::Server::start(&[]);
    let tcp = s.sip_tcp.unwrap();

    // A header block over 16 KiB.
    let mut c = TcpStream::connect(tcp).await.unwrap();
    let mut big = b"OPTIONS sip:gatehouse@127.0.0.1 SIP/2.0\r\n".to_vec();
    while big.len() < 17 * 1024 {
        big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    c.write_all(&big).await.unwrap();
    assert!(
        closed_within(&mut c, WAIT).await,
        "oversize header kept open"
    );

    // No Content-Length on a stream.
    let mut c = TcpStream::connect(tcp).await.unwrap();
    let local = c.local_addr().unwrap();
    let msg = String::from_utf8(options("TCP", local, "no-cl")).unwrap();
    c.write_all(msg.replace("Content-Length: 0\r\n", "").as_bytes())
        .await
        .unwrap();
    assert!(
        closed_within(&mut c, WAIT).await,
        "no Content-Length kept open"
    );

    // A negative Content-Length.
    let mut c = TcpStream::connect(tcp).await.unwrap();
    c.write_all(
        msg.replace("Content-Length: 0", "Content-Length: -1")
            .as_bytes(),
    )
    .await
    .unwrap();
    assert!(
        closed_within(&mut c, WAIT).await,
        "bad Content-Length kept open"
    );

    // The server still serves new connections.
    let mut c = TcpStream::connect(tcp).await.unwrap();
    let local = c.local_addr().unwrap();
    c.write_all(&options("TCP", local, "still")).await.unwrap();
    expect_200(&mut c, &mut Vec::new(), "still").await;
}

#[tokio::test]
async fn connections_beyond_the_bound_are_closed() {
    let s = common::Server::start(&["--sip-max-connections", "3"]);
    let tcp = s.sip_tcp.unwrap();
    let mut open = Vec::new();
    for i in 0..3 {
        let mut c = TcpStream::connect(tcp).await.unwrap();
        let local = c.local_addr().unwrap();
        let id = format!("bound-{i}");
        c.write_all(&options("TCP", local, &id)).await.unwrap();
        expect_200(&mut c, &mut Vec::new(), &id).await;
        open.push(c);
    }
    // The fourth (TCP or TLS: one bound for both) is closed at once, without an answer.
    let mut c = TcpStream::connect(tcp).await.unwrap();
    let local = c.local_addr().unwrap();
    let _ = c.write_all(&options("TCP", local, "bound-4")).await;
    assert!(closed_within(&mut c, WAIT).await, "4th connection served");
    let mut c = TcpStream::connect(s.sip_tls.unwrap()).await.unwrap();
    assert!(
        closed_within(&mut c, WAIT).await,
        "4th (TLS) connection served"
    );
    // Closing one frees its place.
    drop(open.pop());
    let mut served = false;
    for _ in 0..50 {
        let mut c = TcpStream::connect(tcp).await.unwrap();
        let local = c.local_addr().unwrap();
        let _ = c.write_all(&options("TCP", local, "bound-5")).await;
        if let Read::Message(m) = read_message(&mut c, &mut Vec::new(), WAIT).await {
            assert_eq!(status(&m), Some(200));
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "a place freed by a closed connection is not reused");
}

#[test]
fn sipp_options_over_tcp() {
    let s = common::Server::start(&[]);
    let tcp = s.sip_tcp.expect("the log names the SIP TCP address");
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sip/options.xml");
    let out = Command::new("sipp")
        .args([&tcp.to_string(), "-sf", scenario, "-t", "t1", "-m", "3"])
        .args(["-timeout", "10s", "-timeout_error", "-i", "127.0.0.1"])
        .args(["-p", &port.to_string(), "-nostdin", "-trace_err"])
        .current_dir(std::env::temp_dir())
        .output()
        .expect("sipp is missing: apt-get install sip-tester");
    assert!(
        out.status.success(),
        "sipp over TCP failed ({:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
