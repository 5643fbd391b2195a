//! The HTTP API: health for now (publish and metrics come with the
//! transports).

use axum::{extract::State, routing::get, Json, Router};
use serde_json::{json, Value};

use crate::hub::Hub;

/// The router for `push.listen`. Built without binding anything, so tests
/// can drive it directly.
pub fn app(hub: Hub) -> Router {
    Router::new().route("/health", get(health)).with_state(hub)
}

async fn health(State(hub): State<Hub>) -> Json<Value> {
    let stats = hub.stats();
    Json(json!({ "status": "ok", "channels": stats.channels, "subscribers": stats.subscribers }))
}
