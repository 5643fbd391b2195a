//! `POST /publish/{channel}`: publishing from any language, guarded by
//! `push.publish_token` (or, without one, open to loopback peers only).

use std::net::SocketAddr;

use axum::body::{to_bytes, HttpBody};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap};
use axum::Json;
use serde_json::{json, Value};

use crate::edge::error::ApiError;
use crate::edge::io::Peer;
use crate::edge::transport;
use crate::edge::AppState;
use crate::message::Outgoing;
use crate::metrics::Limit;

/// `POST /publish/{channel}[?event=name]`: the body is the message.
/// Requires `Authorization: Bearer <push.publish_token>`; with no token
/// configured, only loopback peers may publish.
pub async fn publish(
    State(state): State<AppState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    Path(channel): Path<String>,
    Query(query): Query<transport::Query>,
    // Not axum's `HeaderMap`, which copies the headers.
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let config = state.hub.config();
    authorize(&config.publish_token, request.headers(), peer)?;
    let body = request.into_body();
    let max = config.max_message_size;
    // A declared length over the limit is refused before any byte is read.
    if body.size_hint().lower() > max as u64 {
        return Err(ApiError::TooLarge(max));
    }
    let within = config.request_timeout;
    let data = tokio::time::timeout(within, to_bytes(body, max))
        .await
        .map_err(|_| {
            state.hub.metrics().refused(Limit::RequestTimeout);
            ApiError::Timeout(format!(
                "the request body did not arrive within push.request_timeout ({} s)",
                within.as_secs_f64()
            ))
        })?
        .map_err(|e| body_error(&e, max))?;
    let mut msg = Outgoing::new(data);
    if let Some(event) = transport::param(&query, "event") {
        msg = msg.event(event);
    }
    let p = state.hub.send(&channel, msg).await?;
    Ok(Json(
        json!({ "channel": &*p.channel, "id": p.id.to_string() }),
    ))
}

/// A body hyper could not read (bad chunking, cut short) is the client's
/// mistake (400); any other error is the size limit (413).
pub(crate) fn body_error(e: &axum::Error, max: usize) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<hyper::Error>() {
            return ApiError::BadRequest("malformed request body".into());
        }
        source = err.source();
    }
    ApiError::TooLarge(max)
}

pub(crate) fn authorize(
    token: &str,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<(), ApiError> {
    if token.is_empty() {
        return if peer.ip().to_canonical().is_loopback() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "publishing from other hosts needs push.publish_token".into(),
            ))
        };
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim());
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
