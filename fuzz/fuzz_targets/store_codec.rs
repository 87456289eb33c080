//! Any bytes read from the store decode to a record or an error, never a panic.
#![no_main]
use gatehouse::store::codec::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode::<gatehouse::accounts::Account>(data);
    let _ = decode::<gatehouse::audit::AuditEntry>(data);
    let _ = decode::<gatehouse::company::Company>(data);
    let _ = decode::<gatehouse::company::Logo>(data);
});
