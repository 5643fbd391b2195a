//! A connection's feed: its subscriptions merged into one queue bounded in
//! bytes (`push.max_queue_bytes`). A connection that cannot take what it is
//! sent for `push.keepalive` seconds is reported as slow, so it never slows
//! the publisher or anyone else and its memory stays bounded. The bytes
//! queued and the connections found slow are counted in [`Metrics`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::AbortHandle;

use crate::hub::{Event, Lost, Subscription};
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

/// Bytes of the queue taken by one message; released when dropped.
#[derive(Debug)]
pub struct Budget {
    queue: Arc<Queue>,
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
        self.queue.space.add_permits(self.cost as usize);
        self.queue.metrics.unqueue(u64::from(self.cost));
    }
}

/// Bytes counted for a message besides its data.
const OVERHEAD: usize = 64;

pub struct Feed {
    rx: mpsc::UnboundedReceiver<Item>,
    forwarders: Vec<AbortHandle>,
    positions: Vec<(Arc<str>, Id)>,
}

impl Feed {
    /// Starts forwarding `subs` into one queue of at most `max_bytes`,
    /// counted in `metrics`' queued bytes.
    pub fn open(
        subs: Vec<Subscription>,
        max_bytes: usize,
        patience: Duration,
        metrics: Arc<Metrics>,
    ) -> Feed {
        let budget = Arc::new(Queue {
            space: Semaphore::new(max_bytes.min(Semaphore::MAX_PERMITS)),
            metrics,
            slow: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let positions = subs
            .iter()
            .map(|s| (s.channel().clone(), s.position()))
            .collect();
        let forwarders = subs
            .into_iter()
            .map(|sub| {
                tokio::spawn(forward(sub, tx.clone(), budget.clone(), patience)).abort_handle()
            })
            .collect();
        Feed {
            rx,
            forwarders,
            positions,
        }
    }

    /// Each channel's position when the feed opened.
    pub fn positions(&self) -> &[(Arc<str>, Id)] {
        &self.positions
    }

    /// The next item; cancel-safe.
    pub async fn recv(&mut self) -> Item {
        self.rx.recv().await.unwrap_or(Item::Closed)
    }

    /// The next item if one is queued.
    pub fn try_recv(&mut self) -> Option<Item> {
        self.rx.try_recv().ok()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        for f in &self.forwarders {
            f.abort();
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
                                queue: budget.clone(),
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
