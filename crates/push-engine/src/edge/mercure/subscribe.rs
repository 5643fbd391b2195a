//! `GET /.well-known/mercure?topic=…` (or `?match=…`): a subscriber's stream.
//!
//! `topic` (one or more selectors, at most
//! `push.max_channels_per_connection`: `*`, exact topics, URI templates)
//! chooses the updates; public ones reach every subscriber the hub lets
//! in (anonymous ones with `push.mercure_anonymous`), private ones only a
//! subscriber whose token's `mercure.subscribe` matches one of their
//! topics. The stream opens with a `:` comment (so the headers leave at
//! once), then carries the updates' SSE frames, and a `:` heartbeat every
//! `push.mercure_heartbeat`. It ends when the token expires.
//!
//! The subscription reads the hub-wide log ([`super::LOG`]) through a
//! connection feed of push's own transports: bounded, cut off with a
//! `push-slow` event when it falls `push.keepalive` behind, and told of a
//! loss rather than left with a gap.
//!
//! The 1.0 dialect's matchers (`match`, `matchExact`, `matchURLPattern`)
//! select updates in place of `topic` ([`topic::from_query`]); a request
//! uses one dialect or the other, and its token may be of either.
//!
//! Resuming: `Last-Event-ID` (the header, else `Mercure-Last-Event-ID`,
//! else the `lastEventID` query parameter, else `last_event_id`, else the
//! older `Last-Event-ID` one) continues after that
//! update: a hub id (`urn:push:…`) by its place in the log, a publisher's
//! id by looking it up among the updates the log holds (the newest one
//! bearing it). `earliest` starts with the oldest update held. An id the
//! log no longer holds (or never did) starts with the oldest held too,
//! after a `push-lost` event. The answer's `Last-Event-ID` header names the
//! update the stream continues after, or `earliest`. With a shared broker,
//! an engine whose mirror does not hold the log yet fetches it first, so an
//! id published through any engine resumes on any other.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Response};
use bytes::Bytes;
use tokio::time::{Instant, Interval, Sleep};

use super::authorization::{authorize, Refused, Role};
use super::metadata::hub_url;
use super::subscriptions::Announced;
use super::topic::{self, Selector};
use super::update::{parse_push_id, View};
use super::LOG;
use crate::edge::error::ApiError;
use crate::edge::transport::coalesce::Coalesce;
use crate::edge::transport::feed::{Feed, Item};
use crate::edge::transport::gate::Gate;
use crate::edge::transport::Query as Pairs;
use crate::edge::AppState;
use crate::hub::{Cursor, Hub};
use crate::message::{Id, Publication};
use crate::metrics::{Connection, Metrics, Transport};

/// The cursor of an id the log does not hold: of no epoch, so the hub
/// reports it lost and starts with the oldest update held.
const UNKNOWN: Id = Id {
    epoch: 0,
    offset: 0,
};

