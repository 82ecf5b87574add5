//! A segment's sparse indexes, memory-mapped and preallocated like Kafka's:
//! `.index` maps offsets to byte positions (8-byte entries: relative offset i32, position i32)
//! and `.timeindex` maps timestamps to offsets (12-byte entries: timestamp i64, relative offset
//! i32), big-endian, relative to the segment's base offset.
//!
//! Both are caches of the `.log`: a missing or inconsistent index is rebuilt from the log by
//! recovery, so opening one never trusts more than the sanity checks below. An index file is
//! preallocated to `segment.index.bytes` while its segment is active and trimmed to its entries
//! when the segment rolls or the log closes; an untrimmed file left by a crash fails the sanity
//! check (its zero tail is not increasing) and is rebuilt.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use super::error::LogError;

/// An offset index entry resolved to absolute values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetPosition {
    /// Absolute offset (the last offset of the batch indexed).
    pub offset: i64,
    /// Byte position of that batch in the `.log` file.
    pub position: u32,
}

/// A time index entry resolved to absolute values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimestampOffset {
    /// Largest timestamp seen in the segment up to `offset`.
    pub timestamp: i64,
    /// Absolute offset (last offset of the batch holding that timestamp).
    pub offset: i64,
}

/// A memory-mapped file of fixed-size entries; the mapping always covers the whole file.
struct MappedEntries {
    path: PathBuf,
    file: File,
    mmap: MmapMut,
    entry_size: usize,
    entries: usize,
}

impl MappedEntries {
    /// Opens `path`, creating it preallocated to `max_bytes` (rounded down to whole entries)
    /// if it does not exist. An existing file is mapped as is and holds `len / entry_size`
    /// entries; Kafka leaves inactive indexes trimmed, possibly to zero bytes.
    fn open(path: &Path, entry_size: usize, max_bytes: usize) -> Result<MappedEntries, LogError> {
        let created = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path);
        let (file, len, entries) = match created {
            Ok(file) => {
                let preallocated = (max_bytes / entry_size * entry_size) as u64;
                file.set_len(preallocated).map_err(LogError::io(path))?;
                (file, preallocated, 0)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .map_err(LogError::io(path))?;
                let len = file.metadata().map_err(LogError::io(path))?.len();
                if len % entry_size as u64 != 0 {
                    return Err(LogError::Index {
                        path: path.to_path_buf(),
                        reason: format!("size {len} is not a multiple of {entry_size}"),
                    });
                }
                (file, len, (len / entry_size as u64) as usize)
            }
            Err(e) => return Err(LogError::io(path)(e)),
        };
        let mmap = map(&file, path, len)?;
        Ok(MappedEntries {
            path: path.to_path_buf(),
            file,
            mmap,
            entry_size,
            entries,
        })
    }

    fn capacity(&self) -> usize {
        self.mmap.len() / self.entry_size
    }

    fn entry(&self, i: usize) -> &[u8] {
        &self.mmap[i * self.entry_size..(i + 1) * self.entry_size]
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), LogError> {
        if self.entries >= self.capacity() {
            return Err(self.error("index is full".to_string()));
        }
        let at = self.entries * self.entry_size;
        self.mmap[at..at + self.entry_size].copy_from_slice(bytes);
        self.entries += 1;
        Ok(())
    }

    /// Changes the file (and mapping) size, keeping at least the current entries.
    fn resize(&mut self, bytes: usize) -> Result<(), LogError> {
        let rounded = (bytes / self.entry_size).max(self.entries) * self.entry_size;
        if rounded == self.mmap.len() {
            return Ok(());
        }
        self.mmap.flush().map_err(LogError::io(&self.path))?;
        // The old mapping is not touched between the length change and the remap.
        self.file
            .set_len(rounded as u64)
            .map_err(LogError::io(&self.path))?;
        self.mmap = map(&self.file, &self.path, rounded as u64)?;
        Ok(())
    }

    fn flush(&self) -> Result<(), LogError> {
        self.mmap.flush().map_err(LogError::io(&self.path))
    }

    fn error(&self, reason: String) -> LogError {
        LogError::Index {
            path: self.path.clone(),
            reason,
        }
    }
}

