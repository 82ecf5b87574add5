//! kafka-consumer-groups.sh and `kafka-run-class.sh kafka.tools.GetOffsetShell` (zkraft's,
//! Kafka 2.4 behaviour) against zkraft's broker, with groups made by a real client
//! (confluent-kafka, librdkafka's Python binding) and data produced by kcat. Outputs are
//! compared with Kafka 2.4's exact texts, lags with what was produced and committed, and a
//! reset is checked by a real consumer resuming from the new offsets.
//!
//! t10: a live group, then the same group empty (describe/list/members/state, reset, delete,
//! GetOffsetShell); t20: option checks; t30: an unreachable broker.

mod tools_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tests::kafka::{kcat, kcat_available, KafkaBroker};
use tests::server::free_port;
use tests::{wait_until, ServerKind, ServerOptions, TestServer};
use tools_support::{run, wrapper, Out};

/// A confluent-kafka consumer in a group. `commit`: joins, commits the offsets given (one
/// per partition, from partition 0), prints its member id and stays in the group until
/// stdin closes. `consume N`: reads N messages and prints the first offset it got from each
/// partition.
const CLIENT: &str = r#"
import sys, time
import confluent_kafka as ck
mode, bs, group, topic = sys.argv[1:5]
c = ck.Consumer({'bootstrap.servers': bs, 'group.id': group, 'client.id': 'pyclient',
                 'auto.offset.reset': 'earliest', 'enable.auto.commit': False,
                 'session.timeout.ms': 6000})
c.subscribe([topic])
deadline = time.time() + 25
if mode == 'commit':
    offsets = [int(x) for x in sys.argv[5:]]
    while len(c.assignment()) < len(offsets) and time.time() < deadline:
        c.poll(0.1)
    c.commit(offsets=[ck.TopicPartition(topic, p, o) for p, o in enumerate(offsets)],
             asynchronous=False)
    print('member', c.memberid(), len(c.assignment()), flush=True)
    sys.stdin.read()
else:
    want, n, first = int(sys.argv[5]), 0, {}
    while n < want and time.time() < deadline:
        m = c.poll(0.1)
        if m is None or m.error():
            continue
        first.setdefault(m.partition(), m.offset())
        n += 1
    print('count', n, *('%d:%d' % kv for kv in sorted(first.items())), flush=True)
c.close()
"#;

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn client_script() -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".py")
        .tempfile()
        .expect("temp file");
    f.write_all(CLIENT.as_bytes()).expect("write script");
    f
}

struct Cluster {
    broker: KafkaBroker,
    zk_connect: String,
    _server: TestServer,
}

impl Cluster {
    fn start() -> Cluster {
        assert!(kcat_available(), "kcat is not installed");
        let server =
            TestServer::start(ServerKind::from_env(), ServerOptions::new()).expect("zk starts");
        let zk_connect = server.connect_string();
        let broker = KafkaBroker::start(&zk_connect, &[]).expect("broker starts");
        Cluster {
            broker,
            zk_connect,
            _server: server,
        }
    }

    fn bootstrap(&self) -> String {
        self.broker.bootstrap()
    }

    /// kafka-consumer-groups.sh --bootstrap-server <broker> args...
    fn groups(&self, args: &[&str]) -> Out {
        let mut c = wrapper("kafka-consumer-groups.sh");
        c.args(["--bootstrap-server", &self.bootstrap()]).args(args);
        run(c, None)
    }

    fn offsets(&self, args: &[&str]) -> Out {
        let mut c = wrapper("kafka-run-class.sh");
        c.args([
            "kafka.tools.GetOffsetShell",
            "--broker-list",
            &self.bootstrap(),
        ])
        .args(args);
        run(c, None)
    }

    fn create_topic(&self, topic: &str, partitions: u32) {
        let mut c = wrapper("kafka-topics.sh");
        c.args([
            "--zookeeper",
            &self.zk_connect,
            "--create",
            "--topic",
            topic,
        ])
        .args(["--partitions", &partitions.to_string()])
        .args(["--replication-factor", "1"]);
        let out = run(c, None);
        assert_eq!(out.code, 0, "{out:?}");
    }

