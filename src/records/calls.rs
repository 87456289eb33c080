//! Call records (manual 4, "call records"): every call attempt with caller and callee numbers and
//! devices, start, answer and end times, duration, who answered and how it ended; kept in the
//! `CALL_RECORDS` table with bounded retention (`--call-record-retention`, oldest dropped first),
//! searchable by device, time range and status, and the missed calls of a manager client. Knows
//! nothing of SIP (the SIP core emits [`CallRecord`]s) or HTTP.
//!
//! STUB: the type only; storage and queries land with the records work.

use serde::{Deserialize, Serialize};

use crate::store::Versioned;

/// How a call attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Answered,
    /// Nobody answered in time (or everyone in turn timed out).
    Missed,
    /// The callee declined (603/403 from the device).
    Rejected,
    Busy,
    /// The caller hung up before an answer.
    Cancelled,
    /// Unknown, unregistered or unreachable target, or any other failure.
    Failed,
}

/// One call attempt as stored (version 1). Times are ms since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    pub call_id: String,
    pub caller_number: String,
    pub caller_device: Option<u64>,
    /// What was dialled (a full number, a room code, the management centre).
    pub callee_number: String,
    /// Every device that was rung.
    pub callee_devices: Vec<u64>,
    pub started: u64,
    pub answered: Option<u64>,
    pub ended: u64,
    pub answered_by: Option<u64>,
    pub status: CallStatus,
    /// The final SIP status code sent to the caller (200 when answered).
    pub sip_code: u16,
}

impl Versioned for CallRecord {
    const KIND: &'static str = "call_record";
    const VERSION: u8 = 1;
}

impl CallRecord {
    /// Seconds from answer to end (0 when not answered).
    pub fn duration_seconds(&self) -> u64 {
        self.answered
            .map(|a| self.ended.saturating_sub(a) / 1000)
            .unwrap_or(0)
    }
}

/// Stores `records` in one write, then drops the oldest beyond `--call-record-retention`.
pub fn append(app: &crate::app::App, records: &[CallRecord]) -> crate::error::Result<()> {
    use crate::store::{codec, StoreError, CALL_RECORDS};
    use redb::{ReadableTable, ReadableTableMetadata};
    if records.is_empty() {
        return Ok(());
    }
    let keep = app.config.call_record_retention;
    app.store.write_quiet(|txn| {
        let mut t = txn.open_table(CALL_RECORDS).map_err(StoreError::from)?;
        let next = t
            .last()
            .map_err(StoreError::from)?
            .map(|(k, _)| k.value() + 1)
            .unwrap_or(1);
        for (i, r) in records.iter().enumerate() {
            let bytes = codec::encode(r)?;
            t.insert(next + i as u64, bytes.as_slice())
                .map_err(StoreError::from)?;
        }
        let len = t.len().map_err(StoreError::from)?;
        for _ in keep..len {
            t.pop_first().map_err(StoreError::from)?;
        }
        Ok(())
    })
}
