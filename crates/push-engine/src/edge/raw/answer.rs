//! An answer written to the socket: the head, then the body as the router
//! hands it out — with `Content-Length` when its size is known (a
//! long-poll's answer, an error), chunked when not (an event stream), or
//! until the connection closes for an HTTP/1.0 client. What is ready at
//! once goes out with one vectored write, as hyper would write it.

use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use axum::body::{Body, HttpBody as _};
use axum::http::response::Parts;
use axum::http::{header, HeaderValue, StatusCode, Version};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::edge::io::StallGuard;
use crate::edge::transport::tap::SocketTap;

/// Frames and bytes gathered into one write, at most.
const GATHER_FRAMES: usize = 64;
const GATHER_BYTES: usize = 64 * 1024;

/// How the body's end is told.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body (1xx, 204, 304).
    Empty,
    Length,
    Chunked,
    /// The connection closes after it.
    Close,
}

/// Waits for the router's answer to a request of `version` and writes it;
/// returns whether the connection stays open for another request (not
/// once `stop` is cancelled). The peer is watched meanwhile: what it sends
/// goes to `next` (the start of its next request), and once it closes the
/// answer is dropped.
pub(super) async fn answer<F>(
    io: &mut StallGuard<TcpStream>,
    future: F,
    version: Version,
    mut close: bool,
    next: &mut BytesMut,
    stop: &CancellationToken,
) -> bool
where
    F: Future<Output = Result<Response, std::convert::Infallible>>,
{
    let response = {
        tokio::pin!(future);
        // The answer first: one that is ready is written even if the peer
        // has ended its side meanwhile (pipelined requests, then its end
        // of stream); one that waits is dropped when the peer leaves.
        tokio::select! {
            biased;
            response = &mut future => match response {
                Ok(response) => response,
                Err(never) => match never {},
            },
            () = gone(io, next) => return false,
        }
    };
    let (parts, mut body) = response.into_parts();
    let framing = framing(&parts, &body, version);
    // An answer begun while the engine stops is the connection's last.
    close |= framing == Framing::Close
        || stop.is_cancelled()
        || parts.headers.get_all(header::CONNECTION).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
        });
    // The length the head announces, held to.
    let length = match framing {
        Framing::Length => parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .or(body.size_hint().exact()),
        _ => None,
    };
    let head = head(&parts, version, framing, close, length);
    // An event stream's tap writes between this task's writes while the
    // stream waits (`transport/tap.rs`); detached when this returns,
    // before the socket can close.
    let tap = match framing {
        Framing::Chunked | Framing::Close => parts.extensions.get::<Arc<SocketTap>>().cloned(),
        Framing::Empty | Framing::Length => None,
    };
    let _attached = tap
        .as_deref()
        .map(|t| t.attach(io.get_ref().as_raw_fd(), framing == Framing::Chunked));
    drop(parts);

    let mut head = Some(head);
    let mut sent: u64 = 0;
    let mut frames: Vec<Bytes> = Vec::new();
    loop {
        let ended = if framing == Framing::Empty {
            true
        } else {
            // What is ready goes out with the head; after it, wait for
            // the next frames and take what else is ready. Either way the
            // body is polled until it has nothing more, once: the last
            // poll leaves the task's waker with it.
            let gathered = match head.is_some() {
                true => {
                    let waker = futures_util::task::noop_waker_ref();
                    let mut cx = std::task::Context::from_waker(waker);
                    match gather(&mut body, &mut frames, &mut cx) {
                        Poll::Ready(r) => r,
                        Poll::Pending => Ok(false),
                    }
                }
                false => tokio::select! {
                    biased;
                    r = std::future::poll_fn(|cx| gather(&mut body, &mut frames, cx)) => r,
                    () = gone(io, next) => return false,
                },
            };
            match gathered {
                Ok(ended) => ended,
                // The body failed (never ours).
                Err(()) => return false,
            }
        };
        let total: usize = frames.iter().map(Bytes::len).sum();
        sent += total as u64;
        // A body longer than its `Content-Length` would run into the next
        // answer: cut the connection instead (never ours).
        if length.is_some_and(|len| sent > len) {
            return false;
        }
        // What the tap left of a frame goes first.
        let rest = tap.as_deref().and_then(SocketTap::take_rest);
        let chunked = framing == Framing::Chunked;
        let size = match chunked && total > 0 {
            true => format!("{total:x}\r\n"),
            false => String::new(),
        };
        let mut parts: Vec<IoSlice<'_>> = Vec::with_capacity(frames.len() + 4);
        if let Some(head) = &head {
            parts.push(IoSlice::new(head));
        }
        if let Some(rest) = &rest {
            parts.push(IoSlice::new(rest));
        }
        if chunked && total > 0 {
            parts.push(IoSlice::new(size.as_bytes()));
        }
        parts.extend(frames.iter().map(|f| IoSlice::new(f)));
        if chunked && total > 0 {
            parts.push(IoSlice::new(b"\r\n"));
        }
        if chunked && ended {
            parts.push(IoSlice::new(b"0\r\n\r\n"));
        }
        if write_all(io, &mut parts).await.is_err() {
            return false;
        }
        drop(parts);
        if let Some(tap) = &tap {
            tap.flushed();
        }
        head = None;
        frames.clear();
        if ended {
            // Shorter than announced: the peer waits for the rest. Close.
            return !close && length.is_none_or(|len| sent == len);
        }
    }
}

