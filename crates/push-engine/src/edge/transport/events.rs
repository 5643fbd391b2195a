//! The body of an event stream (`text/event-stream`), for push's own SSE
//! (`sse.rs`) and the Mercure hub's subscribers: what the feed hands out is
//! turned into events by the door's own [`Events`], batched (up to
//! [`BATCH`] bytes handed to hyper at once, after `push.coalesce` when the
//! stream was written to moments ago: `coalesce.rs`), with a `:` comment
//! every heartbeat, the stream's end when its token expires, and push's
//! `push-slow` event when the feed falls behind.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use tokio::time::{Instant, Interval, Sleep};

use super::coalesce::Coalesce;
use super::feed::{Feed, Item};
use super::gate::Gate;
use super::tap::{wait, SocketTap, Wrote};
use crate::config::Config;
use crate::hub::Lost;
use crate::message::Publication;

/// Bytes of events handed to hyper at once, at most (then the next batch).
pub(crate) const BATCH: usize = 64 * 1024;

/// The last event of a stream that fell behind.
const SLOW: &[u8] = b"event: push-slow\ndata: {\"reason\":\"slow: reconnect to resume\"}\n\n";

/// How a door writes its events.
pub(crate) trait Events: Send + 'static {
    /// The last event of a stream whose token expired (`None`: it just
    /// ends).
    const EXPIRED: Option<&'static [u8]>;

    /// Queues what a publication means for this subscriber (nothing, if it
    /// is not for it).
    fn message(&mut self, p: Arc<Publication>, pending: &mut VecDeque<Bytes>);

    /// Queues the event telling the subscriber that messages of `channel`
    /// were lost.
    fn lost(&mut self, channel: Arc<str>, lost: Lost, pending: &mut VecDeque<Bytes>);
}

pub(crate) struct EventStream<E> {
    events: E,
    feed: Feed,
    heartbeat: Interval,
    pending: VecDeque<Bytes>,
    /// Fires when the subscriber's token expires.
    expires: Option<Pin<Box<Sleep>>>,
    /// Before the timers.
    gate: Gate,
    /// `push.coalesce`.
    coalesce: Coalesce,
    done: bool,
    /// Writes to the socket while the stream is parked (`tap.rs`).
    tap: Option<Arc<SocketTap>>,
    /// The stream handed its socket to the tap.
    parked: bool,
}

impl<E: Events> EventStream<E> {
    /// A stream of `feed` that opens with `first` and sends a `:` comment
    /// every `heartbeat`, until `expires`.
    pub(crate) fn new(
        events: E,
        feed: Feed,
        first: Bytes,
        heartbeat: Duration,
        expires: Option<Instant>,
        config: &Config,
    ) -> Self {
        let mut interval = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        EventStream {
            events,
            feed,
            heartbeat: interval,
            pending: VecDeque::from([first]),
            expires: expires.map(|at| Box::pin(tokio::time::sleep_until(at))),
            gate: Gate::new(),
            coalesce: Coalesce::new(config),
            done: false,
            tap: None,
            parked: false,
        }
    }

    /// Lets `tap`, registered with the feed, write while the stream has
    /// nothing to (once a writer attaches it).
    pub(crate) fn tapped(mut self, tap: Arc<SocketTap>) -> Self {
        self.tap = Some(tap);
        self
    }

    /// The response body.
    pub(crate) fn body(self) -> Body {
        Body::from_stream(futures_util::stream::unfold(self, |mut s| async move {
            let chunk = s.next().await?;
            Some((Ok::<_, std::convert::Infallible>(chunk), s))
        }))
    }

    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                self.unpark();
                return Some(chunk);
            }
            if self.done {
                self.unpark();
                return None;
            }
            // The timers are polled only when they woke the task, not on
            // every delivery (see `gate`).
            let (gate, heartbeat, expires) =
                (&mut self.gate, &mut self.heartbeat, &mut self.expires);
            let timers = std::future::poll_fn(|cx| {
                gate.poll(cx, |cx| {
                    if let Some(sleep) = expires.as_mut() {
                        if sleep.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(true);
                        }
                    }
                    heartbeat.poll_tick(cx).map(|_| false)
                })
            });
            let tap = self.tap.as_deref();
            let wait = wait(&mut self.feed, tap, &mut self.parked, &self.coalesce);
            let next = tokio::select! {
                biased;
                expired = timers => Next::Timer { expired },
                item = wait => Next::Feed(item),
            };
            // Timers first (above): behind the gate they cost an atomic
            // swap while quiet, and a feed that is always ready cannot
            // starve them.
            match next {
                Next::Timer { expired: true } => {
                    self.done = true;
                    self.pending.extend(E::EXPIRED.map(Bytes::from_static));
                }
                Next::Timer { expired: false } => self.beat(),
                Next::Feed(Some(item)) => {
                    self.coalesce.before(&self.feed, &item).await;
                    self.batch(item);
                }
                // The tap gave the socket back: an empty chunk takes the
                // writer to what it left (`SocketTap::take_rest`).
                Next::Feed(None) => self.pending.push_back(Bytes::new()),
            }
        }
    }

    /// A heartbeat: written on the tap's socket while parked, else queued.
    fn beat(&mut self) {
        const BEAT: &[u8] = b":\n\n";
        match self
            .tap
            .as_deref()
            .filter(|_| self.parked)
            .map(|t| t.write_idle(BEAT))
        {
            Some(Wrote::Whole) => {}
            // The rest is the tap's to hand to the writer.
            Some(Wrote::Partly) => self.pending.push_back(Bytes::new()),
            Some(Wrote::Not) | None => self.pending.push_back(Bytes::from_static(BEAT)),
        }
    }

    /// Before anything is handed to the writer: the socket is the task's
    /// again, and the feed continues where the tap stopped.
    fn unpark(&mut self) {
        if let Some(tap) = &self.tap {
            tap.resume(&mut self.parked, &mut self.feed, &mut self.coalesce);
        }
    }

    /// Queues `first` and what is already waiting behind it (up to
    /// [`BATCH`] bytes): hyper writes them together.
    fn batch(&mut self, first: Item) {
        let mut bytes = 0;
        let mut item = Some(first);
        while let Some(next) = item.take() {
            let queued = self.pending.len();
            self.push(next);
            bytes += self
                .pending
                .iter()
                .skip(queued)
                .map(Bytes::len)
                .sum::<usize>();
            if self.done {
                break;
            }
            if bytes >= BATCH {
                self.coalesce.wrote(false);
                return;
            }
            item = self.feed.try_recv();
        }
        self.coalesce.wrote(true);
    }

    fn push(&mut self, item: Item) {
        match item {
            Item::Message(p, _budget) => self.events.message(p, &mut self.pending),
            Item::Lost(channel, lost) => self.events.lost(channel, lost, &mut self.pending),
            Item::Slow => {
                self.pending.push_back(Bytes::from_static(SLOW));
                self.done = true;
            }
            Item::Closed => self.done = true,
        }
    }
}

/// What woke a stream.
enum Next {
    Timer { expired: bool },
    Feed(Option<Item>),
}
