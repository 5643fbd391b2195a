//! Cache channels (`cache-…`, `private-cache-…`, `private-encrypted-cache-…`,
//! `presence-cache-…`): a subscriber is sent the channel's last event at
//! once, from push's history (the hub's, or the shared broker's), else
//! `pusher:cache_miss`. How long an event stays cached is how long push
//! keeps history: `push.history` (at least 1) and `push.history_ttl`.

use std::sync::Arc;

use tokio::time::Instant;

use super::frame;
use crate::hub::{Cursor, Hub};
use crate::message::{Id, Publication};

/// Whether `channel` is a cache channel.
pub fn is_cache(channel: &str) -> bool {
    [
        "cache-",
        "private-cache-",
        "private-encrypted-cache-",
        "presence-cache-",
    ]
    .iter()
    .any(|prefix| channel.starts_with(prefix))
}

/// The publication `head` of `channel` (a subscription's starting point:
/// the newest publication when it began), from this engine's history or
/// else the broker's; `None` if it is no longer held, if the channel has
/// none, or if it is one of the protocol's own events.
pub async fn last_event(hub: &Hub, channel: &Arc<str>, head: Id) -> Option<Arc<Publication>> {
    if head.offset == 0 || head.epoch == 0 {
        return None;
    }
    let held = hub
        .history(channel)
        .and_then(|(_, history)| history.into_iter().rev().find(|p| p.id == head));
    let found = match (held, hub.broker()) {
        (Some(p), _) => Some(p),
        (None, None) => None,
        (None, Some(broker)) => {
            let before = Id {
                epoch: head.epoch,
                offset: head.offset - 1,
            };
            let snapshot = broker.read(channel, Cursor::After(before)).await.ok()?;
            snapshot
                .entries
                .into_iter()
                .find(|n| n.id == head)
                .map(|n| {
                    Arc::new(
                        Publication::new(
                            channel.clone(),
                            n.id,
                            n.event,
                            n.data,
                            !n.binary,
                            Instant::now(),
                        )
                        .with_origin(n.origin),
                    )
                })
        }
    };
    found.filter(|p| !p.event.as_deref().is_some_and(frame::reserved))
}
