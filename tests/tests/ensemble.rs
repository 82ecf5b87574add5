//! Ensembles of three zkraft servers as separate processes on loopback (`ZK_IMPL=apache`
//! runs the same tests against Apache ZooKeeper 3.8): election, reads and writes through
//! every member, sessions moving between members, and leader failure under load with an
//! acknowledged-write check on every member's tree.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tests::ackcheck::{check_recovery, AckLog, Tree};
use tests::ensemble::{Ensemble, Mode, RotatingClient};
use tests::linearizability::{check, Call, Limits, Op, Register};
use tests::rawclient::{open_acl, RawClient};
use tests::{wait_until, ServerKind, ServerOptions};

const NO_NODE: i32 = -101;
const NODE_EXISTS: i32 = -110;

fn opts() -> ServerOptions {
    ServerOptions::new()
        .tick_time(200)
        .four_lw(&["srvr", "mntr", "stat", "ruok"])
}

fn start3() -> Ensemble {
    Ensemble::start(ServerKind::from_env(), 3, opts()).expect("ensemble")
}

fn addr(e: &Ensemble, i: usize) -> SocketAddr {
    e.nodes[i].addr()
}

fn client(e: &Ensemble, i: usize) -> RawClient {
    RawClient::connect(addr(e, i), 10_000).expect("connect")
}

