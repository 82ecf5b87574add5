#!/usr/bin/env python3
"""By-hand Kafka broker benchmark: zkraft (zk-server + kafka-server) against tansu, driven by
librdkafka's own rdkafka_performance, in one run on one machine.

For every repetition and every server (alternating, so drifting background load hits both):
fresh data directory, start the server(s), create a topic per workload through the Admin API
(confluent-kafka, also librdkafka), produce N records of S bytes with rdkafka_performance -P
(acks=all, per-message delivery latency with -l/-A), then consume all of them from the
beginning with rdkafka_performance -C. The servers' VmRSS is sampled every 100 ms and their CPU
time read from /proc around each phase. The table printed at the end shows the median over the
repetitions. Normally started through run.sh, which builds/installs the tools first.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("BENCH_TOOLS", "/work/bench-tools"))


def log(msg: str) -> None:
    print(f"[kafka-bench] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout: float, what: str, proc_check=None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc_check:
            proc_check()
        if cond():
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def proc_status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_seconds(pid: int) -> float:
    """user + system CPU time of the process (all threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class RssSampler:
    """Samples the summed VmRSS of a set of pids every 100 ms; keeps the peak."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.peak_kib = 0
        self.peak_by_pid = {p: 0 for p in pids}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for p in self.pids:
                v = proc_status_kib(p, "VmRSS")
                self.peak_by_pid[p] = max(self.peak_by_pid[p], v)
                total += v
            self.peak_kib = max(self.peak_kib, total)
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._t.join()


def children_cpu() -> float:
    """CPU seconds used by waited-for child processes (the rdkafka_performance runs)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def spawn(cmd: list[str], cwd: Path, log_path: Path, env=None) -> subprocess.Popen:
    with open(log_path, "ab") as out:
        return subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop_proc(p: subprocess.Popen | None, timeout: float = 30) -> None:
    if p is None or p.poll() is not None:
        return
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def zk_ruok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"ruok")
            return s.recv(4) == b"imok"
    except OSError:
        return False


def broker_ready(bootstrap: str) -> bool:
    from confluent_kafka.admin import AdminClient

    host, port = bootstrap.rsplit(":", 1)
    try:
        # Not listening yet: say so without librdkafka's connection-refused log lines.
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    try:
        md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2)
    except Exception:
        return False
    return len(md.brokers) > 0


# ---------------------------------------------------------------------------------------------
# Servers


class Server:
    name = ""
    procs: list[subprocess.Popen]

    def __init__(self, args, workdir: Path):
        self.args = args
        self.dir = workdir
        self.port = free_port()
        self.procs = []
        self.logs: list[Path] = []

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def check_alive(self) -> None:
        for p, lp in zip(self.procs, self.logs):
            if p.poll() is not None:
                raise RuntimeError(f"{self.name}: {p.args[0]} exited ({p.returncode}):\n{tail(lp)}")

    def cpu(self) -> float:
        return sum(proc_cpu_seconds(p) for p in self.pids())

    def hwm_kib(self) -> int:
        return sum(proc_status_kib(p, "VmHWM") for p in self.pids())

    def stop(self) -> None:
        # The broker before its ZooKeeper, as the stop scripts do.
        for p in reversed(self.procs):
            stop_proc(p)


