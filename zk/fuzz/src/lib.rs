//! The properties the fuzz targets check, shared with the proptest fallback in
//! `zk/tests/jute_props.rs` (which includes this file with `#[path]`), so the same checks run
//! on stable without libFuzzer. Each function takes arbitrary bytes and panics only when a
//! property is violated:
//!
//! - decoding never panics (and, under libFuzzer's `-malloc_limit_mb`, never allocates more
//!   than a small multiple of the input, whatever lengths or counts the input claims);
//! - whatever decodes re-encodes to bytes that decode to the same value (a fixed point; not
//!   byte-identical to the input, since malformed UTF-8 decodes to U+FFFD as in Java).
//!
//! Only the public API of the `zk` crate is used. `zk::core`'s multi decoder is private, so
//! [`multi_request`] re-implements its MultiHeader loop over the public records.

use std::fmt::Debug;
use std::path::Path;

use zk::jute::*;
use zk::persist::{snapshot, txnlog};
use zk::txn::{TxnBody, TxnEntry};

/// Decodes `T` from `data`; when it decodes, checks that the encoding is canonical.
pub fn roundtrip<T: Jute + PartialEq + Debug>(data: &[u8]) -> Option<T> {
    let (rest, v) = T::read(data).ok()?;
    let consumed = data.len() - rest.len();
    let enc = v.to_bytes();
    let (rest2, v2) = match T::read(&enc) {
        Ok(x) => x,
        Err(e) => panic!(
            "{}: re-encoding of {v:?} does not decode: {e:?}",
            std::any::type_name::<T>()
        ),
    };
    assert!(
        rest2.is_empty(),
        "{}: re-decoding left {} bytes",
        std::any::type_name::<T>(),
        rest2.len()
    );
    assert_eq!(
        v2,
        v,
        "{}: re-encode/decode changed the value",
        std::any::type_name::<T>()
    );
    // Strings decode lossily (malformed UTF-8 becomes U+FFFD, as in Java), so the
    // re-encoding may be longer than the input; it must be a fixed point, though.
    let _ = consumed;
    assert_eq!(
        v2.to_bytes(),
        enc,
        "{}: re-encoding is not stable",
        std::any::type_name::<T>()
    );
    // `decode` agrees with `read`.
    assert_eq!(T::decode(data).ok().as_ref(), Some(&v));
    Some(v)
}

/// The first frame of a connection.
pub fn connect_request(data: &[u8]) {
    if let Some(r) = roundtrip::<ConnectRequest>(data) {
        // A request without the trailing readOnly byte is an "old client"; with it, not.
        assert_eq!(
            r.read_only.is_none(),
            data.len() == 24 + passwd_len(&r),
            "readOnly present iff a byte follows the password"
        );
    }
    roundtrip::<ConnectResponse>(data);
}

fn passwd_len(r: &ConnectRequest) -> usize {
    4 + r.passwd.as_ref().map_or(0, |p| p.len())
}

