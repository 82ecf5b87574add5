"""Cross-process ZooKeeper test server harness (Python mirror of tests/src/server.rs).

Starts either our `zk-server` binary (ZK_IMPL=zkraft, the default) or Apache ZooKeeper 3.8 from
the Debian package (ZK_IMPL=apache, the oracle) on a free 127.0.0.1 port with a temp dataDir and
zoo.cfg, and polls the `srvr` four-letter word with a deadline until it serves.

Our binary: $ZKRAFT_ZK_SERVER, else <workspace>/target/release/zk-server.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

WORKSPACE = Path(__file__).resolve().parents[2]

ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar"
SLF4J_SIMPLE_JAR = "/usr/share/java/slf4j-simple.jar"
QUORUM_PEER_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
DEFAULT_4LW = ["srvr", "ruok", "stat", "mntr", "conf", "cons", "envi", "dump", "wchs", "wchc",
               "wchp", "dirs", "isro"]


def server_kind() -> str:
    v = os.environ.get("ZK_IMPL", "").strip().lower()
    if v in ("", "zkraft", "ours"):
        return "zkraft"
    if v in ("apache", "oracle", "zookeeper"):
        return "apache"
    raise ValueError(f"ZK_IMPL={v!r}: expected 'zkraft' or 'apache'")


def zkraft_binary() -> Path:
    p = os.environ.get("ZKRAFT_ZK_SERVER")
    if p:
        return Path(p)
    t = os.environ.get("CARGO_TARGET_DIR")
    if t and (Path(t) / "release" / "zk-server").is_file():
        return Path(t) / "release" / "zk-server"
    return WORKSPACE / "target" / "release" / "zk-server"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter_word(port: int, cmd: str, timeout: float = 5.0) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(cmd.encode())
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks).decode(errors="replace")


def wait_until(pred, timeout: float, what: str, interval: float = 0.01):
    """Polls pred() until it returns a truthy value (returned), or raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(interval * 2, 0.1)


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # Never outlive the test process.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class ServerOptions:
    tick_time_ms: int = 2000
    four_lw: list = field(default_factory=lambda: list(DEFAULT_4LW))
    super_digest: Optional[str] = None
    extended_types: bool = False
    data_dir: Optional[str] = None
    max_client_cnxns: Optional[int] = None
    min_session_timeout_ms: Optional[int] = None
    max_session_timeout_ms: Optional[int] = None
    snap_count: Optional[int] = None
    jute_maxbuffer: Optional[int] = None
    extra_cfg: list = field(default_factory=list)
    system_props: dict = field(default_factory=dict)
    startup_timeout: float = 30.0

    def sys_props(self) -> dict:
        p = {}
        if self.extended_types:
            p["zookeeper.extendedTypesEnabled"] = "true"
        if self.super_digest:
            p["zookeeper.DigestAuthenticationProvider.superDigest"] = self.super_digest
        if self.jute_maxbuffer is not None:
            p["jute.maxbuffer"] = str(self.jute_maxbuffer)
        p.update(self.system_props)
        return p

    def zoo_cfg(self, port: int, data_dir: str) -> str:
        words = ["srvr"] + [w for w in self.four_lw if w != "srvr"]
        lines = [
            f"tickTime={self.tick_time_ms}",
            f"dataDir={data_dir}",
            f"dataLogDir={data_dir}",
            f"clientPort={port}",
            "clientPortAddress=127.0.0.1",
            f"4lw.commands.whitelist={','.join(words)}",
        ]
        for key, val in (("maxClientCnxns", self.max_client_cnxns),
                         ("minSessionTimeout", self.min_session_timeout_ms),
                         ("maxSessionTimeout", self.max_session_timeout_ms),
                         ("snapCount", self.snap_count)):
            if val is not None:
                lines.append(f"{key}={val}")
        lines += [f"{k}={v}" for k, v in self.sys_props().items()]
        lines += list(self.extra_cfg)
        return "\n".join(lines) + "\n"


