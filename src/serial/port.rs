//! The thin I/O edge of the serial readers: opening a (USB-)serial port with tokio-serial (8N1,
//! no flow control, exclusive) and `tokio_util::codec` wrappers that turn the port into a stream of
//! decoded frames of one family and a sink of encoded bytes. The codecs only move bytes between
//! tokio's buffer and the sans-IO decoders of `pn532`, `em4100` and `r30x`, which keep at most one
//! frame; tokio's read buffer is drained at every call, so nothing grows. Owns no protocol rule.

use std::path::Path;

use tokio_serial::{SerialPortBuilderExt, SerialStream};
use tokio_util::bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder, Framed};

use super::{em4100, pn532, r30x};

/// Opens `path` at `baud`, 8N1, no flow control.
pub fn open(path: &Path, baud: u32) -> std::io::Result<SerialStream> {
    let mut port = tokio_serial::new(path.to_string_lossy(), baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(tokio_serial::FlowControl::None)
        .open_native_async()
        .map_err(std::io::Error::from)?;
    // Another process must not open the reader while Gatehouse drives it.
    let _ = port.set_exclusive(true);
    Ok(port)
}

/// What a PN532 port yields: a frame, or notice of a frame dropped for its checksum. The frame
/// lives inline (no allocation per frame).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Pn532Item {
    Frame(pn532::Event),
    BadChecksum,
}

#[derive(Default)]
pub struct Pn532Codec(pn532::Decoder);

impl Decoder for Pn532Codec {
    type Item = Pn532Item;
    type Error = std::io::Error;
    fn decode(&mut self, src: &mut BytesMut) -> std::io::Result<Option<Pn532Item>> {
        while !src.is_empty() {
            let bad = self.0.bad_frames();
            let b = src.get_u8();
            let ev = self.0.push(b);
            if self.0.bad_frames() != bad {
                return Ok(Some(Pn532Item::BadChecksum));
            }
            if let Some(ev) = ev {
                return Ok(Some(Pn532Item::Frame(ev)));
            }
        }
        Ok(None)
    }
}

#[derive(Default)]
pub struct Em4100Codec(em4100::Decoder);

impl Decoder for Em4100Codec {
    type Item = em4100::Card;
    type Error = std::io::Error;
    fn decode(&mut self, src: &mut BytesMut) -> std::io::Result<Option<em4100::Card>> {
        while !src.is_empty() {
            if let Some(card) = self.0.push(src.get_u8()) {
                return Ok(Some(card));
            }
        }
        Ok(None)
    }
}

pub struct R30xCodec(r30x::Decoder);

impl R30xCodec {
    pub fn new(address: u32) -> Self {
        R30xCodec(r30x::Decoder::new(address))
    }
}

impl Decoder for R30xCodec {
    type Item = r30x::Packet;
    type Error = std::io::Error;
    fn decode(&mut self, src: &mut BytesMut) -> std::io::Result<Option<r30x::Packet>> {
        loop {
            // A push may complete more than one packet: take every one before the next byte.
            if let Some(p) = self.0.next_packet() {
                return Ok(Some(p));
            }
            if src.is_empty() {
                return Ok(None);
            }
            self.0.push(src.get_u8());
        }
    }
}

/// Every codec writes the bytes it is given, as they are.
macro_rules! raw_encoder {
    ($t:ty) => {
        impl Encoder<&[u8]> for $t {
            type Error = std::io::Error;
            fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> std::io::Result<()> {
                dst.extend_from_slice(item);
                Ok(())
            }
        }
    };
}
raw_encoder!(Pn532Codec);
raw_encoder!(Em4100Codec);
raw_encoder!(R30xCodec);

pub type Pn532Port = Framed<SerialStream, Pn532Codec>;
pub type Em4100Port = Framed<SerialStream, Em4100Codec>;
pub type R30xPort = Framed<SerialStream, R30xCodec>;
