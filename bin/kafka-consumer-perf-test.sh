#!/usr/bin/env bash
# Kafka's script: kafka-consumer-perf-test.sh (ConsumerPerformance, Kafka 2.4)
source "$(dirname "${BASH_SOURCE[0]}")/zk-common.sh"
bin="$(zkraft_bin zkraft)" || exit 1
exec "$bin" kafka-consumer-perf-test "$@"
