//! The hub on its own: ids and epochs, refusals, history bounds, resuming,
//! lag recovery and loss reporting, fan-out, closing, stats and limits.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use push_engine::{
    Config, Cursor, Error, Event, Hub, Id, Lost, Outgoing, Publication, Subscription,
};

fn hub_with(tweak: impl FnOnce(&mut Config)) -> Hub {
    let mut config = Config::default();
    tweak(&mut config);
    Hub::new(Arc::new(config))
}

fn hub() -> Hub {
    hub_with(|_| {})
}

fn publish(hub: &Hub, channel: &str, data: &str) -> Arc<Publication> {
    hub.publish(channel, Outgoing::new(data.to_owned()))
        .unwrap_or_else(|e| panic!("publish to {channel}: {e}"))
}

fn start(epoch: u64) -> Id {
    Id { epoch, offset: 0 }
}

/// The next event, which must be ready now.
fn next(sub: &mut Subscription) -> Event {
    sub.try_recv().expect("an event should be ready")
}

fn message(event: Event) -> Arc<Publication> {
    match event {
        Event::Message(p) => p,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn lost(event: Event) -> Lost {
    match event {
        Event::Lost(l) => l,
        other => panic!("expected a loss report, got {other:?}"),
    }
}

fn next_message(sub: &mut Subscription) -> Arc<Publication> {
    message(next(sub))
}

/// The next event, waiting at most a second for it.
async fn recv(sub: &mut Subscription) -> Event {
    tokio::time::timeout(Duration::from_secs(1), sub.recv())
        .await
        .expect("an event within a second")
}

fn assert_nothing_ready(sub: &mut Subscription) {
    if let Some(event) = sub.try_recv() {
        panic!("expected nothing, got {event:?}");
    }
}

fn text(p: &Publication) -> &str {
    std::str::from_utf8(&p.data).unwrap()
}

// ---------------------------------------------------------------- ids

#[test]
fn ids_strictly_increase_per_channel() {
    let hub = hub();
    let ids: Vec<Id> = (0..20)
        .map(|i| publish(&hub, "news", &i.to_string()).id)
        .collect();
    assert_eq!(ids[0].offset, 1, "offsets start at 1");
    for pair in ids.windows(2) {
        assert!(pair[0] < pair[1], "{} then {}", pair[0], pair[1]);
        assert_eq!(pair[0].epoch, pair[1].epoch);
        assert_eq!(pair[0].offset + 1, pair[1].offset);
    }
    assert_eq!(hub.last_id("news"), Some(*ids.last().unwrap()));
    assert_eq!(hub.last_id("never"), None);
}

#[test]
fn channels_get_different_epochs() {
    let hub = hub();
    let a = publish(&hub, "a", "1").id;
    let b = publish(&hub, "b", "1").id;
    let c = hub.subscribe("c", Cursor::Live).unwrap().position();
    assert_ne!(a.epoch, b.epoch);
    assert_ne!(b.epoch, c.epoch);
    assert_ne!(a.epoch, c.epoch);
    // Each channel counts its own offsets.
    assert_eq!((a.offset, b.offset, c.offset), (1, 1, 0));
}

#[test]
fn collected_channel_created_again_never_reuses_an_id() {
    // No history: a channel without subscribers is idle right after publishing.
    let hub = hub_with(|c| c.history = 0);
    let mut last = publish(&hub, "again", "0").id;
    for i in 1..20 {
        assert_eq!(hub.sweep(), 1);
        assert_eq!(hub.stats().channels, 0);
        assert_eq!(hub.last_id("again"), None);
        let id = publish(&hub, "again", &i.to_string()).id;
        assert!(
            id.epoch > last.epoch,
            "epoch {} after {}",
            id.epoch,
            last.epoch
        );
        assert!(id > last);
        assert_eq!(id.offset, 1);
        last = id;
    }
    assert_eq!(hub.stats().collected, 19);
}

#[tokio::test(start_paused = true)]
async fn channel_collected_after_its_history_expired_gets_a_larger_epoch() {
    let hub = hub_with(|c| c.history_ttl = Duration::from_secs(10));
    let first = publish(&hub, "ttl", "a").id;
    tokio::time::advance(Duration::from_secs(9)).await;
    assert_eq!(hub.sweep(), 0, "history still held");
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(hub.sweep(), 1, "history expired, no subscribers");
    let second = publish(&hub, "ttl", "b").id;
    assert!(second.epoch > first.epoch);
    assert!(second > first);
    // The old cursor is of another incarnation: it must be reported as lost.
    let mut sub = hub.subscribe("ttl", Cursor::After(first)).unwrap();
    let l = lost(next(&mut sub));
    assert_eq!(l.requested, first);
    assert_eq!(l.oldest, Some(second));
    assert_eq!(next_message(&mut sub).id, second);
}

#[test]
fn concurrent_publishers_get_distinct_increasing_ids() {
    let hub = hub_with(|c| c.history = 10_000);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let hub = hub.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..1000 {
                    mine.push(publish(&hub, "busy", &format!("{t}-{i}")).id);
                }
                mine
            })
        })
        .collect();
    let mut all = HashSet::new();
    for t in threads {
        let mine = t.join().unwrap();
        // Each publisher sees its own ids increase.
        assert!(mine.windows(2).all(|w| w[0] < w[1]));
        all.extend(mine);
    }
    assert_eq!(all.len(), 4000, "no id handed out twice");
    // The history holds them in id order, without gaps.
    let mut sub = hub
        .subscribe(
            "busy",
            Cursor::After(start(hub.last_id("busy").unwrap().epoch)),
        )
        .unwrap();
    for offset in 1..=4000 {
        let p = next_message(&mut sub);
        assert_eq!(p.id.offset, offset);
    }
    assert_nothing_ready(&mut sub);
}

