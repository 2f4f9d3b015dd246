#!/usr/bin/env bash
# The awslogs driver (as root: tasks run on the real host runtime):
#   1. latency: a task prints a line every 50 ms for SECS seconds; a boto3 client follows its
#      stream with GetLogEvents (nextForwardToken, polled every 10 ms) and takes, for each
#      event, the time it was first seen minus its timestamp (the time the agent read the
#      line): p50, p99, max;
#   2. throughput: a container writes MB megabytes of 100-byte lines as fast as it can, timed
#      by busybox `time` inside the container, (a) to /dev/null, (b) to its stdout with
#      awslogs in non-blocking mode (default buffer), (c) in blocking mode; the slowdown is
#      (b or c) / (a).
#
#   scripts/bench-awslogs.sh [seconds] [MB]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
MB=${2:-200}
. scripts/bench-lib.sh
SETTLE=3 bench_setup /var/tmp/ferrogate-bench-awslogs.XXXXXX
python3 tests/py/mkimage.py "$WORK/busybox.tar" busybox:latest >/dev/null
"$BIN/ferrogate" images load --data-dir "$WORK/data" "$WORK/busybox.tar" >/dev/null
bench_serve 4730
sleep 2
AK=$(sed -n 's/^aws_access_key_id=//p' "$WORK/data/credentials")
SK=$(sed -n 's/^aws_secret_access_key=//p' "$WORK/data/credentials")
echo "load before: $(uptime)"
AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_DEFAULT_REGION=us-east-1 \
  python3 - http://127.0.0.1:4730 "$SECS" "$MB" <<'PY'
import json, sys, time, boto3
ep, secs, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
iam = boto3.client("iam", endpoint_url=ep)
ecs = boto3.client("ecs", endpoint_url=ep)
ec2 = boto3.client("ec2", endpoint_url=ep)
logs = boto3.client("logs", endpoint_url=ep)
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
role = iam.create_role(RoleName="exec", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
iam.put_role_policy(RoleName="exec", PolicyName="logs", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]}))
logs.create_log_group(logGroupName="bench")
ecs.create_cluster(clusterName="bench")
subnet = sorted(s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"])[0]
net = {"awsvpcConfiguration": {"subnets": [subnet]}}
def register(family, script, mode=None):
    c = {"name": "app", "image": "busybox", "command": ["sh", "-c", script]}
    if mode:
        c["logConfiguration"] = {"logDriver": "awslogs", "options": {"awslogs-group": "bench", "awslogs-region": "us-east-1", "awslogs-stream-prefix": family, "mode": mode}}
    ecs.register_task_definition(family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="1024", memory="2048",
        executionRoleArn=role, containerDefinitions=[c])
def run(family):
    arn = ecs.run_task(cluster="bench", taskDefinition=family, launchType="FARGATE", networkConfiguration=net)["tasks"][0]["taskArn"]
    return arn, arn.rsplit("/", 1)[1]
def wait(arn, want):
    while True:
        t = ecs.describe_tasks(cluster="bench", tasks=[arn])["tasks"][0]
        if t["lastStatus"] == want: return t
        if t["lastStatus"] == "STOPPED": raise SystemExit(f"task stopped: {t.get('stoppedReason')}")
        time.sleep(0.01)
def pct(xs, p): xs = sorted(xs); return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

# 1. Latency.
register("ticker", f"i=0; while [ $i -lt {secs * 20} ]; do echo tick $i; i=$((i+1)); usleep 50000; done", "non-blocking")
arn, tid = run("ticker")
wait(arn, "RUNNING")
stream, token, lat, seen = f"ticker/app/{tid}", None, [], 0
end = time.time() + secs + 5
while time.time() < end and seen < secs * 20:
    kw = {"logGroupName": "bench", "logStreamName": stream, "startFromHead": True}
    if token: kw["nextToken"] = token
    try:
        r = logs.get_log_events(**kw)
    except logs.exceptions.ResourceNotFoundException:
        time.sleep(0.01); continue
    now = time.time() * 1000
    for e in r["events"]:
        lat.append(now - e["timestamp"]); seen += 1
    token = r["nextForwardToken"]
    time.sleep(0.01)
print(f"LATENCY events={len(lat)} p50={pct(lat,50):.0f} ms p99={pct(lat,99):.0f} ms max={max(lat):.0f} ms")
wait(arn, "STOPPED")

# 2. Throughput: 100-byte lines (99 characters and a newline).
line = "x" * 99
def timed(family, mode, sink):
    register(family, f"time sh -c 'yes {line} | head -c {mb}000000 {sink}'", mode)
    arn, tid = run(family)
    wait(arn, "STOPPED")
    if mode is None:
        return None
    ev = logs.filter_log_events(logGroupName="bench", logStreamNames=[f"{family}/app/{tid}"], filterPattern="real")["events"]
    return [e["message"] for e in ev]
# The /dev/null run logs its `time` output through awslogs too (only stderr reaches it).
res = {}
for fam, mode, sink in [("null", "non-blocking", "> /dev/null"), ("nonblocking", "non-blocking", ""), ("blocking", "blocking", "")]:
    msgs = timed(fam, mode, sink)
    real = [m for m in msgs if m.strip().startswith("real")]
    # busybox: "real\t0m 1.23s"
    tok = real[0].split() if real else sys.exit(f"no time output for {fam}: {msgs}")
    res[fam] = float(tok[1].rstrip("m")) * 60 + float(tok[2].rstrip("s"))
    print(f"THROUGHPUT {fam}: {mb} MB of 100-byte lines in {res[fam]:.2f} s ({mb / res[fam]:.0f} MB/s)")
for fam in ["nonblocking", "blocking"]:
    print(f"SLOWDOWN {fam} vs /dev/null: {res[fam] / res['null']:.2f}x")
PY
echo "load after: $(uptime)"
