//! Dynamic broker configs with Kafka 2.4's semantics (DynamicBrokerConfig): per-broker values
//! in `/config/brokers/<id>` and cluster defaults in `/config/brokers/<default>`, written by
//! AlterConfigs / IncrementalAlterConfigs (or `kafka-configs --zookeeper`) and announced on
//! `/config/changes`. The effective value of a key is per-broker dynamic > cluster-default
//! dynamic > server.properties > Kafka's default; the effective [`BrokerConfig`] is rebuilt
//! from those layers (so every cross-key rule of the loader applies), and the log defaults
//! derived from it replace the broker's topic-config defaults live.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::config::{key_def, parse_value, BrokerConfig, KEYS};
use crate::log::LogConfig;
use crate::log_manager::broker_log_config;
use crate::server::Broker;
use crate::zkclient::{KafkaZkClient, ZkError};
use crate::zkdata::{ConfigChangeNotification, ConfigEntityType, DEFAULT_ENTITY};

/// DescribeConfigs config sources (the wire ids of `ConfigSource`: TOPIC_CONFIG is 1,
/// DYNAMIC_BROKER_CONFIG 2, DYNAMIC_DEFAULT_BROKER_CONFIG 3).
pub const SOURCE_TOPIC: i8 = 1;
pub const SOURCE_DYNAMIC_BROKER: i8 = 2;
pub const SOURCE_DYNAMIC_DEFAULT_BROKER: i8 = 3;
pub const SOURCE_STATIC_BROKER: i8 = 4;
pub const SOURCE_DEFAULT: i8 = 5;

/// The SSL configs that may only be updated with a `listener.name.<l>.` prefix
/// (`SslConfigs.RECONFIGURABLE_CONFIGS`).
const SECURITY_CONFIGS: &[&str] = &[
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
];

/// Listener and SSL/SASL configs (`DynamicListenerConfig.ReconfigurableConfigs`): per-broker
/// only, except `max.connections`.
const LISTENER_CONFIGS: &[&str] = &[
    "advertised.listeners",
    "listeners",
    "listener.security.protocol.map",
    "principal.builder.class",
    "ssl.protocol",
    "ssl.provider",
    "ssl.cipher.suites",
    "ssl.enabled.protocols",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.endpoint.identification.algorithm",
    "ssl.secure.random.implementation",
    "ssl.client.auth",
    "sasl.mechanism.inter.broker.protocol",
    "sasl.jaas.config",
    "sasl.enabled.mechanisms",
    "sasl.kerberos.service.name",
    "sasl.kerberos.kinit.cmd",
    "sasl.kerberos.ticket.renew.window.factor",
    "sasl.kerberos.ticket.renew.jitter",
    "sasl.kerberos.min.time.before.relogin",
    "sasl.kerberos.principal.to.local.rules",
    "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter",
    "sasl.login.refresh.min.period.seconds",
    "sasl.login.refresh.buffer.seconds",
    "max.connections",
];

/// Every other dynamically updatable key (`DynamicBrokerConfig.AllDynamicConfigs` less the
/// listener ones, plus `DynamicConfig.Broker`'s own): the log defaults
/// (`LogConfig.TopicConfigSynonyms` values except `log.message.format.version`), the cleaner,
/// the thread pools, metric reporters, connection limits and replication throttles.
const OTHER_DYNAMIC_CONFIGS: &[&str] = &[
    "log.segment.bytes",
    "log.roll.ms",
    "log.roll.jitter.ms",
    "log.index.size.max.bytes",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "log.retention.bytes",
    "log.retention.ms",
    "message.max.bytes",
    "log.index.interval.bytes",
    "log.cleaner.delete.retention.ms",
    "log.cleaner.min.compaction.lag.ms",
    "log.cleaner.max.compaction.lag.ms",
    "log.segment.delete.delay.ms",
    "log.cleaner.min.cleanable.ratio",
    "log.cleanup.policy",
    "unclean.leader.election.enable",
    "min.insync.replicas",
    "compression.type",
    "log.preallocate",
    "log.message.timestamp.type",
    "log.message.timestamp.difference.max.ms",
    "log.message.downconversion.enable",
    "log.cleaner.threads",
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.io.buffer.load.factor",
    "log.cleaner.io.buffer.size",
    "log.cleaner.io.max.bytes.per.second",
    "log.cleaner.backoff.ms",
    "num.io.threads",
    "num.network.threads",
    "num.replica.fetchers",
    "num.recovery.threads.per.data.dir",
    "background.threads",
    "metric.reporters",
    "max.connections.per.ip",
    "max.connections.per.ip.overrides",
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
];

