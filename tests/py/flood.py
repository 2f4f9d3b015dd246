"""Holds N idle TCP connections to the endpoint from one local address, then times one
signed request (sts GetCallerIdentity through botocore) sent from another address.

usage: flood.py N FROM_ADDR
Prints {"held": int, "status": int, "seconds": float} as JSON.
"""
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
        s.bind((source, 0))
        s.connect((u.hostname, u.port))
        held.append(s)
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint,
        config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=60, connect_timeout=60),
    )
    t0 = time.monotonic()
    r = sts.get_caller_identity()
    dt = time.monotonic() - t0
    print(json.dumps({"held": len(held), "status": r["ResponseMetadata"]["HTTPStatusCode"], "seconds": dt}))


main()
