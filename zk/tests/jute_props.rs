//! Property tests for the jute codec (`zk::jute`):
//!
//! 1. encode → decode is the identity for every record of `zk/src/jute/records.rs`, the
//!    decoder consumes exactly the encoding, ignores trailing bytes, and rejects every
//!    truncation of it (except ConnectRequest/ConnectResponse, whose last byte is optional);
//! 2. decoding arbitrary bytes never panics, for each record, and what decodes is canonical
//!    (the checks of the cargo-fuzz targets in `zk/fuzz`, shared through `#[path]`, so they also
//!    run on stable without libFuzzer): random bytes and damaged valid encodings, for the
//!    records, ConnectRequest, multi requests, TxnEntry, snapshots and the txn log reader.
//!
//! `PROPTEST_CASES=N` scales every property (default here: 256 for round trips, 2000 for the
//! decoders). `cargo test -p zk --test jute_props -- --ignored write_fuzz_seeds` rewrites the
//! seed corpus under `zk/fuzz/corpus/`.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod fuzz_checks;

use proptest::collection::vec;
use proptest::prelude::*;
use zk::jute::*;
use zk::txn::{TxnBody, TxnEntry};

// ------------------------------------------------------------------ strategies

fn s() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z/]{0,12}",
        1 => any::<String>().prop_map(|s| s.chars().take(12).collect()),
        1 => Just(String::new()),
    ]
}
fn buf() -> impl Strategy<Value = Buffer> {
    proptest::option::of(vec(any::<u8>(), 0..24))
}
fn strings() -> impl Strategy<Value = Vec<String>> {
    vec(s(), 0..4)
}
fn id() -> impl Strategy<Value = Id> {
    (s(), s()).prop_map(|(scheme, id)| Id { scheme, id })
}
fn acl() -> impl Strategy<Value = Acl> {
    (any::<i32>(), id()).prop_map(|(perms, id)| Acl { perms, id })
}
fn acls() -> impl Strategy<Value = Vec<Acl>> {
    vec(acl(), 0..3)
}
fn stat() -> impl Strategy<Value = Stat> {
    (
        any::<i64>(),
        any::<i64>(),
        any::<i64>(),
        any::<i64>(),
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        any::<i64>(),
        any::<i32>(),
        any::<i32>(),
        any::<i64>(),
    )
        .prop_map(
            |(
                czxid,
                mzxid,
                ctime,
                mtime,
                version,
                cversion,
                aversion,
                ephemeral_owner,
                data_length,
                num_children,
                pzxid,
            )| Stat {
                czxid,
                mzxid,
                ctime,
                mtime,
                version,
                cversion,
                aversion,
                ephemeral_owner,
                data_length,
                num_children,
                pzxid,
            },
        )
}
fn stat_persisted() -> impl Strategy<Value = StatPersisted> {
    (
        any::<i64>(),
        any::<i64>(),
        any::<i64>(),
        any::<i64>(),
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        any::<i64>(),
        any::<i64>(),
    )
        .prop_map(
            |(czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeral_owner, pzxid)| {
                StatPersisted {
                    czxid,
                    mzxid,
                    ctime,
                    mtime,
                    version,
                    cversion,
                    aversion,
                    ephemeral_owner,
                    pzxid,
                }
            },
        )
}
fn client_info() -> impl Strategy<Value = ClientInfo> {
    (s(), s()).prop_map(|(auth_scheme, user)| ClientInfo { auth_scheme, user })
}
fn txn() -> impl Strategy<Value = Txn> {
    (any::<i32>(), buf()).prop_map(|(r#type, data)| Txn { r#type, data })
}

/// A strategy for a `jute_record!` struct from one strategy per field, in order.
macro_rules! record {
    ($ty:ident { $($f:ident : $st:expr),* $(,)? }) => {
        ($($st,)*).prop_map(|($($f,)*)| $ty { $($f),* })
    };
}

/// Checks the round trip of one value (see the module docs).
fn check_roundtrip<T: Jute + PartialEq + std::fmt::Debug>(
    v: &T,
    cut: prop::sample::Index,
    trailing: &[u8],
    optional_tail: bool,
) -> Result<(), TestCaseError> {
    let bytes = v.to_bytes();
    prop_assert!(bytes.len() >= T::MIN_SIZE, "encoding shorter than MIN_SIZE");
    let (rest, back) =
        T::read(&bytes).map_err(|e| TestCaseError::fail(format!("decode failed: {e:?}")))?;
    prop_assert!(rest.is_empty(), "decoder left {} bytes", rest.len());
    prop_assert_eq!(&back, v);
    let decoded = T::decode(&bytes);
    prop_assert_eq!(decoded.as_ref(), Ok(v));
    // Trailing bytes are left alone (the Java reader ignores them).
    let mut longer = bytes.clone();
    longer.extend_from_slice(trailing);
    if !optional_tail || trailing.is_empty() {
        let (rest, back) = T::read(&longer).map_err(|e| {
            TestCaseError::fail(format!("decode with trailing bytes failed: {e:?}"))
        })?;
        prop_assert_eq!(rest.len(), trailing.len());
        prop_assert_eq!(&back, v);
    }
    // Any truncation fails to decode.
    if !bytes.is_empty() {
        let n = cut.index(bytes.len());
        let r = T::decode(&bytes[..n]);
        if !optional_tail || n + 1 < bytes.len() {
            prop_assert!(
                r.is_err(),
                "a truncation to {n} of {} bytes decoded: {r:?}",
                bytes.len()
            );
        }
    }
    Ok(())
}

/// One round-trip property per record type.
macro_rules! roundtrip_tests {
    ($($name:ident : $ty:ty = $st:expr;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]
            $(
                #[test]
                fn $name(v in $st, cut in any::<prop::sample::Index>(), trailing in vec(any::<u8>(), 0..8)) {
                    check_roundtrip::<$ty>(&v, cut, &trailing, false)?;
                }
            )*
        }
    };
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

roundtrip_tests! {
    rt_id: Id = id();
    rt_acl: Acl = acl();
    rt_stat: Stat = stat();
    rt_stat_persisted: StatPersisted = stat_persisted();
    rt_client_info: ClientInfo = client_info();
    rt_request_header: RequestHeader = record!(RequestHeader { xid: any::<i32>(), r#type: any::<i32>() });
    rt_reply_header: ReplyHeader = record!(ReplyHeader { xid: any::<i32>(), zxid: any::<i64>(), err: any::<i32>() });
    rt_watcher_event: WatcherEvent = record!(WatcherEvent { r#type: any::<i32>(), state: any::<i32>(), path: s() });
    rt_auth_packet: AuthPacket = record!(AuthPacket { r#type: any::<i32>(), scheme: s(), auth: buf() });
    rt_create_request: CreateRequest = record!(CreateRequest { path: s(), data: buf(), acl: acls(), flags: any::<i32>() });
    rt_create_ttl_request: CreateTtlRequest = record!(CreateTtlRequest { path: s(), data: buf(), acl: acls(), flags: any::<i32>(), ttl: any::<i64>() });
    rt_delete_request: DeleteRequest = record!(DeleteRequest { path: s(), version: any::<i32>() });
    rt_path_watch_request: PathWatchRequest = record!(PathWatchRequest { path: s(), watch: any::<bool>() });
    rt_path_request: PathRequest = record!(PathRequest { path: s() });
    rt_set_data_request: SetDataRequest = record!(SetDataRequest { path: s(), data: buf(), version: any::<i32>() });
    rt_set_acl_request: SetAclRequest = record!(SetAclRequest { path: s(), acl: acls(), version: any::<i32>() });
    rt_check_version_request: CheckVersionRequest = record!(CheckVersionRequest { path: s(), version: any::<i32>() });
    rt_watches_request: WatchesRequest = record!(WatchesRequest { path: s(), r#type: any::<i32>() });
    rt_add_watch_request: AddWatchRequest = record!(AddWatchRequest { path: s(), mode: any::<i32>() });
    rt_set_watches: SetWatches = record!(SetWatches { relative_zxid: any::<i64>(), data_watches: strings(), exist_watches: strings(), child_watches: strings() });
    rt_set_watches2: SetWatches2 = record!(SetWatches2 {
        relative_zxid: any::<i64>(), data_watches: strings(), exist_watches: strings(), child_watches: strings(),
        persistent_watches: strings(), persistent_recursive_watches: strings(),
    });
    rt_reconfig_request: ReconfigRequest = record!(ReconfigRequest { joining_servers: s(), leaving_servers: s(), new_members: s(), cur_config_id: any::<i64>() });
    rt_multi_header: MultiHeader = record!(MultiHeader { r#type: any::<i32>(), done: any::<bool>(), err: any::<i32>() });
    rt_create_response: CreateResponse = record!(CreateResponse { path: s() });
    rt_create2_response: Create2Response = record!(Create2Response { path: s(), stat: stat() });
    rt_stat_response: StatResponse = record!(StatResponse { stat: stat() });
    rt_get_data_response: GetDataResponse = record!(GetDataResponse { data: buf(), stat: stat() });
    rt_get_acl_response: GetAclResponse = record!(GetAclResponse { acl: acls(), stat: stat() });
    rt_strings_response: StringsResponse = record!(StringsResponse { strings: strings() });
    rt_get_children2_response: GetChildren2Response = record!(GetChildren2Response { children: strings(), stat: stat() });
    rt_sync_response: SyncResponse = record!(SyncResponse { path: s() });
    rt_get_all_children_number_response: GetAllChildrenNumberResponse = record!(GetAllChildrenNumberResponse { total_number: any::<i32>() });
    rt_error_response: ErrorResponse = record!(ErrorResponse { err: any::<i32>() });
    rt_who_am_i_response: WhoAmIResponse = record!(WhoAmIResponse { client_info: vec(client_info(), 0..3) });
    rt_txn_header: TxnHeader = record!(TxnHeader { client_id: any::<i64>(), cxid: any::<i32>(), zxid: any::<i64>(), time: any::<i64>(), r#type: any::<i32>() });
    rt_create_txn: CreateTxn = record!(CreateTxn { path: s(), data: buf(), acl: acls(), ephemeral: any::<bool>(), parent_c_version: any::<i32>() });
    rt_create_txn_v0: CreateTxnV0 = record!(CreateTxnV0 { path: s(), data: buf(), acl: acls(), ephemeral: any::<bool>() });
    rt_create_ttl_txn: CreateTtlTxn = record!(CreateTtlTxn { path: s(), data: buf(), acl: acls(), parent_c_version: any::<i32>(), ttl: any::<i64>() });
    rt_create_container_txn: CreateContainerTxn = record!(CreateContainerTxn { path: s(), data: buf(), acl: acls(), parent_c_version: any::<i32>() });
    rt_delete_txn: DeleteTxn = record!(DeleteTxn { path: s() });
    rt_set_data_txn: SetDataTxn = record!(SetDataTxn { path: s(), data: buf(), version: any::<i32>() });
    rt_check_version_txn: CheckVersionTxn = record!(CheckVersionTxn { path: s(), version: any::<i32>() });
    rt_set_acl_txn: SetAclTxn = record!(SetAclTxn { path: s(), acl: acls(), version: any::<i32>() });
    rt_error_txn: ErrorTxn = record!(ErrorTxn { err: any::<i32>() });
    rt_create_session_txn: CreateSessionTxn = record!(CreateSessionTxn { time_out: any::<i32>() });
    rt_close_session_txn: CloseSessionTxn = record!(CloseSessionTxn { paths2_delete: strings() });
    rt_txn: Txn = txn();
    rt_multi_txn: MultiTxn = record!(MultiTxn { txns: vec(txn(), 0..4) });
    rt_txn_digest: TxnDigest = record!(TxnDigest { version: any::<i32>(), tree_digest: any::<i64>() });
    rt_file_header: FileHeader = record!(FileHeader { magic: any::<i32>(), version: any::<i32>(), dbid: any::<i64>() });
    rt_quorum_packet: QuorumPacket = record!(QuorumPacket { r#type: any::<i32>(), zxid: any::<i64>(), data: buf(), authinfo: vec(id(), 0..3) });
    rt_learner_info: LearnerInfo = record!(LearnerInfo { serverid: any::<i64>(), protocol_version: any::<i32>(), config_version: any::<i64>() });
    rt_buffer: Buffer = buf();
    rt_string: String = s();
    rt_strings: Vec<String> = strings();
    rt_acls: Vec<Acl> = acls();
    rt_i32: i32 = any::<i32>();
    rt_i64: i64 = any::<i64>();
    rt_bool: bool = any::<bool>();
}

fn connect_request() -> impl Strategy<Value = ConnectRequest> {
    (
        any::<i32>(),
        any::<i64>(),
        any::<i32>(),
        any::<i64>(),
        buf(),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(protocol_version, last_zxid_seen, time_out, session_id, passwd, read_only)| {
                ConnectRequest {
                    protocol_version,
                    last_zxid_seen,
                    time_out,
                    session_id,
                    passwd,
                    read_only,
                }
            },
        )
}
fn connect_response() -> impl Strategy<Value = ConnectResponse> {
    (
        any::<i32>(),
        any::<i32>(),
        any::<i64>(),
        buf(),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(protocol_version, time_out, session_id, passwd, read_only)| ConnectResponse {
                protocol_version,
                time_out,
                session_id,
                passwd,
                read_only,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    /// ConnectRequest: the readOnly byte is optional, so a cut right before it still decodes
    /// (as an old client) and trailing bytes after an old client's request are its readOnly.
    #[test]
    fn rt_connect_request(v in connect_request(), cut in any::<prop::sample::Index>(), trailing in vec(any::<u8>(), 0..8)) {
        check_roundtrip(&v, cut, if v.read_only.is_some() { &trailing } else { &[] }, true)?;
        if v.read_only.is_some() {
            let bytes = v.to_bytes();
            let old = ConnectRequest::decode(&bytes[..bytes.len() - 1]).unwrap();
            prop_assert_eq!(old, ConnectRequest { read_only: None, ..v.clone() });
        }
    }

    #[test]
    fn rt_connect_response(v in connect_response(), cut in any::<prop::sample::Index>(), trailing in vec(any::<u8>(), 0..8)) {
        check_roundtrip(&v, cut, if v.read_only.is_some() { &trailing } else { &[] }, true)?;
    }

    /// TxnEntry round trip over every TxnBody variant (what the log and proposals carry).
    #[test]
    fn rt_txn_entry(e in txn_entry()) {
        let bytes = e.encode();
        prop_assert_eq!(TxnEntry::decode(&bytes).unwrap(), e);
    }

    /// A multi request (MultiHeader loop) round trip.
    #[test]
    fn rt_multi_request(ops in vec(multi_op(), 0..5)) {
        let mut body = Vec::new();
        for (ty, rec) in &ops {
            MultiHeader { r#type: *ty, done: false, err: -1 }.write(&mut body);
            body.extend_from_slice(rec);
        }
        MultiHeader { r#type: -1, done: true, err: -1 }.write(&mut body);
        let decoded = fuzz_checks::decode_multi(&body).expect("valid multi decodes");
        prop_assert_eq!(decoded.len(), ops.len());
        fuzz_checks::multi_request(&body);
    }
}

fn multi_op() -> impl Strategy<Value = (i32, Vec<u8>)> {
    prop_oneof![
        (
            prop_oneof![Just(1), Just(15), Just(19)],
            record!(CreateRequest {
                path: s(),
                data: buf(),
                acl: acls(),
                flags: any::<i32>()
            })
        )
            .prop_map(|(t, r)| (t, r.to_bytes())),
        record!(CreateTtlRequest {
            path: s(),
            data: buf(),
            acl: acls(),
            flags: any::<i32>(),
            ttl: any::<i64>()
        })
        .prop_map(|r| (21, r.to_bytes())),
        record!(DeleteRequest {
            path: s(),
            version: any::<i32>()
        })
        .prop_map(|r| (2, r.to_bytes())),
        record!(SetDataRequest {
            path: s(),
            data: buf(),
            version: any::<i32>()
        })
        .prop_map(|r| (5, r.to_bytes())),
        record!(CheckVersionRequest {
            path: s(),
            version: any::<i32>()
        })
        .prop_map(|r| (13, r.to_bytes())),
        record!(PathWatchRequest {
            path: s(),
            watch: any::<bool>()
        })
        .prop_map(|r| (4, r.to_bytes())),
        record!(PathWatchRequest {
            path: s(),
            watch: any::<bool>()
        })
        .prop_map(|r| (8, r.to_bytes())),
    ]
}

fn leaf_body() -> impl Strategy<Value = TxnBody> {
    prop_oneof![
        record!(CreateSessionTxn {
            time_out: any::<i32>()
        })
        .prop_map(TxnBody::CreateSession),
        record!(CreateTxn {
            path: s(),
            data: buf(),
            acl: acls(),
            ephemeral: any::<bool>(),
            parent_c_version: any::<i32>()
        })
        .prop_map(TxnBody::Create),
        record!(CreateTxn {
            path: s(),
            data: buf(),
            acl: acls(),
            ephemeral: any::<bool>(),
            parent_c_version: any::<i32>()
        })
        .prop_map(TxnBody::Create2),
        record!(CreateTtlTxn {
            path: s(),
            data: buf(),
            acl: acls(),
            parent_c_version: any::<i32>(),
            ttl: any::<i64>()
        })
        .prop_map(TxnBody::CreateTtl),
        record!(CreateContainerTxn {
            path: s(),
            data: buf(),
            acl: acls(),
            parent_c_version: any::<i32>()
        })
        .prop_map(TxnBody::CreateContainer),
        record!(DeleteTxn { path: s() }).prop_map(TxnBody::Delete),
        record!(DeleteTxn { path: s() }).prop_map(TxnBody::DeleteContainer),
        record!(SetDataTxn {
            path: s(),
            data: buf(),
            version: any::<i32>()
        })
        .prop_map(TxnBody::SetData),
        record!(SetDataTxn {
            path: s(),
            data: buf(),
            version: any::<i32>()
        })
        .prop_map(TxnBody::Reconfig),
        record!(SetAclTxn {
            path: s(),
            acl: acls(),
            version: any::<i32>()
        })
        .prop_map(TxnBody::SetAcl),
        record!(ErrorTxn { err: any::<i32>() }).prop_map(TxnBody::Error),
        record!(CheckVersionTxn {
            path: s(),
            version: any::<i32>()
        })
        .prop_map(TxnBody::Check),
    ]
}

fn txn_entry() -> impl Strategy<Value = TxnEntry> {
    let body = prop_oneof![
        4 => leaf_body(),
        1 => Just(TxnBody::CloseSession(None)),
        // Real close-session paths are ephemeral node paths: never empty.
        1 => vec("/[a-z]{1,6}", 0..3).prop_map(|p| TxnBody::CloseSession(Some(CloseSessionTxn { paths2_delete: p }))),
        2 => vec(leaf_body(), 0..4).prop_map(TxnBody::Multi),
    ];
    let hdr = record!(TxnHeader {
        client_id: any::<i64>(),
        cxid: any::<i32>(),
        zxid: any::<i64>(),
        time: any::<i64>(),
        r#type: Just(0)
    });
    (
        hdr,
        body,
        proptest::option::of(record!(TxnDigest {
            version: Just(2),
            tree_digest: any::<i64>()
        })),
    )
        .prop_map(|(mut hdr, body, digest)| {
            hdr.r#type = body.type_code();
            // A record-less close is followed by nothing or a digest.
            TxnEntry { hdr, body, digest }
        })
}

// ------------------------------------------------------------------ decoders on arbitrary bytes

/// Arbitrary bytes, or a valid encoding with a few bytes overwritten, cut or extended.
fn damaged(valid: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => vec(any::<u8>(), 0..160),
        2 => (valid, vec((any::<prop::sample::Index>(), any::<u8>()), 0..4), any::<prop::sample::Index>(), vec(any::<u8>(), 0..6))
            .prop_map(|(mut b, edits, cut, extra)| {
                if !b.is_empty() {
                    for (i, v) in edits {
                        let i = i.index(b.len());
                        b[i] = v;
                    }
                    if extra.len() % 3 == 0 {
                        b.truncate(cut.index(b.len() + 1));
                    }
                }
                b.extend_from_slice(&extra);
                b
            }),
    ]
}

fn any_record_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        connect_request().prop_map(|r| r.to_bytes()),
        record!(CreateRequest {
            path: s(),
            data: buf(),
            acl: acls(),
            flags: any::<i32>()
        })
        .prop_map(|r| r.to_bytes()),
        record!(SetWatches2 {
            relative_zxid: any::<i64>(),
            data_watches: strings(),
            exist_watches: strings(),
            child_watches: strings(),
            persistent_watches: strings(),
            persistent_recursive_watches: strings(),
        })
        .prop_map(|r| r.to_bytes()),
        record!(GetAclResponse {
            acl: acls(),
            stat: stat()
        })
        .prop_map(|r| r.to_bytes()),
        record!(QuorumPacket {
            r#type: any::<i32>(),
            zxid: any::<i64>(),
            data: buf(),
            authinfo: vec(id(), 0..3)
        })
        .prop_map(|r| r.to_bytes()),
        (
            record!(RequestHeader {
                xid: any::<i32>(),
                r#type: prop_oneof![1..23i32, 100..108i32]
            }),
            vec(multi_op(), 0..3)
        )
            .prop_map(|(h, ops)| {
                let mut v = h.to_bytes();
                for (_, rec) in ops {
                    v.extend_from_slice(&rec);
                }
                v
            }),
    ]
}

fn multi_bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(multi_op(), 0..4).prop_map(|ops| {
        let mut body = Vec::new();
        for (ty, rec) in &ops {
            MultiHeader {
                r#type: *ty,
                done: false,
                err: -1,
            }
            .write(&mut body);
            body.extend_from_slice(rec);
        }
        MultiHeader {
            r#type: -1,
            done: true,
            err: -1,
        }
        .write(&mut body);
        body
    })
}

fn snapshot_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        vec((any::<i64>(), any::<i32>()), 0..3),
        vec(acl(), 0..3),
        vec(("[a-c]{1,2}", buf()), 0..4),
        any::<bool>(),
    )
        .prop_map(|(sessions, acl_list, children, digest)| {
            let st = StatPersisted::default();
            let mut paths = vec![("/".to_string(), Some(Vec::new()))];
            for (name, data) in children {
                let p = format!("/{name}");
                if !paths.iter().any(|(q, _)| *q == p) {
                    paths.push((p, data));
                }
            }
            let mut nodes = paths
                .iter()
                .map(|(p, d)| zk::persist::snapshot::SnapshotNode {
                    path: p,
                    data: d.as_deref(),
                    acl_index: -1,
                    stat: &st,
                });
            let mut out = Vec::new();
            let digest = digest.then_some(zk::persist::snapshot::ZxidDigest {
                zxid: 5,
                digest_version: 2,
                digest: 77,
            });
            zk::persist::snapshot::encode_snapshot(
                &mut out,
                &sessions,
                &[(1, acl_list)],
                &mut nodes,
                digest,
            );
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(2000), ..ProptestConfig::default() })]

    /// Every record decoder on arbitrary and damaged bytes: no panic, canonical when it decodes.
    #[test]
    fn records_never_panic(data in damaged(any_record_bytes())) {
        fuzz_checks::all_records(&data);
    }

    #[test]
    fn connect_request_never_panics(data in damaged(connect_request().prop_map(|r| r.to_bytes()))) {
        fuzz_checks::connect_request(&data);
    }

    #[test]
    fn multi_request_never_panics(data in damaged(multi_bytes())) {
        fuzz_checks::multi_request(&data);
    }

    #[test]
    fn txn_entry_never_panics(data in damaged(txn_entry().prop_map(|e| e.encode()))) {
        fuzz_checks::txn_entry(&data);
    }

    #[test]
    fn snapshot_never_panics(data in damaged(snapshot_bytes())) {
        fuzz_checks::snapshot(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    /// The txn log reader on files built from random bytes (raw, or entries with valid
    /// checksums and then damaged).
    #[test]
    fn txn_log_never_panics(data in vec(any::<u8>(), 0..400), structured in any::<bool>()) {
        let dir = fuzz_checks::scratch_dir();
        fuzz_checks::txn_log(dir.path(), &data, structured);
    }
}

// ------------------------------------------------------------------ regressions

/// Every file under zk/fuzz/corpus (the minimised fuzzing corpus, including any crash
/// reproducers added there) passes its target's checks.
#[test]
fn fuzz_corpus_passes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let dir = fuzz_checks::scratch_dir();
    let mut n = 0;
    for target in std::fs::read_dir(&root).expect("zk/fuzz/corpus") {
        let target = target.unwrap().path();
        let name = target.file_name().unwrap().to_string_lossy().into_owned();
        for f in std::fs::read_dir(&target).unwrap() {
            let data = std::fs::read(f.unwrap().path()).unwrap();
            match name.as_str() {
                "connect_request" => fuzz_checks::connect_request(&data),
                "request_records" => fuzz_checks::request_records(&data),
                "all_records" => fuzz_checks::all_records(&data),
                "multi_request" => fuzz_checks::multi_request(&data),
                "txn_entry" => fuzz_checks::txn_entry(&data),
                "snapshot" => fuzz_checks::snapshot(&data),
                "txn_log" => {
                    if let Some((&mode, rest)) = data.split_first() {
                        fuzz_checks::txn_log(dir.path(), rest, mode & 1 == 1);
                    }
                }
                other => panic!("corpus for unknown target {other}"),
            }
            n += 1;
        }
    }
    assert!(n > 0, "empty corpus");
}
