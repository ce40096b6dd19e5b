"""boto3 against `kmsfs serve`: the import flow (BYOK) as a user writes it, the wrapping done
with `cryptography` (RSAES-OAEP SHA-256, and RSA_AES_KEY_WRAP_SHA_256: OAEP of an AES key,
then AES-KWP of the material), then Encrypt/Decrypt; AWS's error names as exceptions.

Run by tests/kms_import.rs with AWS_ENDPOINT_URL_KMS and the test credentials set. Prints
`ok: <step>` lines; any failure raises (non-zero exit)."""

import datetime
import os

import boto3
import botocore.exceptions
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

kms = boto3.client("kms")


def step(name):
    print(f"ok: {name}", flush=True)


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        return e
    raise AssertionError(f"expected {code}, the call succeeded")


def oaep():
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
    )


def wrap(params, algorithm, material):
    public = serialization.load_der_public_key(params["PublicKey"])
    if algorithm == "RSAES_OAEP_SHA_256":
        return public.encrypt(material, oaep())
    aes = os.urandom(32)
    return public.encrypt(aes, oaep()) + aes_key_wrap_with_padding(aes, material)


def import_material(key_id, algorithm, material, **kwargs):
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048"
    )
    assert params["KeyId"].endswith(key_id), params
    assert isinstance(params["ParametersValidTo"], datetime.datetime), params
    return kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params, algorithm, material),
        **kwargs,
    )


key = kms.create_key(Origin="EXTERNAL", Description="byok")["KeyMetadata"]
assert key["KeyState"] == "PendingImport" and key["Origin"] == "EXTERNAL", key
key_id = key["KeyId"]
expect_error("KMSInvalidStateException", kms.encrypt, KeyId=key_id, Plaintext=b"x")
step("create-key EXTERNAL")

material = os.urandom(32)
valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
out = import_material(
    key_id,
    "RSAES_OAEP_SHA_256",
    material,
    ExpirationModel="KEY_MATERIAL_EXPIRES",
    ValidTo=valid_to,
)
assert len(out["KeyMaterialId"]) == 64, out
meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
assert meta["KeyState"] == "Enabled", meta
assert meta["ExpirationModel"] == "KEY_MATERIAL_EXPIRES", meta
assert abs((meta["ValidTo"] - valid_to).total_seconds()) < 1, meta
step("import-key-material RSAES_OAEP_SHA_256")

blob = kms.encrypt(KeyId=key_id, Plaintext=b"hello from boto3")["CiphertextBlob"]
assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello from boto3"
step("encrypt/decrypt")

expect_error(
    "IncorrectKeyMaterialException",
    import_material,
    key_id,
    "RSA_AES_KEY_WRAP_SHA_256",
    os.urandom(32),
)
kms.delete_imported_key_material(KeyId=key_id)
assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
expect_error("KMSInvalidStateException", kms.decrypt, CiphertextBlob=blob)
import_material(
    key_id,
    "RSA_AES_KEY_WRAP_SHA_256",
    material,
    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
)
assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello from boto3"
step("delete, re-import with RSA_AES_KEY_WRAP_SHA_256, old ciphertext decrypts")

params = kms.get_parameters_for_import(
    KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
)
other = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
expect_error(
    "InvalidImportTokenException",
    kms.import_key_material,
    KeyId=other,
    ImportToken=params["ImportToken"],
    EncryptedKeyMaterial=wrap(params, "RSAES_OAEP_SHA_256", material),
    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
)
expect_error(
    "ValidationException",
    kms.get_parameters_for_import,
    KeyId=key_id,
    WrappingAlgorithm="RSAES_PKCS1_V1_5",
    WrappingKeySpec="RSA_2048",
)
plain = kms.create_key()["KeyMetadata"]["KeyId"]
expect_error("UnsupportedOperationException", kms.delete_imported_key_material, KeyId=plain)
step("errors")

print("boto3 import: all ok")
