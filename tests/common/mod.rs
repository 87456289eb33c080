//! Shared by the integration tests: start the real `gatehouse` binary on a random loopback port
//! with its own temporary data dir, and talk to it over real HTTPS.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

pub const ADMIN: &str = "admin";
pub const ADMIN_PW: &str = "Kp7!wQz2";

pub struct Server {
    pub child: Child,
    pub base: String,
    /// The SIP UDP address the server bound.
    pub sip: Option<std::net::SocketAddr>,
    /// The SIP TCP address (same address and port as UDP).
    pub sip_tcp: Option<std::net::SocketAddr>,
    /// The SIP TLS address.
    pub sip_tls: Option<std::net::SocketAddr>,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub log: mpsc::Receiver<String>,
}

impl Server {
    /// Starts a fresh server with `extra` arguments after `run`.
    pub fn start(extra: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        let mut s = Server::start_in(&dir, extra);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a fresh server with `extra` arguments after `run` and `env` variables set.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        let mut s = Server::start_in_with_env(&dir, extra, env);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on an existing data dir.
    pub fn start_in(dir: &Path, extra: &[&str]) -> Server {
        Server::start_in_with_env(dir, extra, &[])
    }

    /// Starts a server on an existing data dir with `env` variables set.
    pub fn start_in_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = gatehouse_command();
        cmd.envs(env.iter().copied());
        cmd.arg("--data-dir")
            .arg(dir)
            .args([
                "--https-addr",
                "127.0.0.1:0",
                "--sip-addr",
                "127.0.0.1:0",
                "--sips-addr",
                "127.0.0.1:0",
                "--log-level",
                "info",
                "run",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn gatehouse");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[gatehouse] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let (mut sip, mut sip_tcp, mut sip_tls) = (None, None, None);
        let addr_after = |line: &str, prefix: &str| -> Option<std::net::SocketAddr> {
            let i = line.find(prefix)?;
            line[i + prefix.len()..]
                .split_whitespace()
                .next()
                .and_then(|a| a.parse().ok())
        };
        let base = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("gatehouse did not start in 30 s");
            sip = sip.or(addr_after(&line, "SIP listening on udp://"));
            sip_tcp = sip_tcp.or(addr_after(&line, "SIP listening on tcp://"));
            sip_tls = sip_tls.or(addr_after(&line, "SIP listening on tls://"));
            if let Some(i) = line.find("listening on https://") {
                let rest = &line[i + "listening on ".len()..];
                let url: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                break url;
            }
        };
        Server {
            child,
            base,
            sip,
            sip_tcp,
            sip_tls,
            data_dir: dir.to_owned(),
            _tmp: None,
            log: rx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Keeps the temporary dir alive beyond this server (for restarts).
    pub fn take_tmp(&mut self) -> Option<tempfile::TempDir> {
        self._tmp.take()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The gatehouse binary, run through `GATEHOUSE_TEST_RUNNER` (e.g. qemu-aarch64-static) when the
/// tests run for another architecture (cross/test).
pub fn gatehouse_command() -> Command {
    let bin = env!("CARGO_BIN_EXE_gatehouse");
    let mut c = match std::env::var("GATEHOUSE_TEST_RUNNER") {
        Ok(runner) if !runner.is_empty() => {
            let mut c = Command::new(runner);
            c.arg(bin);
            c
        }
        _ => Command::new(bin),
    };
    c.env_remove("GATEHOUSE_CONFIG");
    // test-only routes are off unless a test asks for them (`Server::start_with_env`)
    c.env_remove("GATEHOUSE_TEST_HOOKS");
    c
}

pub fn client() -> reqwest::Client {
    client_from(None)
}

/// A client whose connections come from `local` (e.g. 127.0.0.2).
pub fn client_from(local: Option<IpAddr>) -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .local_address(local)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub fn questions() -> Value {
    json!([
        {"question": "First school?", "answer": "Elm Street"},
        {"question": "Birth city?", "answer": "Lyon"},
        {"question": "First pet?", "answer": "Rex"}
    ])
}

/// Does first-boot setup with ADMIN / ADMIN_PW.
pub async fn setup(s: &Server) {
    let r = client()
        .post(s.url("/api/v1/setup"))
        .json(&json!({"username": ADMIN, "password": ADMIN_PW, "security_questions": questions()}))
        .send()
        .await
        .expect("setup");
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
}

/// Signs in; returns the JSON answer (token, csrf_token…).
pub async fn login_as(s: &Server, c: &reqwest::Client, user: &str, pw: &str) -> Value {
    let r = c
        .post(s.url("/api/v1/session"))
        .json(&json!({"username": user, "password": pw}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200, "login {user}");
    r.json().await.expect("json")
}

pub async fn admin_token(s: &Server) -> String {
    login_as(s, &client(), ADMIN, ADMIN_PW).await["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// Sends `body` (if any) as JSON with the bearer token and returns the JSON answer, failing the
/// test unless the status is a success.
pub async fn api_ok(
    s: &Server,
    tok: &str,
    m: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut r = client().request(m, s.url(path)).bearer_auth(tok);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let st = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(st.is_success(), "{path}: {st} {v}");
    v
}

/// A UDP port on 127.0.0.1 that was free a moment ago (for a SIP agent to listen on).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
