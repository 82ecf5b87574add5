//! Command-line parsing as Kafka's tools do it (jopt-simple): `--name value`, `--name=value`,
//! whole option names only (no abbreviations), repeatable options, and Kafka's `CommandLineUtils` checks
//! (`Missing required argument "[x]"`, `Option "[a]" can't be used with option "[b]"`), which
//! print the message and the option table on stderr and exit 1.

use std::collections::BTreeMap;

/// One option: its name, whether it takes a value, and its help text.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub name: &'static str,
    /// `Some(description of the value)` when the option requires one.
    pub arg: Option<&'static str>,
    pub help: &'static str,
}

/// A tool's usage failure: the message for stderr and whether the option table follows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    pub message: String,
    pub with_help: bool,
}

impl UsageError {
    /// A `CommandLineUtils.printUsageAndDie` failure.
    pub fn usage(message: impl Into<String>) -> UsageError {
        UsageError {
            message: message.into(),
            with_help: true,
        }
    }

    /// A jopt-simple parse failure, which Kafka's tools let escape from `main`.
    fn jopt(class: &str, message: String) -> UsageError {
        UsageError {
            message: format!("Exception in thread \"main\" joptsimple.{class}: {message}"),
            with_help: false,
        }
    }
}

/// Parsed options: every value given for each option, in order.
#[derive(Debug, Default)]
pub struct Options {
    values: BTreeMap<&'static str, Vec<String>>,
    pub non_options: Vec<String>,
}

impl Options {
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    pub fn values(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }

    /// An integer option (`ofType(Integer)`). Kafka converts lazily, inside the command, so
    /// the error is jopt-simple's message for the command's own error line.
    pub fn int(&self, name: &str) -> Result<Option<i32>, String> {
        match self.value(name) {
            None => Ok(None),
            Some(v) => v
                .parse::<i32>()
                .map(Some)
                .map_err(|_| format!("Cannot parse argument '{v}' of option {name}")),
        }
    }

    /// `CommandLineUtils.checkRequiredArgs`.
    pub fn require(&self, names: &[&str]) -> Result<(), UsageError> {
        for n in names {
            if !self.has(n) {
                return Err(UsageError::usage(format!(
                    "Missing required argument \"[{n}]\""
                )));
            }
        }
        Ok(())
    }

    /// `CommandLineUtils.checkInvalidArgs`: `used` may not come with any of `invalid`.
    pub fn forbid(&self, used: &str, invalid: &[&str]) -> Result<(), UsageError> {
        if !self.has(used) {
            return Ok(());
        }
        for n in invalid {
            if self.has(n) {
                return Err(UsageError::usage(format!(
                    "Option \"[{used}]\" can't be used with option \"[{n}]\""
                )));
            }
        }
        Ok(())
    }
}

/// Parses `args` against `specs`.
pub fn parse(specs: &[Spec], args: &[String]) -> Result<Options, UsageError> {
    let mut out = Options::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            out.non_options.extend(args[i..].iter().cloned());
            break;
        }
        let Some(body) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
            out.non_options.push(a.clone());
            continue;
        };
        if body.is_empty() {
            out.non_options.push(a.clone());
            continue;
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (body, None),
        };
        // Kafka 2.4's tools build their parser with abbreviations off
        // (`CommandDefaultOptions`, `new OptionParser(false)`): only whole names count.
        let spec = match specs.iter().find(|s| s.name == name) {
            Some(s) => *s,
            None => {
                return Err(UsageError::jopt(
                    "UnrecognizedOptionException",
                    format!("{name} is not a recognized option"),
                ))
            }
        };
        let value = if spec.arg.is_some() {
            match inline {
                Some(v) => v,
                None if i < args.len() => {
                    i += 1;
                    args[i - 1].clone()
                }
                None => {
                    return Err(UsageError::jopt(
                        "OptionMissingRequiredArgumentException",
                        format!("Option {} requires an argument", spec.name),
                    ))
                }
            }
        } else {
            String::new()
        };
        out.values.entry(spec.name).or_default().push(value);
    }
    Ok(out)
}

/// The option table jopt-simple prints (`printHelpOn`), options sorted by name.
pub fn help_table(specs: &[Spec]) -> String {
    const LEFT: usize = 41;
    const RIGHT: usize = 39;
    let mut sorted: Vec<&Spec> = specs.iter().collect();
    sorted.sort_by_key(|s| s.name);
    let mut out = format!(
        "{:<LEFT$}{}\n{:<LEFT$}{}\n",
        "Option", "Description", "------", "-----------"
    );
    for s in sorted {
        let left = match s.arg {
            Some(d) => format!("--{} <{d}>", s.name),
            None => format!("--{}", s.name),
        };
        let lines = wrap(s.help, RIGHT);
        if left.len() >= LEFT {
            out.push_str(&left);
            out.push('\n');
            for l in &lines {
                out.push_str(&format!("{:<LEFT$}{l}\n", ""));
            }
        } else {
            for (k, l) in lines.iter().enumerate() {
                let lhs = if k == 0 { left.as_str() } else { "" };
                let pad = if k == 0 { "" } else { "  " };
                out.push_str(&format!("{lhs:<LEFT$}{pad}{l}\n"));
            }
            if lines.is_empty() {
                out.push_str(&left);
                out.push('\n');
            }
        }
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut cur = String::new();
        for w in para.split(' ') {
            if !cur.is_empty() && cur.len() + 1 + w.len() > width {
                lines.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(w);
        }
        lines.push(cur);
    }
    lines
}

/// `CommandLineUtils.parseKeyValueArgs`: `k=v` (split at the first `=`, so a value may
/// contain `=`), a bare `k` is `k=""`.
pub fn key_values(args: &[String]) -> BTreeMap<String, String> {
    args.iter()
        .filter(|a| !a.is_empty())
        .map(|a| match a.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (a.clone(), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[Spec] = &[
        Spec {
            name: "topic",
            arg: Some("topic"),
            help: "The topic.",
        },
        Spec {
            name: "topics-with-overrides",
            arg: None,
            help: "x",
        },
        Spec {
            name: "config",
            arg: Some("name=value"),
            help: "A config.",
        },
        Spec {
            name: "list",
            arg: None,
            help: "List.",
        },
    ];

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_like_jopt_simple() {
        let o = parse(
            SPECS,
            &s(&["--list", "--config", "a=1", "--config=b=2", "--topic", "t"]),
        )
        .unwrap();
        assert!(o.has("list"));
        assert_eq!(o.values("config"), ["a=1", "b=2"]);
        assert_eq!(o.value("topic"), Some("t"));
        // No abbreviations, as Kafka 2.4's parsers: even a unique prefix is unknown.
        let e = parse(SPECS, &s(&["--li"])).unwrap_err();
        assert!(e.message.contains("li is not a recognized option"), "{e}");
        let e = parse(SPECS, &s(&["--top", "x"])).unwrap_err();
        assert!(e.message.contains("top is not a recognized option"), "{e}");
        let e = parse(SPECS, &s(&["--topic"])).unwrap_err();
        assert!(
            e.message.ends_with("Option topic requires an argument"),
            "{e}"
        );
    }

    #[test]
    fn checks_like_command_line_utils() {
        let o = parse(SPECS, &s(&["--list", "--config", "a=1"])).unwrap();
        assert_eq!(
            o.require(&["topic"]).unwrap_err().message,
            "Missing required argument \"[topic]\""
        );
        assert_eq!(
            o.forbid("config", &["list"]).unwrap_err().message,
            "Option \"[config]\" can't be used with option \"[list]\""
        );
    }
}
