//! The coordinator's inputs and outputs: plain request structs (the fields the coordinator
//! needs, taken from any API version) and results the caller maps onto kafka-protocol
//! responses of the version it was asked for.

use bytes::Bytes;
use kafka_protocol::ResponseError;

/// The caller's handle for a request whose response may be delayed (JoinGroup, SyncGroup,
/// OffsetCommit); echoed in `Outcome::Respond`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Names one `Outcome::Append`, so the caller can report its completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppendId(pub u64);

/// A topic partition whose offset a group commits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

/// A group's state, named as DescribeGroups and ListGroups name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; the group may still hold offsets.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Generation formed; waiting for the leader's assignment.
    CompletingRebalance,
    /// Members have their assignments.
    Stable,
    /// Removed (deleted, expired or moved to another coordinator).
    Dead,
}

impl GroupState {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// One protocol a joining member supports, in preference order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

/// JoinGroup (v0–v7 fields; later versions' extra fields are not needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroup {
    /// The request's API version: v0 has no rebalance timeout (the session timeout is
    /// used) and v4+ without an instance id must first obtain a member id.
    pub api_version: i16,
    pub group_id: String,
    /// Empty on a first join.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// From the request header.
    pub client_id: String,
    /// The client's address as Kafka prints it (`/127.0.0.1`).
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
}

/// SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// v5+; when given it must match the group's.
    pub protocol_type: Option<String>,
    /// v5+; when given it must match the group's.
    pub protocol_name: Option<String>,
    /// The leader's assignment per member id; empty from followers.
    pub assignments: Vec<(String, Bytes)>,
}

/// Heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// One member leaving; v0–v2 requests carry exactly one, by member id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeavingMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// LeaveGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroup {
    pub group_id: String,
    pub members: Vec<LeavingMember>,
}

/// One partition of an OffsetCommit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPartition {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// -1 when absent (before v6).
    pub leader_epoch: i32,
    pub metadata: Option<String>,
    /// v1 only; -1 means "now".
    pub commit_timestamp: i64,
}

/// OffsetCommit, v1 and later (v0 stores offsets in ZooKeeper and is not handled here).
/// The caller answers partitions of unknown topics itself (UNKNOWN_TOPIC_OR_PARTITION)
/// and passes only the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommit {
    pub group_id: String,
    /// -1 for a standalone ("simple") consumer.
    pub generation_id: i32,
    /// Empty for a standalone consumer.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// v2–v4; -1 means the broker's retention.
    pub retention_time_ms: i64,
    pub partitions: Vec<CommitPartition>,
}

/// A member as the leader sees it in its JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

/// JoinGroup response fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupResult {
    pub error: Option<ResponseError>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    /// Responses before v7 carry "" for `None`.
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Non-empty only for the leader.
    pub members: Vec<JoinedMember>,
}

impl JoinGroupResult {
    pub(crate) fn error(member_id: impl Into<String>, error: ResponseError) -> Self {
        JoinGroupResult {
            error: Some(error),
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: member_id.into(),
            members: Vec::new(),
        }
    }
}

/// SyncGroup response fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupResult {
    pub error: Option<ResponseError>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncGroupResult {
    pub(crate) fn error(error: ResponseError) -> Self {
        SyncGroupResult {
            error: Some(error),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// The outcome for one member of a LeaveGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub error: Option<ResponseError>,
}

/// LeaveGroup response fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroupResult {
    pub error: Option<ResponseError>,
    pub members: Vec<LeftMember>,
}

impl LeaveGroupResult {
    /// The single error of a v0–v2 response: the top-level one, else the first member's.
    pub fn legacy_error(&self) -> Option<ResponseError> {
        self.error
            .or_else(|| self.members.iter().find_map(|m| m.error))
    }
}

/// OffsetCommit response: one error per requested partition, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitResult {
    pub partitions: Vec<(TopicPartition, Option<ResponseError>)>,
}

/// DeleteGroups response: one error per distinct requested group, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteGroupsResult {
    pub groups: Vec<(String, Option<ResponseError>)>,
}

/// A response released by the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    JoinGroup(JoinGroupResult),
    SyncGroup(SyncGroupResult),
    Heartbeat(Option<ResponseError>),
    LeaveGroup(LeaveGroupResult),
    OffsetCommit(OffsetCommitResult),
    DeleteGroups(DeleteGroupsResult),
}

/// A `__consumer_offsets` record to append: version-prefixed key, value `None` for a
/// tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub key: Bytes,
    pub value: Option<Bytes>,
}

/// Records to append, as one batch, to `__consumer_offsets`-`partition` (CREATE_TIME,
/// `timestamp_ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    pub id: AppendId,
    pub partition: i32,
    pub timestamp_ms: i64,
    pub records: Vec<LogRecord>,
    /// True when a response waits for it: append with acks=all and report the result
    /// with `GroupCoordinator::commit_appended`. False for tombstones, which Kafka writes
    /// with acks=0 and forgets (reporting them is harmless).
    pub awaits_completion: bool,
}

/// Something the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Send this response to the request.
    Respond {
        request: RequestId,
        response: Response,
    },
    /// This pending request was superseded (a second JoinGroup or SyncGroup for the same
    /// member) or its member removed; Kafka never answers it and lets the client time out.
    /// The caller may drop its handle.
    Abandon(RequestId),
    /// Append these records.
    Append(Append),
    /// The earliest timer is now due at this time (ms); call `tick` then. A later
    /// `WakeAt` replaces earlier ones.
    WakeAt(i64),
}

/// One committed offset as OffsetFetch returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOffset {
    pub topic: String,
    pub partition: i32,
    /// -1 when nothing is committed.
    pub offset: i64,
    /// -1 when unknown.
    pub leader_epoch: i32,
    pub metadata: String,
    pub error: Option<ResponseError>,
}

/// OffsetFetch response fields (v1+; the caller moves a group-level error into each
/// partition for versions before 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchResult {
    pub error: Option<ResponseError>,
    pub partitions: Vec<FetchedOffset>,
}

/// One group in ListGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    pub group_id: String,
    pub protocol_type: String,
    pub state: GroupState,
}

/// ListGroups response fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListGroupsResult {
    pub error: Option<ResponseError>,
    pub groups: Vec<ListedGroup>,
}

/// One member in DescribeGroups; metadata and assignment are empty unless the group is
/// Stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// DescribeGroups fields for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedGroup {
    pub error: Option<ResponseError>,
    pub group_id: String,
    /// A `GroupState` name; "" when `error` is set.
    pub state: String,
    pub protocol_type: String,
    /// The selected protocol when Stable, else "".
    pub protocol: String,
    pub members: Vec<DescribedMember>,
}

/// What `load` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    pub groups: usize,
    pub offsets: usize,
    /// Records whose key or value could not be decoded; Kafka would fail the load.
    pub skipped: usize,
}
