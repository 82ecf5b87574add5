//! One log segment: `<base offset, 20 digits>.log` holding whole v2 batches back to back,
//! exactly as they arrived (with the offsets the leader assigned), plus its `.index` and
//! `.timeindex`. A segment only ever grows at the end; it shrinks only through `truncate_to`
//! (followers) and recovery.
//!
//! Index entries are keyed by a batch's *last* offset and point at the batch's first byte, so a
//! lookup followed by a forward scan of batch headers finds the batch holding any offset.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::batch::{BatchError, BatchHeader, BatchView, HEADER_SIZE};
use super::config::LogConfig;
use super::error::LogError;
use super::index::{OffsetIndex, TimeIndex};
use super::records::{for_each_record, Walk};

/// Suffix of a segment's data file.
pub const LOG_SUFFIX: &str = ".log";
/// Suffix of the offset index.
pub const INDEX_SUFFIX: &str = ".index";
/// Suffix of the time index.
pub const TIME_INDEX_SUFFIX: &str = ".timeindex";
/// Suffix of the aborted-transaction index (not written by zkraft yet).
pub const TXN_INDEX_SUFFIX: &str = ".txnindex";
/// Appended to a file scheduled for deletion.
pub const DELETED_SUFFIX: &str = ".deleted";
/// Appended by the log cleaner to a segment it is writing.
pub const CLEANED_SUFFIX: &str = ".cleaned";
/// Appended by the log cleaner to a finished segment about to replace older ones.
pub const SWAP_SUFFIX: &str = ".swap";

/// Reads of the log during CRC checks go through a buffer of this size, so a corrupt length
/// cannot make recovery allocate more.
const SCAN_CHUNK: usize = 64 * 1024;

/// `00000000000000000042.log` for base offset 42 and suffix `.log`.
pub fn segment_file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}{suffix}")
}

/// Splits `00000000000000000042.log` into `(42, ".log")`; the suffix is everything after the
/// 20 digits (e.g. `.log.swap`). `None` for other names.
pub fn parse_segment_file_name(name: &str) -> Option<(i64, &str)> {
    let digits = name.get(..20)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let suffix = &name[20..];
    if !suffix.starts_with('.') {
        return None;
    }
    Some((digits.parse().ok()?, suffix))
}

/// Where the batch in a segment ends up in a fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentRead {
    /// Byte position of the first batch returned.
    pub position: u64,
    /// Whole batches; empty if the batch holding the start offset lies beyond the read bound.
    pub bytes: Vec<u8>,
}

/// Result of a timestamp search (ListOffsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimestampAndOffset {
    /// Timestamp of the record found.
    pub timestamp: i64,
    /// Its offset.
    pub offset: i64,
    /// Leader epoch of its batch, if set.
    pub leader_epoch: Option<i32>,
}

/// What recovery did to a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoveryOutcome {
    /// Bytes cut off the end of the `.log`.
    pub truncated_bytes: u64,
    /// Valid batches kept.
    pub batches: usize,
}

/// What the roll check needs to know about the batch about to be appended.
#[derive(Clone, Copy, Debug)]
pub struct RollParams {
    /// Size of the batch.
    pub batch_bytes: u64,
    /// Its max timestamp.
    pub max_timestamp: i64,
    /// Its last offset.
    pub last_offset: i64,
    /// Wall clock, ms.
    pub now_ms: i64,
}

/// What is found at a position of the `.log`.
enum HeaderAt {
    /// A batch whose bytes are all present.
    Batch(BatchHeader),
    /// The exact end of the data.
    End,
    /// A batch started but the file ends inside it.
    Torn,
    /// Bytes that are not a v2 batch header.
    Corrupt(BatchError),
}

/// A segment and its indexes, open for reading and (if active) appending.
pub struct LogSegment {
    base_offset: i64,
    log_path: PathBuf,
    log: File,
    size: u64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    index_interval_bytes: u64,
    max_index_bytes: usize,
    bytes_since_last_index_entry: u64,
    max_timestamp_so_far: i64,
    offset_of_max_timestamp_so_far: i64,
    /// Max timestamp of the first batch: the clock segment.ms is measured against.
    rolling_based_timestamp: Option<i64>,
    created_ms: i64,
    next_offset: i64,
}

