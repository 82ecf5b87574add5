//! Group membership: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, and the rebalance they
//! drive (Empty → PreparingRebalance → CompletingRebalance → Stable), with the timeouts
//! that remove silent members. Semantics follow Kafka 2.8's GroupCoordinator.

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::api::{
    GroupState, Heartbeat, JoinGroup, JoinGroupResult, LeaveGroup, LeaveGroupResult, LeftMember,
    LogRecord, Outcome, Protocol, RequestId, Response, SyncGroup, SyncGroupResult,
};
use super::group::{Group, JoinTimer, Member};
use super::timers::{TimerKind, TimerToken};
use super::{Api, Ctx, GroupAppend, GroupCoordinator, PendingAppend};
use crate::group::codec::GroupMetadataKey;

impl GroupCoordinator {
    pub(super) fn join_group(&mut self, request: RequestId, mut req: JoinGroup) {
        if req.api_version == 0 {
            // v0 has no rebalance timeout; Kafka uses the session timeout.
            req.rebalance_timeout_ms = req.session_timeout_ms;
        }
        if let Some(e) = self.validate(&req.group_id, Api::Join) {
            self.ctx
                .respond_join(request, JoinGroupResult::error(req.member_id, e));
            return;
        }
        let cfg = &self.ctx.config;
        if req.session_timeout_ms < cfg.min_session_timeout_ms
            || req.session_timeout_ms > cfg.max_session_timeout_ms
        {
            let e = ResponseError::InvalidSessionTimeout;
            self.ctx
                .respond_join(request, JoinGroupResult::error(req.member_id, e));
            return;
        }
        // Only a member without an id may create the group.
        if !self.groups.contains_key(&req.group_id) {
            if !req.member_id.is_empty() {
                let e = ResponseError::UnknownMemberId;
                self.ctx
                    .respond_join(request, JoinGroupResult::error(req.member_id, e));
                return;
            }
            self.create_group(&req.group_id);
        }
        let group_id = req.group_id.clone();
        if let Some((g, ctx)) = self.parts(&group_id) {
            ctx.join(g, request, req);
        }
    }

    pub(super) fn sync_group(&mut self, request: RequestId, req: SyncGroup) {
        match self.validate(&req.group_id, Api::Sync) {
            // The rebalance state was lost with the old coordinator: rejoin. (Older
            // clients do not expect COORDINATOR_LOAD_IN_PROGRESS here.)
            Some(ResponseError::CoordinatorLoadInProgress) => {
                let e = ResponseError::RebalanceInProgress;
                self.ctx.respond_sync(request, SyncGroupResult::error(e));
            }
            Some(e) => self.ctx.respond_sync(request, SyncGroupResult::error(e)),
            None => match self.parts(&req.group_id.clone()) {
                Some((g, ctx)) => ctx.sync(g, request, req),
                None => {
                    let e = ResponseError::UnknownMemberId;
                    self.ctx.respond_sync(request, SyncGroupResult::error(e));
                }
            },
        }
    }

    pub(super) fn heartbeat(&mut self, req: Heartbeat) -> Option<ResponseError> {
        match self.validate(&req.group_id, Api::Heartbeat) {
            // The group is still loading: answer blindly.
            Some(ResponseError::CoordinatorLoadInProgress) => return None,
            Some(e) => return Some(e),
            None => {}
        }
        let Some((g, ctx)) = self.parts(&req.group_id) else {
            return Some(ResponseError::UnknownMemberId);
        };
        if g.is_static_member_fenced(&req.member_id, req.group_instance_id.as_deref()) {
            return Some(ResponseError::FencedInstanceId);
        }
        if !g.has(&req.member_id) {
            return Some(ResponseError::UnknownMemberId);
        }
        if req.generation_id != g.generation {
            return Some(ResponseError::IllegalGeneration);
        }
        match g.state {
            GroupState::Empty => Some(ResponseError::UnknownMemberId),
            GroupState::Dead => Some(ResponseError::CoordinatorNotAvailable),
            GroupState::CompletingRebalance | GroupState::Stable => {
                ctx.schedule_heartbeat(g, &req.member_id);
                None
            }
            GroupState::PreparingRebalance => {
                ctx.schedule_heartbeat(g, &req.member_id);
                Some(ResponseError::RebalanceInProgress)
            }
        }
    }

