//! A Kafka consumer over [`KafkaClient`], for the console consumer and the consumer perf test.
//!
//! Two modes, as Kafka's `KafkaConsumer`: *assigned* (explicit partitions, each starting at
//! the earliest, the latest or a given offset) and *group* (`group.id`: the partitions come
//! from the group through [`GroupMember`], positions from the committed offsets, else from
//! `auto.offset.reset`; offsets are auto-committed every `auto.commit.interval.ms` and on
//! close). [`Consumer::poll`] runs everything from the caller's task: heartbeats and commits
//! happen between fetches, and a fetch long-polls at most `fetch.max.wait.ms`, so the
//! heartbeat interval is kept as long as the caller keeps polling.
//!
//! Fetches go to each partition's leader; the record batches are split and decoded here
//! (kafka-protocol's `RecordBatchDecoder`, every compression codec), whole batches being
//! trimmed to the requested offset, control batches and aborted transactions dropped.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{RecordBatchDecoder, TimestampType};
use tokio::sync::watch;

use super::assignor::Assignment;
use super::group::{GroupMember, GroupTimeouts, Membership};
use super::offsets::{EARLIEST, LATEST};
use super::{error_name, metadata_request, ClientConfig, ClientError, KafkaClient};

/// A failed consumer operation.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// The cluster could not be reached or answered with an error.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A consumer setting with a value Kafka would reject.
    #[error("Invalid value {value} for configuration {key}: {reason}")]
    Config {
        key: String,
        value: String,
        reason: String,
    },
    /// A partition has no valid position and `auto.offset.reset` is `none`.
    #[error("Undefined offset with no reset policy for partitions: {0}")]
    NoOffset(String),
    /// A fetched record batch could not be decoded.
    #[error("Received exception when fetching the next record from {topic}-{partition}. If needed, please seek past the record to continue consumption. ({msg})")]
    Corrupt {
        topic: String,
        partition: i32,
        msg: String,
    },
    /// The wakeup signal fired (the consumer is being shut down).
    #[error("the consumer was woken up")]
    Wakeup,
}

/// Where a partition without a valid position starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
    None,
}

/// Fetch isolation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsolationLevel {
    ReadUncommitted,
    ReadCommitted,
}

/// The consumer settings this client honours, with Kafka 2.4's defaults (the one place they
/// are defined). Other `ConsumerConfig` keys are accepted and ignored.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    pub bootstrap_servers: String,
    pub client_id: String,
    pub group_id: Option<String>,
    pub auto_offset_reset: OffsetReset,
    pub enable_auto_commit: bool,
    pub auto_commit_interval: Duration,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub max_poll_interval: Duration,
    pub fetch_max_wait: Duration,
    pub fetch_min_bytes: i32,
    pub fetch_max_bytes: i32,
    pub max_partition_fetch_bytes: i32,
    pub max_poll_records: usize,
    pub isolation_level: IsolationLevel,
    pub request_timeout: Duration,
    pub metadata_max_age: Duration,
    pub exclude_internal_topics: bool,
    pub allow_auto_create_topics: bool,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            bootstrap_servers: String::new(),
            client_id: String::new(),
            group_id: None,
            auto_offset_reset: OffsetReset::Latest,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_millis(5000),
            session_timeout: Duration::from_millis(10_000),
            heartbeat_interval: Duration::from_millis(3000),
            max_poll_interval: Duration::from_millis(300_000),
            fetch_max_wait: Duration::from_millis(500),
            fetch_min_bytes: 1,
            fetch_max_bytes: 50 * 1024 * 1024,
            max_partition_fetch_bytes: 1024 * 1024,
            max_poll_records: 500,
            isolation_level: IsolationLevel::ReadUncommitted,
            request_timeout: Duration::from_millis(30_000),
            metadata_max_age: Duration::from_millis(300_000),
            exclude_internal_topics: true,
            allow_auto_create_topics: true,
        }
    }
}

