//! API handlers: one module per family of requests, each taking the decoded kafka-protocol
//! request and returning the response for the version asked. [`SUPPORTED`] lists every API
//! and version range this broker implements; ApiVersions advertises exactly that.

pub mod admin;
pub mod control;
pub mod fetch;
pub mod group;
pub mod metadata;
pub mod produce;

use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use crate::server::Broker;

/// What a handler knows about the request besides its body.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: String,
    /// The listener the request came in on (clients see endpoints of that listener).
    pub listener_name: String,
    pub peer: SocketAddr,
}

/// (API, lowest, highest version) implemented. Versions are those of Kafka 2.8 that this
/// broker handles with their full semantics; newer ones (topic ids, KIP-482 flexible
/// versions beyond these) are left out rather than half-supported.
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 8),
    (ApiKey::Fetch, 4, 11),
    (ApiKey::ListOffsets, 1, 5),
    (ApiKey::Metadata, 0, 9),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::FindCoordinator, 0, 3),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 0, 5),
    (ApiKey::DeleteTopics, 0, 5),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::OffsetForLeaderEpoch, 0, 3),
    (ApiKey::DescribeConfigs, 0, 3),
    (ApiKey::AlterConfigs, 0, 1),
    (ApiKey::CreatePartitions, 0, 2),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::DescribeCluster, 0, 0),
    // Controller to broker (v2+/v5+/v3+ carry partitions grouped by topic).
    (ApiKey::LeaderAndIsr, 2, 4),
    (ApiKey::UpdateMetadata, 5, 6),
    (ApiKey::StopReplica, 3, 3),
];

/// The implemented version range of `api`.
pub fn supported_versions(api: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == api)
        .map(|(_, min, max)| (*min, *max))
}

/// The error code of an optional error (0 for none).
pub fn code(e: Option<ResponseError>) -> i16 {
    e.map_or(0, |e| e.code())
}

pub fn str(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

fn api_versions_body(error: Option<ResponseError>) -> ApiVersionsResponse {
    let mut r = ApiVersionsResponse::default();
    r.error_code = code(error);
    r.api_keys = SUPPORTED
        .iter()
        .map(|(k, min, max)| {
            let mut v = ApiVersion::default();
            v.api_key = *k as i16;
            v.min_version = *min;
            v.max_version = *max;
            v
        })
        .collect();
    r
}

/// The v0 answer to an ApiVersions request of a version we do not speak.
pub fn api_versions_unsupported() -> ApiVersionsResponse {
    api_versions_body(Some(ResponseError::UnsupportedVersion))
}

/// Handles one request; `None` means no response is sent (acks=0 produce).
pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    request: RequestKind,
) -> Option<ResponseKind> {
    Some(match request {
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(api_versions_body(None)),
        RequestKind::Metadata(r) => {
            ResponseKind::Metadata(metadata::metadata(broker, ctx, r).await)
        }
        RequestKind::DescribeCluster(_) => {
            ResponseKind::DescribeCluster(metadata::describe_cluster(broker, ctx))
        }
        RequestKind::Produce(r) => {
            return produce::produce(broker, ctx, r)
                .await
                .map(ResponseKind::Produce)
        }
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(produce::init_producer_id(broker, r).await)
        }
        RequestKind::Fetch(r) => ResponseKind::Fetch(fetch::fetch(broker, ctx, r).await),
        RequestKind::ListOffsets(r) => {
            ResponseKind::ListOffsets(fetch::list_offsets(broker, ctx.api_version, r))
        }
        RequestKind::OffsetForLeaderEpoch(r) => ResponseKind::OffsetForLeaderEpoch(
            fetch::offset_for_leader_epoch(broker, ctx.api_version, r),
        ),
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(admin::create_topics(broker, ctx, r).await)
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(admin::delete_topics(broker, ctx.api_version, r).await)
        }
        RequestKind::CreatePartitions(r) => {
            ResponseKind::CreatePartitions(admin::create_partitions(broker, r).await)
        }
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(admin::describe_configs(broker, ctx, r).await)
        }
        RequestKind::AlterConfigs(r) => {
            ResponseKind::AlterConfigs(admin::alter_configs(broker, r).await)
        }
        RequestKind::IncrementalAlterConfigs(r) => {
            ResponseKind::IncrementalAlterConfigs(admin::incremental_alter_configs(broker, r).await)
        }
        RequestKind::FindCoordinator(r) => {
            ResponseKind::FindCoordinator(group::find_coordinator(broker, ctx, r).await)
        }
        RequestKind::JoinGroup(r) => {
            ResponseKind::JoinGroup(group::join_group(broker, ctx, r).await)
        }
        RequestKind::SyncGroup(r) => {
            ResponseKind::SyncGroup(group::sync_group(broker, ctx, r).await)
        }
        RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(group::heartbeat(broker, r).await),
        RequestKind::LeaveGroup(r) => {
            ResponseKind::LeaveGroup(group::leave_group(broker, ctx, r).await)
        }
        RequestKind::OffsetCommit(r) => {
            ResponseKind::OffsetCommit(group::offset_commit(broker, ctx, r).await)
        }
        RequestKind::OffsetFetch(r) => {
            ResponseKind::OffsetFetch(group::offset_fetch(broker, ctx, r))
        }
        RequestKind::ListGroups(r) => {
            ResponseKind::ListGroups(group::list_groups(broker, ctx.api_version, r))
        }
        RequestKind::DescribeGroups(r) => {
            ResponseKind::DescribeGroups(group::describe_groups(broker, ctx.api_version, r))
        }
        RequestKind::DeleteGroups(r) => {
            ResponseKind::DeleteGroups(group::delete_groups(broker, r).await)
        }
        RequestKind::LeaderAndIsr(r) => {
            ResponseKind::LeaderAndIsr(control::leader_and_isr(broker, r).await)
        }
        RequestKind::UpdateMetadata(r) => {
            ResponseKind::UpdateMetadata(control::update_metadata(broker, r))
        }
        RequestKind::StopReplica(r) => ResponseKind::StopReplica(control::stop_replica(broker, r)),
        // The network layer refuses every other API before decoding it.
        other => {
            tracing::warn!("no handler for {:?}", std::mem::discriminant(&other));
            return None;
        }
    })
}
