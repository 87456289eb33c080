//! HTTP digest authentication of SIP requests (RFC 3261 §22, RFC 7616 as RFC 8760 applies it to
//! SIP): challenges offer the algorithms of `--sip-digest-algorithms` in its order (default MD5
//! then SHA-256), each with `qop="auth"`, and an answer in any of them is accepted. MD5 leads by
//! default because the intercom devices and many SIP stacks (SIPp 3.6 among them) answer only
//! the first challenge and know only MD5; a client that prefers SHA-256 picks the second. Some
//! stacks (baresip 1.0) give up at an algorithm they do not know: `md5` alone serves them. A nonce carries its
//! issue time and an HMAC-SHA-256 of that time under the per-store secret, so it is bound to this
//! server and needs no memory until used; it is good for [`NONCE_LIFETIME_MS`], after which a
//! correct answer gets a fresh challenge with `stale=true`. Each nonce's highest nonce-count is
//! remembered (bounded), so a replayed `nc` fails. A known and an unknown user name cost the same
//! and get the same answer, so nothing can be enumerated. Pure: the caller passes the time and
//! the directory. Owns the nonce-count memory only; knows nothing of sockets or the store.

use std::collections::HashMap;
use std::sync::Arc;

use md5::Md5;
use rsip::headers::UntypedHeader;
use rsip::Header;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::core::{CoreConfig, Millis};
use super::directory::{Directory, User};
use super::message::Request;

/// How long a nonce is accepted.
pub const NONCE_LIFETIME_MS: u64 = 5 * 60 * 1000;
/// Most nonces whose count is remembered; the oldest are forgotten first (a forgotten nonce
/// then fails as stale, which only costs the device one more round trip).
pub const MAX_TRACKED_NONCES: usize = 50_000;

/// What a request's credentials are worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are right: the request comes from this device.
    Ok(Arc<User>),
    /// No (usable) credentials, or a stale nonce: answer with a challenge.
    Challenge { stale: bool },
    /// Credentials that are wrong (bad password, unknown user, replayed count, foreign nonce):
    /// answer 403 and count a failure against the source.
    Forbidden,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    fn hash(self, parts: &[&[u8]]) -> String {
        fn run<D: Digest>(parts: &[&[u8]]) -> String {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            hex::encode(d.finalize())
        }
        match self {
            Algorithm::Md5 => run::<Md5>(parts),
            Algorithm::Sha256 => run::<Sha256>(parts),
        }
    }
}

pub struct Auth {
    realm: String,
    serial: std::cell::Cell<u16>,
    algorithms: Vec<&'static str>,
    key: ring::hmac::Key,
    /// nonce → highest nc seen, and when the nonce was issued (for cleaning).
    /// (keyed by the nonce's first 128 bits: time, serial and part of the HMAC — unique per
    /// nonce this server issued, and 16 bytes instead of a string).
    counts: HashMap<u128, (u32, Millis)>,
    /// Nonces issued at or before this time whose counts were forgotten to stay bounded: they
    /// are answered stale, never taken as new (which would open a replay).
    floor: Millis,
}

/// The parameters of one `Digest` credentials value.
#[derive(Debug, Default)]
struct Credentials {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    response: String,
    algorithm: Option<String>,
    cnonce: Option<String>,
    nc: Option<String>,
    qop: Option<String>,
}