/// Every request record (and the headers and records a request frame is made of).
pub fn request_records(data: &[u8]) {
    roundtrip::<RequestHeader>(data);
    roundtrip::<CreateRequest>(data);
    roundtrip::<CreateTtlRequest>(data);
    roundtrip::<DeleteRequest>(data);
    roundtrip::<PathWatchRequest>(data);
    roundtrip::<PathRequest>(data);
    roundtrip::<SetDataRequest>(data);
    roundtrip::<SetAclRequest>(data);
    roundtrip::<CheckVersionRequest>(data);
    roundtrip::<WatchesRequest>(data);
    roundtrip::<AddWatchRequest>(data);
    roundtrip::<SetWatches>(data);
    roundtrip::<SetWatches2>(data);
    roundtrip::<ReconfigRequest>(data);
    roundtrip::<MultiHeader>(data);
    roundtrip::<AuthPacket>(data);
    roundtrip::<Id>(data);
    roundtrip::<Acl>(data);
    roundtrip::<Vec<Acl>>(data);
    roundtrip::<Vec<String>>(data);
    roundtrip::<Buffer>(data);
    roundtrip::<String>(data);
    // A whole request frame body: header, then the record its opcode names.
    if let Ok((body, h)) = RequestHeader::read(data) {
        request_body(h.r#type, body);
    }
}

/// Decodes a request body the way the server picks its record by opcode.
pub fn request_body(opcode: i32, body: &[u8]) {
    match opcode {
        1 | 15 | 19 => drop(roundtrip::<CreateRequest>(body)),
        21 => drop(roundtrip::<CreateTtlRequest>(body)),
        2 => drop(roundtrip::<DeleteRequest>(body)),
        3 | 4 | 8 | 12 => drop(roundtrip::<PathWatchRequest>(body)),
        6 | 9 | 103 | 104 => drop(roundtrip::<PathRequest>(body)),
        5 => drop(roundtrip::<SetDataRequest>(body)),
        7 => drop(roundtrip::<SetAclRequest>(body)),
        13 => drop(roundtrip::<CheckVersionRequest>(body)),
        14 | 22 => multi_request(body),
        16 => drop(roundtrip::<ReconfigRequest>(body)),
        17 | 18 => drop(roundtrip::<WatchesRequest>(body)),
        100 => drop(roundtrip::<AuthPacket>(body)),
        101 => drop(roundtrip::<SetWatches>(body)),
        105 => drop(roundtrip::<SetWatches2>(body)),
        106 => drop(roundtrip::<AddWatchRequest>(body)),
        _ => {}
    }
}

/// Every response record.
pub fn response_records(data: &[u8]) {
    roundtrip::<ReplyHeader>(data);
    roundtrip::<WatcherEvent>(data);
    roundtrip::<Stat>(data);
    roundtrip::<CreateResponse>(data);
    roundtrip::<Create2Response>(data);
    roundtrip::<StatResponse>(data);
    roundtrip::<GetDataResponse>(data);
    roundtrip::<GetAclResponse>(data);
    roundtrip::<StringsResponse>(data);
    roundtrip::<GetChildren2Response>(data);
    roundtrip::<SyncResponse>(data);
    roundtrip::<GetAllChildrenNumberResponse>(data);
    roundtrip::<ErrorResponse>(data);
    roundtrip::<WhoAmIResponse>(data);
    roundtrip::<ClientInfo>(data);
}

/// Transaction, file and quorum records.
pub fn txn_records(data: &[u8]) {
    roundtrip::<TxnHeader>(data);
    roundtrip::<CreateTxn>(data);
    roundtrip::<CreateTxnV0>(data);
    roundtrip::<CreateTtlTxn>(data);
    roundtrip::<CreateContainerTxn>(data);
    roundtrip::<DeleteTxn>(data);
    roundtrip::<SetDataTxn>(data);
    roundtrip::<CheckVersionTxn>(data);
    roundtrip::<SetAclTxn>(data);
    roundtrip::<ErrorTxn>(data);
    roundtrip::<CreateSessionTxn>(data);
    roundtrip::<CloseSessionTxn>(data);
    roundtrip::<Txn>(data);
    roundtrip::<MultiTxn>(data);
    roundtrip::<TxnDigest>(data);
    roundtrip::<StatPersisted>(data);
    roundtrip::<FileHeader>(data);
    roundtrip::<QuorumPacket>(data);
    roundtrip::<LearnerInfo>(data);
}

/// Every record of `zk::jute::records`.
pub fn all_records(data: &[u8]) {
    connect_request(data);
    request_records(data);
    response_records(data);
    txn_records(data);
}

/// A decoded multi / multiRead sub-operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    Create(i32, CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(PathWatchRequest),
    GetData(PathWatchRequest),
}

/// The MultiHeader loop of `zk::core::decode_multi` (MultiOperationRecord.deserialize) over
/// the public records: `(type, done, err)` headers, each followed by the record its type
/// names, up to a header with `done`. Returns `None` where the server answers
/// MarshallingError.
pub fn decode_multi(mut i: &[u8]) -> Option<Vec<MultiOp>> {
    fn rd<T: Jute>(i: &mut &[u8]) -> Option<T> {
        let (rest, v) = T::read(i).ok()?;
        *i = rest;
        Some(v)
    }
    let mut ops = Vec::new();
    loop {
        let h: MultiHeader = rd(&mut i)?;
        if h.done {
            return Some(ops);
        }
        ops.push(match h.r#type {
            1 | 15 | 19 => MultiOp::Create(h.r#type, rd(&mut i)?),
            21 => MultiOp::CreateTtl(rd(&mut i)?),
            2 => MultiOp::Delete(rd(&mut i)?),
            5 => MultiOp::SetData(rd(&mut i)?),
            13 => MultiOp::Check(rd(&mut i)?),
            8 => MultiOp::GetChildren(rd(&mut i)?),
            4 => MultiOp::GetData(rd(&mut i)?),
            _ => return None,
        });
    }
}

