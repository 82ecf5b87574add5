//! Durability in Apache ZooKeeper 3.8's own on-disk formats (spec §13).
//!
//! - [`files`]: `version-2` naming and discovery, epoch files, autopurge.
//! - [`txnlog`]: the `log.<zxid>` transaction log: group-committed appends with
//!   ZooKeeper's preallocation, strict recovery reads, truncation for ZAB TRUNC.
//! - [`snapshot`]: `snapshot.<zxid>` files and the ZAB SNAP stream body.
//!
//! Everything here is synchronous std I/O, meant for a dedicated thread.

pub mod files;
pub mod snapshot;
pub mod txnlog;

pub use files::{FilesError, PurgeReport};
pub use snapshot::{DecodedSnapshot, SnapshotError, SnapshotNode, ZxidDigest};
pub use txnlog::{LogScan, TxnLogError, TxnLogWriter};
