"""kazoo recipes against the server under test (ZK_IMPL): Lock, Semaphore, Election, Barrier,
DoubleBarrier, Queue, LockingQueue, Counter, Party, DataWatch, ChildrenWatch, TreeCache.

All waits are bounded (WAIT seconds); nothing sleeps for a fixed time."""

from __future__ import annotations

import queue
import threading

import pytest
from kazoo.recipe.cache import TreeCache, TreeEvent

from conftest import WAIT
from zkharness import wait_until


def _thread(target, *args):
    t = threading.Thread(target=target, args=args, daemon=True)
    t.start()
    return t


def test_lock(zk_factory, base):
    a, b = zk_factory(), zk_factory()
    la = a.Lock(f"{base}/lock", "alice")
    lb = b.Lock(f"{base}/lock", "bob")
    assert la.acquire(timeout=WAIT)
    assert not lb.acquire(blocking=False)
    assert la.contenders() == ["alice"]

    got = threading.Event()

    def contend():
        if lb.acquire(timeout=WAIT):
            got.set()

    t = _thread(contend)
    wait_until(lambda: la.contenders() == ["alice", "bob"], WAIT, "bob queued behind alice")
    assert not got.is_set()
    la.release()
    assert got.wait(WAIT), "bob never got the lock"
    t.join(WAIT)
    assert lb.contenders() == ["bob"]
    lb.release()
    assert lb.contenders() == []


def test_lock_released_when_holder_session_closes(zk_factory, base):
    a, b = zk_factory(), zk_factory()
    la = a.Lock(f"{base}/lock")
    assert la.acquire(timeout=WAIT)
    lb = b.Lock(f"{base}/lock")
    result = queue.Queue()
    t = _thread(lambda: result.put(lb.acquire(timeout=WAIT)))
    wait_until(lambda: len(la.contenders()) == 2, WAIT, "second contender")
    a.stop()  # session closed -> ephemeral lock node gone
    assert result.get(timeout=WAIT) is True
    t.join(WAIT)
    lb.release()


def test_read_write_lock_and_semaphore(zk_factory, base):
    a, b, c = zk_factory(), zk_factory(), zk_factory()
    r1 = a.ReadLock(f"{base}/rw")
    r2 = b.ReadLock(f"{base}/rw")
    w = c.WriteLock(f"{base}/rw")
    assert r1.acquire(timeout=WAIT) and r2.acquire(timeout=WAIT)
    assert not w.acquire(blocking=False)
    r1.release()
    r2.release()
    assert w.acquire(timeout=WAIT)
    w.release()

    s1 = a.Semaphore(f"{base}/sem", max_leases=2)
    s2 = b.Semaphore(f"{base}/sem", max_leases=2)
    s3 = c.Semaphore(f"{base}/sem", max_leases=2)
    assert s1.acquire(timeout=WAIT) and s2.acquire(timeout=WAIT)
    assert not s3.acquire(blocking=False)
    assert len(s1.lease_holders()) == 2
    s1.release()
    assert s3.acquire(timeout=WAIT)
    s2.release()
    s3.release()


def test_election(zk_factory, base):
    clients = [zk_factory() for _ in range(3)]
    elections = [c.Election(f"{base}/election", f"id{i}") for i, c in enumerate(clients)]
    leaders = queue.Queue()
    step_down = {i: threading.Event() for i in range(3)}

    def lead(i):
        leaders.put(i)
        step_down[i].wait(WAIT)

    threads = []
    for i, e in enumerate(elections):
        threads.append(_thread(e.run, lead, i))
        # Start contenders one by one so their queue order is known.
        wait_until(lambda: len(elections[0].contenders()) == i + 1, WAIT, f"{i + 1} contenders")
    assert leaders.get(timeout=WAIT) == 0
    assert elections[1].contenders() == ["id0", "id1", "id2"]
    assert leaders.empty()
    # Leadership passes on in order as leaders step down.
    step_down[0].set()
    assert leaders.get(timeout=WAIT) == 1
    elections[2].cancel()
    wait_until(lambda: elections[0].contenders() == ["id1"], WAIT, "cancelled contender gone")
    step_down[1].set()
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive()
    assert leaders.empty(), "a cancelled contender must not lead"
    assert elections[0].contenders() == []


