//! Channel kinds and their auth.
//!
//! - public: any name without the prefixes below;
//! - `private-…`: `auth` is `key:hex(HMAC_SHA256(secret, "socket_id:channel"))`;
//! - `presence-…`: the same over `"socket_id:channel:channel_data"`, with
//!   `channel_data` (`{"user_id", "user_info"}`) used byte for byte as the
//!   client sent it.
//!
//! Signatures are compared in constant time ([`crate::auth::signature`]).

use serde_json::Value;

use crate::auth::signature::verify_hex;
use crate::config::Config;
use crate::hub::presence::Member;

/// Pusher's limit on a channel name (push's own is longer).
pub const MAX_CHANNEL_LEN: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Public,
    Private,
    /// A presence channel, and the member this connection is on it.
    Presence(Member),
}

impl Kind {
    pub fn of(channel: &str) -> &'static str {
        if channel.starts_with("presence-") {
            "presence"
        } else if channel.starts_with("private-") {
            "private"
        } else {
            "public"
        }
    }
}

/// Whether `name` is a Pusher channel name: 1 to 200 characters of
/// `[-a-zA-Z0-9_=@,.;]`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CHANNEL_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=@,.;".contains(&b))
}

/// A refusal: the `type`, the message, the HTTP-like `status` of
/// `pusher:subscription_error`.
pub type Refused = (&'static str, String, u16);

/// Checks a subscription's auth and says what kind of channel it is.
pub fn authorize(
    config: &Config,
    socket_id: &str,
    channel: &str,
    auth: Option<&str>,
    channel_data: Option<&str>,
) -> Result<Kind, Refused> {
    let kind = Kind::of(channel);
    if kind == "public" {
        return Ok(Kind::Public);
    }
    let Some(auth) = auth else {
        return Err((
            "AuthError",
            format!("channel {channel} needs auth (a {kind} channel)"),
            401,
        ));
    };
    let bad = || {
        (
            "AuthError",
            format!("invalid signature for channel {channel}"),
            401,
        )
    };
    let (key, signature) = auth.split_once(':').ok_or_else(bad)?;
    if key != config.pusher_key {
        return Err(bad());
    }
    let secret = config.pusher_secret.expose();
    if kind == "private" {
        let message = format!("{socket_id}:{channel}");
        return if verify_hex(secret, message.as_bytes(), signature) {
            Ok(Kind::Private)
        } else {
            Err(bad())
        };
    }
    let Some(data) = channel_data else {
        return Err((
            "AuthError",
            format!("channel {channel} needs channel_data (a presence channel)"),
            401,
        ));
    };
    let message = format!("{socket_id}:{channel}:{data}");
    if !verify_hex(secret, message.as_bytes(), signature) {
        return Err(bad());
    }
    member(data).map(Kind::Presence).ok_or_else(|| {
        (
            "InvalidChannelData",
            "channel_data must be a JSON object with a user_id".to_owned(),
            400,
        )
    })
}

/// The member `channel_data` describes: `user_id` (a string, or a number
/// written as a string), `user_info` (any JSON, kept as text).
pub fn member(channel_data: &str) -> Option<Member> {
    let v: Value = serde_json::from_str(channel_data).ok()?;
    let id = match v.get("user_id")? {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    if id.len() > MAX_CHANNEL_LEN {
        return None;
    }
    let info = v
        .get("user_info")
        .filter(|i| !i.is_null())
        .map(Value::to_string);
    Some(Member { id, info })
}
