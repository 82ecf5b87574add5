//! Per-partition log configuration: Kafka's topic-level keys with their 2.x defaults, in one place.
//!
//! Broker-wide `log.*` keys (`log.segment.bytes`, `log.roll.hours`, …) map onto the same fields; that
//! mapping belongs to the broker's config loader, which should start from [`LogConfig::default`].

use std::fmt;
use std::str::FromStr;

/// `segment.bytes` / `log.segment.bytes`: 1 GiB.
pub const DEFAULT_SEGMENT_BYTES: i32 = 1_073_741_824;
/// `segment.ms` / `log.roll.hours` = 168: 7 days.
pub const DEFAULT_SEGMENT_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// `retention.ms` / `log.retention.hours` = 168: 7 days.
pub const DEFAULT_RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// `retention.bytes` / `log.retention.bytes`: unlimited.
pub const DEFAULT_RETENTION_BYTES: i64 = -1;
/// `index.interval.bytes` / `log.index.interval.bytes`.
pub const DEFAULT_INDEX_INTERVAL_BYTES: i32 = 4096;
/// `segment.index.bytes` / `log.index.size.max.bytes`: 10 MiB.
pub const DEFAULT_MAX_INDEX_BYTES: i32 = 10_485_760;
/// `flush.messages` / `log.flush.interval.messages`: never (the OS page cache plus replication is
/// Kafka's durability story).
pub const DEFAULT_FLUSH_INTERVAL_MESSAGES: i64 = i64::MAX;
/// `flush.ms` / `log.flush.interval.ms`: never.
pub const DEFAULT_FLUSH_MS: i64 = i64::MAX;
/// `max.message.bytes` / `message.max.bytes`: 1 MiB plus the 12-byte log overhead.
pub const DEFAULT_MAX_MESSAGE_BYTES: i32 = 1_048_588;
/// zkraft-only bound on what one compressed batch may inflate to while it is validated, so a
/// compression bomb cannot exhaust memory. Kafka streams records instead; we check them whole.
pub const DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// What happens to old data (`cleanup.policy`, a list in Kafka: `delete`, `compact` or both).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CleanupPolicy {
    /// Whole segments are deleted by retention time and size.
    #[default]
    Delete,
    /// Old records are compacted by key (not implemented by zkraft yet; the policy is stored).
    Compact,
    /// Both compaction and retention-based deletion.
    CompactAndDelete,
}

impl CleanupPolicy {
    /// Whether retention by time and size applies.
    pub fn deletes(self) -> bool {
        matches!(
            self,
            CleanupPolicy::Delete | CleanupPolicy::CompactAndDelete
        )
    }

    /// Whether the log is meant to be compacted.
    pub fn compacts(self) -> bool {
        matches!(
            self,
            CleanupPolicy::Compact | CleanupPolicy::CompactAndDelete
        )
    }
}

impl fmt::Display for CleanupPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactAndDelete => "compact,delete",
        })
    }
}

impl FromStr for CleanupPolicy {
    type Err = ConfigError;

    /// Parses Kafka's comma-separated list (`delete`, `compact`, `compact,delete` in any order).
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let mut delete = false;
        let mut compact = false;
        for item in s.split(',').map(str::trim) {
            match item {
                "delete" => delete = true,
                "compact" => compact = true,
                _ => {
                    return Err(ConfigError::InvalidValue {
                        key: "cleanup.policy",
                        value: s.to_string(),
                    })
                }
            }
        }
        match (delete, compact) {
            (true, false) => Ok(CleanupPolicy::Delete),
            (false, true) => Ok(CleanupPolicy::Compact),
            (true, true) => Ok(CleanupPolicy::CompactAndDelete),
            (false, false) => Err(ConfigError::InvalidValue {
                key: "cleanup.policy",
                value: s.to_string(),
            }),
        }
    }
}

/// Which timestamp a batch keeps (`message.timestamp.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MessageTimestampType {
    /// The producer's timestamps are kept.
    #[default]
    CreateTime,
    /// The broker overwrites each batch's max timestamp with the append time.
    LogAppendTime,
}

/// A topic-level key could not be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The key is not a log configuration key.
    #[error("unknown log config key {0}")]
    UnknownKey(String),
    /// The value does not parse or is out of range for the key.
    #[error("invalid value {value:?} for {key}")]
    InvalidValue {
        /// The key being set.
        key: &'static str,
        /// The rejected value.
        value: String,
    },
}

