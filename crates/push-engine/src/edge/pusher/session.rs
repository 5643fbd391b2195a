//! One Pusher WebSocket: the `pusher:` events (connection, ping and pong,
//! subscribe and unsubscribe), presence notices, client events, and the
//! deliveries of its channels.
//!
//! Built from the pieces of push's own WebSocket (`transport/ws/`): the
//! channels merge into one feed bounded in bytes (a connection that leaves
//! it full for `push.keepalive` is cut off, 4100), the client's frames and
//! the timer sit behind a gate, deliveries are framed once per
//! publication (shared by every subscriber) and written in batches, and a
//! connection written to less than `push.coalesce` ago waits out the rest
//! of it before its next batch.
//!
//! Liveness: `activity_timeout` is `push.keepalive` (at least a second).
//! A client silent that long gets a `pusher:ping`; silent as long again,
//! it is closed with 4201.

use std::collections::HashMap;
use std::future::Future;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::channels::Kind;
use super::frame::{self, Incoming};
use super::webhook::Webhooks;
use super::*;
use crate::edge::limits::Rate;
use crate::edge::transport::coalesce::Coalesce;
use crate::edge::transport::feed::{Feed, Item};
use crate::edge::transport::gate::Gate;
use crate::edge::transport::patience;
use crate::edge::transport::tap::{wait, Frame, SocketTap};
use crate::edge::transport::wire::{put_frame, write_out, OUT_KEPT, WRITE_BATCH};
use crate::edge::transport::ws::Serve;
use crate::hub::presence::Change;
use crate::hub::Hub;
use crate::message::Publication;
use crate::metrics::{Batch, Transport};

/// How a connection opens: served, or refused with a close code.
pub enum Opening {
    Accept,
    Refuse(u16, String),
}

pub struct Session {
    pub(super) hub: Hub,
    pub(super) socket_id: String,
    /// This connection's number, its name in the hub's presence.
    pub(super) number: u64,
    /// The channels subscribed to, and what kind each is.
    pub(super) channels: HashMap<Arc<str>, Kind>,
    /// Presence notices for this connection.
    pub(super) notices: (
        mpsc::UnboundedSender<Change>,
        mpsc::UnboundedReceiver<Change>,
    ),
    /// `push.client_publish_rate`, for client events.
    pub(super) rate: Rate,
    /// The signed-in user's id and hub channel ([`super::user`]).
    pub(super) user: Option<(String, Arc<str>)>,
    /// Frames waiting to be written.
    out: Vec<u8>,
    /// `push.coalesce`, for deliveries.
    coalesce: Coalesce,
    /// Where client events are reported, if webhooks are on.
    pub(super) webhooks: Option<Webhooks>,
    /// permessage-deflate was negotiated: publications from this size on
    /// go out compressed (`push.ws_compression_min_size`).
    compress: Option<usize>,
    /// Writes deliveries while the connection, on one channel, has
    /// nothing to write itself (`transport/tap`); registered with each
    /// channel subscribed while it is the feed's only one.
    pub(super) tap: Option<Arc<SocketTap>>,
}

/// A session, and how its connection opens: what the upgrade serves.
pub struct Opened {
    pub session: Session,
    pub opening: Opening,
}

impl Serve for Opened {
    fn serve<S>(self, ws: WebSocketStream<S>, fd: Option<RawFd>) -> impl Future<Output = ()> + Send
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.session.run(ws, self.opening, fd)
    }
}

/// Why a session ends.
pub(super) enum End {
    Close(u16, String),
    /// The peer is gone or cannot be written to.
    Drop,
}

/// What woke a session besides its feed and its notices.
enum Quiet {
    Frame(Option<Result<Message, tungstenite::Error>>),
    Notice(Change),
    Closing,
    Tick,
}

impl Drop for Session {
    fn drop(&mut self) {
        // Presence is left however the connection ends: at once without a
        // broker, else in a task of its own (the broker is asked).
        let left: Vec<Arc<str>> = self
            .channels
            .iter()
            .filter(|(_, kind)| matches!(kind, Kind::Presence(_)))
            .map(|(channel, _)| channel.clone())
            .collect();
        if left.is_empty() {
            return;
        }
        let (hub, number) = (self.hub.clone(), self.number);
        let leave = async move {
            for channel in left {
                hub.presence_leave(&channel, number).await;
            }
        };
        match (self.hub.broker(), tokio::runtime::Handle::try_current()) {
            (Some(_), Ok(runtime)) => {
                runtime.spawn(leave);
            }
            // Without a broker nothing in it waits.
            _ => {
                let _ = leave.now_or_never();
            }
        }
    }
}

