//! The message entry point: bytes → a checked request or response, and the builder of responses
//! to a request. Parsing is rsip's; this layer first frames and normalises what rsip cannot read
//! although RFC 3261 allows it (folded header lines, space before the colon, compact header
//! names, several Via values on one line, a body longer than its Content-Length) and refuses what
//! RFC 3261 requires a server to refuse and rsip lets through: missing or repeated single-valued
//! headers, a CSeq method that is not the request's, numbers out of range, a Content-Length
//! larger than the body, a malformed request line (505 for another SIP version, 416 for an
//! unknown Request-URI scheme), malformed name-addr values, unsupported Proxy-Require (420) and
//! methods it does not know (501). Answers go back where a response can be built (From, To,
//! Call-ID, CSeq and Via present); anything else, and every bad response, is dropped. Owns no
//! state; never panics on any input (fuzzed by `fuzz/fuzz_targets/sip_datagram.rs`); the RFC 4475
//! torture messages are run against it by `tests/sip_torture.rs`.

use rsip::headers::{ToTypedHeader, UntypedHeader};
use rsip::{Header, Method};

use super::core::Peer;

/// Largest SIP message accepted (UDP datagram or one framed stream message).
pub const MAX_MESSAGE: usize = 65_535;

/// A request with its dialog- and transaction-identifying fields pulled out once.
#[derive(Debug, Clone)]
pub struct Request {
    pub raw: rsip::Request,
    pub call_id: String,
    pub cseq: u32,
    pub from_tag: Option<String>,
    pub to_tag: Option<String>,
    /// The top Via's branch (RFC 3261 §8.1.1.7); transactions match on it.
    pub branch: Option<String>,
    /// The top Via's sent-by (`host[:port]`, lower-cased): with the branch and the method it
    /// identifies a server transaction (RFC 3261 §17.2.3).
    pub sent_by: String,
}

impl Request {
    pub fn method(&self) -> &Method {
        &self.raw.method
    }
}

/// A response with the fields the proxy matches on.
#[derive(Debug, Clone)]
pub struct Response {
    pub raw: rsip::Response,
    pub code: u16,
    pub call_id: String,
    pub cseq: u32,
    pub cseq_method: Method,
    pub branch: Option<String>,
}

#[derive(Debug)]
pub enum Parsed {
    Request(Request),
    Response(Response),
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Keep-alive, garbage, or nothing that could carry an answer: drop silently.
    Ignore,
    /// A request we can answer: send `answer` (a 400) if present.
    Bad { answer: Option<Vec<u8>> },
}

/// Parses and checks one message (a UDP datagram, or one message framed off a stream).
pub fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    if bytes.len() > MAX_MESSAGE || bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::Ignore); // keep-alive CRLFs (RFC 5626) and oversize
    }
    let raw = Raw::split(bytes)?;
    let normalised = if raw.is_response() {
        raw.check_response()?;
        raw.normalised()
    } else {
        raw.check_request()?;
        raw.normalised()
    };
    let msg = match rsip::SipMessage::try_from(normalised) {
        Ok(m) => m,
        Err(_) if raw.is_response() => return Err(ParseError::Ignore),
        Err(_) => return Err(raw.answer(400, "malformed header value", Vec::new())),
    };
    match msg {
        rsip::SipMessage::Request(r) => check_request(r).map(Parsed::Request),
        rsip::SipMessage::Response(r) => check_response(r).map(Parsed::Response),
    }
}

/// Compact header names (RFC 3261 §7.3.3, RFC 3515, RFC 3891…) and their long forms.
const COMPACT: &[(&str, &str)] = &[
    ("i", "Call-ID"),
    ("m", "Contact"),
    ("e", "Content-Encoding"),
    ("l", "Content-Length"),
    ("c", "Content-Type"),
    ("f", "From"),
    ("s", "Subject"),
    ("k", "Supported"),
    ("t", "To"),
    ("v", "Via"),
    ("o", "Event"),
    ("u", "Allow-Events"),
    ("r", "Refer-To"),
    ("b", "Referred-By"),
    ("x", "Session-Expires"),
];

