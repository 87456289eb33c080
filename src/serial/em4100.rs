//! EM4100 ASCII frame codec for 125 kHz ID-card readers of the RDM6300 family, sans-IO: decodes
//! the reader's byte stream (`STX`, 10 hex characters of data, 2 of checksum = XOR of the five data
//! bytes, `ETX`) into card numbers in a fixed `heapless` buffer, verifying the checksum and
//! dropping garbage and bad frames until the next `STX`; and a pure [`Debounce`] (time passed in as
//! milliseconds) that reports a card held on the reader once rather than at every repeat frame.
//! It owns only this framing and debouncing. It must not touch ports, clocks, any store table or
//! socket, and it never panics on any input.

use heapless::{String, Vec};

/// Start of frame.
pub const STX: u8 = 0x02;
/// End of frame.
pub const ETX: u8 = 0x03;
/// Bytes between STX and ETX: 10 data + 2 checksum hex characters.
pub const BODY: usize = 12;
/// Largest number of bytes the decoder ever buffers.
pub const MAX_BUFFER: usize = BODY + 2;
/// Default hold window of [`Debounce`]: repeat frames closer than this to the previous one are
/// the same presentation of the card.
pub const DEFAULT_HOLD_MS: u64 = 1500;

/// A card number read from an EM4100 tag: the 5 data bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Card(pub [u8; 5]);

impl Card {
    /// The 10 upper-case hex digits (version/customer byte then the 32-bit ID).
    pub fn hex(&self) -> String<10> {
        let mut s = String::new();
        for b in self.0 {
            for nib in [b >> 4, b & 0x0F] {
                let c = char::from_digit(u32::from(nib), 16)
                    .unwrap_or('0')
                    .to_ascii_uppercase();
                let _ = s.push(c);
            }
        }
        s
    }

    /// The common decimal form printed on cards: the last 4 bytes as an unsigned number, zero-padded
    /// to 10 digits.
    pub fn decimal(&self) -> String<10> {
        let [_, a, b, c, d] = self.0;
        let mut n = u32::from_be_bytes([a, b, c, d]);
        let mut digits = [b'0'; 10];
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let mut s = String::new();
        for d in digits {
            let _ = s.push(char::from(d));
        }
        s
    }
}

/// Builds a reader frame for `card` (what the reader sends; used by tests and simulators).
pub fn encode(card: &Card) -> [u8; MAX_BUFFER] {
    let mut f = [0u8; MAX_BUFFER];
    f[0] = STX;
    let hex = card.hex();
    f[1..11].copy_from_slice(hex.as_bytes());
    let x = card.0.iter().fold(0u8, |a, b| a ^ b);
    let hexdig = |n: u8| b"0123456789ABCDEF"[usize::from(n & 0x0F)];
    f[11] = hexdig(x >> 4);
    f[12] = hexdig(x);
    f[13] = ETX;
    f
}

fn hex_val(c: u8) -> Option<u8> {
    char::from(c).to_digit(16).map(|v| v as u8)
}

/// Decodes a 12-character body (10 data + 2 checksum hex characters) into a card, checking the
/// XOR checksum.
fn decode_body(body: &[u8]) -> Option<Card> {
    let mut bytes = [0u8; 6];
    let mut it = body.chunks_exact(2);
    for slot in bytes.iter_mut() {
        let pair = it.next()?;
        let (hi, lo) = (hex_val(*pair.first()?)?, hex_val(*pair.get(1)?)?);
        *slot = hi << 4 | lo;
    }
    let [a, b, c, d, e, sum] = bytes;
    (a ^ b ^ c ^ d ^ e == sum).then_some(Card([a, b, c, d, e]))
}

/// Streaming decoder for the reader's byte stream.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Bytes after the current STX (none while hunting for STX).
    buf: Vec<u8, MAX_BUFFER>,
    in_frame: bool,
    bad: u64,
}

impl Decoder {
    /// A new decoder, hunting for STX.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes currently buffered (never more than [`MAX_BUFFER`]).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Frames dropped so far (bad checksum, bad characters, wrong length).
    pub fn bad_frames(&self) -> u64 {
        self.bad
    }

    /// Feeds one byte; returns the card of a frame it completed, if any.
    pub fn push(&mut self, byte: u8) -> Option<Card> {
        if byte == STX {
            // A new STX always restarts: a truncated frame before it is dropped.
            if self.in_frame && !self.buf.is_empty() {
                self.bad += 1;
            }
            self.buf.clear();
            self.in_frame = true;
            return None;
        }
        if !self.in_frame {
            return None; // garbage between frames
        }
        if byte == ETX {
            let card = if self.buf.len() == BODY {
                decode_body(&self.buf)
            } else {
                None
            };
            if card.is_none() {
                self.bad += 1;
            }
            self.buf.clear();
            self.in_frame = false;
            return card;
        }
        // Some RDM6300 clones send CR/LF before ETX: skip them; any other non-hex byte spoils
        // the frame.
        if byte == b'\r' || byte == b'\n' {
            return None;
        }
        if hex_val(byte).is_none() || self.buf.len() >= BODY || self.buf.push(byte).is_err() {
            self.bad += 1;
            self.buf.clear();
            self.in_frame = false;
        }
        None
    }

    /// Feeds `bytes`, calling `out` for every valid card frame. Returns the number of cards.
    pub fn feed(&mut self, bytes: &[u8], mut out: impl FnMut(Card)) -> usize {
        let mut n = 0;
        for b in bytes {
            if let Some(card) = self.push(*b) {
                out(card);
                n += 1;
            }
        }
        n
    }
}

