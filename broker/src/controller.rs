//! The ZooKeeper-mode controller: elected through `/controller` (fenced by
//! `/controller_epoch`), it watches `/brokers/ids`, `/brokers/topics` (and each topic's
//! assignment), `/admin/delete_topics`, `/isr_change_notification` and `/config/changes`,
//! and on every change reconciles: a partition without a state gets one (leader = first live
//! replica), a partition whose leader died is re-led from its live ISR (or goes offline with
//! leader -1), topics marked for deletion are deleted. States are written with fenced multi
//! writes; the result is delivered as LeaderAndIsr/UpdateMetadata — in-process to this
//! broker (`Broker::apply_metadata`), over the network to the others (LeaderAndIsr v4 with
//! the partitions each hosts, UpdateMetadata v6 with everything, StopReplica v3 for deleted
//! topics), through their inter-broker listener. Followers do not replicate yet: a replica
//! that is not the leader holds no log.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::metadata::{LiveBroker, MetadataSnapshot, PartitionMeta, TopicMeta};
use crate::server::Broker;
use crate::zkclient::{ControllerElection, KafkaZkClient, ZkError};
use crate::zkdata::{
    ConfigChangeNotification, ConfigEntityType, Controller, IsrChangeNotification, PartitionState,
    TopicPartition, BROKER_IDS_PATH, DELETE_TOPICS_PATH, TOPICS_PATH,
};

/// Pause before retrying after a ZooKeeper error (the session may be reconnecting).
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// Runs election and, while elected, the controller, until the broker shuts down.
pub async fn run(broker: Arc<Broker>) {
    let mut shutdown = broker.shutdown_signal();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let zk = broker.zk();
        let result = tokio::select! {
            r = elect_and_serve(&broker, &zk) => r,
            _ = shutdown.changed() => return,
        };
        if let Err(e) = result {
            tracing::warn!("controller: {e}; retrying");
            tokio::select! {
                _ = tokio::time::sleep(RETRY_DELAY) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

async fn elect_and_serve(broker: &Arc<Broker>, zk: &Arc<KafkaZkClient>) -> Result<(), ZkError> {
    let election = zk
        .register_controller_and_increment_epoch(broker.broker_id)
        .await?;
    // The watch's first snapshot is the node's state now, so a change right after the
    // election is not missed.
    let mut controller_rx = zk.watch_data(Controller::PATH);
    match election {
        ControllerElection::Elected {
            epoch,
            epoch_zk_version,
        } => {
            let mut c = ActiveController {
                broker: broker.clone(),
                zk: zk.clone(),
                epoch,
                epoch_zk_version,
                topic_watches: HashMap::new(),
            };
            c.serve(controller_rx).await
        }
        ControllerElection::NotElected { controller_id } => {
            tracing::info!(
                "Broker {} is not the controller (controller: {controller_id:?})",
                broker.broker_id
            );
            broker.set_controller_id(controller_id);
            // Wait until /controller goes away (or the session ends), then run again.
            loop {
                match controller_rx.recv().await {
                    None => return Err(ZkError::Missing("controller watch ended".into())),
                    Some(None) => return Ok(()),
                    Some(Some(data)) => {
                        let id = Controller::decode(&data.data).ok().map(|c| c.broker_id);
                        broker.set_controller_id(id);
                    }
                }
            }
        }
    }
}

enum Event {
    Changed,
    ControllerGone,
}

struct ActiveController {
    broker: Arc<Broker>,
    zk: Arc<KafkaZkClient>,
    epoch: i32,
    epoch_zk_version: i32,
    topic_watches: HashMap<String, tokio::task::JoinHandle<()>>,
}

impl Drop for ActiveController {
    fn drop(&mut self) {
        for (_, h) in self.topic_watches.drain() {
            h.abort();
        }
    }
}

/// Forwards every snapshot of a watch as one `Changed` event.
fn forward<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
    tx: mpsc::Sender<Event>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            if tx.send(Event::Changed).await.is_err() {
                return;
            }
        }
    })
}

