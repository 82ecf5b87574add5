# Shared by the bin/ wrappers: where the zkraft binaries are.
ZKRAFT_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
zkraft_bin() {
    local name="$1"
    for d in "${ZKRAFT_BIN_DIR:-}" "$ZKRAFT_HOME/target/release" "$ZKRAFT_HOME/target/debug"; do
        if [ -n "$d" ] && [ -x "$d/$name" ]; then echo "$d/$name"; return 0; fi
    done
    echo "zkraft: $name not built; run: cargo build --release" >&2
    return 1
}
