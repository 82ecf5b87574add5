//! Sessions: ids and passwords generated as ZooKeeper generates them, and expiry in
//! tickTime-wide buckets (`SessionTrackerImpl`/`ExpiryQueue`). Time is passed in (ms on a
//! monotonic clock), so the tracker is deterministic in tests.

use std::collections::{BTreeMap, HashMap, HashSet};

/// `java.util.Random`, exactly, for password generation.
pub struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    const MULT: u64 = 0x5DEECE66D;
    const MASK: u64 = (1 << 48) - 1;

    pub fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed as u64 ^ Self::MULT) & Self::MASK,
        }
    }

    fn next32(&mut self) -> i32 {
        self.seed = (self.seed.wrapping_mul(Self::MULT).wrapping_add(0xB)) & Self::MASK;
        (self.seed >> 16) as i64 as i32
    }

    pub fn next_bytes(&mut self, out: &mut [u8]) {
        let mut i = 0;
        while i < out.len() {
            let mut rnd = self.next32();
            let n = (out.len() - i).min(4);
            for _ in 0..n {
                out[i] = rnd as u8;
                rnd >>= 8;
                i += 1;
            }
        }
    }
}

/// `ZooKeeperServer.generatePasswd`: 16 bytes from Random(sessionId ^ 0xB3415C00).
pub fn password(session_id: i64) -> [u8; 16] {
    let mut r = JavaRandom::new(session_id ^ 0xB3415C00);
    let mut out = [0u8; 16];
    r.next_bytes(&mut out);
    out
}

/// `SessionTrackerImpl.initializeNextSessionId`.
pub fn initial_session_id(now_ms: i64, server_id: u64) -> i64 {
    let mut next = (((now_ms << 24) as u64) >> 8) as i64;
    next |= ((server_id & 0xff) << 56) as i64;
    if next == i64::MIN {
        next += 1;
    }
    next
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub timeout: i32,
    /// The bucket (ms) at which it expires.
    pub expires_at: i64,
    pub closing: bool,
}

/// Tracks live sessions and hands out expired ones.
#[derive(Debug)]
pub struct SessionTracker {
    tick: i64,
    next_id: i64,
    sessions: HashMap<i64, Session>,
    buckets: BTreeMap<i64, HashSet<i64>>,
}

impl SessionTracker {
    pub fn new(tick_ms: u32, server_id: u64, wall_ms: i64) -> Self {
        SessionTracker {
            tick: tick_ms.max(1) as i64,
            next_id: initial_session_id(wall_ms, server_id),
            sessions: HashMap::new(),
            buckets: BTreeMap::new(),
        }
    }

    fn bucket(&self, now: i64, timeout: i32) -> i64 {
        ((now + timeout as i64) / self.tick + 1) * self.tick
    }

    /// A fresh id (not yet tracked).
    pub fn next_id(&mut self) -> i64 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            if id != i64::MIN && id != 0 && !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    /// Starts tracking a session (new, or loaded from disk).
    pub fn add(&mut self, id: i64, timeout: i32, now: i64) {
        if let Some(old) = self.sessions.get(&id) {
            let b = old.expires_at;
            if let Some(s) = self.buckets.get_mut(&b) {
                s.remove(&id);
            }
        }
        let expires_at = self.bucket(now, timeout);
        self.sessions.insert(
            id,
            Session {
                id,
                timeout,
                expires_at,
                closing: false,
            },
        );
        self.buckets.entry(expires_at).or_default().insert(id);
    }

    /// Moves a session's expiry forward; false if unknown or closing.
    pub fn touch(&mut self, id: i64, timeout: Option<i32>, now: i64) -> bool {
        let Some(s) = self.sessions.get(&id) else {
            return false;
        };
        if s.closing {
            return false;
        }
        let timeout = timeout.unwrap_or(s.timeout);
        let new = self.bucket(now, timeout);
        let old = s.expires_at;
        if new != old {
            if let Some(b) = self.buckets.get_mut(&old) {
                b.remove(&id);
                if b.is_empty() {
                    self.buckets.remove(&old);
                }
            }
            self.buckets.entry(new).or_default().insert(id);
        }
        if let Some(s) = self.sessions.get_mut(&id) {
            s.expires_at = new;
            s.timeout = timeout;
        }
        true
    }

    pub fn get(&self, id: i64) -> Option<&Session> {
        self.sessions.get(&id)
    }

    pub fn is_live(&self, id: i64) -> bool {
        self.sessions.get(&id).is_some_and(|s| !s.closing)
    }

    pub fn set_closing(&mut self, id: i64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.closing = true;
        }
    }

    pub fn remove(&mut self, id: i64) {
        if let Some(s) = self.sessions.remove(&id) {
            if let Some(b) = self.buckets.get_mut(&s.expires_at) {
                b.remove(&id);
                if b.is_empty() {
                    self.buckets.remove(&s.expires_at);
                }
            }
        }
    }

    /// Sessions whose bucket has passed; they are marked closing.
    pub fn expired(&mut self, now: i64) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some((&b, _)) = self.buckets.first_key_value() {
            if b > now {
                break;
            }
            if let Some(ids) = self.buckets.remove(&b) {
                for id in ids {
                    if let Some(s) = self.sessions.get_mut(&id) {
                        s.closing = true;
                        out.push(id);
                    }
                }
            }
        }
        out.sort();
        out
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_matches_jdk() {
        // new java.util.Random(42).nextInt() == -1170105035
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next32(), -1170105035);
    }

    #[test]
    fn password_is_deterministic() {
        assert_eq!(password(0x1234), password(0x1234));
        assert_ne!(password(0x1234), password(0x1235));
    }

    #[test]
    fn ids_carry_server_id() {
        let id = initial_session_id(1_700_000_000_000, 3);
        assert_eq!((id as u64) >> 56, 3);
        assert_eq!(id & 0xffff, 0);
    }

    #[test]
    fn expiry_buckets() {
        let mut t = SessionTracker::new(2000, 0, 0);
        t.add(1, 4000, 0);
        assert!(t.expired(5999).is_empty());
        assert_eq!(t.expired(6000), vec![1]);
        t.add(2, 4000, 0);
        assert!(t.touch(2, None, 5000));
        assert!(t.expired(6000).is_empty());
    }
}
