//! Snapshots: Apache ZooKeeper 3.8's `snapshot.<zxid>` files (FileSnap, SnapStream,
//! SerializeUtils, DataTree.serialize, ReferenceCountedACLCache).
//!
//! ```text
//! FileHeader {int magic 0x5A4B534E "ZKSN"; int version 2; long dbid -1}
//! int count; count × {long sessionId; int timeout}
//! int count; count × {long aclIndex; vector<ACL>}
//! pre-order nodes: ustring path; DataNode{buffer data; long aclIndex; StatPersisted}
//!     (the root's path is "", the end is marked by the path "/")
//! seal: long adler32(all bytes so far); ustring "/"
//! ZxidDigest {long zxid; int digestVersion; long digest}      (3.6+, digest enabled)
//! seal: long adler32(all bytes so far, first seal included); ustring "/"
//! ```
//!
//! The "stream body" (sessions, ACL cache, nodes and the "/" terminator, without header,
//! seals or digest) is what a leader sends in a ZAB SNAP sync (ZKDatabase.serializeSnapshot,
//! followed there by the ustring "BenWasHere").
//!
//! Decoding works on any `BufRead`; every count and length is checked against the bytes
//! left when the total size is known (files, slices), and otherwise memory only grows as
//! bytes actually arrive, so a corrupt length cannot make us allocate gigabytes.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use adler::Adler32;

use super::files::{self, Compression, FilesError};
use crate::jute::{write_buffer, write_str, Acl, Buffer, FileHeader, Id, Jute, StatPersisted};

/// FileHeader magic of a snapshot ("ZKSN").
pub const SNAP_MAGIC: i32 = 0x5A4B_534E;
/// FileHeader version of a snapshot.
pub const SNAP_VERSION: i32 = 2;
/// FileHeader dbid of a snapshot.
pub const SNAP_DBID: i64 = -1;
/// The digest version written by ZooKeeper 3.6+ (DigestCalculator.DIGEST_VERSION).
pub const DIGEST_VERSION: i32 = 2;
/// The ACL index of OPEN_ACL_UNSAFE, never stored in the ACL cache.
pub const OPEN_ACL_INDEX: i64 = -1;
/// The signature a leader writes after the stream body of a SNAP sync.
pub const SNAP_SYNC_SIGNATURE: &str = "BenWasHere";
/// How many snapshots passing the quick check [`load_latest_snapshot`] tries
/// (FileSnap.deserialize: findNValidSnapshots(100)).
pub const MAX_SNAPSHOTS_TRIED: usize = 100;
const STAT_PERSISTED_LEN: usize = 60;
const READ_BUF: usize = 256 * 1024;

/// Errors of snapshot encoding, decoding and files.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// An I/O operation on `path` failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Reading a snapshot stream failed.
    #[error("I/O error reading snapshot stream: {0}")]
    Stream(#[source] io::Error),
    /// Listing or naming files failed.
    #[error(transparent)]
    Files(#[from] FilesError),
    /// The FileHeader magic is not "ZKSN".
    #[error("not a snapshot: magic {0:#010x}")]
    BadMagic(i32),
    /// The data ended early.
    #[error("snapshot truncated at offset {offset} while reading {what}")]
    Truncated { offset: u64, what: &'static str },
    /// A structural error: bad length or count, bad path order, invalid UTF-8...
    #[error("invalid snapshot at offset {offset}: {reason}")]
    Invalid { offset: u64, reason: String },
    /// An Adler32 seal does not match the bytes before it.
    #[error("snapshot checksum mismatch in seal {seal} at offset {offset}: stored {stored:#x}, computed {computed:#x}")]
    BadSeal {
        seal: u8,
        offset: u64,
        stored: i64,
        computed: i64,
    },
    /// zkraft reads only uncompressed snapshots.
    #[error("{path}: compressed snapshots ({compression:?}) are not supported")]
    Compressed {
        path: PathBuf,
        compression: Compression,
    },
    /// An error in a snapshot file.
    #[error("snapshot {file}: {source}")]
    InFile {
        file: PathBuf,
        #[source]
        source: Box<SnapshotError>,
    },
    /// Some snapshots passed the quick check, but none could be read.
    #[error("none of the {tried} snapshots in {dir} that look complete is valid")]
    NoValidSnapshot { dir: PathBuf, tried: usize },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// DataTree.ZxidDigest: the tree digest as of `zxid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZxidDigest {
    /// The zxid the digest belongs to; 0 means "no digest" (an empty ZxidDigest).
    pub zxid: i64,
    /// 2 in 3.6+; below 2 the digest is stored as a hex string.
    pub digest_version: i32,
    /// The 64-bit tree digest.
    pub digest: i64,
}

impl ZxidDigest {
    /// Writes `{long zxid; int digestVersion; long digest}` (digestVersion ≥ 2).
    pub fn write(&self, out: &mut Vec<u8>) {
        self.zxid.write(out);
        self.digest_version.write(out);
        if self.digest_version < 2 {
            write_str(out, &format!("{:x}", self.digest));
        } else {
            self.digest.write(out);
        }
    }
}

/// One node to encode. `path` is "/" for the root (written as "").
#[derive(Debug, Clone, Copy)]
pub struct SnapshotNode<'a> {
    pub path: &'a str,
    pub data: Option<&'a [u8]>,
    pub acl_index: i64,
    pub stat: &'a StatPersisted,
}

/// A decoded snapshot (or SNAP stream body, with `digest` None).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DecodedSnapshot {
    /// (sessionId, timeout) in file order.
    pub sessions: Vec<(i64, i32)>,
    /// The ACL cache: (index, ACL list) in file order.
    pub acls: Vec<(i64, Vec<Acl>)>,
    /// (path, data, aclIndex, stat) in file order, parents before children; the root's
    /// path is "/". ACL indexes are not checked against the cache.
    pub nodes: Vec<(String, Buffer, i64, StatPersisted)>,
    /// The ZxidDigest section, when present (3.6+ with digest enabled). A zxid of 0
    /// means the writer had no digest.
    pub digest: Option<ZxidDigest>,
}

