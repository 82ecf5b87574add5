//! The ZAB learner (follower or observer) as a pure state machine: registration, epoch
//! acknowledgement, synchronization and broadcast (spec §14.4), with no sockets, threads or
//! clocks.
//!
//! It follows Apache ZooKeeper 3.8's `Learner.registerWithLeader` and `syncWithLeader`,
//! `Follower.processPacket`, `Observer.processPacket`, `FollowerZooKeeperServer.logRequest`
//! and `commit`, and `SendAckRequestProcessor`.
//!
//! The caller connects to the leader's quorum port, then feeds events in:
//! - [`Learner::start`] once connected (sends FOLLOWERINFO or OBSERVERINFO);
//! - [`Learner::on_packet`] for each decoded packet. When the reader decodes SNAP it must
//!   read the snapshot stream body and signature that follow it on the wire *before* reading
//!   the next packet, and keep the body for [`Action::InstallSnapshot`];
//! - [`Learner::on_logged`] when the txn log holds every txn up to a zxid durably;
//! - [`Learner::on_tick`] periodically (every `tick_time / 2` is plenty);
//! - [`Learner::touch_session`] whenever a client session is touched on this server: the
//!   touches go to the leader in the next PING reply;
//! - [`Learner::forward_request`] and [`Learner::revalidate`] build the packets a learner
//!   sends on behalf of its clients.
//!
//! The [`Action`]s must be carried out in order: a `Write*Epoch`, `TakeSnapshot` or
//! `Truncate` must be durable before a later `Send`, `Apply`s are in zxid order, and
//! `Log`s go to the txn log in order (their durability is reported with `on_logged`).
//!
//! Differences from the Java learner, all deliberate:
//! - anything Java handles with `System.exit` (an unexpected packet where DIFF/SNAP/TRUNC
//!   must come, a COMMIT that does not match the next logged proposal) is
//!   [`Action::LostLeader`] here: the caller drops the connection and goes back to LOOKING,
//!   which resyncs. A COMMIT with no proposal pending at all, which Java only logs, is
//!   treated the same way;
//! - after NEWLEADER the proposals received during sync are logged and the NEWLEADER ACK is
//!   sent only once they are durable (Java 3.8 queues them to its sync thread and acks at
//!   once; ZOOKEEPER-3911/4646 moved later versions to this order);
//! - at UPTODATE the queued commits are applied before [`Action::StartServing`];
//! - the QuorumVerifier text in NEWLEADER and reconfig activation are not interpreted;
//!   COMMITANDACTIVATE and INFORMANDACTIVATE are handled as COMMIT and INFORM.

use std::collections::{BTreeMap, VecDeque};

use crate::jute::{Jute, TxnHeader};

use super::zab_wire::{
    counter_of, epoch_of, make_zxid, ptype, ForwardedRequest, LearnerHello, SessionTouch, TxnBytes,
    ZabPacket,
};

/// Follower (votes, logs and acks proposals) or observer (gets committed txns only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerRole {
    Follower,
    Observer,
}

/// Learner settings. Times are in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnerConfig {
    /// Our server id.
    pub my_id: i64,
    pub role: LearnerRole,
    /// `tickTime`.
    pub tick_time: u64,
    /// `initLimit`: the leader may be silent this many ticks until NEWLEADER.
    pub init_limit: u64,
    /// `syncLimit`: ... and this many ticks after it.
    pub sync_limit: u64,
    /// Our QuorumVerifier version (sent in LearnerInfo).
    pub config_version: i64,
}

/// What the learner knows about its own database when it connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LearnerInit {
    /// The `acceptedEpoch` file.
    pub accepted_epoch: i64,
    /// The `currentEpoch` file.
    pub current_epoch: i64,
    /// The last zxid in the database (`QuorumPeer.getLastLoggedZxid`).
    pub last_logged_zxid: i64,
}

/// Why the learner gives up on this leader (the caller closes the connection and goes
/// back to LOOKING).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LostLeaderReason {
    /// The leader's epoch is below our acceptedEpoch.
    #[error("leader's epoch {leader} is less than accepted epoch {accepted}")]
    EpochBehind { leader: i64, accepted: i64 },
    /// A packet the protocol does not allow at this point.
    #[error("expected {expected}, got {got}")]
    UnexpectedPacket {
        expected: &'static str,
        got: &'static str,
    },
    /// A txn whose TxnHeader cannot be read.
    #[error("undecodable txn in {0}")]
    BadTxn(&'static str),
    /// A COMMIT that does not match the next logged proposal.
    #[error("committing {zxid:#x}, but next pending txn is {pending:?}")]
    UnmatchedCommit { zxid: i64, pending: Option<i64> },
    /// Nothing from the leader for initLimit (before NEWLEADER) or syncLimit ticks.
    #[error("leader silent for {0} ms")]
    Timeout(u64),
}

