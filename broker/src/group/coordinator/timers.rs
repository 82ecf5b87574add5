//! The coordinator's deadlines (Kafka's heartbeat and rebalance purgatories) as one ordered
//! queue. Each owner keeps the `TimerToken` of its one live deadline and cancels it when
//! rescheduling, so the queue holds no stale entries; a fired entry is still checked
//! against its owner's current token before it acts.

use std::collections::BTreeMap;

/// Identifies one scheduled deadline; ordered by deadline, then scheduling order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct TimerToken {
    pub deadline: i64,
    seq: u64,
}

/// What a deadline is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TimerKind {
    /// A member's session (or new-member join) timeout.
    Heartbeat { group: String, member: String },
    /// A member id handed out with MEMBER_ID_REQUIRED that was never used.
    PendingMember { group: String, member: String },
    /// The join phase of a rebalance (DelayedJoin / InitialDelayedJoin).
    Join { group: String },
    /// Members that got their JoinGroup response must send SyncGroup by then.
    Sync { group: String },
    /// Periodic removal of expired offsets.
    Cleanup,
}

#[derive(Debug, Default)]
pub(super) struct Timers {
    queue: BTreeMap<TimerToken, TimerKind>,
    next_seq: u64,
}

impl Timers {
    pub fn schedule(&mut self, deadline: i64, kind: TimerKind) -> TimerToken {
        let token = TimerToken {
            deadline,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.queue.insert(token, kind);
        token
    }

    pub fn cancel(&mut self, token: Option<TimerToken>) {
        if let Some(t) = token {
            self.queue.remove(&t);
        }
    }

    pub fn next_deadline(&self) -> Option<i64> {
        self.queue.keys().next().map(|t| t.deadline)
    }

    /// The entries due at `now`, in order. A snapshot: deadlines scheduled while these
    /// fire wait for the next call, so a zero timeout cannot spin.
    pub fn due(&self, now: i64) -> Vec<(TimerToken, TimerKind)> {
        self.queue
            .iter()
            .take_while(|(t, _)| t.deadline <= now)
            .map(|(t, k)| (*t, k.clone()))
            .collect()
    }

    /// Removes an entry; false if it was cancelled meanwhile.
    pub fn take(&mut self, token: TimerToken) -> bool {
        self.queue.remove(&token).is_some()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_by_deadline_and_cancellable() {
        let mut t = Timers::default();
        let a = t.schedule(20, TimerKind::Cleanup);
        let b = t.schedule(10, TimerKind::Join { group: "g".into() });
        let c = t.schedule(10, TimerKind::Sync { group: "g".into() });
        assert_eq!(t.next_deadline(), Some(10));
        t.cancel(Some(b));
        let due = t.due(15);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, c);
        assert!(t.take(c));
        assert!(!t.take(c));
        assert_eq!(t.next_deadline(), Some(20));
        assert!(t.take(a));
        assert_eq!(t.next_deadline(), None);
    }
}
