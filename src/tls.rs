//! The box's TLS certificate: a self-signed one generated on first start (rcgen) for the host name
//! and addresses, kept in `<data-dir>/tls/`, replaced by an administrator's upload (checked: PEM,
//! key matches certificate, not expired), and served through a resolver that switches without a
//! restart. Used by HTTPS now and SIP over TLS later. Owns the files under `tls/`; no HTTP here.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::{Error, Result};

const MAX_PEM_BYTES: usize = 64 * 1024;

/// What the page and API show of the certificate in use.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// DNS names and addresses the certificate is valid for.
    pub names: Vec<String>,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    pub self_signed: bool,
    /// SHA-256 of the DER certificate, hex with colons.
    pub sha256_fingerprint: String,
}

/// The certificate in use; implements rustls' resolver so uploads apply to new connections at once.
#[derive(Debug)]
pub struct CertStore {
    dir: PathBuf,
    current: RwLock<(Arc<CertifiedKey>, CertInfo)>,
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .0
                .clone(),
        )
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Internal(format!("{}: {e}", path.display()))
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename) with mode `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| io_err(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io_err(&tmp, e))?;
    f.sync_all().map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
    Ok(())
}

/// Host name and addresses of this box, for the self-signed certificate.
fn own_names() -> Vec<String> {
    let mut names = vec!["localhost".to_owned()];
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let h = h.trim();
        if !h.is_empty() && h != "localhost" {
            names.push(h.to_owned());
        }
    }
    if let Ok(ifs) = if_addrs::get_if_addrs() {
        for i in ifs {
            let ip = i.ip().to_string();
            if !names.contains(&ip) {
                names.push(ip);
            }
        }
    }
    if !names.iter().any(|n| n == "127.0.0.1") {
        names.push("127.0.0.1".into());
    }
    names
}

fn generate() -> Result<(String, String)> {
    let names = own_names();
    let mut params = rcgen::CertificateParams::new(names.clone())
        .map_err(|e| Error::Internal(format!("certificate: {e}")))?;
    let cn = names.get(1).cloned().unwrap_or_else(|| "gatehouse".into());
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("Gatehouse {cn}"));
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Gatehouse");
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2049, 12, 31);
    let key = rcgen::KeyPair::generate().map_err(|e| Error::Internal(format!("key: {e}")))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| Error::Internal(format!("certificate: {e}")))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Parses and checks a certificate chain and key in PEM.
pub fn parse_pair(cert_pem: &[u8], key_pem: &[u8]) -> Result<(Arc<CertifiedKey>, CertInfo)> {
    if cert_pem.len() > MAX_PEM_BYTES || key_pem.len() > MAX_PEM_BYTES {
        return Err(Error::invalid(
            "pem_too_large",
            "certificate",
            "certificate and key files must each be under 64 KiB",
        ));
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| {
            Error::invalid(
                "certificate_pem",
                "certificate",
                format!("the certificate file is not valid PEM: {e}"),
            )
        })?;
    if chain.is_empty() {
        return Err(Error::invalid(
            "certificate_pem",
            "certificate",
            "the certificate file holds no CERTIFICATE block",
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        Error::invalid(
            "private_key_pem",
            "private_key",
            format!("the key file holds no usable private key: {e}"),
        )
    })?;
    let info = describe(&chain[0])?;
    let ck = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| {
        Error::invalid(
            "key_mismatch",
            "private_key",
            format!("the private key does not fit the certificate: {e}"),
        )
    })?;
    Ok((Arc::new(ck), info))
}

fn describe(der: &CertificateDer<'_>) -> Result<CertInfo> {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der.as_ref()).map_err(|e| {
        Error::invalid(
            "certificate_der",
            "certificate",
            format!("the certificate cannot be read: {e}"),
        )
    })?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push(d.to_string()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => names.push(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
                    16 => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(b);
                        names.push(std::net::Ipv6Addr::from(a).to_string())
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let fp = Sha256::digest(der.as_ref());
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        names,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        self_signed: cert.subject() == cert.issuer(),
        sha256_fingerprint: fp
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
    })
}

impl CertStore {
    /// Loads the certificate from `<data_dir>/tls/`, generating a self-signed one if none exists.
    pub fn open(data_dir: &Path) -> Result<CertStore> {
        let dir = data_dir.join("tls");
        std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        let (cp, kp) = (dir.join("cert.pem"), dir.join("key.pem"));
        if !cp.exists() || !kp.exists() {
            let (cert, key) = generate()?;
            write_atomic(&kp, key.as_bytes(), 0o600)?;
            write_atomic(&cp, cert.as_bytes(), 0o644)?;
            tracing::info!(path = %cp.display(), "generated a self-signed certificate");
        }
        let cert = std::fs::read(&cp).map_err(|e| io_err(&cp, e))?;
        let key = std::fs::read(&kp).map_err(|e| io_err(&kp, e))?;
        let pair = parse_pair(&cert, &key)?;
        Ok(CertStore {
            dir,
            current: RwLock::new(pair),
        })
    }

    pub fn info(&self) -> CertInfo {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    /// Checks and installs an uploaded pair; new connections use it at once.
    pub fn replace(&self, cert_pem: &[u8], key_pem: &[u8]) -> Result<CertInfo> {
        let (ck, info) = parse_pair(cert_pem, key_pem)?;
        let now = crate::time::now() as i64;
        if info.not_after < now {
            return Err(Error::invalid(
                "certificate_expired",
                "certificate",
                format!(
                    "the certificate expired on {}",
                    crate::time::rfc3339(info.not_after as u64)
                ),
            ));
        }
        write_atomic(&self.dir.join("key.pem"), key_pem, 0o600)?;
        write_atomic(&self.dir.join("cert.pem"), cert_pem, 0o644)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = (ck, info.clone());
        Ok(info)
    }

    /// Goes back to a fresh self-signed certificate.
    pub fn regenerate(&self) -> Result<CertInfo> {
        let (cert, key) = generate()?;
        let (ck, info) = parse_pair(cert.as_bytes(), key.as_bytes())?;
        write_atomic(&self.dir.join("key.pem"), key.as_bytes(), 0o600)?;
        write_atomic(&self.dir.join("cert.pem"), cert.as_bytes(), 0o644)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = (ck, info.clone());
        Ok(info)
    }

    /// rustls server configuration using this store.
    pub fn server_config(self: &Arc<Self>, alpn: &[&[u8]]) -> Result<rustls::ServerConfig> {
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Internal(format!("tls: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pair_is_valid_and_mismatch_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = CertStore::open(dir.path()).unwrap();
        let info = store.info();
        assert!(info.self_signed);
        assert!(info.names.contains(&"localhost".to_string()));
        let (c1, _k1) = generate().unwrap();
        let (_c2, k2) = generate().unwrap();
        let e = parse_pair(c1.as_bytes(), k2.as_bytes()).unwrap_err();
        assert_eq!(e.code(), "key_mismatch");
        assert_eq!(
            parse_pair(b"junk", k2.as_bytes()).unwrap_err().code(),
            "certificate_pem"
        );
        // reopening keeps the same certificate
        let again = CertStore::open(dir.path()).unwrap();
        assert_eq!(again.info().sha256_fingerprint, info.sha256_fingerprint);
    }
}