// ---------------------------------------------------------------- encoding

/// Appends a complete snapshot file image to `out`. `nodes` must list parents before
/// children, starting with the root (path "/"). `digest` None omits the digest section
/// and its seal (as with zookeeper.digest.enabled=false).
pub fn encode_snapshot(
    out: &mut Vec<u8>,
    sessions: &[(i64, i32)],
    acls: &[(i64, Vec<Acl>)],
    nodes: &mut dyn Iterator<Item = SnapshotNode<'_>>,
    digest: Option<ZxidDigest>,
) {
    let start = out.len();
    FileHeader {
        magic: SNAP_MAGIC,
        version: SNAP_VERSION,
        dbid: SNAP_DBID,
    }
    .write(out);
    encode_snapshot_stream_body(out, sessions, acls, nodes);
    let mut h = Adler32::new();
    h.write_slice(&out[start..]);
    write_seal(out, &mut h);
    if let Some(d) = digest {
        let at = out.len();
        d.write(out);
        h.write_slice(&out[at..]);
        write_seal(out, &mut h);
    }
}

fn write_seal(out: &mut Vec<u8>, h: &mut Adler32) {
    let at = out.len();
    i64::from(h.checksum()).write(out);
    write_str(out, "/");
    h.write_slice(&out[at..]);
}

/// Appends the sessions, the ACL cache and the nodes with the "/" terminator: the body
/// of a snapshot without header, seals or digest (the payload of a ZAB SNAP sync).
pub fn encode_snapshot_stream_body(
    out: &mut Vec<u8>,
    sessions: &[(i64, i32)],
    acls: &[(i64, Vec<Acl>)],
    nodes: &mut dyn Iterator<Item = SnapshotNode<'_>>,
) {
    (sessions.len() as i32).write(out);
    for &(id, timeout) in sessions {
        id.write(out);
        timeout.write(out);
    }
    (acls.len() as i32).write(out);
    for (index, list) in acls {
        index.write(out);
        list.write(out);
    }
    for n in nodes {
        write_str(out, if n.path == "/" { "" } else { n.path });
        write_buffer(out, n.data);
        n.acl_index.write(out);
        n.stat.write(out);
    }
    write_str(out, "/");
}

// ---------------------------------------------------------------- decoding

/// Reads jute primitives from a stream, keeping the offset and a running Adler32.
struct SnapReader<R> {
    inner: R,
    hasher: Adler32,
    pos: u64,
    /// Total length, when known: bounds every length and count.
    limit: Option<u64>,
}

impl<R: BufRead> SnapReader<R> {
    fn new(inner: R, limit: Option<u64>) -> Self {
        SnapReader {
            inner,
            hasher: Adler32::new(),
            pos: 0,
            limit,
        }
    }

    fn invalid(&self, reason: String) -> SnapshotError {
        SnapshotError::Invalid {
            offset: self.pos,
            reason,
        }
    }

