//! The transaction log: Apache ZooKeeper 3.8's `log.<zxid>` files (FileTxnLog, FilePadding).
//!
//! A file is a 16-byte FileHeader `{int magic 0x5A4B4C47 "ZKLG"; int version 2; long dbid 0}`
//! followed by entries `{long checksum; int len; byte[len] payload; byte 0x42}`, where the
//! checksum is Adler32 over the payload only and the payload is `TxnHeader` + txn record +
//! `TxnDigest`. The file is preallocated with zeros in steps of preAllocSize; a
//! `checksum = 0, len = 0` entry or EOF ends it.
//!
//! Writing is buffered: [`TxnLogWriter::append`] only touches memory, and
//! [`TxnLogWriter::commit`] does one positioned write and one fdatasync for the whole batch
//! (plus, rarely, a `set_len` to preallocate and a directory fsync for a new file).
//!
//! Reading ([`read_log`]) is strict: a torn tail (a partial last entry followed only by
//! zeros or EOF) in the newest file is truncated away with a warning, and anything else
//! that does not check out is a [`TxnLogError::Corrupt`] error.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::files::{self, FilesError};
use crate::jute::{FileHeader, Jute};

/// FileHeader magic of a transaction log ("ZKLG").
pub const TXNLOG_MAGIC: i32 = 0x5A4B_4C47;
/// FileHeader version of a transaction log.
pub const TXNLOG_VERSION: i32 = 2;
/// FileHeader dbid of a transaction log.
pub const TXNLOG_DBID: i64 = 0;
/// ZooKeeper's default preAllocSize (65536 KB).
pub const DEFAULT_PRE_ALLOC_SIZE: u64 = 64 * 1024 * 1024;
/// Size of the FileHeader.
pub const FILE_HEADER_LEN: u64 = 16;
/// The end-of-record marker ('B').
pub const ENTRY_END: u8 = 0x42;
/// `long checksum; int len`.
const ENTRY_HEAD_LEN: u64 = 12;
/// `TxnHeader{long clientId; int cxid; long zxid; long time; int type}`.
pub const TXN_HEADER_LEN: usize = 28;
/// Entries claiming a larger payload are never accepted, whatever the file size. Apache
/// itself rejects anything above jute.maxbuffer + extrasize (2 MiB by default).
pub const MAX_ENTRY_PAYLOAD: u64 = 256 << 20;
/// FilePadding grows the file when a write comes within this many bytes of its end.
const PAD_MARGIN: u64 = 4096;
const READ_BUF: usize = 256 * 1024;

