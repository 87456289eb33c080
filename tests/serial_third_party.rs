//! Our serial codecs against two third-party host libraries, byte for byte: pyfingerprint (R30x/
//! ZFM fingerprint sensors) and Adafruit's CircuitPython PN532 driver (PN532 over UART). The
//! Python script tests/serial/library_frames.py makes each library talk to our simulator
//! (tests/serial/simulators.py) and prints what the library wrote for each call and what the
//! simulator answered and the library accepted; here our encoders must build the same bytes, and
//! our decoders must read the same answers. The libraries come from tests/requirements.txt in the
//! virtualenv target/test-venv (tests/run makes it); without them this test fails, never skips.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command as Process;
use std::sync::OnceLock;

use gatehouse::serial::r30x::{self, Buffer, Code, Command, Packet, Pid};
use gatehouse::serial::{em4100, pn532};

const INSTALL: &str = "install them with `python3 -m venv target/test-venv && \
     target/test-venv/bin/pip install -r tests/requirements.txt` (tests/run does it)";

/// The sensor's factory address, which pyfingerprint uses by default.
const A: u32 = r30x::DEFAULT_ADDRESS;

fn library_frames() -> &'static HashMap<String, String> {
    static FRAMES: OnceLock<HashMap<String, String>> = OnceLock::new();
    FRAMES.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = std::env::var_os("GATEHOUSE_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/test-venv/bin/python"));
        assert!(
            python.exists(),
            "{} is missing: this test needs pyfingerprint and adafruit-circuitpython-pn532; {INSTALL}",
            python.display()
        );
        let script = root.join("tests/serial/library_frames.py");
        let out = Process::new(&python)
            .arg(&script)
            .current_dir(&root)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}; {INSTALL}", python.display()));
        assert!(
            out.status.success(),
            "{} failed ({}):\n{}\nIf a package is missing, {INSTALL}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let frames: HashMap<String, String> = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("library_frames.py printed no JSON object: {e}"));
        eprintln!(
            "frames from {}",
            frames.get("versions").map_or("?", String::as_str)
        );
        frames
    })
}

/// The bytes recorded under `key`.
fn lib(key: &str) -> Vec<u8> {
    let hex = library_frames()
        .get(key)
        .unwrap_or_else(|| panic!("library_frames.py printed no {key:?}"));
    hex::decode(hex).unwrap_or_else(|e| panic!("{key}: not hex: {e}"))
}

