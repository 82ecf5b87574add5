//! zkraft's Kafka broker (`kafka-server`, ZooKeeper mode) as a process, driven by kcat
//! (librdkafka) and by direct znode writes, against zkraft's ZooKeeper and Apache's.
//!
//! t10: metadata; t20: produce/consume with every compression codec; t30: a topic created
//! only by writing znodes; t40: kill -9 under production, every acknowledged message exactly
//! once; t50: clean shutdown files; t60: bad configuration; t70: the core flow on Apache
//! ZooKeeper.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use tests::kafka::{kcat, kcat_available, KafkaBroker};
use tests::{wait_until, ServerKind, ServerOptions, TestServer};

const T: Duration = Duration::from_secs(30);

fn zk(kind: ServerKind) -> TestServer {
    assert!(
        kcat_available(),
        "kcat is not installed (scripts/install-test-deps.sh)"
    );
    assert!(
        kind.is_available(),
        "{kind} ZooKeeper is not available (scripts/install-test-deps.sh)"
    );
    TestServer::start(kind, ServerOptions::new()).expect("zookeeper starts")
}

fn broker(z: &TestServer, overrides: &[(&str, &str)]) -> KafkaBroker {
    KafkaBroker::start(&z.connect_string(), overrides).expect("broker starts")
}

/// Produces `lines` (one message each) with kcat; true when kcat reports every delivery.
fn produce(b: &KafkaBroker, topic: &str, extra: &[&str], lines: &[String]) -> bool {
    let bootstrap = b.bootstrap();
    let mut args = vec![
        "-b",
        bootstrap.as_str(),
        "-P",
        "-t",
        topic,
        "-X",
        "acks=all",
    ];
    args.extend_from_slice(extra);
    let input = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    match kcat(&args, Some(input.as_bytes()), T) {
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            out.status.success() && !err.contains("Delivery failed") && !err.contains("ERROR")
        }
        Err(_) => false,
    }
}

/// Every message of `topic` (partition `p`), from the beginning to the current end.
fn consume(b: &KafkaBroker, topic: &str, p: i32) -> Vec<String> {
    let bootstrap = b.bootstrap();
    let part = p.to_string();
    let out = kcat(
        &[
            "-b",
            &bootstrap,
            "-C",
            "-t",
            topic,
            "-p",
            &part,
            "-o",
            "beginning",
            "-e",
            "-f",
            "%s\n",
        ],
        None,
        T,
    )
    .expect("kcat consumer runs");
    assert!(
        out.status.success(),
        "kcat -C failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn metadata(b: &KafkaBroker, topic: Option<&str>) -> String {
    let bootstrap = b.bootstrap();
    let mut args = vec!["-b", bootstrap.as_str(), "-L"];
    if let Some(t) = topic {
        args.extend_from_slice(&["-t", t]);
    }
    let out = kcat(&args, None, T).expect("kcat -L runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn lines(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

#[test]
fn t10_metadata_lists_the_broker_as_controller() {
    let z = zk(ServerKind::Zkraft);
    let b = broker(&z, &[]);
    let md = metadata(&b, None);
    assert!(md.contains("1 brokers:"), "{md}");
    assert!(
        md.contains(&format!("broker 0 at {} (controller)", b.bootstrap())),
        "{md}"
    );
    // Auto-created on first produce, then listed with its leader.
    assert!(produce(&b, "md", &[], &lines("m", 1)));
    let md = metadata(&b, Some("md"));
    assert!(md.contains("topic \"md\" with 1 partitions"), "{md}");
    assert!(
        md.contains("partition 0, leader 0, replicas: 0, isrs: 0"),
        "{md}"
    );
}

#[test]
fn t20_produce_consume_with_every_codec() {
    let z = zk(ServerKind::Zkraft);
    let b = broker(&z, &[]);
    let mut expected = Vec::new();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let batch = lines(codec, 50);
        let opt = format!("compression.codec={codec}");
        assert!(
            produce(&b, "codecs", &["-X", &opt], &batch),
            "produce with {codec}"
        );
        expected.extend(batch);
    }
    assert_eq!(consume(&b, "codecs", 0), expected);
}

fn topic_znodes_rt(connect: &str, topic: &str, partitions: &[(i32, Vec<i32>)]) {
    use zookeeper_client as zkc;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = zkc::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(connect)
            .await
            .expect("zk connect");
        let opts = zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all());
        let parts: BTreeMap<String, Vec<i32>> = partitions
            .iter()
            .map(|(p, r)| (p.to_string(), r.clone()))
            .collect();
        // What kafka-topics.sh --zookeeper (AdminZkClient) writes: config first, then the
        // assignment.
        c.create(
            &format!("/config/topics/{topic}"),
            br#"{"version":1,"config":{}}"#,
            &opts,
        )
        .await
        .expect("create topic config");
        let assignment = serde_json_like(&parts);
        c.create(
            &format!("/brokers/topics/{topic}"),
            assignment.as_bytes(),
            &opts,
        )
        .await
        .expect("create topic assignment");
    });
}

