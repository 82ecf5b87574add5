#!/usr/bin/env bash
# Installs what the cross-process / real-client test suites need:
#   - Apache ZooKeeper 3.8 from Debian (`zookeeper`: server jars + zkCli.sh,
#     `zookeeper-bin`: the C client shell cli_mt) -- the oracle implementation;
#   - kazoo + pytest for tests/python;
#   - Kafka clients for the broker suites: kcat (librdkafka) from Debian, confluent-kafka and
#     kafka-python from PyPI.
# Idempotent: every step is skipped when already satisfied. Meant to run as root
# on Debian bookworm (CI and developer machines). Quiet unless something fails.
set -euo pipefail

log() { echo "install-test-deps: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else SUDO=""; fi
fi

# Run a command with its output captured; print the output only on failure.
quiet() {
    local out
    if ! out="$("$@" 2>&1)"; then
        printf '%s\n' "$out" >&2
        die "command failed: $*"
    fi
}

deb_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

# ---- Debian packages ---------------------------------------------------------
missing=()
for pkg in zookeeper zookeeper-bin kcat; do
    deb_installed "$pkg" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install ${missing[*]} by hand"
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    quiet $SUDO apt-get update -q
    quiet $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
[ -f /usr/share/java/zookeeper.jar ] || die "/usr/share/java/zookeeper.jar missing after install"
[ -x /usr/share/zookeeper/bin/zkCli.sh ] || die "/usr/share/zookeeper/bin/zkCli.sh missing after install"
[ -x /usr/lib/zookeeper/bin/cli_mt ] || die "/usr/lib/zookeeper/bin/cli_mt missing after install"
command -v kcat >/dev/null 2>&1 || die "kcat missing after install"
command -v java >/dev/null 2>&1 || die "java not found (the zookeeper package should pull in a JRE)"

# ---- Python packages ---------------------------------------------------------
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null 2>&1 || die "$PY not found"
py_missing=()
"$PY" -c 'import kazoo' >/dev/null 2>&1 || py_missing+=(kazoo)
"$PY" -c 'import pytest' >/dev/null 2>&1 || py_missing+=(pytest)
"$PY" -c 'import confluent_kafka' >/dev/null 2>&1 || py_missing+=(confluent-kafka)
"$PY" -c 'import kafka' >/dev/null 2>&1 || py_missing+=(kafka-python)
if [ "${#py_missing[@]}" -gt 0 ]; then
    log "pip install ${py_missing[*]}"
    # PIP_BREAK_SYSTEM_PACKAGES only matters for a Debian-managed interpreter.
    quiet env PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
        "$PY" -m pip install -q --root-user-action=ignore "${py_missing[@]}"
    "$PY" -c 'import kazoo, pytest, confluent_kafka, kafka' ||
        die "kazoo/pytest/confluent-kafka/kafka-python still not importable after pip install"
fi

exit 0
