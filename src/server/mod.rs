//! `kmsfs serve`: the AWS JSON 1.1 KMS endpoint (`POST /`, `X-Amz-Target:
//! TrentService.<Operation>`, SigV4 on every request), a front end over the `kms` layer
//! like the CLI. Async stays inside this module: a tokio runtime of two workers accepts
//! connections; each connection is served by hyper on a thread of its own (a
//! single-threaded runtime, which runs the synchronous KMS calls too; see
//! `http::own_thread`), or past `http::MAX_CONN_THREADS` on the shared runtime, whose
//! blocking threads run the KMS calls (the symmetric data-plane operations on the worker
//! itself, see `http::INLINE_OPERATIONS`).
//!
//! - `mod.rs`: [`ServeOptions`], [`Server`] (bind, then run until SIGTERM/SIGINT).
//! - `http`: connections, body limit, keep-alive, request ids, responses.
//! - `spin`: busy-polling a keep-alive connection briefly after each response.
//! - `dispatch`: authentication, `X-Amz-Target` to operation, request and response shapes.
//! - `error`: [`ServerError`] (startup) and [`WireError`] (the AWS error shapes).
//! - `sigv4`: a re-export of [`crate::sigv4`] (signing and verifying AWS Signature Version 4,
//!   which the remote KMS client shares), for the tests and fuzz targets that name it here.
//! - `credentials`: the access keys the endpoint accepts.
//! - `ephemeral`: a throwaway home deleted at exit (`--ephemeral`).
//! - `tls`: the local CA and the endpoint's certificate in the home (`--tls`, `--print-ca`).
//!
//! Nothing imports this module but the CLI.

mod credentials;
mod dispatch;
mod ephemeral;
mod error;
mod http;
mod secretsmanager;
mod spin;
mod ssm;
mod tls;
/// AWS Signature Version 4 (now [`crate::sigv4`], shared with the remote KMS client).
pub mod sigv4 {
    pub use crate::sigv4::*;
}

pub use credentials::{Credentials, KmsAccessKeys};
pub use dispatch::OPERATIONS;
pub use ephemeral::EphemeralHome;
pub use error::MAX_BODY;
pub use error::{ServerError, WireError};
pub use tls::ca_pem;

use crate::home::Layout;
use crate::kms::Kms;
/// (`WireRequest` for the endpoint fuzz target, `crate::fuzzing`.)
pub(crate) use dispatch::{Endpoint, WireRequest};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;

/// What to serve and where.
pub struct ServeOptions {
    pub kms: Arc<Kms>,
    /// The home `kms` is of (Secrets Manager and Parameter Store keep their data in it).
    pub home: crate::home::Home,
    /// `host:port`; loopback only unless TLS (or `insecure_http`). Port 0 picks a free port.
    pub listen: String,
    pub transport: Transport,
    /// Access keys (`id`, `secret`) to register as the account root's before serving.
    pub credentials: Vec<(String, String)>,
    /// Serve moto's `POST /moto-api/reset` (unsigned; wipes every key and alias).
    pub allow_reset: bool,
}

/// How the endpoint speaks.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Plain HTTP: on loopback only, unless `insecure` (`--insecure-http`).
    Http { insecure: bool },
    /// HTTPS with the CA and certificate kept in this home's layout (made if needed).
    Tls(Layout),
}

/// A bound endpoint, not yet serving.
pub struct Server {
    runtime: tokio::runtime::Runtime,
    listener: TcpListener,
    addr: SocketAddr,
    endpoint: Arc<Endpoint>,
    tls: Option<tls::ServerTls>,
}

/// Bind and serve until SIGTERM or SIGINT.
pub fn serve(opts: ServeOptions) -> Result<(), ServerError> {
    Server::bind(opts)?.run()
}

/// The address `listen` names (the first it resolves to), and whether it is loopback
/// (every address it resolves to is).
fn listen_addr(listen: &str) -> Result<(SocketAddr, bool), ServerError> {
    let addrs: Vec<SocketAddr> = listen
        .to_socket_addrs()
        .map_err(|e| ServerError::Usage(format!("--listen {listen}: {e}")))?
        .collect();
    let first = addrs
        .first()
        .copied()
        .ok_or_else(|| ServerError::Usage(format!("--listen {listen} names no address")))?;
    match addrs.iter().find(|a| !a.ip().is_loopback()) {
        Some(a) => Ok((*a, false)),
        None => Ok((first, true)),
    }
}

