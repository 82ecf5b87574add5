//! `partition.metadata` (Kafka 2.8+, KIP-516): the topic id a partition dir belongs to, so a
//! recreated topic of the same name is not confused with the old one. The file is exactly
//! `version: 0\ntopic_id: <id>` with no trailing newline, where the id is Kafka's `Uuid` text
//! form: the 16 bytes in URL-safe base64 without padding (22 characters).

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::checkpoint::{malformed, read_optional, write_atomically, CheckpointError};

/// File name inside a partition dir.
pub const PARTITION_METADATA: &str = "partition.metadata";

/// A Kafka topic id (a 128-bit UUID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicId(pub [u8; 16]);

impl TopicId {
    /// Kafka's reserved "no id" value, all zeros.
    pub const ZERO: TopicId = TopicId([0; 16]);

    /// Parses Kafka's base64 form, also accepting the dashed hex form of `java.util.UUID`.
    pub fn parse(s: &str) -> Option<TopicId> {
        let s = s.trim();
        if s.len() == 22 {
            let bytes = URL_SAFE_NO_PAD.decode(s).ok()?;
            return bytes.try_into().ok().map(TopicId);
        }
        let hex: Vec<u8> = s.bytes().filter(|b| *b != b'-').collect();
        if s.len() != 36 || hex.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).ok()?;
            out[i] = u8::from_str_radix(text, 16).ok()?;
        }
        Some(TopicId(out))
    }
}

impl fmt::Display for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

/// Renders the file content.
pub fn format_partition_metadata(id: TopicId) -> String {
    format!("version: 0\ntopic_id: {id}")
}

/// Parses the file content. An empty file (Kafka 2.8 creates one before it knows the id)
/// means no id.
pub fn parse_partition_metadata(
    path: &Path,
    text: &str,
) -> Result<Option<TopicId>, CheckpointError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut lines = text.lines();
    let field = |line: Option<&str>, n: usize, key: &str| -> Result<String, CheckpointError> {
        let line = line.ok_or_else(|| malformed(path, n, format!("missing {key}")))?;
        match line.split_once(':') {
            Some((k, v)) if k.trim() == key => Ok(v.trim().to_string()),
            _ => Err(malformed(
                path,
                n,
                format!("expected `{key}: …`, got {line:?}"),
            )),
        }
    };
    let version = field(lines.next(), 1, "version")?;
    if version != "0" {
        return Err(malformed(
            path,
            1,
            format!("unsupported version {version:?}"),
        ));
    }
    let id = field(lines.next(), 2, "topic_id")?;
    TopicId::parse(&id)
        .map(Some)
        .ok_or_else(|| malformed(path, 2, format!("bad topic id {id:?}")))
}

/// Reads `<partition_dir>/partition.metadata`; `None` if absent or empty.
pub fn read_partition_metadata(partition_dir: &Path) -> Result<Option<TopicId>, CheckpointError> {
    let path = partition_dir.join(PARTITION_METADATA);
    match read_optional(&path)? {
        Some(text) => parse_partition_metadata(&path, &text),
        None => Ok(None),
    }
}

/// Atomically writes `<partition_dir>/partition.metadata`.
pub fn write_partition_metadata(partition_dir: &Path, id: TopicId) -> Result<(), CheckpointError> {
    write_atomically(
        &partition_dir.join(PARTITION_METADATA),
        format_partition_metadata(id).as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kafka_text_form() {
        let id = TopicId([0x3a; 16]);
        let text = format_partition_metadata(id);
        assert_eq!(
            text,
            format!(
                "version: 0\ntopic_id: {}",
                URL_SAFE_NO_PAD.encode([0x3a; 16])
            )
        );
        assert_eq!(id.to_string().len(), 22);
        assert!(!text.ends_with('\n'));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_partition_metadata(dir.path()).unwrap(), None);
        write_partition_metadata(dir.path(), id).unwrap();
        assert_eq!(read_partition_metadata(dir.path()).unwrap(), Some(id));
    }

    #[test]
    fn accepts_dashed_uuid_and_rejects_garbage() {
        let p = Path::new("pm");
        let dashed = "version: 0\ntopic_id: 00112233-4455-6677-8899-aabbccddeeff\n";
        let id = parse_partition_metadata(p, dashed).unwrap().unwrap();
        assert_eq!(id.0[0], 0x00);
        assert_eq!(id.0[15], 0xff);
        assert_eq!(parse_partition_metadata(p, "").unwrap(), None);
        for bad in [
            "version: 1\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA",
            "version: 0\n",
            "version: 0\ntopic_id: nope",
            "topic_id: x\nversion: 0",
        ] {
            assert!(parse_partition_metadata(p, bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn ids_round_trip(bytes in any::<[u8; 16]>()) {
            let id = TopicId(bytes);
            prop_assert_eq!(parse_partition_metadata(Path::new("pm"), &format_partition_metadata(id)).unwrap(), Some(id));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
            let _ = parse_partition_metadata(Path::new("pm"), &text);
        }
    }
}
