//! The table of settings: every `push.<name>`, its default, what it means,
//! how it is parsed and shown. New settings go at the end (`php --ri push`
//! and the tests list them in this order).

use super::auth::parse_cookie_name;
use super::mercure::parse_identifier;
use super::parse::*;
use super::pusher::{parse_app_id, parse_key, parse_master_key, parse_webhook_url};
use super::{AuthMode, Patterns, Secret, Setting};

fn parse_switch(v: &str) -> Result<bool, String> {
    Ok(parse_bool(v))
}

fn show_switch(b: &bool) -> String {
    if *b { "On" } else { "Off" }.into()
}

macro_rules! setting {
    // A whole number (`100`, `64K`) from $min to $max.
    ($name:ident, $default:expr, $doc:expr, count($min:expr, $max:expr)) => {
        Setting {
            name: stringify!($name),
            default: $default,
            doc: $doc,
            apply: |c, v| {
                c.$name = parse_range(v, $min, $max)?;
                Ok(())
            },
            show: |c| show_usize(&c.$name),
            range: Some(($min as f64, $max as f64)),
        }
    };
    // Seconds (`1.5`) from $min to $max.
    ($name:ident, $default:expr, $doc:expr, secs($min:expr, $max:expr)) => {
        Setting {
            name: stringify!($name),
            default: $default,
            doc: $doc,
            apply: |c, v| {
                c.$name = parse_secs_range(v, $min, $max)?;
                Ok(())
            },
            show: |c| show_secs(&c.$name),
            range: Some(($min, $max)),
        }
    };
    ($name:ident, $default:expr, $doc:expr, $parse:expr, $show:expr) => {
        Setting {
            name: stringify!($name),
            default: $default,
            doc: $doc,
            apply: |c, v| {
                c.$name = $parse(v)?;
                Ok(())
            },
            show: |c| $show(&c.$name),
            range: None,
        }
    };
}

/// The most seconds any duration setting takes.
const MAX_SECS: f64 = 1e9;
/// The most of any count whose memory grows with it only as it is used
/// (connections, cursors, rates).
const MAX_COUNT: usize = 1_000_000;