/// Reports a card held on the reader once. Pure: the caller passes a monotonic time in ms.
#[derive(Debug, Clone, Copy)]
pub struct Debounce {
    hold_ms: u64,
    last: Option<(Card, u64)>,
}

impl Default for Debounce {
    fn default() -> Self {
        Self::new(DEFAULT_HOLD_MS)
    }
}

impl Debounce {
    /// A debounce treating frames of the same card closer than `hold_ms` as one presentation.
    pub fn new(hold_ms: u64) -> Self {
        Self {
            hold_ms,
            last: None,
        }
    }

    /// Call for every decoded frame at time `now_ms`; true when it should be reported (a new
    /// card, or the same card again after a gap of at least `hold_ms` since its last frame).
    pub fn report(&mut self, card: &Card, now_ms: u64) -> bool {
        let report = match self.last {
            Some((prev, at)) if prev == *card => now_ms.saturating_sub(at) >= self.hold_ms,
            _ => true,
        };
        self.last = Some((*card, now_ms));
        report
    }

    /// Forgets the last card (e.g. when the port is reopened).
    pub fn reset(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frame for data 0F00D0C8A3, checksum computed by hand:
    /// 0F ^ 00 = 0F; ^ D0 = DF; ^ C8 = 17; ^ A3 = B4 → "B4".
    const FRAME: &[u8] = b"\x020F00D0C8A3B4\x03";
    const CARD: Card = Card([0x0F, 0x00, 0xD0, 0xC8, 0xA3]);

    #[test]
    fn cr_lf_inside_a_frame_is_skipped() {
        assert_eq!(decode_all(b"\x020F00D0C8A3B4\r\n\x03"), vec![CARD]);
    }

    fn decode_all(bytes: &[u8]) -> std::vec::Vec<Card> {
        let mut d = Decoder::new();
        let mut v = std::vec::Vec::new();
        d.feed(bytes, |c| v.push(c));
        v
    }

    #[test]
    fn decodes_documented_frame() {
        let data: [u8; 5] = [0x0F, 0x00, 0xD0, 0xC8, 0xA3];
        assert_eq!(data.iter().fold(0, |a, b| a ^ b), 0xB4);
        assert_eq!(decode_all(FRAME), vec![CARD]);
        assert_eq!(CARD.hex().as_str(), "0F00D0C8A3");
        // Last 4 bytes 00 D0 C8 A3 = 13682851.
        assert_eq!(CARD.decimal().as_str(), "0013682851");
        assert_eq!(encode(&CARD), FRAME);
        // Lower-case hex from a clone is accepted too.
        assert_eq!(decode_all(b"\x020f00d0c8a3b4\x03"), vec![CARD]);
        let max = Card([0xFF; 5]);
        assert_eq!(max.decimal().as_str(), "4294967295");
        assert_eq!(decode_all(&encode(&max)), vec![max]);
    }

    #[test]
    fn bad_checksum_garbage_and_resync() {
        let mut stream = b"\xff\x00junk\x03".to_vec();
        stream.extend_from_slice(b"\x020F00D0C8A3B5\x03"); // bad checksum
        stream.extend_from_slice(b"\x020F00D0"); // truncated, then a new STX
        stream.extend_from_slice(FRAME);
        stream.extend_from_slice(b"\x020F00D0C8A3B4B4\x03"); // too long
        stream.extend_from_slice(b"\x020F00D0ZZA3B4\x03"); // not hex
        stream.extend_from_slice(b"\x02\x03\x03\x02");
        stream.extend_from_slice(FRAME);
        let mut d = Decoder::new();
        let mut v = std::vec::Vec::new();
        d.feed(&stream, |c| v.push(c));
        assert_eq!(v, vec![CARD, CARD]);
        assert_eq!(d.bad_frames(), 5);
    }

    #[test]
    fn byte_at_a_time() {
        let mut stream = b"\x13\x37".to_vec();
        stream.extend_from_slice(FRAME);
        stream.extend_from_slice(FRAME);
        let mut d = Decoder::new();
        let cards: std::vec::Vec<_> = stream.iter().filter_map(|b| d.push(*b)).collect();
        assert_eq!(cards, vec![CARD, CARD]);
        for b in 0..=255u8 {
            d.push(b);
            assert!(d.buffered() <= MAX_BUFFER);
        }
    }

    #[test]
    fn debounce_reports_held_card_once() {
        let other = Card([0x01, 0x02, 0x03, 0x04, 0x05]);
        let mut db = Debounce::default();
        assert!(db.report(&CARD, 10_000)); // first read
                                           // Held on the reader: RDM6300 repeats every ~100-200 ms.
        for t in (10_200..20_000).step_by(200) {
            assert!(!db.report(&CARD, t), "repeat at {t}");
        }
        // Lifted for 2 s, presented again.
        assert!(db.report(&CARD, 21_900));
        // A different card reports at once, and then the first one again too.
        assert!(db.report(&other, 22_000));
        assert!(db.report(&CARD, 22_100));
        // Gap exactly at the window reports again; just under it does not.
        assert!(!db.report(&CARD, 23_599));
        assert!(db.report(&CARD, 25_099));
        // Time going backwards (caller bug) does not report nor panic.
        assert!(!db.report(&CARD, 0));
        db.reset();
        assert!(db.report(&CARD, 0));
    }
}
