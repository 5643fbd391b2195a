//! The table of settings: every `push.<name>`, its default, what it means,
//! how it is parsed and shown. New settings go at the end (`php --ri push`
//! and the tests list them in this order).

use super::auth::{parse_cookie_name, parse_leeway, parse_token_size};
use super::parse::*;
use super::{AuthMode, Patterns, Secret, Setting};

fn parse_switch(v: &str) -> Result<bool, String> {
    Ok(parse_bool(v))
}

fn show_switch(b: &bool) -> String {
    if *b { "On" } else { "Off" }.into()
}

macro_rules! setting {
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
        }
    };
}

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
        parse_count,
        show_usize
    ),
    setting!(
        history_ttl,
        "300",
        "seconds a message stays in history",
        parse_secs,
        show_secs
    ),
    setting!(
        max_channels,
        "1000000",
        "most channels at once",
        parse_positive,
        show_usize
    ),
    setting!(
        max_message_size,
        "64K",
        "largest message in bytes",
        parse_positive_size,
        show_usize
    ),
    setting!(
        channel_buffer,
        "256",
        "live publications buffered per channel",
        parse_positive,
        show_usize
    ),
    setting!(
        shutdown_timeout,
        "5",
        "seconds a graceful shutdown may take",
        parse_secs,
        show_secs
    ),
    setting!(
        threads,
        "2",
        "worker threads of the engine runtime",
        parse_threads,
        show_usize
    ),
    setting!(
        sweep_interval,
        "5",
        "seconds between idle-channel collections",
        parse_positive_secs,
        show_secs
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
        parse_positive,
        show_usize
    ),
    setting!(
        max_queue_bytes,
        "1M",
        "bytes queued per connection before it is dropped as slow",
        parse_positive_size,
        show_usize
    ),
    setting!(
        keepalive,
        "15",
        "seconds between keep-alives (SSE comments, WebSocket pings)",
        parse_positive_secs,
        show_secs
    ),
    setting!(
        coalesce,
        "0.01",
        "seconds a connection written to this recently waits before its next write (0: never)",
        parse_coalesce,
        show_secs
    ),
    setting!(
        poll_timeout,
        "30",
        "longest long-poll wait in seconds",
        parse_positive_secs,
        show_secs
    ),
    setting!(
        reconnect_delay,
        "2",
        "seconds browsers wait before reconnecting (SSE retry)",
        parse_secs,
        show_secs
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
        parse_positive_secs,
        show_secs
    ),
    setting!(
        io_timeout,
        "5",
        "seconds a worker waits for the engine to answer",
        parse_positive_secs,
        show_secs
    ),
    setting!(
        max_cursors,
        "1024",
        "channels whose push_get_message() cursor a process remembers",
        parse_positive,
        show_usize
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
        parse_leeway,
        show_secs
    ),
    setting!(
        max_token_size,
        "4K",
        "longest token accepted, in bytes",
        parse_token_size,
        show_usize
    ),
    setting!(
        max_connections,
        "10000",
        "most open connections on push.listen (more: 503)",
        parse_positive,
        show_usize
    ),
    setting!(
        max_connections_per_ip,
        "256",
        "most open connections from one address, loopback exempt (more: 429)",
        parse_positive,
        show_usize
    ),
    setting!(
        max_header_size,
        "16K",
        "largest request head in bytes (larger: 431)",
        parse_header_size,
        show_usize
    ),
    setting!(
        request_timeout,
        "10",
        "seconds a client may take to send a request head or POST body",
        parse_positive_secs,
        show_secs
    ),
    setting!(
        client_publish_rate,
        "20",
        "messages per second a WebSocket client may publish (more: close 1008)",
        parse_positive,
        show_usize
    ),
    setting!(
        max_poll_waiters_per_ip,
        "64",
        "long-polls waiting at once from one address, loopback exempt (more: 429)",
        parse_positive,
        show_usize
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
        parse_positive_secs,
        show_secs
    ),
    setting!(
        mercure_history,
        "1000",
        "Mercure updates kept for resuming, hub-wide",
        parse_count,
        show_usize
    ),
    setting!(
        mercure_history_ttl,
        "3600",
        "seconds a Mercure update stays in history",
        parse_secs,
        show_secs
    ),
];

/// Settings whose values are credentials: never echoed in errors or shown
/// by phpinfo().
pub const SECRET_SETTINGS: &[&str] = &[
    "publish_token",
    "secret",
    "mercure_publisher_key",
    "mercure_subscriber_key",
];
