//! Where each registered device can be reached: its bindings (contact URI, the transport and
//! address it registered from, expiry, user agent), several per device, in memory for speed and
//! written behind to the `SIP_BINDINGS` table through [`BindingChange`] actions so they survive a
//! restart. Pure state: no socket, no store handle (the service persists the changes and loads
//! them back with [`load`]). A device is online while it has a live binding.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::core::{Action, Millis, Peer};
use super::directory::Directory;
use crate::store::Versioned;

/// One contact of one device (RFC 3261 §10.3), as stored (version 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub device: u64,
    /// The Contact URI as registered, e.g. `sip:21120121115@192.168.1.50:5060`.
    pub contact: String,
    /// Where requests for this contact go: over UDP the contact's own IP address and port, over
    /// TCP/TLS (or for a contact named by host name) where the REGISTER came from
    /// (`registrar::contact_target`).
    pub peer: Peer,
    /// When it expires (ms since the epoch).
    pub expires_at: Millis,
    pub user_agent: String,
    pub call_id: String,
    pub cseq: u32,
    /// When this contact first registered.
    pub since: Millis,
    /// Last time the device was heard from (REGISTER, keep-alive answer, any request).
    pub last_seen: Millis,
    /// How the device reaches us (`host:port`), for the Via, From and Record-Route of what we
    /// send it: our socket's own address, or the host of its REGISTER's Request-URI when the
    /// socket listens on every address.
    pub ours: String,
}

impl Versioned for Binding {
    const KIND: &'static str = "sip_binding";
    const VERSION: u8 = 1;
}

impl Binding {
    /// The store key: `<device>/<contact>`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.device, self.contact)
    }
}

/// A change the service persists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingChange {
    Upsert(Binding),
    Remove { device: u64, contact: String },
}

/// The bindings of every device.
#[derive(Debug, Default)]
pub struct Location {
    by_device: HashMap<u64, Vec<Binding>>,
}

impl Location {
    /// From persisted bindings; expired ones are left out.
    pub fn restore(bindings: Vec<Binding>, now: Millis) -> Location {
        let mut l = Location::default();
        for b in bindings.into_iter().filter(|b| b.expires_at > now) {
            l.by_device.entry(b.device).or_default().push(b);
        }
        l
    }

    /// Live contacts of `device`.
    pub fn contacts(&self, device: u64, now: Millis) -> impl Iterator<Item = &Binding> {
        self.by_device
            .get(&device)
            .into_iter()
            .flatten()
            .filter(move |b| b.expires_at > now)
    }

    pub fn is_online(&self, device: u64, now: Millis) -> bool {
        self.contacts(device, now).next().is_some()
    }

    /// Every binding.
    pub fn all(&self) -> impl Iterator<Item = &Binding> {
        self.by_device.values().flatten()
    }

    pub fn len(&self) -> usize {
        self.by_device.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_device.is_empty()
    }

    pub(crate) fn device_bindings_mut(&mut self, device: u64) -> &mut Vec<Binding> {
        self.by_device.entry(device).or_default()
    }

    pub(crate) fn devices_mut(&mut self) -> &mut HashMap<u64, Vec<Binding>> {
        &mut self.by_device
    }

    /// Drops the bindings of devices the directory no longer knows.
    pub fn retain_known(&mut self, dir: &Directory, _now: Millis, out: &mut Vec<Action>) {
        self.by_device.retain(|device, bs| {
            if dir.user(*device).is_some() {
                return true;
            }
            for b in bs.drain(..) {
                out.push(Action::Binding(BindingChange::Remove {
                    device: b.device,
                    contact: b.contact,
                }));
            }
            out.push(Action::DeviceOffline { device: *device });
            false
        });
    }
}

/// Loads persisted bindings (the service calls it at start).
pub fn load(app: &crate::app::App) -> crate::error::Result<Vec<Binding>> {
    app.store.read(|txn| {
        let t = txn
            .open_table(crate::store::SIP_BINDINGS)
            .map_err(crate::store::StoreError::from)?;
        Ok(crate::store::all::<Binding>(&t)?)
    })
}

/// Persists a batch of changes in one write transaction.
pub fn persist(app: &crate::app::App, changes: &[BindingChange]) -> crate::error::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    app.store.write_quiet(|txn| {
        let mut t = txn
            .open_table(crate::store::SIP_BINDINGS)
            .map_err(crate::store::StoreError::from)?;
        for c in changes {
            match c {
                BindingChange::Upsert(b) => crate::store::put(&mut t, &b.key(), b)?,
                BindingChange::Remove { device, contact } => {
                    t.remove(format!("{device}/{contact}").as_str())
                        .map_err(crate::store::StoreError::from)?;
                }
            }
        }
        Ok(())
    })
}
