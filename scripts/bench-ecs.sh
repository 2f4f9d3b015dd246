#!/usr/bin/env bash
# ECS task benchmarks through the API (as root: tasks run on the real host runtime):
#   1. RunTask -> RUNNING and StopTask -> STOPPED latency, 20 GiB volumes, a customer managed
#      key (the whole Fargate key flow: GenerateDataKeyWithoutPlaintext, CreateGrant, Decrypt,
#      RetireGrant, each authorized and audited), each task with its own network interface
#      (an address of a default subnet, its veth, routes and security-group rules);
#   2. how many tasks run at once (up to a target) and host memory per task;
#   3. DescribeTasks throughput against Ferrogate and, in the same run, moto.
#
#   scripts/bench-ecs.sh [runs] [max-tasks] [seconds]    # needs: pip install 'moto[server]'
#   VOLUME_BACKEND=xts|fscrypt|auto (default auto, as the server) picks the task volumes' encryption.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-30}
MAX=${2:-200}
SECS=${3:-10}
VOLUME_BACKEND=${VOLUME_BACKEND:-auto}
. scripts/bench-lib.sh
SETTLE=3 bench_setup /var/tmp/ferrogate-bench-ecs.XXXXXX

python3 tests/py/mkimage.py "$WORK/busybox.tar" busybox:latest >/dev/null
"$BIN/ferrogate" images load --data-dir "$WORK/data" "$WORK/busybox.tar" >/dev/null
# Up to MAX tasks of 0.25 vCPU / 512 MiB / 20 GiB at once on a small host: the bench
# raises the admission limits (which default to the host's real capacity) so that the
# concurrency test measures the runtime, not the host's size. Each task's pids.max is kept
# at 128 so that the tasks' process ids fit in this kernel's pid_max.
bench_serve 4720 \
  --allocatable-cpu $((256 * (MAX + 10))) --allocatable-memory $((512 * (MAX + 10))) \
  --allocatable-disk $((20 * (MAX + 10))) --task-pids-max 128 \
  --allocatable-pids $((128 * (MAX + 10))) --volume-backend "$VOLUME_BACKEND"
bench_peer_and_keys 4721

AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_DEFAULT_REGION=us-east-1 \
  python3 - http://127.0.0.1:4720 "$RUNS" "$MAX" > "$WORK/tasks.out" <<'PY'
import json, sys, time, statistics, boto3
ep, runs, maxn = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kms = boto3.client("kms", endpoint_url=ep)
ecs = boto3.client("ecs", endpoint_url=ep)
acct = "000000000000"
def fargate(action, extra=None):
    cond = {"StringEquals": {"kms:EncryptionContext:aws:ecs:clusterAccount": [acct], "kms:EncryptionContext:aws:ecs:clusterName": ["bench"]}}
    if extra: cond.update(extra)
    return {"Effect": "Allow", "Principal": {"Service": "fargate.amazonaws.com"}, "Action": [action], "Condition": cond, "Resource": "*"}
policy = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}, "Action": "kms:*", "Resource": "*"},
    fargate("kms:GenerateDataKeyWithoutPlaintext"),
    fargate("kms:CreateGrant", {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt"]}})]}
key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
ecs.create_cluster(clusterName="bench", configuration={"managedStorageConfiguration": {"fargateEphemeralStorageKmsKeyId": key}})
ecs.register_task_definition(family="sleeper", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
    containerDefinitions=[{"name": "app", "image": "busybox", "command": ["sleep", "100000"]}])
# Every task gets its own interface in the default VPC's first default subnet (a /20), with
# the VPC's default security group: RunTask -> RUNNING includes the task's network setup.
ec2 = boto3.client("ec2", endpoint_url=ep)
subnet = sorted(s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"])[0]
net = {"awsvpcConfiguration": {"subnets": [subnet]}}
def status(arns):
    out = []
    for i in range(0, len(arns), 100):
        out += ecs.describe_tasks(cluster="bench", tasks=arns[i:i+100])["tasks"]
    return out
def wait(arn, want):
    while True:
        t = ecs.describe_tasks(cluster="bench", tasks=[arn])["tasks"][0]
        if t["lastStatus"] == want: return t
        if t["lastStatus"] == "STOPPED": raise SystemExit(f"task stopped: {t.get('stoppedReason')}")
        time.sleep(0.002)
up, down = [], []
for i in range(runs + 1):
    t0 = time.perf_counter()
    arn = ecs.run_task(cluster="bench", taskDefinition="sleeper", launchType="FARGATE", networkConfiguration=net)["tasks"][0]["taskArn"]
    wait(arn, "RUNNING"); t1 = time.perf_counter()
    ecs.stop_task(cluster="bench", task=arn)
    wait(arn, "STOPPED"); t2 = time.perf_counter()
    if i > 0:  # the first is a warm-up
        up.append((t1 - t0) * 1000); down.append((t2 - t1) * 1000)
def pct(xs, p): xs = sorted(xs); return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
print(f"RUNNING p50={pct(up,50):.1f} p99={pct(up,99):.1f} STOPPED p50={pct(down,50):.1f} p99={pct(down,99):.1f} runs={runs}")
# Security-group changes reaching a running task: an httpd task in its own group; the time
# from an AuthorizeSecurityGroupIngress answer to the first accepted connection from the
# host, and from a Revoke answer to the first refused one (new connections, 50 ms connect
# timeout each: the granularity).
import socket
ecs.register_task_definition(family="web", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
    containerDefinitions=[{"name": "app", "image": "busybox", "portMappings": [{"containerPort": 8080}],
        "command": ["sh", "-c", "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www"]}])
vpc = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
sg = ec2.create_security_group(GroupName="bench-web", Description="bench", VpcId=vpc)["GroupId"]
web = ecs.run_task(cluster="bench", taskDefinition="web", launchType="FARGATE",
    networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg]}})["tasks"][0]["taskArn"]
