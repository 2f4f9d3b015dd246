"""Every KMS operation through boto3, and the (operation x key state) matrix.

Exits non-zero with a message on the first failure; prints "ok" at the end."""
import base64

import boto3
import botocore.config
import botocore.exceptions

from checks import check, code

kms = boto3.client("kms")
raw = boto3.client("kms", config=botocore.config.Config(parameter_validation=False))


# --- lifecycle of one key, every operation once -------------------------------------------
key = kms.create_key(Description="ops", Tags=[{"TagKey": "team", "TagValue": "a"}])["KeyMetadata"]
kid, arn = key["KeyId"], key["Arn"]
check(key["KeyState"] == "Enabled" and key["Origin"] == "AWS_KMS" and key["KeySpec"] == "SYMMETRIC_DEFAULT", key)
check(kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyId"] == kid, "describe by ARN")
check(any(k["KeyId"] == kid for k in kms.list_keys()["Keys"]), "list_keys")
kms.update_key_description(KeyId=kid, Description="renamed")
check(kms.describe_key(KeyId=kid)["KeyMetadata"]["Description"] == "renamed", "update description")
kms.create_alias(AliasName="alias/ops", TargetKeyId=kid)
check(code(kms.create_alias, AliasName="alias/ops", TargetKeyId=kid)[0] == "AlreadyExistsException", "duplicate alias")
check(kms.describe_key(KeyId="alias/ops")["KeyMetadata"]["KeyId"] == kid, "describe by alias")
check(kms.describe_key(KeyId=f"arn:aws:kms:us-east-1:{arn.split(':')[4]}:alias/ops")["KeyMetadata"]["KeyId"] == kid, "describe by alias ARN")
check([a["AliasName"] for a in kms.list_aliases(KeyId=kid)["Aliases"]] == ["alias/ops"], "list_aliases by key")

ctx = {"purpose": "test", "Dept": "IT"}
ct = kms.encrypt(KeyId="alias/ops", Plaintext=b"secret data", EncryptionContext=ctx)
check(ct["KeyId"] == arn and ct["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT", ct)
pt = kms.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext=ctx)
check(pt["Plaintext"] == b"secret data" and pt["KeyId"] == arn, "decrypt without KeyId")
check(kms.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext=ctx, KeyId="alias/ops")["Plaintext"] == b"secret data", "decrypt with alias")
check(code(kms.decrypt, CiphertextBlob=ct["CiphertextBlob"], EncryptionContext={"purpose": "test"})[0] == "InvalidCiphertextException", "wrong context")
check(code(kms.decrypt, CiphertextBlob=ct["CiphertextBlob"], EncryptionContext={"purpose": "test", "dept": "IT"})[0] == "InvalidCiphertextException", "context keys are case sensitive")
tampered = bytearray(ct["CiphertextBlob"])
tampered[-1] ^= 1
check(code(kms.decrypt, CiphertextBlob=bytes(tampered), EncryptionContext=ctx)[0] == "InvalidCiphertextException", "tampered")
check(code(kms.decrypt, CiphertextBlob=b"\x01garbage", EncryptionContext=ctx)[0] == "InvalidCiphertextException", "garbage")
other = kms.create_key()["KeyMetadata"]["KeyId"]
check(code(kms.decrypt, CiphertextBlob=ct["CiphertextBlob"], EncryptionContext=ctx, KeyId=other)[0] == "IncorrectKeyException", "mismatching KeyId")
re = kms.re_encrypt(CiphertextBlob=ct["CiphertextBlob"], SourceEncryptionContext=ctx, DestinationKeyId=other, DestinationEncryptionContext={"x": "y"})
check(re["SourceKeyId"] == arn and re["KeyId"].endswith(other), re)
check(kms.decrypt(CiphertextBlob=re["CiphertextBlob"], EncryptionContext={"x": "y"})["Plaintext"] == b"secret data", "re-encrypted decrypts")

