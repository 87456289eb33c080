//! The registrar against real SIP agents: SIPp (Debian's sip-tester) registers with digest
//! authentication as a VTH (number with `#` escaped as `%23`) and as a VTO (digits-only alias),
//! a wrong password is refused, a too-short Expires gets 423 with Min-Expires, a registration
//! expires, `Expires: 0` with `*` unregisters, bindings survive a restart, a known and an unknown
//! name get the same answer (and `svwar` finds nothing), and a source that keeps failing is
//! ignored. Fails loudly when sipp or svwar is missing.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use reqwest::Method as M;
use serde_json::{json, Value};

/// A VTH in room 11#01#11 and a VTO 11#01#8055; returns (number, SIP password) of each.
async fn building(s: &Server) -> Vec<(String, String)> {
    setup(s).await;
    let t = admin_token(s).await;
    let b = api_ok(
        s,
        &t,
        M::POST,
        "/api/v1/organization/buildings",
        Some(json!({"number": "11"})),
    )
    .await;
    let u = api_ok(
        s,
        &t,
        M::POST,
        "/api/v1/organization/units",
        Some(json!({"building": b["id"], "number": "01"})),
    )
    .await;
    let room = api_ok(
        s,
        &t,
        M::POST,
        "/api/v1/organization/rooms",
        Some(json!({"unit": u["id"], "number": "11"})),
    )
    .await;
    let mut out = Vec::new();
    for (name, kind, number, reg) in [
        (
            "Flat 11",
            "vth",
            "9001",
            json!({"type": "vth", "room": room["id"]}),
        ),
        (
            "Door",
            "vto",
            "8055",
            json!({"type": "vto", "station": "unit_door_station", "unit": u["id"], "suffix": "55"}),
        ),
    ] {
        let d = api_ok(
            s,
            &t,
            M::POST,
            "/api/v1/devices",
            Some(json!({"name": name, "kind": kind, "ip": "127.0.0.1", "number": number, "password": "devpass1"})),
        )
        .await;
        let mut body = reg;
        body["device"] = d["id"].clone();
        let r = api_ok(s, &t, M::POST, "/api/v1/registrations", Some(body)).await;
        out.push((
            r["number"].as_str().unwrap().to_owned(),
            r["sip_password"].as_str().unwrap().to_owned(),
        ));
    }
    out
}

fn alias(number: &str) -> String {
    number
        .split('#')
        .map(|f| format!("{}{f}", f.len()))
        .collect()
}

/// Runs a scenario of tests/sip with `rows` as its injection file; returns sipp's success and
/// what it printed.
fn sipp(sip: SocketAddr, scenario: &str, rows: &[String], extra: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let inf = dir.path().join("users.csv");
    std::fs::write(&inf, format!("SEQUENTIAL\n{}\n", rows.join("\n"))).unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sip")
        .join(scenario);
    let out = Command::new("sipp")
        .arg(sip.to_string())
        .arg("-sf")
        .arg(&scenario)
        .arg("-inf")
        .arg(&inf)
        .args([
            "-m",
            &rows.len().to_string(),
            "-timeout",
            "20s",
            "-timeout_error",
        ])
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &free_udp_port().to_string(),
            "-nostdin",
        ])
        .args(["-trace_err", "-trace_msg"])
        // SIPp 3.6 cannot nest [field0] inside [authentication]: the credentials go here.
        .args(["-au", "[field0]", "-ap", "[field1]"])
        .args(extra)
        .current_dir(dir.path())
        .output()
        .expect("sipp is missing: apt-get install sip-tester");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with("_messages.log") || name.ends_with("_errors.log") {
            text.push_str(&format!("\n--- {name}\n"));
            text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    (out.status.success(), text)
}

/// Sends one request over UDP and returns the answer's text.
fn ask(sip: SocketAddr, text: &str) -> Option<String> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.send_to(text.as_bytes(), sip).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn register_text(sip: SocketAddr, user: &str, call_id: &str, extra: &str) -> String {
    format!(
        "REGISTER sip:{sip} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{call_id}\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@{sip}>;tag=1\r\nTo: <sip:{user}@{sip}>\r\n\
Call-ID: {call_id}\r\nCSeq: 1 REGISTER\r\nContact: <sip:{user}@127.0.0.1:9>\r\n{extra}\
Content-Length: 0\r\n\r\n"
    )
}

