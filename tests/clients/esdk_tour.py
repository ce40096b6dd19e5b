"""The AWS Encryption SDK (Python, 4.x) against `kmsfs serve`, unmodified: the legacy
`StrictAwsKmsMasterKeyProvider` pointed at the endpoint only by AWS_ENDPOINT_URL_KMS, with
a 1 MiB message, and the caching CMM, whose KMS calls the caller counts from the audit
trail. Argument: the key ARN. Prints `ok: <step>` lines."""

import os
import sys

import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy

arn = sys.argv[1]
client = aws_encryption_sdk.EncryptionSDKClient(
    commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
)
provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[arn])
data = os.urandom(1 << 20)
ct, header = client.encrypt(source=data, key_provider=provider, encryption_context={"tour": "esdk"})
assert ct != data and header.encryption_context["tour"] == "esdk"
pt, dheader = client.decrypt(source=ct, key_provider=provider)
assert pt == data and dheader.encryption_context["tour"] == "esdk"
print("ok: legacy provider, 1 MiB", flush=True)

cache = aws_encryption_sdk.LocalCryptoMaterialsCache(capacity=100)
cmm = aws_encryption_sdk.CachingCryptoMaterialsManager(
    master_key_provider=provider, cache=cache, max_age=600.0, max_messages_encrypted=10
)
for i in range(25):
    ct, _ = client.encrypt(source=b"message %d" % i, materials_manager=cmm,
                           encryption_context={"tour": "cache"})
print("ok: caching CMM, 25 messages", flush=True)
