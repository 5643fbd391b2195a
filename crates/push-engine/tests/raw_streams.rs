//! Event streams and long-polls are served on the socket itself, outside
//! hyper (`edge/raw`), and everything else by hyper on the same
//! connection: long-polls kept alive and pipelined, a request head that
//! arrives in pieces, HTTP/1.0's stream that ends with the connection, an
//! error answered without losing the connection, a stream after another
//! request (hyper's path), a peer that leaves a waiting poll, and a
//! shutdown with kept-alive connections. The hostile-input battery,
//! `slowloris.rs` and `limits.rs` run against both paths.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one answer with a `Content-Length` body from `stream`, starting
/// with the bytes already read (`rest`); returns it and what follows.
async fn answer(stream: &mut TcpStream, rest: Vec<u8>) -> (Response, Vec<u8>) {
    let (_, response, rest) = answer_and_line(stream, rest).await;
    (response, rest)
}

/// [`answer`], and its status line.
async fn answer_and_line(stream: &mut TcpStream, rest: Vec<u8>) -> (String, Response, Vec<u8>) {
    let mut raw = rest;
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(end) = find(&raw, b"\r\n\r\n") {
            break end;
        }
        let n = tokio::time::timeout(T, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n > 0,
            "closed before an answer: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
    };
    let line = String::from_utf8_lossy(&raw[..find(&raw, b"\r\n").unwrap()]).into_owned();
    let (status, headers) = parse_head(&raw[..end]);
    let len: usize = header(&headers, "content-length")
        .unwrap_or_else(|| panic!("a Content-Length: {headers:?}"))
        .parse()
        .unwrap();
    let mut body = raw[end + 4..].to_vec();
    while body.len() < len {
        let n = tokio::time::timeout(T, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed within a body");
        body.extend_from_slice(&buf[..n]);
    }
    let rest = body.split_off(len);
    let response = Response {
        status,
        headers,
        body,
    };
    (line, response, rest)
}

/// Whether the server closed `stream` (within T).
async fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    matches!(
        tokio::time::timeout(T, stream.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_are_answered_in_turn_on_one_kept_alive_connection() {
    let server = Server::start().await;
    let zero = server.publish("a", "zero").id;
    server.publish("a", "one");
    server.publish("a", "two");
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    // Three requests in one write: two polls, then one for hyper.
    let first = format!("GET /poll/a?timeout=0&since={zero} HTTP/1.1\r\nHost: x\r\n\r\n");
    let health = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    s.write_all(format!("{first}{first}{health}").as_bytes())
        .await
        .unwrap();
    let (one, rest) = answer(&mut s, Vec::new()).await;
    let (two, rest) = answer(&mut s, rest).await;
    let (three, rest) = answer(&mut s, rest).await;
    assert!(rest.is_empty());
    for r in [&one, &two] {
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.header("date").is_some(), "{:?}", r.headers);
        assert_eq!(r.header("transfer-encoding"), None);
        let data: Vec<_> = r.json()["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["data"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(data, ["one", "two"]);
    }
    assert_eq!(three.status, 200, "hyper answers the third");
    assert_eq!(three.json()["status"], "ok");

    // Still open, for hyper now: a poll waits and is answered on it.
    let cursor = one.json()["cursor"].as_str().unwrap().to_owned();
    let poll = format!("GET /poll/a?timeout=5&since={cursor} HTTP/1.1\r\nHost: x\r\n\r\n");
    s.write_all(poll.as_bytes()).await.unwrap();
    server.wait_subscribers(1).await;
    server.publish("a", "three");
    let (four, _) = answer(&mut s, Vec::new()).await;
    assert_eq!(four.json()["messages"][0]["data"], "three");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_polls_then_a_half_close_end_as_with_hyper() {
    let server = Server::start().await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let poll = "GET /poll/a?timeout=0 HTTP/1.1\r\nHost: x\r\n\r\n";
    s.write_all(format!("{poll}{poll}").as_bytes())
        .await
        .unwrap();
    // The peer's end of stream follows its requests (`nc -N`). As with
    // hyper: the request with another buffered behind it is answered (the
    // end of stream is not read before its answer); the last one is
    // answered if its answer is ready before the end of stream is seen,
    // and dropped if not, as the answer of a peer that left. Then the
    // connection closes.
    s.shutdown().await.unwrap();
    let (one, rest) = answer(&mut s, Vec::new()).await;
    assert_eq!(one.status, 200);
    let mut rest = rest;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(T, s.read(&mut buf)).await.unwrap() {
            Ok(0) | Err(_) => break,
            Ok(n) => rest.extend_from_slice(&buf[..n]),
        }
    }
    if !rest.is_empty() {
        let text = String::from_utf8_lossy(&rest);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_headers_are_honoured_as_hyper_does() {
    let server = Server::start().await;
    // HTTP/1.0 asking to be kept alive: answered in HTTP/1.0, and told so.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let poll = "GET /poll/a?timeout=0 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    for _ in 0..2 {
        s.write_all(poll.as_bytes()).await.unwrap();
        let (line, r, _) = answer_and_line(&mut s, Vec::new()).await;
        assert_eq!(line, "HTTP/1.0 200 OK");
        assert_eq!(r.header("connection"), Some("keep-alive"));
    }
    // `close` wins over `keep-alive`, wherever it is.
    for both in [
        &[("Connection", "close"), ("Connection", "keep-alive")][..],
        &[("Connection", "keep-alive, close")],
    ] {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        send_request(&mut s, "GET", "/poll/a?timeout=0", both, b"").await;
        let (r, _) = answer(&mut s, Vec::new()).await;
        assert_eq!(r.header("connection"), Some("close"), "{both:?}");
        assert!(closed(&mut s).await, "{both:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_in_pieces_and_a_stream_after_another_request_are_served() {
    let server = Server::start().await;
    // In pieces, on the socket.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    for piece in [
        "GET /sse/a HT",
        "TP/1.1\r\nHost: x\r",
        "\nAccept: text/event-stream\r\n",
        "\r\n",
    ] {
        s.write_all(piece.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut pieces = Sse::read(s).await;
    assert!(pieces.header("date").is_some());
    // After a request hyper answered: hyper serves the stream.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    send_request(&mut s, "GET", "/health", &[], b"").await;
    let (health, _) = answer(&mut s, Vec::new()).await;
    assert_eq!(health.status, 200);
    send_request(&mut s, "GET", "/sse/a", &[], b"").await;
    let mut after = Sse::read(s).await;
    server.wait_subscribers(2).await;
    server.publish("a", "both");
    assert_eq!(pieces.event().await.data(), "both");
    assert_eq!(after.event().await.data(), "both");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_1_0_stream_ends_with_the_connection() {
    let server = Server::start().await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /sse/a HTTP/1.0\r\n\r\n").await.unwrap();
    let (status, headers, body) = read_head(&mut s).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "transfer-encoding"), None, "{headers:?}");
    assert_eq!(header(&headers, "connection"), Some("close"));
    server.wait_subscribers(1).await;
    server.publish("a", "plain");
    let body = read_until(&mut s, body, b"data: plain\n\n").await;
    assert!(
        body.starts_with(b"retry: "),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_on_a_streams_path_keeps_the_connection() {
    let server = Server::start().await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    send_request(&mut s, "GET", "/poll/a?timeout=soon", &[], b"").await;
    let (refused, _) = answer(&mut s, Vec::new()).await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.json()["error"],
        "timeout must be a number of seconds, not \"soon\""
    );
    send_request(&mut s, "GET", "/sse", &[], b"").await;
    let (refused, _) = answer(&mut s, Vec::new()).await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    send_request(&mut s, "GET", "/poll/a?timeout=0", &[], b"").await;
    let (fine, _) = answer(&mut s, Vec::new()).await;
    assert_eq!(fine.status, 200, "{}", fine.text());
    // `Connection: close` is honoured.
    send_request(
        &mut s,
        "GET",
        "/poll/a?timeout=0",
        &[("Connection", "close")],
        b"",
    )
    .await;
    let (last, _) = answer(&mut s, Vec::new()).await;
    assert_eq!(last.header("connection"), Some("close"));
    assert!(closed(&mut s).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_leaves_is_counted_out_while_its_answer_waits_or_streams() {
    let server = Server::start().await;
    let mut poll = TcpStream::connect(server.addr).await.unwrap();
    send_request(&mut poll, "GET", "/poll/a?timeout=30", &[], b"").await;
    let sse = sse_open(server.addr, "/sse/a", &[]).await;
    server.wait_subscribers(2).await;
    drop(poll);
    server.wait_subscribers(1).await;
    drop(sse);
    server.wait_subscribers(0).await;
    let started = tokio::time::Instant::now();
    while server.hub.metrics().listen_connections() != 0 {
        assert!(started.elapsed() < T, "connections counted out within T");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_closes_kept_alive_connections_and_ends_streams() {
    let mut server = Server::start().await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    send_request(&mut idle, "GET", "/poll/a?timeout=0", &[], b"").await;
    let (r, _) = answer(&mut idle, Vec::new()).await;
    assert_eq!(r.status, 200);
    let mut sse = sse_open(server.addr, "/sse/a", &[]).await;
    assert!(matches!(sse.next().await, Some(SseItem::Retry(_))));
    server.wait_subscribers(1).await;
    server.shutdown().await;
    assert!(closed(&mut idle).await, "the idle connection is closed");
    sse.end().await;
}
