//! kafka-topics.sh / kafka-configs.sh `--bootstrap-server` (zkraft's, Kafka 2.4 behaviour over
//! the Admin API) against zkraft's broker: what they do is read back through the other mode
//! (`--zookeeper`), the znodes, and kcat (librdkafka); their texts are Kafka's exact ones.
//!
//! t10: topic lifecycle, both modes print the same describe text; t20: errors and option
//! checks; t30: configs; t40: an unreachable broker; t50: two brokers (controller routing,
//! under-replicated and unavailable partitions).

mod tools_support;

use std::time::{Duration, Instant};

use tests::kafka::{kcat, kcat_available, KafkaBroker};
use tests::{wait_until, ServerKind, ServerOptions, TestServer};
use tools_support::{run, wrapper, Out};
use zookeeper_client as zkc;

struct Cluster {
    brokers: Vec<KafkaBroker>,
    zk_connect: String,
    rt: tokio::runtime::Runtime,
    zk: zkc::Client,
    _server: TestServer,
}

impl Cluster {
    /// A ZooKeeper and brokers 0..n (broker 0 first, so it is the controller).
    fn start(n: i32) -> Cluster {
        let server =
            TestServer::start(ServerKind::from_env(), ServerOptions::new()).expect("zk starts");
        let zk_connect = server.connect_string();
        let brokers = (0..n)
            .map(|id| {
                let id = id.to_string();
                KafkaBroker::start(&zk_connect, &[("broker.id", &id)]).expect("broker starts")
            })
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let zk = rt
            .block_on(zkc::Client::connect(&zk_connect))
            .expect("zk client");
        Cluster {
            brokers,
            zk_connect,
            rt,
            zk,
            _server: server,
        }
    }

    fn bootstrap(&self, i: usize) -> String {
        self.brokers[i].bootstrap()
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

    /// kafka-topics.sh --bootstrap-server (broker 0) args...
    fn topics(&self, args: &[&str]) -> Out {
        self.topics_via(0, args)
    }

    fn topics_via(&self, broker: usize, args: &[&str]) -> Out {
        let mut c = wrapper("kafka-topics.sh");
        c.args(["--bootstrap-server", &self.bootstrap(broker)])
            .args(args);
        run(c, None)
    }

    fn topics_zk(&self, args: &[&str]) -> Out {
        let mut c = wrapper("kafka-topics.sh");
        c.args(["--zookeeper", &self.zk_connect]).args(args);
        run(c, None)
    }

    fn configs(&self, args: &[&str]) -> Out {
        let mut c = wrapper("kafka-configs.sh");
        c.args(["--bootstrap-server", &self.bootstrap(0)])
            .args(args);
        run(c, None)
    }

    fn configs_zk(&self, args: &[&str]) -> Out {
        let mut c = wrapper("kafka-configs.sh");
        c.args(["--zookeeper", &self.zk_connect]).args(args);
        run(c, None)
    }

    /// Waits until `--describe --topic t` prints the same in both modes and every partition
    /// has a leader, then returns that text.
    fn settled_describe(&self, topic: &str) -> String {
        wait_until(Duration::from_secs(15), "both modes to agree", || {
            let raw = self.topics(&["--describe", "--topic", topic]);
            let b = self.topics_zk(&["--describe", "--topic", topic]);
            let a = strip_static(&raw.stdout);
            // Every static entry shows up in the bootstrap mode (by name: a topic override
            // replaces its value).
            let shows_static = STATIC_ENTRIES.iter().all(|e| {
                let name = e.split('=').next().unwrap_or(e);
                raw.stdout.contains(&format!(" {name}="))
                    || raw.stdout.contains(&format!(",{name}="))
            });
            (b.code == 0 && a == b.stdout && shows_static && !a.contains("Leader: none"))
                .then_some(a)
        })
        .unwrap_or_else(|e| {
            panic!(
                "{e}: bootstrap {:?} / zookeeper {:?}",
                self.topics(&["--describe", "--topic", topic]),
                self.topics_zk(&["--describe", "--topic", topic])
            )
        })
    }
}

/// The topic configs whose primary broker key the test brokers' properties set
/// (`log.segment.bytes`, as config/server.properties does). Kafka 2.4's broker reports them as
/// STATIC_BROKER_CONFIG, so `--bootstrap-server` describes show them for every topic while
/// `--zookeeper` ones do not. (`log.retention.hours` is set too, but it is not the primary
/// key of `retention.ms`, whose source stays DEFAULT_CONFIG: AdminManager drops synonyms
/// before the primary one.) Comparisons drop these; [`Cluster::settled_describe`] checks that
/// the bootstrap mode shows them.
const STATIC_ENTRIES: [&str; 1] = ["segment.bytes=1073741824"];

/// `--describe` output with [`STATIC_ENTRIES`] removed from every `Configs:` column (the other
/// entries keep their order).
fn strip_static(text: &str) -> String {
    text.lines()
        .map(|l| match l.split_once("\tConfigs: ") {
            Some((head, configs)) if l.starts_with("Topic: ") => {
                let (list, rest) = match configs.split_once('\t') {
                    Some((list, rest)) => (list, format!("\t{rest}")),
                    None => (configs, String::new()),
                };
                let kept: Vec<&str> = list
                    .split(',')
                    .filter(|e| !e.is_empty() && !STATIC_ENTRIES.contains(e))
                    .collect();
                format!("{head}\tConfigs: {}{rest}\n", kept.join(","))
            }
            _ => format!("{l}\n"),
        })
        .collect()
}

/// `--topics-with-overrides` output without the topics listed only for [`STATIC_ENTRIES`].
fn real_overrides(text: &str) -> String {
    strip_static(text)
        .lines()
        .filter(|l| !l.ends_with("\tConfigs: "))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn ok(o: &Out) {
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stderr, "", "{o:?}");
}

/// The log4j line TopicCommand logs on stderr: `[date] ERROR <exception> ... (logger)`.
fn assert_logged(o: &Out, exception: &str) {
    assert!(
        o.stderr.starts_with('[') && o.stderr.contains(&format!("] ERROR {exception}")),
        "{o:?}"
    );
    assert!(
        o.stderr.trim_end().ends_with("(kafka.admin.TopicCommand$)"),
        "{o:?}"
    );
}

/// kcat's view of a topic's partition count (librdkafka's metadata).
fn kcat_partitions(bootstrap: &str, topic: &str) -> usize {
    let out = kcat(
        &["-b", bootstrap, "-L", "-t", topic],
        None,
        Duration::from_secs(15),
    )
    .expect("kcat -L");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| l.trim_start().starts_with("partition "))
        .count()
}

