//! One WebSocket's session after the upgrade: the loop over the feed
//! and the client's frames (`mod.rs` answers the upgrade), the frames it
//! writes, and what a client publishes.

use std::future::Future;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::{CLOSE_EXPIRED, CLOSE_LOST, CLOSE_SLOW, EXPIRED};
use crate::edge::limits::Rate;
use crate::edge::transport::coalesce::Coalesce;
use crate::edge::transport::feed::{Feed, Item};
use crate::edge::transport::gate::Gate;
use crate::edge::transport::tap::{wait, SocketTap};
use crate::edge::transport::wire::{put_frame, write_out, ws_frame};
use crate::edge::transport::wire::{OUT_KEPT, WRITE_BATCH};
use crate::hub::Hub;
use crate::message::Outgoing;
use crate::metrics::{Batch, Limit, Transport};

pub(super) struct Session {
    pub(super) hub: Hub,
    pub(super) json: bool,
    /// The channel a client's messages go to, or why they may not.
    pub(super) publish_to: Result<String, &'static str>,
    /// When the token that granted a private channel expires.
    pub(super) expires: Option<Instant>,
    pub(super) keepalive: Duration,
    /// `push.client_publish_rate`.
    pub(super) rate: Rate,
    /// `push.coalesce`.
    pub(super) coalesce: Coalesce,
    /// permessage-deflate was negotiated: messages from this size on go
    /// out compressed (`push.ws_compression_min_size`).
    pub(super) compress: Option<usize>,
}

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
    /// Serves the connection. `tap`: the feed's tap and the socket it may
    /// write to while the session has nothing to (`tap.rs`); the socket
    /// stays open until this returns.
    pub(super) async fn run<S>(
        mut self,
        mut ws: WebSocketStream<S>,
        mut feed: Feed,
        tap: Option<(Arc<SocketTap>, RawFd)>,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        // Detached before `ws`, which owns the socket, is dropped.
        let _attached = tap.as_ref().map(|(t, fd)| t.attach(*fd, false));
        let tap = tap.as_ref().map(|(t, _)| &**t);
        let mut parked = false;
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
            // Everything written, nothing held by tungstenite (a pong
            // queued while reading is): the tap may take over once the
            // feed is drained.
            if let (Some(tap), false) = (tap, pending) {
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
                            if write_out(&mut ws, &mut pending, &rest).await.is_err() {
                                break End::Drop;
                            }
                        }
                        continue;
                    };
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
                })) => {
                // Whatever woke the session, the socket is its own again
                // before tungstenite answers a ping or anything is sent.
                if let Some(tap) = tap {
                    tap.resume(&mut parked, &mut feed, &mut self.coalesce);
                }
                match quiet {
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
                out.extend_from_slice(ws_frame(&p, self.json, self.compress));
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
