//! Fast Leader Election (FLE) as a pure state machine: no sockets, threads or clocks.
//!
//! The caller feeds events in and carries out what comes back, in the style of raft-rs's
//! `RawNode`/`Ready` and openraft's `Engine`:
//!
//! - inputs: [`Election::start`] (the peer enters LOOKING), [`Election::on_notification`]
//!   (a decoded notification arrived from a peer), [`Election::on_timeout`] (the timer the
//!   machine asked for fired);
//! - outputs, in a [`Ready`]: messages to send ([`Action::Send`]), at most one decision
//!   ([`Action::Decided`]), and what to do with the single timer ([`TimerCmd`]).
//!
//! It follows Apache ZooKeeper 3.8's `FastLeaderElection` with a majority quorum
//! (`QuorumMaj`), including the parts that run outside `lookForLeader`:
//!
//! - `WorkerReceiver`: a non-voting sender always gets our current vote back; while we are
//!   LOOKING, a LOOKING sender whose round is behind ours gets our proposal; while we are
//!   not LOOKING, a LOOKING sender gets our final vote and state (this is how a late or
//!   restarted peer learns about an established leader);
//! - `lookForLeader`: the logical clock (one round per `start`, jumping to a higher round
//!   seen in a LOOKING notification, or to the round of an established ensemble joined via
//!   FOLLOWING/LEADING notifications), `totalOrderPredicate`, `recvset` and `outofelection`,
//!   `checkLeader`, the `finalizeWait` window, and the notification timeout that doubles
//!   from 200 ms to 60 s;
//! - notifications that arrive while we are LOOKING but before `start` are queued and
//!   processed by `start`, as Java's receive queue holds them until `lookForLeader` runs;
//! - our own notifications loop back to us (Java sends them to itself through the
//!   connection manager); here they are processed internally at the end of the same call,
//!   so [`Action::Send`] never targets our own id.
//!
//! Timers: Java's loop waits with `poll(timeout)` on its receive queue, so *every* queued
//! notification restarts the wait. Accordingly, any input that reaches the election loop
//! returns `TimerCmd::Set(d)`: (re)arm the one timer to fire `d` from now. Inputs that
//! Java's receiver answers without queueing them return `TimerCmd::Unchanged`.
//!
//! Not modelled (the caller's business or not applicable to QuorumMaj): reconfig through the
//! config carried in notifications, QuorumOracleMaj, `Leader.reportLookingSid`, and JMX.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

pub use super::election_wire::{Notification, ServerState};

/// How many notifications are kept for the election loop before its first `start`
/// (the connection manager's receive queue holds 100).
const PENDING_CAPACITY: usize = 100;

/// FLE timing constants (`FastLeaderElection`); the defaults are Java's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElectionConfig {
    /// How long a quorum for our proposal must stand unchallenged before we decide.
    pub finalize_wait: Duration,
    /// First notification timeout (`zookeeper.fastleader.minNotificationInterval`).
    pub min_notification_interval: Duration,
    /// Cap of the doubling timeout (`zookeeper.fastleader.maxNotificationInterval`).
    pub max_notification_interval: Duration,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        ElectionConfig {
            finalize_wait: Duration::from_millis(200),
            min_notification_interval: Duration::from_millis(200),
            max_notification_interval: Duration::from_millis(60_000),
        }
    }
}

/// A vote (`Vote.java`). Fields are Java longs: non-voters propose `i64::MIN` throughout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vote {
    /// Proposed leader sid.
    pub leader: i64,
    /// Proposed leader's last logged zxid.
    pub zxid: i64,
    /// Round (logical clock) the vote was cast in.
    pub election_epoch: i64,
    /// Proposed leader's current epoch.
    pub peer_epoch: i64,
    /// State of the voter when it cast the vote.
    pub state: ServerState,
    /// Notification format version the vote arrived with (0 for votes built locally).
    pub version: i32,
}

impl Vote {
    fn looking(leader: i64, zxid: i64, election_epoch: i64, peer_epoch: i64) -> Vote {
        Vote {
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            state: ServerState::Looking,
            version: 0,
        }
    }

    /// `Vote.equals`, which is what quorum counting uses. If either side is LOOKING, all of
    /// leader, zxid, round and peer epoch must match. Between two non-LOOKING votes only the
    /// leader and peer epoch are compared, and only the leader if exactly one of them has a
    /// non-zero version (ZOOKEEPER-1732: followers do not refresh their vote's zxid and
    /// round after syncing, so those must not be compared).
    pub fn java_eq(&self, other: &Vote) -> bool {
        if self.state == ServerState::Looking || other.state == ServerState::Looking {
            self.leader == other.leader
                && self.zxid == other.zxid
                && self.election_epoch == other.election_epoch
                && self.peer_epoch == other.peer_epoch
        } else if (self.version > 0) ^ (other.version > 0) {
            self.leader == other.leader
        } else {
            self.leader == other.leader && self.peer_epoch == other.peer_epoch
        }
    }
}

/// `totalOrderPredicate` for QuorumMaj (every weight is 1): does `(new_epoch, new_zxid,
/// new_id)` beat `(cur_epoch, cur_zxid, cur_id)` lexicographically, as signed longs?
pub fn total_order(
    new_id: i64,
    new_zxid: i64,
    new_epoch: i64,
    cur_id: i64,
    cur_zxid: i64,
    cur_epoch: i64,
) -> bool {
    (new_epoch, new_zxid, new_id) > (cur_epoch, cur_zxid, cur_id)
}

/// Something the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this notification to peer `to` (never ourselves). `msg.config` is `None` and
    /// `msg.version` is 2: the connection layer appends the current config text.
    Send { to: u64, msg: Notification },
    /// The election is over: we are now `state` (LEADING, FOLLOWING or OBSERVING) and
    /// `vote` is the final vote (`lookForLeader`'s return value, our new current vote).
    Decided { state: ServerState, vote: Vote },
}

/// What to do with the election's single timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerCmd {
    /// Leave the timer as it is.
    Unchanged,
    /// (Re)arm it to call [`Election::on_timeout`] after this long.
    Set(Duration),
    /// Disarm it.
    Cancel,
}

/// The output of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    pub actions: Vec<Action>,
    pub timer: TimerCmd,
}

impl Ready {
    /// The decision in this output, if any.
    pub fn decision(&self) -> Option<(ServerState, Vote)> {
        self.actions.iter().find_map(|a| match a {
            Action::Decided { state, vote } => Some((*state, *vote)),
            _ => None,
        })
    }
}

/// One server's election state machine. It lives as long as the peer: between elections it
/// keeps answering LOOKING peers with the final vote.
#[derive(Debug, Clone)]
pub struct Election {
    my_id: u64,
    voters: BTreeSet<u64>,
    cfg: ElectionConfig,
    last_logged_zxid: i64,
    current_epoch: i64,

