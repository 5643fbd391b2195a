//! The one HTTP error type: every refusal maps to a status and a JSON body
//! `{"error": "..."}`; internal details are logged, not sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::auth::Refusal;
use crate::error::Error;

#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized,
    /// A subscription token is missing or does not verify: 401, saying why.
    Token(String),
    Forbidden(String),
    NotFound,
    TooLarge(usize),
    /// 408: the request did not arrive in time.
    Timeout(String),
    /// 429: a per-address limit.
    TooMany(String),
    UpgradeRequired(&'static str),
    Unavailable(String),
    Internal(String),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidChannel(_)
            | Error::InvalidId(_)
            | Error::InvalidEvent(_)
            | Error::InvalidUpdate(_) => ApiError::BadRequest(e.to_string()),
            Error::ReservedChannel(_) => ApiError::Forbidden(e.to_string()),
            Error::MessageTooLarge { max, .. } => ApiError::TooLarge(max),
            Error::TooManyChannels(_) | Error::ShuttingDown | Error::Broker(_) => {
                ApiError::Unavailable(e.to_string())
            }
            e => ApiError::Internal(e.to_string()),
        }
    }
}

/// A refusal of [`crate::auth`] as the answer the client gets.
impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        match r {
            Refusal::NoSecret(c) => ApiError::Forbidden(format!(
                "channel {c:?} is private and push.secret is not set: private channels cannot be used"
            )),
            Refusal::Missing(c) => ApiError::Token(format!(
                "channel {c:?} is private: a token is required (?token=, the push.auth_cookie cookie, or Authorization: Bearer)"
            )),
            Refusal::Invalid(e) => ApiError::Token(e.to_string()),
            Refusal::CookieOrigin(o) => ApiError::Forbidden(format!(
                "the token cookie is not accepted from origin {o:?}: list it in push.allowed_origins, or pass ?token="
            )),
            Refusal::NotGranted(c) => {
                ApiError::Forbidden(format!("the token does not grant channel {c:?}"))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "a valid Authorization: Bearer token is required".into(),
            ),
            ApiError::Token(m) => (StatusCode::UNAUTHORIZED, m),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "no such endpoint".into()),
            ApiError::TooLarge(max) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("message larger than push.max_message_size ({max} bytes)"),
            ),
            ApiError::Timeout(m) => (StatusCode::REQUEST_TIMEOUT, m),
            ApiError::TooMany(m) => (StatusCode::TOO_MANY_REQUESTS, m),
            ApiError::UpgradeRequired(m) => (StatusCode::UPGRADE_REQUIRED, m.into()),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            ApiError::Internal(m) => {
                eprintln!("push: internal error: {m}");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
            }
        };
        let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
        match status {
            StatusCode::UNAUTHORIZED => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::UPGRADE_REQUIRED => {
                let h = response.headers_mut();
                h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                h.insert(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
            }
            _ => {}
        }
        response
    }
}

/// Whether `response` is an error answer not in JSON (one of axum's own).
pub fn wants_json(response: &Response) -> bool {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    !is_json && (status.is_client_error() || status.is_server_error())
}

/// Gives the answers axum makes itself — an extractor's rejection (a path
/// that is not UTF-8 once decoded: plain text) and 405 (no body) — the
/// JSON shape of every other error, keeping their status and headers.
pub async fn json_errors(response: Response) -> Response {
    if !wants_json(&response) {
        return response;
    }
    let status = response.status();
    let (mut parts, body) = response.into_parts();
    // axum's own messages are short; a longer one is cut, not awaited.
    let text = axum::body::to_bytes(body, 1024).await.unwrap_or_default();
    let message = match std::str::from_utf8(&text).map(str::trim) {
        Ok(t) if !t.is_empty() => t.to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
    };
    let mut json = Json(serde_json::json!({ "error": message })).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    *json.headers_mut() = parts.headers;
    *json.status_mut() = status;
    json
}
