//! Pusher presence and occupancy across engines sharing one real
//! `redis-server`: members of every engine listed, a member's arrival and
//! departure told once (never to the connection that caused it), the HTTP
//! API's counts cluster-wide, the members of an engine that died removed
//! within `push.presence_ttl`, a restarted Redis told every engine's
//! members again, and the webhooks of all that POSTed once per cluster.
//! Webhooks on their own: tests/pusher_webhooks.rs.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cluster::*;
use common::redis::RedisServer;
use common::*;
use push_engine::broker::Redis;
use push_engine::Hub;
use serde_json::json;

#[tokio::test]
async fn presence_occupancy_and_webhooks_once_across_two_engines() {
    let redis = RedisServer::start();
    let mut hooks = hooks().await;
    let one = common::redis::engine(&redis, settings(&hooks.url)).await;
    let two = common::redis::engine(&redis, settings(&hooks.url)).await;
    let room = "presence-room";

    let (mut a, a_id) = connect(one.addr).await;
    assert_eq!(join(&mut a, &a_id, room, "ann").await, ["ann"]);
    let (mut b, b_id) = connect(two.addr).await;
    assert_eq!(
        join(&mut b, &b_id, room, "bob").await,
        ["ann", "bob"],
        "engine two lists engine one's member"
    );
    assert_eq!(
        notices(&mut a, Duration::from_millis(300)).await,
        [added("bob")]
    );
    assert!(
        notices(&mut b, Duration::ZERO).await.is_empty(),
        "not to the joiner"
    );

    // Ann's second connection, on engine two: nobody is told.
    let (mut a2, a2_id) = connect(two.addr).await;
    assert_eq!(join(&mut a2, &a2_id, room, "ann").await, ["ann", "bob"]);
    assert!(notices(&mut a, Duration::from_millis(300)).await.is_empty());
    assert!(notices(&mut b, Duration::ZERO).await.is_empty());

    // The HTTP API of either engine counts the cluster.
    for engine in [&one, &two] {
        let users = api(engine.addr, &format!("channels/{room}/users"), &[]).await;
        let mut ids: Vec<&str> = users["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        ids.sort();
        assert_eq!(ids, ["ann", "bob"]);
        let addr = engine.addr;
        eventually("three subscriptions counted", 2 * T, || async move {
            let c = api(
                addr,
                &format!("channels/{room}"),
                &[("info", "subscription_count,user_count")],
            )
            .await;
            c == json!({ "occupied": true, "subscription_count": 3, "user_count": 2 })
        })
        .await;
        let all = api(
            engine.addr,
            "channels",
            &[("filter_by_prefix", "presence-"), ("info", "user_count")],
        )
        .await;
        assert_eq!(all, json!({ "channels": { room: { "user_count": 2 } } }));
    }

    // Ann's first connection leaves: she is still there (engine two).
    leave(&mut a, room).await;
    assert!(notices(&mut b, Duration::from_millis(300)).await.is_empty());
    // Her last: bob is told, once; the connection that left is not.
    drop(a2);
    assert_eq!(
        notices(&mut b, Duration::from_millis(500)).await,
        [removed("ann")]
    );
    assert!(notices(&mut a, Duration::ZERO).await.is_empty());

    // Bob leaves: the channel is empty everywhere.
    drop(b);
    let addr = one.addr;
    eventually("the channel vacated", 2 * T, || async move {
        let c = api(
            addr,
            &format!("channels/{room}"),
            &[("info", "subscription_count")],
        )
        .await;
        c == json!({ "occupied": false, "subscription_count": 0 })
    })
    .await;

    // Each transition was POSTed once, though both engines send webhooks.
    let events = hooks.events(Duration::from_millis(800)).await;
    assert_eq!(
        count(&events, "channel_occupied", room, None),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "member_added", room, Some("ann")),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "member_added", room, Some("bob")),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "member_removed", room, Some("ann")),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "member_removed", room, Some("bob")),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "channel_vacated", room, None),
        1,
        "{events:?}"
    );
    assert_eq!(events.len(), 6, "{events:?}");
    assert!(hooks.unsigned().is_empty());
    let sent = |s: &Server| {
        s.hub
            .metrics()
            .webhooks(push_engine::metrics::Webhook::Sent)
    };
    assert!(
        sent(&one) + sent(&two) >= 2,
        "each engine sent what it observed"
    );
}

