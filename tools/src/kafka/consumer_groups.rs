//! `kafka-consumer-groups.sh` as Kafka 2.4's ConsumerGroupCommand: --list, --describe
//! (offsets, members, state), --reset-offsets and --delete over the tools' Kafka client, with
//! Kafka's option checks, messages and table formats. Rows come out in the order Kafka's
//! hash maps put them in (see [`order`]), so the output matches Kafka's byte for byte.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::kclient::groups::GroupDescription;
use crate::kclient::offsets::{EARLIEST, LATEST};
use crate::kclient::{ClientConfig, ClientError, KafkaClient};

use super::args::{parse, Options, Spec, UsageError};
use super::{print_usage_error, version_string};

const NL_RESET: &str = "Reset offsets of consumer group. Supports one consumer group at the time, and instances should be inactive\nHas 2 execution options: --dry-run (the default) to plan which offsets to reset, and --execute to update the offsets. Additionally, the --export option is used to export the results to a CSV format.\nYou must choose one of the following reset specifications: --to-datetime, --by-period, --to-earliest, --to-latest, --shift-by, --from-file, --to-current.\nTo define the scope use --all-topics or --topic. One scope must be specified unless you use '--from-file'.";

const SPECS: &[Spec] = &[
    Spec { name: "all-groups", arg: None, help: "Apply to all consumer groups." },
    Spec { name: "all-topics", arg: None, help: "Consider all topics assigned to a group in the `reset-offsets` process." },
    Spec { name: "bootstrap-server", arg: Some("String: server to connect to"), help: "REQUIRED: The server(s) to connect to." },
    Spec { name: "by-duration", arg: Some("String: duration"), help: "Reset offsets to offset by duration from current timestamp. Format: 'PnDTnHnMnS'" },
    Spec { name: "command-config", arg: Some("String: command config property file"), help: "Property file containing configs to be passed to Admin Client and Consumer." },
    Spec { name: "delete", arg: None, help: "Pass in groups to delete topic partition offsets and ownership information over the entire consumer group. For instance --group g1 --group g2" },
    Spec { name: "delete-offsets", arg: None, help: "Delete offsets of consumer group. Supports one consumer group at the time, and multiple topics." },
    Spec { name: "describe", arg: None, help: "Describe consumer group and list offset lag (number of messages not yet processed) related to given group." },
    Spec { name: "dry-run", arg: None, help: "Only show results without executing changes on Consumer Groups. Supported operations: reset-offsets." },
    Spec { name: "execute", arg: None, help: "Execute operation. Supported operations: reset-offsets." },
    Spec { name: "export", arg: None, help: "Export operation execution to a CSV file. Supported operations: reset-offsets." },
    Spec { name: "from-file", arg: Some("String: path to CSV file"), help: "Reset offsets to values defined in CSV file." },
    Spec { name: "group", arg: Some("String: consumer group"), help: "The consumer group we wish to act on." },
    Spec { name: "help", arg: None, help: "Print usage information." },
    Spec { name: "list", arg: None, help: "List all consumer groups." },
    Spec { name: "members", arg: None, help: "Describe members of the group. This option may be used with '--describe' and '--bootstrap-server' options only.\nExample: --bootstrap-server localhost:9092 --describe --group group1 --members" },
    Spec { name: "offsets", arg: None, help: "Describe the group and list all topic partitions in the group along with their offset lag. This is the default sub-action of and may be used with '--describe' and '--bootstrap-server' options only.\nExample: --bootstrap-server localhost:9092 --describe --group group1 --offsets" },
    Spec { name: "reset-offsets", arg: None, help: NL_RESET },
    Spec { name: "shift-by", arg: Some("Long: number-of-offsets"), help: "Reset offsets shifting current offset by 'n', where 'n' can be positive or negative." },
    Spec { name: "state", arg: None, help: "Describe the group state. This option may be used with '--describe' and '--bootstrap-server' options only.\nExample: --bootstrap-server localhost:9092 --describe --group group1 --state" },
    Spec { name: "timeout", arg: Some("Long: timeout (ms)"), help: "The timeout that can be set for some use cases. For example, it can be used when describing the group to specify the maximum amount of time in milliseconds to wait before the group stabilizes (when the group is just created, or is going through some changes). (default: 5000)" },
    Spec { name: "to-current", arg: None, help: "Reset offsets to current offset." },
    Spec { name: "to-datetime", arg: Some("String: datetime"), help: "Reset offsets to offset from datetime. Format: 'YYYY-MM-DDTHH:mm:SS.sss'" },
    Spec { name: "to-earliest", arg: None, help: "Reset offsets to earliest offset." },
    Spec { name: "to-latest", arg: None, help: "Reset offsets to latest offset." },
    Spec { name: "to-offset", arg: Some("Long: offset"), help: "Reset offsets to a specific offset." },
    Spec { name: "topic", arg: Some("String: topic"), help: "The topic whose consumer group information should be deleted or topic whose should be included in the reset offset process. In `reset-offsets` case, partitions can be specified using this format: `topic1:0,1,2`, where 0,1,2 are the partition to be included in the process. Reset-offsets also supports multiple topic inputs." },
    Spec { name: "verbose", arg: None, help: "Provide additional information, if any, when describing the group. This option may be used with '--offsets'/'--members'/'--state' and '--bootstrap-server' options only.\nExample: --bootstrap-server localhost:9092 --describe --group group1 --members --verbose" },
    Spec { name: "version", arg: None, help: "Display Kafka version." },
];

const ACTIONS: [&str; 5] = [
    "list",
    "describe",
    "delete",
    "reset-offsets",
    "delete-offsets",
];
/// The reset scenarios, in the order Kafka declares them.
const SCENARIOS: [&str; 8] = [
    "to-offset",
    "shift-by",
    "to-datetime",
    "by-duration",
    "to-earliest",
    "to-latest",
    "to-current",
    "from-file",
];
const MISSING: &str = "-";
const DEFAULT_TIMEOUT_MS: u64 = 5000;

/// Rejects option names that are not spelled out: Kafka's tools build their parser with
/// abbreviations off, so `--desc` is an unknown option there (args.rs accepts prefixes).
pub fn check_exact_names(specs: &[Spec], args: &[String]) -> Result<(), UsageError> {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            break;
        }
        let Some(body) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
            continue;
        };
        if body.is_empty() {
            continue;
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, _)) => (n, true),
            None => (body, false),
        };
        match specs.iter().find(|s| s.name == name) {
            Some(s) => {
                if s.arg.is_some() && !inline {
                    i += 1;
                }
            }
            None => {
                return Err(UsageError {
                    message: format!("Exception in thread \"main\" joptsimple.UnrecognizedOptionException: {name} is not a recognized option"),
                    with_help: false,
                })
            }
        }
    }
    Ok(())
}

