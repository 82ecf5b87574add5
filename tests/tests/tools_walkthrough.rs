//! The operator walkthrough, end to end through bin/, on one zkraft ZooKeeper and three zkraft
//! brokers (real `kafka-server` processes) on this host: create a topic, list, describe, grow
//! it, produce 100 lines with the console producer through broker A, consume them with the
//! console consumer through broker B in a group, describe the group, read the end and start
//! offsets with GetOffsetShell, add and remove a topic config, delete the topic, and list the
//! registered brokers with zookeeper-shell.
//!
//! Every output is compared with the exact text Kafka 2.4.1's tools print. Where a value is
//! legitimately variable -- the leader the controller picked, which partition the sticky
//! partitioner filled -- the expected text is computed from state read independently: the
//! znodes (Rust ZooKeeper client) and each partition's content (kcat, librdkafka's CLI).

mod tools_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tests::json::Json;
use tests::kafka::{kcat, kcat_available, KafkaBroker};
use tests::{wait_until, ServerKind, ServerOptions, TestServer};
use tools_support::{run, wrapper, Cases, Out};
use zookeeper_client as zkc;

const T: Duration = Duration::from_secs(30);
const TOPIC: &str = "w";
const GROUP: &str = "wg";
const MESSAGES: usize = 100;

/// How kafka-topics.sh reaches the cluster.
#[derive(Clone, Copy, Debug, PartialEq)]
enum TopicsVia {
    Zookeeper,
    BootstrapServer,
}

struct Stack {
    brokers: Vec<KafkaBroker>,
    rt: tokio::runtime::Runtime,
    zk: zkc::Client,
    server: TestServer,
}

impl Stack {
    fn start() -> Stack {
        assert!(
            kcat_available(),
            "kcat is not installed (scripts/install-test-deps.sh)"
        );
        let server =
            TestServer::start(ServerKind::Zkraft, ServerOptions::new()).expect("zookeeper starts");
        let brokers = (0..3)
            .map(|id| {
                KafkaBroker::start(&server.connect_string(), &[("broker.id", &id.to_string())])
                    .expect("broker starts")
            })
            .collect();
        // A worker thread keeps the session answering pings while the test waits on tools.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let zk = rt
            .block_on(zkc::Client::connect(&server.connect_string()))
            .expect("connect");
        Stack {
            brokers,
            rt,
            zk,
            server,
        }
    }

    fn get(&self, path: &str) -> Option<Json> {
        self.rt.block_on(async {
            match self.zk.get_data(path).await {
                Ok((d, _)) => Some(
                    Json::parse(&String::from_utf8_lossy(&d))
                        .unwrap_or_else(|e| panic!("{path}: {e}")),
                ),
                Err(zkc::Error::NoNode) => None,
                Err(e) => panic!("get {path}: {e}"),
            }
        })
    }

    fn topics(&self, via: TopicsVia, args: &[&str]) -> Out {
        let mut c = wrapper("kafka-topics.sh");
        match via {
            TopicsVia::Zookeeper => c.args(["--zookeeper", &self.server.connect_string()]),
            TopicsVia::BootstrapServer => c.args(["--bootstrap-server", &self.a()]),
        };
        c.args(args);
        run(c, None)
    }

    fn configs(&self, args: &[&str]) -> Out {
        let mut c = wrapper("kafka-configs.sh");
        c.args(["--zookeeper", &self.server.connect_string()])
            .args(args);
        run(c, None)
    }

    /// Broker A (the producer's) and broker B (the consumer's).
    fn a(&self) -> String {
        self.brokers[0].bootstrap()
    }
    fn b(&self) -> String {
        self.brokers[1].bootstrap()
    }

    /// Each partition's replicas (from the assignment znode) and, once the controller has
    /// elected every leader, its leader and ISR (from the state znodes).
    fn partitions(&self, count: usize) -> Vec<(Vec<i64>, i64, Vec<i64>)> {
        wait_until(T, "a leader for every partition", || {
            let assignment = self.get(&format!("/brokers/topics/{TOPIC}"))?;
            let parts = assignment.get("partitions")?.as_object()?.clone();
            if parts.len() != count {
                return None;
            }
            (0..count)
                .map(|p| {
                    let replicas = parts.get(&p.to_string())?.as_i64_vec()?;
                    let state =
                        self.get(&format!("/brokers/topics/{TOPIC}/partitions/{p}/state"))?;
                    let leader = state.get("leader")?.as_i64()?;
                    let isr = state.get("isr")?.as_i64_vec()?;
                    (leader >= 0).then_some((replicas, leader, isr))
                })
                .collect()
        })
        .expect("partition states")
    }

