//! The ZAB leader as a pure state machine: discovery, synchronization and broadcast
//! (spec §14.4), with no sockets, threads or clocks.
//!
//! It follows Apache ZooKeeper 3.8's `Leader.lead`, `getEpochToPropose`, `waitForEpochAck`,
//! `waitForNewLeaderAck`, `startForwarding`, `propose`, `processAck`/`tryToCommit`,
//! `processSync`, the `LearnerHandler` conversation with each learner, and the leader's
//! tick loop (pings, `SyncLimitCheck`, the synced-quorum check).
//!
//! The caller owns everything with side effects and feeds events in:
//! - [`Leader::start`] once, after winning the election and loading the database;
//! - [`Leader::on_packet`] for each decoded packet from a learner connection (the caller
//!   picks a [`ConnId`] per accepted socket; the first packet names the learner);
//! - [`Leader::on_disconnect`] when a learner's socket fails or closes;
//! - [`Leader::on_tick`] every `tick_time / 2` ms;
//! - [`Leader::propose`] for each txn the request pipeline produced, then
//!   [`Leader::on_logged`] once the leader's own log holds it durably;
//! - [`Leader::process_sync`] when a sync() reaches the proposal stage of the pipeline;
//! - [`Leader::revalidate_reply`] to answer a [`Action::Revalidate`].
//!
//! Every input takes `now` (milliseconds on any monotonic clock) where timing matters and
//! returns [`Action`]s, which the caller carries out **in order**. In particular, packets to
//! one connection must be written in the order they appear, a [`Action::Commit`] must be
//! applied to the data tree before a later [`Action::SendSnapshot`] serializes it, and an
//! epoch file write must be durable before later packets are sent.
//!
//! Quorums are majorities of `LeaderConfig::voters` (QuorumMaj). Observers never count, and
//! neither does a learner that announces itself with FOLLOWERINFO but is not a voter.
//!
//! Differences from the Java leader, all deliberate:
//! - a learner whose `(currentEpoch, lastZxid)` is ahead of ours is disconnected, as Java's
//!   handler thread does (the spec says the leader aborts; Java only drops that learner and
//!   keeps waiting, so it steps down only if no quorum is left by the deadline);
//! - after a commit the leader also tries the next outstanding proposal, so commits never
//!   wait for another ACK once a quorum exists (Java retries only after reconfigs);
//! - learners announcing a protocol version below 0x10000 (pre-ZAB-1.0) are refused;
//! - reconfig (COMMITANDACTIVATE/INFORMANDACTIVATE, designated leaders) is not modelled;
//! - the in-memory committed log is kept here (appended on commit) rather than read from
//!   the data tree, so there is no `toBeApplied` list: a txn is part of the history handed
//!   to syncing learners from the moment it commits.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::sync::{plan_sync, CommittedTxn, SyncInput, SyncMode, TxnLogSource};
use super::zab_wire::{
    counter_of, epoch_of, make_zxid, ForwardedRequest, LearnerHello, SessionTouch, TxnBytes,
    ZabPacket, PROTOCOL_VERSION,
};

/// The caller's handle for one learner connection.
pub type ConnId = u64;

/// Leader settings (zoo.cfg and system properties). Times are in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderConfig {
    /// Our server id.
    pub my_id: u64,
    /// The voting members, us included.
    pub voters: BTreeSet<u64>,
    /// `tickTime`.
    pub tick_time: u64,
    /// `initLimit`, in ticks: how long discovery and sync may take.
    pub init_limit: u64,
    /// `syncLimit`, in ticks: how long a synced learner may be silent or leave a proposal
    /// unacknowledged.
    pub sync_limit: u64,
    /// Our QuorumVerifier version: a learner announcing a later one is refused.
    pub config_version: i64,
    /// The QuorumVerifier text sent in NEWLEADER.
    pub config_text: Vec<u8>,
    /// `zookeeper.commitLogCount`: committed txns kept in memory for DIFF syncs.
    pub commit_log_count: usize,
    /// `zookeeper.forceSnapshotSync` (testing only).
    pub force_snap_sync: bool,
}

impl LeaderConfig {
    /// Java's defaults for everything but the ids and the three timing settings.
    pub fn new(
        my_id: u64,
        voters: BTreeSet<u64>,
        tick_time: u64,
        init_limit: u64,
        sync_limit: u64,
    ) -> Self {
        LeaderConfig {
            my_id,
            voters,
            tick_time,
            init_limit,
            sync_limit,
            config_version: 0,
            config_text: Vec::new(),
            commit_log_count: 500,
            force_snap_sync: false,
        }
    }

    fn init_ms(&self) -> u64 {
        self.tick_time.saturating_mul(self.init_limit)
    }

    fn sync_ms(&self) -> u64 {
        self.tick_time.saturating_mul(self.sync_limit)
    }
}

/// What the leader knows about its own database when it starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaderInit {
    /// The `acceptedEpoch` file.
    pub accepted_epoch: i64,
    /// The `currentEpoch` file.
    pub current_epoch: i64,
    /// The data tree's lastProcessedZxid after loading.
    pub last_processed_zxid: i64,
    /// The most recent committed txns (ZKDatabase's committedLog), ascending.
    pub committed_log: Vec<CommittedTxn>,
}

/// Whether a learner follows (votes, gets proposals) or observes (gets INFORMs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerKind {
    Follower,
    Observer,
}

/// Who is waiting for a sync() to complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncWaiter {
    /// A sync forwarded by this learner connection: it gets a SYNC packet.
    Learner(ConnId),
    /// A sync of one of the leader's own clients: [`Action::SyncDone`] with this token.
    Local(u64),
}

/// Why a learner connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// The first packet was not FOLLOWERINFO or OBSERVERINFO.
    #[error("first packet {0} is not FOLLOWERINFO or OBSERVERINFO")]
    NotLearnerInfo(&'static str),
    /// The learner has a later activated configuration than ours.
    #[error("learner config version {theirs:#x} is ahead of ours ({ours:#x})")]
    ConfigAhead { theirs: i64, ours: i64 },
    /// The learner speaks a pre-ZAB-1.0 protocol.
    #[error("unsupported learner protocol version {0:?}")]
    LegacyProtocol(Option<i32>),
    /// A packet the conversation does not allow at this point.
    #[error("expected {expected}, got {got}")]
    UnexpectedPacket {
        expected: &'static str,
        got: &'static str,
    },
    /// The learner's (currentEpoch, lastZxid) is more recent than ours.
    #[error("learner is ahead of the leader: ({epoch}, {zxid:#x})")]
    LearnerAhead { epoch: i64, zxid: i64 },
    /// The learner was silent, or a wait for a quorum it was part of timed out.
    #[error("timed out while {0}")]
    Timeout(&'static str),
    /// A proposal sent to it went unacknowledged for syncLimit ticks.
    #[error("proposal {0:#x} unacknowledged for syncLimit ticks")]
    ProposalTimeout(i64),
    /// The leader stepped down.
    #[error("leader stepped down")]
    LeaderStopped,
}

/// Why the leader gives up leadership (the caller goes back to LOOKING).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepDownReason {
    /// A quorum did not connect within initLimit ticks.
    #[error("timeout while waiting for epoch from quorum")]
    EpochTimeout,
    /// A quorum did not acknowledge the new epoch within initLimit ticks.
    #[error("timeout while waiting for epoch to be acked by quorum")]
    EpochAckTimeout,
    /// A quorum did not acknowledge NEWLEADER within initLimit ticks.
    #[error("timeout while waiting for NEWLEADER to be acked by quorum; acked by {acked:?}")]
    NewLeaderTimeout { acked: Vec<i64> },
    /// The synced voters no longer form a quorum.
    #[error("not sufficient followers synced, only synced with sids: {synced:?}")]
    LostQuorum { synced: Vec<i64> },
    /// The zxid counter would reach 0xffffffff: a new epoch is needed.
    #[error("zxid lower 32 bits have rolled over, forcing re-election")]
    ZxidRollover,
}

/// Something the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write this packet to the learner.
    Send { to: ConnId, packet: ZabPacket },
    /// Write a SNAP sync to the learner: the SNAP(`zxid`) packet, the snapshot stream body
    /// of the data tree (every txn ≤ `zxid` applied; later ones may be included, as Java's
    /// snapshots are fuzzy), and the signature (see `zab_wire::encode_snap_sync`).
    SendSnapshot { to: ConnId, zxid: i64 },
    /// Close the learner connection. The machine has already forgotten it.
    Disconnect { conn: ConnId, reason: DropReason },
    /// Durably write the `acceptedEpoch` file.
    WriteAcceptedEpoch(i64),
    /// Durably write the `currentEpoch` file.
    WriteCurrentEpoch(i64),
    /// A quorum acknowledged NEWLEADER (`startZkServer`): start serving clients and
    /// proposing. The data tree's lastProcessedZxid becomes `epoch << 32`, and the first
    /// proposal is `make_zxid(epoch, 1)`.
    Established { epoch: i64 },
    /// `zxid` is committed: apply it (in order) and release the replies waiting for it.
    Commit { zxid: i64 },
    /// A client request forwarded by a learner: submit it to the request pipeline.
    Request {
        from: ConnId,
        sid: i64,
        request: ForwardedRequest,
    },
    /// Sessions a learner's clients kept alive (from a PING reply).
    TouchSessions {
        sid: i64,
        touches: Vec<SessionTouch>,
    },
    /// A learner asks whether a session is valid; answer with [`Leader::revalidate_reply`].
    Revalidate {
        from: ConnId,
        session_id: i64,
        timeout: i32,
    },
    /// A local sync() registered with [`SyncWaiter::Local`] may complete.
    SyncDone { token: u64 },
    /// Give up leadership. Sent once, after `Disconnect`s for every learner; the machine
    /// then ignores all input.
    StepDown { reason: StepDownReason },
}

/// Where the leader is in ZAB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for a quorum of participants to connect (`getEpochToPropose`).
    Discovery,
    /// The new epoch is chosen; waiting for a quorum of ACKEPOCHs.
    EpochAck,
    /// Syncing learners; waiting for a quorum of NEWLEADER ACKs.
    NewLeaderAck,
    /// Established: proposing and committing.
    Broadcast,
    /// Stepped down.
    Stopped,
}

/// Where one learner's conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Sent FOLLOWERINFO; waiting for the epoch to be decided.
    WaitingEpoch,
    /// Sent LEADERINFO; waiting for its ACKEPOCH.
    WaitingAckEpoch,
    /// Got ACKEPOCH; waiting for a quorum of them.
    WaitingEpochQuorum,
    /// Sync and NEWLEADER queued; waiting for its ACK.
    WaitingNewLeaderAck,
    /// Got the NEWLEADER ACK; waiting for the leader to be established.
    WaitingEstablished,
    /// UPTODATE sent: broadcast.
    Active,
}

/// A learner as seen from outside (for four-letter words and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnerStatus {
    pub conn: ConnId,
    pub sid: i64,
    pub kind: LearnerKind,
    pub stage: Stage,
    /// Counts toward the synced quorum (`LearnerHandler.synced`).
    pub synced: bool,
    /// How it was (or is being) synced.
    pub sync_mode: Option<SyncMode>,
}

