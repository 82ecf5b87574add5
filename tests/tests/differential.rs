//! Differential test: seeded random operation sequences (all opcodes, error cases, watches,
//! multi, ACLs/auth, session expiry) run over the raw protocol against a fresh Apache ZooKeeper
//! and a fresh zkraft server with the same zoo.cfg; every reply and notification must match.
//!
//! `DIFF_SEED=<n>` runs one seed, `DIFF_OPS=<n>` sets actions per seed, `DIFF_PAIR=apache,apache`
//! validates the harness against itself. Full traces go to `DIFF_OUT_DIR` (default
//! `$TMPDIR/zk-differential`). See `tests/src/differential.rs`.

use tests::differential::{
    compare, ops_from_env, out_dir, pair_from_env, render_reply, run, run_script, seeds_from_env,
    Action, DiffConfig, Norm, OpRecord, Req, ALICE_ID,
};
use tests::rawclient::{
    acl, op, perm, Acl, GetDataResponse, Jute, MultiOp, Reply, ReplyHeader, Stat,
};

/// Default seeds (seed % 3 == 0 runs with extendedTypesEnabled=false) and actions per seed.
const SEEDS: &[u64] = &[1, 2, 3, 4, 5, 6];
const OPS: usize = 500;

#[test]
fn differential_random_sequences() {
    let (a, b) = pair_from_env();
    let ops = ops_from_env(OPS);
    let seeds = seeds_from_env(SEEDS);
    let dir = out_dir();
    let mut failures = Vec::new();
    let mut total = 0;
    for seed in seeds {
        let cfg = DiffConfig::new(seed, ops, a, b);
        eprintln!(
            "differential: seed={seed} ops={ops} A={a} B={b} extendedTypes={}",
            cfg.extended_types
        );
        let report = run(&cfg).unwrap_or_else(|e| panic!("seed {seed}: {e:#}"));
        total += report.actions.len();
        if let Err(e) = report.write_traces(&dir) {
            eprintln!("could not write traces to {}: {e:#}", dir.display());
        }
        eprint!("{}", report.summary());
        if !report.mismatches.is_empty() {
            failures.push(report.summary());
        }
    }
    eprintln!(
        "differential: {total} actions in total; traces in {}",
        dir.display()
    );
    assert!(
        failures.is_empty(),
        "differences found:\n{}",
        failures.join("\n")
    );
}

/// The same random sequences, each side a three-member ensemble (Apache's and ours), each
/// session on a different member and moving to another when bounced.
#[test]
fn differential_random_sequences_through_three_member_ensembles() {
    let (a, b) = pair_from_env();
    let ops = ops_from_env(300);
    let seeds = seeds_from_env(&[11, 12]);
    let dir = out_dir().join("ensemble");
    let mut failures = Vec::new();
    for seed in seeds {
        let mut cfg = DiffConfig::new(seed, ops, a, b);
        cfg.members = 3;
        cfg.short_timeout_ms = 3_000;
        eprintln!("differential (3 members): seed={seed} ops={ops} A={a} B={b}");
        let report = run(&cfg).unwrap_or_else(|e| panic!("seed {seed}: {e:#}"));
        if let Err(e) = report.write_traces(&dir) {
            eprintln!("could not write traces to {}: {e:#}", dir.display());
        }
        eprint!("{}", report.summary());
        if !report.mismatches.is_empty() {
            failures.push(report.summary());
        }
    }
    assert!(
        failures.is_empty(),
        "differences found:\n{}",
        failures.join("\n")
    );
}

