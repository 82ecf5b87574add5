//! One partition's log: the directory `<topic>-<partition>/` with its segments, leader epoch
//! cache and partition metadata. It assigns offsets on the leader, accepts the leader's batches
//! on followers, serves reads, rolls segments and applies retention.
//!
//! It knows nothing of replication: the high watermark is the caller's, passed in where it
//! bounds something (reads, retention). All methods do blocking file I/O; the broker calls
//! them from a dedicated thread or `spawn_blocking`. `&self` methods only read files, so a
//! `RwLock<Log>` lets fetches run in parallel.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::batch::{self, BatchHeader, BatchIter};
use super::checkpoint::sync_dir;
use super::config::{LogConfig, MessageTimestampType};
use super::error::LogError;
use super::leader_epoch::{EpochEntry, LeaderEpochCache};
use super::partition_metadata::{read_partition_metadata, write_partition_metadata, TopicId};
use super::recovery::{load_segments, RecoveryOptions};
use super::segment::{LogSegment, RollParams, TimestampAndOffset};
use super::topic_partition::{parse_partition_dir, TopicPartition};
use super::validate::{validate_produce_records, AppendOrigin, ProduceLimits};

/// ListOffsets timestamp asking for the log start offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// ListOffsets timestamp asking for the log end offset.
pub const LATEST_TIMESTAMP: i64 = -1;

/// What the caller knows about the state the log was left in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogOpenOptions {
    /// This partition's entry in `recovery-point-offset-checkpoint`, 0 if none.
    pub recovery_point: i64,
    /// This partition's entry in `log-start-offset-checkpoint`, 0 if none.
    pub log_start_offset: i64,
    /// The log dir had `.kafka_cleanshutdown`.
    pub had_clean_shutdown: bool,
    /// Wall clock, ms.
    pub now_ms: i64,
}

/// The outcome of an append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first appended record; the log end offset if nothing was appended.
    pub first_offset: i64,
    /// Offset of the last appended record; `first_offset - 1` if nothing was appended.
    pub last_offset: i64,
    /// Largest batch max timestamp appended (-1 if none).
    pub max_timestamp: i64,
    /// Last offset of the batch holding `max_timestamp`.
    pub offset_of_max_timestamp: i64,
    /// The time stamped on batches under LogAppendTime, else -1 (the produce response field).
    pub log_append_time: i64,
    /// Records appended.
    pub record_count: usize,
    /// Batches appended.
    pub batch_count: usize,
    /// Bytes appended.
    pub valid_bytes: usize,
}

/// Batches read for a fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchData {
    /// Whole batches; the first may start before the requested offset (it holds it).
    pub records: Bytes,
    /// The log start offset at the time of the read.
    pub log_start_offset: i64,
    /// The log end offset at the time of the read.
    pub log_end_offset: i64,
}

