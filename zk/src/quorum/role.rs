//! The core's ensemble roles: what the request processor does differently when it leads or
//! follows (`LeaderZooKeeperServer`, `FollowerZooKeeperServer`), around the pure `leader`
//! and `learner` state machines.
//!
//! - **Leading.** Requests are prepared and applied at once, exactly as standalone, and
//!   every txn is proposed to the followers and logged locally. Nothing a client could see
//!   leaves before the txns it may reveal are committed by a quorum: outputs are held with
//!   the last proposed zxid and released by the leader's COMMIT. Writes forwarded by
//!   followers go through the same path with the forwarding session's auth; the follower
//!   answers its client. The leader owns session expiry; followers' touches arrive in PINGs.
//! - **Following.** Reads are answered from the local tree; writes, `sync` and session
//!   creation/closing are forwarded to the leader and answered when the COMMIT comes back
//!   (matched by session id and cxid). A session's reads wait behind its own pending
//!   writes, so each client sees its own writes in order.
//! - **Looking.** No client is served. Every move to LOOKING reloads the data tree from
//!   disk, so speculative changes of a deposed leader and commits a follower never logged
//!   cannot leak into the next role: the database is exactly what the log holds.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::disk_log::DiskTxnLog;
use super::leader::{self, Leader, LeaderConfig, LeaderInit, SyncWaiter};
use super::learner::{self, Learner, LearnerConfig, LearnerInit, LearnerRole};
use super::peer::{Ensemble, PeerCmd};
use super::zab_io::{LeaderEvent, LeaderIo, LearnerEvent, LearnerIo};
use super::zab_wire::{encode_snap_sync, make_zxid, ForwardedRequest};
use crate::core::{deliver_out, CommitJob, ConnTx, Core, ExecFn, Out, Sink};
use crate::datatree::DataTree;
use crate::jute::{ErrorTxn, Id};
use crate::persist::snapshot::{self, DecodedSnapshot, SnapshotNode};
use crate::persist::{files, txnlog};
use crate::proto::op;
use crate::txn::{TxnBody, TxnEntry};
use crate::watch::ConnId;

/// The connection id under which a forwarded request is prepared (its auth comes from the
/// REQUEST packet, not from a local connection).
pub(crate) const FORWARDED: ConnId = u64::MAX;

/// Where the ensemble keeps its state between roles.
pub(crate) struct Quorum {
    pub ens: Ensemble,
    pub peer: tokio::sync::mpsc::UnboundedSender<PeerCmd>,
    pub committer: crossbeam_channel::Sender<CommitJob>,
    /// The generation of the role the peer task last handed over.
    pub gen: u64,
    pub snap_dir: PathBuf,
    pub log_dir: PathBuf,
    pub config_text: Vec<u8>,
    /// Auth of the forwarded request being prepared.
    pub fwd_auth: Vec<Id>,
}

pub(crate) enum Role {
    Standalone,
    Looking,
    Leading(Box<Leading>),
    Following(Box<Following>),
}

pub(crate) struct Leading {
    leader: Leader,
    io: LeaderIo,
    established: bool,
    /// Proposed, not yet handed to the commit thread.
    unlogged: Vec<(i64, Vec<u8>)>,
    /// Outputs waiting for the commit of a zxid, in order.
    held: VecDeque<(i64, Vec<(ConnTx, Out)>)>,
}

/// A client request on a follower waiting for the leader.
enum Pending {
    /// A forwarded write, answered by the COMMIT of (session, xid).
    Write {
        conn: ConnId,
        xid: i32,
        opcode: i32,
        received: Instant,
    },
    /// A forwarded sync, answered by the leader's SYNC.
    Sync {
        conn: ConnId,
        xid: i32,
        body: Vec<u8>,
        received: Instant,
    },
    /// A read queued behind the session's writes.
    Read {
        conn: ConnId,
        xid: i32,
        opcode: i32,
        body: Vec<u8>,
        received: Instant,
    },
}

/// A connect waiting for the leader (new session: its CreateSession commit; old session:
/// REVALIDATE's answer).
struct PendingConnect {
    conn: ConnId,
    timeout: i32,
    old_client: bool,
}

pub(crate) struct Following {
    learner: Learner,
    io: LearnerIo,
    leader_id: u64,
    /// A non-voting member (`:observer`).
    observer: bool,
    serving: bool,
    unlogged: Vec<(i64, Vec<u8>)>,
    pending: HashMap<i64, VecDeque<Pending>>,
    /// Sessions with a forwarded sync, oldest first (the leader answers in order).
    syncs: VecDeque<i64>,
    creating: HashMap<i64, PendingConnect>,
    revalidating: HashMap<i64, PendingConnect>,
    /// A SNAP sync's snapshot, installed at `InstallSnapshot`.
    snapshot: Option<DecodedSnapshot>,
    /// Our tree came from our own disk (DIFF/TRUNC): each committed txn's recorded digest
    /// must match the tree after applying it, or our history is not the leader's. After a
    /// SNAP the tree may be fuzzy (a snapshot can hold txns past its zxid), so the check
    /// stops there.
    verify_digests: bool,
    /// The tree can be rebuilt from the disk (false between installing a SNAP and writing
    /// it as a snapshot), so leaving the role only needs the log's tail applied.
    tree_on_disk: bool,
}

/// A reply a follower owes once a txn is applied.
struct Answer {
    conn: ConnId,
    xid: i32,
    opcode: i32,
    received: Instant,
}

