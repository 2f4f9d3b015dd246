"""What the boto3 scripts share: a check that ends the script with a message, and the error
code and message of a call that is expected to fail."""
import sys

import botocore.exceptions


def check(cond, msg):
    """Exits non-zero with `msg` unless `cond`."""
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


def code(fn, **kw):
    """`(code, message)` of the error `fn(**kw)` raised, or `(None, None)` if it succeeded."""
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    return None, None
