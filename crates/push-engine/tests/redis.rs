//! The Redis broker: several engines share every channel. Each test starts
//! its own `redis-server` on a free loopback port (see common/redis.rs) and
//! engines served on port 0, with real WebSocket, SSE and long-poll clients
//! (common/subscriber.rs). Redis going away and coming back:
//! `redis_outage.rs`.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::redis::{engine, send, RedisServer};
use common::subscriber::{assert_consecutive, parts, Kind, Subscriber};
use common::*;
use push_engine::Outgoing;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_engines_deliver_every_message_once_in_one_order() {
    let redis = RedisServer::start();
    let history = |c: &mut push_engine::Config| c.history = 20_000;
    let engines = [
        engine(&redis, history).await,
        engine(&redis, history).await,
        engine(&redis, history).await,
    ];
    let mut subs = Vec::new();
    for e in &engines {
        for kind in [Kind::Ws, Kind::Sse, Kind::Poll] {
            subs.push(Subscriber::start(kind, e, "room").await);
        }
    }
    const N: usize = 10_000;
    // Three publishers, one per engine, each in its own order.
    let hubs: Vec<_> = engines.iter().map(|e| e.hub.clone()).collect();
    let publishers: Vec<_> = hubs
        .into_iter()
        .enumerate()
        .map(|(i, hub)| {
            tokio::spawn(async move {
                for n in (i..N).step_by(3) {
                    hub.send("room", Outgoing::new(format!("{i}:{n}")))
                        .await
                        .unwrap_or_else(|e| panic!("publish {n} on engine {i}: {e}"));
                }
            })
        })
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    let first = subs[0].wait_for(N, Duration::from_secs(60)).await;
    assert_eq!(first.lost, 0);
    assert_consecutive(&first.ids, "the first subscriber");
    let expected: HashSet<String> = (0..N).map(|n| format!("{}:{n}", n % 3)).collect();
    assert_eq!(first.data.iter().cloned().collect::<HashSet<_>>(), expected);
    // Each publisher's messages arrive in its own order.
    for i in 0..3 {
        let mine: Vec<usize> = first
            .data
            .iter()
            .filter_map(|d| d.strip_prefix(&format!("{i}:")))
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "publisher {i} in order"
        );
    }
    for (k, sub) in subs.iter().enumerate() {
        let r = sub.wait_for(N, Duration::from_secs(60)).await;
        assert_eq!(r.lost, 0, "subscriber {k} ({:?}) lost nothing", sub.kind);
        assert_eq!(
            r.data.len(),
            N,
            "subscriber {k} ({:?}): no duplicate",
            sub.kind
        );
        assert_eq!(
            r.ids, first.ids,
            "subscriber {k} ({:?}): the same ids in the same order",
            sub.kind
        );
        assert_eq!(
            r.data, first.data,
            "subscriber {k} ({:?}): the same messages",
            sub.kind
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_moved_to_another_engine_resumes_without_gap() {
    let redis = RedisServer::start();
    let a = engine(&redis, |_| {}).await;
    let b = engine(&redis, |_| {}).await;
    let mut sse = sse_open(a.addr, "/sse/moving", &[]).await;
    a.wait_subscribers(1).await;
    let mut sent = Vec::new();
    for n in 0..60 {
        let on = if n % 2 == 0 { &a } else { &b };
        sent.push((
            send(on, "moving", format!("m{n}")).await.unwrap(),
            format!("m{n}"),
        ));
    }
    // Read 25 on engine A, then leave.
    for (id, data) in &sent[..25] {
        let e = sse.event().await;
        assert_eq!(
            (e.id.as_deref(), e.data()),
            (Some(id.as_str()), data.as_str())
        );
    }
    drop(sse);
    let last = sent[24].0.clone();
    // Engine B ran all along but never served the channel, engine C starts
    // now: both read the history from Redis.
    let c = engine(&redis, |_| {}).await;
    for (server, name) in [(&b, "B"), (&c, "C")] {
        let mut sse = sse_open(server.addr, "/sse/moving", &[("Last-Event-ID", &last)]).await;
        for (id, data) in &sent[25..] {
            let e = sse.event().await;
            assert_ne!(
                e.event.as_deref(),
                Some("push-lost"),
                "engine {name}: no loss"
            );
            assert_eq!(
                (e.id.as_deref(), e.data()),
                (Some(id.as_str()), data.as_str()),
                "engine {name}"
            );
        }
        // And what is published next, from anywhere, follows without a gap.
        let next = send(&a, "moving", format!("after {name}")).await.unwrap();
        let e = sse.event().await;
        assert_eq!(
            e.id.as_deref(),
            Some(next.as_str()),
            "engine {name}: live after history"
        );
        sent.push((next, format!("after {name}")));
        let answer = get(
            server.addr,
            &format!("/poll/moving?since={}&timeout=0", enc(&last)),
        )
        .await;
        let v = answer.json();
        assert_eq!(v["lost"], false, "engine {name}: long-poll resumes too");
        assert_eq!(v["messages"][0]["id"].as_str(), Some(sent[25].0.as_str()));
    }
    // WebSocket, on engine C, with ?lastEventId=.
    let mut ws = ws_open(
        c.addr,
        &format!("/ws/moving?format=json&lastEventId={}", enc(&last)),
    )
    .await;
    for (id, data) in &sent[25..] {
        let v = ws_json(&mut ws).await;
        assert_eq!(
            (v["id"].as_str(), v["data"].as_str()),
            (Some(id.as_str()), Some(data.as_str()))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_older_than_the_shared_history_gets_the_loss_signal() {
    let redis = RedisServer::start();
    let a = engine(&redis, |c| c.history = 5).await;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(send(&a, "short", format!("m{n}")).await.unwrap());
    }
    // A fresh engine reads the history from Redis: only the last 5 remain.
    let b = engine(&redis, |c| c.history = 5).await;
    let mut sse = sse_open(b.addr, "/sse/short", &[("Last-Event-ID", &ids[2])]).await;
    let e = sse.event().await;
    assert_eq!(e.event.as_deref(), Some("push-lost"));
    let v: serde_json::Value = serde_json::from_str(e.data()).unwrap();
    assert_eq!(v["requested"].as_str(), Some(ids[2].as_str()));
    assert_eq!(v["oldest"].as_str(), Some(ids[15].as_str()));
    for id in &ids[15..] {
        assert_eq!(sse.event().await.id.as_deref(), Some(id.as_str()));
    }
    // A cursor of an epoch Redis never had: the loss signal too.
    let answer = get(b.addr, "/poll/short?since=1-1&timeout=0").await;
    assert_eq!(answer.json()["lost"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_prefixes_on_one_redis_do_not_see_each_other() {
    let redis = RedisServer::start();
    let one = engine(&redis, |c| c.redis_prefix = "app1".into()).await;
    let two = engine(&redis, |c| c.redis_prefix = "app2".into()).await;
    let mut on_one = sse_open(one.addr, "/sse/shared-name", &[]).await;
    let mut on_two = sse_open(two.addr, "/sse/shared-name", &[]).await;
    one.wait_subscribers(1).await;
    two.wait_subscribers(1).await;
    let id1 = send(&one, "shared-name", "for app1".into()).await.unwrap();
    let id2 = send(&two, "shared-name", "for app2".into()).await.unwrap();
    let e = on_one.event().await;
    assert_eq!(
        (e.id.as_deref(), e.data()),
        (Some(id1.as_str()), "for app1")
    );
    let e = on_two.event().await;
    assert_eq!(
        (e.id.as_deref(), e.data()),
        (Some(id2.as_str()), "for app2")
    );
    on_one.quiet(Duration::from_millis(300)).await;
    on_two.quiet(Duration::from_millis(300)).await;
    // Separate ids too: each app's channel starts at offset 1.
    assert_eq!(parts(&id1).1, 1);
    assert_eq!(parts(&id2).1, 1);
    let keys = redis.cli(&["--raw", "KEYS", "*"]);
    assert!(
        keys.lines()
            .all(|k| k.starts_with("app1:") || k.starts_with("app2:")),
        "{keys}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_nobody_here_wants_do_not_fill_max_channels() {
    let redis = RedisServer::start();
    let a = engine(&redis, |_| {}).await;
    let c = engine(&redis, |c| c.max_channels = 10).await;
    for n in 0..20 {
        send(&a, &format!("other{n}"), "x".into()).await.unwrap();
    }
    let mut sse = sse_open(c.addr, "/sse/mine", &[]).await;
    assert_eq!(sse.status, 200, "a subscription on C is not refused");
    c.wait_subscribers(1).await;
    assert_eq!(c.hub.stats().channels, 1, "C mirrors only what it serves");
    let id = send(&a, "mine", "for C".into()).await.unwrap();
    let e = sse.event().await;
    assert_eq!((e.id.as_deref(), e.data()), (Some(id.as_str()), "for C"));
    // A channel C never served: history comes from Redis when asked.
    let answer = get(c.addr, "/poll/other7?since=&timeout=0").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_publishes_on_one_engine_reach_another() {
    let redis = RedisServer::start();
    let allow = |c: &mut push_engine::Config| c.set("client_publish", "On").unwrap();
    let a = engine(&redis, allow).await;
    let b = engine(&redis, allow).await;
    let mut on_b = sse_open(b.addr, "/sse/chat", &[]).await;
    b.wait_subscribers(1).await;
    // A WebSocket client's message on engine A.
    let mut ws = ws_open(a.addr, "/ws/chat").await;
    a.wait_subscribers(1).await;
    futures_util::SinkExt::send(&mut ws, Message::text("from a browser"))
        .await
        .unwrap();
    let e = on_b.event().await;
    assert_eq!(e.data(), "from a browser");
    // POST /publish on engine A.
    let answer = post(a.addr, "/publish/chat", &[], b"from a backend").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let id = answer.json()["id"].as_str().unwrap().to_owned();
    let e = on_b.event().await;
    assert_eq!(
        (e.id.as_deref(), e.data()),
        (Some(id.as_str()), "from a backend")
    );
    // The sender's own engine delivers both to it too, in the same order.
    assert_eq!(ws_text(&mut ws).await, "from a browser");
    assert_eq!(ws_text(&mut ws).await, "from a backend");
}
