//! The broker's `server.properties`, read the way Kafka 2.x reads it.
//!
//! [`parse_properties`] implements Java's `Properties.load` syntax. [`KEYS`] is the one table of
//! every key we know (name, type, default, doc); [`BrokerConfig::from_pairs`] resolves a list of
//! pairs against it, applies Kafka's precedence rules (`log.retention.ms` over `.minutes` over
//! `.hours`, `log.dirs` over `log.dir`, ...) and Kafka's cross-key validation. Unknown keys are a
//! warning, invalid values an error naming the key and the value.
//!
//! Also here, because the listener settings are made of them: [`EndPoint`] (`NAME://host:port`),
//! [`SecurityProtocol`], [`ZkConnect`] (`zookeeper.connect`) and
//! [`InterBrokerProtocolVersion`] (`inter.broker.protocol.version`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration problem: the broker prints it on one line and exits with status 1.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The properties file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The properties text itself is malformed (only a bad `\uXXXX` escape can do that).
    #[error("malformed properties, line {line}: {msg}")]
    Syntax { line: usize, msg: String },
    /// A value does not fit its key's type or allowed range.
    #[error("Invalid value {value} for configuration {key}: {msg}")]
    Value {
        key: String,
        value: String,
        msg: String,
    },
    /// A required key is absent.
    #[error("Missing required configuration `{0}` which has no default value.")]
    Missing(&'static str),
    /// A cross-key rule is broken (Kafka's `require(...)` checks); the text says which.
    #[error("{0}")]
    Invalid(String),
    /// A `--override` argument is not `key=value`.
    #[error("Invalid command line properties: {0:?} (expected key=value)")]
    Override(String),
}

fn bad_value(key: &str, value: &str, msg: impl Into<String>) -> ConfigError {
    ConfigError::Value {
        key: key.to_owned(),
        value: value.to_owned(),
        msg: msg.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Java properties syntax
// ---------------------------------------------------------------------------------------------

fn is_prop_space(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\x0c'
}

/// Parses Java `.properties` text into `(key, value)` pairs in file order (a later duplicate
/// wins when resolved). Implements `java.util.Properties.load`: `#`/`!` comment lines, `key=value`,
/// `key: value` or `key value`, leading whitespace trimmed, a line ending in an odd number of
/// backslashes continues on the next line (whose leading whitespace is dropped), and the
/// escapes `\t \n \r \f \uXXXX`; any other escaped character stands for itself.
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut lines = natural_lines(text).into_iter().enumerate().peekable();
    while let Some((n, raw)) = lines.next() {
        let line = raw.trim_start_matches(is_prop_space);
        let (start, mut logical) = match current.take() {
            Some((start, acc)) => (start, acc),
            None => {
                if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                    continue;
                }
                (n + 1, String::new())
            }
        };
        let trailing = line.chars().rev().take_while(|&c| c == '\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            if lines.peek().is_some() {
                current = Some((start, logical));
                continue;
            }
        } else {
            logical.push_str(line);
        }
        out.push(split_logical_line(start, &logical)?);
    }
    Ok(out)
}

/// Lines split on `\n`, `\r\n` or a lone `\r`, as Java's LineReader does.
fn natural_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                out.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        out.push(&text[start..]);
    }
    out
}

fn split_logical_line(line_no: usize, line: &str) -> Result<(String, String), ConfigError> {
    let mut key_end = line.len();
    let mut value_start = line.len();
    let mut has_sep = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if !escaped && (c == '=' || c == ':') {
            key_end = i;
            value_start = i + 1;
            has_sep = true;
            break;
        }
        if !escaped && is_prop_space(c) {
            key_end = i;
            value_start = i + c.len_utf8();
            break;
        }
        escaped = c == '\\' && !escaped;
    }
    // After the key: whitespace, at most one separator, whitespace.
    let mut rest = &line[value_start..];
    while let Some(c) = rest.chars().next() {
        if is_prop_space(c) {
            rest = &rest[1..];
        } else if !has_sep && (c == '=' || c == ':') {
            has_sep = true;
            rest = &rest[1..];
        } else {
            break;
        }
    }
    let key = unescape(line_no, &line[..key_end])?;
    let value = unescape(line_no, rest)?;
    Ok((key, value))
}

fn unescape(line_no: usize, s: &str) -> Result<String, ConfigError> {
    let mut units: Vec<u16> = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    let mut buf = [0u16; 2];
    while let Some(c) = chars.next() {
        if c != '\\' {
            units.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        let Some(e) = chars.next() else { break };
        let unit = match e {
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            'f' => '\x0c',
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u16::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .filter(|_| hex.chars().all(|h| h.is_ascii_hexdigit()))
                    .ok_or_else(|| ConfigError::Syntax {
                        line: line_no,
                        msg: "Malformed \\uxxxx encoding.".into(),
                    })?;
                units.push(code);
                continue;
            }
            other => other,
        };
        units.extend_from_slice(unit.encode_utf16(&mut buf));
    }
    // Java strings may hold lone surrogates; Rust strings cannot, so those become U+FFFD.
    Ok(char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect())
}

/// Decodes a properties file's bytes as ISO-8859-1, which is what Kafka's
/// `Properties.load(InputStream)` does (non-ASCII needs `\uXXXX` escapes).
pub fn decode_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Parses one `--override key=value` argument (split at the first `=`).
pub fn parse_override(arg: &str) -> Result<(String, String), ConfigError> {
    match arg.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(ConfigError::Override(arg.to_owned())),
    }
}

// ---------------------------------------------------------------------------------------------
// The key table
// ---------------------------------------------------------------------------------------------

/// The type of a key's value (Kafka's `ConfigDef.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 32-bit signed integer.
    Int,
    /// 64-bit signed integer.
    Long,
    /// 16-bit signed integer.
    Short,
    /// `true` or `false`, case-insensitive.
    Bool,
    /// Any text (trimmed).
    Str,
    /// Comma-separated list (items trimmed, empty items dropped).
    List,
}

/// A key's validator (Kafka's `ConfigDef.Validator`s that the broker uses).
#[derive(Clone, Copy, Debug)]
pub enum Check {
    None,
    /// Numeric value at least this.
    AtLeast(i64),
    /// One of these strings, exactly.
    OneOf(&'static [&'static str]),
    /// Every list item is one of these strings.
    ListOf(&'static [&'static str]),
}

/// One `server.properties` key.
#[derive(Clone, Copy, Debug)]
pub struct KeyDef {
    pub name: &'static str,
    pub kind: Kind,
    /// Default in properties-value form; `None` means "no value" (null in Kafka).
    pub default: Option<&'static str>,
    pub check: Check,
    pub doc: &'static str,
}

const fn key(
    name: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    check: Check,
    doc: &'static str,
) -> KeyDef {
    KeyDef {
        name,
        kind,
        default,
        check,
        doc,
    }
}

const LONG_MAX: &str = "9223372036854775807";
const INT_MAX: &str = "2147483647";
const SECURITY_PROTOCOLS: &[&str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];
const COMPRESSION_TYPES: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
const DEFAULT_IBP: &str = "2.8-IV1";

use Check::{AtLeast, ListOf, OneOf};
use Kind::{Bool, Int, List, Long, Short, Str};

