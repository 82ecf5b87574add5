"""zkraft's Kafka broker (kafka-server) under consumer groups, clusters and crashes, driven by
third-party clients: confluent-kafka (librdkafka), kafka-python, and kazoo reading the znodes
the broker writes. ZooKeeper is zkraft's or Apache's (ZK_IMPL), started by zkharness.

- a 3-member confluent-kafka group rebalancing as members join and leave, every record
  consumed exactly once;
- a kafka-python group resuming exactly at its committed offsets;
- 2- and 3-broker clusters reached through one bootstrap broker, which is then stopped
  (the others' partitions stay usable) and restarted (it leads its partitions again);
- kill -9 mid-produce: acknowledged records and committed group offsets survive;
- the znodes match Kafka 2.8's JSON field by field.
"""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kazoo.client import KazooClient

from kafkaharness import Broker, unique
from zkharness import wait_until

WAIT = 20.0


@pytest.fixture
def cluster(zk_server):
    """cluster(n) starts brokers 0..n-1 sharing one fresh chroot; all are killed afterwards."""
    chroot = unique("kafka")
    brokers = []

    def make(n: int = 1) -> list:
        for i in range(n):
            brokers.append(Broker(f"{zk_server.connect_string}/{chroot}", i))
        return brokers

    make.chroot = chroot
    yield make
    for b in brokers:
        if b.proc is not None and b.proc.poll() is not None:
            print(f"broker {b.broker_id} died; log tail:\n" + b.log_tail())
        b.kill9()


def create_topic(bootstrap: str, topic: str, partitions: int = 1, assignment=None):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if assignment is not None:
        nt = NewTopic(topic, num_partitions=len(assignment), replica_assignment=assignment)
    else:
        nt = NewTopic(topic, num_partitions=partitions, replication_factor=1)
    for f in admin.create_topics([nt]).values():
        f.result(WAIT)

    def led():
        md = admin.list_topics(topic, timeout=2).topics.get(topic)
        n = len(assignment) if assignment is not None else partitions
        return (md is not None and md.error is None and len(md.partitions) == n
                and all(p.leader >= 0 for p in md.partitions.values()))

    wait_until(led, WAIT, f"every partition of {topic} led")


