//! The leader's on-disk txn log as a [`TxnLogSource`] (`ZKDatabase.getProposalsFromTxnLog`
//! with `calculateTxnLogSizeLimit`), for learners older than the in-memory committed log.
//!
//! Reads with [`read_log_readonly`], so it is safe on the live log the leader is appending
//! to: nothing is ever truncated or deleted, and a partially visible write at the end of
//! the newest file just ends the txns served.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::sync::{CommittedTxn, TxnLogSource};
use crate::persist::files;
use crate::persist::snapshot::is_valid_snapshot;
use crate::persist::txnlog::{read_log_readonly, TxnLogError};

/// ZooKeeper's default `zookeeper.snapshotSizeFactor`.
pub const DEFAULT_SNAPSHOT_SIZE_FACTOR: f64 = 0.33;

/// A [`TxnLogSource`] over the `log.*` files of a `version-2` directory.
///
/// [`proposals_from(start)`](TxnLogSource::proposals_from) returns every txn from the first
/// one of the newest file starting at or before `start` (as Java's `readTxnLog(start,
/// false)`), in zxid order, or `None` when:
/// - txn-log sync is disabled (`snapshot_size_factor` < 0);
/// - no log file starts at or before `start`;
/// - the files to read (that one and every later one, by their on-disk length, padding
///   included, as `FileTxnIterator.getStorageSize`) are larger than `snapshot_size_factor`
///   × the size of the newest valid snapshot in `snap_dir`. As in Java a limit of 0 (a
///   factor of 0, or no snapshot) means no limit;
/// - the log cannot be read (I/O error or corruption; logged as a warning).
///
/// The txns are read eagerly into memory before the iterator is returned (bounded by the
/// size limit above); the log files themselves are never modified.
#[derive(Debug, Clone)]
pub struct DiskTxnLog {
    /// The txn log's `version-2` directory.
    dir: PathBuf,
    /// The snapshots' `version-2` directory (may equal `dir`).
    snap_dir: PathBuf,
    /// `zookeeper.snapshotSizeFactor`.
    snapshot_size_factor: f64,
}

impl DiskTxnLog {
    /// A source over the logs of `log_dir` (a `version-2` directory), limited by
    /// `snapshot_size_factor` × the newest snapshot of `snap_dir` (`version-2` too).
    pub fn new(log_dir: PathBuf, snap_dir: PathBuf, snapshot_size_factor: f64) -> Self {
        DiskTxnLog {
            dir: log_dir,
            snap_dir,
            snapshot_size_factor,
        }
    }

    /// The txn log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `ZKDatabase.calculateTxnLogSizeLimit`: `None` when txn-log sync is disabled
    /// (negative factor), else `factor × size of the newest valid snapshot` in bytes,
    /// where 0 means unlimited.
    pub fn size_limit(&self) -> Result<Option<u64>, TxnLogError> {
        if self.snapshot_size_factor < 0.0 || self.snapshot_size_factor.is_nan() {
            return Ok(None);
        }
        let snaps = files::list_snapshots(&self.snap_dir)?;
        let mut snap_size = 0;
        for s in snaps.iter().rev() {
            let io = |source| TxnLogError::Io {
                path: s.path.clone(),
                source,
            };
            if is_valid_snapshot(&s.path).map_err(io)? {
                snap_size = fs::metadata(&s.path).map_err(io)?.len();
                break;
            }
        }
        Ok(Some((snap_size as f64 * self.snapshot_size_factor) as u64))
    }

