//! The settings of the Pusher Channels protocol (`edge::pusher`):
//! `push.pusher_app_id`, `push.pusher_key`, `push.pusher_secret`. All three
//! empty (the default) turn the protocol off; [`super::Config::validate`]
//! refuses some but not all. `push.pusher_encryption_master_key`: the key
//! `private-encrypted-` channels' shared secrets derive from.

use base64::Engine;

use super::{Config, Secret};

/// `push.pusher_encryption_master_key`: empty, or the base64 of 32 bytes
/// (what Pusher's server libraries take as `encryptionMasterKeyBase64`).
pub(super) fn parse_master_key(value: &str) -> Result<Secret, String> {
    let v = value.trim();
    if !v.is_empty() && decode_master_key(v).is_none() {
        return Err("must be the base64 of 32 bytes (for example the output of \
                    `openssl rand -base64 32`)"
            .into());
    }
    Secret::parse_any(v)
}

fn decode_master_key(v: &str) -> Option<[u8; 32]> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(v).ok()?;
    bytes.try_into().ok()
}

impl Config {
    /// The 32 bytes of `push.pusher_encryption_master_key`, if it is set.
    pub fn pusher_master_key(&self) -> Option<[u8; 32]> {
        let text = std::str::from_utf8(self.pusher_encryption_master_key.expose()).ok()?;
        decode_master_key(text)
    }
}

/// An app id or key: empty, or 1–64 characters of `A-Z a-z 0-9 _ . -`
/// (Pusher's are digits and hex; Reverb's are random letters and digits).
fn parse_name(value: &str) -> Result<String, String> {
    let v = value.trim();
    let ok = v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(v.to_owned())
    } else {
        Err("use at most 64 characters of A-Z a-z 0-9 _ . -".into())
    }
}

pub(super) fn parse_app_id(value: &str) -> Result<String, String> {
    parse_name(value)
}

pub(super) fn parse_key(value: &str) -> Result<String, String> {
    parse_name(value)
}

/// A webhook URL: empty (none), or `http://host[:port][/path]` (plain
/// HTTP: put a proxy in front for HTTPS).
pub(super) fn parse_webhook_url(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    let ok = v.len() <= 2048
        && v.strip_prefix("http://").is_some_and(|rest| {
            let authority = rest.split('/').next().unwrap_or("");
            !authority.is_empty() && !authority.contains('@')
        })
        && v.parse::<hyper::Uri>().is_ok();
    if ok {
        Ok(v.to_owned())
    } else {
        Err(
            "use http://host[:port]/path (plain HTTP, at most 2048 characters), or empty for none"
                .into(),
        )
    }
}
