//! Password and security-answer hashing with Argon2id (RustCrypto `argon2`), sized for a small box:
//! 7 MiB and 5 passes, one of OWASP's recommended equivalent settings. Owns no state; callers run it
//! on a blocking thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::Error;

fn argon() -> Argon2<'static> {
    // Constant parameters that Params::new accepts; a failure here is a programming error caught by
    // the tests below, so fall back to the library default rather than panic.
    let params = Params::new(7 * 1024, 5, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// PHC string of `secret` with a fresh random salt.
pub fn hash(secret: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Internal(format!("random: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(e.to_string()))?;
    argon()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing: {e}")))
}

/// Whether `secret` matches the PHC string `phc`. A malformed hash never matches.
pub fn verify(secret: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon().verify_password(secret.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_roundtrip_and_params() {
        let h = super::hash("Kp7!wQz2").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{h}");
        assert!(super::verify("Kp7!wQz2", &h));
        assert!(!super::verify("Kp7!wQz3", &h));
        assert!(!super::verify("x", "not a hash"));
    }
}
