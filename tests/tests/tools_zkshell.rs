//! zkraft's ZooKeeper shell (`zkraft zookeeper-shell`, bin/zkCli.sh, bin/zookeeper-shell.sh)
//! against a test server, compared line by line with Apache's real zkCli.sh running the same
//! script on the same server (times, zxids and session ids normalised as `tests::zkcli` does).

mod tools_support;

use tests::zkcli::{parse_output, run_command, run_script};
use tests::{unique_name, ServerKind, ServerOptions, TestServer};
use tools_support::{run, run_interleaved, tool, wrapper};

fn server() -> TestServer {
    TestServer::start(
        ServerKind::from_env(),
        ServerOptions::new().extended_types(true),
    )
    .expect("server starts")
}

/// A script exercising every command zkCli shares with us, its flags, errors and watches.
/// `R` is replaced by a root unique to each run.
const SCRIPT: &str = r#"
create R data
create R/a adata
create -e R/e edata
create -s R/s- sdata
create -c R/c
create -t 600000 R/ttl tdata
create R
create R/no/parent x
ls R
ls -s R
get R
get -s R/a
stat R/a
set -s R/a newdata
set -v 7 R/a x
set R/a -1
delete -v 5 R/a
delete R
ls -R R
getAllChildrenNumber R
getEphemerals R
getAcl R/a
setAcl R/a world:anyone:rwa,bogus
getAcl -s R/a
setAcl R/a world:anyone:cdrwa
addauth digest u:p
whoami
sync R
get R/nope
stat R/nope
ls -x R
get
stat
set R/a
foo bar
create -c -e R/bad
create -t x R/bad
create -e -t 100 R/bad
ls noslash
ls R/
get 'R/a'
get -w R/a
set R/a w1
ls -w R
create R/w
get -w R/c
removewatches R/c -d
removewatches R/c
addWatch R/rec
create R/rec x
create R/rec/child y
set R/rec/child z
printwatches
printwatches off
printwatches on
history
redo 0
redo 99
delete R/rec/child
delete R/rec
deleteall R
ls R
"#;

fn script_for(root: &str) -> String {
    SCRIPT
        .replace(" R", &format!(" {root}"))
        .replace("'R", &format!("'{root}"))
}

#[test]
fn t10_script_output_matches_apache_zkcli() {
    let s = server();
    let connect = s.connect_string();
    let apache_root = format!("/{}", unique_name("za"));
    let ours_root = format!("/{}", unique_name("zo"));
    assert_eq!(apache_root.len(), ours_root.len());

    let apache = run_script(&connect, &script_for(&apache_root)).expect("zkCli.sh runs");

    let mut cmd = tool("zookeeper-shell");
    cmd.args(["-server", &connect]);
    let mut text = script_for(&ours_root);
    text.push_str("quit\n");
    let ours = run_interleaved(cmd, Some(&text));
    let raw = ours.both.replace(&ours_root, &apache_root);
    let (transcript, mut events, sessions) = parse_output(&raw);

    let want = &apache.transcript;
    if &transcript != want {
        let mut diff = String::new();
        for i in 0..want.len().max(transcript.len()) {
            let w = want.get(i).map(String::as_str).unwrap_or("<none>");
            let g = transcript.get(i).map(String::as_str).unwrap_or("<none>");
            let mark = if w == g { "  " } else { "!!" };
            diff.push_str(&format!(
                "{mark} {i:3} apache: {w}\n{mark}      ours:   {g}\n"
            ));
        }
        panic!(
            "transcripts differ:\n{diff}\n--- ours raw ---\n{raw}\n--- apache raw ---\n{}",
            apache.raw
        );
    }
    // Watch events: the same ones (zkCli prints them from another thread, so only the multiset
    // is comparable).
    let mut want_events = apache.events.clone();
    want_events.sort();
    events.sort();
    assert_eq!(events, want_events, "watch events differ; ours:\n{raw}");
    assert!(
        !events.is_empty(),
        "the script triggers watches; none were printed:\n{raw}"
    );
    assert_eq!(sessions.first().map(String::as_str), Some("SyncConnected"));
    assert_eq!(ours.code, apache.status.code().unwrap_or(-1), "exit codes");
}