class TestServer:
    __test__ = False  # not a pytest test class

    def __init__(self, kind: Optional[str] = None, opts: Optional[ServerOptions] = None):
        self.kind = kind or server_kind()
        self.opts = opts or ServerOptions()
        self._tmp = tempfile.mkdtemp(prefix=f"zk-pytest-{self.kind}-")
        self.base = Path(self._tmp)
        self.data_dir = Path(self.opts.data_dir) if self.opts.data_dir else self.base / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cfg_path = self.base / "zoo.cfg"
        self.log_path = self.base / "server.log"
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0
        self._log_start = 0
        last = None
        for _ in range(4):
            self.port = free_port()
            try:
                self._spawn_and_wait()
                return
            except RuntimeError as e:
                if not self._port_in_use():
                    self.close()
                    raise
                last = e
        self.close()
        raise last

    # -- accessors ---------------------------------------------------------------------------
    @property
    def connect_string(self) -> str:
        return f"127.0.0.1:{self.port}"

    def four_letter_word(self, cmd: str) -> str:
        return four_letter_word(self.port, cmd)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- lifecycle ---------------------------------------------------------------------------
    def _command(self) -> list:
        if self.kind == "zkraft":
            binary = zkraft_binary()
            if not binary.is_file():
                raise RuntimeError(
                    f"zkraft server binary not found at {binary} (cargo build --release -p zk, "
                    "or set ZKRAFT_ZK_SERVER; ZK_IMPL=apache runs against Apache ZooKeeper)")
            return [str(binary), str(self.cfg_path)]
        cp = os.environ.get("ZK_APACHE_CLASSPATH") or (
            ZOOKEEPER_JAR + (":" + SLF4J_SIMPLE_JAR if os.path.exists(SLF4J_SIMPLE_JAR) else ""))
        cmd = [os.environ.get("ZK_JAVA", "java"), "-Xms32m", "-Xmx512m", "-XX:+UseSerialGC",
               "-XX:TieredStopAtLevel=1", "-Xss512k", "-Djava.net.preferIPv4Stack=true",
               "-Dzookeeper.admin.enableServer=false",
               "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
               "-Dorg.slf4j.simpleLogger.showDateTime=true",
               "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
               f"-Dzookeeper.log.dir={self.base}"]
        cmd += [f"-D{k}={v}" for k, v in self.opts.sys_props().items()]
        cmd += ["-cp", cp, QUORUM_PEER_MAIN, str(self.cfg_path)]
        return cmd

    def _spawn_and_wait(self):
        self.cfg_path.write_text(self.opts.zoo_cfg(self.port, str(self.data_dir)))
        cmd = self._command()
        with open(self.log_path, "ab") as log:
            self._log_start = log.tell()
            log.write(f"==== harness: starting {self.kind} on port {self.port} ====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.base,
                                         preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self.opts.startup_timeout
        interval = 0.02
        while True:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise RuntimeError(f"{self.kind} server exited during startup (rc={rc}); log:\n"
                                   + self.log_tail())
            try:
                if "Mode:" in four_letter_word(self.port, "srvr", timeout=2.0):
                    return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                self.kill9()
                raise RuntimeError(f"{self.kind} server did not answer srvr on port {self.port} "
                                   f"within {self.opts.startup_timeout}s; log:\n" + self.log_tail())
            time.sleep(interval)
            interval = min(interval * 2, 0.1)

    def _port_in_use(self) -> bool:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_start)
                text = f.read().decode(errors="replace")
        except OSError:
            return False
        return "Address already in use" in text or "BindException" in text

    def kill9(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=20)
            self.proc = None

    def stop(self) -> int:
        """SIGTERM and wait (20 s at most, then SIGKILL + error). Returns the exit code."""
        if self.proc is None:
            raise RuntimeError("server is not running")
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{self.kind} server did not exit within 20 s of SIGTERM")

    def restart(self):
        if self.is_running():
            self.stop()
        self.proc = None
        self._spawn_and_wait()

    def close(self):
        self.kill9()
        if os.environ.get("ZK_TEST_KEEP_DIRS"):
            return
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
