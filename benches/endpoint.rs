//! The KMS endpoint under load: `kmsfs serve` (audit trail on, as always) against
//! `moto_server` in the same run. A small HTTP/1.1 load client over std `TcpStream`s, every
//! request SigV4-signed (`kmsfs::server::sigv4::sign`): Encrypt and Decrypt of 32 bytes,
//! with 1 and 8 concurrent connections, each connection its own thread, kept alive and
//! reopened when the server answers `Connection: close` (moto_server does, on every
//! response). Per case: 1 s of warm-up, then 5 s measured: ops/s, p50/p99 latency (a
//! request's latency includes the reconnect it needed), and the server's CPU per request
//! (`utime + stime` of its process from `/proc/<pid>/stat`, before and after).
//!
//! Run it with `scripts/bench/endpoint.sh` (makes the moto venv, writes the table into
//! docs/BENCHMARKS.md). Directly: `cargo bench --bench endpoint`, with `MOTO_SERVER` the
//! path of `moto_server` (default `target/bench-venv/bin/moto_server`). `BENCH_SECS`,
//! `BENCH_WARMUP_SECS`, `BENCH_CONNS` (e.g. `1,8`) and `BENCH_SERVERS` (`kmsfs,moto`)
//! change the cases; `BENCH_KMSFS` runs another `kmsfs` binary (to compare two builds). The Markdown table
//! goes to stdout; progress to stderr.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kmsfs::server::sigv4;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};

const REGION: &str = "us-east-1";
const ID: &str = "testing";
const SECRET: &str = "testing";

/// A client socket whose reads busy-poll: a non-blocking `recv` (a `sched_yield` between
/// two tries, so that a server sharing this CPU gets it) for up to `window` before the
/// blocking read. A blocked reader is woken by the response's arrival, which on a small VM
/// costs a wake-up of a halted vCPU about as long as the request itself; polling measures
/// the server, not that wake-up, and measures moto_server the same way.
struct SpinRead {
    stream: TcpStream,
    window: Option<Duration>,
}

impl Read for SpinRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(window) = self.window {
            let fd = std::os::fd::AsRawFd::as_raw_fd(&self.stream);
            let deadline = Instant::now() + window;
            loop {
                for _ in 0..8 {
                    // SAFETY: `recv` writes at most `buf.len()` bytes into `buf`.
                    let n = unsafe {
                        libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT)
                    };
                    if n >= 0 {
                        return Ok(n as usize);
                    }
                    let e = std::io::Error::last_os_error();
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) {
                        return Err(e);
                    }
                    std::thread::yield_now();
                }
                if Instant::now() >= deadline {
                    break;
                }
            }
        }
        self.stream.read(buf)
    }
}

/// One keep-alive connection to `addr`, reopened when the server closes it. The request
/// and status-line buffers are reused from one request to the next.
struct Conn {
    addr: SocketAddr,
    host: String,
    /// Busy-poll reads for this long (see [`SpinRead`]).
    spin: Option<Duration>,
    stream: Option<BufReader<SpinRead>>,
    connects: u64,
    msg: Vec<u8>,
    line: String,
}

struct Resp {
    status: u16,
    body: Vec<u8>,
}

impl Conn {
    fn new(addr: SocketAddr, spin: Option<Duration>) -> Conn {
        Conn {
            addr,
            host: addr.to_string(),
            spin,
            stream: None,
            connects: 0,
            msg: Vec::with_capacity(2048),
            line: String::with_capacity(256),
        }
    }

