//! The same `kafka-topics.sh --zookeeper` / `kafka-configs.sh --zookeeper` session (zkraft's
//! tools, through bin/) run against Apache ZooKeeper 3.8 and against zkraft's ZooKeeper: both
//! servers must end with the same znodes -- paths, JSON payloads, ACLs and the stat fields a
//! client can rely on -- and the tools must print the same text against both.
//!
//! t10 registers three brokers the way a broker would and leaves the znodes as the tools wrote
//! them; t20 runs a real `kafka-server` on each ZooKeeper, so its controller's writes (partition
//! states, topic deletion) are compared too.
//!
//! Topics created with an automatic assignment over several brokers get a random start index
//! and replica shift (as Kafka's do), so their replica lists are checked for shape on each
//! server instead of compared; everything else is compared exactly.

mod tools_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tests::json::Json;
use tests::kafka::KafkaBroker;
use tests::{wait_until, ServerKind, ServerOptions, TestServer};
use tools_support::{run, wrapper, Out};
use zookeeper_client as zkc;

/// A broker registration as Kafka 2.4 writes it (JSON v4), for broker `id`.
fn broker_json(id: i32) -> String {
    format!(
        r#"{{"listener_security_protocol_map":{{"PLAINTEXT":"PLAINTEXT"}},"endpoints":["PLAINTEXT://127.0.0.1:{p}"],"jmx_port":-1,"host":"127.0.0.1","timestamp":"1600000000000","port":{p},"version":4}}"#,
        p = 19092 + id
    )
}

/// How long the controller may take to act on what a tool wrote.
const T: Duration = Duration::from_secs(30);

/// Topics whose assignment comes from the random start index.
const RANDOM_TOPICS: [&str; 1] = ["rand.om"];

/// What one znode looks like to a client, minus what legitimately differs between two servers
/// (zxids and times; their order is compared separately).
#[derive(Debug, PartialEq)]
struct Znode {
    /// Parsed when the payload is JSON; otherwise the raw bytes as text.
    data: Result<Json, String>,
    acl: String,
    version: i32,
    cversion: i32,
    aversion: i32,
    ephemeral_owner: i64,
    data_length: i32,
    num_children: i32,
}

struct Tree {
    nodes: BTreeMap<String, Znode>,
    /// Paths in creation order (czxid, then path for nodes created by one multi).
    creation_order: Vec<String>,
}

struct Side {
    /// A real broker (t20), stopped before its ZooKeeper.
    broker: Option<KafkaBroker>,
    server: TestServer,
    rt: tokio::runtime::Runtime,
    zk: zkc::Client,
    /// Every tool invocation: (arguments, exit code, stdout, stderr).
    transcript: Vec<(String, i32, String, String)>,
}

impl Side {
    /// A ZooKeeper with three registered (fake) brokers, as `tools_kafka.rs` sets it up.
    fn start(kind: ServerKind) -> Side {
        Self::start_with(kind, false)
    }

    /// A ZooKeeper with one real `kafka-server` (broker 0), whose controller acts on what the
    /// tools write.
    fn start_with_broker(kind: ServerKind) -> Side {
        Self::start_with(kind, true)
    }

