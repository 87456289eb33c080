//! The proxy fed message by message and tick by tick, its actions checked byte for byte.

use std::collections::HashMap;

use super::*;
use crate::intercom::registrations::digits_alias;
use crate::intercom::ringing::DeviceKind;
use crate::sip::directory::{Directory, Room};
use crate::sip::location::Binding;

const US: &str = "10.0.0.1:5060";
const VTO: &str = "192.168.1.10:5060";
const T0: Millis = 1_700_000_000_000;

fn udp(a: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: a.parse().unwrap(),
    }
}

fn user(device: u64, number: &str, kind: DeviceKind, room: Option<u64>) -> User {
    User {
        device,
        name: format!("d{device}"),
        number: number.into(),
        alias: digits_alias(number),
        kind,
        building: Some(1),
        unit: Some(10),
        room,
        password: "pw".into(),
    }
}

fn binding(device: u64, ip: &str) -> Binding {
    Binding {
        device,
        contact: format!("sip:d{device}@{ip}:5060"),
        peer: udp(&format!("{ip}:5060")),
        expires_at: T0 + 3_600_000,
        user_agent: "ua".into(),
        call_id: format!("reg{device}"),
        cseq: 1,
        since: T0,
        last_seen: T0,
        ours: US.into(),
    }
}

/// VTO 1 at the door; room 11 with VTHs 2 and 3; managers 4 and 5 (the VTO's call group, 5 s
/// each); VTH 6 without a binding.
fn core() -> Core {
    let users = vec![
        user(1, "11#01#8055", DeviceKind::Vto, None),
        user(2, "11#01#11", DeviceKind::Vth, Some(100)),
        user(3, "11#01#11#2", DeviceKind::Vth, Some(100)),
        user(4, "888801", DeviceKind::ManagerClient, None),
        user(5, "888802", DeviceKind::ManagerClient, None),
        user(6, "11#01#12", DeviceKind::Vth, Some(101)),
    ];
    let rooms = vec![
        Room::new(100, "11#01#11", "11", Some(10), 1),
        Room::new(101, "11#01#12", "12", Some(10), 1),
    ];
    let mut centre = HashMap::new();
    centre.insert(
        1,
        Route::InTurn {
            devices: vec![4, 5],
            ring_seconds: 5,
        },
    );
    let dir = Directory::build(users, rooms, centre, "888888".into());
    let bindings = vec![
        binding(2, "192.168.1.2"),
        binding(3, "192.168.1.3"),
        binding(4, "192.168.1.4"),
        binding(5, "192.168.1.5"),
    ];
    let cfg = CoreConfig {
        realm: "gatehouse".into(),
        udp_addr: US.parse().unwrap(),
        tcp_addr: US.parse().unwrap(),
        tls_addr: "10.0.0.1:5061".parse().unwrap(),
        keepalive_interval_ms: 30_000,
        ban_threshold: 10,
        ban_duration_ms: 60_000,
        rate_limit: 1_000,
        min_expires: 60,
        max_expires: 3600,
        server: "GH".into(),
        secret: [7; 32],
        digest_algorithms: vec!["MD5", "SHA-256"],
    };
    Core::new(cfg, dir, bindings, T0)
}

fn feed(c: &mut Core, now: Millis, from: &str, msg: &str) -> Vec<(String, String)> {
    sends(c.on_message(now, udp(from), US.parse().unwrap(), msg.as_bytes()))
}

fn sends(actions: Vec<Action>) -> Vec<(String, String)> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Send { peer, bytes } => {
                Some((peer.addr.to_string(), String::from_utf8(bytes).unwrap()))
            }
            _ => None,
        })
        .collect()
}

fn records(actions: &[Action]) -> Vec<CallRecord> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::CallEnded(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// Fires every timer due at `now`; the registrar's keep-alive probes are left out.
fn tick(c: &mut Core, now: Millis) -> Vec<Action> {
    let mut all = Vec::new();
    while c.proxy.next_deadline().is_some_and(|d| d <= now) {
        all.extend(c.on_tick(now));
    }
    all.retain(|a| !matches!(a, Action::Send { bytes, .. } if bytes.starts_with(b"OPTIONS ")));
    all
}

/// Our branch in a message we sent.
fn our_branch(msg: &str) -> String {
    let via = msg.lines().find(|l| l.starts_with("Via: ")).unwrap();
    message::param(via, "branch").unwrap()
}

fn line<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {msg}"))
}

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

