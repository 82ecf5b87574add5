//! The embedded `consumer` protocol: what Java consumers put in JoinGroup metadata
//! (Subscription) and SyncGroup assignments (Assignment). The coordinator treats both as
//! opaque bytes; these decoders serve DescribeGroups-style tooling and offset expiry
//! (which needs a group's subscribed topics).
//!
//! Schemas: `ConsumerProtocolSubscription.json` / `ConsumerProtocolAssignment.json`
//! (versions 0–3; 2.8 writes 0–1). An int16 version prefix, then a non-flexible body. As
//! in Kafka, a version newer than the newest known is read with the newest layout: later
//! versions only append fields.

use bytes::Bytes;

use super::wire::{Reader, Writer};
use super::CodecError;

/// The protocol type Java consumers join with.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";
/// The newest Subscription/Assignment version this module knows.
pub const NEWEST_VERSION: i16 = 3;

/// Partitions of one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPartitions {
    pub topic: String,
    pub partitions: Vec<i32>,
}

/// A member's subscription (JoinGroup protocol metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The version it was (or will be) encoded with.
    pub version: i16,
    pub topics: Vec<String>,
    pub user_data: Option<Bytes>,
    /// Version 1+.
    pub owned_partitions: Vec<TopicPartitions>,
    /// Version 2+; -1 when absent.
    pub generation_id: i32,
    /// Version 3+.
    pub rack_id: Option<String>,
}

/// A member's assignment (SyncGroup assignment bytes). Every version has the same body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub version: i16,
    pub assigned_partitions: Vec<TopicPartitions>,
    pub user_data: Option<Bytes>,
}

fn read_version(r: &mut Reader<'_>, schema: &'static str) -> Result<i16, CodecError> {
    let version = r.i16()?;
    if version < 0 {
        return Err(CodecError::UnsupportedVersion { schema, version });
    }
    Ok(version)
}

fn check_write_version(version: i16, schema: &'static str) -> Result<(), CodecError> {
    if (0..=NEWEST_VERSION).contains(&version) {
        Ok(())
    } else {
        Err(CodecError::UnsupportedVersion { schema, version })
    }
}

fn read_topic_partitions(
    r: &mut Reader<'_>,
    field: &'static str,
) -> Result<Vec<TopicPartitions>, CodecError> {
    // Smallest element: empty topic name (2) + empty partition array (4).
    let n = r.array_len(field, 6)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let topic = r.string("topic")?;
        let count = r.array_len("partitions", 4)?;
        let mut partitions = Vec::with_capacity(count);
        for _ in 0..count {
            partitions.push(r.i32()?);
        }
        out.push(TopicPartitions { topic, partitions });
    }
    Ok(out)
}

fn write_topic_partitions(
    w: &mut Writer,
    field: &'static str,
    tps: &[TopicPartitions],
) -> Result<(), CodecError> {
    w.array_len(field, tps.len())?;
    for tp in tps {
        w.string("topic", &tp.topic)?;
        w.array_len("partitions", tp.partitions.len())?;
        for p in &tp.partitions {
            w.i32(*p);
        }
    }
    Ok(())
}

fn read_topics(r: &mut Reader<'_>) -> Result<Vec<String>, CodecError> {
    let n = r.array_len("topics", 2)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        topics.push(r.string("topic")?);
    }
    Ok(topics)
}

impl Subscription {
    pub fn decode(buf: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(buf);
        let version = read_version(&mut r, "ConsumerProtocolSubscription")?;
        let topics = read_topics(&mut r)?;
        let user_data = r.nullable_bytes()?;
        let owned_partitions = if version >= 1 {
            read_topic_partitions(&mut r, "ownedPartitions")?
        } else {
            Vec::new()
        };
        let generation_id = if version >= 2 { r.i32()? } else { -1 };
        let rack_id = if version >= 3 {
            r.nullable_string()?
        } else {
            None
        };
        Ok(Subscription {
            version,
            topics,
            user_data,
            owned_partitions,
            generation_id,
            rack_id,
        })
    }

    /// Only the subscribed topics: the version-0 prefix every version shares, which is all
    /// the coordinator reads (so a newer client cannot break offset expiry).
    pub fn decode_topics(buf: &[u8]) -> Result<Vec<String>, CodecError> {
        let mut r = Reader::new(buf);
        read_version(&mut r, "ConsumerProtocolSubscription")?;
        read_topics(&mut r)
    }

