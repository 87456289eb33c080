//! Cookie headers and time filters as clients send them.
#![no_main]
use axum::http::{header, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = HeaderValue::from_bytes(data) {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, v);
        let _ = gatehouse::web::auth::cookie_token(&h);
    }
    let _ = gatehouse::time::parse(&String::from_utf8_lossy(data));
});
