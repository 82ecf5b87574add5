//! Metadata (with automatic topic creation) and DescribeCluster, answered from the
//! metadata cache with the endpoints of the listener the request came in on.

use std::sync::Arc;

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeClusterResponse, MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::ResponseError;

use super::{admin, code, str, RequestContext};
use crate::metadata::MetadataSnapshot;
use crate::server::{Broker, OFFSETS_TOPIC};
use crate::zkdata::{is_internal_topic, validate_topic_name};

/// kafka-protocol's topic id from ours.
pub fn topic_uuid(id: Option<crate::zkdata::Uuid>) -> uuid::Uuid {
    id.map_or(uuid::Uuid::nil(), |u| uuid::Uuid::from_bytes(*u.as_bytes()))
}

fn brokers(snapshot: &MetadataSnapshot, listener: &str, v: i16) -> Vec<MetadataResponseBroker> {
    snapshot
        .brokers
        .values()
        .filter_map(|b| {
            let ep = b.endpoint(listener)?;
            let mut r = MetadataResponseBroker::default();
            r.node_id = BrokerId(b.id);
            r.host = str(ep.host.clone().unwrap_or_default());
            r.port = i32::from(ep.port);
            if v >= 1 {
                r.rack = b.rack.clone().map(str);
            }
            Some(r)
        })
        .collect()
}

fn topic_response(
    snapshot: &MetadataSnapshot,
    name: &str,
    listener: &str,
    v: i16,
) -> MetadataResponseTopic {
    let mut t = MetadataResponseTopic::default();
    t.name = Some(TopicName(str(name)));
    t.is_internal = v >= 1 && is_internal_topic(name);
    let Some(meta) = snapshot.topics.get(name) else {
        t.error_code = ResponseError::UnknownTopicOrPartition.code();
        return t;
    };
    if v >= 10 {
        t.topic_id = topic_uuid(meta.id);
    }
    let reachable = |id: i32| {
        snapshot
            .brokers
            .get(&id)
            .is_some_and(|b| b.endpoint(listener).is_some())
    };
    for (p, pm) in &meta.partitions {
        let mut r = MetadataResponsePartition::default();
        r.partition_index = *p;
        r.leader_id = BrokerId(pm.leader);
        if v >= 7 {
            r.leader_epoch = pm.leader_epoch;
        }
        r.replica_nodes = pm.replicas.iter().map(|b| BrokerId(*b)).collect();
        r.isr_nodes = pm.isr.iter().map(|b| BrokerId(*b)).collect();
        if v >= 5 {
            r.offline_replicas = pm
                .replicas
                .iter()
                .filter(|b| !snapshot.brokers.contains_key(b))
                .map(|b| BrokerId(*b))
                .collect();
        }
        if pm.leader < 0 || !reachable(pm.leader) {
            r.error_code = ResponseError::LeaderNotAvailable.code();
            r.leader_id = BrokerId(-1);
        }
        t.partitions.push(r);
    }
    t
}

pub async fn metadata(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: MetadataRequest,
) -> MetadataResponse {
    let snapshot = broker.metadata.snapshot();
    // v0 asks for every topic with an empty list; v1+ with null.
    let requested: Option<Vec<String>> = match req.topics {
        None => None,
        Some(t) if t.is_empty() && ctx.api_version == 0 => None,
        Some(t) => Some(
            t.into_iter()
                .filter_map(|t| t.name.map(|n| n.0.to_string()))
                .collect(),
        ),
    };
    let allow_auto = ctx.api_version < 4 || req.allow_auto_topic_creation;
    let mut resp = MetadataResponse::default();
    let v = ctx.api_version;
    resp.brokers = brokers(&snapshot, &ctx.listener_name, v);
    if v >= 2 {
        resp.cluster_id = Some(str(broker.cluster_id.clone()));
    }
    if v >= 1 {
        resp.controller_id = BrokerId(
            snapshot
                .controller_id
                .or(broker.controller_id())
                .unwrap_or(-1),
        );
    }
    resp.cluster_authorized_operations = i32::MIN;
    match requested {
        None => {
            for name in snapshot.topics.keys() {
                resp.topics
                    .push(topic_response(&snapshot, name, &ctx.listener_name, v));
            }
        }
        Some(names) => {
            for name in names {
                let mut t = topic_response(&snapshot, &name, &ctx.listener_name, v);
                if t.error_code == ResponseError::UnknownTopicOrPartition.code() {
                    if validate_topic_name(&name).is_err() {
                        t.error_code = ResponseError::InvalidTopicException.code();
                    } else if allow_auto
                        && broker.config.auto_create_topics_enable
                        && name != OFFSETS_TOPIC
                    {
                        t.error_code = match admin::create_topic(
                            broker,
                            &name,
                            broker.config.num_partitions,
                            broker.config.default_replication_factor,
                            None,
                            Default::default(),
                            false,
                        )
                        .await
                        {
                            Ok(_) => ResponseError::LeaderNotAvailable.code(),
                            Err((ResponseError::TopicAlreadyExists, _)) => {
                                ResponseError::LeaderNotAvailable.code()
                            }
                            Err((e, _)) => e.code(),
                        };
                    }
                }
                t.topic_authorized_operations = i32::MIN;
                resp.topics.push(t);
            }
        }
    }
    for t in &mut resp.topics {
        t.topic_authorized_operations = i32::MIN;
    }
    resp
}

pub fn describe_cluster(broker: &Arc<Broker>, ctx: &RequestContext) -> DescribeClusterResponse {
    let snapshot = broker.metadata.snapshot();
    let mut r = DescribeClusterResponse::default();
    r.error_code = code(None);
    r.cluster_id = str(broker.cluster_id.clone());
    r.controller_id = BrokerId(snapshot.controller_id.unwrap_or(-1));
    r.cluster_authorized_operations = i32::MIN;
    r.brokers = brokers(&snapshot, &ctx.listener_name, 1)
        .into_iter()
        .map(|b| {
            let mut d = DescribeClusterBroker::default();
            d.broker_id = b.node_id;
            d.host = b.host;
            d.port = b.port;
            d.rack = b.rack;
            d
        })
        .collect();
    r
}
