//! The engine's life as PHP drives it: a port in use is a bind error,
//! `stop` returns in time with waits, subscribers and connections open,
//! dropping the engine stops it, and every number at either end of its
//! range gives a working engine. Waits and /health: `engine.rs`.
//!
//! These are plain `#[test]`s: `Engine` owns a runtime and must not be
//! stopped from inside another one.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::engine::{config, health, never, start};
use push_engine::{Cursor, Engine, Error, Event, Id, Outgoing};

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