/// The newest `n` txns of the log (ZKDatabase's committedLog after loading), so that a
/// learner a little behind gets a DIFF without reading the disk again.
fn recent_txns(log_dir: &std::path::Path, last: i64, n: usize) -> Vec<super::sync::CommittedTxn> {
    let mut v: VecDeque<super::sync::CommittedTxn> = VecDeque::with_capacity(n + 1);
    // Only the tail is read: zxids of one epoch are consecutive, so the last n txns start
    // at or after last - n (fewer when the epoch is younger; DIFF then reads the disk).
    let from = last.saturating_sub(n as i64).max(0);
    let r = txnlog::read_log_readonly(log_dir, from, |zxid, payload| {
        v.push_back((zxid, Arc::from(payload)));
        if v.len() > n {
            v.pop_front();
        }
        Ok(())
    });
    if let Err(e) = r {
        tracing::warn!("cannot read recent txns for DIFF syncs: {e}");
        return Vec::new();
    }
    v.into()
}

use crate::zkdb::fatal;

impl Core {
    fn quorum(&self) -> &Quorum {
        match &self.quorum {
            Some(q) => q,
            None => fatal("ensemble role without an ensemble"),
        }
    }

    fn now_u(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Whether clients are served now.
    pub(crate) fn is_serving(&self) -> bool {
        match &self.role {
            Role::Standalone => true,
            Role::Looking => false,
            Role::Leading(l) => l.established,
            Role::Following(f) => f.serving,
        }
    }

    /// `Mode:` of srvr/stat and `zk_server_state` of mntr.
    pub(crate) fn mode_name(&self) -> &'static str {
        match &self.role {
            Role::Standalone => "standalone",
            Role::Looking => "looking",
            Role::Leading(_) => "leader",
            Role::Following(f) if f.observer => "observer",
            Role::Following(_) => "follower",
        }
    }

    /// Leader-only mntr rows: (learners, followers, synced followers, pending syncs).
    pub(crate) fn leader_stats(&self) -> Option<(usize, usize, usize, usize)> {
        let Role::Leading(l) = &self.role else {
            return None;
        };
        let ls = l.leader.learners();
        let followers = ls
            .iter()
            .filter(|s| s.kind == leader::LearnerKind::Follower)
            .count();
        let synced = ls
            .iter()
            .filter(|s| s.kind == leader::LearnerKind::Follower && s.synced)
            .count();
        Some((ls.len(), followers, synced, l.leader.pending_sync_count()))
    }

    fn epochs(&self) -> (i64, i64) {
        let q = self.quorum();
        let last = self.tree.last_processed_zxid;
        let read = |name: &str| match files::read_epoch(&q.snap_dir, name) {
            Ok(Some(v)) => v,
            Ok(None) => super::zab_wire::epoch_of(last),
            Err(e) => fatal(&format!("cannot read {name}: {e}")),
        };
        (read("acceptedEpoch"), read("currentEpoch"))
    }

    fn write_epoch(&self, name: &str, v: i64) {
        if let Err(e) = files::write_epoch(&self.quorum().snap_dir, name, v) {
            fatal(&format!("cannot write {name}: {e}"));
        }
    }

    /// Runs `f` on the commit thread after everything queued is durable, and waits.
    fn on_committer(&self, f: impl FnOnce(&mut crate::zkdb::Committer) + Send + 'static) {
        let (tx, rx) = std::sync::mpsc::channel();
        let job = CommitJob::Exec(ExecFn(Box::new(move |c| {
            f(c);
            let _ = tx.send(());
        })));
        if self.quorum().committer.send(job).is_err() || rx.recv().is_err() {
            fatal("the commit thread is gone");
        }
    }

    // ---- role changes -------------------------------------------------------------------

    pub(crate) fn become_leader(&mut self, gen: u64, io: LeaderIo) {
        let Some(q) = self.quorum.as_mut() else {
            return;
        };
        q.gen = gen;
        let (accepted, current) = self.epochs();
        let q = self.quorum();
        let mut cfg = LeaderConfig::new(
            q.ens.my_id,
            q.ens.voters(),
            q.ens.tick_time,
            q.ens.init_limit,
            q.ens.sync_limit,
        );
        cfg.config_text = q.config_text.clone();
        let init = LeaderInit {
            accepted_epoch: accepted,
            current_epoch: current,
            last_processed_zxid: self.tree.last_processed_zxid,
            committed_log: recent_txns(
                &q.log_dir,
                self.tree.last_processed_zxid,
                cfg.commit_log_count,
            ),
        };
        let source = DiskTxnLog::new(q.log_dir.clone(), q.snap_dir.clone(), 0.33);
        let mut leader = Leader::new(cfg, init, Box::new(source));
        let actions = leader.start(self.now_u());
        self.role = Role::Leading(Box::new(Leading {
            leader,
            io,
            established: false,
            unlogged: Vec::new(),
            held: VecDeque::new(),
        }));
        self.leader_actions(actions);
    }

