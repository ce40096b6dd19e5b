//! HTTP/1.1 over hyper: accept connections (TLS when configured, keep-alive, graceful
//! shutdown), read a request's body up to [`MAX_BODY`] (a larger one is refused without
//! being kept), run the request ([`Endpoint::handle`]: on the connection's own thread, or
//! on a blocking thread of the shared runtime) and build the response: `200` with
//! `application/x-amz-json-1.1`, or the AWS error shape with `X-Amzn-ErrorType`; every
//! response carries `x-amzn-RequestId`.

use super::dispatch::{Endpoint, WireRequest};
use super::error::WireError;
use super::spin::{Poller, SpinStream};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::error::MAX_BODY;
/// A refused body is read and dropped up to this size, so that the client, which sends it
/// whole before reading, gets the refusal; past it the connection is closed.
const DRAIN_MAX: u64 = 16 << 20;
/// How long a refused body may take to arrive.
const DRAIN_TIME: Duration = Duration::from_secs(10);
/// How long a request's body may take to arrive (a KMS request is a few KiB); a slower one is
/// refused with `RequestTimeoutException` (408, which clients retry) and the connection closed.
const BODY_TIME: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers (also ends idle keep-alive
/// connections that never send another request).
const HEADER_TIME: Duration = Duration::from_secs(60);
/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIME: Duration = Duration::from_secs(10);
/// How long in-flight requests get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Connections served on threads of their own (see [`own_thread`]); the others share the
/// runtime's workers.
const MAX_CONN_THREADS: usize = 64;

const JSON_11: &str = "application/x-amz-json-1.1";

/// Accept connections on `listener` until `stop` resolves, then let in-flight requests
/// finish (at most [`SHUTDOWN_GRACE`]). Each connection is served on a thread of its own
/// ([`own_thread`]; past [`MAX_CONN_THREADS`], on a task of this runtime), after its TLS
/// handshake with `tls` (at most [`HANDSHAKE_TIME`]; a failed one closes it), and
/// busy-polls briefly after a response (`super::spin`).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    ep: Arc<Endpoint>,
    tls: Option<TlsAcceptor>,
    stop: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let poller = Arc::new(Poller::from_env());
    let threads = Arc::new(AtomicUsize::new(0));
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(true)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIME);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, a)) => (s, a.ip()),
                Err(_) => {
                    // Out of descriptors or an aborted handshake: wait, go on.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let served = Served {
            ep: ep.clone(),
            poller: poller.clone(),
            peer,
            own_thread: false,
        };
        let conn = Accepted {
            served,
            builder: builder.clone(),
            watcher: graceful.watcher(),
            tls: tls.clone(),
        };
        if let Err(conn) = own_thread(stream, conn, &threads) {
            let (stream, conn) = *conn;
            tokio::spawn(conn.serve(SpinStream::new(stream, poller.clone())));
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// What a connection's requests are served with, and who sent them.
#[derive(Clone)]
struct Served {
    ep: Arc<Endpoint>,
    poller: Arc<Poller>,
    peer: IpAddr,
    /// Whether the connection has a thread of its own (then every request runs on it).
    own_thread: bool,
}

/// An accepted connection, and what serves it.
struct Accepted {
    served: Served,
    builder: http1::Builder,
    watcher: Watcher,
    tls: Option<TlsAcceptor>,
}

impl Accepted {
    /// Serve the connection on the current runtime (after the TLS handshake, if any).
    async fn serve(self, stream: SpinStream) {
        let Accepted {
            served,
            builder,
            watcher,
            tls,
        } = self;
        match tls {
            None => serve_connection(stream, served, builder, watcher).await,
            Some(acceptor) => {
                let handshake = tokio::time::timeout(HANDSHAKE_TIME, acceptor.accept(stream));
                if let Ok(Ok(stream)) = handshake.await {
                    serve_connection(stream, served, builder, watcher).await;
                }
            }
        }
    }
}

/// Serve `stream` on a thread of its own, with a single-threaded runtime, while fewer than
/// [`MAX_CONN_THREADS`] connections have one: the socket is then read, its requests served
/// and the connection busy-polled (`super::spin`) by one thread, which no other thread
/// hands work to or wakes (on the shared runtime, each request arriving also woke the
/// other, parked worker, through the reactor, and requests moved between workers). Every
/// request runs on that thread, the slow ones too: they hold up only their own connection.
/// Gives the connection back when it gets no thread.
fn own_thread(
    stream: TcpStream,
    mut conn: Accepted,
    threads: &Arc<AtomicUsize>,
) -> Result<(), Box<(TcpStream, Accepted)>> {
    if threads.fetch_add(1, Ordering::AcqRel) >= MAX_CONN_THREADS {
        threads.fetch_sub(1, Ordering::AcqRel);
        return Err(Box::new((stream, conn)));
    }
    let std_stream = match stream.into_std() {
        Ok(s) => s,
        Err(_) => {
            threads.fetch_sub(1, Ordering::AcqRel);
            return Ok(());
        }
    };
    conn.served.own_thread = true;
    let count = threads.clone();
    let spawned = std::thread::Builder::new()
        .name("kmsfs-conn".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async move {
                    if let Ok(stream) = TcpStream::from_std(std_stream) {
                        let poller = conn.served.poller.clone();
                        conn.serve(SpinStream::new(stream, poller)).await;
                    }
                });
            }
            count.fetch_sub(1, Ordering::AcqRel);
        });
    if spawned.is_err() {
        threads.fetch_sub(1, Ordering::AcqRel);
    }
    Ok(())
}

