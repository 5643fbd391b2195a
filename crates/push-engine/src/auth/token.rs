//! Subscription tokens: JSON Web Tokens (RFC 7519) signed with HMAC-SHA256
//! (`HS256`, RFC 7518) under `push.secret`, so that any language mints one
//! with a standard JWT library.
//!
//! A small codec of its own rather than a general JWT library, so that it
//! refuses precisely: the header's `alg` must be exactly `HS256` (never
//! `none`, `HS512`, `RS256` …), `crit` and `cty` are refused, base64url must
//! be unpadded and canonical, the signature is compared in constant time
//! before the payload is even parsed, and `exp` is required.
//!
//! Claims (all others, such as `sub` or `jti`, are ignored):
//!
//! | claim | type | meaning |
//! |---|---|---|
//! | `channels` | array of strings | channels the holder may subscribe to: exact names, or prefixes ending in `*` |
//! | `publish` | bool, optional (`false`) | the holder may also publish to them from a WebSocket |
//! | `exp` | number, required | expiry, seconds since the Unix epoch |
//! | `nbf` | number, optional | not valid before, seconds since the Unix epoch |
//! | `iat` | number, optional | issued at (checked to be a number only) |
//! | `aud` | string or array, optional | when present, must be or contain `push` |

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::message::validate_channel;

type HmacSha256 = Hmac<Sha256>;

/// The one header push writes.
pub const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The shortest secret accepted (defined with the setting, in
/// [`crate::config`]).
pub use crate::config::MIN_SECRET_LEN;

/// What a verified token grants.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// Exact channel names and `prefix*` patterns.
    pub channels: Vec<String>,
    /// Whether the holder may publish to the granted channels.
    pub publish: bool,
    /// Expiry, seconds since the Unix epoch.
    pub exp: f64,
}

impl Claims {
    /// Whether the token grants `channel`.
    pub fn grants(&self, channel: &str) -> bool {
        self.channels.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => channel.starts_with(prefix),
            None => p == channel,
        })
    }
}

/// Why a token was refused. The text is sent to the client (HTTP 401 body,
/// WebSocket refusal): it says what is wrong, never what the secret is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is longer than push.max_token_size ({0} bytes)")]
    TooLarge(usize),
    #[error("the token is not a JWT: {0}")]
    Malformed(&'static str),
    #[error("the token's algorithm must be HS256, not {0}")]
    Algorithm(String),
    #[error("the token's header is not accepted: {0}")]
    Header(&'static str),
    #[error("the token's signature does not match (signed with another secret, or altered)")]
    Signature,
    #[error("the token's claims are invalid: {0}")]
    Claims(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
}

/// The current time, seconds since the Unix epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Whether `pattern` is a channel name or a prefix ending in `*` (the
/// prefix itself 1 to 255 characters of `A-Z a-z 0-9 _ . : @ / - = , ;`).
pub fn valid_pattern(pattern: &str) -> bool {
    let name = pattern.strip_suffix('*').unwrap_or(pattern);
    validate_channel(name.as_bytes()).is_ok()
}

/// Signs `payload` (a JSON object) with `secret`: `header.payload.signature`.
pub fn sign(secret: &[u8], payload: &[u8]) -> String {
    let mut token = URL_SAFE_NO_PAD.encode(HEADER);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = mac(secret, token.as_bytes()).finalize().into_bytes();
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    token
}

/// The longest lifetime [`mint`] gives a token: ten years.
pub const MAX_TTL: u64 = 10 * 365 * 86_400;

/// A token granting `channels` (names and `prefix*` patterns, checked with
/// [`valid_pattern`] by the caller), and publishing to them if `publish`,
/// for `ttl` seconds from `now`: `{"channels":[…],"publish":…,"iat":…,"exp":…}`.
pub fn mint(secret: &[u8], channels: &[&str], publish: bool, ttl: u64, now: f64) -> String {
    let iat = now.floor() as u64;
    let payload = serde_json::json!({
        "channels": channels,
        "publish": publish,
        "iat": iat,
        "exp": iat.saturating_add(ttl.min(MAX_TTL)),
    });
    sign(secret, payload.to_string().as_bytes())
}

fn mac(secret: &[u8], signed: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (a long key is hashed first).
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(signed);
    mac
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    cty: Option<serde::de::IgnoredAny>,
    crit: Option<serde::de::IgnoredAny>,
}

/// An `aud` claim: one string or an array of strings (RFC 7519).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// Whether the claim is `name`, or an array holding it.
    pub fn names(&self, name: &str) -> bool {
        match self {
            Audience::One(a) => a == name,
            Audience::Many(list) => list.iter().any(|a| a == name),
        }
    }
}

/// The header's `typ`: what the token says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typ {
    /// `JWT`, or no `typ`: a plain JWT (push's own, Mercure's classic).
    Jwt,
    /// `at+jwt` (or `application/at+jwt`): an OAuth 2.0 access token
    /// (RFC 9068), as Mercure 1.0 requires.
    AccessToken,
}

