//! The one HTTP error type: every refusal maps to a status and a JSON body
//! `{"error": "..."}`; internal details are logged, not sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

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
            Error::InvalidChannel(_) | Error::InvalidId(_) | Error::InvalidEvent(_) => {
                ApiError::BadRequest(e.to_string())
            }
            Error::MessageTooLarge { max, .. } => ApiError::TooLarge(max),
            Error::TooManyChannels(_) | Error::ShuttingDown | Error::Broker(_) => {
                ApiError::Unavailable(e.to_string())
            }
            e => ApiError::Internal(e.to_string()),
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
