//! Interop: files written by Apache ZooKeeper 3.8.0 (Debian 3.8.0-11+deb12u2, OpenJDK 17)
//! decode with `zk::persist`, and our encoder reproduces Apache's snapshots byte for byte.
//!
//! The fixture in `tests/fixtures/apache-3.8/version-2/` was made like this (standalone
//! server, digest enabled by default, snapCount=10 so that it rolled logs and took
//! snapshots at zxids 0x7, 0x11 and 0x19). `generator/zoo.cfg` and `generator/Gen.java`
//! next to the fixture are the exact files used.
//!
//! ```text
//! mkdir -p /tmp/zkfix/conf /tmp/zkfix/data && cd /tmp/zkfix
//! cp .../generator/zoo.cfg conf/ && cp .../generator/Gen.java .
//! java -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
//!     org.apache.zookeeper.server.quorum.QuorumPeerMain conf/zoo.cfg > server.log 2>&1 &
//! /usr/share/zookeeper/bin/zkCli.sh -server 127.0.0.1:21811 create /cli from-cli
//! java -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar Gen.java 127.0.0.1:21811 600000 &
//! # once Gen printed its session id: kill <server pid> (SIGTERM), then kill <Gen pid>
//! # snapshot.*: copied as they are.
//! # log.*: cut after their last non-zero byte (the 64 MiB zero preallocation stripped),
//! #        except log.1b, which keeps 32 bytes of zero padding (a checksum=0,len=0 end).
//! ```
//!
//! What Gen.java does with the Java client (session A stays open, so its ephemerals are in
//! the snapshots and it is never closed; session B closes):
//!
//! ```text
//! A: create /app "hello"; create -e /app/eph "e"; create -s /app/seq- (null data);
//!    create -s /app/seq- (empty data); create -e -s /app/eseq- "x";
//!    addAuth digest user:pw; create /secret "s3cr3t" digest:user:2Om+GBbT2q/tS6pdvACZbbm7/1A=:cdrwa;
//!    setData /app "world"; create /todelete; delete /todelete;
//!    create /app (fails with NodeExists: an error txn, -110);
//!    setACL /app/seq-0000000001 world:anyone:r;
//!    multi(create /m1 "m", setData /app "multi", check /secret v0);
//!    multi(create /m2, check /app v99) (fails with BadVersion);
//!    create container /cont; create /cont/c; create TTL /ttl "t" ttl=3600000 (extendedTypesEnabled)
//! B: connect; create -e /b-eph "b"; close
//! A: setData /app/eph "v0".."v5"; sleep until killed
//! ```
//!
//! The zkCli session (0x1000003aba70000) exits without closeSession, so it is in the
//! snapshots too.

use std::fs;
use std::path::{Path, PathBuf};

use zk::jute::{
    Acl, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn, CreateTxn, DeleteTxn,
    ErrorTxn, Id, Jute, MultiTxn, SetAclTxn, SetDataTxn, StatPersisted, TxnDigest, TxnHeader,
};
use zk::persist::files;
use zk::persist::snapshot::{self, DecodedSnapshot, SnapshotNode, ZxidDigest};
use zk::persist::txnlog::{self, TxnLogError};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apache-3.8/version-2")
}

/// A scratch copy, so that nothing a reader does can touch the fixture.
fn scratch_copy() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for e in fs::read_dir(fixture_dir()).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), d.path().join(e.file_name())).unwrap();
    }
    d
}

const SESSION_CLI: i64 = 0x1000003aba70000;
const SESSION_A: i64 = 0x1000003aba70001;
const SESSION_B: i64 = 0x1000003aba70002;

fn world(perms: i32) -> Acl {
    Acl {
        perms,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }
}

fn digest_acl() -> Acl {
    Acl {
        perms: 31,
        id: Id {
            scheme: "digest".into(),
            id: "user:2Om+GBbT2q/tS6pdvACZbbm7/1A=".into(),
        },
    }
}

/// Decodes a record that must use up the payload except the trailing TxnDigest.
fn record<T: Jute>(body: &[u8]) -> T {
    let (rest, v) = T::read(body).unwrap();
    assert_eq!(rest.len(), 12, "record followed by exactly a TxnDigest");
    v
}

struct LoggedTxn {
    hdr: TxnHeader,
    body: Vec<u8>,
    /// Absent after an error txn: Apache 3.8 logs those without a TxnDigest.
    digest: Option<TxnDigest>,
}

