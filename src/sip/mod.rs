//! SIP for door stations, indoor monitors, master stations and managers' softphones.
//!
//! `endpoint` is the sans-IO protocol core: datagrams and time in, actions (datagrams to send)
//! out, with no socket inside. `udp` is the thin tokio adapter for `--sip-addr`. What works today:
//! OPTIONS is answered `200 OK` (keep-alive and reachability probes, RFC 3261 §11); every other
//! request gets `501 Not Implemented` until the registrar and the call router land — the same
//! answer for every user name, so nothing can be enumerated. Owns nothing of the store yet.

pub mod endpoint;
pub mod udp;
