//! AWS Signature Version 4 as a server checks it (and as a client makes it, for tests and
//! the remote client): pure and synchronous, no I/O.
//!
//! [`verify`] parses the `Authorization` header strictly, checks `X-Amz-Date` (format, 15
//! minutes of skew, the credential scope's date), the scope's service, looks the access key
//! up, rebuilds the canonical request and string to sign, and compares the signature in
//! constant time. [`sign`] builds the same canonical request from the client's side. The
//! error codes and messages are AWS's, as JSON services answer them. Both sides derive the
//! signing key of a secret and scope once per thread (a small cache, zeroized, keyed by a
//! hash of the secret and the scope: a new day or a changed secret derives a new key).

use crate::crypto::{self, SecretBytes};
use hmac::{KeyInit, Mac};
use std::time::{Duration, SystemTime};
use zeroize::Zeroizing;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The only signing algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far `X-Amz-Date` may be from the server's clock, either way.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);
/// Longest access key id accepted (IAM's limit).
pub const MAX_ACCESS_KEY_ID_LEN: usize = 128;

const INVALID_SIGNATURE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// A request as received: the method, the path and query as sent (still percent-encoded),
/// the headers (names lowercase, values as sent, repeated names allowed) and the body.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Who signed a request that verified, and the scope they signed it for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
    /// The scope's date, `YYYYMMDD`.
    pub date: String,
}

/// Why a request was not authenticated, by AWS error name (see [`AuthError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("MissingAuthenticationTokenException: Missing Authentication Token")]
    MissingAuthenticationToken,
    /// The `Authorization` header or `X-Amz-Date` is malformed or incomplete.
    #[error("IncompleteSignatureException: {0}")]
    IncompleteSignature(String),
    /// The access key id is unknown.
    #[error("UnrecognizedClientException: The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// The signature does not match the request.
    #[error("InvalidSignatureException: {INVALID_SIGNATURE}")]
    InvalidSignature,
    /// `X-Amz-Date` is more than 15 minutes from the server's clock.
    #[error("InvalidSignatureException: {0}")]
    RequestExpired(String),
    /// The credential scope names another service.
    #[error("InvalidSignatureException: {0}")]
    SignatureDoesNotMatchService(String),
    /// Temporary credentials whose session has expired.
    #[error("ExpiredTokenException: The security token included in the request is expired")]
    ExpiredToken,
}

impl AuthError {
    /// The AWS error name (`__type` on the wire). JSON services answer an expired or
    /// wrongly scoped signature with `InvalidSignatureException`.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            AuthError::IncompleteSignature(_) => "IncompleteSignatureException",
            AuthError::UnrecognizedClient => "UnrecognizedClientException",
            AuthError::InvalidSignature
            | AuthError::RequestExpired(_)
            | AuthError::SignatureDoesNotMatchService(_) => "InvalidSignatureException",
            AuthError::ExpiredToken => "ExpiredTokenException",
        }
    }

    /// The HTTP status: 403 for a missing token, 400 for the rest.
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::MissingAuthenticationToken => 403,
            _ => 400,
        }
    }

    /// The message without the code prefix.
    pub fn message(&self) -> String {
        let s = self.to_string();
        match s.split_once(": ") {
            Some((_, m)) => m.to_string(),
            None => s,
        }
    }
}

fn incomplete(why: impl Into<String>) -> AuthError {
    AuthError::IncompleteSignature(why.into())
}

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'h> {
    pub access_key_id: &'h str,
    /// The credential scope: `YYYYMMDD`, region, service.
    pub date: &'h str,
    pub region: &'h str,
    pub service: &'h str,
    /// Lowercase, strictly ascending.
    pub signed_headers: Vec<&'h str>,
    pub signature: [u8; 32],
}

impl Authorization<'_> {
    /// `<date>/<region>/<service>/aws4_request`.
    pub fn scope(&self) -> String {
        scope(self.date, self.region, self.service)
    }

    /// The header value, as clients send it.
    pub fn to_header(&self) -> String {
        format!(
            "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
            self.access_key_id,
            self.scope(),
            self.signed_headers.join(";"),
            crypto::hex(&self.signature)
        )
    }
}

fn scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_label(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// An HTTP token in lowercase (RFC 9110 `tchar`, no uppercase letters).
fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
        })
}

