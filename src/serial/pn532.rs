//! PN532 HSU (UART) frame codec, sans-IO, after NXP's PN532 User Manual UM0701-02 §6.2: builds the
//! host→PN532 frames (wake-up preamble, normal and extended information frames, ACK, NACK, and the
//! commands Gatehouse sends: GetFirmwareVersion, SAMConfiguration, InListPassiveTarget) into fixed
//! `heapless` buffers, and decodes the PN532→host byte stream into ACK, NACK, error and response
//! frames, checking LCS and DCS and dropping bytes to resynchronise after garbage or a bad frame.
//! It owns only framing and the parse of the answers Gatehouse needs (firmware version, card UID →
//! card number). It must not touch ports, time, retries or timeouts (the adapter's job), nor any
//! store table or socket, and it never panics on any input.

use core::fmt::Write as _;
use heapless::{String, Vec};

/// Largest information frame this codec builds or accepts: extended header (8) + TFI + 264 data
/// bytes (the PN532's own buffer limit) + DCS + postamble, rounded up.
pub const MAX_FRAME: usize = 280;
/// Largest TFI+PD payload accepted in a frame (TFI, command code, data).
pub const MAX_PAYLOAD: usize = 266;
/// Largest response data kept (payload minus TFI and command code).
pub const MAX_DATA: usize = MAX_PAYLOAD - 2;

/// Frame identifier, host → PN532.
pub const TFI_HOST: u8 = 0xD4;
/// Frame identifier, PN532 → host.
pub const TFI_PN532: u8 = 0xD5;

/// Command codes used by Gatehouse.
pub const CMD_GET_FIRMWARE_VERSION: u8 = 0x02;
/// SAMConfiguration command code.
pub const CMD_SAM_CONFIGURATION: u8 = 0x14;
/// InListPassiveTarget command code.
pub const CMD_IN_LIST_PASSIVE_TARGET: u8 = 0x4A;

/// HSU wake-up preamble sent before the first command (0x55 0x55 then zeros).
pub const WAKEUP: [u8; 16] = [0x55, 0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// ACK frame (§6.2.1.3), both directions.
pub const ACK: [u8; 6] = [0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00];
/// NACK frame (§6.2.1.4), both directions.
pub const NACK: [u8; 6] = [0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00];
/// Application-level error frame (§6.2.1.5), PN532 → host.
pub const ERROR_FRAME: [u8; 8] = [0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00];

/// A built frame, ready to write to the port.
pub type Frame = Vec<u8, MAX_FRAME>;

/// Errors building a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// TFI + command + data exceed what one frame carries.
    #[error("PN532 command payload too long: {0} bytes (at most {MAX_PAYLOAD})")]
    TooLong(usize),
}

/// Errors parsing a response's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The response belongs to another command.
    #[error("PN532 answer to command {0:#04x}, not the one expected")]
    WrongCommand(u8),
    /// The response data is shorter than its layout requires.
    #[error("PN532 answer too short")]
    Truncated,
    /// The UID length is not one of 4, 7 or 10 bytes.
    #[error("PN532 card UID of unsupported length {0}")]
    BadUidLength(u8),
}

fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |acc, b| acc.wrapping_add(*b))
        .wrapping_neg()
}

/// The ACK frame as a buffer.
pub fn ack() -> Frame {
    Vec::from_slice(&ACK).unwrap_or_default()
}

/// The NACK frame as a buffer (asks the PN532 to resend its last answer).
pub fn nack() -> Frame {
    Vec::from_slice(&NACK).unwrap_or_default()
}

/// The HSU wake-up preamble.
pub fn wakeup() -> Frame {
    Vec::from_slice(&WAKEUP).unwrap_or_default()
}

/// Builds a host→PN532 information frame for `cmd` with `data`: a normal frame when TFI+PD fits
/// in 254 bytes, an extended frame otherwise.
pub fn command(cmd: u8, data: &[u8]) -> Result<Frame, BuildError> {
    let len = data.len() + 2;
    if len > MAX_PAYLOAD {
        return Err(BuildError::TooLong(len));
    }
    let mut f = Frame::new();
    let mut push = |b: u8| f.push(b).map_err(|_| BuildError::TooLong(len));
    push(0x00)?;
    push(0x00)?;
    push(0xFF)?;
    if len <= 254 {
        let l = len as u8;
        push(l)?;
        push(l.wrapping_neg())?;
    } else {
        let [m, l] = (len as u16).to_be_bytes();
        push(0xFF)?;
        push(0xFF)?;
        push(m)?;
        push(l)?;
        push(m.wrapping_add(l).wrapping_neg())?;
    }
    push(TFI_HOST)?;
    push(cmd)?;
    for b in data {
        push(*b)?;
    }
    // DCS: TFI + PD0..PDn + DCS = 0 (mod 256).
    let sum = data
        .iter()
        .fold(TFI_HOST.wrapping_add(cmd), |acc, b| acc.wrapping_add(*b));
    push(sum.wrapping_neg())?;
    push(0x00)?;
    Ok(f)
}