/// The iteration orders of the JVM collections Kafka 2.4 (Scala 2.12) prints from, so that
/// rows come out in Kafka's order: java.util.HashMap/HashSet (buckets by spread hash, then
/// insertion order) and Scala's immutable Map/Set (insertion order up to 4 entries, then a
/// hash trie walked 5 bits at a time from the low end of the improved hash).
pub mod order {
    /// java.lang.String.hashCode.
    pub fn string_hash(s: &str) -> i32 {
        s.encode_utf16()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
    }

    /// org.apache.kafka.common.TopicPartition.hashCode.
    pub fn tp_hash(topic: &str, partition: i32) -> i32 {
        31i32
            .wrapping_mul(31i32.wrapping_add(partition))
            .wrapping_add(string_hash(topic))
    }

    fn table_size_for(c: usize) -> usize {
        c.max(1).next_power_of_two()
    }

    /// Table size of a `new HashMap<>()` after `n` puts.
    pub fn default_cap(n: usize) -> usize {
        let mut cap = 16;
        while n * 4 > cap * 3 {
            cap *= 2;
        }
        cap
    }

    /// Table size of `new HashMap<>(otherMapOfSize(n))`.
    pub fn copy_cap(n: usize) -> usize {
        table_size_for((n as f32 / 0.75 + 1.0) as usize)
    }

    /// Table size of `new HashSet<>(collectionOfSize(n))`.
    pub fn set_cap(n: usize) -> usize {
        table_size_for((((n as f32) / 0.75) as usize + 1).max(16))
    }

    /// Iteration order of a java.util.HashMap with `cap` buckets filled in `items` order.
    pub fn java<T>(mut items: Vec<T>, hash: impl Fn(&T) -> i32, cap: usize) -> Vec<T> {
        let mask = cap.saturating_sub(1) as u32;
        items.sort_by_key(|t| {
            let h = hash(t) as u32;
            (h ^ (h >> 16)) & mask
        });
        items
    }

    /// scala.collection.immutable.HashMap.improve (2.12).
    fn improve(hcode: i32) -> u32 {
        let mut h = hcode.wrapping_add(!(hcode.wrapping_shl(9)));
        h ^= ((h as u32) >> 14) as i32;
        h = h.wrapping_add(h.wrapping_shl(4));
        (h ^ ((h as u32) >> 10) as i32) as u32
    }

    /// Iteration order of a Scala 2.12 immutable Map or Set built from `items` in order.
    pub fn scala<T>(mut items: Vec<T>, hash: impl Fn(&T) -> i32) -> Vec<T> {
        if items.len() <= 4 {
            return items;
        }
        items.sort_by(|a, b| {
            let (x, y) = (improve(hash(a)), improve(hash(b)));
            for level in 0..7 {
                let (cx, cy) = ((x >> (5 * level)) & 31, (y >> (5 * level)) & 31);
                if cx != cy {
                    return cx.cmp(&cy);
                }
            }
            std::cmp::Ordering::Equal
        });
        items
    }

    /// A Scala immutable Set of ints built from `items` (already without duplicates).
    pub fn scala_set(items: Vec<i32>, hash: impl Fn(&i32) -> i32) -> Vec<i32> {
        scala(items, hash)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn hashes_are_the_jvms() {
            assert_eq!(string_hash("hello"), 99162322);
            assert_eq!(string_hash(""), 0);
            assert_eq!(tp_hash("", 0), 961);
            assert_eq!(default_cap(12), 16);
            assert_eq!(default_cap(13), 32);
            assert_eq!(copy_cap(1), 2);
            assert_eq!(copy_cap(3), 8);
            assert_eq!(set_cap(3), 16);
            assert_eq!(set_cap(13), 32);
        }

        fn tps(topic: &str, ps: impl Iterator<Item = i32>) -> Vec<(String, i32)> {
            ps.map(|p| (topic.to_owned(), p)).collect()
        }

        fn names(v: &[(String, i32)]) -> String {
            v.iter()
                .map(|(t, p)| format!("{t}-{p}"))
                .collect::<Vec<_>>()
                .join(", ")
        }

        /// Expected orders printed by OpenJDK 17 for the same insertions.
        #[test]
        fn java_hashmap_orders_are_the_jdks() {
            let h = |(t, p): &(String, i32)| tp_hash(t, *p);
            let v = java(tps("test", 0..6), h, default_cap(6));
            assert_eq!(names(&v), "test-1, test-0, test-3, test-2, test-5, test-4");
            let v = java(tps("orders", 0..20), h, default_cap(20));
            assert!(names(&v).starts_with("orders-7, orders-8, orders-9"));
            assert!(names(&v).ends_with(
                "orders-19, orders-0, orders-1, orders-2, orders-3, orders-4, orders-5, orders-6"
            ));
            let mut mixed = Vec::new();
            for p in 0..3 {
                mixed.push(("a".to_owned(), p));
                mixed.push(("bb".to_owned(), p));
            }
            let v = java(mixed, h, set_cap(6));
            assert_eq!(names(&v), "bb-1, a-2, bb-0, a-1, a-0, bb-2");
            let groups: Vec<String> = (1..=14).map(|i| format!("group-{i}")).collect();
            let v = java(groups, |g| string_hash(g), default_cap(14));
            let v = java(v, |g| string_hash(g), copy_cap(14));
            assert_eq!(v.join(", "), "group-10, group-12, group-11, group-7, group-6, group-9, group-8, group-3, group-2, group-5, group-4, group-14, group-13, group-1");
            let v = java(
                vec!["g1".to_owned(), "g2".into(), "zz".into()],
                |g| string_hash(g),
                copy_cap(3),
            );
            assert_eq!(v.join(", "), "zz, g1, g2");
        }

        #[test]
        fn small_scala_maps_keep_insertion_order() {
            assert_eq!(scala(vec![3, 1, 2], |x| *x), vec![3, 1, 2]);
            let big = scala((0..6).collect(), |x| *x);
            assert_eq!(big.len(), 6);
        }
    }
}

/// How a run ends early.
enum Fail {
    /// `CommandLineUtils.printUsageAndDie` inside the command.
    Usage(String),
    /// An exception caught by the command's main: `Error: Executing consumer group command
    /// failed due to <msg>`; `detail` (ours) goes to stderr.
    Command { msg: String, detail: Option<String> },
}

