//! File naming, discovery, epoch files and purging of the `version-2` directories.
//!
//! Layout (Apache ZooKeeper 3.8, `FileTxnSnapLog`, `Util`, `QuorumPeer`, `PurgeTxnLog`):
//! `dataDir/version-2/` holds `snapshot.<hex>`, `acceptedEpoch` and `currentEpoch`;
//! `dataLogDir/version-2/` holds `log.<hex>` (the same directory when dataLogDir = dataDir).
//! `<hex>` is `Long.toHexString(zxid)`: lowercase, no padding. Files are ordered by the
//! parsed zxid, never by name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The name of the versioned subdirectory of dataDir and dataLogDir.
pub const VERSION_DIR: &str = "version-2";
/// Prefix of transaction log files.
pub const LOG_PREFIX: &str = "log";
/// Prefix of snapshot files.
pub const SNAPSHOT_PREFIX: &str = "snapshot";
/// The epoch this peer accepted in the last NEWEPOCH/LEADERINFO (QuorumPeer).
pub const ACCEPTED_EPOCH: &str = "acceptedEpoch";
/// The epoch of the last NEWLEADER this peer acknowledged (QuorumPeer).
pub const CURRENT_EPOCH: &str = "currentEpoch";
/// PurgeTxnLog refuses to keep fewer snapshots than this.
pub const MIN_SNAP_RETAIN_COUNT: usize = 3;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// An I/O operation on `path` failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An epoch file does not hold a decimal long.
    #[error("epoch file {path} does not hold a decimal number: {content:?}")]
    BadEpoch { path: PathBuf, content: String },
    /// `purge` was asked to keep fewer than [`MIN_SNAP_RETAIN_COUNT`] snapshots.
    #[error("snapRetainCount must be at least {MIN_SNAP_RETAIN_COUNT}, got {0}")]
    RetainCount(usize),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FilesError + '_ {
    move |source| FilesError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `log.<zxid in lowercase hex>`.
pub fn log_name(zxid: i64) -> String {
    format!("{LOG_PREFIX}.{:x}", zxid as u64)
}

/// `snapshot.<zxid in lowercase hex>`.
pub fn snapshot_name(zxid: i64) -> String {
    format!("{SNAPSHOT_PREFIX}.{:x}", zxid as u64)
}

/// The compression of a snapshot file, from its name suffix
/// (`zookeeper.snapshot.compression.method`). Only `None` can be read by zkraft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `snapshot.<hex>`
    None,
    /// `snapshot.<hex>.gz`
    Gzip,
    /// `snapshot.<hex>.snappy`
    Snappy,
}

/// Parses up to 16 hex digits (either case, no sign) as the bits of a zxid.
fn parse_hex_zxid(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok().map(|v| v as i64)
}

/// The zxid of a `log.<hex>` name; `None` for any other name.
pub fn parse_log_name(name: &str) -> Option<i64> {
    parse_hex_zxid(name.strip_prefix("log.")?)
}

/// The zxid and compression of a `snapshot.<hex>[.gz|.snappy]` name; `None` for any other
/// name (including temporary files such as `.snapshot.<hex>.tmp`).
pub fn parse_snapshot_name(name: &str) -> Option<(i64, Compression)> {
    let rest = name.strip_prefix("snapshot.")?;
    let (hex, compression) = if let Some(h) = rest.strip_suffix(".gz") {
        (h, Compression::Gzip)
    } else if let Some(h) = rest.strip_suffix(".snappy") {
        (h, Compression::Snappy)
    } else {
        (rest, Compression::None)
    };
    Some((parse_hex_zxid(hex)?, compression))
}

/// One `log.*` or `snapshot.*` file found in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// The zxid in the file's name.
    pub zxid: i64,
    /// The full path.
    pub path: PathBuf,
    /// Always `None` for logs.
    pub compression: Compression,
}

fn list(
    dir: &Path,
    parse: impl Fn(&str) -> Option<(i64, Compression)>,
) -> Result<Vec<DataFile>, FilesError> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err(dir)(e)),
    };
    for entry in rd {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((zxid, compression)) = parse(name) else {
            continue;
        };
        let ft = entry.file_type().map_err(io_err(&entry.path()))?;
        if ft.is_dir() {
            continue;
        }
        out.push(DataFile {
            zxid,
            path: entry.path(),
            compression,
        });
    }
    out.sort_by(|a, b| a.zxid.cmp(&b.zxid).then_with(|| a.path.cmp(&b.path)));
    Ok(out)
}

/// The `log.<hex>` files of `dir` (a `version-2` directory), oldest first. A missing
/// directory has no files.
pub fn list_logs(dir: &Path) -> Result<Vec<DataFile>, FilesError> {
    list(dir, |n| parse_log_name(n).map(|z| (z, Compression::None)))
}

