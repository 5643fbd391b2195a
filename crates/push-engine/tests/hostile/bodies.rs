//! Oversized heads and bodies, lying lengths, chunked garbage and request
//! smuggling patterns. Nothing refused is published; the sentinel goes on.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::*;
use crate::harness::*;

/// `push.max_message_size` of this family's engine.
const MAX: usize = 1024;

fn post(path: &str, lines: &[&str], body: &[u8]) -> Vec<u8> {
    let mut bytes = head(&format!("POST {path} HTTP/1.1"), lines);
    bytes.extend_from_slice(body);
    bytes
}

fn cases() -> Vec<(&'static str, Vec<u8>, Want)> {
    let big_value = format!("X-Big: {}", "v".repeat(1 << 20));
    let wide: Vec<String> = (0..90)
        .map(|i| format!("X-W{i}: {}", "w".repeat(8000)))
        .collect();
    let wide: Vec<&str> = wide.iter().map(String::as_str).collect();
    let long_uri = format!("GET /health?x={} HTTP/1.1", "u".repeat(70_000));
    let huge_uri = format!("GET /health?x={} HTTP/1.1", "u".repeat(1 << 20));
    let over = vec![b'o'; MAX + 1];
    let exactly = vec![b'e'; MAX];
    let over_len = format!("Content-Length: {}", MAX + 1);
    let exact_len = format!("Content-Length: {MAX}");
    let te = "Transfer-Encoding: chunked";
    let chunked_over = {
        let mut b = Vec::new();
        for _ in 0..3 {
            b.extend_from_slice(format!("{:x}\r\n", 400).as_bytes());
            b.extend_from_slice(&[b'c'; 400]);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"0\r\n\r\n");
        b
    };
    let long_ext = format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(100_000));
    vec![
        (
            "1 MB header value",
            head("GET /health HTTP/1.1", &[&big_value]),
            Want::Status(431, ""),
        ),
        (
            "90 headers of 8 KB",
            head("GET /health HTTP/1.1", &wide),
            Want::Status(431, ""),
        ),
        // Over push.max_header_size (16K): the whole head is too large.
        ("70 KB URI", head(&long_uri, &[]), Want::Status(431, "")),
        ("1 MB URI", head(&huge_uri, &[]), Want::Status(431, "")),
        (
            "body over max_message_size",
            post("/publish/b", &[&over_len], &over),
            Want::Status(413, "push.max_message_size"),
        ),
        (
            "body of max_message_size",
            post("/publish/b", &[&exact_len], &exactly),
            Want::Status(200, "\"channel\":\"b\""),
        ),
        (
            "10 GB Content-Length",
            post("/publish/b", &["Content-Length: 10000000000"], b"x"),
            Want::Status(413, "push.max_message_size"),
        ),
        (
            "chunked body over max",
            post("/publish/b", &[te], &chunked_over),
            Want::Status(413, "push.max_message_size"),
        ),
        (
            "100-continue over max",
            post("/publish/b", &[&over_len, "Expect: 100-continue"], b""),
            Want::Status(413, "push.max_message_size"),
        ),
        (
            "empty body",
            post("/publish/b", &["Content-Length: 0"], b""),
            Want::Status(200, "\"channel\":\"b\""),
        ),
        (
            "two different Content-Lengths",
            post(
                "/publish/b",
                &["Content-Length: 1", "Content-Length: 2"],
                b"xy",
            ),
            Want::Status(400, ""),
        ),
        (
            "Content-Length list",
            post("/publish/b", &["Content-Length: 1, 2"], b"xy"),
            Want::Status(400, ""),
        ),
        (
            "negative Content-Length",
            post("/publish/b", &["Content-Length: -1"], b"x"),
            Want::Status(400, ""),
        ),
        (
            "Content-Length +1",
            post("/publish/b", &["Content-Length: +1"], b"x"),
            Want::Status(400, ""),
        ),
        (
            "hex Content-Length",
            post("/publish/b", &["Content-Length: 0x1"], b"x"),
            Want::Status(400, ""),
        ),
        (
            "overflowing Content-Length",
            post(
                "/publish/b",
                &["Content-Length: 99999999999999999999"],
                b"x",
            ),
            Want::Status(400, ""),
        ),
        (
            "TE not ending in chunked",
            post("/publish/b", &["Transfer-Encoding: gzip"], b"x"),
            Want::Status(400, ""),
        ),
        (
            "TE xchunked",
            post(
                "/publish/b",
                &["Transfer-Encoding: xchunked"],
                b"1\r\nx\r\n0\r\n\r\n",
            ),
            Want::Status(400, ""),
        ),
        (
            "TE on HTTP/1.0",
            b"POST /publish/b HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
                .to_vec(),
            Want::Status(400, ""),
        ),
        (
            "chunk size not hex",
            post("/publish/b", &[te], b"zz\r\nxx\r\n0\r\n\r\n"),
            Want::Status(400, "malformed request body"),
        ),
        (
            "chunk size overflow",
            post("/publish/b", &[te], b"ffffffffffffffffff\r\nx\r\n0\r\n\r\n"),
            Want::Status(400, "malformed request body"),
        ),
        (
            "chunk without CRLF",
            post("/publish/b", &[te], b"1\r\nxyz0\r\n\r\n"),
            Want::Status(400, "malformed request body"),
        ),
        (
            "100 KB chunk extension",
            post("/publish/b", &[te], long_ext.as_bytes()),
            Want::Status(400, "malformed request body"),
        ),
        (
            "GET with a body",
            head("GET /health HTTP/1.1", &["Content-Length: 5"])
                .into_iter()
                .chain(*b"hello")
                .collect(),
            Want::Status(200, "\"status\":\"ok\""),
        ),
        (
            "POST to a WebSocket path",
            post("/ws/b", &["Content-Length: 0"], b""),
            Want::Status(405, "method not allowed"),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_lying_bodies_are_refused() {
    let server = Server::start_with(|c| {
        c.max_message_size = MAX;
        c.max_queue_bytes = 64 * 1024;
    })
    .await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("bodies");
    let mut published = 0;
    let cases = cases()
        .into_iter()
        .map(|(name, bytes, want)| Case::http(name, bytes, want));
    run_table_then(&server, &mut sentinel, &mut tally, cases, |case| {
        let name = &case.name;
        if let Expect::Http(Want::Status(200, "\"channel\":\"b\"")) = case.expect {
            published += 1;
        }
        assert_eq!(
            server.hub.last_id("b").map_or(0, |id| id.offset),
            published,
            "{name}: only the accepted bodies were published"
        );
    })
    .await;
    // Smuggling: with both Content-Length and Transfer-Encoding the chunked
    // body counts (RFC 9112 6.3) and the connection closes after the
    // answer, so what hides behind the body is never served.
    let smuggling = [
        (
            "CL.TE smuggling",
            "Content-Length: 40\r\nTransfer-Encoding: chunked",
            "0\r\n\r\n",
        ),
        (
            "TE.CL smuggling",
            "Transfer-Encoding: chunked\r\nContent-Length: 3",
            "1\r\nz\r\n0\r\n\r\n",
        ),
    ]
    .map(|(name, lines, body)| {
        let bytes = format!(
            "POST /publish/b HTTP/1.1\r\nHost: x\r\n{lines}\r\n\r\n{body}GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        let want = Want::Status(200, "\"channel\":\"b\"");
        Case::new(name, bytes, Expect::Replies(vec![want], true))
    });
    run_table_then(&server, &mut sentinel, &mut tally, smuggling, |case| {
        let name = &case.name;
        published += 1;
        assert_eq!(server.hub.last_id("b").unwrap().offset, published, "{name}");
    })
    .await;
    // A body shorter than its Content-Length, then a stall: the others
    // are served meanwhile, and closing publishes nothing.
    for (name, cut) in [("body cut short then stall", 10), ("no body then stall", 0)] {
        tally.case(name);
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(&post(
                "/publish/stall",
                &["Content-Length: 100"],
                &[b's'; 100][..cut],
            ))
            .await
            .unwrap();
        sentinel.check(&server, name).await;
        drop(stream);
        sentinel.after(&server, name).await;
        assert_eq!(server.hub.last_id("stall"), None, "{name}");
    }
    // A truncated chunked body, then the client's end of stream.
    let name = "chunked body cut short then EOF";
    tally.case(name);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(&post(
            "/publish/stall",
            &["Transfer-Encoding: chunked"],
            b"5\r\nab",
        ))
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let mut raw = Vec::new();
    let end = read_reply(&mut stream, &mut raw, T).await;
    assert!(
        matches!(
            &end,
            None | Some(Outcome::Reply(Response { status: 400, .. }))
        ),
        "{name}: {end:?}"
    );
    sentinel.after(&server, name).await;
    assert_eq!(server.hub.last_id("stall"), None, "{name}");
    tally.done();
}
