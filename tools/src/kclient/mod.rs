//! A small Kafka client for the tools: bootstrap, API version negotiation, cluster metadata,
//! and routing a request to a given broker, a partition's leader or a group's coordinator.
//! Framing is `broker::interbroker::BrokerConnection`'s; requests and responses are the
//! kafka-protocol crate's messages. One request at a time per connection: the tools are
//! command-line programs, not long-lived clients.

pub mod admin;
pub mod assignor;
mod client;
pub mod consumer;
mod error;
pub mod group;
pub mod groups;
pub mod offsets;
pub mod producer;
mod versions;

pub use client::{metadata_request, ClientConfig, KafkaClient, PartitionInfo, TopicInfo};
pub use error::{error_name, ClientError};
pub use versions::client_versions;
