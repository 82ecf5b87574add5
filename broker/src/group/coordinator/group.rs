//! One group's state (Kafka's GroupMetadata and MemberMetadata): members in join order,
//! generation, selected protocol, leader, committed and pending offsets. Pure data and
//! the rules that only look at one group; no timers and no outcomes.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::api::{
    DescribedGroup, DescribedMember, GroupState, JoinedMember, Protocol, RequestId, TopicPartition,
};
use super::timers::TimerToken;
use crate::group::codec::{
    GroupMetadataValue, MemberMetadataValue, Subscription, CONSUMER_PROTOCOL_TYPE,
};

/// A committed offset as the coordinator caches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OffsetAndMetadata {
    pub offset: i64,
    pub leader_epoch: Option<i32>,
    pub metadata: String,
    pub commit_timestamp: i64,
    /// Only from old clients that asked for a per-commit retention.
    pub expire_timestamp: Option<i64>,
}

#[derive(Debug)]
pub(super) struct Member {
    pub id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocols: Vec<Protocol>,
    pub assignment: Bytes,
    /// The member's JoinGroup waiting for the join phase to end.
    pub awaiting_join: Option<RequestId>,
    /// The member's SyncGroup waiting for the leader's assignment.
    pub awaiting_sync: Option<RequestId>,
    /// Joined but not yet part of a generation: its deadline is the new-member timeout
    /// and waiting in JoinGroup does not count as liveness.
    pub is_new: bool,
    pub heartbeat: Option<TimerToken>,
}

impl Member {
    pub fn metadata(&self, protocol: &str) -> Option<&Bytes> {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| &p.metadata)
    }

    /// Same protocols, same order, same metadata.
    pub fn matches(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    /// This member's most preferred protocol among `candidates`.
    fn vote<'a>(&'a self, candidates: &[&str]) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|p| p.name.as_str())
            .find(|name| candidates.contains(name))
    }

    /// Kafka's `hasSatisfiedHeartbeat` at the moment a deadline expires: members waiting
    /// in JoinGroup or SyncGroup are alive, except new ones.
    pub fn alive_while_waiting(&self) -> bool {
        !self.is_new && (self.awaiting_join.is_some() || self.awaiting_sync.is_some())
    }
}

/// The pending join-phase deadline: Kafka's DelayedJoin, or for a group leaving Empty its
/// InitialDelayedJoin, which extends itself while new members keep arriving.
#[derive(Debug, Clone, Copy)]
pub(super) struct JoinTimer {
    pub token: TimerToken,
    /// `Some((delay_ms, remaining_ms))` for the initial delay.
    pub initial: Option<(i64, i64)>,
}

#[derive(Debug)]
pub(super) struct Group {
    pub id: String,
    /// Tells apart a group from one re-created under the same id while an append of the
    /// old one was in flight.
    pub incarnation: u64,
    pub state: GroupState,
    pub state_timestamp: Option<i64>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub generation: i32,
    pub leader: Option<String>,
    /// In join order: the first joiner leads, and the order breaks protocol-vote ties.
    pub members: Vec<Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with their expiry.
    pub pending_members: BTreeMap<String, TimerToken>,
    /// Members of the new generation that have not sent SyncGroup yet.
    pub pending_sync: BTreeSet<String>,
    /// A member joined during the initial delay, so the delay may be extended.
    pub new_member_added: bool,
    pub join_timer: Option<JoinTimer>,
    pub sync_timer: Option<TimerToken>,
    pub offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    /// Commits appended but not yet acknowledged by the log.
    pub pending_offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    /// For `consumer` groups: the topics any member subscribes to, when decodable.
    pub subscribed_topics: Option<BTreeSet<String>>,
}

impl Group {
    pub fn new(id: String, incarnation: u64, now: i64) -> Self {
        Group {
            id,
            incarnation,
            state: GroupState::Empty,
            state_timestamp: Some(now),
            protocol_type: None,
            protocol_name: None,
            generation: 0,
            leader: None,
            members: Vec::new(),
            pending_members: BTreeMap::new(),
            pending_sync: BTreeSet::new(),
            new_member_added: false,
            join_timer: None,
            sync_timer: None,
            offsets: BTreeMap::new(),
            pending_offsets: BTreeMap::new(),
            subscribed_topics: None,
        }
    }