    /// Encodes with `self.version` (0–3); fields that version lacks are dropped.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        check_write_version(self.version, "ConsumerProtocolSubscription")?;
        let mut w = Writer::with_version(self.version);
        w.array_len("topics", self.topics.len())?;
        for t in &self.topics {
            w.string("topic", t)?;
        }
        w.nullable_bytes("userData", self.user_data.as_deref())?;
        if self.version >= 1 {
            write_topic_partitions(&mut w, "ownedPartitions", &self.owned_partitions)?;
        }
        if self.version >= 2 {
            w.i32(self.generation_id);
        }
        if self.version >= 3 {
            w.nullable_string("rackId", self.rack_id.as_deref())?;
        }
        Ok(w.finish())
    }
}

impl Assignment {
    pub fn decode(buf: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(buf);
        let version = read_version(&mut r, "ConsumerProtocolAssignment")?;
        Ok(Assignment {
            version,
            assigned_partitions: read_topic_partitions(&mut r, "assignedPartitions")?,
            user_data: r.nullable_bytes()?,
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        check_write_version(self.version, "ConsumerProtocolAssignment")?;
        let mut w = Writer::with_version(self.version);
        write_topic_partitions(&mut w, "assignedPartitions", &self.assigned_partitions)?;
        w.nullable_bytes("userData", self.user_data.as_deref())?;
        Ok(w.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn subscription_v1_bytes() {
        // Hand-derived from ConsumerProtocolSubscription.json at version 1.
        let bytes = [
            0, 1, // version
            0, 0, 0, 2, // two topics
            0, 1, b'a', 0, 2, b'b', b'c', //
            0xff, 0xff, 0xff, 0xff, // userData null
            0, 0, 0, 1, // one owned topic
            0, 1, b'a', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3,
        ];
        let s = Subscription::decode(&bytes).unwrap();
        assert_eq!(
            s,
            Subscription {
                version: 1,
                topics: vec!["a".into(), "bc".into()],
                user_data: None,
                owned_partitions: vec![TopicPartitions {
                    topic: "a".into(),
                    partitions: vec![0, 3]
                }],
                generation_id: -1,
                rack_id: None,
            }
        );
        assert_eq!(s.encode().unwrap(), bytes);
        assert_eq!(Subscription::decode_topics(&bytes).unwrap(), ["a", "bc"]);
    }

    #[test]
    fn newer_versions_read_with_newest_layout() {
        let mut s = Subscription {
            version: 3,
            topics: vec!["t".into()],
            user_data: Some(Bytes::from_static(b"u")),
            owned_partitions: vec![],
            generation_id: 4,
            rack_id: Some("r".into()),
        };
        let mut enc = s.encode().unwrap();
        enc[1] = 9; // claim version 9 and append a field we do not know
        enc.extend_from_slice(&[1, 2, 3]);
        s.version = 9;
        assert_eq!(Subscription::decode(&enc).unwrap(), s);
        assert!(Subscription::decode(&[0xff, 0xff, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn assignment_bytes() {
        let bytes = [
            0, 0, // version 0
            0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 5, // t: [5]
            0, 0, 0, 0, // userData empty (not null)
        ];
        let a = Assignment::decode(&bytes).unwrap();
        assert_eq!(a.assigned_partitions[0].partitions, [5]);
        assert_eq!(a.user_data, Some(Bytes::new()));
        assert_eq!(a.encode().unwrap(), bytes);
    }

    fn tps() -> impl Strategy<Value = Vec<TopicPartitions>> {
        proptest::collection::vec(
            ("[a-z]{0,5}", proptest::collection::vec(any::<i32>(), 0..4))
                .prop_map(|(topic, partitions)| TopicPartitions { topic, partitions }),
            0..3,
        )
    }

    proptest! {
        #[test]
        fn decoders_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Subscription::decode(&buf);
            let _ = Subscription::decode_topics(&buf);
            let _ = Assignment::decode(&buf);
        }

        #[test]
        fn subscription_round_trip(version in 0i16..=3, topics in proptest::collection::vec("[a-z.]{0,6}", 0..4),
                                   user_data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
                                   owned in tps(), generation_id in any::<i32>(), rack_id in proptest::option::of("[a-z]{0,4}")) {
            let s = Subscription {
                version,
                topics,
                user_data: user_data.map(Bytes::from),
                owned_partitions: if version >= 1 { owned } else { vec![] },
                generation_id: if version >= 2 { generation_id } else { -1 },
                rack_id: if version >= 3 { rack_id } else { None },
            };
            prop_assert_eq!(Subscription::decode(&s.encode().unwrap()).unwrap(), s);
        }

        #[test]
        fn assignment_round_trip(version in 0i16..=3, parts in tps(),
                                 user_data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8))) {
            let a = Assignment { version, assigned_partitions: parts, user_data: user_data.map(Bytes::from) };
            prop_assert_eq!(Assignment::decode(&a.encode().unwrap()).unwrap(), a);
        }
    }
}
