//! What a subscription token governs once connected: a WebSocket closed
//! with 4003 and an SSE stream ended with `push-expired` when the token
//! expires (a bystander receiving throughout), and WebSocket clients
//! publishing to a private channel only with `publish: true`. Refusals:
//! `auth.rs`.

mod common;

use common::auth::*;
use common::*;
use futures_util::SinkExt;
use push_engine::auth::token::now;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

// ---------------------------------------------------------------- expiry

/// A server that takes no leeway on expiry, a bystander on a public channel,
/// and a token for `private.a` that expires in 3 s.
async fn expiring() -> (Server, Bystander, String) {
    let server = Server::start_with(|c| {
        private(c);
        c.set("token_leeway", "0").unwrap();
    })
    .await;
    let calm = Bystander::open(&server).await;
    (server, calm, grant(&["private.a"], 3.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_is_closed_with_4003_when_its_token_expires() {
    let (server, mut calm, token) = expiring().await;
    let mut ws = ws_open(server.addr, &format!("/ws/private.a?token={token}")).await;
    server.wait_subscribers(2).await;
    server.publish("private.a", "before");
    assert_eq!(ws_text(&mut ws).await, "before");
    calm.still_receives(&server).await;
    assert_eq!(ws_close_code(&mut ws).await, 4003);
    calm.still_receives(&server).await;
    server.wait_subscribers(1).await;
    // The same token no longer opens anything.
    let (status, body) = refusal(&server, &format!("/ws/private.a?token={token}"), &[]).await;
    assert_eq!(status, 401);
    assert!(body.contains("expired"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_stream_ends_with_push_expired_when_its_token_expires() {
    let (server, mut calm, token) = expiring().await;
    let mut sse = sse_open(server.addr, &format!("/sse/private.a?token={token}"), &[]).await;
    server.wait_subscribers(2).await;
    server.publish("private.a", "before");
    assert_eq!(sse.event().await.data(), "before");
    calm.still_receives(&server).await;
    let last = sse.event().await;
    assert_eq!(last.event.as_deref(), Some("push-expired"));
    assert!(last.data().contains("token expired"), "{last:?}");
    sse.end().await;
    calm.still_receives(&server).await;
    let r = get(
        server.addr,
        &format!("/poll/private.a?timeout=0&token={token}"),
    )
    .await;
    assert_eq!(r.status, 401, "a long-poll checks when it arrives");
}

// ---------------------------------------------------------------- publishing

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_clients_publish_to_private_channels_only_with_publish_true() {
    let server = Server::start_with(private).await; // push.client_publish Off
    let mut reader = ws_open(
        server.addr,
        &format!("/ws/room?token={}", grant(&["room"], 60.0)),
    )
    .await;
    let writer_token = sign(&json!({ "channels": ["room"], "publish": true, "exp": now() + 60.0 }));
    let mut writer = ws_open(server.addr, &format!("/ws/room?token={writer_token}")).await;
    server.wait_subscribers(2).await;
    writer.send(Message::text("hello room")).await.unwrap();
    assert_eq!(ws_text(&mut reader).await, "hello room");
    assert_eq!(ws_text(&mut writer).await, "hello room");
    reader.send(Message::text("sneaky")).await.unwrap();
    assert_eq!(ws_close_code(&mut reader).await, 1008);
    // A public channel keeps push.client_publish (Off), whatever the token says.
    let mut public = ws_open(server.addr, &format!("/ws/news?token={writer_token}")).await;
    public.send(Message::text("no")).await.unwrap();
    assert_eq!(ws_close_code(&mut public).await, 1008);
    writer.send(Message::text("still here")).await.unwrap();
    assert_eq!(ws_text(&mut writer).await, "still here");
}