/// Parse an `Authorization` header value strictly: `AWS4-HMAC-SHA256 Credential=AKID/DATE/
/// REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=<64 lowercase hex>`, each
/// parameter once, nothing else.
pub fn parse_authorization(value: &str) -> Result<Authorization<'_>, AuthError> {
    let rest = match value.strip_prefix(ALGORITHM) {
        Some(r) if r.starts_with(' ') => r.trim_start_matches(' '),
        _ => {
            let alg = value.split(' ').next().unwrap_or_default();
            return Err(incomplete(format!(
                "Unsupported AWS 'algorithm': '{}' (only {ALGORITHM} is supported)",
                alg.chars().take(40).collect::<String>()
            )));
        }
    };
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim_matches(' ');
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| incomplete(format!("Authorization parameter '{part}' has no '='")))?;
        let slot = match k {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => return Err(incomplete(format!("Unknown Authorization parameter '{k}'"))),
        };
        if slot.replace(v).is_some() {
            return Err(incomplete(format!(
                "Authorization parameter '{k}' appears twice"
            )));
        }
    }
    let missing: Vec<String> = [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed),
    ]
    .iter()
    .filter(|(_, v)| v.is_none())
    .map(|(k, _)| format!("Authorization header requires '{k}' parameter."))
    .collect();
    if !missing.is_empty() {
        return Err(incomplete(missing.join(" ")));
    }
    let (credential, signed, signature) =
        (credential.unwrap(), signed.unwrap(), signature.unwrap());
    let (access_key_id, date, region, service) = parse_credential(credential)?;
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers: parse_signed_headers(signed)?,
        signature: parse_signature(signature)?,
    })
}

fn parse_credential(c: &str) -> Result<(&str, &str, &str, &str), AuthError> {
    let bad = |why: &str| incomplete(format!("Credential '{c}' {why}"));
    let parts: Vec<&str> = c.split('/').collect();
    let [akid, date, region, service, terminal] = parts[..] else {
        return Err(bad(
            "is not of the form <AccessKeyId>/<YYYYMMDD>/<region>/<service>/aws4_request",
        ));
    };
    if !is_word(akid) || akid.len() > MAX_ACCESS_KEY_ID_LEN {
        return Err(bad("has a malformed access key id"));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("has a scope date that is not YYYYMMDD"));
    }
    if !is_label(region) || !is_label(service) {
        return Err(bad("has a malformed region or service"));
    }
    if terminal != "aws4_request" {
        return Err(bad("does not end with 'aws4_request'"));
    }
    Ok((akid, date, region, service))
}

fn parse_signed_headers(s: &str) -> Result<Vec<&str>, AuthError> {
    let names: Vec<&str> = s.split(';').collect();
    if !names.iter().all(|n| is_header_name(n)) {
        return Err(incomplete(format!(
            "SignedHeaders '{s}' must be lowercase header names separated by ';'"
        )));
    }
    if !names.windows(2).all(|w| w[0] < w[1]) {
        return Err(incomplete(format!(
            "SignedHeaders '{s}' must be sorted, each name once"
        )));
    }
    Ok(names)
}

fn parse_signature(s: &str) -> Result<[u8; 32], AuthError> {
    let lower_hex = s
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    match crypto::unhex(s) {
        Some(v) if lower_hex && v.len() == 32 => Ok(v.try_into().expect("32 bytes")),
        _ => Err(incomplete(
            "Signature must be 64 lowercase hexadecimal characters",
        )),
    }
}

/// The values of header `name`, in order.
fn header_values<'r>(headers: &'r [(String, String)], name: &str) -> Vec<&'r str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The one value of header `name`: `None` if absent, an error if repeated.
fn single_header<'r>(
    headers: &'r [(String, String)],
    name: &str,
) -> Result<Option<&'r str>, AuthError> {
    match header_values(headers, name)[..] {
        [] => Ok(None),
        [v] => Ok(Some(v)),
        _ => Err(incomplete(format!(
            "The {name} header appears more than once"
        ))),
    }
}

/// Parse `YYYYMMDD'T'HHMMSS'Z'`.
fn parse_amz_date(s: &str) -> Result<SystemTime, AuthError> {
    let b = s.as_bytes();
    let shaped = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    let bad = || {
        incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{s}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ))
    };
    if !shaped {
        return Err(bad());
    }
    let rfc = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    humantime::parse_rfc3339(&rfc).map_err(|_| bad())
}

/// `t` as `YYYYMMDD'T'HHMMSS'Z'` (a time before 1970 as 1970).
pub fn amz_date(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t.max(SystemTime::UNIX_EPOCH))
        .to_string()
        .replace(['-', ':'], "")
}

