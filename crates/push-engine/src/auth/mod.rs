//! Who may subscribe and publish: private channels and the tokens that
//! grant them.
//!
//! A channel is private when it matches `push.private_channels`, or always
//! with `push.auth = required`. Subscribing to a private channel (and, from
//! a WebSocket, publishing to it) needs a [`token`] signed with
//! `push.secret` that grants it. Browsers pass the token as `?token=`, in
//! the cookie `push.auth_cookie`, or as `Authorization: Bearer` — in that
//! order of precedence; a token is read only when a private channel is
//! asked for. Public channels keep the rules they had (`push.client_publish`
//! for publishing).
//!
//! Refusals: no token, or one that is malformed, wrongly signed or expired
//! → 401; a valid token that does not grant the channel, or no
//! `push.secret` → 403. A connection whose token expires while it is open is
//! ended (WebSocket close [`CLOSE_EXPIRED`], SSE event `push-expired`).
//!
//! With the Pusher protocol on (`push.pusher_key`), Pusher's `private-` and
//! `presence-` channels are private in push's own doors too: the Pusher
//! adapter authorises them with its own signatures ([`signature`]).
//!
//! The local socket of PHP workers is trusted code and needs no token.

pub mod signature;
pub mod token;

use std::time::Duration;

use axum::http::{header, HeaderMap};
use tokio::time::Instant;

use crate::config::{AuthMode, Config, Patterns};
pub use token::{Claims, TokenError};

/// WebSocket close code when the connection's token expires: renew the
/// token and reconnect with `?lastEventId=`.
pub const CLOSE_EXPIRED: u16 = 4003;

/// Expiries further away than this are not watched (a connection is not
/// expected to stay open for a year).
const WATCH_AT_MOST: Duration = Duration::from_secs(365 * 86_400);

/// What an authorized request may do.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The verified token, when a private channel needed one.
    pub claims: Option<Claims>,
    /// When that token stops being valid (`exp` plus `push.token_leeway`).
    pub expires: Option<Instant>,
}

impl Access {
    /// Whether the token has expired by now.
    pub fn expired(&self) -> bool {
        self.expires.is_some_and(|at| Instant::now() >= at)
    }
}

/// Whether `channel` needs a token.
pub fn is_private(config: &Config, channel: &str) -> bool {
    config.auth == AuthMode::Required
        || config.private_channels.allows(channel)
        || (config.pusher() && is_pusher_private(channel))
}

/// Whether Pusher's rules make `channel` private (`private-…`,
/// `presence-…`, which includes `private-encrypted-…`).
pub fn is_pusher_private(channel: &str) -> bool {
    channel.starts_with("private-") || channel.starts_with("presence-")
}

/// Why a request was refused.
#[derive(Debug)]
pub enum Refusal {
    /// A private channel was asked for and `push.secret` is not set.
    NoSecret(String),
    /// A private channel was asked for without a token.
    Missing(String),
    /// The token did not verify.
    Invalid(TokenError),
    /// The token arrived in the cookie from an origin that may not use it.
    CookieOrigin(String),
    /// A valid token that does not grant this channel.
    NotGranted(String),
}

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Query,
    Bearer,
    Cookie,
}

/// Checks that the request may subscribe to every one of `channels`.
pub fn subscribe<'a>(
    config: &Config,
    channels: impl IntoIterator<Item = &'a str>,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Access, Refusal> {
    let private: Vec<&str> = channels
        .into_iter()
        .filter(|c| is_private(config, c))
        .collect();
    let Some(first) = private.first() else {
        return Ok(Access::default());
    };
    if config.secret.is_empty() {
        return Err(Refusal::NoSecret((*first).to_owned()));
    }
    let Some((source, raw)) = find_token(config, query, headers) else {
        return Err(Refusal::Missing((*first).to_owned()));
    };
    if source == Source::Cookie {
        cookie_origin_allowed(config, headers)?;
    }
    let now = token::now();
    let leeway = config.token_leeway.as_secs_f64();
    let claims = token::verify(
        raw,
        config.secret.expose(),
        now,
        leeway,
        config.max_token_size,
    )
    .map_err(Refusal::Invalid)?;
    if let Some(c) = private.iter().find(|c| !claims.grants(c)) {
        return Err(Refusal::NotGranted((*c).to_owned()));
    }
    let left = claims.exp + leeway - now;
    let expires = Duration::try_from_secs_f64(left)
        .ok()
        .filter(|d| *d <= WATCH_AT_MOST)
        .and_then(|d| Instant::now().checked_add(d));
    Ok(Access {
        claims: Some(claims),
        expires,
    })
}

