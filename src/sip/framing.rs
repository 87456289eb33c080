//! RFC 3261 §18.3 framing of SIP on a byte stream (TCP, TLS), sans-IO: bytes go in as they
//! arrive, in any chunking; complete messages come out. The header block ends at the first
//! CRLFCRLF and may not exceed a bound; on a stream every message must carry a Content-Length
//! (or its compact form `l`), and exactly that many body octets follow. CRLFs between messages
//! are skipped; a double CRLF there is an RFC 5626 keep-alive ping, reported so the connection
//! can answer the single-CRLF pong. Any framing error is final: the stream cannot be resynchronised
//! and the connection must be closed. Owns the per-connection read buffer only; it parses nothing
//! beyond the framing (the message itself goes to `super::message::parse`).

use thiserror::Error;

/// Largest header block (start line and headers, up to and including CRLFCRLF).
pub const MAX_HEADER: usize = 16 * 1024;

/// What the framer found.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// One complete message (headers and exactly Content-Length body octets).
    Message(Vec<u8>),
    /// An RFC 5626 keep-alive ping (CRLFCRLF between messages): answer with CRLF.
    Ping,
}

/// Why the stream can no longer be framed: the connection must be closed.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum FrameError {
    #[error("header block longer than {0} bytes")]
    HeaderTooLarge(usize),
    #[error("message without Content-Length on a stream")]
    MissingContentLength,
    #[error("Content-Length is not a number")]
    BadContentLength,
    #[error("different Content-Length values in one message")]
    ConflictingContentLength,
    #[error("body of {0} bytes is larger than allowed")]
    BodyTooLarge(usize),
}

/// The framing state of one connection.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    max_header: usize,
    max_body: usize,
    /// Where the search for CRLFCRLF resumes (bytes before it hold none).
    scanned: usize,
    /// The message being received: its header length and body length, once its headers are in.
    current: Option<(usize, usize)>,
    /// Once failed, always failed.
    failed: Option<FrameError>,
}

impl Framer {
    /// A framer accepting header blocks up to `max_header` bytes and bodies up to `max_body`.
    pub fn new(max_header: usize, max_body: usize) -> Framer {
        Framer {
            buf: Vec::new(),
            max_header: max_header.max(4),
            max_body,
            scanned: 0,
            current: None,
            failed: None,
        }
    }

    /// The framer for SIP streams: [`MAX_HEADER`] and a whole message within
    /// `super::message::MAX_MESSAGE`.
    pub fn sip() -> Framer {
        Framer::new(MAX_HEADER, super::message::MAX_MESSAGE - MAX_HEADER)
    }

    /// Bytes held, waiting for the rest of a message. Never more than one message's worth plus
    /// what the last `push` brought.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Adds received bytes. Call [`Framer::next_frame`] until it returns `Ok(None)` after each push;
    /// the buffer then holds at most one incomplete message.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or the error that ends the
    /// connection (returned again on every later call).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.next_inner() {
            Err(e) => {
                self.buf = Vec::new();
                self.failed = Some(e.clone());
                Err(e)
            }
            ok => ok,
        }
    }

    fn next_inner(&mut self) -> Result<Option<Frame>, FrameError> {
        // Keep-alives and stray CRLFs between messages.
        loop {
            if self.buf.starts_with(b"\r\n\r\n") {
                self.consume(4);
                return Ok(Some(Frame::Ping));
            }
            match self.buf.as_slice() {
                [] | [b'\r'] | [b'\r', b'\n'] | [b'\r', b'\n', b'\r'] => return Ok(None),
                [b'\r', b'\n', ..] => self.consume(2),
                [b'\n', ..] => self.consume(1), // a bare LF: tolerated between messages
                _ => break,
            }
        }
        let (end, body) = match self.current {
            Some(c) => c,
            None => {
                let from = self.scanned.saturating_sub(3);
                let end = match find(&self.buf[from..], b"\r\n\r\n") {
                    Some(i) => from + i + 4,
                    None => {
                        if self.buf.len() >= self.max_header {
                            return Err(FrameError::HeaderTooLarge(self.max_header));
                        }
                        self.scanned = self.buf.len();
                        return Ok(None);
                    }
                };
                if end > self.max_header {
                    return Err(FrameError::HeaderTooLarge(self.max_header));
                }
                let body = content_length(&self.buf[..end])?;
                if body > self.max_body {
                    return Err(FrameError::BodyTooLarge(body));
                }
                self.current = Some((end, body));
                (end, body)
            }
        };
        let total = end + body;
        if self.buf.len() < total {
            return Ok(None);
        }
        let rest = self.buf.split_off(total);
        let msg = std::mem::replace(&mut self.buf, rest);
        self.scanned = 0;
        self.current = None;
        Ok(Some(Frame::Message(msg)))
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n.min(self.buf.len()));
        self.scanned = 0;
        self.current = None;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The Content-Length of a header block (ending with CRLFCRLF): every `Content-Length` or `l`
