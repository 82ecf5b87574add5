//! Keys and values of the `__consumer_offsets` topic, byte-exact with Kafka 2.x
//! (`OffsetCommitKey`, `GroupMetadataKey`, `OffsetCommitValue`, `GroupMetadataValue` in
//! `core/src/main/resources/common/message/`).
//!
//! Every key and value starts with an int16 schema version; bodies are non-flexible. The
//! key version tells the record kind: 0 and 1 are offset commits, 2 is group metadata. A
//! record with a null value (a tombstone) deletes the offset or the group.

use bytes::Bytes;

use super::wire::{Reader, Writer};
use super::CodecError;

/// The key version Kafka 2.x writes for offset commits (v0 has the same body).
pub const OFFSET_COMMIT_KEY_VERSION: i16 = 1;
/// The only group metadata key version.
pub const GROUP_METADATA_KEY_VERSION: i16 = 2;
/// The highest offset commit value version (leader epoch, no expire timestamp).
pub const OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
/// The highest group metadata value version (static membership's group instance id).
pub const GROUP_METADATA_VALUE_VERSION: i16 = 3;
/// The "no leader epoch" and "no timestamp" sentinel of the value schemas.
pub const NONE_I32: i32 = -1;
/// The "no timestamp" sentinel of the value schemas.
pub const NONE_I64: i64 = -1;

/// The key of a committed offset: (group, topic, partition).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OffsetCommitKey {
    pub group: String,
    pub topic: String,
    pub partition: i32,
}

/// The key of a group's metadata record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupMetadataKey {
    pub group: String,
}

/// A decoded `__consumer_offsets` key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordKey {
    OffsetCommit(OffsetCommitKey),
    GroupMetadata(GroupMetadataKey),
}

/// A committed offset. Versions: 0 (offset, metadata, commit timestamp), 1 (+ expire
/// timestamp), 2 (as 0), 3 (+ leader epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    pub offset: i64,
    /// `NONE_I32` when the committer gave no epoch (and for versions before 3).
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    /// `NONE_I64` unless an old client asked for a per-partition retention (version 1).
    pub expire_timestamp: i64,
}

/// One member in a group metadata record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadataValue {
    pub member_id: String,
    /// Version 3+.
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Version 1+; a version 0 record carries none and Kafka uses the session timeout.
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    /// The member's metadata for the group's selected protocol.
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// A group's membership as of its last completed rebalance (or its emptying).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataValue {
    /// Empty for a group that never had members.
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// Version 2+; `NONE_I64` when absent.
    pub current_state_timestamp: i64,
    pub members: Vec<MemberMetadataValue>,
}

/// A whole `__consumer_offsets` record, as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OffsetsTopicRecord {
    /// `value` is `None` for a tombstone (the offset was deleted or expired).
    Offset {
        key: OffsetCommitKey,
        value: Option<OffsetCommitValue>,
    },
    /// `value` is `None` for a tombstone (the group was deleted).
    Group {
        key: GroupMetadataKey,
        value: Option<GroupMetadataValue>,
    },
}

impl OffsetsTopicRecord {
    /// Decodes a record's key and (nullable) value.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Self, CodecError> {
        Ok(match RecordKey::decode(key)? {
            RecordKey::OffsetCommit(key) => OffsetsTopicRecord::Offset {
                key,
                value: value.map(OffsetCommitValue::decode).transpose()?,
            },
            RecordKey::GroupMetadata(key) => OffsetsTopicRecord::Group {
                key,
                value: value.map(GroupMetadataValue::decode).transpose()?,
            },
        })
    }
}

impl RecordKey {
    pub fn decode(buf: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(buf);
        let version = r.i16()?;
        match version {
            0 | 1 => Ok(RecordKey::OffsetCommit(OffsetCommitKey {
                group: r.string("group")?,
                topic: r.string("topic")?,
                partition: r.i32()?,
            })),
            2 => Ok(RecordKey::GroupMetadata(GroupMetadataKey {
                group: r.string("group")?,
            })),
            _ => Err(CodecError::UnsupportedVersion {
                schema: "__consumer_offsets key",
                version,
            }),
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        match self {
            RecordKey::OffsetCommit(k) => k.encode(),
            RecordKey::GroupMetadata(k) => k.encode(),
        }
    }

    /// The group the record belongs to.
    pub fn group(&self) -> &str {
        match self {
            RecordKey::OffsetCommit(k) => &k.group,
            RecordKey::GroupMetadata(k) => &k.group,
        }
    }
}

impl OffsetCommitKey {
    /// Encodes with the key version Kafka 2.x writes (1).
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        self.encode_version(OFFSET_COMMIT_KEY_VERSION)
    }

