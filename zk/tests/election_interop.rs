//! t50: zkraft's election endpoint votes together with Apache ZooKeeper 3.8 servers.
//!
//! Two Apache servers (Debian package, `QuorumPeerMain`) and one zkraft election endpoint
//! (`QuorumCnxManager` + `Election`) form a three-server ensemble on 127.0.0.1. Only the
//! election port is real on our side; on the quorum port we just accept connections and
//! read the first packet, which shows who the Apache servers decided to follow.
//!
//! Skipped (with a message) when the Apache jar or `java` is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use zk::quorum::cnxmanager::{CnxConfig, DriverEvent, ElectionDriver, QuorumCnxManager};
use zk::quorum::election::{Election, ServerState, Vote};
use zk::quorum::election_wire::{
    LearnerType, Notification, QuorumConfig, QuorumServer, ServerAddr,
};

const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
const SLF4J_SIMPLE_JAR: &str = "/usr/share/java/slf4j-simple.jar";

fn apache_available() -> bool {
    (Path::new(ZOOKEEPER_JAR).exists() || std::env::var_os("ZK_APACHE_CLASSPATH").is_some())
        && Command::new(java())
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

fn java() -> PathBuf {
    std::env::var_os("ZK_JAVA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("java"))
}

fn classpath() -> String {
    if let Ok(cp) = std::env::var("ZK_APACHE_CLASSPATH") {
        return cp;
    }
    let mut cp = ZOOKEEPER_JAR.to_string();
    if Path::new(SLF4J_SIMPLE_JAR).exists() {
        cp.push(':');
        cp.push_str(SLF4J_SIMPLE_JAR);
    }
    if Path::new("/usr/share/zookeeper/lib").exists() {
        cp.push_str(":/usr/share/zookeeper/lib/*");
    }
    cp
}

/// Free loopback ports (bound and released; a tiny race with other processes is accepted).
fn free_ports(n: usize) -> Vec<u16> {
    let ls: Vec<StdListener> = (0..n)
        .map(|_| StdListener::bind("127.0.0.1:0").unwrap())
        .collect();
    ls.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

/// Three servers' ports: client, quorum, election.
struct Ensemble {
    dir: tempfile::TempDir,
    client: [u16; 3],
    quorum: [u16; 3],
    election: [u16; 3],
}

impl Ensemble {
    fn new() -> Ensemble {
        let p = free_ports(9);
        Ensemble {
            dir: tempfile::tempdir().unwrap(),
            client: [p[0], p[1], p[2]],
            quorum: [p[3], p[4], p[5]],
            election: [p[6], p[7], p[8]],
        }
    }

    fn ix(id: u64) -> usize {
        id as usize - 1
    }

    fn election_addr(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.election[Self::ix(id)])
    }

    fn quorum_addr(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.quorum[Self::ix(id)])
    }

    /// The config as Apache's `QuorumMaj.toString` renders a static zoo.cfg.
    fn quorum_config(&self) -> QuorumConfig {
        let mut c = QuorumConfig::default();
        for id in 1..=3u64 {
            c.servers.insert(
                id,
                QuorumServer {
                    id,
                    addrs: vec![ServerAddr {
                        host: "127.0.0.1".into(),
                        quorum_port: self.quorum[Self::ix(id)],
                        election_port: self.election[Self::ix(id)],
                    }],
                    learner_type: LearnerType::Participant,
                    client: None,
                },
            );
        }
        c
    }

    fn start_apache(&self, id: u64) -> Apache {
        let data = self.dir.path().join(format!("s{id}"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("myid"), format!("{id}\n")).unwrap();
        let mut cfg = format!(
            "tickTime=500\ninitLimit=20\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
             clientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
            data.display(),
            self.client[Self::ix(id)]
        );
        for s in 1..=3u64 {
            cfg.push_str(&format!(
                "server.{s}=127.0.0.1:{}:{}\n",
                self.quorum[Self::ix(s)],
                self.election[Self::ix(s)]
            ));
        }
        let cfg_path = data.join("zoo.cfg");
        std::fs::write(&cfg_path, cfg).unwrap();
        let log = std::fs::File::create(data.join("server.log")).unwrap();
        let child = Command::new(java())
            .args([
                "-Xms32m",
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Djava.net.preferIPv4Stack=true",
                "-Dzookeeper.admin.enableServer=false",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                "-cp",
                &classpath(),
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            ])
            .arg(&cfg_path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start java");
        Apache {
            child,
            log: data.join("server.log"),
        }
    }
}

/// A running Apache server; killed on drop.
struct Apache {
    child: Child,
    log: PathBuf,
}

impl Apache {
    fn log_tail(&self) -> String {
        // The election and state-change lines are the useful part.
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s
            .lines()
            .filter(|l| {
                [
                    "FastLeaderElection",
                    "Peer state changed",
                    "QuorumCnxManager",
                    "Exception",
                    "LEADING",
                    "FOLLOWING",
                ]
                .iter()
                .any(|k| l.contains(k))
            })
            .collect();
        lines[lines.len().saturating_sub(200)..].join("\n")
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our election endpoint for server `id`.
async fn zkraft_node(ens: &Ensemble, id: u64, zxid: i64, epoch: i64) -> ElectionDriver {
    let peers: BTreeMap<u64, String> = (1..=3u64)
        .filter(|p| *p != id)
        .map(|p| (p, ens.election_addr(p)))
        .collect();
    let listen: SocketAddr = ens.election_addr(id).parse().unwrap();
    let (cnx, recv) = QuorumCnxManager::start(CnxConfig::new(id, listen, peers))
        .await
        .unwrap();
    let voters: BTreeSet<u64> = (1..=3).collect();
    let election = Election::new(id, voters, zxid, epoch);
    ElectionDriver::new(election, cnx, recv, ens.quorum_config().to_text())
}

/// Steps the driver until it decides (or `limit` passes), collecting what it received.
async fn run_until_decided(
    d: &mut ElectionDriver,
    seen: &mut Vec<(u64, Notification)>,
    limit: Duration,
) -> Option<(ServerState, Vote)> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut decided = d.start();
    while decided.is_none() {
        let step = tokio::time::timeout_at(deadline, d.step()).await.ok()?;
        for ev in step {
            match ev {
                DriverEvent::Received(from, n) => seen.push((from, n)),
                DriverEvent::Decided(s, v) => decided = Some((s, v)),
                DriverEvent::Malformed(from, e) => panic!("undecodable frame from {from}: {e}"),
                _ => {}
            }
        }
    }
    decided
}

/// Keeps answering notifications for `dur` (a decided server must answer LOOKING peers).
async fn keep_answering(
    d: &mut ElectionDriver,
    seen: &mut Vec<(u64, Notification)>,
    dur: Duration,
) {
    let _ = tokio::time::timeout(dur, async {
        loop {
            for ev in d.step().await {
                if let DriverEvent::Received(from, n) = ev {
                    seen.push((from, n));
                }
            }
        }
    })
    .await;
}

/// Accepts a learner connection and reads its first QuorumPacket (`int type; long zxid;
/// buffer data`). The socket is returned so the caller keeps it open: closing it would
/// reset the learner's connection and send it back to LOOKING.
async fn first_quorum_packet(l: &TcpListener) -> (i32, i64, Vec<u8>, tokio::net::TcpStream) {
    let (mut s, _) = l.accept().await.unwrap();
    let ty = s.read_i32().await.unwrap();
    let zxid = s.read_i64().await.unwrap();
    let len = s.read_i32().await.unwrap();
    assert!((0..4096).contains(&len), "data length {len}");
    let mut data = vec![0; len as usize];
    s.read_exact(&mut data).await.unwrap();
    (ty, zxid, data, s)
}

fn check_apache_notifications(ens: &Ensemble, seen: &[(u64, Notification)]) {
    assert!(!seen.is_empty(), "no notification from the Apache servers");
    let want = ens.quorum_config();
    for (from, n) in seen {
        assert!(
            *from == 2 || *from == 3 || *from == 1,
            "unexpected sid {from}"
        );
        assert_eq!(n.version, 2, "3.8 writes format version 2");
        let text = String::from_utf8(n.config.clone().expect("config bytes")).unwrap();
        // Byte for byte what we send, and it parses back to the same ensemble.
        assert_eq!(text, want.to_text());
        assert_eq!(QuorumConfig::parse(&text).unwrap(), want);
    }
}

/// We are server 1 (the smallest sid, so the Apache servers' connections are the ones
/// kept) with the best log: epoch 1, zxid 0x100000005 against their empty logs. Both Apache
/// servers adopt our vote and follow us: each connects to our quorum port and sends
/// FOLLOWERINFO. That proves they decoded our initial message and notifications, and that
/// our decision (LEADING) agrees with theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t50_apache_peers_follow_zkraft_with_the_best_log() {
    if !apache_available() {
        eprintln!("skipping: Apache ZooKeeper 3.8 or java not available");
        return;
    }
    let ens = Ensemble::new();
    let quorum = TcpListener::bind(ens.quorum_addr(1)).await.unwrap();
    let mut us = zkraft_node(&ens, 1, 0x1_0000_0005, 1).await;
    let a2 = ens.start_apache(2);
    let a3 = ens.start_apache(3);

    let mut seen = Vec::new();
    let decided = run_until_decided(&mut us, &mut seen, Duration::from_secs(90)).await;
    let Some((state, vote)) = decided else {
        panic!(
            "no decision\n--- 2\n{}\n--- 3\n{}",
            a2.log_tail(),
            a3.log_tail()
        );
    };
    assert_eq!(state, ServerState::Leading);
    assert_eq!(
        (vote.leader, vote.zxid, vote.peer_epoch),
        (1, 0x1_0000_0005, 1)
    );

    // Both followers register with us; keep answering election traffic meanwhile. (A
    // follower that waited initLimit for our LEADERINFO in vain looks again, rejoins us
    // and registers again.)
    let mut open = Vec::new();
    let followers = async {
        let mut sids = BTreeSet::new();
        while sids.len() < 2 {
            let (ty, zxid, data, sock) = first_quorum_packet(&quorum).await;
            open.push(sock);
            assert_eq!(ty, 11, "FOLLOWERINFO");
            assert_eq!(zxid, 0, "acceptedEpoch 0 << 32");
            assert_eq!(data.len(), 20, "LearnerInfo");
            sids.insert(i64::from_be_bytes(data[..8].try_into().unwrap()));
            assert_eq!(i32::from_be_bytes(data[8..12].try_into().unwrap()), 0x10000);
        }
        sids
    };
    let answer = keep_answering(&mut us, &mut seen, Duration::from_secs(60));
    let sids = tokio::select! {
        s = followers => s,
        _ = answer => panic!("no FOLLOWERINFO\n--- 2\n{}\n--- 3\n{}", a2.log_tail(), a3.log_tail()),
    };
    assert_eq!(sids, BTreeSet::from([2, 3]));

    check_apache_notifications(&ens, &seen);
    // They adopted our vote: some LOOKING notification from each proposes us.
    for sid in [2, 3] {
        assert!(
            seen.iter().any(|(f, n)| *f == sid
                && n.state == ServerState::Looking
                && n.leader == 1
                && n.zxid == 0x1_0000_0005
                && n.peer_epoch == 1),
            "server {sid} never proposed us: {seen:?}"
        );
    }
    us.cnx.halt();
}

/// Apache servers 1 and 2 elect 2 while we (3) are down. We then start with the largest
/// sid and the best log, yet must join their established leader from their FOLLOWING and
/// LEADING answers to our LOOKING notifications. As the larger sid, we dial and our
/// connections are the ones kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t50_zkraft_joins_an_established_apache_leader() {
    if !apache_available() {
        eprintln!("skipping: Apache ZooKeeper 3.8 or java not available");
        return;
    }
    let ens = Ensemble::new();
    let a1 = ens.start_apache(1);
    let a2 = ens.start_apache(2);
    // Wait until 2 leads with 1 following: 2 answers `srvr` with "Mode: leader".
    let mut led = false;
    for _ in 0..120 {
        if srvr_mode(ens.client[1]).await.as_deref() == Some("leader")
            && srvr_mode(ens.client[0]).await.as_deref() == Some("follower")
        {
            led = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        led,
        "Apache servers did not elect\n--- 1\n{}\n--- 2\n{}",
        a1.log_tail(),
        a2.log_tail()
    );

    let mut us = zkraft_node(&ens, 3, 0x5_0000_0009, 5).await;
    let mut seen = Vec::new();
    let decided = run_until_decided(&mut us, &mut seen, Duration::from_secs(60)).await;
    let Some((state, vote)) = decided else {
        panic!(
            "no decision\n--- 1\n{}\n--- 2\n{}",
            a1.log_tail(),
            a2.log_tail()
        );
    };
    assert_eq!(state, ServerState::Following);
    assert_eq!(vote.leader, 2);
    check_apache_notifications(&ens, &seen);
    assert!(seen
        .iter()
        .any(|(f, n)| *f == 2 && n.state == ServerState::Leading));
    assert!(seen
        .iter()
        .any(|(f, n)| *f == 1 && n.state == ServerState::Following));
    // The ensemble did not change its mind.
    assert_eq!(srvr_mode(ens.client[1]).await.as_deref(), Some("leader"));
    us.cnx.halt();
}

/// The `Mode:` line of the `srvr` four-letter word, if the server answers.
async fn srvr_mode(port: u16) -> Option<String> {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(b"srvr").await.ok()?;
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(2), s.read_to_string(&mut out))
        .await
        .ok()?
        .ok()?;
    out.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(|m| m.trim().to_owned())
}