/// `path -> (data, version)` of everything under `root`, read after a `sync` so that the
/// member has applied every write committed before.
fn read_tree(c: &mut RawClient, root: &str) -> Tree {
    c.sync(root).expect("sync").expect("sync ok");
    let mut out = Tree::new();
    let mut todo = vec![root.to_string()];
    while let Some(p) = todo.pop() {
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

fn mntr(e: &Ensemble, i: usize) -> BTreeMap<String, String> {
    e.nodes[i]
        .four_letter_word("mntr")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn t10_three_members_elect_one_leader_and_serve_everywhere() {
    let e = start3();
    let leader = e.leader().expect("one leader");
    let modes = e.modes();
    assert_eq!(
        modes.iter().filter(|m| **m == Mode::Follower).count(),
        2,
        "{modes:?}"
    );
    let m = mntr(&e, leader);
    assert_eq!(m.get("zk_server_state").map(String::as_str), Some("leader"));
    assert_eq!(
        m.get("zk_synced_followers").map(String::as_str),
        Some("2"),
        "{m:?}"
    );
    assert_eq!(m.get("zk_pending_syncs").map(String::as_str), Some("0"));
    let follower = (0..3).find(|&i| i != leader).unwrap();
    assert_eq!(
        mntr(&e, follower)
            .get("zk_server_state")
            .map(String::as_str),
        Some("follower")
    );

    // Writes through every member, each seen by every other member.
    let mut cs: Vec<RawClient> = (0..3).map(|i| client(&e, i)).collect();
    cs[0]
        .create("/t10", Some(b"root"), &open_acl(), 0)
        .unwrap()
        .unwrap();
    for i in 0..3 {
        let p = format!("/t10/from{i}");
        assert_eq!(
            cs[i].create(&p, Some(b"v0"), &open_acl(), 0).unwrap(),
            Ok(p.clone())
        );
        let st = cs[i]
            .set_data(&p, Some(format!("v{i}").as_bytes()), 0)
            .unwrap()
            .unwrap();
        assert_eq!(st.version, 1);
        // A client reads its own write at once, wherever it is connected.
        let d = cs[i].get_data(&p, false).unwrap().unwrap();
        assert_eq!(d.data.as_deref(), Some(format!("v{i}").as_bytes()));
    }
    // The same create through another member fails as it does on one server.
    assert_eq!(
        cs[1]
            .create("/t10/from0", Some(b"x"), &open_acl(), 0)
            .unwrap(),
        Err(NODE_EXISTS)
    );
    let trees: Vec<Tree> = cs.iter_mut().map(|c| read_tree(c, "/t10")).collect();
    assert_eq!(trees[0].len(), 4, "{:?}", trees[0]);
    assert_eq!(trees[0], trees[1]);
    assert_eq!(trees[0], trees[2]);

    // A watch set on one member fires for a write through another.
    cs[2].exists("/t10/w", true).unwrap().unwrap_err();
    cs[1]
        .create("/t10/w", None, &open_acl(), 0)
        .unwrap()
        .unwrap();
    let n = cs[2]
        .wait_notifications(1, Duration::from_secs(10))
        .unwrap();
    assert_eq!(n[0].event.path, "/t10/w");

    // Ephemerals of a session on one member vanish everywhere when it closes.
    cs[0]
        .create("/t10/eph", None, &open_acl(), 1)
        .unwrap()
        .unwrap();
    assert!(cs[2].sync("/t10").unwrap().is_ok());
    assert!(cs[2].exists("/t10/eph", false).unwrap().is_ok());
    cs[0].close_session().unwrap();
    wait_until(Duration::from_secs(10), "the ephemeral to vanish", || {
        cs[2].sync("/t10").unwrap().unwrap();
        (cs[2].exists("/t10/eph", false).unwrap() == Err(NO_NODE)).then_some(())
    })
    .unwrap();
}

#[test]
fn t20_a_session_moves_between_members_with_its_ephemerals() {
    let e = start3();
    let mut a = client(&e, 0);
    a.create("/t20", None, &open_acl(), 0).unwrap().unwrap();
    a.create("/t20/eph", Some(b"mine"), &open_acl(), 1)
        .unwrap()
        .unwrap();
    let (sid, passwd, timeout, zxid) = (a.session_id, a.passwd.clone(), a.timeout_ms, a.last_zxid);
    a.drop_connection();
    // The same session, resumed on another member.
    let p = tests::rawclient::ConnectParams::resume(sid, &passwd, timeout, zxid);
    let mut b = RawClient::connect_with(addr(&e, 1), &p).unwrap();
    assert_eq!(
        b.session_id, sid,
        "session refused: {:?}",
        b.connect_response
    );
    let st = b.exists("/t20/eph", false).unwrap().unwrap();
    assert_eq!(st.ephemeral_owner, sid);
    // It writes through its new member, and its close removes the ephemeral everywhere.
    b.set_data("/t20/eph", Some(b"moved"), -1).unwrap().unwrap();
    b.close_session().unwrap();
    let mut c = client(&e, 2);
    wait_until(Duration::from_secs(10), "the ephemeral to vanish", || {
        c.sync("/t20").unwrap().unwrap();
        (c.exists("/t20/eph", false).unwrap() == Err(NO_NODE)).then_some(())
    })
    .unwrap();
    // A wrong password is refused by every member.
    let bad = tests::rawclient::ConnectParams::resume(sid, &[1; 16], timeout, 0);
    let r = RawClient::connect_with(addr(&e, 2), &bad).unwrap();
    assert_eq!(r.connect_response.session_id, 0);
}

/// One writer: its own paths, through one member at a time, moving on when that member
/// fails. Records every write's outcome.
fn writer(e_addrs: Vec<SocketAddr>, id: usize, stop: Arc<AtomicBool>, log: Arc<Mutex<AckLog>>) {
    let mut rc = RotatingClient::new(e_addrs, id, Duration::from_secs(5));
    let mut n: usize = 0;
    let base = format!("/t30/w{id}");
    let mut created_base = false;
    while !stop.load(Ordering::Relaxed) {
        let Some(cl) = rc.get() else {
            continue;
        };
        if !created_base {
            match cl.create(&base, Some(b""), &open_acl(), 0) {
                Ok(Ok(_)) | Ok(Err(NODE_EXISTS)) => {
                    log.lock().unwrap().maybe_create(base.clone(), "");
                    created_base = true;
                }
                _ => rc.failed(),
            }
            continue;
        }
        let p = format!("{base}/n{n}");
        let data = format!("w{id}-{n}");
        match cl.create(&p, Some(data.as_bytes()), &open_acl(), 0) {
            Ok(Ok(_)) => {
                log.lock().unwrap().ack_create(p, data);
                n += 1;
            }
            Ok(Err(NODE_EXISTS)) => {
                // An earlier indeterminate create of this path took effect.
                n += 1;
            }
            Ok(Err(code)) => panic!("create {p}: error {code}"),
            Err(_) => {
                log.lock().unwrap().maybe_create(p, data);
                rc.failed();
            }
        }
    }
}

#[test]
fn t30_kill9_leader_under_writers_loses_no_acknowledged_write() {
    let mut e = start3();
    let addrs: Vec<SocketAddr> = (0..3).map(|i| addr(&e, i)).collect();
    let mut c = client(&e, 0);
    c.create("/t30", None, &open_acl(), 0).unwrap().unwrap();
    drop(c);
    let log = Arc::new(Mutex::new(AckLog::new()));
    log.lock().unwrap().ack_create("/t30", "");
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..4)
        .map(|id| {
            let (a, s, l) = (addrs.clone(), stop.clone(), log.clone());
            std::thread::spawn(move || writer(a, id, s, l))
        })
        .collect();
    let acked = || {
        log.lock()
            .unwrap()
            .events()
            .iter()
            .filter(|e| e.acked)
            .count()
    };
    wait_until(Duration::from_secs(20), "writes before the kill", || {
        (acked() > 200).then_some(())
    })
    .unwrap();
    // Failover: from the kill to the first write issued after it that is acknowledged.
    let before = acked();
    let mut probe = 0usize;
    let live: Vec<SocketAddr> = addrs.clone();
    let probe_log = log.clone();
    let (old, failover) = e
        .kill_leader_and_time(Duration::from_secs(30), || {
            probe += 1;
            let a = live[probe % live.len()];
            let Ok(mut c) = RawClient::connect(a, 10_000) else {
                return false;
            };
            c.request_timeout = Duration::from_secs(2);
            let p = format!("/t30/probe{probe}");
            match c.create(&p, None, &open_acl(), 0) {
                Ok(Ok(_)) => {
                    probe_log.lock().unwrap().ack_create(p, "");
                    true
                }
                _ => {
                    probe_log.lock().unwrap().maybe_create(p, "");
                    false
                }
            }
        })
        .unwrap();
    eprintln!("failover: first acknowledged write {failover:?} after the leader was killed");
    assert!(
        failover < Duration::from_secs(10),
        "failover took {failover:?}"
    );
    wait_until(
        Duration::from_secs(20),
        "writes with the new leader",
        || (acked() > before + 200).then_some(()),
    )
    .unwrap();
    // The old leader comes back as a follower and catches up.
    e.start_again(old).unwrap();
    wait_until(Duration::from_secs(20), "more writes", || {
        (acked() > before + 400).then_some(())
    })
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    e.wait_serving(Duration::from_secs(30)).unwrap();
    let trees: Vec<Tree> = (0..3)
        .map(|i| read_tree(&mut client(&e, i), "/t30"))
        .collect();
    let names = ["member1", "member2", "member3"];
    let refs: Vec<(&str, &Tree)> = names.iter().copied().zip(trees.iter()).collect();
    let log = log.lock().unwrap();
    if let Err(r) = check_recovery(&log, &refs, Some("/t30")) {
        panic!("acknowledged writes lost or members diverged:\n{r}");
    }
    eprintln!(
        "{} acknowledged writes checked on 3 members",
        log.events().iter().filter(|e| e.acked).count()
    );
}

#[test]
fn t40_a_member_alone_does_not_serve_and_a_majority_does() {
    let mut e = start3();
    let leader = e.leader().unwrap();
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    // Two members down: the last one cannot form a quorum and stops serving.
    e.kill9(others[0]).unwrap();
    e.kill9(others[1]).unwrap();
    wait_until(
        Duration::from_secs(20),
        "the lone member to stop serving",
        || (e.mode(leader) == Mode::Down).then_some(()),
    )
    .unwrap();
    let refused = match RawClient::connect(addr(&e, leader), 5000) {
        Err(_) => true,
        Ok(mut c) => matches!(c.get_data("/", false), Err(_)) || c.is_closed(),
    };
    assert!(refused, "a member without a quorum served a client");
    // One back: a majority again.
    e.start_again(others[0]).unwrap();
    let mut serving = vec![leader, others[0]];
    serving.sort();
    wait_until(Duration::from_secs(30), "a majority to serve", || {
        serving
            .iter()
            .all(|&i| e.mode(i) != Mode::Down)
            .then_some(())
    })
    .unwrap();
    let mut c = client(&e, others[0]);
    c.create("/t40", None, &open_acl(), 0).unwrap().unwrap();
}

/// One client process of the CAS-register workload: random reads (sync + getData, the
/// linearizable read ZooKeeper offers), version CAS and blind writes on a few keys, through
/// one member at a time, moving to the next member when its connection fails.
fn cas_client(
    addrs: Vec<SocketAddr>,
    process: u64,
    t0: Instant,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
) -> Vec<Op<String, String>> {
    let now = || t0.elapsed().as_micros() as u64;
    let mut rng = process.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut rc = RotatingClient::new(addrs, process as usize, Duration::from_secs(3));
    let mut history = Vec::new();
    let mut last_version: BTreeMap<String, i32> = BTreeMap::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Some(cl) = rc.get() else {
            continue;
        };
        let key = format!("/t50/k{}", next() % 3);
        n += 1;
        let value = format!("p{process}-{n}");
        let invoke = now();
        let failed = match next() % 3 {
            0 => match cl.sync(&key).and_then(|_| cl.get_data(&key, false)) {
                Ok(Ok(d)) => {
                    let v = String::from_utf8_lossy(&d.data.unwrap_or_default()).into_owned();
                    last_version.insert(key.clone(), d.stat.version);
                    history.push(Op::read(process, key, invoke, now(), v, d.stat.version));
                    false
                }
                Ok(Err(code)) => panic!("read {key}: error {code}"),
                Err(_) => true, // an unanswered read tells nothing
            },
            1 => {
                let expected = last_version.get(&key).copied().unwrap_or(0);
                match cl.set_data(&key, Some(value.as_bytes()), expected) {
                    Ok(Ok(st)) => {
                        last_version.insert(key.clone(), st.version);
                        history.push(Op::cas(process, key, invoke, now(), expected, value, true));
                        false
                    }
                    Ok(Err(-103)) => {
                        history.push(Op::cas(process, key, invoke, now(), expected, value, false));
                        false
                    }
                    Ok(Err(code)) => panic!("cas {key}: error {code}"),
                    Err(_) => {
                        history.push(Op::indeterminate(
                            process,
                            key,
                            invoke,
                            Call::CasVersion {
                                expected,
                                new: value,
                            },
                        ));
                        true
                    }
                }
            }
            _ => match cl.set_data(&key, Some(value.as_bytes()), -1) {
                Ok(Ok(st)) => {
                    last_version.insert(key.clone(), st.version);
                    history.push(Op::write(process, key, invoke, now(), value, st.version));
                    false
                }
                Ok(Err(code)) => panic!("write {key}: error {code}"),
                Err(_) => {
                    history.push(Op::indeterminate(process, key, invoke, Call::Write(value)));
                    true
                }
            },
        };
        if failed {
            rc.failed();
        } else {
            done.fetch_add(1, Ordering::Relaxed);
        }
    }
    history
}

#[test]
fn t50_cas_register_through_every_member_across_leader_kills_is_linearizable() {
    let mut e = start3();
    let addrs: Vec<SocketAddr> = (0..3).map(|i| addr(&e, i)).collect();
    let mut c = client(&e, 0);
    c.create("/t50", None, &open_acl(), 0).unwrap().unwrap();
    for k in 0..3 {
        c.create(&format!("/t50/k{k}"), Some(b"init"), &open_acl(), 0)
            .unwrap()
            .unwrap();
    }
    drop(c);
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|p| {
            let (a, s, d) = (addrs.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || cas_client(a, p, t0, s, d))
        })
        .collect();
    // Some operations between every step: before a kill, with two members, after the restart.
    let progress = |n: usize| {
        let target = done.load(Ordering::Relaxed) + n;
        wait_until(Duration::from_secs(30), "operations to complete", || {
            (done.load(Ordering::Relaxed) >= target).then_some(())
        })
        .unwrap();
    };
    for round in 0..3 {
        progress(1000);
        let l = e
            .leader()
            .unwrap_or_else(|| panic!("round {round}: {:?}", e.modes()));
        e.kill9(l).unwrap();
        e.wait_serving(Duration::from_secs(30)).unwrap();
        progress(300);
        e.start_again(l).unwrap();
        e.wait_serving(Duration::from_secs(30)).unwrap();
    }
    progress(500);
    stop.store(true, Ordering::Relaxed);
    let history: Vec<Op<String, String>> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let definite = history.iter().filter(|o| o.complete.is_some()).count();
    assert!(definite > 300, "too few operations completed: {definite}");
    match check(
        &history,
        |_| Register::new("init".to_string(), 0),
        &Limits::default(),
    ) {
        Ok(stats) => eprintln!(
            "{} operations ({definite} definite) linearizable: {stats:?}",
            history.len()
        ),
        Err(e) => panic!("history of {} operations: {e}", history.len()),
    }
}

