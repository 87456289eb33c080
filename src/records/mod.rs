//! Records of what happened at the building's devices: call records today (`calls`). Owns the
//! record tables and their retention; knows nothing of SIP or HTTP.

pub mod calls;
