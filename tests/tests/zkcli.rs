//! Apache's Java CLI (zkCli.sh) driving a server: scripted sessions whose printed output must be
//! exactly what Apache ZooKeeper 3.8 makes zkCli print (timestamps, zxids and session ids
//! normalised, see `tests::zkcli::normalise_line`). Runs against `ZK_IMPL` (default zkraft;
//! `ZK_IMPL=apache` runs the same expectations against the oracle).
//!
//! Where the server's answer order is unspecified (HashSet order in Apache: `ls -R`,
//! `getEphemerals`) the lines are compared as sets.

use std::time::Duration;

use tests::zkcli::{run_command, run_script, run_script_with, ZkCliOptions, ZkCliRun};
use tests::{wait_until, ServerKind, ServerOptions, TestServer};

/// base64(sha1("super:admin"))
const SUPER_DIGEST: &str = "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=";
/// base64(sha1("bob:pw"))
const BOB_DIGEST: &str = "bob:ikIaKsbtGweaHnb/jKn7OHqbunM=";

fn server(opts: ServerOptions) -> TestServer {
    TestServer::start(ServerKind::from_env(), opts).expect("server starts")
}

fn script(s: &TestServer, text: &str) -> ZkCliRun {
    run_script(&s.connect_string(), text).expect("zkCli runs")
}

/// The stat block zkCli prints (normalised), for a node with the given fields.
fn stat(
    cversion: i32,
    data_version: i32,
    acl_version: i32,
    eph: &str,
    len: usize,
    kids: usize,
) -> String {
    format!(
        "cZxid = <ZXID>\nctime = <TIME>\nmZxid = <ZXID>\nmtime = <TIME>\npZxid = <ZXID>\n\
         cversion = {cversion}\ndataVersion = {data_version}\naclVersion = {acl_version}\n\
         ephemeralOwner = {eph}\ndataLength = {len}\nnumChildren = {kids}\n"
    )
}

#[test]
fn crud_and_create_modes() {
    let s = server(ServerOptions::new().extended_types(true));
    let run = script(
        &s,
        r#"
        create /t data1
        create /t/p pdata
        create -e /t/eph edata
        create -s /t/seq- s
        create -s -e /t/eseq- es
        create -c /t/cont
        create -t 600000 /t/ttl tt
        create /t
        create /t/no/parent x
        ls /t
        get /t
        get -s /t/p
        stat /t/p
        set /t/p pdata2
        set -v 1 /t/p pdata3
        set -v 7 /t/p nope
        set -s /t/p pdata4
        get /t/p
        delete /t/nonexist
        delete -v 9 /t/p
        delete /t/p
        create /t/d
        create /t/d/e
        delete /t/d
        deleteall /t/d
        ls /t
        ls -s /t/cont
        stat /t/eph
        stat /t/ttl
        stat /t/nonexist
        get /t/nonexist
        ls /t/nonexist
        create /t/empty
        get /t/empty
        create /t/emptystr ""
        get -s /t/emptystr
        "#,
    );
    let expected = format!(
        "Created /t\n\
         Created /t/p\n\
         Created /t/eph\n\
         Created /t/seq-0000000002\n\
         Created /t/eseq-0000000003\n\
         Created /t/cont\n\
         Created /t/ttl\n\
         Node already exists: /t\n\
         Node does not exist: /t/no/parent\n\
         [cont, eph, eseq-0000000003, p, seq-0000000002, ttl]\n\
         data1\n\
         pdata\n{}{}\
         version No is not valid : /t/p\n{}\
         pdata4\n\
         Node does not exist: /t/nonexist\n\
         version No is not valid : /t/p\n\
         Created /t/d\n\
         Created /t/d/e\n\
         Node not empty: /t/d\n\
         [cont, eph, eseq-0000000003, seq-0000000002, ttl]\n\
         []\n{}{}{}\
         Node does not exist: /t/nonexist\n\
         Node does not exist: /t/nonexist\n\
         Node does not exist: /t/nonexist\n\
         Created /t/empty\n\
         null\n\
         Created /t/emptystr\n{}",
        stat(0, 0, 0, "0x0", 5, 0),
        stat(0, 0, 0, "0x0", 5, 0),
        stat(0, 3, 0, "0x0", 6, 0),
        stat(0, 0, 0, "0x0", 0, 0),
        stat(0, 0, 0, "<SESSION>", 5, 0),
        // TTL (and container) nodes report ephemeralOwner 0 to clients.
        stat(0, 0, 0, "0x0", 2, 0),
        stat(0, 0, 0, "0x0", 0, 0),
    );
    run.assert_transcript(&expected);
    assert!(
        run.events.is_empty(),
        "no watches were set: {:?}",
        run.events
    );
    // zkCli prints "Closed" from its event thread while the JVM exits, so
    // that last line is sometimes lost; the connection itself must be the
    // only other state change.
    assert_eq!(
        run.session_events.first().map(String::as_str),
        Some("SyncConnected")
    );
    assert!(
        run.session_events[1..].iter().all(|e| e == "Closed"),
        "unexpected session events: {:?}",
        run.session_events
    );
}

