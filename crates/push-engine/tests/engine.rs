//! The engine as PHP drives it: started from a plain thread, /health over
//! real TCP, and blocking waits (from another thread, after a cursor, with
//! timeouts, interrupted, without a time limit, from several threads, on a
//! bad channel), presence members in process and over the local socket.
//! Binding, stopping and every setting at its bounds:
//! `engine_lifecycle.rs`; living in a forking process: `engine_fork.rs`.
//!
//! These are plain `#[test]`s: `Engine` owns a runtime and must not be
//! stopped from inside another one.

mod common;

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use common::engine::{get, health, never, start};
use push_engine::{Cursor, Error, Id, Outgoing};

#[test]
fn serves_health_on_a_free_port() {
    let engine = start();
    let addr = engine.local_addr();
    assert!(addr.ip().is_loopback());
    let json = health(addr);
    assert_eq!(json["channels"], 0);
    assert_eq!(json["subscribers"], 0);

    engine.hub().publish("news", Outgoing::new("x")).unwrap();
    let _sub = engine.hub().subscribe("news", Cursor::Live).unwrap();
    let json = health(addr);
    assert_eq!(json["channels"], 1, "{json}");
    assert_eq!(json["subscribers"], 1, "{json}");

    let (status, _) = get(addr, "/nope");
    assert_eq!(status, 404);
    drop(_sub);
    engine.stop();
}

#[test]
fn wait_returns_a_message_published_from_another_thread() {
    let engine = start();
    let hub = engine.hub().clone();
    let publisher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        hub.publish("later", Outgoing::new("hello").event("greeting"))
            .unwrap()
    });
    let started = Instant::now();
    let waited = engine
        .wait("later", Cursor::Live, Duration::from_secs(5), &mut never())
        .unwrap();
    let elapsed = started.elapsed();
    let sent = publisher.join().unwrap();
    let p = waited.publication.expect("a message");
    assert_eq!(p.id, sent.id);
    assert_eq!(&p.data[..], b"hello");
    assert_eq!(p.event.as_deref(), Some("greeting"));
    assert_eq!(waited.position, sent.id);
    assert!(waited.lost.is_none());
    assert!(!waited.interrupted);
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    println!("woke {elapsed:?} after starting to wait (published at 200 ms)");
    engine.stop();
}

#[test]
fn wait_after_a_cursor_returns_the_next_message_at_once() {
    let engine = start();
    let hub = engine.hub();
    let first = hub.publish("c", Outgoing::new("1")).unwrap();
    let second = hub.publish("c", Outgoing::new("2")).unwrap();
    let started = Instant::now();
    let waited = engine
        .wait(
            "c",
            Cursor::After(first.id),
            Duration::from_secs(5),
            &mut never(),
        )
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(waited.publication.unwrap().id, second.id);
    assert_eq!(waited.position, second.id);
    assert!(waited.lost.is_none());
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");

    // A cursor that cannot be continued says so, with the oldest message held.
    let foreign = Id {
        epoch: first.id.epoch - 1,
        offset: 5,
    };
    let waited = engine
        .wait(
            "c",
            Cursor::After(foreign),
            Duration::from_secs(5),
            &mut never(),
        )
        .unwrap();
    assert_eq!(waited.publication.unwrap().id, first.id);
    let lost = waited.lost.expect("a loss report");
    assert_eq!(lost.requested, foreign);
    assert_eq!(lost.oldest, Some(first.id));
    engine.stop();
}

#[test]
fn wait_times_out_and_its_position_misses_nothing() {
    let engine = start();
    let started = Instant::now();
    let waited = engine
        .wait(
            "quiet",
            Cursor::Live,
            Duration::from_millis(500),
            &mut never(),
        )
        .unwrap();
    let elapsed = started.elapsed();
    println!("empty wait of 500 ms took {elapsed:?}");
    assert!(waited.publication.is_none());
    assert!(waited.lost.is_none());
    assert!(!waited.interrupted);
    assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");

    // Published between two waits: the position finds it.
    let between = engine
        .hub()
        .publish("quiet", Outgoing::new("between"))
        .unwrap();
    let waited = engine
        .wait(
            "quiet",
            Cursor::After(waited.position),
            Duration::from_millis(500),
            &mut never(),
        )
        .unwrap();
    let p = waited
        .publication
        .expect("the message published between the waits");
    assert_eq!(p.id, between.id);
    assert!(waited.lost.is_none());

    // A zero timeout answers at once.
    let started = Instant::now();
    let waited = engine
        .wait(
            "quiet",
            Cursor::After(waited.position),
            Duration::ZERO,
            &mut never(),
        )
        .unwrap();
    assert!(waited.publication.is_none());
    assert_eq!(waited.position, between.id);
    assert!(started.elapsed() < Duration::from_millis(500));
    engine.stop();
}