#[test]
fn t20_one_shot_mode_and_wrappers() {
    let s = server();
    let connect = s.connect_string();
    let root = format!("/{}", unique_name("os"));

    // Kafka's wrapper: zookeeper-shell.sh host:port cmd args...
    let mut c = wrapper("zookeeper-shell.sh");
    c.args([connect.as_str(), "create", &root, "v1"]);
    let o = run(c, None);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stderr.trim(), format!("Created {root}"));

    let mut c = wrapper("zookeeper-shell.sh");
    c.args([connect.as_str(), "get", &root]);
    let o = run(c, None);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.starts_with(&format!("Connecting to {connect}\n")),
        "{o:?}"
    );
    assert!(o.stdout.ends_with("\nv1\n"), "{o:?}");

    // zkCli.sh's own form, compared with Apache's one-shot run on the same node.
    for args in [
        vec!["get", root.as_str()],
        vec!["get", "/nope"],
        vec!["ls", "-s", root.as_str()],
        vec!["nosuchcommand"],
        vec!["set", root.as_str()],
    ] {
        let apache = run_command(&connect, &args).expect("zkCli.sh runs");
        let mut c = wrapper("zkCli.sh");
        c.arg("-server").arg(&connect).args(&args);
        let ours = run_interleaved(c, None);
        let (transcript, _, _) = parse_output(&ours.both);
        assert_eq!(transcript, apache.transcript, "{args:?}:\n{}", ours.both);
        assert_eq!(
            ours.code,
            apache.status.code().unwrap_or(-1),
            "exit code of {args:?}"
        );
    }

    // The usage wrapper refuses to run without a server.
    let o = run(wrapper("zookeeper-shell.sh"), None);
    assert_eq!(o.code, 1);
    assert!(o.stdout.starts_with("USAGE: "), "{o:?}");
}