    pub fn has(&self, member_id: &str) -> bool {
        self.members.iter().any(|m| m.id == member_id)
    }

    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == member_id)
    }

    pub fn member_mut(&mut self, member_id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == member_id)
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    /// The member id currently registered for a static instance id.
    pub fn static_member_id(&self, instance_id: Option<&str>) -> Option<String> {
        let instance_id = instance_id?;
        self.members
            .iter()
            .find(|m| m.group_instance_id.as_deref() == Some(instance_id))
            .map(|m| m.id.clone())
    }

    /// A known static instance id presented with another member id: an old or duplicate
    /// instance that must stop.
    pub fn is_static_member_fenced(&self, member_id: &str, instance_id: Option<&str>) -> bool {
        matches!(self.static_member_id(instance_id), Some(id) if id != member_id)
    }

    pub fn is_pending_member(&self, member_id: &str) -> bool {
        self.pending_members.contains_key(member_id) && !self.has(member_id)
    }

    pub fn num_awaiting_join(&self) -> usize {
        self.members
            .iter()
            .filter(|m| m.awaiting_join.is_some())
            .count()
    }

    pub fn has_all_members_joined(&self) -> bool {
        self.members.len() == self.num_awaiting_join() && self.pending_members.is_empty()
    }

    /// The longest rebalance timeout of any member (0 with none).
    pub fn rebalance_timeout_ms(&self) -> i64 {
        self.members
            .iter()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    pub fn can_rebalance(&self) -> bool {
        matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        )
    }

    pub fn transition(&mut self, state: GroupState, now: i64) {
        self.state = state;
        self.state_timestamp = Some(now);
    }

    fn support_count(&self, protocol: &str) -> usize {
        self.members
            .iter()
            .filter(|m| m.protocols.iter().any(|p| p.name == protocol))
            .count()
    }

    /// Whether a member with these protocols may join: an empty group takes any non-empty
    /// type and list; otherwise the type must match and one protocol must be supported by
    /// every current member.
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if self.state == GroupState::Empty {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols
                    .iter()
                    .any(|p| self.support_count(&p.name) == self.members.len())
        }
    }

    /// The protocol for the next generation: among those every member supports, each
    /// member votes for its most preferred and the most votes win. Kafka leaves ties to
    /// hash order; here the first voter's choice among the tied wins.
    pub fn select_protocol(&self) -> Option<String> {
        let first = self.members.first()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| self.support_count(name) == self.members.len())
            .collect();
        let mut tally: Vec<(&str, usize)> = Vec::new();
        for m in &self.members {
            if let Some(v) = m.vote(&candidates) {
                match tally.iter_mut().find(|(n, _)| *n == v) {
                    Some((_, c)) => *c += 1,
                    None => tally.push((v, 1)),
                }
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (name, votes) in tally {
            if best.is_none_or(|(_, b)| votes > b) {
                best = Some((name, votes));
            }
        }
        best.map(|(n, _)| n.to_string())
    }

    /// Adds a member; the first one sets the group's protocol type, and the leader is the
    /// first member to join a leaderless group.
    pub fn add_member(&mut self, member: Member, protocol_type: &str) {
        if self.members.is_empty() {
            self.protocol_type = Some(protocol_type.to_string());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        self.members.push(member);
    }

    /// Removes a member; a removed leader is replaced by the earliest remaining member.
    pub fn remove_member(&mut self, member_id: &str) -> Option<Member> {
        let idx = self.members.iter().position(|m| m.id == member_id)?;
        let member = self.members.remove(idx);
        if self.is_leader(member_id) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        self.pending_sync.remove(member_id);
        Some(member)
    }

    /// If the leader did not rejoin, hand leadership to a member that did. False when
    /// there is no leader or nobody rejoined.
    pub fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader.clone() else {
            return false;
        };
        if self
            .member(&leader)
            .is_some_and(|m| m.awaiting_join.is_some())
        {
            return true;
        }
        match self.members.iter().find(|m| m.awaiting_join.is_some()) {
            Some(m) => {
                self.leader = Some(m.id.clone());
                true
            }
            None => false,
        }
    }

    /// Every member's metadata for the selected protocol, for the leader's JoinGroup
    /// response.
    pub fn current_member_metadata(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or_default();
        self.members
            .iter()
            .map(|m| JoinedMember {
                member_id: m.id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                metadata: m.metadata(protocol).cloned().unwrap_or_default(),
            })
            .collect()
    }

    /// Kafka reads the version-0 prefix of each `consumer` subscription; undecodable
    /// metadata leaves the topics unknown (and then offsets are not expired by topic).
    pub fn compute_subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if self.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
            return None;
        }
        if self.members.is_empty() {
            return Some(BTreeSet::new());
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = BTreeSet::new();
        for m in &self.members {
            let meta = m.metadata(protocol)?;
            topics.extend(Subscription::decode_topics(meta).ok()?);
        }
        Some(topics)
    }

    pub fn init_next_generation(&mut self, now: i64) {
        self.generation = self.generation.wrapping_add(1);
        if self.members.is_empty() {
            self.protocol_name = None;
            self.transition(GroupState::Empty, now);
        } else {
            self.protocol_name = self.select_protocol();
            self.transition(GroupState::CompletingRebalance, now);
        }
        self.subscribed_topics = self.compute_subscribed_topics();
        self.pending_sync.clear();
    }

    /// The group metadata record value, with each member's assignment from `assignment`
    /// (members missing from it get an empty one).
    pub fn metadata_value(&self, assignment: &[(String, Bytes)]) -> GroupMetadataValue {
        let protocol = self.protocol_name.as_deref().unwrap_or_default();
        GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol_name.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: self.state_timestamp.unwrap_or(-1),
            members: self
                .members
                .iter()
                .map(|m| MemberMetadataValue {
                    member_id: m.id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: m.metadata(protocol).cloned().unwrap_or_default(),
                    assignment: assignment
                        .iter()
                        .find(|(id, _)| *id == m.id)
                        .map(|(_, a)| a.clone())
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// DescribeGroups: metadata and assignments only once Stable.
    pub fn describe(&self) -> DescribedGroup {
        let stable = self.state == GroupState::Stable;
        let protocol = if stable {
            self.protocol_name.clone().unwrap_or_default()
        } else {
            String::new()
        };
        DescribedGroup {
            error: None,
            group_id: self.id.clone(),
            state: self.state.as_str().to_string(),
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            members: self
                .members
                .iter()
                .map(|m| DescribedMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata(&protocol).cloned().unwrap_or_default()
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
            protocol,
        }
    }

    pub fn has_offsets(&self) -> bool {
        !self.offsets.is_empty() || !self.pending_offsets.is_empty()
    }

    /// Removes and returns the offsets whose retention has passed (Kafka 2.1+ rules,
    /// KIP-211): in an Empty group, counted from when it became Empty; in a Stable
    /// `consumer` group with known subscriptions, from the last commit, for topics no
    /// member subscribes to; for a standalone-consumer group, from the last commit. An
    /// explicit expire timestamp (old clients) wins. Offsets with a commit in flight stay.
    pub fn remove_expired_offsets(&mut self, now: i64, retention_ms: i64) -> Vec<TopicPartition> {
        let empty = self.state == GroupState::Empty;
        let (base_from_state, skip_topics): (bool, Option<&BTreeSet<String>>) =
            match self.protocol_type.as_deref() {
                Some(_) if empty => (true, None),
                Some(CONSUMER_PROTOCOL_TYPE) if self.state == GroupState::Stable => {
                    match &self.subscribed_topics {
                        Some(t) => (false, Some(t)),
                        None => return Vec::new(),
                    }
                }
                None => (false, None),
                Some(_) => return Vec::new(),
            };
        let expired: Vec<TopicPartition> = self
            .offsets
            .iter()
            .filter(|(tp, o)| {
                if skip_topics.is_some_and(|t| t.contains(&tp.topic))
                    || self.pending_offsets.contains_key(*tp)
                {
                    return false;
                }
                match o.expire_timestamp {
                    Some(at) => now >= at,
                    None => {
                        let base = if base_from_state {
                            self.state_timestamp.unwrap_or(o.commit_timestamp)
                        } else {
                            o.commit_timestamp
                        };
                        now.saturating_sub(base) >= retention_ms
                    }
                }
            })
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in &expired {
            self.offsets.remove(tp);
        }
        expired
    }
}
