"""What the audit trail records of boto3's requests: a custom user agent suffix, and the
request ids boto3 reports (ResponseMetadata.RequestId) for a success and for a refusal.
Prints one JSON object: {"ok": ID, "refused": ID, "user_agent_extra": ...}."""
import json

import boto3
from botocore.config import Config

EXTRA = "kmsfs-test/1"
kms = boto3.client("kms", config=Config(user_agent_extra=EXTRA, retries={"mode": "standard"}))
key_id = kms.create_key()["KeyMetadata"]["KeyId"]
ok = kms.encrypt(KeyId=key_id, Plaintext=b"caller")["ResponseMetadata"]["RequestId"]
kms.disable_key(KeyId=key_id)
try:
    kms.encrypt(KeyId=key_id, Plaintext=b"caller")
    raise SystemExit("Encrypt with a disabled key succeeded")
except kms.exceptions.DisabledException as e:
    refused = e.response["ResponseMetadata"]["RequestId"]
print(json.dumps({"ok": ok, "refused": refused, "key_id": key_id, "user_agent_extra": EXTRA}))
