#!/usr/bin/env bash
# Build kmsfs and run its main job on the embedded KMS (no daemon): create a home, a key and
# an alias, wrap and unwrap a data key, then create an encrypted volume and mount it as a
# directory. Uses $KMSFS_HOME if set, else a fresh home in a temporary directory.
# With --check, also unmounts at the end (CI uses this). KMSFS_BIN=path runs that binary
# instead of a release build (CI: the one its test build made; a release build, thin LTO over
# one codegen unit, takes 6.5 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = "--check" ] && check=1
if [ "$(id -u)" != 0 ] && ! command -v fusermount3 >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3
fi
if [ -n "${KMSFS_BIN:-}" ]; then
    K=$(realpath "$KMSFS_BIN")
else
    cargo build --release --quiet
    K="$PWD/target/release/kmsfs"
fi
work=$(mktemp -d)
export KMSFS_HOME="${KMSFS_HOME:-$work/home}"
[ -f "$KMSFS_HOME/config.json" ] || "$K" init
key=$("$K" kms create-key --description "quickstart key" --query KeyMetadata.KeyId --output text)
"$K" kms create-alias --alias-name "alias/quickstart-$$" --target-key-id "$key"
echo "kmsfs: created key $key (alias/quickstart-$$) in $KMSFS_HOME"

# Envelope encryption: KMS hands out a data key in two forms; the application uses the
# plaintext copy in memory and keeps only the wrapped copy, which KMS alone can unwrap.
"$K" kms generate-data-key --key-id "alias/quickstart-$$" --key-spec AES_256 \
    --encryption-context purpose=quickstart > "$work/dk.json"
python3 - "$work" <<'PY'
import base64, json, sys
w = sys.argv[1]
dk = json.load(open(f"{w}/dk.json"))
open(f"{w}/data.key.enc", "wb").write(base64.b64decode(dk["CiphertextBlob"]))
PY
rm -f "$work/dk.json"
# The wrapped key decrypts only with the same encryption context.
"$K" kms decrypt --ciphertext-blob "fileb://$work/data.key.enc" --encryption-context purpose=quickstart \
    --query KeyId --output text
if "$K" kms decrypt --ciphertext-blob "fileb://$work/data.key.enc" --encryption-context purpose=other 2>/dev/null; then
    echo "kmsfs: a wrong encryption context was accepted" >&2; exit 1
fi
printf 'hello from kmsfs\n' > "$work/msg.txt"
"$K" kms encrypt --key-id "alias/quickstart-$$" --plaintext "fileb://$work/msg.txt" \
    --query CiphertextBlob --output text | base64 -d > "$work/msg.enc"
"$K" kms decrypt --ciphertext-blob "fileb://$work/msg.enc" --query Plaintext --output text | base64 -d
"$K" audit verify > /dev/null

# An encrypted volume under the key, mounted as a directory.
vol=$("$K" volume create --size 1GiB --kms-key-id "alias/quickstart-$$" --query VolumeId --output text)
mnt="$work/secure"
mkdir -p "$mnt"
"$K" mount "$vol" "$mnt" > /dev/null
echo "a secret note" > "$mnt/note.txt"
mkdir "$mnt/projects"
cat "$mnt/note.txt"
df -h "$mnt" | tail -1
echo "kmsfs: on disk, $KMSFS_HOME/volumes/$vol/data holds only ciphertext:"
ls "$KMSFS_HOME/volumes/$vol/data"
if grep -rq "a secret note" "$KMSFS_HOME/volumes/$vol/data"; then
    echo "kmsfs: plaintext found on disk" >&2; exit 1
fi
"$K" audit show --key-id "$key" --output text
if [ "$check" = 1 ]; then
    "$K" umount "$mnt" > /dev/null
    "$K" mount "$vol" "$mnt" > /dev/null
    grep -q "a secret note" "$mnt/note.txt"
    "$K" umount "$mnt" > /dev/null
    echo "kmsfs: quickstart check passed"
else
    echo "kmsfs: $vol is mounted at $mnt (encrypted under alias/quickstart-$$); home is $KMSFS_HOME"
    echo "kmsfs: unmount with: KMSFS_HOME=$KMSFS_HOME $K umount $mnt"
fi