#[test]
fn ids_keep_increasing_while_sweeps_collect_the_channel() {
    let hub = hub_with(|c| c.history = 0);
    let sweeper = {
        let hub = hub.clone();
        std::thread::spawn(move || {
            let mut removed = 0;
            for _ in 0..2000 {
                removed += hub.sweep();
                std::thread::yield_now();
            }
            removed
        })
    };
    let mut last = None;
    for i in 0..20_000 {
        let id = publish(&hub, "flicker", &i.to_string()).id;
        if let Some(last) = last {
            assert!(id > last, "{id} after {last}");
        }
        last = Some(id);
    }
    let removed = sweeper.join().unwrap();
    println!("channel collected {removed} times while publishing");
    assert_eq!(hub.stats().publications, 20_000);
}

// ---------------------------------------------------------------- refusals

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let hub = hub_with(|c| c.max_message_size = 16);
    publish(&hub, "existing", "x");
    let mut sub = hub.subscribe("existing", Cursor::Live).unwrap();
    let before = hub.stats();

    let long = "c".repeat(256);
    for bad in ["", "a b", "é", "a\0b", "a\nb", "*", "x?y", long.as_str()] {
        assert!(
            matches!(
                hub.publish(bad, Outgoing::new("x")),
                Err(Error::InvalidChannel(_))
            ),
            "publish to {bad:?}"
        );
        assert!(
            matches!(
                hub.subscribe(bad, Cursor::Live),
                Err(Error::InvalidChannel(_))
            ),
            "subscribe to {bad:?}"
        );
        assert_eq!(hub.last_id(bad), None);
    }

    match hub.publish("existing", Outgoing::new(vec![b'x'; 17])) {
        Err(Error::MessageTooLarge { size: 17, max: 16 }) => {}
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    match hub.publish("fresh", Outgoing::new(vec![b'x'; 1000])) {
        Err(Error::MessageTooLarge {
            size: 1000,
            max: 16,
        }) => {}
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }

    let long_event = "e".repeat(65);
    for bad in ["", "a\nb", "a\rb", "a\0b", long_event.as_str()] {
        assert!(
            matches!(
                hub.publish("existing", Outgoing::new("x").event(bad)),
                Err(Error::InvalidEvent(_))
            ),
            "event {bad:?}"
        );
        assert!(
            matches!(
                hub.publish("fresh", Outgoing::new("x").event(bad)),
                Err(Error::InvalidEvent(_))
            ),
            "event {bad:?} on a new channel"
        );
    }

    assert_eq!(hub.stats(), before, "a refusal changes no figure");
    assert_eq!(
        hub.last_id("fresh"),
        None,
        "a refused publication creates no channel"
    );
    assert_eq!(
        hub.last_id("existing").unwrap().offset,
        1,
        "no offset was used up"
    );
    assert_nothing_ready(&mut sub);

    // The limits themselves are accepted.
    let p = hub
        .publish(
            "existing",
            Outgoing::new(vec![b'x'; 16]).event("e".repeat(64)),
        )
        .unwrap();
    assert_eq!(p.id.offset, 2);
    assert_eq!(p.event.as_deref(), Some("e".repeat(64).as_str()));
    assert!(Arc::ptr_eq(&next_message(&mut sub), &p));
    assert!(hub.publish(&"c".repeat(255), Outgoing::new("x")).is_ok());
}

