//! The Pusher protocol's test clients: the app's settings, a Pusher
//! WebSocket (connect, subscribe, frames) and the HTTP API's signed
//! requests, as Pusher's server libraries sign them.

use futures_util::SinkExt;
use md5::{Digest, Md5};
use push_engine::auth::signature::sign_hex;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::*;

pub const APP_ID: &str = "1234";
pub const KEY: &str = "app-key";
pub const SECRET: &str = "app-secret-0123456789";

pub fn pusher_settings(c: &mut push_engine::Config) {
    c.pusher_app_id = APP_ID.into();
    c.pusher_key = KEY.into();
    c.set("pusher_secret", SECRET).unwrap();
}

pub async fn start() -> Server {
    Server::start_with(pusher_settings).await
}

pub fn path() -> String {
    format!("/app/{KEY}?protocol=7&client=js&version=8.4.0&flash=false")
}

/// Connects and reads `pusher:connection_established`: the socket id.
pub async fn connect(server: &Server) -> (Ws, String) {
    let mut ws = ws_open(server.addr, &path()).await;
    let hello = next(&mut ws).await;
    assert_eq!(hello["event"], "pusher:connection_established");
    let data: Value =
        serde_json::from_str(hello["data"].as_str().expect("data is a string")).unwrap();
    let id = data["socket_id"].as_str().unwrap().to_owned();
    let (a, b) = id.split_once('.').expect("socket id n.n");
    assert!(
        !a.is_empty() && !b.is_empty() && (a.to_owned() + b).bytes().all(|c| c.is_ascii_digit()),
        "{id}"
    );
    assert!(data["activity_timeout"].as_u64().unwrap() >= 1);
    (ws, id)
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next frame, decoded (pings of the WebSocket itself skipped).
pub async fn next(ws: &mut Ws) -> Value {
    ws_json(ws).await
}

/// `data` decoded from its JSON-encoded string.
pub fn data(frame: &Value) -> Value {
    match &frame["data"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        other => other.clone(),
    }
}

pub fn auth(socket_id: &str, channel: &str, channel_data: Option<&str>) -> String {
    let message = match channel_data {
        Some(d) => format!("{socket_id}:{channel}:{d}"),
        None => format!("{socket_id}:{channel}"),
    };
    format!("{KEY}:{}", sign_hex(SECRET.as_bytes(), message.as_bytes()))
}

/// `pusher:signin`'s `auth` for a socket id and its `user_data`.
pub fn user_auth(socket_id: &str, user_data: &str) -> String {
    let message = format!("{socket_id}::user::{user_data}");
    format!("{KEY}:{}", sign_hex(SECRET.as_bytes(), message.as_bytes()))
}

/// Signs connection `socket_id` in as user `id`, and checks the answer.
pub async fn sign_in(ws: &mut Ws, socket_id: &str, id: &str) {
    let user_data = json!({ "id": id, "name": format!("User {id}") }).to_string();
    send(
        ws,
        json!({ "event": "pusher:signin", "data": {
            "auth": user_auth(socket_id, &user_data), "user_data": user_data } }),
    )
    .await;
    let ok = next(ws).await;
    assert_eq!(ok["event"], "pusher:signin_success", "{ok}");
    assert_eq!(data(&ok)["user_data"], user_data);
}

pub async fn subscribe(
    ws: &mut Ws,
    channel: &str,
    auth: Option<String>,
    channel_data: Option<&str>,
) -> Value {
    let mut d = json!({ "channel": channel });
    if let Some(a) = auth {
        d["auth"] = a.into();
    }
    if let Some(cd) = channel_data {
        d["channel_data"] = cd.into();
    }
    send(ws, json!({ "event": "pusher:subscribe", "data": d })).await;
    next(ws).await
}

pub async fn subscribed(ws: &mut Ws, channel: &str) {
    let ok = subscribe(ws, channel, None, None).await;
    assert_eq!(
        ok["event"], "pusher_internal:subscription_succeeded",
        "{ok}"
    );
    assert_eq!(ok["channel"], channel);
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The signed query string of a request, as Pusher's libraries build it
/// (`extra` are the request's own parameters, unencoded).
pub fn signed(method: &str, path: &str, body: &[u8], extra: &[(&str, &str)], at: u64) -> String {
    let mut params: Vec<(String, String)> = vec![
        ("auth_key".into(), KEY.into()),
        ("auth_timestamp".into(), at.to_string()),
        ("auth_version".into(), "1.0".into()),
    ];
    if !body.is_empty() {
        params.push(("body_md5".into(), hex(&Md5::digest(body))));
    }
    for (k, v) in extra {
        params.push(((*k).into(), (*v).into()));
    }
    params.sort();
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let query = query.join("&");
    let signature = sign_hex(
        SECRET.as_bytes(),
        format!("{method}\n{path}\n{query}").as_bytes(),
    );
    let encoded: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    format!("{}&auth_signature={signature}", encoded.join("&"))
}

pub async fn post_signed(server: &Server, what: &str, body: &Value) -> Response {
    let path = format!("/apps/{APP_ID}/{what}");
    let body = body.to_string();
    let q = signed("POST", &path, body.as_bytes(), &[], now());
    post(
        server.addr,
        &format!("{path}?{q}"),
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await
}

pub async fn get_signed(server: &Server, what: &str, extra: &[(&str, &str)]) -> Response {
    let path = format!("/apps/{APP_ID}/{what}");
    let q = signed("GET", &path, b"", extra, now());
    get(server.addr, &format!("{path}?{q}")).await
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