/// Errors of the transaction log.
#[derive(Debug, thiserror::Error)]
pub enum TxnLogError {
    /// An I/O operation on `path` failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Listing or naming files failed.
    #[error(transparent)]
    Files(#[from] FilesError),
    /// The log holds data that is neither valid nor a torn tail.
    #[error("corrupt transaction log {file} at offset {offset}: {reason}")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// The caller passed an entry that cannot be logged.
    #[error("invalid append: {0}")]
    InvalidAppend(String),
    /// A new log file would replace an existing one that holds transactions.
    #[error("log file {0} already exists and holds transactions")]
    Exists(PathBuf),
    /// An earlier write or sync failed; the writer's state is unknown and it refuses work.
    #[error("the transaction log writer failed earlier and must be reopened")]
    Failed,
    /// The [`read_log`] callback rejected an entry.
    #[error("replaying the transaction log failed: {0}")]
    Callback(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> TxnLogError + '_ {
    move |source| TxnLogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// FilePadding.calculateFileSizeWithPadding: the file size to preallocate when writing at
/// `position` into a file preallocated to `size`.
pub fn padded_size(position: u64, size: u64, pre_alloc_size: u64) -> u64 {
    if pre_alloc_size > 0 && position + PAD_MARGIN >= size {
        if position > size {
            let s = position + pre_alloc_size;
            s - s % pre_alloc_size
        } else {
            size + pre_alloc_size
        }
    } else {
        size
    }
}

/// Appends `log.<zxid>` files in ZooKeeper's format. Single-threaded; the caller does the
/// group commit (many [`append`](Self::append)s, one [`commit`](Self::commit)).
/// Dropping the writer discards whatever was appended but not committed.
#[derive(Debug)]
pub struct TxnLogWriter {
    dir: PathBuf,
    pre_alloc_size: u64,
    /// Bytes appended but not yet written; they belong at `cur.written`.
    buf: Vec<u8>,
    cur: Option<CurrentLog>,
    last_zxid: Option<i64>,
    failed: bool,
}

#[derive(Debug)]
struct CurrentLog {
    file: File,
    path: PathBuf,
    /// Bytes of the file written so far; where `buf` goes.
    written: u64,
    /// The size the file has been preallocated to (FilePadding.currentSize).
    padded: u64,
    /// The directory entry has not been made durable yet.
    new_file: bool,
}

impl TxnLogWriter {
    /// A writer for `log_dir_version2` (which must exist). No file is opened until the
    /// first append, which creates `log.<its zxid>`. `pre_alloc_size` 0 disables padding.
    pub fn open(log_dir_version2: &Path, pre_alloc_size: u64) -> Result<Self, TxnLogError> {
        let meta = fs::metadata(log_dir_version2).map_err(io_err(log_dir_version2))?;
        if !meta.is_dir() {
            return Err(TxnLogError::Io {
                path: log_dir_version2.to_path_buf(),
                source: io::Error::new(io::ErrorKind::NotFound, "not a directory"),
            });
        }
        Ok(TxnLogWriter {
            dir: log_dir_version2.to_path_buf(),
            pre_alloc_size,
            buf: Vec::with_capacity(64 * 1024),
            cur: None,
            last_zxid: None,
            failed: false,
        })
    }

    /// Buffers one entry. `payload` is the serialized TxnHeader + txn record + TxnDigest;
    /// its TxnHeader must carry `zxid`, and zxids must increase. Nothing reaches the disk
    /// before [`commit`](Self::commit).
    pub fn append(&mut self, zxid: i64, payload: &[u8]) -> Result<(), TxnLogError> {
        if self.failed {
            return Err(TxnLogError::Failed);
        }
        if payload.len() < TXN_HEADER_LEN {
            return Err(TxnLogError::InvalidAppend(format!(
                "payload of {} bytes has no TxnHeader",
                payload.len()
            )));
        }
        if payload.len() as u64 > MAX_ENTRY_PAYLOAD {
            return Err(TxnLogError::InvalidAppend(format!(
                "payload of {} bytes is too large",
                payload.len()
            )));
        }
        let header_zxid = payload_zxid(payload);
        if header_zxid != zxid {
            return Err(TxnLogError::InvalidAppend(format!(
                "zxid {zxid:#x} does not match the TxnHeader's {header_zxid:#x}"
            )));
        }
        if let Some(last) = self.last_zxid {
            if zxid <= last {
                return Err(TxnLogError::InvalidAppend(format!(
                    "zxid {zxid:#x} is not after {last:#x}"
                )));
            }
        }
        if self.cur.is_none() {
            self.start_file(zxid)?;
        }
        let checksum = adler::adler32_slice(payload);
        self.buf
            .reserve(payload.len() + ENTRY_HEAD_LEN as usize + 1);
        self.buf
            .extend_from_slice(&i64::from(checksum).to_be_bytes());
        self.buf
            .extend_from_slice(&(payload.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.push(ENTRY_END);
        self.last_zxid = Some(zxid);
        Ok(())
    }

    fn start_file(&mut self, zxid: i64) -> Result<(), TxnLogError> {
        debug_assert!(self.buf.is_empty());
        let path = self.dir.join(files::log_name(zxid));
        if log_has_entries(&path)? {
            return Err(TxnLogError::Exists(path));
        }
        // The file only appears under its name with its header in it (written under a
        // temporary name, then renamed): a crash at any moment must not leave an empty
        // log.* behind, which Apache ZooKeeper cannot open.
        let tmp = self.dir.join(format!(".{}.tmp", files::log_name(zxid)));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        let mut header = Vec::with_capacity(FILE_HEADER_LEN as usize);
        FileHeader {
            magic: TXNLOG_MAGIC,
            version: TXNLOG_VERSION,
            dbid: TXNLOG_DBID,
        }
        .write(&mut header);
        if let Err(e) = file
            .write_all_at(&header, 0)
            .and_then(|()| std::fs::rename(&tmp, &path))
        {
            self.failed = true;
            return Err(io_err(&path)(e));
        }
        // FilePadding.currentSize starts at the position after the header.
        self.cur = Some(CurrentLog {
            file,
            path,
            written: FILE_HEADER_LEN,
            padded: FILE_HEADER_LEN,
            new_file: true,
        });
        Ok(())
    }

    /// Writes the buffered entries with one positioned write, growing the file first as
    /// FilePadding does, then fdatasyncs (and fsyncs the directory for a new file).
    /// Nothing to do when nothing was appended. After an error the writer refuses work.
    pub fn commit(&mut self) -> Result<(), TxnLogError> {
        if self.failed {
            return Err(TxnLogError::Failed);
        }
        let Some(cur) = self.cur.as_mut() else {
            return Ok(());
        };
        if self.buf.is_empty() && !cur.new_file {
            return Ok(());
        }
        let start = cur.written.max(FILE_HEADER_LEN);
        let end = cur.written + self.buf.len() as u64;
        let mut size = padded_size(start, cur.padded, self.pre_alloc_size);
        if end > size {
            // A batch larger than what is left: pad past its end.
            size = padded_size(end, size, self.pre_alloc_size);
        }
        let result = (|| -> io::Result<()> {
            if size > cur.padded {
                cur.file.set_len(size)?;
            }
            cur.file.write_all_at(&self.buf, cur.written)?;
            cur.file.sync_data()
        })();
        if let Err(e) = result {
            self.failed = true;
            return Err(io_err(&cur.path)(e));
        }
        cur.padded = cur.padded.max(size);
        cur.written = end;
        self.buf.clear();
        if cur.new_file {
            if let Err(e) = files::fsync_dir(&self.dir) {
                self.failed = true;
                return Err(e.into());
            }
            cur.new_file = false;
        }
        Ok(())
    }

    /// Commits and closes the current file; the next append starts `log.<its zxid>`.
    pub fn roll(&mut self) -> Result<(), TxnLogError> {
        self.commit()?;
        self.cur = None;
        Ok(())
    }

    /// Commits and closes.
    pub fn close(mut self) -> Result<(), TxnLogError> {
        self.roll()
    }

    /// The zxid of the last appended entry (committed or not), if any since open.
    pub fn last_zxid(&self) -> Option<i64> {
        self.last_zxid
    }

    /// The file currently appended to.
    pub fn current_file(&self) -> Option<&Path> {
        self.cur.as_ref().map(|c| c.path.as_path())
    }

    /// Bytes in the current file once the buffer is committed (without padding); 0 when
    /// no file is open. For a size-based roll policy (zookeeper.txnLogSizeLimitInKb).
    pub fn current_size(&self) -> u64 {
        self.cur
            .as_ref()
            .map_or(0, |c| c.written + self.buf.len() as u64)
    }

    /// Bytes appended but not yet committed.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len()
    }
}

/// The zxid in the TxnHeader at the front of `payload` (≥ 28 bytes).
fn payload_zxid(payload: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&payload[12..20]);
    i64::from_be_bytes(b)
}

/// Whether `path` exists and has at least one non-empty entry slot after its header.
fn log_has_entries(path: &Path) -> Result<bool, TxnLogError> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut b = [0u8; (FILE_HEADER_LEN + ENTRY_HEAD_LEN) as usize];
    let mut n = 0;
    while n < b.len() {
        match f.read(&mut b[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(path)(e)),
        }
    }
    Ok(n > FILE_HEADER_LEN as usize && b[FILE_HEADER_LEN as usize..n].iter().any(|&x| x != 0))
}

// ---------------------------------------------------------------- reading

/// A partial last entry that was cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The log file.
    pub file: PathBuf,
    /// Where the torn entry started (the end of the last good entry); the file now ends
    /// here (it was deleted when not even its header was complete).
    pub offset: u64,
    /// What was wrong with the entry.
    pub reason: String,
}

/// The outcome of [`read_log`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogScan {
    /// Number of entries delivered (zxid > from_zxid).
    pub count: u64,
    /// The first delivered zxid. A value above from_zxid + 1 means the log does not
    /// continue where the snapshot ends (legitimate only across an epoch change).
    pub first_zxid: Option<i64>,
    /// The last delivered zxid; `from_zxid` when nothing was delivered.
    pub last_zxid: i64,
    /// The highest zxid present in the files read, delivered or not.
    pub last_logged_zxid: Option<i64>,
    /// Number of files read.
    pub files: usize,
    /// The torn tail removed from the newest file, if any.
    pub truncated: Option<TornTail>,
    /// A torn tail found in the newest file by [`read_log_readonly`] and left in place:
    /// the scan ended there (its `offset` is the end of the last good entry; the file was
    /// not modified). Always `None` for [`read_log`], which reports `truncated` instead.
    pub torn_tail: Option<TornTail>,
}

