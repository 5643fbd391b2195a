//! A request head: read from the socket until `httparse` finds its end,
//! and made a request of the router if it asks for a stream.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};
use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Settings;
use crate::edge::io::{Peer, StallGuard};
use crate::edge::mercure;

/// hyper's own bound on the number of headers.
const MAX_HEADERS: usize = 100;

/// Bytes read at once, at least.
const READ: usize = 1024;

pub(super) enum Read {
    /// `buf` holds a whole head (and maybe more).
    Complete,
    /// `buf` holds something hyper must answer: a malformed head, or one
    /// longer than `push.max_header_size`.
    Other,
    /// No whole head before the deadline.
    TimedOut,
    /// The peer closed, or the engine stops.
    Closed,
}

/// Reads into `buf` until it holds a whole request head. `stop` closes
/// the connection before any byte of it, or at any point on a kept-alive
/// connection (`kept`).
pub(super) async fn read(
    io: &mut StallGuard<TcpStream>,
    buf: &mut BytesMut,
    deadline: Instant,
    max: usize,
    stop: &CancellationToken,
    kept: bool,
) -> Read {
    // As hyper does: after a partial head, parse again only once the bytes
    // read since hold a blank line (so a head trickling in is not parsed
    // once per byte, and is judged whole, as hyper would judge it).
    let mut partial = None;
    loop {
        if !buf.is_empty() && partial.is_none_or(|at| ends_head(buf, at)) {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            match httparse::Request::new(&mut headers).parse(buf) {
                Ok(httparse::Status::Complete(len)) if len <= max => return Read::Complete,
                Ok(httparse::Status::Partial) if buf.len() < max => partial = Some(buf.len()),
                _ => return Read::Other,
            }
        } else if buf.len() >= max {
            return Read::Other;
        }
        if buf.capacity() - buf.len() < READ / 2 {
            buf.reserve(buf.len().max(READ));
        }
        // tokio's `poll_read`, not `readable` and `try_read`: a read that
        // does not fill the buffer marks the socket drained, so watching
        // it next costs no read that finds nothing.
        let read = tokio::select! {
            biased;
            _ = stop.cancelled(), if kept || buf.is_empty() => return Read::Closed,
            _ = tokio::time::sleep_until(deadline) => return Read::TimedOut,
            read = io.read_buf(buf) => read,
        };
        match read {
            Ok(0) | Err(_) => return Read::Closed,
            Ok(_) => {}
        }
    }
}

/// Whether the bytes from `at` on (and the three before) hold a blank
/// line: hyper's `is_complete_fast`.
fn ends_head(buf: &[u8], at: usize) -> bool {
    let bytes = &buf[at.saturating_sub(3)..];
    bytes.iter().enumerate().any(|(i, &b)| {
        let after = &bytes[i + 1..];
        (b == b'\r' && after.starts_with(b"\n\r\n"))
            || (b == b'\n' && (after.starts_with(b"\n") || after.starts_with(b"\r\n")))
    })
}

// Returned once per request and taken apart at once: not worth a box.
#[allow(clippy::large_enum_variant)]
pub(super) enum Parsed {
    /// A stream's request, the head's length, and whether the connection
    /// closes after the answer.
    Stream {
        request: Request<Body>,
        len: usize,
        close: bool,
    },
    /// Not whole yet (never after [`Read::Complete`]).
    Partial,
    /// For hyper.
    Other,
}

/// Whether the head in `buf` asks for a stream served here, and the
/// request if so.
pub(super) fn parse(buf: &[u8], addr: SocketAddr, settings: Settings) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut headers);
    let len = match head.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Other,
    };
    if head.method != Some("GET") {
        return Parsed::Other;
    }
    let version = match head.version {
        Some(1) => Version::HTTP_11,
        Some(0) => Version::HTTP_10,
        _ => return Parsed::Other,
    };
    let Some(Ok(uri)) = head.path.map(|p| p.parse::<Uri>()) else {
        return Parsed::Other;
    };
    if !is_stream(uri.path(), settings) {
        return Parsed::Other;
    }
    let mut map = HeaderMap::with_capacity(head.headers.len());
    // HTTP/1.0 closes unless asked to keep alive; HTTP/1.1 the reverse;
    // `close` wins over `keep-alive` wherever it is, as in hyper.
    let (mut saw_close, mut saw_keep_alive) = (false, false);
    for h in head.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) else {
            return Parsed::Other;
        };
        match name.as_str() {
            // A body, an upgrade, an expectation: hyper's.
            "transfer-encoding" | "upgrade" | "expect" => return Parsed::Other,
            "content-length" if value.as_bytes() != b"0" => return Parsed::Other,
            "connection" => {
                for token in value.to_str().unwrap_or("").split(',') {
                    let token = token.trim();
                    if token.eq_ignore_ascii_case("close") {
                        saw_close = true;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        saw_keep_alive = true;
                    }
                }
            }
            _ => {}
        }
        map.append(name, value);
    }
    let close = saw_close || (version == Version::HTTP_10 && !saw_keep_alive);
    let mut request = Request::new(Body::empty());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = map;
    request.extensions_mut().insert(ConnectInfo(Peer(addr)));
    Parsed::Stream {
        request,
        len,
        close,
    }
}

