//! The group coordinator (Kafka 2.8's `GroupCoordinator` + `GroupMetadataManager`) as a
//! state machine: no sockets, no clocks, no log. The caller owns all three.
//!
//! # Driving it
//!
//! * Every mutating call takes `now_ms` and returns `Vec<Outcome>`:
//!   - `Respond`: send a response to the request handle (`RequestId`) the caller chose when
//!     it handed the request in. JoinGroup and SyncGroup answers are often released by a
//!     later call (another member's request, `tick`, `commit_appended`); everything else is
//!     answered within the call that received it, or once its append completes.
//!   - `Append`: append records to `__consumer_offsets`. When `awaits_completion`, report
//!     the result with `commit_appended(id, error, now)`: offsets become visible, and the
//!     OffsetCommit / SyncGroup responses are released, only then (Kafka answers after the
//!     append is replicated).
//!   - `WakeAt(t)`: call `tick(t)` around then; session timeouts, the join phase, the
//!     initial rebalance delay, the sync deadline and offset expiry all run from timers.
//!     Due timers also run at the start and end of every call.
//!   - `Abandon`: a pending request Kafka would never answer.
//! * Read-only queries (`fetch_offsets`, `list_groups`, `describe_group`) answer directly.
//! * Ownership: `begin_load(p)` (requests answer COORDINATOR_LOAD_IN_PROGRESS), then
//!   `load(p, records, now)` with the partition's records in log order, and `unload(p)`
//!   on losing leadership. Groups of partitions not loaded answer NOT_COORDINATOR.
//!
//! # Types
//!
//! Requests and responses are this module's plain structs (`api`), not kafka-protocol's:
//! one struct serves every API version, and JoinGroup needs the header's client id and the
//! peer address, which kafka-protocol's request body does not carry. The caller maps
//! results onto the response version it was asked for (e.g. `protocol_name` None → "" before
//! JoinGroup v7; `LeaveGroupResult::legacy_error` for LeaveGroup v0–v2). Error codes are
//! kafka-protocol's `ResponseError`; `None` means no error.
//!
//! # Not modelled
//!
//! Transactional offset commits (TxnOffsetCommit and its pending/commit markers),
//! OffsetDelete, removing offsets of deleted topics, and `require_stable` beyond reporting
//! offsets with a commit in flight as UNSTABLE_OFFSET_COMMIT.

mod api;
mod group;
mod membership;
mod offsets;
mod timers;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use api::*;

use self::group::{Group, OffsetAndMetadata};
use self::timers::{TimerKind, TimerToken, Timers};
use super::config::GroupConfig;
use super::partition::partition_for;

/// Whether this broker coordinates a `__consumer_offsets` partition's groups yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartitionStatus {
    Loading,
    Owned,
}

/// Which API a group id arrives with: some accept the empty id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Join,
    Sync,
    Heartbeat,
    Leave,
    Commit,
    Fetch,
    Describe,
    Delete,
}

/// What to do when an append the coordinator asked for completes.
#[derive(Debug)]
enum PendingAppend {
    OffsetCommit {
        group: String,
        incarnation: u64,
        request: RequestId,
        /// The offsets appended, to cache on success.
        appended: Vec<(TopicPartition, OffsetAndMetadata)>,
        /// Every requested partition in response order; true if refused as too large.
        statuses: Vec<(TopicPartition, bool)>,
    },
    Group {
        group: String,
        incarnation: u64,
        action: GroupAppend,
    },
}

/// Follow-ups of a group metadata append.
#[derive(Debug)]
enum GroupAppend {
    /// The leader's SyncGroup: on success the generation's assignment goes out.
    Assignment {
        generation: i32,
        assignment: Vec<(String, Bytes)>,
    },
    /// A static member rejoined a Stable group under a new member id.
    StaticRejoin {
        request: RequestId,
        new_member_id: String,
        old_member_id: String,
        old_protocols: Vec<Protocol>,
        /// The leader before the rejoin, returned so the member does not reassign.
        previous_leader: String,
    },
}