/// GetFirmwareVersion (0x02): `00 00 FF 02 FE D4 02 2A 00`.
pub fn get_firmware_version() -> Frame {
    command(CMD_GET_FIRMWARE_VERSION, &[]).unwrap_or_default()
}

/// SAMConfiguration (0x14): normal mode (0x01), timeout 0x14 (20 × 50 ms), IRQ pin used (0x01).
pub fn sam_configuration() -> Frame {
    command(CMD_SAM_CONFIGURATION, &[0x01, 0x14, 0x01]).unwrap_or_default()
}

/// InListPassiveTarget (0x4A): one target (MaxTg 1), 106 kbps type A (BrTy 0x00).
pub fn in_list_passive_target() -> Frame {
    command(CMD_IN_LIST_PASSIVE_TARGET, &[0x01, 0x00]).unwrap_or_default()
}

/// A decoded PN532→host frame. The response data lives inline (no allocation per frame), hence
/// the size difference between variants.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// ACK frame: the PN532 accepted the command.
    Ack,
    /// NACK frame.
    Nack,
    /// Application-level error frame (syntax error in the host's frame).
    ErrorFrame,
    /// A response information frame: `cmd` is the response code (request + 1).
    Response {
        /// Response code (the request's command code + 1).
        cmd: u8,
        /// Response data after the code.
        data: Vec<u8, MAX_DATA>,
    },
}

/// Streaming PN532→host decoder. Feed bytes as they arrive; it keeps at most [`MAX_FRAME`] bytes.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8, MAX_FRAME>,
    dropped: u64,
    bad_frames: u64,
}

enum Parse {
    /// Need more bytes.
    Incomplete,
    /// Drop this many bytes from the front (garbage or a bad frame).
    Drop(usize),
    /// A frame whose length or data checksum is wrong: drop its start code.
    BadChecksum,
    /// The preamble 00 before a start code: skipped, not garbage.
    Preamble,
    /// A frame of this many bytes.
    Frame(usize, Kind),
}

/// What a complete frame was; a response's code and data are at `at..end` of the buffer.
enum Kind {
    Ack,
    Nack,
    Error,
    Response { at: usize, end: usize },
}

fn at(buf: &[u8], i: usize) -> Option<u8> {
    buf.get(i).copied()
}

/// Parses one frame at the start of `buf`.
fn parse(buf: &[u8]) -> Parse {
    // Find the start code 00 FF (the leading preamble 00 is optional on reception).
    let start = match buf.windows(2).position(|w| w == [0x00, 0xFF]) {
        Some(p) => p,
        None => {
            // Keep a trailing 00 which may begin a start code.
            let keep = usize::from(buf.last() == Some(&0x00));
            return match buf.len() - keep {
                0 => Parse::Incomplete,
                n => Parse::Drop(n),
            };
        }
    };
    if start > 0 {
        // Everything before the start code but the preamble 00 right before it is garbage.
        if buf.get(start - 1) == Some(&0x00) {
            return match start - 1 {
                0 => Parse::Preamble,
                n => Parse::Drop(n),
            };
        }
        return Parse::Drop(start);
    }
    let (Some(a), Some(b)) = (at(buf, 2), at(buf, 3)) else {
        return Parse::Incomplete;
    };
    // ACK: 00 FF 00 FF 00 ; NACK: 00 FF FF 00 00
    if (a, b) == (0x00, 0xFF) {
        return match at(buf, 4) {
            None => Parse::Incomplete,
            Some(0x00) => Parse::Frame(5, Kind::Ack),
            Some(_) => Parse::Drop(2),
        };
    }
    let (len, hdr) = if (a, b) == (0xFF, 0x00) {
        return match at(buf, 4) {
            None => Parse::Incomplete,
            Some(0x00) => Parse::Frame(5, Kind::Nack),
            Some(_) => Parse::Drop(2),
        };
    } else if (a, b) == (0xFF, 0xFF) {
        // Extended: 00 FF FF FF LENM LENL LCS
        let (Some(m), Some(l), Some(lcs)) = (at(buf, 4), at(buf, 5), at(buf, 6)) else {
            return Parse::Incomplete;
        };
        if m.wrapping_add(l).wrapping_add(lcs) != 0 {
            return Parse::BadChecksum;
        }
        (usize::from(u16::from_be_bytes([m, l])), 7)
    } else {
        if a.wrapping_add(b) != 0 {
            return Parse::BadChecksum;
        }
        (usize::from(a), 4)
    };
    if len == 0 || len > MAX_PAYLOAD {
        return Parse::Drop(2);
    }
    let total = hdr + len + 2;
    let Some(frame) = buf.get(..total) else {
        return Parse::Incomplete;
    };
    let Some(payload) = frame.get(hdr..hdr + len) else {
        return Parse::Drop(2);
    };
    let dcs = at(frame, hdr + len).unwrap_or(0);
    if checksum(payload) != dcs {
        return Parse::BadChecksum;
    }
    // Error frame: LEN 1, payload 7F.
    if payload == [0x7F] {
        return Parse::Frame(total, Kind::Error);
    }
    match payload {
        [TFI_PN532, _cmd, ..] => Parse::Frame(
            total,
            Kind::Response {
                at: hdr + 1,
                end: hdr + len,
            },
        ),
        _ => Parse::Drop(2),
    }
}

