//! WebSocket: `GET /` (the tutorial's URL, the default channel, optional
//! client publishing), `GET /ws/{channel}` and `GET /ws?channel=a&channel=b`.
//!
//! The HTTP upgrade is answered by hyper. One task per connection selects
//! over the feed and, behind a gate (`gate.rs`), the client's frames and
//! its timers. Deliveries are framed once per batch and written to the
//! socket directly; tokio-tungstenite reads the client's frames and writes
//! pings, pongs and the close. A connection written to less than
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
use std::task::Poll;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::Response;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::coalesce::Coalesce;
use super::deflate;
use super::feed::{Feed, Item};
use super::gate::Gate;
use super::inflate::Inflating;
use super::wire::{accept_key, deflated_frame, is_upgrade, put_frame, switching, write_out};
use super::wire::{OUT_KEPT, WRITE_BATCH, WS_CONTROL_QUEUE, WS_READ_CHUNK};
use super::{Query as Pairs, Wanted};
use crate::auth;
use crate::edge::error::ApiError;
use crate::edge::limits::Rate;
use crate::edge::AppState;
use crate::hub::Hub;
use crate::message::Outgoing;
use crate::metrics::{Batch, Limit, Transport};

/// Close codes of push's own (4000–4999), documented in docs/browsers.md.
pub const CLOSE_LOST: u16 = 4001;
pub use crate::auth::CLOSE_EXPIRED;
pub const CLOSE_SLOW: u16 = 4008;

const EXPIRED: &str = "token expired: renew it and reconnect with lastEventId";

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
    let feed = wanted.open(&state.hub).await?;
    let session = Session {
        hub: state.hub.clone(),
        json: wanted.json,
        publish_to,
        expires: wanted.access.expires,
        keepalive: config.keepalive,
        rate: Rate::new(config.client_publish_rate),
        coalesce: Coalesce::new(config),
        compress: extension
            .is_some()
            .then_some(config.ws_compression_min_size),
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
    state.tasks.spawn(async move {
        let _connection = connection;
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let io = Inflating::new(
            TokioIo::new(upgraded),
            session.compress.is_some(),
            max_message_size,
        );
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(ws_config)).await;
        session.run(ws, feed).await;
    });
    switching(&accept, extension.as_deref())
}

struct Session {
    hub: Hub,
    json: bool,
    /// The channel a client's messages go to, or why they may not.
    publish_to: Result<String, &'static str>,
    /// When the token that granted a private channel expires.
    expires: Option<Instant>,
    keepalive: Duration,
    /// `push.client_publish_rate`.
    rate: Rate,
    /// `push.coalesce`.
    coalesce: Coalesce,
    /// permessage-deflate was negotiated: messages from this size on go
    /// out compressed (`push.ws_compression_min_size`).
    compress: Option<usize>,
}

/// Slots of [`crate::message::Publication::shared_frame`]: a publication's
/// compressed frame, built once for every subscriber that negotiated
/// permessage-deflate — its data, and its JSON envelope (`?format=json`).
const DEFLATED_DATA: usize = 1;
const DEFLATED_JSON: usize = 2;

/// What woke a session besides its feed.
enum Quiet {
    /// A frame from the client, an error, or the end of its stream.
    Frame(Option<Result<Message, tungstenite::Error>>),
    /// The token that granted a private channel expired.
    Expired,
    /// Time to ping.
    Ping,
}

