//! The HTTP side of `push.listen`: the router (behind the origin check and
//! CORS of [`edge`]), `POST /publish`, `GET /health`; `GET /ready` and `GET /metrics` are in
//! [`ops`]. The transports live in [`crate::transport`].

pub mod edge;
pub mod error;
pub mod ops;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{to_bytes, HttpBody};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio_util::task::TaskTracker;

use crate::hub::Hub;
use crate::message::Outgoing;
use crate::metrics::Limit;
use crate::transport::io::Peer;
use crate::transport::limits::Limits;
use crate::transport::{self, poll, sse, ws};
use edge::Edge;
use error::ApiError;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub hub: Hub,
    /// Tasks that outlive their request (upgraded WebSockets), waited for
    /// at shutdown.
    pub tasks: TaskTracker,
    /// What is counted per connection and per client address.
    pub limits: Arc<Limits>,
}

/// The service of `push.listen`: the router behind the origin check, CORS
/// and JSON errors ([`edge`]).
pub fn app(state: AppState) -> Edge {
    let router = Router::new()
        .route("/", get(ws::root))
        .route("/ws", get(ws::channels))
        .route("/ws/{*channel}", get(ws::channel))
        .route("/sse", get(sse::channels))
        .route("/sse/{*channel}", get(sse::channel))
        .route("/poll/{*channel}", get(poll::poll))
        .route("/publish/{*channel}", post(publish))
        .route("/health", get(health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .fallback(|| async { ApiError::NotFound })
        .with_state(state.clone());
    Edge::new(router, state)
}

async fn health(State(state): State<AppState>) -> Json<Value> {
    let stats = state.hub.stats();
    Json(json!({ "status": "ok", "channels": stats.channels, "subscribers": stats.subscribers }))
}

/// `POST /publish/{channel}[?event=name]`: the body is the message.
/// Requires `Authorization: Bearer <push.publish_token>`; with no token
/// configured, only loopback peers may publish.
async fn publish(
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
fn body_error(e: &axum::Error, max: usize) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<hyper::Error>() {
            return ApiError::BadRequest("malformed request body".into());
        }
        source = err.source();
    }
    ApiError::TooLarge(max)
}

fn authorize(token: &str, headers: &HeaderMap, peer: SocketAddr) -> Result<(), ApiError> {
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