#[test]
fn t10_topic_lifecycle_matches_zookeeper_mode() {
    assert!(kcat_available(), "kcat is not installed");
    let c = Cluster::start(1);
    let b = c.bootstrap(0);

    // Kafka 2.4 prints nothing on a successful --create in this mode.
    ok(&c.topics(&[
        "--create",
        "--topic",
        "plain",
        "--partitions",
        "3",
        "--replication-factor",
        "1",
    ]));
    // Cluster defaults (num.partitions=1) when counts are left out.
    ok(&c.topics(&["--create", "--topic", "defaults"]));
    ok(&c.topics(&[
        "--create",
        "--topic",
        "assigned",
        "--replica-assignment",
        "0,0",
        "--config",
        "retention.ms=1000",
        "--config",
        "cleanup.policy=compact",
    ]));
    let o = c.topics(&["--create", "--topic", "x.y"]);
    assert_eq!(o.stdout, "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.\n");
    assert_eq!(o.code, 0);

    assert_eq!(
        c.settled_describe("plain"),
        "Topic: plain\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: \n\
         \tTopic: plain\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\n\
         \tTopic: plain\tPartition: 1\tLeader: 0\tReplicas: 0\tIsr: 0\n\
         \tTopic: plain\tPartition: 2\tLeader: 0\tReplicas: 0\tIsr: 0\n"
    );
    assert!(c
        .settled_describe("defaults")
        .starts_with("Topic: defaults\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n"));
    // Config overrides in Kafka's HashMap order (cleanup.policy's bucket comes first).
    assert_eq!(
        c.settled_describe("assigned"),
        "Topic: assigned\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: cleanup.policy=compact,retention.ms=1000\n\
         \tTopic: assigned\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\n\
         \tTopic: assigned\tPartition: 1\tLeader: 0\tReplicas: 0\tIsr: 0\n"
    );
    c.settled_describe("x.y");
    assert_eq!(kcat_partitions(&b, "plain"), 3);
    assert_eq!(kcat_partitions(&b, "assigned"), 2);

    let o = c.topics(&["--list"]);
    ok(&o);
    assert_eq!(o.stdout, "assigned\ndefaults\nplain\nx.y\n");
    let o = c.topics(&["--list", "--topic", "p.*"]);
    assert_eq!(o.stdout, "plain\n");
    // No match: Kafka prints the empty join, i.e. one empty line.
    assert_eq!(c.topics(&["--list", "--topic", "nomatch"]).stdout, "\n");

    // All topics: Kafka prints them in the iteration order of describeTopics' HashMap of 4
    // (buckets of an 8-slot table: assigned 2, x.y 2, defaults 4, plain 6).
    let all = c.topics(&["--describe"]);
    ok(&all);
    let heads: Vec<&str> = all
        .stdout
        .lines()
        .filter(|l| l.starts_with("Topic: "))
        .map(|l| l.split('\t').next().unwrap_or_default())
        .collect();
    assert_eq!(
        heads,
        [
            "Topic: assigned",
            "Topic: x.y",
            "Topic: defaults",
            "Topic: plain"
        ]
    );
    let o = c.topics(&["--describe", "--topics-with-overrides"]);
    assert_eq!(
        real_overrides(&o.stdout),
        "Topic: assigned\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: cleanup.policy=compact,retention.ms=1000\n"
    );
    assert_eq!(
        real_overrides(&o.stdout),
        c.topics_zk(&["--describe", "--topics-with-overrides"])
            .stdout
    );
    let o = c.topics(&["--describe", "--under-replicated-partitions"]);
    ok(&o);
    assert_eq!(o.stdout, "");
    // A topic that does not exist: Kafka 2.4 describes nothing and succeeds in this mode.
    let o = c.topics(&["--describe", "--topic", "missing"]);
    ok(&o);
    assert_eq!(o.stdout, "");

    // --alter --partitions, then with an explicit placement of the new partitions.
    ok(&c.topics(&["--alter", "--topic", "plain", "--partitions", "4"]));
    ok(&c.topics(&[
        "--alter",
        "--topic",
        "plain",
        "--partitions",
        "5",
        "--replica-assignment",
        "0,0,0,0,0",
    ]));
    let d = c.settled_describe("plain");
    assert!(
        d.starts_with("Topic: plain\tPartitionCount: 5\tReplicationFactor: 1\tConfigs: \n"),
        "{d}"
    );
    assert!(d.ends_with("\tTopic: plain\tPartition: 4\tLeader: 0\tReplicas: 0\tIsr: 0\n"));
    // Every partition has ISR 1 = the default min.insync.replicas: all are "at min ISR".
    let at_min = c.topics(&["--describe", "--topic", "plain", "--at-min-isr-partitions"]);
    ok(&at_min);
    assert_eq!(
        at_min.stdout,
        d.lines()
            .skip(1)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    let zk_json = c.get("/brokers/topics/plain").expect("topic znode");
    assert!(zk_json.contains(r#""4":[0]"#), "{zk_json}");
    wait_until(Duration::from_secs(15), "kcat to see 5 partitions", || {
        (kcat_partitions(&b, "plain") == 5).then_some(())
    })
    .expect("kcat sees the new partitions");

    // --delete prints nothing here; the topic is gone from every view afterwards.
    ok(&c.topics(&["--delete", "--topic", "x.y"]));
    wait_until(Duration::from_secs(15), "x.y to be deleted", || {
        c.get("/brokers/topics/x.y").is_none().then_some(())
    })
    .expect("topic znode removed");
    assert_eq!(c.topics(&["--list"]).stdout, "assigned\ndefaults\nplain\n");
    assert_eq!(
        c.topics_zk(&["--list"]).stdout,
        "assigned\ndefaults\nplain\n"
    );
}

#[test]
fn t20_errors_as_kafka_prints_them() {
    let c = Cluster::start(1);
    ok(&c.topics(&["--create", "--topic", "t", "--partitions", "2"]));
    c.settled_describe("t");

    let o = c.topics(&["--create", "--topic", "t"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stdout,
        "Error while executing topic command : Topic t already exists\n"
    );
    assert_logged(
        &o,
        "java.lang.IllegalArgumentException: Topic t already exists",
    );

    let o = c.topics(&["--alter", "--topic", "nope", "--partitions", "3"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stdout,
        "Error while executing topic command : Topic 'nope' does not exist as expected\n"
    );
    let o = c.topics(&["--delete", "--topic", "nope"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stdout,
        "Error while executing topic command : Topic 'nope' does not exist as expected\n"
    );

    // Config values are validated before anything is sent, as Kafka's LogConfig does.
    let o = c.topics(&["--create", "--topic", "u", "--config", "retention.ms=soon"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "Error while executing topic command : Invalid value soon for configuration retention.ms: Not a number of type LONG\n");
    let o = c.topics(&["--create", "--topic", "u", "--config", "retention.mss=1"]);
    assert_eq!(
        o.stdout,
        "Error while executing topic command : Unknown topic config name: retention.mss\n"
    );
    assert!(c.get("/brokers/topics/u").is_none());

    // The broker's refusals arrive as the admin client's exceptions.
    let o = c.topics(&["--create", "--topic", "u", "--replication-factor", "3"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "Error while executing topic command : org.apache.kafka.common.errors.InvalidReplicationFactorException: Replication factor: 3 larger than available brokers: 1.\n");
    assert_logged(
        &o,
        "java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.InvalidReplicationFactorException",
    );
    let o = c.topics(&["--alter", "--topic", "t", "--partitions", "1"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stdout.starts_with("Error while executing topic command : org.apache.kafka.common.errors.InvalidPartitionsException: "),
        "{o:?}"
    );
    let o = c.topics(&["--create", "--topic", "u", "--partitions", "0"]);
    assert_eq!(
        o.stdout,
        "Error while executing topic command : The partitions must be greater than 0\n"
    );

    // Options Kafka 2.4 refuses with --bootstrap-server (usage error, exit 1, nothing done).
    for (args, message) in [
        (
            &["--create", "--topic", "v", "--if-not-exists"][..],
            "Option \"[if-not-exists]\" can't be used with option \"[bootstrap-server]\"",
        ),
        (
            &["--describe", "--topic", "t", "--if-exists"][..],
            "Option \"[if-exists]\" can't be used with option \"[bootstrap-server]\"",
        ),
        (
            &["--alter", "--topic", "t", "--config", "retention.ms=1"][..],
            "Option combination \"[bootstrap-server],[config]\" can't be used with option \"[alter]\"",
        ),
        (
            &["--alter", "--topic", "t"][..],
            "Missing required argument \"[partitions]\"",
        ),
        (
            &["--alter", "--topic", "t", "--partitions", "3", "--delete-config", "x"][..],
            "Option \"[delete-config]\" can't be used with option \"[bootstrap-server]\"",
        ),
    ] {
        let o = c.topics(args);
        assert_eq!(o.code, 1, "{args:?}: {o:?}");
        assert_eq!(o.stdout, "", "{args:?}");
        assert_eq!(o.stderr.lines().next(), Some(message), "{args:?}");
        assert!(o.stderr.contains("--bootstrap-server <String: server to connect to>"));
    }
    assert!(c.get("/brokers/topics/v").is_none());
    // ... while --under-min-isr-partitions is refused only with --zookeeper.
    ok(&c.topics(&["--describe", "--under-min-isr-partitions"]));
    let o = c.topics_zk(&["--describe", "--under-min-isr-partitions"]);
    assert_eq!(o.code, 1);

    // The topic is untouched by all of the above.
    assert!(c
        .settled_describe("t")
        .starts_with("Topic: t\tPartitionCount: 2\t"));
}

#[test]
fn t30_configs() {
    let c = Cluster::start(1);
    // Created with overrides through the Admin API, read back through ZooKeeper.
    ok(&c.topics(&[
        "--create",
        "--topic",
        "cfg",
        "--config",
        "min.insync.replicas=1",
        "--config",
        "max.message.bytes=2000",
    ]));
    let znode = c.get("/config/topics/cfg").expect("config znode");
    assert!(znode.contains(r#""max.message.bytes":"2000""#), "{znode}");
    assert!(znode.contains(r#""min.insync.replicas":"1""#), "{znode}");
    let o = c.configs_zk(&[
        "--describe",
        "--entity-type",
        "topics",
        "--entity-name",
        "cfg",
    ]);
    ok(&o);
    assert_eq!(
        o.stdout,
        "Configs for topic 'cfg' are max.message.bytes=2000,min.insync.replicas=1\n"
    );
    // Kafka 2.4 orders the Configs column by HashMap bucket, and the two modes fill maps of
    // different sizes (2 overrides vs every topic config), so for these two keys they
    // really differ.
    wait_until(Duration::from_secs(15), "leaders", || {
        let o = c.topics(&["--describe", "--topic", "cfg"]);
        (!o.stdout.contains("Leader: none") && o.stdout.contains("Leader: 0")).then_some(())
    })
    .expect("cfg has a leader");
    let o = c.topics(&["--describe", "--topic", "cfg"]);
    assert!(
        strip_static(&o.stdout).starts_with("Topic: cfg\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: min.insync.replicas=1,max.message.bytes=2000\n"),
        "{o:?}"
    );
    let o = c.topics_zk(&["--describe", "--topic", "cfg"]);
    assert!(
        o.stdout.starts_with("Topic: cfg\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: max.message.bytes=2000,min.insync.replicas=1\n"),
        "{o:?}"
    );

    // Changed and deleted through ZooKeeper: the Admin API sees it.
    ok(&c.configs_zk(&[
        "--alter",
        "--entity-type",
        "topics",
        "--entity-name",
        "cfg",
        "--add-config",
        "retention.ms=5000",
        "--delete-config",
        "max.message.bytes,min.insync.replicas",
    ]));
    let o = c.topics(&["--describe", "--topic", "cfg", "--topics-with-overrides"]);
    assert_eq!(
        strip_static(&o.stdout),
        "Topic: cfg\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: retention.ms=5000\n"
    );

    // kafka-configs --bootstrap-server: brokers only in Kafka 2.4.
    let o = c.configs(&[
        "--describe",
        "--entity-type",
        "topics",
        "--entity-name",
        "cfg",
    ]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr, "Invalid entity-type topics, --entity-type must be one of brokers,broker-loggers with the --bootstrap-server argument\n");
    let o = c.configs(&["--describe", "--entity-type", "brokers"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "At least one of --entity-name or --entity-default must be specified with --bootstrap-server\n"
    );
    let o = c.configs(&[
        "--describe",
        "--entity-type",
        "brokers",
        "--entity-name",
        "x",
    ]);
    assert_eq!(
        o.stderr,
        "The entity name for brokers must be a valid integer broker id , but it is: x\n"
    );
    // No dynamic broker configs are set: only the headers.
    let o = c.configs(&[
        "--describe",
        "--entity-type",
        "brokers",
        "--entity-name",
        "0",
    ]);
    ok(&o);
    assert_eq!(o.stdout, "Configs for broker 0 are:\n");
    let o = c.configs(&["--describe", "--entity-type", "brokers", "--entity-default"]);
    ok(&o);
    assert_eq!(o.stdout, "Default config for brokers in the cluster are:\n");
    // A broker that is not in the cluster: Kafka's node-assignment timeout, at once.
    let o = c.configs(&[
        "--describe",
        "--entity-type",
        "brokers",
        "--entity-name",
        "7",
    ]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment.\nCaused by: broker 7 is not in the cluster metadata\n"), "{o:?}");
    // Deleting a dynamic config that is not set fails before anything is sent.
    let o = c.configs(&[
        "--alter",
        "--entity-type",
        "brokers",
        "--entity-name",
        "0",
        "--delete-config",
        "log.cleaner.threads",
    ]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr, "Invalid config(s): log.cleaner.threads\n");
    assert!(c.get("/config/brokers/0").is_none());
}

#[test]
fn t40_unreachable_broker_times_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let props = dir.path().join("admin.properties");
    std::fs::write(&props, "# fail fast\nrequest.timeout.ms = 1500\n").expect("write");
    let props = props.to_string_lossy().into_owned();
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let started = Instant::now();
    let mut cmd = wrapper("kafka-topics.sh");
    cmd.args([
        "--bootstrap-server",
        &closed,
        "--command-config",
        &props,
        "--list",
    ]);
    let o = run(cmd, None);
    let took = started.elapsed();
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(o.stdout, "Error while executing topic command : org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment.\n");
    assert!(
        o.stderr.contains(&format!(
            "could not connect to any of the bootstrap servers {closed} within 1500 ms"
        )),
        "{o:?}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");

    let started = Instant::now();
    let mut cmd = wrapper("kafka-configs.sh");
    cmd.args([
        "--bootstrap-server",
        &closed,
        "--command-config",
        &props,
        "--describe",
        "--entity-type",
        "brokers",
        "--entity-name",
        "0",
    ]);
    let o = run(cmd, None);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o
        .stderr
        .starts_with("Error while executing config command with args '--bootstrap-server "));
    assert!(o.stderr.contains("java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment."));
    assert!(started.elapsed() < Duration::from_secs(10));

    // A missing --command-config file fails at once, as Java's Files.newInputStream does.
    let mut cmd = wrapper("kafka-topics.sh");
    cmd.args([
        "--bootstrap-server",
        &closed,
        "--command-config",
        "/nonexistent/admin.properties",
        "--list",
    ]);
    let o = run(cmd, None);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "Exception in thread \"main\" java.nio.file.NoSuchFileException: /nonexistent/admin.properties\n"
    );
}

#[test]
fn t50_two_brokers() {
    let mut c = Cluster::start(2);
    // Through broker 1, which is not the controller: creation is routed to broker 0.
    ok(&c.topics_via(
        1,
        &[
            "--create",
            "--topic",
            "r2",
            "--partitions",
            "2",
            "--replication-factor",
            "2",
        ],
    ));
    let d = wait_until(Duration::from_secs(20), "full ISRs", || {
        let a = c.topics_via(1, &["--describe", "--topic", "r2"]);
        let z = c.topics_zk(&["--describe", "--topic", "r2"]);
        let full = a
            .stdout
            .lines()
            .skip(1)
            .all(|l| l.ends_with("Isr: 0,1") || l.ends_with("Isr: 1,0"));
        let a = strip_static(&a.stdout);
        (a == z.stdout && a.lines().count() == 3 && full).then_some(a)
    })
    .expect("replicated topic");
    assert!(
        d.starts_with("Topic: r2\tPartitionCount: 2\tReplicationFactor: 2\tConfigs: \n"),
        "{d}"
    );
    // Partitions placed on broker 1 only.
    ok(&c.topics(&["--create", "--topic", "on1", "--replica-assignment", "1"]));
    wait_until(Duration::from_secs(15), "on1 led by 1", || {
        c.topics(&["--describe", "--topic", "on1"])
            .stdout
            .contains("Leader: 1")
            .then_some(())
    })
    .expect("on1 has leader 1");
    assert_eq!(
        c.topics(&["--describe", "--unavailable-partitions"]).stdout,
        ""
    );

    c.brokers[1].stop().expect("broker 1 stops");
    // Both modes agree on what is under-replicated and unavailable once broker 1 is gone.
    let under = wait_until(Duration::from_secs(30), "r2 to shrink its ISRs", || {
        let o = c.topics(&["--describe", "--under-replicated-partitions"]);
        (o.code == 0 && o.stdout.lines().filter(|l| l.contains("Topic: r2")).count() == 2)
            .then_some(o.stdout)
    })
    .expect("under-replicated partitions reported");
    assert!(under.lines().all(|l| l.starts_with("\tTopic: ")), "{under}");
    let unavailable = wait_until(Duration::from_secs(30), "both modes to agree", || {
        let a = c.topics(&["--describe", "--unavailable-partitions"]);
        let z = c.topics_zk(&["--describe", "--unavailable-partitions"]);
        let settled = a.stdout.contains("Topic: on1") && !a.stdout.contains("Topic: r2");
        (a.code == 0 && a.stdout == z.stdout && settled).then_some(a.stdout)
    })
    .expect("unavailable partitions reported");
    assert!(
        unavailable.starts_with("\tTopic: on1\tPartition: 0\tLeader: "),
        "{unavailable}"
    );
    assert_eq!(unavailable.lines().count(), 1, "{unavailable}");
}
