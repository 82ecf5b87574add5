//! Drives the coordinator through whole conversations, with time passed in by hand.

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::ResponseError as E;

use super::*;
use crate::group::codec::{Assignment, OffsetsTopicRecord, Subscription, TopicPartitions};

const SESSION: i32 = 10_000;
const REBALANCE: i32 = 30_000;

fn subscription(topics: &[&str]) -> Bytes {
    Subscription {
        version: 1,
        topics: topics.iter().map(|t| t.to_string()).collect(),
        user_data: None,
        owned_partitions: vec![],
        generation_id: -1,
        rack_id: None,
    }
    .encode()
    .unwrap()
    .into()
}

fn assignment(topic: &str, partitions: &[i32]) -> Bytes {
    Assignment {
        version: 1,
        assigned_partitions: vec![TopicPartitions {
            topic: topic.into(),
            partitions: partitions.to_vec(),
        }],
        user_data: None,
    }
    .encode()
    .unwrap()
    .into()
}

fn protocols(names: &[&str]) -> Vec<Protocol> {
    names
        .iter()
        .map(|n| Protocol {
            name: n.to_string(),
            metadata: subscription(&["t"]),
        })
        .collect()
}

/// One coordinator owning every group (a single `__consumer_offsets` partition), the
/// responses it released, and the log it asked to append to.
struct Harness {
    c: GroupCoordinator,
    now: i64,
    next_request: u64,
    responses: HashMap<RequestId, Response>,
    abandoned: Vec<RequestId>,
    /// Every appended record, in order: what `load` would read back.
    log: Vec<(Option<Bytes>, Option<Bytes>)>,
    /// Appends waiting for `ack` when `auto_ack` is off.
    unacked: Vec<AppendId>,
    auto_ack: bool,
    wake_at: Option<i64>,
}

fn config(initial_delay: i32) -> GroupConfig {
    GroupConfig {
        offsets_topic_num_partitions: 1,
        initial_rebalance_delay_ms: initial_delay,
        ..GroupConfig::default()
    }
}

impl Harness {
    fn new(initial_delay: i32) -> Self {
        Self::with_config(config(initial_delay))
    }

    fn with_config(cfg: GroupConfig) -> Self {
        let mut h = Harness {
            c: GroupCoordinator::with_seed(cfg, 7),
            now: 1_000,
            next_request: 0,
            responses: HashMap::new(),
            abandoned: Vec::new(),
            log: Vec::new(),
            unacked: Vec::new(),
            auto_ack: true,
            wake_at: None,
        };
        h.c.begin_load(0);
        let (_, out) = h.c.load(0, Vec::new(), h.now);
        h.absorb(out);
        h
    }

    fn absorb(&mut self, out: Vec<Outcome>) {
        for o in out {
            match o {
                Outcome::Respond { request, response } => {
                    assert!(
                        self.responses.insert(request, response).is_none(),
                        "{request:?} answered twice"
                    );
                }
                Outcome::Abandon(r) => self.abandoned.push(r),
                Outcome::WakeAt(t) => self.wake_at = Some(t),
                Outcome::Append(a) => {
                    assert_eq!(a.partition, 0);
                    assert_eq!(a.timestamp_ms, self.now);
                    for r in a.records {
                        self.log.push((Some(r.key), r.value));
                    }
                    if a.awaits_completion {
                        if self.auto_ack {
                            let out = self.c.commit_appended(a.id, None, self.now);
                            self.absorb(out);
                        } else {
                            self.unacked.push(a.id);
                        }
                    }
                }
            }
        }
    }

    fn ack_all(&mut self, error: Option<E>) {
        for id in std::mem::take(&mut self.unacked) {
            let out = self.c.commit_appended(id, error, self.now);
            self.absorb(out);
        }
    }

