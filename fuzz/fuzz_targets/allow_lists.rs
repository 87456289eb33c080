//! ARP table text (a kernel file) and allow-list entries typed by users.
#![no_main]
use gatehouse::accounts::netaccess::{parse_arp, parse_ip, parse_mac};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_arp(&text, [192, 168, 1, 20].into());
    let _ = parse_ip(&text);
    let _ = parse_mac(&text);
});
