//! Driving the C client shell `cli_mt` (Debian `zookeeper-bin`) interactively.
//!
//! cli_mt issues most commands asynchronously and prints their completions (to stderr) from the
//! client's completion thread; at EOF on stdin it closes the session at once, cancelling whatever
//! is still pending. So it is driven like `expect`: write one command, then wait (with a
//! deadline) for the line that completes it, and only then write the next.
//!
//! What cli_mt 3.8 prints (all on stderr unless noted; `rc` is the ZooKeeper error code, e.g.
//! -101 ZNONODE, -102 ZNOAUTH, -110 ZNODEEXISTS, -111 ZNOTEMPTY):
//! - `create [+[e|s|c|t=ttl]] /p`: `Creating [/p] node (mode: M)`, then `[/p]: rc = 0` and
//!   `\tname = /p0000000001`. The node data is always `new`.
//! - `set /p data`: `/p: rc = 0 Stat:` + stat dump.
//! - `get /p` (sets a watch): `time = N msec`, `/p: rc = 0`, ` value_len = 3`, the value, `Stat:`,
//!   stat dump (`\tctime = ...`, `\tczxid=..`, `\tmtime=..`, `\tmzxid=..`, `\tversion=1\taversion=0`,
//!   `\tephemeralOwner = 0`).
//! - `ls /p` (sets a watch): `time = N msec`, `/p: rc = 0`, one `\t<child>` line each,
//!   `time = N msec`. `ls2` adds a stat dump.
//! - `delete /p`: `/p: rc = 0`. `sync /p`: `[/p]: rc = 0`, `\tname = /p`.
//! - `exists`/`wexists` are synchronous and print only failures: `Error -101 for /p`.
//! - watches: `Watcher CHANGED_EVENT state = CONNECTED_STATE for path /p`.
//! - `myid`: `session Id = <hex>` on STDOUT. `quit`: `Quitting...`.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::apache;
use crate::wait::Deadline;

/// Default time to wait for one expected line.
pub const EXPECT_TIMEOUT: Duration = Duration::from_secs(20);

pub struct CliMt {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<String>>,
    cursor: usize,
    reader: Option<std::thread::JoinHandle<()>>,
    session_id: Option<String>,
}

