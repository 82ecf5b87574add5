//! Self-tests of the harness, which double as server lifecycle tests: start/answer `srvr`,
//! four-letter-word whitelist, SIGTERM, restart and kill -9 with data kept, reuse of a data
//! directory, several servers at once, and a differential run over both implementations.
//! Runs against `ZK_IMPL` (default zkraft; `ZK_IMPL=apache` for the oracle).

use std::time::{Duration, Instant};

use tests::fourlw::parse_kv;
use tests::zkcli::{run_script, run_script_with, ZkCliOptions};
use tests::{for_each_kind, wait_until, ServerKind, ServerOptions, TestServer};
use zookeeper_client as zk;

fn kind() -> ServerKind {
    ServerKind::from_env()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Creates `path` with `data` over a fresh session (bounded).
fn create(s: &TestServer, path: &str, data: &[u8]) {
    let cs = s.connect_string();
    rt().block_on(async {
        tokio::time::timeout(Duration::from_secs(20), async {
            let c = zk::Client::connect(&cs).await.unwrap();
            c.create(path, data, &persistent()).await.unwrap();
        })
        .await
        .expect("create timed out")
    });
}

/// Reads `path` over a fresh session (bounded); `None` if missing.
fn read(s: &TestServer, path: &str) -> Option<Vec<u8>> {
    let cs = s.connect_string();
    rt().block_on(async {
        tokio::time::timeout(Duration::from_secs(20), async {
            let c = zk::Client::connect(&cs).await.unwrap();
            match c.get_data(path).await {
                Ok((d, _)) => Some(d),
                Err(zk::Error::NoNode) => None,
                Err(e) => panic!("get_data {path}: {e}"),
            }
        })
        .await
        .expect("read timed out")
    })
}

#[test]
fn starts_answers_srvr_and_stops_on_sigterm() {
    let mut s = TestServer::start(kind(), ServerOptions::new()).unwrap();
    assert!(s.port() > 0);
    assert_eq!(s.connect_string(), format!("127.0.0.1:{}", s.port()));
    assert!(s.data_dir().is_dir());
    let cfg = std::fs::read_to_string(s.cfg_path()).unwrap();
    assert!(cfg.contains(&format!("clientPort={}", s.port())), "{cfg}");
    assert!(cfg.contains("clientPortAddress=127.0.0.1"), "{cfg}");

    let srvr = s.four_letter_word("srvr").unwrap();
    let kv = parse_kv(&srvr);
    let get = |k: &str| kv.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.as_str());
    assert!(
        get("Zookeeper version").is_some_and(|v| v.starts_with("3.")),
        "{srvr}"
    );
    assert_eq!(get("Mode"), Some("standalone"), "{srvr}");
    assert_eq!(get("Zxid"), Some("0x0"), "{srvr}");
    // Apache's DataTree maps the root under both "" and "/", so an empty tree (/, /zookeeper,
    // /zookeeper/quota, /zookeeper/config) reports 5.
    assert_eq!(get("Node count"), Some("5"), "{srvr}");
    assert!(s.is_running());

    let pid = s.pid().unwrap();
    let status = s.stop().unwrap();
    assert!(!s.is_running());
    // The process is really gone (not just reaped by a shell).
    assert!(std::fs::metadata(format!("/proc/{pid}")).is_err());
    // Apache's JVM exits with 143 (128 + SIGTERM); ours exits 0. Either way it exited by itself.
    assert!(
        status.success() || status.code() == Some(143),
        "unexpected exit status {status}\n{}",
        s.log_tail(20)
    );
    // The port is released.
    assert!(std::net::TcpStream::connect(s.addr()).is_err());
}

#[test]
fn four_letter_word_whitelist() {
    let s = TestServer::start(kind(), ServerOptions::new()).unwrap();
    assert_eq!(s.four_letter_word("ruok").unwrap(), "imok");
    let mntr = s.four_letter_word("mntr").unwrap();
    let kv = parse_kv(&mntr);
    assert!(
        kv.iter()
            .any(|(k, v)| k == "zk_server_state" && v == "standalone"),
        "{mntr}"
    );
    assert!(kv.iter().any(|(k, _)| k == "zk_znode_count"), "{mntr}");

    let only_srvr = TestServer::start(kind(), ServerOptions::new().four_lw(&["stat"])).unwrap();
    assert!(only_srvr
        .four_letter_word("srvr")
        .unwrap()
        .contains("Mode: standalone"));
    assert!(only_srvr
        .four_letter_word("stat")
        .unwrap()
        .contains("Mode: standalone"));
    assert_eq!(
        only_srvr.four_letter_word("ruok").unwrap(),
        "ruok is not executed because it is not in the whitelist.\n"
    );
}

