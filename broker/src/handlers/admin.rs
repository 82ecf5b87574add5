//! Topic administration as Kafka 2.x's AdminManager does it in ZooKeeper mode: CreateTopics,
//! DeleteTopics and CreatePartitions write znodes (like AdminZkClient) and wait for the
//! controller's result to reach the metadata cache; DescribeConfigs, AlterConfigs and
//! IncrementalAlterConfigs read and write `/config/topics/<t>` with a change notification.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, CreatePartitionsRequest, CreatePartitionsResponse,
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse, TopicName,
};
use kafka_protocol::ResponseError;

use super::{str, RequestContext};
use crate::assignment::{
    assign_replicas_to_brokers, broker_metadatas, new_partitions_assignment,
    validate_replica_assignment, AssignmentError, BrokerMetadata, RackAwareMode,
};
use crate::dynamic_config::{
    broker_config_synonyms, check_persistable, from_persistent, is_dynamic, is_known, is_list,
    is_password, Synonym, SOURCE_DEFAULT, SOURCE_DYNAMIC_DEFAULT_BROKER, SOURCE_TOPIC,
};
use crate::log_manager::apply_topic_overrides;
use crate::server::Broker;
use crate::zkclient::ZkError;
use crate::zkdata::{
    validate_topic_name, ConfigEntityType, EntityConfig, TopicAssignment, DEFAULT_ENTITY,
};

/// A failure with its message for the response.
pub type AdminError = (ResponseError, Option<String>);

/// Config resource types of DescribeConfigs/AlterConfigs.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

fn zk_error(e: ZkError) -> AdminError {
    let msg = Some(e.to_string());
    match e {
        ZkError::TopicExists(_) => (ResponseError::TopicAlreadyExists, msg),
        ZkError::TopicMarkedForDeletion(_) => (ResponseError::TopicAlreadyExists, msg),
        ZkError::TopicCollision { .. } | ZkError::InvalidTopic(_) => {
            (ResponseError::InvalidTopicException, msg)
        }
        ZkError::InvalidAssignment(a) => assignment_error(a),
        _ => (ResponseError::UnknownServerError, msg),
    }
}

fn assignment_error(e: AssignmentError) -> AdminError {
    let code = match e {
        AssignmentError::InvalidPartitions | AssignmentError::NotAnIncrease { .. } => {
            ResponseError::InvalidPartitions
        }
        AssignmentError::InvalidReplicationFactor
        | AssignmentError::ReplicationFactorTooLarge { .. } => {
            ResponseError::InvalidReplicationFactor
        }
        _ => ResponseError::InvalidReplicaAssignment,
    };
    (code, Some(e.to_string()))
}

fn live_brokers(broker: &Broker) -> Vec<BrokerMetadata> {
    broker
        .metadata
        .snapshot()
        .brokers
        .values()
        .map(|b| BrokerMetadata {
            id: b.id,
            rack: b.rack.clone(),
        })
        .collect()
}

/// The server.properties keys behind a topic config (Kafka's `LogConfig.TopicConfigSynonyms`
/// expanded by `DynamicBrokerConfig.brokerConfigSynonyms`): when any is set explicitly, the
/// topic config's source is STATIC_BROKER_CONFIG, which `kafka-topics --describe` shows.
fn broker_synonyms(topic_key: &str) -> &'static [&'static str] {
    match topic_key {
        "segment.bytes" => &["log.segment.bytes"],
        "segment.ms" => &["log.roll.ms", "log.roll.hours"],
        "segment.jitter.ms" => &["log.roll.jitter.ms", "log.roll.jitter.hours"],
        "segment.index.bytes" => &["log.index.size.max.bytes"],
        "flush.messages" => &["log.flush.interval.messages"],
        "flush.ms" => &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"],
        "retention.bytes" => &["log.retention.bytes"],
        "retention.ms" => &[
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours",
        ],
        "max.message.bytes" => &["message.max.bytes"],
        "index.interval.bytes" => &["log.index.interval.bytes"],
        "delete.retention.ms" => &["log.cleaner.delete.retention.ms"],
        "min.compaction.lag.ms" => &["log.cleaner.min.compaction.lag.ms"],
        "max.compaction.lag.ms" => &["log.cleaner.max.compaction.lag.ms"],
        "file.delete.delay.ms" => &["log.segment.delete.delay.ms"],
        "min.cleanable.dirty.ratio" => &["log.cleaner.min.cleanable.ratio"],
        "cleanup.policy" => &["log.cleanup.policy"],
        "unclean.leader.election.enable" => &["unclean.leader.election.enable"],
        "min.insync.replicas" => &["min.insync.replicas"],
        "compression.type" => &["compression.type"],
        "preallocate" => &["log.preallocate"],
        "message.format.version" => &["log.message.format.version"],
        "message.timestamp.type" => &["log.message.timestamp.type"],
        "message.timestamp.difference.max.ms" => &["log.message.timestamp.difference.max.ms"],
        "message.downconversion.enable" => &["log.message.downconversion.enable"],
        _ => &[],
    }
}

