//! Kafka 2.4's topic-level configuration keys (`LogConfig`) with their types and validators,
//! for `LogConfig.validate` as the admin tools run it before writing `/config/topics/<t>`.
//! Messages are Kafka's `ConfigException` / `InvalidConfigurationException` texts.

/// A key's type and accepted range.
#[derive(Clone, Copy, Debug)]
enum Ty {
    Int {
        min: i64,
    },
    Long {
        min: i64,
    },
    Double {
        min: f64,
        max: f64,
    },
    Bool,
    OneOf(&'static [&'static str]),
    ListOf(&'static [&'static str]),
    /// `message.format.version`: a Kafka version string.
    Version,
    /// Throttled replica lists: `*` or `partition:broker,...`.
    ThrottledReplicas,
}

const COMPRESSION: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];

/// Every topic-level key of Kafka 2.4, sorted as `LogConfig.configNames` lists them.
const KEYS: &[(&str, Ty)] = &[
    ("cleanup.policy", Ty::ListOf(&["compact", "delete"])),
    ("compression.type", Ty::OneOf(COMPRESSION)),
    ("delete.retention.ms", Ty::Long { min: 0 }),
    ("file.delete.delay.ms", Ty::Long { min: 0 }),
    ("flush.messages", Ty::Long { min: 0 }),
    ("flush.ms", Ty::Long { min: 0 }),
    (
        "follower.replication.throttled.replicas",
        Ty::ThrottledReplicas,
    ),
    ("index.interval.bytes", Ty::Int { min: 0 }),
    (
        "leader.replication.throttled.replicas",
        Ty::ThrottledReplicas,
    ),
    ("max.compaction.lag.ms", Ty::Long { min: 1 }),
    ("max.message.bytes", Ty::Int { min: 0 }),
    ("message.downconversion.enable", Ty::Bool),
    ("message.format.version", Ty::Version),
    ("message.timestamp.difference.max.ms", Ty::Long { min: 0 }),
    (
        "message.timestamp.type",
        Ty::OneOf(&["CreateTime", "LogAppendTime"]),
    ),
    (
        "min.cleanable.dirty.ratio",
        Ty::Double { min: 0.0, max: 1.0 },
    ),
    ("min.compaction.lag.ms", Ty::Long { min: 0 }),
    ("min.insync.replicas", Ty::Int { min: 1 }),
    ("preallocate", Ty::Bool),
    ("retention.bytes", Ty::Long { min: i64::MIN }),
    ("retention.ms", Ty::Long { min: -1 }),
    ("segment.bytes", Ty::Int { min: 14 }),
    ("segment.index.bytes", Ty::Int { min: 0 }),
    ("segment.jitter.ms", Ty::Long { min: 0 }),
    ("segment.ms", Ty::Long { min: 1 }),
    ("unclean.leader.election.enable", Ty::Bool),
];

/// The names of all topic-level keys.
pub fn names() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|(n, _)| *n)
}

pub fn is_known(name: &str) -> bool {
    KEYS.iter().any(|(n, _)| *n == name)
}

/// `LogConfig.validateNames`.
pub fn validate_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    for n in names {
        if !is_known(n) {
            return Err(format!("Unknown topic config name: {n}"));
        }
    }
    Ok(())
}

fn invalid(name: &str, value: &str, why: &str) -> String {
    format!("Invalid value {value} for configuration {name}: {why}")
}

/// Versions `message.format.version` accepts (ApiVersion's names, with and without the IV).
fn valid_version(v: &str) -> bool {
    const BASES: &[&str] = &[
        "0.8.0", "0.8.1", "0.8.2", "0.9.0", "0.10.0", "0.10.1", "0.10.2", "0.11.0", "1.0", "1.1",
        "2.0", "2.1", "2.2", "2.3", "2.4",
    ];
    BASES.iter().any(|b| {
        v == *b
            || v.strip_prefix(b)
                .is_some_and(|r| r.starts_with('.') || r.starts_with("-IV"))
    })
}

