//! Long-poll: `GET /poll/{channel}?since=ID&timeout=S`.
//!
//! Answers at once with the messages after `since`; else waits up to
//! `timeout` seconds (at most `push.poll_timeout`) for the next one. Without
//! `since` it waits for the next publication. The answer:
//!
//! ```json
//! {"channel":"news","cursor":"…","lost":false,"messages":[{"channel":"news","id":"…","event":null,"data":"…"}]}
//! ```
//!
//! A private channel needs a token (see [`crate::auth`]), checked when the
//! request arrives; the wait ends no later than the token's expiry.
//!
//! `cursor` is the `since` of the next request (unchanged after an empty
//! answer). `lost: true` says messages after `since` are gone and
//! `messages` starts at the oldest held.
//!
//! A poll that would wait while `push.max_poll_waiters_per_ip` others from
//! the same client address wait is answered 429 (loopback exempt).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderValue, Response};
use tokio::time::Instant;

use super::Query as Pairs;
use crate::auth;
use crate::edge::error::ApiError;
use crate::edge::io::Peer;
use crate::edge::AppState;
use crate::hub::{Cursor, Event};
use crate::message::{validate_channel, Id};
use crate::metrics::{Batch, Transport};

pub async fn poll(
    State(state): State<AppState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    Path(channel): Path<String>,
    Query(query): Query<Pairs>,
    // The request itself, not a `HeaderMap`: that extractor copies the
    // headers, on every poll.
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let config = state.hub.config();
    validate_channel(channel.as_bytes())?;
    let access = auth::subscribe(config, [channel.as_str()], &query, request.headers())?;
    // Not held while the poll waits.
    drop(request);
    let since = match super::param(&query, "since").filter(|s| !s.is_empty()) {
        Some(s) => Some(s.parse::<Id>()?),
        None => None,
    };
    let wait = wait_time(super::param(&query, "timeout"), config.poll_timeout)?;
    // An answer is never sent after the token expires.
    let wait = access.expires.map_or(wait, |at| {
        wait.min(at.saturating_duration_since(Instant::now()))
    });
    let mut sub = state
        .hub
        .join(&channel, since.map_or(Cursor::Live, Cursor::After))
        .await?;
    let budget = config.max_queue_bytes;
    let mut messages = Vec::new();
    let mut bytes = 0;
    let mut lost = false;
    let mut take = |event: Event, messages: &mut Vec<_>| match event {
        Event::Message(p) => {
            bytes += p.data.len();
            messages.push(p);
            bytes < budget
        }
        Event::Lost(_) => {
            lost = true;
            true
        }
        Event::Closed => false,
    };
    let mut more = true;
    while more {
        match sub.try_recv() {
            Some(event) => more = take(event, &mut messages),
            None => break,
        }
    }
    if messages.is_empty() && more {
        // Only a poll that waits counts towards push.max_poll_waiters_per_ip.
        let _waiter = match wait.is_zero() {
            true => None,
            false => Some(state.limits.poll_waiter(peer.ip()).ok_or_else(|| {
                ApiError::TooMany(format!(
                    "too many long-polls waiting from this address: push.max_poll_waiters_per_ip is {}",
                    state.limits.max_poll_waiters_per_ip()
                ))
            })?),
        };
        let _waiting = state.hub.metrics().connection(Transport::Poll);
        if let Ok(event) = tokio::time::timeout(wait, sub.recv()).await {
            if take(event, &mut messages) {
                while let Some(event) = sub.try_recv() {
                    if !take(event, &mut messages) {
                        break;
                    }
                }
            }
        }
    }
    let cursor = messages.last().map_or(sub.position(), |p| p.id);
    let mut body = format!(
        "{{\"channel\":{},\"cursor\":\"{cursor}\",\"lost\":{lost},\"messages\":[",
        serde_json::Value::from(channel.as_str())
    )
    .into_bytes();
    for (i, p) in messages.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(p.json());
    }
    body.extend_from_slice(b"]}");
    let mut delivered = Batch::new(Transport::Poll);
    for p in &messages {
        delivered.add(p.at);
    }
    state.hub.metrics().record(&delivered);
    let mut response = Response::new(Body::from(body));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The wait a `timeout` parameter asks for: a number of seconds, at most
/// `max`; without one, `max`.
pub fn wait_time(timeout: Option<&str>, max: Duration) -> Result<Duration, ApiError> {
    let Some(t) = timeout else {
        return Ok(max);
    };
    let secs: f64 = t
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| {
            ApiError::BadRequest(format!("timeout must be a number of seconds, not {t:?}"))
        })?;
    Ok(Duration::from_secs_f64(secs.min(max.as_secs_f64())))
}
