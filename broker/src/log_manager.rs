//! The log manager: every partition log under `log.dirs`, loaded at startup, created on
//! demand, checkpointed, flushed and trimmed by retention, and closed cleanly at shutdown.
//!
//! Per log dir it keeps Kafka's files: `recovery-point-offset-checkpoint`,
//! `log-start-offset-checkpoint` and `.kafka_cleanshutdown` (present only between a clean
//! shutdown and the next startup, so a crash is noticed and recovery runs). Logs are
//! `Arc<Mutex<Log>>`: the replica manager appends and reads under the lock; all I/O is
//! blocking and short (page-cache writes unless the flush policy says otherwise).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::{BrokerConfig, TimestampType};
use crate::log::checkpoint::{
    has_clean_shutdown_marker, read_offset_checkpoint, remove_clean_shutdown_marker,
    write_clean_shutdown_marker, write_offset_checkpoint, CheckpointError,
};
use crate::log::config::ConfigError as LogConfigError;
use crate::log::error::LogError;
use crate::log::partition_log::{Log, LogOpenOptions};
use crate::log::topic_partition::{parse_partition_dir, PartitionDirKind, TopicPartition};
use crate::log::LogConfig;

/// File holding each partition's recovery point.
pub const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
/// File holding each partition's log start offset.
pub const LOG_START_OFFSET_CHECKPOINT: &str = "log-start-offset-checkpoint";

