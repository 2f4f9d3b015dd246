"""KMS grants end to end with boto3: a grantee with no IAM or key-policy permission uses
exactly the granted operations; EncryptionContextSubset / EncryptionContextEquals (keys
case-insensitive, values case-sensitive); grant tokens; ListGrants / ListRetirableGrants;
RetireGrant by the retiring principal and by the grantee; RevokeGrant by the key admin;
sub-grants no wider than their parent.

Runs as the account's root user (the key admin). Exits non-zero with a message on the first
failure; prints "ok" at the end."""
import os
import sys

import boto3
import botocore.exceptions

from checks import check, code

kms = boto3.client("kms")
iam = boto3.client("iam")
account = boto3.client("sts").get_caller_identity()["Account"]
DENIED = "AccessDeniedException"
suffix = sys.argv[1] if len(sys.argv) > 1 else ""  # user-name suffix, to run twice on one server


def user(name):
    """A user with an access key and no policy at all; its KMS client and ARN."""
    arn = iam.create_user(UserName=name + suffix)["User"]["Arn"]
    k = iam.create_access_key(UserName=name + suffix)["AccessKey"]
    c = boto3.client(
        "kms",
        aws_access_key_id=k["AccessKeyId"],
        aws_secret_access_key=k["SecretAccessKey"],
        aws_session_token=None,
    )
    return c, arn


grantee, grantee_arn = user("grantee")
retiree, retiree_arn = user("retiree")
third, third_arn = user("third")

key = kms.create_key(Description="granted")["KeyMetadata"]
kid, karn = key["KeyId"], key["Arn"]
ctx = {"Dept": "IT", "purpose": "test"}

# Without a grant, the grantee can do nothing with the key, with AWS's message (the default key
# policy delegates to the account, so it is the grantee's missing identity policy that denies).
c, m = code(grantee.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
check(c == DENIED, f"no grant yet: {c}")
check(
    m == f"User: {grantee_arn} is not authorized to perform: kms:Encrypt on resource: {karn} "
    "because no identity-based policy allows the kms:Encrypt action",
    m,
)

# --- a grant with an EncryptionContextSubset constraint, used at once through its token -----
g1 = kms.create_grant(
    KeyId=kid,
    GranteePrincipal=grantee_arn,
    RetiringPrincipal=retiree_arn,
    Operations=["Encrypt", "Decrypt"],
    Constraints={"EncryptionContextSubset": {"Dept": "IT"}},
    Name="subset-grant",
)
check(len(g1["GrantId"]) == 64 and g1["GrantToken"], g1)
tok1 = [g1["GrantToken"]]
ct = grantee.encrypt(KeyId=karn, Plaintext=b"granted", EncryptionContext=ctx, GrantTokens=tok1)
check(ct["KeyId"] == karn, ct)
check(grantee.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext=ctx, GrantTokens=tok1)["Plaintext"] == b"granted", "grantee decrypts")
# Without the token too (grants here take effect at once).
grantee.encrypt(KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)
# Constraint keys are case-insensitive, values case-sensitive.
grantee.encrypt(KeyId=karn, Plaintext=b"x", EncryptionContext={"dept": "IT"})
grantee.encrypt(KeyId=karn, Plaintext=b"x", EncryptionContext={"DEPT": "IT", "more": "yes"})
check(code(grantee.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext={"Dept": "it"})[0] == DENIED, "subset: value case")
check(code(grantee.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext={"Team": "IT"})[0] == DENIED, "subset: other key")
check(code(grantee.encrypt, KeyId=karn, Plaintext=b"x")[0] == DENIED, "subset: no context")
# Exactly the granted operations.
for name, call in {
    "GenerateDataKey": lambda: grantee.generate_data_key(KeyId=karn, KeySpec="AES_256", EncryptionContext=ctx),
    "GenerateDataKeyWithoutPlaintext": lambda: grantee.generate_data_key_without_plaintext(KeyId=karn, KeySpec="AES_256", EncryptionContext=ctx),
    "DescribeKey": lambda: grantee.describe_key(KeyId=karn),
    "ReEncrypt": lambda: grantee.re_encrypt(CiphertextBlob=ct["CiphertextBlob"], SourceEncryptionContext=ctx, DestinationKeyId=karn, DestinationEncryptionContext=ctx),
    "CreateGrant": lambda: grantee.create_grant(KeyId=karn, GranteePrincipal=third_arn, Operations=["Decrypt"], Constraints={"EncryptionContextSubset": {"Dept": "IT"}}),
    "DisableKey": lambda: grantee.disable_key(KeyId=karn),
    "ListGrants": lambda: grantee.list_grants(KeyId=karn),
    "RevokeGrant": lambda: grantee.revoke_grant(KeyId=karn, GrantId=g1["GrantId"]),
}.items():
    try:
        call()
        got = None
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
    check(got == DENIED, f"grantee {name} without a grant for it: {got}")