class Zkraft(Server):
    name = "zkraft"

    def describe(self) -> str:
        return ("zk-server (standalone, fsync on, snapCount default) + kafka-server "
                "(broker.id 0, RF 1, log.dirs on disk, Kafka's flush defaults)")

    def start(self) -> None:
        bindir = Path(self.args.bin_dir)
        zk_port = free_port()
        (self.dir / "zookeeper").mkdir()
        (self.dir / "kafka-logs").mkdir()
        (self.dir / "zoo.cfg").write_text(
            "tickTime=2000\n"
            f"dataDir={self.dir}/zookeeper\n"
            f"clientPort={zk_port}\n"
            "clientPortAddress=127.0.0.1\n"
            "maxClientCnxns=60\n"
            "4lw.commands.whitelist=ruok,srvr\n"
            "admin.enableServer=false\n")
        # Only what a single-broker setup needs; everything else is Kafka's default (in
        # particular log.flush.interval.messages/ms: never fsync per produce, as Kafka).
        (self.dir / "server.properties").write_text(
            "broker.id=0\n"
            f"listeners=PLAINTEXT://127.0.0.1:{self.port}\n"
            f"log.dirs={self.dir}/kafka-logs\n"
            f"zookeeper.connect=127.0.0.1:{zk_port}\n"
            "num.partitions=3\n"
            "default.replication.factor=1\n"
            "offsets.topic.replication.factor=1\n"
            "transaction.state.log.replication.factor=1\n"
            "transaction.state.log.min.isr=1\n"
            "group.initial.rebalance.delay.ms=0\n")
        env = dict(os.environ)
        env.setdefault("ZKRAFT_LOG", "info")
        zk_log = self.dir / "zk.log"
        self.procs.append(spawn([str(bindir / "zk-server"), str(self.dir / "zoo.cfg")],
                                self.dir, zk_log, env))
        self.logs.append(zk_log)
        wait_until(lambda: zk_ruok(zk_port), 30, "zk-server ruok", self.check_alive)
        b_log = self.dir / "broker.log"
        self.procs.append(spawn([str(bindir / "kafka-server"),
                                 str(self.dir / "server.properties")], self.dir, b_log, env))
        self.logs.append(b_log)
        wait_until(lambda: broker_ready(self.bootstrap), 60, "kafka-server metadata",
                   self.check_alive)

    def commands(self) -> list[str]:
        bindir = Path(self.args.bin_dir)
        return [f"{bindir}/zk-server zoo.cfg", f"{bindir}/kafka-server server.properties"]


class Tansu(Server):
    """tansu with its SQLite storage engine: the one that keeps data on local disk without
    another server (the others are PostgreSQL, S3 and memory)."""

    name = "tansu"

    def describe(self) -> str:
        return ("tansu broker, storage sqlite://tansu.db (libSQL file on local disk, WAL "
                "journal, synchronous=NORMAL)")

    def storage_url(self) -> str:
        return "sqlite://tansu.db"

    def cmd(self) -> list[str]:
        return [self.args.tansu, "broker",
                "--listener-url", f"tcp://127.0.0.1:{self.port}",
                "--advertised-listener-url", f"tcp://127.0.0.1:{self.port}",
                "--storage-engine", self.storage_url()]

    def start(self) -> None:
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "warn")
        lp = self.dir / "tansu.log"
        # sqlite:// paths are relative to the working directory.
        self.procs.append(spawn(self.cmd(), self.dir, lp, env))
        self.logs.append(lp)
        wait_until(lambda: broker_ready(self.bootstrap), 60, "tansu metadata", self.check_alive)

    def commands(self) -> list[str]:
        return [" ".join(self.cmd()).replace(f"127.0.0.1:{self.port}", "127.0.0.1:PORT")]


class TansuMemory(Tansu):
    """tansu's default storage engine: everything in process memory, nothing on disk."""

    name = "tansu-memory"

    def describe(self) -> str:
        return "tansu broker, storage memory://tansu/ (in process memory, nothing on disk)"

    def storage_url(self) -> str:
        return "memory://tansu/"


SERVERS = {"zkraft": Zkraft, "tansu": Tansu, "tansu-memory": TansuMemory}


# ---------------------------------------------------------------------------------------------
# Workload


@dataclass
class Workload:
    count: int
    size: int
    # Records/s the producer is held to (0: as fast as it can); a rate-limited workload only
    # measures produce latency below saturation and consumes nothing.
    rate: int = 0

    @property
    def label(self) -> str:
        size = f"{self.size // 1024} KiB" if self.size % 1024 == 0 else f"{self.size} B"
        if self.rate:
            return f"{self.count:,} × {size} at {self.rate:,}/s"
        return f"{self.count:,} × {size}"


