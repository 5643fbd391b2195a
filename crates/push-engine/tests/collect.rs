//! Idle channels and expired history are collected, and the memory they
//! held goes back: measured with a counting global allocator.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use push_engine::{Config, Cursor, Hub, Outgoing};

#[path = "common/counting.rs"]
mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

use counting::live;

/// The tests of this binary run one at a time, so that one does not
/// allocate while the other measures.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A single-threaded runtime whose clock only moves when told to.
fn paused() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

const TTL: Duration = Duration::from_secs(60);
const CHANNELS: usize = 100_000;
const SLACK: isize = 256 * 1024;

fn hub() -> Hub {
    Hub::new(Arc::new(Config {
        history_ttl: TTL,
        ..Config::default()
    }))
}

#[test]
fn one_off_channels_are_collected_and_memory_returns() {
    let _serial = serial();
    paused().block_on(one_off_channels_are_collected_and_memory_returns_on_a_paused_clock());
}

async fn one_off_channels_are_collected_and_memory_returns_on_a_paused_clock() {
    let hub = hub();

    // Warm up whatever is allocated once (the map, lazily built statics).
    hub.publish("warm-up", Outgoing::new("x")).unwrap();
    tokio::time::advance(TTL + Duration::from_secs(1)).await;
    assert_eq!(hub.sweep(), 1);

    let baseline = live();
    for i in 0..CHANNELS {
        let payload = format!("message {i} for a channel used once");
        hub.publish(&format!("one-off-{i}"), Outgoing::new(payload))
            .unwrap();
    }
    let peak = live();
    let stats = hub.stats();
    assert_eq!(stats.channels, CHANNELS as u64);
    assert_eq!(stats.history_messages, CHANNELS as u64);
    assert!(stats.history_bytes > 0);

    // Not yet expired: nothing goes.
    tokio::time::advance(TTL - Duration::from_secs(1)).await;
    assert_eq!(hub.sweep(), 0);
    assert_eq!(hub.stats().channels, CHANNELS as u64);

    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(hub.sweep(), CHANNELS);
    let after = live();
    let stats = hub.stats();
    println!(
        "live bytes: baseline {baseline}, with {CHANNELS} channels {peak} (+{} B, {:.0} B/channel), \
         after sweep {after} ({:+} B)",
        peak - baseline,
        (peak - baseline) as f64 / CHANNELS as f64,
        after - baseline
    );
    assert_eq!(stats.channels, 0);
    assert_eq!(stats.history_messages, 0);
    assert_eq!(stats.history_bytes, 0);
    assert_eq!(stats.collected, CHANNELS as u64 + 1);
    assert!(
        (after - baseline).abs() <= SLACK,
        "memory did not return: baseline {baseline} B, after sweep {after} B"
    );

    // And the hub still works.
    hub.publish("one-off-0", Outgoing::new("again")).unwrap();
    assert_eq!(hub.stats().channels, 1);
}

#[test]
fn a_channel_with_a_subscriber_is_kept_until_it_leaves() {
    let _serial = serial();
    paused().block_on(a_channel_with_a_subscriber_is_kept_until_it_leaves_on_a_paused_clock());
}

async fn a_channel_with_a_subscriber_is_kept_until_it_leaves_on_a_paused_clock() {
    let hub = hub();
    let baseline = live();

    let sub = hub.subscribe("watched", Cursor::Live).unwrap();
    hub.publish("watched", Outgoing::new("hello")).unwrap();
    hub.publish("unwatched", Outgoing::new("hello")).unwrap();

    tokio::time::advance(TTL + Duration::from_secs(1)).await;
    assert_eq!(hub.sweep(), 1, "only the unwatched channel goes");
    let stats = hub.stats();
    assert_eq!((stats.channels, stats.subscribers), (1, 1));
    assert_eq!(
        (stats.history_messages, stats.history_bytes),
        (0, 0),
        "its history expired all the same"
    );
    assert!(hub.last_id("watched").is_some());

    // Still kept however long it waits.
    tokio::time::advance(TTL * 10).await;
    assert_eq!(hub.sweep(), 0);

    drop(sub);
    assert_eq!(hub.stats().subscribers, 0);
    assert_eq!(hub.sweep(), 1, "idle and without history: collected");
    assert_eq!(hub.stats().channels, 0);
    assert_eq!(hub.last_id("watched"), None);
    let after = live();
    println!(
        "live bytes: baseline {baseline}, after {after} ({:+} B)",
        after - baseline
    );
    assert!((after - baseline).abs() <= SLACK);
}

#[test]
fn a_channel_whose_subscriber_left_is_kept_until_its_history_expires() {
    let _serial = serial();
    paused().block_on(
        a_channel_whose_subscriber_left_is_kept_until_its_history_expires_on_a_paused_clock(),
    );
}

async fn a_channel_whose_subscriber_left_is_kept_until_its_history_expires_on_a_paused_clock() {
    let hub = hub();
    let sub = hub.subscribe("recent", Cursor::Live).unwrap();
    let p = hub.publish("recent", Outgoing::new("hello")).unwrap();
    drop(sub);

    tokio::time::advance(TTL / 2).await;
    assert_eq!(hub.sweep(), 0, "its history can still be resumed");
    let mut resumed = hub
        .subscribe(
            "recent",
            Cursor::After(push_engine::Id {
                epoch: p.id.epoch,
                offset: 0,
            }),
        )
        .unwrap();
    match resumed.try_recv() {
        Some(push_engine::Event::Message(got)) => assert!(Arc::ptr_eq(&got, &p)),
        other => panic!("expected the held message, got {other:?}"),
    }
    drop(resumed);

    tokio::time::advance(TTL / 2).await;
    assert_eq!(hub.sweep(), 1);
    let stats = hub.stats();
    assert_eq!(
        (stats.channels, stats.history_messages, stats.history_bytes),
        (0, 0, 0)
    );
}