/// Reads, in zxid order, every entry with zxid > `from_zxid` from the log files of
/// `log_dir` (a `version-2` directory) that can hold one: the newest file starting at or
/// before `from_zxid + 1`, and all later ones. `f` gets the zxid and the payload
/// (TxnHeader + record + TxnDigest, checksum verified); an error from `f` stops the scan
/// and is returned (map foreign errors into [`TxnLogError::Callback`]).
///
/// A torn tail in the newest file is truncated away (see the module docs). A torn tail
/// in an older file is accepted only when the next file continues right after the last
/// good entry, or starts a later epoch. Every other defect, including a zxid that does
/// not increase, is a [`TxnLogError::Corrupt`].
pub fn read_log<F>(log_dir: &Path, from_zxid: i64, f: F) -> Result<LogScan, TxnLogError>
where
    F: FnMut(i64, &[u8]) -> Result<(), TxnLogError>,
{
    scan_log(log_dir, from_zxid, TornTailMode::Truncate, f)
}

/// Like [`read_log`] (same files, same entries, same errors), but never modifies the log:
/// a torn tail in the newest file simply ends the scan and is reported in
/// [`LogScan::torn_tail`] instead of being truncated or deleted. Safe on a live log that a
/// [`TxnLogWriter`] may be appending to (a partially visible write reads as a torn tail);
/// corruption is still a [`TxnLogError::Corrupt`].
pub fn read_log_readonly<F>(log_dir: &Path, from_zxid: i64, f: F) -> Result<LogScan, TxnLogError>
where
    F: FnMut(i64, &[u8]) -> Result<(), TxnLogError>,
{
    scan_log(log_dir, from_zxid, TornTailMode::Report, f)
}

/// What a log scan does with a torn tail in the newest file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TornTailMode {
    /// Cut it away ([`read_log`], at startup).
    Truncate,
    /// Leave the file alone and report it ([`read_log_readonly`]).
    Report,
}

fn scan_log<F>(
    log_dir: &Path,
    from_zxid: i64,
    mode: TornTailMode,
    mut f: F,
) -> Result<LogScan, TxnLogError>
where
    F: FnMut(i64, &[u8]) -> Result<(), TxnLogError>,
{
    let logs = files::list_logs(log_dir)?;
    let relevant = files::logs_from(&logs, from_zxid.saturating_add(1));
    let mut scan = LogScan {
        last_zxid: from_zxid,
        ..LogScan::default()
    };
    let mut prev: Option<i64> = None;
    for (i, lf) in relevant.iter().enumerate() {
        let mut first_in_file = true;
        let end = scan_file(&lf.path, |e: &Entry<'_>| {
            if let Some(p) = prev {
                if e.zxid <= p {
                    return Err(TxnLogError::Corrupt {
                        file: lf.path.clone(),
                        offset: e.offset,
                        reason: format!("zxid {:#x} does not follow {p:#x}", e.zxid),
                    });
                }
            }
            if first_in_file && e.zxid != lf.zxid {
                tracing::warn!(file = %lf.path.display(), "first entry of the log has zxid {:#x}, not the one in its name", e.zxid);
            }
            first_in_file = false;
            prev = Some(e.zxid);
            if e.zxid > from_zxid {
                f(e.zxid, e.payload)?;
                scan.count += 1;
                scan.first_zxid.get_or_insert(e.zxid);
                scan.last_zxid = e.zxid;
            }
            Ok(true)
        })?;
        scan.files += 1;
        if let ScanEnd::Torn { offset, reason } = end {
            match relevant.get(i + 1) {
                None => {
                    let torn = TornTail {
                        file: lf.path.clone(),
                        offset,
                        reason,
                    };
                    match mode {
                        TornTailMode::Truncate => {
                            cut_torn_tail(&lf.path, offset, &torn.reason)?;
                            scan.truncated = Some(torn);
                        }
                        TornTailMode::Report => scan.torn_tail = Some(torn),
                    }
                }
                Some(next) => {
                    let last_good = prev.unwrap_or(lf.zxid.wrapping_sub(1));
                    let continues = next.zxid == last_good.wrapping_add(1)
                        || (next.zxid >> 32) > (last_good >> 32);
                    if !continues {
                        return Err(TxnLogError::Corrupt {
                            file: lf.path.clone(),
                            offset,
                            reason: format!(
                                "{reason}; the next log starts at {:#x}, not right after the last good entry {last_good:#x}",
                                next.zxid
                            ),
                        });
                    }
                    tracing::warn!(file = %lf.path.display(), offset, "ignoring a torn tail ({reason}) in an older log; the next log continues at {:#x}", next.zxid);
                }
            }
        }
    }
    scan.last_logged_zxid = prev;
    Ok(scan)
}

/// Truncates a torn tail found in the newest file, or deletes the file when not even its
/// header is complete.
fn cut_torn_tail(path: &Path, offset: u64, reason: &str) -> Result<(), TxnLogError> {
    if offset < FILE_HEADER_LEN {
        tracing::warn!(file = %path.display(), offset, "deleting transaction log with a torn header ({reason})");
        fs::remove_file(path).map_err(io_err(path))?;
        if let Some(dir) = path.parent() {
            files::fsync_dir(dir)?;
        }
    } else {
        tracing::warn!(file = %path.display(), offset, "truncating torn tail of transaction log ({reason})");
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        f.set_len(offset).map_err(io_err(path))?;
        f.sync_all().map_err(io_err(path))?;
    }
    Ok(())
}

/// What [`truncate_to`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TruncateReport {
    /// Log files deleted because they start after the zxid (or hold nothing before it).
    pub removed: Vec<PathBuf>,
    /// The file cut short, and its new length.
    pub truncated: Option<(PathBuf, u64)>,
    /// The last zxid left in the log.
    pub last_zxid: Option<i64>,
}

