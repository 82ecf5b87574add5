//! Server process management: writing zoo.cfg, starting zkraft or Apache ZooKeeper on a
//! free loopback port with a fresh data directory, waiting until it takes sessions,
//! stopping it, and reading its memory and CPU use from /proc.

use std::fmt;
use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::client::Session;

/// Which server implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Zkraft,
    Apache,
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zkraft" | "ours" => Ok(Kind::Zkraft),
            "apache" | "zookeeper" => Ok(Kind::Apache),
            other => bail!("unknown server {other:?} (expected zkraft or apache)"),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Kind::Zkraft => "zkraft",
            Kind::Apache => "Apache",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to launch each implementation.
#[derive(Clone, Debug)]
pub struct Launch {
    pub zkraft_bin: PathBuf,
    pub java: PathBuf,
    pub apache_classpath: String,
    pub jvm_flags: Vec<String>,
    /// Parent of the per-server temp directories (data directory, zoo.cfg, log).
    pub data_root: PathBuf,
    pub keep_dirs: bool,
    pub max_client_cnxns: u32,
}

impl Launch {
    /// The command line that starts `kind` with `cfg`, for the report.
    pub fn describe(&self, kind: Kind) -> String {
        let cmd = self.command(kind, Path::new("zoo.cfg"), Path::new("<dir>"));
        let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
        parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
        parts.join(" ")
    }

    pub(crate) fn command(&self, kind: Kind, cfg: &Path, dir: &Path) -> Command {
        match kind {
            Kind::Zkraft => {
                let mut c = Command::new(&self.zkraft_bin);
                c.arg(cfg);
                c
            }
            Kind::Apache => {
                let mut c = Command::new(&self.java);
                c.args(&self.jvm_flags)
                    // The admin server would bind 8080 on all interfaces.
                    .arg("-Dzookeeper.admin.enableServer=false")
                    .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=info")
                    .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
                    .arg("-cp")
                    .arg(&self.apache_classpath)
                    .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                    .arg(cfg);
                c
            }
        }
    }

    /// The zoo.cfg both implementations get: ZooKeeper defaults (snapCount 100000,
    /// forceSync on, preAllocSize 64 MB), loopback only.
    fn zoo_cfg(&self, port: u16, data_dir: &Path) -> String {
        format!(
            "tickTime=2000\n\
             dataDir={d}\n\
             dataLogDir={d}\n\
             clientPort={port}\n\
             clientPortAddress=127.0.0.1\n\
             maxClientCnxns={m}\n\
             admin.enableServer=false\n\
             4lw.commands.whitelist=srvr\n",
            d = data_dir.display(),
            m = self.max_client_cnxns,
        )
    }
}

/// A running server.
pub struct Server {
    pub kind: Kind,
    pub port: u16,
    child: Option<Child>,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    log_path: PathBuf,
}

/// Starts `cmd` in `dir` with stdout and stderr going to `log`, killed if the benchmark
/// dies (PR_SET_PDEATHSIG), so no server outlives a run.
pub(crate) fn spawn_logged(mut cmd: Command, dir: &Path, log: File) -> Result<Child> {
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: prctl is async-signal-safe and only changes this child's death signal.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
            Ok(())
        });
    }
    cmd.spawn().with_context(|| format!("spawning {cmd:?}"))
}

