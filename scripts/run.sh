#!/usr/bin/env bash
# Runs the zkraft stack on its embedded default: one standalone ZooKeeper on 127.0.0.1:2181
# with data under ./data/zookeeper (conf/zoo.cfg). The Kafka broker is not built yet.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p zk --bin zk-server
mkdir -p data/zookeeper
exec bin/zookeeper-server-start.sh conf/zoo.cfg
