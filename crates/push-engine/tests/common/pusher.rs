//! A Pusher protocol 7 client over tokio-tungstenite for the tests that
//! need one beside another door (`pusher_except.rs`): connect, subscribe to
//! a public channel, read the next event.

use futures_util::SinkExt;
use serde_json::{json, Value};

use super::*;

pub const APP_ID: &str = "1234";
pub const KEY: &str = "app-key";
pub const SECRET: &str = "app-secret-0123456789";

/// The Pusher protocol on, with the app above.
pub fn settings(c: &mut Config) {
    c.pusher_app_id = APP_ID.into();
    c.pusher_key = KEY.into();
    c.set("pusher_secret", SECRET).expect("a valid secret");
}

/// A connected client and its socket id.
pub struct PusherClient {
    pub ws: Ws,
    pub socket_id: String,
}

impl PusherClient {
    /// Connects as pusher-js 8 does and reads `pusher:connection_established`.
    pub async fn connect(addr: SocketAddr) -> PusherClient {
        let path = format!("/app/{KEY}?protocol=7&client=js&version=8.4.0&flash=false");
        let mut ws = ws_open(addr, &path).await;
        let hello = ws_json(&mut ws).await;
        assert_eq!(hello["event"], "pusher:connection_established", "{hello}");
        let data: Value = serde_json::from_str(hello["data"].as_str().unwrap_or_default())
            .expect("connection_established data is JSON in a string");
        let socket_id = data["socket_id"].as_str().unwrap_or_default().to_owned();
        assert!(!socket_id.is_empty(), "{hello}");
        PusherClient { ws, socket_id }
    }

    /// Subscribes to a public channel and waits for its success.
    pub async fn subscribe(&mut self, channel: &str) {
        let frame = json!({ "event": "pusher:subscribe", "data": { "channel": channel } });
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("send pusher:subscribe");
        let ok = ws_json(&mut self.ws).await;
        assert_eq!(
            ok["event"], "pusher_internal:subscription_succeeded",
            "{ok}"
        );
        assert_eq!(ok["channel"], channel);
    }

    /// The next event: its name, channel and `data` (a string).
    pub async fn next(&mut self) -> (String, String, String) {
        let m = ws_json(&mut self.ws).await;
        let text = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
        (text("event"), text("channel"), text("data"))
    }
}
