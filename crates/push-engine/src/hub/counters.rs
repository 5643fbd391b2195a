//! The hub's own counters and gauges (publications, subscribers, history,
//! losses), read by [`super::Hub::stats`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::cluster;

/// A monotonic counter or gauge.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn inc(&self) {
        self.add(1);
    }
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn dec(&self) {
        self.sub(1);
    }
    pub(crate) fn sub(&self, n: u64) {
        self.0.fetch_sub(n, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) publications: Counter,
    pub(crate) subscribers: Counter,
    pub(crate) history_messages: Counter,
    pub(crate) history_bytes: Counter,
    pub(crate) lagged: Counter,
    pub(crate) lost: Counter,
    pub(crate) collected: Counter,
    /// The channels whose subscriptions changed (`cluster.rs` reports
    /// their counts).
    pub(crate) occupancy: Arc<cluster::Touched>,
}