    fn fill(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), SnapshotError> {
        match self.inner.read_exact(buf) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(SnapshotError::Truncated {
                    offset: self.pos,
                    what,
                })
            }
            Err(e) => return Err(SnapshotError::Stream(e)),
        }
        self.hasher.write_slice(buf);
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, SnapshotError> {
        let mut b = [0u8; 4];
        self.fill(&mut b, what)?;
        Ok(i32::from_be_bytes(b))
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, SnapshotError> {
        let mut b = [0u8; 8];
        self.fill(&mut b, what)?;
        Ok(i64::from_be_bytes(b))
    }

    fn remaining(&self) -> Option<u64> {
        self.limit.map(|l| l.saturating_sub(self.pos))
    }

    /// `len` raw bytes; allocation follows the bytes that actually arrive.
    fn bytes(&mut self, len: usize, what: &'static str) -> Result<Vec<u8>, SnapshotError> {
        if self.remaining().is_some_and(|r| len as u64 > r) {
            return Err(self.invalid(format!("{what}: length {len} exceeds the remaining data")));
        }
        let mut v = Vec::with_capacity(len.min(READ_BUF));
        match (&mut self.inner).take(len as u64).read_to_end(&mut v) {
            Ok(n) if n == len => {}
            Ok(_) => {
                return Err(SnapshotError::Truncated {
                    offset: self.pos + v.len() as u64,
                    what,
                })
            }
            Err(e) => return Err(SnapshotError::Stream(e)),
        }
        self.hasher.write_slice(&v);
        self.pos += len as u64;
        Ok(v)
    }

    /// A jute buffer: `None` for length -1.
    fn buffer(&mut self, what: &'static str) -> Result<Buffer, SnapshotError> {
        match self.i32(what)? {
            -1 => Ok(None),
            n if n < 0 => Err(self.invalid(format!("{what}: negative length {n}"))),
            n => self.bytes(n as usize, what).map(Some),
        }
    }

    /// A jute ustring: `None` for length -1.
    fn string_opt(&mut self, what: &'static str) -> Result<Option<String>, SnapshotError> {
        let at = self.pos;
        match self.buffer(what)? {
            None => Ok(None),
            Some(b) => String::from_utf8(b)
                .map(Some)
                .map_err(|_| SnapshotError::Invalid {
                    offset: at,
                    reason: format!("{what}: invalid UTF-8"),
                }),
        }
    }

    /// A vector count or map size, checked against the remaining bytes (each element
    /// takes at least `min_size` bytes).
    fn count(&mut self, min_size: u64, what: &'static str) -> Result<usize, SnapshotError> {
        let n = self.i32(what)?;
        if n < 0 {
            return Err(self.invalid(format!("{what}: negative count {n}")));
        }
        if self.remaining().is_some_and(|r| n as u64 * min_size > r) {
            return Err(self.invalid(format!("{what}: count {n} exceeds the remaining data")));
        }
        Ok(n as usize)
    }

    fn at_end(&mut self) -> Result<bool, SnapshotError> {
        Ok(self
            .inner
            .fill_buf()
            .map_err(SnapshotError::Stream)?
            .is_empty())
    }

    /// `long checksum; ustring "/"`: the checksum must cover everything before it.
    fn seal(&mut self, seal: u8) -> Result<(), SnapshotError> {
        let offset = self.pos;
        let computed = i64::from(self.hasher.checksum());
        let stored = self.i64("seal checksum")?;
        let slash = self.string_opt("seal path")?;
        if stored != computed {
            return Err(SnapshotError::BadSeal {
                seal,
                offset,
                stored,
                computed,
            });
        }
        if slash.as_deref() != Some("/") {
            return Err(SnapshotError::Invalid {
                offset: offset + 8,
                reason: format!("seal {seal} is not followed by \"/\""),
            });
        }
        Ok(())
    }
}

/// Cheap sizes used to bound counts: {long id; int timeout}, {long index; int count},
/// {int perms; int len; int len}, {int pathlen; int datalen; long acl; stat}.
const SESSION_MIN: u64 = 12;
const ACL_ENTRY_MIN: u64 = 12;
const ACL_MIN: u64 = 12;

fn path_hash(p: &str) -> u64 {
    let mut h = DefaultHasher::new();
    p.hash(&mut h);
    h.finish()
}

