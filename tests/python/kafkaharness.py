"""Kafka broker processes (zkraft's kafka-server) for the pytest suites: where the binary
is, and a restartable broker with its own log dir on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient

from zkharness import WORKSPACE, _die_with_parent, free_port, wait_until


def kafka_server_binary() -> Path:
    p = os.environ.get("ZKRAFT_KAFKA_SERVER")
    if p:
        return Path(p)
    t = os.environ.get("CARGO_TARGET_DIR")
    if t and (Path(t) / "release" / "kafka-server").is_file():
        return Path(t) / "release" / "kafka-server"
    return WORKSPACE / "target" / "release" / "kafka-server"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Broker:
    """A kafka-server process with a given broker.id and its own log dir, restartable on the
    same port."""

    def __init__(self, zk_connect: str, broker_id: int = 0):
        self.zk_connect = zk_connect
        self.broker_id = broker_id
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="kafka-pytest-")
        self.log_path = Path(self.tmp) / "broker.log"
        self.proc = None
        self.start()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self):
        binary = kafka_server_binary()
        if not binary.is_file():
            raise RuntimeError(f"kafka-server not built at {binary} (cargo build --release -p broker)")
        overrides = {
            "broker.id": str(self.broker_id),
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "log.dirs": f"{self.tmp}/kafka-logs",
            "zookeeper.connect": self.zk_connect,
            "zookeeper.session.timeout.ms": "6000",
            "group.initial.rebalance.delay.ms": "0",
            "offsets.topic.num.partitions": "5",
        }
        cmd = [str(binary), str(WORKSPACE / "config" / "server.properties")]
        for k, v in overrides.items():
            cmd += ["--override", f"{k}={v}"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        admin = AdminClient({"bootstrap.servers": self.bootstrap})

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("kafka-server exited during startup:\n" + self.log_tail())
            try:
                md = admin.list_topics(timeout=2)
            except Exception:
                return False
            return md.controller_id >= 0 and self.broker_id in md.brokers

        wait_until(ready, 30.0, f"broker {self.broker_id} serving metadata with a controller")

    def stop(self) -> int:
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=30)

    def kill9(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=20)
            self.proc = None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""
