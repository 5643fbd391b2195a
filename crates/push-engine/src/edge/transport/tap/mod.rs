//! A stream written by the publisher itself ([`crate::hub::Tap`]).
//!
//! An event stream served on the socket ([`crate::edge::raw`]) has two
//! writers, never at once. While its task has something to write, the task
//! writes, as any connection's does. Once the task has written everything
//! and its feed is drained, it **parks**: it hands the socket to the tap and
//! waits for nothing but the tap's signal (and its timers). From then on the
//! publisher offers each publication of the channel to the tap, which writes
//! the publication's shared frame to the socket with one non-blocking
//! `sendmsg` — no wake-up, no poll of the task, no copy. The tap gives the
//! socket back, and wakes the task, when it cannot go on:
//!
//! - the write was partial: the rest of the frame is kept for the task to
//!   write first ([`SocketTap::take_rest`]), then what follows through the
//!   write-stall guard, as before;
//! - the socket took nothing (its send buffer is full) or failed: the task
//!   writes the publication from the ring, and meets the error itself;
//! - the publication does not follow the last one written (a gap, a new
//!   epoch): the task reads history and reports a loss if there is one;
//! - `push.coalesce` says to wait: the channel is crowded and the last
//!   write was moments ago, so the task holds the burst as before.
//!
//! The task takes the socket back on its own whenever it has something to
//! write (a heartbeat the idle socket would not take whole, its token's
//! end), and continues its subscription after the tap's position
//! ([`crate::hub::Subscription::resume`]). The tap only ever writes whole
//! publications in order after the last byte the task wrote, so the stream
//! on the wire is the same as the task alone would write.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::coalesce::Coalesce;
use super::feed::{Feed, Item};
use super::wire;
use crate::config::Config;
use crate::hub::Tap;
use crate::message::{Id, Publication};
use crate::metrics::{Metrics, Transport};

mod write;

/// How the stream frames a publication: the same bytes for every
/// subscriber, built once.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    /// An SSE event of one channel.
    Sse,
    /// push's own WebSocket ([`wire::ws_frame`]).
    Ws { json: bool, compress: Option<usize> },
    /// A protocol adapter's own, which may pass publications by.
    Picked(Arc<dyn Pick>),
}

/// What a protocol adapter writes of a publication for one subscriber
/// (a Pusher connection, a Mercure subscriber).
pub(crate) trait Pick: Send + Sync + std::fmt::Debug + 'static {
    /// The bytes to write, shared by every subscriber that gets them, or
    /// `None` if this subscriber does not get `p` (its own client event, a
    /// topic it did not ask for): the tap goes on past it. Called under
    /// the channel's lock, as the task would decide while reading `p`.
    fn pick<'a>(&self, p: &'a Publication) -> Option<&'a Bytes>;
}

impl Frame {
    fn of<'a>(&self, p: &'a Publication) -> Option<&'a Bytes> {
        match self {
            Frame::Sse => Some(&p.sse().whole),
            Frame::Ws { json, compress } => Some(wire::ws_frame(p, *json, *compress)),
            Frame::Picked(pick) => pick.pick(p),
        }
    }
}

#[derive(Debug)]
pub(crate) struct SocketTap {
    state: Mutex<State>,
    /// `State::idle`, read by the publisher without the lock: most offers
    /// find the tap busy, and cost no lock. Set (under the lock) before
    /// the stream checks its feed when it parks, so a publisher that sent
    /// to the ring after that check sees it (the ring's own lock orders
    /// the two); a stale `true` only costs the lock.
    idle: AtomicBool,
    /// Notified when the tap gives the socket back.
    wake: Notify,
    /// Set by the writer once it has written everything it was handed;
    /// cleared by the stream when it hands out more.
    flushed: AtomicBool,
    frame: Frame,
    metrics: Arc<Metrics>,
    transport: Transport,
    /// `push.coalesce` and `push.coalesce_subscribers`.
    coalesce: Duration,
    crowd: usize,
}

