//! Three zkraft brokers (`kafka-server`) on one ZooKeeper, driven by kcat (librdkafka)
//! bootstrapping from a single broker.
//!
//! t10: an RF=1 topic spread over all three brokers is produced to and consumed from, every
//! partition, through one bootstrap broker; after that broker (the controller) stops with
//! SIGTERM, the partitions of the other two stay readable and writable.

use std::collections::BTreeMap;
use std::time::Duration;

use tests::kafka::{kcat, kcat_available, KafkaBroker};
use tests::{wait_until, ServerKind, ServerOptions, TestServer};

const T: Duration = Duration::from_secs(30);
const PARTITIONS: i32 = 6;
const BROKERS: i32 = 3;

/// Creates `topic` the way `kafka-topics.sh --zookeeper` does: config znode, then the
/// assignment (partition p on broker p % BROKERS).
fn create_spread_topic(connect: &str, topic: &str) {
    use zookeeper_client as zkc;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let c = zkc::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(connect)
            .await
            .expect("zk connect");
        let opts = zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all());
        c.create(
            &format!("/config/topics/{topic}"),
            br#"{"version":1,"config":{}}"#,
            &opts,
        )
        .await
        .expect("create topic config");
        let parts: BTreeMap<String, String> = (0..PARTITIONS)
            .map(|p| (p.to_string(), format!("[{}]", p % BROKERS)))
            .collect();
        let body: Vec<String> = parts.iter().map(|(p, r)| format!("\"{p}\":{r}")).collect();
        let json = format!("{{\"version\":1,\"partitions\":{{{}}}}}", body.join(","));
        c.create(&format!("/brokers/topics/{topic}"), json.as_bytes(), &opts)
            .await
            .expect("create topic assignment");
    });
}

fn metadata(bootstrap: &str, topic: &str) -> String {
    let out = kcat(&["-b", bootstrap, "-L", "-t", topic], None, T).expect("kcat -L runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Produces `msgs` to partition `p` with acks=all; true when kcat reports every delivery.
fn produce(bootstrap: &str, topic: &str, p: i32, msgs: &[String]) -> bool {
    let part = p.to_string();
    let input: String = msgs.iter().map(|m| format!("{m}\n")).collect();
    let args = [
        "-b", bootstrap, "-P", "-t", topic, "-p", &part, "-X", "acks=all",
    ];
    match kcat(&args, Some(input.as_bytes()), T) {
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            out.status.success() && !err.contains("Delivery failed") && !err.contains("ERROR")
        }
        Err(_) => false,
    }
}

/// Every message of partition `p`, from the beginning to the current end.
fn consume(bootstrap: &str, topic: &str, p: i32) -> Vec<String> {
    let part = p.to_string();
    let args = [
        "-b",
        bootstrap,
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
    ];
    let out = kcat(&args, None, T).expect("kcat consumer runs");
    assert!(
        out.status.success(),
        "kcat -C -p {p} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn msgs(tag: &str, p: i32) -> Vec<String> {
    (0..10).map(|i| format!("{tag}-p{p}-{i}")).collect()
}

#[test]
fn t10_three_brokers_served_through_one_bootstrap_broker() {
    assert!(
        kcat_available(),
        "kcat is not installed (scripts/install-test-deps.sh)"
    );
    let z = TestServer::start(ServerKind::Zkraft, ServerOptions::new()).expect("zookeeper");
    let connect = z.connect_string();
    let mut brokers: Vec<KafkaBroker> = (0..BROKERS)
        .map(|id| {
            let id = id.to_string();
            KafkaBroker::start(&connect, &[("broker.id", id.as_str())]).expect("broker starts")
        })
        .collect();
    let boot = brokers[0].bootstrap();
    create_spread_topic(&connect, "spread");
    wait_until(
        T,
        "every partition led by broker p % 3, seen via broker 0",
        || {
            let md = metadata(&boot, "spread");
            (md.contains("3 brokers:")
                && (0..PARTITIONS)
                    .all(|p| md.contains(&format!("partition {p}, leader {},", p % BROKERS))))
            .then_some(())
        },
    )
    .unwrap();

    for p in 0..PARTITIONS {
        assert!(
            produce(&boot, "spread", p, &msgs("before", p)),
            "produce to {p}"
        );
    }
    for p in 0..PARTITIONS {
        assert_eq!(
            consume(&boot, "spread", p),
            msgs("before", p),
            "partition {p}"
        );
    }

    // The bootstrap broker, which is also the controller, shuts down cleanly.
    let st = brokers[0].stop().expect("broker 0 stops");
    assert!(st.success(), "clean shutdown exits 0: {st}");
    let boot1 = brokers[1].bootstrap();
    wait_until(T, "a new controller among brokers 1 and 2", || {
        let md = metadata(&boot1, "spread");
        (md.contains("2 brokers:")
            && md.contains("(controller)")
            && (0..PARTITIONS)
                .filter(|p| p % BROKERS != 0)
                .all(|p| md.contains(&format!("partition {p}, leader {},", p % BROKERS))))
        .then_some(())
    })
    .unwrap();
    for p in (0..PARTITIONS).filter(|p| p % BROKERS != 0) {
        assert!(
            produce(&boot1, "spread", p, &msgs("after", p)),
            "produce to {p}"
        );
        let mut want = msgs("before", p);
        want.extend(msgs("after", p));
        assert_eq!(consume(&boot1, "spread", p), want, "partition {p}");
    }
    drop(brokers);
}