/// Refuse a date more than [`MAX_SKEW`] from `now`, in AWS's words.
fn check_skew(date: SystemTime, now: SystemTime) -> Result<(), AuthError> {
    if date + MAX_SKEW >= now && date <= now + MAX_SKEW {
        return Ok(());
    }
    let (d, n) = (amz_date(date), amz_date(now));
    if date + MAX_SKEW < now {
        return Err(AuthError::RequestExpired(format!(
            "Signature expired: {d} is now earlier than {} ({n} - 15 min.)",
            amz_date(now - MAX_SKEW)
        )));
    }
    if date > now + MAX_SKEW {
        return Err(AuthError::RequestExpired(format!(
            "Signature not yet current: {d} is still later than {} ({n} + 15 min.)",
            amz_date(now + MAX_SKEW)
        )));
    }
    Ok(())
}

/// Percent-encode every byte but the unreserved ones (`A-Z a-z 0-9 - _ . ~`), and `/` unless
/// `slash` is set.
fn uri_encode(bytes: &[u8], slash: bool, out: &mut String) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (b == b'/' && !slash) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Decode `%XX` escapes; a `%` not followed by two hex digits stays as it is.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b.get(i + 1..i + 3).and_then(|h| {
            let h = std::str::from_utf8(h).ok()?;
            u8::from_str_radix(h, 16)
                .ok()
                .filter(|_| h.bytes().all(|c| c.is_ascii_hexdigit()))
        });
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The canonical URI: the path as sent, encoded once more (as AWS does for every service
/// but S3), `/` for an empty path.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    let mut s = String::with_capacity(path.len());
    uri_encode(path.as_bytes(), false, &mut s);
    s
}

/// The canonical query string: parameters decoded, re-encoded, sorted by name then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(&percent_decode(k), true, &mut ek);
            uri_encode(&percent_decode(v), true, &mut ev);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    let joined: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    joined.join("&")
}

/// The canonical request over the headers `signed` (sorted, lowercase); `None` if one of
/// them is not in the request.
fn canonical_request(req: &Request, signed: &[&str], payload_hash: &str) -> Option<String> {
    let mut cr = String::with_capacity(512);
    cr.push_str(req.method);
    cr.push('\n');
    cr.push_str(&canonical_uri(req.path));
    cr.push('\n');
    cr.push_str(&canonical_query(req.query));
    cr.push('\n');
    for name in signed {
        cr.push_str(name);
        cr.push(':');
        let mut values = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .peekable();
        values.peek()?;
        // Values joined with ',', each with its runs of whitespace made one space.
        for (i, (_, v)) in values.enumerate() {
            if i > 0 {
                cr.push(',');
            }
            for (j, word) in v.split_ascii_whitespace().enumerate() {
                if j > 0 {
                    cr.push(' ');
                }
                cr.push_str(word);
            }
        }
        cr.push('\n');
    }
    cr.push('\n');
    for (i, name) in signed.iter().enumerate() {
        if i > 0 {
            cr.push(';');
        }
        cr.push_str(name);
    }
    cr.push('\n');
    cr.push_str(payload_hash);
    Some(cr)
}

fn hmac(key: &[u8], data: &[u8]) -> HmacSha256 {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m
}

/// The signing key of `secret` for the scope `(date, region, service)`: HMAC-SHA256 of
/// the scope's parts in turn, keyed first with `AWS4` and the secret.
fn derive_signing_key(
    secret: &[u8],
    (date, region, service): (&str, &str, &str),
) -> Zeroizing<[u8; 32]> {
    let mut k = SecretBytes::new(b"AWS4".to_vec());
    k.expose_mut().extend_from_slice(secret);
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&hmac(k.expose(), date.as_bytes()).finalize().into_bytes());
    for part in [region, service, "aws4_request"] {
        let next = hmac(&key[..], part.as_bytes()).finalize().into_bytes();
        key.copy_from_slice(&next);
    }
    key
}

/// Signing keys each thread derived last, at most this many (a key is valid for one day,
/// region and service; a server sees few access keys).
const SIGNING_KEYS_PER_THREAD: usize = 8;

/// A cached signing key: what it was derived from (hashed: SHA-256 of the secret and the
/// scope, so that the cache holds no secret), and the key, zeroized when dropped.
type CachedSigningKey = ([u8; 32], Zeroizing<[u8; 32]>);

thread_local! {
    static SIGNING_KEYS: std::cell::RefCell<Vec<CachedSigningKey>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// [`derive_signing_key`] through this thread's cache: a new secret or scope (a new day)
/// derives a new key; the same ones reuse it (four HMACs saved per request).
fn signing_key(secret: &[u8], scope: (&str, &str, &str)) -> Zeroizing<[u8; 32]> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in [
        secret,
        scope.0.as_bytes(),
        scope.1.as_bytes(),
        scope.2.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    let id: [u8; 32] = h.finalize().into();
    SIGNING_KEYS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, key)) = cache.iter().find(|(i, _)| *i == id) {
            return key.clone();
        }
        let key = derive_signing_key(secret, scope);
        if cache.len() >= SIGNING_KEYS_PER_THREAD {
            cache.remove(0);
        }
        cache.push((id, key.clone()));
        key
    })
}

