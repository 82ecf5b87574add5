//! Kafka 2.x's ZooKeeper layout (`ZkData.scala`): one type per znode, each with its path and
//! its JSON encoding exactly as Kafka writes it (key order aside: Kafka writes from hash maps, so
//! readers here accept any order). Decoders reject unsupported versions and never panic.
//!
//! Also the pieces those znodes are made of: topic-name rules ([`validate_topic_name`], the
//! `.`/`_` collision rule), config entity name sanitizing, and Kafka's [`Uuid`].

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::config::{EndPoint, InterBrokerProtocolVersion, ProtocolMap, SecurityProtocol};

/// Why a znode's content could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZkDataError {
    /// Not JSON, or not the JSON shape the znode has.
    #[error("malformed {what}: {msg}")]
    Malformed { what: &'static str, msg: String },
    /// A version this broker does not read.
    #[error("unsupported version {version} of {what}")]
    Version { what: &'static str, version: String },
    /// An endpoint string in a broker registration.
    #[error("bad endpoint in broker registration: {0}")]
    EndPoint(#[from] crate::config::EndPointError),
    /// A Kafka Uuid that is not 22 characters of URL-safe base64 for 16 bytes.
    #[error("invalid Uuid {0:?}")]
    Uuid(String),
}

fn malformed(what: &'static str, msg: impl Into<String>) -> ZkDataError {
    ZkDataError::Malformed {
        what,
        msg: msg.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON helpers: decode into serde_json::Value, then pick fields with typed errors.
// ---------------------------------------------------------------------------------------------

fn parse_object(what: &'static str, bytes: &[u8]) -> Result<Map<String, Value>, ZkDataError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(malformed(what, "not a JSON object")),
        Err(e) => Err(malformed(what, e.to_string())),
    }
}

fn field<'a>(
    what: &'static str,
    obj: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a Value, ZkDataError> {
    obj.get(name)
        .ok_or_else(|| malformed(what, format!("missing field {name}")))
}

fn as_i64(what: &'static str, name: &str, v: &Value) -> Result<i64, ZkDataError> {
    v.as_i64()
        .ok_or_else(|| malformed(what, format!("field {name} is not an integer")))
}

fn as_i32(what: &'static str, name: &str, v: &Value) -> Result<i32, ZkDataError> {
    i32::try_from(as_i64(what, name, v)?)
        .map_err(|_| malformed(what, format!("field {name} is out of range")))
}

fn i32_field(what: &'static str, obj: &Map<String, Value>, name: &str) -> Result<i32, ZkDataError> {
    as_i32(what, name, field(what, obj, name)?)
}

fn str_field<'a>(
    what: &'static str,
    obj: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a str, ZkDataError> {
    field(what, obj, name)?
        .as_str()
        .ok_or_else(|| malformed(what, format!("field {name} is not a string")))
}

/// A 64-bit number Kafka writes as a JSON string (timestamps, producer id blocks); a bare
/// number is accepted too.
fn long_text(what: &'static str, name: &str, v: &Value) -> Result<i64, ZkDataError> {
    match v {
        Value::String(s) => s
            .parse()
            .map_err(|_| malformed(what, format!("field {name} is not a number"))),
        other => as_i64(what, name, other),
    }
}

fn int_list(what: &'static str, name: &str, v: &Value) -> Result<Vec<i32>, ZkDataError> {
    v.as_array()
        .ok_or_else(|| malformed(what, format!("field {name} is not an array")))?
        .iter()
        .map(|x| as_i32(what, name, x))
        .collect()
}

/// Reads `version` and checks it is one of `supported`.
fn version(
    what: &'static str,
    obj: &Map<String, Value>,
    supported: std::ops::RangeInclusive<i64>,
) -> Result<i64, ZkDataError> {
    let v = field(what, obj, "version")?;
    match v.as_i64() {
        Some(n) if supported.contains(&n) => Ok(n),
        _ => Err(ZkDataError::Version {
            what,
            version: v.to_string(),
        }),
    }
}

fn to_bytes(v: Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The current wall-clock time in milliseconds, as Kafka stamps registrations.
pub fn timestamp_now_ms() -> i64 {
    now_ms()
}

// ---------------------------------------------------------------------------------------------
// Paths without data of their own
// ---------------------------------------------------------------------------------------------

pub const CONSUMERS_PATH: &str = "/consumers";
pub const BROKERS_PATH: &str = "/brokers";
pub const BROKER_IDS_PATH: &str = "/brokers/ids";
pub const TOPICS_PATH: &str = "/brokers/topics";
pub const CONFIG_PATH: &str = "/config";
pub const ADMIN_PATH: &str = "/admin";
pub const DELETE_TOPICS_PATH: &str = "/admin/delete_topics";

/// The paths every broker creates (empty, persistent) at startup if missing
/// (`ZkData.PersistentZkPaths`, 2.8: includes `/config/ips`).
pub const PERSISTENT_PATHS: &[&str] = &[
    CONSUMERS_PATH,
    BROKER_IDS_PATH,
    TOPICS_PATH,
    ConfigChangeNotification::PATH,
    DELETE_TOPICS_PATH,
    BrokerSequenceId::PATH,
    IsrChangeNotification::PATH,
    ProducerIdBlock::PATH,
    LogDirEventNotification::PATH,
    "/config/topics",
    "/config/clients",
    "/config/users",
    "/config/brokers",
    "/config/ips",
];

/// `/brokers/topics/<t>/partitions`.
pub fn topic_partitions_path(topic: &str) -> String {
    format!("{TOPICS_PATH}/{topic}/partitions")
}

/// `/brokers/topics/<t>/partitions/<p>`.
pub fn topic_partition_path(topic: &str, partition: i32) -> String {
    format!("{TOPICS_PATH}/{topic}/partitions/{partition}")
}

/// `/admin/delete_topics/<t>` (no data): a topic marked for deletion.
pub fn delete_topic_path(topic: &str) -> String {
    format!("{DELETE_TOPICS_PATH}/{topic}")
}

/// The counter of a sequential child `prefix0000000042` → 42.
pub fn sequence_number(child: &str, prefix: &str) -> Option<i64> {
    child.strip_prefix(prefix)?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// /cluster/id
// ---------------------------------------------------------------------------------------------

/// `/cluster/id`: `{"version":"1","id":"<22 chars>"}` (the version is a JSON string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterId {
    pub id: String,
}

impl ClusterId {
    pub const PATH: &'static str = "/cluster/id";
    pub const PARENT: &'static str = "/cluster";
    const WHAT: &'static str = "/cluster/id";

    pub fn encode(&self) -> Vec<u8> {
        to_bytes(json!({"version": "1", "id": self.id}))
    }

    pub fn decode(bytes: &[u8]) -> Result<ClusterId, ZkDataError> {
        let obj = parse_object(Self::WHAT, bytes)?;
        let v = field(Self::WHAT, &obj, "version")?;
        if v.as_str() != Some("1") && v.as_i64() != Some(1) {
            return Err(ZkDataError::Version {
                what: Self::WHAT,
                version: v.to_string(),
            });
        }
        Ok(ClusterId {
            id: str_field(Self::WHAT, &obj, "id")?.to_owned(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// /controller and /controller_epoch
// ---------------------------------------------------------------------------------------------

/// `/controller` (ephemeral): `{"version":1,"brokerid":0,"timestamp":"<ms>"}`. Version 2 (ZK
/// controllers of 3.4+) adds `kraftControllerEpoch`; it is read, never written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Controller {
    pub broker_id: i32,
    pub timestamp_ms: i64,
    pub kraft_controller_epoch: Option<i32>,
}

impl Controller {
    pub const PATH: &'static str = "/controller";
    const WHAT: &'static str = "/controller";

    /// A registration for `broker_id` stamped with the current time.
    pub fn new(broker_id: i32) -> Controller {
        Controller {
            broker_id,
            timestamp_ms: now_ms(),
            kraft_controller_epoch: None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        to_bytes(json!({
            "version": 1,
            "brokerid": self.broker_id,
            "timestamp": self.timestamp_ms.to_string(),
        }))
    }

    pub fn decode(bytes: &[u8]) -> Result<Controller, ZkDataError> {
        let obj = parse_object(Self::WHAT, bytes)?;
        let version = version(Self::WHAT, &obj, 1..=2)?;
        let timestamp_ms = match obj.get("timestamp") {
            Some(v) => long_text(Self::WHAT, "timestamp", v)?,
            None => 0,
        };
        let kraft_controller_epoch = match (version, obj.get("kraftControllerEpoch")) {
            (2, Some(v)) => Some(as_i32(Self::WHAT, "kraftControllerEpoch", v)?),
            _ => None,
        };
        Ok(Controller {
            broker_id: i32_field(Self::WHAT, &obj, "brokerid")?,
            timestamp_ms,
            kraft_controller_epoch,
        })
    }
}

/// `/controller_epoch`: the epoch as decimal text (not JSON). Its zkVersion fences every
/// controller write.
pub struct ControllerEpoch;

impl ControllerEpoch {
    pub const PATH: &'static str = "/controller_epoch";
    /// The value written when the node is first created; the first election makes it 1.
    pub const INITIAL: i32 = 0;

    pub fn encode(epoch: i32) -> Vec<u8> {
        epoch.to_string().into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<i32, ZkDataError> {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| malformed("/controller_epoch", "not a decimal integer"))
    }
}

// ---------------------------------------------------------------------------------------------
// /brokers/ids/<id> and /brokers/seqid
// ---------------------------------------------------------------------------------------------

/// A supported feature range in a broker registration (`{"min_version":a,"max_version":b}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupportedVersionRange {
    pub min_version: i16,
    pub max_version: i16,
}

/// `/brokers/ids/<id>` (ephemeral): a broker's registration. Its czxid is the broker epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    /// Advertised listeners, in configuration order.
    pub endpoints: Vec<EndPoint>,
    pub rack: Option<String>,
    /// -1 when JMX is off.
    pub jmx_port: i32,
    pub timestamp_ms: i64,
    /// Supported features (v5+); empty in 2.7/2.8.
    pub features: BTreeMap<String, SupportedVersionRange>,
}

impl BrokerInfo {
    const WHAT: &'static str = "broker registration";
    /// Highest JSON version read or written.
    pub const MAX_VERSION: i32 = 5;

    pub fn path(id: i32) -> String {
        format!("{BROKER_IDS_PATH}/{id}")
    }

    /// The broker id a child of `/brokers/ids` names.
    pub fn parse_id(child: &str) -> Option<i32> {
        child.parse().ok()
    }

    /// The JSON version Kafka writes for `ibp`: 5 from 2.7-IV0, 4 from 0.10.0-IV1, else 2.
    pub fn json_version(ibp: InterBrokerProtocolVersion) -> i32 {
        if ibp >= InterBrokerProtocolVersion::V2_7_IV0 {
            5
        } else if ibp >= InterBrokerProtocolVersion::V0_10_0_IV1 {
            4
        } else {
            2
        }
    }

    /// Encodes as JSON `version` (1..=5; clamped). `host`/`port` come from the first
    /// PLAINTEXT endpoint (`null`/-1 without one); `rack` only if set (v3+); the protocol map
    /// v4+; `features` v5+.
    pub fn encode(&self, version: i32) -> Vec<u8> {
        let version = version.clamp(1, Self::MAX_VERSION);
        let plaintext = self
            .endpoints
            .iter()
            .find(|e| e.security_protocol == SecurityProtocol::Plaintext);
        let mut m = Map::new();
        m.insert("version".into(), json!(version));
        m.insert(
            "host".into(),
            plaintext
                .and_then(|e| e.host.clone())
                .map_or(Value::Null, Value::String),
        );
        m.insert(
            "port".into(),
            json!(plaintext.map_or(-1, |e| i32::from(e.port))),
        );
        m.insert("jmx_port".into(), json!(self.jmx_port));
        m.insert("timestamp".into(), json!(self.timestamp_ms.to_string()));
        if version >= 2 {
            let eps: Vec<String> = self
                .endpoints
                .iter()
                .map(EndPoint::connection_string)
                .collect();
            m.insert("endpoints".into(), json!(eps));
        }
        if let (Some(rack), true) = (&self.rack, version >= 3) {
            m.insert("rack".into(), json!(rack));
        }
        if version >= 4 {
            let map: BTreeMap<&str, &str> = self
                .endpoints
                .iter()
                .map(|e| (e.listener_name.as_str(), e.security_protocol.name()))
                .collect();
            m.insert("listener_security_protocol_map".into(), json!(map));
        }
        if version >= 5 {
            let f: Map<String, Value> = self
                .features
                .iter()
                .map(|(k, r)| {
                    (
                        k.clone(),
                        json!({"min_version": r.min_version, "max_version": r.max_version}),
                    )
                })
                .collect();
            m.insert("features".into(), Value::Object(f));
        }
        to_bytes(Value::Object(m))
    }

    /// Decodes the registration of broker `id` (the id comes from the path); returns it with
    /// its JSON version. v1 is read from host/port; v2+ from `endpoints`, resolved with the
    /// protocol map when present.
    pub fn decode(id: i32, bytes: &[u8]) -> Result<(BrokerInfo, i32), ZkDataError> {
        const W: &str = BrokerInfo::WHAT;
        let obj = parse_object(W, bytes)?;
        let version = version(W, &obj, 1..=i64::from(Self::MAX_VERSION))? as i32;
        let jmx_port = match obj.get("jmx_port") {
            Some(v) => as_i32(W, "jmx_port", v)?,
            None => -1,
        };
        let timestamp_ms = match obj.get("timestamp") {
            Some(v) => long_text(W, "timestamp", v)?,
            None => 0,
        };
        let endpoints = if version == 1 {
            let host = str_field(W, &obj, "host")?.to_owned();
            let port = u16::try_from(i32_field(W, &obj, "port")?)
                .map_err(|_| malformed(W, "port out of range"))?;
            vec![EndPoint {
                listener_name: SecurityProtocol::Plaintext.name().to_owned(),
                host: (!host.is_empty()).then_some(host),
                port,
                security_protocol: SecurityProtocol::Plaintext,
            }]
        } else {
            let map = match obj.get("listener_security_protocol_map") {
                None | Some(Value::Null) => None,
                Some(Value::Object(m)) => {
                    let mut pm = ProtocolMap::new();
                    for (name, proto) in m {
                        let proto = proto
                            .as_str()
                            .and_then(SecurityProtocol::parse)
                            .ok_or_else(|| malformed(W, format!("bad protocol for {name}")))?;
                        pm.insert(name.to_ascii_uppercase(), proto);
                    }
                    Some(pm)
                }
                Some(_) => {
                    return Err(malformed(
                        W,
                        "listener_security_protocol_map is not an object",
                    ))
                }
            };
            field(W, &obj, "endpoints")?
                .as_array()
                .ok_or_else(|| malformed(W, "endpoints is not an array"))?
                .iter()
                .map(|e| {
                    let s = e
                        .as_str()
                        .ok_or_else(|| malformed(W, "endpoint is not a string"))?;
                    Ok(EndPoint::parse(s, map.as_ref())?)
                })
                .collect::<Result<Vec<_>, ZkDataError>>()?
        };
        let rack = match obj.get("rack") {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) => Some(r.clone()),
            Some(_) => return Err(malformed(W, "rack is not a string")),
        };
        let mut features = BTreeMap::new();
        if let Some(Value::Object(f)) = obj.get("features") {
            for (name, range) in f {
                let r = range
                    .as_object()
                    .ok_or_else(|| malformed(W, format!("feature {name} is not an object")))?;
                let level = |k: &str| {
                    i16::try_from(i32_field(W, r, k)?)
                        .map_err(|_| malformed(W, format!("feature {name} {k} out of range")))
                };
                features.insert(
                    name.clone(),
                    SupportedVersionRange {
                        min_version: level("min_version")?,
                        max_version: level("max_version")?,
                    },
                );
            }
        }
        Ok((
            BrokerInfo {
                id,
                endpoints,
                rack,
                jmx_port,
                timestamp_ms,
                features,
            },
            version,
        ))
    }
}

/// `/brokers/seqid` (empty): each setData bumps its version; a generated broker id is that
/// version plus `reserved.broker.max.id`.
pub struct BrokerSequenceId;

impl BrokerSequenceId {
    pub const PATH: &'static str = "/brokers/seqid";
}

// ---------------------------------------------------------------------------------------------
// /brokers/topics/<t> and partition state
// ---------------------------------------------------------------------------------------------

/// `/brokers/topics/<t>`: a topic's replica assignment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicAssignment {
    /// Written in v3 only.
    pub topic_id: Option<Uuid>,
    /// Partition → replicas (first = preferred leader).
    pub partitions: BTreeMap<i32, Vec<i32>>,
    /// Only partitions being reassigned.
    pub adding_replicas: BTreeMap<i32, Vec<i32>>,
    pub removing_replicas: BTreeMap<i32, Vec<i32>>,
}

impl TopicAssignment {
    const WHAT: &'static str = "topic assignment";

    pub fn path(topic: &str) -> String {
        format!("{TOPICS_PATH}/{topic}")
    }

    /// A plain assignment without id or reassignment data.
    pub fn new(partitions: BTreeMap<i32, Vec<i32>>) -> TopicAssignment {
        TopicAssignment {
            partitions,
            ..TopicAssignment::default()
        }
    }

    /// The JSON version Kafka writes: 3 (with topic ids) from 2.8, else 2.
    pub fn json_version(ibp: InterBrokerProtocolVersion) -> i32 {
        if ibp >= InterBrokerProtocolVersion::V2_8_IV0 {
            3
        } else {
            2
        }
    }

    /// Encodes as version 2 (no topic id) or 3 (topic id when there is one).
    pub fn encode(&self, version: i32) -> Vec<u8> {
        let map = |m: &BTreeMap<i32, Vec<i32>>| -> Value {
            Value::Object(m.iter().map(|(p, r)| (p.to_string(), json!(r))).collect())
        };
        let version = version.clamp(2, 3);
        let mut m = Map::new();
        m.insert("version".into(), json!(version));
        m.insert("partitions".into(), map(&self.partitions));
        m.insert("adding_replicas".into(), map(&self.adding_replicas));
        m.insert("removing_replicas".into(), map(&self.removing_replicas));
        if let (3, Some(id)) = (version, self.topic_id) {
            m.insert("topic_id".into(), json!(id.to_string()));
        }
        to_bytes(Value::Object(m))
    }

    /// Decodes versions 1–3; missing adding/removing maps read as empty.
    pub fn decode(bytes: &[u8]) -> Result<(TopicAssignment, i32), ZkDataError> {
        const W: &str = TopicAssignment::WHAT;
        let obj = parse_object(W, bytes)?;
        let version = version(W, &obj, 1..=3)? as i32;
        let map = |name: &str| -> Result<BTreeMap<i32, Vec<i32>>, ZkDataError> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(BTreeMap::new()),
                Some(Value::Object(m)) => {
                    m.iter()
                        .map(|(p, r)| {
                            let p: i32 =
                                p.parse().ok().filter(|p| *p >= 0).ok_or_else(|| {
                                    malformed(W, format!("bad partition id {p:?}"))
                                })?;
                            Ok((p, int_list(W, name, r)?))
                        })
                        .collect()
                }
                Some(_) => Err(malformed(W, format!("{name} is not an object"))),
            }
        };
        let topic_id = match obj.get("topic_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Uuid::parse(s)?),
            Some(_) => return Err(malformed(W, "topic_id is not a string")),
        };
        if !obj.contains_key("partitions") {
            return Err(malformed(W, "missing field partitions"));
        }
        Ok((
            TopicAssignment {
                topic_id,
                partitions: map("partitions")?,
                adding_replicas: map("adding_replicas")?,
                removing_replicas: map("removing_replicas")?,
            },
            version,
        ))
    }
}

/// `/brokers/topics/<t>/partitions/<p>/state`: leader, ISR and the epochs that wrote them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionState {
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub controller_epoch: i32,
    /// 0 = RECOVERED (never written), 1 = RECOVERING (3.x only).
    pub leader_recovery_state: i8,
}

impl PartitionState {
    const WHAT: &'static str = "partition state";
    /// No leader (all replicas offline).
    pub const NO_LEADER: i32 = -1;
    /// Leader value in UpdateMetadata for a topic being deleted.
    pub const LEADER_DURING_DELETE: i32 = -2;
    pub const INITIAL_LEADER_EPOCH: i32 = 0;

    pub fn path(topic: &str, partition: i32) -> String {
        format!("{}/state", topic_partition_path(topic, partition))
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut m = Map::new();
        m.insert("version".into(), json!(1));
        m.insert("leader".into(), json!(self.leader));
        m.insert("leader_epoch".into(), json!(self.leader_epoch));
        m.insert("isr".into(), json!(self.isr));
        m.insert("controller_epoch".into(), json!(self.controller_epoch));
        if self.leader_recovery_state != 0 {
            m.insert(
                "leader_recovery_state".into(),
                json!(self.leader_recovery_state),
            );
        }
        to_bytes(Value::Object(m))
    }

    pub fn decode(bytes: &[u8]) -> Result<PartitionState, ZkDataError> {
        const W: &str = PartitionState::WHAT;
        let obj = parse_object(W, bytes)?;
        version(W, &obj, 1..=1)?;
        let leader_recovery_state = match obj.get("leader_recovery_state") {
            None => 0,
            Some(v) => i8::try_from(as_i64(W, "leader_recovery_state", v)?)
                .map_err(|_| malformed(W, "leader_recovery_state out of range"))?,
        };
        Ok(PartitionState {
            leader: i32_field(W, &obj, "leader")?,
            leader_epoch: i32_field(W, &obj, "leader_epoch")?,
            isr: int_list(W, "isr", field(W, &obj, "isr")?)?,
            controller_epoch: i32_field(W, &obj, "controller_epoch")?,
            leader_recovery_state,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// /config
// ---------------------------------------------------------------------------------------------

/// The entity types under `/config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigEntityType {
    Topics,
    Clients,
    Users,
    Brokers,
    /// 2.8+.
    Ips,
}

impl ConfigEntityType {
    pub const ALL: [ConfigEntityType; 5] = [
        ConfigEntityType::Topics,
        ConfigEntityType::Clients,
        ConfigEntityType::Users,
        ConfigEntityType::Brokers,
        ConfigEntityType::Ips,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ConfigEntityType::Topics => "topics",
            ConfigEntityType::Clients => "clients",
            ConfigEntityType::Users => "users",
            ConfigEntityType::Brokers => "brokers",
            ConfigEntityType::Ips => "ips",
        }
    }

    pub fn parse(s: &str) -> Option<ConfigEntityType> {
        Self::ALL.into_iter().find(|t| t.name() == s)
    }

    /// `/config/<type>`.
    pub fn path(self) -> String {
        format!("{CONFIG_PATH}/{}", self.name())
    }
}

/// The name of the default entity (`/config/brokers/<default>`, ...).
pub const DEFAULT_ENTITY: &str = "<default>";

/// `/config/<type>/<name>` (or `/config/users/<u>/clients/<c>`):
/// `{"version":1,"config":{"k":"v"}}`, string values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntityConfig {
    pub config: BTreeMap<String, String>,
}

impl EntityConfig {
    const WHAT: &'static str = "entity config";

    /// `/config/<type>/<name>`; `name` must already be sanitized (see [`sanitize`]) for users
    /// and clients.
    pub fn path(entity_type: ConfigEntityType, name: &str) -> String {
        format!("{CONFIG_PATH}/{}/{name}", entity_type.name())
    }

    /// `/config/<entity_path>`, e.g. `users/alice/clients/app`.
    pub fn path_for_entity(entity_path: &str) -> String {
        format!("{CONFIG_PATH}/{entity_path}")
    }

    pub fn encode(&self) -> Vec<u8> {
        to_bytes(json!({"version": 1, "config": self.config}))
    }

    pub fn decode(bytes: &[u8]) -> Result<EntityConfig, ZkDataError> {
        const W: &str = EntityConfig::WHAT;
        let obj = parse_object(W, bytes)?;
        version(W, &obj, 1..=1)?;
        let config = match obj.get("config") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(malformed(W, format!("value of {k} is not a string"))),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(malformed(W, "config is not an object")),
        };
        Ok(EntityConfig { config })
    }
}

/// `/config/changes/config_change_<seq>` (persistent sequential): which entity's config changed.
/// Written as v2 `{"version":2,"entity_path":"topics/foo"}`; v1
/// `{"version":1,"entity_type":"topics","entity_name":"foo"}` is read too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigChangeNotification {
    pub entity_path: String,
}

impl ConfigChangeNotification {
    pub const PATH: &'static str = "/config/changes";
    pub const PREFIX: &'static str = "config_change_";
    /// Path handed to a sequential create.
    pub const SEQUENTIAL_PATH: &'static str = "/config/changes/config_change_";
    const WHAT: &'static str = "config change notification";

    pub fn path(child: &str) -> String {
        format!("{}/{child}", Self::PATH)
    }

    pub fn encode(&self) -> Vec<u8> {
        to_bytes(json!({"version": 2, "entity_path": self.entity_path}))
    }

    pub fn decode(bytes: &[u8]) -> Result<ConfigChangeNotification, ZkDataError> {
        const W: &str = ConfigChangeNotification::WHAT;
        let obj = parse_object(W, bytes)?;
        let entity_path = match version(W, &obj, 1..=2)? {
            1 => {
                let t = str_field(W, &obj, "entity_type")?;
                if ConfigEntityType::parse(t).is_none() {
                    return Err(malformed(W, format!("unknown entity type {t:?}")));
                }
                format!("{t}/{}", str_field(W, &obj, "entity_name")?)
            }
            _ => str_field(W, &obj, "entity_path")?.to_owned(),
        };
        Ok(ConfigChangeNotification { entity_path })
    }
}

/// Kafka's `Sanitizer.sanitize`: URL-encodes a user or client id for use as a znode name
/// (`*` → `%2A`, space → `%20`).
pub fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The inverse of [`sanitize`] (`URLDecoder.decode`: `%XX` escapes, `+` as space).
pub fn desanitize(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------------------------
// /admin
// ---------------------------------------------------------------------------------------------

/// A topic-partition as the admin and notification znodes list them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

fn encode_partitions(tps: &[TopicPartition]) -> Value {
    Value::Array(
        tps.iter()
            .map(|tp| json!({"topic": tp.topic, "partition": tp.partition}))
            .collect(),
    )
}

fn decode_partition_entry<'a>(
    what: &'static str,
    v: &'a Value,
) -> Result<(TopicPartition, &'a Map<String, Value>), ZkDataError> {
    let o = v
        .as_object()
        .ok_or_else(|| malformed(what, "partition entry is not an object"))?;
    Ok((
        TopicPartition::new(
            str_field(what, o, "topic")?,
            i32_field(what, o, "partition")?,
        ),
        o,
    ))
}

fn partitions_array<'a>(
    what: &'static str,
    obj: &'a Map<String, Value>,
) -> Result<&'a Vec<Value>, ZkDataError> {
    field(what, obj, "partitions")?
        .as_array()
        .ok_or_else(|| malformed(what, "partitions is not an array"))
}

