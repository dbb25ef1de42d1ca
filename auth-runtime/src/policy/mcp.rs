//! [`McpPolicy`]: what an MCP endpoint requires, of every request and of each tool, prompt,
//! resource or method a JSON-RPC call names. Framework-free: the tower layer that reads the
//! body and enforces it is in `axum/`.

use std::collections::HashMap;

use super::jsonrpc::{Call, Target, NAMING_METHODS};
use super::{Insufficient, Names, Require};
use crate::claims::{StandardClaims, TokenClaims};
use crate::config::ConfigError;
use crate::verify::VerifiedToken;

/// The default bound on an MCP request body: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// What an MCP endpoint requires: a valid token for every request (more with
/// [`require`](Self::require)), and per tool, prompt, resource or JSON-RPC method what a call
/// of it needs on top. A batch must satisfy every call in it.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::layer::{any, Require};
/// use route_guard::mcp::McpPolicy;
///
/// let policy = McpPolicy::new()
///     .tool("read_messages", "messages:read")
///     .tool("send_message", "messages:write")
///     .tool("purge", any(["messages:admin", "admin"]))
///     .tool_requires("audit_log", Require::new().roles("auditor"))
///     .resource("file:///reports/*", "reports:read")
///     .prompt("summarize", "messages:read");
/// assert!(policy.validate().is_ok());
/// assert_eq!(
///     policy.scope_names(),
///     ["messages:read", "messages:write", "messages:admin", "admin", "reports:read"]
/// );
/// ```
///
/// A tool, prompt or resource the policy does not name needs only what every request needs.
/// Declaring one twice requires both.
#[derive(Debug, Clone)]
#[must_use]
pub struct McpPolicy {
    endpoint: Require,
    /// Every declaration, in order: the order of [`scope_names`](Self::scope_names).
    entries: Vec<(Class, String, Require)>,
    tools: HashMap<String, usize>,
    prompts: HashMap<String, usize>,
    resources: HashMap<String, usize>,
    /// Resource patterns ending in `*`, by the prefix before it.
    resource_prefixes: Vec<(String, usize)>,
    methods: HashMap<String, usize>,
    max_body: usize,
    deny_unlisted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Tool,
    Prompt,
    Resource,
    Method,
}

impl Class {
    fn setting(self) -> &'static str {
        match self {
            Class::Tool => "McpPolicy::tool",
            Class::Prompt => "McpPolicy::prompt",
            Class::Resource => "McpPolicy::resource",
            Class::Method => "McpPolicy::method",
        }
    }
}

impl Default for McpPolicy {
    fn default() -> Self {
        McpPolicy::new()
    }
}

impl McpPolicy {
    /// Any valid token for every request; no call needs more until declared. Bodies up to
    /// 1 MiB.
    pub fn new() -> Self {
        McpPolicy {
            endpoint: Require::new(),
            entries: Vec::new(),
            tools: HashMap::new(),
            prompts: HashMap::new(),
            resources: HashMap::new(),
            resource_prefixes: Vec::new(),
            methods: HashMap::new(),
            max_body: DEFAULT_MAX_BODY,
            deny_unlisted: false,
        }
    }

    /// What every request to the endpoint needs (the `GET` stream and `DELETE` included), on
    /// top of a valid token. Its scopes are the ones a 401 names.
    pub fn require(mut self, require: Require) -> Self {
        self.endpoint = self.endpoint.and(require);
        self
    }

    /// `tools/call` of the tool `name` needs these scopes: `"a"`, `["a", "b"]` (all), or
    /// [`any`](crate::layer::any)`(["a", "b"])`.
    pub fn tool(self, name: impl Into<String>, scopes: impl Into<Names>) -> Self {
        self.tool_requires(name, Require::new().scopes(scopes))
    }

    /// `tools/call` of the tool `name` needs `require` (permissions, roles, claims, step-up).
    pub fn tool_requires(self, name: impl Into<String>, require: Require) -> Self {
        self.declare(Class::Tool, name.into(), require)
    }

    /// `prompts/get` of the prompt `name` (and completions of its arguments) needs these scopes.
    pub fn prompt(self, name: impl Into<String>, scopes: impl Into<Names>) -> Self {
        self.prompt_requires(name, Require::new().scopes(scopes))
    }

    /// `prompts/get` of the prompt `name` (and completions of its arguments) needs `require`.
    pub fn prompt_requires(self, name: impl Into<String>, require: Require) -> Self {
        self.declare(Class::Prompt, name.into(), require)
    }