/// The host part of `host:port` (brackets kept for IPv6).
fn listen_host(listen: &str) -> &str {
    listen.rsplit_once(':').map_or(listen, |(h, _)| h)
}

impl Server {
    /// Bind the listening socket (nothing is served before [`Server::run`]). A
    /// non-loopback address needs TLS or `Transport::Http { insecure: true }`.
    pub fn bind(opts: ServeOptions) -> Result<Server, ServerError> {
        let (addr, loopback) = listen_addr(&opts.listen)?;
        let tls = match &opts.transport {
            Transport::Http { insecure: false } if !loopback => {
                return Err(ServerError::NotLoopback(addr));
            }
            Transport::Http { .. } => None,
            Transport::Tls(layout) => {
                let account = &opts.kms.account().account_id;
                let host = listen_host(&opts.listen);
                Some(tls::server_tls(layout, account, addr, host)?)
            }
        };
        let mut server = Server::bind_addr(opts, addr)?;
        server.tls = tls;
        Ok(server)
    }

    fn bind_addr(opts: ServeOptions, addr: SocketAddr) -> Result<Server, ServerError> {
        let listen_err = |source| ServerError::Listen {
            addr: opts.listen.clone(),
            source,
        };
        let listener = TcpListener::bind(addr).map_err(listen_err)?;
        listener.set_nonblocking(true).map_err(listen_err)?;
        let addr = listener.local_addr().map_err(listen_err)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kmsfs-serve")
            .enable_all()
            .build()
            .map_err(ServerError::Runtime)?;
        let a = opts.kms.account();
        let principal = format!("arn:{}:iam::{}:root", a.partition, a.account_id);
        credentials::register(&opts.kms, &opts.credentials, &principal)
            .map_err(ServerError::Kms)?;
        let credentials = Box::new(KmsAccessKeys::new(opts.kms.clone()));
        let endpoint = Arc::new(Endpoint {
            kms: opts.kms,
            home: opts.home,
            credentials,
            allow_reset: opts.allow_reset,
        });
        Ok(Server {
            runtime,
            listener,
            addr,
            endpoint,
            tls: None,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, or `https://...` with TLS (an unspecified address, `0.0.0.0`
    /// or `[::]`, named by its loopback address, which it serves too).
    pub fn url(&self) -> String {
        let mut a = self.addr;
        match a.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => a.set_ip(Ipv4Addr::LOCALHOST.into()),
            IpAddr::V6(ip) if ip.is_unspecified() => a.set_ip(Ipv6Addr::LOCALHOST.into()),
            _ => {}
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{a}")
    }

    /// Whether it listens on loopback only.
    pub fn is_loopback(&self) -> bool {
        self.addr.ip().is_loopback()
    }

    /// With TLS: the CA certificate file clients trust (`kms/tls/ca.pem`).
    pub fn ca_bundle(&self) -> Option<PathBuf> {
        self.tls.as_ref().map(|t| t.ca_bundle.clone())
    }

    /// Serve until SIGTERM or SIGINT, then let in-flight requests finish and return.
    pub fn run(self) -> Result<(), ServerError> {
        let Server {
            runtime,
            listener,
            endpoint,
            tls,
            ..
        } = self;
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config));
        runtime.block_on(async move {
            let listener =
                tokio::net::TcpListener::from_std(listener).map_err(ServerError::Runtime)?;
            let stop = stop_signal().map_err(ServerError::Runtime)?;
            http::accept_loop(listener, endpoint, acceptor, stop).await;
            Ok::<(), ServerError>(())
        })?;
        runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        Ok(())
    }
}

/// Resolves at the first SIGTERM or SIGINT.
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        let (a, lo) = listen_addr("127.0.0.1:0").unwrap();
        assert!(a.ip().is_loopback() && lo);
        assert!(listen_addr("[::1]:0").unwrap().1);
        assert!(!listen_addr("0.0.0.0:4599").unwrap().1);
        assert!(matches!(
            listen_addr("nonsense"),
            Err(ServerError::Usage(_))
        ));
        assert_eq!(listen_host("[::1]:0"), "[::1]");
        assert_eq!(listen_host("kms.example:4599"), "kms.example");
    }
}
