//! Who may publish and subscribe: Mercure's JWTs (HS256), verified with
//! push's own codec ([`crate::auth::token`]), in either dialect — the
//! token's header says which:
//!
//! - `typ` `JWT` (or none): the classic dialect's claims, `mercure.publish`
//!   and `mercure.subscribe` (arrays of topic selectors, see
//!   [`super::topic`]), `mercure.payload` (shown in the subscription's documents), `exp`
//!   and `nbf` (optional); `aud`, `iss` and the rest are ignored;
//! - `typ` `at+jwt`: a 1.0 access token, its `authorization_details`,
//!   `iss`, `aud`, `exp` and `nbf` checked ([`super::details`]).
//!
//! The token comes from `Authorization: Bearer`, else (subscribers only)
//! the `access_token` (1.0) or `authorization` (classic) query parameter,
//! else a cookie — `mercureAuthorization` (classic), `mercureAccessToken`
//! or `__Secure-mercure_access_token` (1.0) — from a browser only when its
//! `Origin` is the hub's own or one the hub's CORS list names
//! (`push.mercure_cors_origins`, else `push.allowed_origins`).
//! Publishers' tokens are signed with `push.mercure_publisher_key`,
//! subscribers' with `push.mercure_subscriber_key` (both default to
//! `push.secret`); `exp` and `nbf` are checked with `push.token_leeway`.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::details::{self, Resource};
use super::metadata;
use super::topic::Selector;
use crate::auth::token::{self, Typ};
use crate::auth::{self, TokenError};
use crate::config::Config;
use crate::edge::error::ApiError;

/// The cookies a browser may carry its token in: the classic dialect's,
/// the one draft-08 recommends, and a `__Secure-` one.
pub const COOKIES: [&str; 3] = [
    "mercureAuthorization",
    "mercureAccessToken",
    "__Secure-mercure_access_token",
];

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
    /// Whether it is a 1.0 access token (`typ: at+jwt`).
    pub access_token: bool,
    /// What the token says of its subscriber (`mercure.payload`, or an
    /// `authorization_details` entry's `payload`), for the subscriptions
    /// API and its events.
    pub payload: Option<Value>,
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
    payload: Option<Value>,
}

/// The request's token verified for `role`; `None` if it carries none.
pub fn authorize(
    config: &Config,
    headers: &HeaderMap,
    query: &[(String, String)],
    role: Role,
) -> Result<Option<Grants>, Refused> {
    let from_query = match role {
        Role::Subscriber => ["access_token", "authorization"].iter().find_map(|name| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }),
        Role::Publisher => None,
    };
    let raw = match auth::bearer(headers).or(from_query) {
        Some(t) => t,
        None => match COOKIES.iter().find_map(|name| auth::cookie(headers, name)) {
            Some(t) => {
                auth::origin_allowed(config.mercure_origins(), headers).map_err(|_| {
                    Refused::forbidden(
                        "the token cookie is not accepted from this origin: \
                         list it in push.mercure_cors_origins",
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
    let (typ, payload) =
        token::open_typed(raw, key.expose(), config.max_token_size).map_err(invalid)?;
    let now = token::now();
    let leeway = config.token_leeway.as_secs_f64();
    let (publish, subscribe, exp, subscriber) = match typ {
        Typ::Jwt => {
            let payload: Payload = token::claims(&payload).map_err(invalid)?;
            token::check_times(payload.exp, payload.nbf, now, leeway).map_err(invalid)?;
            let claim = payload.mercure.unwrap_or(Claim {
                publish: Vec::new(),
                subscribe: Vec::new(),
                payload: None,
            });
            let parse = |list: Vec<String>| list.iter().map(|s| Selector::parse(s)).collect();
            (
                parse(claim.publish),
                parse(claim.subscribe),
                payload.exp,
                claim.payload,
            )
        }
        Typ::AccessToken => {
            let audiences = metadata::audiences(config, headers);
            let base = metadata::hub_url(headers);
            let resource = Resource {
                issuer: &config.mercure_issuer,
                audiences: &audiences,
                base: &base,
            };
            let granted = details::read(&payload, &resource, now, leeway).map_err(invalid)?;
            (
                granted.publish,
                granted.subscribe,
                Some(granted.exp),
                granted.payload,
            )
        }
    };
    let expires = exp
        .and_then(|exp| Duration::try_from_secs_f64(exp + leeway - now).ok())
        .filter(|d| *d <= Duration::from_secs(365 * 86_400))
        .and_then(|d| Instant::now().checked_add(d));
    Ok(Some(Grants {
        publish,
        subscribe,
        expires,
        access_token: typ == Typ::AccessToken,
        payload: subscriber,
    }))
}

/// A refusal of the hub: 401 or 403 with the reason in `WWW-Authenticate`
/// (RFC 6750) and in the JSON body; or any other error answer of the edge.
#[derive(Debug)]
pub enum Refused {
    Auth {
        status: StatusCode,
        reason: String,
        /// RFC 6750's error code; none when no token was presented.
        error: Option<&'static str>,
        /// The metadata document's URL (`resource_metadata`, RFC 9728).
        metadata: Option<String>,
    },
    Other(ApiError),
}

impl Refused {
    /// 401 `invalid_token`: the token presented is not valid.
    pub fn unauthorized(reason: &str) -> Refused {
        Refused::Auth {
            status: StatusCode::UNAUTHORIZED,
            reason: reason.to_owned(),
            error: Some("invalid_token"),
            metadata: None,
        }
    }

    /// 401 with no error code (RFC 6750 3.1: none was presented), and
    /// where to find the hub's metadata.
    pub fn missing(reason: &str, headers: &HeaderMap) -> Refused {
        Refused::Auth {
            status: StatusCode::UNAUTHORIZED,
            reason: reason.to_owned(),
            error: None,
            metadata: Some(metadata::document_url(headers)),
        }
    }

    /// 403 `insufficient_scope`: the token does not grant this.
    pub fn forbidden(reason: &str) -> Refused {
        Refused::Auth {
            status: StatusCode::FORBIDDEN,
            reason: reason.to_owned(),
            error: Some("insufficient_scope"),
            metadata: None,
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
        let (status, reason, error, metadata) = match self {
            Refused::Other(e) => {
                let mut response = e.into_response();
                if response.status() == StatusCode::BAD_REQUEST {
                    response.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static(
                            r#"Bearer realm="mercure", error="invalid_request""#,
                        ),
                    );
                }
                return response;
            }
            Refused::Auth {
                status,
                reason,
                error,
                metadata,
            } => (status, reason, error, metadata),
        };
        let mut challenge = String::from(r#"Bearer realm="mercure""#);
        if let Some(error) = error {
            challenge.push_str(&format!(r#", error="{error}""#));
        }
        challenge.push_str(&format!(r#", error_description="{}""#, quoted(&reason)));
        if let Some(url) = metadata {
            challenge.push_str(&format!(r#", resource_metadata="{}""#, quoted(&url)));
        }
        let mut response = (status, Json(serde_json::json!({ "error": reason }))).into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        response
    }
}

/// `text` as the inside of a quoted-string: no quotes, backslashes or
/// control characters.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        })
        .collect()
}
