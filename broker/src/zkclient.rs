//! Kafka's ZooKeeper operations (`KafkaZkClient`, `AdminZkClient`'s writes), over the async
//! `zookeeper-client` crate.
//!
//! Every request that fails with a connection loss is retried once the session reconnects, as
//! Kafka's ZooKeeperClient does; the operations are written so that a retried write is safe
//! (checked ephemeral creates, controller election re-checks, conditional updates).
//!
//! Controller writes are fenced: [`KafkaZkClient::controller_multi`] prefixes a check of
//! `/controller_epoch`'s zkVersion and turns its failure into [`ZkError::ControllerMoved`].
//!
//! Watches ([`KafkaZkClient::watch_children`], [`KafkaZkClient::watch_data`]) re-arm one-shot
//! ZooKeeper watches and send the node's *current* state after every change, so a burst of
//! changes may arrive as one snapshot. We do not use persistent watches (`addWatch`): with
//! ZooKeeper before 3.9 they can lose events across reconnects (ZOOKEEPER-4698) and cannot
//! share a path with one-shot watches (ZOOKEEPER-4466); re-reading on every event is what
//! Kafka itself does.
//!
//! Session state is observable through [`SessionWatcher`]; after `Expired` the broker builds a
//! new client ([`KafkaZkClient::reconnect`]) and registers again (new broker epoch).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use zookeeper_client as zkc;

use crate::assignment::{validate_new_topic_assignment, AssignmentError};
use crate::config::{BrokerConfig, ZkConnect};
use crate::zkdata::{
    delete_topic_path, has_collision, topic_partition_path, topic_partitions_path,
    validate_topic_name, BrokerInfo, BrokerSequenceId, ClusterId, ConfigChangeNotification,
    ConfigEntityType, Controller, ControllerEpoch, EntityConfig, IsrChangeNotification,
    PartitionReassignment, PartitionState, PreferredReplicaElection, ProducerIdBlock,
    TopicAssignment, TopicNameError, TopicPartition, Uuid, ZkDataError, BROKER_IDS_PATH,
    DELETE_TOPICS_PATH, PERSISTENT_PATHS, TOPICS_PATH,
};

pub use zookeeper_client::Stat;

/// Attempts of an optimistic update (conditional write, recursive delete) before giving up.
pub const MAX_CONFLICT_RETRIES: u32 = 100;
/// Retries of one request after connection losses.
pub const MAX_CONNECTION_LOSS_RETRIES: u32 = 30;
/// Paths per multi-read request (keeps responses far below jute.maxbuffer).
pub const READ_BATCH: usize = 128;
/// Snapshots buffered per watch channel; the watch task waits when it is full.
pub const WATCH_CHANNEL_CAPACITY: usize = 16;
/// Pause before re-reading a watched node after a transient error.
pub const WATCH_RETRY_DELAY: Duration = Duration::from_millis(100);

/// A failed ZooKeeper operation.
#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    /// ZooKeeper refused or failed a request.
    #[error("ZooKeeper {op} {path}: {source}")]
    Zk {
        op: &'static str,
        path: String,
        #[source]
        source: zkc::Error,
    },
    /// One operation of a multi-op failed (none was applied).
    #[error("ZooKeeper multi-op {index} on {path}: {source}")]
    OpFailed {
        index: usize,
        path: String,
        #[source]
        source: zkc::Error,
    },
    /// No session could be established.
    #[error("cannot connect to ZooKeeper at {connect}: {source}")]
    Connect {
        connect: String,
        #[source]
        source: zkc::Error,
    },
    #[error("Timed out waiting for connection to ZooKeeper at {connect} after {timeout:?}")]
    ConnectTimeout { connect: String, timeout: Duration },
    /// A znode holds data this broker cannot read.
    #[error("bad data in znode {path}: {source}")]
    Data {
        path: String,
        #[source]
        source: ZkDataError,
    },
    /// A node that must exist does not.
    #[error("znode {0} does not exist")]
    Missing(String),
    /// A fenced write found `/controller_epoch` at another zkVersion: another controller won.
    #[error("Controller moved to another broker: /controller_epoch is no longer at zkVersion {expected_zk_version}")]
    ControllerMoved { expected_zk_version: i32 },
    /// A checked ephemeral create found the node owned by another session.
    #[error("Error while creating ephemeral at {path}, node already exists and owner '{owner:#x}' does not match current session '{session:#x}'")]
    EphemeralOwnedByOtherSession {
        path: String,
        owner: i64,
        session: i64,
    },
    #[error("Topic '{0}' already exists.")]
    TopicExists(String),
    #[error("Topic '{0}' is marked for deletion.")]
    TopicMarkedForDeletion(String),
    #[error("Topic '{topic}' collides with existing topics: {existing}")]
    TopicCollision { topic: String, existing: String },
    #[error(transparent)]
    InvalidTopic(#[from] TopicNameError),
    #[error(transparent)]
    InvalidAssignment(#[from] AssignmentError),
    #[error("gave up on {what} after {attempts} conflicting attempts")]
    TooManyRetries { what: &'static str, attempts: u32 },
    #[error("Have exhausted all producerIds.")]
    ProducerIdsExhausted,
}

impl ZkError {
    /// The ZooKeeper error behind this one, if any.
    pub fn zk_error(&self) -> Option<&zkc::Error> {
        match self {
            ZkError::Zk { source, .. }
            | ZkError::OpFailed { source, .. }
            | ZkError::Connect { source, .. } => Some(source),
            _ => None,
        }
    }
    pub fn is_node_exists(&self) -> bool {
        matches!(self.zk_error(), Some(zkc::Error::NodeExists))
    }
    pub fn is_no_node(&self) -> bool {
        matches!(self.zk_error(), Some(zkc::Error::NoNode))
    }
    pub fn is_bad_version(&self) -> bool {
        matches!(self.zk_error(), Some(zkc::Error::BadVersion))
    }
    pub fn is_not_empty(&self) -> bool {
        matches!(self.zk_error(), Some(zkc::Error::NotEmpty))
    }
    /// The session is gone (expired, closed, auth failed): build a new client.
    pub fn is_session_terminated(&self) -> bool {
        matches!(
            self.zk_error(),
            Some(zkc::Error::SessionExpired | zkc::Error::ClientClosed | zkc::Error::AuthFailed)
        )
    }
}

fn zk_err(op: &'static str, path: &str) -> impl FnOnce(zkc::Error) -> ZkError {
    let path = path.to_owned();
    move |source| ZkError::Zk { op, path, source }
}

fn data_err(path: &str) -> impl FnOnce(ZkDataError) -> ZkError {
    let path = path.to_owned();
    move |source| ZkError::Data { path, source }
}

/// The kind of znode to create. ACLs are always open (`zookeeper.set.acl=false`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeMode {
    Persistent,
    PersistentSequential,
    Ephemeral,
    EphemeralSequential,
}

impl NodeMode {
    fn options(self) -> zkc::CreateOptions<'static> {
        let mode = match self {
            NodeMode::Persistent => zkc::CreateMode::Persistent,
            NodeMode::PersistentSequential => zkc::CreateMode::PersistentSequential,
            NodeMode::Ephemeral => zkc::CreateMode::Ephemeral,
            NodeMode::EphemeralSequential => zkc::CreateMode::EphemeralSequential,
        };
        mode.with_acls(zkc::Acls::anyone_all())
    }

    fn is_sequential(self) -> bool {
        matches!(
            self,
            NodeMode::PersistentSequential | NodeMode::EphemeralSequential
        )
    }
}

