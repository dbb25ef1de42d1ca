//! A real `redis-server` for the tests of the Redis stores (feature `redis`), started on a free
//! loopback port by the test itself.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// The `redis-server` binary. Missing, the test says it was not run and returns; under
/// `CI=true` it fails instead, so a green CI means every Redis test ran.
pub fn redis_server_binary() -> Option<PathBuf> {
    let found = find_redis_server();
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "CI=true but redis-server was not found: install Debian's redis-server package (.ci/run does)"
        );
        eprintln!(
            "NOT RUN: redis-server was not found (install Debian's redis-server package; .ci/run does)"
        );
    }
    found
}

fn find_redis_server() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("redis-server"))
                .collect()
        })
        .unwrap_or_default();
    candidates.push("/usr/bin/redis-server".into());
    candidates.push("/usr/local/bin/redis-server".into());
    candidates.into_iter().find(|p| p.is_file())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub async fn start_redis(binary: &PathBuf, port: u16) -> Child {
    let child = Command::new(binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if ping(port).await {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis-server did not answer PING on port {port} within 10 s");
}

async fn ping(port: u16) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").await.is_ok()
        && stream.read_exact(&mut reply).await.is_ok()
        && &reply == b"+PONG\r\n"
}

/// Sends one command to the Redis on `port` and returns its raw RESP reply (first line).
pub async fn command(port: u16, args: &[&str]) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connects to redis-server");
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream
        .write_all(request.as_bytes())
        .await
        .expect("command sent");
    let mut reply = vec![0u8; 512];
    let n = stream.read(&mut reply).await.expect("reply");
    String::from_utf8_lossy(&reply[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}