    pub(crate) fn become_follower(&mut self, gen: u64, io: LearnerIo, leader_id: u64) {
        let Some(q) = self.quorum.as_mut() else {
            return;
        };
        q.gen = gen;
        let (accepted, current) = self.epochs();
        let q = self.quorum();
        let observer = q.ens.me().is_some_and(|s| s.observer);
        let cfg = LearnerConfig {
            my_id: q.ens.my_id as i64,
            role: if observer {
                LearnerRole::Observer
            } else {
                LearnerRole::Follower
            },
            tick_time: q.ens.tick_time,
            init_limit: q.ens.init_limit,
            sync_limit: q.ens.sync_limit,
            config_version: 0,
        };
        let mut learner = Learner::new(
            cfg,
            LearnerInit {
                accepted_epoch: accepted,
                current_epoch: current,
                last_logged_zxid: self.tree.last_processed_zxid,
            },
        );
        let actions = learner.start(self.now_u());
        self.role = Role::Following(Box::new(Following {
            learner,
            io,
            leader_id,
            observer,
            serving: false,
            unlogged: Vec::new(),
            pending: HashMap::new(),
            syncs: VecDeque::new(),
            creating: HashMap::new(),
            revalidating: HashMap::new(),
            snapshot: None,
            verify_digests: true,
            tree_on_disk: true,
        }));
        self.learner_actions(actions);
    }

    /// Ends the current role: clients are disconnected, what was logged is made durable,
    /// the tree is reloaded from disk and the peer task starts an election.
    pub(crate) fn enter_looking(&mut self, why: &str) {
        if matches!(self.role, Role::Standalone | Role::Looking) {
            return;
        }
        self.leave_role(why, false);
    }

    /// [`enter_looking`](Self::enter_looking); `force_reload` rebuilds the tree from disk even
    /// when a follower's tree could be kept.
    fn leave_role(&mut self, why: &str, force_reload: bool) {
        tracing::warn!("leaving {} role: {why}", self.mode_name());
        let keep_tree = match std::mem::replace(&mut self.role, Role::Looking) {
            // A leader's tree may hold prepared txns that were never logged: reload.
            Role::Leading(l) => {
                l.io.disconnect_all();
                false
            }
            Role::Following(f) => {
                f.io.close();
                // Proposals it received are logged, as they would have been anyway, so
                // that everything applied to the tree is in the log.
                if !f.unlogged.is_empty() {
                    let _ = self.quorum().committer.send(CommitJob::Batch {
                        txns: f.unlogged,
                        outputs: Vec::new(),
                    });
                }
                f.tree_on_disk && !force_reload
            }
            _ => false,
        };
        self.outputs.clear();
        self.txns.clear();
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for c in conns {
            if let Some(conn) = self.conns.get_mut(&c) {
                conn.session = 0;
                deliver_out(&self.stats, &conn.tx, Out::Close);
            }
        }
        self.session_conn.clear();
        if !(keep_tree && self.catch_up_from_log()) {
            self.reload();
        }
        let (_, current) = self.epochs();
        let last = self.tree.last_processed_zxid;
        let _ = self.quorum().peer.send(PeerCmd::Looking {
            last_zxid: last,
            current_epoch: current,
        });
    }

    /// Brings a follower's tree to what the disk holds by applying the logged proposals it
    /// had not committed yet (no snapshot load, no full replay: a failover should not cost
    /// a database reload). False if the tree and the log disagree; then reload.
    fn catch_up_from_log(&mut self) -> bool {
        self.on_committer(|c| c.reopen());
        let from = self.tree.last_processed_zxid;
        let log_dir = self.quorum().log_dir.clone();
        let mut triggers = Vec::new();
        let tree = &mut self.tree;
        let scan = txnlog::read_log_readonly(&log_dir, from, |zxid, payload| {
            crate::zkdb::replay_entry(tree, zxid, payload, &mut triggers).map(|_| ())
        });
        match scan {
            Ok(scan) if scan.last_logged_zxid.is_none_or(|l| l >= from) => {
                tracing::info!(
                    "kept the database: {} logged txns applied, last zxid 0x{:x}",
                    scan.count,
                    self.tree.last_processed_zxid
                );
                self.reset_after_role();
                true
            }
            Ok(scan) => {
                tracing::warn!(
                    "the tree (0x{from:x}) is ahead of the log ({:?}): reloading",
                    scan.last_logged_zxid
                );
                false
            }
            Err(e) => {
                tracing::warn!("cannot read the log tail ({e}): reloading");
                false
            }
        }
    }

    /// Replaces the tree with what the disk holds (after the log is durable).
    fn reload(&mut self) {
        self.on_committer(|c| c.reopen());
        let q = self.quorum();
        let data_dir = self.cfg.data_dir.clone();
        let log_dir = self.cfg.data_log_dir.clone();
        let _ = q;
        match crate::zkdb::recover(&data_dir, &log_dir, self.cfg.extended_types_enabled) {
            Ok((tree, info)) => {
                tracing::info!(
                    "reloaded database: last zxid 0x{:x}, {} nodes",
                    info.last_zxid.max(tree.last_processed_zxid),
                    tree.node_count()
                );
                self.install_tree(tree);
            }
            Err(e) => fatal(&format!("cannot reload the database: {e}")),
        }
    }

    /// `ZKDatabase.initConfigInZKDatabase`: /zookeeper/config holds the ensemble's config
    /// text, with version -1 and the config version as mzxid, on every member.
    pub(crate) fn init_config_node(&mut self) {
        let Some(q) = &self.quorum else {
            return;
        };
        let text = q.config_text.clone();
        let mut triggers = Vec::new();
        let _ = self.tree.set_data(
            "/zookeeper/config",
            Some(text),
            -1,
            0,
            crate::core::now_wall(),
            &mut triggers,
        );
    }

    fn install_tree(&mut self, tree: DataTree) {
        self.tree = tree;
        self.reset_after_role();
    }

