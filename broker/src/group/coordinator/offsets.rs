//! Offsets and group storage: OffsetCommit/OffsetFetch, DeleteGroups, the periodic expiry
//! of old offsets, listing and describing groups, append completions, and rebuilding
//! everything from `__consumer_offsets` on becoming coordinator (Kafka 2.8's
//! GroupMetadataManager).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::api::{
    AppendId, DeleteGroupsResult, DescribedGroup, FetchedOffset, GroupState, ListGroupsResult,
    ListedGroup, LoadSummary, LogRecord, OffsetCommit, OffsetCommitResult, OffsetFetchResult,
    Protocol, RequestId, Response, TopicPartition,
};
use super::group::{Group, Member, OffsetAndMetadata};
use super::{Api, Ctx, GroupCoordinator, PartitionStatus, PendingAppend};
use crate::group::codec::offsets_topic::{NONE_I32, NONE_I64};
use crate::group::codec::{
    GroupMetadataKey, GroupMetadataValue, OffsetCommitKey, OffsetCommitValue, OffsetsTopicRecord,
};

/// How an offset commit append failure is reported to the client (Kafka's storeOffsets).
fn map_offset_append_error(e: ResponseError) -> ResponseError {
    use ResponseError as E;
    match e {
        E::UnknownTopicOrPartition | E::NotEnoughReplicas | E::NotEnoughReplicasAfterAppend => {
            E::CoordinatorNotAvailable
        }
        E::NotLeaderOrFollower | E::KafkaStorageError => E::NotCoordinator,
        E::MessageTooLarge | E::RecordListTooLarge | E::InvalidFetchSize => {
            E::InvalidCommitOffsetSize
        }
        other => other,
    }
}

/// How a group metadata append failure is reported (Kafka's storeGroup).
fn map_group_append_error(e: ResponseError) -> ResponseError {
    use ResponseError as E;
    match e {
        E::UnknownTopicOrPartition | E::NotEnoughReplicas | E::NotEnoughReplicasAfterAppend => {
            E::CoordinatorNotAvailable
        }
        E::NotLeaderOrFollower | E::KafkaStorageError => E::NotCoordinator,
        E::RequestTimedOut => E::RebalanceInProgress,
        E::MessageTooLarge | E::RecordListTooLarge | E::InvalidFetchSize => E::UnknownServerError,
        other => other,
    }
}

fn offset_from_value(v: OffsetCommitValue) -> OffsetAndMetadata {
    OffsetAndMetadata {
        offset: v.offset,
        leader_epoch: (v.leader_epoch != NONE_I32).then_some(v.leader_epoch),
        metadata: v.metadata,
        commit_timestamp: v.commit_timestamp,
        expire_timestamp: (v.expire_timestamp != NONE_I64).then_some(v.expire_timestamp),
    }
}

fn offset_record(
    group: &str,
    tp: &TopicPartition,
    o: Option<&OffsetAndMetadata>,
) -> Option<LogRecord> {
    let key = OffsetCommitKey {
        group: group.to_string(),
        topic: tp.topic.clone(),
        partition: tp.partition,
    }
    .encode()
    .ok()?;
    let value = match o {
        None => None,
        Some(o) => Some(
            OffsetCommitValue {
                offset: o.offset,
                leader_epoch: o.leader_epoch.unwrap_or(NONE_I32),
                metadata: o.metadata.clone(),
                commit_timestamp: o.commit_timestamp,
                expire_timestamp: o.expire_timestamp.unwrap_or(NONE_I64),
            }
            .encode()
            .ok()?,
        ),
    };
    Some(LogRecord {
        key: key.into(),
        value: value.map(Bytes::from),
    })
}

