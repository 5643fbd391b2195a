//! What a waiting long-poll makes the engine hold. It is served on the
//! socket itself, outside hyper (`edge/raw`): its handler's future, the
//! subscription, the connection's task and the socket's registration come
//! to 4,423 bytes (with the test's own client socket, 256), where hyper's
//! 8 KB read and 8 KB write buffers came on top before. Earlier still it
//! was 15 KB more: the request's headers, kept while the poll waited,
//! pinned hyper's read buffer so that it took a third one, and the
//! handler's future carried the Redis read of `Hub::join` inline; a
//! browser's `Origin`, kept for the CORS headers of the answer, pinned it
//! the same way until it was copied.
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
async fn a_waiting_long_poll_holds_under_4_8k() {
    // Polls wait long enough to be counted while they wait.
    let server = Server::start_with(|c| c.poll_timeout = Duration::from_secs(30)).await;
    // A browser's headers, so that they are worth keeping or not.
    let headers = [
        (
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        ),
        ("Accept", "application/json"),
        ("Accept-Language", "en-US,en;q=0.9"),
        ("Referer", "http://localhost/chat.html"),
        // Allowed (push.allowed_origins = *): its CORS headers are kept.
        ("Origin", "http://localhost:8080"),
    ];
    // The channel exists and the runtime is warm before counting.
    let warm = get(server.addr, "/poll/wait?timeout=0").await;
    assert_eq!(warm.status, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let n = 100;
    let before = counting::live();
    let mut polls = Vec::new();
    for _ in 0..n {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        send_request(&mut s, "GET", "/poll/wait?timeout=30", &headers, b"").await;
        polls.push(s);
    }
    server.wait_subscribers(n).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Counted in-process, so this includes the test's own client socket
    // (tokio's registration of it, 256 bytes).
    let per_poll = (counting::live() - before) / n as isize;
    assert!(
        per_poll < 4_800,
        "a waiting long-poll holds {per_poll} bytes"
    );

    // They are waiting, not refused: one publication answers them all.
    server.publish("wait", "hello");
    for mut s in polls {
        let (status, head, body) = read_head(&mut s).await;
        assert_eq!(status, 200);
        assert_eq!(
            header(&head, "access-control-allow-origin"),
            Some("http://localhost:8080")
        );
        let body = read_until(&mut s, body, b"]}").await;
        assert!(
            find(&body, b"\"data\":\"hello\"").is_some(),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
}
