//! A channel's taps, and the lanes that share writing to them.
//!
//! The publisher offers each publication to the channel's taps itself, one
//! after another (`channel.rs`). A channel of many idle connections would
//! keep one worker thread writing to all of them while the others idle —
//! the last connection served a thousand writes after the first. So once a
//! channel has [`LANE_MIN`] taps, new ones go to **lanes**: one per other
//! worker thread of the runtime, each a task of its own with its taps and
//! a queue. The publisher offers each publication to its own taps and
//! queues it on every lane, waking the lane's task: one wake-up per worker
//! thread, not per connection, and the threads write at once.
//!
//! A lane offers publications in the order they were queued. A lane that
//! falls the subscribers' ring behind (its thread busy
//! elsewhere) drops its queue and gives every tap its socket back: their
//! connections read the ring, where the publications are, as if the tap
//! had never been offered them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use slab::Slab;
use tokio::sync::Notify;

use super::Tap;
use crate::message::Publication;

/// Taps a channel's publisher writes to itself before it opens lanes.
pub const LANE_MIN: usize = 32;

/// Where a tap is: the publisher's own, or a lane's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TapKey {
    /// 0: the publisher's own; `n`: lane `n - 1`.
    lane: usize,
    key: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Taps {
    own: Slab<Arc<dyn Tap>>,
    lanes: Vec<Arc<Lane>>,
    /// Taps in all, the publisher's and the lanes'.
    count: usize,
}