/// Headers that may appear once only (RFC 3261 §7.3.1: not defined as comma-separated lists).
const SINGLE: &[&str] = &[
    "Call-ID",
    "CSeq",
    "From",
    "To",
    "Content-Length",
    "Max-Forwards",
    "Content-Type",
    "Expires",
];

/// URI schemes a Request-URI may have here.
const SCHEMES: &[&str] = &["sip", "sips", "tel"];

/// A message cut into start line, unfolded headers and body (as long as Content-Length says).
struct Raw<'a> {
    start: &'a str,
    /// (name, value): long names for compact ones, values trimmed and unfolded; Via values one
    /// per entry.
    headers: Vec<(String, String)>,
    body: &'a [u8],
    /// The body is shorter than Content-Length says.
    short_body: bool,
}

/// A reason to refuse while splitting, applied once the essentials are known.
type Refusal = (u16, &'static str);

impl<'a> Raw<'a> {
    fn split(bytes: &'a [u8]) -> Result<Raw<'a>, ParseError> {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or(ParseError::Ignore)?;
        let head = std::str::from_utf8(&bytes[..end]).map_err(|_| ParseError::Ignore)?;
        let rest = &bytes[end + 4..];
        let mut lines = head.split("\r\n");
        let start = lines.next().unwrap_or("");
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut broken = false;
        for line in lines {
            if line.contains(['\r', '\n']) {
                broken = true;
                continue;
            }
            if line.starts_with([' ', '\t']) {
                match headers.last_mut() {
                    Some((_, v)) => {
                        if !v.is_empty() {
                            v.push(' ');
                        }
                        v.push_str(line.trim());
                    }
                    None => broken = true,
                }
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                broken = true;
                continue;
            };
            let name = name.trim_end_matches([' ', '\t']);
            if name.is_empty() || !name.bytes().all(is_token) {
                broken = true;
                continue;
            }
            let name = COMPACT
                .iter()
                .find(|(c, _)| c.eq_ignore_ascii_case(name))
                .map_or(name, |(_, long)| long);
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        // One Via value per entry (the proxy adds and removes them one by one).
        let mut split = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("Via") {
                for v in split_commas(&value) {
                    split.push((name.clone(), tidy_via(v)));
                }
            } else {
                split.push((name, value));
            }
        }
        let mut raw = Raw {
            start,
            headers: split,
            body: rest,
            short_body: false,
        };
        if broken {
            // Answerable if the essentials are there; otherwise dropped.
            return Err(raw.answer(400, "malformed header line", Vec::new()));
        }
        // The body is as long as Content-Length says (datagrams may carry more, RFC 3261
        // §18.3); without one, it is the rest of the datagram.
        if let Some(cl) = raw.one("Content-Length") {
            match parse_number(cl, u32::MAX as u64) {
                Some(n) if (n as usize) <= rest.len() => raw.body = &rest[..n as usize],
                Some(_) => raw.short_body = true,
                None => {}
            }
        }
        Ok(raw)
    }

    fn is_response(&self) -> bool {
        self.start.starts_with("SIP/")
    }

    fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn one<'s>(&'s self, name: &'s str) -> Option<&'s str> {
        self.all(name).next()
    }

    /// The five headers a response is built from are present (repeats are refused later).
    fn essentials_ok(&self) -> bool {
        ["Via", "From", "To", "Call-ID", "CSeq"]
            .iter()
            .all(|h| self.one(h).is_some())
    }

    /// Checks shared by requests and responses; `Err` carries what to answer to a request.
    fn common_checks(&self) -> Result<(), Refusal> {
        for h in SINGLE {
            if self.all(h).count() > 1 {
                return Err((400, "a single-valued header is repeated"));
            }
        }
        let cseq = self.one("CSeq").unwrap_or("");
        let (num, _) = cseq.split_once([' ', '\t']).unwrap_or((cseq, ""));
        if parse_number(num, (1 << 31) - 1).is_none() {
            return Err((400, "CSeq number is not a number below 2^31"));
        }
        if let Some(cl) = self.one("Content-Length") {
            if parse_number(cl, u32::MAX as u64).is_none() {
                return Err((400, "Content-Length is not a number"));
            }
        }
        if self.short_body {
            return Err((400, "body shorter than Content-Length"));
        }
        for v in self.all("Via") {
            if !via_ok(v) {
                return Err((400, "malformed Via"));
            }
        }
        for h in ["From", "To"] {
            if let Some(v) = self.one(h) {
                if !name_addr_ok(v) {
                    return Err((400, "malformed From or To"));
                }
            }
        }
        for h in ["Contact", "Route", "Record-Route"] {
            for v in self.all(h) {
                for item in split_commas(v) {
                    if !(name_addr_ok(item) || (h == "Contact" && item.trim() == "*")) {
                        return Err((400, "malformed Contact or Route"));
                    }
                }
            }
        }
        Ok(())
    }

    fn check_response(&self) -> Result<(), ParseError> {
        let mut parts = self.start.splitn(3, ' ');
        let (version, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let code_ok = code.len() == 3
            && code.bytes().all(|b| b.is_ascii_digit())
            && (b'1'..=b'6').contains(&code.as_bytes()[0]);
        if !version.eq_ignore_ascii_case("SIP/2.0")
            || !code_ok
            || !self.essentials_ok()
            || self.common_checks().is_err()
        {
            return Err(ParseError::Ignore); // a bad response is dropped (RFC 3261 §18.1.2)
        }
        Ok(())
    }

    fn check_request(&self) -> Result<(), ParseError> {
        let parts: Vec<&str> = self.start.split(' ').collect();
        if !self.essentials_ok() {
            return Err(ParseError::Ignore); // nothing to build an answer from
        }
        let cseq_method = self
            .one("CSeq")
            .and_then(|c| c.split_whitespace().nth(1))
            .unwrap_or("");
        let refuse = |(code, why): Refusal| Err(self.answer(code, why, Vec::new()));
        let [method, uri, version] = parts[..] else {
            return refuse((400, "malformed request line"));
        };
        if method.is_empty() || uri.is_empty() || !method.bytes().all(is_token) {
            return refuse((400, "malformed request line"));
        }
        if !version.eq_ignore_ascii_case("SIP/2.0") {
            return refuse((505, "only SIP/2.0"));
        }
        if uri.contains(['<', '>', '"']) {
            return refuse((400, "malformed Request-URI"));
        }
        let scheme = uri.split_once(':').map(|(s, _)| s).unwrap_or("");
        if !SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
            return refuse((416, "Request-URI scheme"));
        }
        // `?` may appear in the user part; after it, it starts URI headers (not allowed here).
        let host_part = uri.rsplit_once('@').map_or(uri, |(_, h)| h);
        if host_part.contains('?') && !scheme.eq_ignore_ascii_case("tel") {
            return refuse((400, "headers in the Request-URI"));
        }
        self.common_checks().or_else(refuse)?;
        if cseq_method != method {
            return refuse((400, "CSeq method does not match"));
        }
        if let Some(mf) = self.one("Max-Forwards") {
            if parse_number(mf, 255).is_none() {
                return refuse((400, "Max-Forwards is not a number up to 255"));
            }
        }
        if let Some(e) = self.one("Expires") {
            if parse_number(e, u32::MAX as u64).is_none() {
                return refuse((400, "Expires is not a number below 2^32"));
            }
        }
        if method == "REGISTER" {
            let to = self.one("To").unwrap_or("");
            let to_scheme = addr_uri(to).split_once(':').map(|(s, _)| s).unwrap_or("");
            if !["sip", "sips"]
                .iter()
                .any(|s| s.eq_ignore_ascii_case(to_scheme))
            {
                return refuse((416, "To URI scheme"));
            }
        }
        if method != "CANCEL" {
            let unsupported: Vec<&str> = self
                .all("Proxy-Require")
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect();
            if !unsupported.is_empty() {
                let extra = vec![format!("Unsupported: {}", unsupported.join(", "))];
                return Err(self.answer(420, "Proxy-Require", extra));
            }
        }
        if !rsip::Method::all().iter().any(|m| m.to_string() == method) {
            let extra = vec![format!("Allow: {ALLOW}")];
            return Err(self.answer(501, "unknown method", extra));
        }
        Ok(())
    }

    /// The message rebuilt in the form rsip reads: one header per line as `Name: value`, the
    /// body cut to Content-Length.
    fn normalised(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(self.start.len() + self.body.len() + 64 * self.headers.len());
        match self.start.split(' ').collect::<Vec<_>>()[..] {
            [method, uri, version] if !self.is_response() => {
                out.extend_from_slice(format!("{method} {} {version}", rsip_uri(uri)).as_bytes())
            }
            _ => out.extend_from_slice(self.start.as_bytes()),
        }
        out.extend_from_slice(b"\r\n");
        for (n, v) in &self.headers {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.body);
        out
    }

    /// A response to this request built from its raw headers (for requests rsip cannot or
    /// must not read): dropped instead when the essentials are missing or it is an ACK.
    fn answer(&self, code: u16, why: &str, extra: Vec<String>) -> ParseError {
        let ack = self.start.starts_with("ACK ")
            || self
                .one("CSeq")
                .is_some_and(|c| c.split_whitespace().nth(1) == Some("ACK"));
        if self.is_response() || !self.essentials_ok() || ack {
            return ParseError::Ignore;
        }
        let mut out = format!("SIP/2.0 {code} {}\r\n", reason(code));
        let call_id = self.one("Call-ID").unwrap_or("");
        for v in self.all("Via") {
            out.push_str(&format!("Via: {v}\r\n"));
        }
        for h in ["From", "To", "Call-ID", "CSeq"] {
            if let Some(v) = self.one(h) {
                let v = if h == "To" && code > 100 {
                    with_tag(v, call_id)
                } else {
                    v.to_owned()
                };
                out.push_str(&format!("{h}: {v}\r\n"));
            }
        }
        for e in extra {
            out.push_str(&e);
            out.push_str("\r\n");
        }
        out.push_str(&format!("Warning: 399 gatehouse \"{why}\"\r\n"));
        out.push_str("Server: Gatehouse\r\nContent-Length: 0\r\n\r\n");
        ParseError::Bad {
            answer: Some(out.into_bytes()),
        }
    }
}

/// The Request-URI as rsip reads it: `;` and `?` in the user part (allowed there, RFC 3261
/// §25.1 `user-unreserved`, but beyond rsip's tokenizer) are escaped.
fn rsip_uri(uri: &str) -> std::borrow::Cow<'_, str> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return uri.into();
    };
    match rest.rsplit_once('@') {
        Some((user, host)) if user.contains([';', '?']) => {
            let user = user.replace(';', "%3B").replace('?', "%3F");
            format!("{scheme}:{user}@{host}").into()
        }
        _ => uri.into(),
    }
}

