//! [`EngineStats`]: the engine's figures at one instant, as `push_stats()`,
//! `php --ri push` and the local socket's STATS answer carry them.

use serde::{Deserialize, Serialize};

use super::{BrokerState, Metrics, Transport};

/// A snapshot of the hub's figures (the hub fills it: [`crate::Hub::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HubStats {
    pub channels: u64,
    pub subscribers: u64,
    pub publications: u64,
    pub history_messages: u64,
    pub history_bytes: u64,
    /// Times a subscriber fell behind the channel buffer and recovered from history.
    pub lagged: u64,
    /// Times a subscriber was told that messages were lost.
    pub lost: u64,
    /// Idle channels collected so far.
    pub collected: u64,
}

/// Connections by transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Connections {
    pub ws: u64,
    pub sse: u64,
    /// Long-polls waiting.
    pub poll: u64,
    /// Worker processes connected to the local socket.
    pub ipc: u64,
    /// Pusher protocol WebSockets.
    pub pusher: u64,
}

/// The engine's figures at one instant: what `push_stats()` and
/// `php --ri push` show, and the JSON of the local socket's STATS answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineStats {
    /// The hub's figures (channels, subscriptions, publications, history …).
    #[serde(flatten)]
    pub hub: HubStats,
    pub connections: Connections,
    /// Messages handed to clients' sockets, all transports.
    pub deliveries: u64,
    /// Of those, written by the publisher itself (idle SSE streams and
    /// WebSockets of one channel).
    pub direct_writes: u64,
    /// Connections dropped by the write-stall guard.
    pub drops: u64,
    /// Connections cut off as slow.
    pub slow_disconnects: u64,
    /// Bytes queued for connections now.
    pub queued_bytes: u64,
    pub broker: BrokerState,
    pub broker_reconnects: u64,
    /// Ready for traffic: see [`super::Metrics::is_ready`]; false once shutting down.
    pub ready: bool,
}

impl EngineStats {
    /// The figures now: the hub's (`hub`), with what `m` recorded;
    /// `closed` once the hub no longer takes subscriptions. The hub puts
    /// them together: [`crate::Hub::engine_stats`].
    pub fn new(hub: HubStats, m: &Metrics, closed: bool) -> EngineStats {
        EngineStats {
            hub,
            connections: Connections {
                ws: m.connections(Transport::Ws),
                sse: m.connections(Transport::Sse),
                poll: m.connections(Transport::Poll),
                ipc: m.connections(Transport::Ipc),
                pusher: m.connections(Transport::Pusher),
            },
            deliveries: Transport::ALL.iter().map(|&t| m.deliveries(t)).sum(),
            direct_writes: m.direct_writes(),
            drops: m.drops(),
            slow_disconnects: m.slow_disconnects(),
            queued_bytes: m.queued_bytes(),
            broker: m.broker(),
            broker_reconnects: m.broker_reconnects(),
            ready: m.is_ready() && !closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_json_is_flat_and_reads_an_older_engine() {
        let stats = EngineStats {
            broker: BrokerState::Disconnected,
            connections: Connections {
                ws: 2,
                ..Default::default()
            },
            ..Default::default()
        };
        let json = serde_json::to_value(stats).unwrap();
        assert_eq!(json["broker"], "disconnected");
        assert_eq!(json["connections"]["ws"], 2);
        assert_eq!(json["subscribers"], 0, "the hub's figures at the top level");
        let back: EngineStats = serde_json::from_value(json).unwrap();
        assert_eq!(back, stats);
        // An engine that sends only the hub's figures.
        let old = serde_json::to_vec(&HubStats {
            publications: 7,
            ..Default::default()
        })
        .unwrap();
        let read: EngineStats = serde_json::from_slice(&old).unwrap();
        assert_eq!(read.hub.publications, 7);
        assert_eq!(read.broker, BrokerState::Memory);
    }
}
