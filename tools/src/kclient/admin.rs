//! Kafka's Admin API over [`KafkaClient`], as Kafka 2.4's `KafkaAdminClient` routes it:
//! CreateTopics, DeleteTopics and CreatePartitions go to the controller named by the latest
//! metadata (retried there on NOT_CONTROLLER); DescribeConfigs/AlterConfigs of one broker go to
//! that broker, everything else to any broker. Per-resource error codes become [`ApiError`]s,
//! which print as the Java exception Kafka's tools show (`org.apache...TopicExistsException:
//! Topic 't' already exists.`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::{
    alter_configs_request, incremental_alter_configs_request, AlterConfigsRequest, BrokerId,
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest, TopicName,
};
use kafka_protocol::protocol::{Decodable, Request, StrBytes};

use super::client::{ClientConfig, KafkaClient, TopicInfo};
use super::error::{error_name, ClientError};

/// NOT_CONTROLLER: the request went to a broker that is no longer the controller.
const NOT_CONTROLLER: i16 = 41;

/// A per-resource error of an admin response: the code and the broker's message, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: i16,
    pub message: Option<String>,
}

/// Kafka's exception class (in `org.apache.kafka.common.errors`) and default message for the
/// error codes the admin calls return.
fn exception_of(code: i16) -> Option<(&'static str, &'static str)> {
    Some(match code {
        -1 => (
            "UnknownServerException",
            "The server experienced an unexpected error when processing the request.",
        ),
        3 => (
            "UnknownTopicOrPartitionException",
            "This server does not host this topic-partition.",
        ),
        5 => (
            "LeaderNotAvailableException",
            "There is no leader for this topic-partition as we are in the middle of a leadership election.",
        ),
        7 => ("TimeoutException", "The request timed out."),
        8 => ("BrokerNotAvailableException", "The broker is not available."),
        17 => (
            "InvalidTopicException",
            "The request attempted to perform an operation on an invalid topic.",
        ),
        29 => ("TopicAuthorizationException", "Topic authorization failed."),
        31 => ("ClusterAuthorizationException", "Cluster authorization failed."),
        35 => (
            "UnsupportedVersionException",
            "The version of API is not supported.",
        ),
        36 => ("TopicExistsException", "Topic with this name already exists."),
        37 => ("InvalidPartitionsException", "Number of partitions is below 1."),
        38 => (
            "InvalidReplicationFactorException",
            "Replication factor is below 1 or larger than the number of available brokers.",
        ),
        39 => (
            "InvalidReplicaAssignmentException",
            "Replica assignment is invalid.",
        ),
        40 => ("InvalidConfigurationException", "Configuration is invalid."),
        41 => (
            "NotControllerException",
            "This is not the correct controller for this cluster.",
        ),
        42 => (
            "InvalidRequestException",
            "This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details.",
        ),
        44 => (
            "PolicyViolationException",
            "Request parameters do not satisfy the configured policy.",
        ),
        56 => (
            "KafkaStorageException",
            "Disk error when trying to access log file on the disk.",
        ),
        60 => (
            "ReassignmentInProgressException",
            "A partition reassignment is in progress.",
        ),
        73 => ("TopicDeletionDisabledException", "Topic deletion is disabled."),
        _ => return None,
    })
}

impl ApiError {
    pub fn new(code: i16, message: Option<String>) -> ApiError {
        ApiError { code, message }
    }

    /// The Java class Kafka's client throws for this code.
    pub fn exception_class(&self) -> String {
        match exception_of(self.code) {
            Some((class, _)) => format!("org.apache.kafka.common.errors.{class}"),
            None => format!(
                "org.apache.kafka.common.errors.UnknownServerException({})",
                error_name(self.code)
            ),
        }
    }

    /// The exception's message: the broker's, else Kafka's default for the code.
    pub fn exception_message(&self) -> String {
        match (&self.message, exception_of(self.code)) {
            (Some(m), _) => m.clone(),
            (None, Some((_, default))) => default.to_owned(),
            (None, None) => format!("error code {}", self.code),
        }
    }
}

