//! The layer rule of `auth-runtime/src` (DESIGN.md): modules import one way, lowest first, so a
//! reader can learn the runtime bottom-up and change a layer without touching the ones below it.
//! This test reads the `crate::…` and `super::…` paths of every file and fails naming the file
//! and the import that runs back up; it also keeps the rooms small enough to find one's way in.

use std::fs;
use std::path::{Path, PathBuf};

/// The layers of `auth-runtime/src`, lowest first. A module may name a module of a lower rank
/// only; the leaves (rank 0) name nothing of the crate. A new top-level module must be placed
/// here before it can be used.
const LAYERS: &[(&str, u32, &str)] = &[
    ("stats", 0, "leaf: counters and rejection reasons"),
    ("token_cache", 0, "leaf: the bounded verified-token cache"),
    (
        "config",
        1,
        "the floor: settings, builder, environment, typed errors, plug-in points",
    ),
    (
        "store",
        2,
        "shared state: the DPoP replay stores (memory, Redis)",
    ),
    ("jwks", 3, "fetch, cache and parse the issuers' keys"),
    (
        "ratelimit",
        3,
        "quotas and per-caller budgets (memory, Redis), keyed by plain strings",
    ),
    (
        "verify",
        4,
        "the Authenticator and its one verification path",
    ),
    ("dpop", 5, "RFC 9449 proofs, binding, nonces, replay check"),
    ("claims", 6, "typed claims and their look-ups"),
    ("policy", 7, "what a route requires, framework-free"),
    ("axum", 8, "extractors, layers, rejection -> response"),
];

/// Sits beside the crate: it may use any layer, and production code never names it.
const BESIDE: &str = "testing";

const MAX_FILE_LINES: usize = 600;
const MAX_IMPL_LINES: usize = 300;

fn runtime_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("auth-runtime/src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// `config/builder.rs` -> `["config", "builder"]`, `config/mod.rs` -> `["config"]`,
/// `stats.rs` -> `["stats"]`, `lib.rs` -> `[]` (the crate root).
fn module_path(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

fn rank(module: &str) -> Option<u32> {
    LAYERS
        .iter()
        .find(|(name, _, _)| *name == module)
        .map(|(_, rank, _)| *rank)
}

/// The code without comments and without `#[cfg(test)]` modules (whose `super::*` is the file
/// itself).
fn code_of(source: &str) -> String {
    let mut code = String::new();
    let mut lines = source.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            // Skip the module: up to the closing brace at its own indentation.
            let indent = line.len() - trimmed.len();
            let close = format!("{}}}", " ".repeat(indent));
            for inner in lines.by_ref() {
                if inner == close {
                    break;
                }
            }
            continue;
        }
        // A `'"'` char literal is no string.
        code.push_str(&strip_comment(&line.replace("'\"'", "'.'")));
        code.push('\n');
    }
    code
}

/// The line without its `//` comment and with the text of string literals blanked, so that
/// neither can be mistaken for a path.
fn strip_comment(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            _ if escaped => {
                escaped = false;
                out.push(' ');
            }
            '\\' if in_string => {
                escaped = true;
                out.push(' ');
            }
            '"' => {
                in_string = !in_string;
                out.push('"');
            }
            '/' if !in_string && chars.peek() == Some(&'/') => break,
            _ if in_string => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The first segments named after a path prefix: `axum` for `axum::ErrorBody`, and `jwks`,
/// `dpop` for `{jwks::KeyError, dpop::Dpop}`.
fn first_segments(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0usize;
        let mut items = vec![String::new()];
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => items.push(String::new()),
                _ => {}
            }
            if let Some(item) = items.last_mut() {
                item.push(c);
            }
        }
        items
            .iter()
            .map(|item| item.trim_start_matches(',').trim())
            .filter(|item| !item.is_empty())
            .filter_map(|item| first_segments(item).into_iter().next())
            .collect()
    } else {
        let name: String = rest
            .bytes()
            .take_while(|&b| is_ident(b))
            .map(char::from)
            .collect();
        if name.is_empty() {
            Vec::new()
        } else {
            vec![name]
        }
    }
}

/// Every module-level name a file's code reaches: `(target, as written)`. The target is the
/// top-level module, or `crate root: X` for a name reached through `lib.rs`.
fn reached(module: &[String], code: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for prefix in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(prefix) {
            let start = from + found;
            from = start + prefix.len();
            if start > 0 && (is_ident(bytes[start - 1]) || bytes[start - 1] == b':') {
                continue; // `$crate::`, `a::super::`, or the second `super::` of a chain
            }
            let mut rest = &code[start + prefix.len()..];
            let mut base: Vec<String> = match prefix {
                "crate::" => Vec::new(),
                _ => module[..module.len().saturating_sub(1)].to_vec(),
            };
            while let Some(after) = rest.strip_prefix("super::") {
                base.pop();
                rest = after;
            }
            let written_end = rest.find([';', '\n']).unwrap_or(rest.len());
            let written = format!("{prefix}{}", &rest[..written_end]);
            let targets = match base.first() {
                Some(top) => vec![top.clone()],
                None => first_segments(rest),
            };
            for target in targets {
                let target = if base.is_empty()
                    && rank(&target).is_none()
                    && target != BESIDE
                    && target != "self"
                {
                    format!("crate root: {target}")
                } else {
                    target
                };
                out.push((target, written.trim().to_owned()));
            }
        }
    }
    out
}

