//! An idle SSE stream is written by the publisher itself (its tap,
//! `edge/transport/tap.rs`), and the stream on the wire is the one the
//! connection's task alone would write: every message once, in order,
//! whole chunks, heartbeats between them, over HTTP/1.1 and HTTP/1.0, for
//! a reader that keeps up and for one whose socket fills up (partial
//! writes, the task taking over and handing back). A stream of several
//! channels is written by its task, as before.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Reads `n` events, skipping comments and `retry:`; returns them and how
/// many comments came between.
async fn events(sse: &mut Sse, n: usize) -> (Vec<SseEvent>, usize) {
    let (mut got, mut comments) = (Vec::with_capacity(n), 0);
    while got.len() < n {
        match sse.next().await {
            Some(SseItem::Event(e)) => got.push(e),
            Some(SseItem::Comment(_)) => comments += 1,
            Some(SseItem::Retry(_)) => {}
            None => panic!("the stream ended after {} events", got.len()),
        }
    }
    (got, comments)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_is_written_by_the_publisher_in_order() {
    const N: usize = 200;
    let server = Server::start().await;
    let mut sse = sse_open(server.addr, "/sse/a", &[]).await;
    assert!(matches!(sse.next().await, Some(SseItem::Retry(_))));
    server.wait_subscribers(1).await;
    let metrics = server.hub.metrics().clone();
    let mut ids = Vec::new();
    for i in 0..N {
        ids.push(server.publish("a", format!("m{i}")).id.to_string());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (got, _) = events(&mut sse, N).await;
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e.id.as_deref(), Some(ids[i].as_str()), "event {i}");
        assert_eq!(e.data(), format!("m{i}"));
    }
    let direct = metrics.direct_writes();
    assert!(
        direct >= N as u64 / 2,
        "most deliveries to an idle stream are written by the publisher: {direct} of {N}"
    );
    assert!(
        direct <= N as u64,
        "{direct} direct writes for {N} deliveries"
    );
    sse.quiet(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_go_between_the_publishers_writes() {
    // push.keepalive is 1 s in the tests: about two heartbeats.
    let server = Server::start().await;
    let mut sse = sse_open(server.addr, "/sse/a", &[]).await;
    server.wait_subscribers(1).await;
    let publisher = {
        let hub = server.hub.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..50 {
                let p = hub
                    .publish("a", push_engine::Outgoing::new(format!("m{i}")))
                    .unwrap();
                ids.push(p.id.to_string());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            ids
        })
    };
    let (got, comments) = events(&mut sse, 50).await;
    let ids = publisher.await.unwrap();
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e.id.as_deref(), Some(ids[i].as_str()), "event {i}");
        assert_eq!(e.data(), format!("m{i}"));
    }
    assert!(comments >= 1, "a heartbeat in 2.5 s of a 1 s keep-alive");
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
    // the socket full, and the task takes over, then parks again.
    let mut s = small_socket(server.addr, 4096).await;
    send_request(&mut s, "GET", "/sse/a", &[], b"").await;
    let mut sse = Sse::read(s).await;
    server.wait_subscribers(1).await;
    let body = |i: usize| format!("{i:06}{}", "y".repeat(16 * 1024));
    let publisher = server.publish_burst("a", N, move |i| push_engine::Outgoing::new(body(i)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut got = Vec::with_capacity(N);
    while got.len() < N {
        match sse.next().await {
            Some(SseItem::Event(e)) => {
                assert_eq!(e.event, None, "no push-lost or push-slow: {e:?}");
                got.push(e);
                if got.len() % 100 == 0 {
                    // Reading nothing for a while fills the socket.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            Some(_) => {}
            None => panic!("the stream ended after {} events", got.len()),
        }
    }
    let ids = publisher.await.unwrap();
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e.id.as_deref(), Some(ids[i].as_str()), "event {i}");
        assert!(e.data() == body(i), "message {i} whole");
    }
    sse.quiet(Duration::from_millis(100)).await;
    assert_eq!(server.hub.metrics().slow_disconnects(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_1_0_stream_is_written_unchunked() {
    let server = Server::start().await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /sse/a HTTP/1.0\r\n\r\n").await.unwrap();
    let (status, headers, body) = read_head(&mut s).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "transfer-encoding"), None, "{headers:?}");
    server.wait_subscribers(1).await;
    let mut expected = String::new();
    for i in 0..20 {
        let p = server.publish("a", format!("m{i}"));
        expected.push_str(&format!("id: {}\ndata: m{i}\n\n", p.id));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let body = read_until(&mut s, body, b"data: m19\n\n").await;
    let body = String::from_utf8(body).unwrap();
    let events = &body[body.find("id: ").expect("events")..];
    assert_eq!(events, expected, "the events as they are, no chunk framing");
    assert!(server.hub.metrics().direct_writes() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_several_channels_is_written_by_its_task() {
    let server = Server::start().await;
    let mut sse = sse_open(server.addr, "/sse?channel=a&channel=b", &[]).await;
    server.wait_subscribers(2).await;
    for i in 0..10 {
        server.publish(if i % 2 == 0 { "a" } else { "b" }, format!("m{i}"));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (got, _) = events(&mut sse, 10).await;
    let data: Vec<&str> = got.iter().map(SseEvent::data).collect();
    assert_eq!(data, (0..10).map(|i| format!("m{i}")).collect::<Vec<_>>());
    assert_eq!(server.hub.metrics().direct_writes(), 0);
}
