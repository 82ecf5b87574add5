//! The workloads: data set setup, synchronous create latency, and pipelined
//! write / read / mixed throughput over many sessions.
//!
//! Every workload has a warm-up period whose completions are not counted, then a
//! measured window `[measure_start, end)`: an operation counts (and its latency is
//! recorded) when its reply arrives inside the window. After `end` no new request is
//! sent and the outstanding ones are drained. Server and client CPU time are read from
//! /proc exactly at the window's edges by a helper thread.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use zk::jute::{CreateRequest, GetDataResponse, Jute, PathWatchRequest, SetDataRequest};
use zk::proto::{err, op};

use crate::client::{open_acl, Session};
use crate::process::cpu_time;
use crate::stats::Histogram;

const SESSION_TIMEOUT_MS: i32 = 30_000;
const ROOT: &str = "/bench";
const KV: &str = "/bench/kv";
const SYNC: &str = "/bench/sync";

/// Pre-encoded request bodies for the key set, so the hot loop only copies bytes.
pub struct Keys {
    set_data: Vec<Vec<u8>>,
    get_data: Vec<Vec<u8>>,
}

impl Keys {
    fn path(i: usize) -> String {
        format!("{KV}/k{i:07}")
    }

    pub fn new(count: usize, value: &[u8]) -> Keys {
        let set_data = (0..count)
            .map(|i| {
                SetDataRequest {
                    path: Self::path(i),
                    data: Some(value.to_vec()),
                    version: -1,
                }
                .to_bytes()
            })
            .collect();
        let get_data = (0..count)
            .map(|i| {
                PathWatchRequest {
                    path: Self::path(i),
                    watch: false,
                }
                .to_bytes()
            })
            .collect();
        Keys { set_data, get_data }
    }

    pub fn len(&self) -> usize {
        self.set_data.len()
    }
}

/// The value written by every write: `size` printable bytes.
pub fn make_value(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

/// What a throughput workload sends.
#[derive(Clone, Copy, Debug)]
pub enum Mix {
    /// setData only.
    Write,
    /// getData only.
    Read,
    /// getData with `write_pct`% setData.
    Mixed { write_pct: u32 },
}

/// Sessions, pipelining depth and timing of one run.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub sessions: usize,
    pub outstanding: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// Outcome of one workload against one server.
#[derive(Clone, Default)]
pub struct RunResult {
    /// Operations completed inside the measured window.
    pub ops: u64,
    /// Of those, replies with a non-zero error code.
    pub errors: u64,
    pub window: Duration,
    pub all: Histogram,
    pub reads: Histogram,
    pub writes: Histogram,
    pub server_cpu: Duration,
    pub client_cpu: Duration,
}

impl RunResult {
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.window.as_secs_f64().max(1e-9)
    }
    /// Average cores' worth of server CPU during the window.
    pub fn server_cores(&self) -> f64 {
        self.server_cpu.as_secs_f64() / self.window.as_secs_f64().max(1e-9)
    }
    pub fn client_cores(&self) -> f64 {
        self.client_cpu.as_secs_f64() / self.window.as_secs_f64().max(1e-9)
    }
    /// Server CPU microseconds per completed operation.
    pub fn server_us_per_op(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / (self.ops.max(1) as f64)
    }
}