#[test]
fn ls_recursive_and_get_ephemerals() {
    let s = server(ServerOptions::new());
    let run = script(
        &s,
        r#"
        create /r r
        create /r/a a
        create /r/b b
        create /r/a/x x
        create /r/a/y y
        create -e /r/b/e1 e
        create -e /r/e2 e
        create -e /other e
        ls -R /r
        getEphemerals
        getEphemerals /r
        "#,
    );
    let lines: Vec<&str> = run
        .transcript
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with("Created "))
        .collect();
    // ls -R: BFS listing, one path per line (sibling order is the server's).
    let mut ls: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with('/'))
        .collect();
    ls.sort();
    assert_eq!(
        ls,
        ["/r", "/r/a", "/r/a/x", "/r/a/y", "/r/b", "/r/b/e1", "/r/e2"],
        "{}",
        run.raw
    );
    let lists: Vec<Vec<String>> = lines
        .iter()
        .filter(|l| l.starts_with('['))
        .map(|l| parse_list(l))
        .collect();
    assert_eq!(
        lists,
        vec![
            vec!["/other".to_string(), "/r/b/e1".into(), "/r/e2".into()],
            vec!["/r/b/e1".to_string(), "/r/e2".into()],
        ],
        "{}",
        run.raw
    );
    // The session was closed (quit): its ephemerals are gone for the next session.
    let run2 = script(&s, "getEphemerals\nls /r\nls /r/b\nls /");
    run2.assert_transcript("[]\n[a, b]\n[]\n[r, zookeeper]");
}

