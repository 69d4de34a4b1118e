//! The shared end-to-end harness: [`TestServer::spawn`] starts the real binary on a free
//! loopback port with its own data folder and fixed operator credentials, waits for its
//! "listening" line, and stops it (SIGTERM, then kill) when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub(crate) const OPERATOR_KEY_ID: &str = "AKIAGATEHOUSETEST001";
pub(crate) const OPERATOR_SECRET: &str = "gatehouse/test/secret/0123456789abcdefghij";

/// A running `gatehouse serve`.
pub(crate) struct TestServer {
    child: Option<Child>,
    pub(crate) addr: SocketAddr,
    /// The API gateway listener.
    pub(crate) gateway_addr: SocketAddr,
    /// The metrics listener (`None` when turned off).
    pub(crate) metrics_addr: Option<SocketAddr>,
    pub(crate) data_dir: PathBuf,
    /// Keeps the data folder alive as long as the server.
    _dir: Option<tempfile::TempDir>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

/// How to start a server; `TestServer::spawn()` uses the defaults.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    /// Leave the operator credentials to the server (generated into the data folder).
    pub(crate) no_operator_env: bool,
}

impl TestServer {
    pub(crate) fn spawn() -> Self {
        Self::spawn_with(Options::default())
    }

    pub(crate) fn spawn_with(options: Options) -> Self {
        let (dir, data_dir) = match options.data_dir {
            Some(path) => (None, path),
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("data");
                (Some(dir), path)
            }
        };
        let config = data_dir.with_extension("toml");
        std::fs::create_dir_all(data_dir.parent().expect("parent")).expect("parent dir");
        // Cheap password hashing: these tests are about the service, not argon2's cost.
        std::fs::write(
            &config,
            "[argon2]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n",
        )
        .expect("config file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        command
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--gateway-listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--config")
            .arg(&config)
            .args(&options.args)
            .env_remove("GATEHOUSE_OPERATOR_ACCESS_KEY_ID")
            .env_remove("GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY")
            .env_remove("GATEHOUSE_MASTER_KEY")
            .env_remove("GATEHOUSE_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // A free port of its own, unless the test chooses (several servers run at once).
        if !options.args.iter().any(|a| a == "--metrics-listen") {
            command.arg("--metrics-listen").arg("127.0.0.1:0");
        }
        if !options.no_operator_env {
            command
                .env("GATEHOUSE_OPERATOR_ACCESS_KEY_ID", OPERATOR_KEY_ID)
                .env("GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY", OPERATOR_SECRET);
        }
        for (key, value) in &options.env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start gatehouse serve");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err_pipe = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("stderr lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut gateway, mut metrics) = (None, None);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("gatehouse gateway listening on http://") {
                    gateway = Some(url.to_owned());
                }
                if let Some(url) = line.strip_prefix("gatehouse metrics listening on http://") {
                    metrics = Some(url.to_owned());
                }
                if let Some(url) = line.strip_prefix("gatehouse listening on http://") {
                    let _ = tx.send((
                        url.to_owned(),
                        gateway.clone().unwrap_or_default(),
                        metrics.clone(),
                    ));
                }
            }
        });
        let (addr, gateway_addr, metrics_addr) = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok((addr, gateway, metrics)) => (
                addr.parse().expect("socket address"),
                gateway.parse().expect("gateway socket address"),
                metrics.map(|m| m.parse().expect("metrics socket address")),
            ),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "gatehouse did not start; stderr:\n{}",
                    stderr.lock().expect("stderr lock")
                );
            }
        };
        Self {
            child: Some(child),
            addr,
            gateway_addr,
            metrics_addr,
            data_dir,
            _dir: dir,
            stderr,
        }
    }

    /// Everything the server wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Waits (up to 5 s) until the server has written `needle` to stderr; stderr is read by a
    /// background thread, so a line written just before "listening" may still be in flight.
    pub(crate) fn stderr_contains(&self, needle: &str) -> bool {
        for _ in 0..100 {
            if self.stderr().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Sends SIGTERM and waits for the exit status.
    pub(crate) fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server still running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        for _ in 0..200 {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        panic!("gatehouse did not stop within 10 s of SIGTERM");
    }

    pub(crate) fn get(&self, path: &str) -> Response {
        http(self.addr, "GET", path, &[], b"")
    }

    pub(crate) fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        http(self.addr, "POST", path, headers, body)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            for _ in 0..100 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "body is not JSON ({err}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A minimal HTTP/1.1 client over a loopback socket (`Connection: close`, whole body read).
pub(crate) fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    stream.write_all(body).expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..line_end])
                .split(';')
                .next()
                .expect("size")
                .trim(),
            16,
        )
        .expect("hex chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// The mode bits of a file (unix permissions).
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}