/// The TopicAssignment JSON (version 1) for `parts`.
fn serde_json_like(parts: &BTreeMap<String, Vec<i32>>) -> String {
    let body: Vec<String> = parts
        .iter()
        .map(|(p, r)| {
            let rs: Vec<String> = r.iter().map(|x| x.to_string()).collect();
            format!("\"{p}\":[{}]", rs.join(","))
        })
        .collect();
    format!("{{\"version\":1,\"partitions\":{{{}}}}}", body.join(","))
}

fn partition_state(connect: &str, topic: &str, p: i32) -> Option<String> {
    use zookeeper_client as zkc;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = zkc::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(connect)
            .await
            .ok()?;
        let path = format!("/brokers/topics/{topic}/partitions/{p}/state");
        c.get_data(&path)
            .await
            .ok()
            .map(|(d, _)| String::from_utf8_lossy(&d).into_owned())
    })
}

fn core_flow_with_znode_topic(kind: ServerKind) {
    let z = zk(kind);
    let b = broker(&z, &[("auto.create.topics.enable", "false")]);
    topic_znodes_rt(&z.connect_string(), "zt", &[(0, vec![0]), (1, vec![0])]);
    let md = wait_until(T, "topic zt served with 2 led partitions", || {
        let md = metadata(&b, Some("zt"));
        (md.contains("topic \"zt\" with 2 partitions") && md.contains("partition 1, leader 0"))
            .then_some(md)
    })
    .unwrap();
    assert!(md.contains("partition 0, leader 0"), "{md}");
    let state = partition_state(&z.connect_string(), "zt", 1).expect("state znode written");
    assert!(
        state.contains("\"leader\":0") && state.contains("\"isr\":[0]"),
        "{state}"
    );
    let msgs = lines("p1", 20);
    assert!(produce(&b, "zt", &["-p", "1"], &msgs));
    assert_eq!(consume(&b, "zt", 1), msgs);
    assert!(consume(&b, "zt", 0).is_empty());
    // No auto-creation: an unknown topic stays unknown.
    let md = metadata(&b, Some("nope"));
    assert!(!md.contains("topic \"nope\" with 1 partitions"), "{md}");
}

#[test]
fn t30_topic_created_only_by_znodes_is_produceable() {
    core_flow_with_znode_topic(ServerKind::Zkraft);
}

#[test]
fn t40_kill9_under_production_keeps_every_acknowledged_message_once() {
    let z = zk(ServerKind::Zkraft);
    let mut b = broker(&z, &[]);
    let bootstrap = b.bootstrap();
    assert!(produce(&b, "crash", &[], &["warmup".to_owned()]));
    const BATCHES: usize = 24;
    let (tx, rx) = std::sync::mpsc::channel::<(usize, bool)>();
    let producer = std::thread::spawn(move || {
        for i in 0..BATCHES {
            let msgs = lines(&format!("b{i}"), 20);
            let input = msgs.iter().map(|l| format!("{l}\n")).collect::<String>();
            let out = kcat(
                &[
                    "-b",
                    &bootstrap,
                    "-P",
                    "-t",
                    "crash",
                    "-X",
                    "acks=all",
                    "-X",
                    "enable.idempotence=true",
                    "-X",
                    "message.timeout.ms=20000",
                ],
                Some(input.as_bytes()),
                Duration::from_secs(40),
            );
            let ok = out.is_ok_and(|o| {
                let err = String::from_utf8_lossy(&o.stderr).to_string();
                o.status.success() && !err.contains("Delivery failed")
            });
            if tx.send((i, ok)).is_err() {
                return;
            }
        }
    });
    let mut acked = Vec::new();
    let mut killed = false;
    for (i, ok) in rx.iter() {
        if ok {
            acked.push(i);
        }
        if i == 8 && !killed {
            b.kill9().unwrap();
            killed = true;
            b.restart().expect("broker restarts after kill -9");
        }
    }
    producer.join().unwrap();
    assert!(
        acked.len() >= BATCHES / 2,
        "too few batches acknowledged: {acked:?}"
    );
    let got = consume(&b, "crash", 0);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &got {
        *counts.entry(m.as_str()).or_default() += 1;
    }
    for i in &acked {
        for m in lines(&format!("b{i}"), 20) {
            assert_eq!(
                counts.get(m.as_str()).copied(),
                Some(1),
                "acknowledged {m} must be present exactly once"
            );
        }
    }
}