/// Every key the broker knows, with Kafka 2.8's names and defaults. Keys documented as
/// "accepted" are validated but have no effect here.
#[rustfmt::skip]
pub static KEYS: &[KeyDef] = &[
    // ZooKeeper
    key("zookeeper.connect", Str, None, Check::None,
        "ZooKeeper connection string host:port[,host:port...][/chroot]. Required."),
    key("zookeeper.session.timeout.ms", Int, Some("18000"), AtLeast(1), "ZooKeeper session timeout."),
    key("zookeeper.connection.timeout.ms", Int, None, Check::None,
        "Max wait for the first ZooKeeper connection; defaults to zookeeper.session.timeout.ms."),
    key("zookeeper.set.acl", Bool, Some("false"), Check::None,
        "Secure ZooKeeper ACLs. Only false is supported (no SASL to ZooKeeper)."),
    key("zookeeper.sync.time.ms", Int, Some("2000"), Check::None, "Accepted; no effect."),
    key("zookeeper.max.in.flight.requests", Int, Some("10"), AtLeast(1), "Accepted; no effect."),
    // General
    key("broker.id", Int, Some("-1"), Check::None,
        "Broker id; -1 generates one from ZooKeeper when broker.id.generation.enable is true."),
    key("broker.id.generation.enable", Bool, Some("true"), Check::None,
        "Generate a broker id (above reserved.broker.max.id) when broker.id is -1."),
    key("reserved.broker.max.id", Int, Some("1000"), AtLeast(0),
        "Highest id a configured broker.id may use; generated ids start above it."),
    key("message.max.bytes", Int, Some("1048588"), AtLeast(0), "Largest record batch size allowed."),
    key("num.network.threads", Int, Some("3"), AtLeast(1),
        "Accepted; no effect (connections are async tasks)."),
    key("num.io.threads", Int, Some("8"), AtLeast(1),
        "Accepted; no effect (requests are handled on the async runtime)."),
    key("background.threads", Int, Some("10"), AtLeast(1), "Accepted; no effect."),
    key("queued.max.requests", Int, Some("500"), AtLeast(1), "Accepted; no effect."),
    key("request.timeout.ms", Int, Some("30000"), Check::None, "Timeout of the broker's own requests."),
    key("broker.rack", Str, None, Check::None, "Rack of this broker, for rack-aware assignment."),
    // Listeners and sockets
    key("listeners", Str, Some("PLAINTEXT://:9092"), Check::None,
        "Listeners NAME://host:port, comma-separated; an empty host means all interfaces."),
    key("advertised.listeners", Str, None, Check::None,
        "Listeners published in ZooKeeper for clients; defaults to listeners."),
    key("listener.security.protocol.map", Str,
        Some("PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"),
        Check::None, "Listener name to security protocol, NAME:PROTOCOL comma-separated."),
    key("inter.broker.listener.name", Str, None, Check::None,
        "Listener used between brokers; defaults to the one named after security.inter.broker.protocol."),
    key("security.inter.broker.protocol", Str, Some("PLAINTEXT"), OneOf(SECURITY_PROTOCOLS),
        "Security protocol between brokers (use inter.broker.listener.name instead)."),
    key("control.plane.listener.name", Str, None, Check::None,
        "Listener for controller-to-broker traffic; defaults to the inter-broker listener."),
    key("port", Int, Some("9092"), Check::None,
        "Deprecated: used only when listeners is not set (PLAINTEXT://host.name:port)."),
    key("host.name", Str, Some(""), Check::None, "Deprecated: see port."),
    key("advertised.host.name", Str, None, Check::None,
        "Deprecated: used only when advertised.listeners is not set."),
    key("advertised.port", Int, None, Check::None, "Deprecated: see advertised.host.name."),
    key("socket.send.buffer.bytes", Int, Some("102400"), Check::None, "SO_SNDBUF; -1 = OS default."),
    key("socket.receive.buffer.bytes", Int, Some("102400"), Check::None, "SO_RCVBUF; -1 = OS default."),
    key("socket.request.max.bytes", Int, Some("104857600"), AtLeast(1), "Largest request accepted."),
    key("connections.max.idle.ms", Long, Some("600000"), Check::None, "Idle connections are closed after this."),
    // Log
    key("num.partitions", Int, Some("1"), AtLeast(1), "Partitions of auto-created topics."),
    key("log.dir", Str, Some("/tmp/kafka-logs"), Check::None, "Log directory, when log.dirs is not set."),
    key("log.dirs", Str, None, Check::None, "Log directories, comma-separated; overrides log.dir."),
    key("log.segment.bytes", Int, Some("1073741824"), AtLeast(14), "Segment size."),
    key("log.roll.ms", Long, None, Check::None, "Max segment age; overrides log.roll.hours."),
    key("log.roll.hours", Int, Some("168"), AtLeast(1), "Max segment age in hours."),
    key("log.roll.jitter.ms", Long, None, Check::None, "Roll jitter; overrides log.roll.jitter.hours."),
    key("log.roll.jitter.hours", Int, Some("0"), AtLeast(0), "Roll jitter in hours."),
    key("log.retention.ms", Long, None, Check::None,
        "Retention time; overrides .minutes and .hours. -1 = unlimited."),
    key("log.retention.minutes", Int, None, Check::None, "Retention time; overrides log.retention.hours."),
    key("log.retention.hours", Int, Some("168"), Check::None, "Retention time in hours."),
    key("log.retention.bytes", Long, Some("-1"), Check::None, "Retention size per partition; -1 = unlimited."),
    key("log.retention.check.interval.ms", Long, Some("300000"), AtLeast(1),
        "How often retention is enforced."),
    key("log.cleanup.policy", List, Some("delete"), ListOf(&["compact", "delete"]), "Default cleanup policy."),
    key("log.cleaner.enable", Bool, Some("true"), Check::None, "Accepted; compaction is not implemented."),
    key("log.index.size.max.bytes", Int, Some("10485760"), AtLeast(4), "Max offset index size."),
    key("log.index.interval.bytes", Int, Some("4096"), AtLeast(0), "Bytes between index entries."),
    key("log.flush.interval.messages", Long, Some(LONG_MAX), AtLeast(1), "Messages between fsyncs."),
    key("log.flush.interval.ms", Long, None, Check::None,
        "Max time between fsyncs; defaults to log.flush.scheduler.interval.ms."),
    key("log.flush.scheduler.interval.ms", Long, Some(LONG_MAX), Check::None,
        "How often the flusher checks whether a log needs an fsync."),
    key("log.flush.offset.checkpoint.interval.ms", Int, Some("60000"), AtLeast(0),
        "How often recovery-point checkpoints are written."),
    key("log.flush.start.offset.checkpoint.interval.ms", Int, Some("60000"), AtLeast(0),
        "How often log-start-offset checkpoints are written."),
    key("log.delete.delay.ms", Long, Some("60000"), AtLeast(0), "Delay before a deleted segment's files go."),
    key("log.preallocate", Bool, Some("false"), Check::None, "Accepted; no effect."),
    key("num.recovery.threads.per.data.dir", Int, Some("1"), AtLeast(1), "Accepted; no effect."),
    key("auto.create.topics.enable", Bool, Some("true"), Check::None, "Create unknown topics on metadata requests."),
    key("min.insync.replicas", Int, Some("1"), AtLeast(1), "Min ISR size for acks=all."),
    key("log.message.format.version", Str, Some(DEFAULT_IBP), Check::None,
        "Accepted and validated as a Kafka version; records are always written as magic 2."),
    key("log.message.timestamp.type", Str, Some("CreateTime"), OneOf(&["CreateTime", "LogAppendTime"]),
        "Timestamp type of appended records."),
    key("log.message.timestamp.difference.max.ms", Long, Some(LONG_MAX), Check::None,
        "Max difference between a record's timestamp and the broker's clock."),
    key("log.message.downconversion.enable", Bool, Some("true"), Check::None, "Accepted; no effect."),
    // Replication
    key("controller.socket.timeout.ms", Int, Some("30000"), Check::None, "Controller-to-broker socket timeout."),
    key("default.replication.factor", Int, Some("1"), AtLeast(1), "Replication factor of auto-created topics."),
    key("replica.lag.time.max.ms", Long, Some("30000"), Check::None, "A follower lagging longer leaves the ISR."),
    key("replica.socket.timeout.ms", Int, Some("30000"), Check::None, "Follower fetch socket timeout."),
    key("replica.fetch.max.bytes", Int, Some("1048576"), AtLeast(0), "Bytes fetched per partition by followers."),
    key("replica.fetch.wait.max.ms", Int, Some("500"), Check::None, "Max wait of a follower fetch."),
    key("replica.fetch.min.bytes", Int, Some("1"), Check::None, "Min bytes of a follower fetch response."),
    key("replica.fetch.response.max.bytes", Int, Some("10485760"), AtLeast(0), "Max follower fetch response."),
    key("replica.fetch.backoff.ms", Int, Some("1000"), AtLeast(0), "Backoff after a follower fetch error."),
    key("num.replica.fetchers", Int, Some("1"), Check::None, "Fetcher tasks per source broker."),
    key("replica.high.watermark.checkpoint.interval.ms", Long, Some("5000"), Check::None,
        "How often high watermarks are checkpointed."),
    key("auto.leader.rebalance.enable", Bool, Some("true"), Check::None, "Periodic preferred-leader election."),
    key("leader.imbalance.per.broker.percentage", Int, Some("10"), Check::None, "Imbalance that triggers it."),
    key("leader.imbalance.check.interval.seconds", Long, Some("300"), Check::None, "How often it is checked."),
    key("unclean.leader.election.enable", Bool, Some("false"), Check::None,
        "Elect an out-of-sync replica when no ISR member is alive."),
    key("inter.broker.protocol.version", Str, Some(DEFAULT_IBP), Check::None,
        "Inter-broker protocol version, 0.8.0 to 2.8-IV1 (e.g. 2.7, 2.7-IV2, 2.8.1)."),
    // Controlled shutdown
    key("controlled.shutdown.enable", Bool, Some("true"), Check::None, "Move leadership away before stopping."),
    key("controlled.shutdown.max.retries", Int, Some("3"), Check::None, "Controlled shutdown attempts."),
    key("controlled.shutdown.retry.backoff.ms", Long, Some("5000"), Check::None, "Backoff between them."),
    // Groups and offsets
    key("group.min.session.timeout.ms", Int, Some("6000"), Check::None, "Min consumer session timeout."),
    key("group.max.session.timeout.ms", Int, Some("1800000"), Check::None, "Max consumer session timeout."),
    key("group.initial.rebalance.delay.ms", Int, Some("3000"), Check::None, "Delay of a new group's first rebalance."),
    key("group.max.size", Int, Some(INT_MAX), AtLeast(1), "Max members per group."),
    key("offset.metadata.max.bytes", Int, Some("4096"), Check::None, "Max metadata of a committed offset."),
    key("offsets.load.buffer.size", Int, Some("5242880"), AtLeast(1), "Read size when loading offsets."),
    key("offsets.topic.replication.factor", Short, Some("3"), AtLeast(1),
        "Replication factor of __consumer_offsets."),
    key("offsets.topic.num.partitions", Int, Some("50"), AtLeast(1), "Partitions of __consumer_offsets."),
    key("offsets.topic.segment.bytes", Int, Some("104857600"), AtLeast(1), "Segment size of __consumer_offsets."),
    key("offsets.topic.compression.codec", Int, Some("0"), Check::None, "Compression of __consumer_offsets."),
    key("offsets.retention.minutes", Int, Some("10080"), AtLeast(1), "Retention of committed offsets."),
    key("offsets.retention.check.interval.ms", Long, Some("600000"), AtLeast(1), "How often offsets expire."),
    key("offsets.commit.timeout.ms", Int, Some("5000"), AtLeast(1), "Offset commit write timeout."),
    key("offsets.commit.required.acks", Short, Some("-1"), Check::None, "Acks of offset commit writes."),
    // Transactions
    key("transactional.id.expiration.ms", Int, Some("604800000"), AtLeast(1), "Idle transactional id expiry."),
    key("transaction.max.timeout.ms", Int, Some("900000"), AtLeast(1), "Max transaction timeout."),
    key("transaction.state.log.min.isr", Int, Some("2"), AtLeast(1), "min.insync.replicas of __transaction_state."),
    key("transaction.state.log.load.buffer.size", Int, Some("5242880"), AtLeast(1), "Accepted."),
    key("transaction.state.log.replication.factor", Short, Some("3"), AtLeast(1),
        "Replication factor of __transaction_state."),
    key("transaction.state.log.num.partitions", Int, Some("50"), AtLeast(1), "Partitions of __transaction_state."),
    key("transaction.state.log.segment.bytes", Int, Some("104857600"), AtLeast(1),
        "Segment size of __transaction_state."),
    key("transaction.abort.timed.out.transaction.cleanup.interval.ms", Int, Some("10000"), AtLeast(1),
        "How often timed-out transactions are aborted."),
    key("transaction.remove.expired.transaction.cleanup.interval.ms", Int, Some("3600000"), AtLeast(1),
        "How often expired transactional ids are removed."),
    // Misc
    key("delete.topic.enable", Bool, Some("true"), Check::None, "Let the controller delete topics."),
    key("compression.type", Str, Some("producer"), OneOf(COMPRESSION_TYPES),
        "Compression of stored batches; producer = keep the producer's."),
    key("fetch.max.bytes", Int, Some("57671680"), AtLeast(1024), "Max fetch response size."),
    key("max.incremental.fetch.session.cache.slots", Int, Some("1000"), AtLeast(0), "Fetch session slots."),
];

