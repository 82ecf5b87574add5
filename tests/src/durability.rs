//! Helpers for the durability tests (`tests/tests/durability.rs`): reading and damaging
//! ZooKeeper 3.8 data directories (`version-2/log.<hex>`, `snapshot.<hex>`) from the outside,
//! a small seedable PRNG, and reading the part of a server log written since a restart.
//!
//! Formats (spec §13): a log file is a 16-byte FileHeader followed by entries
//! `{long adler32(payload); int len; byte[len] payload; byte 'B'}`, preallocated with zeros; an
//! entry with checksum 0 and length 0 (or EOF) ends it. A snapshot ends with
//! `long adler32; ustring "/"` (and, 3.6+, a ZxidDigest and a second such seal).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The FileHeader magic of a transaction log ("ZKLG").
pub const LOG_MAGIC: u32 = 0x5A4B_4C47;
/// The FileHeader magic of a snapshot ("ZKSN").
pub const SNAP_MAGIC: u32 = 0x5A4B_534E;
/// Size of the FileHeader of both file kinds.
pub const FILE_HEADER_LEN: u64 = 16;

/// Adler-32 (what ZooKeeper uses for log entries and snapshot seals).
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += x as u32;
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// `dir/version-2`.
pub fn version_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("version-2")
}

fn parse_hex(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok().map(|v| v as i64)
}

/// The `<prefix>.<hex>` files of a `version-2` directory, sorted by zxid (oldest first).
pub fn list_files(version2: &Path, prefix: &str) -> Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(version2) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("listing {}", version2.display())),
    };
    for e in rd {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(z) = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('.'))
            .and_then(parse_hex)
        {
            out.push((z, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// `log.*` files of the data dir (dataLogDir = dataDir), oldest first.
pub fn logs(data_dir: &Path) -> Result<Vec<(i64, PathBuf)>> {
    list_files(&version_dir(data_dir), "log")
}

/// `snapshot.*` files of the data dir, oldest first.
pub fn snapshots(data_dir: &Path) -> Result<Vec<(i64, PathBuf)>> {
    list_files(&version_dir(data_dir), "snapshot")
}

/// One checksum-verified entry of a log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Where the entry (its checksum field) starts in the file.
    pub offset: u64,
    /// Payload length.
    pub len: u32,
    pub zxid: i64,
    /// TxnHeader.type.
    pub txn_type: i32,
}

impl LogEntry {
    /// Offset just past the entry's 'B' marker.
    pub fn end(&self) -> u64 {
        self.offset + 12 + self.len as u64 + 1
    }
}

/// What [`scan_log`] found.
#[derive(Clone, Debug)]
pub struct LogScan {
    pub entries: Vec<LogEntry>,
    /// The offset right after the last good entry (16 when there is none).
    pub end: u64,
    pub file_len: u64,
    /// Why the scan stopped before EOF: `None` for a clean end (zero entry header / EOF).
    pub stopped: Option<String>,
}

/// Reads a log file entry by entry, verifying checksums and 'B' markers, until the zero
/// padding, EOF or the first bad entry. Reads only up to where it stops (log files are
/// preallocated to 64 MiB).
pub fn scan_log(path: &Path) -> Result<LogScan> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let file_len = f.metadata()?.len();
    let mut r = io::BufReader::with_capacity(64 * 1024, f);
    if file_len < FILE_HEADER_LEN {
        bail!("{}: shorter than a file header", path.display());
    }
    let mut hdr = [0u8; 16];
    r.read_exact(&mut hdr)?;
    let magic = u32::from_be_bytes(hdr[0..4].try_into().unwrap());
    if magic != LOG_MAGIC {
        bail!("{}: bad magic {magic:#x}", path.display());
    }
    let mut pos = FILE_HEADER_LEN;
    let mut entries = Vec::new();
    let mut payload = Vec::new();
    let stopped = loop {
        let left = file_len - pos;
        if left < 12 {
            let mut rest = vec![0u8; left as usize];
            r.read_exact(&mut rest)?;
            break if rest.iter().all(|&b| b == 0) {
                None
            } else {
                Some("partial header".into())
            };
        }
        let mut head = [0u8; 12];
        r.read_exact(&mut head)?;
        let crc = i64::from_be_bytes(head[0..8].try_into().unwrap());
        let len = i32::from_be_bytes(head[8..12].try_into().unwrap());
        if crc == 0 && len == 0 {
            break None;
        }
        if len <= 0 || pos + 12 + len as u64 + 1 > file_len || len > 64 << 20 {
            break Some(format!("bad length {len} at {pos}"));
        }
        payload.resize(len as usize + 1, 0);
        r.read_exact(&mut payload)?;
        if payload.pop() != Some(b'B') {
            break Some(format!("no end marker at {pos}"));
        }
        if adler32(&payload) as i64 != crc {
            break Some(format!("checksum mismatch at {pos}"));
        }
        // TxnHeader{long clientId; int cxid; long zxid; long time; int type}: 32 bytes.
        if payload.len() < 32 {
            break Some(format!("short payload at {pos}"));
        }
        let zxid = i64::from_be_bytes(payload[12..20].try_into().unwrap());
        let txn_type = i32::from_be_bytes(payload[28..32].try_into().unwrap());
        entries.push(LogEntry {
            offset: pos,
            len: len as u32,
            zxid,
            txn_type,
        });
        pos += 12 + len as u64 + 1;
    };
    Ok(LogScan {
        entries,
        end: pos,
        file_len,
        stopped,
    })
}

/// The highest zxid recorded in any log file of the data dir (`None` without entries).
pub fn last_logged_zxid(data_dir: &Path) -> Result<Option<i64>> {
    let mut last = None;
    for (_, p) in logs(data_dir)? {
        if let Some(e) = scan_log(&p)?.entries.last() {
            last = last.max(Some(e.zxid));
        }
    }
    Ok(last)
}

/// The newest log file that holds at least one entry, with its scan.
pub fn newest_nonempty_log(data_dir: &Path) -> Result<Option<(PathBuf, LogScan)>> {
    for (_, p) in logs(data_dir)?.into_iter().rev() {
        let s = scan_log(&p)?;
        if !s.entries.is_empty() {
            return Ok(Some((p, s)));
        }
    }
    Ok(None)
}

/// Reads `len` bytes at `offset`.
pub fn read_at(path: &Path, offset: u64, len: usize) -> Result<Vec<u8>> {
    let f = File::open(path)?;
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, offset)
        .with_context(|| format!("reading {} at {offset}", path.display()))?;
    Ok(buf)
}

