#!/usr/bin/env bash
# Kafka's script: kafka-configs.sh (ConfigCommand, Kafka 2.4; --zookeeper mode)
source "$(dirname "${BASH_SOURCE[0]}")/zk-common.sh"
bin="$(zkraft_bin zkraft)" || exit 1
exec "$bin" kafka-configs "$@"
