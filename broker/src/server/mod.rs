//! The broker process in ZooKeeper mode: startup (ZooKeeper session, cluster id, broker id,
//! meta.properties, log loading, listeners, registration), the shared [`Broker`] state the
//! request handlers use, the background loops (session re-registration, checkpoints,
//! retention, flush) and the clean shutdown.

pub mod groups;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kafka_protocol::ResponseError;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::config::{BrokerConfig, EndPoint};
use crate::group::GroupConfig;
use crate::log::checkpoint::CheckpointError;
use crate::log::meta_properties::{check_log_dirs_agree, MetaProperties};
use crate::log::topic_partition::TopicPartition;
use crate::log::LogConfig;
use crate::log_manager::{apply_topic_overrides, LogManager, LogManagerError};
use crate::metadata::{MetadataCache, MetadataSnapshot};
use crate::replica::{LeaderState, ReplicaManager};
use crate::zkclient::{KafkaZkClient, SessionState, ZkError};
use crate::zkdata::{BrokerInfo, ProducerIdBlock};

/// The internal topic holding group metadata and committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// A failure that stops the broker from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Zk(#[from] ZkError),
    #[error(transparent)]
    Logs(#[from] LogManagerError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// meta.properties disagrees with the configuration or with ZooKeeper.
    #[error("{0}")]
    Inconsistent(String),
    /// A listener could not be bound.
    #[error("cannot bind listener {endpoint}: {source}")]
    Bind {
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
}

/// State shared by every part of a running broker.
pub struct Broker {
    pub config: BrokerConfig,
    pub broker_id: i32,
    pub cluster_id: String,
    zk: RwLock<Arc<KafkaZkClient>>,
    pub metadata: MetadataCache,
    pub replicas: ReplicaManager,
    pub groups: groups::Groups,
    /// Dynamic broker configs and the effective config they make (the topic-config
    /// defaults come from there; `config` stays server.properties as given).
    pub dynamic: crate::dynamic_config::DynamicBrokerConfig,
    topic_configs: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    producer_ids: tokio::sync::Mutex<Option<(i64, i64)>>,
    controller_poke: Notify,
    controller_id: Mutex<Option<i32>>,
    shutdown: watch::Sender<bool>,
    /// The broker epoch of the current registration.
    broker_epoch: Mutex<i64>,
    /// Highest controller epoch seen in a controller request.
    controller_epoch_seen: std::sync::atomic::AtomicI32,
}

impl Broker {
    /// The current ZooKeeper client (replaced after a session expiry).
    pub fn zk(&self) -> Arc<KafkaZkClient> {
        self.zk.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Wakes the controller (if this broker is it) to reconcile now, e.g. after a handler
    /// wrote topic znodes.
    pub fn controller_poke(&self) -> &Notify {
        &self.controller_poke
    }

    pub fn set_controller_id(&self, id: Option<i32>) {
        *self.controller_id.lock().unwrap_or_else(|p| p.into_inner()) = id;
    }

    pub fn controller_id(&self) -> Option<i32> {
        *self.controller_id.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn broker_epoch(&self) -> i64 {
        *self.broker_epoch.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The log config of a topic without overrides (static and dynamic broker configs).
    pub fn default_log_config(&self) -> LogConfig {
        self.dynamic.log_config()
    }

    /// A topic's log config: broker defaults with the topic's overrides.
    pub fn topic_log_config(&self, topic: &str) -> LogConfig {
        let defaults = self.default_log_config();
        let configs = self.topic_configs.lock().unwrap_or_else(|p| p.into_inner());
        match configs.get(topic) {
            Some(o) => apply_topic_overrides(&defaults, o).unwrap_or_else(|e| {
                tracing::warn!("invalid config of topic {topic}: {e}; using broker defaults");
                defaults
            }),
            None => defaults,
        }
    }

    /// Gives every local log its topic's config again, after the broker defaults changed
    /// (dynamic broker configs): topics without an override pick up the new defaults.
    pub fn reconfigure_logs(&self) {
        for (tp, log) in self.replicas.log_manager().all() {
            let config = self.topic_log_config(&tp.topic);
            crate::log_manager::lock(&log).set_config(config);
        }
    }

    /// The topic-level overrides stored in ZooKeeper for `topic`, as last seen.
    pub fn topic_overrides(&self, topic: &str) -> BTreeMap<String, String> {
        self.topic_configs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
            .cloned()
            .unwrap_or_default()
    }

    /// StopReplica(delete) for every local partition of `topic`.
    pub fn delete_topic_replicas(&self, topic: &str) {
        for p in self.replicas.all() {
            if p.tp.topic == topic {
                if let Err(e) = self.replicas.stop_replica(&p.tp, true) {
                    tracing::error!("cannot delete {}-{}: {e}", p.tp.topic, p.tp.partition);
                }
            }
        }
        // Logs not opened as replicas (e.g. loaded at startup) go too.
        for (tp, _) in self.replicas.log_manager().all() {
            if tp.topic == topic {
                if let Err(e) = self.replicas.log_manager().delete(&tp) {
                    tracing::error!("cannot delete {}-{}: {e}", tp.topic, tp.partition);
                }
            }
        }
    }

    /// Records a controller epoch seen in a request; false if it is older than one seen
    /// before (a stale controller).
    pub fn observe_controller_epoch(&self, epoch: i32) -> bool {
        self.controller_epoch_seen
            .fetch_max(epoch, std::sync::atomic::Ordering::AcqRel)
            <= epoch
    }

    /// Merges topic config overrides read from ZooKeeper.
    pub fn set_topic_configs(&self, configs: BTreeMap<String, BTreeMap<String, String>>) {
        self.topic_configs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(configs);
    }

    /// StopReplica for one partition (unloading its groups if it is an offsets partition).
    pub fn stop_replica(&self, tp: &TopicPartition, delete: bool) -> Result<(), ResponseError> {
        if tp.topic == OFFSETS_TOPIC && self.replicas.get(tp).is_some() {
            self.groups.unload(self, tp.partition);
        }
        let r = if delete {
            self.replicas.stop_replica(tp, true).and_then(|()| {
                // A log not opened as a replica (loaded at startup) goes too.
                self.replicas.log_manager().delete(tp)
            })
        } else {
            self.replicas.stop_replica(tp, false)
        };
        r.map_err(|e| {
            tracing::error!("cannot stop {}-{}: {e}", tp.topic, tp.partition);
            ResponseError::KafkaStorageError
        })
    }

    /// LeaderAndIsr semantics: leads the partitions whose leader is this broker (loading
    /// offsets partitions into the group coordinator), stops leading the others. Followers
    /// do not replicate yet, so a partition led elsewhere is only dropped here.
    pub fn apply_leadership(
        &self,
        states: &[(TopicPartition, LeaderState)],
    ) -> Vec<(TopicPartition, Result<(), ResponseError>)> {
        let mut out = Vec::with_capacity(states.len());
        for (tp, state) in states {
            let hosted = self.replicas.get(tp);
            let was_leader = hosted
                .as_ref()
                .is_some_and(|x| x.state().leader == self.broker_id);
            let result = if state.leader == self.broker_id {
                let config = self.topic_log_config(&tp.topic);
                match self.replicas.become_leader(tp, state.clone(), config) {
                    Ok(_) => {
                        if tp.topic == OFFSETS_TOPIC && !was_leader {
                            self.groups.load(self, tp.partition);
                        }
                        Ok(())
                    }
                    Err(e) => {
                        tracing::error!("cannot lead {}-{}: {e}", tp.topic, tp.partition);
                        Err(ResponseError::KafkaStorageError)
                    }
                }
            } else if hosted.is_some() {
                self.stop_replica(tp, false)
            } else {
                Ok(())
            };
            out.push((tp.clone(), result));
        }
        out
    }

    /// Applies what this broker's own controller decided (LeaderAndIsr + UpdateMetadata
    /// delivered in-process): leadership for every partition, deletion of partitions whose
    /// topic is gone, then the new metadata.
    pub async fn apply_metadata(
        &self,
        snapshot: MetadataSnapshot,
        configs: BTreeMap<String, BTreeMap<String, String>>,
    ) {
        *self.topic_configs.lock().unwrap_or_else(|p| p.into_inner()) = configs;
        let mut states = Vec::new();
        for (topic, meta) in &snapshot.topics {
            for (p, pm) in &meta.partitions {
                states.push((
                    TopicPartition::new(topic.clone(), *p),
                    LeaderState {
                        leader: pm.leader,
                        leader_epoch: pm.leader_epoch,
                        isr: pm.isr.clone(),
                        replicas: pm.replicas.clone(),
                    },
                ));
            }
        }
        self.apply_leadership(&states);
        for p in self.replicas.all() {
            if !snapshot.topics.contains_key(&p.tp.topic) {
                let _ = self.stop_replica(&p.tp, true);
            }
        }
        self.metadata.publish(snapshot);
    }

    /// A new producer id from this broker's block, allocating a new block in ZooKeeper when
    /// it is used up.
    pub async fn next_producer_id(&self) -> Result<i64, ZkError> {
        let mut ids = self.producer_ids.lock().await;
        match *ids {
            Some((next, end)) if next <= end => {
                *ids = Some((next + 1, end));
                Ok(next)
            }
            _ => {
                let block: ProducerIdBlock =
                    self.zk().allocate_producer_id_block(self.broker_id).await?;
                *ids = Some((block.block_start + 1, block.block_end));
                Ok(block.block_start)
            }
        }
    }
}

/// A started broker: its shared state, bound listeners and background tasks.
pub struct RunningBroker {
    pub broker: Arc<Broker>,
    /// Bound address of each listener, in configuration order.
    pub bound: Vec<(EndPoint, SocketAddr)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn group_config(cfg: &BrokerConfig) -> GroupConfig {
    let d = GroupConfig::default();
    GroupConfig {
        min_session_timeout_ms: cfg.group_min_session_timeout_ms,
        max_session_timeout_ms: cfg.group_max_session_timeout_ms,
        initial_rebalance_delay_ms: cfg.group_initial_rebalance_delay_ms,
        max_size: cfg.values.int("group.max.size").unwrap_or(d.max_size),
        offsets_topic_num_partitions: cfg.offsets_topic_num_partitions,
        offsets_retention_ms: i64::from(cfg.offsets_retention_minutes) * 60_000,
        offsets_retention_check_interval_ms: cfg
            .values
            .long("offsets.retention.check.interval.ms")
            .unwrap_or(d.offsets_retention_check_interval_ms),
        offset_metadata_max_bytes: cfg
            .values
            .int("offset.metadata.max.bytes")
            .ok()
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or(d.offset_metadata_max_bytes),
        ..d
    }
}

/// Reads meta.properties of every log dir and checks them against each other, the
/// configured broker id and the cluster id.
fn check_meta_properties(
    dirs: &[PathBuf],
    configured_id: i32,
    cluster_id: &str,
) -> Result<Option<i32>, StartError> {
    let mut found = Vec::new();
    for d in dirs {
        if let Some(m) = MetaProperties::read(d)? {
            found.push((d.clone(), m));
        }
    }
    let agreed = check_log_dirs_agree(&found)?;
    if let Some((id, stored_cluster)) = agreed {
        if configured_id >= 0 && id != configured_id {
            return Err(StartError::Inconsistent(format!(
                "Configured broker.id {configured_id} doesn't match stored broker.id Some({id}) in meta.properties. If you moved your data, make sure your configured broker.id matches. If you intend to create a new broker, you should remove all data in your data directories (log.dirs)."
            )));
        }
        if let Some(c) = stored_cluster {
            if c != cluster_id {
                return Err(StartError::Inconsistent(format!(
                    "The Cluster ID {cluster_id} doesn't match stored clusterId Some({c}) in meta.properties. The broker is trying to join the wrong cluster. Configured zookeeper.connect may be wrong."
                )));
            }
        }
        return Ok(Some(id));
    }
    Ok(None)
}

/// Registers the broker, retrying while a previous session's registration (e.g. before a
/// crash) still holds the node: it vanishes when that session expires.
async fn register(
    zk: &KafkaZkClient,
    info: &BrokerInfo,
    version: i32,
    patience: Duration,
) -> Result<i64, ZkError> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match zk.register_broker(info, version).await {
            Err(ZkError::EphemeralOwnedByOtherSession { owner, .. })
                if tokio::time::Instant::now() < deadline =>
            {
                tracing::info!(
                    "/brokers/ids/{} is still held by session 0x{owner:x}; waiting for it to expire",
                    info.id
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            r => return r,
        }
    }
}

fn local_host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_owned();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Starts a broker: everything up to serving requests.
pub async fn start(config: BrokerConfig) -> Result<RunningBroker, StartError> {
    tracing::info!(
        "starting broker (zookeeper.connect={})",
        config.zookeeper_connect
    );
    let zk = KafkaZkClient::connect_with_config(&config).await?;
    zk.create_top_level_paths().await?;
    let cluster_id = zk.get_or_generate_cluster_id().await?;
    tracing::info!("Cluster ID = {cluster_id}");
    let stored_id = check_meta_properties(&config.log_dirs, config.broker_id, &cluster_id)?;
    let broker_id = if config.broker_id >= 0 {
        config.broker_id
    } else if let Some(id) = stored_id {
        id
    } else if config.broker_id_generation_enable {
        zk.generate_broker_id(config.reserved_broker_max_id).await?
    } else {
        return Err(StartError::Inconsistent(
            "broker.id is -1 and broker.id.generation.enable is false".into(),
        ));
    };
    for d in &config.log_dirs {
        std::fs::create_dir_all(d).map_err(|source| LogManagerError::Dir {
            path: d.clone(),
            source,
        })?;
        if MetaProperties::read(d)?.is_none() {
            MetaProperties::zk(broker_id, Some(cluster_id.clone())).write(d)?;
        }
    }
    // Dynamic configs come before the logs load, so they open with the effective defaults.
    let dynamic = crate::dynamic_config::DynamicBrokerConfig::new(&config);
    if let Err(e) = dynamic.reload(&zk, broker_id).await {
        // Kafka logs unusable dynamic configs and starts with the static ones.
        tracing::error!("cannot read dynamic broker configs: {e}");
    }
    let default_log_config = dynamic.log_config();
    let logs = Arc::new(LogManager::startup(&config.log_dirs, &default_log_config)?);

    // Bind before registering so port 0 resolves to the port we advertise.
    let mut listeners = Vec::new();
    let mut bound = Vec::new();
    for ep in &config.listeners {
        let addr = ep.bind_address();
        let l = TcpListener::bind(&addr)
            .await
            .map_err(|source| StartError::Bind {
                endpoint: ep.to_string(),
                source,
            })?;
        let local = l.local_addr().map_err(|source| StartError::Bind {
            endpoint: ep.to_string(),
            source,
        })?;
        tracing::info!(
            "Awaiting socket connections on {local} ({})",
            ep.listener_name
        );
        bound.push((ep.clone(), local));
        listeners.push((ep.clone(), l));
    }
    let host = local_host_name();
    let endpoints: Vec<EndPoint> = config
        .registration_endpoints(&host)
        .into_iter()
        .map(|mut e| {
            if e.port == 0 {
                if let Some((_, a)) = bound
                    .iter()
                    .find(|(b, _)| b.listener_name == e.listener_name)
                {
                    e.port = a.port();
                }
            }
            e
        })
        .collect();
    let info = BrokerInfo {
        id: broker_id,
        endpoints,
        rack: config.broker_rack.clone(),
        jmx_port: -1,
        timestamp_ms: crate::zkdata::timestamp_now_ms(),
        features: BTreeMap::new(),
    };
    let json_version = BrokerInfo::json_version(config.inter_broker_protocol_version);
    let patience = Duration::from_millis(
        u64::try_from(config.zookeeper_session_timeout_ms).unwrap_or(18_000) * 2,
    );
    let epoch = register(&zk, &info, json_version, patience).await?;

    let (shutdown, _) = watch::channel(false);
    let broker = Arc::new(Broker {
        groups: groups::Groups::new(group_config(&config)),
        replicas: ReplicaManager::new(broker_id, logs),
        dynamic,
        broker_id,
        cluster_id,
        zk: RwLock::new(Arc::new(zk)),
        metadata: MetadataCache::default(),
        topic_configs: Mutex::new(BTreeMap::new()),
        producer_ids: tokio::sync::Mutex::new(None),
        controller_poke: Notify::new(),
        controller_id: Mutex::new(None),
        shutdown,
        broker_epoch: Mutex::new(epoch),
        controller_epoch_seen: std::sync::atomic::AtomicI32::new(-1),
        config,
    });
    let mut tasks = Vec::new();
    for (ep, l) in listeners {
        tasks.push(tokio::spawn(crate::network::serve(broker.clone(), ep, l)));
    }
    tasks.push(tokio::spawn(crate::controller::run(broker.clone())));
    tasks.push(tokio::spawn(crate::dynamic_config::run(broker.clone())));
    tasks.push(tokio::spawn(session_loop(
        broker.clone(),
        info,
        json_version,
    )));
    tasks.push(tokio::spawn(scheduler(broker.clone())));
    tasks.push(tokio::spawn(groups::ticker(broker.clone())));
    tracing::info!("[KafkaServer id={broker_id}] started");
    Ok(RunningBroker {
        broker,
        bound,
        tasks,
    })
}

/// Re-registers the broker with a new session after the old one expired.
async fn session_loop(broker: Arc<Broker>, info: BrokerInfo, json_version: i32) {
    let mut shutdown = broker.shutdown_signal();
    loop {
        let mut w = broker.zk().session_watcher();
        let state = tokio::select! {
            s = w.terminated() => s,
            _ = shutdown.changed() => return,
        };
        if broker.is_shutting_down() || state == SessionState::Closed {
            return;
        }
        tracing::warn!("ZooKeeper session {state:?}; creating a new session and registering again");
        loop {
            if broker.is_shutting_down() {
                return;
            }
            match broker.zk().reconnect().await {
                Ok(zk) => match register(&zk, &info, json_version, Duration::from_secs(60)).await {
                    Ok(epoch) => {
                        *broker
                            .broker_epoch
                            .lock()
                            .unwrap_or_else(|p| p.into_inner()) = epoch;
                        *broker.zk.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(zk);
                        broker.controller_poke().notify_one();
                        break;
                    }
                    Err(e) => tracing::error!("re-registration failed: {e}"),
                },
                Err(e) => tracing::error!("cannot reconnect to ZooKeeper: {e}"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

fn interval_of(ms: i64) -> Option<Duration> {
    // Kafka's "never" is Long.MAX_VALUE; anything beyond a day is treated as off.
    (ms > 0 && ms < 86_400_000).then(|| Duration::from_millis(ms as u64))
}

/// Periodic checkpoints, retention and time-based flush.
async fn scheduler(broker: Arc<Broker>) {
    let cfg = &broker.config;
    let checkpoint =
        interval_of(cfg.log_flush_offset_checkpoint_interval_ms).unwrap_or(Duration::from_secs(60));
    let retention =
        interval_of(cfg.log_retention_check_interval_ms).unwrap_or(Duration::from_secs(300));
    let flush = interval_of(cfg.log_flush_scheduler_interval_ms);
    let mut shutdown = broker.shutdown_signal();
    let mut t_cp = tokio::time::interval(checkpoint);
    let mut t_ret = tokio::time::interval(retention);
    let mut t_flush = tokio::time::interval(flush.unwrap_or(Duration::from_secs(3600)));
    t_cp.tick().await;
    t_ret.tick().await;
    t_flush.tick().await;
    loop {
        let now = crate::zkdata::timestamp_now_ms();
        let logs = broker.replicas.log_manager().clone();
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = t_cp.tick() => {
                if let Err(e) = logs.checkpoint() {
                    tracing::error!("checkpoint failed: {e}");
                }
            }
            _ = t_ret.tick() => {
                let b = broker.clone();
                logs.apply_retention(now, |tp| {
                    b.replicas.get(tp).map_or(0, |p| p.high_watermark())
                });
            }
            _ = t_flush.tick(), if flush.is_some() => logs.flush_due(now),
        }
    }
}

impl RunningBroker {
    /// The address the first listener is bound to.
    pub fn first_address(&self) -> Option<SocketAddr> {
        self.bound.first().map(|(_, a)| *a)
    }

    /// Resolves when shutdown was requested (by [`RunningBroker::shutdown`] or a fatal error).
    pub async fn wait(&self) {
        let mut rx = self.broker.shutdown_signal();
        while !*rx.borrow() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Clean shutdown: stop serving, resign (close the ZooKeeper session, which removes
    /// the registration and `/controller`), flush and checkpoint every log and write the
    /// clean-shutdown markers.
    pub async fn shutdown(self) -> Result<(), LogManagerError> {
        tracing::info!("[KafkaServer id={}] shutting down", self.broker.broker_id);
        self.broker.shutdown.send_replace(true);
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
        // Other handles on the session may live on in connection tasks, so the ephemeral
        // nodes are removed explicitly rather than by closing the session.
        let zk = self.broker.zk();
        let id = self.broker.broker_id;
        if let Ok(Some(c)) = zk.get_controller_id().await {
            if c == id {
                let _ = zk.delete(crate::zkdata::Controller::PATH, None, None).await;
            }
        }
        if let Err(e) = zk.delete(&BrokerInfo::path(id), None, None).await {
            tracing::warn!("cannot remove the broker registration: {e}");
        }
        self.broker.replicas.clear();
        let r = self.broker.replicas.log_manager().shutdown();
        tracing::info!(
            "[KafkaServer id={}] shut down completed",
            self.broker.broker_id
        );
        r
    }
}
