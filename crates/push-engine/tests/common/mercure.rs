//! A Mercure client for the hub's tests: tokens signed with push's codec,
//! a subscriber's stream opened past its first `:` comment, a publisher's
//! form POST.

use push_engine::auth::token;
use serde_json::{json, Value};

use super::*;

/// The hub's path.
pub const HUB: &str = "/.well-known/mercure";

/// An HS256 JWT of `claims` under `key`.
pub fn jwt(key: &str, claims: Value) -> String {
    token::sign(key.as_bytes(), claims.to_string().as_bytes())
}

/// `Authorization: Bearer` of a subscriber's token granting `selectors`.
pub fn bearer(key: &str, selectors: &[&str]) -> String {
    format!(
        "Bearer {}",
        jwt(key, json!({"mercure": {"subscribe": selectors}}))
    )
}

/// Subscribes to `topic`; the stream is past its first `:` comment.
pub async fn subscribe(server: &Server, topic: &str, headers: &[(&str, &str)]) -> Sse {
    let mut sse = sse_open(server.addr, &format!("{HUB}?topic={}", enc(topic)), headers).await;
    assert_eq!(sse.next().await, Some(SseItem::Comment(String::new())));
    sse
}

/// Publishes the form `pairs` with a token of `key` granting every topic;
/// returns the update's id.
pub async fn publish(server: &Server, key: &str, pairs: &[(&str, &str)]) -> String {
    let auth = format!(
        "Bearer {}",
        jwt(key, json!({"mercure": {"publish": ["*"]}}))
    );
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    let r = post(
        server.addr,
        HUB,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body.join("&").as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}