/// The definition of `name`, if it is a known key.
pub fn key_def(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.name == name)
}

/// A parsed value of one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i32),
    Long(i64),
    Short(i16),
    Bool(bool),
    Str(String),
    List(Vec<String>),
}

/// Parses `raw` as `def`'s type and checks its validator, as Kafka's ConfigDef does (values are
/// trimmed first).
pub fn parse_value(def: &KeyDef, raw: &str) -> Result<Value, ConfigError> {
    let v = raw.trim();
    let number = |kind: &str| bad_value(def.name, raw, format!("Not a number of type {kind}"));
    let value = match def.kind {
        Kind::Int => Value::Int(v.parse().map_err(|_| number("INT"))?),
        Kind::Long => Value::Long(v.parse().map_err(|_| number("LONG"))?),
        Kind::Short => Value::Short(v.parse().map_err(|_| number("SHORT"))?),
        Kind::Bool => match v.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => {
                return Err(bad_value(
                    def.name,
                    raw,
                    "Expected value to be either true or false",
                ))
            }
        },
        Kind::Str => Value::Str(v.to_owned()),
        Kind::List => Value::List(csv_list(v)),
    };
    match (def.check, &value) {
        (Check::AtLeast(min), Value::Int(n)) if i64::from(*n) < min => Err(bad_value(
            def.name,
            raw,
            format!("Value must be at least {min}"),
        )),
        (Check::AtLeast(min), Value::Long(n)) if *n < min => Err(bad_value(
            def.name,
            raw,
            format!("Value must be at least {min}"),
        )),
        (Check::AtLeast(min), Value::Short(n)) if i64::from(*n) < min => Err(bad_value(
            def.name,
            raw,
            format!("Value must be at least {min}"),
        )),
        (Check::OneOf(allowed), Value::Str(s)) if !allowed.contains(&s.as_str()) => Err(bad_value(
            def.name,
            raw,
            format!("String must be one of: {}", allowed.join(", ")),
        )),
        (Check::ListOf(allowed), Value::List(items)) => {
            match items.iter().find(|i| !allowed.contains(&i.as_str())) {
                Some(item) => Err(bad_value(
                    def.name,
                    raw,
                    format!(
                        "Invalid value {item}; must be one of: {}",
                        allowed.join(", ")
                    ),
                )),
                None => Ok(value),
            }
        }
        _ => Ok(value),
    }
}

/// Kafka's `parseCsvList`: split on commas, trim, drop empty items.
fn csv_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Resolved values: every known key's parsed value (or its default), plus which keys were set.
#[derive(Clone, Debug, Default)]
pub struct Values {
    values: BTreeMap<&'static str, Option<Value>>,
    explicit: BTreeMap<&'static str, String>,
}

impl Values {
    /// Resolves `pairs` (later pairs win) against [`KEYS`]. Unknown keys are returned, not
    /// failed on.
    pub fn resolve(pairs: &[(String, String)]) -> Result<(Values, Vec<String>), ConfigError> {
        let mut given: BTreeMap<&str, &str> = BTreeMap::new();
        let mut unknown = Vec::new();
        for (k, v) in pairs {
            match key_def(k) {
                Some(def) => {
                    given.insert(def.name, v);
                }
                None if !unknown.contains(k) => unknown.push(k.clone()),
                None => {}
            }
        }
        let mut out = Values::default();
        for def in KEYS {
            let value = match given.get(def.name) {
                Some(raw) => {
                    out.explicit.insert(def.name, (*raw).to_owned());
                    Some(parse_value(def, raw)?)
                }
                None => match def.default {
                    Some(d) => Some(parse_value(def, d)?),
                    None => None,
                },
            };
            out.values.insert(def.name, value);
        }
        Ok((out, unknown))
    }

    /// Whether `name` was given explicitly.
    pub fn is_set(&self, name: &str) -> bool {
        self.explicit.contains_key(name)
    }

    /// The text `name` was given as, if it was.
    pub fn original(&self, name: &str) -> Option<&str> {
        self.explicit.get(name).map(String::as_str)
    }

    /// The value of `name`: `None` when it has no value (no default and not set).
    pub fn get(&self, name: &str) -> Result<Option<&Value>, ConfigError> {
        match self.values.get(name) {
            Some(v) => Ok(v.as_ref()),
            None => Err(ConfigError::Invalid(format!(
                "internal: unknown config key {name}"
            ))),
        }
    }

    fn typed<T>(
        &self,
        name: &str,
        pick: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(name)? {
            None => Ok(None),
            Some(v) => pick(v)
                .map(Some)
                .ok_or_else(|| ConfigError::Invalid(format!("internal: wrong type for {name}"))),
        }
    }

    fn opt_int(&self, name: &str) -> Result<Option<i32>, ConfigError> {
        self.typed(name, |v| match v {
            Value::Int(n) => Some(*n),
            _ => None,
        })
    }
    fn opt_long(&self, name: &str) -> Result<Option<i64>, ConfigError> {
        self.typed(name, |v| match v {
            Value::Long(n) => Some(*n),
            _ => None,
        })
    }
    fn opt_str(&self, name: &str) -> Result<Option<String>, ConfigError> {
        self.typed(name, |v| match v {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        })
    }
    pub fn int(&self, name: &'static str) -> Result<i32, ConfigError> {
        required(name, self.opt_int(name)?)
    }
    pub fn long(&self, name: &'static str) -> Result<i64, ConfigError> {
        required(name, self.opt_long(name)?)
    }
    pub fn short(&self, name: &'static str) -> Result<i16, ConfigError> {
        let v = self.typed(name, |v| match v {
            Value::Short(n) => Some(*n),
            _ => None,
        })?;
        required(name, v)
    }
    pub fn boolean(&self, name: &'static str) -> Result<bool, ConfigError> {
        let v = self.typed(name, |v| match v {
            Value::Bool(b) => Some(*b),
            _ => None,
        })?;
        required(name, v)
    }
    pub fn string(&self, name: &'static str) -> Result<String, ConfigError> {
        required(name, self.opt_str(name)?)
    }
    pub fn list(&self, name: &'static str) -> Result<Vec<String>, ConfigError> {
        let v = self.typed(name, |v| match v {
            Value::List(l) => Some(l.clone()),
            _ => None,
        })?;
        required(name, v)
    }
}

fn required<T>(name: &'static str, v: Option<T>) -> Result<T, ConfigError> {
    v.ok_or(ConfigError::Missing(name))
}

// ---------------------------------------------------------------------------------------------
// Listeners
// ---------------------------------------------------------------------------------------------

/// Kafka's security protocols. Only PLAINTEXT is served by this broker; the others are accepted
/// in configuration and ZooKeeper data so that registrations round-trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    /// The protocol's name, as Kafka prints it.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Parses a protocol name, case-insensitively (`SecurityProtocol.forName`).
    pub fn parse(s: &str) -> Option<SecurityProtocol> {
        let upper = s.to_ascii_uppercase();
        Self::ALL.into_iter().find(|p| p.name() == upper)
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Listener name → security protocol (`listener.security.protocol.map`); names are upper-case.
pub type ProtocolMap = BTreeMap<String, SecurityProtocol>;

/// Why an endpoint string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndPointError {
    #[error("Unable to parse {0} to a broker endpoint")]
    Syntax(String),
    #[error("No security protocol defined for listener {0}")]
    UnknownListener(String),
    #[error("port out of range in {0}")]
    Port(String),
}

/// One listener: `NAME://host:port`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EndPoint {
    /// Upper-case listener name.
    pub listener_name: String,
    /// `None` for an empty host: bind every interface; advertise the machine's host name.
    pub host: Option<String>,
    /// 0 asks the OS for a free port.
    pub port: u16,
    pub security_protocol: SecurityProtocol,
}

impl EndPoint {
    /// Parses `NAME://host:port` (host may be `[v6]` or empty). With `map`, the protocol is
    /// looked up by listener name; without it the name must itself be a protocol name (how
    /// broker registrations before v4 are read).
    pub fn parse(s: &str, map: Option<&ProtocolMap>) -> Result<EndPoint, EndPointError> {
        let syntax = || EndPointError::Syntax(s.to_owned());
        let (name, rest) = s.rsplit_once("://").ok_or_else(syntax)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(syntax)?;
        let digits = port.strip_prefix('-').unwrap_or(port);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        let host = host.strip_prefix('[').unwrap_or(host);
        let host = host.strip_suffix(']').unwrap_or(host);
        let host_ok = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-%._:".contains(c));
        if !host_ok {
            return Err(syntax());
        }
        let port: u16 = port
            .parse()
            .map_err(|_| EndPointError::Port(s.to_owned()))?;
        let listener_name = name.to_ascii_uppercase();
        let security_protocol = match map {
            Some(m) => m.get(&listener_name).copied(),
            None => SecurityProtocol::parse(&listener_name),
        }
        .ok_or_else(|| EndPointError::UnknownListener(listener_name.clone()))?;
        Ok(EndPoint {
            listener_name,
            host: (!host.is_empty()).then(|| host.to_owned()),
            port,
            security_protocol,
        })
    }

