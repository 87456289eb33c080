//! Versioned postcard encoding of stored values: one version byte, then the postcard body of that
//! version. A type that changes shape bumps `VERSION` and teaches `decode_older` to read (and
//! upgrade) the previous bodies, so a later release reads an older file. Owns no table.

use serde::{de::DeserializeOwned, Serialize};

use super::{Result, StoreError};

/// A value that can be kept in the store.
pub trait Versioned: Serialize + DeserializeOwned {
    /// Name used in error messages.
    const KIND: &'static str;
    /// The version this build writes.
    const VERSION: u8;
    /// Reads a body written by an older version. The default knows none.
    fn decode_older(version: u8, body: &[u8]) -> Result<Self> {
        let _ = body;
        Err(StoreError::UnknownVersion {
            kind: Self::KIND,
            version,
        })
    }
}

pub fn encode<T: Versioned>(value: &T) -> Result<Vec<u8>> {
    postcard::to_extend(value, vec![T::VERSION]).map_err(|e| StoreError::Corrupt {
        kind: T::KIND,
        reason: e.to_string(),
    })
}

pub fn decode<T: Versioned>(bytes: &[u8]) -> Result<T> {
    let corrupt = |reason: String| StoreError::Corrupt {
        kind: T::KIND,
        reason,
    };
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| corrupt("empty value".into()))?;
    if version == T::VERSION {
        postcard::from_bytes(body).map_err(|e| corrupt(e.to_string()))
    } else if version < T::VERSION {
        T::decode_older(version, body)
    } else {
        Err(StoreError::UnknownVersion {
            kind: T::KIND,
            version,
        })
    }
}

/// Decodes a postcard body without the version byte (for `decode_older` implementations).
pub fn body<T: DeserializeOwned>(kind: &'static str, body: &[u8]) -> Result<T> {
    postcard::from_bytes(body).map_err(|e| StoreError::Corrupt {
        kind,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V1 {
        name: String,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V2 {
        name: String,
        floors: u32,
    }
    impl Versioned for V1 {
        const KIND: &'static str = "thing";
        const VERSION: u8 = 1;
    }
    impl Versioned for V2 {
        const KIND: &'static str = "thing";
        const VERSION: u8 = 2;
        fn decode_older(version: u8, b: &[u8]) -> Result<Self> {
            match version {
                1 => {
                    let old: V1 = body(Self::KIND, b)?;
                    Ok(V2 {
                        name: old.name,
                        floors: 0,
                    })
                }
                v => Err(StoreError::UnknownVersion {
                    kind: Self::KIND,
                    version: v,
                }),
            }
        }
    }

    #[test]
    fn older_versions_are_upgraded_and_newer_refused() {
        let old = encode(&V1 { name: "A".into() }).unwrap();
        assert_eq!(old[0], 1);
        let up: V2 = decode(&old).unwrap();
        assert_eq!(
            up,
            V2 {
                name: "A".into(),
                floors: 0
            }
        );
        let new = encode(&up).unwrap();
        assert!(matches!(
            decode::<V1>(&new),
            Err(StoreError::UnknownVersion { version: 2, .. })
        ));
    }

    #[test]
    fn garbage_never_panics() {
        for bytes in [&[][..], &[1], &[1, 0xff, 0xff, 0xff], &[9, 1, 2]] {
            assert!(decode::<V2>(bytes).is_err());
        }
    }
}