/// Topic-level config keys with the broker-level value each defaults to.
pub fn topic_config_defaults(broker: &Broker) -> BTreeMap<&'static str, String> {
    // The effective config: server.properties with the dynamic broker configs on top.
    let c = &*broker.dynamic.current();
    let v = |k: &'static str| {
        c.values
            .original(k)
            .map(str::to_owned)
            .or_else(|| match crate::config::key_def(k) {
                Some(d) => d.default.map(str::to_owned),
                // Cleaner keys and the like: dynamic value or Kafka's default.
                None => broker.dynamic.value_of(k),
            })
    };
    let mut m = BTreeMap::new();
    m.insert("cleanup.policy", c.log_cleanup_policy.join(","));
    m.insert("compression.type", c.compression_type.clone());
    m.insert(
        "delete.retention.ms",
        v("log.cleaner.delete.retention.ms").unwrap_or("86400000".into()),
    );
    m.insert(
        "file.delete.delay.ms",
        v("log.segment.delete.delay.ms").unwrap_or("60000".into()),
    );
    m.insert("flush.messages", c.log_flush_interval_messages.to_string());
    m.insert("flush.ms", c.log_flush_interval_ms.to_string());
    m.insert(
        "index.interval.bytes",
        c.log_index_interval_bytes.to_string(),
    );
    m.insert("max.message.bytes", c.message_max_bytes.to_string());
    m.insert(
        "message.timestamp.type",
        match c.log_message_timestamp_type {
            crate::config::TimestampType::CreateTime => "CreateTime".into(),
            crate::config::TimestampType::LogAppendTime => "LogAppendTime".into(),
        },
    );
    m.insert("min.insync.replicas", c.min_insync_replicas.to_string());
    m.insert("retention.bytes", c.log_retention_bytes.to_string());
    m.insert("retention.ms", c.log_retention_ms.to_string());
    m.insert("segment.bytes", c.log_segment_bytes.to_string());
    m.insert(
        "segment.index.bytes",
        c.log_index_size_max_bytes.to_string(),
    );
    m.insert("segment.ms", c.log_roll_ms.to_string());
    m.insert("segment.jitter.ms", c.log_roll_jitter_ms.to_string());
    m.insert(
        "unclean.leader.election.enable",
        c.unclean_leader_election_enable.to_string(),
    );
    m.insert(
        "message.format.version",
        c.log_message_format_version.to_string(),
    );
    m.insert(
        "min.cleanable.dirty.ratio",
        v("log.cleaner.min.cleanable.ratio").unwrap_or("0.5".into()),
    );
    m.insert(
        "min.compaction.lag.ms",
        v("log.cleaner.min.compaction.lag.ms").unwrap_or("0".into()),
    );
    m.insert(
        "max.compaction.lag.ms",
        v("log.cleaner.max.compaction.lag.ms").unwrap_or("9223372036854775807".into()),
    );
    m.insert(
        "message.timestamp.difference.max.ms",
        v("log.message.timestamp.difference.max.ms").unwrap_or("9223372036854775807".into()),
    );
    m.insert(
        "message.downconversion.enable",
        v("log.message.downconversion.enable").unwrap_or("true".into()),
    );
    m.insert(
        "preallocate",
        v("log.preallocate").unwrap_or("false".into()),
    );
    m.insert("leader.replication.throttled.replicas", String::new());
    m.insert("follower.replication.throttled.replicas", String::new());
    m
}