impl ActiveController {
    async fn serve(
        &mut self,
        mut controller_rx: mpsc::Receiver<Option<crate::zkclient::NodeData>>,
    ) -> Result<(), ZkError> {
        let id = self.broker.broker_id;
        self.broker.set_controller_id(Some(id));
        let (tx, mut rx) = mpsc::channel::<Event>(64);
        let mut tasks = vec![
            forward(self.zk.watch_children(BROKER_IDS_PATH), tx.clone()),
            forward(self.zk.watch_children(TOPICS_PATH), tx.clone()),
            forward(self.zk.watch_children(DELETE_TOPICS_PATH), tx.clone()),
            forward(
                self.zk.watch_children(IsrChangeNotification::PATH),
                tx.clone(),
            ),
            forward(
                self.zk.watch_children(ConfigChangeNotification::PATH),
                tx.clone(),
            ),
        ];
        {
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(d) = controller_rx.recv().await {
                    let ours = d
                        .as_ref()
                        .and_then(|d| Controller::decode(&d.data).ok())
                        .is_some_and(|c| c.broker_id == id);
                    if !ours {
                        let _ = tx.send(Event::ControllerGone).await;
                        return;
                    }
                }
                let _ = tx.send(Event::ControllerGone).await;
            }));
        }
        let broker = self.broker.clone();
        let poke = broker.controller_poke();
        // The first round runs at once: load everything on election.
        poke.notify_one();
        let result = loop {
            // Coalesce a burst of events into one reconcile.
            let mut gone = false;
            tokio::select! {
                ev = rx.recv() => match ev {
                    None | Some(Event::ControllerGone) => gone = true,
                    Some(Event::Changed) => {}
                },
                _ = poke.notified() => {}
            }
            while let Ok(ev) = rx.try_recv() {
                if matches!(ev, Event::ControllerGone) {
                    gone = true;
                }
            }
            if gone {
                tracing::info!("Broker {id} resigned as controller");
                break Ok(());
            }
            if let Err(e) = self.reconcile(&tx).await {
                break Err(e);
            }
        };
        for t in tasks {
            t.abort();
        }
        result
    }

    /// Brings partition states in line with live brokers and assignments, deletes topics
    /// marked for deletion, and publishes the result to this broker.
    async fn reconcile(&mut self, tx: &mpsc::Sender<Event>) -> Result<(), ZkError> {
        let zk = self.zk.clone();
        let registered = zk.get_all_brokers().await?;
        let epochs: BTreeMap<i32, i64> = registered.iter().map(|b| (b.info.id, b.epoch)).collect();
        let brokers: BTreeMap<i32, LiveBroker> = registered
            .into_iter()
            .map(|b| {
                (
                    b.info.id,
                    LiveBroker {
                        id: b.info.id,
                        endpoints: b.info.endpoints,
                        rack: b.info.rack,
                    },
                )
            })
            .collect();
        let live: BTreeSet<i32> = brokers.keys().copied().collect();
        let topics = zk.get_all_topics().await?;
        let mut deletions: BTreeSet<String> = zk.get_topic_deletions().await?.into_iter().collect();

        // ISR change notifications only matter with followers; consume them.
        let isr = zk.get_isr_change_notifications().await?;
        if !isr.is_empty() {
            zk.delete_isr_change_notifications(&isr, self.epoch_zk_version)
                .await?;
        }
        // Config changes need no parsing: topic configs are re-read below. Notifications are
        // left in place (Kafka purges them after 15 minutes).

        if !self.broker.config.delete_topic_enable && !deletions.is_empty() {
            for t in &deletions {
                tracing::info!(
                    "Ignoring request to delete topic {t} since delete.topic.enable is false"
                );
            }
            zk.delete_topic_deletions(
                &deletions.iter().cloned().collect::<Vec<_>>(),
                self.epoch_zk_version,
            )
            .await?;
            deletions.clear();
        }

        let mut snapshot = MetadataSnapshot {
            controller_id: Some(self.broker.broker_id),
            brokers,
            topics: BTreeMap::new(),
        };
        let mut configs = BTreeMap::new();
        let mut deleted = Vec::new();
        for topic in &topics {
            if deletions.contains(topic) {
                deleted.push(topic.clone());
                continue;
            }
            if !self.topic_watches.contains_key(topic) {
                let h = forward(
                    zk.watch_data(&crate::zkdata::TopicAssignment::path(topic)),
                    tx.clone(),
                );
                self.topic_watches.insert(topic.clone(), h);
            }
            let Some((assignment, _)) = zk.get_topic_assignment(topic).await? else {
                continue;
            };
            let tps: Vec<TopicPartition> = assignment
                .partitions
                .keys()
                .map(|p| TopicPartition::new(topic.clone(), *p))
                .collect();
            let states = zk.get_partition_states(&tps).await?;
            let mut creates = Vec::new();
            let mut updates = Vec::new();
            let mut meta = TopicMeta {
                id: assignment.topic_id,
                ..TopicMeta::default()
            };
            for (p, replicas) in &assignment.partitions {
                let tp = TopicPartition::new(topic.clone(), *p);
                let live_replicas: Vec<i32> = replicas
                    .iter()
                    .copied()
                    .filter(|r| live.contains(r))
                    .collect();
                let state = match states.get(&tp) {
                    None => {
                        let Some(leader) = live_replicas.first().copied() else {
                            // Kafka leaves a partition without live replicas in NewPartition.
                            meta.partitions.insert(
                                *p,
                                PartitionMeta {
                                    leader: PartitionState::NO_LEADER,
                                    leader_epoch: -1,
                                    replicas: replicas.clone(),
                                    isr: Vec::new(),
                                },
                            );
                            continue;
                        };
                        let s = PartitionState {
                            leader,
                            leader_epoch: PartitionState::INITIAL_LEADER_EPOCH,
                            isr: live_replicas.clone(),
                            controller_epoch: self.epoch,
                            leader_recovery_state: 0,
                        };
                        creates.push((tp.clone(), s.clone()));
                        s
                    }
                    Some((current, version)) => {
                        match next_state(
                            current,
                            replicas,
                            &live,
                            self.broker.config.unclean_leader_election_enable,
                        ) {
                            None => current.clone(),
                            Some(mut s) => {
                                s.controller_epoch = self.epoch;
                                updates.push((tp.clone(), s.clone(), *version));
                                s
                            }
                        }
                    }
                };
                meta.partitions.insert(
                    *p,
                    PartitionMeta {
                        leader: state.leader,
                        leader_epoch: state.leader_epoch,
                        replicas: replicas.clone(),
                        isr: state.isr.clone(),
                    },
                );
            }
            if !creates.is_empty() {
                for (tp, r) in zk
                    .create_partition_states(self.epoch_zk_version, &creates)
                    .await?
                {
                    if let Err(e) = r {
                        tracing::warn!("cannot create state of {tp}: {e}");
                        let _ = tx.try_send(Event::Changed);
                    }
                }
            }
            if !updates.is_empty() {
                for (tp, r) in zk
                    .update_partition_states(self.epoch_zk_version, &updates)
                    .await?
                {
                    if let Err(e) = r {
                        // BADVERSION: someone else wrote; re-read on the next round.
                        tracing::warn!("cannot update state of {tp}: {e}");
                        let _ = tx.try_send(Event::Changed);
                    }
                }
            }
            let config = zk
                .get_entity_config(ConfigEntityType::Topics, topic)
                .await?
                .config;
            configs.insert(topic.clone(), config);
            snapshot.topics.insert(topic.clone(), meta);
        }
        // Topic deletion: local replicas first (StopReplica with delete), then the znodes.
        let mut stops: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
        for topic in &deleted {
            tracing::info!("Deleting topic {topic}");
            if let Some((a, _)) = zk.get_topic_assignment(topic).await? {
                for (p, replicas) in &a.partitions {
                    for r in replicas {
                        if *r != self.broker.broker_id && live.contains(r) {
                            stops.entry(*r).or_default().push((topic.clone(), *p));
                        }
                    }
                }
            }
            self.broker.delete_topic_replicas(topic);
            zk.delete_topic_znode(topic, self.epoch_zk_version).await?;
            zk.delete_topic_configs(std::slice::from_ref(topic), self.epoch_zk_version)
                .await?;
            if let Some(h) = self.topic_watches.remove(topic) {
                h.abort();
            }
        }
        if !deleted.is_empty() {
            zk.delete_topic_deletions(&deleted, self.epoch_zk_version)
                .await?;
        }
        self.topic_watches.retain(|t, h| {
            let keep = topics.contains(t) && !deleted.contains(t);
            if !keep {
                h.abort();
            }
            keep
        });
        let requests = self.requests_for_others(&snapshot, &epochs, &stops);
        self.broker.apply_metadata(snapshot, configs).await;
        deliver(&self.broker, requests).await;
        Ok(())
    }

    /// LeaderAndIsr, UpdateMetadata and StopReplica for every other live broker.
    fn requests_for_others(
        &self,
        snapshot: &MetadataSnapshot,
        epochs: &BTreeMap<i32, i64>,
        stops: &BTreeMap<i32, Vec<(String, i32)>>,
    ) -> Vec<(String, Requests)> {
        use kafka_protocol::messages::leader_and_isr_request::{
            LeaderAndIsrLiveLeader, LeaderAndIsrPartitionState, LeaderAndIsrTopicState,
        };
        use kafka_protocol::messages::stop_replica_request::{
            StopReplicaPartitionState, StopReplicaTopicState,
        };
        use kafka_protocol::messages::update_metadata_request::{
            UpdateMetadataBroker, UpdateMetadataEndpoint, UpdateMetadataPartitionState,
            UpdateMetadataTopicState,
        };
        use kafka_protocol::messages::{
            BrokerId, LeaderAndIsrRequest, StopReplicaRequest, TopicName, UpdateMetadataRequest,
        };
        let s = |x: &str| kafka_protocol::protocol::StrBytes::from_string(x.to_owned());
        let ids = |v: &[i32]| v.iter().map(|b| BrokerId(*b)).collect::<Vec<_>>();
        let listener = &self.broker.config.inter_broker_listener_name;
        let me = self.broker.broker_id;

        let mut um = UpdateMetadataRequest::default();
        um.controller_id = BrokerId(me);
        um.controller_epoch = self.epoch;
        for b in snapshot.brokers.values() {
            let mut ub = UpdateMetadataBroker::default();
            ub.id = BrokerId(b.id);
            ub.rack = b.rack.as_deref().map(s);
            ub.endpoints = b
                .endpoints
                .iter()
                .map(|e| {
                    let mut ue = UpdateMetadataEndpoint::default();
                    ue.host = s(e.host.as_deref().unwrap_or_default());
                    ue.port = i32::from(e.port);
                    ue.listener = s(&e.listener_name);
                    ue.security_protocol = match e.security_protocol {
                        crate::config::SecurityProtocol::Plaintext => 0,
                        crate::config::SecurityProtocol::Ssl => 1,
                        crate::config::SecurityProtocol::SaslPlaintext => 2,
                        crate::config::SecurityProtocol::SaslSsl => 3,
                    };
                    ue
                })
                .collect();
            um.live_brokers.push(ub);
        }
        for (topic, meta) in &snapshot.topics {
            let mut ts = UpdateMetadataTopicState::default();
            ts.topic_name = TopicName(s(topic));
            for (p, pm) in &meta.partitions {
                let mut ps = UpdateMetadataPartitionState::default();
                ps.topic_name = TopicName(s(topic));
                ps.partition_index = *p;
                ps.controller_epoch = self.epoch;
                ps.leader = BrokerId(pm.leader);
                ps.leader_epoch = pm.leader_epoch;
                ps.isr = ids(&pm.isr);
                ps.replicas = ids(&pm.replicas);
                ps.offline_replicas = ids(&pm
                    .replicas
                    .iter()
                    .copied()
                    .filter(|r| !snapshot.brokers.contains_key(r))
                    .collect::<Vec<_>>());
                ts.partition_states.push(ps);
            }
            um.topic_states.push(ts);
        }

        let mut out = Vec::new();
        for (id, b) in &snapshot.brokers {
            if *id == me {
                continue;
            }
            let Some(ep) = b.endpoint(listener) else {
                tracing::warn!("broker {id} has no {listener} listener; not updating it");
                continue;
            };
            let addr = format!("{}:{}", ep.host.as_deref().unwrap_or("127.0.0.1"), ep.port);
            let epoch = epochs.get(id).copied().unwrap_or(-1);
            let mut li = LeaderAndIsrRequest::default();
            li.controller_id = BrokerId(me);
            li.controller_epoch = self.epoch;
            li.broker_epoch = epoch;
            let mut leaders = BTreeMap::new();
            for (topic, meta) in &snapshot.topics {
                let mut ts = LeaderAndIsrTopicState::default();
                ts.topic_name = TopicName(s(topic));
                for (p, pm) in &meta.partitions {
                    if !pm.replicas.contains(id) {
                        continue;
                    }
                    let mut ps = LeaderAndIsrPartitionState::default();
                    ps.topic_name = TopicName(s(topic));
                    ps.partition_index = *p;
                    ps.controller_epoch = self.epoch;
                    ps.leader = BrokerId(pm.leader);
                    ps.leader_epoch = pm.leader_epoch;
                    ps.isr = ids(&pm.isr);
                    ps.replicas = ids(&pm.replicas);
                    ts.partition_states.push(ps);
                    if let Some(lb) = snapshot.brokers.get(&pm.leader) {
                        if let Some(le) = lb.endpoint(listener) {
                            leaders
                                .insert(pm.leader, (le.host.clone().unwrap_or_default(), le.port));
                        }
                    }
                }
                if !ts.partition_states.is_empty() {
                    li.topic_states.push(ts);
                }
            }
            for (lid, (host, port)) in leaders {
                let mut l = LeaderAndIsrLiveLeader::default();
                l.broker_id = BrokerId(lid);
                l.host_name = s(&host);
                l.port = i32::from(port);
                li.live_leaders.push(l);
            }
            let mut um_b = um.clone();
            um_b.broker_epoch = epoch;
            let stop = stops.get(id).map(|parts| {
                let mut sr = StopReplicaRequest::default();
                sr.controller_id = BrokerId(me);
                sr.controller_epoch = self.epoch;
                sr.broker_epoch = epoch;
                let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
                for (t, p) in parts {
                    by_topic.entry(t.as_str()).or_default().push(*p);
                }
                for (t, ps) in by_topic {
                    let mut ts = StopReplicaTopicState::default();
                    ts.topic_name = TopicName(s(t));
                    for p in ps {
                        let mut x = StopReplicaPartitionState::default();
                        x.partition_index = p;
                        x.leader_epoch = -2;
                        x.delete_partition = true;
                        ts.partition_states.push(x);
                    }
                    sr.topic_states.push(ts);
                }
                sr
            });
            out.push((
                addr,
                Requests {
                    leader_and_isr: li,
                    update_metadata: um_b,
                    stop_replica: stop,
                },
            ));
        }
        out
    }
}

