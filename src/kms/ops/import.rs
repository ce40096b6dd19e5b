//! Imported key material (BYOK): GetParametersForImport, ImportKeyMaterial,
//! DeleteImportedKeyMaterial; the Origin of a new key (CreateKey `Origin=EXTERNAL`: a key in
//! PendingImport without material); expiry at `ValidTo` (lazy, on access, like deletion);
//! and what an EXTERNAL key refuses (automatic and on-demand rotation, EnableKey and
//! DisableKey without material).
//!
//! The wrapping key pair and the ImportToken are `import_params.rs`; the unwrapping is
//! `crypto::import_wrap`. Only the material first imported may ever be imported again (its
//! SHA-256 is kept in the record); its `KeyMaterialId` derives from the key id and the
//! material, so the same key id with the same material decrypts the same ciphertexts in
//! any home.

use super::Result;
use crate::crypto::asym::{HmacKey, PrivateKey};
use crate::crypto::import_wrap::{self, WrappingAlgorithm};
use crate::crypto::{self, SecretBytes};
use crate::kms::clock::{DAY_MS, Millis};
use crate::kms::error::{KmsError, StoreError};
use crate::kms::import_params::{self, ImportParams, ImportToken, VALID_MS};
use crate::kms::keystore::LoadedKey;
use crate::kms::record::{
    Imported, KeyRecord, KeySecret, KeyState, Material, Material32, MaterialOrigin, Origin,
    SecretVec,
};
use crate::kms::seed_apply::material_id;
use crate::kms::service::{Call, Kms, state_message};
use crate::kms::types::*;
use crate::timefmt::epoch_secs;
use std::path::PathBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

const ORIGINS: &str = "AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE";
const WRAPPING_ALGORITHMS: &str = "RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256, SM2PKE";
/// Furthest ValidTo from now: 365 days.
const MAX_VALID_TO_MS: i64 = 365 * DAY_MS;

fn enum_error(value: &str, member: &str, set: &str) -> KmsError {
    let constraint = format!("Member must satisfy enum value set: [{set}]");
    KmsError::bound(value, member, &constraint)
}

/// The import operations name their key (none of them is allowed across accounts).
macro_rules! names_key {
    ($($t:ty),*) => {
        $(impl crate::kms::resolve::NamesKey for $t {
            fn named_key(&self) -> Option<&str> {
                Some(&self.key_id)
            }
        })*
    };
}
names_key!(
    GetParametersForImportRequest,
    ImportKeyMaterialRequest,
    DeleteImportedKeyMaterialRequest
);

/// CreateKey's Origin: AWS_KMS (the default) or EXTERNAL; the custom key store origins are
/// UnsupportedOperation (kmsfs has no custom key stores).
pub(super) fn check_origin(origin: Option<&str>) -> Result<Origin> {
    match origin {
        None | Some("AWS_KMS") => Ok(Origin::AwsKms),
        Some("EXTERNAL") => Ok(Origin::External),
        Some(s @ ("AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE")) => Err(KmsError::UnsupportedOperation(
            format!("Origin {s} is not supported by kmsfs: it has no custom key stores"),
        )),
        Some(s) => Err(enum_error(s, "origin", ORIGINS)),
    }
}

/// Make a new key EXTERNAL if `origin` says so: no material, PendingImport, nothing imported.
pub(super) fn apply_origin(origin: Option<&str>, rec: &mut KeyRecord) -> Result<()> {
    if check_origin(origin)? == Origin::External {
        rec.origin = Origin::External;
        rec.materials.clear();
        rec.rotation = None;
        rec.state = KeyState::PendingImport;
        rec.imported = Some(Imported {
            valid_to_ms: None,
            fingerprint: None,
        });
    }
    Ok(())
}

/// AWS's refusal of an operation on a key of the wrong origin.
fn require_external(c: &Call, r: &KeyRecord) -> Result<()> {
    if r.origin != Origin::External {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} origin is {} which is not valid for this operation.",
            c.arn(&r.key_id),
            r.origin.as_str()
        )));
    }
    Ok(())
}

