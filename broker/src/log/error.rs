//! Errors of the partition log, its segments, indexes and checkpoint files.

use std::io;
use std::path::{Path, PathBuf};

use super::batch::BatchError;
use super::checkpoint::CheckpointError;

/// Why a log operation failed. I/O errors carry the file they happened on: the caller usually
/// marks the whole log dir offline, and the operator needs the path.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Reading, writing, syncing or renaming a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Appended records are not a valid sequence of v2 batches.
    #[error("invalid records: {0}")]
    InvalidBatch(#[from] BatchError),
    /// A checkpoint-style file in the partition dir is malformed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A fetch or delete asked for an offset outside `[log_start_offset, log_end_offset]`.
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        /// The requested offset.
        offset: i64,
        /// First offset still in the log.
        log_start_offset: i64,
        /// Offset the next appended record gets.
        log_end_offset: i64,
    },
    /// A producer batch is larger than `max.message.bytes`.
    #[error("record batch of {size} bytes is larger than max.message.bytes {max}")]
    RecordTooLarge {
        /// Size of the batch in bytes.
        size: usize,
        /// The configured maximum.
        max: i32,
    },
    /// A follower append starts below the log end offset (Kafka's UnexpectedAppendOffset).
    #[error(
        "append starting at offset {first_offset} is below the log end offset {log_end_offset}"
    )]
    UnexpectedAppendOffset {
        /// Base offset of the first appended batch.
        first_offset: i64,
        /// Current log end offset.
        log_end_offset: i64,
    },
    /// Batches in one follower append do not have increasing offsets.
    #[error("batch at offset {base_offset} does not follow offset {previous_last_offset}")]
    OutOfOrderOffsets {
        /// Base offset of the offending batch.
        base_offset: i64,
        /// Last offset of the batch before it.
        previous_last_offset: i64,
    },
    /// An offset cannot be stored relative to its segment's base offset (a 32-bit delta).
    #[error("offset {offset} cannot be indexed in the segment based at {base_offset}")]
    OffsetOverflow {
        /// Segment base offset.
        base_offset: i64,
        /// The offset that does not fit.
        offset: i64,
    },
    /// An index was asked to store an entry that would break its ordering or capacity.
    #[error("index {path}: {reason}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A segment that was already validated no longer parses where the index says it should.
    #[error("corrupt segment {path} at byte {position}: {reason}")]
    CorruptSegment {
        /// The `.log` file.
        path: PathBuf,
        /// Byte position of the problem.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// The log holds message format v0/v1 data, which zkraft does not read or rewrite.
    #[error("{path} holds a magic {magic} message set at byte {position}; only v2 is supported")]
    UnsupportedMessageFormat {
        /// The segment file.
        path: PathBuf,
        /// Byte position of the batch.
        position: u64,
        /// Its magic byte.
        magic: i8,
    },
    /// `partition.metadata` already names another topic id.
    #[error("partition dir {path} belongs to topic id {stored}, not {given}")]
    InconsistentTopicId {
        /// The partition dir.
        path: PathBuf,
        /// Topic id on disk.
        stored: String,
        /// Topic id the caller passed.
        given: String,
    },
    /// A caller-supplied argument is outside what the operation accepts.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl LogError {
    /// Builds the I/O variant for `path`; used as `.map_err(LogError::io(&path))`.
    pub(crate) fn io(path: &Path) -> impl FnOnce(io::Error) -> LogError + '_ {
        move |source| LogError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
