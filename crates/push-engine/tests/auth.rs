//! Private channels and signed subscriptions on every transport: each way a
//! token can be wrong is refused (401, 403), tokens travel in `?token=`, the
//! cookie and `Authorization: Bearer`, connections end when their token
//! expires (WebSocket close 4003, SSE `push-expired`), WebSocket clients
//! publish to a private channel only with `publish: true` — and a
//! well-behaved subscriber of the same engine keeps receiving throughout.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use futures_util::SinkExt;
use hmac::{Hmac, KeyInit, Mac};
use push_engine::auth::token::{self, now};
use push_engine::config::Patterns;
use push_engine::Config;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "auth-test-secret-0123456789abcdef";

/// Signs any claims with `SECRET`.
fn sign(claims: &Value) -> String {
    token::sign(SECRET.as_bytes(), claims.to_string().as_bytes())
}

/// A token for `channels`, valid for `ttl` seconds.
fn grant(channels: &[&str], ttl: f64) -> String {
    sign(&json!({ "channels": channels, "exp": now() + ttl }))
}

/// A secret and private channels; keep-alives far apart, so that a
/// WebSocket the test does not read for a while is not taken for dead.
fn private(c: &mut Config) {
    c.keepalive = Duration::from_secs(30);
    c.set("secret", SECRET).unwrap();
    c.set("private_channels", "private.*, room").unwrap();
}

/// `header.payload.signature` with any header, signed with `secret`.
fn forge(header: &str, claims: &Value, secret: &str) -> String {
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signed}.{sig}")
}

/// The status and body of a GET (an SSE or long-poll refusal) or of a
/// WebSocket handshake (paths starting with /ws or /?).
async fn refusal(server: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    if path.starts_with("/ws") || path.starts_with("/?") {
        return match ws_try(server.addr, path, headers).await {
            Ok(_) => (101, String::new()),
            Err(refused) => refused,
        };
    }
    let r = get_with(server.addr, path, headers).await;
    (r.status, r.text())
}

/// Every bad token, with a word of the reason the 401 must give.
fn faults() -> Vec<(&'static str, String, &'static str)> {
    let claims = json!({ "channels": ["private.a"], "exp": now() + 60.0 });
    let good = grant(&["private.a"], 60.0);
    let parts: Vec<&str> = good.split('.').collect();
    let widened = json!({ "channels": ["private.*"], "exp": now() + 60.0 });
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(widened.to_string()),
        parts[2]
    );
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    vec![
        ("garbage", "garbage".to_owned(), "not a JWT"),
        (
            "wrong signature",
            forge(
                r#"{"alg":"HS256","typ":"JWT"}"#,
                &claims,
                "another-secret-0123456789abcdef!!",
            ),
            "signature",
        ),
        ("alg none", none, "HS256"),
        (
            "alg HS512",
            forge(r#"{"alg":"HS512","typ":"JWT"}"#, &claims, SECRET),
            "HS256",
        ),
        ("tampered payload", tampered, "signature"),
        (
            "expired beyond the leeway",
            grant(&["private.a"], -6.0),
            "expired",
        ),
        (
            "nbf in the future",
            sign(&json!({ "channels": ["private.a"], "exp": now() + 60.0, "nbf": now() + 30.0 })),
            "not valid yet",
        ),
        (
            "no exp",
            sign(&json!({ "channels": ["private.a"] })),
            "exp is missing",
        ),
        (
            "too large",
            grant(&[&"private.".repeat(600)], 60.0),
            "max_token_size",
        ),
    ]
}

/// A subscriber that must keep receiving whatever other clients do.
struct Bystander {
    ws: Ws,
    sent: usize,
}

impl Bystander {
    async fn open(server: &Server) -> Bystander {
        let token = grant(&["private.calm"], 3600.0);
        let ws = ws_open(server.addr, &format!("/ws/private.calm?token={token}")).await;
        server.wait_subscribers(1).await;
        Bystander { ws, sent: 0 }
    }

    async fn still_receives(&mut self, server: &Server) {
        self.sent += 1;
        let text = format!("calm {}", self.sent);
        server.publish("private.calm", text.clone());
        assert_eq!(ws_text(&mut self.ws).await, text);
    }
}