    /// Produces `n` messages to `partition` with kcat.
    fn produce(&self, topic: &str, partition: i32, n: usize) {
        let lines: String = (0..n).map(|i| format!("m{partition}-{i}\n")).collect();
        let bootstrap = self.bootstrap();
        let p = partition.to_string();
        let out = kcat(
            &["-b", &bootstrap, "-P", "-t", topic, "-p", &p],
            Some(lines.as_bytes()),
            Duration::from_secs(20),
        )
        .expect("kcat runs");
        assert!(out.status.success(), "kcat: {out:?}");
    }
}

/// A group member kept alive by an open stdin.
struct Member {
    child: Child,
    stdin: Option<ChildStdin>,
    id: String,
    _script: tempfile::NamedTempFile,
}

impl Member {
    fn join(bootstrap: &str, group: &str, topic: &str, commits: &[i64]) -> Member {
        let script = client_script();
        let mut cmd = Command::new(python());
        cmd.arg(script.path())
            .args(["commit", bootstrap, group, topic])
            .args(commits.iter().map(i64::to_string))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        tests::server::die_with_test(&mut cmd);
        let mut child = cmd.spawn().expect("python3 starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(40))
            .expect("the consumer joins and commits");
        // "member <id> <number of assigned partitions>"
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            words.as_slice(),
            [
                "member",
                words.get(1).copied().unwrap_or("?"),
                &commits.len().to_string()
            ],
            "the consumer said {line:?}"
        );
        Member {
            child,
            stdin,
            id: words[1].to_owned(),
            _script: script,
        }
    }

