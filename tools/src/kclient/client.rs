//! [`KafkaClient`]: connections by address, negotiated API versions, metadata and routing.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use broker::interbroker::BrokerConnection;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, FindCoordinatorRequest, MetadataRequest, MetadataResponse,
};
use kafka_protocol::protocol::{Decodable, Request, StrBytes};

use super::error::ClientError;
use super::versions::{client_versions, pick};

/// A Metadata request for `topics` (None: every topic), letting the broker create missing
/// ones when `auto_create` (what Kafka's producer and consumer ask for).
pub fn metadata_request(topics: Option<&[String]>, auto_create: bool) -> MetadataRequest {
    let mut req = MetadataRequest::default();
    req.allow_auto_topic_creation = auto_create;
    req.topics = topics.map(|ts| {
        ts.iter()
            .map(|t| {
                let mut mt = MetadataRequestTopic::default();
                mt.name = Some(TopicName(StrBytes::from_string(t.clone())));
                mt
            })
            .collect()
    });
    req
}

/// What a tool's client needs to know.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// host:port of the bootstrap brokers, tried in order.
    pub bootstrap: Vec<String>,
    pub client_id: String,
    /// How long one request may take (and how long to keep trying the bootstrap list).
    pub request_timeout: Duration,
}

impl ClientConfig {
    /// A config from Kafka's comma-separated `--bootstrap-server`/`--broker-list` value.
    pub fn new(servers: &str, client_id: &str) -> ClientConfig {
        ClientConfig {
            bootstrap: servers
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            client_id: client_id.to_owned(),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// One partition as the metadata describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub error_code: i16,
}

/// One topic as the metadata describes it, partitions in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub error_code: i16,
    pub is_internal: bool,
    pub partitions: Vec<PartitionInfo>,
}

struct Conn {
    inner: BrokerConnection,
    /// api key -> (min, max) the broker advertised.
    versions: HashMap<i16, (i16, i16)>,
}

/// A client of one Kafka cluster.
pub struct KafkaClient {
    cfg: ClientConfig,
    conns: HashMap<String, Conn>,
    /// node id -> host:port, from the latest metadata.
    brokers: BTreeMap<i32, String>,
    controller: i32,
    cluster_id: Option<String>,
    /// The bootstrap address that answered.
    bootstrap: String,
}

impl KafkaClient {
    /// Connects to the first bootstrap server that answers ApiVersions, retrying the list
    /// until the request timeout has passed.
    pub async fn connect(cfg: ClientConfig) -> Result<KafkaClient, ClientError> {
        let deadline = Instant::now() + cfg.request_timeout;
        let mut client = KafkaClient {
            cfg,
            conns: HashMap::new(),
            brokers: BTreeMap::new(),
            controller: -1,
            cluster_id: None,
            bootstrap: String::new(),
        };
        let servers = client.cfg.bootstrap.clone();
        loop {
            for addr in &servers {
                if client.conn(addr).await.is_ok() {
                    client.bootstrap = addr.clone();
                    return Ok(client);
                }
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Bootstrap {
                    servers: servers.join(","),
                    timeout_ms: client.cfg.request_timeout.as_millis(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// node id -> host:port of every broker in the latest metadata.
    pub fn brokers(&self) -> &BTreeMap<i32, String> {
        &self.brokers
    }

    /// The controller's id in the latest metadata (-1 if unknown).
    pub fn controller(&self) -> i32 {
        self.controller
    }

    pub fn cluster_id(&self) -> Option<&str> {
        self.cluster_id.as_deref()
    }

    /// The open connection to `addr`, opened (and its versions asked) if need be.
    async fn conn(&mut self, addr: &str) -> Result<&mut Conn, ClientError> {
        if !self.conns.contains_key(addr) {
            let mut inner =
                BrokerConnection::connect(addr, &self.cfg.client_id, self.cfg.request_timeout)
                    .await?;
            let resp = inner.send(&ApiVersionsRequest::default(), 0).await?;
            if resp.error_code != 0 {
                return Err(ClientError::Kafka {
                    context: format!("ApiVersions from {addr}"),
                    code: resp.error_code,
                });
            }
            let versions = resp
                .api_keys
                .iter()
                .map(|k| (k.api_key, (k.min_version, k.max_version)))
                .collect();
            self.conns.insert(addr.to_owned(), Conn { inner, versions });
        }
        self.conns
            .get_mut(addr)
            .ok_or_else(|| ClientError::Other(format!("no connection to {addr}")))
    }

    /// The version of `R` to send to `addr`.
    async fn version_for<R: Request>(&mut self, addr: &str) -> Result<i16, ClientError> {
        let api = ApiKey::try_from(R::KEY)
            .map_err(|_| ClientError::Other(format!("unknown api key {}", R::KEY)))?;
        let ours = client_versions(api)
            .ok_or_else(|| ClientError::Other(format!("{api:?} is not a client API")))?;
        let conn = self.conn(addr).await?;
        conn.versions
            .get(&R::KEY)
            .and_then(|theirs| pick(ours, *theirs))
            .ok_or(ClientError::Unsupported {
                addr: addr.to_owned(),
                api: format!("{api:?}"),
                min: ours.0,
                max: ours.1,
            })
    }

    /// The version of `R` this client and broker `node` share (from the connection's
    /// ApiVersions, asked once per connection), for callers whose request fields depend on it.
    pub async fn version_for_node<R: Request>(&mut self, node: i32) -> Result<i16, ClientError> {
        let addr = self.node_addr(node).await?;
        self.version_for::<R>(&addr).await
    }

    /// Sends `req` to the broker at `addr` at the negotiated version; returns the response
    /// and the version used (fields differ by version). A failed connection is dropped so
    /// that the next request reconnects.
    pub async fn send_to_addr<R: Request>(
        &mut self,
        addr: &str,
        req: &R,
        timeout: Option<Duration>,
    ) -> Result<(R::Response, i16), ClientError>
    where
        R::Response: Decodable,
    {
        let version = self.version_for::<R>(addr).await?;
        let default_timeout = self.cfg.request_timeout;
        let conn = self.conn(addr).await?;
        conn.inner.set_timeout(timeout.unwrap_or(default_timeout));
        match conn.inner.send(req, version).await {
            Ok(resp) => Ok((resp, version)),
            Err(e) => {
                self.conns.remove(addr);
                Err(e.into())
            }
        }
    }

    /// Sends `req` to broker `node` (from the metadata).
    pub async fn send_to_node<R: Request>(
        &mut self,
        node: i32,
        req: &R,
        timeout: Option<Duration>,
    ) -> Result<(R::Response, i16), ClientError>
    where
        R::Response: Decodable,
    {
        let addr = self.node_addr(node).await?;
        self.send_to_addr(&addr, req, timeout).await
    }

    /// Sends `req` to any live broker: the bootstrap one, else the others.
    pub async fn send_any<R: Request>(
        &mut self,
        req: &R,
        timeout: Option<Duration>,
    ) -> Result<(R::Response, i16), ClientError>
    where
        R::Response: Decodable,
    {
        let mut candidates = vec![self.bootstrap.clone()];
        candidates.extend(self.brokers.values().cloned());
        candidates.extend(self.cfg.bootstrap.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        candidates.retain(|a| seen.insert(a.clone()));
        let mut last = None;
        for addr in candidates {
            match self.send_to_addr(&addr, req, timeout).await {
                Ok(r) => {
                    self.bootstrap = addr;
                    return Ok(r);
                }
                Err(e @ ClientError::Broker(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Other("no broker to send to".into())))
    }

    /// Sets the largest response accepted from `node` (fetch.max.bytes plus slack).
    pub async fn set_max_response(&mut self, node: i32, bytes: i32) -> Result<(), ClientError> {
        let addr = self.node_addr(node).await?;
        self.conn(&addr).await?.inner.set_max_response(bytes);
        Ok(())
    }

    /// host:port of broker `node`, refreshing the metadata once if it is not known.
    pub async fn node_addr(&mut self, node: i32) -> Result<String, ClientError> {
        if !self.brokers.contains_key(&node) {
            self.metadata(Some(&[])).await?;
        }
        self.brokers
            .get(&node)
            .cloned()
            .ok_or(ClientError::UnknownBroker(node))
    }

    /// Metadata for `topics` (None: every topic; Some(&[]): brokers only). Updates the
    /// broker list. Topics are not auto-created.
    pub async fn metadata(
        &mut self,
        topics: Option<&[String]>,
    ) -> Result<Vec<TopicInfo>, ClientError> {
        let req = metadata_request(topics, false);
        let (resp, _) = self.send_any(&req, None).await?;
        Ok(self.absorb_metadata(resp))
    }

    fn absorb_metadata(&mut self, resp: MetadataResponse) -> Vec<TopicInfo> {
        self.brokers = resp
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        self.controller = resp.controller_id.0;
        self.cluster_id = resp.cluster_id.as_ref().map(|c| c.as_str().to_owned());
        let mut topics: Vec<TopicInfo> = resp
            .topics
            .into_iter()
            .map(|t| {
                let mut partitions: Vec<PartitionInfo> = t
                    .partitions
                    .into_iter()
                    .map(|p| PartitionInfo {
                        partition: p.partition_index,
                        leader: p.leader_id.0,
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                        isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                        error_code: p.error_code,
                    })
                    .collect();
                partitions.sort_by_key(|p| p.partition);
                TopicInfo {
                    name: t.name.map(|n| n.0.as_str().to_owned()).unwrap_or_default(),
                    error_code: t.error_code,
                    is_internal: t.is_internal,
                    partitions,
                }
            })
            .collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        topics
    }

    /// One topic's metadata; UNKNOWN_TOPIC_OR_PARTITION and other topic errors as errors.
    pub async fn topic(&mut self, topic: &str) -> Result<TopicInfo, ClientError> {
        let mut topics = self.metadata(Some(&[topic.to_owned()])).await?;
        let t = topics
            .pop()
            .ok_or_else(|| ClientError::Other(format!("no metadata for topic {topic}")))?;
        if t.error_code != 0 {
            return Err(ClientError::Kafka {
                context: format!("topic {topic}"),
                code: t.error_code,
            });
        }
        Ok(t)
    }

    /// The broker id coordinating `group` (FindCoordinator, key type 0), retrying while the
    /// coordinator is loading or not yet available, up to the request timeout.
    pub async fn find_coordinator(&mut self, group: &str) -> Result<i32, ClientError> {
        let deadline = Instant::now() + self.cfg.request_timeout;
        loop {
            let mut req = FindCoordinatorRequest::default();
            req.key = StrBytes::from_string(group.to_owned());
            req.key_type = 0;
            let (resp, _) = self.send_any(&req, None).await?;
            // 14 COORDINATOR_LOAD_IN_PROGRESS, 15 COORDINATOR_NOT_AVAILABLE: retriable.
            match resp.error_code {
                0 => {
                    let addr = format!("{}:{}", resp.host.as_str(), resp.port);
                    self.brokers.insert(resp.node_id.0, addr);
                    return Ok(resp.node_id.0);
                }
                14 | 15 if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                code => {
                    return Err(ClientError::Kafka {
                        context: format!("finding the coordinator of group {group}"),
                        code,
                    })
                }
            }
        }
    }
}