/// Creates /bench, /bench/sync, /bench/kv and the `keys` nodes (pipelined, one session).
pub async fn setup(addr: SocketAddr, keys: usize, value: &[u8], outstanding: usize) -> Result<()> {
    let mut s = Session::connect(addr, SESSION_TIMEOUT_MS).await?;
    for p in [ROOT, SYNC, KV] {
        let h = s
            .call(op::CREATE, &create_req(p.to_string(), Vec::new()))
            .await?;
        ensure!(
            h.err == err::OK || h.err == err::NODE_EXISTS,
            "create {p}: error {}",
            h.err
        );
    }
    let mut inflight = VecDeque::new();
    let mut next = 0;
    while next < keys || !inflight.is_empty() {
        while next < keys && inflight.len() < outstanding.max(1) {
            let x = s.send(op::CREATE, &create_req(Keys::path(next), value.to_vec()));
            inflight.push_back((x, next));
            next += 1;
        }
        let h = s.next_reply().await?;
        let (x, i) = inflight.pop_front().expect("a request is outstanding");
        ensure!(h.xid == x, "reply xid {} for request {x}", h.xid);
        ensure!(
            h.err == err::OK || h.err == err::NODE_EXISTS,
            "create {}: error {}",
            Keys::path(i),
            h.err
        );
    }
    // Sanity check: the last key reads back with the value.
    let last = Keys::path(keys.saturating_sub(1));
    let h = s
        .call(
            op::GET_DATA,
            &PathWatchRequest {
                path: last.clone(),
                watch: false,
            },
        )
        .await?;
    ensure!(h.err == err::OK, "getData {last}: error {}", h.err);
    let got = GetDataResponse::decode(s.body()).context("decoding GetDataResponse")?;
    ensure!(
        got.data.as_deref() == Some(value),
        "getData {last} returned {} bytes, expected the value",
        got.data.map_or(0, |d| d.len())
    );
    s.close().await
}

fn create_req(path: String, data: Vec<u8>) -> CreateRequest {
    CreateRequest {
        path,
        data: Some(data),
        acl: open_acl(),
        flags: 0,
    }
}

/// Reads server and client CPU time at `at` on a plain thread (never delayed by a busy
/// runtime). Join the handle after `at`.
fn cpu_probe(server_pid: u32, at: Instant) -> std::thread::JoinHandle<(Duration, Duration)> {
    std::thread::spawn(move || {
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        let server = cpu_time(&server_pid.to_string()).unwrap_or_default();
        let client = cpu_time("self").unwrap_or_default();
        (server, client)
    })
}

fn join_probe(h: std::thread::JoinHandle<(Duration, Duration)>) -> (Duration, Duration) {
    h.join().unwrap_or_default()
}

/// Workload 1: one session, one outstanding create at a time (each waits for its fsync).
pub async fn sync_create(
    addr: SocketAddr,
    server_pid: u32,
    value: &[u8],
    warmup: Duration,
    duration: Duration,
) -> Result<RunResult> {
    let mut s = Session::connect(addr, SESSION_TIMEOUT_MS).await?;
    let measure_start = Instant::now() + warmup;
    let end = measure_start + duration;
    let p0 = cpu_probe(server_pid, measure_start);
    let p1 = cpu_probe(server_pid, end);
    let mut r = RunResult {
        window: duration,
        ..Default::default()
    };
    let mut seq: u64 = 0;
    loop {
        let t0 = Instant::now();
        if t0 >= end {
            break;
        }
        let h = s
            .call(
                op::CREATE,
                &create_req(format!("{SYNC}/c{seq:010}"), value.to_vec()),
            )
            .await?;
        seq += 1;
        let t1 = Instant::now();
        if t1 >= measure_start && t1 < end {
            r.ops += 1;
            if h.err != err::OK {
                r.errors += 1;
            }
            r.all.record(t1 - t0);
            r.writes.record(t1 - t0);
        }
    }
    s.close().await?;
    let (s0, c0) = join_probe(p0);
    let (s1, c1) = join_probe(p1);
    r.server_cpu = s1.saturating_sub(s0);
    r.client_cpu = c1.saturating_sub(c0);
    Ok(r)
}

/// Workloads 2-4: `shape.sessions` sessions, each keeping `shape.outstanding` requests in
/// flight, on uniformly random keys.
pub async fn throughput(
    addr: SocketAddr,
    server_pid: u32,
    keys: Arc<Keys>,
    mix: Mix,
    shape: Shape,
) -> Result<RunResult> {
    throughput_spread(&[addr], server_pid, keys, mix, shape).await
}