/// EXTERNAL keys do not rotate: automatic rotation is refused as AWS does; on-demand
/// rotation would need new imported material (`ImportType` NEW_KEY_MATERIAL), which kmsfs
/// does not implement.
pub(super) fn refuse_rotation(c: &Call, r: &KeyRecord) -> Result<()> {
    if r.origin != Origin::External {
        return Ok(());
    }
    let mut msg = format!(
        "{} origin is EXTERNAL which is not valid for this operation.",
        c.arn(&r.key_id)
    );
    if c.operation() == "RotateKeyOnDemand" {
        msg.push_str(
            " On-demand rotation of a key with imported material needs new imported material (ImportKeyMaterial with ImportType NEW_KEY_MATERIAL), which kmsfs does not support.",
        );
    }
    Err(KmsError::UnsupportedOperation(msg))
}

/// EnableKey and DisableKey: a key without material is pending import.
pub(super) fn refuse_pending_import(c: &Call, r: &KeyRecord) -> Result<()> {
    if r.state == KeyState::PendingImport {
        let arn = c.arn(&r.key_id);
        return Err(KmsError::InvalidState(state_message(&arn, r.state)));
    }
    Ok(())
}

/// The state of a key whose deletion is cancelled: Disabled, or PendingImport without material.
pub(super) fn state_after_cancel(r: &KeyRecord) -> KeyState {
    if r.origin == Origin::External && r.materials.is_empty() {
        KeyState::PendingImport
    } else {
        KeyState::Disabled
    }
}

/// Remove the key's material (DeleteImportedKeyMaterial, expiry): the key is pending
/// import, unless pending deletion.
fn clear_material(r: &mut KeyRecord) {
    r.materials.clear();
    if let Some(i) = &mut r.imported {
        i.valid_to_ms = None;
    }
    if r.state != KeyState::PendingDeletion {
        r.state = KeyState::PendingImport;
    }
}

fn expiry_due(r: &KeyRecord, now: Millis) -> bool {
    let valid_to = r.imported.as_ref().and_then(|i| i.valid_to_ms);
    !r.materials.is_empty() && valid_to.is_some_and(|v| now >= v)
}

/// Delete the material of `r` if its ValidTo has passed (in a record about to be written).
pub(in crate::kms) fn expire(r: &mut KeyRecord, now: Millis) {
    if expiry_due(r, now) {
        clear_material(r);
    }
}

impl Kms {
    /// Lazy expiry (from `maintain`, on every access): a key whose imported material has
    /// reached its ValidTo loses it and is pending import, written and audited as the KMS's
    /// own `DeleteExpiredKeyMaterial`. The caller does not hold the lock.
    pub(in crate::kms) fn expire_if_due(&self, k: Arc<LoadedKey>) -> Result<Arc<LoadedKey>> {
        let now = self.clock.now_ms();
        if !expiry_due(&k.record, now) {
            return Ok(k);
        }
        let id = k.record.key_id;
        let _g = self.ks.lock()?;
        let Some(cur) = self.ks.load_uncached(&id)? else {
            return Ok(k);
        };
        if !expiry_due(&cur.record, now) {
            return Ok(cur);
        }
        let mut rec = cur.record.clone();
        clear_material(&mut rec);
        self.system_action("DeleteExpiredKeyMaterial", self.arn(&id), || {
            self.ks.put(rec)
        })
    }

    /// The import parameters file of key `id`: `keys/<uuid>.import`, beside its record.
    fn import_params_path(&self, id: &[u8; 16]) -> PathBuf {
        self.ks.record_path(id).with_extension("import")
    }

    /// Remove the import parameters of key `id` (with the key). The caller holds the lock.
    pub(in crate::kms) fn remove_import_params(&self, id: &[u8; 16]) -> Result<()> {
        let path = self.import_params_path(id);
        if !path.exists() {
            return Ok(());
        }
        match self.ks.remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(&path, e).into()),
        }
    }
}