fn map(file: &File, path: &Path, len: u64) -> Result<MmapMut, LogError> {
    let len = usize::try_from(len).map_err(|_| LogError::Index {
        path: path.to_path_buf(),
        reason: "index larger than the address space".to_string(),
    })?;
    // SAFETY: the index files are private to this process: the broker holds the log dir lock
    // and nothing else truncates them while mapped; `resize` remaps after every length change.
    unsafe { memmap2::MmapOptions::new().len(len).map_mut(file) }.map_err(LogError::io(path))
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

/// Index of the last entry whose key is <= `target`, for keys non-decreasing in `0..n`.
fn largest_lower_bound(n: usize, key: impl Fn(usize) -> i64, target: i64) -> Option<usize> {
    if n == 0 || key(0) > target {
        return None;
    }
    // Invariant: key(lo) <= target; every index after hi has key > target.
    let (mut lo, mut hi) = (0usize, n - 1);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if key(mid) <= target {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
}

/// Entries still valid after truncating at `offset`: those with an offset below it.
fn entries_below(n: usize, offset_at: impl Fn(usize) -> i64, offset: i64) -> usize {
    match largest_lower_bound(n, &offset_at, offset) {
        None => 0,
        Some(slot) if offset_at(slot) == offset => slot,
        Some(slot) => slot + 1,
    }
}

/// The `.index` file of one segment.
pub struct OffsetIndex {
    file: MappedEntries,
    base_offset: i64,
}

impl OffsetIndex {
    /// Bytes per entry.
    pub const ENTRY_SIZE: usize = 8;

    /// Opens or creates the index for the segment based at `base_offset`.
    pub fn open(
        path: &Path,
        base_offset: i64,
        max_index_bytes: usize,
    ) -> Result<OffsetIndex, LogError> {
        Ok(OffsetIndex {
            file: MappedEntries::open(path, Self::ENTRY_SIZE, max_index_bytes)?,
            base_offset,
        })
    }

    fn relative(&self, i: usize) -> i32 {
        be_i32(self.file.entry(i), 0)
    }

    fn entry(&self, i: usize) -> OffsetPosition {
        let e = self.file.entry(i);
        OffsetPosition {
            offset: self.base_offset.saturating_add(i64::from(be_i32(e, 0))),
            position: be_i32(e, 4) as u32,
        }
    }

    /// Entries in use.
    pub fn entries(&self) -> usize {
        self.file.entries
    }

    /// No room for another entry: the segment must roll.
    pub fn is_full(&self) -> bool {
        self.file.entries >= self.file.capacity()
    }

    /// The last entry, or `(base_offset, 0)` when empty.
    pub fn last_entry(&self) -> OffsetPosition {
        match self.file.entries {
            0 => OffsetPosition {
                offset: self.base_offset,
                position: 0,
            },
            n => self.entry(n - 1),
        }
    }

    /// The entry with the largest offset <= `offset`, or `(base_offset, 0)` if there is none:
    /// the position from which a scan of the log finds `offset`.
    pub fn lookup(&self, offset: i64) -> OffsetPosition {
        let target = offset.saturating_sub(self.base_offset);
        match largest_lower_bound(self.file.entries, |i| i64::from(self.relative(i)), target) {
            Some(i) => self.entry(i),
            None => OffsetPosition {
                offset: self.base_offset,
                position: 0,
            },
        }
    }

    /// Adds an entry; offsets and positions must both increase.
    pub fn append(&mut self, offset: i64, position: u32) -> Result<(), LogError> {
        let relative = offset.saturating_sub(self.base_offset);
        let relative =
            i32::try_from(relative)
                .ok()
                .filter(|r| *r >= 0)
                .ok_or(LogError::OffsetOverflow {
                    base_offset: self.base_offset,
                    offset,
                })?;
        let position_i32 = i32::try_from(position).map_err(|_| {
            self.file
                .error(format!("position {position} exceeds 2 GiB"))
        })?;
        if self.file.entries > 0 {
            let last = self.last_entry();
            if offset <= last.offset || position <= last.position {
                return Err(self.file.error(format!(
                    "entry ({offset}, {position}) does not follow ({}, {})",
                    last.offset, last.position
                )));
            }
        }
        let mut bytes = [0u8; Self::ENTRY_SIZE];
        bytes[..4].copy_from_slice(&relative.to_be_bytes());
        bytes[4..].copy_from_slice(&position_i32.to_be_bytes());
        self.file.push(&bytes)
    }

    /// Drops the entries for offsets >= `offset`.
    pub fn truncate_to(&mut self, offset: i64) {
        let n = entries_below(self.file.entries, |i| self.entry(i).offset, offset);
        self.file.entries = n;
    }

    /// Drops every entry (before a rebuild).
    pub fn reset(&mut self) {
        self.file.entries = 0;
    }

    /// Checks what a crash or a foreign writer could have left wrong: entries strictly
    /// increasing in offset and position, offsets not below the base and positions inside a
    /// log of `log_size` bytes. An error means "rebuild me".
    pub fn sanity_check(&self, log_size: u64) -> Result<(), String> {
        let mut prev: Option<OffsetPosition> = None;
        for i in 0..self.file.entries {
            let e = self.entry(i);
            if self.relative(i) < 0 {
                return Err(format!("entry {i} has a negative relative offset"));
            }
            if u64::from(e.position) >= log_size {
                return Err(format!(
                    "entry {i} points at byte {} of a {log_size}-byte log",
                    e.position
                ));
            }
            if let Some(p) = prev {
                if e.offset <= p.offset || e.position <= p.position {
                    return Err(format!("entry {i} does not increase"));
                }
            }
            prev = Some(e);
        }
        Ok(())
    }

    /// Sets the file size (used to give an active segment's index room again).
    pub fn resize(&mut self, max_index_bytes: usize) -> Result<(), LogError> {
        self.file.resize(max_index_bytes)
    }

    /// Shrinks the file to its entries, as Kafka leaves inactive indexes.
    pub fn trim_to_valid_size(&mut self) -> Result<(), LogError> {
        self.file.resize(self.file.entries * Self::ENTRY_SIZE)
    }

    /// Writes dirty pages to disk.
    pub fn flush(&self) -> Result<(), LogError> {
        self.file.flush()
    }

    /// The file behind the index.
    pub fn path(&self) -> &Path {
        &self.file.path
    }
}

/// The `.timeindex` file of one segment.
pub struct TimeIndex {
    file: MappedEntries,
    base_offset: i64,
}

impl TimeIndex {
    /// Bytes per entry.
    pub const ENTRY_SIZE: usize = 12;

    /// Opens or creates the time index for the segment based at `base_offset`.
    pub fn open(
        path: &Path,
        base_offset: i64,
        max_index_bytes: usize,
    ) -> Result<TimeIndex, LogError> {
        Ok(TimeIndex {
            file: MappedEntries::open(path, Self::ENTRY_SIZE, max_index_bytes)?,
            base_offset,
        })
    }

    fn entry(&self, i: usize) -> TimestampOffset {
        let e = self.file.entry(i);
        TimestampOffset {
            timestamp: be_i64(e, 0),
            offset: self.base_offset.saturating_add(i64::from(be_i32(e, 8))),
        }
    }

    /// Entries in use.
    pub fn entries(&self) -> usize {
        self.file.entries
    }

    /// No room for another entry: the segment must roll.
    pub fn is_full(&self) -> bool {
        self.file.entries >= self.file.capacity()
    }

    /// The last entry, or `(-1, base_offset)` when empty.
    pub fn last_entry(&self) -> TimestampOffset {
        match self.file.entries {
            0 => TimestampOffset {
                timestamp: -1,
                offset: self.base_offset,
            },
            n => self.entry(n - 1),
        }
    }

    /// The entry with the largest timestamp <= `timestamp`, or `(-1, base_offset)`.
    pub fn lookup(&self, timestamp: i64) -> TimestampOffset {
        match largest_lower_bound(self.file.entries, |i| self.entry(i).timestamp, timestamp) {
            Some(i) => self.entry(i),
            None => TimestampOffset {
                timestamp: -1,
                offset: self.base_offset,
            },
        }
    }

    /// Adds `(timestamp, offset)` if `timestamp` is newer than the last entry; Kafka keeps the
    /// time index strictly increasing in time. `skip_full_check` is for the final entry written
    /// when a segment becomes inactive: the file grows by one entry if it has no room.
    pub fn maybe_append(
        &mut self,
        timestamp: i64,
        offset: i64,
        skip_full_check: bool,
    ) -> Result<(), LogError> {
        let last = self.last_entry();
        if self.is_full() && !skip_full_check {
            return Err(self.file.error("time index is full".to_string()));
        }
        if self.file.entries > 0 && offset < last.offset {
            return Err(self.file.error(format!(
                "offset {offset} is below the last entry's {}",
                last.offset
            )));
        }
        if timestamp <= last.timestamp {
            return Ok(());
        }
        let relative = offset.saturating_sub(self.base_offset);
        let relative =
            i32::try_from(relative)
                .ok()
                .filter(|r| *r >= 0)
                .ok_or(LogError::OffsetOverflow {
                    base_offset: self.base_offset,
                    offset,
                })?;
        let mut bytes = [0u8; Self::ENTRY_SIZE];
        bytes[..8].copy_from_slice(&timestamp.to_be_bytes());
        bytes[8..].copy_from_slice(&relative.to_be_bytes());
        if self.is_full() {
            self.file
                .resize((self.file.entries + 1) * Self::ENTRY_SIZE)?;
        }
        self.file.push(&bytes)
    }

    /// Drops the entries for offsets >= `offset`.
    pub fn truncate_to(&mut self, offset: i64) {
        let n = entries_below(self.file.entries, |i| self.entry(i).offset, offset);
        self.file.entries = n;
    }

    /// Drops every entry (before a rebuild).
    pub fn reset(&mut self) {
        self.file.entries = 0;
    }

    /// Timestamps strictly increasing, offsets non-decreasing and not below the base, the last
    /// offset below `next_offset` (the segment's end). An error means "rebuild me".
    pub fn sanity_check(&self, next_offset: i64) -> Result<(), String> {
        let mut prev: Option<TimestampOffset> = None;
        for i in 0..self.file.entries {
            let e = self.entry(i);
            if e.offset < self.base_offset || e.offset >= next_offset {
                return Err(format!(
                    "entry {i} offset {} is outside the segment",
                    e.offset
                ));
            }
            if let Some(p) = prev {
                if e.timestamp <= p.timestamp || e.offset < p.offset {
                    return Err(format!("entry {i} does not increase"));
                }
            }
            prev = Some(e);
        }
        Ok(())
    }

    /// Sets the file size (used to give an active segment's index room again).
    pub fn resize(&mut self, max_index_bytes: usize) -> Result<(), LogError> {
        self.file.resize(max_index_bytes)
    }

    /// Shrinks the file to its entries.
    pub fn trim_to_valid_size(&mut self) -> Result<(), LogError> {
        self.file.resize(self.file.entries * Self::ENTRY_SIZE)
    }

    /// Writes dirty pages to disk.
    pub fn flush(&self) -> Result<(), LogError> {
        self.file.flush()
    }

    /// The file behind the index.
    pub fn path(&self) -> &Path {
        &self.file.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offset_index_lookup_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000100.index");
        let mut idx = OffsetIndex::open(&path, 100, 80).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 80, "preallocated");
        assert_eq!(
            idx.lookup(150),
            OffsetPosition {
                offset: 100,
                position: 0
            }
        );
        for i in 1..=5u32 {
            idx.append(100 + i64::from(i) * 10, i * 1000).unwrap();
        }
        assert_eq!(idx.lookup(99).position, 0);
        assert_eq!(
            idx.lookup(110),
            OffsetPosition {
                offset: 110,
                position: 1000
            }
        );
        assert_eq!(
            idx.lookup(139),
            OffsetPosition {
                offset: 130,
                position: 3000
            }
        );
        assert_eq!(
            idx.lookup(1_000),
            OffsetPosition {
                offset: 150,
                position: 5000
            }
        );
        assert!(idx.append(150, 6000).is_err(), "offsets must increase");
        assert!(idx.append(160, 5000).is_err(), "positions must increase");
        idx.truncate_to(130);
        assert_eq!(idx.entries(), 2);
        assert_eq!(idx.last_entry().offset, 120);
        idx.truncate_to(125);
        assert_eq!(idx.entries(), 2);
        for i in 0..8 {
            idx.append(200 + i, 10_000 + i as u32).unwrap();
        }
        assert!(idx.is_full());
        assert!(idx.append(300, 20_000).is_err());
        assert!(idx.append(100 + i64::from(i32::MAX) + 1, 30_000).is_err());
    }

    #[test]
    fn trimmed_index_reopens_with_its_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.index");
        {
            let mut idx = OffsetIndex::open(&path, 0, 4096).unwrap();
            idx.append(5, 100).unwrap();
            idx.append(9, 200).unwrap();
            idx.trim_to_valid_size().unwrap();
            idx.flush().unwrap();
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 16);
        let mut idx = OffsetIndex::open(&path, 0, 4096).unwrap();
        assert_eq!(idx.entries(), 2);
        idx.sanity_check(300).unwrap();
        assert!(idx.sanity_check(150).is_err(), "entry beyond the log");
        idx.resize(4096).unwrap();
        idx.append(20, 250).unwrap();
        assert_eq!(idx.lookup(25).position, 250);
    }

    #[test]
    fn untrimmed_index_after_crash_fails_sanity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.index");
        {
            let mut idx = OffsetIndex::open(&path, 0, 4096).unwrap();
            idx.append(5, 100).unwrap();
            idx.flush().unwrap();
        }
        let idx = OffsetIndex::open(&path, 0, 4096).unwrap();
        assert_eq!(idx.entries(), 512);
        assert!(idx.sanity_check(1 << 20).is_err());
        std::fs::write(&path, [0u8; 7]).unwrap();
        assert!(OffsetIndex::open(&path, 0, 4096).is_err(), "partial entry");
    }

    #[test]
    fn time_index_appends_only_newer_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000050.timeindex");
        let mut idx = TimeIndex::open(&path, 50, 120).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 120);
        assert_eq!(
            idx.lookup(5),
            TimestampOffset {
                timestamp: -1,
                offset: 50
            }
        );
        idx.maybe_append(1_000, 55, false).unwrap();
        idx.maybe_append(1_000, 57, false).unwrap();
        idx.maybe_append(900, 58, false).unwrap();
        assert_eq!(idx.entries(), 1);
        idx.maybe_append(2_000, 60, false).unwrap();
        idx.maybe_append(3_000, 70, false).unwrap();
        assert!(idx.maybe_append(4_000, 65, false).is_err());
        assert_eq!(
            idx.lookup(2_500),
            TimestampOffset {
                timestamp: 2_000,
                offset: 60
            }
        );
        assert_eq!(idx.lookup(999).timestamp, -1);
        assert_eq!(idx.lookup(i64::MAX).offset, 70);
        idx.sanity_check(71).unwrap();
        assert!(idx.sanity_check(70).is_err());
        idx.truncate_to(60);
        assert_eq!(
            idx.last_entry(),
            TimestampOffset {
                timestamp: 1_000,
                offset: 55
            }
        );
    }

    proptest! {
        /// Lookup agrees with a linear scan for any set of increasing entries.
        #[test]
        fn lookup_matches_linear_scan(
            steps in proptest::collection::vec((1i64..50, 1u32..500), 0..60),
            targets in proptest::collection::vec(0i64..4000, 1..20),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut idx = OffsetIndex::open(&dir.path().join("x.index"), 7, 1 << 12).unwrap();
            let mut entries = Vec::new();
            let (mut off, mut pos) = (7i64, 0u32);
            for (d_off, d_pos) in steps {
                off += d_off;
                pos += d_pos;
                idx.append(off, pos).unwrap();
                entries.push((off, pos));
            }
            for t in targets {
                let expected = entries.iter().rev().find(|(o, _)| *o <= t).map(|&(o, p)| OffsetPosition { offset: o, position: p })
                    .unwrap_or(OffsetPosition { offset: 7, position: 0 });
                prop_assert_eq!(idx.lookup(t), expected);
            }
        }
    }
}
