//! Every redb table of Gatehouse, declared in this one place, with the generic copy and clear used
//! by backup, restore and factory reset. Values are always versioned postcard (see `codec`); keys are
//! either a string or a sequence number. A new table is added here and to `STR_TABLES` or
//! `SEQ_TABLES`, and nowhere else.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{Result, SeqTable, StrTable};

/// Store header: `magic`, `schema`.
pub const META: StrTable = StrTable::new("meta");
/// Accounts of the page and API, keyed by lower-cased user name.
pub const ACCOUNTS: StrTable = StrTable::new("accounts");
/// Settings and singletons (company, logo, …), keyed by a fixed name.
pub const SETTINGS: StrTable = StrTable::new("settings");
/// Audit log, keyed by a growing sequence number.
pub const AUDIT: SeqTable = SeqTable::new("audit");
/// Departments, keyed by id (1 is the company, the root).
pub const DEPARTMENTS: SeqTable = SeqTable::new("departments");
/// Persons, keyed by person ID.
pub const PERSONS: StrTable = StrTable::new("persons");
/// Per person: department and lower-cased name, for fast search and counts.
pub const PERSON_INDEX: StrTable = StrTable::new("person_index");
/// Card number (canonical hex) → person ID: one owner per card.
pub const CARDS: StrTable = StrTable::new("cards");
/// Person photos, keyed by person ID (stored once, apart from the person record).
pub const PHOTOS: StrTable = StrTable::new("photos");
/// Buildings of the compound, keyed by id.
pub const BUILDINGS: SeqTable = SeqTable::new("buildings");
/// Units of buildings, keyed by id.
pub const UNITS: SeqTable = SeqTable::new("units");
/// Rooms, keyed by id.
pub const ROOMS: SeqTable = SeqTable::new("rooms");
/// Intercom and access devices (manual 3.2), keyed by id.
pub const DEVICES: SeqTable = SeqTable::new("devices");
/// Registration numbers of devices (manual 3.2), keyed by device id.
pub const REGISTRATIONS: SeqTable = SeqTable::new("registrations");
/// Sending status of room unlock passwords (manual 3.3), keyed `<room>/<device>`.
pub const SEND_STATUS: StrTable = StrTable::new("send_status");
/// Call groups (manual 3.4), keyed by id.
pub const CALL_GROUPS: SeqTable = SeqTable::new("call_groups");
/// Notices of information release (manual 3.5), keyed by id.
pub const NOTICES: SeqTable = SeqTable::new("notices");
/// Live SIP registrations (bindings) of devices, keyed `<device>/<contact key>`, so they survive
/// a restart.
pub const SIP_BINDINGS: StrTable = StrTable::new("sip_bindings");
/// Call records, keyed by a growing sequence number (oldest dropped first).
pub const CALL_RECORDS: SeqTable = SeqTable::new("call_records");
/// Users pushed by devices (person collection), keyed by `<device>/<user id>`.
pub const COLLECTED: StrTable = StrTable::new("collected_users");

/// Tables with string keys that a backup carries (the header is written by the store itself).
pub const STR_TABLES: &[StrTable] = &[
    ACCOUNTS,
    SETTINGS,
    PERSONS,
    PERSON_INDEX,
    CARDS,
    PHOTOS,
    COLLECTED,
    SEND_STATUS,
    SIP_BINDINGS,
];
/// Tables with sequence keys that a backup carries.
pub const SEQ_TABLES: &[SeqTable] = &[
    AUDIT,
    DEPARTMENTS,
    BUILDINGS,
    UNITS,
    ROOMS,
    DEVICES,
    REGISTRATIONS,
    CALL_GROUPS,
    NOTICES,
    CALL_RECORDS,
];

pub(super) fn create_all(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(META)?;
    for t in STR_TABLES {
        txn.open_table(*t)?;
    }
    for t in SEQ_TABLES {
        txn.open_table(*t)?;
    }
    Ok(())
}

pub(super) fn clear_all(txn: &WriteTransaction) -> Result<()> {
    for t in STR_TABLES {
        txn.open_table(*t)?.retain(|_, _| false)?;
    }
    for t in SEQ_TABLES {
        txn.open_table(*t)?.retain(|_, _| false)?;
    }
    Ok(())
}

pub(super) fn copy_all(from: &ReadTransaction, to: &WriteTransaction) -> Result<()> {
    copy_table(from, to, META)?;
    for t in STR_TABLES {
        copy_table(from, to, *t)?;
    }
    for t in SEQ_TABLES {
        copy_table(from, to, *t)?;
    }
    Ok(())
}

/// Copies every row of `def`; a table the source lacks (an older layout) is skipped.
fn copy_table<K: redb::Key + 'static>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    def: redb::TableDefinition<'static, K, &'static [u8]>,
) -> Result<()> {
    let src = match from.open_table(def) {
        Ok(s) => s,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut dst = to.open_table(def)?;
    for row in src.iter()? {
        let (k, v) = row?;
        dst.insert(k.value(), v.value())?;
    }
    Ok(())
}
