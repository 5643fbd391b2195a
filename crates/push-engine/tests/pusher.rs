//! The Pusher protocol 7 over WebSocket (`GET /app/{key}`), with a real
//! client (tokio-tungstenite): connecting and its refusals, ping and pong,
//! public, private and presence channels, client events, and messages
//! from push's other doors.

mod common;

use std::time::Duration;

use common::pusher::*;
use common::*;
use futures_util::SinkExt;
use push_engine::Outgoing;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn off_by_default() {
    let server = Server::start().await;
    let (status, _) = ws_refused(server.addr, &path()).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn unknown_key_and_protocol_are_refused_on_the_socket() {
    let server = start().await;
    let mut ws = ws_open(server.addr, "/app/nope?protocol=7").await;
    let e = next(&mut ws).await;
    assert_eq!(e["event"], "pusher:error");
    assert_eq!(e["data"]["code"], 4001);
    assert_eq!(ws_close_code(&mut ws).await, 4001);

    for bad in [
        "/app/app-key?protocol=6",
        "/app/app-key?protocol=8",
        "/app/app-key",
    ] {
        let mut ws = ws_open(server.addr, bad).await;
        let e = next(&mut ws).await;
        assert_eq!(e["event"], "pusher:error", "{bad}");
        assert_eq!(e["data"]["code"], 4007, "{bad}");
        assert_eq!(ws_close_code(&mut ws).await, 4007, "{bad}");
    }
}

#[tokio::test]
async fn ping_pong_both_ways_and_a_silent_client_is_closed() {
    // push.keepalive is 1 s in the tests: activity_timeout 1.
    let server = start().await;
    let (mut ws, _) = connect(&server).await;
    send(&mut ws, json!({ "event": "pusher:ping", "data": {} })).await;
    assert_eq!(next(&mut ws).await["event"], "pusher:pong");
    // Silent: the server pings, and the client answers.
    let ping = next(&mut ws).await;
    assert_eq!(ping["event"], "pusher:ping");
    send(&mut ws, json!({ "event": "pusher:pong", "data": {} })).await;
    // Silent again, and no answer this time: 4201.
    assert_eq!(next(&mut ws).await["event"], "pusher:ping");
    assert_eq!(ws_close_code(&mut ws).await, 4201);
}

#[tokio::test]
async fn public_channel_gets_what_every_door_publishes() {
    let server = start().await;
    let (mut ws, _) = connect(&server).await;
    subscribed(&mut ws, "orders").await;
    server.wait_subscribers(1).await;

    // The hub (push_send() and the local socket go through it).
    server
        .hub
        .send(
            "orders",
            Outgoing::new(r#"{"id":7}"#).event("App\\Events\\OrderShipped"),
        )
        .await
        .unwrap();
    let m = next(&mut ws).await;
    assert_eq!(m["event"], "App\\Events\\OrderShipped");
    assert_eq!(m["channel"], "orders");
    assert_eq!(m["data"], r#"{"id":7}"#, "data is a JSON-encoded string");

    // POST /publish, with and without ?event=.
    let r = post(server.addr, "/publish/orders?event=shipped", &[], b"hello").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let m = next(&mut ws).await;
    assert_eq!(
        (m["event"].as_str(), m["data"].as_str()),
        (Some("shipped"), Some("hello"))
    );
    let r = post(server.addr, "/publish/orders", &[], b"plain").await;
    assert_eq!(r.status, 200);
    let m = next(&mut ws).await;
    assert_eq!(m["event"], "message", "the default event name");
    assert_eq!(m["data"], "plain");

    // The protocol's own event names are not delivered from publishers.
    server.publish_event("orders", "pusher_internal:member_added", "{}");
    server.publish_event("orders", "after", "x");
    assert_eq!(next(&mut ws).await["event"], "after");

    // Unsubscribed: nothing more.
    send(
        &mut ws,
        json!({ "event": "pusher:unsubscribe", "data": { "channel": "orders" } }),
    )
    .await;
    server.wait_subscribers(0).await;
    server.publish("orders", "gone");
    ws_quiet(&mut ws, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn pusher_names_are_valid_in_every_door() {
    let server = start().await;
    let (mut ws, _) = connect(&server).await;
    let name = "room=1,a;b@x.y_z-w";
    subscribed(&mut ws, name).await;
    let event = "Illuminate\\Notifications\\Events\\BroadcastNotificationCreated.".repeat(3);
    let mut sse = sse_open(server.addr, &format!("/sse/{}", enc(name)), &[]).await;
    server.wait_subscribers(2).await;
    let r = post(
        server.addr,
        &format!("/publish/{}?event={}", enc(name), enc(&event)),
        &[],
        b"n",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let m = next(&mut ws).await;
    assert_eq!(m["event"].as_str(), Some(event.as_str()));
    assert_eq!(m["channel"], name);
    assert_eq!(sse.event().await.data(), "n");

    let long = "c".repeat(201);
    let e = subscribe(&mut ws, &long, None, None).await;
    assert_eq!(e["event"], "pusher:subscription_error");
    assert_eq!(data(&e)["status"], 400);
}

#[tokio::test]
async fn private_channels_need_a_valid_signature() {
    let server = start().await;
    let (mut ws, id) = connect(&server).await;
    let channel = "private-App.Models.User.1";

    for bad in [
        None,
        Some(format!("{KEY}:{}", "0".repeat(64))),
        Some(auth("1.1", channel, None)),
        Some(format!(
            "other-key:{}",
            auth(&id, channel, None).split_once(':').unwrap().1
        )),
        Some("garbage".to_owned()),
    ] {
        let e = subscribe(&mut ws, channel, bad.clone(), None).await;
        assert_eq!(e["event"], "pusher:subscription_error", "{bad:?}");
        assert_eq!(e["channel"], channel);
        assert_eq!(data(&e)["status"], 401, "{bad:?}");
        assert_eq!(data(&e)["type"], "AuthError");
    }
    assert_eq!(server.hub.stats().subscribers, 0);

    let ok = subscribe(&mut ws, channel, Some(auth(&id, channel, None)), None).await;
    assert_eq!(
        ok["event"], "pusher_internal:subscription_succeeded",
        "{ok}"
    );
    server.wait_subscribers(1).await;
    server.publish_event(channel, "secret", "s");
    assert_eq!(next(&mut ws).await["data"], "s");

    // push's own doors need a push token for it now.
    let r = get(server.addr, &format!("/poll/{channel}?timeout=0")).await;
    assert_eq!(r.status, 403, "{}", r.text());
}

#[tokio::test]
async fn presence_members_come_and_go_once_per_user() {
    let server = start().await;
    let channel = "presence-room";
    let join = |id: &str, user: &str| {
        let cd = json!({ "user_id": user.parse::<u64>().map(Value::from).unwrap_or(Value::from(user)), "user_info": { "name": user } }).to_string();
        (auth(id, channel, Some(&cd)), cd)
    };

    let (mut a, a_id) = connect(&server).await;
    let (sig, cd) = join(&a_id, "1");
    let ok = subscribe(&mut a, channel, Some(sig), Some(&cd)).await;
    assert_eq!(
        ok["event"], "pusher_internal:subscription_succeeded",
        "{ok}"
    );
    let p = data(&ok);
    assert_eq!(p["presence"]["count"], 1);
    assert_eq!(p["presence"]["ids"], json!(["1"]));
    assert_eq!(p["presence"]["hash"]["1"], json!({ "name": "1" }));

    // channel_data is signed byte for byte: the same JSON re-spaced fails.
    let (mut b, b_id) = connect(&server).await;
    let (sig, cd) = join(&b_id, "2");
    let respaced = cd.replace(':', ": ");
    let e = subscribe(&mut b, channel, Some(sig.clone()), Some(&respaced)).await;
    assert_eq!(e["event"], "pusher:subscription_error");
    let ok = subscribe(&mut b, channel, Some(sig), Some(&cd)).await;
    assert_eq!(data(&ok)["presence"]["count"], 2);
    assert_eq!(data(&ok)["presence"]["ids"], json!(["1", "2"]));
    let added = next(&mut a).await;
    assert_eq!(added["event"], "pusher_internal:member_added");
    assert_eq!(
        data(&added),
        json!({ "user_id": "2", "user_info": { "name": "2" } })
    );

    // User 2 in a second tab: no member_added, count stays 2.
    let (mut b2, b2_id) = connect(&server).await;
    let (sig, cd) = join(&b2_id, "2");
    let ok = subscribe(&mut b2, channel, Some(sig), Some(&cd)).await;
    assert_eq!(data(&ok)["presence"]["count"], 2);
    ws_quiet(&mut a, Duration::from_millis(200)).await;
    ws_quiet(&mut b, Duration::from_millis(50)).await;

    // First tab of user 2 goes: nothing; the last: member_removed, to the
    // others only.
    drop(b);
    ws_quiet(&mut a, Duration::from_millis(200)).await;
    send(
        &mut b2,
        json!({ "event": "pusher:unsubscribe", "data": { "channel": channel } }),
    )
    .await;
    let removed = next(&mut a).await;
    assert_eq!(removed["event"], "pusher_internal:member_removed");
    assert_eq!(data(&removed), json!({ "user_id": "2" }));
    ws_quiet(&mut b2, Duration::from_millis(200)).await;
    assert_eq!(server.hub.presence().count(channel), 1);
    drop(a);
    let started = std::time::Instant::now();
    while server.hub.presence().count(channel) != 0 {
        assert!(started.elapsed() < T);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn client_events_on_private_and_presence_channels_only_never_echoed() {
    let server = start().await;
    let (mut a, a_id) = connect(&server).await;
    let (mut b, b_id) = connect(&server).await;
    let private = "private-chat";
    for (ws, id) in [(&mut a, &a_id), (&mut b, &b_id)] {
        let ok = subscribe(ws, private, Some(auth(id, private, None)), None).await;
        assert_eq!(ok["event"], "pusher_internal:subscription_succeeded");
        subscribed(ws, "public").await;
    }
    server.wait_subscribers(4).await;

    send(
        &mut a,
        json!({ "event": "client-typing", "channel": private, "data": { "who": "a" } }),
    )
    .await;
    let m = next(&mut b).await;
    assert_eq!(m["event"], "client-typing");
    assert_eq!(m["channel"], private);
    assert_eq!(data(&m), json!({ "who": "a" }));
    assert!(m.get("user_id").is_none());
    ws_quiet(&mut a, Duration::from_millis(200)).await;

    // A public channel, or one not subscribed to: refused, not delivered.
    send(
        &mut a,
        json!({ "event": "client-typing", "channel": "public", "data": {} }),
    )
    .await;
    assert_eq!(next(&mut a).await["event"], "pusher:error");
    send(
        &mut a,
        json!({ "event": "client-typing", "channel": "private-other", "data": {} }),
    )
    .await;
    assert_eq!(next(&mut a).await["event"], "pusher:error");
    ws_quiet(&mut b, Duration::from_millis(200)).await;

    // Presence: the sender's user_id is added.
    let presence = "presence-chat";
    for (ws, id, user) in [(&mut a, &a_id, "alice"), (&mut b, &b_id, "bob")] {
        let cd = json!({ "user_id": user }).to_string();
        let ok = subscribe(ws, presence, Some(auth(id, presence, Some(&cd))), Some(&cd)).await;
        assert_eq!(ok["event"], "pusher_internal:subscription_succeeded");
    }
    assert_eq!(next(&mut a).await["event"], "pusher_internal:member_added");
    send(
        &mut b,
        json!({ "event": "client-hi", "channel": presence, "data": "x" }),
    )
    .await;
    let m = next(&mut a).await;
    assert_eq!(
        (m["event"].as_str(), m["user_id"].as_str()),
        (Some("client-hi"), Some("bob"))
    );
    ws_quiet(&mut b, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn client_events_faster_than_the_rate_close_4301() {
    let server = Server::start_with(|c| {
        c.pusher_app_id = APP_ID.into();
        c.pusher_key = KEY.into();
        c.set("pusher_secret", SECRET).unwrap();
        c.client_publish_rate = 3;
    })
    .await;
    let (mut a, id) = connect(&server).await;
    let ok = subscribe(
        &mut a,
        "private-x",
        Some(auth(&id, "private-x", None)),
        None,
    )
    .await;
    assert_eq!(ok["event"], "pusher_internal:subscription_succeeded");
    for _ in 0..10 {
        send(
            &mut a,
            json!({ "event": "client-x", "channel": "private-x", "data": {} }),
        )
        .await;
    }
    assert_eq!(ws_close_code(&mut a).await, 4301);
}

#[tokio::test]
async fn shutdown_closes_with_4200() {
    let mut server = start().await;
    let (mut idle, _) = connect(&server).await;
    let (mut busy, _) = connect(&server).await;
    subscribed(&mut busy, "c").await;
    server.begin_shutdown();
    assert_eq!(ws_close_code(&mut idle).await, 4200);
    assert_eq!(ws_close_code(&mut busy).await, 4200);
    server.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_engines_on_redis_client_events_reach_the_others_and_not_back() {
    let redis = common::redis::RedisServer::start();
    let one = common::redis::engine(&redis, pusher_settings).await;
    let two = common::redis::engine(&redis, pusher_settings).await;
    let channel = "private-shared";
    let (mut a, a_id) = connect(&one).await;
    let (mut b, b_id) = connect(&two).await;
    for (ws, id) in [(&mut a, &a_id), (&mut b, &b_id)] {
        let ok = subscribe(ws, channel, Some(auth(id, channel, None)), None).await;
        assert_eq!(ok["event"], "pusher_internal:subscription_succeeded");
    }
    one.wait_subscribers(1).await;
    two.wait_subscribers(1).await;
    assert_ne!(
        a_id.split_once('.').map(|p| p.1),
        None,
        "socket ids are n.n on every engine"
    );
    assert_ne!(a_id, b_id);

    // A client event on engine one reaches engine two, and not its sender.
    send(
        &mut a,
        json!({ "event": "client-x", "channel": channel, "data": { "n": 1 } }),
    )
    .await;
    let m = next(&mut b).await;
    assert_eq!(
        (m["event"].as_str(), data(&m)),
        (Some("client-x"), json!({ "n": 1 }))
    );
    ws_quiet(&mut a, Duration::from_millis(300)).await;

    // A publication from engine two excluding b (HTTP API socket_id)
    // reaches a only.
    two.hub
        .send(
            channel,
            Outgoing::new("y")
                .event("e")
                .origin(push_engine::message::Origin {
                    connection: b_id.clone(),
                    user: None,
                }),
        )
        .await
        .unwrap();
    assert_eq!(next(&mut a).await["data"], "y");
    ws_quiet(&mut b, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn garbage_frames_are_answered_not_fatal() {
    let server = start().await;
    let (mut ws, _) = connect(&server).await;
    for garbage in [
        "not json",
        "[]",
        "{}",
        r#"{"event": 5}"#,
        r#"{"event": "pusher:subscribe"}"#,
        r#"{"event": "pusher:subscribe", "data": {"channel": 7}}"#,
        r#"{"event": "pusher:subscribe", "data": "{\"channel\": null}"}"#,
        r#"{"event": "client-x"}"#,
    ] {
        ws.send(Message::Text(garbage.into())).await.unwrap();
        let e = next(&mut ws).await;
        assert_eq!(e["event"], "pusher:error", "{garbage}: {e}");
    }
    ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await["event"], "pusher:error");
    // Unknown events, and unsubscribing from what was never subscribed:
    // nothing.
    send(&mut ws, json!({ "event": "pusher:unknown", "data": {} })).await;
    send(
        &mut ws,
        json!({ "event": "pusher:unsubscribe", "data": { "channel": "x" } }),
    )
    .await;
    // Presence with channel_data that is not a member: refused with 400.
    let (mut p, id) = connect(&server).await;
    for cd in [
        "[]",
        "{}",
        r#"{"user_id": ""}"#,
        r#"{"user_id": {}}"#,
        "nope",
    ] {
        let e = subscribe(
            &mut p,
            "presence-x",
            Some(auth(&id, "presence-x", Some(cd))),
            Some(cd),
        )
        .await;
        assert_eq!(e["event"], "pusher:subscription_error", "{cd}");
        assert_eq!(data(&e)["status"], 400, "{cd}");
    }
    // Still served.
    subscribed(&mut ws, "still").await;
    assert_eq!(server.hub.presence().count("presence-x"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_arrives_whole_and_in_order() {
    let server = start().await;
    let (mut ws, _) = connect(&server).await;
    subscribed(&mut ws, "burst").await;
    subscribed(&mut ws, "other").await;
    server.wait_subscribers(2).await;
    for i in 0..200 {
        let channel = if i % 2 == 0 { "burst" } else { "other" };
        server.publish_event(channel, "n", i.to_string());
    }
    let mut got = Vec::new();
    while got.len() < 200 {
        let m = next(&mut ws).await;
        got.push((
            m["channel"].as_str().unwrap().to_owned(),
            m["data"].as_str().unwrap().parse::<u32>().unwrap(),
        ));
    }
    for channel in ["burst", "other"] {
        let seq: Vec<u32> = got
            .iter()
            .filter(|(c, _)| c == channel)
            .map(|(_, n)| *n)
            .collect();
        let want: Vec<u32> = (0..200)
            .filter(|i| (i % 2 == 0) == (channel == "burst"))
            .collect();
        assert_eq!(seq, want, "{channel}");
    }
}
