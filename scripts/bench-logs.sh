#!/usr/bin/env bash
# CloudWatch Logs through the full path (SigV4, IAM, the audit record, AES-256-GCM chunks made
# durable before the answer): PutLogEvents ingestion (batches of 1,000 events of 100 bytes) at
# fixed concurrency, then FilterLogEvents with a term over everything stored (at least
# 1,000,000 events after a 10 s run at the target rate), against Ferrogate and, in the same
# run, moto's CloudWatch Logs (the peer), with the same load generator.
#
#   scripts/bench-logs.sh [seconds] [concurrency]   # needs: pip install 'moto[server]'
#
# Prints markdown table rows.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONC=${2:-8}
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bench_setup
bench_serve 4720
bench_peer_and_keys 4721

setup() { # endpoint key secret: a group, a stream, one event with the term searched for
  AWS_ACCESS_KEY_ID=$2 AWS_SECRET_ACCESS_KEY=$3 AWS_DEFAULT_REGION=us-east-1 python3 - "$1" <<'PY'
import sys, time, boto3
logs = boto3.client("logs", endpoint_url=sys.argv[1])
for g in ["bench", "filter"]:
    logs.create_log_group(logGroupName=g)
    logs.create_log_stream(logGroupName=g, logStreamName="s")
logs.create_log_stream(logGroupName="filter", logStreamName="needle")
logs.put_log_events(logGroupName="filter", logStreamName="needle",
                    logEvents=[{"timestamp": int(time.time() * 1000), "message": "found the NEEDLE here"}])
PY
}
setup http://127.0.0.1:4720 "$AK" "$SK"
if [ -n "$MOTO" ]; then setup http://127.0.0.1:4721 "$MOTO_AK" "$MOTO_SK"; fi

row() { # name endpoint key secret op concurrency seconds [extra flags]
  out=$("$BIN/ferrogate-bench" --endpoint "$2" --access-key "$3" --secret "$4" --op "$5" --concurrency "$6" --seconds "$7" "${@:8}")
  get() { echo "$out" | tr ' ' '\n' | sed -n "s|^$1=||p"; }
  rps=$(get req/s); reqs=$(get requests)
  case $5 in
    logs-put*) echo "| $1 | PutLogEvents (1,000 x 100 B) | $6 | $((rps * 1000)) events/s ($rps req/s) | $(get p50_ms) | $(get p99_ms) | $(get errors) | $((reqs * 1000)) events stored |";;
    *) echo "| $1 | FilterLogEvents (term) | $6 | $rps req/s | $(get p50_ms) | $(get p99_ms) | $(get errors) | |";;
  esac
}

echo "| server | operation | concurrency | throughput | p50 ms | p99 ms | errors | |"
echo "|---|---|---|---|---|---|---|---|"
row ferrogate http://127.0.0.1:4720 "$AK" "$SK" "logs-put:bench:s" "$CONC" "$SECS"
if [ -n "$MOTO" ]; then row moto http://127.0.0.1:4721 "$MOTO_AK" "$MOTO_SK" "logs-put:bench:s" "$CONC" "$SECS"; fi
# Exactly 1,000,000 events (plus the needle) in the group FilterLogEvents searches.
row ferrogate http://127.0.0.1:4720 "$AK" "$SK" "logs-put:filter:s" "$CONC" 0 --requests 1000
if [ -n "$MOTO" ]; then row moto http://127.0.0.1:4721 "$MOTO_AK" "$MOTO_SK" "logs-put:filter:s" "$CONC" 0 --requests 1000; fi
row ferrogate http://127.0.0.1:4720 "$AK" "$SK" "logs-filter:filter:NEEDLE" 1 "$SECS"
if [ -n "$MOTO" ]; then row moto http://127.0.0.1:4721 "$MOTO_AK" "$MOTO_SK" "logs-filter:filter:NEEDLE" 1 "$SECS"; fi
