//! `broker::zkclient` against the real zkraft ZooKeeper server (`zk-server`, from
//! `ZK_SERVER_BIN`, `$CARGO_TARGET_DIR/release/zk-server` or `<workspace>/target/release/zk-server`), one server per test on an
//! ephemeral loopback port.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker::config::{EndPoint, InterBrokerProtocolVersion, ZkConnect};
use broker::zkclient::{ControllerElection, KafkaZkClient, NodeMode, SessionState, ZkError, ZkOp};
use broker::zkdata::{
    BrokerInfo, ClusterId, ConfigEntityType, Controller, EntityConfig, ProducerIdBlock,
    TopicAssignment, PERSISTENT_PATHS, TOPICS_PATH,
};

const DEADLINE: Duration = Duration::from_secs(20);
const SESSION_TIMEOUT: Duration = Duration::from_secs(6);

struct ZkServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl ZkServer {
    fn start() -> ZkServer {
        let bin = std::env::var_os("ZK_SERVER_BIN")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("CARGO_TARGET_DIR")
                    .map(|t| PathBuf::from(t).join("release/zk-server"))
                    .filter(|p| p.exists())
            })
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/zk-server")
            });
        assert!(
            bin.exists(),
            "{} not found: build it (cargo build --release -p zk --bin zk-server) or set ZK_SERVER_BIN",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write zoo.cfg");
        let log = std::fs::File::create(dir.path().join("zk.log")).expect("log file");
        let mut child = Command::new(&bin)
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn zk-server");
        let deadline = Instant::now() + DEADLINE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.path().join("zk.log")).unwrap_or_default();
                panic!("zk-server exited with {status}: {log}");
            }
            assert!(
                Instant::now() < deadline,
                "zk-server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        ZkServer {
            child,
            port,
            _dir: dir,
        }
    }

    fn connect_string(&self, chroot: &str) -> ZkConnect {
        ZkConnect::parse(&format!("127.0.0.1:{}{chroot}", self.port)).expect("connect string")
    }

    async fn client(&self, chroot: &str) -> KafkaZkClient {
        KafkaZkClient::connect(&self.connect_string(chroot), SESSION_TIMEOUT, DEADLINE)
            .await
            .expect("connect")
    }
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it holds or the deadline passes.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn recv<T>(rx: &mut tokio::sync::mpsc::Receiver<T>, what: &str) -> T {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|| panic!("watch closed while waiting for {what}"))
}