/// Checks topic overrides: known keys, values the log accepts.
fn validate_topic_configs(
    broker: &Broker,
    configs: &BTreeMap<String, String>,
) -> Result<(), AdminError> {
    let known = topic_config_defaults(broker);
    for k in configs.keys() {
        if !known.contains_key(k.as_str()) {
            return Err((
                ResponseError::InvalidConfig,
                Some(format!("Unknown topic config name: {k}")),
            ));
        }
    }
    apply_topic_overrides(&broker.default_log_config(), configs)
        .map(|_| ())
        .map_err(|e| (ResponseError::InvalidConfig, Some(e.to_string())))
}

/// Creates a topic (AdminZkClient.createTopic): `partitions`/`rf` of -1 take the broker
/// defaults; a manual `assignment` replaces both. Returns the partition count and
/// replication factor.
pub async fn create_topic(
    broker: &Arc<Broker>,
    name: &str,
    partitions: i32,
    rf: i32,
    assignment: Option<BTreeMap<i32, Vec<i32>>>,
    configs: BTreeMap<String, String>,
    validate_only: bool,
) -> Result<(i32, i16), AdminError> {
    validate_topic_name(name)
        .map_err(|e| (ResponseError::InvalidTopicException, Some(e.to_string())))?;
    validate_topic_configs(broker, &configs)?;
    let brokers = live_brokers(broker);
    let assignment = match assignment {
        Some(a) => {
            let ids: std::collections::BTreeSet<i32> = brokers.iter().map(|b| b.id).collect();
            let rf = a.values().next().map_or(0, Vec::len);
            validate_replica_assignment(&a, rf, &ids).map_err(assignment_error)?;
            a
        }
        None => {
            let partitions = if partitions == -1 {
                broker.config.num_partitions
            } else {
                partitions
            };
            let rf = if rf == -1 {
                broker.config.default_replication_factor
            } else {
                rf
            };
            let metas =
                broker_metadatas(&brokers, RackAwareMode::Enforced).map_err(assignment_error)?;
            assign_replicas_to_brokers(&metas, partitions, rf, None, 0, &mut rand::thread_rng())
                .map_err(assignment_error)?
        }
    };
    let n = assignment.len() as i32;
    let rf = assignment.values().next().map_or(0, |r| r.len()) as i16;
    let zk = broker.zk();
    if zk.topic_exists(name).await.map_err(zk_error)? {
        return Err((
            ResponseError::TopicAlreadyExists,
            Some(format!("Topic '{name}' already exists.")),
        ));
    }
    if validate_only {
        return Ok((n, rf));
    }
    let json = TopicAssignment::json_version(broker.config.inter_broker_protocol_version);
    let mut ta = TopicAssignment::new(assignment);
    if json >= 3 {
        ta.topic_id = Some(crate::zkdata::Uuid::random());
    }
    zk.create_topic_with_assignment(name, &EntityConfig { config: configs }, &ta, json)
        .await
        .map_err(zk_error)?;
    tracing::info!("Created topic {name} with {n} partitions and replication factor {rf}");
    broker.controller_poke().notify_one();
    Ok((n, rf))
}

fn timeout(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms.clamp(0, 600_000)).unwrap_or(0))
}

/// Waits until every partition of `topic` has a leader in the metadata cache.
async fn wait_for_leaders(broker: &Broker, topic: &str, partitions: i32, ms: i32) -> bool {
    broker
        .metadata
        .wait_for(timeout(ms), |s| {
            s.topics.get(topic).is_some_and(|t| {
                t.partitions.len() as i32 >= partitions
                    && t.partitions.values().all(|p| p.leader >= 0)
            })
        })
        .await
}

