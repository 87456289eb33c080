//! Calls through the proxy between real SIP agents (SIPp, Debian's sip-tester): devices and
//! their SIP passwords are created through the HTTP API, every callee REGISTERs with digest
//! authentication, the caller answers the proxy's 407. A door station calls a room with two
//! monitors (both ring, one answers, the other gets CANCEL and answers 487; the caller's BYE
//! goes through the proxy by the Record-Route), the management centre rolls from the first
//! member of the call group to the second after the ring time, and a busy monitor gives the
//! caller 486. Each call attempt ends with a call record (the service logs "call ended").
//! Two baresip softphones register, one calls the other, which answers by itself.
//! Fails loudly when sipp or baresip is missing.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use reqwest::Method as M;
use serde_json::{json, Value};

/// A registered device: its number (as a SIP user, `#` → `%23`), SIP password, and the UDP port
/// its SIPp UAS listens on.
struct Dev {
    user: String,
    password: String,
    port: u16,
}

async fn device(s: &Server, t: &str, name: &str, kind: &str, number: &str, reg: Value) -> Dev {
    let d = api_ok(
        s,
        t,
        M::POST,
        "/api/v1/devices",
        Some(json!({"name": name, "kind": kind, "ip": "127.0.0.1", "number": number, "password": "devpass1"})),
    )
    .await;
    let mut body = reg;
    body["device"] = d["id"].clone();
    let r = api_ok(s, t, M::POST, "/api/v1/registrations", Some(body)).await;
    Dev {
        user: r["number"].as_str().unwrap().replace('#', "%23"),
        password: r["sip_password"].as_str().unwrap().to_owned(),
        port: free_udp_port(),
    }
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sip")
        .join(name)
}

fn sipp_command(sip: SocketAddr, dir: &Path, name: &str, port: u16) -> Command {
    let mut c = Command::new("sipp");
    c.arg(sip.to_string())
        .arg("-sf")
        .arg(scenario(name))
        .args(["-m", "1", "-timeout", "30s", "-timeout_error"])
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-nostdin"])
        .args(["-trace_err", "-trace_msg"])
        .current_dir(dir);
    c
}

/// Runs a UAC scenario with `row` (user;password;…) as its injection file, to its end.
fn run_uac(sip: SocketAddr, name: &str, row: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let inf = dir.path().join("users.csv");
    std::fs::write(&inf, format!("SEQUENTIAL\n{row}\n")).unwrap();
    let out = sipp_command(sip, dir.path(), name, free_udp_port())
        .arg("-inf")
        .arg(&inf)
        .args(["-au", "[field0]", "-ap", "[field1]"])
        .output()
        .expect("sipp is missing: apt-get install sip-tester");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text.push_str(&logs(dir.path()));
    (out.status.success(), text)
}

