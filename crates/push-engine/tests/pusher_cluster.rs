//! Pusher presence, occupancy and webhooks across engines sharing one real
//! `redis-server`: members of every engine listed, a member's arrival and
//! departure told once (never to the connection that caused it), the HTTP
//! API's counts cluster-wide, the members of an engine that died removed
//! within `push.presence_ttl`, and each webhook event POSTed once per
//! cluster, signed.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use common::redis::RedisServer;
use common::*;
use futures_util::SinkExt;
use push_engine::auth::signature::{sign_hex, verify_hex};
use push_engine::broker::Redis;
use push_engine::{Config, Hub};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const APP_ID: &str = "1234";
const KEY: &str = "app-key";
const SECRET: &str = "app-secret-0123456789";
/// `push.presence_ttl` in these tests.
const TTL: Duration = Duration::from_millis(1200);

/// A local HTTP server that takes webhooks: each request's signature
/// header checked against its body, the events handed on.
struct Hooks {
    url: String,
    rx: mpsc::UnboundedReceiver<Value>,
    /// Requests whose signature did not match.
    bad: mpsc::UnboundedReceiver<String>,
}

async fn hooks() -> Hooks {
    let (tx, rx) = mpsc::unbounded_channel();
    let (bad_tx, bad) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (tx, bad_tx) = (tx.clone(), bad_tx.clone());
            async move {
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
                let signed = verify_hex(SECRET.as_bytes(), &body, h("x-pusher-signature"));
                if !signed || h("x-pusher-key") != KEY || h("content-type") != "application/json" {
                    let _ = bad_tx.send(String::from_utf8_lossy(&body).into_owned());
                }
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                assert!(v["time_ms"].as_u64().is_some(), "{v}");
                for e in v["events"].as_array().cloned().unwrap_or_default() {
                    let _ = tx.send(e);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Hooks {
        url: format!("http://{addr}/hooks"),
        rx,
        bad,
    }
}

impl Hooks {
    /// The events received within `wait`, in order.
    async fn events(&mut self, wait: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        let until = tokio::time::Instant::now() + wait;
        while let Ok(Some(e)) = tokio::time::timeout_at(until, self.rx.recv()).await {
            out.push(e);
        }
        out
    }

    fn unsigned(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(b) = self.bad.try_recv() {
            out.push(b);
        }
        out
    }
}

fn settings(url: &str) -> impl FnOnce(&mut Config) + '_ {
    move |c: &mut Config| {
        c.pusher_app_id = APP_ID.into();
        c.pusher_key = KEY.into();
        c.set("pusher_secret", SECRET).unwrap();
        c.presence_ttl = TTL;
        c.pusher_webhook_url = url.into();
    }
}

fn path() -> String {
    format!("/app/{KEY}?protocol=7&client=js&version=8.4.0&flash=false")
}

async fn connect(addr: SocketAddr) -> (Ws, String) {
    let mut ws = ws_open(addr, &path()).await;
    let hello = ws_json(&mut ws).await;
    assert_eq!(hello["event"], "pusher:connection_established");
    let data: Value = serde_json::from_str(hello["data"].as_str().unwrap()).unwrap();
    (ws, data["socket_id"].as_str().unwrap().to_owned())
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

fn data(frame: &Value) -> Value {
    match &frame["data"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        other => other.clone(),
    }
}

/// Joins presence `channel` as `user`; returns the member ids listed.
async fn join(ws: &mut Ws, socket_id: &str, channel: &str, user: &str) -> Vec<String> {
    let channel_data = json!({ "user_id": user, "user_info": { "name": user } }).to_string();
    let message = format!("{socket_id}:{channel}:{channel_data}");
    let auth = format!("{KEY}:{}", sign_hex(SECRET.as_bytes(), message.as_bytes()));
    let d = json!({ "channel": channel, "auth": auth, "channel_data": channel_data });
    send(ws, json!({ "event": "pusher:subscribe", "data": d })).await;
    let ok = ws_json(ws).await;
    assert_eq!(
        ok["event"], "pusher_internal:subscription_succeeded",
        "{ok}"
    );
    let presence = &data(&ok)["presence"];
    let mut ids: Vec<String> = presence["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(presence["count"], ids.len(), "{ok}");
    for id in &ids {
        assert_eq!(presence["hash"][id]["name"], *id, "{ok}");
    }
    ids
}

async fn leave(ws: &mut Ws, channel: &str) {
    let d = json!({ "channel": channel });
    send(ws, json!({ "event": "pusher:unsubscribe", "data": d })).await;
}

/// The presence notices `ws` gets within `wait`: (event, user_id).
async fn notices(ws: &mut Ws, wait: Duration) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let until = Instant::now() + wait;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        let Ok(frame) = tokio::time::timeout(left, ws_json(ws)).await else {
            break;
        };
        let event = frame["event"].as_str().unwrap_or("").to_owned();
        if event == "pusher:ping" {
            send(ws, json!({ "event": "pusher:pong", "data": {} })).await;
        }
        if event.starts_with("pusher_internal:member_") {
            let user = data(&frame)["user_id"].as_str().unwrap_or("").to_owned();
            out.push((event, user));
        }
    }
    out
}

fn added(user: &str) -> (String, String) {
    ("pusher_internal:member_added".into(), user.into())
}

fn removed(user: &str) -> (String, String) {
    ("pusher_internal:member_removed".into(), user.into())
}

/// A signed GET of the Pusher HTTP API, answered 200.
async fn api(addr: SocketAddr, path: &str, query: &[(&str, &str)]) -> Value {
    let (status, v) = try_api(addr, path, query).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// A signed GET of the Pusher HTTP API: its status and JSON.
async fn try_api(addr: SocketAddr, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let mut pairs: Vec<(String, String)> = vec![
        ("auth_key".into(), KEY.into()),
        (
            "auth_timestamp".into(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                .to_string(),
        ),
        ("auth_version".into(), "1.0".into()),
    ];
    pairs.extend(query.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    pairs.sort();
    let signed: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let full = format!("/apps/{APP_ID}/{path}");
    let sig = sign_hex(
        SECRET.as_bytes(),
        format!("GET\n{full}\n{}", signed.join("&")).as_bytes(),
    );
    let r = get(
        addr,
        &format!("{full}?{}&auth_signature={sig}", signed.join("&")),
    )
    .await;
    (
        r.status,
        serde_json::from_str(&r.text()).unwrap_or(Value::Null),
    )
}

/// Waits until `f` holds, polling.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !f().await {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many of `events` are named `name` on `channel` (for `user`).
fn count(events: &[Value], name: &str, channel: &str, user: Option<&str>) -> usize {
    events
        .iter()
        .filter(|e| e["name"] == name && e["channel"] == channel)
        .filter(|e| user.is_none_or(|u| e["user_id"] == u))
        .count()
}

#[tokio::test]
async fn presence_occupancy_and_webhooks_once_across_two_engines() {
    let redis = RedisServer::start();
    let mut hooks = hooks().await;
    let one = common::redis::engine(&redis, settings(&hooks.url)).await;
    let two = common::redis::engine(&redis, settings(&hooks.url)).await;
    let room = "presence-room";

    let (mut a, a_id) = connect(one.addr).await;
    assert_eq!(join(&mut a, &a_id, room, "ann").await, ["ann"]);
    let (mut b, b_id) = connect(two.addr).await;
    assert_eq!(
        join(&mut b, &b_id, room, "bob").await,
        ["ann", "bob"],
        "engine two lists engine one's member"
    );
    assert_eq!(
        notices(&mut a, Duration::from_millis(300)).await,
        [added("bob")]
    );
    assert!(
        notices(&mut b, Duration::ZERO).await.is_empty(),
        "not to the joiner"
    );

    // Ann's second connection, on engine two: nobody is told.
    let (mut a2, a2_id) = connect(two.addr).await;
    assert_eq!(join(&mut a2, &a2_id, room, "ann").await, ["ann", "bob"]);
    assert!(notices(&mut a, Duration::from_millis(300)).await.is_empty());
    assert!(notices(&mut b, Duration::ZERO).await.is_empty());

    // The HTTP API of either engine counts the cluster.
    for engine in [&one, &two] {
        let users = api(engine.addr, &format!("channels/{room}/users"), &[]).await;
        let mut ids: Vec<&str> = users["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        ids.sort();
        assert_eq!(ids, ["ann", "bob"]);
        let addr = engine.addr;
        eventually("three subscriptions counted", 2 * T, || async move {
            let c = api(
                addr,
                &format!("channels/{room}"),
                &[("info", "subscription_count,user_count")],
            )
            .await;
            c == json!({ "occupied": true, "subscription_count": 3, "user_count": 2 })
        })
        .await;
        let all = api(
            engine.addr,
            "channels",
            &[("filter_by_prefix", "presence-"), ("info", "user_count")],
        )
        .await;
        assert_eq!(all, json!({ "channels": { room: { "user_count": 2 } } }));
    }

    // Ann's first connection leaves: she is still there (engine two).
    leave(&mut a, room).await;
    assert!(notices(&mut b, Duration::from_millis(300)).await.is_empty());
    // Her last: bob is told, once; the connection that left is not.
    drop(a2);
    assert_eq!(
        notices(&mut b, Duration::from_millis(500)).await,
        [removed("ann")]
    );
    assert!(notices(&mut a, Duration::ZERO).await.is_empty());

    // Bob leaves: the channel is empty everywhere.
    drop(b);
    let addr = one.addr;
    eventually("the channel vacated", 2 * T, || async move {
        let c = api(
            addr,
            &format!("channels/{room}"),
            &[("info", "subscription_count")],
        )
        .await;
        c == json!({ "occupied": false, "subscription_count": 0 })
    })
    .await;

    // Each transition was POSTed once, though both engines send webhooks.
    let events = hooks.events(Duration::from_millis(800)).await;
    assert_eq!(
        count(&events, "channel_occupied", room, None),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "member_added", room, Some("ann")),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "member_added", room, Some("bob")),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "member_removed", room, Some("ann")),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "member_removed", room, Some("bob")),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "channel_vacated", room, None),
        1,
        "{events:?}"
    );
    assert_eq!(events.len(), 6, "{events:?}");
    assert!(hooks.unsigned().is_empty());
    let sent = |s: &Server| {
        s.hub
            .metrics()
            .webhooks(push_engine::metrics::Webhook::Sent)
    };
    assert!(
        sent(&one) + sent(&two) >= 2,
        "each engine sent what it observed"
    );
}

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

