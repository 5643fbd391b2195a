//! `push_send()`'s `except` (Laravel's `toOthers()`): a publication made
//! on behalf of a Pusher connection does not reach that connection — from a
//! worker over the local socket (PUBLISH_FROM), in the engine's own
//! process, and across engines sharing Redis — while every other
//! subscriber gets it. A bad socket id is refused and the worker's
//! connection goes on.

mod common;

use std::time::{Duration, Instant};

use common::engine::socket_path;
use common::pusher::{pusher_settings as settings, PusherClient};
use common::redis::{broker_config, RedisServer};
use common::T;
use push_engine::ipc::client::Client;
use push_engine::message::Origin;
use push_engine::{Config, Engine, Error, Outgoing};

const EVENT: &str = "App\\Events\\OrderShipped";

fn engine_with(config: Config) -> Engine {
    Engine::start(config).expect("engine starts")
}

fn worker(engine: &Engine) -> Client {
    Client::connect(&engine.hub().config().socket, Duration::from_secs(1), T)
        .expect("a worker connects")
}

fn except(data: &str, socket_id: &str) -> Outgoing {
    Outgoing::new(data.to_owned()).event(EVENT).origin(Origin {
        connection: socket_id.to_owned(),
        user: None,
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a test runtime")
}

#[test]
fn a_worker_and_the_engine_publish_to_everyone_but_one_connection() {
    let mut config = common::engine::config();
    settings(&mut config);
    let engine = engine_with(config);
    let addr = engine.local_addr();
    let rt = runtime();
    let (mut a, mut b) = rt.block_on(async {
        let mut a = PusherClient::connect(addr).await;
        let mut b = PusherClient::connect(addr).await;
        a.subscribe("orders").await;
        b.subscribe("orders").await;
        (a, b)
    });
    let mut w = worker(&engine);

    // From a worker (PUBLISH_FROM): b gets it, a does not.
    w.publish("orders", &except(r#"{"id":1}"#, &a.socket_id))
        .expect("published");
    // In the engine's own process (what push_send() does there).
    engine
        .publish("orders", except(r#"{"id":2}"#, &a.socket_id))
        .expect("published");
    // Binary data keeps its flag through PUBLISH_FROM: base64 for Pusher.
    w.publish("orders", &except("bin", &a.socket_id).binary())
        .expect("published");
    // And without except, everyone.
    w.publish("orders", &Outgoing::new("all").event(EVENT))
        .expect("published");
    rt.block_on(async {
        for want in [r#"{"id":1}"#, r#"{"id":2}"#, "Ymlu", "all"] {
            assert_eq!(
                b.next().await,
                (EVENT.into(), "orders".into(), want.into()),
                "b receives every publication"
            );
        }
        // a's first event is the one without except: none before it.
        assert_eq!(
            a.next().await,
            (EVENT.into(), "orders".into(), "all".into()),
            "a was left out of the three publications made except it"
        );
    });

    // A bad socket id is the engine's clear refusal, and the worker's
    // connection is still good.
    let long = format!("1.{}", "1".repeat(70));
    for bad in ["abc", "1.", ".1", "1.2.3", "1 .2", &long] {
        match w.publish("orders", &except("x", bad)) {
            Err(Error::Protocol(m)) => assert!(m.contains("invalid socket id"), "{bad}: {m}"),
            other => panic!("{bad:?}: expected a refusal, got {other:?}"),
        }
    }
    w.publish("orders", &Outgoing::new("after").event(EVENT))
        .expect("the worker's connection goes on");
    rt.block_on(async {
        assert_eq!(a.next().await.2, "after");
        assert_eq!(b.next().await.2, "after");
    });
    drop((a, b));
    drop(rt);
}

#[test]
fn except_holds_across_engines_on_redis() {
    let redis = RedisServer::start();
    let mut config = broker_config(&redis, settings);
    config.socket = socket_path();
    let publishing = engine_with(config);
    let mut config = broker_config(&redis, settings);
    config.socket = socket_path();
    let other = engine_with(config);
    let started = Instant::now();
    while !(publishing.hub().metrics().is_ready() && other.hub().metrics().is_ready()) {
        assert!(started.elapsed() < 2 * T, "both engines ready within 2T");
        std::thread::sleep(Duration::from_millis(5));
    }
    let rt = runtime();
    // a and c on the other engine, b on the one the worker reaches.
    let (mut a, mut b, mut c) = rt.block_on(async {
        let mut a = PusherClient::connect(other.local_addr()).await;
        let mut b = PusherClient::connect(publishing.local_addr()).await;
        let mut c = PusherClient::connect(other.local_addr()).await;
        for client in [&mut a, &mut b, &mut c] {
            client.subscribe("orders").await;
        }
        (a, b, c)
    });
    let mut w = worker(&publishing);
    // The other engine may not have its Redis subscription yet: publish
    // until c sees one, then begin.
    let warmed = Instant::now();
    rt.block_on(async {
        loop {
            assert!(warmed.elapsed() < 2 * T, "the engines connected by Redis");
            w.publish("orders", &Outgoing::new("warm").event("warm"))
                .expect("published");
            if tokio::time::timeout(Duration::from_millis(200), c.next())
                .await
                .is_ok()
            {
                break;
            }
        }
    });
    // Drains what the warm-up left on every client, up to the marker.
    w.publish("orders", &Outgoing::new("mark").event("mark"))
        .expect("published");
    rt.block_on(async {
        for client in [&mut a, &mut b, &mut c] {
            while client.next().await.0 != "mark" {}
        }
    });

    w.publish("orders", &except(r#"{"id":7}"#, &a.socket_id))
        .expect("published");
    w.publish("orders", &Outgoing::new("all").event(EVENT))
        .expect("published");
    rt.block_on(async {
        for (name, client) in [("b", &mut b), ("c", &mut c)] {
            assert_eq!(client.next().await.2, r#"{"id":7}"#, "{name} gets it");
            assert_eq!(client.next().await.2, "all", "{name}");
        }
        assert_eq!(
            a.next().await.2,
            "all",
            "a, on another engine than the publisher, was left out"
        );
    });
    drop((a, b, c));
    drop(rt);
}