/// RFC 3261 token characters.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// A decimal number (leading zeros allowed) not above `max`.
fn parse_number(s: &str, max: u64) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = s.trim_start_matches('0');
    if digits.len() > 19 {
        return None;
    }
    let n: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    (n <= max).then_some(n)
}

/// Splits at commas outside quotes and `<…>`.
fn split_commas(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut escaped, mut from) = (false, false, false, 0);
    for (i, c) in v.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(v[from..i].trim());
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(v[from..].trim());
    out
}

/// A Via value with the LWS RFC 3261 allows around `/`, `;` and `=` taken out
/// (`SIP / 2.0 / UDP host ; branch = x` → `SIP/2.0/UDP host;branch=x`).
fn tidy_via(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut pending_space = false;
    let mut quoted = false;
    for c in v.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if !quoted && (c == ' ' || c == '\t') {
            pending_space = true;
            continue;
        }
        if pending_space && !matches!(c, '/' | ';' | '=') && !out.ends_with(['/', ';', '=']) {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    out
}

/// A Via value: `SIP/2.0/TRANSPORT host[:port]` and well-formed parameters.
fn via_ok(v: &str) -> bool {
    let mut segs = v.split(';');
    let sent = segs.next().unwrap_or("");
    let Some((proto, host)) = sent.split_once(' ') else {
        return false;
    };
    let p: Vec<&str> = proto.split('/').collect();
    if p.len() != 3 || p.iter().any(|x| x.is_empty() || !x.bytes().all(is_token)) {
        return false;
    }
    let host = host.trim();
    if host.is_empty() || host.contains([' ', ',', '<', '>', '"']) {
        return false;
    }
    segs.all(|s| {
        let (k, _) = s.split_once('=').unwrap_or((s, ""));
        !k.trim().is_empty() && k.trim().bytes().all(is_token)
    })
}

/// The URI of a name-addr or addr-spec value.
fn addr_uri(v: &str) -> &str {
    match (v.find('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.split(';').next().unwrap_or("").trim(),
    }
}

/// A From/To/Contact/Route value (RFC 3261 §20.10): an optional display name (tokens or one
/// quoted string) and a URI in `<…>` without spaces, or a bare addr-spec without `?`, `,` or
/// spaces; then `;` parameters that are not empty.
fn name_addr_ok(v: &str) -> bool {
    let v = v.trim();
    let (params, uri_ok) = match v.find('<') {
        Some(lt) => {
            let display = v[..lt].trim();
            let display_ok = if let Some(inner) = display.strip_prefix('"') {
                // a quoted string ending right before the `<`, with escapes
                let mut escaped = false;
                let mut closed_at = None;
                for (i, c) in inner.char_indices() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        closed_at = Some(i);
                        break;
                    }
                }
                closed_at.is_some_and(|i| inner[i + 1..].trim().is_empty())
            } else {
                display.split([' ', '\t']).all(|t| t.bytes().all(is_token))
            };
            let Some(gt) = v[lt..].find('>').map(|i| lt + i) else {
                return false;
            };
            let uri = &v[lt + 1..gt];
            (
                &v[gt + 1..],
                display_ok
                    && !uri.is_empty()
                    && uri.contains(':')
                    && !uri.contains([' ', '\t', '<', '"']),
            )
        }
        None => {
            let (uri, params) = v.split_once(';').unwrap_or((v, ""));
            let uri = uri.trim();
            (
                if params.is_empty() {
                    ""
                } else {
                    &v[uri.len()..]
                },
                uri.contains(':') && !uri.contains([' ', '\t', '?', ',', '>', '"']),
            )
        }
    };
    let params = params.trim();
    let params_ok = params.is_empty()
        || params.strip_prefix(';').is_some_and(|p| {
            p.split(';').all(|s| {
                let (k, _) = s.split_once('=').unwrap_or((s, ""));
                !k.trim().is_empty() && k.trim().bytes().all(is_token)
            })
        });
    uri_ok && params_ok
}