impl GroupCoordinator {
    pub(super) fn offset_commit(&mut self, request: RequestId, req: OffsetCommit) {
        let all = |e: ResponseError| {
            Response::OffsetCommit(OffsetCommitResult {
                partitions: req
                    .partitions
                    .iter()
                    .map(|p| (TopicPartition::new(p.topic.clone(), p.partition), Some(e)))
                    .collect(),
            })
        };
        if let Some(e) = self.validate(&req.group_id, Api::Commit) {
            let response = all(e);
            self.ctx.respond(request, response);
            return;
        }
        if !self.groups.contains_key(&req.group_id) {
            if req.generation_id >= 0 {
                // A stale member of a group that is gone.
                let response = all(ResponseError::IllegalGeneration);
                self.ctx.respond(request, response);
                return;
            }
            // A standalone consumer using Kafka only to store offsets.
            self.create_group(&req.group_id);
        }
        let error = {
            let Some((g, ctx)) = self.parts(&req.group_id) else {
                return;
            };
            let instance = req.group_instance_id.as_deref();
            if g.state == GroupState::Dead {
                Some(ResponseError::CoordinatorNotAvailable)
            } else if g.is_static_member_fenced(&req.member_id, instance) {
                Some(ResponseError::FencedInstanceId)
            } else if req.generation_id < 0 && g.state == GroupState::Empty {
                None
            } else if !g.has(&req.member_id) {
                Some(ResponseError::UnknownMemberId)
            } else if req.generation_id != g.generation {
                Some(ResponseError::IllegalGeneration)
            } else {
                match g.state {
                    // Commits stay allowed while preparing a rebalance; the heartbeat
                    // tells the member to rejoin.
                    GroupState::Stable | GroupState::PreparingRebalance => {
                        ctx.schedule_heartbeat(g, &req.member_id);
                        None
                    }
                    GroupState::CompletingRebalance => Some(ResponseError::RebalanceInProgress),
                    GroupState::Empty | GroupState::Dead => Some(ResponseError::UnknownMemberId),
                }
            }
        };
        match error {
            Some(e) => {
                let response = all(e);
                self.ctx.respond(request, response);
            }
            None => {
                if let Some((g, ctx)) = self.parts(&req.group_id) {
                    ctx.store_offsets(g, request, req);
                }
            }
        }
    }