// ---------------------------------------------------------------- history

#[test]
fn history_is_bounded_by_count() {
    let hub = hub_with(|c| c.history = 3);
    let ids: Vec<Id> = (1..=5)
        .map(|i| publish(&hub, "h", &i.to_string()).id)
        .collect();
    let stats = hub.stats();
    assert_eq!(stats.history_messages, 3);
    assert!(stats.history_bytes > 0);

    let mut sub = hub.subscribe("h", Cursor::After(ids[0])).unwrap();
    let l = lost(next(&mut sub));
    assert_eq!(l.requested, ids[0]);
    assert_eq!(l.oldest, Some(ids[2]));
    for (i, id) in ids[2..].iter().enumerate() {
        let p = next_message(&mut sub);
        assert_eq!(p.id, *id);
        assert_eq!(text(&p), (i + 3).to_string());
    }
    assert_nothing_ready(&mut sub);
    assert_eq!(sub.position(), ids[4]);
    assert_eq!(hub.stats().lost, 1);

    // The message just before the oldest held is still a continuous cursor.
    let mut sub = hub.subscribe("h", Cursor::After(ids[1])).unwrap();
    for id in &ids[2..] {
        assert_eq!(next_message(&mut sub).id, *id);
    }
    assert_nothing_ready(&mut sub);
    assert_eq!(hub.stats().lost, 1);
}

#[test]
fn history_bytes_follow_the_messages_held() {
    let hub = hub_with(|c| c.history = 2);
    let a = publish(&hub, "w", "aaaa");
    assert_eq!(hub.stats().history_bytes, a.weight() as u64);
    let b = hub
        .publish("w", Outgoing::new("bbbbbbbb").event("ev"))
        .unwrap();
    assert_eq!(hub.stats().history_bytes, (a.weight() + b.weight()) as u64);
    let c = publish(&hub, "w", "c");
    assert_eq!(hub.stats().history_bytes, (b.weight() + c.weight()) as u64);
    assert_eq!(hub.stats().history_messages, 2);
}

#[test]
fn no_history_keeps_nothing() {
    let hub = hub_with(|c| c.history = 0);
    let first = publish(&hub, "none", "1").id;
    publish(&hub, "none", "2");
    assert_eq!(hub.stats().history_messages, 0);
    assert_eq!(hub.stats().history_bytes, 0);
    let mut sub = hub.subscribe("none", Cursor::After(first)).unwrap();
    let l = lost(next(&mut sub));
    assert_eq!(l.oldest, None);
    assert_nothing_ready(&mut sub);
    let p = publish(&hub, "none", "3");
    assert!(Arc::ptr_eq(&next_message(&mut sub), &p));
}

