//! The endpoint's TLS material (`kmsfs serve --tls`), kept in the home's `kms/tls/`: a local
//! CA (self-signed, `CN=kmsfs local CA <account>`, ten years) that clients trust
//! (`kmsfs serve --print-ca`), and the endpoint's certificate signed by it (90 days), for
//! `localhost`, `127.0.0.1`, `::1` and, when the endpoint listens beyond loopback, its
//! address or host name (an unspecified address, `0.0.0.0` or `[::]`: the host name and the
//! addresses of the host's interfaces). ECDSA P-256 keys, generated with rcgen; private keys
//! mode 0600, every file written atomically.
//!
//! The CA is made once and kept (clients keep trusting it); it is replaced only when its
//! files are missing, unreadable or do not match. The endpoint's certificate is re-issued
//! at start when it does not verify, through the CA, for every name the endpoint must
//! answer to 30 days from now (a new address, a near expiry, a new CA). The check is
//! rustls's own verifier, the one clients run.

use super::error::ServerError;
use crate::fsutil::{self, FileLock};
use crate::home::{HomeError, Layout};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{RootCertStore, ServerConfig};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use zeroize::Zeroizing;

/// How long the CA is valid.
const CA_DAYS: i64 = 3650;
/// How long an endpoint certificate is valid.
const SERVER_DAYS: i64 = 90;
/// An endpoint certificate expiring within this many days is re-issued at start.
const RENEW_DAYS: u64 = 30;

/// The TLS configuration of a serving endpoint.
pub(crate) struct ServerTls {
    pub config: Arc<ServerConfig>,
    /// The CA certificate clients trust (`kms/tls/ca.pem`).
    pub ca_bundle: PathBuf,
}

/// The crypto provider of the server (and of the remote client): aws-lc-rs.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn tls_err(what: &str, e: impl std::fmt::Display) -> ServerError {
    ServerError::Tls(format!("{what}: {e}"))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ServerError + '_ {
    move |e| ServerError::Home(HomeError::io(path, e))
}

/// Hold the lock of the home's TLS directory (creating it): one process makes or replaces
/// the material at a time.
fn lock(layout: &Layout) -> Result<FileLock, ServerError> {
    let dir = layout.tls_dir();
    fsutil::create_dir_durable(&dir, 0o700).map_err(io_err(&dir))?;
    let path = dir.join("lock");
    FileLock::acquire(&path, fsutil::lock_timeout()).map_err(io_err(&path))
}

/// The CA certificate (PEM) of the home, made if there is none (`kmsfs serve --print-ca`).
pub fn ca_pem(layout: &Layout, account: &str) -> Result<String, ServerError> {
    let _lock = lock(layout)?;
    Ok(ensure_ca(layout, account)?.cert_pem)
}

/// The TLS configuration of an endpoint listening on `listen` (`host` as `--listen` names
/// it): the home's CA and a certificate for the names the endpoint answers to.
pub(crate) fn server_tls(
    layout: &Layout,
    account: &str,
    listen: SocketAddr,
    host: &str,
) -> Result<ServerTls, ServerError> {
    let _lock = lock(layout)?;
    let mut ca = ensure_ca(layout, account)?;
    let names = server_names(listen, host);
    let renew_at = SystemTime::now() + Duration::from_secs(RENEW_DAYS * 86_400);
    if let Some(config) = current_server(layout, &ca, &names, renew_at) {
        return Ok(ServerTls {
            config,
            ca_bundle: layout.tls_ca_cert(),
        });
    }
    let mut issued = issue_server(&ca, &names)?;
    if !verifies(
        &ca.cert_der()?,
        &issued.cert_der()?,
        &names,
        SystemTime::now(),
    ) {
        // The CA's key and certificate do not match (files from two generations): a new CA.
        ca = write_new_ca(layout, account)?;
        issued = issue_server(&ca, &names)?;
    }
    write(&layout.tls_server_key(), issued.key_pem.as_bytes(), 0o600)?;
    write(&layout.tls_server_cert(), issued.cert_pem.as_bytes(), 0o644)?;
    Ok(ServerTls {
        config: server_config(issued.cert_der()?, issued.key_der()?)?,
        ca_bundle: layout.tls_ca_cert(),
    })
}

/// Write `data` to `path` atomically with `mode`.
fn write(path: &Path, data: &[u8], mode: u32) -> Result<(), ServerError> {
    fsutil::atomic_write(path, data, mode).map_err(io_err(path))
}

