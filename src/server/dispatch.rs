//! One request, after its body is read: authenticate it (SigV4 against the endpoint's
//! access keys), find its operation from `X-Amz-Target`, deserialize the request shape,
//! call the `Kms` method as the access key's principal (a [`Caller`] with the client's
//! address, user agent and the response's request id, for the audit line) and serialize
//! the response. A request refused before it reaches an operation (authentication, an
//! unknown target, a body that does not parse) writes no audit line, as CloudTrail logs no
//! request that fails authentication. The
//! table of operations comes from `kms::for_each_operation!`, so every operation the
//! embedded KMS has is served (DeleteAlias, which takes an alias name, is written out).
//! Synchronous: the HTTP layer runs it on a blocking thread.

use super::credentials::{Credentials, check_session};
use super::error::WireError;
use crate::kms::types::*;
use crate::kms::{Caller, Kms};
use crate::sigv4;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::SystemTime;

/// The `X-Amz-Target` prefix of KMS operations.
const TARGET_PREFIX: &str = "TrentService.";
/// The signing name of the service.
const SERVICE: &str = "kms";
/// The `X-Amz-Target` prefix of Secrets Manager's operations, and its signing name.
const SECRETS_MANAGER_PREFIX: &str = "secretsmanager.";
const SECRETS_MANAGER_SERVICE: &str = "secretsmanager";
/// The `X-Amz-Target` prefix of Systems Manager's (Parameter Store's), and its signing name.
const SSM_PREFIX: &str = "AmazonSSM.";
const SSM_SERVICE: &str = "ssm";

/// A request to a service built on the KMS (Secrets Manager, Parameter Store), after its
/// signature is verified: what the service's wire module (`secretsmanager.rs`, `ssm.rs`)
/// needs to build its `ServiceContext` and answer.
pub(crate) struct ServiceRequest<'a> {
    pub home: &'a crate::home::Home,
    /// The KMS of the caller's account in the region of the credential scope.
    pub kms: Arc<Kms>,
    /// The caller (principal of the access key, address, user agent, request id).
    pub caller: Caller,
    /// The operation's AWS name (`X-Amz-Target` without the prefix).
    pub operation: &'a str,
    pub body: &'a [u8],
}

/// A request as read off the wire.
pub(crate) struct WireRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Names lowercase, values as sent.
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
    /// The client's address (the audit line's `sourceIPAddress`).
    pub peer: Option<std::net::IpAddr>,
    /// The id the response carries in `x-amzn-RequestId` (and the audit line too).
    pub request_id: String,
}

