//! Every limit, size and timeout of the engine, with its documented default.
//!
//! The table [`SETTINGS`] is the single source: the PHP glue registers one
//! `push.<name>` INI entry per row, `push_server_start()` options use the same
//! names, and [`Config::get`] reads every value back. Values are parsed the
//! way PHP parses its own INI values (`64K`, `8M`, `On`/`yes`/`1`).

use std::time::Duration;

use crate::error::Error;

mod auth;
mod parse;
mod patterns;

use auth::{parse_cookie_name, parse_leeway, parse_token_size};
pub use auth::{AuthMode, Secret};
use parse::*;
pub use parse::{parse_bool, parse_quantity};
pub use patterns::Patterns;

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
}

/// One configuration entry: its name (without the `push.` prefix), its
/// default as PHP would write it, and what it means.
#[derive(Debug)]
pub struct Setting {
    pub name: &'static str,
    pub default: &'static str,
    pub doc: &'static str,
    apply: fn(&mut Config, &str) -> Result<(), String>,
    show: fn(&Config) -> String,
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
];

/// Settings whose values are credentials: never echoed in errors or shown
/// by phpinfo().
pub const SECRET_SETTINGS: &[&str] = &["publish_token", "secret"];

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
        if self.auth == AuthMode::Required && self.secret.is_empty() {
            return Err(Error::InvalidSetting {
                name: "auth".into(),
                value: "required".into(),
                reason: "every channel would need a token, and push.secret is not set".into(),
            });
        }
        Ok(())
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
mod tests {
    use super::parse::*;
    use super::*;

    #[test]
    fn every_default_parses() {
        let mut c = Config::default();
        for s in SETTINGS {
            c.set(s.name, s.default).unwrap();
        }
        assert_eq!(c.max_message_size, 65536);
        assert_eq!(c.history, 100);
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.max_connections, 10_000);
        assert_eq!(c.max_connections_per_ip, 256);
        assert_eq!(c.max_header_size, 16 << 10);
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert_eq!(c.client_publish_rate, 20);
        assert_eq!(c.max_poll_waiters_per_ip, 64);
    }

    #[test]
    fn limits_are_bounded() {
        let mut c = Config::default();
        for (name, bad) in [
            ("max_connections", "0"),
            ("max_connections_per_ip", "0"),
            ("max_header_size", "512"),
            ("max_header_size", "1M"),
            ("request_timeout", "0"),
            ("client_publish_rate", "0"),
            ("max_poll_waiters_per_ip", "0"),
        ] {
            let e = c.set(name, bad).unwrap_err().to_string();
            assert!(e.contains(&format!("push.{name}")), "{e}");
        }
        c.set("max_header_size", "1K").unwrap();
        c.set("max_header_size", "256K").unwrap();
        assert_eq!(c.get("max_header_size").unwrap(), "262144");
    }

    #[test]
    fn quantities_parse_like_php() {
        assert_eq!(parse_quantity("64K").unwrap(), 65536);
        assert_eq!(parse_quantity(" 8m ").unwrap(), 8 << 20);
        assert_eq!(parse_quantity("1G").unwrap(), 1 << 30);
        assert_eq!(parse_quantity("0x10").unwrap(), 16);
        assert_eq!(parse_quantity("0b101").unwrap(), 5);
        assert!(parse_quantity("abc").is_err());
        assert!(parse_quantity("-1").is_err());
        assert!(parse_quantity("99999999999999999999G").is_err());
    }

    #[test]
    fn booleans_parse_like_php() {
        for t in ["On", "yes", "TRUE", "1", "2", "10abc"] {
            assert!(parse_bool(t), "{t}");
        }
        for f in ["Off", "no", "false", "0", "", "abc", "00"] {
            assert!(!parse_bool(f), "{f}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_the_name() {
        let mut c = Config::default();
        let e = c.set("history", "lots").unwrap_err().to_string();
        assert!(e.contains("push.history") && e.contains("lots"), "{e}");
        assert!(c.set("listen", "nohost").is_err());
        assert!(c.set("threads", "0").is_err());
        assert!(c.set("history_ttl", "-3").is_err());
        assert!(matches!(c.set("nope", "1"), Err(Error::UnknownSetting(_))));
        assert_eq!(c, Config::default(), "a refused value changes nothing");
    }

    #[test]
    fn patterns() {
        let p = Patterns::parse("news, user:*").unwrap();
        assert!(p.allows("news") && p.allows("user:42") && !p.allows("newsx") && !p.allows("use"));
        assert!(Patterns::parse("On").unwrap().allows("x"));
        assert!(!Patterns::parse("Off").unwrap().allows("x"));
        assert_eq!(Patterns::parse("").unwrap(), Patterns::None);
        assert_eq!(Patterns::parse("*").unwrap(), Patterns::All);
        assert!(Patterns::parse("a b").is_err());
        assert_eq!(Patterns::parse(" , ,").unwrap(), Patterns::None);
        // A list of one name that reads as a keyword shows as a list.
        for keyword in ["on", "Off", "*", "1"] {
            let list = Patterns::parse(&format!("{keyword},")).unwrap();
            assert_eq!(list, Patterns::List(vec![keyword.into()]));
            assert_eq!(Patterns::parse(&list.show()).unwrap(), list);
        }
    }

    #[test]
    fn queue_must_hold_a_message() {
        let mut c = Config::default();
        c.validate().unwrap();
        c.set("max_queue_bytes", "64K").unwrap();
        assert!(c.validate().is_err());
    }

    #[test]
    fn values_read_back() {
        let mut c = Config::default();
        c.set("history_ttl", "1.5").unwrap();
        assert_eq!(c.get("history_ttl").unwrap(), "1.5");
        assert_eq!(c.get("max_message_size").unwrap(), "65536");
        assert_eq!(c.get("nope"), None);
    }
}
