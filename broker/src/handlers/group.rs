//! Consumer group APIs: FindCoordinator (creating `__consumer_offsets` on first use, as
//! Kafka does) and the group and offset requests, mapped onto the coordinator's plain
//! request/result types for the version asked.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest,
    DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse, GroupId,
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest,
    SyncGroupResponse, TopicName,
};
use kafka_protocol::ResponseError;

use super::{admin, code, str, RequestContext};
use crate::group::coordinator::{self as g, CommitPartition, Response, TopicPartition as GroupTp};
use crate::group::partition_for;
use crate::server::{Broker, OFFSETS_TOPIC};

/// Waits for the coordinator's response; an abandoned request is never answered (Kafka lets
/// the client time out), which keeps this connection's later responses behind it.
async fn wait(rx: tokio::sync::oneshot::Receiver<Response>) -> Response {
    match rx.await {
        Ok(r) => r,
        Err(_) => std::future::pending().await,
    }
}

async fn ensure_offsets_topic(broker: &Arc<Broker>) -> Result<(), ResponseError> {
    if broker
        .metadata
        .snapshot()
        .topics
        .contains_key(OFFSETS_TOPIC)
    {
        return Ok(());
    }
    let cfg = &broker.config;
    let mut configs = BTreeMap::new();
    configs.insert("cleanup.policy".to_owned(), "compact".to_owned());
    configs.insert("compression.type".to_owned(), "producer".to_owned());
    configs.insert(
        "segment.bytes".to_owned(),
        cfg.values
            .int("offsets.topic.segment.bytes")
            .unwrap_or(104_857_600)
            .to_string(),
    );
    match admin::create_topic(
        broker,
        OFFSETS_TOPIC,
        cfg.offsets_topic_num_partitions,
        i32::from(cfg.offsets_topic_replication_factor),
        None,
        configs,
        false,
    )
    .await
    {
        Ok(_) | Err((ResponseError::TopicAlreadyExists, _)) => Ok(()),
        Err((e, msg)) => {
            tracing::warn!(
                "cannot create {OFFSETS_TOPIC}: {e:?} {}",
                msg.unwrap_or_default()
            );
            Err(ResponseError::CoordinatorNotAvailable)
        }
    }
}

pub async fn find_coordinator(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let mut r = FindCoordinatorResponse::default();
    r.node_id = BrokerId(-1);
    r.host = str("");
    r.port = -1;
    let result: Result<(i32, String, i32), ResponseError> = async {
        if req.key_type != 0 {
            // No transaction coordinator.
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        ensure_offsets_topic(broker).await?;
        let snapshot = broker.metadata.snapshot();
        let partition = partition_for(req.key.as_str(), broker.config.offsets_topic_num_partitions);
        let leader = snapshot
            .partition(OFFSETS_TOPIC, partition)
            .map(|p| p.leader)
            .filter(|l| *l >= 0)
            .ok_or(ResponseError::CoordinatorNotAvailable)?;
        let ep = snapshot
            .brokers
            .get(&leader)
            .and_then(|b| b.endpoint(&ctx.listener_name))
            .ok_or(ResponseError::CoordinatorNotAvailable)?;
        Ok((
            leader,
            ep.host.clone().unwrap_or_default(),
            i32::from(ep.port),
        ))
    }
    .await;
    match result {
        Ok((id, host, port)) => {
            r.node_id = BrokerId(id);
            r.host = str(host);
            r.port = port;
        }
        Err(e) => {
            r.error_code = e.code();
            if ctx.api_version >= 1 {
                r.error_message = Some(str(e.to_string()));
            }
        }
    }
    r
}

fn opt(s: &Option<kafka_protocol::protocol::StrBytes>) -> Option<String> {
    s.as_ref().map(|s| s.to_string())
}

pub async fn join_group(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: JoinGroupRequest,
) -> JoinGroupResponse {
    let j = g::JoinGroup {
        api_version: ctx.api_version,
        group_id: req.group_id.0.to_string(),
        member_id: req.member_id.to_string(),
        group_instance_id: opt(&req.group_instance_id),
        client_id: ctx.client_id.clone(),
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if ctx.api_version == 0 {
            req.session_timeout_ms
        } else {
            req.rebalance_timeout_ms
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .iter()
            .map(|p| g::Protocol {
                name: p.name.to_string(),
                metadata: p.metadata.clone(),
            })
            .collect(),
    };
    let rx = broker
        .groups
        .submit(broker, |c, id, now| c.handle_join_group(id, j, now));
    let mut r = JoinGroupResponse::default();
    r.generation_id = -1;
    match wait(rx).await {
        Response::JoinGroup(res) => {
            r.error_code = code(res.error);
            r.generation_id = res.generation_id;
            if ctx.api_version >= 7 {
                r.protocol_type = res.protocol_type.map(str);
            }
            r.protocol_name = match (res.protocol_name, ctx.api_version >= 7) {
                (Some(n), _) => Some(str(n)),
                (None, true) => None,
                (None, false) => Some(str("")),
            };
            r.leader = str(res.leader);
            r.member_id = str(res.member_id);
            r.members = res
                .members
                .into_iter()
                .map(|m| {
                    let mut x = JoinGroupResponseMember::default();
                    x.member_id = str(m.member_id);
                    x.group_instance_id = m.group_instance_id.map(str);
                    x.metadata = m.metadata;
                    x
                })
                .collect();
        }
        _ => r.error_code = ResponseError::UnknownServerError.code(),
    }
    r
}

pub async fn sync_group(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: SyncGroupRequest,
) -> SyncGroupResponse {
    let s = g::SyncGroup {
        group_id: req.group_id.0.to_string(),
        generation_id: req.generation_id,
        member_id: req.member_id.to_string(),
        group_instance_id: opt(&req.group_instance_id),
        protocol_type: opt(&req.protocol_type),
        protocol_name: opt(&req.protocol_name),
        assignments: req
            .assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.clone()))
            .collect(),
    };
    let rx = broker
        .groups
        .submit(broker, |c, id, now| c.handle_sync_group(id, s, now));
    let mut r = SyncGroupResponse::default();
    match wait(rx).await {
        Response::SyncGroup(res) => {
            r.error_code = code(res.error);
            if ctx.api_version >= 5 {
                r.protocol_type = res.protocol_type.map(str);
                r.protocol_name = res.protocol_name.map(str);
            }
            r.assignment = res.assignment;
        }
        _ => r.error_code = ResponseError::UnknownServerError.code(),
    }
    r
}

