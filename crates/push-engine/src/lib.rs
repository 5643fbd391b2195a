//! # push-engine
//!
//! The realtime push engine behind the `push` PHP extension. Pure Rust: it
//! knows nothing of PHP and builds and tests with plain `cargo test`.
//!
//! # Layout
//!
//! Listed bottom-up: each module uses only modules listed before it,
//! so the graph of top-level modules has no cycle (`tests/layout.rs`
//! checks it; `docs/layout.md` draws it).
//!
//! - [`error`]: the one error enum.
//! - [`process`]: living in a forking process: pid-bound values, listeners
//!   closed in children, SIGINT/SIGTERM while serving.
//! - [`message`]: publications, their ids (epoch + offset), channel and
//!   event name rules.
//! - [`config`]: every limit, size and timeout, with documented defaults,
//!   parsed as PHP parses INI values (the settings table is
//!   `config/table.rs`).
//! - [`cursors`]: per-process cursors of `push_get_message()`, bounded.
//! - [`metrics`]: a recorder the others write to (connections by
//!   transport, deliveries and their latency, slow and stalled
//!   connections, queued bytes, broker state and readiness); the snapshot
//!   [`EngineStats`] and the Prometheus text. It reads nobody.
//! - [`auth`]: private channels and the signed tokens (HS256 JWT under
//!   `push.secret`) that grant subscribing and publishing; where a browser
//!   puts its token. Protocol adapters map their own auth onto its grants.
//! - [`hub`]: channels, history rings, fan-out to subscribers, lag recovery
//!   and loss reporting, collection of idle channels; presence (who is on
//!   a channel, [`hub::presence`]) and occupancy, cluster-wide through the
//!   broker, with the transitions each engine observes ([`hub::Activity`]);
//!   the [`hub::Broker`] trait, its view of a shared broker.
//! - [`wait`]: a blocking wait from a foreign (PHP) thread: its outcome and
//!   where its cursor goes next.
//! - [`broker`]: the Redis implementation of [`hub::Broker`] (publications
//!   and history; presence, occupancy and engines' liveness).
//! - [`edge`]: the HTTP side of `push.listen`: the accept loop and its
//!   limits, the origin check and CORS, the router and its shared state,
//!   the error answers; below it, the protocols served there, siblings that
//!   know nothing of each other — push's browser transports
//!   ([`edge::transport`]: WebSocket, SSE, long-poll), its HTTP API
//!   ([`edge::api`]: publish, health, readiness, metrics) — and the
//!   protocol adapters ([`edge::pusher`]: Pusher Channels 7 and its
//!   webhooks, which uses the transports' feed and WebSocket framing; [`edge::mercure`]: a Mercure hub, `push.mercure`).
//! - [`ipc`]: the local socket (`push.socket`) for worker processes: the
//!   frame format, the engine side (tokio) and the worker side (blocking,
//!   no threads).
//! - [`server`]: `run(listener, hub, shutdown)`; binds nothing itself.
//! - [`engine`]: a runtime of its own plus the server and the local socket,
//!   driven from a foreign (PHP) thread; blocking waits in short slices.

pub mod auth;
pub mod broker;
pub mod config;
pub mod cursors;
pub mod edge;
pub mod engine;
pub mod error;
pub mod hub;
pub mod ipc;
pub mod message;
pub mod metrics;
pub mod process;
pub mod server;
pub mod wait;

pub use config::Config;
pub use engine::Engine;
pub use error::{Error, Result};
pub use hub::{Cursor, Event, Hub, Lost, Subscription};
pub use message::{Id, Outgoing, Publication};
pub use metrics::{BrokerState, EngineStats, HubStats, Metrics};
pub use wait::Waited;
