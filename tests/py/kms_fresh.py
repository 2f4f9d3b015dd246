"""No stale authorization: every change that decides what a KMS request may do is obeyed by
the very next request after the change is acknowledged, even though keys, aliases, grants,
key policies, IAM policies and credentials are cached on the request path. Before each
change the same request is made several times (so that whatever a cache would hold is
there), then the change, then at once the request that must see it; each cycle is repeated
so that a cache with any time-to-live, however short, fails it.

Runs as the account's root user. Exits non-zero with a message on the first failure; prints
"ok" at the end."""
import json
import sys

import boto3

from checks import check, code

kms = boto3.client("kms")
iam = boto3.client("iam")
account = boto3.client("sts").get_caller_identity()["Account"]
DENIED = "AccessDeniedException"
CYCLES = 5
WARM = 5


def warm(fn, **kw):
    """The request, succeeding, several times (fills any cache on its path)."""
    for _ in range(WARM):
        fn(**kw)


def user(name, policy=None):
    """A user with an access key (and an inline policy, if given); its KMS client, ARN, key id."""
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    c = boto3.client(
        "kms",
        aws_access_key_id=k["AccessKeyId"],
        aws_secret_access_key=k["SecretAccessKey"],
        aws_session_token=None,
    )
    return c, arn, k["AccessKeyId"]


ctx = {"purpose": "fresh"}
key = kms.create_key(Description="fresh")["KeyMetadata"]
kid, karn = key["KeyId"], key["Arn"]
blob = kms.encrypt(KeyId=kid, Plaintext=b"x", EncryptionContext=ctx)["CiphertextBlob"]

# --- a disabled key refuses the next request; an enabled one serves it ------------------------
for i in range(CYCLES):
    warm(kms.encrypt, KeyId=kid, Plaintext=b"x", EncryptionContext=ctx)
    warm(kms.decrypt, CiphertextBlob=blob, EncryptionContext=ctx)
    warm(kms.generate_data_key, KeyId=kid, KeySpec="AES_256", EncryptionContext=ctx)
    kms.disable_key(KeyId=kid)
    for op, kw in [
        (kms.encrypt, dict(KeyId=kid, Plaintext=b"x", EncryptionContext=ctx)),
        (kms.decrypt, dict(CiphertextBlob=blob, EncryptionContext=ctx)),
        (kms.generate_data_key, dict(KeyId=kid, KeySpec="AES_256", EncryptionContext=ctx)),
    ]:
        c, m = code(op, **kw)
        check(c == "DisabledException", f"cycle {i}: {op.__name__} right after DisableKey: {c} {m}")
    kms.enable_key(KeyId=kid)
    c, m = code(kms.encrypt, KeyId=kid, Plaintext=b"x", EncryptionContext=ctx)
    check(c is None, f"cycle {i}: Encrypt right after EnableKey: {c} {m}")

# --- a key policy change decides the next request ----------------------------------------------
# The user has no IAM policy: only a key policy statement naming it allows it.
pol_user, pol_arn, _ = user("fresh-policy")
admin = {
    "Sid": "admin",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
allow_user = {
    "Sid": "user",
    "Effect": "Allow",
    "Principal": {"AWS": pol_arn},
    "Action": ["kms:Encrypt", "kms:Decrypt"],
    "Resource": "*",
}


def put_policy(statements):
    doc = {"Version": "2012-10-17", "Statement": statements}
    kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=json.dumps(doc))


