//! `kmsfs serve` on the wire: a real server process, raw HTTP/1.1 over a std `TcpStream`
//! with keep-alive, requests signed with `kmsfs::server::sigv4::sign`. Operations answer
//! AWS's shapes; bad input of every kind answers an AWS error shape with its code, never a
//! 500 or a hang (HTTP framing garbage too: a 4xx or a closed connection); SIGTERM stops the
//! server (exit 0) and removes its ephemeral home; the audit trail of a served home verifies
//! and each line names the access key's principal, the client's address and user agent, the
//! region and the request id of the response.

mod common;

use common::cli::{init, kmsfs, kmsfs_env, ok, s};
use kmsfs::server::sigv4;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

const REGION: &str = "us-east-1";
/// The principal of `--credentials` keys.
const ACCOUNT_ROOT: &str = "arn:aws:iam::111122223333:root";

/// A running `kmsfs serve` (stopped on drop), its address and home.
struct Served {
    server: common::serve::Server,
    addr: String,
    home: PathBuf,
}

impl Served {
    /// `kmsfs serve ARGS` with `TMPDIR=tmp`, once it printed its ready line.
    fn start(tmp: &Path, args: &[&str]) -> Served {
        let mut c = Command::new(common::cli::BIN);
        c.env_remove("KMSFS_PASSPHRASE")
            .env("TMPDIR", tmp)
            .arg("serve")
            .args(args)
            .stderr(Stdio::null());
        let server = common::serve::Server::spawn(c);
        let v = &server.ready;
        assert_eq!(v["Region"], REGION);
        assert_eq!(v["AccountId"], "111122223333");
        Served {
            addr: server.endpoint.strip_prefix("http://").unwrap().to_string(),
            home: PathBuf::from(v["Home"].as_str().unwrap()),
            server,
        }
    }

    fn ephemeral(tmp: &Path) -> Served {
        Served::start(
            tmp,
            &[
                "--ephemeral",
                "--credentials",
                "testing:testing",
                "--account-id",
                "111122223333",
                "--region",
                REGION,
            ],
        )
    }

    fn connect(&self) -> Conn {
        let s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Conn {
            r: BufReader::new(s.try_clone().unwrap()),
            s,
            host: self.addr.clone(),
            user_agent: None,
        }
    }

    /// SIGTERM, then the exit code.
    fn stop(self) -> Option<i32> {
        self.server.stop_code()
    }
}

/// One keep-alive connection.
struct Conn {
    s: TcpStream,
    r: BufReader<TcpStream>,
    host: String,
    /// Sent (and signed) as `User-Agent` when set.
    user_agent: Option<Vec<u8>>,
}

/// A response: status, headers (lowercase names), JSON body (`Null` when empty).
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        let h = self.headers.iter().find(|(n, _)| n == name);
        h.map(|(_, v)| v.as_str())
    }

    /// An AWS error with `code` and `status`.
    fn error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.body["__type"].as_str()),
            (status, Some(code)),
            "{}",
            self.body
        );
        assert_eq!(self.header("x-amzn-errortype"), Some(code));
        assert!(self.body["message"].is_string());
    }
}

impl Conn {
    /// `TrentService.<op>` with `body`, signed with (`id`, `secret`) unless `None`.
    fn call_raw(&mut self, op: &str, body: &[u8], key: Option<(&str, &str)>, region: &str) -> Resp {
        self.send(op, body, key, region);
        self.read_response()
    }

    /// [`Conn::call_raw`] in the home region for a request the server may refuse by closing
    /// the connection: the status, or `None` if it closed without a response.
    fn try_call_raw(&mut self, op: &str, body: &[u8], key: Option<(&str, &str)>) -> Option<u16> {
        self.send(op, body, key, REGION);
        let mut line = String::new();
        match self.r.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => line.split(' ').nth(1).map(|s| s.parse().unwrap()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("no answer and no close: {e}"),
        }
    }