pub async fn create_topics(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut resp = CreateTopicsResponse::default();
    for t in req.topics {
        let name = t.name.0.to_string();
        let mut r = CreatableTopicResult::default();
        r.name = t.name.clone();
        r.num_partitions = -1;
        r.replication_factor = -1;
        let configs: BTreeMap<String, String> = t
            .configs
            .iter()
            .filter_map(|c| {
                c.value
                    .as_ref()
                    .map(|v| (c.name.to_string(), v.to_string()))
            })
            .collect();
        let manual = (!t.assignments.is_empty()).then(|| {
            t.assignments
                .iter()
                .map(|a| {
                    (
                        a.partition_index,
                        a.broker_ids.iter().map(|b| b.0).collect(),
                    )
                })
                .collect::<BTreeMap<i32, Vec<i32>>>()
        });
        let result = if manual.is_some() && (t.num_partitions != -1 || t.replication_factor != -1) {
            Err((
                ResponseError::InvalidRequest,
                Some("Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.".to_owned()),
            ))
        } else {
            create_topic(
                broker,
                &name,
                t.num_partitions,
                i32::from(t.replication_factor),
                manual,
                configs,
                req.validate_only,
            )
            .await
        };
        match result {
            Ok((n, rf)) => {
                if ctx.api_version >= 5 {
                    r.num_partitions = n;
                    r.replication_factor = rf;
                }
                if !req.validate_only
                    && req.timeout_ms > 0
                    && !wait_for_leaders(broker, &name, n, req.timeout_ms).await
                {
                    r.error_code = ResponseError::RequestTimedOut.code();
                    if ctx.api_version >= 1 {
                        r.error_message = Some(str(
                            "Timed out waiting for the topic's partitions to get leaders",
                        ));
                    }
                }
                if ctx.api_version >= 5 {
                    r.configs = Some(Vec::new());
                }
            }
            Err((e, msg)) => {
                r.error_code = e.code();
                if ctx.api_version >= 1 {
                    r.error_message = msg.map(str);
                }
            }
        }
        resp.topics.push(r);
    }
    resp
}

pub async fn delete_topics(
    broker: &Arc<Broker>,
    v: i16,
    req: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let mut resp = DeleteTopicsResponse::default();
    let names: Vec<String> = req
        .topic_names
        .iter()
        .map(|n| n.0.to_string())
        .chain(
            req.topics
                .iter()
                .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string())),
        )
        .collect();
    let zk = broker.zk();
    let mut marked = Vec::new();
    for name in names {
        let mut r = DeletableTopicResult::default();
        r.name = Some(TopicName(str(name.clone())));
        let result: Result<(), AdminError> = async {
            if !broker.config.delete_topic_enable {
                return Err((ResponseError::TopicDeletionDisabled, None));
            }
            if !zk.topic_exists(&name).await.map_err(zk_error)? {
                return Err((ResponseError::UnknownTopicOrPartition, None));
            }
            zk.create_delete_topic_path(&name).await.map_err(zk_error)?;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => marked.push((resp.responses.len(), name)),
            Err((e, msg)) => {
                r.error_code = e.code();
                if v >= 5 {
                    r.error_message = msg.map(str);
                }
            }
        }
        resp.responses.push(r);
    }
    broker.controller_poke().notify_one();
    for (i, name) in marked {
        let gone = broker
            .metadata
            .wait_for(timeout(req.timeout_ms), |s| !s.topics.contains_key(&name))
            .await;
        if !gone {
            resp.responses[i].error_code = ResponseError::RequestTimedOut.code();
        }
    }
    resp
}

pub async fn create_partitions(
    broker: &Arc<Broker>,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut resp = CreatePartitionsResponse::default();
    let zk = broker.zk();
    for t in req.topics {
        let name = t.name.0.to_string();
        let mut r = CreatePartitionsTopicResult::default();
        r.name = t.name.clone();
        let result: Result<(), AdminError> = async {
            let (existing, version) = zk
                .get_topic_assignment(&name)
                .await
                .map_err(zk_error)?
                .ok_or((ResponseError::UnknownTopicOrPartition, None))?;
            let brokers = broker_metadatas(&live_brokers(broker), RackAwareMode::Enforced)
                .map_err(assignment_error)?;
            let start = existing.partitions.len() as i32;
            let manual: Option<BTreeMap<i32, Vec<i32>>> = t.assignments.as_ref().map(|a| {
                a.iter()
                    .enumerate()
                    .map(|(i, x)| (start + i as i32, x.broker_ids.iter().map(|b| b.0).collect()))
                    .collect()
            });
            let added = new_partitions_assignment(
                &name,
                &existing.partitions,
                t.count,
                &brokers,
                manual.as_ref(),
                &mut rand::thread_rng(),
            )
            .map_err(assignment_error)?;
            if req.validate_only {
                return Ok(());
            }
            let mut full = existing.clone();
            full.partitions.extend(added);
            let json = TopicAssignment::json_version(broker.config.inter_broker_protocol_version);
            zk.set_topic_assignment(&name, &full, json, Some(version), None)
                .await
                .map_err(zk_error)?;
            broker.controller_poke().notify_one();
            if !wait_for_leaders(broker, &name, t.count, req.timeout_ms).await {
                return Err((ResponseError::RequestTimedOut, None));
            }
            Ok(())
        }
        .await;
        if let Err((e, msg)) = result {
            r.error_code = e.code();
            r.error_message = msg.map(str);
        }
        resp.results.push(r);
    }
    resp
}

