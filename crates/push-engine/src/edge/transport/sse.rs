//! Server-Sent Events: `GET /sse/{channel}` and `GET /sse?channel=a&channel=b`.
//!
//! `text/event-stream` with `id:` (the publication id, or a composite
//! cursor when several channels share the stream), `event:` when set, one
//! `data:` line per line of the message (binary data base64-encoded),
//! `retry:`, and a keep-alive comment every `push.keepalive`. Resumes from
//! `Last-Event-ID` (header, as EventSource sends it, or `?lastEventId=`).
//! The stream's body, its batches and timers: `events.rs`.
//! Events of push's own: `push-lost` (messages after the cursor are gone;
//! what follows starts at the oldest held) and `push-slow` (the stream fell
//! more than `push.keepalive` behind, or with several channels kept its
//! `push.max_queue_bytes` queue full as long, and ends; reconnecting
//! resumes) and
//! `push-expired` (the token that granted a private channel expired; the
//! stream ends: renew the token and reconnect with `?lastEventId=`).

use std::collections::VecDeque;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Response};
use bytes::Bytes;

use super::cursor::composite;
use super::events::{EventStream, Events};
use super::tap::{Frame, SocketTap};
use super::{Query as Pairs, Wanted};
use crate::edge::error::ApiError;
use crate::edge::AppState;
use crate::hub::Lost;
use crate::message::{Id, Publication};
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
    let mut feed = wanted.open(&state.hub).await?;
    let retry = format!("retry: {}\n\n", config.reconnect_delay.as_millis());
    let positions: Vec<(Arc<str>, Id)> = feed.positions().to_vec();
    let metrics = state.hub.metrics().clone();
    let events = Sse {
        _connection: metrics.connection(Transport::Sse),
        metrics,
        positions: (positions.len() > 1).then_some(positions),
    };
    // One channel: the publisher writes to the stream's socket while the
    // stream waits (`tap.rs`), once the answer is written on the socket.
    let tap = SocketTap::new(
        config,
        state.hub.metrics().clone(),
        Transport::Sse,
        Frame::Sse,
    );
    let tapped = feed.tap(tap.clone());
    let expires = wanted.access.expires;
    let mut stream = EventStream::new(
        events,
        feed,
        Bytes::from(retry),
        config.keepalive,
        expires,
        config,
    );
    if tapped {
        stream = stream.tapped(tap.clone());
    }
    let body = stream.body();
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
    if tapped {
        response.extensions_mut().insert(tap);
    }
    Ok(response)
}

/// push's own events.
struct Sse {
    /// Counts the stream in until the body is dropped.
    _connection: Connection,
    metrics: Arc<Metrics>,
    /// Each channel's position, for the composite `id:` of a multi-channel
    /// stream; `None` for one channel.
    positions: Option<Vec<(Arc<str>, Id)>>,
}

impl Events for Sse {
    const EXPIRED: Option<&'static [u8]> = Some(
        b"event: push-expired\ndata: {\"reason\":\"token expired: renew it and reconnect with lastEventId\"}\n\n",
    );

    fn message(&mut self, p: Arc<Publication>, pending: &mut VecDeque<Bytes>) {
        // Handed to hyper now, written with what is pending.
        self.metrics.delivered(Transport::Sse, p.at);
        let frame = p.sse();
        match &mut self.positions {
            None => pending.push_back(frame.whole.clone()),
            Some(positions) => {
                if let Some(pos) = positions.iter_mut().find(|(c, _)| *c == p.channel) {
                    pos.1 = p.id;
                }
                pending.push_back(Bytes::from(format!("id: {}\n", composite(positions))));
                pending.push_back(frame.rest.clone());
            }
        }
    }

    fn lost(&mut self, channel: Arc<str>, lost: Lost, pending: &mut VecDeque<Bytes>) {
        let v = serde_json::json!({
            "channel": &*channel,
            "requested": lost.requested.to_string(),
            "oldest": lost.oldest.map(|id| id.to_string()),
        });
        pending.push_back(Bytes::from(format!("event: push-lost\ndata: {v}\n\n")));
    }
}