/// Overwrites bytes at `offset` (the file grows if needed) and fsyncs.
pub fn write_at(path: &Path, offset: u64, bytes: &[u8]) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all_at(bytes, offset)?;
    f.sync_all()?;
    Ok(())
}

/// XORs the byte at `offset` with `mask` (non-zero).
pub fn flip_byte(path: &Path, offset: u64, mask: u8) -> Result<()> {
    let b = read_at(path, offset, 1)?;
    write_at(path, offset, &[b[0] ^ mask])
}

/// Truncates (or extends with zeros) a file to `len` bytes.
pub fn set_len(path: &Path, len: u64) -> Result<()> {
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(len)?;
    f.sync_all()?;
    Ok(())
}

/// Appends bytes at the end of a file.
pub fn append(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new().append(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// Whether a snapshot passes ZooKeeper's quick validity check (ends with `int 1, '/'`).
pub fn snapshot_looks_complete(path: &Path) -> Result<bool> {
    let len = fs::metadata(path)?.len();
    if len < 10 {
        return Ok(false);
    }
    Ok(read_at(path, len - 5, 5)? == [0, 0, 0, 1, b'/'])
}

/// The file offset of the checksum `long` of the LAST seal of a snapshot (`len - 13`).
pub fn snapshot_last_seal_offset(path: &Path) -> Result<u64> {
    let len = fs::metadata(path)?.len();
    if len < 29 {
        bail!("{} is too short for a snapshot", path.display());
    }
    Ok(len - 13)
}

/// Everything the server wrote to its log file from byte `from` on.
pub fn log_since(log_path: &Path, from: u64) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(log_path) {
        if f.seek(SeekFrom::Start(from)).is_ok() {
            let mut buf = Vec::new();
            let _ = f.read_to_end(&mut buf);
            text = String::from_utf8_lossy(&buf).into_owned();
        }
    }
    text
}

/// The current size of a file (0 if missing): a position to read a log from later.
pub fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// A small xorshift64* PRNG; tests print their seed (override with `ZK_DURABILITY_SEED`).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1) ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// Seed from `ZK_DURABILITY_SEED` or the clock.
    pub fn seed_from_env() -> u64 {
        if let Ok(s) = std::env::var("ZK_DURABILITY_SEED") {
            if let Ok(v) = s.trim().parse::<u64>() {
                return v;
            }
        }
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (t.as_nanos() as u64) ^ ((std::process::id() as u64) << 32)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        let big = vec![0xffu8; 100_000];
        // Reference: the straightforward definition.
        let (mut a, mut b) = (1u64, 0u64);
        for &x in &big {
            a = (a + x as u64) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!(adler32(&big), ((b << 16) | a) as u32);
    }

    #[test]
    fn scan_log_reads_entries_and_stops_at_padding() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log.1");
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&LOG_MAGIC.to_be_bytes());
        bytes.extend_from_slice(&2u32.to_be_bytes());
        bytes.extend_from_slice(&0u64.to_be_bytes());
        for zxid in 1..=3i64 {
            let mut payload = Vec::new();
            payload.extend_from_slice(&7i64.to_be_bytes());
            payload.extend_from_slice(&1i32.to_be_bytes());
            payload.extend_from_slice(&zxid.to_be_bytes());
            payload.extend_from_slice(&0i64.to_be_bytes());
            payload.extend_from_slice(&(-10i32).to_be_bytes());
            payload.extend_from_slice(&30000i32.to_be_bytes());
            bytes.extend_from_slice(&(adler32(&payload) as i64).to_be_bytes());
            bytes.extend_from_slice(&(payload.len() as i32).to_be_bytes());
            bytes.extend_from_slice(&payload);
            bytes.push(b'B');
        }
        let end = bytes.len() as u64;
        bytes.extend_from_slice(&[0u8; 100]);
        fs::write(&p, &bytes).unwrap();
        let s = scan_log(&p).unwrap();
        assert_eq!(
            s.entries.iter().map(|e| e.zxid).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(s.entries[0].txn_type, -10);
        assert_eq!(s.end, end);
        assert_eq!(s.stopped, None);
        flip_byte(&p, s.entries[1].offset + 20, 1).unwrap();
        let s = scan_log(&p).unwrap();
        assert_eq!(s.entries.len(), 1);
        assert!(s.stopped.is_some());
    }
}
