//! Operator flows on ensembles (`ZK_IMPL=apache` runs them against Apache ZooKeeper 3.8):
//! growing a standalone server into three members and back, replacing a dead member by an
//! empty one, a rolling restart under load, and the divergent-history trap.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tests::ackcheck::Tree;
use tests::ensemble::{pick_ports, Ensemble, Mode, RotatingClient};
use tests::rawclient::{open_acl, RawClient};
use tests::{wait_until, ServerKind, ServerOptions, TestServer};

const NO_NODE: i32 = -101;
const NODE_EXISTS: i32 = -110;

fn opts() -> ServerOptions {
    ServerOptions::new()
        .tick_time(200)
        .four_lw(&["srvr", "mntr", "stat", "ruok"])
}

fn client(s: &TestServer) -> RawClient {
    RawClient::connect(s.addr(), 10_000).expect("connect")
}

/// Everything outside /zookeeper, read after a sync.
fn user_tree(c: &mut RawClient) -> Tree {
    c.sync("/").expect("sync").expect("sync ok");
    let mut out = Tree::new();
    let mut todo = vec!["/".to_string()];
    while let Some(p) = todo.pop() {
        if p == "/zookeeper" {
            continue;
        }
        let Ok(d) = c.get_data(&p, false).expect("get_data") else {
            continue;
        };
        out.insert(p.clone(), (d.data.unwrap_or_default(), d.stat.version));
        if let Ok(kids) = c.get_children(&p, false).expect("get_children") {
            for k in kids {
                todo.push(if p == "/" {
                    format!("/{k}")
                } else {
                    format!("{p}/{k}")
                });
            }
        }
    }
    out
}

/// Runs a standalone server on `dir`, creates `paths`, and stops it.
fn standalone_history(kind: ServerKind, dir: &Path, paths: &[&str]) {
    let mut s = TestServer::start(kind, opts().data_dir(dir)).expect("standalone");
    let mut c = client(&s);
    for p in paths {
        c.create(p, Some(p.as_bytes()), &open_acl(), 0)
            .unwrap()
            .unwrap_or_else(|e| panic!("create {p}: {e}"));
    }
    c.close_session().unwrap();
    s.stop().unwrap();
}

fn dir(tmp: &tempfile::TempDir, name: &str) -> PathBuf {
    let d = tmp.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn t70_standalone_grows_to_three_members_and_shrinks_back() {
    let kind = ServerKind::from_env();
    let tmp = tempfile::tempdir().unwrap();
    let d1 = dir(&tmp, "one");
    standalone_history(kind, &d1, &["/flow", "/flow/a"]);
    // The old server becomes member 1 with its data; members 2 and 3 start empty.
    let e = Ensemble::start_with(
        kind,
        opts(),
        pick_ports(3).unwrap(),
        vec![Some(d1.clone()), None, None],
    )
    .expect("ensemble");
    for n in &e.nodes {
        let t = user_tree(&mut client(n));
        assert_eq!(
            t.get("/flow/a").map(|(d, _)| d.as_slice()),
            Some(&b"/flow/a"[..]),
            "{t:?}"
        );
    }
    client(&e.nodes[2])
        .create("/flow/b", Some(b"b"), &open_acl(), 0)
        .unwrap()
        .unwrap();
    client(&e.nodes[1])
        .create("/flow/c", Some(b"c"), &open_acl(), 0)
        .unwrap()
        .unwrap();
    let before = user_tree(&mut client(&e.nodes[0]));
    assert!(before.contains_key("/flow/b") && before.contains_key("/flow/c"));
    let mut e = e;
    for n in e.nodes.iter_mut() {
        n.stop().unwrap();
    }
    // Back to one server on member 1's directory: everything written through the others
    // is there.
    let s = TestServer::start(kind, opts().data_dir(&d1)).expect("standalone again");
    assert_eq!(user_tree(&mut client(&s)), before);
    let mut c = client(&s);
    c.create("/flow/d", None, &open_acl(), 0).unwrap().unwrap();
}

#[test]
fn t71_a_dead_member_is_replaced_by_an_empty_one_with_the_same_myid() {
    let mut e = Ensemble::start(ServerKind::from_env(), 3, opts()).expect("ensemble");
    let leader = e.leader().unwrap();
    let victim = (0..3).find(|&i| i != leader).unwrap();
    let mut c = client(&e.nodes[leader]);
    c.create("/t71", Some(b"x"), &open_acl(), 0)
        .unwrap()
        .unwrap();
    for i in 0..50 {
        c.create(&format!("/t71/n{i}"), Some(b"v"), &open_acl(), 0)
            .unwrap()
            .unwrap();
    }
    e.kill9(victim).unwrap();
    // The machine is gone: a new one with an empty data directory and the same myid.
    let data = e.nodes[victim].data_dir().to_path_buf();
    for entry in std::fs::read_dir(&data).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().is_some_and(|n| n == "myid") {
            continue;
        }
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap();
        }
    }
    c.create("/t71/while-down", None, &open_acl(), 0)
        .unwrap()
        .unwrap();
    e.start_again(victim).unwrap();
    e.wait_serving(Duration::from_secs(30)).unwrap();
    let want = user_tree(&mut client(&e.nodes[leader]));
    assert_eq!(user_tree(&mut client(&e.nodes[victim])), want);
    assert!(want.contains_key("/t71/while-down"));
}

