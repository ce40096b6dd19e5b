//! `Remote`: a [`Client`] that speaks AWS JSON 1.1 to a KMS endpoint (`kmsfs serve`, or any
//! endpoint that speaks AWS KMS's protocol): `POST /` with `X-Amz-Target:
//! TrentService.<Operation>`, every request signed with SigV4 ([`crate::sigv4`]), the
//! response parsed into the [`types`](super::types) shapes and an error body (`{"__type",
//! "message"}`) mapped back to its [`KmsError`] variant ([`KmsError::from_code`]).
//!
//! Synchronous, like the services that call it: a small HTTP/1.1 client over
//! `std::net::TcpStream` ([`http`]) with keep-alive (idle connections pooled; a connection
//! the server closed is replaced). Retries as botocore's standard mode: at most 3 attempts,
//! on `ThrottlingException`, 5xx and connection errors, with exponential backoff and full
//! jitter (`retry.rs`). `http://` or `https://` (rustls; whom it trusts: [`tls`]).

mod http;
mod tls;

use super::client::Client;
use super::error::KmsError;
use super::ops::for_each_operation;
use super::retry::backoff;
use super::types::*;
use http::{Conn, Reply};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use zeroize::Zeroizing;

/// The signing name of the service.
const SERVICE: &str = "kms";
/// Attempts per request (botocore's standard mode).
pub const MAX_ATTEMPTS: u32 = 3;
/// The first retry waits up to this long; each further one up to twice as long.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// Idle connections kept for reuse.
const MAX_IDLE: usize = 8;

/// Why a [`Remote`] could not be configured.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RemoteConfigError(String);

/// A KMS reached over HTTP, acting as the principal of its access key.
pub struct Remote {
    /// `host:port` as the endpoint URL gives it (the `host` header, and where to connect).
    authority: String,
    /// For `https://`: whom to trust.
    tls: Option<Arc<rustls::ClientConfig>>,
    region: String,
    access_key_id: String,
    secret: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
    idle: Mutex<Vec<Conn>>,
    timeout: Duration,
    max_attempts: u32,
    backoff_base: Duration,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("endpoint", &self.endpoint())
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Whether an endpoint URL (`http://` or `https://`) is https, and its `host[:port]` (a
/// path other than `/` is refused).
fn parse_endpoint(url: &str) -> Result<(bool, String), RemoteConfigError> {
    let bad = |why: &str| RemoteConfigError(format!("KMS endpoint '{url}': {why}"));
    let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return Err(bad("not an http:// or https:// URL")),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad("expected http[s]://HOST[:PORT] with no path"));
    }
    Ok((https, authority.to_string()))
}

impl Remote {
    /// A client of the endpoint `url` (`http[s]://HOST[:PORT]`) signing for `region` with
    /// the access key `access_key_id` and its secret. Over https it trusts the platform's
    /// roots ([`Remote::with_ca_bundle`] to trust a CA of your own).
    pub fn new(
        url: &str,
        region: &str,
        access_key_id: &str,
        secret: Zeroizing<String>,
    ) -> Result<Remote, RemoteConfigError> {
        let (https, authority) = parse_endpoint(url)?;
        let tls = if https {
            Some(tls::client_config(None)?)
        } else {
            None
        };
        Ok(Remote {
            authority,
            tls,
            region: region.to_string(),
            access_key_id: access_key_id.to_string(),
            secret,
            session_token: None,
            idle: Mutex::new(Vec::new()),
            timeout: Duration::from_secs(30),
            max_attempts: MAX_ATTEMPTS,
            backoff_base: BACKOFF_BASE,
        })
    }

    /// Over https, trust the CA certificates of the PEM file `bundle` (e.g. the output of
    /// `kmsfs serve --print-ca`) instead of the platform's roots. No effect over http.
    pub fn with_ca_bundle(mut self, bundle: &Path) -> Result<Remote, RemoteConfigError> {
        if self.tls.is_some() {
            self.tls = Some(tls::client_config(Some(bundle))?);
        }
        Ok(self)
    }

    /// Sign with a session token too (`x-amz-security-token`, temporary credentials).
    pub fn with_session_token(mut self, token: Zeroizing<String>) -> Remote {
        self.session_token = Some(token);
        self
    }

    /// Retry at most `max_attempts - 1` times, the first retry after up to `base`.
    pub fn with_retries(mut self, max_attempts: u32, base: Duration) -> Remote {
        self.max_attempts = max_attempts.max(1);
        self.backoff_base = base;
        self
    }

