//! Health and metrics against a real server: the connection gauges of each
//! transport (and their return to zero), deliveries and the latency
//! histogram, slow and stalled connections, queued bytes. Readiness, who
//! may scrape `/metrics`, and the figures a worker reads: `metrics_access.rs`.

mod common;

use std::time::Duration;

use common::metrics::*;
use common::*;
use push_engine::Id;
use tokio::time::Instant;

/// Scrapes until `series` reads `expected` (within [`T`]); returns that scrape.
async fn until(server: &Server, series: &str, expected: f64) -> String {
    let started = Instant::now();
    loop {
        let text = scrape(server).await;
        let now = value(&text, series);
        if now == expected {
            return text;
        }
        assert!(
            started.elapsed() < T,
            "{series} is {now} after {T:?}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_gauges_count_each_transport_and_return_to_zero() {
    let server = Server::start_with(|c| c.poll_timeout = Duration::from_secs(10)).await;
    let text = scrape(&server).await;
    for t in ["ws", "sse", "poll", "ipc", "pusher"] {
        assert_eq!(connections(&text, t), 0.0, "{t}");
    }

    let mut one = ws_open(server.addr, "/ws/news").await;
    let two = ws_open(server.addr, "/ws?channel=news&channel=sport").await;
    let sse = sse_open(server.addr, "/sse/news", &[]).await;
    let addr = server.addr;
    let poll = tokio::spawn(async move { get(addr, "/poll/quiet?timeout=10").await });
    until(&server, "push_connections{transport=\"poll\"}", 1.0).await;
    // A connection is counted when it is accepted, its subscriptions a moment
    // later, once its request has been read: wait for both (1 + 2 + 1 + 1).
    let text = until(&server, "push_subscriptions", 5.0).await;
    assert_eq!(connections(&text, "ws"), 2.0);
    assert_eq!(connections(&text, "sse"), 1.0);
    assert_eq!(connections(&text, "ipc"), 0.0);
    assert_eq!(value(&text, "push_channels"), 3.0, "news, sport, quiet");
    // push_stats() reads the same figures.
    let stats = server.hub.engine_stats();
    assert_eq!(
        (
            stats.connections.ws,
            stats.connections.sse,
            stats.connections.poll
        ),
        (2, 1, 1)
    );
    assert_eq!(stats.hub.subscribers, 5);
    // /health keeps its fields.
    let health = get(server.addr, "/health").await.json();
    assert_eq!(
        health,
        serde_json::json!({"status": "ok", "channels": 3, "subscribers": 5})
    );

    // Every way out counts the connection out: a WebSocket closed properly,
    // one cut, an SSE stream dropped, a long-poll answered.
    one.close(None).await.unwrap();
    drop(two);
    drop(sse);
    let p = server.publish("quiet", "wake up");
    let answer = timeout_join(poll).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["messages"][0]["id"], p.id.to_string());
    let started = Instant::now();
    let text = loop {
        let text = scrape(&server).await;
        let open: f64 = ["ws", "sse", "poll"]
            .iter()
            .map(|t| connections(&text, t))
            .sum();
        if open == 0.0 && value(&text, "push_subscriptions") == 0.0 {
            break text;
        }
        assert!(started.elapsed() < T, "still open after {T:?}:\n{text}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        value(&text, "push_deliveries_total{transport=\"poll\"}"),
        1.0
    );
    assert_eq!(value(&text, "push_queued_bytes"), 0.0);
}

async fn timeout_join<R>(task: tokio::task::JoinHandle<R>) -> R {
    tokio::time::timeout(T, task)
        .await
        .expect("done within T")
        .expect("no panic")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_and_the_latency_histogram_count_every_message_handed_out() {
    const N: usize = 25;
    let server = Server::start().await;
    let before = scrape(&server).await;
    assert_eq!(
        value(&before, "push_deliveries_total{transport=\"ws\"}"),
        0.0
    );

    let mut raw = ws_open(server.addr, "/ws/news").await;
    let mut json = ws_open(server.addr, "/ws/news?format=json").await;
    let mut sse = sse_open(server.addr, "/sse/news", &[]).await;
    server.wait_subscribers(3).await;
    let ids: Vec<Id> = (0..N)
        .map(|i| server.publish("news", format!("m{i}")).id)
        .collect();
    for i in 0..N {
        assert_eq!(ws_text(&mut raw).await, format!("m{i}"));
        assert_eq!(ws_json(&mut json).await["data"], format!("m{i}"));
        assert_eq!(sse.event().await.data(), format!("m{i}"));
    }
    // A long-poll from the first id: the other N - 1 at once.
    let r = get(server.addr, &format!("/poll/news?since={}", ids[0])).await;
    assert_eq!(r.json()["messages"].as_array().unwrap().len(), N - 1);

    let text = until(
        &server,
        "push_deliveries_total{transport=\"ws\"}",
        2.0 * N as f64,
    )
    .await;
    let text = if value(&text, "push_deliveries_total{transport=\"sse\"}") == N as f64 {
        text
    } else {
        until(
            &server,
            "push_deliveries_total{transport=\"sse\"}",
            N as f64,
        )
        .await
    };
    assert_eq!(
        value(&text, "push_deliveries_total{transport=\"poll\"}"),
        (N - 1) as f64
    );
    assert_eq!(
        value(&text, "push_deliveries_total{transport=\"ipc\"}"),
        0.0
    );
    assert_eq!(value(&text, "push_publications_total"), N as f64);

    for (t, count) in [("ws", 2 * N), ("sse", N), ("poll", N - 1), ("ipc", 0)] {
        let series = |suffix: &str, le: Option<&str>| match le {
            Some(le) => {
                format!("push_delivery_latency_seconds_{suffix}{{transport=\"{t}\",le=\"{le}\"}}")
            }
            None => format!("push_delivery_latency_seconds_{suffix}{{transport=\"{t}\"}}"),
        };
        assert_eq!(value(&text, &series("count", None)), count as f64, "{t}");
        assert_eq!(
            value(&text, &series("bucket", Some("+Inf"))),
            count as f64,
            "{t}"
        );
        // Buckets are cumulative.
        let mut last = 0.0;
        for le in [
            "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
            "1", "2.5", "+Inf",
        ] {
            let n = value(&text, &series("bucket", Some(le)));
            assert!(n >= last, "{t} le={le}: {n} < {last}");
            last = n;
        }
        let sum = value(&text, &series("sum", None));
        if count > 0 {
            assert!(
                sum > 0.0 && sum < count as f64 * T.as_secs_f64(),
                "{t}: {sum}"
            );
        } else {
            assert_eq!(sum, 0.0);
        }
    }
    assert_eq!(server.hub.engine_stats().deliveries, (4 * N - 1) as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_counted_once_as_slow_then_as_dropped() {
    const N: usize = 160;
    const SIZE: usize = 60 * 1024;
    const QUEUE: usize = 128 * 1024;
    let server = Server::start_with(|c| {
        c.max_message_size = 64 * 1024;
        c.max_queue_bytes = QUEUE;
        c.keepalive = Duration::from_millis(500);
        c.channel_buffer = 1024;
        c.history = 10;
    })
    .await;
    let path = "/sse?channel=flood&channel=flood2";
    // The slow one: two channels (both of its forwarders find it slow; it
    // is counted once), a small receive buffer, and it never reads.
    let mut slow = small_socket(server.addr, 4096).await;
    send_request(&mut slow, "GET", path, &[], b"").await;
    let mut fast = sse_open(server.addr, path, &[]).await;
    server.wait_subscribers(4).await;
    let reader = tokio::spawn(async move {
        for _ in 0..N {
            fast.event().await;
        }
        fast
    });
    // The bytes queued, sampled while it all happens.
    let metrics = server.hub.metrics().clone();
    let sampler = tokio::spawn(async move {
        let mut most = 0;
        for _ in 0..2000 {
            most = most.max(metrics.queued_bytes());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        most
    });

    for i in 0..N {
        let channel = if i % 2 == 0 { "flood" } else { "flood2" };
        server.publish(channel, format!("{i:08}{}", "x".repeat(SIZE - 8)));
        if i % 8 == 7 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let fast = timeout_join(reader).await;
    // Both subscriptions of the slow one are gone: it was found slow.
    server.wait_subscribers(2).await;
    let text = until(&server, "push_slow_disconnects_total", 1.0).await;
    assert_eq!(value(&text, "push_connections{transport=\"sse\"}"), 2.0);
    // Its peer still takes nothing: twice push.keepalive later the write
    // stall guard drops the connection.
    let text = until(&server, "push_drops_total", 1.0).await;
    assert_eq!(value(&text, "push_slow_disconnects_total"), 1.0, "once");
    let text = until(&server, "push_connections{transport=\"sse\"}", 1.0).await;
    assert_eq!(
        value(&text, "push_queued_bytes"),
        0.0,
        "nothing left queued"
    );
    let most = timeout_join(sampler).await;
    assert!(
        most > 0 && most <= 2 * QUEUE as u64,
        "at most two connections' budgets were queued: {most}"
    );
    drop(fast);
    until(&server, "push_connections{transport=\"sse\"}", 0.0).await;
    assert_eq!(server.hub.engine_stats().drops, 1);
    drop(slow);
}
