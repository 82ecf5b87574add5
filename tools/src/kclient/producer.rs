//! A Kafka producer for the tools (console producer, producer perf test), after Kafka 2.4's
//! `KafkaProducer`: records are appended to per-partition batches (Kafka's default
//! partitioner: murmur2 of the key, sticky partitioning for null keys as KIP-480), a sender
//! task drains ready batches (full, lingered, flushed) into one Produce request per leader,
//! with up to `max.in.flight.requests.per.connection` requests pipelined on each broker
//! connection, retries retriable errors after refreshing the metadata, and reports each
//! record's offset or error to its callback.
//!
//! Produce connections are this module's own (not `BrokerConnection`): acks=0 requests get no
//! response and pipelining needs requests and responses decoupled. Metadata goes through
//! [`KafkaClient`], asking the broker to auto-create unknown topics as Kafka's producer does.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, ProduceRequest, ProduceResponse,
    RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch, Notify};

use super::versions::pick;
use super::{client_versions, error_name, metadata_request, ClientConfig, KafkaClient};

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/// The producer settings the tools use, with Kafka 2.4's defaults.
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    /// `bootstrap.servers`, comma-separated host:port.
    pub bootstrap: String,
    pub client_id: String,
    /// `acks`: 0, 1 or -1 (all).
    pub acks: i16,
    /// `batch.size` in bytes.
    pub batch_size: usize,
    /// `linger.ms`.
    pub linger: Duration,
    pub compression: Compression,
    /// `retries`.
    pub retries: u32,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
    /// `delivery.timeout.ms`: a record fails once this has passed since it was batched.
    pub delivery_timeout: Duration,
    /// `max.block.ms`: how long `send` waits for metadata or buffer space.
    pub max_block: Duration,
    /// `buffer.memory` in bytes.
    pub buffer_memory: usize,
    /// `max.request.size` in bytes.
    pub max_request_size: usize,
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight: usize,
    /// `metadata.max.age.ms`.
    pub metadata_max_age: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            bootstrap: String::new(),
            client_id: "producer-1".to_owned(),
            acks: 1,
            batch_size: 16384,
            linger: Duration::ZERO,
            compression: Compression::None,
            retries: i32::MAX as u32,
            retry_backoff: Duration::from_millis(100),
            request_timeout: Duration::from_millis(30_000),
            delivery_timeout: Duration::from_millis(120_000),
            max_block: Duration::from_millis(60_000),
            buffer_memory: 32 << 20,
            max_request_size: 1 << 20,
            max_in_flight: 5,
            metadata_max_age: Duration::from_millis(300_000),
        }
    }
}

/// A bad producer setting, worded as Kafka's `ConfigException`.
#[derive(Clone, Debug, thiserror::Error)]
#[error("org.apache.kafka.common.config.ConfigException: {0}")]
pub struct ConfigError(pub String);

fn invalid(key: &str, value: &str, why: &str) -> ConfigError {
    ConfigError(format!(
        "Invalid value {value} for configuration {key}: {why}"
    ))
}

fn int_prop(key: &str, value: &str) -> Result<i64, ConfigError> {
    let v = value.trim();
    let n: i64 = v
        .parse()
        .map_err(|_| invalid(key, v, "Not a number of type INT"))?;
    if n < i32::MIN as i64 || n > i32::MAX as i64 {
        return Err(invalid(key, v, "Not a number of type INT"));
    }
    Ok(n)
}

fn long_prop(key: &str, value: &str) -> Result<i64, ConfigError> {
    let v = value.trim();
    v.parse()
        .map_err(|_| invalid(key, v, "Not a number of type LONG"))
}

fn at_least(key: &str, value: &str, n: i64, min: i64) -> Result<u64, ConfigError> {
    if n < min {
        return Err(invalid(
            key,
            value.trim(),
            &format!("Value must be at least {min}"),
        ));
    }
    Ok(n as u64)
}

