//! Starting, stopping and restarting a ZooKeeper server process (ours or Apache's).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::apache;
use crate::fourlw::four_letter_word;
use crate::wait::Deadline;

/// Which server implementation a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerKind {
    /// Our `zk-server` binary.
    Zkraft,
    /// Apache ZooKeeper 3.8 (Debian package) -- the oracle.
    Apache,
}

impl ServerKind {
    /// Reads `ZK_IMPL` (`zkraft` | `apache`; default `zkraft`). Panics on any other value so a
    /// typo cannot silently test the wrong thing.
    pub fn from_env() -> ServerKind {
        match std::env::var("ZK_IMPL") {
            Err(_) => ServerKind::Zkraft,
            Ok(v) => ServerKind::parse(&v)
                .unwrap_or_else(|| panic!("ZK_IMPL={v:?}: expected `zkraft` or `apache`")),
        }
    }

    pub fn parse(s: &str) -> Option<ServerKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "zkraft" | "ours" => Some(ServerKind::Zkraft),
            "apache" | "oracle" | "zookeeper" => Some(ServerKind::Apache),
            _ => None,
        }
    }

    pub fn all() -> [ServerKind; 2] {
        [ServerKind::Apache, ServerKind::Zkraft]
    }

    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Zkraft => "zkraft",
            ServerKind::Apache => "apache",
        }
    }

    /// Whether this implementation can be started on this machine right now.
    pub fn is_available(self) -> bool {
        match self {
            ServerKind::Zkraft => zkraft_binary().is_file(),
            ServerKind::Apache => apache::server_available(),
        }
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Runs `body` against each implementation listed in `ZK_IMPLS` (comma separated; default: both
/// `apache` and `zkraft`). Every kind is run even if an earlier one fails; the failures are
/// reported together, each labelled with its kind.
pub fn for_each_kind(body: impl Fn(ServerKind)) {
    let kinds: Vec<ServerKind> = match std::env::var("ZK_IMPLS") {
        Ok(v) if !v.trim().is_empty() => v
            .split(',')
            .map(|s| ServerKind::parse(s).unwrap_or_else(|| panic!("ZK_IMPLS: bad entry {s:?}")))
            .collect(),
        _ => ServerKind::all().to_vec(),
    };
    let mut failures = Vec::new();
    for kind in kinds {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(kind)));
        if let Err(e) = r {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "<non-string panic>".into());
            failures.push(format!("[{kind}] {msg}"));
        }
    }
    if !failures.is_empty() {
        panic!(
            "failed for {} implementation(s):\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

/// The workspace root (parent of the `tests` crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate has a parent")
        .to_path_buf()
}

/// Our server binary: `$ZKRAFT_ZK_SERVER`, else `$CARGO_TARGET_DIR/release/zk-server`, else
/// `<workspace>/target/release/zk-server`. (Building it is the test command's job.)
pub fn zkraft_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("ZKRAFT_ZK_SERVER") {
        return PathBuf::from(p);
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        let p = PathBuf::from(t).join("release/zk-server");
        if p.is_file() {
            return p;
        }
    }
    workspace_root().join("target/release/zk-server")
}

/// The four-letter words whitelisted unless a test says otherwise (`srvr` is always added).
pub const DEFAULT_4LW: &[&str] = &[
    "srvr", "ruok", "stat", "mntr", "conf", "cons", "envi", "dump", "wchs", "wchc", "wchp", "dirs",
    "isro",
];

/// Server configuration knobs; everything else is written with ZooKeeper's defaults.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub tick_time_ms: u32,
    /// `4lw.commands.whitelist`; `srvr` is always included (the harness polls it).
    pub four_lw_whitelist: Vec<String>,
    /// `zookeeper.DigestAuthenticationProvider.superDigest`, e.g. `super:<base64 sha1>`.
    pub super_digest: Option<String>,
    /// `zookeeper.extendedTypesEnabled=true` (TTL nodes).
    pub extended_types: bool,
    /// Reuse an existing data directory (e.g. to test recovery); default: fresh temp dir.
    pub data_dir: Option<PathBuf>,
    /// `dataLogDir`; default: same as the data directory.
    pub data_log_dir: Option<PathBuf>,
    pub max_client_cnxns: Option<u32>,
    pub min_session_timeout_ms: Option<u32>,
    pub max_session_timeout_ms: Option<u32>,
    pub snap_count: Option<u64>,
    /// `jute.maxbuffer` (our zoo.cfg extension; a `-D` flag for Apache).
    pub jute_maxbuffer: Option<u32>,
    /// Verbatim extra `key=value` lines for zoo.cfg.
    pub extra_cfg: Vec<String>,
    /// Extra Apache system properties (`-Dkey=value`), also written to zoo.cfg as `key=value`
    /// for our server, e.g. `znode.container.checkIntervalMs`.
    pub system_props: Vec<(String, String)>,
    /// Extra environment variables for the server process.
    pub env: Vec<(String, String)>,
    /// How long to wait for the server to answer `srvr`.
    pub startup_timeout: Duration,
    /// A fixed client port (ensemble members need theirs before any starts).
    pub client_port: Option<u16>,
    /// The `myid` file written into the data directory.
    pub myid: Option<u64>,
    /// Wait until `srvr` reports a mode (serving). Ensemble members cannot serve alone, so
    /// they only wait for the client port to answer.
    pub wait_serving: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            tick_time_ms: 2000,
            four_lw_whitelist: DEFAULT_4LW.iter().map(|s| s.to_string()).collect(),
            super_digest: None,
            extended_types: false,
            data_dir: None,
            data_log_dir: None,
            max_client_cnxns: None,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            snap_count: None,
            jute_maxbuffer: None,
            extra_cfg: Vec::new(),
            system_props: Vec::new(),
            env: Vec::new(),
            startup_timeout: Duration::from_secs(30),
            client_port: None,
            myid: None,
            wait_serving: true,
        }
    }
}