/// `Proxy-Authorization` for `user` (password "pw") on `method uri`, with a nonce of `now`.
fn credentials(c: &Core, now: Millis, user: &str, method: &str, uri: &str) -> String {
    use md5::{Digest, Md5};
    let h = |s: String| hex::encode(Md5::digest(s.as_bytes()));
    static NC: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let nc = format!(
        "{:08x}",
        NC.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let nonce = c.auth.nonce(now);
    let ha1 = h(format!("{user}:gatehouse:pw"));
    let ha2 = h(format!("{method}:{uri}"));
    let resp = h(format!("{ha1}:{nonce}:{nc}:c0ffee:auth:{ha2}"));
    format!(
        "Proxy-Authorization: Digest username=\"{user}\", realm=\"gatehouse\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm=MD5, qop=auth, nc={nc}, cnonce=\"c0ffee\"\r\n"
    )
}

/// An INVITE from the door station, with its credentials.
fn invite(c: &Core, to: &str, branch: &str) -> String {
    let auth = credentials(
        c,
        T0,
        "11%2301%238055",
        "INVITE",
        &format!("sip:{to}@10.0.0.1"),
    );
    format!(
        "INVITE sip:{to}@10.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.10:5060;branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
{auth}\
From: <sip:11%2301%238055@10.0.0.1>;tag=vto1\r\n\
To: <sip:{to}@10.0.0.1>\r\n\
Call-ID: call-1@192.168.1.10\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:vto@192.168.1.10:5060>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

/// An answer from a callee to what we sent it (`sent`), with `code` and a To tag.
fn answer(sent: &str, code: u16, reason: &str, tag: &str) -> String {
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    for l in sent.lines().skip(1) {
        if l.is_empty() {
            break;
        }
        if l.starts_with("Via:")
            || l.starts_with("From:")
            || l.starts_with("Call-ID:")
            || l.starts_with("CSeq:")
            || l.starts_with("Record-Route:")
        {
            out.push_str(l);
            out.push_str("\r\n");
        } else if l.starts_with("To:") {
            out.push_str(l);
            if code > 100 {
                out.push_str(&format!(";tag={tag}"));
            }
            out.push_str("\r\n");
        }
    }
    if (200..300).contains(&code) {
        out.push_str(&format!("Contact: <sip:{tag}@192.168.1.3:5060>\r\n"));
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

#[test]
fn a_door_station_rings_both_monitors_the_first_answer_wins_and_bye_ends_the_call() {
    let mut c = core();
    let inv = invite(&c, "11%2301%2311", "z9hG4bKvto-1");
    let out = feed(&mut c, T0, VTO, &inv);
    assert_eq!(out.len(), 3, "{out:#?}");
    assert_eq!(out[0].0, VTO);
    assert_eq!(
        out[0].1,
        "SIP/2.0 100 Trying\r\n\
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKvto-1;rport=5060;received=192.168.1.10\r\n\
Call-ID: call-1@192.168.1.10\r\n\
From: <sip:11%2301%238055@10.0.0.1>;tag=vto1\r\n\
To: <sip:11%2301%2311@10.0.0.1>\r\n\
CSeq: 1 INVITE\r\n\
Server: GH\r\n\
Content-Length: 0\r\n\r\n"
    );
    let (to2, to3) = (&out[1], &out[2]);
    assert_eq!(to2.0, "192.168.1.2:5060");
    assert_eq!(to3.0, "192.168.1.3:5060");
    let b2 = our_branch(&to2.1);
    let b3 = our_branch(&to3.1);
    assert_ne!(b2, b3);
    assert!(b2.starts_with("z9hG4bK"));
    assert_eq!(
        to2.1,
        format!(
            "INVITE sip:d2@192.168.1.2:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch={b2};rport\r\n\
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKvto-1;rport=5060;received=192.168.1.10\r\n\
Record-Route: <sip:10.0.0.1:5060;transport=udp;lr>\r\n\
Max-Forwards: 69\r\n\
From: <sip:11%2301%238055@10.0.0.1>;tag=vto1\r\n\
To: <sip:11%2301%2311@10.0.0.1>\r\n\
Call-ID: call-1@192.168.1.10\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:vto@192.168.1.10:5060>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{SDP}",
            SDP.len()
        )
    );
    // Both ring; the ringing goes up without our Via.
    let up = feed(
        &mut c,
        T0 + 10,
        "192.168.1.2:5060",
        &answer(&to2.1, 180, "Ringing", "vth2"),
    );
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].0, VTO);
    assert!(up[0].1.starts_with("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKvto-1;rport=5060;received=192.168.1.10\r\nRecord-Route"), "{}", up[0].1);
    assert!(!up[0].1.contains(&b2));
    feed(
        &mut c,
        T0 + 10,
        "192.168.1.3:5060",
        &answer(&to3.1, 180, "Ringing", "vth3"),
    );
    let live = c.live_calls();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].ringing, vec![2, 3]);
    // The INVITE retransmitted by the caller gets the last answer again, and is not forwarded.
    let again = feed(&mut c, T0 + 500, VTO, &inv);
    assert_eq!(again.len(), 1);
    assert!(again[0].1.starts_with("SIP/2.0 180 Ringing\r\n"));
    // VTH 3 answers: 200 goes up, VTH 2 gets CANCEL.
    let ok = answer(&to3.1, 200, "OK", "vth3");
    let out = feed(&mut c, T0 + 2000, "192.168.1.3:5060", &ok);
    assert_eq!(out.len(), 2, "{out:#?}");
    assert_eq!(out[0].0, VTO);
    assert!(out[0].1.starts_with("SIP/2.0 200 OK\r\n"));
    assert_eq!(out[1].0, "192.168.1.2:5060");
    assert_eq!(
        out[1].1,
        format!(
            "CANCEL sip:d2@192.168.1.2:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch={b2};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:11%2301%238055@10.0.0.1>;tag=vto1\r\n\
To: <sip:11%2301%2311@10.0.0.1>\r\n\
Call-ID: call-1@192.168.1.10\r\n\
CSeq: 1 CANCEL\r\n\
Content-Length: 0\r\n\r\n"
        )
    );
    // VTH 2 answers the CANCEL and 487s the INVITE: we ACK the 487 ourselves, nothing goes up.
    let out = feed(
        &mut c,
        T0 + 2010,
        "192.168.1.2:5060",
        &answer(&out[1].1, 200, "OK", "vth2"),
    );
    assert!(out.is_empty(), "{out:#?}");
    let out = feed(
        &mut c,
        T0 + 2020,
        "192.168.1.2:5060",
        &answer(&to2.1, 487, "Request Terminated", "vth2"),
    );
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(
        out[0].1,
        format!(
            "ACK sip:d2@192.168.1.2:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch={b2};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:11%2301%238055@10.0.0.1>;tag=vto1\r\n\
To: <sip:11%2301%2311@10.0.0.1>;tag=vth2\r\n\
Call-ID: call-1@192.168.1.10\r\n\
CSeq: 1 ACK\r\n\
Content-Length: 0\r\n\r\n"
        )
    );
    // A retransmitted 487 gets the same ACK again.
    let out = feed(
        &mut c,
        T0 + 2500,
        "192.168.1.2:5060",
        &answer(&to2.1, 487, "Request Terminated", "vth2"),
    );
    assert_eq!(out.len(), 1);
    assert!(out[0].1.starts_with("ACK "));
    let live = c.live_calls();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].answered_by, Some(3));
    // The caller's ACK for the 2xx goes end to end by the Route set.
    let ack = "ACK sip:vth3@192.168.1.3:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKvto-2;rport\r\n\
Route: <sip:10.0.0.1:5060;transport=udp;lr>\r\n\
Max-Forwards: 70\r\n\
From: <sip:11%2301%238055@10.0.0.1>;tag=vto1\r\n\
To: <sip:11%2301%2311@10.0.0.1>;tag=vth3\r\n\
Call-ID: call-1@192.168.1.10\r\n\
CSeq: 1 ACK\r\n\
Content-Length: 0\r\n\r\n";
    let out = feed(&mut c, T0 + 2100, VTO, ack);
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].0, "192.168.1.3:5060");
    let b = our_branch(&out[0].1);
    assert_eq!(
        out[0].1,
        format!(
            "ACK sip:vth3@192.168.1.3:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch={b};rport\r\n\
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKvto-2;rport=5060;received=192.168.1.10\r\n\
Max-Forwards: 69\r\n\
From: <sip:11%2301%238055@10.0.0.1>;tag=vto1\r\n\
To: <sip:11%2301%2311@10.0.0.1>;tag=vth3\r\n\
Call-ID: call-1@192.168.1.10\r\n\
CSeq: 1 ACK\r\n\
Content-Length: 0\r\n\r\n"
        )
    );
    // The monitor hangs up: the BYE goes to the caller's contact and ends the call record.
    let bye = "BYE sip:vto@192.168.1.10:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.3:5060;branch=z9hG4bKvth3-9;rport\r\n\
Route: <sip:10.0.0.1:5060;transport=udp;lr>\r\n\
Max-Forwards: 70\r\n\
From: <sip:11%2301%2311@10.0.0.1>;tag=vth3\r\n\
To: <sip:11%2301%238055@10.0.0.1>;tag=vto1\r\n\
Call-ID: call-1@192.168.1.10\r\n\
CSeq: 7 BYE\r\n\
Content-Length: 0\r\n\r\n";
    let acts = c.on_message(
        T0 + 60_000,
        udp("192.168.1.3:5060"),
        US.parse().unwrap(),
        bye.as_bytes(),
    );
    let recs = records(&acts);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r.status, CallStatus::Answered);
    assert_eq!(r.caller_number, "11#01#8055");
    assert_eq!(r.caller_device, Some(1));
    assert_eq!(r.callee_number, "11#01#11");
    assert_eq!(r.callee_devices, vec![2, 3]);
    assert_eq!(
        (r.started, r.answered, r.ended),
        (T0, Some(T0 + 2000), T0 + 60_000)
    );
    assert_eq!(r.answered_by, Some(3));
    assert_eq!(r.duration_seconds(), 58);
    let out = sends(acts);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, VTO);
    let bb = our_branch(&out[0].1);
    assert!(out[0].1.starts_with(&format!("BYE sip:vto@192.168.1.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={bb};rport\r\nVia: SIP/2.0/UDP 192.168.1.3:5060;branch=z9hG4bKvth3-9;rport=5060;received=192.168.1.3\r\nMax-Forwards: 69\r\n")), "{}", out[0].1);
    assert!(!out[0].1.contains("Route:"));
    let up = feed(&mut c, T0 + 60_010, VTO, &answer(&out[0].1, 200, "OK", "x"));
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].0, "192.168.1.3:5060");
    assert!(up[0]
        .1
        .starts_with("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.168.1.3:5060;branch=z9hG4bKvth3-9;"));
    assert!(c.live_calls().is_empty());
    // Everything is cleaned up by the timers.
    tick(&mut c, T0 + 200_000);
    assert!(c.proxy.server.is_empty() && c.proxy.client.is_empty() && c.proxy.calls.is_empty());
    tick(&mut c, T0 + MAX_DIALOG_AGE + 10_000);
    assert_eq!(c.proxy.next_deadline(), None);
}