    fn stream(&mut self) -> std::io::Result<&mut BufReader<SpinRead>> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr)?;
            stream.set_nodelay(true)?;
            self.connects += 1;
            let s = SpinRead {
                stream,
                window: self.spin,
            };
            self.stream = Some(BufReader::with_capacity(16 * 1024, s));
        }
        Ok(self.stream.as_mut().unwrap())
    }

    /// `TrentService.<op>` with `body`, signed now (the signing key is derived once a day,
    /// by `sigv4::sign`'s per-thread cache: botocore derives it on every request).
    fn call(&mut self, op: &str, body: &[u8]) -> std::io::Result<Resp> {
        let mut headers = vec![
            (
                "content-type".to_string(),
                "application/x-amz-json-1.1".to_string(),
            ),
            ("host".to_string(), self.host.clone()),
            ("x-amz-target".to_string(), format!("TrentService.{op}")),
        ];
        let req = sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body,
        };
        let added = sigv4::sign(&req, "kms", REGION, ID, SECRET, SystemTime::now());
        headers.extend(added);
        let mut msg = std::mem::take(&mut self.msg);
        msg.clear();
        msg.extend_from_slice(b"POST / HTTP/1.1\r\n");
        for (n, v) in &headers {
            for part in [n.as_bytes(), b": ", v.as_bytes(), b"\r\n"] {
                msg.extend_from_slice(part);
            }
        }
        msg.extend_from_slice(b"content-length: ");
        msg.extend_from_slice(body.len().to_string().as_bytes());
        msg.extend_from_slice(b"\r\n\r\n");
        msg.extend_from_slice(body);
        // A kept-alive connection the server has meanwhile closed fails on write or on
        // the status line: reconnect once and resend.
        let mut result = None;
        for attempt in 0..2 {
            let reused = self.stream.is_some();
            match self.exchange(&msg) {
                Ok(r) => {
                    result = Some(Ok(r));
                    break;
                }
                Err(_) if reused && attempt == 0 => self.stream = None,
                Err(e) => {
                    self.stream = None;
                    result = Some(Err(e));
                    break;
                }
            }
        }
        self.msg = msg;
        result.expect("the loop ends with a result")
    }

    fn exchange(&mut self, msg: &[u8]) -> std::io::Result<Resp> {
        let mut line = std::mem::take(&mut self.line);
        let r = self.exchange_with(msg, &mut line);
        self.line = line;
        r
    }

    fn exchange_with(&mut self, msg: &[u8], line: &mut String) -> std::io::Result<Resp> {
        let s = self.stream()?;
        s.get_mut().stream.write_all(msg)?;
        line.clear();
        if s.read_line(line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before the status line",
            ));
        }
        let mut parts = line.split_whitespace();
        let mut close = parts.next() == Some("HTTP/1.0");
        let status: u16 = parts
            .next()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = None;
        loop {
            line.clear();
            s.read_line(line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').unwrap_or((l, ""));
            let v = v.trim();
            if n.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            } else if n.eq_ignore_ascii_case("connection") {
                close = v.eq_ignore_ascii_case("close");
            } else if n.eq_ignore_ascii_case("transfer-encoding") {
                return Err(std::io::Error::other("chunked responses are not supported"));
            }
        }
        let mut body = Vec::new();
        match length {
            Some(n) => {
                body.resize(n, 0);
                s.read_exact(&mut body)?;
            }
            None => {
                s.read_to_end(&mut body)?;
                close = true;
            }
        }
        if close {
            self.stream = None;
        }
        Ok(Resp { status, body })
    }

    /// A call that must succeed: its JSON body.
    fn ok(&mut self, op: &str, body: &Value) -> Value {
        let r = self
            .call(op, &serde_json::to_vec(body).unwrap())
            .unwrap_or_else(|e| panic!("{op}: {e}"));
        assert_eq!(r.status, 200, "{op}: {}", String::from_utf8_lossy(&r.body));
        serde_json::from_slice(&r.body).unwrap()
    }
}

/// A server under test: its process and address.
struct Server {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// `utime + stime` of the server process, in microseconds.
    fn cpu_us(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name (which is in parentheses and may hold spaces):
        // state is field 3, utime field 14, stime field 15.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        ticks * 1_000_000 / hz
    }