/// A log manager failure.
#[derive(Debug, thiserror::Error)]
pub enum LogManagerError {
    /// A log dir could not be created or listed.
    #[error("log dir {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint file is unreadable or could not be written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A partition log failed to open, append, flush or close.
    #[error("partition {tp}: {source}")]
    Log {
        tp: TopicPartition,
        #[source]
        source: LogError,
    },
    /// A topic config override is invalid.
    #[error("topic config: {0}")]
    Config(#[from] LogConfigError),
}

/// A shared, lockable partition log.
pub type SharedLog = Arc<Mutex<Log>>;

/// Locks a log; a poisoned lock (a panic while holding it) still yields the log, whose
/// state is only changed by completed file operations.
pub fn lock(log: &SharedLog) -> MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

/// The broker-wide log settings (`log.*` keys) as a partition's default [`LogConfig`].
pub fn broker_log_config(cfg: &BrokerConfig) -> LogConfig {
    let mut c = LogConfig {
        segment_bytes: cfg.log_segment_bytes,
        segment_ms: cfg.log_roll_ms,
        retention_ms: cfg.log_retention_ms,
        retention_bytes: cfg.log_retention_bytes,
        index_interval_bytes: cfg.log_index_interval_bytes,
        max_index_bytes: cfg.log_index_size_max_bytes,
        flush_interval_messages: cfg.log_flush_interval_messages,
        flush_ms: cfg.log_flush_interval_ms,
        max_message_bytes: cfg.message_max_bytes,
        message_timestamp_type: match cfg.log_message_timestamp_type {
            TimestampType::CreateTime => crate::log::MessageTimestampType::CreateTime,
            TimestampType::LogAppendTime => crate::log::MessageTimestampType::LogAppendTime,
        },
        ..LogConfig::default()
    };
    // The policy list was validated by the config loader; an unknown combination keeps delete.
    let _ = c.set("cleanup.policy", &cfg.log_cleanup_policy.join(","));
    c
}

/// Topic-level keys [`LogConfig::set`] understands; others (e.g. `min.insync.replicas`) are
/// stored in ZooKeeper and reported by DescribeConfigs but do not change the log.
pub fn apply_topic_overrides(
    base: &LogConfig,
    overrides: &BTreeMap<String, String>,
) -> Result<LogConfig, LogConfigError> {
    let mut c = base.clone();
    for (k, v) in overrides {
        match c.set(k, v) {
            Ok(()) | Err(LogConfigError::UnknownKey(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(c)
}

/// Every partition log of this broker.
pub struct LogManager {
    dirs: Vec<PathBuf>,
    logs: Mutex<HashMap<TopicPartition, SharedLog>>,
}

fn now_ms() -> i64 {
    crate::zkdata::timestamp_now_ms()
}

impl LogManager {
    /// Creates missing log dirs and opens every live partition dir in them, recovering
    /// unflushed data when a dir was not shut down cleanly. Removes `-delete` dirs left by a
    /// deletion that did not finish.
    pub fn startup(dirs: &[PathBuf], defaults: &LogConfig) -> Result<LogManager, LogManagerError> {
        let mut logs = HashMap::new();
        for dir in dirs {
            fs::create_dir_all(dir).map_err(|source| LogManagerError::Dir {
                path: dir.clone(),
                source,
            })?;
            let clean = has_clean_shutdown_marker(dir);
            let recovery = read_offset_checkpoint(&dir.join(RECOVERY_POINT_CHECKPOINT))?;
            let starts = read_offset_checkpoint(&dir.join(LOG_START_OFFSET_CHECKPOINT))?;
            let entries = fs::read_dir(dir).map_err(|source| LogManagerError::Dir {
                path: dir.clone(),
                source,
            })?;
            for entry in entries.flatten() {
                let path = entry.path();
                if !path.is_dir() {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(parsed) = parse_partition_dir(&name) else {
                    continue;
                };
                if parsed.kind == PartitionDirKind::Deleted {
                    if let Err(e) = fs::remove_dir_all(&path) {
                        tracing::warn!(
                            "cannot remove deleted partition dir {}: {e}",
                            path.display()
                        );
                    }
                    continue;
                }
                if parsed.kind != PartitionDirKind::Live {
                    continue;
                }
                let tp = parsed.topic_partition;
                let options = LogOpenOptions {
                    recovery_point: recovery.get(&tp).copied().unwrap_or(0),
                    log_start_offset: starts.get(&tp).copied().unwrap_or(0),
                    had_clean_shutdown: clean,
                    now_ms: now_ms(),
                };
                let log = Log::open(&path, defaults.clone(), options).map_err(|source| {
                    LogManagerError::Log {
                        tp: tp.clone(),
                        source,
                    }
                })?;
                tracing::info!(
                    "Loaded log for partition {}-{} with log end offset {} (clean shutdown: {clean})",
                    tp.topic,
                    tp.partition,
                    log.log_end_offset()
                );
                logs.insert(tp, Arc::new(Mutex::new(log)));
            }
            // From here on a crash must be noticed at the next startup.
            remove_clean_shutdown_marker(dir)?;
        }
        Ok(LogManager {
            dirs: dirs.to_vec(),
            logs: Mutex::new(logs),
        })
    }

    fn logs(&self) -> MutexGuard<'_, HashMap<TopicPartition, SharedLog>> {
        self.logs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The log of `tp`, if this broker has one.
    pub fn get(&self, tp: &TopicPartition) -> Option<SharedLog> {
        self.logs().get(tp).cloned()
    }

    /// Every log this broker holds.
    pub fn all(&self) -> Vec<(TopicPartition, SharedLog)> {
        self.logs()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The log of `tp`, created (in the log dir holding the fewest partitions, as Kafka
    /// picks) if missing. An existing log gets `config`.
    pub fn get_or_create(
        &self,
        tp: &TopicPartition,
        config: LogConfig,
    ) -> Result<SharedLog, LogManagerError> {
        let mut logs = self.logs();
        if let Some(log) = logs.get(tp) {
            lock(log).set_config(config);
            return Ok(log.clone());
        }
        let mut counts: BTreeMap<&Path, usize> =
            self.dirs.iter().map(|d| (d.as_path(), 0)).collect();
        for log in logs.values() {
            let l = lock(log);
            if let Some(parent) = l.dir().parent() {
                if let Some(c) = counts.get_mut(parent) {
                    *c += 1;
                }
            }
        }
        let dir = self
            .dirs
            .iter()
            .min_by_key(|d| counts.get(d.as_path()).copied().unwrap_or(0))
            .ok_or_else(|| LogManagerError::Dir {
                path: PathBuf::new(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no log dir"),
            })?;
        let options = LogOpenOptions {
            recovery_point: 0,
            log_start_offset: 0,
            had_clean_shutdown: true,
            now_ms: now_ms(),
        };
        let log = Log::open(&dir.join(tp.dir_name()), config, options).map_err(|source| {
            LogManagerError::Log {
                tp: tp.clone(),
                source,
            }
        })?;
        tracing::info!(
            "Created log for partition {}-{} in {}",
            tp.topic,
            tp.partition,
            dir.display()
        );
        let log = Arc::new(Mutex::new(log));
        logs.insert(tp.clone(), log.clone());
        Ok(log)
    }

    /// Deletes a partition's log: the dir is renamed `<name>.<uuid>-delete` at once (so a
    /// crash before removal finishes the job at the next startup), then removed.
    pub fn delete(&self, tp: &TopicPartition) -> Result<(), LogManagerError> {
        let Some(log) = self.logs().remove(tp) else {
            return Ok(());
        };
        let dir = lock(&log).dir().to_path_buf();
        let marked = dir.with_file_name(format!(
            "{}.{}-delete",
            tp.dir_name(),
            crate::zkdata::Uuid::random().to_string().replace('-', "")
        ));
        drop(log);
        let io = |source| LogManagerError::Dir {
            path: dir.clone(),
            source,
        };
        fs::rename(&dir, &marked).map_err(io)?;
        fs::remove_dir_all(&marked).map_err(io)?;
        Ok(())
    }

    /// Writes both offset checkpoints of every log dir.
    pub fn checkpoint(&self) -> Result<(), LogManagerError> {
        let logs = self.all();
        for dir in &self.dirs {
            let mut recovery = BTreeMap::new();
            let mut starts = BTreeMap::new();
            for (tp, log) in &logs {
                let l = lock(log);
                if l.dir().parent() == Some(dir.as_path()) {
                    recovery.insert(tp.clone(), l.recovery_point());
                    if l.log_start_offset() > 0 {
                        starts.insert(tp.clone(), l.log_start_offset());
                    }
                }
            }
            write_offset_checkpoint(&dir.join(RECOVERY_POINT_CHECKPOINT), &recovery)?;
            write_offset_checkpoint(&dir.join(LOG_START_OFFSET_CHECKPOINT), &starts)?;
        }
        Ok(())
    }

    /// Flushes logs whose `flush.ms` has passed since their last flush.
    pub fn flush_due(&self, now: i64) {
        for (tp, log) in self.all() {
            let mut l = lock(&log);
            let due = l.unflushed_messages() > 0
                && now.saturating_sub(l.last_flush_ms()) >= l.config().flush_ms;
            if due {
                if let Err(e) = l.flush() {
                    tracing::error!("flush of {}-{} failed: {e}", tp.topic, tp.partition);
                }
            }
        }
    }

    /// Applies retention to every log; `high_watermark` gives each partition's bound.
    pub fn apply_retention(&self, now: i64, high_watermark: impl Fn(&TopicPartition) -> i64) {
        for (tp, log) in self.all() {
            let hw = high_watermark(&tp);
            match lock(&log).delete_old_segments(now, hw) {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    "Deleted {n} segment(s) of {}-{} by retention",
                    tp.topic,
                    tp.partition
                ),
                Err(e) => tracing::error!("retention of {}-{} failed: {e}", tp.topic, tp.partition),
            }
        }
    }

    /// Flushes and closes every log, writes the checkpoints and then the clean-shutdown
    /// marker of each dir.
    pub fn shutdown(&self) -> Result<(), LogManagerError> {
        for (tp, log) in self.all() {
            lock(&log)
                .flush()
                .map_err(|source| LogManagerError::Log { tp, source })?;
        }
        self.checkpoint()?;
        // Closing trims the active segment's preallocated indexes, which the next startup's
        // sanity check requires; a log still referenced elsewhere is only flushed.
        let logs: Vec<(TopicPartition, SharedLog)> = self.logs().drain().collect();
        for (tp, log) in logs {
            let result = match Arc::try_unwrap(log) {
                Ok(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()).close(),
                Err(shared) => lock(&shared).flush(),
            };
            result.map_err(|source| LogManagerError::Log { tp, source })?;
        }
        for dir in &self.dirs {
            write_clean_shutdown_marker(dir)?;
        }
        Ok(())
    }

    /// The configured log dirs.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
}