/// What is wrong with the imports of `file` (a path under `auth-runtime/src`), one line each.
fn violations(file: &str, source: &str) -> Vec<String> {
    let module = module_path(file);
    let Some(top) = module.first() else {
        return Vec::new(); // lib.rs: the crate root re-exports every layer
    };
    if top == BESIDE {
        return Vec::new();
    }
    let Some(own) = rank(top) else {
        return vec![format!(
            "{file}: module `{top}` has no layer: add it to LAYERS in tests/it/architecture.rs"
        )];
    };
    let mut found = Vec::new();
    for (target, written) in reached(&module, &code_of(source)) {
        if &target == top || target == "self" {
            continue;
        }
        let problem = if target == BESIDE {
            "production code must not use the `testing` module".to_owned()
        } else if let Some(name) = target.strip_prefix("crate root: ") {
            format!("`{name}` is reached through the crate root, which re-exports every layer: name its module")
        } else {
            match rank(&target) {
                Some(theirs) if theirs < own => continue,
                Some(theirs) => format!(
                    "`{top}` (layer {own}) must not import `{target}` (layer {theirs}): an import that runs back up"
                ),
                None => continue, // not a module (e.g. `crate::` in a macro path)
            }
        };
        found.push(format!("{file}: `{written}`: {problem}"));
    }
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(runtime_src())
        .expect("under auth-runtime/src")
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn every_import_runs_down_the_layers() {
    let mut files = Vec::new();
    rust_files(&runtime_src(), &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let mut problems = Vec::new();
    for path in &files {
        let source = fs::read_to_string(path).expect("readable source");
        problems.extend(violations(&relative(path), &source));
    }
    assert!(
        problems.is_empty(),
        "imports that break the layer rule:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_catches_backward_imports() {
    // The import issue 12 removed: config, the floor, reaching up to the axum glue.
    let found = violations("config/mod.rs", "use crate::axum::ErrorBody;\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("config/mod.rs: `crate::axum::ErrorBody`"),
        "{found:?}"
    );
    assert!(found[0].contains("runs back up"), "{found:?}");

    // In a group, over several lines, only the backward member is reported.
    let grouped = "use crate::{\n    jwks::KeyError,\n    dpop::Dpop,\n};\n";
    let found = violations("verify/mod.rs", grouped);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("`dpop`"), "{found:?}");

    // `super::super::` climbs to the crate root and into another module.
    let found = violations("jwks/fetch.rs", "use super::super::verify::VerifyError;\n");
    assert_eq!(found.len(), 1, "{found:?}");
    // A name reached through the crate root hides which layer it comes from.
    let found = violations(
        "jwks/fetch.rs",
        "fn f() -> crate::ConfigError { todo!() }\n",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("crate root"), "{found:?}");
    // Production code never uses the test issuer; the leaves use nothing.
    assert_eq!(
        violations("axum/mod.rs", "use crate::testing::TestIssuer;\n").len(),
        1
    );
    assert_eq!(
        violations("stats.rs", "use crate::config::Algorithm;\n").len(),
        1
    );
    // A module nobody placed in the table is reported.
    assert_eq!(violations("mcp/mod.rs", "").len(), 1);

    // What is allowed: downward imports, the own module, `self`, comments, unit tests.
    let fine = "//! See [`x`](crate::axum::Claims).\n\
        use super::key::parse_key; // not crate::axum\n\
        use crate::config::{Algorithm, Settings};\n\
        use crate::stats::Counters;\n\
        use self::inner::X;\n\
        const URL: &str = \"https://crate::axum\";\n\
        #[cfg(test)]\n\
        mod tests {\n    use super::*;\n    use crate::axum::Claims;\n}\n";
    assert_eq!(violations("jwks/fetch.rs", fine), Vec::<String>::new());
    assert_eq!(
        violations("testing/issuer.rs", "use crate::axum::Claims;\n").len(),
        0
    );
}

#[test]
fn rooms_stay_small() {
    let mut files = Vec::new();
    rust_files(&runtime_src(), &mut files);
    let mut problems = Vec::new();
    for path in &files {
        let source = fs::read_to_string(path).expect("readable source");
        let file = relative(path);
        let lines = source.lines().count();
        if lines > MAX_FILE_LINES {
            problems.push(format!("{file}: {lines} lines (at most {MAX_FILE_LINES})"));
        }
        let mut open: Option<(usize, &str)> = None;
        for (number, line) in source.lines().enumerate() {
            match open {
                None if line.starts_with("impl") && !line.ends_with('}') => {
                    open = Some((number, line));
                }
                Some((start, header)) if line == "}" => {
                    let length = number - start + 1;
                    if length > MAX_IMPL_LINES {
                        problems.push(format!(
                            "{file}:{}: `{header}` is {length} lines (at most {MAX_IMPL_LINES}): split it",
                            start + 1
                        ));
                    }
                    open = None;
                }
                _ => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_layer_table_names_every_module() {
    let mut tops: Vec<String> = fs::read_dir(runtime_src())
        .expect("auth-runtime/src")
        .map(|entry| entry.expect("entry").path())
        .filter_map(|path| {
            let name = path.file_stem()?.to_string_lossy().into_owned();
            (path.is_dir() || path.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|name| name != "lib" && name != BESIDE)
        .collect();
    tops.sort();
    tops.dedup();
    let mut table: Vec<String> = LAYERS
        .iter()
        .map(|(name, _, _)| (*name).to_owned())
        .collect();
    table.sort();
    assert_eq!(
        tops, table,
        "the modules of auth-runtime/src and LAYERS differ"
    );
}