/// The final HMAC over the string to sign, not yet finalized (to verify or to read).
fn signature_mac(
    secret: &[u8],
    amz_date: &str,
    (date, region, service): (&str, &str, &str),
    canonical_request: &str,
) -> HmacSha256 {
    let key = signing_key(secret, (date, region, service));
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{}\n{}",
        scope(date, region, service),
        crypto::hex(&crypto::sha256(canonical_request.as_bytes()))
    );
    hmac(&key[..], string_to_sign.as_bytes())
}

/// The payload hash: hex SHA-256 of the body, which `x-amz-content-sha256` must repeat if
/// the client sent it.
fn payload_hash(req: &Request) -> Result<String, AuthError> {
    let h = crypto::hex(&crypto::sha256(req.body));
    match single_header(req.headers, "x-amz-content-sha256")? {
        Some(v) if v != h => Err(AuthError::InvalidSignature),
        _ => Ok(h),
    }
}

/// Verify `req` as AWS does for `service` (`"kms"`). `secret_for(access_key_id)` gives the
/// key's secret (`None`: an unknown key, [`AuthError::UnrecognizedClient`]); `now` is the
/// clock `X-Amz-Date` must be within 15 minutes of.
pub fn verify(
    req: &Request,
    service: &str,
    now: SystemTime,
    secret_for: impl Fn(&str) -> Option<SecretBytes>,
) -> Result<Verified, AuthError> {
    let value = single_header(req.headers, "authorization")?
        .ok_or(AuthError::MissingAuthenticationToken)?;
    let auth = parse_authorization(value)?;
    let amz = single_header(req.headers, "x-amz-date")?.ok_or_else(|| {
        incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    })?;
    let date = parse_amz_date(amz)?;
    for required in ["host", "x-amz-date"] {
        if !auth.signed_headers.contains(&required) {
            return Err(incomplete(format!(
                "'{required}' must be a 'SignedHeader' in the AWS Authorization."
            )));
        }
    }
    if auth.date != &amz[..8] {
        return Err(incomplete(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz}'.",
            auth.date,
            &amz[..8]
        )));
    }
    if auth.service != service {
        return Err(AuthError::SignatureDoesNotMatchService(format!(
            "Credential should be scoped to correct service: '{service}'. "
        )));
    }
    check_skew(date, now)?;
    let secret = secret_for(auth.access_key_id).ok_or(AuthError::UnrecognizedClient)?;
    let cr = canonical_request(req, &auth.signed_headers, &payload_hash(req)?)
        .ok_or_else(|| incomplete("A header listed in SignedHeaders is not in the request."))?;
    signature_mac(
        secret.expose(),
        amz,
        (auth.date, auth.region, auth.service),
        &cr,
    )
    .verify_slice(&auth.signature)
    .map_err(|_| AuthError::InvalidSignature)?;
    Ok(Verified {
        access_key_id: auth.access_key_id.into(),
        region: auth.region.into(),
        service: auth.service.into(),
        date: auth.date.into(),
    })
}

/// Sign `req` for `service` in `region` at `now`: the headers to add, `x-amz-date` and
/// `authorization`. Every header of `req` is signed, and `x-amz-date` (one already in
/// `req.headers` is replaced). Header names must be lowercase.
pub fn sign(
    req: &Request,
    service: &str,
    region: &str,
    access_key_id: &str,
    secret: &str,
    now: SystemTime,
) -> Vec<(String, String)> {
    let amz = amz_date(now);
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(n, _)| n != "x-amz-date")
        .cloned()
        .collect();
    headers.push(("x-amz-date".into(), amz.clone()));
    let mut names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let signing = Request {
        headers: &headers,
        ..*req
    };
    let hash = crypto::hex(&crypto::sha256(req.body));
    let cr = canonical_request(&signing, &names, &hash).expect("every signed header is present");
    let sig = signature_mac(secret.as_bytes(), &amz, (&amz[..8], region, service), &cr)
        .finalize()
        .into_bytes();
    let auth = Authorization {
        access_key_id,
        date: &amz[..8],
        region,
        service,
        signed_headers: names,
        signature: sig.into(),
    };
    vec![
        ("x-amz-date".into(), amz.clone()),
        ("authorization".into(), auth.to_header()),
    ]
}

#[cfg(test)]
mod tests;
