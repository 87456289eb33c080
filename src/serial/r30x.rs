//! The R30x/ZFM fingerprint-sensor protocol (R307, R503, AS608; issue 7 item 2), sans-IO: the
//! `EF 01` packet codec (builders for the host's commands, a streaming decoder for the sensor's
//! acknowledge and data packets), the sensor's confirmation codes as messages for people, and a
//! pure enrolment state machine (three presses, RegModel, Match, UpChar upload of the template)
//! driven by decoded packets and a `now` in milliseconds. Buffers are fixed `heapless` ones, no
//! allocation per packet, no panic on any input; the decoder resynchronises after garbage or a bad
//! checksum by dropping one byte at a time. It owns only these bytes and states: it must not touch
//! ports, clocks, the store or persons — the serial adapter, the web flow and the storing of the
//! template with a person are other modules' work.

use std::borrow::Cow;
use std::fmt;

/// The packet start code.
pub const START: [u8; 2] = [0xEF, 0x01];
/// The factory-default module address.
pub const DEFAULT_ADDRESS: u32 = 0xFFFF_FFFF;
/// The longest payload accepted or built (the sensors' largest data-packet size is 256).
pub const MAX_PAYLOAD: usize = 256;
/// Header: start (2) + address (4) + packet id (1) + length (2).
const HEADER: usize = 9;
/// The longest packet: header, payload, checksum.
pub const MAX_FRAME: usize = HEADER + MAX_PAYLOAD + 2;
/// The largest template accepted from UpChar (R307/AS608 templates are 512 bytes).
pub const MAX_TEMPLATE: usize = 2048;

/// A template uploaded from the sensor.
pub type Template = heapless::Vec<u8, MAX_TEMPLATE>;
/// A packet payload.
pub type Payload = heapless::Vec<u8, MAX_PAYLOAD>;
/// An encoded packet.
pub type Frame = heapless::Vec<u8, MAX_FRAME>;

/// Packet identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Pid {
    Command = 0x01,
    Data = 0x02,
    Ack = 0x07,
    EndOfData = 0x08,
}

/// The checksum: the low 16 bits of the sum of the packet id, the two length bytes and the payload.
pub fn checksum(pid: u8, length: u16, payload: &[u8]) -> u16 {
    let [hi, lo] = length.to_be_bytes();
    payload
        .iter()
        .fold(u16::from(pid) + u16::from(hi) + u16::from(lo), |s, b| {
            s.wrapping_add(u16::from(*b))
        })
}

/// Builds one packet; `None` when the payload is longer than [`MAX_PAYLOAD`].
pub fn encode(address: u32, pid: Pid, payload: &[u8]) -> Option<Frame> {
    if payload.len() > MAX_PAYLOAD {
        return None;
    }
    let length = u16::try_from(payload.len() + 2).ok()?;
    let mut f = Frame::new();
    f.extend_from_slice(&START).ok()?;
    f.extend_from_slice(&address.to_be_bytes()).ok()?;
    f.push(pid as u8).ok()?;
    f.extend_from_slice(&length.to_be_bytes()).ok()?;
    f.extend_from_slice(payload).ok()?;
    f.extend_from_slice(&checksum(pid as u8, length, payload).to_be_bytes())
        .ok()?;
    Some(f)
}

/// The two character-file buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Buffer {
    One = 1,
    Two = 2,
}

/// The host's commands used by Gatehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// 0x13: verify the 4-byte module password.
    VerifyPassword(u32),
    /// 0x40: check the sensor answers.
    Handshake,
    /// 0x01: take an image of the finger (0x02 when none is on the sensor).
    GenImg,
    /// 0x02: turn the image into a character file in a buffer.
    Img2Tz(Buffer),
    /// 0x05: combine buffers 1 and 2 into a template (stored back in both).
    RegModel,
    /// 0x03: compare buffers 1 and 2.
    Match,
    /// 0x08: upload a buffer's character file (data packets follow the ack).
    UpChar(Buffer),
}

impl Command {
    /// The instruction code and parameters (the command packet's payload).
    pub fn payload(&self) -> heapless::Vec<u8, 5> {
        let mut p = heapless::Vec::new();
        // The longest payload is 5 bytes, so these pushes cannot fail.
        let _ = match *self {
            Command::VerifyPassword(pw) => {
                let _ = p.push(0x13);
                p.extend_from_slice(&pw.to_be_bytes())
            }
            Command::Handshake => p.push(0x40).map_err(|_| ()),
            Command::GenImg => p.push(0x01).map_err(|_| ()),
            Command::Img2Tz(b) => p.extend_from_slice(&[0x02, b as u8]),
            Command::RegModel => p.push(0x05).map_err(|_| ()),
            Command::Match => p.push(0x03).map_err(|_| ()),
            Command::UpChar(b) => p.extend_from_slice(&[0x08, b as u8]),
        };
        p
    }