/// An engine on a runtime of its own, stopped without a goodbye: its
/// tasks vanish as they would with the process killed -9.
fn doomed_engine(redis: &RedisServer, url: &str) -> (tokio::runtime::Runtime, SocketAddr) {
    let config = Arc::new(common::redis::broker_config(redis, settings(url)));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    // Built on a thread of its own: a runtime is not built inside another.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let broker = Redis::new(&config, &config.broker.clone().unwrap()).unwrap();
        let hub = Hub::with_broker(config, Arc::new(broker));
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            push_engine::server::run(listener, hub, std::future::pending()).await
        });
        (runtime, addr)
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_members_of_a_killed_engine_leave_within_presence_ttl() {
    let redis = RedisServer::start();
    let mut hooks = hooks().await;
    let one = common::redis::engine(&redis, settings(&hooks.url)).await;
    let (doomed, addr) = doomed_engine(&redis, &hooks.url);
    let room = "presence-crash";
    let (mut a, a_id) = connect(one.addr).await;
    join(&mut a, &a_id, room, "ann").await;
    let (mut z, z_id) = connect(addr).await;
    assert_eq!(join(&mut z, &z_id, room, "zed").await, ["ann", "zed"]);
    assert_eq!(
        notices(&mut a, Duration::from_millis(300)).await,
        [added("zed")]
    );
    let (mut y, _) = connect(addr).await;
    send(
        &mut y,
        json!({ "event": "pusher:subscribe", "data": { "channel": "lonely" } }),
    )
    .await;
    assert_eq!(
        ws_json(&mut y).await["event"],
        "pusher_internal:subscription_succeeded"
    );
    let one_addr = one.addr;
    eventually("lonely occupied", 2 * T, || async move {
        api(one_addr, "channels/lonely", &[]).await["occupied"] == true
    })
    .await;
    hooks.events(Duration::from_millis(300)).await;

    // Killed: no unsubscribe, no goodbye to Redis.
    let killed = Instant::now();
    doomed.shutdown_background();
    // Within push.presence_ttl and one refresh (a third of it), and some
    // slack for this shared machine.
    let bound = TTL + TTL / 3 + Duration::from_millis(500);
    let mut got = Vec::new();
    while got.is_empty() && killed.elapsed() < bound {
        got = notices(&mut a, Duration::from_millis(50)).await;
    }
    let took = killed.elapsed();
    assert_eq!(got, [removed("zed")], "zed removed after {took:?}");
    assert!(took <= bound, "removed after {took:?}, more than {bound:?}");
    assert!(took >= TTL / 2, "not before push.presence_ttl: {took:?}");
    assert!(
        notices(&mut a, Duration::from_millis(500)).await.is_empty(),
        "once"
    );
    let users = api(one.addr, &format!("channels/{room}/users"), &[]).await;
    assert_eq!(users, json!({ "users": [{ "id": "ann" }] }));
    assert_eq!(
        api(one.addr, "channels/lonely", &[]).await,
        json!({ "occupied": false })
    );
    let events = hooks.events(Duration::from_millis(500)).await;
    assert_eq!(
        count(&events, "member_removed", room, Some("zed")),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "channel_vacated", "lonely", None),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "channel_vacated", room, None),
        0,
        "ann is still there"
    );
    drop(z);
    drop(y);
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

