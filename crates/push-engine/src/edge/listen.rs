//! The accept loop of `push.listen`: each accepted connection gets
//! `TCP_NODELAY` (small frames go out at once), is admitted by the
//! [`Limits`] or refused before its request is read (503 over
//! `push.max_connections`, 429 over `push.max_connections_per_ip`). Its
//! request heads are read first by [`raw`]: event streams and long-polls
//! are answered on the socket itself, outside hyper's per-connection
//! buffers; anything else (a WebSocket upgrade, a body, a head hyper would
//! refuse) is handed to hyper, with the bytes already read, and served as
//! HTTP/1.1 with upgrades (WebSocket) for the rest of the connection. The
//! request head is bounded on both paths: `push.max_header_size` (larger:
//! 431, hyper's answer with an empty body) and `push.request_timeout` (a
//! head not complete in time: the connection is closed without an answer;
//! the same bound applies to the next request on a kept-alive connection).
//! The WebSocket handshake is one request head and its answer, so these
//! bound it too.
//!
//! Graceful shutdown: once `stop` is cancelled nothing more is accepted,
//! idle connections close, and connections finish their current response.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use bytes::Bytes;
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::io::{Peer, Rewind, StallGuard};
use super::limits::{Limits, OverCapacity, Refusal};
use super::raw;
use crate::config::Config;
use crate::edge::service::Edge;
use crate::metrics::{Limit, Metrics};

/// Serves `app` on `listener` until `stop` is cancelled and every
/// connection still served over HTTP has finished (upgraded WebSockets
/// live on in their own tasks).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Edge,
    limits: Arc<Limits>,
    metrics: Arc<Metrics>,
    config: &Config,
    stop: CancellationToken,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.request_timeout)
        .max_header_size(config.max_header_size);
    // A peer that takes no writes for two keep-alive intervals is gone.
    let stall = 2 * config.keepalive;
    let pusher = config.pusher();
    let settings = raw::Settings::new(config);
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, addr) = match accepted {
            Ok(accepted) => accepted,
            Err(_) => {
                // Out of file descriptors and the like: back off, go on.
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (admitted, over) = match limits.admit(addr.ip()) {
            Ok(admitted) => (Some(admitted), None),
            // Pusher clients are told in their protocol (close 4100):
            // the request is read, within the bound on refusals answered.
            Err(Refusal::Full(max)) if pusher => match limits.answering() {
                Some(permit) => (None, Some((max, permit))),
                None => continue,
            },
            Err(refusal) => {
                limits.refuse(stream, refusal);
                continue;
            }
        };
        let mut io = StallGuard::new(stream, stall).counted(metrics.clone());
        if let Some(admitted) = admitted {
            io = io.holding(admitted);
        }
        let (over, permit) = over.unzip();
        let (app, http, stop, metrics) = (app.clone(), http.clone(), stop.clone(), metrics.clone());
        connections.spawn(async move {
            let _permit = permit;
            // Streams are served on the socket itself (`raw`); hyper takes
            // everything else, and a connection over capacity.
            let (prefix, spoke) = match over {
                Some(_) => (Bytes::new(), false),
                None => match raw::serve(&mut io, &app, addr, settings, &metrics, &stop).await {
                    raw::Next::Done => return,
                    raw::Next::Hyper { prefix, spoke } => (prefix, spoke),
                },
            };
            // Boxed: hyper's connection is most of the task's size, which
            // a stream served on the socket would carry for nothing.
            let io = Rewind::new(io, prefix);
            Box::pin(hyper(io, http, &app, addr, over, spoke, &stop, &metrics)).await;
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// Serves a connection over HTTP/1.1 with hyper until it ends, or until
/// `stop` and its current answer ends. `spoke`: a request was answered on
/// it before.
#[allow(clippy::too_many_arguments)]
async fn hyper(
    io: Rewind<StallGuard<TcpStream>>,
    http: http1::Builder,
    app: &Edge,
    addr: SocketAddr,
    over: Option<usize>,
    spoke: bool,
    stop: &CancellationToken,
    metrics: &Metrics,
) {
    // Whether a request head arrived: a timeout before one is a refusal;
    // after, it may be a kept-alive connection left idle.
    let spoke = Arc::new(AtomicBool::new(spoke));
    let conn = http
        .serve_connection(TokioIo::new(io), service(app, addr, spoke.clone(), over))
        .with_upgrades();
    tokio::pin!(conn);
    // In order: no random draw on each wake-up (one per delivery of an
    // SSE stream served by hyper).
    let served = tokio::select! {
        biased;
        served = conn.as_mut() => served,
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served {
        if e.is_timeout() && !spoke.load(Relaxed) {
            metrics.refused(Limit::RequestTimeout);
        } else if e.is_parse_too_large() {
            metrics.refused(Limit::HeaderSize);
        }
    }
}

/// The router for one connection: every request carries the peer's
/// address (`ConnectInfo<Peer>`) and sets `spoke`. On a connection over
/// `push.max_connections` (`over`), a Pusher WebSocket (`/app/…`) is
/// routed with [`OverCapacity`] to be refused in its protocol; anything
/// else is answered 503.
fn service(
    app: &Edge,
    addr: SocketAddr,
    spoke: Arc<AtomicBool>,
    over: Option<usize>,
) -> impl Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> {
    let app = TowerToHyperService::new(app.clone());
    hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        spoke.store(true, Relaxed);
        req.extensions_mut().insert(ConnectInfo(Peer(addr)));
        match over {
            Some(max) if !req.uri().path().starts_with("/app/") => {
                Either::Left(std::future::ready(Ok(full(max))))
            }
            Some(max) => {
                req.extensions_mut().insert(OverCapacity(max));
                Either::Right(app.call(req))
            }
            None => Either::Right(app.call(req)),
        }
    })
}

/// [`Refusal::Full`]'s answer, on a connection whose request was read.
fn full(max: usize) -> axum::response::Response {
    let (_, body) = Refusal::Full(max).parts();
    axum::response::Response::builder()
        .status(503)
        .header("content-type", "application/json")
        .header("connection", "close")
        .body(axum::body::Body::from(body))
        .unwrap_or_default()
}
