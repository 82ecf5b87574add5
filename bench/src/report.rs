//! Machine information and the Markdown report (summary table with ratios + details).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::process::Kind;
use crate::workloads::RunResult;

/// The workloads, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    SyncCreate,
    Write,
    Read,
    Mixed,
}

impl Workload {
    pub const ALL: [Workload; 4] = [
        Workload::SyncCreate,
        Workload::Write,
        Workload::Read,
        Workload::Mixed,
    ];

    pub fn parse(s: &str) -> Option<Workload> {
        match s.trim() {
            "sync" | "sync-create" => Some(Workload::SyncCreate),
            "write" => Some(Workload::Write),
            "read" => Some(Workload::Read),
            "mix" | "mixed" => Some(Workload::Mixed),
            _ => None,
        }
    }
}

/// Everything measured for one server.
pub struct ServerReport {
    pub kind: Kind,
    /// VmRSS right after the server accepted its first session.
    pub rss_start_kib: u64,
    /// VmRSS after data set creation and warm-up, idle.
    pub rss_rest_kib: u64,
    /// Largest VmRSS sampled during the measured workloads.
    pub rss_peak_kib: u64,
    /// VmHWM (kernel's peak RSS since start) at the end.
    pub hwm_kib: u64,
    pub runs: Vec<(Workload, RunResult)>,
}

impl ServerReport {
    fn run(&self, w: Workload) -> Option<&RunResult> {
        self.runs.iter().find(|(k, _)| *k == w).map(|(_, r)| r)
    }
}

/// Labels for the workload rows, which depend on the load shape.
pub struct Labels {
    pub sync: String,
    pub write: String,
    pub read: String,
    pub mixed: String,
}

impl Labels {
    pub fn of(&self, w: Workload) -> &str {
        match w {
            Workload::SyncCreate => &self.sync,
            Workload::Write => &self.write,
            Workload::Read => &self.read,
            Workload::Mixed => &self.mixed,
        }
    }
}

#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

struct Row {
    name: String,
    better: Better,
    unit: Unit,
    zkraft: Option<f64>,
    apache: Option<f64>,
}

#[derive(Clone, Copy)]
enum Unit {
    OpsPerSec,
    Ms,
    Us,
    MiB,
}

fn fmt_val(v: Option<f64>, unit: Unit) -> String {
    let Some(v) = v else { return "—".into() };
    match unit {
        Unit::OpsPerSec => format!("{} ops/s", group(v.round() as u64)),
        Unit::Ms => format!("{} ms", fmt_ms(v)),
        Unit::Us => format!("{v:.1} µs"),
        Unit::MiB => format!("{v:.1} MiB"),
    }
}

fn fmt_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.3}")
    } else if ms < 100.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.1}")
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// 1234567 -> "1,234,567".
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rows(servers: &[ServerReport], labels: &Labels) -> Vec<Row> {
    let find = |k: Kind| servers.iter().find(|s| s.kind == k);
    let z = find(Kind::Zkraft);
    let a = find(Kind::Apache);
    let mut rows = Vec::new();
    let mut add = |name: String, better, unit, f: &dyn Fn(&ServerReport) -> Option<f64>| {
        rows.push(Row {
            name,
            better,
            unit,
            zkraft: z.and_then(f),
            apache: a.and_then(f),
        });
    };
    let workloads: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| servers.iter().any(|s| s.run(*w).is_some()))
        .collect();
    for w in workloads {
        let l = labels.of(w);
        add(
            format!("{l}: throughput"),
            Better::Higher,
            Unit::OpsPerSec,
            &|s| s.run(w).map(|r| r.ops_per_sec()),
        );
        add(format!("{l}: p50 latency"), Better::Lower, Unit::Ms, &|s| {
            s.run(w).map(|r| ms(r.all.quantile(0.50)))
        });
        add(format!("{l}: p99 latency"), Better::Lower, Unit::Ms, &|s| {
            s.run(w).map(|r| ms(r.all.quantile(0.99)))
        });
        match w {
            Workload::SyncCreate => {
                add(format!("{l}: max latency"), Better::Lower, Unit::Ms, &|s| {
                    s.run(w).map(|r| ms(r.all.max()))
                });
            }
            Workload::Mixed => {
                add(
                    format!("{l}: write p99 latency"),
                    Better::Lower,
                    Unit::Ms,
                    &|s| s.run(w).map(|r| ms(r.writes.quantile(0.99))),
                );
            }
            _ => {}
        }
        if w != Workload::SyncCreate {
            add(
                format!("{l}: server CPU per op"),
                Better::Lower,
                Unit::Us,
                &|s| s.run(w).map(|r| r.server_us_per_op()),
            );
        }
    }
    let mib = |k: u64| Some(k as f64 / 1024.0);
    add(
        "RSS after start (idle)".into(),
        Better::Lower,
        Unit::MiB,
        &|s| mib(s.rss_start_kib),
    );
    add(
        "RSS at rest after warm-up".into(),
        Better::Lower,
        Unit::MiB,
        &|s| mib(s.rss_rest_kib),
    );
    add(
        "RSS peak under load (sampled VmRSS)".into(),
        Better::Lower,
        Unit::MiB,
        &|s| mib(s.rss_peak_kib),
    );
    rows
}

