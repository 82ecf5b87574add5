//! kafka-topics.sh / kafka-configs.sh `--zookeeper` (zkraft's, Kafka 2.4 behaviour) against a
//! test ZooKeeper with a chroot: the znodes they write are read back with the Rust ZooKeeper
//! client, and their output is compared with Kafka's exact texts (tabs included).

mod tools_support;

use std::time::Duration;

use tests::{unique_name, ServerKind, ServerOptions, TestServer};
use tools_support::{run, tool, wrapper, Out};
use zookeeper_client as zkc;

/// Kafka's brokers as the controller would see them (registration JSON v4).
fn broker_json(id: i32) -> String {
    format!(
        r#"{{"version":4,"host":"127.0.0.1","port":{p},"jmx_port":-1,"timestamp":"1600000000000","endpoints":["PLAINTEXT://127.0.0.1:{p}"],"listener_security_protocol_map":{{"PLAINTEXT":"PLAINTEXT"}}}}"#,
        p = 9092 + id
    )
}

struct Cluster {
    _server: TestServer,
    rt: tokio::runtime::Runtime,
    zk: zkc::Client,
    /// `host:port/chroot`, as Kafka's tools take it.
    connect: String,
}

impl Cluster {
    /// A ZooKeeper with brokers `ids` registered under a fresh chroot.
    fn start(ids: &[i32]) -> Cluster {
        let server =
            TestServer::start(ServerKind::from_env(), ServerOptions::new()).expect("server starts");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let chroot = format!("/{}", unique_name("kafka"));
        let base = server.connect_string();
        let zk = rt.block_on(async {
            let root = zkc::Client::connect(&base).await.expect("connect");
            let opts = zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all());
            root.create(&chroot, &[], &opts).await.expect("chroot");
            let zk = zkc::Client::connect(&format!("{base}{chroot}"))
                .await
                .expect("connect chroot");
            for p in ["/brokers", "/brokers/ids", "/brokers/topics"] {
                zk.create(p, &[], &opts).await.expect("create");
            }
            for id in ids {
                zk.create(
                    &format!("/brokers/ids/{id}"),
                    broker_json(*id).as_bytes(),
                    &opts,
                )
                .await
                .expect("register broker");
            }
            zk
        });
        Cluster {
            connect: format!("{base}{chroot}"),
            _server: server,
            rt,
            zk,
        }
    }

    fn get(&self, path: &str) -> Option<String> {
        self.rt.block_on(async {
            match self.zk.get_data(path).await {
                Ok((d, _)) => Some(String::from_utf8_lossy(&d).into_owned()),
                Err(zkc::Error::NoNode) => None,
                Err(e) => panic!("get {path}: {e}"),
            }
        })
    }

    fn children(&self, path: &str) -> Vec<String> {
        self.rt.block_on(async {
            let mut c = self.zk.list_children(path).await.unwrap_or_default();
            c.sort();
            c
        })
    }

    fn create(&self, path: &str, data: &str) {
        self.rt.block_on(async {
            let opts = zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all());
            self.zk
                .create(path, data.as_bytes(), &opts)
                .await
                .unwrap_or_else(|e| panic!("create {path}: {e}"));
        })
    }

    fn topics(&self, args: &[&str]) -> Out {
        let mut c = wrapper("kafka-topics.sh");
        c.args(["--zookeeper", &self.connect]).args(args);
        run(c, None)
    }

    fn configs(&self, args: &[&str]) -> Out {
        let mut c = wrapper("kafka-configs.sh");
        c.args(["--zookeeper", &self.connect]).args(args);
        run(c, None)
    }

    /// A partition's leader and ISR as the controller would write them.
    fn set_state(&self, topic: &str, p: i32, leader: i32, isr: &[i32]) {
        let isr: Vec<String> = isr.iter().map(|i| i.to_string()).collect();
        let base = format!("/brokers/topics/{topic}/partitions");
        if self.get(&base).is_none() {
            self.create(&base, "");
        }
        self.create(&format!("{base}/{p}"), "");
        self.create(
            &format!("{base}/{p}/state"),
            &format!(
                r#"{{"controller_epoch":1,"leader":{leader},"version":1,"leader_epoch":0,"isr":[{}]}}"#,
                isr.join(",")
            ),
        );
    }
}

