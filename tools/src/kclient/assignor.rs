//! The "consumer" group protocol's pure parts: Kafka's `ConsumerProtocol` subscription and
//! assignment bytes (an i16 version header, then the versioned struct) and the "range"
//! assignor (`RangeAssignor`). No I/O: the group member code in [`super::group`] sends them.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// The protocol type consumers join with.
pub const PROTOCOL_TYPE: &str = "consumer";
/// The only assignor this consumer offers.
pub const RANGE: &str = "range";
/// Kafka 2.4 writes subscriptions as version 1 (with owned partitions).
const SUBSCRIPTION_VERSION: i16 = 1;
/// Assignments: versions 0 and 1 have the same layout; 0 is readable by every client.
const ASSIGNMENT_VERSION: i16 = 0;
/// The newest layout kafka-protocol knows; newer versions only append fields, so they are
/// read with this one (as Kafka's clients do).
const MAX_KNOWN_VERSION: i16 = 3;

/// Malformed subscription or assignment bytes from the group.
#[derive(Debug, thiserror::Error)]
#[error("malformed consumer protocol {what}: {msg}")]
pub struct ProtocolError {
    what: &'static str,
    msg: String,
}

/// A member's subscription as the leader reads it from JoinGroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub topics: Vec<String>,
}

/// Topic -> partitions given to one member.
pub type Assignment = BTreeMap<String, Vec<i32>>;

pub fn encode_subscription(topics: &[String], owned: &Assignment) -> Result<Bytes, ProtocolError> {
    let mut s = ConsumerProtocolSubscription::default();
    s.topics = topics
        .iter()
        .map(|t| StrBytes::from_string(t.clone()))
        .collect();
    s.owned_partitions = owned
        .iter()
        .map(|(t, ps)| {
            let mut o = OwnedTopic::default();
            o.topic = TopicName(StrBytes::from_string(t.clone()));
            o.partitions = ps.clone();
            o
        })
        .collect();
    encode("subscription", &s, SUBSCRIPTION_VERSION)
}

pub fn decode_subscription(bytes: &[u8]) -> Result<Subscription, ProtocolError> {
    let s: ConsumerProtocolSubscription = decode("subscription", bytes)?;
    Ok(Subscription {
        topics: s.topics.iter().map(|t| t.as_str().to_owned()).collect(),
    })
}

pub fn encode_assignment(a: &Assignment) -> Result<Bytes, ProtocolError> {
    let mut m = ConsumerProtocolAssignment::default();
    m.assigned_partitions = a
        .iter()
        .map(|(t, ps)| {
            let mut at = AssignedTopic::default();
            at.topic = TopicName(StrBytes::from_string(t.clone()));
            at.partitions = ps.clone();
            at
        })
        .collect();
    encode("assignment", &m, ASSIGNMENT_VERSION)
}

/// An empty assignment (a SyncGroup answer with no bytes) is no partitions, as in Kafka.
pub fn decode_assignment(bytes: &[u8]) -> Result<Assignment, ProtocolError> {
    if bytes.is_empty() {
        return Ok(Assignment::new());
    }
    let m: ConsumerProtocolAssignment = decode("assignment", bytes)?;
    let mut out = Assignment::new();
    for t in m.assigned_partitions {
        out.entry(t.topic.0.as_str().to_owned())
            .or_default()
            .extend(t.partitions);
    }
    for ps in out.values_mut() {
        ps.sort_unstable();
        ps.dedup();
    }
    Ok(out)
}

fn encode<M: Encodable>(what: &'static str, m: &M, version: i16) -> Result<Bytes, ProtocolError> {
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    m.encode(&mut buf, version).map_err(|e| ProtocolError {
        what,
        msg: e.to_string(),
    })?;
    Ok(buf.freeze())
}

fn decode<M: Decodable>(what: &'static str, bytes: &[u8]) -> Result<M, ProtocolError> {
    let err = |msg: String| ProtocolError { what, msg };
    let mut buf = Bytes::copy_from_slice(bytes);
    if buf.remaining() < 2 {
        return Err(err("shorter than its version header".into()));
    }
    let version = buf.get_i16();
    if version < 0 {
        return Err(err(format!("version {version}")));
    }
    M::decode(&mut buf, version.min(MAX_KNOWN_VERSION)).map_err(|e| err(e.to_string()))
}

