#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time and fails on any crash.
#
# Run with: bash scripts/fuzz.sh [target …]        (from any directory)
#   FUZZ_SECONDS=60   seconds per target (default 60)
#   FUZZ_JOBS=1       libFuzzer processes per target (default 1)
#
# Installs cargo-fuzz from crates.io when it is missing. On a stable
# toolchain cargo-fuzz needs nightly flags (-Zsanitizer=address), so the
# script sets RUSTC_BOOTSTRAP=1 for its own builds only. Each target starts
# from a seed corpus written from the published vectors
# (../shared/vectors.md: GitHub, Standard Webhooks, Stripe, stripe-node,
# Shopify, Slack, RFC 4231) and keeps what it finds in fuzz/corpus/<target>
# (ignored by git). A crash leaves its input in fuzz/artifacts/<target>/.
# The last line per target gives the executions run, e.g.
#   verify: 1234567 runs in 60 s, no crash
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds="${FUZZ_SECONDS:-60}"
jobs="${FUZZ_JOBS:-1}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz (crates.io)"
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# ------------------------------------------------------------ seed corpus
# seed <target> <file> <prefix, printf escapes> <data, written as is>
seed() {
    mkdir -p "fuzz/corpus/$1"
    { printf "$3"; printf '%s' "$4"; } >"fuzz/corpus/$1/seed-$2"
}

gh1_body='Hello, World!'
gh1_sig='757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'
gh2_body='{"foo":"bar"}'
gh2_sig='4864d2759938a15468b5df9ade20bf161da9b4f737ea61794142f3484236bda3'
sw_id='msg_27UH4WbU6Z5A5EzD8u03UvzRbpk'
sw_ts='1649367553'
sw_body='{"email":"test@example.com","username":"test_user"}'
sw_good='tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw='
sw_bad='R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU='
stripe_ts='1533204620'
stripe_sig='d7373bc68f4bd320b253cd7461f87af6e1cdf1b4d7db1614d8d1d746972d2d0a'
stripe_body='{"account":"acct_123","api_version":"2017-05-25","created":1533204620,"data":{"object":{"amount":1000,"currency":"usd","customer":"cus_123","date":1533204620,"description":"Test Invoice Item","discountable":false,"id":"ii_123","invoice":"in_123","livemode":false,"metadata":{},"object":"invoiceitem","period":{"end":1533204620,"start":1533204620},"proration":false,"quantity":3,"quantity_decimal":"0"}},"id":"evt_123","livemode":false,"object":"event","pending_webhooks":1,"request":{"id":"req_123","idempotency_key":"idempotency-key-123"},"type":"invoiceitem.created"}'
plain_empty='f7f9bd47fb987337b5796fdc1fdb9ba221d0d5396814bfcaf9521f43fd8927fd'
plain_json_body='{"obj1":"hello","obj2":"world"}'
plain_json='bebb1a643997f419b315ddba19e6f5411e1ce7f810ba6d3617ce72823092f363'
shopify_body='{"foo": "bar"}'
shopify_sig='B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g='
slack_ts='1531420618'
slack_sig='a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503'
slack_body='token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c'
rfc_body='what do ya want for nothing?'
rfc_sig='164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737'

# Signature syntaxes: a first byte picking the scheme variant (encoding x
# algorithm, see fuzz/src/lib.rs), then the header value.
seed sig_bare plain-empty '\x00' "$plain_empty"
seed sig_bare plain-json '\x00' "$plain_json"
seed sig_bare rfc4231 '\x01' "$rfc_sig"
seed sig_bare shopify '\x03' "$shopify_sig"
seed sig_prefixed github-1 '\x00' "sha256=$gh1_sig"
seed sig_prefixed github-2 '\x00' "sha256=$gh2_sig"
seed sig_prefixed slack '\x09' "v0=$slack_sig"
seed sig_key_value_list stripe '\x00' "t=$stripe_ts,v1=$stripe_sig"
seed sig_key_value_list stripe-two '\x00' "t=$stripe_ts,v1=$stripe_sig,v0=$stripe_sig,v1=$plain_json"
seed sig_versioned_list sw-good '\x03' "v1,$sw_good"
seed sig_versioned_list sw-both '\x03' "v1,$sw_bad v1,$sw_good v2,$sw_good"
# Timestamps: a first byte picking the format (seconds, millis, RFC 3339).
seed timestamp sw '\x00' "$sw_ts"
seed timestamp stripe '\x00' "$stripe_ts"
seed timestamp slack '\x00' "$slack_ts"
seed timestamp millis '\x01' "${sw_ts}000"
seed timestamp rfc3339 '\x02' '2018-07-12T18:36:58Z' # the Slack vector's time
seed timestamp rfc3339-offset '\x02' '2018-07-12T20:36:58.250+02:00'
# Secrets, as written.
for s in "It's a Secret to Everybody" mysecret whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD \
    secret test_secret test_secret_key 8f742231b10e8888abcd99yyyzzz85a5 Jefe; do
    seed secret "$(printf '%s' "$s" | cksum | cut -d' ' -f1)" '' "$s"