dk = kms.generate_data_key(KeyId=kid, KeySpec="AES_256", EncryptionContext={"a": "1"})
check(len(dk["Plaintext"]) == 32 and dk["KeyId"] == arn and len(dk["KeyMaterialId"]) == 64, "generate_data_key")
check(kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"a": "1"})["Plaintext"] == dk["Plaintext"], "data key decrypts")
dk2 = kms.generate_data_key_without_plaintext(KeyId=kid, NumberOfBytes=64)
check("Plaintext" not in dk2 and len(kms.decrypt(CiphertextBlob=dk2["CiphertextBlob"])["Plaintext"]) == 64, "without plaintext")
check(code(raw.generate_data_key, KeyId=kid)[0] == "ValidationException", "neither bytes nor spec")
check(code(raw.generate_data_key, KeyId=kid, NumberOfBytes=1025)[0] == "ValidationException", "1025 bytes")
check(len(kms.generate_random(NumberOfBytes=100)["Plaintext"]) == 100, "generate_random")
check(code(kms.encrypt, KeyId=kid, Plaintext=b"x", DryRun=True)[0] == "DryRunOperationException", "dry run")
check(code(raw.encrypt, KeyId=kid, Plaintext=b"x" * 4097)[0] == "ValidationException", "4097 bytes")

kms.enable_key_rotation(KeyId=kid, RotationPeriodInDays=90)
st = kms.get_key_rotation_status(KeyId=kid)
check(st["KeyRotationEnabled"] and st["RotationPeriodInDays"] == 90 and "NextRotationDate" in st, st)
check(code(raw.enable_key_rotation, KeyId=kid, RotationPeriodInDays=89)[0] == "ValidationException", "89 days")
before = kms.encrypt(KeyId=kid, Plaintext=b"old")["CiphertextBlob"]
kms.rotate_key_on_demand(KeyId=kid)
rot = kms.list_key_rotations(KeyId=kid)["Rotations"]
check(len(rot) == 1 and rot[0]["RotationType"] == "ON_DEMAND", rot)
check(kms.decrypt(CiphertextBlob=before)["Plaintext"] == b"old", "old ciphertext after rotation")
after = kms.encrypt(KeyId=kid, Plaintext=b"new")
check(kms.decrypt(CiphertextBlob=after["CiphertextBlob"])["KeyMaterialId"] == rot[0]["KeyMaterialId"], "new material used")
kms.disable_key_rotation(KeyId=kid)
check(not kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"], "rotation off")

policy = kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"]
check('"Enable IAM User Permissions"' in policy and ":root" in policy, policy)
check(kms.list_key_policies(KeyId=kid)["PolicyNames"] == ["default"], "list_key_policies")
kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=policy.replace("key-default-1", "key-custom"))
check("key-custom" in kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"], "put_key_policy")
check(code(kms.put_key_policy, KeyId=kid, PolicyName="default", Policy="{")[0] == "MalformedPolicyDocumentException", "bad policy")

kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "env", "TagValue": "prod"}])
check({t["TagKey"] for t in kms.list_resource_tags(KeyId=kid)["Tags"]} == {"team", "env"}, "tags")
kms.untag_resource(KeyId=kid, TagKeys=["team"])
check([t["TagKey"] for t in kms.list_resource_tags(KeyId=kid)["Tags"]] == ["env"], "untag")

kms.update_alias(AliasName="alias/ops", TargetKeyId=other)
check(kms.describe_key(KeyId="alias/ops")["KeyMetadata"]["KeyId"] == other, "update_alias")
kms.delete_alias(AliasName="alias/ops")
check(code(kms.describe_key, KeyId="alias/ops")[0] == "NotFoundException", "alias deleted")
check(code(kms.create_alias, AliasName="alias/aws/reserved", TargetKeyId=kid)[0] == "InvalidAliasNameException", "aws/ prefix")