pub async fn heartbeat(broker: &Arc<Broker>, req: HeartbeatRequest) -> HeartbeatResponse {
    let h = g::Heartbeat {
        group_id: req.group_id.0.to_string(),
        generation_id: req.generation_id,
        member_id: req.member_id.to_string(),
        group_instance_id: opt(&req.group_instance_id),
    };
    let rx = broker
        .groups
        .submit(broker, |c, id, now| c.handle_heartbeat(id, h, now));
    let mut r = HeartbeatResponse::default();
    r.error_code = match wait(rx).await {
        Response::Heartbeat(e) => code(e),
        _ => ResponseError::UnknownServerError.code(),
    };
    r
}

pub async fn leave_group(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let members = if ctx.api_version < 3 {
        vec![g::LeavingMember {
            member_id: req.member_id.to_string(),
            group_instance_id: None,
        }]
    } else {
        req.members
            .iter()
            .map(|m| g::LeavingMember {
                member_id: m.member_id.to_string(),
                group_instance_id: opt(&m.group_instance_id),
            })
            .collect()
    };
    let l = g::LeaveGroup {
        group_id: req.group_id.0.to_string(),
        members,
    };
    let rx = broker
        .groups
        .submit(broker, |c, id, now| c.handle_leave_group(id, l, now));
    let mut r = LeaveGroupResponse::default();
    match wait(rx).await {
        Response::LeaveGroup(res) => {
            if ctx.api_version < 3 {
                r.error_code = code(res.legacy_error());
            } else {
                r.error_code = code(res.error);
                r.members = res
                    .members
                    .into_iter()
                    .map(|m| {
                        let mut x = MemberResponse::default();
                        x.member_id = str(m.member_id);
                        x.group_instance_id = m.group_instance_id.map(str);
                        x.error_code = code(m.error);
                        x
                    })
                    .collect();
            }
        }
        _ => r.error_code = ResponseError::UnknownServerError.code(),
    }
    r
}