/// A codec name as `compression.type` takes it.
pub fn parse_compression(name: &str) -> Option<Compression> {
    match name.trim().to_ascii_lowercase().as_str() {
        "none" => Some(Compression::None),
        "gzip" => Some(Compression::Gzip),
        "snappy" => Some(Compression::Snappy),
        "lz4" => Some(Compression::Lz4),
        "zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

impl ProducerConfig {
    /// Applies Kafka producer properties on top of `self`. Keys this producer has no use for
    /// (serializers, security settings it does not implement) are returned so that the
    /// caller can warn as Kafka does about unused configs.
    pub fn apply(&mut self, props: &BTreeMap<String, String>) -> Result<Vec<String>, ConfigError> {
        let mut unused = Vec::new();
        for (k, v) in props {
            match k.as_str() {
                "bootstrap.servers" => self.bootstrap = v.trim().to_owned(),
                "client.id" => self.client_id = v.trim().to_owned(),
                "acks" => {
                    self.acks = match v.trim() {
                        "all" | "-1" => -1,
                        "0" => 0,
                        "1" => 1,
                        _ => {
                            return Err(invalid(
                                k,
                                v.trim(),
                                "String must be one of: all, -1, 0, 1",
                            ))
                        }
                    }
                }
                "batch.size" => self.batch_size = at_least(k, v, int_prop(k, v)?, 0)? as usize,
                "linger.ms" => {
                    self.linger = Duration::from_millis(at_least(k, v, long_prop(k, v)?, 0)?)
                }
                "compression.type" => {
                    self.compression = parse_compression(v).ok_or_else(|| {
                        invalid(
                            k,
                            v.trim(),
                            "String must be one of: none, gzip, snappy, lz4, zstd",
                        )
                    })?
                }
                "retries" => self.retries = at_least(k, v, int_prop(k, v)?, 0)? as u32,
                "retry.backoff.ms" => {
                    self.retry_backoff = Duration::from_millis(at_least(k, v, long_prop(k, v)?, 0)?)
                }
                "request.timeout.ms" => {
                    self.request_timeout =
                        Duration::from_millis(at_least(k, v, int_prop(k, v)?, 0)?)
                }
                "delivery.timeout.ms" => {
                    self.delivery_timeout =
                        Duration::from_millis(at_least(k, v, int_prop(k, v)?, 0)?)
                }
                "max.block.ms" => {
                    self.max_block = Duration::from_millis(at_least(k, v, long_prop(k, v)?, 0)?)
                }
                "buffer.memory" => {
                    self.buffer_memory = at_least(k, v, long_prop(k, v)?, 0)? as usize
                }
                "max.request.size" => {
                    self.max_request_size = at_least(k, v, int_prop(k, v)?, 0)? as usize
                }
                "max.in.flight.requests.per.connection" => {
                    self.max_in_flight = at_least(k, v, int_prop(k, v)?, 1)? as usize
                }
                "metadata.max.age.ms" => {
                    self.metadata_max_age =
                        Duration::from_millis(at_least(k, v, long_prop(k, v)?, 0)?)
                }
                // Always byte arrays here; accepted so that Kafka's usual settings load.
                "key.serializer"
                | "value.serializer"
                | "send.buffer.bytes"
                | "receive.buffer.bytes" => {}
                _ => unused.push(k.clone()),
            }
        }
        Ok(unused)
    }

    /// Kafka's checks across settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.bootstrap.split(',').all(|s| s.trim().is_empty()) {
            return Err(ConfigError(
                "Missing required configuration \"bootstrap.servers\" which has no default value."
                    .into(),
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(invalid(
                "request.timeout.ms",
                "0",
                "Value must be at least 1",
            ));
        }
        if self.delivery_timeout < self.linger + self.request_timeout {
            return Err(ConfigError(format!(
                "delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms ({} < {} + {})",
                self.delivery_timeout.as_millis(),
                self.linger.as_millis(),
                self.request_timeout.as_millis()
            )));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Records, results, errors
// ---------------------------------------------------------------------------------------

/// One record to send.
#[derive(Clone, Debug, Default)]
pub struct ProducerRecord {
    pub topic: String,
    /// An explicit partition; None lets the partitioner choose.
    pub partition: Option<i32>,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    /// Creation time in ms; None: now.
    pub timestamp: Option<i64>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// Where a record was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordMetadata {
    pub topic: String,
    pub partition: i32,
    /// -1 with acks=0 (the broker does not answer).
    pub offset: i64,
    pub timestamp: i64,
}

/// A failed send, as Kafka's exception class and message (which is how the tools print it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {message}")]
pub struct SendError {
    /// The Java exception class Kafka's producer would raise.
    pub class: &'static str,
    pub message: String,
    /// The Kafka error code, when the broker returned one.
    pub code: Option<i16>,
}

const ERRORS: &str = "org.apache.kafka.common.errors.";

impl SendError {
    fn new(class: &'static str, message: impl Into<String>) -> SendError {
        SendError {
            class,
            message: message.into(),
            code: None,
        }
    }

    fn timeout(message: impl Into<String>) -> SendError {
        SendError::new("org.apache.kafka.common.errors.TimeoutException", message)
    }

    /// The exception Kafka's producer maps a broker error code to.
    pub fn from_code(code: i16, topic: &str) -> SendError {
        let (class, message): (&'static str, String) = match code {
            2 => ("CorruptRecordException", "This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt.".into()),
            3 => ("UnknownTopicOrPartitionException", "This server does not host this topic-partition.".into()),
            5 => ("LeaderNotAvailableException", "There is no leader for this topic-partition as we are in the middle of a leadership election.".into()),
            6 => ("NotLeaderForPartitionException", "This server is not the leader for that topic-partition.".into()),
            7 => ("TimeoutException", "The request timed out.".into()),
            10 => ("RecordTooLargeException", "The request included a message larger than the max message size the server will accept.".into()),
            13 => ("NetworkException", "The server disconnected before a response was received.".into()),
            // What the producer says when the metadata rejects the topic name.
            17 => ("InvalidTopicException", format!("Invalid topics: [{topic}]")),
            18 => ("RecordBatchTooLargeException", "The request included message batch larger than the configured segment size on the server.".into()),
            19 => ("NotEnoughReplicasException", "Messages are rejected since there are fewer in-sync replicas than required.".into()),
            20 => ("NotEnoughReplicasAfterAppendException", "Messages are written to the log, but to fewer in-sync replicas than required.".into()),
            21 => ("InvalidRequiredAcksException", "Produce request specified an invalid value for required acks.".into()),
            29 => ("TopicAuthorizationFailedException", format!("Not authorized to access topics: [{topic}]")),
            32 => ("InvalidTimestampException", "The timestamp of the message is out of acceptable range.".into()),
            56 => ("KafkaStorageException", "Disk error when trying to access log file on the disk.".into()),
            74 => ("FencedLeaderEpochException", "The leader epoch in the request is older than the epoch on the broker".into()),
            75 => ("UnknownLeaderEpochException", "The leader epoch in the request is newer than the epoch on the broker.".into()),
            76 => ("UnsupportedCompressionTypeException", "The requesting client does not support the compression type of given partition.".into()),
            87 => ("InvalidRecordException", "This record has failed the validation on broker and hence will be rejected.".into()),
            _ => {
                return SendError {
                    class: "org.apache.kafka.common.errors.UnknownServerException",
                    message: format!("The broker returned error {}", error_name(code)),
                    code: Some(code),
                }
            }
        };
        SendError {
            class: full_class(class),
            message,
            code: Some(code),
        }
    }
}

/// The fully qualified name of one of Kafka's `org.apache.kafka.common.errors` classes.
fn full_class(short: &str) -> &'static str {
    // A fixed set of names; leaking each once keeps SendError cheap to clone.
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let full = format!("{ERRORS}{short}");
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.iter().find(|n| **n == full) {
        return n;
    }
    let leaked: &'static str = Box::leak(full.into_boxed_str());
    names.push(leaked);
    leaked
}

/// Broker errors after which a batch is retried (Kafka's `RetriableException`s).
fn retriable(code: i16) -> bool {
    matches!(code, 2 | 3 | 5 | 6 | 7 | 13 | 19 | 20 | 56 | 74 | 75)
}

/// Errors that mean this client's view of the cluster is stale.
fn invalidates_metadata(code: i16) -> bool {
    matches!(code, 3 | 5 | 6 | 13 | 56 | 74 | 75)
}

/// Called once per record with its result.
pub type Callback = Box<dyn FnOnce(Result<RecordMetadata, SendError>) + Send>;

// ---------------------------------------------------------------------------------------
// Partitioning
// ---------------------------------------------------------------------------------------

/// Kafka's `Utils.murmur2` (32-bit MurmurHash2, seed 0x9747b28c), which its default
/// partitioner applies to the key bytes.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    // Java sign-extends each byte before masking; masking with 0xff gives the same bits.
    match tail.len() {
        3 => {
            h ^= (tail[2] as u32) << 16;
            h ^= (tail[1] as u32) << 8;
            h ^= tail[0] as u32;
            h = h.wrapping_mul(M);
        }
        2 => {
            h ^= (tail[1] as u32) << 8;
            h ^= tail[0] as u32;
            h = h.wrapping_mul(M);
        }
        1 => {
            h ^= tail[0] as u32;
            h = h.wrapping_mul(M);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition Kafka's default partitioner gives a keyed record.
pub fn partition_for_key(key: &[u8], num_partitions: usize) -> i32 {
    if num_partitions == 0 {
        return 0;
    }
    (to_positive(murmur2(key)) as usize % num_partitions) as i32
}

/// KIP-480's `StickyPartitionCache.nextPartition`: a new sticky partition for `topic` when
/// the current one is `prev` (or none is set), chosen at random among the partitions with a
/// leader, different from the old one when there is a choice.
fn next_sticky(
    sticky: &mut HashMap<String, i32>,
    topic: &str,
    meta: &TopicMeta,
    prev: Option<i32>,
) -> i32 {
    let old = sticky.get(topic).copied();
    if old.is_some() && old != prev {
        return old.unwrap_or(0);
    }
    let available: Vec<i32> = meta
        .leaders
        .iter()
        .enumerate()
        .filter(|(_, l)| **l >= 0)
        .map(|(p, _)| p as i32)
        .collect();
    let n = meta.leaders.len().max(1);
    let new = match available.len() {
        0 => (to_positive(rand::random::<i32>()) as usize % n) as i32,
        1 => available[0],
        len => loop {
            let p = available[to_positive(rand::random::<i32>()) as usize % len];
            if Some(p) != old {
                break p;
            }
        },
    };
    sticky.insert(topic.to_owned(), new);
    new
}

// ---------------------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------------------

/// Topic metadata as the producer keeps it: the leader of each partition (-1: none).
#[derive(Clone, Debug, Default)]
struct TopicMeta {
    leaders: Vec<i32>,
}

type Tp = (String, i32);

struct Pending {
    key: Option<Bytes>,
    value: Option<Bytes>,
    timestamp: i64,
    headers: Vec<(String, Option<Bytes>)>,
    callback: Option<Callback>,
}

struct Batch {
    records: Vec<Pending>,
    /// Estimated encoded size, uncompressed.
    size: usize,
    created: Instant,
    /// Still taking records (false once sent).
    open: bool,
    attempts: u32,
    retry_at: Option<Instant>,
    /// The encoded record batch, kept for retries.
    encoded: Option<Bytes>,
}

/// A record batch's fixed header (magic v2).
const BATCH_OVERHEAD: usize = 61;

/// An upper bound of one record's size in a v2 batch: the varint fields at their largest.
fn record_size(
    key: Option<&Bytes>,
    value: Option<&Bytes>,
    headers: &[(String, Option<Bytes>)],
) -> usize {
    let mut n = 5 + 1 + 10 + 5 + 5 + 5 + 5;
    n += key.map_or(0, |k| k.len()) + value.map_or(0, |v| v.len());
    for (k, v) in headers {
        n += 10 + k.len() + v.as_ref().map_or(0, |v| v.len());
    }
    n
}

#[derive(Default)]
struct State {
    topics: HashMap<String, TopicMeta>,
    /// Topics whose metadata `send` is waiting for or that are in use.
    requested: HashSet<String>,
    /// Topics whose metadata came back with a non-retriable error.
    topic_errors: HashMap<String, i16>,
    brokers: BTreeMap<i32, String>,
    /// The metadata is stale and should be fetched again.
    stale: bool,
    last_metadata: Option<Instant>,
    /// Why the last metadata fetch failed, for messages.
    metadata_error: Option<String>,
    queues: BTreeMap<Tp, VecDeque<Batch>>,
    sticky: HashMap<String, i32>,
    /// Bytes of records not yet completed.
    buffered: usize,
    /// Records not yet completed.
    unfinished: usize,
    /// Produce requests in flight per node.
    inflight: HashMap<i32, usize>,
    /// Callers in `flush`: every batch is ready meanwhile.
    flushing: usize,
    closed: bool,
}

struct Shared {
    cfg: ProducerConfig,
    state: Mutex<State>,
    /// Wakes the sender task.
    wake: Notify,
    /// Bumped whenever waiters in `send`/`flush` may proceed.
    changed: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take the whole producer down with poisoning.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// The producer handle
// ---------------------------------------------------------------------------------------

/// A producer; `send` appends, a background task sends. Must be created inside a Tokio
/// runtime.
pub struct Producer {
    shared: Arc<Shared>,
    sender: Option<tokio::task::JoinHandle<()>>,
}

impl Producer {
    pub fn new(cfg: ProducerConfig) -> Result<Producer, ConfigError> {
        cfg.validate()?;
        let (changed, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            cfg,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            changed,
        });
        let sender = tokio::spawn(run_sender(shared.clone()));
        Ok(Producer {
            shared,
            sender: Some(sender),
        })
    }

    pub fn config(&self) -> &ProducerConfig {
        &self.shared.cfg
    }

    /// Why the last metadata request failed, if it did (e.g. no broker reachable).
    pub fn metadata_error(&self) -> Option<String> {
        self.shared.lock().metadata_error.clone()
    }

    /// Appends `rec` to its partition's batch, waiting up to `max.block.ms` for the topic's
    /// metadata (asking the broker to auto-create it) and for buffer space. `callback` gets
    /// the record's result once the broker has answered; an error returned here (timeout,
    /// record too large, closed producer) means the callback is never called.
    pub async fn send(
        &self,
        rec: ProducerRecord,
        callback: Option<Callback>,
    ) -> Result<(), SendError> {
        let cfg = &self.shared.cfg;
        let size = record_size(rec.key.as_ref(), rec.value.as_ref(), &rec.headers);
        if size + BATCH_OVERHEAD > cfg.max_request_size {
            return Err(SendError::new(
                "org.apache.kafka.common.errors.RecordTooLargeException",
                format!("The message is {} bytes when serialized which is larger than {}, which is the value of the max.request.size configuration.", size + BATCH_OVERHEAD, cfg.max_request_size),
            ));
        }
        if size + BATCH_OVERHEAD > cfg.buffer_memory {
            return Err(SendError::new(
                "org.apache.kafka.common.errors.RecordTooLargeException",
                format!("The message is {} bytes when serialized which is larger than the total memory buffer you have configured with the buffer.memory configuration.", size + BATCH_OVERHEAD),
            ));
        }
        let start = Instant::now();
        let deadline = start + cfg.max_block;
        let mut changed = self.shared.changed.subscribe();
        let mut rec = Some(rec);
        let mut callback = callback;
        loop {
            let waiting_for_memory;
            {
                let mut st = self.shared.lock();
                let Some(r) = rec.as_ref() else {
                    return Ok(());
                };
                if st.closed {
                    return Err(SendError::new(
                        "java.lang.IllegalStateException",
                        "Cannot perform operation after producer has been closed",
                    ));
                }
                if let Some(code) = st.topic_errors.get(&r.topic) {
                    return Err(SendError::from_code(*code, &r.topic));
                }
                match st.topics.get(&r.topic) {
                    Some(meta) if !meta.leaders.is_empty() => {
                        if let Some(p) = r.partition {
                            if p < 0 || p as usize >= meta.leaders.len() {
                                return Err(SendError::new(
                                    "java.lang.IllegalArgumentException",
                                    format!(
                                        "Invalid partition given with record: {p} is not in the range [0...{}).",
                                        meta.leaders.len()
                                    ),
                                ));
                            }
                        }
                        if st.buffered + size <= cfg.buffer_memory {
                            if let Some(r) = rec.take() {
                                append(&mut st, cfg, r, size, callback.take());
                            }
                            drop(st);
                            self.shared.wake.notify_one();
                            return Ok(());
                        }
                        waiting_for_memory = true;
                    }
                    _ => {
                        waiting_for_memory = false;
                        if st.requested.insert(r.topic.clone()) {
                            st.stale = true;
                        }
                        drop(st);
                        self.shared.wake.notify_one();
                    }
                }
            }
            if Instant::now() >= deadline {
                let ms = cfg.max_block.as_millis();
                let topic = rec.as_ref().map(|r| r.topic.clone()).unwrap_or_default();
                return Err(if waiting_for_memory {
                    SendError::timeout(format!(
                        "Failed to allocate memory within the configured max blocking time {ms} ms."
                    ))
                } else {
                    SendError::timeout(format!(
                        "Topic {topic} not present in metadata after {ms} ms."
                    ))
                });
            }
            tokio::select! {
                _ = changed.changed() => {}
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
        }
    }

    /// Sends `rec` and waits for its result.
    pub async fn send_and_wait(&self, rec: ProducerRecord) -> Result<RecordMetadata, SendError> {
        let (tx, rx) = oneshot::channel();
        let cb: Callback = Box::new(move |r| {
            let _ = tx.send(r);
        });
        self.send(rec, Some(cb)).await?;
        rx.await.unwrap_or_else(|_| {
            Err(SendError::new(
                "org.apache.kafka.common.KafkaException",
                "The producer stopped before the record was sent",
            ))
        })
    }

    /// Makes every batch ready now and waits until every record sent so far has completed.
    pub async fn flush(&self) {
        let mut changed = self.shared.changed.subscribe();
        self.shared.lock().flushing += 1;
        self.shared.wake.notify_one();
        loop {
            if self.shared.lock().unfinished == 0 {
                break;
            }
            if changed.changed().await.is_err() {
                break;
            }
        }
        let mut st = self.shared.lock();
        st.flushing = st.flushing.saturating_sub(1);
    }

    /// Sends what is buffered, waits for it, and stops the sender.
    pub async fn close(mut self) {
        self.flush().await;
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(h) = self.sender.take() {
            // Nothing is left to send after the flush; the sender may still be waiting on a
            // metadata request for a topic whose records all failed, which must not hold up
            // the exit.
            h.abort();
            let _ = h.await;
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        if let Some(h) = self.sender.take() {
            h.abort();
        }
    }
}

/// Appends a record whose topic's metadata is known (the partitioner runs here).
fn append(
    st: &mut State,
    cfg: &ProducerConfig,
    rec: ProducerRecord,
    size: usize,
    cb: Option<Callback>,
) {
    let Some(meta) = st.topics.get(&rec.topic).cloned() else {
        return;
    };
    let fits = |st: &State, tp: &Tp| {
        st.queues
            .get(tp)
            .and_then(|q| q.back())
            .is_some_and(|b| b.open && b.size + size <= cfg.batch_size.max(BATCH_OVERHEAD))
    };
    let partition = match (rec.partition, rec.key.as_ref()) {
        (Some(p), _) => p,
        (None, Some(k)) => partition_for_key(k, meta.leaders.len()),
        (None, None) => {
            let p = match st.sticky.get(&rec.topic) {
                Some(p) if (*p as usize) < meta.leaders.len() => *p,
                _ => next_sticky(&mut st.sticky, &rec.topic, &meta, None),
            };
            // KIP-480: a record that would start a new batch moves the topic's sticky
            // partition first.
            if fits(st, &(rec.topic.clone(), p)) {
                p
            } else {
                next_sticky(&mut st.sticky, &rec.topic, &meta, Some(p))
            }
        }
    };
    let tp = (rec.topic, partition);
    let pending = Pending {
        key: rec.key,
        value: rec.value,
        timestamp: rec.timestamp.unwrap_or_else(now_ms),
        headers: rec.headers,
        callback: cb,
    };
    let new_batch = !fits(st, &tp);
    let q = st.queues.entry(tp).or_default();
    if new_batch {
        q.push_back(Batch {
            records: Vec::new(),
            size: BATCH_OVERHEAD,
            created: Instant::now(),
            open: true,
            attempts: 0,
            retry_at: None,
            encoded: None,
        });
    }
    if let Some(b) = q.back_mut() {
        b.records.push(pending);
        b.size += size;
    }
    st.buffered += size;
    st.unfinished += 1;
}

// ---------------------------------------------------------------------------------------
// The sender task
// ---------------------------------------------------------------------------------------

/// One Produce request for a connection task: a batch per partition.
struct Job {
    batches: Vec<(Tp, Batch)>,
}

struct ConnHandle {
    tx: mpsc::UnboundedSender<Job>,
}

async fn run_sender(shared: Arc<Shared>) {
    let cfg = shared.cfg.clone();
    let mut client: Option<KafkaClient> = None;
    let mut conns: HashMap<i32, ConnHandle> = HashMap::new();
    let mut next_metadata = Instant::now();
    loop {
        let now = Instant::now();
        // Metadata first: nothing can be routed without it.
        let want_metadata = {
            let st = shared.lock();
            let aged = st
                .last_metadata
                .is_some_and(|t| now.duration_since(t) >= cfg.metadata_max_age);
            (st.stale || aged) && !st.requested.is_empty()
        };
        if want_metadata && now >= next_metadata {
            refresh_metadata(&shared, &mut client).await;
            next_metadata = Instant::now() + cfg.retry_backoff;
            shared.bump();
        }

        let (jobs, expired, next_wake, done) = {
            let mut st = shared.lock();
            let now = Instant::now();
            let (jobs, expired, next_wake) = collect_ready(&mut st, &cfg, now);
            for (node, _) in &jobs {
                *st.inflight.entry(*node).or_default() += 1;
            }
            let done = st.closed && st.unfinished == 0;
            (jobs, expired, next_wake, done)
        };
        if !expired.is_empty() {
            fail_batches(&shared, expired);
        }
        if done {
            break;
        }
        let dispatched = !jobs.is_empty();
        for (node, job) in jobs {
            let addr = shared
                .lock()
                .brokers
                .get(&node)
                .cloned()
                .unwrap_or_default();
            let handle = conns
                .entry(node)
                .and_modify(|h| {
                    if h.tx.is_closed() {
                        *h = spawn_conn(&shared, node, addr.clone());
                    }
                })
                .or_insert_with(|| spawn_conn(&shared, node, addr.clone()));
            if let Err(mpsc::error::SendError(job)) = handle.tx.send(job) {
                // The connection died between the check and the send: back to the queues.
                requeue(&shared, node, job, None);
            }
        }
        if dispatched {
            continue;
        }
        let mut wake_at = next_wake;
        let st_wants_md = {
            let st = shared.lock();
            st.stale && !st.requested.is_empty()
        };
        if st_wants_md {
            wake_at = Some(wake_at.map_or(next_metadata, |w| w.min(next_metadata)));
        }
        let sleep_until = wake_at.unwrap_or_else(|| Instant::now() + Duration::from_secs(60));
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep_until(sleep_until.into()) => {}
        }
    }
}

/// Takes the batches ready to go (at most one per partition, one request per leader within
/// `max.request.size`), the batches past `delivery.timeout.ms`, and when to look again.
#[allow(clippy::type_complexity)]
fn collect_ready(
    st: &mut State,
    cfg: &ProducerConfig,
    now: Instant,
) -> (
    Vec<(i32, Job)>,
    Vec<(Tp, Batch, SendError)>,
    Option<Instant>,
) {
    let mut jobs: BTreeMap<i32, (Job, usize)> = BTreeMap::new();
    let mut expired = Vec::new();
    let mut next_wake: Option<Instant> = None;
    let mut wake = |t: Instant| next_wake = Some(next_wake.map_or(t, |w: Instant| w.min(t)));
    let flushing = st.flushing > 0 || st.closed;
    let mut stale = false;
    let keys: Vec<Tp> = st.queues.keys().cloned().collect();
    for tp in keys {
        let leader = st
            .topics
            .get(&tp.0)
            .and_then(|m| m.leaders.get(tp.1 as usize))
            .copied()
            .unwrap_or(-1);
        let Some(q) = st.queues.get_mut(&tp) else {
            continue;
        };
        // Expire what waited too long (Kafka does not expire batches in flight).
        while let Some(front) = q.front() {
            if now.duration_since(front.created) < cfg.delivery_timeout {
                break;
            }
            if let Some(b) = q.pop_front() {
                let msg = format!(
                    "Expiring {} record(s) for {}-{}:{} ms has passed since batch creation",
                    b.records.len(),
                    tp.0,
                    tp.1,
                    now.duration_since(b.created).as_millis()
                );
                expired.push((tp.clone(), b, SendError::timeout(msg)));
            }
        }
        let Some(front) = q.front() else {
            st.queues.remove(&tp);
            continue;
        };
        wake(front.created + cfg.delivery_timeout);
        if leader < 0 || !st.brokers.contains_key(&leader) {
            stale = true;
            continue;
        }
        if let Some(t) = front.retry_at {
            if t > now {
                wake(t);
                continue;
            }
        }
        let ready = q.len() > 1
            || front.size + 64 > cfg.batch_size
            || now >= front.created + cfg.linger
            || flushing
            || front.attempts > 0;
        if !ready {
            wake(front.created + cfg.linger);
            continue;
        }
        if st.inflight.get(&leader).copied().unwrap_or(0) >= cfg.max_in_flight {
            continue;
        }
        let entry = jobs.entry(leader).or_insert_with(|| {
            (
                Job {
                    batches: Vec::new(),
                },
                0,
            )
        });
        if !entry.0.batches.is_empty() && entry.1 + front.size > cfg.max_request_size {
            continue;
        }
        if let Some(mut b) = q.pop_front() {
            b.open = false;
            entry.1 += b.size;
            entry.0.batches.push((tp.clone(), b));
        }
        if q.is_empty() {
            st.queues.remove(&tp);
        }
    }
    if stale {
        st.stale = true;
    }
    let jobs = jobs
        .into_iter()
        .filter(|(_, (j, _))| !j.batches.is_empty())
        .map(|(n, (j, _))| (n, j))
        .collect();
    (jobs, expired, next_wake)
}

/// Fetches metadata for the topics in use, auto-creating unknown ones.
async fn refresh_metadata(shared: &Arc<Shared>, client: &mut Option<KafkaClient>) {
    let cfg = &shared.cfg;
    let topics: Vec<String> = shared.lock().requested.iter().cloned().collect();
    if client.is_none() {
        let mut cc = ClientConfig::new(&cfg.bootstrap, &cfg.client_id);
        cc.request_timeout = cfg.request_timeout;
        match KafkaClient::connect(cc).await {
            Ok(c) => *client = Some(c),
            Err(e) => {
                let mut st = shared.lock();
                st.metadata_error = Some(e.to_string());
                return;
            }
        }
    }
    let Some(c) = client.as_mut() else {
        return;
    };
    let req = metadata_request(Some(&topics[..]), true);
    let resp = match c.send_any(&req, None).await {
        Ok((resp, _)) => resp,
        Err(e) => {
            shared.lock().metadata_error = Some(e.to_string());
            // Start again from the bootstrap list next time.
            *client = None;
            return;
        }
    };
    let mut st = shared.lock();
    st.metadata_error = None;
    st.last_metadata = Some(Instant::now());
    st.stale = false;
    st.brokers = resp
        .brokers
        .iter()
        .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
        .collect();
    for t in resp.topics {
        let Some(name) = t.name.map(|n| n.0.as_str().to_owned()) else {
            continue;
        };
        match t.error_code {
            0 => {}
            // Still being created, or unknown (auto-creation off): keep asking until
            // max.block.ms, as Kafka's producer does.
            3 | 5 => {
                st.stale = true;
                continue;
            }
            code => {
                st.topic_errors.insert(name, code);
                continue;
            }
        }
        let n = t
            .partitions
            .iter()
            .map(|p| p.partition_index + 1)
            .max()
            .unwrap_or(0)
            .max(0) as usize;
        let mut leaders = vec![-1; n];
        for p in &t.partitions {
            if p.partition_index >= 0 {
                leaders[p.partition_index as usize] = if p.error_code == 0 || p.leader_id.0 >= 0 {
                    p.leader_id.0
                } else {
                    -1
                };
            }
        }
        if leaders.iter().any(|l| *l < 0) {
            st.stale = true;
        }
        st.topic_errors.remove(&name);
        st.topics.insert(name, TopicMeta { leaders });
    }
}

fn fail_batches(shared: &Arc<Shared>, failed: Vec<(Tp, Batch, SendError)>) {
    let mut calls = Vec::new();
    let mut finished = 0;
    {
        let mut st = shared.lock();
        for (tp, b, err) in failed {
            finished += b.records.len();
            st.buffered = st.buffered.saturating_sub(b.size - BATCH_OVERHEAD);
            for r in b.records {
                if let Some(cb) = r.callback {
                    calls.push((cb, Err(err.clone())));
                }
            }
            let _ = tp;
        }
    }
    finish(shared, calls, finished);
}

/// Runs the callbacks of completed records, then counts the records as finished: `flush`
/// returns only once every callback has run.
fn finish(
    shared: &Arc<Shared>,
    calls: Vec<(Callback, Result<RecordMetadata, SendError>)>,
    finished: usize,
) {
    for (cb, r) in calls {
        cb(r);
    }
    if finished > 0 {
        let mut st = shared.lock();
        st.unfinished = st.unfinished.saturating_sub(finished);
    }
    shared.bump();
    shared.wake.notify_one();
}

/// Puts a job's batches back at the front of their queues after `retry.backoff.ms`, counting
/// an attempt when `err` is given (the request may have reached the broker); batches out of
/// retries fail with it. Batches that never reached a broker (no connection) are not counted,
/// as Kafka keeps them in the accumulator until `delivery.timeout.ms`.
fn requeue(shared: &Arc<Shared>, node: i32, job: Job, err: Option<SendError>) {
    let cfg = &shared.cfg;
    let mut failed = Vec::new();
    {
        let mut st = shared.lock();
        if let Some(n) = st.inflight.get_mut(&node) {
            *n = n.saturating_sub(1);
        }
        st.stale = true;
        for (tp, mut b) in job.batches.into_iter().rev() {
            if let Some(e) = &err {
                b.attempts += 1;
                if b.attempts > cfg.retries || b.created.elapsed() >= cfg.delivery_timeout {
                    failed.push((tp, b, e.clone()));
                    continue;
                }
            }
            b.retry_at = Some(Instant::now() + cfg.retry_backoff);
            st.queues.entry(tp).or_default().push_front(b);
        }
    }
    if !failed.is_empty() {
        fail_batches(shared, failed);
    }
    shared.bump();
    shared.wake.notify_one();
}

// ---------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------

fn spawn_conn(shared: &Arc<Shared>, node: i32, addr: String) -> ConnHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run_conn(shared.clone(), node, addr, rx));
    ConnHandle { tx }
}

/// Encodes one request frame (size, header, body).
fn frame<R: Request>(
    req: &R,
    version: i16,
    correlation: i32,
    client_id: &str,
) -> Result<Bytes, String> {
    let api = ApiKey::try_from(R::KEY).map_err(|_| "unknown api key".to_owned())?;
    let mut header = RequestHeader::default();
    header.request_api_key = R::KEY;
    header.request_api_version = version;
    header.correlation_id = correlation;
    header.client_id = Some(StrBytes::from_string(client_id.to_owned()));
    let mut body = BytesMut::with_capacity(256);
    body.put_i32(0);
    header
        .encode(&mut body, api.request_header_version(version))
        .map_err(|e| format!("encoding the request header: {e}"))?;
    req.encode(&mut body, version)
        .map_err(|e| format!("encoding {api:?}: {e}"))?;
    let len = (body.len() - 4) as i32;
    body[..4].copy_from_slice(&len.to_be_bytes());
    Ok(body.freeze())
}

/// Reads response frames into `tx` until the connection fails.
async fn read_frames(
    mut rd: OwnedReadHalf,
    max: usize,
    tx: mpsc::UnboundedSender<Result<Bytes, String>>,
) {
    loop {
        let size = match rd.read_i32().await {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                return;
            }
        };
        if size < 0 || size as usize > max {
            let _ = tx.send(Err(format!("invalid response size {size}")));
            return;
        }
        let mut buf = vec![0u8; size as usize];
        if let Err(e) = rd.read_exact(&mut buf).await {
            let _ = tx.send(Err(e.to_string()));
            return;
        }
        if tx.send(Ok(Bytes::from(buf))).is_err() {
            return;
        }
    }
}

/// Largest response accepted on a produce connection.
const MAX_RESPONSE: usize = 64 << 20;

/// Opens the connection and picks the Produce version (ApiVersions v0).
async fn open(cfg: &ProducerConfig, addr: &str) -> Result<(TcpStream, i16), String> {
    let mut stream = tokio::time::timeout(cfg.request_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connection to {addr} timed out"))?
        .map_err(|e| format!("connection to {addr} failed: {e}"))?;
    let _ = stream.set_nodelay(true);
    let f = frame(&ApiVersionsRequest::default(), 0, 0, &cfg.client_id)?;
    let exchange = async {
        stream.write_all(&f).await.map_err(|e| e.to_string())?;
        let size = stream.read_i32().await.map_err(|e| e.to_string())?;
        if !(0..=1 << 20).contains(&size) {
            return Err(format!("invalid response size {size}"));
        }
        let mut buf = vec![0u8; size as usize];
        stream
            .read_exact(&mut buf)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(Bytes::from(buf))
    };
    let mut buf = tokio::time::timeout(cfg.request_timeout, exchange)
        .await
        .map_err(|_| format!("ApiVersions to {addr} timed out"))??;
    let _ = ResponseHeader::decode(&mut buf, ApiKey::ApiVersions.response_header_version(0))
        .map_err(|e| format!("ApiVersions from {addr}: {e}"))?;
    let resp = ApiVersionsResponse::decode(&mut buf, 0)
        .map_err(|e| format!("ApiVersions from {addr}: {e}"))?;
    let (lo, hi) = client_versions(ApiKey::Produce).unwrap_or((3, 8));
    let theirs = resp
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::Produce as i16)
        .map(|k| (k.min_version, k.max_version))
        .ok_or_else(|| format!("broker {addr} does not support Produce"))?;
    let v = pick((lo, hi), theirs)
        .ok_or_else(|| format!("broker {addr} does not support Produce versions {lo}..={hi}"))?;
    Ok((stream, v))
}

fn encode_batch(b: &mut Batch, compression: Compression) -> Result<Bytes, String> {
    if let Some(e) = &b.encoded {
        return Ok(e.clone());
    }
    let records: Vec<Record> = b
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut headers: kafka_protocol::indexmap::IndexMap<StrBytes, Option<Bytes>> =
                Default::default();
            for (k, v) in &r.headers {
                headers.insert(StrBytes::from_string(k.clone()), v.clone());
            }
            Record {
                transactional: false,
                control: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // The encoder groups records whose offset - sequence agree; this keeps the
                // batch's base sequence at -1 (no idempotence).
                sequence: i as i32 - 1,
                timestamp: r.timestamp,
                key: r.key.clone(),
                value: r.value.clone(),
                headers,
            }
        })
        .collect();
    let mut buf = BytesMut::with_capacity(b.size);
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .map_err(|e| format!("encoding a record batch: {e}"))?;
    let bytes = buf.freeze();
    b.encoded = Some(bytes.clone());
    Ok(bytes)
}

/// One produce connection: writes jobs as requests (pipelined up to the sender's in-flight
/// limit), matches responses in order, completes or requeues batches. Exits on any failure,
/// handing its jobs back.
async fn run_conn(
    shared: Arc<Shared>,
    node: i32,
    addr: String,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    let cfg = shared.cfg.clone();
    let network = |msg: String| {
        SendError::new(
            "org.apache.kafka.common.errors.NetworkException",
            format!("The server disconnected before a response was received. ({msg})"),
        )
    };
    let (stream, version) = match open(&cfg, &addr).await {
        Ok(x) => x,
        Err(msg) => {
            shared.lock().metadata_error = Some(msg.clone());
            rx.close();
            while let Some(job) = rx.recv().await {
                requeue(&shared, node, job, None);
            }
            return;
        }
    };
    let (rd, mut wr) = stream.into_split();
    let (ftx, mut frames) = mpsc::unbounded_channel();
    let reader = tokio::spawn(read_frames(rd, MAX_RESPONSE, ftx));
    let mut correlation: i32 = 0;
    let mut inflight: VecDeque<(i32, Instant, Job)> = VecDeque::new();
    let failure: String = loop {
        let oldest = inflight.front().map(|(_, t, _)| *t + cfg.request_timeout);
        tokio::select! {
            job = rx.recv() => {
                let Some(mut job) = job else { break String::new() };
                correlation = correlation.wrapping_add(1);
                match build_request(&mut job, &cfg, version, correlation) {
                    Ok(bytes) => {
                        if let Err(e) = wr.write_all(&bytes).await {
                            inflight.push_back((correlation, Instant::now(), job));
                            break e.to_string();
                        }
                        if cfg.acks == 0 {
                            complete_unacked(&shared, node, job);
                        } else {
                            inflight.push_back((correlation, Instant::now(), job));
                        }
                    }
                    Err(msg) => {
                        let err = SendError::new("org.apache.kafka.common.KafkaException", msg);
                        let failed = job.batches.into_iter().map(|(tp, b)| (tp, b, err.clone())).collect();
                        if let Some(n) = shared.lock().inflight.get_mut(&node) {
                            *n = n.saturating_sub(1);
                        }
                        fail_batches(&shared, failed);
                        shared.wake.notify_one();
                    }
                }
            }
            f = frames.recv(), if !inflight.is_empty() => {
                let mut buf = match f {
                    Some(Ok(b)) => b,
                    Some(Err(e)) => break e,
                    None => break "connection closed".to_owned(),
                };
                let Some((corr, _, job)) = inflight.pop_front() else { continue };
                let hv = ApiKey::Produce.response_header_version(version);
                let decoded = ResponseHeader::decode(&mut buf, hv)
                    .map_err(|e| e.to_string())
                    .and_then(|h| if h.correlation_id == corr { Ok(()) } else { Err("correlation id mismatch".to_owned()) })
                    .and_then(|_| ProduceResponse::decode(&mut buf, version).map_err(|e| e.to_string()));
                match decoded {
                    Ok(resp) => complete(&shared, node, job, resp),
                    Err(e) => {
                        inflight.push_front((corr, Instant::now(), job));
                        break format!("bad Produce response: {e}");
                    }
                }
            }
            _ = tokio::time::sleep_until(oldest.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600)).into()), if oldest.is_some() => {
                break format!("no response within {} ms", cfg.request_timeout.as_millis());
            }
        }
    };
    reader.abort();
    rx.close();
    if !failure.is_empty() || !inflight.is_empty() {
        let err = if failure.starts_with("no response") {
            SendError::timeout(format!("Expiring record(s): {failure} from {addr}"))
        } else {
            network(failure)
        };
        for (_, _, job) in inflight {
            requeue(&shared, node, job, Some(err.clone()));
        }
        while let Some(job) = rx.recv().await {
            requeue(&shared, node, job, None);
        }
    }
}

