#!/usr/bin/env bash
# Instructions per delivery of `Verifier::verify` beside the bare MAC, per
# preset and body size, counted by callgrind (exact; immune to a busy
# machine). Prints, per line: preset, body bytes, floor and verify
# instructions per call, verify's extra instructions, and verify / floor.
#
# Valgrind does not emulate the SHA extensions, so under it sha2 runs its
# portable code: the floor counted here is the software MAC's. The extra
# instructions (verify - floor) are what hookwarden adds either way.
#
# Usage: bash scripts/instructions.sh [sizes...]   (default: 64 1024 65536)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
bin=$(cargo bench -p hookwarden-core --bench instructions --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "instructions" and m.get("executable"):
        print(m["executable"])')
sizes=("${@:-64 1024 65536}")
presets=(ntxpay paynetworx 4pay 4pay-sha512 terminal standard-webhooks svix stripe github shopify slack)
count() { # mode preset size iterations -> total instructions
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" "$4" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-18s %8s %12s %12s %10s %8s\n' preset bytes floor/call verify/call extra ratio
for size in ${sizes[*]}; do
    iterations=$((size >= 65536 ? 50 : 2000))
    for preset in "${presets[@]}"; do
        setup=$(count setup "$preset" "$size" "$iterations")
        floor=$(count floor "$preset" "$size" "$iterations")
        verify=$(count verify "$preset" "$size" "$iterations")
        python3 - "$preset" "$size" "$iterations" "$setup" "$floor" "$verify" <<'PY'
import sys
preset, size, n, setup, floor, verify = sys.argv[1], *map(int, sys.argv[2:])
f, v = (floor - setup) / n, (verify - setup) / n
print(f"{preset:<18} {size:>8} {f:>12.0f} {v:>12.0f} {v - f:>10.0f} {v / f:>8.3f}")
PY
    done
done