pub async fn describe_configs(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let mut resp = DescribeConfigsResponse::default();
    let snapshot = broker.metadata.snapshot();
    let with_synonyms = ctx.api_version >= 1 && req.include_synonyms;
    for res in req.resources {
        let mut out = DescribeConfigsResult::default();
        out.resource_type = res.resource_type;
        out.resource_name = res.resource_name.clone();
        let wanted = |k: &str| {
            res.configuration_keys
                .as_ref()
                .is_none_or(|keys| keys.iter().any(|x| x.as_str() == k))
        };
        let entry = |name: &str,
                     value: Option<String>,
                     sensitive: bool,
                     read_only: bool,
                     synonyms: Vec<Synonym>| {
            let source = synonyms.first().map_or(SOURCE_DEFAULT, |s| s.source);
            let mut e = DescribeConfigsResourceResult::default();
            e.name = str(name);
            e.value = if sensitive { None } else { value.map(str) };
            if ctx.api_version >= 1 {
                e.config_source = source;
            } else {
                e.is_default = source == SOURCE_DEFAULT;
            }
            e.is_sensitive = sensitive;
            e.read_only = read_only;
            if with_synonyms {
                e.synonyms = synonyms
                    .into_iter()
                    .map(|s| {
                        let mut x = DescribeConfigsSynonym::default();
                        x.name = str(s.name);
                        x.value = s.value.map(str);
                        x.source = s.source;
                        x
                    })
                    .collect();
            }
            e
        };
        match res.resource_type {
            RESOURCE_TOPIC => {
                let name = res.resource_name.to_string();
                if !snapshot.topics.contains_key(&name) {
                    out.error_code = ResponseError::UnknownTopicOrPartition.code();
                } else {
                    let overrides = match broker
                        .zk()
                        .get_entity_config(ConfigEntityType::Topics, &name)
                        .await
                    {
                        Ok(c) => c.config,
                        Err(_) => broker.topic_overrides(&name),
                    };
                    for (k, default) in topic_config_defaults(broker) {
                        if !wanted(k) {
                            continue;
                        }
                        // Where the value comes from, highest precedence first: the topic
                        // override, then Kafka's `configSynonyms` of the primary broker key
                        // (so a static `log.retention.hours` alone leaves `retention.ms` at
                        // DEFAULT_CONFIG, as Kafka 2.4 reports it).
                        let names: Vec<String> =
                            broker_synonyms(k).iter().map(|n| (*n).to_owned()).collect();
                        let mut synonyms = Vec::new();
                        if let Some(v) = overrides.get(k) {
                            synonyms.push(Synonym {
                                name: k.to_owned(),
                                value: Some(v.clone()),
                                source: SOURCE_TOPIC,
                            });
                        }
                        if let Some(primary) = names.first() {
                            synonyms.extend(broker.dynamic.synonyms(primary, &names, false));
                        }
                        let value = overrides.get(k).cloned().unwrap_or(default);
                        out.configs
                            .push(entry(k, Some(value), false, false, synonyms));
                    }
                }
            }
            RESOURCE_BROKER => {
                let name = res.resource_name.to_string();
                let id = name.parse::<i32>();
                if name.is_empty() {
                    // The cluster default shows only the dynamic defaults (Kafka 2.4).
                    for (k, v) in broker.dynamic.defaults() {
                        if !wanted(&k) {
                            continue;
                        }
                        let sensitive = sensitive_broker_key(&k);
                        let synonyms: Vec<Synonym> = broker
                            .dynamic
                            .synonyms(&k, &broker_config_synonyms(&k, true), sensitive)
                            .into_iter()
                            .filter(|s| s.source == SOURCE_DYNAMIC_DEFAULT_BROKER)
                            .collect();
                        out.configs
                            .push(entry(&k, Some(v), sensitive, !is_dynamic(&k), synonyms));
                    }
                } else if id.is_err() {
                    out.error_code = ResponseError::InvalidRequest.code();
                    out.error_message = Some(str(format!(
                        "Broker id must be an integer, but it is: {name}"
                    )));
                } else if id.ok() != Some(broker.broker_id) {
                    out.error_code = ResponseError::InvalidRequest.code();
                    out.error_message = Some(str(format!(
                        "Unexpected broker id, expected {} or empty string, but received {name}",
                        broker.broker_id
                    )));
                } else {
                    let current = broker.dynamic.current();
                    let describe = |k: &str, value: Option<String>| {
                        let sensitive = sensitive_broker_key(k);
                        let synonyms =
                            broker
                                .dynamic
                                .synonyms(k, &broker_config_synonyms(k, true), sensitive);
                        entry(k, value, sensitive, !is_dynamic(k), synonyms)
                    };
                    for def in crate::config::KEYS {
                        if wanted(def.name) {
                            let value = current
                                .values
                                .original(def.name)
                                .or(def.default)
                                .map(str::to_owned);
                            out.configs.push(describe(def.name, value));
                        }
                    }
                    // Dynamic keys outside server.properties' key set (cleaner, connection
                    // quotas, ...) with Kafka's defaults, then those the broker has no
                    // definition of (listener overrides, replication throttles, custom keys).
                    let mut extra: BTreeMap<String, Option<String>> =
                        crate::dynamic_config::extra_keys()
                            .map(|k| (k.to_owned(), broker.dynamic.value_of(k)))
                            .collect();
                    for (k, v) in broker
                        .dynamic
                        .defaults()
                        .into_iter()
                        .chain(broker.dynamic.per_broker())
                    {
                        extra.insert(k, Some(v));
                    }
                    for (k, v) in extra {
                        if crate::config::key_def(&k).is_none() && wanted(&k) {
                            out.configs.push(describe(&k, v));
                        }
                    }
                }
            }
            _ => {
                out.error_code = ResponseError::InvalidRequest.code();
                out.error_message = Some(str(format!(
                    "Unsupported resource type: {}",
                    res.resource_type
                )));
            }
        }
        resp.results.push(out);
    }
    resp
}

