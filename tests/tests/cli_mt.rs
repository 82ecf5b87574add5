//! The C client shell `cli_mt` (libzookeeper_mt from Debian's zookeeper-bin) driving a server
//! interactively: one command at a time, waiting (with a deadline) for its completion line.
//! Runs against `ZK_IMPL` (default zkraft; `ZK_IMPL=apache` for the oracle).

use tests::climt::{rc_for, CliMt};
use tests::zkcli::run_script;
use tests::{ServerKind, ServerOptions, TestServer};

fn server(opts: ServerOptions) -> TestServer {
    TestServer::start(ServerKind::from_env(), opts).expect("server starts")
}

/// Creates `path` and returns (rc, created name).
fn create(cli: &mut CliMt, flags: &str, path: &str) -> (i32, Option<String>) {
    let cmd = if flags.is_empty() {
        format!("create {path}")
    } else {
        format!("create {flags} {path}")
    };
    let out = cli.run(&cmd, &[&format!("[{path}]: rc = ")]).unwrap();
    let rc = rc_for(&out, path).unwrap_or_else(|| panic!("no rc in {out:?}"));
    if rc != 0 {
        return (rc, None);
    }
    let name_line = cli.expect("\tname = ").unwrap();
    let name = name_line.trim().trim_start_matches("name = ").to_string();
    (rc, Some(name))
}

/// `get` -> (rc, value, version).
fn get(cli: &mut CliMt, path: &str) -> (i32, Option<String>, Option<u32>) {
    let head = cli
        .run(&format!("get {path}"), &[&format!("{path}: rc = ")])
        .unwrap();
    let rc = rc_for(&head, path).unwrap();
    // The rest: " value_len = N\n<value>\nStat:\n<stat dump>" or "\nStat:\nnull\n".
    let rest = cli.expect("Stat:").unwrap();
    if rc != 0 {
        cli.expect("null").unwrap();
        return (rc, None, None);
    }
    let value = rest
        .split_once(" value_len = ")
        .and_then(|(_, r)| r.split_once('\n'))
        .map(|(_, v)| {
            v.trim_end_matches("Stat:\n")
                .trim_end_matches('\n')
                .to_string()
        });
    let dump = cli.expect("ephemeralOwner = ").unwrap();
    let version = dump
        .lines()
        .find_map(|l| l.trim().strip_prefix("version="))
        .and_then(|v| v.split('\t').next())
        .and_then(|v| u32::from_str_radix(v, 16).ok());
    (rc, value, version)
}

/// `ls` -> (rc, sorted children).
fn ls(cli: &mut CliMt, path: &str) -> (i32, Vec<String>) {
    let head = cli
        .run(&format!("ls {path}"), &[&format!("{path}: rc = ")])
        .unwrap();
    let rc = rc_for(&head, path).unwrap();
    let body = cli.expect("time = ").unwrap();
    let mut kids: Vec<String> = body
        .lines()
        .filter(|l| l.starts_with('\t'))
        .map(|l| l.trim().to_string())
        .collect();
    kids.sort();
    (rc, kids)
}

fn simple(cli: &mut CliMt, cmd: &str, path: &str) -> i32 {
    let out = cli
        .run(&format!("{cmd} {path}"), &[&format!("{path}: rc = ")])
        .unwrap();
    rc_for(&out, path).unwrap()
}

/// Runs a synchronous `exists`, then a `sync` as a barrier; returns the printed error, if any.
fn exists(cli: &mut CliMt, path: &str) -> Option<i32> {
    cli.send(&format!("exists {path}")).unwrap();
    let out = cli.run("sync /", &["[/]: rc = 0", "\tname = /"]).unwrap();
    out.lines().find_map(|l| {
        l.trim()
            .strip_prefix("Error ")
            .and_then(|r| r.strip_suffix(&format!(" for {path}")))
            .and_then(|n| n.parse().ok())
    })
}