/// The `snapshot.<hex>[.gz|.snappy]` files of `dir`, oldest first.
pub fn list_snapshots(dir: &Path) -> Result<Vec<DataFile>, FilesError> {
    list(dir, parse_snapshot_name)
}

/// The logs needed to replay every transaction after `zxid` (FileTxnLog.getLogFiles): the
/// newest log whose start is ≤ `zxid`, and all later ones. When no log starts at or
/// before `zxid`, all logs. `logs` must be sorted oldest first.
pub fn logs_from(logs: &[DataFile], zxid: i64) -> &[DataFile] {
    match logs.iter().rposition(|l| l.zxid <= zxid) {
        Some(i) => &logs[i..],
        None => logs,
    }
}

/// `base/version-2`.
pub fn version_dir(base: &Path) -> PathBuf {
    base.join(VERSION_DIR)
}

/// Creates `base/version-2` (and `base`) if missing, and makes the new entries durable.
pub fn ensure_version_dir(base: &Path) -> Result<PathBuf, FilesError> {
    let dir = version_dir(base);
    if !dir.is_dir() {
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        fsync_dir(base)?;
        if let Some(parent) = base.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Best effort: `base` itself may have just been created.
            let _ = fsync_dir(parent);
        }
    }
    Ok(dir)
}

/// fsyncs a directory, making created, renamed and deleted entries durable.
pub fn fsync_dir(dir: &Path) -> Result<(), FilesError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Reads an epoch file (`acceptedEpoch` / `currentEpoch`) from `dir`: the decimal ASCII
/// of a long. `None` when the file does not exist. Like Java's `readLine` + `parseLong`,
/// a trailing line break is accepted.
pub fn read_epoch(dir: &Path, name: &str) -> Result<Option<i64>, FilesError> {
    let path = dir.join(name);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let mut buf = Vec::new();
    // A long is at most 20 characters; anything much larger is not an epoch file.
    file.take(64).read_to_end(&mut buf).map_err(io_err(&path))?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let line = text.split(['\n', '\r']).next().unwrap_or("");
    match line.parse::<i64>() {
        Ok(v) if buf.len() < 64 => Ok(Some(v)),
        _ => Err(FilesError::BadEpoch {
            path,
            content: text,
        }),
    }
}

/// Writes an epoch file atomically: `<name>.tmp`, fsync, rename, fsync of `dir`
/// (QuorumPeer.writeLongToFile via AtomicFileWritingIdiom). No trailing newline.
pub fn write_epoch(dir: &Path, name: &str, value: i64) -> Result<(), FilesError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(value.to_string().as_bytes())?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(&tmp)(e));
    }
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    fsync_dir(dir)
}

/// What [`purge`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// The zxid of the oldest snapshot kept; `None` when no snapshot was found (and
    /// nothing was deleted).
    pub oldest_kept_snapshot: Option<i64>,
    /// Deleted snapshot files.
    pub deleted_snapshots: Vec<PathBuf>,
    /// Deleted log files.
    pub deleted_logs: Vec<PathBuf>,
}

/// Deletes old snapshots and logs as Apache's PurgeTxnLog does (autopurge).
///
/// `snap_dir` and `log_dir` are `version-2` directories. The newest `retain_count`
/// snapshots passing the quick validity check ([`super::snapshot::is_valid_snapshot`]) are
/// kept; every snapshot and log whose name zxid is below the oldest kept snapshot's is
/// deleted, except the newest log starting at or before that snapshot (it holds the
/// transactions that follow it). `retain_count` must be at least 3, as in ZooKeeper.
pub fn purge(
    snap_dir: &Path,
    log_dir: &Path,
    retain_count: usize,
) -> Result<PurgeReport, FilesError> {
    if retain_count < MIN_SNAP_RETAIN_COUNT {
        return Err(FilesError::RetainCount(retain_count));
    }
    let snaps = list_snapshots(snap_dir)?;
    let mut kept = 0usize;
    let mut least = None;
    for s in snaps.iter().rev() {
        if super::snapshot::is_valid_snapshot(&s.path).map_err(io_err(&s.path))? {
            kept += 1;
            least = Some(s.zxid);
            if kept == retain_count {
                break;
            }
        }
    }
    let mut report = PurgeReport {
        oldest_kept_snapshot: least,
        ..Default::default()
    };
    let Some(least) = least else {
        return Ok(report);
    };

    let logs = list_logs(log_dir)?;
    let retained_log = logs.iter().rposition(|l| l.zxid <= least);
    for (i, l) in logs.iter().enumerate() {
        if l.zxid < least && Some(i) != retained_log {
            remove(&l.path)?;
            report.deleted_logs.push(l.path.clone());
        }
    }
    for s in &snaps {
        if s.zxid < least {
            remove(&s.path)?;
            report.deleted_snapshots.push(s.path.clone());
        }
    }
    let logs_synced = !report.deleted_logs.is_empty();
    if logs_synced {
        fsync_dir(log_dir)?;
    }
    let snaps_synced = logs_synced && snap_dir == log_dir;
    if !report.deleted_snapshots.is_empty() && !snaps_synced {
        fsync_dir(snap_dir)?;
    }
    Ok(report)
}