/// A partition log open in one log dir.
pub struct Log {
    dir: PathBuf,
    topic_partition: TopicPartition,
    config: LogConfig,
    segments: BTreeMap<i64, LogSegment>,
    log_start_offset: i64,
    log_end_offset: i64,
    recovery_point: i64,
    leader_epochs: LeaderEpochCache,
    topic_id: Option<TopicId>,
    unflushed_messages: i64,
    last_flush_ms: i64,
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Log {
    /// Opens (creating if needed) the partition dir `dir`, whose name must be a partition dir
    /// name, recovering it as described in [`crate::log::recovery`].
    pub fn open(dir: &Path, config: LogConfig, options: LogOpenOptions) -> Result<Log, LogError> {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let topic_partition = parse_partition_dir(name)
            .map(|d| d.topic_partition)
            .ok_or_else(|| {
                LogError::InvalidArgument(format!("{} is not a partition dir name", dir.display()))
            })?;
        fs::create_dir_all(dir).map_err(LogError::io(dir))?;
        let (leader_epochs, epochs_corrupt) = match LeaderEpochCache::load(dir) {
            Ok(cache) => (cache, false),
            Err(e) => {
                tracing::warn!(error = %e, "leader epoch checkpoint unreadable; rebuilding it from the log");
                (LeaderEpochCache::empty(dir), true)
            }
        };
        let recovery = RecoveryOptions {
            recovery_point: options.recovery_point,
            had_clean_shutdown: options.had_clean_shutdown,
        };
        let loaded = load_segments(
            dir,
            &config,
            &recovery,
            leader_epochs.latest_epoch(),
            options.now_ms,
        )?;
        let topic_id = read_partition_metadata(dir)?;
        let mut log = Log {
            dir: dir.to_path_buf(),
            topic_partition,
            config,
            segments: loaded.segments,
            log_start_offset: options.log_start_offset.max(0),
            log_end_offset: 0,
            recovery_point: 0,
            leader_epochs,
            topic_id,
            unflushed_messages: 0,
            last_flush_ms: wall_clock_ms(),
        };
        if log.segments.is_empty() {
            let seg = LogSegment::create(dir, log.log_start_offset, &log.config, options.now_ms)?;
            log.segments.insert(log.log_start_offset, seg);
        }
        log.log_end_offset = log.active()?.next_offset();
        log.log_start_offset = log.log_start_offset.max(log.first()?.base_offset());
        if log.log_end_offset < log.log_start_offset {
            // Everything left is below a log start offset that was already checkpointed (data
            // deleted by DeleteRecords, then the tail lost): start over there, as Kafka does.
            tracing::warn!(dir = %dir.display(), log_end_offset = log.log_end_offset, log_start_offset = log.log_start_offset,
                "log ends before its start offset; restarting it at the start offset");
            let start = log.log_start_offset;
            log.truncate_fully_and_start_at(start, options.now_ms)?;
        }
        log.active_mut()?.resize_indexes()?;
        if loaded.recovered_any {
            // Recovered data was read back from disk but may still sit in the page cache only.
            for seg in log.segments.values() {
                seg.flush()?;
            }
        }
        log.recovery_point = log.log_end_offset;
        if epochs_corrupt {
            log.rebuild_leader_epochs()?;
        } else {
            for (epoch, offset) in loaded.epochs_seen {
                log.leader_epochs.assign(epoch, offset)?;
            }
        }
        log.leader_epochs.truncate_from_end(log.log_end_offset)?;
        log.leader_epochs
            .truncate_from_start(log.log_start_offset)?;
        Ok(log)
    }

    fn rebuild_leader_epochs(&mut self) -> Result<(), LogError> {
        self.leader_epochs.clear()?;
        let mut found = Vec::new();
        for seg in self.segments.values() {
            for (_, h) in seg.batch_headers()? {
                if h.partition_leader_epoch >= 0 {
                    found.push((h.partition_leader_epoch, h.base_offset));
                }
            }
        }
        for (epoch, offset) in found {
            if self.leader_epochs.latest_epoch().is_none_or(|l| epoch > l) {
                self.leader_epochs.assign(epoch, offset)?;
            }
        }
        Ok(())
    }

    /// The segment appends go to. Every path that removes segments creates a replacement
    /// first or right after; only a failed file operation in between leaves none, and then
    /// the log reports itself unusable instead of panicking.
    fn active(&self) -> Result<&LogSegment, LogError> {
        self.segments
            .values()
            .next_back()
            .ok_or_else(|| self.no_segments())
    }

    fn active_mut(&mut self) -> Result<&mut LogSegment, LogError> {
        let err = self.no_segments();
        self.segments.values_mut().next_back().ok_or(err)
    }

    fn first(&self) -> Result<&LogSegment, LogError> {
        self.segments
            .values()
            .next()
            .ok_or_else(|| self.no_segments())
    }

    fn no_segments(&self) -> LogError {
        LogError::CorruptSegment {
            path: self.dir.clone(),
            position: 0,
            reason: "the log has no segment left after a failed file operation".to_string(),
        }
    }

    /// Appends a producer's (or the coordinator's) records as leader: validates every batch,
    /// assigns offsets from the log end offset, stamps `leader_epoch` on each batch (and the
    /// append time under LogAppendTime) and records the epoch's start offset.
    pub fn append_as_leader(
        &mut self,
        records: &[u8],
        leader_epoch: i32,
        origin: AppendOrigin,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let limits = ProduceLimits {
            max_batch_bytes: usize::try_from(self.config.max_message_bytes).unwrap_or(0),
            max_decompressed_bytes: self.config.max_decompressed_batch_bytes,
            origin,
        };
        let validated = match validate_produce_records(records, &limits) {
            Ok(v) => v,
            Err(batch::BatchError::TooLarge { size, .. }) => {
                return Err(LogError::RecordTooLarge {
                    size,
                    max: self.config.max_message_bytes,
                })
            }
            Err(e) => return Err(e.into()),
        };
        let valid_bytes: usize = validated.iter().map(|(b, _)| b.size_in_bytes()).sum();
        let record_count: usize = validated.iter().map(|(_, s)| s.record_count).sum();
        let mut buf = records[..valid_bytes].to_vec();
        let log_append_time = match self.config.message_timestamp_type {
            MessageTimestampType::LogAppendTime => now_ms,
            MessageTimestampType::CreateTime => -1,
        };
        let mut headers = Vec::with_capacity(validated.len());
        let mut next = self.log_end_offset;
        let mut pos = 0usize;
        for (view, _) in &validated {
            let bytes = &mut buf[pos..pos + view.size_in_bytes()];
            batch::set_base_offset(bytes, next)?;
            batch::set_partition_leader_epoch(bytes, leader_epoch)?;
            if log_append_time >= 0 {
                batch::set_log_append_time(bytes, log_append_time)?;
            }
            let h = BatchHeader::parse(bytes)?;
            next = h.next_offset();
            headers.push((pos, h));
            pos += h.size_in_bytes();
        }
        if let Some((_, first)) = headers.first() {
            if leader_epoch >= 0 {
                self.leader_epochs.assign(leader_epoch, first.base_offset)?;
            }
        }
        let info = self.append_batches(&buf, &headers, now_ms, record_count, log_append_time)?;
        Ok(info)
    }

    /// Appends batches fetched from the leader, offsets and epochs as the leader assigned them.
    /// Only header and CRC are checked (compacted batches have offset gaps); the first batch
    /// must start at or after the log end offset and offsets must increase.
    pub fn append_as_follower(
        &mut self,
        records: &[u8],
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let mut headers = Vec::new();
        let mut iter = BatchIter::new(records);
        let mut expected = self.log_end_offset;
        let mut record_count = 0usize;
        // Batches are contiguous from the start of `records`.
        let mut pos = 0usize;
        for item in iter.by_ref() {
            let view = item?;
            view.verify_crc()?;
            let h = *view.header();
            if h.last_offset_delta < 0 || h.record_count < 0 {
                return Err(batch::BatchError::InvalidRecordCount(h.record_count).into());
            }
            if h.base_offset < expected {
                return Err(if headers.is_empty() {
                    LogError::UnexpectedAppendOffset {
                        first_offset: h.base_offset,
                        log_end_offset: self.log_end_offset,
                    }
                } else {
                    LogError::OutOfOrderOffsets {
                        base_offset: h.base_offset,
                        previous_last_offset: expected - 1,
                    }
                });
            }
            expected = h.next_offset();
            record_count += h.record_count as usize;
            headers.push((pos, h));
            pos += view.size_in_bytes();
        }
        let valid_bytes = iter.valid_bytes();
        for (_, h) in &headers {
            if h.partition_leader_epoch >= 0 {
                self.leader_epochs
                    .assign(h.partition_leader_epoch, h.base_offset)?;
            }
        }
        self.append_batches(&records[..valid_bytes], &headers, now_ms, record_count, -1)
    }

    fn append_batches(
        &mut self,
        buf: &[u8],
        headers: &[(usize, BatchHeader)],
        now_ms: i64,
        record_count: usize,
        log_append_time: i64,
    ) -> Result<AppendInfo, LogError> {
        let mut info = AppendInfo {
            first_offset: self.log_end_offset,
            last_offset: self.log_end_offset - 1,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            log_append_time,
            record_count,
            batch_count: headers.len(),
            valid_bytes: 0,
        };
        for (i, (pos, h)) in headers.iter().enumerate() {
            let bytes = &buf[*pos..*pos + h.size_in_bytes()];
            let params = RollParams {
                batch_bytes: bytes.len() as u64,
                max_timestamp: h.max_timestamp,
                last_offset: h.last_offset(),
                now_ms,
            };
            if self.active()?.should_roll(&self.config, &params) {
                self.roll_at(h.base_offset, now_ms)?;
            }
            self.active_mut()?.append(bytes, h)?;
            self.log_end_offset = h.next_offset();
            if i == 0 {
                info.first_offset = h.base_offset;
            }
            info.last_offset = h.last_offset();
            info.valid_bytes += bytes.len();
            if h.max_timestamp > info.max_timestamp {
                info.max_timestamp = h.max_timestamp;
                info.offset_of_max_timestamp = h.last_offset();
            }
        }
        self.unflushed_messages = self.unflushed_messages.saturating_add(record_count as i64);
        if self.unflushed_messages >= self.config.flush_interval_messages {
            self.flush()?;
        }
        Ok(info)
    }

    /// Starts a new active segment at the log end offset (if the active one is not empty).
    pub fn roll(&mut self, now_ms: i64) -> Result<(), LogError> {
        let leo = self.log_end_offset;
        self.roll_at(leo, now_ms)
    }

    fn roll_at(&mut self, new_base: i64, now_ms: i64) -> Result<(), LogError> {
        let active = self.active_mut()?;
        if active.is_empty() {
            if active.base_offset() == new_base {
                return Ok(());
            }
            // An empty segment cannot hold the new offsets: replace it rather than keep it.
            let base = active.base_offset();
            if let Some(seg) = self.segments.remove(&base) {
                seg.delete()?;
            }
        } else {
            if new_base < active.next_offset() {
                return Err(LogError::InvalidArgument(format!(
                    "cannot roll to offset {new_base} below the end of the active segment {}",
                    active.next_offset()
                )));
            }
            active.on_become_inactive()?;
        }
        let seg = LogSegment::create(&self.dir, new_base, &self.config, now_ms)?;
        self.segments.insert(new_base, seg);
        sync_dir(&self.dir).map_err(LogError::io(&self.dir))?;
        // Kafka flushes the finished segment when it rolls; the recovery point follows.
        self.flush_to(new_base)
    }

    /// Reads whole batches from `offset`, at most `max_bytes` (but at least one batch) and
    /// only batches that end before `max_offset_exclusive` (the high watermark for consumers,
    /// `None` = log end offset). An empty result means nothing is readable yet.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset_exclusive: Option<i64>,
    ) -> Result<FetchData, LogError> {
        if offset < self.log_start_offset || offset > self.log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        let upper =
            max_offset_exclusive.map_or(self.log_end_offset, |m| m.min(self.log_end_offset));
        let mut records = Vec::new();
        if offset < upper {
            let start = self
                .segments
                .range(..=offset)
                .next_back()
                .map_or(i64::MIN, |(b, _)| *b);
            for seg in self.segments.range(start..).map(|(_, s)| s) {
                if let Some(read) = seg.read(offset, max_bytes, upper)? {
                    records = read.bytes;
                    break;
                }
            }
        }
        Ok(FetchData {
            records: Bytes::from(records),
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset,
        })
    }

