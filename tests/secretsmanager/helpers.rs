//! Helpers of the Secrets Manager tests (`secretsmanager_core`, `secretsmanager_secure`): the
//! service as the test principal, and shorthands for the requests the tests make most.
#![allow(dead_code)]

use crate::common::kms::{Env, PRINCIPAL};
use kmsfs::kms::Caller;
use kmsfs::secrets::manager::*;
use kmsfs::secrets::{Service, ServiceContext};

pub fn sm(e: &Env) -> SecretsManager {
    let ctx = ServiceContext::embedded(
        &e.home,
        e.kms.clone(),
        Caller::new(PRINCIPAL),
        Service::SecretsManager,
    )
    .unwrap();
    SecretsManager::new(ctx)
}

pub fn create(s: &SecretsManager, name: &str, value: &str) -> ArnNameVersion {
    s.create_secret(CreateSecretRequest {
        name: name.into(),
        secret_string: Some(SecretText::new(value)),
        ..Default::default()
    })
    .unwrap()
}

pub fn put(
    s: &SecretsManager,
    id: &str,
    value: &str,
    token: Option<&str>,
) -> Result<PutSecretValueResponse, SmError> {
    s.put_secret_value(PutSecretValueRequest {
        secret_id: id.into(),
        secret_string: Some(SecretText::new(value)),
        client_request_token: token.map(str::to_string),
        ..Default::default()
    })
}

pub fn get(s: &SecretsManager, id: &str) -> Result<SecretValue, SmError> {
    s.get_secret_value(GetSecretValueRequest {
        secret_id: id.into(),
        ..Default::default()
    })
}

pub fn get_stage(s: &SecretsManager, id: &str, stage: &str) -> String {
    let v = s
        .get_secret_value(GetSecretValueRequest {
            secret_id: id.into(),
            version_stage: Some(stage.into()),
            ..Default::default()
        })
        .unwrap();
    v.secret_string.unwrap().expose().to_string()
}

pub fn describe(s: &SecretsManager, id: &str) -> DescribeSecretResponse {
    s.describe_secret(SecretIdRequest {
        secret_id: id.into(),
    })
    .unwrap()
}

pub fn id(s: &str) -> SecretIdRequest {
    SecretIdRequest {
        secret_id: s.into(),
    }
}

pub const T1: &str = "11111111-1111-4111-8111-111111111111";