    fn stop(mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_kmsfs() -> Server {
    let exe = std::env::var("BENCH_KMSFS").unwrap_or_else(|_| env!("CARGO_BIN_EXE_kmsfs").into());
    let mut child = Command::new(exe)
        .args([
            "serve",
            "--ephemeral",
            "--credentials",
            "testing:testing",
            "--account-id",
            "111122223333",
            "--region",
            REGION,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start kmsfs serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("kmsfs serve ready line {line:?}: {e}"));
    let url = ready["Endpoint"].as_str().unwrap();
    let addr = url.strip_prefix("http://").unwrap().parse().unwrap();
    Server {
        name: "kmsfs serve",
        child,
        addr,
    }
}

fn start_moto() -> Server {
    let exe = std::env::var("MOTO_SERVER").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/target/bench-venv/bin/moto_server"
        )
        .into()
    });
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&exe)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("AWS_ACCESS_KEY_ID", ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_DEFAULT_REGION", REGION)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {exe}: {e} (scripts/bench/endpoint.sh makes the venv)"));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Server {
        name: "moto_server",
        child,
        addr,
    }
}

struct Case {
    server: &'static str,
    op: &'static str,
    conns: usize,
    ops_s: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us_per_req: f64,
    connects: u64,
}

/// How long the load client busy-polls for a response ([`SpinRead`]): `BENCH_CLIENT_SPIN_US`
/// (default 2000; 0: never), and only with fewer connections than CPUs (more spinning
/// threads than CPUs would take the servers' CPUs).
fn client_spin(conns: usize) -> Option<Duration> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let us = std::env::var("BENCH_CLIENT_SPIN_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    (us > 0 && conns < cpus).then(|| Duration::from_micros(us))
}

/// Run `op` with `body` on `conns` connections: warm-up, then `secs` measured.
fn run_case(
    server: &Server,
    op: &'static str,
    body: &[u8],
    conns: usize,
    warmup: Duration,
    secs: Duration,
) -> Case {
    let spin = client_spin(conns);
    let body = Arc::new(body.to_vec());
    let barrier = Arc::new(Barrier::new(conns + 1));
    let start = Instant::now() + Duration::from_millis(50);
    let (measure_from, measure_to) = (start + warmup, start + warmup + secs);
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let (body, barrier, addr) = (body.clone(), barrier.clone(), server.addr);
            std::thread::spawn(move || {
                let mut c = Conn::new(addr, spin);
                let mut lat = Vec::with_capacity(1 << 20);
                barrier.wait();
                let mut connects_before = None;
                loop {
                    let t0 = Instant::now();
                    if t0 >= measure_to {
                        break;
                    }
                    if t0 >= measure_from && connects_before.is_none() {
                        connects_before = Some(c.connects);
                    }
                    let r = c.call(op, &body).unwrap_or_else(|e| panic!("{op}: {e}"));
                    assert_eq!(r.status, 200, "{op}: {}", String::from_utf8_lossy(&r.body));
                    let t1 = Instant::now();
                    if t0 >= measure_from && t1 <= measure_to {
                        lat.push((t1 - t0).as_nanos() as u64);
                    }
                }
                (lat, c.connects - connects_before.unwrap_or(c.connects))
            })
        })
        .collect();
    barrier.wait();
    let now = Instant::now();
    if measure_from > now {
        std::thread::sleep(measure_from - now);
    }
    let cpu0 = server.cpu_us();
    let now = Instant::now();
    if measure_to > now {
        std::thread::sleep(measure_to - now);
    }
    let cpu1 = server.cpu_us();
    let mut lat = Vec::new();
    let mut connects = 0;
    for t in threads {
        let (l, c) = t.join().unwrap();
        lat.extend(l);
        connects += c;
    }
    lat.sort_unstable();
    let n = lat.len();
    assert!(n > 0, "{} {op}: no request completed", server.name);
    let pct = |p: f64| lat[((n as f64 * p).ceil() as usize).clamp(1, n) - 1] as f64 / 1000.0;
    Case {
        server: server.name,
        op,
        conns,
        ops_s: n as f64 / secs.as_secs_f64(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        cpu_us_per_req: (cpu1 - cpu0) as f64 / n as f64,
        connects,
    }
}

