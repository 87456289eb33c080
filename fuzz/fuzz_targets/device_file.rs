//! An imported Gatehouse device file (JSON): reading and its format check.
#![no_main]
use gatehouse::intercom::device_transfer::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse(data);
});