#[test]
fn retransmissions_on_udp_stop_at_the_first_answer() {
    let mut c = core();
    let m = invite(&c, "11%2301%2311%232", "z9hG4bKr-1");
    let out = feed(&mut c, T0, VTO, &m);
    assert_eq!(out.len(), 2);
    let sent = out[1].1.clone();
    assert_eq!(c.proxy.next_deadline(), Some(T0 + 500)); // Timer A
    let again = sends(tick(&mut c, T0 + 500));
    assert_eq!(again, vec![("192.168.1.3:5060".to_string(), sent.clone())]);
    assert_eq!(c.proxy.next_deadline(), Some(T0 + 1500));
    feed(
        &mut c,
        T0 + 600,
        "192.168.1.3:5060",
        &answer(&sent, 100, "Trying", ""),
    );
    assert!(sends(tick(&mut c, T0 + 10_000)).is_empty());
}

#[test]
fn busy_callee_gives_the_caller_486_acked_hop_by_hop() {
    let mut c = core();
    let inv = invite(&c, "11%2301%2311%232", "z9hG4bKb-1");
    let out = feed(&mut c, T0, VTO, &inv);
    let sent = out[1].1.clone();
    let acts = c.on_message(
        T0 + 100,
        udp("192.168.1.3:5060"),
        US.parse().unwrap(),
        answer(&sent, 486, "Busy Here", "vth3").as_bytes(),
    );
    let recs = records(&acts);
    let out = sends(acts);
    assert_eq!(out.len(), 2, "{out:#?}");
    assert!(out[0]
        .1
        .starts_with("ACK sip:d3@192.168.1.3:5060 SIP/2.0\r\n"));
    assert_eq!(out[1].0, VTO);
    assert!(out[1].1.starts_with("SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKb-1;rport=5060;received=192.168.1.10\r\n"), "{}", out[1].1);
    assert_eq!(recs.len(), 1);
    assert_eq!((recs[0].status, recs[0].sip_code), (CallStatus::Busy, 486));
    // Timer G repeats the 486 until the caller's ACK, which we absorb.
    let again = sends(tick(&mut c, T0 + 600));
    assert_eq!(again.len(), 1);
    assert!(again[0].1.starts_with("SIP/2.0 486 Busy Here\r\n"));
    let ack = inv
        .replacen("INVITE sip", "ACK sip", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
        .replace(
            "To: <sip:11%2301%2311%232@10.0.0.1>",
            "To: <sip:11%2301%2311%232@10.0.0.1>;tag=vth3",
        );
    assert!(feed(&mut c, T0 + 700, VTO, &ack).is_empty());
    assert!(sends(tick(&mut c, T0 + 5_000)).is_empty());
}

#[test]
fn a_call_group_rolls_to_the_next_member_then_ends_missed() {
    let mut c = core();
    let inv = invite(&c, "888888", "z9hG4bKg-1");
    let out = feed(&mut c, T0, VTO, &inv);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].0, "192.168.1.4:5060");
    let first = out[1].1.clone();
    feed(
        &mut c,
        T0 + 50,
        "192.168.1.4:5060",
        &answer(&first, 180, "Ringing", "m4"),
    );
    // 5 s later: CANCEL to the first member, INVITE to the second.
    let out = sends(tick(&mut c, T0 + 5_000));
    assert_eq!(out.len(), 2, "{out:#?}");
    assert!(out[0].1.starts_with("CANCEL sip:d4@192.168.1.4:5060"));
    assert_eq!(out[1].0, "192.168.1.5:5060");
    assert!(out[1].1.starts_with("INVITE sip:d5@192.168.1.5:5060"));
    let second = out[1].1.clone();
    feed(
        &mut c,
        T0 + 5_050,
        "192.168.1.5:5060",
        &answer(&second, 180, "Ringing", "m5"),
    );
    assert_eq!(c.live_calls()[0].ringing, vec![5]);
    // The first member's 487 is absorbed (ACKed here).
    let out = feed(
        &mut c,
        T0 + 5_100,
        "192.168.1.4:5060",
        &answer(&first, 487, "Request Terminated", "m4"),
    );
    assert_eq!(out.len(), 1);
    assert!(out[0].1.starts_with("ACK "));
    // Nobody answers the second either: 408 to the caller, a missed call.
    let acts = tick(&mut c, T0 + 10_000);
    let recs = records(&acts);
    let out = sends(acts);
    assert!(out
        .iter()
        .any(|(to, m)| to == "192.168.1.5:5060" && m.starts_with("CANCEL ")));
    assert!(
        out.iter()
            .any(|(to, m)| to == VTO && m.starts_with("SIP/2.0 408 Request Timeout\r\n")),
        "{out:#?}"
    );
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].status, CallStatus::Missed);
    assert_eq!(recs[0].callee_devices, vec![4, 5]);
    assert_eq!(recs[0].callee_number, "888888");
}