/// Whether a WebSocket subscribed to `channel` with `access` may publish
/// there; else the close reason. Private channels need a token with
/// `publish: true`; public ones follow `push.client_publish`.
pub fn publish(config: &Config, access: &Access, channel: &str) -> Result<(), &'static str> {
    if !is_private(config, channel) {
        return if config.client_publish.allows(channel) {
            Ok(())
        } else {
            Err("publishing is not allowed here: see push.client_publish")
        };
    }
    match &access.claims {
        Some(c) if c.publish && c.grants(channel) => Ok(()),
        _ => Err("publishing on this private channel needs a token with publish: true"),
    }
}

/// The token of a request: `?token=`, else `Authorization: Bearer`, else
/// the cookie `push.auth_cookie`.
fn find_token<'a>(
    config: &Config,
    query: &'a [(String, String)],
    headers: &'a HeaderMap,
) -> Option<(Source, &'a str)> {
    if let Some((_, t)) = query.iter().find(|(k, _)| k == "token") {
        return Some((Source::Query, t.as_str()));
    }
    if let Some(t) = bearer(headers) {
        return Some((Source::Bearer, t));
    }
    let name = config.auth_cookie.as_str();
    if name.is_empty() {
        return None;
    }
    cookie(headers, name).map(|t| (Source::Cookie, t))
}

/// The bearer token of an `Authorization` header, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.trim().split_once(' '))
        .find(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
}

/// The value of the cookie `name` (quotes removed), if the request has it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| {
            let v = v.trim();
            let t = v.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
            t.unwrap_or(v)
        })
}

/// A cookie travels with every request a browser makes, whichever page
/// made it: accept it from the engine's own origin (`Origin` naming the
/// `Host` asked for), from origins `push.allowed_origins` lists by name, or
/// from requests without an `Origin`; not merely because it allows `*`.
pub fn cookie_origin_allowed(config: &Config, headers: &HeaderMap) -> Result<(), Refusal> {
    origin_allowed(&config.allowed_origins, headers).map_err(Refusal::CookieOrigin)
}

