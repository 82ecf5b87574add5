#!/usr/bin/env bash
# By-hand Kafka broker benchmark: zkraft (zk-server + kafka-server) vs tansu, with librdkafka's
# rdkafka_performance as the client. Results (Markdown) on stdout, progress on stderr.
#
#   bench/kafka/run.sh                        # 3 repetitions of every default workload
#   bench/kafka/run.sh --reps 1 --workloads 100000x100
#   bench/kafka/run.sh --help                 # every option of bench.py
#
# What it needs, and sets up on first use under $BENCH_TOOLS (default /work/bench-tools,
# never committed):
#   - zkraft's release binaries zk-server and kafka-server: NOT built here; taken from
#     $ZKRAFT_BIN_DIR (default <repo>/target/release), e.g. `cargo build --release -p zk -p broker`.
#   - librdkafka and its rdkafka_performance example, built with gcc/make from librdkafka's
#     source as shipped inside the crates.io crate rdkafka-sys (fetched with cargo); needs
#     zlib1g-dev.
#   - tansu from crates.io (cargo install, features libsql for the sqlite storage engine and
#     dynostore for memory://).
#   - python3 with confluent-kafka (scripts/install-test-deps.sh) for topic creation.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tools="${BENCH_TOOLS:-/work/bench-tools}"
export BENCH_TOOLS="$tools"
TANSU_VERSION="${TANSU_VERSION:-0.6.0}"
# Debian 12's librdkafka 2.0.2 cannot talk to tansu 0.6 (its ApiVersions request fails with
# "Read underflow"), so the client is built from this newer source.
RDKAFKA_SYS_VERSION="${RDKAFKA_SYS_VERSION:-4.10.0+2.12.1}"
LIBRDKAFKA_VERSION="${RDKAFKA_SYS_VERSION#*+}"
mkdir -p "$tools"
say() { echo "[kafka-bench] $*" >&2; }

perf="${RDKAFKA_PERFORMANCE:-$tools/rdkafka-$LIBRDKAFKA_VERSION/rdkafka_performance}"
if [ ! -x "$perf" ]; then
    say "building librdkafka $LIBRDKAFKA_VERSION and rdkafka_performance (rdkafka-sys $RDKAFKA_SYS_VERSION)"
    if [ ! -f /usr/include/zlib.h ]; then
        apt-get install -y zlib1g-dev >&2 || { apt-get update >&2 && apt-get install -y zlib1g-dev >&2; }
    fi
    fetch="$tools/rdkafka-sys-fetch"
    mkdir -p "$fetch/src"
    printf '%s\n' '[package]' 'name = "rdkafka-sys-fetch"' 'version = "0.0.0"' 'edition = "2021"' \
        '[dependencies]' "rdkafka-sys = { version = \"=$RDKAFKA_SYS_VERSION\", default-features = false }" \
        '[workspace]' > "$fetch/Cargo.toml"
    : > "$fetch/src/lib.rs"
    (cd "$fetch" && cargo fetch --quiet >&2)
    crate_dir="$(cd "$fetch" && cargo metadata --format-version 1 | python3 -c '
import json, sys
pkgs = json.load(sys.stdin)["packages"]
print(next(p["manifest_path"] for p in pkgs if p["name"] == "rdkafka-sys").rsplit("/", 1)[0])')"
    out="$tools/rdkafka-$LIBRDKAFKA_VERSION"
    rm -rf "$out"
    cp -r "$crate_dir/librdkafka" "$out"
    # Only what the benchmark uses: plaintext, no SASL/TLS; gzip, snappy and lz4 stay in.
    (cd "$out" && ./configure --disable-ssl --disable-gssapi --disable-sasl --disable-curl \
        --disable-zstd --enable-static >&2 && make -j2 -C src librdkafka.a >&2)
    gcc -O2 -w -I"$out/src" -o "$out/rdkafka_performance" "$out/examples/rdkafka_performance.c" \
        "$out/src/librdkafka.a" -lm -lz -ldl -lpthread -lrt
    perf="$out/rdkafka_performance"
fi

tansu="${TANSU_BIN:-$tools/tansu/bin/tansu}"
if [ ! -x "$tansu" ]; then
    say "installing tansu $TANSU_VERSION from crates.io (takes a while)"
    CARGO_TARGET_DIR="$tools/tansu-build" cargo install tansu --version "$TANSU_VERSION" \
        --locked --features libsql,dynostore --root "$tools/tansu" >&2
    tansu="$tools/tansu/bin/tansu"
fi

python3 -c 'import confluent_kafka' 2>/dev/null || {
    say "confluent-kafka missing: run scripts/install-test-deps.sh"; exit 1; }

exec python3 "$here/bench.py" --perf "$perf" --tansu "$tansu" "$@"
