//! Encodings the group coordinator owns: the `__consumer_offsets` records
//! (`offsets_topic`) and the `consumer` embedded protocol (`consumer_protocol`), over the
//! primitives in `wire`. No I/O; decoders are bounded and never panic.

pub mod consumer_protocol;
pub mod offsets_topic;
mod wire;

pub use consumer_protocol::{Assignment, Subscription, TopicPartitions, CONSUMER_PROTOCOL_TYPE};
pub use offsets_topic::{
    GroupMetadataKey, GroupMetadataValue, MemberMetadataValue, OffsetCommitKey, OffsetCommitValue,
    OffsetsTopicRecord, RecordKey,
};

/// Why bytes could not be decoded or a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ended (or a length pointed) past the bytes present.
    #[error("truncated at byte {at}: {needed} bytes needed, {available} available")]
    Truncated {
        at: usize,
        needed: usize,
        available: usize,
    },
    /// A non-nullable field was encoded as null (a negative length).
    #[error("non-nullable field {field} is null")]
    NullField { field: &'static str },
    /// The version prefix names a schema version this code does not know.
    #[error("unsupported {schema} version {version}")]
    UnsupportedVersion { schema: &'static str, version: i16 },
    /// A string (over 32767 bytes), byte array or array is too long for its length prefix.
    #[error("field {field} is too long to encode ({len})")]
    TooLong { field: &'static str, len: usize },
}
