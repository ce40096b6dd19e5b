//! [`Caller`]: who makes a request and from where, as the audit trail records it (what
//! CloudTrail records of a request: the principal, `sourceIPAddress`, `userAgent`, and the
//! request id the endpoint answered with).
//!
//! Conventions (docs/FORMAT.md, section 6):
//! - A request through the endpoint carries the client's address, its `User-Agent` (cut to
//!   [`MAX_USER_AGENT`] bytes, control characters removed: it is untrusted input) and the
//!   request id of the response's `x-amzn-RequestId`.
//! - A call in this process by a service principal (`ebs.amazonaws.com`, `s3.amazonaws.com`)
//!   shows the service's host name as both `sourceIPAddress` and `userAgent`, as CloudTrail
//!   shows calls AWS services make on a user's behalf.
//! - A call in this process by a user (the CLI, the library) has neither: no network was
//!   involved. The KMS's own actions (rotation, deletion) show `AWS Internal`.
//! - A service principal acts on behalf of a user (AWS's forward access sessions): the one
//!   [`Caller::on_behalf_of`] names, by default the Unix user of this process; or alone
//!   ([`Caller::acting_alone`]), when only a grant or a key policy statement naming the
//!   service may allow it (`kms/authorize.rs`).

use std::net::IpAddr;
use std::sync::Arc;

/// Longest `userAgent` kept, in bytes (a longer one is cut at a character boundary).
pub const MAX_USER_AGENT: usize = 1024;

/// What the trail shows as `sourceIPAddress` and `userAgent` for the KMS's own actions.
pub(crate) const AWS_INTERNAL: &str = "AWS Internal";

/// For whom a service principal acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnBehalf {
    /// The Unix user of this process (the default of a service principal in this process;
    /// nobody for any other caller).
    ProcessUser,
    /// This principal (an IAM ARN).
    Principal(Arc<str>),
    /// Nobody: the service acts on its own (its grants, or the key policy naming it).
    Nobody,
}

/// Who makes a request: the principal, and for the trail where the request came from.
/// Cheap to clone (reference-counted strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    principal: Arc<str>,
    on_behalf: OnBehalf,
    source_ip: Option<Arc<str>>,
    user_agent: Option<Arc<str>>,
    request_id: Option<Arc<str>>,
}

impl Caller {
    /// A caller in this process acting as `principal` (an IAM ARN, or a service principal
    /// such as `ebs.amazonaws.com`, which gets its host name as source and user agent).
    pub fn new(principal: impl Into<Arc<str>>) -> Caller {
        let principal = principal.into();
        let service = is_service_principal(&principal).then(|| principal.clone());
        Caller {
            source_ip: service.clone(),
            user_agent: service,
            principal,
            on_behalf: OnBehalf::ProcessUser,
            request_id: None,
        }
    }

    /// A caller of the endpoint: `principal` (of the access key that signed the request),
    /// the client's address, its `User-Agent` header and the response's request id.
    pub fn remote(
        principal: impl Into<Arc<str>>,
        source_ip: Option<IpAddr>,
        user_agent: Option<&str>,
        request_id: &str,
    ) -> Caller {
        Caller {
            principal: principal.into(),
            on_behalf: OnBehalf::Nobody,
            source_ip: source_ip.map(|ip| Arc::from(ip.to_canonical().to_string())),
            user_agent: user_agent.and_then(clean_user_agent).map(Arc::from),
            request_id: Some(Arc::from(request_id)),
        }
    }

    pub fn principal(&self) -> &Arc<str> {
        &self.principal
    }

    /// This caller (a service principal) acting on behalf of `principal` (an IAM ARN): the
    /// KMS evaluates that principal's permissions with `kms:ViaService` set, and the trail
    /// shows both (as CloudTrail shows `invokedBy`).
    pub fn on_behalf_of(mut self, principal: impl Into<Arc<str>>) -> Caller {
        self.on_behalf = OnBehalf::Principal(principal.into());
        self
    }