    fn request(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    fn advance_to(&mut self, t: i64) {
        self.now = t;
        let out = self.c.tick(t);
        self.absorb(out);
    }

    fn join_req(&self, group: &str, member: &str, version: i16, protos: &[&str]) -> JoinGroup {
        JoinGroup {
            api_version: version,
            group_id: group.into(),
            member_id: member.into(),
            group_instance_id: None,
            client_id: "consumer-1".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: SESSION,
            rebalance_timeout_ms: REBALANCE,
            protocol_type: "consumer".into(),
            protocols: protocols(protos),
        }
    }

    fn send_join(&mut self, req: JoinGroup) -> RequestId {
        let r = self.request();
        let out = self.c.handle_join_group(r, req, self.now);
        self.absorb(out);
        r
    }

    /// JoinGroup v3 (no member id round trip) with the range protocol.
    fn join(&mut self, group: &str, member: &str) -> RequestId {
        let req = self.join_req(group, member, 3, &["range"]);
        self.send_join(req)
    }

    fn sync(
        &mut self,
        group: &str,
        member: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
    ) -> RequestId {
        let r = self.request();
        let req = SyncGroup {
            group_id: group.into(),
            generation_id: generation,
            member_id: member.into(),
            group_instance_id: None,
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            assignments,
        };
        let out = self.c.handle_sync_group(r, req, self.now);
        self.absorb(out);
        r
    }

    fn heartbeat(&mut self, group: &str, member: &str, generation: i32) -> Option<E> {
        let r = self.request();
        let req = Heartbeat {
            group_id: group.into(),
            generation_id: generation,
            member_id: member.into(),
            group_instance_id: None,
        };
        let out = self.c.handle_heartbeat(r, req, self.now);
        self.absorb(out);
        match self.responses.remove(&r) {
            Some(Response::Heartbeat(e)) => e,
            other => panic!("heartbeat answered {other:?}"),
        }
    }

    fn leave(&mut self, group: &str, members: &[&str]) -> LeaveGroupResult {
        let r = self.request();
        let req = LeaveGroup {
            group_id: group.into(),
            members: members
                .iter()
                .map(|m| LeavingMember {
                    member_id: m.to_string(),
                    group_instance_id: None,
                })
                .collect(),
        };
        let out = self.c.handle_leave_group(r, req, self.now);
        self.absorb(out);
        match self.responses.remove(&r) {
            Some(Response::LeaveGroup(l)) => l,
            other => panic!("leave answered {other:?}"),
        }
    }

    fn commit(
        &mut self,
        group: &str,
        member: &str,
        generation: i32,
        offsets: &[(&str, i32, i64)],
    ) -> RequestId {
        let r = self.request();
        let req = OffsetCommit {
            group_id: group.into(),
            generation_id: generation,
            member_id: member.into(),
            group_instance_id: None,
            retention_time_ms: -1,
            partitions: offsets
                .iter()
                .map(|(t, p, o)| CommitPartition {
                    topic: t.to_string(),
                    partition: *p,
                    offset: *o,
                    leader_epoch: 3,
                    metadata: Some("meta".into()),
                    commit_timestamp: -1,
                })
                .collect(),
        };
        let out = self.c.handle_offset_commit(r, req, self.now);
        self.absorb(out);
        r
    }

    fn commit_errors(&mut self, r: RequestId) -> Vec<Option<E>> {
        match self.responses.remove(&r) {
            Some(Response::OffsetCommit(c)) => c.partitions.into_iter().map(|(_, e)| e).collect(),
            other => panic!("commit answered {other:?}"),
        }
    }

    fn join_result(&mut self, r: RequestId) -> JoinGroupResult {
        match self.responses.remove(&r) {
            Some(Response::JoinGroup(j)) => j,
            other => panic!("join {r:?} answered {other:?}"),
        }
    }

    fn sync_result(&mut self, r: RequestId) -> SyncGroupResult {
        match self.responses.remove(&r) {
            Some(Response::SyncGroup(s)) => s,
            other => panic!("sync {r:?} answered {other:?}"),
        }
    }

    /// Heartbeats every 3s (as a live client does, whatever the answer) until `until`.
    fn keep_alive(&mut self, group: &str, member: &str, generation: i32, until: i64) {
        self.keep_all_alive(group, &[member], generation, until);
    }

    fn keep_all_alive(&mut self, group: &str, members: &[&str], generation: i32, until: i64) {
        while self.now + 3_000 <= until {
            let t = self.now + 3_000;
            self.advance_to(t);
            for m in members {
                self.heartbeat(group, m, generation);
            }
        }
        self.advance_to(until);
    }

    fn answered(&self, r: RequestId) -> bool {
        self.responses.contains_key(&r)
    }

    fn offset(&self, group: &str, topic: &str, partition: i32) -> i64 {
        let tp = [TopicPartition::new(topic, partition)];
        let f = self.c.fetch_offsets(group, Some(&tp), false);
        assert_eq!(f.error, None);
        f.partitions[0].offset
    }

    fn state(&self, group: &str) -> String {
        self.c.describe_group(group).state
    }

    /// A single consumer's first rebalance: join, sync with an assignment. Returns its id.
    fn stable_single(&mut self, group: &str) -> String {
        let j = self.join(group, "");
        let j = self.join_result(j);
        assert_eq!(j.error, None);
        let s = self.sync(
            group,
            &j.member_id,
            j.generation_id,
            vec![(j.member_id.clone(), assignment("t", &[0]))],
        );
        assert_eq!(self.sync_result(s).error, None);
        j.member_id
    }

    /// Two consumers in a Stable group (no initial delay). Returns (leader, follower, generation).
    fn stable_pair(&mut self, group: &str) -> (String, String, i32) {
        let a = self.stable_single(group);
        let jb = self.join(group, "");
        let ja = self.join(group, &a);
        let (ja, jb) = (self.join_result(ja), self.join_result(jb));
        assert_eq!(ja.generation_id, 2);
        let b = jb.member_id.clone();
        let sb = self.sync(group, &b, 2, vec![]);
        let sa = self.sync(
            group,
            &a,
            2,
            vec![
                (a.clone(), assignment("t", &[0])),
                (b.clone(), assignment("t", &[1])),
            ],
        );
        assert_eq!(self.sync_result(sa).error, None);
        assert_eq!(self.sync_result(sb).error, None);
        (a, b, 2)
    }
}

#[test]
fn single_consumer_join_sync_heartbeat_commit_fetch() {
    let mut h = Harness::new(0);
    let j = h.join("g", "");
    let j = h.join_result(j);
    assert_eq!(j.error, None);
    assert_eq!(j.generation_id, 1);
    assert_eq!(j.leader, j.member_id);
    assert_eq!(j.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(j.protocol_name.as_deref(), Some("range"));
    assert_eq!(j.members.len(), 1);
    assert_eq!(j.members[0].metadata, subscription(&["t"]));
    assert!(j.member_id.starts_with("consumer-1-"));
    assert_eq!(h.state("g"), "CompletingRebalance");

    let me = j.member_id.clone();
    let s = h.sync("g", &me, 1, vec![(me.clone(), assignment("t", &[0, 1]))]);
    let s = h.sync_result(s);
    assert_eq!(s.error, None);
    assert_eq!(s.assignment, assignment("t", &[0, 1]));
    assert_eq!(s.protocol_name.as_deref(), Some("range"));
    assert_eq!(h.state("g"), "Stable");

    // The assignment was persisted as a group metadata record.
    let (k, v) = h.log.last().unwrap().clone();
    match OffsetsTopicRecord::decode(&k.unwrap(), v.as_deref()).unwrap() {
        OffsetsTopicRecord::Group {
            key,
            value: Some(v),
        } => {
            assert_eq!(key.group, "g");
            assert_eq!(v.generation, 1);
            assert_eq!(v.leader.as_deref(), Some(me.as_str()));
            assert_eq!(v.members[0].assignment, assignment("t", &[0, 1]));
        }
        other => panic!("unexpected record {other:?}"),
    }

    assert_eq!(h.heartbeat("g", &me, 1), None);
    let c = h.commit("g", &me, 1, &[("t", 0, 42), ("t", 1, 7)]);
    assert_eq!(h.commit_errors(c), vec![None, None]);
    assert_eq!(h.offset("g", "t", 0), 42);
    assert_eq!(h.offset("g", "t", 1), 7);
    assert_eq!(h.offset("g", "t", 2), -1);

    let all = h.c.fetch_offsets("g", None, false);
    assert_eq!(all.partitions.len(), 2);
    assert_eq!(all.partitions[0].metadata, "meta");
    assert_eq!(all.partitions[0].leader_epoch, 3);

    let d = h.c.describe_group("g");
    assert_eq!(d.protocol, "range");
    assert_eq!(d.members.len(), 1);
    assert_eq!(d.members[0].assignment, assignment("t", &[0, 1]));
    assert_eq!(d.members[0].client_host, "/127.0.0.1");
}

#[test]
fn member_id_required_then_rejoin() {
    let mut h = Harness::new(0);
    let req = h.join_req("g", "", 4, &["range"]);
    let r = h.send_join(req);
    let j = h.join_result(r);
    assert_eq!(j.error, Some(E::MemberIdRequired));
    // clientId-<UUID v4>
    let uuid = j.member_id.strip_prefix("consumer-1-").unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(uuid.as_bytes()[14], b'4');
    assert_eq!(h.state("g"), "Empty");

    let req = h.join_req("g", &j.member_id, 4, &["range"]);
    let r = h.send_join(req);
    let j2 = h.join_result(r);
    assert_eq!(j2.error, None);
    assert_eq!(j2.member_id, j.member_id);
    assert_eq!(j2.leader, j.member_id);

    // An id the coordinator never handed out is refused.
    let req = h.join_req("g", "consumer-1-bogus", 4, &["range"]);
    let r = h.send_join(req);
    assert_eq!(h.join_result(r).error, Some(E::UnknownMemberId));
}

#[test]
fn pending_member_id_expires_after_session_timeout() {
    let mut h = Harness::new(0);
    let (a, _b, gen) = h.stable_pair("g");
    // A new member gets an id but does not come back: the rebalance started by the
    // leader's rejoin waits for it only until its session timeout.
    let req = h.join_req("g", "", 4, &["range"]);
    let r = h.send_join(req);
    assert_eq!(h.join_result(r).error, Some(E::MemberIdRequired));
    let ja = h.join("g", &a);
    assert!(!h.answered(ja));
    assert_eq!(h.heartbeat("g", &_b, gen), Some(E::RebalanceInProgress));
    let jb = h.join("g", &_b);
    assert!(
        !h.answered(ja) && !h.answered(jb),
        "waits for the pending member"
    );
    h.advance_to(h.now + i64::from(SESSION));
    assert_eq!(h.join_result(ja).generation_id, gen + 1);
    assert_eq!(h.join_result(jb).generation_id, gen + 1);
}

#[test]
fn initial_rebalance_delay_is_respected_and_extended() {
    let mut h = Harness::new(3_000);
    let t0 = h.now;
    let ra = h.join("g", "");
    assert!(!h.answered(ra));
    assert_eq!(h.wake_at, Some(t0 + 3_000));
    assert_eq!(h.state("g"), "PreparingRebalance");

    h.advance_to(t0 + 100);
    let rb = h.join("g", "");
    h.advance_to(t0 + 2_999);
    assert!(!h.answered(ra) && !h.answered(rb));
    // A member arrived during the delay: wait one more delay.
    h.advance_to(t0 + 3_000);
    assert!(!h.answered(ra) && !h.answered(rb));
    assert_eq!(h.wake_at, Some(t0 + 6_000));
    h.advance_to(t0 + 5_999);
    assert!(!h.answered(ra));
    h.advance_to(t0 + 6_000);
    let (ja, jb) = (h.join_result(ra), h.join_result(rb));
    assert_eq!(ja.generation_id, 1);
    assert_eq!(jb.generation_id, 1);
    // The first joiner leads and alone sees the members.
    assert_eq!(ja.leader, ja.member_id);
    assert_eq!(jb.leader, ja.member_id);
    assert_eq!(ja.members.len(), 2);
    assert!(jb.members.is_empty());

    // The follower's SyncGroup waits for the leader's.
    let sb = h.sync("g", &jb.member_id, 1, vec![]);
    assert!(!h.answered(sb));
    let sa = h.sync(
        "g",
        &ja.member_id,
        1,
        vec![
            (ja.member_id.clone(), assignment("t", &[0])),
            (jb.member_id.clone(), assignment("t", &[1])),
        ],
    );
    assert_eq!(h.sync_result(sa).assignment, assignment("t", &[0]));
    assert_eq!(h.sync_result(sb).assignment, assignment("t", &[1]));
}

#[test]
fn initial_delay_stops_at_rebalance_timeout() {
    let mut h = Harness::new(3_000);
    let t0 = h.now;
    let mut req = h.join_req("g", "", 3, &["range"]);
    req.rebalance_timeout_ms = 5_000;
    let ra = h.send_join(req.clone());
    h.advance_to(t0 + 1_000);
    h.send_join(req.clone());
    // Delay 3000, remaining 2000: one extension of min(3000, 2000).
    h.advance_to(t0 + 3_000);
    h.send_join(req);
    h.advance_to(t0 + 4_999);
    assert!(!h.answered(ra));
    // The extension ends here and the remaining time is now 0: no further delay.
    h.advance_to(t0 + 5_000);
    let j = h.join_result(ra);
    assert_eq!(j.members.len(), 3);
}

#[test]
fn third_member_triggers_rebalance() {
    let mut h = Harness::new(0);
    let (a, b, gen) = h.stable_pair("g");
    let rc = h.join("g", "");
    assert!(!h.answered(rc));
    assert_eq!(h.state("g"), "PreparingRebalance");
    assert_eq!(h.heartbeat("g", &a, gen), Some(E::RebalanceInProgress));
    assert_eq!(h.heartbeat("g", &b, gen), Some(E::RebalanceInProgress));
    // Commits from the current generation are still accepted while preparing.
    let c = h.commit("g", &a, gen, &[("t", 0, 5)]);
    assert_eq!(h.commit_errors(c), vec![None]);

    let ra = h.join("g", &a);
    assert!(!h.answered(ra));
    let rb = h.join("g", &b);
    // Everyone rejoined: the join phase ends without waiting for the timeout.
    let (ja, jb, jc) = (h.join_result(ra), h.join_result(rb), h.join_result(rc));
    assert_eq!(ja.generation_id, gen + 1);
    assert_eq!(jb.generation_id, gen + 1);
    assert_eq!(jc.generation_id, gen + 1);
    assert_eq!(ja.leader, a);
    assert_eq!(ja.members.len(), 3);
    assert!(jc.members.is_empty());
    assert_eq!(h.state("g"), "CompletingRebalance");
    // Until the assignment is in, heartbeats are fine and commits are refused.
    assert_eq!(h.heartbeat("g", &a, gen + 1), None);
    let c = h.commit("g", &a, gen + 1, &[("t", 0, 6)]);
    assert_eq!(h.commit_errors(c), vec![Some(E::RebalanceInProgress)]);
    assert_eq!(h.heartbeat("g", &a, gen), Some(E::IllegalGeneration));
}

#[test]
fn members_that_do_not_rejoin_are_dropped_at_rebalance_timeout() {
    let mut h = Harness::new(0);
    let (a, b, gen) = h.stable_pair("g");
    let t0 = h.now;
    // The leader's rejoin of a Stable group starts a rebalance; b keeps heartbeating but
    // never rejoins.
    let ra = h.join("g", &a);
    assert_eq!(h.heartbeat("g", &b, gen), Some(E::RebalanceInProgress));
    h.keep_alive("g", &b, gen, t0 + i64::from(REBALANCE) - 1);
    assert!(!h.answered(ra));
    h.advance_to(t0 + i64::from(REBALANCE));
    let ja = h.join_result(ra);
    assert_eq!(ja.generation_id, gen + 1);
    assert_eq!(ja.members.len(), 1);
    assert_eq!(h.heartbeat("g", &b, gen + 1), Some(E::UnknownMemberId));
}

#[test]
fn session_timeout_removes_member_and_rebalances() {
    let mut h = Harness::new(0);
    let (a, b, gen) = h.stable_pair("g");
    let t0 = h.now;
    // a heartbeats every 3s, b is silent.
    let mut t = t0;
    while t + 3_000 < t0 + i64::from(SESSION) {
        t += 3_000;
        h.advance_to(t);
        assert_eq!(h.heartbeat("g", &a, gen), None);
    }
    h.advance_to(t0 + i64::from(SESSION) - 1);
    assert_eq!(h.state("g"), "Stable");
    h.advance_to(t0 + i64::from(SESSION));
    assert_eq!(h.state("g"), "PreparingRebalance");
    assert_eq!(h.heartbeat("g", &a, gen), Some(E::RebalanceInProgress));
    assert_eq!(h.heartbeat("g", &b, gen), Some(E::UnknownMemberId));
    let ra = h.join("g", &a);
    let ja = h.join_result(ra);
    assert_eq!(ja.generation_id, gen + 1);
    assert_eq!(ja.leader, a);
    assert_eq!(ja.members.len(), 1);
}

#[test]
fn member_that_never_syncs_is_removed() {
    let mut h = Harness::new(0);
    let a = h.stable_single("g");
    let t0 = h.now;
    let rb = h.join("g", "");
    let ra = h.join("g", &a);
    let (ja, jb) = (h.join_result(ra), h.join_result(rb));
    // Only the leader syncs; b never does.
    let sa = h.sync(
        "g",
        &a,
        ja.generation_id,
        vec![(a.clone(), assignment("t", &[0]))],
    );
    assert_eq!(h.sync_result(sa).error, None);
    // b's heartbeats are answered (the group is Stable) but do not replace SyncGroup.
    let members = [a.as_str(), jb.member_id.as_str()];
    h.keep_all_alive(
        "g",
        &members,
        ja.generation_id,
        t0 + i64::from(REBALANCE) - 1,
    );
    assert_eq!(h.state("g"), "Stable");
    h.advance_to(t0 + i64::from(REBALANCE));
    assert_eq!(h.state("g"), "PreparingRebalance");
    assert_eq!(
        h.heartbeat("g", &jb.member_id, ja.generation_id),
        Some(E::UnknownMemberId)
    );
}

#[test]
fn leave_group() {
    let mut h = Harness::new(0);
    let (a, b, gen) = h.stable_pair("g");
    let l = h.leave("g", &[&b, "nobody"]);
    assert_eq!(l.error, None);
    assert_eq!(l.members[0].error, None);
    assert_eq!(l.members[1].error, Some(E::UnknownMemberId));
    assert_eq!(l.legacy_error(), Some(E::UnknownMemberId));
    assert_eq!(h.state("g"), "PreparingRebalance");
    let ra = h.join("g", &a);
    let ja = h.join_result(ra);
    assert_eq!(ja.generation_id, gen + 1);
    assert_eq!(ja.members.len(), 1);
    let s = h.sync("g", &a, gen + 1, vec![]);
    assert_eq!(h.sync_result(s).error, None);

    // The last member leaving empties the group, which is recorded.
    let before = h.log.len();
    assert_eq!(h.leave("g", &[&a]).members[0].error, None);
    assert_eq!(h.state("g"), "Empty");
    let (k, v) = h.log[before].clone();
    match OffsetsTopicRecord::decode(&k.unwrap(), v.as_deref()).unwrap() {
        OffsetsTopicRecord::Group { value: Some(v), .. } => {
            assert!(v.members.is_empty());
            assert_eq!(v.generation, gen + 2);
            assert_eq!(v.protocol, None);
            assert_eq!(v.leader, None);
        }
        other => panic!("unexpected {other:?}"),
    }
    // Leaving a group that does not exist.
    assert_eq!(
        h.leave("other", &["x"]).members[0].error,
        Some(E::UnknownMemberId)
    );
}

#[test]
fn stale_commits_are_rejected() {
    let mut h = Harness::new(0);
    let (a, b, gen) = h.stable_pair("g");
    let c = h.commit("g", &a, gen - 1, &[("t", 0, 1)]);
    assert_eq!(h.commit_errors(c), vec![Some(E::IllegalGeneration)]);
    let c = h.commit("g", "ghost", gen, &[("t", 0, 1)]);
    assert_eq!(h.commit_errors(c), vec![Some(E::UnknownMemberId)]);
    // A standalone commit into a group with members.
    let c = h.commit("g", "", -1, &[("t", 0, 1)]);
    assert_eq!(h.commit_errors(c), vec![Some(E::UnknownMemberId)]);
    // A group-managed commit for a group that does not exist.
    let c = h.commit("gone", &b, 3, &[("t", 0, 1)]);
    assert_eq!(h.commit_errors(c), vec![Some(E::IllegalGeneration)]);
    assert_eq!(h.offset("g", "t", 0), -1);
}

#[test]
fn simple_consumer_commit_on_empty_group() {
    let mut h = Harness::new(0);
    let c = h.commit(
        "simple",
        "",
        -1,
        &[("t", 0, 100), ("t", 0, 101), ("u", 2, 5)],
    );
    // A repeated partition is answered once, with its last offset stored.
    assert_eq!(h.commit_errors(c), vec![None, None]);
    assert_eq!(h.offset("simple", "t", 0), 101);
    assert_eq!(h.offset("simple", "u", 2), 5);
    let l = h.c.list_groups(&[]);
    assert_eq!(
        l.groups,
        vec![ListedGroup {
            group_id: "simple".into(),
            protocol_type: String::new(),
            state: GroupState::Empty
        }]
    );
    // Unknown groups fetch as "no offset", without error.
    let f =
        h.c.fetch_offsets("nobody", Some(&[TopicPartition::new("t", 0)]), false);
    assert_eq!(
        (f.error, f.partitions[0].offset, f.partitions[0].error),
        (None, -1, None)
    );
    assert!(h
        .c
        .fetch_offsets("nobody", None, false)
        .partitions
        .is_empty());
}

#[test]
fn commit_response_waits_for_the_append() {
    let mut h = Harness::new(0);
    h.auto_ack = false;
    let c = h.commit("s", "", -1, &[("t", 0, 9)]);
    assert!(!h.answered(c));
    let tp = [TopicPartition::new("t", 0)];
    let f = h.c.fetch_offsets("s", Some(&tp), true);
    assert_eq!(f.partitions[0].error, Some(E::UnstableOffsetCommit));
    assert_eq!(h.offset("s", "t", 0), -1);
    h.ack_all(None);
    assert_eq!(h.commit_errors(c), vec![None]);
    assert_eq!(h.offset("s", "t", 0), 9);

    // A failed append: the error is mapped and the offset is not taken.
    let c = h.commit("s", "", -1, &[("t", 0, 10)]);
    h.ack_all(Some(E::NotLeaderOrFollower));
    assert_eq!(h.commit_errors(c), vec![Some(E::NotCoordinator)]);
    assert_eq!(h.offset("s", "t", 0), 9);
    assert_eq!(
        h.c.fetch_offsets("s", Some(&tp), true).partitions[0].error,
        None
    );
}

#[test]
fn oversized_metadata_is_refused_per_partition() {
    let mut h = Harness::with_config(GroupConfig {
        offset_metadata_max_bytes: 4,
        ..config(0)
    });
    let r = h.request();
    let mk = |m: &str, p| CommitPartition {
        topic: "t".into(),
        partition: p,
        offset: 1,
        leader_epoch: -1,
        metadata: Some(m.into()),
        commit_timestamp: -1,
    };
    let req = OffsetCommit {
        group_id: "s".into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        retention_time_ms: -1,
        partitions: vec![mk("12345", 0), mk("1234", 1)],
    };
    let out = h.c.handle_offset_commit(r, req, h.now);
    h.absorb(out);
    assert_eq!(
        h.commit_errors(r),
        vec![Some(E::OffsetMetadataTooLarge), None]
    );
    assert_eq!(h.offset("s", "t", 0), -1);
    assert_eq!(h.offset("s", "t", 1), 1);
}

#[test]
fn sync_released_only_after_assignment_append() {
    let mut h = Harness::new(0);
    h.auto_ack = false;
    let j = h.join("g", "");
    let j = h.join_result(j);
    let s = h.sync(
        "g",
        &j.member_id,
        1,
        vec![(j.member_id.clone(), assignment("t", &[0]))],
    );
    assert!(!h.answered(s));
    assert_eq!(h.state("g"), "CompletingRebalance");
    h.ack_all(Some(E::RequestTimedOut));
    // The store failed: the member is told to rejoin and the group rebalances.
    assert_eq!(h.sync_result(s).error, Some(E::RebalanceInProgress));
    assert_eq!(h.state("g"), "PreparingRebalance");
}

#[test]
fn load_restores_groups_and_offsets() {
    let mut h = Harness::new(0);
    let (a, b, gen) = h.stable_pair("g");
    let c = h.commit("g", &a, gen, &[("t", 0, 11), ("t", 1, 12)]);
    h.commit_errors(c);
    let c = h.commit("g", &b, gen, &[("t", 1, 13)]);
    h.commit_errors(c);
    let c = h.commit("s", "", -1, &[("u", 0, 99)]);
    h.commit_errors(c);
    // A deleted group leaves tombstones behind that the load must honour.
    let c = h.commit("d", "", -1, &[("u", 0, 1)]);
    h.commit_errors(c);
    let r = h.request();
    let out = h.c.handle_delete_groups(r, vec!["d".into()], h.now);
    h.absorb(out);

    let mut log = h.log.clone();
    log.push((None, None)); // a keyless record is skipped, not fatal
    let mut fresh = GroupCoordinator::with_seed(config(0), 1);
    fresh.begin_load(0);
    assert_eq!(
        fresh.describe_group("g").error,
        Some(E::CoordinatorLoadInProgress)
    );
    let (summary, _) = fresh.load(0, log, h.now + 10);
    assert_eq!(summary.groups, 2);
    assert_eq!(summary.offsets, 3);
    assert_eq!(summary.skipped, 1);

    let before = h.c.describe_group("g");
    let after = fresh.describe_group("g");
    assert_eq!(after, before);
    assert_eq!(after.state, "Stable");
    for group in ["g", "s"] {
        assert_eq!(
            fresh.fetch_offsets(group, None, false),
            h.c.fetch_offsets(group, None, false)
        );
    }
    assert_eq!(fresh.describe_group("d").state, "Dead");
    assert_eq!(
        fresh
            .list_groups(&[])
            .groups
            .iter()
            .map(|g| g.group_id.as_str())
            .collect::<Vec<_>>(),
        ["g", "s"]
    );

    // The loaded members carry on in their generation, and expire if they went away.
    let mut h2 = Harness {
        c: fresh,
        now: h.now + 10,
        next_request: 1000,
        responses: HashMap::new(),
        abandoned: Vec::new(),
        log: Vec::new(),
        unacked: Vec::new(),
        auto_ack: true,
        wake_at: None,
    };
    assert_eq!(h2.heartbeat("g", &a, gen), None);
    let s = h2.sync("g", &b, gen, vec![]);
    assert_eq!(h2.sync_result(s).assignment, assignment("t", &[1]));
    let end = h2.now + i64::from(SESSION);
    h2.keep_alive("g", &a, gen, end);
    assert_eq!(h2.state("g"), "PreparingRebalance");
    assert_eq!(h2.heartbeat("g", &b, gen), Some(E::UnknownMemberId));
}

#[test]
fn load_of_an_emptied_group_keeps_its_offsets() {
    let mut h = Harness::new(0);
    let a = h.stable_single("g");
    let c = h.commit("g", &a, 1, &[("t", 0, 5)]);
    h.commit_errors(c);
    h.leave("g", &[&a]);
    let mut fresh = GroupCoordinator::with_seed(config(0), 1);
    fresh.load(0, h.log.clone(), h.now);
    let d = fresh.describe_group("g");
    assert_eq!(
        (d.state.as_str(), d.protocol_type.as_str()),
        ("Empty", "consumer")
    );
    assert_eq!(
        fresh.fetch_offsets("g", None, false).partitions[0].offset,
        5
    );
}

#[test]
fn delete_groups() {
    let mut h = Harness::new(0);
    let _ = h.stable_pair("busy");
    let a = h.stable_single("done");
    let c = h.commit("done", &a, 1, &[("t", 0, 3), ("t", 1, 4)]);
    h.commit_errors(c);
    h.leave("done", &[&a]);
    assert_eq!(h.state("done"), "Empty");

    let before = h.log.len();
    let r = h.request();
    let ids = vec!["busy".into(), "done".into(), "none".into(), "done".into()];
    let out = h.c.handle_delete_groups(r, ids, h.now);
    h.absorb(out);
    let Some(Response::DeleteGroups(d)) = h.responses.remove(&r) else {
        panic!("no response")
    };
    assert_eq!(
        d.groups,
        vec![
            ("busy".to_string(), Some(E::NonEmptyGroup)),
            ("done".to_string(), None),
            ("none".to_string(), Some(E::GroupIdNotFound)),
        ]
    );
    // Two offset tombstones and the group's.
    let tombstones: Vec<_> = h.log[before..]
        .iter()
        .map(|(k, v)| OffsetsTopicRecord::decode(k.as_ref().unwrap(), v.as_deref()).unwrap())
        .collect();
    assert_eq!(tombstones.len(), 3);
    assert!(
        matches!(&tombstones[0], OffsetsTopicRecord::Offset { value: None, key } if key.partition == 0)
    );
    assert!(
        matches!(&tombstones[2], OffsetsTopicRecord::Group { value: None, key } if key.group == "done")
    );
    assert_eq!(h.state("done"), "Dead");
    assert_eq!(h.offset("done", "t", 0), -1);
    assert_eq!(h.state("busy"), "Stable");
}

#[test]
fn describe_and_list() {
    let mut h = Harness::new(0);
    let _ = h.stable_pair("stable");
    h.join("waiting", ""); // completes into CompletingRebalance (no sync yet)
    let c = h.commit("simple", "", -1, &[("t", 0, 1)]);
    h.commit_errors(c);

    let all = h.c.list_groups(&[]);
    assert_eq!(all.error, None);
    let names: Vec<_> = all
        .groups
        .iter()
        .map(|g| (g.group_id.as_str(), g.state))
        .collect();
    assert_eq!(
        names,
        [
            ("simple", GroupState::Empty),
            ("stable", GroupState::Stable),
            ("waiting", GroupState::CompletingRebalance)
        ]
    );
    let stable = h.c.list_groups(&["Stable".into(), "Empty".into()]);
    assert_eq!(stable.groups.len(), 2);
    assert!(h.c.list_groups(&["stable".into()]).groups.is_empty());

    let d = h.c.describe_group("stable");
    assert_eq!(
        (
            d.state.as_str(),
            d.protocol_type.as_str(),
            d.protocol.as_str()
        ),
        ("Stable", "consumer", "range")
    );
    assert_eq!(d.members.len(), 2);
    let topics = Subscription::decode(&d.members[0].metadata).unwrap().topics;
    assert_eq!(topics, ["t"]);
    let parts = Assignment::decode(&d.members[1].assignment).unwrap();
    assert_eq!(parts.assigned_partitions[0].partitions, [1]);

    // Not Stable: no protocol, no metadata.
    let d = h.c.describe_group("waiting");
    assert_eq!(
        (d.state.as_str(), d.protocol.as_str()),
        ("CompletingRebalance", "")
    );
    assert!(d.members[0].metadata.is_empty());
    assert_eq!(h.c.describe_group("nope").state, "Dead");
}

#[test]
fn request_validation() {
    let mut h = Harness::new(0);
    let mut req = h.join_req("g", "", 3, &["range"]);
    req.session_timeout_ms = 5_999;
    let r = h.send_join(req);
    assert_eq!(h.join_result(r).error, Some(E::InvalidSessionTimeout));
    let req = h.join_req("", "", 3, &["range"]);
    let r = h.send_join(req);
    assert_eq!(h.join_result(r).error, Some(E::InvalidGroupId));
    // Empty protocol type: not a valid first member.
    let mut req = h.join_req("g", "", 3, &["range"]);
    req.protocol_type = String::new();
    let r = h.send_join(req);
    assert_eq!(h.join_result(r).error, Some(E::InconsistentGroupProtocol));
    // A member id for a group that does not exist.
    let req = h.join_req("new", "m-1", 3, &["range"]);
    let r = h.send_join(req);
    assert_eq!(h.join_result(r).error, Some(E::UnknownMemberId));
    // Heartbeat / sync for unknown groups and members.
    assert_eq!(h.heartbeat("nope", "m", 1), Some(E::UnknownMemberId));
    let s = h.sync("nope", "m", 1, vec![]);
    assert_eq!(h.sync_result(s).error, Some(E::UnknownMemberId));

    // Groups of partitions not led here.
    let mut other = GroupCoordinator::with_seed(GroupConfig::default(), 1);
    let g = "some-group";
    let p = other.partition_for(g);
    assert_eq!(other.describe_group(g).error, Some(E::NotCoordinator));
    other.begin_load(p);
    let out = other.handle_heartbeat(
        RequestId(1),
        Heartbeat {
            group_id: g.into(),
            generation_id: 1,
            member_id: "m".into(),
            group_instance_id: None,
        },
        0,
    );
    // A loading coordinator answers heartbeats blindly.
    assert!(out.contains(&Outcome::Respond {
        request: RequestId(1),
        response: Response::Heartbeat(None)
    }));
    assert_eq!(
        other.list_groups(&[]).error,
        Some(E::CoordinatorLoadInProgress)
    );
}

#[test]
fn protocol_is_chosen_by_vote_among_common_ones() {
    let mut h = Harness::new(0);
    let a = h.send_join(h.join_req("g", "", 3, &["range", "roundrobin", "sticky"]));
    let a = h.join_result(a).member_id;
    // Joining with nothing in common is refused.
    let r = h.send_join(h.join_req("g", "", 3, &["cooperative-sticky"]));
    assert_eq!(h.join_result(r).error, Some(E::InconsistentGroupProtocol));
    let rb = h.send_join(h.join_req("g", "", 3, &["roundrobin", "range"]));
    let rc = h.send_join(h.join_req("g", "", 3, &["sticky", "roundrobin", "range"]));
    let ra = h.send_join(h.join_req("g", &a, 3, &["range", "roundrobin"]));
    // Common: range, roundrobin. Votes: a range, b roundrobin, c roundrobin.
    let ja = h.join_result(ra);
    assert_eq!(ja.protocol_name.as_deref(), Some("roundrobin"));
    h.join_result(rb);
    h.join_result(rc);
}

#[test]
fn static_member_rejoin_fences_old_id() {
    let mut h = Harness::new(0);
    let mut req = h.join_req("g", "", 5, &["range"]);
    req.group_instance_id = Some("instance-1".into());
    // Static members skip MEMBER_ID_REQUIRED; the id derives from the instance id.
    let r = h.send_join(req.clone());
    let j = h.join_result(r);
    assert_eq!(j.error, None);
    assert!(j.member_id.starts_with("instance-1-"));
    let old = j.member_id.clone();
    let s = h.sync("g", &old, 1, vec![(old.clone(), assignment("t", &[0]))]);
    h.sync_result(s);

    // The instance restarts and rejoins without its id: same generation, new id, no
    // rebalance; the old id is fenced.
    let r = h.send_join(req.clone());
    let j2 = h.join_result(r);
    assert_eq!(j2.error, None);
    assert_ne!(j2.member_id, old);
    assert_eq!(j2.generation_id, 1);
    assert_eq!(
        j2.leader, old,
        "the previous leader id, so it does not reassign"
    );
    assert_eq!(h.state("g"), "Stable");
    let mut hb = Heartbeat {
        group_id: "g".into(),
        generation_id: 1,
        member_id: old.clone(),
        group_instance_id: Some("instance-1".into()),
    };
    let out = h.c.handle_heartbeat(RequestId(900), hb.clone(), h.now);
    assert!(out.contains(&Outcome::Respond {
        request: RequestId(900),
        response: Response::Heartbeat(Some(E::FencedInstanceId))
    }));
    hb.member_id = j2.member_id.clone();
    let out = h.c.handle_heartbeat(RequestId(901), hb, h.now);
    assert!(out.contains(&Outcome::Respond {
        request: RequestId(901),
        response: Response::Heartbeat(None)
    }));
    // A known member id with the instance id of another member is fenced on join too.
    let mut req2 = req;
    req2.member_id = old;
    let r = h.send_join(req2);
    assert_eq!(h.join_result(r).error, Some(E::FencedInstanceId));
}

#[test]
fn group_max_size() {
    let mut h = Harness::with_config(GroupConfig {
        max_size: 1,
        ..config(0)
    });
    let _a = h.stable_single("g");
    let r = h.join("g", "");
    let j = h.join_result(r);
    assert_eq!(j.error, Some(E::GroupMaxSizeReached));
    assert_eq!(j.member_id, "");
    assert_eq!(h.state("g"), "Stable");
}

#[test]
fn offsets_expire_after_retention() {
    let mut h = Harness::with_config(GroupConfig {
        offsets_retention_ms: 50_000,
        offsets_retention_check_interval_ms: 10_000,
        ..config(0)
    });
    let t0 = h.now;
    let c = h.commit("s", "", -1, &[("t", 0, 1)]);
    h.commit_errors(c);
    // A consumer group that is Stable and subscribed to "t": its offsets stay.
    let a = h.stable_single("g");
    let c = h.commit("g", &a, 1, &[("t", 0, 2), ("gone", 0, 3)]);
    h.commit_errors(c);
    let mut t = t0;
    while t < t0 + 60_000 {
        t += 5_000;
        h.advance_to(t);
        assert_eq!(h.heartbeat("g", &a, 1), None);
    }
    assert_eq!(
        h.state("s"),
        "Dead",
        "standalone offsets expired, group dropped"
    );
    assert_eq!(h.offset("g", "t", 0), 2);
    assert_eq!(h.offset("g", "gone", 0), -1, "unsubscribed topic expired");
    let tombstones = h.log.iter().filter(|(_, v)| v.is_none()).count();
    assert_eq!(
        tombstones, 2,
        "offset tombstones only: s never had a generation"
    );
}

#[test]
fn unload_answers_waiting_requests() {
    let mut h = Harness::new(0);
    let (a, _b, _) = h.stable_pair("g");
    let ra = h.join("g", &a);
    assert!(!h.answered(ra));
    let out = h.c.unload(0, h.now);
    h.absorb(out);
    assert_eq!(h.join_result(ra).error, Some(E::NotCoordinator));
    assert_eq!(h.heartbeat("g", &a, 2), Some(E::NotCoordinator));
    assert_eq!(h.c.next_deadline(), None, "no timers left behind");
    assert_eq!(h.c.timer_count(), 0);
}

#[test]
fn rejoin_while_waiting_abandons_the_older_request() {
    let mut h = Harness::new(0);
    let (a, b, _) = h.stable_pair("g");
    let first = h.join("g", &a);
    let second = h.join("g", &a);
    assert_eq!(h.abandoned, vec![first]);
    let rb = h.join("g", &b);
    assert_eq!(h.join_result(second).error, None);
    assert_eq!(h.join_result(rb).error, None);
    assert!(!h.answered(first));
}

#[test]
fn wake_at_tracks_the_earliest_deadline() {
    let mut h = Harness::new(3_000);
    let t0 = h.now;
    h.join("g", "");
    assert_eq!(h.wake_at, Some(t0 + 3_000));
    assert_eq!(h.c.next_deadline(), Some(t0 + 3_000));
    h.advance_to(t0 + 3_000);
    // Now the member's session deadline is the earliest.
    assert_eq!(h.wake_at, Some(t0 + 3_000 + i64::from(SESSION)));
}

#[test]
fn sync_group_errors() {
    let mut h = Harness::new(0);
    let (a, b, gen) = h.stable_pair("g");
    let s = h.sync("g", &a, gen - 1, vec![]);
    assert_eq!(h.sync_result(s).error, Some(E::IllegalGeneration));
    let s = h.sync("g", "ghost", gen, vec![]);
    assert_eq!(h.sync_result(s).error, Some(E::UnknownMemberId));
    let r = h.request();
    let req = SyncGroup {
        group_id: "g".into(),
        generation_id: gen,
        member_id: b.clone(),
        group_instance_id: None,
        protocol_type: Some("consumer".into()),
        protocol_name: Some("roundrobin".into()),
        assignments: vec![],
    };
    let out = h.c.handle_sync_group(r, req, h.now);
    h.absorb(out);
    assert_eq!(h.sync_result(r).error, Some(E::InconsistentGroupProtocol));
    // Stable: a late SyncGroup just gets the current assignment.
    let s = h.sync("g", &b, gen, vec![]);
    assert_eq!(h.sync_result(s).assignment, assignment("t", &[1]));
    // Preparing a rebalance: rejoin first.
    let ra = h.join("g", &a);
    let s = h.sync("g", &b, gen, vec![]);
    assert_eq!(h.sync_result(s).error, Some(E::RebalanceInProgress));
    assert!(!h.answered(ra));
}

#[test]
fn commit_with_retention_time_is_written_as_v1_and_expires_then() {
    let mut h = Harness::with_config(GroupConfig {
        offsets_retention_check_interval_ms: 1_000,
        ..config(0)
    });
    let t0 = h.now;
    let r = h.request();
    let req = OffsetCommit {
        group_id: "s".into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        retention_time_ms: 5_000,
        partitions: vec![CommitPartition {
            topic: "t".into(),
            partition: 0,
            offset: 8,
            leader_epoch: -1,
            metadata: None,
            commit_timestamp: -1,
        }],
    };
    let out = h.c.handle_offset_commit(r, req, h.now);
    h.absorb(out);
    assert_eq!(h.commit_errors(r), vec![None]);
    let value = h.log.last().unwrap().1.clone().unwrap();
    assert_eq!(
        &value[..2],
        &[0, 1],
        "value version 1 carries the expire timestamp"
    );
    let v = crate::group::codec::OffsetCommitValue::decode(&value).unwrap();
    assert_eq!((v.commit_timestamp, v.expire_timestamp), (t0, t0 + 5_000));
    h.advance_to(t0 + 4_000);
    assert_eq!(h.offset("s", "t", 0), 8);
    h.advance_to(t0 + 5_000);
    assert_eq!(h.offset("s", "t", 0), -1);
}

mod random {
    //! Random request sequences: the coordinator must never panic, keep its invariants,
    //! and eventually answer (or abandon) every JoinGroup and SyncGroup.

    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Join {
            group: u8,
            member: u8,
            version: i16,
            protocol: u8,
            instance: Option<u8>,
        },
        Sync {
            group: u8,
            member: u8,
            stale: bool,
        },
        Heartbeat {
            group: u8,
            member: u8,
        },
        Leave {
            group: u8,
            member: u8,
        },
        Commit {
            group: u8,
            member: Option<u8>,
        },
        Delete {
            group: u8,
        },
        Advance {
            ms: u32,
        },
        Ack {
            fail: bool,
        },
        /// A well-behaved member: sync or heartbeat as a real client would, with its
        /// group's current generation (the leader sends an assignment for everyone).
        Member {
            group: u8,
            index: u8,
            sync: bool,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..2, 0u8..6, prop::sample::select(vec![0i16, 3, 4, 5]), 0u8..3, prop::option::of(0u8..2))
                .prop_map(|(group, member, version, protocol, instance)| Op::Join { group, member, version, protocol, instance }),
            3 => (0u8..2, 0u8..6, any::<bool>()).prop_map(|(group, member, stale)| Op::Sync { group, member, stale }),
            3 => (0u8..2, 0u8..6).prop_map(|(group, member)| Op::Heartbeat { group, member }),
            1 => (0u8..2, 0u8..6).prop_map(|(group, member)| Op::Leave { group, member }),
            2 => (0u8..2, prop::option::of(0u8..6)).prop_map(|(group, member)| Op::Commit { group, member }),
            1 => (0u8..2).prop_map(|group| Op::Delete { group }),
            3 => prop_oneof![4 => 0u32..4_000, 1 => 0u32..40_000].prop_map(|ms| Op::Advance { ms }),
            6 => (0u8..2, any::<u8>(), any::<bool>()).prop_map(|(group, index, sync)| Op::Member { group, index, sync }),
            2 => any::<bool>().prop_map(|fail| Op::Ack { fail }),
        ]
    }