#[test]
fn restart_and_kill9_keep_committed_data() {
    let mut s = TestServer::start(kind(), ServerOptions::new()).unwrap();
    let port = s.port();
    create(&s, "/kept", b"v1");
    s.restart().unwrap();
    assert_eq!(s.port(), port, "restart keeps the port");
    assert_eq!(read(&s, "/kept").as_deref(), Some(&b"v1"[..]));

    create(&s, "/after_restart", b"v2");
    s.kill9().unwrap();
    assert!(!s.is_running());
    assert!(s.four_letter_word("srvr").is_err());
    s.start_again().unwrap();
    assert_eq!(read(&s, "/kept").as_deref(), Some(&b"v1"[..]));
    assert_eq!(read(&s, "/after_restart").as_deref(), Some(&b"v2"[..]));
    let srvr = s.four_letter_word("srvr").unwrap();
    assert!(
        !srvr.contains("Zxid: 0x0\n"),
        "zxid survives restarts: {srvr}"
    );
}

#[test]
fn reuse_data_dir_in_a_new_server() {
    let mut first = TestServer::start(kind(), ServerOptions::new()).unwrap();
    create(&first, "/from_first", b"hello");
    first.stop().unwrap();
    let second =
        TestServer::start(kind(), ServerOptions::new().data_dir(first.data_dir())).unwrap();
    assert_ne!(second.data_dir(), second.base_dir().join("data"));
    assert_eq!(read(&second, "/from_first").as_deref(), Some(&b"hello"[..]));
}

#[test]
fn two_servers_are_independent() {
    let a = TestServer::start(kind(), ServerOptions::new()).unwrap();
    let b = TestServer::start(kind(), ServerOptions::new()).unwrap();
    assert_ne!(a.port(), b.port());
    create(&a, "/only_a", b"");
    assert!(read(&a, "/only_a").is_some());
    assert!(read(&b, "/only_a").is_none());
}

#[test]
fn session_timeout_bounds_from_cfg() {
    // tickTime 500 ms: default bounds are 2*tick .. 20*tick; we narrow them explicitly.
    let s = TestServer::start(
        kind(),
        ServerOptions::new()
            .tick_time(500)
            .session_timeouts(1500, 3000),
    )
    .unwrap();
    let cs = s.connect_string();
    rt().block_on(async {
        tokio::time::timeout(Duration::from_secs(20), async {
            // (The client derives its connect timeout from the requested session timeout; keep
            // both sane so a loaded machine does not time the connection out.)
            let lo = zk::Client::connector()
                .with_session_timeout(Duration::from_millis(1000))
                .with_connection_timeout(Duration::from_secs(10))
                .connect(&cs)
                .await
                .unwrap();
            assert_eq!(lo.session_timeout(), Duration::from_millis(1500));
            let hi = zk::Client::connector()
                .with_session_timeout(Duration::from_secs(60))
                .with_connection_timeout(Duration::from_secs(10))
                .connect(&cs)
                .await
                .unwrap();
            assert_eq!(hi.session_timeout(), Duration::from_millis(3000));
        })
        .await
        .unwrap()
    });
}

#[test]
fn unclosed_session_expires() {
    let s = TestServer::start(
        kind(),
        ServerOptions::new()
            .tick_time(500)
            .session_timeouts(4000, 4000),
    )
    .unwrap();
    // zkCli without `quit` exits without closing its session: the server only learns about it
    // by the session timing out.
    let opts = ZkCliOptions {
        quit: false,
        ..Default::default()
    };
    run_script_with(&s.connect_string(), "create -e /eph x", &opts)
        .unwrap()
        .assert_transcript("Created /eph");
    let t0 = Instant::now();
    assert!(
        read(&s, "/eph").is_some(),
        "the session must outlive the client process"
    );
    wait_until(
        Duration::from_secs(20),
        "ephemeral of the expired session to vanish",
        || read(&s, "/eph").is_none().then_some(()),
    )
    .unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(1500),
        "vanished too early: {:?}",
        t0.elapsed()
    );
}

/// Differential: the same zkCli session against each implementation (`ZK_IMPLS`, default
/// both) must print the same thing.
#[test]
fn same_zkcli_transcript_on_every_implementation() {
    let transcripts = std::sync::Mutex::new(Vec::new());
    for_each_kind(|k| {
        let s = TestServer::start(k, ServerOptions::new()).unwrap();
        let run = run_script(
            &s.connect_string(),
            "create /d x\ncreate -s /d/s- y\nset /d z\nget -s /d\nls /d\ndelete /d\nstat /d",
        )
        .unwrap();
        transcripts.lock().unwrap().push((k, run.text()));
    });
    let t = transcripts.into_inner().unwrap();
    for w in t.windows(2) {
        assert_eq!(w[0].1, w[1].1, "{} vs {}", w[0].0, w[1].0);
    }
    assert!(t
        .iter()
        .all(|(_, text)| text.contains("Created /d/s-0000000000")));
}
