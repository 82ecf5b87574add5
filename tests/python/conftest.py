"""pytest fixtures: a ZooKeeper server (ZK_IMPL=zkraft|apache, default zkraft) and kazoo clients.

- `zk_server`: one server for the whole test session (tests keep to their own `base` path).
- `zk`: a connected KazooClient, stopped and closed after the test.
- `zk_factory()`: more connected clients (for contention/election tests).
- `base`: a unique, pre-created path for the current test.
- `make_server(**opts)`: a dedicated server (e.g. for restarts), closed after the test.
"""

from __future__ import annotations

import os
import re
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from kazoo.client import KazooClient  # noqa: E402

from zkharness import ServerOptions, TestServer, server_kind  # noqa: E402

# Every test must finish well within 60 s; WAIT bounds single waits inside tests and
# TEST_TIMEOUT the whole test (SIGALRM in the main thread).
WAIT = 15.0
TEST_TIMEOUT = int(os.environ.get("ZK_PYTEST_TIMEOUT", "55"))


@pytest.fixture(autouse=True)
def _bounded_test_time(request):
    def expired(signum, frame):
        raise TimeoutError(f"{request.node.nodeid} exceeded {TEST_TIMEOUT}s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def pytest_report_header(config):
    return f"ZooKeeper implementation under test: {server_kind()} (ZK_IMPL)"


@pytest.fixture(scope="session")
def zk_impl() -> str:
    return server_kind()


@pytest.fixture(scope="session")
def zk_server(zk_impl):
    server = TestServer(zk_impl, ServerOptions(extended_types=True))
    yield server
    if server.proc is not None and server.proc.poll() is not None:
        print(f"server died during the session; log tail:\n{server.log_tail()}")
    server.close()


def _connect(hosts: str, **kw) -> KazooClient:
    c = KazooClient(hosts=hosts, timeout=10.0, connection_retry={"max_tries": 3, "delay": 0.05},
                    **kw)
    c.start(timeout=WAIT)
    return c


@pytest.fixture
def zk_factory(zk_server):
    clients = []

    def make(server: TestServer | None = None, **kw) -> KazooClient:
        c = _connect((server or zk_server).connect_string, **kw)
        clients.append(c)
        return c

    yield make
    for c in clients:
        try:
            c.stop()
            c.close()
        except Exception:
            pass


@pytest.fixture
def zk(zk_factory) -> KazooClient:
    return zk_factory()


@pytest.fixture
def base(request, zk) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)
    path = f"/pytest/{name}"
    if zk.exists(path):
        zk.delete(path, recursive=True)
    zk.ensure_path(path)
    return path


@pytest.fixture
def make_server(zk_impl):
    servers = []

    def make(**opts) -> TestServer:
        s = TestServer(zk_impl, ServerOptions(**opts))
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()