#[test]
fn t50_clean_shutdown_writes_marker_and_checkpoints() {
    let z = zk(ServerKind::Zkraft);
    let mut b = broker(&z, &[]);
    let msgs = lines("c", 30);
    assert!(produce(&b, "clean", &[], &msgs));
    let st = b.stop().unwrap();
    assert!(st.success(), "clean shutdown exit status {st}");
    let dir = b.log_dir().to_path_buf();
    assert!(dir.join(".kafka_cleanshutdown").is_file());
    let rp = std::fs::read_to_string(dir.join("recovery-point-offset-checkpoint")).unwrap();
    assert!(rp.lines().any(|l| l == "clean 0 30"), "{rp}");
    let meta = std::fs::read_to_string(dir.join("meta.properties")).unwrap();
    assert!(
        meta.contains("broker.id=0") && meta.contains("cluster.id="),
        "{meta}"
    );
    b.restart().unwrap();
    assert!(!Path::new(&dir.join(".kafka_cleanshutdown")).exists());
    assert_eq!(consume(&b, "clean", 0), msgs);
    assert!(
        !b.log_text().contains("recovering it"),
        "a clean restart must not recover segments"
    );
}

#[test]
fn t60_invalid_config_is_one_line_and_exit_1() {
    let bin = tests::kafka::kafka_server_binary();
    let cfg = tests::server::workspace_root().join("config/server.properties");
    let out = std::process::Command::new(bin)
        .arg(cfg)
        .args(["--override", "num.partitions=zero"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("num.partitions"), "{err}");
}

#[test]
fn t70_core_flow_on_apache_zookeeper() {
    core_flow_with_znode_topic(ServerKind::Apache);
}

/// Sends raw bytes and returns what the broker answers before closing (or within 5 s).
fn raw_exchange(addr: &str, bytes: &[u8]) -> (Vec<u8>, bool) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                // One complete response frame is enough.
                if out.len() >= 4 {
                    let len = i32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
                    if out.len() >= 4 + len {
                        return (out, false);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

#[test]
fn t80_bad_frames_get_errors_or_a_closed_connection() {
    let z = zk(ServerKind::Zkraft);
    let b = broker(&z, &[("socket.request.max.bytes", "1048576")]);
    let addr = b.bootstrap();
    // ApiVersions of a version we do not speak: v0 answer with UNSUPPORTED_VERSION (35).
    let mut req = Vec::new();
    req.extend_from_slice(&18i16.to_be_bytes());
    req.extend_from_slice(&99i16.to_be_bytes());
    req.extend_from_slice(&7i32.to_be_bytes());
    req.extend_from_slice(&(-1i16).to_be_bytes());
    req.push(0);
    let (resp, _) = raw_exchange(&addr, &frame(&req));
    assert!(resp.len() >= 10, "{resp:?}");
    assert_eq!(i32::from_be_bytes([resp[4], resp[5], resp[6], resp[7]]), 7);
    assert_eq!(i16::from_be_bytes([resp[8], resp[9]]), 35);
    // A frame above socket.request.max.bytes: closed without reading it.
    let (resp, closed) = raw_exchange(&addr, &(2_000_000i32).to_be_bytes());
    assert!(closed && resp.is_empty());
    // A negative size, an unknown API key, an unsupported Produce version: closed.
    let (resp, closed) = raw_exchange(&addr, &(-5i32).to_be_bytes());
    assert!(closed && resp.is_empty());
    let mut unknown = Vec::new();
    unknown.extend_from_slice(&999i16.to_be_bytes());
    unknown.extend_from_slice(&0i16.to_be_bytes());
    unknown.extend_from_slice(&1i32.to_be_bytes());
    let (resp, closed) = raw_exchange(&addr, &frame(&unknown));
    assert!(closed && resp.is_empty());
    let mut old_produce = Vec::new();
    old_produce.extend_from_slice(&0i16.to_be_bytes());
    old_produce.extend_from_slice(&1i16.to_be_bytes());
    old_produce.extend_from_slice(&1i32.to_be_bytes());
    old_produce.extend_from_slice(&(-1i16).to_be_bytes());
    let (resp, closed) = raw_exchange(&addr, &frame(&old_produce));
    assert!(closed && resp.is_empty());
    // A truncated request body: closed, and the broker keeps serving others.
    let mut truncated = Vec::new();
    truncated.extend_from_slice(&3i16.to_be_bytes());
    truncated.extend_from_slice(&5i16.to_be_bytes());
    truncated.extend_from_slice(&1i32.to_be_bytes());
    truncated.extend_from_slice(&(-1i16).to_be_bytes());
    truncated.extend_from_slice(&100i32.to_be_bytes());
    let (_, closed) = raw_exchange(&addr, &frame(&truncated));
    assert!(closed);
    // An array declaring 2^31-1 elements in a 16-byte request (the decoder preallocates by
    // the declared count): closed, and the process survives.
    let mut huge = Vec::new();
    huge.extend_from_slice(&3i16.to_be_bytes());
    huge.extend_from_slice(&1i16.to_be_bytes());
    huge.extend_from_slice(&1i32.to_be_bytes());
    huge.extend_from_slice(&(-1i16).to_be_bytes());
    huge.extend_from_slice(&i32::MAX.to_be_bytes());
    let (_, closed) = raw_exchange(&addr, &frame(&huge));
    assert!(closed);
    assert!(metadata(&b, None).contains("(controller)"));
}

fn registration_owner(connect: &str) -> Option<i64> {
    use zookeeper_client as zkc;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = zkc::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(connect)
            .await
            .ok()?;
        c.get_data("/brokers/ids/0")
            .await
            .ok()
            .map(|(_, s)| s.ephemeral_owner)
    })
}

#[test]
fn t90_session_expiry_registers_again() {
    let z = zk(ServerKind::Zkraft);
    let b = broker(&z, &[]);
    let before = registration_owner(&z.connect_string()).expect("registered");
    let pid = b.pid().expect("running") as libc::pid_t;
    // Frozen past its 6 s session timeout, the broker's session expires.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let gone = wait_until(Duration::from_secs(20), "registration to vanish", || {
        registration_owner(&z.connect_string())
            .is_none()
            .then_some(())
    });
    unsafe { libc::kill(pid, libc::SIGCONT) };
    gone.unwrap();
    let after = wait_until(T, "registration by a new session", || {
        registration_owner(&z.connect_string()).filter(|o| *o != before)
    })
    .unwrap();
    assert_ne!(after, before);
    // It is the controller again and serves produce/consume.
    let msgs = lines("after-expiry", 5);
    wait_until(T, "produce after expiry", || {
        produce(&b, "exp", &[], &msgs).then_some(())
    })
    .unwrap();
    assert_eq!(consume(&b, "exp", 0)[..5], msgs[..]);
}