/// Errors of [`Leader::propose`]; the txn was not proposed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// The leader is not (or no longer) established.
    #[error("not leading: phase {0:?}")]
    NotLeading(Phase),
    /// Proposals must be numbered consecutively.
    #[error("proposal {got:#x} out of order: expected {expected:#x}")]
    OutOfOrder { expected: i64, got: i64 },
}

#[derive(Debug)]
struct Learner {
    sid: i64,
    kind: LearnerKind,
    stage: Stage,
    /// The connection is dropped when `now` reaches this (socket timeouts and Java's
    /// per-handler quorum waits).
    deadline: u64,
    /// `tickOfNextAckDeadline`: synced while `tick <= tick_deadline`.
    tick_deadline: u64,
    /// `startForwarding` done: new proposals (followers) or INFORMs (observers) go to it.
    forwarding: bool,
    /// The sender has started (NEWLEADER queued): it gets pings.
    pinging: bool,
    /// `SyncLimitCheck`: proposals sent since the NEWLEADER ACK and not yet acked.
    check_started: bool,
    unacked: VecDeque<(i64, u64)>,
    /// The learner's lastLoggedZxid from ACKEPOCH.
    last_zxid: i64,
    sync_mode: Option<SyncMode>,
    /// Packets that arrived while Java's handler would not be reading.
    deferred: VecDeque<ZabPacket>,
}

impl Learner {
    fn is_blocked(&self) -> bool {
        matches!(
            self.stage,
            Stage::WaitingEpoch | Stage::WaitingEpochQuorum | Stage::WaitingEstablished
        )
    }
}

#[derive(Debug)]
struct Outstanding {
    txn: TxnBytes,
    acks: BTreeSet<i64>,
}

/// The ZAB leader state machine, for one term of leadership: after [`Action::StepDown`]
/// it ignores all input.
pub struct Leader {
    cfg: LeaderConfig,
    txn_log: Box<dyn TxnLogSource + Send>,
    phase: Phase,
    /// Deadline of the leader's own wait in Discovery, EpochAck and NewLeaderAck.
    phase_deadline: u64,

    accepted_epoch: i64,
    current_epoch: i64,
    /// Java's `Leader.epoch`: the epoch to propose, raised by each connecting learner.
    epoch: i64,
    epoch_decided: bool,
    connecting: BTreeSet<i64>,
    /// Our `(currentEpoch, lastZxid)` when leading started (`leaderStateSummary`).
    summary: (i64, i64),
    electing: BTreeSet<i64>,
    election_finished: bool,
    newleader_acks: BTreeSet<i64>,
    quorum_formed: bool,

    /// The data tree's lastProcessedZxid as far as the machine knows (every commit is
    /// applied by the caller before a later snapshot is taken).
    last_processed: i64,
    committed_log: VecDeque<CommittedTxn>,

    last_proposed: i64,
    last_committed: i64,
    outstanding: BTreeMap<i64, Outstanding>,
    pending_syncs: BTreeMap<i64, Vec<SyncWaiter>>,
    /// The broadcast tick counter (`QuorumPeer.tick`) and the half-tick toggle.
    tick: u64,
    tick_skip: bool,

    learners: BTreeMap<ConnId, Learner>,
    /// Ids handed to learners that announce none (`getAndDecrementFollowerCounter`).
    next_anonymous: i64,
}

impl std::fmt::Debug for Leader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leader")
            .field("my_id", &self.cfg.my_id)
            .field("phase", &self.phase)
            .field("epoch", &self.epoch)
            .field("last_proposed", &format_args!("{:#x}", self.last_proposed))
            .field(
                "last_committed",
                &format_args!("{:#x}", self.last_committed),
            )
            .field("learners", &self.learners.len())
            .finish()
    }
}

impl Leader {
    /// A leader for `cfg`, over the database described by `init`. `txn_log` serves learners
    /// older than the committed log (use `sync::NoTxnLog` to always SNAP them).
    pub fn new(
        cfg: LeaderConfig,
        init: LeaderInit,
        txn_log: Box<dyn TxnLogSource + Send>,
    ) -> Leader {
        let mut committed_log: VecDeque<CommittedTxn> = init.committed_log.into();
        while committed_log.len() > cfg.commit_log_count {
            committed_log.pop_front();
        }
        Leader {
            phase: Phase::Discovery,
            phase_deadline: u64::MAX,
            accepted_epoch: init.accepted_epoch,
            current_epoch: init.current_epoch,
            epoch: -1,
            epoch_decided: false,
            connecting: BTreeSet::new(),
            summary: (init.current_epoch, init.last_processed_zxid),
            electing: BTreeSet::new(),
            election_finished: false,
            newleader_acks: BTreeSet::new(),
            quorum_formed: false,
            last_processed: init.last_processed_zxid,
            committed_log,
            last_proposed: init.last_processed_zxid,
            last_committed: init.last_processed_zxid,
            outstanding: BTreeMap::new(),
            pending_syncs: BTreeMap::new(),
            tick: 0,
            tick_skip: true,
            learners: BTreeMap::new(),
            next_anonymous: -1,
            txn_log,
            cfg,
        }
    }

    // ---- accessors ----------------------------------------------------------------------

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The epoch being established (or established); None before it is decided.
    pub fn epoch(&self) -> Option<i64> {
        self.epoch_decided.then_some(self.epoch)
    }

    /// The last zxid proposed (`newEpoch << 32` right after establishment).
    pub fn last_proposed(&self) -> i64 {
        self.last_proposed
    }

    /// The commit watermark: every zxid ≤ this is committed. Replies for writes up to it
    /// may be released once applied.
    pub fn last_committed(&self) -> i64 {
        self.last_committed
    }

    /// The zxid the next proposal must carry.
    pub fn next_zxid(&self) -> i64 {
        self.last_proposed + 1
    }

    /// Number of proposals waiting for a quorum.
    /// Syncs waiting for a proposal to commit (`getNumPendingSyncs`).
    pub fn pending_sync_count(&self) -> usize {
        self.pending_syncs.values().map(Vec::len).sum()
    }

    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// The learners, by connection.
    pub fn learners(&self) -> Vec<LearnerStatus> {
        self.learners
            .iter()
            .map(|(&conn, l)| LearnerStatus {
                conn,
                sid: l.sid,
                kind: l.kind,
                stage: l.stage,
                synced: self.tick <= l.tick_deadline,
                sync_mode: l.sync_mode,
            })
            .collect()
    }

    fn me(&self) -> i64 {
        self.cfg.my_id as i64
    }

    fn is_voter(&self, sid: i64) -> bool {
        sid >= 0 && self.cfg.voters.contains(&(sid as u64))
    }

    /// `QuorumMaj.containsQuorum` over the voters in `ids`.
    fn is_quorum(&self, ids: &BTreeSet<i64>) -> bool {
        let n = ids.iter().filter(|&&s| self.is_voter(s)).count();
        n > self.cfg.voters.len() / 2
    }

    // ---- discovery ----------------------------------------------------------------------

    /// Starts leading: the leader joins its own epoch proposal (`lead()` up to
    /// `getEpochToPropose`). With a single voter everything completes at once.
    pub fn start(&mut self, now: u64) -> Vec<Action> {
        let mut out = Vec::new();
        self.phase_deadline = now.saturating_add(self.cfg.init_ms());
        let me = self.me();
        let participant = self.is_voter(me);
        self.get_epoch_to_propose(now, me, self.accepted_epoch, participant, &mut out);
        out
    }

    /// `getEpochToPropose`: folds a connecting server's acceptedEpoch into the epoch to
    /// propose; decides it once a quorum including us has connected.
    fn get_epoch_to_propose(
        &mut self,
        now: u64,
        sid: i64,
        accepted: i64,
        participant: bool,
        out: &mut Vec<Action>,
    ) {
        if self.epoch_decided {
            return;
        }
        if accepted >= self.epoch {
            self.epoch = accepted + 1;
        }
        if participant {
            self.connecting.insert(sid);
        }
        if self.connecting.contains(&self.me()) && self.is_quorum(&self.connecting) {
            self.decide_epoch(now, out);
        }
    }

    fn decide_epoch(&mut self, now: u64, out: &mut Vec<Action>) {
        self.epoch_decided = true;
        self.accepted_epoch = self.epoch;
        out.push(Action::WriteAcceptedEpoch(self.epoch));
        self.last_proposed = make_zxid(self.epoch, 0);
        self.phase = Phase::EpochAck;
        self.phase_deadline = now.saturating_add(self.cfg.init_ms());
        let waiting: Vec<ConnId> = self
            .learners
            .iter()
            .filter(|(_, l)| l.stage == Stage::WaitingEpoch)
            .map(|(&c, _)| c)
            .collect();
        for conn in waiting {
            self.send_leader_info(now, conn, out);
        }
        // The leader's own thread goes on to waitForEpochAck with its own summary.
        let (me, summary) = (self.me(), self.summary);
        let _ = self.wait_for_epoch_ack(now, me, summary, true, out);
    }

    fn send_leader_info(&mut self, now: u64, conn: ConnId, out: &mut Vec<Action>) {
        let zxid = make_zxid(self.epoch, 0);
        let init_ms = self.cfg.init_ms();
        if let Some(l) = self.learners.get_mut(&conn) {
            l.stage = Stage::WaitingAckEpoch;
            l.deadline = now.saturating_add(init_ms);
            out.push(Action::Send {
                to: conn,
                packet: ZabPacket::LeaderInfo {
                    zxid,
                    protocol_version: PROTOCOL_VERSION,
                },
            });
            self.replay_deferred(now, conn, out);
        }
    }

    /// `waitForEpochAck`: records a state summary; finishes the election once a quorum
    /// including us has acked the epoch. Err if the summary is ahead of ours.
    fn wait_for_epoch_ack(
        &mut self,
        now: u64,
        sid: i64,
        summary: (i64, i64),
        participant: bool,
        out: &mut Vec<Action>,
    ) -> Result<(), (i64, i64)> {
        if self.election_finished {
            return Ok(());
        }
        if summary.0 != -1 {
            // StateSummary.isMoreRecentThan: a later current epoch, or the same one and a
            // later zxid.
            if summary > self.summary {
                return Err(summary);
            }
            if summary.1 != -1 && participant {
                self.electing.insert(sid);
            }
        }
        if self.electing.contains(&self.me()) && self.is_quorum(&self.electing) {
            self.finish_election(now, out);
        }
        Ok(())
    }

    fn finish_election(&mut self, now: u64, out: &mut Vec<Action>) {
        self.election_finished = true;
        self.current_epoch = self.epoch;
        out.push(Action::WriteCurrentEpoch(self.epoch));
        self.phase = Phase::NewLeaderAck;
        self.phase_deadline = now.saturating_add(self.cfg.init_ms());
        let waiting: Vec<ConnId> = self
            .learners
            .iter()
            .filter(|(_, l)| l.stage == Stage::WaitingEpochQuorum)
            .map(|(&c, _)| c)
            .collect();
        for conn in waiting {
            self.sync_learner(now, conn, out);
        }
        let me = self.me();
        self.wait_for_newleader_ack(now, me, make_zxid(self.epoch, 0), out);
    }

    // ---- synchronization ----------------------------------------------------------------

