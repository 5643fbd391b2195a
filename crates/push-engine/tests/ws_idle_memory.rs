//! What an idle WebSocket makes the engine hold: after the upgrade hyper's
//! buffers are gone (the connection is the engine's own), and what is left
//! — tungstenite's read buffer, the session's task and state, the feed,
//! the socket's registration, the timers — stays under the figure below.
//! This is the figure behind docs/performance.md's account of an idle
//! WebSocket's memory.
//!
//! The live heap is counted by a global allocator of this test binary (the
//! engine runs in-process), so this file holds one test only.

mod common;

use std::time::Duration;

use common::*;

#[path = "common/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// Live heap per idle WebSocket of `n` opened on `server`, each with
/// `headers` besides the upgrade's.
async fn per_socket(
    server: &Server,
    extra: &[(&str, &str)],
    n: usize,
) -> (isize, Vec<tokio::net::TcpStream>) {
    let before = counting::live();
    let mut sockets = Vec::new();
    for _ in 0..n {
        // A bare socket after the handshake: the client holds no buffers.
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let mut headers = vec![
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        headers.extend_from_slice(extra);
        send_request(&mut s, "GET", "/ws/idle", &headers, b"").await;
        assert_eq!(read_head(&mut s).await.0, 101);
        sockets.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    ((counting::live() - before) / n as isize, sockets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_websocket_holds_under_6k() {
    // Keep-alive far away: nothing is written while the sockets are counted.
    let server = Server::start_with(|c| c.keepalive = Duration::from_secs(30)).await;
    let (_, _warm) = per_socket(&server, &[], 1).await;
    server.wait_subscribers(1).await;

    // Counted in-process: this includes the test's own client socket
    // (tokio's registration of it, 256 bytes).
    let n = 100;
    let (plain, _plain) = per_socket(&server, &[], n).await;
    server.wait_subscribers(n as u64 + 1).await;
    // A browser's offer: permessage-deflate negotiated.
    let offer = [(
        "Sec-WebSocket-Extensions",
        "permessage-deflate; client_max_window_bits",
    )];
    let (deflate, _deflate) = per_socket(&server, &offer, n).await;
    server.wait_subscribers(2 * n as u64 + 1).await;
    eprintln!("an idle WebSocket holds {plain} bytes, {deflate} with permessage-deflate");
    // 4.6 KB before the tap (`edge/transport/tap.rs`: its state, 200
    // bytes, and the session's larger future); 5.4 KB with it.
    assert!(plain < 6 * 1024, "an idle WebSocket holds {plain} bytes");
    assert!(
        deflate < 6 * 1024,
        "with permessage-deflate, {deflate} bytes"
    );
}
