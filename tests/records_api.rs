//! Call records and the SIP status over real HTTPS against the real binary: records stored the
//! way the SIP service stores them (the test-only insertion route calls the same `append`), then
//! every filter (device, time range, status), paging newest first, a manager client's missed
//! calls, bad filters naming their field, retention, roles (operators read), the test route
//! closed without test hooks, the registered-device list with manager clients offline and one
//! online once its softphone (SIPp, digest auth) registered, on the API and the "Devices online"
//! page, calls between two softphones through the proxy (busy, answered) listed as records, and
//! 503 (JSON for the API, a page saying so) when no SIP service runs.

mod common;

use std::sync::Arc;

use common::*;
use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn call(s: &Server, tok: &str, m: M, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut r = client().request(m, s.url(path)).bearer_auth(tok);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let st = r.status();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn get(s: &Server, tok: &str, path: &str) -> Value {
    let (st, v) = call(s, tok, M::GET, path, None).await;
    assert_eq!(st, StatusCode::OK, "{path}: {v}");
    v
}

async fn device(s: &Server, t: &str, name: &str, kind: &str, number: &str) -> u64 {
    let (st, v) = call(
        s,
        t,
        M::POST,
        "/api/v1/devices",
        Some(json!({"name": name, "kind": kind, "ip": "10.0.0.5", "number": number})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    v["id"].as_u64().unwrap()
}

/// Gives a manager client its registration; returns its SIP password (shown this once).
async fn register_manager(s: &Server, t: &str, device: u64) -> String {
    let (st, v) = call(
        s,
        t,
        M::POST,
        "/api/v1/registrations",
        Some(json!({"device": device, "type": "manager"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    v["sip_password"].as_str().unwrap().to_owned()
}

/// A SIPp command for the scenario `name` of tests/sip on local `port`, run in `dir`.
fn sipp_command(
    sip: std::net::SocketAddr,
    dir: &std::path::Path,
    name: &str,
    port: u16,
) -> std::process::Command {
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sip")
        .join(name);
    let mut c = std::process::Command::new("sipp");
    c.arg(sip.to_string())
        .arg("-sf")
        .arg(scenario)
        .args(["-m", "1", "-timeout", "30s", "-timeout_error"])
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-nostdin",
            "-trace_err",
        ])
        .current_dir(dir);
    c
}

/// Runs the UAC scenario `name` from `port` with `row` (`user;password;…`) as its injection file
/// and the digest credentials from it; panics with SIPp's output when it fails.
fn sipp_uac(sip: std::net::SocketAddr, name: &str, row: &str, port: u16) {
    let dir = tempfile::tempdir().unwrap();
    let inf = dir.path().join("users.csv");
    std::fs::write(&inf, format!("SEQUENTIAL\n{row}\n")).unwrap();
    let out = sipp_command(sip, dir.path(), name, port)
        .arg("-inf")
        .arg(&inf)
        .args(["-au", "[field0]", "-ap", "[field1]"])
        .output()
        .expect("sipp is missing: apt-get install sip-tester");
    assert!(
        out.status.success(),
        "sipp {name} ({row}) failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Registers `user` with `password` for `expires` seconds through SIPp (tests/sip/register.xml,
/// digest auth) from `port`.
fn sipp_register(sip: std::net::SocketAddr, user: &str, password: &str, expires: u32, port: u16) {
    sipp_uac(
        sip,
        "register.xml",
        &format!("{user};{password};{expires}"),
        port,
    );
}

/// A SIPp UAS playing `name` on `port` until its scenario ends (killed when dropped).
struct Uas(std::process::Child, #[allow(dead_code)] tempfile::TempDir);

impl Uas {
    fn start(sip: std::net::SocketAddr, name: &str, port: u16) -> Uas {
        let dir = tempfile::tempdir().unwrap();
        let child = sipp_command(sip, dir.path(), name, port)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sipp is missing: apt-get install sip-tester");
        std::thread::sleep(std::time::Duration::from_millis(300));
        Uas(child, dir)
    }

    fn finish(mut self) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
        while std::time::Instant::now() < deadline {
            if let Some(st) = self.0.try_wait().unwrap() {
                return st.success();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Uas {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// 2027-01-15T08:00:00Z in ms.
const T0: u64 = 1_800_000_000_000;
const HOUR: u64 = 3_600_000;

#[allow(clippy::too_many_arguments)]
fn record(
    id: &str,
    started: u64,
    caller: u64,
    caller_number: &str,
    dialled: &str,
    rung: &[u64],
    answered_by: Option<u64>,
    status: &str,
    code: u16,
) -> Value {
    json!({
        "call_id": id,
        "caller_number": caller_number,
        "caller_device": caller,
        "callee_number": dialled,
        "callee_devices": rung,
        "started": started,
        "answered": answered_by.map(|_| started + 4_000),
        "ended": started + 94_000,
        "answered_by": answered_by,
        "status": status,
        "sip_code": code,
    })
}

fn ids(page: &Value) -> Vec<&str> {
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["call_id"].as_str().unwrap())
        .collect()
}

fn err(v: &Value) -> (&str, &str) {
    (
        v["error"].as_str().unwrap_or(""),
        v["field"].as_str().unwrap_or(""),
    )
}

#[tokio::test]
async fn call_records_filters_paging_missed_calls_and_roles() {
    let s = Server::start_with_env(
        &["--call-record-retention", "100"],
        &[("GATEHOUSE_TEST_HOOKS", "1")],
    );
    setup(&s).await;
    let t = admin_token(&s).await;
    let gate = device(&s, &t, "Gate", "vto", "8001").await;
    let desk = device(&s, &t, "Desk", "manager_client", "7001").await;
    let night = device(&s, &t, "Night desk", "manager_client", "7002").await;
    let flat = device(&s, &t, "Flat 101", "vth", "9901").await;
    register_manager(&s, &t, desk).await;
    register_manager(&s, &t, night).await;

    let day = 24 * HOUR;
    let records = json!([
        record(
            "r1",
            T0,
            gate,
            "1#01#8001",
            "888888",
            &[desk, night],
            Some(night),
            "answered",
            200
        ),
        record(
            "r2",
            T0 + HOUR,
            gate,
            "1#01#8001",
            "888888",
            &[desk, night],
            None,
            "missed",
            408
        ),
        record(
            "r3",
            T0 + 2 * HOUR,
            gate,
            "1#01#8001",
            "888888",
            &[desk],
            None,
            "cancelled",
            487
        ),
        record(
            "r4",
            T0 + day,
            desk,
            "7001",
            "01#01#101",
            &[flat],
            None,
            "busy",
            486
        ),
        record(
            "r5",
            T0 + day + HOUR,
            gate,
            "1#01#8001",
            "888888",
            &[night],
            None,
            "missed",
            408
        ),
    ]);
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/records/calls/test-insert",
        Some(records),
    )
    .await;
    assert_eq!((st, &v["stored"]), (StatusCode::CREATED, &json!(5)), "{v}");

    // all, newest first, with names, numbers, RFC 3339 times and the duration
    let all = get(&s, &t, "/api/v1/records/calls").await;
    assert_eq!(ids(&all), ["r5", "r4", "r3", "r2", "r1"]);
    assert_eq!(
        (all["total"].as_u64(), all["limit"].as_u64()),
        (Some(5), Some(50))
    );
    let r1 = &all["records"][4];
    assert_eq!(
        r1["caller"],
        json!({"device": gate, "name": "Gate", "number": "1#01#8001"})
    );
    assert_eq!(r1["callee_number"], "888888");
    assert_eq!(
        r1["callee_devices"],
        json!([
            {"device": desk, "name": "Desk", "number": "7001"},
            {"device": night, "name": "Night desk", "number": "7002"}
        ])
    );
    assert_eq!(r1["answered_by"]["name"], "Night desk");
    assert_eq!(r1["started"], "2027-01-15T08:00:00Z");
    assert_eq!(r1["answered"], "2027-01-15T08:00:04Z");
    assert_eq!(r1["ended"], "2027-01-15T08:01:34Z");
    assert_eq!(r1["duration_seconds"], 90);
    assert_eq!(
        (r1["status"].as_str(), r1["sip_code"].as_u64()),
        (Some("answered"), Some(200))
    );
    let r2 = &all["records"][3];
    assert_eq!(
        (r2["duration_seconds"].as_u64(), &r2["answered_by"]),
        (Some(0), &Value::Null)
    );
    // the busy call's caller is the registered desk: its current number and name
    assert_eq!(all["records"][1]["caller"]["name"], "Desk");

    // by device: it called, was rung or answered
    let by = |q: String| {
        let s = &s;
        let t = &t;
        async move { get(s, t, &format!("/api/v1/records/calls?{q}")).await }
    };
    assert_eq!(
        ids(&by(format!("device={desk}")).await),
        ["r4", "r3", "r2", "r1"]
    );
    assert_eq!(
        ids(&by(format!("device={night}")).await),
        ["r5", "r2", "r1"]
    );
    assert_eq!(ids(&by(format!("device={flat}")).await), ["r4"]);
    assert_eq!(ids(&by("device=999".into()).await), Vec::<&str>::new());
    // by status, by time range (a whole day, or exact times), combined
    assert_eq!(ids(&by("status=missed".into()).await), ["r5", "r2"]);
    assert_eq!(
        ids(&by("from=2027-01-15&to=2027-01-15".into()).await),
        ["r3", "r2", "r1"]
    );
    assert_eq!(
        ids(&by("from=2027-01-15T09:00:00Z&to=2027-01-16T08:00:00Z".into()).await),
        ["r4", "r3", "r2"]
    );
    assert_eq!(
        ids(&by(format!("device={night}&status=missed&from=2027-01-16")).await),
        ["r5"]
    );
    // paging
    let p = by("limit=2&offset=2".into()).await;
    assert_eq!(
        (ids(&p), p["total"].as_u64(), p["offset"].as_u64()),
        (vec!["r3", "r2"], Some(5), Some(2))
    );
    let p = by("limit=2&offset=4".into()).await;
    assert_eq!(ids(&p), ["r1"]);
    // empty form values are no filter
    assert_eq!(by("device=&status=&from=&to=".into()).await["total"], 5);

    // missed calls of a manager client: rang it, nobody answered
    let missed = |d: u64| {
        let s = &s;
        let t = &t;
        async move { get(s, t, &format!("/api/v1/records/calls/missed?device={d}")).await }
    };
    assert_eq!(ids(&missed(desk).await), ["r3", "r2"]);
    assert_eq!(ids(&missed(night).await), ["r5", "r2"]);
    assert_eq!(ids(&missed(gate).await), Vec::<&str>::new());
    let p = get(
        &s,
        &t,
        &format!("/api/v1/records/calls/missed?device={desk}&limit=1&offset=1"),
    )
    .await;
    assert_eq!((ids(&p), p["total"].as_u64()), (vec!["r2"], Some(2)));
    let p = get(
        &s,
        &t,
        &format!("/api/v1/records/calls/missed?device={night}&to=2027-01-15"),
    )
    .await;
    assert_eq!(ids(&p), ["r2"]);

    // bad filters name their field
    for (q, code, field) in [
        (
            "/api/v1/records/calls?device=gate",
            "call_query_number",
            "device",
        ),
        ("/api/v1/records/calls?status=lost", "call_status", "status"),
        ("/api/v1/records/calls?limit=0", "call_query_limit", "limit"),
        (
            "/api/v1/records/calls?limit=501",
            "call_query_limit",
            "limit",
        ),
        (
            "/api/v1/records/calls?offset=-2",
            "call_query_number",
            "offset",
        ),
        ("/api/v1/records/calls?from=soon", "time_format", "from"),
        (
            "/api/v1/records/calls?from=2027-01-02&to=2027-01-01",
            "time_range",
            "to",
        ),
        (
            "/api/v1/records/calls/missed",
            "call_query_device",
            "device",
        ),
        (
            "/api/v1/records/calls/missed?device=x",
            "call_query_number",
            "device",
        ),
    ] {
        let (st, v) = call(&s, &t, M::GET, q, None).await;
        assert_eq!(
            (st, err(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, (code, field)),
            "{q}: {v}"
        );
    }

    // operators read records (they handle calls); only administrators use the test route
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/accounts",
        Some(json!({"username": "desk", "password": "Wq3$kRm9", "role": "operator"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let op = login_as(&s, &client(), "desk", "Wq3$kRm9").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        ids(&get(&s, &op, "/api/v1/records/calls?status=missed").await),
        ["r5", "r2"]
    );
    assert_eq!(
        ids(&get(
            &s,
            &op,
            &format!("/api/v1/records/calls/missed?device={desk}")
        )
        .await),
        ["r3", "r2"]
    );
    assert_eq!(
        get(&s, &op, "/api/v1/sip/registrations").await["known_devices"],
        2
    );
    let (st, v) = call(
        &s,
        &op,
        M::POST,
        "/api/v1/records/calls/test-insert",
        Some(json!([])),
    )
    .await;
    assert_eq!(
        (st, err(&v).0),
        (StatusCode::FORBIDDEN, "admin_only"),
        "{v}"
    );
    // signed out: 401
    for path in [
        "/api/v1/records/calls",
        "/api/v1/records/calls/missed?device=1",
        "/api/v1/sip/registrations",
        "/api/v1/sip/calls",
    ] {
        let r = client().get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }

    // retention (here 100): the oldest go first
    let more: Vec<Value> = (0..98)
        .map(|i| {
            record(
                &format!("n{i}"),
                T0 + 2 * day + i * 60_000,
                gate,
                "1#01#8001",
                "888888",
                &[desk],
                Some(desk),
                "answered",
                200,
            )
        })
        .collect();
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/records/calls/test-insert",
        Some(Value::Array(more)),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let p = get(&s, &t, "/api/v1/records/calls?limit=500").await;
    assert_eq!(p["total"], 100);
    let kept = ids(&p);
    assert_eq!(kept[0], "n97");
    // 5 + 98 stored, 100 kept: r1, r2 and r3 (the first stored) are gone
    assert_eq!(&kept[98..], ["r5", "r4"], "{kept:?}");
    assert!(
        !kept.iter().any(|k| ["r1", "r2", "r3"].contains(k)),
        "{kept:?}"
    );
}

#[tokio::test]
async fn test_insert_is_closed_without_test_hooks() {
    let s = Server::start(&[]);
    setup(&s).await;
    let t = admin_token(&s).await;
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/records/calls/test-insert",
        Some(json!([])),
    )
    .await;
    assert_eq!((st, err(&v).0), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    // an empty store: empty pages, no live call, no device
    let p = get(&s, &t, "/api/v1/records/calls").await;
    assert_eq!((p["total"].as_u64(), ids(&p).len()), (Some(0), 0));
    assert_eq!(get(&s, &t, "/api/v1/sip/calls").await, json!({"calls": []}));
    assert_eq!(
        get(&s, &t, "/api/v1/sip/registrations").await,
        json!({"known_devices": 0, "online_devices": 0, "devices": []})
    );
}

/// Manager clients with a registration are listed offline with no contact until one's softphone
/// (SIPp, digest auth as its device number) registers: then it is online with its contact,
/// transport, source, user agent and expiry, on the API and on the "Devices online" page.
#[tokio::test]
async fn manager_softphone_registers_and_shows_online() {
    let s = Server::start(&[]);
    let sip = s.sip.expect("SIP address in the log");
    setup(&s).await;
    let t = admin_token(&s).await;
    let desk = device(&s, &t, "Desk", "manager_client", "7001").await;
    let night = device(&s, &t, "Night desk", "manager_client", "7002").await;
    device(&s, &t, "Not registered", "manager_client", "7003").await;
    let desk_pw = register_manager(&s, &t, desk).await;
    register_manager(&s, &t, night).await;

    let v = get(&s, &t, "/api/v1/sip/registrations").await;
    assert_eq!(
        (v["known_devices"].as_u64(), v["online_devices"].as_u64()),
        (Some(2), Some(0)),
        "{v}"
    );
    let d = &v["devices"][0];
    assert_eq!(
        (
            d["device"].as_u64(),
            d["number"].as_str(),
            d["name"].as_str()
        ),
        (Some(desk), Some("7001"), Some("Desk"))
    );
    assert_eq!(
        (d["online"].as_bool(), d["bindings"].clone()),
        (Some(false), json!([]))
    );
    assert_eq!(
        (d["kind"].as_str(), d["alias"].as_str()),
        (Some("manager_client"), Some("47001"))
    );

    // the desk's softphone registers as its number, for 300 s
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    sipp_register(sip, "7001", &desk_pw, 300, port);
    let v = get(&s, &t, "/api/v1/sip/registrations").await;
    assert_eq!(
        (v["known_devices"].as_u64(), v["online_devices"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    let d = &v["devices"][0];
    assert_eq!(
        (d["device"].as_u64(), d["online"].as_bool()),
        (Some(desk), Some(true)),
        "{v}"
    );
    let b = &d["bindings"][0];
    let contact = format!("sip:7001@127.0.0.1:{port}");
    assert_eq!(b["contact"], contact, "{b}");
    assert_eq!(
        (b["transport"].as_str(), b["user_agent"].as_str()),
        (Some("udp"), Some("sipp-register")),
        "{b}"
    );
    assert_eq!(b["source"], format!("127.0.0.1:{port}"), "{b}");
    let left = b["expires_in"].as_u64().unwrap();
    assert!((280..=300).contains(&left), "{b}");
    assert!(b["expires"].as_str().unwrap().ends_with('Z'), "{b}");
    assert_eq!(
        (
            v["devices"][1]["device"].as_u64(),
            v["devices"][1]["online"].as_bool()
        ),
        (Some(night), Some(false))
    );
    // the page shows the same
    let html = client()
        .get(s.url("/sip/devices"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for want in [
        contact.clone(),
        "sipp-register".into(),
        "UDP".into(),
        "online".into(),
        format!("id=\"sip-device-{night}\""),
    ] {
        assert!(html.contains(&want), "{want} not on the page");
    }
    assert!(
        html.contains("<strong id=\"online-count\">1</strong>"),
        "{html}"
    );
}

/// Without a running SIP service the status routes answer 503 with a JSON error; the records
/// still answer. The real router and app, signed in, with no SIP service started.
#[tokio::test]
async fn sip_status_is_503_without_the_service() {
    use tower::ServiceExt;
    let tmp = tempfile::tempdir().unwrap();
    let app = gatehouse::app::App::open(gatehouse::config::Config {
        data_dir: tmp.path().join("data"),
        ..Default::default()
    })
    .unwrap();
    let ip: std::net::IpAddr = [127, 0, 0, 1].into();
    let req: gatehouse::accounts::SetupRequest = serde_json::from_value(
        json!({"username": ADMIN, "password": ADMIN_PW, "security_questions": questions()}),
    )
    .unwrap();
    gatehouse::accounts::setup(&app, ip, &req).unwrap();
    let (token, _) = gatehouse::accounts::login(&app, ip, ADMIN, ADMIN_PW).unwrap();
    let router = gatehouse::web::router(Arc::new(app));
    for path in ["/sip/devices", "/sip/calls"] {
        let req = axum::http::Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = router.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status().as_u16(), 503, "{path}");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains("id=\"sip-not-running\""), "{path}: {html}");
    }
    for (path, want) in [
        ("/api/v1/sip/registrations", StatusCode::SERVICE_UNAVAILABLE),
        ("/api/v1/sip/calls", StatusCode::SERVICE_UNAVAILABLE),
        ("/api/v1/records/calls", StatusCode::OK),
    ] {
        let req = axum::http::Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = router.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status().as_u16(), want.as_u16(), "{path}");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        if want == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(v["error"], "sip_not_running", "{v}");
            assert!(
                v["message"].as_str().unwrap().contains("not running"),
                "{v}"
            );
        }
    }
}

/// Calls between two manager clients' softphones through the proxy (SIPp agents with digest
/// auth) end as call records the API lists: a busy one, then an answered one, with names,
/// numbers, who answered and the duration; the callee's records by device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_through_the_proxy_are_recorded() {
    let s = Server::start(&[]);
    let sip = s.sip.expect("SIP address in the log");
    setup(&s).await;
    let t = admin_token(&s).await;
    let desk = device(&s, &t, "Desk", "manager_client", "7001").await;
    let night = device(&s, &t, "Night desk", "manager_client", "7002").await;
    let desk_pw = register_manager(&s, &t, desk).await;
    let night_pw = register_manager(&s, &t, night).await;
    // The service reloads its directory within a second of a change.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let desk_port = free_udp_port();
    sipp_uac(
        sip,
        "register_contact.xml",
        &format!("7001;{desk_pw};3600;127.0.0.1:{desk_port}"),
        free_udp_port(),
    );
    let caller_row = format!("7002;{night_pw};7001");

    let records = |want: u64| {
        let s = &s;
        let t = &t;
        async move {
            for _ in 0..50 {
                let p = get(s, t, &format!("/api/v1/records/calls?device={desk}")).await;
                if p["total"].as_u64() == Some(want) {
                    return p;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            panic!("no {want} call records of the desk in 10 s");
        }
    };

    // busy
    let uas = Uas::start(sip, "callee_busy.xml", desk_port);
    sipp_uac(sip, "caller_busy.xml", &caller_row, free_udp_port());
    assert!(
        uas.finish(),
        "the desk's UAS did not see its busy call through"
    );
    let p = records(1).await;
    let r = &p["records"][0];
    assert_eq!(
        r["caller"],
        json!({"device": night, "name": "Night desk", "number": "7002"})
    );
    assert_eq!(r["callee_number"], "7001");
    assert_eq!(
        r["callee_devices"],
        json!([{"device": desk, "name": "Desk", "number": "7001"}])
    );
    assert_eq!(
        (r["status"].as_str(), r["sip_code"].as_u64()),
        (Some("busy"), Some(486)),
        "{r}"
    );
    assert_eq!(r["answered_by"], Value::Null);

    // answered, then hung up by the caller
    let uas = Uas::start(sip, "callee_answer.xml", desk_port);
    sipp_uac(sip, "caller.xml", &caller_row, free_udp_port());
    assert!(uas.finish(), "the desk's UAS did not see its call through");
    let p = records(2).await;
    let r = &p["records"][0];
    assert_eq!(
        (r["status"].as_str(), r["sip_code"].as_u64()),
        (Some("answered"), Some(200)),
        "{r}"
    );
    assert_eq!(r["answered_by"]["name"], "Desk", "{r}");
    assert!(r["answered"].as_str().unwrap().ends_with('Z'), "{r}");
    assert!(r["duration_seconds"].as_u64().is_some(), "{r}");
    assert_eq!(p["records"][1]["status"], "busy");
    // neither is a missed call of the desk; the caller's records are the same two
    let m = get(
        &s,
        &t,
        &format!("/api/v1/records/calls/missed?device={desk}"),
    )
    .await;
    assert_eq!(m["total"], 0, "{m}");
    let c = get(&s, &t, &format!("/api/v1/records/calls?device={night}")).await;
    assert_eq!(c["total"], 2, "{c}");
}