impl ConsumerConfig {
    /// Settings from consumer properties (`--consumer-property`, `--consumer.config`).
    pub fn from_properties(props: &BTreeMap<String, String>) -> Result<Self, ConsumerError> {
        let mut c = ConsumerConfig::default();
        for (k, v) in props {
            let v = v.trim();
            let bad = |reason: &str| ConsumerError::Config {
                key: k.clone(),
                value: v.to_owned(),
                reason: reason.to_owned(),
            };
            let ms = || {
                v.parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| bad("Expected value to be a non-negative number of milliseconds."))
            };
            let int = || {
                v.parse::<i32>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| bad("Expected value to be a non-negative 32-bit integer."))
            };
            let boolean = || match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(bad("Expected value to be either true or false")),
            };
            match k.as_str() {
                "bootstrap.servers" => c.bootstrap_servers = v.to_owned(),
                "client.id" => c.client_id = v.to_owned(),
                "group.id" => c.group_id = (!v.is_empty()).then(|| v.to_owned()),
                "auto.offset.reset" => {
                    c.auto_offset_reset = match v.to_ascii_lowercase().as_str() {
                        "earliest" => OffsetReset::Earliest,
                        "latest" => OffsetReset::Latest,
                        "none" => OffsetReset::None,
                        _ => return Err(bad("String must be one of: latest, earliest, none")),
                    }
                }
                "enable.auto.commit" => c.enable_auto_commit = boolean()?,
                "auto.commit.interval.ms" => c.auto_commit_interval = ms()?,
                "session.timeout.ms" => c.session_timeout = ms()?,
                "heartbeat.interval.ms" => c.heartbeat_interval = ms()?,
                "max.poll.interval.ms" => c.max_poll_interval = ms()?,
                "fetch.max.wait.ms" => c.fetch_max_wait = ms()?,
                "fetch.min.bytes" => c.fetch_min_bytes = int()?,
                "fetch.max.bytes" => c.fetch_max_bytes = int()?,
                "max.partition.fetch.bytes" => c.max_partition_fetch_bytes = int()?,
                "max.poll.records" => {
                    c.max_poll_records = int()?
                        .try_into()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| bad("Value must be at least 1"))?
                }
                "isolation.level" => {
                    c.isolation_level = match v.to_ascii_lowercase().as_str() {
                        "read_uncommitted" => IsolationLevel::ReadUncommitted,
                        "read_committed" => IsolationLevel::ReadCommitted,
                        _ => {
                            return Err(bad(
                                "String must be one of: read_committed, read_uncommitted",
                            ))
                        }
                    }
                }
                "request.timeout.ms" => c.request_timeout = ms()?,
                "metadata.max.age.ms" => c.metadata_max_age = ms()?,
                "exclude.internal.topics" => c.exclude_internal_topics = boolean()?,
                "allow.auto.create.topics" => c.allow_auto_create_topics = boolean()?,
                _ => {}
            }
        }
        if c.heartbeat_interval >= c.session_timeout {
            return Err(ConsumerError::Config {
                key: "heartbeat.interval.ms".into(),
                value: c.heartbeat_interval.as_millis().to_string(),
                reason: "Heartbeat must be set lower than the session timeout".into(),
            });
        }
        Ok(c)
    }

    fn client_config(&self) -> ClientConfig {
        let mut cc = ClientConfig::new(&self.bootstrap_servers, &self.client_id);
        cc.request_timeout = self.request_timeout;
        cc
    }
}

/// Where an assigned partition starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartOffset {
    Earliest,
    Latest,
    At(i64),
}

/// What the consumer reads.
#[derive(Clone, Debug)]
pub enum Subscription {
    /// These topics, partitions from the group.
    Topics(Vec<String>),
    /// Every topic whose whole name matches, partitions from the group.
    Pattern(regex::Regex),
    /// These partitions, no group membership.
    Assigned(Vec<(String, i32, StartOffset)>),
}

/// How a record's timestamp was set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampKind {
    /// Magic v0 records carry no timestamp.
    None,
    CreateTime,
    LogAppendTime,
}

impl std::fmt::Display for TimestampKind {
    /// Kafka's `TimestampType` names.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimestampKind::None => "NoTimestampType",
            TimestampKind::CreateTime => "CreateTime",
            TimestampKind::LogAppendTime => "LogAppendTime",
        })
    }
}

/// One consumed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub timestamp_type: TimestampKind,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

type Tp = (String, i32);

/// Error codes the fetch path reacts to.
const OFFSET_OUT_OF_RANGE: i16 = 1;
/// Errors after which the partition's leader is looked up again.
fn refresh_leader_on(code: i16) -> bool {
    // UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER,
    // REPLICA_NOT_AVAILABLE, KAFKA_STORAGE_ERROR, FENCED/UNKNOWN_LEADER_EPOCH.
    matches!(code, 3 | 5 | 6 | 9 | 56 | 74 | 76)
}
/// Failures the consumer outlives by retrying: a broker unreachable for a while, a leader
/// or coordinator moving.
fn transient(e: &ConsumerError) -> bool {
    match e {
        ConsumerError::Client(ClientError::Broker(_) | ClientError::UnknownBroker(_)) => true,
        ConsumerError::Client(ClientError::Kafka { code, .. }) => {
            matches!(code, 5 | 6 | 14 | 15 | 16 | 74 | 76)
        }
        _ => false,
    }
}
/// Pause after a failed fetch or an unknown leader (retry.backoff.ms).
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// How often the metadata is looked at while a subscribed topic is missing.
const MISSING_TOPIC_RECHECK: Duration = Duration::from_millis(500);
/// Slack over fetch.max.bytes for the response's framing.
const RESPONSE_SLACK: i32 = 1 << 20;

