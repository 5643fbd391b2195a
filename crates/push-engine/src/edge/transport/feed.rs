//! A connection's feed. A connection is reported as slow when it cannot
//! take what it is sent for `push.keepalive` seconds, so it never slows the
//! publisher or anyone else and its memory stays bounded; the connections
//! found slow are counted in [`Metrics`].
//!
//! - One channel (the common case) is read **directly**: the connection's
//!   task takes publications from the channel's ring itself, with no task,
//!   queue or lock of its own in between, so the only per-connection cost
//!   of a delivery is the write. Nothing is queued per connection; a
//!   connection that falls behind reads history (or is told of a loss), and
//!   one that is handed a live publication more than `push.keepalive` old
//!   is slow.
//! - Several channels are **merged**: a task per subscription forwards into
//!   one queue bounded in bytes (`push.max_queue_bytes`, counted in the
//!   metrics' queued bytes); a connection that leaves it full for
//!   `push.keepalive` is slow.
//! - A **changing** set of channels (a protocol whose clients subscribe and
//!   unsubscribe on an open connection: [`Feed::changing`], [`Feed::add`],
//!   [`Feed::remove`]) starts empty, reads its first channel directly and is
//!   merged only when a second one is added, so a connection of one channel
//!   costs the same whichever protocol it speaks. Once merged, it stays so.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::AbortHandle;

use crate::hub::{Event, Lost, Subscription, Tap};
use crate::message::{Id, Publication};
use crate::metrics::Metrics;

/// What a connection is sent next.
#[derive(Debug)]
pub enum Item {
    /// A publication, holding its share of the byte budget until written.
    Message(Arc<Publication>, Budget),
    /// Messages of this channel after the cursor are gone.
    Lost(Arc<str>, Lost),
    /// The connection could not keep up.
    Slow,
    /// The engine is shutting down.
    Closed,
}

/// Bytes of the queue taken by one message; released when dropped. A
/// direct feed queues nothing: its budget is empty.
#[derive(Debug)]
pub struct Budget {
    queue: Option<Arc<Queue>>,
    cost: u32,
}

/// A connection's byte budget, and the engine's metrics.
#[derive(Debug)]
struct Queue {
    space: Semaphore,
    metrics: Arc<Metrics>,
    /// Set by the first forwarder that finds the connection slow, so a
    /// connection of several channels is counted once.
    slow: AtomicBool,
}

impl Drop for Budget {
    fn drop(&mut self) {
        if let Some(queue) = &self.queue {
            queue.space.add_permits(self.cost as usize);
            queue.metrics.unqueue(u64::from(self.cost));
        }
    }
}

/// Bytes counted for a message besides its data.
const OVERHEAD: usize = 64;

pub struct Feed {
    source: Source,
    positions: Vec<(Arc<str>, Id)>,
    /// Kept by a changing feed, to add channels.
    more: Option<More>,
}

enum Source {
    /// A changing feed of no channel.
    Empty,
    Direct(Direct),
    Merged(Merged),
}

/// Several subscriptions forwarded into one queue.
struct Merged {
    rx: mpsc::UnboundedReceiver<Item>,
    tx: mpsc::UnboundedSender<Item>,
    budget: Arc<Queue>,
    forwarders: Vec<(Arc<str>, AbortHandle)>,
}

impl Merged {
    fn new(max_bytes: usize, metrics: Arc<Metrics>) -> Merged {
        let (tx, rx) = mpsc::unbounded_channel();
        Merged {
            rx,
            tx,
            budget: Arc::new(Queue {
                space: Semaphore::new(max_bytes.min(Semaphore::MAX_PERMITS)),
                metrics,
                slow: AtomicBool::new(false),
            }),
            forwarders: Vec::new(),
        }
    }

    /// Forwards `sub` into the queue, in place of any subscription to its
    /// channel.
    fn add(&mut self, sub: Subscription, patience: Duration) {
        let channel = sub.channel().clone();
        self.remove(&channel);
        let task = tokio::spawn(forward(sub, self.tx.clone(), self.budget.clone(), patience));
        self.forwarders.push((channel, task.abort_handle()));
    }

    fn remove(&mut self, channel: &str) {
        self.forwarders.retain(|(c, task)| {
            let keep = &**c != channel;
            if !keep {
                task.abort();
            }
            keep
        });
    }
}

/// What a changing feed needs to add a channel.
struct More {
    max_bytes: usize,
    patience: Duration,
    metrics: Arc<Metrics>,
}

