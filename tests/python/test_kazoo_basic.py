"""kazoo against the server under test (ZK_IMPL): CRUD, ephemeral/sequence nodes, watches,
transactions, ACLs/digest auth, and reconnection across a server restart."""

from __future__ import annotations

import threading

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (BadVersionError, InvalidACLError, NoAuthError,
                              NoChildrenForEphemeralsError, NodeExistsError, NoNodeError,
                              NotEmptyError, RolledBackError,
                              RuntimeInconsistency)
from kazoo.protocol.states import EventType, KazooState
from kazoo.security import OPEN_ACL_UNSAFE, make_acl, make_digest_acl

from conftest import WAIT
from zkharness import wait_until


def test_crud(zk, base):
    p = f"{base}/node"
    assert zk.create(p, b"v1") == p
    data, stat = zk.get(p)
    assert data == b"v1"
    assert (stat.version, stat.cversion, stat.aversion, stat.dataLength, stat.numChildren) == (0, 0, 0, 2, 0)
    assert stat.ephemeralOwner == 0
    assert stat.czxid == stat.mzxid

    with pytest.raises(NodeExistsError):
        zk.create(p, b"again")
    with pytest.raises(NoNodeError):
        zk.create(f"{base}/missing/child")
    assert zk.create(f"{base}/a/b/c", b"deep", makepath=True) == f"{base}/a/b/c"

    stat2 = zk.set(p, b"v2", version=0)
    assert stat2.version == 1 and stat2.mzxid > stat.mzxid and stat2.czxid == stat.czxid
    with pytest.raises(BadVersionError):
        zk.set(p, b"v3", version=0)
    with pytest.raises(NoNodeError):
        zk.set(f"{base}/nope", b"x")
    assert zk.get(p)[0] == b"v2"

    assert zk.exists(f"{base}/nope") is None
    assert zk.exists(p).version == 1
    assert sorted(zk.get_children(base)) == ["a", "node"]
    kids, parent = zk.get_children(base, include_data=True)
    assert parent.numChildren == 2

    # Large-ish value round trip (below the default 1 MiB jute.maxbuffer).
    big = bytes(range(256)) * 2000
    zk.set(p, big)
    assert zk.get(p)[0] == big

    with pytest.raises(NotEmptyError):
        zk.delete(f"{base}/a")
    with pytest.raises(BadVersionError):
        zk.delete(p, version=0)
    zk.delete(p, version=2)
    with pytest.raises(NoNodeError):
        zk.delete(p)
    zk.delete(f"{base}/a", recursive=True)
    assert zk.get_children(base) == []


def test_create_include_data_and_empty_values(zk, base):
    path, stat = zk.create(f"{base}/n", b"", include_data=True)
    assert path == f"{base}/n" and stat.dataLength == 0 and stat.version == 0
    assert zk.get(path)[0] == b""


def test_ephemeral_and_sequence(zk, zk_factory, base):
    other = zk_factory()
    s1 = zk.create(f"{base}/s-", b"", sequence=True)
    zk.create(f"{base}/plain")
    s2 = zk.create(f"{base}/s-", b"", sequence=True)
    assert (s1, s2) == (f"{base}/s-0000000000", f"{base}/s-0000000002")
    e = other.create(f"{base}/e-", b"x", ephemeral=True, sequence=True)
    assert e == f"{base}/e-0000000003"
    assert zk.exists(e).ephemeralOwner == other.client_id[0]
    with pytest.raises(NoChildrenForEphemeralsError):
        other.create(f"{e}/child")

    gone = threading.Event()

    def watch(event):
        if event.type == EventType.DELETED:
            gone.set()

    assert zk.exists(e, watch=watch) is not None
    other.stop()  # closes the session
    assert gone.wait(WAIT), "ephemeral not deleted when its session closed"
    assert zk.exists(e) is None
    assert sorted(zk.get_children(base)) == ["plain", "s-0000000000", "s-0000000002"]


