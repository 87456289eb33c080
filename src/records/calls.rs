//! Call records (manual 4, "call records"): every call attempt with caller and callee numbers and
//! devices, start, answer and end times, duration, who answered and how it ended; kept in the
//! `CALL_RECORDS` table with bounded retention (`--call-record-retention`, oldest dropped first),
//! searchable by device, time range and status, and the missed calls of a manager client. Knows
//! nothing of SIP (the SIP core emits [`CallRecord`]s) or HTTP; reads device names and
//! registration numbers (`DEVICES`, `REGISTRATIONS`) only to show who a record is about.
//!
//! Order and paging: newest first by start time (then by record id), paged with `offset` and
//! `limit` over all matches, whose count is given as `total`.
//!
//! **Missed calls of a device** (manual 4, "Missed Calls", meant for manager clients): the calls
//! on which that device was rung (it is among `callee_devices`) and nobody answered, i.e. the
//! call ended `missed` (nobody answered in time), `cancelled` (the caller gave up while it rang)
//! or `rejected` (declined; the manual lists missed and rejected calls for call back). Calls that
//! were answered (by this device or another), or that never rang it (`busy`, `failed`), are not
//! missed calls. See [`is_missed_by`].

use std::collections::HashMap;

use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::error::{Error, Result};
use crate::store::{codec, StoreError, Versioned, CALL_RECORDS, DEVICES, REGISTRATIONS};

/// How a call attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
pub fn append(app: &App, records: &[CallRecord]) -> Result<()> {
    use redb::ReadableTableMetadata;
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

impl CallStatus {
    pub const ALL: [CallStatus; 6] = [
        CallStatus::Answered,
        CallStatus::Missed,
        CallStatus::Rejected,
        CallStatus::Busy,
        CallStatus::Cancelled,
        CallStatus::Failed,
    ];

    /// The name used in the API and the page (`answered`, `missed`…).
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Answered => "answered",
            CallStatus::Missed => "missed",
            CallStatus::Rejected => "rejected",
            CallStatus::Busy => "busy",
            CallStatus::Cancelled => "cancelled",
            CallStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<CallStatus> {
        CallStatus::ALL.into_iter().find(|c| c.as_str() == s.trim())
    }
}

/// Whether `r` is a missed call of `device` (see the module documentation): it rang `device`,
/// nobody answered, and it ended missed, cancelled or rejected.
pub fn is_missed_by(r: &CallRecord, device: u64) -> bool {
    r.callee_devices.contains(&device)
        && r.answered_by.is_none()
        && matches!(
            r.status,
            CallStatus::Missed | CallStatus::Cancelled | CallStatus::Rejected
        )
}

/// Whether `device` took part in `r`: it called, was rung or answered.
pub fn involves(r: &CallRecord, device: u64) -> bool {
    r.caller_device == Some(device)
        || r.callee_devices.contains(&device)
        || r.answered_by == Some(device)
}

/// Default page size.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page size.
pub const MAX_LIMIT: usize = 500;

/// Search criteria as typed (query string or form); every field is optional and an empty value
/// counts as absent.
#[derive(Deserialize, Serialize, Debug, Default, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct CallQuery {
    /// Only calls this device (id) made, was rung for or answered.
    #[param(value_type = Option<u64>)]
    pub device: Option<String>,
    /// Started at or after this time (RFC 3339 or `YYYY-MM-DD`).
    pub from: Option<String>,
    /// Started at or before this time (RFC 3339 or `YYYY-MM-DD`, the whole day;
    /// `YYYY-MM-DDTHH:MM`, the whole minute).
    pub to: Option<String>,
    /// How the call ended: answered, missed, rejected, busy, cancelled or failed.
    #[param(value_type = Option<CallStatus>)]
    pub status: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(value_type = Option<usize>)]
    pub limit: Option<String>,
    /// Matches to skip (newest first), default 0.
    #[param(value_type = Option<usize>)]
    pub offset: Option<String>,
}

/// Which records a search is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Calls the device made, was rung for or answered ([`involves`]).
    Device(u64),
    /// The device's missed calls ([`is_missed_by`]).
    MissedBy(u64),
}

/// Checked search criteria. Times are ms since the epoch, both bounds inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub scope: Scope,
    pub from: Option<u64>,
    pub to: Option<u64>,
    pub status: Option<CallStatus>,
    pub limit: usize,
    pub offset: usize,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            scope: Scope::All,
            from: None,
            to: None,
            status: None,
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn whole<T: std::str::FromStr>(v: &Option<String>, field: &'static str) -> Result<Option<T>> {
    match given(v) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            Error::invalid(
                "call_query_number",
                field,
                format!("{field} must be a whole number, not \"{s}\""),
            )
        }),
    }
}

