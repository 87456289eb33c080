//! Wall-clock helpers: unix seconds and their RFC 3339 text. Owns no state.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `2026-11-30T22:00:00Z` for unix seconds.
pub fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// Parses RFC 3339 (`2026-11-30T22:00:00Z`) or a plain date (`2026-11-30`) to unix seconds.
pub fn parse(text: &str) -> Option<u64> {
    let t = text.trim();
    let full = if t.len() == 10 {
        format!("{t}T00:00:00Z")
    } else if t.len() == 16 {
        // what an <input type=datetime-local> sends
        format!("{t}:00Z")
    } else {
        t.to_owned()
    };
    humantime::parse_rfc3339_weak(&full)
        .ok()
        .and_then(|s| s.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
}