/// [`cookie_origin_allowed`] with the list `origins`; else the origin
/// (its first 100 characters).
pub fn origin_allowed(origins: &Patterns, headers: &HeaderMap) -> Result<(), String> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let same = origin
        .split_once("://")
        .is_some_and(|(_, authority)| !host.is_empty() && authority.eq_ignore_ascii_case(host));
    let listed = matches!(origins, Patterns::List(_)) && origins.allows(origin);
    if same || listed {
        Ok(())
    } else {
        Err(origin.chars().take(100).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn config() -> Config {
        let mut c = Config::default();
        c.set("secret", &"s".repeat(32)).unwrap();
        c.set("private_channels", "user.*, admin").unwrap();
        c
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn mint(channels: &str) -> String {
        let exp = token::now() + 60.0;
        let payload = format!(r#"{{"channels":{channels},"exp":{exp}}}"#);
        token::sign(&[b's'; 32], payload.as_bytes())
    }

    #[test]
    fn public_channels_need_nothing() {
        let a = subscribe(&config(), ["news"], &[], &HeaderMap::new()).unwrap();
        assert!(a.claims.is_none() && a.expires.is_none());
        // A bad token is not even read for public channels.
        let q = vec![("token".to_owned(), "garbage".to_owned())];
        assert!(subscribe(&config(), ["news"], &q, &HeaderMap::new()).is_ok());
    }

    #[test]
    fn tokens_are_found_in_query_bearer_and_cookie_in_that_order() {
        let good = mint(r#"["user.*"]"#);
        let c = config();
        let q = vec![("token".to_owned(), good.clone())];
        assert!(subscribe(&c, ["user.1"], &q, &HeaderMap::new()).is_ok());
        let h = headers(&[("authorization", &format!("Bearer {good}"))]);
        assert!(subscribe(&c, ["user.1"], &[], &h).is_ok());
        let h = headers(&[("cookie", &format!("a=b; push_token={good}; c=d"))]);
        assert!(subscribe(&c, ["user.1"], &[], &h).is_ok());
        let h = headers(&[("cookie", &format!("push_token=\"{good}\""))]);
        assert!(subscribe(&c, ["user.1"], &[], &h).is_ok());
        // The query wins over a good header.
        let bad = vec![("token".to_owned(), "x.y.z".to_owned())];
        let h = headers(&[("authorization", &format!("Bearer {good}"))]);
        assert!(matches!(
            subscribe(&c, ["user.1"], &bad, &h),
            Err(Refusal::Invalid(_))
        ));
        // Another cookie name is not a token.
        let h = headers(&[("cookie", &format!("other={good}"))]);
        assert!(matches!(
            subscribe(&c, ["user.1"], &[], &h),
            Err(Refusal::Missing(_))
        ));
    }

    #[test]
    fn cookies_from_other_origins_need_a_listed_origin() {
        let good = mint(r#"["user.*"]"#);
        let cookie = format!("push_token={good}");
        let mut c = config();
        let cross = headers(&[
            ("cookie", &cookie),
            ("origin", "https://evil.example"),
            ("host", "push.example:8080"),
        ]);
        assert!(matches!(
            subscribe(&c, ["user.1"], &[], &cross),
            Err(Refusal::CookieOrigin(_))
        ));
        let same = headers(&[
            ("cookie", &cookie),
            ("origin", "http://push.example:8080"),
            ("host", "push.example:8080"),
        ]);
        assert!(subscribe(&c, ["user.1"], &[], &same).is_ok());
        c.set("allowed_origins", "https://evil.example").unwrap();
        assert!(subscribe(&c, ["user.1"], &[], &cross).is_ok());
    }

    #[test]
    fn refusals() {
        let c = config();
        let none = subscribe(&c, ["news", "admin"], &[], &HeaderMap::new());
        assert!(matches!(none, Err(Refusal::Missing(ch)) if ch == "admin"));
        let q = vec![("token".to_owned(), mint(r#"["user.*"]"#))];
        let other = subscribe(&c, ["user.1", "admin"], &q, &HeaderMap::new());
        assert!(matches!(other, Err(Refusal::NotGranted(ch)) if ch == "admin"));
        let mut open = Config::default();
        open.set("private_channels", "admin").unwrap();
        let no_secret = subscribe(&open, ["admin"], &q, &HeaderMap::new());
        assert!(matches!(no_secret, Err(Refusal::NoSecret(_))));
        let mut all = config();
        all.set("auth", "required").unwrap();
        assert!(matches!(
            subscribe(&all, ["news"], &[], &HeaderMap::new()),
            Err(Refusal::Missing(_))
        ));
    }

    #[test]
    fn publishing() {
        let mut c = config();
        c.set("client_publish", "news").unwrap();
        let none = Access::default();
        assert!(publish(&c, &none, "news").is_ok());
        assert!(publish(&c, &none, "sport").is_err());
        assert!(publish(&c, &none, "admin").is_err());
        let read_only = Access {
            claims: Some(Claims {
                channels: vec!["admin".into()],
                publish: false,
                exp: 0.0,
            }),
            expires: None,
        };
        assert!(publish(&c, &read_only, "admin").is_err());
        let mut writer = read_only.clone();
        writer.claims.as_mut().unwrap().publish = true;
        assert!(publish(&c, &writer, "admin").is_ok());
        assert!(publish(&c, &writer, "user.1").is_err(), "not granted");
    }
}