def test_barrier_and_double_barrier(zk_factory, base):
    a, b = zk_factory(), zk_factory()
    barrier = a.Barrier(f"{base}/barrier")
    barrier.create()
    waiter = b.Barrier(f"{base}/barrier")
    assert waiter.wait(timeout=0.2) is False
    passed = threading.Event()
    t = _thread(lambda: waiter.wait(timeout=WAIT) and passed.set())
    barrier.remove()
    assert passed.wait(WAIT)
    t.join(WAIT)

    n = 3
    clients = [zk_factory() for _ in range(n)]
    barriers = [c.DoubleBarrier(f"{base}/double", n, identifier=f"p{i}") for i, c in enumerate(clients)]
    entered = queue.Queue()
    left = queue.Queue()

    def participant(i):
        barriers[i].enter()
        entered.put(i)
        barriers[i].leave()
        left.put(i)

    threads = [_thread(participant, i) for i in range(n - 1)]
    # Nobody gets in until all n participants arrived.
    with pytest.raises(queue.Empty):
        entered.get(timeout=0.3)
    threads.append(_thread(participant, n - 1))
    assert sorted(entered.get(timeout=WAIT) for _ in range(n)) == list(range(n))
    assert sorted(left.get(timeout=WAIT) for _ in range(n)) == list(range(n))
    for t in threads:
        t.join(WAIT)


def test_queue(zk_factory, base):
    producer, consumer = zk_factory(), zk_factory()
    q = producer.Queue(f"{base}/q")
    for v in (b"one", b"two", b"three"):
        q.put(v)
    q.put(b"urgent", priority=1)
    cq = consumer.Queue(f"{base}/q")
    assert len(cq) == 4
    assert [cq.get() for _ in range(4)] == [b"urgent", b"one", b"two", b"three"]
    assert cq.get() is None
    assert len(cq) == 0


def test_locking_queue(zk_factory, base):
    a, b = zk_factory(), zk_factory()
    qa = a.LockingQueue(f"{base}/lq")
    qb = b.LockingQueue(f"{base}/lq")
    qa.put_all([b"x", b"y"])
    qa.put(b"first", priority=10)
    assert len(qb) == 3
    assert qb.get(timeout=WAIT) == b"first"
    assert qb.holds_lock()
    # The item is locked by b: a gets the next one.
    assert qa.get(timeout=WAIT) == b"x"
    assert qb.consume() is True
    assert qa.release() is True  # back to the queue
    assert qb.get(timeout=WAIT) == b"x"
    assert qb.consume()
    assert qa.get(timeout=WAIT) == b"y"
    assert qa.consume()
    assert len(qa) == 0
    # get() blocks until something arrives.
    got = queue.Queue()
    t = _thread(lambda: got.put(qb.get(timeout=WAIT)))
    qa.put(b"late")
    assert got.get(timeout=WAIT) == b"late"
    t.join(WAIT)
    assert qb.consume()


def test_counter(zk_factory, base):
    clients = [zk_factory() for _ in range(3)]
    counters = [c.Counter(f"{base}/counter") for c in clients]
    per_thread = 20

    def bump(counter):
        for _ in range(per_thread):
            counter += 1

    threads = [_thread(bump, c) for c in counters]
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive()
    assert counters[0].value == 3 * per_thread
    counters[1] -= 5
    assert counters[2].value == 3 * per_thread - 5
    f = clients[0].Counter(f"{base}/fcounter", default=0.5)
    f += 1.25
    assert f.value == 1.75


