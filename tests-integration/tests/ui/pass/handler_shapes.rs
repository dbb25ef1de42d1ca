// The handler keeps its generics, where clause, other attributes, `impl IntoResponse` and
// `Result` returns with `?`, and extractors that consume the body after the guard.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use route_guard::{require_auth, require_permissions, require_scopes, Claims};

#[derive(Clone)]
struct AppState {
    prefix: String,
}

/// Docs survive.
#[require_scopes("read:messages")]
#[tracing::instrument(skip_all)]
pub(crate) async fn generic<S>(State(state): State<S>) -> impl IntoResponse
where
    S: Clone + Send + Sync + AsRef<str> + 'static,
{
    state.as_ref().to_owned()
}

impl AsRef<str> for AppState {
    fn as_ref(&self) -> &str {
        &self.prefix
    }
}

#[require_permissions("write:messages")]
async fn create(
    State(state): State<AppState>,
    Path(id): Path<u32>,
    claims: Claims,
    Json(body): Json<serde_json::Value>,
) -> Result<(StatusCode, Json<serde_json::Value>), StatusCode> {
    let n: u32 = body["n"].as_u64().ok_or(StatusCode::BAD_REQUEST)?.try_into().map_err(|_| StatusCode::BAD_REQUEST)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": id + n, "by": claims.sub, "prefix": state.prefix })),
    ))
}

#[require_auth]
#[axum::debug_handler(state = AppState)]
async fn debugged(State(state): State<AppState>, body: String) -> String {
    format!("{}{body}", state.prefix)
}

#[require_auth]
#[allow(clippy::too_many_arguments)]
async fn fifteen(
    _a: axum::http::Method,
    _b: axum::http::Uri,
    _c: axum::http::HeaderMap,
    _d: axum::http::Version,
    _e: axum::http::Method,
    _f: axum::http::Uri,
    _g: axum::http::HeaderMap,
    _h: axum::http::Version,
    _i: axum::http::Method,
    _j: axum::http::Uri,
    _k: axum::http::HeaderMap,
    _l: axum::http::Version,
    _m: axum::http::Method,
    _n: axum::http::Uri,
    _o: String,
) {
}

pub fn main() {
    let _: Router = Router::new()
        .route("/generic", get(generic::<AppState>))
        .route("/create/{id}", post(create))
        .route("/debugged", post(debugged))
        .route("/fifteen", post(fifteen))
        .with_state(AppState {
            prefix: String::new(),
        });
}
