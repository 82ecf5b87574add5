//! Property tests: the persistence decoders never panic on arbitrary or damaged input,
//! and whatever the log reader accepts from a damaged file is a prefix of what was
//! written.

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use zk::jute::{Jute, SetDataTxn, StatPersisted, TxnDigest, TxnHeader};
use zk::persist::snapshot::{self, SnapshotNode, ZxidDigest};
use zk::persist::txnlog::{self, TxnLogError, TxnLogWriter};

fn payload(zxid: i64, n: usize) -> Vec<u8> {
    let mut p = TxnHeader {
        client_id: 7,
        cxid: 1,
        zxid,
        time: 2,
        r#type: 5,
    }
    .to_bytes();
    SetDataTxn {
        path: "/x".into(),
        data: Some(vec![zxid as u8; n]),
        version: 1,
    }
    .write(&mut p);
    TxnDigest {
        version: 2,
        tree_digest: zxid,
    }
    .write(&mut p);
    p
}

fn valid_snapshot() -> Vec<u8> {
    let st = StatPersisted {
        czxid: 1,
        mzxid: 2,
        pzxid: 3,
        ..Default::default()
    };
    let nodes = [
        ("/", Some(&b""[..])),
        ("/a", Some(&b"data"[..])),
        ("/a/b", None),
        ("/c", Some(&b"xyz"[..])),
    ];
    let mut it = nodes.iter().map(|(p, d)| SnapshotNode {
        path: p,
        data: *d,
        acl_index: -1,
        stat: &st,
    });
    let mut out = Vec::new();
    let acls = vec![(
        1,
        vec![zk::jute::Acl {
            perms: 31,
            id: zk::jute::Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }],
    )];
    snapshot::encode_snapshot(
        &mut out,
        &[(5, 3000)],
        &acls,
        &mut it,
        Some(ZxidDigest {
            zxid: 9,
            digest_version: 2,
            digest: 42,
        }),
    );
    out
}

fn read(dir: &Path) -> Result<Vec<i64>, TxnLogError> {
    let mut v = Vec::new();
    txnlog::read_log(dir, 0, |z, p| {
        assert!(p.len() >= 28);
        v.push(z);
        Ok(())
    })?;
    Ok(v)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn snapshot_decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = snapshot::decode_snapshot(&data);
        let _ = snapshot::decode_snapshot_stream_body(&mut &data[..]);
        // Behind a valid header too, so the body decoder gets exercised.
        let mut with_header = vec![0x5a, 0x4b, 0x53, 0x4e, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        with_header.extend_from_slice(&data);
        let _ = snapshot::decode_snapshot(&with_header);
    }

    #[test]
    fn damaged_snapshots_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
        let good = valid_snapshot();
        let mut b = good.clone();
        for (i, v) in &edits {
            let i = i.index(b.len());
            b[i] = *v;
        }
        if let Ok(d) = snapshot::decode_snapshot(&b) {
            // Accepted only if the seals still hold, i.e. the edits were no-ops.
            prop_assert_eq!(b, good.clone());
            prop_assert_eq!(d.nodes.len(), 4);
        }
        let n = cut.index(good.len());
        let _ = snapshot::decode_snapshot(&good[..n]);
        let _ = snapshot::decode_snapshot_stream_body(&mut &good[16..n.max(16)]);
    }

    #[test]
    fn log_reader_never_panics_on_random_files(data in proptest::collection::vec(any::<u8>(), 0..300), header in any::<bool>()) {
        let d = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        if header {
            bytes.extend_from_slice(&[0x5a, 0x4b, 0x4c, 0x47, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
        }
        bytes.extend_from_slice(&data);
        fs::write(d.path().join("log.1"), &bytes).unwrap();
        let _ = read(d.path());
        let _ = txnlog::truncate_to(d.path(), 5);
    }

    #[test]
    fn damaged_logs_yield_a_prefix_or_an_error(
        n in 1i64..12,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        zero_tail in 0usize..200,
    ) {
        let d = tempfile::tempdir().unwrap();
        let mut w = TxnLogWriter::open(d.path(), 0).unwrap();
        for z in 1..=n {
            w.append(z, &payload(z, (z as usize * 7) % 40)).unwrap();
        }
        w.close().unwrap();
        let path = d.path().join("log.1");
        let mut b = fs::read(&path).unwrap();
        for (i, v) in &edits {
            let i = i.index(b.len());
            b[i] = *v;
        }
        if let Some(c) = cut {
            b.truncate(c.index(b.len() + 1));
        }
        b.extend(std::iter::repeat_n(0, zero_tail));
        fs::write(&path, &b).unwrap();
        match read(d.path()) {
            Ok(got) => {
                let expected: Vec<i64> = (1..=got.len() as i64).collect();
                prop_assert_eq!(&got, &expected);
                // After recovery the log reads the same again, without changes.
                let after = fs::read(&path).ok();
                prop_assert_eq!(read(d.path()).unwrap(), got);
                prop_assert_eq!(fs::read(&path).ok(), after);
            }
            Err(TxnLogError::Corrupt { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}
