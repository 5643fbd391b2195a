//! The hub on its own: history bounds by count and age, resuming from a
//! cursor (inside history, at the newest id, while publishers run, live,
//! and cursors that are lost). Lag: `hub_lag.rs`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::hub::*;
use push_engine::{Cursor, Id, Lost, Outgoing};

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
