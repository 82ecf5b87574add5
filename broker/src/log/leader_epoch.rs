//! The leader epoch cache (`leader-epoch-checkpoint`): for each leader epoch, the first offset
//! written in it. Followers use it through OffsetsForLeaderEpoch (KIP-101/279) to find where
//! their log diverges from the leader's, instead of truncating to the high watermark.
//!
//! File: `0`, the entry count, then `<epoch> <startOffset>` lines. It is rewritten atomically
//! on every change, which happens once per leader change or truncation.

use std::path::{Path, PathBuf};

use super::checkpoint::{
    format_entries, parse_entries, read_optional, write_atomically, CheckpointError,
};

/// File name inside a partition dir.
pub const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";
/// "No epoch" in OffsetsForLeaderEpoch answers.
pub const UNDEFINED_EPOCH: i32 = -1;
/// "No offset" in OffsetsForLeaderEpoch answers.
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// One epoch and the first offset its leader wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochEntry {
    /// Leader epoch.
    pub epoch: i32,
    /// First offset appended under it.
    pub start_offset: i64,
}

/// The in-memory cache and its file. Entries are strictly increasing in both fields.
#[derive(Debug)]
pub struct LeaderEpochCache {
    path: PathBuf,
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// Loads `<partition_dir>/leader-epoch-checkpoint`; a missing file is an empty cache.
    pub fn load(partition_dir: &Path) -> Result<LeaderEpochCache, CheckpointError> {
        let path = partition_dir.join(LEADER_EPOCH_CHECKPOINT);
        let entries = match read_optional(&path)? {
            Some(text) => parse_epoch_entries(&path, &text)?,
            None => Vec::new(),
        };
        Ok(LeaderEpochCache { path, entries })
    }

    /// An empty cache that will write to `<partition_dir>/leader-epoch-checkpoint` (used when
    /// the file is unreadable and is rebuilt from the log).
    pub fn empty(partition_dir: &Path) -> LeaderEpochCache {
        LeaderEpochCache {
            path: partition_dir.join(LEADER_EPOCH_CHECKPOINT),
            entries: Vec::new(),
        }
    }

    /// All entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// The newest entry.
    pub fn latest(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// The newest epoch.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.latest().map(|e| e.epoch)
    }

    /// Records that `epoch` starts at `start_offset`. A no-op when it is already the latest
    /// epoch with an earlier or equal start; otherwise entries that are not strictly below
    /// the new one in both epoch and offset are dropped first, as Kafka does, so the cache
    /// stays monotonic. Returns whether the cache changed (and was written).
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<bool, CheckpointError> {
        if epoch < 0 || start_offset < 0 {
            return Ok(false);
        }
        if let Some(last) = self.latest() {
            if last.epoch == epoch && last.start_offset <= start_offset {
                return Ok(false);
            }
        }
        while let Some(last) = self.latest() {
            if last.epoch >= epoch || last.start_offset >= start_offset {
                self.entries.pop();
            } else {
                break;
            }
        }
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        self.flush()?;
        Ok(true)
    }

    /// Kafka's answer to OffsetsForLeaderEpoch for `requested` on a log ending at
    /// `log_end_offset`: `(epoch, end_offset)` where `end_offset` is the start of the next
    /// higher epoch (or the log end for the latest epoch) and `epoch` is the largest known
    /// epoch <= `requested`. Unknown (too new, or nothing cached) is `(-1, -1)`.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        if requested == UNDEFINED_EPOCH {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        }
        if self.latest_epoch() == Some(requested) {
            return (requested, log_end_offset);
        }
        let Some(higher) = self.entries.iter().find(|e| e.epoch > requested) else {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        };
        match self.entries.iter().rev().find(|e| e.epoch <= requested) {
            Some(floor) => (floor.epoch, higher.start_offset),
            // Older than anything cached: the requested epoch ends where the first one starts.
            None => (requested, higher.start_offset),
        }
    }

    /// Drops entries starting at or after `end_offset` (the log was truncated there).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> Result<(), CheckpointError> {
        if end_offset < 0 || self.latest().is_none_or(|e| e.start_offset < end_offset) {
            return Ok(());
        }
        self.entries.retain(|e| e.start_offset < end_offset);
        self.flush()
    }

    /// Drops entries wholly before `start_offset` (the log start moved there); the epoch that
    /// covers `start_offset` is kept, starting at `start_offset`.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> Result<(), CheckpointError> {
        if start_offset < 0 {
            return Ok(());
        }
        let covered = self
            .entries
            .iter()
            .take_while(|e| e.start_offset <= start_offset)
            .count();
        if covered == 0 {
            return Ok(());
        }
        let mut kept = self.entries[covered - 1];
        if covered == 1 && kept.start_offset == start_offset {
            return Ok(());
        }
        kept.start_offset = start_offset;
        self.entries.drain(..covered);
        self.entries.insert(0, kept);
        self.flush()
    }

    /// Empties the cache (the log was wiped and restarted).
    pub fn clear(&mut self) -> Result<(), CheckpointError> {
        self.entries.clear();
        self.flush()
    }

    /// Rewrites the file from memory.
    pub fn flush(&self) -> Result<(), CheckpointError> {
        let lines: Vec<String> = self
            .entries
            .iter()
            .map(|e| format!("{} {}", e.epoch, e.start_offset))
            .collect();
        write_atomically(&self.path, format_entries(&lines).as_bytes())
    }
}