impl ServerOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn tick_time(mut self, ms: u32) -> Self {
        self.tick_time_ms = ms;
        self
    }
    pub fn four_lw(mut self, words: &[&str]) -> Self {
        self.four_lw_whitelist = words.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn super_digest(mut self, digest: &str) -> Self {
        self.super_digest = Some(digest.to_string());
        self
    }
    pub fn extended_types(mut self, on: bool) -> Self {
        self.extended_types = on;
        self
    }
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }
    pub fn data_log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_log_dir = Some(dir.into());
        self
    }
    pub fn max_client_cnxns(mut self, n: u32) -> Self {
        self.max_client_cnxns = Some(n);
        self
    }
    pub fn session_timeouts(mut self, min_ms: u32, max_ms: u32) -> Self {
        self.min_session_timeout_ms = Some(min_ms);
        self.max_session_timeout_ms = Some(max_ms);
        self
    }
    pub fn snap_count(mut self, n: u64) -> Self {
        self.snap_count = Some(n);
        self
    }
    pub fn jute_maxbuffer(mut self, n: u32) -> Self {
        self.jute_maxbuffer = Some(n);
        self
    }
    pub fn cfg_line(mut self, line: &str) -> Self {
        self.extra_cfg.push(line.to_string());
        self
    }
    /// A JVM system property for Apache that our server reads from zoo.cfg.
    pub fn system_prop(mut self, key: &str, value: &str) -> Self {
        self.system_props.push((key.to_string(), value.to_string()));
        self
    }
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The zoo.cfg text. The same file is used for both implementations; settings Apache only
    /// takes as JVM system properties are additionally passed as `-D` flags (see
    /// [`ServerOptions::apache_system_properties`]). Apache turns unknown zoo.cfg keys into
    /// harmless `zookeeper.<key>` system properties.
    pub fn zoo_cfg(&self, port: u16, data_dir: &Path, data_log_dir: &Path) -> String {
        let mut words: Vec<String> = vec!["srvr".to_string()];
        for w in &self.four_lw_whitelist {
            if !words.contains(w) {
                words.push(w.clone());
            }
        }
        let mut cfg = String::new();
        let mut line = |s: String| {
            cfg.push_str(&s);
            cfg.push('\n');
        };
        line(format!("tickTime={}", self.tick_time_ms));
        line(format!("dataDir={}", data_dir.display()));
        line(format!("dataLogDir={}", data_log_dir.display()));
        line(format!("clientPort={port}"));
        line("clientPortAddress=127.0.0.1".to_string());
        line(format!("4lw.commands.whitelist={}", words.join(",")));
        if let Some(n) = self.max_client_cnxns {
            line(format!("maxClientCnxns={n}"));
        }
        if let Some(n) = self.min_session_timeout_ms {
            line(format!("minSessionTimeout={n}"));
        }
        if let Some(n) = self.max_session_timeout_ms {
            line(format!("maxSessionTimeout={n}"));
        }
        if let Some(n) = self.snap_count {
            line(format!("snapCount={n}"));
        }
        for (k, v) in self.system_properties() {
            line(format!("{k}={v}"));
        }
        for l in &self.extra_cfg {
            line(l.clone());
        }
        cfg
    }

    /// Settings that Apache reads from JVM system properties (and ours from zoo.cfg).
    pub fn system_properties(&self) -> Vec<(String, String)> {
        let mut props = Vec::new();
        if self.extended_types {
            props.push((
                "zookeeper.extendedTypesEnabled".to_string(),
                "true".to_string(),
            ));
        }
        if let Some(d) = &self.super_digest {
            props.push((
                "zookeeper.DigestAuthenticationProvider.superDigest".to_string(),
                d.clone(),
            ));
        }
        if let Some(n) = self.jute_maxbuffer {
            props.push(("jute.maxbuffer".to_string(), n.to_string()));
        }
        props.extend(self.system_props.iter().cloned());
        props
    }

    /// All `-D` flags for the Apache JVM.
    pub fn apache_system_properties(&self) -> Vec<String> {
        let mut flags: Vec<String> = vec![
            // The admin server would bind 8080 on all interfaces; never wanted here.
            "-Dzookeeper.admin.enableServer=false".into(),
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=info".into(),
            "-Dorg.slf4j.simpleLogger.showDateTime=true".into(),
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS".into(),
        ];
        for (k, v) in self.system_properties() {
            flags.push(format!("-D{k}={v}"));
        }
        flags
    }
}

