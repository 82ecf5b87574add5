//! Fetch (long poll on min.bytes/max.wait.ms, response and partition byte limits, reads
//! bounded by the high watermark), ListOffsets and OffsetForLeaderEpoch.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
};
use kafka_protocol::ResponseError;

use super::RequestContext;
use crate::log::partition_log::{EARLIEST_TIMESTAMP, LATEST_TIMESTAMP};
use crate::log::topic_partition::TopicPartition;
use crate::log_manager::lock;
use crate::replica::Partition;
use crate::server::Broker;

/// Longest wait a client may ask for (a bound, not a Kafka setting).
const MAX_WAIT_CAP_MS: i32 = 300_000;

/// Checks a client's view of the leader epoch (`current_leader_epoch`, -1 = unknown).
fn check_epoch(p: &Partition, requested: i32) -> Result<(), ResponseError> {
    if requested < 0 {
        return Ok(());
    }
    let current = p.state().leader_epoch;
    if requested < current {
        Err(ResponseError::FencedLeaderEpoch)
    } else if requested > current {
        Err(ResponseError::UnknownLeaderEpoch)
    } else {
        Ok(())
    }
}

fn read_all(broker: &Broker, req: &FetchRequest, v: i16) -> (FetchResponse, usize, bool) {
    let mut resp = FetchResponse::default();
    let mut remaining = usize::try_from(req.max_bytes.max(0)).unwrap_or(0);
    let mut total = 0usize;
    let mut any_error = false;
    for topic in &req.topics {
        let name = topic.topic.0.to_string();
        let mut t = FetchableTopicResponse::default();
        t.topic = topic.topic.clone();
        for fp in &topic.partitions {
            let mut d = PartitionData::default();
            d.partition_index = fp.partition;
            d.high_watermark = -1;
            d.last_stable_offset = -1;
            d.log_start_offset = -1;
            d.preferred_read_replica = BrokerId(-1);
            d.aborted_transactions = Some(Vec::new());
            let tp = TopicPartition::new(name.clone(), fp.partition);
            let result = broker.replicas.leader_partition(&tp).and_then(|p| {
                check_epoch(&p, fp.current_leader_epoch)?;
                // The first partition with data may exceed the response limit (one batch),
                // as Kafka guarantees progress.
                let limit = usize::try_from(fp.partition_max_bytes.max(0)).unwrap_or(0);
                let limit = if total == 0 {
                    limit
                } else {
                    limit.min(remaining)
                };
                if limit == 0 {
                    let hw = p.high_watermark();
                    return Ok((None, hw, lock(&p.log).log_start_offset()));
                }
                let r = broker.replicas.read(&tp, fp.fetch_offset, limit)?;
                Ok((
                    Some(r.data.records),
                    r.high_watermark,
                    r.data.log_start_offset,
                ))
            });
            match result {
                Ok((records, hw, lso)) => {
                    d.high_watermark = hw;
                    d.last_stable_offset = hw;
                    if v >= 5 {
                        d.log_start_offset = lso;
                    }
                    let n = records.as_ref().map_or(0, |r| r.len());
                    total += n;
                    remaining = remaining.saturating_sub(n);
                    d.records = Some(records.unwrap_or_default());
                }
                Err(e) => {
                    any_error = true;
                    d.error_code = e.code();
                    if e == ResponseError::OffsetOutOfRange {
                        if let Some(p) = broker.replicas.get(&tp) {
                            d.high_watermark = p.high_watermark();
                            d.last_stable_offset = d.high_watermark;
                            if v >= 5 {
                                d.log_start_offset = lock(&p.log).log_start_offset();
                            }
                        }
                    }
                    d.records = Some(Default::default());
                }
            }
            t.partitions.push(d);
        }
        resp.responses.push(t);
    }
    (resp, total, any_error)
}