/// Everything the per-group logic touches besides the group itself.
struct Ctx {
    config: GroupConfig,
    now: i64,
    out: Vec<Outcome>,
    timers: Timers,
    appends: HashMap<AppendId, PendingAppend>,
    next_append: u64,
    next_incarnation: u64,
    rng: StdRng,
    reported_wake: Option<i64>,
}

/// The group coordinator for the `__consumer_offsets` partitions this broker leads.
pub struct GroupCoordinator {
    groups: HashMap<String, Group>,
    partitions: BTreeMap<i32, PartitionStatus>,
    cleanup_timer: Option<TimerToken>,
    ctx: Ctx,
}

impl GroupCoordinator {
    /// A coordinator owning no partitions; member ids are random.
    pub fn new(config: GroupConfig) -> Self {
        Self::with_rng(config, StdRng::from_entropy())
    }

    /// As `new`, with member ids drawn from a seeded generator (reproducible tests).
    pub fn with_seed(config: GroupConfig, seed: u64) -> Self {
        Self::with_rng(config, StdRng::seed_from_u64(seed))
    }

    fn with_rng(config: GroupConfig, rng: StdRng) -> Self {
        GroupCoordinator {
            groups: HashMap::new(),
            partitions: BTreeMap::new(),
            cleanup_timer: None,
            ctx: Ctx {
                config,
                now: 0,
                out: Vec::new(),
                timers: Timers::default(),
                appends: HashMap::new(),
                next_append: 0,
                next_incarnation: 0,
                rng,
                reported_wake: None,
            },
        }
    }

    pub fn config(&self) -> &GroupConfig {
        &self.ctx.config
    }

    /// The `__consumer_offsets` partition that owns `group_id`.
    pub fn partition_for(&self, group_id: &str) -> i32 {
        self.ctx.partition_of(group_id)
    }

    /// Whether this coordinator has loaded the partition owning `group_id`.
    pub fn is_coordinator_for(&self, group_id: &str) -> bool {
        self.partitions.get(&self.partition_for(group_id)) == Some(&PartitionStatus::Owned)
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&self) -> Option<i64> {
        self.ctx.timers.next_deadline()
    }