    /// `syncFollower` + `startForwarding` + NEWLEADER for one learner.
    fn sync_learner(&mut self, now: u64, conn: ConnId, out: &mut Vec<Action>) {
        let Some(l) = self.learners.get(&conn) else {
            return;
        };
        let peer_last_zxid = l.last_zxid;
        let kind = l.kind;
        let plan = plan_sync(
            &SyncInput {
                peer_last_zxid,
                last_processed_zxid: self.last_processed,
                committed_log: self.committed_log.make_contiguous(),
                force_snap: self.cfg.force_snap_sync,
            },
            self.txn_log.as_mut(),
        );
        tracing::info!(
            conn,
            peer_last_zxid = format_args!("{:#x}", peer_last_zxid),
            mode = ?plan.mode,
            op_zxid = format_args!("{:#x}", plan.op_zxid),
            proposals = plan.proposals.len(),
            "syncing learner"
        );
        if plan.mode == SyncMode::Snap {
            out.push(Action::SendSnapshot {
                to: conn,
                zxid: plan.op_zxid,
            });
        } else {
            for packet in plan.packets() {
                out.push(Action::Send { to: conn, packet });
            }
        }
        // startForwarding: proposals still waiting for a quorum, to participants only. (No
        // committed txn lies beyond the plan: they are all in the committed log.)
        if kind == LearnerKind::Follower && self.last_proposed > plan.forward_from {
            for (&zxid, p) in self.outstanding.range(plan.forward_from + 1..) {
                out.push(Action::Send {
                    to: conn,
                    packet: ZabPacket::Proposal {
                        zxid,
                        txn: p.txn.clone(),
                    },
                });
            }
        }
        out.push(Action::Send {
            to: conn,
            packet: ZabPacket::NewLeader {
                zxid: make_zxid(self.epoch, 0),
                config: Some(self.cfg.config_text.clone()),
            },
        });
        let init_ms = self.cfg.init_ms();
        let l = self.learners.get_mut(&conn).expect("learner present");
        l.sync_mode = Some(plan.mode);
        l.forwarding = true;
        l.pinging = true;
        l.stage = Stage::WaitingNewLeaderAck;
        l.deadline = now.saturating_add(init_ms);
        self.replay_deferred(now, conn, out);
    }

    /// `waitForNewLeaderAck`: counts a NEWLEADER ACK; establishes the leader once a
    /// quorum has acked.
    fn wait_for_newleader_ack(&mut self, now: u64, sid: i64, zxid: i64, out: &mut Vec<Action>) {
        if self.quorum_formed {
            return;
        }
        if zxid != make_zxid(self.epoch, 0) {
            tracing::error!(
                sid,
                zxid = format_args!("{:#x}", zxid),
                "NEWLEADER ACK from a different epoch"
            );
            return;
        }
        if self.is_voter(sid) {
            self.newleader_acks.insert(sid);
        }
        if self.is_quorum(&self.newleader_acks) {
            self.establish(now, out);
        }
    }

    /// `startZkServer`: the new epoch is established.
    fn establish(&mut self, now: u64, out: &mut Vec<Action>) {
        self.quorum_formed = true;
        self.phase = Phase::Broadcast;
        let base = make_zxid(self.epoch, 0);
        self.last_committed = base;
        self.last_processed = base;
        self.last_proposed = base;
        self.tick = 0;
        self.tick_skip = true;
        out.push(Action::Established { epoch: self.epoch });
        let waiting: Vec<ConnId> = self
            .learners
            .iter()
            .filter(|(_, l)| l.stage == Stage::WaitingEstablished)
            .map(|(&c, _)| c)
            .collect();
        for conn in waiting {
            self.send_uptodate(now, conn, out);
        }
    }

    fn send_uptodate(&mut self, now: u64, conn: ConnId, out: &mut Vec<Action>) {
        let sync_ms = self.cfg.sync_ms();
        if let Some(l) = self.learners.get_mut(&conn) {
            l.stage = Stage::Active;
            l.deadline = now.saturating_add(sync_ms);
            out.push(Action::Send {
                to: conn,
                packet: ZabPacket::UpToDate,
            });
            self.replay_deferred(now, conn, out);
        }
    }

    /// Processes packets that arrived while the learner's handler was blocked.
    fn replay_deferred(&mut self, now: u64, conn: ConnId, out: &mut Vec<Action>) {
        loop {
            let Some(l) = self.learners.get_mut(&conn) else {
                return;
            };
            if l.is_blocked() {
                return;
            }
            let Some(p) = l.deferred.pop_front() else {
                return;
            };
            self.handle(now, conn, p, out);
        }
    }

    // ---- learner packets ----------------------------------------------------------------

    /// A packet from learner connection `conn`. The first packet of a connection must be
    /// FOLLOWERINFO or OBSERVERINFO.
    pub fn on_packet(&mut self, now: u64, conn: ConnId, packet: ZabPacket) -> Vec<Action> {
        let mut out = Vec::new();
        if self.phase == Phase::Stopped {
            return out;
        }
        match self.learners.get_mut(&conn) {
            None => self.register(now, conn, packet, &mut out),
            Some(l) if l.is_blocked() => l.deferred.push_back(packet),
            Some(_) => self.handle(now, conn, packet, &mut out),
        }
        out
    }

    fn register(&mut self, now: u64, conn: ConnId, packet: ZabPacket, out: &mut Vec<Action>) {
        let (kind, zxid, hello) = match packet {
            ZabPacket::FollowerInfo { zxid, hello } => (LearnerKind::Follower, zxid, hello),
            ZabPacket::ObserverInfo { zxid, hello } => (LearnerKind::Observer, zxid, hello),
            other => {
                let got = super::zab_wire::ptype::name(other.type_code());
                out.push(Action::Disconnect {
                    conn,
                    reason: DropReason::NotLearnerInfo(got),
                });
                return;
            }
        };
        let LearnerHello {
            sid,
            protocol_version,
            config_version,
        } = hello;
        if let Some(v) = config_version {
            if v > self.cfg.config_version {
                out.push(Action::Disconnect {
                    conn,
                    reason: DropReason::ConfigAhead {
                        theirs: v,
                        ours: self.cfg.config_version,
                    },
                });
                return;
            }
        }
        if protocol_version.is_none_or(|v| v < PROTOCOL_VERSION) {
            out.push(Action::Disconnect {
                conn,
                reason: DropReason::LegacyProtocol(protocol_version),
            });
            return;
        }
        let sid = sid.unwrap_or_else(|| {
            let s = self.next_anonymous;
            self.next_anonymous -= 1;
            s
        });
        self.learners.insert(
            conn,
            Learner {
                sid,
                kind,
                stage: Stage::WaitingEpoch,
                deadline: now.saturating_add(self.cfg.init_ms()),
                tick_deadline: self.tick + self.cfg.init_limit + self.cfg.sync_limit,
                forwarding: false,
                pinging: false,
                check_started: false,
                unacked: VecDeque::new(),
                last_zxid: -1,
                sync_mode: None,
                deferred: VecDeque::new(),
            },
        );
        let participant = kind == LearnerKind::Follower && self.is_voter(sid);
        if self.epoch_decided {
            self.send_leader_info(now, conn, out);
        } else {
            self.get_epoch_to_propose(now, sid, epoch_of(zxid), participant, out);
        }
    }

    fn drop_learner(&mut self, conn: ConnId, reason: DropReason, out: &mut Vec<Action>) {
        if self.learners.remove(&conn).is_some() {
            tracing::warn!(conn, %reason, "dropping learner");
            out.push(Action::Disconnect { conn, reason });
        }
    }

    fn unexpected(
        &mut self,
        conn: ConnId,
        expected: &'static str,
        got: &ZabPacket,
        out: &mut Vec<Action>,
    ) {
        let got = super::zab_wire::ptype::name(got.type_code());
        self.drop_learner(conn, DropReason::UnexpectedPacket { expected, got }, out);
    }

    /// A packet for a learner whose handler is reading.
    fn handle(&mut self, now: u64, conn: ConnId, packet: ZabPacket, out: &mut Vec<Action>) {
        let Some(l) = self.learners.get(&conn) else {
            return;
        };
        let (sid, kind, stage) = (l.sid, l.kind, l.stage);
        match stage {
            Stage::WaitingAckEpoch => {
                let ZabPacket::AckEpoch {
                    zxid,
                    current_epoch,
                } = packet
                else {
                    return self.unexpected(conn, "ACKEPOCH", &packet, out);
                };
                let l = self.learners.get_mut(&conn).expect("learner present");
                l.last_zxid = zxid;
                l.stage = Stage::WaitingEpochQuorum;
                l.deadline = now.saturating_add(self.cfg.init_ms());
                let participant = kind == LearnerKind::Follower && self.is_voter(sid);
                let summary = (i64::from(current_epoch), zxid);
                if let Err((epoch, zxid)) =
                    self.wait_for_epoch_ack(now, sid, summary, participant, out)
                {
                    return self.drop_learner(conn, DropReason::LearnerAhead { epoch, zxid }, out);
                }
                if self.election_finished
                    && self
                        .learners
                        .get(&conn)
                        .is_some_and(|l| l.stage == Stage::WaitingEpochQuorum)
                {
                    self.sync_learner(now, conn, out);
                }
            }
            Stage::WaitingNewLeaderAck => {
                let ZabPacket::Ack { zxid } = packet else {
                    return self.unexpected(conn, "ACK of NEWLEADER", &packet, out);
                };
                let l = self.learners.get_mut(&conn).expect("learner present");
                l.check_started = true;
                l.stage = Stage::WaitingEstablished;
                l.deadline = now.saturating_add(self.cfg.init_ms());
                self.wait_for_newleader_ack(now, sid, zxid, out);
                if self.quorum_formed
                    && self
                        .learners
                        .get(&conn)
                        .is_some_and(|l| l.stage == Stage::WaitingEstablished)
                {
                    self.send_uptodate(now, conn, out);
                }
            }
            Stage::Active => {
                let (sync_ms, sync_limit, tick) =
                    (self.cfg.sync_ms(), self.cfg.sync_limit, self.tick);
                let l = self.learners.get_mut(&conn).expect("learner present");
                l.deadline = now.saturating_add(sync_ms);
                l.tick_deadline = tick + sync_limit;
                match packet {
                    ZabPacket::Ack { zxid } => {
                        while l.unacked.front().is_some_and(|&(z, _)| z <= zxid) {
                            l.unacked.pop_front();
                        }
                        self.process_ack(sid, zxid, out);
                    }
                    ZabPacket::PingReply { touches, .. } => {
                        if !touches.is_empty() {
                            out.push(Action::TouchSessions { sid, touches });
                        }
                    }
                    ZabPacket::RevalidateRequest {
                        session_id,
                        timeout,
                    } => {
                        out.push(Action::Revalidate {
                            from: conn,
                            session_id,
                            timeout,
                        });
                    }
                    ZabPacket::Request(request) => {
                        out.push(Action::Request {
                            from: conn,
                            sid,
                            request,
                        });
                    }
                    other => tracing::warn!(conn, packet = %other, "unexpected quorum packet"),
                }
            }
            Stage::WaitingEpoch | Stage::WaitingEpochQuorum | Stage::WaitingEstablished => {
                if let Some(l) = self.learners.get_mut(&conn) {
                    l.deferred.push_back(packet);
                }
            }
        }
    }

