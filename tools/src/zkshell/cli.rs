//! Turning a shell line into a command: zkCli's tokenizer, its commons-cli option parsing
//! (`DefaultParser` semantics: options anywhere, `-sw` bundles, `-t100` attached values, `--`)
//! and ZooKeeper's client-side path validation. Pure functions; errors carry zkCli's texts.

/// A command that failed: the text zkCli prints on stderr and the exit code it would leave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub message: String,
    pub exit_code: i32,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            exit_code: 1,
        }
    }
}

/// Splits a line as zkCli does: whitespace-separated words, or `"..."` / `'...'` strings whose
/// quotes are removed. A quote without its closing partner is an ordinary character.
pub fn tokenize(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let c = chars[i];
        if c == '"' || c == '\'' {
            if let Some(end) = chars[i + 1..].iter().position(|&x| x == c) {
                out.push(chars[i + 1..i + 1 + end].iter().collect());
                i += end + 2;
                continue;
            }
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        out.push(chars[start..i].iter().collect());
    }
    out
}

/// One option letter of a command and whether it takes a value.
#[derive(Clone, Copy, Debug)]
pub struct OptSpec {
    pub letter: char,
    pub takes_value: bool,
}

pub const fn flag(letter: char) -> OptSpec {
    OptSpec {
        letter,
        takes_value: false,
    }
}

pub const fn valued(letter: char) -> OptSpec {
    OptSpec {
        letter,
        takes_value: true,
    }
}

/// Parsed command line: positional arguments (the command name first, as in zkCli) and options.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub args: Vec<String>,
    opts: Vec<(char, Option<String>)>,
}

impl Parsed {
    pub fn has(&self, letter: char) -> bool {
        self.opts.iter().any(|(l, _)| *l == letter)
    }

    /// The value of the first occurrence of `letter`.
    pub fn value(&self, letter: char) -> Option<&str> {
        self.opts
            .iter()
            .find(|(l, _)| *l == letter)
            .and_then(|(_, v)| v.as_deref())
    }
}

fn unrecognized(token: &str) -> CliError {
    CliError::new(format!(
        "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: {token}"
    ))
}

fn missing_argument(letter: char) -> CliError {
    CliError::new(format!(
        "org.apache.commons.cli.MissingArgumentException: Missing argument for option: {letter}"
    ))
}

fn is_negative_number(token: &str) -> bool {
    token.len() > 1 && token.starts_with('-') && token[1..].parse::<f64>().is_ok()
}

/// Parses `tokens` against `specs` with commons-cli's DefaultParser rules.
pub fn parse(specs: &[OptSpec], tokens: &[String]) -> Result<Parsed, CliError> {
    let spec = |c: char| specs.iter().find(|s| s.letter == c).copied();
    let is_option = |t: &str| {
        t.len() > 1
            && t.starts_with('-')
            && t[1..]
                .chars()
                .next()
                .is_some_and(|c| c != '-' && spec(c).is_some())
    };
    let mut out = Parsed::default();
    // The option still waiting for its value.
    let mut pending: Option<char> = None;
    let mut skip = false;
    for token in tokens {
        if skip {
            out.args.push(token.clone());
            continue;
        }
        if token == "--" {
            skip = true;
            continue;
        }
        if let Some(letter) = pending {
            if !is_option(token) || is_negative_number(token) {
                out.opts.push((letter, Some(token.clone())));
                pending = None;
                continue;
            }
        }
        if token.starts_with("--") {
            // No command has long options.
            return Err(unrecognized(token));
        }
        if token.starts_with('-') && token.len() > 1 {
            let body: Vec<char> = token[1..].chars().collect();
            for (i, c) in body.iter().enumerate() {
                let Some(s) = spec(*c) else {
                    return Err(unrecognized(token));
                };
                if let Some(p) = pending {
                    return Err(missing_argument(p));
                }
                if s.takes_value {
                    if i + 1 < body.len() {
                        let rest: String = body[i + 1..].iter().collect();
                        let rest = rest.strip_prefix('=').unwrap_or(&rest).to_string();
                        out.opts.push((*c, Some(rest)));
                    } else {
                        pending = Some(*c);
                    }
                    break;
                }
                out.opts.push((*c, None));
            }
            continue;
        }
        out.args.push(token.clone());
    }
    if let Some(p) = pending {
        return Err(missing_argument(p));
    }
    Ok(out)
}

