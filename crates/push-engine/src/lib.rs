//! # push-engine
//!
//! The realtime push engine behind the `push` PHP extension. Pure Rust: it
//! knows nothing of PHP and builds and tests with plain `cargo test`.
//!
//! # Layout
//!
//! - [`config`]: every limit, size and timeout, with documented defaults,
//!   parsed as PHP parses INI values.
//! - [`cursors`]: per-process cursors of `push_get_message()`, bounded.
//! - [`error`]: the one error enum.
//! - [`message`]: publications, their ids (epoch + offset), channel and
//!   event name rules.
//! - [`hub`]: channels, history rings, fan-out to subscribers, lag recovery
//!   and loss reporting, collection of idle channels.
//! - [`metrics`]: connections by transport, deliveries and their latency,
//!   slow and stalled connections, queued bytes, broker state and
//!   readiness; the snapshot [`EngineStats`] and the Prometheus text.
//! - [`api`]: the HTTP router served on `push.listen`: CORS and origins,
//!   publish, health, readiness and metrics; one error type mapped to
//!   responses.
//! - [`auth`]: private channels and the signed tokens (HS256 JWT under
//!   `push.secret`) that grant subscribing and publishing; where a browser
//!   puts its token.
//! - [`transport`]: WebSocket, SSE and long-poll as thin adapters over the
//!   hub; cursors (one id, or a composite for several channels) and the
//!   per-connection feed bounded in bytes; the accept loop of
//!   `push.listen` (HTTP/1.1 with bounded request heads, the write-stall
//!   guard) and the limits counted per connection and per client address.
//! - [`server`]: `run(listener, hub, shutdown)`; binds nothing itself.
//! - [`ipc`]: the local socket (`push.socket`) for worker processes: the
//!   frame format, the engine side (tokio) and the worker side (blocking,
//!   no threads).
//! - [`engine`]: a runtime of its own plus the server, driven from a
//!   foreign (PHP) thread; blocking waits in short slices.
//! - [`process`]: living in a forking process: pid-bound values, listeners
//!   closed in children, SIGINT/SIGTERM while serving.

pub mod api;
pub mod auth;
pub mod broker;
pub mod config;
pub mod cursors;
pub mod engine;
pub mod error;
pub mod hub;
pub mod ipc;
pub mod message;
pub mod metrics;
pub mod process;
pub mod server;
pub mod transport;

pub use config::Config;
pub use engine::{Engine, Waited};
pub use error::{Error, Result};
pub use hub::{Cursor, Event, Hub, HubStats, Lost, Subscription};
pub use message::{Id, Outgoing, Publication};
pub use metrics::{BrokerState, EngineStats, Metrics};