@dataclass
class Result:
    server: str
    workload: Workload
    rep: int
    windex: int = 0  # position in --workloads (the same workload may be listed twice)
    prod_msgs: int = 0
    prod_bytes: int = 0
    prod_ms: float = 0
    prod_failed: int = 0
    lat_p50_ms: float = 0
    lat_p99_ms: float = 0
    lat_max_ms: float = 0
    cons_msgs: int = 0
    cons_bytes: int = 0
    cons_ms: float = 0
    prod_cpu: float = 0
    cons_cpu: float = 0
    prod_client_cpu: float = 0
    cons_client_cpu: float = 0
    rss_peak_kib: int = 0
    rss_by_proc: dict = field(default_factory=dict)

    @property
    def prod_rps(self) -> float:
        return self.prod_msgs / (self.prod_ms / 1000) if self.prod_ms else 0

    @property
    def prod_mbps(self) -> float:
        return self.prod_bytes / 1e6 / (self.prod_ms / 1000) if self.prod_ms else 0

    @property
    def cons_rps(self) -> float:
        return self.cons_msgs / (self.cons_ms / 1000) if self.cons_ms else 0

    @property
    def cons_mbps(self) -> float:
        return self.cons_bytes / 1e6 / (self.cons_ms / 1000) if self.cons_ms else 0


PROD_RE = re.compile(r"% (\d+) messages produced \((\d+) bytes\), (\d+) delivered "
                     r"\(offset -?\d+, (\d+) failed\) in (\d+)ms")
CONS_RE = re.compile(r"% (\d+) messages \((\d+) bytes\) consumed in (\d+)ms")


def run_client(cmd: list[str], timeout: float, out_path: Path) -> str:
    with open(out_path, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    with open(out_path, "a") as f:
        f.write(p.stdout + p.stderr + f"(exit {p.returncode})\n")
    if p.returncode != 0:
        raise RuntimeError(f"client failed ({p.returncode}): {' '.join(cmd)}\n"
                           + "\n".join((p.stdout + p.stderr).splitlines()[-20:]))
    return p.stdout


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                              operation_timeout=30)
    fut[topic].result(timeout=60)

    def ready():
        md = admin.list_topics(topic=topic, timeout=5)
        t = md.topics.get(topic)
        return (t is not None and t.error is None and len(t.partitions) == partitions
                and all(p.leader >= 0 for p in t.partitions.values()))

    wait_until(ready, 30, f"topic {topic} with {partitions} partitions and leaders")


def percentile(sorted_vals: list[int], q: float) -> float:
    if not sorted_vals:
        return 0.0
    i = min(len(sorted_vals) - 1, max(0, int(round(q * len(sorted_vals))) - 1))
    return float(sorted_vals[i])


def run_workload(args, server: Server, w: Workload, rep: int, out_path: Path) -> Result:
    r = Result(server.name, w, rep)
    topic = f"bench-{w.count}x{w.size}r{w.rate}-r{rep}-{os.urandom(3).hex()}"
    create_topic(server.bootstrap, topic, args.partitions)
    lat_file = server.dir / f"latency-{topic}.txt"
    # librdkafka 2.x drops the bootstrap connection once it learns the broker's id and, with
    # sparse connections, sometimes connects to the learned broker only ~0.5 s later (seen
    # against zkraft); connecting eagerly keeps that start-up gap out of every server's timings.
    common = ["-t", topic, "-b", server.bootstrap, "-X", "enable.sparse.connections=false"]
    prod = [args.perf, "-P", *common, "-s", str(w.size), "-c", str(w.count), "-a", "-1",
            "-z", args.compression, "-X", f"linger.ms={args.linger_ms}",
            "-l", "-A", str(lat_file), "-i", "60000"]
    if w.rate:
        prod += ["-r", str(w.rate)]
    prod += args.producer_extra
    cpu0, ccpu0 = server.cpu(), children_cpu()
    out = run_client(prod, args.client_timeout, out_path)
    r.prod_cpu, r.prod_client_cpu = server.cpu() - cpu0, children_cpu() - ccpu0
    m = PROD_RE.findall(out)
    if not m:
        raise RuntimeError("no producer summary in rdkafka_performance output:\n" + out[-2000:])
    msgs, _bytes, delivered, failed, ms = map(int, m[-1])
    if failed or delivered != w.count:
        raise RuntimeError(f"{server.name}: {delivered} of {w.count} delivered, {failed} failed")
    r.prod_msgs, r.prod_bytes, r.prod_ms = delivered, delivered * w.size, max(ms, 1)
    r.prod_failed = failed
    lat_lines = [int(x) for x in lat_file.read_text().split()]
    lats = sorted(lat_lines)
    lat_file.unlink()
    if len(lats) != w.count:
        raise RuntimeError(f"{len(lats)} latency samples for {w.count} records")
    if w.rate:
        # The first second's records wait for the client's bootstrap (connection, metadata);
        # delivery reports arrive in about production order, so drop the first `rate` lines.
        lats = lat_lines[w.rate:] if len(lat_lines) > 2 * w.rate else lat_lines
        lats.sort()
    r.lat_p50_ms = percentile(lats, 0.50) / 1000
    r.lat_p99_ms = percentile(lats, 0.99) / 1000
    r.lat_max_ms = lats[-1] / 1000
    if w.rate:
        return r
    parts = []
    for p in range(args.partitions):
        parts += ["-p", str(p)]
    cons = [args.perf, "-C", *common, *parts, "-o", "beginning", "-c", str(w.count),
            "-i", "60000"]
    cpu0, ccpu0 = server.cpu(), children_cpu()
    out = run_client(cons, args.client_timeout, out_path)
    r.cons_cpu, r.cons_client_cpu = server.cpu() - cpu0, children_cpu() - ccpu0
    m = CONS_RE.findall(out)
    if not m:
        raise RuntimeError("no consumer summary in rdkafka_performance output:\n" + out[-2000:])
    cmsgs, cbytes, cms = map(int, m[-1])
    if cmsgs != w.count:
        raise RuntimeError(f"{server.name}: consumed {cmsgs} of {w.count}")
    r.cons_msgs, r.cons_bytes, r.cons_ms = cmsgs, cbytes, max(cms, 1)
    return r


