//! Malformed request lines and headers: bad methods and versions, header
//! lines without a colon, CR/LF injection, NUL and non-ASCII bytes, too
//! many headers, pipelining behind a bad request. hyper refuses what it
//! cannot parse (400, 431, 414) and closes; the engine's own routes refuse
//! the rest with a JSON error. Each case on `/health` is also sent on a
//! long-poll's path, whose heads the accept loop reads itself (`edge/raw`)
//! before it hands them to hyper or answers them on the socket.

use crate::common::*;
use crate::harness::*;

fn cases() -> Vec<(String, Vec<u8>, Want)> {
    let raw = |s: &str| s.as_bytes().to_vec();
    let many_headers: Vec<String> = (0..200).map(|i| format!("X-H{i}: v")).collect();
    let many_headers: Vec<&str> = many_headers.iter().map(String::as_str).collect();
    let long_method = format!("{} /health HTTP/1.1", "G".repeat(4096));
    let mut v: Vec<(&str, Vec<u8>, Want)> = vec![
        // The request line.
        ("garbage line", raw("GARBAGE\r\n\r\n"), Want::Status(400, "")),
        ("method only", raw("GET\r\n\r\n"), Want::Status(400, "")),
        ("HTTP/0.9 request", raw("GET /health\r\n\r\n"), Want::Status(400, "")),
        ("HTTP/1.2", head("GET /health HTTP/1.2", &[]), Want::Status(400, "")),
        ("HTTP/2.0 line", head("GET /health HTTP/2.0", &[]), Want::Status(400, "")),
        ("HTTP/9.9", head("GET /health HTTP/9.9", &[]), Want::Status(400, "")),
        ("HTTX version", head("GET /health HTTX/1.1", &[]), Want::Status(400, "")),
        ("lowercase version", head("GET /health http/1.1", &[]), Want::Status(400, "")),
        ("no space before version", head("GET /healthHTTP/1.1", &[]), Want::Status(400, "")),
        ("two spaces", head("GET  /health HTTP/1.1", &[]), Want::Status(400, "")),
        ("tab separator", head("GET\t/health HTTP/1.1", &[]), Want::Status(400, "")),
        ("method with @", head("G@T /health HTTP/1.1", &[]), Want::Status(400, "")),
        ("method with NUL", raw("G\0T /health HTTP/1.1\r\n\r\n"), Want::Status(400, "")),
        ("4 KB method", head(&long_method, &[]), Want::Status(405, "method not allowed")),
        ("lowercase get", head("get /health HTTP/1.1", &[]), Want::Status(405, "method not allowed")),
        ("DELETE", head("DELETE /health HTTP/1.1", &[]), Want::Status(405, "method not allowed")),
        ("PUT publish", head("PUT /publish/x HTTP/1.1", &["Content-Length: 0"]), Want::Status(405, "method not allowed")),
        ("TRACE", head("TRACE / HTTP/1.1", &[]), Want::Status(405, "method not allowed")),
        ("CONNECT", head("CONNECT localhost:80 HTTP/1.1", &[]), Want::Status(404, "no such endpoint")),
        ("OPTIONS *", head("OPTIONS * HTTP/1.1", &[]), Want::Status(404, "no such endpoint")),
        ("GET *", head("GET * HTTP/1.1", &[]), Want::Status(404, "no such endpoint")),
        ("path without slash", head("GET health HTTP/1.1", &[]), Want::Status(404, "no such endpoint")),
        ("NUL in path", raw("GET /he\0alth HTTP/1.1\r\n\r\n"), Want::Status(400, "")),
        ("space in path", head("GET /he alth HTTP/1.1", &[]), Want::Status(400, "")),
        ("DEL in path", head("GET /he\x7falth HTTP/1.1", &[]), Want::Status(400, "")),
        ("absolute-form URI", head("GET http://evil.example/health HTTP/1.1", &[]), Want::Status(200, "\"status\":\"ok\"")),
        // Header lines.
        ("header without colon", head("GET /health HTTP/1.1", &["NoColon"]), Want::Status(400, "")),
        ("space in header name", head("GET /health HTTP/1.1", &["Bad Name: v"]), Want::Status(400, "")),
        ("space before colon", head("GET /health HTTP/1.1", &["Name : v"]), Want::Status(400, "")),
        ("empty header name", head("GET /health HTTP/1.1", &[": v"]), Want::Status(400, "")),
        ("obs-fold continuation", head("GET /health HTTP/1.1", &["X-A: one", " two"]), Want::Status(400, "")),
        ("bare CR in value", head("GET /health HTTP/1.1", &["X-A: a\rb"]), Want::Status(400, "")),
        ("NUL in value", head("GET /health HTTP/1.1", &["X-A: a\0b"]), Want::Status(400, "")),
        ("NUL in name", head("GET /health HTTP/1.1", &["X-\0A: v"]), Want::Status(400, "")),
        ("non-ASCII name", head("GET /health HTTP/1.1", &["X-\u{e9}: v"]), Want::Status(400, "")),
        ("200 headers", head("GET /health HTTP/1.1", &many_headers), Want::Status(431, "")),
        // CR/LF injection through the URL reaches no header.
        ("CRLF in path", raw("GET /sse/a\r\nX-Injected: 1 HTTP/1.1\r\n\r\n"), Want::Status(400, "")),
        ("encoded CRLF in channel", head("GET /poll/a%0D%0AX-Injected:1?timeout=0 HTTP/1.1", &[]), Want::Status(400, "invalid channel name")),
        ("encoded CRLF in event", raw("POST /publish/x?event=a%0D%0Ab HTTP/1.1\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"), Want::Status(400, "invalid event name")),
        // Lenient but harmless.
        ("bare LF line ends", raw("GET /health HTTP/1.1\nHost: x\nConnection: close\n\n"), Want::Status(200, "\"status\":\"ok\"")),
        ("no Host header", raw("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n"), Want::Status(200, "\"status\":\"ok\"")),
        ("HTTP/1.0", raw("GET /health HTTP/1.0\r\n\r\n"), Want::Status(200, "\"status\":\"ok\"")),
        ("latin-1 value", head("GET /health HTTP/1.1", &["X-A: caf\u{e9}"]), Want::Status(200, "\"status\":\"ok\"")),
    ];
    // A raw 0xff byte (not UTF-8) in a header value and in the path.
    let mut latin = head("GET /health HTTP/1.1", &["X-A: a"]);
    let at = find(&latin, b"X-A: a").unwrap() + 5;
    latin[at] = 0xff;
    v.push((
        "0xff byte in value",
        latin,
        Want::Status(200, "\"status\":\"ok\""),
    ));
    let mut path = head("GET /sse/a HTTP/1.1", &[]);
    path[9] = 0xff;
    v.push(("0xff byte in path", path, Want::Status(400, "")));
    v.into_iter()
        .map(|(name, bytes, want)| (name.to_owned(), bytes, want))
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_and_disturb_no_one() {
    let server = Server::start().await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("requests");
    let mut cases: Vec<Case> = cases()
        .into_iter()
        .map(|(name, bytes, want)| Case::http(name, bytes, want))
        .collect();
    // The same on a long-poll's path, whose heads are read outside hyper
    // (`edge/raw`) until they turn out to be hyper's.
    cases.extend(self::cases().into_iter().filter_map(|(name, bytes, want)| {
        let at = find(&bytes, b"/health ")?;
        let mut poll = bytes[..at].to_vec();
        poll.extend_from_slice(b"/poll/hostile?timeout=0 ");
        poll.extend_from_slice(&bytes[at + b"/health ".len()..]);
        let want = match want {
            Want::Status(200, _) => Want::Status(200, "\"messages\":[]"),
            want => want,
        };
        Some(Case::http(format!("{name} (long-poll)"), poll, want))
    }));
    // Nothing, or blank lines only, then the client's end of the stream:
    // closed without an answer.
    cases.extend(
        [
            ("nothing then EOF", &b""[..]),
            ("blank lines then EOF", b"\r\n\r\n\r\n\r\n"),
            ("half a request line then EOF", b"GET /hea"),
            (
                "half a head then EOF",
                b"GET /health HTTP/1.1\r\nHost: x\r\n",
            ),
            (
                "half a stream's head then EOF",
                b"GET /sse/hostile HTTP/1.1\r\nHost: x\r\n",
            ),
        ]
        .map(|(name, bytes)| Case::new(name, bytes, Expect::ClosedAfterEof)),
    );
    // A good request pipelined behind a bad one is never served: the
    // connection closes after the 400.
    let mut bytes = b"BAD LINE\r\n\r\n".to_vec();
    bytes.extend_from_slice(&head("GET /health HTTP/1.1", &[]));
    cases.push(Case::new(
        "good request after a bad one",
        bytes,
        Expect::Replies(vec![Want::Status(400, "")], true),
    ));
    // A bad request pipelined behind a good one: the good one is answered.
    let mut bytes = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    bytes.extend_from_slice(b"GET /health HTTP/1.1\r\nBad Header\r\n\r\n");
    cases.push(Case::new(
        "bad request after a good one",
        bytes,
        Expect::Replies(
            vec![
                Want::Status(200, "\"status\":\"ok\""),
                Want::Status(400, ""),
            ],
            false,
        ),
    ));
    // The same behind a long-poll answered outside hyper: hyper takes the
    // connection over for the bad one.
    let mut bytes = b"GET /poll/hostile?timeout=0 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    bytes.extend_from_slice(b"GET /poll/hostile HTTP/1.1\r\nBad Header\r\n\r\n");
    cases.push(Case::new(
        "bad request after a good long-poll",
        bytes,
        Expect::Replies(
            vec![Want::Status(200, "\"messages\":[]"), Want::Status(400, "")],
            false,
        ),
    ));
    run_table(&server, &mut sentinel, &mut tally, cases).await;
    tally.done();
}