// ---------------------------------------------------------------- refusals

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_token_is_refused_with_401_on_every_transport() {
    let server = Server::start_with(private).await;
    let mut calm = Bystander::open(&server).await;
    for path in [
        "/sse/private.a",
        "/poll/private.a?timeout=0",
        "/ws/private.a",
    ] {
        let (status, body) = refusal(&server, path, &[]).await;
        assert_eq!(status, 401, "{path} without a token");
        assert!(body.contains("token is required"), "{body}");
    }
    let r = get(server.addr, "/sse/private.a").await;
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    for (fault, token, why) in faults() {
        for base in [
            "/sse/private.a?",
            "/poll/private.a?timeout=0&",
            "/ws/private.a?",
        ] {
            let path = format!("{base}token={token}");
            let (status, body) = refusal(&server, &path, &[]).await;
            assert_eq!(status, 401, "{fault} on {base}: {body}");
            assert!(body.contains(why), "{fault} on {base}: {body}");
        }
        calm.still_receives(&server).await;
    }
    assert_eq!(
        server.hub.stats().subscribers,
        1,
        "no refused subscriber left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_within_the_leeway_is_accepted() {
    let server = Server::start_with(private).await;
    let token = grant(&["private.a"], -3.0); // leeway 5 s
    let r = get(
        server.addr,
        &format!("/poll/private.a?timeout=0&token={token}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let late = grant(&["private.a"], -6.0);
    let r = get(
        server.addr,
        &format!("/poll/private.a?timeout=0&token={late}"),
    )
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_other_channels_is_refused_with_403() {
    let server = Server::start_with(private).await;
    let token = grant(&["private.a", "private.user.42.*"], 60.0);
    for channel in [
        "private.b",
        "private.user.43.inbox",
        "room",
        "private.user.4",
    ] {
        for path in [
            format!("/sse/{channel}?token={token}"),
            format!("/poll/{channel}?timeout=0&token={token}"),
            format!("/ws/{channel}?token={token}"),
        ] {
            let (status, body) = refusal(&server, &path, &[]).await;
            assert_eq!(status, 403, "{path}: {body}");
            let expected = format!("does not grant channel \\\"{channel}\\\"");
            assert!(body.contains(&expected), "{body}");
        }
    }
    // Every channel of a multi-channel request must be granted.
    let mixed = format!("/sse?channel=private.a&channel=private.b&token={token}");
    assert_eq!(get(server.addr, &mixed).await.status, 403);
    // Prefix patterns grant what they cover; public channels need nothing.
    let mut sse = sse_open(
        server.addr,
        &format!("/sse?channel=private.a&channel=private.user.42.inbox&channel=news&token={token}"),
        &[],
    )
    .await;
    server.wait_subscribers(3).await;
    server.publish("private.user.42.inbox", "for 42");
    server.publish("news", "for all");
    // Two channels: each in order, but not ordered between them.
    let mut got = vec![
        sse.event().await.data().to_owned(),
        sse.event().await.data().to_owned(),
    ];
    got.sort();
    assert_eq!(got, ["for 42", "for all"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_private_channels_are_refused_with_403() {
    let server = Server::start_with(|c| c.set("private_channels", "private.*").unwrap()).await;
    let token = grant(&["private.a"], 60.0);
    for path in [
        format!("/sse/private.a?token={token}"),
        format!("/poll/private.a?token={token}"),
        format!("/ws/private.a?token={token}"),
    ] {
        let (status, body) = refusal(&server, &path, &[]).await;
        assert_eq!(status, 403, "{path}");
        assert!(body.contains("push.secret is not set"), "{body}");
    }
    let r = get(server.addr, "/poll/public?timeout=0").await;
    assert_eq!(r.status, 200, "public channels still work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_required_makes_every_channel_private() {
    let server = Server::start_with(|c| {
        c.set("secret", SECRET).unwrap();
        c.set("auth", "required").unwrap();
    })
    .await;
    assert_eq!(get(server.addr, "/sse/news").await.status, 401);
    assert_eq!(get(server.addr, "/poll/news?timeout=0").await.status, 401);
    assert_eq!(ws_refused(server.addr, "/ws/news").await.0, 401);
    assert_eq!(
        ws_refused(server.addr, "/").await.0,
        401,
        "the default channel too"
    );
    let token = grant(&["news", "default"], 60.0);
    let mut ws = ws_open(server.addr, &format!("/?token={token}")).await;
    let mut sse = sse_open(server.addr, &format!("/sse/news?token={token}"), &[]).await;
    server.wait_subscribers(2).await;
    server.publish("default", "d");
    server.publish("news", "n");
    assert_eq!(ws_text(&mut ws).await, "d");
    assert_eq!(sse.event().await.data(), "n");
    // Publishing over HTTP (server to server) is unchanged.
    assert_eq!(
        post(server.addr, "/publish/news", &[], b"x").await.status,
        200
    );
    assert_eq!(sse.event().await.data(), "x");
}

#[test]
fn auth_required_without_a_secret_is_refused_at_start() {
    let mut c = Config::default();
    c.set("auth", "required").unwrap();
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("push.auth") && e.contains("push.secret"), "{e}");
}

// ---------------------------------------------------------------- where tokens travel

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_travel_in_the_query_the_cookie_and_a_bearer_header() {
    let server = Server::start_with(private).await;
    let token = grant(&["private.a"], 60.0);
    let cookie = format!("theme=dark; push_token={token}");
    let bearer = format!("Bearer {token}");
    let ways: [(&str, Vec<(&str, &str)>); 3] = [
        ("query", vec![]),
        ("cookie", vec![("Cookie", cookie.as_str())]),
        ("bearer", vec![("Authorization", bearer.as_str())]),
    ];
    for (way, headers) in &ways {
        let q = if *way == "query" {
            format!("token={token}")
        } else {
            String::new()
        };
        let mut ws = ws_try(server.addr, &format!("/ws/private.a?{q}"), headers)
            .await
            .unwrap_or_else(|r| panic!("ws by {way}: {r:?}"));
        let mut sse = sse_open(server.addr, &format!("/sse/private.a?{q}"), headers).await;
        server.wait_subscribers(2).await;
        let sent = server.publish("private.a", format!("by {way}"));
        assert_eq!(ws_text(&mut ws).await, format!("by {way}"));
        assert_eq!(sse.event().await.data(), format!("by {way}"));
        let poll = get_with(
            server.addr,
            &format!(
                "/poll/private.a?timeout=0&{q}&since={}",
                prev(&sent.id.to_string())
            ),
            headers,
        )
        .await;
        assert_eq!(poll.status, 200, "poll by {way}: {}", poll.text());
        assert_eq!(poll.json()["messages"][0]["data"], format!("by {way}"));
        drop((ws, sse));
        server.wait_subscribers(0).await;
    }
}

/// The id before `id` (same epoch, offset - 1).
fn prev(id: &str) -> String {
    let (epoch, offset) = id.rsplit_once('-').unwrap();
    format!("{epoch}-{:x}", u64::from_str_radix(offset, 16).unwrap() - 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_is_not_accepted_from_origins_only_allowed_by_star() {
    let server = Server::start_with(private).await;
    let token = grant(&["private.a"], 60.0);
    let cookie = format!("push_token={token}");
    let evil = [
        ("Cookie", cookie.as_str()),
        ("Origin", "https://evil.example"),
    ];
    let r = get_with(server.addr, "/poll/private.a?timeout=0", &evil).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("push.allowed_origins"), "{}", r.text());
    assert_eq!(refusal(&server, "/ws/private.a", &evil).await.0, 403);
    // The engine's own origin may use it; so may an origin listed by name,
    // which is also told it may send credentials.
    let same = [("Cookie", cookie.as_str()), ("Origin", "http://localhost")];
    assert_eq!(
        get_with(server.addr, "/poll/private.a?timeout=0", &same)
            .await
            .status,
        200
    );
    let listed = Server::start_with(|c| {
        private(c);
        c.allowed_origins = Patterns::List(vec!["https://app.example".into()]);
    })
    .await;
    let app = [
        ("Cookie", cookie.as_str()),
        ("Origin", "https://app.example"),
    ];
    let r = get_with(listed.addr, "/poll/private.a?timeout=0", &app).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    let r = get_with(
        server.addr,
        "/poll/news?timeout=0",
        &[("Origin", "https://x.example")],
    )
    .await;
    assert_eq!(
        r.header("access-control-allow-credentials"),
        None,
        "not with *"
    );
}

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
