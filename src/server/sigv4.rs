//! TEMPORARY STAND-IN for engineer S's SigV4 module (same interface, see the issue 14
//! preamble): verify a request's AWS Signature Version 4 as AWS does, and sign one (for
//! clients and tests). Pure and synchronous. To be replaced by S's implementation.

use crate::crypto::{self, SecretBytes};
use hmac::{KeyInit, Mac};
use std::time::{Duration, SystemTime};

/// A request as the signature covers it.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// Names lowercase, values as sent.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// What a verified signature tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
    /// YYYYMMDD
    pub date: String,
}

/// Why a request's signature was refused (AWS's names).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    #[error("{0}")]
    IncompleteSignature(String),
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    InvalidSignature,
    #[error("{0}")]
    RequestExpired(String),
    #[error("{0}")]
    SignatureDoesNotMatchService(String),
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            AuthError::IncompleteSignature(_) => "IncompleteSignatureException",
            AuthError::UnrecognizedClient => "UnrecognizedClientException",
            AuthError::InvalidSignature => "InvalidSignatureException",
            AuthError::RequestExpired(_) => "RequestExpired",
            AuthError::SignatureDoesNotMatchService(_) => "InvalidSignatureException",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::MissingAuthenticationToken => 403,
            _ => 400,
        }
    }

    pub fn message(&self) -> String {
        self.to_string()
    }
}

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The parts of an `Authorization` header.
struct Parsed<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn parse_authorization(v: &str) -> Result<Parsed<'_>, AuthError> {
    let incomplete = |m: &str| AuthError::IncompleteSignature(m.to_string());
    let rest = v
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| incomplete("Unsupported signature algorithm"))?;
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("Credential", c)) => cred = Some(c),
            Some(("SignedHeaders", s)) => signed = Some(s),
            Some(("Signature", s)) => sig = Some(s),
            _ => {}
        }
    }
    let cred = cred.ok_or_else(|| incomplete("Authorization header requires 'Credential'"))?;
    let parts: Vec<&str> = cred.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = parts[..] else {
        return Err(incomplete("Credential must have 5 slash-separated parts"));
    };
    Ok(Parsed {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed
            .ok_or_else(|| incomplete("Authorization header requires 'SignedHeaders'"))?,
        signature: sig.ok_or_else(|| incomplete("Authorization header requires 'Signature'"))?,
    })
}

/// Verify `req` as AWS does for `service`.
pub fn verify(
    req: &Request,
    service: &str,
    now: SystemTime,
    secret_for: impl Fn(&str) -> Option<SecretBytes>,
) -> Result<Verified, AuthError> {
    let auth = header(req, "authorization").ok_or(AuthError::MissingAuthenticationToken)?;
    let p = parse_authorization(auth)?;
    let amz_date = header(req, "x-amz-date").ok_or_else(|| {
        AuthError::IncompleteSignature("Authorization header requires X-Amz-Date".into())
    })?;
    let t = parse_amz_date(amz_date)
        .ok_or_else(|| AuthError::IncompleteSignature("X-Amz-Date is malformed".into()))?;
    let skew = now.duration_since(t).unwrap_or_else(|e| e.duration());
    if skew > MAX_SKEW {
        return Err(AuthError::RequestExpired(format!(
            "Signature expired: {amz_date} is now earlier or later than 15 minutes from the server's time"
        )));
    }
    if p.service != service {
        return Err(AuthError::SignatureDoesNotMatchService(format!(
            "Credential should be scoped to correct service: '{service}'."
        )));
    }
    let secret = secret_for(p.access_key_id).ok_or(AuthError::UnrecognizedClient)?;
    let names: Vec<&str> = p.signed_headers.split(';').collect();
    let scope = Scope {
        date: p.date,
        region: p.region,
        service: p.service,
    };
    let expected = signature(req, &names, amz_date, &scope, secret.expose());
    let given = crypto::unhex(p.signature).unwrap_or_default();
    if !crypto::secret_eq(&given, &expected) {
        return Err(AuthError::InvalidSignature);
    }
    Ok(Verified {
        access_key_id: p.access_key_id.to_string(),
        region: p.region.to_string(),
        service: p.service.to_string(),
        date: p.date.to_string(),
    })
}

/// Sign `req`: the headers to add (`x-amz-date`, `authorization`).
pub fn sign(
    req: &Request,
    service: &str,
    region: &str,
    access_key_id: &str,
    secret: &str,
    now: SystemTime,
) -> Vec<(String, String)> {
    let amz_date = format_amz_date(now);
    let date = &amz_date[..8];
    let mut headers = req.headers.to_vec();
    headers.push(("x-amz-date".into(), amz_date.clone()));
    let mut names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let r = Request {
        headers: &headers,
        ..*req
    };
    let scope = Scope {
        date,
        region,
        service,
    };
    let sig = signature(&r, &names, &amz_date, &scope, secret.as_bytes());
    let auth = format!(
        "{ALGORITHM} Credential={access_key_id}/{}, SignedHeaders={}, Signature={}",
        scope.string(),
        names.join(";"),
        crypto::hex(&sig)
    );
    vec![
        ("x-amz-date".into(), amz_date),
        ("authorization".into(), auth),
    ]
}

/// A credential scope.
struct Scope<'a> {
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

impl Scope<'_> {
    fn string(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

fn signature(
    req: &Request,
    names: &[&str],
    amz_date: &str,
    scope: &Scope,
    secret: &[u8],
) -> Vec<u8> {
    let mut canon = format!("{}\n{}\n{}\n", req.method, req.path, req.query);
    for n in names {
        let vals: Vec<String> = req
            .headers
            .iter()
            .filter(|(h, _)| h == n)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        canon.push_str(&format!("{n}:{}\n", vals.join(",")));
    }
    canon.push_str(&format!(
        "\n{}\n{}",
        names.join(";"),
        crypto::hex(&crypto::sha256(req.body))
    ));
    let to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{}\n{}",
        scope.string(),
        crypto::hex(&crypto::sha256(canon.as_bytes()))
    );
    let mut k = [b"AWS4".as_slice(), secret].concat();
    for part in [scope.date, scope.region, scope.service, "aws4_request"] {
        k = hmac(&k, part.as_bytes());
    }
    hmac(&k, to_sign.as_bytes())
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// `YYYYMMDDTHHMMSSZ`.
fn format_amz_date(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace(['-', ':'], "")
}

fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let r = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    humantime::parse_rfc3339(&r).ok()
}