fn build_request(
    job: &mut Job,
    cfg: &ProducerConfig,
    version: i16,
    corr: i32,
) -> Result<Bytes, String> {
    let mut by_topic: BTreeMap<String, Vec<PartitionProduceData>> = BTreeMap::new();
    for (tp, b) in job.batches.iter_mut() {
        let bytes = encode_batch(b, cfg.compression)?;
        let mut pd = PartitionProduceData::default();
        pd.index = tp.1;
        pd.records = Some(bytes);
        by_topic.entry(tp.0.clone()).or_default().push(pd);
    }
    let mut req = ProduceRequest::default();
    req.acks = cfg.acks;
    req.timeout_ms = cfg.request_timeout.as_millis().min(i32::MAX as u128) as i32;
    req.topic_data = by_topic
        .into_iter()
        .map(|(t, parts)| {
            let mut td = TopicProduceData::default();
            td.name = TopicName(StrBytes::from_string(t));
            td.partition_data = parts;
            td
        })
        .collect();
    frame(&req, version, corr, &cfg.client_id)
}

/// acks=0: a written request counts as delivered, offsets unknown.
fn complete_unacked(shared: &Arc<Shared>, node: i32, job: Job) {
    let mut calls: Vec<(Callback, Result<RecordMetadata, SendError>)> = Vec::new();
    let mut finished = 0;
    {
        let mut st = shared.lock();
        if let Some(n) = st.inflight.get_mut(&node) {
            *n = n.saturating_sub(1);
        }
        for (tp, b) in job.batches {
            finished += b.records.len();
            st.buffered = st.buffered.saturating_sub(b.size - BATCH_OVERHEAD);
            for r in b.records {
                if let Some(cb) = r.callback {
                    calls.push((
                        cb,
                        Ok(RecordMetadata {
                            topic: tp.0.clone(),
                            partition: tp.1,
                            offset: -1,
                            timestamp: r.timestamp,
                        }),
                    ));
                }
            }
        }
    }
    finish(shared, calls, finished);
}

