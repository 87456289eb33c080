//! The running Gatehouse as one value: the store, the settings, sessions, lock-out counters and the
//! certificate. Every feature function takes `&App`; the web layer (and later SIP and serial
//! adapters) hold it in an `Arc`. Owns start-up of these parts, not any business rule.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::accounts::{hashing, lockout::Lockout, sessions::Sessions};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::{self, Store, StoreError, Versioned, SETTINGS};
use crate::tls::CertStore;

pub struct App {
    pub store: Store,
    pub config: Config,
    pub sessions: Sessions,
    pub lockout: Lockout,
    pub certs: Arc<CertStore>,
    /// Seals secrets that devices need in clear (room, device and SIP passwords).
    pub sealer: crate::secrets::Sealer,
    /// Card-issuing sessions of batch add and batch issue cards.
    pub card_sessions: crate::persons::batch::Sessions,
    /// The card issuer and the fingerprint scanner on the serial ports.
    pub readers: crate::serial::readers::Readers,
    pub started: Instant,
    /// The running SIP service, for the page's status of registrations and calls.
    pub sip: OnceLock<crate::sip::service::SipHandle>,
    secret: [u8; 32],
    dummy_hash: OnceLock<String>,
}

#[derive(Serialize, Deserialize)]
struct Secret(Vec<u8>);
impl Versioned for Secret {
    const KIND: &'static str = "secret";
    const VERSION: u8 = 1;
}

impl App {
    /// Opens the data dir (creating it), the store and the certificate.
    pub fn open(config: Config) -> Result<App> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| Error::Internal(format!("data dir {}: {e}", config.data_dir.display())))?;
        let store = Store::open(&config.data_dir.join(store::FILE_NAME))?;
        let certs = Arc::new(CertStore::open(&config.data_dir)?);
        let sealer = crate::secrets::Sealer::open(&config.data_dir)?;
        let secret = store.write(|txn| -> Result<[u8; 32]> {
            let mut t = txn.open_table(SETTINGS).map_err(StoreError::from)?;
            if let Some(Secret(s)) = store::get::<Secret>(&t, "secret")? {
                if let Ok(a) = <[u8; 32]>::try_from(s.as_slice()) {
                    return Ok(a);
                }
            }
            let mut s = [0u8; 32];
            getrandom::fill(&mut s).map_err(|e| Error::Internal(format!("random: {e}")))?;
            store::put(&mut t, "secret", &Secret(s.to_vec()))?;
            Ok(s)
        })?;
        let readers = crate::serial::readers::Readers::new(&config);
        Ok(App {
            sessions: Sessions::new(config.session_idle_timeout, config.max_sessions),
            lockout: Lockout::new(
                config.lockout_threshold,
                config.lockout_duration.as_secs().max(1),
            ),
            store,
            config,
            certs,
            sealer,
            card_sessions: Default::default(),
            readers,
            started: Instant::now(),
            sip: OnceLock::new(),
            secret,
            dummy_hash: OnceLock::new(),
        })
    }

    /// A per-store random secret (for stable decoys that reveal nothing).
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// A hash to verify against when a name is unknown, so both cases cost the same.
    pub fn dummy_hash(&self) -> &str {
        self.dummy_hash
            .get_or_init(|| hashing::hash("no such account, no such password").unwrap_or_default())
    }
}
