//! ZooKeeper ensembles as separate processes on loopback: each member is a [`TestServer`]
//! with its own data directory, `myid` and the same `server.N` lines. Works for zkraft and
//! for Apache ZooKeeper 3.8 alike.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::server::{free_port, ServerKind, ServerOptions, TestServer};
use crate::wait::wait_until;

/// One member's ports.
#[derive(Debug, Clone, Copy)]
pub struct MemberPorts {
    pub id: u64,
    pub client: u16,
    pub quorum: u16,
    pub election: u16,
    /// `:observer` (a non-voting member).
    pub observer: bool,
}

/// The `server.N=` lines for these members.
pub fn server_lines(members: &[MemberPorts]) -> Vec<String> {
    members
        .iter()
        .map(|m| {
            format!(
                "server.{}=127.0.0.1:{}:{}{}",
                m.id,
                m.quorum,
                m.election,
                if m.observer { ":observer" } else { "" }
            )
        })
        .collect()
}

/// A port below Linux's ephemeral range (32768+), free right now and never handed out before
/// in this process. Quorum ports are bound only by the member that leads, possibly long
/// after they were picked; a port from the ephemeral range could meanwhile become the
/// source port of some outgoing connection.
fn quiet_port() -> Result<u16> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;
    static USED: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    static SEQ: AtomicU64 = AtomicU64::new(0);
    for _ in 0..1000 {
        // A cheap spread over 20000..32000, different per process and per call.
        let x = (std::process::id() as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(
                SEQ.fetch_add(1, Ordering::Relaxed)
                    .wrapping_mul(0xD1B5_4A32_D192_ED03),
            );
        let port = 20_000 + ((x >> 33) % 12_000) as u16;
        let mut used = USED.lock().unwrap_or_else(|p| p.into_inner());
        if used.contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            used.push(port);
            return Ok(port);
        }
    }
    free_port()
}

/// Fresh loopback ports for members `1..=n`.
pub fn pick_ports(n: usize) -> Result<Vec<MemberPorts>> {
    (1..=n as u64)
        .map(|id| {
            Ok(MemberPorts {
                id,
                client: quiet_port()?,
                quorum: quiet_port()?,
                election: quiet_port()?,
                observer: false,
            })
        })
        .collect()
}

/// A running ensemble. Members are indexed from 0 (member `i` has myid `i + 1`).
pub struct Ensemble {
    pub kind: ServerKind,
    pub ports: Vec<MemberPorts>,
    pub nodes: Vec<TestServer>,
    base: ServerOptions,
}

/// What `srvr` says about a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Leader,
    Follower,
    Observer,
    Standalone,
    /// Not serving (LOOKING or syncing), or not answering.
    Down,
}

impl Ensemble {
    /// Options for member `ports[i]` of this configuration.
    pub fn member_options(base: &ServerOptions, ports: &[MemberPorts], i: usize) -> ServerOptions {
        let mut o = base.clone();
        o.client_port = Some(ports[i].client);
        o.myid = Some(ports[i].id);
        o.wait_serving = false;
        if !o.extra_cfg.iter().any(|l| l.starts_with("initLimit")) {
            o.extra_cfg.push("initLimit=10".into());
            o.extra_cfg.push("syncLimit=5".into());
        }
        o.extra_cfg.extend(server_lines(ports));
        o
    }

    /// Starts `n` members of `kind` and waits until they serve with one leader.
    pub fn start(kind: ServerKind, n: usize, base: ServerOptions) -> Result<Ensemble> {
        let ports = pick_ports(n)?;
        Self::start_with(kind, base, ports, vec![None; n])
    }

    /// Starts members on `ports`, member `i` on the existing data directory `dirs[i]` if
    /// given (a fresh one otherwise), and waits until they serve with one leader.
    pub fn start_with(
        kind: ServerKind,
        base: ServerOptions,
        ports: Vec<MemberPorts>,
        dirs: Vec<Option<std::path::PathBuf>>,
    ) -> Result<Ensemble> {
        let kinds = vec![kind; ports.len()];
        Self::start_mixed(&kinds, base, ports, dirs)
    }

