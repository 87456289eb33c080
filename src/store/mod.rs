//! The store: the one redb file in the data dir and everything about it.
//!
//! This module owns every table (declared once, in [`tables`]), the versioned postcard encoding of
//! every value ([`codec`]), opening and checking the file, consistent backups, restore and factory
//! reset. Feature modules read and write only through [`Store::read`] and [`Store::write`], one
//! write transaction per user action, so an action is all-or-nothing. This module knows nothing of
//! HTTP, SIP or sessions and holds no business rule.

pub mod codec;
pub mod tables;

use std::path::{Path, PathBuf};

use redb::{
    ConcurrencyMode, Database, DatabaseError, ReadTransaction, ReadableDatabase, ReadableTable,
    TableDefinition, TableHandle, WriteTransaction,
};

pub use codec::Versioned;
pub use tables::*;

/// The magic value kept under `META["magic"]`; a file without it is not a Gatehouse store.
pub const MAGIC: &[u8] = b"gatehouse-store";
/// The store layout this build writes. Older layouts are read through [`codec`] upgrades.
pub const SCHEMA_VERSION: u32 = 1;
/// Name of the store file inside the data dir.
pub const FILE_NAME: &str = "gatehouse.redb";
/// Page cache for redb: the box has little RAM.
const CACHE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the store is in use by a running Gatehouse; stop it first (or use the page's restore)"
    )]
    InUse,
    #[error("{0} is not a Gatehouse store: {1}")]
    NotAStore(PathBuf, String),
    #[error("the store was written by a newer Gatehouse (layout {found}, this build reads up to {SCHEMA_VERSION})")]
    TooNew { found: u32 },
    #[error("stored {kind} record has unknown version {version}")]
    UnknownVersion { kind: &'static str, version: u8 },
    #[error("stored {kind} record is corrupt: {reason}")]
    Corrupt { kind: &'static str, reason: String },
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    #[error("file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(e.into()) }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<DatabaseError> for StoreError {
    fn from(e: DatabaseError) -> Self {
        match e {
            DatabaseError::DatabaseAlreadyOpen => StoreError::InUse,
            other => StoreError::Db(other.into()),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The open store. Cheap to share behind an `Arc`; redb serialises writers itself.
pub struct Store {
    db: Database,
    path: PathBuf,
    /// Bumped by every committed [`Store::write`] (not by [`Store::write_quiet`]): lets a cache
    /// (the SIP directory) know the configuration may have changed.
    generation: std::sync::atomic::AtomicU64,
}

fn builder() -> redb::Builder {
    let mut b = Database::builder();
    b.set_cache_size(CACHE_BYTES);
    // One writer (the service); `gatehouse backup` may read while it runs.
    b.set_concurrency_mode(ConcurrencyMode::SingleWriter);
    b
}

impl Store {
    /// Opens (creating if missing) the store file at `path`, checking that it is a Gatehouse store
    /// of a layout this build understands.
    pub fn open(path: &Path) -> Result<Store> {
        let existed = path.exists();
        let db = builder().create(path).map_err(|e| open_error(path, e))?;
        let store = Store {
            db,
            path: path.to_owned(),
            generation: std::sync::atomic::AtomicU64::new(0),
        };
        let txn = store.db.begin_write()?;
        {
            let meta = txn.open_table(META)?;
            let magic = meta.get("magic")?.map(|g| g.value().to_vec());
            match magic {
                Some(m) if m == MAGIC => check_schema(&meta)?,
                Some(_) => {
                    return Err(StoreError::NotAStore(
                        path.to_owned(),
                        "wrong magic value".into(),
                    ))
                }
                None => {
                    drop(meta);
                    if existed && txn.list_tables()?.any(|t| t.name() != META.name()) {
                        return Err(StoreError::NotAStore(
                            path.to_owned(),
                            "tables without a Gatehouse header".into(),
                        ));
                    }
                    let mut meta = txn.open_table(META)?;
                    meta.insert("magic", MAGIC)?;
                    meta.insert("schema", SCHEMA_VERSION.to_le_bytes().as_slice())?;
                }
            }
        }
        tables::create_all(&txn)?;
        txn.commit()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one read transaction (a consistent snapshot).
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let txn = self.db.begin_read().map_err(StoreError::from)?;
        f(&txn)
    }

    /// Runs `f` in one write transaction; commits (durably, fsynced) only if `f` returns `Ok`.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let txn = self.db.begin_write().map_err(StoreError::from)?;
        let out = f(&txn)?; // dropping an uncommitted transaction aborts it
        txn.commit().map_err(StoreError::from)?;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        Ok(out)
    }

    /// Like [`Store::write`], without bumping [`Store::generation`]: for records the service
    /// writes itself (SIP bindings, call records) that change no configuration.
    pub fn write_quiet<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let txn = self.db.begin_write().map_err(StoreError::from)?;
        let out = f(&txn)?;
        txn.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// How many configuration writes have been committed since the store opened.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Writes a consistent copy of the whole store to `dest` (a new Gatehouse store file).
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        let txn = self.db.begin_read()?;
        write_copy(&txn, dest)
    }

    /// Replaces the whole content of this store with the backup at `src`, in one transaction.
    pub fn restore_from(&self, src: &Path) -> Result<()> {
        let backup = open_backup(src)?;
        let from = backup.begin_read()?;
        let txn = self.db.begin_write()?;
        tables::clear_all(&txn)?;
        tables::copy_all(&from, &txn)?;
        txn.commit()?;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Empties every table (keeping the header), in one transaction.
    pub fn factory_reset(&self) -> Result<()> {
        let txn = self.db.begin_write()?;
        tables::clear_all(&txn)?;
        txn.commit()?;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        Ok(())
    }
}

/// Backs up the store file at `src` while another process (the service) may be writing to it.
pub fn backup_file(src: &Path, dest: &Path) -> Result<()> {
    if !src.exists() {
        return Err(StoreError::Io {
            path: src.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no store file here"),
        });
    }
    let db = builder()
        .open_read_only(src)
        .map_err(|e| open_error(src, e))?;
    let txn = db.begin_read()?;
    check_header(&txn, src)?;
    write_copy(&txn, dest)
}

/// Maps a failure to open `path` as a redb file: in use, missing, or not a store at all.
fn open_error(path: &Path, e: DatabaseError) -> StoreError {
    match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::InUse,
        DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() != std::io::ErrorKind::InvalidData =>
        {
            StoreError::Io {
                path: path.to_owned(),
                source: io,
            }
        }
        other => StoreError::NotAStore(path.to_owned(), other.to_string()),
    }
}

fn open_backup(src: &Path) -> Result<redb::ReadOnlyDatabase> {
    let db = Database::builder()
        .open_read_only(src)
        .map_err(|e| open_error(src, e))?;
    let txn = db.begin_read()?;
    check_header(&txn, src)?;
    drop(txn);
    Ok(db)
}

/// Checks that `path` is a Gatehouse store this build can read (for restore).
pub fn check_backup(path: &Path) -> Result<()> {
    open_backup(path).map(drop)
}

fn check_header(txn: &ReadTransaction, path: &Path) -> Result<()> {
    let not_store = |why: &str| StoreError::NotAStore(path.to_owned(), why.to_owned());
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Err(not_store("no header table")),
        Err(e) => return Err(not_store(&e.to_string())),
    };
    match meta.get("magic")? {
        Some(m) if m.value() == MAGIC => {}
        _ => return Err(not_store("wrong magic value")),
    }
    check_schema(&meta)
}

/// Refuses a layout newer than this build reads.
fn check_schema(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<()> {
    let found = meta
        .get("schema")?
        .and_then(|g| g.value().try_into().ok().map(u32::from_le_bytes))
        .unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew { found });
    }
    Ok(())
}