fn decode_body<R: BufRead>(r: &mut SnapReader<R>) -> Result<DecodedSnapshot, SnapshotError> {
    let mut snap = DecodedSnapshot::default();
    let n = r.count(SESSION_MIN, "session count")?;
    snap.sessions.reserve(n.min(4096));
    for _ in 0..n {
        let id = r.i64("session id")?;
        let timeout = r.i32("session timeout")?;
        snap.sessions.push((id, timeout));
    }
    let n = r.count(ACL_ENTRY_MIN, "ACL cache size")?;
    snap.acls.reserve(n.min(4096));
    for _ in 0..n {
        let index = r.i64("ACL index")?;
        let at = r.pos;
        let count = r.i32("ACL list length")?;
        if count == -1 {
            // ReferenceCountedACLCache.deserialize: "missing acls".
            return Err(SnapshotError::Invalid {
                offset: at,
                reason: format!("ACL cache entry {index} has a null ACL list"),
            });
        }
        if count < 0
            || r.remaining()
                .is_some_and(|rem| count as u64 * ACL_MIN > rem)
        {
            return Err(SnapshotError::Invalid {
                offset: at,
                reason: format!("ACL list length {count}"),
            });
        }
        let mut list = Vec::with_capacity((count as usize).min(64));
        for _ in 0..count {
            let perms = r.i32("ACL perms")?;
            let scheme = r.string_opt("ACL scheme")?.unwrap_or_default();
            let id = r.string_opt("ACL id")?.unwrap_or_default();
            list.push(Acl {
                perms,
                id: Id { scheme, id },
            });
        }
        snap.acls.push((index, list));
    }
    // Parents must precede children; 64-bit path hashes keep this check small.
    let mut seen: HashSet<u64> = HashSet::new();
    loop {
        let at = r.pos;
        let Some(path) = r.string_opt("node path")? else {
            return Err(SnapshotError::Invalid {
                offset: at,
                reason: "null node path".into(),
            });
        };
        if path == "/" {
            break;
        }
        let invalid = |reason: String| SnapshotError::Invalid { offset: at, reason };
        if snap.nodes.is_empty() {
            if !path.is_empty() {
                return Err(invalid(format!("the first node is {path:?}, not the root")));
            }
        } else if path.is_empty() {
            return Err(invalid("the root appears twice".into()));
        } else if !path.starts_with('/') {
            return Err(invalid(format!("node path {path:?} is not absolute")));
        } else {
            let parent = &path[..path.rfind('/').unwrap_or(0)];
            if !seen.contains(&path_hash(parent)) {
                return Err(invalid(format!("node {path:?} comes before its parent")));
            }
        }
        let data = r.buffer("node data")?;
        let acl = r.i64("node ACL index")?;
        let mut stat = [0u8; STAT_PERSISTED_LEN];
        r.fill(&mut stat, "node stat")?;
        let stat = StatPersisted::decode(&stat).map_err(|e| invalid(format!("stat: {e}")))?;
        seen.insert(path_hash(&path));
        let path = if path.is_empty() {
            "/".to_string()
        } else {
            path
        };
        snap.nodes.push((path, data, acl, stat));
    }
    if snap.nodes.is_empty() {
        return Err(r.invalid("the snapshot has no root node".into()));
    }
    Ok(snap)
}

fn decode_zxid_digest<R: BufRead>(r: &mut SnapReader<R>) -> Result<ZxidDigest, SnapshotError> {
    let zxid = r.i64("digest zxid")?;
    let digest_version = r.i32("digest version")?;
    let digest = if digest_version < 2 {
        let at = r.pos;
        let s = r.string_opt("digest")?.unwrap_or_default();
        i64::from_str_radix(&s, 16).map_err(|_| SnapshotError::Invalid {
            offset: at,
            reason: format!("digest {s:?} is not hex"),
        })?
    } else {
        r.i64("digest")?
    };
    Ok(ZxidDigest {
        zxid,
        digest_version,
        digest,
    })
}

fn decode_file<R: BufRead>(r: &mut SnapReader<R>) -> Result<DecodedSnapshot, SnapshotError> {
    let magic = r.i32("file header")?;
    if magic != SNAP_MAGIC {
        return Err(SnapshotError::BadMagic(magic));
    }
    let _version = r.i32("file header")?;
    let _dbid = r.i64("file header")?;
    let mut snap = decode_body(r)?;
    r.seal(1)?;
    if r.at_end()? {
        // Written with the digest disabled, or by ZooKeeper < 3.6.
        return Ok(snap);
    }
    snap.digest = Some(decode_zxid_digest(r)?);
    r.seal(2)?;
    // Anything after the second seal (3.9 adds lastProcessedZxid and a third seal) is
    // not read, as in 3.8.
    Ok(snap)
}

