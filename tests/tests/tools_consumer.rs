//! kafka-console-consumer.sh and kafka-consumer-perf-test.sh (zkraft's, Kafka 2.4 behaviour)
//! against zkraft's broker: records are produced with kcat (librdkafka) with keys and every
//! compression codec, read back with the console consumer and compared; group offsets are
//! checked with confluent-kafka (librdkafka's Python client).
//!
//! t10: from the beginning, --max-messages and --timeout-ms, print.key/print.timestamp;
//! t20: --partition/--offset; t30: two consumers of one group split the partitions, commit
//! on exit, a restart resumes; t35: a group shared with kcat (librdkafka's balanced
//! consumer); t40: SIGINT/SIGTERM; t50: unreachable broker; t60: bad
//! arguments; t70: the consumer perf test over 20,000 records.

mod tools_support;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tests::kafka::{kcat, kcat_available, KafkaBroker};
use tests::server::{die_with_test, free_port};
use tests::{wait_until, Deadline, ServerKind, ServerOptions, TestServer};
use tools_support::{run, tool, wrapper, Out};

const T: Duration = Duration::from_secs(30);

struct Cluster {
    zk: TestServer,
    broker: KafkaBroker,
}

impl Cluster {
    fn start() -> Cluster {
        assert!(
            kcat_available(),
            "kcat is not installed (scripts/install-test-deps.sh)"
        );
        let zk = TestServer::start(ServerKind::Zkraft, ServerOptions::new()).expect("zookeeper");
        let broker = KafkaBroker::start(&zk.connect_string(), &[]).expect("broker starts");
        Cluster { zk, broker }
    }

    fn bootstrap(&self) -> String {
        self.broker.bootstrap()
    }

    fn create_topic(&self, topic: &str, partitions: u32) {
        let mut c = tool("kafka-topics");
        c.args([
            "--zookeeper",
            &self.zk.connect_string(),
            "--create",
            "--topic",
            topic,
        ])
        .args([
            "--partitions",
            &partitions.to_string(),
            "--replication-factor",
            "1",
        ]);
        let out = run(c, None);
        assert_eq!(out.code, 0, "{out:?}");
        // Ready when kcat sees a leader for every partition.
        wait_until(T, "topic leaders", || {
            let md = kcat(&["-b", &self.bootstrap(), "-L", "-t", topic], None, T).ok()?;
            let text = String::from_utf8_lossy(&md.stdout).into_owned();
            (text.matches("leader 0").count() == partitions as usize).then_some(())
        })
        .expect("topic ready");
    }

    /// Produces `key:value` lines with kcat (all acknowledged), optionally to one partition.
    fn produce(&self, topic: &str, partition: Option<i32>, codec: &str, lines: &[String]) {
        let bs = self.bootstrap();
        let p = partition.map(|p| p.to_string());
        let mut args = vec![
            "-b", &bs, "-P", "-t", topic, "-K", ":", "-z", codec, "-X", "acks=all",
        ];
        if let Some(p) = &p {
            args.extend_from_slice(&["-p", p]);
        }
        let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let out = kcat(&args, Some(input.as_bytes()), T).expect("kcat -P");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !err.contains("ERROR") && !err.contains("failed"),
            "kcat produce failed: {err}"
        );
    }
}

fn consumer(bs: &str, args: &[&str]) -> Command {
    let mut c = wrapper("kafka-console-consumer.sh");
    c.args(["--bootstrap-server", bs]).args(args);
    c
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_owned).collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A tool running in the background, output to files.
struct Bg {
    child: Option<Child>,
    out: tempfile::NamedTempFile,
    err: tempfile::NamedTempFile,
}