def produce_to(bootstrap: str, topic: str, records: list):
    """Produces (partition, value) records acks=all; returns {value: (partition, offset)}."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2,
                  "enable.idempotence": True})
    acked, errors = {}, []

    def on_delivery(err, msg):
        if err:
            errors.append(err)
        else:
            acked[msg.value()] = (msg.partition(), msg.offset())

    for part, value in records:
        p.produce(topic, value=value, partition=part, on_delivery=on_delivery)
    assert p.flush(WAIT) == 0
    assert errors == []
    return acked


# ---- 1. confluent-kafka: a 3-member group rebalancing as members join and leave ----------

def test_confluent_three_member_group_rebalances_exactly_once(cluster):
    (b,) = cluster(1)
    topic, group = unique("grp6"), unique("g")
    create_topic(b.bootstrap, topic, 6)
    conf = {"bootstrap.servers": b.bootstrap, "group.id": group,
            "auto.offset.reset": "earliest", "enable.auto.commit": False,
            "session.timeout.ms": 10000, "heartbeat.interval.ms": 300,
            "partition.assignment.strategy": "range"}
    members: list = []
    consumed: list = []  # every value any member received, duplicates kept
    batch_no = [0]

    def poll_all_until(pred, what):
        def step():
            for c in members:
                for m in c.consume(100, 0.05):
                    assert m.error() is None, m.error()
                    consumed.append(m.value())
                    # Synchronous commit of the next offset: no rebalance is under way while
                    # records flow (membership changes only between batches).
                    c.commit(message=m, asynchronous=False)
            return pred()

        wait_until(step, WAIT, what)

    def balanced():
        k = len(members)
        parts = [tp.partition for c in members for tp in c.assignment()]
        return (sorted(parts) == list(range(6))
                and all(len(c.assignment()) == 6 // k for c in members))

    def settle_and_check_batch():
        poll_all_until(balanced, f"6 partitions split evenly over {len(members)} members")
        owners = {tp.partition: i for i, c in enumerate(members) for tp in c.assignment()}
        assert sorted(owners) == list(range(6)), owners
        batch_no[0] += 1
        values = [(p, f"b{batch_no[0]}-p{p}-{i}".encode()) for p in range(6) for i in range(5)]
        before = len(consumed)
        produce_to(b.bootstrap, topic, values)
        want = sorted(v for _, v in values)
        poll_all_until(lambda: len(consumed) >= before + len(values),
                       f"batch {batch_no[0]} consumed")
        assert sorted(consumed[before:]) == want

    try:
        for _ in range(3):
            c = Consumer(conf)
            c.subscribe([topic])
            members.append(c)
            settle_and_check_batch()
        for _ in range(2):
            members.pop().close()  # LeaveGroup
            settle_and_check_batch()
        # Nothing was delivered twice, over five rebalances.
        assert len(consumed) == len(set(consumed)) == 5 * 6 * 5  # batches x partitions x 5
        committed = members[0].committed([TopicPartition(topic, p) for p in range(6)],
                                         timeout=WAIT)
        assert [tp.offset for tp in committed] == [5 * 5] * 6
    finally:
        for c in members:
            c.close()


# ---- 2. kafka-python: resume exactly at the committed offsets -----------------------------

def test_kafka_python_group_resumes_at_committed_offset(cluster):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition as KTP

    (b,) = cluster(1)
    topic, group = unique("resume"), unique("g")
    create_topic(b.bootstrap, topic, 3)
    p = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all")
    futures = [p.send(topic, value=f"m{i}".encode(), partition=i % 3) for i in range(90)]
    p.flush()
    for f in futures:
        f.get(timeout=WAIT)
    p.close()

    def consumer():
        return KafkaConsumer(topic, bootstrap_servers=b.bootstrap, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=8000, max_poll_records=7)

    first = consumer()
    part1 = []
    for m in first:
        part1.append((m.partition, m.offset, m.value))
        if len(part1) == 40:
            break
    first.commit()
    committed = {p: first.committed(KTP(topic, p)) for p in range(3)}
    first.close()
    # The commit is the position after the last record handed out on each partition.
    for part in range(3):
        offs = [o for p, o, _ in part1 if p == part]
        # kafka-python also commits position 0 for an assigned partition it read nothing from.
        assert committed[part] == (max(offs) + 1 if offs else committed[part]), (part, committed)
        assert offs or committed[part] in (None, 0), (part, committed)

    second = consumer()
    part2 = []
    for m in second:
        part2.append((m.partition, m.offset, m.value))
        if len(part1) + len(part2) == 90:
            break
    second.commit()
    second.close()
    for part in range(3):
        offs = [o for p, o, _ in part2 if p == part]
        start = committed[part] or 0
        assert offs == list(range(start, 30)), (part, offs)
    values = [v for _, _, v in part1 + part2]
    assert sorted(values) == sorted(f"m{i}".encode() for i in range(90))
    assert len(set(values)) == 90


def test_kafka_python_three_members_join_and_leave(cluster):
    """kafka-python's group membership: each consumer polls in its own thread, as that client
    expects; after every join and leave the 6 partitions are split evenly, each owned once."""
    import threading

    from kafka import KafkaConsumer

    (b,) = cluster(1)
    topic, group = unique("kp3"), unique("g")
    create_topic(b.bootstrap, topic, 6)
    members = []  # (consumer, stop event, thread)

    def run(c, stop):
        while not stop.is_set():
            c.poll(100)

    def balanced():
        k = len(members)
        parts = [tp.partition for c, _, _ in members for tp in c.assignment()]
        return (sorted(parts) == list(range(6))
                and all(len(c.assignment()) == 6 // k for c, _, _ in members))

    def generations():
        return {c._coordinator._generation.generation_id for c, _, _ in members}

    try:
        for _ in range(3):
            # Frequent heartbeats: members learn of each rebalance within 0.3 s.
            c = KafkaConsumer(topic, bootstrap_servers=b.bootstrap, group_id=group,
                              auto_offset_reset="earliest", enable_auto_commit=False,
                              heartbeat_interval_ms=300, session_timeout_ms=10000)
            stop = threading.Event()
            t = threading.Thread(target=run, args=(c, stop), daemon=True)
            t.start()
            members.append((c, stop, t))
            wait_until(balanced, WAIT, f"6 partitions over {len(members)} kafka-python members")
        gen = generations()
        assert len(gen) == 1, gen
        for _ in range(2):
            c, stop, t = members.pop()
            stop.set()
            t.join(WAIT)
            c.close()  # LeaveGroup
            wait_until(balanced, WAIT, f"6 partitions over {len(members)} kafka-python members")
        assert min(generations()) > min(gen), "each leave started a new generation"
    finally:
        for c, stop, t in members:
            stop.set()
            t.join(WAIT)
            c.close()


# ---- 3. a cluster reached through one bootstrap broker, which then stops ------------------

@pytest.mark.parametrize("n", [2, 3])
def test_one_bootstrap_broker_reaches_every_partition_and_its_loss_spares_others(cluster, n):
    brokers = cluster(n)
    first = brokers[0]
    topic = unique(f"spread{n}")
    parts = 2 * n
    assignment = [[p % n] for p in range(parts)]
    create_topic(first.bootstrap, topic, assignment=assignment)
    admin = AdminClient({"bootstrap.servers": first.bootstrap})
    md = admin.list_topics(topic, timeout=WAIT)
    assert sorted(md.brokers) == list(range(n))
    assert {p: pm.leader for p, pm in md.topics[topic].partitions.items()} == \
        {p: p % n for p in range(parts)}

    delivered, errors = {}, []

    def on_delivery(err, msg):
        if err:
            errors.append((msg.partition(), err))
        else:
            delivered[msg.value()] = (msg.partition(), msg.offset())

    producer = Producer({"bootstrap.servers": first.bootstrap, "acks": "all",
                         "linger.ms": 2, "message.timeout.ms": 15000})
    consumer = Consumer({"bootstrap.servers": first.bootstrap, "group.id": unique("g"),
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(parts)])
    got: list = []

    def produce_round(tag: str, partitions):
        for p in partitions:
            for i in range(10):
                producer.produce(topic, value=f"{tag}-p{p}-{i}".encode(), partition=p,
                                 on_delivery=on_delivery)
        assert producer.flush(WAIT) == 0
        return {f"{tag}-p{p}-{i}".encode() for p in partitions for i in range(10)}

    def consume_until(want: set):
        def step():
            for m in consumer.consume(500, 0.1):
                assert m.error() is None, m.error()
                got.append((m.partition(), m.value()))
            return want <= {v for _, v in got}

        wait_until(step, WAIT, "records consumed")

    try:
        sent = produce_round("before", range(parts))
        assert errors == []
        consume_until(sent)
        for v in sent:
            assert delivered[v][0] == int(v.decode().split("-p")[1].split("-")[0])

        # The bootstrap broker (also the controller: it started first) shuts down cleanly.
        assert first.stop() == 0
        others = [p for p in range(parts) if p % n != 0]
        sent2 = produce_round("after", others)
        assert errors == [], errors
        consume_until(sent2)

        # The stopped broker comes back, leads its partitions again, and the same clients
        # use every partition.
        first.start()

        def all_led():
            md = admin.list_topics(topic, timeout=2)
            return {p: pm.leader for p, pm in md.topics[topic].partitions.items()} == \
                {p: p % n for p in range(parts)}

        wait_until(all_led, WAIT, "broker 0 leading its partitions again")
        sent3 = produce_round("again", range(parts))
        assert errors == [], errors
        consume_until(sent3)
        # Nothing delivered twice, nothing from a partition it was not produced to.
        assert len(got) == len(set(got))
        for p, v in got:
            assert f"-p{p}-".encode() in v
    finally:
        consumer.close()


# ---- 4. kill -9 mid-produce: acked records and committed offsets survive -----------------

def test_kill9_mid_produce_keeps_acked_records_and_group_offsets(cluster):
    (b,) = cluster(1)
    topic, group = unique("crash"), unique("g")
    create_topic(b.bootstrap, topic, 2)
    produce_to(b.bootstrap, topic, [(i % 2, f"pre-{i}".encode()) for i in range(40)])
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    n = [0]

    def consumed_30():
        for m in c.consume(30 - n[0], 0.1):
            assert m.error() is None, m.error()
            n[0] += 1
            c.commit(message=m, asynchronous=False)
        return n[0] >= 30

    wait_until(consumed_30, WAIT, "30 records consumed and committed")
    committed = {tp.partition: tp.offset for tp in
                 c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)],
                             timeout=WAIT)}
    c.close()
    assert sum(committed.values()) == 30

    acked = {}

    def on_delivery(err, msg):
        if err is None:
            acked[msg.value()] = (msg.partition(), msg.offset())

    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 0,
                  "message.timeout.ms": 3000, "enable.idempotence": True})
    i = 0
    deadline = time.monotonic() + WAIT
    while len(acked) < 100:
        assert time.monotonic() < deadline, "100 acknowledgements"
        p.produce(topic, value=f"live-{i}".encode(), partition=i % 2, on_delivery=on_delivery)
        i += 1
        p.poll(0.001)
    b.kill9()  # while records are in flight
    for j in range(i, i + 50):
        p.produce(topic, value=f"live-{j}".encode(), partition=j % 2, on_delivery=on_delivery)
    p.flush(6)  # unacknowledged records time out; they may or may not be on disk
    del p
    acked_snapshot = dict(acked)
    assert len(acked_snapshot) >= 100

    b.start()  # same port and log dir: log recovery after the crash
    check = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                      "enable.auto.commit": False})
    after = {tp.partition: tp.offset for tp in
             check.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)],
                             timeout=WAIT)}
    assert after == committed, "committed group offsets intact after kill -9"
    highs = {}
    for part in (0, 1):
        lo, hi = check.get_watermark_offsets(TopicPartition(topic, part), timeout=WAIT)
        assert lo == 0
        highs[part] = hi
    check.close()

    reader = Consumer({"bootstrap.servers": b.bootstrap, "group.id": unique("r"),
                       "enable.auto.commit": False, "auto.offset.reset": "error"})
    reader.assign([TopicPartition(topic, part, 0) for part in (0, 1)])
    on_disk = {}

    def read_all():
        # Drain in batches: wait_until's pauses between calls must not throttle reading.
        for m in reader.consume(500, 0.1):
            assert m.error() is None, m.error()
            on_disk[(m.partition(), m.offset())] = m.value()
        return len(on_disk) >= sum(highs.values())

    wait_until(read_all, WAIT, "every record up to the high watermarks read")
    reader.close()
    for value, (part, off) in acked_snapshot.items():
        assert on_disk.get((part, off)) == value, (value, part, off)


# ---- 5. znodes match Kafka 2.8's JSON field by field --------------------------------------

def test_znodes_match_kafka_json_field_by_field(cluster, zk_server):
    (b,) = cluster(1)
    topic = unique("zn")
    create_topic(b.bootstrap, topic, 2)
    zk = KazooClient(hosts=f"{zk_server.connect_string}/{cluster.chroot}", timeout=10.0)
    zk.start(timeout=WAIT)
    try:
        def read(path):
            data, stat = zk.get(path)
            return json.loads(data.decode()), stat

        reg, reg_stat = read("/brokers/ids/0")
        assert reg_stat.ephemeralOwner != 0
        assert set(reg) == {"version", "host", "port", "jmx_port", "timestamp", "endpoints",
                            "listener_security_protocol_map", "features"}, reg
        assert reg["version"] == 5 and type(reg["version"]) is int
        assert reg["host"] == "127.0.0.1"
        assert reg["port"] == b.port and type(reg["port"]) is int
        assert reg["jmx_port"] == -1 and type(reg["jmx_port"]) is int
        assert isinstance(reg["timestamp"], str) and reg["timestamp"].isdigit()
        assert abs(int(reg["timestamp"]) - time.time() * 1000) < 600_000
        assert reg["endpoints"] == [f"PLAINTEXT://127.0.0.1:{b.port}"]
        assert reg["listener_security_protocol_map"] == {"PLAINTEXT": "PLAINTEXT"}
        assert reg["features"] == {}

        ctl, ctl_stat = read("/controller")
        assert ctl_stat.ephemeralOwner != 0
        assert set(ctl) == {"version", "brokerid", "timestamp"}, ctl
        assert ctl["version"] == 1 and type(ctl["version"]) is int
        assert ctl["brokerid"] == 0 and type(ctl["brokerid"]) is int
        assert isinstance(ctl["timestamp"], str) and ctl["timestamp"].isdigit()

        epoch_raw, epoch_stat = zk.get("/controller_epoch")
        assert epoch_stat.ephemeralOwner == 0
        assert epoch_raw == b"1", "plain decimal text; the first election sets 1"

        cid, _ = read("/cluster/id")
        assert set(cid) == {"version", "id"}, cid
        assert cid["version"] == "1", "version in /cluster/id is a JSON string"
        assert isinstance(cid["id"], str) and len(cid["id"]) == 22
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        assert admin.list_topics(timeout=WAIT).cluster_id == cid["id"]

        assignment, _ = read(f"/brokers/topics/{topic}")
        # IBP 2.8 (the default) writes version 3 with a topic id.
        assert set(assignment) == {"version", "partitions", "adding_replicas",
                                   "removing_replicas", "topic_id"}, assignment
        assert assignment["version"] == 3
        assert assignment["partitions"] == {"0": [0], "1": [0]}
        assert assignment["adding_replicas"] == {} and assignment["removing_replicas"] == {}
        assert isinstance(assignment["topic_id"], str) and len(assignment["topic_id"]) == 22

        assert sorted(zk.get_children(f"/brokers/topics/{topic}/partitions")) == ["0", "1"]
        # The intermediate partition znodes hold no data (Kafka creates them with null).
        assert zk.get(f"/brokers/topics/{topic}/partitions")[0] in (b"", None)
        assert zk.get(f"/brokers/topics/{topic}/partitions/0")[0] in (b"", None)
        for part in ("0", "1"):
            state, st = read(f"/brokers/topics/{topic}/partitions/{part}/state")
            assert st.ephemeralOwner == 0
            assert state == {"version": 1, "leader": 0, "leader_epoch": 0, "isr": [0],
                             "controller_epoch": 1}, state
            assert all(type(state[k]) is int for k in
                       ("version", "leader", "leader_epoch", "controller_epoch"))
    finally:
        zk.stop()
        zk.close()
