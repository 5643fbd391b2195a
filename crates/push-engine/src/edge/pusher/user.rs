//! User authentication: `pusher:signin` with `{auth, user_data}`, where
//! `auth` is `key:hex(HMAC_SHA256(secret, "socket_id::user::user_data"))`
//! (what an app's `/broadcasting/user-auth` endpoint answers, [`grant`]),
//! answered `pusher:signin_success`, or `pusher:error` and close 4009.
//!
//! A signed-in connection receives the events sent to
//! `#server-to-user-{id}` (the HTTP API's `POST events` to that channel,
//! what Pusher's `sendToUser` does), and is closed (4009) by
//! `POST users/{id}/terminate_connections`. Both travel on the user's
//! reserved hub channel ([`hub_channel`]), so they reach the user's
//! connections on every engine sharing a broker. A client may subscribe to
//! its own `#server-to-user-{id}` (pusher-js does, after signing in; it is
//! answered, and changes nothing) and to no other.

use serde_json::{json, Value};

use super::channels::{signed, valid_socket_id, verify, GrantError, MAX_CHANNEL_LEN};
use super::frame::{self, Incoming};
use super::session::{End, Session};
use super::CLOSE_UNAUTHORIZED;
use crate::config::Config;
use crate::edge::transport::feed::Feed;
use crate::hub::Cursor;
use crate::message::{Publication, RESERVED_PREFIX};

/// The channel a user's events are sent to, as clients and the HTTP API
/// name it: `#server-to-user-{id}`.
pub const SERVER_TO_USER: &str = "#server-to-user-";

/// The event, on a user's hub channel, that closes the user's
/// connections: a `pusher_internal:` name, which no publisher may send.
pub const TERMINATE: &str = "pusher_internal:terminate";

/// The reserved hub channel of user `id` (for the engine's use only).
pub fn hub_channel(id: &str) -> String {
    format!("{RESERVED_PREFIX}pusher-user/{id}")
}

/// Whether `id` is a user id push serves: 1 to 200 characters of
/// `[-a-zA-Z0-9_=@,.;]` (Pusher's channel alphabet: Laravel's numbers and
/// UUIDs are).
pub fn valid_user_id(id: &str) -> bool {
    super::channels::valid_name(id) && id.len() <= MAX_CHANNEL_LEN
}

/// The user of a `#server-to-user-{id}` channel name.
pub fn user_of(channel: &str) -> Option<&str> {
    channel.strip_prefix(SERVER_TO_USER)
}

/// The `id` of `user_data`, a JSON object whose `id` is a string.
fn user_id(user_data: &str) -> Option<String> {
    let v: Value = serde_json::from_str(user_data).ok()?;
    match v.get("id")? {
        Value::String(id) if valid_user_id(id) => Some(id.clone()),
        _ => None,
    }
}

/// What an app's `/broadcasting/user-auth` endpoint answers for
/// `socket_id` signing in with `user_data` (a JSON object with a string
/// `id`): `{"auth":"key:signature","user_data":"…"}`, what Pusher's
/// server libraries' `authenticateUser` returns.
pub fn grant(config: &Config, socket_id: &str, user_data: &str) -> Result<String, GrantError> {
    if !config.pusher() {
        return Err(GrantError::Off);
    }
    if !valid_socket_id(socket_id) {
        return Err(GrantError::SocketId);
    }
    user_id(user_data).ok_or(GrantError::UserData)?;
    let auth = signed(config, &format!("{socket_id}::user::{user_data}"));
    Ok(json!({ "auth": auth, "user_data": user_data }).to_string())
}

impl Session {
    /// `pusher:signin`: a good signature signs the connection in as the
    /// user of `user_data` (a later signin replaces it); a bad one, or bad
    /// user data, is an error and closes the connection (4009: pusher-js
    /// does not reconnect).
    pub(super) async fn signin(&mut self, incoming: &Incoming, feed: &mut Feed) -> Result<(), End> {
        let refuse = |why: &str| End::Close(CLOSE_UNAUTHORIZED, format!("signin refused: {why}"));
        let (Some(auth), Some(user_data)) = (incoming.text("auth"), incoming.text("user_data"))
        else {
            return Err(self.refused(refuse("pusher:signin needs data.auth and data.user_data")));
        };
        let message = format!("{}::user::{user_data}", self.socket_id);
        if !verify(self.hub.config(), &message, &auth) {
            return Err(self.refused(refuse("invalid signature")));
        }
        let Some(id) = user_id(&user_data) else {
            return Err(self.refused(refuse(
                "user_data must be a JSON object whose id is 1 to 200 characters of \
                 A-Z a-z 0-9 - _ = @ , . ;",
            )));
        };
        let channel = hub_channel(&id);
        let sub = match Box::pin(self.hub.join_reserved(&channel, Cursor::Live)).await {
            Ok(sub) => sub,
            Err(e) => {
                self.send(&frame::error(None, &format!("signin failed: {e}")));
                return Ok(());
            }
        };
        if let Some((_, old)) = self.user.take() {
            feed.remove(&old);
        }
        self.user = Some((id, sub.channel().clone()));
        feed.add(sub);
        let answer = frame::event(
            "pusher:signin_success",
            None,
            &json!({ "user_data": user_data }),
        );
        self.send(&answer);
        Ok(())
    }

    /// `pusher:error` with the close's code and reason, then the close.
    fn refused(&mut self, end: End) -> End {
        if let End::Close(code, reason) = &end {
            self.send(&frame::error(Some(*code), reason));
        }
        end
    }

    /// `pusher:subscribe` to `#server-to-user-{id}`: answered for the
    /// signed-in user's own, refused for any other.
    pub(super) fn subscribe_user(&mut self, channel: &str, id: &str) {
        if self.user.as_ref().is_some_and(|(mine, _)| mine == id) {
            self.succeeded(channel, None);
        } else {
            let e = frame::subscription_error(
                channel,
                "AuthError",
                "#server-to-user- channels are the signed-in user's own (pusher:signin)",
                403,
            );
            self.send(&e);
        }
    }

    /// A publication of the signed-in user's hub channel: an event for the
    /// user (sent, `Some(Ok)`), or the order to close (`Some(Err)`); `None`
    /// for any other channel's.
    pub(super) fn for_user(&mut self, p: &Publication) -> Option<Result<(), End>> {
        let (id, channel) = self.user.as_ref()?;
        if *channel != p.channel {
            return None;
        }
        let event = p.event.as_deref().unwrap_or(super::DEFAULT_EVENT);
        if event == TERMINATE {
            return Some(Err(End::Close(
                CLOSE_UNAUTHORIZED,
                "the app terminated this user's connections".into(),
            )));
        }
        if frame::reserved(event) {
            return Some(Ok(()));
        }
        let to = format!("{SERVER_TO_USER}{id}");
        let frame = json!({ "event": event, "channel": to, "data": p.data_text() });
        self.send(frame.to_string().as_bytes());
        Some(Ok(()))
    }
}