/// Applies a Produce response: offsets to callbacks, retriable errors back to the queues.
fn complete(shared: &Arc<Shared>, node: i32, job: Job, resp: ProduceResponse) {
    let cfg = &shared.cfg;
    let mut results: HashMap<Tp, (i16, i64, i64)> = HashMap::new();
    for t in resp.responses {
        let name = t.name.0.as_str().to_owned();
        for p in t.partition_responses {
            results.insert(
                (name.clone(), p.index),
                (p.error_code, p.base_offset, p.log_append_time_ms),
            );
        }
    }
    let mut calls: Vec<(Callback, Result<RecordMetadata, SendError>)> = Vec::new();
    let mut finished = 0;
    {
        let mut st = shared.lock();
        if let Some(n) = st.inflight.get_mut(&node) {
            *n = n.saturating_sub(1);
        }
        for (tp, mut b) in job.batches {
            // A partition missing from the response is treated as a network error.
            let (code, base, append_time) = results.get(&tp).copied().unwrap_or((13, -1, -1));
            if code != 0 && retriable(code) {
                b.attempts += 1;
                if invalidates_metadata(code) {
                    st.stale = true;
                }
                if b.attempts <= cfg.retries && b.created.elapsed() < cfg.delivery_timeout {
                    b.retry_at = Some(Instant::now() + cfg.retry_backoff);
                    st.queues.entry(tp).or_default().push_front(b);
                    continue;
                }
            }
            finished += b.records.len();
            st.buffered = st.buffered.saturating_sub(b.size - BATCH_OVERHEAD);
            let err = (code != 0).then(|| SendError::from_code(code, &tp.0));
            for (i, r) in b.records.into_iter().enumerate() {
                let Some(cb) = r.callback else { continue };
                let result = match &err {
                    Some(e) => Err(e.clone()),
                    None => Ok(RecordMetadata {
                        topic: tp.0.clone(),
                        partition: tp.1,
                        offset: base + i as i64,
                        timestamp: if append_time >= 0 {
                            append_time
                        } else {
                            r.timestamp
                        },
                    }),
                };
                calls.push((cb, result));
            }
        }
    }
    finish(shared, calls, finished);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka() {
        // Kafka's UtilsTest.testMurmur2 values.
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            (b"abc", 479470107),
        ];
        for (data, want) in cases {
            assert_eq!(murmur2(data), *want, "{:?}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn keyed_partitioning_is_kafkas() {
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        // toPositive(murmur2("foobar")) % n, computed by hand from Kafka's value.
        let h = to_positive(-790332482) as usize;
        for n in [1usize, 3, 10, 64] {
            assert_eq!(partition_for_key(b"foobar", n) as usize, h % n);
        }
        assert_eq!(partition_for_key(b"21", 1), 0);
        // toPositive(-973932308) clears the sign bit.
        assert_eq!(to_positive(-973932308), 1173551340);
        assert_eq!(partition_for_key(b"21", 7), 3);
    }

    #[test]
    fn sticky_partition_changes_only_on_new_batch() {
        let meta = TopicMeta {
            leaders: vec![1, 1, -1, 1],
        };
        let mut sticky = HashMap::new();
        let first = next_sticky(&mut sticky, "t", &meta, None);
        assert_ne!(first, 2, "partition 2 has no leader");
        // Asking again without a new batch keeps it.
        assert_eq!(next_sticky(&mut sticky, "t", &meta, None), first);
        // A stale prevPartition does not move it.
        assert_eq!(
            next_sticky(&mut sticky, "t", &meta, Some((first + 1) % 4)),
            first
        );
        // A new batch on the sticky partition moves it to another available one.
        let second = next_sticky(&mut sticky, "t", &meta, Some(first));
        assert_ne!(second, first);
        assert_ne!(second, 2);
        // One available partition: always that one.
        let one = TopicMeta {
            leaders: vec![-1, 5],
        };
        let mut s = HashMap::new();
        assert_eq!(next_sticky(&mut s, "u", &one, None), 1);
        assert_eq!(next_sticky(&mut s, "u", &one, Some(1)), 1);
    }

    #[test]
    fn null_keys_stick_until_the_batch_fills() {
        let cfg = ProducerConfig {
            bootstrap: "x:1".into(),
            batch_size: 1000,
            ..ProducerConfig::default()
        };
        let mut st = State::default();
        st.topics.insert(
            "t".into(),
            TopicMeta {
                leaders: vec![0, 0, 0],
            },
        );
        let rec = |v: &str| ProducerRecord {
            topic: "t".into(),
            value: Some(Bytes::from(v.to_owned())),
            ..Default::default()
        };
        let size = record_size(None, Some(&Bytes::from_static(&[0u8; 100])), &[]);
        for _ in 0..5 {
            append(&mut st, &cfg, rec(&"x".repeat(100)), size, None);
        }
        // Five 100-byte records fit one 1000-byte batch: a single partition got them all.
        assert_eq!(st.queues.len(), 1);
        let first = st.queues.keys().next().cloned().unwrap();
        for _ in 0..10 {
            append(&mut st, &cfg, rec(&"x".repeat(100)), size, None);
        }
        // Once the batch filled, the next record moved to another partition.
        assert!(
            st.queues.len() >= 2,
            "{:?}",
            st.queues.keys().collect::<Vec<_>>()
        );
        assert!(st.queues[&first].front().unwrap().size <= 1000);
        assert_eq!(st.unfinished, 15);
        // Keyed records go where murmur2 says.
        let keyed = ProducerRecord {
            topic: "t".into(),
            key: Some(Bytes::from_static(b"foobar")),
            value: None,
            ..Default::default()
        };
        append(&mut st, &cfg, keyed, 30, None);
        let p = partition_for_key(b"foobar", 3);
        assert!(st.queues[&("t".to_owned(), p)].back().is_some());
    }

    #[test]
    fn properties_apply_with_kafka_errors() {
        let mut cfg = ProducerConfig::default();
        let props: BTreeMap<String, String> = [
            ("bootstrap.servers", "h:1"),
            ("acks", "all"),
            ("linger.ms", "5"),
            ("compression.type", "zstd"),
            ("foo", "bar"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let unused = cfg.apply(&props).unwrap();
        assert_eq!(unused, ["foo"]);
        assert_eq!(cfg.acks, -1);
        assert_eq!(cfg.linger, Duration::from_millis(5));
        assert_eq!(cfg.compression, Compression::Zstd);
        let bad: BTreeMap<String, String> = [("acks".to_string(), "2".to_string())].into();
        assert_eq!(
            cfg.apply(&bad).unwrap_err().to_string(),
            "org.apache.kafka.common.config.ConfigException: Invalid value 2 for configuration acks: String must be one of: all, -1, 0, 1"
        );
        let bad: BTreeMap<String, String> = [("batch.size".to_string(), "x".to_string())].into();
        assert!(cfg
            .apply(&bad)
            .unwrap_err()
            .to_string()
            .contains("Not a number of type INT"));
        assert!(ProducerConfig::default().validate().is_err());
    }

    #[test]
    fn batches_encode_with_every_codec() {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let mut b = Batch {
                records: (0..3)
                    .map(|i| Pending {
                        key: (i == 1).then(|| Bytes::from_static(b"k")),
                        value: Some(Bytes::from(format!("v{i}"))),
                        timestamp: 1000 + i,
                        headers: vec![("h".into(), Some(Bytes::from_static(b"x")))],
                        callback: None,
                    })
                    .collect(),
                size: 0,
                created: Instant::now(),
                open: false,
                attempts: 0,
                retry_at: None,
                encoded: None,
            };
            let mut bytes = encode_batch(&mut b, c).unwrap();
            let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes).unwrap();
            assert_eq!(set.records.len(), 3, "{c:?}");
            assert_eq!(set.records[1].key.as_deref(), Some(&b"k"[..]));
            assert_eq!(set.records[2].value.as_deref(), Some(&b"v2"[..]));
            assert_eq!(set.records[2].offset, 2);
            assert_eq!(set.records[0].sequence, -1);
        }
    }
}