impl Auth {
    pub fn new(cfg: &CoreConfig) -> Auth {
        Auth {
            realm: cfg.realm.clone(),
            serial: std::cell::Cell::new(0),
            algorithms: if cfg.digest_algorithms.is_empty() {
                vec!["MD5", "SHA-256"]
            } else {
                cfg.digest_algorithms.clone()
            },
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &cfg.secret),
            counts: HashMap::new(),
            floor: 0,
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// A fresh nonce for `now`: 12 hex digits of time and 4 of a serial (so two challenges in
    /// the same millisecond differ: one device's count must not look like another's replay),
    /// then 32 of HMAC over both.
    pub fn nonce(&self, now: Millis) -> String {
        let serial = self.serial.get();
        self.serial.set(serial.wrapping_add(1));
        let ts = format!("{:012x}{serial:04x}", now & 0xffff_ffff_ffff);
        let tag = ring::hmac::sign(&self.key, ts.as_bytes());
        format!("{ts}{}", hex::encode(&tag.as_ref()[..16]))
    }

    /// The issue time of a nonce this server made, or `None` for a foreign or forged one.
    fn nonce_time(&self, nonce: &str) -> Option<Millis> {
        if nonce.len() != 48 || !nonce.is_ascii() {
            return None;
        }
        let (ts, tag) = nonce.split_at(16);
        let tag = hex::decode(tag).ok()?;
        let expect = ring::hmac::sign(&self.key, ts.as_bytes());
        if bool::from(expect.as_ref()[..16].ct_eq(&tag)) {
            u64::from_str_radix(&ts[..12], 16).ok()
        } else {
            None
        }
    }

    /// The challenge headers (`WWW-Authenticate` for a registrar, `Proxy-Authenticate` for a
    /// proxy): MD5 then SHA-256 (see the module text for the order), the same nonce for both.
    pub fn challenge_headers(&self, now: Millis, proxy: bool, stale: bool) -> Vec<Header> {
        let nonce = self.nonce(now);
        let stale = if stale { ", stale=true" } else { "" };
        self.algorithms
            .iter()
            .map(|alg| {
                let v = format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={alg}, qop=\"auth\"{stale}",
                    self.realm
                );
                if proxy {
                    Header::ProxyAuthenticate(v.into())
                } else {
                    Header::WwwAuthenticate(v.into())
                }
            })
            .collect()
    }

    /// Checks the `Authorization` (registrar) or `Proxy-Authorization` (proxy) credentials of
    /// `req` for our realm.
    pub fn check(&mut self, now: Millis, req: &Request, dir: &Directory, proxy: bool) -> Verdict {
        let creds = req.raw.headers.iter().find_map(|h| {
            let v = match (h, proxy) {
                (Header::Authorization(a), false) => a.value(),
                (Header::ProxyAuthorization(a), true) => a.value(),
                _ => return None,
            };
            parse_credentials(v).filter(|c| c.realm == self.realm)
        });
        let Some(c) = creds else {
            return Verdict::Challenge { stale: false };
        };
        let alg = match c
            .algorithm
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("MD5") => Algorithm::Md5,
            Some("SHA-256") => Algorithm::Sha256,
            _ => return Verdict::Challenge { stale: false },
        };
        // qop=auth is required (RFC 8760 §2.2 deprecates the RFC 2069 form).
        let (Some(qop), Some(nc), Some(cnonce)) = (&c.qop, &c.nc, &c.cnonce) else {
            return Verdict::Challenge { stale: false };
        };
        if !qop.eq_ignore_ascii_case("auth") {
            return Verdict::Challenge { stale: false };
        }
        let Some(issued) = self.nonce_time(&c.nonce) else {
            return Verdict::Forbidden;
        };
        let Ok(nc_value) = u32::from_str_radix(nc, 16) else {
            return Verdict::Forbidden;
        };
        // The user: the number with `#` escaped as `%23`, the number itself, or its alias. An
        // unknown name is checked against a decoy password so both cost the same.
        let name = unescape(&c.username);
        let user = dir.user_by_name(&name).cloned();
        let password = user
            .as_ref()
            .map(|u| u.password.as_str())
            .unwrap_or("\u{1}decoy");
        let ha1 = alg.hash(&[
            c.username.as_bytes(),
            c.realm.as_bytes(),
            password.as_bytes(),
        ]);
        let ha2 = alg.hash(&[req.method().to_string().as_bytes(), c.uri.as_bytes()]);
        let expect = alg.hash(&[
            ha1.as_bytes(),
            c.nonce.as_bytes(),
            nc.as_bytes(),
            cnonce.as_bytes(),
            qop.as_bytes(),
            ha2.as_bytes(),
        ]);
        let right = bool::from(
            expect
                .as_bytes()
                .ct_eq(c.response.to_ascii_lowercase().as_bytes()),
        );
        let Some(user) = user.filter(|_| right) else {
            return Verdict::Forbidden;
        };
        if now.saturating_sub(issued) > NONCE_LIFETIME_MS || issued > now + 60_000 {
            return Verdict::Challenge { stale: true };
        }
        // Replay: each nonce's count must grow.
        let Some(id) = c
            .nonce
            .get(..32)
            .and_then(|h| u128::from_str_radix(h, 16).ok())
        else {
            return Verdict::Forbidden;
        };
        match self.counts.get_mut(&id) {
            Some((last, _)) if nc_value <= *last => return Verdict::Forbidden,
            Some((last, _)) => *last = nc_value,
            None if issued <= self.floor => return Verdict::Challenge { stale: true },
            None => {
                if self.counts.len() >= MAX_TRACKED_NONCES {
                    self.forget_oldest();
                }
                self.counts.insert(id, (nc_value, issued));
            }
        }
        Verdict::Ok(user)
    }

    fn forget_oldest(&mut self) {
        let mut times: Vec<Millis> = self.counts.values().map(|(_, t)| *t).collect();
        times.sort_unstable();
        let cut = times.get(times.len() / 4).copied().unwrap_or(0);
        self.counts.retain(|_, (_, t)| *t > cut);
        self.floor = self.floor.max(cut);
    }

    /// Forgets the counts of nonces that can no longer be used.
    pub fn on_tick(&mut self, now: Millis) {
        self.counts
            .retain(|_, (_, t)| now.saturating_sub(*t) <= NONCE_LIFETIME_MS);
    }
}