impl std::fmt::Display for ApiError {
    /// Java's `Throwable.toString()`: `class: message`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            self.exception_class(),
            self.exception_message()
        )
    }
}

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The cluster could not be reached or answered badly.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The broker refused the operation.
    #[error("{0}")]
    Api(ApiError),
}

impl AdminError {
    /// The exception text Kafka's tools print for this failure (`Throwable.toString()` of the
    /// cause). Unreachable brokers are the admin client's node-assignment timeout.
    pub fn java(&self) -> String {
        match self {
            AdminError::Api(e) => e.to_string(),
            AdminError::Client(ClientError::Kafka { code, .. }) => {
                ApiError::new(*code, None).to_string()
            }
            // Kafka's client waits for a node it cannot find until the call times out;
            // zkraft fails at once but says the same (plus the cause in `detail`).
            AdminError::Client(ClientError::Bootstrap { .. })
            | AdminError::Client(ClientError::Broker(_))
            | AdminError::Client(ClientError::UnknownBroker(_)) => {
                "org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment.".to_owned()
            }
            AdminError::Client(ClientError::Unsupported { api, .. }) => format!(
                "org.apache.kafka.common.errors.UnsupportedVersionException: The broker does not support {api}"
            ),
            AdminError::Client(e) => {
                format!("org.apache.kafka.common.errors.UnknownServerException: {e}")
            }
        }
    }

    /// zkraft's own explanation, when it says more than [`AdminError::java`].
    pub fn detail(&self) -> Option<String> {
        match self {
            AdminError::Client(e) => Some(e.to_string()),
            AdminError::Api(_) => None,
        }
    }

    pub fn code(&self) -> Option<i16> {
        match self {
            AdminError::Api(e) => Some(e.code),
            AdminError::Client(e) => e.code(),
        }
    }
}

fn check(code: i16, message: Option<&StrBytes>) -> Result<(), ApiError> {
    if code == 0 {
        Ok(())
    } else {
        Err(ApiError::new(code, message.map(|m| m.as_str().to_owned())))
    }
}

/// A topic to create: a partition count and replication factor (None: the broker's
/// defaults), or an explicit assignment (partition -> replicas), plus config overrides.
#[derive(Clone, Debug, Default)]
pub struct NewTopic {
    pub name: String,
    pub partitions: Option<i32>,
    pub replication_factor: Option<i16>,
    pub assignment: Option<BTreeMap<i32, Vec<i32>>>,
    pub configs: BTreeMap<String, String>,
}

/// A partition increase (`NewPartitions`): the topic grows to `total_count` partitions, the
/// new ones optionally placed by `assignment` (one replica list per new partition).
#[derive(Clone, Debug)]
pub struct NewPartitions {
    pub topic: String,
    pub total_count: i32,
    pub assignment: Option<Vec<Vec<i32>>>,
}

/// Config resource types (`ConfigResource.Type` ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResourceType {
    Topic,
    Broker,
    BrokerLogger,
}

impl ResourceType {
    fn id(self) -> i8 {
        match self {
            ResourceType::Topic => 2,
            ResourceType::Broker => 4,
            ResourceType::BrokerLogger => 8,
        }
    }
}

/// A config resource; a broker's name is its id, or empty for the cluster-wide default.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigResource {
    pub ty: ResourceType,
    pub name: String,
}

impl ConfigResource {
    pub fn topic(name: &str) -> ConfigResource {
        ConfigResource {
            ty: ResourceType::Topic,
            name: name.to_owned(),
        }
    }

    pub fn broker(name: &str) -> ConfigResource {
        ConfigResource {
            ty: ResourceType::Broker,
            name: name.to_owned(),
        }
    }

    /// The broker a request about this resource must go to (a named broker or logger).
    fn node(&self) -> Option<i32> {
        match self.ty {
            ResourceType::Broker | ResourceType::BrokerLogger => self.name.parse().ok(),
            ResourceType::Topic => None,
        }
    }
}

/// Where a config value comes from, named as the admin client's `ConfigEntry.ConfigSource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    DynamicTopic,
    DynamicBroker,
    DynamicDefaultBroker,
    StaticBroker,
    Default,
    DynamicBrokerLogger,
    Unknown,
}