fn remove(path: &Path) -> Result<(), FilesError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        assert_eq!(log_name(0x1b), "log.1b");
        assert_eq!(log_name(0), "log.0");
        assert_eq!(snapshot_name(0x1_0000_0001), "snapshot.100000001");
        assert_eq!(parse_log_name("log.1b"), Some(0x1b));
        assert_eq!(parse_log_name("log.1B"), Some(0x1b));
        assert_eq!(parse_log_name(&log_name(-1)), Some(-1));
        assert_eq!(parse_log_name(&log_name(i64::MAX)), Some(i64::MAX));
        for bad in [
            "log.",
            "log",
            "log.1b.tmp",
            "log.-1",
            "log.+1",
            "log.xyz",
            "log.11111111111111111",
            "snapshot.1",
            "xlog.1",
        ] {
            assert_eq!(parse_log_name(bad), None, "{bad}");
        }
        assert_eq!(
            parse_snapshot_name("snapshot.19"),
            Some((0x19, Compression::None))
        );
        assert_eq!(
            parse_snapshot_name("snapshot.19.gz"),
            Some((0x19, Compression::Gzip))
        );
        assert_eq!(
            parse_snapshot_name("snapshot.19.snappy"),
            Some((0x19, Compression::Snappy))
        );
        for bad in [
            "snapshot.19.tmp",
            ".snapshot.19.tmp",
            "snapshot.",
            "snapshot.gz",
            "log.19",
        ] {
            assert_eq!(parse_snapshot_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn listing_sorts_by_zxid_not_name() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "log.a",
            "log.9",
            "log.100000000",
            "log.1b",
            "snapshot.2",
            "snapshot.10.gz",
            "myid",
            "log.zz",
            "acceptedEpoch",
        ] {
            fs::write(d.path().join(n), b"x").unwrap();
        }
        fs::create_dir(d.path().join("log.5")).unwrap();
        let logs: Vec<i64> = list_logs(d.path())
            .unwrap()
            .iter()
            .map(|l| l.zxid)
            .collect();
        assert_eq!(logs, vec![9, 0xa, 0x1b, 0x1_0000_0000]);
        let snaps = list_snapshots(d.path()).unwrap();
        assert_eq!(
            snaps
                .iter()
                .map(|s| (s.zxid, s.compression))
                .collect::<Vec<_>>(),
            vec![(2, Compression::None), (0x10, Compression::Gzip)]
        );
        assert!(list_logs(&d.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn logs_from_rule() {
        let mk = |zs: &[i64]| {
            zs.iter()
                .map(|&zxid| DataFile {
                    zxid,
                    path: PathBuf::new(),
                    compression: Compression::None,
                })
                .collect::<Vec<_>>()
        };
        let logs = mk(&[1, 9, 0x13, 0x1b]);
        let z = |s: &[DataFile]| s.iter().map(|l| l.zxid).collect::<Vec<_>>();
        assert_eq!(z(logs_from(&logs, 0)), vec![1, 9, 0x13, 0x1b]);
        assert_eq!(z(logs_from(&logs, 8)), vec![1, 9, 0x13, 0x1b]);
        assert_eq!(z(logs_from(&logs, 9)), vec![9, 0x13, 0x1b]);
        assert_eq!(z(logs_from(&logs, 0x12)), vec![9, 0x13, 0x1b]);
        assert_eq!(z(logs_from(&logs, 0x100)), vec![0x1b]);
        assert!(logs_from(&[], 5).is_empty());
    }

    #[test]
    fn epoch_files() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read_epoch(d.path(), CURRENT_EPOCH).unwrap(), None);
        write_epoch(d.path(), CURRENT_EPOCH, 7).unwrap();
        assert_eq!(fs::read(d.path().join(CURRENT_EPOCH)).unwrap(), b"7");
        assert!(!d.path().join("currentEpoch.tmp").exists());
        assert_eq!(read_epoch(d.path(), CURRENT_EPOCH).unwrap(), Some(7));
        write_epoch(d.path(), CURRENT_EPOCH, 4294967296).unwrap();
        assert_eq!(
            read_epoch(d.path(), CURRENT_EPOCH).unwrap(),
            Some(4294967296)
        );
        fs::write(d.path().join(ACCEPTED_EPOCH), b"12\n").unwrap();
        assert_eq!(read_epoch(d.path(), ACCEPTED_EPOCH).unwrap(), Some(12));
        for bad in [&b""[..], b"x", b" 1", b"1 ", &[b'1'; 100]] {
            fs::write(d.path().join(ACCEPTED_EPOCH), bad).unwrap();
            assert!(
                matches!(
                    read_epoch(d.path(), ACCEPTED_EPOCH),
                    Err(FilesError::BadEpoch { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn version_dir_creation() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("data");
        let v = ensure_version_dir(&base).unwrap();
        assert_eq!(v, base.join("version-2"));
        assert!(v.is_dir());
        assert_eq!(ensure_version_dir(&base).unwrap(), v);
    }

    /// A file that passes the quick validity check (ends with int 1 + '/').
    fn fake_snapshot(dir: &Path, zxid: i64) {
        fs::write(
            dir.join(snapshot_name(zxid)),
            [0x5a, 0x4b, 0x53, 0x4e, 0, 0, 0, 1, b'/'],
        )
        .unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(snapshot_name(zxid)))
            .unwrap();
        f.write_all(&[0, 0, 0, 1, b'/']).unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn purge_keeps_newest_snapshots_and_the_logs_they_need() {
        let d = tempfile::tempdir().unwrap();
        let (snap, log) = (d.path().join("snap"), d.path().join("log"));
        fs::create_dir_all(&snap).unwrap();
        fs::create_dir_all(&log).unwrap();
        for z in [0x0, 0x7, 0x11, 0x19, 0x30] {
            fake_snapshot(&snap, z);
        }
        // An invalid (torn) newest snapshot does not count towards the retained ones.
        fs::write(snap.join(snapshot_name(0x40)), b"torn").unwrap();
        for z in [0x1, 0x9, 0x13, 0x1b, 0x31] {
            fs::write(log.join(log_name(z)), b"x").unwrap();
        }
        fs::write(snap.join("myid"), b"1").unwrap();
        assert!(matches!(
            purge(&snap, &log, 2),
            Err(FilesError::RetainCount(2))
        ));
        let r = purge(&snap, &log, 3).unwrap();
        // Kept: 0x30, 0x19, 0x11. log.9 holds 0x9.. and therefore 0x12, needed after snapshot.11.
        assert_eq!(r.oldest_kept_snapshot, Some(0x11));
        assert_eq!(
            names(&snap),
            vec![
                "myid",
                "snapshot.11",
                "snapshot.19",
                "snapshot.30",
                "snapshot.40"
            ]
        );
        assert_eq!(names(&log), vec!["log.13", "log.1b", "log.31", "log.9"]);
        assert_eq!(r.deleted_snapshots.len(), 2);
        assert_eq!(r.deleted_logs.len(), 1);

        // A log starting exactly at the oldest kept snapshot is the retained one.
        let r = purge(&snap, &log, 3).unwrap();
        assert!(r.deleted_logs.is_empty() && r.deleted_snapshots.is_empty());
        fs::write(log.join(log_name(0x11)), b"x").unwrap();
        let r = purge(&snap, &log, 3).unwrap();
        assert_eq!(names(&log), vec!["log.11", "log.13", "log.1b", "log.31"]);
        assert_eq!(r.deleted_logs, vec![log.join("log.9")]);
    }

    #[test]
    fn purge_without_snapshots_deletes_nothing() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("log.1"), b"x").unwrap();
        fs::write(d.path().join("snapshot.5"), b"bad").unwrap();
        let r = purge(d.path(), d.path(), 3).unwrap();
        assert_eq!(r, PurgeReport::default());
        assert_eq!(names(d.path()), vec!["log.1", "snapshot.5"]);
    }

    #[test]
    fn purge_same_dir_with_fewer_snapshots_than_retained() {
        let d = tempfile::tempdir().unwrap();
        fake_snapshot(d.path(), 0x5);
        fake_snapshot(d.path(), 0x9);
        for z in [0x1, 0x3, 0x6] {
            fs::write(d.path().join(log_name(z)), b"x").unwrap();
        }
        let r = purge(d.path(), d.path(), 3).unwrap();
        assert_eq!(r.oldest_kept_snapshot, Some(5));
        assert_eq!(
            names(d.path()),
            vec!["log.3", "log.6", "snapshot.5", "snapshot.9"]
        );
    }
}
