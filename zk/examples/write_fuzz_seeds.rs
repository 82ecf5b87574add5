//! Regenerates the seed inputs of the cargo-fuzz corpus (zk/fuzz/corpus/<target>/seed-*):
//! `cargo run -p zk --example write_fuzz_seeds`.

use zk::jute::*;
use zk::txn::{TxnBody, TxnEntry};

// ------------------------------------------------------------------ seeds

/// Writes the seed corpus for the fuzz targets under zk/fuzz/corpus.
fn main() {
    use std::fs;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let d = root.join(target);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join(format!("seed-{name}")), bytes).unwrap();
    };
    // ConnectRequests.
    let base = ConnectRequest {
        time_out: 30000,
        passwd: Some(vec![0; 16]),
        read_only: Some(false),
        ..Default::default()
    };
    put("connect_request", "new", &base.to_bytes());
    put(
        "connect_request",
        "old-client",
        &ConnectRequest {
            read_only: None,
            ..base.clone()
        }
        .to_bytes(),
    );
    put(
        "connect_request",
        "reconnect",
        &ConnectRequest {
            session_id: 0x1000_0000_0001,
            last_zxid_seen: 7,
            passwd: Some((0..16).collect()),
            ..base.clone()
        }
        .to_bytes(),
    );
    put(
        "connect_request",
        "null-passwd",
        &ConnectRequest {
            passwd: None,
            ..base.clone()
        }
        .to_bytes(),
    );
    // Request frames (header + record).
    let acl = vec![Acl {
        perms: 31,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }];
    let mut multi = Vec::new();
    MultiHeader {
        r#type: 1,
        done: false,
        err: -1,
    }
    .write(&mut multi);
    CreateRequest {
        path: "/m".into(),
        data: Some(b"d".to_vec()),
        acl: acl.clone(),
        flags: 0,
    }
    .write(&mut multi);
    MultiHeader {
        r#type: 13,
        done: false,
        err: -1,
    }
    .write(&mut multi);
    CheckVersionRequest {
        path: "/m".into(),
        version: 0,
    }
    .write(&mut multi);
    MultiHeader {
        r#type: 5,
        done: false,
        err: -1,
    }
    .write(&mut multi);
    SetDataRequest {
        path: "/m".into(),
        data: None,
        version: -1,
    }
    .write(&mut multi);
    MultiHeader {
        r#type: 2,
        done: false,
        err: -1,
    }
    .write(&mut multi);
    DeleteRequest {
        path: "/m".into(),
        version: -1,
    }
    .write(&mut multi);
    MultiHeader {
        r#type: -1,
        done: true,
        err: -1,
    }
    .write(&mut multi);
    let mut multi_read = Vec::new();
    MultiHeader {
        r#type: 4,
        done: false,
        err: -1,
    }
    .write(&mut multi_read);
    PathWatchRequest {
        path: "/a".into(),
        watch: false,
    }
    .write(&mut multi_read);
    MultiHeader {
        r#type: 8,
        done: false,
        err: -1,
    }
    .write(&mut multi_read);
    PathWatchRequest {
        path: "/".into(),
        watch: true,
    }
    .write(&mut multi_read);
    MultiHeader {
        r#type: -1,
        done: true,
        err: -1,
    }
    .write(&mut multi_read);
    let mut multi_ttl = Vec::new();
    MultiHeader {
        r#type: 21,
        done: false,
        err: -1,
    }
    .write(&mut multi_ttl);
    CreateTtlRequest {
        path: "/t".into(),
        data: None,
        acl: acl.clone(),
        flags: 5,
        ttl: 1000,
    }
    .write(&mut multi_ttl);
    MultiHeader {
        r#type: -1,
        done: true,
        err: -1,
    }
    .write(&mut multi_ttl);
    let w = vec!["/a".to_string(), "/b/c".to_string()];
    let reqs: Vec<(&str, i32, Vec<u8>)> = vec![
        (
            "create",
            1,
            CreateRequest {
                path: "/a".into(),
                data: Some(b"hello".to_vec()),
                acl: acl.clone(),
                flags: 0,
            }
            .to_bytes(),
        ),
        (
            "create2-seq",
            15,
            CreateRequest {
                path: "/a/b-".into(),
                data: None,
                acl: acl.clone(),
                flags: 3,
            }
            .to_bytes(),
        ),
        (
            "create-container",
            19,
            CreateRequest {
                path: "/c".into(),
                data: None,
                acl: acl.clone(),
                flags: 4,
            }
            .to_bytes(),
        ),
        (
            "create-ttl",
            21,
            CreateTtlRequest {
                path: "/t".into(),
                data: None,
                acl: acl.clone(),
                flags: 5,
                ttl: 100,
            }
            .to_bytes(),
        ),
        (
            "delete",
            2,
            DeleteRequest {
                path: "/a".into(),
                version: -1,
            }
            .to_bytes(),
        ),
        (
            "exists",
            3,
            PathWatchRequest {
                path: "/a".into(),
                watch: true,
            }
            .to_bytes(),
        ),
        (
            "get-data",
            4,
            PathWatchRequest {
                path: "/a".into(),
                watch: false,
            }
            .to_bytes(),
        ),
        (
            "set-data",
            5,
            SetDataRequest {
                path: "/a".into(),
                data: Some(b"x".to_vec()),
                version: 3,
            }
            .to_bytes(),
        ),
        ("get-acl", 6, PathRequest { path: "/a".into() }.to_bytes()),
        (
            "set-acl",
            7,
            SetAclRequest {
                path: "/a".into(),
                acl: acl.clone(),
                version: -1,
            }
            .to_bytes(),
        ),
        (
            "get-children",
            8,
            PathWatchRequest {
                path: "/".into(),
                watch: true,
            }
            .to_bytes(),
        ),
        ("sync", 9, PathRequest { path: "/".into() }.to_bytes()),
        ("ping", 11, vec![]),
        (
            "get-children2",
            12,
            PathWatchRequest {
                path: "/".into(),
                watch: false,
            }
            .to_bytes(),
        ),
        (
            "check",
            13,
            CheckVersionRequest {
                path: "/a".into(),
                version: 1,
            }
            .to_bytes(),
        ),
        ("multi", 14, multi.clone()),
        (
            "reconfig",
            16,
            ReconfigRequest {
                joining_servers: "server.1=h:1:2".into(),
                leaving_servers: String::new(),
                new_members: String::new(),
                cur_config_id: -1,
            }
            .to_bytes(),
        ),
        (
            "check-watches",
            17,
            WatchesRequest {
                path: "/a".into(),
                r#type: 3,
            }
            .to_bytes(),
        ),
        (
            "remove-watches",
            18,
            WatchesRequest {
                path: "/a".into(),
                r#type: 1,
            }
            .to_bytes(),
        ),
        ("multi-read", 22, multi_read.clone()),
        (
            "auth",
            100,
            AuthPacket {
                r#type: 0,
                scheme: "digest".into(),
                auth: Some(b"user:pw".to_vec()),
            }
            .to_bytes(),
        ),
        (
            "set-watches",
            101,
            SetWatches {
                relative_zxid: 5,
                data_watches: w.clone(),
                exist_watches: w.clone(),
                child_watches: vec![],
            }
            .to_bytes(),
        ),
        (
            "get-ephemerals",
            103,
            PathRequest { path: "/".into() }.to_bytes(),
        ),
        (
            "get-all-children-number",
            104,
            PathRequest { path: "/".into() }.to_bytes(),
        ),
        (
            "set-watches2",
            105,
            SetWatches2 {
                relative_zxid: 5,
                data_watches: w.clone(),
                exist_watches: vec![],
                child_watches: w.clone(),
                persistent_watches: w.clone(),
                persistent_recursive_watches: vec![],
            }
            .to_bytes(),
        ),
        (
            "add-watch",
            106,
            AddWatchRequest {
                path: "/a".into(),
                mode: 1,
            }
            .to_bytes(),
        ),
        ("who-am-i", 107, vec![]),
    ];
    for (name, opcode, body) in &reqs {
        let mut frame = RequestHeader {
            xid: 1,
            r#type: *opcode,
        }
        .to_bytes();
        frame.extend_from_slice(body);
        put("request_records", name, &frame);
    }
    put("multi_request", "write", &multi);
    put("multi_request", "read", &multi_read);
    put("multi_request", "ttl", &multi_ttl);
    // Other records.
    let stat = Stat {
        czxid: 1,
        mzxid: 2,
        ctime: 3,
        mtime: 4,
        version: 1,
        cversion: 2,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 5,
        num_children: 0,
        pzxid: 2,
    };
    put(
        "all_records",
        "reply-header",
        &ReplyHeader {
            xid: 1,
            zxid: 2,
            err: 0,
        }
        .to_bytes(),
    );
    put(
        "all_records",
        "watcher-event",
        &WatcherEvent {
            r#type: 1,
            state: 3,
            path: "/a".into(),
        }
        .to_bytes(),
    );
    put(
        "all_records",
        "get-data-response",
        &GetDataResponse {
            data: Some(b"hello".to_vec()),
            stat: stat.clone(),
        }
        .to_bytes(),
    );
    put(
        "all_records",
        "get-acl-response",
        &GetAclResponse {
            acl: acl.clone(),
            stat,
        }
        .to_bytes(),
    );
    put(
        "all_records",
        "who-am-i",
        &WhoAmIResponse {
            client_info: vec![ClientInfo {
                auth_scheme: "ip".into(),
                user: "127.0.0.1".into(),
            }],
        }
        .to_bytes(),
    );
    put(
        "all_records",
        "quorum-packet",
        &QuorumPacket {
            r#type: 2,
            zxid: 0x1_0000_0001,
            data: Some(vec![1, 2, 3]),
            authinfo: vec![Id {
                scheme: "ip".into(),
                id: "1.2.3.4".into(),
            }],
        }
        .to_bytes(),
    );
    put(
        "all_records",
        "learner-info",
        &LearnerInfo {
            serverid: 1,
            protocol_version: 0x10000,
            config_version: 0,
        }
        .to_bytes(),
    );
    put("all_records", "create-request", &reqs[0].2);
    put("all_records", "set-watches2", &reqs[24].2);
    put("all_records", "connect", &base.to_bytes());
    // Txn entries: every body kind, plus the payloads of Apache's own logs.
    let hdr = |ty| TxnHeader {
        client_id: 0x100,
        cxid: 1,
        zxid: 0x1_0000_0002,
        time: 1_700_000_000_000,
        r#type: ty,
    };
    let dg = Some(TxnDigest {
        version: 2,
        tree_digest: 0x1234,
    });
    let bodies: Vec<(&str, TxnBody)> = vec![
        (
            "create-session",
            TxnBody::CreateSession(CreateSessionTxn { time_out: 30000 }),
        ),
        (
            "close-session",
            TxnBody::CloseSession(Some(CloseSessionTxn {
                paths2_delete: vec!["/e".into()],
            })),
        ),
        ("close-session-old", TxnBody::CloseSession(None)),
        (
            "create",
            TxnBody::Create(CreateTxn {
                path: "/a".into(),
                data: Some(b"x".to_vec()),
                acl: acl.clone(),
                ephemeral: true,
                parent_c_version: 1,
            }),
        ),
        (
            "create-ttl",
            TxnBody::CreateTtl(CreateTtlTxn {
                path: "/t".into(),
                data: None,
                acl: acl.clone(),
                parent_c_version: 2,
                ttl: 1000,
            }),
        ),
        (
            "create-container",
            TxnBody::CreateContainer(CreateContainerTxn {
                path: "/c".into(),
                data: None,
                acl: acl.clone(),
                parent_c_version: 3,
            }),
        ),
        ("delete", TxnBody::Delete(DeleteTxn { path: "/a".into() })),
        (
            "set-data",
            TxnBody::SetData(SetDataTxn {
                path: "/a".into(),
                data: Some(b"y".to_vec()),
                version: 2,
            }),
        ),
        (
            "set-acl",
            TxnBody::SetAcl(SetAclTxn {
                path: "/a".into(),
                acl: acl.clone(),
                version: 1,
            }),
        ),
        ("error", TxnBody::Error(ErrorTxn { err: -101 })),
        (
            "check",
            TxnBody::Check(CheckVersionTxn {
                path: "/a".into(),
                version: 1,
            }),
        ),
        (
            "multi",
            TxnBody::Multi(vec![
                TxnBody::Create(CreateTxn {
                    path: "/m".into(),
                    data: None,
                    acl: acl.clone(),
                    ephemeral: false,
                    parent_c_version: 1,
                }),
                TxnBody::SetData(SetDataTxn {
                    path: "/m".into(),
                    data: Some(vec![1]),
                    version: 1,
                }),
                TxnBody::Error(ErrorTxn { err: -2 }),
            ]),
        ),
    ];
    for (name, body) in bodies {
        let e = TxnEntry {
            hdr: hdr(body.type_code()),
            body,
            digest: dg.clone(),
        };
        put("txn_entry", name, &e.encode());
    }
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/apache-3.8/version-2");
    let mut logs: Vec<_> = fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    logs.sort();
    for p in &logs {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = fs::read(p).unwrap();
        if name.starts_with("snapshot.") {
            put("snapshot", &format!("apache-{name}"), &bytes);
        } else if name.starts_with("log.") {
            // Drop the preallocated zeros; mode byte 0 = raw file.
            let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            let mut seed = vec![0u8];
            seed.extend_from_slice(&bytes[..end]);
            put("txn_log", &format!("apache-{name}"), &seed);
            let d = tempfile::tempdir().unwrap();
            fs::write(d.path().join("log.1"), &bytes).unwrap();
            let mut k = 0;
            zk::persist::txnlog::read_log(d.path(), 0, |_, payload| {
                k += 1;
                if k <= 3 {
                    put("txn_entry", &format!("apache-{name}-{k}"), payload);
                }
                Ok(())
            })
            .unwrap();
        }
    }
    // Structured log seeds (mode byte 1): chunk lengths and bytes, the last byte picks damage.
    for (i, ctl) in [0u8, 2, 4, 6, 8, 10, 0x24].iter().enumerate() {
        let mut seed = vec![1u8];
        for k in 0..4u8 {
            let rec = SetDataTxn {
                path: format!("/n{k}"),
                data: Some(vec![k; 3]),
                version: k as i32,
            }
            .to_bytes();
            seed.push(rec.len() as u8);
            seed.extend_from_slice(&rec);
        }
        seed.push(*ctl);
        put("txn_log", &format!("structured-{i}"), &seed);
    }
}
