//! The engine as PHP drives it: started and stopped from a plain thread,
//! blocking waits and /health over real TCP. Living in a forking process:
//! `engine_fork.rs`.
//!
//! These are plain `#[test]`s: `Engine` owns a runtime and must not be
//! stopped from inside another one.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::engine::{config, get, health, never, start};
use push_engine::{Cursor, Engine, Error, Event, Id, Outgoing};

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
fn a_port_in_use_is_a_bind_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut config = config();
    config.listen = addr.clone();
    match Engine::start(config) {
        Err(Error::Bind {
            addr: reported,
            source,
        }) => {
            assert_eq!(reported, addr);
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        other => panic!("expected a bind error, got {other:?}"),
    }

    // Also when it is another engine that holds the port.
    let engine = start();
    let mut config = self::config();
    config.listen = engine.local_addr().to_string();
    let second = Engine::start(config);
    assert!(matches!(second, Err(Error::Bind { .. })), "{second:?}");
    health(engine.local_addr());
    engine.stop();
}

#[test]
fn stop_returns_in_time_with_waits_subscribers_and_connections_open() {
    let engine = Arc::new(start());
    let addr = engine.local_addr();
    let limit = engine.hub().config().shutdown_timeout;

    // A PHP-like caller blocked in `wait` on another thread, with a long timeout.
    let (wait_tx, wait_rx) = mpsc::channel();
    let waiter = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            let result = engine.wait(
                "blocked",
                Cursor::Live,
                Duration::from_secs(30),
                &mut never(),
            );
            let _ = wait_tx.send((result, Instant::now()));
        })
    };

    // A subscriber blocked on another thread, on a runtime of its own.
    let hub = engine.hub().clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let subscriber = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let mut sub = hub.subscribe("blocked", Cursor::Live).unwrap();
        ready_tx.send(()).unwrap();
        let event = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(30), sub.recv()).await });
        let _ = done_tx.send((event, Instant::now()));
    });
    ready_rx.recv().unwrap();

    // An idle keep-alive connection, and one stuck in the middle of a request.
    let mut idle = TcpStream::connect(addr).unwrap();
    write!(idle, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 512];
    assert!(idle.read(&mut buf).unwrap() > 0);
    let mut stuck = TcpStream::connect(addr).unwrap();
    write!(stuck, "GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();

    // Both blocked callers are in place.
    let placed = Instant::now();
    while engine.hub().stats().subscribers < 2 && placed.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(engine.hub().stats().subscribers, 2);
    std::thread::sleep(Duration::from_millis(100));

    let started = Instant::now();
    engine.stop();
    let took = started.elapsed();
    println!("stop took {took:?} (shutdown_timeout {limit:?})");
    assert!(took <= limit + Duration::from_secs(1), "stop took {took:?}");
    assert!(engine.is_stopped());

    let (result, returned) = wait_rx
        .recv_timeout(Duration::from_secs(2))
        .expect("the blocked wait returned");
    let after = returned.duration_since(started);
    println!("the blocked wait ended with {result:?} {after:?} after stop began");
    // Subscriptions are closed when shutdown begins, not when it ends.
    assert!(after < Duration::from_millis(500), "{after:?}");
    match result {
        Err(Error::ShuttingDown) => {}
        Ok(waited) => assert!(waited.publication.is_none(), "{waited:?}"),
        Err(e) => panic!("unexpected error {e}"),
    }
    waiter.join().unwrap();

    let (event, returned) = done_rx
        .recv_timeout(Duration::from_secs(2))
        .expect("the blocked subscriber returned");
    assert!(matches!(event, Ok(Event::Closed)), "{event:?}");
    assert!(returned.duration_since(started) < Duration::from_millis(500));
    subscriber.join().unwrap();

    // Later calls are refused, a second stop is harmless, and the port is free.
    let later = engine.wait(
        "blocked",
        Cursor::Live,
        Duration::from_secs(1),
        &mut never(),
    );
    assert!(matches!(later, Err(Error::ShuttingDown)), "{later:?}");
    let again = Instant::now();
    engine.stop();
    assert!(again.elapsed() < Duration::from_millis(100));
    TcpListener::bind(addr).expect("the listener was closed");
    drop((idle, stuck));
}

#[test]
fn dropping_the_engine_stops_it() {
    let engine = start();
    let addr = engine.local_addr();
    health(addr);
    let started = Instant::now();
    drop(engine);
    assert!(started.elapsed() < Duration::from_secs(2));
    TcpListener::bind(addr).expect("the listener was closed");
}

/// Every number at either end of its range starts an engine that publishes
/// and waits (or is refused by `Config::validate`), never a panic or an
/// allocation that aborts.
#[test]
fn every_number_at_its_bounds_gives_a_working_engine() {
    for s in push_engine::config::SETTINGS {
        let Some((min, max)) = s.range else { continue };
        for v in [min, max] {
            let mut c = config();
            c.set(s.name, &format!("{v}")).unwrap();
            let engine = match Engine::start(c) {
                Ok(engine) => engine,
                Err(e) => {
                    assert!(
                        matches!(e, Error::InvalidSetting { .. }),
                        "push.{}={v}: {e}",
                        s.name
                    );
                    continue;
                }
            };
            engine.publish("c", Outgoing::new("x")).unwrap();
            let w = engine
                .wait("c", Cursor::Live, Duration::ZERO, &mut never())
                .unwrap();
            assert!(w.publication.is_none(), "push.{}={v}", s.name);
            let w = engine
                .wait(
                    "c",
                    Cursor::After(Id::default()),
                    Duration::ZERO,
                    &mut never(),
                )
                .unwrap();
            assert!(!w.interrupted, "push.{}={v}", s.name);
            engine.stop();
        }
    }
}