impl Bg {
    fn spawn(mut cmd: Command) -> Bg {
        let out = tempfile::NamedTempFile::new().unwrap();
        let err = tempfile::NamedTempFile::new().unwrap();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out.reopen().unwrap()))
            .stderr(Stdio::from(err.reopen().unwrap()));
        die_with_test(&mut cmd);
        let child = cmd.spawn().expect("spawn");
        Bg {
            child: Some(child),
            out,
            err,
        }
    }

    fn read(f: &tempfile::NamedTempFile) -> String {
        let mut s = String::new();
        File::open(f.path())
            .and_then(|mut h| h.read_to_string(&mut s))
            .unwrap();
        s
    }

    fn stdout(&self) -> String {
        Self::read(&self.out)
    }

    fn stderr(&self) -> String {
        Self::read(&self.err)
    }

    fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            unsafe {
                libc::kill(c.id() as libc::pid_t, sig);
            }
        }
    }

    /// Waits for the exit; the exit code.
    fn wait(&mut self, timeout: Duration) -> i32 {
        let mut c = self.child.take().expect("running");
        let deadline = Deadline::after(timeout);
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            if deadline.expired() {
                let _ = c.kill();
                let _ = c.wait();
                panic!("did not exit within {timeout:?}; stderr: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn assert_timeout_exit(out: &Out, n: usize) {
    assert_eq!(out.code, 0, "{out:?}");
    let err = lines(&out.stderr);
    let k = err.len();
    assert!(k >= 3, "{out:?}");
    assert!(
        err[k - 3].starts_with('[')
            && err[k - 3].ends_with(
                "] ERROR Error processing message, terminating consumer process:  (kafka.tools.ConsoleConsumer$)"
            ),
        "{out:?}"
    );
    assert_eq!(
        err[k - 2],
        "org.apache.kafka.common.errors.TimeoutException"
    );
    assert_eq!(err[k - 1], format!("Processed a total of {n} messages"));
}

#[test]
fn t10_from_beginning_every_codec_keys_and_timestamps() {
    let c = Cluster::start();
    c.create_topic("codecs", 3);
    let before = now_ms();
    let mut expected = BTreeSet::new();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let recs: Vec<String> = (0..20)
            .map(|i| format!("k-{codec}-{i}:{codec}-v{i}"))
            .collect();
        for r in &recs {
            expected.insert(r.replacen(':', "\t", 1));
        }
        c.produce("codecs", None, codec, &recs);
    }
    let bs = c.bootstrap();
    let out = run(
        consumer(
            &bs,
            &[
                "--topic",
                "codecs",
                "--from-beginning",
                "--max-messages",
                "100",
                "--property",
                "print.key=true",
                "--property",
                "print.timestamp=true",
            ],
        ),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stderr.trim_end(), "Processed a total of 100 messages");
    let mut got = BTreeSet::new();
    for l in lines(&out.stdout) {
        // CreateTime:<ms>\t<key>\t<value>
        let (ts, rest) = l.split_once('\t').expect("three columns");
        let ms: i64 = ts
            .strip_prefix("CreateTime:")
            .unwrap_or_else(|| panic!("timestamp column: {l}"))
            .parse()
            .expect("ms");
        assert!(ms >= before - 60_000 && ms <= now_ms() + 60_000, "{l}");
        got.insert(rest.to_owned());
    }
    assert_eq!(got, expected);

    // --timeout-ms: everything, then Kafka's TimeoutException lines, exit 0.
    let started = Instant::now();
    let out = run(
        consumer(
            &bs,
            &[
                "--topic",
                "codecs",
                "--from-beginning",
                "--timeout-ms",
                "1500",
            ],
        ),
        None,
    );
    assert_timeout_exit(&out, 100);
    assert!(started.elapsed() < Duration::from_secs(15));
    let values: BTreeSet<String> = lines(&out.stdout).into_iter().collect();
    let expected_values: BTreeSet<String> = expected
        .iter()
        .map(|kv| kv.split_once('\t').unwrap().1.to_owned())
        .collect();
    assert_eq!(values, expected_values);

    // Custom separators; a whitelist covers the topic too.
    let out = run(
        consumer(
            &bs,
            &[
                "--whitelist",
                "cod.*",
                "--from-beginning",
                "--max-messages",
                "3",
                "--property",
                "print.key=true",
                "--property",
                "key.separator=::",
                "--property",
                "line.separator=|",
            ],
        ),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    let parts: Vec<&str> = out.stdout.split_terminator('|').collect();
    assert_eq!(parts.len(), 3, "{out:?}");
    assert!(
        parts
            .iter()
            .all(|p| p.starts_with("k-") && p.contains("::")),
        "{out:?}"
    );
}

#[test]
fn t20_partition_and_offset() {
    let c = Cluster::start();
    c.create_topic("parts", 2);
    let recs: Vec<String> = (0..10).map(|i| format!("key{i}:value{i}")).collect();
    c.produce("parts", Some(1), "none", &recs);
    c.produce("parts", Some(0), "gzip", &["other:p0".to_owned()]);
    let bs = c.bootstrap();
    // The same slice kcat reads from offset 4 of partition 1.
    let k = kcat(
        &[
            "-b", &bs, "-C", "-t", "parts", "-p", "1", "-o", "4", "-e", "-f", "%k\t%s\n",
        ],
        None,
        T,
    )
    .unwrap();
    let from_kcat = String::from_utf8_lossy(&k.stdout).into_owned();
    assert_eq!(lines(&from_kcat).len(), 6, "{from_kcat}");
    let out = run(
        consumer(
            &bs,
            &[
                "--topic",
                "parts",
                "--partition",
                "1",
                "--offset",
                "4",
                "--max-messages",
                "6",
                "--property",
                "print.key=true",
            ],
        ),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, from_kcat);

    let out = run(
        consumer(
            &bs,
            &[
                "--topic",
                "parts",
                "--partition",
                "1",
                "--offset",
                "earliest",
                "--timeout-ms",
                "1000",
            ],
        ),
        None,
    );
    assert_timeout_exit(&out, 10);
    assert_eq!(lines(&out.stdout)[0], "value0");
    // latest (the default with --partition): nothing old.
    let out = run(
        consumer(
            &bs,
            &[
                "--topic",
                "parts",
                "--partition",
                "0",
                "--timeout-ms",
                "1000",
            ],
        ),
        None,
    );
    assert_timeout_exit(&out, 0);
    assert_eq!(out.stdout, "");
    // Past the end: reset to latest (auto.offset.reset), nothing printed.
    let out = run(
        consumer(
            &bs,
            &[
                "--topic",
                "parts",
                "--partition",
                "1",
                "--offset",
                "1000",
                "--timeout-ms",
                "1000",
            ],
        ),
        None,
    );
    assert_timeout_exit(&out, 0);
}

/// Committed offsets of `group` for `topic` partitions 0..n, as confluent-kafka reads them.
fn committed_by_librdkafka(bs: &str, group: &str, topic: &str, n: i32) -> Vec<i64> {
    let script = format!(
        "from confluent_kafka import Consumer, TopicPartition\n\
         c = Consumer({{'bootstrap.servers': '{bs}', 'group.id': '{group}'}})\n\
         tps = c.committed([TopicPartition('{topic}', p) for p in range({n})], timeout=20)\n\
         print(' '.join(str(tp.offset) for tp in tps))\n\
         c.close()\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs (scripts/install-test-deps.sh installs confluent-kafka)");
    assert!(
        out.status.success(),
        "confluent-kafka: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|s| s.parse().expect("offset"))
        .collect()
}

/// Produces one record (`p<P>-r<R>`) per partition of the 4-partition `topic` per round until
/// some round is split between consumers `a` and `b`: each printed part of it, together all
/// of it, none twice. Returns what each printed of that round; `produced` counts the records.
fn split_round(
    c: &Cluster,
    topic: &str,
    a: &Bg,
    b: &Bg,
    produced: &mut usize,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut round = 0;
    let of_round = |bg: &Bg, tag: &str| -> BTreeSet<String> {
        bg.stdout()
            .lines()
            .filter(|l| l.ends_with(tag))
            .map(str::to_owned)
            .collect()
    };
    wait_until(T, "the two consumers to split the partitions", || {
        round += 1;
        for p in 0..4 {
            c.produce(topic, Some(p), "none", &[format!("k:p{p}-r{round}")]);
            *produced += 1;
        }
        let tag = format!("-r{round}");
        wait_until(Duration::from_secs(5), "round delivered", || {
            (of_round(a, &tag).len() + of_round(b, &tag).len() >= 4).then_some(())
        })
        .ok()?;
        let (sa, sb) = (of_round(a, &tag), of_round(b, &tag));
        (!sa.is_empty() && !sb.is_empty() && sa.len() + sb.len() == 4 && sa.is_disjoint(&sb))
            .then_some((sa, sb))
    })
    .expect("split")
}

/// The partitions (`p0`..) of a round's records.
fn partitions_of(records: &BTreeSet<String>) -> BTreeSet<String> {
    records.iter().map(|l| l[..2].to_owned()).collect()
}

#[test]
fn t35_a_group_shared_with_librdkafka() {
    let c = Cluster::start();
    c.create_topic("mix", 4);
    let bs = c.bootstrap();
    // Ours joins first and leads: it computes the range assignment for kcat too.
    let ours = Bg::spawn(consumer(
        &bs,
        &["--topic", "mix", "--group", "mixed", "--from-beginning"],
    ));
    let mut k = Command::new("kcat");
    k.args(["-b", &bs, "-G", "mixed", "mix", "-u", "-f", "%s\n"])
        .args(["-X", "auto.offset.reset=earliest"]);
    let theirs = Bg::spawn(k);
    let mut produced = 0;
    // Member ids sort "consumer-..." before "rdkafka-...": ours has the first range. A round
    // that straddles the rebalance can split the partitions some other way, so rounds go on
    // until the settled split shows (or the deadline fails the test).
    let (want_a, want_b): (BTreeSet<String>, BTreeSet<String>) = (
        ["p0", "p1"].map(String::from).into(),
        ["p2", "p3"].map(String::from).into(),
    );
    let mut last = None;
    let settled = wait_until(T, "the range split p0,p1 / p2,p3", || {
        let (a, b) = split_round(&c, "mix", &ours, &theirs, &mut produced);
        let got = (partitions_of(&a), partitions_of(&b));
        let ok = got.0 == want_a && got.1 == want_b;
        last = Some(got);
        ok.then_some(())
    });
    assert!(settled.is_ok(), "last split seen: {last:?}");
    ours.signal(libc::SIGTERM);
    theirs.signal(libc::SIGTERM);
}

#[test]
fn t30_group_members_split_partitions_commit_and_resume() {
    let c = Cluster::start();
    c.create_topic("grp", 4);
    let bs = c.bootstrap();
    let args = ["--topic", "grp", "--group", "g1", "--from-beginning"];
    let mut a = Bg::spawn(consumer(&bs, &args));
    let mut b = Bg::spawn(consumer(&bs, &args));
    let mut produced = 0;
    let split = split_round(&c, "grp", &a, &b, &mut produced);
    // Range assignment over sorted member ids: two contiguous pairs.
    let pa = partitions_of(&split.0);
    assert!(pa.len() == 2, "{split:?}");
    assert!(
        pa == ["p0", "p1"].map(String::from).into() || pa == ["p2", "p3"].map(String::from).into(),
        "{split:?}"
    );
    // Both exit on SIGINT, committing what they printed.
    a.signal(libc::SIGINT);
    b.signal(libc::SIGINT);
    assert_eq!(a.wait(T), 0);
    assert_eq!(b.wait(T), 0);
    let total = a.stdout().lines().count() + b.stdout().lines().count();
    assert!(
        a.stderr().contains("Processed a total of"),
        "{}",
        a.stderr()
    );
    let committed = committed_by_librdkafka(&bs, "g1", "grp", 4);
    assert_eq!(committed.len(), 4);
    assert_eq!(
        committed.iter().sum::<i64>(),
        produced as i64,
        "{committed:?}"
    );
    assert_eq!(total, produced);

    // A restart in the same group reads only what came after the commits.
    c.produce(
        "grp",
        None,
        "lz4",
        &["x:after-1".into(), "x:after-2".into()],
    );
    let out = run(
        consumer(
            &bs,
            &[
                "--topic",
                "grp",
                "--group",
                "g1",
                "--from-beginning",
                "--timeout-ms",
                "2000",
            ],
        ),
        None,
    );
    assert_timeout_exit(&out, 2);
    let got: BTreeSet<String> = lines(&out.stdout).into_iter().collect();
    assert_eq!(got, ["after-1", "after-2"].map(String::from).into());
    // ... and committed them on exit: a second run gets nothing.
    let out = run(
        consumer(
            &bs,
            &["--topic", "grp", "--group", "g1", "--timeout-ms", "1500"],
        ),
        None,
    );
    assert_timeout_exit(&out, 0);
    assert_eq!(
        committed_by_librdkafka(&bs, "g1", "grp", 4)
            .iter()
            .sum::<i64>(),
        produced as i64 + 2
    );
}

#[test]
fn t40_sigint_and_sigterm_exit_zero_with_the_total() {
    let c = Cluster::start();
    c.create_topic("sig", 1);
    let recs: Vec<String> = (0..5).map(|i| format!("k:v{i}")).collect();
    c.produce("sig", None, "snappy", &recs);
    let bs = c.bootstrap();
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let mut bg = Bg::spawn(consumer(&bs, &["--topic", "sig", "--from-beginning"]));
        wait_until(T, "the records", || {
            (bg.stdout().lines().count() == 5).then_some(())
        })
        .expect("consumed");
        let started = Instant::now();
        bg.signal(sig);
        assert_eq!(bg.wait(T), 0, "{}", bg.stderr());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(bg.stderr().trim_end(), "Processed a total of 5 messages");
    }
}

#[test]
fn t50_unreachable_broker_fails_fast_and_clearly() {
    let port = free_port().unwrap();
    let bs = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let out = run(
        consumer(&bs, &["--topic", "x", "--timeout-ms", "2000"]),
        None,
    );
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("could not connect to any of the bootstrap servers"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("Processed a total of 0 messages"),
        "{out:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let cfg = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cfg.path(), "request.timeout.ms=2000\n").unwrap();
    let started = Instant::now();
    let mut p = wrapper("kafka-consumer-perf-test.sh");
    p.args(["--broker-list", &bs, "--topic", "x", "--messages", "5"])
        .args(["--consumer.config", &cfg.path().display().to_string()]);
    let out = run(p, None);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("could not connect"), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn t60_bad_arguments_print_usage_and_exit_1() {
    let out = run(tool("kafka-console-consumer"), None);
    assert_eq!(out.code, 1);
    assert!(out.stderr.starts_with(
        "This tool helps to read data from Kafka topics and outputs it to standard output.\nOption"
    ), "{out:?}");
    let out = run(
        consumer("127.0.0.1:1", &["--topic", "t", "--offset", "3"]),
        None,
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("The partition is required when offset is specified.\nOption"),
        "{out:?}"
    );
    let out = run(consumer("127.0.0.1:1", &["--topic", "t", "--nope"]), None);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with("nope is not a recognized option\n"),
        "{out:?}"
    );
    let out = run(
        consumer(
            "127.0.0.1:1",
            &[
                "--topic",
                "t",
                "--formatter",
                "kafka.tools.LoggingMessageFormatter",
            ],
        ),
        None,
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("LoggingMessageFormatter"), "{out:?}");
    let out = run(
        consumer("127.0.0.1:1", &["--topic", "t", "--max-messages", "lots"]),
        None,
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("lots"), "{out:?}");

    let mut p = tool("kafka-consumer-perf-test");
    p.args(["--broker-list", "127.0.0.1:1", "--topic", "t"]);
    let out = run(p, None);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("Missing required argument \"[messages]\"\nOption"),
        "{out:?}"
    );
    let mut p = tool("kafka-consumer-perf-test");
    p.args([
        "--broker-list",
        "127.0.0.1:1",
        "--topic",
        "t",
        "--messages",
        "1",
        "--reporting-interval",
        "0",
    ]);
    let out = run(p, None);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("Reporting interval must be greater than 0."),
        "{out:?}"
    );
}

#[test]
fn t70_consumer_perf_test_reads_20000_records() {
    let c = Cluster::start();
    c.create_topic("perf", 2);
    let value = "x".repeat(90);
    let recs: Vec<String> = (0..20_000).map(|i| format!("{i}:{value}")).collect();
    c.produce("perf", None, "lz4", &recs);
    let bs = c.bootstrap();
    let mut p = wrapper("kafka-consumer-perf-test.sh");
    p.args([
        "--broker-list",
        &bs,
        "--topic",
        "perf",
        "--messages",
        "20000",
        "--threads",
        "3",
    ]);
    let out = run(p, None);
    assert_eq!(out.code, 0, "{out:?}");
    let l = lines(&out.stdout);
    assert_eq!(l.len(), 2, "{out:?}");
    assert_eq!(
        l[0],
        "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
    );
    let f: Vec<&str> = l[1].split(", ").collect();
    assert_eq!(f.len(), 10, "{}", l[1]);
    assert_eq!(f[4], "20000");
    // Keys (digits) plus 90-byte values, in MB with four decimals.
    let bytes: usize = (0..20_000).map(|i: i32| i.to_string().len() + 90).sum();
    assert_eq!(f[2], format!("{:.4}", bytes as f64 / (1024.0 * 1024.0)));
    let date = regex_like_date(f[0]);
    assert!(date, "{}", l[1]);

    // --bootstrap-server, detailed stats and no header.
    let mut p = tool("kafka-consumer-perf-test");
    p.args([
        "--bootstrap-server",
        &bs,
        "--topic",
        "perf",
        "--messages",
        "20000",
    ])
    .args([
        "--show-detailed-stats",
        "--hide-header",
        "--reporting-interval",
        "1",
        "--group",
        "perf-2",
    ]);
    let out = run(p, None);
    assert_eq!(out.code, 0, "{out:?}");
    for l in lines(&out.stdout) {
        let f: Vec<&str> = l.split(", ").collect();
        assert_eq!(f.len(), 10, "{l}");
        assert_eq!(f[1], "0", "{l}");
    }
    // Fewer records than asked: the warning after the timeout.
    let mut p = tool("kafka-consumer-perf-test");
    p.args([
        "--broker-list",
        &bs,
        "--topic",
        "perf",
        "--messages",
        "30000",
        "--timeout",
        "1000",
    ]);
    let out = run(p, None);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("WARNING: Exiting before consuming the expected number of messages: timeout (1000 ms) exceeded."), "{out:?}");
    assert!(out.stdout.contains(", 20000, "), "{out:?}");
}

/// `yyyy-MM-dd HH:mm:ss:SSS`.
fn regex_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 23
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 | 19 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}