    /// OffsetFetch (v1+): `partitions` None means every partition with a committed offset.
    /// Unknown partitions and groups yield offset -1 without an error, as in Kafka.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[TopicPartition]>,
        require_stable: bool,
    ) -> OffsetFetchResult {
        if let Some(e) = self.validate(group_id, Api::Fetch) {
            return OffsetFetchResult {
                error: Some(e),
                partitions: Vec::new(),
            };
        }
        let unknown = |tp: &TopicPartition, error| FetchedOffset {
            topic: tp.topic.clone(),
            partition: tp.partition,
            offset: -1,
            leader_epoch: -1,
            metadata: String::new(),
            error,
        };
        let Some(g) = self.groups.get(group_id) else {
            return OffsetFetchResult {
                error: None,
                partitions: partitions
                    .unwrap_or_default()
                    .iter()
                    .map(|tp| unknown(tp, None))
                    .collect(),
            };
        };
        let wanted: Vec<TopicPartition> = match partitions {
            Some(p) => p.to_vec(),
            None => g.offsets.keys().cloned().collect(),
        };
        let partitions = wanted
            .iter()
            .map(|tp| {
                if require_stable && g.pending_offsets.contains_key(tp) {
                    return unknown(tp, Some(ResponseError::UnstableOffsetCommit));
                }
                match g.offsets.get(tp) {
                    None => unknown(tp, None),
                    Some(o) => FetchedOffset {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                        offset: o.offset,
                        leader_epoch: o.leader_epoch.unwrap_or(-1),
                        metadata: o.metadata.clone(),
                        error: None,
                    },
                }
            })
            .collect();
        OffsetFetchResult {
            error: None,
            partitions,
        }
    }

    /// ListGroups (v4 `states_filter`: state names, case-sensitive; empty means all). Groups
    /// are listed by id.
    pub fn list_groups(&self, states_filter: &[String]) -> ListGroupsResult {
        let loading = self
            .partitions
            .values()
            .any(|s| *s == PartitionStatus::Loading);
        let mut groups: Vec<ListedGroup> = self
            .groups
            .values()
            .filter(|g| {
                states_filter.is_empty() || states_filter.iter().any(|s| s == g.state.as_str())
            })
            .map(|g| ListedGroup {
                group_id: g.id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state,
            })
            .collect();
        groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        ListGroupsResult {
            error: loading.then_some(ResponseError::CoordinatorLoadInProgress),
            groups,
        }
    }

    /// DescribeGroups for one group; an unknown group is reported Dead without error.
    pub fn describe_group(&self, group_id: &str) -> DescribedGroup {
        let blank = |error, state: &str| DescribedGroup {
            error,
            group_id: group_id.to_string(),
            state: state.to_string(),
            protocol_type: String::new(),
            protocol: String::new(),
            members: Vec::new(),
        };
        if let Some(e) = self.validate(group_id, Api::Describe) {
            return blank(Some(e), "");
        }
        match self.groups.get(group_id) {
            Some(g) => g.describe(),
            None => blank(None, GroupState::Dead.as_str()),
        }
    }

    /// DeleteGroups: only Empty groups go; their offsets and metadata are tombstoned.
    pub(super) fn delete_groups(&mut self, group_ids: Vec<String>) -> DeleteGroupsResult {
        let mut seen = BTreeSet::new();
        let mut results = Vec::new();
        for id in group_ids {
            if !seen.insert(id.clone()) {
                continue;
            }
            let error = if let Some(e) = self.validate(&id, Api::Delete) {
                Some(e)
            } else {
                match self.groups.get(&id).map(|g| g.state) {
                    None | Some(GroupState::Dead) => Some(ResponseError::GroupIdNotFound),
                    Some(GroupState::Empty) => {
                        if let Some(mut g) = self.groups.remove(&id) {
                            let removed: Vec<TopicPartition> = g.offsets.keys().cloned().collect();
                            g.offsets.clear();
                            g.pending_offsets.clear();
                            self.ctx.write_tombstones(&g, &removed, true);
                            self.ctx.discard_group(g, None);
                        }
                        None
                    }
                    Some(_) => Some(ResponseError::NonEmptyGroup),
                }
            };
            results.push((id, error));
        }
        DeleteGroupsResult { groups: results }
    }

    /// The periodic offset expiry; an Empty group left without offsets is dropped.
    pub(super) fn expire_offsets(&mut self) {
        let now = self.ctx.now;
        let retention = self.ctx.config.offsets_retention_ms;
        let mut ids: Vec<String> = self.groups.keys().cloned().collect();
        ids.sort();
        for id in ids {
            let Some(g) = self.groups.get_mut(&id) else {
                continue;
            };
            let removed = g.remove_expired_offsets(now, retention);
            let dead = g.state == GroupState::Empty && !g.has_offsets();
            if dead {
                if let Some(g) = self.groups.remove(&id) {
                    self.ctx.write_tombstones(&g, &removed, true);
                    self.ctx.discard_group(g, None);
                }
            } else if let Some(g) = self.groups.get(&id) {
                self.ctx.write_tombstones(g, &removed, false);
            }
        }
        self.schedule_cleanup();
    }

    pub(super) fn append_done(&mut self, append: AppendId, error: Option<ResponseError>) {
        let Some(pending) = self.ctx.appends.remove(&append) else {
            return;
        };
        match pending {
            PendingAppend::OffsetCommit {
                group,
                incarnation,
                request,
                appended,
                statuses,
            } => {
                let error = error.map(map_offset_append_error);
                if let Some(g) = self
                    .groups
                    .get_mut(&group)
                    .filter(|g| g.incarnation == incarnation)
                {
                    for (tp, o) in appended {
                        let staged = g.pending_offsets.get(&tp) == Some(&o);
                        // Only if still pending: the offsets may have been deleted meanwhile.
                        if error.is_none() && g.pending_offsets.contains_key(&tp) {
                            g.offsets.insert(tp.clone(), o);
                        }
                        if staged {
                            g.pending_offsets.remove(&tp);
                        }
                    }
                }
                let partitions = statuses
                    .into_iter()
                    .map(|(tp, too_large)| {
                        let e = if too_large {
                            Some(ResponseError::OffsetMetadataTooLarge)
                        } else {
                            error
                        };
                        (tp, e)
                    })
                    .collect();
                self.ctx.respond(
                    request,
                    Response::OffsetCommit(OffsetCommitResult { partitions }),
                );
            }
            PendingAppend::Group {
                group,
                incarnation,
                action,
            } => {
                if let Some((g, ctx)) = self.parts(&group) {
                    if g.incarnation == incarnation {
                        ctx.group_append_done(g, action, error.map(map_group_append_error));
                    }
                }
            }
        }
    }

    pub(super) fn load_partition<I>(&mut self, partition: i32, records: I) -> LoadSummary
    where
        I: IntoIterator<Item = (Option<Bytes>, Option<Bytes>)>,
    {
        let mut summary = LoadSummary::default();
        if self.partitions.get(&partition) == Some(&PartitionStatus::Owned) {
            return summary;
        }
        // Last record per key wins; a tombstone removes.
        let mut offsets: BTreeMap<String, BTreeMap<TopicPartition, OffsetAndMetadata>> =
            BTreeMap::new();
        let mut groups: BTreeMap<String, Option<GroupMetadataValue>> = BTreeMap::new();
        for (key, value) in records {
            let decoded = key
                .as_deref()
                .map(|k| OffsetsTopicRecord::decode(k, value.as_deref()));
            match decoded {
                Some(Ok(OffsetsTopicRecord::Offset { key, value })) => {
                    let tp = TopicPartition::new(key.topic, key.partition);
                    let group = offsets.entry(key.group).or_default();
                    match value {
                        Some(v) => {
                            group.insert(tp, offset_from_value(v));
                        }
                        None => {
                            group.remove(&tp);
                        }
                    }
                }
                Some(Ok(OffsetsTopicRecord::Group { key, value })) => {
                    groups.insert(key.group, value);
                }
                None | Some(Err(_)) => summary.skipped += 1,
            }
        }
        self.partitions.insert(partition, PartitionStatus::Owned);

        let mut loaded = Vec::new();
        for (id, value) in groups {
            let Some(value) = value else { continue };
            if self.groups.contains_key(&id) {
                continue;
            }
            let incarnation = self.ctx.next_incarnation;
            self.ctx.next_incarnation += 1;
            let mut g = group_from_value(id.clone(), incarnation, value, self.ctx.now);
            g.offsets = offsets.remove(&id).unwrap_or_default();
            summary.offsets += g.offsets.len();
            self.groups.insert(id.clone(), g);
            loaded.push(id);
        }
        // Groups that only store offsets (standalone consumers, or a group whose metadata
        // was tombstoned) come back Empty.
        for (id, group_offsets) in offsets {
            if group_offsets.is_empty() || self.groups.contains_key(&id) {
                continue;
            }
            self.create_group(&id);
            if let Some(g) = self.groups.get_mut(&id) {
                summary.offsets += group_offsets.len();
                g.offsets = group_offsets;
            }
            loaded.push(id);
        }
        summary.groups = loaded.len();
        for id in loaded {
            if let Some((g, ctx)) = self.parts(&id) {
                ctx.on_group_loaded(g);
            }
        }
        self.schedule_cleanup();
        summary
    }
}