struct Essentials {
    call_id: String,
    cseq: u32,
    cseq_method: Method,
    from_tag: Option<String>,
    to_tag: Option<String>,
    branch: Option<String>,
    sent_by: String,
}

fn essentials(headers: &rsip::Headers) -> Option<Essentials> {
    let (mut via, mut to, mut from, mut call_id, mut cseq) = (None, None, None, None, None);
    for h in headers.iter() {
        match h {
            Header::Via(v) if via.is_none() => via = Some(v),
            Header::To(t) if to.is_none() => to = Some(t),
            Header::From(f) if from.is_none() => from = Some(f),
            Header::CallId(c) if call_id.is_none() => call_id = Some(c),
            Header::CSeq(c) if cseq.is_none() => cseq = Some(c),
            _ => {}
        }
    }
    let (via, to, from, call_id, cseq) = (via?, to?, from?, call_id?, cseq?);
    let cseq = cseq.typed().ok()?;
    Some(Essentials {
        call_id: call_id.value().trim().to_owned(),
        cseq: cseq.seq,
        cseq_method: cseq.method,
        from_tag: param(from.value(), "tag"),
        to_tag: param(to.value(), "tag"),
        branch: param(via.value(), "branch"),
        sent_by: via
            .value()
            .split(';')
            .next()
            .and_then(|p| p.split_whitespace().nth(1))
            .unwrap_or("")
            .to_ascii_lowercase(),
    })
}

