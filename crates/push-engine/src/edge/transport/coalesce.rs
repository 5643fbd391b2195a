//! Write coalescing (`push.coalesce`): a connection that was written to
//! less than `push.coalesce` ago waits until that much time has passed
//! before its next write, and what arrives meanwhile goes out with it —
//! but only when there is a reason to:
//!
//! - the channel is crowded: at least `push.coalesce_subscribers`
//!   connections on this engine share each publication, so a burst costs
//!   the engine one write per subscriber per message, and batching is what
//!   keeps a flat-out fan-out (bench s4) cheap;
//! - or the connection's last write did not go out at once (its socket's
//!   send buffer was full): writing more now would only queue behind it.
//!
//! Otherwise a connection is written as soon as a message is there, so a
//! lone subscriber of a busy publisher sees each message without delay.
//!
//! Nagle's algorithm, with a timer in place of the acknowledgement. The
//! wait never lets the channel's ring (`push.channel_buffer`) run past a
//! connection: it ends early once another quarter of the ring has been
//! sent ([`super::feed::Feed::hold`]). A connection whose last batch did
//! not take all there was does not wait at all.

use std::time::Duration;

use tokio::time::Instant;

use super::feed::{Feed, Item};
use crate::config::Config;

pub(crate) struct Coalesce {
    /// `push.coalesce`; zero: never wait.
    delay: Duration,
    /// `push.coalesce_subscribers` (at most 1,000,000: a `u32` keeps this
    /// struct, which every SSE stream and WebSocket holds, at 40 bytes).
    crowd: u32,
    /// When the last batch went out.
    last: Option<Instant>,
    /// The last batch took everything there was.
    drained: bool,
    /// The last batch's write had to wait for the socket.
    backed_up: bool,
}

impl Coalesce {
    /// `push.coalesce` and `push.coalesce_subscribers` of `config`.
    pub(crate) fn new(config: &Config) -> Coalesce {
        let crowd = u32::try_from(config.coalesce_subscribers).unwrap_or(u32::MAX);
        Coalesce::with(config.coalesce, crowd)
    }

    fn with(delay: Duration, crowd: u32) -> Coalesce {
        Coalesce {
            delay,
            crowd,
            last: None,
            drained: true,
            backed_up: false,
        }
    }

    /// Called when the first message of a batch arrived, on a channel of
    /// `subscribers` on this engine: until when to wait for more before
    /// writing, if at all.
    pub(crate) fn hold(&self, subscribers: usize) -> Option<Instant> {
        if self.delay.is_zero() || !self.drained {
            return None;
        }
        if subscribers < self.crowd as usize && !self.backed_up {
            return None;
        }
        let until = self.last? + self.delay;
        (until > Instant::now()).then_some(until)
    }

    /// Before a batch whose first item is `first`: a message to a
    /// connection written to moments ago may wait for what follows it.
    pub(crate) async fn before(&self, feed: &Feed, first: &Item) {
        if matches!(first, Item::Message(..)) && !self.delay.is_zero() {
            if let Some(until) = self.hold(feed.subscribers()) {
                feed.hold(until).await;
            }
        }
    }

    /// Called when a batch went out; `drained`: it took all there was.
    pub(crate) fn wrote(&mut self, drained: bool) {
        if !self.delay.is_zero() {
            self.last = Some(Instant::now());
            self.drained = drained;
            self.backed_up = false;
        }
    }

    /// Someone else wrote the connection's last batch, `at` (its tap).
    pub(crate) fn written(&mut self, at: Instant) {
        if !self.delay.is_zero() {
            self.last = Some(at);
            self.drained = true;
            self.backed_up = false;
        }
    }

    /// When the last batch went out.
    pub(crate) fn last(&self) -> Option<Instant> {
        self.last
    }

    /// Called after [`Coalesce::wrote`] by a connection that writes its
    /// socket itself: that write had to wait for the socket.
    pub(crate) fn backed_up(&mut self) {
        self.backed_up = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CROWD: u32 = 32;

    // Paused time: `Instant::now()` moves only with `advance`.
    #[tokio::test(start_paused = true)]
    async fn a_crowded_channel_waits_only_after_a_recent_write_that_took_everything() {
        let ms = Duration::from_millis;
        let mut c = Coalesce::with(ms(10), CROWD);
        assert_eq!(c.hold(CROWD as usize), None, "never written: write at once");
        c.wrote(true);
        let t0 = Instant::now();
        tokio::time::advance(ms(2)).await;
        assert_eq!(
            c.hold(CROWD as usize),
            Some(t0 + ms(10)),
            "2 ms after a write: until 10 ms after it"
        );
        tokio::time::advance(ms(9)).await;
        assert_eq!(c.hold(CROWD as usize), None, "11 ms after: write at once");

        // A batch that left messages behind: the next goes at once.
        c.wrote(false);
        tokio::time::advance(ms(1)).await;
        assert_eq!(c.hold(CROWD as usize), None);

        let mut off = Coalesce::with(Duration::ZERO, 1);
        off.wrote(true);
        off.backed_up();
        tokio::time::advance(ms(1)).await;
        assert_eq!(
            off.hold(CROWD as usize),
            None,
            "push.coalesce = 0: never wait"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_subscriber_waits_only_while_its_socket_is_backed_up() {
        let ms = Duration::from_millis;
        let mut c = Coalesce::with(ms(10), CROWD);
        c.wrote(true);
        tokio::time::advance(ms(2)).await;
        assert_eq!(c.hold(1), None, "the write went out whole: no reason");
        assert_eq!(c.hold(CROWD as usize - 1), None, "one short of the crowd");

        c.wrote(true);
        c.backed_up();
        let t0 = Instant::now();
        tokio::time::advance(ms(2)).await;
        assert_eq!(c.hold(1), Some(t0 + ms(10)), "the socket was backed up");

        c.wrote(true);
        tokio::time::advance(ms(2)).await;
        assert_eq!(c.hold(1), None, "and no longer is");
    }

    /// `wire::write_out` tells a write the socket took at once from one that
    /// had to wait for the peer to read.
    #[tokio::test]
    async fn a_websocket_write_says_when_the_socket_was_backed_up() {
        use tokio::io::AsyncReadExt;
        use tokio_tungstenite::tungstenite::protocol::Role;
        use tokio_tungstenite::WebSocketStream;

        let (server, mut client) = tokio::io::duplex(64);
        let mut ws = WebSocketStream::from_raw_socket(server, Role::Server, None).await;
        let mut pending = false;
        let fits = super::super::wire::write_out(&mut ws, &mut pending, &[1; 32]).await;
        assert_eq!(fits, Ok(false), "32 bytes into a 64-byte pipe");

        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            let mut buf = [0; 16];
            while all.len() < 32 + 256 {
                let n = client.read(&mut buf).await.unwrap_or(0);
                assert!(n > 0, "the pipe closed");
                all.extend_from_slice(&buf[..n]);
            }
            all
        });
        let waits = super::super::wire::write_out(&mut ws, &mut pending, &[2; 256]).await;
        assert_eq!(waits, Ok(true), "256 bytes had to wait for the reader");
        let all = reader.await.unwrap_or_default();
        assert_eq!(all.len(), 32 + 256, "every byte arrived");
        assert!(all[32..].iter().all(|b| *b == 2));
    }

    #[test]
    fn it_stays_40_bytes() {
        // Held by every SSE stream and WebSocket (tests/sse_memory.rs).
        assert_eq!(std::mem::size_of::<Coalesce>(), 40);
    }
}
