//! `POST /publish` over real TCP: reaching WebSocket and SSE subscribers,
//! the publish token (or loopback peers only), and the refusals of bodies,
//! channels and events, each answered in JSON.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use common::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reaches_websocket_and_sse_subscribers() {
    let server = Server::start().await;
    let mut ws = ws_open(server.addr, "/ws/news").await;
    let mut json_ws = ws_open(server.addr, "/ws/news?format=json").await;
    let mut sse = sse_open(server.addr, "/sse/news", &[]).await;
    server.wait_subscribers(3).await;

    let r = post(
        server.addr,
        "/publish/news?event=update",
        &[("Content-Type", "text/plain")],
        b"hello\nworld",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let id = server.hub.last_id("news").unwrap().to_string();
    assert_eq!(r.json(), json!({"channel": "news", "id": id}));

    assert_eq!(ws_next(&mut ws).await, Message::text("hello\nworld"));
    assert_eq!(
        ws_json(&mut json_ws).await,
        json!({"channel": "news", "id": id, "event": "update", "data": "hello\nworld"})
    );
    let event = sse.event().await;
    assert_eq!(event.id.as_deref(), Some(id.as_str()));
    assert_eq!(event.event.as_deref(), Some("update"));
    assert_eq!(event.data(), "hello\nworld");

    // A binary body is a binary message; no event is no event.
    let r = post(server.addr, "/publish/news", &[], &[0xff, 0x00]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ws_next(&mut ws).await, Message::binary(vec![0xffu8, 0x00]));
    let envelope = ws_json(&mut json_ws).await;
    assert_eq!(
        (envelope["event"].clone(), envelope["encoding"].clone()),
        (json!(null), json!("base64"))
    );
    assert_eq!(sse.event().await.data(), "/wA=");

    // An empty body is a message too.
    let r = post(server.addr, "/publish/news", &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ws_next(&mut ws).await, Message::text(""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_token_is_required_when_set() {
    let server = Server::start_with(|c| c.publish_token = "s3cret-token".into()).await;
    for headers in [
        vec![],
        vec![("Authorization", "Bearer wrong")],
        vec![("Authorization", "Bearer s3cret-toke")],
        vec![("Authorization", "Bearer s3cret-token2")],
        vec![("Authorization", "Basic s3cret-token")],
        vec![("Authorization", "s3cret-token")],
    ] {
        let r = post(server.addr, "/publish/news", &headers, b"x").await;
        assert_eq!(r.status, 401, "{headers:?}: {}", r.text());
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{headers:?}");
        assert!(r.json()["error"].is_string());
    }
    assert_eq!(server.hub.stats().publications, 0);
    let r = post(
        server.addr,
        "/publish/news",
        &[("Authorization", "Bearer s3cret-token")],
        b"x",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(server.hub.stats().publications, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn the_bearer_scheme_is_case_insensitive() {
    // RFC 9110 11.1: the authentication scheme is case-insensitive.
    let server = Server::start_with(|c| c.publish_token = "s3cret-token".into()).await;
    let r = post(
        server.addr,
        "/publish/news",
        &[("Authorization", "bearer s3cret-token")],
        b"x",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_only_loopback_peers_may_publish() {
    let server = Server::start().await;
    let r = post(server.addr, "/publish/news", &[], b"from loopback").await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A token sent anyway changes nothing.
    let r = post(
        server.addr,
        "/publish/news",
        &[("Authorization", "Bearer whatever")],
        b"x",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // A peer on another address: this host's own non-loopback address,
    // when it has one.
    let ip = host_ip();
    let server = Server::start_on(ip, |_| {}).await;
    let r = post(server.addr, "/publish/news", &[], b"from afar").await;
    assert_eq!(r.status, 403, "{ip}: {}", r.text());
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("publish_token"));
    assert_eq!(server.hub.stats().publications, 0);
    // Subscribing from there is fine.
    let r = get(server.addr, "/poll/news?timeout=0").await;
    assert_eq!(r.status, 200);

    let server = Server::start_on(ip, |c| c.publish_token = "t0ken".into()).await;
    let r = post(
        server.addr,
        "/publish/news",
        &[("Authorization", "Bearer t0ken")],
        b"from afar",
    )
    .await;
    assert_eq!(r.status, 200, "{ip}: {}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn an_ipv4_loopback_peer_of_a_dual_stack_listener_may_publish() {
    // push.listen = "[::]:port" accepts IPv4 too, as IPv4-mapped addresses.
    if std::net::TcpListener::bind("[::]:0").is_err() {
        eprintln!("no IPv6 here: not tested");
        return;
    }
    let server = Server::start_on(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |_| {}).await;
    let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), server.addr.port());
    let r = post(v6, "/publish/news", &[], b"from ::1").await;
    assert_eq!(r.status, 200, "::1: {}", r.text());
    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), server.addr.port());
    let r = post(v4, "/publish/news", &[], b"from 127.0.0.1").await;
    assert_eq!(
        r.status,
        200,
        "127.0.0.1 seen as ::ffff:127.0.0.1: {}",
        r.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_refuses_too_large_bodies_bad_channels_and_bad_events() {
    let server = Server::start_with(|c| {
        c.max_message_size = 1024;
        c.max_queue_bytes = 64 * 1024;
    })
    .await;
    let r = post(server.addr, "/publish/big", &[], &[b'x'; 1024]).await;
    assert_eq!(
        r.status,
        200,
        "max_message_size itself is fine: {}",
        r.text()
    );
    let r = post(server.addr, "/publish/big", &[], &[b'x'; 1025]).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("1024"));
    let r = post(server.addr, "/publish/big", &[], &[b'x'; 40_000]).await;
    assert_eq!(r.status, 413, "{}", r.text());

    for path in [
        "/publish/bad*name",
        "/publish/a%20b",
        "/publish/news?event=a%0Ab",
    ] {
        let r = post(server.addr, path, &[], b"x").await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
    assert_eq!(server.hub.stats().publications, 1);
    // Publishing is POST only.
    assert_eq!(get(server.addr, "/publish/big").await.status, 405);
}

/// Sends `head` (and `body`) on a new connection; the response within T.
async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(T, async {
        // Connection: close — the answer ends with the connection.
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            raw.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("an answer within T");
    String::from_utf8_lossy(&raw).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_over_the_limit_is_refused_before_the_body() {
    let server = Server::start_with(|c| {
        c.max_message_size = 1024;
        c.max_queue_bytes = 64 * 1024;
    })
    .await;
    // 10 GB announced, one byte sent: refused at once, not awaited.
    let answer = raw_exchange(
        server.addr,
        b"POST /publish/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 10000000000\r\n\r\nx",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(answer.contains("push.max_message_size"), "{answer}");
    assert_eq!(server.hub.stats().publications, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_chunked_body_is_a_bad_request() {
    let server = Server::start().await;
    let answer = raw_exchange(
        server.addr,
        b"POST /publish/c HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("malformed request body"), "{answer}");
    assert_eq!(server.hub.stats().publications, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routers_own_refusals_are_json_too() {
    let server = Server::start().await;
    // A path that is not UTF-8 once decoded: axum's rejection.
    for path in ["/sse/a%FFb", "/poll/%C3", "/publish/%FF"] {
        let r = request(
            server.addr,
            if path.starts_with("/publish") {
                "POST"
            } else {
                "GET"
            },
            path,
            &[],
            b"",
        )
        .await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
        assert!(
            r.json()["error"].as_str().unwrap().contains("UTF-8"),
            "{path}: {}",
            r.text()
        );
    }
    // A method a route does not take: 405 with its Allow header.
    let r = request(server.addr, "DELETE", "/health", &[], b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json(), json!({"error": "method not allowed"}));
    assert!(
        r.header("allow").is_some_and(|a| a.contains("GET")),
        "{:?}",
        r.headers
    );
}