    fn start_with(kind: ServerKind, real_broker: bool) -> Side {
        assert!(
            kind.is_available(),
            "{kind} ZooKeeper is not available (scripts/install-test-deps.sh)"
        );
        let server = TestServer::start(kind, ServerOptions::new()).expect("server starts");
        // A worker thread keeps the session answering pings while the test waits on tools.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let broker = real_broker
            .then(|| KafkaBroker::start(&server.connect_string(), &[]).expect("broker starts"));
        let zk = rt.block_on(async {
            let zk = zkc::Client::connect(&server.connect_string())
                .await
                .expect("connect");
            if real_broker {
                return zk;
            }
            let opts = zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all());
            // What a starting Kafka broker has made by the time an operator runs the tools.
            for p in ["/brokers", "/brokers/ids"] {
                zk.create(p, &[], &opts).await.expect("create");
            }
            for id in 0..3 {
                zk.create(
                    &format!("/brokers/ids/{id}"),
                    broker_json(id).as_bytes(),
                    &opts,
                )
                .await
                .expect("register broker");
            }
            zk
        });
        Side {
            broker,
            server,
            rt,
            zk,
            transcript: Vec::new(),
        }
    }

    fn children(&self, path: &str) -> Vec<String> {
        self.rt.block_on(async {
            match self.zk.list_children(path).await {
                Ok(c) => c,
                Err(zkc::Error::NoNode) => Vec::new(),
                Err(e) => panic!("{}: ls {path}: {e}", self.server.kind()),
            }
        })
    }

    /// Waits until the controller has given every partition of `topic` a state (`count` of
    /// them) or, with `count` 0, has finished deleting it.
    fn wait_topic(&self, topic: &str, count: usize) {
        let kind = self.server.kind();
        wait_until(
            T,
            &format!("[{kind}] {topic} with {count} partition states"),
            || {
                if count == 0 {
                    let gone = self.children("/brokers/topics").iter().all(|t| t != topic)
                        && self.children("/admin/delete_topics").is_empty();
                    return gone.then_some(());
                }
                let base = format!("/brokers/topics/{topic}/partitions");
                let parts = self.children(&base);
                let with_state = parts
                    .iter()
                    .filter(|p| {
                        self.children(&format!("{base}/{p}"))
                            .iter()
                            .any(|c| c == "state")
                    })
                    .count();
                (with_state == count).then_some(())
            },
        )
        .expect("controller");
    }

    fn tool(&mut self, script: &str, args: &[&str]) -> Out {
        let mut c = wrapper(script);
        c.args(["--zookeeper", &self.server.connect_string()])
            .args(args);
        let o = run(c, None);
        self.transcript.push((
            format!("{script} {}", args.join(" ")),
            o.code,
            o.stdout.clone(),
            o.stderr.clone(),
        ));
        o
    }

    /// The whole tree below `/`.
    fn walk(&self) -> Tree {
        self.walk_from(&["/"])
    }

    /// The subtrees below `roots` (absent roots are skipped).
    fn walk_from(&self, roots: &[&str]) -> Tree {
        self.rt.block_on(async {
            let mut nodes = BTreeMap::new();
            let mut zxids = Vec::new();
            let mut queue: Vec<String> = Vec::new();
            for r in roots {
                match self.zk.check_stat(r).await {
                    Ok(Some(_)) => queue.push((*r).to_owned()),
                    Ok(None) => {}
                    Err(e) => panic!("{}: exists {r}: {e}", self.server.kind()),
                }
            }
            while let Some(path) = queue.pop() {
                let (data, stat) = self
                    .zk
                    .get_data(&path)
                    .await
                    .unwrap_or_else(|e| panic!("{}: get {path}: {e}", self.server.kind()));
                let (acl, _) = self
                    .zk
                    .get_acl(&path)
                    .await
                    .unwrap_or_else(|e| panic!("{}: getAcl {path}: {e}", self.server.kind()));
                let children = self
                    .zk
                    .list_children(&path)
                    .await
                    .unwrap_or_else(|e| panic!("{}: ls {path}: {e}", self.server.kind()));
                let text = String::from_utf8_lossy(&data).into_owned();
                let data = match Json::parse(&text) {
                    Ok(j) => Ok(j),
                    Err(_) => Err(text),
                };
                nodes.insert(
                    path.clone(),
                    Znode {
                        data,
                        acl: format!("{acl:?}"),
                        version: stat.version,
                        cversion: stat.cversion,
                        aversion: stat.aversion,
                        ephemeral_owner: stat.ephemeral_owner,
                        data_length: stat.data_length,
                        num_children: stat.num_children,
                    },
                );
                zxids.push((stat.czxid, path.clone()));
                for c in children {
                    queue.push(if path == "/" {
                        format!("/{c}")
                    } else {
                        format!("{path}/{c}")
                    });
                }
            }
            zxids.sort();
            Tree {
                nodes,
                creation_order: zxids.into_iter().map(|(_, p)| p).collect(),
            }
        })
    }
}