/// One subscription, read by the connection's own task.
struct Direct {
    sub: Subscription,
    /// Publications after this are live; older ones are the history the
    /// connection asked for, and are never late.
    opened: tokio::time::Instant,
    patience: Duration,
    metrics: Arc<Metrics>,
    /// Set once the feed has said `Slow`: it says `Closed` from then on.
    ended: bool,
    /// The channel's signal that another quarter of its ring was sent.
    pressure: Arc<Notify>,
}

impl Direct {
    fn new(sub: Subscription, patience: Duration, metrics: Arc<Metrics>) -> Direct {
        Direct {
            pressure: sub.pressure(),
            sub,
            opened: tokio::time::Instant::now(),
            patience,
            metrics,
            ended: false,
        }
    }

    /// `first`: the first item of a batch. Only it is checked for lateness:
    /// what follows it in the batch was published after it.
    fn item(&mut self, event: Event, first: bool) -> Item {
        if self.ended {
            return Item::Closed;
        }
        match event {
            Event::Message(p) => {
                if first && p.at > self.opened && p.at.elapsed() > self.patience {
                    self.ended = true;
                    self.metrics.slow_disconnect();
                    return Item::Slow;
                }
                Item::Message(
                    p,
                    Budget {
                        queue: None,
                        cost: 0,
                    },
                )
            }
            Event::Lost(lost) => Item::Lost(self.sub.channel().clone(), lost),
            Event::Closed => Item::Closed,
        }
    }
}

impl Feed {
    /// Opens the feed of `subs`: direct for one subscription, else merged
    /// into one queue of at most `max_bytes`, counted in `metrics`' queued
    /// bytes.
    pub fn open(
        mut subs: Vec<Subscription>,
        max_bytes: usize,
        patience: Duration,
        metrics: Arc<Metrics>,
    ) -> Feed {
        let positions = subs
            .iter()
            .map(|s| (s.channel().clone(), s.position()))
            .collect();
        if subs.len() == 1 {
            if let Some(sub) = subs.pop() {
                return Feed {
                    source: Source::Direct(Direct::new(sub, patience, metrics)),
                    positions,
                    more: None,
                };
            }
        }
        let mut merged = Merged::new(max_bytes, metrics);
        for sub in subs {
            merged.add(sub, patience);
        }
        Feed {
            source: Source::Merged(merged),
            positions,
            more: None,
        }
    }

    /// A feed of no channel yet: direct with one channel, merged into one
    /// queue of at most `max_bytes` from the second. It ends
    /// ([`Item::Closed`]) only through a channel's end; a connection with
    /// none watches [`crate::hub::Hub::closing`].
    pub fn changing(max_bytes: usize, patience: Duration, metrics: Arc<Metrics>) -> Feed {
        Feed {
            source: Source::Empty,
            positions: Vec::new(),
            more: Some(More {
                max_bytes,
                patience,
                metrics,
            }),
        }
    }

    /// Adds a subscription to a changing feed (one to a channel already
    /// there replaces it). A feed of fixed channels ignores it, and so does
    /// one that has said [`Item::Slow`].
    pub fn add(&mut self, sub: Subscription) {
        let Some(more) = &self.more else {
            return;
        };
        self.source = match std::mem::replace(&mut self.source, Source::Empty) {
            Source::Empty => Source::Direct(Direct::new(sub, more.patience, more.metrics.clone())),
            Source::Direct(d) if d.ended => Source::Direct(d),
            Source::Direct(d) if d.sub.channel() == sub.channel() => {
                Source::Direct(Direct::new(sub, more.patience, more.metrics.clone()))
            }
            Source::Direct(d) => {
                // The subscription keeps its cursor: its forwarder goes on
                // from where the connection's task stopped reading.
                let mut merged = Merged::new(more.max_bytes, more.metrics.clone());
                merged.add(d.sub, more.patience);
                merged.add(sub, more.patience);
                Source::Merged(merged)
            }
            Source::Merged(mut merged) => {
                merged.add(sub, more.patience);
                Source::Merged(merged)
            }
        };
    }

    /// Removes a channel from a changing feed. What a merged feed queued of
    /// it already is still received: the caller skips it.
    pub fn remove(&mut self, channel: &str) {
        if self.more.is_none() {
            return;
        }
        match &mut self.source {
            Source::Direct(d) if &**d.sub.channel() == channel && !d.ended => {
                self.source = Source::Empty;
            }
            Source::Merged(merged) => merged.remove(channel),
            _ => {}
        }
    }