impl From<ClientError> for Fail {
    fn from(e: ClientError) -> Fail {
        let msg = match &e {
            ClientError::Kafka { code, .. } => exception(*code),
            ClientError::Bootstrap { .. } | ClientError::Broker(_) => {
                "org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment.".to_owned()
            }
            _ => format!("org.apache.kafka.common.KafkaException: {e}"),
        };
        Fail::Command {
            msg,
            detail: Some(e.to_string()),
        }
    }
}

fn command(msg: impl Into<String>) -> Fail {
    Fail::Command {
        msg: msg.into(),
        detail: None,
    }
}

/// The exception Kafka's client raises for an error code, as `toString` prints it.
fn exception(code: i16) -> String {
    let (class, msg) = match code {
        3 => (
            "UnknownTopicOrPartitionException",
            "This server does not host this topic-partition.",
        ),
        14 => (
            "CoordinatorLoadInProgressException",
            "The coordinator is loading and hence can't process requests.",
        ),
        15 => (
            "CoordinatorNotAvailableException",
            "The coordinator is not available.",
        ),
        16 => (
            "NotCoordinatorException",
            "This is not the correct coordinator.",
        ),
        22 => (
            "IllegalGenerationException",
            "Specified group generation id is not valid.",
        ),
        24 => (
            "InvalidGroupIdException",
            "The configured groupId is invalid.",
        ),
        25 => (
            "UnknownMemberIdException",
            "The coordinator is not aware of this member.",
        ),
        27 => (
            "RebalanceInProgressException",
            "The group is rebalancing, so a rejoin is needed.",
        ),
        30 => ("GroupAuthorizationException", "Group authorization failed."),
        68 => ("GroupNotEmptyException", "The group is not empty."),
        69 => ("GroupIdNotFoundException", "The group id does not exist."),
        _ => {
            return format!(
                "org.apache.kafka.common.KafkaException: {}",
                crate::kclient::error_name(code)
            )
        }
    };
    format!("org.apache.kafka.common.errors.{class}: {msg}")
}

/// `printError`: a blank line, then `Error: msg`, on stdout.
fn print_error(msg: &str) {
    println!("\nError: {msg}");
}

/// A log4j WARN line as Kafka's tools log config prints it (stderr).
fn warn(msg: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ms = now.as_millis() as i64;
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    eprintln!(
        "[{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02},{:03}] WARN {msg} (kafka.admin.ConsumerGroupCommand$)",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    );
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Kafka's `convertTimestamp`: `yyyy-MM-ddTHH:mm:ss.SSS` with an optional zone (`Z`,
/// `+hh:mm`, `+hhmm`, `+hh`; UTC when absent) to epoch milliseconds.
pub fn parse_datetime(ts: &str) -> Result<i64, String> {
    let Some((_, time)) = ts.split_once('T') else {
        return Err("1".to_owned());
    };
    let full = if time.contains(['+', '-', 'Z']) {
        ts.to_owned()
    } else {
        format!("{ts}Z")
    };
    let unparseable = || format!("Unparseable date: \"{full}\"");
    let re =
        regex::Regex::new(r"^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)(Z|[+-]\d\d(?::?\d\d)?)")
            .map_err(|_| unparseable())?;
    let c = re.captures(&full).ok_or_else(unparseable)?;
    let n = |i: usize| -> Result<i64, String> {
        c.get(i)
            .and_then(|m| m.as_str().parse::<i64>().ok())
            .filter(|v| *v < 1_000_000_000)
            .ok_or_else(unparseable)
    };
    let (y, mo, d, h, mi, s, ms) = (n(1)?, n(2)?, n(3)?, n(4)?, n(5)?, n(6)?, n(7)?);
    // SimpleDateFormat is lenient: a month past 12 rolls into the next year, and so on.
    let (y, mo) = (y + (mo - 1).div_euclid(12), (mo - 1).rem_euclid(12) + 1);
    let zone = c.get(8).map(|m| m.as_str()).unwrap_or("Z");
    let offset_min = if zone == "Z" {
        0
    } else {
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
        let hh: i64 = digits[..2].parse().map_err(|_| unparseable())?;
        let mm: i64 = if digits.len() >= 4 {
            digits[2..4].parse().map_err(|_| unparseable())?
        } else {
            0
        };
        sign * (hh * 60 + mm)
    };
    let days = days_from_civil(y, mo, d);
    Ok((((days * 24 + h) * 60 + mi - offset_min) * 60 + s) * 1000 + ms)
}

/// java.time.Duration.parse (`PnDTnHnMn.nS`, signs allowed) in milliseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let err = || "Text cannot be parsed to a Duration".to_owned();
    let re = regex::Regex::new(
        r"(?i)^([-+]?)P(?:([-+]?[0-9]+)D)?(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?$",
    )
    .map_err(|_| err())?;
    let c = re.captures(text).ok_or_else(err)?;
    let t = c.get(3).map(|m| m.as_str());
    if c.get(2).is_none() && t.is_none() || t.is_some_and(|t| t.len() == 1) {
        return Err(err());
    }
    let num = |i: usize| -> Result<i64, String> {
        c.get(i)
            .map(|m| m.as_str().parse::<i64>().map_err(|_| err()))
            .unwrap_or(Ok(0))
    };
    let (d, h, m, s) = (num(2)?, num(4)?, num(5)?, num(6)?);
    let frac_ms = c
        .get(7)
        .map(|f| {
            let digits = format!("{:0<9}", f.as_str());
            digits[..3].parse::<i64>().unwrap_or(0)
        })
        .unwrap_or(0);
    let frac_ms = if c.get(6).is_some_and(|m| m.as_str().starts_with('-')) {
        -frac_ms
    } else {
        frac_ms
    };
    let total = d
        .checked_mul(86_400_000)
        .and_then(|x| x.checked_add(h.checked_mul(3_600_000)?))
        .and_then(|x| x.checked_add(m.checked_mul(60_000)?))
        .and_then(|x| x.checked_add(s.checked_mul(1000)?))
        .and_then(|x| x.checked_add(frac_ms))
        .ok_or_else(err)?;
    Ok(if c.get(1).is_some_and(|m| m.as_str() == "-") {
        -total
    } else {
        total
    })
}