/// One operation of a multi-op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkOp {
    Create {
        path: String,
        data: Vec<u8>,
        mode: NodeMode,
    },
    /// `version: None` = any version.
    SetData {
        path: String,
        data: Vec<u8>,
        version: Option<i32>,
    },
    Delete {
        path: String,
        version: Option<i32>,
    },
    Check {
        path: String,
        version: i32,
    },
}

impl ZkOp {
    pub fn path(&self) -> &str {
        match self {
            ZkOp::Create { path, .. }
            | ZkOp::SetData { path, .. }
            | ZkOp::Delete { path, .. }
            | ZkOp::Check { path, .. } => path,
        }
    }
}

/// The result of one operation of a successful multi-op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkOpResult {
    /// The created path (with its sequence suffix) and stat; servers with ZOOKEEPER-4026
    /// (Apache's and ours) send no stat in multi replies, which then `is_invalid()`.
    Created {
        path: String,
        stat: Stat,
    },
    SetData {
        stat: Stat,
    },
    Deleted,
    Checked,
    /// A result kind this code does not know (the crate's enum is non-exhaustive).
    Other,
}

/// ZooKeeper session states, as the broker cares about them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    Connected,
    ConnectedReadOnly,
    /// Temporarily disconnected; the client reconnects by itself.
    Disconnected,
    /// Terminal: ephemerals are gone; build a new client and register again.
    Expired,
    /// Terminal: closed by us.
    Closed,
    /// Terminal.
    AuthFailed,
}

impl SessionState {
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            SessionState::Expired | SessionState::Closed | SessionState::AuthFailed
        )
    }
}

impl From<zkc::SessionState> for SessionState {
    fn from(s: zkc::SessionState) -> Self {
        match s {
            zkc::SessionState::Disconnected => SessionState::Disconnected,
            zkc::SessionState::SyncConnected => SessionState::Connected,
            zkc::SessionState::AuthFailed => SessionState::AuthFailed,
            zkc::SessionState::ConnectedReadOnly => SessionState::ConnectedReadOnly,
            zkc::SessionState::Expired => SessionState::Expired,
            zkc::SessionState::Closed => SessionState::Closed,
        }
    }
}

/// Follows a session's state.
#[derive(Clone, Debug)]
pub struct SessionWatcher {
    inner: zkc::StateWatcher,
}

impl SessionWatcher {
    /// The current state.
    pub fn state(&self) -> SessionState {
        self.inner.peek_state().into()
    }

    /// Waits for the next state change. After a terminal state it never returns.
    pub async fn changed(&mut self) -> SessionState {
        self.inner.changed().await.into()
    }

    /// Waits until the session has ended (expired, closed or failed) and returns how.
    pub async fn terminated(&mut self) -> SessionState {
        loop {
            let s: SessionState = self.inner.peek_state().into();
            if s.is_terminated() {
                return s;
            }
            self.inner.changed().await;
        }
    }
}

/// A node's data with its stat, as [`KafkaZkClient::watch_data`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeData {
    pub data: Vec<u8>,
    pub stat: Stat,
}

/// A broker registration with its broker epoch (the znode's czxid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredBroker {
    pub info: BrokerInfo,
    pub epoch: i64,
}

/// The outcome of a controller election attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControllerElection {
    /// We are the controller; `epoch_zk_version` fences our writes.
    Elected { epoch: i32, epoch_zk_version: i32 },
    /// Someone else is (or nobody, if the winner already vanished).
    NotElected { controller_id: Option<i32> },
}

/// Per-partition outcome of a batch of controller writes: the new zkVersion or the error.
pub type PartitionResults = Vec<(TopicPartition, Result<i32, ZkError>)>;

/// Kafka's ZooKeeper client: one session, rooted at the `zookeeper.connect` chroot.
#[derive(Debug)]
pub struct KafkaZkClient {
    client: zkc::Client,
    connect: ZkConnect,
    session_timeout: Duration,
    connection_timeout: Duration,
    /// Dropped with the client: watch tasks end, releasing their handles on the session.
    shutdown: watch::Sender<()>,
}

