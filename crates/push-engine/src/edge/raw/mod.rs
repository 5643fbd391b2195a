//! Streams served on the socket itself, outside hyper.
//!
//! hyper keeps an 8 KB read buffer and an 8 KB write buffer for each HTTP/1
//! connection as long as it lives, and neither can be given back: for an
//! SSE stream or a waiting long-poll that is most of what the connection
//! holds (`tests/sse_memory.rs`). So the accept loop reads each request
//! head itself and parses it with `httparse`, the parser hyper uses: a
//! `GET` of an event stream or a long-poll (`/sse…`, `/poll/…`, and the
//! Mercure hub's subscribe) without a body is answered here, through the
//! same router as everything else ([`super::service::Edge`]), and its
//! answer written to the socket directly ([`answer`]). Anything else — a
//! WebSocket upgrade, a body, a head hyper would refuse (malformed, or
//! over `push.max_header_size`) — is handed to hyper with the bytes read so
//! far, and hyper serves the rest of the connection as before.
//!
//! The bounds are hyper's: a head must be complete within
//! `push.request_timeout` of the connection's start (or of the previous
//! answer, on a kept-alive connection), else the connection is closed
//! without an answer; a head over `push.max_header_size` goes to hyper,
//! which answers 431. Writes go through the connection's write-stall guard
//! ([`super::io::StallGuard`]), and a peer that closes is noticed while its
//! answer waits or streams.

mod answer;
mod head;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::io::StallGuard;
use super::service::Edge;
use crate::config::Config;
use crate::metrics::{Limit, Metrics};
use head::Parsed;

/// What [`serve`] needs of the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// `push.request_timeout`.
    request_timeout: Duration,
    /// `push.max_header_size`.
    max_header_size: usize,
    /// `push.mercure`: its subscribe URL is a stream too.
    mercure: bool,
}

impl Settings {
    pub(crate) fn new(config: &Config) -> Self {
        Settings {
            request_timeout: config.request_timeout,
            max_header_size: config.max_header_size,
            mercure: config.mercure,
        }
    }
}

/// What is left of a connection after [`serve`].
pub(crate) enum Next {
    /// It is closed, or to be: answered, timed out, or the peer left.
    Done,
    /// hyper serves the rest. `prefix` holds what was read of the next
    /// request; `spoke` says whether a request was answered before.
    Hyper { prefix: Bytes, spoke: bool },
}

/// Serves the connection's requests as long as they are streams; returns
/// when it is done or when hyper must take over.
pub(crate) async fn serve(
    io: &mut StallGuard<TcpStream>,
    app: &Edge,
    addr: SocketAddr,
    settings: Settings,
    metrics: &Metrics,
    stop: &CancellationToken,
) -> Next {
    let mut buf = BytesMut::new();
    let mut spoke = false;
    loop {
        // As hyper's graceful shutdown: a kept-alive connection closes
        // between requests, even with the next one begun; a first request
        // is read and answered.
        if spoke && stop.is_cancelled() {
            return Next::Done;
        }
        let deadline = Instant::now() + settings.request_timeout;
        let max = settings.max_header_size;
        match head::read(io, &mut buf, deadline, max, stop, spoke).await {
            head::Read::Complete => {}
            head::Read::Other => {
                return Next::Hyper {
                    prefix: buf.freeze(),
                    spoke,
                }
            }
            head::Read::TimedOut => {
                // As hyper counts it: only a connection that never sent a
                // whole head was refused; after one it was merely idle.
                if !spoke {
                    metrics.refused(Limit::RequestTimeout);
                }
                return Next::Done;
            }
            head::Read::Closed => return Next::Done,
        }
        let (request, close) = match head::parse(&buf, addr, settings) {
            Parsed::Stream {
                request,
                len,
                close,
            } => {
                let _ = buf.split_to(len);
                (request, close)
            }
            Parsed::Partial | Parsed::Other => {
                return Next::Hyper {
                    prefix: buf.freeze(),
                    spoke,
                }
            }
        };
        if buf.is_empty() {
            // Nothing of a next request: hold no buffer while answering.
            buf = BytesMut::new();
        }
        spoke = true;
        let version = request.version();
        // Boxed: freed once answered, where a stream goes on for hours.
        let future = Box::pin(tower::Service::call(&mut app.clone(), request));
        let keep = answer::answer(io, future, version, close, &mut buf, stop).await;
        if !keep {
            let _ = tokio::io::AsyncWriteExt::shutdown(io).await;
            return Next::Done;
        }
    }
}
