//! A live subscription to one channel: history backlog first, then live
//! publications, with lag turned into recovery from history or an explicit
//! [`Lost`] — never silence.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use super::channel::{Channel, Lost};
use super::taps::TapKey;
use super::{Stats, Tap};
use crate::message::{Id, Publication};

/// Publications in the ring a resumed subscription skips one by one, at
/// most ([`Subscription::resume`]).
const SKIP: usize = 32;

/// What a subscriber receives next.
#[derive(Debug, Clone)]
pub enum Event {
    /// The next publication after the cursor.
    Message(Arc<Publication>),
    /// Messages after the cursor are gone; what follows starts at
    /// `Lost::oldest` (or with the next publication).
    Lost(Lost),
    /// The channel was closed (the engine is shutting down).
    Closed,
}

/// A subscription. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    channel: Arc<Channel>,
    stats: Arc<Stats>,
    rx: broadcast::Receiver<Arc<Publication>>,
    /// Which of the channel's senders `rx` belongs to.
    generation: u64,
    backlog: VecDeque<Arc<Publication>>,
    lost: Option<Lost>,
    /// Id of the last message handed out (or the position subscribed at).
    position: Id,
    /// Set when the position cannot be continued (after a reported loss
    /// with nothing left in history, or before a mirror knows its epoch):
    /// the next publication is taken whatever its id.
    adrift: bool,
    /// After [`Subscription::resume`] past what the ring gave: the ring
    /// may say it lagged, which is no loss (the tap wrote what was
    /// skipped).
    lag_expected: bool,
    /// This subscription's tap in the channel's, if any.
    tap: Option<TapKey>,
}

impl Subscription {
    pub(crate) fn new(
        channel: Arc<Channel>,
        stats: Arc<Stats>,
        (rx, generation): (broadcast::Receiver<Arc<Publication>>, u64),
        backlog: VecDeque<Arc<Publication>>,
        lost: Option<Lost>,
        position: Id,
    ) -> Self {
        channel.live.fetch_add(1, Ordering::Relaxed);
        Subscription {
            channel,
            stats,
            rx,
            generation,
            backlog,
            lost,
            adrift: position.epoch == 0,
            position,
            lag_expected: false,
            tap: None,
        }
    }

    /// Registers `tap` with the channel: from now on it is offered every
    /// live publication ([`Tap::offer`]), until this subscription is
    /// dropped.
    pub fn tap(&mut self, tap: Arc<dyn Tap>) {
        let mut state = self.channel.lock();
        if let Some(key) = self.tap.take() {
            state.taps.remove(key);
        }
        self.tap = Some(state.taps.insert(tap));
    }

    /// Whether a tap is registered ([`Subscription::tap`]).
    pub fn is_tapped(&self) -> bool {
        self.tap.is_some()
    }

    /// Whether nothing is waiting: no loss to report, no backlog, nothing
    /// in the ring. Takes no lock of the channel's (a tap's owner calls it
    /// holding the tap's own lock).
    pub fn is_drained(&self) -> bool {
        self.lost.is_none() && self.backlog.is_empty() && self.rx.is_empty()
    }

    /// Continues after `position`, which the subscription's tap reached
    /// writing publications the subscription was not read for. The ring's
    /// copies of those are skipped as they are read; when more than
    /// [`SKIP`] wait there and nothing was published since `position`,
    /// the receiver starts again at the ring's end instead (dropping one
    /// that fell behind costs up to `push.channel_buffer` steps, once).
    /// Only then is the channel's lock taken: a connection coming back
    /// from its tap must not queue behind the publisher writing to the
    /// other taps.
    pub fn resume(&mut self, position: Id) {
        if self.adrift
            || position.epoch != self.position.epoch
            || position.offset <= self.position.offset
        {
            return;
        }
        self.position = position;
        self.backlog.retain(|p| p.id > position);
        if self.rx.len() <= SKIP {
            self.lag_expected = true;
            return;
        }
        let state = self.channel.lock();
        if state.tx_generation == self.generation && state.last_id() == position {
            if let Some(tx) = &state.tx {
                let behind = std::mem::replace(&mut self.rx, tx.subscribe());
                drop(state);
                // Outside the lock: it steps through what it did not read.
                drop(behind);
                self.lag_expected = false;
                return;
            }
        }
        drop(state);
        self.lag_expected = true;
    }

