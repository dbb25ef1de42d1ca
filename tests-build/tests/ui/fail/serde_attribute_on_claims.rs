// The derive writes `Deserialize`: `#[serde(..)]` on a field would be silently ignored, so it is refused.
use route_guard::TokenClaims;

#[derive(TokenClaims)]
struct Claims {
    #[serde(rename = "https://myapp.com/org")]
    org: String,
}

fn main() {}
