//! WebSocket: `GET /` (the tutorial's URL, the default channel, optional
//! client publishing), `GET /ws/{channel}` and `GET /ws?channel=a&channel=b`.
//!
//! The HTTP upgrade is answered by hyper. One task per connection selects
//! over the feed and, behind a gate (`gate.rs`), the client's frames and
//! its timers. Deliveries (each publication's frame, built once for every
//! subscriber) are written to the socket directly; tokio-tungstenite reads
//! the client's frames and writes pings, pongs and the close. While the
//! session has nothing to write, the publisher writes a connection of one
//! channel itself (`tap.rs`). A connection written to less than
//! `push.coalesce` ago waits out the rest of it before its next batch
//! (`coalesce.rs`).
//!
//! Close codes (also in docs/browsers.md):
//! - 1001 going away: the engine is shutting down; reconnect with `?lastEventId=`.
//! - 1007 a text frame was not UTF-8; 1008 publishing is not allowed here,
//!   or faster than `push.client_publish_rate`; 1009 a message exceeded
//!   `push.max_message_size`.
//! - 4003 token expired: the token that granted a private channel expired
//!   while connected; renew it and reconnect with `?lastEventId=`.
//! - 4001 lost: raw mode only (JSON mode sends a `{"type":"lost"}` envelope):
//!   messages after the cursor are gone; reconnect without a cursor.
//! - 4008 slow: the connection fell more than `push.keepalive` behind (or,
//!   with several channels, kept its `push.max_queue_bytes` queue full as
//!   long); reconnect with `?lastEventId=` to resume from history.

use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::Response;
use futures_util::FutureExt;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::auth;
use crate::edge::error::ApiError;
use crate::edge::io::{Rewind, StallGuard};
use crate::edge::limits::Rate;
use crate::edge::transport::coalesce::Coalesce;
use crate::edge::transport::deflate;
use crate::edge::transport::feed::Feed;
use crate::edge::transport::inflate::Inflating;
use crate::edge::transport::tap::{Frame, SocketTap};
use crate::edge::transport::wire::{accept_key, is_upgrade, switching};
use crate::edge::transport::wire::{WS_CONTROL_QUEUE, WS_READ_CHUNK};
use crate::edge::transport::{Query as Pairs, Wanted};
use crate::edge::AppState;
use crate::metrics::{Connection, Transport};
use session::Session;

mod session;

/// Close codes of push's own (4000–4999), documented in docs/browsers.md.
pub const CLOSE_LOST: u16 = 4001;
pub use crate::auth::CLOSE_EXPIRED;
pub const CLOSE_SLOW: u16 = 4008;

pub(super) const EXPIRED: &str = "token expired: renew it and reconnect with lastEventId";

/// `GET /`: a WebSocket on `push.default_channel`.
pub async fn root(
    State(state): State<AppState>,
    Query(query): Query<Pairs>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    if !is_upgrade(req.headers()) {
        return Err(ApiError::UpgradeRequired(
            "this is a push engine: connect a WebSocket here, or use /sse/{channel}, /poll/{channel}",
        ));
    }
    let channel = state.hub.config().default_channel.clone();
    upgrade(state, Some(&channel), query, req).await
}

/// `GET /ws/{channel}`.
pub async fn channel(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    Query(query): Query<Pairs>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    upgrade(state, Some(&channel), query, req).await
}

/// `GET /ws?channel=a&channel=b`.
pub async fn channels(
    State(state): State<AppState>,
    Query(query): Query<Pairs>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    upgrade(state, None, query, req).await
}

