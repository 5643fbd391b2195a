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
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Response};
use bytes::Bytes;

use super::authorization::{authorize, Refused, Role};
use super::metadata::hub_url;
use super::subscriptions::Announced;
use super::topic::{self, Selector};
use super::update::{parse_push_id, View};
use super::LOG;
use crate::edge::error::ApiError;
use crate::edge::transport::events::{EventStream, Events};
use crate::edge::transport::feed::Feed;
use crate::edge::transport::tap::{Frame, Pick, SocketTap};
use crate::edge::transport::Query as Pairs;
use crate::edge::AppState;
use crate::hub::{Cursor, Hub, Lost};
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
    let mut feed = Feed::open(
        vec![sub],
        config.max_queue_bytes,
        config.keepalive,
        state.hub.metrics().clone(),
    );
    let metrics = state.hub.metrics().clone();
    let announced = Announced::start(&state, &selectors, payload).await;
    let selection = Arc::new(Selection {
        topics,
        private,
        last: Mutex::new(requested.map(Arc::from)),
    });
    // The publisher writes the updates this subscriber gets to its socket
    // while the stream waits (`transport/tap`), once the answer is
    // written on the socket.
    let tap = SocketTap::new(
        config,
        metrics.clone(),
        Transport::Sse,
        Frame::Picked(selection.clone()),
    );
    let tapped = feed.tap(tap.clone());
    let subscriber = Subscriber {
        _announced: announced,
        _connection: metrics.connection(Transport::Sse),
        metrics,
        selection,
    };
    let mut stream = EventStream::new(
        subscriber,
        feed,
        Bytes::from_static(b":\n\n"),
        config.mercure_heartbeat,
        expires,
        config,
    );
    if tapped {
        stream = stream.tapped(tap.clone());
    }
    let body = stream.body();
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
    if tapped {
        response.extensions_mut().insert(tap);
    }
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

/// A subscriber's events: the updates its selectors and grants let through.
struct Subscriber {
    /// Its subscriptions, announced while it lasts
    /// (`push.mercure_subscriptions`).
    _announced: Option<Announced>,
    /// Counts the stream in until the body is dropped.
    _connection: Connection,
    metrics: Arc<Metrics>,
    selection: Arc<Selection>,
}

/// What a subscriber gets, decided alike by its stream and by its tap.
#[derive(Debug)]
struct Selection {
    /// The `topic=` selectors.
    topics: Vec<Selector>,
    /// The token's `mercure.subscribe` selectors (private updates).
    private: Vec<Selector>,
    /// The id of the last update sent, by the stream or the tap (or asked
    /// to resume after).
    last: Mutex<Option<Arc<str>>>,
}

impl Selection {
    /// Whether the subscriber gets this update.
    fn wants(&self, update: &View) -> bool {
        topic::any(&self.topics, &update.topics)
            && (!update.private || topic::any(&self.private, &update.topics))
    }

    fn last(&self) -> std::sync::MutexGuard<'_, Option<Arc<str>>> {
        // An id is written whole or not at all.
        self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Pick for Selection {
    /// The update's SSE frame, shared by every subscriber, if this one
    /// gets it; it becomes the last id sent.
    fn pick<'a>(&self, p: &'a Publication) -> Option<&'a Bytes> {
        let update = View::of(p).filter(|u| self.wants(u))?;
        *self.last() = Some(update.id.clone());
        Some(&update.frame)
    }
}

impl Events for Subscriber {
    /// The token expired: the stream ends.
    const EXPIRED: Option<&'static [u8]> = None;

    fn message(&mut self, p: Arc<Publication>, pending: &mut VecDeque<Bytes>) {
        if let Some(frame) = self.selection.pick(&p) {
            self.metrics.delivered(Transport::Sse, p.at);
            pending.push_back(frame.clone());
        }
    }

    fn lost(&mut self, _channel: Arc<str>, _lost: Lost, pending: &mut VecDeque<Bytes>) {
        let last = self.selection.last().clone();
        let v = serde_json::json!({
            "requested": last.as_deref(),
            "reason": "updates after this id are no longer held: what follows starts with the oldest held",
        });
        pending.push_back(Bytes::from(format!("event: push-lost\ndata: {v}\n\n")));
    }
}