#[derive(Debug, Default)]
struct Lane {
    taps: Mutex<Slab<Arc<dyn Tap>>>,
    queue: Mutex<Queue>,
    wake: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    /// Each publication, and how many taps the channel had.
    items: VecDeque<(Arc<Publication>, usize)>,
    /// The lane fell `bound` behind: its taps give their sockets back.
    overflowed: bool,
    /// The channel is gone: the lane's task ends.
    closed: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Neither a queue nor a slab is left half-changed by a panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Taps {
    /// Adds a tap: the publisher's own up to [`LANE_MIN`], then to the
    /// lane (or the publisher) with the fewest.
    pub(crate) fn insert(&mut self, tap: Arc<dyn Tap>) -> TapKey {
        self.count += 1;
        if self.own.len() >= LANE_MIN {
            self.open_lanes();
            let fewest = self
                .lanes
                .iter()
                .enumerate()
                .map(|(i, lane)| (lock(&lane.taps).len(), i))
                .min();
            if let Some((_, i)) = fewest.filter(|(n, _)| *n < self.own.len()) {
                let key = lock(&self.lanes[i].taps).insert(tap);
                return TapKey { lane: i + 1, key };
            }
        }
        TapKey {
            lane: 0,
            key: self.own.insert(tap),
        }
    }

    /// One lane per worker thread besides the publisher's, each with its
    /// task; none outside a multi-threaded runtime.
    fn open_lanes(&mut self) {
        if !self.lanes.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let others = runtime.metrics().num_workers().saturating_sub(1);
        for _ in 0..others {
            let lane = Arc::new(Lane::default());
            runtime.spawn(run(lane.clone()));
            self.lanes.push(lane);
        }
    }

    pub(crate) fn remove(&mut self, at: TapKey) {
        let removed = match at.lane {
            0 => self.own.try_remove(at.key).is_some(),
            n => self
                .lanes
                .get(n - 1)
                .is_some_and(|lane| lock(&lane.taps).try_remove(at.key).is_some()),
        };
        if removed {
            self.count -= 1;
        }
    }

    /// Offers `p` to the publisher's own taps, and queues it on each lane,
    /// which may fall `bound` publications behind (the subscribers' ring:
    /// past it, they could not read them either). Called with the channel
    /// locked, in publication order.
    pub(crate) fn offer(&self, p: &Arc<Publication>, bound: usize) {
        let sharing = self.count;
        for lane in &self.lanes {
            let mut q = lock(&lane.queue);
            if q.items.len() >= bound.max(1) {
                q.items.clear();
                q.overflowed = true;
            } else {
                q.items.push_back((p.clone(), sharing));
            }
            drop(q);
            lane.wake.notify_one();
        }
        for (_, tap) in &self.own {
            tap.offer(p, sharing);
        }
    }

    /// The channel closed: every tap gives its socket back.
    pub(crate) fn close(&self) {
        for (_, tap) in &self.own {
            tap.close();
        }
        for lane in &self.lanes {
            for (_, tap) in &*lock(&lane.taps) {
                tap.close();
            }
        }
    }
}

impl Drop for Taps {
    fn drop(&mut self) {
        for lane in &self.lanes {
            lock(&lane.queue).closed = true;
            lane.wake.notify_one();
        }
    }
}

/// A lane's task: offers what is queued to the lane's taps, in order.
async fn run(lane: Arc<Lane>) {
    loop {
        lane.wake.notified().await;
        loop {
            let (items, overflowed) = {
                let mut q = lock(&lane.queue);
                if q.closed {
                    return;
                }
                (
                    std::mem::take(&mut q.items),
                    std::mem::take(&mut q.overflowed),
                )
            };
            if items.is_empty() && !overflowed {
                break;
            }
            let taps = lock(&lane.taps);
            if overflowed {
                for (_, tap) in &*taps {
                    tap.close();
                }
            }
            for (p, sharing) in &items {
                for (_, tap) in &*taps {
                    tap.offer(p, *sharing);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use tokio::time::Instant;

    use super::*;
    use crate::message::Id;

    /// A tap that records what it is offered, and from which thread.
    #[derive(Debug, Default)]
    struct Recorder {
        seen: Mutex<Vec<Option<u64>>>,
        threads: Mutex<Vec<std::thread::ThreadId>>,
    }

    impl Tap for Recorder {
        fn offer(&self, p: &Arc<Publication>, _sharing: usize) {
            lock(&self.seen).push(Some(p.id.offset));
            lock(&self.threads).push(std::thread::current().id());
        }
        fn close(&self) {
            lock(&self.seen).push(None);
        }
    }

    fn publication(offset: u64) -> Arc<Publication> {
        Arc::new(Publication::new(
            Arc::from("c"),
            Id { epoch: 1, offset },
            None,
            Bytes::from_static(b"x"),
            true,
            Instant::now(),
        ))
    }

    async fn settled(taps: &[Arc<Recorder>], each: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while taps.iter().any(|t| lock(&t.seen).len() < each) {
            assert!(Instant::now() < deadline, "every tap was offered {each}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_lane_min_taps_share_the_fan_out_with_a_lane_in_order() {
        let mut taps = Taps::default();
        let recorders: Vec<Arc<Recorder>> = (0..3 * LANE_MIN).map(|_| Arc::default()).collect();
        let keys: Vec<TapKey> = recorders
            .iter()
            .map(|r| taps.insert(r.clone() as Arc<dyn Tap>))
            .collect();
        assert_eq!(
            taps.lanes.len(),
            1,
            "one lane beside the publisher's thread"
        );
        let in_lane = keys.iter().filter(|k| k.lane == 1).count();
        // The first LANE_MIN stay the publisher's, then the two fill evenly.
        assert_eq!(in_lane, 3 * LANE_MIN / 2, "{keys:?}");
        assert!(keys[..LANE_MIN].iter().all(|k| k.lane == 0));
        for offset in 1..=200 {
            taps.offer(&publication(offset), 1000);
        }
        settled(&recorders, 200).await;
        let want: Vec<Option<u64>> = (1..=200).map(Some).collect();
        for (r, key) in recorders.iter().zip(&keys) {
            assert_eq!(*lock(&r.seen), want, "{key:?}");
        }
        // The lane's taps are written by its task, not by the publisher.
        let publisher = std::thread::current().id();
        let lane_tap = &recorders[keys.iter().position(|k| k.lane == 1).unwrap()];
        assert!(lock(&lane_tap.threads).iter().all(|t| *t != publisher));
        // Removed taps are offered nothing more, wherever they were.
        for key in &keys {
            taps.remove(*key);
        }
        assert_eq!(taps.count, 0);
        taps.offer(&publication(201), 1000);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(recorders.iter().all(|r| lock(&r.seen).len() == 200));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lane_that_falls_behind_gives_its_taps_back_and_goes_on() {
        let mut taps = Taps::default();
        let recorders: Vec<Arc<Recorder>> = (0..2 * LANE_MIN).map(|_| Arc::default()).collect();
        let keys: Vec<TapKey> = recorders
            .iter()
            .map(|r| taps.insert(r.clone() as Arc<dyn Tap>))
            .collect();
        let lane = taps.lanes[0].clone();
        let lane_tap = recorders[keys.iter().position(|k| k.lane == 1).unwrap()].clone();
        let own_tap = recorders[0].clone();
        {
            // The lane's task is held up: 10 publications with room for 4.
            let _held = lock(&lane.taps);
            for offset in 1..=10 {
                taps.offer(&publication(offset), 4);
            }
            // The lane's task, on the other worker thread, waits for it.
            std::thread::sleep(Duration::from_millis(20));
        }
        for offset in 11..=12 {
            taps.offer(&publication(offset), 4);
        }
        settled(std::slice::from_ref(&lane_tap), 3).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Whatever the lane held when it overflowed is dropped, its taps
        // told (None) before anything after; the publisher's own got all.
        let seen = lock(&lane_tap.seen).clone();
        let close = seen
            .iter()
            .position(Option::is_none)
            .expect("told: {seen:?}");
        let after: Vec<u64> = seen[close + 1..].iter().flatten().copied().collect();
        assert!(after.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert_eq!(after.last(), Some(&12), "{seen:?}");
        assert!(seen.len() < 12, "{seen:?}");
        assert_eq!(lock(&own_tap.seen).len(), 12);
        drop(taps);
        // The lane's task ends with the channel.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(Arc::strong_count(&lane), 1);
    }
}