    /// Runs the timers due at `now_ms`.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Outcome> {
        self.begin(now_ms);
        self.finish()
    }

    pub fn handle_join_group(
        &mut self,
        request: RequestId,
        req: JoinGroup,
        now_ms: i64,
    ) -> Vec<Outcome> {
        self.begin(now_ms);
        self.join_group(request, req);
        self.finish()
    }

    pub fn handle_sync_group(
        &mut self,
        request: RequestId,
        req: SyncGroup,
        now_ms: i64,
    ) -> Vec<Outcome> {
        self.begin(now_ms);
        self.sync_group(request, req);
        self.finish()
    }

    pub fn handle_heartbeat(
        &mut self,
        request: RequestId,
        req: Heartbeat,
        now_ms: i64,
    ) -> Vec<Outcome> {
        self.begin(now_ms);
        let error = self.heartbeat(req);
        self.ctx.respond(request, Response::Heartbeat(error));
        self.finish()
    }

    pub fn handle_leave_group(
        &mut self,
        request: RequestId,
        req: LeaveGroup,
        now_ms: i64,
    ) -> Vec<Outcome> {
        self.begin(now_ms);
        let result = self.leave_group(req);
        self.ctx.respond(request, Response::LeaveGroup(result));
        self.finish()
    }

    pub fn handle_offset_commit(
        &mut self,
        request: RequestId,
        req: OffsetCommit,
        now_ms: i64,
    ) -> Vec<Outcome> {
        self.begin(now_ms);
        self.offset_commit(request, req);
        self.finish()
    }

    pub fn handle_delete_groups(
        &mut self,
        request: RequestId,
        group_ids: Vec<String>,
        now_ms: i64,
    ) -> Vec<Outcome> {
        self.begin(now_ms);
        let result = self.delete_groups(group_ids);
        self.ctx.respond(request, Response::DeleteGroups(result));
        self.finish()
    }

    /// Reports the result of an `Outcome::Append`: `None` when it was appended (with
    /// acks=all), else the append's error, which is mapped as Kafka maps it.
    pub fn commit_appended(
        &mut self,
        append: AppendId,
        error: Option<ResponseError>,
        now_ms: i64,
    ) -> Vec<Outcome> {
        self.begin(now_ms);
        self.append_done(append, error);
        self.finish()
    }

    /// Marks a partition as being loaded: its groups answer COORDINATOR_LOAD_IN_PROGRESS
    /// until `load`.
    pub fn begin_load(&mut self, partition: i32) {
        self.partitions
            .entry(partition)
            .or_insert(PartitionStatus::Loading);
    }

    /// Rebuilds the groups and offsets of `partition` from its records (key, value; in log
    /// order, without control or aborted transactional batches), then coordinates them.
    /// A partition already loaded is left alone, as Kafka does.
    pub fn load<I>(
        &mut self,
        partition: i32,
        records: I,
        now_ms: i64,
    ) -> (LoadSummary, Vec<Outcome>)
    where
        I: IntoIterator<Item = (Option<Bytes>, Option<Bytes>)>,
    {
        self.begin(now_ms);
        let summary = self.load_partition(partition, records);
        (summary, self.finish())
    }

    /// Stops coordinating `partition`: its groups are dropped, and requests waiting in
    /// JoinGroup or SyncGroup are answered NOT_COORDINATOR.
    pub fn unload(&mut self, partition: i32, now_ms: i64) -> Vec<Outcome> {
        self.begin(now_ms);
        self.partitions.remove(&partition);
        let ids: Vec<String> = self
            .groups
            .keys()
            .filter(|id| self.ctx.partition_of(id) == partition)
            .cloned()
            .collect();
        for id in ids {
            if let Some(g) = self.groups.remove(&id) {
                self.ctx
                    .discard_group(g, Some(ResponseError::NotCoordinator));
            }
        }
        if self.partitions.is_empty() {
            self.ctx.timers.cancel(self.cleanup_timer.take());
        }
        self.finish()
    }

    fn begin(&mut self, now_ms: i64) {
        self.ctx.now = now_ms;
        self.run_due_timers();
    }

    fn finish(&mut self) -> Vec<Outcome> {
        self.run_due_timers();
        let next = self.ctx.timers.next_deadline();
        if next != self.ctx.reported_wake {
            if let Some(at) = next {
                self.ctx.out.push(Outcome::WakeAt(at));
            }
            self.ctx.reported_wake = next;
        }
        std::mem::take(&mut self.ctx.out)
    }

    fn run_due_timers(&mut self) {
        for (token, kind) in self.ctx.timers.due(self.ctx.now) {
            if !self.ctx.timers.take(token) {
                continue;
            }
            match kind {
                TimerKind::Heartbeat { group, member } => {
                    if let Some((g, ctx)) = self.parts(&group) {
                        ctx.on_heartbeat_expired(g, &member, token);
                    }
                }
                TimerKind::PendingMember { group, member } => {
                    if let Some((g, ctx)) = self.parts(&group) {
                        ctx.on_pending_member_expired(g, &member, token);
                    }
                }
                TimerKind::Join { group } => {
                    if let Some((g, ctx)) = self.parts(&group) {
                        ctx.on_join_timer(g, token);
                    }
                }
                TimerKind::Sync { group } => {
                    if let Some((g, ctx)) = self.parts(&group) {
                        ctx.on_sync_expired(g, token);
                    }
                }
                TimerKind::Cleanup => {
                    if self.cleanup_timer == Some(token) {
                        self.cleanup_timer = None;
                        self.expire_offsets();
                    }
                }
            }
        }
    }

    /// A group and the context, borrowed together.
    fn parts(&mut self, group_id: &str) -> Option<(&mut Group, &mut Ctx)> {
        let ctx = &mut self.ctx;
        self.groups.get_mut(group_id).map(move |g| (g, ctx))
    }

    /// Adds an Empty group (Kafka's getOrMaybeCreateGroup / addGroup).
    fn create_group(&mut self, group_id: &str) {
        if !self.groups.contains_key(group_id) {
            let incarnation = self.ctx.next_incarnation;
            self.ctx.next_incarnation += 1;
            self.groups.insert(
                group_id.to_string(),
                Group::new(group_id.to_string(), incarnation, self.ctx.now),
            );
        }
    }

    /// Kafka's validateGroupStatus: a usable id, and a partition loaded here.
    fn validate(&self, group_id: &str, api: Api) -> Option<ResponseError> {
        let empty_allowed = matches!(api, Api::Commit | Api::Fetch | Api::Describe | Api::Delete);
        // Ids too long for the int16-prefixed record key could never be stored.
        if (group_id.is_empty() && !empty_allowed) || group_id.len() > i16::MAX as usize {
            return Some(ResponseError::InvalidGroupId);
        }
        match self.partitions.get(&self.partition_for(group_id)) {
            Some(PartitionStatus::Owned) => None,
            Some(PartitionStatus::Loading) => Some(ResponseError::CoordinatorLoadInProgress),
            None => Some(ResponseError::NotCoordinator),
        }
    }

    fn schedule_cleanup(&mut self) {
        if self.cleanup_timer.is_none() {
            let at = self
                .ctx
                .now
                .saturating_add(self.ctx.config.offsets_retention_check_interval_ms.max(1));
            self.cleanup_timer = Some(self.ctx.timers.schedule(at, TimerKind::Cleanup));
        }
    }

    #[cfg(test)]
    fn timer_count(&self) -> usize {
        self.ctx.timers.len()
    }
}

