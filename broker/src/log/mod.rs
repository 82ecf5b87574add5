//! The broker's on-disk log, byte-compatible with Kafka 2.x (spec §4): what a replica manager
//! calls to append, read, roll, retain, truncate and recover partitions. Pure storage: std file
//! I/O and memory-mapped indexes, no async runtime and no networking.
//!
//! From the bytes up:
//! - [`batch`]: the v2 record batch format, a borrowed view of its header, splitting and the
//!   in-place rewrites (offset, leader epoch, LogAppendTime);
//! - [`records`] and [`decompress`]: walking the records inside a batch;
//! - [`validate`]: what a leader checks before appending a producer's batches;
//! - [`index`]: the memory-mapped `.index` and `.timeindex`;
//! - [`segment`]: one `.log` file with its indexes;
//! - [`recovery`]: stray files and crash recovery when a partition dir is opened;
//! - [`partition_log`]: [`Log`], one partition's segments, offsets and retention;
//! - [`leader_epoch`], [`partition_metadata`]: the partition dir's other files;
//! - [`checkpoint`], [`meta_properties`]: the log dir's state files;
//! - [`config`]: [`LogConfig`] and Kafka's defaults; [`topic_partition`]: dir names.

pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod decompress;
pub mod error;
pub mod index;
pub mod leader_epoch;
pub mod meta_properties;
pub mod partition_log;
pub mod partition_metadata;
pub mod records;
pub mod recovery;
pub mod segment;
pub mod topic_partition;
pub mod validate;

#[cfg(test)]
mod tests;

pub use batch::{BatchError, BatchHeader, BatchIter, BatchView};
pub use checkpoint::CheckpointError;
pub use config::{CleanupPolicy, LogConfig, MessageTimestampType};
pub use error::LogError;
pub use meta_properties::MetaProperties;
pub use partition_log::{AppendInfo, FetchData, Log, LogOpenOptions};
pub use partition_metadata::TopicId;
pub use topic_partition::{parse_partition_dir_name, TopicPartition};
pub use validate::AppendOrigin;