#[test]
fn t15_five_members_survive_two_failures() {
    let mut e = Ensemble::start(ServerKind::from_env(), 5, opts()).expect("ensemble");
    let leader = e.leader().unwrap();
    let mut c = client(&e, leader);
    c.create("/t15", Some(b"five"), &open_acl(), 0)
        .unwrap()
        .unwrap();
    // Two members down (the leader among them): three of five are still a majority.
    let other = (0..5).find(|&i| i != leader).unwrap();
    e.kill9(leader).unwrap();
    e.kill9(other).unwrap();
    e.wait_serving(Duration::from_secs(30)).unwrap();
    let live: Vec<usize> = (0..5).filter(|&i| i != leader && i != other).collect();
    let mut w = client(&e, live[0]);
    w.create("/t15/after", None, &open_acl(), 0)
        .unwrap()
        .unwrap();
    for &i in &live {
        let t = read_tree(&mut client(&e, i), "/t15");
        assert!(t.contains_key("/t15/after"), "member {}: {t:?}", i + 1);
    }
}

#[test]
fn t16_an_observer_serves_reads_and_forwards_writes_without_voting() {
    let mut ports = tests::ensemble::pick_ports(4).unwrap();
    ports[3].observer = true;
    let e = Ensemble::start_with(ServerKind::from_env(), opts(), ports, vec![None; 4])
        .expect("ensemble");
    assert_eq!(e.mode(3), Mode::Observer, "{:?}", e.modes());
    let mut o = client(&e, 3);
    o.create("/t16", Some(b"via observer"), &open_acl(), 0)
        .unwrap()
        .unwrap();
    let leader = e.leader().unwrap();
    let t = read_tree(&mut client(&e, leader), "/t16");
    assert_eq!(
        t.get("/t16").map(|(d, _)| d.as_slice()),
        Some(&b"via observer"[..])
    );
    let m = mntr(&e, leader);
    assert_eq!(m.get("zk_learners").map(String::as_str), Some("3"), "{m:?}");
    assert_eq!(
        m.get("zk_synced_followers").map(String::as_str),
        Some("2"),
        "{m:?}"
    );
}