/// A Kafka consumer.
pub struct Consumer {
    client: KafkaClient,
    cfg: ConsumerConfig,
    subscription: Subscription,
    group: Option<GroupMember>,
    rejoin: bool,
    /// Assigned partitions -> next offset to fetch (None until known).
    fetch_pos: BTreeMap<Tp, Option<i64>>,
    /// Fetched, not yet returned records, in fetch order.
    buffer: VecDeque<ConsumerRecord>,
    leaders: BTreeMap<Tp, i32>,
    leaders_stale: bool,
    /// Partition counts of the subscribed topics when the group was last joined.
    joined_snapshot: BTreeMap<String, i32>,
    next_metadata_check: Instant,
    next_heartbeat: Instant,
    next_auto_commit: Instant,
    /// Offsets last committed, to skip commits that change nothing.
    committed: BTreeMap<Tp, i64>,
    response_limit_set: BTreeSet<i32>,
    wakeup: Option<watch::Receiver<bool>>,
    /// A request was abandoned mid-flight: the connection's state is unknown, so close
    /// sends nothing more.
    poisoned: bool,
    rebalance_time: Duration,
}

impl Consumer {
    /// Connects to the cluster (up to `request.timeout.ms`); the group is joined by the
    /// first poll.
    pub async fn connect(
        cfg: ConsumerConfig,
        subscription: Subscription,
    ) -> Result<Consumer, ConsumerError> {
        let client = KafkaClient::connect(cfg.client_config()).await?;
        let group = match (&subscription, &cfg.group_id) {
            (Subscription::Assigned(_), None) => None,
            (_, Some(g)) => Some(GroupMember::new(
                g,
                GroupTimeouts {
                    session: cfg.session_timeout,
                    rebalance: cfg.max_poll_interval,
                },
            )),
            (_, None) => {
                return Err(ConsumerError::Config {
                    key: "group.id".into(),
                    value: "null".into(),
                    reason: "a subscription needs a consumer group".into(),
                })
            }
        };
        let now = Instant::now();
        let mut c = Consumer {
            client,
            subscription: subscription.clone(),
            group,
            rejoin: true,
            fetch_pos: BTreeMap::new(),
            buffer: VecDeque::new(),
            leaders: BTreeMap::new(),
            leaders_stale: true,
            joined_snapshot: BTreeMap::new(),
            next_metadata_check: now,
            next_heartbeat: now,
            next_auto_commit: now + cfg.auto_commit_interval,
            committed: BTreeMap::new(),
            response_limit_set: BTreeSet::new(),
            wakeup: None,
            poisoned: false,
            rebalance_time: Duration::ZERO,
            cfg,
        };
        if let Subscription::Assigned(parts) = subscription {
            c.rejoin = false;
            c.assign_with_starts(&parts).await?;
        }
        Ok(c)
    }

    /// A channel whose `true` makes the consumer stop at the next safe point with
    /// [`ConsumerError::Wakeup`] (Kafka's `wakeup()`).
    pub fn set_wakeup(&mut self, rx: watch::Receiver<bool>) {
        self.wakeup = Some(rx);
    }

    /// Total time spent joining the group so far.
    pub fn rebalance_time(&self) -> Duration {
        self.rebalance_time
    }

    /// The partitions currently assigned.
    pub fn assignment(&self) -> Vec<Tp> {
        self.fetch_pos.keys().cloned().collect()
    }

    /// The next offset to return for `tp` (None when not assigned or not yet known).
    pub fn position(&self, tp: &Tp) -> Option<i64> {
        self.buffer
            .iter()
            .find(|r| r.topic == tp.0 && r.partition == tp.1)
            .map(|r| r.offset)
            .or_else(|| self.fetch_pos.get(tp).copied().flatten())
    }

    /// Moves `tp`'s position to `offset` (dropping anything fetched for it).
    pub fn seek(&mut self, tp: &Tp, offset: i64) {
        if let Some(p) = self.fetch_pos.get_mut(tp) {
            *p = Some(offset);
            self.buffer
                .retain(|r| !(r.topic == tp.0 && r.partition == tp.1));
        }
    }

    fn woken(&self) -> bool {
        self.wakeup.as_ref().is_some_and(|rx| *rx.borrow())
    }

    fn check_wakeup(&self) -> Result<(), ConsumerError> {
        if self.woken() {
            Err(ConsumerError::Wakeup)
        } else {
            Ok(())
        }
    }

