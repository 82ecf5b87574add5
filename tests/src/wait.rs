//! Deadline-bounded polling. Tests never sleep for a fixed time; they poll a condition with a
//! short, growing interval until it holds or a deadline passes.

use std::time::{Duration, Instant};

/// A point in time after which polling gives up.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(Instant);

impl Deadline {
    pub fn after(d: Duration) -> Self {
        Deadline(Instant::now() + d)
    }
    pub fn expired(&self) -> bool {
        Instant::now() >= self.0
    }
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
    pub fn instant(&self) -> Instant {
        self.0
    }
}

/// Polls `f` until it returns `Some`, with an interval growing from 5 ms to 100 ms, for at most
/// `timeout`. Errors with a message naming `what` when the deadline passes.
pub fn wait_until<T>(
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = Deadline::after(timeout);
    let mut interval = Duration::from_millis(5);
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if deadline.expired() {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(interval.min(deadline.remaining()));
        interval = (interval * 2).min(Duration::from_millis(100));
    }
}
