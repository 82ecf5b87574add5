//! Consumer groups: the group coordinator and what it stores.
//!
//! `partition_for` maps a group to its `__consumer_offsets` partition (the broker leading
//! it is the group's coordinator); `coordinator` is the membership and offset state
//! machine for the partitions this broker leads; `codec` encodes its records in that
//! topic and decodes the `consumer` protocol inside member metadata; `config` holds its
//! settings and their defaults.

pub mod codec;
pub mod config;
pub mod coordinator;
mod partition;

pub use config::GroupConfig;
pub use coordinator::GroupCoordinator;
pub use partition::{java_string_hash, partition_for};