/// Removes every entry with a zxid above `zxid` from the log (the ZAB TRUNC message):
/// later files are deleted, newest first, then the file holding `zxid` is cut after its
/// last entry ≤ `zxid`. No writer may be open on `log_dir`. A corrupt entry at or
/// before `zxid` is an error; a torn tail is cut as well.
pub fn truncate_to(log_dir: &Path, zxid: i64) -> Result<TruncateReport, TxnLogError> {
    let logs = files::list_logs(log_dir)?;
    let mut report = TruncateReport::default();
    for l in logs.iter().rev().take_while(|l| l.zxid > zxid) {
        fs::remove_file(&l.path).map_err(io_err(&l.path))?;
        report.removed.push(l.path.clone());
    }
    if !report.removed.is_empty() {
        files::fsync_dir(log_dir)?;
    }
    let Some(keep) = logs.iter().rev().find(|l| l.zxid <= zxid) else {
        return Ok(report);
    };
    let mut cut = None;
    let mut last = None;
    let end = scan_file(&keep.path, |e: &Entry<'_>| {
        if e.zxid > zxid {
            cut = Some(e.offset);
            return Ok(false);
        }
        last = Some(e.zxid);
        Ok(true)
    })?;
    let cut = match (cut, end) {
        (Some(o), _) => Some(o),
        (None, ScanEnd::Torn { offset, .. }) => Some(offset),
        _ => None,
    };
    report.last_zxid = last;
    match cut {
        Some(o) if o < FILE_HEADER_LEN => {
            fs::remove_file(&keep.path).map_err(io_err(&keep.path))?;
            files::fsync_dir(log_dir)?;
            report.removed.push(keep.path.clone());
        }
        Some(o) => {
            let f = OpenOptions::new()
                .write(true)
                .open(&keep.path)
                .map_err(io_err(&keep.path))?;
            f.set_len(o).map_err(io_err(&keep.path))?;
            f.sync_all().map_err(io_err(&keep.path))?;
            report.truncated = Some((keep.path.clone(), o));
        }
        None => {}
    }
    if report.last_zxid.is_none() {
        // Nothing in the kept file; an older file may hold the last entry.
        if let Some(older) = logs.iter().rev().find(|l| l.zxid < keep.zxid) {
            let mut last = None;
            scan_file(&older.path, |e: &Entry<'_>| {
                last = Some(e.zxid);
                Ok(true)
            })?;
            report.last_zxid = last;
        }
    }
    Ok(report)
}

/// One verified entry.
struct Entry<'a> {
    zxid: i64,
    payload: &'a [u8],
    /// Where the entry starts in the file.
    offset: u64,
}

/// How a file scan ended.
enum ScanEnd {
    /// Zero padding or EOF at `end`.
    Clean,
    /// A bad entry at `offset` followed only by zeros or EOF.
    Torn { offset: u64, reason: String },
    /// The visitor asked to stop.
    Stopped,
}

/// Reads one log file, verifying each entry, and hands the good ones to `visit` (which
/// returns false to stop).
fn scan_file(
    path: &Path,
    mut visit: impl FnMut(&Entry<'_>) -> Result<bool, TxnLogError>,
) -> Result<ScanEnd, TxnLogError> {
    let file = File::open(path).map_err(io_err(path))?;
    let file_len = file.metadata().map_err(io_err(path))?.len();
    let mut r = Reader {
        inner: BufReader::with_capacity(READ_BUF, file),
        path,
    };
    if file_len < FILE_HEADER_LEN {
        return Ok(ScanEnd::Torn {
            offset: 0,
            reason: format!("incomplete file header ({file_len} bytes)"),
        });
    }
    let mut hdr = [0u8; FILE_HEADER_LEN as usize];
    r.read_exact(&mut hdr)?;
    if hdr.iter().all(|&b| b == 0) {
        return r.bad_entry(0, FILE_HEADER_LEN, file_len, "zeroed file header".into());
    }
    let header =
        FileHeader::decode(&hdr).map_err(|_| corrupt(path, 0, "unreadable file header".into()))?;
    if header.magic != TXNLOG_MAGIC {
        return Err(corrupt(
            path,
            0,
            format!("bad magic {:#010x}, not a transaction log", header.magic),
        ));
    }
    let mut pos = FILE_HEADER_LEN;
    let mut payload = Vec::new();
    loop {
        let remaining = file_len - pos;
        if remaining == 0 {
            return Ok(ScanEnd::Clean);
        }
        if remaining < ENTRY_HEAD_LEN {
            let mut b = [0u8; ENTRY_HEAD_LEN as usize];
            r.read_exact(&mut b[..remaining as usize])?;
            if b.iter().all(|&x| x == 0) {
                return Ok(ScanEnd::Clean);
            }
            return Ok(ScanEnd::Torn {
                offset: pos,
                reason: "partial entry header at end of file".into(),
            });
        }
        let mut head = [0u8; ENTRY_HEAD_LEN as usize];
        r.read_exact(&mut head)?;
        let checksum = i64::from_be_bytes(head[0..8].try_into().expect("8 bytes"));
        let len = i32::from_be_bytes(head[8..12].try_into().expect("4 bytes"));
        if checksum == 0 && len == 0 {
            return Ok(ScanEnd::Clean);
        }
        if len <= 0 || len as u64 > MAX_ENTRY_PAYLOAD {
            return r.bad_entry(
                pos,
                pos + ENTRY_HEAD_LEN,
                file_len,
                format!("invalid entry length {len}"),
            );
        }
        let len = len as u64;
        let end = pos + ENTRY_HEAD_LEN + len + 1;
        if end > file_len {
            // Bounded by the file size: nothing is allocated for it.
            return Ok(ScanEnd::Torn {
                offset: pos,
                reason: format!("entry of {len} bytes extends beyond the end of the file"),
            });
        }
        payload.resize(len as usize + 1, 0);
        r.read_exact(&mut payload)?;
        let marker = payload.pop();
        if marker != Some(ENTRY_END) {
            // Apache reads this as "Last transaction was partial" and stops there. We agree
            // when what follows is not a valid entry (a torn write, or garbage); a valid
            // entry after it means a damaged record in the middle, which is corruption.
            if r.valid_entry_after(pos, file_len)? {
                return Err(corrupt(
                    path,
                    pos,
                    "missing end-of-record marker, followed by valid entries".into(),
                ));
            }
            return Ok(ScanEnd::Torn {
                offset: pos,
                reason: "missing end-of-record marker".into(),
            });
        }
        let actual = i64::from(adler::adler32_slice(&payload));
        if actual != checksum {
            return r.bad_entry(
                pos,
                end,
                file_len,
                format!("checksum mismatch (stored {checksum:#x}, computed {actual:#x})"),
            );
        }
        if payload.len() < TXN_HEADER_LEN {
            return Err(corrupt(
                path,
                pos,
                format!("payload of {len} bytes is shorter than a TxnHeader"),
            ));
        }
        let entry = Entry {
            zxid: payload_zxid(&payload),
            payload: &payload,
            offset: pos,
        };
        if !visit(&entry)? {
            return Ok(ScanEnd::Stopped);
        }
        pos = end;
    }
}

fn corrupt(path: &Path, offset: u64, reason: String) -> TxnLogError {
    TxnLogError::Corrupt {
        file: path.to_path_buf(),
        offset,
        reason,
    }
}

struct Reader<'p> {
    inner: BufReader<File>,
    path: &'p Path,
}