/// jopt-simple's availableIf/mutuallyExclusive checks, made while parsing.
fn check_available(o: &Options) -> Result<(), UsageError> {
    let subs = ["members", "verbose", "offsets", "state"];
    let exclusive = ["members", "offsets", "state"];
    let mut bad = Vec::new();
    for s in subs {
        if !o.has(s) {
            continue;
        }
        let conflict = exclusive.contains(&s) && exclusive.iter().any(|x| *x != s && o.has(x));
        if !o.has("describe") || conflict {
            bad.push(s);
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    Err(UsageError {
        message: format!(
            "Exception in thread \"main\" joptsimple.UnavailableOptionException: Option(s) [{}] are unavailable given other options on the command line",
            bad.join(", ")
        ),
        with_help: false,
    })
}

/// ConsumerGroupCommandOptions.checkArgs.
fn check_args(o: &Options) -> Result<(), UsageError> {
    o.require(&["bootstrap-server"])?;
    let scope = "[group], [all-groups]";
    if o.has("describe") && !o.has("group") && !o.has("all-groups") {
        return Err(UsageError::usage(format!(
            "Option [describe] takes one of these options: {scope}"
        )));
    }
    if o.has("delete") {
        if !o.has("group") && !o.has("all-groups") {
            return Err(UsageError::usage(format!(
                "Option [delete] takes one of these options: {scope}"
            )));
        }
        if o.has("topic") {
            return Err(UsageError::usage(
                "The consumer does not support topic-specific offset deletion from a consumer group.",
            ));
        }
    }
    if o.has("delete-offsets") && (!o.has("group") || !o.has("topic")) {
        return Err(UsageError::usage(
            "Option [delete-offsets] takes the following options: [group], [topic]",
        ));
    }
    if o.has("reset-offsets") {
        if o.has("dry-run") && o.has("execute") {
            return Err(UsageError::usage(
                "Option [reset-offsets] only accepts one of [execute] and [dry-run]",
            ));
        }
        if !o.has("dry-run") && !o.has("execute") {
            eprintln!("WARN: No action will be performed as the --execute option is missing.In a future major release, the default behavior of this command will be to prompt the user before executing the reset rather than doing a dry run. You should add the --dry-run option explicitly if you are scripting this command and want to keep the current default behavior without prompting.");
        }
        if !o.has("group") && !o.has("all-groups") {
            return Err(UsageError::usage(format!(
                "Option [reset-offsets] takes one of these options: {scope}"
            )));
        }
        for s in SCENARIOS {
            let others: Vec<&str> = SCENARIOS.iter().copied().filter(|x| *x != s).collect();
            o.forbid(s, &others)?;
        }
    }
    o.forbid("group", &["all-groups"])?;
    o.forbid("group", &["list"])?;
    o.forbid("topic", &["list", "describe"])?;
    Ok(())
}

/// `kafka-consumer-groups.sh` with Kafka's arguments; returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let o = match check_exact_names(SPECS, args)
        .and_then(|()| parse(SPECS, args))
        .and_then(|o| check_available(&o).map(|()| o))
    {
        Ok(o) => o,
        Err(e) => return print_usage_error(&e, SPECS),
    };
    if args.is_empty() || o.has("help") {
        return print_usage_error(
            &UsageError::usage("This tool helps to list all consumer groups, describe a consumer group, delete consumer group info, or reset consumer group offsets."),
            SPECS,
        );
    }
    if o.has("version") {
        println!("{}", version_string());
        return 0;
    }
    if ACTIONS.iter().filter(|a| o.has(a)).count() != 1 {
        return print_usage_error(
            &UsageError::usage("Command must include exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets"),
            SPECS,
        );
    }
    if let Err(e) = check_args(&o) {
        return print_usage_error(&e, SPECS);
    }
    if o.has("delete-offsets") {
        eprintln!("kafka-consumer-groups --delete-offsets is not supported by zkraft yet");
        return 1;
    }
    let mut client_id = "zkraft-consumer-groups".to_owned();
    if let Some(path) = o.value("command-config") {
        match load_props(path) {
            Ok(props) => {
                if let Some(p) = props
                    .get("security.protocol")
                    .filter(|p| !p.eq_ignore_ascii_case("PLAINTEXT"))
                {
                    eprintln!(
                        "security.protocol={p} is not supported by zkraft's tools (PLAINTEXT only)"
                    );
                    return 1;
                }
                if let Some(id) = props.get("client.id") {
                    client_id = id.clone();
                }
            }
            Err(msg) => {
                eprintln!("Exception in thread \"main\" {msg}");
                return 1;
            }
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return 1;
        }
    };
    let result = rt.block_on(async {
        let timeout = match o.value("timeout") {
            None => DEFAULT_TIMEOUT_MS,
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| command(format!("Cannot parse argument '{v}' of option timeout")))?,
        };
        let mut cfg =
            ClientConfig::new(o.value("bootstrap-server").unwrap_or_default(), &client_id);
        cfg.request_timeout = Duration::from_millis(timeout.max(1));
        let mut client = KafkaClient::connect(cfg).await?;
        run(&mut client, &o).await
    });
    match result {
        Ok(()) => 0,
        Err(Fail::Usage(msg)) => print_usage_error(&UsageError::usage(msg), SPECS),
        Err(Fail::Command { msg, detail }) => {
            print_error(&format!(
                "Executing consumer group command failed due to {msg}"
            ));
            if let Some(d) = detail {
                eprintln!("{d}");
            }
            1
        }
    }
}

/// A Java properties file (`Utils.loadProps`), parsed by the broker's properties reader.
fn load_props(path: &str) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|_| {
        format!("java.io.FileNotFoundException: {path} (No such file or directory)")
    })?;
    broker::config::parse_properties(&text)
        .map(|v| v.into_iter().collect())
        .map_err(|e| format!("java.lang.IllegalArgumentException: {e}"))
}

async fn run(client: &mut KafkaClient, o: &Options) -> Result<(), Fail> {
    if o.has("list") {
        for g in list_groups(client).await? {
            println!("{g}");
        }
        Ok(())
    } else if o.has("describe") {
        describe(client, o).await
    } else if o.has("delete") {
        delete(client, o).await
    } else {
        reset(client, o).await
    }
}

/// Consumer groups (and offset-only groups) of the cluster, in Kafka's listing order.
async fn list_groups(client: &mut KafkaClient) -> Result<Vec<String>, Fail> {
    let mut seen = HashSet::new();
    let ids: Vec<String> = client
        .list_groups()
        .await?
        .into_iter()
        .filter(|g| g.protocol_type == "consumer" || g.protocol_type.is_empty())
        .map(|g| g.group_id)
        .filter(|g| seen.insert(g.clone()))
        .collect();
    let cap = order::default_cap(ids.len());
    Ok(order::java(ids, |g| order::string_hash(g), cap))
}

/// The groups the command acts on: --all-groups, else every --group once.
async fn selected_groups(client: &mut KafkaClient, o: &Options) -> Result<Vec<String>, Fail> {
    if o.has("all-groups") {
        list_groups(client).await
    } else {
        let mut seen = HashSet::new();
        Ok(o.values("group")
            .into_iter()
            .filter(|g| seen.insert(g.clone()))
            .collect())
    }
}

