//! A consumer group member's side of Kafka's group protocol, as the Java consumer's
//! `ConsumerCoordinator` runs it: FindCoordinator, JoinGroup (protocol type "consumer", the
//! "range" assignor; the leader computes everyone's assignment), SyncGroup, Heartbeat,
//! OffsetCommit with the generation and member id, LeaveGroup. Requests are built for the
//! version the coordinator negotiates, since fields differ by version.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, OffsetCommitRequest,
    SyncGroupRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::assignor::{self, Assignment, Subscription, PROTOCOL_TYPE, RANGE};
use super::{ClientError, KafkaClient};

/// Error codes of the group protocol this member reacts to.
pub mod codes {
    pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const NOT_COORDINATOR: i16 = 16;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
}
use codes::*;

/// How long to wait before retrying after a retriable group error (retry.backoff.ms).
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// The timeouts a member joins with.
#[derive(Clone, Copy, Debug)]
pub struct GroupTimeouts {
    /// session.timeout.ms: the coordinator evicts a member that does not heartbeat for this long.
    pub session: Duration,
    /// max.poll.interval.ms: how long the coordinator waits for members to rejoin.
    pub rebalance: Duration,
}

/// What a heartbeat or commit learned about the membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    /// Still a member of the current generation.
    Stable,
    /// The group is rebalancing or forgot this member: join again.
    RejoinNeeded,
}

/// One member of a consumer group.
pub struct GroupMember {
    group_id: String,
    timeouts: GroupTimeouts,
    member_id: String,
    generation: i32,
    coordinator: Option<i32>,
}

impl GroupMember {
    pub fn new(group_id: &str, timeouts: GroupTimeouts) -> GroupMember {
        GroupMember {
            group_id: group_id.to_owned(),
            timeouts,
            member_id: String::new(),
            generation: -1,
            coordinator: None,
        }
    }

    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// Whether this member holds a generation (joined and synced).
    pub fn is_member(&self) -> bool {
        self.generation >= 0 && !self.member_id.is_empty()
    }

    fn group(&self) -> GroupId {
        GroupId(StrBytes::from_string(self.group_id.clone()))
    }

    fn reset_generation(&mut self) {
        self.generation = -1;
        self.member_id.clear();
    }

    async fn coordinator(&mut self, client: &mut KafkaClient) -> Result<i32, ClientError> {
        if let Some(c) = self.coordinator {
            return Ok(c);
        }
        let c = client.find_coordinator(&self.group_id).await?;
        self.coordinator = Some(c);
        Ok(c)
    }

    /// Forgets the coordinator after a failure that suggests it moved or died.
    fn coordinator_failed(&mut self, e: &ClientError) {
        if matches!(e, ClientError::Broker(_)) {
            self.coordinator = None;
        }
    }

    /// Joins the group subscribed to `topics` (owning `owned` before) and returns this
    /// member's assignment. Retries retriable errors; other errors are returned.
    pub async fn join(
        &mut self,
        client: &mut KafkaClient,
        topics: &[String],
        owned: &Assignment,
    ) -> Result<Assignment, ClientError> {
        let metadata = assignor::encode_subscription(topics, owned)
            .map_err(|e| ClientError::Other(e.to_string()))?;
        loop {
            let node = self.coordinator(client).await?;
            let mut req = JoinGroupRequest::default();
            req.group_id = self.group();
            req.session_timeout_ms = self.timeouts.session.as_millis() as i32;
            req.member_id = StrBytes::from_string(self.member_id.clone());
            req.protocol_type = StrBytes::from_static_str(PROTOCOL_TYPE);
            let mut p = JoinGroupRequestProtocol::default();
            p.name = StrBytes::from_static_str(RANGE);
            p.metadata = metadata.clone();
            req.protocols = vec![p];
            let version = client.version_for_node::<JoinGroupRequest>(node).await?;
            if version >= 1 {
                req.rebalance_timeout_ms = self.timeouts.rebalance.as_millis() as i32;
            }
            // The coordinator holds the answer until every member rejoined.
            let wait = self.timeouts.rebalance + Duration::from_secs(5);
            let resp = match client.send_to_node(node, &req, Some(wait)).await {
                Ok((r, _)) => r,
                Err(e) => {
                    self.coordinator_failed(&e);
                    if matches!(e, ClientError::Broker(_)) {
                        tokio::time::sleep(RETRY_BACKOFF).await;
                        continue;
                    }
                    return Err(e);
                }
            };
            match resp.error_code {
                0 => {}
                MEMBER_ID_REQUIRED => {
                    self.member_id = resp.member_id.as_str().to_owned();
                    continue;
                }
                UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION => {
                    self.reset_generation();
                    continue;
                }
                COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR => {
                    self.coordinator = None;
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                }
                REBALANCE_IN_PROGRESS => {
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                }
                code => {
                    return Err(ClientError::Kafka {
                        context: format!("joining group {}", self.group_id),
                        code,
                    })
                }
            }
            self.member_id = resp.member_id.as_str().to_owned();
            self.generation = resp.generation_id;
            let assignments = if resp.leader.as_str() == self.member_id {
                let mut members = BTreeMap::new();
                for m in &resp.members {
                    let sub = assignor::decode_subscription(&m.metadata)
                        .map_err(|e| ClientError::Other(e.to_string()))?;
                    // Kafka orders members by group.instance.id when set, else member id.
                    let key = m
                        .group_instance_id
                        .as_ref()
                        .map(|g| format!("{}\u{0}{}", g.as_str(), m.member_id.as_str()))
                        .unwrap_or_else(|| m.member_id.as_str().to_owned());
                    members.insert(key, (m.member_id.as_str().to_owned(), sub));
                }
                self.leader_assign(client, &members).await?
            } else {
                Vec::new()
            };
            match self.sync(client, node, assignments).await? {
                Some(a) => return Ok(a),
                None => continue,
            }
        }
    }