    pub(super) fn leave_group(&mut self, req: LeaveGroup) -> LeaveGroupResult {
        if let Some(e) = self.validate(&req.group_id, Api::Leave) {
            return LeaveGroupResult {
                error: Some(e),
                members: Vec::new(),
            };
        }
        let Some((g, ctx)) = self.parts(&req.group_id) else {
            return LeaveGroupResult {
                error: None,
                members: req
                    .members
                    .into_iter()
                    .map(|m| LeftMember {
                        member_id: m.member_id,
                        group_instance_id: m.group_instance_id,
                        error: Some(ResponseError::UnknownMemberId),
                    })
                    .collect(),
            };
        };
        let members = req
            .members
            .into_iter()
            .map(|m| {
                let error = ctx.leave(g, &m.member_id, m.group_instance_id.as_deref());
                LeftMember {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    error,
                }
            })
            .collect();
        LeaveGroupResult {
            error: None,
            members,
        }
    }
}

impl Ctx {
    fn respond_join(&mut self, request: RequestId, result: JoinGroupResult) {
        self.respond(request, Response::JoinGroup(result));
    }

    fn respond_sync(&mut self, request: RequestId, result: SyncGroupResult) {
        self.respond(request, Response::SyncGroup(result));
    }

    /// The current generation as a JoinGroup response; the member list only for the leader.
    fn join_result(g: &Group, member_id: &str, with_members: bool) -> JoinGroupResult {
        JoinGroupResult {
            error: None,
            generation_id: g.generation,
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol_name.clone(),
            leader: g.leader.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            members: if with_members {
                g.current_member_metadata()
            } else {
                Vec::new()
            },
        }
    }

    fn max_size(&self) -> usize {
        usize::try_from(self.config.max_size).unwrap_or(0)
    }

    /// Kafka's acceptJoiningMember: waiting members count against group.max.size while
    /// rebalancing (members that do not rejoin will be dropped), the whole group otherwise.
    fn accept_joining_member(&self, g: &Group, member_id: &str) -> bool {
        match g.state {
            GroupState::Empty | GroupState::Dead => true,
            GroupState::PreparingRebalance => {
                g.member(member_id)
                    .is_some_and(|m| m.awaiting_join.is_some())
                    || g.num_awaiting_join() < self.max_size()
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                g.has(member_id) || g.members.len() < self.max_size()
            }
        }
    }

    fn join(&mut self, g: &mut Group, request: RequestId, req: JoinGroup) {
        let require_known_member_id = req.api_version >= 4 && req.group_instance_id.is_none();
        if !self.accept_joining_member(g, &req.member_id) {
            if let Some(m) = g.remove_member(&req.member_id) {
                self.forget_member(m);
            }
            let e = ResponseError::GroupMaxSizeReached;
            self.respond_join(request, JoinGroupResult::error("", e));
        } else if req.member_id.is_empty() {
            self.join_unknown_member(g, request, req, require_known_member_id);
        } else {
            self.join_known_member(g, request, req);
        }
        if g.state == GroupState::PreparingRebalance {
            self.maybe_complete_join(g);
        }
    }