impl Decoder {
    /// A new decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes currently buffered (never more than [`MAX_FRAME`]).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes dropped so far as garbage or parts of bad frames.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Frames dropped so far for a wrong length or data checksum (LCS/DCS).
    pub fn bad_frames(&self) -> u64 {
        self.bad_frames
    }

    /// Feeds `bytes`, calling `out` for every complete frame. Returns the number of frames.
    pub fn feed(&mut self, mut bytes: &[u8], mut out: impl FnMut(Event)) -> usize {
        let mut n = 0;
        loop {
            // Fill as much as fits.
            let room = MAX_FRAME - self.buf.len();
            let take = room.min(bytes.len());
            let (now, later) = bytes.split_at(take);
            let _ = self.buf.extend_from_slice(now);
            bytes = later;
            // Parse all complete frames in the buffer.
            loop {
                match parse(&self.buf) {
                    Parse::Incomplete => break,
                    Parse::Drop(k) => self.consume(k, true),
                    Parse::Preamble => self.consume(1, false),
                    Parse::BadChecksum => {
                        self.bad_frames += 1;
                        self.consume(2, true);
                    }
                    Parse::Frame(k, kind) => {
                        let ev = match kind {
                            Kind::Ack => Some(Event::Ack),
                            Kind::Nack => Some(Event::Nack),
                            Kind::Error => Some(Event::ErrorFrame),
                            Kind::Response { at, end } => match self.buf.get(at..end) {
                                Some([cmd, rest @ ..]) => Vec::from_slice(rest)
                                    .ok()
                                    .map(|data| Event::Response { cmd: *cmd, data }),
                                _ => None,
                            },
                        };
                        self.consume(k, ev.is_none());
                        if let Some(ev) = ev {
                            out(ev);
                            n += 1;
                        }
                    }
                }
            }
            if bytes.is_empty() {
                return n;
            }
            // Buffer full with an incomplete frame cannot happen (MAX_FRAME bounds frames), but
            // drop a byte anyway so the loop always progresses.
            if self.buf.len() == MAX_FRAME {
                self.consume(1, true);
            }
        }
    }

    /// Feeds one byte; returns a frame it completed, if any.
    pub fn push(&mut self, byte: u8) -> Option<Event> {
        let mut ev = None;
        self.feed(&[byte], |e| ev = Some(e));
        ev
    }

    fn consume(&mut self, k: usize, dropped: bool) {
        let k = k.clamp(1, self.buf.len().max(1)).min(self.buf.len());
        if dropped {
            self.dropped += k as u64;
        }
        let len = self.buf.len();
        self.buf.copy_within(k..len, 0);
        self.buf.truncate(len - k);
    }
}

/// GetFirmwareVersion answer (§7.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirmwareVersion {
    /// IC version (0x32 for the PN532).
    pub ic: u8,
    /// Firmware version.
    pub ver: u8,
    /// Firmware revision.
    pub rev: u8,
    /// Supported functions (bit 0 ISO/IEC 14443 A, bit 1 B, bit 2 ISO 18092).
    pub support: u8,
}

