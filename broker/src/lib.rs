//! Kafka broker (ZooKeeper mode, later KRaft), as libraries the broker binary will wire
//! together (issue 4; the network server, replica manager and controller are not built yet):
//! - `config`: server.properties, every key with Kafka's name and default;
//! - `zkdata` / `zkclient`: Kafka 2.x's znode layout and JSON, and the ZooKeeper operations
//!   Kafka relies on (registration, controller election and fencing, topics, configs);
//! - `assignment`: Kafka's replica assignment (AdminUtils) and its validation;
//! - `log`: the partition log in Kafka's on-disk format (segments, indexes, checkpoints,
//!   recovery);
//! - `group`: the consumer group coordinator as a state machine, and the
//!   `__consumer_offsets` record formats.

pub mod assignment;
pub mod config;
pub mod group;
pub mod log;
pub mod zkclient;
pub mod zkdata;
