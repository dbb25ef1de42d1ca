//! `route-guard doctor`: why is this token rejected? Every check, the cause, the fix, and the
//! exact answer the API sends. Configured from the same environment as the API
//! (`AUTH0_DOMAIN`, `AUTH0_DOMAINS`, `AUTH0_ISSUER_BASE_URL`, `AUTH0_AUDIENCE`,
//! `AUTH0_ALGORITHMS`, `AUTH0_DPOP`, `AUTH0_MTLS`, and a `.env` file); the token from standard input or
//! `--token-file`, never from the command line (shells keep history).
//!
//! ```sh
//! cargo install route-guard --features doctor
//! pbpaste | route-guard doctor --scopes read:messages
//! ```
//!
//! Exit status: 0 when the token would be accepted, 1 when not, 2 for a usage or configuration
//! error.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use route_guard::layer::{Names, Require};
use route_guard::{AuthenticatorBuilder, ClientCertificate};

const USAGE: &str = "usage: route-guard doctor [--token-file PATH] [--scopes 'a b'] [--permissions 'a b'] [--roles 'a,b'] [--cert PATH] [--json] [--color auto|always|never]

Reads one access token from standard input (or --token-file) and explains whether the API
configured by AUTH0_DOMAIN / AUTH0_DOMAINS / AUTH0_ISSUER_BASE_URL and AUTH0_AUDIENCE (and
AUTH0_ALGORITHMS, AUTH0_DPOP, a .env file) accepts it, for a route requiring the given scopes,
permissions (all of them) and roles (any of them). --cert names the client certificate (PEM)
the request comes with, for a certificate-bound token (AUTH0_MTLS). The token itself is never
printed.

Exit status: 0 accepted, 1 refused, 2 usage or configuration error.";

/// What the command line asked for.
struct Options {
    token_file: Option<String>,
    scopes: Vec<String>,
    permissions: Vec<String>,
    roles: Vec<String>,
    /// The client certificate's PEM file.
    cert: Option<String>,
    json: bool,
    color: Option<bool>,
}

fn words(text: &str, separators: &[char]) -> Vec<String> {
    text.split(separators)
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        token_file: None,
        scopes: Vec::new(),
        permissions: Vec::new(),
        roles: Vec::new(),
        cert: None,
        json: false,
        color: None,
    };
    let mut args = args.iter();
    match args.next().map(String::as_str) {
        Some("doctor") => {}
        Some("-h" | "--help") | None => return Err(String::new()),
        Some(other) => return Err(format!("unknown command `{other}`")),
    }
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--token-file" => options.token_file = Some(value()?),
            "--scopes" => options.scopes.extend(words(&value()?, &[' ', ','])),
            "--permissions" => options.permissions.extend(words(&value()?, &[' ', ','])),
            // Auth0 role names may hold spaces: roles are comma-separated.
            "--roles" => options.roles.extend(words(&value()?, &[','])),
            "--cert" => options.cert = Some(value()?),
            "--json" => options.json = true,
            "--color" => {
                options.color = match value()?.as_str() {
                    "always" => Some(true),
                    "never" => Some(false),
                    "auto" => None,
                    other => return Err(format!("--color takes auto, always or never, not `{other}`")),
                }
            }
            "-h" | "--help" => return Err(String::new()),
            "--token" => {
                return Err(
                    "the token is read from standard input or --token-file, never from the command line (shells keep history)".to_owned(),
                )
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(options)
}

fn read_token(options: &Options) -> Result<String, String> {
    let mut text = String::new();
    match &options.token_file {
        Some(path) => {
            text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read --token-file {path}: {e}"))?;
        }
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!("paste the access token, then press Ctrl-D:");
            }
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read the token from standard input: {e}"))?;
        }
    }
    // A pasted header value is fine too.
    let token = text.trim();
    let token = token
        .strip_prefix("Bearer ")
        .or_else(|| token.strip_prefix("bearer "))
        .unwrap_or(token)
        .trim();
    match token.is_empty() {
        true => Err("no token: pipe one into standard input, or pass --token-file".to_owned()),
        false => Ok(token.to_owned()),
    }
}

fn requirement(options: &Options) -> Require {
    let mut require = Require::new();
    if !options.scopes.is_empty() {
        require = require.scopes(Names::from(options.scopes.clone()));
    }
    if !options.permissions.is_empty() {
        require = require.permissions(Names::from(options.permissions.clone()));
    }
    if !options.roles.is_empty() {
        require = require.roles(route_guard::layer::any(options.roles.clone()));
    }
    require
}

async fn run(args: &[String]) -> Result<bool, (u8, String)> {
    let options = parse(args).map_err(|e| (2, e))?;
    let token = read_token(&options).map_err(|e| (2, e))?;
    let auth = AuthenticatorBuilder::from_env()
        .and_then(AuthenticatorBuilder::build)
        .map_err(|e| (2, format!("configuration: {e}")))?;
    let require = requirement(&options);
    if let Err(e) = require.validate() {
        return Err((2, e.to_string()));
    }
    let certificate = match &options.cert {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| (2, format!("cannot read --cert {path}: {e}")))?;
            let certificate = ClientCertificate::from_pem(&pem)
                .ok_or_else(|| (2, format!("--cert {path} holds no PEM certificate")))?;
            Some(certificate)
        }
        None => None,
    };
    let der = certificate.as_ref().and_then(ClientCertificate::der);
    let diagnosis = auth.diagnose_with_certificate(&token, &require, der).await;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = match options.json {
        true => serde_json::to_writer_pretty(&mut out, &diagnosis)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        false => {
            let color = options.color.unwrap_or_else(|| stdout.is_terminal());
            write!(out, "{}", diagnosis.report(color))
        }
    };
    written.map_err(|e| (2, format!("cannot write the report: {e}")))?;
    Ok(diagnosis.accepted())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err((code, message)) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!("{USAGE}");
            ExitCode::from(code)
        }
    }
}