/// WrappingAlgorithm: the four AWS accepts today; RSAES_PKCS1_V1_5 refused as AWS does.
fn wrapping_algorithm(s: &str) -> Result<WrappingAlgorithm> {
    if let Some(a) = WrappingAlgorithm::parse(s) {
        return Ok(a);
    }
    Err(match s {
        "RSAES_PKCS1_V1_5" => KmsError::Validation(
            "The RSAES_PKCS1_V1_5 wrapping algorithm is deprecated and no longer supported (AWS KMS refuses it since 2023-10-10); use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.".into(),
        ),
        "SM2PKE" => KmsError::UnsupportedOperation(
            "The SM2PKE wrapping algorithm is only offered in China Regions; kmsfs does not support it.".into(),
        ),
        _ => enum_error(s, "wrappingAlgorithm", WRAPPING_ALGORITHMS),
    })
}

fn wrapping_key_spec(s: &str) -> Result<crate::crypto::asym::KeySpec> {
    match (import_wrap::wrapping_key_spec(s), s) {
        (Some(spec), _) => Ok(spec),
        (None, "SM2") => Err(KmsError::UnsupportedOperation(
            "The SM2 wrapping key spec is only offered in China Regions; kmsfs does not support it."
                .into(),
        )),
        (None, _) => Err(enum_error(
            s,
            "wrappingKeySpec",
            "RSA_2048, RSA_3072, RSA_4096, SM2",
        )),
    }
}

pub(super) fn get_parameters_for_import(
    c: &Call,
    req: GetParametersForImportRequest,
) -> Result<GetParametersForImportResponse> {
    let algorithm = wrapping_algorithm(&req.wrapping_algorithm)?;
    let wrapping_spec = wrapping_key_spec(&req.wrapping_key_spec)?;
    let k = c.resolve_noted(&req.key_id, false)?;
    require_external(c, &k.record)?;
    c.require_not_pending_deletion(&k.record)?;
    let id = k.record.key_id;
    let private = PrivateKey::generate(wrapping_spec)
        .map_err(|e| KmsError::Internal(format!("wrapping key: {e}")))?;
    let public = private.public_key();
    let mut params_id = [0u8; 16];
    crypto::fill_random(&mut params_id)?;
    let expires_ms = c.clock.now_ms() + VALID_MS;
    let params = ImportParams {
        params_id,
        expires_ms,
        algorithm,
        wrapping_spec,
        private: SecretVec(Zeroizing::new(private.pkcs8().expose().to_vec())),
    };
    let sealed = import_params::seal_params(
        c.ks.root(),
        c.ks.id(),
        &id,
        &params,
        &crypto::random_nonce()?,
    )?;
    {
        let _g = c.ks.lock()?;
        if c.ks.load_uncached(&id)?.is_none() {
            return Err(KmsError::NotFound(format!(
                "Key '{}' does not exist",
                c.arn(&id)
            )));
        }
        c.ks.write_file(&c.import_params_path(&id), &sealed)?;
    }
    let token = ImportToken {
        key_id: id,
        params_id,
        expires_ms,
        algorithm,
        wrapping_spec,
        public_key_sha256: crypto::sha256(public.spki()),
    };
    let token =
        import_params::seal_token(c.ks.root(), c.ks.id(), &token, &crypto::random_nonce()?)?;
    Ok(GetParametersForImportResponse {
        key_id: c.arn(&id),
        import_token: token,
        public_key: public.spki().to_vec(),
        parameters_valid_to: epoch_secs(expires_ms),
    })
}

