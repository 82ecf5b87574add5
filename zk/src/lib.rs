//! zkraft's ZooKeeper server.
//!
//! The request path is the module map: `server` accepts connections, `connection` frames
//! jute over a socket and runs the handshake, `jute` holds the wire records, `core` orders
//! every request (prep, apply to the `datatree`, watch triggers through `watch`, sessions in
//! `session`, ACL checks in `acl`) and `zkdb` makes every batch durable with `persist`
//! (txn log and snapshots in Apache ZooKeeper 3.8's own file formats) before its replies
//! go out. `config` reads zoo.cfg; `fourletter` answers the four-letter words; `stats`
//! keeps their counters.

pub mod acl;
pub mod config;
pub mod connection;
pub mod core;
pub mod datatree;
pub mod fourletter;
pub mod jute;
pub mod path;
pub mod persist;
pub mod proto;
pub mod quorum;
pub mod quota;
pub mod server;
pub mod session;
pub mod stats;
pub mod txn;
pub mod watch;
pub mod zkdb;