impl ConfigSource {
    /// From the wire id (DescribeConfigs v1+).
    pub fn from_id(id: i8) -> ConfigSource {
        match id {
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            _ => ConfigSource::Unknown,
        }
    }

    /// v0 has only `is_default`; the rest is inferred from the resource type, as Kafka does.
    fn from_v0(is_default: bool, ty: ResourceType) -> ConfigSource {
        match (is_default, ty) {
            (true, _) => ConfigSource::Default,
            (false, ResourceType::Broker) => ConfigSource::StaticBroker,
            (false, ResourceType::Topic) => ConfigSource::DynamicTopic,
            (false, _) => ConfigSource::Unknown,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ConfigSource::DynamicTopic => "DYNAMIC_TOPIC_CONFIG",
            ConfigSource::DynamicBroker => "DYNAMIC_BROKER_CONFIG",
            ConfigSource::DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG",
            ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG",
            ConfigSource::Default => "DEFAULT_CONFIG",
            ConfigSource::DynamicBrokerLogger => "DYNAMIC_BROKER_LOGGER_CONFIG",
            ConfigSource::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigSynonym {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
}

/// One described config; `value` is None for sensitive entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
    pub sensitive: bool,
    pub read_only: bool,
    pub synonyms: Vec<ConfigSynonym>,
}

impl ConfigEntry {
    /// `ConfigEntry.isDefault`: only built-in defaults count, not static broker settings.
    pub fn is_default(&self) -> bool {
        self.source == ConfigSource::Default
    }
}

/// One IncrementalAlterConfigs operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlterOp {
    Set(String, String),
    Delete(String),
    Append(String, String),
    Subtract(String, String),
}

/// The admin client: a [`KafkaClient`] plus the calls above.
pub struct Admin {
    client: KafkaClient,
}

impl Admin {
    pub async fn connect(cfg: ClientConfig) -> Result<Admin, AdminError> {
        Ok(Admin {
            client: KafkaClient::connect(cfg).await?,
        })
    }

    pub fn client(&mut self) -> &mut KafkaClient {
        &mut self.client
    }

    fn timeout(&self) -> Duration {
        self.client.config().request_timeout
    }

    /// The server-side timeout put into requests, in ms.
    fn timeout_ms(&self) -> i32 {
        i32::try_from(self.timeout().as_millis()).unwrap_or(i32::MAX)
    }

    /// The client-side wait for a response: the server-side timeout plus slack, so that the
    /// broker's own timeout error arrives first.
    fn response_wait(&self) -> Option<Duration> {
        Some(self.timeout() + Duration::from_secs(5))
    }

    /// Every topic name, sorted; internal topics only if asked (`ListTopicsOptions.listInternal`).
    pub async fn list_topics(&mut self, include_internal: bool) -> Result<Vec<String>, AdminError> {
        let topics = self.client.metadata(None).await?;
        let mut names: Vec<String> = topics
            .into_iter()
            .filter(|t| t.error_code == 0 && (include_internal || !t.is_internal))
            .map(|t| t.name)
            .collect();
        names.sort();
        Ok(names)
    }