for i in range(CYCLES):
    put_policy([admin, allow_user])
    c, m = code(pol_user.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
    check(c is None, f"cycle {i}: Encrypt right after the key policy allowed it: {c} {m}")
    warm(pol_user.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
    warm(pol_user.decrypt, CiphertextBlob=blob, EncryptionContext=ctx)
    put_policy([admin])
    c, m = code(pol_user.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
    check(c == DENIED, f"cycle {i}: Encrypt right after the key policy stopped allowing it: {c} {m}")
    c, m = code(pol_user.decrypt, CiphertextBlob=blob, EncryptionContext=ctx)
    check(c == DENIED, f"cycle {i}: Decrypt right after the key policy stopped allowing it: {c} {m}")
put_policy([admin])

# --- a grant allows from the moment it is created until it is retired or revoked ---------------
grantee, grantee_arn, _ = user("fresh-grantee")
for i in range(CYCLES):
    c, _ = code(grantee.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
    check(c == DENIED, f"cycle {i}: Encrypt before the grant: {c}")
    g = kms.create_grant(
        KeyId=kid,
        GranteePrincipal=grantee_arn,
        RetiringPrincipal=f"arn:aws:iam::{account}:root",
        Operations=["Encrypt", "Decrypt", "GenerateDataKey"],
    )["GrantId"]
    c, m = code(grantee.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
    check(c is None, f"cycle {i}: Encrypt right after CreateGrant: {c} {m}")
    warm(grantee.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
    warm(grantee.generate_data_key, KeyId=karn, KeySpec="AES_256", EncryptionContext=ctx)
    if i % 2 == 0:
        kms.retire_grant(KeyId=karn, GrantId=g)
        how = "RetireGrant"
    else:
        kms.revoke_grant(KeyId=kid, GrantId=g)
        how = "RevokeGrant"
    c, m = code(grantee.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
    check(c == DENIED, f"cycle {i}: Encrypt right after {how}: {c} {m}")
    c, m = code(grantee.generate_data_key, KeyId=karn, KeySpec="AES_256", EncryptionContext=ctx)
    check(c == DENIED, f"cycle {i}: GenerateDataKey right after {how}: {c} {m}")

# --- an IAM policy change decides the next request (the key policy delegates to IAM) -----------
put_policy([admin])
iam_user, iam_arn, iam_key = user("fresh-iam")
allow_kms = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["kms:Encrypt"], "Resource": karn}],
}
for i in range(CYCLES):
    iam.put_user_policy(UserName="fresh-iam", PolicyName="kms", PolicyDocument=json.dumps(allow_kms))
    c, m = code(iam_user.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
    check(c is None, f"cycle {i}: Encrypt right after PutUserPolicy: {c} {m}")
    warm(iam_user.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
    iam.delete_user_policy(UserName="fresh-iam", PolicyName="kms")
    c, m = code(iam_user.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
    check(c == DENIED, f"cycle {i}: Encrypt right after DeleteUserPolicy: {c} {m}")

# --- a deactivated or deleted access key is refused by the next request -------------------------
iam.put_user_policy(UserName="fresh-iam", PolicyName="kms", PolicyDocument=json.dumps(allow_kms))
for i in range(CYCLES):
    iam.update_access_key(UserName="fresh-iam", AccessKeyId=iam_key, Status="Active")
    c, m = code(iam_user.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
    check(c is None, f"cycle {i}: Encrypt right after the access key was activated: {c} {m}")
    warm(iam_user.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
    iam.update_access_key(UserName="fresh-iam", AccessKeyId=iam_key, Status="Inactive")
    c, m = code(iam_user.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
    check(c == "UnrecognizedClientException", f"cycle {i}: right after deactivation: {c} {m}")
iam.update_access_key(UserName="fresh-iam", AccessKeyId=iam_key, Status="Active")
warm(iam_user.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
iam.delete_access_key(UserName="fresh-iam", AccessKeyId=iam_key)
c, m = code(iam_user.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
check(c == "UnrecognizedClientException", f"right after DeleteAccessKey: {c} {m}")

# --- an alias moved to another key is followed by the next request -----------------------------
other = kms.create_key(Description="other")["KeyMetadata"]
kms.create_alias(AliasName="alias/fresh", TargetKeyId=kid)
for i in range(CYCLES):
    for target, arn in [(other["KeyId"], other["Arn"]), (kid, karn)]:
        kms.update_alias(AliasName="alias/fresh", TargetKeyId=target)
        got = kms.encrypt(KeyId="alias/fresh", Plaintext=b"x", EncryptionContext=ctx)["KeyId"]
        check(got == arn, f"cycle {i}: Encrypt by alias right after UpdateAlias: {got}, want {arn}")
        warm(kms.encrypt, KeyId="alias/fresh", Plaintext=b"x", EncryptionContext=ctx)
kms.delete_alias(AliasName="alias/fresh")
c, m = code(kms.encrypt, KeyId="alias/fresh", Plaintext=b"x", EncryptionContext=ctx)
check(c == "NotFoundException", f"right after DeleteAlias: {c} {m}")

# --- a key scheduled for deletion refuses the next request --------------------------------------
warm(kms.encrypt, KeyId=kid, Plaintext=b"x", EncryptionContext=ctx)
kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
c, m = code(kms.encrypt, KeyId=kid, Plaintext=b"x", EncryptionContext=ctx)
check(c == "KMSInvalidStateException", f"right after ScheduleKeyDeletion: {c} {m}")

print("ok")
