//! The ensemble (quorum) side of the server: ZAB's leader election, compatible with Apache
//! ZooKeeper 3.8 peers (spec §14).
//!
//! Read in the order of a message's path:
//! - `cnxmanager` (tokio): the election port. It listens, dials peers, exchanges the initial
//!   message, keeps one connection per pair of servers (the one dialed by the larger sid),
//!   and moves framed notifications between sockets and channels.
//! - `election_wire` (no I/O): the bytes — initial message, `int len` framing, the FLE
//!   notification and the QuorumMaj config text it carries.
//! - `election` (no I/O, no clocks): Fast Leader Election as a state machine that takes
//!   notifications and timeouts and returns messages to send, one timer, and the decision.
//!
//! The caller glues them: decoded notifications from `cnxmanager` go to
//! `Election::on_notification`; `Action::Send`s are encoded with the config text and handed
//! back to `cnxmanager`; the timer is a single `tokio::time::sleep` re-armed per `TimerCmd`.

pub mod cnxmanager;
pub mod disk_log;
pub mod election;
pub mod election_wire;
pub mod leader;
pub mod learner;
pub mod sync;
pub mod zab_wire;