/// Configuration of one partition log. `Default` carries Kafka 2.x's broker defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Roll a segment once appending would make it larger than this (`segment.bytes`).
    pub segment_bytes: i32,
    /// Roll a segment once it spans this long, measured from its first batch's timestamp or,
    /// without one, from its creation (`segment.ms`).
    pub segment_ms: i64,
    /// Delete segments whose newest timestamp is older than this; negative = keep (`retention.ms`).
    pub retention_ms: i64,
    /// Delete oldest segments while the log is larger than this; negative = keep (`retention.bytes`).
    pub retention_bytes: i64,
    /// Bytes appended between two index entries (`index.interval.bytes`).
    pub index_interval_bytes: i32,
    /// Preallocated size of each index file; a full index rolls the segment (`segment.index.bytes`).
    pub max_index_bytes: i32,
    /// fsync after this many unflushed messages (`flush.messages`).
    pub flush_interval_messages: i64,
    /// fsync when this long passed since the last flush (`flush.ms`); checked by the caller's
    /// scheduler through [`crate::log::Log::last_flush_ms`].
    pub flush_ms: i64,
    /// Largest batch a producer may append (`max.message.bytes`).
    pub max_message_bytes: i32,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `message.timestamp.type`.
    pub message_timestamp_type: MessageTimestampType,
    /// zkraft-only: bound on one batch's decompressed size during validation.
    pub max_decompressed_batch_bytes: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            segment_ms: DEFAULT_SEGMENT_MS,
            retention_ms: DEFAULT_RETENTION_MS,
            retention_bytes: DEFAULT_RETENTION_BYTES,
            index_interval_bytes: DEFAULT_INDEX_INTERVAL_BYTES,
            max_index_bytes: DEFAULT_MAX_INDEX_BYTES,
            flush_interval_messages: DEFAULT_FLUSH_INTERVAL_MESSAGES,
            flush_ms: DEFAULT_FLUSH_MS,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            cleanup_policy: CleanupPolicy::Delete,
            message_timestamp_type: MessageTimestampType::CreateTime,
            max_decompressed_batch_bytes: DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES,
        }
    }
}

/// Smallest `segment.bytes` Kafka accepts: one batch header must fit.
const MIN_SEGMENT_BYTES: i64 = 14;
/// Smallest `segment.index.bytes` Kafka accepts: one time index entry.
const MIN_INDEX_BYTES: i64 = 12;

impl LogConfig {
    /// Applies one topic-level override as stored under `/config/topics/<topic>` in ZooKeeper.
    /// Keys zkraft does not act on (e.g. `min.insync.replicas`) are the caller's to filter out;
    /// they are reported as [`ConfigError::UnknownKey`].
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            "segment.bytes" => {
                self.segment_bytes = parse_i32(value, "segment.bytes", MIN_SEGMENT_BYTES)?
            }
            "segment.ms" => self.segment_ms = parse_i64(value, "segment.ms", 1)?,
            "retention.ms" => self.retention_ms = parse_i64(value, "retention.ms", -1)?,
            "retention.bytes" => {
                self.retention_bytes = parse_i64(value, "retention.bytes", i64::MIN)?
            }
            "index.interval.bytes" => {
                self.index_interval_bytes = parse_i32(value, "index.interval.bytes", 0)?
            }
            "segment.index.bytes" => {
                self.max_index_bytes = parse_i32(value, "segment.index.bytes", MIN_INDEX_BYTES)?
            }
            "flush.messages" => {
                self.flush_interval_messages = parse_i64(value, "flush.messages", 1)?
            }
            "flush.ms" => self.flush_ms = parse_i64(value, "flush.ms", 0)?,
            "max.message.bytes" => {
                self.max_message_bytes = parse_i32(value, "max.message.bytes", 0)?
            }
            "cleanup.policy" => self.cleanup_policy = value.parse()?,
            "message.timestamp.type" => {
                self.message_timestamp_type = match value.trim() {
                    "CreateTime" => MessageTimestampType::CreateTime,
                    "LogAppendTime" => MessageTimestampType::LogAppendTime,
                    _ => {
                        return Err(ConfigError::InvalidValue {
                            key: "message.timestamp.type",
                            value: value.to_string(),
                        })
                    }
                }
            }
            other => return Err(ConfigError::UnknownKey(other.to_string())),
        }
        Ok(())
    }
}

fn parse_i64(value: &str, key: &'static str, min: i64) -> Result<i64, ConfigError> {
    match value.trim().parse::<i64>() {
        Ok(v) if v >= min => Ok(v),
        _ => Err(ConfigError::InvalidValue {
            key,
            value: value.to_string(),
        }),
    }
}

fn parse_i32(value: &str, key: &'static str, min: i64) -> Result<i32, ConfigError> {
    let v = parse_i64(value, key, min)?;
    i32::try_from(v).map_err(|_| ConfigError::InvalidValue {
        key,
        value: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_kafka_2x() {
        let c = LogConfig::default();
        assert_eq!(c.segment_bytes, 1 << 30);
        assert_eq!(c.segment_ms, 604_800_000);
        assert_eq!(c.retention_ms, 604_800_000);
        assert_eq!(c.retention_bytes, -1);
        assert_eq!(c.index_interval_bytes, 4096);
        assert_eq!(c.max_index_bytes, 10 * 1024 * 1024);
        assert_eq!(c.cleanup_policy, CleanupPolicy::Delete);
    }

    #[test]
    fn overrides_parse_and_reject() {
        let mut c = LogConfig::default();
        c.set("segment.bytes", "1024").unwrap();
        c.set("retention.ms", "-1").unwrap();
        c.set("cleanup.policy", "delete,compact").unwrap();
        c.set("message.timestamp.type", "LogAppendTime").unwrap();
        assert_eq!(c.segment_bytes, 1024);
        assert_eq!(c.retention_ms, -1);
        assert_eq!(c.cleanup_policy, CleanupPolicy::CompactAndDelete);
        assert_eq!(
            c.message_timestamp_type,
            MessageTimestampType::LogAppendTime
        );
        assert!(c.set("segment.bytes", "99999999999").is_err());
        assert!(c.set("segment.bytes", "1").is_err());
        assert!(c.set("cleanup.policy", "shred").is_err());
        assert!(matches!(
            c.set("nope", "1"),
            Err(ConfigError::UnknownKey(_))
        ));
        assert_eq!(
            c.segment_bytes, 1024,
            "a rejected value leaves the field alone"
        );
    }
}