    /// Up to `max.poll.records` records, waiting up to `timeout` for some (an empty result
    /// when none came). Group upkeep (join, heartbeat, auto-commit) happens here.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>, ConsumerError> {
        let start = Instant::now();
        let deadline = start
            .checked_add(timeout)
            .unwrap_or(start + Duration::from_secs(100 * 365 * 86_400));
        loop {
            self.check_wakeup()?;
            if let Err(e) = self.maintain().await {
                if !transient(&e) {
                    return Err(e);
                }
                // A broker restarting or a leader moving: retry until the poll's deadline,
                // as Kafka's consumer does.
                self.leaders_stale = true;
                if Instant::now() >= deadline {
                    return Ok(Vec::new());
                }
                tokio::time::sleep(RETRY_BACKOFF.min(deadline - Instant::now())).await;
                continue;
            }
            if !self.buffer.is_empty() {
                let n = self.buffer.len().min(self.cfg.max_poll_records);
                return Ok(self.buffer.drain(..n).collect());
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let mut wait = (deadline - now).min(self.cfg.fetch_max_wait);
            if self.group.is_some() {
                wait = wait.min(self.next_heartbeat.saturating_duration_since(now));
            }
            if !self.fetch_once(wait).await? {
                tokio::time::sleep(wait.min(RETRY_BACKOFF)).await;
            }
        }
    }

    /// Commits the current positions (group mode); returns false when the group has moved
    /// on and the commit was refused.
    pub async fn commit(&mut self) -> Result<bool, ConsumerError> {
        let offsets: BTreeMap<Tp, i64> = self
            .fetch_pos
            .keys()
            .filter_map(|tp| self.position(tp).map(|o| (tp.clone(), o)))
            .filter(|(tp, o)| self.committed.get(tp) != Some(o))
            .collect();
        let Some(g) = self.group.as_mut() else {
            return Ok(true);
        };
        if offsets.is_empty() {
            return Ok(true);
        }
        match g.commit(&mut self.client, &offsets).await? {
            Membership::Stable => {
                self.committed.extend(offsets);
                Ok(true)
            }
            Membership::RejoinNeeded => {
                self.rejoin = true;
                Ok(false)
            }
        }
    }

    /// Commits (when auto-commit is on) and leaves the group.
    pub async fn close(mut self) -> Result<(), ConsumerError> {
        if self.poisoned || self.group.is_none() {
            return Ok(());
        }
        let mut result = Ok(());
        if self.cfg.enable_auto_commit && !self.rejoin {
            result = self.commit().await.map(|_| ());
        }
        if let Some(g) = self.group.as_mut() {
            g.leave(&mut self.client).await;
        }
        result
    }

    /// Group upkeep and positions, before each fetch.
    async fn maintain(&mut self) -> Result<(), ConsumerError> {
        if self.group.is_some() {
            self.maybe_check_metadata().await?;
            if self.rejoin {
                self.join().await?;
            }
            let now = Instant::now();
            if now >= self.next_heartbeat {
                self.next_heartbeat = now + self.cfg.heartbeat_interval;
                let g = self.group.as_mut().ok_or_else(no_group)?;
                if g.heartbeat(&mut self.client).await? == Membership::RejoinNeeded {
                    self.rejoin = true;
                }
            }
            if self.cfg.enable_auto_commit && Instant::now() >= self.next_auto_commit {
                self.next_auto_commit = Instant::now() + self.cfg.auto_commit_interval;
                self.commit().await?;
            }
            if self.rejoin {
                // Leave the new round to the next pass so that the wakeup is checked.
                return Ok(());
            }
        }
        self.init_positions().await?;
        if self.leaders_stale {
            self.refresh_leaders().await?;
        }
        Ok(())
    }

    /// The topics the subscription names now (a pattern is matched against the metadata).
    async fn subscribed_topics(&mut self) -> Result<BTreeMap<String, i32>, ConsumerError> {
        let names: Option<Vec<String>> = match &self.subscription {
            Subscription::Topics(ts) => Some(ts.clone()),
            Subscription::Pattern(_) => None,
            Subscription::Assigned(_) => return Ok(BTreeMap::new()),
        };
        let md = self.client.metadata(names.as_deref()).await?;
        let mut out = BTreeMap::new();
        for t in md {
            if t.error_code != 0 {
                continue;
            }
            let wanted = match &self.subscription {
                Subscription::Pattern(re) => {
                    re.is_match(&t.name) && !(t.is_internal && self.cfg.exclude_internal_topics)
                }
                _ => true,
            };
            if wanted {
                out.insert(t.name.clone(), t.partitions.len() as i32);
            }
        }
        Ok(out)
    }

    /// Kafka's consumer asks for missing subscribed topics with auto-creation allowed.
    async fn request_auto_create(&mut self, missing: &[String]) {
        if !self.cfg.allow_auto_create_topics || missing.is_empty() {
            return;
        }
        let req = metadata_request(Some(missing), true);
        let _ = self.client.send_any(&req, None).await;
    }

    /// Rejoins when the subscribed topics' partitions changed since the last join.
    async fn maybe_check_metadata(&mut self) -> Result<(), ConsumerError> {
        let now = Instant::now();
        if self.rejoin || now < self.next_metadata_check {
            return Ok(());
        }
        let snapshot = self.subscribed_topics().await?;
        let missing = self.missing_topics(&snapshot);
        self.next_metadata_check = now
            + if missing.is_empty() {
                self.cfg.metadata_max_age
            } else {
                MISSING_TOPIC_RECHECK
            };
        if snapshot != self.joined_snapshot {
            self.rejoin = true;
        }
        Ok(())
    }