async fn upgrade(
    state: AppState,
    path_channel: Option<&str>,
    query: Pairs,
    mut req: Request,
) -> Result<Response<Body>, ApiError> {
    let accept = accept_key(req.headers())?;
    let headers = req.headers();
    let config = state.hub.config();
    let wanted = Wanted::parse(path_channel, &query, headers, config)?;
    let extension = if config.ws_compression {
        deflate::negotiate(headers)
    } else {
        None
    };
    let publish_to = match wanted.channels.as_slice() {
        [(name, _)] => auth::publish(config, &wanted.access, name).map(|()| name.clone()),
        _ => Err("publishing is not allowed here: see push.client_publish"),
    };
    let on_upgrade = req
        .extensions_mut()
        .remove::<OnUpgrade>()
        // hyper upgrades HTTP/1.1 connections only (RFC 6455 4.1 asks for it).
        .ok_or_else(|| ApiError::BadRequest("a WebSocket upgrade needs HTTP/1.1".into()))?;
    let mut feed = wanted.open(&state.hub).await?;
    let compress = extension
        .is_some()
        .then_some(config.ws_compression_min_size);
    // One channel: the publisher writes to the socket while the session
    // waits (`tap.rs`).
    let json = wanted.json;
    let tap = SocketTap::new(
        config,
        state.hub.metrics().clone(),
        Transport::Ws,
        Frame::Ws { json, compress },
    );
    let tap = feed.tap(tap.clone()).then_some(tap);
    let session = Session {
        hub: state.hub.clone(),
        json: wanted.json,
        publish_to,
        expires: wanted.access.expires,
        keepalive: config.keepalive,
        rate: Rate::new(config.client_publish_rate),
        coalesce: Coalesce::new(config),
        compress,
    };
    let max_message_size = config.max_message_size;
    // tungstenite writes only pings, pongs and the close (deliveries go
    // to the socket directly): a client that floods pings and reads
    // nothing has at most WS_CONTROL_QUEUE of pongs held for it.
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(WS_READ_CHUNK)
        .write_buffer_size(8192)
        .max_write_buffer_size(WS_CONTROL_QUEUE)
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_message_size));
    let connection = state.hub.metrics().connection(Transport::Ws);
    let compress = session.compress.is_some();
    let own = Own { session, feed, tap };
    let opening = Opening {
        on_upgrade,
        compress,
        max_message_size,
        ws_config,
        connection,
    };
    state.tasks.spawn(serve(opening, own));
    switching(&accept, extension.as_deref())
}

/// A WebSocket's session once the upgrade is answered: push's own, or a
/// protocol adapter's.
pub(crate) trait Serve: Send + 'static {
    /// Serves `ws`. `fd`: its socket, for a tap to write to while the
    /// session has nothing to (`tap.rs`); the socket stays open until the
    /// future ends. `None` when the connection is not the accept loop's.
    fn serve<S>(self, ws: WebSocketStream<S>, fd: Option<RawFd>) -> impl Future<Output = ()> + Send
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static;
}

/// push's own session, its feed and its tap.
struct Own {
    session: Session,
    feed: Feed,
    tap: Option<Arc<SocketTap>>,
}

impl Serve for Own {
    fn serve<S>(self, ws: WebSocketStream<S>, fd: Option<RawFd>) -> impl Future<Output = ()> + Send
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.session.run(ws, self.feed, self.tap.zip(fd))
    }
}

/// A WebSocket upgrade answered, and how to open the connection.
pub(crate) struct Opening {
    pub(crate) on_upgrade: OnUpgrade,
    /// permessage-deflate was negotiated: the client's frames are inflated.
    pub(crate) compress: bool,
    pub(crate) max_message_size: usize,
    pub(crate) ws_config: WebSocketConfig,
    /// Counts the connection in until it ends.
    pub(crate) connection: Connection,
}

/// The connection's task: waits for the upgrade, opens the WebSocket and
/// hands it to `session`. (Spawned as it is: wrapped in another block, its
/// state would be held twice.)
pub(crate) async fn serve(opening: Opening, session: impl Serve) {
    let Opening {
        on_upgrade,
        compress,
        max_message_size,
        ws_config,
        connection: _connection,
    } = opening;
    let Ok(upgraded) = on_upgrade.await else {
        return;
    };
    // The connection itself, out of hyper's box: one indirection less per
    // read and write, and the socket a tap writes to.
    match upgraded.downcast::<TokioIo<Rewind<StallGuard<TcpStream>>>>() {
        Ok(parts) => {
            let io = parts.io.into_inner().unread(parts.read_buf);
            let fd = io.get_ref().get_ref().as_raw_fd();
            let io = Inflating::new(io, compress, max_message_size);
            // Ready at once (nothing is read or written): polled here, its
            // state takes no room in the task beside the session's.
            let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(ws_config));
            let Some(ws) = ws.now_or_never() else {
                return;
            };
            session.serve(ws, Some(fd)).await;
        }
        // Never with the accept loop's connections: boxed, so that its
        // state does not enlarge every connection's task.
        Err(upgraded) => {
            Box::pin(async move {
                let io = Inflating::new(TokioIo::new(upgraded), compress, max_message_size);
                let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(ws_config)).await;
                session.serve(ws, None).await;
            })
            .await;
        }
    }
}
