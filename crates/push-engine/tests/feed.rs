//! A changing feed (the Pusher protocol's): empty, then its first channel
//! read directly, merged at the second with nothing lost or repeated, and
//! emptied again when its one direct channel is removed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::hub::*;
use push_engine::edge::transport::feed::{Feed, Item};
use push_engine::{Cursor, Hub, Metrics};

fn changing(hub: &Hub) -> Feed {
    Feed::changing(1 << 20, Duration::from_secs(5), hub.metrics().clone())
}

async fn item(feed: &mut Feed) -> (String, String) {
    match tokio::time::timeout(Duration::from_secs(1), feed.recv())
        .await
        .expect("an item within a second")
    {
        Item::Message(p, _) => (
            p.channel.to_string(),
            String::from_utf8_lossy(&p.data).into_owned(),
        ),
        other => panic!("expected a message, got {other:?}"),
    }
}

async fn nothing(feed: &mut Feed) {
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(200), feed.recv()).await {
        panic!("expected nothing, got {item:?}");
    }
}

#[tokio::test]
async fn the_first_channel_is_read_directly_and_a_second_merges_without_a_gap() {
    let hub = hub();
    let mut feed = changing(&hub);
    assert_eq!(feed.subscribers(), 0);
    assert!(feed.try_recv().is_none());
    nothing(&mut feed).await;

    feed.add(hub.join("a", Cursor::Live).await.unwrap());
    // Direct: it counts the channel's live subscribers, itself alone.
    assert_eq!(feed.subscribers(), 1);
    publish(&hub, "a", "a1");
    assert_eq!(item(&mut feed).await, ("a".into(), "a1".into()));

    // Published before the second channel comes, read after: not lost.
    publish(&hub, "a", "a2");
    feed.add(hub.join("b", Cursor::Live).await.unwrap());
    assert_eq!(feed.subscribers(), usize::MAX, "merged counts as crowded");
    publish(&hub, "b", "b1");
    publish(&hub, "a", "a3");
    let mut got = vec![
        item(&mut feed).await,
        item(&mut feed).await,
        item(&mut feed).await,
    ];
    nothing(&mut feed).await;
    // Each channel's own order holds.
    let a: Vec<_> = got.iter().filter(|(c, _)| c == "a").cloned().collect();
    assert_eq!(a, [("a".into(), "a2".into()), ("a".into(), "a3".into())]);
    got.sort();
    assert_eq!(
        got,
        [
            ("a".into(), "a2".into()),
            ("a".into(), "a3".into()),
            ("b".into(), "b1".into())
        ]
    );

    // Merged, it stays merged; a removed channel no longer comes.
    feed.remove("a");
    publish(&hub, "a", "a4");
    publish(&hub, "b", "b2");
    assert_eq!(item(&mut feed).await, ("b".into(), "b2".into()));
    nothing(&mut feed).await;
}

#[tokio::test]
async fn removing_the_direct_channel_empties_the_feed_and_another_can_follow() {
    let hub = hub();
    let mut feed = changing(&hub);
    feed.add(hub.join("a", Cursor::Live).await.unwrap());
    feed.remove("a");
    assert_eq!(feed.subscribers(), 0);
    assert_eq!(hub.stats().subscribers, 0, "the subscription is dropped");
    publish(&hub, "a", "gone");
    nothing(&mut feed).await;

    feed.add(hub.join("b", Cursor::Live).await.unwrap());
    // A second subscription to the same channel replaces the first.
    feed.add(hub.join("b", Cursor::Live).await.unwrap());
    assert_eq!(hub.stats().subscribers, 1);
    publish(&hub, "b", "b1");
    assert_eq!(item(&mut feed).await, ("b".into(), "b1".into()));
    nothing(&mut feed).await;
}

#[tokio::test]
async fn a_feed_of_fixed_channels_ignores_add_and_remove() {
    let hub = hub();
    let sub = hub.join("a", Cursor::Live).await.unwrap();
    let metrics = Arc::new(Metrics::default());
    let mut feed = Feed::open(vec![sub], 1 << 20, Duration::from_secs(5), metrics);
    feed.add(hub.join("b", Cursor::Live).await.unwrap());
    feed.remove("a");
    publish(&hub, "b", "b1");
    publish(&hub, "a", "a1");
    assert_eq!(item(&mut feed).await, ("a".into(), "a1".into()));
    nothing(&mut feed).await;
}