    /// ListOffsets: [`EARLIEST_TIMESTAMP`] gives the log start offset, [`LATEST_TIMESTAMP`]
    /// the log end offset (both with timestamp -1), any other timestamp the first record at or
    /// after it. `None` when no record is that recent.
    pub fn offset_for_timestamp(
        &self,
        timestamp: i64,
    ) -> Result<Option<TimestampAndOffset>, LogError> {
        match timestamp {
            EARLIEST_TIMESTAMP => Ok(Some(TimestampAndOffset {
                timestamp: -1,
                offset: self.log_start_offset,
                leader_epoch: self.epoch_for_offset(self.log_start_offset),
            })),
            LATEST_TIMESTAMP => Ok(Some(TimestampAndOffset {
                timestamp: -1,
                offset: self.log_end_offset,
                leader_epoch: self.leader_epochs.latest_epoch(),
            })),
            t => {
                for seg in self
                    .segments
                    .values()
                    .filter(|s| s.largest_timestamp() >= t)
                {
                    let found = seg.find_offset_by_timestamp(
                        t,
                        self.log_start_offset,
                        self.config.max_decompressed_batch_bytes,
                    )?;
                    if found.is_some() {
                        return Ok(found);
                    }
                }
                Ok(None)
            }
        }
    }

    fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.leader_epochs
            .entries()
            .iter()
            .rev()
            .find(|e| e.start_offset <= offset)
            .map(|e| e.epoch)
    }

    /// Applies retention: segments entirely below the log start offset always, and, with a
    /// delete cleanup policy, the oldest segments while the log exceeds `retention.bytes` and
    /// those whose newest timestamp is older than `retention.ms`. Only segments wholly below
    /// `high_watermark` go; when every segment qualifies a fresh empty one is rolled first, so
    /// the active segment itself is never deleted. Returns the segments deleted.
    pub fn delete_old_segments(
        &mut self,
        now_ms: i64,
        high_watermark: i64,
    ) -> Result<usize, LogError> {
        let lso = self.log_start_offset;
        let mut deleted = self.delete_segments_while(high_watermark, now_ms, |_, next| {
            next.is_some_and(|n| n <= lso)
        })?;
        if self.config.cleanup_policy.deletes() {
            let retention_ms = self.config.retention_ms;
            if retention_ms >= 0 {
                deleted += self.delete_segments_while(high_watermark, now_ms, |seg, _| {
                    now_ms.saturating_sub(seg.largest_timestamp()) > retention_ms
                })?;
            }
            let retention_bytes = self.config.retention_bytes;
            let size = self.size_in_bytes();
            if retention_bytes >= 0 && size >= retention_bytes as u64 {
                let mut excess = size - retention_bytes as u64;
                deleted += self.delete_segments_while(high_watermark, now_ms, |seg, _| {
                    if seg.size() <= excess {
                        excess -= seg.size();
                        true
                    } else {
                        false
                    }
                })?;
            }
        }
        Ok(deleted)
    }

    /// Deletes segments from the oldest while `predicate(segment, next segment's base)` holds.
    fn delete_segments_while(
        &mut self,
        high_watermark: i64,
        now_ms: i64,
        mut predicate: impl FnMut(&LogSegment, Option<i64>) -> bool,
    ) -> Result<usize, LogError> {
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let mut doomed = Vec::new();
        for (i, base) in bases.iter().enumerate() {
            let seg = &self.segments[base];
            let next = bases.get(i + 1).copied();
            let upper = next.unwrap_or(self.log_end_offset);
            let last_and_empty = next.is_none() && seg.is_empty();
            if high_watermark >= upper && !last_and_empty && predicate(seg, next) {
                doomed.push(*base);
            } else {
                break;
            }
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        if doomed.len() == self.segments.len() {
            self.roll(now_ms)?;
        }
        for base in &doomed {
            if let Some(seg) = self.segments.remove(base) {
                tracing::info!(file = %seg.log_path().display(), "deleting segment by retention");
                seg.delete()?;
            }
        }
        sync_dir(&self.dir).map_err(LogError::io(&self.dir))?;
        let first_base = self.first()?.base_offset();
        if first_base > self.log_start_offset {
            self.log_start_offset = first_base;
            self.leader_epochs.truncate_from_start(first_base)?;
        }
        Ok(doomed.len())
    }

    /// Moves the log start offset forward (DeleteRecords) and deletes segments wholly below
    /// it. The caller checks `new_start` against the high watermark; here it may not pass the
    /// log end offset. Returns whether the start moved.
    pub fn advance_log_start_offset(
        &mut self,
        new_start: i64,
        now_ms: i64,
    ) -> Result<bool, LogError> {
        if new_start > self.log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset: new_start,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        if new_start <= self.log_start_offset {
            return Ok(false);
        }
        self.log_start_offset = new_start;
        self.leader_epochs.truncate_from_start(new_start)?;
        self.delete_segments_while(new_start, now_ms, |_, next| {
            next.is_some_and(|n| n <= new_start)
        })?;
        Ok(true)
    }

    /// Removes every batch holding an offset >= `offset` (a follower diverged from its leader).
    /// The new log end offset is `offset` when it is a batch boundary, else the start of the
    /// batch holding it. Returns whether anything was removed.
    pub fn truncate_to(&mut self, offset: i64, now_ms: i64) -> Result<bool, LogError> {
        if offset < 0 {
            return Err(LogError::InvalidArgument(format!(
                "cannot truncate to negative offset {offset}"
            )));
        }
        if offset >= self.log_end_offset {
            return Ok(false);
        }
        if self.first()?.base_offset() > offset {
            self.truncate_fully_and_start_at(offset, now_ms)?;
            return Ok(true);
        }
        let doomed: Vec<i64> = self.segments.range(offset + 1..).map(|(b, _)| *b).collect();
        for base in doomed {
            if let Some(seg) = self.segments.remove(&base) {
                seg.delete()?;
            }
        }
        let active = self.active_mut()?;
        active.truncate_to(offset, now_ms)?;
        active.resize_indexes()?;
        self.log_end_offset = self.active()?.next_offset();
        self.leader_epochs.truncate_from_end(self.log_end_offset)?;
        self.log_start_offset = self.log_start_offset.min(self.log_end_offset);
        self.recovery_point = self.recovery_point.min(self.log_end_offset);
        sync_dir(&self.dir).map_err(LogError::io(&self.dir))?;
        Ok(true)
    }

    /// Deletes all data and restarts the log empty at `new_offset` (a follower whose fetch
    /// offset fell out of the leader's range).
    pub fn truncate_fully_and_start_at(
        &mut self,
        new_offset: i64,
        now_ms: i64,
    ) -> Result<(), LogError> {
        if new_offset < 0 {
            return Err(LogError::InvalidArgument(format!(
                "cannot restart the log at offset {new_offset}"
            )));
        }
        for (_, seg) in std::mem::take(&mut self.segments) {
            seg.delete()?;
        }
        let seg = LogSegment::create(&self.dir, new_offset, &self.config, now_ms)?;
        self.segments.insert(new_offset, seg);
        sync_dir(&self.dir).map_err(LogError::io(&self.dir))?;
        self.leader_epochs.clear()?;
        self.log_start_offset = new_offset;
        self.log_end_offset = new_offset;
        self.recovery_point = new_offset;
        Ok(())
    }

    /// fsyncs everything up to the log end offset and moves the recovery point there.
    pub fn flush(&mut self) -> Result<(), LogError> {
        let leo = self.log_end_offset;
        self.flush_to(leo)
    }

    /// fsyncs the segments holding offsets in `[recovery point, offset)` and moves the
    /// recovery point to `offset` (capped at the log end offset).
    pub fn flush_to(&mut self, offset: i64) -> Result<(), LogError> {
        let offset = offset.min(self.log_end_offset);
        if offset <= self.recovery_point {
            return Ok(());
        }
        for seg in self.segments.values() {
            if seg.base_offset() < offset && seg.next_offset() > self.recovery_point {
                seg.flush()?;
            }
        }
        self.recovery_point = offset;
        if offset == self.log_end_offset {
            self.unflushed_messages = 0;
        }
        self.last_flush_ms = wall_clock_ms();
        Ok(())
    }

    /// Flushes and trims the active segment's indexes, as at a clean shutdown. The caller
    /// writes the checkpoints and the clean-shutdown marker afterwards.
    pub fn close(mut self) -> Result<(), LogError> {
        self.active_mut()?.on_become_inactive()?;
        self.flush()?;
        for seg in self.segments.values() {
            seg.flush()?;
        }
        Ok(())
    }

    /// Records that leader epoch `epoch` starts at `start_offset` (a new leader does this
    /// with its log end offset when it takes over).
    pub fn assign_epoch(&mut self, epoch: i32, start_offset: i64) -> Result<(), LogError> {
        self.leader_epochs.assign(epoch, start_offset)?;
        Ok(())
    }

    /// OffsetsForLeaderEpoch: `(largest epoch <= requested, its end offset)`, `(-1, -1)` if
    /// unknown. See [`LeaderEpochCache::end_offset_for`].
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.leader_epochs
            .end_offset_for(epoch, self.log_end_offset)
    }

    /// The newest leader epoch with data or an assignment.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.leader_epochs.latest_epoch()
    }

    /// The leader epoch cache entries, oldest first.
    pub fn leader_epoch_entries(&self) -> &[EpochEntry] {
        self.leader_epochs.entries()
    }

    /// The topic id from `partition.metadata`, if known.
    pub fn topic_id(&self) -> Option<TopicId> {
        self.topic_id
    }

    /// Stores the topic id in `partition.metadata`; a different id already stored is an error
    /// (the dir belongs to an older topic of the same name).
    pub fn set_topic_id(&mut self, id: TopicId) -> Result<(), LogError> {
        match self.topic_id {
            Some(stored) if stored == id => Ok(()),
            Some(stored) => Err(LogError::InconsistentTopicId {
                path: self.dir.clone(),
                stored: stored.to_string(),
                given: id.to_string(),
            }),
            None => {
                write_partition_metadata(&self.dir, id)?;
                self.topic_id = Some(id);
                Ok(())
            }
        }
    }

    /// The partition dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The partition.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.topic_partition
    }

    /// The current configuration.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Replaces the configuration (a topic config change); index sizes apply to new segments.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// First offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// Offset the next appended record gets.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// Offsets below this are fsynced (the value for recovery-point-offset-checkpoint).
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Total bytes in all segments.
    pub fn size_in_bytes(&self) -> u64 {
        self.segments.values().map(LogSegment::size).sum()
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.keys().copied().collect()
    }

    /// Records appended since the last full flush.
    pub fn unflushed_messages(&self) -> i64 {
        self.unflushed_messages
    }

    /// Wall-clock ms of the last flush, for the `flush.ms` scheduler.
    pub fn last_flush_ms(&self) -> i64 {
        self.last_flush_ms
    }
}

impl LogError {
    /// The Kafka error code a produce or fetch response carries for this failure.
    pub fn response_error(&self) -> ResponseError {
        match self {
            LogError::InvalidBatch(e) => e.response_error(),
            LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
            LogError::RecordTooLarge { .. } => ResponseError::MessageTooLarge,
            LogError::InconsistentTopicId { .. } => ResponseError::InconsistentTopicId,
            LogError::Io { .. }
            | LogError::CorruptSegment { .. }
            | LogError::Index { .. }
            | LogError::Checkpoint(_) => ResponseError::KafkaStorageError,
            _ => ResponseError::UnknownServerError,
        }
    }
}
