//! Group coordinator settings: each is a `server.properties` key, with Kafka 2.8's default
//! defined here and nowhere else.

/// Settings of the group coordinator and of offset storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms`: shorter JoinGroup session timeouts are refused.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`: longer JoinGroup session timeouts are refused.
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`: how long an empty group waits for more members
    /// before its first rebalance completes (extended while members keep arriving, up to
    /// the rebalance timeout).
    pub initial_rebalance_delay_ms: i32,
    /// `group.max.size`: members beyond this get GROUP_MAX_SIZE_REACHED.
    pub max_size: i32,
    /// `offsets.topic.num.partitions`: groups are spread over this many partitions.
    pub offsets_topic_num_partitions: i32,
    /// `offsets.retention.minutes` (in ms here): how long offsets outlive an empty group
    /// (or, for standalone consumers, their last commit).
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`: how often expired offsets are removed.
    pub offsets_retention_check_interval_ms: i64,
    /// `offset.metadata.max.bytes`: longer commit metadata (in UTF-16 units, as Java
    /// counts) is refused with OFFSET_METADATA_TOO_LARGE.
    pub offset_metadata_max_bytes: usize,
    /// Not configurable in Kafka: a member that joined but has not been given a
    /// generation yet is dropped after this long (its JoinGroup is answered with
    /// UNKNOWN_MEMBER_ID and the client rejoins).
    pub new_member_join_timeout_ms: i64,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            max_size: i32::MAX,
            offsets_topic_num_partitions: 50,
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1000,
            offsets_retention_check_interval_ms: 600_000,
            offset_metadata_max_bytes: 4096,
            new_member_join_timeout_ms: 5 * 60 * 1000,
        }
    }
}
