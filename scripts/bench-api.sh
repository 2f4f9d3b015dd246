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
. scripts/bench-lib.sh
bench_setup

bench_serve 4700
bench_peer_and_keys 4701

bench_header server operation concurrency
for op in get-caller-identity lookup-events; do
  for c in 16 32; do
    bench_row ferrogate http://127.0.0.1:4700 "$AK" "$SK" "$op" "$c"
    if [ -n "$MOTO" ]; then bench_row moto http://127.0.0.1:4701 "$MOTO_AK" "$MOTO_SK" "$op" "$c"; fi
  done
done