/// A group as its last metadata record left it: Stable with its members, or Empty.
fn group_from_value(id: String, incarnation: u64, v: GroupMetadataValue, now: i64) -> Group {
    let mut g = Group::new(id, incarnation, now);
    g.generation = v.generation;
    g.protocol_type = (!v.protocol_type.is_empty()).then_some(v.protocol_type);
    g.state_timestamp =
        (v.current_state_timestamp != NONE_I64).then_some(v.current_state_timestamp);
    let protocol = v.protocol.clone().unwrap_or_default();
    g.protocol_name = v.protocol;
    g.leader = v.leader;
    for m in v.members {
        g.members.push(Member {
            id: m.member_id,
            group_instance_id: m.group_instance_id,
            client_id: m.client_id,
            client_host: m.client_host,
            rebalance_timeout_ms: m.rebalance_timeout_ms,
            session_timeout_ms: m.session_timeout_ms,
            protocols: vec![Protocol {
                name: protocol.clone(),
                metadata: m.subscription,
            }],
            assignment: m.assignment,
            awaiting_join: None,
            awaiting_sync: None,
            is_new: false,
            heartbeat: None,
        });
    }
    if g.leader.is_none() {
        g.leader = g.members.first().map(|m| m.id.clone());
    }
    g.state = if g.members.is_empty() {
        GroupState::Empty
    } else {
        GroupState::Stable
    };
    g.subscribed_topics = g.compute_subscribed_topics();
    g
}

