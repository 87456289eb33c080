//! Intercom configuration (manual chapter 3): what an installer sets up on day one. So far:
//! `organization` (compound, buildings, units, rooms, batch creation), `devices` (the device
//! registry) and two pure decisions:
//! `unlock` (what a visitor types on a door station → which room opens, or why not) and `ringing`
//! (who rings, in which order, for a call to the management centre). Registration
//! numbers, room passwords, call groups and notices follow. Knows nothing of HTTP or SIP.

pub mod device_transfer;
pub mod devices;
pub mod organization;
pub mod registrations;
pub mod ringing;
pub mod room_passwords;
pub mod unlock;
