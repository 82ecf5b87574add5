#!/usr/bin/env bash
# Kafka's script: kafka-producer-perf-test.sh (ProducerPerformance, Kafka 2.4)
source "$(dirname "${BASH_SOURCE[0]}")/zk-common.sh"
bin="$(zkraft_bin zkraft)" || exit 1
exec "$bin" kafka-producer-perf-test "$@"