    /// Waits until broker `b` serves metadata with a leader for all `count` partitions.
    fn wait_metadata(&self, bootstrap: &str, count: usize) {
        wait_until(T, "metadata with every leader", || {
            let out = kcat(&["-b", bootstrap, "-L", "-t", TOPIC], None, T).ok()?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let leaders = text
                .lines()
                .filter(|l| l.trim_start().starts_with("partition ") && l.contains("leader "))
                .filter(|l| !l.contains("leader -1") && !l.contains("Err"))
                .count();
            (leaders == count).then_some(())
        })
        .expect("metadata");
    }

    /// Every message of partition `p`, in log order, read with kcat.
    fn partition_content(&self, p: usize) -> Vec<String> {
        let part = p.to_string();
        let bootstrap = self.a();
        let out = kcat(
            &[
                "-b",
                &bootstrap,
                "-C",
                "-t",
                TOPIC,
                "-p",
                &part,
                "-o",
                "beginning",
                "-e",
                "-q",
                "-f",
                "%s\n",
            ],
            None,
            T,
        )
        .expect("kcat -C");
        assert!(
            out.status.success(),
            "kcat: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// `kafka-topics.sh --describe` for the topic, as Kafka 2.4.1 prints it.
fn expected_describe(parts: &[(Vec<i64>, i64, Vec<i64>)], configs: &str) -> String {
    let join = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let mut s = format!(
        "Topic: {TOPIC}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {configs}\n",
        parts.len(),
        parts[0].0.len()
    );
    for (p, (replicas, leader, isr)) in parts.iter().enumerate() {
        s.push_str(&format!(
            "\tTopic: {TOPIC}\tPartition: {p}\tLeader: {leader}\tReplicas: {}\tIsr: {}\n",
            join(replicas),
            join(isr)
        ));
    }
    s
}

/// Compares `kafka-topics.sh --describe` output (see [`sort_configs`]).
fn assert_describe(via: TopicsVia, o: &Out, expected: &str) {
    assert_eq!(o.code, 0, "describe: {o:?}");
    match via {
        TopicsVia::Zookeeper => assert_eq!(o.stdout, expected, "{o:?}"),
        TopicsVia::BootstrapServer => {
            assert_eq!(sort_configs(&o.stdout), sort_configs(expected), "{o:?}")
        }
    }
}

/// One `kafka-consumer-groups.sh --describe` line (Kafka 2.4.1's column layout, all columns at
/// their minimum widths here).
fn group_row(cols: [&str; 9]) -> String {
    format!(
        "{:<15} {:<15} {:<10} {:<15} {:<15} {:<15} {:<15} {:<15} {}",
        cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8]
    )
}

fn step(name: &str, start: Instant) {
    eprintln!(
        "[walkthrough {:>5.1}s] {name}",
        start.elapsed().as_secs_f64()
    );
}

fn walkthrough(via: TopicsVia) {
    let start = Instant::now();
    let s = Stack::start();
    step("zookeeper and 3 brokers up", start);
    let ok = |o: &Out| assert_eq!(o.code, 0, "{o:?}");
    // Output comparisons are collected so one run tells every step that differs; what later
    // steps build on (the topic, its partitions, the produced lines) is asserted at once.
    let mut steps = Cases::new("walkthrough step(s) differ from Kafka 2.4.1");

    // 1. Create.
    let o = s.topics(
        via,
        &[
            "--create",
            "--topic",
            TOPIC,
            "--partitions",
            "3",
            "--replication-factor",
            "1",
        ],
    );
    steps.case("1 create", || {
        ok(&o);
        // Kafka 2.4.1 prints this line only in its ZooKeeper mode.
        let created = match via {
            TopicsVia::Zookeeper => format!("Created topic {TOPIC}.\n"),
            TopicsVia::BootstrapServer => String::new(),
        };
        assert_eq!(o.stdout, created, "{o:?}");
    });
    let parts = s.partitions(3);
    // Kafka's assignment: one replica each, leaders round robin over the three brokers.
    let mut leaders: Vec<i64> = parts.iter().map(|(r, _, _)| r[0]).collect();
    leaders.sort();
    assert_eq!(leaders, vec![0, 1, 2], "{parts:?}");
    step("created", start);

    steps.case("2 list", || {
        let o = s.topics(via, &["--list"]);
        ok(&o);
        assert_eq!(o.stdout, format!("{TOPIC}\n"), "{o:?}");
    });

    // 3. Describe: leaders and ISRs as the controller wrote them.
    steps.case("3 describe", || {
        let o = s.topics(via, &["--describe", "--topic", TOPIC]);
        assert_describe(via, &o, &expected_describe(&parts, &via_configs(via, "")));
    });

    // 4. Grow to 4 partitions; the first three keep their replicas.
    let o = s.topics(via, &["--alter", "--topic", TOPIC, "--partitions", "4"]);
    steps.case("4 alter --partitions 4", || {
        ok(&o);
        // Through a broker Kafka 2.4 prints nothing here.
        let want = match via {
            TopicsVia::Zookeeper => "WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected\nAdding partitions succeeded!\n",
            TopicsVia::BootstrapServer => "",
        };
        assert_eq!(o.stdout, want, "{o:?}");
    });
    let parts4 = s.partitions(4);
    assert_eq!(
        parts4[..3].iter().map(|p| &p.0).collect::<Vec<_>>(),
        parts.iter().map(|p| &p.0).collect::<Vec<_>>()
    );
    steps.case("4 describe after alter", || {
        let o = s.topics(via, &["--describe", "--topic", TOPIC]);
        assert_describe(via, &o, &expected_describe(&parts4, &via_configs(via, "")));
    });
    s.wait_metadata(&s.a(), 4);
    s.wait_metadata(&s.b(), 4);
    step("grown to 4 partitions", start);

    // 5. Produce 100 lines through broker A: one `>` prompt per line read, and one at EOF.
    let lines: Vec<String> = (0..MESSAGES).map(|i| format!("line-{i:03}")).collect();
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let mut c = wrapper("kafka-console-producer.sh");
    c.args(["--broker-list", &s.a(), "--topic", TOPIC]);
    let o = run(c, Some(&input));
    steps.case("5 console producer", || {
        ok(&o);
        assert_eq!(o.stdout, ">".repeat(MESSAGES + 1), "{o:?}");
        assert_eq!(o.stderr, "", "{o:?}");
    });
    // Where each line went, read back independently; per partition in production order.
    let content: Vec<Vec<String>> = (0..4).map(|p| s.partition_content(p)).collect();
    let mut all: Vec<String> = content.concat();
    all.sort();
    assert_eq!(all, lines, "every line exactly once");
    for (p, c) in content.iter().enumerate() {
        let mut sorted = c.clone();
        sorted.sort();
        assert_eq!(c, &sorted, "partition {p} out of order");
    }
    let counts: Vec<usize> = content.iter().map(Vec::len).collect();
    step(&format!("produced, per partition {counts:?}"), start);

    // 6. Consume them all through broker B in group wg.
    steps.case("6 console consumer", || {
        let mut c = wrapper("kafka-console-consumer.sh");
        c.args([
            "--bootstrap-server",
            &s.b(),
            "--topic",
            TOPIC,
            "--group",
            GROUP,
            "--from-beginning",
            "--max-messages",
            &MESSAGES.to_string(),
        ]);
        let o = run(c, None);
        ok(&o);
        assert_eq!(
            o.stderr,
            format!("Processed a total of {MESSAGES} messages\n"),
            "{o:?}"
        );
        let consumed: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(consumed.len(), MESSAGES, "{o:?}");
        for (p, c) in content.iter().enumerate() {
            let mine: Vec<&str> = consumed
                .iter()
                .copied()
                .filter(|l| c.iter().any(|x| x == l))
                .collect();
            assert_eq!(mine, *c, "partition {p}: consumed in another order");
        }
    });
    step("consumed", start);

    // 7. The group: empty now, every partition committed at its end, lag 0.
    steps.case("7 consumer-groups --describe", || {
        let mut c = wrapper("kafka-consumer-groups.sh");
        c.args(["--bootstrap-server", &s.b(), "--describe", "--group", GROUP]);
        let o = run(c, None);
        ok(&o);
        assert_eq!(
            o.stderr,
            format!("\nConsumer group '{GROUP}' has no active members.\n"),
            "{o:?}"
        );
        let header = group_row([
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
        ]);
        let (head, rows) = o
            .stdout
            .split_once(&format!("\n{header}\n"))
            .unwrap_or_else(|| panic!("no header in {o:?}"));
        assert_eq!(head, "", "{o:?}");
        // Kafka prints the rows of an empty group in its map's order: compare them as a set.
        let mut got: Vec<&str> = rows.lines().collect();
        got.sort();
        let mut want: Vec<String> = counts
            .iter()
            .enumerate()
            .map(|(p, n)| {
                let (p, n) = (p.to_string(), n.to_string());
                group_row([GROUP, TOPIC, &p, &n, &n, "0", "-", "-", "-"])
            })
            .collect();
        want.sort();
        assert_eq!(got, want, "{o:?}");
        assert_eq!(counts.iter().sum::<usize>(), MESSAGES);
    });
    step("group described", start);

    // 8. GetOffsetShell: end offsets total 100, start offsets 0.
    for (time, expect) in [("-1", counts.clone()), ("-2", vec![0; 4])] {
        steps.case(&format!("8 GetOffsetShell --time {time}"), || {
            let mut c = wrapper("kafka-run-class.sh");
            c.args([
                "kafka.tools.GetOffsetShell",
                "--broker-list",
                &s.a(),
                "--topic",
                TOPIC,
                "--time",
                time,
            ]);
            let o = run(c, None);
            ok(&o);
            let want: String = expect
                .iter()
                .enumerate()
                .map(|(p, n)| format!("{TOPIC}:{p}:{n}\n"))
                .collect();
            assert_eq!(o.stdout, want, "{o:?}");
        });
    }

    // 9. Topic config added, shown, removed.
    let entity = ["--entity-type", "topics", "--entity-name", TOPIC];
    let updated = format!("Completed Updating config for entity: topic '{TOPIC}'.\n");
    steps.case("9 kafka-configs --add-config", || {
        let o = s.configs(
            &[
                &entity[..],
                &["--alter", "--add-config", "retention.ms=1000"],
            ]
            .concat(),
        );
        ok(&o);
        assert_eq!(o.stdout, updated, "{o:?}");
        let o = s.configs(&[&entity[..], &["--describe"]].concat());
        assert_eq!(
            o.stdout,
            format!("Configs for topic '{TOPIC}' are retention.ms=1000\n"),
            "{o:?}"
        );
    });
    steps.case("9 describe with the override", || {
        let o = s.topics(via, &["--describe", "--topic", TOPIC]);
        assert_describe(
            via,
            &o,
            &expected_describe(&parts4, &via_configs(via, "retention.ms=1000")),
        );
    });
    steps.case("9 kafka-configs --delete-config", || {
        let o = s.configs(&[&entity[..], &["--alter", "--delete-config", "retention.ms"]].concat());
        ok(&o);
        assert_eq!(o.stdout, updated, "{o:?}");
        let o = s.configs(&[&entity[..], &["--describe"]].concat());
        assert_eq!(
            o.stdout,
            format!("Configs for topic '{TOPIC}' are \n"),
            "{o:?}"
        );
    });
    step("configs", start);

    // 10. Delete: marked, then gone (the controller deletes it); the offsets topic stays.
    steps.case("10 delete", || {
        let o = s.topics(via, &["--delete", "--topic", TOPIC]);
        ok(&o);
        let want = match via {
            TopicsVia::Zookeeper => format!("Topic {TOPIC} is marked for deletion.\nNote: This will have no impact if delete.topic.enable is not set to true.\n"),
            TopicsVia::BootstrapServer => String::new(),
        };
        assert_eq!(o.stdout, want, "{o:?}");
        let mut last = String::new();
        let gone = wait_until(T, "the topic to be deleted", || {
            let o = s.topics(via, &["--list"]);
            last = o.stdout;
            (last == "__consumer_offsets\n").then_some(())
        });
        assert!(gone.is_ok(), "--list still shows: {last:?}");
        assert!(s.get(&format!("/brokers/topics/{TOPIC}")).is_none());
        assert!(s.get(&format!("/admin/delete_topics/{TOPIC}")).is_none());
    });
    step("deleted", start);

    // 11. The registered brokers, through zookeeper-shell.
    steps.case("11 zookeeper-shell ls /brokers/ids", || {
        let hp = s.server.connect_string();
        let mut c = wrapper("zookeeper-shell.sh");
        c.args([hp.as_str(), "ls", "/brokers/ids"]);
        let o = run(c, None);
        ok(&o);
        assert_eq!(
            o.stdout,
            format!("Connecting to {hp}\n\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n[0, 1, 2]\n"),
            "{o:?}"
        );
    });
    step("done", start);
    steps.finish();
}

/// The `Configs:` column of `--describe`. Through ZooKeeper it is the topic's overrides.
/// Through a broker it is every DescribeConfigs entry not sourced from Kafka's defaults: the
/// overrides, and each topic config whose exact broker synonym (Kafka's
/// `LogConfig.TopicConfigSynonyms`) the broker's static configuration sets.
fn via_configs(via: TopicsVia, overrides: &str) -> String {
    match via {
        TopicsVia::Zookeeper => overrides.to_owned(),
        TopicsVia::BootstrapServer => {
            let mut all = static_topic_configs();
            for kv in overrides.split(',').filter(|s| !s.is_empty()) {
                if let Some((k, v)) = kv.split_once('=') {
                    all.insert(k.to_owned(), v.to_owned());
                }
            }
            all.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        }
    }
}

/// Topic configs and the broker keys they inherit from (Kafka 2.4's `TopicConfigSynonyms`).
const TOPIC_SYNONYMS: [(&str, &str); 24] = [
    ("segment.bytes", "log.segment.bytes"),
    ("segment.ms", "log.roll.ms"),
    ("segment.jitter.ms", "log.roll.jitter.ms"),
    ("segment.index.bytes", "log.index.size.max.bytes"),
    ("flush.messages", "log.flush.interval.messages"),
    ("flush.ms", "log.flush.interval.ms"),
    ("retention.bytes", "log.retention.bytes"),
    ("retention.ms", "log.retention.ms"),
    ("max.message.bytes", "message.max.bytes"),
    ("index.interval.bytes", "log.index.interval.bytes"),
    ("delete.retention.ms", "log.cleaner.delete.retention.ms"),
    ("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms"),
    ("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms"),
    ("file.delete.delay.ms", "log.segment.delete.delay.ms"),
    (
        "min.cleanable.dirty.ratio",
        "log.cleaner.min.cleanable.ratio",
    ),
    ("cleanup.policy", "log.cleanup.policy"),
    (
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
    ),
    ("min.insync.replicas", "min.insync.replicas"),
    ("compression.type", "compression.type"),
    ("preallocate", "log.preallocate"),
    ("message.format.version", "log.message.format.version"),
    ("message.timestamp.type", "log.message.timestamp.type"),
    (
        "message.timestamp.difference.max.ms",
        "log.message.timestamp.difference.max.ms",
    ),
    (
        "message.downconversion.enable",
        "log.message.downconversion.enable",
    ),
];

/// The topic configs the brokers' config/server.properties sets through an exact synonym
/// (the harness's `--override`s set none).
fn static_topic_configs() -> BTreeMap<String, String> {
    let path = tests::server::workspace_root().join("config/server.properties");
    let text = std::fs::read_to_string(&path).expect("config/server.properties");
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if let Some((topic_key, _)) = TOPIC_SYNONYMS.iter().find(|(_, b)| *b == k.trim()) {
            out.insert((*topic_key).to_owned(), v.trim().to_owned());
        }
    }
    out
}

/// `--describe` output with the entries of each `Configs:` column sorted: through a broker
/// Kafka lists them in the order of its config map, which is not specified.
fn sort_configs(describe: &str) -> String {
    describe
        .lines()
        .map(|l| match l.split_once("\tConfigs: ") {
            Some((head, configs)) if !l.starts_with('\t') => {
                let mut c: Vec<&str> = configs.split(',').collect();
                c.sort();
                format!("{head}\tConfigs: {}\n", c.join(","))
            }
            _ => format!("{l}\n"),
        })
        .collect()
}

#[test]
fn t10_walkthrough_zookeeper() {
    walkthrough(TopicsVia::Zookeeper);
}

/// The same walkthrough with `kafka-topics.sh --bootstrap-server` (Kafka 2.4's admin-client
/// mode) against broker A.
#[test]
fn t20_walkthrough_bootstrap_server() {
    walkthrough(TopicsVia::BootstrapServer);
}