def run_server(args, cls, rep: int, out_path: Path) -> list[Result]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{cls.name}-r{rep}-", dir=args.data_root))
    server = cls(args, workdir)
    results = []
    sampler = None
    try:
        log(f"rep {rep}: starting {server.name} in {workdir}")
        server.start()
        time.sleep(0.5)
        sampler = RssSampler(server.pids())
        for i, w in enumerate(args.workloads):
            log(f"rep {rep}: {server.name}: {w.label} records")
            r = run_workload(args, server, w, rep, out_path)
            r.windex = i
            log(f"rep {rep}: {server.name}: {w.label}: produce {r.prod_rps:,.0f} rec/s "
                f"{r.prod_mbps:.1f} MB/s p99 {r.lat_p99_ms:.1f} ms; consume {r.cons_rps:,.0f} rec/s "
                f"{r.cons_mbps:.1f} MB/s")
            results.append(r)
        sampler.stop()
        names = [Path(p.args[0]).name for p in server.procs]
        for r in results:
            r.rss_peak_kib = max(sampler.peak_kib, 0)
            r.rss_by_proc = {n: sampler.peak_by_pid[p] for n, p in zip(names, server.pids())}
        du = sum(f.stat().st_blocks * 512 for f in workdir.rglob("*") if f.is_file())
        log(f"rep {rep}: {server.name}: peak RSS {sampler.peak_kib / 1024:.1f} MiB "
            f"({', '.join(f'{n} {v / 1024:.1f}' for n, v in results[0].rss_by_proc.items())}), "
            f"VmHWM {server.hwm_kib() / 1024:.1f} MiB, data dir {du / 1e6:.0f} MB")
    finally:
        if sampler:
            sampler.stop()
        server.stop()
        if not args.keep_dirs:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


# ---------------------------------------------------------------------------------------------
# Report


def med(vals):
    return statistics.median(vals) if vals else 0.0


def fmt_ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "n/a"