    /// Sessions restart their timeouts, watches belong to closed connections.
    fn reset_after_role(&mut self) {
        self.init_config_node();
        let now = self.now_i();
        self.sessions = crate::session::SessionTracker::new(
            self.cfg.tick_time,
            self.server_id,
            crate::core::now_wall(),
        );
        let sessions: Vec<(i64, i32)> = self.tree.sessions.iter().map(|(a, b)| (*a, *b)).collect();
        for (id, to) in sessions {
            self.sessions.add(id, to, now);
        }
        self.watches = crate::watch::WatchManager::default();
    }

    fn now_i(&self) -> i64 {
        self.started.elapsed().as_millis() as i64
    }

    /// Removes snapshots newer than `zxid` (they hold txns being dropped) and the log
    /// entries after it.
    fn truncate_disk(&self, zxid: i64) {
        let q = self.quorum();
        if let Ok(snaps) = files::list_snapshots(&q.snap_dir) {
            for s in snaps.iter().filter(|s| s.zxid > zxid) {
                tracing::info!("removing {} (after 0x{zxid:x})", s.path.display());
                let _ = std::fs::remove_file(&s.path);
            }
        }
        let log_dir = q.log_dir.clone();
        self.on_committer(move |c| {
            match txnlog::truncate_to(&log_dir, zxid) {
                Ok(r) => tracing::info!(
                    "truncated the log to 0x{zxid:x}: {} files removed, last zxid {:?}",
                    r.removed.len(),
                    r.last_zxid.map(|z| format!("0x{z:x}"))
                ),
                Err(e) => fatal(&format!("cannot truncate the log to 0x{zxid:x}: {e}")),
            }
            c.reopen();
        });
    }

    fn write_snapshot_now(&self) {
        let q = self.quorum();
        let zxid = self.tree.last_processed_zxid;
        let bytes = crate::zkdb::snapshot_of(&self.tree);
        if let Err(e) = snapshot::write_snapshot_file(&q.snap_dir, zxid, &bytes) {
            fatal(&format!("cannot write snapshot 0x{zxid:x}: {e}"));
        }
        self.on_committer(|c| c.reopen());
    }

    // ---- events from the peer task ------------------------------------------------------

    pub(crate) fn zab_event(&mut self, gen: u64, ev: crate::core::ZabEvent) {
        if self.quorum.as_ref().map(|q| q.gen) != Some(gen) {
            return;
        }
        let now = self.now_u();
        match ev {
            crate::core::ZabEvent::Leader(e) => {
                let Role::Leading(l) = &mut self.role else {
                    return;
                };
                let actions = match e {
                    LeaderEvent::Connected { conn, peer } => {
                        tracing::info!("learner connection {conn} from {peer}");
                        return;
                    }
                    LeaderEvent::Packet { conn, packet } => l.leader.on_packet(now, conn, packet),
                    LeaderEvent::Closed { conn, error } => {
                        tracing::info!("learner connection {conn} closed: {error}");
                        l.leader.on_disconnect(now, conn)
                    }
                };
                self.leader_actions(actions);
            }
            crate::core::ZabEvent::Learner(e) => {
                let Role::Following(f) = &mut self.role else {
                    return;
                };
                let actions = match e {
                    LearnerEvent::Packet(p) => f.learner.on_packet(now, p),
                    LearnerEvent::Snapshot { zxid, snapshot, .. } => {
                        f.snapshot = Some(snapshot);
                        f.learner
                            .on_packet(now, super::zab_wire::ZabPacket::Snap { zxid })
                    }
                    LearnerEvent::Closed(e) => {
                        self.enter_looking(&format!("connection to the leader closed: {e}"));
                        return;
                    }
                };
                self.learner_actions(actions);
            }
        }
    }

    pub(crate) fn lost_leader(&mut self, gen: u64, why: &str) {
        if self.quorum.as_ref().map(|q| q.gen) != Some(gen) {
            return;
        }
        tracing::warn!("{why}");
        // Nothing was handed over for this generation: ask for a new election directly.
        if matches!(self.role, Role::Looking) {
            let (_, current) = self.epochs();
            let _ = self.quorum().peer.send(PeerCmd::Looking {
                last_zxid: self.tree.last_processed_zxid,
                current_epoch: current,
            });
        } else {
            self.enter_looking(why);
        }
    }

    /// The commit thread made the log durable up to `zxid`.
    pub(crate) fn logged(&mut self, zxid: i64) {
        match &mut self.role {
            Role::Leading(l) => {
                let a = l.leader.on_logged(zxid);
                self.leader_actions(a);
            }
            Role::Following(f) => {
                let a = f.learner.on_logged(zxid);
                self.learner_actions(a);
            }
            _ => {}
        }
    }

    // ---- leader -------------------------------------------------------------------------

