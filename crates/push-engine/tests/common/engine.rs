//! The engine as PHP drives it, from plain threads (`engine.rs`,
//! `engine_fork.rs`): its configuration, start, and a blocking HTTP GET.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::ControlFlow;
use std::time::Duration;

use push_engine::{Config, Engine};

/// A local socket path of its own for each engine of the test run.
pub fn socket_path() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "{}/push-engine-test-{}-{n}.sock",
        std::env::temp_dir().display(),
        std::process::id()
    )
}

pub fn config() -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        socket: socket_path(),
        shutdown_timeout: Duration::from_secs(1),
        // No collection between the waits of a test.
        sweep_interval: Duration::from_secs(3600),
        ..Config::default()
    }
}

pub fn start() -> Engine {
    let engine = Engine::start(config()).expect("engine starts");
    assert_ne!(engine.local_addr().port(), 0);
    engine
}

pub fn never() -> impl FnMut() -> ControlFlow<()> {
    || ControlFlow::Continue(())
}

/// A minimal HTTP/1.1 GET; returns the status code and the body.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
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

pub fn health(addr: SocketAddr) -> serde_json::Value {
    let (status, body) = get(addr, "/health");
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json["status"], "ok", "{json}");
    json
}