    /// `resources/read`, `subscribe` and `unsubscribe` of the resource `uri` (and completions
    /// of its template) need these scopes. A `uri` ending in `*` matches every URI that starts
    /// with what comes before it: `"file:///reports/*"`.
    pub fn resource(self, uri: impl Into<String>, scopes: impl Into<Names>) -> Self {
        self.resource_requires(uri, Require::new().scopes(scopes))
    }

    /// The resource `uri` (or `prefix*`) needs `require`.
    pub fn resource_requires(self, uri: impl Into<String>, require: Require) -> Self {
        self.declare(Class::Resource, uri.into(), require)
    }

    /// Every call of the JSON-RPC `method` (e.g. `"tools/list"`, `"logging/setLevel"`) needs
    /// these scopes, whatever it names.
    pub fn method(self, method: impl Into<String>, scopes: impl Into<Names>) -> Self {
        self.method_requires(method, Require::new().scopes(scopes))
    }

    /// Every call of the JSON-RPC `method` needs `require`.
    pub fn method_requires(self, method: impl Into<String>, require: Require) -> Self {
        self.declare(Class::Method, method.into(), require)
    }

    /// The largest request body read (default 1 MiB): a larger one is answered 413 before the
    /// MCP server sees it.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Default-deny: a call to a tool, prompt or resource the policy does not name is refused
    /// (403 `access_denied`), and so is a JSON-RPC method outside MCP's own list that no
    /// [`method`](Self::method) declares. A tool added to the server later is then closed until
    /// the policy names it, instead of open to any valid token. A method declaration covers
    /// every call of that method, whatever it names.
    ///
    /// The methods that name nothing (`initialize`, `ping`, the lists, `logging/setLevel`,
    /// `tasks/*`, notifications, responses) stay open to any valid token, as without it.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::layer::Require;
    /// use route_guard::mcp::McpPolicy;
    ///
    /// let policy = McpPolicy::new()
    ///     .deny_unlisted()
    ///     .tool("read_messages", "messages:read")
    ///     // Open to any valid token, on purpose: named with an empty requirement.
    ///     .tool_requires("server_time", Require::new());
    /// assert!(policy.validate().is_ok());
    /// ```
    pub fn deny_unlisted(mut self) -> Self {
        self.deny_unlisted = true;
        self
    }

