//! Dynamic broker configs (Kafka 2.4 semantics) on zkraft's broker, driven by
//! `kafka-configs.sh --bootstrap-server --entity-type brokers` (AlterConfigs/DescribeConfigs),
//! `kafka-configs.sh --zookeeper` (written before the broker starts, read at its startup),
//! confluent-kafka's AdminClient (librdkafka: DescribeConfigs sources, IncrementalAlterConfigs)
//! and kcat (a changed `message.max.bytes` default applies to an existing partition at once).

mod tools_support;

use std::process::Command;
use std::time::Duration;

use tests::kafka::{kcat, kcat_available, KafkaBroker};
use tests::{wait_until, ServerKind, ServerOptions, TestServer};
use tools_support::{run, wrapper, Out};
use zookeeper_client as zkc;

fn configs(bootstrap: &str, args: &[&str]) -> Out {
    let mut c = wrapper("kafka-configs.sh");
    c.args(["--bootstrap-server", bootstrap]).args(args);
    run(c, None)
}

fn configs_zk(zk: &str, args: &[&str]) -> Out {
    let mut c = wrapper("kafka-configs.sh");
    c.args(["--zookeeper", zk]).args(args);
    run(c, None)
}

fn topics(bootstrap: &str, args: &[&str]) -> Out {
    let mut c = wrapper("kafka-topics.sh");
    c.args(["--bootstrap-server", bootstrap]).args(args);
    run(c, None)
}

fn ok(o: &Out) {
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stderr, "", "{o:?}");
}

fn broker0(bs: &str, args: &[&str]) -> Out {
    let mut all = vec!["--entity-type", "brokers", "--entity-name", "0"];
    all.extend_from_slice(args);
    configs(bs, &all)
}

fn cluster_default(bs: &str, args: &[&str]) -> Out {
    let mut all = vec!["--entity-type", "brokers", "--entity-default"];
    all.extend_from_slice(args);
    configs(bs, &all)
}

/// Runs a Python script using confluent-kafka; returns its stdout.
fn python(script: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("python3 runs (scripts/install-test-deps.sh installs confluent-kafka)");
    assert!(
        out.status.success(),
        "confluent-kafka: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `name value source` of `keys` of a config resource, as confluent-kafka describes it.
fn librdkafka_describe(bs: &str, ty: &str, name: &str, keys: &[&str]) -> String {
    python(&format!(
        "from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource\n\
         a = AdminClient({{'bootstrap.servers': '{bs}'}})\n\
         r = ConfigResource('{ty}', '{name}')\n\
         c = a.describe_configs([r])[r].result(timeout=20)\n\
         for k in {keys:?}:\n\
         \x20   e = c[k]\n\
         \x20   print(k, e.value, ConfigSource(e.source).name)\n"
    ))
}

/// Producing one `size`-byte record to `topic` with kcat: Ok, or kcat's error text.
fn produce(bs: &str, topic: &str, size: usize) -> Result<(), String> {
    let record = vec![b'x'; size];
    let out = kcat(
        &[
            "-b",
            bs,
            "-P",
            "-t",
            topic,
            "-p",
            "0",
            "-X",
            "message.max.bytes=2000000",
        ],
        Some(&record),
        Duration::from_secs(20),
    )
    .expect("kcat -P");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() && !err.contains("failed") {
        Ok(())
    } else {
        Err(err)
    }
}

fn get(zk_connect: &str, path: &str) -> Option<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let zk = zkc::Client::connect(zk_connect).await.expect("zk client");
        match zk.get_data(path).await {
            Ok((d, _)) => Some(String::from_utf8_lossy(&d).into_owned()),
            Err(zkc::Error::NoNode) => None,
            Err(e) => panic!("get {path}: {e}"),
        }
    })
}