/// The session every side replays: creations (manual and automatic assignment, overrides),
/// refusals, growth, config changes on every entity type, deletion marks, and the read-only
/// commands whose output is compared too.
fn replay(side: &mut Side) {
    let kt = "kafka-topics.sh";
    let kc = "kafka-configs.sh";
    let steps: Vec<(&str, Vec<&str>, i32)> = vec![
        (
            kt,
            vec![
                "--create",
                "--topic",
                "fixed",
                "--replica-assignment",
                "0:1,1:2,2:0",
                "--config",
                "retention.ms=1000",
                "--config",
                "cleanup.policy=compact",
            ],
            0,
        ),
        (
            kt,
            vec![
                "--create",
                "--topic",
                "rand.om",
                "--partitions",
                "6",
                "--replication-factor",
                "2",
            ],
            0,
        ),
        (
            kt,
            vec![
                "--create",
                "--topic",
                "single",
                "--partitions",
                "1",
                "--replication-factor",
                "3",
            ],
            0,
        ),
        (
            kt,
            vec!["--create", "--topic", "fixed", "--replica-assignment", "0"],
            1,
        ),
        (
            kt,
            vec![
                "--create",
                "--topic",
                "rand_om",
                "--partitions",
                "1",
                "--replication-factor",
                "1",
            ],
            1,
        ),
        (
            kt,
            vec![
                "--create",
                "--topic",
                "x",
                "--partitions",
                "1",
                "--replication-factor",
                "4",
            ],
            1,
        ),
        (
            kt,
            vec![
                "--alter",
                "--topic",
                "fixed",
                "--partitions",
                "4",
                "--replica-assignment",
                "0:1,1:2,2:0,1:0",
            ],
            0,
        ),
        (
            kt,
            vec!["--alter", "--topic", "rand.om", "--partitions", "8"],
            0,
        ),
        (
            kt,
            vec![
                "--alter",
                "--topic",
                "single",
                "--config",
                "max.message.bytes=2048",
            ],
            0,
        ),
        (
            kc,
            vec![
                "--entity-type",
                "topics",
                "--entity-name",
                "fixed",
                "--alter",
                "--add-config",
                "retention.ms=5000,segment.bytes=1048576",
                "--delete-config",
                "cleanup.policy",
            ],
            0,
        ),
        (
            kc,
            vec![
                "--entity-type",
                "brokers",
                "--entity-name",
                "0",
                "--alter",
                "--add-config",
                "leader.replication.throttled.rate=1024",
            ],
            0,
        ),
        (
            kc,
            vec![
                "--entity-type",
                "brokers",
                "--entity-name",
                "7",
                "--alter",
                "--add-config",
                "log.cleaner.threads=2",
            ],
            0,
        ),
        (
            kc,
            vec![
                "--entity-type",
                "clients",
                "--entity-default",
                "--alter",
                "--add-config",
                "producer_byte_rate=1024",
            ],
            0,
        ),
        (
            kc,
            vec![
                "--entity-type",
                "users",
                "--entity-name",
                "alice@example.com",
                "--alter",
                "--add-config",
                "consumer_byte_rate=2048",
            ],
            0,
        ),
        (
            kc,
            vec![
                "--entity-type",
                "topics",
                "--entity-name",
                "fixed",
                "--alter",
                "--delete-config",
                "nope",
            ],
            1,
        ),
        (
            kt,
            vec!["--create", "--topic", "gone", "--replica-assignment", "2"],
            0,
        ),
        (kt, vec!["--delete", "--topic", "gone"], 0),
        (kt, vec!["--delete", "--topic", "gone"], 0),
        (kt, vec!["--list"], 0),
        (kt, vec!["--describe", "--topic", "fixed"], 0),
        (kt, vec!["--describe", "--topics-with-overrides"], 0),
        (kc, vec!["--entity-type", "topics", "--describe"], 0),
        (kc, vec!["--entity-type", "brokers", "--describe"], 0),
        (kc, vec!["--entity-type", "users", "--describe"], 0),
        (kc, vec!["--entity-type", "clients", "--describe"], 0),
    ];
    for (script, args, code) in steps {
        let o = side.tool(script, &args);
        assert_eq!(
            o.code,
            code,
            "[{}] {script} {args:?}: {o:?}",
            side.server.kind()
        );
    }
}

/// The replica lists of a topic znode, by partition.
fn assignment(node: &Znode) -> BTreeMap<String, Vec<i64>> {
    let json = node.data.as_ref().expect("topic znode is JSON");
    json.get("partitions")
        .and_then(Json::as_object)
        .expect("partitions map")
        .iter()
        .map(|(p, r)| (p.clone(), r.as_i64_vec().expect("replica list")))
        .collect()
}