    /// Each channel's position when the feed opened.
    pub fn positions(&self) -> &[(Arc<str>, Id)] {
        &self.positions
    }

    /// The next item; cancel-safe.
    pub async fn recv(&mut self) -> Item {
        match &mut self.source {
            Source::Empty => std::future::pending().await,
            Source::Direct(d) if d.ended => Item::Closed,
            Source::Direct(d) => {
                let event = d.sub.recv().await;
                d.item(event, true)
            }
            Source::Merged(m) => m.rx.recv().await.unwrap_or(Item::Closed),
        }
    }

    /// Waits until `until` (`push.coalesce`), or less: a feed of one
    /// channel stops waiting once another quarter of the channel's ring has
    /// been sent, so the ring never runs past it. (Several channels are
    /// forwarded into a queue bounded in bytes, which a wait only fills.)
    pub async fn hold(&self, until: tokio::time::Instant) {
        match &self.source {
            Source::Direct(d) => {
                tokio::select! {
                    biased;
                    _ = tokio::time::sleep_until(until) => {}
                    _ = d.pressure.notified() => {}
                }
            }
            Source::Empty | Source::Merged(_) => tokio::time::sleep_until(until).await,
        }
    }

    /// How many connections on this engine share this feed's publications:
    /// its channel's live subscribers. A feed of several channels counts as
    /// crowded (its forwarders hold the subscriptions).
    pub fn subscribers(&self) -> usize {
        match &self.source {
            Source::Empty => 0,
            Source::Direct(d) => d.sub.sharing(),
            Source::Merged(_) => usize::MAX,
        }
    }

    /// Registers `tap` with a feed of one channel (read directly), and says
    /// whether it did: a feed of several channels has no single position
    /// for it to continue.
    pub fn tap(&mut self, tap: Arc<dyn Tap>) -> bool {
        match &mut self.source {
            Source::Direct(d) if !d.ended => {
                d.sub.tap(tap);
                true
            }
            _ => false,
        }
    }

    /// A feed of one channel, tapped, with nothing waiting: its cursor, to
    /// hand to its tap. (A changing feed may hold a channel its tap is not
    /// registered with.) Takes no lock of the channel's.
    pub fn drained(&self) -> Option<Id> {
        match &self.source {
            Source::Direct(d) if !d.ended && d.sub.is_tapped() && d.sub.is_drained() => {
                Some(d.sub.position())
            }
            _ => None,
        }
    }

    /// Continues a feed of one channel after `position`, which its tap
    /// reached ([`Subscription::resume`]).
    pub fn resume(&mut self, position: Id) {
        if let Source::Direct(d) = &mut self.source {
            d.sub.resume(position);
        }
    }

    /// The next item if one is ready.
    pub fn try_recv(&mut self) -> Option<Item> {
        match &mut self.source {
            Source::Empty => None,
            Source::Direct(d) if d.ended => None,
            Source::Direct(d) => {
                let event = d.sub.try_recv()?;
                Some(d.item(event, false))
            }
            Source::Merged(m) => m.rx.try_recv().ok(),
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Source::Merged(merged) = &self.source {
            for (_, f) in &merged.forwarders {
                f.abort();
            }
        }
    }
}

async fn forward(
    mut sub: Subscription,
    tx: mpsc::UnboundedSender<Item>,
    budget: Arc<Queue>,
    patience: Duration,
) {
    loop {
        let item = match sub.recv().await {
            Event::Message(p) => {
                let cost = (p.data.len() + OVERHEAD).min(u32::MAX as usize) as u32;
                let permit = tokio::time::timeout(patience, budget.space.acquire_many(cost)).await;
                match permit {
                    Ok(Ok(permit)) => {
                        // Given back by the Budget's drop.
                        permit.forget();
                        budget.metrics.queue(u64::from(cost));
                        Item::Message(
                            p,
                            Budget {
                                queue: Some(budget.clone()),
                                cost,
                            },
                        )
                    }
                    _ => {
                        if !budget.slow.swap(true, Ordering::Relaxed) {
                            budget.metrics.slow_disconnect();
                        }
                        let _ = tx.send(Item::Slow);
                        return;
                    }
                }
            }
            Event::Lost(lost) => Item::Lost(sub.channel().clone(), lost),
            Event::Closed => {
                let _ = tx.send(Item::Closed);
                return;
            }
        };
        if tx.send(item).is_err() {
            return;
        }
    }
}