/// CreateKey, then Encrypt once: the bodies of the Encrypt and Decrypt cases.
fn setup(server: &Server) -> [(&'static str, Vec<u8>); 2] {
    let mut c = Conn::new(server.addr, None);
    let key = c.ok("CreateKey", &json!({"Description": "bench"}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let plaintext = B64.encode([0x5a_u8; 32]);
    let enc = json!({"KeyId": key, "Plaintext": plaintext});
    let blob = c.ok("Encrypt", &enc)["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_string();
    let dec = json!({"CiphertextBlob": blob});
    let out = c.ok("Decrypt", &dec);
    assert_eq!(out["Plaintext"].as_str(), Some(plaintext.as_str()));
    [
        ("Encrypt", serde_json::to_vec(&enc).unwrap()),
        ("Decrypt", serde_json::to_vec(&dec).unwrap()),
    ]
}

fn env_secs(name: &str, default: f64) -> Duration {
    Duration::from_secs_f64(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

fn thousands(x: f64) -> String {
    let s = format!("{:.0}", x);
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn main() {
    let secs = env_secs("BENCH_SECS", 5.0);
    let warmup = env_secs("BENCH_WARMUP_SECS", 1.0);
    let conns: Vec<usize> = std::env::var("BENCH_CONNS")
        .unwrap_or_else(|_| "1,8".into())
        .split(',')
        .map(|c| {
            c.trim()
                .parse()
                .expect("BENCH_CONNS: numbers, comma-separated")
        })
        .collect();
    let servers = std::env::var("BENCH_SERVERS").unwrap_or_else(|_| "kmsfs,moto".into());
    let mut cases = Vec::new();
    for (name, start) in [
        ("kmsfs", start_kmsfs as fn() -> Server),
        ("moto", start_moto),
    ] {
        if !servers.split(',').any(|s| s.trim() == name) {
            continue;
        }
        let server = start();
        eprintln!(
            "{} (pid {}) at {}",
            server.name,
            server.child.id(),
            server.addr
        );
        let bodies = setup(&server);
        for (op, body) in &bodies {
            for &n in &conns {
                let c = run_case(&server, op, body, n, warmup, secs);
                eprintln!(
                    "{} {} x{}: {:.0} ops/s, p50 {:.0} µs, p99 {:.0} µs, {:.0} µs CPU/request, {} connects",
                    c.server,
                    c.op,
                    c.conns,
                    c.ops_s,
                    c.p50_us,
                    c.p99_us,
                    c.cpu_us_per_req,
                    c.connects
                );
                cases.push(c);
            }
        }
        server.stop();
    }
    print_table(&cases);
}

/// The Markdown table of `cases`, with the ratios to moto and the verdict on the targets.
fn print_table(cases: &[Case]) {
    println!(
        "| server | op | connections | ops/s | p50 µs | p99 µs | server CPU µs/request | kmsfs/moto ops/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let moto = |op: &str, n: usize| {
        cases
            .iter()
            .find(|c| c.server == "moto_server" && c.op == op && c.conns == n)
            .map(|c| c.ops_s)
    };
    let mut rows: Vec<&Case> = cases.iter().collect();
    rows.sort_by_key(|c| (c.op != "Encrypt", c.conns, c.server != "kmsfs serve"));
    let (mut min_ratio, mut p99_1) = (f64::INFINITY, 0.0_f64);
    for c in rows {
        let ratio = if c.server == "kmsfs serve" {
            if c.conns == 1 {
                p99_1 = p99_1.max(c.p99_us);
            }
            match moto(c.op, c.conns) {
                Some(m) => {
                    let r = c.ops_s / m;
                    min_ratio = min_ratio.min(r);
                    format!("{r:.0}x")
                }
                None => "—".into(),
            }
        } else {
            "—".into()
        };
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {} |",
            c.server,
            c.op,
            c.conns,
            thousands(c.ops_s),
            c.p50_us,
            c.p99_us,
            c.cpu_us_per_req,
            ratio
        );
    }
    println!();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "Targets: kmsfs at least 50x moto's ops/s in every case ({}: lowest {:.0}x); kmsfs p99 under 1 ms at one connection ({}: {:.0} µs).",
        verdict(min_ratio >= 50.0),
        min_ratio,
        verdict(p99_1 < 1000.0),
        p99_1
    );
}
