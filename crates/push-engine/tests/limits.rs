//! The counting limits against a real server: connections in all and per
//! client address, long-polls waiting per address, a WebSocket client's
//! publishing rate. Each is reached and refused precisely (the refused
//! peer's exact answer), a well-behaved subscriber on the same engine keeps
//! receiving, and every count returns to zero once clients leave.
//!
//! The per-address limits exempt loopback, so those tests serve on this
//! host's non-loopback address (as `tests/http.rs` does for publishing from
//! other hosts). Request heads and timeouts are in `tests/slowloris.rs`.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use push_engine::config::Patterns;
use push_engine::metrics::{Limit, Transport};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// Waits (within [`T`]) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < T, "not within {T:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until `n` connections are open on the server's listener.
async fn open(server: &Server, n: u64) {
    let m = server.hub.metrics().clone();
    until(&format!("{n} connections open"), || {
        m.listen_connections() == n
    })
    .await;
}

/// A connection that sends nothing, once the server counts it.
async fn idle(server: &Server) -> TcpStream {
    let before = server.hub.metrics().listen_connections();
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    open(server, before + 1).await;
    stream
}

/// The answer must be `status` with exactly `{"error": error}`, and close.
fn refused(r: &Response, status: u16, error: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({ "error": error }));
}

/// The subscriber gets what is published now.
async fn still_receives(server: &Server, sse: &mut Sse, data: &str) {
    server.publish("news", data.to_owned());
    assert_eq!(sse.event().await.data(), data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_max_connections_a_connection_is_answered_503_before_its_request() {
    let server = Server::start_with(|c| c.max_connections = 3).await;
    let m = server.hub.metrics().clone();
    let mut sse = sse_open(server.addr, "/sse/news", &[]).await;
    let mut ws = ws_open(server.addr, "/ws/news").await;
    let quiet = idle(&server).await;
    open(&server, 3).await;

    let error = "too many connections: push.max_connections (3) are open";
    let r = get(server.addr, "/health").await;
    refused(&r, 503, error);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(
        ws_refused(server.addr, "/ws/news").await,
        (503, json!({ "error": error }).to_string())
    );
    // Refused before anything is read: even a request that is not HTTP.
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut raw, b"\x16\x03\x01 not http")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut raw, &mut answer)
        .await
        .unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 503 Service Unavailable\r\n"));
    assert_eq!(m.refusals(Limit::Connections), 3);
    assert_eq!(m.listen_connections(), 3, "refused ones are not counted");

    still_receives(&server, &mut sse, "during").await;
    assert_eq!(ws_text(&mut ws).await, "during");

    // Leaving frees the places: an idle connection, then an upgraded one.
    drop(quiet);
    open(&server, 2).await;
    assert_eq!(get(server.addr, "/health").await.status, 200);
    drop(ws);
    open(&server, 1).await;
    let (a, b) = (idle(&server).await, idle(&server).await);
    refused(&get(server.addr, "/health").await, 503, error);
    drop((a, b, sse));
    open(&server, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_is_exempt_from_the_per_address_limits() {
    let server = Server::start_with(|c| {
        c.max_connections_per_ip = 1;
        c.max_poll_waiters_per_ip = 1;
        c.poll_timeout = Duration::from_secs(30);
    })
    .await;
    let mut sse = sse_open(server.addr, "/sse/news", &[]).await;
    let _quiet = idle(&server).await;
    let polls: Vec<_> = (0..3).map(|_| start_poll(server.addr)).collect();
    let m = server.hub.metrics().clone();
    until("3 long-polls waiting", || {
        m.connections(Transport::Poll) == 3
    })
    .await;
    still_receives(&server, &mut sse, "all").await;
    for p in polls {
        assert_eq!(p.await.unwrap()["messages"][0]["data"], "all");
    }
    assert_eq!(m.refusals(Limit::ConnectionsPerIp), 0);
    assert_eq!(m.refusals(Limit::PollWaitersPerIp), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_max_connections_per_ip_a_connection_is_answered_429() {
    let ip = host_ip();
    let server = Server::start_on(ip, |c| c.max_connections_per_ip = 2).await;
    let m = server.hub.metrics().clone();
    let mut sse = sse_open(server.addr, "/sse/news", &[]).await;
    let quiet = idle(&server).await;

    let error = "too many connections from this address: push.max_connections_per_ip is 2";
    refused(&get(server.addr, "/health").await, 429, error);
    assert_eq!(
        ws_refused(server.addr, "/ws/news").await,
        (429, json!({ "error": error }).to_string())
    );
    assert_eq!(m.refusals(Limit::ConnectionsPerIp), 2);
    assert_eq!(m.refusals(Limit::Connections), 0);
    still_receives(&server, &mut sse, "during").await;

    drop(quiet);
    open(&server, 1).await;
    assert_eq!(get(server.addr, "/health").await.status, 200);
    drop(sse);
    open(&server, 0).await;
    // The address's count is back to zero: its whole allowance again.
    let (_a, _b) = (idle(&server).await, idle(&server).await);
    refused(&get(server.addr, "/health").await, 429, error);
}

/// `GET /poll/news` (waiting for the next publication) in a task.
fn start_poll(addr: SocketAddr) -> JoinHandle<Value> {
    tokio::spawn(async move {
        let r = get(addr, "/poll/news").await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_max_poll_waiters_per_ip_a_long_poll_is_answered_429() {
    let ip = host_ip();
    let server = Server::start_on(ip, |c| {
        c.max_poll_waiters_per_ip = 2;
        c.poll_timeout = Duration::from_secs(30);
    })
    .await;
    let m = server.hub.metrics().clone();
    let mut sse = sse_open(server.addr, "/sse/news", &[]).await;
    let zero = server.publish("news", "zero").id.to_string();
    server.publish("news", "first");
    assert_eq!(sse.event().await.data(), "zero");
    assert_eq!(sse.event().await.data(), "first");
    let waiting = [start_poll(server.addr), start_poll(server.addr)];
    until("2 long-polls waiting", || {
        m.connections(Transport::Poll) == 2
    })
    .await;

    let r = get(server.addr, "/poll/news").await;
    refused(
        &r,
        429,
        "too many long-polls waiting from this address: push.max_poll_waiters_per_ip is 2",
    );
    assert_eq!(m.refusals(Limit::PollWaitersPerIp), 1);
    // Polls that do not wait are answered as ever.
    let r = get(server.addr, &format!("/poll/news?since={}", enc(&zero))).await;
    assert_eq!(
        (r.status, r.json()["messages"][0]["data"].clone()),
        (200, json!("first"))
    );
    let r = get(server.addr, "/poll/news?timeout=0").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(m.refusals(Limit::PollWaitersPerIp), 1);

    still_receives(&server, &mut sse, "second").await;
    for p in waiting {
        assert_eq!(p.await.unwrap()["messages"][0]["data"], "second");
    }
    assert_eq!(m.connections(Transport::Poll), 0);
    // Counted out: two may wait again.
    let again = [start_poll(server.addr), start_poll(server.addr)];
    until("2 long-polls waiting again", || {
        m.connections(Transport::Poll) == 2
    })
    .await;
    still_receives(&server, &mut sse, "third").await;
    for p in again {
        assert_eq!(p.await.unwrap()["messages"][0]["data"], "third");
    }
    assert_eq!(m.refusals(Limit::PollWaitersPerIp), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_publishing_too_fast_is_closed_with_1008() {
    let server = Server::start_with(|c| {
        c.client_publish = Patterns::All;
        c.client_publish_rate = 5;
    })
    .await;
    let m = server.hub.metrics().clone();
    let mut listener = ws_open(server.addr, "/ws/chat").await;
    let mut sse = sse_open(server.addr, "/sse/news", &[]).await;
    let mut flooder = ws_open(server.addr, "/ws/chat").await;
    server.wait_subscribers(3).await;

    // 50 at once: the burst of 5 (and what refills meanwhile) goes out,
    // then the connection is closed.
    for i in 0..50 {
        let _ = futures_util::SinkExt::send(&mut flooder, Message::text(format!("m{i}"))).await;
    }
    let close = loop {
        match ws_next(&mut flooder).await {
            Message::Close(Some(frame)) => break frame,
            Message::Text(_) => {} // its own messages, echoed
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1008);
    assert_eq!(
        close.reason.as_str(),
        "publishing too fast: see push.client_publish_rate"
    );
    assert_eq!(m.refusals(Limit::ClientPublishRate), 1);

    // The others saw the accepted ones, in order, and nothing else is affected.
    let mut polite = ws_open(server.addr, "/ws/chat").await;
    for text in ["a", "b", "c"] {
        futures_util::SinkExt::send(&mut polite, Message::text(text))
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    loop {
        match ws_text(&mut listener).await.as_str() {
            "a" => break,
            m => got.push(m.to_owned()),
        }
    }
    assert!((5..50).contains(&got.len()), "{got:?}");
    let expected: Vec<String> = (0..got.len()).map(|i| format!("m{i}")).collect();
    assert_eq!(got, expected);
    assert_eq!(ws_text(&mut listener).await, "b");
    assert_eq!(ws_text(&mut listener).await, "c");
    still_receives(&server, &mut sse, "still").await;
    assert_eq!(m.refusals(Limit::ClientPublishRate), 1);
}
