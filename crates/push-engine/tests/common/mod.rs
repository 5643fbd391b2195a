//! Helpers shared by the transport tests (ws.rs, sse.rs, poll.rs, http.rs):
//! the real server on a free port, a minimal HTTP/1.1 client, an SSE reader
//! with a parser that follows the HTML specification, and WebSocket clients
//! (tokio-tungstenite, and a raw one for what a well-behaved client never
//! does).
//!
//! Every wait is bounded: [`T`] unless a test says otherwise.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use push_engine::{server, Config, Hub, Outgoing, Publication};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{error::Elapsed, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod auth;
pub mod cluster;
pub mod engine;
mod http;
pub mod hub;
pub mod mercure;
pub mod metrics;
pub mod pusher;
pub mod redis;
mod sse;
pub mod subscriber;
mod ws;

// Each test binary uses some of them.
#[allow(unused_imports)]
pub use http::*;
#[allow(unused_imports)]
pub use sse::*;
#[allow(unused_imports)]
pub use ws::*;

/// The longest any single wait of a test may take.
pub const T: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------- server

/// The configuration of the tests: a free port, short keep-alives and
/// long-polls, no collection while a test runs.
/// The slow-consumer tests' settings: 64 KB messages, a ring of 1,024
/// publications, 10 kept in history, `push.keepalive` 500 ms.
pub fn flood_settings(c: &mut Config) {
    c.max_message_size = 64 * 1024;
    c.max_queue_bytes = 128 * 1024;
    c.keepalive = Duration::from_millis(500);
    c.channel_buffer = 1024;
    c.history = 10;
}

pub fn config() -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        keepalive: Duration::from_secs(1),
        poll_timeout: Duration::from_secs(2),
        reconnect_delay: Duration::from_millis(1500),
        sweep_interval: Duration::from_secs(3600),
        shutdown_timeout: Duration::from_secs(1),
        ..Config::default()
    }
}

/// `server::run` on a listener bound to port 0, with a oneshot for shutdown.
pub struct Server {
    pub addr: SocketAddr,
    pub hub: Hub,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Server {
        Server::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), tweak).await
    }

    /// Serves on `ip` (port 0) with the test configuration as `tweak` leaves it.
    pub async fn start_on(ip: IpAddr, tweak: impl FnOnce(&mut Config)) -> Server {
        let mut config = config();
        tweak(&mut config);
        config.validate().expect("a valid test configuration");
        Server::serve(ip, Hub::new(Arc::new(config))).await
    }

    /// Serves `hub` on `ip` (port 0).
    pub async fn serve(ip: IpAddr, hub: Hub) -> Server {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind port 0");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, hub.clone(), async move {
            let _ = stopped.await;
        }));
        // The first collection is push.sweep_interval (an hour) away: none
        // happens while the test runs.
        Server {
            addr,
            hub,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn publish(&self, channel: &str, data: impl Into<Bytes>) -> Arc<Publication> {
        self.hub
            .publish(channel, Outgoing::new(data))
            .unwrap_or_else(|e| panic!("publish to {channel}: {e}"))
    }

    /// Publishes `n` messages (`message(i)`) to `channel` from a task of
    /// its own, flat out but for a millisecond's pause every 25, so that a
    /// reader that does not keep up fills its socket; the task returns
    /// their ids.
    pub fn publish_burst(
        &self,
        channel: &'static str,
        n: usize,
        message: impl Fn(usize) -> Outgoing + Send + 'static,
    ) -> JoinHandle<Vec<String>> {
        let hub = self.hub.clone();
        tokio::spawn(async move {
            let mut ids = Vec::with_capacity(n);
            for i in 0..n {
                let p = hub.publish(channel, message(i)).unwrap();
                ids.push(p.id.to_string());
                if i % 25 == 24 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            ids
        })
    }

    pub fn publish_event(
        &self,
        channel: &str,
        event: &str,
        data: impl Into<Bytes>,
    ) -> Arc<Publication> {
        self.hub
            .publish(channel, Outgoing::new(data).event(event))
            .unwrap_or_else(|e| panic!("publish to {channel}: {e}"))
    }

    /// Asks the server to shut down, without waiting.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits until `server::run` has returned (after [`Server::begin_shutdown`]).
    pub async fn stopped(&mut self) {
        let task = self.task.take().expect("the server is running");
        timeout(T, task)
            .await
            .expect("server::run returns within T after shutdown")
            .expect("server::run does not panic");
    }

    /// Shuts down and waits until `server::run` has returned.
    pub async fn shutdown(&mut self) {
        self.begin_shutdown();
        self.stopped().await;
    }

    /// Waits until the hub counts exactly `n` subscriptions.
    pub async fn wait_subscribers(&self, n: u64) {
        let started = Instant::now();
        loop {
            let now = self.hub.stats().subscribers;
            if now == n {
                return;
            }
            assert!(
                started.elapsed() < T,
                "{now} subscribers after {T:?}, expected {n}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.begin_shutdown();
    }
}

/// `text` percent-encoded for a query string.
pub fn enc(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A local IPv4 address that is not loopback, if this host has one (the
/// address of the interface a route to the outside would use; nothing is sent).
/// This host's non-loopback address, for tests of a peer on another host.
/// A machine with no network interface but `lo` fails them rather than
/// skipping them.
pub fn host_ip() -> IpAddr {
    non_loopback_ip().expect("this test needs a non-loopback address (an interface besides lo)")
}

pub fn non_loopback_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket
        .connect("192.0.2.1:9")
        .or_else(|_| socket.connect("8.8.8.8:53"))
        .ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}
