//! Every limit, size and timeout of the engine, with its documented default.
//!
//! The table [`SETTINGS`] is the single source: the PHP glue registers one
//! `push.<name>` INI entry per row, `push_server_start()` options use the same
//! names, and [`Config::get`] reads every value back. Values are parsed the
//! way PHP parses its own INI values (`64K`, `8M`, `On`/`yes`/`1`).

use std::time::Duration;

use crate::error::Error;

mod auth;
mod mercure;
mod parse;
mod patterns;
mod pusher;
mod table;

pub use auth::{AuthMode, Secret, MIN_SECRET_LEN};
pub use parse::{parse_bool, parse_quantity};
pub use patterns::Patterns;
pub use table::{SECRET_SETTINGS, SETTINGS};

/// The engine's configuration. Build it with [`Config::default`] and
/// [`Config::set`]; every field has a documented default in [`SETTINGS`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address browsers connect to (`host:port`; port 0 picks a free one).
    pub listen: String,
    /// Path of the local socket that other PHP processes use to reach the engine.
    pub socket: String,
    /// Messages kept per channel for resuming.
    pub history: usize,
    /// Age after which a message leaves the history.
    pub history_ttl: Duration,
    /// Most channels that may exist at once.
    pub max_channels: usize,
    /// Largest message accepted, in bytes.
    pub max_message_size: usize,
    /// Publications buffered per channel for its live subscribers; a
    /// subscriber further behind than this resumes from history or is told
    /// what it lost.
    pub channel_buffer: usize,
    /// Longest time a graceful shutdown may take.
    pub shutdown_timeout: Duration,
    /// Worker threads of the engine's runtime.
    pub threads: usize,
    /// How often idle channels and expired history are collected.
    pub sweep_interval: Duration,
    /// Channel of WebSocket connections to `/` (the tutorial's URL).
    pub default_channel: String,
    /// Channels that WebSocket clients may publish to.
    pub client_publish: Patterns,
    /// Origins allowed to connect from a browser.
    pub allowed_origins: Patterns,
    /// Bearer token required by `POST /publish` (empty: loopback peers only).
    pub publish_token: String,
    /// Most channels one connection may subscribe to.
    pub max_channels_per_connection: usize,
    /// Bytes queued for a connection of several channels before it is
    /// dropped as too slow (one of one channel reads the ring, queuing nothing).
    pub max_queue_bytes: usize,
    /// Interval of SSE keep-alive comments and WebSocket pings; a WebSocket
    /// peer silent for two intervals is dropped.
    pub keepalive: Duration,
    /// A connection written to less than this ago waits until this much
    /// time has passed before its next write (zero: never waits).
    pub coalesce: Duration,
    /// Subscribers of a channel on this engine from which a burst to it is
    /// coalesced; fewer are written at once unless their socket is backed up.
    pub coalesce_subscribers: usize,
    /// Negotiate permessage-deflate on push's WebSockets.
    pub ws_compression: bool,
    /// Messages shorter than this go out uncompressed.
    pub ws_compression_min_size: usize,
    /// Longest wait of one long-poll request.
    pub poll_timeout: Duration,
    /// Delay browsers wait before reconnecting (SSE `retry:`).
    pub reconnect_delay: Duration,
    /// Permissions of the local socket file.
    pub socket_mode: u32,
    /// Group given the local socket file (name or id; empty: unchanged).
    pub socket_group: String,
    /// How long a worker waits to connect to the engine.
    pub connect_timeout: Duration,
    /// How long a worker waits for the engine to answer a request.
    pub io_timeout: Duration,
    /// Channels whose `push_get_message()` cursor a process remembers.
    pub max_cursors: usize,
    /// Where publications are ordered and history is kept: `None` for this
    /// process's memory, or a `redis://host:port/db` URL shared by several
    /// engines.
    pub broker: Option<String>,
    /// Prefix of every Redis key and pub/sub channel, so several apps can
    /// share one Redis.
    pub redis_prefix: String,
    /// Key that signs subscription tokens (HS256); empty: private channels
    /// cannot be used.
    pub secret: Secret,
    /// Channels that need a token to subscribe (and to publish from a
    /// WebSocket).
    pub private_channels: Patterns,
    /// Whether only `private_channels` need a token, or every channel.
    pub auth: AuthMode,
    /// Cookie a browser may carry its token in (empty: none).
    pub auth_cookie: String,
    /// Tolerance on a token's `exp` and `nbf`, for clocks that differ.
    pub token_leeway: Duration,
    /// Longest token accepted, in bytes.
    pub max_token_size: usize,
    /// Most connections open at once on `push.listen`; more are answered
    /// 503 at once, before their request is read.
    pub max_connections: usize,
    /// Most connections open at once from one client address (an IPv6
    /// /64); more are answered 429. Loopback peers are exempt.
    pub max_connections_per_ip: usize,
    /// Largest request head (request line and headers), in bytes; a larger
    /// one is answered 431.
    pub max_header_size: usize,
    /// Longest time a client may take to send a request head (from the
    /// connection's start, or its last answer on a kept-alive connection)
    /// and a `POST /publish` body.
    pub request_timeout: Duration,
    /// Messages per second one WebSocket client may publish, in bursts of
    /// as many; a faster one is closed with 1008.
    pub client_publish_rate: usize,
    /// Most long-polls waiting at once from one client address (an IPv6
    /// /64); more are answered 429. Loopback peers are exempt.
    pub max_poll_waiters_per_ip: usize,
    /// Most connections open at once on the local socket (one per worker
    /// process, kept across requests); more are refused with an error.
    pub max_workers: usize,
    /// A connection on the local socket idle (between requests) for this
    /// long is closed; the worker reconnects by itself on its next call.
    pub socket_idle_timeout: Duration,
    pub pusher_app_id: String,
    pub pusher_key: String,
    pub pusher_secret: Secret,
    /// Whether the Mercure hub is served at `/.well-known/mercure`.
    pub mercure: bool,
    /// Key of Mercure publishers' tokens (empty: `secret`).
    pub mercure_publisher_key: Secret,
    /// Key of Mercure subscribers' tokens (empty: `secret`).
    pub mercure_subscriber_key: Secret,
    /// Whether Mercure subscribers without a token get public updates.
    pub mercure_anonymous: bool,
    /// Interval of the heartbeat comments on Mercure streams.
    pub mercure_heartbeat: Duration,
    /// Mercure updates kept for resuming (one log for the whole hub).
    pub mercure_history: usize,
    /// Age after which a Mercure update leaves the history.
    pub mercure_history_ttl: Duration,
    /// The hub's URL as browsers reach it (`push.mercure_public_url`), for
    /// the discovery `Link`; empty: `http://` and `push.listen`.
    pub mercure_public_url: String,
    /// push's channels and Mercure's topics as one namespace
    /// (`push.mercure_channels`).
    pub mercure_channels: bool,
    /// Subscription events and the subscriptions API
    /// (`push.mercure_subscriptions`).
    pub mercure_subscriptions: bool,
    /// The key `private-encrypted-` channels' shared secrets derive from
    /// (empty: none; [`Config::pusher_master_key`]).
    pub pusher_encryption_master_key: Secret,
    /// The `iss` 1.0 (`at+jwt`) tokens must carry (empty: not checked).
    pub mercure_issuer: String,
    /// The `aud` 1.0 tokens must carry (empty: the hub's URL as the
    /// request names it).
    pub mercure_audience: String,
    /// Origins whose pages may use the hub cross-origin, with credentials
    /// (`None`: `allowed_origins` decides, as for push's own doors).
    pub mercure_cors_origins: Patterns,
    /// With a shared broker: how long the presence members and the
    /// subscriptions of an engine that stopped refreshing them stay
    /// counted (each engine refreshes every third of it).
    pub presence_ttl: Duration,
    /// Where Pusher webhooks go (empty: none), `http://host[:port]/path`.
    pub pusher_webhook_url: String,
    /// Webhook events waiting to be sent, at most.
    pub pusher_webhook_queue: usize,
    /// Attempts after the first for a webhook request that failed.
    pub pusher_webhook_retries: usize,
    /// Longest time one webhook request may take.
    pub pusher_webhook_timeout: Duration,
}

