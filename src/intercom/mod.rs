//! Intercom configuration (manual chapter 3): what an installer sets up on day one. So far the
//! pure decisions: `unlock` (what a visitor types on a door station → which room opens, or why
//! not) and `ringing` (who rings, in which order, for a call to the management centre). The
//! building organization, device registry, registration numbers and notices follow. Owns no table
//! yet; knows nothing of HTTP or SIP.

pub mod ringing;
pub mod unlock;