# A ciphertext the admin made with a context outside the constraint does not decrypt for it.
other_ct = kms.encrypt(KeyId=kid, Plaintext=b"y", EncryptionContext={"Dept": "HR"})["CiphertextBlob"]
check(code(grantee.decrypt, CiphertextBlob=other_ct, EncryptionContext={"Dept": "HR"})[0] == DENIED, "decrypt outside constraint")
# Another user gets nothing from someone else's grant or token.
check(code(third.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx, GrantTokens=tok1)[0] == DENIED, "token of another grantee")
# A malformed token is refused as such.
check(code(kms.encrypt, KeyId=kid, Plaintext=b"x", GrantTokens=["not a token"])[0] == "InvalidGrantTokenException", "bad token")

# --- EncryptionContextEquals ----------------------------------------------------------------
g2 = kms.create_grant(
    KeyId=kid,
    GranteePrincipal=grantee_arn,
    Operations=["GenerateDataKey", "RetireGrant"],
    Constraints={"EncryptionContextEquals": {"cluster": "prod", "Vol": "v-1"}},
)
dk = grantee.generate_data_key(KeyId=karn, KeySpec="AES_256", EncryptionContext={"cluster": "prod", "Vol": "v-1"}, GrantTokens=[g2["GrantToken"]])
check(len(dk["Plaintext"]) == 32, "equals: exact context")
grantee.generate_data_key(KeyId=karn, NumberOfBytes=16, EncryptionContext={"CLUSTER": "prod", "vol": "v-1"})
for bad in [{"cluster": "prod"}, {"cluster": "prod", "Vol": "v-1", "x": "y"}, {"cluster": "Prod", "Vol": "v-1"}, {}]:
    check(code(grantee.generate_data_key, KeyId=karn, KeySpec="AES_256", EncryptionContext=bad)[0] == DENIED, f"equals: {bad}")
# The admin (through the key policy) may decrypt the data key; the grantee may not (no Decrypt in g2,
# and g1's subset constraint is not met).
check(kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"cluster": "prod", "Vol": "v-1"})["Plaintext"] == dk["Plaintext"], "admin decrypts")
check(code(grantee.decrypt, CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"cluster": "prod", "Vol": "v-1"})[0] == DENIED, "grantee cannot decrypt")

# --- constraints do not apply to DescribeKey and RetireGrant (KMS API, GrantConstraints) ------
g3 = kms.create_grant(KeyId=kid, GranteePrincipal=third_arn, Operations=["DescribeKey", "Decrypt"], Constraints={"EncryptionContextSubset": {"Dept": "IT"}})
check(third.describe_key(KeyId=karn)["KeyMetadata"]["Arn"] == karn, "DescribeKey through a constrained grant")