/// What one broker is sent after a reconcile.
struct Requests {
    leader_and_isr: kafka_protocol::messages::LeaderAndIsrRequest,
    update_metadata: kafka_protocol::messages::UpdateMetadataRequest,
    stop_replica: Option<kafka_protocol::messages::StopReplicaRequest>,
}

/// Timeout of one delivery to one broker.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends each broker its requests (concurrently across brokers, in order per broker).
/// A broker that cannot be reached is logged and gets everything again at the next round.
async fn deliver(broker: &Arc<Broker>, requests: Vec<(String, Requests)>) {
    use crate::interbroker::BrokerConnection;
    let client_id = format!("controller-{}", broker.broker_id);
    let mut set = tokio::task::JoinSet::new();
    for (addr, r) in requests {
        let client_id = client_id.clone();
        set.spawn(async move {
            let result = async {
                let mut c = BrokerConnection::connect(&addr, &client_id, DELIVERY_TIMEOUT).await?;
                if let Some(sr) = &r.stop_replica {
                    c.send(sr, 3).await?;
                }
                let li = c.send(&r.leader_and_isr, 4).await?;
                let um = c.send(&r.update_metadata, 6).await?;
                Ok::<_, crate::interbroker::InterBrokerError>((li.error_code, um.error_code))
            }
            .await;
            match result {
                Ok((0, 0)) => {}
                Ok((li, um)) => tracing::warn!("broker {addr} refused controller requests: LeaderAndIsr {li}, UpdateMetadata {um}"),
                Err(e) => tracing::warn!("controller request failed: {e}"),
            }
        });
    }
    while set.join_next().await.is_some() {}
}