impl Ctx {
    fn store_offsets(&mut self, g: &mut Group, request: RequestId, req: OffsetCommit) {
        let now = self.now;
        let expire =
            (req.retention_time_ms != -1).then(|| now.saturating_add(req.retention_time_ms));
        // One entry per partition (a repeated partition keeps its last offset, as Kafka's
        // map does), in first-appearance order.
        let mut order: Vec<TopicPartition> = Vec::new();
        let mut latest: BTreeMap<TopicPartition, OffsetAndMetadata> = BTreeMap::new();
        for p in req.partitions {
            let tp = TopicPartition::new(p.topic, p.partition);
            let o = OffsetAndMetadata {
                offset: p.offset,
                leader_epoch: (p.leader_epoch != -1).then_some(p.leader_epoch),
                metadata: p.metadata.unwrap_or_default(),
                commit_timestamp: if p.commit_timestamp == -1 {
                    now
                } else {
                    p.commit_timestamp
                },
                expire_timestamp: expire,
            };
            if latest.insert(tp.clone(), o).is_none() {
                order.push(tp);
            }
        }
        let max = self.config.offset_metadata_max_bytes;
        let mut statuses = Vec::with_capacity(order.len());
        let mut appended = Vec::new();
        let mut records = Vec::new();
        for tp in order {
            let Some(o) = latest.remove(&tp) else {
                continue;
            };
            let record = if o.metadata.encode_utf16().count() <= max {
                offset_record(&g.id, &tp, Some(&o))
            } else {
                None
            };
            match record {
                Some(r) => {
                    records.push(r);
                    statuses.push((tp.clone(), false));
                    appended.push((tp, o));
                }
                None => statuses.push((tp, true)),
            }
        }
        if records.is_empty() {
            let partitions = statuses
                .into_iter()
                .map(|(tp, _)| (tp, Some(ResponseError::OffsetMetadataTooLarge)))
                .collect();
            self.respond(
                request,
                Response::OffsetCommit(OffsetCommitResult { partitions }),
            );
            return;
        }
        for (tp, o) in &appended {
            g.pending_offsets.insert(tp.clone(), o.clone());
        }
        let pending = PendingAppend::OffsetCommit {
            group: g.id.clone(),
            incarnation: g.incarnation,
            request,
            appended,
            statuses,
        };
        self.append(&g.id.clone(), records, Some(pending));
    }

    /// Tombstones for removed offsets, plus one for the group when it is gone (not for a
    /// group that never had a generation: it only stored offsets). Written without
    /// waiting: a lost tombstone is written again by a later expiry.
    fn write_tombstones(&mut self, g: &Group, removed: &[TopicPartition], group_gone: bool) {
        let mut records: Vec<LogRecord> = removed
            .iter()
            .filter_map(|tp| offset_record(&g.id, tp, None))
            .collect();
        if group_gone && g.generation > 0 {
            if let Ok(key) = (GroupMetadataKey {
                group: g.id.clone(),
            })
            .encode()
            {
                records.push(LogRecord {
                    key: key.into(),
                    value: None,
                });
            }
        }
        if !records.is_empty() {
            self.append(&g.id, records, None);
        }
    }

    /// A freshly loaded group: rebalance if it is over group.max.size, and expect
    /// heartbeats from its members.
    fn on_group_loaded(&mut self, g: &mut Group) {
        let max = usize::try_from(self.config.max_size).unwrap_or(0);
        if g.members.len() > max {
            self.prepare_rebalance(g);
        }
        let ids: Vec<String> = g.members.iter().map(|m| m.id.clone()).collect();
        for id in ids {
            self.schedule_heartbeat(g, &id);
        }
    }
}
