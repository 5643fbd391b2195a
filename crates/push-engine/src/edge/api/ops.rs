//! What operators and load balancers ask: `GET /health` (liveness) and
//! `GET /ready` (open to all, as probes expect), and `GET /metrics`
//! (loopback peers, or any peer with `Authorization: Bearer
//! <push.publish_token>` when a token is set).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use crate::edge::error::ApiError;
use crate::edge::io::Peer;
use crate::edge::AppState;
use crate::metrics::{prometheus, BrokerState};

/// The body of `GET /ready`, in this order.
#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    broker: BrokerState,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// `GET /health`: 200 while the engine runs, with its channel and
/// subscriber counts.
pub async fn health(State(state): State<AppState>) -> Json<Value> {
    let stats = state.hub.stats();
    Json(json!({ "status": "ok", "channels": stats.channels, "subscribers": stats.subscribers }))
}

/// `GET /ready`: 200 `{"status":"ready","broker":…}` when the engine takes
/// traffic, else 503 `{"status":"not ready","broker":…,"reason":…}`.
pub async fn ready(State(state): State<AppState>) -> Response {
    let hub = &state.hub;
    let stats = hub.engine_stats();
    let (status, body) = if stats.ready {
        let body = Readiness {
            status: "ready",
            broker: stats.broker,
            reason: None,
        };
        (StatusCode::OK, body)
    } else {
        let reason = if hub.is_closed() {
            "shutting down"
        } else if stats.broker == BrokerState::Connected {
            "broker subscriptions are not current yet"
        } else {
            "broker disconnected"
        };
        let body = Readiness {
            status: "not ready",
            broker: stats.broker,
            reason: Some(reason),
        };
        (StatusCode::SERVICE_UNAVAILABLE, body)
    };
    let mut response = (status, Json(body)).into_response();
    no_store(&mut response);
    response
}

/// `GET /metrics`: Prometheus text format 0.0.4.
pub async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    may_scrape(&state.hub.config().publish_token, &headers, peer)?;
    let stats = state.hub.engine_stats();
    let mut response = prometheus::render(&stats, state.hub.metrics()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(prometheus::CONTENT_TYPE),
    );
    no_store(&mut response);
    Ok(response)
}

/// Loopback peers may scrape; other hosts need the publish token, and
/// none may when no token is set.
fn may_scrape(token: &str, headers: &HeaderMap, peer: SocketAddr) -> Result<(), ApiError> {
    if peer.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    if token.is_empty() {
        return Err(ApiError::Forbidden(
            "metrics for other hosts need push.publish_token (sent as a bearer token)".into(),
        ));
    }
    super::publish::authorize(token, headers, peer)
}

fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
