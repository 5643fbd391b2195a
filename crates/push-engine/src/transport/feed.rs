//! A connection's feed: its subscriptions merged into one queue bounded in
//! bytes (`push.max_queue_bytes`). A connection that cannot take what it is
//! sent for `push.keepalive` seconds is reported as slow, so it never slows
//! the publisher or anyone else and its memory stays bounded.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;

use crate::hub::{Event, Lost, Subscription};
use crate::message::{Id, Publication};

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
pub struct Budget(#[allow(dead_code)] OwnedSemaphorePermit);

/// Bytes counted for a message besides its data.
const OVERHEAD: usize = 64;

pub struct Feed {
    rx: mpsc::UnboundedReceiver<Item>,
    forwarders: Vec<AbortHandle>,
    positions: Vec<(Arc<str>, Id)>,
}

impl Feed {
    /// Starts forwarding `subs` into one queue of at most `max_bytes`.
    pub fn open(subs: Vec<Subscription>, max_bytes: usize, patience: Duration) -> Feed {
        let budget = Arc::new(Semaphore::new(max_bytes.min(Semaphore::MAX_PERMITS)));
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
    budget: Arc<Semaphore>,
    patience: Duration,
) {
    loop {
        let item = match sub.recv().await {
            Event::Message(p) => {
                let cost = (p.data.len() + OVERHEAD).min(u32::MAX as usize) as u32;
                let permit =
                    tokio::time::timeout(patience, budget.clone().acquire_many_owned(cost)).await;
                match permit {
                    Ok(Ok(permit)) => Item::Message(p, Budget(permit)),
                    _ => {
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
