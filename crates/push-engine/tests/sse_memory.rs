//! What an idle SSE stream makes the engine hold. It is served on the
//! socket itself, outside hyper (`edge/raw`), so hyper's 8 KB read and 8 KB
//! write buffers are not among it: the connection's task (1.4 KB), the
//! stream's state, its subscription and the socket's registration come to
//! 3,312 bytes (with the test's own client socket, 256); 20.8 KB while
//! hyper served it. (4,336 when the peer was watched with `readable()`:
//! tokio's readiness, still set after the head was read, made that read
//! find nothing once and keep a 1 KB buffer for the next request.) This is the figure behind docs/performance.md's account
//! of an idle SSE stream's memory.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_sse_stream_holds_under_3_7k() {
    // Keep-alive far away: nothing is written while the streams are counted.
    let server = Server::start_with(|c| c.keepalive = Duration::from_secs(30)).await;
    // The channel exists and the runtime is warm before counting.
    let mut warm = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    send_request(&mut warm, "GET", "/sse/idle", &[], b"").await;
    assert_eq!(read_head(&mut warm).await.0, 200);
    server.wait_subscribers(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let n = 100;
    let before = counting::live();
    let mut streams = Vec::new();
    for _ in 0..n {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        send_request(&mut s, "GET", "/sse/idle", &[], b"").await;
        let (status, _, _) = read_head(&mut s).await;
        assert_eq!(status, 200);
        streams.push(s);
    }
    server.wait_subscribers(n + 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Counted in-process, so this includes the test's own client socket
    // (tokio's registration of it, 256 bytes).
    let per_stream = (counting::live() - before) / n as isize;
    assert!(
        per_stream < 3_700,
        "an idle SSE stream holds {per_stream} bytes"
    );

    // They are open streams: one publication reaches them all.
    server.publish("idle", "hello");
    for mut s in streams {
        read_until(&mut s, Vec::new(), b"data: hello\n\n").await;
    }
}
