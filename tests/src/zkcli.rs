//! Driving Apache's Java CLI (`zkCli.sh`) against a server and normalising what it prints.
//!
//! zkCli reads commands from stdin when stdin is not a terminal ("JLine support is disabled"),
//! runs each synchronously and exits at EOF. Results (`ls`, `get`, stats, `getAcl`, ...) go to
//! stdout, while `Created /x` and error messages (`Node does not exist: /x`) go to stderr; both
//! are captured through ONE file so their order is preserved. Watch notifications are printed by
//! the client's event thread (asynchronously to the main thread), so they are pulled out of the
//! transcript into [`ZkCliRun::events`], in the order they were printed.

use std::fs::File;
use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::apache;
use crate::wait::Deadline;

/// Options for one zkCli invocation.
#[derive(Clone, Debug)]
pub struct ZkCliOptions {
    /// Append `quit` so the session is closed (ephemerals removed) before zkCli exits. Without
    /// it zkCli exits without closing its session, which then lingers until it expires.
    pub quit: bool,
    pub timeout: Duration,
}

impl Default for ZkCliOptions {
    fn default() -> Self {
        ZkCliOptions {
            quit: true,
            timeout: Duration::from_secs(20),
        }
    }
}

/// The result of one zkCli run.
#[derive(Clone, Debug)]
pub struct ZkCliRun {
    /// Everything zkCli printed (stdout and stderr interleaved), unmodified.
    pub raw: String,
    /// Normalised lines (see [`normalise_line`]) without banners, blank lines and watch events.
    pub transcript: Vec<String>,
    /// Node watch events in print order, as `"<EventType> <path>"`, e.g. `"NodeCreated /a/b"`.
    pub events: Vec<String>,
    /// Session state events (`type:None`), e.g. `["SyncConnected", "Closed"]`.
    pub session_events: Vec<String>,
    pub status: ExitStatus,
}

impl ZkCliRun {
    /// The transcript joined with newlines.
    pub fn text(&self) -> String {
        self.transcript.join("\n")
    }

    /// Asserts the normalised transcript equals `expected` (compared line by line after trimming
    /// each line; blank lines and common indentation in `expected` are ignored).
    #[track_caller]
    pub fn assert_transcript(&self, expected: &str) {
        let want: Vec<String> = expected
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        let got: Vec<String> = self
            .transcript
            .iter()
            .map(|l| l.trim().to_string())
            .collect();
        if want != got {
            let mut diff = String::new();
            for i in 0..want.len().max(got.len()) {
                let w = want.get(i).map(String::as_str).unwrap_or("<none>");
                let g = got.get(i).map(String::as_str).unwrap_or("<none>");
                let mark = if w == g { "  " } else { "!!" };
                diff.push_str(&format!("{mark} {i:3} want: {w}\n{mark}      got:  {g}\n"));
            }
            panic!(
                "zkCli transcript mismatch:\n{diff}\n---- raw output ----\n{}",
                self.raw
            );
        }
    }

    /// Asserts that `needle` occurs in the normalised transcript.
    #[track_caller]
    pub fn assert_contains(&self, needle: &str) {
        let text = self.text();
        assert!(
            text.contains(needle),
            "zkCli output lacks {needle:?}:\n{}",
            self.raw
        );
    }
}

/// Normalises one line of zkCli output; `None` drops it (JVM/SLF4J noise, banners, blank lines).
/// (Additionally, [`parse_output`] sorts the id lines that `whoami` prints.)
/// Timestamps become `<TIME>`, zxids `<ZXID>`, non-zero ephemeral owners `<SESSION>`.
pub fn normalise_line(line: &str) -> Option<String> {
    let l = line.trim_end();
    if l.trim().is_empty()
        || l.starts_with("SLF4J:")
        || l.starts_with("Picked up ")
        || l.starts_with("Connecting to ")
        || l == "Welcome to ZooKeeper!"
        || l.starts_with("JLine support is")
        || l == "WATCHER::"
        || l.starts_with("log4j:")
    {
        return None;
    }
    if let Some((key, value)) = l.split_once(" = ") {
        match key {
            "ctime" | "mtime" => return Some(format!("{key} = <TIME>")),
            "cZxid" | "mZxid" | "pZxid" => return Some(format!("{key} = <ZXID>")),
            "ephemeralOwner" if value != "0x0" => return Some(format!("{key} = <SESSION>")),
            _ => {}
        }
    }
    Some(l.to_string())
}

