//! The replica manager: the partitions this broker hosts, their leadership (leader epoch,
//! ISR, high watermark), produce appends with idempotent-producer sequence checks, and reads
//! for fetches, with a wake-up for long-polling fetches.
//!
//! Replication is not here yet: with the ISR holding only the leader, the high watermark is
//! the log end offset. The fields a follower-fetch implementation needs (epoch, ISR,
//! replicas, high watermark) are kept per partition.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use kafka_protocol::ResponseError;
use tokio::sync::Notify;

use crate::log::batch::BatchIter;
use crate::log::partition_log::{AppendInfo, FetchData};
use crate::log::topic_partition::TopicPartition;
use crate::log::validate::AppendOrigin;
use crate::log::LogConfig;
use crate::log_manager::{lock, LogManager, LogManagerError, SharedLog};

/// Batches remembered per producer for duplicate detection (Kafka's
/// `NUM_BATCHES_TO_RETAIN`, the producer's max in-flight limit for idempotence).
const PRODUCER_BATCHES_RETAINED: usize = 5;

/// Leadership of one partition, as the last LeaderAndIsr set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderState {
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub replicas: Vec<i32>,
}

#[derive(Clone, Copy, Debug)]
struct ProducedBatch {
    first_seq: i32,
    last_seq: i32,
    first_offset: i64,
}

#[derive(Debug, Default)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<ProducedBatch>,
}

/// A partition hosted here.
pub struct Partition {
    pub tp: TopicPartition,
    pub log: SharedLog,
    state: Mutex<LeaderState>,
    high_watermark: AtomicI64,
    producers: Mutex<HashMap<i64, ProducerEntry>>,
}

impl Partition {
    pub fn state(&self) -> LeaderState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }
}

/// What a produce append returns to the handler.
#[derive(Clone, Copy, Debug)]
pub struct Appended {
    pub base_offset: i64,
    pub log_append_time: i64,
    pub log_start_offset: i64,
}

/// What a fetch read returns.
pub struct Read {
    pub data: FetchData,
    pub high_watermark: i64,
}

pub struct ReplicaManager {
    broker_id: i32,
    logs: Arc<LogManager>,
    partitions: RwLock<HashMap<TopicPartition, Arc<Partition>>>,
    /// Woken on every append, for fetches waiting for data.
    appended: Notify,
}

fn seq_add(seq: i32, n: i32) -> i32 {
    // Sequences wrap at i32::MAX back to 0.
    let s = i64::from(seq) + i64::from(n);
    (s % (i64::from(i32::MAX) + 1)) as i32
}

/// Bytes read per step while rebuilding producer state.
const REBUILD_READ_BYTES: usize = 1 << 20;