/// Decodes a complete snapshot image, verifying the magic and the seals.
pub fn decode_snapshot(bytes: &[u8]) -> Result<DecodedSnapshot, SnapshotError> {
    decode_file(&mut SnapReader::new(bytes, Some(bytes.len() as u64)))
}

/// Decodes a SNAP stream body (sessions, ACL cache, nodes up to the "/" terminator) from
/// `input`, leaving `input` right after the terminator (where a SNAP sync has its
/// "BenWasHere" signature). `digest` is None.
pub fn decode_snapshot_stream_body<R: BufRead>(
    input: &mut R,
) -> Result<DecodedSnapshot, SnapshotError> {
    decode_body(&mut SnapReader::new(input, None))
}

/// Reads and decodes a snapshot file (streaming, bounded by the file's size). Errors name
/// the file.
pub fn read_snapshot_file(path: &Path) -> Result<DecodedSnapshot, SnapshotError> {
    let in_file = |e: SnapshotError| SnapshotError::InFile {
        file: path.to_path_buf(),
        source: Box::new(e),
    };
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut r = SnapReader::new(BufReader::with_capacity(READ_BUF, file), Some(len));
    decode_file(&mut r).map_err(in_file)
}

/// SnapStream.isValidSnapshot's quick check: the name parses, and for an uncompressed
/// snapshot the file is at least 10 bytes and ends with `int 1, '/'` (the seal's "/").
/// Compressed snapshots are checked for the gzip / snappy-java magic.
pub fn is_valid_snapshot(path: &Path) -> io::Result<bool> {
    let Some((_, compression)) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(files::parse_snapshot_name)
    else {
        return Ok(false);
    };
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    match compression {
        Compression::None => {
            if len < 10 {
                return Ok(false);
            }
            let mut tail = [0u8; 5];
            f.seek(SeekFrom::Start(len - 5))?;
            f.read_exact(&mut tail)?;
            Ok(tail == [0, 0, 0, 1, b'/'])
        }
        Compression::Gzip => {
            let mut m = [0u8; 2];
            Ok(f.read_exact(&mut m).is_ok() && m == [0x1f, 0x8b])
        }
        Compression::Snappy => {
            let mut m = [0u8; 8];
            Ok(f.read_exact(&mut m).is_ok() && m == [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0])
        }
    }
}

/// Writes `bytes` as `snapshot.<zxid>` in `snap_dir_version2`: written to a hidden
/// temporary file first, fsynced, renamed into place, and the directory fsynced, so a
/// crash never leaves a partial `snapshot.*` behind.
pub fn write_snapshot_file(
    snap_dir_version2: &Path,
    zxid: i64,
    bytes: &[u8],
) -> Result<PathBuf, SnapshotError> {
    let name = files::snapshot_name(zxid);
    let path = snap_dir_version2.join(&name);
    let tmp = snap_dir_version2.join(format!(".{name}.tmp"));
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(&tmp)(e));
    }
    if let Err(e) = fs::rename(&tmp, &path) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(&path)(e));
    }
    files::fsync_dir(snap_dir_version2)?;
    Ok(path)
}