/// Why a session ends.
enum End {
    Close(u16, &'static str),
    /// The peer is gone or cannot be written to: just drop the socket.
    Drop,
}

impl Session {
    async fn run<S>(mut self, mut ws: WebSocketStream<S>, mut feed: Feed)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let metrics = self.hub.metrics().clone();
        let mut ping = tokio::time::interval_at(Instant::now() + self.keepalive, self.keepalive);
        let mut last_seen = Instant::now();
        let write_limit = self.keepalive;
        let expires = self.expires;
        let expiry = async move {
            match expires {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expiry);
        // The client's frames and the timers are polled only when one of
        // them woke the task, not on every delivery (see `gate`).
        let mut gate = Gate::new();
        // Deliveries are framed here and written to the socket directly;
        // tungstenite reads, and writes pings, pongs and the close.
        let mut out = Vec::new();
        // tungstenite may hold a frame not written yet (a pong): it goes
        // out before our own.
        let mut pending = false;
        let end = loop {
            tokio::select! {
                item = feed.recv() => {
                    // The client's frames wait in the socket meanwhile.
                    self.coalesce.before(&feed, &item).await;
                    let mut item = Some(item);
                    let mut end = None;
                    let mut delivered = Batch::new(Transport::Ws);
                    let mut drained = true;
                    // Batch: what is already queued (up to WRITE_BATCH
                    // bytes) goes out with one write.
                    while let Some(next) = item.take() {
                        let published = match &next {
                            Item::Message(p, _) => Some(p.at),
                            _ => None,
                        };
                        if let Err(e) = self.encode(next, &mut out) {
                            end = Some(e);
                            break;
                        }
                        if let Some(at) = published {
                            delivered.add(at);
                        }
                        if out.len() < WRITE_BATCH {
                            item = feed.try_recv();
                        } else {
                            drained = false;
                        }
                    }
                    metrics.record(&delivered);
                    // No timer per write: the stall guard on the connection
                    // fails writes that stay stuck.
                    if !out.is_empty() {
                        let written = write_out(&mut ws, &mut pending, &out).await;
                        self.coalesce.wrote(drained);
                        match written {
                            Ok(true) => self.coalesce.backed_up(),
                            Ok(false) => {}
                            Err(()) => end = Some(End::Drop),
                        }
                    }
                    out.clear();
                    if out.capacity() > OUT_KEPT {
                        out = Vec::new();
                    }
                    if let Some(end) = end {
                        break end;
                    }
                }
                quiet = std::future::poll_fn(|cx| gate.poll(cx, |cx| {
                    if let Poll::Ready(msg) = ws.poll_next_unpin(cx) {
                        return Poll::Ready(Quiet::Frame(msg));
                    }
                    if expiry.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Quiet::Expired);
                    }
                    ping.poll_tick(cx).map(|_| Quiet::Ping)
                })) => match quiet {
                Quiet::Frame(msg) => {
                    last_seen = Instant::now();
                    // Reading may have queued an answer (a pong).
                    pending = true;
                    match msg {
                        None => break End::Drop,
                        Some(Ok(Message::Close(_))) => {
                            // tungstenite queued the closing answer: send it.
                            let _ = timeout(write_limit, ws.flush()).await;
                            break End::Drop;
                        }
                        Some(Ok(Message::Text(t))) => {
                            if let Err(end) = self.client_publish(Bytes::from(t)).await {
                                break end;
                            }
                        }
                        Some(Ok(Message::Binary(b))) => {
                            if let Err(end) = self.client_publish_binary(b).await {
                                break end;
                            }
                        }
                        Some(Ok(_)) => {} // ping (answered by tungstenite), pong
                        Some(Err(tungstenite::Error::Capacity(_))) => break End::Close(1009, "message too big: see push.max_message_size"),
                        Some(Err(tungstenite::Error::Utf8(_))) => break End::Close(1007, "text frame is not valid UTF-8"),
                        Some(Err(_)) => break End::Drop,
                    }
                }
                Quiet::Expired => break End::Close(CLOSE_EXPIRED, EXPIRED),
                Quiet::Ping => {
                    if last_seen.elapsed() > 2 * self.keepalive {
                        break End::Drop; // a dead peer
                    }
                    if !matches!(timeout(write_limit, ws.send(Message::Ping(Bytes::new()))).await, Ok(Ok(()))) {
                        break End::Drop;
                    }
                }
                },
            }
        };
        drop(feed);
        if let End::Close(code, reason) = end {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: Utf8Bytes::from_static(reason),
            };
            let _ = timeout(Duration::from_secs(1), ws.send(Message::Close(Some(frame)))).await;
            // Let the peer answer the close (tungstenite completes it).
            let _ = timeout(Duration::from_secs(1), async {
                while let Some(Ok(_)) = ws.next().await {}
            })
            .await;
        }
    }

    /// Appends the frame for a feed item to `out`, or says why the session
    /// ends.
    fn encode(&self, item: Item, out: &mut Vec<u8>) -> Result<(), End> {
        match item {
            Item::Message(p, _budget) => {
                // `text` is set only when the data was checked to be UTF-8.
                let (kind, payload, slot) = if self.json {
                    (Data::Text, &p.json()[..], DEFLATED_JSON)
                } else if p.text {
                    (Data::Text, &p.data[..], DEFLATED_DATA)
                } else {
                    (Data::Binary, &p.data[..], DEFLATED_DATA)
                };
                let frame = match self.compress {
                    Some(min) if payload.len() >= min => {
                        p.shared_frame(slot, |_| deflated_frame(kind, payload))
                    }
                    _ => &Bytes::new(),
                };
                if frame.is_empty() {
                    put_frame(out, kind, payload);
                } else {
                    out.extend_from_slice(frame);
                }
                Ok(())
            }
            Item::Lost(channel, lost) if self.json => {
                let v = serde_json::json!({
                    "type": "lost",
                    "channel": &*channel,
                    "requested": lost.requested.to_string(),
                    "oldest": lost.oldest.map(|id| id.to_string()),
                });
                put_frame(out, Data::Text, v.to_string().as_bytes());
                Ok(())
            }
            Item::Lost(..) => Err(End::Close(
                CLOSE_LOST,
                "lost: messages after lastEventId are gone",
            )),
            Item::Slow => Err(End::Close(CLOSE_SLOW, "slow: resume with lastEventId")),
            Item::Closed => Err(End::Close(1001, "going away: reconnect with lastEventId")),
        }
    }

    async fn client_publish_binary(&mut self, data: Bytes) -> Result<(), End> {
        self.publish(Outgoing::new(data).binary()).await
    }

    async fn client_publish(&mut self, data: Bytes) -> Result<(), End> {
        self.publish(Outgoing::new(data)).await
    }

    async fn publish(&mut self, msg: Outgoing) -> Result<(), End> {
        let channel = self
            .publish_to
            .as_ref()
            .map_err(|why| End::Close(1008, why))?;
        if self.expires.is_some_and(|at| Instant::now() >= at) {
            return Err(End::Close(CLOSE_EXPIRED, EXPIRED));
        }
        if !self.rate.take() {
            self.hub.metrics().refused(Limit::ClientPublishRate);
            return Err(End::Close(
                1008,
                "publishing too fast: see push.client_publish_rate",
            ));
        }
        // Boxed: rare, and large enough to double every connection's task.
        match Box::pin(self.hub.send(channel, msg)).await {
            Ok(_) => Ok(()),
            Err(crate::Error::Broker(_)) => Err(End::Close(
                1013,
                "the broker is unavailable: try again later",
            )),
            Err(crate::Error::MessageTooLarge { .. }) => Err(End::Close(
                1009,
                "message too big: see push.max_message_size",
            )),
            Err(_) => Err(End::Close(1011, "the message could not be published")),
        }
    }
}