# --- ListGrants, ListRetirableGrants ----------------------------------------------------------
grants = {g["GrantId"]: g for g in kms.list_grants(KeyId=kid)["Grants"]}
check(set(grants) == {g1["GrantId"], g2["GrantId"], g3["GrantId"]}, grants)
l1 = grants[g1["GrantId"]]
check(l1["KeyId"] == karn and l1["GranteePrincipal"] == grantee_arn and l1["RetiringPrincipal"] == retiree_arn, l1)
check(sorted(l1["Operations"]) == ["Decrypt", "Encrypt"] and l1["Name"] == "subset-grant", l1)
check(l1["Constraints"] == {"EncryptionContextSubset": {"Dept": "IT"}}, l1)
check(l1["IssuingAccount"] == f"arn:aws:iam::{account}:root", l1)
check(grants[g2["GrantId"]]["Constraints"] == {"EncryptionContextEquals": {"cluster": "prod", "Vol": "v-1"}}, grants[g2["GrantId"]])
by_grantee = kms.list_grants(KeyId=kid, GranteePrincipal=third_arn)["Grants"]
check([g["GrantId"] for g in by_grantee] == [g3["GrantId"]], by_grantee)
check([g["GrantId"] for g in kms.list_grants(KeyId=kid, GrantId=g2["GrantId"])["Grants"]] == [g2["GrantId"]], "ListGrants by id")
page = kms.list_grants(KeyId=kid, Limit=2)
check(len(page["Grants"]) == 2 and page["Truncated"], page)
rest = kms.list_grants(KeyId=kid, Limit=2, Marker=page["NextMarker"])
check(len(rest["Grants"]) == 1 and not rest["Truncated"], rest)
retirable = kms.list_retirable_grants(RetiringPrincipal=retiree_arn)["Grants"]
check([g["GrantId"] for g in retirable] == [g1["GrantId"]] and retirable[0]["KeyId"] == karn, retirable)

# --- RetireGrant ------------------------------------------------------------------------------
# Not by the grantee of a grant without RetireGrant, nor by a stranger.
check(code(grantee.retire_grant, KeyId=karn, GrantId=g1["GrantId"])[0] == DENIED, "grantee without RetireGrant")
check(code(third.retire_grant, GrantToken=g1["GrantToken"])[0] == DENIED, "stranger retires")
check(code(kms.retire_grant, GrantToken=g1["GrantToken"], DryRun=True)[0] == "DryRunOperationException", "retire dry run")
# By the retiring principal, with the token, though it has no other permission.
retiree.retire_grant(GrantToken=g1["GrantToken"])
check(code(grantee.encrypt, KeyId=karn, Plaintext=b"x", EncryptionContext=ctx)[0] == DENIED, "retired grant still allows")
check(code(grantee.decrypt, CiphertextBlob=ct["CiphertextBlob"], EncryptionContext=ctx)[0] == DENIED, "retired grant still decrypts")
check(kms.list_retirable_grants(RetiringPrincipal=retiree_arn)["Grants"] == [], "retired grant still retirable")
# By the grantee, when the grant includes RetireGrant (constraints do not apply).
grantee.retire_grant(KeyId=karn, GrantId=g2["GrantId"])
check(code(grantee.generate_data_key, KeyId=karn, KeySpec="AES_256", EncryptionContext={"cluster": "prod", "Vol": "v-1"})[0] == DENIED, "retired g2")
check(code(kms.retire_grant, KeyId=karn, GrantId=g2["GrantId"])[0] == "NotFoundException", "retire twice")

# --- RevokeGrant by the key admin; the grantee cannot revoke ----------------------------------
check(code(third.revoke_grant, KeyId=karn, GrantId=g3["GrantId"])[0] == DENIED, "grantee revokes")
kms.revoke_grant(KeyId=kid, GrantId=g3["GrantId"])
check(code(third.describe_key, KeyId=karn)[0] == DENIED, "revoked grant still allows")
check(kms.list_grants(KeyId=kid)["Grants"] == [], "grants left")