    fn leader_actions(&mut self, actions: Vec<leader::Action>) {
        for a in actions {
            let now = self.now_i();
            let Role::Leading(l) = &mut self.role else {
                return;
            };
            match a {
                leader::Action::Send { to, packet } => {
                    l.io.send(to, &packet);
                }
                leader::Action::SendSnapshot { to, zxid } => {
                    let mut out = Vec::new();
                    let mut sessions: Vec<(i64, i32)> =
                        self.tree.sessions.iter().map(|(a, b)| (*a, *b)).collect();
                    sessions.sort();
                    let acls = self.tree.acls.entries();
                    let mut nodes = self.tree.preorder().map(|(p, n)| SnapshotNode {
                        path: p,
                        data: n.data.as_deref(),
                        acl_index: n.acl,
                        stat: &n.stat,
                    });
                    encode_snap_sync(&mut out, zxid, &sessions, &acls, &mut nodes);
                    tracing::info!(
                        "sending a snapshot at 0x{zxid:x} ({} bytes) to learner connection {to}",
                        out.len()
                    );
                    l.io.send_raw(to, out);
                }
                leader::Action::Disconnect { conn, reason } => {
                    tracing::warn!("dropping learner connection {conn}: {reason}");
                    l.io.disconnect(conn);
                }
                leader::Action::WriteAcceptedEpoch(e) => self.write_epoch("acceptedEpoch", e),
                leader::Action::WriteCurrentEpoch(e) => self.write_epoch("currentEpoch", e),
                leader::Action::Established { epoch } => {
                    l.established = true;
                    self.tree.last_processed_zxid = make_zxid(epoch, 0);
                    tracing::info!("LEADING - epoch {epoch} established, serving clients");
                    let _ = self.quorum().peer.send(PeerCmd::Serving { epoch });
                    // Sessions restart their timeouts from now, as on a new leader.
                    let ids: Vec<(i64, i32)> =
                        self.tree.sessions.iter().map(|(a, b)| (*a, *b)).collect();
                    for (id, to) in ids {
                        self.sessions.add(id, to, now);
                    }
                }
                leader::Action::Commit { zxid } => {
                    while l.held.front().is_some_and(|(z, _)| *z <= zxid) {
                        if let Some((_, outs)) = l.held.pop_front() {
                            for (tx, out) in outs {
                                deliver_out(&self.stats, &tx, out);
                            }
                        }
                    }
                }
                leader::Action::Request { from, request, .. } => self.forwarded(from, request),
                leader::Action::TouchSessions { touches, .. } => {
                    for t in touches {
                        self.sessions.touch(t.session_id, None, now);
                    }
                }
                leader::Action::Revalidate {
                    from,
                    session_id,
                    timeout,
                } => {
                    let valid = self.sessions.touch(session_id, Some(timeout), now);
                    let a = l.leader.revalidate_reply(from, session_id, valid);
                    self.leader_actions(a);
                }
                leader::Action::SyncDone { .. } => {}
                leader::Action::StepDown { reason } => {
                    self.enter_looking(&format!("stepping down: {reason}"));
                    return;
                }
            }
        }
    }

    /// Proposes the txns prepared since the last call (in zxid order).
    fn propose_prepared(&mut self) {
        if self.txns.is_empty() {
            return;
        }
        let now = self.now_u();
        let txns = std::mem::take(&mut self.txns);
        let mut actions = Vec::new();
        {
            let Role::Leading(l) = &mut self.role else {
                return;
            };
            for (zxid, bytes) in txns {
                match l.leader.propose(now, zxid, Arc::from(bytes.as_slice())) {
                    Ok(a) => actions.extend(a),
                    Err(e) => {
                        drop(actions);
                        self.enter_looking(&format!("cannot propose 0x{zxid:x}: {e}"));
                        return;
                    }
                }
                l.unlogged.push((zxid, bytes));
            }
        }
        self.leader_actions(actions);
    }

    /// A client request a follower forwarded (`Leader.REQUEST`).
    fn forwarded(&mut self, from: u64, r: ForwardedRequest) {
        let sid = r.session_id;
        tracing::debug!(
            "forwarded op {} of 0x{sid:x} from learner connection {from}",
            r.op_type
        );
        let now = self.now_i();
        match r.op_type {
            op::CREATE_SESSION => {
                let timeout = match <[u8; 4]>::try_from(r.body.get(..4).unwrap_or(&[])) {
                    Ok(b) => i32::from_be_bytes(b),
                    Err(_) => return,
                };
                self.sessions.add(sid, timeout, now);
                self.commit_txn(
                    sid,
                    r.cxid,
                    TxnBody::CreateSession(crate::jute::CreateSessionTxn { time_out: timeout }),
                );
            }
            op::CLOSE_SESSION => {
                self.close_session(sid, r.cxid);
            }
            op::SYNC => {
                self.sessions.touch(sid, None, now);
                // Everything prepared before the sync is proposed before it is queued.
                self.propose_prepared();
                if let Role::Leading(l) = &mut self.role {
                    let a = l.leader.process_sync(SyncWaiter::Learner(from));
                    self.leader_actions(a);
                }
            }
            op::MULTI => {
                self.sessions.touch(sid, None, now);
                if let Some(q) = self.quorum.as_mut() {
                    q.fwd_auth = r.authinfo;
                }
                let _ = self.multi(FORWARDED, sid, r.cxid, &r.body);
            }
            o if op::is_single_write(o) => {
                self.sessions.touch(sid, None, now);
                if let Some(q) = self.quorum.as_mut() {
                    q.fwd_auth = r.authinfo;
                }
                let txn = self
                    .prep(FORWARDED, sid, r.op_type, &r.body)
                    .unwrap_or_else(|e| TxnBody::Error(ErrorTxn { err: e }));
                self.commit_txn(sid, r.cxid, txn);
            }
            other => {
                tracing::warn!("ignoring forwarded request of type {other} from session 0x{sid:x}");
            }
        }
    }

    // ---- follower -----------------------------------------------------------------------

