//! Version facts baked in at build time: package version, git commit and target triple.

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("GATEHOUSE_GIT_COMMIT");
pub const TARGET: &str = env!("GATEHOUSE_TARGET");
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("GATEHOUSE_GIT_COMMIT"),
    ", target ",
    env!("GATEHOUSE_TARGET"),
    ")"
);
