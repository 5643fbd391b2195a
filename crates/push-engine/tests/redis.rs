//! The Redis broker: several engines share every channel. Each test starts
//! its own `redis-server` on a free loopback port (see common/redis.rs) and
//! engines served on port 0, with real WebSocket, SSE and long-poll clients.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::redis::{engine, engine_unready, wait_ready, RedisServer};
use common::*;
use futures_util::StreamExt;
use push_engine::{Error, Outgoing};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

// ---------------------------------------------------------------- clients

/// What one subscriber received: ids and data in arrival order, and how
/// many loss signals.
#[derive(Debug, Default, Clone)]
struct Record {
    ids: Vec<String>,
    data: Vec<String>,
    lost: usize,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Ws,
    Sse,
    Poll,
}

/// A subscriber running in a task, recording into a shared [`Record`].
struct Subscriber {
    kind: Kind,
    record: Arc<Mutex<Record>>,
    task: JoinHandle<()>,
}

impl Subscriber {
    /// Connects and returns once the engine counts the subscription.
    async fn start(kind: Kind, server: &Server, channel: &str) -> Subscriber {
        let before = server.hub.stats().subscribers;
        let record = Arc::new(Mutex::new(Record::default()));
        let task = match kind {
            Kind::Ws => {
                let ws = ws_open(server.addr, &format!("/ws/{channel}?format=json")).await;
                tokio::spawn(ws_loop(ws, record.clone()))
            }
            Kind::Sse => {
                let sse = sse_open(server.addr, &format!("/sse/{channel}"), &[]).await;
                assert_eq!(sse.status, 200);
                tokio::spawn(sse_loop(sse, record.clone()))
            }
            Kind::Poll => {
                // The first poll starts live: ask for the head's id first.
                let head = get(server.addr, &format!("/poll/{channel}?timeout=0")).await;
                let cursor = head.json()["cursor"].as_str().unwrap().to_owned();
                tokio::spawn(poll_loop(
                    server.addr,
                    channel.to_owned(),
                    cursor,
                    record.clone(),
                ))
            }
        };
        if !matches!(kind, Kind::Poll) {
            server.wait_subscribers(before + 1).await;
        }
        Subscriber { kind, record, task }
    }

    fn record(&self) -> Record {
        self.record.lock().unwrap().clone()
    }

    /// Waits until it holds `n` messages (or fails after `within`).
    async fn wait_for(&self, n: usize, within: Duration) -> Record {
        let started = Instant::now();
        loop {
            let r = self.record();
            if r.data.len() >= n {
                return r;
            }
            assert!(
                started.elapsed() < within,
                "{:?} subscriber: {} of {n} messages after {within:?} ({} lost signals)",
                self.kind,
                r.data.len(),
                r.lost
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn ws_loop(mut ws: Ws, record: Arc<Mutex<Record>>) {
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(text) = msg else { continue };
        let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
        let mut r = record.lock().unwrap();
        if v["type"] == "lost" {
            r.lost += 1;
        } else {
            r.ids.push(v["id"].as_str().unwrap().to_owned());
            r.data.push(v["data"].as_str().unwrap().to_owned());
        }
    }
}

async fn sse_loop(mut sse: Sse, record: Arc<Mutex<Record>>) {
    while let Some(item) = sse.next().await {
        let SseItem::Event(e) = item else { continue };
        let mut r = record.lock().unwrap();
        if e.event.as_deref() == Some("push-lost") {
            r.lost += 1;
        } else {
            r.ids.push(e.id.clone().unwrap());
            r.data.push(e.data().to_owned());
        }
    }
}

async fn poll_loop(
    addr: SocketAddr,
    channel: String,
    mut cursor: String,
    record: Arc<Mutex<Record>>,
) {
    loop {
        let path = format!("/poll/{channel}?since={}&timeout=1", enc(&cursor));
        let answer = get(addr, &path).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let v = answer.json();
        let mut r = record.lock().unwrap();
        if v["lost"] == true {
            r.lost += 1;
        }
        for m in v["messages"].as_array().unwrap() {
            r.ids.push(m["id"].as_str().unwrap().to_owned());
            r.data.push(m["data"].as_str().unwrap().to_owned());
        }
        cursor = v["cursor"].as_str().unwrap().to_owned();
    }
}

/// `(epoch, offset)` of an id's text form.
fn parts(id: &str) -> (String, u64) {
    let (epoch, offset) = id.split_once('-').unwrap();
    (epoch.to_owned(), offset.parse().unwrap())
}

fn assert_consecutive(ids: &[String], what: &str) {
    for w in ids.windows(2) {
        let (a, b) = (parts(&w[0]), parts(&w[1]));
        assert!(
            a.0 == b.0 && a.1 + 1 == b.1,
            "{what}: {} then {} are not consecutive",
            w[0],
            w[1]
        );
    }
}

async fn send(server: &Server, channel: &str, data: String) -> Result<String, Error> {
    Ok(server
        .hub
        .send(channel, Outgoing::new(data))
        .await?
        .id
        .to_string())
}

// ---------------------------------------------------------------- tests

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