/// The answer with what changes per request (nonce, tag, Via branch) blanked out.
fn shape(answer: &str) -> String {
    answer
        .lines()
        .filter(|l| !l.starts_with("Via:") && !l.starts_with("From:") && !l.starts_with("To:"))
        .filter(|l| !l.starts_with("Call-ID:"))
        .map(|l| match l.find("nonce=\"") {
            Some(i) => format!("{}nonce=…{}", &l[..i], &l[i + 55..]),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn register_with_digest_by_number_and_alias_then_refusals() {
    let s = Server::start(&[]);
    let sip = s.sip.unwrap();
    let users = building(&s).await;
    let (vth, vth_pw) = &users[0];
    let (vto, vto_pw) = &users[1];
    assert_eq!(vth, "11#01#11");
    assert_eq!(vto, "11#01#8055");

    // The VTH by its number (# as %23), the VTO by its digits-only alias.
    let rows = vec![
        format!("{};{vth_pw};300", vth.replace('#', "%23")),
        format!("{};{vto_pw};300", alias(vto)),
    ];
    let (ok, out) = sipp(sip, "register.xml", &rows, &[]);
    assert!(ok, "sipp register failed:\n{out}");

    // A wrong password: 401, then 403 for the credentials.
    let (ok, out) = sipp(
        sip,
        "register_wrong_password.xml",
        &[format!("{};not-the-password;300", vth.replace('#', "%23"))],
        &[],
    );
    assert!(ok, "sipp wrong password:\n{out}");

    // Shorter than --sip-min-expires (60 by default): 423 with Min-Expires: 60.
    let (ok, out) = sipp(
        sip,
        "register_too_brief.xml",
        &[format!("{};{vth_pw};30", vth.replace('#', "%23"))],
        &[],
    );
    assert!(ok, "sipp 423:\n{out}");

    // Unregister every contact with * and Expires: 0: the answer lists no contact.
    let (ok, out) = sipp(
        sip,
        "unregister.xml",
        &[format!("{};{vto_pw};0", alias(vto))],
        &[],
    );
    assert!(ok, "sipp unregister:\n{out}");
}

#[tokio::test]
async fn a_registration_expires_and_bindings_survive_a_restart() {
    let mut s = Server::start(&["--sip-min-expires", "1"]);
    let sip = s.sip.unwrap();
    let users = building(&s).await;
    let (vth, vth_pw) = &users[0];
    let (vto, vto_pw) = &users[1];
    // The VTH for 2 s, the VTO for an hour.
    let (ok, out) = sipp(
        sip,
        "register.xml",
        &[
            format!("{};{vth_pw};2", vth.replace('#', "%23")),
            format!("{};{vto_pw};3600", alias(vto)),
        ],
        &[],
    );
    assert!(ok, "{out}");
    std::thread::sleep(Duration::from_millis(3500));
    // A REGISTER without Contact asks for the current bindings: none left for the VTH.
    let (ok, out) = sipp(
        sip,
        "register_query_none.xml",
        &[format!("{};{vth_pw};0", vth.replace('#', "%23"))],
        &[],
    );
    assert!(ok, "the VTH binding should have expired:\n{out}");
    // The device list says who is online: the VTO, not the VTH any more.
    std::thread::sleep(Duration::from_millis(1500));
    let t = admin_token(&s).await;
    let devices = get(&s, &t, "/api/v1/devices").await;
    let online = |name: &str| {
        devices
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .map(|d| d["online"].clone())
    };
    assert_eq!(online("Door"), Some(json!(true)), "{devices}");
    assert_eq!(online("Flat 11"), Some(json!(false)), "{devices}");

    // Restart on the same data dir (after the write-behind has run): the VTO is still bound.
    std::thread::sleep(Duration::from_millis(1500));
    let tmp = s.take_tmp();
    let dir = s.data_dir.clone();
    // SIGTERM: a graceful stop, which writes what is pending.
    unsafe { libc::kill(s.pid(), libc::SIGTERM) };
    let _ = s.child.wait();
    drop(s);
    let s2 = Server::start_in(&dir, &["--sip-min-expires", "1"]);
    let sip2 = s2.sip.unwrap();
    let (ok, out) = sipp(
        sip2,
        "register_query_some.xml",
        &[format!("{};{vto_pw};0", alias(vto))],
        &[],
    );
    assert!(ok, "the VTO binding should survive a restart:\n{out}");
    drop(tmp);
}

#[tokio::test]
async fn known_and_unknown_names_get_the_same_answer_and_scanners_learn_nothing() {
    let s = Server::start(&[]);
    let sip = s.sip.unwrap();
    let users = building(&s).await;
    let known = alias(&users[1].0);
    let a = ask(sip, &register_text(sip, &known, "k1", "")).expect("answer to known");
    let b = ask(sip, &register_text(sip, "1120199999", "u1", "")).expect("answer to unknown");
    assert!(a.starts_with("SIP/2.0 401 "), "{a}");
    assert_eq!(shape(&a), shape(&b), "known:\n{a}\nunknown:\n{b}");
    // INVITE and OPTIONS to a known and an unknown user: the same, too.
    for m in ["INVITE", "MESSAGE", "SUBSCRIBE"] {
        let req = |user: &str, id: &str| {
            format!(
                "{m} sip:{user}@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{id}\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@{sip}>;tag=1\r\nTo: <sip:{user}@{sip}>\r\n\
Call-ID: {id}\r\nCSeq: 1 {m}\r\nContact: <sip:{user}@127.0.0.1:9>\r\nEvent: presence\r\nContent-Length: 0\r\n\r\n"
            )
        };
        let a = ask(sip, &req(&known, &format!("{m}k"))).unwrap_or_default();
        let b = ask(sip, &req("1120199999", &format!("{m}u"))).unwrap_or_default();
        assert_eq!(shape(&a), shape(&b), "{m} known:\n{a}\nunknown:\n{b}");
    }

    // sipvicious' svwar, told both names, reports no extension.
    let dir = tempfile::tempdir().unwrap();
    let dict = dir.path().join("names.txt");
    std::fs::write(
        &dict,
        format!(
            "{known}\n1120199999\n100\n{}\n",
            users[0].0.replace('#', "%23")
        ),
    )
    .unwrap();
    let out = Command::new("sipvicious_svwar")
        .args([
            "-d",
            dict.to_str().unwrap(),
            "-m",
            "REGISTER",
            "-p",
            &sip.port().to_string(),
        ])
        .arg(sip.ip().to_string())
        .output()
        .or_else(|_| {
            Command::new("svwar")
                .args([
                    "-d",
                    dict.to_str().unwrap(),
                    "-m",
                    "REGISTER",
                    "-p",
                    &sip.port().to_string(),
                ])
                .arg(sip.ip().to_string())
                .output()
        })
        .expect("svwar is missing: apt-get install sipvicious");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // svwar sees an unknown name challenged like any other and gives up: nothing to tell apart.
    assert!(text.contains("found nothing"), "svwar output:\n{text}");
    assert!(
        !text.contains(&known),
        "svwar found the known name:\n{text}"
    );
}

#[tokio::test]
async fn a_source_that_keeps_failing_is_ignored() {
    let s = Server::start(&["--sip-ban-threshold", "3", "--sip-ban-duration", "30s"]);
    let sip = s.sip.unwrap();
    let users = building(&s).await;
    let user = users[1].0.replace('#', "%23");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 4096];
    // Three wrong answers to real challenges.
    for i in 0..3 {
        sock.send_to(
            register_text(sip, &user, &format!("b{i}"), "").as_bytes(),
            sip,
        )
        .unwrap();
        let (n, _) = sock.recv_from(&mut buf).expect("challenge");
        let ch = String::from_utf8_lossy(&buf[..n]).into_owned();
        let nonce = ch
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let auth = format!(
            "Authorization: Digest username=\"{user}\", realm=\"gatehouse\", nonce=\"{nonce}\", uri=\"sip:{sip}\", response=\"00000000000000000000000000000000\", algorithm=MD5, cnonce=\"c\", nc=00000001, qop=auth\r\n"
        );
        sock.send_to(
            register_text(sip, &user, &format!("b{i}x"), &auth).as_bytes(),
            sip,
        )
        .unwrap();
        let (n, _) = sock.recv_from(&mut buf).expect("refusal");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 403 "));
    }
    // Now nothing from that address is answered, not even OPTIONS.
    sock.send_to(register_text(sip, &user, "after", "").as_bytes(), sip)
        .unwrap();
    assert!(
        sock.recv_from(&mut buf).is_err(),
        "a banned source got an answer"
    );
    // Another address is still served.
    let other = UdpSocket::bind("127.0.0.2:0").unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    other
        .send_to(register_text(sip, &user, "other", "").as_bytes(), sip)
        .unwrap();
    assert!(other.recv_from(&mut buf).is_ok());
}

async fn get(s: &Server, tok: &str, path: &str) -> Value {
    client()
        .get(s.url(path))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_notice_released_while_offline_arrives_as_a_sip_message_when_the_device_registers() {
    let s = Server::start(&[]);
    let sip = s.sip.unwrap();
    let users = building(&s).await;
    let t = admin_token(&s).await;
    let devices = get(&s, &t, "/api/v1/devices").await;
    let vth = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Flat 11")
        .unwrap()["id"]
        .clone();
    let n = api_ok(&s,
        &t,
        M::POST,
        "/api/v1/notices",
        Some(json!({"subject": "Water", "text": "Water is off on Friday 9-12", "start": "2026-01-01", "devices": [vth]})),
    )
    .await;
    let id = n["id"].as_u64().unwrap();
    api_ok(
        &s,
        &t,
        M::POST,
        &format!("/api/v1/notices/{id}/release"),
        None,
    )
    .await;
    std::thread::sleep(Duration::from_millis(1500));
    let v = get(&s, &t, &format!("/api/v1/notices/{id}")).await;
    assert_eq!(
        v["targets"][0]["state"], "pending",
        "offline: not sent yet: {v}"
    );

    // The VTH's agent listens on its own port; it registers from another.
    let uas_port = free_udp_port();
    let dir = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sip/message_uas.xml");
    let uas = Command::new("sipp")
        .arg("-sf")
        .arg(&scenario)
        .args([
            "-m",
            "1",
            "-timeout",
            "30s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .args(["-i", "127.0.0.1", "-p", &uas_port.to_string()])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("sipp is missing: apt-get install sip-tester");
    std::thread::sleep(Duration::from_millis(500));
    let (vth_number, vth_pw) = &users[0];
    let (ok, out) = sipp(
        sip,
        "register_contact.xml",
        &[format!(
            "{};{vth_pw};300;127.0.0.1:{uas_port}",
            vth_number.replace('#', "%23")
        )],
        &[],
    );
    assert!(ok, "{out}");
    let status = uas.wait_with_output().unwrap();
    let errors: String = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        status.status.success(),
        "the agent did not get the notice: {errors}"
    );
    // The notice is marked delivered to that device.
    let mut v = Value::Null;
    for _ in 0..50 {
        v = get(&s, &t, &format!("/api/v1/notices/{id}")).await;
        if v["targets"][0]["state"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(v["targets"][0]["state"], "delivered", "{v}");
}

#[tokio::test]
async fn a_device_that_stops_answering_keep_alives_goes_offline() {
    let s = Server::start(&["--sip-keepalive-interval", "1s"]);
    let sip = s.sip.unwrap();
    let users = building(&s).await;
    let (vth, vth_pw) = &users[0];
    // Its contact is a port where nothing answers.
    let dead = free_udp_port();
    let (ok, out) = sipp(
        sip,
        "register_contact.xml",
        &[format!(
            "{};{vth_pw};300;127.0.0.1:{dead}",
            vth.replace('#', "%23")
        )],
        &[],
    );
    assert!(ok, "{out}");
    let (ok, out) = sipp(
        sip,
        "register_query_some.xml",
        &[format!("{};{vth_pw};0", vth.replace('#', "%23"))],
        &[],
    );
    assert!(ok, "bound at first:\n{out}");
    // Probed after 1 s, no answer within the probe's time (4 s at this interval): dropped.
    std::thread::sleep(Duration::from_secs(7));
    let (ok, out) = sipp(
        sip,
        "register_query_none.xml",
        &[format!("{};{vth_pw};0", vth.replace('#', "%23"))],
        &[],
    );
    assert!(ok, "the silent device should be offline:\n{out}");
}
