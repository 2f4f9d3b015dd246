"""What an attacker with a copy of the data directory and full KMS rights could decrypt:
every base64 run long enough to be a KMS ciphertext blob, in every file of the data
directory but the image store, the volume images (sparse, encrypted by the volume key
itself, and scanned by the volume tests) and `xts/` (the XTS backend's FUSE mounts: the
live plaintext view of a running task's volume, not stored data; reading it would pull the
whole 20 GiB device through the decryption), is tried with kms:Decrypt under the given
encryption context, as the account's root user.

usage: shred_scan.py DATA_DIR CONTEXT_JSON
Prints {"files": int, "candidates": int, "decrypted": int} as JSON.
"""
import base64
import binascii
import json
import os
import re
import sys

import boto3
import botocore.exceptions


def main():
    data_dir, context = sys.argv[1], json.loads(sys.argv[2])
    kms = boto3.client("kms")
    pattern = re.compile(rb"[A-Za-z0-9+/]{80,}={0,2}")
    candidates, files = set(), 0
    for root, dirs, names in os.walk(data_dir):
        if os.path.relpath(root, data_dir).split(os.sep)[0] in ("images", "volumes", "xts"):
            continue
        for n in names:
            path = os.path.join(root, n)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            files += 1
            with open(path, "rb") as f:
                for m in pattern.finditer(f.read()):
                    candidates.add(m.group(0))
    decrypted = 0
    for c in candidates:
        try:
            blob = base64.b64decode(c + b"=" * (-len(c) % 4))
        except (binascii.Error, ValueError):
            continue
        try:
            kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
            decrypted += 1
        except botocore.exceptions.ClientError:
            pass
    print(json.dumps({"files": files, "candidates": len(candidates), "decrypted": decrypted}))


main()