    fn join_unknown_member(
        &mut self,
        g: &mut Group,
        request: RequestId,
        req: JoinGroup,
        require_known: bool,
    ) {
        if g.state == GroupState::Dead {
            let e = ResponseError::CoordinatorNotAvailable;
            self.respond_join(request, JoinGroupResult::error("", e));
            return;
        }
        if !g.supports_protocols(&req.protocol_type, &req.protocols) {
            let e = ResponseError::InconsistentGroupProtocol;
            self.respond_join(request, JoinGroupResult::error("", e));
            return;
        }
        let new_id = self.generate_member_id(&req.client_id, req.group_instance_id.as_deref());
        if let Some(old_id) = g.static_member_id(req.group_instance_id.as_deref()) {
            self.update_static_member_and_rebalance(g, request, old_id, new_id, req.protocols);
        } else if require_known {
            // The client must come back with this id; until it does (or its session
            // timeout passes) the join phase waits for it.
            let at = self.now.saturating_add(i64::from(req.session_timeout_ms));
            let token = self.timers.schedule(
                at,
                TimerKind::PendingMember {
                    group: g.id.clone(),
                    member: new_id.clone(),
                },
            );
            g.pending_members.insert(new_id.clone(), token);
            let e = ResponseError::MemberIdRequired;
            self.respond_join(request, JoinGroupResult::error(new_id, e));
        } else {
            self.add_member_and_rebalance(g, request, new_id, req);
        }
    }

    fn join_known_member(&mut self, g: &mut Group, request: RequestId, req: JoinGroup) {
        let member_id = req.member_id.clone();
        if g.state == GroupState::Dead {
            let e = ResponseError::CoordinatorNotAvailable;
            self.respond_join(request, JoinGroupResult::error(member_id, e));
            return;
        }
        if !g.supports_protocols(&req.protocol_type, &req.protocols) {
            let e = ResponseError::InconsistentGroupProtocol;
            self.respond_join(request, JoinGroupResult::error(member_id, e));
            return;
        }
        if g.is_pending_member(&member_id) {
            self.add_member_and_rebalance(g, request, member_id, req);
            return;
        }
        let instance = req.group_instance_id.as_deref();
        if g.is_static_member_fenced(&member_id, instance) {
            let e = ResponseError::FencedInstanceId;
            self.respond_join(request, JoinGroupResult::error(member_id, e));
            return;
        }
        let instance_unknown = instance.is_some() && g.static_member_id(instance).is_none();
        let Some(member) = g.member(&member_id).filter(|_| !instance_unknown) else {
            let e = ResponseError::UnknownMemberId;
            self.respond_join(request, JoinGroupResult::error(member_id, e));
            return;
        };
        let same_metadata = member.matches(&req.protocols);
        match g.state {
            GroupState::PreparingRebalance => {
                self.update_member_and_rebalance(g, &member_id, req.protocols, request);
            }
            GroupState::CompletingRebalance if same_metadata => {
                // A retry of a JoinGroup whose response was lost: the same answer again.
                let result = Self::join_result(g, &member_id, g.is_leader(&member_id));
                self.respond_join(request, result);
            }
            GroupState::Stable if same_metadata && !g.is_leader(&member_id) => {
                let result = Self::join_result(g, &member_id, false);
                self.respond_join(request, result);
            }
            // The leader rejoining a Stable group forces a rebalance (e.g. topic metadata
            // changed), as does any member with new metadata.
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_and_rebalance(g, &member_id, req.protocols, request);
            }
            GroupState::Empty | GroupState::Dead => {
                let e = ResponseError::UnknownMemberId;
                self.respond_join(request, JoinGroupResult::error(member_id, e));
            }
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        g: &mut Group,
        request: RequestId,
        member_id: String,
        req: JoinGroup,
    ) {
        let member = Member {
            id: member_id.clone(),
            group_instance_id: req.group_instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            session_timeout_ms: req.session_timeout_ms,
            protocols: req.protocols,
            assignment: Bytes::new(),
            awaiting_join: Some(request),
            awaiting_sync: None,
            is_new: true,
            heartbeat: None,
        };
        if g.state == GroupState::PreparingRebalance && g.generation == 0 {
            g.new_member_added = true;
        }
        g.add_member(member, &req.protocol_type);
        // A new member cannot heartbeat until it has a generation; bound its wait instead.
        let timeout = self.config.new_member_join_timeout_ms;
        self.schedule_expiration(g, &member_id, timeout);
        if let Some(token) = g.pending_members.remove(&member_id) {
            self.timers.cancel(Some(token));
        }
        self.maybe_prepare_rebalance(g);
    }

