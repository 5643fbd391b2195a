//! The hub as a mirror of a shared broker (Redis): publications arrive
//! already numbered, in the broker's order, and each channel's history ring
//! is a local copy of the broker's tail.
//!
//! Every engine applies the same publications in the same order, so a
//! channel's ids and history are the same everywhere. A mirror that cannot
//! prove it is continuous (a gap in what arrived, a new epoch, a lost
//! connection) is caught up from the broker's history; what cannot be
//! caught up becomes a jump that subscribers turn into the loss signal
//! (see [`super::Subscription`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::channel::State;
use super::{Cursor, Hub, Subscription};
use crate::error::{Error, Result};
use crate::message::{validate_channel, Id, Origin, Outgoing, Publication};

/// A publication as the broker hands it over: numbered by the broker.
#[derive(Debug, Clone)]
pub struct Numbered {
    pub id: Id,
    pub event: Option<Arc<str>>,
    pub data: Bytes,
    pub binary: bool,
    /// How long ago it was published (for the history's age limit).
    pub age: Duration,
    /// The connection that sent it, if the broker carried one.
    pub origin: Option<Origin>,
}

/// A channel as the broker holds it: its newest id and the history after a
/// cursor (or all of it).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub head: Id,
    pub entries: Vec<Numbered>,
}

/// How a snapshot is merged into a mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// For a subscriber: extend the history backwards (or create the
    /// mirror). A snapshot ahead of the mirror is not a gap: the broker's
    /// live feed may simply not have delivered it yet.
    Backfill,
    /// After a gap or a lost connection: bring the mirror up to the
    /// snapshot, delivering what it missed, or jump if that is impossible.
    CatchUp,
}

/// What became of a publication handed to [`Hub::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Added and delivered.
    Appended,
    /// Already held (or older than the mirror's epoch): ignored.
    Duplicate,
    /// Nobody here ever asked for the channel: not mirrored.
    Ignored,
    /// Publications between the mirror's newest (given) and this one are
    /// missing: catch up from the broker, then apply it again.
    Gap(Id),
}

impl Hub {
    /// Publishes a message: in this process, or through the shared broker,
    /// which numbers it (the mirror receives it back like every engine).
    pub async fn send(&self, channel: &str, msg: Outgoing) -> Result<Arc<Publication>> {
        Self::open_door(channel)?;
        let copy = self.copy_of(channel, &msg);
        let p = self.send_reserved(channel, msg).await?;
        self.send_copy(copy).await;
        Ok(p)
    }

    /// [`Hub::send`], reserved channels included: for the engine's own
    /// protocol adapters ([`crate::message::RESERVED_PREFIX`]).
    pub async fn send_reserved(&self, channel: &str, msg: Outgoing) -> Result<Arc<Publication>> {
        let Some(broker) = self.broker() else {
            return self.publish_any(channel, msg);
        };
        let name = self.check(channel, &msg)?;
        let binary = msg.binary || std::str::from_utf8(&msg.data).is_err();
        let id = broker.publish(name, &msg).await?;
        Ok(Arc::new(
            Publication::new(
                Arc::from(name),
                id,
                msg.event.map(Arc::from),
                msg.data,
                !binary,
                Instant::now(),
            )
            .with_origin(msg.origin),
        ))
    }

    /// Subscribes from `cursor`. A mirror that cannot serve the cursor
    /// alone first fetches the channel's head and history from the broker;
    /// with the broker unreachable the subscription starts anyway, and a
    /// cursor that cannot be proven continuous gets the loss signal.
    pub async fn join(&self, channel: &str, cursor: Cursor) -> Result<Subscription> {
        Self::open_door(channel)?;
        self.join_reserved(channel, cursor).await
    }