/// `{"version":1,"partitions":[{"topic":..,"partition":..}]}`, shared by the preferred-election
/// and ISR-change znodes.
fn decode_partition_list(
    what: &'static str,
    bytes: &[u8],
) -> Result<Vec<TopicPartition>, ZkDataError> {
    let obj = parse_object(what, bytes)?;
    version(what, &obj, 1..=1)?;
    partitions_array(what, &obj)?
        .iter()
        .map(|e| Ok(decode_partition_entry(what, e)?.0))
        .collect()
}

/// `/admin/reassign_partitions`:
/// `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]}]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionReassignment {
    pub partitions: BTreeMap<TopicPartition, Vec<i32>>,
}

impl PartitionReassignment {
    pub const PATH: &'static str = "/admin/reassign_partitions";
    const WHAT: &'static str = "partition reassignment";

    pub fn encode(&self) -> Vec<u8> {
        let parts: Vec<Value> = self
            .partitions
            .iter()
            .map(|(tp, r)| json!({"topic": tp.topic, "partition": tp.partition, "replicas": r}))
            .collect();
        to_bytes(json!({"version": 1, "partitions": parts}))
    }

    pub fn decode(bytes: &[u8]) -> Result<PartitionReassignment, ZkDataError> {
        const W: &str = PartitionReassignment::WHAT;
        let obj = parse_object(W, bytes)?;
        version(W, &obj, 1..=1)?;
        let mut partitions = BTreeMap::new();
        for e in partitions_array(W, &obj)? {
            let (tp, o) = decode_partition_entry(W, e)?;
            partitions.insert(tp, int_list(W, "replicas", field(W, o, "replicas")?)?);
        }
        Ok(PartitionReassignment { partitions })
    }
}