#[test]
fn the_caller_cancels() {
    let mut c = core();
    let m = invite(&c, "11%2301%2311", "z9hG4bKc-1");
    let out = feed(&mut c, T0, VTO, &m);
    for (to, m) in &out[1..] {
        feed(&mut c, T0 + 10, to, &answer(m, 180, "Ringing", "x"));
    }
    let cancel = "CANCEL sip:11%2301%2311@10.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKc-1;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:11%2301%238055@10.0.0.1>;tag=vto1\r\n\
To: <sip:11%2301%2311@10.0.0.1>\r\n\
Call-ID: call-1@192.168.1.10\r\n\
CSeq: 1 CANCEL\r\n\
Content-Length: 0\r\n\r\n";
    let acts = c.on_message(T0 + 1000, udp(VTO), US.parse().unwrap(), cancel.as_bytes());
    let recs = records(&acts);
    let out = sends(acts);
    assert!(
        out[0].1.starts_with("SIP/2.0 200 OK\r\n") && line(&out[0].1, "CSeq:") == "CSeq: 1 CANCEL"
    );
    assert_eq!(
        out.iter().filter(|(_, m)| m.starts_with("CANCEL ")).count(),
        2
    );
    assert!(out
        .iter()
        .any(|(to, m)| to == VTO && m.starts_with("SIP/2.0 487 Request Terminated\r\n")));
    assert_eq!(
        (recs[0].status, recs[0].sip_code),
        (CallStatus::Cancelled, 487)
    );
    // A CANCEL for nothing gets 481.
    let out = feed(
        &mut c,
        T0 + 1000,
        VTO,
        &cancel.replace("z9hG4bKc-1", "z9hG4bKnone"),
    );
    assert!(out[0].1.starts_with("SIP/2.0 481 "));
}

