//! Four-letter words side by side: the same client activity against Apache ZooKeeper 3.8
//! and zkraft, then every word's output compared after normalising session ids, ports,
//! times and versions. The numbers that describe the tree and the watches must be equal.

use std::collections::BTreeSet;
use std::time::Duration;

use tests::{ServerKind, ServerOptions, TestServer};
use zookeeper_client as zk;

fn start(kind: ServerKind) -> TestServer {
    let opts = ServerOptions::new().four_lw(&[
        "ruok", "srvr", "stat", "conf", "cons", "crst", "dump", "envi", "mntr", "srst", "wchs",
        "wchc", "wchp", "isro", "dirs",
    ]);
    TestServer::start(kind, opts).expect("server starts")
}

/// Creates the same nodes, ephemerals and watches on a server; returns the client so the
/// session (and its watches) stay alive while the words are read.
async fn activity(s: &TestServer) -> zk::Client {
    let c = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(20))
        .connect(&s.connect_string())
        .await
        .expect("connect");
    let p = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let e = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    c.create("/fl", b"x", &p).await.unwrap();
    c.create("/fl/a", b"abc", &p).await.unwrap();
    c.create("/fl/e1", b"", &e).await.unwrap();
    c.create("/fl/e2", b"", &e).await.unwrap();
    // Keep watchers registered: two data watches and one child watch.
    let (_, _, w1) = c.get_and_watch_data("/fl/a").await.unwrap();
    let (_, w2) = c.check_and_watch_stat("/fl/missing").await.unwrap();
    let (_, _, w3) = c.get_and_watch_children("/fl").await.unwrap();
    std::mem::forget((w1, w2, w3));
    c
}

fn words(s: &TestServer, w: &str) -> String {
    s.four_letter_word(w)
        .unwrap_or_else(|e| panic!("{} {w}: {e}", s.kind()))
}

fn keys(text: &str, sep: char) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once(sep).map(|(k, _)| k.trim().to_string()))
        .collect()
}

fn value<'a>(text: &'a str, key: &str, sep: char) -> Option<&'a str> {
    text.lines().find_map(|l| {
        l.split_once(sep)
            .filter(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim())
    })
}