    fn check_invariants(h: &Harness) {
        for g in h.c.groups.values() {
            match g.state {
                GroupState::Empty => assert!(g.members.is_empty(), "{g:?}"),
                GroupState::CompletingRebalance | GroupState::Stable => {
                    assert!(!g.members.is_empty() && g.generation > 0, "{g:?}")
                }
                _ => {}
            }
            if !g.members.is_empty() {
                let leader = g.leader.as_deref().unwrap_or_default();
                assert!(g.has(leader), "leader {leader} not a member: {g:?}");
            }
            for m in &g.members {
                for r in [m.awaiting_join, m.awaiting_sync].into_iter().flatten() {
                    assert!(
                        !h.responses.contains_key(&r),
                        "{r:?} answered but still waiting"
                    );
                    assert!(
                        !h.abandoned.contains(&r),
                        "{r:?} abandoned but still waiting"
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn no_panics_and_no_lost_requests(ops in proptest::collection::vec(op(), 1..60), initial_delay in prop::sample::select(vec![0, 3_000])) {
            let mut h = Harness::new(initial_delay);
            h.auto_ack = false;
            let groups = ["g0", "g1"];
            let mut members: Vec<String> = Vec::new();
            let mut generation = [0i32; 2];
            let mut waiting: Vec<RequestId> = Vec::new();
            let pick = |members: &Vec<String>, i: u8| members.get(i as usize).cloned().unwrap_or_default();
            for op in ops {
                match op {
                    Op::Join { group, member, version, protocol, instance } => {
                        let names: &[&str] = [&["range"][..], &["roundrobin", "range"], &["sticky"]][protocol as usize];
                        let mut req = h.join_req(groups[group as usize], &pick(&members, member), version, names);
                        req.group_instance_id = instance.map(|i| format!("inst-{i}"));
                        let r = h.send_join(req);
                        waiting.push(r);
                    }
                    Op::Sync { group, member, stale } => {
                        let gen = generation[group as usize] - i32::from(stale);
                        let all: Vec<(String, Bytes)> = members.iter().map(|m| (m.clone(), assignment("t", &[0]))).collect();
                        let r = h.sync(groups[group as usize], &pick(&members, member), gen, all);
                        waiting.push(r);
                    }
                    Op::Heartbeat { group, member } => {
                        let gen = generation[group as usize];
                        h.heartbeat(groups[group as usize], &pick(&members, member), gen);
                    }
                    Op::Leave { group, member } => {
                        h.leave(groups[group as usize], &[&pick(&members, member)]);
                    }
                    Op::Commit { group, member } => {
                        let gen = if member.is_some() { generation[group as usize] } else { -1 };
                        let m = member.map(|i| pick(&members, i)).unwrap_or_default();
                        waiting.push(h.commit(groups[group as usize], &m, gen, &[("t", 0, 1)]));
                    }
                    Op::Delete { group } => {
                        let r = h.request();
                        let out = h.c.handle_delete_groups(r, vec![groups[group as usize].into()], h.now);
                        h.absorb(out);
                    }
                    Op::Advance { ms } => h.advance_to(h.now + i64::from(ms)),
                    Op::Ack { fail } => h.ack_all(fail.then_some(E::NotEnoughReplicas)),
                    Op::Member { group, index, sync } => {
                        let gid = groups[group as usize];
                        let Some(g) = h.c.groups.get(gid).filter(|g| !g.members.is_empty()) else { continue };
                        let m = g.members[index as usize % g.members.len()].id.clone();
                        let gen = g.generation;
                        let all: Vec<(String, Bytes)> = g.members.iter().map(|m| (m.id.clone(), assignment("t", &[0]))).collect();
                        let protocol = g.protocol_name.clone();
                        if sync {
                            let r = h.request();
                            let req = SyncGroup {
                                group_id: gid.into(),
                                generation_id: gen,
                                member_id: m,
                                group_instance_id: None,
                                protocol_type: None,
                                protocol_name: protocol,
                                assignments: all,
                            };
                            let out = h.c.handle_sync_group(r, req, h.now);
                            h.absorb(out);
                            waiting.push(r);
                        } else {
                            h.heartbeat(gid, &m, gen);
                        }
                    }
                }
                // Learn member ids and generations from what was answered.
                for (r, resp) in &h.responses {
                    if let Response::JoinGroup(j) = resp {
                        if !j.member_id.is_empty() && !members.contains(&j.member_id) {
                            members.push(j.member_id.clone());
                        }
                        if j.error.is_none() {
                            for (i, g) in groups.iter().enumerate() {
                                if h.c.groups.get(*g).is_some_and(|grp| grp.has(&j.member_id)) {
                                    generation[i] = generation[i].max(j.generation_id);
                                }
                            }
                        }
                    }
                    let _ = r;
                }
                check_invariants(&h);
            }
            // Let every timeout run out, acknowledging appends as they come.
            h.auto_ack = true;
            h.ack_all(None);
            for _ in 0..40 {
                let t = h.now + 100_000;
                h.advance_to(t);
                check_invariants(&h);
            }
            for r in waiting {
                prop_assert!(h.responses.contains_key(&r) || h.abandoned.contains(&r), "{:?} never answered", r);
            }
        }
    }
}
