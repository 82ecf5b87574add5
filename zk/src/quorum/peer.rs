//! The network half of a QuorumPeer: it runs Fast Leader Election on the election port for
//! the life of the server, and after each decision opens the quorum-port side of the new
//! role (the leader's listener, or a follower's connection to the leader) and hands it to
//! the core, which owns the ZAB state machines and the data.
//!
//! The conversation with the core:
//! - peer → core: `CoreMsg::BecomeLeader` / `BecomeFollower` with the I/O handle, then the
//!   connection's events as `CoreMsg::Zab`, all tagged with a generation so that events of a
//!   role the core has already left are ignored; `CoreMsg::LostLeader` when the leader
//!   cannot be reached;
//! - core → peer: [`PeerCmd::Looking`] when a role ends (after the core reloaded its database
//!   from disk, with the log position to vote with) and [`PeerCmd::Serving`] once synced.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc;

use super::cnxmanager::{CnxConfig, DriverEvent, ElectionDriver, QuorumCnxManager};
use super::election::{Election, ElectionConfig, ServerState, Vote};

/// How long a quorum for our vote must stand unchallenged before we decide. Java waits
/// 200 ms; on the networks an ensemble runs on, notifications arrive within a few ms, and
/// every ms here is a ms without a leader after a failure. Deciding on an incomplete
/// picture only costs another round (the chosen leader gets no quorum and steps down).
/// Unanswered notifications are re-sent after this long too (Java: 200 ms, doubling).
const FINALIZE_WAIT: Duration = Duration::from_millis(50);
use super::election_wire::{LearnerType, QuorumConfig, QuorumServer, ServerAddr};
use super::zab_io::{self, QuorumListener};
use super::zab_wire::PacketDecoder;
use crate::config::{Config, ServerSpec};
use crate::core::{CoreMsg, ZabEvent};

/// From the core to the peer task.
#[derive(Debug)]
pub enum PeerCmd {
    /// The role ended: start a new election round with this log position.
    Looking { last_zxid: i64, current_epoch: i64 },
    /// Synced and serving in `epoch`: votes sent to LOOKING peers carry it.
    Serving { epoch: i64 },
}

/// The ensemble as zoo.cfg describes it.
#[derive(Debug, Clone)]
pub struct Ensemble {
    pub my_id: u64,
    pub servers: Vec<ServerSpec>,
    pub tick_time: u64,
    pub init_limit: u64,
    pub sync_limit: u64,
}

impl Ensemble {
    pub fn from_config(cfg: &Config) -> Option<Ensemble> {
        Some(Ensemble {
            my_id: cfg.my_id?,
            servers: cfg.servers.clone(),
            tick_time: cfg.tick_time as u64,
            init_limit: cfg.init_limit.unwrap_or(10) as u64,
            sync_limit: cfg.sync_limit.unwrap_or(5) as u64,
        })
    }

    pub fn voters(&self) -> BTreeSet<u64> {
        self.servers
            .iter()
            .filter(|s| !s.observer)
            .map(|s| s.id)
            .collect()
    }

    pub fn me(&self) -> Option<&ServerSpec> {
        self.servers.iter().find(|s| s.id == self.my_id)
    }

    /// The QuorumMaj text that rides in notifications and NEWLEADER.
    pub fn quorum_config(&self) -> QuorumConfig {
        let mut c = QuorumConfig::default();
        for s in &self.servers {
            c.servers.insert(
                s.id,
                QuorumServer {
                    id: s.id,
                    addrs: vec![ServerAddr {
                        host: s.host.clone(),
                        quorum_port: s.quorum_port,
                        election_port: s.election_port,
                    }],
                    learner_type: if s.observer {
                        LearnerType::Observer
                    } else {
                        LearnerType::Participant
                    },
                    client: None,
                },
            );
        }
        c
    }

    fn addr(host: &str, port: u16) -> Option<SocketAddr> {
        use std::net::ToSocketAddrs;
        (host, port).to_socket_addrs().ok()?.next()
    }
}

/// Errors that stop the peer before it runs.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("myid {0} has no server.{0} line")]
    NotInEnsemble(u64),
    #[error("cannot resolve {0}")]
    Resolve(String),
    #[error("cannot listen for elections on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Runs elections until the core goes away. `last_zxid`/`current_epoch` are the database's