/// ExpirationModel and ValidTo: the ValidTo to keep (`None`: the material does not expire).
fn check_expiration(req: &ImportKeyMaterialRequest, now: Millis) -> Result<Option<Millis>> {
    let model = req.expiration_model.as_deref();
    match (model, req.valid_to) {
        (None | Some("KEY_MATERIAL_DOES_NOT_EXPIRE"), None) => Ok(None),
        (Some("KEY_MATERIAL_DOES_NOT_EXPIRE"), Some(_)) => Err(KmsError::Validation(
            "ValidTo must not be set when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.".into(),
        )),
        (Some("KEY_MATERIAL_EXPIRES"), None) => Err(KmsError::Validation(
            "A ValidTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES.".into(),
        )),
        (None | Some("KEY_MATERIAL_EXPIRES"), Some(t)) => {
            let ms = (t * 1000.0) as i64;
            if !t.is_finite() || ms <= now {
                return Err(KmsError::Validation(
                    "ValidTo must be in the future.".into(),
                ));
            }
            if ms > now + MAX_VALID_TO_MS {
                return Err(KmsError::Validation(
                    "ValidTo must be at most 365 days from now.".into(),
                ));
            }
            Ok(Some(ms))
        }
        (Some(s), _) => Err(enum_error(
            s,
            "expirationModel",
            "KEY_MATERIAL_EXPIRES, KEY_MATERIAL_DOES_NOT_EXPIRE",
        )),
    }
}

/// ImportType: re-importing the key's material (EXISTING_KEY_MATERIAL, the default) only.
fn check_import_type(req: &ImportKeyMaterialRequest) -> Result<()> {
    match req.import_type.as_deref() {
        None | Some("EXISTING_KEY_MATERIAL") => Ok(()),
        Some("NEW_KEY_MATERIAL") => Err(KmsError::UnsupportedOperation(
            "ImportType NEW_KEY_MATERIAL (new material for an on-demand rotation) is not supported by kmsfs; import the key's one material (EXISTING_KEY_MATERIAL).".into(),
        )),
        Some(s) => Err(enum_error(
            s,
            "importType",
            "NEW_KEY_MATERIAL, EXISTING_KEY_MATERIAL",
        )),
    }
}

fn invalid_token(c: &Call, id: &[u8; 16], why: &str) -> KmsError {
    KmsError::InvalidImportToken(format!(
        "The import token is not valid for {}: {why}",
        c.arn(id)
    ))
}

/// The ImportToken, opened and checked: this key's, not expired.
fn checked_token(c: &Call, id: &[u8; 16], bytes: &[u8], now: Millis) -> Result<ImportToken> {
    let t = import_params::open_token(c.ks.root(), c.ks.id(), bytes)
        .map_err(|_| invalid_token(c, id, "it was not issued by this KMS or was altered."))?;
    if &t.key_id != id {
        return Err(invalid_token(c, id, "it was issued for another key."));
    }
    if now >= t.expires_ms {
        return Err(KmsError::ExpiredImportToken(
            "The import token has expired (it is valid for 24 hours); call GetParametersForImport again.".into(),
        ));
    }
    Ok(t)
}

/// The key's import parameters that the token names, and their wrapping private key.
fn token_params(c: &Call, id: &[u8; 16], t: &ImportToken) -> Result<PrivateKey> {
    let path = c.import_params_path(id);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(invalid_token(c, id, "its import parameters are gone."));
        }
        Err(e) => return Err(StoreError::io(&path, e).into()),
    };
    let damaged = |why: String| StoreError::Damaged {
        path: path.clone(),
        why,
    };
    let p = import_params::open_params(c.ks.root(), c.ks.id(), id, &bytes)
        .map_err(|e| damaged(e.to_string()))?;
    if p.params_id != t.params_id || p.algorithm != t.algorithm {
        return Err(invalid_token(
            c,
            id,
            "newer import parameters were issued since (use the latest ImportToken with its PublicKey).",
        ));
    }
    let private = PrivateKey::from_pkcs8(p.wrapping_spec, &p.private.0)
        .map_err(|e| damaged(e.to_string()))?;
    if crypto::sha256(private.public_key().spki()) != t.public_key_sha256 {
        return Err(invalid_token(c, id, "it names another wrapping key."));
    }
    Ok(private)
}