    /// The socket address to listen on: the configured host only, or every interface
    /// (`0.0.0.0`) when the host is empty, as Kafka does.
    pub fn bind_address(&self) -> String {
        match &self.host {
            None => format!("0.0.0.0:{}", self.port),
            Some(h) if h.contains(':') => format!("[{h}]:{}", self.port),
            Some(h) => format!("{h}:{}", self.port),
        }
    }

    /// `NAME://host:port` as Kafka writes it in ZooKeeper (IPv6 hosts in brackets, an absent host
    /// as nothing).
    pub fn connection_string(&self) -> String {
        match &self.host {
            None => format!("{}://:{}", self.listener_name, self.port),
            Some(h) if h.contains(':') => format!("{}://[{}]:{}", self.listener_name, h, self.port),
            Some(h) => format!("{}://{}:{}", self.listener_name, h, self.port),
        }
    }
}

impl fmt::Display for EndPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.connection_string())
    }
}

/// Parses `listener.security.protocol.map` (`NAME:PROTOCOL,...`).
pub fn parse_protocol_map(key: &str, s: &str) -> Result<ProtocolMap, ConfigError> {
    let mut map = ProtocolMap::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, proto) = item
            .rsplit_once(':')
            .ok_or_else(|| bad_value(key, s, format!("{item:?} is not NAME:PROTOCOL")))?;
        let proto = SecurityProtocol::parse(proto.trim()).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "Invalid security protocol `{}` defined in {key}",
                proto.trim()
            ))
        })?;
        map.insert(name.trim().to_ascii_uppercase(), proto);
    }
    Ok(map)
}

