"""Malformed requests get an error body in their protocol's own shape, one a client can read:
JSON (`__type`, `message`) for awsJson1_1 requests, `<ErrorResponse>` XML for query requests.

usage: malformed.py   (AWS_ENDPOINT_URL and credentials in the environment)
Prints "ok" when every case holds.
"""
import json
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import botocore.auth
import botocore.credentials
from botocore.awsrequest import AWSRequest

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]


def raw(head_lines, body):
    """Sends bytes as they are (headers botocore and urllib would refuse) and returns
    (status, headers dict, body bytes)."""
    u = urllib.parse.urlsplit(ENDPOINT)
    req = b"POST / HTTP/1.1\r\nHost: " + u.netloc.encode() + b"\r\nConnection: close\r\n"
    for line in head_lines:
        req += line + b"\r\n"
    req += b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    s.sendall(req)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    return status, headers, rest


def signed_query(service, body):
    creds = botocore.credentials.Credentials(
        os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"], os.environ.get("AWS_SESSION_TOKEN")
    )
    req = AWSRequest(
        method="POST",
        url=ENDPOINT + "/",
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    botocore.auth.SigV4Auth(creds, service, "us-east-1").add_auth(req)
    p = req.prepare()
    r = urllib.request.Request(p.url, data=p.body, headers=dict(p.headers), method="POST")
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def json_error(status, headers, body, code, what):
    assert 400 <= status < 500, f"{what}: status {status}"
    assert headers.get("content-type") == "application/x-amz-json-1.1", f"{what}: {headers}"
    doc = json.loads(body)
    assert doc["__type"] == code, f"{what}: {doc}"
    assert isinstance(doc["message"], str) and doc["message"], f"{what}: {doc}"
    assert headers.get("x-amzn-errortype") == code, f"{what}: {headers}"


def xml_error(status, body, code, what):
    assert 400 <= status < 500, f"{what}: status {status}"
    root = ET.fromstring(body)  # a document a client can parse
    ns = {"n": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}
    prefix = "n:" if ns else ""
    found = root.find(f"{prefix}Error/{prefix}Code", ns)
    assert found is not None and found.text == code, f"{what}: {body!r}"
    message = root.find(f"{prefix}Error/{prefix}Message", ns)
    assert message is not None and message.text, f"{what}: {body!r}"
    return message.text


def main():
    # A Content-Type with control characters: the request is still answered in its
    # protocol's shape (here: it is unsigned).
    status, headers, body = raw(
        [b"Content-Type: \x01garbage\x02", b"X-Amz-Target: TrentService.ListKeys"], b"{}"
    )
    json_error(status, headers, body, "MissingAuthenticationTokenException", "json, garbage content type")
    status, headers, body = raw(
        [b"Content-Type: \x01garbage\x02"], b"Action=GetCallerIdentity&Version=2011-06-15"
    )
    assert headers.get("content-type") == "text/xml", headers
    xml_error(status, body, "MissingAuthenticationToken", "query, garbage content type")

    # An X-Amz-Target that is not UTF-8 still makes the request a JSON one.
    status, headers, body = raw(
        [b"Content-Type: application/x-amz-json-1.1", b"X-Amz-Target: Trent\xff\xfeService.ListKeys"], b"{}"
    )
    json_error(status, headers, body, "MissingAuthenticationTokenException", "json, target not UTF-8")

    # A query request with NUL and control characters in a value: a validation error whose
    # XML document parses.
    for c in ["%00", "%01", "%1F"]:
        status, body = signed_query("iam", f"Action=CreateUser&Version=2010-05-08&UserName=a{c}b")
        message = xml_error(status, body, "ValidationError", f"query with {c}")
        assert "userName" in message, message
    print("ok")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAILED: {e}")
        sys.exit(1)
