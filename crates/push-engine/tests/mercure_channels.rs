//! `push.mercure_channels = On`: push's channels and Mercure's topics as
//! one namespace. A publication on channel `C` through push's doors
//! reaches Mercure subscribers of the topic `C` (private when the channel
//! is, binary ones not at all); a public Mercure update reaches push's
//! subscribers of each of its topics that is a channel name; nothing is
//! copied back and forth. Off (the default), neither happens.

mod common;

use std::time::Duration;

use common::mercure::{bearer, publish_keyed as publish, subscribe as open};
use common::*;
use push_engine::{Cursor, Event, Outgoing};

const KEY: &str = "mercure-publisher-key-0123456789abcdef";

async fn hub(channels: bool) -> Server {
    Server::start_with(|c| {
        c.set("mercure", "On").unwrap();
        c.set("mercure_publisher_key", KEY).unwrap();
        c.set("secret", KEY).unwrap();
        c.set("private_channels", "private-*").unwrap();
        c.mercure_anonymous = true;
        c.mercure_channels = channels;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_publications_reach_mercure_subscribers_of_their_channel() {
    let server = hub(true).await;
    let mut news = open(&server, "news", &[]).await;
    let mut private = open(&server, "private-7", &[]).await;
    let mut granted = open(
        &server,
        "private-7",
        &[("Authorization", &bearer(KEY, &["private-7"]))],
    )
    .await;
    server.wait_subscribers(3).await;
    server
        .hub
        .publish("news", Outgoing::new("bytes").binary())
        .unwrap();
    server.publish("private-7", "for a grant only");
    server.publish("other", "not this topic");
    server.publish_event("news", "note", "line one\nline two");
    let event = news.event().await;
    assert!(
        event
            .id
            .as_deref()
            .is_some_and(|id| id.starts_with("urn:push:")),
        "{event:?}"
    );
    assert_eq!(event.event.as_deref(), Some("note"));
    assert_eq!(
        event.data(),
        "line one\nline two",
        "the binary one was not copied"
    );
    assert_eq!(
        granted.event().await.data(),
        "for a grant only",
        "a private channel's publication is a private update"
    );
    news.quiet(Duration::from_millis(100)).await;
    private.quiet(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_mercure_updates_reach_push_subscribers_of_their_topics() {
    let server = hub(true).await;
    let mut sse = open(&server, "news", &[]).await;
    let mut channel = server.hub.subscribe("news", Cursor::Live).unwrap();
    server.wait_subscribers(2).await;
    publish(
        &server,
        KEY,
        &[
            ("topic", "news"),
            ("topic", "private-7"),
            ("data", "secret"),
            ("private", "on"),
        ],
    )
    .await;
    let id = publish(
        &server,
        KEY,
        &[
            ("topic", "news"),
            ("topic", "https://x/y"),
            ("data", "hello"),
            ("type", "note"),
        ],
    )
    .await;
    match tokio::time::timeout(Duration::from_secs(5), channel.recv()).await {
        Ok(Event::Message(p)) => {
            assert_eq!(
                &p.data[..],
                b"hello",
                "the private update stayed in the log"
            );
            assert_eq!(p.event.as_deref(), Some("note"));
        }
        other => panic!("{other:?}"),
    }
    // The Mercure subscriber gets the private update? No grant: no. The
    // public one once: the channel's copy is not copied back.
    let event = sse.event().await;
    assert_eq!(event.id.as_deref(), Some(&*id));
    sse.quiet(Duration::from_millis(150)).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(100), channel.recv())
            .await
            .is_err(),
        "one publication on the channel"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_by_default_the_namespaces_stay_apart() {
    let server = hub(false).await;
    let mut sse = open(&server, "news", &[]).await;
    let mut channel = server.hub.subscribe("news", Cursor::Live).unwrap();
    server.wait_subscribers(2).await;
    server.publish("news", "push only");
    publish(&server, KEY, &[("topic", "news"), ("data", "mercure only")]).await;
    assert_eq!(sse.event().await.data(), "mercure only");
    sse.quiet(Duration::from_millis(100)).await;
    match channel.recv().await {
        Event::Message(p) => assert_eq!(&p.data[..], b"push only"),
        other => panic!("{other:?}"),
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(100), channel.recv())
            .await
            .is_err()
    );
}
