//! Epochs of the memory broker's channels: the first half of every id
//! (see [`crate::message::Id`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The last epoch this process handed out (every hub of it: an engine
/// stopped and started again in one process continues from here).
static LAST_EPOCH: AtomicU64 = AtomicU64::new(0);

/// An epoch for a new channel of the memory broker: microseconds since the
/// Unix epoch, but strictly after every epoch this process handed out
/// before, even if the clock went back, so a channel created again (after
/// collection, or an engine restarted in the process) never reuses an id.
/// (Across processes only the clock orders them; a cursor of another epoch
/// is reported as a loss, never taken as a position in the new one.)
pub(super) fn next_epoch() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    epoch_after(&LAST_EPOCH, now)
}

/// `max(now, last + 1)`, recorded as the new last.
fn epoch_after(last: &AtomicU64, now: u64) -> u64 {
    let mut seen = last.load(Ordering::Relaxed);
    loop {
        let next = now.max(seen.saturating_add(1));
        match last.compare_exchange_weak(seen, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(current) => seen = current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::hub::Hub;
    use crate::message::Outgoing;
    use std::sync::Arc;

    #[test]
    fn epochs_never_go_back_with_the_clock() {
        let last = AtomicU64::new(0);
        assert_eq!(epoch_after(&last, 1_000), 1_000);
        assert_eq!(epoch_after(&last, 1_000), 1_001, "same microsecond");
        assert_eq!(epoch_after(&last, 500), 1_002, "the clock went back");
        assert_eq!(epoch_after(&last, 5_000), 5_000);
    }

    #[test]
    fn a_hub_made_after_another_continues_after_its_epochs() {
        // As if an engine stopped in this process had handed out epochs an
        // hour ahead of the clock (the clock went back since).
        let ahead = next_epoch() + 3_600_000_000;
        LAST_EPOCH.fetch_max(ahead, Ordering::Relaxed);
        let hub = Hub::new(Arc::new(Config::default()));
        let id = hub.publish("c", Outgoing::new("x")).unwrap().id;
        assert!(id.epoch > ahead, "{} after {ahead}", id.epoch);
    }
}
