//! The HTTP edge of `push.listen`: what every request goes through and
//! what it is routed to.
//!
//! - [`listen`]: the accept loop (HTTP/1.1 with bounded request heads),
//!   each connection wrapped by [`io`] (the write-stall guard) and counted
//!   by [`limits`] (per connection and per client address); event streams
//!   and long-polls are answered on the socket itself (`raw`), everything
//!   else by hyper;
//! - [`service`]: the origin check, CORS, and axum's own errors as JSON,
//!   around the router;
//! - [`error`]: the one error type of every handler, mapped to answers;
//! - the router ([`app`]) and what its handlers share ([`AppState`]);
//! - below them, the protocols served on the same port, siblings that know
//!   nothing of each other: push's own browser [`transport`]s (WebSocket,
//!   SSE, long-poll), the HTTP [`api`] (publish, health, readiness,
//!   metrics), the [`pusher`] protocol (on when `push.pusher_key` is
//!   set), which uses the transports' feed and WebSocket pieces, and the
//!   [`mercure`] hub (`push.mercure`).

pub mod api;
pub mod body;
pub mod error;
pub mod io;
pub mod limits;
pub mod listen;
pub mod mercure;
pub mod pusher;
mod raw;
pub mod service;
pub mod transport;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tokio_util::task::TaskTracker;

use crate::hub::Hub;
use error::ApiError;
use limits::Limits;
use service::Edge;
use transport::{poll, sse, ws};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub hub: Hub,
    /// Tasks that outlive their request (upgraded WebSockets), waited for
    /// at shutdown.
    pub tasks: TaskTracker,
    /// What is counted per connection and per client address.
    pub limits: Arc<Limits>,
    /// What the protocol adapters keep, behind one pointer: every
    /// connection holds a clone of this state (`tests/sse_memory.rs`).
    pub adapters: Arc<Adapters>,
}

/// What the protocol adapters keep for the engine's life.
#[derive(Debug, Default)]
pub struct Adapters {
    /// The Mercure hub's active subscriptions.
    pub mercure: Arc<mercure::subscriptions::Registry>,
    /// Pusher webhooks, when `push.pusher_webhook_url` is set.
    pub webhooks: Option<pusher::webhook::Webhooks>,
}

/// The service of `push.listen`: the router behind the origin check, CORS
/// and JSON errors ([`edge`]).
pub fn app(state: AppState) -> Edge {
    let mut router = Router::new();
    if state.hub.config().pusher() {
        router = router
            .route("/app/{key}", get(pusher::connect))
            .route("/apps/{app_id}/events", post(pusher::http::events))
            .route(
                "/apps/{app_id}/batch_events",
                post(pusher::http::batch_events),
            )
            .route("/apps/{app_id}/channels", get(pusher::http::channels))
            .route(
                "/apps/{app_id}/channels/{channel}",
                get(pusher::http::channel),
            )
            .route(
                "/apps/{app_id}/channels/{channel}/users",
                get(pusher::http::users),
            )
            .route(
                "/apps/{app_id}/users/{user_id}/terminate_connections",
                post(pusher::http::terminate),
            )
            .route(
                "/users/{user_id}/terminate_connections",
                post(pusher::http::terminate_unprefixed),
            );
    }
    let router = router
        .route("/", get(ws::root))
        .route("/ws", get(ws::channels))
        .route("/ws/{*channel}", get(ws::channel))
        .route("/sse", get(sse::channels))
        .route("/sse/{*channel}", get(sse::channel))
        .route("/poll/{*channel}", get(poll::poll))
        .route("/publish/{*channel}", post(api::publish::publish))
        .route("/health", get(api::ops::health))
        .route("/ready", get(api::ops::ready))
        .route("/metrics", get(api::ops::metrics));
    mercure::channels::install(&state.hub);
    let router = match state.hub.config().mercure {
        true => router
            .route(
                mercure::PATH,
                get(mercure::subscribe::subscribe).post(mercure::publish::publish),
            )
            .route(
                mercure::subscriptions::SUBSCRIPTIONS,
                get(mercure::subscriptions::list),
            )
            .route(
                "/.well-known/mercure/subscriptions/{topic}",
                get(mercure::subscriptions::list),
            )
            .route(
                "/.well-known/mercure/subscriptions/{topic}/{subscriber}",
                get(mercure::subscriptions::list),
            )
            .route(mercure::metadata::PATH, get(mercure::metadata::document)),
        false => router,
    };
    let router = router
        .fallback(|| async { ApiError::NotFound })
        .with_state(state.clone());
    Edge::new(router, state)
}
