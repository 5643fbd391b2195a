//! The engine as PHP drives it: started and stopped from a plain thread,
//! blocking waits, /health over real TCP, and living in a forking process.
//!
//! These are plain `#[test]`s: `Engine` owns a runtime and must not be
//! stopped from inside another one.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::sync::{mpsc, Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use push_engine::process::PidBound;
use push_engine::{Config, Cursor, Engine, Error, Event, Id, Outgoing};

/// Forking copies every descriptor of the process, including a listener
/// another test has bound but not yet registered for closing in children.
/// Fork tests therefore run alone; the others may run together.
static FORK: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    FORK.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    FORK.write().unwrap_or_else(|e| e.into_inner())
}

/// A local socket path of its own for each engine of the test run.
fn socket_path() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "{}/push-engine-test-{}-{n}.sock",
        std::env::temp_dir().display(),
        std::process::id()
    )
}

fn config() -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        socket: socket_path(),
        shutdown_timeout: Duration::from_secs(1),
        // No collection between the waits of a test.
        sweep_interval: Duration::from_secs(3600),
        ..Config::default()
    }
}

fn start() -> Engine {
    let engine = Engine::start(config()).expect("engine starts");
    assert_ne!(engine.local_addr().port(), 0);
    engine
}

fn never() -> impl FnMut() -> ControlFlow<()> {
    || ControlFlow::Continue(())
}

/// A minimal HTTP/1.1 GET; returns the status code and the body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a header block");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line in {head:?}"));
    (status, body.to_owned())
}

fn health(addr: SocketAddr) -> serde_json::Value {
    let (status, body) = get(addr, "/health");
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json["status"], "ok", "{json}");
    json
}

#[test]
fn serves_health_on_a_free_port() {
    let _shared = shared();
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
    let _shared = shared();
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
    let _shared = shared();
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
    let _shared = shared();
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
    let _shared = shared();
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
    let _shared = shared();
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
    let _shared = shared();
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
    let _shared = shared();
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
    let _shared = shared();
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
    let _shared = shared();
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
    let _shared = shared();
    let engine = start();
    let addr = engine.local_addr();
    health(addr);
    let started = Instant::now();
    drop(engine);
    assert!(started.elapsed() < Duration::from_secs(2));
    TcpListener::bind(addr).expect("the listener was closed");
}

/// The engine's listening socket, found among this process's descriptors.
fn listener_fd(addr: SocketAddr) -> Option<i32> {
    for entry in std::fs::read_dir("/proc/self/fd").ok()? {
        let Ok(fd) = entry.ok()?.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // SAFETY: plain queries on a descriptor number; a stale one fails.
        unsafe {
            let mut storage: libc::sockaddr_storage = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            if libc::getsockname(fd, &mut storage as *mut _ as *mut libc::sockaddr, &mut len) != 0
                || storage.ss_family as i32 != libc::AF_INET
            {
                continue;
            }
            let sin = &*(&storage as *const _ as *const libc::sockaddr_in);
            if u16::from_be(sin.sin_port) != addr.port() {
                continue;
            }
            let mut listening: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            if libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ACCEPTCONN,
                &mut listening as *mut _ as *mut libc::c_void,
                &mut len,
            ) == 0
                && listening != 0
            {
                return Some(fd);
            }
        }
    }
    None
}

/// Whether `fd` is an open descriptor (async-signal-safe).
fn is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Child exit codes: bits of what went wrong.
const LISTENER_OPEN: i32 = 1;
const PID_BOUND_VISIBLE: i32 = 2;
const PID_BOUND_TAKEN: i32 = 4;

#[test]
fn forked_child_closes_the_listener_and_forgets_pid_bound_values() {
    let _exclusive = exclusive();
    let engine = start();
    let addr = engine.local_addr();
    let fd = listener_fd(addr).expect("the engine's listening socket");
    let bound = PidBound::new(String::from("belongs to the parent"));
    let taken = PidBound::new(vec![1u8; 64]);
    assert!(bound.get().is_some());

    // SAFETY: the child only makes async-signal-safe calls, then `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let mut code = 0;
        if is_open(fd) {
            code |= LISTENER_OPEN;
        }
        if bound.get().is_some() {
            code |= PID_BOUND_VISIBLE;
        }
        // Forgotten, not freed, in the child.
        if taken.into_inner().is_some() {
            code |= PID_BOUND_TAKEN;
        }
        // SAFETY: ends the child without running anything of the parent's.
        unsafe { libc::_exit(code) };
    }

    let mut status = 0;
    // SAFETY: waits for our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    let code = libc::WEXITSTATUS(status);
    assert_eq!(
        code & LISTENER_OPEN,
        0,
        "the listener was open in the child"
    );
    assert_eq!(
        code & PID_BOUND_VISIBLE,
        0,
        "PidBound::get gave the parent's value in the child"
    );
    assert_eq!(
        code & PID_BOUND_TAKEN,
        0,
        "PidBound::into_inner gave the value in the child"
    );
    assert_eq!(code, 0);

    // The parent is untouched.
    assert!(is_open(fd));
    assert_eq!(
        bound.get().map(String::as_str),
        Some("belongs to the parent")
    );
    assert_eq!(taken.into_inner(), Some(vec![1u8; 64]));
    health(addr);
    let p = engine
        .hub()
        .publish("after-fork", Outgoing::new("x"))
        .unwrap();
    assert_eq!(engine.hub().last_id("after-fork"), Some(p.id));
    drop(bound);
    engine.stop();
}

#[test]
fn a_living_child_does_not_keep_the_port() {
    let _exclusive = exclusive();
    let engine = start();
    let addr = engine.local_addr();
    let mut pipe = [0i32; 2];
    // SAFETY: creates two descriptors we own.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    let (read_end, write_end) = (pipe[0], pipe[1]);

    // SAFETY: the child only makes async-signal-safe calls, then `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // Wait until the parent has checked the port (or gone).
        let mut byte = 0u8;
        // SAFETY: plain descriptor calls in the child.
        unsafe {
            libc::close(write_end);
            libc::read(read_end, &mut byte as *mut u8 as *mut libc::c_void, 1);
            libc::_exit(0);
        }
    }
    // SAFETY: closes our copy of the child's end.
    unsafe { libc::close(read_end) };

    // Stop the parent's engine while the child lives: the port must be free.
    engine.stop();
    let rebound = TcpListener::bind(addr);

    // SAFETY: releases the child and waits for it.
    let mut status = 0;
    unsafe {
        libc::close(write_end);
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status:#x}"
    );
    rebound.expect("the child kept the engine's port");
}
