#!/usr/bin/env bash
# The single test entry point.
#
#   scripts/test.sh                 # deps, build, all Rust tests + pytest against zkraft
#   TEST_ORACLE=1 scripts/test.sh   # ...and the real-client suites against Apache ZooKeeper too
#
# Steps (each runs even if an earlier one failed; the exit code is non-zero if any failed):
#   1. scripts/install-test-deps.sh (Apache ZooKeeper 3.8 Debian packages, kazoo, pytest)
#   2. cargo build --release --workspace
#   3. cargo test --release --workspace (cargo-nextest if installed), ZK_IMPL unset (= zkraft)
#   4. pytest tests/python with ZK_IMPL=zkraft
#   5. (TEST_ORACLE=1) the real-client suites again with ZK_IMPL=apache: the `tests` crate's
#      integration tests named in ORACLE_TESTS (default: harness zkcli cli_mt rust_client)
#      and pytest tests/python
# Ends with one summary line: "summary: N passed, M failed" (tests counted over all runs).
#
# Env: TEST_THREADS (default 2), SKIP_DEPS=1 skips step 1, PYTHON (default python3).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2

THREADS="${TEST_THREADS:-2}"
PY="${PYTHON:-python3}"
LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/zkraft-test.XXXXXX")"
trap 'rm -rf "$LOGDIR"' EXIT

failed_steps=()
total_passed=0
total_failed=0
step_no=0

# Adds the test counts found in a step's log to the totals.
count_tests() {
    local log="$1" p f line
    if grep -qE '^ *Summary \[.*tests? run:' "$log"; then
        # nextest: "Summary [  12.3s] 40 tests run: 38 passed, 2 failed, 0 skipped" (its failure
        # reports also echo libtest's "test result:" lines, so those are not counted then)
        while read -r line; do
            p=$(sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p' <<<"$line")
            f=$(sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p' <<<"$line")
            total_passed=$((total_passed + ${p:-0})); total_failed=$((total_failed + ${f:-0}))
        done < <(grep -E '^ *Summary \[.*tests? run:' "$log")
    else
        # cargo test: "test result: ok. 12 passed; 0 failed; ..."
        while read -r p f; do
            total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
        done < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$log")
    fi
    # pytest: "==== 3 failed, 17 passed, 1 warning in 3.2s ====" or "17 passed in 3.2s"
    line=$(grep -E '^(=+ )?([0-9]+ (passed|failed|error|errors|skipped|warnings?|deselected)(, )?)+ in [0-9.]+s' "$log" | tail -1)
    if [ -n "$line" ]; then
        p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
        f=0
        for n in $(grep -oE '[0-9]+ (failed|errors?)' <<<"$line" | grep -oE '^[0-9]+'); do f=$((f + n)); done
        total_passed=$((total_passed + ${p:-0})); total_failed=$((total_failed + f))
    fi
}

# run_step NAME CMD...: runs CMD with output to the terminal and to a log; records failure.
run_step() {
    local name="$1"; shift
    step_no=$((step_no + 1))
    local log="$LOGDIR/step$step_no.log"
    echo
    echo "==== [$step_no] $name ===="
    local start=$SECONDS
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    count_tests "$log"
    if [ "$rc" -ne 0 ]; then
        echo "==== [$step_no] $name: FAILED (exit $rc, $((SECONDS - start))s) ===="
        failed_steps+=("$name")
    else
        echo "==== [$step_no] $name: ok ($((SECONDS - start))s) ===="
    fi
    return "$rc"
}

if [ -z "${SKIP_DEPS:-}" ]; then
    run_step "install test deps" "$ROOT/scripts/install-test-deps.sh"
fi

run_step "cargo build --release --workspace" cargo build --release --workspace

# cargo_tests LABEL ZK_IMPL_VALUE CARGO_SELECTION...: nextest when installed, else cargo test.
cargo_tests() {
    local label="$1" impl="$2"; shift 2
    local envs=(env -u ZK_IMPLS)
    if [ -n "$impl" ]; then envs+=(ZK_IMPL="$impl"); else envs+=(-u ZK_IMPL); fi
    if cargo nextest --version >/dev/null 2>&1; then
        run_step "cargo nextest $label" "${envs[@]}" timeout 2400 \
            cargo nextest run --release "$@" --test-threads "$THREADS" --no-fail-fast
    else
        run_step "cargo test $label" "${envs[@]}" timeout 2400 \
            cargo test --release "$@" --no-fail-fast -- --test-threads="$THREADS"
    fi
}

cargo_tests "--workspace (zkraft)" "" --workspace

run_step "pytest tests/python (zkraft)" env ZK_IMPL=zkraft \
    timeout 1200 "$PY" -m pytest -q -p no:cacheprovider tests/python

if [ -n "${TEST_ORACLE:-}" ] && [ "${TEST_ORACLE}" != "0" ]; then
    oracle_args=(-p tests)
    for t in ${ORACLE_TESTS:-harness zkcli cli_mt rust_client}; do oracle_args+=(--test "$t"); done
    cargo_tests "real-client suites (apache oracle)" apache "${oracle_args[@]}"
    run_step "pytest tests/python (apache oracle)" env ZK_IMPL=apache \
        timeout 1200 "$PY" -m pytest -q -p no:cacheprovider tests/python
fi

echo
if [ "${#failed_steps[@]}" -gt 0 ]; then
    echo "FAILED steps: ${failed_steps[*]}"
    # A failed step that ran no test (e.g. a build error) still counts as a failure.
    [ "$total_failed" -eq 0 ] && total_failed=${#failed_steps[@]}
    echo "summary: $total_passed passed, $total_failed failed"
    exit 1
fi
echo "summary: $total_passed passed, $total_failed failed"
exit 0