/// Parses the file; entries must be strictly increasing in epoch and offset.
pub fn parse_epoch_entries(path: &Path, text: &str) -> Result<Vec<EpochEntry>, CheckpointError> {
    let entries = parse_entries(path, text, |f| match f {
        [epoch, offset] => Some(EpochEntry {
            epoch: epoch.parse().ok().filter(|e: &i32| *e >= 0)?,
            start_offset: offset.parse().ok().filter(|o: &i64| *o >= 0)?,
        }),
        _ => None,
    })?;
    for pair in entries.windows(2) {
        if pair[1].epoch <= pair[0].epoch || pair[1].start_offset < pair[0].start_offset {
            return Err(super::checkpoint::malformed(
                path,
                0,
                "entries are not increasing",
            ));
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cache(entries: &[(i32, i64)]) -> (tempfile::TempDir, LeaderEpochCache) {
        let dir = tempfile::tempdir().unwrap();
        let mut c = LeaderEpochCache::load(dir.path()).unwrap();
        for &(e, o) in entries {
            c.assign(e, o).unwrap();
        }
        (dir, c)
    }

    #[test]
    fn assign_persists_and_reloads() {
        let (dir, mut c) = cache(&[(0, 0), (2, 10), (5, 30)]);
        assert!(!c.assign(5, 40).unwrap(), "same epoch, later offset");
        let text = std::fs::read_to_string(dir.path().join(LEADER_EPOCH_CHECKPOINT)).unwrap();
        assert_eq!(text, "0\n3\n0 0\n2 10\n5 30\n");
        let again = LeaderEpochCache::load(dir.path()).unwrap();
        assert_eq!(again.entries(), c.entries());
        // A lower offset for a newer epoch evicts entries that are not below it.
        c.assign(6, 20).unwrap();
        assert_eq!(
            c.entries(),
            &[
                EpochEntry {
                    epoch: 0,
                    start_offset: 0
                },
                EpochEntry {
                    epoch: 2,
                    start_offset: 10
                },
                EpochEntry {
                    epoch: 6,
                    start_offset: 20
                }
            ]
        );
    }

    #[test]
    fn end_offsets_follow_kafka() {
        let (_d, c) = cache(&[(1, 0), (3, 100), (4, 250)]);
        let leo = 300;
        assert_eq!(
            c.end_offset_for(4, leo),
            (4, 300),
            "latest epoch ends at the log end"
        );
        assert_eq!(c.end_offset_for(3, leo), (3, 250));
        assert_eq!(
            c.end_offset_for(2, leo),
            (1, 100),
            "unknown epoch answers with the floor epoch"
        );
        assert_eq!(c.end_offset_for(1, leo), (1, 100));
        assert_eq!(c.end_offset_for(0, leo), (0, 0), "older than the cache");
        assert_eq!(c.end_offset_for(7, leo), (-1, -1), "newer than the cache");
        assert_eq!(c.end_offset_for(-1, leo), (-1, -1));
        let (_d2, empty) = cache(&[]);
        assert_eq!(empty.end_offset_for(0, 10), (-1, -1));
    }

    #[test]
    fn truncation_from_both_ends() {
        let (_d, mut c) = cache(&[(1, 0), (3, 100), (4, 250)]);
        c.truncate_from_end(250).unwrap();
        assert_eq!(
            c.latest(),
            Some(EpochEntry {
                epoch: 3,
                start_offset: 100
            })
        );
        c.truncate_from_end(1_000).unwrap();
        assert_eq!(c.entries().len(), 2);
        c.truncate_from_start(150).unwrap();
        assert_eq!(
            c.entries(),
            &[EpochEntry {
                epoch: 3,
                start_offset: 150
            }]
        );
        c.truncate_from_start(50).unwrap();
        assert_eq!(
            c.entries(),
            &[EpochEntry {
                epoch: 3,
                start_offset: 150
            }]
        );
        let reloaded = LeaderEpochCache::load(_d.path()).unwrap();
        assert_eq!(reloaded.entries(), c.entries());
    }

    #[test]
    fn garbage_file_is_rejected() {
        let p = Path::new("lec");
        for bad in [
            "0\n1\n1\n",
            "0\n2\n3 10\n2 20\n",
            "0\n1\n-1 0\n",
            "0\n1\na b\n",
        ] {
            assert!(parse_epoch_entries(p, bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        /// Whatever is assigned, the cache stays strictly increasing and survives a reload.
        #[test]
        fn stays_monotonic(ops in proptest::collection::vec((0i32..20, 0i64..1000), 0..30)) {
            let (dir, mut c) = cache(&[]);
            for (e, o) in ops {
                c.assign(e, o).unwrap();
                prop_assert!(c.entries().windows(2).all(|w| w[0].epoch < w[1].epoch && w[0].start_offset < w[1].start_offset));
            }
            let reloaded = LeaderEpochCache::load(dir.path()).unwrap();
            prop_assert_eq!(reloaded.entries(), c.entries());
        }

        #[test]
        fn arbitrary_text_never_panics(text in "[0-9 \n-]{0,100}") {
            let _ = parse_epoch_entries(Path::new("lec"), &text);
        }
    }
}