    /// A known static instance rejoined without its member id: it takes over the old
    /// member's place (and fences the old id) under `new_id`.
    fn update_static_member_and_rebalance(
        &mut self,
        g: &mut Group,
        request: RequestId,
        old_id: String,
        new_id: String,
        protocols: Vec<Protocol>,
    ) {
        let previous_leader = g.leader.clone().unwrap_or_default();
        self.replace_group_instance(g, &old_id, &new_id);
        self.schedule_heartbeat(g, &new_id);
        let old_protocols = g
            .member(&new_id)
            .map(|m| m.protocols.clone())
            .unwrap_or_default();
        self.update_member(g, &new_id, protocols, Some(request));
        match g.state {
            GroupState::Stable => {
                if g.select_protocol() == g.protocol_name {
                    // Nothing the assignment depends on changed: persist the new id and
                    // answer without a rebalance.
                    let assignment: Vec<(String, Bytes)> = g
                        .members
                        .iter()
                        .map(|m| (m.id.clone(), m.assignment.clone()))
                        .collect();
                    let action = GroupAppend::StaticRejoin {
                        request,
                        new_member_id: new_id,
                        old_member_id: old_id,
                        old_protocols,
                        previous_leader,
                    };
                    self.store_group(g, &assignment, action);
                } else {
                    self.maybe_prepare_rebalance(g);
                }
            }
            // The leader may already hold the old id in its assignment: start over.
            GroupState::CompletingRebalance => self.prepare_rebalance(g),
            GroupState::PreparingRebalance => {}
            GroupState::Empty | GroupState::Dead => self.maybe_prepare_rebalance(g),
        }
    }

    /// Renames a static member, answering FENCED_INSTANCE_ID to requests the old
    /// incarnation still has waiting.
    fn replace_group_instance(&mut self, g: &mut Group, old_id: &str, new_id: &str) {
        let Some(m) = g.member_mut(old_id) else {
            return;
        };
        let join = m.awaiting_join.take();
        let sync = m.awaiting_sync.take();
        let heartbeat = m.heartbeat.take();
        m.id = new_id.to_string();
        if let Some(r) = join {
            let e = ResponseError::FencedInstanceId;
            self.respond_join(r, JoinGroupResult::error(old_id, e));
        }
        if let Some(r) = sync {
            self.respond_sync(r, SyncGroupResult::error(ResponseError::FencedInstanceId));
        }
        self.timers.cancel(heartbeat);
        if g.is_leader(old_id) {
            g.leader = Some(new_id.to_string());
        }
        if g.pending_sync.remove(old_id) {
            g.pending_sync.insert(new_id.to_string());
        }
    }

    /// Sets a member's protocols and the JoinGroup it waits in (a previous one is
    /// superseded).
    fn update_member(
        &mut self,
        g: &mut Group,
        member_id: &str,
        protocols: Vec<Protocol>,
        request: Option<RequestId>,
    ) {
        if let Some(m) = g.member_mut(member_id) {
            m.protocols = protocols;
            let previous = std::mem::replace(&mut m.awaiting_join, request);
            if let Some(old) = previous.filter(|old| Some(*old) != request) {
                self.out.push(Outcome::Abandon(old));
            }
        }
    }

    fn update_member_and_rebalance(
        &mut self,
        g: &mut Group,
        member_id: &str,
        protocols: Vec<Protocol>,
        request: RequestId,
    ) {
        self.update_member(g, member_id, protocols, Some(request));
        self.maybe_prepare_rebalance(g);
    }

    pub(super) fn maybe_prepare_rebalance(&mut self, g: &mut Group) {
        if g.can_rebalance() {
            self.prepare_rebalance(g);
        }
    }