impl Typ {
    fn of(typ: Option<&str>) -> Option<Typ> {
        let Some(t) = typ else {
            return Some(Typ::Jwt);
        };
        // RFC 7515 4.1.9: a media type, "application/" may be left out.
        let t = match t.get(..12) {
            Some(p) if p.eq_ignore_ascii_case("application/") => &t[12..],
            _ => t,
        };
        if t.eq_ignore_ascii_case("JWT") {
            Some(Typ::Jwt)
        } else if t.eq_ignore_ascii_case("at+jwt") {
            Some(Typ::AccessToken)
        } else {
            None
        }
    }
}

#[derive(Deserialize)]
struct Payload {
    channels: Option<Vec<String>>,
    #[serde(default)]
    publish: bool,
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
    aud: Option<Audience>,
}

fn part(b64: &str, what: &'static str) -> Result<Vec<u8>, TokenError> {
    // The engine refuses padding and non-canonical trailing bits.
    URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| TokenError::Malformed(what))
}

/// A JSON object (serde would also read a struct from an array).
fn object<'a, T: Deserialize<'a>>(json: &'a [u8]) -> Result<T, String> {
    if json.trim_ascii_start().first() != Some(&b'{') {
        return Err("not a JSON object".into());
    }
    serde_json::from_slice(json).map_err(|e| e.to_string())
}

/// Checks what every token push reads has in common — its form, its
/// header (`alg` exactly `HS256`, `typ` absent or `JWT`, no `crit` or
/// `cty`) and its signature under `secret`, compared in constant time —
/// and returns its payload, not yet parsed (push's own claims: [`verify`];
/// a protocol adapter's: its own). `max_size` bounds the token before it
/// is parsed.
pub fn open(token: &str, secret: &[u8], max_size: usize) -> Result<Vec<u8>, TokenError> {
    match open_typed(token, secret, max_size)? {
        (Typ::Jwt, payload) => Ok(payload),
        (Typ::AccessToken, _) => Err(TokenError::Header("typ must be JWT")),
    }
}

/// [`open`], for a reader that takes access tokens (`typ: at+jwt`) too:
/// returns the header's [`Typ`] with the payload. Any other `typ` is
/// refused before the signature is checked.
pub fn open_typed(
    token: &str,
    secret: &[u8],
    max_size: usize,
) -> Result<(Typ, Vec<u8>), TokenError> {
    if token.len() > max_size {
        return Err(TokenError::TooLarge(max_size));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            "expected three base64url parts joined by dots",
        ));
    };
    let header: Header = object(&part(header_b64, "the header is not base64url")?)
        .map_err(|_| TokenError::Header("not a JSON object with alg"))?;
    if header.alg != "HS256" {
        let shown: String = header.alg.chars().take(16).collect();
        return Err(TokenError::Algorithm(format!("{shown:?}")));
    }
    let Some(typ) = Typ::of(header.typ.as_deref()) else {
        return Err(TokenError::Header("typ must be JWT or at+jwt"));
    };
    if header.crit.is_some() {
        return Err(TokenError::Header("crit extensions are not supported"));
    }
    if header.cty.is_some() {
        return Err(TokenError::Header("nested tokens (cty) are not supported"));
    }
    let signature = part(signature, "the signature is not base64url")?;
    let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
    // Constant time: `verify_slice` compares without an early exit.
    mac(secret, signed.as_bytes())
        .verify_slice(&signature)
        .map_err(|_| TokenError::Signature)?;
    Ok((typ, part(payload_b64, "the payload is not base64url")?))
}

/// A JSON object (serde would also read a struct from an array), or why not.
pub fn claims<'a, T: Deserialize<'a>>(json: &'a [u8]) -> Result<T, TokenError> {
    object(json).map_err(|e| TokenError::Claims(e.chars().take(120).collect()))
}

/// Checks `exp` and `nbf` at time `now`, with `leeway` seconds of tolerance.
pub fn check_times(
    exp: Option<f64>,
    nbf: Option<f64>,
    now: f64,
    leeway: f64,
) -> Result<(), TokenError> {
    if exp.is_some_and(|exp| now >= exp + leeway) {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| now + leeway < nbf) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

/// Verifies `token` against `secret` at time `now`, with `leeway` seconds
/// of tolerance on `exp` and `nbf`; `max_size` bounds the token before it
/// is parsed.
pub fn verify(
    token: &str,
    secret: &[u8],
    now: f64,
    leeway: f64,
    max_size: usize,
) -> Result<Claims, TokenError> {
    let payload = open(token, secret, max_size)?;
    let payload: Payload = claims(&payload)?;
    let channels = payload
        .channels
        .ok_or_else(|| TokenError::Claims("channels is missing".into()))?;
    if let Some(bad) = channels.iter().find(|c| !valid_pattern(c)) {
        let shown: String = bad.chars().take(40).collect();
        return Err(TokenError::Claims(format!(
            "channels: {shown:?} is not a channel name or prefix*"
        )));
    }
    let exp = payload
        .exp
        .ok_or_else(|| TokenError::Claims("exp is missing".into()))?;
    let _ = payload.iat;
    if payload.aud.is_some_and(|aud| !aud.names("push")) {
        return Err(TokenError::Claims("aud does not name push".into()));
    }
    check_times(Some(exp), payload.nbf, now, leeway)?;
    Ok(Claims {
        channels,
        publish: payload.publish,
        exp,
    })
}

#[cfg(test)]
mod tests;
