//! Consumer-group administration as Kafka's AdminClient does it: ListGroups (every broker,
//! merged), DescribeGroups (the group's coordinator; member assignments decoded as Kafka's
//! ConsumerProtocol assignment), OffsetCommit from outside the group (generation -1, no member
//! id: only an Empty or Dead group accepts it) and DeleteGroups (the coordinator, per-group
//! error codes).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, GroupId, ListGroupsRequest, OffsetCommitRequest,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{ClientError, KafkaClient};

/// COORDINATOR_LOAD_IN_PROGRESS and COORDINATOR_NOT_AVAILABLE: worth retrying until the
/// deadline; NOT_COORDINATOR: the coordinator moved, ask again.
fn retriable(code: i16) -> bool {
    matches!(code, 14..=16)
}

/// A group as ListGroups reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedGroup {
    pub group_id: String,
    /// "consumer" for consumer groups; "" for groups that only hold committed offsets.
    pub protocol_type: String,
    /// The node that listed it.
    pub node: i32,
}

/// One member of a described group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// (topic, partition) in the order the assignment lists them; empty when the member has
    /// no assignment yet.
    pub assignment: Vec<(String, i32)>,
}

/// A group as DescribeGroups reports it, plus the coordinator that answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    /// Kafka's state names: Stable, PreparingRebalance, CompletingRebalance, Empty, Dead.
    pub state: String,
    pub protocol_type: String,
    /// The assignor (for consumer groups), "" while the group has none.
    pub protocol: String,
    pub members: Vec<GroupMember>,
    pub coordinator: Coordinator,
}

/// The broker coordinating a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coordinator {
    pub id: i32,
    pub host: String,
    pub port: i32,
}

/// Decodes a member's assignment bytes: an int16 version, then Kafka's ConsumerProtocol
/// Assignment (every version starts with the topic array; later ones only append fields, so
/// newer versions read like older ones, as Kafka's ConsumerProtocol does). Decoded by hand
/// rather than with kafka-protocol's type so that every count is checked against the bytes
/// left before anything is allocated.
pub fn decode_assignment(bytes: &[u8]) -> Result<Vec<(String, i32)>, ClientError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let bad = |what: &str| ClientError::Other(format!("cannot decode member assignment: {what}"));
    let mut r = Reader(bytes);
    let version = r.i16().ok_or_else(|| bad("no version"))?;
    if version < 0 {
        return Err(bad(&format!("version {version}")));
    }
    let topics = r.count(6).ok_or_else(|| bad("bad topic count"))?;
    let mut out = Vec::new();
    for _ in 0..topics {
        let len = r.i16().ok_or_else(|| bad("truncated topic"))?;
        let name = usize::try_from(len)
            .ok()
            .and_then(|n| r.take(n))
            .ok_or_else(|| bad("bad topic name"))?;
        let name = std::str::from_utf8(name).map_err(|_| bad("topic name is not UTF-8"))?;
        let parts = r.count(4).ok_or_else(|| bad("bad partition count"))?;
        for _ in 0..parts {
            let p = r.i32().ok_or_else(|| bad("truncated partitions"))?;
            out.push((name.to_owned(), p));
        }
    }
    Ok(out)
}