    /// Enters PreparingRebalance and starts the join phase: an Empty group waits
    /// group.initial.rebalance.delay.ms for more members; otherwise the phase ends when
    /// every member has rejoined or after the longest rebalance timeout.
    pub(super) fn prepare_rebalance(&mut self, g: &mut Group) {
        if g.state == GroupState::CompletingRebalance {
            self.reset_and_propagate_assignment_error(g, ResponseError::RebalanceInProgress);
        }
        self.clear_pending_sync(g);
        self.timers.cancel(g.join_timer.take().map(|j| j.token));
        let initial = if g.state == GroupState::Empty {
            let delay = i64::from(self.config.initial_rebalance_delay_ms.max(0));
            Some((delay, (g.rebalance_timeout_ms() - delay).max(0)))
        } else {
            None
        };
        g.transition(GroupState::PreparingRebalance, self.now);
        match initial {
            Some((delay, remaining)) => self.schedule_join(g, delay, Some((delay, remaining))),
            None => {
                self.schedule_join(g, g.rebalance_timeout_ms(), None);
                self.maybe_complete_join(g);
            }
        }
    }

    fn schedule_join(&mut self, g: &mut Group, delay_ms: i64, initial: Option<(i64, i64)>) {
        let at = self.now.saturating_add(delay_ms.max(0));
        let token = self.timers.schedule(
            at,
            TimerKind::Join {
                group: g.id.clone(),
            },
        );
        g.join_timer = Some(JoinTimer { token, initial });
    }

    /// Ends the join phase early once everyone expected has joined (never during the
    /// initial delay, which always runs its course).
    pub(super) fn maybe_complete_join(&mut self, g: &mut Group) {
        let Some(timer) = g.join_timer else {
            return;
        };
        if g.state == GroupState::PreparingRebalance
            && timer.initial.is_none()
            && g.has_all_members_joined()
        {
            self.timers.cancel(Some(timer.token));
            g.join_timer = None;
            self.complete_join(g);
        }
    }

    pub(super) fn on_join_timer(&mut self, g: &mut Group, token: TimerToken) {
        let Some(timer) = g.join_timer.filter(|t| t.token == token) else {
            return;
        };
        g.join_timer = None;
        match timer.initial {
            // Members keep arriving: wait another delay, within the rebalance timeout.
            Some((delay, remaining)) if g.new_member_added && remaining != 0 => {
                g.new_member_added = false;
                let configured = i64::from(self.config.initial_rebalance_delay_ms.max(0));
                let next_delay = configured.min(remaining);
                let next_remaining = (remaining - delay).max(0);
                self.schedule_join(g, next_delay, Some((next_delay, next_remaining)));
            }
            _ => self.complete_join(g),
        }
    }

    /// The join phase is over: drop dynamic members that did not rejoin, form the next
    /// generation and answer every waiting JoinGroup (the leader gets all members).
    fn complete_join(&mut self, g: &mut Group) {
        let gone: Vec<String> = g
            .members
            .iter()
            .filter(|m| m.awaiting_join.is_none() && m.group_instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            if let Some(m) = g.remove_member(&id) {
                self.forget_member(m);
            }
        }
        if !g.maybe_elect_new_joined_leader() && !g.members.is_empty() {
            // Only static members remain and none rejoined: wait for them (or for their
            // sessions to expire).
            self.schedule_join(g, g.rebalance_timeout_ms(), None);
            return;
        }
        g.init_next_generation(self.now);
        if g.state == GroupState::Empty {
            self.store_empty_group(g);
            return;
        }
        let ids: Vec<String> = g.members.iter().map(|m| m.id.clone()).collect();
        for id in &ids {
            let result = Self::join_result(g, id, g.is_leader(id));
            if let Some(m) = g.member_mut(id) {
                m.is_new = false;
                if let Some(r) = m.awaiting_join.take() {
                    self.respond_join(r, result);
                }
            }
            self.schedule_heartbeat(g, id);
            g.pending_sync.insert(id.clone());
        }
        let at = self.now.saturating_add(g.rebalance_timeout_ms());
        g.sync_timer = Some(self.timers.schedule(
            at,
            TimerKind::Sync {
                group: g.id.clone(),
            },
        ));
    }

