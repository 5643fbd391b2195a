//! An idle Pusher connection of one channel is written by the publisher
//! itself (its tap, `edge/transport/tap`), and the client sees what its
//! session alone would send: every publication once and in order, never
//! its own client events nor the protocol's reserved event names, pings
//! answered between the publisher's writes, and everything for a reader
//! whose socket fills up. A connection whose one channel is not the one
//! tapped (a signed-in user's) is served by its session.

mod common;

use std::time::Duration;

use common::pusher::*;
use common::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_gets_each_publication_once_in_order_but_its_own() {
    const N: usize = 150;
    let server = start().await;
    let channel = "private-chat";
    let (mut a, a_id) = connect(&server).await;
    let (mut b, b_id) = connect(&server).await;
    for (ws, id) in [(&mut a, &a_id), (&mut b, &b_id)] {
        let ok = subscribe(ws, channel, Some(auth(id, channel, None)), None).await;
        assert_eq!(ok["event"], "pusher_internal:subscription_succeeded");
    }
    server.wait_subscribers(2).await;
    let before = server.hub.metrics().direct_writes();
    // Publications with events, a reserved name no client may be sent,
    // and `a`'s client events in between.
    for i in 0..N {
        match i % 10 {
            3 => {
                server.publish_event(channel, "pusher_internal:member_added", "{}");
            }
            7 => {
                send(
                    &mut a,
                    json!({ "event": "client-typing", "channel": channel, "data": { "n": i } }),
                )
                .await
            }
            _ => {
                server.publish_event(channel, "App\\Events\\Sent", format!("m{i}"));
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let published = |i: &usize| i % 10 != 3 && i % 10 != 7;
    let want_a: Vec<String> = (0..N).filter(published).map(|i| format!("m{i}")).collect();
    let want_b: Vec<String> = (0..N)
        .filter(|i| i % 10 != 3)
        .map(|i| match i % 10 {
            7 => format!("client {i}"),
            _ => format!("m{i}"),
        })
        .collect();
    for (ws, want) in [(&mut a, want_a), (&mut b, want_b)] {
        let mut got = Vec::new();
        while got.len() < want.len() {
            let m = next(ws).await;
            assert_eq!(m["channel"], channel, "{m}");
            got.push(match m["event"].as_str() {
                Some("App\\Events\\Sent") => m["data"].as_str().unwrap().to_owned(),
                Some("client-typing") => format!("client {}", data(&m)["n"]),
                _ => panic!("after {got:?}: {m}"),
            });
        }
        assert_eq!(got, want);
        // Nothing more: no reserved event, no echo.
        ws_quiet(ws, Duration::from_millis(100)).await;
    }
    let direct = server.hub.metrics().direct_writes() - before;
    let deliveries = (2 * N - N / 10 * 3) as u64;
    assert!(
        direct >= deliveries / 2,
        "most of the {deliveries} deliveries are written by the publisher: {direct}"
    );
    assert!(direct <= deliveries);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_answered_between_the_publishers_writes() {
    let server = start().await;
    let (mut ws, _) = connect(&server).await;
    subscribed(&mut ws, "a").await;
    server.wait_subscribers(1).await;
    for i in 0..20 {
        server.publish_event("a", "n", format!("m{i}"));
        send(&mut ws, json!({ "event": "pusher:ping", "data": {} })).await;
        ws.send_ping(i).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (mut texts, mut pongs, mut ws_pongs) = (Vec::new(), 0, Vec::new());
    while texts.len() < 20 || pongs < 20 || ws_pongs.len() < 20 {
        match tokio::time::timeout(T, futures_util::StreamExt::next(&mut ws)).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let m: serde_json::Value = serde_json::from_str(&t).unwrap();
                match m["event"].as_str() {
                    Some("n") => texts.push(m["data"].as_str().unwrap().to_owned()),
                    Some("pusher:pong") => pongs += 1,
                    _ => panic!("{m}"),
                }
            }
            Ok(Some(Ok(Message::Pong(p)))) => ws_pongs.push(p[0]),
            Ok(Some(Ok(Message::Ping(_)))) => {}
            other => panic!("after {texts:?}, {pongs} and {ws_pongs:?}: {other:?}"),
        }
    }
    assert_eq!(texts, (0..20).map(|i| format!("m{i}")).collect::<Vec<_>>());
    assert_eq!(ws_pongs, (0..20).collect::<Vec<u8>>());
    assert!(server.hub.metrics().direct_writes() > 0);
}

/// A WebSocket ping of one byte, `n`.
trait SendPing {
    async fn send_ping(&mut self, n: u8);
}

impl SendPing for Ws {
    async fn send_ping(&mut self, n: u8) {
        futures_util::SinkExt::send(self, Message::Ping(vec![n].into()))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_users_own_channel_is_served_by_the_session() {
    // The session's timer (a quarter of push.keepalive) does not come
    // round within the test's wait: a delivery left to no one fails it.
    let server = Server::start_with(|c| {
        pusher_settings(c);
        c.keepalive = Duration::from_secs(60);
    })
    .await;
    let (mut ws, socket) = connect(&server).await;
    // Tapped on "a", then left with the user's channel alone: a feed of
    // one channel the tap is not registered with.
    subscribed(&mut ws, "a").await;
    server.wait_subscribers(1).await;
    server.publish_event("a", "n", "1");
    assert_eq!(next(&mut ws).await["data"], "1");
    send(
        &mut ws,
        json!({ "event": "pusher:unsubscribe", "data": { "channel": "a" } }),
    )
    .await;
    sign_in(&mut ws, &socket, "alice").await;
    for i in 0..3 {
        let r = post_signed(
            &server,
            "events",
            &json!({ "name": "hello", "channel": "#server-to-user-alice", "data": format!("u{i}") }),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let m = next(&mut ws).await;
        assert_eq!(m["event"], "hello", "{m}");
        assert_eq!(m["data"], format!("u{i}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_whose_socket_fills_gets_every_message_once_in_order() {
    const N: usize = 300;
    let server = Server::start_with(|c| {
        pusher_settings(c);
        c.keepalive = Duration::from_secs(10);
        c.max_message_size = 64 * 1024;
        c.channel_buffer = 4096;
        c.history = 4096;
    })
    .await;
    // A 4 KB receive buffer, and nothing read at first: the publisher's
    // writes are partial, or find the socket full, and the session takes
    // over, then parks again.
    let stream = small_socket(server.addr, 4096).await;
    let request = format!("ws://{}{}", server.addr, path())
        .into_client_request()
        .unwrap();
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("the upgrade");
    assert_eq!(
        next(&mut ws).await["event"],
        "pusher:connection_established"
    );
    subscribed(&mut ws, "a").await;
    server.wait_subscribers(1).await;
    let body = |i: usize| format!("{i:06}{}", "z".repeat(16 * 1024));
    let publisher = server.publish_burst("a", N, move |i| {
        push_engine::Outgoing::new(body(i)).event("big")
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..N {
        let m = next(&mut ws).await;
        assert!(
            m["data"].as_str() == Some(&body(i)[..]),
            "message {i} whole"
        );
        if i % 100 == 99 {
            // Reading nothing for a while fills the socket.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    publisher.await.unwrap();
    assert!(server.hub.metrics().direct_writes() > 0);
    assert_eq!(server.hub.metrics().slow_disconnects(), 0);
    assert_eq!(server.hub.metrics().drops(), 0);
}
