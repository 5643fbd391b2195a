//! Write coalescing (`push.coalesce`): a connection that was written to
//! less than `push.coalesce` ago waits until that much time has passed
//! before its next write, and what arrives meanwhile goes out with it.
//!
//! Nagle's algorithm, with a timer in place of the acknowledgement: a
//! connection written to rarely (one message now and then) is written at
//! once; a busy one is written at most once per `push.coalesce`, so a burst
//! of publications costs each subscriber one write, one wake-up of its task
//! and one read by the client instead of one per message. That is where a
//! fan-out spends its time: most of it is the kernel's, per write.
//!
//! The wait never lets the channel's ring (`push.channel_buffer`) run past
//! a connection: it ends early once another quarter of the ring has been
//! sent ([`super::feed::Feed::hold`]). A connection whose last batch did
//! not take all there was does not wait at all.

use std::time::Duration;

use tokio::time::Instant;

use super::feed::{Feed, Item};

pub(crate) struct Coalesce {
    /// `push.coalesce`; zero: never wait.
    delay: Duration,
    /// When the last batch went out.
    last: Option<Instant>,
    /// The last batch took everything there was.
    drained: bool,
}

impl Coalesce {
    pub(crate) fn new(delay: Duration) -> Coalesce {
        Coalesce {
            delay,
            last: None,
            drained: true,
        }
    }

    /// Called when the first message of a batch arrived: until when to
    /// wait for more before writing, if at all.
    pub(crate) fn hold(&self) -> Option<Instant> {
        if self.delay.is_zero() || !self.drained {
            return None;
        }
        let until = self.last? + self.delay;
        (until > Instant::now()).then_some(until)
    }

    /// Before a batch whose first item is `first`: a message to a
    /// connection written to moments ago waits for what follows it.
    pub(crate) async fn before(&self, feed: &Feed, first: &Item) {
        if matches!(first, Item::Message(..)) {
            if let Some(until) = self.hold() {
                feed.hold(until).await;
            }
        }
    }

    /// Called when a batch went out; `drained`: it took all there was.
    pub(crate) fn wrote(&mut self, drained: bool) {
        if !self.delay.is_zero() {
            self.last = Some(Instant::now());
            self.drained = drained;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Paused time: `Instant::now()` moves only with `advance`.
    #[tokio::test(start_paused = true)]
    async fn waits_only_after_a_recent_write_that_took_everything() {
        let ms = Duration::from_millis;
        let mut c = Coalesce::new(ms(10));
        assert_eq!(c.hold(), None, "never written: write at once");
        c.wrote(true);
        let t0 = Instant::now();
        tokio::time::advance(ms(2)).await;
        assert_eq!(
            c.hold(),
            Some(t0 + ms(10)),
            "2 ms after a write: until 10 ms after it"
        );
        tokio::time::advance(ms(9)).await;
        assert_eq!(c.hold(), None, "11 ms after: write at once");

        // A batch that left messages behind: the next goes at once.
        c.wrote(false);
        tokio::time::advance(ms(1)).await;
        assert_eq!(c.hold(), None);

        let mut off = Coalesce::new(Duration::ZERO);
        off.wrote(true);
        tokio::time::advance(ms(1)).await;
        assert_eq!(off.hold(), None, "push.coalesce = 0: never wait");
    }
}
