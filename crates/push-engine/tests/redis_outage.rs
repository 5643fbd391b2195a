//! The Redis broker when Redis is not there: an engine that starts before
//! it, Redis restarted under a stream of publications, a dropped broker
//! connection caught up from history, and the heads of watched channels
//! kept from expiring. Each test starts its own `redis-server` (see
//! common/redis.rs).

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis::{engine, engine_unready, send, wait_ready, RedisServer};
use common::subscriber::{Kind, Subscriber};
use common::*;
use push_engine::Error;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_starts_without_redis_and_connects_when_it_comes() {
    let mut redis = RedisServer::start();
    redis.kill();
    let a = engine_unready(&redis, |_| {}).await;
    assert!(!a.hub.metrics().is_ready());
    // Publishing fails with a clear error; subscribing still works.
    match send(&a, "later", "too early".into()).await {
        Err(Error::Broker(reason)) => assert!(reason.contains("127.0.0.1"), "{reason}"),
        other => panic!("expected a broker error, got {other:?}"),
    }
    let answer = post(a.addr, "/publish/later", &[], b"too early").await;
    assert_eq!(answer.status, 503, "{}", answer.text());
    let mut sse = sse_open(a.addr, "/sse/later", &[]).await;
    assert_eq!(sse.status, 200);
    a.wait_subscribers(1).await;
    redis.restart();
    wait_ready(&a.hub, true).await;
    let id = send(&a, "later", "on time".into()).await.unwrap();
    let e = sse.event().await;
    assert_eq!((e.id.as_deref(), e.data()), (Some(id.as_str()), "on time"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarting_while_publishing_loses_nothing_silently() {
    let mut redis = RedisServer::start();
    let history = |c: &mut push_engine::Config| c.history = 10_000;
    let engines = Arc::new([
        engine(&redis, history).await,
        engine(&redis, history).await,
        engine(&redis, history).await,
    ]);
    let mut subs = Vec::new();
    for e in engines.iter() {
        for kind in [Kind::Ws, Kind::Sse, Kind::Poll] {
            subs.push(Subscriber::start(kind, e, "storm").await);
        }
    }
    // Publish round-robin through the three engines until told to stop.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = {
        let (engines, stop) = (engines.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut acked, mut refused) = (Vec::new(), 0usize);
            let mut n = 0usize;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let data = format!("s{n}");
                match send(&engines[n % 3], "storm", data.clone()).await {
                    Ok(_) => acked.push(data),
                    Err(Error::Broker(_)) => refused += 1,
                    Err(e) => panic!("unexpected error: {e}"),
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (acked, refused)
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    redis.kill();
    for e in engines.iter() {
        wait_ready(&e.hub, false).await;
        let ready = get(e.addr, "/ready").await;
        assert_eq!(ready.status, 503, "{}", ready.text());
        assert_eq!(ready.json()["broker"], "disconnected");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart();
    for e in engines.iter() {
        wait_ready(&e.hub, true).await;
        let ready = get(e.addr, "/ready").await;
        assert_eq!(ready.status, 200, "{}", ready.text());
        let metrics = get(e.addr, "/metrics").await.text();
        assert!(
            metrics.contains("push_broker_reconnects_total 1"),
            "{metrics}"
        );
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (acked, refused) = publisher.await.unwrap();
    assert!(refused > 0, "publishing during the outage is refused");
    assert!(
        acked.len() > 100,
        "publishing works before and after: {} acked",
        acked.len()
    );
    for e in engines.iter() {
        assert!(e.hub.metrics().broker_reconnects() >= 1);
    }
    // The last message acknowledged reaches everyone (published after the
    // restart); then count who got everything and who got the loss signal.
    let last = acked.last().unwrap().clone();
    let (mut complete, mut told, mut signals) = (0, 0, 0);
    for (k, sub) in subs.iter().enumerate() {
        let started = Instant::now();
        let r = loop {
            let r = sub.record();
            if r.data.contains(&last) {
                break r;
            }
            assert!(
                started.elapsed() < 2 * T,
                "subscriber {k} ({:?}) gets the last message",
                sub.kind
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let got: HashSet<&String> = r.data.iter().collect();
        assert_eq!(
            got.len(),
            r.data.len(),
            "subscriber {k} ({:?}): no duplicate",
            sub.kind
        );
        let missing = acked.iter().filter(|d| !got.contains(d)).count();
        // Redis came back empty: a new epoch, so no subscriber's continuity
        // can be proven, and each must be told.
        assert!(
            r.lost > 0,
            "subscriber {k} ({:?}) got the loss signal",
            sub.kind
        );
        signals += r.lost;
        if missing == 0 {
            complete += 1;
        } else {
            assert!(
                r.lost > 0,
                "subscriber {k} ({:?}) missed {missing} messages without the loss signal",
                sub.kind
            );
            told += 1;
        }
    }
    eprintln!(
        "after the Redis restart: {complete} subscribers got every message and {told} missed some; \
         all were told ({signals} loss signals); {} published, {refused} refused during the outage",
        acked.len()
    );
    assert_eq!(complete + told, subs.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_broker_connection_is_caught_up_from_history() {
    let redis = RedisServer::start();
    let a = engine(&redis, |_| {}).await;
    let b = engine(&redis, |_| {}).await;
    let subs = [
        Subscriber::start(Kind::Ws, &b, "steady").await,
        Subscriber::start(Kind::Sse, &b, "steady").await,
        Subscriber::start(Kind::Poll, &b, "steady").await,
    ];
    let mut sent = Vec::new();
    for n in 0..200 {
        if n == 50 {
            // Redis keeps its data but drops every pub/sub connection:
            // engine B misses what is published until it reconnects.
            let killed = redis.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]);
            assert!(killed.parse::<u32>().unwrap() >= 2, "{killed}");
        }
        sent.push(send(&a, "steady", format!("k{n}")).await.unwrap());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    wait_ready(&b.hub, true).await;
    let reconnects = |s: &Server| s.hub.metrics().broker_reconnects();
    assert!(reconnects(&b) >= 1 && reconnects(&a) >= 1);
    for sub in &subs {
        let r = sub.wait_for(200, 2 * T).await;
        assert_eq!(
            r.lost, 0,
            "{:?}: caught up from history, nothing lost",
            sub.kind
        );
        assert_eq!(r.ids, sent, "{:?}: every message once, in order", sub.kind);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_of_watched_channels_are_kept_from_expiring() {
    let redis = RedisServer::start();
    let a = engine(&redis, |_| {}).await;
    let _sse = sse_open(a.addr, "/sse/watched", &[]).await;
    a.wait_subscribers(1).await;
    send(&a, "watched", "x".into()).await.unwrap();
    send(&a, "unwatched", "y".into()).await.unwrap();
    let ttl = |key: &str| redis.cli(&["PTTL", key]).parse::<i64>().unwrap();
    assert!(ttl("push:{watched}:head") > 86_000_000, "a day at least");
    redis.cli(&["PEXPIRE", "push:{watched}:head", "5000"]);
    let watched = a.hub.watched();
    assert_eq!(watched, vec![std::sync::Arc::<str>::from("watched")]);
    a.hub.broker().unwrap().touch(&watched).await.unwrap();
    assert!(ttl("push:{watched}:head") > 86_000_000, "touched again");
}

/// `/ready` says 200 only when a publication would go through: after Redis
/// restarts, the first `POST /publish` on every engine, made the moment
/// its `/ready` turns 200, is accepted (it used to meet the command
/// connection that Redis had closed: 503 "broken pipe").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_publish_after_ready_succeeds_on_every_engine() {
    let mut redis = RedisServer::start();
    let engines = [engine(&redis, |_| {}).await, engine(&redis, |_| {}).await];
    for e in &engines {
        // Opens each engine's command connection.
        assert_eq!(post(e.addr, "/publish/c", &[], b"before").await.status, 200);
    }
    redis.kill();
    for e in &engines {
        wait_ready(&e.hub, false).await;
    }
    redis.restart();
    for e in &engines {
        let started = Instant::now();
        while get(e.addr, "/ready").await.status != 200 {
            assert!(started.elapsed() < 2 * T, "ready again within 2T");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let answer = post(e.addr, "/publish/c", &[], b"after").await;
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
}

/// A command connection that Redis closed (here `CLIENT KILL`; in life its
/// `timeout` on idle clients, or a restart) is replaced before the next
/// publication, which therefore goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_connection_redis_closed_is_not_used_again() {
    let redis = RedisServer::start();
    let a = engine(&redis, |_| {}).await;
    for round in 0..3 {
        send(&a, "c", format!("before {round}")).await.unwrap();
        let killed = redis.cli(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
        assert_ne!(killed.trim(), "0", "the command connection was killed");
        tokio::time::sleep(Duration::from_millis(20)).await;
        let answer = post(a.addr, "/publish/c", &[], b"after").await;
        assert_eq!(answer.status, 200, "round {round}: {}", answer.text());
    }
}
