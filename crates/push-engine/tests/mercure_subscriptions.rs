//! `push.mercure_subscriptions = On`: a subscription to a topic selector
//! is announced as a private update of
//! `/.well-known/mercure/subscriptions/{topic}/{subscriber}` when it
//! starts and when it ends, and the subscriptions API lists the active
//! ones to a token that grants the path asked for, each with the
//! `mercure.payload` of its subscriber's token. Off (the default), neither
//! exists.

mod common;

use std::time::Duration;

use common::mercure::{bearer, jwt, subscribe as open};
use common::*;
use serde_json::{json, Value};

const API: &str = "/.well-known/mercure/subscriptions";
const KEY: &str = "mercure-publisher-key-0123456789abcdef";
const EVENTS: &str = "/.well-known/mercure/subscriptions/{topic}/{subscriber}";
const BOOK: &str = "https://example.com/books/1";

async fn hub(subscriptions: bool) -> Server {
    Server::start_with(|c| {
        c.set("mercure", "On").unwrap();
        c.set("secret", KEY).unwrap();
        c.mercure_anonymous = true;
        c.mercure_subscriptions = subscriptions;
    })
    .await
}

/// The next subscription event about `topic` (others' come first: the
/// watchers' own).
async fn event_about(sse: &mut Sse, topic: &str) -> (SseEvent, Value) {
    loop {
        let event = sse.event().await;
        let doc: Value = serde_json::from_str(event.data()).unwrap();
        if doc["topic"] == topic {
            return (event, doc);
        }
    }
}

fn json_of(r: &Response) -> Value {
    assert_eq!(
        r.header("content-type"),
        Some("application/ld+json"),
        "{}",
        r.text()
    );
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_announced_and_listed() {
    let server = hub(true).await;
    let admin = bearer(KEY, &[EVENTS, API, &format!("{API}/{{topic}}")]);
    let mut watcher = open(&server, EVENTS, &[("Authorization", &admin)]).await;
    let mut anonymous = open(&server, EVENTS, &[]).await;
    server.wait_subscribers(2).await;

    let reader = open(&server, BOOK, &[]).await;
    let (event, doc) = event_about(&mut watcher, BOOK).await;
    assert_eq!(doc["type"], "Subscription");
    assert_eq!(doc["topic"], BOOK);
    assert_eq!(doc["active"], true);
    let id = doc["id"].as_str().unwrap().to_owned();
    let subscriber = doc["subscriber"].as_str().unwrap().to_owned();
    assert!(
        subscriber.starts_with("urn:push:subscriber:"),
        "{subscriber}"
    );
    assert_eq!(id, format!("{API}/{}/{}", enc(BOOK), enc(&subscriber)));

    // The API: the collection, the selector's, the subscription's own.
    let all = json_of(&get_with(server.addr, API, &[("Authorization", &admin)]).await);
    assert_eq!(all["@context"], "https://mercure.rocks/");
    assert_eq!(all["type"], "Subscriptions");
    assert_eq!(all["lastEventID"], event.id.clone().unwrap());
    let listed: Vec<&str> = all["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["topic"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed.len(),
        3,
        "the watchers' own and the reader's: {listed:?}"
    );
    assert!(listed.contains(&BOOK));
    let by_topic = json_of(
        &get_with(
            server.addr,
            &format!("{API}/{}", enc(BOOK)),
            &[("Authorization", &admin)],
        )
        .await,
    );
    assert_eq!(by_topic["subscriptions"].as_array().unwrap().len(), 1);
    let one = get_with(server.addr, &id, &[("Authorization", &bearer(KEY, &[&id]))]).await;
    let one = json_of(&one);
    assert_eq!(
        (one["id"].as_str(), one["active"].as_bool()),
        (Some(&*id), Some(true))
    );

    // The reader leaves: announced, and gone from the list.
    drop(reader);
    let (_, doc) = event_about(&mut watcher, BOOK).await;
    assert_eq!(
        (doc["id"].as_str(), doc["active"].as_bool()),
        (Some(&*id), Some(false))
    );
    let gone = get_with(server.addr, &id, &[("Authorization", &bearer(KEY, &[&id]))]).await;
    assert_eq!(gone.status, 404, "{}", gone.text());

    // Subscription events are private: an anonymous watcher saw none.
    anonymous.quiet(Duration::from_millis(100)).await;
}

/// What the subscriber's token says of it (`mercure.payload`) is in its
/// subscription's events and in the list; a token without one adds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_shows_its_tokens_payload() {
    let server = hub(true).await;
    let admin = bearer(KEY, &[EVENTS, API]);
    let mut watcher = open(&server, EVENTS, &[("Authorization", &admin)]).await;
    server.wait_subscribers(1).await;

    let payload = json!({"user": "https://example.com/users/ann", "remoteAddr": "127.0.0.1"});
    let ann = format!(
        "Bearer {}",
        jwt(
            KEY,
            json!({"mercure": {"subscribe": [BOOK], "payload": payload}})
        )
    );
    let reader = open(&server, BOOK, &[("Authorization", &ann)]).await;
    let (_, doc) = event_about(&mut watcher, BOOK).await;
    assert_eq!(doc["payload"], payload);
    let all = json_of(&get_with(server.addr, API, &[("Authorization", &admin)]).await);
    let listed = all["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["topic"] == BOOK)
        .cloned()
        .unwrap();
    assert_eq!(listed["payload"], payload);
    drop(reader);
    let (_, doc) = event_about(&mut watcher, BOOK).await;
    assert_eq!((&doc["active"], &doc["payload"]), (&json!(false), &payload));

    // Anonymous: no payload at all.
    let _anonymous = open(&server, BOOK, &[]).await;
    let (_, doc) = event_about(&mut watcher, BOOK).await;
    assert!(doc.get("payload").is_none(), "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_needs_a_token_that_grants_the_path() {
    let server = hub(true).await;
    let r = get(server.addr, API).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.header("www-authenticate").is_some());
    let r = get_with(
        server.addr,
        API,
        &[("Authorization", &bearer(KEY, &[BOOK]))],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = get_with(
        server.addr,
        &format!("{API}/{}/urn%3Anobody", enc(BOOK)),
        &[("Authorization", &bearer(KEY, &["*"]))],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_by_default() {
    let server = hub(false).await;
    let mut watcher = open(&server, EVENTS, &[("Authorization", &bearer(KEY, &["*"]))]).await;
    server.wait_subscribers(1).await;
    let _reader = open(&server, BOOK, &[]).await;
    watcher.quiet(Duration::from_millis(150)).await;
    let r = get_with(server.addr, API, &[("Authorization", &bearer(KEY, &["*"]))]).await;
    assert_eq!(r.status, 404, "{}", r.text());
}
