//! The leader's per-learner synchronization decision (ZAB phase 2, spec §14.4 step 6):
//! given the learner's last zxid and the leader's history, send a DIFF, a TRUNC or a SNAP,
//! and which committed proposals follow it.
//!
//! Follows Apache ZooKeeper 3.8's `LearnerHandler.syncFollower` and
//! `queueCommittedProposals`, with the history being `ZKDatabase`'s in-memory committed log
//! (the last `zookeeper.commitLogCount` txns) and, for older txns, the on-disk log
//! (`ZKDatabase.getProposalsFromTxnLog`, abstracted as [`TxnLogSource`]). The cases, in
//! order:
//!
//! 1. `force_snap` (`zookeeper.forceSnapshotSync`, testing only) → SNAP.
//! 2. The peer is exactly where we are (`peer == lastProcessedZxid`) → empty DIFF(peer).
//! 3. The peer is past our committed log and its zxid is not a new-epoch zxid (counter
//!    0) → TRUNC(maxCommittedLog): it holds txns nobody committed.
//! 4. The peer is inside `[minCommittedLog, maxCommittedLog]` → walk the committed log:
//!    - the peer's zxid is in it → DIFF(maxCommittedLog) and every later txn;
//!    - it is not, but a txn of the same epoch follows it → TRUNC to the last txn before
//!      the peer's zxid (it holds same-epoch txns the leader never had), then every later
//!      txn;
//!    - the next txn is from another epoch → SNAP (a TRUNC may not cross an epoch);
//!    - the peer's zxid is a new-epoch zxid (a former leader that never logged in its
//!      epoch) → DIFF(maxCommittedLog) and every later txn.
//! 5. The peer is older than the committed log and the on-disk log can serve from it →
//!    the same walk over the on-disk log up to `minCommittedLog`, then over the committed
//!    log; if the disk log ends before the committed log starts (a gap) → SNAP.
//! 6. Anything else → SNAP(lastProcessedZxid).
//!
//! An empty committed log is treated as `[lastProcessedZxid, lastProcessedZxid]`.
//! Whatever was decided, the leader then starts forwarding new proposals and commits to the
//! learner from [`SyncPlan::forward_from`] on (`Leader.startForwarding`).

use super::zab_wire::{counter_of, epoch_of, DigestCheck, TxnBytes, ZabPacket};

/// One committed txn of the leader's history: its zxid and payload (TxnHeader + record +
/// optional TxnDigest, the bytes of a log entry and of a PROPOSAL).
pub type CommittedTxn = (i64, TxnBytes);

/// Read access to the leader's on-disk txn log, for learners older than the in-memory
/// committed log (`ZKDatabase.getProposalsFromTxnLog`).
///
/// Contract of [`TxnLogSource::proposals_from`]: return the txns in zxid order **starting
/// at or before** `start_zxid` (Java starts at the first txn of the log file that holds
/// `start_zxid`, which lets a same-epoch divergence be answered with TRUNC rather than
/// SNAP); return `None` when the log cannot serve it: txn-log sync disabled
/// (`zookeeper.snapshotSizeFactor` < 0), no file old enough, the files to read larger
/// than `snapshotSizeFactor` × the newest snapshot's size (default 0.33), or an I/O error.
/// The planner stops reading once it passes the committed log's start, so a lazy iterator
/// reads no more than needed. A source whose first txn is after `start_zxid` is treated as
/// unable to serve.
pub trait TxnLogSource {
    fn proposals_from(
        &mut self,
        start_zxid: i64,
    ) -> Option<Box<dyn Iterator<Item = CommittedTxn> + '_>>;
}

/// A leader without txn-log sync (`snapshotSizeFactor` < 0): learners older than the
/// committed log get a SNAP.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTxnLog;

impl TxnLogSource for NoTxnLog {
    fn proposals_from(&mut self, _: i64) -> Option<Box<dyn Iterator<Item = CommittedTxn> + '_>> {
        None
    }
}

/// An in-memory "disk log", for tests and for callers that already hold the txns.
impl TxnLogSource for Vec<CommittedTxn> {
    fn proposals_from(
        &mut self,
        start_zxid: i64,
    ) -> Option<Box<dyn Iterator<Item = CommittedTxn> + '_>> {
        // Like Java: from the start of the "file", refusing when it begins after start_zxid.
        match self.first() {
            Some((z, _)) if *z <= start_zxid => Some(Box::new(self.iter().cloned())),
            _ => None,
        }
    }
}

/// How the learner is brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// DIFF(zxid): apply the proposals that follow.
    Diff,
    /// TRUNC(zxid): truncate the log to zxid, then apply the proposals that follow.
    Trunc,
    /// SNAP(zxid): the snapshot stream follows; zxid is the leader's lastProcessedZxid.
    Snap,
}