pub async fn subscribe(
    State(state): State<AppState>,
    Query(query): Query<Pairs>,
    headers: HeaderMap,
) -> Result<Response<Body>, Refused> {
    let config = state.hub.config();
    let topics = topic::from_query(&query, &hub_url(&headers)).map_err(ApiError::BadRequest)?;
    // What the subscription events and the subscriptions API name it by.
    let selectors: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "topic" || topic::is_match_parameter(k))
        .map(|(_, v)| v.clone())
        .collect();
    if topics.len() > config.max_channels_per_connection {
        return Err(ApiError::BadRequest(format!(
            "{} topics asked, push.max_channels_per_connection is {}",
            topics.len(),
            config.max_channels_per_connection
        ))
        .into());
    }
    let grants = authorize(config, &headers, &query, Role::Subscriber)?;
    if grants.is_none() && !config.mercure_anonymous {
        return Err(Refused::missing(
            "a subscriber token is required (Authorization: Bearer, a cookie, \
             or ?access_token=): push.mercure_anonymous is Off",
            &headers,
        ));
    }
    let mut header = None;
    for name in ["last-event-id", "mercure-last-event-id"] {
        if let Some(v) = headers.get(name) {
            header = Some(
                v.to_str()
                    .map_err(|_| ApiError::BadRequest(format!("{name} is not visible ASCII")))?,
            );
            break;
        }
    }
    let param = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let requested = header
        .or_else(|| param("lastEventID"))
        .or_else(|| param("last_event_id"))
        .or_else(|| param("Last-Event-ID"))
        .filter(|s| !s.is_empty());
    let hub = &state.hub;
    hub.keep_history(LOG, config.mercure_history, config.mercure_history_ttl)?;
    if hub.broker().is_some() && requested.is_some() {
        // A mirror of a shared broker may not hold the log yet: a first
        // subscription fetches what the broker holds of it, so that the
        // id can be found there.
        drop(hub.join_reserved(LOG, Cursor::After(UNKNOWN)).await?);
    }
    let (private, expires, payload) = match grants {
        Some(g) => (g.subscribe, g.expires, g.payload),
        None => (Vec::new(), None, None),
    };
    let (cursor, after) = start(hub, requested, &private);
    let sub = hub.join_reserved(LOG, cursor).await?;
    let feed = Feed::open(
        vec![sub],
        config.max_queue_bytes,
        config.keepalive,
        state.hub.metrics().clone(),
    );
    let every = config.mercure_heartbeat;
    let mut heartbeat = tokio::time::interval_at(Instant::now() + every, every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let metrics = state.hub.metrics().clone();
    let announced = Announced::start(&state, &selectors, payload).await;
    let stream = Stream {
        _announced: announced,
        _connection: metrics.connection(Transport::Sse),
        metrics,
        feed,
        heartbeat,
        pending: VecDeque::from([Bytes::from_static(b":\n\n")]),
        expires: expires.map(|at| Box::pin(tokio::time::sleep_until(at))),
        gate: Gate::new(),
        coalesce: Coalesce::new(config),
        done: false,
        topics,
        private,
        last: requested.map(Arc::from),
    };
    let body = Body::from_stream(futures_util::stream::unfold(stream, |mut s| async move {
        let chunk = s.next().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), s))
    }));
    let mut h = HeaderMap::with_capacity(4);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, must-revalidate, max-age=0"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    let after = HeaderValue::from_str(&after).unwrap_or(HeaderValue::from_static("earliest"));
    h.insert("last-event-id", after);
    let mut response = Response::new(body);
    *response.headers_mut() = h;
    Ok(response)
}

/// Where a subscription starts in the log, and the update it continues
/// after (its Mercure id, or `earliest`). Without an id asked for, that is
/// the newest update only if the subscriber may read it (public, or its
/// topics granted by `private`): the header never names an update the
/// subscriber could not receive (draft-08, "Reconciliation").
fn start(hub: &Hub, requested: Option<&str>, private: &[Selector]) -> (Cursor, String) {
    let earliest = || "earliest".to_owned();
    let Some((last, held)) = hub.history(LOG) else {
        // No update yet: from the first one; an id asked for is unknown.
        return match requested {
            None | Some("earliest") => (Cursor::Live, earliest()),
            Some(_) => (Cursor::After(UNKNOWN), earliest()),
        };
    };
    let oldest = held.first().map(|p| p.id);
    match requested {
        None => {
            let newest = held
                .last()
                .and_then(|p| View::of(p))
                .filter(|v| !v.private || topic::any(private, &v.topics))
                .map(|v| v.id.to_string());
            (Cursor::Live, newest.unwrap_or_else(earliest))
        }
        Some("earliest") => {
            let before = oldest.map_or(last, |o| Id {
                epoch: o.epoch,
                offset: o.offset - 1,
            });
            (Cursor::After(before), earliest())
        }
        Some(id) => {
            let at = match parse_push_id(id) {
                // Continuous: the newest, or one the log holds (or the one
                // just before the oldest held).
                Some(at) => (at.epoch == last.epoch
                    && at.offset <= last.offset
                    && oldest.map_or(at.offset == last.offset, |o| at.offset + 1 >= o.offset))
                .then_some(at),
                None => held
                    .iter()
                    .rev()
                    .find(|p| View::of(p).is_some_and(|v| &*v.id == id))
                    .map(|p| p.id),
            };
            match at {
                Some(at) => (Cursor::After(at), id.to_owned()),
                None => (Cursor::After(UNKNOWN), earliest()),
            }
        }
    }
}