    /// `QuorumPeer.getPeerState()`.
    state: ServerState,
    /// `logicalclock`: the round.
    logical_clock: i64,
    /// `proposedLeader/Zxid/Epoch`.
    proposal: (i64, i64, i64),
    /// `QuorumPeer.getCurrentVote()`: the last election's result (or the initial vote).
    current_vote: Vote,
    /// Whether `lookForLeader` is running (between `start` and a decision).
    in_election: bool,
    /// Votes of the current round (`recvset`).
    recvset: BTreeMap<u64, Vote>,
    /// FOLLOWING/LEADING votes of any round (`outofelection`).
    outofelection: BTreeMap<u64, Vote>,
    /// Current notification timeout (`notTimeout`).
    not_timeout: Duration,
    /// A quorum backs our proposal; deciding after `finalize_wait` unless a better vote shows.
    finalizing: bool,
    /// Our own notifications, processed at the end of the current input.
    loopback: VecDeque<Notification>,
    /// Notifications that arrived while LOOKING but before `start` (Java queues them and
    /// `lookForLeader` processes them when it runs).
    pending: VecDeque<(u64, Notification)>,

    out: Vec<Action>,
    timer: TimerCmd,
}

impl Election {
    /// A server `my_id` in an ensemble whose voting members are `voters`; it votes if it is
    /// one of them, otherwise it is an observer. `last_logged_zxid` and `current_epoch` are
    /// its log position (`getLastLoggedZxid`, `getCurrentEpoch`). The peer starts LOOKING;
    /// its election loop runs from [`start`](Self::start) on.
    ///
    /// Panics if an id does not fit a Java long.
    pub fn new(
        my_id: u64,
        voters: BTreeSet<u64>,
        last_logged_zxid: i64,
        current_epoch: i64,
    ) -> Election {
        Self::with_config(
            my_id,
            voters,
            last_logged_zxid,
            current_epoch,
            ElectionConfig::default(),
        )
    }

    /// [`new`](Self::new) with non-default timings.
    pub fn with_config(
        my_id: u64,
        voters: BTreeSet<u64>,
        last_logged_zxid: i64,
        current_epoch: i64,
        cfg: ElectionConfig,
    ) -> Election {
        assert!(
            my_id <= i64::MAX as u64 && voters.iter().all(|v| *v <= i64::MAX as u64),
            "server ids are Java longs"
        );
        Election {
            my_id,
            voters,
            cfg,
            last_logged_zxid,
            current_epoch,
            state: ServerState::Looking,
            logical_clock: 0,
            // Java's initial proposal fields before the first round.
            proposal: (-1, -1, 0),
            // `QuorumPeer.startLeaderElection`: Vote(myid, lastLoggedZxid, currentEpoch).
            current_vote: Vote::looking(my_id as i64, last_logged_zxid, -1, current_epoch),
            in_election: false,
            recvset: BTreeMap::new(),
            outofelection: BTreeMap::new(),
            not_timeout: cfg.min_notification_interval,
            finalizing: false,
            loopback: VecDeque::new(),
            pending: VecDeque::new(),
            out: Vec::new(),
            timer: TimerCmd::Unchanged,
        }
    }

    // ---- accessors ------------------------------------------------------------------------

    /// Our server id.
    pub fn id(&self) -> u64 {
        self.my_id
    }

    /// The peer state (LOOKING until a decision).
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// The logical clock (election round).
    pub fn logical_clock(&self) -> i64 {
        self.logical_clock
    }

    /// Our current proposal as a LOOKING vote in the current round (`getVote` + clock).
    pub fn proposal(&self) -> Vote {
        let (l, z, e) = self.proposal;
        Vote::looking(l, z, self.logical_clock, e)
    }

    /// `QuorumPeer.getCurrentVote`: the last decided vote, or the initial one.
    pub fn current_vote(&self) -> Vote {
        self.current_vote
    }

    /// True while an election round is running (after `start`, before a decision).
    pub fn in_election(&self) -> bool {
        self.in_election
    }

    /// True if we vote (a participant), false for an observer.
    pub fn is_participant(&self) -> bool {
        self.voters.contains(&self.my_id)
    }

    /// The voting members.
    pub fn voters(&self) -> &BTreeSet<u64> {
        &self.voters
    }

    // ---- inputs ---------------------------------------------------------------------------

    /// Updates the log position used for our initial vote at the next [`start`](Self::start)
    /// (after the peer synced or logged transactions).
    pub fn set_log_position(&mut self, last_logged_zxid: i64, current_epoch: i64) {
        self.last_logged_zxid = last_logged_zxid;
        self.current_epoch = current_epoch;
    }

    /// `QuorumPeer.updateElectionVote`: once a leader has established `new_epoch`, the
    /// current vote (sent to LOOKING peers) carries it as its peer epoch.
    pub fn update_election_vote(&mut self, new_epoch: i64) {
        self.current_vote.peer_epoch = new_epoch;
    }

    /// Enters LOOKING and starts a new round (`lookForLeader`): increments the logical clock,
    /// proposes our initial vote and sends it to every voter. Also used after losing the
    /// leader; call [`set_log_position`](Self::set_log_position) first if it changed.
    pub fn start(&mut self) -> Ready {
        self.state = ServerState::Looking;
        self.in_election = true;
        self.recvset.clear();
        self.outofelection.clear();
        self.finalizing = false;
        self.loopback.clear();
        self.not_timeout = self.cfg.min_notification_interval;
        self.logical_clock += 1;
        self.proposal = self.init_vote();
        self.send_notifications();
        self.timer = TimerCmd::Set(self.not_timeout);
        self.drain_loopback();
        while self.in_election {
            let Some((from, n)) = self.pending.pop_front() else {
                break;
            };
            self.timer = TimerCmd::Set(self.not_timeout);
            self.look_for_leader(from, n);
            self.drain_loopback();
        }
        self.pending.clear();
        self.take_ready()
    }

    /// A notification from peer `from` (the sid the connection identified). Notifications
    /// that arrive while we are LOOKING but before [`start`](Self::start) are kept and
    /// processed by `start`, as Java's receive queue does.
    pub fn on_notification(&mut self, from: u64, n: Notification) -> Ready {
        self.receive(from, n);
        self.drain_loopback();
        self.take_ready()
    }