def test_watches(zk, zk_factory, base):
    other = zk_factory()
    p = f"{base}/w"
    events = []
    cond = threading.Condition()

    def record(event):
        with cond:
            events.append((event.type, event.path))
            cond.notify_all()

    def wait_for(n):
        with cond:
            assert cond.wait_for(lambda: len(events) >= n, WAIT), f"events so far: {events}"

    assert zk.exists(p, watch=record) is None
    other.create(p, b"0")
    wait_for(1)
    zk.get(p, watch=record)
    zk.get_children(p, watch=record)
    other.set(p, b"1")
    wait_for(2)
    other.create(f"{p}/kid")
    wait_for(3)
    # One-shot: further changes fire nothing until re-registered; re-register a data watch
    # and delete the node.
    other.set(p, b"2")
    zk.get(f"{p}/kid", watch=record)
    other.delete(f"{p}/kid")
    wait_for(4)
    zk.sync(p)
    assert events == [
        (EventType.CREATED, p),
        (EventType.CHANGED, p),
        (EventType.CHILD, p),
        (EventType.DELETED, f"{p}/kid"),
    ]


def test_transactions(zk, base):
    zk.create(f"{base}/t", b"0")
    tx = zk.transaction()
    tx.check(f"{base}/t", 0)
    tx.create(f"{base}/t/a", b"a")
    tx.set_data(f"{base}/t", b"1", version=0)
    tx.create(f"{base}/t/s-", b"", sequence=True)
    tx.delete(f"{base}/t/a")
    results = tx.commit()
    assert results[0] is True
    assert results[1] == f"{base}/t/a"
    assert results[2].version == 1
    assert results[3] == f"{base}/t/s-0000000001"
    assert results[4] is True
    assert zk.get_children(f"{base}/t") == ["s-0000000001"]

    # A failing op rolls the whole transaction back.
    tx = zk.transaction()
    tx.create(f"{base}/t/b", b"b")
    tx.check(f"{base}/t", 0)  # version is 1
    tx.create(f"{base}/t/c", b"c")
    results = tx.commit()
    # Apache reports ops before the failing one as OK (kazoo: RolledBackError), the failing one
    # with its error, and the ones after it as RUNTIMEINCONSISTENCY (-2).
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], BadVersionError)
    assert isinstance(results[2], RuntimeInconsistency)
    assert zk.get_children(f"{base}/t") == ["s-0000000001"]
    assert zk.get(f"{base}/t")[0] == b"1"


def test_acl_and_digest_auth(zk, zk_factory, base):
    alice = zk_factory(auth_data=[("digest", "alice:secret")])
    acl = make_digest_acl("alice", "secret", all=True)
    assert acl.id.id == "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="
    p = f"{base}/private"
    alice.create(p, b"p", acl=[acl])
    acls, stat = alice.get_acls(p)
    assert [(a.perms, a.id.scheme, a.id.id) for a in acls] == [(31, "digest", acl.id.id)]
    assert stat.aversion == 0

    with pytest.raises(NoAuthError):
        zk.get(p)
    with pytest.raises(NoAuthError):
        zk.set(p, b"x")
    with pytest.raises(NoAuthError):
        zk.create(f"{p}/kid")
    with pytest.raises(NoAuthError):
        zk.get_acls(p)

    # READ for everyone; getAcl then works but digests are redacted without ADMIN.
    alice.set_acls(p, [acl, make_acl("world", "anyone", read=True)], version=0)
    assert zk.get(p)[0] == b"p"
    acls, stat = zk.get_acls(p)
    assert stat.aversion == 1
    assert sorted((a.id.scheme, a.id.id, a.perms) for a in acls) == [
        ("digest", "alice:x", 31), ("world", "anyone", 1)]
    with pytest.raises(BadVersionError):
        alice.set_acls(p, OPEN_ACL_UNSAFE, version=0)

    zk.add_auth("digest", "alice:secret")
    zk.set(p, b"by-zk")
    assert alice.get(p)[0] == b"by-zk"

    with pytest.raises(InvalidACLError):
        zk_factory().create(f"{base}/x", acl=[make_acl("auth", "", all=True)])


def test_session_survives_server_restart(make_server):
    server = make_server()
    client = KazooClient(hosts=server.connect_string, timeout=15.0,
                         connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.2})
    client.start(timeout=WAIT)
    states = []
    client.add_listener(states.append)
    try:
        client.create("/eph", b"x", ephemeral=True)
        sid = client.client_id[0]
        server.restart()
        wait_until(lambda: KazooState.CONNECTED in states, WAIT, "reconnect after restart")
        assert KazooState.LOST not in states, states
        assert client.client_id[0] == sid
        assert client.exists("/eph").ephemeralOwner == sid
    finally:
        client.stop()
        client.close()
