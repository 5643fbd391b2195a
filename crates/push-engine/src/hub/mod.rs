//! The hub: channels, their history, fan-out to subscribers, and the
//! collection of idle channels.
//!
//! Lock order: the channel map, then one channel's state. Neither is held
//! across an `.await`.

mod broker;
mod channel;
mod cluster;
pub mod copy;
mod counters;
mod epoch;
mod mirror;
pub mod presence;
mod subscription;
mod tap;
mod taps;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use broker::Broker;
pub use channel::Lost;
pub use cluster::{Activity, Counts};
pub use mirror::{Applied, Merge, Numbered, Snapshot};
pub use subscription::{Event, Subscription};
pub use tap::Tap;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::message::{is_reserved, validate_channel, validate_event, Id, Outgoing, Publication};
use crate::metrics::{BrokerState, EngineStats, HubStats, Metrics};
use channel::Channel;
pub(crate) use counters::Stats;
use epoch::next_epoch;

/// Bytes a publication on a reserved channel may carry besides its data
/// (an adapter's envelope: topics, flags, the publisher's id).
pub const RESERVED_ENVELOPE: usize = 16 * 1024;

/// Where a new subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// With the next publication.
    Live,
    /// With the first message after this id (from history), or a [`Lost`]
    /// if that cannot be done without a gap.
    After(Id),
}

/// The hub. Cheap to clone; all clones share the same channels.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Arc<Config>,
    channels: Mutex<HashMap<Arc<str>, Arc<Channel>>>,
    stats: Arc<Stats>,
    /// Connections, deliveries, the broker's state: recorded by the
    /// transports and the broker (see [`crate::metrics`]).
    metrics: Arc<Metrics>,
    /// Set by `close_all`: no new subscriptions.
    closed: std::sync::atomic::AtomicBool,
    /// Cancelled by `close_all`, for connections that hold no subscription
    /// to be closed through.
    closing: CancellationToken,
    /// Who is on each presence channel (this engine's connections).
    presence: presence::Presence,
    /// Presence and occupancy cluster-wide (`cluster.rs`).
    cluster: cluster::Cluster,
    /// The shared broker this hub mirrors, if any (else ids and history
    /// are this process's own).
    broker: Option<Arc<dyn Broker>>,
    /// What an adapter copies publications of the open doors into.
    copier: copy::Slot,
}

impl Hub {
    /// A hub whose ids and history live in this process.
    pub fn new(config: Arc<Config>) -> Self {
        Self::build(config, None)
    }

    /// A hub that mirrors a shared broker: publications go through the
    /// broker, which numbers them, and come back through
    /// [`Hub::apply`] (see `broker::listen::run`).
    pub fn with_broker(config: Arc<Config>, broker: Arc<dyn Broker>) -> Self {
        Self::build(config, Some(broker))
    }

    fn build(config: Arc<Config>, broker: Option<Arc<dyn Broker>>) -> Self {
        let metrics = Arc::new(Metrics::default());
        if broker.is_some() {
            metrics.set_broker(BrokerState::Disconnected);
        }
        let cluster = cluster::Cluster::new(config.pusher_webhook_queue);
        Hub {
            inner: Arc::new(Inner {
                config,
                channels: Mutex::new(HashMap::new()),
                stats: Arc::default(),
                metrics,
                closed: Default::default(),
                closing: CancellationToken::new(),
                presence: Default::default(),
                cluster,
                broker,
                copier: Default::default(),
            }),
        }
    }