/// Parses a GetFirmwareVersion response (code 0x03).
pub fn parse_firmware_version(cmd: u8, data: &[u8]) -> Result<FirmwareVersion, ParseError> {
    if cmd != CMD_GET_FIRMWARE_VERSION + 1 {
        return Err(ParseError::WrongCommand(cmd));
    }
    match data {
        [ic, ver, rev, support, ..] => Ok(FirmwareVersion {
            ic: *ic,
            ver: *ver,
            rev: *rev,
            support: *support,
        }),
        _ => Err(ParseError::Truncated),
    }
}

/// A card number: the UID in upper-case hex (8, 14 or 20 digits).
pub type CardNumber = String<20>;

/// Parses an InListPassiveTarget response (code 0x4B, 106 kbps type A) into the first target's
/// card number, or `None` when no card was in the field (NbTg = 0).
pub fn parse_passive_target(cmd: u8, data: &[u8]) -> Result<Option<CardNumber>, ParseError> {
    if cmd != CMD_IN_LIST_PASSIVE_TARGET + 1 {
        return Err(ParseError::WrongCommand(cmd));
    }
    // NbTg, Tg, SENS_RES(2), SEL_RES, NFCIDLength, NFCID1...
    let Some((&nb_tg, rest)) = data.split_first() else {
        return Err(ParseError::Truncated);
    };
    if nb_tg == 0 {
        return Ok(None);
    }
    let [_tg, _sens1, _sens2, _sel, uid_len, uid_rest @ ..] = rest else {
        return Err(ParseError::Truncated);
    };
    if !matches!(uid_len, 4 | 7 | 10) {
        return Err(ParseError::BadUidLength(*uid_len));
    }
    let uid = uid_rest
        .get(..usize::from(*uid_len))
        .ok_or(ParseError::Truncated)?;
    let mut s = CardNumber::new();
    for b in uid {
        // 10 bytes → 20 digits at most: fits.
        let _ = write!(s, "{b:02X}");
    }
    Ok(Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_traffic_drops_nothing() {
        let mut d = Decoder::new();
        let mut n = 0;
        let mut bytes = ACK.to_vec();
        // GetFirmwareVersion's answer: D5 03 32 01 06 07, DCS = -(D5+03+32+01+06+07) = 0xE8.
        bytes.extend_from_slice(&[
            0x00, 0x00, 0xFF, 0x06, 0xFA, 0xD5, 0x03, 0x32, 0x01, 0x06, 0x07, 0xE8, 0x00,
        ]);
        d.feed(&bytes, |_| n += 1);
        assert_eq!(n, 2);
        assert_eq!(d.bad_frames(), 0);
        assert!(
            d.dropped() <= 1,
            "only the postamble may go: {}",
            d.dropped()
        );
    }

    fn decode_all(bytes: &[u8]) -> std::vec::Vec<Event> {
        let mut d = Decoder::new();
        let mut v = std::vec::Vec::new();
        d.feed(bytes, |e| v.push(e));
        v
    }

    /// Builds a PN532→host normal frame by hand, writing out the checksum rule.
    fn answer(payload: &[u8]) -> std::vec::Vec<u8> {
        let len = payload.len() as u8;
        let lcs = ((0x100 - u16::from(len)) & 0xFF) as u8;
        let sum: u32 = payload.iter().map(|b| u32::from(*b)).sum();
        let dcs = ((0x100 - (sum & 0xFF)) & 0xFF) as u8;
        let mut f = vec![0x00, 0x00, 0xFF, len, lcs];
        f.extend_from_slice(payload);
        f.extend_from_slice(&[dcs, 0x00]);
        f
    }

    #[test]
    fn builds_documented_frames() {
        assert_eq!(
            get_firmware_version().as_slice(),
            [0x00, 0x00, 0xFF, 0x02, 0xFE, 0xD4, 0x02, 0x2A, 0x00]
        );
        // SAMConfiguration: LEN 5, LCS FB, D4+14+01+14+01 = 0xFE → DCS 02.
        assert_eq!(
            sam_configuration().as_slice(),
            [0x00, 0x00, 0xFF, 0x05, 0xFB, 0xD4, 0x14, 0x01, 0x14, 0x01, 0x02, 0x00]
        );
        // InListPassiveTarget: LEN 4, LCS FC, D4+4A+01+00 = 0x11F → DCS E1.
        assert_eq!(
            in_list_passive_target().as_slice(),
            [0x00, 0x00, 0xFF, 0x04, 0xFC, 0xD4, 0x4A, 0x01, 0x00, 0xE1, 0x00]
        );
        assert_eq!(ack().as_slice(), [0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00]);
        assert_eq!(nack().as_slice(), [0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00]);
        assert_eq!(wakeup().as_slice(), WAKEUP);
        assert_eq!(&WAKEUP[..2], [0x55, 0x55]);
        assert!(WAKEUP[2..].iter().all(|b| *b == 0));
    }

    #[test]
    fn builds_extended_frame() {
        let data = [0xAB; 260];
        let f = command(0x40, &data).unwrap();
        let len = 262u16; // TFI + CMD + 260
        assert_eq!(f[..5], [0x00, 0x00, 0xFF, 0xFF, 0xFF]);
        assert_eq!(f[5..7], len.to_be_bytes());
        // LCS: LENM + LENL + LCS = 0 (mod 256): 0x01 + 0x06 + 0xF9 = 0x100.
        assert_eq!(f[7], 0xF9);
        assert_eq!(f[8..10], [0xD4, 0x40]);
        let sum: u32 = 0xD4 + 0x40 + 260 * 0xAB;
        assert_eq!(f[270], ((0x100 - (sum & 0xFF)) & 0xFF) as u8);
        assert_eq!(f[271], 0x00);
        assert_eq!(f.len(), 272);
        // And our decoder reads it back (as a D4 frame it is refused: TFI must be D5).
        assert!(decode_all(&f).is_empty());
        assert_eq!(command(0x40, &[0; 265]), Err(BuildError::TooLong(267)));
        // 254-byte payload is still a normal frame; 255 goes extended.
        assert_eq!(command(0x40, &[0; 252]).unwrap()[3], 254);
        assert_eq!(command(0x40, &[0; 253]).unwrap()[3..5], [0xFF, 0xFF]);
    }

    #[test]
    fn decodes_extended_response() {
        let mut payload = vec![0xD5, 0x41];
        payload.extend(std::iter::repeat_n(0x5A, 280 - 20 - 2));
        let len = payload.len() as u16;
        let [m, l] = len.to_be_bytes();
        let mut f = vec![
            0x00,
            0x00,
            0xFF,
            0xFF,
            0xFF,
            m,
            l,
            m.wrapping_add(l).wrapping_neg(),
        ];
        f.extend_from_slice(&payload);
        f.push(checksum(&payload));
        f.push(0x00);
        let ev = decode_all(&f);
        assert_eq!(ev.len(), 1);
        match &ev[0] {
            Event::Response { cmd, data } => {
                assert_eq!(*cmd, 0x41);
                assert_eq!(data.len(), payload.len() - 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decodes_ack_nack_error_and_firmware() {
        let fw = [
            0x00, 0x00, 0xFF, 0x06, 0xFA, 0xD5, 0x03, 0x32, 0x01, 0x06, 0x07, 0xE8, 0x00,
        ];
        assert_eq!(answer(&[0xD5, 0x03, 0x32, 0x01, 0x06, 0x07]), fw);
        let mut stream = ACK.to_vec();
        stream.extend_from_slice(&fw);
        stream.extend_from_slice(&NACK);
        stream.extend_from_slice(&ERROR_FRAME);
        let ev = decode_all(&stream);
        assert_eq!(ev.len(), 4);
        assert_eq!(ev[0], Event::Ack);
        assert_eq!(ev[2], Event::Nack);
        assert_eq!(ev[3], Event::ErrorFrame);
        let Event::Response { cmd, data } = &ev[1] else {
            panic!("{:?}", ev[1]);
        };
        assert_eq!(
            parse_firmware_version(*cmd, data),
            Ok(FirmwareVersion {
                ic: 0x32,
                ver: 0x01,
                rev: 0x06,
                support: 0x07
            })
        );
        assert_eq!(
            parse_firmware_version(0x4B, data),
            Err(ParseError::WrongCommand(0x4B))
        );
        assert_eq!(
            parse_firmware_version(0x03, &[0x32]),
            Err(ParseError::Truncated)
        );
    }

    #[test]
    fn card_uid_4_and_7_bytes() {
        // 4-byte UID DE AD BE EF: payload D5 4B 01 01 00 04 08 04 DE AD BE EF (12 bytes).
        // LEN = 0x0C, LCS = 0x100 - 0x0C = 0xF4.
        // Sum = D5+4B+01+01+00+04+08+04 = 0x132; + DE+AD+BE+EF = 0x338 → 0x46A → low byte 6A;
        // DCS = 0x100 - 0x6A = 0x96.
        let f4 = [
            0x00, 0x00, 0xFF, 0x0C, 0xF4, 0xD5, 0x4B, 0x01, 0x01, 0x00, 0x04, 0x08, 0x04, 0xDE,
            0xAD, 0xBE, 0xEF, 0x96, 0x00,
        ];
        assert_eq!(
            answer(&[0xD5, 0x4B, 0x01, 0x01, 0x00, 0x04, 0x08, 0x04, 0xDE, 0xAD, 0xBE, 0xEF]),
            f4
        );
        // 7-byte UID 04 A2 24 9A 5C 26 80 (an NTAG/Ultralight: SENS_RES 00 44, SEL_RES 00):
        // payload D5 4B 01 01 00 44 00 07 04 A2 24 9A 5C 26 80 (15 bytes), LEN 0x0F, LCS 0xF1.
        // Sum = D5+4B+01+01+00+44+00+07 = 0x16D; + 04+A2+24+9A+5C+26+80 = 0x266 → 0x3D3 → D3;
        // DCS = 0x100 - 0xD3 = 0x2D.
        let f7 = [
            0x00, 0x00, 0xFF, 0x0F, 0xF1, 0xD5, 0x4B, 0x01, 0x01, 0x00, 0x44, 0x00, 0x07, 0x04,
            0xA2, 0x24, 0x9A, 0x5C, 0x26, 0x80, 0x2D, 0x00,
        ];
        assert_eq!(
            answer(&[
                0xD5, 0x4B, 0x01, 0x01, 0x00, 0x44, 0x00, 0x07, 0x04, 0xA2, 0x24, 0x9A, 0x5C, 0x26,
                0x80
            ]),
            f7
        );
        let mut stream = f4.to_vec();
        stream.extend_from_slice(&f7);
        let cards: std::vec::Vec<_> = decode_all(&stream)
            .into_iter()
            .map(|e| match e {
                Event::Response { cmd, data } => parse_passive_target(cmd, &data).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(cards[0].as_deref(), Some("DEADBEEF"));
        assert_eq!(cards[1].as_deref(), Some("04A2249A5C2680"));
        assert_eq!(parse_passive_target(0x4B, &[0x00]), Ok(None));
        assert_eq!(
            parse_passive_target(0x4B, &[1, 1, 0, 4, 8, 5, 1, 2, 3, 4, 5]),
            Err(ParseError::BadUidLength(5))
        );
        assert_eq!(
            parse_passive_target(0x4B, &[1, 1, 0, 4, 8, 4, 1, 2]),
            Err(ParseError::Truncated)
        );
    }

    #[test]
    fn garbage_bad_dcs_and_byte_at_a_time() {
        let good = answer(&[0xD5, 0x03, 0x32, 0x01, 0x06, 0x07]);
        let mut bad = good.clone();
        bad[11] ^= 0x01; // DCS
        let mut stream = vec![0x13, 0xFF, 0x00, 0x37, 0x00, 0x00, 0xFF, 0x05, 0x99];
        stream.extend_from_slice(&bad);
        stream.extend_from_slice(&ACK);
        stream.extend_from_slice(&[0xFF, 0x00, 0x12]);
        stream.extend_from_slice(&good);
        let whole = decode_all(&stream);
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0], Event::Ack);
        assert!(matches!(whole[1], Event::Response { cmd: 0x03, .. }));

        let mut d = Decoder::new();
        let split: std::vec::Vec<_> = stream.iter().filter_map(|b| d.push(*b)).collect();
        assert_eq!(split, whole);
        assert!(d.dropped() > 0);
        assert!(d.buffered() <= 1);

        // Wrong TFI (D4 echoed back) is dropped, as is a bad LCS.
        let mut echo = get_firmware_version().to_vec();
        echo.extend_from_slice(&[0x00, 0x00, 0xFF, 0x02, 0xFD, 0xD5, 0x03, 0x28, 0x00]);
        echo.extend_from_slice(&ACK);
        assert_eq!(decode_all(&echo), vec![Event::Ack]);
    }

    #[test]
    fn buffer_stays_bounded() {
        let mut d = Decoder::new();
        // A header announcing a long frame, then junk forever.
        d.feed(&[0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x01, 0x0A, 0xF5], |_| {});
        for i in 0..5000u32 {
            d.feed(&[(i % 251) as u8; 7], |_| {});
            assert!(d.buffered() <= MAX_FRAME);
        }
        let n = d.feed(&ACK, |_| {});
        assert_eq!(n, 1);
    }
}
