"""SSM Parameter Store through boto3: GetParametersByPath paging and recursion, selectors,
labels moving between versions, DescribeParameters paging, and AWS's errors.

Exits non-zero with a message on the first failure; prints "ok" at the end."""
import sys

import boto3
import botocore.exceptions

ssm = boto3.client("ssm")


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


for i in range(25):
    ssm.put_parameter(Name=f"/py/svc{i % 3}/p{i}", Value=f"value-{i}", Type="String")
names = []
for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/py", Recursive=True,
                                                                  PaginationConfig={"PageSize": 4}):
    check(len(page["Parameters"]) <= 4, "page size")
    names += [p["Name"] for p in page["Parameters"]]
check(len(names) == 25 and len(set(names)) == 25, f"by path {len(names)}")
check(ssm.get_parameters_by_path(Path="/py")["Parameters"] == [], "no direct children")
described = [p["Name"] for page in ssm.get_paginator("describe_parameters").paginate(PaginationConfig={"PageSize": 10})
             for p in page["Parameters"]]
check(len([n for n in described if n.startswith("/py/")]) == 25, f"describe {len(described)}")

ssm.put_parameter(Name="/py/l", Value="one", Type="String")
ssm.put_parameter(Name="/py/l", Value="two", Type="String", Overwrite=True)
ssm.label_parameter_version(Name="/py/l", ParameterVersion=1, Labels=["live"])
check(ssm.get_parameter(Name="/py/l:live")["Parameter"]["Value"] == "one", "label on 1")
ssm.label_parameter_version(Name="/py/l", Labels=["live"])
check(ssm.get_parameter(Name="/py/l:live")["Parameter"]["Value"] == "two", "label moved to latest")
hist = ssm.get_parameter_history(Name="/py/l")["Parameters"]
check(hist[0].get("Labels") == [] and hist[1]["Labels"] == ["live"], f"history labels {hist}")
code, _ = error(ssm.label_parameter_version, Name="/py/l", ParameterVersion=1,
                Labels=[f"l{i}" for i in range(11)])
check(code is not None, "11 labels")

code, _ = error(ssm.put_parameter, Name="/py/new", Value="v")
check(code == "ValidationException", f"no type on create: {code}")
code, _ = error(ssm.put_parameter, Name="/py/tagged", Value="v", Type="String", Overwrite=True,
                Tags=[{"Key": "a", "Value": "b"}])
check(code == "ValidationException", f"tags and overwrite: {code}")
code, _ = error(ssm.get_parameters_by_path, Path="py")
check(code == "ValidationException", f"relative path: {code}")
code, _ = error(ssm.get_parameter, Name="/py/missing")
check(code == "ParameterNotFound", f"missing: {code}")
ssm.put_parameter(Name="/py/sec", Value="s3cr3t", Type="SecureString")
ssm.put_parameter(Name="/py/sec", Value="s3cr3t-2", Overwrite=True)
p = ssm.get_parameter(Name="/py/sec", WithDecryption=True)["Parameter"]
check(p["Value"] == "s3cr3t-2" and p["Type"] == "SecureString" and p["Version"] == 2, f"overwrite keeps the type {p}")
h = ssm.get_parameter_history(Name="/py/sec", WithDecryption=True)["Parameters"]
check([x["Value"] for x in h] == ["s3cr3t", "s3cr3t-2"], "history decrypted")
print("ok")