    /// A client configured as the AWS tools are (see [`crate::awsconfig`]): the endpoint
    /// `endpoint`, else `KMSFS_KMS_ENDPOINT`, else `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`,
    /// the profile's `services` entry or `endpoint_url`; the access key of the profile
    /// `profile` (`--profile`), else of `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
    /// (`AWS_SESSION_TOKEN`), else of the profile `AWS_PROFILE` or `default` in
    /// `~/.aws/credentials` and `~/.aws/config`; the region from `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, the profile, else us-east-1. Over https it trusts the CA bundle
    /// file `ca_bundle`, else `KMSFS_KMS_CA_BUNDLE`, else `AWS_CA_BUNDLE`, else the profile's
    /// `ca_bundle`, else the platform's roots.
    pub fn configured(
        endpoint: Option<&str>,
        profile: Option<&str>,
        ca_bundle: Option<&Path>,
    ) -> Result<Remote, RemoteConfigError> {
        let env = crate::awsconfig::process_env;
        let s = crate::awsconfig::resolve(SERVICE, profile, &env)
            .map_err(|e| RemoteConfigError(e.to_string()))?;
        let url = endpoint
            .map(str::to_string)
            .or_else(|| env("KMSFS_KMS_ENDPOINT"))
            .or_else(|| s.endpoint_url.clone())
            .ok_or_else(|| {
                RemoteConfigError(
                    "no KMS endpoint: give --kms-endpoint, KMSFS_KMS_ENDPOINT, AWS_ENDPOINT_URL_KMS or a profile with endpoint_url"
                        .into(),
                )
            })?;
        let from = match &s.profile {
            Some(p) if profile.is_some() || s.access_key_id.is_none() => {
                format!("the profile '{p}'")
            }
            _ => "the environment".to_string(),
        };
        let missing = |v: &str| {
            RemoteConfigError(format!(
                "the KMS endpoint {url} needs credentials: {from} has no {v} (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give --profile NAME)"
            ))
        };
        let id = s
            .access_key_id
            .clone()
            .ok_or_else(|| missing("access key id"))?;
        let secret = s
            .secret_access_key
            .clone()
            .ok_or_else(|| missing("secret access key"))?;
        let region = s.region.clone().unwrap_or_else(|| "us-east-1".into());
        let mut r = Remote::new(&url, &region, &id, secret)?;
        let bundle = ca_bundle
            .map(Path::to_path_buf)
            .or_else(|| env("KMSFS_KMS_CA_BUNDLE").map(Into::into))
            .or(s.ca_bundle.clone());
        if let Some(b) = bundle {
            r = r.with_ca_bundle(&b)?;
        }
        Ok(match s.session_token.clone() {
            Some(t) => r.with_session_token(t),
            None => r,
        })
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.authority)
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Run the operation `op` with the request shape `req`: its response shape.
    fn call<Req: Serialize, Out: DeserializeOwned>(
        &self,
        op: &str,
        req: &Req,
    ) -> Result<Out, KmsError> {
        let body = serde_json::to_vec(req)
            .map_err(|e| KmsError::Internal(format!("{op}: cannot encode the request: {e}")))?;
        let reply = self.send_with_retries(op, &body)?;
        let body = if reply.body.iter().all(u8::is_ascii_whitespace) {
            b"null".as_slice()
        } else {
            &reply.body
        };
        serde_json::from_slice(body).map_err(|e| {
            KmsError::Internal(format!(
                "{op}: the endpoint {} answered a body that is not the response shape: {e}",
                self.endpoint()
            ))
        })
    }

