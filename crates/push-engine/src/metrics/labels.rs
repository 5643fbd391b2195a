//! What the metrics are labelled by: transports, limits, the broker's state.

use serde::{Deserialize, Serialize};

/// A transport, as metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket connections.
    Ws,
    /// Server-Sent Events streams.
    Sse,
    /// Long-polls (counted as connections while they wait).
    Poll,
    /// Worker processes on the local socket (`push.socket`).
    Ipc,
    /// Pusher protocol WebSockets (`/app/{key}`).
    Pusher,
}

impl Transport {
    pub const ALL: [Transport; 5] = [
        Transport::Ws,
        Transport::Sse,
        Transport::Poll,
        Transport::Ipc,
        Transport::Pusher,
    ];

    /// The label value: `ws`, `sse`, `poll`, `ipc`, `pusher`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Ws => "ws",
            Transport::Sse => "sse",
            Transport::Poll => "poll",
            Transport::Ipc => "ipc",
            Transport::Pusher => "pusher",
        }
    }
}

/// A limit that refuses clients, as metrics name it: the setting's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `push.max_connections`: a connection answered 503.
    Connections,
    /// `push.max_connections_per_ip`: a connection answered 429.
    ConnectionsPerIp,
    /// `push.max_header_size`: a request head answered 431.
    HeaderSize,
    /// `push.request_timeout`: a connection whose first request head was
    /// not complete in time (closed), or a `POST /publish` body (408). A
    /// kept-alive connection closed after it, idle or not, is not counted.
    RequestTimeout,
    /// `push.client_publish_rate`: a WebSocket closed with 1008.
    ClientPublishRate,
    /// `push.max_poll_waiters_per_ip`: a long-poll answered 429.
    PollWaitersPerIp,
}

impl Limit {
    pub const ALL: [Limit; 6] = [
        Limit::Connections,
        Limit::ConnectionsPerIp,
        Limit::HeaderSize,
        Limit::RequestTimeout,
        Limit::ClientPublishRate,
        Limit::PollWaitersPerIp,
    ];

    /// The label value: the setting's name without `push.`.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Connections => "max_connections",
            Limit::ConnectionsPerIp => "max_connections_per_ip",
            Limit::HeaderSize => "max_header_size",
            Limit::RequestTimeout => "request_timeout",
            Limit::ClientPublishRate => "client_publish_rate",
            Limit::PollWaitersPerIp => "max_poll_waiters_per_ip",
        }
    }
}

/// The broker's state. The memory broker (the default) is always ready; a
/// networked broker (Redis) is ready once it is connected and says its
/// subscriptions are current ([`Metrics::set_ready`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerState {
    /// The embedded memory broker: one engine, nothing to connect to.
    #[default]
    Memory,
    /// A networked broker, connected.
    Connected,
    /// A networked broker, not connected (delivery is local only).
    Disconnected,
}

impl BrokerState {
    pub const ALL: [BrokerState; 3] = [
        BrokerState::Memory,
        BrokerState::Connected,
        BrokerState::Disconnected,
    ];

    /// `memory`, `connected` or `disconnected`.
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerState::Memory => "memory",
            BrokerState::Connected => "connected",
            BrokerState::Disconnected => "disconnected",
        }
    }

    pub(super) fn from_u8(v: u8) -> BrokerState {
        match v {
            1 => BrokerState::Connected,
            2 => BrokerState::Disconnected,
            _ => BrokerState::Memory,
        }
    }
}
