//! Cross-process test harness for zkraft.
//!
//! Starts ZooKeeper servers as separate processes on free loopback ports -- either our own
//! `zk-server` binary ([`ServerKind::Zkraft`]) or the real Apache ZooKeeper 3.8 from Debian
//! ([`ServerKind::Apache`], the oracle) -- and drives them with real clients: Apache's `zkCli.sh`
//! ([`zkcli`]), the C client shell `cli_mt` ([`climt`]), four-letter words ([`fourlw`]); the Rust
//! `zookeeper-client` crate is used directly from the integration tests and kazoo from
//! `tests/python`.
//!
//! The implementation under test is chosen with `ZK_IMPL=apache|zkraft` (default `zkraft`), see
//! [`ServerKind::from_env`]. Our binary is found through `ZKRAFT_ZK_SERVER` or
//! `<workspace>/target/release/zk-server`.
//!
//! Everything polls with deadlines ([`wait`]); nothing sleeps for a fixed time.

pub mod apache;
pub mod climt;
pub mod durability;
pub mod ensemble;
pub mod fourlw;
pub mod json;
pub mod kafka;
pub mod server;
pub mod wait;
pub mod zkcli;

pub use server::{for_each_kind, ServerKind, ServerOptions, TestServer};
pub use wait::{wait_until, Deadline};

use std::sync::atomic::{AtomicU64, Ordering};

/// A path prefix unique within this process run, for tests that share a server.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}_{n}", std::process::id())
}
pub mod ackcheck;
pub mod differential;
pub mod linearizability;
pub mod rawclient;
