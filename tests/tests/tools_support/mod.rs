//! Running zkraft's operator tools (`target/release/zkraft`, or the bin/ wrappers) as processes,
//! with a deadline, capturing stdout and stderr (separately and interleaved).

#![allow(dead_code)]

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use tests::server::workspace_root;
use tests::Deadline;

/// How long one tool invocation may take.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(30);

/// The `zkraft` binary: `$ZKRAFT_TOOLS_BIN`, else `$CARGO_TARGET_DIR/release/zkraft`, else
/// `<workspace>/target/release/zkraft`. Building it is the test command's job.
pub fn zkraft_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("ZKRAFT_TOOLS_BIN") {
        return PathBuf::from(p);
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        let p = PathBuf::from(t).join("release/zkraft");
        if p.is_file() {
            return p;
        }
    }
    workspace_root().join("target/release/zkraft")
}

/// A bin/ wrapper script, told where the binary is.
pub fn wrapper(name: &str) -> Command {
    let mut c = Command::new(workspace_root().join("bin").join(name));
    let bin = zkraft_bin();
    if let Some(dir) = bin.parent() {
        c.env("ZKRAFT_BIN_DIR", dir);
    }
    c
}

/// `zkraft <tool> args...`.
pub fn tool(name: &str) -> Command {
    let mut c = Command::new(zkraft_bin());
    c.arg(name);
    c
}

/// What a finished tool printed and its exit code.
#[derive(Debug)]
pub struct Out {
    pub stdout: String,
    pub stderr: String,
    /// stdout and stderr as one stream, in write order.
    pub both: String,
    pub code: i32,
}

fn read(f: &tempfile::NamedTempFile) -> String {
    let mut s = String::new();
    File::open(f.path())
        .and_then(|mut h| h.read_to_string(&mut s))
        .expect("read tool output");
    s
}

/// Runs `cmd` with `stdin` text; stdout and stderr go to separate files (and, in a second run
/// only if `interleaved`, to one file). Fails the test if it does not finish in time.
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Out {
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let err = tempfile::NamedTempFile::new().expect("temp file");
    cmd.stdout(Stdio::from(out.reopen().expect("reopen")))
        .stderr(Stdio::from(err.reopen().expect("reopen")));
    let code = spawn_and_wait(cmd, stdin);
    Out {
        stdout: read(&out),
        stderr: read(&err),
        both: String::new(),
        code,
    }
}

/// Like [`run`], but stdout and stderr share one file so their order is kept.
pub fn run_interleaved(mut cmd: Command, stdin: Option<&str>) -> Out {
    let both = tempfile::NamedTempFile::new().expect("temp file");
    let f = both.reopen().expect("reopen");
    cmd.stdout(Stdio::from(f.try_clone().expect("clone")))
        .stderr(Stdio::from(f));
    let code = spawn_and_wait(cmd, stdin);
    Out {
        stdout: String::new(),
        stderr: String::new(),
        both: read(&both),
        code,
    }
}

fn spawn_and_wait(mut cmd: Command, stdin: Option<&str>) -> i32 {
    use std::io::Write;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    let deadline = Deadline::after(TOOL_TIMEOUT);
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st.code().unwrap_or(-1);
        }
        if deadline.expired() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {TOOL_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs every case of a test even when earlier ones fail, then fails with all of them, so one
/// run tells every difference from upstream at once.
pub struct Cases {
    what: &'static str,
    failures: Vec<String>,
}

impl Cases {
    /// `what` names the cases in the final message ("case(s) differ from upstream").
    pub fn new(what: &'static str) -> Cases {
        Cases {
            what,
            failures: Vec::new(),
        }
    }

    pub fn case(&mut self, name: &str, body: impl FnOnce()) {
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "<non-string panic>".into());
            self.failures.push(format!("[{name}] {msg}"));
        }
    }

    pub fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{} {}:\n{}",
            self.failures.len(),
            self.what,
            self.failures.join("\n")
        );
    }
}