    /// The body bound.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    fn declare(mut self, class: Class, name: String, require: Require) -> Self {
        let (index, key) = match class {
            Class::Tool => (&mut self.tools, name.as_str()),
            Class::Prompt => (&mut self.prompts, name.as_str()),
            Class::Method => (&mut self.methods, name.as_str()),
            Class::Resource => match name.strip_suffix('*') {
                Some(prefix) => {
                    let found = self.resource_prefixes.iter().find(|(p, _)| p == prefix);
                    if let Some(&(_, at)) = found {
                        self.entries[at].2 = self.entries[at].2.clone().and(require);
                    } else {
                        let prefix = prefix.to_owned();
                        self.resource_prefixes.push((prefix, self.entries.len()));
                        self.entries.push((class, name, require));
                    }
                    return self;
                }
                None => (&mut self.resources, name.as_str()),
            },
        };
        match index.get(key) {
            Some(&at) => self.entries[at].2 = self.entries[at].2.clone().and(require),
            None => {
                index.insert(name.clone(), self.entries.len());
                self.entries.push((class, name, require));
            }
        }
        self
    }

    /// `Ok` when everything declared can ever be granted: no empty name, and every
    /// requirement's own [`validate`](Require::validate); a body bound of at least one byte.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.endpoint.validate()?;
        for (class, name, require) in &self.entries {
            if name.trim().is_empty() {
                return Err(ConfigError::InvalidSetting {
                    setting: class.setting(),
                    reason: "the name must not be empty".to_owned(),
                });
            }
            require.validate()?;
        }
        if self.max_body == 0 {
            return Err(ConfigError::InvalidSetting {
                setting: "McpPolicy::max_body_bytes",
                reason: "a JSON-RPC body needs at least one byte".to_owned(),
            });
        }
        Ok(())
    }

    /// Every scope the policy names (the endpoint's, then each declaration's in order), without
    /// repeats: what joins RFC 9728's `scopes_supported`.
    pub fn scope_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        let all = std::iter::once(&self.endpoint).chain(self.entries.iter().map(|e| &e.2));
        for name in all.flat_map(Require::scope_names) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// What every request needs.
    pub(crate) fn endpoint(&self) -> &Require {
        &self.endpoint
    }

    /// Adds the declared scopes to `scopes_supported`.
    pub(crate) fn register_scopes(&self) {
        super::registry::register(self.scope_names());
    }

    /// The requirements `calls` add to the endpoint's, in order; under
    /// [`deny_unlisted`](Self::deny_unlisted), the first call the policy does not name.
    pub(crate) fn requirements<'a>(
        &'a self,
        calls: &'a [Call],
    ) -> Result<Vec<&'a Require>, Unlisted<'a>> {
        let mut found: Vec<usize> = Vec::new();
        let mut add = |at: usize| {
            if !found.contains(&at) {
                found.push(at);
            }
        };
        for call in calls {
            let by_method = self.methods.get(&call.method).copied();
            if let Some(at) = by_method {
                add(at);
            }
            if self.deny_unlisted
                && by_method.is_none()
                && call.targets.is_empty()
                && !is_open_method(&call.method)
            {
                return Err(Unlisted::Method(&call.method));
            }
            for target in &call.targets {
                let mut named = false;
                for at in self.entries_for(target) {
                    named = true;
                    add(at);
                }
                if !named && self.deny_unlisted && by_method.is_none() {
                    return Err(Unlisted::Target(target));
                }
            }
        }
        Ok(found.into_iter().map(|at| &self.entries[at].2).collect())
    }

    /// The declarations that name `target`: its exact entry, then (for a resource) every prefix
    /// it starts with.
    fn entries_for<'a>(&'a self, target: &'a Target) -> impl Iterator<Item = usize> + 'a {
        let (exact, uri) = match target {
            Target::Tool(name) => (self.tools.get(name), None),
            Target::Prompt(name) => (self.prompts.get(name), None),
            Target::Resource(uri) => (self.resources.get(uri), Some(uri.as_str())),
        };
        let prefixed = self
            .resource_prefixes
            .iter()
            .filter(move |(prefix, _)| uri.is_some_and(|uri| uri.starts_with(prefix.as_str())))
            .map(|(_, at)| *at);
        exact.copied().into_iter().chain(prefixed)
    }

    /// The scopes a 403 for `needed` asks the client to request: those `needed` names, and
    /// those the token already holds that this policy names, so an upgraded token keeps what
    /// the client had (the MCP specification's scope challenge). In declaration order.
    pub(crate) fn challenge_scopes<'a>(
        &'a self,
        needed: &[&'a Require],
        claims: Option<&StandardClaims>,
    ) -> Vec<&'a str> {
        let needed: Vec<&str> = std::iter::once(&self.endpoint)
            .chain(needed.iter().copied())
            .flat_map(Require::scope_names)
            .collect();
        if needed.is_empty() {
            return needed;
        }
        self.scope_names()
            .into_iter()
            .filter(|scope| {
                needed.contains(scope) || claims.is_some_and(|claims| claims.has_scope(scope))
            })
            .collect()
    }

    /// Checks the endpoint's requirement and `needed`, naming everything missing at once.
    pub(crate) fn check(
        &self,
        needed: &[&Require],
        claims: Option<&StandardClaims>,
        token: &VerifiedToken,
    ) -> Result<(), Insufficient> {
        Require::check_all(
            std::iter::once(&self.endpoint).chain(needed.iter().copied()),
            claims,
            token,
        )
    }

    /// Whether checking `needed` reads [`StandardClaims`].
    pub(crate) fn reads_claims(&self, needed: &[&Require]) -> bool {
        self.endpoint.reads_claims() || needed.iter().any(|r| r.reads_claims())
    }
}

/// A call [`McpPolicy::deny_unlisted`] refuses: what it names that the policy does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unlisted<'a> {
    /// A tool, prompt or resource no declaration names.
    Target(&'a Target),
    /// A method outside MCP's own list that no declaration names.
    Method(&'a str),
}

impl std::fmt::Display for Unlisted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unlisted::Target(Target::Tool(name)) => write!(f, "the tool {name}"),
            Unlisted::Target(Target::Prompt(name)) => write!(f, "the prompt {name}"),
            Unlisted::Target(Target::Resource(uri)) => write!(f, "the resource {uri}"),
            Unlisted::Method(method) => write!(f, "the method {method}"),
        }
    }
}

