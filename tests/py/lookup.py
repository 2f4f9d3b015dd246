"""LookupEvents end to end with boto3: 120 events paginated, newest first, every attribute
filter, and the documented errors. Exits non-zero with a message on the first failure."""
import time

import boto3
import botocore.config
import botocore.exceptions

from checks import check

sts = boto3.client("sts")
iam = boto3.client("iam")
ct = boto3.client("cloudtrail")


me = sts.get_caller_identity()
start = time.time() - 5
for i in range(118):
    sts.get_caller_identity()
iam.create_user(UserName="lookup-user")
# Lookups are audited too; bound every query so that they do not count themselves
# (CloudTrail times have one-second precision, so start the lookups in a later second).
end = time.time()
time.sleep(int(end) + 1.05 - time.time())

# Everything, newest first, 50 per page: 120 of ours (and nothing else in this fresh server).
pages = list(ct.get_paginator("lookup_events").paginate(StartTime=start, EndTime=end, PaginationConfig={"PageSize": 50}))
events = [e for p in pages for e in p["Events"]]
check([len(p["Events"]) for p in pages] == [50, 50, 20], f"page sizes {[len(p['Events']) for p in pages]}")
ids = [e["EventId"] for e in events]
check(len(set(ids)) == 120, f"{len(set(ids))} distinct events, expected 120")
times = [e["EventTime"] for e in events]
check(times == sorted(times, reverse=True), "not newest first")
check(events[0]["EventName"] == "CreateUser", f"newest is {events[0]['EventName']}")

# Each attribute filter.
create = events[0]
filters = {
    "EventId": (create["EventId"], 1),
    "EventName": ("CreateUser", 1),
    "ReadOnly": ("false", 1),
    "Username": ("root", 120),
    "ResourceType": ("AWS::IAM::User", 1),
    "ResourceName": ("lookup-user", 1),
    "EventSource": ("sts.amazonaws.com", 119),
    "AccessKeyId": (create["AccessKeyId"], 120),
}
for key, (value, want) in filters.items():
    got = [
        e
        for p in ct.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}], StartTime=start, EndTime=end
        )
        for e in p["Events"]
    ]
    check(len(got) == want, f"{key}={value}: {len(got)} events, expected {want}")
    check(all(e["EventId"] in ids for e in got), f"{key}: foreign events")

# The record itself.
import json

rec = json.loads(create["CloudTrailEvent"])
check(rec["eventVersion"] == "1.08", "eventVersion")
check(rec["userIdentity"]["type"] == "Root", "userIdentity.type")
check(rec["requestParameters"] == {"userName": "lookup-user"}, f"requestParameters {rec['requestParameters']}")
check(rec["responseElements"]["user"]["userName"] == "lookup-user", "responseElements")
check(rec["eventSource"] == "iam.amazonaws.com" and rec["awsRegion"] == "us-east-1", "source/region")
for f in ["eventID", "requestID", "eventTime", "sourceIPAddress", "userAgent", "recipientAccountId"]:
    check(f in rec, f"missing {f}")
check(rec["managementEvent"] is True and rec["eventCategory"] == "Management" and rec["eventType"] == "AwsApiCall", "flags")

# Time range: nothing before the calls, nothing in the future.
check(ct.lookup_events(EndTime=start - 60)["Events"] == [], "events before start")


# Errors.
# Without client-side validation, so the server's own checks are what is tested.
raw_ct = boto3.client("cloudtrail", config=botocore.config.Config(parameter_validation=False))


def error_code(**kw):
    try:
        raw_ct.lookup_events(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    return None


check(error_code(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "a"}] * 2) == "InvalidLookupAttributesException", "2 attributes")
check(error_code(LookupAttributes=[{"AttributeKey": "Nope", "AttributeValue": "a"}]) == "InvalidLookupAttributesException", "bad key")
check(error_code(StartTime=time.time(), EndTime=time.time() - 100) == "InvalidTimeRangeException", "time range")
check(error_code(MaxResults=51) == "InvalidMaxResultsException", "max 51")
check(error_code(MaxResults=0) == "InvalidMaxResultsException", "max 0")
check(error_code(NextToken="garbage") == "InvalidNextTokenException", "garbage token")
token = ct.lookup_events(MaxResults=5, StartTime=start)["NextToken"]
check(error_code(NextToken=token, StartTime=start, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}]) == "InvalidNextTokenException", "token reused with other params")
check(error_code(EventCategory="bogus") == "InvalidEventCategoryException", "event category")
print("ok")
