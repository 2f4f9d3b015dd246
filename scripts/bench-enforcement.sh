#!/usr/bin/env bash
# What the policy engine costs per request: the same signed IAM GetUser call, made by the
# root user (no identity policies to evaluate) and by an IAM user whose 10 attached managed
# policies hold 10 statements each, all with conditions, only the last one allowing.
#
#   scripts/bench-enforcement.sh [seconds-per-run]        # needs the aws CLI
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
. scripts/bench-lib.sh
bench_setup
bench_serve 4702
sleep 2
eval "$("$BIN/ferrogate" credentials --data-dir "$WORK/data")"
export AWS_MAX_ATTEMPTS=1 AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1
ROOT_AK=$AWS_ACCESS_KEY_ID ROOT_SK=$AWS_SECRET_ACCESS_KEY

aws iam create-user --user-name bench > /dev/null
for p in $(seq 1 10); do
  stmts=""
  for s in $(seq 1 10); do
    if [ "$p" = 10 ] && [ "$s" = 10 ]; then
      st='{"Effect":"Allow","Action":["iam:GetUser","iam:Get*"],"Resource":"arn:aws:iam::*:user/bench","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}'
    else
      st="{\"Effect\":\"Allow\",\"Action\":[\"iam:GetUser\",\"iam:List*\"],\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"aws:RequestedRegion\":\"eu-west-$s$p\"},\"DateGreaterThan\":{\"aws:CurrentTime\":\"2020-01-0${s:0:1}T00:00:00Z\"}}}"
    fi
    stmts="$stmts${stmts:+,}$st"
  done
  arn=$(aws iam create-policy --policy-name "p$p" --policy-document "{\"Version\":\"2012-10-17\",\"Statement\":[$stmts]}" --query Policy.Arn --output text)
  aws iam attach-user-policy --user-name bench --policy-arn "$arn"
done
read -r AK SK < <(aws iam create-access-key --user-name bench --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)

bench_header caller "policies evaluated"
for who in root user root user; do
  if [ "$who" = root ]; then k=$ROOT_AK; s=$ROOT_SK; n="none (root)"; else k=$AK; s=$SK; n="10 x 10 statements"; fi
  echo "| $who | $n | $(bench_run "$AWS_ENDPOINT_URL" "$k" "$s" get-user:bench 32) |"
done