impl CallQuery {
    /// Checks the criteria; errors name the field and the rule.
    pub fn filter(&self) -> Result<Filter> {
        let time = |v: &Option<String>, field: &'static str| -> Result<Option<u64>> {
            match given(v) {
                None => Ok(None),
                Some(s) => crate::time::parse(s).map(Some).ok_or_else(|| {
                    Error::invalid(
                        "time_format",
                        field,
                        "expected a time like 2026-11-30 or 2026-11-30T08:00:00Z",
                    )
                }),
            }
        };
        let from = time(&self.from, "from")?.map(|s| s * 1000);
        let to = time(&self.to, "to")?.map(|s| {
            // the end is inclusive: a plain date means the whole day, a time without seconds
            // (`2026-11-30T08:00`, as a datetime-local input sends) the whole minute
            let span = match given(&self.to).map(str::len) {
                Some(10) => 86_400_000,
                Some(16) => 60_000,
                _ => 1_000,
            };
            s * 1000 + span - 1
        });
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Err(Error::invalid(
                    "time_range",
                    "to",
                    "the end of the time range is before its start",
                ));
            }
        }
        let status = match given(&self.status) {
            None => None,
            Some(s) => Some(CallStatus::parse(s).ok_or_else(|| {
                Error::invalid(
                    "call_status",
                    "status",
                    format!(
                        "status is one of {}, not \"{s}\"",
                        CallStatus::ALL.map(CallStatus::as_str).join(", ")
                    ),
                )
            })?),
        };
        let limit = whole::<usize>(&self.limit, "limit")?.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid(
                "call_query_limit",
                "limit",
                format!("limit is from 1 to {MAX_LIMIT}"),
            ));
        }
        Ok(Filter {
            scope: match whole::<u64>(&self.device, "device")? {
                Some(d) => Scope::Device(d),
                None => Scope::All,
            },
            from,
            to,
            status,
            limit,
            offset: whole(&self.offset, "offset")?.unwrap_or(0),
        })
    }
}

impl Filter {
    pub fn matches(&self, r: &CallRecord) -> bool {
        let scope = match self.scope {
            Scope::All => true,
            Scope::Device(d) => involves(r, d),
            Scope::MissedBy(d) => is_missed_by(r, d),
        };
        scope
            && self.from.is_none_or(|f| r.started >= f)
            && self.to.is_none_or(|t| r.started <= t)
            && self.status.is_none_or(|s| r.status == s)
    }
}

/// A device as a record shows it: its id, name and registration number (empty when the device
/// or its registration was deleted since; the caller keeps the number it called from).
#[derive(Serialize, Clone, Debug, PartialEq, Eq, ToSchema)]
pub struct Party {
    pub device: Option<u64>,
    pub name: String,
    pub number: String,
}

/// One call record as listed.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct CallView {
    /// The record's id (its place in the table; larger is stored later).
    pub id: u64,
    pub call_id: String,
    pub caller: Party,
    /// What was dialled (a full number, a room code, the management centre).
    pub callee_number: String,
    /// Every device that was rung.
    pub callee_devices: Vec<Party>,
    pub answered_by: Option<Party>,
    /// RFC 3339.
    pub started: String,
    /// RFC 3339, when answered.
    pub answered: Option<String>,
    /// RFC 3339.
    pub ended: String,
    /// From answer to end (0 when not answered).
    pub duration_seconds: u64,
    pub status: CallStatus,
    /// The final SIP status code the caller got.
    pub sip_code: u16,
}

/// One page of matches, newest first.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct CallPage {
    /// Matches in all.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub records: Vec<CallView>,
}

/// Name and registration number of each device.
pub(crate) fn directory(txn: &redb::ReadTransaction) -> Result<HashMap<u64, (String, String)>> {
    let devices =
        crate::intercom::devices::all(&txn.open_table(DEVICES).map_err(StoreError::from)?)?;
    let regs = crate::intercom::registrations::read_table(
        &txn.open_table(REGISTRATIONS).map_err(StoreError::from)?,
    )?;
    let mut out: HashMap<u64, (String, String)> = devices
        .into_iter()
        .map(|d| (d.id, (d.name, String::new())))
        .collect();
    for r in regs {
        if let Some(e) = out.get_mut(&r.device) {
            e.1 = r.number;
        }
    }
    Ok(out)
}

/// Name and registration number of each device, read in one go (for [`party`]).
pub fn names(app: &App) -> Result<HashMap<u64, (String, String)>> {
    app.store.read(directory)
}

