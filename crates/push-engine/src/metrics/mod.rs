//! The engine's health and metrics: connections by transport, deliveries
//! and their latency, slow and stalled connections cut off, bytes queued
//! for clients, clients refused by a limit, the broker's state and
//! readiness.
//!
//! The hub owns one [`Metrics`] ([`crate::Hub::metrics`]); the transports
//! and the local socket record into it, the broker sets its state, and
//! [`EngineStats`] (for `push_stats()`, `php --ri push` and the local
//! socket's STATS) and [`prometheus`] (`GET /metrics`) read it.
//!
//! Recording is cheap: relaxed atomics, no lock, no allocation. What is
//! recorded per delivered message (the latency histogram, whose count is the
//! delivery count, and the bytes queued) goes to one of [`SHARDS`] cache
//! lines picked per thread, so the runtime's threads never contend on a
//! counter; a reader adds the shards up. A transport that writes messages
//! in batches counts a batch locally and records it at once. Connection
//! gauges are plain atomics changed by RAII guards ([`Connection`]), so
//! every exit path of a connection counts it out.

mod labels;
pub mod prometheus;
mod stats;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

pub use labels::{BrokerState, Limit, Transport};
pub use stats::{Connections, EngineStats, HubStats};

/// Upper bounds of the delivery latency buckets, in seconds; a last bucket
/// (`+Inf`) takes the rest.
pub const LATENCY_BOUNDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// The same bounds in nanoseconds, for the hot path.
const BOUNDS_NS: [u64; 12] = [
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
];
/// Buckets of the histogram, `+Inf` included.
pub const BUCKETS: usize = LATENCY_BOUNDS.len() + 1;
/// Cache lines the per-delivery figures are spread over.
pub const SHARDS: usize = 16;

/// What is recorded per delivered message, one copy per shard. Aligned to
/// 128 bytes (two cache lines, as adjacent-line prefetchers pair them) so
/// that shards never share a line.
#[derive(Default)]
#[repr(align(128))]
struct Shard {
    /// Deliveries by transport and latency bucket (not cumulative).
    latency: [[AtomicU64; BUCKETS]; Transport::ALL.len()],
    /// Sum of the latencies by transport, in nanoseconds.
    latency_ns: [AtomicU64; Transport::ALL.len()],
    /// Bytes queued for connections. A message is counted in on the
    /// forwarder's thread and out on the writer's, so one shard may hold
    /// less than zero: the sum, in wrapping arithmetic, is right.
    queued: AtomicU64,
    /// Deliveries written by the publisher itself (a tap).
    direct: AtomicU64,
}

fn nanos_since(at: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(at).as_nanos()).unwrap_or(u64::MAX)
}

/// The latency bucket of `ns` nanoseconds.
#[inline]
fn bucket(ns: u64) -> usize {
    BOUNDS_NS
        .iter()
        .position(|&bound| ns <= bound)
        .unwrap_or(BUCKETS - 1)
}

/// The deliveries of a batch of messages written together (a WebSocket
/// flush, a long-poll answer), counted locally and recorded at once with
/// [`Metrics::record`]: a clock read every [`Batch::CLOCK_EVERY`] messages
/// and a few atomic additions per batch, instead of both per message.
#[derive(Debug)]
pub(crate) struct Batch {
    transport: Transport,
    now: Instant,
    buckets: [u64; BUCKETS],
    ns: u64,
    count: u64,
}

impl Batch {
    /// Messages between two clock reads, so that the latency of a long
    /// batch stays close.
    const CLOCK_EVERY: u64 = 64;

    pub(crate) fn new(transport: Transport) -> Batch {
        Batch {
            transport,
            now: Instant::now(),
            buckets: [0; BUCKETS],
            ns: 0,
            count: 0,
        }
    }

    /// A message published at `at` was handed to the socket.
    #[inline]
    pub(crate) fn add(&mut self, at: Instant) {
        if self.count > 0 && self.count.is_multiple_of(Self::CLOCK_EVERY) {
            self.now = Instant::now();
        }
        let ns = nanos_since(at, self.now);
        self.buckets[bucket(ns)] += 1;
        self.ns = self.ns.wrapping_add(ns);
        self.count += 1;
    }
}

/// The shard of the calling thread: threads take shards in turn.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Relaxed) % SHARDS;
    }
    INDEX.try_with(|i| *i).unwrap_or(0)
}