pub(crate) fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Server {
    /// Starts `kind` with a fresh data directory and waits until it accepts a session.
    pub async fn start(kind: Kind, launch: &Launch, timeout: Duration) -> Result<Server> {
        fs::create_dir_all(&launch.data_root)?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!("zk-bench-{}-", kind.name().to_ascii_lowercase()))
            .tempdir_in(&launch.data_root)
            .with_context(|| format!("creating a temp dir in {}", launch.data_root.display()))?;
        let dir = tmp.path().to_path_buf();
        let data_dir = dir.join("data");
        fs::create_dir_all(&data_dir)?;
        let mut server = Server {
            kind,
            port: 0,
            child: None,
            dir: dir.clone(),
            _tmp: if launch.keep_dirs {
                let _ = tmp.keep();
                None
            } else {
                Some(tmp)
            },
            log_path: dir.join("server.log"),
        };
        // A port that was free when picked can be taken before the server binds it: retry.
        let mut last = None;
        for _ in 0..4 {
            server.port = free_port()?;
            let cfg_path = dir.join("zoo.cfg");
            fs::write(&cfg_path, launch.zoo_cfg(server.port, &data_dir))?;
            let log = File::create(&server.log_path)?;
            let cmd = launch.command(kind, &cfg_path, &dir);
            server.child = Some(spawn_logged(cmd, &dir, log)?);
            match server.wait_ready(timeout).await {
                Ok(()) => return Ok(server),
                Err(e) => {
                    server.kill();
                    let log = server.log_tail(30);
                    if log.contains("Address already in use") || log.contains("BindException") {
                        last = Some(e);
                        continue;
                    }
                    return Err(e.context(format!("{kind} server log tail:\n{log}")));
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("could not start {kind}")))
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Fails if the process has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(c) = self.child.as_mut() {
            if let Some(st) = c.try_wait()? {
                bail!(
                    "{} server exited ({st}); log tail:\n{}",
                    self.kind,
                    self.log_tail(30)
                );
            }
        }
        Ok(())
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive()?;
            if let Ok(Ok(s)) = tokio::time::timeout(
                Duration::from_secs(2),
                Session::connect(self.addr(), 30_000),
            )
            .await
            {
                s.close().await?;
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not accept a session on {} within {timeout:?}",
                    self.kind,
                    self.addr()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_tail(&self, n: usize) -> String {
        let text = fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then SIGKILL after 15 s.
    pub fn stop(mut self) -> Result<()> {
        let Some(mut c) = self.child.take() else {
            return Ok(());
        };
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if c.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        bail!("{} did not exit within 15 s of SIGTERM", self.kind)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---- /proc ----

/// A `kB` field of /proc/<pid>/status (VmRSS, VmHWM, ...), in KiB.
pub fn status_kib(pid: &str, field: &str) -> Result<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let n = rest.trim().trim_end_matches("kB").trim();
            return n
                .parse()
                .with_context(|| format!("parsing {field}: {rest:?}"));
        }
    }
    bail!("no {field} in /proc/{pid}/status")
}

/// Resident set size of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    status_kib(&pid.to_string(), "VmRSS")
}

/// User + system CPU time of a process (all its threads) so far.
pub fn cpu_time(pid: &str) -> Result<Duration> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may contain spaces; fields resume after the last ')'.
    let rest = &text[text
        .rfind(')')
        .ok_or_else(|| anyhow!("bad /proc/{pid}/stat"))?
        + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')' field 3 (state) is f[0]; utime is field 14, stime field 15.
    let ticks: u64 = f
        .get(11)
        .ok_or_else(|| anyhow!("short stat"))?
        .parse::<u64>()?
        + f.get(12)
            .ok_or_else(|| anyhow!("short stat"))?
            .parse::<u64>()?;
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// Samples a process's VmRSS on a background thread and keeps the maximum.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<u64>>,
}

impl RssSampler {
    pub fn start(pid: u32, every: Duration) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                if let Ok(kib) = rss_kib(pid) {
                    peak = peak.max(kib);
                }
                std::thread::sleep(every);
            }
            if let Ok(kib) = rss_kib(pid) {
                peak = peak.max(kib);
            }
            peak
        });
        RssSampler {
            stop,
            handle: Some(handle),
        }
    }

    /// Stops sampling; returns the peak VmRSS in KiB.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().and_then(|h| h.join().ok()).unwrap_or(0)
    }
}

impl Drop for RssSampler {
    /// A run that failed half way must not leave the sampling thread behind.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