/// The decision for one learner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPlan {
    pub mode: SyncMode,
    /// The zxid of the DIFF/TRUNC/SNAP packet.
    pub op_zxid: i64,
    /// Committed txns to send after the op packet, each as PROPOSAL then COMMIT, in zxid
    /// order. Empty for SNAP.
    pub proposals: Vec<CommittedTxn>,
    /// The last zxid the learner will have after this sync: proposals and commits after it
    /// are forwarded (`startForwarding(lastSeenZxid)`).
    pub forward_from: i64,
    /// DIFF: the digest our history records after the learner's last zxid, when we hold
    /// that txn (see `zab_wire::DigestCheck`).
    pub check: Option<DigestCheck>,
}

impl SyncPlan {
    /// The packets of the plan in send order. For SNAP this is only the SNAP packet: the
    /// snapshot stream body and signature follow it on the wire.
    pub fn packets(&self) -> Vec<ZabPacket> {
        let mut v = Vec::with_capacity(1 + 2 * self.proposals.len());
        v.push(match self.mode {
            SyncMode::Diff => ZabPacket::Diff {
                zxid: self.op_zxid,
                check: self.check,
            },
            SyncMode::Trunc => ZabPacket::Trunc { zxid: self.op_zxid },
            SyncMode::Snap => ZabPacket::Snap { zxid: self.op_zxid },
        });
        for (zxid, txn) in &self.proposals {
            v.push(ZabPacket::Proposal {
                zxid: *zxid,
                txn: txn.clone(),
            });
            v.push(ZabPacket::Commit { zxid: *zxid });
        }
        v
    }
}

/// The leader's side of one sync decision.
pub struct SyncInput<'a> {
    /// The learner's lastLoggedZxid (ACKEPOCH's zxid).
    pub peer_last_zxid: i64,
    /// The leader's data tree lastProcessedZxid.
    pub last_processed_zxid: i64,
    /// The in-memory committed log, ascending by zxid (may be empty).
    pub committed_log: &'a [CommittedTxn],
    /// Force a snapshot (`zookeeper.forceSnapshotSync`; testing only).
    pub force_snap: bool,
}

/// The op packet and the proposals queued so far while walking the history
/// (`LearnerHandler.needOpPacket` and `queuedPackets`).
struct Walk {
    op: Option<(SyncMode, i64)>,
    proposals: Vec<CommittedTxn>,
    /// Our txn at the peer's last zxid, when the history holds it.
    at_peer: Option<TxnBytes>,
}

/// The outcome of walking one history iterator (`queueCommittedProposals`).
enum WalkEnd {
    /// The last zxid queued (or the peer's zxid if nothing was).
    Queued(i64),
    /// The peer diverged across an epoch boundary: a TRUNC is impossible.
    CrossEpoch,
}

impl Walk {
    /// Queues the txns of `history` in `(peer, max_zxid]` (all of them after the peer if
    /// `max_zxid` is None), deciding the op packet at the first txn ≥ the peer's zxid.
    fn queue(
        &mut self,
        history: &mut dyn Iterator<Item = CommittedTxn>,
        peer: i64,
        max_zxid: Option<i64>,
        diff_zxid: i64,
    ) -> WalkEnd {
        let peer_new_epoch = counter_of(peer) == 0;
        let mut queued = peer;
        // The last txn before the peer's zxid: where a TRUNC cuts.
        let mut prev: i64 = -1;
        for (zxid, txn) in history {
            if max_zxid.is_some_and(|m| zxid > m) {
                break;
            }
            if zxid < peer {
                prev = zxid;
                continue;
            }
            if self.op.is_none() {
                if zxid == peer {
                    // The peer's last txn is in our history: everything after it is new.
                    self.op = Some((SyncMode::Diff, diff_zxid));
                    self.at_peer = Some(txn);
                    continue;
                }
                if peer_new_epoch {
                    self.op = Some((SyncMode::Diff, diff_zxid));
                } else {
                    // zxid > peer: the peer holds txns we never had. Cut back to `prev`,
                    // unless that would cross an epoch (the learner cannot do that).
                    if epoch_of(zxid) != epoch_of(peer) {
                        return WalkEnd::CrossEpoch;
                    }
                    self.op = Some((SyncMode::Trunc, prev));
                }
            }
            if zxid <= queued {
                // Duplicates (the disk log and the committed log overlap).
                continue;
            }
            self.proposals.push((zxid, txn));
            queued = zxid;
        }
        if self.op.is_none() && peer_new_epoch {
            // Our history ends before the peer's new-epoch zxid and nothing is newer.
            self.op = Some((SyncMode::Diff, diff_zxid));
        }
        WalkEnd::Queued(queued)
    }
}

