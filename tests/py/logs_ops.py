"""CloudWatch Logs through boto3: groups (paging, prefix, pattern), streams (orderBy,
descending, paging), PutLogEvents limits, GetLogEvents and FilterLogEvents paging, JSON
filter patterns, tags, retention.

Exits non-zero with a message on the first failure; prints "ok" at the end."""
import json
import sys
import time

import boto3
import botocore.exceptions

logs = boto3.client("logs")


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


def error(fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    return None, None


now = int(time.time() * 1000)

# --- groups: paging, prefix, pattern, tags ------------------------------------------------
for i in range(7):
    logs.create_log_group(logGroupName=f"/app/g{i}", tags={"team": "t%d" % (i % 2)})
logs.create_log_group(logGroupName="/other/x")
names, token = [], None
while True:
    kw = {"logGroupNamePrefix": "/app/", "limit": 3}
    if token:
        kw["nextToken"] = token
    page = logs.describe_log_groups(**kw)
    names += [g["logGroupName"] for g in page["logGroups"]]
    token = page.get("nextToken")
    if not token:
        break
check(names == [f"/app/g{i}" for i in range(7)], names)
pat = logs.describe_log_groups(logGroupNamePattern="OTHER")["logGroups"]
check([g["logGroupName"] for g in pat] == ["/other/x"], pat)
code, _ = error(logs.describe_log_groups, logGroupNamePrefix="/a", logGroupNamePattern="b")
check(code == "InvalidParameterException", code)
arn = logs.describe_log_groups(logGroupNamePrefix="/app/g0")["logGroups"][0]["logGroupArn"]
check(arn.endswith(":log-group:/app/g0"), arn)
check(logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "t0"}, "tags")
logs.tag_resource(resourceArn=arn, tags={"env": "dev"})
logs.untag_resource(resourceArn=arn, tagKeys=["team"])
check(logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "dev"}, "tags after")
code, _ = error(logs.list_tags_for_resource, resourceArn=arn + "-none")
check(code == "ResourceNotFoundException", code)

# --- streams: order, descending, paging ---------------------------------------------------
g = "/app/g1"
for name in ["c", "a", "b"]:
    logs.create_log_stream(logGroupName=g, logStreamName=name)
code, _ = error(logs.create_log_stream, logGroupName=g, logStreamName="a")
check(code == "ResourceAlreadyExistsException", code)
code, _ = error(logs.create_log_stream, logGroupName=g, logStreamName="bad:name")
check(code == "InvalidParameterException", code)
logs.put_log_events(logGroupName=g, logStreamName="c", logEvents=[{"timestamp": now - 3000, "message": "c"}])
logs.put_log_events(logGroupName=g, logStreamName="a", logEvents=[{"timestamp": now - 1000, "message": "a"}])
logs.put_log_events(logGroupName=g, logStreamName="b", logEvents=[{"timestamp": now - 2000, "message": "b"}])
by_name = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=g)["logStreams"]]
check(by_name == ["a", "b", "c"], by_name)
by_time = logs.describe_log_streams(logGroupName=g, orderBy="LastEventTime", descending=True)
check([s["logStreamName"] for s in by_time["logStreams"]] == ["a", "b", "c"], by_time)
p1 = logs.describe_log_streams(logGroupName=g, limit=2)
p2 = logs.describe_log_streams(logGroupName=g, limit=2, nextToken=p1["nextToken"])
check([s["logStreamName"] for s in p1["logStreams"] + p2["logStreams"]] == ["a", "b", "c"], "stream pages")
check("nextToken" not in p2, p2)
code, msg = error(logs.describe_log_streams, logGroupName=g, orderBy="LastEventTime", logStreamNamePrefix="a")
check(code == "InvalidParameterException" and "LastEventTime" in msg, msg)

# --- PutLogEvents limits ------------------------------------------------------------------
s = "bulk"
logs.create_log_stream(logGroupName=g, logStreamName=s)
big = "x" * (262144 - 26)
logs.put_log_events(logGroupName=g, logStreamName=s, logEvents=[{"timestamp": now, "message": big}])
code, msg = error(logs.put_log_events, logGroupName=g, logStreamName=s,
                  logEvents=[{"timestamp": now, "message": big + "y"}])