/// `%23` → `#` (and any other `%XX` escape) in a user name.
pub fn unescape(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `Digest k="v", k=v, …`; `None` if it is not a Digest value.
fn parse_credentials(v: &str) -> Option<Credentials> {
    let v = v.trim();
    let (scheme, rest) = v.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let mut c = Credentials::default();
    for (k, val) in params(rest) {
        match k.to_ascii_lowercase().as_str() {
            "username" => c.username = val,
            "realm" => c.realm = val,
            "nonce" => c.nonce = val,
            "uri" => c.uri = val,
            "response" => c.response = val,
            "algorithm" => c.algorithm = Some(val),
            "cnonce" => c.cnonce = Some(val),
            "nc" => c.nc = Some(val),
            "qop" => c.qop = Some(val),
            _ => {}
        }
    }
    Some(c)
}

/// Splits `k="v, with comma", k2=v2` into pairs, honouring quotes and `\` escapes.
fn params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() && chars.peek().is_none() {
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while matches!(chars.peek(), Some(c) if c.is_whitespace()) {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                val.push(n);
                            }
                        }
                        '"' => break,
                        c => val.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    val.push(c);
                    chars.next();
                }
            }
        }
        if key.trim().is_empty() {
            if chars.peek().is_none() {
                break;
            }
            chars.next();
            continue;
        }
        out.push((key.trim().to_owned(), val.trim().to_owned()));
        if out.len() > 32 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intercom::registrations::digits_alias;
    use crate::intercom::ringing::DeviceKind;
    use crate::sip::message::{parse, Parsed};

    fn cfg() -> CoreConfig {
        let a = "127.0.0.1:5060".parse().unwrap();
        CoreConfig {
            realm: "gatehouse".into(),
            udp_addr: a,
            tcp_addr: a,
            tls_addr: a,
            keepalive_interval_ms: 60_000,
            ban_threshold: 5,
            ban_duration_ms: 60_000,
            rate_limit: 100,
            min_expires: 60,
            max_expires: 3600,
            server: "G".into(),
            secret: [3; 32],
            digest_algorithms: vec!["MD5", "SHA-256"],
        }
    }

    fn dir() -> Directory {
        let u = User {
            device: 7,
            name: "VTH".into(),
            number: "11#01#11#5".into(),
            alias: digits_alias("11#01#11#5"),
            kind: DeviceKind::Vth,
            building: None,
            unit: None,
            room: None,
            password: "s3cret".into(),
        };
        Directory::build(vec![u], vec![], Default::default(), "888888".into())
    }

    fn register(auth_line: &str) -> Request {
        let text = format!(
            "REGISTER sip:gatehouse SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1\r\n\
From: <sip:11%2301%2311%235@gatehouse>;tag=a\r\nTo: <sip:11%2301%2311%235@gatehouse>\r\n\
Call-ID: c1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n{auth_line}Content-Length: 0\r\n\r\n"
        );
        match parse(text.as_bytes()) {
            Ok(Parsed::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    /// A client's answer, computed independently of `check` (RFC 7616 §3.4.1).
    fn answer(alg: &str, user: &str, pw: &str, nonce: &str, nc: &str) -> String {
        let h = |s: String| match alg {
            "MD5" => hex::encode(Md5::digest(s.as_bytes())),
            _ => hex::encode(Sha256::digest(s.as_bytes())),
        };
        let ha1 = h(format!("{user}:gatehouse:{pw}"));
        let ha2 = h("REGISTER:sip:gatehouse".to_owned());
        let resp = h(format!("{ha1}:{nonce}:{nc}:xyz:auth:{ha2}"));
        format!(
            "Authorization: Digest username=\"{user}\", realm=\"gatehouse\", nonce=\"{nonce}\", \
uri=\"sip:gatehouse\", response=\"{resp}\", algorithm={alg}, cnonce=\"xyz\", nc={nc}, qop=auth\r\n"
        )
    }

    #[test]
    fn md5_and_sha256_with_number_or_alias_and_replay_refused() {
        let mut a = Auth::new(&cfg());
        let d = dir();
        let now = 1_700_000_000_000;
        assert_eq!(
            a.check(now, &register(""), &d, false),
            Verdict::Challenge { stale: false }
        );
        let n = a.nonce(now);
        for (alg, user) in [("MD5", "11%2301%2311%235"), ("SHA-256", "21120121115")] {
            let n = a.nonce(now + if alg == "MD5" { 1 } else { 2 });
            let r = register(&answer(alg, user, "s3cret", &n, "00000001"));
            assert!(matches!(a.check(now + 10, &r, &d, false), Verdict::Ok(u) if u.device == 7));
            // the same nc again is a replay
            assert_eq!(a.check(now + 20, &r, &d, false), Verdict::Forbidden);
            let r2 = register(&answer(alg, user, "s3cret", &n, "00000002"));
            assert!(matches!(a.check(now + 30, &r2, &d, false), Verdict::Ok(_)));
        }
        // wrong password and unknown user: the same answer
        let wrong = register(&answer("MD5", "11%2301%2311%235", "nope", &n, "00000001"));
        let unknown = register(&answer("MD5", "99%2399", "s3cret", &n, "00000001"));
        assert_eq!(a.check(now, &wrong, &d, false), Verdict::Forbidden);
        assert_eq!(a.check(now, &unknown, &d, false), Verdict::Forbidden);
        // a stale nonce with the right password: a new challenge, stale=true
        let old = register(&answer("MD5", "11%2301%2311%235", "s3cret", &n, "00000009"));
        assert_eq!(
            a.check(now + NONCE_LIFETIME_MS + 1, &old, &d, false),
            Verdict::Challenge { stale: true }
        );
        // two challenges in one millisecond differ
        assert_ne!(a.nonce(now), a.nonce(now));
        // a nonce from another server (another secret) is refused
        let mut other_cfg = cfg();
        other_cfg.secret = [4; 32];
        let foreign = Auth::new(&other_cfg).nonce(now);
        let f = register(&answer(
            "MD5",
            "11%2301%2311%235",
            "s3cret",
            &foreign,
            "00000001",
        ));
        assert_eq!(a.check(now, &f, &d, false), Verdict::Forbidden);
    }

    #[test]
    fn challenge_offers_md5_then_sha256() {
        let a = Auth::new(&cfg());
        let h = a.challenge_headers(1000, false, true);
        let s: Vec<String> = h.iter().map(|h| h.to_string()).collect();
        assert!(
            s[0].starts_with("WWW-Authenticate: Digest realm=\"gatehouse\", nonce=\""),
            "{s:?}"
        );
        assert!(
            s[0].contains("algorithm=MD5, qop=\"auth\", stale=true"),
            "{s:?}"
        );
        assert!(s[1].contains("algorithm=SHA-256"), "{s:?}");
        assert_eq!(unescape("11%2301%2311%235"), "11#01#11#5");
        assert_eq!(unescape("a%2"), "a%2");
        assert_eq!(unescape("%"), "%");
    }
}