#[test]
fn t30_json_output() {
    let s = server();
    let connect = s.connect_string();
    let root = format!("/{}", unique_name("js"));
    let mut c = tool("zookeeper-shell");
    c.args(["-server", &connect, "--json"]);
    let script = format!(
        "create {root} x\nls {root}\nget -s {root}\nget {root}/nope\ncreate {root}/k\nls {root}\nstat {root}\ngetAllChildrenNumber {root}\nquit\n"
    );
    let o = run(c, Some(&script));
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        10,
        "one JSON line per command plus the connect and close events:\n{}",
        o.stdout
    );
    assert!(
        lines.iter().all(|l| l.starts_with('{') && l.ends_with('}')),
        "{}",
        o.stdout
    );
    assert!(
        lines[0].contains(r#""state":"SyncConnected""#),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1], format!(r#"{{"created":"{root}"}}"#));
    assert_eq!(lines[2], r#"{"children":[]}"#);
    assert!(
        lines[3].starts_with(r#"{"data":"x","stat":{"#),
        "{}",
        lines[3]
    );
    assert!(lines[3].contains(r#""dataLength":1"#), "{}", lines[3]);
    assert_eq!(
        lines[4],
        format!(r#"{{"error":"Node does not exist: {root}/nope","exit_code":1}}"#)
    );
    assert_eq!(lines[6], r#"{"children":["k"]}"#);
    assert!(lines[7].contains(r#""numChildren":1"#), "{}", lines[7]);
    assert_eq!(lines[8], r#"{"count":1}"#);
    assert!(lines[9].contains(r#""state":"Closed""#), "{}", lines[9]);
    assert_eq!(o.code, 0);
}

#[test]
fn t40_bad_arguments_and_unreachable_server() {
    let o = run(
        {
            let mut c = tool("zookeeper-shell");
            c.arg("-server");
            c
        },
        None,
    );
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr.trim(),
        "Error: no argument found for option -server"
    );

    let o = run(
        {
            let mut c = tool("zookeeper-shell");
            c.args(["-timeout", "soon"]);
            c
        },
        None,
    );
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("invalid timeout soon"), "{o:?}");

    // Nothing listens on a port we just freed: a clear message within the timeout.
    let port = tests::server::free_port().expect("free port");
    let start = std::time::Instant::now();
    let mut c = tool("zookeeper-shell");
    c.args([
        "-timeout",
        "2000",
        "-server",
        &format!("127.0.0.1:{port}"),
        "ls",
        "/",
    ]);
    let o = run(c, None);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("Unable to connect to 127.0.0.1:"),
        "{o:?}"
    );
    assert!(o.stderr.contains("ConnectionLoss"), "{o:?}");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(15),
        "took {:?}",
        start.elapsed()
    );

    // `printwatches off` silences events (deterministically here: events are printed before
    // the reply of the command that caused them, so none can leak past `printwatches on`).
    let s = server();
    let root = format!("/{}", unique_name("pw"));
    let mut c = tool("zookeeper-shell");
    c.args(["-server", &s.connect_string()]);
    let o = run(
        c,
        Some(&format!(
            "create {root}\naddWatch {root}\nprintwatches off\ncreate {root}/quiet\nprintwatches on\ncreate {root}/loud\nquit\n"
        )),
    );
    assert!(!o.stdout.contains("quiet"), "{o:?}");
    assert!(
        o.stdout
            .contains(&format!("type:NodeCreated path:{root}/loud")),
        "{o:?}"
    );

    // `zkraft --help` / `--version` come from the dispatcher.
    let mut c = std::process::Command::new(tools_support::zkraft_bin());
    c.arg("--version");
    let o = run(c, None);
    assert_eq!(o.code, 0);
    assert!(o.stdout.starts_with("zkraft "), "{o:?}");
}

/// Waits until `file` contains `needle`; returns its content.
fn wait_for_output(file: &std::path::Path, needle: &str) -> String {
    let mut text = String::new();
    let found = tests::wait_until(std::time::Duration::from_secs(20), needle, || {
        text = std::fs::read_to_string(file).unwrap_or_default();
        text.contains(needle).then_some(())
    });
    assert!(
        found.is_ok(),
        "no {needle:?} in the terminal output:\n{text}"
    );
    text
}

#[test]
fn t50_interactive_prompt_history_and_completion() {
    use std::io::Write;
    let s = server();
    let connect = s.connect_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("terminal.out");
    let history = dir.path().join("history");
    // util-linux `script` gives the shell a terminal, so the line editor is used.
    let shell = format!(
        "{} zookeeper-shell -server {connect}",
        tools_support::zkraft_bin().display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qfec", &shell])
        .arg(&out)
        .env("ZKRAFT_SHELL_HISTORY", &history)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("util-linux script runs");
    let mut stdin = child.stdin.take().expect("stdin");
    wait_for_output(&out, &format!("[zk: {connect}(CONNECTED) 0]"));
    // Tab completes the znode path from the server's children.
    stdin.write_all(b"ls /zoo\t\n").expect("type");
    let text = wait_for_output(&out, "[config, quota]");
    assert!(
        text.contains("ls /zookeeper"),
        "completion did not expand the path:\n{text}"
    );
    wait_for_output(&out, &format!("[zk: {connect}(CONNECTED) 1]"));
    stdin.write_all(b"quit\n").expect("type");
    drop(stdin);
    let done = tests::wait_until(
        std::time::Duration::from_secs(20),
        "the shell to exit",
        || child.try_wait().ok().flatten().map(|_| ()),
    );
    if done.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the shell did not quit");
    }
    let saved = std::fs::read_to_string(&history).unwrap_or_default();
    assert!(saved.contains("ls /zookeeper"), "history file: {saved:?}");
}
