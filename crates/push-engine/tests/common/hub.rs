//! Helpers for the hub on its own (tests/hub.rs, tests/hub_history.rs,
//! tests/hub_lag.rs).

use std::sync::Arc;
use std::time::Duration;

use push_engine::{Config, Event, Hub, Id, Lost, Outgoing, Publication, Subscription};

pub fn hub_with(tweak: impl FnOnce(&mut Config)) -> Hub {
    let mut config = Config::default();
    tweak(&mut config);
    Hub::new(Arc::new(config))
}

pub fn hub() -> Hub {
    hub_with(|_| {})
}

pub fn publish(hub: &Hub, channel: &str, data: &str) -> Arc<Publication> {
    hub.publish(channel, Outgoing::new(data.to_owned()))
        .unwrap_or_else(|e| panic!("publish to {channel}: {e}"))
}

pub fn start(epoch: u64) -> Id {
    Id { epoch, offset: 0 }
}

/// The next event, which must be ready now.
pub fn next(sub: &mut Subscription) -> Event {
    sub.try_recv().expect("an event should be ready")
}

pub fn message(event: Event) -> Arc<Publication> {
    match event {
        Event::Message(p) => p,
        other => panic!("expected a message, got {other:?}"),
    }
}

pub fn lost(event: Event) -> Lost {
    match event {
        Event::Lost(l) => l,
        other => panic!("expected a loss report, got {other:?}"),
    }
}

pub fn next_message(sub: &mut Subscription) -> Arc<Publication> {
    message(next(sub))
}

/// The next event, waiting at most a second for it.
pub async fn recv(sub: &mut Subscription) -> Event {
    tokio::time::timeout(Duration::from_secs(1), sub.recv())
        .await
        .expect("an event within a second")
}

pub fn assert_nothing_ready(sub: &mut Subscription) {
    if let Some(event) = sub.try_recv() {
        panic!("expected nothing, got {event:?}");
    }
}

pub fn text(p: &Publication) -> &str {
    std::str::from_utf8(&p.data).unwrap()
}
