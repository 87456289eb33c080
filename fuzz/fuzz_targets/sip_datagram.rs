//! Any datagram on the SIP port: rsip parsing and the endpoint's own checks and answers.
#![no_main]
use gatehouse::sip::endpoint::Endpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut e = Endpoint::new();
    let _ = e.on_datagram("192.168.1.50:5060".parse().unwrap(), data);
});
