//! Intercom configuration (manual chapter 3): what an installer sets up on day one —
//! `organization` (compound, buildings, units, rooms, batch creation), `devices` (the device
//! registry), `registrations` (dial management: VTH, VTO and VTS numbers with their SIP passwords),
//! `device_transfer` (export/import of the device list), `room_passwords` (unlock passwords with
//! their sending status), `call_groups` and `notices` (information release), and two pure
//! decisions: `unlock` (what a visitor types on a door station → which room opens, or why not) and
//! `ringing` (who rings, in which order, for a call to the management centre). Knows nothing of
//! HTTP or SIP.

pub mod call_groups;
pub mod configtool;
pub mod device_transfer;
pub mod devices;
pub mod notices;
pub mod organization;
pub mod registrations;
pub mod ringing;
pub mod room_passwords;
pub mod unlock;