/// The summary table: workload, zkraft, Apache, ratio (zkraft / Apache), and who wins by how much.
pub fn summary_table(servers: &[ServerReport], labels: &Labels) -> String {
    let mut out = String::new();
    out.push_str("| workload / metric | zkraft | Apache | ratio zkraft/Apache | better |\n");
    out.push_str("|---|---:|---:|---:|---|\n");
    for r in rows(servers, labels) {
        let (ratio, verdict) = match (r.zkraft, r.apache) {
            (Some(z), Some(a)) if z > 0.0 && a > 0.0 => {
                let ratio = z / a;
                let zk_wins = match r.better {
                    Better::Higher => ratio >= 1.0,
                    Better::Lower => ratio <= 1.0,
                };
                let factor = if ratio >= 1.0 { ratio } else { 1.0 / ratio };
                let hint = match r.better {
                    Better::Higher => "higher is better",
                    Better::Lower => "lower is better",
                };
                let who = if zk_wins { "zkraft" } else { "Apache" };
                (
                    format!("{ratio:.2}"),
                    format!("{who} {factor:.2}× ({hint})"),
                )
            }
            _ => ("—".into(), "—".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            r.name,
            fmt_val(r.zkraft, r.unit),
            fmt_val(r.apache, r.unit),
            ratio,
            verdict
        );
    }
    out
}

/// Per-server, per-workload details.
pub fn details_table(servers: &[ServerReport], labels: &Labels) -> String {
    let mut out = String::new();
    out.push_str(
        "| server | workload | ops counted | errors | ops/s | mean | p50 | p99 | p99.9 | max | server CPU (cores) | server CPU/op | client CPU (cores) |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for s in servers {
        for (w, r) in &s.runs {
            let l = |d: Duration| format!("{} ms", fmt_ms(ms(d)));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.1} µs | {:.2} |",
                s.kind,
                labels.of(*w),
                group(r.ops),
                r.errors,
                group(r.ops_per_sec().round() as u64),
                l(r.all.mean()),
                l(r.all.quantile(0.5)),
                l(r.all.quantile(0.99)),
                l(r.all.quantile(0.999)),
                l(r.all.max()),
                r.server_cores(),
                r.server_us_per_op(),
                r.client_cores(),
            );
        }
        let _ = writeln!(
            out,
            "| {} | memory | VmRSS start {:.1} MiB, at rest {:.1} MiB, sampled peak {:.1} MiB, VmHWM {:.1} MiB | | | | | | | | | | |",
            s.kind,
            s.rss_start_kib as f64 / 1024.0,
            s.rss_rest_kib as f64 / 1024.0,
            s.rss_peak_kib as f64 / 1024.0,
            s.hwm_kib as f64 / 1024.0,
        );
    }
    out
}

// ---- machine information ----

fn first_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn read_trim(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

pub fn load_avg() -> String {
    read_trim("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Bulleted machine description: nproc, CPU model, kernel, memory, load, tool versions.
pub fn machine_info(java: &str, zkraft_bin: &str, data_root: &Path) -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = read_trim("/proc/sys/kernel/osrelease").unwrap_or_default();
    let kver = read_trim("/proc/sys/kernel/version").unwrap_or_default();
    let mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|k| format!("{:.1} GiB", k as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "- nproc: {nproc}");
    let _ = writeln!(out, "- CPU: {model}");
    let _ = writeln!(out, "- kernel: {kernel} ({kver})");
    let _ = writeln!(out, "- memory: {mem}");
    let _ = writeln!(out, "- data root: {}", describe_fs(data_root));
    let _ = writeln!(out, "- load average at start: {}", load_avg());
    if let Some(v) = first_line(java, &["-version"]) {
        let _ = writeln!(out, "- java: {v}");
    }
    if let Some(v) = first_line(zkraft_bin, &["--version"]) {
        let _ = writeln!(out, "- zkraft: {v}");
    }
    if let Some(rev) = first_line("git", &["rev-parse", "--short", "HEAD"]) {
        let dirty = Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(false);
        let _ = writeln!(
            out,
            "- git: {rev}{}",
            if dirty { " (uncommitted changes)" } else { "" }
        );
    }
    if let Some(d) = first_line("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"]) {
        let _ = writeln!(out, "- date: {d}");
    }
    out
}

/// Which mount (device, file system type) holds `dir`, from /proc/self/mounts. fsync is
/// free on tmpfs, which would make the durable workloads meaningless: flag it.
pub fn describe_fs(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let best = mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3).then(|| (f[0], f[1].replace("\\040", " "), f[2]))
        })
        .filter(|(_, mnt, _)| dir.starts_with(mnt))
        .max_by_key(|(_, mnt, _)| mnt.len());
    match best {
        Some((dev, mnt, fstype)) => {
            let warn = if matches!(fstype, "tmpfs" | "ramfs") {
                " — WARNING: memory-backed, fsync costs nothing"
            } else {
                ""
            };
            format!(
                "{} on {dev} mounted at {mnt} ({fstype}){warn}",
                dir.display()
            )
        }
        None => dir.display().to_string(),
    }
}

/// The command line, shell-quoted where needed.
pub fn command_line() -> String {
    std::env::args()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@%".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