    /// The whole command packet for the module at `address`.
    pub fn encode(&self, address: u32) -> heapless::Vec<u8, 16> {
        let mut out = heapless::Vec::new();
        if let Some(f) = encode(address, Pid::Command, &self.payload()) {
            let _ = out.extend_from_slice(&f);
        }
        out
    }
}

/// The sensor's confirmation codes (first payload byte of an acknowledge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Ok,
    PacketError,
    NoFinger,
    ImageFailed,
    ImageMessy,
    TooFewFeatures,
    NoMatch,
    NotFound,
    CombineFailed,
    AddressOutOfRange,
    ReadError,
    UploadFailed,
    CannotReceive,
    UploadImageFailed,
    DeleteFailed,
    ClearFailed,
    WrongPassword,
    NoValidImage,
    FlashError,
    UndefinedError,
    InvalidRegister,
    BadRegisterConfig,
    BadNotepadPage,
    PortFailed,
    LibraryFull,
    WrongAddress,
    PasswordRequired,
    Unknown(u8),
}

impl Code {
    pub fn from_u8(b: u8) -> Code {
        match b {
            0x00 => Code::Ok,
            0x01 => Code::PacketError,
            0x02 => Code::NoFinger,
            0x03 => Code::ImageFailed,
            0x06 => Code::ImageMessy,
            0x07 => Code::TooFewFeatures,
            0x08 => Code::NoMatch,
            0x09 => Code::NotFound,
            0x0A => Code::CombineFailed,
            0x0B => Code::AddressOutOfRange,
            0x0C => Code::ReadError,
            0x0D => Code::UploadFailed,
            0x0E => Code::CannotReceive,
            0x0F => Code::UploadImageFailed,
            0x10 => Code::DeleteFailed,
            0x11 => Code::ClearFailed,
            0x13 => Code::WrongPassword,
            0x15 => Code::NoValidImage,
            0x18 => Code::FlashError,
            0x19 => Code::UndefinedError,
            0x1A => Code::InvalidRegister,
            0x1B => Code::BadRegisterConfig,
            0x1C => Code::BadNotepadPage,
            0x1D => Code::PortFailed,
            0x1F => Code::LibraryFull,
            0x20 => Code::WrongAddress,
            0x21 => Code::PasswordRequired,
            other => Code::Unknown(other),
        }
    }

    pub fn as_u8(&self) -> u8 {
        match *self {
            Code::Ok => 0x00,
            Code::PacketError => 0x01,
            Code::NoFinger => 0x02,
            Code::ImageFailed => 0x03,
            Code::ImageMessy => 0x06,
            Code::TooFewFeatures => 0x07,
            Code::NoMatch => 0x08,
            Code::NotFound => 0x09,
            Code::CombineFailed => 0x0A,
            Code::AddressOutOfRange => 0x0B,
            Code::ReadError => 0x0C,
            Code::UploadFailed => 0x0D,
            Code::CannotReceive => 0x0E,
            Code::UploadImageFailed => 0x0F,
            Code::DeleteFailed => 0x10,
            Code::ClearFailed => 0x11,
            Code::WrongPassword => 0x13,
            Code::NoValidImage => 0x15,
            Code::FlashError => 0x18,
            Code::UndefinedError => 0x19,
            Code::InvalidRegister => 0x1A,
            Code::BadRegisterConfig => 0x1B,
            Code::BadNotepadPage => 0x1C,
            Code::PortFailed => 0x1D,
            Code::LibraryFull => 0x1F,
            Code::WrongAddress => 0x20,
            Code::PasswordRequired => 0x21,
            Code::Unknown(b) => b,
        }
    }

    /// A message for people.
    pub fn message(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Code::Ok => "ok",
            Code::PacketError => "error receiving the packet",
            Code::NoFinger => "no finger on the sensor",
            Code::ImageFailed => "could not take the image",
            Code::ImageMessy => "image too messy — press again",
            Code::TooFewFeatures => "too few feature points — press again",
            Code::NoMatch => "finger does not match",
            Code::NotFound => "no match found",
            Code::CombineFailed => "could not combine the prints — start again",
            Code::AddressOutOfRange => "template address out of range",
            Code::ReadError => "error reading the template",
            Code::UploadFailed => "template upload failed",
            Code::CannotReceive => "cannot receive the following data packets",
            Code::UploadImageFailed => "image upload failed",
            Code::DeleteFailed => "could not delete the template",
            Code::ClearFailed => "could not clear the template library",
            Code::WrongPassword => "wrong sensor password",
            Code::NoValidImage => "no valid image in buffer",
            Code::FlashError => "error writing the sensor's flash",
            Code::UndefinedError => "undefined sensor error",
            Code::InvalidRegister => "invalid register number",
            Code::BadRegisterConfig => "wrong register configuration",
            Code::BadNotepadPage => "wrong notepad page number",
            Code::PortFailed => "the sensor's communication port failed",
            Code::LibraryFull => "the sensor's fingerprint library is full",
            Code::WrongAddress => "wrong sensor address",
            Code::PasswordRequired => "the sensor password must be verified first",
            Code::Unknown(b) => return Cow::Owned(format!("sensor error 0x{b:02X}")),
        })
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// A decoded packet from the sensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// PID 0x07: the confirmation code and any data after it.
    Ack { code: Code, data: Payload },
    /// PID 0x02 (`last: false`) or 0x08 (`last: true`, end of data).
    Data { last: bool, payload: Payload },
}