/// Splits raw zkCli output into (transcript, node events, session events).
pub fn parse_output(raw: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut transcript = Vec::new();
    let mut events = Vec::new();
    let mut session_events = Vec::new();
    for line in raw.lines() {
        if let Some(rest) = line.trim().strip_prefix("WatchedEvent ") {
            // "state:SyncConnected type:NodeDataChanged path:/a"
            let mut state = "";
            let mut ty = "";
            let mut path = "";
            for part in rest.split_whitespace() {
                if let Some(v) = part.strip_prefix("state:") {
                    state = v;
                } else if let Some(v) = part.strip_prefix("type:") {
                    ty = v;
                } else if let Some(v) = part.strip_prefix("path:") {
                    path = v;
                }
            }
            if ty == "None" {
                session_events.push(state.to_string());
            } else {
                events.push(format!("{ty} {path}"));
            }
            continue;
        }
        if let Some(n) = normalise_line(line) {
            transcript.push(n);
        }
    }
    sort_whoami_blocks(&mut transcript);
    (transcript, events, session_events)
}

/// `whoami` prints `Auth scheme: User` and then one `<scheme>: <id>` line per authenticated id.
/// Apache keeps a connection's ids in a hash set, so that order is not part of the contract:
/// sort each such block.
fn sort_whoami_blocks(lines: &mut [String]) {
    let is_id = |l: &str| {
        l.split_once(": ").is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    let mut i = 0;
    while i < lines.len() {
        if lines[i] == "Auth scheme: User" {
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && is_id(&lines[end]) && lines[end] != "Auth scheme: User" {
                end += 1;
            }
            lines[start..end].sort();
            i = end;
        } else {
            i += 1;
        }
    }
}

fn zkcli_command(connect: &str) -> Command {
    let mut cmd = Command::new(apache::zkcli_sh());
    cmd.arg("-server").arg(connect);
    // Faster JVM start-up; zkCli.sh appends $CLIENT_JVMFLAGS to the java command line.
    cmd.env(
        "CLIENT_JVMFLAGS",
        "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k",
    );
    cmd
}

fn run(mut cmd: Command, stdin_text: Option<&str>, timeout: Duration) -> Result<ZkCliRun> {
    let out_file = tempfile::NamedTempFile::new()?;
    let out = out_file.reopen()?;
    let err = out.try_clone()?;
    cmd.stdout(Stdio::from(out)).stderr(Stdio::from(err));
    cmd.stdin(if stdin_text.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().with_context(|| format!("spawning {:?}", cmd))?;
    if let Some(text) = stdin_text {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(text.as_bytes())?;
        // Dropping stdin closes it: zkCli exits at EOF.
    }
    let deadline = Deadline::after(timeout);
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if deadline.expired() {
            let _ = child.kill();
            let _ = child.wait();
            let mut raw = String::new();
            File::open(out_file.path())?.read_to_string(&mut raw)?;
            bail!("zkCli did not finish within {timeout:?}; output so far:\n{raw}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut raw = String::new();
    File::open(out_file.path())?.read_to_string(&mut raw)?;
    let (transcript, events, session_events) = parse_output(&raw);
    Ok(ZkCliRun {
        raw,
        transcript,
        events,
        session_events,
        status,
    })
}

/// Runs `script` (one command per line) in a single zkCli session, then `quit`.
pub fn run_script(connect: &str, script: &str) -> Result<ZkCliRun> {
    run_script_with(connect, script, &ZkCliOptions::default())
}

pub fn run_script_with(connect: &str, script: &str, opts: &ZkCliOptions) -> Result<ZkCliRun> {
    let mut text: String = script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    if opts.quit {
        text.push_str("quit\n");
    }
    run(zkcli_command(connect), Some(&text), opts.timeout)
}

/// Runs one command given as arguments (`zkCli.sh -server X cmd args...`, no stdin).
pub fn run_command(connect: &str, args: &[&str]) -> Result<ZkCliRun> {
    let mut cmd = zkcli_command(connect);
    cmd.args(args);
    run(cmd, None, ZkCliOptions::default().timeout)
}