fn logs(dir: &Path) -> String {
    let mut text = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with("_messages.log") || name.ends_with("_errors.log") {
            text.push_str(&format!("\n--- {name}\n"));
            text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    text
}

/// A SIPp UAS running `name` on the device's port.
struct Uas {
    child: Child,
    dir: tempfile::TempDir,
}

impl Uas {
    fn start(sip: SocketAddr, dev: &Dev, name: &str) -> Uas {
        let dir = tempfile::tempdir().unwrap();
        let child = sipp_command(sip, dir.path(), name, dev.port)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp is missing: apt-get install sip-tester");
        std::thread::sleep(Duration::from_millis(300));
        Uas { child, dir }
    }

    /// Waits for the scenario to end; its success and its message log.
    fn finish(mut self) -> (bool, String) {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (st.success(), logs(self.dir.path()));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return (
                    false,
                    format!("UAS still running\n{}", logs(self.dir.path())),
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Uas {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Registers the device's UAS port as its contact (digest, one hour).
fn register(sip: SocketAddr, dev: &Dev) {
    let row = format!("{};{};3600;127.0.0.1:{}", dev.user, dev.password, dev.port);
    let (ok, text) = run_uac(sip, "register_contact.xml", &row);
    assert!(ok, "REGISTER {} failed:\n{text}", dev.user);
}

/// Waits for the service's "call ended" log line of the next call record.
fn call_ended(s: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = s.log.recv_timeout(left).expect("no call record in 20 s");
        if line.contains("call ended") {
            return line;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_through_the_proxy_fork_roll_over_busy_and_bye() {
    let s = Server::start(&[]);
    let sip = s.sip.expect("the log names the SIP address");
    setup(&s).await;
    let t = admin_token(&s).await;
    let b = api_ok(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/buildings",
        Some(json!({"number": "11"})),
    )
    .await;
    let u = api_ok(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/units",
        Some(json!({"building": b["id"], "number": "01"})),
    )
    .await;
    let room = api_ok(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/rooms",
        Some(json!({"unit": u["id"], "number": "11"})),
    )
    .await;
    let vth1 = device(
        &s,
        &t,
        "Flat 11",
        "vth",
        "9001",
        json!({"type": "vth", "room": room["id"]}),
    )
    .await;
    let vth2 = device(
        &s,
        &t,
        "Flat 11 bedroom",
        "vth",
        "9002",
        json!({"type": "vth", "room": room["id"], "extension": 2}),
    )
    .await;
    let vto = device(
        &s,
        &t,
        "Door",
        "vto",
        "8055",
        json!({"type": "vto", "station": "unit_door_station", "unit": u["id"], "suffix": "55"}),
    )
    .await;
    let vts1 = device(
        &s,
        &t,
        "Desk 1",
        "vts",
        "101",
        json!({"type": "vts", "suffix": "01"}),
    )
    .await;
    let vts2 = device(
        &s,
        &t,
        "Desk 2",
        "vts",
        "102",
        json!({"type": "vts", "suffix": "02"}),
    )
    .await;
    assert_eq!(vth1.user, "11%2301%2311");
    assert_eq!(vth2.user, "11%2301%2311%232");
    let devices: Value = api_ok(&s, &t, M::GET, "/api/v1/devices", None).await;
    let id_of = |name: &str| {
        devices
            .as_array()
            .or_else(|| devices["items"].as_array())
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap()["id"]
            .clone()
    };
    api_ok(&s,
        &t,
        M::POST,
        "/api/v1/call-groups",
        Some(json!({"name": "Desk", "buildings": [b["id"]], "members": [id_of("Desk 1"), id_of("Desk 2")], "ring_seconds": 5})),
    )
    .await;
    // The service reloads its directory within a second of a change.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for d in [&vth1, &vth2, &vts1, &vts2] {
        register(sip, d);
    }
    let caller = |dialled: &str| format!("{};{};{dialled}", vto.user, vto.password);

    // (a) + (d): the door station calls the room; both monitors ring, the first answers, the
    // second is cancelled; the caller hangs up through the proxy.
    let a1 = Uas::start(sip, &vth1, "callee_answer.xml");
    let a2 = Uas::start(sip, &vth2, "callee_cancelled.xml");
    let (ok, text) = run_uac(sip, "caller.xml", &caller("11%2301%2311"));
    assert!(ok, "caller (room):\n{text}");
    let (ok, text) = a1.finish();
    assert!(ok, "VTH 1 (answers):\n{text}");
    let (ok, text) = a2.finish();
    assert!(ok, "VTH 2 (cancelled):\n{text}");
    assert!(text.contains("SIP/2.0 487"), "{text}");
    let rec = call_ended(&s);
    assert!(
        rec.contains("status=Answered") && rec.contains("code=200"),
        "{rec}"
    );
    assert!(rec.contains("dialled=11#01#11 "), "{rec}");

    // (b): the management centre: Desk 1 rings for 5 s, is cancelled, Desk 2 answers.
    let started = Instant::now();
    let b1 = Uas::start(sip, &vts1, "callee_cancelled.xml");
    let b2 = Uas::start(sip, &vts2, "callee_answer.xml");
    let (ok, text) = run_uac(sip, "caller.xml", &caller("888888"));
    assert!(ok, "caller (centre):\n{text}");
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "rolled over too early"
    );
    let (ok, text) = b1.finish();
    assert!(ok, "Desk 1 (ring time over):\n{text}");
    let (ok, text) = b2.finish();
    assert!(ok, "Desk 2 (answers):\n{text}");
    let rec = call_ended(&s);
    assert!(
        rec.contains("status=Answered") && rec.contains("dialled=888888"),
        "{rec}"
    );

    // (c): busy.
    let c2 = Uas::start(sip, &vth2, "callee_busy.xml");
    let (ok, text) = run_uac(sip, "caller_busy.xml", &caller(&vth2.user));
    assert!(ok, "caller (busy):\n{text}");
    let (ok, text) = c2.finish();
    assert!(ok, "VTH 2 (busy):\n{text}");
    let rec = call_ended(&s);
    assert!(
        rec.contains("status=Busy") && rec.contains("code=486"),
        "{rec}"
    );
}

/// A baresip instance with its own config dir, registered as `user` (digits-only alias).
struct Baresip {
    child: Child,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Baresip {
    fn start(
        sip: SocketAddr,
        user: &str,
        password: &str,
        commands: &[&str],
        quit_after: u32,
    ) -> Baresip {
        let dir = tempfile::tempdir().unwrap();
        let port = free_udp_port();
        std::fs::write(
            dir.path().join("config"),
            format!(
                "sip_listen\t127.0.0.1:{port}\n\
module_path\t/usr/lib/baresip/modules\nmodule\tg711.so\nmodule\tausine.so\nmodule\taufile.so\n\
module_app\taccount.so\nmodule_app\tmenu.so\n\
audio_source\tausine,440\naudio_player\taufile,{}\naudio_alert\taufile,{}\n\
rtp_timeout\t0\nausrc_srate\t48000\nauplay_srate\t48000\nausrc_channels\t2\nauplay_channels\t2\n",
                dir.path().join("heard.wav").display(),
                dir.path().join("alert.wav").display(),
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("accounts"),
            format!("<sip:{user}@{sip};transport=udp>;auth_pass={password};answermode=auto;regint=300\n"),
        )
        .unwrap();
        let out = dir.path().join("out.log");
        let log = std::fs::File::create(&out).unwrap();
        let mut c = Command::new("baresip");
        c.arg("-f")
            .arg(dir.path())
            .args(["-4", "-n", "127.0.0.1", "-t", &quit_after.to_string()]);
        for cmd in commands {
            c.args(["-e", cmd]);
        }
        let child = c
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("baresip is missing: apt-get install baresip");
        Baresip {
            child,
            out,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn wait_for(&self, what: &str, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self.log().contains(what) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn alias(user: &str) -> String {
    user.split("%23")
        .map(|f| format!("{}{f}", f.len()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_calls_baresip_through_gatehouse() {
    // baresip 1.0 gives up at a digest algorithm it does not know: offer MD5 alone.
    let s = Server::start(&["--sip-digest-algorithms", "md5"]);
    let sip = s.sip.expect("the log names the SIP address");
    setup(&s).await;
    let t = admin_token(&s).await;
    let b = api_ok(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/buildings",
        Some(json!({"number": "11"})),
    )
    .await;
    let u = api_ok(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/units",
        Some(json!({"building": b["id"], "number": "01"})),
    )
    .await;
    let room = api_ok(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/rooms",
        Some(json!({"unit": u["id"], "number": "11"})),
    )
    .await;
    let vth = device(
        &s,
        &t,
        "Flat 11",
        "vth",
        "9001",
        json!({"type": "vth", "room": room["id"]}),
    )
    .await;
    let vto = device(
        &s,
        &t,
        "Door",
        "vto",
        "8055",
        json!({"type": "vto", "station": "unit_door_station", "unit": u["id"], "suffix": "55"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let callee = Baresip::start(sip, &alias(&vth.user), &vth.password, &[], 40);
    assert!(
        callee.wait_for("200 OK", 15),
        "the callee did not register:\n{}",
        callee.log()
    );
    let dial = format!("/dial sip:{}@{sip}", alias(&vth.user));
    let caller = Baresip::start(sip, &alias(&vto.user), &vto.password, &[], 14);
    assert!(
        caller.wait_for("200 OK", 15),
        "the caller did not register:\n{}",
        caller.log()
    );
    drop(caller);
    let caller = Baresip::start(sip, &alias(&vto.user), &vto.password, &[&dial], 8);
    assert!(
        callee.wait_for("Call established", 20),
        "the callee never answered:\ncallee:\n{}\ncaller:\n{}",
        callee.log(),
        caller.log()
    );
    let rec = call_ended(&s);
    assert!(
        rec.contains("status=Answered"),
        "{rec}\ncaller:\n{}\ncallee:\n{}",
        caller.log(),
        callee.log()
    );
    assert!(callee.wait_for("terminated", 10), "{}", callee.log());
}
