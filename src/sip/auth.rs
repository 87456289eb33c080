//! HTTP digest authentication of SIP requests (RFC 3261 §22, RFC 8760): challenges with SHA-256
//! and MD5, `qop=auth`, nonces that carry their issue time and are bound to this server by an
//! HMAC over the per-store secret, expire (`stale=true`), and cannot be replayed beyond their
//! nonce-count. A known and an unknown user name get exactly the same challenge. Pure: the
//! caller passes the time and the directory. Owns the nonce-count memory only.
//!
//! STUB: the registrar issue fills this in; until then every request is challenged.

use super::core::{CoreConfig, Millis};

pub struct Auth {
    realm: String,
}

impl Auth {
    pub fn new(cfg: &CoreConfig) -> Auth {
        Auth {
            realm: cfg.realm.clone(),
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    pub fn on_tick(&mut self, _now: Millis) {}
}