/// Kafka's automatic assignment, as a shape: `count` partitions numbered 0.., `rf` distinct
/// live brokers each, leaders spread evenly (round robin from the start index).
fn check_random_shape(
    kind: ServerKind,
    topic: &str,
    a: &BTreeMap<String, Vec<i64>>,
    count: usize,
    rf: usize,
) {
    let ids: BTreeSet<String> = (0..count).map(|p| p.to_string()).collect();
    assert_eq!(
        a.keys().cloned().collect::<BTreeSet<_>>(),
        ids,
        "[{kind}] {topic}: {a:?}"
    );
    for r in a.values() {
        assert_eq!(r.len(), rf, "[{kind}] {topic}: {a:?}");
        assert_eq!(
            r.iter().collect::<BTreeSet<_>>().len(),
            rf,
            "[{kind}] {topic}: {a:?}"
        );
        assert!(
            r.iter().all(|b| (0..3).contains(b)),
            "[{kind}] {topic}: {a:?}"
        );
    }
    // The first partitions were assigned in one round: consecutive leaders differ by one.
    for p in 1..6.min(count) {
        let prev = a[&(p - 1).to_string()][0];
        assert_eq!(
            a[&p.to_string()][0],
            (prev + 1) % 3,
            "[{kind}] {topic}: {a:?}"
        );
    }
}

/// Everything of a znode but its payload.
fn stat_fields(n: &Znode) -> (&str, i32, i32, i32, i64, i32, i32) {
    (
        n.acl.as_str(),
        n.version,
        n.cversion,
        n.aversion,
        n.ephemeral_owner,
        n.data_length,
        n.num_children,
    )
}

/// A topic znode with its replica lists blanked out, for comparing everything else.
fn without_partitions(node: &Znode) -> Json {
    match node.data.as_ref().expect("topic znode is JSON") {
        Json::Object(m) => {
            let mut m = m.clone();
            m.remove("partitions");
            Json::Object(m)
        }
        other => other.clone(),
    }
}