/// The `"partitions"` map of a topic znode, parsed by hand (the test crate has no JSON parser).
fn partitions(json: &str) -> Vec<(i32, Vec<i32>)> {
    let start = json.find(r#""partitions":{"#).expect("partitions key") + r#""partitions":{"#.len();
    let body = &json[start..start + json[start..].find('}').expect("end of map")];
    let mut out: Vec<(i32, Vec<i32>)> = body
        .split("],")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let (k, v) = e.split_once(':').expect("entry");
            let p = k.trim().trim_matches('"').parse().expect("partition id");
            let replicas = v
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|r| r.trim().parse().expect("broker id"))
                .collect();
            (p, replicas)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn t10_create_list_describe_alter_delete() {
    let c = Cluster::start(&[0, 1, 2]);

    // Automatic assignment: 6 partitions, rf 2 over 3 brokers.
    let o = c.topics(&[
        "--create",
        "--topic",
        "auto",
        "--partitions",
        "6",
        "--replication-factor",
        "2",
    ]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "Created topic auto.\n"),
        "{o:?}"
    );
    let json = c.get("/brokers/topics/auto").expect("topic znode");
    assert!(json.contains(r#""version":2"#), "{json}");
    let parts = partitions(&json);
    assert_eq!(parts.len(), 6, "{json}");
    for (i, (p, r)) in parts.iter().enumerate() {
        assert_eq!(*p as usize, i);
        assert_eq!(r.len(), 2, "{json}");
        assert_ne!(r[0], r[1], "{json}");
        assert!(r.iter().all(|b| (0..3).contains(b)), "{json}");
    }
    // Leaders rotate over the brokers: each leads two partitions.
    for b in 0..3 {
        assert_eq!(parts.iter().filter(|(_, r)| r[0] == b).count(), 2, "{json}");
    }
    assert_eq!(
        c.get("/config/topics/auto").as_deref(),
        Some(r#"{"config":{},"version":1}"#)
    );

    // Manual assignment with a config override; the name gets the collision warning.
    let o = c.topics(&[
        "--create",
        "--topic",
        "d.1",
        "--replica-assignment",
        "0:1,1:2,2:0",
        "--config",
        "retention.ms=1000",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        o.stdout,
        "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.\nCreated topic d.1.\n"
    );
    assert_eq!(
        partitions(&c.get("/brokers/topics/d.1").expect("znode")),
        vec![(0, vec![0, 1]), (1, vec![1, 2]), (2, vec![2, 0])]
    );
    assert_eq!(
        c.get("/config/topics/d.1").as_deref(),
        Some(r#"{"config":{"retention.ms":"1000"},"version":1}"#)
    );

    // Existing topics, with and without --if-not-exists; a colliding name.
    let o = c.topics(&[
        "--create",
        "--topic",
        "auto",
        "--partitions",
        "1",
        "--replication-factor",
        "1",
    ]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stdout,
        "Error while executing topic command : Topic 'auto' already exists.\n"
    );
    let o = c.topics(&[
        "--create",
        "--topic",
        "auto",
        "--partitions",
        "1",
        "--replication-factor",
        "1",
        "--if-not-exists",
    ]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""));
    let o = c.topics(&[
        "--create",
        "--topic",
        "d_1",
        "--partitions",
        "1",
        "--replication-factor",
        "1",
    ]);
    assert_eq!(o.code, 1);
    assert!(o.stdout.ends_with("Error while executing topic command : Topic 'd_1' collides with existing topics: d.1\n"), "{o:?}");

    // Validation errors.
    for (args, msg) in [
        (vec!["--topic", "bad name", "--partitions", "1", "--replication-factor", "1"],
         "Topic name \"bad name\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"),
        (vec!["--topic", "x", "--partitions", "1", "--replication-factor", "4"],
         "Replication factor: 4 larger than available brokers: 3."),
        (vec!["--topic", "x", "--partitions", "0", "--replication-factor", "1"],
         "Number of partitions must be larger than 0."),
        (vec!["--topic", "x", "--partitions", "1", "--replication-factor", "1", "--config", "retention.mss=1"],
         "Unknown topic config name: retention.mss"),
        (vec!["--topic", "x", "--partitions", "1", "--replication-factor", "1", "--config", "retention.ms=soon"],
         "Invalid value soon for configuration retention.ms: Not a number of type LONG"),
        (vec!["--topic", "x", "--replica-assignment", "0:0"],
         "Partition replica lists may not contain duplicate entries: 0"),
    ] {
        let mut a = vec!["--create"];
        a.extend(args);
        let o = c.topics(&a);
        assert_eq!(o.code, 1, "{a:?}: {o:?}");
        assert_eq!(o.stdout, format!("Error while executing topic command : {msg}\n"), "{a:?}");
    }
    assert!(
        c.get("/brokers/topics/x").is_none(),
        "a refused topic was written"
    );

    // --describe, byte for byte (tabs, the empty Isr of a partition without state).
    c.set_state("d.1", 0, 0, &[0, 1]);
    c.set_state("d.1", 2, 9, &[9]);
    let o = c.topics(&["--describe", "--topic", "d.1"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        o.stdout,
        "Topic: d.1\tPartitionCount: 3\tReplicationFactor: 2\tConfigs: retention.ms=1000\n\
         \tTopic: d.1\tPartition: 0\tLeader: 0\tReplicas: 0,1\tIsr: 0,1\n\
         \tTopic: d.1\tPartition: 1\tLeader: none\tReplicas: 1,2\tIsr: \n\
         \tTopic: d.1\tPartition: 2\tLeader: 9\tReplicas: 2,0\tIsr: 9\n"
    );
    let o = c.topics(&[
        "--describe",
        "--topic",
        "d.1",
        "--under-replicated-partitions",
    ]);
    assert_eq!(
        o.stdout,
        "\tTopic: d.1\tPartition: 1\tLeader: none\tReplicas: 1,2\tIsr: \n\
         \tTopic: d.1\tPartition: 2\tLeader: 9\tReplicas: 2,0\tIsr: 9\n"
    );
    let o = c.topics(&["--describe", "--unavailable-partitions"]);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        8,
        "6 of auto (no state yet) and 2 of d.1:\n{}",
        o.stdout
    );
    assert!(
        lines.iter().all(|l| l.starts_with("\tTopic: ")),
        "{}",
        o.stdout
    );
    let o = c.topics(&["--describe", "--topics-with-overrides"]);
    assert_eq!(
        o.stdout,
        "Topic: d.1\tPartitionCount: 3\tReplicationFactor: 2\tConfigs: retention.ms=1000\n"
    );
    let o = c.topics(&["--describe", "--topic", "nope"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stdout,
        "Error while executing topic command : Topic 'nope' does not exist as expected\n"
    );
    let o = c.topics(&["--describe", "--topic", "nope", "--if-exists"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""));

    // --alter --partitions keeps the existing assignment and extends it.
    let o = c.topics(&["--alter", "--topic", "auto", "--partitions", "8"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected\nAdding partitions succeeded!\n"),
    );
    let after = partitions(&c.get("/brokers/topics/auto").expect("znode"));
    assert_eq!(after.len(), 8);
    assert_eq!(&after[..6], &parts[..]);
    let o = c.topics(&["--alter", "--topic", "auto", "--partitions", "2"]);
    assert_eq!(o.code, 1);
    assert!(o.stdout.ends_with("Error while executing topic command : The number of partitions for a topic can only be increased. Topic auto currently has 8 partitions, 2 would not be an increase.\n"), "{o:?}");
    let o = c.topics(&[
        "--alter",
        "--topic",
        "d.1",
        "--partitions",
        "4",
        "--replica-assignment",
        "0:1,1:2,2:0,1:0",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        partitions(&c.get("/brokers/topics/d.1").expect("znode"))[3],
        (3, vec![1, 0])
    );

    // --alter --config (deprecated path) writes the config and a change notification.
    let o = c.topics(&[
        "--alter",
        "--topic",
        "auto",
        "--config",
        "cleanup.policy=compact",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.ends_with("Updated config for topic auto.\n"),
        "{o:?}"
    );
    assert_eq!(
        c.get("/config/topics/auto").as_deref(),
        Some(r#"{"config":{"cleanup.policy":"compact"},"version":1}"#)
    );
    let changes = c.children("/config/changes");
    let last = changes.last().expect("a change notification");
    assert_eq!(
        c.get(&format!("/config/changes/{last}")).as_deref(),
        Some(r#"{"entity_path":"topics/auto","version":2}"#)
    );

    // --delete marks the topic; --list shows the mark.
    let o = c.topics(&["--delete", "--topic", "auto"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "Topic auto is marked for deletion.\nNote: This will have no impact if delete.topic.enable is not set to true.\n")
    );
    assert!(c.get("/admin/delete_topics/auto").is_some());
    let o = c.topics(&["--delete", "--topic", "auto"]);
    assert_eq!(o.stdout, "Topic auto is already marked for deletion.\n");
    let o = c.topics(&["--list"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "auto - marked for deletion\nd.1\n")
    );
    let o = c.topics(&["--list", "--topic", "d.*"]);
    assert_eq!(o.stdout, "d.1\n");

    // Internal topics cannot be deleted or grown.
    c.create(
        "/brokers/topics/__consumer_offsets",
        r#"{"version":2,"partitions":{"0":[0]},"adding_replicas":{},"removing_replicas":{}}"#,
    );
    let o = c.topics(&["--delete", "--topic", "__consumer_offsets"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "Error while executing topic command : Topic __consumer_offsets is a kafka internal topic and is not allowed to be marked for deletion.\n");
    let o = c.topics(&["--list", "--exclude-internal"]);
    assert_eq!(o.stdout, "auto - marked for deletion\nd.1\n");
}

#[test]
fn t20_topics_argument_errors() {
    let c = Cluster::start(&[0]);
    let check = |args: &[&str], first_line: &str| {
        let mut cmd = tool("kafka-topics");
        cmd.args(args);
        let o = run(cmd, None);
        assert_eq!(o.code, 1, "{args:?}: {o:?}");
        assert_eq!(o.stderr.lines().next(), Some(first_line), "{args:?}: {o:?}");
    };
    let z = c.connect.as_str();
    check(&["--zookeeper", z], "Command must include exactly one action: --list, --describe, --create, --alter or --delete");
    check(&["--zookeeper", z, "--list", "--delete"], "Command must include exactly one action: --list, --describe, --create, --alter or --delete");
    check(&["--list"], "Exception in thread \"main\" java.lang.IllegalArgumentException: Only one of --bootstrap-server or --zookeeper must be specified");
    check(
        &["--zookeeper", z, "--delete"],
        "Missing required argument \"[topic]\"",
    );
    check(
        &[
            "--zookeeper",
            z,
            "--create",
            "--topic",
            "t",
            "--partitions",
            "1",
        ],
        "Missing required argument \"[replication-factor]\"",
    );
    check(
        &["--zookeeper", z, "--list", "--partitions", "1"],
        "Option \"[partitions]\" can't be used with option \"[list]\"",
    );
    check(&["--zookeeper", z, "--lisst"], "Exception in thread \"main\" joptsimple.UnrecognizedOptionException: lisst is not a recognized option");
    check(&["--zookeeper"], "Exception in thread \"main\" joptsimple.OptionMissingRequiredArgumentException: Option zookeeper requires an argument");
    let o = c.topics(&[
        "--create",
        "--topic",
        "t",
        "--partitions",
        "x",
        "--replication-factor",
        "1",
    ]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stdout,
        "Error while executing topic command : Cannot parse argument 'x' of option partitions\n"
    );
    // The usage follows a usage error.
    let mut cmd = tool("kafka-topics");
    cmd.args(["--zookeeper", z]);
    let o = run(cmd, None);
    assert!(o.stderr.contains("--zookeeper <String: hosts>"), "{o:?}");
    assert!(
        o.stderr
            .contains("--replication-factor <Integer: replication"),
        "{o:?}"
    );

    // An unreachable ZooKeeper fails with a timeout message, not a hang.
    let port = tests::server::free_port().expect("port");
    let mut cmd = tool("kafka-topics");
    cmd.args(["--zookeeper", &format!("127.0.0.1:{port}"), "--list"])
        .env("ZKRAFT_ZK_CONNECTION_TIMEOUT_MS", "1500");
    let start = std::time::Instant::now();
    let o = run(cmd, None);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr
            .contains("Timed out waiting for connection while in state: CONNECTING"),
        "{o:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(15));

    let mut cmd = tool("kafka-topics");
    cmd.arg("--version");
    let o = run(cmd, None);
    assert_eq!(o.code, 0);
    assert!(o.stdout.starts_with("2.4.1"), "{o:?}");
}

#[test]
fn t30_configs_alter_describe() {
    let c = Cluster::start(&[0]);
    let o = c.topics(&[
        "--create",
        "--topic",
        "t",
        "--partitions",
        "1",
        "--replication-factor",
        "1",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    let before = c.children("/config/changes").len();

    let o = c.configs(&[
        "--entity-type",
        "topics",
        "--entity-name",
        "t",
        "--alter",
        "--add-config",
        "retention.ms=1000,cleanup.policy=[compact,delete]",
    ]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "Completed Updating config for entity: topic 't'.\n"),
        "{o:?}"
    );
    assert_eq!(
        c.get("/config/topics/t").as_deref(),
        Some(r#"{"config":{"cleanup.policy":"compact,delete","retention.ms":"1000"},"version":1}"#)
    );
    let changes = c.children("/config/changes");
    assert_eq!(changes.len(), before + 1);
    assert_eq!(
        c.get(&format!(
            "/config/changes/{}",
            changes.last().expect("notification")
        ))
        .as_deref(),
        Some(r#"{"entity_path":"topics/t","version":2}"#)
    );

    let o = c.configs(&[
        "--entity-type",
        "topics",
        "--entity-name",
        "t",
        "--describe",
    ]);
    assert_eq!(
        o.stdout,
        "Configs for topic 't' are cleanup.policy=compact,delete,retention.ms=1000\n"
    );

    let o = c.configs(&[
        "--entity-type",
        "topics",
        "--entity-name",
        "t",
        "--alter",
        "--delete-config",
        "retention.ms",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        c.get("/config/topics/t").as_deref(),
        Some(r#"{"config":{"cleanup.policy":"compact,delete"},"version":1}"#)
    );

    // Errors: a key that is not set, an unknown key, a missing topic, bad arguments.
    let o = c.configs(&[
        "--entity-type",
        "topics",
        "--entity-name",
        "t",
        "--alter",
        "--delete-config",
        "retention.ms",
    ]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "Invalid config(s): retention.ms\n")
    );
    let o = c.configs(&[
        "--entity-type",
        "topics",
        "--entity-name",
        "t",
        "--alter",
        "--add-config",
        "nope=1",
    ]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "Unknown topic config name: nope\n")
    );
    let o = c.configs(&[
        "--entity-type",
        "topics",
        "--entity-name",
        "missing",
        "--alter",
        "--add-config",
        "retention.ms=1",
    ]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("Topic \"missing\" does not exist."),
        "{o:?}"
    );
    assert!(c.get("/config/topics/missing").is_none());
    let o = c.configs(&[
        "--entity-type",
        "topics",
        "--alter",
        "--add-config",
        "retention.ms=1",
    ]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            1,
            "--entity-name must be specified with --alter of topics\n"
        )
    );
    let o = c.configs(&["--entity-type", "tables", "--describe"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr, "Invalid entity-type tables, --entity-type must be one of topics,clients,users,brokers with the --zookeeper argument\n");
    let o = c.configs(&[
        "--entity-type",
        "topics",
        "--entity-name",
        "t",
        "--alter",
        "--add-config",
        "a=b=c",
    ]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr, "requirement failed: Invalid entity config: all configs to be added must be in the format \"key=val\".\n");

    // Brokers: throttles may change while the broker runs, other keys may not.
    let o = c.configs(&[
        "--entity-type",
        "brokers",
        "--entity-name",
        "0",
        "--alter",
        "--add-config",
        "leader.replication.throttled.rate=1024",
    ]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "Completed Updating config for entity: brokers '0'.\n"),
        "{o:?}"
    );
    assert_eq!(
        c.get("/config/brokers/0").as_deref(),
        Some(r#"{"config":{"leader.replication.throttled.rate":"1024"},"version":1}"#)
    );
    let o = c.configs(&[
        "--entity-type",
        "brokers",
        "--entity-name",
        "0",
        "--alter",
        "--add-config",
        "log.cleaner.threads=2",
    ]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.starts_with("requirement failed: --bootstrap-server option must be specified to update broker configs Set(log.cleaner.threads) when broker 0 is running."), "{o:?}");
    let o = c.configs(&[
        "--entity-type",
        "brokers",
        "--entity-name",
        "5",
        "--alter",
        "--add-config",
        "log.cleaner.threads=2",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    let o = c.configs(&["--entity-type", "brokers", "--describe"]);
    assert_eq!(
        o.stdout,
        "Configs for brokers '0' are leader.replication.throttled.rate=1024\nConfigs for brokers '5' are log.cleaner.threads=2\n"
    );
    let o = c.configs(&[
        "--entity-type",
        "brokers",
        "--entity-name",
        "x",
        "--describe",
    ]);
    assert_eq!(
        o.stderr,
        "The entity name for brokers must be a valid integer broker id , but it is: x\n"
    );

    // Clients: quota keys, default entity.
    let o = c.configs(&[
        "--entity-type",
        "clients",
        "--entity-default",
        "--alter",
        "--add-config",
        "producer_byte_rate=1024",
    ]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (
            0,
            "Completed Updating config for entity: default client-id.\n"
        ),
        "{o:?}"
    );
    assert_eq!(
        c.get("/config/clients/<default>").as_deref(),
        Some(r#"{"config":{"producer_byte_rate":"1024"},"version":1}"#)
    );
}