/// Parses a listener list and checks Kafka's rules: distinct names and, when
/// `distinct_ports`, distinct non-zero ports.
pub fn parse_listeners(
    key: &str,
    s: &str,
    map: &ProtocolMap,
    distinct_ports: bool,
) -> Result<Vec<EndPoint>, ConfigError> {
    let mut out: Vec<EndPoint> = Vec::new();
    for item in csv_list(s) {
        let ep = EndPoint::parse(&item, Some(map)).map_err(|e| bad_value(key, s, e.to_string()))?;
        if out.iter().any(|o| o.listener_name == ep.listener_name) {
            return Err(ConfigError::Invalid(format!(
                "Each listener must have a different name, listeners: {s}"
            )));
        }
        if distinct_ports && ep.port != 0 && out.iter().any(|o| o.port == ep.port) {
            return Err(ConfigError::Invalid(format!(
                "Each listener must have a different port, listeners: {s}"
            )));
        }
        out.push(ep);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// zookeeper.connect
// ---------------------------------------------------------------------------------------------

/// ZooKeeper's default client port, used for hosts given without one.
pub const ZK_DEFAULT_PORT: u16 = 2181;

/// A parsed `zookeeper.connect`: servers plus an optional chroot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkConnect {
    pub servers: Vec<(String, u16)>,
    /// Absolute path without a trailing slash; `None` for no chroot (or `/`).
    pub chroot: Option<String>,
}

impl ZkConnect {
    /// Parses `host[:port][,host[:port]...][/chroot]` as ZooKeeper's ConnectStringParser does.
    pub fn parse(s: &str) -> Result<ZkConnect, String> {
        let s = s.trim();
        let (hosts, chroot) = match s.find('/') {
            Some(i) => (&s[..i], Some(&s[i..])),
            None => (s, None),
        };
        let chroot = match chroot {
            None | Some("/") => None,
            Some(p) => {
                validate_znode_path(p)?;
                Some(p.to_owned())
            }
        };
        let mut servers = Vec::new();
        for h in hosts.split(',').map(str::trim).filter(|h| !h.is_empty()) {
            let (host, port) = if let Some(rest) = h.strip_prefix('[') {
                let (host, after) = rest
                    .split_once(']')
                    .ok_or_else(|| format!("bad IPv6 address {h:?}"))?;
                match after.strip_prefix(':') {
                    Some(p) => (host, Some(p)),
                    None if after.is_empty() => (host, None),
                    None => return Err(format!("bad server address {h:?}")),
                }
            } else {
                match h.rsplit_once(':') {
                    Some((host, p)) => (host, Some(p)),
                    None => (h, None),
                }
            };
            if host.is_empty() {
                return Err(format!("empty host in {h:?}"));
            }
            let port = match port {
                Some(p) => p.parse().map_err(|_| format!("bad port in {h:?}"))?,
                None => ZK_DEFAULT_PORT,
            };
            servers.push((host.to_owned(), port));
        }
        if servers.is_empty() {
            return Err("no ZooKeeper servers".into());
        }
        Ok(ZkConnect { servers, chroot })
    }

    /// The servers as a connect string without the chroot (`h1:p1,h2:p2`).
    pub fn servers_string(&self) -> String {
        self.servers
            .iter()
            .map(|(h, p)| {
                if h.contains(':') {
                    format!("[{h}]:{p}")
                } else {
                    format!("{h}:{p}")
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for ZkConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.servers_string())?;
        if let Some(c) = &self.chroot {
            f.write_str(c)?;
        }
        Ok(())
    }
}

/// ZooKeeper's path rules: absolute, no empty, `.` or `..` segment, no trailing slash, no
/// control characters.
pub fn validate_znode_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("path {p:?} must start with /"));
    }
    if p.len() > 1 && p.ends_with('/') {
        return Err(format!("path {p:?} must not end with /"));
    }
    if p.len() > 1 {
        for seg in p[1..].split('/') {
            if seg.is_empty() || seg == "." || seg == ".." {
                return Err(format!("invalid path {p:?}"));
            }
        }
    }
    if p.chars().any(|c| c == '\0' || c.is_control()) {
        return Err(format!("path {p:?} contains a control character"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// inter.broker.protocol.version
// ---------------------------------------------------------------------------------------------

/// Kafka's `ApiVersion` list up to 2.8, oldest first; the position is the version's order.
const API_VERSIONS: &[&str] = &[
    "0.8.0",
    "0.8.1",
    "0.8.2",
    "0.9.0",
    "0.10.0-IV0",
    "0.10.0-IV1",
    "0.10.1-IV0",
    "0.10.1-IV1",
    "0.10.1-IV2",
    "0.10.2-IV0",
    "0.11.0-IV0",
    "0.11.0-IV1",
    "0.11.0-IV2",
    "1.0-IV0",
    "1.1-IV0",
    "2.0-IV0",
    "2.0-IV1",
    "2.1-IV0",
    "2.1-IV1",
    "2.1-IV2",
    "2.2-IV0",
    "2.2-IV1",
    "2.3-IV0",
    "2.3-IV1",
    "2.4-IV0",
    "2.4-IV1",
    "2.5-IV0",
    "2.6-IV0",
    "2.7-IV0",
    "2.7-IV1",
    "2.7-IV2",
    "2.8-IV0",
    "2.8-IV1",
];

/// An inter-broker protocol (or message format) version; ordered like Kafka's `ApiVersion`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InterBrokerProtocolVersion(u8);

impl InterBrokerProtocolVersion {
    pub const V0_10_0_IV1: Self = Self(5);
    pub const V1_0_IV0: Self = Self(13);
    pub const V2_2_IV0: Self = Self(20);
    pub const V2_4_IV0: Self = Self(24);
    pub const V2_4_IV1: Self = Self(25);
    pub const V2_6_IV0: Self = Self(27);
    pub const V2_7_IV0: Self = Self(28);
    pub const V2_7_IV2: Self = Self(30);
    pub const V2_8_IV0: Self = Self(31);
    pub const V2_8_IV1: Self = Self(32);
    pub const LATEST: Self = Self::V2_8_IV1;

    /// Parses `2.8`, `2.8.1`, `2.8-IV0`, `0.10.0`, `0.10.0-IV1`...: a short version maps to the
    /// newest internal version of that release, and only the first two (three for `0.x`) dot
    /// segments count, as in Kafka's `ApiVersion.apply`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let segments = if s.starts_with("0.") { 3 } else { 2 };
        let key: Vec<&str> = s.split('.').take(segments).collect();
        let key = key.join(".");
        if let Some(i) = API_VERSIONS.iter().position(|v| *v == key) {
            return u8::try_from(i).ok().map(Self);
        }
        API_VERSIONS
            .iter()
            .rposition(|v| v.split('-').next() == Some(key.as_str()))
            .and_then(|i| u8::try_from(i).ok())
            .map(Self)
    }

    /// The full version string, e.g. `2.8-IV1`.
    pub fn as_str(self) -> &'static str {
        API_VERSIONS
            .get(usize::from(self.0))
            .copied()
            .unwrap_or("unknown")
    }
}

impl fmt::Display for InterBrokerProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// The typed configuration
// ---------------------------------------------------------------------------------------------

/// `log.message.timestamp.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// The broker's configuration, resolved and validated.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// -1 means "generate one" (see `broker_id_generation_enable`).
    pub broker_id: i32,
    pub broker_id_generation_enable: bool,
    pub reserved_broker_max_id: i32,
    pub broker_rack: Option<String>,
    pub zookeeper_connect: ZkConnect,
    pub zookeeper_session_timeout_ms: i32,
    pub zookeeper_connection_timeout_ms: i32,
    pub listeners: Vec<EndPoint>,
    pub advertised_listeners: Vec<EndPoint>,
    pub listener_security_protocol_map: ProtocolMap,
    pub inter_broker_listener_name: String,
    pub inter_broker_security_protocol: SecurityProtocol,
    pub control_plane_listener_name: Option<String>,
    pub inter_broker_protocol_version: InterBrokerProtocolVersion,
    pub log_message_format_version: InterBrokerProtocolVersion,
    pub log_dirs: Vec<PathBuf>,
    pub num_partitions: i32,
    pub default_replication_factor: i32,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub log_segment_bytes: i32,
    pub log_roll_ms: i64,
    pub log_roll_jitter_ms: i64,
    /// -1 means unlimited.
    pub log_retention_ms: i64,
    pub log_retention_bytes: i64,
    pub log_retention_check_interval_ms: i64,
    pub log_cleanup_policy: Vec<String>,
    pub log_flush_interval_messages: i64,
    pub log_flush_interval_ms: i64,
    pub log_flush_scheduler_interval_ms: i64,
    pub log_flush_offset_checkpoint_interval_ms: i64,
    pub log_index_interval_bytes: i32,
    pub log_index_size_max_bytes: i32,
    pub log_message_timestamp_type: TimestampType,
    pub compression_type: String,
    pub message_max_bytes: i32,
    pub socket_request_max_bytes: i32,
    pub num_network_threads: i32,
    pub num_io_threads: i32,
    pub min_insync_replicas: i32,
    pub replica_lag_time_max_ms: i64,
    pub replica_fetch_max_bytes: i32,
    pub replica_fetch_wait_max_ms: i32,
    pub replica_socket_timeout_ms: i32,
    pub unclean_leader_election_enable: bool,
    pub auto_leader_rebalance_enable: bool,
    pub controlled_shutdown_enable: bool,
    pub offsets_topic_num_partitions: i32,
    pub offsets_topic_replication_factor: i16,
    pub offsets_retention_minutes: i32,
    pub group_initial_rebalance_delay_ms: i32,
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    pub transaction_state_log_num_partitions: i32,
    pub transaction_state_log_replication_factor: i16,
    pub transaction_state_log_min_isr: i32,
    pub transaction_state_log_segment_bytes: i32,
    /// Every known key's value, for settings without a field above.
    pub values: Values,
    /// Keys that are not in [`KEYS`] (each also logged as a warning).
    pub unknown_keys: Vec<String>,
}

impl BrokerConfig {
    /// Reads a properties file and applies `overrides` (from `--override key=value`) on top.
    pub fn load(path: &Path, overrides: &[(String, String)]) -> Result<BrokerConfig, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&decode_latin1(&bytes), overrides)
    }

    /// Parses properties text and applies `overrides` on top.
    pub fn parse(text: &str, overrides: &[(String, String)]) -> Result<BrokerConfig, ConfigError> {
        let mut pairs = parse_properties(text)?;
        pairs.extend(overrides.iter().cloned());
        Self::from_pairs(&pairs)
    }

    /// Resolves and validates `pairs` (a later duplicate wins).
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<BrokerConfig, ConfigError> {
        let (v, unknown_keys) = Values::resolve(pairs)?;
        for k in &unknown_keys {
            tracing::warn!("The configuration '{k}' was supplied but isn't a known config.");
        }

        let zk_raw = v
            .opt_str("zookeeper.connect")?
            .ok_or(ConfigError::Missing("zookeeper.connect"))?;
        let zookeeper_connect =
            ZkConnect::parse(&zk_raw).map_err(|m| bad_value("zookeeper.connect", &zk_raw, m))?;
        if v.boolean("zookeeper.set.acl")? {
            return Err(bad_value(
                "zookeeper.set.acl",
                "true",
                "secure ZooKeeper ACLs are not supported",
            ));
        }
        let zookeeper_session_timeout_ms = v.int("zookeeper.session.timeout.ms")?;
        let zookeeper_connection_timeout_ms = v
            .opt_int("zookeeper.connection.timeout.ms")?
            .unwrap_or(zookeeper_session_timeout_ms);

        let broker_id = v.int("broker.id")?;
        let broker_id_generation_enable = v.boolean("broker.id.generation.enable")?;
        let reserved_broker_max_id = v.int("reserved.broker.max.id")?;
        if broker_id_generation_enable {
            if broker_id < -1 || broker_id > reserved_broker_max_id {
                return Err(ConfigError::Invalid(
                    "broker.id must be greater than or equal to -1 and not greater than reserved.broker.max.id".into(),
                ));
            }
        } else if broker_id < 0 {
            return Err(ConfigError::Invalid(
                "broker.id must be greater than or equal to 0".into(),
            ));
        }

        let map_raw = v.string("listener.security.protocol.map")?;
        let protocol_map = parse_protocol_map("listener.security.protocol.map", &map_raw)?;
        let listeners = resolve_listeners(&v, &protocol_map)?;
        let advertised_listeners = resolve_advertised(&v, &protocol_map, &listeners)?;
        let (inter_broker_listener_name, inter_broker_security_protocol) =
            resolve_inter_broker(&v, &protocol_map)?;
        check_listener_names(
            &listeners,
            &advertised_listeners,
            &inter_broker_listener_name,
        )?;
        let control_plane_listener_name = match v.opt_str("control.plane.listener.name")? {
            None => None,
            Some(n) => {
                let n = n.to_ascii_uppercase();
                if !protocol_map.contains_key(&n) {
                    return Err(ConfigError::Invalid(format!(
                        "Listener with {n} defined in control.plane.listener.name not found in listener.security.protocol.map."
                    )));
                }
                if !advertised_listeners.iter().any(|e| e.listener_name == n) {
                    return Err(ConfigError::Invalid(format!(
                        "control.plane.listener.name must be a listener name defined in advertised.listeners. The valid options based on currently configured listeners are {}",
                        names(&advertised_listeners)
                    )));
                }
                if n == inter_broker_listener_name {
                    return Err(ConfigError::Invalid(format!(
                        "control.plane.listener.name, when defined, should have a different value from the inter broker listener name. Currently they both have the value {n}"
                    )));
                }
                Some(n)
            }
        };

        let version = |key: &'static str| -> Result<InterBrokerProtocolVersion, ConfigError> {
            let s = v.string(key)?;
            InterBrokerProtocolVersion::parse(&s)
                .ok_or_else(|| bad_value(key, &s, format!("Version `{s}` is not a valid version")))
        };
        let inter_broker_protocol_version = version("inter.broker.protocol.version")?;
        let log_message_format_version = version("log.message.format.version")?;

        let log_dirs: Vec<PathBuf> = match v.opt_str("log.dirs")? {
            Some(d) => csv_list(&d),
            None => csv_list(&v.string("log.dir")?),
        }
        .into_iter()
        .map(PathBuf::from)
        .collect();
        if log_dirs.is_empty() {
            return Err(ConfigError::Invalid(
                "At least one log directory must be defined via log.dirs or log.dir.".into(),
            ));
        }

        const HOUR_MS: i64 = 60 * 60 * 1000;
        let log_roll_ms = match v.opt_long("log.roll.ms")? {
            Some(ms) => ms,
            None => i64::from(v.int("log.roll.hours")?) * HOUR_MS,
        };
        if log_roll_ms < 1 {
            return Err(ConfigError::Invalid(
                "log.roll.ms must be greater than or equal to 1".into(),
            ));
        }
        let log_roll_jitter_ms = match v.opt_long("log.roll.jitter.ms")? {
            Some(ms) => ms,
            None => i64::from(v.int("log.roll.jitter.hours")?) * HOUR_MS,
        };
        if log_roll_jitter_ms < 0 {
            return Err(ConfigError::Invalid(
                "log.roll.jitter.ms must be greater than or equal to 0".into(),
            ));
        }
        let log_retention_ms = retention_ms(&v)?;

        let replica_fetch_wait_max_ms = v.int("replica.fetch.wait.max.ms")?;
        let replica_socket_timeout_ms = v.int("replica.socket.timeout.ms")?;
        let replica_lag_time_max_ms = v.long("replica.lag.time.max.ms")?;
        if replica_fetch_wait_max_ms > replica_socket_timeout_ms {
            return Err(ConfigError::Invalid("replica.socket.timeout.ms should always be at least replica.fetch.wait.max.ms to prevent unnecessary socket timeouts".into()));
        }
        if i64::from(replica_fetch_wait_max_ms) > replica_lag_time_max_ms {
            return Err(ConfigError::Invalid("replica.fetch.wait.max.ms should always be less than or equal to replica.lag.time.max.ms to prevent frequent changes in ISR".into()));
        }
        let offsets_topic_replication_factor = v.short("offsets.topic.replication.factor")?;
        let acks = v.short("offsets.commit.required.acks")?;
        if acks < -1 || acks > offsets_topic_replication_factor {
            return Err(ConfigError::Invalid("offsets.commit.required.acks must be greater or equal -1 and less or equal to offsets.topic.replication.factor".into()));
        }

        let log_flush_scheduler_interval_ms = v.long("log.flush.scheduler.interval.ms")?;
        let log_message_timestamp_type = match v.string("log.message.timestamp.type")?.as_str() {
            "LogAppendTime" => TimestampType::LogAppendTime,
            _ => TimestampType::CreateTime,
        };

        Ok(BrokerConfig {
            broker_id,
            broker_id_generation_enable,
            reserved_broker_max_id,
            broker_rack: v.opt_str("broker.rack")?,
            zookeeper_connect,
            zookeeper_session_timeout_ms,
            zookeeper_connection_timeout_ms,
            listeners,
            advertised_listeners,
            listener_security_protocol_map: protocol_map,
            inter_broker_listener_name,
            inter_broker_security_protocol,
            control_plane_listener_name,
            inter_broker_protocol_version,
            log_message_format_version,
            log_dirs,
            num_partitions: v.int("num.partitions")?,
            default_replication_factor: v.int("default.replication.factor")?,
            auto_create_topics_enable: v.boolean("auto.create.topics.enable")?,
            delete_topic_enable: v.boolean("delete.topic.enable")?,
            log_segment_bytes: v.int("log.segment.bytes")?,
            log_roll_ms,
            log_roll_jitter_ms,
            log_retention_ms,
            log_retention_bytes: v.long("log.retention.bytes")?,
            log_retention_check_interval_ms: v.long("log.retention.check.interval.ms")?,
            log_cleanup_policy: v.list("log.cleanup.policy")?,
            log_flush_interval_messages: v.long("log.flush.interval.messages")?,
            log_flush_interval_ms: v
                .opt_long("log.flush.interval.ms")?
                .unwrap_or(log_flush_scheduler_interval_ms),
            log_flush_scheduler_interval_ms,
            log_flush_offset_checkpoint_interval_ms: i64::from(
                v.int("log.flush.offset.checkpoint.interval.ms")?,
            ),
            log_index_interval_bytes: v.int("log.index.interval.bytes")?,
            log_index_size_max_bytes: v.int("log.index.size.max.bytes")?,
            log_message_timestamp_type,
            compression_type: v.string("compression.type")?,
            message_max_bytes: v.int("message.max.bytes")?,
            socket_request_max_bytes: v.int("socket.request.max.bytes")?,
            num_network_threads: v.int("num.network.threads")?,
            num_io_threads: v.int("num.io.threads")?,
            min_insync_replicas: v.int("min.insync.replicas")?,
            replica_lag_time_max_ms,
            replica_fetch_max_bytes: v.int("replica.fetch.max.bytes")?,
            replica_fetch_wait_max_ms,
            replica_socket_timeout_ms,
            unclean_leader_election_enable: v.boolean("unclean.leader.election.enable")?,
            auto_leader_rebalance_enable: v.boolean("auto.leader.rebalance.enable")?,
            controlled_shutdown_enable: v.boolean("controlled.shutdown.enable")?,
            offsets_topic_num_partitions: v.int("offsets.topic.num.partitions")?,
            offsets_topic_replication_factor,
            offsets_retention_minutes: v.int("offsets.retention.minutes")?,
            group_initial_rebalance_delay_ms: v.int("group.initial.rebalance.delay.ms")?,
            group_min_session_timeout_ms: v.int("group.min.session.timeout.ms")?,
            group_max_session_timeout_ms: v.int("group.max.session.timeout.ms")?,
            transaction_state_log_num_partitions: v.int("transaction.state.log.num.partitions")?,
            transaction_state_log_replication_factor: v
                .short("transaction.state.log.replication.factor")?,
            transaction_state_log_min_isr: v.int("transaction.state.log.min.isr")?,
            transaction_state_log_segment_bytes: v.int("transaction.state.log.segment.bytes")?,
            values: v,
            unknown_keys,
        })
    }

    /// The listener used between brokers.
    pub fn inter_broker_endpoint(&self) -> Option<&EndPoint> {
        self.advertised_listeners
            .iter()
            .find(|e| e.listener_name == self.inter_broker_listener_name)
    }

    /// The advertised listeners with an absent host replaced by `local_host` (Kafka registers
    /// the machine's canonical host name there).
    pub fn registration_endpoints(&self, local_host: &str) -> Vec<EndPoint> {
        self.advertised_listeners
            .iter()
            .map(|e| EndPoint {
                host: Some(e.host.clone().unwrap_or_else(|| local_host.to_owned())),
                ..e.clone()
            })
            .collect()
    }
}

