//! Server-Sent Events: `GET /sse/{channel}` and `GET /sse?channel=a&channel=b`.
//!
//! `text/event-stream` with `id:` (the publication id, or a composite
//! cursor when several channels share the stream), `event:` when set, one
//! `data:` line per line of the message (binary data base64-encoded),
//! `retry:`, and a keep-alive comment every `push.keepalive`. Resumes from
//! `Last-Event-ID` (header, as EventSource sends it, or `?lastEventId=`).
//! What is waiting is handed to hyper as one batch, after `push.coalesce`
//! if the stream was written to moments ago (`coalesce.rs`).
//! Events of push's own: `push-lost` (messages after the cursor are gone;
//! what follows starts at the oldest held) and `push-slow` (the stream fell
//! more than `push.keepalive` behind, or with several channels kept its
//! `push.max_queue_bytes` queue full as long, and ends; reconnecting
//! resumes) and
//! `push-expired` (the token that granted a private channel expired; the
//! stream ends: renew the token and reconnect with `?lastEventId=`).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Response};
use bytes::Bytes;
use tokio::time::{Instant, Interval, Sleep};

use super::coalesce::Coalesce;
use super::cursor::composite;
use super::feed::{Feed, Item};
use super::gate::Gate;
use super::{Query as Pairs, Wanted};
use crate::edge::error::ApiError;
use crate::edge::AppState;
use crate::message::Id;
use crate::metrics::{Connection, Metrics, Transport};

pub async fn channel(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    Query(query): Query<Pairs>,
    headers: HeaderMap,
) -> Result<Response<Body>, ApiError> {
    stream(state, Some(&channel), query, headers).await
}

pub async fn channels(
    State(state): State<AppState>,
    Query(query): Query<Pairs>,
    headers: HeaderMap,
) -> Result<Response<Body>, ApiError> {
    stream(state, None, query, headers).await
}

async fn stream(
    state: AppState,
    path_channel: Option<&str>,
    query: Pairs,
    headers: HeaderMap,
) -> Result<Response<Body>, ApiError> {
    let config = state.hub.config();
    let wanted = Wanted::parse(path_channel, &query, &headers, config)?;
    let feed = wanted.open(&state.hub).await?;
    let retry = format!("retry: {}\n\n", config.reconnect_delay.as_millis());
    let mut keepalive =
        tokio::time::interval_at(Instant::now() + config.keepalive, config.keepalive);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let positions: Vec<(Arc<str>, Id)> = feed.positions().to_vec();
    let metrics = state.hub.metrics().clone();
    let state = Stream {
        _connection: metrics.connection(Transport::Sse),
        metrics,
        feed,
        keepalive,
        pending: VecDeque::from([Bytes::from(retry)]),
        positions: (positions.len() > 1).then_some(positions),
        expires: wanted
            .access
            .expires
            .map(|at| Box::pin(tokio::time::sleep_until(at))),
        gate: Gate::new(),
        coalesce: Coalesce::new(config),
        done: false,
    };
    let body = Body::from_stream(futures_util::stream::unfold(state, |mut s| async move {
        let chunk = s.next().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), s))
    }));
    // hyper keeps the answer's header map for the connection's next
    // request, which a stream never makes: sized for these three headers,
    // it holds 328 bytes less than the default (room for six). CORS
    // headers, when the request has an Origin, make it grow.
    let mut h = HeaderMap::with_capacity(3);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    let mut response = Response::new(body);
    *response.headers_mut() = h;
    Ok(response)
}

struct Stream {
    /// Counts the stream in until the body is dropped.
    _connection: Connection,
    metrics: Arc<Metrics>,
    feed: Feed,
    keepalive: Interval,
    pending: VecDeque<Bytes>,
    /// Each channel's position, for the composite `id:` of a multi-channel
    /// stream; `None` for one channel.
    positions: Option<Vec<(Arc<str>, Id)>>,
    /// Fires when the token that granted a private channel expires.
    expires: Option<Pin<Box<Sleep>>>,
    /// Before the timers.
    gate: Gate,
    /// `push.coalesce`.
    coalesce: Coalesce,
    done: bool,
}

/// Bytes of events handed to hyper at once, at most (then the next batch).
const BATCH: usize = 64 * 1024;

/// The last event of a stream whose token expired.
const EXPIRED: &[u8] =
    b"event: push-expired\ndata: {\"reason\":\"token expired: renew it and reconnect with lastEventId\"}\n\n";

impl Stream {
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                return Some(chunk);
            }
            if self.done {
                return None;
            }
            // The timers are polled only when they woke the task, not on
            // every delivery (see `gate`).
            let (gate, keepalive, expires) =
                (&mut self.gate, &mut self.keepalive, &mut self.expires);
            let timers = std::future::poll_fn(|cx| {
                gate.poll(cx, |cx| {
                    if let Some(sleep) = expires.as_mut() {
                        if sleep.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(true);
                        }
                    }
                    keepalive.poll_tick(cx).map(|_| false)
                })
            });
            // Timers first: behind the gate they cost an atomic swap while
            // quiet, and a feed that is always ready cannot starve them.
            tokio::select! {
                biased;
                expired = timers => {
                    if !expired {
                        return Some(Bytes::from_static(b":\n\n"));
                    }
                    self.done = true;
                    return Some(Bytes::from_static(EXPIRED));
                }
                item = self.feed.recv() => {
                    self.coalesce.before(&self.feed, &item).await;
                    self.batch(item);
                }
            }
        }
    }

    /// Queues `first` and what is already waiting behind it (up to
    /// [`BATCH`] bytes): hyper writes them together.
    fn batch(&mut self, first: Item) {
        let mut bytes = 0;
        let mut item = Some(first);
        while let Some(next) = item.take() {
            let queued = self.pending.len();
            self.push(next);
            bytes += self
                .pending
                .iter()
                .skip(queued)
                .map(Bytes::len)
                .sum::<usize>();
            if self.done {
                break;
            }
            if bytes >= BATCH {
                self.coalesce.wrote(false);
                return;
            }
            item = self.feed.try_recv();
        }
        self.coalesce.wrote(true);
    }

    fn push(&mut self, item: Item) {
        match item {
            Item::Message(p, _budget) => {
                // Handed to hyper now, written with what is pending.
                self.metrics.delivered(Transport::Sse, p.at);
                let frame = p.sse();
                match &mut self.positions {
                    None => self.pending.push_back(frame.whole.clone()),
                    Some(positions) => {
                        if let Some(pos) = positions.iter_mut().find(|(c, _)| *c == p.channel) {
                            pos.1 = p.id;
                        }
                        self.pending
                            .push_back(Bytes::from(format!("id: {}\n", composite(positions))));
                        self.pending.push_back(frame.rest.clone());
                    }
                }
            }
            Item::Lost(channel, lost) => {
                let v = serde_json::json!({
                    "channel": &*channel,
                    "requested": lost.requested.to_string(),
                    "oldest": lost.oldest.map(|id| id.to_string()),
                });
                self.pending
                    .push_back(Bytes::from(format!("event: push-lost\ndata: {v}\n\n")));
            }
            Item::Slow => {
                self.pending.push_back(Bytes::from_static(
                    b"event: push-slow\ndata: {\"reason\":\"slow: reconnect to resume\"}\n\n",
                ));
                self.done = true;
            }
            Item::Closed => self.done = true,
        }
    }
}
