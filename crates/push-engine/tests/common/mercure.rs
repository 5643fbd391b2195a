//! What the Mercure hub's tests share: its keys, form bodies, publishing
//! with a token, and opening a stream; for the 1.0 dialect, a hub, access
//! tokens signed with any header, and the refusals' shape.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use push_engine::auth::token;
use serde_json::{json, Value};
use sha2::Sha256;

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

/// The hub's URL as the test client names it (`Host: localhost`).
pub const HUB_URL: &str = "http://localhost/.well-known/mercure";
pub const METADATA: &str = "/.well-known/oauth-protected-resource/.well-known/mercure";

pub async fn hub_with(tweak: impl FnOnce(&mut push_engine::config::Config)) -> Server {
    Server::start_with(|c| {
        c.set("mercure", "On").unwrap();
        c.set("mercure_publisher_key", KEY).unwrap();
        c.set("mercure_subscriber_key", SUBSCRIBER_KEY).unwrap();
        c.mercure_anonymous = true;
        c.mercure_history = 10;
        tweak(c);
    })
    .await
}

/// A JWT with any header, signed with `key`.
pub fn signed(key: &str, header: &str, claims: &Value) -> String {
    let mut t = URL_SAFE_NO_PAD.encode(header);
    t.push('.');
    t.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut mac = <Hmac<Sha256>>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{t}.{sig}")
}

/// A 1.0 access token's claims: `aud` the hub, an hour to live, `details`.
pub fn claims(details: Value) -> Value {
    json!({
        "aud": HUB_URL,
        "exp": token::now() + 3600.0,
        "sub": "42",
        "authorization_details": details,
    })
}

pub fn access_token(key: &str, claims: &Value) -> String {
    signed(key, r#"{"alg":"HS256","typ":"at+jwt"}"#, claims)
}

pub fn grant(actions: &[&str], topics: Value) -> Value {
    json!([{"type": "mercure", "actions": actions, "topics": topics}])
}

pub fn publisher() -> String {
    access_token(KEY, &claims(grant(&["publish"], json!([{"match": "*"}]))))
}

pub async fn publish(server: &Server, pairs: &[(&str, &str)]) -> String {
    publish_with(server, &publisher(), pairs).await
}

/// A subscription URL from query pairs.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    format!("{HUB}?{}", q.join("&"))
}

/// A refusal: its status and its challenge's parts.
pub fn refused(r: &Response, status: u16, error: Option<&str>, reason: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer realm=\"mercure\""),
        "{challenge}"
    );
    match error {
        Some(e) => assert!(
            challenge.contains(&format!("error=\"{e}\"")),
            "{e} in {challenge}"
        ),
        None => {
            assert!(!challenge.contains("error="), "no error code: {challenge}");
            let metadata = format!("resource_metadata=\"http://localhost{METADATA}\"");
            assert!(challenge.contains(&metadata), "{challenge}");
        }
    }
    assert!(r.text().contains(reason), "{reason:?} in {}", r.text());
}

// Tokens made here with push's own codec, a classic subscriber and a
// publisher with any key (push.mercure_channels, subscriptions, Redis).

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
pub async fn publish_keyed(server: &Server, key: &str, pairs: &[(&str, &str)]) -> String {
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