    /// [`start_with`](Self::start_with), member `i` running `kinds[i]` (zkraft and Apache
    /// members in one ensemble).
    pub fn start_mixed(
        kinds: &[ServerKind],
        base: ServerOptions,
        ports: Vec<MemberPorts>,
        dirs: Vec<Option<std::path::PathBuf>>,
    ) -> Result<Ensemble> {
        let kind = kinds.first().copied().unwrap_or(ServerKind::Zkraft);
        let mut nodes = Vec::new();
        for i in 0..ports.len() {
            let mut o = Self::member_options(&base, &ports, i);
            if let Some(Some(d)) = dirs.get(i) {
                o.data_dir = Some(d.clone());
            }
            let k = kinds.get(i).copied().unwrap_or(kind);
            nodes.push(TestServer::start(k, o).with_context(|| format!("member {}", i + 1))?);
        }
        let e = Ensemble {
            kind,
            ports,
            nodes,
            base,
        };
        e.wait_serving(Duration::from_secs(60))?;
        Ok(e)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The options member `i` runs with.
    pub fn options(&self, i: usize) -> ServerOptions {
        Self::member_options(&self.base, &self.ports, i)
    }

    /// Every member's client address, comma-separated.
    pub fn connect_string(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("127.0.0.1:{}", p.client))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn mode(&self, i: usize) -> Mode {
        let Ok(out) = self.nodes[i].four_letter_word("srvr") else {
            return Mode::Down;
        };
        let m = out
            .lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .unwrap_or("")
            .trim();
        match m {
            "leader" => Mode::Leader,
            "follower" => Mode::Follower,
            "observer" => Mode::Observer,
            "standalone" => Mode::Standalone,
            _ => Mode::Down,
        }
    }

    /// The serving leader, if exactly one member says so.
    pub fn leader(&self) -> Option<usize> {
        let leaders: Vec<usize> = (0..self.len())
            .filter(|&i| self.mode(i) == Mode::Leader)
            .collect();
        match leaders.as_slice() {
            [l] => Some(*l),
            _ => None,
        }
    }

    /// Waits until every running member serves and exactly one leads; returns the leader.
    pub fn wait_serving(&self, timeout: Duration) -> Result<usize> {
        let running: Vec<usize> = (0..self.len())
            .filter(|&i| self.nodes[i].pid().is_some())
            .collect();
        wait_until(timeout, "the ensemble to serve with one leader", || {
            let modes: Vec<Mode> = running.iter().map(|&i| self.mode(i)).collect();
            let leaders = modes.iter().filter(|m| **m == Mode::Leader).count();
            if leaders == 1 && modes.iter().all(|m| *m != Mode::Down) {
                running
                    .iter()
                    .zip(&modes)
                    .find(|(_, m)| **m == Mode::Leader)
                    .map(|(i, _)| *i)
            } else {
                None
            }
        })
        .map_err(|e| anyhow!("{e}; modes: {:?}\n{}", self.modes(), self.log_tails(15)))
    }

    pub fn modes(&self) -> Vec<Mode> {
        (0..self.len()).map(|i| self.mode(i)).collect()
    }

    /// The last lines of every member's log.
    pub fn log_tails(&self, n: usize) -> String {
        let mut s = String::new();
        for (i, node) in self.nodes.iter().enumerate() {
            s.push_str(&format!(
                "---- member {} ----\n{}\n",
                i + 1,
                node.log_tail(n)
            ));
        }
        s
    }

    pub fn kill9(&mut self, i: usize) -> Result<()> {
        self.nodes[i].kill9()
    }

    pub fn start_again(&mut self, i: usize) -> Result<()> {
        self.nodes[i].start_again()
    }

    /// Kills the leader and measures how long until a write through the remaining members
    /// succeeds, calling `write` (which returns true on success) until it does.
    pub fn kill_leader_and_time(
        &mut self,
        timeout: Duration,
        mut write: impl FnMut() -> bool,
    ) -> Result<(usize, Duration)> {
        let l = self
            .leader()
            .ok_or_else(|| anyhow!("no single leader: {:?}", self.modes()))?;
        self.kill9(l)?;
        let t0 = Instant::now();
        loop {
            if write() {
                return Ok((l, t0.elapsed()));
            }
            if t0.elapsed() > timeout {
                bail!(
                    "no write succeeded within {timeout:?} of killing leader {}\n{}",
                    l + 1,
                    self.log_tails(20)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A client that talks to one member at a time and moves on to the next when a request
/// fails (each connection is a new session), as the workloads of the ensemble tests do.
pub struct RotatingClient {
    addrs: Vec<std::net::SocketAddr>,
    member: usize,
    client: Option<crate::rawclient::RawClient>,
    request_timeout: Duration,
}

impl RotatingClient {
    /// Starts on member `first % addrs.len()`.
    pub fn new(addrs: Vec<std::net::SocketAddr>, first: usize, request_timeout: Duration) -> Self {
        let member = first % addrs.len().max(1);
        RotatingClient {
            addrs,
            member,
            client: None,
            request_timeout,
        }
    }

    /// The current connection, connecting first if needed; `None` (after moving on to the
    /// next member and a short pause) when the member does not take a session.
    pub fn get(&mut self) -> Option<&mut crate::rawclient::RawClient> {
        if self.client.is_none() {
            match crate::rawclient::RawClient::connect(self.addrs[self.member], 10_000) {
                Ok(mut c) => {
                    c.request_timeout = self.request_timeout;
                    self.client = Some(c);
                }
                Err(_) => {
                    self.failed();
                    std::thread::sleep(Duration::from_millis(20));
                    return None;
                }
            }
        }
        self.client.as_mut()
    }

    /// The last request got no answer: drop the connection and use the next member.
    pub fn failed(&mut self) {
        self.client = None;
        self.member = (self.member + 1) % self.addrs.len().max(1);
    }
}