/// Kafka's RangeAssignor: for each topic, the members subscribed to it, sorted by id, get
/// contiguous ranges of its partitions; the first `partitions % members` get one extra.
/// `members` maps member id to subscription; `partitions` gives each known topic's count
/// (topics missing from it are assigned to nobody). Every member appears in the result.
pub fn range_assign(
    members: &BTreeMap<String, Subscription>,
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .keys()
        .map(|m| (m.clone(), Assignment::new()))
        .collect();
    let mut by_topic: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (id, sub) in members {
        for t in &sub.topics {
            by_topic.entry(t.as_str()).or_default().insert(id.as_str());
        }
    }
    for (topic, consumers) in by_topic {
        let Some(&count) = partitions.get(topic) else {
            continue;
        };
        let count = count.max(0) as usize;
        let n = consumers.len();
        let per = count / n;
        let extra = count % n;
        for (i, member) in consumers.into_iter().enumerate() {
            let start = per * i + i.min(extra);
            let len = per + usize::from(i < extra);
            if len == 0 {
                continue;
            }
            let parts: Vec<i32> = (start..start + len).map(|p| p as i32).collect();
            if let Some(a) = out.get_mut(member) {
                a.insert(topic.to_owned(), parts);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(ts: &[&str]) -> Subscription {
        Subscription {
            topics: ts.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn range_splits_like_kafka() {
        let mut members = BTreeMap::new();
        members.insert("c0".to_string(), sub(&["t1", "t2"]));
        members.insert("c1".to_string(), sub(&["t1", "t2"]));
        let parts: BTreeMap<String, i32> = [("t1".into(), 3), ("t2".into(), 3)].into();
        let a = range_assign(&members, &parts);
        // Kafka's documented example: C0 [t0p0, t0p1, t1p0, t1p1], C1 [t0p2, t1p2].
        assert_eq!(a["c0"]["t1"], vec![0, 1]);
        assert_eq!(a["c0"]["t2"], vec![0, 1]);
        assert_eq!(a["c1"]["t1"], vec![2]);
        assert_eq!(a["c1"]["t2"], vec![2]);
    }

    #[test]
    fn range_handles_more_members_than_partitions_and_partial_subscriptions() {
        let mut members = BTreeMap::new();
        members.insert("a".to_string(), sub(&["x"]));
        members.insert("b".to_string(), sub(&["x", "y"]));
        members.insert("c".to_string(), sub(&["x", "missing"]));
        let parts: BTreeMap<String, i32> = [("x".into(), 2), ("y".into(), 4)].into();
        let a = range_assign(&members, &parts);
        assert_eq!(a["a"].get("x"), Some(&vec![0]));
        assert_eq!(a["b"].get("x"), Some(&vec![1]));
        assert_eq!(a["c"].get("x"), None);
        assert_eq!(a["b"].get("y"), Some(&vec![0, 1, 2, 3]));
        assert!(a["c"].is_empty());
    }

    #[test]
    fn protocol_bytes_round_trip_with_version_header() {
        let owned: Assignment = [("t".to_string(), vec![1, 2])].into();
        let s = encode_subscription(&["t".into(), "u".into()], &owned).unwrap();
        assert_eq!(&s[..2], &[0, 1]);
        assert_eq!(decode_subscription(&s).unwrap(), sub(&["t", "u"]));
        let a = encode_assignment(&owned).unwrap();
        assert_eq!(&a[..2], &[0, 0]);
        assert_eq!(decode_assignment(&a).unwrap(), owned);
        assert!(decode_assignment(&[]).unwrap().is_empty());
        assert!(decode_assignment(&[0]).is_err());
        assert!(decode_subscription(&[0, 0, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn kafka_java_subscription_bytes_decode() {
        // ConsumerProtocol v0 as Kafka's Java client writes it: version 0, one topic "t",
        // null user data.
        let bytes = [0u8, 0, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff];
        assert_eq!(decode_subscription(&bytes).unwrap(), sub(&["t"]));
    }
}