fn names(eps: &[EndPoint]) -> String {
    eps.iter()
        .map(|e| e.listener_name.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// `listeners`, or (2.x compatibility) `PLAINTEXT://host.name:port` when only the deprecated
/// `port`/`host.name` are set.
fn resolve_listeners(v: &Values, map: &ProtocolMap) -> Result<Vec<EndPoint>, ConfigError> {
    if !v.is_set("listeners") && (v.is_set("port") || v.is_set("host.name")) {
        let s = legacy_listener(&v.string("host.name")?, v.int("port")?);
        return parse_listeners("listeners", &s, map, true);
    }
    parse_listeners("listeners", &v.string("listeners")?, map, true)
}

fn legacy_listener(host: &str, port: i32) -> String {
    if host.contains(':') {
        format!("PLAINTEXT://[{host}]:{port}")
    } else {
        format!("PLAINTEXT://{host}:{port}")
    }
}

fn resolve_advertised(
    v: &Values,
    map: &ProtocolMap,
    listeners: &[EndPoint],
) -> Result<Vec<EndPoint>, ConfigError> {
    let eps = if let Some(s) = v.opt_str("advertised.listeners")? {
        parse_listeners("advertised.listeners", &s, map, false)?
    } else if v.is_set("advertised.host.name") || v.is_set("advertised.port") {
        let host = match v.opt_str("advertised.host.name")? {
            Some(h) => h,
            None => v.string("host.name")?,
        };
        let port = match v.opt_int("advertised.port")? {
            Some(p) => p,
            None => v.int("port")?,
        };
        parse_listeners(
            "advertised.listeners",
            &legacy_listener(&host, port),
            map,
            false,
        )?
    } else {
        listeners.to_vec()
    };
    if eps.iter().any(|e| e.host.as_deref() == Some("0.0.0.0")) {
        return Err(ConfigError::Invalid(
            "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address.".into(),
        ));
    }
    Ok(eps)
}

fn resolve_inter_broker(
    v: &Values,
    map: &ProtocolMap,
) -> Result<(String, SecurityProtocol), ConfigError> {
    match v.opt_str("inter.broker.listener.name")? {
        Some(_) if v.is_set("security.inter.broker.protocol") => Err(ConfigError::Invalid(
            "Only one of inter.broker.listener.name and security.inter.broker.protocol should be set.".into(),
        )),
        Some(name) => {
            let name = name.to_ascii_uppercase();
            let proto = map.get(&name).copied().ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "Listener with name {name} defined in inter.broker.listener.name not found in listener.security.protocol.map."
                ))
            })?;
            Ok((name, proto))
        }
        None => {
            let s = v.string("security.inter.broker.protocol")?;
            let proto = SecurityProtocol::parse(&s).ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "Invalid security protocol `{s}` defined in security.inter.broker.protocol"
                ))
            })?;
            Ok((proto.name().to_owned(), proto))
        }
    }
}

fn check_listener_names(
    listeners: &[EndPoint],
    advertised: &[EndPoint],
    inter_broker: &str,
) -> Result<(), ConfigError> {
    if !advertised.iter().any(|e| e.listener_name == inter_broker) {
        return Err(ConfigError::Invalid(format!(
            "inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid options based on currently configured listeners are {}",
            names(advertised)
        )));
    }
    if let Some(extra) = advertised
        .iter()
        .find(|a| !listeners.iter().any(|l| l.listener_name == a.listener_name))
    {
        return Err(ConfigError::Invalid(format!(
            "advertised.listeners listener names must be equal to or a subset of the ones defined in listeners. Found {}. The valid options based on the current configuration are {}",
            extra.listener_name,
            names(listeners)
        )));
    }
    Ok(())
}

