//! A gate for a connection's quiet sources — its socket's read side, its
//! timers — so that a task woken for a delivery does not poll them again.
//!
//! `tokio::select!` polls every branch whenever the task wakes. A
//! connection task wakes once per delivery, and re-polling its socket's
//! read side and its timers each time costs more than the delivery itself
//! (a readiness registration, timer checks). Behind a gate they are polled
//! with the gate's own waker, and again only once that waker fired (one of
//! them has news), one of them was ready (it must be polled again), or the
//! task's waker changed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

pub struct Gate {
    shared: Arc<Shared>,
    /// `shared` as a waker, made once.
    waker: Waker,
    /// The task's waker last stored in `shared`, to see a change without
    /// taking the lock.
    known: Option<Waker>,
}

struct Shared {
    /// Set when a source behind the gate woke it (or must be polled again).
    open: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.open.store(true, Ordering::Release);
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(task) = task.as_ref() {
            task.wake_by_ref();
        }
    }
}

impl Gate {
    pub fn new() -> Self {
        let shared = Arc::new(Shared {
            open: AtomicBool::new(true),
            task: Mutex::new(None),
        });
        Gate {
            waker: Waker::from(shared.clone()),
            shared,
            known: None,
        }
    }

    /// Runs `poll` (which polls the sources behind the gate with the context
    /// it is given) if the gate is open, else answers `Pending`.
    pub fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let same_task = self.known.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
        if same_task {
            if !self.shared.open.swap(false, Ordering::AcqRel) {
                return Poll::Pending;
            }
        } else {
            let mut task = self.shared.task.lock().unwrap_or_else(|e| e.into_inner());
            *task = Some(cx.waker().clone());
            drop(task);
            self.known = Some(cx.waker().clone());
            self.shared.open.store(false, Ordering::Release);
        }
        let result = poll(&mut Context::from_waker(&self.waker));
        if result.is_ready() {
            self.shared.open.store(true, Ordering::Release);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::time::Duration;

    async fn next(
        gate: &mut Gate,
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<u32>,
        polls: &mut u32,
    ) -> Option<u32> {
        poll_fn(|cx| {
            gate.poll(cx, |cx| {
                *polls += 1;
                rx.poll_recv(cx)
            })
        })
        .await
    }

    /// In a task, as a connection's session runs (a task's waker stays
    /// the same; `block_on`'s may not, and then the gate is always open).
    #[tokio::test]
    async fn a_source_behind_the_gate_is_polled_once_it_wakes() {
        tokio::spawn(in_a_task()).await.unwrap();
    }

    async fn in_a_task() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let (mut gate, mut polls) = (Gate::new(), 0);
        let quiet = Duration::from_millis(20);
        // Nothing yet: polled once, then not again until it wakes.
        for _ in 0..2 {
            let next = next(&mut gate, &mut rx, &mut polls);
            assert!(tokio::time::timeout(quiet, next).await.is_err());
        }
        assert_eq!(polls, 1, "a quiet source is not polled again");
        tx.send(7).unwrap();
        assert_eq!(next(&mut gate, &mut rx, &mut polls).await, Some(7));
        assert_eq!(polls, 2);
        // Ready: polled again on the next try, even with nothing new.
        tx.send(8).unwrap();
        assert_eq!(next(&mut gate, &mut rx, &mut polls).await, Some(8));
        assert_eq!(polls, 3);
    }
}
