"""boto3 against a real `kmsfs serve`: asymmetric and HMAC keys (sign/verify, get_public_key,
generate_mac/verify_mac, generate_data_key_pair, RSA encrypt/decrypt), verified with Python
`cryptography` (ML-DSA too, which OpenSSL 3.0 lacks). Prints "asym tour: all ok"."""
import hashlib

import boto3
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

kms = boto3.client("kms")


def expect_error(code, f, **kw):
    try:
        f(**kw)
    except ClientError as e:
        assert e.response["Error"]["Code"] == code, e.response
        return
    raise AssertionError(f"expected {code}")


# ECDSA P-256: sign RAW and DIGEST, verify with cryptography and with KMS.
k = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
assert k["KeySpec"] == "ECC_NIST_P256" and k["SigningAlgorithms"] == ["ECDSA_SHA_256"], k
kid = k["KeyId"]
msg = b"signed over the endpoint"
sig = kms.sign(KeyId=kid, Message=msg, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
pub = kms.get_public_key(KeyId=kid)
assert pub["KeyUsage"] == "SIGN_VERIFY" and pub["SigningAlgorithms"] == ["ECDSA_SHA_256"], pub
pk = serialization.load_der_public_key(pub["PublicKey"])
pk.verify(sig, msg, ec.ECDSA(hashes.SHA256()))
v = kms.verify(KeyId=kid, Message=msg, Signature=sig, SigningAlgorithm="ECDSA_SHA_256")
assert v["SignatureValid"] is True, v
d = hashlib.sha256(msg).digest()
sig2 = kms.sign(KeyId=kid, Message=d, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
pk.verify(sig2, msg, ec.ECDSA(hashes.SHA256()))
expect_error("KMSInvalidSignatureException", kms.verify, KeyId=kid, Message=b"other",
             Signature=sig, SigningAlgorithm="ECDSA_SHA_256")
expect_error("InvalidKeyUsageException", kms.encrypt, KeyId=kid, Plaintext=b"x")

# ML-DSA-65 with cryptography's verifier.
try:
    from cryptography.hazmat.primitives.asymmetric import mldsa  # noqa: F401
    have_mldsa = True
except ImportError:
    have_mldsa = False
m = kms.create_key(KeySpec="ML_DSA_65", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
sig = kms.sign(KeyId=m, Message=msg, SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
assert kms.verify(KeyId=m, Message=msg, Signature=sig, SigningAlgorithm="ML_DSA_SHAKE_256")["SignatureValid"]
if have_mldsa:
    mpk = serialization.load_der_public_key(kms.get_public_key(KeyId=m)["PublicKey"])
    mpk.verify(sig, msg)
    print("ml-dsa verified by cryptography")

# HMAC.
h = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
assert h["MacAlgorithms"] == ["HMAC_SHA_256"], h
mac = kms.generate_mac(KeyId=h["KeyId"], Message=msg, MacAlgorithm="HMAC_SHA_256")["Mac"]
assert len(mac) == 32
r = kms.verify_mac(KeyId=h["KeyId"], Message=msg, Mac=mac, MacAlgorithm="HMAC_SHA_256")
assert r["MacValid"] is True, r
bad = bytes([mac[0] ^ 1]) + mac[1:]
expect_error("KMSInvalidMacException", kms.verify_mac, KeyId=h["KeyId"], Message=msg, Mac=bad,
             MacAlgorithm="HMAC_SHA_256")

# RSA encryption: encrypt locally with the public key, decrypt in KMS, and the reverse.
r = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
rpk = serialization.load_der_public_key(kms.get_public_key(KeyId=r)["PublicKey"])
oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
ct = rpk.encrypt(b"for kms", oaep)
out = kms.decrypt(KeyId=r, CiphertextBlob=ct, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
assert out["Plaintext"] == b"for kms" and out["EncryptionAlgorithm"] == "RSAES_OAEP_SHA_256", out
ct2 = kms.encrypt(KeyId=r, Plaintext=b"round", EncryptionAlgorithm="RSAES_OAEP_SHA_1")["CiphertextBlob"]
assert kms.decrypt(KeyId=r, CiphertextBlob=ct2, EncryptionAlgorithm="RSAES_OAEP_SHA_1")["Plaintext"] == b"round"
expect_error("ValidationException", kms.encrypt, KeyId=r, Plaintext=b"x" * 191,
             EncryptionAlgorithm="RSAES_OAEP_SHA_256")

# Data key pair under a symmetric key.
s = kms.create_key()["KeyMetadata"]["KeyId"]
p = kms.generate_data_key_pair(KeyId=s, KeyPairSpec="ECC_NIST_P384", EncryptionContext={"a": "b"})
back = kms.decrypt(CiphertextBlob=p["PrivateKeyCiphertextBlob"], EncryptionContext={"a": "b"})
assert back["Plaintext"] == p["PrivateKeyPlaintext"]
priv = serialization.load_der_private_key(p["PrivateKeyPlaintext"], password=None)
assert priv.public_key().public_bytes(serialization.Encoding.DER,
                                      serialization.PublicFormat.SubjectPublicKeyInfo) == p["PublicKey"]
w = kms.generate_data_key_pair_without_plaintext(KeyId=s, KeyPairSpec="RSA_2048")
assert "PrivateKeyPlaintext" not in w and w["KeyPairSpec"] == "RSA_2048"
expect_error("InvalidKeyUsageException", kms.generate_data_key_pair, KeyId=r, KeyPairSpec="RSA_2048")
print("asym tour: all ok")
