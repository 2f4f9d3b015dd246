"""Secrets Manager through boto3: ListSecrets paging, filters and sorting, idempotent
ClientRequestToken, version stages, binary values, limits and AWS's errors.

Exits non-zero with a message on the first failure; prints "ok" at the end."""
import sys
import uuid

import boto3
import botocore.exceptions

sm = boto3.client("secretsmanager")


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


# --- ListSecrets: paging, filters, sort -----------------------------------------------------
for i in range(7):
    sm.create_secret(Name=f"app/s{i}", SecretString=f"v{i}", Description=f"Service {i}",
                     Tags=[{"Key": "team", "Value": "t%d" % (i % 2)}])
sm.create_secret(Name="other/x", SecretString="x")
names, token = [], None
while True:
    kw = {"MaxResults": 3, "Filters": [{"Key": "name", "Values": ["app/"]}]}
    if token:
        kw["NextToken"] = token
    page = sm.list_secrets(**kw)
    check(len(page["SecretList"]) <= 3, "page size")
    names += [e["Name"] for e in page["SecretList"]]
    token = page.get("NextToken")
    if not token:
        break
check(sorted(names) == [f"app/s{i}" for i in range(7)], f"paged names {names}")
paginated = [e["Name"] for p in sm.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 2})
             for e in p["SecretList"]]
check(len(paginated) == 8, f"paginator {paginated}")
by_name = [e["Name"] for e in sm.list_secrets(SortBy="name", SortOrder="desc")["SecretList"]]
check(by_name == sorted(by_name, reverse=True), f"sorted {by_name}")
t1 = [e["Name"] for e in sm.list_secrets(Filters=[{"Key": "tag-value", "Values": ["t1"]}])["SecretList"]]
check(sorted(t1) == ["app/s1", "app/s3", "app/s5"], f"tag filter {t1}")
neg = [e["Name"] for e in sm.list_secrets(Filters=[{"Key": "name", "Values": ["!app/"]}])["SecretList"]]
check(neg == ["other/x"], f"negated {neg}")
desc = sm.list_secrets(Filters=[{"Key": "description", "Values": ["service 3"]}])["SecretList"]
check([e["Name"] for e in desc] == ["app/s3"], f"description filter {desc}")
entry = desc[0]
check("SecretVersionsToStages" in entry and "CreatedDate" in entry, f"entry {entry}")
check(error(sm.list_secrets, NextToken="not-a-token")[0] == "InvalidNextTokenException", "bad token")
check(error(sm.list_secrets, Filters=[{"Key": "nope", "Values": ["x"]}])[0] is not None, "bad filter key")

# --- idempotency ------------------------------------------------------------------------------
tok = str(uuid.uuid4())
a = sm.create_secret(Name="idem", SecretString="same", ClientRequestToken=tok)
b = sm.create_secret(Name="idem", SecretString="same", ClientRequestToken=tok)
check(a["ARN"] == b["ARN"] and a["VersionId"] == b["VersionId"] == tok, "CreateSecret retry")
code, msg = error(sm.create_secret, Name="idem", SecretString="different", ClientRequestToken=tok)
check(code == "ResourceExistsException", f"different value, same token: {code} {msg}")
check("different" not in (msg or ""), "an error shows the value")
tok2 = str(uuid.uuid4())
p1 = sm.put_secret_value(SecretId="idem", SecretString="next", ClientRequestToken=tok2)
p2 = sm.put_secret_value(SecretId="idem", SecretString="next", ClientRequestToken=tok2)
check(p1["VersionId"] == p2["VersionId"] == tok2, "PutSecretValue retry")
versions = sm.list_secret_version_ids(SecretId="idem")["Versions"]
check(len(versions) == 2, f"a retry added a version: {versions}")

# --- stages: a pending version, then promoted --------------------------------------------------
pend = sm.put_secret_value(SecretId="idem", SecretString="pending", VersionStages=["AWSPENDING"])
check(pend["VersionStages"] == ["AWSPENDING"], f"pending {pend}")
check(sm.get_secret_value(SecretId="idem")["SecretString"] == "next", "pending is not current")
check(sm.get_secret_value(SecretId="idem", VersionStage="AWSPENDING")["SecretString"] == "pending", "pending read")
code, _ = error(sm.get_secret_value, SecretId="idem", VersionId=pend["VersionId"], VersionStage="AWSCURRENT")
check(code == "InvalidRequestException", f"id and stage mismatch: {code}")
sm.update_secret_version_stage(SecretId="idem", VersionStage="AWSCURRENT",
                               MoveToVersionId=pend["VersionId"], RemoveFromVersionId=tok2)
d = sm.describe_secret(SecretId="idem")
st = d["VersionIdsToStages"]
check(sorted(st[pend["VersionId"]]) == ["AWSCURRENT", "AWSPENDING"], f"promoted {st}")
check(st[tok2] == ["AWSPREVIOUS"], f"previous {st}")
check(tok not in st, f"deprecated version shown {st}")

# --- binary, limits, errors --------------------------------------------------------------------
sm.create_secret(Name="bin", SecretBinary=b"\x00\x01\xfe\xff")
check(sm.get_secret_value(SecretId="bin")["SecretBinary"] == b"\x00\x01\xfe\xff", "binary round trip")
big = "x" * 65536
sm.create_secret(Name="big", SecretString=big)
check(sm.get_secret_value(SecretId="big")["SecretString"] == big, "64 KiB value")
code, msg = error(sm.create_secret, Name="too-big", SecretString=big + "x")
check(code is not None and big[:50] not in (msg or ""), f"65537 bytes: {code}")
check(error(sm.describe_secret, SecretId="too-big")[0] == "ResourceNotFoundException", "nothing half-written")
code, msg = error(sm.create_secret, Name="both", SecretString="a", SecretBinary=b"b")
check(code == "InvalidParameterException", f"both values: {code}")
code, msg = error(sm.create_secret, Name="bad name!", SecretString="a")
check(code == "InvalidParameterException", f"bad name: {code} {msg}")
code, msg = error(sm.delete_secret, SecretId="bin", RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
check(code == "InvalidParameterException", f"window and force: {code}")
code, msg = error(sm.get_secret_value, SecretId="missing")
check((code, msg) == ("ResourceNotFoundException", "Secrets Manager can't find the specified secret."), f"missing: {code} {msg}")
r = sm.delete_secret(SecretId="never-existed", ForceDeleteWithoutRecovery=True)
check(r["Name"] == "never-existed", f"force-deleting a missing secret: {r}")
code, _ = error(sm.tag_resource, SecretId="bin", Tags=[{"Key": "aws:x", "Value": "y"}])
check(code == "InvalidParameterException", f"aws: tag {code}")
code, _ = error(sm.put_secret_value, SecretId="bin")
check(code == "InvalidParameterException", f"no value: {code}")
print("ok")
