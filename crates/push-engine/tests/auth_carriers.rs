//! Where subscription tokens travel, on every transport: `?token=`, the
//! `push_token` cookie and `Authorization: Bearer`; and the cookie refused
//! from origins only `*` allows, accepted from the engine's own origin and
//! from origins listed by name. Refusals: `auth.rs`.

mod common;

use common::auth::*;
use common::*;
use push_engine::config::Patterns;

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