    /// Encodes with key version 0 or 1 (same body).
    pub fn encode_version(&self, version: i16) -> Result<Vec<u8>, CodecError> {
        if !(0..=1).contains(&version) {
            return Err(CodecError::UnsupportedVersion {
                schema: "OffsetCommitKey",
                version,
            });
        }
        let mut w = Writer::with_version(version);
        w.string("group", &self.group)?;
        w.string("topic", &self.topic)?;
        w.i32(self.partition);
        Ok(w.finish())
    }
}

impl GroupMetadataKey {
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        let mut w = Writer::with_version(GROUP_METADATA_KEY_VERSION);
        w.string("group", &self.group)?;
        Ok(w.finish())
    }
}

impl OffsetCommitValue {
    /// The version Kafka 2.1+ writes: 1 when an expire timestamp is set (the only version
    /// that can carry it), else 3.
    pub fn write_version(&self) -> i16 {
        if self.expire_timestamp != NONE_I64 {
            1
        } else {
            OFFSET_COMMIT_VALUE_VERSION
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        self.encode_version(self.write_version())
    }

    /// Encodes with an explicit version; fields the version lacks are dropped.
    pub fn encode_version(&self, version: i16) -> Result<Vec<u8>, CodecError> {
        if !(0..=OFFSET_COMMIT_VALUE_VERSION).contains(&version) {
            return Err(CodecError::UnsupportedVersion {
                schema: "OffsetCommitValue",
                version,
            });
        }
        let mut w = Writer::with_version(version);
        w.i64(self.offset);
        if version >= 3 {
            w.i32(self.leader_epoch);
        }
        w.string("metadata", &self.metadata)?;
        w.i64(self.commit_timestamp);
        if version == 1 {
            w.i64(self.expire_timestamp);
        }
        Ok(w.finish())
    }

    pub fn decode(buf: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(buf);
        let version = r.i16()?;
        if !(0..=OFFSET_COMMIT_VALUE_VERSION).contains(&version) {
            return Err(CodecError::UnsupportedVersion {
                schema: "OffsetCommitValue",
                version,
            });
        }
        let offset = r.i64()?;
        let leader_epoch = if version >= 3 { r.i32()? } else { NONE_I32 };
        let metadata = r.string("metadata")?;
        let commit_timestamp = r.i64()?;
        let expire_timestamp = if version == 1 { r.i64()? } else { NONE_I64 };
        Ok(OffsetCommitValue {
            offset,
            leader_epoch,
            metadata,
            commit_timestamp,
            expire_timestamp,
        })
    }
}

impl GroupMetadataValue {
    /// Encodes with the version Kafka 2.3+ writes (3).
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        self.encode_version(GROUP_METADATA_VALUE_VERSION)
    }

    /// Encodes with an explicit version; fields the version lacks are dropped.
    pub fn encode_version(&self, version: i16) -> Result<Vec<u8>, CodecError> {
        if !(0..=GROUP_METADATA_VALUE_VERSION).contains(&version) {
            return Err(CodecError::UnsupportedVersion {
                schema: "GroupMetadataValue",
                version,
            });
        }
        let mut w = Writer::with_version(version);
        w.string("protocolType", &self.protocol_type)?;
        w.i32(self.generation);
        w.nullable_string("protocol", self.protocol.as_deref())?;
        w.nullable_string("leader", self.leader.as_deref())?;
        if version >= 2 {
            w.i64(self.current_state_timestamp);
        }
        w.array_len("members", self.members.len())?;
        for m in &self.members {
            w.string("memberId", &m.member_id)?;
            if version >= 3 {
                w.nullable_string("groupInstanceId", m.group_instance_id.as_deref())?;
            }
            w.string("clientId", &m.client_id)?;
            w.string("clientHost", &m.client_host)?;
            if version >= 1 {
                w.i32(m.rebalance_timeout_ms);
            }
            w.i32(m.session_timeout_ms);
            w.bytes("subscription", &m.subscription)?;
            w.bytes("assignment", &m.assignment)?;
        }
        Ok(w.finish())
    }

