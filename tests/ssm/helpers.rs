//! Helpers of the Parameter Store tests (`ssm_core`, `ssm_secure`): a service context as a
//! caller, and shorthands for the requests the tests make most.
#![allow(dead_code)]

use crate::common::kms::Env;
use kmsfs::kms::Caller;
use kmsfs::secrets::params::*;
use kmsfs::secrets::{Service, ServiceContext};

pub const ROOT: &str = "arn:aws:iam::111122223333:root";

pub fn ctx_as(e: &Env, who: &str) -> ServiceContext {
    ServiceContext::embedded(
        &e.home,
        e.kms.clone(),
        Caller::new(who),
        Service::ParameterStore,
    )
    .unwrap()
}

pub fn put(
    ps: &ParameterStore,
    name: &str,
    value: &str,
    f: impl FnOnce(&mut PutParameterRequest),
) -> Result<PutParameterResponse, ParamError> {
    let mut r = PutParameterRequest {
        name: name.into(),
        value: ParamValue::new(value),
        ..Default::default()
    };
    f(&mut r);
    ps.put_parameter(r)
}

pub fn get(ps: &ParameterStore, name: &str, decrypt: bool) -> Result<Parameter, ParamError> {
    ps.get_parameter(GetParameterRequest {
        name: name.into(),
        with_decryption: Some(decrypt),
    })
    .map(|r| r.parameter)
}

pub fn code<T: std::fmt::Debug>(r: Result<T, ParamError>) -> &'static str {
    r.expect_err("expected an error").code()
}

pub fn secure(kind: &str) -> impl FnOnce(&mut PutParameterRequest) + '_ {
    move |r| r.r#type = Some(kind.into())
}

pub fn label(
    ps: &ParameterStore,
    name: &str,
    v: Option<u64>,
    labels: &[&str],
) -> Result<LabelParameterVersionResponse, ParamError> {
    ps.label_parameter_version(LabelParameterVersionRequest {
        name: name.into(),
        parameter_version: v,
        labels: labels.iter().map(|s| s.to_string()).collect(),
    })
}

/// Every version, through every page.
pub fn history(ps: &ParameterStore, name: &str, decrypt: bool) -> Vec<ParameterHistory> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let r = ps
            .get_parameter_history(GetParameterHistoryRequest {
                name: name.into(),
                with_decryption: Some(decrypt),
                next_token: token,
                ..Default::default()
            })
            .unwrap();
        assert!(r.parameters.len() <= 50);
        out.extend(r.parameters);
        token = r.next_token;
        if token.is_none() {
            return out;
        }
    }
}

pub fn describe(
    ps: &ParameterStore,
    filters: Vec<ParameterStringFilter>,
) -> Result<Vec<String>, ParamError> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let r = ps.describe_parameters(DescribeParametersRequest {
            parameter_filters: Some(filters.clone()),
            max_results: Some(1),
            next_token: token,
            ..Default::default()
        })?;
        names.extend(r.parameters.into_iter().map(|p| p.name));
        token = r.next_token;
        if token.is_none() {
            return Ok(names);
        }
    }
}

pub fn policies(p: &str) -> impl FnOnce(&mut PutParameterRequest) + '_ {
    move |r| {
        r.tier = Some("Advanced".into());
        r.policies = Some(p.into());
    }
}
