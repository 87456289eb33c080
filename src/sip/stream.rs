//! SIP over TCP (`--sip-addr`) and TLS (`--sips-addr`, rustls with the box certificate): accept
//! loops with a bound on open connections, RFC 3261 §18.3 framing by Content-Length, and the
//! per-connection send queues the service writes to. Owns the stream sockets only.
//!
//! STUB: the transports work fills this in; until then only UDP is served.
