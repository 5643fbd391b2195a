//! How Server-Sent Events streams are refused or end, over real TCP: bad
//! requests (400, a `Last-Event-ID` that is not ASCII), a client that goes
//! away, a slow consumer cut off beside a reader, and shutdown (after what
//! was queued, and with a stalled reader). Framing and resuming:
//! `sse.rs`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_400() {
    let server = Server::start_with(|c| c.max_channels_per_connection = 2).await;
    for (path, headers) in [
        ("/sse/bad*name", vec![]),
        ("/sse", vec![]),
        ("/sse?channel=a&channel=b&channel=c", vec![]),
        ("/sse/a?lastEventId=zz", vec![]),
        ("/sse/a", vec![("Last-Event-ID", "not-an-id")]),
    ] {
        let r = get_with(server.addr, path, &headers).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_event_id_that_is_not_ascii_is_refused_not_ignored() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start().await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /sse/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\nLast-Event-ID: 1-\xc3\xa9\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(T, stream.read_to_end(&mut raw))
        .await
        .expect("an answer within T")
        .unwrap();
    let answer = String::from_utf8_lossy(&raw);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("invalid message id"), "{answer}");
    assert_eq!(server.hub.stats().subscribers, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_is_unsubscribed_at_once() {
    // Long keep-alives: no write is needed to notice.
    let server = Server::start_with(|c| c.keepalive = Duration::from_secs(30)).await;
    let one = sse_open(server.addr, "/sse/a", &[]).await;
    let two = sse_open(server.addr, "/sse?channel=a&channel=b", &[]).await;
    server.wait_subscribers(3).await;
    drop(one);
    server.wait_subscribers(2).await;
    drop(two);
    server.wait_subscribers(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_cut_off_without_disturbing_a_reader() {
    const N: usize = 160;
    const SIZE: usize = 60 * 1024;
    let server = Server::start_with(flood_settings).await;
    // The slow one: a small receive buffer, and it reads nothing for now.
    let mut slow = small_socket(server.addr, 4096).await;
    send_request(&mut slow, "GET", "/sse/flood", &[], b"").await;
    let mut fast = sse_open(server.addr, "/sse/flood", &[]).await;
    server.wait_subscribers(2).await;
    let reader = tokio::spawn(async move {
        let mut got = Vec::with_capacity(N);
        while got.len() < N {
            got.push(fast.event().await);
        }
        (fast, got)
    });

    let body = |i: usize| format!("{i:08}{}", "x".repeat(SIZE - 8));
    let mut ids = Vec::new();
    for i in 0..N {
        ids.push(server.publish("flood", body(i)).id.to_string());
        if i % 8 == 7 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let (mut fast, got) = tokio::time::timeout(T, reader)
        .await
        .expect("the reader gets everything")
        .unwrap();
    for (i, event) in got.iter().enumerate() {
        assert_eq!(event.id.as_deref(), Some(ids[i].as_str()));
        assert!(event.data() == body(i), "message {i} in order and whole");
    }
    // Its subscription is gone while it has not read a byte.
    server.wait_subscribers(1).await;

    // Reading now: a prefix of what was published, then a push-slow event
    // and the end of the stream, or (a socket that took nothing for
    // push.keepalive, so no event could be written) the connection cut.
    let mut slow = Sse::read(slow).await;
    let mut received = 0;
    let end = loop {
        match slow.next_or_cut().await {
            Some(SseItem::Event(e)) if e.event.is_none() => {
                assert_eq!(
                    e.id.as_deref(),
                    Some(ids[received].as_str()),
                    "in order, no gap"
                );
                received += 1;
            }
            Some(SseItem::Event(e)) => {
                assert_eq!(e.event.as_deref(), Some("push-slow"), "{e:?}");
                let data: Value = serde_json::from_str(e.data()).unwrap();
                assert!(data["reason"].as_str().unwrap().contains("slow"), "{data}");
                assert_eq!(
                    slow.next_or_cut().await,
                    None,
                    "push-slow is the last event"
                );
                break "push-slow";
            }
            Some(_) => {}
            None => {
                assert!(slow.cut, "a stream that ends without push-slow was cut");
                break "cut";
            }
        }
    };
    eprintln!("slow consumer: had {received} of {N} messages, then {end}");
    assert!(
        received < N,
        "the slow consumer got only a part ({received} of {N})"
    );

    server.publish("flood", "after");
    assert_eq!(
        fast.event().await.data(),
        "after",
        "the reader is undisturbed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_streams_cleanly_after_what_was_queued() {
    let mut server = Server::start().await;
    let mut one = sse_open(server.addr, "/sse/a", &[]).await;
    let mut many = sse_open(server.addr, "/sse?channel=a&channel=b", &[]).await;
    server.wait_subscribers(3).await;
    let p = server.publish("a", "last");
    server.begin_shutdown();
    assert_eq!(one.event().await, expected(&p));
    one.end().await;
    // Several channels: the first channel to close ends the stream.
    loop {
        match many.next().await {
            Some(SseItem::Event(e)) => assert_eq!(e.data(), "last"),
            Some(_) => {}
            None => break,
        }
    }
    server.stopped().await;
    // And the listener is gone.
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_stalled_reader_does_not_hold_shutdown() {
    let mut server = Server::start_with(|c| {
        c.max_message_size = 64 * 1024;
        c.max_queue_bytes = 128 * 1024;
        c.keepalive = Duration::from_millis(300);
    })
    .await;
    // Connected, then never reads again (and never closes).
    let mut stalled = small_socket(server.addr, 4096).await;
    send_request(&mut stalled, "GET", "/sse/flood", &[], b"").await;
    server.wait_subscribers(1).await;
    for _ in 0..120 {
        server.publish("flood", "x".repeat(60 * 1024));
    }
    // push.keepalive later its subscription is dropped as slow...
    server.wait_subscribers(0).await;
    // ...but its connection stays, and so graceful shutdown waits forever
    // (a WebSocket in the same state is dropped after push.keepalive).
    server.shutdown().await;
    drop(stalled);
}
