"""Opens N TCP connections to the endpoint from one local address, as fast as it can and
without waiting for any of them, sends nothing on them, then times one signed request (sts
GetCallerIdentity through botocore) sent from another address while they are held.

usage: flood.py N FROM_ADDR
Prints {"held": int, "status": int, "seconds": float} as JSON ("held": connections opened
and still held by this process when the request was sent).
"""
import errno
import json
import os
import resource
import socket
import sys
import time
import urllib.parse

import boto3
import botocore.config


def main():
    n, source = int(sys.argv[1]), sys.argv[2]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 1024)), hard))
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    u = urllib.parse.urlparse(endpoint)
    held = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((source, 0))
        rc = s.connect_ex((u.hostname, u.port))
        if rc not in (0, errno.EINPROGRESS):
            raise OSError(rc, os.strerror(rc))
        held.append(s)
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint,
        config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=120, connect_timeout=120),
    )
    t0 = time.monotonic()
    r = sts.get_caller_identity()
    dt = time.monotonic() - t0
    print(json.dumps({"held": len(held), "status": r["ResponseMetadata"]["HTTPStatusCode"], "seconds": dt}))


main()