    fn sync(&mut self, g: &mut Group, request: RequestId, req: SyncGroup) {
        let error = if g.state == GroupState::Dead {
            Some(ResponseError::CoordinatorNotAvailable)
        } else if g.is_static_member_fenced(&req.member_id, req.group_instance_id.as_deref()) {
            Some(ResponseError::FencedInstanceId)
        } else if !g.has(&req.member_id) {
            Some(ResponseError::UnknownMemberId)
        } else if req.generation_id != g.generation {
            Some(ResponseError::IllegalGeneration)
        } else if req
            .protocol_type
            .as_ref()
            .is_some_and(|t| g.protocol_type.as_ref() != Some(t))
            || req
                .protocol_name
                .as_ref()
                .is_some_and(|n| g.protocol_name.as_ref() != Some(n))
        {
            Some(ResponseError::InconsistentGroupProtocol)
        } else {
            match g.state {
                GroupState::Empty => Some(ResponseError::UnknownMemberId),
                GroupState::PreparingRebalance => Some(ResponseError::RebalanceInProgress),
                GroupState::Dead => Some(ResponseError::CoordinatorNotAvailable),
                GroupState::CompletingRebalance | GroupState::Stable => None,
            }
        };
        if let Some(e) = error {
            self.respond_sync(request, SyncGroupResult::error(e));
            return;
        }
        let member_id = req.member_id;
        if g.state == GroupState::Stable {
            self.remove_pending_sync(g, &member_id);
            let assignment = g
                .member(&member_id)
                .map(|m| m.assignment.clone())
                .unwrap_or_default();
            let result = SyncGroupResult {
                error: None,
                protocol_type: g.protocol_type.clone(),
                protocol_name: g.protocol_name.clone(),
                assignment,
            };
            self.respond_sync(request, result);
            self.schedule_heartbeat(g, &member_id);
            return;
        }
        // CompletingRebalance: wait for the leader's assignment to be stored.
        if let Some(m) = g.member_mut(&member_id) {
            if let Some(old) = m.awaiting_sync.replace(request) {
                self.out.push(Outcome::Abandon(old));
            }
        }
        self.remove_pending_sync(g, &member_id);
        if g.is_leader(&member_id) {
            // Members the leader left out get an empty assignment; later entries for the
            // same member win, as in Kafka's map.
            let assignment: Vec<(String, Bytes)> = g
                .members
                .iter()
                .map(|m| {
                    let a = req
                        .assignments
                        .iter()
                        .rev()
                        .find(|(id, _)| *id == m.id)
                        .map(|(_, a)| a.clone())
                        .unwrap_or_default();
                    (m.id.clone(), a)
                })
                .collect();
            let action = GroupAppend::Assignment {
                generation: g.generation,
                assignment: assignment.clone(),
            };
            self.store_group(g, &assignment, action);
        }
    }

    /// Appends the group's metadata record; `action` runs when the append completes.
    fn store_group(&mut self, g: &mut Group, assignment: &[(String, Bytes)], action: GroupAppend) {
        let key = GroupMetadataKey {
            group: g.id.clone(),
        }
        .encode();
        let value = g.metadata_value(assignment).encode();
        match (key, value) {
            (Ok(key), Ok(value)) => {
                let record = LogRecord {
                    key: key.into(),
                    value: Some(value.into()),
                };
                let pending = PendingAppend::Group {
                    group: g.id.clone(),
                    incarnation: g.incarnation,
                    action,
                };
                self.append(&g.id, vec![record], Some(pending));
            }
            // Unencodable (a field over its length limit): fail as an oversized append.
            _ => self.group_append_done(g, action, Some(ResponseError::UnknownServerError)),
        }
    }

    /// The record of a generation without members; nothing waits for it.
    fn store_empty_group(&mut self, g: &Group) {
        let key = GroupMetadataKey {
            group: g.id.clone(),
        }
        .encode();
        if let (Ok(key), Ok(value)) = (key, g.metadata_value(&[]).encode()) {
            let record = LogRecord {
                key: key.into(),
                value: Some(value.into()),
            };
            self.append(&g.id, vec![record], None);
        }
    }

