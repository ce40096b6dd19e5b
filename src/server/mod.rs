//! `kmsfs serve`: the AWS JSON 1.1 KMS endpoint (`POST /`, `X-Amz-Target:
//! TrentService.<Operation>`, SigV4 on every request), a front end over the `kms` layer
//! like the CLI. Async stays inside this module: a tokio runtime of two workers runs hyper,
//! and the synchronous KMS calls run on its blocking threads (the symmetric data-plane
//! operations on the worker itself, see `http::INLINE_OPERATIONS`).
//!
//! - `mod.rs`: [`ServeOptions`], [`Server`] (bind, then run until SIGTERM/SIGINT).
//! - `http`: connections, body limit, keep-alive, request ids, responses.
//! - `dispatch`: authentication, `X-Amz-Target` to operation, request and response shapes.
//! - `error`: [`ServerError`] (startup) and [`WireError`] (the AWS error shapes).
//! - `sigv4`: a re-export of [`crate::sigv4`] (signing and verifying AWS Signature Version 4,
//!   which the remote KMS client shares), for the tests and fuzz targets that name it here.
//! - `credentials`: the access keys the endpoint accepts.
//! - `ephemeral`: a throwaway home deleted at exit (`--ephemeral`).
//!
//! Nothing imports this module but the CLI.

mod credentials;
mod dispatch;
mod ephemeral;
mod error;
mod http;
/// AWS Signature Version 4 (now [`crate::sigv4`], shared with the remote KMS client).
pub mod sigv4 {
    pub use crate::sigv4::*;
}

pub use credentials::{Credentials, KmsAccessKeys};
pub use dispatch::OPERATIONS;
pub use ephemeral::EphemeralHome;
pub use error::MAX_BODY;
pub use error::{ServerError, WireError};

use crate::kms::Kms;
use dispatch::Endpoint;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;

/// What to serve and where.
pub struct ServeOptions {
    pub kms: Arc<Kms>,
    /// `host:port`; loopback only. Port 0 picks a free port.
    pub listen: String,
    /// Access keys (`id`, `secret`) to register as the account root's before serving.
    pub credentials: Vec<(String, String)>,
    /// Serve moto's `POST /moto-api/reset` (unsigned; wipes every key and alias).
    pub allow_reset: bool,
}

/// A bound endpoint, not yet serving.
pub struct Server {
    runtime: tokio::runtime::Runtime,
    listener: TcpListener,
    addr: SocketAddr,
    endpoint: Arc<Endpoint>,
}

/// Bind and serve until SIGTERM or SIGINT.
pub fn serve(opts: ServeOptions) -> Result<(), ServerError> {
    Server::bind(opts)?.run()
}

/// The loopback address `listen` names (a non-loopback one is refused: no TLS yet).
fn loopback_addr(listen: &str) -> Result<SocketAddr, ServerError> {
    let addrs: Vec<SocketAddr> = listen
        .to_socket_addrs()
        .map_err(|e| ServerError::Usage(format!("--listen {listen}: {e}")))?
        .collect();
    if let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        return Err(ServerError::NotLoopback(*a));
    }
    addrs
        .first()
        .copied()
        .ok_or_else(|| ServerError::Usage(format!("--listen {listen} names no address")))
}

impl Server {
    /// Bind the listening socket (nothing is served before [`Server::run`]).
    pub fn bind(opts: ServeOptions) -> Result<Server, ServerError> {
        let addr = loopback_addr(&opts.listen)?;
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
            credentials,
            allow_reset: opts.allow_reset,
        });
        Ok(Server {
            runtime,
            listener,
            addr,
            endpoint,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serve until SIGTERM or SIGINT, then let in-flight requests finish and return.
    pub fn run(self) -> Result<(), ServerError> {
        let Server {
            runtime,
            listener,
            endpoint,
            ..
        } = self;
        runtime.block_on(async move {
            let listener =
                tokio::net::TcpListener::from_std(listener).map_err(ServerError::Runtime)?;
            let stop = stop_signal().map_err(ServerError::Runtime)?;
            http::accept_loop(listener, endpoint, stop).await;
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
    fn only_loopback() {
        assert!(loopback_addr("127.0.0.1:0").unwrap().ip().is_loopback());
        assert!(loopback_addr("[::1]:0").unwrap().ip().is_loopback());
        assert!(matches!(
            loopback_addr("0.0.0.0:4599"),
            Err(ServerError::NotLoopback(_))
        ));
        assert!(matches!(
            loopback_addr("nonsense"),
            Err(ServerError::Usage(_))
        ));
    }
}