#[derive(Debug)]
struct State {
    /// The tap holds the socket: the task waits.
    idle: bool,
    /// The last publication written (by the task, up to the park; by the
    /// tap, after).
    position: Id,
    /// The socket, while the writer is attached ([`SocketTap::attach`]).
    fd: Option<RawFd>,
    /// Each write is an HTTP/1.1 chunk.
    chunked: bool,
    /// What a partial write left of its frame.
    rest: Option<Bytes>,
    /// When the last write went out.
    last: Option<Instant>,
}

/// How a write of the idle socket went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrote {
    /// Whole: the tap still holds the socket.
    Whole,
    /// In part: the rest is kept, and the socket is the task's again.
    Partly,
    /// Not at all (the socket is not the tap's, or takes nothing now): the
    /// socket is the task's.
    Not,
}

impl SocketTap {
    /// A tap writing `frame` of each publication, counting deliveries of
    /// `transport` in `metrics`.
    pub(crate) fn new(
        config: &Config,
        metrics: Arc<Metrics>,
        transport: Transport,
        frame: Frame,
    ) -> Arc<SocketTap> {
        Arc::new(SocketTap {
            state: Mutex::new(State {
                idle: false,
                position: Id {
                    epoch: 0,
                    offset: 0,
                },
                fd: None,
                chunked: false,
                rest: None,
                last: None,
            }),
            idle: AtomicBool::new(false),
            wake: Notify::new(),
            flushed: AtomicBool::new(false),
            frame,
            metrics,
            transport,
            coalesce: config.coalesce,
            crowd: config.coalesce_subscribers,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing in the state can be left half-written by a panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The writer's side: lets the tap write to `fd` (each write an HTTP/1.1
    /// chunk if `chunked`) until the guard is dropped.
    ///
    /// The caller keeps the socket open for as long as it holds the guard:
    /// the tap writes to the descriptor only while it is attached, under its
    /// lock, and the guard's drop takes it under the same lock.
    pub(crate) fn attach(&self, fd: RawFd, chunked: bool) -> Attached<'_> {
        let mut s = self.lock();
        s.fd = Some(fd);
        s.chunked = chunked;
        Attached(self)
    }

    /// The writer's side: what a partial write left, to write before
    /// anything else.
    pub(crate) fn take_rest(&self) -> Option<Bytes> {
        self.lock().rest.take()
    }

    /// The writer's side: everything handed out is written. The writer
    /// polls the stream next, which may then park.
    pub(crate) fn flushed(&self) {
        self.flushed.store(true, Ordering::Release);
    }

    /// The stream's side: it hands out something to write.
    pub(crate) fn unflush(&self) {
        self.flushed.store(false, Ordering::Relaxed);
    }

    /// The stream's side: ready once the writer has written everything it
    /// was handed. It registers no waker: the writer polls the stream
    /// after each write.
    pub(crate) async fn written(&self) {
        std::future::poll_fn(|_| match self.flushed.load(Ordering::Acquire) {
            true => std::task::Poll::Ready(()),
            false => std::task::Poll::Pending,
        })
        .await;
    }

    /// The stream's side: hands the socket to the tap if the writer is
    /// attached and `feed` has nothing waiting; `last` is when the task
    /// last wrote. Checked under the tap's lock, which the publisher takes
    /// after sending to the ring: a publication either is in the ring now
    /// (no park) or will be offered to the idle tap.
    pub(crate) fn park(&self, feed: &Feed, last: Option<Instant>) -> bool {
        let mut s = self.lock();
        if s.fd.is_none() || !self.flushed.load(Ordering::Acquire) {
            return false;
        }
        self.idle.store(true, Ordering::Release);
        let Some(position) = feed.drained() else {
            self.idle.store(false, Ordering::Relaxed);
            return false;
        };
        s.idle = true;
        s.position = position;
        s.last = last.max(s.last);
        true
    }

    /// The stream's side: waits until the tap gives the socket back.
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// The stream's side: takes the socket back (if the tap has not given
    /// it back already); returns the position the tap reached and when it
    /// last wrote.
    pub(crate) fn reclaim(&self) -> (Id, Option<Instant>) {
        let mut s = self.lock();
        s.idle = false;
        self.idle.store(false, Ordering::Relaxed);
        (s.position, s.last)
    }

    /// The stream's side: writes `bytes` (a heartbeat) to the socket the
    /// tap holds, as the tap writes a publication.
    pub(crate) fn write_idle(&self, bytes: &[u8]) -> Wrote {
        let mut s = self.lock();
        if !s.idle {
            return Wrote::Not;
        }
        let wrote = s.write(bytes);
        if wrote != Wrote::Whole {
            s.idle = false;
            self.idle.store(false, Ordering::Relaxed);
        }
        wrote
    }

    /// The stream's side, before it writes anything: the socket is the
    /// task's again, and if the stream was `parked`, its feed continues
    /// where the tap stopped and `coalesce` learns of the tap's last write.
    pub(crate) fn resume(&self, parked: &mut bool, feed: &mut Feed, coalesce: &mut Coalesce) {
        self.unflush();
        if std::mem::take(parked) {
            let (position, last) = self.reclaim();
            feed.resume(position);
            if let Some(last) = last {
                coalesce.written(last);
            }
        }
    }

    fn give_back(&self, mut s: MutexGuard<'_, State>) {
        s.idle = false;
        self.idle.store(false, Ordering::Relaxed);
        drop(s);
        self.wake.notify_one();
    }
}

impl Tap for SocketTap {
    fn offer(&self, p: &Arc<Publication>, sharing: usize) {
        if !self.idle.load(Ordering::Acquire) {
            return;
        }
        let mut s = self.lock();
        if !s.idle {
            return;
        }
        let next = Id {
            epoch: s.position.epoch,
            offset: s.position.offset.wrapping_add(1),
        };
        if p.id.epoch == next.epoch && p.id.offset < next.offset {
            // Written already: the task took the socket back and wrote it
            // before a lane came to offer it.
            return;
        }
        if p.id != next {
            return self.give_back(s);
        }
        let Some(frame) = self.frame.of(p) else {
            // Not this subscriber's: as if written.
            s.position = p.id;
            return;
        };
        let hold = !self.coalesce.is_zero()
            && sharing >= self.crowd
            && s.last
                .is_some_and(|at| p.at.saturating_duration_since(at) < self.coalesce);
        if hold {
            return self.give_back(s);
        }
        match s.write(frame) {
            Wrote::Whole => {
                s.position = p.id;
                s.last = Some(p.at);
                drop(s);
                self.metrics.delivered_direct(self.transport, p.at);
            }
            Wrote::Partly => {
                s.position = p.id;
                s.last = Some(p.at);
                self.give_back(s);
                self.metrics.delivered_direct(self.transport, p.at);
            }
            Wrote::Not => self.give_back(s),
        }
    }

    fn close(&self) {
        let s = self.lock();
        if s.idle {
            self.give_back(s);
        }
    }
}

/// The writer's attachment ([`SocketTap::attach`]): dropping it takes the
/// socket from the tap for good.
pub(crate) struct Attached<'a>(&'a SocketTap);

impl Drop for Attached<'_> {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.fd = None;
        s.idle = false;
        self.0.idle.store(false, Ordering::Relaxed);
        s.rest = None;
    }
}

/// The feed's next item; with a tap, once the writer has written
/// everything ([`SocketTap::flushed`]) and the feed is drained, the socket
/// goes to the tap and this waits for it back (`None`: then
/// [`SocketTap::resume`], and write what the tap left,
/// [`SocketTap::take_rest`]). Cancel-safe: a park outlives it (`parked`).
pub(crate) async fn wait(
    feed: &mut Feed,
    tap: Option<&SocketTap>,
    parked: &mut bool,
    coalesce: &Coalesce,
) -> Option<Item> {
    let Some(tap) = tap else {
        return Some(feed.recv().await);
    };
    if !*parked {
        tokio::select! {
            biased;
            item = feed.recv() => return Some(item),
            () = tap.written() => {}
        }
        if !tap.park(feed, coalesce.last()) {
            return Some(feed.recv().await);
        }
        *parked = true;
    }
    tap.woken().await;
    None
}
