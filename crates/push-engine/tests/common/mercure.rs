//! What the Mercure hub's tests share: its keys, form bodies, publishing
//! with a token, and opening a stream.

use super::*;

pub const HUB: &str = "/.well-known/mercure";
pub const KEY: &str = "mercure-publisher-key-0123456789abcdef";
pub const SUBSCRIBER_KEY: &str = "mercure-subscriber-key-0123456789abcdef";
pub const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// A form body from pairs.
pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// Publishes the form `pairs` with `token` as a bearer.
pub async fn publish_as(server: &Server, token: &str, pairs: &[(&str, &str)]) -> Response {
    let auth = format!("Bearer {token}");
    post(
        server.addr,
        HUB,
        &[("Authorization", &auth), FORM],
        &form(pairs),
    )
    .await
}

/// Publishes with `token` and returns the update's id.
pub async fn publish_with(server: &Server, token: &str, pairs: &[(&str, &str)]) -> String {
    let r = publish_as(server, token, pairs).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    r.text()
}

/// Opens a stream and reads its first comment (the headers are flushed).
pub async fn open(server: &Server, path: &str, headers: &[(&str, &str)]) -> Sse {
    let mut sse = sse_open(server.addr, path, headers).await;
    assert_eq!(sse.header("content-type"), Some("text/event-stream"));
    assert_eq!(sse.next().await, Some(SseItem::Comment(String::new())));
    sse
}