/// Loads the newest readable snapshot of `snap_dir` (a `version-2` directory), as
/// FileSnap.deserialize does: snapshots failing the quick check are skipped; of the
/// newest [`MAX_SNAPSHOTS_TRIED`] others, the first that decodes wins, and each failure
/// is logged. `None` when no snapshot passes the quick check; an error when some did but
/// none decodes, or when the one to read is compressed.
pub fn load_latest_snapshot(
    snap_dir: &Path,
) -> Result<Option<(i64, DecodedSnapshot)>, SnapshotError> {
    let snaps = files::list_snapshots(snap_dir)?;
    let mut tried = 0;
    for s in snaps.iter().rev() {
        if !is_valid_snapshot(&s.path).map_err(io_err(&s.path))? {
            tracing::warn!(file = %s.path.display(), "skipping incomplete snapshot");
            continue;
        }
        if s.compression != Compression::None {
            return Err(SnapshotError::Compressed {
                path: s.path.clone(),
                compression: s.compression,
            });
        }
        if tried == MAX_SNAPSHOTS_TRIED {
            break;
        }
        tried += 1;
        match read_snapshot_file(&s.path) {
            Ok(snap) => return Ok(Some((s.zxid, snap))),
            Err(e) => {
                tracing::warn!(file = %s.path.display(), "problem reading snapshot, trying an older one: {e}")
            }
        }
    }
    if tried > 0 {
        return Err(SnapshotError::NoValidSnapshot {
            dir: snap_dir.to_path_buf(),
            tried,
        });
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(z: i64) -> StatPersisted {
        StatPersisted {
            czxid: z,
            mzxid: z,
            ctime: 1000 + z,
            mtime: 2000 + z,
            version: 1,
            cversion: 2,
            aversion: 3,
            ephemeral_owner: 0,
            pzxid: z,
        }
    }

    fn acl(scheme: &str, id: &str, perms: i32) -> Acl {
        Acl {
            perms,
            id: Id {
                scheme: scheme.into(),
                id: id.into(),
            },
        }
    }

    struct Fixture {
        sessions: Vec<(i64, i32)>,
        acls: Vec<(i64, Vec<Acl>)>,
        nodes: Vec<(String, Buffer, i64, StatPersisted)>,
    }

    fn fixture() -> Fixture {
        Fixture {
            sessions: vec![(0x100_0000_0000_0001, 30000), (0x100_0000_0000_0002, 4000)],
            acls: vec![
                (1, vec![acl("world", "anyone", 31)]),
                (
                    2,
                    vec![
                        acl("digest", "user:2Om+GBbT2q/tS6pdvACZbbm7/1A=", 31),
                        acl("ip", "10.0.0.0/8", 1),
                    ],
                ),
                (3, vec![]),
            ],
            nodes: vec![
                ("/".into(), Some(vec![]), -1, stat(0)),
                ("/zookeeper".into(), Some(vec![]), -1, stat(0)),
                ("/zookeeper/quota".into(), None, -1, stat(0)),
                ("/a".into(), Some(b"hello".to_vec()), 1, stat(4)),
                ("/a/b".into(), None, 2, stat(5)),
                ("/a-c".into(), Some(vec![0; 300]), 3, stat(6)),
                ("/a/b/ü".into(), Some(b"x".to_vec()), 1, stat(7)),
            ],
        }
    }

    fn encode(f: &Fixture, digest: Option<ZxidDigest>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut it = f.nodes.iter().map(|(p, d, a, s)| SnapshotNode {
            path: p,
            data: d.as_deref(),
            acl_index: *a,
            stat: s,
        });
        encode_snapshot(&mut out, &f.sessions, &f.acls, &mut it, digest);
        out
    }

    const DIGEST: ZxidDigest = ZxidDigest {
        zxid: 0x1a,
        digest_version: 2,
        digest: 0x5_6550_c4c9,
    };

    #[test]
    fn roundtrip_with_and_without_digest() {
        let f = fixture();
        for digest in [Some(DIGEST), None] {
            let bytes = encode(&f, digest);
            assert_eq!(
                &bytes[..16],
                &[
                    0x5a, 0x4b, 0x53, 0x4e, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                    0xff
                ]
            );
            assert_eq!(&bytes[bytes.len() - 5..], &[0, 0, 0, 1, b'/']);
            let d = decode_snapshot(&bytes).unwrap();
            assert_eq!(d.sessions, f.sessions);
            assert_eq!(d.acls, f.acls);
            assert_eq!(d.nodes, f.nodes);
            assert_eq!(d.digest, digest);
        }
        // The root is written as "" right after the ACL cache.
        let bytes = encode(&f, None);
        let acl_end = bytes.windows(4).position(|w| w == b"/8\0\0").unwrap() + 2;
        assert_eq!(&bytes[acl_end..acl_end + 8], &3i64.to_be_bytes(), "index 3");
        assert_eq!(
            &bytes[acl_end + 8..acl_end + 12],
            &[0, 0, 0, 0],
            "empty list"
        );
        assert_eq!(
            &bytes[acl_end + 12..acl_end + 16],
            &[0, 0, 0, 0],
            "root path \"\""
        );
    }

    #[test]
    fn seals_cover_everything_before_them() {
        let f = fixture();
        let bytes = encode(&f, Some(DIGEST));
        let n = bytes.len();
        // Second seal: adler32 of all bytes before it (first seal included).
        let seal2 = n - 13;
        assert_eq!(
            &bytes[seal2..seal2 + 8],
            &i64::from(adler::adler32_slice(&bytes[..seal2])).to_be_bytes()
        );
        let seal1 = seal2 - 20 - 13;
        assert_eq!(
            &bytes[seal1..seal1 + 8],
            &i64::from(adler::adler32_slice(&bytes[..seal1])).to_be_bytes()
        );
        assert_eq!(&bytes[seal1 + 13..seal1 + 21], &0x1ai64.to_be_bytes());
        assert_eq!(&bytes[seal1 + 21..seal1 + 25], &2i32.to_be_bytes());
        // Any flipped bit in the body is caught by a seal (or a structural check).
        for i in (16..n).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert!(decode_snapshot(&b).is_err(), "flip at {i}");
        }
        let mut b = bytes.clone();
        b[seal1 + 13 + 7] ^= 1; // the digest's zxid
        assert!(matches!(
            decode_snapshot(&b),
            Err(SnapshotError::BadSeal { seal: 2, .. })
        ));
        let mut b = bytes.clone();
        b[20] ^= 1; // a session id
        assert!(matches!(
            decode_snapshot(&b),
            Err(SnapshotError::BadSeal { seal: 1, .. })
        ));
    }

    #[test]
    fn truncations_and_bad_headers() {
        let bytes = encode(&fixture(), Some(DIGEST));
        // Cut right after the first seal, it reads as a snapshot without digest (as in
        // Java); every other prefix is an error.
        let after_seal1 = bytes.len() - 13 - 20;
        for len in 0..bytes.len() {
            let r = decode_snapshot(&bytes[..len]);
            assert_eq!(r.is_ok(), len == after_seal1, "prefix of {len} bytes");
        }
        assert_eq!(decode_snapshot(&bytes[..after_seal1]).unwrap().digest, None);
        let mut b = bytes.clone();
        b[0] = b'X';
        assert!(matches!(
            decode_snapshot(&b),
            Err(SnapshotError::BadMagic(_))
        ));
        // A digest-less snapshot may end after the first seal; trailing bytes after the
        // second seal are ignored (3.9's lastProcessedZxid section).
        let mut b = bytes.clone();
        b.extend_from_slice(&[0; 8]);
        assert!(decode_snapshot(&b).is_ok());
    }

    #[test]
    fn huge_counts_and_lengths_are_bounded() {
        let f = fixture();
        let bytes = encode(&f, None);
        // Session count.
        let mut b = bytes.clone();
        b[16..20].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            decode_snapshot(&b),
            Err(SnapshotError::Invalid { offset: 20, .. })
        ));
        // ACL cache size.
        let acl_at = 20 + 12 * f.sessions.len();
        let mut b = bytes.clone();
        b[acl_at..acl_at + 4].copy_from_slice(&0x7000_0000i32.to_be_bytes());
        assert!(matches!(
            decode_snapshot(&b),
            Err(SnapshotError::Invalid { .. })
        ));
        // A node data length.
        let at = bytes.windows(5).position(|w| w == b"hello").unwrap() - 4;
        let mut b = bytes.clone();
        b[at..at + 4].copy_from_slice(&0x7fff_fff0i32.to_be_bytes());
        assert!(matches!(
            decode_snapshot(&b),
            Err(SnapshotError::Invalid { .. })
        ));
        // The same on an unbounded stream: only truncation, no huge allocation.
        let mut r = &b[16..];
        assert!(matches!(
            decode_snapshot_stream_body(&mut r),
            Err(SnapshotError::Truncated { .. })
        ));
        // Negative lengths.
        b[at..at + 4].copy_from_slice(&(-2i32).to_be_bytes());
        assert!(matches!(
            decode_snapshot(&b),
            Err(SnapshotError::Invalid { .. })
        ));
    }

    #[test]
    fn node_order_is_checked() {
        let mut f = fixture();
        f.nodes.swap(3, 4); // "/a/b" before "/a"
        assert!(
            matches!(decode_snapshot(&encode(&f, None)), Err(SnapshotError::Invalid { reason, .. }) if reason.contains("before its parent"))
        );
        let mut f = fixture();
        f.nodes.remove(0);
        assert!(
            matches!(decode_snapshot(&encode(&f, None)), Err(SnapshotError::Invalid { reason, .. }) if reason.contains("not the root"))
        );
        let mut f = fixture();
        f.nodes.clear();
        assert!(decode_snapshot(&encode(&f, None)).is_err());
        let mut f = fixture();
        f.nodes.push(("/".into(), None, -1, stat(0)));
        // "/" is written as "", a second root.
        assert!(decode_snapshot(&encode(&f, None)).is_err());
        let mut f = fixture();
        f.nodes[3].0 = "a".into();
        assert!(decode_snapshot(&encode(&f, None)).is_err());
    }

    #[test]
    fn null_acl_list_is_rejected() {
        let mut out = Vec::new();
        0i32.write(&mut out);
        1i32.write(&mut out);
        1i64.write(&mut out);
        (-1i32).write(&mut out);
        assert!(matches!(
            decode_snapshot_stream_body(&mut &out[..]),
            Err(SnapshotError::Invalid { offset: 16, .. })
        ));
    }

    #[test]
    fn stream_body_roundtrip_leaves_the_signature() {
        let f = fixture();
        let mut out = Vec::new();
        let mut it = f.nodes.iter().map(|(p, d, a, s)| SnapshotNode {
            path: p,
            data: d.as_deref(),
            acl_index: *a,
            stat: s,
        });
        encode_snapshot_stream_body(&mut out, &f.sessions, &f.acls, &mut it);
        write_str(&mut out, SNAP_SYNC_SIGNATURE);
        // The body is exactly the file between its header and its first seal.
        let file = encode(&f, None);
        let body_len = out.len() - 14;
        assert_eq!(&out[..body_len], &file[16..16 + body_len]);
        let mut r = BufReader::with_capacity(7, &out[..]);
        let d = decode_snapshot_stream_body(&mut r).unwrap();
        assert_eq!(
            (d.sessions, d.acls, d.nodes, d.digest),
            (f.sessions, f.acls, f.nodes, None)
        );
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(String::decode(&rest).unwrap(), SNAP_SYNC_SIGNATURE);
    }

    #[test]
    fn old_digest_version_is_a_hex_string() {
        let f = fixture();
        let d = ZxidDigest {
            zxid: 5,
            digest_version: 1,
            digest: 0xabc,
        };
        assert_eq!(
            decode_snapshot(&encode(&f, Some(d))).unwrap().digest,
            Some(d)
        );
    }

    #[test]
    fn files_and_fallback() {
        let d = tempfile::tempdir().unwrap();
        assert!(load_latest_snapshot(d.path()).unwrap().is_none());
        let f = fixture();
        let good = encode(&f, Some(DIGEST));
        let p = write_snapshot_file(d.path(), 0x10, &good).unwrap();
        assert_eq!(p, d.path().join("snapshot.10"));
        assert!(is_valid_snapshot(&p).unwrap());
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
        // A newer torn one fails the quick check; a newer corrupt one fails its seal.
        fs::write(d.path().join("snapshot.30"), &good[..good.len() - 3]).unwrap();
        let mut bad = good.clone();
        bad[40] ^= 0xff;
        fs::write(d.path().join("snapshot.20"), &bad).unwrap();
        assert!(!is_valid_snapshot(&d.path().join("snapshot.30")).unwrap());
        assert!(is_valid_snapshot(&d.path().join("snapshot.20")).unwrap());
        match read_snapshot_file(&d.path().join("snapshot.20")) {
            Err(e @ SnapshotError::InFile { .. }) => {
                assert!(e.to_string().contains("snapshot.20"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        let (zxid, snap) = load_latest_snapshot(d.path()).unwrap().unwrap();
        assert_eq!(zxid, 0x10);
        assert_eq!(snap.nodes, f.nodes);
        // Nothing valid at all.
        fs::remove_file(&p).unwrap();
        assert!(matches!(
            load_latest_snapshot(d.path()),
            Err(SnapshotError::NoValidSnapshot { tried: 1, .. })
        ));
        fs::remove_file(d.path().join("snapshot.20")).unwrap();
        assert!(load_latest_snapshot(d.path()).unwrap().is_none());
        // Compressed snapshots are refused loudly, not skipped.
        write_snapshot_file(d.path(), 0x10, &good).unwrap();
        fs::write(d.path().join("snapshot.40.gz"), [0x1f, 0x8b, 8, 0]).unwrap();
        assert!(matches!(
            load_latest_snapshot(d.path()),
            Err(SnapshotError::Compressed { .. })
        ));
        fs::write(d.path().join("snapshot.40.gz"), b"junk").unwrap();
        assert_eq!(load_latest_snapshot(d.path()).unwrap().unwrap().0, 0x10);
        assert!(!is_valid_snapshot(&d.path().join("snapshot.1")).unwrap_or(false));
        fs::write(d.path().join("snapshot.2"), [0, 0, 0, 1, b'/']).unwrap();
        assert!(
            !is_valid_snapshot(&d.path().join("snapshot.2")).unwrap(),
            "shorter than 10 bytes"
        );
    }
}
