//! Any message on the SIP port, through the whole sans-IO core: parsing, our own checks, the
//! registrar, the proxy and their answers. A small building is known so requests reach real
//! code paths (digest, routing), not only the "unknown user" ones.
#![no_main]
use std::collections::HashMap;

use gatehouse::intercom::registrations::digits_alias;
use gatehouse::intercom::ringing::DeviceKind;
use gatehouse::sip::core::{Core, CoreConfig, Peer, Transport};
use gatehouse::sip::directory::{Directory, Room, User};
use libfuzzer_sys::fuzz_target;

fn core() -> Core {
    let user = |device, number: &str, kind, room| User {
        device,
        name: format!("d{device}"),
        number: number.into(),
        alias: digits_alias(number),
        kind,
        building: Some(1),
        unit: Some(10),
        room,
        password: "secret123".into(),
    };
    let users = vec![
        user(1, "1#01#8055", DeviceKind::Vto, None),
        user(2, "1#01#11", DeviceKind::Vth, Some(100)),
        user(3, "1#01#11#2", DeviceKind::Vth, Some(100)),
    ];
    let rooms = vec![Room::new(100, "1#01#11", "11", Some(10), 1)];
    let dir = Directory::build(users, rooms, HashMap::new(), "888888".into());
    let addr = "192.168.1.2:5060".parse().unwrap();
    let cfg = CoreConfig {
        realm: "gatehouse".into(),
        udp_addr: addr,
        tcp_addr: addr,
        tls_addr: "192.168.1.2:5061".parse().unwrap(),
        keepalive_interval_ms: 60_000,
        ban_threshold: 1_000_000,
        ban_duration_ms: 1,
        rate_limit: u32::MAX,
        min_expires: 60,
        max_expires: 3600,
        server: "Gatehouse/fuzz".into(),
        secret: [7; 32],
        digest_algorithms: vec!["MD5", "SHA-256"],
    };
    Core::new(cfg, dir, Vec::new(), 1_700_000_000_000)
}

fuzz_target!(|data: &[u8]| {
    let mut c = core();
    let peer = Peer {
        transport: Transport::Udp,
        addr: "192.168.1.50:5060".parse().unwrap(),
    };
    let local = "192.168.1.2:5060".parse().unwrap();
    // The same bytes twice (a retransmission), then the timers.
    let _ = c.on_message(1_700_000_000_000, peer, local, data);
    let _ = c.on_message(1_700_000_000_100, peer, local, data);
    let _ = c.on_tick(1_700_000_100_000);
});
