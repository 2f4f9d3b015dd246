"""ListUsers paging with Marker/MaxItems through boto3's paginator and by hand."""
import sys

import boto3

n = int(sys.argv[1])
iam = boto3.client("iam")
for i in range(n):
    iam.create_user(UserName=f"u{i:03d}", Path="/p/" if i % 2 else "/")
pages = list(iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 5}))
names = [u["UserName"] for p in pages for u in p["Users"]]
assert names == sorted(f"u{i:03d}" for i in range(n)), names
assert [len(p["Users"]) for p in pages] == [5] * (n // 5) + ([n % 5] if n % 5 else []), [len(p["Users"]) for p in pages]
assert all(p["IsTruncated"] for p in pages[:-1]) and not pages[-1]["IsTruncated"]
first = iam.list_users(MaxItems=3)
assert first["IsTruncated"] and len(first["Users"]) == 3
second = iam.list_users(MaxItems=3, Marker=first["Marker"])
assert second["Users"][0]["UserName"] == "u003", second["Users"][0]
odd = [u["UserName"] for p in iam.get_paginator("list_users").paginate(PathPrefix="/p/") for u in p["Users"]]
assert odd == [f"u{i:03d}" for i in range(n) if i % 2], odd
try:
    iam.list_users(Marker="not-a-marker")
    raise SystemExit("bad marker accepted")
except iam.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "ValidationError", e.response
print("ok")