#[test]
fn crud_and_error_codes() {
    let s = server(ServerOptions::new());
    let mut cli = CliMt::start(&s.connect_string()).unwrap();
    assert!(cli.session_id().unwrap().starts_with("0x"));

    assert_eq!(create(&mut cli, "", "/c"), (0, Some("/c".into())));
    assert_eq!(create(&mut cli, "", "/c"), (-110, None), "ZNODEEXISTS");
    assert_eq!(create(&mut cli, "", "/nope/child"), (-101, None), "ZNONODE");
    assert_eq!(create(&mut cli, "+e", "/c/eph"), (0, Some("/c/eph".into())));
    assert_eq!(
        create(&mut cli, "+s", "/c/s"),
        (0, Some("/c/s0000000001".into()))
    );
    assert_eq!(
        create(&mut cli, "+es", "/c/es"),
        (0, Some("/c/es0000000002".into()))
    );
    assert_eq!(
        create(&mut cli, "+e", "/c/eph/child"),
        (-108, None),
        "ZNOCHILDRENFOREPHEMERALS"
    );

    // Data written by cli_mt's create is always "new".
    assert_eq!(get(&mut cli, "/c"), (0, Some("new".into()), Some(0)));
    let out = cli
        .run("set /c hello", &["/c: rc = 0 Stat:", "ephemeralOwner = "])
        .unwrap();
    assert!(out.contains("\tversion=1\taversion=0"), "{out}");
    assert_eq!(get(&mut cli, "/c"), (0, Some("hello".into()), Some(1)));
    assert_eq!(get(&mut cli, "/missing"), (-101, None, None));

    assert_eq!(
        ls(&mut cli, "/c"),
        (
            0,
            vec!["eph".into(), "es0000000002".into(), "s0000000001".into()]
        )
    );
    assert_eq!(ls(&mut cli, "/missing").0, -101);
    let out = cli
        .run("ls2 /c", &["/c: rc = 0", "ephemeralOwner = "])
        .unwrap();
    assert!(out.contains("\tversion=1\taversion=0"), "{out}");

    assert_eq!(exists(&mut cli, "/c"), None);
    assert_eq!(exists(&mut cli, "/missing"), Some(-101));

    assert_eq!(simple(&mut cli, "delete", "/c"), -111, "ZNOTEMPTY");
    assert_eq!(simple(&mut cli, "delete", "/missing"), -101);
    for p in ["/c/eph", "/c/s0000000001", "/c/es0000000002", "/c"] {
        assert_eq!(simple(&mut cli, "delete", p), 0, "delete {p}");
    }
    assert_eq!(ls(&mut cli, "/"), (0, vec!["zookeeper".into()]));
    cli.quit().unwrap();
}

#[test]
fn watches_fire_once() {
    let s = server(ServerOptions::new());
    let mut cli = CliMt::start(&s.connect_string()).unwrap();
    let barrier = |cli: &mut CliMt| {
        cli.run("sync /", &["[/]: rc = 0", "\tname = /"]).unwrap();
        cli.events()
    };
    create(&mut cli, "", "/w");
    // `get` and `ls` leave watches (cli_mt passes watch=1).
    get(&mut cli, "/w");
    ls(&mut cli, "/w");
    cli.run("set /w v2", &["/w: rc = 0 Stat:", "ephemeralOwner = "])
        .unwrap();
    assert_eq!(barrier(&mut cli), ["CHANGED_EVENT /w"]);
    // The data watch was one-shot: the next set fires nothing; the child watch fires on create.
    cli.run("set /w v3", &["/w: rc = 0 Stat:", "ephemeralOwner = "])
        .unwrap();
    create(&mut cli, "", "/w/kid");
    create(&mut cli, "", "/w/kid2");
    assert_eq!(barrier(&mut cli), ["CHANGED_EVENT /w", "CHILD_EVENT /w"]);

    // wexists on a missing node -> CREATED_EVENT.
    cli.send("wexists /later").unwrap();
    cli.expect("Error -101 for /later").unwrap();
    create(&mut cli, "", "/later");
    // A data watch from `get`, then delete -> DELETED_EVENT.
    get(&mut cli, "/later");
    assert_eq!(simple(&mut cli, "delete", "/later"), 0);
    assert_eq!(
        barrier(&mut cli),
        [
            "CHANGED_EVENT /w",
            "CHILD_EVENT /w",
            "CREATED_EVENT /later",
            "DELETED_EVENT /later"
        ]
    );
    cli.quit().unwrap();
}