# --- sub-grants: a grantee with CreateGrant creates only grants no wider than its own ---------
g4 = kms.create_grant(
    KeyId=kid,
    GranteePrincipal=grantee_arn,
    Operations=["Encrypt", "Decrypt", "CreateGrant"],
    Constraints={"EncryptionContextSubset": {"app": "a1"}},
)
narrower = grantee.create_grant(
    KeyId=karn,
    GranteePrincipal=third_arn,
    Operations=["Decrypt"],
    Constraints={"EncryptionContextSubset": {"app": "a1", "tier": "web"}},
    GrantTokens=[g4["GrantToken"]],
)
same = grantee.create_grant(KeyId=karn, GranteePrincipal=third_arn, Operations=["Encrypt"], Constraints={"EncryptionContextSubset": {"APP": "a1"}})
equal = grantee.create_grant(KeyId=karn, GranteePrincipal=third_arn, Operations=["Decrypt"], Constraints={"EncryptionContextEquals": {"app": "a1"}})
for desc, kw in {
    "more operations": dict(Operations=["Decrypt", "GenerateDataKey"], Constraints={"EncryptionContextSubset": {"app": "a1"}}),
    "an operation it lacks": dict(Operations=["ReEncryptFrom"], Constraints={"EncryptionContextSubset": {"app": "a1"}}),
    "no constraint": dict(Operations=["Decrypt"]),
    "another value": dict(Operations=["Decrypt"], Constraints={"EncryptionContextSubset": {"app": "a2"}}),
    "a value in another case": dict(Operations=["Decrypt"], Constraints={"EncryptionContextSubset": {"app": "A1"}}),
    "other keys only": dict(Operations=["Decrypt"], Constraints={"EncryptionContextSubset": {"tier": "web"}}),
}.items():
    check(code(grantee.create_grant, KeyId=karn, GranteePrincipal=third_arn, **kw)[0] == DENIED, f"sub-grant with {desc}")
# The sub-grants work, within their own constraints.
sub_ct = kms.encrypt(KeyId=kid, Plaintext=b"sub", EncryptionContext={"app": "a1", "tier": "web"})["CiphertextBlob"]
check(third.decrypt(CiphertextBlob=sub_ct, EncryptionContext={"app": "a1", "tier": "web"})["Plaintext"] == b"sub", "sub-grant decrypts")
check(code(third.decrypt, CiphertextBlob=sub_ct, EncryptionContext={"app": "a1", "tier": "web"}, KeyId=karn)[0] is None, "with KeyId")
third.encrypt(KeyId=karn, Plaintext=b"x", EncryptionContext={"app": "a1"})
check(code(third.generate_data_key, KeyId=karn, KeySpec="AES_256", EncryptionContext={"app": "a1"})[0] == DENIED, "sub-grant: not granted")
issued = {g["GrantId"]: g for g in kms.list_grants(KeyId=kid, GranteePrincipal=third_arn)["Grants"]}
check(set(issued) == {narrower["GrantId"], same["GrantId"], equal["GrantId"]}, issued)
# Revoking the parent does not revoke what it created (grants are independent), but the grantee
# can create no more.
kms.revoke_grant(KeyId=kid, GrantId=g4["GrantId"])
check(code(grantee.create_grant, KeyId=karn, GranteePrincipal=third_arn, Operations=["Decrypt"], Constraints={"EncryptionContextSubset": {"app": "a1"}})[0] == DENIED, "parent revoked")

# --- a disabled key refuses grant use, with DisabledException (state before authorization by grant)
g5 = kms.create_grant(KeyId=kid, GranteePrincipal=grantee_arn, Operations=["Encrypt"])
grantee.encrypt(KeyId=karn, Plaintext=b"x")
kms.disable_key(KeyId=kid)
check(code(grantee.encrypt, KeyId=karn, Plaintext=b"x")[0] == "DisabledException", "disabled key through a grant")
kms.enable_key(KeyId=kid)
grantee.encrypt(KeyId=karn, Plaintext=b"x")
print("ok")
