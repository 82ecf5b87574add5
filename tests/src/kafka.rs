//! Starting, stopping, killing and restarting zkraft's Kafka broker (`kafka-server`) as a
//! process against a test ZooKeeper, and driving `kcat` (librdkafka's CLI) against it.
//!
//! The binary is `$ZKRAFT_KAFKA_SERVER`, else `$CARGO_TARGET_DIR/release/kafka-server`, else
//! `<workspace>/target/release/kafka-server`.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::server::{free_port, workspace_root};
use crate::wait::Deadline;

/// How long a broker may take to start serving.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

pub fn kafka_server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("ZKRAFT_KAFKA_SERVER") {
        return PathBuf::from(p);
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        let p = PathBuf::from(t).join("release/kafka-server");
        if p.is_file() {
            return p;
        }
    }
    workspace_root().join("target/release/kafka-server")
}

/// Whether kcat is installed (scripts/install-test-deps.sh installs it).
pub fn kcat_available() -> bool {
    Command::new("kcat")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `kcat args...` with `stdin`, killing it after `timeout`.
pub fn kcat(args: &[&str], stdin: Option<&[u8]>, timeout: Duration) -> Result<Output> {
    let mut cmd = Command::new("kcat");
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context("spawning kcat")?;
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().ok_or_else(|| anyhow!("kcat stdin"))?;
        pipe.write_all(input)?;
    }
    // Read output on threads so a full pipe cannot block the child.
    let mut out = child.stdout.take().ok_or_else(|| anyhow!("kcat stdout"))?;
    let mut err = child.stderr.take().ok_or_else(|| anyhow!("kcat stderr"))?;
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Deadline::after(timeout);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if deadline.expired() {
            let _ = child.kill();
            let _ = child.wait();
            bail!("kcat {args:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    })
}

/// A broker process with its own temp dir (log dir and log file).
pub struct KafkaBroker {
    port: u16,
    _tmp: tempfile::TempDir,
    log_dir: PathBuf,
    log_path: PathBuf,
    zk_connect: String,
    overrides: Vec<(String, String)>,
    child: Option<Child>,
}

impl KafkaBroker {
    /// Starts a broker (id 0) on a free loopback port against `zk_connect` and waits until
    /// it serves metadata as the controller. `overrides` are extra `--override`s.
    pub fn start(zk_connect: &str, overrides: &[(&str, &str)]) -> Result<KafkaBroker> {
        let tmp = tempfile::Builder::new()
            .prefix("kafka-test-")
            .tempdir()
            .context("creating temp dir")?;
        let log_dir = tmp.path().join("kafka-logs");
        let log_path = tmp.path().join("broker.log");
        let mut b = KafkaBroker {
            port: free_port()?,
            log_dir,
            log_path,
            _tmp: tmp,
            zk_connect: zk_connect.to_owned(),
            overrides: overrides
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            child: None,
        };
        b.spawn_and_wait()?;
        Ok(b)
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(kafka_server_binary());
        cmd.arg(workspace_root().join("config/server.properties"));
        let mut all = vec![
            ("broker.id".to_owned(), "0".to_owned()),
            (
                "listeners".to_owned(),
                format!("PLAINTEXT://127.0.0.1:{}", self.port),
            ),
            ("log.dirs".to_owned(), self.log_dir.display().to_string()),
            ("zookeeper.connect".to_owned(), self.zk_connect.clone()),
            // A crashed broker's registration vanishes after this; restarts wait for it.
            ("zookeeper.session.timeout.ms".to_owned(), "6000".to_owned()),
            (
                "group.initial.rebalance.delay.ms".to_owned(),
                "0".to_owned(),
            ),
            ("offsets.topic.num.partitions".to_owned(), "5".to_owned()),
        ];
        all.extend(self.overrides.iter().cloned());
        for (k, v) in all {
            cmd.arg("--override").arg(format!("{k}={v}"));
        }
        cmd
    }

    fn spawn_and_wait(&mut self) -> Result<()> {
        if !kafka_server_binary().is_file() {
            bail!(
                "kafka-server binary not found at {} (cargo build --release -p broker, or set ZKRAFT_KAFKA_SERVER)",
                kafka_server_binary().display()
            );
        }
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)?;
        writeln!(
            log,
            "==== harness: starting kafka-server on port {} ====",
            self.port
        )?;
        let log_err = log.try_clone()?;
        let mut cmd = self.command();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        crate::server::die_with_test(&mut cmd);
        self.child = Some(cmd.spawn().with_context(|| format!("spawning {cmd:?}"))?);
        let deadline = Deadline::after(STARTUP_TIMEOUT);
        loop {
            let child = self.child.as_mut().ok_or_else(|| anyhow!("no child"))?;
            if let Some(st) = child.try_wait()? {
                self.child = None;
                bail!(
                    "kafka-server exited during startup ({st}); log tail:\n{}",
                    self.log_tail(40)
                );
            }
            if let Ok(out) = kcat(
                &["-b", &self.bootstrap(), "-L", "-m", "2"],
                None,
                Duration::from_secs(5),
            ) {
                let text = String::from_utf8_lossy(&out.stdout);
                if out.status.success() && text.contains("(controller)") {
                    return Ok(());
                }
            }
            if deadline.expired() {
                let _ = self.kill9();
                bail!(
                    "kafka-server not ready within {STARTUP_TIMEOUT:?}; log tail:\n{}",
                    self.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGKILL, no clean shutdown.
    pub fn kill9(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }

    /// SIGTERM and wait for the clean shutdown to finish.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        let mut c = self
            .child
            .take()
            .ok_or_else(|| anyhow!("broker not running"))?;
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Deadline::after(Duration::from_secs(30));
        loop {
            if let Some(st) = c.try_wait()? {
                return Ok(st);
            }
            if deadline.expired() {
                let _ = c.kill();
                let _ = c.wait();
                bail!(
                    "kafka-server did not stop within 30s; log tail:\n{}",
                    self.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the broker again on the same port and log dir.
    pub fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("broker still running");
        }
        self.spawn_and_wait()
    }

    pub fn log_tail(&self, n: usize) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log_path) {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
            let _ = f.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The broker's log file contents.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- kafka-server log, last lines ----\n{}\n----",
                self.log_tail(60)
            );
        }
        let _ = self.kill9();
    }
}
