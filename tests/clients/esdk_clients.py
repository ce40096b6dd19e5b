"""The AWS Encryption SDK (Python, 4.x) against `kmsfs serve` through a KMS client the
application builds itself, the two ways reference §7.3 lists: the legacy
`StrictAwsKmsMasterKeyProvider` with `add_regional_client` overridden to build
`boto3.client("kms", endpoint_url=...)` (the ESDK's own example
`custom_kms_client_for_kms_provider.py`), and the Material Providers Library's AWS KMS
keyring given such a client. AWS_ENDPOINT_URL_KMS is removed first, so the explicit client
is the only way to the endpoint. Each way encrypts and decrypts a 1 MiB message in memory
and a 100 MiB message streamed from and to files, checking the plaintext's SHA-256.
Arguments: the key ARN, the endpoint URL, a scratch directory. Prints `ok: <step>` lines."""

import hashlib
import os
import sys

import boto3
import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.models import CreateAwsKmsKeyringInput

arn, endpoint, scratch = sys.argv[1], sys.argv[2], sys.argv[3]
os.environ.pop("AWS_ENDPOINT_URL_KMS", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

client = aws_encryption_sdk.EncryptionSDKClient(
    commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
)
CONTEXT = {"tour": "esdk-clients"}
MIB = 1 << 20


def kms_client(region):
    return boto3.client("kms", region_name=region, endpoint_url=endpoint)


class EndpointKeyProvider(aws_encryption_sdk.StrictAwsKmsMasterKeyProvider):
    """The ESDK example's pattern: every regional client is built for the endpoint."""

    def add_regional_client(self, region_name):
        if region_name not in self._regional_clients:
            self._regional_clients[region_name] = kms_client(region_name)


def round_trip_in_memory(name, **how):
    data = os.urandom(MIB)
    ct, header = client.encrypt(source=data, encryption_context=CONTEXT, **how)
    assert ct != data and header.encryption_context["tour"] == "esdk-clients"
    pt, dheader = client.decrypt(source=ct, **how)
    assert pt == data and dheader.encryption_context["tour"] == "esdk-clients"
    print(f"ok: {name}, 1 MiB", flush=True)


def round_trip_streamed(name, size_mib, **how):
    plain = os.path.join(scratch, f"{name}.plain")
    sealed = os.path.join(scratch, f"{name}.sealed")
    opened = os.path.join(scratch, f"{name}.opened")
    want = hashlib.sha256()
    with open(plain, "wb") as f:
        block = os.urandom(MIB)
        for i in range(size_mib):
            chunk = block[i % 251:] + block[: i % 251]
            want.update(chunk)
            f.write(chunk)
    with open(plain, "rb") as src, open(sealed, "wb") as dst:
        with client.stream(mode="e", source=src, encryption_context=CONTEXT, **how) as enc:
            for chunk in enc:
                dst.write(chunk)
    got = hashlib.sha256()
    with open(sealed, "rb") as src, open(opened, "wb") as dst:
        with client.stream(mode="d", source=src, **how) as dec:
            for chunk in dec:
                got.update(chunk)
                dst.write(chunk)
            assert dec.header.encryption_context["tour"] == "esdk-clients"
    assert got.hexdigest() == want.hexdigest(), "the 100 MiB message came back different"
    assert os.path.getsize(sealed) > size_mib * MIB
    for p in (plain, sealed, opened):
        os.remove(p)
    print(f"ok: {name}, {size_mib} MiB streamed", flush=True)


provider = EndpointKeyProvider(key_ids=[arn])
round_trip_in_memory("custom client", key_provider=provider)
round_trip_streamed("custom-client", 100, key_provider=provider)

mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
keyring = mpl.create_aws_kms_keyring(
    input=CreateAwsKmsKeyringInput(kms_key_id=arn, kms_client=kms_client(arn.split(":")[3]))
)
round_trip_in_memory("MPL keyring", keyring=keyring)
round_trip_streamed("mpl-keyring", 100, keyring=keyring)