pub async fn offset_commit(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let snapshot = broker.metadata.snapshot();
    // Errors decided here (unknown partitions), by (topic, partition).
    let mut local: BTreeMap<(String, i32), ResponseError> = BTreeMap::new();
    let mut partitions = Vec::new();
    for t in &req.topics {
        let topic = t.name.0.to_string();
        for p in &t.partitions {
            if snapshot.partition(&topic, p.partition_index).is_none() {
                local.insert(
                    (topic.clone(), p.partition_index),
                    ResponseError::UnknownTopicOrPartition,
                );
                continue;
            }
            partitions.push(CommitPartition {
                topic: topic.clone(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if ctx.api_version >= 6 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: opt(&p.committed_metadata),
                commit_timestamp: if ctx.api_version == 1 {
                    p.commit_timestamp
                } else {
                    -1
                },
            });
        }
    }
    let mut results: BTreeMap<(String, i32), Option<ResponseError>> = BTreeMap::new();
    if !partitions.is_empty() {
        let c = g::OffsetCommit {
            group_id: req.group_id.0.to_string(),
            generation_id: req.generation_id_or_member_epoch,
            member_id: req.member_id.to_string(),
            group_instance_id: opt(&req.group_instance_id),
            retention_time_ms: if (2..=4).contains(&ctx.api_version) {
                req.retention_time_ms
            } else {
                -1
            },
            partitions,
        };
        let rx = broker
            .groups
            .submit(broker, |co, id, now| co.handle_offset_commit(id, c, now));
        if let Response::OffsetCommit(res) = wait(rx).await {
            for (tp, e) in res.partitions {
                results.insert((tp.topic, tp.partition), e);
            }
        }
    }
    let mut r = OffsetCommitResponse::default();
    for t in &req.topics {
        let topic = t.name.0.to_string();
        let mut rt = OffsetCommitResponseTopic::default();
        rt.name = t.name.clone();
        for p in &t.partitions {
            let key = (topic.clone(), p.partition_index);
            let mut rp = OffsetCommitResponsePartition::default();
            rp.partition_index = p.partition_index;
            rp.error_code = match local.get(&key) {
                Some(e) => e.code(),
                None => match results.get(&key) {
                    Some(e) => code(*e),
                    None => ResponseError::UnknownServerError.code(),
                },
            };
            rt.partitions.push(rp);
        }
        r.topics.push(rt);
    }
    r
}

pub fn offset_fetch(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let wanted: Option<Vec<GroupTp>> = req.topics.as_ref().map(|ts| {
        ts.iter()
            .flat_map(|t| {
                t.partition_indexes
                    .iter()
                    .map(move |p| GroupTp::new(t.name.0.to_string(), *p))
            })
            .collect()
    });
    let res = broker.groups.with(|c| {
        c.fetch_offsets(
            req.group_id.0.as_str(),
            wanted.as_deref(),
            req.require_stable,
        )
    });
    let mut r = OffsetFetchResponse::default();
    if ctx.api_version >= 2 {
        r.error_code = code(res.error);
    }
    let mut topics: BTreeMap<String, Vec<OffsetFetchResponsePartition>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for p in res.partitions {
        let mut x = OffsetFetchResponsePartition::default();
        x.partition_index = p.partition;
        x.committed_offset = p.offset;
        if ctx.api_version >= 5 {
            x.committed_leader_epoch = p.leader_epoch;
        }
        x.metadata = Some(str(p.metadata));
        // Before v2 the group error travels in each partition.
        x.error_code = if ctx.api_version < 2 {
            code(p.error.or(res.error))
        } else {
            code(p.error)
        };
        if !topics.contains_key(&p.topic) {
            order.push(p.topic.clone());
        }
        topics.entry(p.topic).or_default().push(x);
    }
    for name in order {
        let mut t = OffsetFetchResponseTopic::default();
        t.partitions = topics.remove(&name).unwrap_or_default();
        t.name = TopicName(str(name));
        r.topics.push(t);
    }
    r
}

pub fn list_groups(broker: &Arc<Broker>, v: i16, req: ListGroupsRequest) -> ListGroupsResponse {
    let filter: Vec<String> = req.states_filter.iter().map(|s| s.to_string()).collect();
    let res = broker.groups.with(|c| c.list_groups(&filter));
    let mut r = ListGroupsResponse::default();
    r.error_code = code(res.error);
    r.groups = res
        .groups
        .into_iter()
        .map(|gr| {
            let mut x = ListedGroup::default();
            x.group_id = GroupId(str(gr.group_id));
            x.protocol_type = str(gr.protocol_type);
            if v >= 4 {
                x.group_state = str(gr.state.as_str());
            }
            x
        })
        .collect();
    r
}

pub fn describe_groups(
    broker: &Arc<Broker>,
    v: i16,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let mut r = DescribeGroupsResponse::default();
    for gid in req.groups {
        let d = broker.groups.with(|c| c.describe_group(gid.0.as_str()));
        let mut x = DescribedGroup::default();
        x.error_code = code(d.error);
        x.group_id = GroupId(str(d.group_id));
        x.group_state = str(d.state);
        x.protocol_type = str(d.protocol_type);
        x.protocol_data = str(d.protocol);
        x.authorized_operations = i32::MIN;
        x.members = d
            .members
            .into_iter()
            .map(|m| {
                let mut y = DescribedGroupMember::default();
                y.member_id = str(m.member_id);
                if v >= 4 {
                    y.group_instance_id = m.group_instance_id.map(str);
                }
                y.client_id = str(m.client_id);
                y.client_host = str(m.client_host);
                y.member_metadata = m.metadata;
                y.member_assignment = m.assignment;
                y
            })
            .collect();
        r.groups.push(x);
    }
    r
}

pub async fn delete_groups(broker: &Arc<Broker>, req: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let ids: Vec<String> = req.groups_names.iter().map(|g| g.0.to_string()).collect();
    let rx = broker
        .groups
        .submit(broker, |c, id, now| c.handle_delete_groups(id, ids, now));
    let mut r = DeleteGroupsResponse::default();
    if let Response::DeleteGroups(res) = wait(rx).await {
        r.results = res
            .groups
            .into_iter()
            .map(|(gid, e)| {
                let mut x = DeletableGroupResult::default();
                x.group_id = GroupId(str(gid));
                x.error_code = code(e);
                x
            })
            .collect();
    }
    r
}
