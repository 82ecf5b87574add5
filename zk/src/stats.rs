//! Counters behind srvr, stat, cons and mntr. Shared between the core, the commit thread
//! and the connection tasks, so they are atomics.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug)]
pub struct ServerStats {
    pub received: AtomicU64,
    pub sent: AtomicU64,
    pub auth_failed: AtomicU64,
    lat_min: AtomicU64,
    lat_max: AtomicU64,
    lat_sum: AtomicU64,
    lat_count: AtomicU64,
    pub fsyncs: AtomicU64,
    pub fsync_micros: AtomicU64,
    pub last_client_response_size: AtomicI64,
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats {
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            auth_failed: AtomicU64::new(0),
            lat_min: AtomicU64::new(u64::MAX),
            lat_max: AtomicU64::new(0),
            lat_sum: AtomicU64::new(0),
            lat_count: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            fsync_micros: AtomicU64::new(0),
            last_client_response_size: AtomicI64::new(-1),
        }
    }
}

impl ServerStats {
    pub fn record_latency(&self, d: Duration) {
        let ms = d.as_millis() as u64;
        self.lat_min.fetch_min(ms, Ordering::Relaxed);
        self.lat_max.fetch_max(ms, Ordering::Relaxed);
        self.lat_sum.fetch_add(ms, Ordering::Relaxed);
        self.lat_count.fetch_add(1, Ordering::Relaxed);
    }

    /// (min, avg, max) in ms, as ZooKeeper prints them (0 when nothing measured).
    pub fn latency(&self) -> (u64, f64, u64) {
        let n = self.lat_count.load(Ordering::Relaxed);
        if n == 0 {
            return (0, 0.0, 0);
        }
        let min = self.lat_min.load(Ordering::Relaxed);
        // ZooKeeper rounds the average half-up to 4 decimal places.
        let avg = self.lat_sum.load(Ordering::Relaxed) as f64 / n as f64;
        (
            min,
            (avg * 10000.0).round() / 10000.0,
            self.lat_max.load(Ordering::Relaxed),
        )
    }

    /// srst.
    pub fn reset(&self) {
        self.received.store(0, Ordering::Relaxed);
        self.sent.store(0, Ordering::Relaxed);
        self.lat_min.store(u64::MAX, Ordering::Relaxed);
        self.lat_max.store(0, Ordering::Relaxed);
        self.lat_sum.store(0, Ordering::Relaxed);
        self.lat_count.store(0, Ordering::Relaxed);
    }
}

/// Per-connection numbers for `cons`.
#[derive(Debug)]
pub struct ConnStats {
    pub recved: AtomicU64,
    pub sent: AtomicU64,
    pub outstanding: AtomicI64,
    pub established_ms: i64,
    inner: Mutex<ConnInner>,
}

#[derive(Debug, Default, Clone)]
pub struct ConnInner {
    pub session: i64,
    pub timeout: i32,
    pub last_cxid: i32,
    pub last_zxid: i64,
    pub last_response_ms: i64,
    pub last_latency: u64,
    pub min_lat: u64,
    pub max_lat: u64,
    pub sum_lat: u64,
    pub count: u64,
    pub last_request: Option<Instant>,
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Default for ConnStats {
    fn default() -> Self {
        ConnStats {
            recved: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            outstanding: AtomicI64::new(0),
            established_ms: wall_ms(),
            inner: Mutex::new(ConnInner {
                min_lat: u64::MAX,
                ..Default::default()
            }),
        }
    }
}

impl ConnStats {
    pub fn on_request(&self) {
        self.recved.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut g) = self.inner.lock() {
            g.last_request = Some(Instant::now());
        }
    }

    pub fn on_reply(&self, xid: i32, zxid: i64, _err: i32) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut g) = self.inner.lock() {
            if xid > 0 {
                g.last_cxid = xid;
            }
            g.last_zxid = zxid;
            g.last_response_ms = wall_ms();
            if let Some(t) = g.last_request {
                let l = t.elapsed().as_millis() as u64;
                g.last_latency = l;
                g.min_lat = g.min_lat.min(l);
                g.max_lat = g.max_lat.max(l);
                g.sum_lat += l;
                g.count += 1;
            }
        }
    }

    pub fn set_session(&self, sid: i64, timeout: i32) {
        if let Ok(mut g) = self.inner.lock() {
            g.session = sid;
            g.timeout = timeout;
        }
    }

    pub fn snapshot(&self) -> ConnInner {
        self.inner.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// crst.
    pub fn reset(&self) {
        self.recved.store(0, Ordering::Relaxed);
        self.sent.store(0, Ordering::Relaxed);
        if let Ok(mut g) = self.inner.lock() {
            g.min_lat = u64::MAX;
            g.max_lat = 0;
            g.sum_lat = 0;
            g.count = 0;
            g.last_latency = 0;
        }
    }
}