    /// The learner connection closed or failed. Its acks already counted stay counted.
    pub fn on_disconnect(&mut self, _now: u64, conn: ConnId) -> Vec<Action> {
        if self.learners.remove(&conn).is_some() {
            tracing::info!(conn, "learner disconnected");
        }
        Vec::new()
    }

    // ---- broadcast ----------------------------------------------------------------------

    /// Proposes txn `zxid` (which must be [`Leader::next_zxid`]): sends PROPOSAL to every
    /// forwarding follower. The caller logs the txn itself and reports it with
    /// [`Leader::on_logged`]. If the counter reaches 0xffffffff the leader steps down instead
    /// (the actions end with [`Action::StepDown`]) and the txn must be dropped.
    pub fn propose(
        &mut self,
        now: u64,
        zxid: i64,
        txn: TxnBytes,
    ) -> Result<Vec<Action>, ProposeError> {
        if self.phase != Phase::Broadcast {
            return Err(ProposeError::NotLeading(self.phase));
        }
        if zxid != self.last_proposed + 1 {
            return Err(ProposeError::OutOfOrder {
                expected: self.last_proposed + 1,
                got: zxid,
            });
        }
        let mut out = Vec::new();
        if counter_of(zxid) == 0xffff_ffff {
            self.step_down(StepDownReason::ZxidRollover, &mut out);
            return Ok(out);
        }
        self.last_proposed = zxid;
        for (&conn, l) in self.learners.iter_mut() {
            if l.forwarding && l.kind == LearnerKind::Follower {
                if l.check_started {
                    l.unacked.push_back((zxid, now));
                }
                out.push(Action::Send {
                    to: conn,
                    packet: ZabPacket::Proposal {
                        zxid,
                        txn: txn.clone(),
                    },
                });
            }
        }
        self.outstanding.insert(
            zxid,
            Outstanding {
                txn,
                acks: BTreeSet::new(),
            },
        );
        Ok(out)
    }

    /// The leader's own log holds every proposal up to `zxid` durably: the leader's ACK.
    pub fn on_logged(&mut self, zxid: i64) -> Vec<Action> {
        let mut out = Vec::new();
        if self.phase != Phase::Broadcast {
            return out;
        }
        let me = self.me();
        let mine: Vec<i64> = self
            .outstanding
            .range(..=zxid)
            .filter(|(_, p)| !p.acks.contains(&me))
            .map(|(&z, _)| z)
            .collect();
        for z in mine {
            self.process_ack(me, z, &mut out);
        }
        out
    }

    /// `processAck`: counts `sid`'s ACK of `zxid` and commits what has a quorum.
    fn process_ack(&mut self, sid: i64, zxid: i64, out: &mut Vec<Action>) {
        if counter_of(zxid) == 0 {
            // NEWLEADER/UPTODATE acks.
            return;
        }
        if self.outstanding.is_empty() || zxid <= self.last_committed {
            return;
        }
        let voter = self.is_voter(sid);
        let Some(p) = self.outstanding.get_mut(&zxid) else {
            tracing::warn!(
                sid,
                zxid = format_args!("{:#x}", zxid),
                "ACK for a future proposal"
            );
            return;
        };
        if voter {
            p.acks.insert(sid);
        }
        // Commit in zxid order: this one if it can, then any successors already acked by a
        // quorum.
        let mut z = zxid;
        while self.try_to_commit(z, out) {
            z += 1;
        }
    }

    /// `tryToCommit`: commits `zxid` if its predecessor is not outstanding and a quorum
    /// has acked it.
    fn try_to_commit(&mut self, zxid: i64, out: &mut Vec<Action>) -> bool {
        if self.outstanding.contains_key(&(zxid - 1)) {
            return false;
        }
        match self.outstanding.get(&zxid) {
            Some(p) if self.is_quorum(&p.acks) => {}
            _ => return false,
        }
        let p = self.outstanding.remove(&zxid).expect("checked above");
        self.last_committed = zxid;
        self.last_processed = zxid;
        self.committed_log.push_back((zxid, p.txn.clone()));
        while self.committed_log.len() > self.cfg.commit_log_count {
            self.committed_log.pop_front();
        }
        for (&conn, l) in &self.learners {
            if !l.forwarding {
                continue;
            }
            let packet = match l.kind {
                LearnerKind::Follower => ZabPacket::Commit { zxid },
                LearnerKind::Observer => ZabPacket::Inform {
                    zxid,
                    txn: p.txn.clone(),
                },
            };
            out.push(Action::Send { to: conn, packet });
        }
        out.push(Action::Commit { zxid });
        if let Some(waiters) = self.pending_syncs.remove(&zxid) {
            for w in waiters {
                self.send_sync(w, out);
            }
        }
        true
    }

    /// `processSync`: a sync() reached the proposal stage. It completes now if nothing is
    /// outstanding, else once the last proposal outstanding at this moment commits.
    pub fn process_sync(&mut self, waiter: SyncWaiter) -> Vec<Action> {
        let mut out = Vec::new();
        if self.outstanding.is_empty() {
            self.send_sync(waiter, &mut out);
        } else {
            self.pending_syncs
                .entry(self.last_proposed)
                .or_default()
                .push(waiter);
        }
        out
    }

    fn send_sync(&self, waiter: SyncWaiter, out: &mut Vec<Action>) {
        match waiter {
            SyncWaiter::Learner(conn) if self.learners.contains_key(&conn) => {
                out.push(Action::Send {
                    to: conn,
                    packet: ZabPacket::Sync,
                });
            }
            SyncWaiter::Learner(_) => {}
            SyncWaiter::Local(token) => out.push(Action::SyncDone { token }),
        }
    }

    /// Answers a [`Action::Revalidate`] (`Leader.revalidateSession`).
    pub fn revalidate_reply(&self, conn: ConnId, session_id: i64, valid: bool) -> Vec<Action> {
        if !self.learners.contains_key(&conn) {
            return Vec::new();
        }
        vec![Action::Send {
            to: conn,
            packet: ZabPacket::RevalidateReply { session_id, valid },
        }]
    }

    // ---- liveness -----------------------------------------------------------------------

    /// Called every `tick_time / 2` ms. Enforces the phase deadlines and per-learner
    /// timeouts; once established, advances the tick every other call, checks on each
    /// full tick that the synced voters (us included) still form a quorum, and pings every
    /// learner whose sync has been queued.
    pub fn on_tick(&mut self, now: u64) -> Vec<Action> {
        let mut out = Vec::new();
        let phase_timeout = match self.phase {
            Phase::Stopped => return out,
            Phase::Broadcast => None,
            Phase::Discovery => Some(StepDownReason::EpochTimeout),
            Phase::EpochAck => Some(StepDownReason::EpochAckTimeout),
            Phase::NewLeaderAck => Some(StepDownReason::NewLeaderTimeout {
                acked: self.newleader_acks.iter().copied().collect(),
            }),
        };
        if let Some(reason) = phase_timeout {
            if now >= self.phase_deadline {
                self.step_down(reason, &mut out);
                return out;
            }
        }
        let expired: Vec<(ConnId, Stage)> = self
            .learners
            .iter()
            .filter(|(_, l)| now >= l.deadline)
            .map(|(&c, l)| (c, l.stage))
            .collect();
        for (conn, stage) in expired {
            let what = match stage {
                Stage::WaitingEpoch => "waiting for epoch from quorum",
                Stage::WaitingAckEpoch => "waiting for ACKEPOCH",
                Stage::WaitingEpochQuorum => "waiting for epoch to be acked by quorum",
                Stage::WaitingNewLeaderAck => "waiting for the NEWLEADER ACK",
                Stage::WaitingEstablished => "waiting for NEWLEADER to be acked by quorum",
                Stage::Active => "reading from a synced learner",
            };
            self.drop_learner(conn, DropReason::Timeout(what), &mut out);
        }
        if self.phase != Phase::Broadcast {
            return out;
        }
        if !self.tick_skip {
            self.tick += 1;
            let mut synced: BTreeSet<i64> = BTreeSet::new();
            synced.insert(self.me());
            for l in self.learners.values() {
                if l.kind == LearnerKind::Follower && self.tick <= l.tick_deadline {
                    synced.insert(l.sid);
                }
            }
            if !self.is_quorum(&synced) {
                let synced = synced.into_iter().filter(|&s| self.is_voter(s)).collect();
                self.step_down(StepDownReason::LostQuorum { synced }, &mut out);
                return out;
            }
        }
        self.tick_skip = !self.tick_skip;
        let sync_ms = self.cfg.sync_ms();
        let mut late = Vec::new();
        for (&conn, l) in &self.learners {
            if !l.pinging {
                continue;
            }
            match l.unacked.front() {
                Some(&(zxid, sent)) if now.saturating_sub(sent) >= sync_ms => {
                    late.push((conn, zxid))
                }
                _ => out.push(Action::Send {
                    to: conn,
                    packet: ZabPacket::Ping {
                        zxid: self.last_proposed,
                    },
                }),
            }
        }
        for (conn, zxid) in late {
            self.drop_learner(conn, DropReason::ProposalTimeout(zxid), &mut out);
        }
        out
    }

