"""boto3 against `kmsfs serve`, unmodified: every KMS operation the CLI tour shows, AWS's
error names as exceptions, and pagination through boto3's paginators.

Run by tests/aws_clients.rs with AWS_ENDPOINT_URL_KMS, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION set. Prints `ok: <step>` lines; any failure
raises (non-zero exit)."""

import base64
import sys

import boto3
import botocore.exceptions

kms = boto3.client("kms")


def step(name):
    print(f"ok: {name}", flush=True)


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
        return e
    raise AssertionError(f"expected {code}, the call succeeded")


key = kms.create_key(Description="boto3 tour", Tags=[{"TagKey": "app", "TagValue": "tour"}])
meta = key["KeyMetadata"]
key_id, arn = meta["KeyId"], meta["Arn"]
assert arn == f"arn:aws:kms:us-east-1:111122223333:key/{key_id}", arn
assert meta["KeyState"] == "Enabled" and meta["KeySpec"] == "SYMMETRIC_DEFAULT", meta
assert hasattr(meta["CreationDate"], "year"), "CreationDate parses as a timestamp"
step("create_key")

assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"] == arn
kms.create_alias(AliasName="alias/tour", TargetKeyId=key_id)
assert kms.describe_key(KeyId="alias/tour")["KeyMetadata"]["KeyId"] == key_id
aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
assert "alias/tour" in aliases, aliases
step("aliases")

ctx = {"purpose": "tour", "app": "boto3"}
ct = kms.encrypt(KeyId="alias/tour", Plaintext=b"hello", EncryptionContext=ctx)
assert ct["KeyId"] == arn, ct["KeyId"]
pt = kms.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext=ctx)
assert pt["Plaintext"] == b"hello" and pt["KeyId"] == arn, pt
expect_error("InvalidCiphertextException", kms.decrypt,
             CiphertextBlob=ct["CiphertextBlob"], EncryptionContext={"purpose": "other"})
other = kms.create_key()["KeyMetadata"]["KeyId"]
expect_error("IncorrectKeyException", kms.decrypt,
             CiphertextBlob=ct["CiphertextBlob"], EncryptionContext=ctx, KeyId=other)
expect_error("ValidationException", kms.encrypt, KeyId=key_id, Plaintext=b"x" * 4097)
step("encrypt_decrypt")

dk = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=ctx)
assert len(dk["Plaintext"]) == 32
assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == dk["Plaintext"]
dk2 = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=16)
assert "Plaintext" not in dk2 and len(kms.decrypt(CiphertextBlob=dk2["CiphertextBlob"])["Plaintext"]) == 16
assert len(kms.generate_random(NumberOfBytes=64)["Plaintext"]) == 64
re = kms.re_encrypt(CiphertextBlob=ct["CiphertextBlob"], SourceEncryptionContext=ctx,
                    DestinationKeyId=other, DestinationEncryptionContext={"moved": "yes"})
assert kms.decrypt(CiphertextBlob=re["CiphertextBlob"], EncryptionContext={"moved": "yes"})["Plaintext"] == b"hello"
step("data_keys")

kms.disable_key(KeyId=key_id)
expect_error("DisabledException", kms.encrypt, KeyId=key_id, Plaintext=b"x")
kms.enable_key(KeyId=key_id)
when = kms.schedule_key_deletion(KeyId=other, PendingWindowInDays=7)
assert when["KeyState"] == "PendingDeletion" and hasattr(when["DeletionDate"], "year"), when
expect_error("KMSInvalidStateException", kms.encrypt, KeyId=other, Plaintext=b"x")
kms.cancel_key_deletion(KeyId=other)
kms.enable_key(KeyId=other)
expect_error("NotFoundException", kms.describe_key, KeyId="alias/nope")
expect_error("NotFoundException", kms.describe_key, KeyId="11111111-2222-3333-4444-555555555555")
step("key_states")

kms.enable_key_rotation(KeyId=key_id)
assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
kms.rotate_key_on_demand(KeyId=key_id)
rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
assert len(rotations) == 1, rotations
assert kms.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == b"hello"
step("rotation")

tags = kms.list_resource_tags(KeyId=key_id)["Tags"]
assert {"TagKey": "app", "TagValue": "tour"} in tags, tags
kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "env", "TagValue": "test"}])
kms.untag_resource(KeyId=key_id, TagKeys=["app"])
assert [t["TagKey"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]] == ["env"]
kms.update_key_description(KeyId=key_id, Description="renamed")
assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "renamed"
policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
assert "arn:aws:iam::111122223333:root" in policy, policy
assert kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]
step("tags_policies")

for _ in range(5):
    kms.create_key()
pages = list(kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}))
assert len(pages) >= 4, len(pages)
ids = [k["KeyId"] for p in pages for k in p["Keys"]]
assert len(ids) == len(set(ids)) and key_id in ids and len(ids) >= 7, ids
assert all(len(p["Keys"]) <= 2 for p in pages)
step("pagination")

# The request id comes back in the header botocore reads.
rid = kms.list_keys(Limit=1)["ResponseMetadata"]["RequestId"]
assert len(rid) >= 32, rid
step("request_id")
print("boto3 tour: all ok")
sys.exit(0)