#[test]
fn interrupt_ends_the_wait_early() {
    let engine = start();
    let mut calls = 0;
    let mut interrupt = || {
        calls += 1;
        if calls == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let started = Instant::now();
    let waited = engine
        .wait(
            "signals",
            Cursor::Live,
            Duration::from_secs(10),
            &mut interrupt,
        )
        .unwrap();
    let elapsed = started.elapsed();
    assert!(waited.interrupted);
    assert!(waited.publication.is_none());
    assert_eq!(calls, 3);
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    println!("interrupted after {elapsed:?}");

    // Nothing published meanwhile is lost to the next wait.
    let p = engine.hub().publish("signals", Outgoing::new("x")).unwrap();
    let next = engine
        .wait(
            "signals",
            Cursor::After(waited.position),
            Duration::from_secs(1),
            &mut never(),
        )
        .unwrap();
    assert_eq!(next.publication.unwrap().id, p.id);
    // The abandoned wait's task is aborted, which the runtime carries out
    // shortly after `wait` returns.
    let left = Instant::now();
    while engine.hub().stats().subscribers != 0 && left.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "abandoned wait's subscription gone after {:?}",
        left.elapsed()
    );
    assert_eq!(
        engine.hub().stats().subscribers,
        0,
        "the abandoned wait left"
    );
    engine.stop();
}

/// PHP may wait "forever" by passing a huge timeout.
///
/// Fails: `Engine::wait` computes its safety deadline as
/// `Instant::now() + timeout + Duration::from_secs(1)` (src/engine.rs), which
/// panics with "overflow when adding duration to instant" for a timeout near
/// `Duration::MAX`; `tokio::time::timeout` itself accepts such durations.
#[test]
fn wait_without_a_time_limit_does_not_panic() {
    let engine = start();
    let mut interrupt = || ControlFlow::Break(());
    let waited = engine
        .wait("forever", Cursor::Live, Duration::MAX, &mut interrupt)
        .unwrap();
    assert!(waited.interrupted);
    engine.stop();
}

#[test]
fn waits_from_several_threads_at_once() {
    let engine = start();
    std::thread::scope(|scope| {
        let waiters: Vec<_> = (0..4)
            .map(|i| {
                let engine = &engine;
                scope.spawn(move || {
                    engine
                        .wait(
                            &format!("w{i}"),
                            Cursor::Live,
                            Duration::from_secs(5),
                            &mut never(),
                        )
                        .unwrap()
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        let sent: Vec<_> = (0..4)
            .map(|i| {
                engine
                    .hub()
                    .publish(&format!("w{i}"), Outgoing::new(format!("{i}")))
                    .unwrap()
            })
            .collect();
        for (waiter, sent) in waiters.into_iter().zip(sent) {
            assert_eq!(waiter.join().unwrap().publication.unwrap().id, sent.id);
        }
    });
    engine.stop();
}

#[test]
fn wait_refuses_a_bad_channel() {
    let engine = start();
    let result = engine.wait(
        "no spaces",
        Cursor::Live,
        Duration::from_secs(1),
        &mut never(),
    );
    assert!(
        matches!(result, Err(Error::InvalidChannel(_))),
        "{result:?}"
    );
    engine.stop();
}

#[test]
fn presence_members_in_process_and_over_the_local_socket() {
    use push_engine::hub::presence::Member;
    use push_engine::ipc::client::Client;

    let engine = start();
    let ann = Member {
        id: "7".into(),
        info: Some(r#"{"name":"Ann"}"#.into()),
    };
    let bob = Member {
        id: "bob".into(),
        info: None,
    };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let presence = engine.hub().presence();
    presence.join("presence-r", 1, ann.clone(), tx.clone());
    presence.join("presence-r", 2, bob.clone(), tx.clone());
    presence.join("presence-r", 3, ann.clone(), tx);
    let socket = engine.hub().config().socket.clone();
    let mut client =
        Client::connect(&socket, Duration::from_secs(1), Duration::from_secs(5)).unwrap();
    let members = vec![ann, bob];
    assert_eq!(client.presence("presence-r").unwrap(), members);
    assert_eq!(engine.presence("presence-r").unwrap(), members);
    assert_eq!(client.presence("presence-nobody").unwrap(), vec![]);
    for bad in ["no spaces", ""] {
        let over = client.presence(bad);
        assert!(matches!(over, Err(Error::InvalidChannel(_))), "{over:?}");
        let here = engine.presence(bad);
        assert!(matches!(here, Err(Error::InvalidChannel(_))), "{here:?}");
    }
    // The connection stays usable after a refusal.
    assert_eq!(client.presence("presence-r").unwrap().len(), 2);
    drop(client);
    engine.stop();
}
