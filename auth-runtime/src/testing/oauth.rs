//! The [`TestIssuer`](super::TestIssuer) as an OAuth 2.0 authorization server, so a real client
//! can run the whole flow offline: RFC 8414 metadata and a token endpoint for the
//! `client_credentials` grant (client_secret_basic and client_secret_post; `audience` as Auth0
//! takes it, `resource` as RFC 8707 does; DPoP-bound tokens for a request with a valid proof,
//! RFC 9449 §5), with RFC 6749 §5.2 errors.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::issuer::{Shared, TestIssuer};
use super::keys::compact_jws;
use super::{lock, unix_now, TEST_AUDIENCE, TEST_ROLES_CLAIM};
use crate::config::Algorithm;

/// The token endpoint's path.
pub(super) const TOKEN_PATH: &str = "/oauth/token";

/// The authorization endpoint's path: no interactive login, only its RFC 6749 §4.1.2.1 error.
pub(super) const AUTHORIZE_PATH: &str = "/authorize";

/// The authorization endpoint: the development issuer has no users, so no code flow.
pub(super) async fn authorize() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "unsupported_response_type",
        "the development issuer issues tokens with client credentials only",
    )
}

/// A client registered with the development issuer: what `client_credentials` tokens it may get.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::testing::TestClient;
///
/// let client = TestClient::new("reports-job", "s3cret")
///     .scopes(["read:reports"])
///     .permissions(["read:reports"]);
/// assert_eq!(client.id(), "reports-job");
/// ```
#[derive(Clone)]
pub struct TestClient {
    id: String,
    secret: String,
    scopes: Vec<String>,
    permissions: Vec<String>,
    roles: Vec<String>,
    audiences: Vec<String>,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient")
            .field("id", &self.id)
            .field("secret", &"..")
            .field("scopes", &self.scopes)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

impl TestClient {
    /// A client with this id and secret, allowed no scope yet.
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Self {
        TestClient {
            id: id.into(),
            secret: secret.into(),
            scopes: Vec::new(),
            permissions: Vec::new(),
            roles: Vec::new(),
            audiences: vec![TEST_AUDIENCE.to_owned()],
        }
    }

    /// The APIs (audiences) the client may get tokens for, as Auth0 grants a client per API:
    /// an `audience` or `resource` outside them is refused with `invalid_target` (RFC 8707).
    /// Default: [`TEST_AUDIENCE`], also what a request naming none gets.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::testing::TestClient;
    ///
    /// let agent = TestClient::new("mcp-agent", "s3cret")
    ///     .scopes(["messages:read"])
    ///     .audiences(["http://127.0.0.1:3002/mcp"]);
    /// # let _ = agent;
    /// ```
    pub fn audiences<I: IntoIterator<Item = S>, S: Into<String>>(mut self, audiences: I) -> Self {
        self.audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// The scopes the client may request (and gets when it asks for none).
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Auth0 RBAC permissions its tokens carry.
    pub fn permissions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, values: I) -> Self {
        self.permissions = values.into_iter().map(Into::into).collect();
        self
    }

    /// Roles its tokens carry (under [`TEST_ROLES_CLAIM`]).
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, values: I) -> Self {
        self.roles = values.into_iter().map(Into::into).collect();
        self
    }

    /// The client id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The client secret.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl TestIssuer {
    /// Registers a client of the token endpoint (`POST /oauth/token`, `client_credentials`),
    /// which also makes the issuer an OAuth 2.0 authorization server with RFC 8414 metadata.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::testing::{TestClient, TestIssuer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let issuer = TestIssuer::start().await?;
    /// issuer.register_client(TestClient::new("job", "s3cret").scopes(["read:reports"]));
    /// let body = reqwest::Client::new()
    ///     .post(issuer.token_endpoint())
    ///     .basic_auth("job", Some("s3cret"))
    ///     .header("content-type", "application/x-www-form-urlencoded")
    ///     .body("grant_type=client_credentials")
    ///     .send()
    ///     .await?
    ///     .text()
    ///     .await?;
    /// let answer: serde_json::Value = serde_json::from_str(&body)?;
    /// let token = answer["access_token"].as_str().ok_or("no access_token")?;
    /// let verified = issuer.authenticator()?.verify(token).await?;
    /// assert_eq!(verified.standard_claims()?.scope.as_deref(), Some("read:reports"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn register_client(&self, client: TestClient) {
        let mut clients = lock(&self.shared.clients);
        clients.retain(|c| c.id() != client.id());
        clients.push(client);
    }

    /// The token endpoint's URL.
    pub fn token_endpoint(&self) -> String {
        format!("{}{}", self.issuer().trim_end_matches('/'), TOKEN_PATH)
    }
}

