//! The ensemble (quorum) side of the server: ZAB, compatible with Apache ZooKeeper 3.8 peers
//! (spec §14). `peer` runs elections and opens each role's connections; `role` is what the
//! core does as leader or follower.
//!
//! Leader election, in the order of a message's path:
//! - `cnxmanager` (tokio): the election port. It listens, dials peers, exchanges the initial
//!   message, keeps one connection per pair of servers (the one dialed by the larger sid),
//!   and moves framed notifications between sockets and channels.
//! - `election_wire` (no I/O): the bytes — initial message, `int len` framing, the FLE
//!   notification and the QuorumMaj config text it carries.
//! - `election` (no I/O, no clocks): Fast Leader Election as a state machine that takes
//!   notifications and timeouts and returns messages to send, one timer, and the decision.
//!
//! Discovery, synchronization and broadcast:
//! - `zab_io` (tokio): the quorum port — the leader's listener and per-learner writers, the
//!   learner's connection (a SNAP sync arrives as one event).
//! - `zab_wire` (no I/O): quorum packets, byte-exact with 3.8, and a bounded stream decoder.
//! - `leader` / `learner` (no I/O, no clocks): the two sides of ZAB as state machines.
//! - `sync`: the leader's DIFF/TRUNC/SNAP decision per learner; `disk_log` feeds it older
//!   txns from the on-disk log without touching it.
//!
//! The caller glues them: decoded packets go to the state machines' `on_packet`, their
//! actions are carried out against the sockets, the disk and the data tree.

pub mod cnxmanager;
pub mod disk_log;
pub mod election;
pub mod election_wire;
pub mod leader;
pub mod learner;
pub mod peer;
pub mod role;
pub mod sync;
pub mod zab_io;
pub mod zab_wire;