/// position at start.
pub async fn run(
    ens: Ensemble,
    last_zxid: i64,
    current_epoch: i64,
    core: crossbeam_channel::Sender<CoreMsg>,
    mut cmds: mpsc::UnboundedReceiver<PeerCmd>,
) -> Result<(), PeerError> {
    let me = ens
        .me()
        .cloned()
        .ok_or(PeerError::NotInEnsemble(ens.my_id))?;
    let listen = Ensemble::addr(&me.host, me.election_port)
        .ok_or_else(|| PeerError::Resolve(format!("{}:{}", me.host, me.election_port)))?;
    let peers: BTreeMap<u64, String> = ens
        .servers
        .iter()
        .filter(|s| s.id != ens.my_id)
        .map(|s| (s.id, format!("{}:{}", s.host, s.election_port)))
        .collect();
    let mut cnx_cfg = CnxConfig::new(ens.my_id, listen, peers);
    cnx_cfg.handshake_timeout = Duration::from_millis(ens.tick_time * ens.init_limit);
    let (cnx, recv) = QuorumCnxManager::start(cnx_cfg)
        .await
        .map_err(|source| PeerError::Bind {
            addr: listen,
            source,
        })?;
    let election = Election::with_config(
        ens.my_id,
        ens.voters(),
        last_zxid,
        current_epoch,
        ElectionConfig {
            finalize_wait: FINALIZE_WAIT,
            min_notification_interval: FINALIZE_WAIT,
            ..ElectionConfig::default()
        },
    );
    let mut driver = ElectionDriver::new(election, cnx, recv, ens.quorum_config().to_text());
    let mut gen: u64 = 0;
    // The leader's listener lives as long as the role.
    let mut listener: Option<QuorumListener> = None;
    let mut role_task: Option<tokio::task::JoinHandle<()>> = None;
    tracing::info!("LOOKING");
    let mut decided = driver.start();
    loop {
        if let Some((state, vote)) = decided.take() {
            gen += 1;
            if let Some(t) = role_task.take() {
                t.abort();
            }
            listener = None;
            match state {
                ServerState::Leading => {
                    tracing::info!("LEADING (epoch from vote 0x{:x})", vote.peer_epoch);
                    match Ensemble::addr(&me.host, me.quorum_port) {
                        Some(addr) => {
                            match QuorumListener::bind(addr, PacketDecoder::default()).await {
                                Ok((l, events)) => {
                                    let io = l.io();
                                    listener = Some(l);
                                    let _ = core.send(CoreMsg::BecomeLeader { gen, io });
                                    role_task = Some(tokio::spawn(pump(
                                        gen,
                                        events,
                                        core.clone(),
                                        ZabEvent::Leader,
                                    )));
                                }
                                Err(e) => {
                                    tracing::error!("cannot listen on quorum port {addr}: {e}");
                                    let _ = core.send(CoreMsg::LostLeader {
                                        gen,
                                        why: format!("cannot listen on {addr}: {e}"),
                                    });
                                }
                            }
                        }
                        None => {
                            let _ = core.send(CoreMsg::LostLeader {
                                gen,
                                why: format!("cannot resolve {}", me.host),
                            });
                        }
                    }
                }
                ServerState::Following | ServerState::Observing => {
                    tracing::info!(
                        "FOLLOWING - LEADER ELECTION TOOK - leader is {}",
                        vote.leader
                    );
                    role_task = Some(tokio::spawn(follow(gen, ens.clone(), vote, core.clone())));
                }
                ServerState::Looking => {}
            }
        }
        tokio::select! {
            events = driver.step() => {
                for e in events {
                    match e {
                        DriverEvent::Decided(s, v) => decided = Some((s, v)),
                        DriverEvent::Closed => return Ok(()),
                        DriverEvent::Malformed(from, err) => {
                            tracing::warn!("bad notification from {from}: {err}");
                        }
                        _ => {}
                    }
                }
            }
            cmd = cmds.recv() => match cmd {
                None => {
                    driver.cnx.halt();
                    return Ok(());
                }
                Some(PeerCmd::Looking { last_zxid, current_epoch }) => {
                    if let Some(t) = role_task.take() {
                        t.abort();
                    }
                    if let Some(l) = listener.take() {
                        l.shutdown();
                    }
                    tracing::info!("LOOKING (last zxid 0x{last_zxid:x}, epoch {current_epoch})");
                    driver.election.set_log_position(last_zxid, current_epoch);
                    decided = driver.start();
                }
                Some(PeerCmd::Serving { epoch }) => driver.election.update_election_vote(epoch),
            }
        }
    }
}

/// Forwards one role's connection events to the core.
async fn pump<E>(
    gen: u64,
    mut events: mpsc::UnboundedReceiver<E>,
    core: crossbeam_channel::Sender<CoreMsg>,
    wrap: fn(E) -> ZabEvent,
) {
    while let Some(ev) = events.recv().await {
        if core.send(CoreMsg::Zab { gen, ev: wrap(ev) }).is_err() {
            return;
        }
    }
}

/// Connects to the elected leader's quorum port and pumps its packets to the core.
async fn follow(gen: u64, ens: Ensemble, vote: Vote, core: crossbeam_channel::Sender<CoreMsg>) {
    let Some(leader) = ens.servers.iter().find(|s| s.id as i64 == vote.leader) else {
        let _ = core.send(CoreMsg::LostLeader {
            gen,
            why: format!("leader {} is not in the configuration", vote.leader),
        });
        return;
    };
    let Some(addr) = Ensemble::addr(&leader.host, leader.quorum_port) else {
        let _ = core.send(CoreMsg::LostLeader {
            gen,
            why: format!("cannot resolve {}", leader.host),
        });
        return;
    };
    // Learner.connectToLeader keeps trying for initLimit ticks: 20 attempts with the
    // backoff of `connect_to_leader` add up to about that by default.
    let timeout = Duration::from_millis((ens.tick_time * ens.sync_limit).max(1000));
    match zab_io::connect_to_leader(addr, 20, timeout).await {
        Ok((io, events)) => {
            let _ = core.send(CoreMsg::BecomeFollower {
                gen,
                io,
                leader: leader.id,
            });
            pump(gen, events, core, ZabEvent::Learner).await;
        }
        Err(e) => {
            let _ = core.send(CoreMsg::LostLeader {
                gen,
                why: format!("cannot connect to leader {} at {addr}: {e}", leader.id),
            });
        }
    }
}
