//! An idle WebSocket of one channel is written by the publisher itself (its
//! tap, `edge/transport/tap.rs`), and the client sees what the session
//! alone would send: every message once, in order, the right frame type,
//! raw or JSON envelopes, pongs to its pings while the tap holds the
//! socket, and everything for a reader whose socket fills up (partial
//! writes, the session taking over and handing back).

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_websocket_is_written_by_the_publisher_in_order() {
    const N: usize = 200;
    let server = Server::start().await;
    let mut raw = ws_open(server.addr, "/ws/a").await;
    let mut json = ws_open(server.addr, "/ws/a?format=json").await;
    server.wait_subscribers(2).await;
    let mut sent = Vec::new();
    for i in 0..N {
        let p = match i % 3 {
            2 => server.publish("a", vec![0u8, i as u8, 0xff]),
            _ => server.publish("a", format!("m{i}")),
        };
        sent.push(p);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for (i, p) in sent.iter().enumerate() {
        match (i % 3, ws_next(&mut raw).await) {
            (2, Message::Binary(b)) => assert_eq!(&b[..], &[0u8, i as u8, 0xff], "message {i}"),
            (_, Message::Text(t)) => assert_eq!(t.as_str(), format!("m{i}"), "message {i}"),
            (_, other) => panic!("message {i}: {other:?}"),
        }
        assert_eq!(ws_json(&mut json).await, envelope(p), "envelope {i}");
    }
    let direct = server.hub.metrics().direct_writes();
    assert!(
        direct >= N as u64,
        "most of the {} deliveries are written by the publisher: {direct}",
        2 * N
    );
    assert!(direct <= 2 * N as u64);
    ws_quiet(&mut raw, Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_answered_between_the_publishers_writes() {
    let server = Server::start().await;
    let mut ws = ws_open(server.addr, "/ws/a").await;
    server.wait_subscribers(1).await;
    for i in 0..20 {
        server.publish("a", format!("m{i}"));
        ws.send(Message::Ping(format!("p{i}").into_bytes().into()))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (mut texts, mut pongs) = (Vec::new(), Vec::new());
    while texts.len() < 20 || pongs.len() < 20 {
        match tokio::time::timeout(T, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => texts.push(t.to_string()),
            Ok(Some(Ok(Message::Pong(p)))) => pongs.push(String::from_utf8_lossy(&p).into_owned()),
            Ok(Some(Ok(Message::Ping(_)))) => {}
            other => panic!("after {texts:?} and {pongs:?}: {other:?}"),
        }
    }
    let expected = |prefix: &str| (0..20).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>();
    assert_eq!(texts, expected("m"));
    assert_eq!(pongs, expected("p"));
    assert!(server.hub.metrics().direct_writes() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_whose_socket_fills_gets_every_message_once_in_order() {
    const N: usize = 400;
    let server = Server::start_with(|c| {
        c.keepalive = Duration::from_secs(10);
        c.max_message_size = 64 * 1024;
        c.channel_buffer = 4096;
        c.history = 4096;
    })
    .await;
    // A 4 KB receive buffer, and nothing read at first: 6.4 MB fill the
    // socket's send buffer, the publisher's writes are partial, or find
    // the socket full, and the session takes over, then parks again.
    let stream = small_socket(server.addr, 4096).await;
    let request = format!("ws://{}/ws/a", server.addr)
        .into_client_request()
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("the upgrade");
    server.wait_subscribers(1).await;
    let body = |i: usize| format!("{i:06}{}", "z".repeat(16 * 1024));
    let publisher = server.publish_burst("a", N, move |i| push_engine::Outgoing::new(body(i)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..N {
        match tokio::time::timeout(T, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => assert!(t.as_str() == body(i), "message {i} whole"),
            other => panic!("message {i}: {other:?}"),
        }
        if i % 100 == 99 {
            // Reading nothing for a while fills the socket.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    publisher.await.unwrap();
    assert_eq!(server.hub.metrics().slow_disconnects(), 0);
    assert_eq!(server.hub.metrics().drops(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_idle_websockets_get_everything_in_order_with_the_fan_out_shared() {
    // Past push_engine's LANE_MIN (32) taps a channel's fan-out is shared
    // with a lane on the other worker thread (`hub/taps.rs`).
    const SUBSCRIBERS: usize = 80;
    const N: usize = 30;
    let server = Server::start().await;
    let mut clients = Vec::new();
    for _ in 0..SUBSCRIBERS {
        clients.push(ws_open(server.addr, "/ws/a").await);
    }
    server.wait_subscribers(SUBSCRIBERS as u64).await;
    let before = server.hub.metrics().direct_writes();
    for i in 0..N {
        server.publish("a", format!("m{i}"));
        // Apart by more than push.coalesce: a crowded channel's bursts
        // are left to the connections' tasks to coalesce.
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    for (c, ws) in clients.iter_mut().enumerate() {
        for i in 0..N {
            match ws_next(ws).await {
                Message::Text(t) => assert_eq!(t.as_str(), format!("m{i}"), "client {c}"),
                other => panic!("client {c}, message {i}: {other:?}"),
            }
        }
    }
    for ws in clients.iter_mut().take(5) {
        ws_quiet(ws, Duration::from_millis(50)).await;
    }
    let direct = server.hub.metrics().direct_writes() - before;
    let deliveries = (SUBSCRIBERS * N) as u64;
    assert!(
        direct >= deliveries / 2,
        "most of the {deliveries} deliveries are written directly: {direct}"
    );
}