fn show(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Asserts that the library's bytes for `key` are ours.
fn same(key: &str, ours: &[u8]) {
    let theirs = lib(key);
    assert_eq!(
        show(&theirs),
        show(ours),
        "{key}: the library's bytes (left) differ from our encoder's (right)"
    );
}

fn r30x_packets(key: &str, address: u32) -> Vec<Packet> {
    let bytes = lib(key);
    let mut d = r30x::Decoder::new(address);
    let mut packets = Vec::new();
    d.feed(&bytes, |p| packets.push(p));
    assert_eq!(d.buffered(), 0, "{key}: bytes left over in our decoder");
    packets
}

/// The single ack packet answered under `key`: its code and data.
fn r30x_ack(key: &str) -> (Code, Vec<u8>) {
    match r30x_packets(key, A).as_slice() {
        [Packet::Ack { code, data }] => (*code, data.to_vec()),
        other => panic!("{key}: expected one ack packet, decoded {other:?}"),
    }
}

#[test]
fn r30x_commands_are_pyfingerprints() {
    same(
        "r30x.verify_password_0",
        &Command::VerifyPassword(0).encode(A),
    );
    same(
        "r30x.verify_password_deadbeef",
        &Command::VerifyPassword(0xDEAD_BEEF).encode(A),
    );
    same(
        "r30x.verify_password_wrong",
        &Command::VerifyPassword(0x0102_0304).encode(A),
    );
    same("r30x.gen_img", &Command::GenImg.encode(A));
    same("r30x.gen_img_no_finger", &Command::GenImg.encode(A));
    same(
        "r30x.gen_img_address_12345678",
        &Command::GenImg.encode(0x1234_5678),
    );
    same("r30x.img2tz_1", &Command::Img2Tz(Buffer::One).encode(A));
    same("r30x.img2tz_2", &Command::Img2Tz(Buffer::Two).encode(A));
    same("r30x.reg_model", &Command::RegModel.encode(A));
    // pyfingerprint's compareCharacteristics is Match (0x03).
    same("r30x.match", &Command::Match.encode(A));
    // pyfingerprint's downloadCharacteristics is UpChar (0x08) — "download" from the sensor.
    same("r30x.up_char_1", &Command::UpChar(Buffer::One).encode(A));
    same("r30x.up_char_2", &Command::UpChar(Buffer::Two).encode(A));
    // Instructions we have no Command for, through the generic packet builder: ReadSysPara
    // (getSystemParameters) and TempleteNum (getTemplateCount). pyfingerprint has no Handshake.
    let generic = |ins: u8| r30x::encode(A, Pid::Command, &[ins]).unwrap().to_vec();
    same("r30x.read_sys_para", &generic(0x0F));
    same("r30x.template_count", &generic(0x1D));
}

#[test]
fn r30x_answers_pyfingerprint_accepted_decode() {
    assert_eq!(r30x_ack("r30x.verify_password_0.answer").0, Code::Ok);
    assert_eq!(r30x_ack("r30x.verify_password_deadbeef.answer").0, Code::Ok);
    assert_eq!(
        r30x_ack("r30x.verify_password_wrong.answer").0,
        Code::WrongPassword
    );
    assert_eq!(r30x_ack("r30x.gen_img_no_finger.answer").0, Code::NoFinger);
    assert_eq!(r30x_ack("r30x.gen_img.answer").0, Code::Ok);
    assert_eq!(r30x_ack("r30x.img2tz_1.answer").0, Code::Ok);
    assert_eq!(r30x_ack("r30x.reg_model.answer").0, Code::Ok);
    assert_eq!(
        r30x_ack("r30x.reg_model_fail.answer").0,
        Code::CombineFailed
    );
    assert_eq!(r30x_ack("r30x.match_fail.answer").0, Code::NoMatch);
    // Match: code 0 and the score pyfingerprint returned, big-endian.
    assert_eq!(
        r30x_ack("r30x.match.answer"),
        (Code::Ok, lib("r30x.match_score"))
    );
    // ReadSysPara: 16 bytes of parameters (pyfingerprint read the same values).
    let (code, data) = r30x_ack("r30x.read_sys_para.answer");
    assert_eq!(code, Code::Ok);
    assert_eq!(data.len(), 16);
    assert_eq!(data[8..12], A.to_be_bytes());
    // Another address: our decoder for that address reads it, the default one does not.
    assert_eq!(
        r30x_packets("r30x.gen_img_address_12345678.answer", 0x1234_5678),
        vec![Packet::Ack {
            code: Code::NoFinger,
            data: r30x::Payload::new()
        }]
    );
    let mut d = r30x::Decoder::default();
    let mut n = 0;
    d.feed(&lib("r30x.gen_img_address_12345678.answer"), |_| n += 1);
    assert_eq!(n, 0);

    // UpChar: the ack, then data packets (pid 02) of 128 bytes, the last one pid 08; together
    // the 512-byte template pyfingerprint returned.
    let template = lib("r30x.template");
    assert_eq!(template.len(), 512);
    for key in ["r30x.up_char_1.answer", "r30x.up_char_2.answer"] {
        let packets = r30x_packets(key, A);
        assert_eq!(packets.len(), 5, "{key}: {packets:?}");
        assert!(matches!(
            &packets[0],
            Packet::Ack { code: Code::Ok, data } if data.is_empty()
        ));
        let mut got = Vec::new();
        for (i, p) in packets[1..].iter().enumerate() {
            let Packet::Data { last, payload } = p else {
                panic!("{key}: packet {i} is {p:?}");
            };
            assert_eq!(*last, i == 3, "{key}: packet {i}");
            assert_eq!(payload.len(), 128);
            got.extend_from_slice(payload);
        }
        assert_eq!(got, template, "{key}");
    }
}

#[test]
fn r30x_enrolment_reads_the_simulators_upload_into_the_template() {
    // Our enrolment state machine, fed the upload stream pyfingerprint accepted, ends Done with
    // the same template.
    let mut e = r30x::Enrolment::new(0, 1000);
    e.start(0);
    let mut now = 1;
    let ok = || Packet::Ack {
        code: Code::Ok,
        data: r30x::Payload::new(),
    };
    let nofinger = || Packet::Ack {
        code: Code::NoFinger,
        data: r30x::Payload::new(),
    };
    // VerifyPassword ok, press 1, Img2Tz, lift, press 2, Img2Tz, RegModel, lift, press 3,
    // Img2Tz, Match (with the score the simulator sent).
    let (_, score) = r30x_ack("r30x.match.answer");
    let matched = Packet::Ack {
        code: Code::Ok,
        data: r30x::Payload::from_slice(&score).unwrap(),
    };
    let script = [
        ok(),
        ok(),
        ok(),
        nofinger(),
        ok(),
        ok(),
        ok(),
        nofinger(),
        ok(),
        ok(),
        matched,
    ];
    for p in &script {
        let r = e.on_packet(p, now);
        assert!(r.send.is_some(), "no command after {p:?}: {r:?}");
        now += 1;
    }
    let mut done = None;
    for p in r30x_packets("r30x.up_char_2.answer", A) {
        if let Some(ev) = e.on_packet(&p, now).event {
            done = Some(ev);
        }
        now += 1;
    }
    match done {
        Some(r30x::Event::Done(t)) => assert_eq!(t.as_slice(), lib("r30x.template")),
        other => panic!("enrolment did not finish with the template: {other:?}"),
    }
}

#[test]
fn pn532_commands_are_adafruits() {
    // Adafruit's constructor writes the wake-up, then SAMConfiguration directly, then
    // GetFirmwareVersion: the same sequence as Gatehouse on (re)open.
    let wakeup = lib("pn532.init#0");
    assert_eq!(wakeup[..2], [0x55, 0x55]);
    assert!(wakeup[2..].iter().all(|b| *b == 0), "{}", show(&wakeup));
    // The wake-up is 0x55 0x55 and then zeros, long enough for the oscillator to start; adafruit
    // sends 17 bytes (15 zeros), we send 16 (14 zeros, as libnfc's pn532_uart does). Ours is
    // adafruit's minus one zero; the PN532 ignores the zeros either way.
    assert!(wakeup.len() >= pn532::WAKEUP.len());
    assert_eq!(wakeup[..pn532::WAKEUP.len()], pn532::WAKEUP);
    same("pn532.init#1", &pn532::sam_configuration());
    same("pn532.init#2", &pn532::get_firmware_version());
    same("pn532.get_firmware_version", &pn532::get_firmware_version());
    // SAMConfiguration: adafruit sends the same parameters (normal mode, timeout 0x14, IRQ 1).
    same("pn532.sam_configuration", &pn532::sam_configuration());
    // read_passive_target: InListPassiveTarget, MaxTg 1, BrTy 0x00 (106 kbps type A).
    same(
        "pn532.in_list_passive_target",
        &pn532::in_list_passive_target(),
    );
    same(
        "pn532.in_list_passive_target_7",
        &pn532::in_list_passive_target(),
    );
    same("pn532.in_list_no_card", &pn532::in_list_passive_target());
    // RFConfiguration item 5 (MxRtyATR FF, MxRtyPSL 01, MxRtyPassiveActivation 02) through
    // adafruit's generic call_function and our generic command(): Gatehouse's `D4 32 05 FF 01 02`.
    let rf = pn532::command(0x32, &[0x05, 0xFF, 0x01, 0x02]).unwrap();
    same("pn532.rf_configuration_retries", &rf);
    assert_eq!(rf[5..11], [0xD4, 0x32, 0x05, 0xFF, 0x01, 0x02]);
    same("pn532.unknown_command", &pn532::command(0xFE, &[]).unwrap());
    // The ACK adafruit expects from the PN532 is our ACK.
    same("pn532.ack_expected", &pn532::ACK);
    same("pn532.ack_expected", &pn532::ack());
}

fn pn532_events(key: &str) -> Vec<pn532::Event> {
    let mut d = pn532::Decoder::new();
    let mut events = Vec::new();
    d.feed(&lib(key), |e| events.push(e));
    // (Not `dropped() == 0`: the decoder counts each frame's leading preamble 00 as dropped.)
    assert_eq!(d.buffered(), 0, "{key}: bytes left over in our decoder");
    events
}

/// The ACK and one response, as decoded from the answer under `key`: (code, data).
fn pn532_response(key: &str) -> (u8, Vec<u8>) {
    match pn532_events(key).as_slice() {
        [pn532::Event::Ack, pn532::Event::Response { cmd, data }] => (*cmd, data.to_vec()),
        other => panic!("{key}: expected ACK and a response, decoded {other:?}"),
    }
}

#[test]
fn pn532_answers_adafruit_accepted_decode() {
    let (cmd, data) = pn532_response("pn532.get_firmware_version.answer");
    assert_eq!(
        pn532::parse_firmware_version(cmd, &data),
        Ok(pn532::FirmwareVersion {
            ic: 0x32,
            ver: 0x01,
            rev: 0x06,
            support: 0x07
        })
    );
    let (cmd, data) = pn532_response("pn532.sam_configuration.answer");
    assert_eq!((cmd, data.len()), (0x15, 0));
    let (cmd, data) = pn532_response("pn532.rf_configuration_retries.answer");
    assert_eq!((cmd, data.len()), (0x33, 0));
    // The constructor's two exchanges, back to back.
    assert_eq!(pn532_events("pn532.init.answer").len(), 4);
    // Cards: the UIDs adafruit read are our card numbers.
    for (key, uid) in [
        ("pn532.in_list_passive_target.answer", "pn532.uid4"),
        ("pn532.in_list_passive_target_7.answer", "pn532.uid7"),
    ] {
        let (cmd, data) = pn532_response(key);
        let card = pn532::parse_passive_target(cmd, &data).unwrap().unwrap();
        assert_eq!(card.as_str(), hex::encode_upper(lib(uid)), "{key}");
    }
    let (cmd, data) = pn532_response("pn532.in_list_no_card.answer");
    assert_eq!(pn532::parse_passive_target(cmd, &data), Ok(None));
    // An unknown command: the ACK, then the error frame.
    assert_eq!(
        pn532_events("pn532.unknown_command.answer"),
        vec![pn532::Event::Ack, pn532::Event::ErrorFrame]
    );
    // An extended frame (adafruit builds and reads only normal ones; the simulator sends one).
    let ext = lib("pn532.extended_firmware.answer");
    assert_eq!(ext[6..11], [0x00, 0x00, 0xFF, 0xFF, 0xFF]);
    let (cmd, data) = pn532_response("pn532.extended_firmware.answer");
    assert_eq!(
        pn532::parse_firmware_version(cmd, &data).map(|f| f.ic),
        Ok(0x32)
    );
}

#[test]
fn em4100_simulator_frames_are_ours() {
    for data in ["0F00D0C8A3", "0000000000", "FFFFFFFFFF", "1234567890"] {
        let key = format!("em4100.frame.{data}");
        let bytes: [u8; 5] = hex::decode(data).unwrap().try_into().unwrap();
        let card = em4100::Card(bytes);
        same(&key, &em4100::encode(&card));
        let mut d = em4100::Decoder::new();
        let mut cards = Vec::new();
        d.feed(&lib(&key), |c| cards.push(c));
        assert_eq!(cards, vec![card]);
        assert_eq!(card.hex().as_str(), data);
    }
}