/// Kafka's type of a dynamic key that [`KEYS`] does not define (this broker has no log cleaner,
/// connection quotas or metric reporters, but stores and describes their dynamic values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExtraType {
    Int,
    Long,
    Double,
    Str,
    List,
}

/// Dynamic keys outside [`KEYS`] with Kafka 2.4's type, default and lower bound.
const EXTRA_KEYS: &[(&str, ExtraType, &str, Option<f64>)] = &[
    (
        "log.cleaner.delete.retention.ms",
        ExtraType::Long,
        "86400000",
        None,
    ),
    (
        "log.cleaner.min.compaction.lag.ms",
        ExtraType::Long,
        "0",
        None,
    ),
    (
        "log.cleaner.max.compaction.lag.ms",
        ExtraType::Long,
        "9223372036854775807",
        None,
    ),
    (
        "log.segment.delete.delay.ms",
        ExtraType::Long,
        "60000",
        Some(0.0),
    ),
    (
        "log.cleaner.min.cleanable.ratio",
        ExtraType::Double,
        "0.5",
        None,
    ),
    ("log.cleaner.threads", ExtraType::Int, "1", Some(0.0)),
    (
        "log.cleaner.dedupe.buffer.size",
        ExtraType::Long,
        "134217728",
        None,
    ),
    (
        "log.cleaner.io.buffer.load.factor",
        ExtraType::Double,
        "0.9",
        None,
    ),
    (
        "log.cleaner.io.buffer.size",
        ExtraType::Int,
        "524288",
        Some(0.0),
    ),
    (
        "log.cleaner.io.max.bytes.per.second",
        ExtraType::Double,
        "1.7976931348623157E308",
        None,
    ),
    (
        "log.cleaner.backoff.ms",
        ExtraType::Long,
        "15000",
        Some(0.0),
    ),
    ("metric.reporters", ExtraType::List, "", None),
    (
        "max.connections.per.ip",
        ExtraType::Int,
        "2147483647",
        Some(0.0),
    ),
    ("max.connections.per.ip.overrides", ExtraType::Str, "", None),
    ("max.connections", ExtraType::Int, "2147483647", Some(0.0)),
];

fn extra_def(name: &str) -> Option<(ExtraType, &'static str, Option<f64>)> {
    EXTRA_KEYS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, t, d, min)| (*t, *d, *min))
}

/// Whether the broker knows `name`'s type (Kafka hides values of keys of unknown type).
pub fn is_known(name: &str) -> bool {
    key_def(name).is_some() || extra_def(name).is_some() || LISTENER_CONFIGS.contains(&name)
}

/// Kafka's default of `name` in properties form, if it has one.
pub fn default_value(name: &str) -> Option<&'static str> {
    match key_def(name) {
        Some(d) => d.default,
        None => extra_def(name).map(|(_, d, _)| d),
    }
}

/// Type check of a key outside [`KEYS`], with ConfigDef's messages.
fn check_extra(name: &str, raw: &str) -> Result<(), String> {
    let Some((ty, _, min)) = extra_def(name) else {
        return Ok(());
    };
    let v = raw.trim();
    let bad = |m: &str| format!("Invalid value {raw} for configuration {name}: {m}");
    let n: f64 = match ty {
        ExtraType::Int => v
            .parse::<i32>()
            .map(f64::from)
            .map_err(|_| bad("Not a number of type INT"))?,
        ExtraType::Long => v
            .parse::<i64>()
            .map(|x| x as f64)
            .map_err(|_| bad("Not a number of type LONG"))?,
        ExtraType::Double => v
            .parse::<f64>()
            .map_err(|_| bad("Not a number of type DOUBLE"))?,
        ExtraType::Str | ExtraType::List => return Ok(()),
    };
    match min {
        Some(m) if n < m => Err(bad(&format!("Value must be at least {m}"))),
        _ => Ok(()),
    }
}

/// The dynamic keys outside [`KEYS`] whose type and default the broker knows.
pub fn extra_keys() -> impl Iterator<Item = &'static str> {
    EXTRA_KEYS.iter().map(|(n, ..)| *n)
}