    /// Send, retrying throttling, 5xx and connection errors with backoff: the successful
    /// reply, or the last failure.
    fn send_with_retries(&self, op: &str, body: &[u8]) -> Result<Reply, KmsError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (err, retryable) = match self.send(op, body) {
                Ok(r) if (200..300).contains(&r.status) => return Ok(r),
                Ok(r) => {
                    let e = r.error();
                    let retry = r.status >= 500 || matches!(e, KmsError::Throttling(_));
                    (e, retry)
                }
                Err(e) => match tls::failure(&e) {
                    // Not retried: the same certificate would come back.
                    Some(t) => (
                        KmsError::Internal(format!("{op}: {}", tls::explain(&self.endpoint(), t))),
                        false,
                    ),
                    None => (
                        KmsError::Internal(format!(
                            "{op}: cannot reach the KMS endpoint {}: {e}",
                            self.endpoint()
                        )),
                        true,
                    ),
                },
            };
            if !retryable || attempt >= self.max_attempts {
                return Err(err);
            }
            std::thread::sleep(backoff(self.backoff_base, attempt));
        }
    }

    /// One attempt: on a pooled connection (a fresh one if the pooled one turns out to
    /// have been closed by the server before answering), else a new connection.
    fn send(&self, op: &str, body: &[u8]) -> std::io::Result<Reply> {
        let head = self.signed_headers(op, body);
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let (conn, reply) = match pooled {
            Some(mut c) => match c.exchange(&head, body) {
                Ok(r) => (c, r),
                Err(e) if http::is_stale(&e) => {
                    let mut c = Conn::open(&self.authority, self.tls.as_ref(), self.timeout)?;
                    let r = c.exchange(&head, body)?;
                    (c, r)
                }
                Err(e) => return Err(e),
            },
            None => {
                let mut c = Conn::open(&self.authority, self.tls.as_ref(), self.timeout)?;
                let r = c.exchange(&head, body)?;
                (c, r)
            }
        };
        if reply.keep_alive {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
        Ok(reply)
    }

    /// The request's headers, signed (names lowercase; `content-length` is added unsigned
    /// when the request is written).
    fn signed_headers(&self, op: &str, body: &[u8]) -> Vec<(String, String)> {
        let mut headers = vec![
            ("host".to_string(), self.authority.clone()),
            (
                "content-type".to_string(),
                "application/x-amz-json-1.1".to_string(),
            ),
            ("x-amz-target".to_string(), format!("TrentService.{op}")),
        ];
        if let Some(t) = &self.session_token {
            headers.push(("x-amz-security-token".into(), t.to_string()));
        }
        let req = crate::sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body,
        };
        let added = crate::sigv4::sign(
            &req,
            SERVICE,
            &self.region,
            &self.access_key_id,
            &self.secret,
            SystemTime::now(),
        );
        headers.extend(added);
        headers
    }
}

/// DeleteAlias's request shape.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteAliasRequest<'a> {
    alias_name: &'a str,
}

/// [`Client`] for [`Remote`], from the one list of operations ([`for_each_operation!`]).
macro_rules! remote_client {
    ($($family:ident::$name:ident($req:ty) -> $out:ty = $aws:literal;)*) => {
        impl Client for Remote {
            $(fn $name(&self, r: $req) -> Result<$out, KmsError> {
                self.call($aws, &r)
            })*

            fn delete_alias(&self, alias_name: &str) -> Result<(), KmsError> {
                self.call("DeleteAlias", &DeleteAliasRequest { alias_name })
            }
        }
    };
}
for_each_operation!(remote_client);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_accepted_and_refused() {
        let ok = |u: &str| parse_endpoint(u).unwrap();
        assert_eq!(
            ok("http://127.0.0.1:5125"),
            (false, "127.0.0.1:5125".into())
        );
        assert_eq!(ok("http://[::1]:80/"), (false, "[::1]:80".into()));
        assert_eq!(ok("http://localhost"), (false, "localhost".into()));
        assert_eq!(
            ok("https://h.example:4599"),
            (true, "h.example:4599".into())
        );
        for bad in [
            "ftp://x",
            "127.0.0.1:5125",
            "http://",
            "http://h/path",
            "http://u@h",
        ] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requests_are_signed_with_the_session_token() {
        let r = Remote::new(
            "http://127.0.0.1:1",
            "eu-west-2",
            "id",
            Zeroizing::new("s".into()),
        )
        .unwrap()
        .with_session_token(Zeroizing::new("tok".into()));
        let h = r.signed_headers("Encrypt", b"{}");
        let get = |name: &str| h.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("host"), Some("127.0.0.1:1"));
        assert_eq!(get("x-amz-target"), Some("TrentService.Encrypt"));
        assert_eq!(get("x-amz-security-token"), Some("tok"));
        assert!(
            get("authorization")
                .unwrap()
                .contains("x-amz-security-token")
        );
        let req = crate::sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &h,
            body: b"{}",
        };
        let v = crate::sigv4::verify(&req, "kms", SystemTime::now(), |_| {
            Some(crate::crypto::SecretBytes::from_slice(b"s"))
        })
        .unwrap();
        assert_eq!(
            (v.access_key_id.as_str(), v.region.as_str()),
            ("id", "eu-west-2")
        );
    }

    #[test]
    fn error_codes_map_back() {
        for code in [
            "NotFoundException",
            "DisabledException",
            "KMSInvalidStateException",
        ] {
            assert_eq!(KmsError::from_code(code, "m").code(), code);
        }
        let e = KmsError::from_code("com.amazonaws.kms#InvalidCiphertextException", "m");
        assert!(matches!(e, KmsError::InvalidCiphertext(_)));
        let e = KmsError::from_code("InvalidSignatureException", "bad sig");
        assert!(matches!(&e, KmsError::Internal(m) if m == "InvalidSignatureException: bad sig"));
    }
}
