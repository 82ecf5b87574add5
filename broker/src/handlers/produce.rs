//! Produce (acks 0, 1 and all; validation by the log; idempotent sequence checks by the
//! replica manager) and InitProducerId for idempotent (non-transactional) producers.

use std::sync::Arc;

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse, ProducerId,
};
use kafka_protocol::ResponseError;

use super::{str, RequestContext};
use crate::log::topic_partition::TopicPartition;
use crate::log::validate::AppendOrigin;
use crate::server::Broker;
use crate::zkdata::{is_internal_topic, timestamp_now_ms};

fn min_insync(broker: &Broker, topic: &str) -> usize {
    broker
        .topic_overrides(topic)
        .get("min.insync.replicas")
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or_else(|| broker.dynamic.current().min_insync_replicas)
        .max(1) as usize
}

pub async fn produce(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: ProduceRequest,
) -> Option<ProduceResponse> {
    let acks = req.acks;
    let now = timestamp_now_ms();
    let mut resp = ProduceResponse::default();
    for topic in req.topic_data {
        let name = topic.name.0.to_string();
        let mut t = TopicProduceResponse::default();
        t.name = topic.name.clone();
        for pd in topic.partition_data {
            let mut r = PartitionProduceResponse::default();
            r.index = pd.index;
            r.base_offset = -1;
            r.log_append_time_ms = -1;
            r.log_start_offset = -1;
            let tp = TopicPartition::new(name.clone(), pd.index);
            let result = if !(-1..=1).contains(&acks) {
                Err((ResponseError::InvalidRequiredAcks, String::new()))
            } else if req.transactional_id.is_some() {
                Err((
                    ResponseError::TransactionalIdAuthorizationFailed,
                    "transactions are not supported by this broker".to_owned(),
                ))
            } else if is_internal_topic(&name) {
                Err((
                    ResponseError::InvalidTopicException,
                    format!("Cannot append to internal topic {name}"),
                ))
            } else if broker
                .metadata
                .snapshot()
                .partition(&name, pd.index)
                .is_none()
            {
                Err((ResponseError::UnknownTopicOrPartition, String::new()))
            } else {
                match broker.replicas.leader_partition(&tp) {
                    Err(e) => Err((e, String::new())),
                    Ok(p) if acks == -1 && p.state().isr.len() < min_insync(broker, &name) => Err((
                        ResponseError::NotEnoughReplicas,
                        format!(
                            "The size of the current ISR {} is insufficient to satisfy the min.isr requirement",
                            p.state().isr.len()
                        ),
                    )),
                    Ok(_) => match pd.records.as_deref() {
                        None | Some([]) => Err((ResponseError::CorruptMessage, "no records".into())),
                        Some(bytes) => broker.replicas.append(&tp, bytes, AppendOrigin::Client, now),
                    },
                }
            };
            match result {
                Ok(a) => {
                    r.base_offset = a.base_offset;
                    r.log_append_time_ms = a.log_append_time;
                    if ctx.api_version >= 5 {
                        r.log_start_offset = a.log_start_offset;
                    }
                }
                Err((e, msg)) => {
                    tracing::debug!("produce to {name}-{} failed: {e:?} {msg}", pd.index);
                    r.error_code = e.code();
                    if !msg.is_empty() && ctx.api_version >= 8 {
                        r.error_message = Some(str(msg));
                    }
                }
            }
            t.partition_responses.push(r);
        }
        resp.responses.push(t);
    }
    (acks != 0).then_some(resp)
}

pub async fn init_producer_id(
    broker: &Arc<Broker>,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let mut r = InitProducerIdResponse::default();
    r.producer_id = ProducerId(-1);
    r.producer_epoch = -1;
    if req.transactional_id.is_some() {
        // No transaction coordinator: transactional producers cannot start here.
        r.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
        return r;
    }
    match broker.next_producer_id().await {
        Ok(id) => {
            r.producer_id = ProducerId(id);
            r.producer_epoch = 0;
        }
        Err(e) => {
            tracing::error!("cannot allocate a producer id: {e}");
            r.error_code = ResponseError::CoordinatorNotAvailable.code();
        }
    }
    r
}
