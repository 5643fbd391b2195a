//! Pusher frames: `{"event", "channel", "data"}` as JSON text. What the
//! server sends as `data` is a JSON-encoded string (pusher-js decodes it),
//! except `pusher:error`'s, an object, as Pusher sends it.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::Data;

use super::{DEFAULT_EVENT, DEFLATED_SLOT, FRAME_SLOT, PLAIN_SLOT};
use crate::edge::transport::tap;
use crate::edge::transport::wire::{deflated_frame, put_frame};
use crate::hub::presence::{Change, Member};
use crate::message::Publication;

/// A frame from a client.
#[derive(Debug, Deserialize)]
pub struct Incoming {
    pub event: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub data: Value,
}

impl Incoming {
    /// A field of `data`: pusher-js sends an object, some clients a
    /// JSON-encoded string of one.
    pub fn field(&self, name: &str) -> Option<Value> {
        match &self.data {
            Value::Object(map) => map.get(name).cloned(),
            Value::String(s) => serde_json::from_str::<Value>(s)
                .ok()
                .and_then(|v| v.get(name).cloned()),
            _ => None,
        }
    }

    /// A string field of `data`.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.field(name)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// A server event: `data` (any JSON) sent as a JSON-encoded string.
pub fn event(event: &str, channel: Option<&str>, data: &Value) -> Vec<u8> {
    let mut v = json!({ "event": event, "data": data.to_string() });
    if let Some(c) = channel {
        v["channel"] = c.into();
    }
    v.to_string().into_bytes()
}

/// `pusher:error`, its data an object `{code, message}`.
pub fn error(code: Option<u16>, message: &str) -> Vec<u8> {
    json!({
        "event": "pusher:error",
        "data": { "code": code, "message": message },
    })
    .to_string()
    .into_bytes()
}

/// `pusher:subscription_error` for `channel`: `{type, error, status}`.
/// A member's user_info as pusher-js reads it: the JSON value given, or
/// null.
fn info(member: &Member) -> Value {
    member
        .info
        .as_deref()
        .and_then(|i| serde_json::from_str(i).ok())
        .unwrap_or(Value::Null)
}

/// `pusher_internal:subscription_succeeded`, with the members of a
/// presence channel: `{presence: {ids, hash, count}}`.
pub fn subscription_succeeded(channel: &str, members: Option<&[Member]>) -> Vec<u8> {
    let data = match members {
        None => json!({}),
        Some(members) => {
            let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
            let hash: serde_json::Map<String, Value> =
                members.iter().map(|m| (m.id.clone(), info(m))).collect();
            json!({ "presence": { "ids": ids, "hash": hash, "count": members.len() } })
        }
    };
    event(
        "pusher_internal:subscription_succeeded",
        Some(channel),
        &data,
    )
}

/// `pusher_internal:member_added` or `member_removed`, and its channel.
pub fn member_notice(change: Change) -> (std::sync::Arc<str>, Vec<u8>) {
    let (channel, name, data) = match change {
        Change::Joined(channel, member) => {
            let data = json!({ "user_id": member.id, "user_info": info(&member) });
            (channel, "pusher_internal:member_added", data)
        }
        Change::Left(channel, id) => (
            channel,
            "pusher_internal:member_removed",
            json!({ "user_id": id }),
        ),
    };
    let frame = event(name, Some(&channel), &data);
    (channel, frame)
}

pub fn subscription_error(channel: &str, kind: &str, error: &str, status: u16) -> Vec<u8> {
    event(
        "pusher:subscription_error",
        Some(channel),
        &json!({ "type": kind, "error": error, "status": status }),
    )
}

/// Whether a publication's event name is the protocol's own, which no
/// publisher may send to Pusher clients (`pusher:…`, `pusher_internal:…`).
pub fn reserved(event: &str) -> bool {
    event.starts_with("pusher:") || event.starts_with("pusher_internal:")
}

/// A publication as Pusher clients receive it, built once and shared by
/// every subscriber: its event name ([`DEFAULT_EVENT`] without one), its
/// channel, its data as text (base64 when binary), and the sender's
/// `user_id` when a presence member sent it.
pub fn publication(p: &Publication) -> &Bytes {
    p.shared_frame(FRAME_SLOT, |p| {
        let mut v = json!({
            "event": p.event.as_deref().unwrap_or(DEFAULT_EVENT),
            "channel": &*p.channel,
            "data": p.data_text(),
        });
        if let Some(user) = p.origin.as_ref().and_then(|o| o.user.as_deref()) {
            v["user_id"] = user.into();
        }
        Bytes::from(v.to_string())
    })
}

/// A publication's WebSocket frame for Pusher clients: with
/// permessage-deflate (`compress`: from `push.ws_compression_min_size` on)
/// compressed, else plain. The same bytes for every subscriber, built
/// once.
pub fn ws(p: &Publication, compress: Option<usize>) -> &Bytes {
    if compress.is_some_and(|min| publication(p).len() >= min) {
        let packed = p.shared_frame(DEFLATED_SLOT, |p| {
            deflated_frame(Data::Text, publication(p))
        });
        if !packed.is_empty() {
            return packed;
        }
    }
    p.shared_frame(PLAIN_SLOT, |p| {
        let event = publication(p);
        let mut frame = Vec::with_capacity(event.len() + 10);
        put_frame(&mut frame, Data::Text, event);
        Bytes::from(frame)
    })
}

/// Whether connection `socket_id`, on `p`'s channel, is sent `p`: not
/// when it sent the client event itself, nor an event of the protocol's
/// own names.
pub fn is_for(p: &Publication, socket_id: &str) -> bool {
    let ours = p.origin.as_ref().is_some_and(|o| o.connection == socket_id);
    let reserved = p.event.as_deref().is_some_and(reserved);
    !ours && !reserved
}

/// What the publisher writes to an idle Pusher connection of one channel
/// (`transport/tap`): the same frames, skipping the same publications, as
/// its session would.
#[derive(Debug)]
pub struct Pick {
    pub socket_id: String,
    pub compress: Option<usize>,
}

impl tap::Pick for Pick {
    fn pick<'a>(&self, p: &'a Publication) -> Option<&'a Bytes> {
        is_for(p, &self.socket_id).then(|| ws(p, self.compress))
    }
}