/// A writer that retries each create after a connection loss (on the next member) until
/// it is acknowledged; anything but a connection loss is recorded as a failure.
fn retrying_writer(
    addrs: Vec<std::net::SocketAddr>,
    id: usize,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    acked: Arc<Mutex<Vec<String>>>,
) {
    let mut rc = RotatingClient::new(addrs, id, Duration::from_secs(5));
    let mut n = 0;
    let mut retrying = false;
    while !stop.load(Ordering::Relaxed) {
        let Some(cl) = rc.get() else {
            continue;
        };
        let p = format!("/t72/w{id}-{n}");
        match cl.create(&p, None, &open_acl(), 0) {
            Ok(Ok(_)) => {}
            // The attempt before the connection loss took effect.
            Ok(Err(NODE_EXISTS)) if retrying => {}
            Ok(Err(code)) => {
                failures.lock().unwrap().push(format!("{p}: error {code}"));
            }
            Err(_) => {
                retrying = true;
                rc.failed();
                continue;
            }
        }
        retrying = false;
        acked.lock().unwrap().push(p);
        done.fetch_add(1, Ordering::Relaxed);
        n += 1;
    }
}

#[test]
fn t72_rolling_restart_under_load_only_costs_retries() {
    let mut e = Ensemble::start(ServerKind::from_env(), 3, opts()).expect("ensemble");
    client(&e.nodes[0])
        .create("/t72", None, &open_acl(), 0)
        .unwrap()
        .unwrap();
    let addrs: Vec<_> = e.nodes.iter().map(|n| n.addr()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|id| {
            let (a, s, d, f, k) = (
                addrs.clone(),
                stop.clone(),
                done.clone(),
                failures.clone(),
                acked.clone(),
            );
            std::thread::spawn(move || retrying_writer(a, id, s, d, f, k))
        })
        .collect();
    let progress = |n: usize| {
        let target = done.load(Ordering::Relaxed) + n;
        wait_until(Duration::from_secs(30), "writes to complete", || {
            (done.load(Ordering::Relaxed) >= target).then_some(())
        })
        .unwrap();
    };
    progress(100);
    for i in 0..3 {
        e.nodes[i].stop().unwrap();
        progress(50);
        e.start_again(i).unwrap();
        e.wait_serving(Duration::from_secs(30)).unwrap();
        progress(50);
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "errors other than connection loss: {failures:?}"
    );
    let acked = acked.lock().unwrap();
    for n in &e.nodes {
        let t = user_tree(&mut client(n));
        let missing: Vec<&String> = acked.iter().filter(|p| !t.contains_key(*p)).collect();
        assert!(
            missing.is_empty(),
            "{} acknowledged creates missing on {}: {missing:?}",
            missing.len(),
            n.addr()
        );
    }
    eprintln!(
        "{} acknowledged creates across a rolling restart",
        acked.len()
    );
}