/// Allocates a currently free loopback port (bind to port 0, read it, release it).
/// Makes a spawned server die with the test (also on panics and aborts of the test
/// binary): PR_SET_PDEATHSIG in the child.
pub fn die_with_test(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and only changes the child's death signal.
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
}

pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A running (or stopped) server process with its own temp directory, zoo.cfg and log.
pub struct TestServer {
    kind: ServerKind,
    opts: ServerOptions,
    port: u16,
    _tmp: Option<tempfile::TempDir>,
    base: PathBuf,
    data_dir: PathBuf,
    data_log_dir: PathBuf,
    cfg_path: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
    last_log_start: u64,
}

impl TestServer {
    /// Starts a server of `kind` on a free loopback port and waits until it answers `srvr`.
    ///
    /// The server is killed if the thread that started it exits (PR_SET_PDEATHSIG), so start it
    /// from the test's own thread, not from a short-lived helper thread.
    pub fn start(kind: ServerKind, opts: ServerOptions) -> Result<TestServer> {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("zk-test-{}-", kind.name()))
            .tempdir()
            .context("creating temp dir")?;
        let base = tmp.path().to_path_buf();
        let data_dir = opts.data_dir.clone().unwrap_or_else(|| base.join("data"));
        let data_log_dir = opts
            .data_log_dir
            .clone()
            .unwrap_or_else(|| data_dir.clone());
        fs::create_dir_all(&data_dir)?;
        fs::create_dir_all(&data_log_dir)?;
        let keep = std::env::var_os("ZK_TEST_KEEP_DIRS").is_some();
        let mut server = TestServer {
            kind,
            opts,
            port: 0,
            cfg_path: base.join("zoo.cfg"),
            log_path: base.join("server.log"),
            _tmp: if keep {
                let _ = tmp.keep();
                None
            } else {
                Some(tmp)
            },
            base,
            data_dir,
            data_log_dir,
            child: None,
            last_log_start: 0,
        };
        // The port is free when picked but another process may grab it before the server binds
        // it; retry with a fresh port in that (rare) case.
        let mut last_err = None;
        if let Some(p) = server.opts.client_port {
            server.port = p;
            server.spawn_and_wait()?;
            return Ok(server);
        }
        for _ in 0..4 {
            server.port = free_port()?;
            match server.spawn_and_wait() {
                Ok(()) => return Ok(server),
                Err(e) if server.port_in_use_error() => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow!("could not start server")))
    }

    /// Starts with default options.
    pub fn start_default(kind: ServerKind) -> Result<TestServer> {
        Self::start(kind, ServerOptions::default())
    }

    pub fn kind(&self) -> ServerKind {
        self.kind
    }
    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
    /// `127.0.0.1:<port>`, as clients take it.
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
    pub fn data_log_dir(&self) -> &Path {
        &self.data_log_dir
    }
    pub fn cfg_path(&self) -> &Path {
        &self.cfg_path
    }
    /// The server's stdout+stderr (appended across restarts).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
    pub fn base_dir(&self) -> &Path {
        &self.base
    }
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            None => false,
            Some(c) => matches!(c.try_wait(), Ok(None)),
        }
    }

    /// Replaces the options used by the next (re)start.
    pub fn set_options(&mut self, opts: ServerOptions) {
        self.opts = opts;
    }

    /// Sends a four-letter word to this server.
    pub fn four_letter_word(&self, cmd: &str) -> Result<String> {
        four_letter_word(self.addr(), cmd, Duration::from_secs(5))
            .with_context(|| format!("4lw {cmd} to {}", self.kind))
    }

    /// The last `n` lines of the server log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// SIGKILL and reap (no clean shutdown).
    pub fn kill9(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            c.wait().context("waiting for killed server")?;
        }
        Ok(())
    }

    /// SIGTERM and wait (at most 20 s, then SIGKILL and an error). Returns the exit status.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        let mut c = match self.child.take() {
            Some(c) => c,
            None => bail!("{} server is not running", self.kind),
        };
        if let Some(st) = c.try_wait()? {
            bail!(
                "{} server had already exited ({st})\n{}",
                self.kind,
                self.log_tail(30)
            );
        }
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Deadline::after(Duration::from_secs(20));
        loop {
            if let Some(st) = c.try_wait()? {
                return Ok(st);
            }
            if deadline.expired() {
                let _ = c.kill();
                let _ = c.wait();
                bail!("{} server did not exit within 20 s of SIGTERM", self.kind);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the server (SIGTERM) if it is running, then starts it again on the same port with
    /// the same zoo.cfg and data directory, and waits until it answers `srvr`.
    pub fn restart(&mut self) -> Result<()> {
        if self.is_running() {
            self.stop()?;
        } else {
            self.child = None;
        }
        self.spawn_and_wait()
    }

    /// Starts the process again after [`TestServer::kill9`] or [`TestServer::stop`].
    pub fn start_again(&mut self) -> Result<()> {
        if self.is_running() {
            bail!("{} server is still running", self.kind);
        }
        self.child = None;
        self.spawn_and_wait()
    }

    fn command(&self) -> Command {
        let mut cmd = match self.kind {
            ServerKind::Zkraft => {
                let mut c = Command::new(zkraft_binary());
                c.arg(&self.cfg_path);
                c
            }
            ServerKind::Apache => {
                let mut c = Command::new(apache::java());
                c.args(apache::jvm_flags())
                    .args(self.opts.apache_system_properties())
                    .arg(format!("-Dzookeeper.log.dir={}", self.base.display()))
                    .arg("-cp")
                    .arg(apache::server_classpath())
                    .arg(apache::QUORUM_PEER_MAIN)
                    .arg(&self.cfg_path);
                c
            }
        };
        for (k, v) in &self.opts.env {
            cmd.env(k, v);
        }
        cmd.current_dir(&self.base);
        cmd
    }

    fn spawn_and_wait(&mut self) -> Result<()> {
        let cfg = self
            .opts
            .zoo_cfg(self.port, &self.data_dir, &self.data_log_dir);
        fs::write(&self.cfg_path, cfg).context("writing zoo.cfg")?;
        if let Some(id) = self.opts.myid {
            fs::write(self.data_dir.join("myid"), format!("{id}\n")).context("writing myid")?;
        }
        if self.kind == ServerKind::Zkraft && !zkraft_binary().is_file() {
            bail!(
                "zkraft server binary not found at {} (build it with `cargo build --release -p zk` \
                 or set ZKRAFT_ZK_SERVER; ZK_IMPL=apache runs against Apache ZooKeeper)",
                zkraft_binary().display()
            );
        }
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)?;
        let log_start = log.seek(SeekFrom::End(0))?;
        writeln!(
            log,
            "==== harness: starting {} on port {} ====",
            self.kind, self.port
        )?;
        let log_err = log.try_clone()?;
        let mut cmd = self.command();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        die_with_test(&mut cmd);
        let child = cmd.spawn().with_context(|| format!("spawning {:?}", cmd))?;
        self.child = Some(child);
        self.last_log_start = log_start;
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Deadline::after(self.opts.startup_timeout);
        let mut interval = Duration::from_millis(20);
        loop {
            let child = self.child.as_mut().expect("spawned");
            if let Some(st) = child.try_wait()? {
                self.child = None;
                bail!(
                    "{} server exited during startup ({st}); log tail:\n{}",
                    self.kind,
                    self.log_tail(40)
                );
            }
            if let Ok(out) = four_letter_word(self.addr(), "srvr", Duration::from_secs(2)) {
                if out.contains("Mode:") || !self.opts.wait_serving {
                    return Ok(());
                }
            }
            if deadline.expired() {
                let _ = self.kill9();
                bail!(
                    "{} server did not answer srvr on {} within {:?}; log tail:\n{}",
                    self.kind,
                    self.addr(),
                    self.opts.startup_timeout,
                    self.log_tail(40)
                );
            }
            std::thread::sleep(interval.min(deadline.remaining()));
            interval = (interval * 2).min(Duration::from_millis(100));
        }
    }

    fn port_in_use_error(&self) -> bool {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log_path) {
            let _ = f.seek(SeekFrom::Start(self.last_log_start));
            let _ = f.read_to_string(&mut text);
        }
        text.contains("Address already in use") || text.contains("BindException")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- {} server log ({}), last lines ----\n{}\n----",
                self.kind,
                self.log_path.display(),
                self.log_tail(40)
            );
        }
        let _ = self.kill9();
    }
}