impl Ctx {
    fn partition_of(&self, group_id: &str) -> i32 {
        partition_for(group_id, self.config.offsets_topic_num_partitions)
    }

    fn respond(&mut self, request: RequestId, response: Response) {
        self.out.push(Outcome::Respond { request, response });
    }

    /// Emits an append and remembers what to do when it completes.
    fn append(
        &mut self,
        group_id: &str,
        records: Vec<LogRecord>,
        pending: Option<PendingAppend>,
    ) -> AppendId {
        let id = AppendId(self.next_append);
        self.next_append += 1;
        let awaits_completion = pending.is_some();
        if let Some(p) = pending {
            self.appends.insert(id, p);
        }
        self.out.push(Outcome::Append(Append {
            id,
            partition: self.partition_of(group_id),
            timestamp_ms: self.now,
            records,
            awaits_completion,
        }));
        id
    }

    /// `<clientId or groupInstanceId>-<random UUID>`, as Kafka names members.
    fn generate_member_id(&mut self, client_id: &str, group_instance_id: Option<&str>) -> String {
        let mut b: [u8; 16] = self.rng.gen();
        b[6] = (b[6] & 0x0f) | 0x40; // version 4
        b[8] = (b[8] & 0x3f) | 0x80; // IETF variant
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}-{}",
            group_instance_id.unwrap_or(client_id),
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    /// Drops a group leaving this coordinator: cancels its timers and answers (or
    /// abandons) requests still waiting on it.
    fn discard_group(&mut self, mut g: Group, reply: Option<ResponseError>) {
        for (_, token) in std::mem::take(&mut g.pending_members) {
            self.timers.cancel(Some(token));
        }
        self.timers.cancel(g.join_timer.take().map(|j| j.token));
        self.timers.cancel(g.sync_timer.take());
        for mut m in std::mem::take(&mut g.members) {
            if let (Some(r), Some(e)) = (m.awaiting_join.take(), reply) {
                self.respond(
                    r,
                    Response::JoinGroup(JoinGroupResult::error(m.id.clone(), e)),
                );
            }
            if let (Some(r), Some(e)) = (m.awaiting_sync.take(), reply) {
                self.respond(r, Response::SyncGroup(SyncGroupResult::error(e)));
            }
            self.forget_member(m);
        }
    }
}