    /// Continues after a group metadata append, with the error already mapped.
    pub(super) fn group_append_done(
        &mut self,
        g: &mut Group,
        action: GroupAppend,
        error: Option<ResponseError>,
    ) {
        match action {
            GroupAppend::Assignment {
                generation,
                assignment,
            } => {
                // A member may have joined meanwhile and restarted the rebalance.
                if g.state != GroupState::CompletingRebalance || g.generation != generation {
                    return;
                }
                match error {
                    Some(e) => {
                        self.reset_and_propagate_assignment_error(g, e);
                        self.maybe_prepare_rebalance(g);
                    }
                    None => {
                        for m in g.members.iter_mut() {
                            m.assignment = assignment
                                .iter()
                                .find(|(id, _)| *id == m.id)
                                .map(|(_, a)| a.clone())
                                .unwrap_or_default();
                        }
                        self.propagate_assignment(g, None);
                        g.transition(GroupState::Stable, self.now);
                    }
                }
            }
            GroupAppend::StaticRejoin {
                request,
                new_member_id,
                old_member_id,
                old_protocols,
                previous_leader,
            } => {
                let still_waiting = g
                    .member(&new_member_id)
                    .is_some_and(|m| m.awaiting_join == Some(request));
                if !still_waiting {
                    return;
                }
                match error {
                    Some(e) => {
                        // Not persisted: put the old member id back.
                        self.update_member(g, &new_member_id, old_protocols, None);
                        self.replace_group_instance(g, &new_member_id, &old_member_id);
                        self.schedule_heartbeat(g, &old_member_id);
                        let result = JoinGroupResult {
                            error: Some(e),
                            generation_id: g.generation,
                            protocol_type: g.protocol_type.clone(),
                            protocol_name: g.protocol_name.clone(),
                            leader: previous_leader,
                            member_id: String::new(),
                            members: Vec::new(),
                        };
                        self.respond_join(request, result);
                    }
                    None => {
                        if let Some(m) = g.member_mut(&new_member_id) {
                            m.awaiting_join = None;
                        }
                        // Its deadline may have lapsed while it waited for the append.
                        self.schedule_heartbeat(g, &new_member_id);
                        // The old leader id, so that this member does not take itself for
                        // the leader and reassign a Stable group.
                        let mut result = Self::join_result(g, &new_member_id, false);
                        result.leader = previous_leader;
                        self.respond_join(request, result);
                    }
                }
            }
        }
    }

    fn reset_and_propagate_assignment_error(&mut self, g: &mut Group, error: ResponseError) {
        for m in g.members.iter_mut() {
            m.assignment = Bytes::new();
        }
        self.propagate_assignment(g, Some(error));
    }

    /// Answers every waiting SyncGroup and restarts the session clock of those members.
    fn propagate_assignment(&mut self, g: &mut Group, error: Option<ResponseError>) {
        let (protocol_type, protocol_name) = match error {
            None => (g.protocol_type.clone(), g.protocol_name.clone()),
            Some(_) => (None, None),
        };
        let ids: Vec<String> = g.members.iter().map(|m| m.id.clone()).collect();
        for id in ids {
            let Some(m) = g.member_mut(&id) else { continue };
            let Some(r) = m.awaiting_sync.take() else {
                continue;
            };
            let result = SyncGroupResult {
                error,
                protocol_type: protocol_type.clone(),
                protocol_name: protocol_name.clone(),
                assignment: m.assignment.clone(),
            };
            self.respond_sync(r, result);
            self.schedule_heartbeat(g, &id);
        }
    }

    fn remove_pending_sync(&mut self, g: &mut Group, member_id: &str) {
        g.pending_sync.remove(member_id);
        if g.pending_sync.is_empty() {
            self.timers.cancel(g.sync_timer.take());
        }
    }

    fn clear_pending_sync(&mut self, g: &mut Group) {
        g.pending_sync.clear();
        self.timers.cancel(g.sync_timer.take());
    }

    /// Members that got the new generation but never sent SyncGroup are removed and the
    /// group rebalances without them.
    pub(super) fn on_sync_expired(&mut self, g: &mut Group, token: TimerToken) {
        if g.sync_timer != Some(token) {
            return;
        }
        g.sync_timer = None;
        if !matches!(
            g.state,
            GroupState::CompletingRebalance | GroupState::Stable
        ) || g.pending_sync.is_empty()
        {
            return;
        }
        for id in std::mem::take(&mut g.pending_sync) {
            if let Some(m) = g.remove_member(&id) {
                self.forget_member(m);
            }
        }
        self.prepare_rebalance(g);
    }

