//! A real `redis-server` for the broker tests: started on a free loopback
//! port with no persistence, killed (SIGKILL) and started again on the same
//! port on demand, and killed when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use push_engine::broker::Redis;
use push_engine::{Config, Error, Hub, Outgoing};

use super::{config, Server, T};

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    /// Where its output goes, read back when it fails to start.
    log: std::path::PathBuf,
}

impl RedisServer {
    /// Starts `redis-server` on a free port. The binary must be installed
    /// (scripts/test.sh installs Debian's `redis-server`): a missing one
    /// fails the test rather than skipping it.
    pub fn start() -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::env::temp_dir().join(format!("push-test-redis-{port}.log"));
        let mut server = RedisServer {
            port,
            child: None,
            log,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts it (again) on the same port, and waits until it answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let log = std::fs::File::create(&self.log).expect("a log file for redis-server");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::from(log.try_clone().expect("a second handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("redis-server must be installed (apt install redis-server; scripts/test.sh does it)");
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "redis-server on port {} exited ({status}) before answering; its last lines:\n{}",
                    self.port,
                    self.last_lines()
                );
            }
            assert!(
                started.elapsed() < T,
                "redis-server on port {} did not answer within {T:?}; its last lines:\n{}",
                self.port,
                self.last_lines()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills it at once (SIGKILL): no goodbye to its clients.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The last lines redis-server wrote, for failure messages.
    fn last_lines(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Runs a command with `redis-cli`.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli (package redis-tools)");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The test configuration with the Redis broker.
pub fn broker_config(redis: &RedisServer, tweak: impl FnOnce(&mut Config)) -> Config {
    let mut config = config();
    config.broker = Some(redis.url());
    tweak(&mut config);
    config.validate().expect("a valid test configuration");
    config
}

/// An engine (server::run) whose hub mirrors the Redis broker; returns once
/// the broker is connected and caught up.
pub async fn engine(redis: &RedisServer, tweak: impl FnOnce(&mut Config)) -> Server {
    let server = engine_unready(redis, tweak).await;
    wait_ready(&server.hub, true).await;
    server
}

/// Like [`engine`], without waiting for the broker.
pub async fn engine_unready(redis: &RedisServer, tweak: impl FnOnce(&mut Config)) -> Server {
    let config = Arc::new(broker_config(redis, tweak));
    let url = config.broker.clone().unwrap();
    let broker = Redis::new(&config, &url).expect("a valid broker URL");
    let hub = Hub::with_broker(config, Arc::new(broker));
    Server::serve(std::net::Ipv4Addr::LOCALHOST.into(), hub).await
}

/// Waits until the broker's readiness is `ready`.
pub async fn wait_ready(hub: &Hub, ready: bool) {
    assert!(hub.broker().is_some(), "a hub with a broker");
    let started = Instant::now();
    while hub.metrics().is_ready() != ready {
        assert!(
            started.elapsed() < 2 * T,
            "broker readiness {ready} within 2T"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Publishes through `server`'s broker; returns the new id.
pub async fn send(server: &Server, channel: &str, data: String) -> Result<String, Error> {
    Ok(server
        .hub
        .send(channel, Outgoing::new(data))
        .await?
        .id
        .to_string())
}