    fn learner_actions(&mut self, actions: Vec<learner::Action>) {
        for a in actions {
            let Role::Following(f) = &mut self.role else {
                return;
            };
            match a {
                learner::Action::Send(p) => {
                    f.io.send(&p);
                }
                learner::Action::WriteAcceptedEpoch(e) => self.write_epoch("acceptedEpoch", e),
                learner::Action::WriteCurrentEpoch(e) => self.write_epoch("currentEpoch", e),
                learner::Action::InstallSnapshot { zxid } => {
                    let Some(s) = f.snapshot.take() else {
                        self.enter_looking("SNAP without a snapshot");
                        return;
                    };
                    match DataTree::from_snapshot(
                        self.cfg.extended_types_enabled,
                        s.sessions,
                        s.acls,
                        s.nodes,
                        zxid,
                    ) {
                        Ok(t) => {
                            f.verify_digests = false;
                            f.tree_on_disk = false;
                            tracing::info!("installing the leader's snapshot at 0x{zxid:x}");
                            self.truncate_disk(zxid);
                            self.install_tree(t);
                        }
                        Err(e) => {
                            self.enter_looking(&format!("bad snapshot from the leader: {e}"));
                            return;
                        }
                    }
                }
                learner::Action::Truncate { zxid } => {
                    tracing::info!("truncating to 0x{zxid:x} as the leader asks");
                    self.truncate_disk(zxid);
                    self.reload();
                    if self.tree.last_processed_zxid != zxid {
                        let z = self.tree.last_processed_zxid;
                        self.enter_looking(&format!(
                            "cannot truncate to 0x{zxid:x}: the database ends at 0x{z:x}"
                        ));
                        return;
                    }
                }
                learner::Action::TakeSnapshot { .. } => {
                    f.tree_on_disk = true;
                    self.write_snapshot_now();
                }
                learner::Action::Log { zxid, txn } => {
                    f.unlogged.push((zxid, txn.to_vec()));
                    self.txns_since_snapshot += 1;
                }
                learner::Action::Apply { zxid, txn } => {
                    if let Err(e) = self.apply_committed(zxid, &txn) {
                        self.enter_looking(&e);
                        return;
                    }
                }
                learner::Action::StartServing { epoch } => {
                    f.serving = true;
                    // As Apache's learner: the new epoch's start is our last processed zxid
                    // (srvr shows it; clients that saw it may connect here).
                    let start = make_zxid(epoch, 0);
                    if self.tree.last_processed_zxid < start {
                        self.tree.last_processed_zxid = start;
                    }
                    tracing::info!(
                        "FOLLOWING leader {} in epoch {epoch}, serving clients",
                        f.leader_id
                    );
                    let _ = self.quorum().peer.send(PeerCmd::Serving { epoch });
                }
                learner::Action::SyncDone => {
                    let Some(sid) = f.syncs.pop_front() else {
                        continue;
                    };
                    let Some(q) = f.pending.get_mut(&sid) else {
                        continue;
                    };
                    let Some(i) = q.iter().position(|p| matches!(p, Pending::Sync { .. })) else {
                        continue;
                    };
                    if i == 0 {
                        if let Some(Pending::Sync {
                            conn,
                            xid,
                            body,
                            received,
                        }) = q.pop_front()
                        {
                            self.serve_request(conn, sid, xid, op::SYNC, &body, received);
                            self.drain_reads(sid);
                        }
                    } else if let Some(Pending::Sync {
                        conn,
                        xid,
                        body,
                        received,
                    }) = q.remove(i)
                    {
                        // Writes of the session before it are still on their way: answer
                        // it right after them (FIFO per session).
                        q.insert(
                            i,
                            Pending::Read {
                                conn,
                                xid,
                                opcode: op::SYNC,
                                body,
                                received,
                            },
                        );
                    }
                }
                learner::Action::CheckDigest { zxid, digest } => {
                    let ours = self.tree.digest();
                    if ours != digest {
                        self.diverged(zxid, digest, ours);
                        return;
                    }
                }
                learner::Action::Revalidated { session_id, valid } => {
                    if let Some(pc) = f.revalidating.remove(&session_id) {
                        self.finish_connect(pc, session_id, valid);
                    }
                }
                learner::Action::LostLeader { reason } => {
                    self.enter_looking(&format!("lost the leader: {reason}"));
                    return;
                }
            }
        }
    }

    fn finish_connect(&mut self, pc: PendingConnect, sid: i64, valid: bool) {
        if valid {
            self.bind(pc.conn, sid, pc.timeout);
        }
        let f = self.connect_response(valid, sid, pc.timeout, pc.old_client);
        self.send(pc.conn, Out::Reply(f, None));
        if !valid {
            self.close_conn(pc.conn);
        }
    }

    /// A connect on a follower: new sessions are created by the leader, old ones
    /// revalidated with it. Returns false when the core should handle it as standalone.
    pub(crate) fn follower_connect(
        &mut self,
        conn: ConnId,
        session_id: i64,
        passwd_ok: bool,
        timeout: i32,
        old_client: bool,
    ) -> bool {
        let Role::Following(f) = &mut self.role else {
            return false;
        };
        let pc = PendingConnect {
            conn,
            timeout,
            old_client,
        };
        tracing::debug!("connect {conn} (session 0x{session_id:x}) through the leader");
        if session_id == 0 {
            let sid = self.sessions.next_id();
            let Role::Following(f) = &mut self.role else {
                return true;
            };
            f.creating.insert(sid, pc);
            let req = ForwardedRequest {
                session_id: sid,
                cxid: 0,
                op_type: op::CREATE_SESSION,
                body: timeout.to_be_bytes().to_vec(),
                authinfo: Vec::new(),
            };
            if let learner::Action::Send(p) = f.learner.forward_request(req) {
                f.io.send(&p);
            }
        } else if !passwd_ok {
            self.finish_connect(pc, session_id, false);
        } else {
            f.revalidating.insert(session_id, pc);
            if let learner::Action::Send(p) = f.learner.revalidate(session_id, timeout) {
                f.io.send(&p);
            }
        }
        true
    }

