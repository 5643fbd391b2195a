//! Request heads against a real server: one larger than
//! `push.max_header_size` is answered 431; one not complete within
//! `push.request_timeout` — on every endpoint, a WebSocket handshake
//! included — closes the connection without an answer, however the bytes
//! trickle in; a `POST /publish` body that does not arrive in time is
//! answered 408, and a frame on the local socket left unfinished closes
//! that connection. A well-behaved subscriber on the same engine keeps
//! receiving throughout, and the connections are counted out.

mod common;

use std::time::Duration;

use common::*;
use push_engine::metrics::Limit;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const TIMEOUT: Duration = Duration::from_millis(400);

async fn server() -> Server {
    Server::start_with(|c| {
        c.request_timeout = TIMEOUT;
        c.max_header_size = 1024;
    })
    .await
}

/// Waits until no connection is open on the server's listener but `n`.
async fn open(server: &Server, n: u64) {
    let started = Instant::now();
    while server.hub.metrics().listen_connections() != n {
        assert!(started.elapsed() < T, "{n} connections open within {T:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Sends `head` then one more byte of `trickle` every 50 ms until the
/// server closes the connection; returns what it answered and when it
/// closed, counted from before the connection was made.
async fn slowloris(server: &Server, head: &str, trickle: &str) -> (Vec<u8>, Duration) {
    // Before connecting: the server's clock starts when it accepts, which
    // may be before this task sees the connection made.
    let started = Instant::now();
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let mut bytes = trickle.bytes().cycle();
    let closed = tokio::time::timeout(T, async {
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                },
                _ = tokio::time::sleep(Duration::from_millis(50)) => {
                    // Failing once the server has closed is expected.
                    let _ = stream.write_all(&[bytes.next().unwrap()]).await;
                }
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "{head:?}: still open after {T:?}");
    (answer, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_head_is_closed_without_an_answer_on_every_endpoint() {
    let server = server().await;
    let mut sse = sse_open(server.addr, "/sse/news", &[]).await;
    let heads = [
        "GET /ws/news HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Version: 13\r\n",
        "GET /sse/news HTTP/1.1\r\nHost: x\r\n",
        "GET /poll/news HTTP/1.1\r\nHost: x\r\n",
        "POST /publish/news HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n",
        "GET /ws/news HTTP/1.1\r",
        "GET /sse/news HTTP/1.1\r",
        "GET /poll/news HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
        "",
    ];
    for (i, head) in heads.iter().enumerate() {
        let (answer, after) = slowloris(&server, head, "X-Slow: abc\r\n").await;
        assert_eq!(String::from_utf8_lossy(&answer), "", "{head:?}: no answer");
        assert!(after >= TIMEOUT, "{head:?}: closed after {after:?}");
        assert_eq!(
            server.hub.metrics().refusals(Limit::RequestTimeout),
            i as u64 + 1
        );
        server.publish("news", format!("after {i}"));
        assert_eq!(sse.event().await.data(), format!("after {i}"));
    }
    assert_eq!(
        server.hub.stats().publications,
        heads.len() as u64,
        "nothing published by them"
    );
    drop(sse);
    open(&server, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_publish_body_is_answered_408() {
    let server = server().await;
    let mut sse = sse_open(server.addr, "/sse/news", &[]).await;
    let head = "POST /publish/news HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
    let (answer, after) = slowloris(&server, head, "body").await;
    let answer = String::from_utf8(answer).unwrap();
    let (status, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    assert!(
        status.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{status}"
    );
    assert!(
        status.contains("content-type: application/json"),
        "{status}"
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(body).unwrap(),
        json!({"error": "the request body did not arrive within push.request_timeout (0.4 s)"})
    );
    assert!(after >= TIMEOUT, "answered after {after:?}");
    assert_eq!(server.hub.metrics().refusals(Limit::RequestTimeout), 1);
    assert_eq!(server.hub.stats().publications, 0);

    // A body sent at once is published as ever.
    let r = post(server.addr, "/publish/news", &[], b"on time").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(sse.event().await.data(), "on time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_over_max_header_size_is_answered_431() {
    let server = server().await;
    let mut sse = sse_open(server.addr, "/sse/news", &[]).await;
    let big = "c".repeat(1100);
    let r = get_with(server.addr, "/health", &[("Cookie", &big)]).await;
    assert_eq!(r.status, 431, "{}", r.text());
    assert_eq!(r.body, b"", "hyper's answer has no body");
    let r = request(
        server.addr,
        "GET",
        &format!("/sse/{}", "n".repeat(1100)),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 431, "a long request line too");
    assert_eq!(server.hub.metrics().refusals(Limit::HeaderSize), 2);

    // Just under the limit (the whole head: request line and headers).
    let fits = "c".repeat(900);
    let r = get_with(server.addr, "/health", &[("Cookie", &fits)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A WebSocket handshake's head carries a few more headers.
    let fits = "c".repeat(700);
    let mut ws = ws_try(server.addr, "/ws/news", &[("Cookie", &fits)])
        .await
        .unwrap();
    server.wait_subscribers(2).await;
    server.publish("news", "fine");
    assert_eq!(sse.event().await.data(), "fine");
    assert_eq!(ws_text(&mut ws).await, "fine");
    drop((sse, ws));
    open(&server, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_request_timeout() {
    let server = server().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut answered = Instant::now();
    for i in 0..3 {
        if i > 0 {
            // Well within the timeout between requests: kept alive.
            tokio::time::sleep(TIMEOUT / 4).await;
        }
        send_request(&mut stream, "GET", "/health", &[], b"").await;
        let mut buf = vec![0u8; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        answered = Instant::now();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
    }
    // Idle past it: closed (an idle close, not counted as a refusal).
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(T, stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
    let idle = answered.elapsed();
    assert!(idle >= TIMEOUT * 3 / 4, "closed after {idle:?} idle");
    assert_eq!(server.hub.metrics().refusals(Limit::RequestTimeout), 0);

    // One that never sends a byte is closed too, and counted.
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let n = tokio::time::timeout(T, silent.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(
        started.elapsed() >= TIMEOUT,
        "closed after {:?}",
        started.elapsed()
    );
    assert_eq!(server.hub.metrics().refusals(Limit::RequestTimeout), 1);
    open(&server, 0).await;
}

/// The local socket: a worker may stay idle between frames as long as it
/// likes, but a frame begun must be finished within push.request_timeout,
/// else only that connection is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_socket_frame_left_unfinished_is_closed_after_request_timeout() {
    use push_engine::ipc;
    use tokio::net::{UnixListener, UnixStream};

    let server = server().await;
    let path = format!(
        "{}/push-slowloris-{}.sock",
        std::env::temp_dir().display(),
        std::process::id()
    );
    let _ = std::fs::remove_file(&path);
    let cancel = tokio_util::sync::CancellationToken::new();
    tokio::spawn(ipc::server::run(
        UnixListener::bind(&path).unwrap(),
        path.clone(),
        server.hub.clone(),
        cancel.clone(),
        tokio_util::task::TaskTracker::new(),
    ));
    let stats = ipc::frame(ipc::STATS, |_| {});

    let mut idle = UnixStream::connect(&path).await.unwrap();
    let mut stalled = UnixStream::connect(&path).await.unwrap();
    // Half a STATS frame: its length and nothing more.
    stalled.write_all(&stats[..4]).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(T, stalled.read(&mut buf))
        .await
        .expect("closed within T");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed without an answer: {read:?}"
    );
    let after = started.elapsed();
    assert!(
        after >= TIMEOUT,
        "not before push.request_timeout: {after:?}"
    );

    // The idle one, silent for longer than that, still answers.
    idle.write_all(&stats).await.unwrap();
    let mut len = [0u8; 4];
    idle.read_exact(&mut len).await.expect("an answer");
    let mut answer = vec![0u8; u32::from_be_bytes(len) as usize];
    idle.read_exact(&mut answer).await.expect("a whole answer");
    assert_eq!(answer[0], ipc::R_STATS);
    cancel.cancel();
    let _ = std::fs::remove_file(&path);
}
