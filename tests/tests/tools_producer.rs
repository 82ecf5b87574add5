//! zkraft's `kafka-console-producer.sh` and `kafka-producer-perf-test.sh` (Kafka 2.4's
//! ConsoleProducer and ProducerPerformance) against zkraft's broker, checked with kcat
//! (librdkafka): what kcat reads back, the codec in each stored batch, keyed partitioning
//! against librdkafka's Java-compatible murmur2 partitioner, timeouts against a closed port,
//! usage errors, and SIGINT flushing what was read.

mod tools_support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tests::kafka::{kcat, kcat_available, KafkaBroker};
use tests::server::free_port;
use tests::{wait_until, Deadline, ServerKind, ServerOptions, TestServer};
use tools_support::{run, tool, wrapper, Out};

const T: Duration = Duration::from_secs(30);

struct Stack {
    _zk: TestServer,
    broker: KafkaBroker,
}

fn stack(overrides: &[(&str, &str)]) -> Stack {
    assert!(
        kcat_available(),
        "kcat is not installed (scripts/install-test-deps.sh)"
    );
    let zk = TestServer::start(ServerKind::Zkraft, ServerOptions::new()).expect("zookeeper");
    let broker = KafkaBroker::start(&zk.connect_string(), overrides).expect("broker starts");
    Stack { _zk: zk, broker }
}

fn producer(args: &[&str]) -> Command {
    let mut c = wrapper("kafka-console-producer.sh");
    c.args(args);
    c
}

/// `partition|key|value` of every record of `topic`, per partition in offset order, or
/// kcat's complaint.
fn try_read_back(b: &KafkaBroker, topic: &str) -> Result<Vec<String>, String> {
    let bootstrap = b.bootstrap();
    let out = kcat(
        &[
            "-b",
            &bootstrap,
            "-C",
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%p|%k|%s\n",
        ],
        None,
        T,
    )
    .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    // kcat interleaves partitions; keep each partition's order.
    lines.sort_by_key(|l| l.split('|').next().unwrap_or("").to_owned());
    Ok(lines)
}

fn read_back(b: &KafkaBroker, topic: &str) -> Vec<String> {
    try_read_back(b, topic).unwrap_or_else(|e| panic!("kcat -C {topic}: {e}"))
}

/// [`read_back`] once it has `n` records (acks=0 gives no guarantee that the broker has
/// appended when the producer exits).
fn read_n(b: &KafkaBroker, topic: &str, n: usize) -> Vec<String> {
    wait_until(T, "the records to be readable", || {
        try_read_back(b, topic).ok().filter(|got| got.len() >= n)
    })
    .expect("records arrive")
}

/// The compression codec (attributes & 7) of each record batch in partition 0's first segment.
fn batch_codecs(b: &KafkaBroker, topic: &str) -> Vec<i16> {
    let path = b
        .log_dir()
        .join(format!("{topic}-0"))
        .join("00000000000000000000.log");
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let mut i = 0usize;
    while i + 61 <= data.len() {
        let len = i32::from_be_bytes(data[i + 8..i + 12].try_into().unwrap()) as usize;
        let attrs = i16::from_be_bytes(data[i + 21..i + 23].try_into().unwrap());
        out.push(attrs & 7);
        i += 12 + len;
    }
    out
}

fn assert_ok(out: &Out, what: &str) {
    assert_eq!(out.code, 0, "{what}: {out:?}");
    assert!(!out.stderr.contains("ERROR"), "{what}: {out:?}");
}

