#!/usr/bin/env bash
# The benchmarks of issue 8, as BENCHMARKS.md reports them. Installs what is
# missing (redis-server, valgrind, util-linux's taskset from Debian's
# packages), then runs, in order:
#   1. the load harness: axum and actix-web, bare / bare MAC / naive /
#      hookwarden, and hookwarden with Redis (crates/hookwarden-bench), one
#      server at a time and then all together;
#   2. the paired ratios (verify / floor, RustCrypto / ring), then criterion's
#      figures: cargo bench -p hookwarden-core;
#   3. the peer comparison, a crate outside the workspace (benches/peers);
#   4. MemoryStore's bytes per entry, and callgrind's instruction counts.
# Usage: bash scripts/bench.sh [load|core|peers|memory|instructions]...  (default: all)
# Extra options for the load harness: LOAD_ARGS="--seconds 10 --rounds 3".
set -euo pipefail
cd "$(dirname "$0")/.."

need() { # command package
    command -v "$1" >/dev/null 2>&1 && return
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(load core peers memory instructions)
for part in "${parts[@]}"; do
    echo "== $part ($(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg))"
    case "$part" in
    load)
        need redis-server redis-server
        need taskset util-linux
        cargo build --release --locked -p hookwarden-bench
        # shellcheck disable=SC2086
        ./target/release/hookwarden-load load ${LOAD_ARGS:-}
        # The same servers side by side, all at once on the same core.
        ./target/release/hookwarden-load load --together --seconds 4 --warmup 1 --rounds 10
        ;;
    core)
        cargo bench --locked -p hookwarden-core --bench ratios
        cargo bench --locked -p hookwarden-core --bench verify --bench store -- --noplot
        ;;
    peers)
        (cd benches/peers && cargo bench --locked -- --noplot)
        ;;
    memory)
        cargo bench --locked -p hookwarden-core --bench store_memory
        ;;
    instructions)
        need valgrind valgrind
        bash scripts/instructions.sh 64 1024 65536
        ;;
    *)
        echo "unknown part $part" >&2
        exit 2
        ;;
    esac
done