    fn missing_topics(&self, snapshot: &BTreeMap<String, i32>) -> Vec<String> {
        match &self.subscription {
            Subscription::Topics(ts) => ts
                .iter()
                .filter(|t| !snapshot.contains_key(*t))
                .cloned()
                .collect(),
            _ => Vec::new(),
        }
    }

    /// One round of the group protocol: commit what was consumed (if auto-committing),
    /// give up the partitions, join, take the new assignment.
    async fn join(&mut self) -> Result<(), ConsumerError> {
        let started = Instant::now();
        if self.cfg.enable_auto_commit && self.group.as_ref().is_some_and(|g| g.is_member()) {
            // The coordinator still takes commits of the old generation while preparing.
            let _ = self.commit().await;
        }
        let owned: Assignment = Assignment::new();
        self.fetch_pos.clear();
        self.buffer.clear();
        self.committed.clear();
        let mut snapshot = self.subscribed_topics().await?;
        let missing = self.missing_topics(&snapshot);
        if !missing.is_empty() {
            self.request_auto_create(&missing).await;
            snapshot = self.subscribed_topics().await?;
        }
        let topics: Vec<String> = match &self.subscription {
            Subscription::Topics(ts) => ts.clone(),
            _ => snapshot.keys().cloned().collect(),
        };
        let mut wakeup = self.wakeup.clone();
        let g = self.group.as_mut().ok_or_else(no_group)?;
        // A join can wait for the whole group; a wakeup abandons it (and the connection).
        let assignment = tokio::select! {
            r = g.join(&mut self.client, &topics, &owned) => r?,
            _ = wait_for_wakeup(&mut wakeup) => {
                self.poisoned = true;
                return Err(ConsumerError::Wakeup);
            }
        };
        self.rejoin = false;
        self.next_metadata_check = Instant::now()
            + if self.missing_topics(&snapshot).is_empty() {
                self.cfg.metadata_max_age
            } else {
                MISSING_TOPIC_RECHECK
            };
        self.joined_snapshot = snapshot;
        for (t, ps) in assignment {
            for p in ps {
                self.fetch_pos.insert((t.clone(), p), None);
            }
        }
        self.leaders_stale = true;
        let now = Instant::now();
        self.next_heartbeat = now + self.cfg.heartbeat_interval;
        self.rebalance_time += now - started;
        Ok(())
    }

    /// Assigned mode: take `parts` and resolve their start offsets.
    async fn assign_with_starts(
        &mut self,
        parts: &[(String, i32, StartOffset)],
    ) -> Result<(), ConsumerError> {
        for (t, p, start) in parts {
            let info = self.client.topic(t).await?;
            if !info.partitions.iter().any(|pi| pi.partition == *p) {
                return Err(ClientError::Kafka {
                    context: format!("partition {t}-{p}"),
                    code: 3,
                }
                .into());
            }
            let pos = match start {
                StartOffset::At(o) => *o,
                StartOffset::Earliest => self.list_one(t, *p, EARLIEST).await?,
                StartOffset::Latest => self.list_one(t, *p, LATEST).await?,
            };
            self.fetch_pos.insert((t.clone(), *p), Some(pos));
        }
        self.leaders_stale = true;
        Ok(())
    }

    async fn list_one(&mut self, topic: &str, p: i32, ts: i64) -> Result<i64, ConsumerError> {
        let m = self.client.list_offsets(topic, &[p], ts).await?;
        m.get(&p).copied().ok_or_else(|| {
            ConsumerError::Client(ClientError::Other(format!(
                "no offset returned for {topic}-{p}"
            )))
        })
    }