/// The engine's counters and gauges. See the module documentation.
pub struct Metrics {
    shards: [Shard; SHARDS],
    connections: [AtomicU64; Transport::ALL.len()],
    /// Open connections on `push.listen`, from accept to close.
    listen: AtomicU64,
    refused: [AtomicU64; Limit::ALL.len()],
    slow_disconnects: AtomicU64,
    drops: AtomicU64,
    broker: AtomicU8,
    broker_reconnects: AtomicU64,
    ready: AtomicBool,
    /// Webhook requests by outcome ([`Webhook`]).
    webhooks: [AtomicU64; 3],
}

/// What became of a webhook request, or of the events in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Webhook {
    /// A request answered 2xx.
    Sent = 0,
    /// A request that failed (no answer in time, refused, not 2xx); it is
    /// tried again while retries are left.
    Failed = 1,
    /// An event given up: the queue was full, or its request failed every
    /// time.
    Dropped = 2,
}

impl Webhook {
    pub const ALL: [Webhook; 3] = [Webhook::Sent, Webhook::Failed, Webhook::Dropped];

    pub fn as_str(self) -> &'static str {
        match self {
            Webhook::Sent => "sent",
            Webhook::Failed => "failed",
            Webhook::Dropped => "dropped",
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            shards: Default::default(),
            connections: Default::default(),
            listen: AtomicU64::new(0),
            refused: Default::default(),
            slow_disconnects: AtomicU64::new(0),
            drops: AtomicU64::new(0),
            broker: AtomicU8::new(BrokerState::Memory as u8),
            broker_reconnects: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            webhooks: Default::default(),
        }
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("connections", &self.connections)
            .field("broker", &self.broker())
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

/// A connection counted in its transport's gauge until dropped.
#[derive(Debug)]
#[must_use = "the connection is counted out when this is dropped"]
pub struct Connection {
    metrics: Arc<Metrics>,
    transport: Transport,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.metrics.connections[self.transport as usize].fetch_sub(1, Relaxed);
    }
}

/// The delivery latency histogram of one transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// Deliveries per bucket (not cumulative); the last is `+Inf`.
    pub buckets: [u64; BUCKETS],
    /// The latencies added up.
    pub sum: Duration,
}

impl Latency {
    /// Deliveries counted.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    // ------------------------------------------------------------ recording

    /// Counts a connection of `transport` until the guard is dropped.
    pub(crate) fn connection(self: &Arc<Self>, transport: Transport) -> Connection {
        self.connections[transport as usize].fetch_add(1, Relaxed);
        Connection {
            metrics: self.clone(),
            transport,
        }
    }

    /// A message published at `at` was handed to a client's socket now.
    #[inline]
    pub(crate) fn delivered(&self, transport: Transport, at: Instant) {
        let ns = nanos_since(at, Instant::now());
        let shard = &self.shards[shard_index()];
        let t = transport as usize;
        shard.latency[t][bucket(ns)].fetch_add(1, Relaxed);
        shard.latency_ns[t].fetch_add(ns, Relaxed);
    }

    /// A delivery of `transport` was written to its socket by the
    /// publisher itself (a tap), without waking the connection's task.
    pub(crate) fn delivered_direct(&self, transport: Transport, at: Instant) {
        self.delivered(transport, at);
        self.shards[shard_index()].direct.fetch_add(1, Relaxed);
    }

    /// Records the deliveries of a batch.
    pub(crate) fn record(&self, batch: &Batch) {
        if batch.count == 0 {
            return;
        }
        let shard = &self.shards[shard_index()];
        let t = batch.transport as usize;
        for (n, counter) in batch.buckets.iter().zip(&shard.latency[t]) {
            if *n > 0 {
                counter.fetch_add(*n, Relaxed);
            }
        }
        shard.latency_ns[t].fetch_add(batch.ns, Relaxed);
    }

    /// `bytes` were queued for a connection.
    #[inline]
    pub(crate) fn queue(&self, bytes: u64) {
        self.shards[shard_index()].queued.fetch_add(bytes, Relaxed);
    }

    /// `bytes` queued for a connection were written or dropped.
    #[inline]
    pub(crate) fn unqueue(&self, bytes: u64) {
        self.shards[shard_index()].queued.fetch_sub(bytes, Relaxed);
    }

    /// A connection was cut off because its queue stayed full.
    pub(crate) fn slow_disconnect(&self) {
        self.slow_disconnects.fetch_add(1, Relaxed);
    }

    /// A connection was dropped because its peer stopped taking writes.
    pub(crate) fn dropped(&self) {
        self.drops.fetch_add(1, Relaxed);
    }

    /// A connection on `push.listen` opened: returns how many are open now.
    pub(crate) fn listen_opened(&self) -> u64 {
        self.listen.fetch_add(1, Relaxed) + 1
    }