/// `log.retention.ms`, else `.minutes`, else `.hours`; any negative result means unlimited (-1).
fn retention_ms(v: &Values) -> Result<i64, ConfigError> {
    const MINUTE_MS: i64 = 60 * 1000;
    let ms = match v.opt_long("log.retention.ms")? {
        Some(ms) => ms,
        None => match v.opt_int("log.retention.minutes")? {
            Some(m) => i64::from(m) * MINUTE_MS,
            None => i64::from(v.int("log.retention.hours")?) * 60 * MINUTE_MS,
        },
    };
    if ms < 0 {
        return Ok(-1);
    }
    if ms == 0 {
        return Err(ConfigError::Invalid(
            "log.retention.ms must be unlimited (-1) or, greater than or equal to 1".into(),
        ));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ZK: &str = "zookeeper.connect=localhost:2181\n";

    fn cfg(text: &str) -> BrokerConfig {
        match BrokerConfig::parse(&format!("{ZK}{text}"), &[]) {
            Ok(c) => c,
            Err(e) => panic!("config {text:?} rejected: {e}"),
        }
    }

    fn err(text: &str) -> ConfigError {
        match BrokerConfig::parse(text, &[]) {
            Ok(_) => panic!("config {text:?} accepted"),
            Err(e) => e,
        }
    }

    fn props(text: &str) -> Vec<(String, String)> {
        parse_properties(text).unwrap()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn properties_separators_and_comments() {
        let p = props(
            "# comment\n! bang comment\n\n   a=1\nb : 2\nc 3\nd\te\nf\ng=\nh = x = y \n  \t\n",
        );
        assert_eq!(
            p,
            vec![
                pair("a", "1"),
                pair("b", "2"),
                pair("c", "3"),
                pair("d", "e"),
                pair("f", ""),
                pair("g", ""),
                pair("h", "x = y "),
            ]
        );
    }

    #[test]
    fn properties_continuation_and_escapes() {
        let p = props(
            "list = a,\\\n     b,\\\r\n  c\nkey\\ with\\=odd\\:chars=v\\tw\\u0041\\\\\nx=\\q\n",
        );
        assert_eq!(
            p,
            vec![
                pair("list", "a,b,c"),
                pair("key with=odd:chars", "v\twA\\"),
                pair("x", "q"),
            ]
        );
        // An even number of trailing backslashes does not continue.
        assert_eq!(
            props("a=b\\\\\nc=d"),
            vec![pair("a", "b\\"), pair("c", "d")]
        );
        // A comment line does not continue, even ending in a backslash.
        assert_eq!(props("#a\\\nb=c"), vec![pair("b", "c")]);
        // A continued line may look like a comment: it is still content.
        assert_eq!(props("a=b\\\n#c"), vec![pair("a", "b#c")]);
        // A backslash at end of input is dropped.
        assert_eq!(props("a=b\\"), vec![pair("a", "b")]);
        // Lone CR line endings.
        assert_eq!(props("a=1\rb=2"), vec![pair("a", "1"), pair("b", "2")]);
        // Surrogate pairs from \u escapes.
        assert_eq!(props("e=\\uD83D\\uDE00"), vec![pair("e", "\u{1F600}")]);
    }

    #[test]
    fn properties_bad_unicode_escape_is_an_error() {
        for bad in ["a=\\u12", "a=\\uZZZZ", "a=\\u+123"] {
            assert!(
                matches!(
                    parse_properties(bad),
                    Err(ConfigError::Syntax { line: 1, .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn latin1_decoding() {
        assert_eq!(decode_latin1(b"a=\xe9"), "a=\u{e9}");
    }

    #[test]
    fn every_default_parses_and_names_are_unique() {
        for (i, k) in KEYS.iter().enumerate() {
            if let Some(d) = k.default {
                parse_value(k, d).unwrap_or_else(|e| panic!("{}: {e}", k.name));
            }
            assert!(
                KEYS[..i].iter().all(|o| o.name != k.name),
                "duplicate {}",
                k.name
            );
            assert!(!k.doc.is_empty());
        }
    }

    #[test]
    fn defaults() {
        let c = cfg("");
        assert_eq!(c.broker_id, -1);
        assert!(c.broker_id_generation_enable);
        assert_eq!(c.reserved_broker_max_id, 1000);
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].connection_string(), "PLAINTEXT://:9092");
        assert_eq!(c.listeners[0].host, None);
        assert_eq!(c.advertised_listeners, c.listeners);
        assert_eq!(c.listener_security_protocol_map.len(), 4);
        assert_eq!(c.inter_broker_listener_name, "PLAINTEXT");
        assert_eq!(
            c.inter_broker_security_protocol,
            SecurityProtocol::Plaintext
        );
        assert_eq!(c.log_dirs, vec![PathBuf::from("/tmp/kafka-logs")]);
        assert_eq!(c.zookeeper_session_timeout_ms, 18000);
        assert_eq!(c.zookeeper_connection_timeout_ms, 18000);
        assert_eq!(c.num_partitions, 1);
        assert_eq!(c.default_replication_factor, 1);
        assert!(c.auto_create_topics_enable);
        assert!(c.delete_topic_enable);
        assert_eq!(c.log_segment_bytes, 1_073_741_824);
        assert_eq!(c.log_roll_ms, 168 * 3_600_000);
        assert_eq!(c.log_roll_jitter_ms, 0);
        assert_eq!(c.log_retention_ms, 168 * 3_600_000);
        assert_eq!(c.log_retention_bytes, -1);
        assert_eq!(c.log_retention_check_interval_ms, 300_000);
        assert_eq!(c.log_flush_interval_messages, i64::MAX);
        assert_eq!(c.log_flush_scheduler_interval_ms, i64::MAX);
        assert_eq!(c.log_flush_interval_ms, i64::MAX);
        assert_eq!(c.log_flush_offset_checkpoint_interval_ms, 60_000);
        assert_eq!(c.log_index_interval_bytes, 4096);
        assert_eq!(c.log_index_size_max_bytes, 10_485_760);
        assert_eq!(c.log_cleanup_policy, vec!["delete".to_string()]);
        assert_eq!(c.message_max_bytes, 1_048_588);
        assert_eq!(c.socket_request_max_bytes, 104_857_600);
        assert_eq!(c.num_network_threads, 3);
        assert_eq!(c.num_io_threads, 8);
        assert_eq!(c.offsets_topic_num_partitions, 50);
        assert_eq!(c.offsets_topic_replication_factor, 3);
        assert_eq!(c.offsets_retention_minutes, 10080);
        assert_eq!(c.group_initial_rebalance_delay_ms, 3000);
        assert_eq!(c.group_min_session_timeout_ms, 6000);
        assert_eq!(c.group_max_session_timeout_ms, 1_800_000);
        assert_eq!(c.min_insync_replicas, 1);
        assert_eq!(c.replica_lag_time_max_ms, 30_000);
        assert_eq!(c.replica_fetch_max_bytes, 1_048_576);
        assert_eq!(c.replica_fetch_wait_max_ms, 500);
        assert!(!c.unclean_leader_election_enable);
        assert!(c.controlled_shutdown_enable);
        assert!(c.auto_leader_rebalance_enable);
        assert_eq!(c.broker_rack, None);
        assert_eq!(
            c.inter_broker_protocol_version,
            InterBrokerProtocolVersion::LATEST
        );
        assert_eq!(c.log_message_timestamp_type, TimestampType::CreateTime);
        assert_eq!(c.compression_type, "producer");
        assert_eq!(c.transaction_state_log_num_partitions, 50);
        assert_eq!(c.transaction_state_log_replication_factor, 3);
        assert_eq!(c.transaction_state_log_min_isr, 2);
        assert_eq!(c.transaction_state_log_segment_bytes, 104_857_600);
        assert_eq!(
            c.zookeeper_connect.servers,
            vec![("localhost".to_string(), 2181)]
        );
        assert!(c.unknown_keys.is_empty());
    }

    #[test]
    fn every_key_round_trips_an_explicit_default() {
        // Setting each key explicitly to its default must be accepted (catches table/getter
        // mismatches, e.g. a key read with the wrong type).
        for k in KEYS {
            let Some(d) = k.default else { continue };
            let text = format!("{ZK}{}={d}\n", k.name);
            BrokerConfig::parse(&text, &[]).unwrap_or_else(|e| panic!("{}: {e}", k.name));
        }
    }

    #[test]
    fn zookeeper_connect_is_required() {
        assert!(matches!(
            err("broker.id=1"),
            ConfigError::Missing("zookeeper.connect")
        ));
        assert!(matches!(
            err("zookeeper.connect="),
            ConfigError::Value { .. }
        ));
    }

    #[test]
    fn zk_connect_parsing() {
        let z = ZkConnect::parse("a:1,b,[::1]:3/kafka/x").unwrap();
        assert_eq!(
            z.servers,
            vec![
                ("a".to_string(), 1),
                ("b".to_string(), 2181),
                ("::1".to_string(), 3)
            ]
        );
        assert_eq!(z.chroot.as_deref(), Some("/kafka/x"));
        assert_eq!(z.servers_string(), "a:1,b:2181,[::1]:3");
        assert_eq!(z.to_string(), "a:1,b:2181,[::1]:3/kafka/x");
        assert_eq!(ZkConnect::parse("a:1/").unwrap().chroot, None);
        for bad in ["", "a:x", "a:1/b/", "a:1/b//c", ":1", "a:1/./b", "a:99999"] {
            assert!(ZkConnect::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retention_precedence() {
        assert_eq!(cfg("log.retention.hours=1").log_retention_ms, 3_600_000);
        assert_eq!(
            cfg("log.retention.hours=1\nlog.retention.minutes=2").log_retention_ms,
            120_000
        );
        assert_eq!(
            cfg("log.retention.hours=1\nlog.retention.minutes=2\nlog.retention.ms=5")
                .log_retention_ms,
            5
        );
        assert_eq!(cfg("log.retention.ms=-1").log_retention_ms, -1);
        assert_eq!(cfg("log.retention.hours=-5").log_retention_ms, -1);
        assert!(matches!(
            err(&format!("{ZK}log.retention.ms=0")),
            ConfigError::Invalid(_)
        ));
    }

    #[test]
    fn roll_flush_and_dirs_precedence() {
        assert_eq!(cfg("log.roll.hours=2").log_roll_ms, 7_200_000);
        assert_eq!(cfg("log.roll.hours=2\nlog.roll.ms=10").log_roll_ms, 10);
        assert!(matches!(
            err(&format!("{ZK}log.roll.ms=0")),
            ConfigError::Invalid(_)
        ));
        assert!(matches!(
            err(&format!("{ZK}log.roll.hours=0")),
            ConfigError::Value { .. }
        ));
        assert_eq!(
            cfg("log.flush.scheduler.interval.ms=7").log_flush_interval_ms,
            7
        );
        assert_eq!(
            cfg("log.flush.scheduler.interval.ms=7\nlog.flush.interval.ms=9").log_flush_interval_ms,
            9
        );
        assert_eq!(
            cfg("log.dir=/x\nlog.dirs=/a, /b,").log_dirs,
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(cfg("log.dir=/x").log_dirs, vec![PathBuf::from("/x")]);
        assert!(matches!(
            err(&format!("{ZK}log.dirs= , ")),
            ConfigError::Invalid(_)
        ));
        assert_eq!(
            cfg("zookeeper.connection.timeout.ms=5").zookeeper_connection_timeout_ms,
            5
        );
        assert_eq!(
            cfg("zookeeper.session.timeout.ms=7").zookeeper_connection_timeout_ms,
            7
        );
    }

    #[test]
    fn broker_id_rules() {
        assert_eq!(cfg("broker.id=1000").broker_id, 1000);
        assert!(matches!(
            err(&format!("{ZK}broker.id=1001")),
            ConfigError::Invalid(_)
        ));
        assert!(matches!(
            err(&format!("{ZK}broker.id=-2")),
            ConfigError::Invalid(_)
        ));
        assert_eq!(
            cfg("broker.id=5000\nreserved.broker.max.id=5000").broker_id,
            5000
        );
        assert_eq!(
            cfg("broker.id=5000\nbroker.id.generation.enable=false").broker_id,
            5000
        );
        assert!(matches!(
            err(&format!(
                "{ZK}broker.id=-1\nbroker.id.generation.enable=false"
            )),
            ConfigError::Invalid(_)
        ));
    }

    #[test]
    fn invalid_values_name_key_and_value() {
        let e = err(&format!("{ZK}num.partitions=abc"));
        let msg = e.to_string();
        assert!(
            msg.contains("num.partitions") && msg.contains("abc"),
            "{msg}"
        );
        for bad in [
            "num.partitions=0",
            "default.replication.factor=0",
            "offsets.topic.replication.factor=0",
            "auto.create.topics.enable=yes",
            "compression.type=brotli",
            "log.cleanup.policy=delete,shred",
            "log.message.timestamp.type=createtime",
            "inter.broker.protocol.version=3.0",
            "inter.broker.protocol.version=banana",
            "broker.id=99999999999",
            "offsets.topic.replication.factor=40000",
            "zookeeper.set.acl=true",
        ] {
            match err(&format!("{ZK}{bad}")) {
                ConfigError::Value { key, value, .. } => {
                    assert!(bad.starts_with(&key), "{bad}: key {key}");
                    assert!(bad.ends_with(&value), "{bad}: value {value}");
                }
                other => panic!("{bad}: {other}"),
            }
        }
    }

    #[test]
    fn values_are_trimmed_and_booleans_case_insensitive() {
        let c = cfg("num.partitions =  7  \ndelete.topic.enable=FALSE\nlog.cleanup.policy= compact , delete");
        assert_eq!(c.num_partitions, 7);
        assert!(!c.delete_topic_enable);
        assert_eq!(c.log_cleanup_policy, vec!["compact", "delete"]);
    }

    #[test]
    fn unknown_keys_are_returned() {
        let c = cfg("foo.bar=1\nfoo.bar=2\nssl.keystore.location=/x");
        assert_eq!(c.unknown_keys, vec!["foo.bar", "ssl.keystore.location"]);
    }

    #[test]
    fn overrides_win() {
        let ov = vec![
            parse_override("num.partitions=9").unwrap(),
            parse_override("broker.id=3").unwrap(),
        ];
        let c = BrokerConfig::parse(&format!("{ZK}num.partitions=2\nbroker.id=1"), &ov).unwrap();
        assert_eq!(c.num_partitions, 9);
        assert_eq!(c.broker_id, 3);
        assert_eq!(parse_override("a=b=c").unwrap(), pair("a", "b=c"));
        assert!(parse_override("novalue").is_err());
        assert!(parse_override("=x").is_err());
    }

    #[test]
    fn listeners() {
        let c = cfg("listeners=PLAINTEXT://127.0.0.1:0,internal://[::1]:9093\nlistener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT\ninter.broker.listener.name=internal");
        assert_eq!(c.listeners[0].host.as_deref(), Some("127.0.0.1"));
        assert_eq!(c.listeners[0].port, 0);
        assert_eq!(c.listeners[1].listener_name, "INTERNAL");
        assert_eq!(c.listeners[1].host.as_deref(), Some("::1"));
        assert_eq!(c.listeners[1].connection_string(), "INTERNAL://[::1]:9093");
        assert_eq!(c.inter_broker_listener_name, "INTERNAL");
        assert_eq!(c.inter_broker_endpoint().map(|e| e.port), Some(9093));

        let a = cfg("listeners=PLAINTEXT://:9092\nadvertised.listeners=PLAINTEXT://h1:19092");
        assert_eq!(
            a.advertised_listeners[0].connection_string(),
            "PLAINTEXT://h1:19092"
        );
        assert_eq!(
            cfg("").registration_endpoints("myhost")[0].connection_string(),
            "PLAINTEXT://myhost:9092"
        );

        for bad in [
            "listeners=PLAINTEXT://:9092,PLAINTEXT://:9093",
            "listeners=PLAINTEXT://:9092,SSL://:9092",
            "listeners=FOO://:9092",
            "listeners=PLAINTEXT:9092",
            "listeners=PLAINTEXT://h:70000",
            "listeners=PLAINTEXT://h/x:1",
            "advertised.listeners=PLAINTEXT://0.0.0.0:9092",
            "listeners=SSL://:9093",
            "listeners=PLAINTEXT://:1\nadvertised.listeners=PLAINTEXT://:1,SSL://:2",
            "inter.broker.listener.name=PLAINTEXT\nsecurity.inter.broker.protocol=PLAINTEXT",
            "inter.broker.listener.name=NOPE",
            "control.plane.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:TLS",
            "listener.security.protocol.map=PLAINTEXT",
        ] {
            let _ = err(&format!("{ZK}{bad}"));
        }
        // Duplicate port 0 is allowed (tests use it).
        let z = cfg("listeners=PLAINTEXT://:0,SSL://:0");
        assert_eq!(z.listeners.len(), 2);
    }

    #[test]
    fn legacy_port_and_host_name() {
        let c = cfg("port=9999\nhost.name=h");
        assert_eq!(c.listeners[0].connection_string(), "PLAINTEXT://h:9999");
        let c = cfg("port=9999\nadvertised.host.name=pub");
        assert_eq!(
            c.advertised_listeners[0].connection_string(),
            "PLAINTEXT://pub:9999"
        );
        // listeners wins over port.
        assert_eq!(cfg("port=1\nlisteners=PLAINTEXT://:2").listeners[0].port, 2);
    }

    #[test]
    fn endpoint_parsing() {
        assert_eq!(
            EndPoint::parse("PLAINTEXT://:9", None)
                .unwrap()
                .bind_address(),
            "0.0.0.0:9"
        );
        assert_eq!(
            EndPoint::parse("PLAINTEXT://127.0.0.1:9", None)
                .unwrap()
                .bind_address(),
            "127.0.0.1:9"
        );
        assert_eq!(
            EndPoint::parse("PLAINTEXT://[::1]:9", None)
                .unwrap()
                .bind_address(),
            "[::1]:9"
        );
        let ep = EndPoint::parse("ssl://h:1", None).unwrap();
        assert_eq!(ep.security_protocol, SecurityProtocol::Ssl);
        assert_eq!(ep.connection_string(), "SSL://h:1");
        assert!(EndPoint::parse("CUSTOM://h:1", None).is_err());
        assert!(EndPoint::parse("PLAINTEXT://h:", None).is_err());
        assert!(EndPoint::parse("PLAINTEXT://h:-1", None).is_err());
        let mut m = ProtocolMap::new();
        m.insert("CUSTOM".into(), SecurityProtocol::SaslSsl);
        assert_eq!(
            EndPoint::parse("custom://h:1", Some(&m))
                .unwrap()
                .security_protocol,
            SecurityProtocol::SaslSsl
        );
    }

    #[test]
    fn replica_timing_rules() {
        assert!(matches!(
            err(&format!("{ZK}replica.fetch.wait.max.ms=40000")),
            ConfigError::Invalid(_)
        ));
        assert!(matches!(
            err(&format!("{ZK}replica.lag.time.max.ms=100")),
            ConfigError::Invalid(_)
        ));
        assert!(matches!(
            err(&format!("{ZK}offsets.commit.required.acks=4")),
            ConfigError::Invalid(_)
        ));
    }

    #[test]
    fn ibp_parsing_and_order() {
        type V = InterBrokerProtocolVersion;
        assert_eq!(V::parse("2.8"), Some(V::V2_8_IV1));
        assert_eq!(V::parse("2.8.2"), Some(V::V2_8_IV1));
        assert_eq!(V::parse("2.8-IV0"), Some(V::V2_8_IV0));
        assert_eq!(V::parse("2.7"), Some(V::V2_7_IV2));
        assert_eq!(V::parse("2.7-IV0"), Some(V::V2_7_IV0));
        assert_eq!(V::parse("0.10.0"), Some(V::V0_10_0_IV1));
        assert_eq!(V::parse("0.10.0.1"), Some(V::V0_10_0_IV1));
        assert_eq!(V::parse("1.0"), Some(V::V1_0_IV0));
        assert_eq!(V::parse("2.4-IV1"), Some(V::V2_4_IV1));
        assert_eq!(V::parse("0.8.2"), V::parse("0.8.2.1"));
        assert_eq!(V::parse("3.0"), None);
        assert_eq!(V::parse("2.9"), None);
        assert_eq!(V::parse(""), None);
        assert!(V::V2_7_IV0 < V::V2_7_IV2 && V::V2_7_IV2 < V::V2_8_IV0);
        // The named constants point at the right table entries.
        for (c, s) in [
            (V::V0_10_0_IV1, "0.10.0-IV1"),
            (V::V1_0_IV0, "1.0-IV0"),
            (V::V2_2_IV0, "2.2-IV0"),
            (V::V2_4_IV0, "2.4-IV0"),
            (V::V2_4_IV1, "2.4-IV1"),
            (V::V2_6_IV0, "2.6-IV0"),
            (V::V2_7_IV0, "2.7-IV0"),
            (V::V2_7_IV2, "2.7-IV2"),
            (V::V2_8_IV0, "2.8-IV0"),
            (V::V2_8_IV1, "2.8-IV1"),
        ] {
            assert_eq!(c.as_str(), s);
            assert_eq!(V::parse(s), Some(c));
        }
        assert_eq!(
            cfg("inter.broker.protocol.version=2.6").inter_broker_protocol_version,
            V::V2_6_IV0
        );
    }

    proptest! {
        #[test]
        fn properties_parser_never_panics(s in "\\PC{0,200}") {
            let _ = parse_properties(&s);
        }

        #[test]
        fn properties_parser_never_panics_on_tricky_chars(s in "[a-z=: \\\\\\t\\r\\n#!u0-9]{0,80}") {
            let _ = parse_properties(&s);
        }

        #[test]
        fn config_never_panics(lines in proptest::collection::vec(
            (prop::sample::select(KEYS.iter().map(|k| k.name).collect::<Vec<_>>()), "\\PC{0,20}"), 0..8))
        {
            let pairs: Vec<(String, String)> = lines.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            let _ = BrokerConfig::from_pairs(&pairs);
        }

        #[test]
        fn endpoint_and_zk_parsers_never_panic(s in "\\PC{0,60}") {
            let _ = EndPoint::parse(&s, None);
            let _ = ZkConnect::parse(&s);
            let _ = InterBrokerProtocolVersion::parse(&s);
        }

        #[test]
        fn simple_pairs_round_trip(k in "[a-z][a-z.]{0,15}", v in "[a-zA-Z0-9./,]{0,20}") {
            let parsed = parse_properties(&format!("{k}={v}\n")).unwrap();
            prop_assert_eq!(parsed, vec![(k, v)]);
        }

        #[test]
        fn endpoint_round_trips(name in "[A-Z][A-Z_]{0,8}", host in "[a-z0-9.]{0,12}", port in any::<u16>()) {
            let mut m = ProtocolMap::new();
            m.insert(name.clone(), SecurityProtocol::Plaintext);
            let ep = EndPoint { listener_name: name, host: (!host.is_empty()).then_some(host), port, security_protocol: SecurityProtocol::Plaintext };
            prop_assert_eq!(EndPoint::parse(&ep.connection_string(), Some(&m)).unwrap(), ep);
        }
    }
}