def report(args, results: list[Result], started: str, load_start: str, load_end: str,
           versions: dict, commands: dict) -> str:
    out = []
    servers = [s for s in args.servers]
    out.append(f"## Kafka broker benchmark, {started}\n")
    out.append("```")
    out.append(" ".join([sys.argv[0]] + sys.argv[1:]))
    out.append("```\n")
    for k, v in versions.items():
        out.append(f"- {k}: {v}")
    out.append(f"- load average at start: {load_start}; at end: {load_end}")
    out.append(f"- workload: topic with {args.partitions} partitions (RF 1), producer "
               f"rdkafka_performance -P -a -1 (acks=all) -z {args.compression} "
               f"linger.ms={args.linger_ms}, random partitioner; consumer rdkafka_performance -C "
               f"from the beginning of all partitions; {args.reps} repetition(s), medians shown")
    for s in servers:
        out.append(f"- {s}: {commands[s]['describe']}; `{'`, `'.join(commands[s]['cmd'])}`")
    out.append("")
    hdr = ["workload", "metric"] + servers
    peers = [s for s in servers[1:]]
    hdr += [f"{servers[0]}/{p}" for p in peers]
    out.append("| " + " | ".join(hdr) + " |")
    out.append("|" + "---|" * 2 + "---:|" * (len(hdr) - 2))
    metrics = [
        ("produce records/s", lambda r: r.prod_rps, "{:,.0f}"),
        ("produce MB/s", lambda r: r.prod_mbps, "{:.1f}"),
        ("produce p50 latency ms", lambda r: r.lat_p50_ms, "{:.1f}"),
        ("produce p99 latency ms", lambda r: r.lat_p99_ms, "{:.1f}"),
        ("produce max latency ms", lambda r: r.lat_max_ms, "{:.1f}"),
        ("consume records/s", lambda r: r.cons_rps, "{:,.0f}"),
        ("consume MB/s", lambda r: r.cons_mbps, "{:.1f}"),
        ("server CPU s, produce", lambda r: r.prod_cpu, "{:.2f}"),
        ("server CPU s, consume", lambda r: r.cons_cpu, "{:.2f}"),
        ("client CPU s, produce", lambda r: r.prod_client_cpu, "{:.2f}"),
        ("client CPU s, consume", lambda r: r.cons_client_cpu, "{:.2f}"),
        ("peak RSS MiB (all server processes)", lambda r: r.rss_peak_kib / 1024, "{:.1f}"),
    ]
    rate_metrics = {"produce p50 latency ms", "produce p99 latency ms",
                    "produce max latency ms", "server CPU s, produce",
                    "client CPU s, produce"}
    for i, w in enumerate(args.workloads):
        for name, fn, f in metrics:
            if w.rate and name not in rate_metrics:
                continue
            row = [w.label, name]
            vals = []
            for s in servers:
                v = med([fn(r) for r in results if r.server == s and r.windex == i])
                vals.append(v)
                row.append(f.format(v))
            row += [fmt_ratio(vals[0], v) for v in vals[1:]]
            out.append("| " + " | ".join(row) + " |")
    out.append("")
    out.append("Per repetition (produce rec/s, p99 ms, consume rec/s, peak RSS MiB by process):\n")
    for r in results:
        procs = ", ".join(f"{n} {v / 1024:.1f}" for n, v in r.rss_by_proc.items())
        cons = "" if r.workload.rate else \
            f"consume {r.cons_rps:,.0f}/s ({r.cons_ms:.0f} ms); "
        out.append(f"- rep {r.rep} {r.server} {r.workload.label}: produce {r.prod_rps:,.0f}/s "
                   f"({r.prod_ms:.0f} ms), p50/p99/max {r.lat_p50_ms:.1f}/{r.lat_p99_ms:.1f}/"
                   f"{r.lat_max_ms:.1f} ms; {cons}RSS {procs}")
    return "\n".join(out) + "\n"