    pub fn decode(buf: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(buf);
        let version = r.i16()?;
        if !(0..=GROUP_METADATA_VALUE_VERSION).contains(&version) {
            return Err(CodecError::UnsupportedVersion {
                schema: "GroupMetadataValue",
                version,
            });
        }
        let protocol_type = r.string("protocolType")?;
        let generation = r.i32()?;
        let protocol = r.nullable_string()?;
        let leader = r.nullable_string()?;
        let current_state_timestamp = if version >= 2 { r.i64()? } else { NONE_I64 };
        // Smallest (v0) member: three empty strings, the session timeout, two empty byte
        // arrays.
        let n = r.array_len("members", 2 * 3 + 4 + 4 * 2)?;
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            let member_id = r.string("memberId")?;
            let group_instance_id = if version >= 3 {
                r.nullable_string()?
            } else {
                None
            };
            let client_id = r.string("clientId")?;
            let client_host = r.string("clientHost")?;
            let rebalance_timeout = if version >= 1 { Some(r.i32()?) } else { None };
            let session_timeout_ms = r.i32()?;
            members.push(MemberMetadataValue {
                member_id,
                group_instance_id,
                client_id,
                client_host,
                rebalance_timeout_ms: rebalance_timeout.unwrap_or(session_timeout_ms),
                session_timeout_ms,
                subscription: r.bytes("subscription")?,
                assignment: r.bytes("assignment")?,
            });
        }
        Ok(GroupMetadataValue {
            protocol_type,
            generation,
            protocol,
            leader,
            current_state_timestamp,
            members,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Expected bytes below are derived by hand from the JSON schemas (2.8.2
    // core/src/main/resources/common/message/*.json): int16 version, then each field of
    // that version in order; strings int16 length + UTF-8, bytes int32 length.

    #[test]
    fn offset_commit_key_bytes() {
        let k = OffsetCommitKey {
            group: "g1".into(),
            topic: "t".into(),
            partition: 7,
        };
        let expected = [
            0, 1, // key version 1
            0, 2, b'g', b'1', // group
            0, 1, b't', // topic
            0, 0, 0, 7, // partition
        ];
        assert_eq!(k.encode().unwrap(), expected);
        assert_eq!(
            RecordKey::decode(&expected).unwrap(),
            RecordKey::OffsetCommit(k.clone())
        );
        // Version 0 has the same body.
        let mut v0 = expected;
        v0[1] = 0;
        assert_eq!(k.encode_version(0).unwrap(), v0);
        assert_eq!(RecordKey::decode(&v0).unwrap(), RecordKey::OffsetCommit(k));
    }

    #[test]
    fn group_metadata_key_bytes() {
        let k = GroupMetadataKey {
            group: "grp".into(),
        };
        let expected = [0, 2, 0, 3, b'g', b'r', b'p'];
        assert_eq!(k.encode().unwrap(), expected);
        assert_eq!(
            RecordKey::decode(&expected).unwrap(),
            RecordKey::GroupMetadata(k)
        );
        assert_eq!(
            RecordKey::decode(&[0, 3, 0, 0]),
            Err(CodecError::UnsupportedVersion {
                schema: "__consumer_offsets key",
                version: 3
            })
        );
    }

    #[test]
    fn offset_commit_value_v3_bytes() {
        let v = OffsetCommitValue {
            offset: 42,
            leader_epoch: 5,
            metadata: "m".into(),
            commit_timestamp: 0x0102_0304_0506,
            expire_timestamp: NONE_I64,
        };
        let expected = [
            0, 3, // version 3
            0, 0, 0, 0, 0, 0, 0, 42, // offset
            0, 0, 0, 5, // leaderEpoch
            0, 1, b'm', // metadata
            0, 0, 1, 2, 3, 4, 5, 6, // commitTimestamp
        ];
        assert_eq!(v.write_version(), 3);
        assert_eq!(v.encode().unwrap(), expected);
        assert_eq!(OffsetCommitValue::decode(&expected).unwrap(), v);
    }

    #[test]
    fn offset_commit_value_v1_when_expiring() {
        let v = OffsetCommitValue {
            offset: -1,
            leader_epoch: NONE_I32,
            metadata: String::new(),
            commit_timestamp: 1000,
            expire_timestamp: 2000,
        };
        let expected = [
            0, 1, // version 1
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // offset -1
            0, 0, // metadata ""
            0, 0, 0, 0, 0, 0, 0x03, 0xe8, // commitTimestamp 1000
            0, 0, 0, 0, 0, 0, 0x07, 0xd0, // expireTimestamp 2000
        ];
        assert_eq!(v.write_version(), 1);
        assert_eq!(v.encode().unwrap(), expected);
        assert_eq!(OffsetCommitValue::decode(&expected).unwrap(), v);
    }

    #[test]
    fn group_metadata_value_v3_bytes() {
        let v = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 3,
            protocol: Some("range".into()),
            leader: Some("m-1".into()),
            current_state_timestamp: 9,
            members: vec![MemberMetadataValue {
                member_id: "m-1".into(),
                group_instance_id: None,
                client_id: "c".into(),
                client_host: "/h".into(),
                rebalance_timeout_ms: 300_000,
                session_timeout_ms: 10_000,
                subscription: Bytes::from_static(&[1, 2]),
                assignment: Bytes::new(),
            }],
        };
        let mut expected: Vec<u8> = vec![0, 3];
        expected.extend_from_slice(&[0, 8]);
        expected.extend_from_slice(b"consumer");
        expected.extend_from_slice(&[0, 0, 0, 3]); // generation
        expected.extend_from_slice(&[0, 5]);
        expected.extend_from_slice(b"range");
        expected.extend_from_slice(&[0, 3]);
        expected.extend_from_slice(b"m-1");
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9]); // currentStateTimestamp
        expected.extend_from_slice(&[0, 0, 0, 1]); // one member
        expected.extend_from_slice(&[0, 3]);
        expected.extend_from_slice(b"m-1");
        expected.extend_from_slice(&[0xff, 0xff]); // groupInstanceId null
        expected.extend_from_slice(&[0, 1, b'c']);
        expected.extend_from_slice(&[0, 2, b'/', b'h']);
        expected.extend_from_slice(&300_000i32.to_be_bytes());
        expected.extend_from_slice(&10_000i32.to_be_bytes());
        expected.extend_from_slice(&[0, 0, 0, 2, 1, 2]); // subscription
        expected.extend_from_slice(&[0, 0, 0, 0]); // assignment
        assert_eq!(v.encode().unwrap(), expected);
        assert_eq!(GroupMetadataValue::decode(&expected).unwrap(), v);
    }

