//! Secrets that Gatehouse must send in clear to devices later (room unlock passwords, device
//! management passwords, SIP passwords) are sealed at rest with ChaCha20-Poly1305 (ring's AEAD):
//! a random 96-bit nonce per value, the key in `<data-dir>/keys/seal.key` (mode 0600, created on
//! first start). The store holds only sealed bytes, so a copy of the store alone reveals nothing;
//! a backup meant for another box needs the key file too. Owns the key file; no store access.

use std::path::Path;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};

use crate::error::{Error, Result};

pub struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// Loads the key from `<data_dir>/keys/seal.key`, creating it if missing.
    pub fn open(data_dir: &Path) -> Result<Sealer> {
        let dir = data_dir.join("keys");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Internal(format!("{}: {e}", dir.display())))?;
        let path = dir.join("seal.key");
        if !path.exists() {
            let mut k = [0u8; 32];
            getrandom::fill(&mut k).map_err(|e| Error::Internal(format!("random: {e}")))?;
            crate::tls::write_atomic(&path, &k, 0o600)?;
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
        Sealer::from_key(&bytes)
    }

    pub fn from_key(bytes: &[u8]) -> Result<Sealer> {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, bytes)
            .map_err(|_| Error::Internal("the seal key is not 32 bytes".into()))?;
        Ok(Sealer {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Nonce ‖ ciphertext ‖ tag of `clear`, bound to `context` (e.g. `room:42`).
    pub fn seal(&self, context: &str, clear: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| Error::Internal(format!("random: {e}")))?;
        let mut buf = clear.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// The clear value of `sealed`, if it was sealed with this key and `context`.
    pub fn open_sealed(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return Err(Error::Internal("sealed value too short".into()));
        }
        let (n, rest) = sealed.split_at(NONCE_LEN);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(n);
        let mut buf = rest.to_vec();
        let clear = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| {
                Error::Internal("a sealed secret cannot be opened (wrong key or context)".into())
            })?;
        Ok(clear.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_context_binding_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sealer::open(dir.path()).unwrap();
        let a = s.seal("room:1", b"888888").unwrap();
        let b = s.seal("room:1", b"888888").unwrap();
        assert_ne!(a, b, "fresh nonce each time");
        assert!(!a.windows(6).any(|w| w == b"888888"));
        assert_eq!(s.open_sealed("room:1", &a).unwrap(), b"888888");
        assert!(s.open_sealed("room:2", &a).is_err());
        let mut t = a.clone();
        t[20] ^= 1;
        assert!(s.open_sealed("room:1", &t).is_err());
        assert!(s.open_sealed("room:1", &[1, 2]).is_err());
        // the key survives a restart
        let again = Sealer::open(dir.path()).unwrap();
        assert_eq!(again.open_sealed("room:1", &a).unwrap(), b"888888");
    }
}