fn encode_multi(ops: &[MultiOp]) -> Vec<u8> {
    let mut v = Vec::new();
    for o in ops {
        let ty = match o {
            MultiOp::Create(t, _) => *t,
            MultiOp::CreateTtl(_) => 21,
            MultiOp::Delete(_) => 2,
            MultiOp::SetData(_) => 5,
            MultiOp::Check(_) => 13,
            MultiOp::GetChildren(_) => 8,
            MultiOp::GetData(_) => 4,
        };
        MultiHeader {
            r#type: ty,
            done: false,
            err: -1,
        }
        .write(&mut v);
        match o {
            MultiOp::Create(_, r) => r.write(&mut v),
            MultiOp::CreateTtl(r) => r.write(&mut v),
            MultiOp::Delete(r) => r.write(&mut v),
            MultiOp::SetData(r) => r.write(&mut v),
            MultiOp::Check(r) => r.write(&mut v),
            MultiOp::GetChildren(r) | MultiOp::GetData(r) => r.write(&mut v),
        }
    }
    MultiHeader {
        r#type: -1,
        done: true,
        err: -1,
    }
    .write(&mut v);
    v
}

/// A multi request body: decodes, and what decodes re-encodes to an equal op list. Also the
/// multi *transaction* (MultiTxn of sub-txns) and a multi response made of the same bytes.
pub fn multi_request(data: &[u8]) {
    if let Some(ops) = decode_multi(data) {
        let enc = encode_multi(&ops);
        assert_eq!(
            decode_multi(&enc).as_ref(),
            Some(&ops),
            "multi re-encode/decode"
        );
    }
    if let Ok((_, body)) = TxnBody::read(14, data) {
        let mut enc = Vec::new();
        body.write(&mut enc);
        let (_, back) = TxnBody::read(14, &enc).expect("re-encoded multi txn decodes");
        if !close_session_ambiguity(&body) {
            assert_eq!(back, body, "multi txn re-encode/decode");
        }
    }
}

/// `TxnEntry::decode` (log payloads and proposals); what decodes re-encodes canonically.
pub fn txn_entry(data: &[u8]) {
    let Ok(e) = TxnEntry::decode(data) else {
        return;
    };
    let enc = e.encode();
    let back = TxnEntry::decode(&enc)
        .unwrap_or_else(|err| panic!("re-encoding of {e:?} does not decode: {err}"));
    if is_close_session_ambiguity(&e) {
        return;
    }
    assert_eq!(back, e, "TxnEntry re-encode/decode changed the entry");
    // (The encoding may be longer than the input: a pre-3.3 CreateTxn without parentCVersion
    // is re-encoded in the current form.)
}

/// A record-less closeSession (≤ 3.5) followed by a TxnDigest and a CloseSessionTxn of two
/// empty paths without a digest are the same 12 bytes (`00000002 00000000 00000000`); the
/// decoder reads them as the former. Paths are never empty, so this never happens for real.
fn is_close_session_ambiguity(e: &TxnEntry) -> bool {
    close_session_ambiguity(&e.body)
}

fn close_session_ambiguity(b: &TxnBody) -> bool {
    match b {
        TxnBody::CloseSession(Some(t)) => {
            t.paths2_delete.len() == 2 && t.paths2_delete.iter().all(|p| p.is_empty())
        }
        TxnBody::Multi(subs) => subs.iter().any(close_session_ambiguity),
        _ => false,
    }
}

/// `decode_snapshot` and `decode_snapshot_stream_body`; what decodes re-encodes to a snapshot
/// that decodes to the same thing.
pub fn snapshot(data: &[u8]) {
    if let Some(s) = snapshot::decode_snapshot(data)
        .ok()
        .filter(|s| !old_negative_digest(s))
    {
        let enc = encode_snapshot(&s);
        match snapshot::decode_snapshot(&enc) {
            Ok(back) => assert_eq!(back, s, "snapshot re-encode/decode changed it"),
            Err(e) => panic!("re-encoded snapshot does not decode: {e} ({s:?})"),
        }
    }
    let mut r = data;
    let _ = snapshot::decode_snapshot_stream_body(&mut r);
    // The seals (Adler32) stop mutated files early; also build a sealed file around the body.
    if let Some((file, with_digest)) = sealed_snapshot(data) {
        let s = match snapshot::decode_snapshot(&file) {
            Ok(s) => s,
            // The digest bytes come from the input: a version < 2 digest must be hex.
            Err(_) if with_digest => return,
            Err(e) => panic!("a sealed snapshot built from a decodable body fails: {e}"),
        };
        if old_negative_digest(&s) {
            return;
        }
        let enc = encode_snapshot(&s);
        match snapshot::decode_snapshot(&enc) {
            Ok(back) => assert_eq!(back, s, "snapshot re-encode/decode changed it"),
            Err(e) => panic!("re-encoded snapshot does not decode: {e} ({s:?})"),
        }
    }
}