/// The order of AdminClient's per-group result map (a HashSet of the ids, collected into a
/// HashMap, copied into another).
fn admin_result_order(groups: Vec<String>) -> Vec<String> {
    let n = groups.len();
    let h = |g: &String| order::string_hash(g);
    let a = order::java(groups, h, order::set_cap(n));
    let b = order::java(a, h, order::default_cap(n));
    order::java(b, h, order::copy_cap(n))
}

/// Describes every group, failing as a whole on the first error, as Kafka's
/// `describeConsumerGroups(...).get()` does.
async fn describe_all(
    client: &mut KafkaClient,
    groups: &[String],
) -> Result<Vec<GroupDescription>, Fail> {
    let mut out = Vec::new();
    for g in groups {
        let d = client.describe_group(g).await?;
        if d.protocol_type != "consumer" && !d.protocol_type.is_empty() {
            return Err(command(format!(
                "java.lang.IllegalArgumentException: GroupId {g} is not a consumer group ({}).",
                d.protocol_type
            )));
        }
        out.push(d);
    }
    Ok(out)
}

/// One row of the offsets table.
struct Row {
    group: String,
    topic: Option<String>,
    partition: Option<i32>,
    offset: Option<i64>,
    lag: Option<i64>,
    consumer_id: Option<String>,
    host: Option<String>,
    client_id: Option<String>,
    log_end: Option<i64>,
}

fn or_missing<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| MISSING.to_owned())
}

/// Kafka's `shouldPrintMemberState`: messages for empty, dead and rebalancing groups;
/// whether the table follows.
fn should_print(group: &str, state: &str, rows: usize) -> Result<bool, Fail> {
    match state {
        "Dead" => print_error(&format!("Consumer group '{group}' does not exist.")),
        "Empty" => eprintln!("\nConsumer group '{group}' has no active members."),
        "PreparingRebalance" | "CompletingRebalance" => {
            eprintln!("\nWarning: Consumer group '{group}' is rebalancing.")
        }
        "Stable" => {}
        other => {
            return Err(command(format!(
                "Expected a valid consumer group state, but found '{other}'."
            )))
        }
    }
    Ok(state != "Dead" && rows > 0)
}

/// Log-end offsets of `tps`, by topic; a topic whose offsets cannot be read is unknown.
async fn log_offsets(
    client: &mut KafkaClient,
    tps: &[(String, i32)],
    time: i64,
) -> BTreeMap<(String, i32), i64> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in tps {
        let v = by_topic.entry(t.as_str()).or_default();
        if !v.contains(p) {
            v.push(*p);
        }
    }
    let mut out = BTreeMap::new();
    for (t, ps) in by_topic {
        if let Ok(offsets) = client.list_offsets(t, &ps, time).await {
            for (p, o) in offsets {
                out.insert((t.to_owned(), p), o);
            }
        }
    }
    out
}

/// The group's committed offsets in the order of AdminClient's result map.
async fn committed(
    client: &mut KafkaClient,
    group: &str,
) -> Result<Vec<((String, i32), i64)>, Fail> {
    let c: Vec<_> = client
        .committed_offsets(group, None)
        .await?
        .into_iter()
        .collect();
    let cap = order::default_cap(c.len());
    Ok(order::java(c, |((t, p), _)| order::tp_hash(t, *p), cap))
}

async fn collect_offsets(client: &mut KafkaClient, d: &GroupDescription) -> Result<Vec<Row>, Fail> {
    let committed = committed(client, &d.group_id).await?;
    let committed_map: BTreeMap<(String, i32), i64> = committed.iter().cloned().collect();
    let mut members: Vec<_> = d
        .members
        .iter()
        .map(|m| {
            let mut seen = HashSet::new();
            let tps: Vec<(String, i32)> = m
                .assignment
                .iter()
                .filter(|tp| seen.insert((*tp).clone()))
                .cloned()
                .collect();
            let cap = order::set_cap(tps.len());
            (m, order::java(tps, |(t, p)| order::tp_hash(t, *p), cap))
        })
        .filter(|(_, tps)| !tps.is_empty())
        .collect();
    members.sort_by_key(|m| std::cmp::Reverse(m.1.len()));
    let mut wanted: Vec<(String, i32)> = members.iter().flat_map(|(_, t)| t.clone()).collect();
    wanted.extend(committed.iter().map(|(tp, _)| tp.clone()));
    let ends = log_offsets(client, &wanted, LATEST).await;
    let row =
        |group: &str, tp: &(String, i32), offset: Option<i64>, who: Option<(&str, &str, &str)>| {
            let log_end = ends.get(tp).copied();
            Row {
                group: group.to_owned(),
                topic: Some(tp.0.clone()),
                partition: Some(tp.1),
                offset,
                lag: offset
                    .filter(|o| *o != -1)
                    .and_then(|o| log_end.map(|e| e - o)),
                consumer_id: Some(who.map_or(MISSING, |w| w.0).to_owned()),
                host: Some(who.map_or(MISSING, |w| w.1).to_owned()),
                client_id: Some(who.map_or(MISSING, |w| w.2).to_owned()),
                log_end,
            }
        };
    let mut rows = Vec::new();
    let mut assigned = HashSet::new();
    for (m, tps) in &members {
        let mut tps = tps.clone();
        tps.sort_by_key(|(_, p)| *p);
        let tps = order::scala(tps, |(t, p)| order::tp_hash(t, *p));
        for tp in tps {
            assigned.insert(tp.clone());
            let who = (
                m.member_id.as_str(),
                m.client_host.as_str(),
                m.client_id.as_str(),
            );
            rows.push(row(
                &d.group_id,
                &tp,
                committed_map.get(&tp).copied(),
                Some(who),
            ));
        }
    }
    for (tp, offset) in &committed {
        if !assigned.contains(tp) {
            rows.push(row(&d.group_id, tp, Some(*offset), None));
        }
    }
    Ok(rows)
}

