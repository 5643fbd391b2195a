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

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
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
/// header (`alg` exactly `HS256`, no `crit` or `cty`) and its signature
/// under `secret`, compared in constant time — and returns its payload,
/// not yet parsed (push's own claims: [`verify`]; a protocol adapter's:
/// its own). `max_size` bounds the token before it is parsed.
pub fn open(token: &str, secret: &[u8], max_size: usize) -> Result<Vec<u8>, TokenError> {
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
    if header.typ.is_some_and(|t| !t.eq_ignore_ascii_case("JWT")) {
        return Err(TokenError::Header("typ must be JWT"));
    }
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
    part(payload_b64, "the payload is not base64url")
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
    match payload.aud {
        None => {}
        Some(Audience::One(a)) if a == "push" => {}
        Some(Audience::Many(list)) if list.iter().any(|a| a == "push") => {}
        Some(_) => return Err(TokenError::Claims("aud does not name push".into())),
    }
    check_times(Some(exp), payload.nbf, now, leeway)?;
    Ok(Claims {
        channels,
        publish: payload.publish,
        exp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: f64 = 1_700_000_000.0;

    fn token(payload: &str) -> String {
        sign(SECRET, payload.as_bytes())
    }

    fn check(token: &str) -> Result<Claims, TokenError> {
        verify(token, SECRET, NOW, 5.0, 4096)
    }

    /// A token with any header, signed properly.
    fn with_header(header: &str, payload: &str) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig = mac(SECRET, signed.as_bytes()).finalize().into_bytes();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    const GOOD: &str = r#"{"channels":["news","user.42.*"],"publish":true,"exp":1700000100}"#;

    #[test]
    fn a_signed_token_round_trips() {
        let claims = check(&token(GOOD)).unwrap();
        assert_eq!(claims.channels, ["news", "user.42.*"]);
        assert!(claims.publish);
        assert_eq!(claims.exp, 1_700_000_100.0);
        assert!(claims.grants("news") && claims.grants("user.42.inbox"));
        assert!(claims.grants("user.42."));
        assert!(!claims.grants("newsx") && !claims.grants("user.43.inbox"));
    }

    #[test]
    fn the_rfc_7519_example_shape_verifies() {
        // Header and signature as PHP's hash_hmac or any JWT library make them.
        let t = token(r#"{"channels":["a"],"exp":1700000100}"#);
        let head = t.split('.').next().unwrap();
        assert_eq!(head, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
        assert!(!check(&t).unwrap().publish, "publish defaults to false");
    }

    #[test]
    fn minted_tokens_verify() {
        let t = mint(SECRET, &["news", "user.42.*"], false, 60, NOW + 0.7);
        let claims = check(&t).unwrap();
        assert_eq!(claims.channels, ["news", "user.42.*"]);
        assert!(!claims.publish);
        assert_eq!(claims.exp, NOW + 60.0);
        let payload = URL_SAFE_NO_PAD
            .decode(t.split('.').nth(1).unwrap())
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(v["iat"], 1_700_000_000u64);
        assert_eq!(v["publish"], false);
        assert!(check(&mint(SECRET, &["a"], true, 1, NOW - 10.0)).is_err());
    }

    #[test]
    fn a_token_of_another_implementation_verifies() {
        // Made with Python's hmac and base64 modules alone (header members
        // in another order, a sub claim); expires in 2100.
        let t = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiIsImNoYW5uZWxzIjpbIm5ld3MiLCJ1c2VyLjQyLioiXSwicHVibGlzaCI6dHJ1ZSwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjQxMDI0NDQ4MDB9.sdL94fFl5eBd14e7hTGwxrAy9XnuMYeRA1TEiHu3ewI";
        let claims = verify(t, b"interop-secret-0123456789abcdef!", NOW, 0.0, 4096).unwrap();
        assert_eq!(claims.channels, ["news", "user.42.*"]);
        assert!(claims.publish);
        assert_eq!(claims.exp, 4_102_444_800.0);
    }

    #[test]
    fn the_wrong_secret_or_an_altered_token_is_refused() {
        let t = token(GOOD);
        let other = verify(&t, b"another secret of 32 bytes......", NOW, 5.0, 4096);
        assert_eq!(other, Err(TokenError::Signature));
        // The payload swapped for another with the original signature.
        let parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(GOOD.replace("news", "admin"));
        let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert_eq!(check(&tampered), Err(TokenError::Signature));
        // One character of the signature changed.
        let mut sig = parts[2].to_owned();
        let last = if sig.ends_with('A') { "B" } else { "A" };
        sig.replace_range(sig.len() - 1.., last);
        let altered = format!("{}.{}.{sig}", parts[0], parts[1]);
        assert!(check(&altered).is_err());
        // A truncated signature.
        let short = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..20]);
        assert_eq!(check(&short), Err(TokenError::Signature));
    }

    #[test]
    fn other_algorithms_are_refused() {
        for alg in ["none", "None", "HS512", "RS256", "hs256", "ES256", ""] {
            let t = with_header(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), GOOD);
            assert!(
                matches!(check(&t), Err(TokenError::Algorithm(_))),
                "{alg}: {:?}",
                check(&t)
            );
        }
        // alg none with an empty signature, as attacks send it.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(GOOD)
        );
        assert!(matches!(check(&none), Err(TokenError::Algorithm(_))));
        let missing = with_header(r#"{"typ":"JWT"}"#, GOOD);
        assert!(matches!(check(&missing), Err(TokenError::Header(_))));
        let duplicate = with_header(r#"{"alg":"none","alg":"HS256"}"#, GOOD);
        assert!(matches!(check(&duplicate), Err(TokenError::Header(_))));
    }

    #[test]
    fn header_extensions_are_refused() {
        let crit = with_header(r#"{"alg":"HS256","crit":["b64"],"b64":false}"#, GOOD);
        assert!(matches!(check(&crit), Err(TokenError::Header(_))));
        let cty = with_header(r#"{"alg":"HS256","cty":"JWT"}"#, GOOD);
        assert!(matches!(check(&cty), Err(TokenError::Header(_))));
        let typ = with_header(r#"{"alg":"HS256","typ":"JOSE+JSON"}"#, GOOD);
        assert!(matches!(check(&typ), Err(TokenError::Header(_))));
        // No typ, and extra members such as kid, are fine.
        let plain = with_header(r#"{"alg":"HS256","kid":"k1"}"#, GOOD);
        assert!(check(&plain).is_ok());
        let array = with_header(r#"["HS256"]"#, GOOD);
        assert!(matches!(check(&array), Err(TokenError::Header(_))));
    }

    #[test]
    fn expiry_and_not_before_with_leeway() {
        let at = |exp: f64| token(&format!(r#"{{"channels":["a"],"exp":{exp}}}"#));
        assert!(check(&at(NOW + 1.0)).is_ok());
        assert!(check(&at(NOW - 4.0)).is_ok(), "within the leeway");
        assert_eq!(check(&at(NOW - 5.0)), Err(TokenError::Expired));
        assert_eq!(check(&at(NOW - 3600.0)), Err(TokenError::Expired));
        assert_eq!(
            verify(&at(NOW - 1.0), SECRET, NOW, 0.0, 4096),
            Err(TokenError::Expired)
        );
        assert!(
            check(&at(NOW + 0.5)).is_ok(),
            "fractional dates are numbers too"
        );
        let nbf = |nbf: f64| {
            token(&format!(
                r#"{{"channels":["a"],"exp":{},"nbf":{nbf}}}"#,
                NOW + 100.0
            ))
        };
        assert_eq!(check(&nbf(NOW + 60.0)), Err(TokenError::NotYetValid));
        assert!(check(&nbf(NOW + 4.0)).is_ok(), "within the leeway");
        assert!(check(&nbf(NOW - 60.0)).is_ok());
    }

    #[test]
    fn claims_are_checked() {
        for (payload, why) in [
            (r#"{"channels":["a"]}"#, "exp is missing"),
            (r#"{"exp":1700000100}"#, "channels is missing"),
            (r#"{"channels":["a"],"exp":"1700000100"}"#, "invalid type"),
            (r#"{"channels":"a","exp":1700000100}"#, "invalid type"),
            (
                r#"{"channels":["a b"],"exp":1700000100}"#,
                "not a channel name",
            ),
            (
                r#"{"channels":["*"],"exp":1700000100}"#,
                "not a channel name",
            ),
            (
                r#"{"channels":["a**"],"exp":1700000100}"#,
                "not a channel name",
            ),
            (r#"{"channels":[1],"exp":1700000100}"#, "invalid type"),
            (
                r#"{"channels":["a"],"exp":1700000100,"publish":1}"#,
                "invalid type",
            ),
            (
                r#"{"channels":["a"],"exp":1700000100,"iat":"now"}"#,
                "invalid type",
            ),
            (
                r#"{"channels":["a"],"exp":1700000100,"exp":1800000000}"#,
                "duplicate",
            ),
            (
                r#"{"channels":["a"],"exp":1700000100,"aud":"other"}"#,
                "aud",
            ),
            (r#"[["a"],false,1700000100]"#, "not a JSON object"),
            ("not json", "not a JSON object"),
        ] {
            match check(&token(payload)) {
                Err(TokenError::Claims(e)) => assert!(e.contains(why), "{payload}: {e}"),
                other => panic!("{payload}: {other:?}"),
            }
        }
        let aud = token(r#"{"channels":["a"],"exp":1700000100,"aud":["x","push"],"sub":"42"}"#);
        assert!(check(&aud).is_ok());
        let empty = check(&token(r#"{"channels":[],"exp":1700000100}"#)).unwrap();
        assert!(!empty.grants("a"), "an empty grant grants nothing");
    }

    #[test]
    fn malformed_tokens_are_refused_before_parsing() {
        for t in ["", "abc", "a.b", "a.b.c.d", "...", "é.é.é"] {
            assert!(check(t).is_err(), "{t:?}");
        }
        let good = token(GOOD);
        let padded = {
            let p: Vec<&str> = good.split('.').collect();
            format!("{}=.{}.{}", p[0], p[1], p[2])
        };
        assert!(matches!(check(&padded), Err(TokenError::Malformed(_))));
        let huge = "a".repeat(5000);
        assert_eq!(check(&huge), Err(TokenError::TooLarge(4096)));
        assert_eq!(
            verify(&good, SECRET, NOW, 5.0, good.len() - 1),
            Err(TokenError::TooLarge(good.len() - 1))
        );
        assert!(verify(&good, SECRET, NOW, 5.0, good.len()).is_ok());
    }

    #[test]
    fn patterns() {
        for ok in ["news", "user.42.*", "a*", "A-Z_0.9:@/-"] {
            assert!(valid_pattern(ok), "{ok}");
        }
        for bad in ["", "*", "a b", "a*b", "**", "a**", &"x".repeat(256)] {
            assert!(!valid_pattern(bad), "{bad}");
        }
        assert!(valid_pattern(&format!("{}*", "x".repeat(255))));
    }
}