impl LogSegment {
    /// Creates an empty segment at `base_offset`, replacing any stale files of that name.
    pub fn create(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<LogSegment, LogError> {
        let log_path = dir.join(segment_file_name(base_offset, LOG_SUFFIX));
        for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            let path = dir.join(segment_file_name(base_offset, suffix));
            if path.exists() {
                tracing::warn!(file = %path.display(), "replacing a stale file while creating a segment");
                fs::remove_file(&path).map_err(LogError::io(&path))?;
            }
        }
        let log = open_rw(&log_path)?;
        Self::assemble(dir, base_offset, log_path, log, 0, config, now_ms)
    }

    /// Opens an existing segment without reading it; follow with [`Self::load`] or
    /// [`Self::recover`]. Index files that are missing or not a whole number of entries are
    /// replaced by empty ones; the second value says whether that happened (the caller must
    /// then recover the segment).
    pub fn open(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<(LogSegment, bool), LogError> {
        let log_path = dir.join(segment_file_name(base_offset, LOG_SUFFIX));
        let log = open_rw(&log_path)?;
        let size = log.metadata().map_err(LogError::io(&log_path))?.len();
        let mut replaced = false;
        for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            let path = dir.join(segment_file_name(base_offset, suffix));
            let entry_size = if suffix == INDEX_SUFFIX {
                OffsetIndex::ENTRY_SIZE
            } else {
                TimeIndex::ENTRY_SIZE
            };
            match fs::metadata(&path) {
                // A zero-length index is legitimate: a small or single-batch segment has no
                // entries once trimmed.
                Ok(m) if m.len() % entry_size as u64 == 0 => {}
                Ok(_) => {
                    fs::remove_file(&path).map_err(LogError::io(&path))?;
                    replaced = true;
                }
                Err(_) => replaced = true,
            }
        }
        let seg = Self::assemble(dir, base_offset, log_path, log, size, config, now_ms)?;
        Ok((seg, replaced && size > 0))
    }