/// `device` with its name and registration number from `names` (empty when unknown).
pub fn party(names: &HashMap<u64, (String, String)>, device: u64) -> Party {
    let (name, number) = names.get(&device).cloned().unwrap_or_default();
    Party {
        device: Some(device),
        name,
        number,
    }
}

fn ms_rfc3339(ms: u64) -> String {
    crate::time::rfc3339(ms / 1000)
}

impl CallRecord {
    /// The record as listed, with names and numbers from `names`.
    pub fn view(&self, id: u64, names: &HashMap<u64, (String, String)>) -> CallView {
        let caller = match self.caller_device {
            Some(d) => {
                let mut p = party(names, d);
                if p.number.is_empty() {
                    p.number = self.caller_number.clone();
                }
                p
            }
            None => Party {
                device: None,
                name: String::new(),
                number: self.caller_number.clone(),
            },
        };
        CallView {
            id,
            call_id: self.call_id.clone(),
            caller,
            callee_number: self.callee_number.clone(),
            callee_devices: self
                .callee_devices
                .iter()
                .map(|d| party(names, *d))
                .collect(),
            answered_by: self.answered_by.map(|d| party(names, d)),
            started: ms_rfc3339(self.started),
            answered: self.answered.map(ms_rfc3339),
            ended: ms_rfc3339(self.ended),
            duration_seconds: self.duration_seconds(),
            status: self.status,
            sip_code: self.sip_code,
        }
    }
}

/// The records matching `f`, newest first, one page. Reads every stored record once (the table
/// is bounded by the retention) and keeps only the start time and id of each match.
pub fn search(app: &App, f: &Filter) -> Result<CallPage> {
    app.store.read(|txn| {
        let t = txn.open_table(CALL_RECORDS).map_err(StoreError::from)?;
        let mut hits: Vec<(u64, u64)> = Vec::new();
        for row in t.iter().map_err(StoreError::from)? {
            let (k, v) = row.map_err(StoreError::from)?;
            let r: CallRecord = codec::decode(v.value())?;
            if f.matches(&r) {
                hits.push((r.started, k.value()));
            }
        }
        hits.sort_unstable_by(|a, b| b.cmp(a));
        let names = directory(txn)?;
        let mut records = Vec::new();
        for (_, id) in hits.iter().skip(f.offset).take(f.limit) {
            if let Some(g) = t.get(*id).map_err(StoreError::from)? {
                let r: CallRecord = codec::decode(g.value())?;
                records.push(r.view(*id, &names));
            }
        }
        Ok(CallPage {
            total: hits.len(),
            offset: f.offset,
            limit: f.limit,
            records,
        })
    })
}

/// Searches with criteria as typed.
pub fn query(app: &App, q: &CallQuery) -> Result<CallPage> {
    search(app, &q.filter()?)
}