#[test]
fn console_lines_keys_codecs_and_acks_reach_kcat() {
    let s = stack(&[]);
    let b = s.broker.bootstrap();

    // Plain lines, stdin EOF: everything is sent (linger is 1 s, so only the close does it),
    // the prompt is printed before every read as Kafka's LineMessageReader does.
    let input = "hello\nsecond line  with spaces\n\nlast\n";
    let out = run(
        producer(&["--broker-list", &b, "--topic", "plain"]),
        Some(input),
    );
    assert_ok(&out, "plain");
    assert_eq!(out.stdout, ">>>>>");
    assert_eq!(
        read_back(&s.broker, "plain"),
        ["0||hello", "0||second line  with spaces", "0||", "0||last"]
    );

    // Keys via parse.key with each codec; the stored batches carry that codec.
    for (codec, id) in [
        ("none", 0),
        ("gzip", 1),
        ("snappy", 2),
        ("lz4", 3),
        ("zstd", 4),
    ] {
        let topic = format!("codec-{codec}");
        let input = format!("k1:{codec}-a\nk2:{codec}:b\n");
        let out = run(
            producer(&[
                "--broker-list",
                &b,
                "--topic",
                &topic,
                "--compression-codec",
                codec,
                "--property",
                "parse.key=true",
                "--property",
                "key.separator=:",
            ]),
            Some(&input),
        );
        assert_ok(&out, codec);
        assert_eq!(
            read_back(&s.broker, &topic),
            [format!("0|k1|{codec}-a"), format!("0|k2|{codec}:b")]
        );
        let codecs = batch_codecs(&s.broker, &topic);
        assert!(
            !codecs.is_empty() && codecs.iter().all(|c| *c == id),
            "{codec}: {codecs:?}"
        );
    }
    // `--compression-codec` without a value is gzip; the default separator is a tab.
    let out = run(
        producer(&[
            "--topic",
            "codec-default",
            "--property",
            "parse.key=true",
            "--broker-list",
            &b,
            "--compression-codec",
        ]),
        Some("key\tvalue\n"),
    );
    assert_ok(&out, "codec without value");
    assert_eq!(read_back(&s.broker, "codec-default"), ["0|key|value"]);
    assert_eq!(batch_codecs(&s.broker, "codec-default"), [1]);

    // acks 0, 1 and all, asynchronous and --sync (one request per line).
    for acks in ["0", "1", "all", "-1"] {
        for sync in [false, true] {
            let topic = format!("acks{acks}-{sync}");
            let mut args = vec![
                "--bootstrap-server",
                &b,
                "--topic",
                &topic,
                "--request-required-acks",
                acks,
            ];
            if sync {
                args.push("--sync");
            }
            let out = run(producer(&args), Some("x\ny\nz\n"));
            assert_ok(&out, &topic);
            assert_eq!(
                read_n(&s.broker, &topic, 3),
                ["0||x", "0||y", "0||z"],
                "{topic}"
            );
            if sync {
                // One record per request: one batch per line.
                assert_eq!(batch_codecs(&s.broker, &topic).len(), 3, "{topic}");
            }
        }
    }
}

#[test]
fn keyed_records_land_where_librdkafkas_murmur2_puts_them() {
    let s = stack(&[("num.partitions", "7")]);
    let b = s.broker.bootstrap();
    let keys: String = (0..40).map(|i| format!("key-{i}:v{i}\n")).collect();
    // Auto-created (7 partitions) by the producer's metadata request.
    let out = run(
        producer(&[
            "--broker-list",
            &b,
            "--topic",
            "ours",
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ]),
        Some(&keys),
    );
    assert_ok(&out, "keyed");
    let theirs = kcat(
        &[
            "-b",
            &b,
            "-P",
            "-t",
            "theirs",
            "-K:",
            "-X",
            "topic.partitioner=murmur2_random",
        ],
        Some(keys.as_bytes()),
        T,
    )
    .expect("kcat produces");
    assert!(
        theirs.status.success(),
        "{}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    let placement = |topic: &str| -> BTreeMap<String, String> {
        read_back(&s.broker, topic)
            .iter()
            .map(|l| {
                let mut f = l.split('|');
                let p = f.next().unwrap_or_default().to_owned();
                (f.next().unwrap_or_default().to_owned(), p)
            })
            .collect()
    };
    let ours = placement("ours");
    assert_eq!(ours.len(), 40);
    let used: std::collections::BTreeSet<&String> = ours.values().collect();
    assert!(used.len() > 3, "keys spread over partitions: {ours:?}");
    assert_eq!(ours, placement("theirs"));
}

