//! Who may publish and subscribe: Mercure's JWTs (HS256, the classic
//! dialect), verified with push's own codec ([`crate::auth::token`]).
//!
//! The token comes from `Authorization: Bearer`, else (subscribers only)
//! the `authorization` query parameter, else the `mercureAuthorization`
//! cookie — from a browser only when its `Origin` is the hub's own or one
//! `push.allowed_origins` names ([`crate::auth::cookie_origin_allowed`]).
//! Publishers' tokens are signed with `push.mercure_publisher_key`,
//! subscribers' with `push.mercure_subscriber_key` (both default to
//! `push.secret`). Claims: `mercure.publish` and `mercure.subscribe`
//! (arrays of topic selectors, see [`super::topic`]), `mercure.payload`
//! (accepted, not used yet), `exp` and `nbf` (optional, checked with
//! `push.token_leeway`); `aud`, `iss` and the rest are ignored.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::IgnoredAny;
use serde::Deserialize;
use tokio::time::Instant;

use super::topic::Selector;
use crate::auth::{self, token, TokenError};
use crate::config::Config;
use crate::edge::error::ApiError;

/// The cookie a browser may carry its token in.
pub const COOKIE: &str = "mercureAuthorization";

/// Which side of the hub a request is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Publisher,
    Subscriber,
}

/// What a verified token grants.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    pub publish: Vec<Selector>,
    pub subscribe: Vec<Selector>,
    /// When the token stops being valid (`exp` plus `push.token_leeway`),
    /// if it expires within a year.
    pub expires: Option<Instant>,
}

#[derive(Deserialize)]
struct Payload {
    mercure: Option<Claim>,
    exp: Option<f64>,
    nbf: Option<f64>,
}

#[derive(Deserialize)]
struct Claim {
    #[serde(default)]
    publish: Vec<String>,
    #[serde(default)]
    subscribe: Vec<String>,
    #[allow(dead_code)]
    payload: Option<IgnoredAny>,
}

/// The request's token verified for `role`; `None` if it carries none.
pub fn authorize(
    config: &Config,
    headers: &HeaderMap,
    query: &[(String, String)],
    role: Role,
) -> Result<Option<Grants>, Refused> {
    let from_query = match role {
        Role::Subscriber => query
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.as_str()),
        Role::Publisher => None,
    };
    let raw = match auth::bearer(headers).or(from_query) {
        Some(t) => t,
        None => match auth::cookie(headers, COOKIE) {
            Some(t) => {
                auth::cookie_origin_allowed(config, headers).map_err(|_| {
                    Refused::forbidden(
                        "the mercureAuthorization cookie is not accepted from this origin: \
                         list it in push.allowed_origins",
                    )
                })?;
                t
            }
            None => return Ok(None),
        },
    };
    let (key, setting) = match role {
        Role::Publisher => (config.mercure_publisher_key(), "push.mercure_publisher_key"),
        Role::Subscriber => (
            config.mercure_subscriber_key(),
            "push.mercure_subscriber_key",
        ),
    };
    if key.is_empty() {
        return Err(Refused::unauthorized(&format!(
            "this hub has no key to verify the token: set {setting} or push.secret"
        )));
    }
    let invalid = |e: TokenError| Refused::unauthorized(&e.to_string());
    let payload = token::open(raw, key.expose(), config.max_token_size).map_err(invalid)?;
    let payload: Payload = token::claims(&payload).map_err(invalid)?;
    let now = token::now();
    let leeway = config.token_leeway.as_secs_f64();
    token::check_times(payload.exp, payload.nbf, now, leeway).map_err(invalid)?;
    let claim = payload.mercure.unwrap_or(Claim {
        publish: Vec::new(),
        subscribe: Vec::new(),
        payload: None,
    });
    let expires = payload
        .exp
        .and_then(|exp| Duration::try_from_secs_f64(exp + leeway - now).ok())
        .filter(|d| *d <= Duration::from_secs(365 * 86_400))
        .and_then(|d| Instant::now().checked_add(d));
    Ok(Some(Grants {
        publish: claim.publish.iter().map(|s| Selector::parse(s)).collect(),
        subscribe: claim.subscribe.iter().map(|s| Selector::parse(s)).collect(),
        expires,
    }))
}

/// A refusal of the hub: 401 or 403 with the reason in `WWW-Authenticate`
/// (RFC 6750) and in the JSON body; or any other error answer of the edge.
#[derive(Debug)]
pub enum Refused {
    Auth { status: StatusCode, reason: String },
    Other(ApiError),
}

impl Refused {
    pub fn unauthorized(reason: &str) -> Refused {
        Refused::Auth {
            status: StatusCode::UNAUTHORIZED,
            reason: reason.to_owned(),
        }
    }

    pub fn forbidden(reason: &str) -> Refused {
        Refused::Auth {
            status: StatusCode::FORBIDDEN,
            reason: reason.to_owned(),
        }
    }
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Refused {
        Refused::Other(e)
    }
}

impl From<crate::error::Error> for Refused {
    fn from(e: crate::error::Error) -> Refused {
        Refused::Other(e.into())
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let (status, reason) = match self {
            Refused::Other(e) => return e.into_response(),
            Refused::Auth { status, reason } => (status, reason),
        };
        let error = match status {
            StatusCode::FORBIDDEN => "insufficient_scope",
            _ => "invalid_token",
        };
        // A quoted-string: no quotes, backslashes or control characters.
        let description: String = reason
            .chars()
            .map(|c| match c {
                '"' | '\\' => '\'',
                c if c.is_ascii_graphic() || c == ' ' => c,
                _ => '?',
            })
            .collect();
        let challenge = format!(
            r#"Bearer realm="mercure", error="{error}", error_description="{description}""#
        );
        let mut response = (status, Json(serde_json::json!({ "error": reason }))).into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        response
    }
}