/// [`throughput`] with session `i` connected to `addrs[i % addrs.len()]` (an ensemble's
/// members); `server_pid` is the process whose CPU is reported.
pub async fn throughput_spread(
    addrs: &[SocketAddr],
    server_pid: u32,
    keys: Arc<Keys>,
    mix: Mix,
    shape: Shape,
) -> Result<RunResult> {
    anyhow::ensure!(!addrs.is_empty(), "no server address");
    let mut sessions = Vec::with_capacity(shape.sessions);
    for i in 0..shape.sessions {
        let addr = addrs[i % addrs.len()];
        sessions.push(
            Session::connect(addr, SESSION_TIMEOUT_MS)
                .await
                .context("connecting a load session")?,
        );
    }
    let start = Instant::now() + Duration::from_millis(20);
    let measure_start = start + shape.warmup;
    let end = measure_start + shape.duration;
    let p0 = cpu_probe(server_pid, measure_start);
    let p1 = cpu_probe(server_pid, end);
    let mut tasks = Vec::new();
    for (i, s) in sessions.into_iter().enumerate() {
        let keys = keys.clone();
        let seed = 0x9E37_79B9_7F4A_7C15u64 ^ ((i as u64 + 1) * 0xD1B5_4A32_D192_ED03);
        let window = Window {
            start,
            measure_start,
            end,
        };
        tasks.push(tokio::spawn(run_session(
            s,
            keys,
            mix,
            shape.outstanding,
            window,
            seed,
        )));
    }
    let mut r = RunResult {
        window: shape.duration,
        ..Default::default()
    };
    let mut closing = Vec::new();
    for t in tasks {
        let (s, part) = t.await.context("load task panicked")??;
        r.ops += part.ops;
        r.errors += part.errors;
        r.all.merge(&part.all);
        r.reads.merge(&part.reads);
        r.writes.merge(&part.writes);
        closing.push(s);
    }
    for s in closing {
        s.close().await?;
    }
    let (s0, c0) = join_probe(p0);
    let (s1, c1) = join_probe(p1);
    r.server_cpu = s1.saturating_sub(s0);
    r.client_cpu = c1.saturating_sub(c0);
    Ok(r)
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    measure_start: Instant,
    end: Instant,
}

/// xorshift64*: fast, good enough to spread keys.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

async fn run_session(
    mut s: Session,
    keys: Arc<Keys>,
    mix: Mix,
    outstanding: usize,
    w: Window,
    seed: u64,
) -> Result<(Session, RunResult)> {
    let mut r = RunResult::default();
    let mut rng = Rng(seed | 1);
    // (xid, sent at, is_write)
    let mut inflight: VecDeque<(i32, Instant, bool)> = VecDeque::with_capacity(outstanding);
    let n = keys.len() as u64;
    tokio::time::sleep_until(w.start.into()).await;
    let mut now = Instant::now();
    loop {
        while now < w.end && inflight.len() < outstanding.max(1) {
            let x = rng.next();
            let key = (x % n) as usize;
            let write = match mix {
                Mix::Write => true,
                Mix::Read => false,
                Mix::Mixed { write_pct } => ((x >> 40) % 100) < write_pct as u64,
            };
            let xid = if write {
                s.send_raw(op::SET_DATA, &keys.set_data[key])
            } else {
                s.send_raw(op::GET_DATA, &keys.get_data[key])
            };
            inflight.push_back((xid, now, write));
        }
        if inflight.is_empty() {
            break;
        }
        let h = s.next_reply().await?;
        now = Instant::now();
        let Some((xid, sent, write)) = inflight.pop_front() else {
            bail!("reply with nothing outstanding")
        };
        ensure!(
            h.xid == xid,
            "reply xid {} does not match request xid {xid} (replies out of order?)",
            h.xid
        );
        if now >= w.measure_start && now < w.end {
            let lat = now - sent;
            r.ops += 1;
            if h.err != err::OK {
                r.errors += 1;
            }
            r.all.record(lat);
            if write {
                r.writes.record(lat);
            } else {
                r.reads.record(lat);
            }
        }
    }
    Ok((s, r))
}
