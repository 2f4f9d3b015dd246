#!/usr/bin/env bash
# API throughput benchmark: signed requests at fixed concurrency against Ferrogate and,
# in the same run, moto's server (the peer), with the same load generator.
#
#   scripts/bench-api.sh [seconds-per-run]        # needs: pip install 'moto[server]'
#
# Prints one markdown table row per (server, operation, concurrency).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ferrogate-target}"
cargo build --release -q -p ferrogate -p ferrogate-bench
BIN="$CARGO_TARGET_DIR/release"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT

"$BIN/ferrogate" serve --listen 127.0.0.1:4700 --data-dir "$WORK/data" > "$WORK/ferrogate.log" 2>&1 &
MOTO=""
if command -v moto_server >/dev/null 2>&1; then
  moto_server -p 4701 > "$WORK/moto.log" 2>&1 &
  MOTO=yes
fi
sleep 2
AK=$(sed -n 's/^aws_access_key_id=//p' "$WORK/data/credentials")
SK=$(sed -n 's/^aws_secret_access_key=//p' "$WORK/data/credentials")

row() { # name endpoint key secret op concurrency
  out=$("$BIN/ferrogate-bench" --endpoint "$2" --access-key "$3" --secret "$4" --op "$5" --concurrency "$6" --seconds "$SECS")
  get() { echo "$out" | tr ' ' '\n' | sed -n "s|^$1=||p"; }
  echo "| $1 | $5 | $6 | $(get req/s) | $(get p50_ms) | $(get p99_ms) | $(get errors) |"
}

echo "| server | operation | concurrency | req/s | p50 ms | p99 ms | errors |"
echo "|---|---|---|---|---|---|---|"
for op in get-caller-identity lookup-events; do
  for c in 16 32; do
    row ferrogate http://127.0.0.1:4700 "$AK" "$SK" "$op" "$c"
    if [ -n "$MOTO" ]; then
      row moto http://127.0.0.1:4701 AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY "$op" "$c"
    fi
  done
done