/// Whether `name` is a list-typed key (APPEND/SUBTRACT apply to it).
pub fn is_list(name: &str) -> bool {
    match key_def(name) {
        Some(d) => matches!(d.kind, crate::config::Kind::List),
        None => matches!(extra_def(name), Some((ExtraType::List, ..))),
    }
}

/// The dynamic keys this broker applies while running: the ones [`broker_log_config`] reads,
/// which become the defaults of every topic without an override, and the produce path's
/// `min.insync.replicas`.
pub const APPLIED_LIVE: &[&str] = &[
    "log.segment.bytes",
    "log.roll.ms",
    "log.retention.bytes",
    "log.retention.ms",
    "log.index.size.max.bytes",
    "log.index.interval.bytes",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "message.max.bytes",
    "log.message.timestamp.type",
    "log.cleanup.policy",
    "min.insync.replicas",
];

/// Whether `name` can be updated dynamically at all.
pub fn is_dynamic(name: &str) -> bool {
    LISTENER_CONFIGS.contains(&name) || OTHER_DYNAMIC_CONFIGS.contains(&name)
}

/// Base name of a `listener.name.<listener>.<config>` key.
fn listener_base(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("listener.name.")?;
    let (_, base) = rest.split_once('.')?;
    Some(base)
}

/// Keys that must be set per broker, not as a cluster default.
fn is_per_broker(name: &str) -> bool {
    match listener_base(name) {
        Some(base) => base != "max.connections",
        None => LISTENER_CONFIGS.contains(&name) && name != "max.connections",
    }
}

/// A password config: its value is never shown, and Kafka stores it encrypted.
pub fn is_password(name: &str) -> bool {
    name.ends_with(".password") || name.ends_with("sasl.jaas.config")
}

/// Kafka's `brokerConfigSynonyms`: the keys that set the same thing, highest precedence first.
/// `match_listener` also maps a `listener.name.<l>.<config>` key to its base config.
pub fn broker_config_synonyms(name: &str, match_listener: bool) -> Vec<String> {
    let group: &[&str] = match name {
        "log.roll.ms" | "log.roll.hours" => &["log.roll.ms", "log.roll.hours"],
        "log.roll.jitter.ms" | "log.roll.jitter.hours" => {
            &["log.roll.jitter.ms", "log.roll.jitter.hours"]
        }
        // The scheduler interval is the flush interval's default.
        "log.flush.interval.ms" => &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"],
        "log.retention.ms" | "log.retention.minutes" | "log.retention.hours" => &[
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours",
        ],
        _ => {
            if let (true, Some(base)) = (match_listener, listener_base(name)) {
                let base = if base.ends_with("sasl.jaas.config") {
                    "sasl.jaas.config"
                } else {
                    base
                };
                return vec![name.to_owned(), base.to_owned()];
            }
            return vec![name.to_owned()];
        }
    };
    group.iter().map(|s| (*s).to_owned()).collect()
}

/// Scala's `Set(a, b)` rendering Kafka's messages use (sorted here, for stable text).
fn scala_set<'a>(names: impl IntoIterator<Item = &'a String>) -> String {
    let set: BTreeSet<&str> = names.into_iter().map(String::as_str).collect();
    format!("Set({})", set.into_iter().collect::<Vec<_>>().join(", "))
}

/// Kafka's `DynamicBrokerConfig.validateConfigs` (and the type checks of
/// `DynamicConfig.Broker.validate`, which lets unknown custom keys through). The error is
/// the ConfigException's message.
pub fn validate_configs(props: &BTreeMap<String, String>, per_broker: bool) -> Result<(), String> {
    let check = |bad: Vec<&String>, what: &str| -> Result<(), String> {
        if bad.is_empty() {
            Ok(())
        } else {
            Err(format!("{what}: {}", scala_set(bad)))
        }
    };
    check(
        props
            .keys()
            .filter(|k| key_def(k).is_some() && !is_dynamic(k))
            .collect(),
        "Cannot update these configs dynamically",
    )?;
    check(
        props
            .keys()
            .filter(|k| SECURITY_CONFIGS.contains(&k.as_str()))
            .collect(),
        "These security configs can be dynamically updated only per-listener using the listener prefix",
    )?;
    for (k, v) in props {
        let base = listener_base(k).unwrap_or(k);
        if let Some(def) = key_def(base) {
            parse_value(def, v).map_err(|e| e.to_string())?;
        } else if extra_def(base).is_some() {
            check_extra(base, v)?;
        } else if matches!(
            base,
            "leader.replication.throttled.rate"
                | "follower.replication.throttled.rate"
                | "replica.alter.log.dirs.io.max.bytes.per.second"
        ) {
            let n: i64 = v.trim().parse().map_err(|_| {
                format!("Invalid value {v} for configuration {base}: Not a number of type LONG")
            })?;
            if n < 0 {
                return Err(format!(
                    "Invalid value {v} for configuration {base}: Value must be at least 0"
                ));
            }
        }
    }
    if !per_broker {
        check(
            props.keys().filter(|k| is_per_broker(k)).collect(),
            "Cannot update these configs at default cluster level, broker id must be specified",
        )?;
    }
    Ok(())
}