impl CliMt {
    /// Starts `cli_mt -h <connect>` and waits for the session to be established.
    pub fn start(connect: &str) -> Result<CliMt> {
        let (mut reader, writer) = std::io::pipe()?;
        let writer2 = writer.try_clone()?;
        let bin = apache::cli_mt();
        // stdout (only `myid` uses it) is block-buffered on a pipe; stdbuf makes it line buffered.
        let mut cmd = if std::path::Path::new("/usr/bin/stdbuf").exists() {
            let mut c = Command::new("/usr/bin/stdbuf");
            c.arg("-oL").arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        cmd.arg("-h").arg(connect);
        cmd.stdin(Stdio::piped()).stdout(writer).stderr(writer2);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?;
        drop(cmd); // closes our copies of the pipe's write end
        let stdin = child.stdin.take();
        let out = Arc::new(Mutex::new(String::new()));
        let out2 = out.clone();
        let reader_thread = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out2
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        });
        let mut cli = CliMt {
            child,
            stdin,
            out,
            cursor: 0,
            reader: Some(reader_thread),
            session_id: None,
        };
        let got = cli.expect("Got a new session id: ")?;
        cli.session_id = got
            .lines()
            .find_map(|l| l.split("Got a new session id: ").nth(1))
            .map(|s| s.trim().to_string());
        Ok(cli)
    }

    /// The session id as cli_mt printed it (`0x...`).
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// Writes one command line.
    pub fn send(&mut self, line: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().context("cli_mt stdin already closed")?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()?;
        Ok(())
    }

    /// Waits until a complete line containing `needle` appears after the cursor; returns the
    /// output from the cursor up to and including that line, and moves the cursor past it.
    pub fn expect(&mut self, needle: &str) -> Result<String> {
        self.expect_within(needle, EXPECT_TIMEOUT)
    }

    pub fn expect_within(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Deadline::after(timeout);
        loop {
            {
                let out = self.out.lock().unwrap();
                let rest = &out[self.cursor..];
                if let Some(pos) = rest.find(needle) {
                    if let Some(nl) = rest[pos..].find('\n') {
                        let end = pos + nl + 1;
                        let chunk = rest[..end].to_string();
                        drop(out);
                        self.cursor += end;
                        return Ok(chunk);
                    }
                }
            }
            if deadline.expired() {
                let out = self.out.lock().unwrap();
                bail!(
                    "cli_mt: timed out after {timeout:?} waiting for {needle:?}; pending output:\n{}\n---- full output ----\n{}",
                    &out[self.cursor..],
                    *out
                );
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                // Give the reader thread a moment to drain, then check one last time.
                if let Some(h) = self.reader.take() {
                    let _ = h.join();
                }
                let out = self.out.lock().unwrap();
                if !out[self.cursor..].contains(needle) {
                    bail!(
                        "cli_mt exited ({st}) before printing {needle:?}; output:\n{}",
                        *out
                    );
                }
                continue;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `line` and waits for each of `needles` in turn; returns the output consumed.
    pub fn run(&mut self, line: &str, needles: &[&str]) -> Result<String> {
        self.send(line)?;
        let mut got = String::new();
        for n in needles {
            got.push_str(
                &self
                    .expect(n)
                    .with_context(|| format!("after command {line:?}"))?,
            );
        }
        Ok(got)
    }

    /// All node watch notifications printed so far, in order, as `"<TYPE> <path>"` (e.g.
    /// `"CHANGED_EVENT /w"`); session events are left out. Call it after a barrier (e.g. a `sync`
    /// completion): notifications are delivered before later completions.
    pub fn events(&self) -> Vec<String> {
        self.output()
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Watcher "))
            .filter(|l| !l.starts_with("SESSION_EVENT"))
            .map(|l| {
                let ty = l.split_whitespace().next().unwrap_or("");
                let path = l.split(" for path ").nth(1).unwrap_or("");
                format!("{ty} {path}")
            })
            .collect()
    }

    /// Output not yet consumed by `expect`.
    pub fn pending(&self) -> String {
        self.out.lock().unwrap()[self.cursor..].to_string()
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Sends `quit` and waits (bounded) for the process to exit; returns the full output.
    pub fn quit(mut self) -> Result<String> {
        self.send("quit")?;
        self.stdin = None;
        let deadline = Deadline::after(Duration::from_secs(20));
        loop {
            if let Some(st) = self.child.try_wait()? {
                if let Some(h) = self.reader.take() {
                    let _ = h.join();
                }
                let out = self.output();
                if !st.success() {
                    bail!("cli_mt exited with {st}; output:\n{out}");
                }
                return Ok(out);
            }
            if deadline.expired() {
                bail!("cli_mt did not exit after quit; output:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for CliMt {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- cli_mt output ----\n{}\n----", self.output());
        }
    }
}

/// Parses a completion line such as `[/p]: rc = 0`, `/p: rc = -101` or `/p: rc = 0 Stat:` out of
/// `chunk`, returning the rc of the first line that mentions `path`.
pub fn rc_for(chunk: &str, path: &str) -> Option<i32> {
    for line in chunk.lines() {
        let l = line.trim();
        let rest = l
            .strip_prefix(&format!("[{path}]: rc = "))
            .or_else(|| l.strip_prefix(&format!("{path}: rc = ")));
        if let Some(rest) = rest {
            let num: String = rest
                .chars()
                .take_while(|c| *c == '-' || c.is_ascii_digit())
                .collect();
            return num.parse().ok();
        }
    }
    None
}
