//! The Mercure hub on several engines sharing one Redis (`push.broker`):
//! an update published on one engine reaches subscribers of another, and
//! a subscriber resumes on any engine — even one that never held the log —
//! with a hub id or a publisher's id, with no gap and no duplicate; an id
//! Redis no longer holds gets the loss signal there too. With
//! `push.mercure_channels`, push's publications and Mercure's updates
//! cross between engines once each. The 1.0 dialect likewise: URL pattern
//! subscriptions, private updates by `authorization_details`, resuming by
//! `Mercure-Last-Event-ID`.

mod common;

use std::time::Duration;

use common::mercure::subscribe as open;
use common::mercure::{access_token, claims, grant, publish_with, HUB};
use common::redis::{engine, send, RedisServer};
use common::*;
use serde_json::json;

const KEY: &str = "mercure-key-of-the-redis-test-0123456789";

async fn hub(redis: &RedisServer) -> Server {
    engine(redis, |c| {
        c.set("mercure", "On").unwrap();
        c.set("secret", KEY).unwrap();
        c.set("mercure_anonymous", "On").unwrap();
        c.history = 5;
    })
    .await
}

async fn publish(server: &Server, pairs: &[(&str, &str)]) -> String {
    common::mercure::publish_keyed(server, KEY, pairs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_and_ids_are_shared_by_every_engine() {
    let redis = RedisServer::start();
    let (a, b) = (hub(&redis).await, hub(&redis).await);
    let mut on_b = open(&b, "/books/{id}", &[]).await;
    b.wait_subscribers(1).await;
    let first = publish(&a, &[("topic", "/books/1"), ("data", "1")]).await;
    publish(&a, &[("topic", "/other"), ("data", "skipped")]).await;
    publish(&a, &[("topic", "/books/2"), ("data", "2"), ("id", "two")]).await;
    let e = on_b.event().await;
    assert_eq!((e.id.as_deref(), e.data()), (Some(&*first), "1"));
    let e = on_b.event().await;
    assert_eq!((e.id.as_deref(), e.data()), (Some("two"), "2"));
    drop(on_b);
    publish(&b, &[("topic", "/books/3"), ("data", "3"), ("id", "three")]).await;
    publish(&a, &[("topic", "/books/4"), ("data", "4")]).await;
    // A third engine, which never held the log, resumes after either kind
    // of id.
    let c = hub(&redis).await;
    for (after, want) in [("two", &["3", "4"][..]), (&*first, &["2", "3", "4"][..])] {
        let mut sse = open(&c, "/books/{id}", &[("Last-Event-ID", after)]).await;
        assert_eq!(sse.header("last-event-id"), Some(after));
        for w in want {
            assert_eq!(sse.event().await.data(), *w, "after {after}");
        }
        sse.quiet(Duration::from_millis(100)).await;
    }
    // Redis keeps push.history (5) entries: the first is gone after more.
    for i in 5..9 {
        publish(&a, &[("topic", "/books/x"), ("data", &i.to_string())]).await;
    }
    let fresh = hub(&redis).await;
    let mut sse = open(&fresh, "/books/{id}", &[("Last-Event-ID", &first)]).await;
    assert_eq!(sse.header("last-event-id"), Some("earliest"));
    assert_eq!(sse.event().await.event.as_deref(), Some("push-lost"));
    assert_eq!(sse.event().await.data(), "4", "then the oldest held");
}

/// `push.mercure_channels` across engines: the engine a publication is
/// made on copies it, once; the copy reaches Mercure subscribers of every
/// engine, and a Mercure update reaches push's subscribers of every engine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_and_topics_are_one_across_engines() {
    let redis = RedisServer::start();
    let (a, b) = (joined(&redis).await, joined(&redis).await);
    let mut mercure_on_b = open(&b, "news", &[]).await;
    let mut push_on_a = news_channel(&a).await;
    b.wait_subscribers(1).await;
    send(&a, "news", "from push on A".into()).await.unwrap();
    let e = mercure_on_b.event().await;
    assert_eq!(e.data(), "from push on A");
    assert!(e
        .id
        .as_deref()
        .is_some_and(|id| id.starts_with("urn:push:")));
    publish(&b, &[("topic", "news"), ("data", "from Mercure on B")]).await;
    let e = mercure_on_b.event().await;
    assert_eq!(e.data(), "from Mercure on B");
    for want in ["from push on A", "from Mercure on B"] {
        match tokio::time::timeout(Duration::from_secs(5), push_on_a.recv()).await {
            Ok(push_engine::Event::Message(p)) => assert_eq!(&p.data[..], want.as_bytes()),
            other => panic!("{want}: {other:?}"),
        }
    }
    // Each copied once: nothing more on either side.
    mercure_on_b.quiet(Duration::from_millis(200)).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(100), push_on_a.recv())
            .await
            .is_err()
    );
}