    /// A client request on a follower. Returns true if it was forwarded or queued, false
    /// if the core should answer it locally now.
    pub(crate) fn follower_request(
        &mut self,
        conn: ConnId,
        sid: i64,
        xid: i32,
        opcode: i32,
        body: &[u8],
        received: Instant,
    ) -> bool {
        let timeout = self.conns.get(&conn).map_or(0, |c| c.timeout);
        let auth = self
            .conns
            .get(&conn)
            .map(|c| c.auth.clone())
            .unwrap_or_default();
        let Role::Following(f) = &mut self.role else {
            return false;
        };
        f.learner.touch_session(sid, timeout);
        let forward = op::is_single_write(opcode)
            || matches!(opcode, op::MULTI | op::CLOSE_SESSION | op::SYNC);
        let q = f.pending.entry(sid).or_default();
        if forward {
            let req = ForwardedRequest {
                session_id: sid,
                cxid: xid,
                op_type: opcode,
                body: body.to_vec(),
                authinfo: auth,
            };
            if opcode == op::SYNC {
                q.push_back(Pending::Sync {
                    conn,
                    xid,
                    body: body.to_vec(),
                    received,
                });
                f.syncs.push_back(sid);
            } else {
                q.push_back(Pending::Write {
                    conn,
                    xid,
                    opcode,
                    received,
                });
            }
            if let learner::Action::Send(p) = f.learner.forward_request(req) {
                f.io.send(&p);
            }
            return true;
        }
        let local_now = matches!(opcode, op::PING | op::AUTH | op::SASL);
        if q.is_empty() || local_now {
            if q.is_empty() {
                f.pending.remove(&sid);
            }
            return false;
        }
        q.push_back(Pending::Read {
            conn,
            xid,
            opcode,
            body: body.to_vec(),
            received,
        });
        true
    }

    /// Answers the reads at the front of a session's queue (up to its next write).
    fn drain_reads(&mut self, sid: i64) {
        loop {
            let Role::Following(f) = &mut self.role else {
                return;
            };
            let Some(q) = f.pending.get_mut(&sid) else {
                return;
            };
            match q.front() {
                Some(Pending::Read { .. }) => {}
                None => {
                    f.pending.remove(&sid);
                    return;
                }
                _ => return,
            }
            if let Some(Pending::Read {
                conn,
                xid,
                opcode,
                body,
                received,
            }) = q.pop_front()
            {
                self.serve_request(conn, sid, xid, opcode, &body, received);
            }
        }
    }

    /// Applies a committed txn on a follower and answers the local client that sent it.
    fn apply_committed(&mut self, zxid: i64, txn: &[u8]) -> Result<(), String> {
        let e = TxnEntry::decode(txn).map_err(|e| format!("undecodable txn 0x{zxid:x}: {e}"))?;
        let client = e.hdr.client_id;
        let cxid = e.hdr.cxid;
        let mut triggers = std::mem::take(&mut self.triggers);
        let rc = self
            .tree
            .apply(client, e.hdr.zxid, e.hdr.time, &e.body, &mut triggers);
        let verify = matches!(&self.role, Role::Following(f) if f.verify_digests);
        if let (true, Some(d)) = (verify, &e.digest) {
            let ours = self.tree.digest();
            if d.tree_digest != ours && !matches!(e.body, TxnBody::Error(_)) {
                triggers.clear();
                self.triggers = triggers;
                self.diverged(zxid, d.tree_digest, ours);
                return Ok(());
            }
        }
        self.deliver(&mut triggers);
        self.triggers = triggers;
        let now = self.now_i();
        match &e.body {
            TxnBody::CreateSession(t) => {
                self.sessions.add(client, t.time_out, now);
                if let Role::Following(f) = &mut self.role {
                    if let Some(pc) = f.creating.remove(&client) {
                        self.finish_connect(pc, client, true);
                    }
                }
                return Ok(());
            }
            TxnBody::CloseSession(_) => {
                self.sessions.remove(client);
            }
            _ => {}
        }
        // The reply owed to a local client, if this is its request.
        let mut answer = None;
        if let Role::Following(f) = &mut self.role {
            if let Some(q) = f.pending.get_mut(&client) {
                if let Some(Pending::Write { xid, .. }) = q.front() {
                    if *xid == cxid {
                        if let Some(Pending::Write {
                            conn,
                            xid,
                            opcode,
                            received,
                        }) = q.pop_front()
                        {
                            answer = Some(Answer {
                                conn,
                                xid,
                                opcode,
                                received,
                            });
                        }
                    }
                }
            }
        }
        let z = self.tree.last_processed_zxid;
        match answer {
            Some(a) => {
                match a.opcode {
                    op::CLOSE_SESSION => {
                        self.session_conn.remove(&client);
                        if let Some(c) = self.conns.get_mut(&a.conn) {
                            c.session = 0;
                        }
                        self.reply(a.conn, a.xid, z, 0, None, Some(a.received));
                        self.close_conn(a.conn);
                    }
                    op::MULTI => match &e.body {
                        TxnBody::Error(et) => {
                            self.reply(a.conn, a.xid, z, et.err, None, Some(a.received))
                        }
                        _ => {
                            let rsp = Self::multi_response(&rc.multi);
                            self.reply(a.conn, a.xid, z, 0, Some(&rsp), Some(a.received));
                        }
                    },
                    opcode => {
                        let mut rc = rc;
                        if opcode == op::CHECK && rc.err == 0 {
                            rc.stat = self.tree.stat(&rc.path);
                        }
                        let (e, rsp) = Self::write_response(opcode, &rc);
                        self.reply(a.conn, a.xid, z, e, rsp.as_deref(), Some(a.received));
                    }
                }
                self.drain_reads(client);
            }
            None => {
                if matches!(e.body, TxnBody::CloseSession(_)) {
                    // Expired by the leader (or closed elsewhere): drop the local connection.
                    if let Some(conn) = self.session_conn.remove(&client) {
                        if let Some(c) = self.conns.get_mut(&conn) {
                            c.session = 0;
                        }
                        self.close_conn(conn);
                    }
                    if let Role::Following(f) = &mut self.role {
                        f.pending.remove(&client);
                    }
                }
            }
        }
        Ok(())
    }

