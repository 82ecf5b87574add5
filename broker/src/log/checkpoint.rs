//! Kafka's small text state files and how they are replaced on disk.
//!
//! Offset checkpoints (`recovery-point-offset-checkpoint`, `replication-offset-checkpoint`,
//! `log-start-offset-checkpoint`, `cleaner-offset-checkpoint`) and the partition's
//! `leader-epoch-checkpoint` share one layout: a version line, a count line, then `count`
//! space-separated entries. Every file here is replaced by writing `<file>.tmp`, fsyncing it,
//! renaming it over the old file and fsyncing the directory, so a crash leaves either version.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::topic_partition::TopicPartition;

/// Per-log-dir file: offsets below which each partition is known flushed.
pub const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
/// Per-log-dir file: each partition's high watermark.
pub const REPLICATION_OFFSET_CHECKPOINT: &str = "replication-offset-checkpoint";
/// Per-log-dir file: each partition's log start offset.
pub const LOG_START_OFFSET_CHECKPOINT: &str = "log-start-offset-checkpoint";
/// Per-log-dir file: compaction progress.
pub const CLEANER_OFFSET_CHECKPOINT: &str = "cleaner-offset-checkpoint";
/// Per-log-dir marker written at clean shutdown and removed once the logs are loaded.
pub const CLEAN_SHUTDOWN_MARKER: &str = ".kafka_cleanshutdown";
/// Version of the offset and leader epoch checkpoint formats.
pub const CHECKPOINT_VERSION: i32 = 0;
/// Suffix of the temporary file a checkpoint is written to before the rename.
pub const TMP_SUFFIX: &str = ".tmp";

/// A checkpoint-style file could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file system failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The content does not follow the format.
    #[error("malformed {path} at line {line}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 for the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Log dirs disagree on the broker or cluster they belong to.
    #[error("log dirs disagree: {0}")]
    Inconsistent(String),
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn malformed(path: &Path, line: usize, reason: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

/// Replaces `path` with `contents` atomically: `<path>.tmp`, fsync, rename, fsync of the dir.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), CheckpointError> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(TMP_SUFFIX);
    let tmp = PathBuf::from(tmp_name);
    {
        let mut file = File::create(&tmp).map_err(io_error(&tmp))?;
        file.write_all(contents).map_err(io_error(&tmp))?;
        file.sync_all().map_err(io_error(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_error(path))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir).map_err(io_error(dir))?;
    }
    Ok(())
}

/// fsyncs a directory so renames and creations in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}

/// Reads a file, mapping "does not exist" to `None`.
pub fn read_optional(path: &Path) -> Result<Option<String>, CheckpointError> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| malformed(path, 0, "not UTF-8")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// Parses the version/count/entries layout. As in Kafka, an empty file or one holding only the
/// version line has no entries; otherwise the count must match the entries exactly.
pub(crate) fn parse_entries<T>(
    path: &Path,
    text: &str,
    mut parse_entry: impl FnMut(&[&str]) -> Option<T>,
) -> Result<Vec<T>, CheckpointError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let Some((_, version)) = lines.next() else {
        return Ok(Vec::new());
    };
    match version.trim().parse::<i32>() {
        Ok(CHECKPOINT_VERSION) => {}
        Ok(v) => return Err(malformed(path, 1, format!("unsupported version {v}"))),
        Err(_) => return Err(malformed(path, 1, format!("bad version line {version:?}"))),
    }
    let Some((_, count)) = lines.next() else {
        return Ok(Vec::new());
    };
    let count: usize = count
        .trim()
        .parse()
        .map_err(|_| malformed(path, 2, format!("bad entry count {count:?}")))?;
    // The count comes from the file: entries are collected as found, not preallocated.
    let mut entries = Vec::new();
    for (n, line) in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match parse_entry(&fields) {
            Some(entry) => entries.push(entry),
            None => return Err(malformed(path, n, format!("bad entry {line:?}"))),
        }
    }
    if entries.len() != count {
        return Err(malformed(
            path,
            0,
            format!("expected {count} entries, found {}", entries.len()),
        ));
    }
    Ok(entries)
}

