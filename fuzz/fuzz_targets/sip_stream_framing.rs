//! The stream framer (RFC 3261 §18.3) with arbitrary bytes in arbitrary chunks: it never panics,
//! never holds more than one message plus the last chunk, and frames the same messages (and
//! fails the same way) whatever the chunking.
#![no_main]
use gatehouse::sip::framing::{Frame, FrameError, Framer};
use libfuzzer_sys::fuzz_target;

/// Feeds `data` in chunks of the given sizes (cycled); returns the frames and the error, if any.
fn run(
    mut framer: Framer,
    data: &[u8],
    sizes: &[usize],
    bound: usize,
) -> (Vec<Frame>, Option<FrameError>) {
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < data.len() {
        let n = sizes.get(i % sizes.len().max(1)).copied().unwrap_or(data.len()).max(1);
        let chunk = &data[at..(at + n).min(data.len())];
        at += chunk.len();
        i += 1;
        framer.push(chunk);
        loop {
            match framer.next_frame() {
                Ok(Some(f)) => out.push(f),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
        assert!(framer.buffered() <= bound + chunk.len(), "buffer grew past its bound");
    }
    (out, None)
}

fuzz_target!(|input: &[u8]| {
    let Some((&k, rest)) = input.split_first() else {
        return;
    };
    let k = usize::from(k % 16).min(rest.len());
    let (sizes, data) = rest.split_at(k);
    let sizes: Vec<usize> = sizes.iter().map(|b| usize::from(*b) + 1).collect();
    for (header, body) in [(64, 128), (16 * 1024, 65_535 - 16 * 1024)] {
        let whole = run(Framer::new(header, body), data, &[data.len().max(1)], header + body);
        let chunked = run(Framer::new(header, body), data, &sizes, header + body);
        let bytewise = run(Framer::new(header, body), data, &[1], header + body);
        assert_eq!(whole, chunked, "chunking changed the framing");
        assert_eq!(whole, bytewise, "byte-by-byte changed the framing");
        for f in &whole.0 {
            if let Frame::Message(m) = f {
                assert!(m.len() <= header + body);
                assert!(m.windows(4).any(|w| w == b"\r\n\r\n"));
            }
        }
    }
});
