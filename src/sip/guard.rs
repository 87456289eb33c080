//! Protection of the box from the LAN: a per-source token bucket (`--sip-rate-limit` requests per
//! second, bursts up to one second's worth) and a ban of sources with repeated failed
//! authentications (`--sip-ban-threshold` failures within the ban duration → every message from
//! that address is dropped for `--sip-ban-duration`). What is dropped gets no answer, so a
//! scanner learns nothing more. Pure state with the time passed in; bounded in the sources it
//! tracks ([`MAX_SOURCES`]). Owns nothing else.

use std::collections::HashMap;
use std::net::IpAddr;

use super::core::{CoreConfig, Millis};

/// Most source addresses tracked at once; when full, quiet unbanned sources are forgotten first.
pub const MAX_SOURCES: usize = 8192;

#[derive(Debug, Clone)]
struct Source {
    tokens: f64,
    last: Millis,
    failures: u32,
    first_failure: Millis,
    banned_until: Millis,
}

pub struct Guard {
    rate: f64,
    threshold: u32,
    ban_ms: u64,
    sources: HashMap<IpAddr, Source>,
    next_clean: Millis,
}

impl Guard {
    pub fn new(cfg: &CoreConfig) -> Guard {
        Guard {
            rate: cfg.rate_limit.max(1) as f64,
            threshold: cfg.ban_threshold.max(1),
            ban_ms: cfg.ban_duration_ms,
            sources: HashMap::new(),
            next_clean: 0,
        }
    }

    fn source(&mut self, now: Millis, ip: IpAddr) -> &mut Source {
        if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(&ip) {
            self.clean(now);
            if self.sources.len() >= MAX_SOURCES {
                // Still full: forget the quietest unbanned half.
                let mut quiet: Vec<(Millis, IpAddr)> = self
                    .sources
                    .iter()
                    .filter(|(_, s)| s.banned_until <= now)
                    .map(|(ip, s)| (s.last, *ip))
                    .collect();
                quiet.sort_unstable();
                for (_, ip) in quiet.into_iter().take(MAX_SOURCES / 2) {
                    self.sources.remove(&ip);
                }
            }
        }
        let rate = self.rate;
        self.sources.entry(ip).or_insert(Source {
            tokens: rate,
            last: now,
            failures: 0,
            first_failure: now,
            banned_until: 0,
        })
    }

    /// Whether a message from `ip` is looked at: not banned, and within its rate.
    pub fn admit(&mut self, now: Millis, ip: IpAddr) -> bool {
        let rate = self.rate;
        let s = self.source(now, ip);
        if s.banned_until > now {
            return false;
        }
        let elapsed = now.saturating_sub(s.last) as f64 / 1000.0;
        s.tokens = (s.tokens + elapsed * rate).min(rate);
        s.last = now;
        if s.tokens >= 1.0 {
            s.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// A failed authentication from `ip`; returns true when this failure bans it.
    pub fn failed(&mut self, now: Millis, ip: IpAddr) -> bool {
        let (threshold, ban_ms) = (self.threshold, self.ban_ms);
        let s = self.source(now, ip);
        if now.saturating_sub(s.first_failure) > ban_ms || s.failures == 0 {
            s.failures = 0;
            s.first_failure = now;
        }
        s.failures += 1;
        if s.failures >= threshold {
            s.banned_until = now + ban_ms;
            s.failures = 0;
            tracing::warn!(%ip, "SIP source ignored after repeated failed authentications");
            return true;
        }
        false
    }

    /// A successful authentication from `ip` clears its failures.
    pub fn succeeded(&mut self, ip: IpAddr) {
        if let Some(s) = self.sources.get_mut(&ip) {
            s.failures = 0;
        }
    }

    pub fn is_banned(&self, now: Millis, ip: IpAddr) -> bool {
        self.sources.get(&ip).is_some_and(|s| s.banned_until > now)
    }

    fn clean(&mut self, now: Millis) {
        let ban_ms = self.ban_ms;
        self.sources.retain(|_, s| {
            s.banned_until > now
                || (s.failures > 0 && now.saturating_sub(s.first_failure) <= ban_ms)
                || now.saturating_sub(s.last) < 10_000
        });
    }

    pub fn on_tick(&mut self, now: Millis) {
        if now >= self.next_clean {
            self.clean(now);
            self.next_clean = now + 10_000;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(rate: u32, threshold: u32) -> Guard {
        let a = "127.0.0.1:5060".parse().unwrap();
        Guard::new(&CoreConfig {
            realm: "g".into(),
            udp_addr: a,
            tcp_addr: a,
            tls_addr: a,
            keepalive_interval_ms: 1,
            ban_threshold: threshold,
            ban_duration_ms: 60_000,
            rate_limit: rate,
            min_expires: 60,
            max_expires: 3600,
            server: "G".into(),
            secret: [0; 32],
            digest_algorithms: vec!["MD5", "SHA-256"],
        })
    }

    #[test]
    fn rate_limit_per_source() {
        let mut g = guard(10, 5);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t = 1_000_000;
        let admitted = (0..30).filter(|_| g.admit(t, a)).count();
        assert_eq!(admitted, 10, "one second's burst");
        assert!(g.admit(t, b), "another source is not affected");
        assert!(!g.admit(t + 50, a));
        assert!(g.admit(t + 200, a), "tokens come back with time");
    }

    #[test]
    fn repeated_failures_ban_then_the_ban_ends() {
        let mut g = guard(1000, 3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let t = 1_000_000;
        assert!(!g.failed(t, a));
        assert!(!g.failed(t + 1, a));
        assert!(g.failed(t + 2, a));
        assert!(!g.admit(t + 3, a));
        assert!(g.is_banned(t + 59_000, a));
        assert!(g.admit(t + 60_003, a));
    }

    #[test]
    fn bounded_sources() {
        let mut g = guard(1000, 3);
        for i in 0..(MAX_SOURCES as u32 + 100) {
            g.admit(1_000_000, IpAddr::from(i.to_be_bytes()));
        }
        assert!(g.sources.len() <= MAX_SOURCES);
    }
}
