//! zoo.cfg and myid. Every key is defined once, with its default, in `Config::default`
//! and `apply`; unknown keys produce a warning, bad values an error.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A configuration problem: the server prints it on one line and exits with code 1.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config, line {line}: {msg}")]
    Line { line: usize, msg: String },
    #[error("invalid value for {key}: {value:?} ({msg})")]
    Value {
        key: String,
        value: String,
        msg: String,
    },
    #[error("{0}")]
    Missing(String),
    #[error("invalid myid file {path}: {msg}")]
    MyId { path: PathBuf, msg: String },
}

/// One `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    pub id: u64,
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub observer: bool,
    pub client_addr: Option<(String, u16)>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub tick_time: u32,
    pub init_limit: Option<u32>,
    pub sync_limit: Option<u32>,
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    pub client_port: Option<u16>,
    pub client_port_address: Option<IpAddr>,
    pub max_client_cnxns: u32,
    pub min_session_timeout: u32,
    pub max_session_timeout: u32,
    pub snap_count: u64,
    /// Txn log growth step in bytes (zoo.cfg gives KB).
    pub pre_alloc_size: u64,
    pub autopurge_snap_retain_count: u32,
    /// Hours; 0 disables purging.
    pub autopurge_purge_interval: u32,
    pub four_letter_whitelist: Vec<String>,
    /// The whitelist was "*" (which also enables telnet close).
    pub four_letter_all: bool,
    pub super_digest: Option<String>,
    pub jute_max_buffer: u32,
    pub extended_types_enabled: bool,
    pub skip_acl: bool,
    pub global_outstanding_limit: u32,
    pub container_check_interval_ms: u64,
    pub container_max_per_minute: u32,
    pub servers: Vec<ServerSpec>,
    pub my_id: Option<u64>,
    pub standalone_enabled: bool,
    pub reconfig_enabled: bool,
    /// Keys we do not know, kept for `conf`/logging.
    pub unknown: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tick_time: 3000,
            init_limit: None,
            sync_limit: None,
            data_dir: PathBuf::new(),
            data_log_dir: PathBuf::new(),
            client_port: None,
            client_port_address: None,
            max_client_cnxns: 60,
            min_session_timeout: 0,
            max_session_timeout: 0,
            snap_count: 100_000,
            pre_alloc_size: 65536 * 1024,
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval: 0,
            four_letter_whitelist: vec!["srvr".into()],
            four_letter_all: false,
            super_digest: None,
            jute_max_buffer: 0xfffff,
            extended_types_enabled: false,
            skip_acl: false,
            global_outstanding_limit: 1000,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            servers: Vec::new(),
            my_id: None,
            standalone_enabled: true,
            reconfig_enabled: false,
            unknown: BTreeMap::new(),
        }
    }
}

/// The four-letter words ZooKeeper knows.
pub const FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, ConfigError> {
    v.parse().map_err(|_| ConfigError::Value {
        key: key.into(),
        value: v.into(),
        msg: "not a valid number".into(),
    })
}

fn boolean(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(ConfigError::Value {
            key: key.into(),
            value: v.into(),
            msg: "expected true or false".into(),
        }),
    }
}

fn parse_server(key: &str, id: u64, v: &str) -> Result<ServerSpec, ConfigError> {
    let bad = |msg: &str| ConfigError::Value {
        key: key.into(),
        value: v.into(),
        msg: msg.into(),
    };
    let (addr, client) = match v.split_once(';') {
        Some((a, c)) => (a, Some(c)),
        None => (v, None),
    };
    let parts: Vec<&str> = addr.split(':').collect();
    if parts.len() < 3 || parts.len() > 4 {
        return Err(bad(
            "expected host:quorumPort:electionPort[:participant|observer]",
        ));
    }
    let port = |s: &str| s.parse::<u16>().map_err(|_| bad("invalid port"));
    let observer = match parts.get(3) {
        None | Some(&"participant") => false,
        Some(&"observer") => true,
        Some(_) => return Err(bad("role must be participant or observer")),
    };
    let (quorum_port, election_port) = (port(parts[1])?, port(parts[2])?);
    if quorum_port == election_port {
        return Err(bad("quorum and election ports must differ"));
    }
    let client_addr = match client {
        None => None,
        Some(c) => match c.rsplit_once(':') {
            Some((h, p)) => Some((h.to_owned(), port(p)?)),
            None => Some(("0.0.0.0".to_owned(), port(c)?)),
        },
    };
    Ok(ServerSpec {
        id,
        host: parts[0].to_owned(),
        quorum_port,
        election_port,
        observer,
        client_addr,
    })
}