#[test]
fn parse_key_without_separator_fails_unless_ignore_error() {
    let s = stack(&[]);
    let b = s.broker.bootstrap();
    let out = run(
        producer(&[
            "--broker-list",
            &b,
            "--topic",
            "nokey",
            "--property",
            "parse.key=true",
        ]),
        Some("a\tb\nnoseparator\nc\td\n"),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains(
            "org.apache.kafka.common.KafkaException: No key found on line 2: noseparator"
        ),
        "{out:?}"
    );
    // What was read before the bad line was still sent, as Kafka's shutdown hook does.
    assert_eq!(read_back(&s.broker, "nokey"), ["0|a|b"]);
    let out = run(
        producer(&[
            "--broker-list",
            &b,
            "--topic",
            "nokey2",
            "--property",
            "parse.key=true",
            "--property",
            "ignore.error=true",
        ]),
        Some("a\tb\nnoseparator\n"),
    );
    assert_ok(&out, "ignore.error");
    assert_eq!(read_back(&s.broker, "nokey2"), ["0|a|b", "0||noseparator"]);
}

#[test]
fn unreachable_broker_fails_within_the_timeout() {
    let port = free_port().expect("port");
    let closed = format!("127.0.0.1:{port}");
    // Asynchronous: each record waits max.block.ms for metadata, then ErrorLoggingCallback.
    let start = Instant::now();
    let out = run(
        producer(&[
            "--broker-list",
            &closed,
            "--topic",
            "t",
            "--max-block-ms",
            "1500",
            "--request-timeout-ms",
            "1000",
        ]),
        Some("one\n"),
    );
    let took = start.elapsed();
    assert_ne!(out.code, 0, "{out:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        out.stderr.contains(
            "ERROR Error when sending message to topic t with key: null, value: 3 bytes with error: (org.apache.kafka.clients.producer.internals.ErrorLoggingCallback)\norg.apache.kafka.common.errors.TimeoutException: Topic t not present in metadata after 1500 ms."
        ),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("Broker may not be available"),
        "{out:?}"
    );
    // --sync: the failure escapes main, exit 1.
    let out = run(
        producer(&[
            "--broker-list",
            &closed,
            "--topic",
            "t",
            "--max-block-ms",
            "1000",
            "--sync",
        ]),
        Some("one\n"),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.TimeoutException: Topic t not present in metadata after 1000 ms."),
        "{out:?}"
    );
    // The perf test: every record fails after max.block.ms, the summary still prints.
    let start = Instant::now();
    let mut perf = wrapper("kafka-producer-perf-test.sh");
    perf.args([
        "--topic",
        "t",
        "--num-records",
        "2",
        "--record-size",
        "10",
        "--throughput",
        "-1",
        "--producer-props",
    ])
    .arg(format!("bootstrap.servers={closed}"))
    .arg("max.block.ms=1000");
    let out = run(perf, None);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(
        out.stderr
            .contains("TimeoutException: Topic t not present in metadata after 1000 ms."),
        "{out:?}"
    );
}

