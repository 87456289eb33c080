//! The audit log: every login attempt (success, failure, lock), logout and every change an account
//! makes, with who, what, when and from where; kept in the store's `AUDIT` table with bounded
//! retention (oldest dropped first) and searchable. Feature modules append inside their own write
//! transaction so the change and its audit entry commit together. Owns only the `AUDIT` table.

use std::net::IpAddr;

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::error::Result;
use crate::store::{codec, Versioned, AUDIT};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Sequence number, growing.
    #[serde(default)]
    pub id: u64,
    /// Unix seconds.
    pub time: u64,
    /// Account that acted, or the name tried at a login (`null` when none).
    pub actor: Option<String>,
    /// Source address.
    pub ip: String,
    /// What happened, e.g. `login.success`, `login.failure`, `login.locked`, `account.create`.
    pub action: String,
    /// What it happened to (an account name, a setting…).
    pub target: String,
    /// Human detail.
    pub detail: String,
}

impl Versioned for AuditEntry {
    const KIND: &'static str = "audit entry";
    const VERSION: u8 = 1;
}

/// Appends an entry in `txn`, dropping the oldest beyond `retention`.
pub fn record(
    txn: &WriteTransaction,
    retention: u64,
    actor: Option<&str>,
    ip: IpAddr,
    action: &str,
    target: &str,
    detail: impl Into<String>,
) -> Result<()> {
    let mut t = txn
        .open_table(AUDIT)
        .map_err(crate::store::StoreError::from)?;
    let id = t
        .last()
        .map_err(crate::store::StoreError::from)?
        .map(|(k, _)| k.value() + 1)
        .unwrap_or(1);
    let entry = AuditEntry {
        id,
        time: crate::time::now(),
        actor: actor.map(str::to_owned),
        ip: ip.to_string(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: detail.into(),
    };
    let bytes = codec::encode(&entry)?;
    t.insert(id, bytes.as_slice())
        .map_err(crate::store::StoreError::from)?;
    let len = t.len().map_err(crate::store::StoreError::from)?;
    for _ in retention..len {
        t.pop_first().map_err(crate::store::StoreError::from)?;
    }
    Ok(())
}

/// Search criteria; every field is optional.
#[derive(Deserialize, Debug, Default, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Text found (case-insensitively) in actor, address, action, target or detail.
    pub q: Option<String>,
    /// Exact account name.
    pub actor: Option<String>,
    /// Action prefix, e.g. `login` or `account.`.
    pub action: Option<String>,
    /// From this time (RFC 3339 or `YYYY-MM-DD`).
    pub from: Option<String>,
    /// Up to this time (RFC 3339 or `YYYY-MM-DD`, the whole day).
    pub to: Option<String>,
    /// Only entries with a smaller id (paging backwards).
    pub before: Option<u64>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<usize>,
}

/// Newest first.
pub fn search(app: &App, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
    let bad_time = |field: &'static str| {
        crate::error::Error::invalid(
            "time_format",
            field,
            "expected a time like 2026-11-30 or 2026-11-30T08:00:00Z",
        )
    };
    let from = match q.from.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(crate::time::parse(s).ok_or_else(|| bad_time("from"))?),
        None => None,
    };
    let to = match q.to.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => {
            let t = crate::time::parse(s).ok_or_else(|| bad_time("to"))?;
            Some(if s.trim().len() == 10 { t + 86_399 } else { t })
        }
        None => None,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let text =
        q.q.as_deref()
            .map(str::to_lowercase)
            .filter(|s| !s.is_empty());
    let actor = q.actor.as_deref().filter(|s| !s.is_empty());
    let action = q.action.as_deref().filter(|s| !s.is_empty());
    app.store.read(|txn| {
        let t = txn
            .open_table(AUDIT)
            .map_err(crate::store::StoreError::from)?;
        let upper = q.before.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for row in t
            .range(..upper)
            .map_err(crate::store::StoreError::from)?
            .rev()
        {
            let (_, v) = row.map_err(crate::store::StoreError::from)?;
            let e: AuditEntry = codec::decode(v.value())?;
            if from.is_some_and(|f| e.time < f) {
                // newest first: everything further is older still
                break;
            }
            if to.is_some_and(|t| e.time > t)
                || actor.is_some_and(|a| !e.actor.as_deref().unwrap_or("").eq_ignore_ascii_case(a))
                || action.is_some_and(|a| !e.action.starts_with(a))
            {
                continue;
            }
            if let Some(text) = &text {
                let hay = format!(
                    "{} {} {} {} {}",
                    e.actor.as_deref().unwrap_or(""),
                    e.ip,
                    e.action,
                    e.target,
                    e.detail
                )
                .to_lowercase();
                if !hay.contains(text) {
                    continue;
                }
            }
            out.push(e);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    })
}