    fn assemble(
        dir: &Path,
        base_offset: i64,
        log_path: PathBuf,
        log: File,
        size: u64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<LogSegment, LogError> {
        let max_index_bytes = usize::try_from(config.max_index_bytes)
            .unwrap_or(0)
            .max(TimeIndex::ENTRY_SIZE);
        let offset_index = OffsetIndex::open(
            &dir.join(segment_file_name(base_offset, INDEX_SUFFIX)),
            base_offset,
            max_index_bytes,
        )?;
        let time_index = TimeIndex::open(
            &dir.join(segment_file_name(base_offset, TIME_INDEX_SUFFIX)),
            base_offset,
            max_index_bytes,
        )?;
        Ok(LogSegment {
            base_offset,
            log_path,
            log,
            size,
            offset_index,
            time_index,
            index_interval_bytes: u64::try_from(config.index_interval_bytes).unwrap_or(0),
            max_index_bytes,
            bytes_since_last_index_entry: 0,
            max_timestamp_so_far: -1,
            offset_of_max_timestamp_so_far: base_offset,
            rolling_based_timestamp: None,
            created_ms: now_ms,
            next_offset: base_offset,
        })
    }

    /// Loads the in-memory state of a segment believed intact (flushed before the recovery
    /// point, or closed cleanly): checks the indexes against the log and scans the batches
    /// after the last index entry. `Err(reason)` inside `Ok` means the segment is inconsistent
    /// and must be recovered.
    pub fn load(&mut self) -> Result<Result<(), String>, LogError> {
        if let Err(reason) = self.offset_index.sanity_check(self.size) {
            return Ok(Err(format!(
                "{}: {reason}",
                self.offset_index.path().display()
            )));
        }
        if let Err(reason) = self.scan_tail()? {
            return Ok(Err(reason));
        }
        if let Err(reason) = self.time_index.sanity_check(self.next_offset) {
            return Ok(Err(format!(
                "{}: {reason}",
                self.time_index.path().display()
            )));
        }
        if self.size > 0 {
            match self.header_at(0, self.size)? {
                HeaderAt::Batch(h) => self.rolling_based_timestamp = Some(h.max_timestamp),
                _ => return Ok(Err("unreadable first batch".to_string())),
            }
        }
        Ok(Ok(()))
    }

    /// Recomputes the end offset and max timestamp from the batches after the last index
    /// entries. `Err(reason)` inside `Ok` if those batches do not parse to the end of the file
    /// or contradict the index.
    fn scan_tail(&mut self) -> Result<Result<(), String>, LogError> {
        let last_time = self.time_index.last_entry();
        let last_index = self.offset_index.last_entry();
        let from_time = self.offset_index.lookup(last_time.offset).position;
        let mut pos = u64::from(from_time.min(last_index.position));
        let mut next = self.base_offset;
        let mut max_ts = last_time.timestamp;
        let mut max_off = last_time.offset;
        let mut saw_indexed = self.offset_index.entries() == 0;
        loop {
            match self.header_at(pos, self.size)? {
                HeaderAt::End => break,
                HeaderAt::Torn => return Ok(Err(format!("torn batch at byte {pos}"))),
                HeaderAt::Corrupt(e) => return Ok(Err(format!("bad batch at byte {pos}: {e}"))),
                HeaderAt::Batch(h) => {
                    if h.base_offset < next || h.base_offset < self.base_offset {
                        return Ok(Err(format!("offsets go backwards at byte {pos}")));
                    }
                    if pos == u64::from(last_index.position) && h.last_offset() == last_index.offset
                    {
                        saw_indexed = true;
                    }
                    if h.max_timestamp > max_ts {
                        max_ts = h.max_timestamp;
                        max_off = h.last_offset();
                    }
                    next = h.next_offset();
                    pos += h.size_in_bytes() as u64;
                }
            }
        }
        if !saw_indexed {
            return Ok(Err(
                "last index entry does not point at a batch boundary".to_string()
            ));
        }
        self.next_offset = next;
        self.max_timestamp_so_far = max_ts;
        self.offset_of_max_timestamp_so_far = max_off;
        // Counted from the last indexed batch, as recovery counts, so that appends after a
        // reload or truncation place entries where a rebuild would.
        self.bytes_since_last_index_entry = self.size - u64::from(last_index.position);
        Ok(Ok(()))
    }

    /// Rebuilds the indexes from the `.log`, checking every batch's header, CRC and offsets,
    /// and cuts the file at the first batch that is torn or corrupt (logging one warning).
    /// `on_batch` sees each valid header in order (the log uses it for leader epochs).
    pub fn recover(
        &mut self,
        mut on_batch: impl FnMut(&BatchHeader),
    ) -> Result<RecoveryOutcome, LogError> {
        let file_size = self
            .log
            .metadata()
            .map_err(LogError::io(&self.log_path))?
            .len();
        self.offset_index.reset();
        self.time_index.reset();
        self.offset_index.resize(self.max_index_bytes)?;
        self.time_index.resize(self.max_index_bytes)?;
        let mut valid: u64 = 0;
        let mut last_index_pos: u64 = 0;
        let mut next = self.base_offset;
        let mut max_ts = -1i64;
        let mut max_off = self.base_offset;
        let mut first_ts = None;
        let mut batches = 0usize;
        let problem = loop {
            let h = match self.header_at(valid, file_size)? {
                HeaderAt::End => break None,
                HeaderAt::Torn => break Some("torn batch".to_string()),
                HeaderAt::Corrupt(BatchError::UnsupportedMagic(m @ (0 | 1)))
                    if self.legacy_message_valid(valid, file_size)? =>
                {
                    return Err(LogError::UnsupportedMessageFormat {
                        path: self.log_path.clone(),
                        position: valid,
                        magic: m,
                    })
                }
                HeaderAt::Corrupt(e) => break Some(e.to_string()),
                HeaderAt::Batch(h) => h,
            };
            if h.base_offset < next {
                break Some(format!(
                    "base offset {} follows offset {}",
                    h.base_offset,
                    next - 1
                ));
            }
            if h.last_offset_delta < 0 || h.last_offset() - self.base_offset > i64::from(i32::MAX) {
                break Some(format!(
                    "offsets {}..={} do not fit the segment",
                    h.base_offset,
                    h.last_offset()
                ));
            }
            if valid > i32::MAX as u64 {
                break Some("segment larger than 2 GiB".to_string());
            }
            if let Err(e) = self.check_crc(valid, &h)? {
                break Some(e.to_string());
            }
            on_batch(&h);
            if h.max_timestamp > max_ts {
                max_ts = h.max_timestamp;
                max_off = h.last_offset();
            }
            if valid - last_index_pos > self.index_interval_bytes
                && !self.offset_index.is_full()
                && !self.time_index.is_full()
            {
                self.offset_index.append(h.last_offset(), valid as u32)?;
                self.time_index.maybe_append(max_ts, max_off, false)?;
                last_index_pos = valid;
            }
            first_ts.get_or_insert(h.max_timestamp);
            valid += h.size_in_bytes() as u64;
            next = h.next_offset();
            batches += 1;
        };
        let truncated_bytes = file_size - valid;
        if truncated_bytes > 0 {
            tracing::warn!(
                file = %self.log_path.display(),
                position = valid,
                offset = next,
                reason = problem.as_deref().unwrap_or("trailing bytes"),
                "truncating {truncated_bytes} invalid bytes at the end of the segment"
            );
            self.log
                .set_len(valid)
                .map_err(LogError::io(&self.log_path))?;
        }
        self.size = valid;
        self.next_offset = next;
        self.max_timestamp_so_far = max_ts;
        self.offset_of_max_timestamp_so_far = max_off;
        self.rolling_based_timestamp = first_ts;
        self.bytes_since_last_index_entry = valid - last_index_pos;
        self.offset_index.trim_to_valid_size()?;
        self.time_index.trim_to_valid_size()?;
        Ok(RecoveryOutcome {
            truncated_bytes,
            batches,
        })
    }

    fn check_crc(&self, pos: u64, h: &BatchHeader) -> Result<Result<(), BatchError>, LogError> {
        let mut crc = 0u32;
        let mut at = pos + 21;
        let end = pos + h.size_in_bytes() as u64;
        let mut buf = vec![0u8; SCAN_CHUNK.min(h.size_in_bytes())];
        while at < end {
            let n = (end - at).min(buf.len() as u64) as usize;
            self.log
                .read_exact_at(&mut buf[..n], at)
                .map_err(LogError::io(&self.log_path))?;
            crc = crc32c::crc32c_append(crc, &buf[..n]);
            at += n as u64;
        }
        if crc != h.crc {
            return Ok(Err(BatchError::CrcMismatch {
                stored: h.crc,
                computed: crc,
            }));
        }
        Ok(Ok(()))
    }

    /// Whether a magic 0/1 message at `pos` has a valid legacy CRC-32 (IEEE, over magic..end):
    /// real pre-0.11 data, which must not be mistaken for corruption and cut away.
    fn legacy_message_valid(&self, pos: u64, file_size: u64) -> Result<bool, LogError> {
        let mut head = [0u8; 17];
        if pos + 17 > file_size {
            return Ok(false);
        }
        self.log
            .read_exact_at(&mut head, pos)
            .map_err(LogError::io(&self.log_path))?;
        let len = i32::from_be_bytes([head[8], head[9], head[10], head[11]]);
        let Ok(len) = u64::try_from(len) else {
            return Ok(false);
        };
        let end = pos + 12 + len;
        if len < 14 || end > file_size {
            return Ok(false);
        }
        let stored = u32::from_be_bytes([head[12], head[13], head[14], head[15]]);
        let mut digest = kafka_protocol::records::IEEE.digest();
        let mut buf = vec![0u8; SCAN_CHUNK.min(len as usize)];
        let mut at = pos + 16;
        while at < end {
            let n = (end - at).min(buf.len() as u64) as usize;
            self.log
                .read_exact_at(&mut buf[..n], at)
                .map_err(LogError::io(&self.log_path))?;
            digest.update(&buf[..n]);
            at += n as u64;
        }
        Ok(digest.finalize() == stored)
    }

    /// Reads the batch header at `pos` of a file whose data ends at `end`.
    fn header_at(&self, pos: u64, end: u64) -> Result<HeaderAt, LogError> {
        if pos >= end {
            return Ok(HeaderAt::End);
        }
        let available = (end - pos).min(HEADER_SIZE as u64) as usize;
        let mut buf = [0u8; HEADER_SIZE];
        self.log
            .read_exact_at(&mut buf[..available], pos)
            .map_err(LogError::io(&self.log_path))?;
        match BatchHeader::parse(&buf[..available]) {
            Ok(h) if h.size_in_bytes() as u64 > end - pos => Ok(HeaderAt::Torn),
            Ok(h) => Ok(HeaderAt::Batch(h)),
            Err(BatchError::Truncated { .. }) => Ok(HeaderAt::Torn),
            Err(e) => Ok(HeaderAt::Corrupt(e)),
        }
    }

    /// A batch header inside the validated part of the segment.
    fn live_header_at(&self, pos: u64) -> Result<Option<BatchHeader>, LogError> {
        match self.header_at(pos, self.size)? {
            HeaderAt::Batch(h) => Ok(Some(h)),
            HeaderAt::End => Ok(None),
            HeaderAt::Torn => Err(self.corrupt(pos, "torn batch".to_string())),
            HeaderAt::Corrupt(e) => Err(self.corrupt(pos, e.to_string())),
        }
    }

    fn corrupt(&self, position: u64, reason: String) -> LogError {
        LogError::CorruptSegment {
            path: self.log_path.clone(),
            position,
            reason,
        }
    }

    /// Appends one batch whose offsets were already assigned. The log has checked that it
    /// fits (see [`Self::should_roll`]).
    pub fn append(&mut self, batch: &[u8], header: &BatchHeader) -> Result<(), LogError> {
        let position = self.size;
        let relative_last = header.last_offset() - self.base_offset;
        if header.base_offset < self.base_offset || relative_last > i64::from(i32::MAX) {
            return Err(LogError::OffsetOverflow {
                base_offset: self.base_offset,
                offset: header.last_offset(),
            });
        }
        let index_position = u32::try_from(position)
            .ok()
            .filter(|p| *p <= i32::MAX as u32)
            .ok_or_else(|| self.corrupt(position, "segment larger than 2 GiB".to_string()))?;
        self.log
            .write_all_at(batch, position)
            .map_err(LogError::io(&self.log_path))?;
        if position == 0 {
            self.rolling_based_timestamp = Some(header.max_timestamp);
        }
        if header.max_timestamp > self.max_timestamp_so_far {
            self.max_timestamp_so_far = header.max_timestamp;
            self.offset_of_max_timestamp_so_far = header.last_offset();
        }
        if self.bytes_since_last_index_entry > self.index_interval_bytes {
            self.offset_index
                .append(header.last_offset(), index_position)?;
            self.time_index.maybe_append(
                self.max_timestamp_so_far,
                self.offset_of_max_timestamp_so_far,
                false,
            )?;
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += batch.len() as u64;
        self.size += batch.len() as u64;
        self.next_offset = header.next_offset();
        Ok(())
    }

    /// Position and header of the first batch whose last offset is >= `offset`, if any.
    pub fn translate_offset(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let mut pos = u64::from(self.offset_index.lookup(offset).position);
        while let Some(h) = self.live_header_at(pos)? {
            if h.last_offset() >= offset {
                return Ok(Some((pos, h)));
            }
            pos += h.size_in_bytes() as u64;
        }
        Ok(None)
    }

    /// Reads whole batches starting with the one holding `start_offset`, stopping before a
    /// batch that reaches `max_offset_exclusive` or would take the total past `max_bytes`. The
    /// first batch is returned even if larger than `max_bytes`, as Kafka does for fetches.
    /// `None` if this segment has nothing at or after `start_offset`.
    pub fn read(
        &self,
        start_offset: i64,
        max_bytes: usize,
        max_offset_exclusive: i64,
    ) -> Result<Option<SegmentRead>, LogError> {
        let Some((position, first)) = self.translate_offset(start_offset)? else {
            return Ok(None);
        };
        if first.last_offset() >= max_offset_exclusive {
            return Ok(Some(SegmentRead {
                position,
                bytes: Vec::new(),
            }));
        }
        let window =
            (max_bytes.max(first.size_in_bytes()) as u64).min(self.size - position) as usize;
        let mut bytes = vec![0u8; window];
        self.log
            .read_exact_at(&mut bytes, position)
            .map_err(LogError::io(&self.log_path))?;
        let mut end = 0usize;
        while end < bytes.len() {
            match BatchHeader::parse(&bytes[end..]) {
                Ok(h)
                    if end + h.size_in_bytes() <= bytes.len()
                        && h.last_offset() < max_offset_exclusive
                        && (end == 0 || end + h.size_in_bytes() <= max_bytes) =>
                {
                    end += h.size_in_bytes();
                }
                _ => break,
            }
        }
        bytes.truncate(end);
        Ok(Some(SegmentRead { position, bytes }))
    }

    /// The first record with timestamp >= `timestamp` and offset >= `starting_offset`, as
    /// ListOffsets answers it. Records are walked (decompressed if needed) only in the batch
    /// whose max timestamp first reaches the target.
    pub fn find_offset_by_timestamp(
        &self,
        timestamp: i64,
        starting_offset: i64,
        max_decompressed: usize,
    ) -> Result<Option<TimestampAndOffset>, LogError> {
        let hint = self.time_index.lookup(timestamp);
        let mut pos = u64::from(
            self.offset_index
                .lookup(hint.offset.max(starting_offset))
                .position,
        );
        while let Some(h) = self.live_header_at(pos)? {
            if h.max_timestamp >= timestamp && h.last_offset() >= starting_offset {
                let mut bytes = vec![0u8; h.size_in_bytes()];
                self.log
                    .read_exact_at(&mut bytes, pos)
                    .map_err(LogError::io(&self.log_path))?;
                let view = BatchView::parse(&bytes)?;
                let mut found = None;
                let walked = for_each_record(&view, max_decompressed, |r| {
                    let offset = h.base_offset.saturating_add(i64::from(r.offset_delta));
                    if r.timestamp >= timestamp && offset >= starting_offset {
                        found = Some((r.timestamp, offset));
                        return Ok(Walk::Stop);
                    }
                    Ok(Walk::Continue)
                });
                let leader_epoch =
                    (h.partition_leader_epoch >= 0).then_some(h.partition_leader_epoch);
                match (walked, found) {
                    (_, Some((timestamp, offset))) => {
                        return Ok(Some(TimestampAndOffset {
                            timestamp,
                            offset,
                            leader_epoch,
                        }))
                    }
                    (Err(e), None) => {
                        // The header says the target is here; answer at batch granularity.
                        tracing::warn!(file = %self.log_path.display(), position = pos, error = %e, "cannot walk records for a timestamp lookup");
                        return Ok(Some(TimestampAndOffset {
                            timestamp: h.max_timestamp,
                            offset: h.base_offset.max(starting_offset),
                            leader_epoch,
                        }));
                    }
                    (Ok(()), None) => {}
                }
            }
            pos += h.size_in_bytes() as u64;
        }
        Ok(None)
    }

    /// Removes every batch holding an offset >= `offset` and the index entries for them.
    /// Returns the bytes removed.
    pub fn truncate_to(&mut self, offset: i64, now_ms: i64) -> Result<u64, LogError> {
        let Some((position, _)) = self.translate_offset(offset)? else {
            return Ok(0);
        };
        self.offset_index.truncate_to(offset);
        self.time_index.truncate_to(offset);
        self.offset_index.resize(self.max_index_bytes)?;
        self.time_index.resize(self.max_index_bytes)?;
        let removed = self.size - position;
        self.log
            .set_len(position)
            .map_err(LogError::io(&self.log_path))?;
        self.size = position;
        if let Err(reason) = self.scan_tail()? {
            return Err(self.corrupt(position, reason));
        }
        if self.size == 0 {
            self.created_ms = now_ms;
            self.rolling_based_timestamp = None;
        }
        Ok(removed)
    }

    /// Kafka's roll rules for the active segment, checked before each append: the batch
    /// would push the segment past `segment.bytes`; `segment.ms` has passed since the first
    /// batch's timestamp (or since creation if it has none); an index is full; or the batch's
    /// offsets cannot be stored relative to the base offset.
    pub fn should_roll(&self, config: &LogConfig, p: &RollParams) -> bool {
        let segment_bytes = u64::try_from(config.segment_bytes).unwrap_or(0);
        let full = self.size > 0 && self.size + p.batch_bytes > segment_bytes;
        let waited = match self.rolling_based_timestamp {
            Some(t) if t >= 0 => p.max_timestamp.saturating_sub(t),
            _ => p.now_ms.saturating_sub(self.created_ms),
        };
        let too_old = self.size > 0 && waited > config.segment_ms;
        let relative = p.last_offset.saturating_sub(self.base_offset);
        let unindexable = relative < 0 || relative > i64::from(i32::MAX);
        full || too_old || self.offset_index.is_full() || self.time_index.is_full() || unindexable
    }

    /// Called when a newer segment takes over appends: records the final max timestamp in
    /// the time index and trims both indexes to their entries.
    pub fn on_become_inactive(&mut self) -> Result<(), LogError> {
        if self.max_timestamp_so_far >= 0 {
            self.time_index.maybe_append(
                self.max_timestamp_so_far,
                self.offset_of_max_timestamp_so_far,
                true,
            )?;
        }
        self.offset_index.trim_to_valid_size()?;
        self.time_index.trim_to_valid_size()
    }

    /// Gives the indexes their preallocated size again (the segment became active).
    pub fn resize_indexes(&mut self) -> Result<(), LogError> {
        self.offset_index.resize(self.max_index_bytes)?;
        self.time_index.resize(self.max_index_bytes)
    }

    /// fsyncs the log and the indexes.
    pub fn flush(&self) -> Result<(), LogError> {
        self.log.sync_all().map_err(LogError::io(&self.log_path))?;
        self.offset_index.flush()?;
        self.time_index.flush()
    }

    /// Renames the segment's files to `.deleted` and removes them. The rename comes first so
    /// a crash in between leaves only files recovery knows to delete.
    pub fn delete(self) -> Result<(), LogError> {
        let dir = self
            .log_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let base = self.base_offset;
        drop(self);
        delete_segment_files(&dir, base)
    }

    /// First offset the segment can hold.
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Offset after the last batch (the base offset when empty).
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Bytes in the `.log`.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// No batches yet.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Path of the `.log` file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Largest batch timestamp, or the file's modification time if no batch has one: what
    /// time-based retention compares against.
    pub fn largest_timestamp(&self) -> i64 {
        if self.max_timestamp_so_far >= 0 {
            return self.max_timestamp_so_far;
        }
        self.log
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    /// Reads `len` bytes at `position` (within the segment).
    pub fn read_bytes(&self, position: u64, len: usize) -> Result<Vec<u8>, LogError> {
        if position + len as u64 > self.size {
            return Err(self.corrupt(position, format!("read of {len} bytes past the end")));
        }
        let mut buf = vec![0u8; len];
        self.log
            .read_exact_at(&mut buf, position)
            .map_err(LogError::io(&self.log_path))?;
        Ok(buf)
    }

    /// Every batch header in order with its position.
    pub fn batch_headers(&self) -> Result<Vec<(u64, BatchHeader)>, LogError> {
        let mut out = Vec::new();
        let mut pos = 0u64;
        while let Some(h) = self.live_header_at(pos)? {
            out.push((pos, h));
            pos += h.size_in_bytes() as u64;
        }
        Ok(out)
    }
}

fn open_rw(path: &Path) -> Result<File, LogError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(LogError::io(path))
}

/// Deletes the `.log`, `.index`, `.timeindex` and `.txnindex` of the segment at `base_offset`
/// (those that exist), renaming each to `.deleted` first.
pub fn delete_segment_files(dir: &Path, base_offset: i64) -> Result<(), LogError> {
    for suffix in [
        LOG_SUFFIX,
        INDEX_SUFFIX,
        TIME_INDEX_SUFFIX,
        TXN_INDEX_SUFFIX,
    ] {
        let path = dir.join(segment_file_name(base_offset, suffix));
        if !path.exists() {
            continue;
        }
        let deleted = dir.join(format!(
            "{}{DELETED_SUFFIX}",
            segment_file_name(base_offset, suffix)
        ));
        fs::rename(&path, &deleted).map_err(LogError::io(&path))?;
        fs::remove_file(&deleted).map_err(LogError::io(&deleted))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::set_base_offset;
    use crate::log::batch::tests::encode_batch;
    use kafka_protocol::records::Compression;

    fn config() -> LogConfig {
        LogConfig {
            index_interval_bytes: 100,
            max_index_bytes: 4096,
            ..LogConfig::default()
        }
    }

    /// Appends `count` batches of 2 records each; batch k of the segment has timestamps
    /// 1000 + 10k and 1001 + 10k.
    fn fill(seg: &mut LogSegment, count: i64) {
        for _ in 0..count {
            let k = (seg.next_offset() - seg.base_offset()) / 2;
            let mut b = encode_batch(2, 1_000 + k * 10, 60, Compression::None);
            set_base_offset(&mut b, seg.next_offset()).unwrap();
            let h = BatchHeader::parse(&b).unwrap();
            seg.append(&b, &h).unwrap();
        }
    }

    #[test]
    fn file_names_are_20_digits() {
        assert_eq!(
            segment_file_name(42, LOG_SUFFIX),
            "00000000000000000042.log"
        );
        assert_eq!(
            parse_segment_file_name("00000000000000000042.log"),
            Some((42, ".log"))
        );
        assert_eq!(
            parse_segment_file_name("00000000000000000042.log.swap"),
            Some((42, ".log.swap"))
        );
        assert_eq!(parse_segment_file_name("0000000000000000042.log"), None);
        assert_eq!(parse_segment_file_name("leader-epoch-checkpoint"), None);
        assert_eq!(parse_segment_file_name("99999999999999999999.log"), None);
    }

    #[test]
    fn append_read_and_translate() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = LogSegment::create(dir.path(), 100, &config(), 0).unwrap();
        fill(&mut seg, 20);
        assert_eq!(seg.next_offset(), 140);
        assert!(
            seg.offset_index.entries() > 3,
            "sparse entries every ~100 bytes"
        );
        for offset in [100, 101, 117, 139] {
            let (pos, h) = seg.translate_offset(offset).unwrap().unwrap();
            assert!(h.base_offset <= offset && offset <= h.last_offset());
            assert_eq!(seg.read_bytes(pos, 8).unwrap(), h.base_offset.to_be_bytes());
        }
        assert!(seg.translate_offset(140).unwrap().is_none());
        // Whole batches only, at least one, bounded by max bytes and the offset bound.
        let one = seg.read(101, 1, i64::MAX).unwrap().unwrap();
        let batch_size = BatchHeader::parse(&one.bytes).unwrap().size_in_bytes();
        assert_eq!(one.bytes.len(), batch_size);
        let three = seg
            .read(100, batch_size * 3 + 5, i64::MAX)
            .unwrap()
            .unwrap();
        assert_eq!(three.bytes.len(), batch_size * 3);
        let bounded = seg.read(100, 1 << 20, 106).unwrap().unwrap();
        assert_eq!(bounded.bytes.len(), batch_size * 3);
        assert!(seg
            .read(104, 1 << 20, 105)
            .unwrap()
            .unwrap()
            .bytes
            .is_empty());
    }

    #[test]
    fn timestamp_search_walks_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = LogSegment::create(dir.path(), 0, &config(), 0).unwrap();
        fill(&mut seg, 10);
        // Batch i holds offsets 2i, 2i+1 with timestamps 1000+10i, 1001+10i.
        let found = seg
            .find_offset_by_timestamp(1_041, 0, 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!((found.timestamp, found.offset), (1_041, 9));
        let found = seg
            .find_offset_by_timestamp(1_042, 0, 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!((found.timestamp, found.offset), (1_050, 10));
        let found = seg
            .find_offset_by_timestamp(0, 5, 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!(found.offset, 5);
        assert!(seg
            .find_offset_by_timestamp(5_000, 0, 1 << 20)
            .unwrap()
            .is_none());
    }

    #[test]
    fn truncate_and_recover_agree_with_appends() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = LogSegment::create(dir.path(), 0, &config(), 0).unwrap();
        fill(&mut seg, 20);
        let removed = seg.truncate_to(21, 5).unwrap();
        assert!(removed > 0);
        assert_eq!(
            seg.next_offset(),
            20,
            "the batch holding 21 is gone entirely"
        );
        assert_eq!(seg.max_timestamp_so_far, 1_091);
        fill(&mut seg, 10);
        assert_eq!(seg.next_offset(), 40);
        let entries = (seg.offset_index.entries(), seg.time_index.entries());
        assert_eq!(
            entries.1, entries.0,
            "every index entry came with a newer timestamp"
        );
        let (rebuilt_entries, size) = {
            let before = seg.size();
            seg.recover(|_| {}).unwrap();
            assert_eq!(seg.size(), before);
            (
                (seg.offset_index.entries(), seg.time_index.entries()),
                seg.size(),
            )
        };
        assert_eq!(
            rebuilt_entries, entries,
            "a rebuild indexes the same batches"
        );
        assert_eq!(size, seg.size());
        assert_eq!(seg.next_offset(), 40);
    }

    #[test]
    fn should_roll_rules() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            segment_bytes: 1_000,
            segment_ms: 100,
            ..config()
        };
        let mut seg = LogSegment::create(dir.path(), 0, &cfg, 0).unwrap();
        let p = |bytes, ts, last| RollParams {
            batch_bytes: bytes,
            max_timestamp: ts,
            last_offset: last,
            now_ms: 0,
        };
        assert!(
            !seg.should_roll(&cfg, &p(5_000, 0, 0)),
            "an empty segment takes any batch"
        );
        fill(&mut seg, 1);
        assert!(!seg.should_roll(&cfg, &p(100, 1_000, 2)));
        assert!(seg.should_roll(&cfg, &p(1_000, 1_000, 2)), "size");
        // The first batch's max timestamp is 1_001; segment.ms is 100.
        assert!(!seg.should_roll(&cfg, &p(100, 1_101, 2)));
        assert!(
            seg.should_roll(&cfg, &p(100, 1_102, 2)),
            "time since the first batch"
        );
        assert!(
            seg.should_roll(&cfg, &p(100, 1_000, i64::from(i32::MAX) + 1)),
            "relative offset overflow"
        );
    }
}
