//! The command line against the real binary: help, version, config precedence, clean shutdown on
//! SIGTERM, backup while running, restore (refusing a file that is not a store, and a store in
//! use) and factory reset with confirmation.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn gatehouse() -> Command {
    common::gatehouse_command()
}

#[test]
fn help_documents_every_flag_and_version_names_commit_and_target() {
    let out = gatehouse().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--data-dir",
        "--https-addr",
        "--sip-addr",
        "--sips-addr",
        "--config",
        "--log-level",
        "--session-idle-timeout",
        "--lockout-threshold",
        "--lockout-duration",
        "--http-redirect-addr",
        "GATEHOUSE_DATA_DIR",
        "backup",
        "restore",
        "factory-reset",
        "run",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    let out = gatehouse().arg("--version").output().unwrap();
    let v = String::from_utf8_lossy(&out.stdout);
    assert!(
        v.contains(env!("CARGO_PKG_VERSION")) && v.contains("commit") && v.contains("target"),
        "{v}"
    );
}

#[tokio::test]
async fn config_file_env_and_flags_in_that_order() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("g.toml");
    let data = tmp.path().join("from-file");
    std::fs::write(
        &cfg,
        format!(
            "data-dir = \"{}\"\nhttps-addr = \"127.0.0.1:1\"\nlog-level = \"debug\"\n",
            data.display()
        ),
    )
    .unwrap();
    // the env var beats the file's https-addr; the flag (port 0 in Server) would beat both
    let mut child = gatehouse()
        .args(["--config", cfg.to_str().unwrap(), "run"])
        .env("GATEHOUSE_HTTPS_ADDR", "127.0.0.1:0")
        .env("GATEHOUSE_SIP_ADDR", "127.0.0.1:0")
        .env("GATEHOUSE_SIPS_ADDR", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let line = std::io::BufRead::lines(std::io::BufReader::new(stderr))
        .map_while(Result::ok)
        .find(|l| l.contains("listening on https:"))
        .unwrap();
    assert!(
        line.contains("https://127.0.0.1:") && !line.contains("127.0.0.1:1 "),
        "{line}"
    );
    assert!(
        data.join("gatehouse.redb").exists(),
        "data dir from the file was created"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    std::fs::write(&cfg, "no-such-setting = 1\n").unwrap();
    let out = gatehouse()
        .args(["--config", cfg.to_str().unwrap(), "run"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-setting"));
}

#[tokio::test]
async fn sigterm_stops_cleanly_within_two_seconds() {
    let s = Server::start(&[]);
    setup(&s).await;
    let t = Instant::now();
    let st = Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let mut s = s;
    let code = loop {
        if let Some(code) = s.child.try_wait().unwrap() {
            break code;
        }
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "still running 2 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(code.success(), "{code:?}");
    eprintln!("stopped {:?} after SIGTERM", t.elapsed());
    let lines: Vec<String> = s.log.try_iter().collect();
    assert!(lines.iter().any(|l| l.contains("stopped")), "{lines:?}");
}

#[tokio::test]
async fn backup_while_running_then_restore_and_factory_reset() {
    let mut s = Server::start(&[]);
    let tmp = s.take_tmp();
    setup(&s).await;
    let tok = admin_token(&s).await;
    let c = client();
    c.put(s.url("/api/v1/company"))
        .bearer_auth(&tok)
        .json(&serde_json::json!({"name": "Backed Up"}))
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("b.redb");
    let data = s.data_dir.to_str().unwrap().to_owned();

    // CLI backup while the service runs
    let out = gatehouse()
        .args(["--data-dir", &data, "backup", backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // API download of a backup is a store too
    let r = c
        .get(s.url("/api/v1/system/backup"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("gatehouse-backup-"));
    let api_backup = dir.path().join("api.redb");
    std::fs::write(&api_backup, r.bytes().await.unwrap()).unwrap();

    // restore refuses while the service holds the store
    let out = gatehouse()
        .args([
            "--data-dir",
            &data,
            "restore",
            "--yes",
            backup.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // change something after the backup, then stop the service
    c.put(s.url("/api/v1/company"))
        .bearer_auth(&tok)
        .json(&serde_json::json!({"name": "Changed Later"}))
        .send()
        .await
        .unwrap();
    let data_dir = s.data_dir.clone();
    drop(s);

    // restore refuses what is not a Gatehouse store, and changes nothing
    let junk = dir.path().join("junk.redb");
    std::fs::write(&junk, b"this is not a database at all").unwrap();
    let out = gatehouse()
        .args([
            "--data-dir",
            &data,
            "restore",
            "--yes",
            junk.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a Gatehouse store"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let foreign = dir.path().join("foreign.redb");
    {
        let db = redb::Database::create(&foreign).unwrap();
        let t = db.begin_write().unwrap();
        t.open_table(redb::TableDefinition::<&str, &str>::new("other"))
            .unwrap()
            .insert("a", "b")
            .unwrap();
        t.commit().unwrap();
    }
    let out = gatehouse()
        .args([
            "--data-dir",
            &data,
            "restore",
            "--yes",
            foreign.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Gatehouse store"));

    // answering anything but "restore" changes nothing
    let mut child = gatehouse()
        .args(["--data-dir", &data, "restore", api_backup.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"no\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing changed"));

    let out = gatehouse()
        .args([
            "--data-dir",
            &data,
            "restore",
            "--yes",
            api_backup.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = Server::start_in(&data_dir, &[]);
    let tok = admin_token(&s).await;
    let v: Value = client()
        .get(s.url("/api/v1/company"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["name"], "Backed Up");
    drop(s);

    // factory reset: confirmation, then back to first-boot setup
    let mut child = gatehouse()
        .args(["--data-dir", &data, "factory-reset"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"reset\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let s = Server::start_in(&data_dir, &[]);
    let v: Value = client()
        .get(s.url("/api/v1/setup"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["required"], true);
    drop(tmp);
}