/// The streaming decoder: push bytes, take packets. Holds at most one packet's bytes.
#[derive(Debug, Clone)]
pub struct Decoder {
    address: u32,
    buf: Frame,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_ADDRESS)
    }
}

impl Decoder {
    /// A decoder accepting only packets from the module at `address`.
    pub fn new(address: u32) -> Self {
        Decoder {
            address,
            buf: Frame::new(),
        }
    }

    /// Bytes held (never more than [`MAX_FRAME`]).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feeds `data`, calling `out` for each packet decoded, in order.
    pub fn feed(&mut self, data: &[u8], mut out: impl FnMut(Packet)) {
        for &b in data {
            self.push(b);
            while let Some(p) = self.next_packet() {
                out(p);
            }
        }
    }

    /// Adds one byte. Call [`Decoder::next_packet`] until `None` after each push; if the buffer
    /// is ever full (it cannot be when that is done), its oldest byte is dropped.
    pub fn push(&mut self, byte: u8) {
        if self.buf.is_full() {
            self.drop_first();
        }
        let _ = self.buf.push(byte);
    }

    fn drop_first(&mut self) {
        if !self.buf.is_empty() {
            self.buf.remove(0);
        }
    }

    /// The next complete, valid packet, if any; garbage and bad packets are skipped.
    pub fn next_packet(&mut self) -> Option<Packet> {
        loop {
            let b = &self.buf;
            if b.is_empty() {
                return None;
            }
            if b[0] != START[0] || (b.len() > 1 && b[1] != START[1]) {
                self.drop_first();
                continue;
            }
            if b.len() < HEADER {
                return None;
            }
            let address = u32::from_be_bytes([b[2], b[3], b[4], b[5]]);
            let pid = b[6];
            let length = u16::from_be_bytes([b[7], b[8]]);
            let len = usize::from(length);
            let pid_ok = matches!(pid, 0x02 | 0x07 | 0x08);
            let min = if pid == 0x07 { 3 } else { 2 };
            if address != self.address || !pid_ok || len < min || len - 2 > MAX_PAYLOAD {
                self.drop_first();
                continue;
            }
            let total = HEADER + len;
            if b.len() < total {
                return None;
            }
            let payload = &b[HEADER..total - 2];
            let sum = u16::from_be_bytes([b[total - 2], b[total - 1]]);
            if sum != checksum(pid, length, payload) {
                self.drop_first();
                continue;
            }
            let packet = if pid == 0x07 {
                Packet::Ack {
                    code: Code::from_u8(payload[0]),
                    data: Payload::from_slice(&payload[1..]).unwrap_or_default(),
                }
            } else {
                Packet::Data {
                    last: pid == 0x08,
                    payload: Payload::from_slice(payload).unwrap_or_default(),
                }
            };
            let rest = self.buf.len() - total;
            self.buf.rotate_left(total);
            self.buf.truncate(rest);
            return Some(packet);
        }
    }
}

/// What the UI is asked to show during a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Press,
    Lift,
    PressAgain,
}

/// Why an enrolment failed or had to start again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer within the timeout.
    NoAnswer,
    /// RegModel could not combine the prints, or the third press did not match the model.
    PrintsDoNotMatch,
    /// The sensor answered an error code.
    Sensor(Code),
    /// An answer that does not fit the exchange.
    Unexpected,
    /// The template is longer than [`MAX_TEMPLATE`].
    TemplateTooLarge,
}

impl Failure {
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            Failure::NoAnswer => Cow::Borrowed("the scanner does not answer"),
            Failure::PrintsDoNotMatch => Cow::Borrowed("prints do not match — start again"),
            Failure::Sensor(c) => c.message(),
            Failure::Unexpected => Cow::Borrowed("unexpected answer from the scanner"),
            Failure::TemplateTooLarge => {
                Cow::Borrowed("the template from the scanner is too large")
            }
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Progress for the UI. `Done` carries the template inline (no allocation); it comes once.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Step `n` (1..=3) asks the person to press, lift or press again.
    Step { n: u8, what: Action },
    /// The image was not usable (messy, too few features…): lift and press again for step `n`.
    Retry { n: u8, code: Code },
    /// The prints do not match: the enrolment starts again at step 1 (after a lift).
    StartAgain(Failure),
    /// The template, uploaded.
    Done(Template),
    /// The enrolment is over without a template.
    Failed(Failure),
}

/// One reaction of the state machine: a command to send and/or an event for the UI.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reaction {
    pub send: Option<Command>,
    pub event: Option<Event>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Verify,
    /// GenImg sent, waiting for a finger for press `n`.
    Capture(u8),
    /// Img2Tz sent for press `n`.
    Convert(u8),
    /// GenImg sent, waiting for the finger to go before press `next`.
    Lift(u8),
    Combine,
    Match,
    UploadAck,
    Upload,
    Over,
}

