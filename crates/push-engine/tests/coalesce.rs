//! Write coalescing (`push.coalesce`) against a real server: a connection
//! written to rarely is written at once; on a crowded channel
//! (`push.coalesce_subscribers`) a burst right after a write waits out
//! `push.coalesce` and goes out together, whole and in order; a lone
//! subscriber is never held, whichever protocol it speaks; and the wait ends early rather than let the
//! channel's ring run past it.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// `push.coalesce` of 2 s, made long enough to be seen, on a channel
/// crowded from its first subscriber.
fn slow_coalesce(c: &mut push_engine::Config) {
    c.coalesce = Duration::from_secs(2);
    c.keepalive = Duration::from_secs(5);
    c.coalesce_subscribers = 1;
}

/// A WebSocket, SSE or Pusher subscriber.
enum Client {
    Ws(Ws),
    Sse(Sse),
    Pusher(Ws),
}

impl Client {
    async fn text(&mut self) -> String {
        match self {
            Client::Ws(ws) => ws_text(ws).await,
            Client::Sse(sse) => sse.event().await.data().to_owned(),
            Client::Pusher(ws) => {
                let frame = pusher::next(ws).await;
                pusher::data(&frame).as_str().expect("text data").to_owned()
            }
        }
    }

    async fn quiet(&mut self, within: Duration) {
        match self {
            Client::Ws(ws) | Client::Pusher(ws) => ws_quiet(ws, within).await,
            Client::Sse(sse) => sse.quiet(within).await,
        }
    }
}

async fn a_burst_after_a_write_waits_for_push_coalesce(server: &Server, mut client: Client) {
    server.wait_subscribers(1).await;

    // Nothing written for a while: at once, not 2 s later.
    let sent = Instant::now();
    server.publish("c", "first");
    assert_eq!(client.text().await, "first");
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );

    // Right after that write: held until 2 s after it, then all at once.
    for m in ["a", "b", "c"] {
        server.publish("c", m);
    }
    client.quiet(Duration::from_millis(1200)).await;
    for m in ["a", "b", "c"] {
        assert_eq!(client.text().await, m);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_a_burst_after_a_write_waits_for_push_coalesce_and_arrives_whole() {
    let server = Server::start_with(slow_coalesce).await;
    let ws = ws_open(server.addr, "/ws/c").await;
    a_burst_after_a_write_waits_for_push_coalesce(&server, Client::Ws(ws)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_a_burst_after_a_write_waits_for_push_coalesce_and_arrives_whole() {
    let server = Server::start_with(slow_coalesce).await;
    let sse = sse_open(server.addr, "/sse/c", &[]).await;
    a_burst_after_a_write_waits_for_push_coalesce(&server, Client::Sse(sse)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wait_ends_before_the_ring_runs_past_the_connection() {
    // A ring of 8 and no history: a subscriber 8 behind has lost messages
    // (a raw WebSocket is closed 4001). Held for the whole 2 s, this one
    // would be 20 behind.
    let server = Server::start_with(|c| {
        slow_coalesce(c);
        c.channel_buffer = 8;
        c.history = 0;
    })
    .await;
    let mut ws = ws_open(server.addr, "/ws/ring").await;
    server.wait_subscribers(1).await;
    server.publish("ring", "first");
    assert_eq!(ws_text(&mut ws).await, "first");

    for i in 0..20 {
        server.publish("ring", format!("m{i}"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every second publication (a quarter of the ring) ended the wait.
    for i in 0..20 {
        assert_eq!(ws_text(&mut ws).await, format!("m{i}"));
    }
}

/// Below `push.coalesce_subscribers`, a burst right after a write goes out
/// as it comes: each message well before `push.coalesce` (2 s) is over.
async fn a_lone_subscriber_is_never_held(server: &Server, mut client: Client) {
    server.wait_subscribers(1).await;
    server.publish("c", "first");
    assert_eq!(client.text().await, "first");
    let sent = Instant::now();
    for m in ["a", "b", "c"] {
        server.publish("c", m);
    }
    for m in ["a", "b", "c"] {
        assert_eq!(client.text().await, m);
    }
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "held: {:?}",
        sent.elapsed()
    );
}

fn lone(c: &mut push_engine::Config) {
    slow_coalesce(c);
    c.coalesce_subscribers = 2;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_a_lone_subscriber_is_never_held() {
    let server = Server::start_with(lone).await;
    let ws = ws_open(server.addr, "/ws/c").await;
    a_lone_subscriber_is_never_held(&server, Client::Ws(ws)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_a_lone_subscriber_is_never_held() {
    let server = Server::start_with(lone).await;
    let sse = sse_open(server.addr, "/sse/c", &[]).await;
    a_lone_subscriber_is_never_held(&server, Client::Sse(sse)).await;
}

/// A Pusher connection of one channel reads it directly, as a WebSocket
/// does (a feed merged for it would count as crowded, and be held).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pusher_a_lone_subscriber_is_never_held() {
    let server = Server::start_with(|c| {
        lone(c);
        pusher::pusher_settings(c);
    })
    .await;
    let (mut ws, _) = pusher::connect(&server).await;
    pusher::subscribed(&mut ws, "c").await;
    a_lone_subscriber_is_never_held(&server, Client::Pusher(ws)).await;
}