/// Renders the version/count/entries layout, one entry per line.
pub(crate) fn format_entries(lines: &[String]) -> String {
    let mut out = format!("{CHECKPOINT_VERSION}\n{}\n", lines.len());
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Parses an offset checkpoint (`<topic> <partition> <offset>` entries). Duplicate partitions
/// keep the last value, as Kafka's map does.
pub fn parse_offset_checkpoint(
    path: &Path,
    text: &str,
) -> Result<BTreeMap<TopicPartition, i64>, CheckpointError> {
    let entries = parse_entries(path, text, |f| match f {
        [topic, partition, offset] => Some((
            TopicPartition::new(*topic, partition.parse().ok()?),
            offset.parse::<i64>().ok()?,
        )),
        _ => None,
    })?;
    Ok(entries.into_iter().collect())
}

/// Renders an offset checkpoint.
pub fn format_offset_checkpoint(offsets: &BTreeMap<TopicPartition, i64>) -> String {
    let lines: Vec<String> = offsets
        .iter()
        .map(|(tp, offset)| format!("{} {} {}", tp.topic, tp.partition, offset))
        .collect();
    format_entries(&lines)
}

/// Reads an offset checkpoint; a missing file is empty.
pub fn read_offset_checkpoint(
    path: &Path,
) -> Result<BTreeMap<TopicPartition, i64>, CheckpointError> {
    match read_optional(path)? {
        Some(text) => parse_offset_checkpoint(path, &text),
        None => Ok(BTreeMap::new()),
    }
}

/// Atomically replaces an offset checkpoint.
pub fn write_offset_checkpoint(
    path: &Path,
    offsets: &BTreeMap<TopicPartition, i64>,
) -> Result<(), CheckpointError> {
    write_atomically(path, format_offset_checkpoint(offsets).as_bytes())
}

/// Whether `log_dir` was shut down cleanly (holds `.kafka_cleanshutdown`).
pub fn has_clean_shutdown_marker(log_dir: &Path) -> bool {
    log_dir.join(CLEAN_SHUTDOWN_MARKER).is_file()
}

/// Creates `.kafka_cleanshutdown` (empty) once every log in `log_dir` is closed and its
/// checkpoints written.
pub fn write_clean_shutdown_marker(log_dir: &Path) -> Result<(), CheckpointError> {
    write_atomically(&log_dir.join(CLEAN_SHUTDOWN_MARKER), b"")
}

/// Removes `.kafka_cleanshutdown` once the logs are loaded, so a crash from then on is seen.
pub fn remove_clean_shutdown_marker(log_dir: &Path) -> Result<(), CheckpointError> {
    let path = log_dir.join(CLEAN_SHUTDOWN_MARKER);
    match fs::remove_file(&path) {
        Ok(()) => sync_dir(log_dir).map_err(io_error(log_dir)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(&path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p() -> &'static Path {
        Path::new("test-checkpoint")
    }

    #[test]
    fn writes_kafka_layout_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECOVERY_POINT_CHECKPOINT);
        let mut offsets = BTreeMap::new();
        offsets.insert(TopicPartition::new("orders", 1), 42);
        offsets.insert(TopicPartition::new("__consumer_offsets", 7), 0);
        write_offset_checkpoint(&path, &offsets).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, "0\n2\n__consumer_offsets 7 0\norders 1 42\n");
        assert_eq!(read_offset_checkpoint(&path).unwrap(), offsets);
        assert!(!dir
            .path()
            .join(format!("{RECOVERY_POINT_CHECKPOINT}.tmp"))
            .exists());
        assert!(read_offset_checkpoint(&dir.path().join("missing"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn clean_shutdown_marker_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_clean_shutdown_marker(dir.path()));
        write_clean_shutdown_marker(dir.path()).unwrap();
        assert!(has_clean_shutdown_marker(dir.path()));
        remove_clean_shutdown_marker(dir.path()).unwrap();
        remove_clean_shutdown_marker(dir.path()).unwrap();
        assert!(!has_clean_shutdown_marker(dir.path()));
    }

    #[test]
    fn empty_and_version_only_files_have_no_entries() {
        assert!(parse_offset_checkpoint(p(), "").unwrap().is_empty());
        assert!(parse_offset_checkpoint(p(), "0\n").unwrap().is_empty());
        assert!(parse_offset_checkpoint(p(), "0\n0\n").unwrap().is_empty());
    }

    #[test]
    fn garbage_is_rejected_with_the_line() {
        let bad = [
            ("1\n0\n", 1),
            ("x\n", 1),
            ("0\nmany\n", 2),
            ("0\n1\norders 1\n", 3),
            ("0\n1\norders one 5\n", 3),
            ("0\n1\norders 1 5 extra\n", 3),
            ("0\n2\norders 1 5\n", 0),
            ("0\n0\norders 1 5\n", 0),
        ];
        for (text, line) in bad {
            match parse_offset_checkpoint(p(), text) {
                Err(CheckpointError::Malformed { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn offset_checkpoints_round_trip(entries in proptest::collection::btree_map(
            ("[a-zA-Z0-9._-]{1,30}", 0i32..10_000), any::<i64>(), 0..20)) {
            let map: BTreeMap<TopicPartition, i64> = entries.into_iter().map(|((t, p), o)| (TopicPartition::new(t, p), o)).collect();
            let text = format_offset_checkpoint(&map);
            prop_assert_eq!(parse_offset_checkpoint(p(), &text).unwrap(), map);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "[0-9a-z \n-]{0,200}") {
            let _ = parse_offset_checkpoint(p(), &text);
        }
    }
}