/// An engine with the hub and `push.mercure_channels` On.
async fn joined(redis: &RedisServer) -> Server {
    engine(redis, |c| {
        c.set("mercure", "On").unwrap();
        c.set("secret", KEY).unwrap();
        c.set("mercure_anonymous", "On").unwrap();
        c.set("mercure_channels", "On").unwrap();
    })
    .await
}

/// A push subscription to `news` on `server`, through its broker.
async fn news_channel(server: &Server) -> push_engine::Subscription {
    server
        .hub
        .join("news", push_engine::Cursor::Live)
        .await
        .unwrap()
}

/// `push.mercure_subscriptions` across engines: a subscription made on one
/// engine is announced to watchers on another (the events are updates of
/// the shared log); each engine's API lists its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_events_cross_engines() {
    let redis = RedisServer::start();
    let announcing = || {
        engine(&redis, |c| {
            c.set("mercure", "On").unwrap();
            c.set("secret", KEY).unwrap();
            c.set("mercure_anonymous", "On").unwrap();
            c.set("mercure_subscriptions", "On").unwrap();
        })
    };
    let (a, b) = (announcing().await, announcing().await);
    let events = "/.well-known/mercure/subscriptions/{topic}/{subscriber}";
    let grant = common::mercure::bearer(KEY, &[events, "/.well-known/mercure/subscriptions"]);
    let mut watcher = open(&a, events, &[("Authorization", &grant)]).await;
    a.wait_subscribers(1).await;
    let _reader = open(&b, "/books/1", &[]).await;
    // Its own subscription's event comes first; then the reader's, from B.
    let own: serde_json::Value = serde_json::from_str(watcher.event().await.data()).unwrap();
    assert_eq!(own["topic"], events);
    let doc: serde_json::Value = serde_json::from_str(watcher.event().await.data()).unwrap();
    assert_eq!(
        (doc["topic"].as_str(), doc["active"].as_bool()),
        (Some("/books/1"), Some(true))
    );
    let listed = |server: &Server| {
        let grant = grant.clone();
        let addr = server.addr;
        async move {
            let r = get_with(
                addr,
                "/.well-known/mercure/subscriptions",
                &[("Authorization", &grant)],
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text());
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            v["subscriptions"].as_array().unwrap().len()
        }
    };
    assert_eq!(
        (listed(&a).await, listed(&b).await),
        (1, 1),
        "each engine lists its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_1_0_dialect_filters_and_resumes_alike_on_every_engine() {
    let redis = RedisServer::start();
    let (a, b) = (hub(&redis).await, hub(&redis).await);
    let pattern = format!(
        "{HUB}?matchURLPattern={}",
        enc("https://example.com/books/:id")
    );
    let reader = access_token(
        KEY,
        &claims(grant(
            &["subscribe"],
            json!([{"match": "https://example.com/books/:id", "matchType": "URLPattern"}]),
        )),
    );
    let bearer = format!("Bearer {reader}");
    let mut granted = sse_open(b.addr, &pattern, &[("Authorization", &bearer)]).await;
    let mut anonymous = sse_open(b.addr, &pattern, &[]).await;
    for sse in [&mut granted, &mut anonymous] {
        assert_eq!(sse.next().await, Some(SseItem::Comment(String::new())));
    }
    b.wait_subscribers(2).await;
    let publisher = access_token(KEY, &claims(grant(&["publish"], json!([{"match": "*"}]))));
    let private = publish_with(
        &a,
        &publisher,
        &[
            ("topic", "https://example.com/books/1"),
            ("private", "on"),
            ("data", "private"),
        ],
    )
    .await;
    let public = publish_with(
        &a,
        &publisher,
        &[("topic", "https://example.com/books/2"), ("data", "public")],
    )
    .await;
    for (id, data) in [(&private, "private"), (&public, "public")] {
        let e = granted.event().await;
        assert_eq!((e.id.as_deref(), e.data()), (Some(&**id), data));
    }
    let e = anonymous.event().await;
    assert_eq!((e.id.as_deref(), e.data()), (Some(&*public), "public"));
    anonymous.quiet(Duration::from_millis(100)).await;
    // An engine that never held the log resumes after the private one.
    let last = publish_with(
        &b,
        &publisher,
        &[("topic", "https://example.com/books/3"), ("data", "three")],
    )
    .await;
    let c = hub(&redis).await;
    let mut resumed = sse_open(
        c.addr,
        &pattern,
        &[
            ("Mercure-Last-Event-ID", &private),
            ("Authorization", &bearer),
        ],
    )
    .await;
    assert_eq!(resumed.header("last-event-id"), Some(&*private));
    for (id, data) in [(&public, "public"), (&last, "three")] {
        let e = resumed.event().await;
        assert_eq!((e.id.as_deref(), e.data()), (Some(&**id), data));
    }
    resumed.quiet(Duration::from_millis(100)).await;
}