impl Config {
    /// Parses zoo.cfg text (Java properties: `key=value` or `key value`, `#`/`!` comments).
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        let mut data_log_dir = None;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            // Java properties: the key ends at the first '=', ':' or whitespace.
            let Some(i) = line.find(['=', ':', ' ', '\t']) else {
                return Err(ConfigError::Line {
                    line: n + 1,
                    msg: format!("no value for {line:?}"),
                });
            };
            let (k, mut v) = (&line[..i], line[i + 1..].trim_start());
            if line.as_bytes()[i].is_ascii_whitespace() {
                if let Some(rest) = v.strip_prefix(['=', ':']) {
                    v = rest;
                }
            }
            let (k, v) = (k.trim(), v.trim());
            c.apply(k, v, &mut data_log_dir)?;
        }
        if c.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Missing("dataDir is not set".into()));
        }
        c.data_log_dir = data_log_dir.unwrap_or_else(|| c.data_dir.clone());
        if c.min_session_timeout == 0 {
            c.min_session_timeout = c.tick_time * 2;
        }
        if c.max_session_timeout == 0 {
            c.max_session_timeout = c.tick_time * 20;
        }
        if c.min_session_timeout > c.max_session_timeout {
            return Err(ConfigError::Value {
                key: "minSessionTimeout".into(),
                value: c.min_session_timeout.to_string(),
                msg: "must not be larger than maxSessionTimeout".into(),
            });
        }
        c.client_port_from_servers();
        Ok(c)
    }

    fn apply(
        &mut self,
        k: &str,
        v: &str,
        data_log_dir: &mut Option<PathBuf>,
    ) -> Result<(), ConfigError> {
        // zoo.cfg keys that ZooKeeper forwards as `zookeeper.<key>` system properties are
        // accepted with or without the prefix.
        let key = k.strip_prefix("zookeeper.").unwrap_or(k);
        match key {
            "tickTime" => {
                self.tick_time = num(k, v)?;
                if self.tick_time == 0 {
                    return Err(ConfigError::Value {
                        key: k.into(),
                        value: v.into(),
                        msg: "must be > 0".into(),
                    });
                }
            }
            "initLimit" => self.init_limit = Some(num(k, v)?),
            "syncLimit" => self.sync_limit = Some(num(k, v)?),
            "dataDir" => self.data_dir = PathBuf::from(v),
            "dataLogDir" => *data_log_dir = Some(PathBuf::from(v)),
            "clientPort" => self.client_port = Some(num(k, v)?),
            "clientPortAddress" => {
                self.client_port_address = Some(v.parse().map_err(|_| ConfigError::Value {
                    key: k.into(),
                    value: v.into(),
                    msg: "not an IP address".into(),
                })?)
            }
            "maxClientCnxns" => self.max_client_cnxns = num(k, v)?,
            "minSessionTimeout" => self.min_session_timeout = num::<i64>(k, v)?.max(0) as u32,
            "maxSessionTimeout" => self.max_session_timeout = num::<i64>(k, v)?.max(0) as u32,
            "snapCount" => self.snap_count = num::<u64>(k, v)?.max(2),
            "preAllocSize" => self.pre_alloc_size = num::<u64>(k, v)? * 1024,
            "autopurge.snapRetainCount" => {
                self.autopurge_snap_retain_count = num::<u32>(k, v)?.max(3)
            }
            "autopurge.purgeInterval" => self.autopurge_purge_interval = num(k, v)?,
            "4lw.commands.whitelist" => {
                let mut list = Vec::new();
                for w in v.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                    if w == "*" {
                        self.four_letter_all = true;
                        list = FOUR_LETTER_WORDS.iter().map(|s| s.to_string()).collect();
                        break;
                    }
                    if FOUR_LETTER_WORDS.contains(&w) {
                        list.push(w.to_owned());
                    } else {
                        tracing::warn!("unknown four-letter word {w:?} in 4lw.commands.whitelist");
                    }
                }
                if !list.iter().any(|w| w == "srvr") && !v.contains('*') && list.is_empty() {
                    list.push("srvr".into());
                }
                self.four_letter_whitelist = list;
            }
            "DigestAuthenticationProvider.superDigest" | "superDigest" => {
                self.super_digest = Some(v.to_owned())
            }
            "jute.maxbuffer" => {
                let n: i64 = num(k, v)?;
                if !(1024..=i32::MAX as i64).contains(&n) {
                    return Err(ConfigError::Value {
                        key: k.into(),
                        value: v.into(),
                        msg: "must be between 1024 and 2147483647".into(),
                    });
                }
                self.jute_max_buffer = n as u32;
            }
            "extendedTypesEnabled" => self.extended_types_enabled = boolean(k, v)?,
            "skipACL" => self.skip_acl = matches!(v, "yes" | "true"),
            "globalOutstandingLimit" => self.global_outstanding_limit = num(k, v)?,
            "znode.container.checkIntervalMs" | "containerCheckIntervalMs" => {
                self.container_check_interval_ms = num(k, v)?
            }
            "znode.container.maxPerMinute" => self.container_max_per_minute = num(k, v)?,
            "standaloneEnabled" => self.standalone_enabled = boolean(k, v)?,
            "reconfigEnabled" => self.reconfig_enabled = boolean(k, v)?,
            "myid" => self.my_id = Some(num(k, v)?),
            _ if key.starts_with("server.") => {
                let id: u64 = num(k, &key["server.".len()..])?;
                self.servers.push(parse_server(k, id, v)?);
            }
            // Keys ZooKeeper knows that this server accepts and ignores.
            "electionAlg"
            | "peerType"
            | "syncEnabled"
            | "localSessionsEnabled"
            | "localSessionsUpgradingEnabled"
            | "admin.enableServer"
            | "admin.serverPort"
            | "admin.serverAddress"
            | "metricsProvider.className"
            | "quorumListenOnAllIPs"
            | "secureClientPort"
            | "secureClientPortAddress"
            | "dynamicConfigFile"
            | "multiAddress.enabled"
            | "clientPortListenBacklog"
            | "maxCnxns" => {
                self.unknown.insert(k.to_owned(), v.to_owned());
            }
            _ => {
                tracing::warn!("unknown configuration key {k:?} ignored");
                self.unknown.insert(k.to_owned(), v.to_owned());
            }
        }
        Ok(())
    }

    /// Reads zoo.cfg and, when present, `dataDir/myid`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut c = Config::parse(&text)?;
        let myid = c.data_dir.join("myid");
        if let Ok(s) = std::fs::read_to_string(&myid) {
            let first = s.lines().next().unwrap_or("").trim();
            let id: u64 = first.parse().map_err(|_| ConfigError::MyId {
                path: myid.clone(),
                msg: format!("{first:?} is not a number"),
            })?;
            c.my_id = Some(id);
            c.client_port_from_servers();
        }
        if c.client_port.is_none() {
            return Err(ConfigError::Missing("clientPort is not set".into()));
        }
        Ok(c)
    }

    /// Without `clientPort`, the port comes from this server's `server.N` line (`;port`).
    fn client_port_from_servers(&mut self) {
        if self.client_port.is_some() {
            return;
        }
        if let Some(id) = self.my_id {
            self.client_port = self
                .servers
                .iter()
                .find(|s| s.id == id)
                .and_then(|s| s.client_addr.as_ref().map(|a| a.1));
        }
    }

    /// Whether this configuration runs a quorum (ZooKeeper's `isDistributed`).
    pub fn is_distributed(&self) -> bool {
        let voters = self.servers.iter().filter(|s| !s.observer).count();
        !self.servers.is_empty() && (!self.standalone_enabled || voters > 1)
    }

    /// `clamp(requested, min, max)` as ZooKeeper negotiates session timeouts.
    pub fn negotiate_timeout(&self, requested: i32) -> i32 {
        (requested.max(self.min_session_timeout as i32)).min(self.max_session_timeout as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_keys() {
        let c = Config::parse("tickTime=2000\ndataDir=/tmp/zk\nclientPort=2181\n4lw.commands.whitelist=ruok, mntr\nfoo=bar\n").unwrap();
        assert_eq!(c.min_session_timeout, 4000);
        assert_eq!(c.max_session_timeout, 40000);
        assert_eq!(c.data_log_dir, PathBuf::from("/tmp/zk"));
        assert_eq!(c.four_letter_whitelist, vec!["ruok", "mntr"]);
        assert_eq!(c.unknown.get("foo").map(String::as_str), Some("bar"));
        assert_eq!(c.negotiate_timeout(1), 4000);
        assert_eq!(c.negotiate_timeout(100000), 40000);
    }

    #[test]
    fn servers() {
        let c = Config::parse("dataDir=/d\nclientPort=1\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889:observer;127.0.0.1:2182\n").unwrap();
        assert_eq!(c.servers.len(), 2);
        assert!(c.servers[1].observer);
        assert_eq!(c.servers[1].client_addr, Some(("127.0.0.1".into(), 2182)));
        assert!(!c.is_distributed());
    }

    #[test]
    fn bad_values() {
        assert!(Config::parse("dataDir=/d\ntickTime=abc\n").is_err());
        assert!(Config::parse("clientPort=1\n").is_err());
        assert!(Config::parse("dataDir=/d\nserver.1=h:1:1\n").is_err());
        assert!(Config::parse("dataDir=/d\njute.maxbuffer=-5\n").is_err());
    }
}