#[test]
fn unknown_unregistered_loops_and_strangers() {
    let mut c = core();
    let acts = c.on_message(
        T0,
        udp(VTO),
        US.parse().unwrap(),
        invite(&c, "99999", "z9hG4bKu-1").as_bytes(),
    );
    assert_eq!(records(&acts)[0].status, CallStatus::Failed);
    assert!(sends(acts)[0].1.starts_with("SIP/2.0 404 Not Found\r\n"));
    let m = invite(&c, "11%2301%2312", "z9hG4bKu-2");
    let out = feed(&mut c, T0, VTO, &m);
    assert_eq!(out.len(), 2, "{out:#?}");
    assert!(out[0].1.starts_with("SIP/2.0 100 "));
    assert!(out[1]
        .1
        .starts_with("SIP/2.0 480 Temporarily Unavailable\r\n"));
    let m = invite(&c, "11%2301%2311", "z9hG4bKu-3").replace("Max-Forwards: 70", "Max-Forwards: 0");
    let out = feed(&mut c, T0, VTO, &m);
    assert!(out[0].1.starts_with("SIP/2.0 483 "));
    // An in-dialog request for no dialog we know, from nobody registered.
    let bye = "BYE sip:x@192.168.1.3:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.9.9:5060;branch=z9hG4bKs-1\r\n\
Max-Forwards: 70\r\n\
From: <sip:a@10.0.0.1>;tag=a\r\n\
To: <sip:b@10.0.0.1>;tag=b\r\n\
Call-ID: nothing\r\n\
CSeq: 2 BYE\r\n\
Content-Length: 0\r\n\r\n";
    let out = feed(&mut c, T0, "192.168.9.9:5060", bye);
    assert!(out[0].1.starts_with("SIP/2.0 481 "));
    // Wrong password: 403, nothing forwarded.
    let bad = invite(&c, "11%2301%2311", "z9hG4bKu-4").replace("response=\"", "response=\"0");
    let out = feed(&mut c, T0, VTO, &bad);
    assert_eq!(out.len(), 1);
    assert!(out[0].1.starts_with("SIP/2.0 403 Forbidden\r\n"));
}