/// ZooKeeper's client-side path check (`PathUtils.validatePath`), with its messages.
pub fn validate_path(path: &str) -> Result<(), CliError> {
    if path.is_empty() {
        return Err(CliError::new("Path length must be > 0"));
    }
    if !path.starts_with('/') {
        return Err(CliError::new("Path must start with / character"));
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(CliError::new("Path must not end with / character"));
    }
    let chars: Vec<char> = path.chars().collect();
    let mut reason = None;
    for i in 1..chars.len() {
        let c = chars[i];
        let last = chars[i - 1];
        let ends_name = i + 1 == chars.len() || chars[i + 1] == '/';
        if c == '\0' {
            reason = Some(format!("null character not allowed @{i}"));
        } else if c == '/' && last == '/' {
            reason = Some(format!("empty node name specified @{i}"));
        } else if c == '.' && last == '.' {
            if i >= 2 && chars[i - 2] == '/' && ends_name {
                reason = Some(format!("relative paths not allowed @{i}"));
            }
        } else if c == '.' {
            if last == '/' && ends_name {
                reason = Some(format!("relative paths not allowed @{i}"));
            }
        } else if ('\u{1}'..='\u{1f}').contains(&c)
            || ('\u{7f}'..='\u{9f}').contains(&c)
            || ('\u{e000}'..='\u{f8ff}').contains(&c)
            || ('\u{fff0}'..='\u{ffff}').contains(&c)
        {
            reason = Some(format!("invalid character @{i}"));
        }
        if reason.is_some() {
            break;
        }
    }
    match reason {
        Some(r) => Err(CliError::new(format!(
            "Invalid path string \"{path}\" caused by {r}"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        tokenize(s)
    }

    #[test]
    fn tokenizer_handles_quotes_like_zkcli() {
        assert_eq!(toks("  set /a  'x y'  "), ["set", "/a", "x y"]);
        assert_eq!(
            toks(r#"create /a '{"k": 1}'"#),
            ["create", "/a", r#"{"k": 1}"#]
        );
        assert_eq!(toks(r#"set /a "ab"cd"#), ["set", "/a", "ab", "cd"]);
        assert_eq!(toks(r#"set /a "open"#), ["set", "/a", "\"open"]);
        assert!(toks("   ").is_empty());
    }

    #[test]
    fn options_follow_commons_cli() {
        let specs = [flag('s'), flag('w'), valued('v')];
        let p = parse(&specs, &toks("get -sw /a")).unwrap();
        assert!(p.has('s') && p.has('w'));
        assert_eq!(p.args, ["get", "/a"]);
        let p = parse(&specs, &toks("set /a -v 3 data")).unwrap();
        assert_eq!(p.value('v'), Some("3"));
        assert_eq!(p.args, ["set", "/a", "data"]);
        let p = parse(&specs, &toks("set -v3 /a d")).unwrap();
        assert_eq!(p.value('v'), Some("3"));
        let p = parse(&specs, &toks("set -v -1 /a d")).unwrap();
        assert_eq!(p.value('v'), Some("-1"));
        let e = parse(&specs, &toks("get -x /a")).unwrap_err();
        assert_eq!(
            e.message,
            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x"
        );
        let e = parse(&specs, &toks("set /a d -v")).unwrap_err();
        assert_eq!(
            e.message,
            "org.apache.commons.cli.MissingArgumentException: Missing argument for option: v"
        );
        let e = parse(&specs, &toks("set /a -1")).unwrap_err();
        assert!(e.message.ends_with("Unrecognized option: -1"));
        let p = parse(&specs, &toks("set -- -a b")).unwrap();
        assert_eq!(p.args, ["set", "-a", "b"]);
    }

    #[test]
    fn paths_are_validated_like_zookeeper() {
        assert!(validate_path("/").is_ok());
        assert!(validate_path("/a/b.c/..d").is_ok());
        assert_eq!(
            validate_path("a").unwrap_err().message,
            "Path must start with / character"
        );
        assert_eq!(
            validate_path("/a/").unwrap_err().message,
            "Path must not end with / character"
        );
        assert_eq!(
            validate_path("/a//b").unwrap_err().message,
            "Invalid path string \"/a//b\" caused by empty node name specified @3"
        );
        assert_eq!(
            validate_path("/a/../b").unwrap_err().message,
            "Invalid path string \"/a/../b\" caused by relative paths not allowed @4"
        );
        assert_eq!(
            validate_path("").unwrap_err().message,
            "Path length must be > 0"
        );
    }
}
