//! Private channels and signed subscriptions, the refusals: each way a
//! token can be wrong is refused with 401 on every transport, a token for
//! other channels with 403, tokens within the leeway accepted, no secret
//! and `push.auth = required` — and a well-behaved subscriber of the same
//! engine keeps receiving throughout. Where tokens travel:
//! `auth_carriers.rs`; expiry and publishing: `auth_connected.rs`.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::auth::*;
use common::*;
use hmac::{Hmac, KeyInit, Mac};
use push_engine::auth::token::now;
use push_engine::Config;
use serde_json::{json, Value};

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