    /// Metadata of `names` (each must exist), in the order given.
    pub async fn describe_topics(
        &mut self,
        names: &[String],
    ) -> Result<Vec<TopicInfo>, AdminError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let infos = self.client.metadata(Some(names)).await?;
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            match infos.iter().find(|t| &t.name == n) {
                Some(t) if t.error_code != 0 => {
                    return Err(AdminError::Api(ApiError::new(t.error_code, None)))
                }
                Some(t) => out.push(t.clone()),
                None => {
                    return Err(AdminError::Api(ApiError::new(
                        3,
                        Some(format!("Topic {n} not found.")),
                    )))
                }
            }
        }
        Ok(out)
    }

    /// The ids of the live brokers (`describeCluster().nodes()`).
    pub async fn describe_cluster(&mut self) -> Result<Vec<i32>, AdminError> {
        self.client.metadata(Some(&[])).await?;
        Ok(self.client.brokers().keys().copied().collect())
    }

    /// Sends `make(items)` to the controller; items whose result is NOT_CONTROLLER are sent
    /// again, after a metadata refresh, until the request timeout. `results` maps a response
    /// to (item name, error code, message).
    async fn send_to_controller<R, T>(
        &mut self,
        items: Vec<T>,
        name_of: impl Fn(&T) -> String,
        make: impl Fn(&[T]) -> R,
        results: impl Fn(R::Response) -> Vec<(String, i16, Option<String>)>,
    ) -> Result<BTreeMap<String, Result<(), ApiError>>, AdminError>
    where
        R: Request,
        R::Response: Decodable,
        T: Clone,
    {
        let deadline = Instant::now() + self.timeout();
        let mut pending = items;
        let mut out = BTreeMap::new();
        while !pending.is_empty() {
            self.client.metadata(Some(&[])).await?;
            let controller = self.client.controller();
            let req = make(&pending);
            let wait = self.response_wait();
            let (resp, _) = if controller >= 0 {
                self.client.send_to_node(controller, &req, wait).await?
            } else {
                self.client.send_any(&req, wait).await?
            };
            let mut retry = Vec::new();
            for (name, code, message) in results(resp) {
                if code == NOT_CONTROLLER && Instant::now() < deadline {
                    if let Some(item) = pending.iter().find(|t| name_of(t) == name) {
                        retry.push(item.clone());
                    }
                    continue;
                }
                let r = if code == 0 {
                    Ok(())
                } else {
                    Err(ApiError::new(code, message))
                };
                out.insert(name, r);
            }
            if !retry.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            pending = retry;
        }
        Ok(out)
    }

    /// CreateTopics; the result per topic name.
    pub async fn create_topics(
        &mut self,
        topics: Vec<NewTopic>,
        validate_only: bool,
    ) -> Result<BTreeMap<String, Result<(), ApiError>>, AdminError> {
        let timeout_ms = self.timeout_ms();
        self.send_to_controller(
            topics,
            |t| t.name.clone(),
            |ts| {
                let mut req = CreateTopicsRequest::default();
                req.timeout_ms = timeout_ms;
                req.validate_only = validate_only;
                req.topics = ts.iter().map(creatable).collect();
                req
            },
            |resp| {
                resp.topics
                    .into_iter()
                    .map(|r| {
                        (
                            r.name.0.as_str().to_owned(),
                            r.error_code,
                            r.error_message.map(|m| m.as_str().to_owned()),
                        )
                    })
                    .collect()
            },
        )
        .await
    }

    /// DeleteTopics; the result per topic name.
    pub async fn delete_topics(
        &mut self,
        names: Vec<String>,
    ) -> Result<BTreeMap<String, Result<(), ApiError>>, AdminError> {
        let timeout_ms = self.timeout_ms();
        self.send_to_controller(
            names,
            String::clone,
            |ns| {
                let mut req = DeleteTopicsRequest::default();
                req.timeout_ms = timeout_ms;
                req.topic_names = ns
                    .iter()
                    .map(|n| TopicName(StrBytes::from_string(n.clone())))
                    .collect();
                req
            },
            |resp| {
                resp.responses
                    .into_iter()
                    .map(|r| {
                        (
                            r.name.map(|n| n.0.as_str().to_owned()).unwrap_or_default(),
                            r.error_code,
                            r.error_message.map(|m| m.as_str().to_owned()),
                        )
                    })
                    .collect()
            },
        )
        .await
    }

    /// CreatePartitions; the result per topic name.
    pub async fn create_partitions(
        &mut self,
        increases: Vec<NewPartitions>,
        validate_only: bool,
    ) -> Result<BTreeMap<String, Result<(), ApiError>>, AdminError> {
        let timeout_ms = self.timeout_ms();
        self.send_to_controller(
            increases,
            |t| t.topic.clone(),
            |ts| {
                let mut req = CreatePartitionsRequest::default();
                req.timeout_ms = timeout_ms;
                req.validate_only = validate_only;
                req.topics = ts
                    .iter()
                    .map(|n| {
                        let mut t = CreatePartitionsTopic::default();
                        t.name = TopicName(StrBytes::from_string(n.topic.clone()));
                        t.count = n.total_count;
                        t.assignments = n.assignment.as_ref().map(|a| {
                            a.iter()
                                .map(|replicas| {
                                    let mut x = CreatePartitionsAssignment::default();
                                    x.broker_ids = replicas.iter().map(|b| BrokerId(*b)).collect();
                                    x
                                })
                                .collect()
                        });
                        t
                    })
                    .collect();
                req
            },
            |resp| {
                resp.results
                    .into_iter()
                    .map(|r| {
                        (
                            r.name.0.as_str().to_owned(),
                            r.error_code,
                            r.error_message.map(|m| m.as_str().to_owned()),
                        )
                    })
                    .collect()
            },
        )
        .await
    }

    /// Sends a config request about `resource` where Kafka does: a named broker itself,
    /// otherwise any broker.
    async fn send_for<R>(
        &mut self,
        resource: &ConfigResource,
        req: &R,
    ) -> Result<(R::Response, i16), AdminError>
    where
        R: Request,
        R::Response: Decodable,
    {
        let wait = self.response_wait();
        Ok(match resource.node() {
            Some(node) => self.client.send_to_node(node, req, wait).await?,
            None => self.client.send_any(req, wait).await?,
        })
    }

    /// DescribeConfigs of one resource: its entries in the broker's order.
    pub async fn describe_configs(
        &mut self,
        resource: &ConfigResource,
        include_synonyms: bool,
    ) -> Result<Vec<ConfigEntry>, AdminError> {
        let mut req = DescribeConfigsRequest::default();
        req.include_synonyms = include_synonyms;
        let mut r = DescribeConfigsResource::default();
        r.resource_type = resource.ty.id();
        r.resource_name = StrBytes::from_string(resource.name.clone());
        r.configuration_keys = None;
        req.resources = vec![r];
        let (resp, version) = self.send_for(resource, &req).await?;
        let result = resp
            .results
            .into_iter()
            .find(|x| {
                x.resource_type == resource.ty.id() && x.resource_name.as_str() == resource.name
            })
            .ok_or_else(|| {
                AdminError::Api(ApiError::new(
                    -1,
                    Some(format!(
                        "Malformed broker response: missing config for ConfigResource(type={:?}, name='{}')",
                        resource.ty, resource.name
                    )),
                ))
            })?;
        check(result.error_code, result.error_message.as_ref()).map_err(AdminError::Api)?;
        Ok(result
            .configs
            .into_iter()
            .map(|c| ConfigEntry {
                name: c.name.as_str().to_owned(),
                value: c.value.map(|v| v.as_str().to_owned()),
                source: if version >= 1 {
                    ConfigSource::from_id(c.config_source)
                } else {
                    ConfigSource::from_v0(c.is_default, resource.ty)
                },
                sensitive: c.is_sensitive,
                read_only: c.read_only,
                synonyms: c
                    .synonyms
                    .into_iter()
                    .map(|s| ConfigSynonym {
                        name: s.name.as_str().to_owned(),
                        value: s.value.map(|v| v.as_str().to_owned()),
                        source: ConfigSource::from_id(s.source),
                    })
                    .collect(),
            })
            .collect())
    }

    /// AlterConfigs: replaces the resource's whole dynamic config with `entries`.
    pub async fn alter_configs(
        &mut self,
        resource: &ConfigResource,
        entries: &BTreeMap<String, Option<String>>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        let mut req = AlterConfigsRequest::default();
        req.validate_only = validate_only;
        let mut r = alter_configs_request::AlterConfigsResource::default();
        r.resource_type = resource.ty.id();
        r.resource_name = StrBytes::from_string(resource.name.clone());
        r.configs = entries
            .iter()
            .map(|(k, v)| {
                let mut c = alter_configs_request::AlterableConfig::default();
                c.name = StrBytes::from_string(k.clone());
                c.value = v.clone().map(StrBytes::from_string);
                c
            })
            .collect();
        req.resources = vec![r];
        let (resp, _) = self.send_for(resource, &req).await?;
        match resp.responses.into_iter().next() {
            Some(x) => check(x.error_code, x.error_message.as_ref()).map_err(AdminError::Api),
            None => Err(AdminError::Api(ApiError::new(
                -1,
                Some("Malformed broker response: no result".into()),
            ))),
        }
    }

    /// IncrementalAlterConfigs: applies `ops` to the resource's dynamic config.
    pub async fn incremental_alter_configs(
        &mut self,
        resource: &ConfigResource,
        ops: &[AlterOp],
        validate_only: bool,
    ) -> Result<(), AdminError> {
        let mut req = IncrementalAlterConfigsRequest::default();
        req.validate_only = validate_only;
        let mut r = incremental_alter_configs_request::AlterConfigsResource::default();
        r.resource_type = resource.ty.id();
        r.resource_name = StrBytes::from_string(resource.name.clone());
        r.configs = ops
            .iter()
            .map(|op| {
                let (name, code, value) = match op {
                    AlterOp::Set(k, v) => (k, 0, Some(v)),
                    AlterOp::Delete(k) => (k, 1, None),
                    AlterOp::Append(k, v) => (k, 2, Some(v)),
                    AlterOp::Subtract(k, v) => (k, 3, Some(v)),
                };
                let mut c = incremental_alter_configs_request::AlterableConfig::default();
                c.name = StrBytes::from_string(name.clone());
                c.config_operation = code;
                c.value = value.cloned().map(StrBytes::from_string);
                c
            })
            .collect();
        req.resources = vec![r];
        let (resp, _) = self.send_for(resource, &req).await?;
        match resp.responses.into_iter().next() {
            Some(x) => check(x.error_code, x.error_message.as_ref()).map_err(AdminError::Api),
            None => Err(AdminError::Api(ApiError::new(
                -1,
                Some("Malformed broker response: no result".into()),
            ))),
        }
    }
}

