"""Sends one raw request, signed with botocore's own SigV4 signer (or deliberately not).

usage: raw.py SERVICE (json TARGET | query) BODY [--skew-minutes N] [--unsigned] [--pad-bytes N]
Prints {"status": int, "body": str, "headers": {...}} as JSON.
"""
import datetime
import json
import os
import sys
import urllib.error
import urllib.request

import botocore.auth
import botocore.credentials
from botocore.awsrequest import AWSRequest


def main():
    args = sys.argv[1:]
    service, kind = args[0], args[1]
    target = args[2] if kind == "json" else None
    rest = args[3:] if kind == "json" else args[2:]
    body = rest[0]
    opts = rest[1:]
    skew = int(opts[opts.index("--skew-minutes") + 1]) if "--skew-minutes" in opts else 0
    unsigned = "--unsigned" in opts
    if "--pad-bytes" in opts:
        body += " " * int(opts[opts.index("--pad-bytes") + 1])
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    headers = {}
    if kind == "json":
        headers["Content-Type"] = "application/x-amz-json-1.1"
        headers["X-Amz-Target"] = target
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    req = AWSRequest(method="POST", url=endpoint + "/", data=body.encode(), headers=headers)
    if not unsigned:
        creds = botocore.credentials.Credentials(
            os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"], os.environ.get("AWS_SESSION_TOKEN")
        )
        signer = botocore.auth.SigV4Auth(creds, service, os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        if skew:
            real = datetime.datetime

            class Skewed(real):
                @classmethod
                def utcnow(cls):
                    return real.utcnow() + datetime.timedelta(minutes=skew)

                @classmethod
                def now(cls, tz=None):
                    return real.now(tz) + datetime.timedelta(minutes=skew)

            botocore.auth.datetime.datetime = Skewed
        signer.add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            status, data, hdrs = resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as e:
        status, data, hdrs = e.code, e.read(), dict(e.headers)
    print(json.dumps({"status": status, "body": data.decode("utf-8", "replace"), "headers": {k.lower(): v for k, v in hdrs.items()}}))


if __name__ == "__main__":
    main()