/// The unwrapped material as the secret of the key's spec (checked: 32 bytes for a
/// symmetric key, the HMAC spec's length range, a PKCS#8 private key of the key's spec).
fn checked_secret(r: &KeyRecord, material: SecretBytes) -> Result<KeySecret> {
    let incorrect = KmsError::IncorrectKeyMaterial;
    let Some(spec) = r.spec else {
        let m: [u8; 32] = material.expose().try_into().map_err(|_| {
            incorrect(format!(
                "SYMMETRIC_DEFAULT key material must be 256 bits (32 bytes), not {} bytes.",
                material.len()
            ))
        })?;
        return Ok(KeySecret::Aes256(Material32(Zeroizing::new(m))));
    };
    if spec.mac_algorithm().is_some() {
        HmacKey::from_material(spec, material.expose()).map_err(|e| incorrect(e.to_string()))?;
        return Ok(KeySecret::Hmac(SecretVec(Zeroizing::new(
            material.expose().to_vec(),
        ))));
    }
    let key = PrivateKey::from_pkcs8(spec, material.expose()).map_err(|e| {
        incorrect(format!(
            "{e} (the material must be a PKCS#8 DER private key)"
        ))
    })?;
    Ok(KeySecret::Private(SecretVec(Zeroizing::new(
        key.pkcs8().expose().to_vec(),
    ))))
}

/// Install the material in the freshest record: only the material first imported, ever.
fn install(
    c: &Call,
    r: &mut KeyRecord,
    secret: KeySecret,
    valid_to: Option<Millis>,
    now: Millis,
) -> Result<ImportKeyMaterialResponse> {
    let arn = c.arn(&r.key_id);
    require_external(c, r)?;
    c.require_not_pending_deletion(r)?;
    let fingerprint = crypto::sha256(secret.bytes());
    let imported = r.imported.get_or_insert(Imported {
        valid_to_ms: None,
        fingerprint: None,
    });
    if imported
        .fingerprint
        .is_some_and(|f| !crypto::secret_eq(&f, &fingerprint))
    {
        return Err(KmsError::IncorrectKeyMaterial(format!(
            "The key material is not the material previously imported into {arn}; only that material can be imported into this key again."
        )));
    }
    imported.fingerprint = Some(fingerprint);
    imported.valid_to_ms = valid_to;
    if r.materials.is_empty() {
        r.materials.push(Material {
            version: 1,
            id: material_id(&r.key_id, 1, secret.bytes()),
            created_ms: now,
            origin: MaterialOrigin::Created,
            secret,
        });
    }
    if r.state == KeyState::PendingImport {
        r.state = KeyState::Enabled;
    }
    Ok(ImportKeyMaterialResponse {
        key_id: arn,
        key_material_id: crypto::hex(&r.current().id),
    })
}

pub(super) fn import_key_material(
    c: &Call,
    req: ImportKeyMaterialRequest,
) -> Result<ImportKeyMaterialResponse> {
    let now = c.clock.now_ms();
    let valid_to = check_expiration(&req, now)?;
    check_import_type(&req)?;
    let k = c.resolve_noted(&req.key_id, false)?;
    require_external(c, &k.record)?;
    c.require_not_pending_deletion(&k.record)?;
    let id = k.record.key_id;
    let token = checked_token(c, &id, &req.import_token, now)?;
    let private = token_params(c, &id, &token)?;
    let material = import_wrap::unwrap(&private, token.algorithm, &req.encrypted_key_material)
        .map_err(|_| {
            KmsError::InvalidCiphertext(format!(
                "The EncryptedKeyMaterial does not decrypt with the wrapping key of this import token ({}).",
                token.algorithm.name()
            ))
        })?;
    let secret = checked_secret(&k.record, material)?;
    c.mutate(&id, |r| install(c, r, secret, valid_to, now))
}

