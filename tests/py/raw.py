"""Sends one raw request, signed with botocore's own SigV4 signer (or deliberately not).

usage: raw.py SERVICE (json TARGET | query) BODY [--skew-minutes N] [--unsigned] [--pad-bytes N] [--hangup [--hangup-after-ms N]]
Prints {"status": int, "body": str, "headers": {...}} as JSON. With --hangup, the request is
sent on a raw socket that is closed (after N ms), without reading the answer (status 0).
"""
import datetime
import json
import os
import time
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
    if "--hangup" in opts:
        after = float(opts[opts.index("--hangup-after-ms") + 1]) if "--hangup-after-ms" in opts else 0.0
        hang_up(prepared, after / 1000)
        print(json.dumps({"status": 0, "body": "", "headers": {}}))
        return
    r = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            status, data, hdrs = resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as e:
        status, data, hdrs = e.code, e.read(), dict(e.headers)
    print(json.dumps({"status": status, "body": data.decode("utf-8", "replace"), "headers": {k.lower(): v for k, v in hdrs.items()}}))


def hang_up(prepared, after):
    """Sends the request and disconnects before the answer (a client that gives up)."""
    import socket
    import urllib.parse

    u = urllib.parse.urlsplit(prepared.url)
    head = f"POST {u.path or '/'} HTTP/1.1\r\n"
    if not any(k.lower() == "host" for k in prepared.headers):
        head += f"Host: {u.netloc}\r\n"
    for k, v in prepared.headers.items():
        head += f"{k}: {v}\r\n"
    head += "\r\n"
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(head.encode() + prepared.body)
    time.sleep(after)
    # Linger 0: the close is a reset, which the server notices at once.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


if __name__ == "__main__":
    main()