kms.disable_key(KeyId=kid)
c, m = code(kms.encrypt, KeyId=kid, Plaintext=b"x")
check(c == "DisabledException" and m == f"{arn} is disabled.", (c, m))
kms.enable_key(KeyId=kid)
d = kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
check(d["KeyState"] == "PendingDeletion" and d["PendingWindowInDays"] == 7, d)
c, m = code(kms.encrypt, KeyId=kid, Plaintext=b"x")
check(c == "KMSInvalidStateException" and m == f"{arn} is pending deletion.", (c, m))
check(code(raw.schedule_key_deletion, KeyId=other, PendingWindowInDays=6)[0] == "ValidationException", "6 days")
kms.cancel_key_deletion(KeyId=kid)
check(kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled", "cancel leaves the key disabled")
check(code(kms.describe_key, KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")[0] == "NotFoundException", "unknown key")
check(code(kms.describe_key, KeyId="not-a-key")[0] == "NotFoundException", "malformed id")

# --- the (operation x state) matrix -------------------------------------------------------
def key_in(state):
    if state == "PendingImport":
        return kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    k = kms.create_key()["KeyMetadata"]["KeyId"]
    if state == "Disabled":
        kms.disable_key(KeyId=k)
    if state == "PendingDeletion":
        kms.schedule_key_deletion(KeyId=k, PendingWindowInDays=30)
    return k


ops = {
    "Encrypt": lambda k: kms.encrypt(KeyId=k, Plaintext=b"x"),
    "GenerateDataKey": lambda k: kms.generate_data_key(KeyId=k, KeySpec="AES_256"),
    "GenerateDataKeyWithoutPlaintext": lambda k: kms.generate_data_key_without_plaintext(KeyId=k, KeySpec="AES_256"),
    "DescribeKey": lambda k: kms.describe_key(KeyId=k),
    "EnableKey": lambda k: kms.enable_key(KeyId=k),
    "DisableKey": lambda k: kms.disable_key(KeyId=k),
    "CreateGrant": lambda k: kms.create_grant(KeyId=k, GranteePrincipal="arn:aws:iam::000000000000:root", Operations=["Decrypt"]),
    "ListGrants": lambda k: kms.list_grants(KeyId=k),
    "GetKeyPolicy": lambda k: kms.get_key_policy(KeyId=k, PolicyName="default"),
    "EnableKeyRotation": lambda k: kms.enable_key_rotation(KeyId=k),
    "TagResource": lambda k: kms.tag_resource(KeyId=k, Tags=[{"TagKey": "a", "TagValue": "b"}]),
    "ScheduleKeyDeletion": lambda k: kms.schedule_key_deletion(KeyId=k, PendingWindowInDays=7),
    "CancelKeyDeletion": lambda k: kms.cancel_key_deletion(KeyId=k),
}
OK, DIS, INV, UNS = None, "DisabledException", "KMSInvalidStateException", "UnsupportedOperationException"
expected = {  # Enabled, Disabled, PendingDeletion, PendingImport
    "Encrypt": [OK, DIS, INV, INV],
    "GenerateDataKey": [OK, DIS, INV, INV],
    "GenerateDataKeyWithoutPlaintext": [OK, DIS, INV, INV],
    "DescribeKey": [OK, OK, OK, OK],
    "EnableKey": [OK, OK, INV, INV],
    "DisableKey": [OK, OK, INV, INV],
    "CreateGrant": [OK, DIS, INV, INV],
    "ListGrants": [OK, OK, OK, OK],
    "GetKeyPolicy": [OK, OK, OK, OK],
    "EnableKeyRotation": [OK, DIS, INV, INV],
    "TagResource": [OK, OK, INV, OK],
    "ScheduleKeyDeletion": [OK, OK, INV, OK],
    "CancelKeyDeletion": [INV, INV, OK, INV],
}
states = ["Enabled", "Disabled", "PendingDeletion", "PendingImport"]
for op, fn in ops.items():
    for state, want in zip(states, expected[op]):
        k = key_in(state)
        try:
            fn(k)
            got = None
        except botocore.exceptions.ClientError as e:
            got = e.response["Error"]["Code"]
        check(got == want, f"{op} in {state}: got {got}, expected {want}")


# --- the matrix, second part: operations that need something made before the state change ---
# (a ciphertext, a grant, an alias). PendingImport here is an imported key whose material was
# deleted, so that it had material (and ciphertexts, grants) before.
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
import os


def import_material(k, material):
    p = kms.get_parameters_for_import(KeyId=k, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    pub = serialization.load_der_public_key(p["PublicKey"])
    wrapped = pub.encrypt(material, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    kms.import_key_material(KeyId=k, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrapped, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")


class Prepared:
    def __init__(self, state):
        if state == "PendingImport":
            self.key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
            import_material(self.key, os.urandom(32))
        else:
            self.key = kms.create_key()["KeyMetadata"]["KeyId"]
        self.ct = kms.encrypt(KeyId=self.key, Plaintext=b"before", EncryptionContext={"c": "1"})["CiphertextBlob"]
        self.grant = kms.create_grant(KeyId=self.key, GranteePrincipal=f"arn:aws:iam::{account}:root", Operations=["Decrypt"])["GrantId"]
        self.alias = f"alias/m-{self.key}"
        kms.create_alias(AliasName=self.alias, TargetKeyId=self.key)
        if state == "Disabled":
            kms.disable_key(KeyId=self.key)
        elif state == "PendingDeletion":
            kms.schedule_key_deletion(KeyId=self.key, PendingWindowInDays=30)
        elif state == "PendingImport":
            kms.delete_imported_key_material(KeyId=self.key)
        got = kms.describe_key(KeyId=self.key)["KeyMetadata"]["KeyState"]
        check(got == state, f"prepared key is {got}, wanted {state}")


account = arn.split(":")[4]


def fresh():
    return kms.create_key()["KeyMetadata"]["KeyId"]


ops2 = {
    "Decrypt": lambda p: kms.decrypt(CiphertextBlob=p.ct, EncryptionContext={"c": "1"}),
    "Decrypt(KeyId)": lambda p: kms.decrypt(CiphertextBlob=p.ct, EncryptionContext={"c": "1"}, KeyId=p.key),
    "ReEncrypt(from)": lambda p: kms.re_encrypt(CiphertextBlob=p.ct, SourceEncryptionContext={"c": "1"}, DestinationKeyId=fresh()),
    "ReEncrypt(to)": lambda p: kms.re_encrypt(
        CiphertextBlob=kms.encrypt(KeyId=fresh(), Plaintext=b"z")["CiphertextBlob"], DestinationKeyId=p.key
    ),
    "Encrypt(alias)": lambda p: kms.encrypt(KeyId=p.alias, Plaintext=b"x"),
    "RetireGrant": lambda p: kms.retire_grant(KeyId=kms.describe_key(KeyId=p.key)["KeyMetadata"]["Arn"], GrantId=p.grant),
    "RevokeGrant": lambda p: kms.revoke_grant(KeyId=p.key, GrantId=p.grant),
    "UpdateKeyDescription": lambda p: kms.update_key_description(KeyId=p.key, Description="d"),
    "UntagResource": lambda p: kms.untag_resource(KeyId=p.key, TagKeys=["a"]),
    "ListResourceTags": lambda p: kms.list_resource_tags(KeyId=p.key),
    "ListKeyPolicies": lambda p: kms.list_key_policies(KeyId=p.key),
    "PutKeyPolicy": lambda p: kms.put_key_policy(KeyId=p.key, PolicyName="default", Policy=kms.get_key_policy(KeyId=p.key, PolicyName="default")["Policy"]),
    "CreateAlias": lambda p: kms.create_alias(AliasName=p.alias + "-2", TargetKeyId=p.key),
    "UpdateAlias": lambda p: kms.update_alias(AliasName=f"alias/u-{p.key}", TargetKeyId=p.key),
    "DeleteAlias": lambda p: kms.delete_alias(AliasName=p.alias),
    "DisableKeyRotation": lambda p: kms.disable_key_rotation(KeyId=p.key),
    "RotateKeyOnDemand": lambda p: kms.rotate_key_on_demand(KeyId=p.key),
    "GetKeyRotationStatus": lambda p: kms.get_key_rotation_status(KeyId=p.key),
    "ListKeyRotations": lambda p: kms.list_key_rotations(KeyId=p.key),
}
ANY = "any"  # not asserted
expected2 = {  # Enabled, Disabled, PendingDeletion, PendingImport (AWS KMS "Key states" table)
    "Decrypt": [OK, DIS, INV, INV],
    "Decrypt(KeyId)": [OK, DIS, INV, INV],
    "ReEncrypt(from)": [OK, DIS, INV, INV],
    "ReEncrypt(to)": [OK, DIS, INV, INV],
    "Encrypt(alias)": [OK, DIS, INV, INV],
    "RetireGrant": [OK, OK, OK, OK],
    "RevokeGrant": [OK, OK, OK, OK],
    "UpdateKeyDescription": [OK, OK, INV, OK],
    "UntagResource": [OK, OK, INV, OK],
    "ListResourceTags": [OK, OK, OK, OK],
    "ListKeyPolicies": [OK, OK, OK, OK],
    "PutKeyPolicy": [OK, OK, INV, OK],
    "CreateAlias": [OK, OK, INV, OK],
    "UpdateAlias": [OK, OK, INV, OK],
    "DeleteAlias": [OK, OK, OK, OK],
    "DisableKeyRotation": [OK, DIS, INV, ANY],
    "RotateKeyOnDemand": [OK, DIS, INV, ANY],
    "GetKeyRotationStatus": [OK, OK, ANY, ANY],
    "ListKeyRotations": [OK, OK, ANY, ANY],
}
for state in states:
    for op, fn in ops2.items():
        p = Prepared(state)
        kms.create_alias(AliasName=f"alias/u-{p.key}", TargetKeyId=fresh())
        want = expected2[op][states.index(state)]
        try:
            fn(p)
            got = None
        except botocore.exceptions.ClientError as e:
            got = e.response["Error"]["Code"]
        check(want == ANY or got == want, f"{op} in {state}: got {got}, expected {want}")
        # Messages name the key ARN, as AWS writes them.
        if got in (DIS, INV) and op.startswith(("Decrypt", "ReEncrypt(from)")):
            _, m = code(fn, p=p)
            want_m = {"Disabled": "is disabled.", "PendingDeletion": "is pending deletion.", "PendingImport": "is pending import."}[state]
            check(m.endswith(want_m) and p.key in m, f"{op} in {state}: message {m!r}")
    # A ciphertext made before the state change decrypts again once the key is usable again.
    p = Prepared(state)
    if state == "Disabled":
        kms.enable_key(KeyId=p.key)
    elif state == "PendingDeletion":
        kms.cancel_key_deletion(KeyId=p.key)
        kms.enable_key(KeyId=p.key)
    if state != "PendingImport":
        check(kms.decrypt(CiphertextBlob=p.ct, EncryptionContext={"c": "1"})["Plaintext"] == b"before", f"decrypt after leaving {state}")

# DeleteImportedKeyMaterial works on a key pending deletion and leaves its state alone
# (KMS API Reference, DeleteImportedKeyMaterial); the material is gone all the same.
k = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
import_material(k, os.urandom(32))
kms.schedule_key_deletion(KeyId=k, PendingWindowInDays=7)
c, m = code(kms.delete_imported_key_material, KeyId=k)
check(c is None, f"DeleteImportedKeyMaterial while pending deletion: {c} {m}")
check(kms.describe_key(KeyId=k)["KeyMetadata"]["KeyState"] == "PendingDeletion", "state after deleting material")
c, _ = code(kms.delete_imported_key_material, KeyId=k)
check(c == INV, f"deleting material twice: {c}")
print("ok")
