//! The HTTP/1.1 the remote client needs, over a std `TcpStream` (or rustls over it for
//! `https://`): write one `POST /` with a `content-length` body, read the status line, the
//! headers and the body (by `content-length` or chunked), and tell whether the connection
//! may be reused.

use crate::kms::KmsError;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

/// Longest status line or header line read.
const MAX_LINE: usize = 16 * 1024;
/// Most headers read.
const MAX_HEADERS: usize = 100;
/// Largest response body read (a KMS response is a few KiB).
const MAX_BODY: usize = 16 << 20;

/// An open connection to the endpoint.
pub(super) struct Conn {
    stream: BufReader<Stream>,
}

/// A connection's bytes: plain, or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A response: the status, the body, whether the connection may carry another request.
pub(super) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

/// The error shape AWS JSON services answer with.
#[derive(serde::Deserialize)]
struct ErrorBody {
    #[serde(rename = "__type", alias = "code", alias = "Code")]
    code: Option<String>,
    #[serde(alias = "Message")]
    message: Option<String>,
}

impl Reply {
    /// The [`KmsError`] of a failed response (its `__type` and `message`).
    pub fn error(&self) -> KmsError {
        match serde_json::from_slice::<ErrorBody>(&self.body) {
            Ok(ErrorBody {
                code: Some(code),
                message,
            }) => KmsError::from_code(&code, message.unwrap_or_default()),
            _ => {
                let text = String::from_utf8_lossy(&self.body);
                let text: String = text.chars().take(200).collect();
                KmsError::Internal(format!(
                    "HTTP {} from the KMS endpoint: {text}",
                    self.status
                ))
            }
        }
    }
}

/// Whether `e` says a reused connection had been closed by the server before it answered
/// (worth one more try on a fresh connection).
pub(super) fn is_stale(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

impl Conn {
    /// Connect to `authority` (`host[:port]`; port 80, or 443 with `tls`, when absent), and
    /// with `tls` complete the handshake (a certificate that does not verify fails here).
    pub fn open(
        authority: &str,
        tls: Option<&Arc<ClientConfig>>,
        timeout: Duration,
    ) -> io::Result<Conn> {
        let has_port = match authority.rfind(':') {
            Some(i) => !authority[i..].contains(']'),
            None => false,
        };
        let host = if has_port {
            &authority[..authority.rfind(':').unwrap_or(authority.len())]
        } else {
            authority
        };
        let port = if tls.is_some() { 443 } else { 80 };
        let mut tcp = if has_port {
            TcpStream::connect(authority)?
        } else {
            TcpStream::connect(format!("{authority}:{port}"))?
        };
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(timeout))?;
        tcp.set_write_timeout(Some(timeout))?;
        let stream = match tls {
            None => Stream::Plain(tcp),
            Some(config) => {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let name = ServerName::try_from(host.to_string())
                    .map_err(|e| invalid(format!("the host name {host:?}: {e}")))?;
                let mut c =
                    ClientConnection::new(config.clone(), name).map_err(io::Error::other)?;
                while c.is_handshaking() {
                    c.complete_io(&mut tcp)?;
                }
                Stream::Tls(Box::new(StreamOwned::new(c, tcp)))
            }
        };
        Ok(Conn {
            stream: BufReader::new(stream),
        })
    }

    /// Send `POST /` with `headers` and `body`; read the response.
    pub fn exchange(&mut self, headers: &[(String, String)], body: &[u8]) -> io::Result<Reply> {
        let mut head = String::from("POST / HTTP/1.1\r\n");
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        let mut msg = head.into_bytes();
        msg.extend_from_slice(body);
        let stream = self.stream.get_mut();
        stream.write_all(&msg)?;
        stream.flush()?;
        self.read_reply()
    }

    fn line(&mut self) -> io::Result<String> {
        let mut buf = Vec::new();
        let n = (&mut self.stream)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if buf.starts_with(&[0x15, 0x03]) {
            // A TLS alert record: a TLS endpoint refusing plain HTTP.
            return Err(invalid(
                "the endpoint answered with a TLS alert: it speaks https, use an https:// URL",
            ));
        }
        if buf.last() != Some(&b'\n') {
            return Err(invalid("a response line is too long or cut short"));
        }
        let s = String::from_utf8(buf).map_err(|_| invalid("a response line is not UTF-8"))?;
        Ok(s.trim_end_matches(['\r', '\n']).to_string())
    }

    fn read_reply(&mut self) -> io::Result<Reply> {
        let status_line = self.line()?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|_| version.starts_with("HTTP/1."))
            .ok_or_else(|| invalid(format!("not an HTTP/1.x status line: {status_line:?}")))?;
        let mut keep_alive = version == "HTTP/1.1";
        let (mut length, mut chunked) = (None, false);
        for _ in 0..=MAX_HEADERS {
            let line = self.line()?;
            if line.is_empty() {
                let body = match (chunked, length) {
                    (true, _) => self.chunked_body()?,
                    (false, Some(n)) => self.exact_body(n)?,
                    (false, None) => {
                        keep_alive = false;
                        self.body_to_eof()?
                    }
                };
                return Ok(Reply {
                    status,
                    body,
                    keep_alive,
                });
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| invalid(format!("a malformed header: {line:?}")))?;
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => {
                    length = Some(value.parse().map_err(|_| invalid("bad content-length"))?)
                }
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" if value.eq_ignore_ascii_case("close") => keep_alive = false,
                "connection" if value.eq_ignore_ascii_case("keep-alive") => keep_alive = true,
                _ => {}
            }
        }
        Err(invalid("too many response headers"))
    }

    fn exact_body(&mut self, n: usize) -> io::Result<Vec<u8>> {
        if n > MAX_BODY {
            return Err(invalid(format!(
                "a response body of {n} bytes is too large"
            )));
        }
        let mut body = vec![0; n];
        self.stream.read_exact(&mut body)?;
        Ok(body)
    }

    fn body_to_eof(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        (&mut self.stream)
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body)?;
        if body.len() > MAX_BODY {
            return Err(invalid("a response body is too large"));
        }
        Ok(body)
    }

    fn chunked_body(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.line()?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let n = usize::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
            if n == 0 {
                // Trailers, up to the empty line.
                while !self.line()?.is_empty() {}
                return Ok(body);
            }
            if body.len() + n > MAX_BODY {
                return Err(invalid("a response body is too large"));
            }
            let start = body.len();
            body.resize(start + n, 0);
            self.stream.read_exact(&mut body[start..])?;
            if !self.line()?.is_empty() {
                return Err(invalid("a chunk is not followed by CRLF"));
            }
        }
    }
}
