//! The settings of signed subscriptions: `push.secret`, `push.auth`,
//! `push.auth_cookie`, `push.token_leeway`, `push.max_token_size`
//! (`push.private_channels` is a [`super::Patterns`]).

use std::fmt;

/// The shortest secret accepted: RFC 7518 §3.2 requires an HS256 key of at
/// least the hash's size, 256 bits.
pub const MIN_SECRET_LEN: usize = 32;

/// The key that signs subscription tokens. Its `Debug` form hides it, so a
/// configuration can be logged.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The key's bytes, for signing and verifying.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Empty, or at least [`MIN_SECRET_LEN`] printable ASCII bytes (RFC
    /// 7518 §3.2: an HS256 key of at least 256 bits).
    pub fn parse(value: &str) -> Result<Secret, String> {
        let v = value.trim();
        if v.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err("must be printable ASCII without spaces".into());
        }
        if !v.is_empty() && v.len() < MIN_SECRET_LEN {
            return Err(format!(
                "must be at least {MIN_SECRET_LEN} bytes (an HS256 key of 256 bits; \
                 for example the output of `openssl rand -hex 32`)"
            ));
        }
        Ok(Secret(v.to_owned()))
    }

    /// Empty, or printable ASCII without spaces, of any length: a key
    /// chosen elsewhere (a Pusher app's secret is 20 hex characters).
    pub fn parse_any(value: &str) -> Result<Secret, String> {
        let v = value.trim();
        if v.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err("must be printable ASCII without spaces".into());
        }
        Ok(Secret(v.to_owned()))
    }

    pub(super) fn show(&self) -> String {
        self.0.clone()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = if self.0.is_empty() { "" } else { "…" };
        write!(f, "Secret({shown:?})")
    }
}

/// `push.auth`: which channels need a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Only channels matching `push.private_channels`.
    Optional,
    /// Every channel.
    Required,
}

impl AuthMode {
    pub(super) fn parse(value: &str) -> Result<AuthMode, String> {
        let v = value.trim();
        if v.eq_ignore_ascii_case("optional") {
            Ok(AuthMode::Optional)
        } else if v.eq_ignore_ascii_case("required") {
            Ok(AuthMode::Required)
        } else {
            Err("use optional (only push.private_channels need a token) or required".into())
        }
    }

    /// Empty, or printable ASCII without spaces, of any length: a key
    /// chosen elsewhere (a Pusher app's secret is 20 hex characters).
    pub fn parse_any(value: &str) -> Result<Secret, String> {
        let v = value.trim();
        if v.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err("must be printable ASCII without spaces".into());
        }
        Ok(Secret(v.to_owned()))
    }

    pub(super) fn show(&self) -> String {
        match self {
            AuthMode::Optional => "optional".into(),
            AuthMode::Required => "required".into(),
        }
    }
}

/// A cookie name (an RFC 6265 token), or empty for none.
pub(super) fn parse_cookie_name(value: &str) -> Result<String, String> {
    let v = value.trim();
    let ok = v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(v.to_owned())
    } else {
        Err("must be a cookie name (at most 64 letters, digits and !#$%&'*+-.^_`|~)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets() {
        assert!(Secret::parse("").unwrap().is_empty());
        assert!(Secret::parse("short").is_err());
        assert!(Secret::parse(&"x".repeat(31)).is_err());
        let s = Secret::parse(&"x".repeat(32)).unwrap();
        assert_eq!(s.expose(), "x".repeat(32).as_bytes());
        assert!(!format!("{s:?}").contains('x'), "Debug hides the key");
        assert!(Secret::parse(&format!("{} y", "x".repeat(32))).is_err());
    }

    #[test]
    fn modes_cookies_leeway_sizes() {
        assert_eq!(AuthMode::parse(" Required ").unwrap(), AuthMode::Required);
        assert!(AuthMode::parse("yes").is_err());
        assert_eq!(parse_cookie_name("").unwrap(), "");
        assert!(parse_cookie_name("a b").is_err() && parse_cookie_name("a=b").is_err());
    }
}