/// Iteration order of the `java.util.HashMap`s Kafka's admin client returns (topic
/// descriptions, a resource's config entries): the tools print in that order, so matching
/// their output means reproducing it. A HashMap iterates bucket by bucket (bucket = spread
/// String.hashCode masked by the table size), each bucket in insertion order.
pub mod java_order {
    /// `String.hashCode` over UTF-16 code units.
    pub fn string_hash(s: &str) -> i32 {
        s.encode_utf16()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
    }

    fn bucket(s: &str, capacity: usize) -> usize {
        let h = string_hash(s) as u32;
        ((h ^ (h >> 16)) as usize) & (capacity.max(1) - 1)
    }

    /// `HashMap.tableSizeFor`.
    pub fn table_size_for(c: usize) -> usize {
        c.max(1).next_power_of_two()
    }

    /// The table size after `n` distinct puts into `new HashMap<>(initial)` (None: the
    /// no-argument constructor), following `HashMap.resize`.
    pub fn capacity(initial: Option<usize>, n: usize) -> usize {
        let (mut cap, mut threshold) = match initial {
            None => (16usize, 12usize),
            Some(c) => {
                let cap = table_size_for(c);
                (cap, cap * 3 / 4)
            }
        };
        for size in 1..=n {
            if size > threshold {
                let old = cap;
                cap *= 2;
                threshold = if old >= 16 {
                    threshold * 2
                } else {
                    cap * 3 / 4
                };
            }
        }
        cap
    }

