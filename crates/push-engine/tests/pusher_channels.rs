//! Pusher's special channel kinds with a real client (tokio-tungstenite):
//! cache channels (the last event replayed on subscribe from push's
//! history, on one engine and across engines on Redis, else
//! `pusher:cache_miss`) and end-to-end encrypted channels (authorised as
//! private ones, payloads relayed untouched, client events refused).

mod common;

use std::time::Duration;

use common::pusher::*;
use common::*;
use push_engine::Outgoing;
use serde_json::{json, Value};

/// Subscribes with the auth a channel of its kind needs, and reads
/// `subscription_succeeded`.
async fn join(ws: &mut Ws, id: &str, channel: &str) {
    let (signature, channel_data) = if channel.starts_with("presence-") {
        let cd = json!({ "user_id": id }).to_string();
        (Some(auth(id, channel, Some(&cd))), Some(cd))
    } else if channel.starts_with("private-") {
        (Some(auth(id, channel, None)), None)
    } else {
        (None, None)
    };
    let ok = subscribe(ws, channel, signature, channel_data.as_deref()).await;
    assert_eq!(
        ok["event"], "pusher_internal:subscription_succeeded",
        "{ok}"
    );
    assert_eq!(ok["channel"], channel);
}

fn event_of(frame: &Value) -> (&str, &str, Value) {
    (
        frame["event"].as_str().unwrap_or(""),
        frame["channel"].as_str().unwrap_or(""),
        data(frame),
    )
}

#[tokio::test]
async fn cache_channels_replay_the_last_event_else_a_cache_miss() {
    let server = start().await;
    for channel in [
        "cache-a",
        "private-cache-a",
        "private-encrypted-cache-a",
        "presence-cache-a",
    ] {
        // Nothing published yet: a miss.
        let (mut ws, id) = connect(&server).await;
        join(&mut ws, &id, channel).await;
        let miss = next(&mut ws).await;
        assert_eq!(miss["event"], "pusher:cache_miss", "{channel}: {miss}");
        assert_eq!(miss["channel"], channel);
        ws_quiet(&mut ws, Duration::from_millis(100)).await;

        // Two events: a new subscriber gets the last one only, once.
        for n in [1, 2] {
            server
                .hub
                .send(
                    channel,
                    Outgoing::new(format!("{{\"n\":{n}}}")).event("tick"),
                )
                .await
                .unwrap();
        }
        assert_eq!(event_of(&next(&mut ws).await).2, json!({ "n": 1 }));
        assert_eq!(event_of(&next(&mut ws).await).2, json!({ "n": 2 }));
        let (mut late, late_id) = connect(&server).await;
        join(&mut late, &late_id, channel).await;
        if channel.starts_with("presence-") {
            // The first subscriber is told of the second.
            let added = next(&mut ws).await;
            assert_eq!(added["event"], "pusher_internal:member_added");
        }
        assert_eq!(
            event_of(&next(&mut late).await),
            ("tick", channel, json!({ "n": 2 })),
            "{channel}"
        );
        ws_quiet(&mut late, Duration::from_millis(100)).await;
        // And what follows, live, once.
        server
            .hub
            .send(channel, Outgoing::new("{\"n\":3}").event("tick"))
            .await
            .unwrap();
        assert_eq!(event_of(&next(&mut late).await).2, json!({ "n": 3 }));
        assert_eq!(event_of(&next(&mut ws).await).2, json!({ "n": 3 }));
        ws_quiet(&mut late, Duration::from_millis(100)).await;
    }

    // A channel that is not a cache channel replays nothing.
    server.publish_event("plain", "tick", "1");
    let (mut ws, _) = connect(&server).await;
    subscribed(&mut ws, "plain").await;
    ws_quiet(&mut ws, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn cache_channels_miss_without_history() {
    let server = Server::start_with(|c| {
        pusher_settings(c);
        c.history = 0;
    })
    .await;
    server.publish_event("cache-none", "tick", "1");
    let (mut ws, _) = connect(&server).await;
    subscribed(&mut ws, "cache-none").await;
    assert_eq!(next(&mut ws).await["event"], "pusher:cache_miss");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_engines_on_redis_the_last_event_comes_from_the_broker() {
    let redis = common::redis::RedisServer::start();
    let one = common::redis::engine(&redis, pusher_settings).await;
    let two = common::redis::engine(&redis, pusher_settings).await;
    let (mut a, _) = connect(&two).await;
    subscribed(&mut a, "cache-r").await;
    assert_eq!(next(&mut a).await["event"], "pusher:cache_miss");
    for n in [1, 2] {
        one.hub
            .send("cache-r", Outgoing::new(n.to_string()).event("tick"))
            .await
            .unwrap();
        assert_eq!(next(&mut a).await["data"], n.to_string());
    }
    // Engine one never had a subscriber of it: its history is Redis's.
    let (mut b, _) = connect(&one).await;
    subscribed(&mut b, "cache-r").await;
    assert_eq!(event_of(&next(&mut b).await), ("tick", "cache-r", json!(2)));
    ws_quiet(&mut b, Duration::from_millis(200)).await;
    // Engine two had it in its own history.
    let (mut c, _) = connect(&two).await;
    subscribed(&mut c, "cache-r").await;
    assert_eq!(event_of(&next(&mut c).await), ("tick", "cache-r", json!(2)));
}

#[tokio::test]
async fn encrypted_channels_are_private_opaque_and_refuse_client_events() {
    let server = start().await;
    let channel = "private-encrypted-room";
    let (mut a, a_id) = connect(&server).await;
    let (mut b, b_id) = connect(&server).await;
    // Authorised as a private channel: nothing, or a bad signature, refused.
    let e = subscribe(&mut a, channel, None, None).await;
    assert_eq!(e["event"], "pusher:subscription_error", "{e}");
    let e = subscribe(&mut a, channel, Some(auth(&b_id, channel, None)), None).await;
    assert_eq!(data(&e)["status"], 401, "{e}");
    join(&mut a, &a_id, channel).await;
    join(&mut b, &b_id, channel).await;

    // A client event: refused with pusher:error, and not relayed.
    send(
        &mut a,
        json!({ "event": "client-typing", "channel": channel, "data": {} }),
    )
    .await;
    let e = next(&mut a).await;
    assert_eq!(e["event"], "pusher:error", "{e}");
    assert!(e["data"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("encrypted")));
    ws_quiet(&mut b, Duration::from_millis(200)).await;

    // What the server libraries send (nonce and ciphertext) is relayed
    // untouched.
    let payload = r#"{"nonce":"bm9uY2Ugb2YgMjQgYnl0ZXMgZm9yIG5hY2w=","ciphertext":"c2VhbGVkIGJ5IG5hY2wgc2VjcmV0Ym94"}"#;
    let r = post_signed(
        &server,
        "events",
        &json!({ "name": "message", "channel": channel, "data": payload }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for ws in [&mut a, &mut b] {
        let m = next(ws).await;
        assert_eq!(m["data"].as_str(), Some(payload), "{m}");
    }
}