#[tokio::test]
async fn a_restarted_redis_is_told_every_engines_members_again() {
    let mut redis = RedisServer::start();
    let one = common::redis::engine(&redis, settings("")).await;
    let two = common::redis::engine(&redis, settings("")).await;
    let room = "presence-lost";
    let (mut a, a_id) = connect(one.addr).await;
    join(&mut a, &a_id, room, "ann").await;
    let (mut b, b_id) = connect(two.addr).await;
    assert_eq!(join(&mut b, &b_id, room, "bob").await, ["ann", "bob"]);
    assert_eq!(
        notices(&mut a, Duration::from_millis(300)).await,
        [added("bob")]
    );

    // Redis comes back empty (no persistence): each engine finds it was
    // forgotten at its next refresh and tells its members again.
    redis.kill();
    redis.restart();
    assert_eq!(
        redis.cli(&["EXISTS", &format!("push:pres:{{{room}}}")]),
        "0"
    );
    for engine in [&one, &two] {
        let addr = engine.addr;
        eventually("both members known again", 2 * T, || async move {
            let (_, users) = try_api(addr, &format!("channels/{room}/users"), &[]).await;
            let mut ids: Vec<String> = users["users"]
                .as_array()
                .map(|u| {
                    u.iter()
                        .map(|u| u["id"].as_str().unwrap_or("").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            ids.sort();
            ids == ["ann", "bob"]
        })
        .await;
    }
    // Told again to nobody: the members never left.
    let (told_a, told_b) = (
        notices(&mut a, Duration::from_millis(300)).await,
        notices(&mut b, Duration::ZERO).await,
    );
    assert!(
        told_a.is_empty() && told_b.is_empty(),
        "{told_a:?} {told_b:?}"
    );
}
