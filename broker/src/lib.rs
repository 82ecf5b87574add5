//! Kafka broker (ZooKeeper mode, later KRaft) and the `kafka-server` binary. A request
//! travels: `network` (listeners, framing, header decode) → `handlers` (one module per API
//! family) → `replica` (leadership, appends, reads) → `log_manager` / `log`. Around it:
//! `server` (startup, shared state, background loops, group coordinator glue),
//! `controller` (ZooKeeper-mode controller, in-process delivery to this broker),
//! `dynamic_config` (dynamic broker configs from ZooKeeper, applied live) and
//! `metadata` (the cache clients' Metadata requests are answered from), `alloc` (the binary's
//! allocator, which keeps wire-declared array sizes from aborting the process). Libraries:
//! - `config`: server.properties, every key with Kafka's name and default;
//! - `zkdata` / `zkclient`: Kafka 2.x's znode layout and JSON, and the ZooKeeper operations
//!   Kafka relies on (registration, controller election and fencing, topics, configs);
//! - `assignment`: Kafka's replica assignment (AdminUtils) and its validation;
//! - `log`: the partition log in Kafka's on-disk format (segments, indexes, checkpoints,
//!   recovery);
//! - `group`: the consumer group coordinator as a state machine, and the
//!   `__consumer_offsets` record formats.

pub mod alloc;
pub mod assignment;
pub mod config;
pub mod controller;
pub mod dynamic_config;
pub mod group;
pub mod handlers;
pub mod interbroker;
pub mod log;
pub mod log_manager;
pub mod metadata;
pub mod network;
pub mod replica;
pub mod server;
pub mod zkclient;
pub mod zkdata;

/// The Kafka release whose behaviour the broker and tools reproduce.
pub const KAFKA_VERSION: &str = "2.4.1";

/// What `--version` prints everywhere (Kafka's `VersionInfo.getVersionString` form).
pub fn version_string() -> String {
    format!("{KAFKA_VERSION} (zkraft {})", env!("CARGO_PKG_VERSION"))
}
