#!/usr/bin/env bash
# hookwarden demo: sign a sample NTX Pay delivery, verify it, then show that a
# one-byte change to the body is rejected.
#
# Run with: bash scripts/demo.sh   (from any directory)
# Exits 0 when the genuine delivery verifies (exit 0) and the tampered one is
# rejected (exit 1); non-zero otherwise.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# A development secret, documented here so the demo is reproducible.
# NTX Pay uses the whole string, `whsec_` prefix included, as the key.
# Never use it for real deliveries.
secret='whsec_hookwarden_demo_development_only'
delivery_id='dlv_demo_0001'

echo "== building the CLI"
cargo build -q -p hookwarden-cli
hookwarden="${CARGO_TARGET_DIR:-$root/target}/debug/hookwarden"

work="$(mktemp -d "${TMPDIR:-/tmp}/hookwarden-demo.XXXXXX")"
trap 'rm -rf "$work"' EXIT

body="$work/body.json"
printf '%s' '{"id":"evt_1001","type":"payment.completed","data":{"amount":1000,"currency":"EUR"}}' >"$body"
echo "== body ($(wc -c <"$body" | tr -d ' ') bytes)"
cat "$body"
echo

echo "== hookwarden sign --scheme ntxpay --id $delivery_id"
signed="$("$hookwarden" sign --scheme ntxpay --secret "$secret" --id "$delivery_id" --body-file "$body")"
echo "$signed"

# Each `Name: value` line becomes a `--header` argument.
header_args=()
while IFS= read -r line; do
    header_args+=(--header "$line")
done <<<"$signed"

# Runs `hookwarden verify` on a body file, prints its output (stderr merged in,
# so a rejection shows its reason) and sets `status`.
verify() {
    local out
    if out="$("$hookwarden" verify --scheme ntxpay --secret "$secret" "${header_args[@]}" --body-file "$1" 2>&1)"; then
        status=0
    else
        status=$?
    fi
    echo "$out (exit $status)"
}

echo "== hookwarden verify (genuine body)"
verify "$body"
genuine=$status

tampered="$work/tampered.json"
sed 's/"amount":1000/"amount":9000/' "$body" >"$tampered"
if cmp -s "$body" "$tampered"; then
    echo "demo error: the tampering changed nothing" >&2
    exit 3
fi
echo "== hookwarden verify (body with one byte changed: amount 1000 -> 9000)"
verify "$tampered"
forged=$status

echo "== summary"
ok=true
if [[ $genuine -eq 0 ]]; then
    echo "  genuine delivery:  accepted (exit 0), as expected"
else
    echo "  genuine delivery:  exit $genuine, expected 0 (accepted)"
    ok=false
fi
if [[ $forged -eq 1 ]]; then
    echo "  tampered delivery: rejected (exit 1), as expected"
else
    echo "  tampered delivery: exit $forged, expected 1 (rejected)"
    ok=false
fi
if [[ $ok != true ]]; then
    echo "demo FAILED" >&2
    exit 1
fi
echo "demo OK"