    /// The timer fired. While finalizing, this decides; otherwise our proposal is sent again
    /// and the timeout doubles (Java re-sends only if some send queue is empty and otherwise
    /// just redials; with one-slot send queues holding the same vote, a re-send is
    /// equivalent).
    pub fn on_timeout(&mut self) -> Ready {
        if !self.in_election {
            self.timer = TimerCmd::Cancel;
        } else if self.finalizing {
            let (l, z, e) = self.proposal;
            let end = Vote::looking(l, z, self.logical_clock, e);
            self.decide(l, end);
        } else {
            self.send_notifications();
            self.not_timeout = (self.not_timeout * 2).min(self.cfg.max_notification_interval);
            self.timer = TimerCmd::Set(self.not_timeout);
        }
        self.drain_loopback();
        self.take_ready()
    }

    // ---- internals ------------------------------------------------------------------------

    fn take_ready(&mut self) -> Ready {
        Ready {
            actions: std::mem::take(&mut self.out),
            timer: std::mem::replace(&mut self.timer, TimerCmd::Unchanged),
        }
    }

    fn valid_voter(&self, sid: u64) -> bool {
        self.voters.contains(&sid)
    }

    fn valid_voter_i64(&self, sid: i64) -> bool {
        sid >= 0 && self.voters.contains(&(sid as u64))
    }

    fn is_me(&self, sid: i64) -> bool {
        sid >= 0 && sid as u64 == self.my_id
    }

    /// `getInitId`, `getInitLastLoggedZxid`, `getPeerEpoch`: non-voters propose `i64::MIN`.
    fn init_vote(&self) -> (i64, i64, i64) {
        if self.is_participant() {
            (self.my_id as i64, self.last_logged_zxid, self.current_epoch)
        } else {
            (i64::MIN, i64::MIN, i64::MIN)
        }
    }

    fn init_last_logged_zxid(&self) -> i64 {
        self.init_vote().1
    }

    fn learning_state(&self) -> ServerState {
        if self.is_participant() {
            ServerState::Following
        } else {
            ServerState::Observing
        }
    }

    fn send(&mut self, to: u64, msg: Notification) {
        if to == self.my_id {
            self.loopback.push_back(msg);
        } else {
            self.out.push(Action::Send { to, msg });
        }
    }

    /// `sendNotifications`: our proposal, as LOOKING, to every voter (ourselves included).
    fn send_notifications(&mut self) {
        let (l, z, e) = self.proposal;
        let voters: Vec<u64> = self.voters.iter().copied().collect();
        for sid in voters {
            let msg = Notification::new(ServerState::Looking, l, z, self.logical_clock, e);
            self.send(sid, msg);
        }
    }

    fn drain_loopback(&mut self) {
        // Each own notification is handled like any other; a bound guards against a bug
        // turning this into an endless loop.
        let mut budget = 64 * (self.voters.len() + 1);
        while let Some(n) = self.loopback.pop_front() {
            budget -= 1;
            if budget == 0 {
                self.loopback.clear();
                break;
            }
            let me = self.my_id;
            self.receive(me, n);
        }
    }

    /// `WorkerReceiver`: replies that do not depend on the election loop, then hand-off.
    fn receive(&mut self, from: u64, n: Notification) {
        if !self.valid_voter(from) {
            // A non-voter (observer) gets our current vote with our logical clock and state.
            let v = self.current_vote;
            let msg = Notification::new(
                self.state,
                v.leader,
                v.zxid,
                self.logical_clock,
                v.peer_epoch,
            );
            self.send(from, msg);
            return;
        }
        if self.state == ServerState::Looking {
            if n.state == ServerState::Looking && n.election_epoch < self.logical_clock {
                let (l, z, e) = self.proposal;
                let msg = Notification::new(ServerState::Looking, l, z, self.logical_clock, e);
                self.send(from, msg);
            }
            if self.in_election {
                self.timer = TimerCmd::Set(self.not_timeout);
                self.look_for_leader(from, n);
            } else {
                if self.pending.len() >= PENDING_CAPACITY {
                    self.pending.pop_front();
                }
                self.pending.push_back((from, n));
            }
        } else if n.state == ServerState::Looking {
            // Tell a LOOKING peer who we think leads, with our final vote's round.
            let v = self.current_vote;
            let msg =
                Notification::new(self.state, v.leader, v.zxid, v.election_epoch, v.peer_epoch);
            self.send(from, msg);
        }
    }

    /// One iteration of `lookForLeader`'s loop for a dequeued notification.
    fn look_for_leader(&mut self, from: u64, n: Notification) {
        let (pl, pz, pe) = self.proposal;
        if self.finalizing {
            // The finalize wait drains the queue: a better vote ends it (and is processed),
            // anything else is discarded and the wait starts over.
            if total_order(n.leader, n.zxid, n.peer_epoch, pl, pz, pe) {
                self.finalizing = false;
            } else {
                self.timer = TimerCmd::Set(self.cfg.finalize_wait);
                return;
            }
        }
        if !(self.valid_voter(from) && self.valid_voter_i64(n.leader)) {
            return;
        }
        match n.state {
            ServerState::Looking => self.on_looking(from, &n),
            ServerState::Observing => {}
            ServerState::Following | ServerState::Leading => self.on_following(from, &n),
        }
    }

    fn on_looking(&mut self, from: u64, n: &Notification) {
        if self.init_last_logged_zxid() == -1 || n.zxid == -1 {
            return;
        }
        let (pl, pz, pe) = self.proposal;
        if n.election_epoch > self.logical_clock {
            self.logical_clock = n.election_epoch;
            self.recvset.clear();
            let (il, iz, ie) = self.init_vote();
            self.proposal = if total_order(n.leader, n.zxid, n.peer_epoch, il, iz, ie) {
                (n.leader, n.zxid, n.peer_epoch)
            } else {
                (il, iz, ie)
            };
            self.send_notifications();
        } else if n.election_epoch < self.logical_clock {
            return;
        } else if total_order(n.leader, n.zxid, n.peer_epoch, pl, pz, pe) {
            self.proposal = (n.leader, n.zxid, n.peer_epoch);
            self.send_notifications();
        }
        self.recvset.insert(
            from,
            Vote::looking(n.leader, n.zxid, n.election_epoch, n.peer_epoch),
        );
        let (pl, pz, pe) = self.proposal;
        let mine = Vote::looking(pl, pz, self.logical_clock, pe);
        if self.has_quorum(&self.recvset, &mine) {
            self.finalizing = true;
            self.timer = TimerCmd::Set(self.cfg.finalize_wait);
        }
    }