impl Reader<'_> {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), TxnLogError> {
        self.inner.read_exact(buf).map_err(io_err(self.path))
    }

    /// A bad entry at `offset` whose bytes end at `tail_from`: a torn tail when only
    /// zeros follow, corruption otherwise.
    fn bad_entry(
        &mut self,
        offset: u64,
        tail_from: u64,
        file_len: u64,
        reason: String,
    ) -> Result<ScanEnd, TxnLogError> {
        if let Some(at) = self.first_nonzero(tail_from.min(file_len))? {
            return Err(corrupt(
                self.path,
                offset,
                format!("{reason}, followed by non-zero data at offset {at}"),
            ));
        }
        Ok(ScanEnd::Torn { offset, reason })
    }

    /// Whether a complete entry with a good marker and checksum starts anywhere after
    /// `from` (before the zero padding): if so, the bad record at `from` is damage in the
    /// middle of the log (say, a corrupted length), not a torn tail. Only runs on the error
    /// path; reads at most `MAX_ENTRY_PAYLOAD` bytes.
    fn valid_entry_after(&mut self, from: u64, file_len: u64) -> Result<bool, TxnLogError> {
        let start = from + 1;
        if start >= file_len {
            return Ok(false);
        }
        let n = (file_len - start).min(MAX_ENTRY_PAYLOAD) as usize;
        self.inner
            .seek(SeekFrom::Start(start))
            .map_err(io_err(self.path))?;
        let mut buf = vec![0u8; n];
        self.read_exact(&mut buf)?;
        let head = ENTRY_HEAD_LEN as usize;
        let mut i = 0;
        while i + head < buf.len() {
            let checksum = i64::from_be_bytes(buf[i..i + 8].try_into().expect("8 bytes"));
            let len = i32::from_be_bytes(buf[i + 8..i + 12].try_into().expect("4 bytes"));
            if checksum != 0 && len > 0 {
                let end = i + head + len as usize;
                if end < buf.len()
                    && buf[end] == ENTRY_END
                    && i64::from(adler::adler32_slice(&buf[i + head..end])) == checksum
                {
                    return Ok(true);
                }
            }
            i += 1;
        }
        Ok(false)
    }

    /// The offset of the first non-zero byte at or after `from`.
    fn first_nonzero(&mut self, from: u64) -> Result<Option<u64>, TxnLogError> {
        self.inner
            .seek(SeekFrom::Start(from))
            .map_err(io_err(self.path))?;
        let mut pos = from;
        let mut chunk = vec![0u8; READ_BUF];
        loop {
            let n = match self.inner.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(self.path)(e)),
            };
            if let Some(i) = chunk[..n].iter().position(|&b| b != 0) {
                return Ok(Some(pos + i as u64));
            }
            pos += n as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::{SetDataTxn, TxnDigest, TxnHeader};

    const PRE: u64 = 64 * 1024;

    fn payload(zxid: i64, data_len: usize) -> Vec<u8> {
        let mut p = TxnHeader {
            client_id: 0x1234,
            cxid: zxid as i32,
            zxid,
            time: 1_700_000_000_000,
            r#type: 5,
        }
        .to_bytes();
        SetDataTxn {
            path: "/a".into(),
            data: Some(vec![zxid as u8; data_len]),
            version: zxid as i32,
        }
        .write(&mut p);
        TxnDigest {
            version: 2,
            tree_digest: zxid * 7,
        }
        .write(&mut p);
        p
    }

    fn write_log(dir: &Path, batches: &[&[i64]], roll_after: &[usize]) {
        let mut w = TxnLogWriter::open(dir, PRE).unwrap();
        for (i, b) in batches.iter().enumerate() {
            for &z in b.iter() {
                w.append(z, &payload(z, 10)).unwrap();
            }
            w.commit().unwrap();
            if roll_after.contains(&i) {
                w.roll().unwrap();
            }
        }
        w.close().unwrap();
    }

    fn read_all(dir: &Path, from: i64) -> Result<(Vec<i64>, LogScan), TxnLogError> {
        let mut got = Vec::new();
        let scan = read_log(dir, from, |z, p| {
            assert_eq!(p, payload(z, 10).as_slice());
            got.push(z);
            Ok(())
        })?;
        Ok((got, scan))
    }

    #[test]
    fn padding_matches_file_padding() {
        // FilePaddingTest cases.
        assert_eq!(padded_size(0, 0, 100), 100);
        assert_eq!(padded_size(50, 100, 100), 200);
        assert_eq!(padded_size(150, 100, 100), 200);
        assert_eq!(padded_size(250, 100, 100), 300);
        assert_eq!(padded_size(50, 10_000, 100), 10_000);
        assert_eq!(padded_size(50, 100, 0), 100);
        assert_eq!(
            padded_size(16, 16, DEFAULT_PRE_ALLOC_SIZE),
            16 + DEFAULT_PRE_ALLOC_SIZE
        );
    }

    #[test]
    fn roundtrip_and_layout() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2, 3], &[4], &[5, 6]], &[1]);
        let logs = files::list_logs(d.path()).unwrap();
        assert_eq!(logs.iter().map(|l| l.zxid).collect::<Vec<_>>(), vec![1, 5]);
        // Header, then the first entry: Adler32 over the payload only.
        let bytes = fs::read(d.path().join("log.1")).unwrap();
        assert_eq!(
            bytes.len() as u64,
            FILE_HEADER_LEN + PRE,
            "preallocated like FilePadding"
        );
        assert_eq!(
            &bytes[..16],
            &[0x5a, 0x4b, 0x4c, 0x47, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let p = payload(1, 10);
        assert_eq!(
            &bytes[16..24],
            &i64::from(adler::adler32_slice(&p)).to_be_bytes()
        );
        assert_eq!(&bytes[24..28], &(p.len() as i32).to_be_bytes());
        assert_eq!(&bytes[28..28 + p.len()], p.as_slice());
        assert_eq!(bytes[28 + p.len()], 0x42);

        let (got, scan) = read_all(d.path(), 0).unwrap();
        assert_eq!(got, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(
            (scan.count, scan.first_zxid, scan.last_zxid, scan.files),
            (6, Some(1), 6, 2)
        );
        assert_eq!(scan.truncated, None);
        // Starting later skips whole files.
        let (got, scan) = read_all(d.path(), 4).unwrap();
        assert_eq!((got, scan.files), (vec![5, 6], 1));
        let (got, scan) = read_all(d.path(), 3).unwrap();
        assert_eq!(
            (got, scan.files, scan.last_logged_zxid),
            (vec![4, 5, 6], 2, Some(6))
        );
        let (got, scan) = read_all(d.path(), 6).unwrap();
        assert_eq!(
            (got.len(), scan.last_logged_zxid, scan.last_zxid),
            (0, Some(6), 6)
        );
        // No logs at all.
        let e = tempfile::tempdir().unwrap();
        assert_eq!(
            read_all(e.path(), 7).unwrap().1,
            LogScan {
                last_zxid: 7,
                ..LogScan::default()
            }
        );
    }

    #[test]
    fn file_grows_by_prealloc_steps() {
        let d = tempfile::tempdir().unwrap();
        let mut w = TxnLogWriter::open(d.path(), 4096 * 4).unwrap();
        let mut z = 1;
        let mut sizes = Vec::new();
        for _ in 0..40 {
            for _ in 0..10 {
                w.append(z, &payload(z, 100)).unwrap();
                z += 1;
            }
            w.commit().unwrap();
            let len = fs::metadata(w.current_file().unwrap()).unwrap().len();
            assert!(
                len > w.current_size(),
                "written bytes stay inside the preallocation"
            );
            sizes.push(len);
        }
        assert!(sizes.windows(2).all(|s| s[0] <= s[1]));
        assert!(
            sizes.iter().all(|s| (s - 16) % (4096 * 4) == 0),
            "{sizes:?}"
        );
        // One batch much larger than preAllocSize.
        for _ in 0..1000 {
            w.append(z, &payload(z, 100)).unwrap();
            z += 1;
        }
        w.commit().unwrap();
        assert!(fs::metadata(w.current_file().unwrap()).unwrap().len() > w.current_size());
        drop(w);
        let mut n = 0;
        read_log(d.path(), 0, |_, _| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, z - 1);
    }

    #[test]
    fn append_validation() {
        let d = tempfile::tempdir().unwrap();
        let mut w = TxnLogWriter::open(d.path(), PRE).unwrap();
        assert!(matches!(
            w.append(1, &[0; 10]),
            Err(TxnLogError::InvalidAppend(_))
        ));
        assert!(matches!(
            w.append(2, &payload(1, 1)),
            Err(TxnLogError::InvalidAppend(_))
        ));
        w.append(5, &payload(5, 1)).unwrap();
        assert!(matches!(
            w.append(5, &payload(5, 1)),
            Err(TxnLogError::InvalidAppend(_))
        ));
        assert!(matches!(
            w.append(4, &payload(4, 1)),
            Err(TxnLogError::InvalidAppend(_))
        ));
        assert_eq!(w.last_zxid(), Some(5));
        w.commit().unwrap();
        w.commit().unwrap();
        assert!(TxnLogWriter::open(&d.path().join("nope"), PRE).is_err());
        // A second writer must not clobber log.5.
        let mut w2 = TxnLogWriter::open(d.path(), PRE).unwrap();
        assert!(matches!(
            w2.append(5, &payload(5, 1)),
            Err(TxnLogError::Exists(_))
        ));
    }

    /// Ends the only log after zxid `n` entries written without preallocation, so tails
    /// can be shaped exactly; returns the offsets where the entries start and the file.
    fn plain_log(dir: &Path, n: i64) -> (Vec<u64>, PathBuf) {
        let mut w = TxnLogWriter::open(dir, 0).unwrap();
        let mut offsets = Vec::new();
        for z in 1..=n {
            offsets.push(w.current_size().max(16));
            w.append(z, &payload(z, 10)).unwrap();
        }
        w.close().unwrap();
        (offsets, dir.join("log.1"))
    }

    fn assert_torn(dir: &Path, path: &Path, expect: Vec<i64>, cut_at: u64) {
        let (got, scan) = read_all(dir, 0).unwrap();
        assert_eq!(got, expect);
        let t = scan.truncated.expect("torn tail reported");
        assert_eq!((t.file.as_path(), t.offset), (path, cut_at));
        assert_eq!(fs::metadata(path).unwrap().len(), cut_at);
        // The log is clean now, and appending continues in a new file.
        let (got2, scan2) = read_all(dir, 0).unwrap();
        assert_eq!((got2, scan2.truncated), (expect.clone(), None));
        let next = expect.last().copied().unwrap_or(0) + 1;
        let mut w = TxnLogWriter::open(dir, PRE).unwrap();
        w.append(next, &payload(next, 10)).unwrap();
        w.close().unwrap();
        let mut all = expect;
        all.push(next);
        assert_eq!(read_all(dir, 0).unwrap().0, all);
    }

    #[test]
    fn torn_tail_beyond_eof() {
        let d = tempfile::tempdir().unwrap();
        let (off, path) = plain_log(d.path(), 3);
        let len = fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 5)
            .unwrap();
        assert_torn(d.path(), &path, vec![1, 2], off[2]);
    }

    #[test]
    fn torn_tail_partial_entry_header() {
        let d = tempfile::tempdir().unwrap();
        let (off, path) = plain_log(d.path(), 3);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(off[2] + 7)
            .unwrap();
        assert_torn(d.path(), &path, vec![1, 2], off[2]);
    }

    #[test]
    fn torn_tail_missing_marker_then_zeros() {
        let d = tempfile::tempdir().unwrap();
        let (off, path) = plain_log(d.path(), 3);
        let mut bytes = fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 1] = 0;
        bytes.extend_from_slice(&[0; 5000]);
        fs::write(&path, &bytes).unwrap();
        assert_torn(d.path(), &path, vec![1, 2], off[2]);
    }

    #[test]
    fn torn_tail_checksum_mismatch_then_zero_padding() {
        let d = tempfile::tempdir().unwrap();
        let (off, path) = plain_log(d.path(), 3);
        let mut bytes = fs::read(&path).unwrap();
        // The second half of the last payload never reached the disk.
        let n = bytes.len();
        for b in &mut bytes[n - 20..n - 1] {
            *b = 0;
        }
        bytes.extend_from_slice(&[0; 100]);
        fs::write(&path, &bytes).unwrap();
        assert_torn(d.path(), &path, vec![1, 2], off[2]);
    }

    #[test]
    fn torn_tail_zero_length_with_checksum() {
        let d = tempfile::tempdir().unwrap();
        let (off, path) = plain_log(d.path(), 2);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut f, &[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0])
            .unwrap();
        let end = fs::metadata(&path).unwrap().len() - 16;
        assert_torn(d.path(), &path, vec![1, 2], end);
        assert_eq!(off.len(), 2);
    }

    #[test]
    fn torn_first_entry_and_torn_header() {
        let d = tempfile::tempdir().unwrap();
        let (_, path) = plain_log(d.path(), 1);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(30)
            .unwrap();
        assert_torn(d.path(), &path, vec![], 16);

        let d = tempfile::tempdir().unwrap();
        let (_, path) = plain_log(d.path(), 1);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(9)
            .unwrap();
        let (got, scan) = read_all(d.path(), 0).unwrap();
        assert!(got.is_empty());
        assert_eq!(scan.truncated.unwrap().offset, 0);
        assert!(!path.exists(), "a log without a complete header is deleted");

        // A zeroed header (file preallocated, nothing written) is torn too.
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("log.1"), vec![0u8; 4096]).unwrap();
        let (_, scan) = read_all(d.path(), 0).unwrap();
        assert_eq!(scan.truncated.unwrap().offset, 0);
        assert!(!d.path().join("log.1").exists());
    }

    #[test]
    fn corruption_in_the_middle_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let (off, path) = plain_log(d.path(), 4);
        let clean = fs::read(&path).unwrap();
        // A flipped payload byte: checksum mismatch followed by good entries.
        let mut bytes = clean.clone();
        bytes[off[1] as usize + 30] ^= 0x10;
        fs::write(&path, &bytes).unwrap();
        match read_all(d.path(), 0) {
            Err(TxnLogError::Corrupt {
                file,
                offset,
                reason,
            }) => {
                assert_eq!((file, offset), (path.clone(), off[1]));
                assert!(reason.contains("checksum"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            fs::read(&path).unwrap(),
            bytes,
            "a corrupt log is never modified"
        );
        // A bad marker in the middle.
        let mut bytes = clean.clone();
        bytes[off[2] as usize - 1] = b'C';
        fs::write(&path, &bytes).unwrap();
        assert!(
            matches!(read_all(d.path(), 0), Err(TxnLogError::Corrupt { offset, .. }) if offset == off[1])
        );
        // A huge length in the middle must not allocate; it is corruption.
        let mut bytes = clean.clone();
        bytes[off[1] as usize + 8..off[1] as usize + 12]
            .copy_from_slice(&0x7fff_ffffi32.to_be_bytes());
        fs::write(&path, &bytes).unwrap();
        assert!(
            matches!(read_all(d.path(), 0), Err(TxnLogError::Corrupt { offset, .. }) if offset == off[1])
        );
        // A length just past EOF with garbage before it: torn (nothing follows it).
        let mut bytes = clean.clone();
        bytes[off[3] as usize + 8..off[3] as usize + 12]
            .copy_from_slice(&1_000_000i32.to_be_bytes());
        fs::write(&path, &bytes).unwrap();
        assert_eq!(read_all(d.path(), 0).unwrap().0, vec![1, 2, 3]);
        // Negative length followed by data.
        let mut bytes = clean.clone();
        bytes[off[1] as usize + 8..off[1] as usize + 12].copy_from_slice(&(-5i32).to_be_bytes());
        fs::write(&path, &bytes).unwrap();
        assert!(
            matches!(read_all(d.path(), 0), Err(TxnLogError::Corrupt { offset, .. }) if offset == off[1])
        );
        // Bad magic.
        let mut bytes = clean.clone();
        bytes[0] = b'X';
        fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            read_all(d.path(), 0),
            Err(TxnLogError::Corrupt { offset: 0, .. })
        ));
        // A checksum-valid entry too short for a TxnHeader.
        let mut bytes = clean[..off[1] as usize].to_vec();
        bytes.extend_from_slice(&i64::from(adler::adler32_slice(b"abc")).to_be_bytes());
        bytes.extend_from_slice(&3i32.to_be_bytes());
        bytes.extend_from_slice(b"abcB");
        fs::write(&path, &bytes).unwrap();
        assert!(
            matches!(read_all(d.path(), 0), Err(TxnLogError::Corrupt { offset, .. }) if offset == off[1])
        );
    }

    #[test]
    fn zxids_must_increase() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2, 3]], &[0]);
        // A second file whose entries go back in time.
        let mut w = TxnLogWriter::open(d.path(), PRE).unwrap();
        w.append(4, &payload(4, 10)).unwrap();
        w.close().unwrap();
        let mut bytes = fs::read(d.path().join("log.4")).unwrap();
        let p = payload(2, 10);
        bytes[16..16 + 8].copy_from_slice(&i64::from(adler::adler32_slice(&p)).to_be_bytes());
        bytes[28..28 + p.len()].copy_from_slice(&p);
        fs::write(d.path().join("log.4"), &bytes).unwrap();
        assert!(matches!(
            read_all(d.path(), 0),
            Err(TxnLogError::Corrupt { offset: 16, .. })
        ));
    }

    #[test]
    fn torn_tail_in_older_file() {
        // log.1 ends torn after zxid 2; log.3 continues at 3: acceptable.
        let d = tempfile::tempdir().unwrap();
        let (off, path) = plain_log(d.path(), 3);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(off[2] + 20)
            .unwrap();
        let mut w = TxnLogWriter::open(d.path(), PRE).unwrap();
        w.append(3, &payload(3, 10)).unwrap();
        w.close().unwrap();
        let (got, scan) = read_all(d.path(), 0).unwrap();
        assert_eq!((got, scan.truncated), (vec![1, 2, 3], None));
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            off[2] + 20,
            "older files are left alone"
        );
        // A new epoch may also follow a torn tail.
        fs::remove_file(d.path().join("log.3")).unwrap();
        let e1 = (1i64 << 32) | 1;
        let mut w = TxnLogWriter::open(d.path(), PRE).unwrap();
        w.append(e1, &payload(e1, 10)).unwrap();
        w.close().unwrap();
        assert_eq!(read_all(d.path(), 0).unwrap().0, vec![1, 2, e1]);
        // But a gap within the epoch is corruption.
        fs::remove_file(d.path().join(files::log_name(e1))).unwrap();
        let mut w = TxnLogWriter::open(d.path(), PRE).unwrap();
        w.append(5, &payload(5, 10)).unwrap();
        w.close().unwrap();
        assert!(
            matches!(read_all(d.path(), 0), Err(TxnLogError::Corrupt { offset, .. }) if offset == off[2])
        );
    }

    #[test]
    fn callback_error_stops_the_scan() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2, 3]], &[]);
        let mut seen = 0;
        let r = read_log(d.path(), 0, |z, _| {
            seen += 1;
            if z == 2 {
                Err(TxnLogError::Callback("stop".into()))
            } else {
                Ok(())
            }
        });
        assert!(matches!(r, Err(TxnLogError::Callback(_))));
        assert_eq!(seen, 2);
    }

    /// Every file of `dir` with its bytes.
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

    fn read_all_readonly(dir: &Path, from: i64) -> Result<(Vec<i64>, LogScan), TxnLogError> {
        let mut got = Vec::new();
        let scan = read_log_readonly(dir, from, |z, p| {
            assert_eq!(p, payload(z, 10).as_slice());
            got.push(z);
            Ok(())
        })?;
        Ok((got, scan))
    }

    /// `read_log_readonly` leaves `dir` byte-identical and delivers what `read_log` does,
    /// reporting the torn tail `read_log` then cuts at the same offset.
    fn assert_readonly_matches(dir: &Path, from: i64, expect: &[i64]) {
        let before = dir_bytes(dir);
        let (got, scan) = read_all_readonly(dir, from).unwrap();
        let (got2, scan2) = read_all_readonly(dir, from).unwrap();
        assert_eq!(
            dir_bytes(dir),
            before,
            "the read-only scan modified the log"
        );
        assert_eq!((&got, &scan), (&got2, &scan2));
        assert_eq!(got, expect);
        assert_eq!(scan.truncated, None);
        let (got3, scan3) = read_all(dir, from).unwrap();
        assert_eq!(got3, got);
        assert_eq!(scan3.torn_tail, None);
        assert_eq!(scan3.truncated, scan.torn_tail);
        assert_eq!(
            LogScan {
                truncated: None,
                torn_tail: None,
                ..scan3
            },
            LogScan {
                torn_tail: None,
                ..scan
            }
        );
    }

    #[test]
    fn readonly_leaves_torn_tails_in_place() {
        // Beyond EOF, after a roll.
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2], &[3]], &[0]);
        let (off, path) = {
            let mut w = TxnLogWriter::open(d.path(), 0).unwrap();
            let mut off = Vec::new();
            for z in 4..=6 {
                off.push(w.current_size().max(16));
                w.append(z, &payload(z, 10)).unwrap();
            }
            w.close().unwrap();
            (off, d.path().join("log.4"))
        };
        let len = fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 5)
            .unwrap();
        let before = dir_bytes(d.path());
        let (got, scan) = read_all_readonly(d.path(), 0).unwrap();
        assert_eq!(got, vec![1, 2, 3, 4, 5]);
        let t = scan.torn_tail.clone().expect("torn tail reported");
        assert_eq!((t.file.as_path(), t.offset), (path.as_path(), off[2]));
        assert_eq!((scan.files, scan.last_logged_zxid), (3, Some(5)));
        assert_eq!(dir_bytes(d.path()), before);
        for from in [0, 2, 3, 4, 5] {
            let d2 = tempfile::tempdir().unwrap();
            for (p, b) in &before {
                fs::write(d2.path().join(p.file_name().unwrap()), b).unwrap();
            }
            let expect: Vec<i64> = (from + 1..=5).collect();
            assert_readonly_matches(d2.path(), from, &expect);
        }

        // Missing marker then zeros; checksum mismatch then zero padding; partial header.
        type Damage = fn(&Path, &[u64]);
        let damages: [Damage; 3] = [
            |p, _| {
                let mut bytes = fs::read(p).unwrap();
                let n = bytes.len();
                bytes[n - 1] = 0;
                bytes.extend_from_slice(&[0; 5000]);
                fs::write(p, &bytes).unwrap();
            },
            |p, _| {
                let mut bytes = fs::read(p).unwrap();
                let n = bytes.len();
                for b in &mut bytes[n - 20..n - 1] {
                    *b = 0;
                }
                bytes.extend_from_slice(&[0; 100]);
                fs::write(p, &bytes).unwrap();
            },
            |p, off| {
                OpenOptions::new()
                    .write(true)
                    .open(p)
                    .unwrap()
                    .set_len(off[2] + 7)
                    .unwrap();
            },
        ];
        for damage in damages {
            let d = tempfile::tempdir().unwrap();
            let (off, path) = plain_log(d.path(), 3);
            damage(&path, &off);
            assert_readonly_matches(d.path(), 0, &[1, 2]);
        }

        // A newest file without a complete header is left in place, not deleted.
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2]], &[]);
        fs::write(d.path().join("log.3"), [0x5a, 0x4b, 0x4c]).unwrap();
        let before = dir_bytes(d.path());
        let (got, scan) = read_all_readonly(d.path(), 0).unwrap();
        assert_eq!(got, vec![1, 2]);
        assert_eq!(scan.torn_tail.unwrap().offset, 0);
        assert_eq!(dir_bytes(d.path()), before);
    }

    #[test]
    fn readonly_still_reports_corruption() {
        let d = tempfile::tempdir().unwrap();
        let (off, path) = plain_log(d.path(), 4);
        let mut bytes = fs::read(&path).unwrap();
        bytes[off[1] as usize + 30] ^= 0x10;
        fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            read_all_readonly(d.path(), 0),
            Err(TxnLogError::Corrupt { offset, .. }) if offset == off[1]
        ));
        assert_eq!(fs::read(&path).unwrap(), bytes);
        // Callback errors stop it too.
        let r = read_log_readonly(d.path(), 0, |_, _| {
            Err(TxnLogError::Callback("stop".into()))
        });
        assert!(matches!(r, Err(TxnLogError::Callback(_))));
    }

    #[test]
    fn truncate_to_zxid() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2, 3], &[4, 5], &[6, 7], &[8]], &[0, 1, 2]);
        let r = truncate_to(d.path(), 4).unwrap();
        assert_eq!(
            r.removed,
            vec![d.path().join("log.8"), d.path().join("log.6")]
        );
        assert_eq!(
            r.truncated.as_ref().map(|t| t.0.clone()),
            Some(d.path().join("log.4"))
        );
        assert_eq!(r.last_zxid, Some(4));
        assert_eq!(read_all(d.path(), 0).unwrap().0, vec![1, 2, 3, 4]);
        // Appending continues after the cut.
        let mut w = TxnLogWriter::open(d.path(), PRE).unwrap();
        w.append(5, &payload(5, 10)).unwrap();
        w.close().unwrap();
        assert_eq!(read_all(d.path(), 0).unwrap().0, vec![1, 2, 3, 4, 5]);
        // Truncating to the last zxid changes nothing.
        let r = truncate_to(d.path(), 5).unwrap();
        assert_eq!(
            r,
            TruncateReport {
                last_zxid: Some(5),
                ..Default::default()
            }
        );
        // Truncating to a file boundary removes the later files and keeps the older intact.
        let r = truncate_to(d.path(), 3).unwrap();
        assert_eq!(
            r.removed,
            vec![d.path().join("log.5"), d.path().join("log.4")]
        );
        assert_eq!((r.truncated, r.last_zxid), (None, Some(3)));
        assert_eq!(read_all(d.path(), 0).unwrap().0, vec![1, 2, 3]);
        // Before everything.
        let r = truncate_to(d.path(), 0).unwrap();
        assert_eq!(r.removed.len(), 1);
        assert!(files::list_logs(d.path()).unwrap().is_empty());
    }
}