    fn send(&mut self, op: &str, body: &[u8], key: Option<(&str, &str)>, region: &str) {
        let mut headers = vec![
            (
                "content-type".to_string(),
                "application/x-amz-json-1.1".to_string(),
            ),
            ("host".to_string(), self.host.clone()),
            ("x-amz-target".to_string(), format!("TrentService.{op}")),
        ];
        if let Some(ua) = &self.user_agent {
            let ua = String::from_utf8_lossy(ua).into_owned();
            headers.push(("user-agent".to_string(), ua));
        }
        if let Some((id, secret)) = key {
            let req = sigv4::Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body,
            };
            let added = sigv4::sign(&req, "kms", region, id, secret, SystemTime::now());
            headers.extend(added);
        }
        let mut head = b"POST / HTTP/1.1\r\n".to_vec();
        for (n, v) in &headers {
            // The user agent goes as its bytes (the signed copy is its lossy UTF-8).
            let v = match (n.as_str(), &self.user_agent) {
                ("user-agent", Some(ua)) => ua.clone(),
                _ => v.clone().into_bytes(),
            };
            head.extend_from_slice(format!("{n}: ").as_bytes());
            head.extend_from_slice(&v);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        // The server may refuse and close before it has read everything.
        let _ = self
            .s
            .write_all(&head)
            .and_then(|()| self.s.write_all(body));
    }

    fn call(&mut self, op: &str, body: Value) -> Resp {
        let b = serde_json::to_vec(&body).unwrap();
        self.call_raw(op, &b, Some(("testing", "testing")), REGION)
    }

