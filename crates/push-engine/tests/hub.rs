//! The hub on its own: ids and epochs, refusals, fan-out, closing, stats
//! and limits (history, resuming and lag are in `hub_history.rs`).

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::hub::*;
use push_engine::{Cursor, Error, Event, Id, Outgoing, Subscription};

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

    let long_event = "e".repeat(201);
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
            Outgoing::new(vec![b'x'; 16]).event("e".repeat(200)),
        )
        .unwrap();
    assert_eq!(p.id.offset, 2);
    assert_eq!(p.event.as_deref(), Some("e".repeat(200).as_str()));
    assert!(Arc::ptr_eq(&next_message(&mut sub), &p));
    assert!(hub.publish(&"c".repeat(255), Outgoing::new("x")).is_ok());
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

// ---------------------------------------------------------------- reserved channels

#[tokio::test]
async fn reserved_channels_are_refused_to_every_door_but_the_adapters() {
    let hub = hub_with(|c| c.history = 3);
    let log = ".push/log";
    let refused = |e: Error| assert!(matches!(e, Error::ReservedChannel(_)), "{e}");
    refused(hub.publish(log, Outgoing::new("x")).unwrap_err());
    refused(hub.send(log, Outgoing::new("x")).await.unwrap_err());
    refused(hub.subscribe(log, Cursor::Live).unwrap_err());
    refused(hub.join(log, Cursor::Live).await.unwrap_err());
    assert!(hub.history(log).is_none(), "nothing was created");
    let mut sub = hub.join_reserved(log, Cursor::Live).await.unwrap();
    let mut ids: Vec<Id> = Vec::new();
    for i in 0..5 {
        ids.push(
            hub.send_reserved(log, Outgoing::new(format!("{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    assert_eq!(message(next(&mut sub)).id, ids[0]);
    let (last, held) = hub.history(log).unwrap();
    assert_eq!(last, ids[4]);
    let held: Vec<Id> = held.iter().map(|p| p.id).collect();
    assert_eq!(held, &ids[2..], "the ring, oldest first");
    // Other names that merely look alike are ordinary channels.
    publish(&hub, ".push", "fine");
    publish(&hub, "push/x", "fine");
}

#[test]
fn a_channel_may_keep_a_history_of_its_own() {
    let hub = hub_with(|c| c.history = 2);
    for i in 0..5 {
        publish(&hub, "own", &i.to_string());
    }
    hub.keep_history("own", 3, Duration::from_secs(60)).unwrap();
    assert_eq!(hub.history("own").unwrap().1.len(), 2, "nothing comes back");
    for i in 5..10 {
        publish(&hub, "own", &i.to_string());
        publish(&hub, "other", &i.to_string());
    }
    let data = |c: &str| -> Vec<Bytes> {
        hub.history(c)
            .unwrap()
            .1
            .iter()
            .map(|p| p.data.clone())
            .collect()
    };
    assert_eq!(data("own"), ["7", "8", "9"]);
    assert_eq!(data("other"), ["8", "9"], "the others keep push.history");
    hub.keep_history("own", 1, Duration::from_secs(60)).unwrap();
    assert_eq!(data("own"), ["9"], "trimmed at once");
    assert_eq!(hub.stats().history_messages, 3);
    assert!(hub.keep_history("bad name", 1, Duration::ZERO).is_err());
}