/// Every setting, in the order `php --ri push` shows them.
pub const SETTINGS: &[Setting] = &[
    setting!(
        listen,
        "127.0.0.1:8080",
        "address for browsers (host:port)",
        parse_addr,
        show_str
    ),
    setting!(
        socket,
        "/tmp/push.sock",
        "local socket for PHP workers",
        parse_path,
        show_str
    ),
    setting!(
        history,
        "100",
        "messages kept per channel for resuming",
        count(0, MAX_COUNT)
    ),
    setting!(
        history_ttl,
        "300",
        "seconds a message stays in history",
        secs(0.0, MAX_SECS)
    ),
    setting!(
        max_channels,
        "1000000",
        "most channels at once",
        count(1, 100_000_000)
    ),
    setting!(
        max_message_size,
        "64K",
        "largest message in bytes",
        count(1, 1 << 30)
    ),
    setting!(
        channel_buffer,
        "256",
        "live publications buffered per channel",
        count(1, 65_536)
    ),
    setting!(
        shutdown_timeout,
        "5",
        "seconds a graceful shutdown may take",
        secs(0.0, MAX_SECS)
    ),
    setting!(
        threads,
        "2",
        "worker threads of the engine runtime",
        count(1, 256)
    ),
    setting!(
        sweep_interval,
        "5",
        "seconds between idle-channel collections",
        secs(0.01, MAX_SECS)
    ),
    setting!(
        default_channel,
        "default",
        "channel of WebSocket connections to /",
        parse_channel,
        show_str
    ),
    setting!(
        client_publish,
        "Off",
        "channels WebSocket clients may publish to (Off, On, or a list)",
        Patterns::parse,
        Patterns::show
    ),
    setting!(
        allowed_origins,
        "*",
        "origins browsers may connect from (*, or a list)",
        Patterns::parse,
        Patterns::show
    ),
    setting!(
        publish_token,
        "",
        "bearer token for POST /publish (empty: loopback only)",
        parse_token,
        show_str
    ),
    setting!(
        max_channels_per_connection,
        "64",
        "most channels per connection",
        count(1, 65_536)
    ),
    setting!(
        max_queue_bytes,
        "1M",
        "bytes queued per connection before it is dropped as slow",
        count(1, 1 << 30)
    ),
    setting!(
        keepalive,
        "15",
        "seconds between keep-alives (SSE comments, WebSocket pings)",
        secs(0.01, MAX_SECS)
    ),
    setting!(
        coalesce,
        "0.01",
        "seconds a connection written to this recently waits before its next write (0: never)",
        secs(0.0, 1.0)
    ),
    setting!(
        coalesce_subscribers,
        "32",
        "subscribers of a channel on this engine from which bursts to it are coalesced (a connection whose socket is backed up always is)",
        count(1, 1_000_000)
    ),
    setting!(
        ws_compression,
        "On",
        "negotiate permessage-deflate on WebSockets: each publication compressed once, for every subscriber",
        parse_switch,
        show_switch
    ),
    setting!(
        ws_compression_min_size,
        "256",
        "bytes below which WebSocket messages go out uncompressed",
        count(0, 1 << 24)
    ),
    setting!(
        poll_timeout,
        "30",
        "longest long-poll wait in seconds",
        secs(0.01, MAX_SECS)
    ),
    setting!(
        reconnect_delay,
        "2",
        "seconds browsers wait before reconnecting (SSE retry)",
        secs(0.0, MAX_SECS)
    ),
    setting!(
        socket_mode,
        "0660",
        "permissions of the local socket (octal)",
        parse_mode,
        show_mode
    ),
    setting!(
        socket_group,
        "",
        "group of the local socket (empty: unchanged)",
        parse_group,
        show_str
    ),
    setting!(
        connect_timeout,
        "1",
        "seconds a worker waits to connect to the engine",
        secs(0.01, MAX_SECS)
    ),
    setting!(
        io_timeout,
        "5",
        "seconds a worker waits for the engine to answer",
        secs(0.01, MAX_SECS)
    ),
    setting!(
        max_cursors,
        "1024",
        "channels whose push_get_message() cursor a process remembers",
        count(1, MAX_COUNT)
    ),
    setting!(
        broker,
        "memory",
        "memory, or redis://host:port/db to share channels between engines",
        parse_broker,
        show_broker
    ),
    setting!(
        redis_prefix,
        "push",
        "prefix of Redis keys and channels (one per app)",
        parse_prefix,
        show_str
    ),
    setting!(
        secret,
        "",
        "HS256 key of subscription tokens, 32 bytes or more (empty: no private channels)",
        Secret::parse,
        Secret::show
    ),
    setting!(
        private_channels,
        "",
        "channels that need a token (names and prefix* patterns)",
        Patterns::parse,
        Patterns::show
    ),
    setting!(
        auth,
        "optional",
        "optional (only private channels need a token) or required (every channel)",
        AuthMode::parse,
        AuthMode::show
    ),
    setting!(
        auth_cookie,
        "push_token",
        "cookie that may carry a browser's token (empty: none)",
        parse_cookie_name,
        show_str
    ),
    setting!(
        token_leeway,
        "5",
        "seconds of tolerance on a token's exp and nbf",
        secs(0.0, 300.0)
    ),
    setting!(
        max_token_size,
        "4K",
        "longest token accepted, in bytes",
        count(256, 65_536)
    ),
    setting!(
        max_connections,
        "10000",
        "most open connections on push.listen (more: 503)",
        count(1, MAX_COUNT)
    ),
    setting!(
        max_connections_per_ip,
        "256",
        "most open connections from one address, loopback exempt (more: 429)",
        count(1, MAX_COUNT)
    ),
    setting!(
        max_header_size,
        "16K",
        "largest request head in bytes (larger: 431)",
        count(1 << 10, 256 << 10)
    ),
    setting!(
        request_timeout,
        "10",
        "seconds a client may take to send a request head or POST body",
        secs(0.01, MAX_SECS)
    ),
    setting!(
        client_publish_rate,
        "20",
        "messages per second a WebSocket client may publish (more: close 1008)",
        count(1, MAX_COUNT)
    ),
    setting!(
        max_poll_waiters_per_ip,
        "64",
        "long-polls waiting at once from one address, loopback exempt (more: 429)",
        count(1, MAX_COUNT)
    ),
    setting!(
        max_workers,
        "1024",
        "most connections on push.socket at once (more: refused with an error)",
        count(1, MAX_COUNT)
    ),
    setting!(
        socket_idle_timeout,
        "300",
        "seconds a connection on push.socket may stay idle before the engine closes it",
        secs(0.01, MAX_SECS)
    ),
    setting!(
        pusher_app_id,
        "",
        "Pusher protocol: the app id of /apps/{id}/ (empty: the protocol is off)",
        parse_app_id,
        show_str
    ),
    setting!(
        pusher_key,
        "",
        "Pusher protocol: the app key browsers connect with, /app/{key}",
        parse_key,
        show_str
    ),
    setting!(
        pusher_secret,
        "",
        "Pusher protocol: the app secret that signs channel auth and the HTTP API",
        Secret::parse_any,
        Secret::show
    ),
    setting!(
        mercure,
        "Off",
        "serve a Mercure hub at /.well-known/mercure on push.listen",
        parse_switch,
        show_switch
    ),
    setting!(
        mercure_publisher_key,
        "",
        "HS256 key of Mercure publishers' tokens, 32 bytes or more (empty: push.secret)",
        Secret::parse,
        Secret::show
    ),
    setting!(
        mercure_subscriber_key,
        "",
        "HS256 key of Mercure subscribers' tokens, 32 bytes or more (empty: push.secret)",
        Secret::parse,
        Secret::show
    ),
    setting!(
        mercure_anonymous,
        "Off",
        "Mercure subscribers without a token get public updates",
        parse_switch,
        show_switch
    ),
    setting!(
        mercure_heartbeat,
        "40",
        "seconds between heartbeat comments on Mercure streams",
        secs(0.01, MAX_SECS)
    ),
    setting!(
        mercure_history,
        "1000",
        "Mercure updates kept for resuming, hub-wide",
        count(0, MAX_COUNT)
    ),
    setting!(
        mercure_history_ttl,
        "3600",
        "seconds a Mercure update stays in history",
        secs(0.0, MAX_SECS)
    ),
    setting!(
        mercure_public_url,
        "",
        "the Mercure hub's URL as browsers reach it, for push_mercure_link() (empty: http:// and push.listen)",
        parse_http_url,
        show_str
    ),
    setting!(
        mercure_channels,
        "Off",
        "push's channels and Mercure's topics are one: a publication on channel C is also a Mercure update of topic C, and a public update is also published on its topics that are channel names",
        parse_switch,
        show_switch
    ),
    setting!(
        mercure_subscriptions,
        "Off",
        "Mercure subscription events (private updates of /.well-known/mercure/subscriptions/{topic}/{subscriber}) and the subscriptions API",
        parse_switch,
        show_switch
    ),
    setting!(
        pusher_encryption_master_key,
        "",
        "Pusher protocol: the base64 of 32 bytes that private-encrypted- channels' keys derive from",
        parse_master_key,
        Secret::show
    ),
    setting!(
        mercure_issuer,
        "",
        "the iss Mercure 1.0 (at+jwt) tokens must carry (empty: not checked)",
        parse_identifier,
        show_str
    ),
    setting!(
        mercure_audience,
        "",
        "the aud Mercure 1.0 tokens must carry (empty: the hub's URL as the request names it)",
        parse_identifier,
        show_str
    ),
    setting!(
        mercure_cors_origins,
        "",
        "origins whose pages may use the Mercure hub with credentials (a list; empty: push.allowed_origins)",
        Patterns::parse,
        Patterns::show
    ),
    setting!(
        presence_ttl,
        "30",
        "seconds the members and subscriptions of an engine that stopped answering stay counted (shared broker)",
        secs(0.5, 86_400.0)
    ),
    setting!(
        pusher_webhook_url,
        "",
        "Pusher protocol: http:// URL webhooks are POSTed to (empty: no webhooks)",
        parse_webhook_url,
        show_str
    ),
    setting!(
        pusher_webhook_queue,
        "1000",
        "Pusher webhook events waiting to be sent (more: dropped and counted)",
        count(1, MAX_COUNT)
    ),
    setting!(
        pusher_webhook_retries,
        "3",
        "times a refused or failed webhook request is tried again, with backoff",
        count(0, 100)
    ),
    setting!(
        pusher_webhook_timeout,
        "5",
        "seconds one webhook request may take",
        secs(0.01, 3600.0)
    ),
];

/// Settings whose values are credentials: never echoed in errors or shown
/// by phpinfo().
pub const SECRET_SETTINGS: &[&str] = &[
    "publish_token",
    "secret",
    "pusher_secret",
    "mercure_publisher_key",
    "mercure_subscriber_key",
    "pusher_encryption_master_key",
];