    /// A call that must succeed: its body.
    fn ok(&mut self, op: &str, body: Value) -> Value {
        let r = self.call(op, body);
        assert_eq!(r.status, 200, "{op}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
        assert!(r.header("x-amzn-requestid").is_some_and(|v| v.len() == 36));
        r.body
    }

    fn read_response(&mut self) -> Resp {
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        let status = line
            .split(' ')
            .nth(1)
            .unwrap_or_else(|| panic!("status line: {line:?}"));
        let status = status.parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.r.read_line(&mut line).unwrap();
            let Some((n, v)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .unwrap()
            .1
            .parse()
            .unwrap();
        let mut body = vec![0; len];
        self.r.read_exact(&mut body).unwrap();
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap()
        };
        Resp {
            status,
            headers,
            body,
        }
    }
}

#[test]
fn operations_round_trip_on_one_keep_alive_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = Served::ephemeral(tmp.path());
    let mut c = srv.connect();
    let created = c.ok("CreateKey", json!({"Description": "wire"}));
    let arn = created["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    assert!(
        arn.starts_with("arn:aws:kms:us-east-1:111122223333:key/"),
        "{arn}"
    );
    let ctx = json!({"purpose": "test"});
    let enc = c.ok(
        "Encrypt",
        json!({"KeyId": arn, "Plaintext": "aGVsbG8=", "EncryptionContext": ctx}),
    );
    assert_eq!(enc["KeyId"], arn.as_str());
    let blob = enc["CiphertextBlob"].as_str().unwrap();
    let dec = c.ok(
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
    );
    assert_eq!(
        (dec["Plaintext"].as_str(), dec["KeyId"].as_str()),
        (Some("aGVsbG8="), Some(arn.as_str()))
    );
    let wrong = c.call(
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": {"purpose": "other"}}),
    );
    wrong.error(400, "InvalidCiphertextException");
    let d = c.ok("DescribeKey", json!({"KeyId": arn}));
    assert_eq!(d["KeyMetadata"]["KeyState"], "Enabled");
    assert!(d["KeyMetadata"]["CreationDate"].is_number());
    let l = c.ok("ListKeys", json!({}));
    assert!(
        l["Keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["KeyArn"] == arn.as_str())
    );
    // An operation without output: 200 and an empty body.
    assert_eq!(c.ok("DisableKey", json!({"KeyId": arn})), Value::Null);
    c.call("Encrypt", json!({"KeyId": arn, "Plaintext": "aGk="}))
        .error(400, "DisabledException");
    assert_eq!(c.ok("EnableKey", json!({"KeyId": arn})), Value::Null);
    c.ok(
        "CreateAlias",
        json!({"AliasName": "alias/wire", "TargetKeyId": arn}),
    );
    c.ok(
        "Encrypt",
        json!({"KeyId": "alias/wire", "Plaintext": "aGk="}),
    );
    assert_eq!(
        c.ok("DeleteAlias", json!({"AliasName": "alias/wire"})),
        Value::Null
    );
    c.call("DescribeKey", json!({"KeyId": "alias/wire"}))
        .error(400, "NotFoundException");
    // An empty body is `{}`.
    let r = c.call_raw("ListAliases", b"", Some(("testing", "testing")), REGION);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn bad_input_gets_aws_error_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = Served::ephemeral(tmp.path());
    let mut c = srv.connect();
    let key = Some(("testing", "testing"));
    c.call("Frobnicate", json!({}))
        .error(400, "UnknownOperationException");
    c.call_raw("Encrypt", b"{\"KeyId\": ", key, REGION)
        .error(400, "SerializationException");
    c.call("ListKeys", json!({"Limit": "ten"}))
        .error(400, "SerializationException");
    c.call("Decrypt", json!({"CiphertextBlob": "not base64!"}))
        .error(400, "SerializationException");
    let r = c.call_raw("ListKeys", b"{}", None, REGION);
    assert!((400..500).contains(&r.status), "{}", r.status);
    let code = r.body["__type"].as_str().unwrap();
    assert!(code.starts_with("MissingAuthenticationToken"), "{code}");
    r.error(r.status, code);
    c.call_raw("ListKeys", b"{}", Some(("testing", "wrong")), REGION)
        .error(400, "InvalidSignatureException");
    c.call_raw("ListKeys", b"{}", Some(("nobody", "x")), REGION)
        .error(400, "UnrecognizedClientException");
    // Every region is served (tests/kms_seed_regions.rs); a scope naming no region is not.
    let r = c.call_raw("ListKeys", b"{}", key, "EU-WEST-1");
    r.error(400, "UnrecognizedClientException");
    assert!(r.body["message"].as_str().unwrap().contains("EU-WEST-1"));
    // Still the same connection after all of these.
    c.ok("ListKeys", json!({}));
    // 2 MiB: refused with an AWS error, and the connection closed.
    let big = vec![b' '; 2 << 20];
    let r = c.call_raw("ListKeys", &big, key, REGION);
    r.error(413, "RequestEntityTooLargeException");
    assert_eq!(r.header("connection"), Some("close"));
    srv.connect().ok("ListKeys", json!({}));
}

#[test]
fn sigterm_exits_zero_and_removes_the_ephemeral_home() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = Served::ephemeral(tmp.path());
    assert!(srv.home.starts_with(tmp.path()) && srv.home.join("config.json").exists());
    let mut idle = srv.connect();
    idle.ok("ListKeys", json!({}));
    let home = srv.home.clone();
    assert_eq!(srv.stop(), Some(0));
    assert!(!home.exists());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn a_served_home_keeps_a_verifying_trail_naming_the_access_key_principal() {
    let tmp = tempfile::tempdir().unwrap();
    let home = init(tmp.path());
    let args = ["--home", s(&home), "--credentials", "testing:testing"];
    let srv = Served::start(tmp.path(), &args);
    let mut c = srv.connect();
    let arn = c.ok("CreateKey", json!({}))["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    c.ok("Encrypt", json!({"KeyId": arn, "Plaintext": "aGk="}));
    c.call(
        "Encrypt",
        json!({"KeyId": "alias/none", "Plaintext": "aGk="}),
    )
    .error(400, "NotFoundException");
    assert_eq!(srv.stop(), Some(0));
    assert!(home.join("config.json").exists());
    assert_eq!(ok(&kmsfs(&home, &["audit", "verify"]))["Verified"], true);
    let shown = kmsfs(
        &home,
        &[
            "audit",
            "show",
            "--principal",
            ACCOUNT_ROOT,
            "--operation",
            "Encrypt",
        ],
    );
    assert!(shown.status.success());
    let lines: Vec<Value> = String::from_utf8_lossy(&shown.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
}

#[test]
fn refuses_a_non_loopback_address() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["serve", "--ephemeral", "--listen", "0.0.0.0:0"];
    let o = kmsfs_env(&tmp.path().join("h"), &args, &[("TMPDIR", s(tmp.path()))]);
    common::cli::fails(&o, 2, "not a loopback address");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// moto's reset route: with --ephemeral (or --allow-reset) an unsigned `POST
/// /moto-api/reset` deletes every key and alias and answers `{"status": "ok"}`; without it
/// the route is an unsigned request like any other, and refused.
#[test]
fn moto_reset_route_wipes_keys_only_when_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Served::ephemeral(tmp.path());
    let mut c = s.connect();
    let k = c.ok("CreateKey", json!({}));
    let id = k["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    c.ok(
        "CreateAlias",
        json!({"AliasName": "alias/r", "TargetKeyId": id}),
    );
    let reset = |c: &mut Conn| {
        let head = format!(
            "POST /moto-api/reset HTTP/1.1\r\nhost: {}\r\ncontent-length: 0\r\n\r\n",
            c.host
        );
        c.s.write_all(head.as_bytes()).unwrap();
        c.read_response()
    };
    let r = reset(&mut c);
    assert_eq!((r.status, &r.body), (200, &json!({"status": "ok"})));
    assert_eq!(c.ok("ListKeys", json!({}))["Keys"], json!([]));
    assert_eq!(c.ok("ListAliases", json!({}))["Aliases"], json!([]));
    c.call("DescribeKey", json!({"KeyId": id}))
        .error(400, "NotFoundException");
    assert_eq!(s.stop(), Some(0));

    // A persistent home without --allow-reset: refused, nothing deleted.
    let home = common::cli::init(tmp.path());
    let key = common::cli::create_key(&home, "KeyId");
    let s = Served::start(
        tmp.path(),
        &[
            "--home",
            home.to_str().unwrap(),
            "--credentials",
            "testing:testing",
        ],
    );
    let mut c = s.connect();
    let r = reset(&mut c);
    assert!(r.status >= 400, "{}", r.status);
    let mut c = s.connect();
    c.ok("DescribeKey", json!({"KeyId": key}));
    assert_eq!(s.stop(), Some(0));
}

/// The audit lines of `home` (after the server stopped): JSON objects.
fn trail(home: &Path) -> Vec<Value> {
    let o = kmsfs(home, &["audit", "show"]);
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The audit line of each request through the endpoint carries what CloudTrail records:
/// the access key's principal, `sourceIPAddress`, `userAgent`, `awsRegion`, and as
/// `requestId` the response's `x-amzn-RequestId`, for a refusal too. A request that fails
/// authentication writes no line. A hostile user agent (10 KiB of quotes, backslashes,
/// braces, tabs and bytes that are not UTF-8) is cut to 1 KiB, and the trail verifies; NUL
/// and line breaks cannot reach it (HTTP refuses or splits them; the unit tests of
/// `kms::caller` and the fuzz target cover the rest).
#[test]
fn audit_lines_carry_the_caller_and_the_request_id() {
    let tmp = tempfile::tempdir().unwrap();
    let home = init(tmp.path());
    let args = ["--home", s(&home), "--credentials", "testing:testing"];
    let srv = Served::start(tmp.path(), &args);
    let mut c = srv.connect();
    c.user_agent = Some(b"wire-test/1.0 (kmsfs)".to_vec());
    let created = c.call("CreateKey", json!({}));
    let arn = created.body["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let id_of = |r: &Resp| r.header("x-amzn-requestid").unwrap().to_string();
    let enc = c.call("Encrypt", json!({"KeyId": arn, "Plaintext": "aGk="}));
    assert_eq!(enc.status, 200);
    c.ok("DisableKey", json!({"KeyId": arn}));
    let refused = c.call("Encrypt", json!({"KeyId": arn, "Plaintext": "aGk="}));
    refused.error(400, "DisabledException");
    let bad_sig = c.call_raw("ListKeys", b"{}", Some(("testing", "wrong")), REGION);
    bad_sig.error(400, "InvalidSignatureException");
    let mut hostile = Vec::new();
    while hostile.len() < 10 << 10 {
        hostile.extend_from_slice(b"\"},\\\"\t{\xff\xfe ");
    }
    c.user_agent = Some(hostile);
    let h = c.call("ListKeys", json!({}));
    assert_eq!(h.status, 200, "{}", h.body);
    // NUL in a header: HTTP refuses the request (a 4xx, or the connection closes).
    let mut n = srv.connect();
    n.user_agent = Some(b"evil\0agent".to_vec());
    let status = n.try_call_raw("ListKeys", b"{}", Some(("testing", "testing")));
    assert!(status.is_none_or(|s| (400..500).contains(&s)), "{status:?}");
    // A line break ends the header: what follows is another header, not the user agent's.
    let mut l = srv.connect();
    l.user_agent = Some(b"split\r\nx-injected: 1".to_vec());
    let split = l.call("ListKeys", json!({}));
    assert!(split.status < 500);
    assert_eq!(srv.stop(), Some(0));
    assert_eq!(ok(&kmsfs(&home, &["audit", "verify"]))["Verified"], true);

    let lines = trail(&home);
    let by_id =
        |id: &str| -> Vec<&Value> { lines.iter().filter(|l| l["requestId"] == id).collect() };
    for (r, outcome) in [(&enc, "Success"), (&refused, "Failure"), (&h, "Success")] {
        let id = id_of(r);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        let found = by_id(&id);
        assert_eq!(found.len(), 1, "the line of {id}: {lines:#?}");
        let l = found[0];
        assert_eq!(l["outcome"], outcome);
        assert_eq!(l["principal"], ACCOUNT_ROOT);
        assert_eq!(l["sourceIPAddress"], "127.0.0.1");
        assert_eq!(l["awsRegion"], REGION);
    }
    let l = by_id(&id_of(&enc))[0];
    assert_eq!(l["userAgent"], "wire-test/1.0 (kmsfs)");
    assert_eq!(l["keyArn"], arn.as_str());
    assert_eq!(by_id(&id_of(&refused))[0]["errorCode"], "DisabledException");
    // Authentication failed: no line (as CloudTrail).
    assert!(by_id(&id_of(&bad_sig)).is_empty());
    let ua = by_id(&id_of(&h))[0]["userAgent"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ua.len() <= 1024 && ua.len() > 1000, "{} bytes", ua.len());
    assert!(ua.starts_with("\"},\\\""), "{ua:?}");
    assert!(!ua.chars().any(char::is_control), "{ua:?}");
    assert!(lines.iter().all(|l| {
        l["userAgent"]
            .as_str()
            .is_none_or(|u| !u.contains("x-injected"))
    }));
}

/// What a raw exchange on a new connection ended with: the response's status, or `None`
/// when the server closed the connection without one. Panics if the server neither answers
/// nor closes within 30 s (a hang).
fn raw_exchange(addr: &str, parts: &[(&[u8], Duration)]) -> Option<u16> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    for (bytes, pause) in parts {
        // The server may close before it has read everything: not an error here.
        if s.write_all(bytes).is_err() {
            break;
        }
        std::thread::sleep(*pause);
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no answer and no close within 30 s ({e}): a hang"),
        }
    }
    let line = String::from_utf8_lossy(&got);
    let status = line.split(' ').nth(1)?;
    Some(
        status
            .parse()
            .unwrap_or_else(|_| panic!("status line {line:?}")),
    )
}

/// HTTP framing garbage gets a 4xx or a closed connection, never a 5xx or a hang: a bad
/// request line, a bad Content-Length, a bad chunk size, a NUL in a header, 1 MiB of
/// headers, a body that stops arriving (refused after 10 s); the server serves on.
#[test]
fn framing_garbage_gets_a_4xx_or_a_closed_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = Served::ephemeral(tmp.path());
    let post = "POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: TrentService.ListKeys\r\n";
    let huge = format!("{post}x-big: {}\r\n\r\n", "a".repeat(1 << 20));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not HTTP", b"HELLO THERE\r\n\r\n".to_vec()),
        (
            "binary",
            vec![0x16, 0x03, 0x01, 0x00, 0xff, 0, 0, 0, 13, 10, 13, 10],
        ),
        (
            "bad version",
            b"POST / HTTP/9.9\r\nhost: x\r\n\r\n".to_vec(),
        ),
        (
            "bad length",
            format!("{post}content-length: ten\r\n\r\n").into_bytes(),
        ),
        (
            "two lengths",
            format!("{post}content-length: 2\r\ncontent-length: 3\r\n\r\n{{}}").into_bytes(),
        ),
        (
            "bad chunk",
            format!("{post}transfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n").into_bytes(),
        ),
        (
            "NUL in a header",
            format!("{post}x-a: b\0c\r\n\r\n").into_bytes(),
        ),
        (
            "no colon",
            format!("{post}just a line\r\n\r\n").into_bytes(),
        ),
        ("huge headers", huge.into_bytes()),
    ];
    for (what, bytes) in &cases {
        let status = raw_exchange(&srv.addr, &[(bytes, Duration::ZERO)]);
        assert!(
            status.is_none_or(|s| (400..500).contains(&s)),
            "{what}: {status:?}"
        );
    }
    // A body that stops arriving: refused (408) after 10 s, not held forever.
    let head =
        format!("{post}content-type: application/x-amz-json-1.1\r\ncontent-length: 100\r\n\r\n");
    let t = std::time::Instant::now();
    let status = raw_exchange(
        &srv.addr,
        &[
            (head.as_bytes(), Duration::ZERO),
            (b"{\"Li", Duration::ZERO),
        ],
    );
    assert!(
        status.is_none_or(|s| (400..500).contains(&s)),
        "slow body: {status:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(25), "{:?}", t.elapsed());
    srv.connect().ok("ListKeys", json!({}));
    assert_eq!(srv.stop(), Some(0));
}

/// Each connection is served on a thread of its own up to 64 at a time, the others on the
/// shared runtime (`server/http.rs`, `own_thread`): 80 connections held open at once all
/// answer, twice each (keep-alive on both paths), and their requests interleave.
#[test]
fn connections_past_the_thread_limit_are_served_too() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = Served::ephemeral(tmp.path());
    let mut conns: Vec<_> = (0..80).map(|_| srv.connect()).collect();
    for c in &conns {
        // Headers and body go in two writes: without this, each request waits for a
        // delayed ACK (40 ms).
        c.s.set_nodelay(true).unwrap();
    }
    let key = conns[0].ok("CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    for round in 0..2 {
        for (i, c) in conns.iter_mut().enumerate() {
            let enc = c.ok("Encrypt", json!({"KeyId": key, "Plaintext": "aGk="}));
            let blob = enc["CiphertextBlob"].as_str().unwrap();
            let dec = c.ok("Decrypt", json!({"CiphertextBlob": blob}));
            assert_eq!(dec["Plaintext"], "aGk=", "connection {i}, round {round}");
        }
    }
}