/// `/admin/preferred_replica_election`: `{"version":1,"partitions":[{"topic":..,"partition":..}]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreferredReplicaElection {
    pub partitions: Vec<TopicPartition>,
}

impl PreferredReplicaElection {
    pub const PATH: &'static str = "/admin/preferred_replica_election";

    pub fn encode(&self) -> Vec<u8> {
        to_bytes(json!({"version": 1, "partitions": encode_partitions(&self.partitions)}))
    }

    pub fn decode(bytes: &[u8]) -> Result<PreferredReplicaElection, ZkDataError> {
        Ok(PreferredReplicaElection {
            partitions: decode_partition_list("preferred replica election", bytes)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------------------------

/// `/isr_change_notification/isr_change_<seq>` (persistent sequential): partitions whose ISR
/// changed, for the controller to re-read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IsrChangeNotification {
    pub partitions: Vec<TopicPartition>,
}

impl IsrChangeNotification {
    pub const PATH: &'static str = "/isr_change_notification";
    pub const PREFIX: &'static str = "isr_change_";
    pub const SEQUENTIAL_PATH: &'static str = "/isr_change_notification/isr_change_";

    pub fn path(child: &str) -> String {
        format!("{}/{child}", Self::PATH)
    }

    pub fn encode(&self) -> Vec<u8> {
        to_bytes(json!({"version": 1, "partitions": encode_partitions(&self.partitions)}))
    }

    pub fn decode(bytes: &[u8]) -> Result<IsrChangeNotification, ZkDataError> {
        Ok(IsrChangeNotification {
            partitions: decode_partition_list("ISR change notification", bytes)?,
        })
    }
}

/// `/log_dir_event_notification/log_dir_event_<seq>`: `{"version":1,"broker":3,"event":1}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogDirEventNotification {
    pub broker: i32,
    /// 1 = LogDirFailure.
    pub event: i32,
}

impl LogDirEventNotification {
    pub const PATH: &'static str = "/log_dir_event_notification";
    pub const PREFIX: &'static str = "log_dir_event_";
    pub const SEQUENTIAL_PATH: &'static str = "/log_dir_event_notification/log_dir_event_";
    pub const LOG_DIR_FAILURE: i32 = 1;

    pub fn path(child: &str) -> String {
        format!("{}/{child}", Self::PATH)
    }

    pub fn encode(&self) -> Vec<u8> {
        to_bytes(json!({"version": 1, "broker": self.broker, "event": self.event}))
    }

    pub fn decode(bytes: &[u8]) -> Result<LogDirEventNotification, ZkDataError> {
        const W: &str = "log dir event notification";
        let obj = parse_object(W, bytes)?;
        version(W, &obj, 1..=1)?;
        Ok(LogDirEventNotification {
            broker: i32_field(W, &obj, "broker")?,
            event: i32_field(W, &obj, "event")?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// /latest_producer_id_block and /feature
// ---------------------------------------------------------------------------------------------

/// `/latest_producer_id_block`: the last producer-id block handed out,
/// `{"version":1,"broker":0,"block_start":"0","block_end":"999"}` (inclusive, as strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerIdBlock {
    pub broker: i32,
    pub block_start: i64,
    pub block_end: i64,
}

impl ProducerIdBlock {
    pub const PATH: &'static str = "/latest_producer_id_block";
    /// Ids per block.
    pub const BLOCK_SIZE: i64 = 1000;
    const WHAT: &'static str = "producer id block";

    /// The block after `previous` (or the first block), for `broker`; `None` when the id space
    /// is exhausted.
    pub fn next(previous: Option<&ProducerIdBlock>, broker: i32) -> Option<ProducerIdBlock> {
        let start = match previous {
            None => 0,
            Some(p) => p.block_end.checked_add(1)?,
        };
        Some(ProducerIdBlock {
            broker,
            block_start: start,
            block_end: start.checked_add(Self::BLOCK_SIZE - 1)?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        to_bytes(json!({
            "version": 1,
            "broker": self.broker,
            "block_start": self.block_start.to_string(),
            "block_end": self.block_end.to_string(),
        }))
    }

    pub fn decode(bytes: &[u8]) -> Result<ProducerIdBlock, ZkDataError> {
        const W: &str = ProducerIdBlock::WHAT;
        let obj = parse_object(W, bytes)?;
        version(W, &obj, 1..=1)?;
        Ok(ProducerIdBlock {
            broker: i32_field(W, &obj, "broker")?,
            block_start: long_text(W, "block_start", field(W, &obj, "block_start")?)?,
            block_end: long_text(W, "block_end", field(W, &obj, "block_end")?)?,
        })
    }
}

/// A finalized feature level in `/feature` (v1: min and max; v2, 3.3+: max only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinalizedFeature {
    pub min_version_level: Option<i16>,
    pub max_version_level: i16,
}

/// `/feature` (2.7+): `{"version":1,"status":1,"features":{}}`; status 1 = enabled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureZNode {
    pub enabled: bool,
    pub features: BTreeMap<String, FinalizedFeature>,
}

impl FeatureZNode {
    pub const PATH: &'static str = "/feature";
    const WHAT: &'static str = "/feature";

    pub fn encode(&self) -> Vec<u8> {
        let f: Map<String, Value> = self
            .features
            .iter()
            .map(|(k, v)| {
                let mut o = Map::new();
                if let Some(min) = v.min_version_level {
                    o.insert("min_version_level".into(), json!(min));
                }
                o.insert("max_version_level".into(), json!(v.max_version_level));
                (k.clone(), Value::Object(o))
            })
            .collect();
        to_bytes(json!({"version": 1, "status": i32::from(self.enabled), "features": f}))
    }

    pub fn decode(bytes: &[u8]) -> Result<FeatureZNode, ZkDataError> {
        const W: &str = FeatureZNode::WHAT;
        let obj = parse_object(W, bytes)?;
        version(W, &obj, 1..=2)?;
        let enabled = match i32_field(W, &obj, "status")? {
            0 => false,
            1 => true,
            s => return Err(malformed(W, format!("unknown status {s}"))),
        };
        let mut features = BTreeMap::new();
        if let Some(f) = obj.get("features") {
            let f = f
                .as_object()
                .ok_or_else(|| malformed(W, "features is not an object"))?;
            for (name, level) in f {
                let o = level
                    .as_object()
                    .ok_or_else(|| malformed(W, format!("feature {name} is not an object")))?;
                let lvl = |v: &Value, k: &str| {
                    i16::try_from(as_i64(W, k, v)?)
                        .map_err(|_| malformed(W, format!("{k} out of range")))
                };
                let min_version_level = match o.get("min_version_level") {
                    Some(v) => Some(lvl(v, "min_version_level")?),
                    None => None,
                };
                let max = field(W, o, "max_version_level")?;
                features.insert(
                    name.clone(),
                    FinalizedFeature {
                        min_version_level,
                        max_version_level: lvl(max, "max_version_level")?,
                    },
                );
            }
        }
        Ok(FeatureZNode { enabled, features })
    }
}

// ---------------------------------------------------------------------------------------------
// Topic names
// ---------------------------------------------------------------------------------------------

/// Longest legal topic name (`Topic.MAX_NAME_LENGTH`).
pub const MAX_TOPIC_NAME_LENGTH: usize = 249;
pub const CONSUMER_OFFSETS_TOPIC: &str = "__consumer_offsets";
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// Why a topic name is illegal; the texts are Kafka's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    #[error("Topic name is illegal, it can't be empty")]
    Empty,
    #[error("Topic name cannot be \".\" or \"..\"")]
    Dots,
    #[error("Topic name is illegal, it can't be longer than 249 characters, topic name: {0}")]
    TooLong(String),
    #[error("Topic name \"{0}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'")]
    BadChar(String),
}

/// Kafka's `Topic.validate`.
pub fn validate_topic_name(topic: &str) -> Result<(), TopicNameError> {
    if topic.is_empty() {
        return Err(TopicNameError::Empty);
    }
    if topic == "." || topic == ".." {
        return Err(TopicNameError::Dots);
    }
    // Java counts UTF-16 units.
    if topic.encode_utf16().count() > MAX_TOPIC_NAME_LENGTH {
        return Err(TopicNameError::TooLong(topic.to_owned()));
    }
    if !topic
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(TopicNameError::BadChar(topic.to_owned()));
    }
    Ok(())
}

/// Whether `topic` contains `.` or `_`, which metric names conflate.
pub fn has_collision_chars(topic: &str) -> bool {
    topic.contains('.') || topic.contains('_')
}

/// `topic` with every `.` replaced by `_`.
pub fn unify_collision_chars(topic: &str) -> String {
    topic.replace('.', "_")
}

/// Whether two topic names collide once `.` and `_` are conflated.
pub fn has_collision(a: &str, b: &str) -> bool {
    unify_collision_chars(a) == unify_collision_chars(b)
}

/// Whether `topic` is one of Kafka's internal topics.
pub fn is_internal_topic(topic: &str) -> bool {
    topic == CONSUMER_OFFSETS_TOPIC || topic == TRANSACTION_STATE_TOPIC
}

// ---------------------------------------------------------------------------------------------
// Uuid
// ---------------------------------------------------------------------------------------------

/// Kafka's Uuid: 16 bytes, printed as 22 characters of URL-safe base64 without padding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Uuid([u8; 16]);

impl Uuid {
    /// All zeros: "no id".
    pub const ZERO: Uuid = Uuid([0; 16]);
    /// Reserved for the KRaft metadata topic (0, 1).
    pub const METADATA_TOPIC_ID: Uuid = Uuid([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

    pub const fn from_bytes(b: [u8; 16]) -> Uuid {
        Uuid(b)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// From Java's (mostSignificantBits, leastSignificantBits).
    pub fn from_bits(most: i64, least: i64) -> Uuid {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&most.to_be_bytes());
        b[8..].copy_from_slice(&least.to_be_bytes());
        Uuid(b)
    }

    pub fn most_significant_bits(&self) -> i64 {
        let mut h = [0u8; 8];
        h.copy_from_slice(&self.0[..8]);
        i64::from_be_bytes(h)
    }

    pub fn least_significant_bits(&self) -> i64 {
        let mut l = [0u8; 8];
        l.copy_from_slice(&self.0[8..]);
        i64::from_be_bytes(l)
    }

    /// A random (version 4) Uuid, never ZERO, the metadata topic id, or one whose text starts
    /// with `-` (which command-line tools would read as a flag).
    pub fn random() -> Uuid {
        loop {
            let mut b: [u8; 16] = rand::random();
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let u = Uuid(b);
            if u != Self::ZERO && u != Self::METADATA_TOPIC_ID && !u.to_string().starts_with('-') {
                return u;
            }
        }
    }

    /// Parses the 22-character form.
    pub fn parse(s: &str) -> Result<Uuid, ZkDataError> {
        let bad = || ZkDataError::Uuid(s.chars().take(64).collect());
        if s.len() != 22 {
            return Err(bad());
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| bad())?;
        let arr: [u8; 16] = bytes.try_into().map_err(|_| bad())?;
        Ok(Uuid(arr))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

impl std::str::FromStr for Uuid {
    type Err = ZkDataError;
    fn from_str(s: &str) -> Result<Uuid, ZkDataError> {
        Uuid::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obj(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    fn ep(s: &str) -> EndPoint {
        EndPoint::parse(s, None).unwrap()
    }

    #[test]
    fn cluster_id_json() {
        let c = ClusterId {
            id: "abcdefghijklmnopqrstuv".into(),
        };
        assert_eq!(
            obj(&c.encode()),
            json!({"version":"1","id":"abcdefghijklmnopqrstuv"})
        );
        assert_eq!(ClusterId::decode(&c.encode()).unwrap(), c);
        assert_eq!(
            ClusterId::decode(br#"{"id":"x","version":"1"}"#)
                .unwrap()
                .id,
            "x"
        );
        assert!(matches!(
            ClusterId::decode(br#"{"version":"2","id":"x"}"#),
            Err(ZkDataError::Version { .. })
        ));
    }

    #[test]
    fn controller_json() {
        let c = Controller {
            broker_id: 3,
            timestamp_ms: 1_600_000_000_000,
            kraft_controller_epoch: None,
        };
        assert_eq!(
            obj(&c.encode()),
            json!({"version":1,"brokerid":3,"timestamp":"1600000000000"})
        );
        assert_eq!(Controller::decode(&c.encode()).unwrap(), c);
        let v2 = Controller::decode(
            br#"{"kraftControllerEpoch":-1,"version":2,"brokerid":1,"timestamp":"5"}"#,
        )
        .unwrap();
        assert_eq!(v2.kraft_controller_epoch, Some(-1));
        assert!(Controller::decode(br#"{"version":3,"brokerid":1}"#).is_err());
        assert_eq!(ControllerEpoch::encode(12), b"12");
        assert_eq!(ControllerEpoch::decode(b"12").unwrap(), 12);
        assert!(ControllerEpoch::decode(b"").is_err());
        assert!(ControllerEpoch::decode(b"1x").is_err());
    }

    fn broker() -> BrokerInfo {
        BrokerInfo {
            id: 1,
            endpoints: vec![ep("SSL://h1:9093"), ep("PLAINTEXT://h1:9092")],
            rack: Some("r1".into()),
            jmx_port: -1,
            timestamp_ms: 1_600_000_000_000,
            features: BTreeMap::new(),
        }
    }

    #[test]
    fn broker_json_v5_and_v4() {
        let b = broker();
        assert_eq!(
            obj(&b.encode(5)),
            json!({"version":5,"host":"h1","port":9092,"jmx_port":-1,"timestamp":"1600000000000",
                   "endpoints":["SSL://h1:9093","PLAINTEXT://h1:9092"],
                   "listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT","SSL":"SSL"},
                   "rack":"r1","features":{}})
        );
        let v4 = obj(&b.encode(4));
        assert_eq!(v4["version"], 4);
        assert!(v4.get("features").is_none());
        assert!(v4.get("listener_security_protocol_map").is_some());
        for v in [2, 3, 4, 5] {
            let (d, ver) = BrokerInfo::decode(1, &b.encode(v)).unwrap();
            assert_eq!(ver, v);
            let expect_rack = if v >= 3 { b.rack.clone() } else { None };
            assert_eq!(
                d,
                BrokerInfo {
                    rack: expect_rack,
                    ..b.clone()
                }
            );
        }
    }

    #[test]
    fn broker_json_details() {
        let mut b = broker();
        b.endpoints = vec![ep("SSL://h1:9093")];
        b.rack = None;
        let j = obj(&b.encode(5));
        assert_eq!(j["host"], Value::Null);
        assert_eq!(j["port"], -1);
        assert!(j.get("rack").is_none());
        // Custom listener names need the protocol map (v4+).
        let mut m = ProtocolMap::new();
        m.insert("INTERNAL".into(), SecurityProtocol::Plaintext);
        b.endpoints = vec![EndPoint::parse("INTERNAL://h:1", Some(&m)).unwrap()];
        assert_eq!(
            BrokerInfo::decode(1, &b.encode(5)).unwrap().0.endpoints,
            b.endpoints
        );
        assert!(BrokerInfo::decode(1, &b.encode(2)).is_err());
        // v1: host/port only.
        let (v1, _) =
            BrokerInfo::decode(7, br#"{"version":1,"host":"a","port":1,"jmx_port":-1}"#).unwrap();
        assert_eq!(v1.endpoints, vec![ep("PLAINTEXT://a:1")]);
        assert_eq!(v1.id, 7);
        assert!(BrokerInfo::decode(1, br#"{"version":0,"host":"a","port":1}"#).is_err());
        assert!(BrokerInfo::decode(1, br#"{"version":6,"endpoints":[]}"#).is_err());
        let f =
            br#"{"version":5,"endpoints":[],"features":{"x":{"min_version":1,"max_version":2}}}"#;
        assert_eq!(
            BrokerInfo::decode(1, f).unwrap().0.features["x"],
            SupportedVersionRange {
                min_version: 1,
                max_version: 2
            }
        );
        assert_eq!(
            BrokerInfo::json_version(InterBrokerProtocolVersion::V2_7_IV0),
            5
        );
        assert_eq!(
            BrokerInfo::json_version(InterBrokerProtocolVersion::V2_6_IV0),
            4
        );
        assert_eq!(
            BrokerInfo::json_version(InterBrokerProtocolVersion::parse("0.10.0-IV0").unwrap()),
            2
        );
    }

    #[test]
    fn topic_json() {
        let mut t = TopicAssignment::new(BTreeMap::from([(0, vec![2, 0, 1]), (1, vec![0, 1, 2])]));
        assert_eq!(
            obj(&t.encode(2)),
            json!({"version":2,"partitions":{"0":[2,0,1],"1":[0,1,2]},"adding_replicas":{},"removing_replicas":{}})
        );
        t.topic_id = Some(Uuid::from_bits(1, 2));
        assert!(obj(&t.encode(2)).get("topic_id").is_none());
        let v3 = obj(&t.encode(3));
        assert_eq!(v3["version"], 3);
        assert_eq!(v3["topic_id"], json!(Uuid::from_bits(1, 2).to_string()));
        assert_eq!(
            TopicAssignment::decode(&t.encode(3)).unwrap(),
            (t.clone(), 3)
        );
        let (v1, ver) =
            TopicAssignment::decode(br#"{"partitions":{"0":[1]},"version":1}"#).unwrap();
        assert_eq!(ver, 1);
        assert_eq!(v1.partitions[&0], vec![1]);
        assert!(v1.adding_replicas.is_empty());
        assert!(TopicAssignment::decode(br#"{"version":4,"partitions":{}}"#).is_err());
        assert!(TopicAssignment::decode(br#"{"version":2,"partitions":{"x":[1]}}"#).is_err());
        assert!(TopicAssignment::decode(br#"{"version":2,"partitions":{"-1":[1]}}"#).is_err());
        assert!(TopicAssignment::decode(br#"{"version":2}"#).is_err());
        assert_eq!(
            TopicAssignment::json_version(InterBrokerProtocolVersion::V2_7_IV2),
            2
        );
        assert_eq!(
            TopicAssignment::json_version(InterBrokerProtocolVersion::V2_8_IV0),
            3
        );
    }

    #[test]
    fn partition_state_json() {
        let s = PartitionState {
            leader: 2,
            leader_epoch: 0,
            isr: vec![2, 0, 1],
            controller_epoch: 1,
            leader_recovery_state: 0,
        };
        assert_eq!(
            obj(&s.encode()),
            json!({"version":1,"leader":2,"leader_epoch":0,"isr":[2,0,1],"controller_epoch":1})
        );
        assert_eq!(PartitionState::decode(&s.encode()).unwrap(), s);
        let r = PartitionState {
            leader_recovery_state: 1,
            ..s.clone()
        };
        assert_eq!(obj(&r.encode())["leader_recovery_state"], 1);
        assert_eq!(PartitionState::decode(&r.encode()).unwrap(), r);
        assert_eq!(
            PartitionState::path("t", 3),
            "/brokers/topics/t/partitions/3/state"
        );
    }

    #[test]
    fn config_json_and_changes() {
        let c = EntityConfig {
            config: BTreeMap::from([("retention.ms".to_string(), "1000".to_string())]),
        };
        assert_eq!(
            obj(&c.encode()),
            json!({"version":1,"config":{"retention.ms":"1000"}})
        );
        assert_eq!(EntityConfig::decode(&c.encode()).unwrap(), c);
        assert_eq!(
            EntityConfig::decode(br#"{"version":1,"config":{}}"#).unwrap(),
            EntityConfig::default()
        );
        assert!(EntityConfig::decode(br#"{"version":1,"config":{"a":1}}"#).is_err());
        assert_eq!(
            EntityConfig::path(ConfigEntityType::Topics, "t"),
            "/config/topics/t"
        );
        let n = ConfigChangeNotification {
            entity_path: "users/alice/clients/app".into(),
        };
        assert_eq!(
            obj(&n.encode()),
            json!({"version":2,"entity_path":"users/alice/clients/app"})
        );
        assert_eq!(ConfigChangeNotification::decode(&n.encode()).unwrap(), n);
        assert_eq!(
            ConfigChangeNotification::decode(
                br#"{"version":1,"entity_type":"topics","entity_name":"foo"}"#
            )
            .unwrap()
            .entity_path,
            "topics/foo"
        );
        assert!(ConfigChangeNotification::decode(br#"{"version":3,"entity_path":"x"}"#).is_err());
        assert_eq!(
            sequence_number("config_change_0000000042", ConfigChangeNotification::PREFIX),
            Some(42)
        );
    }

    #[test]
    fn sanitizer() {
        assert_eq!(sanitize("user 1*@x"), "user%201%2A%40x");
        assert_eq!(sanitize("a.b-c_d"), "a.b-c_d");
        assert_eq!(desanitize("user%201%2A%40x").as_deref(), Some("user 1*@x"));
        assert_eq!(desanitize("a+b").as_deref(), Some("a b"));
        assert_eq!(desanitize("%4"), None);
        assert_eq!(sanitize("é"), "%C3%A9");
    }

    #[test]
    fn admin_and_notification_json() {
        let r = PartitionReassignment {
            partitions: BTreeMap::from([(TopicPartition::new("t", 0), vec![1, 2, 3])]),
        };
        assert_eq!(
            obj(&r.encode()),
            json!({"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]}]})
        );
        assert_eq!(PartitionReassignment::decode(&r.encode()).unwrap(), r);
        let p = PreferredReplicaElection {
            partitions: vec![TopicPartition::new("t", 0)],
        };
        assert_eq!(
            obj(&p.encode()),
            json!({"version":1,"partitions":[{"topic":"t","partition":0}]})
        );
        assert_eq!(PreferredReplicaElection::decode(&p.encode()).unwrap(), p);
        let i = IsrChangeNotification {
            partitions: vec![TopicPartition::new("a", 1), TopicPartition::new("b", 2)],
        };
        assert_eq!(IsrChangeNotification::decode(&i.encode()).unwrap(), i);
        let l = LogDirEventNotification {
            broker: 3,
            event: 1,
        };
        assert_eq!(obj(&l.encode()), json!({"version":1,"broker":3,"event":1}));
        assert_eq!(LogDirEventNotification::decode(&l.encode()).unwrap(), l);
    }

    #[test]
    fn producer_id_block_json_and_next() {
        let first = ProducerIdBlock::next(None, 0).unwrap();
        assert_eq!((first.block_start, first.block_end), (0, 999));
        assert_eq!(
            obj(&first.encode()),
            json!({"version":1,"broker":0,"block_start":"0","block_end":"999"})
        );
        assert_eq!(ProducerIdBlock::decode(&first.encode()).unwrap(), first);
        let second = ProducerIdBlock::next(Some(&first), 2).unwrap();
        assert_eq!(
            (second.broker, second.block_start, second.block_end),
            (2, 1000, 1999)
        );
        let last = ProducerIdBlock {
            broker: 0,
            block_start: 0,
            block_end: i64::MAX - 10,
        };
        assert_eq!(ProducerIdBlock::next(Some(&last), 0), None);
    }

    #[test]
    fn feature_json() {
        let f = FeatureZNode {
            enabled: true,
            features: BTreeMap::new(),
        };
        assert_eq!(
            obj(&f.encode()),
            json!({"version":1,"status":1,"features":{}})
        );
        assert_eq!(FeatureZNode::decode(&f.encode()).unwrap(), f);
        let v2 = FeatureZNode::decode(
            br#"{"version":2,"status":1,"features":{"metadata.version":{"max_version_level":7}}}"#,
        )
        .unwrap();
        assert_eq!(v2.features["metadata.version"].max_version_level, 7);
        assert_eq!(v2.features["metadata.version"].min_version_level, None);
        assert!(FeatureZNode::decode(br#"{"version":1,"status":5,"features":{}}"#).is_err());
    }

    #[test]
    fn persistent_paths() {
        assert_eq!(PERSISTENT_PATHS.len(), 14);
        for p in PERSISTENT_PATHS {
            crate::config::validate_znode_path(p).unwrap();
        }
        assert!(PERSISTENT_PATHS.contains(&"/latest_producer_id_block"));
        assert!(PERSISTENT_PATHS.contains(&"/config/changes"));
    }

    #[test]
    fn topic_names() {
        assert_eq!(validate_topic_name(""), Err(TopicNameError::Empty));
        assert_eq!(validate_topic_name("."), Err(TopicNameError::Dots));
        assert_eq!(validate_topic_name(".."), Err(TopicNameError::Dots));
        assert!(validate_topic_name("...").is_ok());
        assert!(validate_topic_name(&"a".repeat(249)).is_ok());
        assert!(matches!(
            validate_topic_name(&"a".repeat(250)),
            Err(TopicNameError::TooLong(_))
        ));
        assert!(matches!(
            validate_topic_name("a b"),
            Err(TopicNameError::BadChar(_))
        ));
        assert!(matches!(
            validate_topic_name("é"),
            Err(TopicNameError::BadChar(_))
        ));
        assert!(validate_topic_name("A-z_0.9").is_ok());
        assert!(
            has_collision_chars("a.b") && has_collision_chars("a_b") && !has_collision_chars("ab")
        );
        assert!(has_collision("a.b", "a_b"));
        assert!(!has_collision("a.b", "a-b"));
        assert!(is_internal_topic("__consumer_offsets"));
        assert!(!is_internal_topic("__consumer_offsets2"));
    }

    #[test]
    fn uuid_text() {
        let u = Uuid::from_bits(0x0123_4567_89ab_cdef, -1);
        let s = u.to_string();
        assert_eq!(s.len(), 22);
        assert_eq!(Uuid::parse(&s).unwrap(), u);
        assert_eq!(u.most_significant_bits(), 0x0123_4567_89ab_cdef);
        assert_eq!(u.least_significant_bits(), -1);
        assert_eq!(Uuid::ZERO.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(
            Uuid::METADATA_TOPIC_ID.to_string(),
            "AAAAAAAAAAAAAAAAAAAAAQ"
        );
        for bad in [
            "",
            "AAAA",
            "AAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAA+A",
        ] {
            assert!(Uuid::parse(bad).is_err(), "{bad}");
        }
        let r = Uuid::random();
        assert_ne!(r, Uuid::ZERO);
        assert_ne!(r, Uuid::random());
        assert_eq!(r.as_bytes()[6] >> 4, 4);
        assert!(!r.to_string().starts_with('-'));
    }

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ClusterId::decode(&bytes);
            let _ = Controller::decode(&bytes);
            let _ = ControllerEpoch::decode(&bytes);
            let _ = BrokerInfo::decode(0, &bytes);
            let _ = TopicAssignment::decode(&bytes);
            let _ = PartitionState::decode(&bytes);
            let _ = EntityConfig::decode(&bytes);
            let _ = ConfigChangeNotification::decode(&bytes);
            let _ = PartitionReassignment::decode(&bytes);
            let _ = PreferredReplicaElection::decode(&bytes);
            let _ = IsrChangeNotification::decode(&bytes);
            let _ = LogDirEventNotification::decode(&bytes);
            let _ = ProducerIdBlock::decode(&bytes);
            let _ = FeatureZNode::decode(&bytes);
            let _ = desanitize(&String::from_utf8_lossy(&bytes));
            let _ = Uuid::parse(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn decoders_never_panic_on_json_like_input(s in r#"[{}\[\]":,0-9a-z_ -]{0,120}"#) {
            let b = s.as_bytes();
            let _ = BrokerInfo::decode(0, b);
            let _ = TopicAssignment::decode(b);
            let _ = PartitionState::decode(b);
            let _ = FeatureZNode::decode(b);
        }

        #[test]
        fn broker_round_trip(id in 0i32..10_000, port in any::<u16>(), host in "[a-z0-9.]{1,20}",
                             rack in proptest::option::of("[a-z0-9]{1,8}"), jmx in -1i32..65536,
                             ts in any::<i64>(), version in 3i32..=5) {
            let b = BrokerInfo {
                id,
                endpoints: vec![EndPoint { listener_name: "PLAINTEXT".into(), host: Some(host), port,
                                           security_protocol: SecurityProtocol::Plaintext }],
                rack, jmx_port: jmx, timestamp_ms: ts, features: BTreeMap::new(),
            };
            prop_assert_eq!(BrokerInfo::decode(id, &b.encode(version)).unwrap(), (b, version));
        }

        #[test]
        fn topic_round_trip(parts in proptest::collection::btree_map(0i32..1000, proptest::collection::vec(any::<i32>(), 0..5), 0..10),
                            adding in proptest::collection::btree_map(0i32..1000, proptest::collection::vec(any::<i32>(), 0..5), 0..3),
                            id in proptest::option::of(any::<[u8; 16]>())) {
            let t = TopicAssignment { topic_id: id.map(Uuid::from_bytes), partitions: parts, adding_replicas: adding, removing_replicas: BTreeMap::new() };
            prop_assert_eq!(TopicAssignment::decode(&t.encode(3)).unwrap(), (t.clone(), 3));
            let v2 = TopicAssignment { topic_id: None, ..t };
            prop_assert_eq!(TopicAssignment::decode(&v2.encode(2)).unwrap(), (v2, 2));
        }

        #[test]
        fn state_and_config_round_trip(leader in any::<i32>(), le in any::<i32>(), isr in proptest::collection::vec(any::<i32>(), 0..6),
                                       ce in any::<i32>(), cfg in proptest::collection::btree_map("\\PC{0,10}", "\\PC{0,10}", 0..5)) {
            let s = PartitionState { leader, leader_epoch: le, isr, controller_epoch: ce, leader_recovery_state: 0 };
            prop_assert_eq!(PartitionState::decode(&s.encode()).unwrap(), s);
            let c = EntityConfig { config: cfg };
            prop_assert_eq!(EntityConfig::decode(&c.encode()).unwrap(), c);
        }

        #[test]
        fn misc_round_trips(b in any::<i32>(), start in any::<i64>(), end in any::<i64>(), name in "\\PC{0,30}",
                            bytes in any::<[u8; 16]>(), epoch in any::<i32>()) {
            let p = ProducerIdBlock { broker: b, block_start: start, block_end: end };
            prop_assert_eq!(ProducerIdBlock::decode(&p.encode()).unwrap(), p);
            prop_assert_eq!(desanitize(&sanitize(&name)), Some(name.clone()));
            let u = Uuid::from_bytes(bytes);
            prop_assert_eq!(Uuid::parse(&u.to_string()).unwrap(), u);
            prop_assert_eq!(ControllerEpoch::decode(&ControllerEpoch::encode(epoch)).unwrap(), epoch);
            let c = Controller { broker_id: b, timestamp_ms: start, kraft_controller_epoch: None };
            prop_assert_eq!(Controller::decode(&c.encode()).unwrap(), c);
            let n = ConfigChangeNotification { entity_path: name };
            prop_assert_eq!(ConfigChangeNotification::decode(&n.encode()).unwrap(), n);
        }
    }
}
