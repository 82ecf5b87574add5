//! Glue between the network handlers and the group coordinator state machine
//! ([`crate::group::GroupCoordinator`]): request handles and their pending responses, the
//! coordinator's appends to `__consumer_offsets` (as the partition leader, with the
//! coordinator's origin), loading a partition's groups when this broker becomes its leader,
//! and the timer that drives session timeouts and rebalance deadlines.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_protocol::ResponseError;
use tokio::sync::{oneshot, Notify};

use super::{Broker, OFFSETS_TOPIC};
use crate::group::coordinator::{Append, Outcome, RequestId, Response};
use crate::group::{GroupConfig, GroupCoordinator};
use crate::log::topic_partition::TopicPartition;
use crate::log::validate::AppendOrigin;
use crate::log_manager::lock;
use crate::zkdata::timestamp_now_ms;

/// Bytes read per step while loading an offsets partition.
const LOAD_READ_BYTES: usize = 1 << 20;

pub struct Groups {
    coord: Mutex<GroupCoordinator>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Response>>>,
    next_request: AtomicU64,
    /// When the coordinator next wants `tick` (ms), i64::MAX for never.
    wake_at: AtomicI64,
    wake: Notify,
}

impl Groups {
    pub fn new(config: GroupConfig) -> Groups {
        Groups {
            coord: Mutex::new(GroupCoordinator::new(config)),
            pending: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(1),
            wake_at: AtomicI64::new(i64::MAX),
            wake: Notify::new(),
        }
    }

    fn coord(&self) -> MutexGuard<'_, GroupCoordinator> {
        self.coord.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Read-only access (OffsetFetch, ListGroups, DescribeGroups).
    pub fn with<R>(&self, f: impl FnOnce(&GroupCoordinator) -> R) -> R {
        f(&self.coord())
    }

    /// Hands a request to the coordinator; the receiver yields its response, possibly
    /// after later events (other members joining, an append completing). A dropped sender
    /// means Kafka would never answer.
    pub fn submit(
        &self,
        broker: &Broker,
        f: impl FnOnce(&mut GroupCoordinator, RequestId, i64) -> Vec<Outcome>,
    ) -> oneshot::Receiver<Response> {
        let id = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        let mut coord = self.coord();
        let out = f(&mut coord, RequestId(id), timestamp_now_ms());
        self.process(broker, &mut coord, out);
        rx
    }

    fn process(&self, broker: &Broker, coord: &mut GroupCoordinator, outcomes: Vec<Outcome>) {
        let mut queue: std::collections::VecDeque<Outcome> = outcomes.into();
        while let Some(o) = queue.pop_front() {
            match o {
                Outcome::Respond { request, response } => {
                    let tx = self
                        .pending
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&request.0);
                    if let Some(tx) = tx {
                        let _ = tx.send(response);
                    }
                }
                Outcome::Abandon(request) => {
                    self.pending
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&request.0);
                }
                Outcome::Append(a) => {
                    let error = append(broker, &a);
                    if a.awaits_completion || error.is_none() {
                        queue.extend(coord.commit_appended(a.id, error, timestamp_now_ms()));
                    }
                }
                Outcome::WakeAt(t) => {
                    self.wake_at.store(t, Ordering::Release);
                    self.wake.notify_one();
                }
            }
        }
        if let Some(d) = coord.next_deadline() {
            if self.wake_at.fetch_min(d, Ordering::AcqRel) > d {
                self.wake.notify_one();
            }
        }
    }

    /// This broker now leads `__consumer_offsets`-`partition`: rebuild its groups.
    pub fn load(&self, broker: &Broker, partition: i32) {
        let tp = TopicPartition::new(OFFSETS_TOPIC, partition);
        let mut coord = self.coord();
        coord.begin_load(partition);
        let records = match read_all(broker, &tp) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("cannot load {OFFSETS_TOPIC}-{partition}: {e}");
                return;
            }
        };
        let (summary, out) = coord.load(partition, records, timestamp_now_ms());
        tracing::info!(
            "Loaded {OFFSETS_TOPIC}-{partition}: {} groups, {} offsets, {} records skipped",
            summary.groups,
            summary.offsets,
            summary.skipped
        );
        self.process(broker, &mut coord, out);
    }

    pub fn unload(&self, broker: &Broker, partition: i32) {
        let mut coord = self.coord();
        let out = coord.unload(partition, timestamp_now_ms());
        self.process(broker, &mut coord, out);
    }
}

/// A record's key and value.
type KeyValue = (Option<Bytes>, Option<Bytes>);

/// Every record of an offsets partition, in log order, without control batches.
fn read_all(broker: &Broker, tp: &TopicPartition) -> Result<Vec<KeyValue>, String> {
    let p = broker
        .replicas
        .get(tp)
        .ok_or_else(|| "partition not hosted".to_owned())?;
    let log = lock(&p.log);
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    let mut out = Vec::new();
    while offset < end {
        let data = log
            .read(offset, LOAD_READ_BYTES, None)
            .map_err(|e| e.to_string())?;
        if data.records.is_empty() {
            break;
        }
        let mut buf = data.records.clone();
        let sets = RecordBatchDecoder::decode_all(&mut buf).map_err(|e| e.to_string())?;
        let mut last = offset - 1;
        for set in sets {
            for r in set.records {
                last = last.max(r.offset);
                if r.control || r.offset < offset {
                    continue;
                }
                out.push((r.key, r.value));
            }
        }
        if last < offset {
            break;
        }
        offset = last + 1;
    }
    Ok(out)
}

/// Appends a coordinator batch to its offsets partition; the error the coordinator must see.
fn append(broker: &Broker, a: &Append) -> Option<ResponseError> {
    let records: Vec<Record> = a
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: a.timestamp_ms,
            key: Some(r.key.clone()),
            value: r.value.clone(),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    if let Err(e) = RecordBatchEncoder::encode(&mut buf, records.iter(), &options) {
        tracing::error!("cannot encode group records: {e}");
        return Some(ResponseError::UnknownServerError);
    }
    let tp = TopicPartition::new(OFFSETS_TOPIC, a.partition);
    match broker
        .replicas
        .append(&tp, &buf, AppendOrigin::Coordinator, timestamp_now_ms())
    {
        Ok(_) => None,
        Err((e, msg)) => {
            tracing::warn!(
                "group append to {OFFSETS_TOPIC}-{} failed: {e:?} {msg}",
                a.partition
            );
            Some(e)
        }
    }
}

/// Runs the coordinator's timers when they are due.
pub async fn ticker(broker: Arc<Broker>) {
    let mut shutdown = broker.shutdown_signal();
    loop {
        let at = broker.groups.wake_at.load(Ordering::Acquire);
        let now = timestamp_now_ms();
        if at <= now {
            broker.groups.wake_at.store(i64::MAX, Ordering::Release);
            let mut coord = broker.groups.coord();
            let out = coord.tick(now);
            broker.groups.process(&broker, &mut coord, out);
            continue;
        }
        let wait = if at == i64::MAX {
            std::time::Duration::from_secs(3600)
        } else {
            std::time::Duration::from_millis((at - now) as u64)
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = broker.groups.wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}
