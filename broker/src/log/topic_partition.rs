//! Topic-partition names and the directory names Kafka derives from them:
//! `<topic>-<partition>` for a live log, `<topic>-<partition>.<uuid>-delete` for one awaiting
//! deletion, `<topic>-<partition>.<uuid>-future` for a replica being moved between log dirs and
//! (3.7+) `<topic>-<partition>.<uuid>-stray`.

use std::fmt;

/// Longest legal topic name.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// A partition of a topic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// Builds a topic-partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    /// Name of the partition's directory in a log dir.
    pub fn dir_name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Whether `name` is a legal Kafka topic name: 1..=249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn is_valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOPIC_NAME_LEN
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// What a partition directory is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionDirKind {
    /// `<topic>-<partition>`: the live log.
    Live,
    /// `…-delete`: a deleted partition awaiting removal.
    Deleted,
    /// `…-future`: the destination of an intra-broker move.
    Future,
    /// `…-stray`: a replica the controller no longer assigns here.
    Stray,
}

/// A parsed partition directory name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionDirName {
    /// The partition the directory holds.
    pub topic_partition: TopicPartition,
    /// Live, deleted, future or stray.
    pub kind: PartitionDirKind,
}

/// Parses a live partition dir name `<topic>-<partition>`; `None` for anything else
/// (including `-delete`/`-future` dirs and files such as `meta.properties`).
pub fn parse_partition_dir_name(name: &str) -> Option<(String, i32)> {
    let parsed = parse_partition_dir(name)?;
    let tp = parsed.topic_partition;
    (parsed.kind == PartitionDirKind::Live).then_some((tp.topic, tp.partition))
}

/// Parses any partition dir name, telling live dirs from deleted, future and stray ones.
pub fn parse_partition_dir(name: &str) -> Option<PartitionDirName> {
    let (base, kind) = match strip_marked_suffix(name) {
        Some((base, kind)) => (base, kind),
        None => (name, PartitionDirKind::Live),
    };
    let (topic, partition) = base.rsplit_once('-')?;
    if !is_valid_topic_name(topic)
        || partition.is_empty()
        || !partition.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let partition: i32 = partition.parse().ok()?;
    Some(PartitionDirName {
        topic_partition: TopicPartition::new(topic, partition),
        kind,
    })
}

/// Splits `<base>.<32 hex>-delete` (and `-future`, `-stray`) into base and kind.
fn strip_marked_suffix(name: &str) -> Option<(&str, PartitionDirKind)> {
    let (rest, kind) = if let Some(rest) = name.strip_suffix("-delete") {
        (rest, PartitionDirKind::Deleted)
    } else if let Some(rest) = name.strip_suffix("-future") {
        (rest, PartitionDirKind::Future)
    } else if let Some(rest) = name.strip_suffix("-stray") {
        (rest, PartitionDirKind::Stray)
    } else {
        return None;
    };
    let (base, uuid) = rest.rsplit_once('.')?;
    (uuid.len() == 32 && uuid.bytes().all(|b| b.is_ascii_hexdigit())).then_some((base, kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_kafka_dir_names() {
        assert_eq!(
            parse_partition_dir_name("orders-0"),
            Some(("orders".to_string(), 0))
        );
        assert_eq!(
            parse_partition_dir_name("my-topic-12"),
            Some(("my-topic".to_string(), 12))
        );
        assert_eq!(
            parse_partition_dir_name("__consumer_offsets-49"),
            Some(("__consumer_offsets".to_string(), 49))
        );
        assert_eq!(parse_partition_dir_name("orders"), None);
        assert_eq!(parse_partition_dir_name("orders-"), None);
        assert_eq!(parse_partition_dir_name("-3"), None);
        // A topic may end in a dash; the partition is after the last one.
        assert_eq!(
            parse_partition_dir_name("orders--1"),
            Some(("orders-".to_string(), 1))
        );
        assert_eq!(parse_partition_dir_name("orders-x"), None);
        assert_eq!(parse_partition_dir_name("meta.properties"), None);
        assert_eq!(parse_partition_dir_name("orders-99999999999"), None);
        let deleted = "orders-3.0123456789abcdef0123456789abcdef-delete";
        assert_eq!(parse_partition_dir_name(deleted), None);
        assert_eq!(
            parse_partition_dir(deleted),
            Some(PartitionDirName {
                topic_partition: TopicPartition::new("orders", 3),
                kind: PartitionDirKind::Deleted
            })
        );
        assert_eq!(
            parse_partition_dir("a.b-1.0123456789ABCDEF0123456789abcdef-future").map(|d| d.kind),
            Some(PartitionDirKind::Future)
        );
        assert_eq!(parse_partition_dir("orders-3.nothex-delete"), None);
    }

    proptest! {
        #[test]
        fn dir_names_round_trip(topic in "[a-zA-Z0-9._-]{1,40}", partition in 0i32..i32::MAX) {
            prop_assume!(topic != "." && topic != "..");
            let tp = TopicPartition::new(topic.clone(), partition);
            prop_assert_eq!(parse_partition_dir_name(&tp.dir_name()), Some((topic, partition)));
        }

        #[test]
        fn arbitrary_names_never_panic(name in ".{0,80}") {
            let _ = parse_partition_dir(&name);
        }
    }
}
