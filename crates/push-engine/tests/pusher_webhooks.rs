//! Pusher webhooks with engines sharing one real `redis-server`: client
//! events POSTed once, with the user, and a failing receiver retried,
//! then counted in `/metrics`, a full queue dropping what does not fit.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;

use common::cluster::*;
use common::redis::RedisServer;
use common::*;
use serde_json::{json, Value};
use tokio::sync::mpsc;

#[tokio::test]
async fn client_events_are_posted_once_with_the_user() {
    let redis = RedisServer::start();
    let mut hooks = hooks().await;
    let one = common::redis::engine(&redis, settings(&hooks.url)).await;
    let two = common::redis::engine(&redis, settings(&hooks.url)).await;
    let room = "presence-chat";
    let (mut a, a_id) = connect(one.addr).await;
    join(&mut a, &a_id, room, "ann").await;
    let (mut b, b_id) = connect(two.addr).await;
    join(&mut b, &b_id, room, "bob").await;
    send(
        &mut a,
        json!({ "event": "client-typing", "channel": room, "data": { "n": 1 } }),
    )
    .await;
    // b joined after ann: its next frame is her event.
    assert_eq!(ws_json(&mut b).await["event"], "client-typing");
    let events = hooks.events(Duration::from_millis(600)).await;
    let client: Vec<&Value> = events
        .iter()
        .filter(|e| e["name"] == "client_event")
        .collect();
    assert_eq!(client.len(), 1, "{events:?}");
    let e = client[0];
    assert_eq!(e["channel"], room);
    assert_eq!(e["event"], "client-typing");
    assert_eq!(e["socket_id"], a_id.as_str());
    assert_eq!(e["user_id"], "ann");
    assert_eq!(
        serde_json::from_str::<Value>(e["data"].as_str().unwrap()).unwrap(),
        json!({ "n": 1 })
    );
    assert!(hooks.unsigned().is_empty());
}
#[tokio::test]
async fn failed_webhooks_are_retried_then_counted_and_a_full_queue_drops() {
    // A webhook server that refuses the first request, then takes them.
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/h",
        axum::routing::post(move |body: Bytes| {
            let (tx, seen) = (tx.clone(), seen.clone());
            async move {
                if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                let _ = tx.send(serde_json::from_slice(&body).unwrap_or(Value::Null));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/h", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let server = Server::start_with(|c| {
        settings(&url)(c);
        c.pusher_webhook_retries = 1;
    })
    .await;
    let (mut ws, _) = connect(server.addr).await;
    send(
        &mut ws,
        json!({ "event": "pusher:subscribe", "data": { "channel": "news" } }),
    )
    .await;
    ws_json(&mut ws).await;
    let body = tokio::time::timeout(2 * T, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        body["events"],
        json!([{ "name": "channel_occupied", "channel": "news" }])
    );
    use push_engine::metrics::Webhook;
    let m = server.hub.metrics().clone();
    eventually("one failure, one request sent", 2 * T, || {
        let m = m.clone();
        async move { (m.webhooks(Webhook::Failed), m.webhooks(Webhook::Sent)) == (1, 1) }
    })
    .await;
    let text = get(server.addr, "/metrics").await.text();
    assert!(
        text.contains("push_webhooks_total{outcome=\"failed\"} 1"),
        "{text}"
    );

    // Nobody listening at all: every attempt fails, the events are dropped.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/gone", dead.local_addr().unwrap());
    drop(dead);
    let server = Server::start_with(|c| {
        settings(&url)(c);
        c.pusher_webhook_retries = 0;
        c.pusher_webhook_queue = 1;
    })
    .await;
    let (mut ws, _) = connect(server.addr).await;
    let mut names = BTreeMap::new();
    for i in 0..20 {
        let channel = format!("c{i}");
        send(
            &mut ws,
            json!({ "event": "pusher:subscribe", "data": { "channel": channel } }),
        )
        .await;
        ws_json(&mut ws).await;
        names.insert(channel, ());
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let m = server.hub.metrics().clone();
    eventually("every event accounted for", 2 * T, || {
        let m = m.clone();
        async move {
            m.webhooks(Webhook::Failed) >= 1
                && m.webhooks(Webhook::Dropped) == 20
                && m.webhooks(Webhook::Sent) == 0
        }
    })
    .await;
    assert_eq!(names.len(), 20);
}
