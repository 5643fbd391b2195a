//! Helpers for the private-channel tests (auth.rs, auth_carriers.rs,
//! auth_connected.rs): the secret, signed tokens, a private engine's
//! settings, a refusal's status and body, and a subscriber that must keep
//! receiving.

use push_engine::auth::token::{self, now};
use push_engine::Config;
use serde_json::{json, Value};

use super::*;

pub const SECRET: &str = "auth-test-secret-0123456789abcdef";

/// Signs any claims with `SECRET`.
pub fn sign(claims: &Value) -> String {
    token::sign(SECRET.as_bytes(), claims.to_string().as_bytes())
}

/// A token for `channels`, valid for `ttl` seconds.
pub fn grant(channels: &[&str], ttl: f64) -> String {
    sign(&json!({ "channels": channels, "exp": now() + ttl }))
}

/// A secret and private channels; keep-alives far apart, so that a
/// WebSocket the test does not read for a while is not taken for dead.
pub fn private(c: &mut Config) {
    c.keepalive = Duration::from_secs(30);
    c.set("secret", SECRET).unwrap();
    c.set("private_channels", "private.*, room").unwrap();
}

/// The status and body of a GET (an SSE or long-poll refusal) or of a
/// WebSocket handshake (paths starting with /ws or /?).
pub async fn refusal(server: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    if path.starts_with("/ws") || path.starts_with("/?") {
        return match ws_try(server.addr, path, headers).await {
            Ok(_) => (101, String::new()),
            Err(refused) => refused,
        };
    }
    let r = get_with(server.addr, path, headers).await;
    (r.status, r.text())
}

/// A subscriber that must keep receiving whatever other clients do.
pub struct Bystander {
    ws: Ws,
    sent: usize,
}

impl Bystander {
    pub async fn open(server: &Server) -> Bystander {
        let token = grant(&["private.calm"], 3600.0);
        let ws = ws_open(server.addr, &format!("/ws/private.calm?token={token}")).await;
        server.wait_subscribers(1).await;
        Bystander { ws, sent: 0 }
    }

    pub async fn still_receives(&mut self, server: &Server) {
        self.sent += 1;
        let text = format!("calm {}", self.sent);
        server.publish("private.calm", text.clone());
        assert_eq!(ws_text(&mut self.ws).await, text);
    }
}