impl WireRequest {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers requests with: the KMS (of the home's account and region; each
/// request's access key picks its account's, its scope the region's), the access keys.
pub(crate) struct Endpoint {
    pub kms: Arc<Kms>,
    /// The home (Secrets Manager and Parameter Store keep their data in it).
    pub home: crate::home::Home,
    pub credentials: Box<dyn Credentials>,
    /// Serve moto's unauthenticated `POST /moto-api/reset` (wipes every key and alias).
    pub allow_reset: bool,
}

/// moto's reset route (server mode), for test suites that reset between tests.
const RESET_PATH: &str = "/moto-api/reset";
/// Who the audit trail says asked for a reset (the route is not signed, as in moto).
const RESET_PRINCIPAL: &str = "anonymous (POST /moto-api/reset)";

impl Endpoint {
    /// Answer one request: the response body (empty for operations without output).
    pub fn handle(&self, req: &WireRequest) -> Result<Vec<u8>, WireError> {
        self.handle_at(req, SystemTime::now())
    }

    /// [`Endpoint::handle`] with the signature's clock-skew check made against `now` (the
    /// fuzz target verifies requests signed at a fixed time).
    pub fn handle_at(&self, req: &WireRequest, now: SystemTime) -> Result<Vec<u8>, WireError> {
        if self.allow_reset && req.method == "POST" && req.path == RESET_PATH {
            self.kms.reset(&caller(req, RESET_PRINCIPAL))?;
            return Ok(br#"{"status": "ok"}"#.to_vec());
        }
        let target = req.header("x-amz-target").unwrap_or_default();
        let signing_name = if target.starts_with(SECRETS_MANAGER_PREFIX) {
            SECRETS_MANAGER_SERVICE
        } else if target.starts_with(SSM_PREFIX) {
            SSM_SERVICE
        } else {
            SERVICE
        };
        let (principal, kms) = self.authenticate(req, now, signing_name)?;
        if req.method != "POST" || req.path != "/" {
            let what = format!("{} {}", req.method, req.path);
            return Err(WireError::UnknownOperation(what));
        }
        let content_type = req.header("content-type").unwrap_or_default();
        if !content_type.contains("json") {
            return Err(WireError::UnsupportedMediaType(content_type.to_string()));
        }
        let caller = caller(req, principal);
        let service = |operation| ServiceRequest {
            home: &self.home,
            kms: kms.clone(),
            caller: caller.clone(),
            operation,
            body: &req.body,
        };
        if let Some(op) = target.strip_prefix(SECRETS_MANAGER_PREFIX) {
            return super::secretsmanager::call(service(op));
        }
        if let Some(op) = target.strip_prefix(SSM_PREFIX) {
            return super::ssm::call(service(op));
        }
        let operation = target
            .strip_prefix(TARGET_PREFIX)
            .ok_or_else(|| WireError::UnknownOperation(target.to_string()))?;
        call(&kms, &caller, operation, &req.body)
    }

    /// Verify the signature; the principal of its access key, and the KMS of its account
    /// (the home's for a principal of no account of the home) in the region of its
    /// credential scope (every account and region of the home is served). A key named by
    /// ARN may still send the request to its own account's KMS (`Kms::serving`).
    fn authenticate(
        &self,
        req: &WireRequest,
        now: SystemTime,
        signing_name: &str,
    ) -> Result<(Arc<str>, Arc<Kms>), WireError> {
        let key = std::cell::RefCell::new(None);
        let signed = sigv4::Request {
            method: &req.method,
            path: &req.path,
            query: &req.query,
            headers: &req.headers,
            body: &req.body,
        };
        let v = sigv4::verify(&signed, signing_name, now, |id| {
            let k = self.credentials.key_for(id)?;
            let secret = k.secret.clone();
            *key.borrow_mut() = Some(k);
            Some(secret)
        })?;
        let key = key
            .into_inner()
            .ok_or_else(|| WireError::Internal("a verified access key is gone".into()))?;
        let auth = req.header("authorization").unwrap_or_default();
        let signed_headers = sigv4::parse_authorization(auth)?.signed_headers;
        let token = req.header("x-amz-security-token");
        check_session(&key, token, &signed_headers, self.credentials.now_ms())?;
        crate::home::check_region(&v.region).map_err(|_| WireError::BadRegion(v.region.clone()))?;
        let kms = self.kms.for_principal(&key.principal, &v.region)?;
        Ok((Arc::from(key.principal.as_str()), kms))
    }
}

/// The caller of a request, as `principal`: for the audit line, the client's address, its
/// `User-Agent` and the request id of the response.
fn caller(req: &WireRequest, principal: impl Into<Arc<str>>) -> Caller {
    let ua = req.header("user-agent");
    Caller::remote(principal, req.peer, ua, &req.request_id)
}

/// DeleteAlias's request shape.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DeleteAliasRequest {
    alias_name: String,
}

/// A request shape from its JSON body (an empty body is `{}`).
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    Ok(serde_json::from_slice(body)?)
}

/// A response body: the shape's JSON, or nothing for an operation without output.
pub(crate) fn respond<T: Serialize>(out: T) -> Result<Vec<u8>, WireError> {
    let v = serde_json::to_vec(&out).map_err(|e| WireError::Internal(e.to_string()))?;
    Ok(if v == b"null" { Vec::new() } else { v })
}

macro_rules! dispatch_table {
    ($($family:ident::$name:ident($req:ty) -> $out:ty = $aws:literal;)*) => {
        /// The AWS names of every operation served.
        pub const OPERATIONS: &[&str] = &[$($aws,)* "DeleteAlias"];

        /// Run `operation` with the JSON request `body` for `caller`.
        pub(crate) fn call(
            kms: &Kms,
            caller: &Caller,
            operation: &str,
            body: &[u8],
        ) -> Result<Vec<u8>, WireError> {
            match operation {
                $($aws => respond(kms.$name(caller, parse::<$req>(body)?)?),)*
                "DeleteAlias" => {
                    let r: DeleteAliasRequest = parse(body)?;
                    respond(kms.delete_alias(caller, &r.alias_name)?)
                }
                _ => Err(WireError::UnknownOperation(format!("{TARGET_PREFIX}{operation}"))),
            }
        }
    };
}
crate::kms::for_each_operation!(dispatch_table);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        let r: KeyIdRequest = parse(b"").unwrap();
        assert_eq!(r.key_id, "");
        let r: ListRequest = parse(br#"{"Limit": 5, "Unknown": 1}"#).unwrap();
        assert_eq!(r.limit, Some(5));
        assert!(parse::<ListRequest>(br#"{"Limit": "five"}"#).is_err());
        assert!(parse::<DecryptRequest>(br#"{"CiphertextBlob": "!!"}"#).is_err());
        assert!(respond(()).unwrap().is_empty());
        assert_eq!(
            respond(KeyIdResponse { key_id: "k".into() }).unwrap(),
            br#"{"KeyId":"k"}"#
        );
        assert!(OPERATIONS.contains(&"Encrypt") && OPERATIONS.contains(&"DeleteAlias"));
    }
}