/// The id of the newest update the log holds, if any.
fn newest(held: &[Arc<Publication>]) -> Option<String> {
    held.last()
        .and_then(|p| View::of(p))
        .map(|v| v.id.to_string())
}

/// The id of the newest update the log holds, or `earliest`.
pub fn newest_id(hub: &Hub) -> String {
    hub.history(LOG)
        .and_then(|(_, held)| newest(&held))
        .unwrap_or_else(|| "earliest".to_owned())
}

struct Stream {
    /// Its subscriptions, announced while it lasts
    /// (`push.mercure_subscriptions`).
    _announced: Option<Announced>,
    /// Counts the stream in until the body is dropped.
    _connection: Connection,
    metrics: Arc<Metrics>,
    feed: Feed,
    heartbeat: Interval,
    pending: VecDeque<Bytes>,
    /// Fires when the subscriber's token expires.
    expires: Option<Pin<Box<Sleep>>>,
    /// Before the timers.
    gate: Gate,
    /// `push.coalesce`.
    coalesce: Coalesce,
    done: bool,
    /// The `topic=` selectors.
    topics: Vec<Selector>,
    /// The token's `mercure.subscribe` selectors (private updates).
    private: Vec<Selector>,
    /// The id of the last update sent (or asked to resume after).
    last: Option<Arc<str>>,
}

/// Bytes of events handed to hyper at once, at most (then the next batch).
const BATCH: usize = 64 * 1024;

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
            let (gate, heartbeat, expires) =
                (&mut self.gate, &mut self.heartbeat, &mut self.expires);
            let timers = std::future::poll_fn(|cx| {
                gate.poll(cx, |cx| {
                    if let Some(sleep) = expires.as_mut() {
                        if sleep.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(true);
                        }
                    }
                    heartbeat.poll_tick(cx).map(|_| false)
                })
            });
            tokio::select! {
                biased;
                expired = timers => {
                    if expired {
                        // The token expired: the stream ends.
                        return None;
                    }
                    return Some(Bytes::from_static(b":\n\n"));
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
            bytes += self.push(next);
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

    /// Whether the subscriber gets this update.
    fn wants(&self, update: &View) -> bool {
        topic::any(&self.topics, &update.topics)
            && (!update.private || topic::any(&self.private, &update.topics))
    }

    /// Queues what `item` means for this subscriber; returns the bytes queued.
    fn push(&mut self, item: Item) -> usize {
        let chunk = match item {
            Item::Message(p, _budget) => match View::of(&p) {
                Some(update) if self.wants(update) => {
                    self.metrics.delivered(Transport::Sse, p.at);
                    self.last = Some(update.id.clone());
                    update.frame.clone()
                }
                _ => return 0,
            },
            Item::Lost(..) => {
                let v = serde_json::json!({
                    "requested": self.last.as_deref(),
                    "reason": "updates after this id are no longer held: what follows starts with the oldest held",
                });
                Bytes::from(format!("event: push-lost\ndata: {v}\n\n"))
            }
            Item::Slow => {
                self.done = true;
                Bytes::from_static(
                    b"event: push-slow\ndata: {\"reason\":\"slow: reconnect to resume\"}\n\n",
                )
            }
            Item::Closed => {
                self.done = true;
                return 0;
            }
        };
        let n = chunk.len();
        self.pending.push_back(chunk);
        n
    }
}