/// The paths of push's event streams and long-polls, and of the Mercure
/// hub's subscribers.
fn is_stream(path: &str, settings: Settings) -> bool {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    under("/sse") || path.starts_with("/poll/") || (settings.mercure && path == mercure::PATH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            request_timeout: std::time::Duration::from_secs(1),
            max_header_size: 8192,
            mercure: true,
        }
    }

    fn parsed(head: &str) -> Option<(Request<Body>, usize, bool)> {
        let addr = "127.0.0.1:1".parse().unwrap();
        match parse(head.as_bytes(), addr, settings()) {
            Parsed::Stream {
                request,
                len,
                close,
            } => Some((request, len, close)),
            _ => None,
        }
    }

    #[test]
    fn streams_are_recognised_and_everything_else_is_hypers() {
        let (r, len, close) = parsed(
            "GET /sse/news?lastEventId=1 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 2\r\n\r\nGET",
        )
        .unwrap();
        assert_eq!(len, 67, "the head, not the next request after it");
        assert!(!close);
        assert_eq!(r.uri().path(), "/sse/news");
        assert_eq!(r.uri().query(), Some("lastEventId=1"));
        assert_eq!(r.headers()["last-event-id"], "2");
        assert!(r.extensions().get::<ConnectInfo<Peer>>().is_some());
        for stream in [
            "GET /sse?channel=a HTTP/1.1\r\n\r\n",
            "GET /poll/a HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "GET /.well-known/mercure?topic=x HTTP/1.1\r\n\r\n",
        ] {
            assert!(parsed(stream).is_some(), "{stream:?}");
        }
        for other in [
            "POST /sse/a HTTP/1.1\r\n\r\n",
            "HEAD /sse/a HTTP/1.1\r\n\r\n",
            "GET /ssex HTTP/1.1\r\n\r\n",
            "GET /ws/a HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            "GET /sse/a HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            "GET /poll/a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            "GET /poll/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /poll/a HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "GET /health HTTP/1.1\r\n\r\n",
            "GET /.well-known/mercure/subscriptions HTTP/1.1\r\n\r\n",
            "GET /sse/a HTTP/2.0\r\n\r\n",
            "GET /sse/a HTTP/1.1\r\nBad Header: x\r\n\r\n",
        ] {
            assert!(parsed(other).is_none(), "{other:?}");
        }
        assert!(matches!(
            parse(
                b"GET /sse/a HTTP/1.1\r\nHost",
                "127.0.0.1:1".parse().unwrap(),
                settings()
            ),
            Parsed::Partial
        ));
    }

    #[test]
    fn a_blank_line_is_found_across_reads() {
        assert!(ends_head(b"GET / HTTP/1.1\r\n\r\n", 17));
        assert!(ends_head(b"GET / HTTP/1.1\r\n\r\n", 0));
        assert!(ends_head(b"GET / HTTP/1.1\n\n", 15));
        assert!(!ends_head(b"GET / HTTP/1.1\r\nX\r\n", 17));
        assert!(!ends_head(b"GET / HTTP/1.1\r\n\r\n", 20), "only after `at`");
    }

    #[test]
    fn connection_close_and_http_1_0_end_the_connection_after_the_answer() {
        assert!(
            parsed("GET /sse/a HTTP/1.1\r\nConnection: close\r\n\r\n")
                .unwrap()
                .2
        );
        assert!(
            parsed("GET /sse/a HTTP/1.1\r\nConnection: x, Close\r\n\r\n")
                .unwrap()
                .2
        );
        assert!(parsed("GET /sse/a HTTP/1.0\r\n\r\n").unwrap().2);
        for both in [
            "Connection: close\r\nConnection: keep-alive",
            "Connection: close, keep-alive",
            "Connection: keep-alive, close",
        ] {
            let head = format!("GET /sse/a HTTP/1.1\r\n{both}\r\n\r\n");
            assert!(parsed(&head).unwrap().2, "close wins: {both}");
        }
        assert!(
            !parsed("GET /sse/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                .unwrap()
                .2
        );
        assert_eq!(
            parsed("GET /sse/a HTTP/1.0\r\n\r\n").unwrap().0.version(),
            Version::HTTP_10
        );
    }

    #[test]
    fn the_mercure_path_is_a_stream_only_with_the_hub_on() {
        let off = Settings {
            mercure: false,
            ..settings()
        };
        assert!(!is_stream("/.well-known/mercure", off));
        assert!(is_stream("/.well-known/mercure", settings()));
        assert!(is_stream("/sse", off));
    }
}