/// What [`Probe`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeStep {
    /// Nothing to do yet.
    Wait,
    /// Send this command (again).
    Send(Command),
    /// The sensor answered and accepted the password.
    Ok,
    /// The sensor answered with this code (e.g. a wrong password).
    Refused(Code),
    /// No answer after [`PROBE_TRIES`] tries.
    NoAnswer,
}

/// How many times the probe sends VerifyPassword before the sensor "does not answer".
pub const PROBE_TRIES: u8 = 3;

/// The check that a sensor is on the port and accepts our password: VerifyPassword, resent after
/// each silent timeout, [`PROBE_TRIES`] times.
#[derive(Debug, Clone)]
pub struct Probe {
    password: u32,
    timeout_ms: u64,
    deadline: Option<u64>,
    tries: u8,
}

impl Probe {
    pub fn new(password: u32, timeout_ms: u64) -> Self {
        Probe {
            password,
            timeout_ms: timeout_ms.max(1),
            deadline: None,
            tries: 0,
        }
    }

    /// The first VerifyPassword.
    pub fn start(&mut self, now: u64) -> Command {
        self.tries = 1;
        self.deadline = Some(now.saturating_add(self.timeout_ms));
        Command::VerifyPassword(self.password)
    }

    /// When [`Probe::tick`] next has something to do.
    pub fn deadline(&self) -> Option<u64> {
        self.deadline
    }

    pub fn on_packet(&mut self, packet: &Packet) -> ProbeStep {
        if self.deadline.is_none() {
            return ProbeStep::Wait;
        }
        match packet {
            Packet::Ack { code, .. } => {
                self.deadline = None;
                if *code == Code::Ok {
                    ProbeStep::Ok
                } else {
                    ProbeStep::Refused(*code)
                }
            }
            Packet::Data { .. } => ProbeStep::Wait,
        }
    }

    pub fn tick(&mut self, now: u64) -> ProbeStep {
        match self.deadline {
            Some(d) if now >= d => {
                if self.tries < PROBE_TRIES {
                    self.tries += 1;
                    self.deadline = Some(now.saturating_add(self.timeout_ms));
                    ProbeStep::Send(Command::VerifyPassword(self.password))
                } else {
                    self.deadline = None;
                    ProbeStep::NoAnswer
                }
            }
            _ => ProbeStep::Wait,
        }
    }
}

/// The enrolment: VerifyPassword, three presses, RegModel, Match, UpChar(2) upload.
#[derive(Debug, Clone)]
pub struct Enrolment {
    password: u32,
    timeout_ms: u64,
    state: State,
    deadline: u64,
    template: Template,
}

impl Enrolment {
    /// `timeout_ms`: how long to wait for each answer (and each data packet) before failing.
    pub fn new(password: u32, timeout_ms: u64) -> Self {
        Enrolment {
            password,
            timeout_ms,
            state: State::Idle,
            deadline: 0,
            template: Template::new(),
        }
    }

    /// When [`Enrolment::tick`] next has something to do (none before the start or after the end).
    pub fn deadline(&self) -> Option<u64> {
        match self.state {
            State::Idle | State::Over => None,
            _ => Some(self.deadline),
        }
    }

    /// Whether the enrolment is over (done or failed).
    pub fn is_over(&self) -> bool {
        self.state == State::Over
    }

    /// Starts: sends VerifyPassword.
    pub fn start(&mut self, now: u64) -> Reaction {
        self.template.clear();
        self.send(
            State::Verify,
            Command::VerifyPassword(self.password),
            now,
            None,
        )
    }

    fn send(&mut self, state: State, cmd: Command, now: u64, event: Option<Event>) -> Reaction {
        self.state = state;
        self.deadline = now.saturating_add(self.timeout_ms);
        Reaction {
            send: Some(cmd),
            event,
        }
    }

    fn fail(&mut self, f: Failure) -> Reaction {
        self.state = State::Over;
        Reaction {
            send: None,
            event: Some(Event::Failed(f)),
        }
    }

    fn press(n: u8) -> Event {
        let what = if n == 1 {
            Action::Press
        } else {
            Action::PressAgain
        };
        Event::Step { n, what }
    }

    fn buffer(n: u8) -> Buffer {
        if n == 2 {
            Buffer::Two
        } else {
            Buffer::One
        }
    }

    /// Time passes: fails with "the scanner does not answer" after the timeout.
    pub fn tick(&mut self, now: u64) -> Reaction {
        if matches!(self.state, State::Idle | State::Over) || now < self.deadline {
            return Reaction::default();
        }
        self.fail(Failure::NoAnswer)
    }