    /// The txns [`TxnLogSource::proposals_from`] serves, with errors: `Ok(None)` when the
    /// log may not or cannot serve `start_zxid` (see the type's docs).
    pub fn read_from(&self, start_zxid: i64) -> Result<Option<Vec<CommittedTxn>>, TxnLogError> {
        let Some(limit) = self.size_limit()? else {
            return Ok(None);
        };
        let logs = files::list_logs(&self.dir)?;
        let selected = files::logs_from(&logs, start_zxid);
        let Some(first) = selected.first() else {
            return Ok(None);
        };
        if first.zxid > start_zxid {
            return Ok(None);
        }
        if limit > 0 {
            let mut size = 0u64;
            for l in selected {
                let len = fs::metadata(&l.path)
                    .map_err(|source| TxnLogError::Io {
                        path: l.path.clone(),
                        source,
                    })?
                    .len();
                size = size.saturating_add(len);
            }
            if size > limit {
                tracing::debug!(
                    size,
                    limit,
                    "txn log too large to sync a learner from {start_zxid:#x}"
                );
                return Ok(None);
            }
        }
        // Everything from the first file's start: `logs_from(first.zxid)` is `first` on.
        let mut txns = Vec::new();
        read_log_readonly(&self.dir, first.zxid.saturating_sub(1), |zxid, payload| {
            txns.push((zxid, Arc::from(payload)));
            Ok(())
        })?;
        match txns.first() {
            Some((z, _)) if *z <= start_zxid => Ok(Some(txns)),
            _ => Ok(None),
        }
    }
}

impl TxnLogSource for DiskTxnLog {
    fn proposals_from(
        &mut self,
        start_zxid: i64,
    ) -> Option<Box<dyn Iterator<Item = CommittedTxn> + '_>> {
        match self.read_from(start_zxid) {
            Ok(Some(txns)) => Some(Box::new(txns.into_iter())),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "cannot read the txn log to sync a learner from {start_zxid:#x}: {e}");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::{Jute, TxnHeader};
    use crate::persist::txnlog::TxnLogWriter;
    use std::fs::OpenOptions;

    fn payload(zxid: i64) -> Vec<u8> {
        let mut p = TxnHeader {
            client_id: 7,
            cxid: zxid as i32,
            zxid,
            time: 1_700_000_000_000,
            r#type: 5,
        }
        .to_bytes();
        p.extend_from_slice(format!("txn {zxid:#x}").as_bytes());
        p
    }