/// The whole pipeline must be able to fail: side B's reply to one action is corrupted (header
/// zxid + 1) and exactly that action must be reported. Runs the oracle against itself, which
/// also checks that two fresh Apache servers give identical traces.
#[test]
fn corrupted_reply_is_reported() {
    let (a, _) = pair_from_env();
    let mut cfg = DiffConfig::new(7, 60, a, a);
    // Find an action that is a request (the corruption hook applies to request replies).
    cfg.corrupt_b_at = Some(40);
    let report = run(&cfg).unwrap();
    eprint!("{}", report.summary());
    let idx: Vec<usize> = report.mismatches.iter().map(|m| m.index).collect();
    let action = &report.actions[40];
    if matches!(
        action,
        tests::differential::Action::Req { .. } | tests::differential::Action::Close { .. }
    ) {
        assert_eq!(idx, vec![40], "{}", report.summary());
    } else {
        assert!(idx.is_empty(), "{}", report.summary());
    }
}

#[test]
fn comparator_flags_a_flipped_stat_byte() {
    let stat = Stat {
        czxid: 2,
        mzxid: 3,
        version: 1,
        data_length: 1,
        pzxid: 2,
        ..Default::default()
    };
    let body = GetDataResponse {
        data: Some(b"x".to_vec()),
        stat,
    }
    .to_bytes();
    let good = Reply {
        header: ReplyHeader {
            xid: 1,
            zxid: 3,
            err: 0,
        },
        body,
    };
    let mut bad = good.clone();
    let last = bad.body.len() - 1; // low byte of pzxid
    bad.body[last] ^= 1;
    let rec = |r: &Reply| {
        vec![OpRecord {
            index: 0,
            action: "getData".into(),
            lines: vec![render_reply(&mut Norm::new(), op::GET_DATA, r)],
        }]
    };
    assert!(compare(&rec(&good), &rec(&good)).is_empty());
    let m = compare(&rec(&good), &rec(&bad));
    assert_eq!(m.len(), 1);
    assert!(
        m[0].a[0].contains("pz=0x2") && m[0].b[0].contains("pz=0x3"),
        "{:?}",
        m[0]
    );
}

// ------------------------------------------------------------------------------------------
// Directed scenarios: minimal reproductions of behaviours the random runs exposed, all run on
// one pair of fresh servers (each scenario uses its own paths and sessions).
// ------------------------------------------------------------------------------------------

fn open_acl() -> Vec<Acl> {
    vec![acl(perm::ALL, "world", "anyone")]
}
fn note(n: &str) -> Action {
    Action::Note(n.into())
}
fn open(s: usize) -> Action {
    Action::Open {
        s,
        timeout_ms: 30_000,
        old_client: false,
    }
}
fn close(s: usize) -> Action {
    Action::Close { s }
}
fn r(s: usize, req: Req) -> Action {
    Action::Req { s, req }
}
fn create_acl(s: usize, path: &str, flags: i32, acl: Vec<Acl>) -> Action {
    r(
        s,
        Req::Create {
            opcode: op::CREATE,
            path: path.into(),
            data: Some(b"d".to_vec()),
            acl,
            flags,
            ttl: 0,
        },
    )
}
fn create(s: usize, path: &str, flags: i32) -> Action {
    create_acl(s, path, flags, open_acl())
}
fn mcreate(path: &str, flags: i32) -> MultiOp {
    MultiOp::Create {
        opcode: op::CREATE,
        path: path.into(),
        data: None,
        acl: open_acl(),
        flags,
    }
}
fn set_data(s: usize, path: &str) -> Action {
    r(
        s,
        Req::SetData {
            path: path.into(),
            data: Some(b"x".to_vec()),
            version: -1,
        },
    )
}
fn delete(s: usize, path: &str) -> Action {
    r(
        s,
        Req::Delete {
            path: path.into(),
            version: -1,
        },
    )
}
fn exists(s: usize, path: &str, watch: bool) -> Action {
    r(
        s,
        Req::Exists {
            path: path.into(),
            watch,
        },
    )
}
fn add_watch(s: usize, path: &str, mode: i32) -> Action {
    r(
        s,
        Req::AddWatch {
            path: path.into(),
            mode,
        },
    )
}
fn check_watches(s: usize, path: &str, wtype: i32) -> Action {
    r(
        s,
        Req::CheckWatches {
            path: path.into(),
            wtype,
        },
    )
}
fn remove_watches(s: usize, path: &str, wtype: i32) -> Action {
    r(
        s,
        Req::RemoveWatches {
            path: path.into(),
            wtype,
        },
    )
}

