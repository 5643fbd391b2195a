//! Health and metrics against a real server, who reads them: readiness
//! driven through the hub's broker state, `/metrics` answering loopback or
//! the token while the probes answer everyone, and the figures a worker
//! reads over the local socket. Gauges, deliveries and slow consumers:
//! `metrics.rs`.

mod common;

use std::ops::ControlFlow;
use std::time::Duration;

use common::metrics::*;
use common::*;
use push_engine::ipc::client::Client;
use push_engine::metrics::Transport;
use push_engine::{BrokerState, Config, Cursor, Engine, Id, Outgoing};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_broker_state() {
    let server = Server::start().await;
    let r = get(server.addr, "/ready").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), r#"{"status":"ready","broker":"memory"}"#);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let text = scrape(&server).await;
    assert_eq!(value(&text, "push_ready"), 1.0);
    assert_eq!(value(&text, "push_broker_state{state=\"memory\"}"), 1.0);
    assert_eq!(value(&text, "push_broker_state{state=\"connected\"}"), 0.0);

    // A networked broker that lost its server.
    let metrics = server.hub.metrics();
    metrics.set_broker(BrokerState::Disconnected);
    metrics.set_ready(false);
    let r = get(server.addr, "/ready").await;
    assert_eq!(r.status, 503, "{}", r.text());
    let body = r.json();
    assert_eq!(
        body,
        serde_json::json!({"status": "not ready", "broker": "disconnected", "reason": "broker disconnected"})
    );
    let text = scrape(&server).await;
    assert_eq!(value(&text, "push_ready"), 0.0);
    assert_eq!(
        value(&text, "push_broker_state{state=\"disconnected\"}"),
        1.0
    );
    assert_eq!(value(&text, "push_broker_state{state=\"memory\"}"), 0.0);
    assert!(!server.hub.engine_stats().ready);
    // Liveness is another question: still alive.
    assert_eq!(get(server.addr, "/health").await.status, 200);

    // Reconnected, but not resubscribed yet: still not ready.
    metrics.set_broker(BrokerState::Connected);
    metrics.broker_reconnected();
    let r = get(server.addr, "/ready").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["broker"], "connected");
    assert_eq!(
        r.json()["reason"],
        "broker subscriptions are not current yet"
    );
    metrics.set_ready(true);
    let r = get(server.addr, "/ready").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({"status": "ready", "broker": "connected"})
    );
    let text = scrape(&server).await;
    assert_eq!(value(&text, "push_broker_reconnects_total"), 1.0);
    let stats = server.hub.engine_stats();
    assert!(stats.ready);
    assert_eq!(stats.broker, BrokerState::Connected);
    assert_eq!(stats.broker_reconnects, 1);

    // Shutting down: not ready, whatever the broker.
    server.hub.close_all();
    assert!(!server.hub.engine_stats().ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_answer_loopback_or_the_token_and_probes_answer_everyone() {
    // Loopback: always, with or without a token set.
    let server = Server::start_with(|c| c.publish_token = "t0ken".into()).await;
    scrape(&server).await;

    let ip = host_ip();
    // Another host, no token set: refused.
    let server = Server::start_on(ip, |_| {}).await;
    let r = get(server.addr, "/metrics").await;
    assert_eq!(r.status, 403, "{ip}: {}", r.text());
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("publish_token"));
    // Probes are open.
    assert_eq!(get(server.addr, "/ready").await.status, 200);
    assert_eq!(get(server.addr, "/health").await.status, 200);

    // Another host, a token set: the token is needed.
    let server = Server::start_on(ip, |c| c.publish_token = "t0ken".into()).await;
    let r = get(server.addr, "/metrics").await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = get_with(server.addr, "/metrics", &[("Authorization", "Bearer nope")]).await;
    assert_eq!(r.status, 401);
    let r = get_with(
        server.addr,
        "/metrics",
        &[("Authorization", "Bearer t0ken")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("# TYPE push_connections gauge\n"));
    assert_eq!(get(server.addr, "/ready").await.status, 200);
}

// ---------------------------------------------------------------- workers

/// The local socket: worker connections are counted, messages handed to a
/// worker are deliveries, and a worker reads the same figures (STATS).
/// A plain test: `Engine` owns its runtime.
#[test]
fn workers_are_counted_and_read_the_figures() {
    let socket = format!(
        "{}/push-metrics-test-{}.sock",
        std::env::temp_dir().display(),
        std::process::id()
    );
    let engine = Engine::start(Config {
        listen: "127.0.0.1:0".into(),
        socket: socket.clone(),
        shutdown_timeout: Duration::from_secs(1),
        ..Config::default()
    })
    .expect("engine starts");
    let connect =
        || Client::connect(&socket, Duration::from_secs(1), T).expect("connect to the engine");
    let mut worker = connect();
    let stats = worker.stats().unwrap();
    assert_eq!(stats.connections.ipc, 1, "the worker asking");
    assert_eq!(stats.broker, BrokerState::Memory);
    assert!(stats.ready);
    assert_eq!(stats.deliveries, 0);

    let p = engine
        .hub()
        .publish("jobs", Outgoing::new("one"))
        .expect("publish");
    let before = Id {
        epoch: p.id.epoch,
        offset: 0,
    };
    let waited = worker
        .wait("jobs", Cursor::After(before), T, &mut || {
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(waited.publication.unwrap().data, "one");
    let second = connect();
    let stats = worker.stats().unwrap();
    assert_eq!(stats.connections.ipc, 2);
    assert_eq!(stats.deliveries, 1);
    assert_eq!(stats.hub.publications, 1);
    assert_eq!(
        stats,
        engine.hub().engine_stats(),
        "the engine's own figures"
    );
    let metrics = engine.hub().metrics();
    assert_eq!(metrics.latency(Transport::Ipc).count(), 1);
    assert_eq!(metrics.deliveries(Transport::Ipc), 1);

    drop(worker);
    drop(second);
    let started = std::time::Instant::now();
    while metrics.connections(Transport::Ipc) != 0 {
        assert!(started.elapsed() < T, "worker connections counted out");
        std::thread::sleep(Duration::from_millis(5));
    }
    engine.stop();
    assert!(!engine.hub().engine_stats().ready, "stopped");
}
