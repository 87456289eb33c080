//! PN532 HSU byte stream from the card issuer, fed in arbitrary chunks: no panic, bounded buffer,
//! and every response the decoder yields goes through the parse helpers.
#![no_main]
use gatehouse::serial::pn532::{
    parse_firmware_version, parse_passive_target, Decoder, Event, MAX_FRAME,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte picks the chunk size (1..=32), the rest is the stream.
    let Some((&c, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(c % 32) + 1;
    let mut d = Decoder::new();
    for part in stream.chunks(chunk) {
        d.feed(part, |ev| {
            if let Event::Response { cmd, data } = ev {
                let _ = parse_firmware_version(cmd, &data);
                let _ = parse_passive_target(cmd, &data);
            }
        });
        assert!(d.buffered() <= MAX_FRAME);
    }
});
