//! Bringing a partition dir back to a consistent state when it is opened: stray files from
//! interrupted operations are resolved, then each segment is either loaded (indexes checked
//! against the log) or recovered (every batch re-validated, indexes rebuilt, torn or corrupt
//! tail cut off, later segments deleted).
//!
//! Which segments are recovered follows Kafka: after a clean shutdown none are (each is still
//! sanity-checked, and a failed check recovers it); otherwise every segment that may hold
//! offsets at or after the recovery point. A caller without a recovery point passes 0, which
//! recovers everything.
//!
//! Stray files:
//! - `*.deleted`, `*.cleaned` and `*.tmp` are leftovers of deletions, compactions and
//!   checkpoint writes that did not finish; they are removed.
//! - `*.index.swap`, `*.timeindex.swap`, `*.txnindex.swap` are removed (indexes are rebuilt).
//! - `<base>.log.swap` is a finished compaction or split output that had not yet replaced the
//!   segments it was made from. Kafka's rule is kept in simplified form: the segments whose base
//!   offsets fall inside the swap's offset range `[base, next offset)` are deleted, the swap is
//!   renamed to `<base>.log` and its indexes are rebuilt by recovery (a missing index always
//!   triggers it). A swap that does not parse at all is deleted instead.
//! - Index files without a `.log` are removed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::batch::{BatchHeader, HEADER_SIZE};
use super::checkpoint::TMP_SUFFIX;
use super::config::LogConfig;
use super::error::LogError;
use super::segment::{
    delete_segment_files, parse_segment_file_name, segment_file_name, LogSegment, CLEANED_SUFFIX,
    DELETED_SUFFIX, INDEX_SUFFIX, LOG_SUFFIX, SWAP_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX,
};

/// How the caller found the log dir.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoveryOptions {
    /// Offset below which data is known flushed (recovery-point-offset-checkpoint); 0 if unknown.
    pub recovery_point: i64,
    /// Whether the log dir had `.kafka_cleanshutdown`.
    pub had_clean_shutdown: bool,
}

/// Segments loaded from a dir, plus what recovery saw.
pub(crate) struct LoadedSegments {
    pub segments: BTreeMap<i64, LogSegment>,
    /// `(epoch, base offset)` of recovered batches whose leader epoch exceeds all before them.
    pub epochs_seen: Vec<(i32, i64)>,
    /// Whether any segment was recovered (its data re-read from disk and possibly cut).
    pub recovered_any: bool,
}

/// Resolves stray files (see the module docs) and returns the base offsets of the segments.
pub fn clean_partition_dir(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(LogError::io(dir))? {
        let entry = entry.map_err(LogError::io(dir))?;
        if entry.file_type().map_err(LogError::io(dir))?.is_file() {
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
    }
    let mut swaps = Vec::new();
    for name in &names {
        let path = dir.join(name);
        if name.ends_with(DELETED_SUFFIX)
            || name.ends_with(CLEANED_SUFFIX)
            || name.ends_with(TMP_SUFFIX)
        {
            tracing::info!(file = %path.display(), "removing leftover file");
            fs::remove_file(&path).map_err(LogError::io(&path))?;
        } else if name.ends_with(SWAP_SUFFIX) {
            match parse_segment_file_name(name) {
                Some((base, suffix)) if suffix == format!("{LOG_SUFFIX}{SWAP_SUFFIX}") => {
                    swaps.push(base)
                }
                _ => {
                    tracing::info!(file = %path.display(), "removing swapped index (rebuilt from the log)");
                    fs::remove_file(&path).map_err(LogError::io(&path))?;
                }
            }
        }
    }
    let mut logs: BTreeSet<i64> = names
        .iter()
        .filter_map(|n| parse_segment_file_name(n))
        .filter(|(_, suffix)| *suffix == LOG_SUFFIX)
        .map(|(base, _)| base)
        .collect();
    swaps.sort_unstable();
    for base in swaps {
        let swap = dir.join(format!(
            "{}{SWAP_SUFFIX}",
            segment_file_name(base, LOG_SUFFIX)
        ));
        let Some(next) = scan_next_offset(&swap)? else {
            tracing::warn!(file = %swap.display(), "removing unreadable swap file");
            fs::remove_file(&swap).map_err(LogError::io(&swap))?;
            continue;
        };
        let replaced: Vec<i64> = logs.range(base..next.max(base + 1)).copied().collect();
        tracing::info!(file = %swap.display(), replaced = ?replaced, "completing an interrupted segment swap");
        for old in replaced {
            delete_segment_files(dir, old)?;
            logs.remove(&old);
        }
        for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX] {
            let index = dir.join(segment_file_name(base, suffix));
            if index.exists() {
                fs::remove_file(&index).map_err(LogError::io(&index))?;
            }
        }
        let target = dir.join(segment_file_name(base, LOG_SUFFIX));
        fs::rename(&swap, &target).map_err(LogError::io(&swap))?;
        logs.insert(base);
    }
    // Orphaned indexes would otherwise be picked up by a future segment of the same base.
    for name in &names {
        if let Some((base, suffix)) = parse_segment_file_name(name) {
            if [INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX].contains(&suffix)
                && !logs.contains(&base)
            {
                let path = dir.join(name);
                if path.exists() {
                    tracing::info!(file = %path.display(), "removing index without a log");
                    fs::remove_file(&path).map_err(LogError::io(&path))?;
                }
            }
        }
    }
    Ok(logs.into_iter().collect())
}

