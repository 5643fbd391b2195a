//! Channel kinds and their auth.
//!
//! - public: any name without the prefixes below;
//! - `private-…`: `auth` is `key:hex(HMAC_SHA256(secret, "socket_id:channel"))`;
//! - `private-encrypted-…`: authorised as private ones; the app's answer
//!   ([`grant`]) also carries the channel's `shared_secret`, derived from
//!   `push.pusher_encryption_master_key`;
//! - `presence-…`: the same over `"socket_id:channel:channel_data"`, with
//!   `channel_data` (`{"user_id", "user_info"}`) used byte for byte as the
//!   client sent it.
//!
//! Signatures are compared in constant time ([`crate::auth::signature`]).

use serde_json::Value;

use crate::auth::signature::{sign_hex, verify_hex};
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

/// Longest socket id accepted from outside (the engine's own are about
/// 20 characters).
pub const MAX_SOCKET_ID_LEN: usize = 64;

/// Whether `id` is a Pusher socket id: `digits.digits` (`\d+\.\d+`, as
/// Pusher's server libraries check it), at most 64 characters.
pub fn valid_socket_id(id: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    id.len() <= MAX_SOCKET_ID_LEN
        && id
            .split_once('.')
            .is_some_and(|(a, b)| digits(a) && digits(b))
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

/// Why [`grant`] would not sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantError {
    /// `push.pusher_key` / `push.pusher_secret` are not set.
    Off,
    /// The socket id is not `digits.digits`.
    SocketId,
    /// Not a `private-` or `presence-` channel name of Pusher's alphabet.
    Channel,
    /// A presence channel without channel data, or data with no `user_id`.
    ChannelData,
    /// Channel data given for a channel that is not a presence channel.
    NotPresence,
    /// A `private-encrypted-` channel without
    /// `push.pusher_encryption_master_key` to derive its key from.
    NoMasterKey,
    /// User data that is not a JSON object with an `id` of Pusher's user
    /// id alphabet ([`super::user::valid_user_id`]).
    UserData,
}

/// What an app's `/broadcasting/auth` endpoint answers for `socket_id` on
/// `channel` (a `private-` or `presence-` channel; a presence channel with
/// its `channel_data`, a JSON object with a `user_id`): the JSON object
/// `{"auth":"key:signature"}`, with `"channel_data"` for a presence
/// channel — what Pusher's server libraries' `authorizeChannel` returns.
pub fn grant(
    config: &Config,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
) -> Result<String, GrantError> {
    if !config.pusher() {
        return Err(GrantError::Off);
    }
    if !valid_socket_id(socket_id) {
        return Err(GrantError::SocketId);
    }
    let kind = Kind::of(channel);
    if !valid_name(channel) || kind == "public" {
        return Err(GrantError::Channel);
    }
    let signed = |message: String| signed(config, &message);
    let answer = match (kind, channel_data) {
        ("presence", Some(data)) => {
            member(data).ok_or(GrantError::ChannelData)?;
            serde_json::json!({
                "auth": signed(format!("{socket_id}:{channel}:{data}")),
                "channel_data": data,
            })
        }
        ("presence", None) => return Err(GrantError::ChannelData),
        (_, Some(_)) => return Err(GrantError::NotPresence),
        (_, None) if is_encrypted(channel) => {
            let key = config.pusher_master_key().ok_or(GrantError::NoMasterKey)?;
            serde_json::json!({
                "auth": signed(format!("{socket_id}:{channel}")),
                "shared_secret": shared_secret(channel, &key),
            })
        }
        (_, None) => serde_json::json!({ "auth": signed(format!("{socket_id}:{channel}")) }),
    };
    Ok(answer.to_string())
}

/// Whether `channel` is end-to-end encrypted (`private-encrypted-…`):
/// authorised as a private channel, its payloads relayed untouched, no
/// client events.
pub fn is_encrypted(channel: &str) -> bool {
    channel.starts_with("private-encrypted-")
}

/// An encrypted channel's key, as Pusher's server libraries derive it:
/// `base64(SHA256(channel ‖ master key))`.
pub fn shared_secret(channel: &str, master_key: &[u8; 32]) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(channel.as_bytes());
    hash.update(master_key);
    base64::engine::general_purpose::STANDARD.encode(hash.finalize())
}

/// `key:hex(HMAC_SHA256(secret, message))`: a channel's or a user's auth
/// as the app's endpoint answers it.
pub fn signed(config: &Config, message: &str) -> String {
    let secret = config.pusher_secret.expose();
    format!(
        "{}:{}",
        config.pusher_key,
        sign_hex(secret, message.as_bytes())
    )
}

/// Whether `auth` is `key:signature` of `message` under this app's key and
/// secret, compared in constant time.
pub fn verify(config: &Config, message: &str, auth: &str) -> bool {
    auth.split_once(':').is_some_and(|(key, signature)| {
        key == config.pusher_key
            && verify_hex(config.pusher_secret.expose(), message.as_bytes(), signature)
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
