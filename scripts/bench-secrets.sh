#!/usr/bin/env bash
# Secrets Manager GetSecretValue through the full path (SigV4, IAM, the audit record made
# durable before the answer, the value decrypted): a secret under the default key, and one
# under a customer managed key (each read also a KMS Decrypt, authorized and recorded, made
# with the caller's credentials), against Ferrogate and, in the same run, moto's Secrets
# Manager (the peer), with the same load generator.
#
#   scripts/bench-secrets.sh [seconds] [concurrency]   # needs: pip install 'moto[server]'
#
# Prints markdown table rows.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONC=${2:-8}
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bench_setup
bench_serve 4730
bench_peer_and_keys 4731

setup() { # endpoint key secret: a 1 KiB secret under the default key and one under a CMK
  AWS_ACCESS_KEY_ID=$2 AWS_SECRET_ACCESS_KEY=$3 AWS_DEFAULT_REGION=us-east-1 python3 - "$1" <<'PY'
import sys, boto3
sm = boto3.client("secretsmanager", endpoint_url=sys.argv[1])
kms = boto3.client("kms", endpoint_url=sys.argv[1])
sm.create_secret(Name="bench-default", SecretString="v" * 1024)
key = kms.create_key()["KeyMetadata"]["KeyId"]
sm.create_secret(Name="bench-cmk", SecretString="v" * 1024, KmsKeyId=key)
PY
}
setup http://127.0.0.1:4730 "$AK" "$SK"
if [ -n "$MOTO" ]; then setup http://127.0.0.1:4731 "$MOTO_AK" "$MOTO_SK"; fi

bench_header server operation concurrency
bench_row ferrogate http://127.0.0.1:4730 "$AK" "$SK" "secrets-get:bench-default" "$CONC" | sed 's/secrets-get/GetSecretValue (default key)/'
bench_row ferrogate http://127.0.0.1:4730 "$AK" "$SK" "secrets-get:bench-cmk" "$CONC" | sed 's/secrets-get/GetSecretValue (CMK)/'
if [ -n "$MOTO" ]; then
  bench_row moto http://127.0.0.1:4731 "$MOTO_AK" "$MOTO_SK" "secrets-get:bench-default" "$CONC" | sed 's/secrets-get/GetSecretValue (default key)/'
  bench_row moto http://127.0.0.1:4731 "$MOTO_AK" "$MOTO_SK" "secrets-get:bench-cmk" "$CONC" | sed 's/secrets-get/GetSecretValue (CMK)/'
fi