/// Checks one key/value pair as `ConfigDef.parse` plus its validator would.
pub fn validate_value(name: &str, value: &str) -> Result<(), String> {
    let Some((_, ty)) = KEYS.iter().find(|(n, _)| *n == name) else {
        return Err(format!("Unknown topic config name: {name}"));
    };
    let v = value.trim();
    match *ty {
        Ty::Int { min } => {
            let n: i32 = v
                .parse()
                .map_err(|_| invalid(name, value, "Not a number of type INT"))?;
            if i64::from(n) < min {
                return Err(invalid(
                    name,
                    value,
                    &format!("Value must be at least {min}"),
                ));
            }
        }
        Ty::Long { min } => {
            let n: i64 = v
                .parse()
                .map_err(|_| invalid(name, value, "Not a number of type LONG"))?;
            if n < min {
                return Err(invalid(
                    name,
                    value,
                    &format!("Value must be at least {min}"),
                ));
            }
        }
        Ty::Double { min, max } => {
            let n: f64 = v
                .parse()
                .map_err(|_| invalid(name, value, "Not a number of type DOUBLE"))?;
            if n < min {
                return Err(invalid(
                    name,
                    value,
                    &format!("Value must be at least {min}"),
                ));
            }
            if n > max {
                return Err(invalid(
                    name,
                    value,
                    &format!("Value must be no more than {max}"),
                ));
            }
        }
        Ty::Bool => {
            if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                return Err(invalid(
                    name,
                    value,
                    "Expected value to be either true or false",
                ));
            }
        }
        Ty::OneOf(allowed) => {
            if !allowed.contains(&v) {
                return Err(invalid(
                    name,
                    value,
                    &format!("String must be one of: {}", allowed.join(", ")),
                ));
            }
        }
        Ty::ListOf(allowed) => {
            for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if !allowed.contains(&item) {
                    return Err(format!(
                        "Invalid value {item} for configuration {name}: String must be one of: {}",
                        allowed.join(", ")
                    ));
                }
            }
        }
        Ty::Version => {
            if !valid_version(v) {
                return Err(invalid(
                    name,
                    value,
                    &format!("Version `{v}` is not a valid version"),
                ));
            }
        }
        Ty::ThrottledReplicas => {
            let ok = v == "*"
                || v.split(',').map(str::trim).all(|e| {
                    e.split_once(':').is_some_and(|(p, b)| {
                        p.trim().parse::<u32>().is_ok() && b.trim().parse::<u32>().is_ok()
                    })
                });
            if !ok && !v.is_empty() {
                return Err(invalid(
                    name,
                    value,
                    "Must be the wildcard (*) or of the form 'partitionId:brokerId'",
                ));
            }
        }
    }
    Ok(())
}

/// `LogConfig.validate` over a set of overrides.
pub fn validate<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(), String> {
    for (k, v) in pairs {
        validate_value(k, v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects_as_kafka() {
        assert!(validate([
            ("retention.ms", "1000"),
            ("cleanup.policy", "compact,delete")
        ])
        .is_ok());
        assert_eq!(
            validate_value("retention.mss", "1").unwrap_err(),
            "Unknown topic config name: retention.mss"
        );
        assert_eq!(
            validate_value("retention.ms", "x").unwrap_err(),
            "Invalid value x for configuration retention.ms: Not a number of type LONG"
        );
        assert_eq!(
            validate_value("segment.ms", "0").unwrap_err(),
            "Invalid value 0 for configuration segment.ms: Value must be at least 1"
        );
        assert!(validate_value("compression.type", "lz4").is_ok());
        assert!(validate_value("message.format.version", "2.4-IV1").is_ok());
        assert!(validate_value("min.cleanable.dirty.ratio", "1.5").is_err());
        assert!(validate_value("leader.replication.throttled.replicas", "0:1,1:2").is_ok());
    }
}