/// How the body of an answer to a request of `version` ends.
fn framing(parts: &Parts, body: &Body, version: Version) -> Framing {
    let status = parts.status;
    if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::Empty
    } else if body.size_hint().exact().is_some()
        || parts.headers.contains_key(header::CONTENT_LENGTH)
    {
        Framing::Length
    } else if version == Version::HTTP_10 {
        Framing::Close
    } else {
        Framing::Chunked
    }
}

/// The answer's head, as hyper writes it: the status line in the
/// request's version (HTTP/1.0 or 1.1), the router's headers, then those
/// of its framing, of the connection's fate, and `Date`.
fn head(
    parts: &Parts,
    version: Version,
    framing: Framing,
    close: bool,
    length: Option<u64>,
) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(match version {
        Version::HTTP_10 => b"HTTP/1.0 ",
        _ => b"HTTP/1.1 ",
    });
    head.extend_from_slice(parts.status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(
        parts
            .status
            .canonical_reason()
            .unwrap_or("<none>")
            .as_bytes(),
    );
    head.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == header::CONNECTION || name == header::TRANSFER_ENCODING {
            continue;
        }
        put_header(&mut head, name.as_str(), value);
    }
    if framing == Framing::Length && !parts.headers.contains_key(header::CONTENT_LENGTH) {
        let len = length.unwrap_or(0);
        put_header(&mut head, "content-length", &HeaderValue::from(len));
    }
    if framing == Framing::Chunked {
        head.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if close {
        head.extend_from_slice(b"connection: close\r\n");
    } else if version == Version::HTTP_10 {
        // Kept alive at its asking: say so, or it closes.
        head.extend_from_slice(b"connection: keep-alive\r\n");
    }
    if !parts.headers.contains_key(header::DATE) {
        put_date(&mut head);
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// The `Date` header, formatted at most once a second per thread (as
/// hyper does): one per long-poll answer otherwise.
fn put_date(head: &mut Vec<u8>) {
    thread_local! {
        static DATE: std::cell::RefCell<(u64, String)> = const {
            std::cell::RefCell::new((u64::MAX, String::new()))
        };
    }
    let now = std::time::SystemTime::now();
    let second = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(at, date)| {
        if *at != second {
            *at = second;
            *date = httpdate::fmt_http_date(now);
        }
        head.extend_from_slice(b"date: ");
        head.extend_from_slice(date.as_bytes());
        head.extend_from_slice(b"\r\n");
    });
}

fn put_header(head: &mut Vec<u8>, name: &str, value: &HeaderValue) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value.as_bytes());
    head.extend_from_slice(b"\r\n");
}

/// A frame of the body: its data (trailers are skipped), `Err` if the body
/// failed, `None` at its end.
type Frame = Option<Result<Bytes, ()>>;

/// Takes the body's frames that are ready into `frames` (up to
/// [`GATHER_FRAMES`] and [`GATHER_BYTES`]): ready with whether the body
/// ended once any is taken, pending while none is.
fn gather(
    body: &mut Body,
    frames: &mut Vec<Bytes>,
    cx: &mut std::task::Context<'_>,
) -> Poll<Result<bool, ()>> {
    let (mut taken, mut bytes) = (0, 0);
    while taken < GATHER_FRAMES && bytes < GATHER_BYTES {
        match poll_frame(body, cx) {
            Poll::Ready(Some(Ok(data))) => {
                taken += 1;
                bytes += data.len();
                if !data.is_empty() {
                    frames.push(data);
                }
            }
            Poll::Ready(Some(Err(()))) => return Poll::Ready(Err(())),
            Poll::Ready(None) => return Poll::Ready(Ok(true)),
            Poll::Pending if taken == 0 => return Poll::Pending,
            Poll::Pending => break,
        }
    }
    Poll::Ready(Ok(false))
}

fn poll_frame(body: &mut Body, cx: &mut std::task::Context<'_>) -> Poll<Frame> {
    loop {
        return match std::task::ready!(Pin::new(&mut *body).poll_frame(cx)) {
            None => Poll::Ready(None),
            Some(Err(_)) => Poll::Ready(Some(Err(()))),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => Poll::Ready(Some(Ok(data))),
                Err(_) => continue,
            },
        };
    }
}

/// Resolves once the peer has closed; what it sends meanwhile is kept in
/// `next` (a read of at most 64 bytes, on the task's stack: nothing is
/// allocated for a peer that sends nothing, as peers of streams do).
async fn gone(io: &mut StallGuard<TcpStream>, next: &mut BytesMut) {
    // Once the peer has sent something (its next request, pipelined),
    // reading stops, as hyper's does: what follows waits in the socket,
    // and an end of stream after it is found after the answer.
    let mut chunk = [0u8; 64];
    while next.is_empty() {
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => next.extend_from_slice(&chunk[..n]),
        }
    }
    std::future::pending().await
}

/// Writes every byte of `parts`, through the write-stall guard.
async fn write_all(
    io: &mut StallGuard<TcpStream>,
    mut parts: &mut [IoSlice<'_>],
) -> io::Result<()> {
    IoSlice::advance_slices(&mut parts, 0);
    while !parts.is_empty() {
        let n = io.write_vectored(parts).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut parts, n);
    }
    Ok(())
}