/// The names an endpoint listening on `listen` answers to: the loopback names, and the
/// address or host name it was given when it is not loopback.
fn server_names(listen: SocketAddr, host: &str) -> Vec<String> {
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut add = |n: String| {
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    };
    if host.parse::<IpAddr>().is_err() {
        add(host.to_ascii_lowercase());
    }
    let ip = listen.ip();
    if ip.is_unspecified() {
        if let Ok(h) = nix::unistd::gethostname() {
            add(h.to_string_lossy().to_ascii_lowercase());
        }
        for a in interface_addrs(ip.is_ipv6()) {
            add(a.to_string());
        }
    } else if !ip.is_loopback() {
        add(ip.to_string());
    }
    names.retain(|n| ServerName::try_from(n.as_str()).is_ok());
    names
}

/// The addresses of the host's interfaces (IPv4, and IPv6 too when `v6`), link-local ones
/// left out.
fn interface_addrs(v6: bool) -> Vec<IpAddr> {
    let Ok(ifs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    ifs.filter_map(|i| {
        let a = i.address?;
        if let Some(v4) = a.as_sockaddr_in() {
            return Some(IpAddr::V4(v4.ip()));
        }
        let v6a = a.as_sockaddr_in6().filter(|_| v6)?.ip();
        let link_local = (v6a.segments()[0] & 0xffc0) == 0xfe80;
        (!link_local).then_some(IpAddr::V6(v6a))
    })
    .collect()
}

/// The local CA: its certificate and its key.
struct Ca {
    cert_pem: String,
    key: KeyPair,
}

impl Ca {
    fn cert_der(&self) -> Result<CertificateDer<'static>, ServerError> {
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
            .map_err(|e| tls_err("the CA certificate", e))
    }
}

/// The home's CA, or a new one when its files are missing or unreadable.
fn ensure_ca(layout: &Layout, account: &str) -> Result<Ca, ServerError> {
    match read_ca(layout) {
        Some(ca) => Ok(ca),
        None => write_new_ca(layout, account),
    }
}

fn read_ca(layout: &Layout) -> Option<Ca> {
    let cert_pem = std::fs::read_to_string(layout.tls_ca_cert()).ok()?;
    let key_pem = Zeroizing::new(std::fs::read_to_string(layout.tls_ca_key()).ok()?);
    let key = KeyPair::from_pem(&key_pem).ok()?;
    Issuer::from_ca_cert_pem(&cert_pem, &key).ok()?;
    Some(Ca { cert_pem, key })
}

fn write_new_ca(layout: &Layout, account: &str) -> Result<Ca, ServerError> {
    let key = KeyPair::generate().map_err(|e| tls_err("generating the CA key", e))?;
    let mut p = CertificateParams::default();
    p.distinguished_name = name(&format!("kmsfs local CA {account}"));
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut p, CA_DAYS)?;
    let cert = p
        .self_signed(&key)
        .map_err(|e| tls_err("making the CA certificate", e))?;
    let key_pem = Zeroizing::new(key.serialize_pem());
    write(&layout.tls_ca_key(), key_pem.as_bytes(), 0o600)?;
    write(&layout.tls_ca_cert(), cert.pem().as_bytes(), 0o644)?;
    Ok(Ca {
        cert_pem: cert.pem(),
        key,
    })
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "kmsfs");
    dn.push(DnType::CommonName, cn);
    dn
}

/// Valid from an hour ago (clock skew) for `days` days, with a random serial number.
fn validity(p: &mut CertificateParams, days: i64) -> Result<(), ServerError> {
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::hours(1);
    p.not_after = now + time::Duration::days(days);
    let mut serial = [0u8; 16];
    crate::crypto::fill_random(&mut serial).map_err(|e| tls_err("a serial number", e))?;
    serial[0] &= 0x7f;
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    Ok(())
}

/// An endpoint certificate and its key, PEM.
struct Issued {
    cert_pem: String,
    key_pem: Zeroizing<String>,
}

impl Issued {
    fn cert_der(&self) -> Result<CertificateDer<'static>, ServerError> {
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
            .map_err(|e| tls_err("the endpoint's certificate", e))
    }

    fn key_der(&self) -> Result<PrivateKeyDer<'static>, ServerError> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| tls_err("the endpoint's key", e))
    }
}

/// A new endpoint certificate for `names` signed by `ca`, and its key.
fn issue_server(ca: &Ca, names: &[String]) -> Result<Issued, ServerError> {
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, &ca.key)
        .map_err(|e| tls_err("reading the CA certificate", e))?;
    let key = KeyPair::generate().map_err(|e| tls_err("generating the endpoint's key", e))?;
    let mut p =
        CertificateParams::new(names.to_vec()).map_err(|e| tls_err("the endpoint's names", e))?;
    p.distinguished_name = name("kmsfs serve");
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    validity(&mut p, SERVER_DAYS)?;
    let cert = p
        .signed_by(&key, &issuer)
        .map_err(|e| tls_err("signing the endpoint's certificate", e))?;
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: Zeroizing::new(key.serialize_pem()),
    })
}