    /// A packet from the sensor arrived at `now`.
    pub fn on_packet(&mut self, packet: &Packet, now: u64) -> Reaction {
        use State as S;
        if matches!(self.state, S::Idle | S::Over) {
            return Reaction::default();
        }
        if now >= self.deadline {
            return self.fail(Failure::NoAnswer);
        }
        let code = match packet {
            Packet::Ack { code, .. } => *code,
            Packet::Data { last, payload } => {
                if self.state != S::Upload {
                    return Reaction::default();
                }
                if self.template.extend_from_slice(payload).is_err() {
                    return self.fail(Failure::TemplateTooLarge);
                }
                if *last {
                    self.state = S::Over;
                    let t = std::mem::take(&mut self.template);
                    return Reaction {
                        send: None,
                        event: Some(Event::Done(t)),
                    };
                }
                self.deadline = now.saturating_add(self.timeout_ms);
                return Reaction::default();
            }
        };
        match (self.state, code) {
            (S::Verify, Code::Ok) => {
                self.send(S::Capture(1), Command::GenImg, now, Some(Self::press(1)))
            }
            (S::Capture(n), Code::Ok) => {
                self.send(S::Convert(n), Command::Img2Tz(Self::buffer(n)), now, None)
            }
            (S::Capture(n), Code::NoFinger | Code::ImageFailed | Code::PacketError) => {
                self.send(S::Capture(n), Command::GenImg, now, None)
            }
            (S::Convert(1), Code::Ok) => self.send(
                S::Lift(2),
                Command::GenImg,
                now,
                Some(Event::Step {
                    n: 1,
                    what: Action::Lift,
                }),
            ),
            (S::Convert(2), Code::Ok) => self.send(S::Combine, Command::RegModel, now, None),
            (S::Convert(_), Code::Ok) => self.send(S::Match, Command::Match, now, None),
            (S::Convert(n), Code::ImageMessy | Code::TooFewFeatures | Code::NoValidImage) => self
                .send(
                    S::Lift(n),
                    Command::GenImg,
                    now,
                    Some(Event::Retry { n, code }),
                ),
            (S::Lift(next), Code::NoFinger) => self.send(
                S::Capture(next),
                Command::GenImg,
                now,
                Some(Self::press(next)),
            ),
            (S::Lift(next), Code::Ok | Code::ImageFailed | Code::PacketError) => {
                self.send(S::Lift(next), Command::GenImg, now, None)
            }
            (S::Combine, Code::Ok) => self.send(
                S::Lift(3),
                Command::GenImg,
                now,
                Some(Event::Step {
                    n: 2,
                    what: Action::Lift,
                }),
            ),
            (S::Combine, Code::CombineFailed) | (S::Match, Code::NoMatch | Code::NotFound) => self
                .send(
                    S::Lift(1),
                    Command::GenImg,
                    now,
                    Some(Event::StartAgain(Failure::PrintsDoNotMatch)),
                ),
            (S::Match, Code::Ok) => {
                self.send(S::UploadAck, Command::UpChar(Buffer::Two), now, None)
            }
            (S::UploadAck, Code::Ok) => {
                self.state = S::Upload;
                self.deadline = now.saturating_add(self.timeout_ms);
                Reaction::default()
            }
            (S::Upload, _) => self.fail(Failure::Unexpected),
            (_, Code::Ok) => self.fail(Failure::Unexpected),
            (_, code) => self.fail(Failure::Sensor(code)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: u32 = DEFAULT_ADDRESS;

    /// The checksum rule written out independently of `checksum`.
    fn by_hand(pid: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() + 2;
        let mut sum: u32 = u32::from(pid) + (len as u32 >> 8) + (len as u32 & 0xFF);
        for b in payload {
            sum += u32::from(*b);
        }
        let mut v = vec![
            0xEF,
            0x01,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            pid,
            (len >> 8) as u8,
            len as u8,
        ];
        v.extend_from_slice(payload);
        v.push(((sum >> 8) & 0xFF) as u8);
        v.push((sum & 0xFF) as u8);
        v
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    #[test]
    fn enrolment_deadline_follows_each_command() {
        let mut e = Enrolment::new(0, 1000);
        assert_eq!(e.deadline(), None);
        e.start(5);
        assert_eq!(e.deadline(), Some(1005));
        let ok = Packet::Ack {
            code: Code::Ok,
            data: Payload::new(),
        };
        e.on_packet(&ok, 100);
        assert_eq!(e.deadline(), Some(1100));
        e.tick(1100);
        assert_eq!(e.deadline(), None, "over after the timeout");
    }

    #[test]
    fn probe_accepts_ok_reports_refusal_and_gives_up_on_silence() {
        let mut p = Probe::new(0, 1000);
        assert_eq!(p.start(0), Command::VerifyPassword(0));
        assert_eq!(p.tick(999), ProbeStep::Wait);
        assert_eq!(p.tick(1000), ProbeStep::Send(Command::VerifyPassword(0)));
        assert_eq!(p.tick(2000), ProbeStep::Send(Command::VerifyPassword(0)));
        assert_eq!(p.tick(3000), ProbeStep::NoAnswer);
        assert_eq!(p.deadline(), None);
        p.start(5000);
        let ok = Packet::Ack {
            code: Code::Ok,
            data: Payload::new(),
        };
        assert_eq!(p.on_packet(&ok), ProbeStep::Ok);
        p.start(6000);
        let bad = Packet::Ack {
            code: Code::from_u8(0x13),
            data: Payload::new(),
        };
        assert_eq!(p.on_packet(&bad), ProbeStep::Refused(Code::from_u8(0x13)));
    }

    fn decode_all(d: &mut Decoder, bytes: &[u8]) -> Vec<Packet> {
        let mut v = Vec::new();
        d.feed(bytes, |p| v.push(p));
        v
    }

    fn ack(code: u8, data: &[u8]) -> Vec<u8> {
        let mut p = vec![code];
        p.extend_from_slice(data);
        encode(A, Pid::Ack, &p).unwrap().to_vec()
    }

    #[test]
    fn builders_are_byte_exact() {
        assert_eq!(
            Command::VerifyPassword(0).encode(A).as_slice(),
            hex("EF 01 FF FF FF FF 01 00 07 13 00 00 00 00 00 1B")
        );
        assert_eq!(
            Command::GenImg.encode(A).as_slice(),
            hex("EF 01 FF FF FF FF 01 00 03 01 00 05")
        );
        assert_eq!(
            Command::Img2Tz(Buffer::One).encode(A).as_slice(),
            hex("EF 01 FF FF FF FF 01 00 04 02 01 00 08")
        );
        assert_eq!(
            Command::RegModel.encode(A).as_slice(),
            hex("EF 01 FF FF FF FF 01 00 03 05 00 09")
        );
        assert_eq!(
            Command::Img2Tz(Buffer::Two).encode(A).as_slice(),
            by_hand(1, &[0x02, 0x02])
        );
        assert_eq!(Command::Match.encode(A).as_slice(), by_hand(1, &[0x03]));
        assert_eq!(
            Command::UpChar(Buffer::One).encode(A).as_slice(),
            by_hand(1, &[0x08, 0x01])
        );
        assert_eq!(
            Command::UpChar(Buffer::Two).encode(A).as_slice(),
            by_hand(1, &[0x08, 0x02])
        );
        assert_eq!(Command::Handshake.encode(A).as_slice(), by_hand(1, &[0x40]));
        assert_eq!(
            Command::VerifyPassword(0xDEAD_BEEF).encode(A).as_slice(),
            by_hand(1, &[0x13, 0xDE, 0xAD, 0xBE, 0xEF])
        );
        // Another address goes into bytes 2..6; the checksum does not cover it.
        let f = Command::GenImg.encode(0x1234_5678);
        assert_eq!(f.as_slice(), hex("EF 01 12 34 56 78 01 00 03 01 00 05"));
        // Checksum wraps at 16 bits.
        let big = [0xFF; MAX_PAYLOAD];
        assert_eq!(
            encode(A, Pid::Data, &big).unwrap().as_slice(),
            by_hand(2, &big)
        );
        assert!(encode(A, Pid::Data, &[0; MAX_PAYLOAD + 1]).is_none());
    }

    #[test]
    fn codes_have_messages() {
        assert_eq!(Code::from_u8(0x02).message(), "no finger on the sensor");
        assert_eq!(
            Code::from_u8(0x06).message(),
            "image too messy — press again"
        );
        assert_eq!(
            Code::from_u8(0x0A).message(),
            "could not combine the prints — start again"
        );
        assert_eq!(Code::from_u8(0x13).message(), "wrong sensor password");
        assert_eq!(
            Code::from_u8(0x0E).message(),
            "cannot receive the following data packets"
        );
        assert_eq!(Code::from_u8(0x77).message(), "sensor error 0x77");
        assert_eq!(Failure::NoAnswer.to_string(), "the scanner does not answer");
        for b in 0..=255u8 {
            assert_eq!(Code::from_u8(b).as_u8(), b);
            assert!(!Code::from_u8(b).message().is_empty());
        }
    }

    #[test]
    fn decodes_acks_and_skips_garbage() {
        let mut d = Decoder::default();
        let mut bytes = hex("00 EF EF 01 13 EF 01 FF");
        bytes.extend(ack(0x00, &[0x00, 0x45]));
        bytes.extend(hex("01 EF"));
        bytes.extend(ack(0x02, &[]));
        let got = decode_all(&mut d, &bytes);
        assert_eq!(
            got,
            vec![
                Packet::Ack {
                    code: Code::Ok,
                    data: Payload::from_slice(&[0x00, 0x45]).unwrap()
                },
                Packet::Ack {
                    code: Code::NoFinger,
                    data: Payload::new()
                },
            ]
        );
        assert_eq!(d.buffered(), 0);
        // The documented ack of GenImg with no finger: EF01 FFFFFFFF 07 0003 02 000C.
        assert_eq!(
            decode_all(&mut d, &hex("EF 01 FF FF FF FF 07 00 03 02 00 0C")),
            vec![Packet::Ack {
                code: Code::NoFinger,
                data: Payload::new()
            }]
        );
    }

    #[test]
    fn bad_checksum_then_good_packet() {
        let mut d = Decoder::default();
        let mut bad = ack(0x00, &[]);
        let n = bad.len();
        bad[n - 1] ^= 0x55;
        let mut bytes = bad.clone();
        bytes.extend(ack(0x08, &[]));
        assert_eq!(
            decode_all(&mut d, &bytes),
            vec![Packet::Ack {
                code: Code::NoMatch,
                data: Payload::new()
            }]
        );
        // A truncated packet whose declared length swallows a good one: the good one still comes.
        let mut d = Decoder::default();
        let mut bytes = hex("EF 01 FF FF FF FF 07 00 10 00");
        bytes.extend(ack(0x0A, &[]));
        bytes.extend(vec![0u8; 8]);
        assert_eq!(
            decode_all(&mut d, &bytes),
            vec![Packet::Ack {
                code: Code::CombineFailed,
                data: Payload::new()
            }]
        );
        // Wrong address, wrong pid (a command echoed), oversized length: all skipped.
        let mut d = Decoder::default();
        let mut bytes = encode(0x0000_0001, Pid::Ack, &[0]).unwrap().to_vec();
        bytes.extend(Command::GenImg.encode(A));
        bytes.extend(hex("EF 01 FF FF FF FF 02 FF FF"));
        bytes.extend(ack(0x00, &[]));
        assert_eq!(
            decode_all(&mut d, &bytes),
            vec![Packet::Ack {
                code: Code::Ok,
                data: Payload::new()
            }]
        );
    }

    #[test]
    fn byte_at_a_time_and_data_packets() {
        let mut bytes = Vec::new();
        let chunk: Vec<u8> = (0..128u8).collect();
        bytes.extend(encode(A, Pid::Data, &chunk).unwrap());
        bytes.extend([0x55, 0xEF]);
        bytes.extend(encode(A, Pid::EndOfData, &chunk[..64]).unwrap());
        let whole = decode_all(&mut Decoder::default(), &bytes);
        let mut d = Decoder::default();
        let mut single = Vec::new();
        for b in &bytes {
            single.extend(decode_all(&mut d, &[*b]));
        }
        assert_eq!(whole, single);
        assert_eq!(
            whole,
            vec![
                Packet::Data {
                    last: false,
                    payload: Payload::from_slice(&chunk).unwrap()
                },
                Packet::Data {
                    last: true,
                    payload: Payload::from_slice(&chunk[..64]).unwrap()
                },
            ]
        );
    }

    #[test]
    fn random_bytes_never_panic_and_chunking_does_not_matter() {
        let mut x: u32 = 0x1234_5678;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for round in 0..200 {
            let mut bytes = Vec::new();
            for _ in 0..(rnd() % 600) {
                // Mostly noise, some valid packets, some corrupted ones.
                match rnd() % 8 {
                    0 => bytes.extend(ack((rnd() % 40) as u8, &[])),
                    1 => {
                        let mut f = ack(0, &[1, 2]);
                        let i = rnd() as usize % f.len();
                        f[i] ^= 1 + (rnd() % 255) as u8;
                        bytes.extend(f);
                    }
                    2 => bytes.extend([0xEF, 0x01]),
                    _ => bytes.push(rnd() as u8),
                }
            }
            let whole = decode_all(&mut Decoder::default(), &bytes);
            let mut d = Decoder::default();
            let mut chunked = Vec::new();
            let mut at = 0;
            while at < bytes.len() {
                let n = (1 + rnd() as usize % 40).min(bytes.len() - at);
                chunked.extend(decode_all(&mut d, &bytes[at..at + n]));
                assert!(d.buffered() < MAX_FRAME);
                at += n;
            }
            assert_eq!(whole, chunked, "round {round}");
            let mut e = Enrolment::new(0, 100);
            e.start(0);
            for (i, p) in whole.iter().enumerate() {
                e.on_packet(p, i as u64);
                e.tick(i as u64 * 7);
            }
        }
    }

    /// A scripted sensor: each expected command with the raw bytes it answers.
    struct Script(Vec<(Command, Vec<u8>)>);

    /// Runs the enrolment against a script, feeding answers in 5-byte chunks; returns the events.
    fn run(script: Script, template_chunks: &[Vec<u8>]) -> Vec<Event> {
        let mut e = Enrolment::new(0, 1000);
        let mut d = Decoder::default();
        let mut events = Vec::new();
        let mut now = 0;
        let mut r = e.start(now);
        let mut steps = script.0.into_iter();
        loop {
            if let Some(ev) = r.event.take() {
                events.push(ev);
            }
            let Some(cmd) = r.send else { break };
            let (want, answer) = steps.next().expect("script ran out");
            assert_eq!(cmd, want, "after events {events:?}");
            let mut answer = answer;
            if cmd == Command::UpChar(Buffer::Two) {
                for (i, c) in template_chunks.iter().enumerate() {
                    let pid = if i + 1 == template_chunks.len() {
                        Pid::EndOfData
                    } else {
                        Pid::Data
                    };
                    answer.extend(encode(A, pid, c).unwrap());
                }
            }
            now += 10;
            let mut packets = Vec::new();
            for c in answer.chunks(5) {
                packets.extend(decode_all(&mut d, c));
            }
            let mut send = None;
            for p in packets {
                let next = e.on_packet(&p, now);
                events.extend(next.event);
                if next.send.is_some() {
                    send = next.send;
                }
            }
            r = Reaction { send, event: None };
        }
        assert!(steps.next().is_none(), "script not used up");
        assert!(e.is_over());
        events
    }

    #[test]
    fn full_enrolment_with_no_finger_mismatch_and_upload() {
        use Command::*;
        let ok = || ack(0x00, &[]);
        let nofinger = || ack(0x02, &[]);
        let mut s = vec![(VerifyPassword(0), ok())];
        // First attempt: press 1 (after a "no finger" poll), lift, press 2, RegModel fails.
        s.extend([
            (GenImg, nofinger()),
            (GenImg, ok()),
            (Img2Tz(Buffer::One), ok()),
            (GenImg, ok()),
            (GenImg, nofinger()),
            (GenImg, ok()),
            (Img2Tz(Buffer::Two), ok()),
            (RegModel, ack(0x0A, &[])),
            (GenImg, nofinger()),
        ]);
        // Second attempt: a messy image on press 1, then all good; the third press matches.
        s.extend([
            (GenImg, ok()),
            (Img2Tz(Buffer::One), ack(0x06, &[])),
            (GenImg, nofinger()),
            (GenImg, ok()),
            (Img2Tz(Buffer::One), ok()),
            (GenImg, nofinger()),
            (GenImg, ok()),
            (Img2Tz(Buffer::Two), ok()),
            (RegModel, ok()),
            (GenImg, nofinger()),
            (GenImg, ok()),
            (Img2Tz(Buffer::One), ok()),
            (Match, ack(0x00, &[0x00, 0x64])),
            (UpChar(Buffer::Two), ok()),
        ]);
        let chunks: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 128]).collect();
        let events = run(Script(s), &chunks);
        let step = |n, what| Event::Step { n, what };
        let mut template = Template::new();
        for c in &chunks {
            template.extend_from_slice(c).unwrap();
        }
        assert_eq!(template.len(), 512);
        assert_eq!(
            events,
            vec![
                step(1, Action::Press),
                step(1, Action::Lift),
                step(2, Action::PressAgain),
                Event::StartAgain(Failure::PrintsDoNotMatch),
                step(1, Action::Press),
                Event::Retry {
                    n: 1,
                    code: Code::ImageMessy
                },
                step(1, Action::Press),
                step(1, Action::Lift),
                step(2, Action::PressAgain),
                step(2, Action::Lift),
                step(3, Action::PressAgain),
                Event::Done(template),
            ]
        );
    }

    #[test]
    fn third_press_mismatch_starts_again_and_errors_fail() {
        let mut e = Enrolment::new(0, 1000);
        let ok = Packet::Ack {
            code: Code::Ok,
            data: Payload::new(),
        };
        let code = |c| Packet::Ack {
            code: c,
            data: Payload::new(),
        };
        e.start(0);
        e.state = State::Match;
        e.deadline = 1000;
        let r = e.on_packet(&code(Code::NoMatch), 5);
        assert_eq!(r.event, Some(Event::StartAgain(Failure::PrintsDoNotMatch)));
        assert_eq!(r.send, Some(Command::GenImg));
        // Wrong password fails with its message.
        let mut e = Enrolment::new(7, 1000);
        assert_eq!(e.start(0).send, Some(Command::VerifyPassword(7)));
        let r = e.on_packet(&code(Code::WrongPassword), 1);
        assert_eq!(
            r.event,
            Some(Event::Failed(Failure::Sensor(Code::WrongPassword)))
        );
        assert!(e.is_over());
        assert_eq!(e.on_packet(&ok, 2), Reaction::default());
    }

    #[test]
    fn timeouts_fail_with_no_answer() {
        let mut e = Enrolment::new(0, 1000);
        e.start(0);
        assert_eq!(e.tick(999), Reaction::default());
        let r = e.tick(1000);
        assert_eq!(r.event, Some(Event::Failed(Failure::NoAnswer)));
        assert_eq!(r.event.unwrap().clone(), Event::Failed(Failure::NoAnswer));
        assert!(e.is_over());
        // During the upload, each data packet extends the deadline; silence then fails.
        let mut e = Enrolment::new(0, 1000);
        e.start(0);
        e.state = State::UploadAck;
        e.on_packet(
            &Packet::Ack {
                code: Code::Ok,
                data: Payload::new(),
            },
            500,
        );
        let data = Packet::Data {
            last: false,
            payload: Payload::from_slice(&[1; 128]).unwrap(),
        };
        assert_eq!(e.on_packet(&data, 1400), Reaction::default());
        assert_eq!(e.tick(2399), Reaction::default());
        assert_eq!(e.tick(2400).event, Some(Event::Failed(Failure::NoAnswer)));
    }
}