/// Whether a broker config's value is hidden: passwords, and (as Kafka does when it cannot
/// tell a key's type) keys the broker has no definition of, unless a listener prefix names a
/// known base config.
fn sensitive_broker_key(name: &str) -> bool {
    let base = broker_config_synonyms(name, true)
        .into_iter()
        .find(|n| is_known(n));
    match base {
        Some(b) => b.contains("password") || is_password(name),
        None => true,
    }
}

/// AdminManager.getBrokerId: `None` for the cluster default (empty name), else this
/// broker's id.
fn broker_resource_id(broker: &Broker, name: &str) -> Result<Option<i32>, AdminError> {
    if name.is_empty() {
        return Ok(None);
    }
    let id: i32 = name.parse().map_err(|_| {
        (
            ResponseError::InvalidRequest,
            Some(format!("Broker id must be an integer, but it is: {name}")),
        )
    })?;
    if id != broker.broker_id {
        return Err((
            ResponseError::InvalidRequest,
            Some(format!(
                "Unexpected broker id, expected {}, but received {name}",
                broker.broker_id
            )),
        ));
    }
    Ok(Some(id))
}

/// A ConfigException as AdminManager answers it: INVALID_REQUEST naming the resource.
fn invalid_broker_config(name: &str, msg: String) -> AdminError {
    (
        ResponseError::InvalidRequest,
        Some(format!(
            "Invalid config value for resource ConfigResource(type=BROKER, name='{name}'): {msg}"
        )),
    )
}

/// AdminManager.alterBrokerConfigs: validates `props` as the whole new per-broker (or
/// cluster-default) layer and writes it with a change notification; this broker applies it
/// at once, the others when the notification reaches them.
async fn alter_broker_config(
    broker: &Arc<Broker>,
    name: &str,
    props: BTreeMap<String, String>,
    validate_only: bool,
) -> Result<(), AdminError> {
    let id = broker_resource_id(broker, name)?;
    let per_broker = id.is_some();
    broker
        .dynamic
        .validate(&props, per_broker)
        .map_err(|m| invalid_broker_config(name, m))?;
    if validate_only {
        return Ok(());
    }
    check_persistable(&props, per_broker).map_err(|m| invalid_broker_config(name, m))?;
    let entity = id.map_or_else(|| DEFAULT_ENTITY.to_owned(), |i| i.to_string());
    let zk = broker.zk();
    zk.change_entity_config(
        ConfigEntityType::Brokers,
        &entity,
        &EntityConfig { config: props },
    )
    .await
    .map_err(zk_error)?;
    tracing::info!("Updated dynamic broker configs of {entity}");
    match broker.dynamic.reload(&zk, broker.broker_id).await {
        Ok(true) => broker.reconfigure_logs(),
        Ok(false) => {}
        Err(e) => tracing::warn!("cannot read back dynamic broker configs: {e}"),
    }
    Ok(())
}