    /// Closes stdin: the consumer leaves the group and exits.
    fn leave(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().expect("wait").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("the consumer did not leave");
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `n` messages as a member of `group`: "count <n> <partition>:<first offset> ...".
fn consume(bootstrap: &str, group: &str, topic: &str, n: usize) -> String {
    let script = client_script();
    let mut cmd = Command::new(python());
    cmd.arg(script.path())
        .args(["consume", bootstrap, group, topic, &n.to_string()]);
    let out = run(cmd, None);
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout.trim().to_owned()
}

/// One line of Kafka's offsets table: `%-Gs %-Ts %-10s %-15s %-15s %-15s %-Cs %-Hs %s`.
fn offsets_line(w: (usize, usize, usize, usize), cols: [&str; 9]) -> String {
    let (g, t, c, h) = w;
    format!(
        "{:<g$} {:<t$} {:<10} {:<15} {:<15} {:<15} {:<c$} {:<h$} {}\n",
        cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8]
    )
}

#[test]
fn t10_group_lifecycle() {
    let c = Cluster::start();
    let topic = "test";
    let group = "g-orders";
    c.create_topic(topic, 3);
    // Partition p holds 4 + p messages: log-end offsets 4, 5, 6.
    for p in 0..3 {
        c.produce(topic, p, 4 + p as usize);
    }

    // GetOffsetShell: the latest offsets add up to what was produced, the earliest are 0.
    let latest = c.offsets(&["--topic", topic]);
    assert_eq!(latest.code, 0, "{latest:?}");
    assert_eq!(latest.stdout, "test:0:4\ntest:1:5\ntest:2:6\n");
    let total: i64 = latest
        .stdout
        .lines()
        .map(|l| l.rsplit(':').next().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, 15);
    let earliest = c.offsets(&["--topic", topic, "--time", "-2", "--partitions", "2,0,9"]);
    assert_eq!(earliest.stdout, "test:0:0\ntest:2:0\n", "{earliest:?}");
    assert_eq!(earliest.stderr, "Error: partition 9 does not exist\n");
    let future = c.offsets(&["--topic", topic, "--time", "99999999999999"]);
    assert_eq!(future.stdout, "test:0:\ntest:1:\ntest:2:\n", "{future:?}");
    let missing = c.offsets(&["--topic", "nope"]);
    assert_eq!(missing.code, 1);
    assert_eq!(missing.stderr, "Topic nope does not exist\n");

    // A live member that committed 1, 3 and 6: lags 3, 2 and 0.
    let m = Member::join(&c.bootstrap(), group, topic, &[1, 3, 6]);
    let list = c.groups(&["--list"]);
    assert_eq!(list.code, 0, "{list:?}");
    assert!(list.stdout.lines().any(|l| l == group), "{list:?}");

    let w = (15, 15, m.id.len().max(15), 15);
    let mut expected = String::from("\n");
    expected += &offsets_line(
        w,
        [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
        ],
    );
    for (p, (cur, end, lag)) in [(1, 4, 3), (3, 5, 2), (6, 6, 0)].iter().enumerate() {
        expected += &offsets_line(
            w,
            [
                group,
                topic,
                &p.to_string(),
                &cur.to_string(),
                &end.to_string(),
                &lag.to_string(),
                &m.id,
                "/127.0.0.1",
                "pyclient",
            ],
        );
    }
    let d = c.groups(&["--describe", "--group", group]);
    assert_eq!(
        (d.code, d.stdout.as_str(), d.stderr.as_str()),
        (0, expected.as_str(), "")
    );

    let cw = m.id.len().max(15);
    let members = c.groups(&["--describe", "--group", group, "--members", "--verbose"]);
    assert_eq!(
        members.stdout,
        format!(
            "\n{:<15} {:<cw$} {:<15} {:<15} {:<15} ASSIGNMENT\n{:<15} {:<cw$} {:<15} {:<15} {:<15} test(0,1,2)\n",
            "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS",
            group, m.id, "/127.0.0.1", "pyclient", 3
        ),
        "{members:?}"
    );
    let members = c.groups(&["--describe", "--group", group, "--members"]);
    assert!(members.stdout.ends_with(&format!(
        "{:<15} {:<cw$} {:<15} {:<15} {:<15} \n",
        group, m.id, "/127.0.0.1", "pyclient", 3
    )));
    let state = c.groups(&["--describe", "--group", group, "--state"]);
    let coord = format!("{} (0)", c.bootstrap());
    let sw = coord.len().max(25);
    assert_eq!(
        state.stdout,
        format!(
            "\n{:<sw$} {:<25} {:<20} {:<15} #MEMBERS\n{:<sw$} {:<25} {:<20} {:<15} 1\n",
            "GROUP",
            "COORDINATOR (ID)",
            "ASSIGNMENT-STRATEGY",
            "STATE",
            group,
            coord,
            "range",
            "Stable"
        ),
        "{state:?}"
    );

    // A live group can be neither reset nor deleted.
    let r = c.groups(&[
        "--reset-offsets",
        "--group",
        group,
        "--topic",
        topic,
        "--to-earliest",
        "--execute",
    ]);
    assert_eq!(
        r.stdout,
        format!("\nError: Assignments can only be reset if the group '{group}' is inactive, but the current state is Stable.\n\n{:<30} {:<30} {:<10} {:<15}\n", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"),
        "{r:?}"
    );
    let del = c.groups(&["--delete", "--group", group]);
    assert_eq!(
        del.stdout,
        format!("\nError: Deletion of some consumer groups failed:\n* Group '{group}' could not be deleted due to: java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty.\n"),
        "{del:?}"
    );

    // Once the member leaves, the committed offsets remain, in Kafka's (hash map) order.
    m.leave();
    wait_until(Duration::from_secs(20), "the group to be empty", || {
        c.groups(&["--describe", "--group", group, "--state"])
            .stdout
            .contains(" Empty ")
            .then_some(())
    })
    .expect("empty");
    let w = (15, 15, 15, 15);
    let mut expected = String::from("\n");
    expected += &offsets_line(
        w,
        [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
        ],
    );
    // java.util.HashMap puts test-1 before test-0 (JDK 17 checked).
    for (p, cur, end, lag) in [(1, 3, 5, 2), (0, 1, 4, 3), (2, 6, 6, 0)] {
        expected += &offsets_line(
            w,
            [
                group,
                topic,
                &p.to_string(),
                &cur.to_string(),
                &end.to_string(),
                &lag.to_string(),
                "-",
                "-",
                "-",
            ],
        );
    }
    let d = c.groups(&["--describe", "--group", group]);
    assert_eq!(d.stdout, expected, "{d:?}");
    assert_eq!(
        d.stderr,
        format!("\nConsumer group '{group}' has no active members.\n")
    );
    let members = c.groups(&["--describe", "--group", group, "--members"]);
    assert_eq!((members.stdout.as_str(), members.code), ("", 0));

    // Reset to the earliest: the default is a dry run that says so and changes nothing.
    let plan = |args: &[(i32, i64)]| {
        let mut s = format!(
            "\n{:<30} {:<30} {:<10} {:<15}\n",
            "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"
        );
        for (p, o) in args {
            s += &format!("{group:<30} {topic:<30} {p:<10} {o:<15}\n");
        }
        s
    };
    let dry = c.groups(&[
        "--reset-offsets",
        "--group",
        group,
        "--topic",
        topic,
        "--to-earliest",
    ]);
    assert_eq!(dry.stdout, plan(&[(0, 0), (1, 0), (2, 0)]), "{dry:?}");
    assert!(
        dry.stderr
            .starts_with("WARN: No action will be performed as the --execute option is missing."),
        "{dry:?}"
    );
    let again = c.groups(&["--describe", "--group", group]);
    assert_eq!(again.stdout, expected, "a dry run changed the offsets");
    let shifted = c.groups(&[
        "--reset-offsets",
        "--group",
        group,
        "--topic",
        "test:1",
        "--shift-by",
        "-10",
        "--dry-run",
    ]);
    assert_eq!(shifted.stdout, plan(&[(1, 0)]), "{shifted:?}");
    assert!(shifted.stderr.contains("WARN New offset (-7) is lower than earliest offset for topic partition test-1. Value will be set to 0"), "{shifted:?}");
    let exec = c.groups(&[
        "--reset-offsets",
        "--group",
        group,
        "--all-topics",
        "--to-earliest",
        "--execute",
    ]);
    assert_eq!(exec.stdout, plan(&[(1, 0), (0, 0), (2, 0)]), "{exec:?}");
    // A real consumer of the group now starts from offset 0 everywhere: 15 messages.
    let got = consume(&c.bootstrap(), group, topic, 15);
    assert_eq!(got, "count 15 0:0 1:0 2:0");

    // Delete the (empty again) group; then it is gone.
    wait_until(Duration::from_secs(20), "the group to be empty", || {
        c.groups(&["--describe", "--group", group, "--state"])
            .stdout
            .contains(" Empty ")
            .then_some(())
    })
    .expect("empty");
    let del = c.groups(&["--delete", "--group", group]);
    assert_eq!(
        del.stdout,
        format!("Deletion of requested consumer groups ('{group}') was successful.\n"),
        "{del:?}"
    );
    let list = c.groups(&["--list"]);
    assert!(!list.stdout.lines().any(|l| l == group), "{list:?}");
    let gone = c.groups(&["--describe", "--group", group]);
    assert_eq!(
        gone.stdout,
        format!("\nError: Consumer group '{group}' does not exist.\n")
    );
    let del = c.groups(&["--delete", "--group", group]);
    assert_eq!(
        del.stdout,
        format!("\nError: Deletion of some consumer groups failed:\n* Group '{group}' could not be deleted due to: java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.GroupIdNotFoundException: The group id does not exist.\n"),
        "{del:?}"
    );
}

fn tool(script: &str, args: &[&str]) -> Out {
    let mut c = wrapper(script);
    c.args(args);
    run(c, None)
}

#[test]
fn t20_option_checks() {
    let usage = |out: &Out, first_line: &str| {
        assert_eq!(out.code, 1, "{out:?}");
        assert_eq!(out.stdout, "", "{out:?}");
        let mut lines = out.stderr.lines();
        assert_eq!(lines.next(), Some(first_line), "{out:?}");
        assert!(
            out.stderr
                .contains("\nOption                                   Description\n"),
            "{out:?}"
        );
    };
    let cg = |args: &[&str]| tool("kafka-consumer-groups.sh", args);
    usage(
        &cg(&[]),
        "This tool helps to list all consumer groups, describe a consumer group, delete consumer group info, or reset consumer group offsets.",
    );
    usage(
        &cg(&["--bootstrap-server", "127.0.0.1:1"]),
        "Command must include exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets",
    );
    usage(
        &cg(&["--list"]),
        "Missing required argument \"[bootstrap-server]\"",
    );
    usage(
        &cg(&["--bootstrap-server", "127.0.0.1:1", "--describe"]),
        "Option [describe] takes one of these options: [group], [all-groups]",
    );
    usage(
        &cg(&[
            "--bootstrap-server",
            "127.0.0.1:1",
            "--delete",
            "--group",
            "g",
            "--topic",
            "t",
        ]),
        "The consumer does not support topic-specific offset deletion from a consumer group.",
    );
    let both = cg(&[
        "--bootstrap-server",
        "127.0.0.1:1",
        "--reset-offsets",
        "--group",
        "g",
        "--to-earliest",
        "--to-latest",
        "--dry-run",
    ]);
    usage(
        &both,
        "Option \"[to-earliest]\" can't be used with option \"[to-latest]\"",
    );
    usage(
        &cg(&[
            "--bootstrap-server",
            "127.0.0.1:1",
            "--list",
            "--group",
            "g",
        ]),
        "Option \"[group]\" can't be used with option \"[list]\"",
    );
    let abbrev = cg(&["--bootstrap-server", "127.0.0.1:1", "--desc"]);
    assert_eq!(abbrev.code, 1);
    assert_eq!(
        abbrev.stderr.lines().next(),
        Some("Exception in thread \"main\" joptsimple.UnrecognizedOptionException: desc is not a recognized option")
    );
    let unavailable = cg(&["--bootstrap-server", "127.0.0.1:1", "--list", "--members"]);
    assert_eq!(unavailable.code, 1);
    assert!(unavailable.stderr.starts_with("Exception in thread \"main\" joptsimple.UnavailableOptionException: Option(s) [members] are unavailable given other options on the command line\n"));
    let version = cg(&["--version"]);
    assert_eq!(version.code, 0);
    assert!(version.stdout.starts_with("2.4.1"), "{version:?}");

    let gos = |args: &[&str]| {
        let mut all = vec!["kafka.tools.GetOffsetShell"];
        all.extend_from_slice(args);
        tool("kafka-run-class.sh", &all)
    };
    usage(&gos(&[]), "An interactive shell for getting topic offsets.");
    usage(
        &gos(&["--broker-list", "127.0.0.1:1"]),
        "Missing required argument \"[topic]\"",
    );
    usage(
        &gos(&["--broker-list", "localhost", "--topic", "t"]),
        "Please provide valid host:port like host1:9091,host2:9092",
    );
    let bad = gos(&[
        "--broker-list",
        "127.0.0.1:1",
        "--topic",
        "t",
        "--partitions",
        "0,x",
    ]);
    assert_eq!(
        (bad.code, bad.stderr.as_str()),
        (1, "--partitions expects a comma separated list of numeric partition ids, but received: 0,x\n")
    );
    let bad = gos(&[
        "--broker-list",
        "127.0.0.1:1",
        "--topic",
        "t",
        "--time",
        "soon",
    ]);
    assert_eq!(
        (bad.code, bad.stderr.as_str()),
        (1, "Exception in thread \"main\" joptsimple.OptionArgumentConversionException: Cannot parse argument 'soon' of option time\n")
    );
    let unknown = tool("kafka-run-class.sh", &["kafka.tools.Nope"]);
    assert_eq!(unknown.code, 1);
}

#[test]
fn t30_unreachable_broker() {
    let port = free_port().expect("port");
    let closed = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let out = tool(
        "kafka-consumer-groups.sh",
        &["--bootstrap-server", &closed, "--list", "--timeout", "1500"],
    );
    let took = started.elapsed();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "\nError: Executing consumer group command failed due to org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment.\n");
    assert!(out.stderr.contains(&closed), "{out:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");

    let mut c = wrapper("kafka-run-class.sh");
    c.args([
        "kafka.tools.GetOffsetShell",
        "--broker-list",
        &closed,
        "--topic",
        "t",
    ])
    .env("ZKRAFT_KAFKA_API_TIMEOUT_MS", "1500");
    let started = Instant::now();
    let out = run(c, None);
    let took = started.elapsed();
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.starts_with("Exception in thread \"main\" org.apache.kafka.common.errors.TimeoutException: Timeout expired while fetching topic metadata\n"), "{out:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn t40_reset_plans_for_a_new_group() {
    let c = Cluster::start();
    let (topic, group) = ("test", "fresh");
    c.create_topic(topic, 3);
    for p in 0..3 {
        c.produce(topic, p, 4 + p as usize);
    }
    let header = format!(
        "\n{:<30} {:<30} {:<10} {:<15}\n",
        "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"
    );
    let plan = |rows: &[(i32, i64)]| {
        let mut s = header.clone();
        for (p, o) in rows {
            s += &format!("{group:<30} {topic:<30} {p:<10} {o:<15}\n");
        }
        s
    };
    // A group nobody joined is Dead, so offsets can be set for it from outside.
    let r = c.groups(&[
        "--reset-offsets",
        "--group",
        group,
        "--topic",
        "test:0,2",
        "--to-offset",
        "3",
        "--execute",
    ]);
    assert_eq!(
        (r.code, r.stdout.clone()),
        (0, plan(&[(0, 3), (2, 3)])),
        "{r:?}"
    );
    let list = c.groups(&["--list"]);
    assert!(list.stdout.lines().any(|l| l == group), "{list:?}");

    // By time: a day back is the start of every partition, a time to come is the end.
    let r = c.groups(&[
        "--reset-offsets",
        "--group",
        group,
        "--topic",
        topic,
        "--by-duration",
        "P1D",
        "--dry-run",
    ]);
    assert_eq!(r.stdout, plan(&[(0, 0), (1, 0), (2, 0)]), "{r:?}");
    let r = c.groups(&[
        "--reset-offsets",
        "--group",
        group,
        "--topic",
        topic,
        "--to-datetime",
        "2999-01-01T00:00:00.000",
        "--dry-run",
    ]);
    assert_eq!(r.stdout, plan(&[(0, 4), (1, 5), (2, 6)]), "{r:?}");
    let r = c.groups(&[
        "--reset-offsets",
        "--group",
        group,
        "--all-topics",
        "--to-current",
        "--export",
        "--dry-run",
    ]);
    assert_eq!(r.stdout, "test,0,3\ntest,2,3\n\n", "{r:?}");

    // A CSV plan: offsets past the end are clamped (with Kafka's warning).
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(b"test,0,1\ntest,2,99\n").expect("write plan");
    let path = f.path().display().to_string();
    let r = c.groups(&[
        "--reset-offsets",
        "--group",
        group,
        "--from-file",
        &path,
        "--execute",
    ]);
    assert_eq!(r.stdout, plan(&[(0, 1), (2, 6)]), "{r:?}");
    assert!(
        r.stderr.contains("WARN New offset (99) is higher than latest offset for topic partition test-2. Value will be set to 6 (kafka.admin.ConsumerGroupCommand$)"),
        "{r:?}"
    );
    let w = (15, 15, 15, 15);
    let d = c.groups(&["--describe", "--group", group]);
    let mut expected = String::from("\n");
    expected += &offsets_line(
        w,
        [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
        ],
    );
    expected += &offsets_line(w, [group, topic, "0", "1", "4", "3", "-", "-", "-"]);
    expected += &offsets_line(w, [group, topic, "2", "6", "6", "0", "-", "-", "-"]);
    assert_eq!(d.stdout, expected, "{d:?}");

    // A real consumer resumes there: 3 from partition 0 (from 1), 5 from partition 1 (no
    // commit: from the start), none from partition 2.
    let got = consume(&c.bootstrap(), group, topic, 8);
    assert_eq!(got, "count 8 0:1 1:0");
}