#[test]
fn digest_auth() {
    let s = server(ServerOptions::new());
    // Set up a node readable only by alice (cli_mt cannot set ACLs itself).
    run_script(
        &s.connect_string(),
        "create /secure top\naddauth digest alice:secret\nsetAcl /secure auth::cdrwa",
    )
    .unwrap()
    .assert_transcript("Created /secure");

    let mut cli = CliMt::start(&s.connect_string()).unwrap();
    assert_eq!(get(&mut cli, "/secure"), (-102, None, None), "ZNOAUTH");
    assert_eq!(create(&mut cli, "", "/secure/kid"), (-102, None));
    cli.send("addauth digest alice:wrong").unwrap();
    assert_eq!(
        get(&mut cli, "/secure"),
        (-102, None, None),
        "wrong password"
    );
    cli.send("addauth digest alice:secret").unwrap();
    assert_eq!(get(&mut cli, "/secure"), (0, Some("top".into()), Some(0)));
    assert_eq!(
        create(&mut cli, "", "/secure/kid"),
        (0, Some("/secure/kid".into()))
    );
    cli.quit().unwrap();
}

#[test]
fn sessions_and_ephemerals() {
    let s = server(ServerOptions::new());
    let mut a = CliMt::start(&s.connect_string()).unwrap();
    let mut b = CliMt::start(&s.connect_string()).unwrap();
    assert_ne!(a.session_id(), b.session_id());
    // `myid` prints the session id (hex, without 0x) on stdout.
    a.send("myid").unwrap();
    let line = a.expect("session Id = ").unwrap();
    let printed = line.trim().rsplit(' ').next().unwrap().to_string();
    assert_eq!(format!("0x{printed}"), a.session_id().unwrap());

    assert_eq!(create(&mut a, "+e", "/eph"), (0, Some("/eph".into())));
    assert_eq!(exists(&mut b, "/eph"), None);
    a.quit().unwrap();
    // Session close is synchronous: the ephemeral is gone for the other client.
    assert_eq!(exists(&mut b, "/eph"), Some(-101));
    b.quit().unwrap();
}

#[test]
fn container_and_ttl_modes() {
    let s = server(ServerOptions::new().extended_types(true));
    let mut cli = CliMt::start(&s.connect_string()).unwrap();
    assert_eq!(create(&mut cli, "+c", "/cont"), (0, Some("/cont".into())));
    assert_eq!(
        create(&mut cli, "+t=600000", "/ttl"),
        (0, Some("/ttl".into()))
    );
    assert_eq!(
        create(&mut cli, "+st=600000", "/ttls"),
        (0, Some("/ttls0000000002".into()))
    );
    assert_eq!(
        create(&mut cli, "+e", "/cont/e"),
        (0, Some("/cont/e".into()))
    );
    assert_eq!(
        ls(&mut cli, "/"),
        (
            0,
            vec![
                "cont".into(),
                "ttl".into(),
                "ttls0000000002".into(),
                "zookeeper".into()
            ]
        )
    );
    cli.quit().unwrap();

    let s2 = server(ServerOptions::new());
    let mut cli = CliMt::start(&s2.connect_string()).unwrap();
    assert_eq!(
        create(&mut cli, "+t=600000", "/ttl"),
        (-6, None),
        "ZUNIMPLEMENTED without extended types"
    );
    cli.quit().unwrap();
}
