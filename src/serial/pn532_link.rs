//! The PN532 conversation, sans-IO: wake-up and initialisation (SAMConfiguration,
//! GetFirmwareVersion, RFConfiguration of the passive-activation retries), then InListPassiveTarget
//! polling while cards are wanted, or a GetFirmwareVersion heartbeat while not. Every command
//! follows the exchange of UM0701-02 §6.2.1: the PN532 ACKs, then sends its response; a NACK or an
//! error frame from it makes us resend (3 tries), a response with a bad checksum makes us send a
//! NACK so it repeats the response, and silence past the answer timeout makes us resend and, after
//! the last try, report that the reader does not answer (it is woken and initialised again a
//! little later). The same card held on the reader is reported once, until a poll finds the field
//! empty. Frames come in as decoder events (see `pn532::Decoder`); time comes in as milliseconds.
//! Owns no port: the adapter in `port.rs` writes what `Output::Send` carries.

use super::pn532::{
    self, CardNumber, Event, FirmwareVersion, Frame, CMD_GET_FIRMWARE_VERSION,
    CMD_IN_LIST_PASSIVE_TARGET, CMD_SAM_CONFIGURATION,
};

/// How many times a command is sent before the reader "does not answer".
pub const TRIES: u8 = 3;
/// NACKs we send for one response with a bad checksum before giving up on it.
const MAX_NACKS: u8 = 3;
/// Pause between two polls while cards are wanted.
pub const POLL_EVERY_MS: u64 = 200;
/// Heartbeat while idle, so a silent reader is noticed.
pub const HEARTBEAT_MS: u64 = 5_000;
/// After "does not answer", how long until the reader is woken again.
pub const RETRY_AFTER_MS: u64 = 2_000;
/// RFConfiguration (0x32).
pub const CMD_RF_CONFIGURATION: u8 = 0x32;

/// RFConfiguration item 0x05 (MaxRetries): MxRtyATR 0xFF, MxRtyPSL 0x01, MxRtyPassiveActivation
/// 0x02, so InListPassiveTarget answers NbTg = 0 when no card is in the field instead of waiting.
pub fn rf_configuration_retries() -> Frame {
    pn532::command(CMD_RF_CONFIGURATION, &[0x05, 0xFF, 0x01, 0x02]).unwrap_or_default()
}

/// What the adapter must do or report. Frames live inline (no allocation per frame).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write these bytes to the port.
    Send(Frame),
    /// The reader answered the initialisation: it is ready.
    Ready(FirmwareVersion),
    /// A card came into the field (reported once while it stays).
    Card(CardNumber),
    /// A card's answer could not be used (e.g. a 10-byte UID); the text says why.
    Unreadable(&'static str),
    /// The reader stopped answering; it will be woken again after [`RETRY_AFTER_MS`].
    NoAnswer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Sam,
    Firmware,
    RfConfig,
    Poll,
    Heartbeat,
}

impl Step {
    fn code(self) -> u8 {
        match self {
            Step::Sam => CMD_SAM_CONFIGURATION,
            Step::Firmware | Step::Heartbeat => CMD_GET_FIRMWARE_VERSION,
            Step::RfConfig => CMD_RF_CONFIGURATION,
            Step::Poll => CMD_IN_LIST_PASSIVE_TARGET,
        }
    }