/// IncrementalAlterConfigs of a broker resource: the stored layer with the operations
/// applied (APPEND/SUBTRACT only on list-typed keys), then [`alter_broker_config`].
async fn incremental_alter_broker_config(
    broker: &Arc<Broker>,
    name: &str,
    ops: &[(String, i8, Option<String>)],
    validate_only: bool,
) -> Result<(), AdminError> {
    let id = broker_resource_id(broker, name)?;
    let mut seen = std::collections::BTreeSet::new();
    let dups: Vec<&str> = ops
        .iter()
        .filter(|(k, _, _)| !seen.insert(k.as_str()))
        .map(|(k, _, _)| k.as_str())
        .collect();
    if !dups.is_empty() {
        return Err((
            ResponseError::InvalidRequest,
            Some(format!(
                "Error due to duplicate config keys : {}",
                dups.join(",")
            )),
        ));
    }
    let entity = id.map_or_else(|| DEFAULT_ENTITY.to_owned(), |i| i.to_string());
    let stored = broker
        .zk()
        .get_entity_config(ConfigEntityType::Brokers, &entity)
        .await
        .map_err(zk_error)?
        .config;
    let mut props = from_persistent(stored, id.is_some());
    for (k, op, v) in ops {
        let is_list = is_list(k);
        let items = |m: &BTreeMap<String, String>| -> Vec<String> {
            m.get(k)
                .map(|s| s.split(',').map(str::to_owned).collect())
                .unwrap_or_default()
        };
        match (op, v) {
            (0, Some(v)) => {
                props.insert(k.clone(), v.clone());
            }
            (1, _) => {
                props.remove(k);
            }
            (2 | 3, _) if !is_list => {
                let what = if *op == 2 { "append" } else { "subtract" };
                return Err((
                    ResponseError::InvalidRequest,
                    Some(format!(
                        "Config value {what} is not allowed for config key: {k}"
                    )),
                ));
            }
            (2, Some(v)) => {
                let mut l = items(&props);
                l.extend(v.split(',').map(str::to_owned));
                props.insert(k.clone(), l.join(","));
            }
            (3, Some(v)) => {
                let drop: Vec<&str> = v.split(',').collect();
                let l: Vec<String> = items(&props)
                    .into_iter()
                    .filter(|x| !drop.contains(&x.as_str()))
                    .collect();
                props.insert(k.clone(), l.join(","));
            }
            _ => {
                return Err((
                    ResponseError::InvalidRequest,
                    Some(format!("invalid operation on {k}")),
                ))
            }
        }
    }
    alter_broker_config(broker, name, props, validate_only).await
}

/// Writes a topic's full override set and notifies brokers (AdminZkClient.changeTopicConfig).
async fn write_topic_config(
    broker: &Arc<Broker>,
    topic: &str,
    configs: BTreeMap<String, String>,
    validate_only: bool,
) -> Result<(), AdminError> {
    let zk = broker.zk();
    if !zk.topic_exists(topic).await.map_err(zk_error)? {
        return Err((ResponseError::UnknownTopicOrPartition, None));
    }
    validate_topic_configs(broker, &configs)?;
    if validate_only {
        return Ok(());
    }
    zk.set_or_create_entity_config(
        ConfigEntityType::Topics,
        topic,
        &EntityConfig { config: configs },
    )
    .await
    .map_err(zk_error)?;
    zk.create_config_change_notification(&format!("topics/{topic}"))
        .await
        .map_err(zk_error)?;
    broker.controller_poke().notify_one();
    Ok(())
}