    fn step_down(&mut self, reason: StepDownReason, out: &mut Vec<Action>) {
        tracing::warn!(%reason, "leader stepping down");
        for conn in std::mem::take(&mut self.learners).into_keys() {
            out.push(Action::Disconnect {
                conn,
                reason: DropReason::LeaderStopped,
            });
        }
        self.phase = Phase::Stopped;
        out.push(Action::StepDown { reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::sync::NoTxnLog;
    use std::sync::Arc;

    const TICK: u64 = 100;

    fn cfg(me: u64, voters: &[u64]) -> LeaderConfig {
        let mut c = LeaderConfig::new(me, voters.iter().copied().collect(), TICK, 10, 5);
        c.config_text = b"version=0".to_vec();
        c
    }

    fn txn(z: i64) -> TxnBytes {
        Arc::from(z.to_be_bytes().to_vec())
    }

    /// A database whose committed log holds the txns of `last`'s epoch up to `last`.
    fn init(epoch: i64, last: i64) -> LeaderInit {
        let committed_log = (1..=counter_of(last))
            .map(|c| (make_zxid(epoch_of(last), c), txn(c)))
            .collect();
        LeaderInit {
            accepted_epoch: epoch,
            current_epoch: epoch,
            last_processed_zxid: last,
            committed_log,
        }
    }

    fn finfo(sid: i64, accepted: i64) -> ZabPacket {
        ZabPacket::FollowerInfo {
            zxid: make_zxid(accepted, 0),
            hello: LearnerHello::new(sid, 0),
        }
    }

    fn sends_to(out: &[Action], to: ConnId) -> Vec<String> {
        out.iter()
            .filter_map(|a| match a {
                Action::Send { to: t, packet } if *t == to => Some(packet.to_string()),
                Action::SendSnapshot { to: t, zxid } if *t == to => {
                    Some(format!("SNAP-STREAM {zxid:x}"))
                }
                _ => None,
            })
            .collect()
    }

    /// A three-voter leader with followers 2 and 3 connected through UPTODATE.
    fn established() -> Leader {
        let mut l = Leader::new(
            cfg(1, &[1, 2, 3]),
            init(1, make_zxid(1, 5)),
            Box::new(NoTxnLog),
        );
        assert!(l.start(0).is_empty());
        assert!(l
            .on_packet(1, 2, finfo(2, 1))
            .contains(&Action::WriteAcceptedEpoch(2)));
        l.on_packet(1, 3, finfo(3, 1));
        let out = l.on_packet(
            2,
            2,
            ZabPacket::AckEpoch {
                zxid: make_zxid(1, 5),
                current_epoch: 1,
            },
        );
        assert!(out.contains(&Action::WriteCurrentEpoch(2)));
        l.on_packet(
            2,
            3,
            ZabPacket::AckEpoch {
                zxid: make_zxid(1, 5),
                current_epoch: 1,
            },
        );
        let out = l.on_packet(
            3,
            2,
            ZabPacket::Ack {
                zxid: make_zxid(2, 0),
            },
        );
        assert!(out.contains(&Action::Established { epoch: 2 }));
        l.on_packet(
            3,
            3,
            ZabPacket::Ack {
                zxid: make_zxid(2, 0),
            },
        );
        assert_eq!(l.phase(), Phase::Broadcast);
        l
    }

    #[test]
    fn discovery_epoch_is_max_accepted_plus_one_and_needs_quorum_with_leader() {
        let mut l = Leader::new(
            cfg(1, &[1, 2, 3, 4, 5]),
            init(3, make_zxid(3, 9)),
            Box::new(NoTxnLog),
        );
        assert!(l.start(0).is_empty());
        assert_eq!(l.epoch(), None);
        // An observer's acceptedEpoch raises the epoch (as in Java) but does not count.
        let obs = ZabPacket::ObserverInfo {
            zxid: make_zxid(6, 0),
            hello: LearnerHello::new(9, 0),
        };
        assert!(l.on_packet(1, 90, obs).is_empty());
        assert!(l.on_packet(1, 2, finfo(2, 4)).is_empty());
        let out = l.on_packet(1, 3, finfo(3, 2));
        // {1,2,3} of five: the epoch is max(3, 6, 4, 2) + 1.
        assert_eq!(out[0], Action::WriteAcceptedEpoch(7));
        assert_eq!(l.epoch(), Some(7));
        for conn in [90, 2, 3] {
            assert_eq!(sends_to(&out, conn), vec!["LEADERINFO 700000000"]);
        }
        // A late learner gets LEADERINFO at once, and cannot raise the epoch any more.
        let out = l.on_packet(2, 4, finfo(4, 20));
        assert_eq!(sends_to(&out, 4), vec!["LEADERINFO 700000000"]);
        assert_eq!(l.phase(), Phase::EpochAck);
    }

    #[test]
    fn refuses_config_ahead_legacy_and_non_info_first_packets() {
        let mut l = Leader::new(cfg(1, &[1, 2, 3]), init(1, 0), Box::new(NoTxnLog));
        l.start(0);
        let ahead = ZabPacket::FollowerInfo {
            zxid: 0,
            hello: LearnerHello::new(2, 5),
        };
        assert!(matches!(
            l.on_packet(0, 1, ahead)[..],
            [Action::Disconnect {
                reason: DropReason::ConfigAhead { theirs: 5, ours: 0 },
                ..
            }]
        ));
        let legacy = ZabPacket::FollowerInfo {
            zxid: 0,
            hello: LearnerHello {
                sid: Some(2),
                protocol_version: None,
                config_version: None,
            },
        };
        assert!(matches!(
            l.on_packet(0, 2, legacy)[..],
            [Action::Disconnect {
                reason: DropReason::LegacyProtocol(None),
                ..
            }]
        ));
        assert!(matches!(
            l.on_packet(0, 3, ZabPacket::Ack { zxid: 0 })[..],
            [Action::Disconnect {
                reason: DropReason::NotLearnerInfo("ACK"),
                ..
            }]
        ));
        assert!(l.learners().is_empty());
    }

    #[test]
    fn learner_ahead_is_dropped_and_ackepoch_minus_one_does_not_count() {
        let mut l = Leader::new(
            cfg(1, &[1, 2, 3]),
            init(1, make_zxid(1, 5)),
            Box::new(NoTxnLog),
        );
        l.start(0);
        l.on_packet(0, 2, finfo(2, 1));
        l.on_packet(0, 3, finfo(3, 1));
        // Same epoch, later zxid: ahead of us.
        let out = l.on_packet(
            1,
            2,
            ZabPacket::AckEpoch {
                zxid: make_zxid(1, 6),
                current_epoch: 1,
            },
        );
        assert!(matches!(
            out[..],
            [Action::Disconnect {
                conn: 2,
                reason: DropReason::LearnerAhead { epoch: 1, .. }
            }]
        ));
        // -1: it had already accepted this epoch; no vote, no check.
        let out = l.on_packet(
            1,
            3,
            ZabPacket::AckEpoch {
                zxid: make_zxid(9, 9),
                current_epoch: -1,
            },
        );
        assert!(out.is_empty());
        assert_eq!(l.phase(), Phase::EpochAck);
        // Nobody else: the leader gives up after initLimit ticks.
        assert!(l
            .on_tick(999)
            .iter()
            .all(|a| !matches!(a, Action::StepDown { .. })));
        let out = l.on_tick(1000);
        assert_eq!(
            out.last(),
            Some(&Action::StepDown {
                reason: StepDownReason::EpochAckTimeout
            })
        );
        assert!(out.contains(&Action::Disconnect {
            conn: 3,
            reason: DropReason::LeaderStopped
        }));
        assert!(l.on_tick(2000).is_empty());
    }

    #[test]
    fn sync_sends_diff_then_newleader_and_uptodate_after_quorum() {
        let mut l = Leader::new(
            cfg(1, &[1, 2, 3]),
            LeaderInit {
                accepted_epoch: 1,
                current_epoch: 1,
                last_processed_zxid: make_zxid(1, 3),
                committed_log: (1..=3).map(|c| (make_zxid(1, c), txn(c))).collect(),
            },
            Box::new(NoTxnLog),
        );
        l.start(0);
        l.on_packet(0, 2, finfo(2, 1));
        let out = l.on_packet(
            0,
            2,
            ZabPacket::AckEpoch {
                zxid: make_zxid(1, 1),
                current_epoch: 1,
            },
        );
        assert_eq!(
            out.iter()
                .filter(|a| !matches!(a, Action::Send { .. }))
                .cloned()
                .collect::<Vec<_>>(),
            vec![Action::WriteCurrentEpoch(2)]
        );
        assert_eq!(
            sends_to(&out, 2),
            vec![
                "DIFF 100000003",
                "PROPOSAL 100000002",
                "COMMIT 100000002",
                "PROPOSAL 100000003",
                "COMMIT 100000003",
                "NEWLEADER 200000000"
            ]
        );
        let out = l.on_packet(
            1,
            2,
            ZabPacket::Ack {
                zxid: make_zxid(2, 0),
            },
        );
        assert_eq!(out[0], Action::Established { epoch: 2 });
        assert_eq!(sends_to(&out, 2), vec!["UPTODATE ffffffffffffffff"]);
        // A learner joining later is synced at once (SNAP: it has nothing) and gets UPTODATE
        // as soon as it acks NEWLEADER.
        l.on_packet(2, 3, finfo(3, 0));
        let out = l.on_packet(
            2,
            3,
            ZabPacket::AckEpoch {
                zxid: 0,
                current_epoch: 0,
            },
        );
        assert_eq!(
            sends_to(&out, 3),
            vec!["SNAP-STREAM 200000000", "NEWLEADER 200000000"]
        );
        let out = l.on_packet(
            2,
            3,
            ZabPacket::Ack {
                zxid: make_zxid(2, 0),
            },
        );
        assert_eq!(sends_to(&out, 3), vec!["UPTODATE ffffffffffffffff"]);
        // Its UPTODATE ACK (counter 0) is ignored.
        assert!(l
            .on_packet(
                3,
                3,
                ZabPacket::Ack {
                    zxid: make_zxid(2, 0)
                }
            )
            .is_empty());
    }

    #[test]
    fn commits_need_a_quorum_and_go_in_order() {
        let mut l = established();
        let z1 = make_zxid(2, 1);
        let z2 = make_zxid(2, 2);
        assert_eq!(
            l.propose(10, z2, txn(2)),
            Err(ProposeError::OutOfOrder {
                expected: z1,
                got: z2
            })
        );
        let out = l.propose(10, z1, txn(1)).unwrap();
        assert_eq!(sends_to(&out, 2), vec!["PROPOSAL 200000001"]);
        assert_eq!(sends_to(&out, 3), vec!["PROPOSAL 200000001"]);
        l.propose(10, z2, txn(2)).unwrap();
        // Follower 3 acks z2 first? It cannot (acks are in order), but a quorum for z2
        // before z1 must still wait for z1.
        assert!(l
            .on_logged(z2)
            .iter()
            .all(|a| !matches!(a, Action::Commit { .. })));
        assert!(
            l.on_packet(11, 3, ZabPacket::Ack { zxid: z2 }).is_empty(),
            "z1 still outstanding"
        );
        assert_eq!(l.last_committed(), make_zxid(2, 0));
        // One follower's ack of z1 + the leader's = quorum: z1 commits, then z2 right after.
        let out = l.on_packet(12, 2, ZabPacket::Ack { zxid: z1 });
        let commits: Vec<&Action> = out
            .iter()
            .filter(|a| matches!(a, Action::Commit { .. }))
            .collect();
        assert_eq!(
            commits,
            vec![&Action::Commit { zxid: z1 }, &Action::Commit { zxid: z2 }]
        );
        assert_eq!(
            sends_to(&out, 2),
            vec!["COMMIT 200000001", "COMMIT 200000002"]
        );
        assert_eq!(l.last_committed(), z2);
        // Late and duplicate acks are ignored.
        assert!(l.on_packet(13, 3, ZabPacket::Ack { zxid: z1 }).is_empty());
    }

    #[test]
    fn observers_get_inform_and_do_not_count() {
        let mut l = established();
        l.on_packet(
            5,
            9,
            ZabPacket::ObserverInfo {
                zxid: make_zxid(1, 0),
                hello: LearnerHello::new(9, 0),
            },
        );
        let out = l.on_packet(
            5,
            9,
            ZabPacket::AckEpoch {
                zxid: make_zxid(1, 5),
                current_epoch: 1,
            },
        );
        assert_eq!(
            sends_to(&out, 9),
            vec!["DIFF 100000005", "NEWLEADER 200000000"]
        );
        l.on_packet(
            5,
            9,
            ZabPacket::Ack {
                zxid: make_zxid(2, 0),
            },
        );
        let z1 = make_zxid(2, 1);
        let out = l.propose(6, z1, txn(1)).unwrap();
        assert!(sends_to(&out, 9).is_empty(), "observers get no proposals");
        // The observer's ACK counts for nothing.
        l.on_logged(z1);
        assert!(l.on_packet(7, 9, ZabPacket::Ack { zxid: z1 }).is_empty());
        let out = l.on_packet(7, 2, ZabPacket::Ack { zxid: z1 });
        assert_eq!(sends_to(&out, 9), vec!["INFORM 200000001"]);
        assert_eq!(sends_to(&out, 3), vec!["COMMIT 200000001"]);
    }

    #[test]
    fn syncing_follower_gets_outstanding_proposals_after_its_sync() {
        let mut l = established();
        let z1 = make_zxid(2, 1);
        l.propose(5, z1, txn(1)).unwrap();
        l.on_packet(6, 4, finfo(4, 2));
        // Leader 1 of voters {1,2,3}: sid 4 is not a voter but still follows.
        let out = l.on_packet(
            6,
            4,
            ZabPacket::AckEpoch {
                zxid: make_zxid(1, 5),
                current_epoch: 2,
            },
        );
        assert_eq!(
            sends_to(&out, 4),
            vec![
                "DIFF 100000005",
                "PROPOSAL 200000001",
                "NEWLEADER 200000000"
            ]
        );
        // Its commit then follows in order.
        l.on_logged(z1);
        let out = l.on_packet(7, 2, ZabPacket::Ack { zxid: z1 });
        assert_eq!(sends_to(&out, 4), vec!["COMMIT 200000001"]);
    }

    #[test]
    fn packets_are_deferred_while_the_handler_waits() {
        let mut l = Leader::new(cfg(1, &[1, 2, 3, 4, 5]), init(1, 0), Box::new(NoTxnLog));
        l.start(0);
        for s in [2, 3] {
            l.on_packet(0, s as u64, finfo(s, 1));
            l.on_packet(
                0,
                s as u64,
                ZabPacket::AckEpoch {
                    zxid: 0,
                    current_epoch: 1,
                },
            );
        }
        assert_eq!(l.phase(), Phase::NewLeaderAck);
        l.on_packet(
            1,
            2,
            ZabPacket::Ack {
                zxid: make_zxid(2, 0),
            },
        );
        // 2 waits for the quorum; its ping reply is held, not lost.
        let touch = ZabPacket::PingReply {
            zxid: 0,
            touches: vec![SessionTouch {
                session_id: 5,
                timeout: 10,
            }],
        };
        assert!(l.on_packet(1, 2, touch).is_empty());
        let out = l.on_packet(
            2,
            3,
            ZabPacket::Ack {
                zxid: make_zxid(2, 0),
            },
        );
        assert!(out.contains(&Action::TouchSessions {
            sid: 2,
            touches: vec![SessionTouch {
                session_id: 5,
                timeout: 10
            }]
        }));
    }

    #[test]
    fn sync_requests_wait_for_outstanding_proposals() {
        let mut l = established();
        assert_eq!(
            l.process_sync(SyncWaiter::Learner(2)),
            vec![Action::Send {
                to: 2,
                packet: ZabPacket::Sync
            }]
        );
        let z1 = make_zxid(2, 1);
        l.propose(1, z1, txn(1)).unwrap();
        assert!(l.process_sync(SyncWaiter::Local(7)).is_empty());
        assert!(l.process_sync(SyncWaiter::Learner(3)).is_empty());
        // A proposal made after the sync does not delay it.
        l.propose(1, z1 + 1, txn(2)).unwrap();
        l.on_logged(z1);
        let out = l.on_packet(2, 2, ZabPacket::Ack { zxid: z1 });
        let pos = |a: &Action| out.iter().position(|x| x == a).unwrap();
        assert!(pos(&Action::Commit { zxid: z1 }) < pos(&Action::SyncDone { token: 7 }));
        assert!(out.contains(&Action::Send {
            to: 3,
            packet: ZabPacket::Sync
        }));
    }

    #[test]
    fn requests_revalidation_and_touches_reach_the_caller() {
        let mut l = established();
        let req = ForwardedRequest {
            session_id: 1,
            cxid: 2,
            op_type: 9,
            body: vec![],
            authinfo: vec![],
        };
        assert_eq!(
            l.on_packet(1, 2, ZabPacket::Request(req.clone())),
            vec![Action::Request {
                from: 2,
                sid: 2,
                request: req
            }]
        );
        assert_eq!(
            l.on_packet(
                1,
                3,
                ZabPacket::RevalidateRequest {
                    session_id: 8,
                    timeout: 4000
                }
            ),
            vec![Action::Revalidate {
                from: 3,
                session_id: 8,
                timeout: 4000
            }]
        );
        assert_eq!(
            l.revalidate_reply(3, 8, true),
            vec![Action::Send {
                to: 3,
                packet: ZabPacket::RevalidateReply {
                    session_id: 8,
                    valid: true
                }
            }]
        );
        assert!(l
            .on_packet(
                1,
                3,
                ZabPacket::PingReply {
                    zxid: 0,
                    touches: vec![]
                }
            )
            .is_empty());
    }

    #[test]
    fn pings_every_half_tick_and_steps_down_without_synced_quorum() {
        let mut l = established();
        let out = l.on_tick(50);
        assert_eq!(sends_to(&out, 2), vec!["PING 200000000"]);
        assert_eq!(sends_to(&out, 3), vec!["PING 200000000"]);
        // Follower 2 keeps answering; 3 goes silent. Dropping 3 still leaves {1, 2}.
        let mut now = 50;
        let mut stepped = None;
        for _ in 0..40 {
            now += 50;
            l.on_packet(
                now,
                2,
                ZabPacket::PingReply {
                    zxid: 0,
                    touches: vec![],
                },
            );
            let out = l.on_tick(now);
            assert!(!out.iter().any(|a| matches!(a, Action::StepDown { .. })));
            if out.contains(&Action::Disconnect {
                conn: 3,
                reason: DropReason::Timeout("reading from a synced learner"),
            }) {
                stepped = Some(now);
            }
        }
        // syncLimit (5) × tickTime (100) after its last packet at t=3.
        assert_eq!(stepped, Some(550));
        // Now 2 goes silent too: once its tick deadline passes, {1} is not a quorum.
        let mut out = Vec::new();
        for _ in 0..40 {
            now += 50;
            out = l.on_tick(now);
            if !out.is_empty() && out.iter().any(|a| matches!(a, Action::StepDown { .. })) {
                break;
            }
        }
        assert!(
            matches!(
                out.last(),
                Some(Action::StepDown {
                    reason: StepDownReason::LostQuorum { .. }
                })
            ),
            "{out:?}"
        );
        assert_eq!(l.phase(), Phase::Stopped);
        assert!(l.on_packet(now, 2, ZabPacket::Ack { zxid: 1 }).is_empty());
    }

    #[test]
    fn unacked_proposal_drops_the_follower() {
        let mut l = established();
        let z1 = make_zxid(2, 1);
        l.propose(100, z1, txn(1)).unwrap();
        let mut now = 100;
        let mut dropped = None;
        while now < 1000 && dropped.is_none() {
            now += 50;
            // Follower 3 pings back but never acks z1; 2 acks.
            l.on_packet(
                now,
                3,
                ZabPacket::PingReply {
                    zxid: 0,
                    touches: vec![],
                },
            );
            l.on_packet(now, 2, ZabPacket::Ack { zxid: z1 });
            l.on_packet(
                now,
                2,
                ZabPacket::PingReply {
                    zxid: 0,
                    touches: vec![],
                },
            );
            let out = l.on_tick(now);
            if out.contains(&Action::Disconnect {
                conn: 3,
                reason: DropReason::ProposalTimeout(z1),
            }) {
                dropped = Some(now);
            }
        }
        assert_eq!(dropped, Some(600));
    }

    #[test]
    fn single_voter_establishes_at_start() {
        let mut l = Leader::new(cfg(1, &[1]), init(4, make_zxid(4, 2)), Box::new(NoTxnLog));
        let out = l.start(0);
        assert_eq!(
            out,
            vec![
                Action::WriteAcceptedEpoch(5),
                Action::WriteCurrentEpoch(5),
                Action::Established { epoch: 5 }
            ]
        );
        let z = make_zxid(5, 1);
        l.propose(0, z, txn(1)).unwrap();
        assert_eq!(l.on_logged(z), vec![Action::Commit { zxid: z }]);
    }

    #[test]
    fn zxid_rollover_steps_down() {
        let mut l = Leader::new(cfg(1, &[1]), init(4, 0), Box::new(NoTxnLog));
        l.start(0);
        l.last_proposed = make_zxid(5, 0xffff_fffe);
        let out = l.propose(0, make_zxid(5, 0xffff_ffff), txn(1)).unwrap();
        assert_eq!(
            out,
            vec![Action::StepDown {
                reason: StepDownReason::ZxidRollover
            }]
        );
        assert_eq!(
            l.propose(0, 1, txn(1)),
            Err(ProposeError::NotLeading(Phase::Stopped))
        );
    }

    #[test]
    fn discovery_times_out_without_quorum() {
        let mut l = Leader::new(cfg(1, &[1, 2, 3]), init(1, 0), Box::new(NoTxnLog));
        l.start(1000);
        l.on_packet(
            1000,
            2,
            ZabPacket::ObserverInfo {
                zxid: 0,
                hello: LearnerHello::new(2, 0),
            },
        );
        assert!(l.on_tick(1999).is_empty());
        let out = l.on_tick(2000);
        assert_eq!(
            out.last(),
            Some(&Action::StepDown {
                reason: StepDownReason::EpochTimeout
            })
        );
    }
}

#[cfg(test)]
mod simulation {
    //! A deterministic in-memory ensemble: one [`Leader`] and several
    //! [`Learner`](crate::quorum::learner::Learner)s wired through byte queues (every packet
    //! is encoded and decoded with the quorum-port codec), with a seeded scheduler that
    //! interleaves deliveries, fsyncs and ticks. Each server has a toy store (snapshot, txn
    //! log with a durable prefix, data tree as the list of applied zxids) that carries out
    //! the machines' actions. Invariants checked on every action:
    //! - a txn is committed only when a quorum of voters holds it durably;
    //! - every server applies txns in strictly increasing zxid order, and every log grows.
    //!
    //! At the end of each scenario, every data tree equals the leader's.

    use super::*;
    use crate::jute::{Jute, TxnHeader};
    use crate::quorum::learner::{self, Learner, LearnerConfig, LearnerInit, LearnerRole};
    use crate::quorum::zab_wire::{Direction, PacketDecoder};
    use std::sync::{Arc, Mutex};

    const TICK: u64 = 100;

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

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

    fn range(epoch: i64, from: i64, to: i64) -> Vec<i64> {
        (from..=to).map(|c| make_zxid(epoch, c)).collect()
    }

    /// A server's disk and memory.
    #[derive(Debug, Default, Clone)]
    struct Store {
        /// The data tree at the last snapshot.
        snap: Vec<i64>,
        log: Vec<(i64, TxnBytes)>,
        durable: usize,
        tree: Vec<i64>,
        accepted: i64,
        current: i64,
    }

    impl Store {
        fn with_log(zxids: &[i64], epoch: i64) -> Store {
            Store {
                snap: Vec::new(),
                log: zxids.iter().map(|&z| (z, txn(z))).collect(),
                durable: zxids.len(),
                tree: zxids.to_vec(),
                accepted: epoch,
                current: epoch,
            }
        }
        fn append(&mut self, zxid: i64, t: TxnBytes) {
            if let Some((last, _)) = self.log.last() {
                assert!(
                    *last < zxid,
                    "log goes backwards: {zxid:#x} after {last:#x}"
                );
            }
            self.log.push((zxid, t));
        }
        fn apply(&mut self, zxid: i64) {
            if let Some(&last) = self.tree.last() {
                assert!(last < zxid, "applied {zxid:#x} after {last:#x}");
            }
            self.tree.push(zxid);
        }
        /// Truncate the log (and any snapshot) to `zxid`.
        fn truncate(&mut self, zxid: i64) {
            self.log.retain(|(z, _)| *z <= zxid);
            self.durable = self.durable.min(self.log.len());
            self.snap.retain(|&z| z <= zxid);
        }
        /// A restart: only the durable log survives; the tree is snapshot + log.
        fn reload(&mut self) {
            self.log.truncate(self.durable);
            let base = self.snap.last().copied().unwrap_or(0);
            self.tree = self.snap.clone();
            self.tree
                .extend(self.log.iter().map(|(z, _)| *z).filter(|&z| z > base));
        }
        fn durable_has(&self, zxid: i64) -> bool {
            self.log[..self.durable].iter().any(|(z, _)| *z == zxid)
        }
        fn last_zxid(&self) -> i64 {
            self.tree.last().copied().unwrap_or(0)
        }
    }

    /// The leader's txn log as the sync planner sees it (from the first entry).
    struct SharedLog(Arc<Mutex<Vec<CommittedTxn>>>);

    impl TxnLogSource for SharedLog {
        fn proposals_from(
            &mut self,
            start: i64,
        ) -> Option<Box<dyn Iterator<Item = CommittedTxn> + '_>> {
            let log = self.0.lock().unwrap().clone();
            match log.first() {
                Some((z, _)) if *z <= start => Some(Box::new(log.into_iter())),
                _ => None,
            }
        }
    }

    enum Wire {
        Packet(Vec<u8>),
        /// The snapshot stream after a SNAP packet (the leader's tree).
        SnapBody(Vec<i64>),
    }

    struct Conn {
        node: usize,
        held: bool,
        to_leader: VecDeque<Vec<u8>>,
        to_learner: VecDeque<Wire>,
    }

    struct Node {
        sid: u64,
        role: LearnerRole,
        store: Store,
        /// The live learner machine and its connection.
        learner: Option<(ConnId, Learner)>,
        received_snap: Option<Vec<i64>>,
        serving: bool,
        syncs: Vec<SyncMode>,
        lost: Vec<learner::LostLeaderReason>,
    }

    struct Sim {
        rng: Rng,
        now: u64,
        next_tick: u64,
        voters: BTreeSet<u64>,
        leader: Leader,
        lstore: Store,
        disk: Arc<Mutex<Vec<CommittedTxn>>>,
        nodes: Vec<Node>,
        conns: BTreeMap<ConnId, Conn>,
        next_conn: ConnId,
        committed: Vec<i64>,
        established: Option<i64>,
        stepped_down: Option<StepDownReason>,
        dropped: Vec<(usize, DropReason)>,
    }

    impl Sim {
        /// Server 1 leads with `leader_log`; `learners` are (sid, role, store).
        fn new(
            seed: u64,
            voters: &[u64],
            leader_log: Store,
            learners: Vec<(u64, LearnerRole, Store)>,
            commit_log_count: usize,
        ) -> Sim {
            let disk = Arc::new(Mutex::new(leader_log.log.clone()));
            let mut cfg = LeaderConfig::new(1, voters.iter().copied().collect(), TICK, 10, 5);
            cfg.commit_log_count = commit_log_count;
            let init = LeaderInit {
                accepted_epoch: leader_log.accepted,
                current_epoch: leader_log.current,
                last_processed_zxid: leader_log.last_zxid(),
                committed_log: leader_log.log.clone(),
            };
            let leader = Leader::new(cfg, init, Box::new(SharedLog(disk.clone())));
            let nodes = learners
                .into_iter()
                .map(|(sid, role, store)| Node {
                    sid,
                    role,
                    store,
                    learner: None,
                    received_snap: None,
                    serving: false,
                    syncs: Vec::new(),
                    lost: Vec::new(),
                })
                .collect();
            Sim {
                rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
                now: 0,
                next_tick: TICK / 2,
                voters: voters.iter().copied().collect(),
                leader,
                lstore: leader_log,
                disk,
                nodes,
                conns: BTreeMap::new(),
                next_conn: 100,
                committed: Vec::new(),
                established: None,
                stepped_down: None,
                dropped: Vec::new(),
            }
        }

        fn start_leader(&mut self) {
            let out = self.leader.start(self.now);
            self.leader_actions(out);
        }

        /// Node `i` (re)connects with a fresh learner machine built from its store.
        fn connect(&mut self, i: usize) {
            let conn = self.next_conn;
            self.next_conn += 1;
            let n = &mut self.nodes[i];
            let cfg = LearnerConfig {
                my_id: n.sid as i64,
                role: n.role,
                tick_time: TICK,
                init_limit: 10,
                sync_limit: 5,
                config_version: 0,
            };
            let init = LearnerInit {
                accepted_epoch: n.store.accepted,
                current_epoch: n.store.current,
                last_logged_zxid: n.store.last_zxid(),
            };
            let mut l = Learner::new(cfg, init);
            let out = l.start(self.now);
            n.learner = Some((conn, l));
            n.serving = false;
            self.conns.insert(
                conn,
                Conn {
                    node: i,
                    held: false,
                    to_leader: VecDeque::new(),
                    to_learner: VecDeque::new(),
                },
            );
            self.learner_actions(i, out);
        }

        /// Node `i`'s connection breaks; it restarts from its durable state.
        fn disconnect(&mut self, i: usize) {
            if let Some((conn, _)) = self.nodes[i].learner.take() {
                self.conns.remove(&conn);
                let out = self.leader.on_disconnect(self.now, conn);
                self.leader_actions(out);
            }
            self.nodes[i].serving = false;
            self.nodes[i].store.reload();
        }

        fn conn_of(&self, i: usize) -> ConnId {
            self.nodes[i].learner.as_ref().unwrap().0
        }

        fn leader_actions(&mut self, out: Vec<Action>) {
            for a in out {
                match a {
                    Action::Send { to, packet } => {
                        if let Some(c) = self.conns.get_mut(&to) {
                            c.to_learner.push_back(Wire::Packet(packet.encode_to_vec()));
                        }
                    }
                    Action::SendSnapshot { to, zxid } => {
                        // Every committed txn ≤ zxid is in the tree being serialized.
                        assert!(self.lstore.last_zxid() <= zxid);
                        assert!(self
                            .committed
                            .iter()
                            .all(|&z| z > zxid || self.lstore.tree.contains(&z)));
                        if let Some(c) = self.conns.get_mut(&to) {
                            c.to_learner
                                .push_back(Wire::Packet(ZabPacket::Snap { zxid }.encode_to_vec()));
                            c.to_learner
                                .push_back(Wire::SnapBody(self.lstore.tree.clone()));
                        }
                    }
                    Action::Disconnect { conn, reason } => {
                        if let Some(c) = self.conns.remove(&conn) {
                            let i = c.node;
                            self.dropped.push((i, reason));
                            self.nodes[i].learner = None;
                            self.nodes[i].serving = false;
                            self.nodes[i].store.reload();
                        }
                    }
                    Action::WriteAcceptedEpoch(e) => self.lstore.accepted = e,
                    Action::WriteCurrentEpoch(e) => self.lstore.current = e,
                    Action::Established { epoch } => self.established = Some(epoch),
                    Action::Commit { zxid } => {
                        let holders = self
                            .voters
                            .iter()
                            .filter(|&&sid| {
                                if sid == 1 {
                                    self.lstore.durable_has(zxid)
                                } else {
                                    self.nodes
                                        .iter()
                                        .any(|n| n.sid == sid && n.store.durable_has(zxid))
                                }
                            })
                            .count();
                        assert!(
                            holders > self.voters.len() / 2,
                            "{zxid:#x} committed with only {holders} durable copies"
                        );
                        if let Some(&last) = self.committed.last() {
                            assert!(last < zxid);
                        }
                        self.committed.push(zxid);
                        self.lstore.apply(zxid);
                    }
                    Action::StepDown { reason } => self.stepped_down = Some(reason),
                    Action::Request { .. }
                    | Action::TouchSessions { .. }
                    | Action::Revalidate { .. }
                    | Action::SyncDone { .. } => {}
                }
            }
        }

        fn learner_actions(&mut self, i: usize, out: Vec<learner::Action>) {
            for a in out {
                let n = &mut self.nodes[i];
                let Some((conn, _)) = n.learner.as_ref() else {
                    return;
                };
                let conn = *conn;
                match a {
                    learner::Action::Send(p) => {
                        if let Some(c) = self.conns.get_mut(&conn) {
                            c.to_leader.push_back(p.encode_to_vec());
                        }
                    }
                    learner::Action::WriteAcceptedEpoch(e) => n.store.accepted = e,
                    learner::Action::WriteCurrentEpoch(e) => n.store.current = e,
                    learner::Action::InstallSnapshot { zxid } => {
                        let tree = n.received_snap.take().expect("snapshot body received");
                        assert!(tree.last().copied().unwrap_or(0) <= zxid);
                        n.store.truncate(zxid);
                        n.store.tree = tree;
                    }
                    learner::Action::Truncate { zxid } => {
                        n.store.truncate(zxid);
                        n.store.reload();
                        assert_eq!(n.store.last_zxid(), zxid);
                    }
                    learner::Action::TakeSnapshot { .. } => n.store.snap = n.store.tree.clone(),
                    learner::Action::Log { zxid, txn } => n.store.append(zxid, txn),
                    learner::Action::Apply { zxid, .. } => n.store.apply(zxid),
                    learner::Action::StartServing { epoch } => {
                        assert_eq!(Some(epoch), self.established);
                        n.serving = true;
                    }
                    learner::Action::SyncDone
                    | learner::Action::Revalidated { .. }
                    | learner::Action::CheckDigest { .. } => {}
                    learner::Action::LostLeader { reason } => {
                        n.lost.push(reason);
                        self.disconnect(i);
                        return;
                    }
                }
            }
        }

        /// Delivers one queued message; false if nothing is deliverable.
        fn deliver(&mut self) -> bool {
            let ready: Vec<(ConnId, bool)> = self
                .conns
                .iter()
                .filter(|(_, c)| !c.held)
                .flat_map(|(&id, c)| {
                    let mut v = Vec::new();
                    if !c.to_leader.is_empty() {
                        v.push((id, true));
                    }
                    if !c.to_learner.is_empty() {
                        v.push((id, false));
                    }
                    v
                })
                .collect();
            if ready.is_empty() {
                return false;
            }
            let (id, to_leader) = ready[self.rng.below(ready.len() as u64) as usize];
            let d = PacketDecoder::default();
            if to_leader {
                let bytes = self
                    .conns
                    .get_mut(&id)
                    .unwrap()
                    .to_leader
                    .pop_front()
                    .unwrap();
                let (p, n) = d
                    .decode_typed(&bytes, Direction::ToLeader)
                    .unwrap()
                    .unwrap();
                assert_eq!(n, bytes.len());
                let out = self.leader.on_packet(self.now, id, p);
                self.leader_actions(out);
            } else {
                let c = self.conns.get_mut(&id).unwrap();
                let i = c.node;
                let Wire::Packet(bytes) = c.to_learner.pop_front().unwrap() else {
                    panic!("snapshot body out of place")
                };
                let (p, n) = d
                    .decode_typed(&bytes, Direction::ToLearner)
                    .unwrap()
                    .unwrap();
                assert_eq!(n, bytes.len());
                match &p {
                    ZabPacket::Snap { .. } => {
                        // The reader consumes the stream body right after the SNAP packet.
                        let Some(Wire::SnapBody(tree)) = c.to_learner.pop_front() else {
                            panic!("no snapshot body")
                        };
                        self.nodes[i].received_snap = Some(tree);
                        self.nodes[i].syncs.push(SyncMode::Snap);
                    }
                    ZabPacket::Diff { .. } => self.nodes[i].syncs.push(SyncMode::Diff),
                    ZabPacket::Trunc { .. } => self.nodes[i].syncs.push(SyncMode::Trunc),
                    _ => {}
                }
                let now = self.now;
                let out = self.nodes[i].learner.as_mut().unwrap().1.on_packet(now, p);
                self.learner_actions(i, out);
            }
            true
        }

        /// Makes node `i`'s log durable (None: the leader's) and reports it.
        fn fsync(&mut self, i: Option<usize>) {
            match i {
                None => {
                    let s = &mut self.lstore;
                    if s.durable == s.log.len() {
                        return;
                    }
                    s.durable = s.log.len();
                    let last = s.log.last().unwrap().0;
                    let out = self.leader.on_logged(last);
                    self.leader_actions(out);
                }
                Some(i) => {
                    let s = &mut self.nodes[i].store;
                    if s.durable == s.log.len() {
                        return;
                    }
                    s.durable = s.log.len();
                    let last = s.log.last().unwrap().0;
                    if let Some((_, l)) = self.nodes[i].learner.as_mut() {
                        let out = l.on_logged(last);
                        self.learner_actions(i, out);
                    }
                }
            }
        }

        fn tick(&mut self) {
            while self.now >= self.next_tick {
                let t = self.next_tick;
                self.next_tick += TICK / 2;
                let out = self.leader.on_tick(t);
                self.leader_actions(out);
                for i in 0..self.nodes.len() {
                    if let Some((_, l)) = self.nodes[i].learner.as_mut() {
                        let out = l.on_tick(t);
                        self.learner_actions(i, out);
                    }
                }
            }
        }

        /// One scheduling step: time passes a little, then a delivery or an fsync.
        fn step(&mut self) {
            self.now += self.rng.below(4);
            self.tick();
            if self.rng.below(4) == 0 {
                let k = self.rng.below(self.nodes.len() as u64 + 1) as usize;
                self.fsync(k.checked_sub(1));
            } else {
                self.deliver();
            }
        }

        fn pending_work(&self) -> bool {
            self.conns
                .values()
                .any(|c| !c.held && (!c.to_leader.is_empty() || !c.to_learner.is_empty()))
                || self.lstore.durable < self.lstore.log.len()
                || self
                    .nodes
                    .iter()
                    .any(|n| n.learner.is_some() && n.store.durable < n.store.log.len())
        }

        /// Runs until nothing is in flight (held connections excepted).
        fn quiesce(&mut self) {
            for _ in 0..100_000 {
                if !self.pending_work() {
                    return;
                }
                self.step();
                if self.rng.below(3) == 0 {
                    self.fsync(None);
                    for i in 0..self.nodes.len() {
                        self.fsync(Some(i));
                    }
                }
            }
            panic!("no quiescence");
        }

        fn propose(&mut self) {
            let zxid = self.leader.next_zxid();
            let t = txn(zxid);
            self.lstore.append(zxid, t.clone());
            self.disk.lock().unwrap().push((zxid, t.clone()));
            let out = self.leader.propose(self.now, zxid, t).expect("propose");
            self.leader_actions(out);
        }

        fn assert_converged(&self) {
            for n in &self.nodes {
                if n.learner.is_some() {
                    assert!(n.serving, "sid {} not serving", n.sid);
                    assert_eq!(n.store.tree, self.lstore.tree, "sid {} diverged", n.sid);
                }
            }
        }
    }

    /// Learners with different histories sync by DIFF, SNAP and TRUNC; broadcast commits
    /// with quorums only; a reconnecting follower resyncs by DIFF, from the committed log
    /// and then from the disk log; everyone ends with the leader's tree.
    #[test]
    fn ensemble_syncs_broadcasts_and_resyncs() {
        for seed in 1..=25 {
            let leader_log = Store::with_log(&range(1, 1, 10), 1);
            let learners = vec![
                (
                    2,
                    LearnerRole::Follower,
                    Store::with_log(&range(1, 1, 7), 1),
                ), // behind: DIFF
                (3, LearnerRole::Follower, Store::default()), // empty: SNAP
                (
                    4,
                    LearnerRole::Follower,
                    Store::with_log(&range(1, 1, 12), 1),
                ), // ahead: TRUNC
                (
                    5,
                    LearnerRole::Observer,
                    Store::with_log(&range(1, 1, 4), 1),
                ), // observer: DIFF
            ];
            let mut sim = Sim::new(seed, &[1, 2, 3, 4], leader_log, learners, 8);
            sim.start_leader();
            for i in [0, 1, 3] {
                sim.connect(i);
            }
            for _ in 0..2000 {
                if sim.established.is_some() {
                    break;
                }
                sim.step();
            }
            assert_eq!(sim.established, Some(2), "seed {seed}");
            assert_eq!((sim.lstore.accepted, sim.lstore.current), (2, 2));
            // Server 4 was down during the election; it holds 1.11 and 1.12, which nobody
            // committed. It joins before the first proposal: TRUNC.
            sim.connect(2);
            sim.quiesce();
            assert_eq!(sim.nodes[0].syncs, vec![SyncMode::Diff], "seed {seed}");
            assert_eq!(sim.nodes[1].syncs, vec![SyncMode::Snap], "seed {seed}");
            assert_eq!(sim.nodes[2].syncs, vec![SyncMode::Trunc], "seed {seed}");
            assert_eq!(sim.nodes[3].syncs, vec![SyncMode::Diff], "seed {seed}");
            assert_eq!(sim.nodes[2].store.tree, range(1, 1, 10));
            sim.assert_converged();
            for n in &sim.nodes {
                assert_eq!((n.store.accepted, n.store.current), (2, 2));
            }

            // Broadcast under a random schedule.
            for _ in 0..30 {
                sim.propose();
                for _ in 0..sim.rng.below(12) {
                    sim.step();
                }
            }
            sim.quiesce();
            assert_eq!(sim.committed, range(2, 1, 30), "seed {seed}");
            sim.assert_converged();

            // Follower 2 drops out; a few commits later it comes back: DIFF from the
            // committed log.
            sim.disconnect(0);
            for _ in 0..3 {
                sim.propose();
                sim.step();
            }
            sim.quiesce();
            sim.connect(0);
            sim.quiesce();
            assert_eq!(
                sim.nodes[0].syncs,
                vec![SyncMode::Diff, SyncMode::Diff],
                "seed {seed}"
            );
            sim.assert_converged();

            // Out for longer than the committed log (8 txns) reaches back: DIFF from the
            // disk log plus the committed log.
            sim.disconnect(0);
            for _ in 0..20 {
                sim.propose();
                sim.step();
            }
            sim.quiesce();
            sim.connect(0);
            for _ in 0..5 {
                sim.propose();
                sim.step();
            }
            sim.quiesce();
            assert_eq!(
                sim.nodes[0].syncs.last(),
                Some(&SyncMode::Diff),
                "seed {seed}"
            );
            assert_eq!(sim.committed.last(), Some(&make_zxid(2, 58)));
            sim.assert_converged();
            assert_eq!(sim.stepped_down, None);
            assert!(sim.nodes.iter().all(|n| n.lost.is_empty()), "seed {seed}");
        }
    }

    fn three_in_sync(seed: u64) -> Sim {
        let log = range(1, 1, 3);
        let learners = vec![
            (2, LearnerRole::Follower, Store::with_log(&log, 1)),
            (3, LearnerRole::Follower, Store::with_log(&log, 1)),
        ];
        let mut sim = Sim::new(seed, &[1, 2, 3], Store::with_log(&log, 1), learners, 500);
        sim.start_leader();
        sim.connect(0);
        sim.connect(1);
        sim.quiesce();
        assert_eq!(sim.established, Some(2));
        sim
    }

    /// A proposal held by the leader alone does not commit; one follower's durable copy
    /// makes the quorum.
    #[test]
    fn no_commit_without_quorum() {
        for seed in 1..=10 {
            let mut sim = three_in_sync(seed);
            sim.conns.get_mut(&sim.conn_of(0)).unwrap().held = true;
            sim.propose();
            sim.fsync(None);
            // Deliver the proposal to 3 but keep it from fsyncing.
            while sim.deliver() {}
            assert_eq!(sim.nodes[1].store.log.last().unwrap().0, make_zxid(2, 1));
            assert!(sim.committed.is_empty());
            assert_eq!(sim.leader.outstanding(), 1);
            sim.fsync(Some(1));
            while sim.deliver() {}
            assert_eq!(sim.committed, vec![make_zxid(2, 1)]);
            assert_eq!(sim.nodes[1].store.tree.last(), Some(&make_zxid(2, 1)));
            // The held follower catches up once its link heals.
            sim.conns.get_mut(&sim.conn_of(0)).unwrap().held = false;
            sim.quiesce();
            sim.assert_converged();
        }
    }

    /// With one follower gone and the other silent, the leader steps down within
    /// syncLimit ticks; the silent follower gives up on the leader too.
    #[test]
    fn lost_quorum_steps_down() {
        for seed in 1..=10 {
            let mut sim = three_in_sync(seed);
            sim.propose();
            sim.quiesce();
            sim.disconnect(0);
            // {1, 3} is still a quorum.
            for _ in 0..5 {
                sim.propose();
            }
            sim.quiesce();
            assert_eq!(sim.committed.len(), 6);
            let start = sim.now;
            sim.conns.get_mut(&sim.conn_of(1)).unwrap().held = true;
            while sim.stepped_down.is_none() && sim.now < start + 5_000 {
                sim.now += 10;
                sim.tick();
            }
            assert!(
                matches!(sim.stepped_down, Some(StepDownReason::LostQuorum { .. })),
                "{:?}",
                sim.stepped_down
            );
            assert!(
                sim.now - start <= (5 + 2) * TICK,
                "took {} ms",
                sim.now - start
            );
            assert_eq!(sim.leader.phase(), Phase::Stopped);
            // The leader's connections are gone; before they closed, follower 3 had
            // stopped hearing from it.
            assert!(sim.conns.is_empty());
        }
    }

    /// A follower that silently stops hearing the leader gives up after syncLimit ticks.
    #[test]
    fn follower_loses_silent_leader() {
        let mut sim = three_in_sync(7);
        let c = sim.conn_of(0);
        sim.conns.get_mut(&c).unwrap().held = true;
        // Only the follower's clock runs (the leader is "partitioned" from it).
        let start = sim.now;
        let mut lost_at = None;
        while lost_at.is_none() && sim.now < start + 2_000 {
            sim.now += 10;
            if let Some((_, l)) = sim.nodes[0].learner.as_mut() {
                let out = l.on_tick(sim.now);
                if !out.is_empty() {
                    lost_at = Some(sim.now);
                    sim.learner_actions(0, out);
                }
            }
        }
        assert!(matches!(
            sim.nodes[0].lost[..],
            [learner::LostLeaderReason::Timeout(500)]
        ));
        assert!(lost_at.unwrap() - start <= 5 * TICK);
    }
}
