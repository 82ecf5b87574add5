//! The database on disk (ZooKeeper's ZKDatabase/FileTxnSnapLog): recovery at start-up and
//! the commit thread that makes every batch durable before its replies go out.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::core::{deliver_out, CommitJob};
use crate::datatree::DataTree;
use crate::jute::Acl;
use crate::persist::files;
use crate::persist::snapshot::{self, SnapshotNode, ZxidDigest};
use crate::persist::txnlog::{self, TxnLogWriter};
use crate::stats::ServerStats;
use crate::txn::TxnEntry;

/// Start-up and storage failures.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("data directory {path}: {msg}")]
    Dir { path: PathBuf, msg: String },
    #[error("snapshot: {0}")]
    Snapshot(#[from] snapshot::SnapshotError),
    #[error("transaction log: {0}")]
    Log(#[from] txnlog::TxnLogError),
    #[error("files: {0}")]
    Files(#[from] files::FilesError),
    #[error("corrupt transaction 0x{zxid:x}: {msg}")]
    Txn { zxid: i64, msg: String },
    #[error("snapshot contents: {0}")]
    Tree(String),
}

/// Serializes the tree in ZooKeeper's snapshot format, digest included.
pub fn snapshot_of(tree: &DataTree) -> Vec<u8> {
    let sessions: Vec<(i64, i32)> = {
        let mut v: Vec<_> = tree.sessions.iter().map(|(a, b)| (*a, *b)).collect();
        v.sort();
        v
    };
    let acls: Vec<(i64, Vec<Acl>)> = tree.acls.entries();
    let mut it = tree.preorder().map(|(p, n)| SnapshotNode {
        path: p,
        data: n.data.as_deref(),
        acl_index: n.acl,
        stat: &n.stat,
    });
    let mut out = Vec::with_capacity(tree.approximate_data_size() as usize * 2 + 1024);
    let digest = ZxidDigest {
        zxid: tree.last_processed_zxid,
        digest_version: 2,
        digest: tree.digest(),
    };
    snapshot::encode_snapshot(&mut out, &sessions, &acls, &mut it, Some(digest));
    out
}

/// Ensures a directory exists and is writable, with a clear message when it is not.
fn usable_dir(p: &Path) -> Result<PathBuf, DbError> {
    let v = files::ensure_version_dir(p).map_err(|e| DbError::Dir {
        path: p.to_owned(),
        msg: e.to_string(),
    })?;
    let probe = v.join(".zkraft-write-test");
    std::fs::write(&probe, b"").map_err(|e| DbError::Dir {
        path: v.clone(),
        msg: format!("not writable: {e}"),
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(v)
}

/// Loads the newest valid snapshot and replays the logs after it.
pub fn recover(
    data_dir: &Path,
    log_dir: &Path,
    extended_types: bool,
) -> Result<(DataTree, RecoveryInfo), DbError> {
    let snap_dir = usable_dir(data_dir)?;
    let log_dir = usable_dir(log_dir)?;
    let mut info = RecoveryInfo::default();
    let mut tree = match snapshot::load_latest_snapshot(&snap_dir)? {
        Some((zxid, s)) => {
            info.snapshot_zxid = Some(zxid);
            let t = DataTree::from_snapshot(extended_types, s.sessions, s.acls, s.nodes, zxid)
                .map_err(DbError::Tree)?;
            // Apache's fuzzy snapshots may carry the digest of a later zxid; compare only
            // when it describes exactly the snapshot's own state.
            if let Some(d) = s.digest.filter(|d| d.zxid == zxid) {
                if d.digest != t.digest() {
                    tracing::warn!(
                        "snapshot 0x{zxid:x} digest {} differs from the loaded tree's {}",
                        d.digest,
                        t.digest()
                    );
                }
            }
            t
        }
        None => DataTree::new(extended_types),
    };
    let from = tree.last_processed_zxid;
    let mut triggers = Vec::new();
    let scan = txnlog::read_log(&log_dir, from, |zxid, payload| {
        let e = replay_entry(&mut tree, zxid, payload, &mut triggers)?;
        if let Some(d) = e.digest {
            if d.tree_digest != tree.digest() && !matches!(e.body, crate::txn::TxnBody::Error(_)) {
                info.digest_mismatches += 1;
            }
        }
        info.replayed += 1;
        Ok(())
    })?;
    info.last_zxid = scan.last_zxid.max(tree.last_processed_zxid);
    if info.digest_mismatches > 0 {
        tracing::warn!(
            "{} replayed transactions did not match their recorded tree digest",
            info.digest_mismatches
        );
    }
    if info.snapshot_zxid.is_none() && info.replayed == 0 {
        // An empty database writes snapshot.0, as ZooKeeper does, so the directory is
        // recognisable (and usable by Apache ZooKeeper) from the first start.
        let bytes = snapshot_of(&tree);
        snapshot::write_snapshot_file(&snap_dir, 0, &bytes)?;
    }
    Ok((tree, info))
}

/// Applies one logged txn to `tree` (a log scan's callback). Replay tolerates
/// NodeExists/NoNode, as ZooKeeper's does after a fuzzy snapshot.
pub(crate) fn replay_entry(
    tree: &mut DataTree,
    zxid: i64,
    payload: &[u8],
    triggers: &mut Vec<crate::datatree::Trigger>,
) -> Result<TxnEntry, txnlog::TxnLogError> {
    let e = TxnEntry::decode(payload)
        .map_err(|err| txnlog::TxnLogError::Callback(format!("txn 0x{zxid:x}: {err}")))?;
    tree.apply(e.hdr.client_id, e.hdr.zxid, e.hdr.time, &e.body, triggers);
    triggers.clear();
    Ok(e)
}

#[derive(Debug, Default, Clone)]
pub struct RecoveryInfo {
    pub snapshot_zxid: Option<i64>,
    pub replayed: u64,
    pub last_zxid: i64,
    pub digest_mismatches: u64,
}

/// The commit thread: group commit (append everything queued, one fsync), then delivery.
pub struct Committer {
    pub log: TxnLogWriter,
    pub snap_dir: PathBuf,
    pub log_dir: PathBuf,
    pub pre_alloc_size: u64,
    pub stats: Arc<ServerStats>,
    pub inflight: Arc<AtomicUsize>,
    pub retain: usize,
    /// In an ensemble, ZAB acknowledges a txn only once it is durable: after each fsync the
    /// last zxid written is reported here (`CoreMsg::Logged`).
    pub logged: Option<crossbeam_channel::Sender<crate::core::CoreMsg>>,
}

impl Committer {
    pub fn run(mut self, rx: crossbeam_channel::Receiver<CommitJob>) {
        let mut snapshot_threads: Vec<std::thread::JoinHandle<()>> = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut jobs = vec![first];
            while jobs.len() < 4096 {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            let mut deliver = Vec::new();
            let mut batches = 0;
            let mut dirty = false;
            let mut last_logged = None;
            for j in jobs {
                match j {
                    CommitJob::Exec(f) => {
                        // Ordered after everything queued before it, and durable.
                        self.sync(&mut dirty);
                        (f.0)(&mut self);
                    }
                    CommitJob::Batch { txns, outputs } => {
                        for (zxid, payload) in &txns {
                            if let Err(e) = self.log.append(*zxid, payload) {
                                fatal(&format!("cannot append to the transaction log: {e}"));
                            }
                            dirty = true;
                            last_logged = Some(*zxid);
                        }
                        deliver.push(outputs);
                        batches += 1;
                    }
                    CommitJob::Snapshot { zxid, bytes } => {
                        self.sync(&mut dirty);
                        // The next txn starts a new log file, as ZooKeeper rolls at snapshot time.
                        if let Err(e) = self.log.roll() {
                            fatal(&format!("cannot roll the transaction log: {e}"));
                        }
                        let (snap_dir, log_dir, retain) =
                            (self.snap_dir.clone(), self.log_dir.clone(), self.retain);
                        snapshot_threads.retain(|h| !h.is_finished());
                        snapshot_threads.push(std::thread::spawn(move || {
                            let t = Instant::now();
                            match snapshot::write_snapshot_file(&snap_dir, zxid, &bytes) {
                                Ok(p) => tracing::info!(
                                    "snapshot {} written in {:?}",
                                    p.display(),
                                    t.elapsed()
                                ),
                                Err(e) => tracing::error!("snapshot 0x{zxid:x} failed: {e}"),
                            }
                            if retain > 0 {
                                if let Err(e) = files::purge(&snap_dir, &log_dir, retain) {
                                    tracing::warn!("purge failed: {e}");
                                }
                            }
                        }));
                    }
                }
            }
            self.sync(&mut dirty);
            if let (Some(tx), Some(zxid)) = (&self.logged, last_logged) {
                let _ = tx.send(crate::core::CoreMsg::Logged { zxid });
            }
            for outputs in deliver {
                for (tx, out) in outputs {
                    deliver_out(&self.stats, &tx, out);
                }
            }
            self.inflight.fetch_sub(batches, Ordering::AcqRel);
        }
        let _ = self.log.commit();
        for h in snapshot_threads {
            let _ = h.join();
        }
    }

    /// Makes everything appended so far durable and starts a new log file at the next
    /// append (after a truncation or a reload, zxids restart below the old writer's last).
    pub fn reopen(&mut self) {
        let mut dirty = true;
        self.sync(&mut dirty);
        match TxnLogWriter::open(&self.log_dir, self.pre_alloc_size) {
            Ok(w) => self.log = w,
            Err(e) => fatal(&format!("cannot reopen the transaction log: {e}")),
        }
    }

    fn sync(&mut self, dirty: &mut bool) {
        if !*dirty {
            return;
        }
        let t = Instant::now();
        if let Err(e) = self.log.commit() {
            // Acknowledging after a failed fsync would be a lie; stop instead.
            fatal(&format!("cannot fsync the transaction log: {e}"));
        }
        self.stats.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.stats
            .fsync_micros
            .fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        *dirty = false;
    }
}

/// A storage failure the server cannot survive without lying: log it and exit.
pub(crate) fn fatal(msg: &str) -> ! {
    tracing::error!("{msg}; exiting");
    eprintln!("zk-server: {msg}");
    std::process::exit(2);
}
