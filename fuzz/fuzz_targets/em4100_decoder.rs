//! EM4100 ASCII byte stream from an RDM6300-family reader, fed in arbitrary chunks: no panic,
//! bounded buffer, and the debounce accepts whatever the decoder yields.
#![no_main]
use gatehouse::serial::em4100::{Debounce, Decoder, MAX_BUFFER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&c, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(c % 16) + 1;
    let mut d = Decoder::new();
    let mut db = Debounce::default();
    let mut now = 0u64;
    for part in stream.chunks(chunk) {
        now += part.first().map_or(0, |b| u64::from(*b) * 10);
        d.feed(part, |card| {
            let _ = card.decimal();
            let _ = db.report(&card, now);
        });
        assert!(d.buffered() <= MAX_BUFFER);
    }
});
