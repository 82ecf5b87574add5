//! Starting zkraft as operators do: the bin/ wrappers, SIGTERM, and configuration errors.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tests::fourlw::four_letter_word;
use tests::server::{free_port, workspace_root, zkraft_binary};
use tests::Deadline;

fn bin(name: &str) -> PathBuf {
    workspace_root().join("bin").join(name)
}

fn write_cfg(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let cfg = dir.join("zoo.cfg");
    let text = format!(
        "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=srvr,ruok\n{extra}",
        dir.join("data").display()
    );
    std::fs::write(&cfg, text).unwrap();
    cfg
}

fn wait_serving(port: u16) {
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let d = Deadline::after(Duration::from_secs(30));
    loop {
        if let Ok(out) = four_letter_word(addr, "ruok", Duration::from_secs(2)) {
            if out == "imok" {
                return;
            }
        }
        assert!(!d.expired(), "server on {port} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(child: &mut std::process::Child, within: Duration) -> std::process::ExitStatus {
    let d = Deadline::after(within);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        assert!(!d.expired(), "process did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn zookeeper_server_start_execs_and_sigterm_stops_cleanly() {
    assert!(zkraft_binary().is_file(), "build zk-server first");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let cfg = write_cfg(dir.path(), port, "");
    let mut child = Command::new(bin("zookeeper-server-start.sh"))
        .arg(&cfg)
        .env("ZKRAFT_BIN_DIR", zkraft_binary().parent().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_serving(port);
    // The script execs the server, so the pid we hold is the server's and SIGTERM reaches it.
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", child.id())).unwrap();
    assert_eq!(comm.trim(), "zk-server");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let st = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(st.code(), Some(0), "clean exit on SIGTERM");
    assert!(dir.path().join("data/version-2/snapshot.0").is_file());
}

#[test]
fn zkserver_sh_start_status_stop() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let cfg = write_cfg(dir.path(), port, "");
    let run = |cmd: &str| {
        Command::new(bin("zkServer.sh"))
            .arg(cmd)
            .arg(&cfg)
            .env("ZKRAFT_BIN_DIR", zkraft_binary().parent().unwrap())
            .env("ZOO_LOG_DIR", dir.path())
            .output()
            .unwrap()
    };
    let out = run("start");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("STARTED"));
    wait_serving(port);
    let out = run("status");
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Mode: standalone"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run("stop");
    assert!(String::from_utf8_lossy(&out.stderr).contains("STOPPED"));
    let d = Deadline::after(Duration::from_secs(10));
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    while four_letter_word(addr, "ruok", Duration::from_secs(1)).is_ok() {
        assert!(!d.expired(), "server still answering after stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = run("status");
    assert!(!out.status.success(), "status after stop must fail");
}

/// Bad configurations: one clear line on stderr and exit code 1; unknown keys only warn.
#[test]
fn configuration_errors_exit_1_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let cases: &[(&str, &str)] = &[
        ("tickTime=soon\n", "tickTime"),
        ("maxClientCnxns=-3\n", "maxClientCnxns"),
        ("server.1=127.0.0.1:2888\n", "server.1"),
        ("jute.maxbuffer=12\n", "jute.maxbuffer"),
        ("clientPortAddress=not-an-ip\n", "clientPortAddress"),
    ];
    for (extra, key) in cases {
        let cfg = write_cfg(dir.path(), port, extra);
        let out = Command::new(zkraft_binary())
            .arg(&cfg)
            .env("ZKRAFT_LOG", "error")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{extra:?}: one line expected, got {err}"
        );
        assert!(
            err.contains(key),
            "{extra:?}: message should name {key}: {err}"
        );
    }
    // A missing config file and an unusable dataDir.
    let out = Command::new(zkraft_binary())
        .arg(dir.path().join("nope.cfg"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let cfg = dir.path().join("bad-dir.cfg");
    std::fs::write(
        &cfg,
        format!(
            "dataDir={}/sub\nclientPort={port}\nclientPortAddress=127.0.0.1\n",
            blocker.display()
        ),
    )
    .unwrap();
    let out = Command::new(zkraft_binary())
        .arg(&cfg)
        .env("ZKRAFT_LOG", "error")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("sub"), "{err}");

    // Unknown keys are a warning, not an error.
    let cfg = write_cfg(dir.path(), port, "someFutureKey=1\n");
    let mut child = Command::new(zkraft_binary())
        .arg(&cfg)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_serving(port);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(
        wait_exit(&mut child, Duration::from_secs(20)).code(),
        Some(0)
    );
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("someFutureKey"), "{err}");
}
