//! `meta.properties` at the root of each log dir: which broker and cluster the dir belongs to.
//!
//! ZooKeeper mode writes version 0 (`version=0`, `broker.id=N`, `cluster.id=…`); KRaft writes
//! version 1 (`node.id` instead of `broker.id`, 3.7+ also `directory.id`). Java writes it with
//! `Properties.store`, so it opens with `#` comment lines (an empty comment, then the date).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::checkpoint::{malformed, read_optional, write_atomically, CheckpointError};

/// File name inside each log dir.
pub const META_PROPERTIES: &str = "meta.properties";

/// Contents of one `meta.properties`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaProperties {
    /// 0 for ZooKeeper mode, 1 for KRaft.
    pub version: i32,
    /// `broker.id` (v0) or `node.id` (v1).
    pub node_id: i32,
    /// `cluster.id`, optional in v0.
    pub cluster_id: Option<String>,
    /// `directory.id` (3.7+ KRaft and migration).
    pub directory_id: Option<String>,
    /// Any other keys, kept so a rewrite does not drop them.
    pub other: BTreeMap<String, String>,
}

impl MetaProperties {
    /// What a ZooKeeper-mode broker writes.
    pub fn zk(broker_id: i32, cluster_id: Option<String>) -> MetaProperties {
        MetaProperties {
            version: 0,
            node_id: broker_id,
            cluster_id,
            directory_id: None,
            other: BTreeMap::new(),
        }
    }

    fn id_key(&self) -> &'static str {
        if self.version == 0 {
            "broker.id"
        } else {
            "node.id"
        }
    }

    /// Parses the file's text; `path` is only used in errors.
    pub fn parse(path: &Path, text: &str) -> Result<MetaProperties, CheckpointError> {
        let mut props = parse_properties(text);
        let version = take_int(path, &mut props, "version")?
            .ok_or_else(|| malformed(path, 0, "no version"))?;
        let id_key = match version {
            0 => "broker.id",
            1 => "node.id",
            v => return Err(malformed(path, 0, format!("unsupported version {v}"))),
        };
        let node_id = take_int(path, &mut props, id_key)?
            .ok_or_else(|| malformed(path, 0, format!("no {id_key}")))?;
        let cluster_id = props.remove("cluster.id");
        if version == 1 && cluster_id.is_none() {
            return Err(malformed(path, 0, "no cluster.id"));
        }
        let directory_id = props.remove("directory.id");
        Ok(MetaProperties {
            version,
            node_id,
            cluster_id,
            directory_id,
            other: props,
        })
    }

    /// Renders the file as Java's `Properties.store` would: an empty comment, the date, then
    /// the keys.
    pub fn to_file_text(&self, now: SystemTime) -> String {
        let mut out = format!("#\n#{}\n", java_date(now));
        out.push_str(&format!("version={}\n", self.version));
        out.push_str(&format!("{}={}\n", self.id_key(), self.node_id));
        if let Some(c) = &self.cluster_id {
            out.push_str(&format!("cluster.id={}\n", escape(c)));
        }
        if let Some(d) = &self.directory_id {
            out.push_str(&format!("directory.id={}\n", escape(d)));
        }
        for (k, v) in &self.other {
            out.push_str(&format!("{}={}\n", escape(k), escape(v)));
        }
        out
    }

    /// Reads `<log_dir>/meta.properties`; `None` if the dir has none yet.
    pub fn read(log_dir: &Path) -> Result<Option<MetaProperties>, CheckpointError> {
        let path = log_dir.join(META_PROPERTIES);
        match read_optional(&path)? {
            Some(text) => MetaProperties::parse(&path, &text).map(Some),
            None => Ok(None),
        }
    }

    /// Atomically writes `<log_dir>/meta.properties`.
    pub fn write(&self, log_dir: &Path) -> Result<(), CheckpointError> {
        write_atomically(
            &log_dir.join(META_PROPERTIES),
            self.to_file_text(SystemTime::now()).as_bytes(),
        )
    }
}