pub async fn alter_configs(broker: &Arc<Broker>, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let mut resp = AlterConfigsResponse::default();
    for res in req.resources {
        let mut r =
            kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse::default(
            );
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name.clone();
        let result = match res.resource_type {
            RESOURCE_TOPIC => {
                let configs = res
                    .configs
                    .iter()
                    .filter_map(|c| {
                        c.value
                            .as_ref()
                            .map(|v| (c.name.to_string(), v.to_string()))
                    })
                    .collect();
                write_topic_config(
                    broker,
                    res.resource_name.as_str(),
                    configs,
                    req.validate_only,
                )
                .await
            }
            RESOURCE_BROKER => {
                let configs = res
                    .configs
                    .iter()
                    .filter_map(|c| {
                        c.value
                            .as_ref()
                            .map(|v| (c.name.to_string(), v.to_string()))
                    })
                    .collect();
                alter_broker_config(
                    broker,
                    res.resource_name.as_str(),
                    configs,
                    req.validate_only,
                )
                .await
            }
            t => Err((
                ResponseError::InvalidRequest,
                Some(format!(
                    "AlterConfigs is only supported for topics and brokers, but resource type is {t}"
                )),
            )),
        };
        if let Err((e, msg)) = result {
            r.error_code = e.code();
            r.error_message = msg.map(str);
        }
        resp.responses.push(r);
    }
    resp
}

pub async fn incremental_alter_configs(
    broker: &Arc<Broker>,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut resp = IncrementalAlterConfigsResponse::default();
    for res in req.resources {
        let mut r = kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name.clone();
        let result: Result<(), AdminError> = match res.resource_type {
            RESOURCE_TOPIC => {
                let topic = res.resource_name.to_string();
                match broker
                    .zk()
                    .get_entity_config(ConfigEntityType::Topics, &topic)
                    .await
                {
                    Err(e) => Err(zk_error(e)),
                    Ok(current) => {
                        let mut configs = current.config;
                        let defaults = topic_config_defaults(broker);
                        let mut bad = None;
                        for c in &res.configs {
                            let k = c.name.to_string();
                            let v = c.value.as_ref().map(|v| v.to_string());
                            let list = |m: &BTreeMap<String, String>| -> Vec<String> {
                                m.get(&k)
                                    .cloned()
                                    .or_else(|| defaults.get(k.as_str()).cloned())
                                    .unwrap_or_default()
                                    .split(',')
                                    .filter(|s| !s.is_empty())
                                    .map(str::to_owned)
                                    .collect()
                            };
                            match (c.config_operation, v) {
                                (0, Some(v)) => {
                                    configs.insert(k, v);
                                }
                                (1, _) => {
                                    configs.remove(&k);
                                }
                                (2, Some(v)) => {
                                    let mut l = list(&configs);
                                    for x in v.split(',') {
                                        if !l.iter().any(|y| y == x) {
                                            l.push(x.to_owned());
                                        }
                                    }
                                    configs.insert(k, l.join(","));
                                }
                                (3, Some(v)) => {
                                    let drop: Vec<&str> = v.split(',').collect();
                                    let l: Vec<String> = list(&configs)
                                        .into_iter()
                                        .filter(|x| !drop.contains(&x.as_str()))
                                        .collect();
                                    configs.insert(k, l.join(","));
                                }
                                _ => {
                                    bad = Some((
                                        ResponseError::InvalidRequest,
                                        Some(format!("invalid operation on {k}")),
                                    ))
                                }
                            }
                        }
                        match bad {
                            Some(e) => Err(e),
                            None => {
                                write_topic_config(broker, &topic, configs, req.validate_only).await
                            }
                        }
                    }
                }
            }
            RESOURCE_BROKER => {
                let ops: Vec<(String, i8, Option<String>)> = res
                    .configs
                    .iter()
                    .map(|c| {
                        (
                            c.name.to_string(),
                            c.config_operation,
                            c.value.as_ref().map(|v| v.to_string()),
                        )
                    })
                    .collect();
                incremental_alter_broker_config(
                    broker,
                    res.resource_name.as_str(),
                    &ops,
                    req.validate_only,
                )
                .await
            }
            t => Err((
                ResponseError::InvalidRequest,
                Some(format!(
                    "AlterConfigs is only supported for topics and brokers, but resource type is {t}"
                )),
            )),
        };
        if let Err((e, msg)) = result {
            r.error_code = e.code();
            r.error_message = msg.map(str);
        }
        resp.responses.push(r);
    }
    resp
}