/// Something the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write this packet to the leader.
    Send(ZabPacket),
    /// Durably write the `acceptedEpoch` file.
    WriteAcceptedEpoch(i64),
    /// Durably write the `currentEpoch` file.
    WriteCurrentEpoch(i64),
    /// SNAP sync: replace the data tree (and sessions) with the snapshot body that followed
    /// the SNAP packet; its lastProcessedZxid is `zxid`. Logged txns above `zxid`, if any,
    /// are not part of the new history: truncate the txn log to `zxid` so that a restart
    /// does not replay them (Java leaves its log as it is).
    InstallSnapshot { zxid: i64 },
    /// TRUNC sync: remove every txn after `zxid` from the log and reload the data tree
    /// from snapshot + log (its lastProcessedZxid becomes `zxid`; use
    /// `persist::txnlog::truncate_to`). Snapshots newer than `zxid` must not be loaded:
    /// they hold truncated txns (Java 3.8 keeps them, which can resurrect those txns). If
    /// truncation is impossible, give up on the leader.
    Truncate { zxid: i64 },
    /// Write a snapshot of the current data tree (after a SNAP or TRUNC sync), fsynced when
    /// `sync` is set.
    TakeSnapshot { sync: bool },
    /// Append the txn to the txn log (report durability with [`Learner::on_logged`];
    /// observers need not).
    Log { zxid: i64, txn: TxnBytes },
    /// Apply the committed txn to the data tree, and answer the local client that sent it
    /// (match its TxnHeader's sessionId and cxid).
    Apply { zxid: i64, txn: TxnBytes },
    /// Synced: start serving clients (and report the new epoch in election votes,
    /// `updateElectionVote`).
    StartServing { epoch: i64 },
    /// The oldest forwarded sync() may complete.
    SyncDone,
    /// A zkraft leader says its history has tree digest `digest` after `zxid`, our last
    /// logged txn: compare with our tree, and give up on our data if they differ.
    CheckDigest { zxid: i64, digest: i64 },
    /// The leader's answer to a [`Learner::revalidate`].
    Revalidated { session_id: i64, valid: bool },
    /// Give up on this leader. Sent once; the machine then ignores all input.
    LostLeader { reason: LostLeaderReason },
}

/// Where the learner is in ZAB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started.
    Idle,
    /// LearnerInfo sent; waiting for LEADERINFO.
    Discovery,
    /// ACKEPOCH sent; waiting for DIFF, TRUNC or SNAP.
    AwaitSyncMode,
    /// Receiving the sync up to UPTODATE.
    Syncing,
    /// Serving.
    Broadcast,
    /// Gave up.
    Stopped,
}

/// The sync in progress (`syncWithLeader`'s locals).
#[derive(Debug, Default)]
struct SyncState {
    /// SNAP or TRUNC: a snapshot must be taken at NEWLEADER.
    snapshot_needed: bool,
    /// SNAP: fsync that snapshot.
    sync_snapshot: bool,
    /// DIFF, or past NEWLEADER: txns go to the log; otherwise committed ones are applied
    /// in memory only (the snapshot covers them).
    write_to_txn_log: bool,
    newleader_seen: bool,
    /// Proposals (and, for observers, INFORMs) not yet committed or logged.
    not_committed: VecDeque<(i64, TxnBytes)>,
    /// Commits to apply after UPTODATE.
    committed: VecDeque<i64>,
}

/// The ZAB learner state machine. Use one per connection to a leader: after
/// [`Action::LostLeader`] (or a broken socket) build a new one from the database's state.
#[derive(Debug)]
pub struct Learner {
    cfg: LearnerConfig,
    accepted_epoch: i64,
    current_epoch: i64,
    last_logged_zxid: i64,
    phase: Phase,
    new_epoch: i64,
    last_heard: u64,
    sync: SyncState,
    /// Follower: logged proposals waiting for their COMMIT (`pendingTxns`).
    pending_txns: VecDeque<(i64, TxnBytes)>,
    /// Follower: logged zxids waiting for durability, then an ACK.
    to_ack: VecDeque<i64>,
    /// The NEWLEADER ACK waits until this zxid is durable.
    newleader_ack_after: Option<i64>,
    newleader_acked: bool,
    /// Sessions touched since the last PING reply (`LearnerSessionTracker.touchTable`).
    touches: BTreeMap<i64, i32>,
    last_queued: i64,
}