    /// A connection on `push.listen` closed (or was refused).
    pub(crate) fn listen_closed(&self) {
        self.listen.fetch_sub(1, Relaxed);
    }

    /// A client was refused by `limit`.
    pub(crate) fn refused(&self, limit: Limit) {
        self.refused[limit as usize].fetch_add(1, Relaxed);
    }

    // ------------------------------------------------------------ the broker

    /// Sets the broker's state (called by the broker).
    pub fn set_broker(&self, state: BrokerState) {
        self.broker.store(state as u8, Relaxed);
    }

    /// Counts `n` webhook requests (or events, for [`Webhook::Dropped`]).
    pub fn webhook(&self, outcome: Webhook, n: u64) {
        self.webhooks[outcome as usize].fetch_add(n, Relaxed);
    }

    /// Webhook requests (or events, for [`Webhook::Dropped`]) so far.
    pub fn webhooks(&self, outcome: Webhook) -> u64 {
        self.webhooks[outcome as usize].load(Relaxed)
    }

    /// Counts a reconnection of the broker (called by the broker).
    pub fn broker_reconnected(&self) {
        self.broker_reconnects.fetch_add(1, Relaxed);
    }

    /// Whether the broker's subscriptions are current (called by a
    /// networked broker: `false` while it resubscribes after connecting).
    /// The memory broker needs no flag.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Relaxed);
    }

    // ------------------------------------------------------------ reading

    /// Open connections of `transport` (long-polls waiting, for `Poll`).
    pub fn connections(&self, transport: Transport) -> u64 {
        self.connections[transport as usize].load(Relaxed)
    }

    /// Open connections on `push.listen` (every transport, from accept to
    /// close; what `push.max_connections` bounds).
    pub fn listen_connections(&self) -> u64 {
        self.listen.load(Relaxed)
    }

    /// Clients refused by `limit` so far.
    pub fn refusals(&self, limit: Limit) -> u64 {
        self.refused[limit as usize].load(Relaxed)
    }

    /// The delivery latency histogram of `transport`.
    pub fn latency(&self, transport: Transport) -> Latency {
        let t = transport as usize;
        let mut out = Latency::default();
        let mut ns = 0u64;
        for shard in &self.shards {
            for (sum, n) in out.buckets.iter_mut().zip(&shard.latency[t]) {
                *sum += n.load(Relaxed);
            }
            ns = ns.wrapping_add(shard.latency_ns[t].load(Relaxed));
        }
        out.sum = Duration::from_nanos(ns);
        out
    }

    /// Messages handed to clients' sockets over `transport`.
    pub fn deliveries(&self, transport: Transport) -> u64 {
        let t = transport as usize;
        self.shards
            .iter()
            .flat_map(|s| &s.latency[t])
            .map(|n| n.load(Relaxed))
            .sum()
    }

    /// Bytes queued for connections now (their `push.max_queue_bytes`
    /// budgets in use).
    /// Deliveries written by the publisher itself, all transports.
    pub fn direct_writes(&self) -> u64 {
        self.shards.iter().map(|s| s.direct.load(Relaxed)).sum()
    }

    pub fn queued_bytes(&self) -> u64 {
        let sum = self
            .shards
            .iter()
            .fold(0u64, |sum, s| sum.wrapping_add(s.queued.load(Relaxed)));
        // Read while messages move between shards, the sum may be a little
        // below zero for an instant.
        if sum > u64::MAX / 2 {
            0
        } else {
            sum
        }
    }

    /// Connections cut off because their queue stayed full for
    /// `push.keepalive` (WebSocket close 4008, SSE `push-slow`).
    pub fn slow_disconnects(&self) -> u64 {
        self.slow_disconnects.load(Relaxed)
    }

    /// Connections dropped because their peer took no writes for twice
    /// `push.keepalive` (the write-stall guard).
    pub fn drops(&self) -> u64 {
        self.drops.load(Relaxed)
    }

    pub fn broker(&self) -> BrokerState {
        BrokerState::from_u8(self.broker.load(Relaxed))
    }

    pub fn broker_reconnects(&self) -> u64 {
        self.broker_reconnects.load(Relaxed)
    }

    /// The memory broker, or a broker that is connected and whose
    /// subscriptions are current.
    pub fn is_ready(&self) -> bool {
        match self.broker() {
            BrokerState::Memory => true,
            BrokerState::Connected => self.ready.load(Relaxed),
            BrokerState::Disconnected => false,
        }
    }
}
