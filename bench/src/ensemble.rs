//! The ensemble benchmark (`zk-bench --ensemble 3`): for each implementation, a fresh
//! ensemble on loopback ports of this machine, the setData load spread over every member,
//! then repeated leader kills, each timed from the SIGKILL to the first acknowledged create
//! issued after it.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use zk::jute::CreateRequest;
use zk::proto::{err, op};

use crate::client::{open_acl, Session};
use crate::process::{free_port, rss_kib, spawn_logged, Kind, Launch};
use crate::stats::Histogram;
use crate::workloads::{self, Keys, Mix, RunResult, Shape};

/// One member process.
struct Member {
    id: u64,
    client: u16,
    cfg: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
}

impl Member {
    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.client))
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    fn spawn(&mut self, kind: Kind, launch: &Launch) -> Result<()> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))?;
        let cmd = launch.command(kind, &self.cfg, &self.dir);
        self.child = Some(spawn_logged(cmd, &self.dir, log)?);
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn mode(&self) -> Option<String> {
        let mut s = TcpStream::connect_timeout(&self.addr(), Duration::from_secs(1)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"srvr").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(|m| m.trim().to_string())
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running ensemble.
struct Ensemble {
    members: Vec<Member>,
    _tmp: Option<tempfile::TempDir>,
}

impl Ensemble {
    fn start(kind: Kind, n: usize, launch: &Launch) -> Result<Ensemble> {
        fs::create_dir_all(&launch.data_root)?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(
                "zk-bench-ens-{}-",
                kind.name().to_ascii_lowercase()
            ))
            .tempdir_in(&launch.data_root)?;
        let mut ports = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        while ports.len() < 3 * n {
            let p = free_port()?;
            if seen.insert(p) {
                ports.push(p);
            }
        }
        let servers: String = (0..n)
            .map(|i| {
                format!(
                    "server.{}=127.0.0.1:{}:{}\n",
                    i + 1,
                    ports[3 * i + 1],
                    ports[3 * i + 2]
                )
            })
            .collect();
        let mut members = Vec::new();
        for i in 0..n {
            let dir = tmp.path().join(format!("m{}", i + 1));
            let data = dir.join("data");
            fs::create_dir_all(&data)?;
            fs::write(data.join("myid"), format!("{}\n", i + 1))?;
            let cfg = dir.join("zoo.cfg");
            fs::write(
                &cfg,
                format!(
                    "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={d}\ndataLogDir={d}\n\
                     clientPort={p}\nclientPortAddress=127.0.0.1\nmaxClientCnxns={m}\n\
                     admin.enableServer=false\n4lw.commands.whitelist=srvr\n{servers}",
                    d = data.display(),
                    p = ports[3 * i],
                    m = launch.max_client_cnxns,
                ),
            )?;
            members.push(Member {
                id: i as u64 + 1,
                client: ports[3 * i],
                cfg,
                dir,
                child: None,
            });
        }
        for m in members.iter_mut() {
            m.spawn(kind, launch)?;
        }
        let tmp = if launch.keep_dirs {
            let _ = tmp.keep();
            None
        } else {
            Some(tmp)
        };
        Ok(Ensemble { members, _tmp: tmp })
    }

    /// Waits until every running member serves and one leads; returns the leader's index.
    async fn wait_serving(&self, timeout: Duration) -> Result<usize> {
        let t0 = Instant::now();
        loop {
            let modes: Vec<Option<String>> = self
                .members
                .iter()
                .map(|m| {
                    if m.child.is_some() {
                        m.mode()
                    } else {
                        Some("down".into())
                    }
                })
                .collect();
            let leaders: Vec<usize> = modes
                .iter()
                .enumerate()
                .filter(|(_, m)| m.as_deref() == Some("leader"))
                .map(|(i, _)| i)
                .collect();
            if leaders.len() == 1 && modes.iter().all(|m| m.is_some()) {
                return Ok(leaders[0]);
            }
            if t0.elapsed() > timeout {
                bail!("ensemble not serving after {timeout:?}: {modes:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn addrs(&self) -> Vec<SocketAddr> {
        self.members.iter().map(|m| m.addr()).collect()
    }

    fn rss_kib(&self) -> u64 {
        self.members
            .iter()
            .filter_map(|m| rss_kib(m.pid()).ok())
            .sum()
    }
}

/// What one implementation's ensemble did.
pub struct EnsembleReport {
    pub kind: Kind,
    pub members: usize,
    pub write: RunResult,
    pub failovers: Vec<Duration>,
    pub rss_kib: u64,
}

/// One create through a surviving member; true when acknowledged.
async fn probe_create(addr: SocketAddr, n: u64) -> bool {
    let attempt = async {
        let mut s = Session::connect(addr, 10_000).await.ok()?;
        let h = s
            .call(
                op::CREATE,
                &CreateRequest {
                    path: format!("/bench/failover-{n}"),
                    data: Some(Vec::new()),
                    acl: open_acl(),
                    flags: 0,
                },
            )
            .await
            .ok()?;
        let _ = s.close().await;
        Some(h.err == err::OK)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Some(true))
    )
}

/// Runs the ensemble benchmark for `kind`.
#[allow(clippy::too_many_arguments)]
pub async fn bench(
    kind: Kind,
    n: usize,
    launch: &Launch,
    keys: Arc<Keys>,
    value: &[u8],
    shape: Shape,
    warmup_global: Duration,
    kills: usize,
) -> Result<EnsembleReport> {
    let log = |m: String| eprintln!("[zk-bench] {kind} ensemble: {m}");
    log(format!("starting {n} members"));
    let mut e = Ensemble::start(kind, n, launch)?;
    let leader = e.wait_serving(Duration::from_secs(120)).await?;
    log(format!("member {} leads", leader + 1));
    let addrs = e.addrs();
    workloads::setup(addrs[leader], keys.len(), value, shape.outstanding).await?;
    if !warmup_global.is_zero() {
        let warm = Shape {
            warmup: Duration::ZERO,
            duration: warmup_global,
            ..shape
        };
        workloads::throughput_spread(
            &addrs,
            e.members[leader].pid(),
            keys.clone(),
            Mix::Write,
            warm,
        )
        .await?;
    }
    log(format!(
        "setData over all members, {:.0} s",
        shape.duration.as_secs_f64()
    ));
    let write = workloads::throughput_spread(
        &addrs,
        e.members[leader].pid(),
        keys.clone(),
        Mix::Write,
        shape,
    )
    .await?;
    log(format!(
        "{:.0} ops/s, p99 {:.3} ms, errors {}",
        write.ops_per_sec(),
        write.all.quantile(0.99).as_secs_f64() * 1e3,
        write.errors
    ));
    let rss = e.rss_kib();
    let mut failovers = Vec::new();
    let mut probe = 0u64;
    for round in 0..kills {
        let l = e.wait_serving(Duration::from_secs(120)).await?;
        let survivors: Vec<SocketAddr> = addrs
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != l)
            .map(|(_, a)| *a)
            .collect();
        e.members[l].kill();
        let t0 = Instant::now();
        loop {
            probe += 1;
            let t = Instant::now();
            let ok = probe_create(survivors[probe as usize % survivors.len()], probe).await;
            if std::env::var_os("ZK_BENCH_TRACE").is_some() {
                log(format!(
                    "probe {probe}: {ok} in {:?} at +{:?}",
                    t.elapsed(),
                    t0.elapsed()
                ));
            }
            if ok {
                break;
            }
            if t0.elapsed() > Duration::from_secs(120) {
                return Err(anyhow!(
                    "no write succeeded within 120 s of killing the leader"
                ));
            }
        }
        let took = t0.elapsed();
        log(format!(
            "kill {}: leader {} killed, first acknowledged write after {:.0} ms",
            round + 1,
            e.members[l].id,
            took.as_secs_f64() * 1e3
        ));
        failovers.push(took);
        e.members[l].spawn(kind, launch)?;
    }
    e.wait_serving(Duration::from_secs(120)).await?;
    Ok(EnsembleReport {
        kind,
        members: n,
        write,
        failovers,
        rss_kib: rss,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The Markdown tables.
pub fn report(reports: &[EnsembleReport]) -> String {
    let mut s = String::new();
    s.push_str("| | ");
    for r in reports {
        s.push_str(&format!("{} ({} members) | ", r.kind, r.members));
    }
    let ratio = reports.len() == 2;
    if ratio {
        s.push_str("ratio |");
    }
    s.push('\n');
    s.push_str(&"|---".repeat(reports.len() + 1 + usize::from(ratio)));
    s.push_str("|\n");
    let row = |name: &str, vals: Vec<f64>, fmt: &dyn Fn(f64) -> String| {
        let mut line = format!("| {name} | ");
        for v in &vals {
            line.push_str(&format!("{} | ", fmt(*v)));
        }
        if vals.len() == 2 && vals[1] != 0.0 {
            line.push_str(&format!("{:.2}× |", vals[0] / vals[1]));
        }
        line.push('\n');
        line
    };
    let q = |h: &Histogram, x: f64| h.quantile(x).as_secs_f64() * 1e3;
    s.push_str(&row(
        "setData ops/s",
        reports.iter().map(|r| r.write.ops_per_sec()).collect(),
        &|v| format!("{v:.0}"),
    ));
    s.push_str(&row(
        "setData p50 ms",
        reports.iter().map(|r| q(&r.write.all, 0.5)).collect(),
        &|v| format!("{v:.2}"),
    ));
    s.push_str(&row(
        "setData p99 ms",
        reports.iter().map(|r| q(&r.write.all, 0.99)).collect(),
        &|v| format!("{v:.2}"),
    ));
    s.push_str(&row(
        "failover median ms",
        reports
            .iter()
            .map(|r| median(&r.failovers).as_secs_f64() * 1e3)
            .collect(),
        &|v| format!("{v:.0}"),
    ));
    s.push_str(&row(
        "RSS, all members, MiB",
        reports.iter().map(|r| r.rss_kib as f64 / 1024.0).collect(),
        &|v| format!("{v:.1}"),
    ));
    s.push('\n');
    for r in reports {
        s.push_str(&format!(
            "- {}: failovers (kill -9 of the leader to the first acknowledged create): {} ms; setData errors: {}\n",
            r.kind,
            r.failovers.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", "),
            r.write.errors
        ));
    }
    s
}
