//! The box's serial peripherals (manual 1.2.3–1.2.5): desktop card issuers and fingerprint
//! scanners on (USB-)serial ports. The codecs here are sans-IO: bytes in, frames out, in fixed
//! `heapless` buffers with no allocation per frame, resynchronising after garbage or a bad
//! checksum by dropping bytes, never panicking. `pn532` (13.56 MHz IC-card reader, HSU frames),
//! `em4100` (125 kHz ID-card readers of the RDM6300 family, ASCII frames) and `r30x` (R307/R503/
//! AS608 fingerprint sensors, `EF01` packets). The port adapters and the enrolment flows come
//! with issue 7's remaining parts. Owns no store table and no socket.

pub mod em4100;
pub mod pn532;
pub mod pn532_link;
pub mod port;
pub mod r30x;
pub mod readers;
pub mod service;