fn take_int(
    path: &Path,
    props: &mut BTreeMap<String, String>,
    key: &str,
) -> Result<Option<i32>, CheckpointError> {
    match props.remove(key) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| malformed(path, 0, format!("{key}={v:?} is not an integer"))),
    }
}

/// Checks that the `meta.properties` found in several log dirs describe one broker of one
/// cluster, returning that broker id and cluster id (`None` if no dir had the file yet).
pub fn check_log_dirs_agree(
    found: &[(PathBuf, MetaProperties)],
) -> Result<Option<(i32, Option<String>)>, CheckpointError> {
    let Some((first_dir, first)) = found.first() else {
        return Ok(None);
    };
    let mut cluster: Option<(&PathBuf, &String)> = None;
    for (dir, props) in found {
        if props.node_id != first.node_id {
            return Err(CheckpointError::Inconsistent(format!(
                "{} has broker id {} but {} has {}",
                first_dir.display(),
                first.node_id,
                dir.display(),
                props.node_id
            )));
        }
        if let Some(c) = &props.cluster_id {
            match cluster {
                Some((other_dir, other)) if other != c => {
                    return Err(CheckpointError::Inconsistent(format!(
                        "{} has cluster id {other} but {} has {c}",
                        other_dir.display(),
                        dir.display()
                    )))
                }
                Some(_) => {}
                None => cluster = Some((dir, c)),
            }
        }
    }
    Ok(Some((first.node_id, cluster.map(|(_, c)| c.clone()))))
}

/// The subset of Java's properties format Kafka's files use: `#`/`!` comments, `key=value`,
/// `key:value` or `key value`, backslash escapes (`\uXXXX` as UTF-16) and continuation lines.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut logical = String::new();
    let mut continuing = false;
    for raw in text.lines() {
        let line = raw.trim_start_matches([' ', '\t', '\x0c']);
        if !continuing && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        // An odd number of trailing backslashes continues the line.
        let trailing = line.bytes().rev().take_while(|b| *b == b'\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continuing = true;
            continue;
        }
        logical.push_str(line);
        let (k, v) = split_key_value(&logical);
        out.insert(unescape(k), unescape(v));
        logical.clear();
        continuing = false;
    }
    if continuing {
        let (k, v) = split_key_value(&logical);
        out.insert(unescape(k), unescape(v));
    }
    out
}

/// Splits at the first unescaped `=`, `:` or whitespace, skipping the separator's whitespace.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut end = line.len();
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if matches!(c, '=' | ':' | ' ' | '\t' | '\x0c') {
            end = i;
            break;
        }
    }
    let key = &line[..end];
    let mut rest = line[end..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut units: Vec<u16> = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        // `\uXXXX` escapes are UTF-16 code units; a pair may encode one character.
        if c == '\\' && chars.peek() == Some(&'u') {
            chars.next();
            let hex: String = chars.by_ref().take(4).collect();
            match u16::from_str_radix(&hex, 16) {
                Ok(unit) if hex.len() == 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    units.push(unit);
                    continue;
                }
                _ => {
                    flush_units(&mut units, &mut out);
                    out.push_str(&hex);
                    continue;
                }
            }
        }
        flush_units(&mut units, &mut out);
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    flush_units(&mut units, &mut out);
    out
}