    fn dir_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let b = fs::read(&p).unwrap();
                (p, b)
            })
            .collect();
        v.sort();
        v
    }

    const E1: i64 = 1 << 32;

    /// log.1 = {1,2,3}, log.4 = {4,5}, log.<E1|1> = {E1|1, E1|2, E1|3 torn}.
    fn setup(dir: &Path) {
        let mut w = TxnLogWriter::open(dir, 4096).unwrap();
        for z in 1..=3 {
            w.append(z, &payload(z)).unwrap();
        }
        w.roll().unwrap();
        for z in 4..=5 {
            w.append(z, &payload(z)).unwrap();
        }
        w.close().unwrap();
        // The new epoch's file, unpadded so its torn tail can be shaped exactly.
        let mut w = TxnLogWriter::open(dir, 0).unwrap();
        for z in [E1 | 1, E1 | 2, E1 | 3] {
            w.append(z, &payload(z)).unwrap();
        }
        w.close().unwrap();
        let path = dir.join(files::log_name(E1 | 1));
        let len = fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
    }

    fn served(log: &mut DiskTxnLog, start: i64) -> Option<Vec<i64>> {
        log.proposals_from(start).map(|it| {
            it.map(|(z, p)| {
                assert_eq!(&p[..], payload(z).as_slice());
                z
            })
            .collect()
        })
    }

    #[test]
    fn serves_from_the_file_holding_the_zxid_without_touching_it() {
        let d = tempfile::tempdir().unwrap();
        setup(d.path());
        let before = dir_bytes(d.path());
        let mut log = DiskTxnLog::new(d.path().into(), d.path().into(), 0.33);
        let all = vec![1, 2, 3, 4, 5, E1 | 1, E1 | 2];
        let cases: &[(i64, Option<&[i64]>)] = &[
            (0, None),
            (1, Some(&all)),
            (3, Some(&all)),
            (4, Some(&all[3..])),
            (5, Some(&all[3..])),
            (E1, Some(&all[3..])),
            (E1 | 1, Some(&all[5..])),
            (E1 | 2, Some(&all[5..])),
            (E1 | 9, Some(&all[5..])),
        ];
        for &(start, expect) in cases {
            assert_eq!(
                served(&mut log, start).as_deref(),
                expect,
                "start {start:#x}"
            );
            assert_eq!(dir_bytes(d.path()), before, "start {start:#x}");
        }
        // Serving twice gives the same answer: the torn tail is still there.
        assert_eq!(served(&mut log, 2), Some(all.clone()));
        assert_eq!(dir_bytes(d.path()), before);
    }

    #[test]
    fn no_logs_or_disabled() {
        let d = tempfile::tempdir().unwrap();
        let mut log = DiskTxnLog::new(d.path().into(), d.path().into(), 0.33);
        assert_eq!(served(&mut log, 5), None);
        setup(d.path());
        let mut log = DiskTxnLog::new(d.path().into(), d.path().into(), -1.0);
        assert_eq!(log.size_limit().unwrap(), None);
        assert_eq!(served(&mut log, 2), None);
    }

    #[test]
    fn size_limit_against_the_newest_valid_snapshot() {
        let logs = tempfile::tempdir().unwrap();
        let snaps = tempfile::tempdir().unwrap();
        setup(logs.path());
        let size = |names: &[i64]| -> u64 {
            names
                .iter()
                .map(|z| {
                    fs::metadata(logs.path().join(files::log_name(*z)))
                        .unwrap()
                        .len()
                })
                .sum()
        };
        let tail = size(&[4, E1 | 1]);
        let whole = size(&[1, 4, E1 | 1]);
        let snapshot = |zxid: i64, len: u64| {
            let mut b = vec![7u8; len as usize - 5];
            b.extend_from_slice(&[0, 0, 0, 1, b'/']);
            fs::write(snaps.path().join(files::snapshot_name(zxid)), b).unwrap();
        };
        let mut log = DiskTxnLog::new(logs.path().into(), snaps.path().into(), 0.5);
        // No snapshot: no limit.
        assert_eq!(log.size_limit().unwrap(), Some(0));
        assert_eq!(served(&mut log, 2).map(|v| v.len()), Some(7));
        // A snapshot twice the tail's size: the tail fits exactly, the whole log does not.
        snapshot(3, 2 * tail);
        assert_eq!(log.size_limit().unwrap(), Some(tail));
        assert_eq!(served(&mut log, 4).map(|v| v.len()), Some(4));
        assert_eq!(served(&mut log, 2), None);
        // A newer but invalid snapshot is skipped; a newer valid one counts.
        fs::write(
            snaps.path().join(files::snapshot_name(9)),
            vec![1u8; 100_000],
        )
        .unwrap();
        assert_eq!(log.size_limit().unwrap(), Some(tail));
        snapshot(10, 2 * whole);
        assert_eq!(log.size_limit().unwrap(), Some(whole));
        assert_eq!(served(&mut log, 2).map(|v| v.len()), Some(7));
        snapshot(11, 2 * tail - 2);
        assert_eq!(served(&mut log, 4), None);
    }

    #[test]
    fn corruption_is_not_served() {
        let d = tempfile::tempdir().unwrap();
        setup(d.path());
        let path = d.path().join("log.1");
        let mut bytes = fs::read(&path).unwrap();
        bytes[16 + 12 + 20] ^= 0xff; // the first payload
        fs::write(&path, &bytes).unwrap();
        let before = dir_bytes(d.path());
        let mut log = DiskTxnLog::new(d.path().into(), d.path().into(), 0.33);
        assert_eq!(served(&mut log, 2), None);
        assert!(matches!(log.read_from(2), Err(TxnLogError::Corrupt { .. })));
        // Files after the damaged one are still served.
        assert_eq!(served(&mut log, 4).map(|v| v.len()), Some(4));
        assert_eq!(dir_bytes(d.path()), before);
    }
}