/// (name, actions). Every scenario opens and closes its own sessions.
fn scenarios() -> Vec<(&'static str, Vec<Action>)> {
    vec![
        ("unknown opcode: Unimplemented reply header zxid", vec![open(0), create(0, "/u1", 0), r(0, Req::Raw { opcode: 99, body: vec![], what: "unknown opcode".into() }), close(0)]),
        ("standalone check (13): error replies", vec![
            open(0),
            create(0, "/chk", 0),
            r(0, Req::Check { path: "/chk".into(), version: 5 }),
            r(0, Req::Check { path: "/nochk".into(), version: -1 }),
            // The passing check (version 0) is left out: Apache never answers it (see
            // KNOWN_DIFFERENCES and docs/compatibility.md).
            exists(0, "/chk", false),
            close(0),
        ]),
        ("multiRead containing a write op", vec![
            open(0),
            r(0, Req::MultiRead { ops: vec![MultiOp::GetData { path: "/".into() }, MultiOp::Check { path: "/".into(), version: -1 }] }),
            close(0),
        ]),
        ("multiRead holding only write ops; multi holding only read ops", vec![
            open(0),
            r(0, Req::MultiRead { ops: vec![MultiOp::Check { path: "/".into(), version: -1 }] }),
            r(0, Req::Multi { ops: vec![MultiOp::GetData { path: "/".into() }] }),
            r(0, Req::Multi { ops: vec![MultiOp::GetData { path: "/".into() }, MultiOp::Check { path: "/".into(), version: -1 }] }),
            close(0),
        ]),
        ("checkWatches with a relative path while a recursive watch exists", vec![
            open(0),
            open(1),
            create(0, "/rel", 0),
            add_watch(0, "/rel", 1),
            check_watches(1, "a/b", 2),
            remove_watches(1, "a/b", 2),
            check_watches(1, "/rel/x", 2),
            close(0),
            close(1),
        ]),
        ("checkWatches sees another session's watch (3.8 containsWatcher)", vec![
            open(0),
            open(1),
            create(0, "/cw", 0),
            exists(0, "/cw", true),
            check_watches(1, "/cw", 2),
            check_watches(1, "/cw", 3),
            check_watches(1, "/cw", 1),
            check_watches(0, "/cw", 2),
            close(0),
            close(1),
        ]),
        ("removeWatches(Data) on a persistent recursive watch leaves its child-table half", vec![
            open(0),
            open(1),
            create(0, "/rw", 0),
            add_watch(0, "/rw", 1),
            remove_watches(0, "/rw", 2),
            create(1, "/rw/c", 0),
            set_data(1, "/rw/c"),
            delete(1, "/rw/c"),
            check_watches(0, "/rw", 1),
            close(0),
            close(1),
        ]),
        ("a standard watch replaces the persistent mode of the same (session, path)", vec![
            open(0),
            open(1),
            create(0, "/md", 0),
            add_watch(0, "/md", 0),
            r(0, Req::GetChildren { path: "/md".into(), watch: true }),
            create(1, "/md/a", 0),
            create(1, "/md/b", 0),
            exists(0, "/md", true),
            set_data(1, "/md"),
            set_data(1, "/md"),
            close(0),
            close(1),
        ]),
        ("addWatch twice on one path with different modes: the last mode wins", vec![
            open(0),
            open(1),
            create(0, "/pr", 0),
            add_watch(0, "/pr", 0),
            add_watch(0, "/pr", 1),
            create(1, "/pr/a", 0),
            create(0, "/rp", 0),
            add_watch(0, "/rp", 1),
            add_watch(0, "/rp", 0),
            create(1, "/rp/a", 0),
            set_data(1, "/rp/a"),
            create(0, "/gr", 0),
            r(0, Req::GetChildren { path: "/gr".into(), watch: true }),
            add_watch(0, "/gr", 1),
            create(1, "/gr/a", 0),
            close(0),
            close(1),
        ]),
        ("a standard data watch over a recursive watch: the halves live on separately", vec![
            open(0),
            open(1),
            create(0, "/h", 0),
            add_watch(0, "/h", 1),
            r(0, Req::GetData { path: "/h".into(), watch: true }),
            set_data(1, "/h"),
            set_data(1, "/h"),
            create(1, "/h/a", 0),
            set_data(1, "/h/a"),
            delete(1, "/h/a"),
            close(0),
            close(1),
        ]),
        ("session timeout negotiation (min 400, max 30000)", vec![
            Action::Open { s: 0, timeout_ms: 1, old_client: false },
            Action::Open { s: 1, timeout_ms: 100_000, old_client: true },
            Action::Open { s: 2, timeout_ms: -5, old_client: false },
            close(0),
            close(1),
            close(2),
        ]),
        ("requests larger than jute.maxbuffer close the connection", vec![
            open(0),
            create(0, "/big", 0),
            r(0, Req::SetData { path: "/big".into(), data: Some(vec![7u8; 1_100_000]), version: -1 }),
            r(0, Req::GetData { path: "/big".into(), watch: false }),
            r(0, Req::SetData { path: "/big".into(), data: Some(vec![7u8; 1_000_000]), version: -1 }),
            r(0, Req::Exists { path: "/big".into(), watch: false }),
            close(0),
        ]),
        ("ACL order is kept as given (explicit lists)", vec![
            open(0),
            create_acl(0, "/ord", 0, vec![
                acl(perm::READ, "world", "anyone"),
                acl(perm::ALL, "digest", ALICE_ID),
                acl(perm::ALL, "ip", "127.0.0.1"),
                acl(perm::READ, "world", "anyone"),
                acl(perm::ADMIN, "digest", "bob:x"),
            ]),
            r(0, Req::GetAcl { path: "/ord".into() }),
            close(0),
        ]),
        ("setWatches2 with one path as persistent and persistentRecursive watch", vec![
            open(0),
            open(1),
            create(0, "/spr", 0),
            r(0, Req::SetWatches2 {
                rel: 1 << 40,
                data: vec![],
                exist: vec![],
                child: vec![],
                persistent: vec!["/spr".into()],
                recursive: vec!["/spr".into()],
            }),
            create(1, "/spr/a", 0),
            close(0),
            close(1),
        ]),
        ("setWatches2 with the same path as child watch and persistentRecursive watch", vec![
            open(0),
            open(1),
            create(0, "/sw", 0),
            r(0, Req::SetWatches2 {
                rel: 1 << 40,
                data: vec![],
                exist: vec![],
                child: vec!["/sw".into()],
                persistent: vec![],
                recursive: vec!["/sw".into()],
            }),
            create(1, "/sw/a", 0),
            create(1, "/sw/b", 0),
            close(0),
            close(1),
        ]),
        ("watch events need READ on the node (CVE-2024-23944 fix in the Debian oracle)", vec![
            open(0),
            open(1),
            create(1, "/af", 0),
            add_watch(0, "/af", 1),
            create_acl(1, "/af/secret", 0, vec![acl(perm::ALL, "digest", ALICE_ID)]),
            create_acl(1, "/af/noread", 0, vec![acl(perm::ALL & !perm::READ, "world", "anyone")]),
            set_data(1, "/af/noread"),
            delete(1, "/af/noread"),
            exists(0, "/af/zero", true),
            create_acl(1, "/af/zero", 0, vec![acl(0, "world", "anyone")]),
            exists(0, "/af/zero", true),
            delete(1, "/af/zero"),
            exists(0, "/af/zero", false),
            close(0),
            close(1),
        ]),
        ("getEphemerals prefix made of non-ASCII whitespace", vec![
            open(0),
            create(0, "/eph1", 1),
            r(0, Req::Ephemerals { prefix: "/\u{a0}".into() }),
            r(0, Req::Ephemerals { prefix: "\u{a0}".into() }),
            r(0, Req::Ephemerals { prefix: " / ".into() }),
            r(0, Req::Ephemerals { prefix: "\u{2003}/".into() }),
            close(0),
        ]),
        ("the empty path reads the root on reads", vec![
            open(0),
            exists(0, "", false),
            r(0, Req::GetData { path: "".into(), watch: false }),
            r(0, Req::GetChildren { path: "".into(), watch: false }),
            r(0, Req::GetChildren2 { path: "".into(), watch: false }),
            r(0, Req::GetAcl { path: "".into() }),
            r(0, Req::AllChildrenNumber { path: "".into() }),
            r(0, Req::Sync { path: "".into() }),
            r(0, Req::MultiRead { ops: vec![MultiOp::GetData { path: "".into() }, MultiOp::GetChildren { path: "".into() }] }),
            close(0),
        ]),
        ("invalid create flags inside multi: checked first in Apache; zkraft may even create the node", vec![
            open(0),
            create(0, "/mif", 1),
            r(0, Req::Multi { ops: vec![mcreate("/mif/x", 9)] }),
            r(0, Req::Multi { ops: vec![mcreate("/zookeeper", 9)] }),
            r(0, Req::Multi { ops: vec![MultiOp::Create { opcode: op::CREATE, path: "/x9".into(), data: None, acl: vec![], flags: 9 }] }),
            create(0, "/mif/x", 9),
            r(0, Req::Multi { ops: vec![mcreate("/f9", 9)] }),
            exists(0, "/f9", false),
            r(0, Req::Multi { ops: vec![mcreate("/f7", 7)] }),
            exists(0, "/f7", false),
            r(0, Req::Multi { ops: vec![mcreate("/fm1", -1)] }),
            exists(0, "/fm1", false),
            create(0, "/f9s", 9),
            close(0),
        ]),
        ("create (1) with a TTL mode inside multi", vec![
            open(0),
            r(0, Req::Multi { ops: vec![MultiOp::Delete { path: "/nonexistent".into(), version: -1 }, mcreate("/t5", 5)] }),
            r(0, Req::Multi { ops: vec![mcreate("/t5", 5)] }),
            r(0, Req::Multi { ops: vec![mcreate("/t6", 6), MultiOp::Delete { path: "/nonexistent".into(), version: -1 }] }),
            exists(0, "/t5", false),
            close(0),
        ]),
        ("deleteContainer (20) sent by a client", vec![
            open(0),
            r(0, Req::Create { opcode: op::CREATE_CONTAINER, path: "/dc".into(), data: None, acl: open_acl(), flags: 4, ttl: 0 }),
            r(0, Req::Raw { opcode: op::DELETE_CONTAINER, body: b"/dc".to_vec(), what: "deleteContainer /dc".into() }),
            exists(0, "/dc", false),
            r(0, Req::Raw {
                opcode: op::DELETE_CONTAINER,
                body: tests::rawclient::DeleteRequest { path: "/dc".into(), version: -1 }.to_bytes(),
                what: "deleteContainer as DeleteRequest".into(),
            }),
            exists(0, "/dc", false),
            close(0),
        ]),
        ("watch requests with odd paths and types", vec![
            open(0),
            check_watches(0, "a/b", 2),
            remove_watches(0, "a/b", 2),
            check_watches(0, "", 2),
            remove_watches(0, "/x", 0),
            remove_watches(0, "/x", 4),
            check_watches(0, "/x", 0),
            add_watch(0, "/x", 2),
            add_watch(0, "a", 0),
            add_watch(0, "", 1),
            close(0),
        ]),
    ]
}