done
# JSON delivery IDs: a pointer, a newline, the body.
seed json_id stripe '' $'/id\n'"$stripe_body"
seed json_id stripe-deep '' $'/data/object/id\n'"$stripe_body"
# Whole deliveries: "<preset> <now>", header lines, an empty line, the body.
seed verify github-1 '' $'github 0\nx-hub-signature-256: sha256='"$gh1_sig"$'\n\n'"$gh1_body"
seed verify github-2 '' $'github 0\nx-hub-signature-256: sha256='"$gh2_sig"$'\n\n'"$gh2_body"
seed verify sw-good '' "standard-webhooks $sw_ts"$'\nwebhook-id: '"$sw_id"$'\nwebhook-timestamp: '"$sw_ts"$'\nwebhook-signature: v1,'"$sw_good"$'\n\n'"$sw_body"
seed verify sw-bad '' "standard-webhooks $sw_ts"$'\nwebhook-id: '"$sw_id"$'\nwebhook-timestamp: '"$sw_ts"$'\nwebhook-signature: v1,'"$sw_bad"$'\n\n'"$sw_body"
seed verify stripe '' "stripe $stripe_ts"$'\nstripe-signature: t='"$stripe_ts"',v1='"$stripe_sig"$'\n\n'"$stripe_body"
seed verify plain-empty '' $'4pay 0\nx-webhook-signature: '"$plain_empty"$'\n\n'
seed verify plain-json '' $'4pay 0\nx-webhook-signature: '"$plain_json"$'\n\n'"$plain_json_body"
seed verify shopify '' $'shopify 0\nx-shopify-hmac-sha256: '"$shopify_sig"$'\nx-shopify-webhook-id: 123456789\n\n'"$shopify_body"
seed verify slack '' "slack $slack_ts"$'\nx-slack-request-timestamp: '"$slack_ts"$'\nx-slack-signature: v0='"$slack_sig"$'\n\n'"$slack_body"
seed verify rfc4231 '' $'4pay-sha512 0\napi-notification-sign: '"$rfc_sig"$'\n\n'"$rfc_body"
# Round trips: a preset byte (index in presets::NAMES), the secret's
# length, the secret, the body.
seed roundtrip github '\x08\x1a' "It's a Secret to Everybody$gh1_body"
seed roundtrip stripe '\x07\x06' "secret$stripe_body"
seed roundtrip slack '\x0a\x20' "8f742231b10e8888abcd99yyyzzz85a5$slack_body"
seed roundtrip sw '\x05\x26' "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD$sw_body"
seed roundtrip terminal '\x04\x00' "$plain_json_body"

# ------------------------------------------------------------ the runs
echo "== building the fuzz targets"
nice cargo fuzz build

summary=()
failed=0
for target in "${targets[@]}"; do
    log="fuzz/artifacts/$target.log"
    mkdir -p fuzz/artifacts "fuzz/corpus/$target"
    echo "== $target: ${seconds} s"
    parallel=()
    if [ "$jobs" -gt 1 ]; then
        # libFuzzer then writes each worker's log to fuzz-<n>.log here.
        parallel=(-jobs="$jobs" -workers="$jobs")
    fi
    if nice cargo fuzz run "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        "${parallel[@]}" -print_final_stats=1 >"$log" 2>&1; then
        status="no crash"
    else
        status="CRASHED (see $log and fuzz/artifacts/$target/)"
        failed=1
    fi
    runs="$(cat "$log" fuzz-*.log 2>/dev/null | grep -h 'stat::number_of_executed_units' |
        awk '{ total += $2 } END { print total + 0 }' || true)"
    rm -f fuzz-*.log
    summary+=("$target: $runs runs in $seconds s, $status")
    tail -n 3 "$log"
done

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