/// A big-endian reader over a byte slice; None when the bytes run out.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn i16(&mut self) -> Option<i16> {
        self.take(2).map(|b| i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Option<i32> {
        self.take(4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An array count, at most what the remaining bytes can hold at `min_size` each.
    fn count(&mut self, min_size: usize) -> Option<usize> {
        let n = usize::try_from(self.i32()?).ok()?;
        (n <= self.0.len() / min_size).then_some(n)
    }
}

impl KafkaClient {
    /// Every group on every broker of the cluster (ListGroups to each, merged in broker
    /// order). A broker that answers with an error fails the whole listing, as AdminClient's
    /// `all()` does; loading coordinators are retried until the request timeout.
    pub async fn list_groups(&mut self) -> Result<Vec<ListedGroup>, ClientError> {
        self.metadata(Some(&[])).await?;
        let nodes: Vec<i32> = self.brokers().keys().copied().collect();
        if nodes.is_empty() {
            return Err(ClientError::Other(
                "the metadata lists no brokers to send ListGroups to".into(),
            ));
        }
        let deadline = Instant::now() + self.config().request_timeout;
        let mut out = Vec::new();
        for node in nodes {
            loop {
                let (resp, _) = self
                    .send_to_node(node, &ListGroupsRequest::default(), None)
                    .await?;
                match resp.error_code {
                    0 => {
                        out.extend(resp.groups.into_iter().map(|g| ListedGroup {
                            group_id: g.group_id.0.as_str().to_owned(),
                            protocol_type: g.protocol_type.as_str().to_owned(),
                            node,
                        }));
                        break;
                    }
                    c if retriable(c) && Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(100)).await
                    }
                    code => {
                        return Err(ClientError::Kafka {
                            context: format!("listing groups on broker {node}"),
                            code,
                        })
                    }
                }
            }
        }
        Ok(out)
    }

    /// The coordinator of `group` with its address.
    pub async fn coordinator(&mut self, group: &str) -> Result<Coordinator, ClientError> {
        let id = self.find_coordinator(group).await?;
        let addr = self.node_addr(id).await?;
        let (host, port) = addr
            .rsplit_once(':')
            .and_then(|(h, p)| p.parse::<i32>().ok().map(|p| (h.to_owned(), p)))
            .ok_or_else(|| ClientError::Other(format!("bad broker address {addr}")))?;
        Ok(Coordinator { id, host, port })
    }

    /// DescribeGroups for `group`, sent to its coordinator. A group the coordinator does not
    /// know comes back as state "Dead" with no members (not as an error), as from Kafka.
    pub async fn describe_group(&mut self, group: &str) -> Result<GroupDescription, ClientError> {
        let deadline = Instant::now() + self.config().request_timeout;
        loop {
            let coordinator = self.coordinator(group).await?;
            let mut req = DescribeGroupsRequest::default();
            req.groups = vec![GroupId(StrBytes::from_string(group.to_owned()))];
            let (resp, _) = self.send_to_node(coordinator.id, &req, None).await?;
            let Some(g) = resp
                .groups
                .into_iter()
                .find(|g| g.group_id.0.as_str() == group)
            else {
                return Err(ClientError::Other(format!(
                    "No consumer group found for GroupId: {group}"
                )));
            };
            if retriable(g.error_code) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            if g.error_code != 0 {
                return Err(ClientError::Kafka {
                    context: format!("describing group {group}"),
                    code: g.error_code,
                });
            }
            let mut members = Vec::with_capacity(g.members.len());
            for m in g.members {
                members.push(GroupMember {
                    member_id: m.member_id.as_str().to_owned(),
                    group_instance_id: m.group_instance_id.map(|s| s.as_str().to_owned()),
                    client_id: m.client_id.as_str().to_owned(),
                    client_host: m.client_host.as_str().to_owned(),
                    assignment: decode_assignment(&m.member_assignment)?,
                });
            }
            return Ok(GroupDescription {
                group_id: group.to_owned(),
                state: g.group_state.as_str().to_owned(),
                protocol_type: g.protocol_type.as_str().to_owned(),
                protocol: g.protocol_data.as_str().to_owned(),
                members,
                coordinator,
            });
        }
    }

    /// Commits `offsets` ((topic, partition) -> offset) for `group` from outside it
    /// (generation -1, empty member id), as Kafka's reset-offsets does: the coordinator only
    /// accepts that while the group has no members. Returns each partition's error code.
    pub async fn commit_offsets_admin(
        &mut self,
        group: &str,
        offsets: &BTreeMap<(String, i32), i64>,
    ) -> Result<BTreeMap<(String, i32), i16>, ClientError> {
        let deadline = Instant::now() + self.config().request_timeout;
        let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
        for ((t, p), o) in offsets {
            by_topic.entry(t.as_str()).or_default().push((*p, *o));
        }
        let mut req = OffsetCommitRequest::default();
        req.group_id = GroupId(StrBytes::from_string(group.to_owned()));
        req.generation_id_or_member_epoch = -1;
        req.member_id = StrBytes::from_static_str("");
        req.retention_time_ms = -1;
        req.topics = by_topic
            .into_iter()
            .map(|(t, parts)| {
                let mut rt = OffsetCommitRequestTopic::default();
                rt.name = TopicName(StrBytes::from_string(t.to_owned()));
                rt.partitions = parts
                    .into_iter()
                    .map(|(p, o)| {
                        let mut rp = OffsetCommitRequestPartition::default();
                        rp.partition_index = p;
                        rp.committed_offset = o;
                        rp.committed_leader_epoch = -1;
                        rp.commit_timestamp = -1;
                        rp.committed_metadata = Some(StrBytes::from_static_str(""));
                        rp
                    })
                    .collect();
                rt
            })
            .collect();
        loop {
            let coordinator = self.find_coordinator(group).await?;
            let (resp, _) = self.send_to_node(coordinator, &req, None).await?;
            let mut out = BTreeMap::new();
            let mut retry = false;
            for t in resp.topics {
                for p in t.partitions {
                    retry |= retriable(p.error_code);
                    out.insert(
                        (t.name.0.as_str().to_owned(), p.partition_index),
                        p.error_code,
                    );
                }
            }
            if retry && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            return Ok(out);
        }
    }

    /// Deletes each of `groups` at its coordinator; returns (group, error code) in the order
    /// given (0: deleted; 68 NON_EMPTY_GROUP, 69 GROUP_ID_NOT_FOUND, ...). A failure to find
    /// a group's coordinator is that group's error code.
    pub async fn delete_groups(
        &mut self,
        groups: &[String],
    ) -> Result<Vec<(String, i16)>, ClientError> {
        let mut out = Vec::with_capacity(groups.len());
        for group in groups {
            let deadline = Instant::now() + self.config().request_timeout;
            let code = loop {
                let coordinator = match self.find_coordinator(group).await {
                    Ok(c) => c,
                    Err(ClientError::Kafka { code, .. }) => break code,
                    Err(e) => return Err(e),
                };
                let mut req = DeleteGroupsRequest::default();
                req.groups_names = vec![GroupId(StrBytes::from_string(group.clone()))];
                let (resp, _) = self.send_to_node(coordinator, &req, None).await?;
                let code = resp
                    .results
                    .iter()
                    .find(|r| r.group_id.0.as_str() == group)
                    .map(|r| r.error_code)
                    .ok_or_else(|| {
                        ClientError::Other(format!("DeleteGroups did not answer for {group}"))
                    })?;
                if retriable(code) && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                break code;
            };
            out.push((group.clone(), code));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::consumer_protocol_assignment::{
        ConsumerProtocolAssignment, TopicPartition,
    };
    use kafka_protocol::protocol::Encodable;

    fn encoded(version: i16, parts: &[(&str, &[i32])]) -> Vec<u8> {
        let mut a = ConsumerProtocolAssignment::default();
        a.assigned_partitions = parts
            .iter()
            .map(|(t, ps)| {
                let mut tp = TopicPartition::default();
                tp.topic = TopicName(StrBytes::from_string((*t).to_owned()));
                tp.partitions = ps.to_vec();
                tp
            })
            .collect();
        let mut buf = bytes::BytesMut::new();
        buf.extend_from_slice(&version.to_be_bytes());
        a.encode(&mut buf, version.min(3)).unwrap();
        buf.to_vec()
    }

    #[test]
    fn decodes_consumer_protocol_assignments() {
        let b = encoded(1, &[("t", &[0, 2]), ("u", &[1])]);
        assert_eq!(
            decode_assignment(&b).unwrap(),
            vec![("t".into(), 0), ("t".into(), 2), ("u".into(), 1)]
        );
        // A newer version is read as the newest known one.
        let mut b = encoded(3, &[("t", &[5])]);
        b[1] = 9;
        assert_eq!(decode_assignment(&b).unwrap(), vec![("t".into(), 5)]);
        assert!(decode_assignment(&[]).unwrap().is_empty());
        assert!(decode_assignment(&[0]).is_err());
        assert!(decode_assignment(&[0, 0, 0, 0, 0]).is_err());
        assert!(decode_assignment(&[0xff, 0xff, 0, 0, 0, 0]).is_err());
        // A count larger than the bytes can hold is refused before allocating.
        assert!(decode_assignment(&[0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0]).is_err());
    }
}