fn print_offsets(group: &str, state: &str, rows: &[Row]) -> Result<(), Fail> {
    if !should_print(group, state, rows.len())? {
        return Ok(());
    }
    let (mut g, mut t, mut c, mut h) = (15, 15, 15, 15);
    for r in rows {
        g = g.max(r.group.len());
        t = t.max(or_missing(&r.topic).len());
        c = c.max(or_missing(&r.consumer_id).len());
        h = h.max(or_missing(&r.host).len());
    }
    let line = |cols: [String; 9]| {
        format!(
            "{:<g$} {:<t$} {:<10} {:<15} {:<15} {:<15} {:<c$} {:<h$} {}",
            cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8]
        )
    };
    println!(
        "\n{}",
        line(
            [
                "GROUP",
                "TOPIC",
                "PARTITION",
                "CURRENT-OFFSET",
                "LOG-END-OFFSET",
                "LAG",
                "CONSUMER-ID",
                "HOST",
                "CLIENT-ID"
            ]
            .map(str::to_owned)
        )
    );
    for r in rows {
        println!(
            "{}",
            line([
                r.group.clone(),
                or_missing(&r.topic),
                or_missing(&r.partition),
                or_missing(&r.offset),
                or_missing(&r.log_end),
                or_missing(&r.lag),
                or_missing(&r.consumer_id),
                or_missing(&r.host),
                or_missing(&r.client_id),
            ])
        );
    }
    Ok(())
}

fn print_members(d: &GroupDescription, verbose: bool) -> Result<(), Fail> {
    if !should_print(&d.group_id, &d.state, d.members.len())? {
        return Ok(());
    }
    let (mut g, mut c, mut h, mut k) = (15, 15, 15, 15);
    for m in &d.members {
        g = g.max(d.group_id.len());
        c = c.max(m.member_id.len());
        h = h.max(m.client_host.len());
        k = k.max(m.client_id.len());
    }
    print!(
        "\n{:<g$} {:<c$} {:<h$} {:<k$} {:<15} ",
        "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"
    );
    if verbose {
        print!("ASSIGNMENT");
    }
    println!();
    for m in &d.members {
        let distinct: HashSet<&(String, i32)> = m.assignment.iter().collect();
        print!(
            "{:<g$} {:<c$} {:<h$} {:<k$} {:<15} ",
            d.group_id,
            m.member_id,
            m.client_host,
            m.client_id,
            distinct.len()
        );
        if verbose {
            let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
            for (t, p) in distinct {
                by_topic.entry(t.as_str()).or_default().push(*p);
            }
            if by_topic.is_empty() {
                print!("{MISSING}");
            } else {
                let mut parts: Vec<String> = by_topic
                    .into_iter()
                    .map(|(t, mut ps)| {
                        ps.sort_unstable();
                        let ps: Vec<String> = ps.iter().map(i32::to_string).collect();
                        format!("{t}({})", ps.join(","))
                    })
                    .collect();
                parts.sort();
                print!("{}", parts.join(", "));
            }
        }
        println!();
    }
    Ok(())
}

fn print_state(d: &GroupDescription) -> Result<(), Fail> {
    if !should_print(&d.group_id, &d.state, 1)? {
        return Ok(());
    }
    let coord = format!(
        "{}:{} ({})",
        d.coordinator.host, d.coordinator.port, d.coordinator.id
    );
    let w = coord.len().max(25);
    print!(
        "\n{:<w$} {:<25} {:<20} {:<15} #MEMBERS",
        "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE"
    );
    print!(
        "\n{:<w$} {:<25} {:<20} {:<15} {}",
        d.group_id,
        coord,
        d.protocol,
        d.state,
        d.members.len()
    );
    println!();
    Ok(())
}

async fn describe(client: &mut KafkaClient, o: &Options) -> Result<(), Fail> {
    let mut groups = selected_groups(client, o).await?;
    let descriptions = describe_all(client, &groups).await?;
    // Kafka prints from a TreeMap: by group id.
    groups.sort();
    let mut by_id: BTreeMap<String, GroupDescription> = descriptions
        .into_iter()
        .map(|d| (d.group_id.clone(), d))
        .collect();
    if o.has("members") {
        for d in by_id.values() {
            print_members(d, o.has("verbose"))?;
        }
    } else if o.has("state") {
        for d in by_id.values() {
            print_state(d)?;
        }
    } else {
        let mut all = Vec::new();
        for g in &groups {
            if let Some(d) = by_id.remove(g) {
                let rows = collect_offsets(client, &d).await?;
                all.push((d, rows));
            }
        }
        for (d, rows) in all {
            print_offsets(&d.group_id, &d.state, &rows)?;
        }
    }
    Ok(())
}

async fn delete(client: &mut KafkaClient, o: &Options) -> Result<(), Fail> {
    let groups = selected_groups(client, o).await?;
    let results: BTreeMap<String, i16> = client.delete_groups(&groups).await?.into_iter().collect();
    let ordered = admin_result_order(groups);
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for g in ordered {
        match results.get(&g).copied().unwrap_or(0) {
            0 => ok.push(g),
            code => failed.push((g, code)),
        }
    }
    let ok = order::scala(ok, |g| order::string_hash(g));
    let failed = order::scala(failed, |(g, _)| order::string_hash(g));
    let quoted = |v: &[String]| format!("'{}'", v.join("', '"));
    if failed.is_empty() {
        println!(
            "Deletion of requested consumer groups ({}) was successful.",
            quoted(&ok)
        );
    } else {
        print_error("Deletion of some consumer groups failed:");
        for (g, code) in &failed {
            println!(
                "* Group '{g}' could not be deleted due to: java.util.concurrent.ExecutionException: {}",
                exception(*code)
            );
        }
        if !ok.is_empty() {
            println!(
                "\nThese consumer groups were deleted successfully: {}",
                quoted(&ok)
            );
        }
    }
    Ok(())
}

type Tp = (String, i32);

fn tp_string(tp: &Tp) -> String {
    format!("{}-{}", tp.0, tp.1)
}