/// The missed calls of `device` (see the module documentation), with the time range and paging
/// of `q` (its `device` is ignored; a `status` narrows them further).
pub fn missed(app: &App, device: u64, q: &CallQuery) -> Result<CallPage> {
    let mut f = q.filter()?;
    f.scope = Scope::MissedBy(device);
    search(app, &f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(retention: u64) -> (tempfile::TempDir, App) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            data_dir: dir.path().to_owned(),
            call_record_retention: retention,
            ..Default::default()
        };
        (dir, App::open(config).unwrap())
    }

    const T0: u64 = 1_800_000_000_000; // 2027-01-15T08:00:00Z

    fn rec(
        id: &str,
        started: u64,
        caller: u64,
        rung: &[u64],
        answered_by: Option<u64>,
        status: CallStatus,
    ) -> CallRecord {
        CallRecord {
            call_id: id.into(),
            caller_number: format!("n{caller}"),
            caller_device: Some(caller),
            callee_number: "888888".into(),
            callee_devices: rung.to_vec(),
            started,
            answered: answered_by.map(|_| started + 5_000),
            ended: started + 65_000,
            answered_by,
            status,
            sip_code: if answered_by.is_some() { 200 } else { 408 },
        }
    }

    fn ids(p: &CallPage) -> Vec<&str> {
        p.records.iter().map(|r| r.call_id.as_str()).collect()
    }

    fn q(pairs: &[(&str, &str)]) -> CallQuery {
        let v = serde_json::Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
                .collect(),
        );
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn retention_drops_the_oldest_first_and_ids_keep_growing() {
        let (_d, app) = app(3);
        let hour = 3_600_000;
        let batch1: Vec<_> = (0..2)
            .map(|i| {
                rec(
                    &format!("c{i}"),
                    T0 + i * hour,
                    1,
                    &[2],
                    None,
                    CallStatus::Missed,
                )
            })
            .collect();
        append(&app, &batch1).unwrap();
        append(&app, &[]).unwrap();
        let batch2: Vec<_> = (2..5)
            .map(|i| {
                rec(
                    &format!("c{i}"),
                    T0 + i * hour,
                    1,
                    &[2],
                    None,
                    CallStatus::Missed,
                )
            })
            .collect();
        append(&app, &batch2).unwrap();
        let p = search(&app, &Filter::default()).unwrap();
        assert_eq!(p.total, 3);
        assert_eq!(ids(&p), ["c4", "c3", "c2"]);
        assert_eq!(
            p.records.iter().map(|r| r.id).collect::<Vec<_>>(),
            [5, 4, 3]
        );
        // one batch larger than the retention keeps only its newest
        let big: Vec<_> = (5..10)
            .map(|i| {
                rec(
                    &format!("c{i}"),
                    T0 + i * hour,
                    1,
                    &[2],
                    None,
                    CallStatus::Missed,
                )
            })
            .collect();
        append(&app, &big).unwrap();
        let p = search(&app, &Filter::default()).unwrap();
        assert_eq!(ids(&p), ["c9", "c8", "c7"]);
        assert_eq!(p.records[0].id, 10);
    }

    #[test]
    fn filters_by_device_time_and_status_newest_first() {
        let (_d, app) = app(100);
        let min = 60_000;
        append(
            &app,
            &[
                // stored out of start order: the list is by start time
                rec(
                    "late",
                    T0 + 50 * min,
                    7,
                    &[8],
                    Some(8),
                    CallStatus::Answered,
                ),
                rec("a", T0, 1, &[2, 3], Some(3), CallStatus::Answered),
                rec("b", T0 + min, 4, &[2], None, CallStatus::Missed),
                rec("c", T0 + 2 * min, 2, &[5], None, CallStatus::Busy),
                rec("d", T0 + 86_400_000, 6, &[9], None, CallStatus::Failed),
            ],
        )
        .unwrap();
        let all = query(&app, &CallQuery::default()).unwrap();
        assert_eq!(ids(&all), ["d", "late", "c", "b", "a"]);
        // device 2: rung on a and b, caller of c
        assert_eq!(
            ids(&query(&app, &q(&[("device", "2")])).unwrap()),
            ["c", "b", "a"]
        );
        // device 3: answered a
        assert_eq!(ids(&query(&app, &q(&[("device", "3")])).unwrap()), ["a"]);
        assert_eq!(
            ids(&query(&app, &q(&[("status", "missed")])).unwrap()),
            ["b"]
        );
        // the whole day of T0 (2027-01-15), and an exact minute range
        assert_eq!(
            ids(&query(&app, &q(&[("from", "2027-01-15"), ("to", "2027-01-15")])).unwrap()),
            ["late", "c", "b", "a"]
        );
        assert_eq!(
            ids(&query(
                &app,
                &q(&[
                    ("from", "2027-01-15T08:01:00Z"),
                    ("to", "2027-01-15T08:02:00Z")
                ])
            )
            .unwrap()),
            ["c", "b"]
        );
        assert_eq!(
            ids(&query(&app, &q(&[("from", "2027-01-16")])).unwrap()),
            ["d"]
        );

        // paging
        let p = query(&app, &q(&[("limit", "2"), ("offset", "1")])).unwrap();
        assert_eq!((p.total, p.offset, p.limit), (5, 1, 2));
        assert_eq!(ids(&p), ["late", "c"]);
        let p = query(&app, &q(&[("limit", "2"), ("offset", "4")])).unwrap();
        assert_eq!(ids(&p), ["a"]);
        let p = query(&app, &q(&[("offset", "9")])).unwrap();
        assert!(p.records.is_empty());
        assert_eq!(p.total, 5);
        // empty values count as absent (what a form sends)
        let p = query(&app, &q(&[("device", ""), ("status", " "), ("from", "")])).unwrap();
        assert_eq!(p.total, 5);
    }

    #[test]
    fn the_end_of_a_range_takes_its_whole_second_minute_or_day() {
        let (_d, app) = app(100);
        append(
            &app,
            &[
                rec("x", T0 + 59_500, 1, &[2], None, CallStatus::Missed),
                rec("y", T0 + 60_000, 1, &[2], None, CallStatus::Missed),
            ],
        )
        .unwrap();
        let found = |to: &str| ids(&query(&app, &q(&[("to", to)])).unwrap()).len();
        // x started at 08:00:59.5
        assert_eq!(found("2027-01-15T08:00:58Z"), 0);
        assert_eq!(found("2027-01-15T08:00:59Z"), 1);
        assert_eq!(found("2027-01-15T08:00"), 1);
        assert_eq!(found("2027-01-15T08:01"), 2);
        assert_eq!(found("2027-01-14"), 0);
        assert_eq!(found("2027-01-15"), 2);
    }

    #[test]
    fn views_carry_names_numbers_times_and_duration() {
        let (_d, app) = app(100);
        let r = rec("a", T0, 1, &[2], Some(2), CallStatus::Answered);
        append(&app, std::slice::from_ref(&r)).unwrap();
        let v = &query(&app, &CallQuery::default()).unwrap().records[0];
        assert_eq!(v.started, "2027-01-15T08:00:00Z");
        assert_eq!(v.answered.as_deref(), Some("2027-01-15T08:00:05Z"));
        assert_eq!(v.ended, "2027-01-15T08:01:05Z");
        assert_eq!(v.duration_seconds, 60);
        // device 1 is unknown here: the number it called from is kept
        assert_eq!(
            v.caller,
            Party {
                device: Some(1),
                name: String::new(),
                number: "n1".into()
            }
        );
        assert_eq!(v.answered_by.as_ref().and_then(|p| p.device), Some(2));
    }

    #[test]
    fn missed_calls_are_the_unanswered_calls_that_rang_the_device() {
        let (_d, app) = app(100);
        let s = 1_000;
        append(
            &app,
            &[
                rec(
                    "answered-by-other",
                    T0,
                    1,
                    &[2, 3],
                    Some(3),
                    CallStatus::Answered,
                ),
                rec("timed-out", T0 + s, 1, &[2, 3], None, CallStatus::Missed),
                rec(
                    "caller-gave-up",
                    T0 + 2 * s,
                    1,
                    &[2],
                    None,
                    CallStatus::Cancelled,
                ),
                rec("declined", T0 + 3 * s, 1, &[2], None, CallStatus::Rejected),
                rec("busy", T0 + 4 * s, 1, &[2], None, CallStatus::Busy),
                rec("failed", T0 + 5 * s, 1, &[2], None, CallStatus::Failed),
                rec("not-rung", T0 + 6 * s, 1, &[3], None, CallStatus::Missed),
                rec("made-by-2", T0 + 7 * s, 2, &[3], None, CallStatus::Missed),
            ],
        )
        .unwrap();
        let p = missed(&app, 2, &CallQuery::default()).unwrap();
        assert_eq!(ids(&p), ["declined", "caller-gave-up", "timed-out"]);
        let p = missed(&app, 3, &CallQuery::default()).unwrap();
        assert_eq!(ids(&p), ["made-by-2", "not-rung", "timed-out"]);
        // the device of the query is ignored; status and paging still apply
        let p = missed(&app, 2, &q(&[("device", "3"), ("status", "missed")])).unwrap();
        assert_eq!(ids(&p), ["timed-out"]);
        let p = missed(&app, 2, &q(&[("limit", "1"), ("offset", "1")])).unwrap();
        assert_eq!((p.total, ids(&p)), (3, vec!["caller-gave-up"]));
        assert_eq!(missed(&app, 99, &CallQuery::default()).unwrap().total, 0);
    }

    #[test]
    fn bad_criteria_name_their_field() {
        let field = |pairs: &[(&str, &str)]| match q(pairs).filter() {
            Err(Error::Invalid { field, code, .. }) => (field.unwrap_or(""), code),
            other => panic!("{pairs:?}: {other:?}"),
        };
        assert_eq!(field(&[("device", "x")]), ("device", "call_query_number"));
        assert_eq!(field(&[("offset", "-1")]), ("offset", "call_query_number"));
        assert_eq!(field(&[("limit", "0")]), ("limit", "call_query_limit"));
        assert_eq!(field(&[("limit", "501")]), ("limit", "call_query_limit"));
        assert_eq!(field(&[("status", "lost")]), ("status", "call_status"));
        assert_eq!(field(&[("from", "yesterday")]), ("from", "time_format"));
        assert_eq!(
            field(&[("from", "2027-01-02"), ("to", "2027-01-01")]),
            ("to", "time_range")
        );
        let f = q(&[("limit", "500"), ("status", "busy"), ("device", "4")])
            .filter()
            .unwrap();
        assert_eq!(
            (f.limit, f.status, f.scope),
            (500, Some(CallStatus::Busy), Scope::Device(4))
        );
    }
}