def parse_workload(s: str) -> Workload:
    m = re.fullmatch(r"(\d+)x(\d+)(?:@(\d+))?", s.strip())
    if not m:
        raise argparse.ArgumentTypeError(
            f"workload '{s}': expected COUNTxSIZE[@RATE], e.g. 1000000x100 or 50000x100@10000")
    return Workload(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default="zkraft,tansu,tansu-memory",
                    help="comma-separated, in order: zkraft, tansu (SQLite storage on disk), "
                         "tansu-memory (default: all three)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions (default 3; median shown)")
    ap.add_argument("--workloads", default="1000000x100,200000x1024,5000x100@1000",
                    help="comma-separated COUNTxSIZE[@RATE]: records, bytes each, producer "
                         "rate limit in records/s for a latency-only run (default "
                         "1000000x100,200000x1024,5000x100@1000)")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--linger-ms", type=int, default=5)
    ap.add_argument("--compression", default="none", help="none|gzip|snappy|lz4|zstd")
    ap.add_argument("--bin-dir", default=os.environ.get("ZKRAFT_BIN_DIR",
                                                          str(REPO / "target" / "release")),
                    help="directory with zk-server and kafka-server (env ZKRAFT_BIN_DIR)")
    ap.add_argument("--tansu", default=os.environ.get("TANSU_BIN",
                                                       str(TOOLS / "tansu" / "bin" / "tansu")))
    ap.add_argument("--perf", default=os.environ.get(
        "RDKAFKA_PERFORMANCE", str(TOOLS / "rdkafka-2.12.1" / "rdkafka_performance")))
    ap.add_argument("--data-root", default=str(REPO / "target" / "kafka-bench"))
    ap.add_argument("--keep-dirs", action="store_true")
    ap.add_argument("--client-timeout", type=float, default=600)
    ap.add_argument("--producer-extra", nargs=argparse.REMAINDER, default=[],
                    help="extra rdkafka_performance producer args (must be last)")
    args = ap.parse_args()
    # Servers run in their own sessions; turn SIGTERM into an exception so the finally
    # blocks stop them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    for s in args.servers:
        if s not in SERVERS:
            ap.error(f"unknown server {s} ({', '.join(SERVERS)})")
    args.workloads = [parse_workload(s) for s in args.workloads.split(",")]
    if "zkraft" in args.servers:
        for b in ("zk-server", "kafka-server"):
            if not (Path(args.bin_dir) / b).is_file():
                ap.error(f"{args.bin_dir}/{b} missing: cargo build --release -p zk -p broker "
                         "(or --bin-dir / ZKRAFT_BIN_DIR)")
    tansus = [s for s in args.servers if s.startswith("tansu")]
    if tansus and not Path(args.tansu).is_file():
        ap.error(f"tansu not found at {args.tansu} (run.sh installs it)")
    if not Path(args.perf).is_file():
        ap.error(f"rdkafka_performance not found at {args.perf} (run.sh builds it)")
    Path(args.data_root).mkdir(parents=True, exist_ok=True)
    fstype = subprocess.run(["stat", "-f", "-c", "%T", args.data_root], capture_output=True,
                            text=True).stdout.strip()
    if fstype in ("tmpfs", "ramfs"):
        log(f"WARNING: data root {args.data_root} is on {fstype}: nothing reaches a disk")

    import confluent_kafka

    pv = subprocess.run([args.perf, "-h"], capture_output=True, text=True)
    perf_ver = pv.stdout + pv.stderr
    m = re.search(r"librdkafka version (\S+)", perf_ver)
    versions = {
        "client": f"rdkafka_performance (librdkafka {m.group(1) if m else '?'}), topic admin "
                  f"through confluent-kafka {confluent_kafka.version()} (librdkafka "
                  f"{confluent_kafka.libversion()[0]})",
        "machine": f"{os.cpu_count()} CPUs, {os.uname().release}, data root {args.data_root} "
                   f"({fstype})",
    }
    if tansus:
        tv = subprocess.run([args.tansu, "--version"], capture_output=True, text=True)
        versions["tansu"] = f"{tv.stdout.strip() or tv.stderr.strip()} ({args.tansu})"
    if "zkraft" in args.servers:
        git = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %cs"],
                             capture_output=True, text=True).stdout.strip()
        versions["zkraft"] = f"binaries from {args.bin_dir} (repo at {git})"

    out_path = Path(args.data_root) / "client-output.log"
    out_path.write_text("")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_start = open("/proc/loadavg").read().split()[:3]
    results: list[Result] = []
    commands = {}
    for rep in range(1, args.reps + 1):
        for s in args.servers:
            cls = SERVERS[s]
            probe = cls(args, Path(args.data_root))
            commands[s] = {"describe": probe.describe(), "cmd": probe.commands()}
            results += run_server(args, cls, rep, out_path)
    load_end = open("/proc/loadavg").read().split()[:3]
    print(report(args, results, started, " ".join(load_start), " ".join(load_end), versions,
                 commands))
    log(f"client output in {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