fn flush_units(units: &mut Vec<u16>, out: &mut String) {
    out.extend(
        char::decode_utf16(units.drain(..)).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)),
    );
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '=' | ':' | '#' | '!' | ' ' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x0c' => out.push_str("\\f"),
            // Java reads properties as ISO-8859-1, so anything else non-ASCII is escaped.
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04X}", unit));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// `java.util.Date::toString` in UTC, e.g. `Tue Mar 05 10:00:00 UTC 2024`.
fn java_date(now: SystemTime) -> String {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        y
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn reads_what_java_writes() {
        let text = "#\n#Tue Jun 01 12:00:00 UTC 2021\ncluster.id=nT5eZ4vYQXGdA1m2nF8mKw\nversion=0\nbroker.id=3\n";
        let m = MetaProperties::parse(Path::new("m"), text).unwrap();
        assert_eq!(
            m,
            MetaProperties::zk(3, Some("nT5eZ4vYQXGdA1m2nF8mKw".to_string()))
        );
        let kraft = "version=1\nnode.id=1\ncluster.id=abc\ndirectory.id=xyz\n";
        let k = MetaProperties::parse(Path::new("m"), kraft).unwrap();
        assert_eq!(
            (k.version, k.node_id, k.directory_id.as_deref()),
            (1, 1, Some("xyz"))
        );
    }

    #[test]
    fn writes_java_style_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let m = MetaProperties::zk(7, Some("clus-ter_1".to_string()));
        m.write(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(META_PROPERTIES)).unwrap();
        assert!(text.starts_with("#\n#"));
        assert!(text.contains("\nversion=0\n") && text.contains("\nbroker.id=7\n"));
        assert_eq!(MetaProperties::read(dir.path()).unwrap(), Some(m));
        assert_eq!(
            MetaProperties::read(&dir.path().join("none")).unwrap(),
            None
        );
    }

    #[test]
    fn rejects_missing_or_bad_fields() {
        for text in [
            "broker.id=1\n",
            "version=0\n",
            "version=0\nbroker.id=x\n",
            "version=2\nbroker.id=1\n",
            "version=1\nnode.id=1\n",
        ] {
            assert!(
                MetaProperties::parse(Path::new("m"), text).is_err(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn log_dirs_must_agree() {
        let a = (
            PathBuf::from("/a"),
            MetaProperties::zk(1, Some("c1".into())),
        );
        let b = (PathBuf::from("/b"), MetaProperties::zk(1, None));
        let c = (
            PathBuf::from("/c"),
            MetaProperties::zk(2, Some("c1".into())),
        );
        let d = (
            PathBuf::from("/d"),
            MetaProperties::zk(1, Some("c2".into())),
        );
        assert_eq!(check_log_dirs_agree(&[]).unwrap(), None);
        assert_eq!(
            check_log_dirs_agree(&[b.clone(), a.clone()]).unwrap(),
            Some((1, Some("c1".to_string())))
        );
        assert!(check_log_dirs_agree(&[a.clone(), c]).is_err());
        assert!(check_log_dirs_agree(&[a, b, d]).is_err());
    }

    #[test]
    fn java_properties_syntax() {
        let p = parse_properties("! c\n  a = 1\nb:2\nc 3\nd=x\\\n   y\ne=\\u0041\\=\\:\nf\n");
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "2");
        assert_eq!(p["c"], "3");
        assert_eq!(p["d"], "xy");
        assert_eq!(p["e"], "A=:");
        assert_eq!(p["f"], "");
    }

    #[test]
    fn date_matches_java_format() {
        let t = UNIX_EPOCH + Duration::from_secs(1_709_632_800); // 2024-03-05T10:00:00Z
        assert_eq!(java_date(t), "Tue Mar 05 10:00:00 UTC 2024");
        assert_eq!(java_date(UNIX_EPOCH), "Thu Jan 01 00:00:00 UTC 1970");
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "(\\PC|\n|\\\\|\\\\u){0,200}") {
            let _ = parse_properties(&text);
            let _ = MetaProperties::parse(Path::new("m"), &text);
        }

        #[test]
        fn values_round_trip(key in "[a-z.]{1,10}", value in "\\PC{0,30}") {
            prop_assume!(!["version", "broker.id", "cluster.id", "directory.id"].contains(&key.as_str()));
            let mut m = MetaProperties::zk(1, Some(value.clone()));
            m.other.insert(key, value);
            let back = MetaProperties::parse(Path::new("m"), &m.to_file_text(SystemTime::now())).unwrap();
            prop_assert_eq!(back, m);
        }
    }
}