fn read_all(dir: &Path, from: i64) -> (Vec<LoggedTxn>, txnlog::LogScan) {
    let mut txns = Vec::new();
    let scan = txnlog::read_log(dir, from, |zxid, payload| {
        let (rest, hdr) =
            TxnHeader::read(payload).map_err(|e| TxnLogError::Callback(format!("{e:?}")))?;
        assert_eq!(hdr.zxid, zxid);
        let digest =
            (hdr.r#type != -1).then(|| TxnDigest::decode(&payload[payload.len() - 12..]).unwrap());
        txns.push(LoggedTxn {
            hdr,
            body: rest.to_vec(),
            digest,
        });
        Ok(())
    })
    .unwrap();
    (txns, scan)
}

#[test]
fn apache_logs_decode() {
    let d = scratch_copy();
    let logs = files::list_logs(d.path()).unwrap();
    assert_eq!(
        logs.iter().map(|l| l.zxid).collect::<Vec<_>>(),
        vec![0x1, 0x9, 0x13, 0x1b]
    );

    let (txns, scan) = read_all(d.path(), 0);
    assert_eq!(scan.count, 0x1c);
    assert_eq!(
        (
            scan.first_zxid,
            scan.last_zxid,
            scan.files,
            scan.truncated.clone()
        ),
        (Some(1), 0x1c, 4, None)
    );
    for (i, t) in txns.iter().enumerate() {
        assert_eq!(t.hdr.zxid, i as i64 + 1, "zxids increase by one");
        if let Some(d) = &t.digest {
            assert_eq!(d.version, 2);
        }
        assert!(t.hdr.time > 1_600_000_000_000);
    }
    // Nothing was modified: the fixture has no torn tail (log.1b ends with zero padding,
    // the others at EOF).
    for l in &logs {
        assert_eq!(
            fs::read(&l.path).unwrap(),
            fs::read(fixture_dir().join(l.path.file_name().unwrap())).unwrap()
        );
    }

    let t = |z: i64| &txns[z as usize - 1];
    let ty = |z: i64| t(z).hdr.r#type;
    // The zkCli session.
    assert_eq!(
        (t(1).hdr.client_id, t(1).hdr.cxid, ty(1)),
        (SESSION_CLI, 0, -10)
    );
    assert_eq!(record::<CreateSessionTxn>(&t(1).body).time_out, 30000);
    assert_eq!(ty(2), 1);
    let c: CreateTxn = record(&t(2).body);
    assert_eq!(
        (
            c.path.as_str(),
            c.data.as_deref(),
            c.acl,
            c.ephemeral,
            c.parent_c_version
        ),
        ("/cli", Some(&b"from-cli"[..]), vec![world(31)], false, 1)
    );
    // Session A.
    assert_eq!((t(3).hdr.client_id, ty(3)), (SESSION_A, -10));
    let eph: CreateTxn = record(&t(5).body);
    assert_eq!((eph.path.as_str(), eph.ephemeral), ("/app/eph", true));
    let seq1: CreateTxn = record(&t(6).body);
    assert_eq!(
        (seq1.path.as_str(), seq1.data),
        ("/app/seq-0000000001", None),
        "null data stays null"
    );
    let seq2: CreateTxn = record(&t(7).body);
    assert_eq!(
        (seq2.path.as_str(), seq2.data),
        ("/app/seq-0000000002", Some(vec![]))
    );
    let secret: CreateTxn = record(&t(9).body);
    assert_eq!(
        (secret.path.as_str(), secret.acl),
        ("/secret", vec![digest_acl()])
    );
    assert_eq!(ty(0xa), 5);
    let sd: SetDataTxn = record(&t(0xa).body);
    assert_eq!(
        (sd.path.as_str(), sd.data.as_deref(), sd.version),
        ("/app", Some(&b"world"[..]), 1)
    );
    assert_eq!(ty(0xc), 2);
    assert_eq!(record::<DeleteTxn>(&t(0xc).body).path, "/todelete");
    // A failed write is an error txn and still takes a zxid; it has no TxnDigest.
    assert_eq!(ty(0xd), -1);
    assert_eq!(
        t(0xd).body,
        ErrorTxn { err: -110 }.to_bytes(),
        "ErrorTxn and nothing else"
    );
    assert!(t(0xd).digest.is_none());
    assert_eq!(ty(0xe), 7);
    let sa: SetAclTxn = record(&t(0xe).body);
    assert_eq!(
        (sa.path.as_str(), sa.acl, sa.version),
        ("/app/seq-0000000001", vec![world(1)], 1)
    );
    // multi: create + setData + check.
    assert_eq!(ty(0xf), 14);
    let m: MultiTxn = record(&t(0xf).body);
    assert_eq!(
        m.txns.iter().map(|s| s.r#type).collect::<Vec<_>>(),
        vec![1, 5, 13]
    );
    let sub = CreateTxn::decode(m.txns[0].data.as_deref().unwrap()).unwrap();
    assert_eq!(
        (sub.path.as_str(), sub.data.as_deref()),
        ("/m1", Some(&b"m"[..]))
    );
    // A failed multi stays a multi (with a TxnDigest). The sub-txns before the failing op
    // keep their own type and record; the failing op (and any later one) is an error txn.
    // DataTree.processTxn treats a multi holding any error sub-txn as failed entirely.
    let m: MultiTxn = record(&t(0x10).body);
    assert_eq!(
        m.txns.iter().map(|s| s.r#type).collect::<Vec<_>>(),
        vec![1, -1]
    );
    assert_eq!(
        CreateTxn::decode(m.txns[0].data.as_deref().unwrap())
            .unwrap()
            .path,
        "/m2"
    );
    assert_eq!(
        ErrorTxn::decode(m.txns[1].data.as_deref().unwrap())
            .unwrap()
            .err,
        -103
    );
    assert_eq!(t(0x10).digest, t(0xf).digest, "the tree did not change");
    assert_eq!(ty(0x11), 19);
    assert_eq!(record::<CreateContainerTxn>(&t(0x11).body).path, "/cont");
    assert_eq!(ty(0x13), 21);
    let ttl: CreateTtlTxn = record(&t(0x13).body);
    assert_eq!((ttl.path.as_str(), ttl.ttl), ("/ttl", 3_600_000));
    // Session B: closeSession lists the ephemerals to delete.
    assert_eq!((t(0x14).hdr.client_id, ty(0x14)), (SESSION_B, -10));
    assert_eq!((t(0x16).hdr.client_id, ty(0x16)), (SESSION_B, -11));
    assert_eq!(
        record::<CloseSessionTxn>(&t(0x16).body).paths2_delete,
        vec!["/b-eph".to_string()]
    );
    assert_eq!(ty(0x1c), 5);

    // The TxnDigest of 0x1a is the tree digest after it: the one in snapshot.19.
    let snap =
        snapshot::decode_snapshot(&fs::read(fixture_dir().join("snapshot.19")).unwrap()).unwrap();
    assert_eq!(snap.digest.unwrap().zxid, 0x1a);
    assert_eq!(
        t(0x1a).digest.as_ref().unwrap().tree_digest,
        snap.digest.unwrap().digest
    );

    // Replay after each snapshot starts in the right file.
    let (after, scan) = read_all(d.path(), 0x11);
    assert_eq!(
        (after.first().map(|t| t.hdr.zxid), scan.files),
        (Some(0x12), 3)
    );
    let (after, scan) = read_all(d.path(), 0x19);
    assert_eq!((after.len(), scan.files), (3, 2));
    let (after, scan) = read_all(d.path(), 0x1c);
    assert_eq!((after.len(), scan.files, scan.last_zxid), (0, 1, 0x1c));
}

#[test]
fn apache_logs_truncate_and_continue() {
    let d = scratch_copy();
    let r = txnlog::truncate_to(d.path(), 0x10).unwrap();
    assert_eq!(r.removed.len(), 2);
    assert_eq!(r.last_zxid, Some(0x10));
    let (txns, _) = read_all(d.path(), 0);
    assert_eq!(txns.len(), 0x10);
    // Our writer continues the Apache log in a new file.
    let mut w = txnlog::TxnLogWriter::open(d.path(), 4096).unwrap();
    let mut p = TxnHeader {
        client_id: SESSION_A,
        cxid: 99,
        zxid: 0x11,
        time: 1,
        r#type: 2,
    }
    .to_bytes();
    DeleteTxn { path: "/m1".into() }.write(&mut p);
    TxnDigest {
        version: 2,
        tree_digest: 0,
    }
    .write(&mut p);
    w.append(0x11, &p).unwrap();
    w.close().unwrap();
    let (txns, scan) = read_all(d.path(), 0);
    assert_eq!((txns.len(), scan.last_zxid), (0x11, 0x11));
}

fn decode_fixture_snapshot(name: &str) -> (Vec<u8>, DecodedSnapshot) {
    let bytes = fs::read(fixture_dir().join(name)).unwrap();
    assert!(snapshot::is_valid_snapshot(&fixture_dir().join(name)).unwrap());
    let snap = snapshot::decode_snapshot(&bytes).unwrap();
    (bytes, snap)
}

fn reencode(s: &DecodedSnapshot) -> Vec<u8> {
    let mut out = Vec::new();
    let mut it = s.nodes.iter().map(|(p, d, a, st)| SnapshotNode {
        path: p,
        data: d.as_deref(),
        acl_index: *a,
        stat: st,
    });
    snapshot::encode_snapshot(&mut out, &s.sessions, &s.acls, &mut it, s.digest);
    out
}

#[test]
fn apache_snapshots_decode_and_reencode_identically() {
    for name in ["snapshot.0", "snapshot.7", "snapshot.11", "snapshot.19"] {
        let (bytes, snap) = decode_fixture_snapshot(name);
        assert_eq!(reencode(&snap), bytes, "{name} re-encodes byte for byte");
        assert_eq!(snap.nodes[0].0, "/");
        assert_eq!(snap.digest.unwrap().digest_version, 2);
    }
    // An empty database: the three system nodes, READ_ACL_UNSAFE cached for
    // /zookeeper/config, an empty digest.
    let (_, s0) = decode_fixture_snapshot("snapshot.0");
    assert_eq!(
        s0.nodes.iter().map(|n| n.0.as_str()).collect::<Vec<_>>(),
        vec!["/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"]
    );
    assert_eq!(s0.acls, vec![(1, vec![world(1)])]);
    assert!(s0.sessions.is_empty());
    assert_eq!(
        s0.digest,
        Some(ZxidDigest {
            zxid: 0,
            digest_version: 2,
            digest: 0
        })
    );
    let config = &s0.nodes[2];
    assert_eq!(
        (config.1.as_deref(), config.2, config.3.aversion),
        (Some(&b""[..]), 1, -1)
    );
}

#[test]
fn apache_latest_snapshot() {
    let d = scratch_copy();
    let (zxid, s) = snapshot::load_latest_snapshot(d.path()).unwrap().unwrap();
    assert_eq!(zxid, 0x19);
    assert_eq!(s.sessions, vec![(SESSION_CLI, 30000), (SESSION_A, 30000)]);
    assert_eq!(
        s.acls,
        vec![
            (1, vec![world(1)]),
            (2, vec![world(31)]),
            (3, vec![digest_acl()])
        ]
    );
    // A fuzzy snapshot: named 0x19, it already holds 0x1a (the digest says so too).
    assert_eq!(
        s.digest,
        Some(ZxidDigest {
            zxid: 0x1a,
            digest_version: 2,
            digest: 0x5_6550_c4c9
        })
    );
    let paths: Vec<&str> = s.nodes.iter().map(|n| n.0.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            "/",
            "/app",
            "/app/eph",
            "/app/eseq-0000000003",
            "/app/seq-0000000001",
            "/app/seq-0000000002",
            "/cli",
            "/cont",
            "/cont/c",
            "/m1",
            "/secret",
            "/ttl",
            "/zookeeper",
            "/zookeeper/config",
            "/zookeeper/quota",
        ]
    );
    let node = |p: &str| s.nodes.iter().find(|n| n.0 == p).unwrap();
    let eph = node("/app/eph");
    assert_eq!(
        (
            eph.1.as_deref(),
            eph.3.ephemeral_owner,
            eph.3.mzxid,
            eph.3.version
        ),
        (Some(&b"v3"[..]), SESSION_A, 0x1a, 4)
    );
    assert_eq!(node("/app/eseq-0000000003").3.ephemeral_owner, SESSION_A);
    let app = node("/app");
    assert_eq!(
        (
            app.1.as_deref(),
            app.2,
            app.3.version,
            app.3.cversion,
            app.3.pzxid
        ),
        (Some(&b"multi"[..]), 2, 2, 4, 8)
    );
    assert_eq!(node("/secret").2, 3);
    assert_eq!(node("/app/seq-0000000001").1, None, "null data survives");
    assert_eq!(
        (
            node("/app/seq-0000000001").2,
            node("/app/seq-0000000001").3.aversion
        ),
        (1, 1)
    );
    // Container and TTL nodes are marked in ephemeralOwner.
    assert_eq!(node("/cont").3.ephemeral_owner, i64::MIN);
    assert_eq!(
        node("/ttl").3.ephemeral_owner as u64,
        0xff00_0000_0000_0000 | 3_600_000
    );
    assert_eq!(node("/").3.cversion, 8);
    assert_eq!(node("/").2, -1);
}

/// The tree digest as the spec (§13) describes DigestCalculator: CRC32 over the path
/// ("" for the root), the data, then czxid, mzxid, pzxid, ctime, mtime, version,
/// cversion, aversion, ephemeralOwner; /zookeeper/... contributes 0; wrapping sum.
fn spec_digest(nodes: &[(String, Option<Vec<u8>>, i64, StatPersisted)]) -> i64 {
    let mut sum = 0i64;
    for (path, data, _, st) in nodes {
        if path.starts_with("/zookeeper/") {
            continue;
        }
        let mut h = crc32fast::Hasher::new();
        h.update(if path == "/" { b"" } else { path.as_bytes() });
        if let Some(d) = data {
            h.update(d);
        }
        for v in [st.czxid, st.mzxid, st.pzxid, st.ctime, st.mtime] {
            h.update(&v.to_be_bytes());
        }
        for v in [st.version, st.cversion, st.aversion] {
            h.update(&v.to_be_bytes());
        }
        h.update(&st.ephemeral_owner.to_be_bytes());
        sum = sum.wrapping_add(i64::from(h.finalize()));
    }
    sum
}

#[test]
fn apache_snapshot_digest_matches_spec_formula() {
    for name in ["snapshot.7", "snapshot.11", "snapshot.19"] {
        let (_, s) = decode_fixture_snapshot(name);
        assert_eq!(spec_digest(&s.nodes), s.digest.unwrap().digest, "{name}");
    }
}

#[test]
fn fixture_is_small() {
    let total: u64 = fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(total < 100 * 1024, "{total}");
}

/// The other direction: Apache's own tools read what we write. Needs Debian's zookeeper
/// package and a JRE (scripts/install-test-deps.sh installs them).
#[test]
fn apache_tools_read_our_files() {
    let cp = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar";
    assert!(
        Path::new("/usr/share/java/zookeeper.jar").exists(),
        "Apache ZooKeeper jars not installed: run scripts/install-test-deps.sh"
    );
    let d = tempfile::tempdir().unwrap();
    let mut w = txnlog::TxnLogWriter::open(d.path(), txnlog::DEFAULT_PRE_ALLOC_SIZE).unwrap();
    for z in 1..=3i64 {
        let mut p = TxnHeader {
            client_id: SESSION_A,
            cxid: z as i32,
            zxid: z,
            time: 1_700_000_000_000,
            r#type: 1,
        }
        .to_bytes();
        CreateTxn {
            path: format!("/ours{z}"),
            data: Some(b"rust".to_vec()),
            acl: vec![world(31)],
            ephemeral: false,
            parent_c_version: z as i32,
        }
        .write(&mut p);
        TxnDigest {
            version: 2,
            tree_digest: z,
        }
        .write(&mut p);
        w.append(z, &p).unwrap();
    }
    w.close().unwrap();
    let st = StatPersisted {
        czxid: 3,
        mzxid: 3,
        pzxid: 3,
        ctime: 1,
        mtime: 1,
        ..Default::default()
    };
    let root = StatPersisted::default();
    let nodes = [
        ("/", &root, Some(&b""[..]), -1),
        ("/ours3", &st, Some(&b"rust"[..]), 1),
        ("/zookeeper", &root, Some(&b""[..]), -1),
    ];
    let mut it = nodes.iter().map(|(p, s, d, a)| SnapshotNode {
        path: p,
        data: *d,
        acl_index: *a,
        stat: s,
    });
    let mut snap = Vec::new();
    snapshot::encode_snapshot(
        &mut snap,
        &[(SESSION_A, 30000)],
        &[(1, vec![world(31)])],
        &mut it,
        Some(ZxidDigest {
            zxid: 3,
            digest_version: 2,
            digest: 7,
        }),
    );
    let snap_path = snapshot::write_snapshot_file(d.path(), 3, &snap).unwrap();

    let run = |class: &str, file: &Path| {
        let out = std::process::Command::new("java")
            .args(["-cp", cp, class])
            .arg(file)
            .output()
            .expect("java runs");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    let log = run(
        "org.apache.zookeeper.server.persistence.TxnLogToolkit",
        &d.path().join("log.1"),
    );
    assert!(log.contains("create /ours3,rust"), "{log}");
    assert!(log.contains("EOF reached after 3 txns"), "{log}");
    let s = run("org.apache.zookeeper.server.SnapshotFormatter", &snap_path);
    assert!(
        s.contains("/ours3") && s.contains("0x1000003aba70001, 30000"),
        "{s}"
    );
}
