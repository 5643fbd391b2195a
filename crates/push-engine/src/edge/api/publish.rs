//! `POST /publish/{channel}`: publishing from any language, guarded by
//! `push.publish_token` (or, without one, open to loopback peers only).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap};
use axum::Json;
use serde_json::{json, Value};

use crate::edge::body;
use crate::edge::error::ApiError;
use crate::edge::io::Peer;
use crate::edge::transport;
use crate::edge::AppState;
use crate::message::Outgoing;

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
    let max = config.max_message_size;
    let data = body::read(&state, request, max, max).await?;
    let mut msg = Outgoing::new(data);
    if let Some(event) = transport::param(&query, "event") {
        msg = msg.event(event);
    }
    let p = state.hub.send(&channel, msg).await?;
    Ok(Json(
        json!({ "channel": &*p.channel, "id": p.id.to_string() }),
    ))
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
