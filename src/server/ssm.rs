//! Parameter Store over the wire (AWS JSON 1.1, `X-Amz-Target: AmazonSSM.<Op>`): the request shape
//! parsed, the service called, its errors mapped to AWS's names and HTTP codes (the one
//! place they are).

use super::dispatch::{ServiceRequest, parse, respond};
use super::error::WireError;
use crate::secrets::params::{ParamError, ParameterStore};
use crate::secrets::reference::ManagerReference;
use crate::secrets::{Service, ServiceContext};

impl From<ParamError> for WireError {
    fn from(e: ParamError) -> WireError {
        WireError::Service {
            code: e.code(),
            status: e.http_status(),
            message: e.message(),
        }
    }
}

/// Answer one request to Parameter Store.
pub(crate) fn call(req: ServiceRequest) -> Result<Vec<u8>, WireError> {
    let ctx = ServiceContext::embedded(req.home, req.kms, req.caller, Service::ParameterStore)
        .map_err(|e| WireError::Internal(e.to_string()))?;
    // `/aws/reference/secretsmanager/<id>` names read through Secrets Manager, for the same
    // caller.
    let sm =
        ManagerReference::beside(req.home, &ctx).map_err(|e| WireError::Internal(e.to_string()))?;
    let ps = ParameterStore::new(&ctx, Some(&sm));
    let body = req.body;
    match req.operation {
        "PutParameter" => respond(ps.put_parameter(parse(body)?)?),
        "GetParameter" => respond(ps.get_parameter(parse(body)?)?),
        "GetParameters" => respond(ps.get_parameters(parse(body)?)?),
        "GetParametersByPath" => respond(ps.get_parameters_by_path(parse(body)?)?),
        "GetParameterHistory" => respond(ps.get_parameter_history(parse(body)?)?),
        "LabelParameterVersion" => respond(ps.label_parameter_version(parse(body)?)?),
        "UnlabelParameterVersion" => respond(ps.unlabel_parameter_version(parse(body)?)?),
        "DeleteParameter" => respond(ps.delete_parameter(parse(body)?)?),
        "DeleteParameters" => respond(ps.delete_parameters(parse(body)?)?),
        "DescribeParameters" => respond(ps.describe_parameters(parse(body)?)?),
        "AddTagsToResource" => respond(ps.add_tags_to_resource(parse(body)?)?),
        "ListTagsForResource" => respond(ps.list_tags_for_resource(parse(body)?)?),
        "RemoveTagsFromResource" => respond(ps.remove_tags_from_resource(parse(body)?)?),
        op => Err(WireError::UnknownOperation(format!("AmazonSSM.{op}"))),
    }
}