check(code == "InvalidParameterException" and "262145 bytes exceeds limit of 262144" in msg, msg)
# A full batch: 10,000 events (1,048,576 bytes with the overhead is the other limit).
full = [{"timestamp": now + i // 100, "message": "event %05d " % i + "z" * 60} for i in range(10000)]
r = logs.put_log_events(logGroupName=g, logStreamName=s, logEvents=full, sequenceToken="ignored")
check("rejectedLogEventsInfo" not in r, r)
code, _ = error(logs.put_log_events, logGroupName=g, logStreamName=s, logEvents=full + full[:1])
check(code == "InvalidParameterException", code)

# --- GetLogEvents: pages forward cover every event once, in order -------------------------
seen, token = [], None
while True:
    kw = {"logGroupName": g, "logStreamName": s, "startFromHead": True, "limit": 3000}
    if token:
        kw["nextToken"] = token
    page = logs.get_log_events(**kw)
    if token and page["nextForwardToken"] == token:
        break
    seen += [e["message"] for e in page["events"]]
    token = page["nextForwardToken"]
check(len(seen) == 10001, len(seen))
check(seen[1] == full[0]["message"] and seen[-1] == full[-1]["message"], "order")

# --- FilterLogEvents: paging, streams, JSON patterns --------------------------------------
found, token = [], None
while True:
    kw = {"logGroupName": g, "filterPattern": "\"event 01\"", "limit": 400}
    if token:
        kw["nextToken"] = token
    page = logs.filter_log_events(**kw)
    found += page["events"]
    token = page.get("nextToken")
    if not token:
        break
check(len(found) == 1000, len(found))
check(len({e["eventId"] for e in found}) == 1000, "event ids are unique")
only = logs.filter_log_events(logGroupName=g, logStreamNames=["a", "b"])["events"]
check([e["message"] for e in only] == ["b", "a"], only)
pre = logs.filter_log_events(logGroupName=g, logStreamNamePrefix="c")["events"]
check([e["message"] for e in pre] == ["c"], pre)
logs.create_log_stream(logGroupName=g, logStreamName="json")
docs = [{"level": "error", "latency": 250, "user": {"id": 7}}, {"level": "info", "latency": 20, "user": {"id": 8}}]
logs.put_log_events(logGroupName=g, logStreamName="json",
                    logEvents=[{"timestamp": now, "message": json.dumps(d)} for d in docs])
hits = logs.filter_log_events(logGroupName=g, filterPattern='{ $.level = "error" && $.latency > 100 }')["events"]
check([json.loads(e["message"])["user"]["id"] for e in hits] == [7], hits)
hits = logs.filter_log_events(logGroupName=g, filterPattern="{ $.user.id = 8 || $.level = err* }")["events"]
check(len(hits) == 2, hits)
ts = [e["timestamp"] for e in logs.filter_log_events(logGroupName=g, startTime=now - 2500, endTime=now - 1000)["events"]]
check(ts == [now - 2000], ts)

# --- retention and deletion ---------------------------------------------------------------
logs.put_log_events(logGroupName=g, logStreamName="a", logEvents=[{"timestamp": now - 2 * 86400000, "message": "two days old"}])
check(any(e["message"] == "two days old" for e in logs.filter_log_events(logGroupName=g, logStreamNames=["a"])["events"]), "stored")
logs.put_retention_policy(logGroupName=g, retentionInDays=1)
kept = [e["message"] for e in logs.filter_log_events(logGroupName=g, logStreamNames=["a"])["events"]]
check("two days old" not in kept and "a" in kept, kept)
kept = [e["message"] for e in logs.get_log_events(logGroupName=g, logStreamName="a", startFromHead=True)["events"]]
check(kept == ["a"], kept)
check(logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]["retentionInDays"] == 1, "retention")
r = logs.put_log_events(logGroupName=g, logStreamName="a", logEvents=[{"timestamp": now - 2 * 86400000, "message": "old"}])
check(r["rejectedLogEventsInfo"].get("expiredLogEventEndIndex") == 1, r)
logs.delete_retention_policy(logGroupName=g)
check("retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0], "no retention")
stored = logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]["storedBytes"]
logs.delete_log_stream(logGroupName=g, logStreamName=s)
after = logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]["storedBytes"]
check(after < stored - 1000000, (stored, after))
code, _ = error(logs.get_log_events, logGroupName=g, logStreamName=s)
check(code == "ResourceNotFoundException", code)
logs.delete_log_group(logGroupName=g)
code, _ = error(logs.delete_log_group, logGroupName=g)
check(code == "ResourceNotFoundException", code)
print("ok")