    /// [`Hub::join`], reserved channels included: for the engine's own
    /// protocol adapters ([`crate::message::RESERVED_PREFIX`]).
    pub async fn join_reserved(&self, channel: &str, cursor: Cursor) -> Result<Subscription> {
        let Some(broker) = self.broker() else {
            return self.subscribe_any(channel, cursor);
        };
        let name = validate_channel(channel.as_bytes())?;
        if self.is_closed() {
            return Err(Error::ShuttingDown);
        }
        // Create the mirror before reading the broker, so that whatever is
        // published meanwhile is applied to it rather than passed over.
        self.channel(name)?;
        if !self.covers(name, cursor) {
            // The broker's read is boxed ([`Broker`] returns boxed
            // futures): a large future that would otherwise sit inline in
            // every caller's (a waiting long-poll, a connection's task),
            // with or without a broker.
            if let Ok(snap) = broker.read(name, cursor).await {
                self.merge(name, snap, Merge::Backfill)?;
            }
        }
        self.subscribe_any(name, cursor)
    }

    /// Applies a publication received from the broker, in the broker's
    /// order, to the channel's mirror. Only channels someone subscribed to
    /// here are mirrored: the others would fill `push.max_channels` with
    /// what no local subscriber wants (a subscriber that comes later reads
    /// the history from the broker).
    pub fn apply(&self, channel: &str, n: Numbered) -> Result<Applied> {
        loop {
            let Some(ch) = self.lock_channels().get(channel).cloned() else {
                return Ok(Applied::Ignored);
            };
            let mut state = ch.lock();
            if state.dead {
                continue;
            }
            let last = state.last_id();
            if state.epoch == 0 {
                // The mirror knew nothing (yet): start from here.
                self.jump(&mut state, n.id);
            } else if n.id <= last {
                return Ok(Applied::Duplicate);
            } else if n.id.epoch == last.epoch && n.id.offset != last.offset + 1 {
                return Ok(Applied::Gap(last));
            } else if n.id.epoch != last.epoch {
                if n.id.offset != 1 {
                    return Ok(Applied::Gap(last));
                }
                // A new epoch (the broker lost the channel): subscribers
                // see the jump and report the loss.
                self.jump(
                    &mut state,
                    Id {
                        epoch: n.id.epoch,
                        offset: 0,
                    },
                );
            }
            self.append(&mut state, ch.name.clone(), n);
            return Ok(Applied::Appended);
        }
    }

    /// Merges what the broker holds into a channel's mirror (see [`Merge`]).
    pub fn merge(&self, channel: &str, snap: Snapshot, how: Merge) -> Result<()> {
        let name = validate_channel(channel.as_bytes())?;
        loop {
            let ch = self.channel(name)?;
            let mut state = ch.lock();
            if state.dead {
                continue;
            }
            let last = state.last_id();
            if state.epoch == 0 {
                // The mirror knew nothing: take the broker's state as it is.
                self.take(&mut state, &ch.name, snap, false);
                return Ok(());
            }
            if snap.head.epoch != last.epoch {
                if how == Merge::CatchUp && snap.head.epoch > last.epoch {
                    // The broker lost the channel and started again.
                    self.take(&mut state, &ch.name, snap, true);
                }
                // Otherwise a stale snapshot, or a new epoch that the live
                // feed will bring.
                return Ok(());
            }
            // Older entries extend the history backwards.
            let front = state
                .history
                .front()
                .map_or(last.offset + 1, |p| p.id.offset);
            let older: Vec<&Numbered> = snap
                .entries
                .iter()
                .filter(|n| n.id.offset < front)
                .collect();
            let contiguous = older.last().is_some_and(|n| n.id.offset + 1 == front)
                && older
                    .windows(2)
                    .all(|w| w[0].id.offset + 1 == w[1].id.offset);
            if contiguous && state.limits(&self.inner.config).0 > 0 {
                let at = Instant::now();
                for n in older.into_iter().rev() {
                    let p = self.numbered(&ch.name, n.clone(), at);
                    self.count_history(&p);
                    state.history_bytes += p.weight();
                    state.history.push_front(p);
                }
                self.trim(&mut state);
            }
            // Newer entries continue the mirror, if they do without a gap
            // (the live feed would bring them a little later).
            let mut expected = last.offset + 1;
            for n in snap.entries.iter().filter(|n| n.id.offset > last.offset) {
                if n.id.offset != expected {
                    break;
                }
                expected += 1;
                self.append(&mut state, ch.name.clone(), n.clone());
            }
            if how == Merge::CatchUp && snap.head.offset >= expected {
                // Trimmed away before this engine saw them: jump to what
                // the broker still has; subscribers report the loss.
                self.take(&mut state, &ch.name, snap, true);
            }
            return Ok(());
        }
    }