    /// Our history is not the leader's (a data directory from another ensemble or an old
    /// standalone run): ZooKeeper would serve it mixed with the leader's txns, so that this
    /// member and the others answer differently. Keep it for the operator, start empty and
    /// resync from the leader, which then sends its whole state.
    fn diverged(&mut self, zxid: i64, theirs: i64, ours: i64) {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let q = self.quorum();
        let dirs: Vec<PathBuf> = if q.snap_dir == q.log_dir {
            vec![q.snap_dir.clone()]
        } else {
            vec![q.snap_dir.clone(), q.log_dir.clone()]
        };
        let moved: Vec<String> = dirs
            .iter()
            .map(|d| format!("{}.diverged-{stamp}", d.display()))
            .collect();
        tracing::error!(
            "refusing our local data: after txn 0x{zxid:x} the leader's history has tree digest {theirs} but ours is {ours}, so this data directory holds a different history (another ensemble's, or an old standalone run's); moving it to {} and resyncing from the leader",
            moved.join(" and ")
        );
        let plan: Vec<(PathBuf, PathBuf)> = dirs
            .into_iter()
            .zip(moved.iter().map(PathBuf::from))
            .collect();
        self.on_committer(move |c| {
            for (from, to) in &plan {
                if let Err(e) = std::fs::rename(from, to) {
                    fatal(&format!("cannot move {} aside: {e}", from.display()));
                }
                if let Err(e) = std::fs::create_dir_all(from) {
                    fatal(&format!("cannot recreate {}: {e}", from.display()));
                }
            }
            c.reopen();
        });
        self.leave_role("diverged history moved aside", true);
    }

    // ---- shared hooks -------------------------------------------------------------------

    /// `flush` for the ensemble roles.
    pub(crate) fn quorum_flush(&mut self, sink: &mut dyn Sink) {
        match &self.role {
            Role::Leading(_) => {
                self.propose_prepared();
                let Role::Leading(l) = &mut self.role else {
                    // Proposing may have ended the role.
                    return;
                };
                let txns = std::mem::take(&mut l.unlogged);
                if !txns.is_empty() {
                    sink.commit(CommitJob::Batch {
                        txns,
                        outputs: Vec::new(),
                    });
                }
                let outputs = std::mem::take(&mut self.outputs);
                if !outputs.is_empty() {
                    let need = l.leader.last_proposed();
                    // Nothing proposed is waiting (or nothing was ever proposed in this role:
                    // refusals while not established): nothing unsafe can be revealed.
                    if l.held.is_empty() && (!l.established || l.leader.outstanding() == 0) {
                        for (tx, out) in outputs {
                            deliver_out(&self.stats, &tx, out);
                        }
                    } else {
                        l.held.push_back((need, outputs));
                    }
                }
            }
            Role::Following(_) => {
                let Role::Following(f) = &mut self.role else {
                    return;
                };
                let txns = std::mem::take(&mut f.unlogged);
                if !txns.is_empty() {
                    sink.commit(CommitJob::Batch {
                        txns,
                        outputs: Vec::new(),
                    });
                }
                for (tx, out) in std::mem::take(&mut self.outputs) {
                    deliver_out(&self.stats, &tx, out);
                }
            }
            _ => {
                for (tx, out) in std::mem::take(&mut self.outputs) {
                    deliver_out(&self.stats, &tx, out);
                }
                self.txns.clear();
            }
        }
        self.maybe_snapshot(sink);
    }

    /// `tick` for the ensemble roles; true if the standalone duties (session expiry, the
    /// container reaper) should run too.
    pub(crate) fn quorum_tick(&mut self) -> bool {
        let now = self.now_u();
        match &mut self.role {
            Role::Leading(l) => {
                let established = l.established;
                let a = l.leader.on_tick(now);
                self.leader_actions(a);
                established && matches!(self.role, Role::Leading(_))
            }
            Role::Following(f) => {
                let a = f.learner.on_tick(now);
                self.learner_actions(a);
                false
            }
            _ => false,
        }
    }
}