fn broker_info(id: i32, port: u16) -> BrokerInfo {
    BrokerInfo {
        id,
        endpoints: vec![EndPoint::parse(&format!("PLAINTEXT://127.0.0.1:{port}"), None).unwrap()],
        rack: None,
        jmx_port: -1,
        timestamp_ms: 1_600_000_000_000,
        features: BTreeMap::new(),
    }
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t10_persistent_paths_and_cluster_id() {
    let zk = ZkServer::start();
    let a = zk.client("").await;
    let b = zk.client("").await;
    a.create_top_level_paths().await.unwrap();
    b.create_top_level_paths().await.unwrap(); // idempotent, and racing is fine
    for p in PERSISTENT_PATHS {
        assert!(a.exists(p).await.unwrap().is_some(), "{p} missing");
    }
    assert_eq!(a.get_cluster_id().await.unwrap(), None);
    let first = "AAAAAAAAAAAAAAAAAAAAAQ";
    assert_eq!(a.create_or_get_cluster_id(first).await.unwrap(), first);
    assert_eq!(b.create_or_get_cluster_id("other").await.unwrap(), first);
    assert_eq!(b.get_or_generate_cluster_id().await.unwrap(), first);
    let (raw, _) = a.get_data(ClusterId::PATH).await.unwrap().unwrap();
    assert_eq!(json(&raw), serde_json::json!({"version": "1", "id": first}));

    // Broker id generation: the seqid node's version plus reserved.broker.max.id.
    let id1 = a.generate_broker_id(1000).await.unwrap();
    let id2 = b.generate_broker_id(1000).await.unwrap();
    assert_eq!((id1, id2), (1001, 1002));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t20_controller_race_and_fencing() {
    let zk = ZkServer::start();
    let c1 = zk.client("").await;
    let c2 = zk.client("").await;
    c1.create_top_level_paths().await.unwrap();
    let (r1, r2) = tokio::join!(
        c1.register_controller_and_increment_epoch(1),
        c2.register_controller_and_increment_epoch(2)
    );
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    let (winner, epoch_v, loser) = match (r1, r2) {
        (
            ControllerElection::Elected {
                epoch,
                epoch_zk_version,
            },
            ControllerElection::NotElected { controller_id },
        ) => {
            assert_eq!(epoch, 1);
            assert_eq!(controller_id, Some(1));
            (1, epoch_zk_version, &c2)
        }
        (
            ControllerElection::NotElected { controller_id },
            ControllerElection::Elected {
                epoch,
                epoch_zk_version,
            },
        ) => {
            assert_eq!(epoch, 1);
            assert_eq!(controller_id, Some(2));
            (2, epoch_zk_version, &c1)
        }
        other => panic!("exactly one must win: {other:?}"),
    };
    let winner_client = if winner == 1 { &c1 } else { &c2 };
    assert_eq!(c1.get_controller_id().await.unwrap(), Some(winner));
    assert_eq!(c1.get_controller_epoch().await.unwrap(), Some((1, epoch_v)));
    let (raw, stat) = c1.get_data(Controller::PATH).await.unwrap().unwrap();
    assert_eq!(json(&raw)["version"], 1);
    assert_eq!(stat.ephemeral_owner, winner_client.session_id());

    // Trying again while the winner lives changes nothing.
    assert_eq!(
        loser
            .register_controller_and_increment_epoch(9)
            .await
            .unwrap(),
        ControllerElection::NotElected {
            controller_id: Some(winner)
        }
    );

    // A write fenced with the epoch version from before the election fails.
    let op = |p: &str| ZkOp::Create {
        path: p.to_owned(),
        data: vec![],
        mode: NodeMode::Persistent,
    };
    let stale = epoch_v - 1;
    match loser.controller_multi(stale, &[op("/fenced-stale")]).await {
        Err(ZkError::ControllerMoved {
            expected_zk_version,
        }) => assert_eq!(expected_zk_version, stale),
        other => panic!("expected ControllerMoved, got {other:?}"),
    }
    assert!(c1.exists("/fenced-stale").await.unwrap().is_none());
    // The winner's fenced write succeeds; a failing op inside reports its own index.
    winner_client
        .controller_multi(epoch_v, &[op("/fenced-ok")])
        .await
        .unwrap();
    match winner_client
        .controller_multi(epoch_v, &[op("/fenced-ok2"), op("/fenced-ok")])
        .await
    {
        Err(e @ ZkError::OpFailed { index: 1, .. }) => assert!(e.is_node_exists()),
        other => panic!("expected op 1 to fail, got {other:?}"),
    }
    assert!(
        c1.exists("/fenced-ok2").await.unwrap().is_none(),
        "multi must be atomic"
    );

    // The winner goes away: the loser is elected with epoch 2 and the old fence is dead.
    let winner_client = if winner == 1 { c1 } else { c2 };
    let loser_id = 3 - winner;
    winner_client.close().await;
    let loser = zk.client("").await;
    let elected = loser
        .register_controller_and_increment_epoch(loser_id)
        .await
        .unwrap();
    let new_v = match elected {
        ControllerElection::Elected {
            epoch,
            epoch_zk_version,
        } => {
            assert_eq!(epoch, 2);
            assert_eq!(epoch_zk_version, epoch_v + 1);
            epoch_zk_version
        }
        other => panic!("expected election, got {other:?}"),
    };
    assert!(matches!(
        loser.controller_multi(epoch_v, &[op("/fenced-old")]).await,
        Err(ZkError::ControllerMoved { .. })
    ));
    loser
        .controller_multi(new_v, &[op("/fenced-new")])
        .await
        .unwrap();
    loser.delete_controller(new_v).await.unwrap();
    assert_eq!(loser.get_controller_id().await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t30_broker_registration() {
    let zk = ZkServer::start();
    let a = zk.client("").await;
    let b = zk.client("").await;
    a.create_top_level_paths().await.unwrap();
    let info = broker_info(1, 9092);
    let version = BrokerInfo::json_version(InterBrokerProtocolVersion::LATEST);
    let epoch = a.register_broker(&info, version).await.unwrap();
    assert!(epoch > 0);
    // Same session: the node is reused, same epoch.
    assert_eq!(a.register_broker(&info, version).await.unwrap(), epoch);
    // Another session cannot take it.
    match b.register_broker(&info, version).await {
        Err(ZkError::EphemeralOwnedByOtherSession { owner, session, .. }) => {
            assert_eq!(owner, a.session_id());
            assert_eq!(session, b.session_id());
        }
        other => panic!("expected ownership error, got {other:?}"),
    }
    let got = b.get_broker(1).await.unwrap().unwrap();
    assert_eq!(got.info, info);
    assert_eq!(got.epoch, epoch);
    let (raw, stat) = b.get_data(&BrokerInfo::path(1)).await.unwrap().unwrap();
    assert_eq!(stat.czxid, epoch);
    let j = json(&raw);
    assert_eq!(j["version"], 5);
    assert_eq!(
        j["endpoints"],
        serde_json::json!(["PLAINTEXT://127.0.0.1:9092"])
    );

    let epoch2 = b
        .register_broker(&broker_info(2, 9093), version)
        .await
        .unwrap();
    assert!(epoch2 > epoch);
    let all = a.get_all_brokers().await.unwrap();
    assert_eq!(
        all.iter().map(|r| (r.info.id, r.epoch)).collect::<Vec<_>>(),
        vec![(1, epoch), (2, epoch2)]
    );
    assert_eq!(a.get_sorted_broker_ids().await.unwrap(), vec![1, 2]);

    // After its session ends, the id can be registered again, with a new epoch.
    a.close().await;
    eventually("broker 1 to disappear", || async {
        b.get_broker(1).await.unwrap().is_none()
    })
    .await;
    let c = zk.client("").await;
    let epoch3 = c.register_broker(&info, version).await.unwrap();
    assert!(epoch3 > epoch2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t40_chroot() {
    let zk = ZkServer::start();
    let rooted = zk.client("/kafka/cluster-a").await; // creates the chroot
    rooted.create_top_level_paths().await.unwrap();
    rooted
        .create_or_get_cluster_id("AAAAAAAAAAAAAAAAAAAAAA")
        .await
        .unwrap();
    let plain = zk.client("").await;
    assert!(plain
        .exists("/kafka/cluster-a/brokers/ids")
        .await
        .unwrap()
        .is_some());
    assert!(plain
        .exists("/kafka/cluster-a/cluster/id")
        .await
        .unwrap()
        .is_some());
    assert!(plain.exists("/brokers").await.unwrap().is_none());
    let top = rooted.get_children("/").await.unwrap().unwrap();
    assert!(
        top.contains(&"brokers".to_string()) && top.contains(&"config".to_string()),
        "{top:?}"
    );
    // Sequential creates and multi-ops report chroot-relative paths.
    let n = rooted
        .create_config_change_notification("topics/t")
        .await
        .unwrap();
    assert!(n.starts_with("/config/changes/config_change_"), "{n}");
    // A second client on the same chroot sees the same data.
    let again = zk.client("/kafka/cluster-a").await;
    assert_eq!(
        again.get_cluster_id().await.unwrap().as_deref(),
        Some("AAAAAAAAAAAAAAAAAAAAAA")
    );
}

async fn take_blocks(c: &KafkaZkClient, broker: i32, n: usize) -> Vec<ProducerIdBlock> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(c.allocate_producer_id_block(broker).await.unwrap());
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t50_producer_id_blocks_never_overlap() {
    let zk = ZkServer::start();
    let a = zk.client("").await;
    let b = zk.client("").await;
    a.create_top_level_paths().await.unwrap();
    const PER_CLIENT: usize = 15;
    let (x, y) = tokio::join!(
        take_blocks(&a, 1, PER_CLIENT),
        take_blocks(&b, 2, PER_CLIENT)
    );
    let mut all: Vec<ProducerIdBlock> = x.into_iter().chain(y).collect();
    all.sort_by_key(|b| b.block_start);
    assert_eq!(all.len(), 2 * PER_CLIENT);
    assert_eq!(all[0].block_start, 0);
    for w in all.windows(2) {
        assert_eq!(w[1].block_start, w[0].block_end + 1, "{w:?}");
    }
    for blk in &all {
        assert_eq!(
            blk.block_end - blk.block_start + 1,
            ProducerIdBlock::BLOCK_SIZE
        );
    }
    let (raw, _) = a.get_data(ProducerIdBlock::PATH).await.unwrap().unwrap();
    assert_eq!(ProducerIdBlock::decode(&raw).unwrap(), *all.last().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t60_watches_and_topics() {
    let zk = ZkServer::start();
    let a = zk.client("").await;
    let b = zk.client("").await;
    a.create_top_level_paths().await.unwrap();
    let mut topics = a.watch_children(TOPICS_PATH);
    assert_eq!(recv(&mut topics, "initial topics").await, Some(vec![]));
    let mut cfg_watch = a.watch_data("/config/topics/t1");
    assert_eq!(recv(&mut cfg_watch, "absent config").await, None);

    let assignment = TopicAssignment::new(BTreeMap::from([(0, vec![1]), (1, vec![2])]));
    let config = EntityConfig {
        config: BTreeMap::from([("retention.ms".to_string(), "1000".to_string())]),
    };
    b.create_topic_with_assignment("t1", &config, &assignment, 2)
        .await
        .unwrap();
    assert_eq!(
        recv(&mut topics, "t1 in topics").await,
        Some(vec!["t1".to_string()])
    );
    let seen = recv(&mut cfg_watch, "config created")
        .await
        .expect("config node");
    assert_eq!(EntityConfig::decode(&seen.data).unwrap(), config);

    assert_eq!(
        b.get_topic_assignment("t1").await.unwrap().map(|(t, _)| t),
        Some(assignment.clone())
    );
    assert_eq!(
        b.get_entity_config(ConfigEntityType::Topics, "t1")
            .await
            .unwrap(),
        config
    );
    assert!(matches!(
        b.create_topic_with_assignment("t1", &config, &assignment, 2)
            .await,
        Err(ZkError::TopicExists(_))
    ));
    assert!(matches!(
        b.create_topic_with_assignment(
            "t_1",
            &config,
            &TopicAssignment::new(BTreeMap::from([(0, vec![1])])),
            2
        )
        .await,
        Ok(())
    ));
    assert!(matches!(
        b.create_topic_with_assignment("t.1", &config, &assignment, 2)
            .await,
        Err(ZkError::TopicCollision { .. })
    ));
    assert_eq!(
        recv(&mut topics, "t_1 in topics").await,
        Some(vec!["t1".to_string(), "t_1".to_string()])
    );

    // Config change through the notification path fires the data watch too.
    let changed = EntityConfig {
        config: BTreeMap::from([("retention.ms".to_string(), "5".to_string())]),
    };
    let note = b
        .change_entity_config(ConfigEntityType::Topics, "t1", &changed)
        .await
        .unwrap();
    let seen = recv(&mut cfg_watch, "config changed")
        .await
        .expect("config node");
    assert_eq!(EntityConfig::decode(&seen.data).unwrap(), changed);
    let notes = b.get_config_change_notifications().await.unwrap();
    assert_eq!(notes.len(), 1);
    assert!(note.ends_with(&notes[0]));
    let (n, _) = b
        .get_config_change_notification(&notes[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n.entity_path, "topics/t1");

    // Deletion flow: mark, then the controller's fenced cleanup.
    assert!(b.create_delete_topic_path("t1").await.unwrap());
    assert!(!b.create_delete_topic_path("t1").await.unwrap());
    assert_eq!(
        b.get_topic_deletions().await.unwrap(),
        vec!["t1".to_string()]
    );
    let epoch_v = match b.register_controller_and_increment_epoch(2).await.unwrap() {
        ControllerElection::Elected {
            epoch_zk_version, ..
        } => epoch_zk_version,
        other => panic!("{other:?}"),
    };
    let tp = broker::zkdata::TopicPartition::new("t1", 0);
    let state = broker::zkdata::PartitionState {
        leader: 1,
        leader_epoch: 0,
        isr: vec![1],
        controller_epoch: 1,
        leader_recovery_state: 0,
    };
    let created = b
        .create_partition_states(epoch_v, &[(tp.clone(), state.clone())])
        .await
        .unwrap();
    assert_eq!(created[0].1.as_ref().ok(), Some(&0));
    let bumped = broker::zkdata::PartitionState {
        leader_epoch: 1,
        ..state.clone()
    };
    let updated = b
        .update_partition_states(epoch_v, &[(tp.clone(), bumped.clone(), 0)])
        .await
        .unwrap();
    assert_eq!(updated[0].1.as_ref().ok(), Some(&1));
    let stale = b
        .update_partition_states(epoch_v, &[(tp.clone(), bumped.clone(), 0)])
        .await
        .unwrap();
    assert!(stale[0]
        .1
        .as_ref()
        .err()
        .is_some_and(|e| e.is_bad_version()));
    assert_eq!(
        b.get_partition_state("t1", 0).await.unwrap(),
        Some((bumped, 1))
    );
    b.delete_topic_znode("t1", epoch_v).await.unwrap();
    b.delete_topic_configs(&["t1".to_string()], epoch_v)
        .await
        .unwrap();
    b.delete_topic_deletions(&["t1".to_string()], epoch_v)
        .await
        .unwrap();
    assert_eq!(
        recv(&mut topics, "t1 gone").await,
        Some(vec!["t_1".to_string()])
    );
    assert_eq!(recv(&mut cfg_watch, "config deleted").await, None);
    assert!(b.get_topic_deletions().await.unwrap().is_empty());

    // ISR change notifications round trip.
    let n1 = a
        .create_isr_change_notification(std::slice::from_ref(&tp))
        .await
        .unwrap();
    let names = b.get_isr_change_notifications().await.unwrap();
    assert!(n1.ends_with(&names[0]));
    assert_eq!(
        b.get_partitions_from_isr_change_notifications(&names)
            .await
            .unwrap(),
        vec![tp]
    );
    b.delete_isr_change_notifications(&names, epoch_v)
        .await
        .unwrap();
    assert!(b.get_isr_change_notifications().await.unwrap().is_empty());

    // Dropping the client ends its watches.
    drop(a);
    let closed =
        tokio::time::timeout(DEADLINE, async { while topics.recv().await.is_some() {} }).await;
    assert!(closed.is_ok(), "watch channel must close with its client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t70_session_expiry_frees_controller() {
    let zk = ZkServer::start();
    let c1 = zk.client("").await;
    let c2 = zk.client("").await;
    let observer = zk.client("").await;
    c1.create_top_level_paths().await.unwrap();
    assert!(matches!(
        c1.register_controller_and_increment_epoch(1).await.unwrap(),
        ControllerElection::Elected { epoch: 1, .. }
    ));
    c1.register_broker(&broker_info(1, 9092), 5).await.unwrap();
    let mut controller = observer.watch_data(Controller::PATH);
    let first = recv(&mut controller, "controller node")
        .await
        .expect("controller exists");
    assert_eq!(Controller::decode(&first.data).unwrap().broker_id, 1);

    // Expire c1's session: take it over from another connection and close it there.
    let mut session = c1.session_watcher();
    assert_eq!(session.state(), SessionState::Connected);
    let thief = zookeeper_client::Client::connector()
        .with_session(c1.raw().session().clone())
        .connect(&format!("127.0.0.1:{}", zk.port))
        .await
        .expect("reattach session");
    drop(thief);
    let ended = tokio::time::timeout(DEADLINE, session.terminated())
        .await
        .expect("c1 must see its session end");
    assert_eq!(ended, SessionState::Expired);
    assert!(c1
        .get_controller_id()
        .await
        .err()
        .is_some_and(|e| e.is_session_terminated()));

    // Its ephemerals are gone: the watcher sees /controller deleted, c2 can take over.
    assert_eq!(recv(&mut controller, "controller deleted").await, None);
    assert_eq!(c2.get_broker(1).await.unwrap(), None);
    assert!(matches!(
        c2.register_controller_and_increment_epoch(2).await.unwrap(),
        ControllerElection::Elected { epoch: 2, .. }
    ));
    let now = recv(&mut controller, "new controller")
        .await
        .expect("controller exists");
    assert_eq!(Controller::decode(&now.data).unwrap().broker_id, 2);

    // The expired broker comes back with a new session and a new broker epoch.
    let c1b = c1.reconnect().await.unwrap();
    assert_ne!(c1b.session_id(), c1.session_id());
    assert!(c1b.register_broker(&broker_info(1, 9092), 5).await.unwrap() > 0);

    // Closing a session frees /controller at once, too.
    c2.close().await;
    assert_eq!(
        recv(&mut controller, "controller deleted after close").await,
        None
    );
}