    /// The shared broker, if this hub mirrors one.
    pub fn broker(&self) -> Option<&Arc<dyn Broker>> {
        self.inner.broker.as_ref()
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The engine's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Checks a message before it is published.
    pub(crate) fn check<'a>(&self, channel: &'a str, msg: &Outgoing) -> Result<&'a str> {
        let name = validate_channel(channel.as_bytes())?;
        let config = &self.inner.config;
        // A reserved channel's publications carry an adapter's envelope
        // around data of at most push.max_message_size (the adapter checks).
        let max = match is_reserved(name) {
            true => config.max_message_size + RESERVED_ENVELOPE,
            false => config.max_message_size,
        };
        if msg.data.len() > max {
            return Err(Error::MessageTooLarge {
                size: msg.data.len(),
                max,
            });
        }
        if let Some(event) = &msg.event {
            validate_event(event)?;
        }
        Ok(name)
    }

    /// Refuses the channels reserved for the engine's own use
    /// ([`crate::message::RESERVED_PREFIX`]) to every door but the
    /// `*_reserved` ones.
    pub(crate) fn open_door(channel: &str) -> Result<()> {
        if is_reserved(channel) {
            let shown: String = channel.chars().take(80).collect();
            return Err(Error::ReservedChannel(shown));
        }
        Ok(())
    }

    /// Publishes a message in this process and returns it with its new id.
    /// A hub that mirrors a broker refuses: use [`Hub::send`].
    pub fn publish(&self, channel: &str, msg: Outgoing) -> Result<Arc<Publication>> {
        Self::open_door(channel)?;
        let copy = self.copy_of(channel, &msg);
        let p = self.publish_any(channel, msg)?;
        self.publish_copy(copy);
        Ok(p)
    }

    /// [`Hub::publish`], reserved channels included.
    pub(crate) fn publish_any(&self, channel: &str, msg: Outgoing) -> Result<Arc<Publication>> {
        if self.inner.broker.is_some() {
            return Err(Error::Broker(
                "this hub mirrors a broker: publish with Hub::send".into(),
            ));
        }
        let name = self.check(channel, &msg)?;
        let config = &self.inner.config;
        let text = !msg.binary && std::str::from_utf8(&msg.data).is_ok();
        let event: Option<Arc<str>> = msg.event.map(Arc::from);
        let stats = &self.inner.stats;
        loop {
            let channel = self.channel(name)?;
            let mut state = channel.lock();
            if state.dead {
                continue;
            }
            state.last_offset += 1;
            let p = Arc::new(
                Publication::new(
                    channel.name.clone(),
                    state.last_id(),
                    event.clone(),
                    msg.data.clone(),
                    text,
                    Instant::now(),
                )
                .with_origin(msg.origin.clone()),
            );
            let (keep, ttl) = state.limits(config);
            if keep > 0 {
                state.history_bytes += p.weight();
                state.history.push_back(p.clone());
                stats.history_messages.inc();
                stats.history_bytes.add(p.weight() as u64);
            }
            let (n, bytes) = state.trim(keep, ttl, p.at);
            stats.history_messages.sub(n as u64);
            stats.history_bytes.sub(bytes as u64);
            state.send(p.clone(), config.channel_buffer);
            stats.publications.inc();
            return Ok(p);
        }
    }

    /// Subscribes to a channel from `cursor`.
    pub fn subscribe(&self, channel: &str, cursor: Cursor) -> Result<Subscription> {
        Self::open_door(channel)?;
        self.subscribe_any(channel, cursor)
    }

    /// [`Hub::subscribe`], reserved channels included.
    pub(crate) fn subscribe_any(&self, channel: &str, cursor: Cursor) -> Result<Subscription> {
        let name = validate_channel(channel.as_bytes())?;
        if self.is_closed() {
            return Err(Error::ShuttingDown);
        }
        loop {
            let channel = self.channel(name)?;
            let mut state = channel.lock();
            if state.dead {
                continue;
            }
            let buffer = self.inner.config.channel_buffer;
            if state.tx.is_none() {
                state.tx = Some(broadcast::channel(buffer).0);
                state.tx_generation += 1;
            }
            let generation = state.tx_generation;
            let rx = match &state.tx {
                Some(tx) => tx.subscribe(),
                None => continue,
            };
            let (backlog, lost, position) = match cursor {
                Cursor::Live => (Default::default(), None, state.last_id()),
                Cursor::After(id) => {
                    let (backlog, lost) = state.since(id);
                    let position = match lost {
                        // Continue from just before the oldest message held.
                        Some(_) => match backlog.front() {
                            Some(p) => Id {
                                epoch: p.id.epoch,
                                offset: p.id.offset - 1,
                            },
                            None => state.last_id(),
                        },
                        None => id,
                    };
                    (backlog, lost, position)
                }
            };
            drop(state);
            let stats = &self.inner.stats;
            stats.subscribers.inc();
            stats.occupancy.touch(&channel.name);
            if lost.is_some() {
                stats.lost.inc();
            }
            return Ok(Subscription::new(
                channel,
                stats.clone(),
                (rx, generation),
                backlog,
                lost,
                position,
            ));
        }
    }

    /// Gives a channel history limits of its own — `count` publications,
    /// none older than `ttl` — instead of `push.history` and
    /// `push.history_ttl`, creating it if need be; they last as long as the
    /// channel (a collected channel comes back with the configuration's).
    /// What a protocol adapter's log needs. With a shared broker, the
    /// broker's own history (`push.history`) still bounds what a mirror
    /// can be given.
    pub fn keep_history(&self, channel: &str, count: usize, ttl: Duration) -> Result<()> {
        let name = validate_channel(channel.as_bytes())?;
        loop {
            let channel = self.channel(name)?;
            let mut state = channel.lock();
            if state.dead {
                continue;
            }
            state.keep = Some((count, ttl));
            let stats = &self.inner.stats;
            let (n, bytes) = state.trim(count, ttl, Instant::now());
            stats.history_messages.sub(n as u64);
            stats.history_bytes.sub(bytes as u64);
            return Ok(());
        }
    }

    /// What a channel holds now: the id of its newest publication and its
    /// history, oldest first (`None` if the channel does not exist here).
    /// A snapshot: publications that follow are not in it.
    pub fn history(&self, channel: &str) -> Option<(Id, Vec<Arc<Publication>>)> {
        let ch = self.lock_channels().get(channel)?.clone();
        let state = ch.lock();
        Some((state.last_id(), state.history.iter().cloned().collect()))
    }

    /// The id of the newest publication on a channel, if it exists.
    pub fn last_id(&self, channel: &str) -> Option<Id> {
        let channels = self.lock_channels();
        let ch = channels.get(channel)?;
        let state = ch.lock();
        Some(state.last_id())
    }

    /// Expires history and removes channels with no subscribers and no
    /// history. Returns how many channels were removed.
    pub fn sweep(&self) -> usize {
        let config = &self.inner.config;
        let stats = &self.inner.stats;
        let now = Instant::now();
        let mut channels = self.lock_channels();
        let before = channels.len();
        channels.retain(|_, ch| {
            let mut state = ch.lock();
            let (keep, ttl) = state.limits(config);
            let (n, bytes) = state.trim(keep, ttl, now);
            stats.history_messages.sub(n as u64);
            stats.history_bytes.sub(bytes as u64);
            let idle = state.tx.is_none() && state.history.is_empty();
            if idle {
                state.dead = true;
            }
            !idle
        });
        let removed = before - channels.len();
        // A HashMap never gives memory back by itself.
        if channels.capacity() > 4 * channels.len() + 1024 {
            channels.shrink_to_fit();
        }
        stats.collected.add(removed as u64);
        removed
    }

    /// Closes every subscription (they receive [`Event::Closed`] once they
    /// have read what is queued). Used at shutdown.
    pub fn close_all(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.closing.cancel();
        let channels = self.lock_channels();
        for ch in channels.values() {
            let mut state = ch.lock();
            state.tx = None;
            // A tap's connection is not reading the ring: tell it.
            state.taps.close();
        }
    }

    /// Cancelled when `close_all` is called.
    pub fn closing(&self) -> CancellationToken {
        self.inner.closing.clone()
    }

    /// Who is on each presence channel (in this engine).
    pub fn presence(&self) -> &presence::Presence {
        &self.inner.presence
    }

    /// Channels with subscribers in this engine whose names start with
    /// `prefix`, and how many subscribers each has.
    pub fn occupied(&self, prefix: &str) -> Vec<(Arc<str>, usize)> {
        let channels = self.lock_channels();
        let mut out: Vec<(Arc<str>, usize)> = channels
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .filter_map(|(name, ch)| {
                let n = ch.lock().subscribers();
                (n > 0).then(|| (name.clone(), n))
            })
            .collect();
        out.sort();
        out
    }

    /// How many subscribers `channel` has in this engine.
    pub fn subscribers(&self, channel: &str) -> usize {
        let ch = self.lock_channels().get(channel).cloned();
        ch.map_or(0, |ch| ch.lock().subscribers())
    }

    /// Whether `close_all` was called (the engine is shutting down).
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    pub fn stats(&self) -> HubStats {
        let s = &self.inner.stats;
        HubStats {
            channels: self.lock_channels().len() as u64,
            subscribers: s.subscribers.get(),
            publications: s.publications.get(),
            history_messages: s.history_messages.get(),
            history_bytes: s.history_bytes.get(),
            lagged: s.lagged.get(),
            lost: s.lost.get(),
            collected: s.collected.get(),
        }
    }

    /// The engine's figures now: the hub's own and what its [`Metrics`]
    /// recorded (`push_stats()`, `php --ri push`, `GET /metrics`).
    pub fn engine_stats(&self) -> EngineStats {
        EngineStats::new(self.stats(), self.metrics(), self.is_closed())
    }

    pub(crate) fn lock_channels(&self) -> MutexGuard<'_, HashMap<Arc<str>, Arc<Channel>>> {
        self.inner
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Finds or creates a channel.
    pub(crate) fn channel(&self, name: &str) -> Result<Arc<Channel>> {
        let mut channels = self.lock_channels();
        if let Some(ch) = channels.get(name) {
            return Ok(ch.clone());
        }
        let max = self.inner.config.max_channels;
        if channels.len() >= max {
            return Err(Error::TooManyChannels(max));
        }
        let name: Arc<str> = Arc::from(name);
        // A mirror's epoch comes from the broker; 0 means "not known yet".
        let epoch = match self.inner.broker {
            Some(_) => 0,
            None => next_epoch(),
        };
        let ch = Arc::new(Channel::new(name.clone(), epoch));
        channels.insert(name, ch.clone());
        Ok(ch)
    }
}
