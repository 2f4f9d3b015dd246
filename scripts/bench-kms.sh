#!/usr/bin/env bash
# KMS throughput through the full path (SigV4, key policy evaluation, audit record made
# durable before the answer): Encrypt, Decrypt, GenerateDataKey, and STS GetCallerIdentity
# (the cheapest signed, audited call), at fixed concurrency, against Ferrogate and, in the
# same run, moto's KMS (the peer), with the same load generator.
#
#   scripts/bench-kms.sh [seconds-per-run] [concurrency...]   # needs: pip install 'moto[server]'
#   OPS="get-caller-identity" scripts/bench-kms.sh 10 32      # only some operations
#   NO_PEER=1 scripts/bench-kms.sh 10 32                      # Ferrogate alone
#   BINDIR=/other/target/release scripts/bench-kms.sh 10 32   # those binaries, no build
#
# Prints one markdown table row per (server, operation, concurrency), with the CPU time per
# request of the server (in all and by thread) and of the load generator, read from /proc:
# the measure that holds when the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
shift || true
CONC=${*:-32}
. scripts/bench-lib.sh
bench_setup

OPS=${OPS:-encrypt decrypt generate-data-key get-caller-identity}
export BENCH_CPU=1

bench_serve 4710
bench_peer_and_keys 4711

# A key and one ciphertext (under the context the benchmark sends) on each server.
setup() { # endpoint key secret -> "key-id blob"
  AWS_ACCESS_KEY_ID=$2 AWS_SECRET_ACCESS_KEY=$3 AWS_DEFAULT_REGION=us-east-1 python3 - "$1" <<'PY'
import base64, sys, boto3
kms = boto3.client("kms", endpoint_url=sys.argv[1])
k = kms.create_key()["KeyMetadata"]["KeyId"]
c = kms.encrypt(KeyId=k, Plaintext=b"hello world", EncryptionContext={"purpose": "bench"})["CiphertextBlob"]
print(k, base64.b64encode(c).decode())
PY
}
read -r FKEY FBLOB < <(setup http://127.0.0.1:4710 "$AK" "$SK")
if [ -n "$MOTO" ]; then read -r MKEY MBLOB < <(setup http://127.0.0.1:4711 "$MOTO_AK" "$MOTO_SK"); fi

bench_header server operation concurrency
for c in $CONC; do
  for op in $OPS; do
    case $op in
      decrypt) f="kms-decrypt:$FBLOB"; m="kms-decrypt:${MBLOB:-}";;
      get-caller-identity) f=$op; m=$op;;
      *) f="kms-$op:$FKEY"; m="kms-$op:${MKEY:-}";;
    esac
    bench_row ferrogate http://127.0.0.1:4710 "$AK" "$SK" "$f" "$c" "$FERROGATE_PID"
    if [ -n "$MOTO" ]; then bench_row moto http://127.0.0.1:4711 "$MOTO_AK" "$MOTO_SK" "$m" "$c" "${MOTO_PID:-}"; fi
  done
done