    /// The leader's work: partition counts of every subscribed topic, then the range
    /// assignment, encoded per member. `members` is sort key -> (member id, subscription).
    async fn leader_assign(
        &mut self,
        client: &mut KafkaClient,
        members: &BTreeMap<String, (String, Subscription)>,
    ) -> Result<Vec<SyncGroupRequestAssignment>, ClientError> {
        let mut topics: Vec<String> = members
            .values()
            .flat_map(|(_, s)| s.topics.iter().cloned())
            .collect();
        topics.sort();
        topics.dedup();
        let counts: BTreeMap<String, i32> = client
            .metadata(Some(&topics))
            .await?
            .into_iter()
            .filter(|t| t.error_code == 0)
            .map(|t| (t.name, t.partitions.len() as i32))
            .collect();
        let by_key: BTreeMap<String, Subscription> = members
            .iter()
            .map(|(k, (_, s))| (k.clone(), s.clone()))
            .collect();
        let plan = assignor::range_assign(&by_key, &counts);
        let mut out = Vec::new();
        for (key, assignment) in plan {
            let Some((member_id, _)) = members.get(&key) else {
                continue;
            };
            let mut a = SyncGroupRequestAssignment::default();
            a.member_id = StrBytes::from_string(member_id.clone());
            a.assignment = assignor::encode_assignment(&assignment)
                .map_err(|e| ClientError::Other(e.to_string()))?;
            out.push(a);
        }
        Ok(out)
    }

    /// SyncGroup; None when the join must be redone.
    async fn sync(
        &mut self,
        client: &mut KafkaClient,
        node: i32,
        assignments: Vec<SyncGroupRequestAssignment>,
    ) -> Result<Option<Assignment>, ClientError> {
        let mut req = SyncGroupRequest::default();
        req.group_id = self.group();
        req.generation_id = self.generation;
        req.member_id = StrBytes::from_string(self.member_id.clone());
        req.assignments = assignments;
        if client.version_for_node::<SyncGroupRequest>(node).await? >= 5 {
            req.protocol_type = Some(StrBytes::from_static_str(PROTOCOL_TYPE));
            req.protocol_name = Some(StrBytes::from_static_str(RANGE));
        }
        let wait = self.timeouts.rebalance + Duration::from_secs(5);
        let resp = match client.send_to_node(node, &req, Some(wait)).await {
            Ok((r, _)) => r,
            Err(e) => {
                self.coordinator_failed(&e);
                if matches!(e, ClientError::Broker(_)) {
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    return Ok(None);
                }
                return Err(e);
            }
        };
        match resp.error_code {
            0 => assignor::decode_assignment(&resp.assignment)
                .map(Some)
                .map_err(|e| ClientError::Other(e.to_string())),
            REBALANCE_IN_PROGRESS => Ok(None),
            UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION => {
                self.reset_generation();
                Ok(None)
            }
            COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR => {
                self.coordinator = None;
                tokio::time::sleep(RETRY_BACKOFF).await;
                Ok(None)
            }
            code => Err(ClientError::Kafka {
                context: format!("syncing group {}", self.group_id),
                code,
            }),
        }
    }