/// The check for a learner whose last txn is `zxid`, from our copy of that txn.
fn digest_check(zxid: i64, txn: &[u8]) -> Option<DigestCheck> {
    let e = crate::txn::TxnEntry::decode(txn).ok()?;
    let d = e.digest?;
    (e.hdr.zxid == zxid).then_some(DigestCheck {
        zxid,
        digest: d.tree_digest,
    })
}

fn check_at<'a>(
    mut history: impl Iterator<Item = &'a CommittedTxn>,
    zxid: i64,
) -> Option<DigestCheck> {
    history
        .find(|(z, _)| *z == zxid)
        .and_then(|(_, t)| digest_check(zxid, t))
}

/// Decides how to sync one learner (`LearnerHandler.syncFollower`). `txn_log` is consulted
/// only when the peer is older than the committed log.
pub fn plan_sync(input: &SyncInput<'_>, txn_log: &mut dyn TxnLogSource) -> SyncPlan {
    let peer = input.peer_last_zxid;
    let last_processed = input.last_processed_zxid;
    let (min_log, max_log) = match (input.committed_log.first(), input.committed_log.last()) {
        (Some((a, _)), Some((b, _))) => (*a, *b),
        _ => (last_processed, last_processed),
    };
    let snap = SyncPlan {
        mode: SyncMode::Snap,
        op_zxid: last_processed,
        proposals: Vec::new(),
        forward_from: last_processed,
        check: None,
    };
    let committed = || input.committed_log.iter().cloned();
    let mut walk = Walk {
        op: None,
        proposals: Vec::new(),
        at_peer: None,
    };

    if input.force_snap {
        return snap;
    }
    if peer == last_processed {
        return SyncPlan {
            mode: SyncMode::Diff,
            op_zxid: peer,
            proposals: Vec::new(),
            forward_from: peer,
            check: check_at(input.committed_log.iter().rev(), peer),
        };
    }
    if peer > max_log && counter_of(peer) != 0 {
        return SyncPlan {
            mode: SyncMode::Trunc,
            op_zxid: max_log,
            proposals: Vec::new(),
            forward_from: max_log,
            check: None,
        };
    }
    let last = if min_log <= peer && peer <= max_log {
        match walk.queue(&mut committed(), peer, None, max_log) {
            WalkEnd::Queued(z) => z,
            WalkEnd::CrossEpoch => return snap,
        }
    } else if peer < min_log {
        let Some(mut disk) = txn_log.proposals_from(peer) else {
            return snap;
        };
        let mut disk = disk.by_ref().peekable();
        match disk.peek() {
            Some((first, _)) if *first <= peer => {}
            // Empty, or it cannot prove it holds the txn right after the peer's.
            _ => return snap,
        }
        let z = match walk.queue(&mut disk, peer, Some(min_log), max_log) {
            WalkEnd::Queued(z) => z,
            WalkEnd::CrossEpoch => return snap,
        };
        if z < min_log {
            // The disk log ends before the committed log starts: a gap.
            return snap;
        }
        match walk.queue(&mut committed(), z, None, max_log) {
            WalkEnd::Queued(z) => z,
            WalkEnd::CrossEpoch => return snap,
        }
    } else {
        // A new-epoch peer zxid above our history: no case covers it.
        return snap;
    };
    match walk.op {
        Some((mode, op_zxid)) => SyncPlan {
            mode,
            op_zxid,
            proposals: walk.proposals,
            forward_from: last,
            check: if mode == SyncMode::Diff {
                walk.at_peer.and_then(|t| digest_check(peer, &t))
            } else {
                None
            },
        },
        // Never decided an op packet ("should never happen" in Java): fall back to SNAP.
        None => snap,
    }
}

#[cfg(test)]
mod tests {
    //! Table-driven: `testdata/zab_sync.txt` lists one case per block (the leader's history
    //! and the peer's zxid, `----`, the plan). `REWRITE=1` regenerates the expected outputs.

    use super::*;
    use std::fmt::Write as _;
    use std::sync::Arc;

    fn parse_zxid(s: &str) -> i64 {
        // "E.C" = make_zxid(E, C); otherwise hex with 0x or decimal.
        if let Some((e, c)) = s.split_once('.') {
            return super::super::zab_wire::make_zxid(e.parse().unwrap(), c.parse().unwrap());
        }
        if let Some(h) = s.strip_prefix("0x") {
            return i64::from_str_radix(h, 16).unwrap();
        }
        s.parse().unwrap()
    }

    fn fmt_zxid(z: i64) -> String {
        if z < 0 {
            return z.to_string();
        }
        format!("{}.{}", epoch_of(z), counter_of(z))
    }

    /// `1.1-1.5,2.1` → the zxids 1.1 … 1.5 and 2.1, each with a payload naming it.
    fn parse_log(s: &str) -> Vec<CommittedTxn> {
        let mut v = Vec::new();
        for part in s.split(',').filter(|p| !p.is_empty() && *p != "-") {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let (a, b) = (parse_zxid(a), parse_zxid(b));
            assert_eq!(
                epoch_of(a),
                epoch_of(b),
                "a range must stay in one epoch: {part}"
            );
            for z in a..=b {
                v.push((z, Arc::from(fmt_zxid(z).into_bytes())));
            }
        }
        v
    }