    #[test]
    fn group_metadata_value_v0_uses_session_timeout_for_rebalance() {
        let v = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 1,
            protocol: Some("range".into()),
            leader: None,
            current_state_timestamp: 77,
            members: vec![MemberMetadataValue {
                member_id: "a".into(),
                group_instance_id: Some("i".into()),
                client_id: "c".into(),
                client_host: "h".into(),
                rebalance_timeout_ms: 1,
                session_timeout_ms: 6000,
                subscription: Bytes::new(),
                assignment: Bytes::new(),
            }],
        };
        let d = GroupMetadataValue::decode(&v.encode_version(0).unwrap()).unwrap();
        assert_eq!(d.current_state_timestamp, NONE_I64);
        assert_eq!(d.members[0].rebalance_timeout_ms, 6000);
        assert_eq!(d.members[0].group_instance_id, None);
    }

    #[test]
    fn empty_group_tombstone_and_record_decode() {
        let key = GroupMetadataKey { group: "g".into() }.encode().unwrap();
        assert_eq!(
            OffsetsTopicRecord::decode(&key, None).unwrap(),
            OffsetsTopicRecord::Group {
                key: GroupMetadataKey { group: "g".into() },
                value: None
            }
        );
    }

    fn text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-zA-Z0-9._\\-é😀]{0,12}").unwrap()
    }

    fn bytes() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Bytes::from)
    }

    prop_compose! {
        fn offset_value()(offset in any::<i64>(), leader_epoch in any::<i32>(), metadata in text(),
                          commit_timestamp in any::<i64>(), expire_timestamp in any::<i64>())
                          -> OffsetCommitValue {
            OffsetCommitValue { offset, leader_epoch, metadata, commit_timestamp, expire_timestamp }
        }
    }

    prop_compose! {
        fn member()(member_id in text(), group_instance_id in proptest::option::of(text()),
                    client_id in text(), client_host in text(), rebalance_timeout_ms in any::<i32>(),
                    session_timeout_ms in any::<i32>(), subscription in bytes(), assignment in bytes())
                    -> MemberMetadataValue {
            MemberMetadataValue { member_id, group_instance_id, client_id, client_host,
                rebalance_timeout_ms, session_timeout_ms, subscription, assignment }
        }
    }

    prop_compose! {
        fn group_value()(protocol_type in text(), generation in any::<i32>(),
                         protocol in proptest::option::of(text()), leader in proptest::option::of(text()),
                         current_state_timestamp in any::<i64>(),
                         members in proptest::collection::vec(member(), 0..4)) -> GroupMetadataValue {
            GroupMetadataValue { protocol_type, generation, protocol, leader, current_state_timestamp, members }
        }
    }

    proptest! {
        #[test]
        fn decoders_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = RecordKey::decode(&buf);
            let _ = OffsetCommitValue::decode(&buf);
            let _ = GroupMetadataValue::decode(&buf);
        }

        #[test]
        fn decoders_never_panic_on_valid_prefixes(v in group_value(), cut in any::<prop::sample::Index>()) {
            let enc = v.encode().unwrap();
            let cut = cut.index(enc.len());
            let _ = GroupMetadataValue::decode(&enc[..cut]);
        }

        #[test]
        fn key_round_trip(group in text(), topic in text(), partition in any::<i32>()) {
            let k = OffsetCommitKey { group: group.clone(), topic, partition };
            prop_assert_eq!(RecordKey::decode(&k.encode().unwrap()).unwrap(), RecordKey::OffsetCommit(k));
            let g = GroupMetadataKey { group };
            prop_assert_eq!(RecordKey::decode(&g.encode().unwrap()).unwrap(), RecordKey::GroupMetadata(g));
        }

        #[test]
        fn offset_value_round_trip_each_version(v in offset_value(), version in 0i16..=3) {
            let d = OffsetCommitValue::decode(&v.encode_version(version).unwrap()).unwrap();
            let expected = OffsetCommitValue {
                leader_epoch: if version >= 3 { v.leader_epoch } else { NONE_I32 },
                expire_timestamp: if version == 1 { v.expire_timestamp } else { NONE_I64 },
                ..v.clone()
            };
            prop_assert_eq!(d, expected);
        }

        #[test]
        fn offset_value_written_version_round_trips(mut v in offset_value(), expiring in any::<bool>()) {
            // The written version keeps every field that can be set together.
            if expiring { v.leader_epoch = NONE_I32 } else { v.expire_timestamp = NONE_I64 }
            prop_assert_eq!(OffsetCommitValue::decode(&v.encode().unwrap()).unwrap(), v);
        }

        #[test]
        fn group_value_round_trip(v in group_value()) {
            prop_assert_eq!(GroupMetadataValue::decode(&v.encode().unwrap()).unwrap(), v);
        }

        #[test]
        fn group_value_older_versions(v in group_value(), version in 0i16..=2) {
            let d = GroupMetadataValue::decode(&v.encode_version(version).unwrap()).unwrap();
            prop_assert_eq!(d.members.len(), v.members.len());
            prop_assert_eq!(d.current_state_timestamp,
                if version >= 2 { v.current_state_timestamp } else { NONE_I64 });
            for (a, b) in d.members.iter().zip(&v.members) {
                prop_assert_eq!(&a.group_instance_id, &None);
                prop_assert_eq!(a.rebalance_timeout_ms,
                    if version >= 1 { b.rebalance_timeout_ms } else { b.session_timeout_ms });
                prop_assert_eq!(&a.assignment, &b.assignment);
            }
        }
    }
}