/// The new state of a partition with a state znode, if it must change: a dead leader is
/// replaced by the first live ISR member (by replica order; any live replica when unclean
/// election is enabled), or the partition goes offline; dead replicas leave the ISR.
/// Every change bumps the leader epoch, as Kafka's `newLeaderAndIsr` does.
fn next_state(
    current: &PartitionState,
    replicas: &[i32],
    live: &BTreeSet<i32>,
    unclean: bool,
) -> Option<PartitionState> {
    let live_isr: Vec<i32> = current
        .isr
        .iter()
        .copied()
        .filter(|r| live.contains(r))
        .collect();
    let bump = |leader: i32, isr: Vec<i32>| PartitionState {
        leader,
        leader_epoch: current.leader_epoch.saturating_add(1),
        isr,
        ..current.clone()
    };
    if current.leader >= 0 && live.contains(&current.leader) {
        if live_isr.len() != current.isr.len() && !live_isr.is_empty() {
            return Some(bump(current.leader, live_isr));
        }
        return None;
    }
    let candidate = replicas
        .iter()
        .copied()
        .find(|r| live_isr.contains(r))
        .or_else(|| {
            unclean
                .then(|| replicas.iter().copied().find(|r| live.contains(r)))
                .flatten()
        });
    match candidate {
        Some(leader) => {
            let isr = if live_isr.contains(&leader) {
                live_isr
            } else {
                vec![leader]
            };
            Some(bump(leader, isr))
        }
        // Offline: keep the last ISR so a returning member can lead again (clean election).
        None if current.leader != PartitionState::NO_LEADER => {
            Some(bump(PartitionState::NO_LEADER, current.isr.clone()))
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(leader: i32, epoch: i32, isr: &[i32]) -> PartitionState {
        PartitionState {
            leader,
            leader_epoch: epoch,
            isr: isr.to_vec(),
            controller_epoch: 1,
            leader_recovery_state: 0,
        }
    }

    #[test]
    fn live_leader_keeps_state() {
        let live = BTreeSet::from([0, 1]);
        assert_eq!(next_state(&st(0, 3, &[0, 1]), &[0, 1], &live, false), None);
    }

    #[test]
    fn dead_leader_moves_to_live_isr_member() {
        let live = BTreeSet::from([1]);
        let s = next_state(&st(0, 3, &[0, 1]), &[0, 1], &live, false).unwrap();
        assert_eq!((s.leader, s.leader_epoch, s.isr), (1, 4, vec![1]));
    }

    #[test]
    fn no_live_isr_goes_offline_then_returns() {
        let none = BTreeSet::new();
        let off = next_state(&st(0, 3, &[0]), &[0], &none, false).unwrap();
        assert_eq!(
            (off.leader, off.leader_epoch, off.isr.clone()),
            (-1, 4, vec![0])
        );
        assert_eq!(next_state(&off, &[0], &none, false), None);
        let back = next_state(&off, &[0], &BTreeSet::from([0]), false).unwrap();
        assert_eq!((back.leader, back.leader_epoch), (0, 5));
    }

    #[test]
    fn unclean_election_only_when_enabled() {
        let live = BTreeSet::from([1]);
        let s = next_state(&st(0, 3, &[0]), &[0, 1], &live, false).unwrap();
        assert_eq!(s.leader, -1);
        let s = next_state(&st(0, 3, &[0]), &[0, 1], &live, true).unwrap();
        assert_eq!((s.leader, s.isr), (1, vec![1]));
    }

    #[test]
    fn dead_follower_leaves_isr() {
        let live = BTreeSet::from([0]);
        let s = next_state(&st(0, 3, &[0, 1]), &[0, 1], &live, false).unwrap();
        assert_eq!((s.leader, s.leader_epoch, s.isr), (0, 4, vec![0]));
    }
}