    fn render(p: &SyncPlan) -> String {
        let mode = match p.mode {
            SyncMode::Diff => "DIFF",
            SyncMode::Trunc => "TRUNC",
            SyncMode::Snap => "SNAP",
        };
        let mut s = format!("{mode} {}", fmt_zxid(p.op_zxid));
        if !p.proposals.is_empty() {
            let zs: Vec<String> = p.proposals.iter().map(|(z, _)| fmt_zxid(*z)).collect();
            let _ = write!(s, " send={}", zs.join(","));
        }
        let _ = write!(s, " forward_from={}", fmt_zxid(p.forward_from));
        s
    }

    fn run_case(line: &str) -> String {
        let mut kv = std::collections::HashMap::new();
        for w in line.split_whitespace() {
            let (k, v) = w.split_once('=').unwrap_or((w, ""));
            kv.insert(k, v);
        }
        let committed = parse_log(kv.get("log").copied().unwrap_or(""));
        let mut disk = parse_log(kv.get("disk").copied().unwrap_or(""));
        let input = SyncInput {
            peer_last_zxid: parse_zxid(kv["peer"]),
            last_processed_zxid: parse_zxid(kv["processed"]),
            committed_log: &committed,
            force_snap: kv.contains_key("force-snap"),
        };
        let plan = if kv.contains_key("disk") {
            plan_sync(&input, &mut disk)
        } else {
            plan_sync(&input, &mut NoTxnLog)
        };
        // Every proposal is sent with its own payload, strictly ascending and after the op.
        for w in plan.proposals.windows(2) {
            assert!(w[0].0 < w[1].0, "{line}: proposals not ascending");
        }
        for (z, t) in &plan.proposals {
            assert_eq!(&**t, fmt_zxid(*z).as_bytes());
        }
        render(&plan)
    }

    #[test]
    fn table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/quorum/testdata/zab_sync.txt");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut out = String::new();
        let mut failures = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let l = lines[i];
            if l.trim().is_empty() || l.starts_with('#') {
                out.push_str(l);
                out.push('\n');
                i += 1;
                continue;
            }
            let cmd = l;
            assert_eq!(
                lines.get(i + 1).copied(),
                Some("----"),
                "line {}: expected ----",
                i + 2
            );
            let expected = lines.get(i + 2).copied().unwrap_or("");
            let got = run_case(cmd);
            if got != expected {
                failures.push(format!("{cmd}\n  expected: {expected}\n  got:      {got}"));
            }
            let _ = writeln!(out, "{cmd}\n----\n{got}");
            i += 3;
        }
        if std::env::var_os("REWRITE").is_some() {
            std::fs::write(&path, out).unwrap();
            return;
        }
        assert!(
            failures.is_empty(),
            "{} case(s) failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn plan_packets_interleave_proposal_and_commit() {
        let log = parse_log("1.1-1.3");
        let plan = plan_sync(
            &SyncInput {
                peer_last_zxid: parse_zxid("1.1"),
                last_processed_zxid: parse_zxid("1.3"),
                committed_log: &log,
                force_snap: false,
            },
            &mut NoTxnLog,
        );
        let types: Vec<String> = plan.packets().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            types,
            [
                "DIFF 100000003",
                "PROPOSAL 100000002",
                "COMMIT 100000002",
                "PROPOSAL 100000003",
                "COMMIT 100000003"
            ]
        );
    }

    /// The disk log is read lazily: a long disk log is not read past the committed log.
    #[test]
    fn disk_log_is_read_only_up_to_the_committed_log() {
        struct Counting(usize);
        impl TxnLogSource for Counting {
            fn proposals_from(
                &mut self,
                _: i64,
            ) -> Option<Box<dyn Iterator<Item = CommittedTxn> + '_>> {
                let n = &mut self.0;
                Some(Box::new((1..1_000_000i64).map(move |c| {
                    *n += 1;
                    (super::super::zab_wire::make_zxid(1, c), Arc::from(&b""[..]))
                })))
            }
        }
        let log = parse_log("1.10-1.20");
        let mut src = Counting(0);
        let plan = plan_sync(
            &SyncInput {
                peer_last_zxid: parse_zxid("1.3"),
                last_processed_zxid: parse_zxid("1.20"),
                committed_log: &log,
                force_snap: false,
            },
            &mut src,
        );
        assert_eq!(plan.mode, SyncMode::Diff);
        assert_eq!(plan.proposals.len(), 17);
        assert!(src.0 <= 11, "read {} disk entries", src.0);
    }
}