    fn leave(
        &mut self,
        g: &mut Group,
        member_id: &str,
        instance: Option<&str>,
    ) -> Option<ResponseError> {
        if !member_id.is_empty() && g.is_static_member_fenced(member_id, instance) {
            return Some(ResponseError::FencedInstanceId);
        }
        if g.is_pending_member(member_id) {
            self.remove_pending_member(g, member_id);
            return None;
        }
        let target = match g.static_member_id(instance) {
            Some(id) => id,
            None if g.has(member_id) => member_id.to_string(),
            None => return Some(ResponseError::UnknownMemberId),
        };
        self.remove_member_and_update(g, &target);
        None
    }

    fn remove_pending_member(&mut self, g: &mut Group, member_id: &str) {
        if let Some(token) = g.pending_members.remove(member_id) {
            self.timers.cancel(Some(token));
        }
        if g.state == GroupState::PreparingRebalance {
            self.maybe_complete_join(g);
        }
    }

    /// Removes a member that left or timed out; its waiting JoinGroup (if any) is told
    /// UNKNOWN_MEMBER_ID so a live client rejoins, and the group rebalances.
    fn remove_member_and_update(&mut self, g: &mut Group, member_id: &str) {
        if let Some(r) = g.member_mut(member_id).and_then(|m| m.awaiting_join.take()) {
            let e = ResponseError::UnknownMemberId;
            self.respond_join(r, JoinGroupResult::error("", e));
        }
        if let Some(m) = g.remove_member(member_id) {
            self.forget_member(m);
        }
        match g.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.maybe_prepare_rebalance(g),
            GroupState::PreparingRebalance => self.maybe_complete_join(g),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Cancels a removed member's deadline; requests it still had waiting are abandoned.
    pub(super) fn forget_member(&mut self, m: Member) {
        self.timers.cancel(m.heartbeat);
        for r in [m.awaiting_join, m.awaiting_sync].into_iter().flatten() {
            self.out.push(Outcome::Abandon(r));
        }
    }

    /// Restarts a member's session timeout.
    pub(super) fn schedule_heartbeat(&mut self, g: &mut Group, member_id: &str) {
        let timeout = g.member(member_id).map(|m| i64::from(m.session_timeout_ms));
        if let Some(timeout) = timeout {
            self.schedule_expiration(g, member_id, timeout);
        }
    }

    fn schedule_expiration(&mut self, g: &mut Group, member_id: &str, timeout_ms: i64) {
        let group = g.id.clone();
        let Some(m) = g.member_mut(member_id) else {
            return;
        };
        self.timers.cancel(m.heartbeat.take());
        let at = self.now.saturating_add(timeout_ms.max(0));
        m.heartbeat = Some(self.timers.schedule(
            at,
            TimerKind::Heartbeat {
                group,
                member: member_id.to_string(),
            },
        ));
    }

    pub(super) fn on_heartbeat_expired(
        &mut self,
        g: &mut Group,
        member_id: &str,
        token: TimerToken,
    ) {
        let Some(m) = g
            .member_mut(member_id)
            .filter(|m| m.heartbeat == Some(token))
        else {
            return;
        };
        m.heartbeat = None;
        // Waiting in JoinGroup/SyncGroup counts as alive; the deadline restarts when the
        // wait ends.
        if !m.alive_while_waiting() {
            self.remove_member_and_update(g, member_id);
        }
    }

    pub(super) fn on_pending_member_expired(
        &mut self,
        g: &mut Group,
        member_id: &str,
        token: TimerToken,
    ) {
        if g.pending_members.get(member_id) == Some(&token) {
            g.pending_members.remove(member_id);
            if g.state == GroupState::PreparingRebalance {
                self.maybe_complete_join(g);
            }
        }
    }
}