/// `[a, b, c]` -> sorted vec.
fn parse_list(l: &str) -> Vec<String> {
    let inner = l.trim().trim_start_matches('[').trim_end_matches(']');
    let mut v: Vec<String> = inner
        .split(", ")
        .filter(|s| !s.is_empty())
        .map(|s| s.to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn acls_digest_auth_and_super() {
    let s = server(ServerOptions::new().super_digest(SUPER_DIGEST));
    let run = script(
        &s,
        &format!(
            r#"
        create /acl data
        getAcl /acl
        whoami
        addauth digest alice:secret
        whoami
        setAcl /acl auth::cdrwa
        getAcl /acl
        get /acl
        setAcl /acl digest:{BOB_DIGEST}:r,world:anyone:c
        getAcl -s /acl
        get /acl
        create /acl/child x
        setAcl /acl world:anyone:cdrwa
        setAcl -v 5 /acl/child world:anyone:r
        create /ipnode x
        setAcl /ipnode ip:127.0.0.1:cdrwa
        getAcl /ipnode
        get /ipnode
        create /ro x
        setAcl /ro world:anyone:r
        set /ro y
        delete /ro
        create /ro/c x
        getAcl /nonexist
        create /tree x
        create /tree/a x
        create /tree/a/b x
        setAcl -R /tree world:anyone:rw
        getAcl /tree/a/b
        getAcl -s /tree
        sync /acl
        "#
        ),
    );
    run.assert_transcript(&format!(
        "Created /acl\n\
         'world,'anyone\n: cdrwa\n\
         Auth scheme: User\nip: 127.0.0.1\n\
         Auth scheme: User\ndigest: alice\nip: 127.0.0.1\n\
         'digest,'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=\n: cdrwa\n\
         data\n\
         Insufficient permission : /acl\n\
         Insufficient permission : /acl\n\
         Created /acl/child\n\
         Insufficient permission : /acl\n\
         version No is not valid : /acl/child\n\
         Created /ipnode\n\
         'ip,'127.0.0.1\n: cdrwa\n\
         x\n\
         Created /ro\n\
         Insufficient permission : /ro\n\
         Node does not exist: /ro/c\n\
         Node does not exist: /nonexist\n\
         Created /tree\nCreated /tree/a\nCreated /tree/a/b\n\
         'world,'anyone\n: rw\n\
         'world,'anyone\n: rw\n{}\
         Sync is OK",
        stat(1, 0, 1, "0x0", 1, 1)
    ));
    // `delete /ro` is allowed: deleting needs DELETE on the parent (world:cdrwa on /).
    // A second session: unauthenticated, then bob (READ only: getAcl redacts digests without
    // ADMIN), then super (everything).
    let run2 = script(
        &s,
        r#"
        get /acl
        ls /acl
        addauth digest bob:pw
        get /acl
        set /acl z
        getAcl /acl
        setAcl /acl world:anyone:cdrwa
        addauth digest super:admin
        set /acl z
        setAcl /acl world:anyone:cdrwa
        getAcl /acl
        get /acl
        "#,
    );
    run2.assert_transcript(
        "Insufficient permission : /acl\n\
         Insufficient permission : /acl\n\
         data\n\
         Insufficient permission : /acl\n\
         'digest,'bob:x\n: r\n\
         'world,'anyone\n: c\n\
         Insufficient permission : /acl\n\
         'world,'anyone\n: cdrwa\n\
         z",
    );
}

#[test]
fn watches_one_shot_persistent_and_recursive() {
    let s = server(ServerOptions::new());
    let run = script(
        &s,
        r#"
        create /w a
        create /p a
        addWatch /w
        addWatch -m PERSISTENT /p
        set /w b
        create /w/c x
        set /w/c y
        delete /w/c
        set /p b
        create /p/c x
        set /p/c y
        delete /p/c
        get -w /w
        ls -w /p
        stat -w /nonexist
        set /w c
        create /p/d x
        create /nonexist x
        sync /
        removewatches /w
        set /w d
        sync /
        getAllChildrenNumber /
        getAllChildrenNumber /p
        "#,
    );
    run.assert_transcript(
        "Created /w\nCreated /p\nCreated /w/c\nCreated /p/c\n\
         b\n[]\n\
         Node does not exist: /nonexist\n\
         Created /p/d\nCreated /nonexist\n\
         Sync is OK\nSync is OK\n\
         7\n1",
    );
    assert_eq!(
        run.events,
        [
            // PERSISTENT_RECURSIVE on /w (the default addWatch mode): no child events.
            "NodeDataChanged /w",
            "NodeCreated /w/c",
            "NodeDataChanged /w/c",
            "NodeDeleted /w/c",
            // PERSISTENT on /p: data + children of /p only.
            "NodeDataChanged /p",
            "NodeChildrenChanged /p",
            "NodeChildrenChanged /p",
            // A one-shot data watch and the recursive watch on /w fire ONE notification.
            "NodeDataChanged /w",
            "NodeChildrenChanged /p",
            // exists-watch set by `stat -w` on a missing node.
            "NodeCreated /nonexist",
            // removewatches: nothing fires for the later `set /w d`.
            "PersistentWatchRemoved /w",
        ],
        "{}",
        run.raw
    );
}

#[test]
fn quotas_are_tracked_by_the_server() {
    let s = server(ServerOptions::new());
    let run = script(
        &s,
        r#"
        create /q x
        create /q/a 12345
        setquota -n 3 /q
        setquota -b 100 /q
        listquota /q
        create /q/b 1
        listquota /q
        delete /q/a
        listquota /q
        delquota -n /q
        listquota /q
        ls /zookeeper/quota/q
        "#,
    );
    run.assert_transcript(
        "Created /q\nCreated /q/a\n\
         absolute path is /zookeeper/quota/q/zookeeper_limits\n\
         Output quota for /q count=3,bytes=100=;byteHardLimit=-1;countHardLimit=-1\n\
         Output stat for /q count=2,bytes=6\n\
         Created /q/b\n\
         absolute path is /zookeeper/quota/q/zookeeper_limits\n\
         Output quota for /q count=3,bytes=100=;byteHardLimit=-1;countHardLimit=-1\n\
         Output stat for /q count=3,bytes=7\n\
         absolute path is /zookeeper/quota/q/zookeeper_limits\n\
         Output quota for /q count=3,bytes=100=;byteHardLimit=-1;countHardLimit=-1\n\
         Output stat for /q count=2,bytes=2\n\
         absolute path is /zookeeper/quota/q/zookeeper_limits\n\
         Output quota for /q count=-1,bytes=100=;byteHardLimit=-1;countHardLimit=-1\n\
         Output stat for /q count=2,bytes=2\n\
         [zookeeper_limits, zookeeper_stats]",
    );
}

#[test]
fn ttl_nodes_need_extended_types() {
    let s = server(ServerOptions::new());
    let run = script(
        &s,
        "create -t 60000 /ttl x\ncreate -s -t 60000 /ttls x\nls /",
    );
    run.assert_transcript(
        "KeeperErrorCode = Unimplemented for /ttl\n\
         KeeperErrorCode = Unimplemented for /ttls\n\
         [zookeeper]",
    );
}

#[test]
fn ttl_and_container_nodes_expire() {
    let s = server(
        ServerOptions::new()
            .extended_types(true)
            .system_prop("znode.container.checkIntervalMs", "100"),
    );
    let run = script(
        &s,
        r#"
        create -t 300 /ttl x
        create -t 300 /ttlp x
        create /ttlp/keep x
        create -c /cont
        create /cont/child c
        delete /cont/child
        create -c /cont_unused
        create /plain x
        "#,
    );
    run.assert_transcript(
        "Created /ttl\nCreated /ttlp\nCreated /ttlp/keep\nCreated /cont\nCreated /cont/child\n\
         Created /cont_unused\nCreated /plain",
    );
    // The TTL node expires; the TTL node with a child, a never-used container and plain nodes
    // stay; the emptied container is removed.
    let last = wait_until(Duration::from_secs(30), "ttl + container cleanup", || {
        let r = script(&s, "ls /");
        (r.text() == "[cont_unused, plain, ttlp, zookeeper]").then_some(r)
    });
    let last = last.unwrap_or_else(|e| panic!("{e}: {}", script(&s, "ls /").raw));
    assert_eq!(last.text(), "[cont_unused, plain, ttlp, zookeeper]");
}

#[test]
fn ephemerals_live_as_long_as_the_session() {
    let s = server(ServerOptions::new());
    // A session that is closed (`quit`) removes its ephemerals at once.
    script(&s, "create -e /e1 x").assert_transcript("Created /e1");
    script(&s, "ls /").assert_transcript("[zookeeper]");
    // One that is not closed keeps them until it expires (we do not wait for that here).
    let opts = ZkCliOptions {
        quit: false,
        ..Default::default()
    };
    let r = run_script_with(&s.connect_string(), "create -e /e2 x", &opts).unwrap();
    r.assert_transcript("Created /e2");
    script(&s, "ls /").assert_transcript("[e2, zookeeper]");
}

#[test]
fn single_command_mode() {
    let s = server(ServerOptions::new());
    let c = s.connect_string();
    let r = run_command(&c, &["create", "/one", "v1"]).unwrap();
    r.assert_transcript("Created /one");
    assert!(r.status.success(), "{}", r.raw);
    let r = run_command(&c, &["get", "/one"]).unwrap();
    r.assert_transcript("v1");
    assert!(r.status.success());
    let r = run_command(&c, &["get", "/missing"]).unwrap();
    r.assert_transcript("Node does not exist: /missing");
    assert!(
        !r.status.success(),
        "zkCli exits non-zero when the command fails"
    );
    let r = run_command(&c, &["stat", "/one"]).unwrap();
    r.assert_transcript(&stat(0, 0, 0, "0x0", 2, 0));
}
