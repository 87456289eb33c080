//! Configuration: the command line (`clap`), `GATEHOUSE_*` environment variables and the TOML
//! config file, merged in that order of precedence over the built-in defaults (the same values as
//! `board/gatehouse.toml` documents). Owns parsing and validation of settings only; it starts
//! nothing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

#[derive(Parser, Debug)]
#[command(
    name = "gatehouse",
    version = crate::version::LONG,
    about = "Gatehouse: the building's video-intercom and access-control controller",
    long_about = "Gatehouse: the building's video-intercom and access-control controller.\n\n\
Every option can also be given in the TOML file named by --config (keys as the long option \
without dashes' prefix, e.g. `https-addr = \"0.0.0.0:443\"`) or as an environment variable \
GATEHOUSE_<OPTION> (e.g. GATEHOUSE_HTTPS_ADDR). The command line wins over the environment, \
which wins over the file, which wins over the defaults."
)]
pub struct Cli {
    #[command(flatten)]
    pub opts: Opts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the service: HTTPS page and API (and, as they land, SIP and serial readers).
    Run,
    /// Write a consistent copy of the store to FILE; works while the service runs.
    Backup { file: PathBuf },
    /// Replace the store with the backup FILE (the service must be stopped; the page can restore
    /// while running). Refuses a file that is not a Gatehouse store.
    Restore {
        file: PathBuf,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Wipe every account, setting and record, and the uploaded certificate (the service must be
    /// stopped). Asks for confirmation.
    FactoryReset {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Options shared by every command. `None` means "not given here": the file or default decides.
#[derive(Args, Debug, Default)]
pub struct Opts {
    /// TOML config file (see board/gatehouse.toml for every key and its default).
    #[arg(long, env = "GATEHOUSE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory holding the store, the certificate and uploads; created if missing.
    /// [default: ./gatehouse-data]
    #[arg(long, env = "GATEHOUSE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Address of the HTTPS page and API. [default: 0.0.0.0:8443]
    #[arg(long, env = "GATEHOUSE_HTTPS_ADDR", global = true)]
    pub https_addr: Option<SocketAddr>,
    /// Optional plain-HTTP address that only redirects to HTTPS (e.g. 0.0.0.0:80). [default: off]
    #[arg(long, env = "GATEHOUSE_HTTP_REDIRECT_ADDR", global = true)]
    pub http_redirect_addr: Option<SocketAddr>,
    /// SIP over UDP and TCP. [default: 0.0.0.0:5060]
    #[arg(long, env = "GATEHOUSE_SIP_ADDR", global = true)]
    pub sip_addr: Option<SocketAddr>,
    /// SIP over TLS. [default: 0.0.0.0:5061]
    #[arg(long, env = "GATEHOUSE_SIPS_ADDR", global = true)]
    pub sips_addr: Option<SocketAddr>,
    /// Log level: error, warn, info, debug or trace. [default: info]
    #[arg(long, env = "GATEHOUSE_LOG_LEVEL", global = true)]
    pub log_level: Option<String>,
    /// Idle time after which a session ends, e.g. 30m, 2h, 90s. [default: 30m]
    #[arg(long, env = "GATEHOUSE_SESSION_IDLE_TIMEOUT", global = true, value_parser = humantime::parse_duration)]
    pub session_idle_timeout: Option<Duration>,
    /// Failed logins (per account and per source address) before a lock-out. [default: 5]
    #[arg(long, env = "GATEHOUSE_LOCKOUT_THRESHOLD", global = true)]
    pub lockout_threshold: Option<u32>,
    /// How long a lock-out lasts, e.g. 30m. [default: 30m]
    #[arg(long, env = "GATEHOUSE_LOCKOUT_DURATION", global = true, value_parser = humantime::parse_duration)]
    pub lockout_duration: Option<Duration>,
    /// Most HTTPS connections served at once; more wait in the kernel backlog. [default: 64]
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,
    /// Most audit-log entries kept; the oldest are dropped first. [default: 100000]
    #[arg(long, env = "GATEHOUSE_AUDIT_RETENTION", global = true)]
    pub audit_retention: Option<u64>,
    /// Most signed-in sessions at once. [default: 64]
    #[arg(long, env = "GATEHOUSE_MAX_SESSIONS", global = true)]
    pub max_sessions: Option<usize>,
    /// Where the kernel's ARP table is read to learn a client's MAC address for MAC allow-lists.
    /// [default: /proc/net/arp]
    #[arg(long, env = "GATEHOUSE_ARP_TABLE", global = true)]
    pub arp_table: Option<PathBuf>,
    /// How often a registered device that sends nothing is probed with OPTIONS; a device that
    /// does not answer is shown offline. [default: 60s]
    #[arg(long, env = "GATEHOUSE_SIP_KEEPALIVE_INTERVAL", global = true, value_parser = humantime::parse_duration)]
    pub sip_keepalive_interval: Option<Duration>,
    /// Failed SIP authentications from one source address before it is ignored. [default: 20]
    #[arg(long, env = "GATEHOUSE_SIP_BAN_THRESHOLD", global = true)]
    pub sip_ban_threshold: Option<u32>,
    /// How long a source with too many failed SIP authentications is ignored. [default: 10m]
    #[arg(long, env = "GATEHOUSE_SIP_BAN_DURATION", global = true, value_parser = humantime::parse_duration)]
    pub sip_ban_duration: Option<Duration>,
    /// Most SIP requests per second accepted from one source address; more are dropped.
    /// [default: 200]
    #[arg(long, env = "GATEHOUSE_SIP_RATE_LIMIT", global = true)]
    pub sip_rate_limit: Option<u32>,
    /// Most SIP TCP and TLS connections open at once. [default: 256]
    #[arg(long, env = "GATEHOUSE_SIP_MAX_CONNECTIONS", global = true)]
    pub sip_max_connections: Option<usize>,
    /// Shortest registration a device may ask for (seconds); shorter gets 423. [default: 60]
    #[arg(long, env = "GATEHOUSE_SIP_MIN_EXPIRES", global = true)]
    pub sip_min_expires: Option<u32>,
    /// Longest registration granted (seconds); longer is cut to this. [default: 3600]
    #[arg(long, env = "GATEHOUSE_SIP_MAX_EXPIRES", global = true)]
    pub sip_max_expires: Option<u32>,
    /// Digest algorithms offered in SIP challenges, in order, comma-separated: md5, sha-256.
    /// Devices whose SIP stack gives up at an algorithm it does not know (baresip 1.0) need
    /// `md5` alone. [default: md5,sha-256]
    #[arg(long, env = "GATEHOUSE_SIP_DIGEST_ALGORITHMS", global = true)]
    pub sip_digest_algorithms: Option<String>,
    /// The number devices dial to reach the management centre (manual 3.4). [default: 888888]
    #[arg(long, env = "GATEHOUSE_MANAGEMENT_CENTRE_NUMBER", global = true)]
    pub management_centre_number: Option<String>,
    /// Most call records kept; the oldest are dropped first. [default: 100000]
    #[arg(long, env = "GATEHOUSE_CALL_RECORD_RETENTION", global = true)]
    pub call_record_retention: Option<u64>,
    /// The desktop card issuer on a serial port: pn532 (13.56 MHz IC cards, HSU/UART), em4100
    /// (125 kHz ID cards, RDM6300-family ASCII readers) or none. [default: pn532]
    #[arg(long, env = "GATEHOUSE_CARD_READER", global = true)]
    pub card_reader: Option<String>,
    /// Serial port of the card issuer (the board's udev name). [default: /dev/gatehouse-card]
    #[arg(long, env = "GATEHOUSE_CARD_READER_PORT", global = true)]
    pub card_reader_port: Option<PathBuf>,
    /// Baud rate of the card issuer. [default: 115200 for pn532, 9600 for em4100]
    #[arg(long, env = "GATEHOUSE_CARD_READER_BAUD", global = true)]
    pub card_reader_baud: Option<u32>,
    /// The fingerprint scanner: r30x (R307, R503, AS608 and other ZFM sensors) or none.
    /// [default: r30x]
    #[arg(long, env = "GATEHOUSE_FINGERPRINT_SCANNER", global = true)]
    pub fingerprint_scanner: Option<String>,
    /// Serial port of the fingerprint scanner (the board's udev name). [default: /dev/gatehouse-fp]
    #[arg(long, env = "GATEHOUSE_FINGERPRINT_PORT", global = true)]
    pub fingerprint_port: Option<PathBuf>,
    /// Baud rate of the fingerprint scanner. [default: 57600]
    #[arg(long, env = "GATEHOUSE_FINGERPRINT_BAUD", global = true)]
    pub fingerprint_baud: Option<u32>,
    /// The scanner's password (VerifyPassword), 0 unless it was changed. [default: 0]
    #[arg(long, env = "GATEHOUSE_FINGERPRINT_PASSWORD", global = true)]
    pub fingerprint_password: Option<u32>,
    /// How long a reader may stay silent after a command before it "does not answer". [default: 1s]
    #[arg(long, env = "GATEHOUSE_READER_ANSWER_TIMEOUT", global = true, value_parser = humantime::parse_duration)]
    pub reader_answer_timeout: Option<Duration>,
    /// Hidden: turns on the test-only routes (e.g. POST /api/v1/person-collection/test-push).
    /// For the test suite only; never set it on a real box. Not read from the config file.
    #[arg(long, env = "GATEHOUSE_TEST_HOOKS", global = true, hide = true,
          action = clap::ArgAction::SetTrue, value_parser = clap::builder::FalseyValueParser::new())]
    pub test_hooks: bool,
}

/// The TOML file: the same keys as the long options.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    https_addr: Option<SocketAddr>,
    http_redirect_addr: Option<SocketAddr>,
    sip_addr: Option<SocketAddr>,
    sips_addr: Option<SocketAddr>,
    log_level: Option<String>,
    #[serde(default, with = "opt_duration")]
    session_idle_timeout: Option<Duration>,
    lockout_threshold: Option<u32>,
    #[serde(default, with = "opt_duration")]
    lockout_duration: Option<Duration>,
    max_connections: Option<usize>,
    audit_retention: Option<u64>,
    max_sessions: Option<usize>,
    arp_table: Option<PathBuf>,
    #[serde(default, with = "opt_duration")]
    sip_keepalive_interval: Option<Duration>,
    sip_ban_threshold: Option<u32>,
    #[serde(default, with = "opt_duration")]
    sip_ban_duration: Option<Duration>,
    sip_rate_limit: Option<u32>,
    sip_max_connections: Option<usize>,
    sip_min_expires: Option<u32>,
    sip_max_expires: Option<u32>,
    management_centre_number: Option<String>,
    call_record_retention: Option<u64>,
    sip_digest_algorithms: Option<String>,
    card_reader: Option<String>,
    card_reader_port: Option<PathBuf>,
    card_reader_baud: Option<u32>,
    fingerprint_scanner: Option<String>,
    fingerprint_port: Option<PathBuf>,
    fingerprint_baud: Option<u32>,
    fingerprint_password: Option<u32>,
    #[serde(default, with = "opt_duration")]
    reader_answer_timeout: Option<Duration>,
}

mod opt_duration {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| humantime::parse_duration(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// The effective settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub https_addr: SocketAddr,
    pub http_redirect_addr: Option<SocketAddr>,
    pub sip_addr: SocketAddr,
    pub sips_addr: SocketAddr,
    pub log_level: String,
    pub session_idle_timeout: Duration,
    pub lockout_threshold: u32,
    pub lockout_duration: Duration,
    pub max_connections: usize,
    pub audit_retention: u64,
    pub max_sessions: usize,
    pub arp_table: PathBuf,
    pub sip_keepalive_interval: Duration,
    pub sip_ban_threshold: u32,
    pub sip_ban_duration: Duration,
    pub sip_rate_limit: u32,
    pub sip_max_connections: usize,
    pub sip_min_expires: u32,
    pub sip_max_expires: u32,
    pub management_centre_number: String,
    pub call_record_retention: u64,
    pub sip_digest_algorithms: String,
    /// `pn532`, `em4100` or `none`.
    pub card_reader: String,
    pub card_reader_port: PathBuf,
    /// 0 until `load` picks the family's default.
    pub card_reader_baud: u32,
    /// `r30x` or `none`.
    pub fingerprint_scanner: String,
    pub fingerprint_port: PathBuf,
    pub fingerprint_baud: u32,
    pub fingerprint_password: u32,
    pub reader_answer_timeout: Duration,
    /// Test-only routes are served (command line or environment only; see `Opts::test_hooks`).
    pub test_hooks: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./gatehouse-data"),
            https_addr: ([0, 0, 0, 0], 8443).into(),
            http_redirect_addr: None,
            sip_addr: ([0, 0, 0, 0], 5060).into(),
            sips_addr: ([0, 0, 0, 0], 5061).into(),
            log_level: "info".into(),
            session_idle_timeout: Duration::from_secs(30 * 60),
            lockout_threshold: 5,
            lockout_duration: Duration::from_secs(30 * 60),
            max_connections: 64,
            audit_retention: 100_000,
            max_sessions: 64,
            arp_table: PathBuf::from("/proc/net/arp"),
            sip_keepalive_interval: Duration::from_secs(60),
            sip_ban_threshold: 20,
            sip_ban_duration: Duration::from_secs(10 * 60),
            sip_rate_limit: 200,
            sip_max_connections: 256,
            sip_min_expires: 60,
            sip_max_expires: 3600,
            management_centre_number: "888888".into(),
            call_record_retention: 100_000,
            sip_digest_algorithms: "md5,sha-256".into(),
            card_reader: "pn532".into(),
            card_reader_port: PathBuf::from("/dev/gatehouse-card"),
            card_reader_baud: 115_200,
            fingerprint_scanner: "r30x".into(),
            fingerprint_port: PathBuf::from("/dev/gatehouse-fp"),
            fingerprint_baud: 57_600,
            fingerprint_password: 0,
            reader_answer_timeout: Duration::from_secs(1),
            test_hooks: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("setting {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl Config {
    /// `sip-digest-algorithms` as the names challenges carry (`MD5`, `SHA-256`); unknown names
    /// are left out (and refused by the check).
    pub fn digest_algorithms(&self) -> Vec<&'static str> {
        self.sip_digest_algorithms
            .split(',')
            .filter_map(|a| match a.trim().to_ascii_lowercase().as_str() {
                "md5" => Some("MD5"),
                "sha-256" | "sha256" => Some("SHA-256"),
                _ => None,
            })
            .collect()
    }

    /// Merges options over the config file over the defaults, and checks the result.
    pub fn load(opts: &Opts) -> Result<Config, ConfigError> {
        let file = match &opts.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                })?
            }
            None => FileConfig::default(),
        };
        let d = Config::default();
        macro_rules! pick {
            ($f:ident) => {
                opts.$f.clone().or(file.$f.clone()).unwrap_or(d.$f.clone())
            };
        }
        let cfg = Config {
            data_dir: pick!(data_dir),
            https_addr: pick!(https_addr),
            http_redirect_addr: opts.http_redirect_addr.or(file.http_redirect_addr),
            sip_addr: pick!(sip_addr),
            sips_addr: pick!(sips_addr),
            log_level: pick!(log_level),
            session_idle_timeout: pick!(session_idle_timeout),
            lockout_threshold: pick!(lockout_threshold),
            lockout_duration: pick!(lockout_duration),
            max_connections: pick!(max_connections),
            audit_retention: pick!(audit_retention),
            max_sessions: pick!(max_sessions),
            arp_table: pick!(arp_table),
            sip_keepalive_interval: pick!(sip_keepalive_interval),
            sip_ban_threshold: pick!(sip_ban_threshold),
            sip_ban_duration: pick!(sip_ban_duration),
            sip_rate_limit: pick!(sip_rate_limit),
            sip_max_connections: pick!(sip_max_connections),
            sip_min_expires: pick!(sip_min_expires),
            sip_max_expires: pick!(sip_max_expires),
            management_centre_number: pick!(management_centre_number),
            call_record_retention: pick!(call_record_retention),
            sip_digest_algorithms: pick!(sip_digest_algorithms),
            card_reader: pick!(card_reader).to_ascii_lowercase(),
            card_reader_port: pick!(card_reader_port),
            card_reader_baud: 0,
            fingerprint_scanner: pick!(fingerprint_scanner).to_ascii_lowercase(),
            fingerprint_port: pick!(fingerprint_port),
            fingerprint_baud: pick!(fingerprint_baud),
            fingerprint_password: pick!(fingerprint_password),
            reader_answer_timeout: pick!(reader_answer_timeout),
            test_hooks: opts.test_hooks,
        };
        let mut cfg = cfg;
        cfg.card_reader_baud = opts.card_reader_baud.or(file.card_reader_baud).unwrap_or(
            if cfg.card_reader == "em4100" {
                9600
            } else {
                115_200
            },
        );
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |field, reason: &str| {
            Err(ConfigError::Invalid {
                field,
                reason: reason.into(),
            })
        };
        if !["pn532", "em4100", "none"].contains(&self.card_reader.as_str()) {
            return bad("card-reader", "must be pn532, em4100 or none");
        }
        if !["r30x", "none"].contains(&self.fingerprint_scanner.as_str()) {
            return bad("fingerprint-scanner", "must be r30x or none");
        }
        const BAUDS: [u32; 8] = [
            9600, 19_200, 38_400, 57_600, 115_200, 230_400, 460_800, 921_600,
        ];
        if !BAUDS.contains(&self.card_reader_baud) {
            return bad(
                "card-reader-baud",
                "must be one of 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600",
            );
        }
        if !BAUDS.contains(&self.fingerprint_baud) {
            return bad(
                "fingerprint-baud",
                "must be one of 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600",
            );
        }
        if self.reader_answer_timeout < Duration::from_millis(100)
            || self.reader_answer_timeout > Duration::from_secs(30)
        {
            return bad("reader-answer-timeout", "must be between 100ms and 30s");
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log_level.as_str()) {
            return bad("log-level", "must be error, warn, info, debug or trace");
        }
        if self.session_idle_timeout < Duration::from_secs(1) {
            return bad("session-idle-timeout", "must be at least 1s");
        }
        if self.lockout_threshold == 0 || self.lockout_threshold > 100 {
            return bad("lockout-threshold", "must be between 1 and 100");
        }
        if self.max_connections == 0 || self.max_connections > 4096 {
            return bad("max-connections", "must be between 1 and 4096");
        }
        if self.max_sessions == 0 || self.max_sessions > 10_000 {
            return bad("max-sessions", "must be between 1 and 10000");
        }
        if self.audit_retention < 100 {
            return bad("audit-retention", "must be at least 100");
        }
        if self.sip_keepalive_interval < Duration::from_secs(1) {
            return bad("sip-keepalive-interval", "must be at least 1s");
        }
        if self.sip_ban_threshold == 0 {
            return bad("sip-ban-threshold", "must be at least 1");
        }
        if self.sip_rate_limit == 0 {
            return bad("sip-rate-limit", "must be at least 1 request per second");
        }
        if self.sip_max_connections == 0 || self.sip_max_connections > 10_000 {
            return bad("sip-max-connections", "must be between 1 and 10000");
        }
        if self.sip_min_expires == 0 || self.sip_min_expires > self.sip_max_expires {
            return bad(
                "sip-min-expires",
                "must be at least 1 and not more than sip-max-expires",
            );
        }
        if self.management_centre_number.is_empty()
            || self.management_centre_number.len() > 20
            || !self
                .management_centre_number
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            return bad("management-centre-number", "must be 1 to 20 digits");
        }
        let algs = self.digest_algorithms();
        if algs.is_empty()
            || algs.len() != self.sip_digest_algorithms.split(',').count()
            || (algs.len() == 2 && algs[0] == algs[1])
        {
            return bad(
                "sip-digest-algorithms",
                "must list md5 and/or sha-256, comma-separated, each once",
            );
        }
        if self.call_record_retention < 100 {
            return bad("call-record-retention", "must be at least 100");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn board_defaults_parse_and_command_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(
            &path,
            "data-dir = \"/var/lib/gatehouse\"\nhttps-addr = \"0.0.0.0:443\"\nsession-idle-timeout = \"10m\"\n",
        )
        .unwrap();
        let mut opts = Opts {
            config: Some(path),
            ..Default::default()
        };
        let cfg = Config::load(&opts).unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("/var/lib/gatehouse"));
        assert_eq!(cfg.https_addr.port(), 443);
        assert_eq!(cfg.session_idle_timeout, Duration::from_secs(600));
        assert_eq!(cfg.lockout_threshold, 5);
        opts.https_addr = Some("127.0.0.1:9443".parse().unwrap());
        assert_eq!(Config::load(&opts).unwrap().https_addr.port(), 9443);
    }

    #[test]
    fn the_board_config_is_valid() {
        let opts = Opts {
            config: Some(PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/board/gatehouse.toml"
            ))),
            ..Default::default()
        };
        let cfg = Config::load(&opts).unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("/var/lib/gatehouse"));
        assert_eq!(cfg.https_addr.port(), 443);
        assert_eq!((cfg.sip_addr.port(), cfg.sips_addr.port()), (5060, 5061));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "no-such-key = 1\n").unwrap();
        let opts = Opts {
            config: Some(path.clone()),
            ..Default::default()
        };
        assert!(Config::load(&opts)
            .unwrap_err()
            .to_string()
            .contains("no-such-key"));
        std::fs::write(&path, "lockout-threshold = 0\n").unwrap();
        assert!(Config::load(&opts)
            .unwrap_err()
            .to_string()
            .contains("lockout-threshold"));
    }
}