fn write_copy(from: &ReadTransaction, dest: &Path) -> Result<()> {
    let io = |source| StoreError::Io {
        path: dest.to_owned(),
        source,
    };
    let tmp = dest.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    {
        let out = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&tmp)?;
        let txn = out.begin_write()?;
        tables::create_all(&txn)?;
        tables::copy_all(from, &txn)?;
        txn.commit()?;
    }
    std::fs::rename(&tmp, dest).map_err(io)?;
    Ok(())
}

/// Reads a versioned record from a `&str`-keyed table.
pub fn get<T: Versioned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>> {
    match table.get(key)? {
        Some(v) => Ok(Some(codec::decode(v.value())?)),
        None => Ok(None),
    }
}

/// Reads every record of a `&str`-keyed table, in key order.
pub fn all<T: Versioned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (_, v) = row?;
        out.push(codec::decode(v.value())?);
    }
    Ok(out)
}

/// Writes a versioned record under `key`.
pub fn put<T: Versioned>(
    table: &mut redb::Table<&'static str, &'static [u8]>,
    key: &str,
    value: &T,
) -> Result<()> {
    let bytes = codec::encode(value)?;
    table.insert(key, bytes.as_slice())?;
    Ok(())
}

/// The type of every `&str`-keyed table.
pub type StrTable = TableDefinition<'static, &'static str, &'static [u8]>;
/// The type of every sequence-keyed table (logs, records).
pub type SeqTable = TableDefinition<'static, u64, &'static [u8]>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_layouts_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let s = Store::open(&path).unwrap();
        s.write(|txn| -> Result<()> {
            txn.open_table(META)?
                .insert("schema", (SCHEMA_VERSION + 1).to_le_bytes().as_slice())?;
            Ok(())
        })
        .unwrap();
        drop(s);
        assert!(matches!(Store::open(&path), Err(StoreError::TooNew { .. })));
        assert!(matches!(
            check_backup(&path),
            Err(StoreError::TooNew { .. })
        ));

        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"not redb").unwrap();
        assert!(matches!(
            check_backup(&junk),
            Err(StoreError::NotAStore(..))
        ));
        assert!(matches!(Store::open(&junk), Err(StoreError::NotAStore(..))));
    }

    #[test]
    fn backup_restore_and_reset_are_whole() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("a.redb")).unwrap();
        s.write(|txn| -> Result<()> {
            txn.open_table(SETTINGS)?.insert("k", b"v1".as_slice())?;
            txn.open_table(AUDIT)?.insert(1, b"e".as_slice())?;
            Ok(())
        })
        .unwrap();
        let b = dir.path().join("b.redb");
        s.backup_to(&b).unwrap();
        s.factory_reset().unwrap();
        let empty = s
            .read(|txn| -> Result<bool> { Ok(txn.open_table(SETTINGS)?.get("k")?.is_none()) })
            .unwrap();
        assert!(empty);
        s.restore_from(&b).unwrap();
        let back = s
            .read(|txn| -> Result<Option<Vec<u8>>> {
                Ok(txn
                    .open_table(SETTINGS)?
                    .get("k")?
                    .map(|g| g.value().to_vec()))
            })
            .unwrap();
        assert_eq!(back.as_deref(), Some(&b"v1"[..]));
    }
}
