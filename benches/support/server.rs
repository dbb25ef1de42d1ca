//! The quickstart's release binary as a server for the benches that speak HTTP to it: built,
//! started against a `TestIssuer`, and asked over one keep-alive connection.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use route_guard::testing::TEST_AUDIENCE;

/// `cargo build --release -p route-guard --example quickstart`, and the binary's path (in this
/// build's target directory).
pub fn build_quickstart() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "route-guard",
            "--example",
            "quickstart",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the quickstart did not build");
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
        .join("release/examples")
        .join(format!("quickstart{}", std::env::consts::EXE_SUFFIX))
}

/// Starts the quickstart by `command` (the binary, or a wrapper that runs it) against
/// `issuer`, on a free port with `RUST_LOG=warn` (its per-request log line is the application's
/// choice, not route-guard's cost); the child and the server's base URL once it listens.
pub fn start_quickstart(mut command: Command, issuer: &str) -> (Child, String) {
    let mut child = command
        .env_clear()
        .env("AUTH0_ISSUER_BASE_URL", issuer)
        .env("AUTH0_AUDIENCE", TEST_AUDIENCE)
        .env("PORT", "0")
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the quickstart starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the quickstart prints `listening on`")
            .expect("stdout line");
        if let Some(base) = line.strip_prefix("listening on ") {
            break base.to_owned();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

/// Asks the server at `base` for `path` once with each token, in turn, over one keep-alive
/// connection; how many answers were 200.
pub fn get_each(base: &str, path: &str, tokens: &[&str]) -> usize {
    let address = base.strip_prefix("http://").expect("an http:// base");
    let mut stream = TcpStream::connect(address).expect("connects");
    stream.set_nodelay(true).expect("nodelay");
    let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
    tokens
        .iter()
        .filter(|token| {
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).expect("sends");
            read_response(&mut reader) == 200
        })
        .count()
}

/// One HTTP/1.1 response with a `content-length` body: its status.
fn read_response(reader: &mut impl BufRead) -> u16 {
    let mut line = String::new();
    reader.read_line(&mut line).expect("a status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).expect("a header line");
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().expect("a length");
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("the body");
    status
}