/// One configuration entry: its name (without the `push.` prefix), its
/// default as PHP would write it, and what it means.
#[derive(Debug)]
pub struct Setting {
    pub name: &'static str,
    pub default: &'static str,
    pub doc: &'static str,
    /// The lowest and highest value of a number (a count, a size or
    /// seconds); `None` for a setting that is not a number.
    pub range: Option<(f64, f64)>,
    apply: fn(&mut Config, &str) -> Result<(), String>,
    show: fn(&Config) -> String,
}

impl Default for Config {
    fn default() -> Self {
        let mut config = Config {
            listen: String::new(),
            socket: String::new(),
            history: 0,
            history_ttl: Duration::ZERO,
            max_channels: 0,
            max_message_size: 0,
            channel_buffer: 0,
            shutdown_timeout: Duration::ZERO,
            threads: 0,
            sweep_interval: Duration::ZERO,
            default_channel: String::new(),
            client_publish: Patterns::None,
            allowed_origins: Patterns::All,
            publish_token: String::new(),
            max_channels_per_connection: 0,
            max_queue_bytes: 0,
            keepalive: Duration::ZERO,
            coalesce: Duration::ZERO,
            coalesce_subscribers: 0,
            ws_compression: false,
            ws_compression_min_size: 0,
            poll_timeout: Duration::ZERO,
            reconnect_delay: Duration::ZERO,
            socket_mode: 0,
            socket_group: String::new(),
            connect_timeout: Duration::ZERO,
            io_timeout: Duration::ZERO,
            max_cursors: 0,
            broker: None,
            redis_prefix: String::new(),
            secret: Secret::default(),
            private_channels: Patterns::None,
            auth: AuthMode::Optional,
            auth_cookie: String::new(),
            token_leeway: Duration::ZERO,
            max_token_size: 0,
            max_connections: 0,
            max_connections_per_ip: 0,
            max_header_size: 0,
            request_timeout: Duration::ZERO,
            client_publish_rate: 0,
            max_poll_waiters_per_ip: 0,
            max_workers: 0,
            socket_idle_timeout: Duration::ZERO,
            pusher_app_id: String::new(),
            pusher_key: String::new(),
            pusher_secret: Secret::default(),
            mercure: false,
            mercure_publisher_key: Secret::default(),
            mercure_subscriber_key: Secret::default(),
            mercure_anonymous: false,
            mercure_heartbeat: Duration::ZERO,
            mercure_history: 0,
            mercure_history_ttl: Duration::ZERO,
            mercure_public_url: String::new(),
            mercure_channels: false,
            mercure_subscriptions: false,
            pusher_encryption_master_key: Secret::default(),
            mercure_issuer: String::new(),
            mercure_audience: String::new(),
            mercure_cors_origins: Patterns::None,
            presence_ttl: Duration::ZERO,
            pusher_webhook_url: String::new(),
            pusher_webhook_queue: 0,
            pusher_webhook_retries: 0,
            pusher_webhook_timeout: Duration::ZERO,
        };
        for s in SETTINGS {
            // The defaults are constants checked by a unit test.
            let _ = (s.apply)(&mut config, s.default);
        }
        config
    }
}

