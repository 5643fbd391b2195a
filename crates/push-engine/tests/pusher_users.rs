//! Pusher user authentication with a real client (tokio-tungstenite):
//! `pusher:signin` and its refusals, `#server-to-user-{id}` reaching that
//! user only, `POST users/{id}/terminate_connections`, on one engine and
//! across two engines on Redis.

mod common;

use std::time::Duration;

use common::pusher::*;
use common::*;
use push_engine::auth::signature::sign_hex;
use serde_json::{json, Value};

/// A `pusher:signin`'s data for a socket id.
type Signin<'a> = Box<dyn Fn(&str) -> Value + 'a>;

/// Connects to `server` and signs in as `id`.
async fn signed_in(server: &Server, id: &str) -> Ws {
    let (mut ws, socket) = connect(server).await;
    sign_in(&mut ws, &socket, id).await;
    ws
}

async fn send_to_user(server: &Server, id: &str, event: &str, payload: &str) {
    let r = post_signed(
        server,
        "events",
        &json!({ "name": event, "channel": format!("#server-to-user-{id}"), "data": payload }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({}));
}

async fn terminate(server: &Server, id: &str) -> Response {
    post_signed(
        server,
        &format!("users/{id}/terminate_connections"),
        &json!({}),
    )
    .await
}

/// The connection is still served: a ping is answered.
async fn alive(ws: &mut Ws) {
    send(ws, json!({ "event": "pusher:ping", "data": {} })).await;
    assert_eq!(next(ws).await["event"], "pusher:pong");
}

#[tokio::test]
async fn server_to_user_reaches_that_user_only() {
    let server = start().await;
    let mut alice = signed_in(&server, "alice").await;
    let mut alice_too = signed_in(&server, "alice").await;
    let mut bob = signed_in(&server, "bob").await;
    let (mut anonymous, _) = connect(&server).await;

    // pusher-js subscribes to its own #server-to-user- channel: answered.
    let own = subscribe(&mut alice, "#server-to-user-alice", None, None).await;
    assert_eq!(own["event"], "pusher_internal:subscription_succeeded");
    assert_eq!(own["channel"], "#server-to-user-alice");
    // Another user's, or without signing in: refused.
    for (ws, channel) in [
        (&mut alice, "#server-to-user-bob"),
        (&mut anonymous, "#server-to-user-alice"),
    ] {
        let e = subscribe(ws, channel, None, None).await;
        assert_eq!(e["event"], "pusher:subscription_error", "{e}");
        assert_eq!(data(&e)["status"], 403);
    }

    send_to_user(&server, "alice", "hello", "{\"n\":1}").await;
    for ws in [&mut alice, &mut alice_too] {
        let m = next(ws).await;
        assert_eq!(
            (m["event"].as_str(), m["channel"].as_str(), data(&m)),
            (
                Some("hello"),
                Some("#server-to-user-alice"),
                json!({ "n": 1 })
            )
        );
    }
    ws_quiet(&mut bob, Duration::from_millis(200)).await;
    ws_quiet(&mut anonymous, Duration::from_millis(10)).await;

    // To a user connected nowhere: nothing is kept for it (no channel,
    // no history) on an engine without a shared broker.
    send_to_user(&server, "nobody", "hello", "x").await;
    let r = terminate(&server, "nobody").await;
    assert_eq!((r.status, r.json()), (200, json!({})));
    assert!(server.hub.history(".push/pusher-user/nobody").is_none());
    assert!(server.hub.history(".push/pusher-user/alice").is_some());

    // The user's channel is not a channel of the app's.
    let r = get_signed(&server, "channels", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({ "channels": {} }), "{}", r.text());

    // A bad user id is refused.
    let r = post_signed(
        &server,
        "events",
        &json!({ "name": "e", "channel": "#server-to-user-a b", "data": "x" }),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
}

#[tokio::test]
async fn a_bad_signin_is_an_error_and_closes_4009() {
    let server = start().await;
    let user_data = json!({ "id": "alice" }).to_string();
    let cases: Vec<Signin<'_>> = vec![
        // Signed for another socket.
        Box::new(|_| json!({ "auth": user_auth("1.2", &user_data), "user_data": user_data })),
        // Signed with another secret.
        Box::new(|s| {
            let sig = sign_hex(
                b"another-secret",
                format!("{s}::user::{user_data}").as_bytes(),
            );
            json!({ "auth": format!("{KEY}:{sig}"), "user_data": user_data })
        }),
        // Another key.
        Box::new(|s| {
            let a = user_auth(s, &user_data).replacen(KEY, "other-key", 1);
            json!({ "auth": a, "user_data": user_data })
        }),
        // user_data altered after signing.
        Box::new(|s| json!({ "auth": user_auth(s, &user_data), "user_data": "{\"id\":\"bob\"}" })),
        // Signed, but no id (or not a string).
        Box::new(|s| {
            let ud = "{\"name\":\"x\"}";
            json!({ "auth": user_auth(s, ud), "user_data": ud })
        }),
        Box::new(|s| {
            let ud = "{\"id\":7}";
            json!({ "auth": user_auth(s, ud), "user_data": ud })
        }),
        // No auth.
        Box::new(|_| json!({ "user_data": user_data })),
    ];
    for (n, case) in cases.iter().enumerate() {
        let (mut ws, socket) = connect(&server).await;
        send(
            &mut ws,
            json!({ "event": "pusher:signin", "data": case(&socket) }),
        )
        .await;
        let e = next(&mut ws).await;
        assert_eq!(e["event"], "pusher:error", "case {n}: {e}");
        assert_eq!(e["data"]["code"], 4009, "case {n}");
        assert_eq!(ws_close_code(&mut ws).await, 4009, "case {n}");
    }
}

#[tokio::test]
async fn terminate_connections_closes_the_users_connections_only() {
    let server = start().await;
    let mut alice = signed_in(&server, "alice").await;
    let mut alice_too = signed_in(&server, "alice").await;
    let mut bob = signed_in(&server, "bob").await;
    let r = terminate(&server, "alice").await;
    assert_eq!((r.status, r.json()), (200, json!({})), "{}", r.text());
    assert_eq!(ws_close_code(&mut alice).await, 4009);
    assert_eq!(ws_close_code(&mut alice_too).await, 4009);
    alive(&mut bob).await;

    // Where PyPI's pusher 3.3.4 sends it: without the /apps/{id} prefix.
    let mut carl = signed_in(&server, "carl").await;
    let path = "/users/carl/terminate_connections";
    let q = signed("POST", path, b"{}", &[], now());
    let r = post(
        server.addr,
        &format!("{path}?{q}"),
        &[("Content-Type", "application/json")],
        b"{}",
    )
    .await;
    assert_eq!((r.status, r.json()), (200, json!({})), "{}", r.text());
    assert_eq!(ws_close_code(&mut carl).await, 4009);

    // Refusals: a bad user id, a bad signature.
    assert_eq!(terminate(&server, "a%20b").await.status, 400);
    let r = post(
        server.addr,
        &format!("/apps/{APP_ID}/users/bob/terminate_connections?auth_key={KEY}"),
        &[("Content-Type", "application/json")],
        b"{}",
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.json()["error"].is_string());
    alive(&mut bob).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_engines_on_redis_users_are_reached_and_terminated_everywhere() {
    let redis = common::redis::RedisServer::start();
    let one = common::redis::engine(&redis, pusher_settings).await;
    let two = common::redis::engine(&redis, pusher_settings).await;
    let mut on_one = signed_in(&one, "carol").await;
    let mut on_two = signed_in(&two, "carol").await;
    let mut dave = signed_in(&two, "dave").await;
    one.wait_subscribers(1).await;
    two.wait_subscribers(2).await;

    send_to_user(&one, "carol", "note", "x").await;
    for ws in [&mut on_one, &mut on_two] {
        let m = next(ws).await;
        assert_eq!(
            (m["event"].as_str(), m["data"].as_str()),
            (Some("note"), Some("x"))
        );
    }
    ws_quiet(&mut dave, Duration::from_millis(200)).await;

    let r = terminate(&two, "carol").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ws_close_code(&mut on_one).await, 4009);
    assert_eq!(ws_close_code(&mut on_two).await, 4009);
    alive(&mut dave).await;
}
