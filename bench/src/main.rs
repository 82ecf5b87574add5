//! zk-bench: runs the same pipelined ZooKeeper load against zkraft and Apache ZooKeeper
//! 3.8 on this machine, one server at a time, and prints a Markdown report with ratios.
//!
//! Modules: `client` (wire-protocol session with pipelining), `workloads` (what is sent
//! and how it is timed), `process` (starting/stopping servers, /proc sampling), `stats`
//! (latency histogram), `report` (machine info and tables). See docs/benchmarks.md.

mod client;
mod ensemble;
mod process;
mod report;
mod stats;
mod workloads;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;

use process::{Kind, Launch, RssSampler, Server};
use report::{Labels, ServerReport, Workload};
use workloads::{Keys, Mix, Shape};

#[derive(Parser, Debug)]
#[command(
    name = "zk-bench",
    about = "Benchmark zkraft against Apache ZooKeeper with the same pipelined client",
    // A later occurrence of a flag replaces an earlier one (scripts/bench-zk.sh passes
    // defaults first, then the caller's flags).
    args_override_self = true
)]
struct Args {
    /// Servers to run, in order (comma separated): zkraft, apache.
    #[arg(long, default_value = "zkraft,apache")]
    servers: String,
    /// Workloads to run (comma separated): sync, write, read, mix.
    #[arg(long, default_value = "sync,write,read,mix")]
    workloads: String,
    /// Measured seconds of each throughput workload (write, read, mix).
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Measured seconds of the sync-create latency workload.
    #[arg(long, default_value_t = 10.0)]
    sync_duration: f64,
    /// Unmeasured seconds at the start of every workload.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds of 90/10 mixed load after data set creation, before "RSS at rest" and the
    /// measured workloads (JIT warm-up for the JVM, caches for both).
    #[arg(long, default_value_t = 5.0)]
    warmup_global: f64,
    /// Client sessions (TCP connections) for the throughput workloads.
    #[arg(long, default_value_t = 8)]
    sessions: usize,
    /// Requests kept in flight per session in the throughput workloads.
    #[arg(long, default_value_t = 64)]
    outstanding: usize,
    /// Bytes per znode value (creates and setData).
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Pre-created znodes the throughput workloads pick from uniformly.
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// Percentage of writes (setData) in the mixed workload.
    #[arg(long, default_value_t = 10)]
    write_pct: u32,
    /// Tokio worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// zkraft server binary [default: $ZKRAFT_ZK_SERVER or <workspace>/target/release/zk-server].
    #[arg(long)]
    zkraft_bin: Option<PathBuf>,
    /// java executable [default: $ZK_JAVA or java].
    #[arg(long)]
    java: Option<PathBuf>,
    /// Class path of the Apache server [default: $ZK_APACHE_CLASSPATH or the Debian jars].
    #[arg(long)]
    apache_classpath: Option<String>,
    /// JVM flags for Apache (whitespace separated). The default is what upstream
    /// zkServer.sh uses (ZK_SERVER_HEAP=1000); everything else is the JVM's ergonomics.
    #[arg(
        long,
        default_value = "-Xmx1000m -Djava.net.preferIPv4Stack=true",
        allow_hyphen_values = true
    )]
    jvm_flags: String,
    /// Directory under which each server gets a fresh data directory (same disk for both).
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Keep the servers' directories (data, zoo.cfg, server.log) after the run.
    #[arg(long)]
    keep_dirs: bool,
    /// Seconds to wait for a server to accept its first session.
    #[arg(long, default_value_t = 60.0)]
    startup_timeout: f64,
    /// VmRSS sampling interval in milliseconds.
    #[arg(long, default_value_t = 100)]
    rss_interval_ms: u64,
    /// Run ensembles of this many members instead of standalone servers: the setData load
    /// spread over the members, then `--kills` leader kills timed to the first write.
    #[arg(long, default_value_t = 0)]
    ensemble: usize,
    /// Leader kills per ensemble (with `--ensemble`).
    #[arg(long, default_value_t = 3)]
    kills: usize,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn default_zkraft_bin() -> PathBuf {
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

fn default_apache_classpath() -> String {
    if let Ok(cp) = std::env::var("ZK_APACHE_CLASSPATH") {
        return cp;
    }
    let mut cp = "/usr/share/java/zookeeper.jar".to_string();
    // The jar's manifest only references slf4j-api; add a binding so the server logs.
    if Path::new("/usr/share/java/slf4j-simple.jar").exists() {
        cp.push_str(":/usr/share/java/slf4j-simple.jar");
    }
    cp
}

fn log(msg: impl AsRef<str>) {
    eprintln!("[zk-bench] {}", msg.as_ref());
}

/// Everything one server goes through: start, data set, warm-up, workloads, stop.
async fn bench_server(
    kind: Kind,
    args: &Args,
    launch: &Launch,
    workloads: &[Workload],
    labels: &Labels,
) -> Result<ServerReport> {
    let value = workloads::make_value(args.value_size);
    let keys = Arc::new(Keys::new(args.keys, &value));
    log(format!("{kind}: starting"));
    let mut server = Server::start(kind, launch, secs(args.startup_timeout)).await?;
    let pid = server.pid();
    log(format!(
        "{kind}: pid {pid}, port {}, dir {}",
        server.port,
        server.dir.display()
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_start_kib = process::rss_kib(pid)?;

    log(format!(
        "{kind}: creating {} znodes of {} bytes",
        args.keys, args.value_size
    ));
    workloads::setup(server.addr(), args.keys, &value, args.outstanding).await?;
    let shape = Shape {
        sessions: args.sessions,
        outstanding: args.outstanding,
        warmup: Duration::ZERO,
        duration: secs(args.warmup_global),
    };
    if args.warmup_global > 0.0 {
        log(format!("{kind}: warm-up {:.0} s", args.warmup_global));
        let mix = Mix::Mixed {
            write_pct: args.write_pct,
        };
        workloads::throughput(server.addr(), pid, keys.clone(), mix, shape).await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_rest_kib = process::rss_kib(pid)?;

    let sampler = RssSampler::start(pid, Duration::from_millis(args.rss_interval_ms.max(1)));
    let shape = Shape {
        warmup: secs(args.warmup),
        duration: secs(args.duration),
        ..shape
    };
    let mut runs = Vec::new();
    for &w in workloads {
        let r = match w {
            Workload::SyncCreate => {
                log(format!(
                    "{kind}: {}, {:.0} s",
                    labels.of(w),
                    args.sync_duration
                ));
                workloads::sync_create(
                    server.addr(),
                    pid,
                    &value,
                    secs(args.warmup),
                    secs(args.sync_duration),
                )
                .await?
            }
            Workload::Write | Workload::Read | Workload::Mixed => {
                let mix = match w {
                    Workload::Write => Mix::Write,
                    Workload::Read => Mix::Read,
                    _ => Mix::Mixed {
                        write_pct: args.write_pct,
                    },
                };
                log(format!("{kind}: {}, {:.0} s", labels.of(w), args.duration));
                workloads::throughput(server.addr(), pid, keys.clone(), mix, shape).await?
            }
        };
        log(format!(
            "{kind}:   {:.0} ops/s, p50 {:.3} ms, p99 {:.3} ms, errors {}, server {:.2} cores, client {:.2} cores",
            r.ops_per_sec(),
            r.all.quantile(0.5).as_secs_f64() * 1e3,
            r.all.quantile(0.99).as_secs_f64() * 1e3,
            r.errors,
            r.server_cores(),
            r.client_cores()
        ));
        if r.errors > 0 {
            log(format!(
                "{kind}: WARNING: {} replies carried an error code",
                r.errors
            ));
        }
        server.check_alive()?;
        runs.push((w, r));
    }
    let rss_peak_kib = sampler.finish();
    let hwm_kib = process::status_kib(&pid.to_string(), "VmHWM").unwrap_or(0);
    log(format!("{kind}: stopping"));
    server.stop()?;
    Ok(ServerReport {
        kind,
        rss_start_kib,
        rss_rest_kib,
        rss_peak_kib,
        hwm_kib,
        runs,
    })
}

fn main() -> Result<()> {
    let args = Args::parse();
    let kinds: Vec<Kind> = args
        .servers
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Kind::parse)
        .collect::<Result<_>>()?;
    ensure!(!kinds.is_empty(), "--servers is empty");
    let mut workloads = Vec::new();
    for w in args.workloads.split(',').filter(|s| !s.trim().is_empty()) {
        match Workload::parse(w) {
            Some(w) => workloads.push(w),
            None => bail!("unknown workload {w:?} (expected sync, write, read, mix)"),
        }
    }
    ensure!(
        args.sessions > 0 && args.outstanding > 0 && args.keys > 0,
        "--sessions, --outstanding and --keys must be positive"
    );
    ensure!(args.write_pct <= 100, "--write-pct must be 0..=100");
    ensure!(
        args.duration > 0.0 && args.sync_duration > 0.0,
        "durations must be positive"
    );

    let launch = Launch {
        zkraft_bin: args.zkraft_bin.clone().unwrap_or_else(default_zkraft_bin),
        java: args
            .java
            .clone()
            .or_else(|| std::env::var_os("ZK_JAVA").map(PathBuf::from))
            .unwrap_or_else(|| "java".into()),
        apache_classpath: args
            .apache_classpath
            .clone()
            .unwrap_or_else(default_apache_classpath),
        jvm_flags: args
            .jvm_flags
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        data_root: args.data_root.clone().unwrap_or_else(std::env::temp_dir),
        keep_dirs: args.keep_dirs,
        // ZooKeeper's default is 60 per client IP; leave room for the load sessions.
        max_client_cnxns: 60.max(args.sessions as u32 + 10),
    };
    if kinds.contains(&Kind::Zkraft) && !launch.zkraft_bin.is_file() {
        bail!(
            "zkraft binary {} not found: build it with `cargo build --release -p zk` or pass --zkraft-bin",
            launch.zkraft_bin.display()
        );
    }
    if kinds.contains(&Kind::Apache) {
        let jar = launch
            .apache_classpath
            .split(':')
            .next()
            .unwrap_or_default();
        ensure!(
            Path::new(jar).exists(),
            "Apache ZooKeeper jar {jar} not found (pass --apache-classpath)"
        );
    }

    std::fs::create_dir_all(&launch.data_root)
        .with_context(|| format!("creating {}", launch.data_root.display()))?;
    let machine = report::machine_info(
        &launch.java.to_string_lossy(),
        &launch.zkraft_bin.to_string_lossy(),
        &launch.data_root,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    if args.ensemble > 0 {
        ensure!(args.ensemble >= 3, "--ensemble needs at least 3 members");
        let value = workloads::make_value(args.value_size);
        let keys = Arc::new(Keys::new(args.keys, &value));
        let shape = Shape {
            sessions: args.sessions,
            outstanding: args.outstanding,
            warmup: secs(args.warmup),
            duration: secs(args.duration),
        };
        let mut reports = Vec::new();
        for &kind in &kinds {
            reports.push(rt.block_on(ensemble::bench(
                kind,
                args.ensemble,
                &launch,
                keys.clone(),
                &value,
                shape,
                secs(args.warmup_global),
                args.kills,
            ))?);
        }
        println!(
            "## zk-bench: {}-member ensembles, zkraft vs Apache ZooKeeper\n",
            args.ensemble
        );
        println!("Command:\n\n```\n{}\n```\n", report::command_line());
        println!(
            "Machine:\n\n{}- load average at end: {}\n",
            machine,
            report::load_avg()
        );
        println!(
            "Load: {} sessions × {} outstanding setData, spread over the members, {}-byte values, {} keys, {:.0} s measured \
             after {:.0} s warm-up; every member on this machine, fresh dataDir under {}, fsync on, tickTime 2000, initLimit 10, syncLimit 5.\n",
            args.sessions,
            args.outstanding,
            args.value_size,
            args.keys,
            args.duration,
            args.warmup_global,
            launch.data_root.display()
        );
        println!("{}", ensemble::report(&reports));
        return Ok(());
    }
    let labels = Labels {
        sync: "sync create (1 session, 1 outstanding)".into(),
        write: format!("setData ({}×{})", args.sessions, args.outstanding),
        read: format!("getData ({}×{})", args.sessions, args.outstanding),
        mixed: format!(
            "{}/{} read/write ({}×{})",
            100 - args.write_pct,
            args.write_pct,
            args.sessions,
            args.outstanding
        ),
    };
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for &kind in &kinds {
        match rt.block_on(bench_server(kind, &args, &launch, &workloads, &labels)) {
            Ok(r) => reports.push(r),
            Err(e) => {
                log(format!("{kind}: FAILED: {e:#}"));
                failures.push(format!("{kind}: {e:#}"));
            }
        }
    }

    println!("## zk-bench: zkraft vs Apache ZooKeeper\n");
    println!("Command:\n\n```\n{}\n```\n", report::command_line());
    println!(
        "Machine:\n\n{}- load average at end: {}\n",
        machine,
        report::load_avg()
    );
    println!(
        "Load: {} sessions × {} outstanding, {}-byte values, {} keys, {:.0} s measured per throughput workload \
         ({:.0} s sync create), {:.0} s unmeasured warm-up per workload, {:.0} s global warm-up, {} client thread(s). \
         Both servers: standalone, fresh dataDir under {}, snapCount 100000 (default), fsync on (default).\n",
        args.sessions,
        args.outstanding,
        args.value_size,
        args.keys,
        args.duration,
        args.sync_duration,
        args.warmup,
        args.warmup_global,
        args.client_threads.max(1),
        launch.data_root.display()
    );
    for k in &kinds {
        println!("- {k} started as: `{}`", launch.describe(*k));
    }
    println!();
    println!("{}", report::summary_table(&reports, &labels));
    println!("Ratio = zkraft ÷ Apache; latencies are per request, measured by the client from enqueue to reply.\n");
    println!(
        "### Details\n\n{}",
        report::details_table(&reports, &labels)
    );
    if !failures.is_empty() {
        println!("### Failures\n");
        for f in &failures {
            println!("- {f}");
        }
        bail!("{} server run(s) failed", failures.len());
    }
    Ok(())
}
