#!/usr/bin/env bash
# Runs every test of the workspace, the Redis store's included.
#
# Run with: bash scripts/test.sh [extra `cargo test` arguments]   (from any directory)
#
# The Redis tests start their own `redis-server` (on a free port, in a
# temporary folder); this script installs it from Debian's packages when it
# is missing, then runs `cargo test --workspace --locked`. Elsewhere, install
# Redis 7 or later yourself (or, outside CI, set HOOKWARDEN_SKIP_REDIS=1 to
# skip those tests loudly).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v redis-server >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "== installing redis-server (Debian package) for the Redis tests"
        sudo=()
        if [ "$(id -u)" -ne 0 ]; then
            sudo=(sudo)
        fi
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    else
        echo "!! redis-server is not installed and this is not a Debian system:" >&2
        echo "!! install Redis 7 or later, or set HOOKWARDEN_SKIP_REDIS=1 (outside CI) to skip its tests" >&2
    fi
fi
if command -v redis-server >/dev/null 2>&1; then
    echo "== $(redis-server --version)"
fi

echo "== cargo test --workspace --locked $*"
exec cargo test --workspace --locked "$@"