    /// Whether a subscription from `cursor` can be served from the mirror
    /// alone, without asking the broker.
    pub fn covers(&self, channel: &str, cursor: Cursor) -> bool {
        let channels = self.lock_channels();
        let Some(ch) = channels.get(channel) else {
            return false;
        };
        let state = ch.lock();
        if state.epoch == 0 {
            return false;
        }
        match cursor {
            Cursor::Live => true,
            Cursor::After(id) => state.since(id).1.is_none(),
        }
    }

    /// The channels that have subscribers here.
    pub fn watched(&self) -> Vec<Arc<str>> {
        let channels = self.lock_channels();
        channels
            .iter()
            .filter(|(_, ch)| ch.lock().subscribers() > 0)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Every mirrored channel and its newest id, to catch up after the
    /// broker connection was lost.
    pub fn mirrored(&self) -> Vec<(Arc<str>, Id)> {
        let channels = self.lock_channels();
        channels
            .iter()
            .map(|(name, ch)| (name.clone(), ch.lock().last_id()))
            .collect()
    }

    /// Replaces a mirror by a snapshot; with `deliver`, live subscribers
    /// are sent its history (they skip what they have and report the jump).
    fn take(&self, state: &mut State, channel: &Arc<str>, snap: Snapshot, deliver: bool) {
        self.jump(
            state,
            Id {
                epoch: snap.head.epoch,
                offset: 0,
            },
        );
        let at = Instant::now();
        for n in snap.entries {
            self.push_history(state, channel, n, at, false);
        }
        state.last_offset = state.last_offset.max(snap.head.offset);
        if deliver {
            // By index: `send` needs the state, and the history stays put.
            for i in 0..state.history.len() {
                let p = state.history[i].clone();
                state.send(p, self.inner.config.channel_buffer);
            }
        }
    }

    /// Empties a mirror's history and moves it to `to`.
    fn jump(&self, state: &mut State, to: Id) {
        let stats = &self.inner.stats;
        stats.history_messages.sub(state.history.len() as u64);
        stats.history_bytes.sub(state.history_bytes as u64);
        state.history.clear();
        state.history_bytes = 0;
        state.epoch = to.epoch;
        state.last_offset = to.offset;
    }

    /// Adds the next publication: history, then live subscribers.
    fn append(&self, state: &mut State, channel: Arc<str>, n: Numbered) {
        let p = self.push_history(state, &channel, n, Instant::now(), true);
        state.send(p, self.inner.config.channel_buffer);
    }

    fn push_history(
        &self,
        state: &mut State,
        channel: &Arc<str>,
        n: Numbered,
        now: Instant,
        count: bool,
    ) -> Arc<Publication> {
        state.last_offset = n.id.offset;
        let p = self.numbered(channel, n, now);
        if count {
            self.inner.stats.publications.inc();
        }
        if state.limits(&self.inner.config).0 > 0 {
            self.count_history(&p);
            state.history_bytes += p.weight();
            state.history.push_back(p.clone());
            self.trim(state);
        }
        p
    }

    fn numbered(&self, channel: &Arc<str>, n: Numbered, now: Instant) -> Arc<Publication> {
        let text = !n.binary && std::str::from_utf8(&n.data).is_ok();
        let at = now.checked_sub(n.age).unwrap_or(now);
        Arc::new(
            Publication::new(channel.clone(), n.id, n.event, n.data, text, at)
                .with_origin(n.origin),
        )
    }

    fn count_history(&self, p: &Publication) {
        let stats = &self.inner.stats;
        stats.history_messages.inc();
        stats.history_bytes.add(p.weight() as u64);
    }

    fn trim(&self, state: &mut State) {
        let (keep, ttl) = state.limits(&self.inner.config);
        let (n, bytes) = state.trim(keep, ttl, Instant::now());
        let stats = &self.inner.stats;
        stats.history_messages.sub(n as u64);
        stats.history_bytes.sub(bytes as u64);
    }
}