/// The configuration from the endpoint certificate in the home, when it verifies through
/// `ca` for every one of `names` at `at` and its key matches it.
fn current_server(
    layout: &Layout,
    ca: &Ca,
    names: &[String],
    at: SystemTime,
) -> Option<Arc<ServerConfig>> {
    let cert = CertificateDer::from_pem_file(layout.tls_server_cert()).ok()?;
    let key = PrivateKeyDer::from_pem_file(layout.tls_server_key()).ok()?;
    if !verifies(&ca.cert_der().ok()?, &cert, names, at) {
        return None;
    }
    server_config(cert, key).ok()
}

/// Whether `cert` verifies through the CA `ca` for each of `names` at the time `at`.
fn verifies(
    ca: &CertificateDer<'static>,
    cert: &CertificateDer<'static>,
    names: &[String],
    at: SystemTime,
) -> bool {
    let mut roots = RootCertStore::empty();
    if roots.add(ca.clone()).is_err() {
        return false;
    }
    let Ok(verifier) =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider()).build()
    else {
        return false;
    };
    let Ok(since) = at.duration_since(SystemTime::UNIX_EPOCH) else {
        return false;
    };
    let at = UnixTime::since_unix_epoch(since);
    names.iter().all(|n| {
        ServerName::try_from(n.as_str())
            .is_ok_and(|sn| verifier.verify_server_cert(cert, &[], &sn, &[], at).is_ok())
    })
}

fn server_config(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, ServerError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err("TLS versions", e))?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| tls_err("the endpoint's certificate", e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn listen(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn names_cover_loopback_and_the_listen_address() {
        let n = server_names(listen("127.0.0.1:0"), "127.0.0.1");
        assert_eq!(n, ["localhost", "127.0.0.1", "::1"]);
        let n = server_names(listen("10.1.2.3:4599"), "10.1.2.3");
        assert!(n.contains(&"10.1.2.3".to_string()), "{n:?}");
        let n = server_names(listen("127.0.0.1:4599"), "kms.example.test");
        assert!(n.contains(&"kms.example.test".to_string()), "{n:?}");
        let n = server_names(listen("0.0.0.0:4599"), "0.0.0.0");
        assert!(!n.contains(&"0.0.0.0".to_string()), "{n:?}");
        assert!(n.len() > 3, "the host name or an interface: {n:?}");
    }

    #[test]
    fn material_is_made_once_and_reissued_for_new_names() {
        let d = tempfile::tempdir().unwrap();
        let l = Layout::new(d.path());
        let a = server_tls(&l, "111122223333", listen("127.0.0.1:0"), "127.0.0.1").unwrap();
        assert_eq!(a.ca_bundle, l.tls_ca_cert());
        let ca = std::fs::read_to_string(l.tls_ca_cert()).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
        for key in [l.tls_ca_key(), l.tls_server_key()] {
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", key.display());
        }
        let server = std::fs::read(l.tls_server_cert()).unwrap();
        // Same names: nothing changes.
        server_tls(&l, "111122223333", listen("127.0.0.1:0"), "127.0.0.1").unwrap();
        assert_eq!(std::fs::read(l.tls_server_cert()).unwrap(), server);
        // A new address: a new endpoint certificate, the same CA.
        server_tls(&l, "111122223333", listen("10.9.8.7:1"), "10.9.8.7").unwrap();
        assert_ne!(std::fs::read(l.tls_server_cert()).unwrap(), server);
        assert_eq!(ca_pem(&l, "111122223333").unwrap(), ca);
        let cert = CertificateDer::from_pem_file(l.tls_server_cert()).unwrap();
        let ca_der = CertificateDer::from_pem_slice(ca.as_bytes()).unwrap();
        let names = ["10.9.8.7".to_string(), "localhost".to_string()];
        assert!(verifies(&ca_der, &cert, &names, SystemTime::now()));
        assert!(!verifies(
            &ca_der,
            &cert,
            &["other.test".into()],
            SystemTime::now()
        ));
        // Valid 90 days: at start 61 days on it would still verify, but not 30 days later.
        let day = Duration::from_secs(86_400);
        assert!(verifies(
            &ca_der,
            &cert,
            &names,
            SystemTime::now() + 89 * day
        ));
        assert!(!verifies(
            &ca_der,
            &cert,
            &names,
            SystemTime::now() + 91 * day
        ));
    }

    #[test]
    fn a_lost_ca_key_makes_a_new_ca() {
        let d = tempfile::tempdir().unwrap();
        let l = Layout::new(d.path());
        let first = ca_pem(&l, "111122223333").unwrap();
        std::fs::remove_file(l.tls_ca_key()).unwrap();
        server_tls(&l, "111122223333", listen("127.0.0.1:0"), "127.0.0.1").unwrap();
        assert_ne!(std::fs::read_to_string(l.tls_ca_cert()).unwrap(), first);
    }
}