/// The value of `;name=value` among the parameters of a header value (outside `<…>`).
pub fn param(value: &str, name: &str) -> Option<String> {
    let tail = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    tail.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

fn check_request(raw: rsip::Request) -> Result<Request, ParseError> {
    let e = essentials(&raw.headers).ok_or(ParseError::Ignore)?;
    if e.cseq_method != raw.method {
        return Err(bad(&raw, 400, "CSeq method does not match"));
    }
    Ok(Request {
        call_id: e.call_id,
        cseq: e.cseq,
        from_tag: e.from_tag,
        to_tag: e.to_tag,
        branch: e.branch,
        sent_by: e.sent_by,
        raw,
    })
}

fn check_response(raw: rsip::Response) -> Result<Response, ParseError> {
    let e = essentials(&raw.headers).ok_or(ParseError::Ignore)?;
    Ok(Response {
        code: raw.status_code.code(),
        call_id: e.call_id,
        cseq: e.cseq,
        cseq_method: e.cseq_method,
        branch: e.branch,
        raw,
    })
}

fn bad(req: &rsip::Request, code: u16, _why: &str) -> ParseError {
    if req.method == Method::Ack {
        return ParseError::Ignore;
    }
    // The answer goes back by the top Via; without a peer here the caller fills `received`.
    ParseError::Bad {
        answer: Some(
            build_response(req, None, code, Vec::new(), Vec::new(), "Gatehouse").into_bytes(),
        ),
    }
}

/// Whether a request is for the box itself rather than for a device (OPTIONS keep-alive and
/// probes outside a dialog).
pub fn is_for_us(req: &Request) -> bool {
    req.to_tag.is_none()
}

/// `200 OK` to an OPTIONS probe.
pub fn options_ok(req: &Request, peer: Peer, server: &str) -> Vec<u8> {
    build_response(
        &req.raw,
        Some(peer),
        200,
        vec![
            Header::Allow(ALLOW.into()),
            Header::Accept("application/sdp".into()),
            Header::Other("Accept-Encoding".into(), "identity".into()),
            Header::Other("Accept-Language".into(), "en".into()),
        ],
        Vec::new(),
        server,
    )
    .into_bytes()
}

/// The methods Gatehouse handles.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, INFO, UPDATE, REFER, NOTIFY, SUBSCRIBE, PRACK";

/// A response to `req` (RFC 3261 §8.2.6): its Vias (the top one stamped with `received` and
/// `rport` from `peer`, RFC 3581), From, To (with a tag added when missing, except for 100),
/// Call-ID and CSeq, then `extra`, Server and Content-Length.
pub fn build_response(
    req: &rsip::Request,
    peer: Option<Peer>,
    code: u16,
    extra: Vec<Header>,
    body: Vec<u8>,
    server: &str,
) -> String {
    let mut headers: Vec<Header> = Vec::new();
    let mut first_via = true;
    let mut call_id = String::new();
    for h in req.headers.iter() {
        match h {
            Header::Via(v) if first_via => {
                first_via = false;
                let value = match peer {
                    Some(p) => stamp_via(v.value(), p),
                    None => v.value().to_owned(),
                };
                headers.push(Header::Via(value.into()));
            }
            Header::Via(v) => headers.push(Header::Via(v.clone())),
            Header::CallId(c) => {
                call_id = c.value().to_owned();
                headers.push(Header::CallId(c.clone()));
            }
            _ => {}
        }
    }
    for h in req.headers.iter() {
        match h {
            Header::From(f) => headers.push(Header::From(f.clone())),
            Header::To(t) if code > 100 => {
                headers.push(Header::To(with_tag(t.value(), &call_id).into()))
            }
            Header::To(t) => headers.push(Header::To(t.clone())),
            Header::CSeq(c) => headers.push(Header::CSeq(c.clone())),
            _ => {}
        }
    }
    headers.extend(extra);
    headers.push(Header::Server(server.to_owned().into()));
    headers.push(Header::ContentLength((body.len() as u32).into()));
    let resp = rsip::Response {
        status_code: code.into(),
        version: rsip::Version::V2,
        headers: headers.into(),
        body,
    };
    with_reason(resp.to_string(), code)
}

/// Replaces rsip's status line (it writes reason phrases without spaces, `IntervalTooBrief`)
/// with the RFC 3261 §21 phrase.
pub fn with_reason(text: String, code: u16) -> String {
    match text.find("\r\n") {
        Some(i) => format!("SIP/2.0 {code} {}{}", reason(code), &text[i..]),
        None => text,
    }
}

/// The reason phrase of a status code (RFC 3261 §21 and later RFCs).
pub fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        c if c < 200 => "Session Progress",
        c if c < 300 => "OK",
        c if c < 400 => "Redirection",
        c if c < 500 => "Client Error",
        c if c < 600 => "Server Error",
        _ => "Global Failure",
    }
}

