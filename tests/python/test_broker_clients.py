"""zkraft's Kafka broker (kafka-server) driven by third-party Python clients: confluent-kafka
(librdkafka) with an idempotent acks=all producer and a consumer group whose committed offsets
survive a broker restart, and kafka-python with a group. ZooKeeper is zkraft's or Apache's
(ZK_IMPL), started by zkharness.
"""

from __future__ import annotations

import time

import pytest

from kafkaharness import Broker, unique
from zkharness import wait_until

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

WAIT = 20.0


@pytest.fixture
def broker(zk_server):
    # A chroot per broker: the session's shared ZooKeeper holds no other cluster's
    # registration, controller or topics.
    b = Broker(f"{zk_server.connect_string}/{unique('kafka')}")
    yield b
    if b.proc is not None and b.proc.poll() is not None:
        print("broker died; log tail:\n" + b.log_tail())
    b.kill9()


def produce_idempotent(bootstrap: str, topic: str, n: int) -> list:
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                  "linger.ms": 5})
    delivered, errors = [], []

    def on_delivery(err, msg):
        (errors if err else delivered).append(err or (msg.offset(), msg.value()))

    for i in range(n):
        p.produce(topic, key=str(i).encode(), value=f"v{i}".encode(), on_delivery=on_delivery)
    assert p.flush(WAIT) == 0
    assert errors == []
    return delivered


def consume_group(bootstrap: str, topic: str, group: str, n: int) -> list:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + WAIT
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        assert m.error() is None, m.error()
        got.append(m.value())
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition(topic, 0)], timeout=WAIT)
    c.close()
    assert committed[0].offset == len(got)
    return got


def test_confluent_idempotent_producer_and_group_offsets_survive_restart(broker):
    topic, group = unique("ck"), unique("g")
    delivered = produce_idempotent(broker.bootstrap, topic, 200)
    offsets = sorted(o for o, _ in delivered)
    assert offsets == list(range(200)), "idempotent acks=all delivery assigns each offset once"
    got = consume_group(broker.bootstrap, topic, group, 200)
    assert got == [f"v{i}".encode() for i in range(200)]

    assert broker.stop() == 0
    broker.start()
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    committed = c.committed([TopicPartition(topic, 0)], timeout=WAIT)
    assert committed[0].offset == 200, "committed offsets survive a broker restart"
    # The group resumes where it committed: only the new messages arrive.
    produce_idempotent(broker.bootstrap, topic, 5)
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + WAIT
    while len(got) < 5 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    assert got == [f"v{i}".encode() for i in range(5)]


def test_kafka_python_producer_and_group_consumer(broker):
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    topic, group = unique("kp"), unique("g")
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    assert topic in admin.list_topics()
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    futures = [p.send(topic, key=str(i).encode(), value=f"m{i}".encode()) for i in range(60)]
    p.flush()
    metas = [f.get(timeout=WAIT) for f in futures]
    assert {m.partition for m in metas} <= {0, 1, 2}
    p.close()
    c = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=8000)
    got = []
    for m in c:
        got.append(m.value)
        if len(got) == 60:
            break
    c.commit()
    c.close()
    assert sorted(got) == sorted(f"m{i}".encode() for i in range(60))
    groups = {g["group_id"]: g for g in admin.list_groups()}
    assert groups[group]["group_state"] == "Empty"
    offsets = admin.list_group_offsets(group)[group]
    assert sum(o.offset for o in offsets.values()) == 60
    admin.close()


def test_kafka_python_admin_partitions_configs_delete(broker):
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic

    topic = unique("adm")
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                                  topic_configs={"retention.ms": "100000"})])
    admin.create_partitions({topic: 3})
    wait_until(lambda: len(admin.describe_topics([topic])[0]["partitions"]) == 3, WAIT,
               "three partitions")
    res = ConfigResource(ConfigResourceType.TOPIC, topic)
    assert admin.describe_configs([res])["topic"][topic]["retention.ms"]["value"] == "100000"
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                        configs={"retention.ms": "5000"})])
    assert admin.describe_configs([res])["topic"][topic]["retention.ms"]["value"] == "5000"
    admin.delete_topics([topic])
    assert topic not in admin.list_topics()
    admin.close()


def test_confluent_group_rebalances_between_two_consumers(broker):
    topic, group = unique("rb"), unique("g")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    from confluent_kafka.admin import NewTopic

    for f in admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)]).values():
        f.result(WAIT)
    conf = {"bootstrap.servers": broker.bootstrap, "group.id": group,
            "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 500}
    a, b = Consumer(conf), Consumer(conf)
    a.subscribe([topic])
    b.subscribe([topic])

    def assigned_split():
        a.poll(0.1)
        b.poll(0.1)
        return len(a.assignment()) == 2 and len(b.assignment()) == 2

    wait_until(assigned_split, WAIT, "four partitions split two and two")
    parts = {tp.partition for tp in a.assignment()} | {tp.partition for tp in b.assignment()}
    assert parts == {0, 1, 2, 3}
    b.close()  # LeaveGroup: the survivor gets everything at the next rebalance

    def all_to_a():
        a.poll(0.1)
        return len(a.assignment()) == 4

    wait_until(all_to_a, WAIT, "the remaining consumer owning all four partitions")
    a.close()