/// MCP's own methods that name nothing a policy could match but the method: open to any valid
/// token under [`McpPolicy::deny_unlisted`] (a method that names a target is judged by it).
fn is_open_method(method: &str) -> bool {
    const OPEN: [&str; 9] = [
        "initialize",
        "ping",
        "server/discover",
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "skills/list",
        "logging/setLevel",
    ];
    OPEN.contains(&method)
        || NAMING_METHODS.contains(&method)
        || method.starts_with("notifications/")
        || method.starts_with("tasks/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::any;

    fn tool(name: &str) -> Call {
        Call {
            method: "tools/call".into(),
            targets: vec![Target::Tool(name.into())],
        }
    }

    #[test]
    fn calls_find_their_requirements_once_each() {
        let policy = McpPolicy::new()
            .tool("read", "messages:read")
            .tool("send", "messages:write")
            .method("tools/call", "mcp:tools")
            .resource("file:///docs/*", "docs:read")
            .resource("file:///docs/secret", "secret:read");
        let scopes = |calls: &[Call]| -> Vec<Vec<String>> {
            policy
                .requirements(calls)
                .expect("no default-deny") // infallible: this policy is not default-deny
                .iter()
                .map(|r| r.scope_names().into_iter().map(str::to_owned).collect())
                .collect()
        };
        assert_eq!(
            scopes(&[tool("read"), tool("send"), tool("read")]),
            [
                vec!["mcp:tools"],
                vec!["messages:read"],
                vec!["messages:write"]
            ]
        );
        assert_eq!(scopes(&[tool("unknown")]), [vec!["mcp:tools"]]);
        let read = |uri: &str| Call {
            method: "resources/read".into(),
            targets: vec![Target::Resource(uri.into())],
        };
        assert_eq!(
            scopes(&[read("file:///docs/secret")]),
            [vec!["secret:read"], vec!["docs:read"]]
        );
        assert_eq!(scopes(&[read("file:///docs/a")]), [vec!["docs:read"]]);
        assert!(scopes(&[read("file:///doc")]).is_empty());
    }

    #[test]
    fn declaring_twice_requires_both() {
        let policy = McpPolicy::new()
            .tool("send", "messages:write")
            .tool("send", any(["a", "b"]));
        let calls = [tool("send")];
        let needed = policy.requirements(&calls).expect("allowed"); // infallible: `send` is declared
        assert_eq!(needed.len(), 1);
        assert_eq!(needed[0].scope_names(), ["messages:write", "a", "b"]);
    }

    #[test]
    fn default_deny_refuses_what_the_policy_does_not_name() {
        let policy = McpPolicy::new()
            .deny_unlisted()
            .tool("read", "messages:read")
            .resource("file:///docs/*", "docs:read")
            .method("custom/open", "custom:use");
        let method = |name: &str| Call {
            method: name.into(),
            targets: Vec::new(),
        };
        let resource = |uri: &str| Target::Resource(uri.into());
        assert!(policy.requirements(&[tool("read")]).is_ok());
        assert_eq!(
            policy
                .requirements(&[tool("read"), tool("added_later")])
                .err(),
            Some(Unlisted::Target(&Target::Tool("added_later".into())))
        );
        let listen = Call {
            method: "subscriptions/listen".into(),
            targets: vec![resource("file:///docs/a"), resource("file:///etc/passwd")],
        };
        assert_eq!(
            policy.requirements(std::slice::from_ref(&listen)).err(),
            Some(Unlisted::Target(&resource("file:///etc/passwd")))
        );
        for open in [
            "initialize",
            "tools/list",
            "notifications/initialized",
            "tasks/get",
        ] {
            assert!(policy.requirements(&[method(open)]).is_ok(), "{open}");
        }
        assert!(policy.requirements(&[method("custom/open")]).is_ok());
        assert_eq!(
            policy.requirements(&[method("custom/other")]).err(),
            Some(Unlisted::Method("custom/other"))
        );
        assert_eq!(
            Unlisted::Target(&Target::Prompt("p".into())).to_string(),
            "the prompt p"
        );
        // Without it, the same calls need only what every request needs.
        let open = McpPolicy::new().tool("read", "messages:read");
        assert_eq!(
            open.requirements(&[tool("added_later")]).map(|r| r.len()),
            Ok(0)
        );
        let custom = [method("custom/other")];
        assert_eq!(open.requirements(&custom).map(|r| r.len()), Ok(0));
    }

    #[test]
    fn what_can_never_be_granted_is_a_typed_error() {
        let empty = McpPolicy::new().tool(" ", "a").validate();
        assert!(
            matches!(
                empty,
                Err(ConfigError::InvalidSetting {
                    setting: "McpPolicy::tool",
                    ..
                })
            ),
            "{empty:?}"
        );
        assert!(McpPolicy::new().tool("a", "two words").validate().is_err());
        assert!(McpPolicy::new().max_body_bytes(0).validate().is_err());
        assert!(McpPolicy::new()
            .require(Require::new().scopes(Vec::<String>::new()))
            .validate()
            .is_err());
    }
}