    /// `receivedFollowingNotification` (also used for LEADING: the oracle part of
    /// `receivedLeadingNotification` only applies to QuorumOracleMaj).
    fn on_following(&mut self, from: u64, n: &Notification) {
        let announced = Vote {
            leader: n.leader,
            zxid: n.zxid,
            election_epoch: n.election_epoch,
            peer_epoch: n.peer_epoch,
            state: n.state,
            version: n.version,
        };
        let end = Vote::looking(n.leader, n.zxid, n.election_epoch, n.peer_epoch);
        if n.election_epoch == self.logical_clock {
            // Recorded with version 0, as Java does, so only the leader id is compared
            // against a version-2 notification.
            self.recvset.insert(
                from,
                Vote {
                    version: 0,
                    ..announced
                },
            );
            if self.has_quorum(&self.recvset, &announced)
                && self.check_leader(&self.recvset, n.leader, n.election_epoch)
            {
                self.decide(n.leader, end);
                return;
            }
        }
        // Joining an established ensemble: a quorum follows the same leader, and the leader
        // itself says it is leading.
        self.outofelection.insert(from, announced);
        if self.has_quorum(&self.outofelection, &announced)
            && self.check_leader(&self.outofelection, n.leader, n.election_epoch)
        {
            self.logical_clock = n.election_epoch;
            self.decide(n.leader, end);
        }
    }

    /// `getVoteTracker(...).hasAllQuorums()` for QuorumMaj: more than half of the voters
    /// cast a vote equal (`Vote.equals`) to `vote`.
    fn has_quorum(&self, votes: &BTreeMap<u64, Vote>, vote: &Vote) -> bool {
        let acks = votes
            .iter()
            .filter(|(sid, v)| self.voters.contains(sid) && vote.java_eq(v))
            .count();
        acks > self.voters.len() / 2
    }

    /// `checkLeader`: someone else can only be followed if its own vote says LEADING; we
    /// can only lead in the round the votes are from.
    fn check_leader(&self, votes: &BTreeMap<u64, Vote>, leader: i64, election_epoch: i64) -> bool {
        if !self.is_me(leader) {
            match votes.get(&(leader as u64)) {
                Some(v) => v.state == ServerState::Leading,
                None => false,
            }
        } else {
            self.logical_clock == election_epoch
        }
    }

    /// `setPeerState` + `leaveInstance`.
    fn decide(&mut self, leader: i64, end: Vote) {
        let state = if self.is_me(leader) {
            ServerState::Leading
        } else {
            self.learning_state()
        };
        self.state = state;
        self.in_election = false;
        self.finalizing = false;
        self.loopback.clear();
        self.current_vote = end;
        self.timer = TimerCmd::Cancel;
        self.out.push(Action::Decided { state, vote: end });
    }
}

#[cfg(test)]
mod tests {
    //! Three kinds of tests: unit tests of the vote rules; data-driven transcripts of one
    //! state machine (`testdata/*.txt`, raft-rs style); and a deterministic simulator that
    //! wires N machines through a seeded network (reordering, drops, delays, partitions,
    //! crashes) and checks what every node decides.

