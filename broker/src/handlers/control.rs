//! Controller-to-broker requests on a broker that is not the controller: LeaderAndIsr
//! (lead the partitions whose leader is this broker, stop leading the others),
//! UpdateMetadata (replace the metadata cache) and StopReplica (drop, and with
//! `delete_partition` delete, a replica). Requests from a stale controller epoch or for a
//! previous registration of this broker (broker epoch) are refused, as Kafka does.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::leader_and_isr_response::LeaderAndIsrPartitionError;
use kafka_protocol::messages::stop_replica_response::StopReplicaPartitionError;
use kafka_protocol::messages::{
    LeaderAndIsrRequest, LeaderAndIsrResponse, StopReplicaRequest, StopReplicaResponse,
    UpdateMetadataRequest, UpdateMetadataResponse,
};
use kafka_protocol::ResponseError;

use crate::config::{EndPoint, SecurityProtocol};
use crate::log::topic_partition::TopicPartition;
use crate::metadata::{LiveBroker, MetadataSnapshot, PartitionMeta, TopicMeta};
use crate::replica::LeaderState;
use crate::server::Broker;

/// Kafka's security protocol ids on the wire.
fn security_protocol(id: i16) -> SecurityProtocol {
    match id {
        1 => SecurityProtocol::Ssl,
        2 => SecurityProtocol::SaslPlaintext,
        3 => SecurityProtocol::SaslSsl,
        _ => SecurityProtocol::Plaintext,
    }
}

/// The error for a request from a stale controller or for an old registration.
fn check_fencing(
    broker: &Broker,
    controller_epoch: i32,
    broker_epoch: i64,
) -> Option<ResponseError> {
    if !broker.observe_controller_epoch(controller_epoch) {
        return Some(ResponseError::StaleControllerEpoch);
    }
    if broker_epoch != -1 && broker_epoch < broker.broker_epoch() {
        return Some(ResponseError::StaleBrokerEpoch);
    }
    None
}

pub async fn leader_and_isr(
    broker: &Arc<Broker>,
    req: LeaderAndIsrRequest,
) -> LeaderAndIsrResponse {
    let mut resp = LeaderAndIsrResponse::default();
    if let Some(e) = check_fencing(broker, req.controller_epoch, req.broker_epoch) {
        resp.error_code = e.code();
        return resp;
    }
    broker.set_controller_id(Some(req.controller_id.0));
    let mut states = Vec::new();
    for t in &req.topic_states {
        for p in &t.partition_states {
            let tp = TopicPartition::new(t.topic_name.0.to_string(), p.partition_index);
            states.push((
                tp,
                LeaderState {
                    leader: p.leader.0,
                    leader_epoch: p.leader_epoch,
                    isr: p.isr.iter().map(|b| b.0).collect(),
                    replicas: p.replicas.iter().map(|b| b.0).collect(),
                },
            ));
        }
    }
    // Topic configs come from ZooKeeper, as every broker reads them.
    let zk = broker.zk();
    let mut configs = BTreeMap::new();
    for (tp, _) in &states {
        if !configs.contains_key(&tp.topic) {
            let c = zk
                .get_entity_config(crate::zkdata::ConfigEntityType::Topics, &tp.topic)
                .await
                .map(|c| c.config)
                .unwrap_or_default();
            configs.insert(tp.topic.clone(), c);
        }
    }
    broker.set_topic_configs(configs);
    for (tp, result) in broker.apply_leadership(&states) {
        let mut e = LeaderAndIsrPartitionError::default();
        e.topic_name = kafka_protocol::messages::TopicName(super::str(tp.topic));
        e.partition_index = tp.partition;
        e.error_code = super::code(result.err());
        resp.partition_errors.push(e);
    }
    resp
}

pub fn update_metadata(broker: &Arc<Broker>, req: UpdateMetadataRequest) -> UpdateMetadataResponse {
    let mut resp = UpdateMetadataResponse::default();
    if let Some(e) = check_fencing(broker, req.controller_epoch, req.broker_epoch) {
        resp.error_code = e.code();
        return resp;
    }
    let mut snapshot = MetadataSnapshot {
        controller_id: Some(req.controller_id.0),
        ..MetadataSnapshot::default()
    };
    for b in &req.live_brokers {
        let endpoints = b
            .endpoints
            .iter()
            .filter_map(|e| {
                Some(EndPoint {
                    listener_name: e.listener.to_string(),
                    host: Some(e.host.to_string()),
                    port: u16::try_from(e.port).ok()?,
                    security_protocol: security_protocol(e.security_protocol),
                })
            })
            .collect();
        snapshot.brokers.insert(
            b.id.0,
            LiveBroker {
                id: b.id.0,
                endpoints,
                rack: b.rack.as_ref().map(|r| r.to_string()),
            },
        );
    }
    for t in &req.topic_states {
        let mut meta = TopicMeta::default();
        if !t.topic_id.is_nil() {
            meta.id = Some(crate::zkdata::Uuid::from_bytes(*t.topic_id.as_bytes()));
        }
        for p in &t.partition_states {
            meta.partitions.insert(
                p.partition_index,
                PartitionMeta {
                    leader: p.leader.0,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replicas.iter().map(|b| b.0).collect(),
                    isr: p.isr.iter().map(|b| b.0).collect(),
                },
            );
        }
        snapshot.topics.insert(t.topic_name.0.to_string(), meta);
    }
    broker.set_controller_id(Some(req.controller_id.0));
    broker.metadata.publish(snapshot);
    resp
}

pub fn stop_replica(broker: &Arc<Broker>, req: StopReplicaRequest) -> StopReplicaResponse {
    let mut resp = StopReplicaResponse::default();
    if let Some(e) = check_fencing(broker, req.controller_epoch, req.broker_epoch) {
        resp.error_code = e.code();
        return resp;
    }
    for t in &req.topic_states {
        for p in &t.partition_states {
            let tp = TopicPartition::new(t.topic_name.0.to_string(), p.partition_index);
            let result = broker.stop_replica(&tp, p.delete_partition);
            let mut e = StopReplicaPartitionError::default();
            e.topic_name = t.topic_name.clone();
            e.partition_index = p.partition_index;
            e.error_code = super::code(result.err());
            resp.partition_errors.push(e);
        }
    }
    resp
}