#[tokio::test(start_paused = true)]
async fn history_is_bounded_by_age() {
    let hub = hub_with(|c| c.history_ttl = Duration::from_secs(10));
    let a = publish(&hub, "age", "a").id;
    tokio::time::advance(Duration::from_secs(6)).await;
    let b = publish(&hub, "age", "b").id;
    tokio::time::advance(Duration::from_secs(5)).await;
    // `a` is 11 s old: publishing trims it.
    let c = publish(&hub, "age", "c").id;
    assert_eq!(hub.stats().history_messages, 2);

    let mut sub = hub.subscribe("age", Cursor::After(start(a.epoch))).unwrap();
    let l = lost(next(&mut sub));
    assert_eq!(l.requested, start(a.epoch));
    assert_eq!(l.oldest, Some(b));
    assert_eq!(next_message(&mut sub).id, b);
    assert_eq!(next_message(&mut sub).id, c);
    assert_nothing_ready(&mut sub);
    drop(sub);

    // `b` is 10 s old (the limit is inclusive) and `c` 5 s: a sweep trims `b`.
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(hub.sweep(), 0);
    assert_eq!(hub.stats().history_messages, 1);
    let mut sub = hub.subscribe("age", Cursor::After(a)).unwrap();
    assert_eq!(lost(next(&mut sub)).oldest, Some(c));
    assert_eq!(next_message(&mut sub).id, c);
    drop(sub);

    // Everything expired: the channel is collected and the figures are zero.
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(hub.sweep(), 1);
    let stats = hub.stats();
    assert_eq!(
        (stats.channels, stats.history_messages, stats.history_bytes),
        (0, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn expired_history_with_a_subscriber_reports_loss_without_a_backlog() {
    let hub = hub_with(|c| c.history_ttl = Duration::from_secs(1));
    let keep = hub.subscribe("exp", Cursor::Live).unwrap();
    let a = publish(&hub, "exp", "a").id;
    let b = publish(&hub, "exp", "b").id;
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(hub.sweep(), 0, "a channel with a subscriber stays");
    assert_eq!(hub.stats().history_messages, 0);
    // Up to date: nothing lost.
    let mut sub = hub.subscribe("exp", Cursor::After(b)).unwrap();
    assert_nothing_ready(&mut sub);
    // Behind: the loss is reported, with nothing held.
    let mut sub = hub.subscribe("exp", Cursor::After(a)).unwrap();
    assert_eq!(
        lost(next(&mut sub)),
        Lost {
            requested: a,
            oldest: None
        }
    );
    assert_nothing_ready(&mut sub);
    assert_eq!(sub.position(), b, "continues after the newest id");
    let c = publish(&hub, "exp", "c");
    assert!(Arc::ptr_eq(&next_message(&mut sub), &c));
    drop(keep);
}

// ---------------------------------------------------------------- resuming

#[tokio::test]
async fn resume_inside_history_then_live() {
    let hub = hub();
    let ids: Vec<Id> = (1..=10)
        .map(|i| publish(&hub, "r", &i.to_string()).id)
        .collect();
    let mut sub = hub.subscribe("r", Cursor::After(ids[3])).unwrap();
    assert_eq!(sub.position(), ids[3]);
    assert_eq!(&**sub.channel(), "r");

    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(message(recv(&mut sub).await).id);
    }
    assert_eq!(seen, ids[4..].to_vec());

    let live: Vec<Id> = (11..=13)
        .map(|i| publish(&hub, "r", &i.to_string()).id)
        .collect();
    for id in &live {
        let p = message(recv(&mut sub).await);
        assert_eq!(p.id, *id);
        assert_eq!(sub.position(), *id);
    }
    assert_nothing_ready(&mut sub);
    assert_eq!(hub.stats().lost, 0);
}

#[tokio::test]
async fn resume_at_the_newest_id_waits_for_live_messages() {
    let hub = hub();
    publish(&hub, "r", "0");
    publish(&hub, "r", "1");
    let last = publish(&hub, "r", "2").id;
    assert_eq!(last.offset, 3);
    let mut sub = hub.subscribe("r", Cursor::After(last)).unwrap();
    assert_nothing_ready(&mut sub);
    let p = publish(&hub, "r", "new");
    assert!(Arc::ptr_eq(&message(recv(&mut sub).await), &p));
}

#[tokio::test]
async fn resume_while_publishers_run_gives_each_message_once_in_order() {
    let hub = hub_with(|c| c.history = 100_000);
    let first = publish(&hub, "race", "0").id;
    let publisher = {
        let hub = hub.clone();
        std::thread::spawn(move || {
            for i in 1..5000 {
                publish(&hub, "race", &i.to_string());
            }
        })
    };
    // Subscribe while the publisher runs: backlog and live overlap.
    tokio::time::sleep(Duration::from_millis(1)).await;
    let mut sub = hub.subscribe("race", Cursor::After(first)).unwrap();
    for offset in 2..=5000 {
        let p = message(recv(&mut sub).await);
        assert_eq!(p.id.offset, offset);
        assert_eq!(text(&p), (offset - 1).to_string());
    }
    publisher.join().unwrap();
    assert_nothing_ready(&mut sub);
}

#[tokio::test]
async fn live_cursor_gets_only_new_messages() {
    let hub = hub();
    for i in 0..5 {
        publish(&hub, "l", &i.to_string());
    }
    let mut sub = hub.subscribe("l", Cursor::Live).unwrap();
    assert_eq!(sub.position(), hub.last_id("l").unwrap());
    assert_nothing_ready(&mut sub);
    let p = publish(&hub, "l", "new");
    let got = message(recv(&mut sub).await);
    assert!(Arc::ptr_eq(&got, &p));
    assert_eq!(text(&got), "new");
    assert_nothing_ready(&mut sub);
}

#[test]
fn cursor_of_another_epoch_is_lost_first() {
    let hub = hub();
    let other = publish(&hub, "other", "x").id;
    let ids: Vec<Id> = (1..=3)
        .map(|i| publish(&hub, "c", &i.to_string()).id)
        .collect();
    for cursor in [
        other,
        start(other.epoch),
        Id {
            epoch: 0,
            offset: 0,
        },
        Id {
            epoch: ids[0].epoch + 1,
            offset: 1,
        },
    ] {
        let mut sub = hub.subscribe("c", Cursor::After(cursor)).unwrap();
        let l = lost(next(&mut sub));
        assert_eq!(l.requested, cursor);
        assert_eq!(l.oldest, Some(ids[0]));
        for id in &ids {
            assert_eq!(next_message(&mut sub).id, *id);
        }
        assert_nothing_ready(&mut sub);
    }
}

#[test]
fn future_offset_is_lost_first() {
    let hub = hub();
    let ids: Vec<Id> = (1..=3)
        .map(|i| publish(&hub, "f", &i.to_string()).id)
        .collect();
    let future = Id {
        epoch: ids[0].epoch,
        offset: 10,
    };
    let mut sub = hub.subscribe("f", Cursor::After(future)).unwrap();
    let l = lost(next(&mut sub));
    assert_eq!(l.requested, future);
    assert_eq!(l.oldest, Some(ids[0]));
    for id in &ids {
        assert_eq!(next_message(&mut sub).id, *id);
    }
    assert_nothing_ready(&mut sub);
    // And it continues live from there.
    let p = publish(&hub, "f", "4");
    assert_eq!(next_message(&mut sub).id, p.id);
}

#[test]
fn cursor_on_a_channel_that_does_not_exist_yet_is_lost() {
    let hub = hub();
    let cursor = Id {
        epoch: 1,
        offset: 7,
    };
    let mut sub = hub.subscribe("new", Cursor::After(cursor)).unwrap();
    assert_eq!(
        lost(next(&mut sub)),
        Lost {
            requested: cursor,
            oldest: None
        }
    );
    assert_nothing_ready(&mut sub);
    let p = publish(&hub, "new", "1");
    assert_eq!(next_message(&mut sub).id, p.id);
}

// ---------------------------------------------------------------- lag

#[tokio::test]
async fn lagging_subscriber_recovers_from_history() {
    let hub = hub_with(|c| {
        c.channel_buffer = 4;
        c.history = 100;
    });
    let mut sub = hub.subscribe("lag", Cursor::Live).unwrap();
    let ids: Vec<Id> = (0..50)
        .map(|i| publish(&hub, "lag", &i.to_string()).id)
        .collect();
    for (i, id) in ids.iter().enumerate() {
        match recv(&mut sub).await {
            Event::Message(p) => {
                assert_eq!(p.id, *id);
                assert_eq!(text(&p), i.to_string());
            }
            other => panic!("message {i}: expected a message, got {other:?}"),
        }
    }
    assert_nothing_ready(&mut sub);
    let stats = hub.stats();
    assert!(stats.lagged > 0, "{stats:?}");
    assert_eq!(stats.lost, 0);

    // Lagging again later, from the middle of the stream.
    let more: Vec<Id> = (50..80)
        .map(|i| publish(&hub, "lag", &i.to_string()).id)
        .collect();
    for id in &more {
        assert_eq!(message(recv(&mut sub).await).id, *id);
    }
    assert_nothing_ready(&mut sub);
    assert!(hub.stats().lagged > stats.lagged);
    assert_eq!(hub.stats().lost, 0);
}

#[tokio::test]
async fn lagging_subscriber_beyond_history_is_told_what_it_lost() {
    let hub = hub_with(|c| {
        c.channel_buffer = 4;
        c.history = 5;
    });
    let mut sub = hub.subscribe("lag", Cursor::Live).unwrap();
    let from = sub.position();
    let ids: Vec<Id> = (0..50)
        .map(|i| publish(&hub, "lag", &i.to_string()).id)
        .collect();

    let l = lost(recv(&mut sub).await);
    assert_eq!(l.requested, from);
    assert_eq!(l.oldest, Some(ids[45]));
    let mut seen = Vec::new();
    while let Some(event) = sub.try_recv() {
        seen.push(message(event).id);
    }
    assert_eq!(seen, ids[45..].to_vec(), "in order, none twice");
    let stats = hub.stats();
    assert!(stats.lagged > 0 && stats.lost > 0, "{stats:?}");

    let p = publish(&hub, "lag", "50");
    assert_eq!(message(recv(&mut sub).await).id, p.id);
    assert_nothing_ready(&mut sub);

    // After reading part of the stream, lag again: a new loss report, then order.
    let ids: Vec<Id> = (51..71)
        .map(|i| publish(&hub, "lag", &i.to_string()).id)
        .collect();
    let l = lost(recv(&mut sub).await);
    assert_eq!(l.requested, p.id);
    assert_eq!(l.oldest, Some(ids[15]));
    let mut seen = Vec::new();
    while let Some(event) = sub.try_recv() {
        seen.push(message(event).id);
    }
    assert_eq!(seen, ids[15..].to_vec());
}

#[tokio::test]
async fn lagging_subscriber_without_history_is_told_and_continues() {
    let hub = hub_with(|c| {
        c.channel_buffer = 4;
        c.history = 0;
    });
    let mut sub = hub.subscribe("lag", Cursor::Live).unwrap();
    let ids: Vec<Id> = (0..20)
        .map(|i| publish(&hub, "lag", &i.to_string()).id)
        .collect();
    let mut lost_seen = 0;
    let mut seen = Vec::new();
    while let Some(event) = sub.try_recv() {
        match event {
            Event::Lost(l) => {
                assert!(seen.is_empty(), "the loss comes first");
                assert_eq!(l.oldest, None);
                lost_seen += 1;
            }
            Event::Message(p) => seen.push(p.id),
            Event::Closed => panic!("closed"),
        }
    }
    assert_eq!(lost_seen, 1);
    // Whatever the buffer still held, in order, ending with the newest.
    assert!(!seen.is_empty());
    assert!(seen.windows(2).all(|w| w[0].offset + 1 == w[1].offset));
    assert_eq!(seen.last(), ids.last());
}

// ---------------------------------------------------------------- fan-out

#[tokio::test]
async fn fan_out_shares_the_bytes() {
    let hub = hub();
    let mut a = hub.subscribe("fan", Cursor::Live).unwrap();
    let mut b = hub.subscribe("fan", Cursor::Live).unwrap();
    let data = Bytes::from(vec![7u8; 4096]);
    let sent_ptr = data.as_ptr();
    let p = hub
        .publish("fan", Outgoing::new(data).event("blob"))
        .unwrap();
    assert_eq!(
        p.data.as_ptr(),
        sent_ptr,
        "the publisher's bytes are not copied"
    );
    assert!(p.text, "ASCII bytes are text");

    let got_a = message(recv(&mut a).await);
    let got_b = message(recv(&mut b).await);
    assert_eq!(got_a.data.as_ptr(), p.data.as_ptr());
    assert_eq!(got_b.data.as_ptr(), p.data.as_ptr());
    assert!(Arc::ptr_eq(&got_a, &p) && Arc::ptr_eq(&got_b, &p));

    // A resuming subscriber shares them too, through the history.
    let mut c = hub
        .subscribe("fan", Cursor::After(start(p.id.epoch)))
        .unwrap();
    assert_eq!(next_message(&mut c).data.as_ptr(), p.data.as_ptr());
}

#[test]
fn text_and_binary_are_told_apart() {
    let hub = hub();
    assert!(publish(&hub, "t", "héllo").text);
    assert!(
        !hub.publish("t", Outgoing::new(vec![0xff, 0xfe]))
            .unwrap()
            .text
    );
}

// ---------------------------------------------------------------- closing

#[tokio::test]
async fn close_all_closes_every_subscription() {
    let hub = hub();
    let mut a = hub.subscribe("one", Cursor::Live).unwrap();
    let mut b = hub.subscribe("one", Cursor::Live).unwrap();
    let mut c = hub.subscribe("two", Cursor::Live).unwrap();
    let queued = publish(&hub, "one", "queued");

    let waiting = tokio::spawn(async move { (c.recv().await, c) });
    tokio::task::yield_now().await;
    hub.close_all();

    let (event, _c) = tokio::time::timeout(Duration::from_secs(1), waiting)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(event, Event::Closed), "{event:?}");
    // What was queued is read first.
    assert!(Arc::ptr_eq(&message(recv(&mut a).await), &queued));
    assert!(matches!(recv(&mut a).await, Event::Closed));
    assert!(matches!(recv(&mut b).await, Event::Message(_)));
    assert!(matches!(recv(&mut b).await, Event::Closed));
    // And it stays closed.
    assert!(matches!(b.try_recv(), Some(Event::Closed)));
}

/// After `close_all` (shutdown), no new subscription is made, and the
/// subscriptions it closed can be dropped safely.
#[test]
fn close_all_refuses_new_subscriptions() {
    let hub = hub();
    let old = hub.subscribe("reopen", Cursor::Live).unwrap();
    hub.close_all();
    assert!(hub.is_closed());
    assert!(matches!(
        hub.subscribe("reopen", Cursor::Live),
        Err(Error::ShuttingDown)
    ));
    drop(old);
    assert_eq!(hub.stats().subscribers, 0);
}

// ---------------------------------------------------------------- stats, limits

#[test]
fn subscriber_count_goes_up_and_back_to_zero() {
    let hub = hub_with(|c| c.history = 0);
    let subs: Vec<Subscription> = (0..5)
        .map(|i| {
            hub.subscribe(if i % 2 == 0 { "even" } else { "odd" }, Cursor::Live)
                .unwrap()
        })
        .collect();
    let stats = hub.stats();
    assert_eq!((stats.subscribers, stats.channels), (5, 2));
    assert_eq!(hub.sweep(), 0, "channels with subscribers stay");
    let mut subs = subs.into_iter();
    drop(subs.next());
    assert_eq!(hub.stats().subscribers, 4);
    drop(subs);
    assert_eq!(hub.stats().subscribers, 0);
    assert_eq!(hub.sweep(), 2, "idle channels go");
    assert_eq!(hub.stats().channels, 0);
}

#[test]
fn subscriber_count_survives_close_all() {
    let hub = hub();
    let a = hub.subscribe("x", Cursor::Live).unwrap();
    let b = hub.subscribe("y", Cursor::After(start(1))).unwrap();
    assert_eq!(hub.stats().subscribers, 2);
    hub.close_all();
    assert_eq!(hub.stats().subscribers, 2);
    drop((a, b));
    assert_eq!(hub.stats().subscribers, 0);
}

#[test]
fn max_channels_is_enforced() {
    let hub = hub_with(|c| {
        c.max_channels = 3;
        c.history = 0;
    });
    publish(&hub, "a", "1");
    let sub = hub.subscribe("b", Cursor::Live).unwrap();
    publish(&hub, "c", "1");
    let before = hub.stats();
    assert_eq!(before.channels, 3);
    assert!(matches!(
        hub.publish("d", Outgoing::new("1")),
        Err(Error::TooManyChannels(3))
    ));
    assert!(matches!(
        hub.subscribe("d", Cursor::Live),
        Err(Error::TooManyChannels(3))
    ));
    assert_eq!(hub.stats(), before, "a refusal changes no figure");
    // Existing channels keep working.
    publish(&hub, "a", "2");
    publish(&hub, "b", "2");
    // Collected channels make room again ("b" has a subscriber and stays).
    assert_eq!(hub.sweep(), 2);
    publish(&hub, "d", "1");
    publish(&hub, "e", "1");
    assert!(matches!(
        hub.publish("f", Outgoing::new("1")),
        Err(Error::TooManyChannels(3))
    ));
    drop(sub);
}