/// A digest of version < 2 is a hex string; "-1a" parses (Java's Long.parseLong does the same)
/// but a negative digest is written as unsigned hex ("ffff…", like Long.toHexString), which
/// does not parse back, in Java either. Nobody writes such snapshots (3.6+ write version 2).
fn old_negative_digest(s: &snapshot::DecodedSnapshot) -> bool {
    s.digest
        .is_some_and(|d| d.digest_version < 2 && d.digest < 0)
}

/// When `data` starts with a decodable snapshot body, a complete snapshot file made of it:
/// FileHeader, the body, seal 1, and, when the bytes after the body hold a ZxidDigest
/// (`long zxid; int version; long digest`, or a hex string for version < 2), that digest and
/// seal 2.
pub fn sealed_snapshot(data: &[u8]) -> Option<(Vec<u8>, bool)> {
    let mut r = data;
    snapshot::decode_snapshot_stream_body(&mut r).ok()?;
    let body_len = data.len() - r.len();
    let mut out = Vec::new();
    FileHeader {
        magic: 0x5A4B_534E,
        version: 2,
        dbid: -1,
    }
    .write(&mut out);
    out.extend_from_slice(&data[..body_len]);
    let seal = |out: &mut Vec<u8>| {
        i64::from(adler32(out)).write(out);
        write_str(out, "/");
    };
    seal(&mut out);
    let rest = &data[body_len..];
    if rest.len() >= 12 {
        let version = i32::from_be_bytes(rest[8..12].try_into().unwrap());
        let n = if version >= 2 {
            20
        } else if rest.len() >= 16 {
            let l = i32::from_be_bytes(rest[12..16].try_into().unwrap());
            if l == -1 {
                16
            } else {
                16 + usize::try_from(l).unwrap_or(usize::MAX)
            }
        } else {
            usize::MAX
        };
        if n <= rest.len() {
            out.extend_from_slice(&rest[..n]);
            seal(&mut out);
            return Some((out, true));
        }
    }
    Some((out, false))
}

fn encode_snapshot(s: &snapshot::DecodedSnapshot) -> Vec<u8> {
    let mut out = Vec::new();
    let mut nodes = s
        .nodes
        .iter()
        .map(|(path, data, acl, stat)| snapshot::SnapshotNode {
            path,
            data: data.as_deref(),
            acl_index: *acl,
            stat,
        });
    snapshot::encode_snapshot(&mut out, &s.sessions, &s.acls, &mut nodes, s.digest);
    out
}

/// The txn log reader on a file `log.1` in `dir` holding `data`. With `structured`, `data`
/// is cut into entries that get a valid header, checksum and end marker (so the reader gets
/// past the checksums), and the last few bytes of `data` pick a damage to apply.
pub fn txn_log(dir: &Path, data: &[u8], structured: bool) {
    for e in std::fs::read_dir(dir).expect("read temp dir").flatten() {
        let _ = std::fs::remove_file(e.path());
    }
    let bytes = if structured {
        build_log(data)
    } else {
        data.to_vec()
    };
    std::fs::write(dir.join("log.1"), &bytes).expect("write log.1");
    let mut last = None;
    let r = txnlog::read_log(dir, 0, |zxid, payload| {
        if let Some(p) = last {
            assert!(zxid > p, "read_log delivered zxid {zxid:#x} after {p:#x}");
        }
        last = Some(zxid);
        assert!(
            payload.len() >= txnlog::TXN_HEADER_LEN,
            "payload shorter than a TxnHeader"
        );
        let hdr = TxnHeader::decode(payload).expect("payload starts with a TxnHeader");
        assert_eq!(hdr.zxid, zxid, "delivered zxid is the TxnHeader's");
        let _ = TxnEntry::decode(payload);
        Ok(())
    });
    if let Ok(scan) = r {
        assert_eq!(
            scan.last_zxid,
            last.unwrap_or(0),
            "LogScan.last_zxid is the last delivered zxid"
        );
        assert!(
            scan.last_logged_zxid >= last,
            "last_logged_zxid below a delivered zxid"
        );
        // After a torn tail was cut, a second read delivers the same entries and finds no tail.
        let mut again = Vec::new();
        let r2 = txnlog::read_log(dir, 0, |z, _| {
            again.push(z);
            Ok(())
        });
        let scan2 = r2.unwrap_or_else(|e| panic!("second read after a successful one failed: {e}"));
        assert_eq!(
            scan2.count, scan.count,
            "second read delivered a different number of entries"
        );
        assert_eq!(scan2.truncated, None, "a torn tail survived the first read");
    }
}