    /// The table size of `new HashMap<>(otherMapOfSize n)`.
    pub fn copy_capacity(n: usize) -> usize {
        if n == 0 {
            return 1;
        }
        let initial = (n as f32 / 0.75 + 1.0) as usize;
        capacity(Some(table_size_for(initial)), n)
    }

    /// `items` (in insertion order) in the iteration order of a table of `capacity`.
    pub fn order<T>(mut items: Vec<T>, key: impl Fn(&T) -> &str, capacity: usize) -> Vec<T> {
        items.sort_by_key(|t| bucket(key(t), capacity));
        items
    }

    /// The order `new HashMap<>()` filled with `items` in order iterates them.
    pub fn default_map_order<T>(items: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<T> {
        let cap = capacity(None, items.len());
        order(items, key, cap)
    }
}

fn creatable(t: &NewTopic) -> CreatableTopic {
    let mut c = CreatableTopic::default();
    c.name = TopicName(StrBytes::from_string(t.name.clone()));
    match &t.assignment {
        Some(a) => {
            // An explicit assignment leaves both counts at -1 (the wire's "unset").
            c.num_partitions = -1;
            c.replication_factor = -1;
            c.assignments = a
                .iter()
                .map(|(p, replicas)| {
                    let mut x = CreatableReplicaAssignment::default();
                    x.partition_index = *p;
                    x.broker_ids = replicas.iter().map(|b| BrokerId(*b)).collect();
                    x
                })
                .collect();
        }
        None => {
            c.num_partitions = t.partitions.unwrap_or(-1);
            c.replication_factor = t.replication_factor.unwrap_or(-1);
        }
    }
    c.configs = t
        .configs
        .iter()
        .map(|(k, v)| {
            let mut x = CreatableTopicConfig::default();
            x.name = StrBytes::from_string(k.clone());
            x.value = Some(StrBytes::from_string(v.clone()));
            x
        })
        .collect();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_print_as_kafka_exceptions() {
        let e = ApiError::new(36, Some("Topic 't' already exists.".into()));
        assert_eq!(
            e.to_string(),
            "org.apache.kafka.common.errors.TopicExistsException: Topic 't' already exists."
        );
        let e = ApiError::new(3, None);
        assert_eq!(
            e.to_string(),
            "org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition."
        );
        let timeout = AdminError::Client(ClientError::Bootstrap {
            servers: "127.0.0.1:1".into(),
            timeout_ms: 1000,
        });
        assert_eq!(
            timeout.java(),
            "org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment."
        );
        assert!(timeout.detail().is_some_and(|d| d.contains("127.0.0.1:1")));
    }

    #[test]
    fn java_hash_map_order() {
        use java_order::*;
        assert_eq!(string_hash("a"), 97);
        assert_eq!(string_hash("hello"), 99162322);
        // Overflows i32 as Java's int does.
        assert_eq!(string_hash("retention.ms.retention.ms"), 1720113902);
        assert_eq!(string_hash("ab"), 97 * 31 + 98);
        assert_eq!(capacity(None, 12), 16);
        assert_eq!(capacity(None, 13), 32);
        assert_eq!(capacity(None, 26), 64);
        assert_eq!(capacity(Some(3), 3), 4);
        assert_eq!(capacity(Some(7), 7), 16);
        assert_eq!(capacity(Some(1), 1), 2);
        assert_eq!(copy_capacity(3), 8);
        // "b" (98), "a" (97) and "q" (113) land in buckets 2, 1 and 1 of 16.
        let v = default_map_order(vec!["b", "a", "q"], |s| s);
        assert_eq!(v, vec!["a", "q", "b"]);
        // "q" is 113 = bucket 1 of 16, after "a" which was inserted first.
        let v = default_map_order(vec!["q", "b", "a"], |s| s);
        assert_eq!(v, vec!["q", "a", "b"]);
    }

    #[test]
    fn config_sources_follow_the_version() {
        assert_eq!(ConfigSource::from_id(1).name(), "DYNAMIC_TOPIC_CONFIG");
        assert_eq!(ConfigSource::from_id(9), ConfigSource::Unknown);
        assert_eq!(
            ConfigSource::from_v0(false, ResourceType::Broker),
            ConfigSource::StaticBroker
        );
        assert_eq!(
            ConfigSource::from_v0(true, ResourceType::Topic),
            ConfigSource::Default
        );
    }

    #[test]
    fn explicit_assignments_leave_counts_unset() {
        let mut a = BTreeMap::new();
        a.insert(0, vec![1, 2]);
        let t = NewTopic {
            name: "t".into(),
            assignment: Some(a),
            partitions: Some(3),
            ..Default::default()
        };
        let c = creatable(&t);
        assert_eq!((c.num_partitions, c.replication_factor), (-1, -1));
        assert_eq!(c.assignments.len(), 1);
        let t = NewTopic {
            name: "t".into(),
            ..Default::default()
        };
        let c = creatable(&t);
        assert_eq!((c.num_partitions, c.replication_factor), (-1, -1));
    }
}