impl Config {
    /// Sets one value by name, parsed as PHP parses INI values.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let setting = setting(name).ok_or_else(|| Error::UnknownSetting(name.to_owned()))?;
        (setting.apply)(self, value).map_err(|reason| Error::InvalidSetting {
            name: name.to_owned(),
            value: if SECRET_SETTINGS.contains(&name) {
                "(hidden)".to_owned()
            } else {
                value.to_owned()
            },
            reason,
        })
    }

    /// Checks the settings against each other (each one alone is checked
    /// by [`Config::set`]).
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_queue_bytes < self.max_message_size + 1024 {
            return Err(Error::InvalidSetting {
                name: "max_queue_bytes".into(),
                value: self.max_queue_bytes.to_string(),
                reason: format!(
                    "must exceed push.max_message_size ({}) by at least 1K",
                    self.max_message_size
                ),
            });
        }
        if self.coalesce >= self.keepalive {
            return Err(Error::InvalidSetting {
                name: "coalesce".into(),
                value: parse::show_secs(&self.coalesce),
                reason: format!(
                    "must be shorter than push.keepalive ({})",
                    parse::show_secs(&self.keepalive)
                ),
            });
        }
        if self.auth == AuthMode::Required && self.secret.is_empty() {
            return Err(Error::InvalidSetting {
                name: "auth".into(),
                value: "required".into(),
                reason: "every channel would need a token, and push.secret is not set".into(),
            });
        }
        let pusher = [
            ("pusher_app_id", self.pusher_app_id.is_empty()),
            ("pusher_key", self.pusher_key.is_empty()),
            ("pusher_secret", self.pusher_secret.is_empty()),
        ];
        if let Some((name, _)) = pusher.iter().find(|(_, empty)| *empty) {
            if pusher.iter().any(|(_, empty)| !empty) {
                return Err(Error::InvalidSetting {
                    name: (*name).into(),
                    value: String::new(),
                    reason: "the Pusher protocol needs push.pusher_app_id, push.pusher_key \
                             and push.pusher_secret, all three (or none: off)"
                        .into(),
                });
            }
        }
        if self.mercure && self.mercure_publisher_key().is_empty() {
            return Err(Error::InvalidSetting {
                name: "mercure".into(),
                value: "On".into(),
                reason: "a Mercure hub needs a key for its publishers' tokens: set \
                         push.mercure_publisher_key or push.secret"
                    .into(),
            });
        }
        Ok(())
    }

    /// Whether the Pusher protocol is on (all three `push.pusher_*` set).
    pub fn pusher(&self) -> bool {
        !self.pusher_key.is_empty()
    }

    /// The key of Mercure publishers' tokens: `push.mercure_publisher_key`,
    /// else `push.secret` (empty: none).
    pub fn mercure_publisher_key(&self) -> &Secret {
        if self.mercure_publisher_key.is_empty() {
            &self.secret
        } else {
            &self.mercure_publisher_key
        }
    }

    /// The origins whose pages may use the Mercure hub cross-origin:
    /// `push.mercure_cors_origins`, else `push.allowed_origins`.
    pub fn mercure_origins(&self) -> &Patterns {
        match self.mercure_cors_origins {
            Patterns::None => &self.allowed_origins,
            _ => &self.mercure_cors_origins,
        }
    }

    /// The key of Mercure subscribers' tokens: `push.mercure_subscriber_key`,
    /// else `push.secret` (empty: none).
    pub fn mercure_subscriber_key(&self) -> &Secret {
        if self.mercure_subscriber_key.is_empty() {
            &self.secret
        } else {
            &self.mercure_subscriber_key
        }
    }

    /// Reads one value back in the form [`Config::set`] accepts.
    pub fn get(&self, name: &str) -> Option<String> {
        setting(name).map(|s| (s.show)(self))
    }
}

/// Looks a setting up by name (without the `push.` prefix).
pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests;