    /// Positions for newly assigned partitions: the group's committed offsets, else the
    /// reset policy.
    async fn init_positions(&mut self) -> Result<(), ConsumerError> {
        let unknown: Vec<Tp> = self
            .fetch_pos
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(tp, _)| tp.clone())
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        if let Some(g) = &self.group {
            let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for (t, p) in &unknown {
                by_topic.entry(t.clone()).or_default().push(*p);
            }
            let req: Vec<(String, Vec<i32>)> = by_topic.into_iter().collect();
            let group_id = g.group_id().to_owned();
            let committed = self.client.committed_offsets(&group_id, Some(&req)).await?;
            for (tp, off) in committed {
                if let Some(slot) = self.fetch_pos.get_mut(&tp) {
                    *slot = Some(off);
                    self.committed.insert(tp, off);
                }
            }
        }
        let still: Vec<Tp> = self
            .fetch_pos
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(tp, _)| tp.clone())
            .collect();
        self.reset_positions(&still).await
    }

    /// Applies `auto.offset.reset` to `parts`.
    async fn reset_positions(&mut self, parts: &[Tp]) -> Result<(), ConsumerError> {
        if parts.is_empty() {
            return Ok(());
        }
        let ts = match self.cfg.auto_offset_reset {
            OffsetReset::Earliest => EARLIEST,
            OffsetReset::Latest => LATEST,
            OffsetReset::None => {
                let names: Vec<String> = parts.iter().map(|(t, p)| format!("{t}-{p}")).collect();
                return Err(ConsumerError::NoOffset(names.join(", ")));
            }
        };
        let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (t, p) in parts {
            by_topic.entry(t.clone()).or_default().push(*p);
        }
        for (t, ps) in by_topic {
            let offs = self.client.list_offsets(&t, &ps, ts).await?;
            for (p, off) in offs {
                let tp = (t.clone(), p);
                if let Some(slot) = self.fetch_pos.get_mut(&tp) {
                    *slot = Some(off);
                }
                self.buffer
                    .retain(|r| !(r.topic == tp.0 && r.partition == tp.1));
            }
        }
        Ok(())
    }

    async fn refresh_leaders(&mut self) -> Result<(), ConsumerError> {
        let mut topics: Vec<String> = self.fetch_pos.keys().map(|(t, _)| t.clone()).collect();
        topics.dedup();
        if topics.is_empty() {
            self.leaders_stale = false;
            return Ok(());
        }
        let md = self.client.metadata(Some(&topics)).await?;
        self.leaders.clear();
        let mut all_known = true;
        for t in md {
            for p in t.partitions {
                if p.leader >= 0 {
                    self.leaders.insert((t.name.clone(), p.partition), p.leader);
                }
            }
        }
        for tp in self.fetch_pos.keys() {
            all_known &= self.leaders.contains_key(tp);
        }
        self.leaders_stale = !all_known;
        Ok(())
    }

    /// One fetch from each leader with fetchable partitions; false when there was none to
    /// ask (the caller then waits a little).
    async fn fetch_once(&mut self, wait: Duration) -> Result<bool, ConsumerError> {
        let buffered: BTreeSet<Tp> = self
            .buffer
            .iter()
            .map(|r| (r.topic.clone(), r.partition))
            .collect();
        let mut by_leader: BTreeMap<i32, Vec<(Tp, i64)>> = BTreeMap::new();
        for (tp, pos) in &self.fetch_pos {
            let Some(pos) = pos else { continue };
            if buffered.contains(tp) {
                continue;
            }
            match self.leaders.get(tp) {
                Some(l) => by_leader.entry(*l).or_default().push((tp.clone(), *pos)),
                None => self.leaders_stale = true,
            }
        }
        if by_leader.is_empty() {
            return Ok(false);
        }
        // With several leaders, only the last request may wait (they are sent in turn).
        let n = by_leader.len();
        for (i, (leader, parts)) in by_leader.into_iter().enumerate() {
            self.check_wakeup()?;
            let max_wait = if i + 1 == n { wait } else { Duration::ZERO };
            self.fetch_from(leader, parts, max_wait).await?;
        }
        Ok(true)
    }

    async fn fetch_from(
        &mut self,
        leader: i32,
        parts: Vec<(Tp, i64)>,
        max_wait: Duration,
    ) -> Result<(), ConsumerError> {
        if !self.response_limit_set.contains(&leader) {
            let limit = self.cfg.fetch_max_bytes.saturating_add(RESPONSE_SLACK);
            if self.client.set_max_response(leader, limit).await.is_err() {
                self.leaders_stale = true;
                tokio::time::sleep(RETRY_BACKOFF).await;
                return Ok(());
            }
            self.response_limit_set.insert(leader);
        }
        let mut req = FetchRequest::default();
        req.max_wait_ms = max_wait.as_millis().min(i32::MAX as u128) as i32;
        req.min_bytes = self.cfg.fetch_min_bytes;
        req.max_bytes = self.cfg.fetch_max_bytes;
        req.isolation_level = match self.cfg.isolation_level {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        };
        let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
        for ((t, p), pos) in &parts {
            let mut fp = FetchPartition::default();
            fp.partition = *p;
            fp.fetch_offset = *pos;
            fp.partition_max_bytes = self.cfg.max_partition_fetch_bytes;
            topics.entry(t.as_str()).or_default().push(fp);
        }
        req.topics = topics
            .into_iter()
            .map(|(t, ps)| {
                let mut ft = FetchTopic::default();
                ft.topic = TopicName(StrBytes::from_string(t.to_owned()));
                ft.partitions = ps;
                ft
            })
            .collect();
        let timeout = max_wait + self.cfg.request_timeout;
        let resp = match self.client.send_to_node(leader, &req, Some(timeout)).await {
            Ok((r, _)) => r,
            Err(ClientError::Broker(_)) | Err(ClientError::UnknownBroker(_)) => {
                // The leader may have moved or died: look it up again.
                self.leaders_stale = true;
                self.response_limit_set.remove(&leader);
                tokio::time::sleep(RETRY_BACKOFF).await;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        if resp.error_code != 0 {
            self.leaders_stale = true;
            tokio::time::sleep(RETRY_BACKOFF).await;
            return Ok(());
        }
        let read_committed = self.cfg.isolation_level == IsolationLevel::ReadCommitted;
        let mut out_of_range = Vec::new();
        for t in resp.responses {
            let topic = t.topic.0.as_str().to_owned();
            for pd in t.partitions {
                let tp = (topic.clone(), pd.partition_index);
                let Some(Some(pos)) = self.fetch_pos.get(&tp).copied() else {
                    continue;
                };
                if !parts.iter().any(|(x, o)| *x == tp && *o == pos) {
                    // Seeked or reassigned while the fetch was out.
                    continue;
                }
                match pd.error_code {
                    0 => {}
                    OFFSET_OUT_OF_RANGE => {
                        out_of_range.push(tp);
                        continue;
                    }
                    code if refresh_leader_on(code) => {
                        self.leaders_stale = true;
                        continue;
                    }
                    code => {
                        return Err(ClientError::Kafka {
                            context: format!(
                                "fetching {}-{} at offset {pos} ({})",
                                tp.0,
                                tp.1,
                                error_name(code)
                            ),
                            code,
                        }
                        .into())
                    }
                }
                let aborted: Vec<(i64, i64)> = if read_committed {
                    pd.aborted_transactions
                        .iter()
                        .flatten()
                        .map(|a| (a.producer_id.0, a.first_offset))
                        .collect()
                } else {
                    Vec::new()
                };
                let data = pd.records.unwrap_or_default();
                let decoded = decode_records(&tp.0, tp.1, data, pos, read_committed, &aborted)
                    .map_err(|msg| ConsumerError::Corrupt {
                        topic: tp.0.clone(),
                        partition: tp.1,
                        msg,
                    })?;
                if let Some(next) = decoded.next_offset {
                    if let Some(slot) = self.fetch_pos.get_mut(&tp) {
                        *slot = Some(next.max(pos));
                    }
                }
                self.buffer.extend(decoded.records);
            }
        }
        if !out_of_range.is_empty() {
            self.reset_positions(&out_of_range).await?;
        }
        if self.leaders_stale {
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        Ok(())
    }
}

/// Group upkeep without a group: a bug in the caller's state, reported rather than panicking.
fn no_group() -> ConsumerError {
    ConsumerError::Client(ClientError::Other("the consumer is not in a group".into()))
}

async fn wait_for_wakeup(rx: &mut Option<watch::Receiver<bool>>) {
    match rx {
        Some(rx) => {
            while !*rx.borrow() {
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
        None => std::future::pending::<()>().await,
    }
}

/// Records decoded from one partition's fetched bytes.
#[derive(Debug, Default)]
pub struct Decoded {
    pub records: Vec<ConsumerRecord>,
    /// The offset after the last complete batch (None when there was none).
    pub next_offset: Option<i64>,
}

/// Header fields of the batch layouts (`DefaultRecordBatch`, legacy message sets).
const LOG_OVERHEAD: usize = 12;
const MAGIC_OFFSET: usize = 16;
const V2_ATTRIBUTES: usize = 21;
const V2_LAST_OFFSET_DELTA: usize = 23;
const V2_MAX_TIMESTAMP: usize = 35;
const V2_PRODUCER_ID: usize = 43;
const V2_HEADER_LEN: usize = 61;

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}

/// Splits `data` (a fetch response's records) into whole batches, decodes them and keeps
/// the records at or after `fetch_offset`. A trailing partial batch (the broker cuts at the
/// size limit) is left for the next fetch. With `read_committed`, records of the `aborted`
/// transactions ((producer id, first offset)) are dropped; control records always are.
pub fn decode_records(
    topic: &str,
    partition: i32,
    mut data: Bytes,
    fetch_offset: i64,
    read_committed: bool,
    aborted: &[(i64, i64)],
) -> Result<Decoded, String> {
    let mut out = Decoded::default();
    let mut pending_aborts: Vec<(i64, i64)> = aborted.to_vec();
    pending_aborts.sort_by_key(|(_, first)| *first);
    let mut aborting: BTreeSet<i64> = BTreeSet::new();
    let mut first_batch = true;
    while data.len() >= LOG_OVERHEAD {
        let size = be_i32(&data, 8);
        if size < 0 {
            return Err(format!("negative batch size {size}"));
        }
        let total = LOG_OVERHEAD + size as usize;
        if data.len() < total {
            if first_batch {
                // Brokers since 0.10.1 always return at least one whole batch.
                return Err(format!(
                    "a record batch of {total} bytes did not fit in the {} bytes returned",
                    data.len()
                ));
            }
            break;
        }
        first_batch = false;
        let batch = data.split_to(total);
        if batch.len() <= MAGIC_OFFSET {
            return Err("record batch shorter than its header".into());
        }
        let magic = batch[MAGIC_OFFSET] as i8;
        let base_offset = be_i64(&batch, 0);
        let mut cursor = batch.clone();
        let set = RecordBatchDecoder::decode(&mut cursor).map_err(|e| e.to_string())?;
        let (last_offset, control, transactional, pid, log_append_time) =
            if magic >= 2 && batch.len() >= V2_HEADER_LEN {
                let attrs = i16::from_be_bytes([batch[V2_ATTRIBUTES], batch[V2_ATTRIBUTES + 1]]);
                (
                    base_offset + i64::from(be_i32(&batch, V2_LAST_OFFSET_DELTA)),
                    attrs & 0x20 != 0,
                    attrs & 0x10 != 0,
                    be_i64(&batch, V2_PRODUCER_ID),
                    (attrs & 0x08 != 0).then(|| be_i64(&batch, V2_MAX_TIMESTAMP)),
                )
            } else {
                let last = set
                    .records
                    .iter()
                    .map(|r| r.offset)
                    .max()
                    .unwrap_or(base_offset);
                (last, false, false, -1, None)
            };
        out.next_offset = Some(last_offset + 1);
        if read_committed {
            while let Some(&(p, first)) = pending_aborts.first() {
                if first > last_offset {
                    break;
                }
                aborting.insert(p);
                pending_aborts.remove(0);
            }
        }
        if control {
            // An ABORT marker (control type 0) ends that producer's aborted transaction.
            for r in &set.records {
                let kind = r.key.as_ref().filter(|k| k.len() >= 4).map(|k| {
                    let mut k = k.clone();
                    k.advance(2);
                    k.get_i16()
                });
                if kind == Some(0) {
                    aborting.remove(&pid);
                }
            }
            continue;
        }
        if read_committed && transactional && aborting.contains(&pid) {
            continue;
        }
        for r in set.records {
            if r.offset < fetch_offset {
                continue;
            }
            let (timestamp, timestamp_type) = if magic == 0 {
                (-1, TimestampKind::None)
            } else if let Some(t) = log_append_time {
                (t, TimestampKind::LogAppendTime)
            } else if r.timestamp_type == TimestampType::LogAppend {
                (r.timestamp, TimestampKind::LogAppendTime)
            } else {
                (r.timestamp, TimestampKind::CreateTime)
            };
            out.records.push(ConsumerRecord {
                topic: topic.to_owned(),
                partition,
                offset: r.offset,
                timestamp,
                timestamp_type,
                key: r.key,
                value: r.value,
                headers: r
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v))
                    .collect(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions};

    fn record(offset: i64, value: &str) -> Record {
        Record {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: -1,
            timestamp: 1_700_000_000_000 + offset,
            key: Some(Bytes::from(format!("k{offset}"))),
            value: Some(Bytes::from(value.to_owned())),
            headers: Default::default(),
        }
    }

    fn batch(records: &[Record], compression: Compression) -> Bytes {
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            records.iter(),
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .unwrap();
        buf.freeze()
    }

    #[test]
    fn decodes_every_codec_and_trims_to_the_fetch_offset() {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let recs: Vec<Record> = (10..15).map(|o| record(o, &format!("v{o}"))).collect();
            let d = decode_records("t", 0, batch(&recs, c), 12, false, &[]).unwrap();
            let offs: Vec<i64> = d.records.iter().map(|r| r.offset).collect();
            assert_eq!(offs, vec![12, 13, 14], "{c:?}");
            assert_eq!(d.next_offset, Some(15));
            assert_eq!(d.records[0].value.as_deref(), Some(&b"v12"[..]));
            assert_eq!(d.records[0].key.as_deref(), Some(&b"k12"[..]));
            assert_eq!(d.records[0].timestamp_type, TimestampKind::CreateTime);
        }
    }

    #[test]
    fn leaves_a_trailing_partial_batch_for_the_next_fetch() {
        let a = batch(&[record(0, "a")], Compression::None);
        let b = batch(&[record(1, "b")], Compression::None);
        let mut both = BytesMut::new();
        both.extend_from_slice(&a);
        both.extend_from_slice(&b[..b.len() - 3]);
        let d = decode_records("t", 0, both.freeze(), 0, false, &[]).unwrap();
        assert_eq!(d.records.len(), 1);
        assert_eq!(d.next_offset, Some(1));
        // Only a partial batch: an error, not a silent stall.
        assert!(decode_records("t", 0, b.slice(..b.len() - 3), 1, false, &[]).is_err());
        // Garbage is an error, never a panic.
        assert!(decode_records("t", 0, Bytes::from_static(&[0; 40]), 0, false, &[]).is_err());
        assert!(decode_records("t", 0, Bytes::new(), 0, false, &[])
            .unwrap()
            .records
            .is_empty());
    }
}