    /// Notified each time another quarter of the channel's ring has been
    /// sent.
    pub(crate) fn pressure(&self) -> Arc<tokio::sync::Notify> {
        self.channel.lock().pressure.clone()
    }

    /// How many live subscriptions on this engine share the channel (this
    /// one included); a relaxed count, for heuristics.
    pub fn sharing(&self) -> usize {
        self.channel.live.load(Ordering::Relaxed)
    }

    /// The channel's name.
    pub fn channel(&self) -> &Arc<str> {
        &self.channel.name
    }

    /// The cursor: the id of the last message received, or where the
    /// subscription started. Resuming from it misses nothing.
    pub fn position(&self) -> Id {
        self.position
    }

    /// Waits for the next event. Cancel-safe: dropping the future loses
    /// nothing, so it can sit in `select!` and `timeout`.
    pub async fn recv(&mut self) -> Event {
        loop {
            if let Some(event) = self.ready() {
                return event;
            }
            let received = self.rx.recv().await;
            match received {
                Ok(p) => {
                    self.lag_expected = false;
                    if let Some(event) = self.accept(p) {
                        return event;
                    }
                }
                Err(RecvError::Lagged(_)) if self.lag_expected => self.lag_expected = false,
                Err(RecvError::Lagged(_)) => self.recover(),
                Err(RecvError::Closed) => return Event::Closed,
            }
        }
    }

    /// The next event if one is ready now, without waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.ready() {
                return Some(event);
            }
            match self.rx.try_recv() {
                Ok(p) => {
                    self.lag_expected = false;
                    if let Some(event) = self.accept(p) {
                        return Some(event);
                    }
                }
                Err(TryRecvError::Lagged(_)) if self.lag_expected => self.lag_expected = false,
                Err(TryRecvError::Lagged(_)) => self.recover(),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Closed) => return Some(Event::Closed),
            }
        }
    }

    fn ready(&mut self) -> Option<Event> {
        if let Some(lost) = self.lost.take() {
            return Some(Event::Lost(lost));
        }
        let p = self.backlog.pop_front()?;
        self.position = p.id;
        Some(Event::Message(p))
    }

    /// Live publications may repeat what the backlog already gave: skip
    /// anything at or before the cursor. Ids are consecutive within an
    /// epoch, so anything else is a jump (a mirror caught up past a gap, or
    /// a new epoch): continue from history, reporting the loss.
    fn accept(&mut self, p: Arc<Publication>) -> Option<Event> {
        if self.adrift {
            if p.id <= self.position && self.position.epoch != 0 {
                return None;
            }
            self.adrift = false;
            self.position = p.id;
            return Some(Event::Message(p));
        }
        if p.id <= self.position {
            return None;
        }
        let next = Id {
            epoch: self.position.epoch,
            offset: self.position.offset + 1,
        };
        if p.id != next {
            self.recover();
            if self.backlog.back().is_none_or(|b| b.id < p.id) {
                self.backlog.push_back(p);
                self.adrift = false;
            }
            return self.ready();
        }
        self.position = p.id;
        Some(Event::Message(p))
    }

    /// The receiver fell further behind than the channel's buffer: continue
    /// from history, and report a loss if history does not reach back far
    /// enough.
    fn recover(&mut self) {
        self.stats.lagged.inc();
        let state = self.channel.lock();
        let (backlog, lost) = state.since(self.position);
        drop(state);
        if lost.is_some() {
            self.stats.lost.inc();
        }
        // With a loss and nothing left to give, nothing continues the
        // position: take whatever comes next.
        self.adrift = lost.is_some() && backlog.is_empty();
        self.backlog = backlog;
        self.lost = lost;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.stats.subscribers.dec();
        self.channel.live.fetch_sub(1, Ordering::Relaxed);
        let mut state = self.channel.lock();
        if let Some(key) = self.tap.take() {
            state.taps.remove(key);
        }
        // Our own receiver is still alive here: we are the last one if the
        // count is 1. Dropping the sender frees the ring buffer. A sender
        // replaced since (after close_all) is not ours to drop.
        if state.tx_generation == self.generation && state.subscribers() <= 1 {
            state.tx = None;
        }
        drop(state);
        self.stats.occupancy.touch(&self.channel.name);
    }
}
