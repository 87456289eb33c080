//! A real softphone, baresip (Debian's), registers to Gatehouse as an indoor monitor and
//! receives a released notice as a SIP MESSAGE (RFC 3428); Gatehouse marks it delivered.
//! baresip 1.0 gives up at a digest algorithm it does not know, so the server offers MD5 alone
//! (`--sip-digest-algorithms md5`), as an installer would for such devices. Fails loudly when
//! baresip is missing.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use reqwest::Method as M;
use serde_json::{json, Value};

#[tokio::test]
async fn baresip_registers_and_receives_a_notice_as_sip_message() {
    let s = Server::start(&["--sip-digest-algorithms", "md5"]);
    let sip = s.sip.unwrap();
    setup(&s).await;
    let t = admin_token(&s).await;
    let b = api_ok(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/buildings",
        Some(json!({"number": "3"})),
    )
    .await;
    let u = api_ok(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/units",
        Some(json!({"building": b["id"], "number": "1"})),
    )
    .await;
    let room = api_ok(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/rooms",
        Some(json!({"unit": u["id"], "number": "402"})),
    )
    .await;
    let d = api_ok(&s,
        &t,
        M::POST,
        "/api/v1/devices",
        Some(json!({"name": "Flat 402", "kind": "vth", "ip": "127.0.0.1", "number": "9402", "password": "devpass1"})),
    )
    .await;
    let reg = api_ok(
        &s,
        &t,
        M::POST,
        "/api/v1/registrations",
        Some(json!({"device": d["id"], "type": "vth", "room": room["id"]})),
    )
    .await;
    let number = reg["number"].as_str().unwrap().replace('#', "%23");
    let password = reg["sip_password"].as_str().unwrap();
    let n = api_ok(&s,
        &t,
        M::POST,
        "/api/v1/notices",
        Some(json!({"subject": "Lift", "text": "The lift is out of order until 14:00", "start": "2026-01-01", "devices": [d["id"]]})),
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

    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    std::fs::write(
        dir.path().join("config"),
        format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{port}\nsip_trans_def udp\n\
audio_player aufile,/dev/null\naudio_source ausine,440\naudio_alert aufile,/dev/null\n\
module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule ausine.so\n\
module_app account.so\nmodule_app menu.so\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("accounts"),
        format!("<sip:{number}@{sip}>;auth_user={number};auth_pass={password};regint=300\n"),
    )
    .unwrap();
    // -s traces every SIP message; -t ends it after 8 s.
    let out = Command::new("baresip")
        .args(["-s", "-t", "8", "-f"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("baresip is missing: apt-get install baresip");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("200 OK (Gatehouse"),
        "baresip did not register:\n{text}"
    );
    let msg = text
        .split("MESSAGE sip:")
        .nth(1)
        .unwrap_or_else(|| panic!("no MESSAGE reached baresip:\n{text}"));
    assert!(
        msg.contains("Content-Type: text/plain;charset=UTF-8"),
        "{msg}"
    );
    assert!(
        msg.contains("The lift is out of order until 14:00"),
        "{msg}"
    );

    let mut v = Value::Null;
    for _ in 0..25 {
        v = api_ok(&s, &t, M::GET, &format!("/api/v1/notices/{id}"), None).await;
        if v["targets"][0]["state"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(v["targets"][0]["state"], "delivered", "{v}");
}
