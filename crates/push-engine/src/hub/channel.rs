//! One channel: its epoch and offsets, its history ring, the broadcast
//! sender its live subscribers read from, and the taps the publisher writes
//! to directly ([`super::Tap`]).

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{broadcast, Notify};
use tokio::time::Instant;

use super::taps::Taps;
use crate::config::Config;
use crate::message::{Id, Publication};

/// A channel. Its state sits behind a `std::sync::Mutex`: it is never held
/// across an `.await`, and every critical section is a few pointer moves.
#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) name: Arc<str>,
    state: Mutex<State>,
    /// Live subscriptions on this engine, read without the lock (by write
    /// coalescing, on every batch).
    pub(crate) live: AtomicUsize,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) epoch: u64,
    pub(crate) last_offset: u64,
    pub(crate) history: VecDeque<Arc<Publication>>,
    pub(crate) history_bytes: usize,
    /// Created with the first subscriber and dropped with the last, so an
    /// idle channel costs no ring buffer.
    pub(crate) tx: Option<broadcast::Sender<Arc<Publication>>>,
    /// Counts the senders created, so a subscription knows whether its
    /// receiver belongs to the current one.
    pub(crate) tx_generation: u64,
    /// Publications sent to live subscribers, ever.
    sent: u64,
    /// Notified each time another quarter of the ring (`push.channel_buffer`)
    /// has been sent: a subscriber holding its writes back (`push.coalesce`)
    /// stops waiting before it could fall behind.
    pub(crate) pressure: Arc<Notify>,
    /// Set when the channel is removed from the hub's map; whoever still
    /// holds it must look the channel up again.
    pub(crate) dead: bool,
    /// History limits of its own (count, age), instead of `push.history`
    /// and `push.history_ttl` ([`super::Hub::keep_history`]).
    pub(crate) keep: Option<(usize, Duration)>,
    /// Offered every live publication after the ring ([`super::Tap`]).
    pub(crate) taps: Taps,
}

/// What a subscriber must be told when its cursor cannot be continued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost {
    /// The cursor the subscriber came with.
    pub requested: Id,
    /// The oldest message still held, delivered next; `None` if the history
    /// is empty.
    pub oldest: Option<Id>,
}

impl Channel {
    pub(crate) fn new(name: Arc<str>, epoch: u64) -> Self {
        Channel {
            name,
            state: Mutex::new(State {
                epoch,
                last_offset: 0,
                history: VecDeque::new(),
                history_bytes: 0,
                tx: None,
                tx_generation: 0,
                sent: 0,
                pressure: Arc::new(Notify::new()),
                dead: false,
                keep: None,
                taps: Taps::default(),
            }),
            live: AtomicUsize::new(0),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-written
        // in a way that matters more than losing the channel: recover it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Hands `p` to the live subscribers, if any, then offers it to the
    /// taps; `ring` is the size of the subscribers' ring.
    pub(crate) fn send(&mut self, p: Arc<Publication>, ring: usize) {
        if let Some(tx) = &self.tx {
            // An error only means that no receiver is left.
            let _ = tx.send(p.clone());
            self.sent += 1;
            if self.sent.is_multiple_of((ring as u64 / 4).max(1)) {
                self.pressure.notify_waiters();
            }
        }
        // After the ring: a tap that leaves `p` to its connection's task
        // finds it there.
        self.taps.offer(&p, ring);
    }

    /// The id of the newest publication (offset 0 before the first).
    pub(crate) fn last_id(&self) -> Id {
        Id {
            epoch: self.epoch,
            offset: self.last_offset,
        }
    }

    /// The channel's history limits: its own, else the configuration's.
    pub(crate) fn limits(&self, config: &Config) -> (usize, Duration) {
        self.keep.unwrap_or((config.history, config.history_ttl))
    }

    /// Drops history entries over `limit` or older than `ttl`; returns the
    /// entries and bytes removed.
    pub(crate) fn trim(&mut self, limit: usize, ttl: Duration, now: Instant) -> (usize, usize) {
        let (mut n, mut bytes) = (0, 0);
        while let Some(front) = self.history.front() {
            let expired = now.saturating_duration_since(front.at) >= ttl;
            if self.history.len() <= limit && !expired {
                break;
            }
            bytes += front.weight();
            n += 1;
            self.history.pop_front();
        }
        self.history_bytes -= bytes;
        (n, bytes)
    }

    /// The messages after `cursor`, and the loss to report if some messages
    /// after it are no longer held (or the cursor is of another epoch, or
    /// names a message that never existed).
    pub(crate) fn since(&self, cursor: Id) -> (VecDeque<Arc<Publication>>, Option<Lost>) {
        let oldest = self.history.front().map(|p| p.id);
        let continuous = cursor.epoch == self.epoch
            && cursor.offset <= self.last_offset
            && match oldest {
                Some(o) => cursor.offset + 1 >= o.offset,
                None => cursor.offset == self.last_offset,
            };
        if continuous {
            let skip = self.history.partition_point(|p| p.id <= cursor);
            (self.history.iter().skip(skip).cloned().collect(), None)
        } else {
            let lost = Lost {
                requested: cursor,
                oldest,
            };
            (self.history.iter().cloned().collect(), Some(lost))
        }
    }

    pub(crate) fn subscribers(&self) -> usize {
        self.tx.as_ref().map_or(0, |tx| tx.receiver_count())
    }
}