/// header, folded lines joined; all must agree.
pub fn content_length(head: &[u8]) -> Result<usize, FrameError> {
    let mut found: Option<usize> = None;
    let mut current: Option<Vec<u8>> = None;
    let mut check = |value: Vec<u8>| -> Result<(), FrameError> {
        let v = trim(&value);
        if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
            return Err(FrameError::BadContentLength);
        }
        let n = v.iter().fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
        match found {
            Some(m) if m != n => Err(FrameError::ConflictingContentLength),
            _ => {
                found = Some(n);
                Ok(())
            }
        }
    };
    // Skip the start line.
    let mut lines = head.split(|b| *b == b'\n').skip(1);
    for line in &mut lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            if let Some(v) = current.as_mut() {
                v.push(b' ');
                v.extend_from_slice(line);
            }
            continue;
        }
        if let Some(v) = current.take() {
            check(v)?;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = trim(&line[..colon]);
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            current = Some(line[colon + 1..].to_vec());
        }
    }
    if let Some(v) = current.take() {
        check(v)?;
    }
    found.ok_or(FrameError::MissingContentLength)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const M1: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 5\r\n\r\nhello";
    const M2: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl:0\r\n\r\n";

    fn all(f: &mut Framer) -> Result<Vec<Frame>, FrameError> {
        let mut out = Vec::new();
        while let Some(x) = f.next_frame()? {
            out.push(x);
        }
        Ok(out)
    }

    #[test]
    fn two_messages_in_one_chunk_and_byte_by_byte() {
        let mut both = M1.to_vec();
        both.extend_from_slice(M2);
        let mut f = Framer::sip();
        f.push(&both);
        assert_eq!(
            all(&mut f).unwrap(),
            vec![Frame::Message(M1.to_vec()), Frame::Message(M2.to_vec())]
        );
        assert_eq!(f.buffered(), 0);
        let mut f = Framer::sip();
        let mut got = Vec::new();
        for b in &both {
            f.push(std::slice::from_ref(b));
            got.extend(all(&mut f).unwrap());
        }
        assert_eq!(
            got,
            vec![Frame::Message(M1.to_vec()), Frame::Message(M2.to_vec())]
        );
    }

    #[test]
    fn keepalive_ping_and_stray_crlf() {
        let mut f = Framer::sip();
        f.push(b"\r\n\r\n\r\n");
        assert_eq!(all(&mut f).unwrap(), vec![Frame::Ping]);
        f.push(M2);
        assert_eq!(all(&mut f).unwrap(), vec![Frame::Message(M2.to_vec())]);
        let mut f = Framer::sip();
        for b in b"\r\n\r\n" {
            f.push(std::slice::from_ref(b));
            let _ = all(&mut f).unwrap();
        }
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn framing_errors_are_final() {
        let mut f = Framer::sip();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::MissingContentLength));
        f.push(M2);
        assert_eq!(f.next_frame(), Err(FrameError::MissingContentLength));
        let mut f = Framer::sip();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -999\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::BadContentLength));
        let mut f = Framer::sip();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 13\r\nl: 5\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::ConflictingContentLength));
        let mut f = Framer::sip();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\n");
        assert!(matches!(f.next_frame(), Err(FrameError::BodyTooLarge(_))));
        let mut f = Framer::sip();
        f.push(&vec![b'a'; MAX_HEADER + 1]);
        assert_eq!(f.next_frame(), Err(FrameError::HeaderTooLarge(MAX_HEADER)));
    }

    #[test]
    fn folded_and_spaced_content_length() {
        assert_eq!(
            content_length(b"X sip:a SIP/2.0\r\nContent-Length   :\r\n  150\r\n\r\n"),
            Ok(150)
        );
        assert_eq!(content_length(b"X sip:a SIP/2.0\r\nL:0\r\n\r\n"), Ok(0));
    }
}
