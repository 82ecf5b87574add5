//! Operator tools under their upstream names, behind one `zkraft` binary:
//!
//! - [`zkshell`]: the ZooKeeper shell (`zkCli.sh`, `zookeeper-shell.sh`);
//! - [`kafka`]: Kafka 2.4's ZooKeeper-mode admin commands (`kafka-topics.sh`,
//!   `kafka-configs.sh`), reading and writing Kafka's znodes through `broker::zkclient`.
//!
//! Each tool takes its upstream arguments unchanged and returns the process exit code.

pub mod kafka;
pub mod kclient;
pub mod zkshell;
