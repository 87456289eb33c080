//! Lock-out after repeated failed logins or password resets: counters per account name (known or
//! not) and per source address; when either reaches the threshold, both are locked for the
//! configured time. In memory and bounded. Owns no account data.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

const MAX_ENTRIES: usize = 4096;

#[derive(Hash, PartialEq, Eq, Clone, Debug)]
enum Key {
    Account(String),
    Ip(IpAddr),
}

#[derive(Default, Clone, Debug)]
struct Entry {
    failures: u32,
    locked_until: u64,
    touched: u64,
}

pub struct Lockout {
    inner: Mutex<HashMap<Key, Entry>>,
    threshold: u32,
    duration_secs: u64,
}

impl Lockout {
    pub fn new(threshold: u32, duration_secs: u64) -> Self {
        Lockout {
            inner: Mutex::new(HashMap::new()),
            threshold,
            duration_secs,
        }
    }

    fn keys(account: &str, ip: IpAddr) -> [Key; 2] {
        [Key::Account(account.to_lowercase()), Key::Ip(ip)]
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(until)` if the account or the address is locked at `now`.
    pub fn locked_until(&self, account: &str, ip: IpAddr, now: u64) -> Option<u64> {
        let map = self.lock();
        Self::keys(account, ip)
            .iter()
            .filter_map(|k| map.get(k))
            .map(|e| e.locked_until)
            .filter(|&u| u > now)
            .max()
    }

    /// Counts a failure; returns `Some(until)` if this failure locked the account and address.
    pub fn fail(&self, account: &str, ip: IpAddr, now: u64) -> Option<u64> {
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, e| e.locked_until > now);
            if map.len() >= MAX_ENTRIES {
                if let Some(k) = map
                    .iter()
                    .min_by_key(|(_, e)| e.touched)
                    .map(|(k, _)| k.clone())
                {
                    map.remove(&k);
                }
            }
        }
        let mut reached = false;
        for k in Self::keys(account, ip) {
            let e = map.entry(k).or_default();
            if e.locked_until <= now && e.locked_until != 0 {
                *e = Entry::default(); // an expired lock starts a fresh count
            }
            e.failures += 1;
            e.touched = now;
            reached |= e.failures >= self.threshold;
        }
        if !reached {
            return None;
        }
        let until = now + self.duration_secs;
        for k in Self::keys(account, ip) {
            let e = map.entry(k).or_default();
            e.failures = 0;
            e.locked_until = until;
        }
        Some(until)
    }

    /// A success clears the account's and the address's counts.
    pub fn succeed(&self, account: &str, ip: IpAddr) {
        let mut map = self.lock();
        for k in Self::keys(account, ip) {
            map.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_account_and_address_then_expires() {
        let l = Lockout::new(3, 60);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert_eq!(l.fail("Admin", a, 100), None);
        assert_eq!(l.fail("admin", b, 101), None);
        assert_eq!(l.fail("admin", b, 102), Some(162));
        // the account is locked from everywhere, the address b for every account
        assert_eq!(l.locked_until("ADMIN", a, 103), Some(162));
        assert_eq!(l.locked_until("other", b, 103), Some(162));
        assert_eq!(l.locked_until("other", a, 103), None);
        assert_eq!(l.locked_until("admin", a, 162), None);
        assert_eq!(l.fail("admin", a, 170), None);
    }
}
