//! WebSocket against a real server: keep-alive pings and dead peers, and
//! readers that cannot keep up — one that stops reading, one that reads too
//! slowly — cut off without slowing anyone else; pongs and deliveries
//! interleaved under a flood.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use futures_util::{SinkExt, StreamExt};
use push_engine::Outgoing;
use tokio::io::AsyncReadExt;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

// ---------------------------------------------------------------- keep-alive

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_pings_every_keepalive_and_keeps_an_answering_peer() {
    let server = Server::start_with(|c| c.keepalive = Duration::from_millis(200)).await;
    let mut ws = ws_open(server.addr, "/ws/k").await;
    let started = Instant::now();
    let mut pings = Vec::new();
    while started.elapsed() < Duration::from_millis(1100) {
        // Reading answers pings (tungstenite queues the pong).
        match timeout(Duration::from_millis(100), ws.next()).await {
            Err(_) => {}
            Ok(Some(Ok(Message::Ping(_)))) => pings.push(started.elapsed()),
            Ok(other) => panic!("expected pings only, got {other:?}"),
        }
    }
    assert!((4..=6).contains(&pings.len()), "pings at {pings:?}");
    for pair in pings.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(100) && gap <= Duration::from_millis(400),
            "pings at {pings:?}"
        );
    }
    // Well past two intervals, the answering peer is still served.
    server.publish("k", "still here");
    assert_eq!(ws_text(&mut ws).await, "still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_dropped_after_about_two_keepalives() {
    let keepalive = Duration::from_millis(200);
    let server = Server::start_with(|c| c.keepalive = keepalive).await;
    // Completes the handshake, then never sends a byte (no pong, no close).
    let (mut socket, mut bytes) = raw_upgrade(server.addr, "/ws/silent").await;
    let started = Instant::now();
    server.wait_subscribers(1).await;
    let mut buf = [0u8; 1024];
    let closed_after = loop {
        match timeout(T, socket.read(&mut buf))
            .await
            .expect("the server closes within T")
        {
            Ok(0) | Err(_) => break started.elapsed(),
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
        }
    };
    // Only empty pings (0x89 0x00) came: no close frame for a dead peer.
    assert!(
        !bytes.is_empty() && bytes.chunks(2).all(|f| f == [0x89, 0x00]),
        "{bytes:?}"
    );
    assert!(
        closed_after >= keepalive * 3 / 2 && closed_after <= keepalive * 5,
        "closed after {closed_after:?}, keepalive {keepalive:?}"
    );
    server.wait_subscribers(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_is_unsubscribed_at_once() {
    let server = Server::start_with(|c| c.keepalive = Duration::from_secs(30)).await;
    let one = ws_open(server.addr, "/ws/a").await;
    let two = ws_open(server.addr, "/ws?channel=a&channel=b").await;
    let (three, _) = raw_upgrade(server.addr, "/ws/a").await;
    server.wait_subscribers(4).await;
    drop(one);
    server.wait_subscribers(3).await;
    drop(two);
    drop(three);
    server.wait_subscribers(0).await;
}

// ---------------------------------------------------------------- slow consumers

/// A WebSocket on a socket with a 4 KB receive buffer that keeps showing it
/// is alive (an unsolicited pong every 50 ms, until the returned task is
/// aborted), so only how it reads can get it cut off.
async fn small_and_alive(
    addr: std::net::SocketAddr,
    path: &str,
) -> (
    futures_util::stream::SplitStream<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>>,
    tokio::task::JoinHandle<()>,
) {
    let socket = small_socket(addr, 4096).await;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}{path}"), socket)
        .await
        .expect("handshake");
    let (mut tx, rx) = ws.split();
    let heartbeat = tokio::spawn(async move {
        while tx.send(Message::Pong(Bytes::new())).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    (rx, heartbeat)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_cut_off_without_disturbing_a_reader() {
    const N: usize = 160;
    const SIZE: usize = 60 * 1024;
    let server = Server::start_with(flood_settings).await;

    // The slow one: a small receive buffer, never reads, but keeps showing
    // it is alive (unsolicited pongs), so only its slowness can cut it off.
    let (mut slow_rx, heartbeat) = small_and_alive(server.addr, "/ws/flood").await;

    let mut fast = ws_open(server.addr, "/ws/flood").await;
    // The reader reads everything, then goes on reading (so it answers the
    // engine's pings) until the text published after the slow one is gone.
    let (all_read, read_all) = tokio::sync::oneshot::channel();
    let reader = tokio::spawn(async move {
        let mut got = Vec::with_capacity(N);
        while got.len() < N {
            match ws_next(&mut fast).await {
                Message::Binary(b) => got.push(b),
                other => panic!("expected a binary frame, got {other:?}"),
            }
        }
        let _ = all_read.send(());
        let after = ws_text(&mut fast).await;
        (got, after)
    });
    server.wait_subscribers(2).await;

    let started = Instant::now();
    for i in 0..N {
        let mut data = vec![0xffu8; SIZE];
        data[..8].copy_from_slice(&(i as u64).to_be_bytes());
        server.publish("flood", data);
        if i % 8 == 7 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    timeout(T, read_all)
        .await
        .expect("the reader gets everything within T")
        .expect("the reader is running");
    // The slow one is gone on the server while it still has not read a byte.
    server.wait_subscribers(1).await;
    let cut_after = started.elapsed();

    // Reading now: a prefix of what was published, then the end (4008, or
    // the socket dropped when the close frame could not be written).
    let mut received = 0usize;
    let end = loop {
        match timeout(T, slow_rx.next())
            .await
            .expect("the slow socket ends within T")
        {
            Some(Ok(Message::Binary(b))) => {
                assert_eq!(b[..8], (received as u64).to_be_bytes(), "in order, no gap");
                received += 1;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(frame))) => {
                break format!("close {:?}", frame.map(|f| u16::from(f.code)))
            }
            Some(Ok(other)) => panic!("unexpected {other:?}"),
            Some(Err(e)) => break format!("error {e}"),
            None => break "end".into(),
        }
    };
    heartbeat.abort();
    assert!(
        received < N,
        "the slow consumer got only a part ({received} of {N})"
    );
    assert!(
        end == "close Some(4008)" || !end.starts_with("close"),
        "ended with {end}"
    );
    eprintln!("slow consumer: cut after {cut_after:?}, had {received} of {N} messages, {end}");

    server.publish("flood", "after");
    let (got, after) = timeout(T, reader).await.expect("the reader ends").unwrap();
    for (i, b) in got.iter().enumerate() {
        assert_eq!(b.len(), SIZE);
        assert_eq!(b[..8], (i as u64).to_be_bytes(), "message {i} in order");
    }
    assert_eq!(after, "after", "the reader is undisturbed");
}

/// A reader that keeps reading, but more slowly than it is sent to: once
/// what it is handed was published more than push.keepalive ago, it is
/// slow, and told so with 4008 after a whole prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_falls_behind_is_told_it_is_slow() {
    const N: usize = 300;
    let server = Server::start_with(|c| {
        c.keepalive = Duration::from_millis(300);
        c.channel_buffer = 1024;
        c.history = 10;
    })
    .await;
    // It shows it is alive, so only its pace counts.
    let (mut lagging, heartbeat) = small_and_alive(server.addr, "/ws/trickle").await;
    server.wait_subscribers(1).await;
    for i in 0..N {
        let mut data = vec![0xffu8; 32 * 1024];
        data[..8].copy_from_slice(&(i as u64).to_be_bytes());
        server.publish("trickle", data);
    }
    // About 16 MB/s: the whole would take about 600 ms.
    let mut received = 0u64;
    let end = loop {
        tokio::time::sleep(Duration::from_millis(2)).await;
        match timeout(T, lagging.next()).await.expect("a frame within T") {
            Some(Ok(Message::Binary(b))) => {
                assert_eq!(b[..8], received.to_be_bytes(), "in order, no gap");
                received += 1;
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!(
                "expected binary frames then a close, got {:?} after {received}",
                other.map(|m| m.map(|m| m.len()))
            ),
        }
    };
    heartbeat.abort();
    assert_eq!(end, Some(4008), "after {received} of {N}");
    assert!(received < N as u64, "cut before the end ({received})");
    server.wait_subscribers(0).await;
}

/// Deliveries are written next to tungstenite's own frames: pongs to a
/// client that pings while it is flooded arrive whole, between whole
/// messages, and every message arrives in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pongs_and_deliveries_interleave_whole() {
    const N: u64 = 2000;
    let server = Server::start_with(|c| c.channel_buffer = 4096).await;
    let ws = ws_open(server.addr, "/ws/mixed").await;
    let (mut tx, mut rx) = ws.split();
    server.wait_subscribers(1).await;
    let pinger = tokio::spawn(async move {
        for i in 0..200u32 {
            tx.send(Message::Ping(Bytes::from(i.to_be_bytes().to_vec())))
                .await
                .expect("ping");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        tx
    });
    let publisher = {
        let hub = server.hub.clone();
        tokio::spawn(async move {
            for i in 0..N {
                let data = format!("{i:06}{}", "y".repeat(200));
                hub.publish("mixed", Outgoing::new(data)).expect("publish");
                if i % 50 == 49 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        })
    };
    let (mut received, mut pongs) = (0u64, 0u32);
    while received < N || pongs < 200 {
        match timeout(T, rx.next()).await.expect("a frame within T") {
            Some(Ok(Message::Text(t))) => {
                assert_eq!(t[..6], format!("{received:06}"), "in order, whole");
                assert_eq!(t.len(), 206);
                received += 1;
            }
            Some(Ok(Message::Pong(p))) => {
                assert_eq!(p[..], pongs.to_be_bytes(), "pongs in order, whole");
                pongs += 1;
            }
            other => panic!("after {received} messages, {pongs} pongs: {other:?}"),
        }
    }
    drop(pinger.await.unwrap());
    publisher.await.unwrap();
}