pub(super) fn delete_imported_key_material(
    c: &Call,
    req: DeleteImportedKeyMaterialRequest,
) -> Result<DeleteImportedKeyMaterialResponse> {
    let k = c.resolve_noted(&req.key_id, false)?;
    require_external(c, &k.record)?;
    c.mutate(&k.record.key_id, |r| {
        let deleted = r.materials.last().map(|m| crypto::hex(&m.id));
        if let (Some(want), Some(have)) = (&req.key_material_id, &deleted)
            && want != have
        {
            return Err(KmsError::NotFound(format!(
                "Key material {want} of {} does not exist",
                c.arn(&r.key_id)
            )));
        }
        clear_material(r);
        Ok(DeleteImportedKeyMaterialResponse {
            key_id: c.arn(&r.key_id),
            key_material_id: deleted,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::asym::KeySpec;
    use crate::kms::maintenance::new_record;
    use crate::kms::record::KeyManager;

    fn external(spec: Option<KeySpec>) -> KeyRecord {
        let mut r = new_record(0, String::new(), KeyManager::Customer, Default::default()).unwrap();
        r.spec = spec;
        apply_origin(Some("EXTERNAL"), &mut r).unwrap();
        assert!(r.materials.is_empty() && r.state == KeyState::PendingImport);
        r
    }

    fn check(spec: Option<KeySpec>, material: &[u8]) -> Result<KeySecret> {
        checked_secret(&external(spec), SecretBytes::from_slice(material))
    }

    fn incorrect(r: Result<KeySecret>) -> String {
        match r {
            Err(KmsError::IncorrectKeyMaterial(m)) => m,
            other => panic!("expected IncorrectKeyMaterialException, got {other:?}"),
        }
    }

    #[test]
    fn material_is_checked_for_the_key_spec() {
        assert!(matches!(check(None, &[1; 32]), Ok(KeySecret::Aes256(_))));
        assert!(incorrect(check(None, &[1; 16])).contains("32 bytes"));
        let hmac = Some(KeySpec::Hmac256);
        assert!(matches!(check(hmac, &[2; 48]), Ok(KeySecret::Hmac(_))));
        incorrect(check(hmac, &[2; 8]));
        // An RSA, ECC or Ed25519 key: PKCS#8 of the key's spec, stored with its public key.
        for spec in [
            KeySpec::Rsa2048,
            KeySpec::EccNistP256,
            KeySpec::EccSecgP256k1,
            KeySpec::EccNistEdwards25519,
        ] {
            let k = PrivateKey::generate(spec).unwrap();
            let Ok(KeySecret::Private(v)) = check(Some(spec), k.pkcs8().expose()) else {
                panic!("{spec} material refused");
            };
            let stored = PrivateKey::from_pkcs8(spec, &v.0).unwrap();
            assert_eq!(stored.public_key().spki(), k.public_key().spki());
        }
        let p384 = PrivateKey::generate(KeySpec::EccNistP384).unwrap();
        let m = incorrect(check(Some(KeySpec::EccNistP256), p384.pkcs8().expose()));
        assert!(m.contains("PKCS#8"), "{m}");
        incorrect(check(Some(KeySpec::Rsa2048), &[3; 32]));
    }

    #[test]
    fn origins_and_expiry() {
        assert_eq!(check_origin(None).unwrap(), Origin::AwsKms);
        assert!(matches!(
            check_origin(Some("AWS_CLOUDHSM")),
            Err(KmsError::UnsupportedOperation(_))
        ));
        assert!(matches!(
            check_origin(Some("ELSEWHERE")),
            Err(KmsError::Validation(_))
        ));
        let mut r = external(None);
        let secret = check(None, &[4; 32]).unwrap();
        r.materials.push(Material {
            version: 1,
            id: [0; 32],
            created_ms: 0,
            origin: MaterialOrigin::Created,
            secret,
        });
        r.state = KeyState::Disabled;
        r.imported.as_mut().unwrap().valid_to_ms = Some(1000);
        expire(&mut r, 999);
        assert_eq!((r.materials.len(), r.state), (1, KeyState::Disabled));
        expire(&mut r, 1000);
        assert_eq!((r.materials.len(), r.state), (0, KeyState::PendingImport));
        assert_eq!(state_after_cancel(&r), KeyState::PendingImport);
    }
}