pub async fn fetch(broker: &Arc<Broker>, ctx: &RequestContext, req: FetchRequest) -> FetchResponse {
    let wait_ms = req.max_wait_ms.clamp(0, MAX_WAIT_CAP_MS);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms as u64);
    let min_bytes = usize::try_from(req.min_bytes.max(0)).unwrap_or(0);
    loop {
        // Arm the wake-up before reading so an append in between is not missed.
        let appended = broker.replicas.appended().notified();
        tokio::pin!(appended);
        appended.as_mut().enable();
        let (mut resp, total, any_error) = read_all(broker, &req, ctx.api_version);
        if min_bytes == 0
            || total >= min_bytes
            || any_error
            || req.topics.is_empty()
            || tokio::time::Instant::now() >= deadline
        {
            resp.session_id = 0;
            return resp;
        }
        let mut shutdown = broker.shutdown_signal();
        tokio::select! {
            _ = &mut appended => {}
            _ = tokio::time::sleep_until(deadline) => {
                let (mut resp, _, _) = read_all(broker, &req, ctx.api_version);
                resp.session_id = 0;
                return resp;
            }
            _ = shutdown.changed() => return resp,
        }
    }
}

pub fn list_offsets(broker: &Arc<Broker>, v: i16, req: ListOffsetsRequest) -> ListOffsetsResponse {
    let mut resp = ListOffsetsResponse::default();
    for topic in req.topics {
        let name = topic.name.0.to_string();
        let mut t = ListOffsetsTopicResponse::default();
        t.name = topic.name.clone();
        for lp in topic.partitions {
            let mut r = ListOffsetsPartitionResponse::default();
            r.partition_index = lp.partition_index;
            r.timestamp = -1;
            r.offset = -1;
            r.leader_epoch = -1;
            let tp = TopicPartition::new(name.clone(), lp.partition_index);
            let result = broker.replicas.leader_partition(&tp).and_then(|p| {
                check_epoch(&p, lp.current_leader_epoch)?;
                let hw = p.high_watermark();
                let log = lock(&p.log);
                if lp.timestamp == LATEST_TIMESTAMP {
                    // Consumers see the high watermark as the end.
                    return Ok(Some((-1, hw, log.latest_epoch().unwrap_or(-1))));
                }
                let found = log
                    .offset_for_timestamp(lp.timestamp)
                    .map_err(|e| e.response_error())?;
                Ok(found
                    .filter(|f| lp.timestamp == EARLIEST_TIMESTAMP || f.offset < hw)
                    .map(|f| (f.timestamp, f.offset, f.leader_epoch.unwrap_or(-1))))
            });
            match result {
                Ok(Some((ts, offset, epoch))) => {
                    r.timestamp = ts;
                    r.offset = offset;
                    if v >= 4 {
                        r.leader_epoch = epoch;
                    }
                }
                Ok(None) => {}
                Err(e) => r.error_code = e.code(),
            }
            t.partitions.push(r);
        }
        resp.topics.push(t);
    }
    resp
}

pub fn offset_for_leader_epoch(
    broker: &Arc<Broker>,
    v: i16,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let mut resp = OffsetForLeaderEpochResponse::default();
    for topic in req.topics {
        let name = topic.topic.0.to_string();
        let mut t = OffsetForLeaderTopicResult::default();
        t.topic = topic.topic.clone();
        for op in topic.partitions {
            let mut r = EpochEndOffset::default();
            r.partition = op.partition;
            r.leader_epoch = -1;
            r.end_offset = -1;
            let tp = TopicPartition::new(name.clone(), op.partition);
            match broker.replicas.leader_partition(&tp).and_then(|p| {
                check_epoch(&p, op.current_leader_epoch)?;
                Ok(lock(&p.log).end_offset_for_epoch(op.leader_epoch))
            }) {
                Ok((epoch, offset)) => {
                    if v >= 1 {
                        r.leader_epoch = epoch;
                    }
                    r.end_offset = offset;
                }
                Err(e) => r.error_code = e.code(),
            }
            t.partitions.push(r);
        }
        resp.topics.push(t);
    }
    resp
}
