//! The Pusher Channels protocol, version 7 (what `pusher-js` 8 and Laravel
//! Echo 2 speak), over the hub: one more door on `push.listen`, on when
//! `push.pusher_app_id`, `push.pusher_key` and `push.pusher_secret` are set.
//!
//! Split as laravel/reverb splits `Protocols/Pusher` (see docs/pusher.md):
//!
//! - [`frame`]: frames in and out (`{event, channel, data}`), and how a
//!   publication becomes one;
//! - [`channels`]: channel kinds and their auth (`private-`, `presence-`);
//! - [`cache`]: cache channels' last event, replayed on subscribe;
//! - [`session`]: one WebSocket (`GET /app/{key}`): the `pusher:` events,
//!   subscriptions over a changing [`crate::edge::transport::feed::Feed`],
//!   presence through [`crate::hub::presence`]; `subscribe.rs`:
//!   `pusher:subscribe` and `pusher:unsubscribe`; `client_event.rs`:
//!   client events;
//! - [`user`]: user authentication (`pusher:signin`), `#server-to-user-…`
//!   and terminating a user's connections;
//! - [`http`]: the HTTP API `/apps/{app_id}/…` and its signatures;
//! - [`webhook`]: the webhooks, sent once per cluster.
//!
//! The adapter owns no channel state: channels, history, limits and
//! presence are the hub's; a message published by any door reaches Pusher
//! subscribers, and theirs reach every door.
//!
//! Close codes (pusher-js acts on the range): 4001 unknown app key, 4007
//! unsupported protocol version, 4009 a refused signin or the app
//! terminated the user's connections (all: do not reconnect); 4100 over
//! capacity or too slow (reconnect after a while); 4200 the engine is
//! going away, or messages were missed (reconnect at once); 4201 no pong
//! in time; 4301 client events faster than `push.client_publish_rate`.

pub mod cache;
pub mod channels;
mod client_event;
pub mod frame;
pub mod http;
pub mod session;
mod subscribe;
pub mod user;
pub mod webhook;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::Response;
use hyper::upgrade::OnUpgrade;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::edge::error::ApiError;
use crate::edge::limits::OverCapacity;
use crate::edge::transport::deflate;
use crate::edge::transport::wire::{accept_key, switching, WS_CONTROL_QUEUE, WS_READ_CHUNK};
use crate::edge::transport::ws;
use crate::edge::transport::Query as Pairs;
use crate::edge::AppState;
use crate::metrics::Transport;
use session::{Opened, Opening, Session};

pub const CLOSE_UNKNOWN_KEY: u16 = 4001;
pub const CLOSE_PROTOCOL: u16 = 4007;
pub const CLOSE_UNAUTHORIZED: u16 = 4009;
pub const CLOSE_OVER_CAPACITY: u16 = 4100;
pub const CLOSE_RECONNECT: u16 = 4200;
pub const CLOSE_NO_PONG: u16 = 4201;
pub const CLOSE_CLIENT_RATE: u16 = 4301;

/// The protocol version served.
pub const PROTOCOL: &str = "7";

/// The event name a publication without one is delivered with.
pub const DEFAULT_EVENT: &str = "message";

/// This adapter's slots of [`crate::message::Publication::shared_frame`]:
/// a publication's event, and its WebSocket frame, compressed for the
/// connections that negotiated permessage-deflate (`push.ws_compression`)
/// or plain.
pub const FRAME_SLOT: usize = 0;
pub const DEFLATED_SLOT: usize = 3;
pub const PLAIN_SLOT: usize = 6;

/// A connection's socket id, `<process>.<connection>` (`\d+\.\d+`, as
/// Pusher's server libraries check it), and its number in this process.
pub fn socket_id() -> (String, u64) {
    static PROCESS: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let process = *PROCESS.get_or_init(|| {
        // Distinct between engines sharing a broker: the clock's
        // nanoseconds and the pid.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        (nanos ^ (u64::from(std::process::id()) << 20)) % 1_000_000_000
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    (format!("{process}.{n}"), n)
}

/// `GET /app/{key}?protocol=7&client=…&version=…`: a Pusher WebSocket.
/// An unknown key or another protocol version is told on the socket
/// (`pusher:error`, then the close), as pusher-js expects; so is an engine
/// over `push.max_connections` (4100: pusher-js backs off).
pub async fn connect(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<Pairs>,
    mut req: Request,
) -> Result<Response<Body>, ApiError> {
    let accept = accept_key(req.headers())?;
    let config = state.hub.config();
    let protocol = crate::edge::transport::param(&query, "protocol");
    let over = req.extensions().get::<OverCapacity>().copied();
    let opening = if let Some(OverCapacity(max)) = over {
        Opening::Refuse(
            CLOSE_OVER_CAPACITY,
            format!("over capacity: push.max_connections ({max}) are open; try again later"),
        )
    } else if key != config.pusher_key {
        Opening::Refuse(CLOSE_UNKNOWN_KEY, format!("App key {key} does not exist"))
    } else if protocol != Some(PROTOCOL) {
        Opening::Refuse(
            CLOSE_PROTOCOL,
            format!(
                "Unsupported protocol version {}: this server speaks {PROTOCOL}",
                protocol.unwrap_or("(none)")
            ),
        )
    } else {
        Opening::Accept
    };
    // permessage-deflate as on push's own WebSocket: publications from
    // push.ws_compression_min_size on are compressed once for every
    // subscriber; the client's compressed frames are inflated below
    // tungstenite.
    let extension = match opening {
        Opening::Accept if config.ws_compression => deflate::negotiate(req.headers()),
        _ => None,
    };
    let compress = extension
        .is_some()
        .then_some(config.ws_compression_min_size);
    let max_message_size = config.max_message_size + 4096;
    let on_upgrade = req
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or_else(|| ApiError::BadRequest("a WebSocket upgrade needs HTTP/1.1".into()))?;
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(WS_READ_CHUNK)
        .write_buffer_size(8192)
        .max_write_buffer_size(WS_CONTROL_QUEUE)
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size));
    let connection = state.hub.metrics().connection(Transport::Pusher);
    let session = Session::new(state.hub.clone(), state.adapters.webhooks.clone(), compress);
    let ws = ws::Opening {
        on_upgrade,
        compress: compress.is_some(),
        max_message_size,
        ws_config,
        connection,
    };
    state
        .tasks
        .spawn(ws::serve(ws, Opened { session, opening }));
    switching(&accept, extension.as_deref())
}