/// An engine on a runtime of its own, stopped without a goodbye: its
/// tasks vanish as they would with the process killed -9.
fn doomed_engine(redis: &RedisServer, url: &str) -> (tokio::runtime::Runtime, SocketAddr) {
    let config = Arc::new(common::redis::broker_config(redis, settings(url)));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    // Built on a thread of its own: a runtime is not built inside another.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let broker = Redis::new(&config, &config.broker.clone().unwrap()).unwrap();
        let hub = Hub::with_broker(config, Arc::new(broker));
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            push_engine::server::run(listener, hub, std::future::pending()).await
        });
        (runtime, addr)
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_members_of_a_killed_engine_leave_within_presence_ttl() {
    let redis = RedisServer::start();
    let mut hooks = hooks().await;
    let one = common::redis::engine(&redis, settings(&hooks.url)).await;
    let (doomed, addr) = doomed_engine(&redis, &hooks.url);
    let room = "presence-crash";
    let (mut a, a_id) = connect(one.addr).await;
    join(&mut a, &a_id, room, "ann").await;
    let (mut z, z_id) = connect(addr).await;
    assert_eq!(join(&mut z, &z_id, room, "zed").await, ["ann", "zed"]);
    assert_eq!(
        notices(&mut a, Duration::from_millis(300)).await,
        [added("zed")]
    );
    let (mut y, _) = connect(addr).await;
    send(
        &mut y,
        json!({ "event": "pusher:subscribe", "data": { "channel": "lonely" } }),
    )
    .await;
    assert_eq!(
        ws_json(&mut y).await["event"],
        "pusher_internal:subscription_succeeded"
    );
    let one_addr = one.addr;
    eventually("lonely occupied", 2 * T, || async move {
        api(one_addr, "channels/lonely", &[]).await["occupied"] == true
    })
    .await;
    hooks.events(Duration::from_millis(300)).await;

    // Killed: no unsubscribe, no goodbye to Redis.
    let killed = Instant::now();
    doomed.shutdown_background();
    // Within push.presence_ttl and one refresh (a third of it), and some
    // slack for this shared machine.
    let bound = TTL + TTL / 3 + Duration::from_millis(500);
    let mut got = Vec::new();
    while got.is_empty() && killed.elapsed() < bound {
        got = notices(&mut a, Duration::from_millis(50)).await;
    }
    let took = killed.elapsed();
    assert_eq!(got, [removed("zed")], "zed removed after {took:?}");
    assert!(took <= bound, "removed after {took:?}, more than {bound:?}");
    assert!(took >= TTL / 2, "not before push.presence_ttl: {took:?}");
    assert!(
        notices(&mut a, Duration::from_millis(500)).await.is_empty(),
        "once"
    );
    let users = api(one.addr, &format!("channels/{room}/users"), &[]).await;
    assert_eq!(users, json!({ "users": [{ "id": "ann" }] }));
    assert_eq!(
        api(one.addr, "channels/lonely", &[]).await,
        json!({ "occupied": false })
    );
    let events = hooks.events(Duration::from_millis(500)).await;
    assert_eq!(
        count(&events, "member_removed", room, Some("zed")),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "channel_vacated", "lonely", None),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, "channel_vacated", room, None),
        0,
        "ann is still there"
    );
    drop(z);
    drop(y);
}

#[tokio::test]
async fn a_restarted_redis_is_told_every_engines_members_again() {
    let mut redis = RedisServer::start();
    let one = common::redis::engine(&redis, settings("")).await;
    let two = common::redis::engine(&redis, settings("")).await;
    let room = "presence-lost";
    let (mut a, a_id) = connect(one.addr).await;
    join(&mut a, &a_id, room, "ann").await;
    let (mut b, b_id) = connect(two.addr).await;
    assert_eq!(join(&mut b, &b_id, room, "bob").await, ["ann", "bob"]);
    assert_eq!(
        notices(&mut a, Duration::from_millis(300)).await,
        [added("bob")]
    );

    // Redis comes back empty (no persistence): each engine finds it was
    // forgotten at its next refresh and tells its members again.
    redis.kill();
    redis.restart();
    assert_eq!(
        redis.cli(&["EXISTS", &format!("push:pres:{{{room}}}")]),
        "0"
    );
    for engine in [&one, &two] {
        let addr = engine.addr;
        eventually("both members known again", 2 * T, || async move {
            let (_, users) = try_api(addr, &format!("channels/{room}/users"), &[]).await;
            let mut ids: Vec<String> = users["users"]
                .as_array()
                .map(|u| {
                    u.iter()
                        .map(|u| u["id"].as_str().unwrap_or("").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            ids.sort();
            ids == ["ann", "bob"]
        })
        .await;
    }
    // Told again to nobody: the members never left.
    let (told_a, told_b) = (
        notices(&mut a, Duration::from_millis(300)).await,
        notices(&mut b, Duration::ZERO).await,
    );
    assert!(
        told_a.is_empty() && told_b.is_empty(),
        "{told_a:?} {told_b:?}"
    );
}
