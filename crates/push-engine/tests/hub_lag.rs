//! The hub on its own, a subscriber that lags behind its ring: recovered
//! from history, told what it lost beyond history, or told and continuing
//! without history. History and resuming: `hub_history.rs`.

mod common;

use common::hub::*;
use push_engine::{Cursor, Event, Id};

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