#[test]
fn dynamic_broker_configs() {
    assert!(kcat_available(), "kcat is not installed");
    let server =
        TestServer::start(ServerKind::from_env(), ServerOptions::new()).expect("zk starts");
    let zk = server.connect_string();

    // Written through ZooKeeper before the broker runs (Kafka's bootstrapping case): the
    // broker reads it at startup.
    let o = configs_zk(
        &zk,
        &[
            "--alter",
            "--entity-type",
            "brokers",
            "--entity-name",
            "0",
            "--add-config",
            "log.cleaner.threads=2",
        ],
    );
    ok(&o);
    let broker = KafkaBroker::start(&zk, &[("broker.id", "0")]).expect("broker starts");
    let bs = broker.bootstrap();
    let o = broker0(&bs, &["--describe"]);
    ok(&o);
    assert_eq!(
        o.stdout,
        "Configs for broker 0 are:\n  log.cleaner.threads=2 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.cleaner.threads=2, DEFAULT_CONFIG:log.cleaner.threads=1}\n"
    );

    // Per-broker value through the Admin API; kafka-configs sends the whole set.
    let o = broker0(&bs, &["--alter", "--add-config", "log.retention.ms=1000"]);
    ok(&o);
    assert_eq!(o.stdout, "Completed updating config for broker: 0.\n");
    let znode = get(&zk, "/config/brokers/0").expect("per-broker znode");
    assert!(znode.contains(r#""log.retention.ms":"1000""#), "{znode}");
    assert!(znode.contains(r#""log.cleaner.threads":"2""#), "{znode}");
    let o = broker0(&bs, &["--describe"]);
    ok(&o);
    let mut lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.remove(0), "Configs for broker 0 are:");
    lines.sort();
    assert_eq!(
        lines,
        [
            "  log.cleaner.threads=2 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.cleaner.threads=2, DEFAULT_CONFIG:log.cleaner.threads=1}",
            "  log.retention.ms=1000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=1000, STATIC_BROKER_CONFIG:log.retention.hours=168, DEFAULT_CONFIG:log.retention.hours=168}",
        ]
    );

    // --delete-config: the rest stays.
    ok(&broker0(
        &bs,
        &["--alter", "--delete-config", "log.cleaner.threads"],
    ));
    let o = broker0(&bs, &["--describe"]);
    assert_eq!(
        o.stdout,
        "Configs for broker 0 are:\n  log.retention.ms=1000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=1000, STATIC_BROKER_CONFIG:log.retention.hours=168, DEFAULT_CONFIG:log.retention.hours=168}\n"
    );

    // Read-only keys: Kafka's refusal, nothing written.
    for (kv, key) in [
        ("broker.id=5", "broker.id"),
        ("log.dirs=/tmp/x", "log.dirs"),
    ] {
        let o = broker0(&bs, &["--alter", "--add-config", kv]);
        assert_eq!(o.code, 1, "{o:?}");
        assert!(
            o.stderr
                .starts_with("Error while executing config command with args"),
            "{o:?}"
        );
        assert!(
            o.stderr.contains(&format!("java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.InvalidRequestException: Invalid config value for resource ConfigResource(type=BROKER, name='0'): Cannot update these configs dynamically: Set({key})")),
            "{o:?}"
        );
    }
    let o = cluster_default(&bs, &["--alter", "--add-config", "log.retention.hours=1"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("InvalidRequestException: Invalid config value for resource ConfigResource(type=BROKER, name=''): Cannot update these configs dynamically: Set(log.retention.hours)"), "{o:?}");
    let o = broker0(&bs, &["--alter", "--add-config", "log.retention.ms=abc"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains(
            "Invalid value abc for configuration log.retention.ms: Not a number of type LONG"
        ),
        "{o:?}"
    );
    let znode = get(&zk, "/config/brokers/0").expect("per-broker znode");
    assert!(
        !znode.contains("broker.id") && !znode.contains("abc"),
        "{znode}"
    );

    // Cluster default.
    let o = cluster_default(&bs, &["--alter", "--add-config", "log.retention.ms=2000"]);
    ok(&o);
    assert_eq!(
        o.stdout,
        "Completed updating default config for brokers in the cluster,\n"
    );
    assert!(get(&zk, "/config/brokers/<default>")
        .expect("default znode")
        .contains(r#""log.retention.ms":"2000""#));
    let o = cluster_default(&bs, &["--describe"]);
    ok(&o);
    assert_eq!(
        o.stdout,
        "Default config for brokers in the cluster are:\n  log.retention.ms=2000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=2000}\n"
    );
    let o = broker0(&bs, &["--describe"]);
    assert_eq!(
        o.stdout,
        "Configs for broker 0 are:\n  log.retention.ms=1000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=1000, DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=2000, STATIC_BROKER_CONFIG:log.retention.hours=168, DEFAULT_CONFIG:log.retention.hours=168}\n"
    );

    // A topic without override: the per-broker value wins, then (once deleted) the default.
    ok(&topics(
        &bs,
        &[
            "--create",
            "--topic",
            "dyn",
            "--partitions",
            "1",
            "--replication-factor",
            "1",
        ],
    ));
    let o = topics(&bs, &["--describe", "--topic", "dyn"]);
    assert!(o.stdout.contains("retention.ms=1000"), "{o:?}");
    ok(&broker0(
        &bs,
        &["--alter", "--delete-config", "log.retention.ms"],
    ));
    assert_eq!(
        broker0(&bs, &["--describe"]).stdout,
        "Configs for broker 0 are:\n"
    );
    let o = topics(&bs, &["--describe", "--topic", "dyn"]);
    assert!(o.stdout.contains("retention.ms=2000"), "{o:?}");
    assert_eq!(
        librdkafka_describe(&bs, "topic", "dyn", &["retention.ms", "segment.bytes", "flush.ms"]),
        "retention.ms 2000 DYNAMIC_DEFAULT_BROKER_CONFIG\nsegment.bytes 1073741824 STATIC_BROKER_CONFIG\nflush.ms 9223372036854775807 DEFAULT_CONFIG\n"
    );
    assert_eq!(
        librdkafka_describe(&bs, "broker", "0", &["log.retention.ms", "broker.id"]),
        "log.retention.ms 2000 DYNAMIC_DEFAULT_BROKER_CONFIG\nbroker.id 0 STATIC_BROKER_CONFIG\n"
    );

    // Applied live to an existing partition: a smaller default message.max.bytes refuses a
    // record the partition took before, through librdkafka's producer; a larger per-broker
    // value (IncrementalAlterConfigs from confluent-kafka, which cannot name the default
    // resource) wins over it, and deleting it brings the default back.
    wait_until(Duration::from_secs(15), "dyn to take a record", || {
        produce(&bs, "dyn", 1000).ok()
    })
    .expect("record produced");
    ok(&cluster_default(
        &bs,
        &["--alter", "--add-config", "message.max.bytes=500"],
    ));
    let err = produce(&bs, "dyn", 1000).expect_err("too large now");
    assert!(err.contains("Message size too large"), "{err}");
    let incremental = |ops: &str| {
        python(&format!(
            "from confluent_kafka.admin import AdminClient, ConfigResource, ConfigEntry, AlterConfigOpType as T\n\
             a = AdminClient({{'bootstrap.servers': '{bs}'}})\n\
             r = ConfigResource('broker', '0', incremental_configs=[{ops}])\n\
             try:\n\
             \x20   a.incremental_alter_configs([r])[r].result(timeout=20)\n\
             \x20   print('ok')\n\
             except Exception as e:\n\
             \x20   print(e.args[0].name(), e.args[0].str())\n"
        ))
    };
    assert_eq!(
        incremental(
            "ConfigEntry('message.max.bytes', '1500000', incremental_operation=T.SET), \
             ConfigEntry('metric.reporters', 'a.B', incremental_operation=T.APPEND)"
        ),
        "ok\n"
    );
    produce(&bs, "dyn", 1000).expect("the per-broker value wins");
    assert_eq!(
        incremental("ConfigEntry('log.retention.ms', '1', incremental_operation=T.APPEND)"),
        "INVALID_REQUEST Config value append is not allowed for config key: log.retention.ms\n"
    );
    assert_eq!(
        incremental(
            "ConfigEntry('metric.reporters', 'c.D', incremental_operation=T.APPEND), \
             ConfigEntry('message.max.bytes', None, incremental_operation=T.DELETE)"
        ),
        "ok\n"
    );
    let err = produce(&bs, "dyn", 1000).expect_err("the default applies again");
    assert!(err.contains("Message size too large"), "{err}");
    let o = broker0(&bs, &["--describe"]);
    assert_eq!(
        o.stdout,
        "Configs for broker 0 are:\n  metric.reporters=a.B,c.D sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:metric.reporters=a.B,c.D, DEFAULT_CONFIG:metric.reporters=}\n"
    );
    ok(&cluster_default(
        &bs,
        &["--alter", "--delete-config", "message.max.bytes"],
    ));
    produce(&bs, "dyn", 1000).expect("the static default applies again");

    // Another broker's id, and a bad one: Kafka's refusals.
    let out = python(&format!(
        "from confluent_kafka.admin import AdminClient, ConfigResource\n\
         a = AdminClient({{'bootstrap.servers': '{bs}'}})\n\
         r = ConfigResource('broker', '0', set_config={{'broker.id': '3'}})\n\
         try:\n\
         \x20   a.alter_configs([r], validate_only=True)[r].result(timeout=20)\n\
         except Exception as e:\n\
         \x20   print(e.args[0].name(), e.args[0].str())\n\
         r = ConfigResource('broker', '0', set_config={{'log.roll.ms': '60000'}})\n\
         a.alter_configs([r], validate_only=True)[r].result(timeout=20)\n"
    ));
    assert_eq!(
        out,
        "INVALID_REQUEST Invalid config value for resource ConfigResource(type=BROKER, name='0'): Cannot update these configs dynamically: Set(broker.id)\n"
    );
    // validate_only wrote nothing.
    let o = broker0(&bs, &["--describe"]);
    assert!(!o.stdout.contains("log.roll.ms"), "{o:?}");
}

/// A change written through ZooKeeper while the broker runs (allowed by kafka-configs for the
/// replication throttles) reaches the broker through `/config/changes`; both layers survive
/// a restart.
#[test]
fn zookeeper_changes_and_restart() {
    let server =
        TestServer::start(ServerKind::from_env(), ServerOptions::new()).expect("zk starts");
    let zk = server.connect_string();
    let mut broker = KafkaBroker::start(&zk, &[("broker.id", "0")]).expect("broker starts");
    let bs = broker.bootstrap();
    ok(&configs_zk(
        &zk,
        &[
            "--alter",
            "--entity-type",
            "brokers",
            "--entity-default",
            "--add-config",
            "follower.replication.throttled.rate=100",
        ],
    ));
    // Kafka's broker does not know this key's type, so it hides the value.
    let want = "Default config for brokers in the cluster are:\n  follower.replication.throttled.rate=null sensitive=true synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:follower.replication.throttled.rate=null}\n";
    wait_until(
        Duration::from_secs(15),
        "the broker to see the change",
        || (cluster_default(&bs, &["--describe"]).stdout == want).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}", cluster_default(&bs, &["--describe"])));
    // kafka-configs then needs every hidden entry restated to alter the default.
    let o = cluster_default(&bs, &["--alter", "--add-config", "log.retention.ms=3000"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(o.stderr, "All sensitive broker config entries must be specified for --alter, missing entries: Set(follower.replication.throttled.rate)\n");
    ok(&cluster_default(
        &bs,
        &[
            "--alter",
            "--add-config",
            "log.retention.ms=3000,follower.replication.throttled.rate=100",
        ],
    ));
    ok(&broker0(
        &bs,
        &["--alter", "--add-config", "num.io.threads=4"],
    ));
    broker.stop().expect("broker stops");
    broker.restart().expect("broker restarts");
    let bs = broker.bootstrap();
    assert_eq!(
        librdkafka_describe(&bs, "broker", "0", &["log.retention.ms", "num.io.threads"]),
        "log.retention.ms 3000 DYNAMIC_DEFAULT_BROKER_CONFIG\nnum.io.threads 4 DYNAMIC_BROKER_CONFIG\n"
    );
}

/// With two brokers, a cluster default set through broker 0 reaches broker 1 through the
/// change notification; broker 1 refuses broker 0's resource as Kafka does.
#[test]
fn cluster_default_reaches_other_broker() {
    let server =
        TestServer::start(ServerKind::from_env(), ServerOptions::new()).expect("zk starts");
    let zk = server.connect_string();
    let b0 = KafkaBroker::start(&zk, &[("broker.id", "0")]).expect("broker 0 starts");
    let b1 = KafkaBroker::start(&zk, &[("broker.id", "1")]).expect("broker 1 starts");
    ok(&cluster_default(
        &b0.bootstrap(),
        &[
            "--alter",
            "--add-config",
            "log.retention.ms=4000,log.cleaner.delete.retention.ms=5000",
        ],
    ));
    let bs1 = b1.bootstrap();
    wait_until(
        Duration::from_secs(15),
        "broker 1 to apply the default",
        || {
            (librdkafka_describe(&bs1, "broker", "1", &["log.retention.ms"])
                == "log.retention.ms 4000 DYNAMIC_DEFAULT_BROKER_CONFIG\n")
                .then_some(())
        },
    )
    .expect("default applied on broker 1");
    let out = python(&format!(
        "from confluent_kafka.admin import AdminClient, ConfigResource\n\
         a = AdminClient({{'bootstrap.servers': '{bs1}'}})\n\
         r = ConfigResource('broker', '1', set_config={{'log.retention.ms': '5'}})\n\
         a.alter_configs([r])[r].result(timeout=20)\n\
         print('ok')\n"
    ));
    assert_eq!(out, "ok\n");
    assert_eq!(
        librdkafka_describe(&bs1, "broker", "1", &["log.retention.ms"]),
        "log.retention.ms 5 DYNAMIC_BROKER_CONFIG\n"
    );
    // A key this broker only stores (no cleaner) still shows as the topic default.
    ok(&topics(
        &b0.bootstrap(),
        &[
            "--create",
            "--topic",
            "t",
            "--partitions",
            "2",
            "--replication-factor",
            "1",
        ],
    ));
    assert_eq!(
        librdkafka_describe(&b0.bootstrap(), "topic", "t", &["delete.retention.ms", "retention.ms"]),
        "delete.retention.ms 5000 DYNAMIC_DEFAULT_BROKER_CONFIG\nretention.ms 4000 DYNAMIC_DEFAULT_BROKER_CONFIG\n"
    );
    // Broker 0 keeps the default: the per-broker value was broker 1's.
    assert_eq!(
        librdkafka_describe(&b0.bootstrap(), "broker", "0", &["log.retention.ms"]),
        "log.retention.ms 4000 DYNAMIC_DEFAULT_BROKER_CONFIG\n"
    );
}
