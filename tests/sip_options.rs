//! A real SIP agent (sipp, Debian's sip-tester) probes Gatehouse with OPTIONS over UDP and gets
//! 200 OK. Fails loudly when sipp is missing.

mod common;

use std::process::Command;

#[test]
fn sipp_options_probe_gets_200() {
    let s = common::Server::start(&[]);
    let sip = s.sip.expect("the log names the SIP address");
    let local = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = local.local_addr().unwrap().port();
    drop(local);
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sip/options.xml");
    let out = Command::new("sipp")
        .args([
            &sip.to_string(),
            "-sf",
            scenario,
            "-m",
            "1",
            "-timeout",
            "10s",
            "-timeout_error",
        ])
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-nostdin",
            "-trace_err",
        ])
        .current_dir(std::env::temp_dir())
        .output()
        .expect("sipp is missing: apt-get install sip-tester");
    assert!(
        out.status.success(),
        "sipp failed ({:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
