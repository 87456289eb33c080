//! System functions of the page and API: version and uptime, installing a certificate, and
//! producing a backup of the running store. Owns the temporary backup files in the data dir; the
//! store itself is the `store` module's.

use std::path::PathBuf;

use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::Actor;
use crate::app::App;
use crate::audit;
use crate::error::Result;
use crate::tls::CertInfo;

#[derive(Serialize, ToSchema)]
pub struct SystemInfo {
    pub version: String,
    pub commit: String,
    pub target: String,
    pub uptime_seconds: u64,
    /// Free bytes on the file system of the data dir (the data partition on the box).
    pub data_free_bytes: u64,
    /// Size in bytes of that file system.
    pub data_total_bytes: u64,
}

/// Free and total bytes of the file system holding `path` (statvfs); zeros if it cannot be read.
pub fn disk_space(path: &std::path::Path) -> (u64, u64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return (0, 0);
    };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return (0, 0);
    }
    let frsize = st.f_frsize as u64;
    (
        (st.f_bavail as u64).saturating_mul(frsize),
        (st.f_blocks as u64).saturating_mul(frsize),
    )
}

pub fn info(app: &App) -> SystemInfo {
    let (free, total) = disk_space(&app.config.data_dir);
    SystemInfo {
        version: crate::version::VERSION.into(),
        commit: crate::version::COMMIT.into(),
        target: crate::version::TARGET.into(),
        uptime_seconds: app.started.elapsed().as_secs(),
        data_free_bytes: free,
        data_total_bytes: total,
    }
}

pub fn install_certificate(app: &App, actor: &Actor, cert: &[u8], key: &[u8]) -> Result<CertInfo> {
    actor.require_admin()?;
    let info = app.certs.replace(cert, key)?;
    app.store.write(|txn| {
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "certificate.install",
            "certificate",
            format!("{} ({})", info.subject, info.sha256_fingerprint),
        )
    })?;
    Ok(info)
}

/// Writes a backup of the running store to a new file in the data dir; returns the download name
/// and the path (the caller streams and removes it).
pub fn backup_file(app: &App, actor: &Actor) -> Result<(String, PathBuf)> {
    actor.require_admin()?;
    let stamp = crate::time::rfc3339(crate::time::now()).replace(':', "-");
    let name = format!("gatehouse-backup-{stamp}.redb");
    let dir = app.config.data_dir.join("tmp");
    std::fs::create_dir_all(&dir)
        .map_err(|e| crate::error::Error::Internal(format!("{}: {e}", dir.display())))?;
    let path = dir.join(format!(
        "backup-{}.redb",
        crate::accounts::sessions::random_token(6)?
    ));
    app.store.backup_to(&path)?;
    app.store.write(|txn| {
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "system.backup",
            "store",
            format!("backup downloaded as {name}"),
        )
    })?;
    Ok((name, path))
}