#[test]
fn bad_arguments_print_usage_and_exit_1() {
    let out = run(tool("kafka-console-producer"), None);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with(
            "This tool helps to read data from standard input and publish it to Kafka.\nOption"
        ),
        "{out:?}"
    );
    let out = run(producer(&["--topic", "t"]), None);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("Missing required argument \"[broker-list]\"\nOption"),
        "{out:?}"
    );
    assert!(out.stderr.contains("--request-required-acks"), "{out:?}");
    let out = run(producer(&["--broker-list", "h:1"]), None);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("Missing required argument \"[topic]\""),
        "{out:?}"
    );
    let out = run(
        producer(&["--broker-list", "nohostport", "--topic", "t"]),
        None,
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("Please provide valid host:port like host1:9091,host2:9092\n"),
        "{out:?}"
    );
    let out = run(
        producer(&["--broker-list", "h:1", "--topic", "t", "--bogus"]),
        None,
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("bogus is not a recognized option\nOption"),
        "{out:?}"
    );
    let out = run(
        producer(&[
            "--broker-list",
            "h:1",
            "--topic",
            "t",
            "--line-reader",
            "com.example.Reader",
        ]),
        None,
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("java.lang.ClassNotFoundException: com.example.Reader"),
        "{out:?}"
    );
    let out = run(
        producer(&[
            "--broker-list",
            "h:1",
            "--topic",
            "t",
            "--request-required-acks",
            "2",
        ]),
        Some(""),
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("Invalid value 2 for configuration acks"),
        "{out:?}"
    );
    let out = run(producer(&["--version"]), None);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("2.4.1"), "{out:?}");

    let perf = |args: &[&str]| {
        let mut c = wrapper("kafka-producer-perf-test.sh");
        c.args(args);
        run(c, None)
    };
    let out = perf(&[]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .starts_with("usage: producer-performance [-h] --topic TOPIC"),
        "{out:?}"
    );
    let out = perf(&[
        "--topic",
        "t",
        "--num-records",
        "1",
        "--throughput",
        "1",
        "--producer-props",
        "a=b",
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.ends_with("producer-performance: error: one of the arguments --record-size --payload-file is required\n"), "{out:?}");
    let out = perf(&[
        "--topic",
        "t",
        "--num-records",
        "x",
        "--record-size",
        "1",
        "--throughput",
        "1",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "producer-performance: error: argument --num-records: could not convert 'x' to Long"
        ),
        "{out:?}"
    );
    let out = perf(&[
        "--topic",
        "t",
        "--num-records",
        "1",
        "--record-size",
        "1",
        "--throughput",
        "1",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("error: Either --producer-props or --producer.config must be specified."),
        "{out:?}"
    );
    let out = perf(&[
        "--topic",
        "t",
        "--num-records",
        "1",
        "--record-size",
        "1",
        "--throughput",
        "1",
        "--producer-props",
        "bootstrap.servers=h:1",
        "--transaction-duration-ms",
        "100",
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("not supported"), "{out:?}");
}

/// Parses the perf test's summary line into its numbers.
fn summary(line: &str) -> Vec<f64> {
    let re = [
        " records sent, ",
        " records/sec (",
        " MB/sec), ",
        " ms avg latency, ",
        " ms max latency, ",
        " ms 50th, ",
        " ms 95th, ",
        " ms 99th, ",
        " ms 99.9th.",
    ];
    let mut rest = line;
    let mut nums = Vec::new();
    for sep in re {
        let (n, r) = rest
            .split_once(sep)
            .unwrap_or_else(|| panic!("{sep:?} missing in {line:?}"));
        nums.push(
            n.parse::<f64>()
                .unwrap_or_else(|_| panic!("{n:?} in {line:?}")),
        );
        rest = r;
    }
    assert!(rest.is_empty(), "{line:?}");
    nums
}

#[test]
fn perf_test_sends_20000_records() {
    let s = stack(&[]);
    let b = s.broker.bootstrap();
    let mut perf = wrapper("kafka-producer-perf-test.sh");
    perf.args([
        "--topic",
        "perf",
        "--num-records",
        "20000",
        "--record-size",
        "100",
        "--throughput",
        "-1",
        "--producer-props",
        "acks=all",
        "linger.ms=2",
    ])
    .arg(format!("bootstrap.servers={b}"));
    let out = run(perf, None);
    assert_eq!(out.code, 0, "{out:?}");
    let line = out.stdout.lines().last().unwrap_or_default();
    let n = summary(line);
    assert_eq!(n[0], 20000.0, "{line}");
    assert!(n[1] > 1000.0, "records/sec {line}");
    // 20000 * 100 B / elapsed, in MB/s, agrees with records/sec.
    assert!((n[2] - n[1] * 100.0 / 1048576.0).abs() < 0.02, "{line}");
    // avg <= max; percentiles ordered and within max.
    assert!(
        n[3] <= n[4] && n[5] <= n[6] && n[6] <= n[7] && n[7] <= n[8] && n[8] <= n[4],
        "{line}"
    );
    // Kafka's payload: 100 capital letters from Random(0).
    let out = kcat(
        &[
            "-b",
            &b,
            "-C",
            "-t",
            "perf",
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
    .expect("kcat");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 20000);
    let first = text.lines().next().unwrap_or_default();
    assert_eq!(first.len(), 100);
    assert!(first.starts_with("SSXVN"), "{first}");

    // Throttled: about --throughput records per second, with a progress line per 5 s window
    // only when the run is that long (here it is not).
    let mut perf = wrapper("kafka-producer-perf-test.sh");
    perf.args([
        "--topic",
        "perf-slow",
        "--num-records",
        "300",
        "--record-size",
        "10",
        "--throughput",
        "200",
        "--producer-props",
    ])
    .arg(format!("bootstrap.servers={b}"));
    let start = Instant::now();
    let out = run(perf, None);
    let took = start.elapsed();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        took >= Duration::from_millis(1200),
        "300 records at 200/s took {took:?}"
    );
    let n = summary(out.stdout.lines().last().unwrap_or_default());
    assert!(n[1] < 260.0, "{out:?}");
}

#[test]
fn sigint_flushes_what_was_read() {
    let s = stack(&[]);
    let b = s.broker.bootstrap();
    let mut cmd = producer(&["--broker-list", &b, "--topic", "sig", "--timeout", "60000"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"one\ntwo\n").expect("write");
    stdin.flush().expect("flush");
    // The third prompt means both lines were read (and, with a 60 s linger, not yet sent).
    let mut stdout = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let deadline = Deadline::after(T);
    while seen.len() < 3 {
        assert!(!deadline.expired(), "prompts: {seen:?}");
        let mut buf = [0u8; 1];
        match stdout.read(&mut buf) {
            Ok(1) => seen.push(buf[0]),
            _ => panic!("stdout closed after {seen:?}"),
        }
    }
    assert_eq!(seen, b">>>");
    // SAFETY: kill(2) on the child we spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = wait_until(T, "the producer to exit", || {
        child.try_wait().ok().flatten()
    })
    .expect("exits after SIGINT");
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert_eq!(read_back(&s.broker, "sig"), ["0||one", "0||two"]);
    drop(stdin);
}

#[test]
fn records_sent_while_the_broker_restarts_are_retried() {
    let mut s = stack(&[]);
    let b = s.broker.bootstrap();
    let mut cmd = producer(&["--broker-list", &b, "--topic", "rs", "--timeout", "0"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"one\n").expect("write");
    stdin.flush().expect("flush");
    read_n(&s.broker, "rs", 1);
    s.broker.stop().expect("broker stops");
    // Sent while the leader is gone: kept and retried (reconnect, metadata refresh).
    stdin.write_all(b"two\n").expect("write");
    stdin.flush().expect("flush");
    s.broker.restart().expect("broker restarts");
    stdin.write_all(b"three\n").expect("write");
    drop(stdin);
    let status = wait_until(T, "the producer to exit", || {
        child.try_wait().ok().flatten()
    })
    .expect("exits at EOF");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(read_n(&s.broker, "rs", 3), ["0||one", "0||two", "0||three"]);
}

#[test]
fn kafka_python_reads_what_the_console_producer_sent() {
    // A second, independent client implementation (kafka-python decodes the batches itself).
    let ok = Command::new("python3")
        .args(["-c", "import kafka"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "kafka-python is not installed (scripts/install-test-deps.sh)"
    );
    let s = stack(&[]);
    let b = s.broker.bootstrap();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let out = run(
        producer(&[
            "--broker-list",
            &b,
            "--topic",
            "py",
            "--compression-codec",
            "gzip",
            "--property",
            "parse.key=true",
            "--property",
            "key.separator==",
        ]),
        Some("a=1\nb=2\nc=\n"),
    );
    assert_ok(&out, "gzip keyed");
    let script = [
        "from kafka import KafkaConsumer".to_owned(),
        format!("c = KafkaConsumer('py', bootstrap_servers='{b}', auto_offset_reset='earliest', consumer_timeout_ms=5000, enable_auto_commit=False)"),
        "n = 0".to_owned(),
        "for m in c:".to_owned(),
        "    print(m.offset, m.key.decode(), repr(m.value.decode()), m.timestamp_type, m.timestamp)".to_owned(),
        "    n += 1".to_owned(),
        "    if n == 3: break".to_owned(),
    ]
    .join("\n");
    let py = Command::new("python3")
        .args(["-c", &script])
        .stderr(Stdio::piped())
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&py.stdout);
    assert!(
        py.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    let expect = [("0", "a", "'1'"), ("1", "b", "'2'"), ("2", "c", "''")];
    for (l, (off, k, v)) in lines.iter().zip(expect) {
        assert_eq!((l[0], l[1], l[2]), (off, k, v), "{text}");
        // CreateTime, set by the producer when the line was read.
        assert_eq!(l[3], "0", "{text}");
        let ts: i64 = l[4].parse().expect("timestamp");
        assert!(ts >= before - 1000 && ts <= before + 60_000, "{text}");
    }
}