fn child_path(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

fn parent_path(path: &str) -> Option<&str> {
    match path.rfind('/') {
        Some(0) if path.len() > 1 => Some("/"),
        Some(0) | None => None,
        Some(i) => Some(&path[..i]),
    }
}

impl KafkaZkClient {
    /// Opens a session to `connect`'s servers, creating the chroot if it is missing (as Kafka
    /// does), and roots the client there. Fails after `connection_timeout` without a session.
    pub async fn connect(
        connect: &ZkConnect,
        session_timeout: Duration,
        connection_timeout: Duration,
    ) -> Result<KafkaZkClient, ZkError> {
        let servers = connect.servers_string();
        let pending = zkc::Client::connector()
            .with_session_timeout(session_timeout)
            .connect(&servers);
        let client = tokio::time::timeout(connection_timeout, pending)
            .await
            .map_err(|_| ZkError::ConnectTimeout {
                connect: connect.to_string(),
                timeout: connection_timeout,
            })?
            .map_err(|source| ZkError::Connect {
                connect: connect.to_string(),
                source,
            })?;
        let client = match &connect.chroot {
            None => client,
            Some(root) => {
                client
                    .mkdir(root, &NodeMode::Persistent.options())
                    .await
                    .map_err(zk_err("create", root))?;
                client.chroot(root.clone()).map_err(|_| ZkError::Zk {
                    op: "chroot",
                    path: root.clone(),
                    source: zkc::Error::BadArguments(&"invalid chroot"),
                })?
            }
        };
        let (shutdown, _) = watch::channel(());
        Ok(KafkaZkClient {
            client,
            connect: connect.clone(),
            session_timeout,
            connection_timeout,
            shutdown,
        })
    }

    /// Connects with the broker's `zookeeper.*` settings.
    pub async fn connect_with_config(cfg: &BrokerConfig) -> Result<KafkaZkClient, ZkError> {
        let ms = |v: i32| Duration::from_millis(u64::try_from(v).unwrap_or(0));
        Self::connect(
            &cfg.zookeeper_connect,
            ms(cfg.zookeeper_session_timeout_ms),
            ms(cfg.zookeeper_connection_timeout_ms),
        )
        .await
    }

    /// A new session with the same settings (after this one expired).
    pub async fn reconnect(&self) -> Result<KafkaZkClient, ZkError> {
        Self::connect(&self.connect, self.session_timeout, self.connection_timeout).await
    }

    /// This session's id.
    pub fn session_id(&self) -> i64 {
        self.client.session_id().0
    }

    /// The session timeout the server granted.
    pub fn negotiated_session_timeout(&self) -> Duration {
        self.client.session_timeout()
    }

    pub fn session_state(&self) -> SessionState {
        self.client.state().into()
    }

    pub fn session_watcher(&self) -> SessionWatcher {
        SessionWatcher {
            inner: self.client.state_watcher(),
        }
    }

    /// The underlying client (rooted at the chroot), for operations not wrapped here.
    pub fn raw(&self) -> &zkc::Client {
        &self.client
    }

    /// Closes the session (its ephemerals go at once) and waits, up to the session timeout,
    /// until it is closed. Clones taken with [`raw`](Self::raw) keep the session open.
    pub async fn close(self) {
        let mut w = self.session_watcher();
        let timeout = self.session_timeout;
        drop(self);
        let _ = tokio::time::timeout(timeout, w.terminated()).await;
    }

    // -----------------------------------------------------------------------------------------
    // Requests with connection-loss retry
    // -----------------------------------------------------------------------------------------

    /// Waits until connected again; false if the session ended or it took too long.
    async fn wait_until_connected(&self) -> bool {
        let mut w = self.client.state_watcher();
        let deadline = tokio::time::Instant::now() + self.session_timeout + self.connection_timeout;
        loop {
            match w.peek_state() {
                zkc::SessionState::SyncConnected | zkc::SessionState::ConnectedReadOnly => {
                    return true
                }
                s if s.is_terminated() => return false,
                _ => {}
            }
            if tokio::time::timeout_at(deadline, w.changed())
                .await
                .is_err()
            {
                return false;
            }
        }
    }

    async fn retry<T, F, Fut>(&self, mut op: F) -> Result<T, zkc::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, zkc::Error>>,
    {
        let mut attempts = 0;
        loop {
            match op().await {
                Err(zkc::Error::ConnectionLoss)
                    if attempts < MAX_CONNECTION_LOSS_RETRIES
                        && self.wait_until_connected().await =>
                {
                    attempts += 1;
                }
                r => return r,
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Generic node operations
    // -----------------------------------------------------------------------------------------

    /// Data and stat of `path`, or `None` if it does not exist.
    pub async fn get_data(&self, path: &str) -> Result<Option<(Vec<u8>, Stat)>, ZkError> {
        match self.retry(|| self.client.get_data(path)).await {
            Ok(r) => Ok(Some(r)),
            Err(zkc::Error::NoNode) => Ok(None),
            Err(e) => Err(zk_err("getData", path)(e)),
        }
    }

    /// Stat of `path`, or `None` if it does not exist.
    pub async fn exists(&self, path: &str) -> Result<Option<Stat>, ZkError> {
        self.retry(|| self.client.check_stat(path))
            .await
            .map_err(zk_err("exists", path))
    }

    /// Children of `path`, sorted, or `None` if it does not exist.
    pub async fn get_children(&self, path: &str) -> Result<Option<Vec<String>>, ZkError> {
        match self.retry(|| self.client.list_children(path)).await {
            Ok(mut c) => {
                c.sort();
                Ok(Some(c))
            }
            Err(zkc::Error::NoNode) => Ok(None),
            Err(e) => Err(zk_err("getChildren", path)(e)),
        }
    }

    /// Data of many paths in multi-read batches, `None` for absent ones, in input order.
    pub async fn get_data_batch(
        &self,
        paths: &[String],
    ) -> Result<Vec<Option<(Vec<u8>, Stat)>>, ZkError> {
        let mut out = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(READ_BATCH) {
            let results = self
                .retry(|| {
                    let mut reader = self.client.new_multi_reader();
                    let added = chunk.iter().try_for_each(|p| reader.add_get_data(p));
                    let commit = reader.commit();
                    async move {
                        added?;
                        commit.await
                    }
                })
                .await
                .map_err(zk_err(
                    "multiRead",
                    chunk.first().map_or("", String::as_str),
                ))?;
            if results.len() != chunk.len() {
                return Err(ZkError::Zk {
                    op: "multiRead",
                    path: chunk.first().cloned().unwrap_or_default(),
                    source: zkc::Error::UnexpectedError("result count mismatch".into()),
                });
            }
            for (r, p) in results.into_iter().zip(chunk) {
                out.push(match r {
                    zkc::MultiReadResult::Data { data, stat } => Some((data, stat)),
                    zkc::MultiReadResult::Error {
                        err: zkc::Error::NoNode,
                    } => None,
                    zkc::MultiReadResult::Error { err } => return Err(zk_err("getData", p)(err)),
                    _ => {
                        return Err(ZkError::Zk {
                            op: "multiRead",
                            path: p.clone(),
                            source: zkc::Error::UnexpectedError("unexpected result kind".into()),
                        })
                    }
                });
            }
        }
        Ok(out)
    }

    /// Creates `path`; returns the actual path (with the suffix for sequential modes).
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        mode: NodeMode,
    ) -> Result<(String, Stat), ZkError> {
        let options = mode.options();
        let (stat, seq) = self
            .retry(|| self.client.create(path, data, &options))
            .await
            .map_err(zk_err("create", path))?;
        let actual = if mode.is_sequential() {
            format!("{path}{seq}")
        } else {
            path.to_owned()
        };
        Ok((actual, stat))
    }

    /// Creates `path`, creating missing parents (empty, persistent) first.
    pub async fn create_recursive(
        &self,
        path: &str,
        data: &[u8],
        mode: NodeMode,
    ) -> Result<(String, Stat), ZkError> {
        match self.create(path, data, mode).await {
            Err(e) if e.is_no_node() => {
                if let Some(parent) = parent_path(path) {
                    self.make_sure_persistent_path_exists(parent).await?;
                }
                self.create(path, data, mode).await
            }
            r => r,
        }
    }

    /// `mkdir -p` with empty persistent nodes.
    pub async fn make_sure_persistent_path_exists(&self, path: &str) -> Result<(), ZkError> {
        if path == "/" {
            return Ok(());
        }
        let options = NodeMode::Persistent.options();
        self.retry(|| self.client.mkdir(path, &options))
            .await
            .map_err(zk_err("create", path))
    }

    /// Sets `path`'s data, if its version is `version` (`None` = any); returns the new stat.
    pub async fn set_data(
        &self,
        path: &str,
        data: &[u8],
        version: Option<i32>,
    ) -> Result<Stat, ZkError> {
        self.retry(|| self.client.set_data(path, data, version))
            .await
            .map_err(zk_err("setData", path))
    }

    /// Deletes `path` (fenced by the controller epoch when `fence` is given); false if it did
    /// not exist.
    pub async fn delete(
        &self,
        path: &str,
        version: Option<i32>,
        fence: Option<i32>,
    ) -> Result<bool, ZkError> {
        let r = match fence {
            None => self
                .retry(|| self.client.delete(path, version))
                .await
                .map_err(zk_err("delete", path)),
            Some(epoch_zk_version) => {
                let op = ZkOp::Delete {
                    path: path.to_owned(),
                    version,
                };
                self.controller_multi(epoch_zk_version, &[op])
                    .await
                    .map(|_| ())
            }
        };
        match r {
            Ok(()) => Ok(true),
            Err(e) if e.is_no_node() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes `path` and everything below it (each delete fenced when `fence` is given).
    /// A missing node is not an error; children created meanwhile are deleted too.
    pub async fn delete_recursive(&self, path: &str, fence: Option<i32>) -> Result<(), ZkError> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let mut nodes = vec![path.to_owned()];
            let mut i = 0;
            while i < nodes.len() {
                let children = self.get_children(&nodes[i]).await?.unwrap_or_default();
                let parent = nodes[i].clone();
                nodes.extend(children.iter().map(|c| child_path(&parent, c)));
                i += 1;
            }
            let mut raced = false;
            for n in nodes.iter().rev() {
                match self.delete(n, None, fence).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_empty() => {
                        raced = true;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if !raced {
                return Ok(());
            }
        }
        Err(ZkError::TooManyRetries {
            what: "recursive delete",
            attempts: MAX_CONFLICT_RETRIES,
        })
    }

    async fn commit_multi(
        &self,
        ops: &[ZkOp],
    ) -> Result<Vec<zkc::MultiWriteResult>, zkc::MultiWriteError> {
        let mut w = self.client.new_multi_writer();
        for op in ops {
            let added = match op {
                ZkOp::Create { path, data, mode } => w.add_create(path, data, &mode.options()),
                ZkOp::SetData {
                    path,
                    data,
                    version,
                } => w.add_set_data(path, data, *version),
                ZkOp::Delete { path, version } => w.add_delete(path, *version),
                ZkOp::Check { path, version } => w.add_check_version(path, *version),
            };
            added?;
        }
        w.commit().await
    }

    /// Runs `ops` atomically.
    pub async fn multi(&self, ops: &[ZkOp]) -> Result<Vec<ZkOpResult>, ZkError> {
        let mut attempts = 0;
        let results = loop {
            match self.commit_multi(ops).await {
                Err(zkc::MultiWriteError::RequestFailed {
                    source: zkc::Error::ConnectionLoss,
                }) if attempts < MAX_CONNECTION_LOSS_RETRIES
                    && self.wait_until_connected().await =>
                {
                    attempts += 1;
                }
                Ok(r) => break r,
                Err(zkc::MultiWriteError::RequestFailed { source }) => {
                    let path = ops.first().map_or("", ZkOp::path);
                    return Err(zk_err("multi", path)(source));
                }
                Err(zkc::MultiWriteError::OperationFailed { index, source }) => {
                    let path = ops.get(index).map_or("", ZkOp::path).to_owned();
                    return Err(ZkError::OpFailed {
                        index,
                        path,
                        source,
                    });
                }
            }
        };
        Ok(results
            .into_iter()
            .map(|r| match r {
                zkc::MultiWriteResult::Create { path, stat } => ZkOpResult::Created { path, stat },
                zkc::MultiWriteResult::SetData { stat } => ZkOpResult::SetData { stat },
                zkc::MultiWriteResult::Delete => ZkOpResult::Deleted,
                zkc::MultiWriteResult::Check => ZkOpResult::Checked,
                _ => ZkOpResult::Other,
            })
            .collect())
    }

    /// Runs `ops` atomically, only if `/controller_epoch` is still at `epoch_zk_version`
    /// (`wrapRequestWithControllerEpochCheck`). Error indexes refer to `ops`.
    pub async fn controller_multi(
        &self,
        epoch_zk_version: i32,
        ops: &[ZkOp],
    ) -> Result<Vec<ZkOpResult>, ZkError> {
        let mut all = Vec::with_capacity(ops.len() + 1);
        all.push(ZkOp::Check {
            path: ControllerEpoch::PATH.to_owned(),
            version: epoch_zk_version,
        });
        all.extend(ops.iter().cloned());
        match self.multi(&all).await {
            Ok(mut r) => {
                if !r.is_empty() {
                    r.remove(0);
                }
                Ok(r)
            }
            Err(ZkError::OpFailed {
                index: 0,
                source: zkc::Error::BadVersion,
                ..
            }) => Err(ZkError::ControllerMoved {
                expected_zk_version: epoch_zk_version,
            }),
            Err(ZkError::OpFailed {
                index,
                path,
                source,
            }) => Err(ZkError::OpFailed {
                index: index.saturating_sub(1),
                path,
                source,
            }),
            Err(e) => Err(e),
        }
    }

    /// A persistent create fenced by the controller epoch; the stat if the server sent one.
    async fn fenced_create(
        &self,
        epoch_zk_version: i32,
        path: &str,
        data: &[u8],
    ) -> Result<Option<Stat>, ZkError> {
        let op = ZkOp::Create {
            path: path.to_owned(),
            data: data.to_vec(),
            mode: NodeMode::Persistent,
        };
        match self.controller_multi(epoch_zk_version, &[op]).await?.pop() {
            Some(ZkOpResult::Created { stat, .. }) if !stat.is_invalid() => Ok(Some(stat)),
            _ => Ok(None),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Startup: persistent paths, cluster id, broker id
    // -----------------------------------------------------------------------------------------

    /// Creates the paths every broker expects (`ZkData.PersistentZkPaths`).
    pub async fn create_top_level_paths(&self) -> Result<(), ZkError> {
        for p in PERSISTENT_PATHS {
            self.make_sure_persistent_path_exists(p).await?;
        }
        Ok(())
    }

    pub async fn get_cluster_id(&self) -> Result<Option<String>, ZkError> {
        match self.get_data(ClusterId::PATH).await? {
            None => Ok(None),
            Some((data, _)) => Ok(Some(
                ClusterId::decode(&data)
                    .map_err(data_err(ClusterId::PATH))?
                    .id,
            )),
        }
    }

    /// Creates `/cluster/id` with `proposed` unless it exists; returns the cluster's id.
    pub async fn create_or_get_cluster_id(&self, proposed: &str) -> Result<String, ZkError> {
        if let Some(id) = self.get_cluster_id().await? {
            return Ok(id);
        }
        let data = ClusterId {
            id: proposed.to_owned(),
        }
        .encode();
        match self
            .create_recursive(ClusterId::PATH, &data, NodeMode::Persistent)
            .await
        {
            Ok(_) => Ok(proposed.to_owned()),
            Err(e) if e.is_node_exists() => self
                .get_cluster_id()
                .await?
                .ok_or_else(|| ZkError::Missing(ClusterId::PATH.to_owned())),
            Err(e) => Err(e),
        }
    }

    /// The cluster id, generating a random one if there is none yet.
    pub async fn get_or_generate_cluster_id(&self) -> Result<String, ZkError> {
        self.create_or_get_cluster_id(&Uuid::random().to_string())
            .await
    }

    /// Bumps `/brokers/seqid` and returns its new version.
    pub async fn generate_broker_sequence_id(&self) -> Result<i32, ZkError> {
        match self.set_data(BrokerSequenceId::PATH, b"", None).await {
            Ok(stat) => Ok(stat.version),
            Err(e) if e.is_no_node() => {
                match self
                    .create_recursive(BrokerSequenceId::PATH, b"", NodeMode::Persistent)
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.is_node_exists() => {}
                    Err(e) => return Err(e),
                }
                Ok(self
                    .set_data(BrokerSequenceId::PATH, b"", None)
                    .await?
                    .version)
            }
            Err(e) => Err(e),
        }
    }

    /// A new broker id above `reserved_broker_max_id`.
    pub async fn generate_broker_id(&self, reserved_broker_max_id: i32) -> Result<i32, ZkError> {
        let seq = self.generate_broker_sequence_id().await?;
        seq.checked_add(reserved_broker_max_id)
            .ok_or(ZkError::TooManyRetries {
                what: "broker id generation",
                attempts: 0,
            })
    }

    // -----------------------------------------------------------------------------------------
    // Brokers
    // -----------------------------------------------------------------------------------------

    /// Creates an ephemeral node; if it exists and this session owns it, reuses it.
    async fn checked_ephemeral_create(&self, path: &str, data: &[u8]) -> Result<Stat, ZkError> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            match self.create_recursive(path, data, NodeMode::Ephemeral).await {
                Ok((_, stat)) => return Ok(stat),
                Err(e) if e.is_node_exists() => match self.get_data(path).await? {
                    Some((_, stat)) if stat.ephemeral_owner == self.session_id() => {
                        return Ok(stat)
                    }
                    Some((_, stat)) => {
                        return Err(ZkError::EphemeralOwnedByOtherSession {
                            path: path.to_owned(),
                            owner: stat.ephemeral_owner,
                            session: self.session_id(),
                        })
                    }
                    // Gone in between: the old owner's session just ended. Try again.
                    None => continue,
                },
                Err(e) => return Err(e),
            }
        }
        Err(ZkError::TooManyRetries {
            what: "ephemeral create",
            attempts: MAX_CONFLICT_RETRIES,
        })
    }

    /// Registers this broker under `/brokers/ids/<id>` (checked ephemeral) and returns the
    /// broker epoch (the node's czxid). Registering again in the same session is a no-op.
    pub async fn register_broker(
        &self,
        info: &BrokerInfo,
        json_version: i32,
    ) -> Result<i64, ZkError> {
        let path = BrokerInfo::path(info.id);
        let stat = self
            .checked_ephemeral_create(&path, &info.encode(json_version))
            .await?;
        tracing::info!(
            "Registered broker {} at path {path} with czxid {}",
            info.id,
            stat.czxid
        );
        Ok(stat.czxid)
    }

    /// Rewrites this broker's registration (e.g. new features); the epoch is unchanged.
    pub async fn update_broker_info(
        &self,
        info: &BrokerInfo,
        json_version: i32,
    ) -> Result<(), ZkError> {
        self.set_data(&BrokerInfo::path(info.id), &info.encode(json_version), None)
            .await
            .map(|_| ())
    }

    pub async fn get_broker(&self, id: i32) -> Result<Option<RegisteredBroker>, ZkError> {
        let path = BrokerInfo::path(id);
        match self.get_data(&path).await? {
            None => Ok(None),
            Some((data, stat)) => {
                let (info, _) = BrokerInfo::decode(id, &data).map_err(data_err(&path))?;
                Ok(Some(RegisteredBroker {
                    info,
                    epoch: stat.czxid,
                }))
            }
        }
    }

    /// Registered broker ids, ascending (children that are not numbers are ignored).
    pub async fn get_sorted_broker_ids(&self) -> Result<Vec<i32>, ZkError> {
        let mut ids: Vec<i32> = self
            .get_children(BROKER_IDS_PATH)
            .await?
            .unwrap_or_default()
            .iter()
            .filter_map(|c| BrokerInfo::parse_id(c))
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Every registered broker with its epoch, by id.
    pub async fn get_all_brokers(&self) -> Result<Vec<RegisteredBroker>, ZkError> {
        let ids = self.get_sorted_broker_ids().await?;
        let paths: Vec<String> = ids.iter().map(|id| BrokerInfo::path(*id)).collect();
        let data = self.get_data_batch(&paths).await?;
        let mut out = Vec::with_capacity(ids.len());
        for ((id, path), d) in ids.iter().zip(&paths).zip(data) {
            if let Some((bytes, stat)) = d {
                let (info, _) = BrokerInfo::decode(*id, &bytes).map_err(data_err(path))?;
                out.push(RegisteredBroker {
                    info,
                    epoch: stat.czxid,
                });
            }
        }
        Ok(out)
    }

    // -----------------------------------------------------------------------------------------
    // Controller
    // -----------------------------------------------------------------------------------------

    /// The active controller's broker id.
    pub async fn get_controller_id(&self) -> Result<Option<i32>, ZkError> {
        match self.get_data(Controller::PATH).await? {
            None => Ok(None),
            Some((data, _)) => Ok(Some(
                Controller::decode(&data)
                    .map_err(data_err(Controller::PATH))?
                    .broker_id,
            )),
        }
    }

    /// The controller epoch and the zkVersion of `/controller_epoch`.
    pub async fn get_controller_epoch(&self) -> Result<Option<(i32, i32)>, ZkError> {
        match self.get_data(ControllerEpoch::PATH).await? {
            None => Ok(None),
            Some((data, stat)) => Ok(Some((
                ControllerEpoch::decode(&data).map_err(data_err(ControllerEpoch::PATH))?,
                stat.version,
            ))),
        }
    }

    /// Tries to become the controller (`registerControllerAndIncrementControllerEpoch`): read
    /// the epoch (creating it as 0 if absent), then atomically create `/controller` and bump the
    /// epoch at the version read. On a conflict, we are elected only if `/controller` names us
    /// and the epoch is the one we wrote (a retried request that had landed).
    pub async fn register_controller_and_increment_epoch(
        &self,
        broker_id: i32,
    ) -> Result<ControllerElection, ZkError> {
        let (epoch, epoch_zk_version) = match self.get_controller_epoch().await? {
            Some(e) => e,
            None => {
                let initial = ControllerEpoch::encode(ControllerEpoch::INITIAL);
                match self
                    .create_recursive(ControllerEpoch::PATH, &initial, NodeMode::Persistent)
                    .await
                {
                    Ok((_, stat)) => (ControllerEpoch::INITIAL, stat.version),
                    Err(e) if e.is_node_exists() => self
                        .get_controller_epoch()
                        .await?
                        .ok_or_else(|| ZkError::Missing(ControllerEpoch::PATH.to_owned()))?,
                    Err(e) => return Err(e),
                }
            }
        };
        let new_epoch = epoch.checked_add(1).ok_or_else(|| ZkError::Data {
            path: ControllerEpoch::PATH.to_owned(),
            source: ZkDataError::Malformed {
                what: "/controller_epoch",
                msg: "epoch overflow".into(),
            },
        })?;
        let ops = [
            ZkOp::Create {
                path: Controller::PATH.to_owned(),
                data: Controller::new(broker_id).encode(),
                mode: NodeMode::Ephemeral,
            },
            ZkOp::SetData {
                path: ControllerEpoch::PATH.to_owned(),
                data: ControllerEpoch::encode(new_epoch),
                version: Some(epoch_zk_version),
            },
        ];
        match self.multi(&ops).await {
            Ok(results) => {
                let version = results
                    .iter()
                    .find_map(|r| match r {
                        ZkOpResult::SetData { stat } if !stat.is_invalid() => Some(stat.version),
                        _ => None,
                    })
                    .unwrap_or(epoch_zk_version + 1);
                tracing::info!("Broker {broker_id} elected controller with epoch {new_epoch}");
                Ok(ControllerElection::Elected {
                    epoch: new_epoch,
                    epoch_zk_version: version,
                })
            }
            Err(e) if e.is_node_exists() || e.is_bad_version() => {
                let current = self.get_controller_id().await?;
                if current == Some(broker_id) {
                    if let Some((e, v)) = self.get_controller_epoch().await? {
                        if e == new_epoch {
                            return Ok(ControllerElection::Elected {
                                epoch: e,
                                epoch_zk_version: v,
                            });
                        }
                    }
                }
                Ok(ControllerElection::NotElected {
                    controller_id: current,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Resigns: deletes `/controller`, fenced by our epoch.
    pub async fn delete_controller(&self, epoch_zk_version: i32) -> Result<(), ZkError> {
        self.delete(Controller::PATH, None, Some(epoch_zk_version))
            .await
            .map(|_| ())
    }

    // -----------------------------------------------------------------------------------------
    // Topics and partitions
    // -----------------------------------------------------------------------------------------

    /// Every topic, sorted.
    pub async fn get_all_topics(&self) -> Result<Vec<String>, ZkError> {
        Ok(self.get_children(TOPICS_PATH).await?.unwrap_or_default())
    }

    pub async fn topic_exists(&self, topic: &str) -> Result<bool, ZkError> {
        Ok(self.exists(&TopicAssignment::path(topic)).await?.is_some())
    }

    /// A topic's assignment and the zkVersion of its znode.
    pub async fn get_topic_assignment(
        &self,
        topic: &str,
    ) -> Result<Option<(TopicAssignment, i32)>, ZkError> {
        let path = TopicAssignment::path(topic);
        match self.get_data(&path).await? {
            None => Ok(None),
            Some((data, stat)) => {
                let (a, _) = TopicAssignment::decode(&data).map_err(data_err(&path))?;
                Ok(Some((a, stat.version)))
            }
        }
    }

    /// Creates `/brokers/topics/<t>`; [`ZkError::TopicExists`] if it is there.
    pub async fn create_topic_assignment(
        &self,
        topic: &str,
        assignment: &TopicAssignment,
        json_version: i32,
    ) -> Result<(), ZkError> {
        let path = TopicAssignment::path(topic);
        match self
            .create_recursive(
                &path,
                &assignment.encode(json_version),
                NodeMode::Persistent,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_node_exists() => Err(ZkError::TopicExists(topic.to_owned())),
            Err(e) => Err(e),
        }
    }

    /// Rewrites `/brokers/topics/<t>` if at `expected_version` (`None` = any), fenced when
    /// `fence` is given (controller writes); returns the new zkVersion.
    pub async fn set_topic_assignment(
        &self,
        topic: &str,
        assignment: &TopicAssignment,
        json_version: i32,
        expected_version: Option<i32>,
        fence: Option<i32>,
    ) -> Result<i32, ZkError> {
        let path = TopicAssignment::path(topic);
        let data = assignment.encode(json_version);
        match fence {
            None => Ok(self.set_data(&path, &data, expected_version).await?.version),
            Some(v) => {
                let op = ZkOp::SetData {
                    path,
                    data,
                    version: expected_version,
                };
                match self.controller_multi(v, &[op]).await?.pop() {
                    Some(ZkOpResult::SetData { stat }) if !stat.is_invalid() => Ok(stat.version),
                    _ => Ok(expected_version.map_or(-1, |e| e + 1)),
                }
            }
        }
    }

    /// Creates a topic as `kafka-topics --create --zookeeper` does
    /// (`AdminZkClient.createTopicWithAssignment`): validates the name and the assignment,
    /// refuses existing, marked-for-deletion and colliding names, writes `/config/topics/<t>`
    /// (even when empty), then `/brokers/topics/<t>`.
    pub async fn create_topic_with_assignment(
        &self,
        topic: &str,
        config: &EntityConfig,
        assignment: &TopicAssignment,
        json_version: i32,
    ) -> Result<(), ZkError> {
        validate_topic_name(topic)?;
        validate_new_topic_assignment(&assignment.partitions)?;
        if self.topic_exists(topic).await? {
            return Err(ZkError::TopicExists(topic.to_owned()));
        }
        if self.is_topic_marked_for_deletion(topic).await? {
            return Err(ZkError::TopicMarkedForDeletion(topic.to_owned()));
        }
        let colliding: Vec<String> = self
            .get_all_topics()
            .await?
            .into_iter()
            .filter(|t| t != topic && has_collision(t, topic))
            .collect();
        if !colliding.is_empty() {
            return Err(ZkError::TopicCollision {
                topic: topic.to_owned(),
                existing: colliding.join(", "),
            });
        }
        self.set_or_create_entity_config(ConfigEntityType::Topics, topic, config)
            .await?;
        self.create_topic_assignment(topic, assignment, json_version)
            .await
    }

    /// A partition's state and the zkVersion of its state znode.
    pub async fn get_partition_state(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<(PartitionState, i32)>, ZkError> {
        let path = PartitionState::path(topic, partition);
        match self.get_data(&path).await? {
            None => Ok(None),
            Some((data, stat)) => Ok(Some((
                PartitionState::decode(&data).map_err(data_err(&path))?,
                stat.version,
            ))),
        }
    }

    /// States of many partitions (absent ones are left out).
    pub async fn get_partition_states(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, (PartitionState, i32)>, ZkError> {
        let paths: Vec<String> = partitions
            .iter()
            .map(|tp| PartitionState::path(&tp.topic, tp.partition))
            .collect();
        let data = self.get_data_batch(&paths).await?;
        let mut out = BTreeMap::new();
        for ((tp, path), d) in partitions.iter().zip(&paths).zip(data) {
            if let Some((bytes, stat)) = d {
                let s = PartitionState::decode(&bytes).map_err(data_err(path))?;
                out.insert(tp.clone(), (s, stat.version));
            }
        }
        Ok(out)
    }

    /// Creates partitions' state znodes (and their parents), each fenced by the controller
    /// epoch (`createTopicPartitionStatesRaw`). Returns each partition's new zkVersion (0) or
    /// its error (e.g. node exists); a lost fence fails the whole call with ControllerMoved.
    pub async fn create_partition_states(
        &self,
        epoch_zk_version: i32,
        states: &[(TopicPartition, PartitionState)],
    ) -> Result<PartitionResults, ZkError> {
        let topics: BTreeSet<&str> = states.iter().map(|(tp, _)| tp.topic.as_str()).collect();
        for t in topics {
            self.fenced_create_if_missing(epoch_zk_version, &topic_partitions_path(t))
                .await?;
        }
        for (tp, _) in states {
            self.fenced_create_if_missing(
                epoch_zk_version,
                &topic_partition_path(&tp.topic, tp.partition),
            )
            .await?;
        }
        let mut out = Vec::with_capacity(states.len());
        for (tp, s) in states {
            let path = PartitionState::path(&tp.topic, tp.partition);
            match self
                .fenced_create(epoch_zk_version, &path, &s.encode())
                .await
            {
                // A new node is at version 0; multi replies may carry no stat (ZOOKEEPER-4026).
                Ok(_) => out.push((tp.clone(), Ok(0))),
                Err(e @ ZkError::ControllerMoved { .. }) => return Err(e),
                Err(e) => out.push((tp.clone(), Err(e))),
            }
        }
        Ok(out)
    }

    async fn fenced_create_if_missing(
        &self,
        epoch_zk_version: i32,
        path: &str,
    ) -> Result<(), ZkError> {
        match self.fenced_create(epoch_zk_version, path, b"").await {
            Ok(_) => Ok(()),
            Err(e) if e.is_node_exists() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Conditionally rewrites partition states, each at its expected zkVersion and fenced
    /// (`updateLeaderAndIsr`). Returns each partition's new zkVersion or error (BADVERSION:
    /// re-read and retry); a lost fence fails the whole call with ControllerMoved.
    pub async fn update_partition_states(
        &self,
        epoch_zk_version: i32,
        updates: &[(TopicPartition, PartitionState, i32)],
    ) -> Result<PartitionResults, ZkError> {
        let mut out = Vec::with_capacity(updates.len());
        for (tp, s, expected) in updates {
            let op = ZkOp::SetData {
                path: PartitionState::path(&tp.topic, tp.partition),
                data: s.encode(),
                version: Some(*expected),
            };
            match self.controller_multi(epoch_zk_version, &[op]).await {
                Ok(mut r) => {
                    let v = match r.pop() {
                        Some(ZkOpResult::SetData { stat }) if !stat.is_invalid() => stat.version,
                        _ => expected + 1,
                    };
                    out.push((tp.clone(), Ok(v)));
                }
                Err(e @ ZkError::ControllerMoved { .. }) => return Err(e),
                Err(e) => out.push((tp.clone(), Err(e))),
            }
        }
        Ok(out)
    }

    // -----------------------------------------------------------------------------------------
    // Topic deletion
    // -----------------------------------------------------------------------------------------

    /// Marks a topic for deletion (`/admin/delete_topics/<t>`); false if already marked.
    pub async fn create_delete_topic_path(&self, topic: &str) -> Result<bool, ZkError> {
        match self
            .create_recursive(&delete_topic_path(topic), b"", NodeMode::Persistent)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_node_exists() => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn is_topic_marked_for_deletion(&self, topic: &str) -> Result<bool, ZkError> {
        Ok(self.exists(&delete_topic_path(topic)).await?.is_some())
    }

    /// Topics marked for deletion, sorted.
    pub async fn get_topic_deletions(&self) -> Result<Vec<String>, ZkError> {
        Ok(self
            .get_children(DELETE_TOPICS_PATH)
            .await?
            .unwrap_or_default())
    }

    /// Removes deletion marks (controller, fenced).
    pub async fn delete_topic_deletions(
        &self,
        topics: &[String],
        epoch_zk_version: i32,
    ) -> Result<(), ZkError> {
        for t in topics {
            self.delete(&delete_topic_path(t), None, Some(epoch_zk_version))
                .await?;
        }
        Ok(())
    }

    /// Deletes `/brokers/topics/<t>` and everything under it (controller, fenced).
    pub async fn delete_topic_znode(
        &self,
        topic: &str,
        epoch_zk_version: i32,
    ) -> Result<(), ZkError> {
        self.delete_recursive(&TopicAssignment::path(topic), Some(epoch_zk_version))
            .await
    }

    /// Deletes `/config/topics/<t>` of each topic (controller, fenced).
    pub async fn delete_topic_configs(
        &self,
        topics: &[String],
        epoch_zk_version: i32,
    ) -> Result<(), ZkError> {
        for t in topics {
            self.delete(
                &EntityConfig::path(ConfigEntityType::Topics, t),
                None,
                Some(epoch_zk_version),
            )
            .await?;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Dynamic configs
    // -----------------------------------------------------------------------------------------

    /// An entity's config overrides (empty when it has none). `name` as stored (sanitized).
    pub async fn get_entity_config(
        &self,
        entity_type: ConfigEntityType,
        name: &str,
    ) -> Result<EntityConfig, ZkError> {
        self.get_entity_config_at(&EntityConfig::path(entity_type, name))
            .await
    }

    /// The config at `/config/<entity_path>` (e.g. `users/alice/clients/app`).
    pub async fn get_entity_config_at(&self, path: &str) -> Result<EntityConfig, ZkError> {
        match self.get_data(path).await? {
            None => Ok(EntityConfig::default()),
            Some((data, _)) if data.is_empty() => Ok(EntityConfig::default()),
            Some((data, _)) => EntityConfig::decode(&data).map_err(data_err(path)),
        }
    }

    /// Writes an entity's config, creating the node if needed.
    pub async fn set_or_create_entity_config(
        &self,
        entity_type: ConfigEntityType,
        name: &str,
        config: &EntityConfig,
    ) -> Result<(), ZkError> {
        let path = EntityConfig::path(entity_type, name);
        let data = config.encode();
        for _ in 0..MAX_CONFLICT_RETRIES {
            match self.set_data(&path, &data, None).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_no_node() => {}
                Err(e) => return Err(e),
            }
            match self
                .create_recursive(&path, &data, NodeMode::Persistent)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_node_exists() => {}
                Err(e) => return Err(e),
            }
        }
        Err(ZkError::TooManyRetries {
            what: "config write",
            attempts: MAX_CONFLICT_RETRIES,
        })
    }

    /// Writes an entity's config, then a change notification for it (`changeEntityConfig`).
    /// Returns the notification's path.
    pub async fn change_entity_config(
        &self,
        entity_type: ConfigEntityType,
        name: &str,
        config: &EntityConfig,
    ) -> Result<String, ZkError> {
        self.set_or_create_entity_config(entity_type, name, config)
            .await?;
        self.create_config_change_notification(&format!("{}/{name}", entity_type.name()))
            .await
    }

    /// Creates `/config/changes/config_change_<seq>` for `entity_path`; returns its path.
    pub async fn create_config_change_notification(
        &self,
        entity_path: &str,
    ) -> Result<String, ZkError> {
        self.make_sure_persistent_path_exists(ConfigChangeNotification::PATH)
            .await?;
        let n = ConfigChangeNotification {
            entity_path: entity_path.to_owned(),
        };
        let (path, _) = self
            .create(
                ConfigChangeNotification::SEQUENTIAL_PATH,
                &n.encode(),
                NodeMode::PersistentSequential,
            )
            .await?;
        Ok(path)
    }

    /// Change notification children (`config_change_…`), oldest first.
    pub async fn get_config_change_notifications(&self) -> Result<Vec<String>, ZkError> {
        self.sequential_children(
            ConfigChangeNotification::PATH,
            ConfigChangeNotification::PREFIX,
        )
        .await
    }

    pub async fn get_config_change_notification(
        &self,
        child: &str,
    ) -> Result<Option<(ConfigChangeNotification, Stat)>, ZkError> {
        let path = ConfigChangeNotification::path(child);
        match self.get_data(&path).await? {
            None => Ok(None),
            Some((data, stat)) => Ok(Some((
                ConfigChangeNotification::decode(&data).map_err(data_err(&path))?,
                stat,
            ))),
        }
    }

    pub async fn delete_config_change_notifications(
        &self,
        children: &[String],
    ) -> Result<(), ZkError> {
        for c in children {
            self.delete(&ConfigChangeNotification::path(c), None, None)
                .await?;
        }
        Ok(())
    }

    async fn sequential_children(
        &self,
        parent: &str,
        prefix: &str,
    ) -> Result<Vec<String>, ZkError> {
        let mut c: Vec<String> = self
            .get_children(parent)
            .await?
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .collect();
        c.sort_by_key(|c| crate::zkdata::sequence_number(c, prefix).unwrap_or(i64::MAX));
        Ok(c)
    }

    // -----------------------------------------------------------------------------------------
    // ISR change notifications
    // -----------------------------------------------------------------------------------------

    /// Creates `/isr_change_notification/isr_change_<seq>`; returns its path.
    pub async fn create_isr_change_notification(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<String, ZkError> {
        let n = IsrChangeNotification {
            partitions: partitions.to_vec(),
        };
        let (path, _) = self
            .create_recursive(
                IsrChangeNotification::SEQUENTIAL_PATH,
                &n.encode(),
                NodeMode::PersistentSequential,
            )
            .await?;
        Ok(path)
    }

    /// ISR change notification children, oldest first.
    pub async fn get_isr_change_notifications(&self) -> Result<Vec<String>, ZkError> {
        self.sequential_children(IsrChangeNotification::PATH, IsrChangeNotification::PREFIX)
            .await
    }

    /// The partitions named by these notifications (missing ones are skipped).
    pub async fn get_partitions_from_isr_change_notifications(
        &self,
        children: &[String],
    ) -> Result<Vec<TopicPartition>, ZkError> {
        let paths: Vec<String> = children
            .iter()
            .map(|c| IsrChangeNotification::path(c))
            .collect();
        let mut out = Vec::new();
        for (path, d) in paths.iter().zip(self.get_data_batch(&paths).await?) {
            if let Some((data, _)) = d {
                out.extend(
                    IsrChangeNotification::decode(&data)
                        .map_err(data_err(path))?
                        .partitions,
                );
            }
        }
        Ok(out)
    }

    /// Deletes processed notifications (controller, fenced).
    pub async fn delete_isr_change_notifications(
        &self,
        children: &[String],
        epoch_zk_version: i32,
    ) -> Result<(), ZkError> {
        for c in children {
            self.delete(
                &IsrChangeNotification::path(c),
                None,
                Some(epoch_zk_version),
            )
            .await?;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Reassignment and preferred election requests
    // -----------------------------------------------------------------------------------------

    pub async fn get_partition_reassignment(
        &self,
    ) -> Result<Option<(PartitionReassignment, i32)>, ZkError> {
        match self.get_data(PartitionReassignment::PATH).await? {
            None => Ok(None),
            Some((data, stat)) => Ok(Some((
                PartitionReassignment::decode(&data)
                    .map_err(data_err(PartitionReassignment::PATH))?,
                stat.version,
            ))),
        }
    }

    /// Creates `/admin/reassign_partitions` (the tool's request); node-exists means a
    /// reassignment is already in progress.
    pub async fn create_partition_reassignment(
        &self,
        r: &PartitionReassignment,
    ) -> Result<(), ZkError> {
        self.create_recursive(
            PartitionReassignment::PATH,
            &r.encode(),
            NodeMode::Persistent,
        )
        .await
        .map(|_| ())
    }

    /// Rewrites the pending reassignments (controller, fenced), or deletes the node when
    /// none remain.
    pub async fn set_or_delete_partition_reassignment(
        &self,
        r: &PartitionReassignment,
        epoch_zk_version: i32,
    ) -> Result<(), ZkError> {
        if r.partitions.is_empty() {
            return self
                .delete(PartitionReassignment::PATH, None, Some(epoch_zk_version))
                .await
                .map(|_| ());
        }
        let op = ZkOp::SetData {
            path: PartitionReassignment::PATH.to_owned(),
            data: r.encode(),
            version: None,
        };
        self.controller_multi(epoch_zk_version, &[op])
            .await
            .map(|_| ())
    }

    pub async fn get_preferred_replica_election(
        &self,
    ) -> Result<Option<PreferredReplicaElection>, ZkError> {
        match self.get_data(PreferredReplicaElection::PATH).await? {
            None => Ok(None),
            Some((data, _)) => Ok(Some(
                PreferredReplicaElection::decode(&data)
                    .map_err(data_err(PreferredReplicaElection::PATH))?,
            )),
        }
    }

    pub async fn create_preferred_replica_election(
        &self,
        e: &PreferredReplicaElection,
    ) -> Result<(), ZkError> {
        self.create_recursive(
            PreferredReplicaElection::PATH,
            &e.encode(),
            NodeMode::Persistent,
        )
        .await
        .map(|_| ())
    }

    pub async fn delete_preferred_replica_election(
        &self,
        epoch_zk_version: i32,
    ) -> Result<(), ZkError> {
        self.delete(PreferredReplicaElection::PATH, None, Some(epoch_zk_version))
            .await
            .map(|_| ())
    }

    // -----------------------------------------------------------------------------------------
    // Producer ids
    // -----------------------------------------------------------------------------------------

    /// Claims the next block of producer ids for `broker` with a conditional update of
    /// `/latest_producer_id_block`, retrying on conflicts. A request whose success was hidden
    /// by a connection loss retries too and wastes a block, which is harmless; handing out a
    /// block twice is not, so no write is ever assumed to have landed.
    pub async fn allocate_producer_id_block(
        &self,
        broker: i32,
    ) -> Result<ProducerIdBlock, ZkError> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let (previous, version) = match self.get_data(ProducerIdBlock::PATH).await? {
                None => (None, None),
                Some((data, stat)) if data.is_empty() => (None, Some(stat.version)),
                Some((data, stat)) => (
                    Some(ProducerIdBlock::decode(&data).map_err(data_err(ProducerIdBlock::PATH))?),
                    Some(stat.version),
                ),
            };
            let next = ProducerIdBlock::next(previous.as_ref(), broker)
                .ok_or(ZkError::ProducerIdsExhausted)?;
            let data = next.encode();
            let written = match version {
                Some(v) => self
                    .set_data(ProducerIdBlock::PATH, &data, Some(v))
                    .await
                    .map(|_| ()),
                None => self
                    .create_recursive(ProducerIdBlock::PATH, &data, NodeMode::Persistent)
                    .await
                    .map(|_| ()),
            };
            match written {
                Ok(()) => return Ok(next),
                Err(e) if e.is_bad_version() || e.is_node_exists() || e.is_no_node() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ZkError::TooManyRetries {
            what: "producer id block allocation",
            attempts: MAX_CONFLICT_RETRIES,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Watches
    // -----------------------------------------------------------------------------------------

    /// Follows the children of `path`: sends the sorted child list (`None` while the node does
    /// not exist) now and after every change. The channel closes when the session ends or
    /// this client is dropped; dropping the receiver stops the watch.
    pub fn watch_children(&self, path: &str) -> mpsc::Receiver<Option<Vec<String>>> {
        let client = self.client.clone();
        self.spawn_watch(path, move |path| {
            let client = client.clone();
            async move {
                loop {
                    match client.get_and_watch_children(&path).await {
                        Ok((mut children, _, w)) => {
                            children.sort();
                            return Ok((Some(children), w));
                        }
                        Err(zkc::Error::NoNode) => {}
                        Err(e) => return Err(e),
                    }
                    match client.check_and_watch_stat(&path).await {
                        Ok((None, w)) => return Ok((None, w)),
                        Ok((Some(_), _)) => continue, // created meanwhile: read it
                        Err(e) => return Err(e),
                    }
                }
            }
        })
    }

    /// Follows the data of `path`: sends its data and stat (`None` while it does not exist)
    /// now and after every change, creation or deletion.
    pub fn watch_data(&self, path: &str) -> mpsc::Receiver<Option<NodeData>> {
        let client = self.client.clone();
        self.spawn_watch(path, move |path| {
            let client = client.clone();
            async move {
                loop {
                    match client.get_and_watch_data(&path).await {
                        Ok((data, stat, w)) => return Ok((Some(NodeData { data, stat }), w)),
                        Err(zkc::Error::NoNode) => {}
                        Err(e) => return Err(e),
                    }
                    match client.check_and_watch_stat(&path).await {
                        Ok((None, w)) => return Ok((None, w)),
                        Ok((Some(_), _)) => continue,
                        Err(e) => return Err(e),
                    }
                }
            }
        })
    }

    /// Runs `read` (which reads the node and sets a one-shot watch) in a loop: send the
    /// snapshot if it differs from the last one sent, wait for the watch, repeat.
    fn spawn_watch<T, F, Fut>(&self, path: &str, read: F) -> mpsc::Receiver<Option<T>>
    where
        T: Clone + PartialEq + Send + 'static,
        F: Fn(String) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(Option<T>, zkc::OneshotWatcher), zkc::Error>> + Send,
    {
        let (tx, rx) = mpsc::channel(WATCH_CHANNEL_CAPACITY);
        let mut shutdown = self.shutdown.subscribe();
        let path = path.to_owned();
        tokio::spawn(async move {
            let mut last: Option<Option<T>> = None;
            loop {
                let (snapshot, watcher) = tokio::select! {
                    r = read(path.clone()) => match r {
                        Ok(x) => x,
                        Err(e) if is_transient(&e) => {
                            tokio::time::sleep(WATCH_RETRY_DELAY).await;
                            continue;
                        }
                        Err(e) => {
                            tracing::debug!("watch on {path} ends: {e}");
                            return;
                        }
                    },
                    _ = shutdown.changed() => return,
                };
                if last.as_ref() != Some(&snapshot) {
                    tokio::select! {
                        sent = tx.send(snapshot.clone()) => if sent.is_err() { return },
                        _ = shutdown.changed() => return,
                    }
                    last = Some(snapshot);
                }
                tokio::select! {
                    event = watcher.changed() => {
                        if event.event_type == zkc::EventType::Session
                            && event.session_state.is_terminated()
                        {
                            return;
                        }
                    }
                    _ = tx.closed() => return,
                    _ = shutdown.changed() => return,
                }
            }
        });
        rx
    }
}

fn is_transient(e: &zkc::Error) -> bool {
    matches!(e, zkc::Error::ConnectionLoss | zkc::Error::Timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(child_path("/", "a"), "/a");
        assert_eq!(child_path("/a", "b"), "/a/b");
        assert_eq!(parent_path("/a/b"), Some("/a"));
        assert_eq!(parent_path("/a"), Some("/"));
        assert_eq!(parent_path("/"), None);
        assert_eq!(parent_path("a"), None);
    }

    #[test]
    fn error_classification() {
        let e = ZkError::OpFailed {
            index: 1,
            path: "/x".into(),
            source: zkc::Error::NodeExists,
        };
        assert!(e.is_node_exists() && !e.is_no_node());
        let e = ZkError::Zk {
            op: "get",
            path: "/x".into(),
            source: zkc::Error::SessionExpired,
        };
        assert!(e.is_session_terminated());
        assert!(!ZkError::ControllerMoved {
            expected_zk_version: 1
        }
        .is_bad_version());
        assert!(SessionState::Expired.is_terminated());
        assert!(!SessionState::Disconnected.is_terminated());
    }
}