/// Kafka's `toPersistentProps` without a password encoder: password configs cannot be stored.
pub fn check_persistable(props: &BTreeMap<String, String>, per_broker: bool) -> Result<(), String> {
    if props.keys().any(|k| is_password(k)) {
        return Err(if per_broker {
            "Password encoder secret not configured".to_owned()
        } else {
            "Password config can be defined only at broker level".to_owned()
        });
    }
    Ok(())
}

/// Kafka's `fromPersistentProps`: what was read from ZooKeeper minus what cannot apply
/// (non-dynamic keys, unprefixed security configs, per-broker keys at the default level,
/// values of the wrong type), each dropped with an error in the log.
pub fn from_persistent(
    mut props: BTreeMap<String, String>,
    per_broker: bool,
) -> BTreeMap<String, String> {
    let level = if per_broker {
        "broker"
    } else {
        "default cluster"
    };
    props.retain(|k, v| {
        let mut one = BTreeMap::new();
        one.insert(k.clone(), v.clone());
        match validate_configs(&one, per_broker) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!("Dynamic {level} config {k}={v} is ignored: {e}");
                false
            }
        }
    });
    props
}

/// Kafka's `overrideProps`: puts `over` into `base`, first removing the synonyms of each key so
/// that a dynamic `log.retention.ms` beats a static `log.retention.hours`.
pub fn override_props(base: &mut BTreeMap<String, String>, over: &BTreeMap<String, String>) {
    for (k, v) in over {
        for s in broker_config_synonyms(k, false) {
            base.remove(&s);
        }
        base.insert(k.clone(), v.clone());
    }
}

/// One synonym of a described config: where a value for it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synonym {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
}

#[derive(Clone)]
struct State {
    per_broker: BTreeMap<String, String>,
    default: BTreeMap<String, String>,
    current: Arc<BrokerConfig>,
    log_config: LogConfig,
}

/// The broker's dynamic config layers and the effective config they make.
pub struct DynamicBrokerConfig {
    /// server.properties (and --override) as given.
    static_props: BTreeMap<String, String>,
    state: RwLock<State>,
}

impl DynamicBrokerConfig {
    /// Starts with no dynamic layer: the effective config is `config`.
    pub fn new(config: &BrokerConfig) -> DynamicBrokerConfig {
        let static_props = KEYS
            .iter()
            .filter_map(|d| {
                config
                    .values
                    .original(d.name)
                    .map(|v| (d.name.to_owned(), v.to_owned()))
            })
            .collect();
        DynamicBrokerConfig {
            static_props,
            state: RwLock::new(State {
                per_broker: BTreeMap::new(),
                default: BTreeMap::new(),
                log_config: broker_log_config(config),
                current: Arc::new(config.clone()),
            }),
        }
    }