/// RFC 8414 authorization server metadata.
pub(super) async fn metadata(State(shared): State<Arc<Shared>>) -> Response {
    let issuer = shared.issuer.trim_end_matches('/');
    let scopes: Vec<String> = {
        let clients = lock(&shared.clients);
        let mut scopes: Vec<String> = clients.iter().flat_map(|c| c.scopes.clone()).collect();
        scopes.sort_unstable();
        scopes.dedup();
        scopes
    };
    axum::Json(json!({
        "issuer": shared.issuer,
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        // RFC 8414 requires it; clients parse it even for client credentials. It answers every
        // request with `unsupported_response_type`: there is no user to log in here.
        "authorization_endpoint": format!("{issuer}{AUTHORIZE_PATH}"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": [],
        "scopes_supported": scopes,
        "dpop_signing_alg_values_supported": ["ES256"],
    }))
    .into_response()
}

/// RFC 6749 §5.2.
fn error(status: StatusCode, code: &str, description: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({ "error": code, "error_description": description })),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"token\""),
        );
    }
    response
}

/// The `client_credentials` token endpoint.
pub(super) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    // A repeated field is an error (RFC 6749 §3.2): its name.
    let form_text = |name: &str| -> Result<Option<String>, String> {
        let mut values = form.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        match (values.next(), values.next()) {
            (Some(v), None) => Ok(Some(v.clone())),
            (None, _) => Ok(None),
            (Some(_), Some(_)) => Err(name.to_owned()),
        }
    };
    let repeated = |name: String| {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("`{name}` is repeated"),
        )
    };
    let grant = match form_text("grant_type") {
        Ok(Some(grant)) => grant,
        Ok(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "`grant_type` is missing",
            )
        }
        Err(name) => return repeated(name),
    };
    // The client first: an unknown client learns nothing else (RFC 6749 §5.2).
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(str::trim);
    let posted = match (form_text("client_id"), form_text("client_secret")) {
        (Ok(id), Ok(secret)) => id.zip(secret),
        (Err(name), _) | (_, Err(name)) => return repeated(name),
    };
    let credentials = match (basic, posted) {
        (Some(_), Some(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one client authentication method, not both",
            )
        }
        (Some(basic), None) => decode_basic(basic),
        (None, Some(posted)) => Some(posted),
        (None, None) => None,
    };
    let client = credentials.and_then(|(id, secret)| {
        let found = lock(&shared.clients).iter().find(|c| c.id == id).cloned()?;
        same_secret(&found.secret, &secret).then_some(found)
    });
    let Some(client) = client else {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    };
    if grant != "client_credentials" {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "this server issues tokens for `client_credentials` only",
        );
    }
    let scopes: Vec<String> = match form_text("scope") {
        Ok(Some(requested)) => {
            let requested: Vec<String> = requested
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if let Some(refused) = requested.iter().find(|s| !client.scopes.contains(s)) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!("the client may not have the scope {refused}"),
                );
            }
            requested
        }
        Ok(None) => client.scopes.clone(),
        Err(name) => return repeated(name),
    };
    let audience = match (form_text("audience"), form_text("resource")) {
        (Ok(audience), Ok(resource)) => audience.or(resource),
        (Err(name), _) | (_, Err(name)) => return repeated(name),
    };
    // Only the APIs this client is granted (Auth0's client grants; RFC 8707 §2).
    let audience = match audience {
        None => client
            .audiences
            .first()
            .cloned()
            .unwrap_or_else(|| TEST_AUDIENCE.to_owned()),
        Some(asked) if client.audiences.contains(&asked) => asked,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_target",
                "the client may not get tokens for this audience (resource)",
            )
        }
    };
    // RFC 9449 §5: a valid proof of possession binds the token to its key.
    let token_url = format!("{}{TOKEN_PATH}", shared.issuer.trim_end_matches('/'));
    let jkt = match headers.get("dpop") {
        None => None,
        Some(proof) => match proof
            .to_str()
            .ok()
            .and_then(|p| proof_thumbprint(p, &token_url))
        {
            Some((jkt, jti)) if first_use(&shared, &jti) => Some(jkt),
            Some(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_dpop_proof",
                    "the DPoP proof was used before: make a new one for each request",
                )
            }
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_dpop_proof",
                    "the DPoP proof is not valid for POST of the token endpoint",
                )
            }
        },
    };
    let now = unix_now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(shared.issuer));
    claims.insert("sub".into(), json!(format!("{}@clients", client.id)));
    claims.insert("aud".into(), json!(audience));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + 3600));
    claims.insert("azp".into(), json!(client.id));
    claims.insert("gty".into(), json!("client-credentials"));
    if !scopes.is_empty() {
        claims.insert("scope".into(), json!(scopes.join(" ")));
    }
    if !client.permissions.is_empty() {
        claims.insert("permissions".into(), json!(client.permissions));
    }
    if !client.roles.is_empty() {
        claims.insert(TEST_ROLES_CLAIM.into(), json!(client.roles));
    }
    if let Some(jkt) = &jkt {
        claims.insert("cnf".into(), json!({ "jkt": jkt }));
    }
    let Some(access_token) = signed(&shared, claims) else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the development issuer has no signing key",
        );
    };
    let mut response = axum::Json(json!({
        "access_token": access_token,
        "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": 3600,
        "scope": scopes.join(" "),
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `id:secret` of a Basic header, each form-urlencoded (RFC 6749 §2.3.1).
fn decode_basic(value: &str) -> Option<(String, String)> {
    let decoded = String::from_utf8(STANDARD.decode(value).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |text: &str| {
        url::form_urlencoded::parse(format!("v={text}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// Whether the client's secret is `given`, compared in constant time (over digests, so not
/// even the secret's length shows in the time taken).
fn same_secret(secret: &str, given: &str) -> bool {
    use aws_lc_rs::digest::{digest, SHA256};
    aws_lc_rs::constant_time::verify_slices_are_equal(
        digest(&SHA256, secret.as_bytes()).as_ref(),
        digest(&SHA256, given.as_bytes()).as_ref(),
    )
    .is_ok()
}

/// How long a proof's `jti` is remembered: the freshness window on both sides of now.
const PROOF_WINDOW_SECS: i64 = 600;
/// The most proof `jti`s remembered; past it the oldest go first.
const MAX_PROOFS: usize = 100_000;

/// Whether this is the first use of the proof `jti` within the freshness window (RFC 9449 §11.1:
/// a proof is for one request).
fn first_use(shared: &Shared, jti: &str) -> bool {
    let now = unix_now();
    let mut seen = lock(&shared.proof_jtis);
    let (order, known) = &mut *seen;
    while let Some((at, oldest)) = order.front() {
        if now.saturating_sub(*at) <= PROOF_WINDOW_SECS && known.len() < MAX_PROOFS {
            break;
        }
        known.remove(oldest);
        order.pop_front();
    }
    if !known.insert(jti.to_owned()) {
        return false;
    }
    order.push_back((now, jti.to_owned()));
    true
}

/// The thumbprint of the key of a valid proof for `POST url` (signature, `typ`, `htm`, `htu`,
/// a fresh `iat`), and its `jti`.
fn proof_thumbprint(proof: &str, url: &str) -> Option<(String, String)> {
    let mut parts = proof.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
    let header_json: Map<String, Value> = serde_json::from_slice(&decode(header)?).ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&decode(payload)?).ok()?;
    if header_json.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return None;
    }
    let alg: Algorithm = header_json.get("alg")?.as_str()?.parse().ok()?;
    let jwk = header_json.get("jwk")?.as_object()?.clone();
    let jkt = crate::dpop::thumbprint(&jwk)?;
    let key = crate::jwks::parse_key(Value::Object(jwk), &[alg]).ok()?;
    let signed = &proof.as_bytes()[..header.len() + 1 + payload.len()];
    key.for_alg(alg)?
        .verify_sig(signed, &decode(signature)?)
        .ok()?;
    let iat = claims.get("iat")?.as_f64()?;
    let fresh = (iat - unix_now() as f64).abs() <= 300.0;
    let right = claims.get("htm")?.as_str()? == "POST" && claims.get("htu")?.as_str()? == url;
    let jti = claims.get("jti")?.as_str()?.to_owned();
    (fresh && right && !jti.is_empty()).then_some((jkt, jti))
}

/// An access token signed with the issuer's current signing key.
fn signed(shared: &Shared, claims: Map<String, Value>) -> Option<String> {
    let signing = lock(&shared.signing_kid).clone();
    let (pair, alg) = shared.key_pair(&signing)?;
    let header = json!({ "alg": alg.as_str(), "kid": signing, "typ": "at+jwt" });
    Some(compact_jws(
        &header.to_string(),
        &Value::Object(claims).to_string(),
        Some((&pair, alg)),
    ))
}