/// A log file from `data`: FileHeader, then entries whose payloads are consecutive chunks of
/// `data` (chunk length from one byte; each payload gets a TxnHeader with an increasing zxid
/// when it is too short to hold one), then a damage chosen by the last byte.
pub fn build_log(data: &[u8]) -> Vec<u8> {
    let (ctl, data) = match data.split_last() {
        Some((c, d)) => (*c, d),
        None => (0, data),
    };
    let mut out = Vec::new();
    FileHeader {
        magic: txnlog::TXNLOG_MAGIC,
        version: 2,
        dbid: 0,
    }
    .write(&mut out);
    let mut i = 0;
    let mut zxid = 1i64;
    while i < data.len() {
        let n = (data[i] as usize).min(data.len() - i - 1);
        let chunk = &data[i + 1..i + 1 + n];
        i += 1 + n;
        let mut payload = TxnHeader {
            client_id: 1,
            cxid: 1,
            zxid,
            time: 0,
            r#type: 5,
        }
        .to_bytes();
        if ctl & 1 == 0 {
            // The chunk is the record after a generated header.
            payload.extend_from_slice(chunk);
        } else {
            // The chunk replaces the header's start (arbitrary zxids, types).
            let k = chunk.len().min(payload.len());
            payload[..k].copy_from_slice(&chunk[..k]);
            payload.extend_from_slice(&chunk[k..]);
        }
        zxid += 1;
        let sum = i64::from(adler32(&payload));
        sum.write(&mut out);
        (payload.len() as i32).write(&mut out);
        out.extend_from_slice(&payload);
        out.push(txnlog::ENTRY_END);
    }
    match (ctl >> 1) & 7 {
        0 => {}
        // Preallocated zeros after the last entry.
        1 => out.resize(out.len() + 4096, 0),
        // A torn tail: cut inside the last entry.
        2 => {
            let cut = out.len().saturating_sub(1 + (ctl as usize >> 4));
            out.truncate(cut.max(1));
        }
        // A torn tail followed by zeros.
        3 => {
            let cut = out.len().saturating_sub(1 + (ctl as usize >> 4));
            out.truncate(cut.max(1));
            out.resize(out.len() + 100, 0);
        }
        // One flipped byte somewhere.
        4 => {
            if !out.is_empty() {
                let at = (usize::from(ctl) * 7919) % out.len();
                out[at] ^= 0x5a;
            }
        }
        // A zeroed entry in the middle, then more data.
        5 => {
            let at = 16 + usize::from(ctl >> 4) * 3;
            if out.len() > at + 12 {
                out[at..at + 12].fill(0);
            }
        }
        _ => {}
    }
    out
}

/// A temp dir for [`txn_log`], on tmpfs when there is one: the reader fsyncs after cutting a
/// torn tail, which is slow on a real disk.
pub fn scratch_dir() -> tempfile::TempDir {
    let b = {
        let mut b = tempfile::Builder::new();
        b.prefix("zk-fuzz-txnlog-");
        b
    };
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = b.tempdir_in(shm) {
            return d;
        }
    }
    b.tempdir().expect("temp dir")
}

/// Adler-32 (the checksum of log entries and snapshot seals).
pub fn adler32(b: &[u8]) -> u32 {
    let (mut a, mut s) = (1u32, 0u32);
    for chunk in b.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            s += a;
        }
        a %= 65521;
        s %= 65521;
    }
    (s << 16) | a
}