ip = [d["value"] for d in wait(web, "RUNNING")["attachments"][0]["details"] if d["name"] == "privateIPv4Address"][0]
def reachable():
    try:
        socket.create_connection((ip, 8080), timeout=0.05).close(); return True
    except OSError:
        return False
perm = [{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
allow, deny = [], []
for _ in range(10):
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=perm); t0 = time.perf_counter()
    while not reachable(): pass
    allow.append((time.perf_counter() - t0) * 1000)
    ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=perm); t0 = time.perf_counter()
    while reachable(): pass
    deny.append((time.perf_counter() - t0) * 1000)
print(f"RULES authorize->reachable p50={pct(allow,50):.1f} max={max(allow):.1f} revoke->refused p50={pct(deny,50):.1f} max={max(deny):.1f} ms")
ecs.stop_task(cluster="bench", task=web); wait(web, "STOPPED")
def meminfo():
    m = {l.split(":")[0]: int(l.split()[1]) for l in open("/proc/meminfo")}
    return m["MemAvailable"]
before = meminfo(); arns = []; failed = None
while len(arns) < maxn and failed is None:
    n = min(10, maxn - len(arns))
    r = ecs.run_task(cluster="bench", taskDefinition="sleeper", launchType="FARGATE", networkConfiguration=net, count=n)
    arns += [t["taskArn"] for t in r["tasks"]]
    while True:
        ts = status(arns[-n:])
        if any(t["lastStatus"] == "STOPPED" for t in ts):
            failed = [t.get("stoppedReason") for t in ts if t["lastStatus"] == "STOPPED"][0]; break
        if all(t["lastStatus"] == "RUNNING" for t in ts): break
        time.sleep(0.05)
running = sum(1 for t in status(arns) if t["lastStatus"] == "RUNNING")
after = meminfo()
print(f"CONCURRENT running={running} target={maxn} mem_per_task_kib={(before - after) / max(running, 1):.0f} first_failure={failed}")
print(f"DESCRIBE {arns[0].rsplit('/', 1)[1]}")
for a in arns: ecs.stop_task(cluster="bench", task=a)
deadline = time.time() + 120
while time.time() < deadline and any(t["lastStatus"] != "STOPPED" for t in status(arns)): time.sleep(0.5)
PY
sed 's/\x1b\[[0-9;]*m//g' "$WORK/ferrogate.log" | grep -o 'volume backend.*' | head -1
cat "$WORK/tasks.out" | grep -v '^DESCRIBE'
TASK=$(sed -n 's/^DESCRIBE //p' "$WORK/tasks.out")

bench_header server operation concurrency
echo "| ferrogate | DescribeTasks | 32 | $(bench_run http://127.0.0.1:4720 "$AK" "$SK" "ecs-describe-tasks:bench/$TASK" 32) |"
if [ -n "$MOTO" ]; then
  MTASK=$(AWS_ACCESS_KEY_ID=$MOTO_AK AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1 python3 - <<'PY'
import boto3
ecs = boto3.client("ecs", endpoint_url="http://127.0.0.1:4721")
ecs.create_cluster(clusterName="bench")
# moto 5.2's RunTask fails with an internal error for awsvpc tasks (its ENI model lacks
# private_dns_name), so its task is a bridge-mode one: DescribeTasks reads it the same way.
ecs.register_task_definition(family="sleeper", cpu="256", memory="512",
    containerDefinitions=[{"name": "app", "image": "busybox", "command": ["sleep", "100000"], "cpu": 256, "memory": 512}])
r = ecs.run_task(cluster="bench", taskDefinition="sleeper", launchType="FARGATE")
print(r["tasks"][0]["taskArn"].rsplit("/", 1)[1])
PY
)
  echo "| moto | DescribeTasks | 32 | $(bench_run http://127.0.0.1:4721 "$MOTO_AK" x "ecs-describe-tasks:bench/$MTASK" 32) |"
fi