/// Replaces every 0x… session id with a placeholder.
fn mask_sessions(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("0x") {
            out.push_str(&line[..line.len() - t.len()]);
            out.push_str("0xSID");
            out.push_str(t.find(':').map_or("", |i| &t[i..]));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn four_letter_words_match_apache() {
    if !ServerKind::Apache.is_available() {
        panic!("Apache ZooKeeper is not installed: run scripts/install-test-deps.sh");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let apache = start(ServerKind::Apache);
    let ours = start(ServerKind::Zkraft);
    let _ca = rt.block_on(activity(&apache));
    let _co = rt.block_on(activity(&ours));

    assert_eq!(words(&apache, "ruok"), "imok");
    assert_eq!(words(&ours, "ruok"), "imok");
    assert_eq!(words(&ours, "isro"), words(&apache, "isro"));

    // srvr: same lines in the same order; the tree numbers agree.
    let (a, o) = (words(&apache, "srvr"), words(&ours, "srvr"));
    assert_eq!(
        keys(&o, ':'),
        keys(&a, ':'),
        "srvr lines\napache:\n{a}\nours:\n{o}"
    );
    for k in ["Zxid", "Mode", "Node count", "Connections", "Outstanding"] {
        assert_eq!(
            value(&o, k, ':'),
            value(&a, k, ':'),
            "srvr {k}\napache:\n{a}\nours:\n{o}"
        );
    }
    assert!(o.starts_with("Zookeeper version: 3.8."), "{o}");
    let lat = value(&o, "Latency min/avg/max", ':').unwrap();
    assert_eq!(lat.split('/').count(), 3, "{lat}");

    // stat: srvr plus the client list.
    let (a, o) = (words(&apache, "stat"), words(&ours, "stat"));
    assert!(o.contains("\nClients:\n"), "{o}");
    let client_lines = |t: &str| t.lines().filter(|l| l.starts_with(" /")).count();
    assert_eq!(
        client_lines(&o),
        client_lines(&a),
        "stat clients\napache:\n{a}\nours:\n{o}"
    );

    // mntr: the documented keys exist in both, and the state numbers agree.
    let (a, o) = (words(&apache, "mntr"), words(&ours, "mntr"));
    let (ak, ok): (BTreeSet<_>, BTreeSet<_>) = (
        keys(&a, '\t').into_iter().collect(),
        keys(&o, '\t').into_iter().collect(),
    );
    for k in [
        "zk_version",
        "zk_server_state",
        "zk_avg_latency",
        "zk_max_latency",
        "zk_min_latency",
        "zk_packets_received",
        "zk_packets_sent",
        "zk_num_alive_connections",
        "zk_outstanding_requests",
        "zk_znode_count",
        "zk_watch_count",
        "zk_ephemerals_count",
        "zk_approximate_data_size",
        "zk_open_file_descriptor_count",
        "zk_max_file_descriptor_count",
        "zk_uptime",
        "zk_global_sessions",
        "zk_local_sessions",
    ] {
        assert!(ak.contains(k), "apache mntr lacks {k}");
        assert!(ok.contains(k), "our mntr lacks {k}:\n{o}");
    }
    assert_eq!(keys(&o, '\t')[..2], ["zk_version", "zk_server_state"]);
    for k in [
        "zk_server_state",
        "zk_znode_count",
        "zk_watch_count",
        "zk_ephemerals_count",
        "zk_num_alive_connections",
        "zk_global_sessions",
    ] {
        assert_eq!(
            value(&o, k, '\t'),
            value(&a, k, '\t'),
            "mntr {k}\napache:\n{a}\nours:\n{o}"
        );
    }

    // conf: the standalone keys, in order.
    let (a, o) = (words(&apache, "conf"), words(&ours, "conf"));
    assert_eq!(
        keys(&o, '='),
        keys(&a, '='),
        "conf keys\napache:\n{a}\nours:\n{o}"
    );
    for k in [
        "tickTime",
        "maxClientCnxns",
        "minSessionTimeout",
        "maxSessionTimeout",
        "serverId",
    ] {
        assert_eq!(value(&o, k, '='), value(&a, k, '='), "conf {k}");
    }

    // Watch words: identical once session ids are masked.
    assert_eq!(words(&ours, "wchs"), words(&apache, "wchs"));
    assert_eq!(
        mask_sessions(&words(&ours, "wchc")),
        mask_sessions(&words(&apache, "wchc"))
    );
    assert_eq!(
        mask_sessions(&words(&ours, "wchp")),
        mask_sessions(&words(&apache, "wchp"))
    );

    // dump: the ephemerals section lists the same paths.
    let (a, o) = (words(&apache, "dump"), words(&ours, "dump"));
    let eph = |t: &str| -> BTreeSet<String> {
        t.lines()
            .filter(|l| l.starts_with('\t') && l.contains("/fl/"))
            .map(|l| l.trim().to_string())
            .collect()
    };
    assert_eq!(eph(&o), eph(&a), "dump\napache:\n{a}\nours:\n{o}");
    for header in [
        "SessionTracker dump:",
        "ephemeral nodes dump:",
        "Sessions with Ephemerals (1):",
    ] {
        assert!(
            a.contains(header) && o.contains(header),
            "dump header {header:?}\napache:\n{a}\nours:\n{o}"
        );
    }

    // cons: one line per connection with the documented fields.
    let o = words(&ours, "cons");
    let line = o
        .lines()
        .find(|l| l.contains("sid=0x"))
        .unwrap_or_else(|| panic!("no session in cons:\n{o}"));
    for f in [
        "queued=", "recved=", "sent=", "lop=", "est=", "to=", "lcxid=0x", "lzxid=0x", "lresp=",
        "llat=", "minlat=", "avglat=", "maxlat=",
    ] {
        assert!(line.contains(f), "cons lacks {f}: {line}");
    }

    assert_eq!(words(&ours, "crst"), words(&apache, "crst"));
    assert_eq!(words(&ours, "srst"), words(&apache, "srst"));
    assert_eq!(
        keys(&words(&ours, "dirs"), ':'),
        keys(&words(&apache, "dirs"), ':')
    );
    assert!(words(&ours, "envi").starts_with("Environment:\nzookeeper.version="));

    // A known word that is not whitelisted gets the same refusal.
    let narrow = |k| TestServer::start(k, ServerOptions::new().four_lw(&[])).unwrap();
    let (na, no) = (narrow(ServerKind::Apache), narrow(ServerKind::Zkraft));
    assert_eq!(words(&no, "mntr"), words(&na, "mntr"));
    assert_eq!(
        words(&no, "mntr"),
        "mntr is not executed because it is not in the whitelist.\n"
    );
}