#[test]
fn message_between_devices_is_proxied_and_answered() {
    let mut c = core();
    let msg = "MESSAGE sip:11%2301%2311%232@10.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bKm-1;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:11%2301%2311@10.0.0.1>;tag=m\r\n\
To: <sip:11%2301%2311%232@10.0.0.1>\r\n\
Call-ID: msg-1\r\n\
CSeq: 1 MESSAGE\r\n\
Content-Type: text/plain\r\n\
Content-Length: 2\r\n\r\nhi";
    let out = feed(&mut c, T0, "192.168.1.2:5060", msg);
    assert!(out[0]
        .1
        .starts_with("SIP/2.0 407 Proxy Authentication Required\r\n"));
    assert!(line(&out[0].1, "Proxy-Authenticate:").contains("realm=\"gatehouse\""));
    let auth = credentials(
        &c,
        T0,
        "11%2301%2311",
        "MESSAGE",
        "sip:11%2301%2311%232@10.0.0.1",
    );
    let msg = msg.replace(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\n{auth}"),
    );
    let msg = msg.replace("branch=z9hG4bKm-1", "branch=z9hG4bKm-2");
    let msg = msg.as_str();
    let out = feed(&mut c, T0, "192.168.1.2:5060", msg);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, "192.168.1.3:5060");
    assert!(out[0]
        .1
        .starts_with("MESSAGE sip:d3@192.168.1.3:5060 SIP/2.0\r\n"));
    assert!(!out[0].1.contains("Record-Route"));
    assert!(out[0].1.ends_with("\r\n\r\nhi"));
    let up = feed(
        &mut c,
        T0 + 10,
        "192.168.1.3:5060",
        &answer(&out[0].1, 200, "OK", "r"),
    );
    assert_eq!(up[0].0, "192.168.1.2:5060");
    assert!(up[0]
        .1
        .starts_with("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bKm-2;"));
    // Retransmitted MESSAGE: the 200 again, nothing forwarded.
    let again = feed(&mut c, T0 + 20, "192.168.1.2:5060", msg);
    assert_eq!(again.len(), 1);
    assert!(again[0].1.starts_with("SIP/2.0 200 OK\r\n"));
}