    fn state(&self) -> State {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The effective config (static with the dynamic layers on top).
    pub fn current(&self) -> Arc<BrokerConfig> {
        self.state().current
    }

    /// The log defaults of a topic without overrides, from the effective config.
    pub fn log_config(&self) -> LogConfig {
        self.state().log_config
    }

    /// The per-broker dynamic layer (`/config/brokers/<id>`) as applied.
    pub fn per_broker(&self) -> BTreeMap<String, String> {
        self.state().per_broker
    }

    /// The cluster-default dynamic layer (`/config/brokers/<default>`) as applied.
    pub fn defaults(&self) -> BTreeMap<String, String> {
        self.state().default
    }

    /// The effective value of a key outside [`KEYS`]: per-broker, default, Kafka's default.
    pub fn value_of(&self, name: &str) -> Option<String> {
        let s = self.state();
        s.per_broker
            .get(name)
            .or_else(|| s.default.get(name))
            .cloned()
            .or_else(|| default_value(name).map(str::to_owned))
    }

    /// The server.properties value of `name`, if it was set there.
    pub fn static_value(&self, name: &str) -> Option<&str> {
        self.static_props.get(name).map(String::as_str)
    }

    fn merged(
        &self,
        default: &BTreeMap<String, String>,
        per_broker: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut props = self.static_props.clone();
        override_props(&mut props, default);
        override_props(&mut props, per_broker);
        props
    }

    fn build(
        &self,
        default: &BTreeMap<String, String>,
        per_broker: &BTreeMap<String, String>,
    ) -> Result<BrokerConfig, String> {
        // Only known keys reach the loader: custom ones are stored, not interpreted.
        let pairs: Vec<(String, String)> = self
            .merged(default, per_broker)
            .into_iter()
            .filter(|(k, _)| key_def(k).is_some())
            .collect();
        BrokerConfig::from_pairs(&pairs).map_err(|e| e.to_string())
    }

    /// Kafka's `DynamicBrokerConfig.validate`: `props` as the new per-broker (or default)
    /// layer must pass [`validate_configs`] and make a valid broker config with the other
    /// layers.
    pub fn validate(
        &self,
        props: &BTreeMap<String, String>,
        per_broker: bool,
    ) -> Result<(), String> {
        validate_configs(props, per_broker)?;
        let s = self.state();
        let new = if per_broker {
            self.build(&s.default, props)?
        } else {
            self.build(props, &s.per_broker)?
        };
        check_thread_counts(&s.current, &new).map_err(|e| {
            tracing::info!("{e}");
            // Kafka wraps a reconfigurable's refusal in this message.
            "Invalid dynamic configuration".to_owned()
        })
    }

    /// Replaces one or both layers (as read from ZooKeeper, before [`from_persistent`]).
    /// Returns whether anything changed. A combination the loader rejects keeps the previous
    /// effective config (and is logged), as Kafka does.
    pub fn update(
        &self,
        default: Option<BTreeMap<String, String>>,
        per_broker: Option<BTreeMap<String, String>>,
    ) -> bool {
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        let default = default
            .map(|d| from_persistent(d, false))
            .unwrap_or_else(|| st.default.clone());
        let per_broker = per_broker
            .map(|d| from_persistent(d, true))
            .unwrap_or_else(|| st.per_broker.clone());
        if default == st.default && per_broker == st.per_broker {
            return false;
        }
        match self.build(&default, &per_broker) {
            Ok(c) => {
                st.log_config = broker_log_config(&c);
                st.current = Arc::new(c);
            }
            Err(e) => tracing::error!("Dynamic broker configs could not be applied: {e}"),
        }
        st.default = default;
        st.per_broker = per_broker;
        true
    }

    /// Reads `/config/brokers/<id>` and `/config/brokers/<default>` and applies them.
    pub async fn reload(&self, zk: &KafkaZkClient, broker_id: i32) -> Result<bool, ZkError> {
        let default = zk
            .get_entity_config(ConfigEntityType::Brokers, DEFAULT_ENTITY)
            .await?
            .config;
        let per_broker = zk
            .get_entity_config(ConfigEntityType::Brokers, &broker_id.to_string())
            .await?
            .config;
        Ok(self.update(Some(default), Some(per_broker)))
    }

    /// Kafka's `configSynonyms` over every layer: `names` (from [`broker_config_synonyms`]) in
    /// each source, highest precedence first, starting at `name` itself (a synonym listed
    /// before it, e.g. a listener override of a base config, is dropped).
    pub fn synonyms(&self, name: &str, names: &[String], sensitive: bool) -> Vec<Synonym> {
        let s = self.state();
        let mut out = Vec::new();
        let layers: [(&BTreeMap<String, String>, i8); 3] = [
            (&s.per_broker, SOURCE_DYNAMIC_BROKER),
            (&s.default, SOURCE_DYNAMIC_DEFAULT_BROKER),
            (&self.static_props, SOURCE_STATIC_BROKER),
        ];
        for (map, source) in layers {
            for n in names {
                if let Some(v) = map.get(n) {
                    out.push(Synonym {
                        name: n.clone(),
                        value: (!sensitive).then(|| v.clone()),
                        source,
                    });
                }
            }
        }
        for n in names {
            if let Some(d) = default_value(n) {
                out.push(Synonym {
                    name: n.clone(),
                    value: (!sensitive).then(|| d.to_owned()),
                    source: SOURCE_DEFAULT,
                });
            }
        }
        let start = out.iter().position(|x| x.name == name).unwrap_or(out.len());
        out.split_off(start)
    }
}

/// Thread-pool sizes (`DynamicThreadPool`): a change may at most halve or double a pool.
const THREAD_POOLS: &[&str] = &[
    "num.io.threads",
    "num.network.threads",
    "num.replica.fetchers",
    "num.recovery.threads.per.data.dir",
    "background.threads",
];

/// Kafka's `DynamicThreadPool.validateReconfiguration`.
fn check_thread_counts(old: &BrokerConfig, new: &BrokerConfig) -> Result<(), String> {
    for k in THREAD_POOLS {
        let (Ok(o), Ok(n)) = (old.values.int(k), new.values.int(k)) else {
            continue;
        };
        if n == o {
            continue;
        }
        let what = format!("Dynamic thread count update validation failed for {k}={n}");
        if n <= 0 {
            return Err(format!("{what}, value should be at least 1"));
        }
        if n < o / 2 {
            return Err(format!(
                "{what}, value should be at least half the current value {o}"
            ));
        }
        if n > o.saturating_mul(2) {
            return Err(format!(
                "{what}, value should not be greater than double the current value {o}"
            ));
        }
    }
    Ok(())
}

/// Pause before watching again after the ZooKeeper session ended or a read failed.
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// Every broker's config-change listener for broker entities: on each new `/config/changes`
/// notification it re-reads its own and the default entity and, when they changed, applies
/// the new log defaults to every partition without overrides.
pub async fn run(broker: Arc<Broker>) {
    let mut shutdown = broker.shutdown_signal();
    loop {
        let zk = broker.zk();
        let mut rx = zk.watch_children(ConfigChangeNotification::PATH);
        loop {
            let changed = tokio::select! {
                c = rx.recv() => c,
                _ = shutdown.changed() => return,
            };
            if changed.is_none() {
                break; // session gone: watch again on the new client
            }
            match broker.dynamic.reload(&zk, broker.broker_id).await {
                Ok(true) => {
                    tracing::info!("Dynamic broker configs changed; applying log defaults");
                    broker.reconfigure_logs();
                }
                Ok(false) => {}
                Err(e) => tracing::warn!("cannot read dynamic broker configs: {e}"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY_DELAY) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn base() -> BrokerConfig {
        BrokerConfig::parse(
            "zookeeper.connect=127.0.0.1:2181\nbroker.id=0\nlog.retention.hours=168\nlog.segment.bytes=1073741824\n",
            &[],
        )
        .expect("config")
    }

    #[test]
    fn read_only_keys_are_rejected_with_kafkas_message() {
        assert_eq!(
            validate_configs(&props(&[("broker.id", "1")]), true),
            Err("Cannot update these configs dynamically: Set(broker.id)".into())
        );
        assert_eq!(
            validate_configs(
                &props(&[("log.dirs", "/x"), ("log.retention.hours", "1")]),
                false
            ),
            Err(
                "Cannot update these configs dynamically: Set(log.dirs, log.retention.hours)"
                    .into()
            )
        );
        assert_eq!(
            validate_configs(&props(&[("ssl.keystore.location", "/k")]), true),
            Err("These security configs can be dynamically updated only per-listener using the listener prefix: Set(ssl.keystore.location)".into())
        );
        assert_eq!(
            validate_configs(&props(&[("listener.name.plaintext.ssl.protocol", "TLS")]), false),
            Err("Cannot update these configs at default cluster level, broker id must be specified: Set(listener.name.plaintext.ssl.protocol)".into())
        );
        assert!(validate_configs(
            &props(&[("listener.name.plaintext.ssl.protocol", "TLS")]),
            true
        )
        .is_ok());
        assert_eq!(
            validate_configs(&props(&[("log.retention.ms", "x")]), true),
            Err(
                "Invalid value x for configuration log.retention.ms: Not a number of type LONG"
                    .into()
            )
        );
        assert_eq!(
            validate_configs(&props(&[("log.cleaner.threads", "-1")]), true),
            Err(
                "Invalid value -1 for configuration log.cleaner.threads: Value must be at least 0"
                    .into()
            )
        );
        assert!(
            validate_configs(&props(&[("log.cleaner.min.cleanable.ratio", "0.7")]), true).is_ok()
        );
        // Custom keys are allowed, as DynamicConfig.Broker allows them.
        assert!(validate_configs(
            &props(&[("my.custom", "1"), ("log.retention.ms", "1000")]),
            false
        )
        .is_ok());
        assert_eq!(
            check_persistable(&props(&[("listener.name.a.ssl.key.password", "p")]), false),
            Err("Password config can be defined only at broker level".into())
        );
    }

    #[test]
    fn precedence_per_broker_over_default_over_static() {
        let d = DynamicBrokerConfig::new(&base());
        assert_eq!(d.current().log_retention_ms, 168 * 3_600_000);
        assert!(d.update(Some(props(&[("log.retention.ms", "5000")])), None));
        assert_eq!(d.current().log_retention_ms, 5000);
        assert_eq!(d.log_config().retention_ms, 5000);
        assert!(d.update(None, Some(props(&[("log.retention.ms", "7000")]))));
        assert_eq!(d.current().log_retention_ms, 7000);
        // Same layers again: nothing changes.
        assert!(!d.update(None, Some(props(&[("log.retention.ms", "7000")]))));
        assert!(d.update(None, Some(BTreeMap::new())));
        assert_eq!(d.current().log_retention_ms, 5000);
        assert!(d.update(Some(BTreeMap::new()), None));
        assert_eq!(d.current().log_retention_ms, 168 * 3_600_000);
        // Non-dynamic keys in ZooKeeper are ignored.
        d.update(
            None,
            Some(props(&[
                ("broker.id", "9"),
                ("log.segment.bytes", "2000000"),
            ])),
        );
        assert_eq!(d.current().broker_id, 0);
        assert_eq!(d.current().log_segment_bytes, 2_000_000);
        assert_eq!(d.per_broker(), props(&[("log.segment.bytes", "2000000")]));
    }

    #[test]
    fn synonyms_in_source_order() {
        let d = DynamicBrokerConfig::new(&base());
        d.update(
            Some(props(&[("log.retention.ms", "5000")])),
            Some(props(&[("log.retention.ms", "7000")])),
        );
        let names = broker_config_synonyms("log.retention.ms", true);
        let s = d.synonyms("log.retention.ms", &names, false);
        let got: Vec<(&str, Option<&str>, i8)> = s
            .iter()
            .map(|x| (x.name.as_str(), x.value.as_deref(), x.source))
            .collect();
        assert_eq!(
            got,
            vec![
                ("log.retention.ms", Some("7000"), SOURCE_DYNAMIC_BROKER),
                (
                    "log.retention.ms",
                    Some("5000"),
                    SOURCE_DYNAMIC_DEFAULT_BROKER
                ),
                ("log.retention.hours", Some("168"), SOURCE_STATIC_BROKER),
                ("log.retention.hours", Some("168"), SOURCE_DEFAULT),
            ]
        );
        // Described by its hours name, only the hours entries remain.
        let s = d.synonyms(
            "log.retention.hours",
            &broker_config_synonyms("log.retention.hours", true),
            false,
        );
        assert_eq!(s[0].source, SOURCE_STATIC_BROKER);
        assert!(s.iter().all(|x| x.name == "log.retention.hours"));
    }

    #[test]
    fn invalid_combination_keeps_previous_config() {
        let d = DynamicBrokerConfig::new(&base());
        // log.cleanup.policy with an unknown item is rejected by the type check and dropped.
        d.update(Some(props(&[("log.cleanup.policy", "bogus")])), None);
        assert!(d.defaults().is_empty());
        assert!(d
            .validate(&props(&[("log.segment.bytes", "10")]), true)
            .is_err());
        assert!(d
            .validate(&props(&[("log.segment.bytes", "2000000")]), true)
            .is_ok());
        // num.io.threads defaults to 8: 4..=16 are allowed.
        assert!(d
            .validate(&props(&[("num.io.threads", "16")]), true)
            .is_ok());
        assert_eq!(
            d.validate(&props(&[("num.io.threads", "17")]), true),
            Err("Invalid dynamic configuration".into())
        );
        let mut three = base();
        three.values = crate::config::Values::resolve(&[("num.io.threads".into(), "3".into())])
            .expect("values")
            .0;
        assert_eq!(
            check_thread_counts(&base(), &three),
            Err("Dynamic thread count update validation failed for num.io.threads=3, value should be at least half the current value 8".into())
        );
    }
}
