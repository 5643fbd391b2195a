//! Who the hub is: its URL as a request names it, its resource identifier
//! (the `aud` of 1.0 tokens), and the OAuth 2.0 protected resource
//! metadata document (RFC 9728; draft-08 "Protected Resource Metadata")
//! at [`PATH`].

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::config::Config;
use crate::edge::AppState;

/// Where the metadata of the hub at `/.well-known/mercure` is served.
pub const PATH: &str = "/.well-known/oauth-protected-resource/.well-known/mercure";

/// The Mercure protocol revision of the 1.0 dialect (`mercure_version`).
pub const VERSION: u32 = 8;

/// The origin a request names: `X-Forwarded-Proto` (`http` or `https`,
/// set by a proxy in front), else `http`; and the `Host` header.
pub fn origin(headers: &HeaderMap) -> String {
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic() && b != b'/'))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// The hub's URL as the request names it.
pub fn hub_url(headers: &HeaderMap) -> String {
    format!("{}{}", origin(headers), super::PATH)
}

/// The identifiers a 1.0 token's `aud` may name: `push.mercure_audience`,
/// else the hub's URL as the request names it, with `https` or `http`
/// (a proxy that ends TLS may not say so).
pub fn audiences(config: &Config, headers: &HeaderMap) -> Vec<String> {
    if !config.mercure_audience.is_empty() {
        return vec![config.mercure_audience.clone()];
    }
    let url = hub_url(headers);
    let other = match url.strip_prefix("https://") {
        Some(rest) => format!("http://{rest}"),
        None => format!("https://{}", url.trim_start_matches("http://")),
    };
    vec![url, other]
}

/// The URL of the metadata document, for `WWW-Authenticate`'s
/// `resource_metadata`.
pub fn document_url(headers: &HeaderMap) -> String {
    format!("{}{PATH}", origin(headers))
}

/// `GET /.well-known/oauth-protected-resource/.well-known/mercure`.
pub async fn document(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let config = state.hub.config();
    let resource = match config.mercure_audience.is_empty() {
        true => hub_url(&headers),
        false => config.mercure_audience.clone(),
    };
    let mut doc = serde_json::json!({
        "resource": resource,
        "bearer_methods_supported": ["header", "query"],
        "mercure_cookie": true,
        "mercure_version": VERSION,
    });
    if !config.mercure_issuer.is_empty() {
        doc["authorization_servers"] = serde_json::json!([config.mercure_issuer]);
    }
    let mut response = Json(doc).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_hub_is_named_by_the_request() {
        let h = headers(&[("host", "push.example:8080")]);
        assert_eq!(hub_url(&h), "http://push.example:8080/.well-known/mercure");
        let h = headers(&[("host", "push.example"), ("x-forwarded-proto", "https")]);
        assert_eq!(hub_url(&h), "https://push.example/.well-known/mercure");
        assert_eq!(
            document_url(&h),
            "https://push.example/.well-known/oauth-protected-resource/.well-known/mercure"
        );
        let mut c = Config::default();
        assert_eq!(
            audiences(&c, &h),
            [
                "https://push.example/.well-known/mercure",
                "http://push.example/.well-known/mercure"
            ]
        );
        c.set("mercure_audience", "urn:hub").unwrap();
        assert_eq!(audiences(&c, &h), ["urn:hub"]);
        // A Host that is not one names no other path.
        let h = headers(&[("host", "a/b")]);
        assert_eq!(origin(&h), "http://localhost");
        assert_eq!(origin(&HeaderMap::new()), "http://localhost");
    }
}
