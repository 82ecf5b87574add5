//! Four-letter words, in ZooKeeper 3.8's output formats. They run on the core thread so
//! every number is read from the state it describes.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::core::Core;
use crate::proto::ZK_VERSION;

/// The full version line ZooKeeper prints (`Version.getFullVersion`).
pub fn full_version() -> String {
    format!(
        "{ZK_VERSION}-{}, built on 2026-11-21 00:00 UTC",
        env!("CARGO_PKG_VERSION")
    )
}

/// Java's `Double.toString` for the values we print (always a fractional part).
pub fn java_double(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e7 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn fd_counts() -> (u64, u64) {
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    let mut max = 0;
    // SAFETY: getrlimit only writes into the struct we pass.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            max = r.rlim_cur;
        }
    }
    (open, max)
}

fn dir_size(p: &std::path::Path) -> u64 {
    let dir = crate::persist::files::version_dir(p);
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

impl Core {
    /// Answers a four-letter word that passed the whitelist.
    /// `asker` is the connection that sent the word: ZooKeeper counts it among the
    /// connections and lists it in `stat` and `cons`.
    pub fn four_letter(&self, cmd: &str, asker: Option<std::net::SocketAddr>) -> String {
        let asker_line = |s: &mut String| {
            if let Some(a) = asker {
                let _ = writeln!(s, " /{a}[1](queued=0,recved=1,sent=0)");
            }
        };
        let connections = self.conns.len() + usize::from(asker.is_some());
        let mut s = String::new();
        if !self.is_serving() && !matches!(cmd, "ruok" | "conf" | "envi" | "dirs" | "isro") {
            // Apache's commands that need a running server answer this while LOOKING.
            s.push_str("This ZooKeeper instance is not currently serving requests\n");
            return s;
        }
        match cmd {
            "ruok" => s.push_str("imok"),
            "isro" => s.push_str("rw"),
            "srvr" | "stat" => {
                let _ = writeln!(s, "Zookeeper version: {}", full_version());
                if cmd == "stat" {
                    s.push_str("Clients:\n");
                    for c in self.conns.values() {
                        let _ = writeln!(
                            s,
                            " /{}[1](queued={},recved={},sent={})",
                            c.addr,
                            c.stats.outstanding.load(Ordering::Relaxed).max(0),
                            c.stats.recved.load(Ordering::Relaxed),
                            c.stats.sent.load(Ordering::Relaxed)
                        );
                    }
                    asker_line(&mut s);
                    s.push('\n');
                }
                let (min, avg, max) = self.stats.latency();
                let _ = writeln!(s, "Latency min/avg/max: {min}/{}/{max}", java_double(avg));
                let _ = writeln!(
                    s,
                    "Received: {}",
                    self.stats.received.load(Ordering::Relaxed)
                );
                let _ = writeln!(s, "Sent: {}", self.stats.sent.load(Ordering::Relaxed));
                let _ = writeln!(s, "Connections: {connections}");
                let _ = writeln!(s, "Outstanding: {}", self.outstanding());
                let _ = writeln!(s, "Zxid: 0x{:x}", self.tree.last_processed_zxid);
                let _ = writeln!(s, "Mode: {}", self.mode_name());
                let _ = writeln!(s, "Node count: {}", self.node_count());
            }
            "conf" => {
                let c = &self.cfg;
                let _ = writeln!(s, "clientPort={}", c.client_port.unwrap_or(0));
                let _ = writeln!(s, "secureClientPort=-1");
                let _ = writeln!(
                    s,
                    "dataDir={}",
                    crate::persist::files::version_dir(&c.data_dir).display()
                );
                let _ = writeln!(s, "dataDirSize={}", dir_size(&c.data_dir));
                let _ = writeln!(
                    s,
                    "dataLogDir={}",
                    crate::persist::files::version_dir(&c.data_log_dir).display()
                );
                let _ = writeln!(s, "dataLogSize={}", dir_size(&c.data_log_dir));
                let _ = writeln!(s, "tickTime={}", c.tick_time);
                let _ = writeln!(s, "maxClientCnxns={}", c.max_client_cnxns);
                let _ = writeln!(s, "minSessionTimeout={}", c.min_session_timeout);
                let _ = writeln!(s, "maxSessionTimeout={}", c.max_session_timeout);
                let _ = writeln!(s, "clientPortListenBacklog=-1");
                let _ = writeln!(s, "serverId={}", self.server_id);
            }
            "cons" => {
                for c in self.conns.values() {
                    let i = c.stats.snapshot();
                    let _ = write!(
                        s,
                        " /{}[1](queued={},recved={},sent={}",
                        c.addr,
                        c.stats.outstanding.load(Ordering::Relaxed).max(0),
                        c.stats.recved.load(Ordering::Relaxed),
                        c.stats.sent.load(Ordering::Relaxed)
                    );
                    if i.session != 0 {
                        let avg = if i.count == 0 { 0 } else { i.sum_lat / i.count };
                        let min = if i.min_lat == u64::MAX { 0 } else { i.min_lat };
                        let _ = write!(
                            s,
                            ",sid=0x{:x},lop=NA,est={},to={},lcxid=0x{:x},lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
                            i.session, c.stats.established_ms, i.timeout, i.last_cxid, i.last_zxid, i.last_response_ms, i.last_latency, min, avg, i.max_lat
                        );
                    }
                    s.push_str(")\n");
                }
                asker_line(&mut s);
                s.push('\n');
            }
            "crst" => {
                for c in self.conns.values() {
                    c.stats.reset();
                }
                s.push_str("Connection stats reset.\n");
            }
            "srst" => {
                self.stats.reset();
                s.push_str("Server stats reset.\n");
            }
            "dirs" => {
                let _ = writeln!(s, "datadir_size: {}", dir_size(&self.cfg.data_dir));
                let _ = writeln!(s, "logdir_size: {}", dir_size(&self.cfg.data_log_dir));
            }
            "dump" => {
                s.push_str("SessionTracker dump:\n");
                let mut buckets: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
                for x in self.sessions.iter() {
                    buckets.entry(x.expires_at).or_default().push(x.id);
                }
                let _ = writeln!(
                    s,
                    "Session Sets ({})/({}):",
                    buckets.len(),
                    self.sessions.len()
                );
                let start_wall = wall_ms() - self.started.elapsed().as_millis() as i64;
                for (at, mut ids) in buckets {
                    ids.sort();
                    let _ = writeln!(s, "{} expire at {}:", ids.len(), java_date(start_wall + at));
                    for id in ids {
                        let _ = writeln!(s, "\t0x{id:x}");
                    }
                }
                s.push_str("ephemeral nodes dump:\n");
                let eph = self.tree.all_ephemerals();
                let _ = writeln!(s, "Sessions with Ephemerals ({}):", eph.len());
                for (sid, paths) in eph {
                    let _ = writeln!(s, "0x{sid:x}:");
                    for p in paths {
                        let _ = writeln!(s, "\t{p}");
                    }
                }
                s.push_str("Connections dump:\n");
                let _ = writeln!(
                    s,
                    "Connections Sets (0)/({}):",
                    self.conns.len() + usize::from(asker.is_some())
                );
            }
            "envi" => {
                s.push_str("Environment:\n");
                let _ = writeln!(s, "zookeeper.version={}", full_version());
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
                let _ = writeln!(s, "host.name={}", host.trim());
                let _ = writeln!(
                    s,
                    "java.version=none (zkraft {})",
                    env!("CARGO_PKG_VERSION")
                );
                let _ = writeln!(s, "java.vendor=zkraft");
                let _ = writeln!(s, "java.home=");
                let _ = writeln!(s, "java.class.path=");
                let _ = writeln!(s, "java.library.path=");
                let _ = writeln!(s, "java.io.tmpdir={}", std::env::temp_dir().display());
                let _ = writeln!(s, "java.compiler=<NA>");
                let _ = writeln!(s, "os.name={}", std::env::consts::OS);
                let _ = writeln!(s, "os.arch={}", std::env::consts::ARCH);
                let _ = writeln!(s, "os.version=");
                let _ = writeln!(s, "user.name={}", std::env::var("USER").unwrap_or_default());
                let _ = writeln!(s, "user.home={}", std::env::var("HOME").unwrap_or_default());
                let _ = writeln!(
                    s,
                    "user.dir={}",
                    std::env::current_dir()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                );
                let rss = crate::fourletter::rss_bytes();
                let _ = writeln!(s, "os.memory.free=0MB");
                let _ = writeln!(s, "os.memory.max={}MB", rss / (1 << 20));
                let _ = writeln!(s, "os.memory.total={}MB", rss / (1 << 20));
            }
            "wchs" => {
                let d = &self.watches.data;
                let _ = writeln!(
                    s,
                    "{} connections watching {} paths",
                    d.conn_count(),
                    d.path_count()
                );
                let _ = writeln!(s, "Total watches:{}", d.watch_count());
            }
            "wchc" => {
                let mut by: std::collections::BTreeMap<i64, std::collections::BTreeSet<String>> =
                    Default::default();
                for (conn, paths) in self.watches.data.by_conn() {
                    let sid = self.conns.get(conn).map_or(0, |c| c.session);
                    by.entry(sid).or_default().extend(paths.iter().cloned());
                }
                for (sid, paths) in by {
                    let _ = writeln!(s, "0x{sid:x}");
                    for p in paths {
                        let _ = writeln!(s, "\t{p}");
                    }
                }
                s.push('\n');
            }
            "wchp" => {
                let mut paths: Vec<_> = self.watches.data.by_path().collect();
                paths.sort_by(|a, b| a.0.cmp(b.0));
                for (p, conns) in paths {
                    let _ = writeln!(s, "{p}");
                    for c in conns {
                        let sid = self.conns.get(&c).map_or(0, |c| c.session);
                        let _ = writeln!(s, "\t0x{sid:x}");
                    }
                }
                s.push('\n');
            }
            "mntr" => self.mntr(&mut s, connections),
            "hash" => {
                let _ = writeln!(
                    s,
                    "{}: {}",
                    self.tree.last_processed_zxid,
                    self.tree.digest()
                );
            }
            "gtmk" => s.push_str("0\n"),
            "stmk" => s.push_str("0\n"),
            _ => {}
        }
        s
    }

    fn outstanding(&self) -> i64 {
        self.conns
            .values()
            .map(|c| c.stats.outstanding.load(Ordering::Relaxed).max(0))
            .sum()
    }

    /// ZooKeeper's node map holds the root twice ("" and "/"), and every count it reports
    /// includes both.
    fn node_count(&self) -> usize {
        self.tree.node_count() + 1
    }

    fn mntr(&self, s: &mut String, connections: usize) {
        let (min, avg, max) = self.stats.latency();
        let (open_fds, max_fds) = fd_counts();
        let fsyncs = self.stats.fsyncs.load(Ordering::Relaxed);
        let fsync_us = self.stats.fsync_micros.load(Ordering::Relaxed);
        let rows: Vec<(&str, String)> = vec![
            ("zk_version", full_version()),
            ("zk_server_state", self.mode_name().into()),
            ("zk_avg_latency", java_double(avg)),
            ("zk_max_latency", max.to_string()),
            ("zk_min_latency", min.to_string()),
            (
                "zk_packets_received",
                self.stats.received.load(Ordering::Relaxed).to_string(),
            ),
            (
                "zk_packets_sent",
                self.stats.sent.load(Ordering::Relaxed).to_string(),
            ),
            ("zk_num_alive_connections", connections.to_string()),
            ("zk_outstanding_requests", self.outstanding().to_string()),
            ("zk_znode_count", self.node_count().to_string()),
            ("zk_watch_count", self.watches.total().to_string()),
            (
                "zk_ephemerals_count",
                self.tree.ephemeral_count().to_string(),
            ),
            (
                "zk_approximate_data_size",
                self.tree.approximate_data_size().to_string(),
            ),
            ("zk_open_file_descriptor_count", open_fds.to_string()),
            ("zk_max_file_descriptor_count", max_fds.to_string()),
            ("zk_uptime", self.started.elapsed().as_millis().to_string()),
            ("zk_global_sessions", self.sessions.len().to_string()),
            ("zk_local_sessions", "0".into()),
            ("zk_connection_drop_probability", "0.0".into()),
            (
                "zk_auth_failed_count",
                self.stats.auth_failed.load(Ordering::Relaxed).to_string(),
            ),
            ("zk_last_proposal_size", "-1".into()),
            ("zk_max_proposal_size", "-1".into()),
            ("zk_min_proposal_size", "-1".into()),
            ("zk_outstanding_tls_handshake", "0".into()),
            ("zk_cnt_fsynctime", fsyncs.to_string()),
            ("zk_sum_fsynctime", (fsync_us / 1000).to_string()),
            (
                "zk_avg_fsynctime",
                java_double(if fsyncs == 0 {
                    0.0
                } else {
                    fsync_us as f64 / 1000.0 / fsyncs as f64
                }),
            ),
            ("zk_rss_bytes", rss_bytes().to_string()),
        ];
        let mut rows = rows;
        if let Some((learners, followers, synced, syncs)) = self.leader_stats() {
            rows.push(("zk_learners", learners.to_string()));
            rows.push(("zk_followers", followers.to_string()));
            rows.push(("zk_synced_followers", synced.to_string()));
            rows.push(("zk_pending_syncs", syncs.to_string()));
        }
        for (k, v) in rows {
            let _ = writeln!(s, "{k}\t{v}");
        }
    }
}

/// Resident set size of this process.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `java.util.Date.toString()` in UTC: "Sat Nov 21 06:35:41 UTC 2026".
pub fn java_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86400);
    let tod = secs.rem_euclid(86400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        tod / 3600,
        tod % 3600 / 60,
        tod % 60,
        y
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_formats() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(4.1111), "4.1111");
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(1_795_242_809_337), "Sat Nov 21 06:33:29 UTC 2026");
    }
}
