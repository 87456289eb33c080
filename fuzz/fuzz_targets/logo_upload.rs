//! An uploaded logo: type sniffing and image header parsing.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gatehouse::company::check_logo(data);
});