impl Session {
    pub fn new(hub: Hub, webhooks: Option<Webhooks>, compress: Option<usize>) -> Session {
        let (socket_id, number) = socket_id();
        let rate = Rate::new(hub.config().client_publish_rate);
        let coalesce = Coalesce::new(hub.config());
        Session {
            hub,
            socket_id,
            number,
            channels: HashMap::new(),
            notices: mpsc::unbounded_channel(),
            rate,
            user: None,
            out: Vec::new(),
            coalesce,
            webhooks,
            compress,
            tap: None,
        }
    }

    pub(super) fn send(&mut self, frame: &[u8]) {
        put_frame(&mut self.out, Data::Text, frame);
    }

    /// A publication's event, framed once for every subscriber
    /// ([`frame::ws`]).
    pub(super) fn deliver(&mut self, p: &Publication) {
        self.out.extend_from_slice(frame::ws(p, self.compress));
    }

    /// Serves the connection; `fd`: its socket, which a tap may write to
    /// while the session has nothing to (open until this returns).
    pub async fn run<S>(mut self, mut ws: WebSocketStream<S>, opening: Opening, fd: Option<RawFd>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        if fd.is_some() && matches!(opening, Opening::Accept) {
            let pick = frame::Pick {
                socket_id: self.socket_id.clone(),
                compress: self.compress,
            };
            let tap = SocketTap::new(
                self.hub.config(),
                self.hub.metrics().clone(),
                Transport::Pusher,
                Frame::Picked(Arc::new(pick)),
            );
            self.tap = Some(tap);
        }
        let tap = self.tap.clone();
        // Detached before `ws`, which owns the socket, is dropped.
        let _attached = tap.as_deref().zip(fd).map(|(t, fd)| t.attach(fd, false));
        let mut pending = false;
        let end = match opening {
            Opening::Refuse(code, message) => {
                self.send(&frame::error(Some(code), &message));
                End::Close(code, message)
            }
            Opening::Accept => self.serve(&mut ws, &mut pending).await,
        };
        if !self.out.is_empty() {
            let out = std::mem::take(&mut self.out);
            let _ = timeout(
                Duration::from_secs(1),
                write_out(&mut ws, &mut pending, &out),
            )
            .await;
        }
        if let End::Close(code, reason) = end {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: Utf8Bytes::from(reason),
            };
            let _ = timeout(Duration::from_secs(1), ws.send(Message::Close(Some(frame)))).await;
            let _ = timeout(Duration::from_secs(1), async {
                while let Some(Ok(_)) = ws.next().await {}
            })
            .await;
        }
    }

    async fn serve<S>(&mut self, ws: &mut WebSocketStream<S>, pending: &mut bool) -> End
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let hub = self.hub.clone();
        let config = hub.config();
        let activity = config.keepalive.max(Duration::from_secs(1));
        let established = json!({
            "socket_id": self.socket_id,
            "activity_timeout": activity.as_secs(),
        });
        self.send(&frame::event(
            "pusher:connection_established",
            None,
            &established,
        ));
        let mut feed = Feed::changing(
            config.max_queue_bytes,
            patience(config),
            self.hub.metrics().clone(),
        );
        let metrics = self.hub.metrics().clone();
        let closing = self.hub.closing();
        // Registered once, not on every turn of the loop (each registration
        // takes the token's lock, shared by every connection).
        let closing = closing.cancelled();
        tokio::pin!(closing);
        let mut last_seen = Instant::now();
        let mut pinged = false;
        let mut tick = tokio::time::interval_at(Instant::now() + activity / 4, activity / 4);
        let mut gate = Gate::new();
        let tap = self.tap.clone();
        let tap = tap.as_deref();
        let mut parked = false;
        loop {
            if !self.out.is_empty() {
                if write_out(ws, pending, &self.out).await.is_err() {
                    return End::Drop;
                }
                self.out.clear();
                if self.out.capacity() > OUT_KEPT {
                    self.out = Vec::new();
                }
            }
            // Everything written, nothing held by tungstenite: the tap may
            // take over once the feed is drained.
            if let (Some(tap), false) = (tap, *pending) {
                tap.flushed();
            }
            tokio::select! {
                item = wait(&mut feed, tap, &mut parked, &self.coalesce) => {
                    if let Some(tap) = tap {
                        tap.resume(&mut parked, &mut feed, &mut self.coalesce);
                    }
                    let Some(item) = item else {
                        // The tap gave the socket back: what it left of a
                        // frame goes first.
                        if let Some(rest) = tap.and_then(SocketTap::take_rest) {
                            if write_out(ws, pending, &rest).await.is_err() {
                                return End::Drop;
                            }
                        }
                        continue;
                    };
                    // The client's frames wait in the socket meanwhile.
                    self.coalesce.before(&feed, &item).await;
                    let mut item = Some(item);
                    let mut drained = true;
                    let mut delivered = Batch::new(crate::metrics::Transport::Pusher);
                    while let Some(next) = item.take() {
                        match next {
                            Item::Message(p, _budget) => match self.for_user(&p) {
                                Some(Err(end)) => return end,
                                Some(Ok(())) => delivered.add(p.at),
                                None => {
                                    if self.channels.contains_key(&p.channel) && frame::is_for(&p, &self.socket_id) {
                                        self.deliver(&p);
                                        delivered.add(p.at);
                                    }
                                }
                            }
                            Item::Lost(..) => {
                                return End::Close(CLOSE_RECONNECT, "messages were missed: reconnect".into());
                            }
                            Item::Slow => {
                                return End::Close(CLOSE_OVER_CAPACITY, "too slow: the connection fell behind".into());
                            }
                            Item::Closed => {
                                return End::Close(CLOSE_RECONNECT, "the server is going away: reconnect".into());
                            }
                        }
                        if self.out.len() < WRITE_BATCH {
                            item = feed.try_recv();
                        } else {
                            drained = false;
                        }
                    }
                    metrics.record(&delivered);
                    if !self.out.is_empty() {
                        if write_out(ws, pending, &self.out).await.is_err() {
                            return End::Drop;
                        }
                        self.out.clear();
                        self.coalesce.wrote(drained);
                    }
                }
                // Behind the gate with the socket's read side: not polled
                // again on every delivery.
                quiet = std::future::poll_fn(|cx| gate.poll(cx, |cx| {
                    if let Poll::Ready(msg) = ws.poll_next_unpin(cx) {
                        return Poll::Ready(Quiet::Frame(msg));
                    }
                    if let Poll::Ready(Some(change)) = self.notices.1.poll_recv(cx) {
                        return Poll::Ready(Quiet::Notice(change));
                    }
                    if closing.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Quiet::Closing);
                    }
                    tick.poll_tick(cx).map(|_| Quiet::Tick)
                })) => {
                // Whatever woke the session, the socket is its own again
                // before anything is sent.
                if let Some(tap) = tap {
                    tap.resume(&mut parked, &mut feed, &mut self.coalesce);
                }
                match quiet {
                    Quiet::Notice(change) => self.notice(change),
                    Quiet::Closing => {
                        return End::Close(CLOSE_RECONNECT, "the server is going away: reconnect".into());
                    }
                    Quiet::Frame(msg) => {
                        last_seen = Instant::now();
                        pinged = false;
                        // Reading may have queued a WebSocket pong.
                        *pending = true;
                        match msg {
                            None => return End::Drop,
                            Some(Ok(Message::Close(_))) => {
                                let _ = timeout(activity, ws.flush()).await;
                                return End::Drop;
                            }
                            Some(Ok(Message::Text(t))) => {
                                if let Err(end) = self.frame(Bytes::from(t), &mut feed).await {
                                    return end;
                                }
                            }
                            Some(Ok(Message::Binary(_))) => {
                                self.send(&frame::error(None, "binary frames are not part of the Pusher protocol"));
                            }
                            Some(Ok(_)) => {}
                            Some(Err(tungstenite::Error::Capacity(_))) => {
                                return End::Close(1009, "message too big: see push.max_message_size".into());
                            }
                            Some(Err(_)) => return End::Drop,
                        }
                    }
                    Quiet::Tick => {
                        let silent = last_seen.elapsed();
                        if pinged && silent >= 2 * activity {
                            return End::Close(CLOSE_NO_PONG, "Pong reply not received in time".into());
                        }
                        if !pinged && silent >= activity {
                            pinged = true;
                            self.send(&frame::event("pusher:ping", None, &json!({})));
                        }
                    }
                }
                },
            }
        }
    }

    /// A presence notice for a channel this connection is on.
    fn notice(&mut self, change: Change) {
        let (channel, frame) = frame::member_notice(change);
        if matches!(self.channels.get(&channel), Some(Kind::Presence(_))) {
            self.send(&frame);
        }
    }

    /// A text frame from the client.
    async fn frame(&mut self, text: Bytes, feed: &mut Feed) -> Result<(), End> {
        let Ok(incoming) = serde_json::from_slice::<Incoming>(&text) else {
            self.send(&frame::error(
                None,
                "a frame must be a JSON object with an event",
            ));
            return Ok(());
        };
        match incoming.event.as_str() {
            "pusher:ping" => self.send(&frame::event("pusher:pong", None, &json!({}))),
            "pusher:pong" => {}
            "pusher:subscribe" => self.subscribe(&incoming, feed).await,
            "pusher:signin" => return self.signin(&incoming, feed).await,
            "pusher:unsubscribe" => {
                if let Some(channel) = incoming.text("channel") {
                    self.unsubscribe(&channel, feed).await;
                }
            }
            e if e.starts_with("client-") => return self.client_event(incoming).await,
            _ => {}
        }
        Ok(())
    }
}
