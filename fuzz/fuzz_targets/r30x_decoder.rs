//! The R30x/ZFM packet decoder with arbitrary bytes in arbitrary chunks: it never panics, never
//! holds more than one packet's bytes, decodes the same packets whatever the chunking, and every
//! packet it yields re-encodes to a frame that decodes back to itself. The decoded packets also
//! drive the enrolment state machine, which must not panic either.
#![no_main]
use gatehouse::serial::r30x::{
    encode, Decoder, Enrolment, Packet, Pid, DEFAULT_ADDRESS, MAX_FRAME,
};
use libfuzzer_sys::fuzz_target;

fn run(data: &[u8], sizes: &[usize]) -> Vec<Packet> {
    let mut d = Decoder::default();
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < data.len() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(data.len())
            .max(1);
        let chunk = &data[at..(at + n).min(data.len())];
        at += chunk.len();
        i += 1;
        d.feed(chunk, |p| out.push(p));
        assert!(d.buffered() < MAX_FRAME, "buffer grew past one packet");
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&k, rest)) = input.split_first() else {
        return;
    };
    let k = usize::from(k % 16).min(rest.len());
    let (sizes, data) = rest.split_at(k);
    let sizes: Vec<usize> = sizes.iter().map(|b| usize::from(*b) + 1).collect();
    let whole = run(data, &[data.len().max(1)]);
    assert_eq!(whole, run(data, &sizes), "chunking changed the decoding");
    assert_eq!(whole, run(data, &[1]), "byte-by-byte changed the decoding");
    let mut e = Enrolment::new(0, 1000);
    let _ = e.start(0);
    for (i, p) in whole.iter().enumerate() {
        let frame = match p {
            Packet::Ack { code, data } => {
                let mut v = vec![code.as_u8()];
                v.extend_from_slice(data);
                encode(DEFAULT_ADDRESS, Pid::Ack, &v)
            }
            Packet::Data { last, payload } => {
                let pid = if *last { Pid::EndOfData } else { Pid::Data };
                encode(DEFAULT_ADDRESS, pid, payload)
            }
        };
        let frame = frame.expect("decoded packet re-encodes");
        assert_eq!(run(&frame, &[1]), vec![p.clone()]);
        let _ = e.on_packet(p, i as u64);
        let _ = e.tick(i as u64 * 100);
    }
});
