//! The HTTP side over real TCP: CORS and origins, the answers of `/` and
//! unknown paths, and one cursor shared by the three transports.
//! `POST /publish`: `publish.rs`.

mod common;

use std::time::Duration;

use common::*;
use push_engine::config::Patterns;
use serde_json::json;

// ---------------------------------------------------------------- CORS and origins

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origins_are_echoed_with_vary() {
    let server =
        Server::start_with(|c| c.allowed_origins = Patterns::List(vec!["http://good".into()]))
            .await;
    let origin = [("Origin", "http://good")];
    server.publish("c", "x");
    for (method, path) in [
        ("GET", "/poll/c?timeout=0"),
        ("POST", "/publish/c"),
        ("GET", "/health"),
        ("GET", "/nope"),
        // axum's own answers, rewritten as JSON, are marked too.
        ("DELETE", "/health"),
        ("GET", "/sse/a%FFb"),
    ] {
        let r = request(server.addr, method, path, &origin, b"").await;
        assert!(
            [200, 400, 404, 405].contains(&r.status),
            "{path}: {}",
            r.status
        );
        if r.status != 200 {
            assert!(r.json()["error"].is_string(), "{path}: {}", r.text());
        }
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("http://good"),
            "{path}"
        );
        assert_eq!(r.header("vary"), Some("Origin"), "{path}");
    }
    let sse = sse_open(server.addr, "/sse/c", &origin).await;
    assert_eq!(
        sse.header("access-control-allow-origin"),
        Some("http://good")
    );
    assert_eq!(sse.header("vary"), Some("Origin"));
    // Without Origin (not a browser): no CORS headers, not refused.
    let r = get(server.addr, "/poll/c?timeout=0").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);

    // With allowed_origins = * any origin is echoed.
    let open = Server::start().await;
    let r = get_with(
        open.addr,
        "/health",
        &[("Origin", "https://anywhere.example")],
    )
    .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://anywhere.example")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preflight_is_answered_with_204() {
    let server =
        Server::start_with(|c| c.allowed_origins = Patterns::List(vec!["http://good".into()]))
            .await;
    let r = request(
        server.addr,
        "OPTIONS",
        "/publish/news",
        &[
            ("Origin", "http://good"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "authorization"),
        ],
        b"",
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, POST, OPTIONS")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("authorization, content-type, last-event-id")
    );
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(r.header("access-control-allow-origin"), Some("http://good"));
    assert_eq!(r.header("vary"), Some("Origin"));
    assert!(r.body.is_empty());
    assert_eq!(
        server.hub.stats().publications,
        0,
        "a preflight publishes nothing"
    );

    let r = request(
        server.addr,
        "OPTIONS",
        "/publish/news",
        &[("Origin", "http://evil")],
        b"",
    )
    .await;
    assert_eq!(r.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_not_allowed_are_refused_with_403_everywhere() {
    let server = Server::start_with(|c| {
        c.allowed_origins = Patterns::List(vec!["http://good".into(), "https://*".into()])
    })
    .await;
    let evil = [("Origin", "http://evil")];
    for (method, path) in [
        ("GET", "/sse/news"),
        ("GET", "/sse?channel=a"),
        ("GET", "/poll/news"),
        ("POST", "/publish/news"),
    ] {
        let r = request(server.addr, method, path, &evil, b"x").await;
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert!(
            r.json()["error"]
                .as_str()
                .unwrap()
                .contains("allowed_origins"),
            "{path}"
        );
        assert_eq!(r.header("access-control-allow-origin"), None, "{path}");
    }
    assert_eq!(server.hub.stats().publications, 0);
    assert_eq!(server.hub.stats().subscribers, 0);
    // A prefix pattern.
    let r = get_with(
        server.addr,
        "/poll/news?timeout=0",
        &[("Origin", "https://app.example")],
    )
    .await;
    assert_eq!(r.status, 200);
}

// ---------------------------------------------------------------- other answers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_without_upgrade_answers_426_and_unknown_paths_404() {
    let server = Server::start().await;
    for path in ["/", "/ws/news", "/ws?channel=a"] {
        let r = get(server.addr, path).await;
        assert_eq!(r.status, 426, "{path}: {}", r.text());
        assert_eq!(r.header("upgrade"), Some("websocket"), "{path}");
        assert_eq!(r.header("sec-websocket-version"), Some("13"), "{path}");
        assert!(r.json()["error"].is_string(), "{path}");
    }
    for path in ["/nope", "/sse/", "/publish", "/ws/"] {
        let r = get(server.addr, path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json(), json!({"error": "no such endpoint"}), "{path}");
    }
    let r = get(server.addr, "/health").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"status": "ok", "channels": 0, "subscribers": 0})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_upgrades_are_refused() {
    let server = Server::start().await;
    let upgrade = [
        ("Connection", "keep-alive, Upgrade"),
        ("Upgrade", "websocket"),
    ];
    let key = ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    let r = get_with(
        server.addr,
        "/ws/a",
        &[upgrade[0], upgrade[1], ("Sec-WebSocket-Version", "8"), key],
    )
    .await;
    assert_eq!(r.status, 426, "{}", r.text());
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    let r = get_with(
        server.addr,
        "/ws/a",
        &[upgrade[0], upgrade[1], ("Sec-WebSocket-Version", "13")],
    )
    .await;
    assert_eq!(r.status, 400, "no key: {}", r.text());
    let r = get_with(
        server.addr,
        "/",
        &[
            upgrade[0],
            ("Upgrade", "h2c"),
            ("Sec-WebSocket-Version", "13"),
            key,
        ],
    )
    .await;
    assert_eq!(r.status, 426, "{}", r.text());
    assert_eq!(server.hub.stats().subscribers, 0);
    // A token list in Connection and any case in Upgrade are understood.
    let (_socket, _) = raw_upgrade(server.addr, "/ws/a").await;
    server.wait_subscribers(1).await;
}

// ---------------------------------------------------------------- one cursor

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_cursor_works_on_all_three_transports() {
    let server = Server::start().await;
    let mut ws = ws_open(server.addr, "/ws/x?format=json").await;
    let sent: Vec<_> = (1..=3)
        .map(|i| server.publish("x", format!("m{i}")))
        .collect();
    let first = ws_json(&mut ws).await;
    let cursor = first["id"].as_str().unwrap().to_owned();
    assert_eq!(cursor, sent[0].id.to_string());

    let poll = get(server.addr, &format!("/poll/x?since={cursor}&timeout=1"))
        .await
        .json();
    assert_eq!(poll["messages"][0]["data"], "m2");
    assert_eq!(poll["messages"][0]["id"], sent[1].id.to_string());

    let mut sse = sse_open(server.addr, "/sse/x", &[("Last-Event-ID", &cursor)]).await;
    let event = sse.event().await;
    assert_eq!(
        (event.id.as_deref(), event.data()),
        (Some(sent[1].id.to_string().as_str()), "m2")
    );

    let mut again = ws_open(
        server.addr,
        &format!("/ws/x?format=json&lastEventId={cursor}"),
    )
    .await;
    let next = ws_json(&mut again).await;
    assert_eq!(
        (next["id"].as_str(), next["data"].as_str()),
        (Some(sent[1].id.to_string().as_str()), Some("m2"))
    );

    // And back: the SSE id resumes a long-poll.
    let poll = get(
        server.addr,
        &format!("/poll/x?since={}&timeout=1", event.id.unwrap()),
    )
    .await
    .json();
    assert_eq!(poll["messages"][0]["data"], "m3");
    assert_eq!(sse.event().await.data(), "m3");
    sse.quiet(Duration::from_millis(50)).await;
}
