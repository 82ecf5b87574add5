#!/usr/bin/env bash
# Kafka's script: kafka-run-class.sh (kafka-run-class, Kafka 2.4)
source "$(dirname "${BASH_SOURCE[0]}")/zk-common.sh"
bin="$(zkraft_bin zkraft)" || exit 1
exec "$bin" kafka-run-class "$@"