    /// One heartbeat. Coordinator trouble is retried on the next beat (the session timeout
    /// leaves room for a few); membership loss asks for a rejoin.
    pub async fn heartbeat(&mut self, client: &mut KafkaClient) -> Result<Membership, ClientError> {
        if !self.is_member() {
            return Ok(Membership::RejoinNeeded);
        }
        let node = match self.coordinator(client).await {
            Ok(n) => n,
            Err(ClientError::Broker(_)) => return Ok(Membership::Stable),
            Err(e) => return Err(e),
        };
        let mut req = HeartbeatRequest::default();
        req.group_id = self.group();
        req.generation_id = self.generation;
        req.member_id = StrBytes::from_string(self.member_id.clone());
        let resp = match client.send_to_node(node, &req, None).await {
            Ok((r, _)) => r,
            Err(e @ ClientError::Broker(_)) => {
                self.coordinator_failed(&e);
                return Ok(Membership::Stable);
            }
            Err(e) => return Err(e),
        };
        self.membership_after(resp.error_code, "heartbeat")
    }

    fn membership_after(&mut self, code: i16, what: &str) -> Result<Membership, ClientError> {
        match code {
            0 => Ok(Membership::Stable),
            REBALANCE_IN_PROGRESS => Ok(Membership::RejoinNeeded),
            UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION => {
                self.reset_generation();
                Ok(Membership::RejoinNeeded)
            }
            COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR => {
                self.coordinator = None;
                Ok(Membership::Stable)
            }
            code => Err(ClientError::Kafka {
                context: format!("{what} of group {}", self.group_id),
                code,
            }),
        }
    }

    /// Commits `offsets` ((topic, partition) -> next offset to read) with this member's
    /// generation (-1 and no member id when not a member, as a standalone consumer does).
    /// Retries once when the coordinator moved.
    pub async fn commit(
        &mut self,
        client: &mut KafkaClient,
        offsets: &BTreeMap<(String, i32), i64>,
    ) -> Result<Membership, ClientError> {
        if offsets.is_empty() {
            return Ok(Membership::Stable);
        }
        let mut last = Membership::Stable;
        for _attempt in 0..2 {
            let node = self.coordinator(client).await?;
            let mut req = OffsetCommitRequest::default();
            req.group_id = self.group();
            req.generation_id_or_member_epoch = self.generation;
            req.member_id = StrBytes::from_string(self.member_id.clone());
            let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
            for ((t, p), off) in offsets {
                let mut cp = OffsetCommitRequestPartition::default();
                cp.partition_index = *p;
                cp.committed_offset = *off;
                cp.committed_metadata = Some(StrBytes::from_static_str(""));
                topics.entry(t.as_str()).or_default().push(cp);
            }
            req.topics = topics
                .into_iter()
                .map(|(t, parts)| {
                    let mut ct = OffsetCommitRequestTopic::default();
                    ct.name = TopicName(StrBytes::from_string(t.to_owned()));
                    ct.partitions = parts;
                    ct
                })
                .collect();
            let resp = match client.send_to_node(node, &req, None).await {
                Ok((r, _)) => r,
                Err(e @ ClientError::Broker(_)) => {
                    self.coordinator_failed(&e);
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let code = resp
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                .find(|c| *c != 0)
                .unwrap_or(0);
            last = self.membership_after(code, "offset commit")?;
            let moved = matches!(
                code,
                COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR
            );
            if !moved {
                return Ok(last);
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        Ok(last)
    }

    /// Leaves the group so that the others rebalance at once (errors are not worth
    /// reporting: the session timeout removes the member anyway).
    pub async fn leave(&mut self, client: &mut KafkaClient) {
        if self.member_id.is_empty() {
            return;
        }
        let Some(node) = self.coordinator else {
            return;
        };
        let Ok(version) = client.version_for_node::<LeaveGroupRequest>(node).await else {
            return;
        };
        let mut req = LeaveGroupRequest::default();
        req.group_id = self.group();
        if version >= 3 {
            let mut m = MemberIdentity::default();
            m.member_id = StrBytes::from_string(self.member_id.clone());
            req.members = vec![m];
        } else {
            req.member_id = StrBytes::from_string(self.member_id.clone());
        }
        let _ = client.send_to_node(node, &req, None).await;
        self.reset_generation();
    }
}
