//! Signed-in sessions, in memory and bounded: a random bearer token (only its SHA-256 is kept), a
//! CSRF token for the page, idle expiry, the list of online users and ending a session. Sessions do
//! not survive a restart, by design: nothing about them is written to flash. Owns no account data
//! beyond what a request check needs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::netaccess::AllowList;
use super::Role;
use crate::error::Error;

#[derive(Clone, Debug)]
pub struct Session {
    /// Public identifier, shown in the online-users list (not the token).
    pub id: String,
    pub username: String,
    pub role: Role,
    pub ip: IpAddr,
    pub created: u64,
    pub last_seen: u64,
    pub csrf: String,
    pub allow: AllowList,
    touched: Instant,
}

pub struct Sessions {
    inner: Mutex<HashMap<[u8; 32], Session>>,
    idle: Duration,
    max: usize,
}

/// A random token of `n` bytes, hex encoded.
pub fn random_token(n: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| Error::Internal(format!("random: {e}")))?;
    Ok(hex::encode(buf))
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    pub fn new(idle: Duration, max: usize) -> Self {
        Sessions {
            inner: Mutex::new(HashMap::new()),
            idle,
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        // A panic while holding this lock cannot leave the map inconsistent; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// Starts a session; returns its bearer token and the session.
    pub fn start(
        &self,
        username: &str,
        role: Role,
        ip: IpAddr,
        allow: AllowList,
    ) -> Result<(String, Session), Error> {
        let token = random_token(32)?;
        let now = crate::time::now();
        let session = Session {
            id: random_token(8)?,
            username: username.to_owned(),
            role,
            ip,
            created: now,
            last_seen: now,
            csrf: random_token(16)?,
            allow,
            touched: Instant::now(),
        };
        let mut map = self.lock();
        let idle = self.idle;
        map.retain(|_, s| s.touched.elapsed() < idle);
        if map.len() >= self.max {
            // Full: the session idle the longest makes room.
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.touched).map(|(k, _)| *k) {
                map.remove(&oldest);
            }
        }
        map.insert(digest(&token), session.clone());
        Ok((token, session))
    }

    /// The live session of `token`, touched; `None` if unknown or idle too long.
    pub fn lookup(&self, token: &str) -> Option<Session> {
        let key = digest(token);
        let mut map = self.lock();
        let s = map.get_mut(&key)?;
        if s.touched.elapsed() >= self.idle {
            map.remove(&key);
            return None;
        }
        s.touched = Instant::now();
        s.last_seen = crate::time::now();
        Some(s.clone())
    }

    /// Ends the session of `token`; returns it.
    pub fn end_token(&self, token: &str) -> Option<Session> {
        self.lock().remove(&digest(token))
    }

    /// Ends the session with public id `id`; returns it.
    pub fn end_id(&self, id: &str) -> Option<Session> {
        let mut map = self.lock();
        let key = map.iter().find(|(_, s)| s.id == id).map(|(k, _)| *k)?;
        map.remove(&key)
    }

    /// Ends every session of `username` except `keep` (a session id); returns how many ended.
    pub fn end_user(&self, username: &str, keep: Option<&str>) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, s| {
            !(s.username.eq_ignore_ascii_case(username) && Some(s.id.as_str()) != keep)
        });
        before - map.len()
    }

    pub fn end_all(&self) {
        self.lock().clear();
    }

    /// Live sessions, oldest first.
    pub fn list(&self) -> Vec<Session> {
        let mut map = self.lock();
        let idle = self.idle;
        map.retain(|_, s| s.touched.elapsed() < idle);
        let mut v: Vec<Session> = map.values().cloned().collect();
        v.sort_by_key(|s| s.created);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_bound_and_ending() {
        let s = Sessions::new(Duration::from_millis(200), 2);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let (t1, s1) = s.start("a", Role::Admin, ip, AllowList::default()).unwrap();
        let (t2, _) = s
            .start("b", Role::Operator, ip, AllowList::default())
            .unwrap();
        assert_eq!(s.lookup(&t1).unwrap().id, s1.id);
        let (t3, _) = s
            .start("c", Role::Operator, ip, AllowList::default())
            .unwrap();
        // bounded: the longest idle (t2, since t1 was just touched) made room
        assert!(s.lookup(&t2).is_none());
        assert!(s.lookup(&t3).is_some());
        assert_eq!(s.end_user("A", None), 1);
        assert!(s.lookup(&t1).is_none());
        std::thread::sleep(Duration::from_millis(250));
        assert!(s.lookup(&t3).is_none());
    }
}