#[test]
fn directed_scenarios() {
    let (a, b) = pair_from_env();
    let mut cfg = DiffConfig::new(0, 0, a, b);
    cfg.regular_sessions = 3;
    cfg.short_session = false;
    cfg.extended_types = true;
    cfg.max_reported = 100;
    cfg.sort_acls = false; // no scenario expands `auth` with several ids
    let mut actions = Vec::new();
    for (name, acts) in scenarios() {
        actions.push(note(name));
        actions.extend(acts);
    }
    let report = run_script(&cfg, &actions).unwrap();
    let dir = out_dir().join("directed");
    let _ = report.write_traces(&dir);
    eprint!("{}", report.summary());
    assert!(
        report.mismatches.is_empty(),
        "differences found:\n{}",
        report.summary()
    );
}

/// The container/TTL reaper (checkIntervalMs=100): containers whose last child went away and
/// expired TTL nodes are deleted, with NodeDeleted/NodeChildrenChanged events.
#[test]
fn directed_reaper() {
    let (a, b) = pair_from_env();
    let mut cfg = DiffConfig::new(0, 0, a, b);
    cfg.regular_sessions = 3;
    cfg.short_session = false;
    cfg.extended_types = true;
    cfg.max_reported = 100;
    cfg.extra_system_props = vec![("znode.container.checkIntervalMs".into(), "100".into())];
    let container = |s: usize, p: &str| {
        r(
            s,
            Req::Create {
                opcode: op::CREATE_CONTAINER,
                path: p.into(),
                data: None,
                acl: open_acl(),
                flags: 4,
                ttl: 0,
            },
        )
    };
    let ttl = |s: usize, p: &str, ms: i64| {
        r(
            s,
            Req::Create {
                opcode: op::CREATE_TTL,
                path: p.into(),
                data: None,
                acl: open_acl(),
                flags: 5,
                ttl: ms,
            },
        )
    };
    let actions = vec![
        note("container reaped after its last child is deleted"),
        open(0),
        open(1),
        open(2),
        create(0, "/parent", 0),
        r(
            1,
            Req::GetChildren {
                path: "/parent".into(),
                watch: true,
            },
        ),
        container(0, "/parent/rc"),
        create(0, "/parent/rc/a", 0),
        exists(1, "/parent/rc", true),
        add_watch(2, "/parent", 1),
        delete(0, "/parent/rc/a"),
        Action::WaitGone {
            path: "/parent/rc".into(),
        },
        r(
            1,
            Req::GetChildren2 {
                path: "/parent".into(),
                watch: false,
            },
        ),
        note("TTL node reaped after its ttl"),
        ttl(0, "/parent/ttl", 300),
        exists(1, "/parent/ttl", true),
        Action::WaitGone {
            path: "/parent/ttl".into(),
        },
        note("TTL node with a child is kept until the child goes"),
        ttl(0, "/parent/ttl2", 1500),
        create(0, "/parent/ttl2/c", 0),
        r(
            1,
            Req::GetChildren {
                path: "/parent/ttl2".into(),
                watch: true,
            },
        ),
        delete(0, "/parent/ttl2/c"),
        Action::WaitGone {
            path: "/parent/ttl2".into(),
        },
        note("container emptied by a session close"),
        container(0, "/parent/rc2"),
        create(1, "/parent/rc2/eph", 1),
        exists(0, "/parent/rc2", true),
        close(1),
        Action::WaitGone {
            path: "/parent/rc2".into(),
        },
        r(
            0,
            Req::GetChildren2 {
                path: "/parent".into(),
                watch: false,
            },
        ),
        close(0),
        close(2),
    ];
    let report = run_script(&cfg, &actions).unwrap();
    let _ = report.write_traces(&out_dir().join("reaper"));
    eprint!("{}", report.summary());
    assert!(
        report.mismatches.is_empty(),
        "differences found:\n{}",
        report.summary()
    );
}
