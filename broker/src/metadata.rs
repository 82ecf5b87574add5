//! The broker's metadata cache: live brokers, the controller, and every topic's partitions
//! with leader, epoch, replicas and ISR — what UpdateMetadata carries in Kafka. The
//! controller publishes a whole new snapshot on every change; request handlers read the
//! current snapshot without locking out the writer.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::config::EndPoint;
use crate::zkdata::Uuid;

/// One partition as clients see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionMeta {
    /// -1 when no replica is live.
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// One topic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicMeta {
    pub id: Option<Uuid>,
    pub partitions: BTreeMap<i32, PartitionMeta>,
    /// Marked for deletion (`/admin/delete_topics`).
    pub deleting: bool,
}

/// A live broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveBroker {
    pub id: i32,
    pub endpoints: Vec<EndPoint>,
    pub rack: Option<String>,
}

impl LiveBroker {
    /// The endpoint of `listener`, as clients connected there must see this broker.
    pub fn endpoint(&self, listener: &str) -> Option<&EndPoint> {
        self.endpoints.iter().find(|e| e.listener_name == listener)
    }
}

/// One consistent view of the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataSnapshot {
    pub controller_id: Option<i32>,
    pub brokers: BTreeMap<i32, LiveBroker>,
    pub topics: BTreeMap<String, TopicMeta>,
}

impl MetadataSnapshot {
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionMeta> {
        self.topics.get(topic)?.partitions.get(&partition)
    }
}

/// The current snapshot, replaced as a whole.
#[derive(Default)]
pub struct MetadataCache {
    current: RwLock<Arc<MetadataSnapshot>>,
    changed: tokio::sync::Notify,
}

impl MetadataCache {
    pub fn snapshot(&self) -> Arc<MetadataSnapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn publish(&self, snapshot: MetadataSnapshot) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
        self.changed.notify_waiters();
    }

    /// Waits until `ready` holds for the current snapshot or `timeout` passes; returns
    /// whether it held.
    pub async fn wait_for(
        &self,
        timeout: std::time::Duration,
        ready: impl Fn(&MetadataSnapshot) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if ready(&self.snapshot()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return ready(&self.snapshot());
            }
        }
    }
}