    fn frame(self) -> Frame {
        match self {
            Step::Sam => {
                // HSU wake-up (§7.2.11): a long preamble, then the first command.
                let mut f = pn532::wakeup();
                let _ = f.extend_from_slice(&pn532::sam_configuration());
                f
            }
            Step::Firmware | Step::Heartbeat => pn532::get_firmware_version(),
            Step::RfConfig => rf_configuration_retries(),
            Step::Poll => pn532::in_list_passive_target(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not started.
    Down,
    /// Waiting for the ACK of `step` (try `tries`).
    AwaitAck {
        step: Step,
        tries: u8,
        deadline: u64,
    },
    /// ACKed; waiting for the response.
    AwaitResponse {
        step: Step,
        tries: u8,
        nacks: u8,
        deadline: u64,
    },
    /// Ready; the next command goes at `at`.
    Idle { at: u64 },
    /// Did not answer; wake it again at `at`.
    Resting { at: u64 },
}

/// One reader's conversation.
#[derive(Debug, Clone)]
pub struct Link {
    timeout_ms: u64,
    phase: Phase,
    polling: bool,
    ready: bool,
    /// The card seen by the last poll (so a held card is reported once).
    held: Option<CardNumber>,
}

impl Link {
    /// `timeout_ms`: how long to wait for each ACK and each response.
    pub fn new(timeout_ms: u64) -> Self {
        Link {
            timeout_ms: timeout_ms.max(1),
            phase: Phase::Down,
            polling: false,
            ready: false,
            held: None,
        }
    }

    /// Whether the initialisation succeeded and the reader has not stopped answering since.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The next moment [`Link::tick`] has something to do.
    pub fn deadline(&self) -> Option<u64> {
        match self.phase {
            Phase::Down => None,
            Phase::AwaitAck { deadline, .. } | Phase::AwaitResponse { deadline, .. } => {
                Some(deadline)
            }
            Phase::Idle { at } | Phase::Resting { at } => Some(at),
        }
    }

    /// Wakes the reader and starts the initialisation (also after the port was reopened).
    pub fn start(&mut self, now: u64, out: &mut impl FnMut(Output)) {
        self.ready = false;
        self.held = None;
        self.send(Step::Sam, 1, now, out);
    }

    /// Cards are wanted (poll) or not (heartbeat only). Turning it on polls at once when idle.
    pub fn set_polling(&mut self, on: bool, now: u64, out: &mut impl FnMut(Output)) {
        if self.polling == on {
            return;
        }
        self.polling = on;
        self.held = None;
        if on {
            if let Phase::Idle { .. } = self.phase {
                self.send(Step::Poll, 1, now, out);
            }
        }
    }

    fn send(&mut self, step: Step, tries: u8, now: u64, out: &mut impl FnMut(Output)) {
        self.phase = Phase::AwaitAck {
            step,
            tries,
            deadline: now.saturating_add(self.timeout_ms),
        };
        out(Output::Send(step.frame()));
    }

    fn retry(&mut self, step: Step, tries: u8, now: u64, out: &mut impl FnMut(Output)) {
        if tries < TRIES {
            self.send(step, tries + 1, now, out);
        } else {
            self.ready = false;
            self.held = None;
            self.phase = Phase::Resting {
                at: now.saturating_add(RETRY_AFTER_MS),
            };
            out(Output::NoAnswer);
        }
    }

    fn idle(&mut self, now: u64) {
        let wait = if self.polling {
            POLL_EVERY_MS
        } else {
            HEARTBEAT_MS
        };
        self.phase = Phase::Idle {
            at: now.saturating_add(wait),
        };
    }

    /// Time passes.
    pub fn tick(&mut self, now: u64, out: &mut impl FnMut(Output)) {
        match self.phase {
            Phase::Down => {}
            Phase::AwaitAck {
                step,
                tries,
                deadline,
            }
            | Phase::AwaitResponse {
                step,
                tries,
                deadline,
                ..
            } => {
                if now >= deadline {
                    self.retry(step, tries, now, out);
                }
            }
            Phase::Idle { at } => {
                if now >= at {
                    let step = if self.polling {
                        Step::Poll
                    } else {
                        Step::Heartbeat
                    };
                    self.send(step, 1, now, out);
                }
            }
            Phase::Resting { at } => {
                if now >= at {
                    self.start(now, out);
                }
            }
        }
    }

    /// The decoder dropped a frame with a bad checksum: if it was the response we wait for, ask
    /// for it again with a NACK.
    pub fn on_bad_frame(&mut self, now: u64, out: &mut impl FnMut(Output)) {
        if let Phase::AwaitResponse {
            step, tries, nacks, ..
        } = self.phase
        {
            if nacks < MAX_NACKS {
                self.phase = Phase::AwaitResponse {
                    step,
                    tries,
                    nacks: nacks + 1,
                    deadline: now.saturating_add(self.timeout_ms),
                };
                out(Output::Send(pn532::nack()));
            }
        }
    }

    /// A frame from the reader.
    pub fn on_event(&mut self, ev: &Event, now: u64, out: &mut impl FnMut(Output)) {
        let (step, tries) = match self.phase {
            Phase::AwaitAck { step, tries, .. } | Phase::AwaitResponse { step, tries, .. } => {
                (step, tries)
            }
            _ => return,
        };
        match ev {
            Event::Ack => {
                if let Phase::AwaitAck { .. } = self.phase {
                    // A poll may take the reader a while (the RF field, the card's answer).
                    let wait = if step == Step::Poll {
                        self.timeout_ms.saturating_mul(3)
                    } else {
                        self.timeout_ms
                    };
                    self.phase = Phase::AwaitResponse {
                        step,
                        tries,
                        nacks: 0,
                        deadline: now.saturating_add(wait),
                    };
                }
            }
            Event::Nack | Event::ErrorFrame => self.retry(step, tries, now, out),
            Event::Response { cmd, data } => {
                // The response counts only after the ACK of this command: a response before it is
                // a repeat of an earlier one (e.g. after a NACK we sent for line noise).
                if !matches!(self.phase, Phase::AwaitResponse { .. })
                    || *cmd != step.code().wrapping_add(1)
                {
                    return;
                }
                self.on_response(step, data, now, out);
            }
        }
    }

    fn on_response(&mut self, step: Step, data: &[u8], now: u64, out: &mut impl FnMut(Output)) {
        match step {
            Step::Sam => self.send(Step::Firmware, 1, now, out),
            Step::Firmware => match pn532::parse_firmware_version(step.code() + 1, data) {
                Ok(fw) => {
                    out(Output::Ready(fw));
                    self.send(Step::RfConfig, 1, now, out);
                }
                Err(_) => self.send(Step::Firmware, 1, now, out),
            },
            Step::RfConfig => {
                self.ready = true;
                if self.polling {
                    self.send(Step::Poll, 1, now, out);
                } else {
                    self.idle(now);
                }
            }
            Step::Heartbeat => self.idle(now),
            Step::Poll => {
                match pn532::parse_passive_target(step.code() + 1, data) {
                    Ok(Some(uid)) => {
                        if self.polling && self.held.as_ref() != Some(&uid) {
                            out(Output::Card(uid.clone()));
                        }
                        self.held = Some(uid);
                    }
                    Ok(None) => self.held = None,
                    Err(pn532::ParseError::BadUidLength(_)) => out(Output::Unreadable(
                        "the card's UID has an unsupported length",
                    )),
                    Err(_) => {}
                }
                self.idle(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: impl FnOnce(&mut dyn FnMut(Output))) -> Vec<Output> {
        let mut v = Vec::new();
        f(&mut |o| v.push(o));
        v
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    fn response(cmd: u8, data: &[u8]) -> Event {
        Event::Response {
            cmd,
            data: heapless::Vec::from_slice(data).unwrap(),
        }
    }

    fn sent(o: &[Output]) -> Vec<Vec<u8>> {
        o.iter()
            .filter_map(|o| match o {
                Output::Send(f) => Some(f.to_vec()),
                _ => None,
            })
            .collect()
    }

    /// Brings a link through the initialisation at t = 0..3.
    fn ready_link() -> Link {
        let mut l = Link::new(1000);
        run(|o| l.start(0, &mut |x| o(x)));
        for (t, (cmd, data)) in [
            (0x15u8, &[][..]),
            (0x03, &[0x32, 1, 6, 7][..]),
            (0x33, &[][..]),
        ]
        .into_iter()
        .enumerate()
        {
            run(|o| l.on_event(&Event::Ack, t as u64, &mut |x| o(x)));
            run(|o| l.on_event(&response(cmd, data), t as u64, &mut |x| o(x)));
        }
        assert!(l.is_ready());
        l
    }

    #[test]
    fn initialisation_frames_are_byte_exact() {
        let mut l = Link::new(1000);
        let o = run(|o| l.start(0, &mut |x| o(x)));
        let mut want = hex("55 55 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
        // SAMConfiguration normal mode, timeout 0x14, IRQ: DCS = -(D4+14+01+14+01) = 0x02.
        want.extend(hex("00 00 FF 05 FB D4 14 01 14 01 02 00"));
        assert_eq!(sent(&o), vec![want]);
        run(|o| l.on_event(&Event::Ack, 1, &mut |x| o(x)));
        let o = run(|o| l.on_event(&response(0x15, &[]), 2, &mut |x| o(x)));
        assert_eq!(sent(&o), vec![hex("00 00 FF 02 FE D4 02 2A 00")]);
        run(|o| l.on_event(&Event::Ack, 3, &mut |x| o(x)));
        let o = run(|o| l.on_event(&response(0x03, &[0x32, 1, 6, 7]), 4, &mut |x| o(x)));
        assert_eq!(
            o[0],
            Output::Ready(FirmwareVersion {
                ic: 0x32,
                ver: 1,
                rev: 6,
                support: 7
            })
        );
        // RFConfiguration: D4 32 05 FF 01 02, DCS = -(D4+32+05+FF+01+02) = -0x20D = 0xF3.
        assert_eq!(
            sent(&o),
            vec![hex("00 00 FF 06 FA D4 32 05 FF 01 02 F3 00")]
        );
        assert!(!l.is_ready());
        run(|o| l.on_event(&Event::Ack, 5, &mut |x| o(x)));
        run(|o| l.on_event(&response(0x33, &[]), 6, &mut |x| o(x)));
        assert!(l.is_ready());
    }

    #[test]
    fn polls_report_a_held_card_once() {
        let mut l = ready_link();
        let o = run(|o| l.set_polling(true, 10, &mut |x| o(x)));
        assert_eq!(sent(&o), vec![hex("00 00 FF 04 FC D4 4A 01 00 E1 00")]);
        let card = [1u8, 0, 0x04, 0x00, 0x08, 4, 0xDE, 0xAD, 0xBE, 0xEF];
        let mut cards = Vec::new();
        let mut t = 10;
        for present in [true, true, true, false, true] {
            run(|o| l.on_event(&Event::Ack, t, &mut |x| o(x)));
            let data: &[u8] = if present { &card } else { &[0] };
            let o = run(|o| l.on_event(&response(0x4B, data), t, &mut |x| o(x)));
            cards.extend(o.into_iter().filter(|o| matches!(o, Output::Card(_))));
            t += POLL_EVERY_MS;
            let o = run(|o| l.tick(t, &mut |x| o(x)));
            assert_eq!(sent(&o).len(), 1, "the next poll goes after the pause");
        }
        assert_eq!(
            cards,
            vec![
                Output::Card("DEADBEEF".try_into().unwrap()),
                Output::Card("DEADBEEF".try_into().unwrap())
            ]
        );
    }

    #[test]
    fn nack_resends_and_silence_gives_up_after_three_tries() {
        let mut l = Link::new(1000);
        let first = run(|o| l.start(0, &mut |x| o(x)));
        let o = run(|o| l.on_event(&Event::Nack, 5, &mut |x| o(x)));
        assert_eq!(sent(&o), sent(&first), "NACK: the same command again");
        let o = run(|o| l.tick(1004, &mut |x| o(x)));
        assert!(o.is_empty(), "not before the timeout");
        let o = run(|o| l.tick(1005, &mut |x| o(x)));
        assert_eq!(sent(&o), sent(&first), "third try after the timeout");
        let o = run(|o| l.tick(2005, &mut |x| o(x)));
        assert_eq!(o, vec![Output::NoAnswer]);
        assert!(!l.is_ready());
        assert_eq!(l.deadline(), Some(2005 + RETRY_AFTER_MS));
        let o = run(|o| l.tick(2005 + RETRY_AFTER_MS, &mut |x| o(x)));
        assert_eq!(sent(&o), sent(&first), "woken again later");
    }

    #[test]
    fn bad_response_checksum_is_answered_with_a_nack() {
        let mut l = ready_link();
        run(|o| l.set_polling(true, 10, &mut |x| o(x)));
        run(|o| l.on_event(&Event::Ack, 11, &mut |x| o(x)));
        let o = run(|o| l.on_bad_frame(12, &mut |x| o(x)));
        assert_eq!(sent(&o), vec![hex("00 00 FF FF 00 00")]);
        let card = [
            1u8, 0, 0x44, 0x00, 0x00, 7, 4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
        ];
        let o = run(|o| l.on_event(&response(0x4B, &card), 13, &mut |x| o(x)));
        assert_eq!(o, vec![Output::Card("04112233445566".try_into().unwrap())]);
    }

    #[test]
    fn a_response_before_the_ack_is_a_stale_repeat() {
        let mut l = ready_link();
        run(|o| l.set_polling(true, 10, &mut |x| o(x)));
        let card = [1u8, 0, 0x04, 0x00, 0x08, 4, 1, 2, 3, 4];
        let o = run(|o| l.on_event(&response(0x4B, &card), 11, &mut |x| o(x)));
        assert!(o.is_empty(), "taken before the ACK: {o:?}");
        run(|o| l.on_event(&Event::Ack, 12, &mut |x| o(x)));
        let o = run(|o| l.on_event(&response(0x4B, &card), 13, &mut |x| o(x)));
        assert_eq!(o, vec![Output::Card("01020304".try_into().unwrap())]);
    }

    #[test]
    fn a_held_card_is_not_reported_when_not_polling_and_late_answers_are_ignored() {
        let mut l = ready_link();
        // Heartbeat while idle.
        let o = run(|o| l.tick(3 + HEARTBEAT_MS, &mut |x| o(x)));
        assert_eq!(sent(&o), vec![hex("00 00 FF 02 FE D4 02 2A 00")]);
        // A stray poll answer is not the heartbeat's.
        let o = run(|o| {
            l.on_event(
                &response(0x4B, &[1, 1, 0, 4, 8, 4, 1, 2, 3, 4]),
                10,
                &mut |x| o(x),
            )
        });
        assert!(o.is_empty());
    }
}