#[test]
fn t95_two_brokers_lead_their_partitions_and_survive_controller_loss() {
    let z = zk(ServerKind::Zkraft);
    let mut b0 = broker(&z, &[]);
    let b1 = broker(&z, &[("broker.id", "1")]);
    topic_znodes_rt(&z.connect_string(), "two", &[(0, vec![0]), (1, vec![1])]);
    // Broker 1 learns the metadata from the controller (UpdateMetadata over the network).
    wait_until(T, "both partitions led, seen through broker 1", || {
        let md = metadata(&b1, Some("two"));
        (md.contains("2 brokers:")
            && md.contains("partition 0, leader 0")
            && md.contains("partition 1, leader 1"))
        .then_some(())
    })
    .unwrap();
    let p0 = lines("p0", 10);
    let p1 = lines("p1", 10);
    assert!(produce(&b1, "two", &["-p", "0"], &p0));
    assert!(produce(&b0, "two", &["-p", "1"], &p1));
    assert_eq!(consume(&b1, "two", 0), p0);
    assert_eq!(consume(&b0, "two", 1), p1);
    // The controller dies: broker 1 takes over; partition 0 (only on broker 0) goes offline,
    // partition 1 stays writable.
    b0.kill9().unwrap();
    wait_until(
        Duration::from_secs(30),
        "broker 1 elected controller",
        || {
            let md = metadata(&b1, Some("two"));
            (md.contains("broker 1 at")
                && md.contains("(controller)")
                && md.contains("1 brokers:")
                && !md.contains("partition 0, leader 0"))
            .then_some(())
        },
    )
    .unwrap();
    let more = lines("p1-after", 5);
    assert!(produce(&b1, "two", &["-p", "1"], &more));
    let all: Vec<String> = p1.iter().chain(more.iter()).cloned().collect();
    assert_eq!(consume(&b1, "two", 1), all);
}