impl Learner {
    pub fn new(cfg: LearnerConfig, init: LearnerInit) -> Learner {
        Learner {
            cfg,
            accepted_epoch: init.accepted_epoch,
            current_epoch: init.current_epoch,
            last_logged_zxid: init.last_logged_zxid,
            phase: Phase::Idle,
            new_epoch: -1,
            last_heard: 0,
            sync: SyncState::default(),
            pending_txns: VecDeque::new(),
            to_ack: VecDeque::new(),
            newleader_ack_after: None,
            newleader_acked: false,
            touches: BTreeMap::new(),
            last_queued: 0,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn accepted_epoch(&self) -> i64 {
        self.accepted_epoch
    }

    pub fn current_epoch(&self) -> i64 {
        self.current_epoch
    }

    /// The epoch of the leader we follow, once LEADERINFO arrived.
    pub fn leader_epoch(&self) -> Option<i64> {
        (self.new_epoch >= 0).then_some(self.new_epoch)
    }

    fn is_follower(&self) -> bool {
        self.cfg.role == LearnerRole::Follower
    }

    /// Connected: announce ourselves (`registerWithLeader`).
    pub fn start(&mut self, now: u64) -> Vec<Action> {
        self.phase = Phase::Discovery;
        self.last_heard = now;
        let zxid = make_zxid(self.accepted_epoch, 0);
        let hello = LearnerHello::new(self.cfg.my_id, self.cfg.config_version);
        let packet = match self.cfg.role {
            LearnerRole::Follower => ZabPacket::FollowerInfo { zxid, hello },
            LearnerRole::Observer => ZabPacket::ObserverInfo { zxid, hello },
        };
        vec![Action::Send(packet)]
    }

    /// Records that a client session was touched here; the leader hears of it in the next
    /// PING reply (the latest timeout wins).
    pub fn touch_session(&mut self, session_id: i64, timeout: i32) {
        self.touches.insert(session_id, timeout);
    }

    /// The REQUEST packet that forwards a client write (or sync) to the leader. A forwarded
    /// sync() completes with [`Action::SyncDone`], in order.
    pub fn forward_request(&self, request: ForwardedRequest) -> Action {
        Action::Send(ZabPacket::Request(request))
    }

    /// The REVALIDATE packet asking the leader about a reconnecting session; the answer
    /// comes as [`Action::Revalidated`].
    pub fn revalidate(&self, session_id: i64, timeout: i32) -> Action {
        Action::Send(ZabPacket::RevalidateRequest {
            session_id,
            timeout,
        })
    }

    fn lose(&mut self, reason: LostLeaderReason, out: &mut Vec<Action>) {
        tracing::warn!(%reason, "giving up on the leader");
        self.phase = Phase::Stopped;
        out.push(Action::LostLeader { reason });
    }

    fn unexpected(&mut self, expected: &'static str, got: &ZabPacket, out: &mut Vec<Action>) {
        let got = ptype::name(got.type_code());
        self.lose(LostLeaderReason::UnexpectedPacket { expected, got }, out);
    }

    /// The zxid of a txn, from its TxnHeader (what Java uses for PROPOSAL and INFORM).
    fn txn_zxid(txn: &[u8]) -> Option<i64> {
        TxnHeader::decode(txn).ok().map(|h| h.zxid)
    }

    fn check_queued(&mut self, zxid: i64) {
        if zxid != self.last_queued + 1 {
            // Java logs this at WARN; it also fires for the first txn after every sync.
            tracing::debug!(
                got = format_args!("{:#x}", zxid),
                expected = format_args!("{:#x}", self.last_queued + 1),
                "proposal out of sequence"
            );
        }
        self.last_queued = zxid;
    }

    /// A packet from the leader.
    pub fn on_packet(&mut self, now: u64, packet: ZabPacket) -> Vec<Action> {
        let mut out = Vec::new();
        match self.phase {
            Phase::Idle | Phase::Stopped => return out,
            _ => {}
        }
        self.last_heard = now;
        match self.phase {
            Phase::Discovery => self.on_leader_info(packet, &mut out),
            Phase::AwaitSyncMode => self.on_sync_mode(packet, &mut out),
            Phase::Syncing => self.on_sync_packet(packet, &mut out),
            Phase::Broadcast => self.on_broadcast_packet(packet, &mut out),
            Phase::Idle | Phase::Stopped => {}
        }
        out
    }

    fn on_leader_info(&mut self, packet: ZabPacket, out: &mut Vec<Action>) {
        let ZabPacket::LeaderInfo { zxid, .. } = packet else {
            // A pre-ZAB-1.0 leader would send NEWLEADER here; not supported.
            return self.unexpected("LEADERINFO", &packet, out);
        };
        let new_epoch = epoch_of(zxid);
        let epoch_field = if new_epoch > self.accepted_epoch {
            out.push(Action::WriteAcceptedEpoch(new_epoch));
            let e = self.current_epoch as i32;
            self.accepted_epoch = new_epoch;
            e
        } else if new_epoch == self.accepted_epoch {
            // Already acked this epoch: say so, but still report our last zxid.
            -1
        } else {
            let accepted = self.accepted_epoch;
            return self.lose(
                LostLeaderReason::EpochBehind {
                    leader: new_epoch,
                    accepted,
                },
                out,
            );
        };
        self.new_epoch = new_epoch;
        out.push(Action::Send(ZabPacket::AckEpoch {
            zxid: self.last_logged_zxid,
            current_epoch: epoch_field,
        }));
        self.phase = Phase::AwaitSyncMode;
    }

    fn on_sync_mode(&mut self, packet: ZabPacket, out: &mut Vec<Action>) {
        self.sync = SyncState::default();
        match packet {
            ZabPacket::Diff { check, .. } => {
                self.sync.write_to_txn_log = true;
                if let Some(c) = check.filter(|c| c.zxid == self.last_logged_zxid) {
                    out.push(Action::CheckDigest {
                        zxid: c.zxid,
                        digest: c.digest,
                    });
                }
            }
            ZabPacket::Snap { zxid } => {
                out.push(Action::InstallSnapshot { zxid });
                self.sync.snapshot_needed = true;
                self.sync.sync_snapshot = true;
            }
            ZabPacket::Trunc { zxid } => {
                out.push(Action::Truncate { zxid });
                self.sync.snapshot_needed = true;
            }
            other => return self.unexpected("DIFF, SNAP or TRUNC", &other, out),
        }
        self.phase = Phase::Syncing;
    }

    fn on_sync_packet(&mut self, packet: ZabPacket, out: &mut Vec<Action>) {
        match packet {
            ZabPacket::Proposal { txn, .. } => {
                let Some(zxid) = Self::txn_zxid(&txn) else {
                    return self.lose(LostLeaderReason::BadTxn("PROPOSAL"), out);
                };
                self.check_queued(zxid);
                self.sync.not_committed.push_back((zxid, txn));
            }
            ZabPacket::Commit { zxid } | ZabPacket::CommitAndActivate { zxid, .. } => {
                // After NEWLEADER a follower has already logged (and dropped from this
                // queue) every proposal, so the queue may be empty here: 3.8.0 hits a
                // NullPointerException on that (ZOOKEEPER-4394); later versions just queue
                // the commit, as here.
                let front = self.sync.not_committed.front().map(|(z, _)| *z);
                if self.sync.write_to_txn_log {
                    self.sync.committed.push_back(zxid);
                } else if front != Some(zxid) {
                    tracing::warn!(
                        zxid = format_args!("{:#x}", zxid),
                        next = ?front,
                        "commit does not match the next proposal"
                    );
                } else {
                    let (zxid, txn) = self.sync.not_committed.pop_front().expect("front checked");
                    out.push(Action::Apply { zxid, txn });
                }
            }
            ZabPacket::Inform {
                zxid: packet_zxid,
                txn,
            }
            | ZabPacket::InformAndActivate {
                zxid: packet_zxid,
                txn,
                ..
            } => {
                let Some(zxid) = Self::txn_zxid(&txn) else {
                    return self.lose(LostLeaderReason::BadTxn("INFORM"), out);
                };
                self.check_queued(zxid);
                if self.sync.write_to_txn_log {
                    self.sync.not_committed.push_back((zxid, txn));
                    self.sync.committed.push_back(packet_zxid);
                } else {
                    out.push(Action::Apply { zxid, txn });
                }
            }
            ZabPacket::NewLeader { .. } => self.on_new_leader(out),
            ZabPacket::UpToDate => self.on_up_to_date(out),
            // Pings and anything else are not answered during sync (as in Java).
            _ => {}
        }
    }

    fn on_new_leader(&mut self, out: &mut Vec<Action>) {
        if self.sync.snapshot_needed {
            out.push(Action::TakeSnapshot {
                sync: self.sync.sync_snapshot,
            });
        }
        self.current_epoch = self.new_epoch;
        out.push(Action::WriteCurrentEpoch(self.new_epoch));
        self.sync.write_to_txn_log = true;
        self.sync.newleader_seen = true;
        if self.is_follower() {
            let pending = std::mem::take(&mut self.sync.not_committed);
            for (zxid, txn) in pending {
                self.log(zxid, txn, out);
            }
        }
        match self.to_ack.back() {
            // Ack NEWLEADER only once the proposals it covers are durable.
            Some(&last) => self.newleader_ack_after = Some(last),
            None => self.send_newleader_ack(out),
        }
    }

    fn send_newleader_ack(&mut self, out: &mut Vec<Action>) {
        self.newleader_ack_after = None;
        self.newleader_acked = true;
        out.push(Action::Send(ZabPacket::Ack {
            zxid: make_zxid(self.new_epoch, 0),
        }));
    }

    /// Follower: log a proposal and expect its COMMIT and its durability.
    fn log(&mut self, zxid: i64, txn: TxnBytes, out: &mut Vec<Action>) {
        if counter_of(zxid) != 0 {
            self.pending_txns.push_back((zxid, txn.clone()));
        }
        self.to_ack.push_back(zxid);
        out.push(Action::Log { zxid, txn });
    }

    fn on_up_to_date(&mut self, out: &mut Vec<Action>) {
        if !self.sync.newleader_seen || !self.newleader_acked {
            // Pre-ZAB-1.0 leaders send UPTODATE without NEWLEADER; a 1.0 leader never
            // sends it before our NEWLEADER ACK.
            return self.unexpected("NEWLEADER", &ZabPacket::UpToDate, out);
        }
        out.push(Action::Send(ZabPacket::Ack {
            zxid: make_zxid(self.new_epoch, 0),
        }));
        let pending = std::mem::take(&mut self.sync.not_committed);
        let mut committed = std::mem::take(&mut self.sync.committed);
        if self.is_follower() {
            for (zxid, txn) in pending {
                self.log(zxid, txn, out);
            }
            for zxid in committed {
                if !self.commit(zxid, out) {
                    return;
                }
            }
        } else {
            for (zxid, txn) in pending {
                if committed.front() != Some(&zxid) {
                    tracing::warn!(
                        zxid = format_args!("{:#x}", zxid),
                        "no matching commit for a synced txn"
                    );
                    continue;
                }
                committed.pop_front();
                out.push(Action::Log {
                    zxid,
                    txn: txn.clone(),
                });
                out.push(Action::Apply { zxid, txn });
            }
        }
        self.phase = Phase::Broadcast;
        out.push(Action::StartServing {
            epoch: self.new_epoch,
        });
    }

    /// `FollowerZooKeeperServer.commit`: the commit must match the oldest logged proposal.
    fn commit(&mut self, zxid: i64, out: &mut Vec<Action>) -> bool {
        match self.pending_txns.front() {
            Some(&(front, _)) if front == zxid => {
                let (zxid, txn) = self.pending_txns.pop_front().expect("front checked");
                out.push(Action::Apply { zxid, txn });
                true
            }
            other => {
                let pending = other.map(|(z, _)| *z);
                self.lose(LostLeaderReason::UnmatchedCommit { zxid, pending }, out);
                false
            }
        }
    }

    fn on_broadcast_packet(&mut self, packet: ZabPacket, out: &mut Vec<Action>) {
        match packet {
            ZabPacket::Ping { zxid } => {
                let touches = std::mem::take(&mut self.touches)
                    .into_iter()
                    .map(|(session_id, timeout)| SessionTouch {
                        session_id,
                        timeout,
                    })
                    .collect();
                out.push(Action::Send(ZabPacket::PingReply { zxid, touches }));
            }
            ZabPacket::RevalidateReply { session_id, valid } => {
                out.push(Action::Revalidated { session_id, valid });
            }
            ZabPacket::Sync => out.push(Action::SyncDone),
            ZabPacket::Proposal { txn, .. } if self.is_follower() => {
                let Some(zxid) = Self::txn_zxid(&txn) else {
                    return self.lose(LostLeaderReason::BadTxn("PROPOSAL"), out);
                };
                self.check_queued(zxid);
                self.log(zxid, txn, out);
            }
            ZabPacket::Commit { zxid } | ZabPacket::CommitAndActivate { zxid, .. }
                if self.is_follower() =>
            {
                self.commit(zxid, out);
            }
            ZabPacket::Inform { txn, .. } | ZabPacket::InformAndActivate { txn, .. }
                if !self.is_follower() =>
            {
                let Some(zxid) = Self::txn_zxid(&txn) else {
                    return self.lose(LostLeaderReason::BadTxn("INFORM"), out);
                };
                self.check_queued(zxid);
                out.push(Action::Log {
                    zxid,
                    txn: txn.clone(),
                });
                out.push(Action::Apply { zxid, txn });
            }
            other => tracing::warn!(packet = %other, "ignoring quorum packet"),
        }
    }

    /// The txn log holds every txn up to `zxid` durably. A follower ACKs each logged
    /// proposal up to it, in order (after the NEWLEADER ACK, if that was waiting for them).
    pub fn on_logged(&mut self, zxid: i64) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.is_follower() || self.phase == Phase::Stopped {
            return out;
        }
        if let Some(after) = self.newleader_ack_after {
            if zxid < after {
                return out;
            }
            self.send_newleader_ack(&mut out);
        }
        if !self.newleader_acked {
            return out;
        }
        while self.to_ack.front().is_some_and(|&z| z <= zxid) {
            let z = self.to_ack.pop_front().expect("front checked");
            out.push(Action::Send(ZabPacket::Ack { zxid: z }));
        }
        out
    }

    /// Gives up if the leader has been silent for initLimit ticks (until NEWLEADER) or
    /// syncLimit ticks (after it): the socket read timeouts of Java's learner.
    pub fn on_tick(&mut self, now: u64) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(self.phase, Phase::Idle | Phase::Stopped) {
            return out;
        }
        let ticks = if self.sync.newleader_seen {
            self.cfg.sync_limit
        } else {
            self.cfg.init_limit
        };
        let limit = self.cfg.tick_time.saturating_mul(ticks);
        if now >= self.last_heard.saturating_add(limit) {
            self.lose(LostLeaderReason::Timeout(limit), &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::TxnHeader;
    use std::sync::Arc;

    fn cfg(role: LearnerRole) -> LearnerConfig {
        LearnerConfig {
            my_id: 2,
            role,
            tick_time: 100,
            init_limit: 10,
            sync_limit: 5,
            config_version: 0,
        }
    }

    /// A txn payload: a TxnHeader for `zxid` (an error txn body is enough here).
    fn txn(zxid: i64) -> TxnBytes {
        let mut v = TxnHeader {
            client_id: 1,
            cxid: 0,
            zxid,
            time: 0,
            r#type: -1,
        }
        .to_bytes();
        v.extend_from_slice(&(-101i32).to_be_bytes());
        Arc::from(v)
    }

    fn prop(zxid: i64) -> ZabPacket {
        ZabPacket::Proposal {
            zxid,
            txn: txn(zxid),
        }
    }

    fn names(out: &[Action]) -> Vec<String> {
        out.iter()
            .map(|a| match a {
                Action::Send(p) => format!("send {p}"),
                Action::Log { zxid, .. } => format!("log {zxid:x}"),
                Action::Apply { zxid, .. } => format!("apply {zxid:x}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// A follower through LEADERINFO(epoch 2).
    fn registered(role: LearnerRole) -> Learner {
        let mut l = Learner::new(
            cfg(role),
            LearnerInit {
                accepted_epoch: 1,
                current_epoch: 1,
                last_logged_zxid: make_zxid(1, 3),
            },
        );
        let out = l.start(0);
        let expected = match role {
            LearnerRole::Follower => "send FOLLOWERINFO 100000000 sid=Some(2)",
            LearnerRole::Observer => "send OBSERVERINFO 100000000 sid=Some(2)",
        };
        assert_eq!(names(&out), vec![expected]);
        let out = l.on_packet(
            1,
            ZabPacket::LeaderInfo {
                zxid: make_zxid(2, 0),
                protocol_version: 0x10000,
            },
        );
        assert_eq!(
            names(&out),
            vec!["WriteAcceptedEpoch(2)", "send ACKEPOCH 100000003 epoch=1"]
        );
        l
    }

    #[test]
    fn ackepoch_rules() {
        let init = LearnerInit {
            accepted_epoch: 4,
            current_epoch: 3,
            last_logged_zxid: 9,
        };
        let mut l = Learner::new(cfg(LearnerRole::Follower), init);
        l.start(0);
        let out = l.on_packet(
            1,
            ZabPacket::LeaderInfo {
                zxid: make_zxid(4, 0),
                protocol_version: 0x10000,
            },
        );
        assert_eq!(
            out,
            vec![Action::Send(ZabPacket::AckEpoch {
                zxid: 9,
                current_epoch: -1
            })]
        );
        let mut l = Learner::new(cfg(LearnerRole::Follower), init);
        l.start(0);
        let out = l.on_packet(
            1,
            ZabPacket::LeaderInfo {
                zxid: make_zxid(3, 0),
                protocol_version: 0x10000,
            },
        );
        assert_eq!(
            out,
            vec![Action::LostLeader {
                reason: LostLeaderReason::EpochBehind {
                    leader: 3,
                    accepted: 4
                }
            }]
        );
        assert!(l
            .on_packet(
                2,
                ZabPacket::Diff {
                    zxid: 0,
                    check: None
                }
            )
            .is_empty());
        let mut l = Learner::new(cfg(LearnerRole::Follower), init);
        l.start(0);
        let out = l.on_packet(
            1,
            ZabPacket::NewLeader {
                zxid: make_zxid(5, 0),
                config: None,
            },
        );
        assert!(matches!(
            out[..],
            [Action::LostLeader {
                reason: LostLeaderReason::UnexpectedPacket { .. }
            }]
        ));
    }

    #[test]
    fn diff_sync_logs_at_newleader_acks_after_durable_and_commits_after_uptodate() {
        let mut l = registered(LearnerRole::Follower);
        let (a, b, c) = (make_zxid(1, 4), make_zxid(1, 5), make_zxid(2, 1));
        assert!(l
            .on_packet(
                2,
                ZabPacket::Diff {
                    zxid: b,
                    check: None
                }
            )
            .is_empty());
        for p in [
            prop(a),
            ZabPacket::Commit { zxid: a },
            prop(b),
            ZabPacket::Commit { zxid: b },
            prop(c),
        ] {
            assert!(l.on_packet(2, p).is_empty());
        }
        let out = l.on_packet(
            3,
            ZabPacket::NewLeader {
                zxid: make_zxid(2, 0),
                config: Some(vec![]),
            },
        );
        assert_eq!(
            names(&out),
            vec![
                "WriteCurrentEpoch(2)",
                "log 100000004",
                "log 100000005",
                "log 200000001"
            ]
        );
        // The NEWLEADER ACK waits for the log; proposal ACKs follow it.
        assert!(l.on_logged(b).is_empty());
        let out = l.on_logged(c);
        assert_eq!(
            names(&out),
            vec![
                "send ACK 200000000",
                "send ACK 100000004",
                "send ACK 100000005",
                "send ACK 200000001"
            ]
        );
        let out = l.on_packet(4, ZabPacket::Commit { zxid: c });
        assert!(out.is_empty(), "queued until UPTODATE");
        let out = l.on_packet(5, ZabPacket::UpToDate);
        assert_eq!(
            names(&out),
            vec![
                "send ACK 200000000",
                "apply 100000004",
                "apply 100000005",
                "apply 200000001",
                "StartServing { epoch: 2 }"
            ]
        );
        assert_eq!(l.phase(), Phase::Broadcast);
        assert_eq!(l.current_epoch(), 2);
    }

    #[test]
    fn snap_sync_applies_in_memory_then_snapshots() {
        let mut l = registered(LearnerRole::Follower);
        let (a, b) = (make_zxid(2, 1), make_zxid(2, 2));
        assert_eq!(
            names(&l.on_packet(
                2,
                ZabPacket::Snap {
                    zxid: make_zxid(2, 0)
                }
            )),
            vec!["InstallSnapshot { zxid: 8589934592 }"]
        );
        l.on_packet(2, prop(a));
        // Committed before NEWLEADER: applied at once, not logged (the snapshot covers it).
        assert_eq!(
            names(&l.on_packet(2, ZabPacket::Commit { zxid: a })),
            vec!["apply 200000001"]
        );
        l.on_packet(2, prop(b));
        let out = l.on_packet(
            3,
            ZabPacket::NewLeader {
                zxid: make_zxid(2, 0),
                config: None,
            },
        );
        assert_eq!(
            names(&out),
            vec![
                "TakeSnapshot { sync: true }",
                "WriteCurrentEpoch(2)",
                "log 200000002"
            ]
        );
        assert_eq!(
            names(&l.on_logged(b)),
            vec!["send ACK 200000000", "send ACK 200000002"]
        );
        l.on_packet(4, ZabPacket::Commit { zxid: b });
        let out = l.on_packet(4, ZabPacket::UpToDate);
        assert_eq!(
            names(&out),
            vec![
                "send ACK 200000000",
                "apply 200000002",
                "StartServing { epoch: 2 }"
            ]
        );
    }

    #[test]
    fn trunc_sync_truncates_and_snapshots_without_fsync() {
        let mut l = registered(LearnerRole::Follower);
        assert_eq!(
            l.on_packet(
                2,
                ZabPacket::Trunc {
                    zxid: make_zxid(1, 2)
                }
            ),
            vec![Action::Truncate {
                zxid: make_zxid(1, 2)
            }]
        );
        let out = l.on_packet(
            3,
            ZabPacket::NewLeader {
                zxid: make_zxid(2, 0),
                config: None,
            },
        );
        assert_eq!(
            names(&out),
            vec![
                "TakeSnapshot { sync: false }",
                "WriteCurrentEpoch(2)",
                "send ACK 200000000"
            ]
        );
        let out = l.on_packet(3, ZabPacket::UpToDate);
        assert_eq!(
            names(&out),
            vec!["send ACK 200000000", "StartServing { epoch: 2 }"]
        );
    }

    #[test]
    fn sync_needs_an_op_packet_and_uptodate_needs_newleader() {
        let mut l = registered(LearnerRole::Follower);
        assert!(matches!(
            l.on_packet(2, prop(1))[..],
            [Action::LostLeader { .. }]
        ));
        let mut l = registered(LearnerRole::Follower);
        l.on_packet(
            2,
            ZabPacket::Diff {
                zxid: 0,
                check: None,
            },
        );
        assert!(
            l.on_packet(2, ZabPacket::Ping { zxid: 0 }).is_empty(),
            "pings are not answered during sync"
        );
        assert!(matches!(
            l.on_packet(2, ZabPacket::UpToDate)[..],
            [Action::LostLeader { .. }]
        ));
    }

    fn broadcasting() -> Learner {
        let mut l = registered(LearnerRole::Follower);
        l.on_packet(
            2,
            ZabPacket::Diff {
                zxid: make_zxid(1, 3),
                check: None,
            },
        );
        l.on_packet(
            2,
            ZabPacket::NewLeader {
                zxid: make_zxid(2, 0),
                config: None,
            },
        );
        l.on_packet(2, ZabPacket::UpToDate);
        assert_eq!(l.phase(), Phase::Broadcast);
        l
    }

    #[test]
    fn broadcast_logs_acks_in_order_and_applies_commits() {
        let mut l = broadcasting();
        let (a, b) = (make_zxid(2, 1), make_zxid(2, 2));
        assert_eq!(names(&l.on_packet(10, prop(a))), vec!["log 200000001"]);
        assert_eq!(names(&l.on_packet(10, prop(b))), vec!["log 200000002"]);
        assert_eq!(names(&l.on_logged(a)), vec!["send ACK 200000001"]);
        // A commit may come before our own fsync (a quorum has it).
        assert_eq!(
            names(&l.on_packet(11, ZabPacket::Commit { zxid: a })),
            vec!["apply 200000001"]
        );
        assert_eq!(names(&l.on_logged(b)), vec!["send ACK 200000002"]);
        assert!(l.on_logged(b).is_empty());
        assert_eq!(
            names(&l.on_packet(12, ZabPacket::Commit { zxid: b })),
            vec!["apply 200000002"]
        );
    }

    #[test]
    fn commit_for_unproposed_zxid_loses_the_leader() {
        let mut l = broadcasting();
        let out = l.on_packet(
            10,
            ZabPacket::Commit {
                zxid: make_zxid(2, 1),
            },
        );
        assert_eq!(
            out,
            vec![Action::LostLeader {
                reason: LostLeaderReason::UnmatchedCommit {
                    zxid: make_zxid(2, 1),
                    pending: None
                }
            }]
        );
        let mut l = broadcasting();
        l.on_packet(10, prop(make_zxid(2, 1)));
        let out = l.on_packet(
            10,
            ZabPacket::Commit {
                zxid: make_zxid(2, 2),
            },
        );
        assert_eq!(
            out,
            vec![Action::LostLeader {
                reason: LostLeaderReason::UnmatchedCommit {
                    zxid: make_zxid(2, 2),
                    pending: Some(make_zxid(2, 1))
                }
            }]
        );
        assert!(l
            .on_packet(
                11,
                ZabPacket::Commit {
                    zxid: make_zxid(2, 1)
                }
            )
            .is_empty());
    }

    #[test]
    fn ping_reply_carries_touches_once() {
        let mut l = broadcasting();
        l.touch_session(7, 4000);
        l.touch_session(3, 2000);
        l.touch_session(7, 6000);
        let out = l.on_packet(10, ZabPacket::Ping { zxid: 42 });
        assert_eq!(
            out,
            vec![Action::Send(ZabPacket::PingReply {
                zxid: 42,
                touches: vec![
                    SessionTouch {
                        session_id: 3,
                        timeout: 2000
                    },
                    SessionTouch {
                        session_id: 7,
                        timeout: 6000
                    }
                ]
            })]
        );
        assert_eq!(
            l.on_packet(11, ZabPacket::Ping { zxid: 43 }),
            vec![Action::Send(ZabPacket::PingReply {
                zxid: 43,
                touches: vec![]
            })]
        );
    }

    #[test]
    fn sync_and_revalidate_replies() {
        let mut l = broadcasting();
        assert_eq!(l.on_packet(1, ZabPacket::Sync), vec![Action::SyncDone]);
        assert_eq!(
            l.on_packet(
                1,
                ZabPacket::RevalidateReply {
                    session_id: 5,
                    valid: false
                }
            ),
            vec![Action::Revalidated {
                session_id: 5,
                valid: false
            }]
        );
        assert_eq!(
            l.revalidate(5, 3000),
            Action::Send(ZabPacket::RevalidateRequest {
                session_id: 5,
                timeout: 3000
            })
        );
    }

    #[test]
    fn observer_applies_informs_and_ignores_proposals() {
        let mut l = registered(LearnerRole::Observer);
        let (a, b) = (make_zxid(1, 4), make_zxid(2, 1));
        l.on_packet(
            2,
            ZabPacket::Diff {
                zxid: a,
                check: None,
            },
        );
        l.on_packet(2, prop(a));
        l.on_packet(2, ZabPacket::Commit { zxid: a });
        l.on_packet(
            2,
            ZabPacket::Inform {
                zxid: b,
                txn: txn(b),
            },
        );
        let out = l.on_packet(
            3,
            ZabPacket::NewLeader {
                zxid: make_zxid(2, 0),
                config: None,
            },
        );
        assert_eq!(
            names(&out),
            vec!["WriteCurrentEpoch(2)", "send ACK 200000000"],
            "observers do not log at NEWLEADER"
        );
        let out = l.on_packet(3, ZabPacket::UpToDate);
        assert_eq!(
            names(&out),
            vec![
                "send ACK 200000000",
                "log 100000004",
                "apply 100000004",
                "log 200000001",
                "apply 200000001",
                "StartServing { epoch: 2 }"
            ]
        );
        let c = make_zxid(2, 2);
        assert!(l.on_packet(4, prop(c)).is_empty());
        assert!(l.on_packet(4, ZabPacket::Commit { zxid: c }).is_empty());
        assert_eq!(
            names(&l.on_packet(
                4,
                ZabPacket::Inform {
                    zxid: c,
                    txn: txn(c)
                }
            )),
            vec!["log 200000002", "apply 200000002"]
        );
        assert!(l.on_logged(c).is_empty(), "observers never ack");
    }

    #[test]
    fn silent_leader_is_lost_after_init_then_sync_limit() {
        let mut l = registered(LearnerRole::Follower);
        // Before NEWLEADER: initLimit (10 ticks of 100 ms) from the last packet at t=1.
        assert!(l.on_tick(1000).is_empty());
        assert_eq!(
            l.on_tick(1001),
            vec![Action::LostLeader {
                reason: LostLeaderReason::Timeout(1000)
            }]
        );
        let mut l = broadcasting();
        l.on_packet(100, ZabPacket::Ping { zxid: 0 });
        assert!(l.on_tick(599).is_empty());
        assert_eq!(
            l.on_tick(600),
            vec![Action::LostLeader {
                reason: LostLeaderReason::Timeout(500)
            }]
        );
        assert!(l.on_tick(700).is_empty());
    }

    #[test]
    fn bad_txn_loses_the_leader() {
        let mut l = broadcasting();
        let out = l.on_packet(
            1,
            ZabPacket::Proposal {
                zxid: 1,
                txn: Arc::from(&[1u8, 2][..]),
            },
        );
        assert_eq!(
            out,
            vec![Action::LostLeader {
                reason: LostLeaderReason::BadTxn("PROPOSAL")
            }]
        );
    }
}
