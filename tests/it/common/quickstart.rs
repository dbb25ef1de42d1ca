//! The examples as processes: started with an exact environment, reached over HTTP. Shared by
//! the suite's quickstart tests and the OpenAPI checks of `tests-integration`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `target/<profile>/examples/quickstart`, which `cargo test` builds with the tests (run the
/// whole workspace's suite, or `cargo build --examples` first, when running one test alone).
pub fn quickstart_binary() -> PathBuf {
    super::example_binary("quickstart")
}

/// A running example: killed when dropped.
pub struct Example {
    pub child: Child,
    /// `http://127.0.0.1:<port>`, from its "listening on" line.
    pub base: String,
    /// What it printed before that line.
    pub printed: Vec<String>,
}

/// Starts the quickstart with exactly `vars` in its environment, in an empty directory (so no
/// `.env` is read), and waits for its "listening on" line.
pub async fn start(vars: &[(&str, &str)]) -> Example {
    start_example("quickstart", vars).await
}

/// Starts `target/<profile>/examples/<name>` as [`start`] does the quickstart: `vars` and
/// `PORT=0`, `RUST_LOG=warn`, in an empty directory, up to its "listening on" line.
pub async fn start_example(name: &str, vars: &[(&str, &str)]) -> Example {
    let dir = std::env::temp_dir().join(format!("route-guard-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut child = Command::new(super::example_binary(name))
        .env_clear()
        .envs(vars.iter().copied())
        .env("PORT", "0")
        .env("RUST_LOG", "warn")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("the {name} example is built by `cargo test --workspace`: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("stdout line") {
            if let Some(base) = line.strip_prefix("listening on ") {
                return base.to_owned();
            }
            printed.push(line);
        }
        panic!("the {name} example exited before listening: {printed:#?}");
    })
    .await
    .unwrap_or_else(|_| panic!("the {name} example starts within 30 s"));
    Example {
        child,
        base,
        printed,
    }
}

pub async fn get(base: &str, path: &str, token: Option<&str>) -> super::Reply {
    let mut request = super::client().get(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    super::send(request).await
}