/// Rebuilds idempotent producers' last batches from the log, so a retry of a batch
/// written before a restart is still recognised as a duplicate. (Kafka keeps producer
/// snapshots to avoid this full scan; this broker reads the log's batch headers.)
fn rebuild_producers(log: &crate::log::partition_log::Log) -> HashMap<i64, ProducerEntry> {
    let mut out: HashMap<i64, ProducerEntry> = HashMap::new();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let Ok(data) = log.read(offset, REBUILD_READ_BYTES, None) else {
            break;
        };
        let mut next = offset;
        for item in BatchIter::new(&data.records) {
            let Ok(view) = item else { break };
            let h = *view.header();
            next = next.max(h.next_offset());
            if h.producer_id < 0 || h.base_sequence < 0 || h.base_offset < offset {
                continue;
            }
            let entry = out.entry(h.producer_id).or_default();
            if entry.epoch != h.producer_epoch {
                entry.epoch = h.producer_epoch;
                entry.batches.clear();
            }
            entry.batches.push_back(ProducedBatch {
                first_seq: h.base_sequence,
                last_seq: seq_add(h.base_sequence, h.last_offset_delta),
                first_offset: h.base_offset,
            });
            while entry.batches.len() > PRODUCER_BATCHES_RETAINED {
                entry.batches.pop_front();
            }
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    out
}

impl ReplicaManager {
    pub fn new(broker_id: i32, logs: Arc<LogManager>) -> ReplicaManager {
        ReplicaManager {
            broker_id,
            logs,
            partitions: RwLock::new(HashMap::new()),
            appended: Notify::new(),
        }
    }

    pub fn log_manager(&self) -> &Arc<LogManager> {
        &self.logs
    }

    pub fn appended(&self) -> &Notify {
        &self.appended
    }

    pub fn get(&self, tp: &TopicPartition) -> Option<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tp)
            .cloned()
    }

    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// LeaderAndIsr for this broker as leader: opens (or creates) the log and takes the new
    /// epoch. Returns true if leadership is new or the epoch changed.
    pub fn become_leader(
        &self,
        tp: &TopicPartition,
        state: LeaderState,
        config: LogConfig,
    ) -> Result<bool, LogManagerError> {
        if let Some(p) = self.get(tp) {
            lock(&p.log).set_config(config);
            let mut s = p.state.lock().unwrap_or_else(|e| e.into_inner());
            let changed = *s != state;
            *s = state;
            return Ok(changed);
        }
        let log = self.logs.get_or_create(tp, config)?;
        let (leo, producers) = {
            let l = lock(&log);
            (l.log_end_offset(), rebuild_producers(&l))
        };
        let partition = Arc::new(Partition {
            tp: tp.clone(),
            log,
            state: Mutex::new(state),
            high_watermark: AtomicI64::new(leo),
            producers: Mutex::new(producers),
        });
        self.partitions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tp.clone(), partition);
        Ok(true)
    }

    /// StopReplica: forget the partition (and delete its log when `delete`).
    pub fn stop_replica(&self, tp: &TopicPartition, delete: bool) -> Result<(), LogManagerError> {
        self.partitions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(tp);
        if delete {
            self.logs.delete(tp)?;
        }
        self.appended.notify_waiters();
        Ok(())
    }

    /// Forgets every partition (shutdown), releasing their logs to the log manager.
    pub fn clear(&self) {
        self.partitions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.appended.notify_waiters();
    }

    /// Updates a partition's config (topic config change).
    pub fn set_config(&self, tp: &TopicPartition, config: LogConfig) {
        if let Some(p) = self.get(tp) {
            lock(&p.log).set_config(config);
        }
    }

    /// The partition if this broker leads it; the error a client must get otherwise.
    pub fn leader_partition(&self, tp: &TopicPartition) -> Result<Arc<Partition>, ResponseError> {
        match self.get(tp) {
            Some(p) if p.state().leader == self.broker_id => Ok(p),
            Some(_) => Err(ResponseError::NotLeaderOrFollower),
            None => Err(ResponseError::UnknownTopicOrPartition),
        }
    }

    /// Appends as leader (producer or coordinator records). Idempotent batches are checked
    /// against the producer's last batches: a retried batch gets its original offset back,
    /// a gap in sequence numbers OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch
    /// INVALID_PRODUCER_EPOCH.
    pub fn append(
        &self,
        tp: &TopicPartition,
        records: &[u8],
        origin: AppendOrigin,
        now_ms: i64,
    ) -> Result<Appended, (ResponseError, String)> {
        let p = self.leader_partition(tp).map_err(|e| (e, String::new()))?;
        let epoch = p.state().leader_epoch;
        let mut log = lock(&p.log);
        let mut producers = p.producers.lock().unwrap_or_else(|e| e.into_inner());
        // Sequence checks before the append (validation proper is the log's).
        let mut pending = Vec::new();
        for item in BatchIter::new(records) {
            let Ok(view) = item else { break };
            let h = *view.header();
            if h.producer_id < 0 || h.base_sequence < 0 {
                continue;
            }
            let last_seq = seq_add(h.base_sequence, h.last_offset_delta);
            if let Some(entry) = producers.get(&h.producer_id) {
                if h.producer_epoch < entry.epoch {
                    return Err((
                        ResponseError::InvalidProducerEpoch,
                        format!(
                            "producer epoch {} is older than {}",
                            h.producer_epoch, entry.epoch
                        ),
                    ));
                }
                if h.producer_epoch == entry.epoch {
                    if let Some(dup) = entry
                        .batches
                        .iter()
                        .find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq)
                    {
                        return Ok(Appended {
                            base_offset: dup.first_offset,
                            log_append_time: -1,
                            log_start_offset: log.log_start_offset(),
                        });
                    }
                    if let Some(last) = entry.batches.back() {
                        if h.base_sequence != seq_add(last.last_seq, 1) {
                            return Err((
                                ResponseError::OutOfOrderSequenceNumber,
                                format!(
                                    "out of order sequence number for producer {}: {} (incoming seq. number), {} (current end sequence number)",
                                    h.producer_id, h.base_sequence, last.last_seq
                                ),
                            ));
                        }
                    }
                } else if h.base_sequence != 0 {
                    return Err((
                        ResponseError::OutOfOrderSequenceNumber,
                        format!(
                            "new producer epoch {} must start at sequence 0",
                            h.producer_epoch
                        ),
                    ));
                }
            }
            pending.push(h);
        }
        let info: AppendInfo = log
            .append_as_leader(records, epoch, origin, now_ms)
            .map_err(|e| (e.response_error(), e.to_string()))?;
        // Record the appended idempotent batches with the offsets they got.
        let mut next = info.first_offset;
        for h in pending {
            let first_offset = next;
            next = first_offset + i64::from(h.last_offset_delta) + 1;
            let entry = producers.entry(h.producer_id).or_default();
            if entry.epoch != h.producer_epoch {
                entry.epoch = h.producer_epoch;
                entry.batches.clear();
            }
            entry.batches.push_back(ProducedBatch {
                first_seq: h.base_sequence,
                last_seq: seq_add(h.base_sequence, h.last_offset_delta),
                first_offset,
            });
            while entry.batches.len() > PRODUCER_BATCHES_RETAINED {
                entry.batches.pop_front();
            }
        }
        // With the leader as the only ISR member everything appended is committed.
        p.high_watermark
            .store(log.log_end_offset(), Ordering::Release);
        let log_start_offset = log.log_start_offset();
        drop(producers);
        drop(log);
        self.appended.notify_waiters();
        Ok(Appended {
            base_offset: info.first_offset,
            log_append_time: info.log_append_time,
            log_start_offset,
        })
    }

    /// Reads for a consumer: at most `max_bytes` (at least one batch), below the high
    /// watermark.
    pub fn read(
        &self,
        tp: &TopicPartition,
        offset: i64,
        max_bytes: usize,
    ) -> Result<Read, ResponseError> {
        let p = self.leader_partition(tp)?;
        let hw = p.high_watermark();
        let data = lock(&p.log)
            .read(offset, max_bytes, Some(hw))
            .map_err(|e| e.response_error())?;
        Ok(Read {
            data,
            high_watermark: hw,
        })
    }
}