#[test]
fn a_silent_callee_times_out_with_408() {
    let mut c = core();
    let m = invite(&c, "11%2301%2311%232", "z9hG4bKt-1");
    let out = feed(&mut c, T0, VTO, &m);
    assert_eq!(out.len(), 2);
    let acts = tick(&mut c, T0 + 32_000); // Timer B
    let recs = records(&acts);
    let out = sends(acts);
    assert!(
        out.iter()
            .any(|(to, m)| to == VTO && m.starts_with("SIP/2.0 408 ")),
        "{out:#?}"
    );
    assert_eq!(recs[0].status, CallStatus::Missed);
}

#[test]
fn uri_helpers() {
    assert_eq!(
        user_part("sip:11%2301%2311@1.2.3.4").as_deref(),
        Some("11#01#11")
    );
    assert_eq!(user_part("sip:%2@1.2.3.4").as_deref(), Some("%2"));
    assert_eq!(
        hop_of("sip:a@127.0.0.1:5070;transport=tcp"),
        Some(("127.0.0.1:5070".parse().unwrap(), Transport::Tcp))
    );
    assert_eq!(
        hop_of("sips:[::1]"),
        Some(("[::1]:5061".parse().unwrap(), Transport::Tls))
    );
    assert_eq!(hop_of("sip:host.example"), None);
    assert_eq!(
        split_list("<sip:a;lr>, \"x,y\" <sip:b>"),
        vec!["<sip:a;lr>", "\"x,y\" <sip:b>"]
    );
    assert_eq!(uri_of("\"A\" <sip:a@b>;tag=1"), Some("sip:a@b"));
}
