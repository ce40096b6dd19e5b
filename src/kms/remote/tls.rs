//! Whom the remote client trusts over `https://`: the CA certificates of a PEM bundle file
//! (`--kms-ca-bundle`, `KMSFS_KMS_CA_BUNDLE`, `AWS_CA_BUNDLE`; `kmsfs serve --print-ca`
//! prints one), else the platform's roots (`rustls-native-certs`: the system's store, as
//! OpenSSL and the AWS SDKs read it). rustls with the aws-lc-rs provider, as the server.
//! Also: what a TLS failure says to the user.

use super::RemoteConfigError;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use std::path::Path;
use std::sync::Arc;

/// A client configuration trusting the certificates of the PEM file `bundle`, or the
/// platform's roots when there is none.
pub(super) fn client_config(bundle: Option<&Path>) -> Result<Arc<ClientConfig>, RemoteConfigError> {
    let roots = match bundle {
        Some(path) => bundle_roots(path)?,
        None => native_roots(),
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RemoteConfigError(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn bundle_roots(path: &Path) -> Result<RootCertStore, RemoteConfigError> {
    let bad = |why: String| RemoteConfigError(format!("the CA bundle {}: {why}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(bad(
            "no certificate in it (expected PEM, as `kmsfs serve --print-ca` prints)".into(),
        ));
    }
    Ok(roots)
}

/// The platform's roots (those that parse; none when the store cannot be read, and then
/// every certificate fails to verify, with the error that says how to trust one).
fn native_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    roots
}

/// The rustls error inside `e`, when the connection failed in TLS.
pub(super) fn failure(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// What to tell of a TLS failure `e` with `endpoint` (a certificate that does not verify,
/// or an endpoint that does not speak TLS).
pub(super) fn explain(endpoint: &str, e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(_) => format!(
            "the KMS endpoint {endpoint} presented a certificate that does not verify ({e}); \
             trust the CA that signed it with --kms-ca-bundle FILE (or KMSFS_KMS_CA_BUNDLE or \
             AWS_CA_BUNDLE), FILE being the output of `kmsfs serve --print-ca` on the serving \
             home (the CaBundle of its ready line)"
        ),
        e => format!(
            "the TLS handshake with the KMS endpoint {endpoint} failed ({e}); does it serve \
             https? (`kmsfs serve` without --tls speaks http://)"
        ),
    }
}