def test_party(zk_factory, base):
    a, b = zk_factory(), zk_factory()
    pa = a.Party(f"{base}/party", "alice")
    pb = b.ShallowParty(f"{base}/sparty", "bob")
    pa.join()
    pb.join()
    assert list(b.Party(f"{base}/party")) == ["alice"]
    assert len(a.ShallowParty(f"{base}/sparty")) == 1
    pa.leave()
    assert len(b.Party(f"{base}/party")) == 0
    b.stop()
    assert len(a.ShallowParty(f"{base}/sparty")) == 0


def test_data_watch(zk_factory, base):
    watcher, writer = zk_factory(), zk_factory()
    p = f"{base}/dw"
    seen = queue.Queue()

    @watcher.DataWatch(p)
    def changed(data, stat):
        seen.put((data, stat.version if stat else None))

    assert seen.get(timeout=WAIT) == (None, None)  # initial call: node missing
    writer.create(p, b"a")
    assert seen.get(timeout=WAIT) == (b"a", 0)
    writer.set(p, b"b")
    assert seen.get(timeout=WAIT) == (b"b", 1)
    writer.set(p, b"c")
    assert seen.get(timeout=WAIT) == (b"c", 2)
    writer.delete(p)
    assert seen.get(timeout=WAIT) == (None, None)


def test_children_watch(zk_factory, base):
    watcher, writer = zk_factory(), zk_factory()
    p = f"{base}/cw"
    writer.create(p)
    seen = queue.Queue()

    @watcher.ChildrenWatch(p)
    def changed(children):
        seen.put(sorted(children))

    assert seen.get(timeout=WAIT) == []
    writer.create(f"{p}/a")
    assert seen.get(timeout=WAIT) == ["a"]
    writer.create(f"{p}/b", ephemeral=True)
    assert seen.get(timeout=WAIT) == ["a", "b"]
    writer.delete(f"{p}/a")
    assert seen.get(timeout=WAIT) == ["b"]
    writer.stop()  # ephemeral b vanishes with the session
    assert seen.get(timeout=WAIT) == []


def test_tree_cache(zk_factory, base):
    cacher, writer = zk_factory(), zk_factory()
    root = f"{base}/tree"
    writer.create(f"{root}/a/x", b"ax", makepath=True)
    writer.create(f"{root}/b", b"b")
    cache = TreeCache(cacher, root)
    events = queue.Queue()
    cache.listen(lambda ev: events.put(ev))
    cache.start()
    try:
        def drain_until(pred, what):
            got = []
            while True:
                try:
                    ev = events.get(timeout=WAIT)
                except queue.Empty:
                    raise AssertionError(f"timed out waiting for {what}; got {got}")
                got.append(ev)
                if pred(ev):
                    return got

        drain_until(lambda ev: ev.event_type == TreeEvent.INITIALIZED, "INITIALIZED")
        assert sorted(cache.get_children(root)) == ["a", "b"]
        assert cache.get_children(f"{root}/a") == frozenset({"x"})
        assert cache.get_data(f"{root}/a/x").data == b"ax"
        assert cache.get_data(f"{root}/b").data == b"b"

        writer.create(f"{root}/a/y", b"ay")
        drain_until(lambda ev: ev.event_type == TreeEvent.NODE_ADDED
                    and ev.event_data.path == f"{root}/a/y", "NODE_ADDED a/y")
        writer.set(f"{root}/b", b"b2")
        drain_until(lambda ev: ev.event_type == TreeEvent.NODE_UPDATED
                    and ev.event_data.path == f"{root}/b", "NODE_UPDATED b")
        assert cache.get_data(f"{root}/b").data == b"b2"
        assert cache.get_data(f"{root}/b").stat.version == 1
        writer.delete(f"{root}/a", recursive=True)
        drain_until(lambda ev: ev.event_type == TreeEvent.NODE_REMOVED
                    and ev.event_data.path == f"{root}/a", "NODE_REMOVED a")
        assert sorted(cache.get_children(root)) == ["b"]
        assert cache.get_data(f"{root}/a") is None
    finally:
        cache.close()