    use super::*;
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, HashMap};
    use std::fmt::Write as _;

    fn set(ids: &[u64]) -> BTreeSet<u64> {
        ids.iter().copied().collect()
    }

    fn n(state: ServerState, leader: i64, zxid: i64, round: i64, epoch: i64) -> Notification {
        Notification::new(state, leader, zxid, round, epoch)
    }

    // ---- vote rules ---------------------------------------------------------------------

    #[test]
    fn total_order_is_epoch_then_zxid_then_sid_signed() {
        assert!(total_order(1, 0, 2, 3, 100, 1)); // higher epoch wins
        assert!(total_order(1, 101, 1, 3, 100, 1)); // then zxid
        assert!(total_order(4, 100, 1, 3, 100, 1)); // then sid
        assert!(!total_order(3, 100, 1, 3, 100, 1)); // equal: no
                                                     // Non-voters propose i64::MIN: anything real beats them, they beat nothing.
        assert!(total_order(1, 0, 0, i64::MIN, i64::MIN, i64::MIN));
        assert!(!total_order(i64::MIN, i64::MIN, i64::MIN, 1, -1, 0));
    }

    #[test]
    fn vote_equality_follows_java() {
        let look = Vote::looking(3, 10, 2, 1);
        let mut fol = Vote {
            state: ServerState::Following,
            version: 2,
            ..look
        };
        // LOOKING on either side: everything but state/version must match.
        assert!(look.java_eq(&fol));
        assert!(!look.java_eq(&Vote { zxid: 11, ..fol }));
        assert!(!look.java_eq(&Vote {
            election_epoch: 3,
            ..fol
        }));
        // Both non-LOOKING, same version class: leader and peer epoch only.
        let lead = Vote {
            zxid: 99,
            election_epoch: 7,
            state: ServerState::Leading,
            ..fol
        };
        assert!(fol.java_eq(&lead));
        assert!(!fol.java_eq(&Vote {
            peer_epoch: 5,
            ..lead
        }));
        // Version 0 vs version > 0: leader only.
        fol.version = 0;
        assert!(fol.java_eq(&Vote {
            peer_epoch: 5,
            ..lead
        }));
        assert!(!fol.java_eq(&Vote { leader: 4, ..lead }));
    }

    #[test]
    fn observer_proposes_min_and_never_leads() {
        let mut e = Election::new(4, set(&[1, 2, 3]), 0x500, 9);
        assert!(!e.is_participant());
        let r = e.start();
        for a in &r.actions {
            let Action::Send { to, msg } = a else {
                panic!()
            };
            assert!(*to != 4);
            assert_eq!(
                (msg.leader, msg.zxid, msg.peer_epoch),
                (i64::MIN, i64::MIN, i64::MIN)
            );
        }
        // Two voters agree on 3: the observer adopts and, after finalizeWait, observes.
        e.on_notification(2, n(ServerState::Looking, 3, 0x100, 1, 1));
        let r = e.on_notification(3, n(ServerState::Looking, 3, 0x100, 1, 1));
        assert_eq!(r.timer, TimerCmd::Set(Duration::from_millis(200)));
        let r = e.on_timeout();
        assert_eq!(r.decision().unwrap().0, ServerState::Observing);
        assert_eq!(e.current_vote().leader, 3);
    }

    #[test]
    fn notifications_never_target_self_and_backoff_caps() {
        let mut e = Election::new(1, set(&[1, 2, 3]), 0, 0);
        e.start();
        let mut last = Duration::ZERO;
        for _ in 0..20 {
            let r = e.on_timeout();
            assert!(r
                .actions
                .iter()
                .all(|a| matches!(a, Action::Send { to, .. } if *to != 1)));
            let TimerCmd::Set(d) = r.timer else { panic!() };
            assert!(d >= last && d <= Duration::from_secs(60));
            last = d;
        }
        assert_eq!(last, Duration::from_secs(60));
    }

    // ---- data-driven transcripts ----------------------------------------------------------

    fn fmt_zxid(z: i64) -> String {
        format!("{:#x}", z as u64)
    }

    fn fmt_vote_fields(leader: i64, zxid: i64, round: i64, epoch: i64) -> String {
        format!(
            "leader={leader} zxid={} round={round} epoch={epoch}",
            fmt_zxid(zxid)
        )
    }

    fn render(r: &Ready, out: &mut String) {
        for a in &r.actions {
            match a {
                Action::Send { to, msg } => {
                    let _ = writeln!(
                        out,
                        "send to={to} {} {}",
                        msg.state,
                        fmt_vote_fields(msg.leader, msg.zxid, msg.election_epoch, msg.peer_epoch)
                    );
                }
                Action::Decided { state, vote } => {
                    let _ = writeln!(
                        out,
                        "decided {state} {}",
                        fmt_vote_fields(
                            vote.leader,
                            vote.zxid,
                            vote.election_epoch,
                            vote.peer_epoch
                        )
                    );
                }
            }
        }
        match r.timer {
            TimerCmd::Unchanged => {}
            TimerCmd::Set(d) => {
                let _ = writeln!(out, "timer {}ms", d.as_millis());
            }
            TimerCmd::Cancel => {
                let _ = writeln!(out, "timer cancel");
            }
        }
    }

    fn parse_i64(s: &str) -> i64 {
        if let Some(h) = s.strip_prefix("0x") {
            u64::from_str_radix(h, 16).unwrap_or_else(|_| panic!("bad hex {s}")) as i64
        } else if s == "min" {
            i64::MIN
        } else {
            s.parse().unwrap_or_else(|_| panic!("bad number {s}"))
        }
    }

    fn args(words: &[&str]) -> HashMap<String, String> {
        words
            .iter()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn ids(s: &str) -> BTreeSet<u64> {
        s.split(',')
            .filter(|x| !x.is_empty())
            .map(|x| x.parse().unwrap())
            .collect()
    }

    /// Runs one command against `e` and renders what it produced.
    fn run_cmd(e: &mut Option<Election>, line: &str, out: &mut String) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let a = args(&words[1..]);
        let get = |k: &str| {
            a.get(k)
                .unwrap_or_else(|| panic!("{line}: missing {k}="))
                .as_str()
        };
        match words[0] {
            "new" => {
                *e = Some(Election::new(
                    get("id").parse().unwrap(),
                    ids(get("voters")),
                    parse_i64(get("zxid")),
                    parse_i64(get("epoch")),
                ));
                out.push_str("ok\n");
            }
            "start" => render(&e.as_mut().unwrap().start(), out),
            "timeout" => render(&e.as_mut().unwrap().on_timeout(), out),
            "recv" => {
                let state = match words[2] {
                    "LOOKING" => ServerState::Looking,
                    "FOLLOWING" => ServerState::Following,
                    "LEADING" => ServerState::Leading,
                    "OBSERVING" => ServerState::Observing,
                    s => panic!("bad state {s}"),
                };
                let mut msg = Notification::new(
                    state,
                    parse_i64(get("leader")),
                    parse_i64(get("zxid")),
                    parse_i64(get("round")),
                    parse_i64(get("epoch")),
                );
                if let Some(v) = a.get("version") {
                    msg.version = v.parse().unwrap();
                }
                let r = e
                    .as_mut()
                    .unwrap()
                    .on_notification(get("from").parse().unwrap(), msg);
                render(&r, out);
            }
            "update-epoch" => {
                e.as_mut()
                    .unwrap()
                    .update_election_vote(parse_i64(get("epoch")));
                out.push_str("ok\n");
            }
            "state" => {
                let e = e.as_ref().unwrap();
                let p = e.proposal();
                let v = e.current_vote();
                let _ = writeln!(
                    out,
                    "state={}{} round={} proposal=({}) vote=({})",
                    e.state(),
                    if e.finalizing { " finalizing" } else { "" },
                    e.logical_clock(),
                    fmt_vote_fields(p.leader, p.zxid, p.election_epoch, p.peer_epoch),
                    fmt_vote_fields(v.leader, v.zxid, v.election_epoch, v.peer_epoch),
                );
            }
            c => panic!("unknown command {c}"),
        }
    }

    /// raft-rs-style transcript: comment and blank lines, then one or more command lines,
    /// `----`, and the expected output up to a blank line. `REWRITE=1` regenerates the
    /// expected outputs in place.
    fn run_transcript(name: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/quorum/testdata")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut e = None;
        let mut rewritten = String::new();
        let mut failures = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let l = lines[i];
            if l.trim().is_empty() || l.starts_with('#') {
                rewritten.push_str(l);
                rewritten.push('\n');
                i += 1;
                continue;
            }
            let start = i;
            let mut got = String::new();
            while i < lines.len() && lines[i] != "----" {
                run_cmd(&mut e, lines[i], &mut got);
                rewritten.push_str(lines[i]);
                rewritten.push('\n');
                i += 1;
            }
            assert!(i < lines.len(), "{name}:{}: missing ----", start + 1);
            i += 1;
            let mut want = String::new();
            while i < lines.len() && !lines[i].trim().is_empty() {
                want.push_str(lines[i]);
                want.push('\n');
                i += 1;
            }
            rewritten.push_str("----\n");
            rewritten.push_str(&got);
            if got != want {
                failures.push(format!(
                    "{name}:{}: {}\n--- want\n{want}--- got\n{got}",
                    start + 1,
                    lines[start]
                ));
            }
        }
        if std::env::var_os("REWRITE").is_some() {
            std::fs::write(&path, rewritten).unwrap();
            return;
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn transcript_basic_round() {
        run_transcript("basic_round.txt");
    }

    #[test]
    fn transcript_before_start() {
        run_transcript("before_start.txt");
    }

    #[test]
    fn transcript_higher_round() {
        run_transcript("higher_round.txt");
    }

    #[test]
    fn transcript_finalize_wait() {
        run_transcript("finalize_wait.txt");
    }

    #[test]
    fn transcript_join_established() {
        run_transcript("join_established.txt");
    }

    #[test]
    fn transcript_replies_when_not_looking() {
        run_transcript("replies_when_not_looking.txt");
    }

    // ---- simulator ------------------------------------------------------------------------

    /// SplitMix64: small, seeded, reproducible.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            if n == 0 {
                0
            } else {
                self.next() % n
            }
        }
        fn range(&mut self, lo: u64, hi: u64) -> u64 {
            lo + self.below(hi - lo + 1)
        }
        fn chance(&mut self, per_mille: u64) -> bool {
            self.below(1000) < per_mille
        }
    }

    #[derive(Clone, Copy)]
    struct Net {
        min_delay: u64,
        max_delay: u64,
        drop_per_mille: u64,
    }

    enum Ev {
        Deliver {
            from: u64,
            to: u64,
            msg: Notification,
        },
        Timer {
            node: u64,
            gen: u64,
        },
        Check {
            node: u64,
            gen: u64,
        },
        Start {
            node: u64,
        },
    }

    struct SimNode {
        el: Election,
        up: bool,
        zxid: i64,
        epoch: i64,
        timer_gen: u64,
        check_gen: u64,
        decisions: Vec<(u64, ServerState, Vote)>,
    }

    /// N election machines on a simulated clock (milliseconds) and network. With `zab` on,
    /// it also plays the part of ZAB's discovery phase that undoes a bad election: a leader
    /// without a quorum of followers after `init_limit`, or a follower whose leader is not
    /// leading, goes back to LOOKING.
    struct Sim {
        now: u64,
        seq: u64,
        rng: Rng,
        net: Net,
        voters: BTreeSet<u64>,
        nodes: BTreeMap<u64, SimNode>,
        queue: BinaryHeap<Reverse<(u64, u64)>>,
        events: HashMap<u64, Ev>,
        cut: BTreeSet<(u64, u64)>,
        /// Last message per link, which the connection manager sends again when a
        /// connection comes up (`lastMessageSent`).
        last_sent: HashMap<(u64, u64), Notification>,
        zab: bool,
        init_limit: u64,
        max_timer_seen: Duration,
        log: Vec<String>,
    }

    impl Sim {
        fn new(seed: u64, net: Net, voters: &[u64], observers: &[u64], pos: &[(i64, i64)]) -> Sim {
            let voters = set(voters);
            let mut nodes = BTreeMap::new();
            for (i, id) in voters.iter().chain(observers.iter()).enumerate() {
                let (zxid, epoch) = pos.get(i).copied().unwrap_or((0, 0));
                nodes.insert(
                    *id,
                    SimNode {
                        el: Election::new(*id, voters.clone(), zxid, epoch),
                        up: false,
                        zxid,
                        epoch,
                        timer_gen: 0,
                        check_gen: 0,
                        decisions: Vec::new(),
                    },
                );
            }
            Sim {
                now: 0,
                seq: 0,
                rng: Rng(seed),
                net,
                voters,
                nodes,
                queue: BinaryHeap::new(),
                events: HashMap::new(),
                cut: BTreeSet::new(),
                last_sent: HashMap::new(),
                zab: false,
                init_limit: 2000,
                max_timer_seen: Duration::ZERO,
                log: Vec::new(),
            }
        }

        fn at(&mut self, t: u64, ev: Ev) {
            self.seq += 1;
            self.queue.push(Reverse((t, self.seq)));
            self.events.insert(self.seq, ev);
        }

        fn start_at(&mut self, node: u64, t: u64) {
            self.at(t, Ev::Start { node });
        }

        fn apply(&mut self, id: u64, r: Ready) {
            for a in r.actions {
                match a {
                    Action::Send { to, msg } => {
                        assert_ne!(to, id, "a machine never sends to itself");
                        self.last_sent.insert((id, to), msg.clone());
                        if self.rng.chance(self.net.drop_per_mille) {
                            continue;
                        }
                        let d = self.rng.range(self.net.min_delay, self.net.max_delay);
                        self.at(self.now + d, Ev::Deliver { from: id, to, msg });
                    }
                    Action::Decided { state, vote } => {
                        self.log.push(format!(
                            "{} node {id} decided {state} {}",
                            self.now, vote.leader
                        ));
                        let node = self.nodes.get_mut(&id).unwrap();
                        node.decisions.push((self.now, state, vote));
                        if self.zab {
                            node.check_gen += 1;
                            let gen = node.check_gen;
                            self.at(self.now + self.init_limit, Ev::Check { node: id, gen });
                        }
                    }
                }
            }
            let node = self.nodes.get_mut(&id).unwrap();
            match r.timer {
                TimerCmd::Unchanged => {}
                TimerCmd::Cancel => node.timer_gen += 1,
                TimerCmd::Set(d) => {
                    self.max_timer_seen = self.max_timer_seen.max(d);
                    node.timer_gen += 1;
                    let gen = node.timer_gen;
                    self.at(self.now + d.as_millis() as u64, Ev::Timer { node: id, gen });
                }
            }
        }

        fn crash(&mut self, id: u64) {
            let n = self.nodes.get_mut(&id).unwrap();
            n.up = false;
            n.timer_gen += 1;
            n.check_gen += 1;
            self.log.push(format!("{} node {id} crashed", self.now));
        }

        /// Boots a node with a fresh machine (logical clock 0), as a restarted process.
        fn boot(&mut self, id: u64) {
            let voters = self.voters.clone();
            let n = self.nodes.get_mut(&id).unwrap();
            n.el = Election::new(id, voters, n.zxid, n.epoch);
            n.up = true;
            let r = n.el.start();
            self.log.push(format!("{} node {id} booted", self.now));
            self.apply(id, r);
            // Its messages open connections to the others, whose managers then send their
            // last message to it again.
            let peers: Vec<u64> = self.nodes.keys().copied().filter(|p| *p != id).collect();
            for p in peers {
                if !self.nodes[&p].up {
                    continue;
                }
                if let Some(msg) = self.last_sent.get(&(p, id)).cloned() {
                    let d = self.rng.range(self.net.min_delay, self.net.max_delay);
                    self.at(
                        self.now + d,
                        Ev::Deliver {
                            from: p,
                            to: id,
                            msg,
                        },
                    );
                }
            }
        }

        /// Back to LOOKING without restarting the process (the machine keeps its clock).
        fn relook(&mut self, id: u64) {
            let n = self.nodes.get_mut(&id).unwrap();
            n.check_gen += 1;
            let r = n.el.start();
            self.log.push(format!("{} node {id} relooks", self.now));
            self.apply(id, r);
        }

        fn run_until(&mut self, t_end: u64) {
            while let Some(Reverse((t, seq))) = self.queue.peek().copied() {
                if t > t_end {
                    break;
                }
                self.queue.pop();
                self.now = t;
                let ev = self.events.remove(&seq).unwrap();
                self.handle(ev);
            }
            self.now = t_end;
        }

        fn handle(&mut self, ev: Ev) {
            match ev {
                Ev::Start { node } => self.boot(node),
                Ev::Deliver { from, to, msg } => {
                    if !self.nodes[&to].up || self.cut.contains(&(from, to)) {
                        return;
                    }
                    let r = self
                        .nodes
                        .get_mut(&to)
                        .unwrap()
                        .el
                        .on_notification(from, msg);
                    self.apply(to, r);
                }
                Ev::Timer { node, gen } => {
                    let n = &self.nodes[&node];
                    if !n.up || n.timer_gen != gen {
                        return;
                    }
                    let r = self.nodes.get_mut(&node).unwrap().el.on_timeout();
                    self.apply(node, r);
                }
                Ev::Check { node, gen } => {
                    let n = &self.nodes[&node];
                    if !n.up || n.check_gen != gen || n.el.state() == ServerState::Looking {
                        return;
                    }
                    let ok = match n.el.state() {
                        ServerState::Leading => self.quorum_follows(node),
                        _ => {
                            let l = n.el.current_vote().leader as u64;
                            self.nodes
                                .get(&l)
                                .is_some_and(|ln| ln.up && ln.el.state() == ServerState::Leading)
                                && !self.cut.contains(&(node, l))
                                && !self.cut.contains(&(l, node))
                        }
                    };
                    if ok {
                        let t = self.now + self.init_limit;
                        self.at(t, Ev::Check { node, gen });
                    } else {
                        self.relook(node);
                    }
                }
            }
        }

        fn quorum_follows(&self, leader: u64) -> bool {
            let n = self
                .voters
                .iter()
                .filter(|v| {
                    let x = &self.nodes[v];
                    **v == leader
                        || (x.up
                            && x.el.state() == ServerState::Following
                            && x.el.current_vote().leader == leader as i64
                            && !self.cut.contains(&(**v, leader))
                            && !self.cut.contains(&(leader, **v)))
                })
                .count();
            n * 2 > self.voters.len()
        }

        /// The one leader every up node agrees on, if the ensemble has settled.
        fn settled_leader(&self) -> Option<u64> {
            let leaders: Vec<u64> = self
                .nodes
                .iter()
                .filter(|(_, n)| n.up && n.el.state() == ServerState::Leading)
                .map(|(id, _)| *id)
                .collect();
            let [l] = leaders[..] else { return None };
            for (id, n) in &self.nodes {
                if !n.up || *id == l {
                    continue;
                }
                let want = if self.voters.contains(id) {
                    ServerState::Following
                } else {
                    ServerState::Observing
                };
                if n.el.state() != want || n.el.current_vote().leader != l as i64 {
                    return None;
                }
            }
            self.quorum_follows(l).then_some(l)
        }

        fn pos(&self, id: u64) -> (i64, i64, u64) {
            let n = &self.nodes[&id];
            (n.epoch, n.zxid, id)
        }

        fn trace(&self) -> String {
            self.log.join("\n")
        }
    }

    fn random_positions(rng: &mut Rng, n: usize) -> Vec<(i64, i64)> {
        (0..n)
            .map(|_| {
                let epoch = rng.range(1, 3) as i64;
                let zxid = (epoch << 32) | rng.range(0, 3) as i64;
                (zxid, epoch)
            })
            .collect()
    }

    /// Everyone boots within 50 ms and messages take at most 60 ms, well inside
    /// finalizeWait: every node decides exactly once, all on the server with the highest
    /// (epoch, zxid, sid), which leads while the others follow.
    #[test]
    fn sim_simultaneous_start_elects_the_best_vote() {
        for seed in 0..300u64 {
            let mut rng = Rng(seed ^ 0xfeed);
            let size = [3usize, 5, 7][seed as usize % 3];
            let voters: Vec<u64> = (1..=size as u64).collect();
            let pos = random_positions(&mut rng, size);
            let net = Net {
                min_delay: 0,
                max_delay: 60,
                drop_per_mille: 0,
            };
            let mut sim = Sim::new(seed, net, &voters, &[], &pos);
            for v in &voters {
                let t = rng.range(0, 50);
                sim.start_at(*v, t);
            }
            sim.run_until(30_000);
            let best = voters.iter().copied().max_by_key(|v| sim.pos(*v)).unwrap();
            for v in &voters {
                let d = &sim.nodes[v].decisions;
                assert_eq!(
                    d.len(),
                    1,
                    "seed {seed}: node {v} decisions {d:?}\n{}",
                    sim.trace()
                );
                let (_, state, vote) = d[0];
                assert_eq!(
                    vote.leader,
                    best as i64,
                    "seed {seed} node {v}\n{}",
                    sim.trace()
                );
                let want = if *v == best {
                    ServerState::Leading
                } else {
                    ServerState::Following
                };
                assert_eq!(state, want, "seed {seed} node {v}");
            }
            assert_eq!(sim.settled_leader(), Some(best));
        }
    }

    /// Seeded chaos: slow links (up to 400 ms, beyond finalizeWait), drops, one-way cuts,
    /// crashes and restarts for 20 s, then the faults stop (drops stay). With the ZAB
    /// stand-in undoing leaders that never got a quorum, every run settles on one leader
    /// followed by every up voter and observed by every observer; that leader's
    /// (epoch, zxid) is at least that of a majority of voters (so it holds every committed
    /// transaction); no timer ever exceeds 60 s.
    #[test]
    fn sim_chaos_settles_on_one_leader() {
        let (mut relooks, mut decisions) = (0, 0);
        for seed in 0..120u64 {
            let mut rng = Rng(seed ^ 0xc4a05);
            let size = [3usize, 5][seed as usize % 2];
            let voters: Vec<u64> = (1..=size as u64).collect();
            let observers: Vec<u64> = if seed % 3 == 0 {
                vec![size as u64 + 1]
            } else {
                vec![]
            };
            let pos = random_positions(&mut rng, size + observers.len());
            let net = Net {
                min_delay: 1,
                max_delay: rng.range(20, 400),
                drop_per_mille: rng.range(0, 200),
            };
            let mut sim = Sim::new(seed, net, &voters, &observers, &pos);
            sim.zab = true;
            let all: Vec<u64> = voters.iter().chain(observers.iter()).copied().collect();
            for v in &all {
                let t = rng.range(0, 500);
                sim.start_at(*v, t);
            }
            let mut t = 0;
            while t < 20_000 {
                t += rng.range(200, 2000);
                sim.run_until(t);
                let victim = all[rng.below(all.len() as u64) as usize];
                match rng.below(4) {
                    0 if sim.nodes[&victim].up => sim.crash(victim),
                    1 if !sim.nodes[&victim].up => sim.boot(victim),
                    2 => {
                        let other = all[rng.below(all.len() as u64) as usize];
                        if other != victim {
                            sim.cut.insert((victim, other));
                        }
                    }
                    _ => sim.cut.clear(),
                }
            }
            sim.cut.clear();
            for v in &all {
                if !sim.nodes[v].up {
                    sim.boot(*v);
                }
            }
            sim.run_until(20_000 + 15 * 60_000);
            let leader = sim.settled_leader();
            let Some(l) = leader else {
                panic!("seed {seed}: not settled\n{}", sim.trace());
            };
            assert!(voters.contains(&l), "seed {seed}: observer {l} leads");
            let lp = sim.pos(l);
            let behind = voters
                .iter()
                .filter(|v| (sim.pos(**v).0, sim.pos(**v).1) <= (lp.0, lp.1))
                .count();
            assert!(
                behind * 2 > size,
                "seed {seed}: leader {l} {lp:?} is behind a majority"
            );
            assert!(sim.max_timer_seen <= Duration::from_secs(60));
            relooks += sim.log.iter().filter(|l| l.contains("relooks")).count();
            decisions += sim.nodes.values().map(|n| n.decisions.len()).sum::<usize>();
        }
        // The faults did bite: leaders were undone and elections re-run.
        assert!(
            relooks > 100 && decisions > 1000,
            "relooks {relooks} decisions {decisions}"
        );
    }

    /// A server that boots after the ensemble elected its leader joins that leader, even
    /// with a higher sid and zxid: the running servers answer its LOOKING notifications
    /// with FOLLOWING/LEADING ones in their round, which equals its own (`recvset`).
    #[test]
    fn sim_late_node_joins_existing_leader() {
        let net = Net {
            min_delay: 1,
            max_delay: 30,
            drop_per_mille: 0,
        };
        let pos = [(0x1_0000_0005, 1), (0x1_0000_0005, 1), (0x1_0000_0009, 1)];
        let mut sim = Sim::new(7, net, &[1, 2, 3], &[], &pos);
        sim.start_at(1, 0);
        sim.start_at(2, 10);
        sim.run_until(5_000);
        assert_eq!(sim.nodes[&2].el.state(), ServerState::Leading);
        assert_eq!(sim.nodes[&1].el.state(), ServerState::Following);
        sim.boot(3);
        sim.run_until(10_000);
        let d = &sim.nodes[&3].decisions;
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].1, d[0].2.leader), (ServerState::Following, 2));
        assert_eq!(sim.nodes[&3].el.logical_clock(), 1);
        assert_eq!(sim.settled_leader(), Some(2));
    }

    /// A late server whose round is ahead (it went through several elections on its own)
    /// cannot use `recvset`; it joins through `outofelection` and adopts the ensemble's round.
    #[test]
    fn sim_late_node_with_higher_round_joins_via_outofelection() {
        let net = Net {
            min_delay: 1,
            max_delay: 30,
            drop_per_mille: 0,
        };
        let mut sim = Sim::new(8, net, &[1, 2, 3], &[], &[]);
        sim.start_at(1, 0);
        sim.start_at(2, 0);
        sim.run_until(5_000);
        assert_eq!(sim.settled_leader(), Some(2));
        // Node 3 ran four lonely rounds before it could reach anyone.
        let n3 = sim.nodes.get_mut(&3).unwrap();
        n3.up = true;
        for _ in 0..4 {
            let _ = n3.el.start();
        }
        assert_eq!(n3.el.logical_clock(), 4);
        sim.relook(3);
        sim.run_until(10_000);
        let n3 = &sim.nodes[&3];
        assert_eq!(n3.el.state(), ServerState::Following);
        assert_eq!(n3.el.current_vote().leader, 2);
        assert_eq!(n3.el.logical_clock(), 1);
        // The ensemble did not change its mind.
        assert_eq!(sim.settled_leader(), Some(2));
        assert_eq!(sim.nodes[&2].decisions.len(), 1);
    }

    /// A follower that restarts (fresh machine, clock 0) rejoins the leader; the leader,
    /// restarting, triggers a new election that the remaining servers win or rejoin.
    #[test]
    fn sim_restarts_rejoin() {
        let net = Net {
            min_delay: 1,
            max_delay: 50,
            drop_per_mille: 50,
        };
        let mut sim = Sim::new(9, net, &[1, 2, 3, 4, 5], &[], &[]);
        sim.zab = true;
        for v in 1..=5 {
            sim.start_at(v, v * 3);
        }
        sim.run_until(10_000);
        assert_eq!(sim.settled_leader(), Some(5));
        sim.crash(1);
        sim.run_until(11_000);
        sim.boot(1);
        sim.run_until(20_000);
        assert_eq!(sim.settled_leader(), Some(5));
        assert_eq!(sim.nodes[&1].decisions.last().unwrap().2.leader, 5);
        sim.crash(5);
        sim.run_until(60_000);
        assert_eq!(sim.settled_leader(), Some(4), "{}", sim.trace());
        sim.boot(5);
        sim.run_until(120_000);
        // 5 comes back as a follower of 4: the ensemble does not re-elect.
        assert_eq!(sim.settled_leader(), Some(4), "{}", sim.trace());
    }

    /// With only a minority up nobody ever decides, however long it runs; the timeout stops
    /// doubling at 60 s. When a majority is up, they elect.
    #[test]
    fn sim_minority_never_decides() {
        for seed in 0..20u64 {
            let net = Net {
                min_delay: 1,
                max_delay: 100,
                drop_per_mille: 100,
            };
            let mut sim = Sim::new(seed, net, &[1, 2, 3, 4, 5], &[], &[]);
            sim.start_at(2, 0);
            sim.start_at(4, 5);
            sim.run_until(30 * 60_000);
            for v in 1..=5 {
                assert!(
                    sim.nodes[&v].decisions.is_empty(),
                    "seed {seed}: node {v} decided"
                );
            }
            assert_eq!(sim.max_timer_seen, Duration::from_secs(60));
            sim.boot(1);
            // The old nodes are deep in backoff (60 s), but the connections the new node
            // opens carry their last votes to it at once, and its own timeouts start at
            // 200 ms; a dropped message can still cost one 60 s interval.
            sim.run_until(30 * 60_000 + 10 * 60_000);
            for v in [1, 2, 4] {
                let d = &sim.nodes[&v].decisions;
                assert_eq!(d.len(), 1, "seed {seed} node {v}\n{}", sim.trace());
                assert_eq!(d[0].2.leader, 4);
                // Within one capped notification interval of the old nodes, plus slack.
                assert!(d[0].0 - 30 * 60_000 < 120_000, "seed {seed} node {v}: slow");
            }
        }
    }

    /// An observer with the best log never leads; it ends up OBSERVING the best voter.
    #[test]
    fn sim_observer_never_wins() {
        for seed in 0..30u64 {
            let net = Net {
                min_delay: 0,
                max_delay: 60,
                drop_per_mille: 0,
            };
            let pos = [
                (0x1_0000_0001, 1),
                (0x1_0000_0002, 1),
                (0x1_0000_0001, 1),
                (0x9_0000_0009, 9),
            ];
            let mut sim = Sim::new(seed, net, &[1, 2, 3], &[4], &pos);
            for v in 1..=4 {
                sim.start_at(v, seed % 7 * v);
            }
            sim.run_until(30_000);
            assert_eq!(
                sim.settled_leader(),
                Some(2),
                "seed {seed}\n{}",
                sim.trace()
            );
            let d = &sim.nodes[&4].decisions;
            assert_eq!(d.len(), 1);
            assert_eq!((d[0].1, d[0].2.leader), (ServerState::Observing, 2));
        }
    }
}