/// Offset after the last complete batch of a segment file (headers only), `None` if the file
/// holds no batch.
fn scan_next_offset(path: &Path) -> Result<Option<i64>, LogError> {
    let file = File::open(path).map_err(LogError::io(path))?;
    let size = file.metadata().map_err(LogError::io(path))?.len();
    let mut pos = 0u64;
    let mut next = None;
    let mut buf = [0u8; HEADER_SIZE];
    while pos + HEADER_SIZE as u64 <= size {
        file.read_exact_at(&mut buf, pos)
            .map_err(LogError::io(path))?;
        let Ok(h) = BatchHeader::parse(&buf) else {
            break;
        };
        if pos + h.size_in_bytes() as u64 > size {
            break;
        }
        next = Some(h.next_offset());
        pos += h.size_in_bytes() as u64;
    }
    Ok(next)
}

/// Opens every segment of a cleaned dir, loading or recovering each (see module docs).
pub(crate) fn load_segments(
    dir: &Path,
    config: &LogConfig,
    options: &RecoveryOptions,
    latest_epoch: Option<i32>,
    now_ms: i64,
) -> Result<LoadedSegments, LogError> {
    let bases = clean_partition_dir(dir)?;
    let mut segments = BTreeMap::new();
    let mut epochs_seen = Vec::new();
    let mut latest_epoch = latest_epoch;
    let mut recovered_any = false;
    for (i, &base) in bases.iter().enumerate() {
        let next_base = bases.get(i + 1).copied();
        let unflushed = next_base.is_none_or(|n| n > options.recovery_point);
        let (mut segment, indexes_replaced) = LogSegment::open(dir, base, config, now_ms)?;
        let mut recover = (!options.had_clean_shutdown && unflushed) || indexes_replaced;
        if !recover {
            if let Err(reason) = segment.load()? {
                tracing::warn!(file = %segment.log_path().display(), %reason, "segment inconsistent with its indexes; recovering it");
                recover = true;
            }
        }
        if recover {
            recovered_any = true;
            let outcome = segment.recover(|h| {
                if h.partition_leader_epoch >= 0
                    && latest_epoch.is_none_or(|l| h.partition_leader_epoch > l)
                {
                    latest_epoch = Some(h.partition_leader_epoch);
                    epochs_seen.push((h.partition_leader_epoch, h.base_offset));
                }
            })?;
            if outcome.truncated_bytes > 0 {
                segments.insert(base, segment);
                for &later in &bases[i + 1..] {
                    tracing::warn!(dir = %dir.display(), base_offset = later, "deleting segment after a truncated one");
                    delete_segment_files(dir, later)?;
                }
                break;
            }
            if next_base.is_some() {
                // As when it rolled: the final time index entry, indexes trimmed.
                segment.on_become_inactive()?;
            }
        }
        if let Some(n) = next_base {
            if segment.next_offset() > n {
                tracing::warn!(file = %segment.log_path().display(), next_segment = n, "segment overlaps the next one");
            }
        }
        segments.insert(base, segment);
    }
    Ok(LoadedSegments {
        segments,
        epochs_seen,
        recovered_any,
    })
}