/// Serve the requests of one connection (plain or TLS) until it closes, or until shutdown
/// once its request in flight is answered.
async fn serve_connection<I>(io: I, served: Served, builder: http1::Builder, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| respond(served.clone(), req));
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    let _ = watcher.watch(conn).await;
}

/// A response: status, body, and whether the connection must close after it.
struct Reply {
    result: Result<Vec<u8>, WireError>,
    close: bool,
}

/// Answer one request from `peer`; its request id goes to the response's
/// `x-amzn-RequestId` and to its audit line.
async fn respond(
    served: Served,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Served {
        ep,
        poller,
        peer,
        own_thread,
    } = served;
    let _serving = poller.serving();
    let request_id = request_id();
    let reply = match read(req).await {
        Ok(mut wire) => {
            wire.peer = Some(peer);
            wire.request_id.clone_from(&request_id);
            let result = if own_thread || runs_inline(&wire) {
                ep.handle(&wire)
            } else {
                tokio::task::spawn_blocking(move || ep.handle(&wire))
                    .await
                    .unwrap_or_else(|e| {
                        Err(WireError::Internal(format!("the request failed: {e}")))
                    })
            };
            Reply {
                result,
                close: false,
            }
        }
        Err(e) => Reply {
            result: Err(e),
            close: true,
        },
    };
    Ok(build(reply, &request_id))
}

/// A request id: a version-4 UUID, random bits drawn once per process, a counter in its low
/// 64 bits (unique in the process, and unlikely to repeat across processes; no system call
/// per request, where `Uuid::new_v4` makes one).
fn request_id() -> String {
    static BASE: OnceLock<u128> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = *BASE.get_or_init(|| uuid::Uuid::new_v4().as_u128());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let bytes = (base ^ u128::from(n)).to_be_bytes();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// Operations served on the runtime's worker thread, not handed to a blocking thread: the
/// data-plane calls, tens of microseconds of CPU with a symmetric key, that write nothing
/// synchronously (the audit trail is buffered and flushed by its own thread). For them the
/// handoff to a blocking thread and back (two thread wake-ups per request) cost more than
/// the call. With an RSA key a Decrypt holds a worker for a millisecond or two, the other
/// worker serving meanwhile. Everything else (creating keys, policies, grants, signing:
/// file writes with fsync, or milliseconds of CPU) runs on the blocking threads.
const INLINE_OPERATIONS: &[&str] = &[
    "TrentService.Encrypt",
    "TrentService.Decrypt",
    "TrentService.ReEncrypt",
    "TrentService.GenerateDataKey",
    "TrentService.GenerateDataKeyWithoutPlaintext",
    "TrentService.GenerateRandom",
    "TrentService.DescribeKey",
];

fn runs_inline(wire: &WireRequest) -> bool {
    wire.header("x-amz-target")
        .is_some_and(|t| INLINE_OPERATIONS.contains(&t))
}

/// Read a request whole, its body up to [`MAX_BODY`]. A refusal closes the connection.
async fn read(req: Request<Incoming>) -> Result<WireRequest, WireError> {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(n) = declared.filter(|&n| n > MAX_BODY) {
        if n <= DRAIN_MAX {
            let _ = tokio::time::timeout(DRAIN_TIME, drain(body)).await;
        }
        return Err(WireError::TooLarge(n));
    }
    let collect = Limited::new(body, MAX_BODY as usize).collect();
    let Ok(collected) = tokio::time::timeout(BODY_TIME, collect).await else {
        return Err(WireError::RequestTimeout(BODY_TIME.as_secs()));
    };
    let body = match collected {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(WireError::TooLarge(MAX_BODY + 1));
        }
        Err(e) => {
            return Err(WireError::Serialization(format!(
                "the body could not be read: {e}"
            )));
        }
    };
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (n.as_str().to_string(), v)
        })
        .collect();
    Ok(WireRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers,
        body,
        peer: None,
        request_id: String::new(),
    })
}

/// Read and drop a body.
async fn drain(mut body: Incoming) {
    while let Some(Ok(_)) = body.frame().await {}
}

fn build(reply: Reply, request_id: &str) -> Response<Full<Bytes>> {
    let (status, body, error) = match reply.result {
        Ok(b) => (200, b, None),
        Err(e) => (e.http_status(), e.body(), Some(e.code())),
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_11));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if let Some(code) = error {
        h.insert("x-amzn-errortype", HeaderValue::from_static(code));
    }
    if reply.close {
        h.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct_version_4_uuids() {
        let ids: Vec<String> = (0..1000).map(|_| request_id()).collect();
        let set: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(set.len(), ids.len());
        for id in &ids {
            let u = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(u.get_version_num(), 4);
            assert_eq!(id.len(), 36);
        }
    }
}
