//! Pusher across engines sharing one `redis-server` (tests/pusher_cluster.rs,
//! tests/pusher_webhooks.rs): a local webhook receiver that checks each
//! request's signature, the engines' settings, presence joins and notices,
//! and the HTTP API signed as Pusher's libraries sign it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use futures_util::SinkExt;
use push_engine::auth::signature::{sign_hex, verify_hex};
use push_engine::Config;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::*;

pub use super::pusher::{APP_ID, KEY, SECRET};

/// `push.presence_ttl` in these tests.
pub const TTL: Duration = Duration::from_millis(1200);

/// A local HTTP server that takes webhooks: each request's signature
/// header checked against its body, the events handed on.
pub struct Hooks {
    pub url: String,
    pub rx: mpsc::UnboundedReceiver<Value>,
    /// Requests whose signature did not match.
    pub bad: mpsc::UnboundedReceiver<String>,
}

pub async fn hooks() -> Hooks {
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
    pub async fn events(&mut self, wait: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        let until = tokio::time::Instant::now() + wait;
        while let Ok(Some(e)) = tokio::time::timeout_at(until, self.rx.recv()).await {
            out.push(e);
        }
        out
    }

    pub fn unsigned(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(b) = self.bad.try_recv() {
            out.push(b);
        }
        out
    }
}

pub fn settings(url: &str) -> impl FnOnce(&mut Config) + '_ {
    move |c: &mut Config| {
        c.pusher_app_id = APP_ID.into();
        c.pusher_key = KEY.into();
        c.set("pusher_secret", SECRET).unwrap();
        c.presence_ttl = TTL;
        c.pusher_webhook_url = url.into();
    }
}

pub fn path() -> String {
    format!("/app/{KEY}?protocol=7&client=js&version=8.4.0&flash=false")
}

pub async fn connect(addr: SocketAddr) -> (Ws, String) {
    let mut ws = ws_open(addr, &path()).await;
    let hello = ws_json(&mut ws).await;
    assert_eq!(hello["event"], "pusher:connection_established");
    let data: Value = serde_json::from_str(hello["data"].as_str().unwrap()).unwrap();
    (ws, data["socket_id"].as_str().unwrap().to_owned())
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

pub fn data(frame: &Value) -> Value {
    match &frame["data"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        other => other.clone(),
    }
}

/// Joins presence `channel` as `user`; returns the member ids listed.
pub async fn join(ws: &mut Ws, socket_id: &str, channel: &str, user: &str) -> Vec<String> {
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

pub async fn leave(ws: &mut Ws, channel: &str) {
    let d = json!({ "channel": channel });
    send(ws, json!({ "event": "pusher:unsubscribe", "data": d })).await;
}

/// The presence notices `ws` gets within `wait`: (event, user_id).
pub async fn notices(ws: &mut Ws, wait: Duration) -> Vec<(String, String)> {
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

pub fn added(user: &str) -> (String, String) {
    ("pusher_internal:member_added".into(), user.into())
}

pub fn removed(user: &str) -> (String, String) {
    ("pusher_internal:member_removed".into(), user.into())
}

/// A signed GET of the Pusher HTTP API, answered 200.
pub async fn api(addr: SocketAddr, path: &str, query: &[(&str, &str)]) -> Value {
    let (status, v) = try_api(addr, path, query).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// A signed GET of the Pusher HTTP API: its status and JSON.
pub async fn try_api(addr: SocketAddr, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
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
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut f: F)
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
pub fn count(events: &[Value], name: &str, channel: &str, user: Option<&str>) -> usize {
    events
        .iter()
        .filter(|e| e["name"] == name && e["channel"] == channel)
        .filter(|e| user.is_none_or(|u| e["user_id"] == u))
        .count()
}