#[test]
fn t60_a_member_with_another_history_never_answers_differently() {
    let kind = ServerKind::from_env();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (dir(&tmp, "a"), dir(&tmp, "b"));
    // Member 1 was the real standalone server; member 2's directory was never wiped and
    // holds a shorter, different history with the same zxids.
    standalone_history(kind, &a, &["/a", "/b", "/c", "/d", "/e", "/f"]);
    standalone_history(kind, &b, &["/x", "/y"]);
    let e = Ensemble::start_with(
        kind,
        opts(),
        pick_ports(3).unwrap(),
        vec![Some(a.clone()), Some(b.clone()), None],
    )
    .expect("ensemble");
    assert_eq!(e.mode(0), Mode::Leader, "the longest history leads");
    let mut c2 = client(&e.nodes[1]);
    let create = c2.create("/a", None, &open_acl(), 0).unwrap();
    let get = c2.get_data("/a", false).unwrap().map(|_| ());
    let trees: Vec<Tree> = e.nodes.iter().map(|n| user_tree(&mut client(n))).collect();
    let trap = create == Err(NODE_EXISTS) && get == Err(NO_NODE);
    let same = trees[0] == trees[1] && trees[1] == trees[2];
    eprintln!(
        "{kind}: member 2 create(/a) -> {create:?}, get(/a) -> {get:?}; trees identical: {same}"
    );
    match kind {
        ServerKind::Apache => {
            // The oracle shows the trap; nothing to assert about its answers.
            eprintln!("Apache ZooKeeper: trap reproduced: {}", trap || !same);
        }
        ServerKind::Zkraft => {
            assert!(
                !trap,
                "member 2 says NodeExists to create and NoNode to get"
            );
            assert!(same, "members differ:\n{:#?}", trees);
            assert!(
                !trees[1].contains_key("/x"),
                "member 2 still serves its own history"
            );
            let log = std::fs::read_to_string(e.nodes[1].log_path()).unwrap_or_default();
            assert!(
                log.contains("refusing our local data"),
                "no log line names the divergence:\n{}",
                e.nodes[1].log_tail(30)
            );
            // The refused history is kept for the operator.
            let kept = std::fs::read_dir(&b)
                .unwrap()
                .filter_map(|d| d.ok())
                .any(|d| {
                    d.file_name()
                        .to_string_lossy()
                        .starts_with("version-2.diverged-")
                });
            assert!(kept, "the old data directory was not kept");
        }
    }
}

#[test]
fn t80_zkraft_and_apache_members_in_one_ensemble() {
    if !ServerKind::Apache.is_available() {
        eprintln!("Apache ZooKeeper is not installed here; skipping");
        return;
    }
    let kinds = [ServerKind::Zkraft, ServerKind::Zkraft, ServerKind::Apache];
    let mut e = Ensemble::start_mixed(&kinds, opts(), pick_ports(3).unwrap(), vec![None; 3])
        .expect("mixed ensemble");
    let all_write = |e: &Ensemble, tag: &str| {
        for (i, n) in e.nodes.iter().enumerate() {
            if n.pid().is_none() {
                continue;
            }
            let p = format!("/t80-{tag}-{i}");
            client(n)
                .create(&p, Some(tag.as_bytes()), &open_acl(), 0)
                .unwrap()
                .unwrap();
        }
    };
    let same = |e: &Ensemble| {
        let trees: Vec<Tree> = e
            .nodes
            .iter()
            .filter(|n| n.pid().is_some())
            .map(|n| user_tree(&mut client(n)))
            .collect();
        assert!(
            trees.windows(2).all(|w| w[0] == w[1]),
            "members differ: {trees:#?}"
        );
        trees[0].len()
    };
    all_write(&e, "a");
    assert_eq!(same(&e), 4); // "/" and three nodes
                             // Whoever leads (Apache's sid 3 wins a tie), kill it; the other kind takes over.
    let first = e.leader().unwrap();
    e.kill9(first).unwrap();
    let second = e.wait_serving(Duration::from_secs(30)).unwrap();
    eprintln!(
        "leader {} ({}) killed, {} ({}) leads",
        first + 1,
        kinds[first],
        second + 1,
        kinds[second]
    );
    all_write(&e, "b");
    e.start_again(first).unwrap();
    e.wait_serving(Duration::from_secs(30)).unwrap();
    all_write(&e, "c");
    assert_eq!(same(&e), 1 + 3 + 2 + 3);
}

#[test]
fn t61_a_member_with_another_history_of_the_same_length_is_caught_before_serving() {
    let kind = ServerKind::from_env();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (dir(&tmp, "a"), dir(&tmp, "b"));
    // Same number of txns, so the same last zxid: the DIFF has nothing to apply and the
    // per-txn digest check sees nothing; only the DIFF's own check can tell.
    standalone_history(kind, &a, &["/a", "/b"]);
    standalone_history(kind, &b, &["/x", "/y"]);
    let e = Ensemble::start_with(
        kind,
        opts(),
        pick_ports(3).unwrap(),
        vec![Some(a.clone()), Some(b.clone()), None],
    )
    .expect("ensemble");
    let trees: Vec<Tree> = e.nodes.iter().map(|n| user_tree(&mut client(n))).collect();
    let same = trees[0] == trees[1] && trees[1] == trees[2];
    eprintln!("{kind}: trees identical: {same}");
    if kind == ServerKind::Zkraft {
        assert!(same, "members differ:\n{:#?}", trees);
        let refused = e.nodes.iter().any(|n| {
            std::fs::read_to_string(n.log_path())
                .unwrap_or_default()
                .contains("refusing our local data")
        });
        assert!(refused, "no member logged the divergence");
    }
}