    /// This caller (a service principal) acting on its own: only a grant to the service,
    /// or a key policy statement naming it, allows its requests.
    pub fn acting_alone(mut self) -> Caller {
        self.on_behalf = OnBehalf::Nobody;
        self
    }

    /// For whom the caller acts, if it is a service principal (`None` otherwise).
    pub fn on_behalf(&self) -> Option<&OnBehalf> {
        is_service_principal(&self.principal).then_some(&self.on_behalf)
    }

    /// `sourceIPAddress`: the client's address, or a service's host name.
    pub fn source_ip(&self) -> Option<&Arc<str>> {
        self.source_ip.as_ref()
    }

    /// `userAgent`, bounded and without control characters.
    pub fn user_agent(&self) -> Option<&Arc<str>> {
        self.user_agent.as_ref()
    }

    /// The id the endpoint answered with (`None` in this process: the KMS makes one).
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

impl From<Arc<str>> for Caller {
    fn from(p: Arc<str>) -> Caller {
        Caller::new(p)
    }
}

impl From<&str> for Caller {
    fn from(p: &str) -> Caller {
        Caller::new(p)
    }
}

impl From<String> for Caller {
    fn from(p: String) -> Caller {
        Caller::new(p)
    }
}

/// A service principal (`ebs.amazonaws.com`): a host name of the AWS domain, not an ARN.
pub(crate) fn is_service_principal(p: &str) -> bool {
    !p.contains(':') && !p.contains(' ') && p.ends_with(".amazonaws.com")
}

/// A user agent as the trail keeps it: control characters removed, surrounding blanks
/// trimmed, cut to [`MAX_USER_AGENT`] bytes; `None` if nothing is left.
fn clean_user_agent(ua: &str) -> Option<String> {
    let mut out = String::with_capacity(ua.len().min(MAX_USER_AGENT));
    for c in ua.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_USER_AGENT {
            break;
        }
        out.push(c);
    }
    let t = out.trim();
    (!t.is_empty()).then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_principals_show_their_host_name() {
        let c = Caller::from("ebs.amazonaws.com");
        assert_eq!(c.source_ip().map(|s| &**s), Some("ebs.amazonaws.com"));
        assert_eq!(c.user_agent().map(|s| &**s), Some("ebs.amazonaws.com"));
        let u = Caller::from("arn:aws:iam::111122223333:user/alice");
        assert_eq!(
            (u.source_ip(), u.user_agent(), u.request_id()),
            (None, None, None)
        );
        assert_eq!(c.on_behalf(), Some(&OnBehalf::ProcessUser));
        assert_eq!(
            c.clone().on_behalf_of("arn:aws:iam::1:user/a").on_behalf(),
            Some(&OnBehalf::Principal("arn:aws:iam::1:user/a".into()))
        );
        assert_eq!(c.acting_alone().on_behalf(), Some(&OnBehalf::Nobody));
        assert_eq!(u.on_behalf(), None);
        assert!(
            Caller::from("anonymous (x.amazonaws.com)")
                .source_ip()
                .is_none()
        );
    }

    #[test]
    fn remote_callers_are_cleaned() {
        let ip: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let c = Caller::remote("p", Some(ip), Some(" Boto3/1.0\r\n\0\"x\" \t"), "id-1");
        assert_eq!(c.source_ip().map(|s| &**s), Some("127.0.0.1"));
        assert_eq!(c.user_agent().map(|s| &**s), Some("Boto3/1.0\"x\""));
        assert_eq!(c.request_id(), Some("id-1"));
        let long = "é".repeat(4000);
        let c = Caller::remote("p", None, Some(&long), "id");
        let ua = c.user_agent().unwrap();
        assert!(ua.len() <= MAX_USER_AGENT && ua.len() >= MAX_USER_AGENT - 1);
        assert!(
            Caller::remote("p", None, Some("\n\0 "), "id")
                .user_agent()
                .is_none()
        );
    }
}