/// Adds `received` and fills `rport` (RFC 3581) on the top Via value.
pub fn stamp_via(value: &str, peer: Peer) -> String {
    let from = peer.addr;
    let mut parts = value.split(';').map(str::trim);
    let sent = parts.next().unwrap_or("");
    let mut out = sent.to_owned();
    let mut has_received = false;
    for p in parts {
        let name = p
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "rport" => out.push_str(&format!(";rport={}", from.port())),
            "received" => {
                has_received = true;
                out.push_str(&format!(";received={}", from.ip()));
            }
            _ => {
                out.push(';');
                out.push_str(p);
            }
        }
    }
    if !has_received {
        out.push_str(&format!(";received={}", from.ip()));
    }
    out
}

/// The To value with a tag, added when the request had none (RFC 3261 §8.2.6.2). The tag is
/// derived from the Call-ID so retransmissions get the same answer.
pub fn with_tag(to: &str, call_id: &str) -> String {
    if param(to, "tag").is_some() {
        to.to_owned()
    } else {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(call_id.as_bytes());
        format!("{to};tag={}", hex::encode(&d[..6]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:gatehouse@10.0.2.15 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.2.2:5070;branch=z9hG4bK-1-0;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:probe@10.0.2.2:5070>;tag=abc\r\n\
To: <sip:gatehouse@10.0.2.15>\r\n\
Call-ID: 1-probe@10.0.2.2\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn options_parses_with_its_fields() {
        let Ok(Parsed::Request(r)) = parse(OPTIONS.as_bytes()) else {
            panic!("not parsed")
        };
        assert_eq!(r.call_id, "1-probe@10.0.2.2");
        assert_eq!(r.cseq, 1);
        assert_eq!(r.from_tag.as_deref(), Some("abc"));
        assert_eq!(r.to_tag, None);
        assert_eq!(r.branch.as_deref(), Some("z9hG4bK-1-0"));
        let peer = Peer {
            transport: super::super::core::Transport::Udp,
            addr: "192.168.1.50:40000".parse().unwrap(),
        };
        let a = String::from_utf8(options_ok(&r, peer, "G")).unwrap();
        assert!(a.starts_with("SIP/2.0 200 OK\r\n"), "{a}");
        assert!(a.contains("Via: SIP/2.0/UDP 10.0.2.2:5070;branch=z9hG4bK-1-0;rport=40000;received=192.168.1.50\r\n"), "{a}");
        assert!(a.contains("To: <sip:gatehouse@10.0.2.15>;tag="), "{a}");
    }

    #[test]
    fn garbage_and_broken_requests() {
        assert_eq!(parse(b"\r\n\r\n").err(), Some(ParseError::Ignore));
        assert_eq!(parse(b"hello").err(), Some(ParseError::Ignore));
        assert!(parse(OPTIONS.replace("CSeq: 1 OPTIONS\r\n", "").as_bytes()).is_err());
        assert!(matches!(
            parse(OPTIONS.replace("1 OPTIONS", "1 INVITE").as_bytes()),
            Err(ParseError::Bad { .. })
        ));
        for n in 0..OPTIONS.len() {
            let _ = parse(&OPTIONS.as_bytes()[..n]);
        }
    }

    /// Every RFC 4475 fixture through `parse`: what the server does with it (the running server
    /// is checked by `tests/sip_torture.rs`, which documents each message).
    #[test]
    fn rfc4475_torture_messages() {
        use std::collections::HashMap;
        // Some(code): answered with that code here; None: passed on (request or response);
        // Some(0): dropped.
        let expect: HashMap<&str, Option<u16>> = [
            ("3.1.1.1", None),
            ("3.1.1.2", Some(501)),
            ("3.1.1.3", None),
            ("3.1.1.4", None),
            ("3.1.1.5", Some(501)),
            ("3.1.1.6", None),
            ("3.1.1.7", None),
            ("3.1.1.8", None),
            ("3.1.1.9", None),
            ("3.1.1.10", None),
            ("3.1.1.11", None),
            ("3.1.1.12", None),
            ("3.1.1.13", None),
            ("3.1.2.1", Some(400)),
            ("3.1.2.2", Some(400)),
            ("3.1.2.3", Some(400)),
            ("3.1.2.4", Some(400)),
            ("3.1.2.5", Some(0)),
            ("3.1.2.6", Some(400)),
            ("3.1.2.7", Some(400)),
            ("3.1.2.8", Some(400)),
            ("3.1.2.9", Some(400)),
            ("3.1.2.10", Some(400)),
            ("3.1.2.11", Some(400)),
            ("3.1.2.12", None),
            ("3.1.2.13", Some(400)),
            ("3.1.2.14", Some(400)),
            ("3.1.2.15", Some(400)),
            ("3.1.2.16", Some(505)),
            ("3.1.2.17", Some(400)),
            ("3.1.2.18", Some(400)),
            ("3.1.2.19", Some(0)),
            ("3.2.1", None),
            ("3.3.1", Some(0)),
            ("3.3.2", Some(416)),
            ("3.3.3", Some(416)),
            ("3.3.4", Some(416)),
            ("3.3.5", Some(420)),
            ("3.3.6", None),
            ("3.3.7", None),
            ("3.3.8", Some(400)),
            ("3.3.9", Some(400)),
            ("3.3.10", None),
            ("3.3.11", None),
            ("3.3.12", None),
            ("3.3.13", None),
            ("3.3.14", None),
            ("3.3.15", None),
            ("3.4.1", None),
        ]
        .into_iter()
        .collect();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sip/torture");
        let mut seen = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let Some(section) = name.split('-').next().filter(|_| name.ends_with(".dat")) else {
                continue;
            };
            let want = expect[section];
            let bytes = std::fs::read(&path).unwrap();
            let got = match parse(&bytes) {
                Ok(_) => None,
                Err(ParseError::Ignore) => Some(0),
                Err(ParseError::Bad { answer: Some(a) }) => {
                    let a = String::from_utf8(a).unwrap();
                    // the answer echoes Via, From, To, Call-ID and CSeq as received (RFC 3261
                    // §8.2.6.2), malformed or not, and is framed
                    assert!(
                        a.starts_with("SIP/2.0 ") && a.ends_with("\r\n\r\n"),
                        "{name}"
                    );
                    assert!(a.contains("\r\nCall-ID: ") && a.contains("\r\nContent-Length: 0\r\n"));
                    a[8..11].parse().ok()
                }
                Err(ParseError::Bad { answer: None }) => Some(0),
            };
            assert_eq!(got, want, "{name}");
            seen += 1;
        }
        assert_eq!(seen, expect.len());
    }

    #[test]
    fn folded_compact_and_spaced_headers_are_normalised() {
        let Ok(Parsed::Request(r)) = parse(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/sip/torture/3.1.1.1-wsinv.dat"
            ))
            .unwrap(),
        ) else {
            panic!("wsinv not parsed")
        };
        assert_eq!(r.call_id, "wsinv.ndaksdj@192.0.2.1");
        assert_eq!(r.cseq, 9);
        assert_eq!(r.branch.as_deref(), Some("390skdjuw"));
        assert_eq!(r.from_tag.as_deref(), Some("98asjd8"));
        assert_eq!(r.raw.body.len(), 150);
        let vias: Vec<String> = r
            .raw
            .headers
            .iter()
            .filter_map(|h| match h {
                Header::Via(v) => Some(v.value().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(
            vias,
            [
                "SIP/2.0/UDP 192.0.2.2;branch=390skdjuw",
                "SIP/2.0/TCP spindle.example.com;branch=z9hG4bK9ikj8",
                "SIP/2.0/UDP 192.168.255.111;branch=z9hG4bK30239"
            ]
        );
        // dblreq: the body ends at Content-Length, the trailing INVITE is not part of it
        let Ok(Parsed::Request(r)) = parse(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/sip/torture/3.1.1.8-dblreq.dat"
            ))
            .unwrap(),
        ) else {
            panic!("dblreq not parsed")
        };
        assert_eq!(*r.method(), Method::Register);
        assert!(r.raw.body.is_empty());
    }
}