/// The partitions `--topic`/`--all-topics` name for `group`.
async fn partitions_to_reset(
    client: &mut KafkaClient,
    o: &Options,
    group: &str,
) -> Result<Vec<Tp>, Fail> {
    if o.has("all-topics") {
        return Ok(committed(client, group)
            .await?
            .into_iter()
            .map(|(tp, _)| tp)
            .collect());
    }
    if !o.has("topic") {
        if o.has("from-file") {
            return Ok(Vec::new());
        }
        return Err(Fail::Usage(
            "One of the reset scopes should be defined: --all-topics, --topic.".into(),
        ));
    }
    let mut out = Vec::new();
    for arg in o.values("topic") {
        if let Some((topic, parts)) = arg.split_once(':') {
            for p in parts.split(',') {
                let n = p
                    .parse::<i32>()
                    .map_err(|_| command(format!("For input string: \"{p}\"")))?;
                out.push((topic.to_owned(), n));
            }
        } else {
            match client.topic(&arg).await {
                Ok(info) => out.extend(info.partitions.iter().map(|p| (arg.clone(), p.partition))),
                // Kafka's partitionsFor answers an unknown topic with no partitions.
                Err(e) if e.code() == Some(3) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(out)
}

/// Kafka's `checkOffsetsRange`: clamps each requested offset into [log start, log end].
async fn check_range(client: &mut KafkaClient, requested: Vec<(Tp, i64)>) -> Vec<(Tp, i64)> {
    let tps: Vec<Tp> = requested.iter().map(|(tp, _)| tp.clone()).collect();
    let starts = log_offsets(client, &tps, EARLIEST).await;
    let ends = log_offsets(client, &tps, LATEST).await;
    requested
        .into_iter()
        .map(|(tp, offset)| {
            if let Some(end) = ends.get(&tp).copied() {
                if offset > end {
                    warn(&format!("New offset ({offset}) is higher than latest offset for topic partition {}. Value will be set to {end}", tp_string(&tp)));
                    return (tp, end);
                }
                if let Some(start) = starts.get(&tp).copied() {
                    if offset < start {
                        warn(&format!("New offset ({offset}) is lower than earliest offset for topic partition {}. Value will be set to {start}", tp_string(&tp)));
                        return (tp, start);
                    }
                }
            }
            (tp, offset)
        })
        .collect()
}

fn as_map(v: Vec<(Tp, i64)>) -> Vec<(Tp, i64)> {
    // A Scala immutable Map built in this order (later duplicates replace earlier ones).
    let mut seen: BTreeMap<Tp, usize> = BTreeMap::new();
    let mut out: Vec<(Tp, i64)> = Vec::new();
    for (tp, o) in v {
        match seen.get(&tp) {
            Some(i) => out[*i].1 = o,
            None => {
                seen.insert(tp.clone(), out.len());
                out.push((tp, o));
            }
        }
    }
    order::scala(out, |((t, p), _)| order::tp_hash(t, *p))
}

fn long_opt(o: &Options, name: &str) -> Result<i64, Fail> {
    let v = o.value(name).unwrap_or_default();
    v.parse::<i64>()
        .map_err(|_| command(format!("Cannot parse argument '{v}' of option {name}")))
}

/// Offsets at `time` for `tps`, the log end where no record is that late.
async fn offsets_for_time(
    client: &mut KafkaClient,
    tps: &[Tp],
    time: i64,
) -> Result<Vec<(Tp, i64)>, Fail> {
    let found = log_offsets(client, tps, time).await;
    let missing: Vec<Tp> = tps
        .iter()
        .filter(|tp| found.get(*tp).is_none_or(|o| *o < 0))
        .cloned()
        .collect();
    let ends = log_offsets(client, &missing, LATEST).await;
    let mut out = Vec::new();
    for tp in tps {
        let o = match found.get(tp).copied().filter(|o| *o >= 0) {
            Some(o) => o,
            None => *ends.get(tp).ok_or_else(|| {
                Fail::Usage(format!(
                    "Error getting offset by timestamp of topic partition: {}",
                    tp_string(tp)
                ))
            })?,
        };
        out.push((tp.clone(), o));
    }
    Ok(out)
}

/// Kafka's `prepareOffsetsToReset` for one group.
async fn prepare(
    client: &mut KafkaClient,
    o: &Options,
    group: &str,
    tps: Vec<Tp>,
) -> Result<Vec<(Tp, i64)>, Fail> {
    let edge =
        |tps: &[Tp], found: &BTreeMap<Tp, i64>, what: &str| -> Result<Vec<(Tp, i64)>, Fail> {
            tps.iter()
                .map(|tp| {
                    found.get(tp).map(|o| (tp.clone(), *o)).ok_or_else(|| {
                        Fail::Usage(format!(
                            "Error getting {what} offset of topic partition: {}",
                            tp_string(tp)
                        ))
                    })
                })
                .collect()
        };
    if o.has("to-offset") {
        let n = long_opt(o, "to-offset")?;
        let req = as_map(tps.into_iter().map(|tp| (tp, n)).collect());
        Ok(check_range(client, req).await)
    } else if o.has("to-earliest") {
        let found = log_offsets(client, &tps, EARLIEST).await;
        Ok(as_map(edge(&tps, &found, "starting")?))
    } else if o.has("to-latest") {
        let found = log_offsets(client, &tps, LATEST).await;
        Ok(as_map(edge(&tps, &found, "ending")?))
    } else if o.has("shift-by") {
        let n = long_opt(o, "shift-by")?;
        let current: BTreeMap<Tp, i64> = committed(client, group).await?.into_iter().collect();
        let mut req = Vec::new();
        for tp in tps {
            let c = current.get(&tp).ok_or_else(|| {
                command(format!(
                    "Cannot shift offset for partition {} since there is no current committed offset",
                    tp_string(&tp)
                ))
            })?;
            req.push((tp, c.saturating_add(n)));
        }
        Ok(check_range(client, as_map(req)).await)
    } else if o.has("to-datetime") {
        let ts = parse_datetime(o.value("to-datetime").unwrap_or_default()).map_err(command)?;
        Ok(as_map(offsets_for_time(client, &tps, ts).await?))
    } else if o.has("by-duration") {
        let d = parse_duration(o.value("by-duration").unwrap_or_default()).map_err(command)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64;
        Ok(as_map(offsets_for_time(client, &tps, now - d).await?))
    } else if let Some(path) = o.value("from-file") {
        let plan = reset_plan(path, o)?;
        match plan.get(group) {
            Some(offsets) => Ok(check_range(client, as_map(offsets.clone())).await),
            None => {
                print_error(&format!("No reset plan for group {group} found"));
                Ok(Vec::new())
            }
        }
    } else if o.has("to-current") {
        let current: BTreeMap<Tp, i64> = committed(client, group).await?.into_iter().collect();
        let (with, without): (Vec<Tp>, Vec<Tp>) =
            tps.into_iter().partition(|tp| current.contains_key(tp));
        let mut out: Vec<(Tp, i64)> =
            as_map(with.iter().map(|tp| (tp.clone(), current[tp])).collect());
        let ends = log_offsets(client, &without, LATEST).await;
        out.extend(as_map(edge(&without, &ends, "ending")?));
        Ok(as_map(out))
    } else {
        Err(Fail::Usage(format!(
            "Option '[reset-offsets]' requires one of the following scenarios: Set({})",
            SCENARIOS.map(|s| format!("[{s}]")).join(", ")
        )))
    }
}

async fn reset(client: &mut KafkaClient, o: &Options) -> Result<(), Fail> {
    let groups = selected_groups(client, o).await?;
    let descriptions = describe_all(client, &groups).await?;
    let states: BTreeMap<String, String> = descriptions
        .into_iter()
        .map(|d| (d.group_id, d.state))
        .collect();
    let execute = o.has("execute") && !o.has("dry-run");
    let mut plan: Vec<(String, Vec<(Tp, i64)>)> = Vec::new();
    for g in admin_result_order(groups) {
        let state = states.get(&g).cloned().unwrap_or_default();
        if state == "Empty" || state == "Dead" {
            let tps = partitions_to_reset(client, o, &g).await?;
            let offsets = prepare(client, o, &g, tps).await?;
            if execute && !offsets.is_empty() {
                let map: BTreeMap<Tp, i64> = offsets.iter().cloned().collect();
                let errors = client.commit_offsets_admin(&g, &map).await?;
                if let Some((_, code)) = errors.iter().find(|(_, c)| **c != 0) {
                    return Err(command(exception(*code)));
                }
            }
            plan.push((g, offsets));
        } else {
            print_error(&format!("Assignments can only be reset if the group '{g}' is inactive, but the current state is {state}."));
            plan.push((g, Vec::new()));
        }
    }
    let plan = order::scala(plan, |(g, _)| order::string_hash(g));
    if o.has("export") {
        let single = o.values("group").len() == 1;
        let mut text = String::new();
        for (g, offsets) in &plan {
            for ((t, p), off) in offsets {
                if single {
                    text.push_str(&format!("{},{p},{off}\n", csv(t)));
                } else {
                    text.push_str(&format!("{},{},{p},{off}\n", csv(g), csv(t)));
                }
            }
        }
        println!("{text}");
        return Ok(());
    }
    if !plan.is_empty() {
        println!(
            "\n{:<30} {:<30} {:<10} {:<15}",
            "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"
        );
    }
    for (g, offsets) in &plan {
        for ((t, p), off) in offsets {
            println!("{g:<30} {t:<30} {p:<10} {off:<15}");
        }
    }
    Ok(())
}

/// Splits one CSV line into fields (double quotes around a field, `""` inside one).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Kafka's `parseResetPlan`: `topic,partition,offset` lines when exactly one --group is given
/// and the first line has that form, else `group,topic,partition,offset` lines.
fn reset_plan(path: &str, o: &Options) -> Result<BTreeMap<String, Vec<(Tp, i64)>>, Fail> {
    let text = std::fs::read_to_string(path)
        .map_err(|_| command(format!("java.nio.file.NoSuchFileException: {path}")))?;
    let mut lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let no_group = |l: &str| -> Option<(String, i32, i64)> {
        match csv_fields(l).as_slice() {
            [t, p, off] => Some((t.clone(), p.parse().ok()?, off.parse().ok()?)),
            _ => None,
        }
    };
    let groups = o.values("group");
    let single = groups.len() == 1 && lines.first().is_some_and(|l| no_group(l).is_some());
    let mut plan: BTreeMap<String, Vec<(Tp, i64)>> = BTreeMap::new();
    for l in lines {
        let bad = || command(format!("cannot read the reset plan line \"{l}\" of {path}"));
        let (g, t, p, off) = if single {
            let (t, p, off) = no_group(l).ok_or_else(bad)?;
            (groups[0].clone(), t, p, off)
        } else {
            match csv_fields(l).as_slice() {
                [g, t, p, off] => (
                    g.clone(),
                    t.clone(),
                    p.parse().map_err(|_| bad())?,
                    off.parse().map_err(|_| bad())?,
                ),
                _ => return Err(bad()),
            }
        };
        plan.entry(g).or_default().push(((t, p), off));
    }
    Ok(plan)
}

/// A CSV field as Jackson's CsvMapper writes it: quoted only when it must be.
fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn datetimes_convert_like_kafka() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00.000"), Ok(0));
        assert_eq!(parse_datetime("1970-01-01T00:00:01.5Z"), Ok(1005));
        assert_eq!(
            parse_datetime("2020-02-29T12:00:00.000+01:00"),
            Ok(1_582_974_000_000)
        );
        assert_eq!(
            parse_datetime("2020-02-29T12:00:00.000-0100"),
            Ok(1_582_981_200_000)
        );
        assert_eq!(parse_datetime("2020-02-29"), Err("1".to_owned()));
        assert_eq!(
            parse_datetime("2020-02-29T12:00"),
            Err("Unparseable date: \"2020-02-29T12:00Z\"".to_owned())
        );
    }

    #[test]
    fn durations_parse_like_java_time() {
        assert_eq!(parse_duration("PT1H"), Ok(3_600_000));
        assert_eq!(
            parse_duration("P1DT2M3.5S"),
            Ok(86_400_000 + 120_000 + 3500)
        );
        assert_eq!(parse_duration("-PT10S"), Ok(-10_000));
        assert!(parse_duration("PT").is_err());
        assert!(parse_duration("P").is_err());
        assert!(parse_duration("1H").is_err());
    }

    #[test]
    fn options_are_checked_like_kafka() {
        let e = check_exact_names(SPECS, &s(&["--desc"])).unwrap_err();
        assert!(e.message.ends_with("desc is not a recognized option"));
        // A value is not taken for an option name.
        assert!(check_exact_names(SPECS, &s(&["--shift-by", "-2", "--group", "--x"])).is_ok());
        let o = parse(SPECS, &s(&["--list", "--members"])).unwrap();
        assert!(check_available(&o).unwrap_err().message.ends_with(
            "Option(s) [members] are unavailable given other options on the command line"
        ));
        let o = parse(SPECS, &s(&["--describe", "--members", "--state"])).unwrap();
        assert!(check_available(&o)
            .unwrap_err()
            .message
            .contains("[members, state]"));
        let o = parse(
            SPECS,
            &s(&[
                "--bootstrap-server",
                "x:1",
                "--reset-offsets",
                "--group",
                "g",
                "--to-earliest",
                "--to-latest",
                "--dry-run",
            ]),
        )
        .unwrap();
        assert_eq!(
            check_args(&o).unwrap_err().message,
            "Option \"[to-earliest]\" can't be used with option \"[to-latest]\""
        );
        let o = parse(SPECS, &s(&["--bootstrap-server", "x:1", "--describe"])).unwrap();
        assert_eq!(
            check_args(&o).unwrap_err().message,
            "Option [describe] takes one of these options: [group], [all-groups]"
        );
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv("t1"), "t1");
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv_fields("\"a,b\",t,1"), ["a,b", "t", "1"]);
        assert_eq!(csv_fields("x\"\"y"), ["xy"]);
        assert_eq!(csv_fields("\"x\"\"y\""), ["x\"y"]);
    }
}