#[test]
fn t10_same_znodes_on_apache_and_zkraft() {
    let mut apache = Side::start(ServerKind::Apache);
    let mut zkraft = Side::start(ServerKind::Zkraft);
    replay(&mut apache);
    replay(&mut zkraft);

    // Same output, line for line (the random assignment never reaches the printed text:
    // only the fixed topic is described).
    for (a, z) in apache.transcript.iter().zip(&zkraft.transcript) {
        assert_eq!(a, z, "the tools printed something else against zkraft");
    }

    let ta = apache.walk();
    let tz = zkraft.walk();

    // Sanity: the Apache side holds what Kafka 2.4's tools write, so an empty or wrong tree on
    // both sides cannot pass.
    let fixed = &ta.nodes["/brokers/topics/fixed"];
    assert_eq!(
        fixed.data,
        Ok(Json::parse(r#"{"version":2,"partitions":{"0":[0,1],"1":[1,2],"2":[2,0],"3":[1,0]},"adding_replicas":{},"removing_replicas":{}}"#).unwrap())
    );
    assert_eq!(fixed.version, 1, "created, then grown once");
    assert_eq!(
        ta.nodes["/config/topics/fixed"].data,
        Ok(Json::parse(
            r#"{"version":1,"config":{"retention.ms":"5000","segment.bytes":"1048576"}}"#
        )
        .unwrap())
    );
    assert_eq!(
        ta.nodes["/config/users/alice%40example.com"].data,
        Ok(Json::parse(r#"{"version":1,"config":{"consumer_byte_rate":"2048"}}"#).unwrap())
    );
    assert!(ta.nodes.contains_key("/admin/delete_topics/gone"));
    let changes: Vec<&String> = ta
        .nodes
        .keys()
        .filter(|p| p.starts_with("/config/changes/"))
        .collect();
    assert_eq!(
        changes.len(),
        6,
        "one notification per config change: {changes:?}"
    );
    assert_eq!(changes[0], "/config/changes/config_change_0000000000");

    // Every path on both sides.
    let pa: Vec<&String> = ta.nodes.keys().collect();
    let pz: Vec<&String> = tz.nodes.keys().collect();
    assert_eq!(pa, pz, "different znodes");

    for (path, a) in &ta.nodes {
        let z = &tz.nodes[path];
        let topic = path
            .strip_prefix("/brokers/topics/")
            .filter(|t| !t.contains('/'));
        match topic {
            Some(t) if RANDOM_TOPICS.contains(&t) => {
                for (kind, n) in [(ServerKind::Apache, a), (ServerKind::Zkraft, z)] {
                    check_random_shape(kind, t, &assignment(n), 8, 2);
                }
                // The first six were assigned together and kept by the growth to 8.
                assert_eq!(without_partitions(a), without_partitions(z), "{path}");
                assert_eq!(stat_fields(a), stat_fields(z), "{path}");
            }
            Some("single") => {
                // rf 3 of 3 brokers: only the order is random.
                for (kind, n) in [(ServerKind::Apache, a), (ServerKind::Zkraft, z)] {
                    let r = &assignment(n)["0"];
                    let mut sorted = r.clone();
                    sorted.sort();
                    assert_eq!(sorted, vec![0, 1, 2], "[{kind}] {path}");
                }
                assert_eq!(without_partitions(a), without_partitions(z), "{path}");
                assert_eq!(stat_fields(a), stat_fields(z), "{path}");
            }
            _ => assert_eq!(a, z, "{path} differs"),
        }
        assert_eq!(
            a.ephemeral_owner, 0,
            "{path}: the tools create persistent znodes only"
        );
    }

    // Created in the same order (sequential names, notifications after their configs).
    assert_eq!(
        ta.creation_order, tz.creation_order,
        "creation order differs"
    );
}

/// With a real broker on each ZooKeeper, the znodes after its controller has acted on the
/// tools' writes (partition states, deletion, config notifications) are the same too: the
/// broker's access pattern (multi, versioned writes, watches) meets the same semantics.
#[test]
fn t20_same_znodes_with_a_real_broker() {
    let mut sides = [
        Side::start_with_broker(ServerKind::Apache),
        Side::start_with_broker(ServerKind::Zkraft),
    ];
    let kt = "kafka-topics.sh";
    let kc = "kafka-configs.sh";
    // Each command, then what the controller must have done before the next one.
    #[rustfmt::skip]
    let steps: Vec<(&str, Vec<&str>, Option<(&str, usize)>)> = vec![
        // One broker: the automatic assignment has no random choice left.
        (kt, vec!["--create", "--topic", "a", "--partitions", "3", "--replication-factor", "1",
                  "--config", "retention.ms=1000"], Some(("a", 3))),
        (kt, vec!["--create", "--topic", "b.c", "--replica-assignment", "0,0"], Some(("b.c", 2))),
        (kt, vec!["--alter", "--topic", "a", "--partitions", "5"], Some(("a", 5))),
        (kc, vec!["--entity-type", "topics", "--entity-name", "a", "--alter",
                  "--add-config", "segment.bytes=1048576", "--delete-config", "retention.ms"], None),
        (kc, vec!["--entity-type", "brokers", "--entity-name", "0", "--alter",
                  "--add-config", "leader.replication.throttled.rate=1024"], None),
        (kt, vec!["--create", "--topic", "gone", "--partitions", "1", "--replication-factor", "1"],
         Some(("gone", 1))),
        (kt, vec!["--delete", "--topic", "gone"], Some(("gone", 0))),
        (kt, vec!["--describe"], None),
        (kt, vec!["--list"], None),
        (kc, vec!["--entity-type", "topics", "--describe"], None),
    ];
    for side in sides.iter_mut() {
        let kind = side.server.kind();
        for (script, args, wait) in &steps {
            let o = side.tool(script, args);
            assert_eq!(o.code, 0, "[{kind}] {script} {args:?}: {o:?}");
            if let Some((topic, count)) = wait {
                side.wait_topic(topic, *count);
            }
        }
    }
    let [apache, zkraft] = &sides;
    for (a, z) in apache.transcript.iter().zip(&zkraft.transcript) {
        assert_eq!(a, z, "the tools printed something else against zkraft");
    }

    let roots = [
        "/brokers/topics",
        "/config/topics",
        "/config/changes",
        "/config/brokers",
        "/admin",
    ];
    let ta = apache.walk_from(&roots);
    let tz = zkraft.walk_from(&roots);
    // Sanity: the controller acted (leader 0 everywhere) and deleted `gone` on Apache's side.
    let state = &ta.nodes["/brokers/topics/a/partitions/4/state"];
    assert_eq!(
        state
            .data
            .as_ref()
            .ok()
            .and_then(|j| j.get("leader"))
            .and_then(Json::as_i64),
        Some(0),
        "{state:?}"
    );
    assert!(!ta.nodes.contains_key("/brokers/topics/gone"));
    assert!(!ta.nodes.contains_key("/config/topics/gone"));

    let pa: Vec<&String> = ta.nodes.keys().collect();
    let pz: Vec<&String> = tz.nodes.keys().collect();
    assert_eq!(pa, pz, "different znodes");
    for (path, a) in &ta.nodes {
        assert_eq!(a, &tz.nodes[path], "{path} differs");
    }
    assert_eq!(
        ta.creation_order, tz.creation_order,
        "creation order differs"
    );

    // Brokers first, so neither logs a lost ZooKeeper while shutting down.
    for side in sides.iter_mut() {
        if let Some(mut b) = side.broker.take() {
            let _ = b.stop();
        }
    }
}
