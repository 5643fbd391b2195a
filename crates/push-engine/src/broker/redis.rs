//! The Redis broker: shared ids, history and fan-out between engines.
//!
//! Keys, for a channel `c` under `push.redis_prefix` `p`:
//!
//! | key | what |
//! |---|---|
//! | `p:{c}:head` | hash `{epoch, offset}`: the channel's newest id |
//! | `p:{c}:hist` | stream of the history, entry ids `<offset>-0` |
//! | `p:msg:c` | pub/sub channel every engine listens to (`PSUBSCRIBE p:msg:*`) |
//! | `p:presence` | pub/sub channel of presence arrivals and departures (`presence.rs`) |
//!
//! Presence and occupancy keys are described in `presence.lua`.
//!
//! Publishing runs `publish.lua` (append + publish, atomic); a subscriber
//! the mirror cannot serve runs `read.lua` (head + history, atomic). One
//! task per engine ([`super::listen::run`]) holds the pub/sub connection.
//! What goes over the wire: [`super::codec`].

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionAddr, Script, Value};

use super::codec::{kind, number, snapshot};
use super::watched::{Watch, Watched};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::hub::{Cursor, Snapshot};
use crate::message::{Id, Outgoing};

/// How long a channel's head outlives its last publication, at least: a
/// head that expires gives the channel a new epoch, and subscribers of the
/// old one a (harmless) loss signal.
const HEAD_TTL_MIN: Duration = Duration::from_secs(86_400);

/// A connection to Redis shared by the engine's tasks.
pub struct Redis {
    pub(super) client: Client,
    pub(super) url: String,
    prefix: String,
    history: usize,
    history_ttl: Duration,
    pub(super) connect_timeout: Duration,
    io_timeout: Duration,
    pub(super) keepalive: Duration,
    /// Commands go over one multiplexed connection, made again after an
    /// error or once Redis closed it. `tokio::sync::Mutex` because
    /// connecting awaits while held.
    commands: tokio::sync::Mutex<Option<Commands>>,
    /// This engine's name among those sharing the broker (presence).
    engine: String,
    presence_ttl: Duration,
    publish: Script,
    read: Script,
}

/// The command connection and what is known of its socket.
#[derive(Clone)]
pub(super) struct Commands {
    pub(super) con: MultiplexedConnection,
    watch: Arc<Watch>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Prepares the broker; connects nothing yet (the engine starts even
    /// with Redis down, and [`run`] keeps trying).
    pub fn new(config: &Config, url: &str) -> Result<Redis> {
        let client =
            Client::open(url).map_err(|e| Error::Broker(format!("push.broker {url:?}: {e}")))?;
        Ok(Redis {
            client,
            url: redacted(url),
            prefix: config.redis_prefix.clone(),
            history: config.history,
            history_ttl: config.history_ttl,
            connect_timeout: config.connect_timeout,
            io_timeout: config.io_timeout,
            keepalive: config.keepalive,
            commands: tokio::sync::Mutex::new(None),
            engine: engine_name(),
            presence_ttl: config.presence_ttl,
            publish: Script::new(include_str!("publish.lua")),
            read: Script::new(include_str!("read.lua")),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// This engine's name among those sharing the broker.
    pub fn engine(&self) -> &str {
        &self.engine
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(super) fn presence_ttl(&self) -> Duration {
        self.presence_ttl
    }

    pub(super) fn presence_topic(&self) -> String {
        format!("{}:presence", self.prefix)
    }

    /// Appends and publishes one message; returns its id.
    pub async fn publish(&self, channel: &str, msg: &Outgoing) -> Result<Id> {
        let binary = msg.binary || std::str::from_utf8(&msg.data).is_err();
        let mut invocation = self.publish.prepare_invoke();
        invocation
            .key(self.head_key(channel))
            .key(self.history_key(channel))
            .arg(self.topic(channel))
            .arg(kind(binary, msg.origin.as_ref()))
            .arg(msg.event.as_deref().unwrap_or(""))
            .arg(msg.data.as_ref())
            .arg(self.history)
            .arg(millis(self.history_ttl))
            .arg(millis(self.history_ttl.max(HEAD_TTL_MIN)));
        let Commands { mut con, watch } = self.connection().await?;
        let written = watch.written();
        let reply: (String, String) = match self.timed(invocation.invoke_async(&mut con)).await {
            // Redis had closed the connection and not one byte of the
            // command went out: it never ran. Once more, on a fresh
            // connection. (Never after a failure that may have run it.)
            Err(_) if watch.is_closed() && watch.written() == written => {
                let mut con = self.connection().await?.con;
                self.timed(invocation.invoke_async(&mut con)).await?
            }
            reply => reply?,
        };
        Ok(Id {
            epoch: number(&reply.0)?,
            offset: number(&reply.1)?,
        })
    }

    /// The channel's head and its history after `cursor` (all of it for a
    /// cursor of another epoch; none for a live start).
    pub async fn read(&self, channel: &str, cursor: Cursor) -> Result<Snapshot> {
        let (epoch, offset) = match cursor {
            // A live start needs only the head: ask for history after an
            // offset no channel reaches.
            Cursor::Live => (String::new(), u64::MAX),
            Cursor::After(id) => (id.epoch.to_string(), id.offset),
        };
        let mut invocation = self.read.prepare_invoke();
        invocation
            .key(self.head_key(channel))
            .key(self.history_key(channel))
            .arg(epoch)
            .arg(offset)
            .arg(millis(self.history_ttl))
            .arg(millis(self.history_ttl.max(HEAD_TTL_MIN)));
        let mut con = self.connection().await?.con;
        let reply: Value = self.timed(invocation.invoke_async(&mut con)).await?;
        let mut snap = snapshot(reply)?;
        if cursor == Cursor::Live {
            snap.entries.clear();
        }
        Ok(snap)
    }

    /// Keeps the heads of channels that have subscribers from expiring
    /// (an expired head means a new epoch, and a needless loss signal for
    /// subscribers of a channel that was merely quiet).
    pub async fn touch(&self, channels: &[Arc<str>]) -> Result<()> {
        let ttl = millis(self.history_ttl.max(HEAD_TTL_MIN));
        for batch in channels.chunks(1000) {
            let mut pipe = redis::pipe();
            for channel in batch {
                pipe.cmd("PEXPIRE")
                    .arg(self.head_key(channel))
                    .arg(ttl)
                    .ignore();
            }
            let mut con = self.connection().await?.con;
            self.timed(pipe.query_async::<()>(&mut con)).await?;
        }
        Ok(())
    }

    /// How often [`Redis::touch`] must run.
    pub fn touch_interval(&self) -> Duration {
        self.history_ttl.max(HEAD_TTL_MIN) / 4
    }

    /// Whether a command would go through now: PING on the command
    /// connection (once more on a fresh one if that fails: PING may run
    /// twice). The engine is ready only once this succeeds.
    pub async fn ping(&self) -> Result<()> {
        let mut con = self.connection().await?.con;
        if self
            .timed(redis::cmd("PING").query_async::<()>(&mut con))
            .await
            .is_ok()
        {
            return Ok(());
        }
        let mut con = self.connection().await?.con;
        self.timed(redis::cmd("PING").query_async::<()>(&mut con))
            .await
    }

    /// Drops the command connection (the pub/sub one was lost: Redis may
    /// have restarted); the next command makes a new one.
    pub(super) async fn forget_commands(&self) {
        *self.commands.lock().await = None;
    }

    /// The command connection, made (again) when there is none or Redis
    /// closed it.
    pub(super) async fn connection(&self) -> Result<Commands> {
        let mut slot = self.commands.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.watch.is_closed()) {
            return Ok(c.clone());
        }
        *slot = None;
        let c = tokio::time::timeout(self.connect_timeout, self.connect())
            .await
            .map_err(|_| {
                Error::Broker(format!(
                    "{}: no connection within {:?}",
                    self.url, self.connect_timeout
                ))
            })?
            .map_err(|e| self.unavailable(&e))?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Opens a command connection whose socket is [`Watched`].
    async fn connect(&self) -> redis::RedisResult<Commands> {
        let info = self.client.get_connection_info();
        let config = AsyncConnectionConfig::new().set_response_timeout(Some(self.io_timeout));
        let (con, driver, watch) = match info.addr() {
            ConnectionAddr::Tcp(host, port) => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(true)?;
                let (stream, watch) = Watched::new(stream);
                let (con, driver) =
                    MultiplexedConnection::new_with_config(info.redis_settings(), stream, config)
                        .await?;
                (con, driver.boxed(), watch)
            }
            ConnectionAddr::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path).await?;
                let (stream, watch) = Watched::new(stream);
                let (con, driver) =
                    MultiplexedConnection::new_with_config(info.redis_settings(), stream, config)
                        .await?;
                (con, driver.boxed(), watch)
            }
            _ => {
                return Err(redis::RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "this kind of Redis address is not supported",
                )))
            }
        };
        tokio::spawn(driver);
        Ok(Commands { con, watch })
    }

    /// Runs a command with the I/O timeout; a failed connection is dropped
    /// so that the next command makes a new one.
    pub(super) async fn timed<T>(
        &self,
        f: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T> {
        let outcome = tokio::time::timeout(self.io_timeout, f).await;
        let e = match outcome {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => {
                if !(e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_dropped()
                    || e.is_unrecoverable_error())
                {
                    return Err(Error::Broker(format!("Redis refused: {e}")));
                }
                e.to_string()
            }
            Err(_) => format!("no answer within {:?}", self.io_timeout),
        };
        *self.commands.lock().await = None;
        Err(Error::Broker(format!("{}: {e}", self.url)))
    }

    pub(super) fn unavailable(&self, e: &redis::RedisError) -> Error {
        Error::Broker(format!("{}: {e}", self.url))
    }

    fn head_key(&self, channel: &str) -> String {
        format!("{}:{{{channel}}}:head", self.prefix)
    }

    fn history_key(&self, channel: &str) -> String {
        format!("{}:{{{channel}}}:hist", self.prefix)
    }

    pub(super) fn topic(&self, channel: &str) -> String {
        format!("{}:msg:{channel}", self.prefix)
    }

    pub(super) fn topics(&self) -> String {
        format!("{}:msg:*", self.prefix)
    }
}

/// A name for this engine unlike any other's sharing the broker: the
/// host's name, the pid, the clock, and a count within the process.
fn engine_name() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-.".contains(*c))
        .take(64)
        .collect();
    format!("{host}-{}-{nanos:x}-{n}", std::process::id())
}

/// The URL without its password, fit for logs and error messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_never_show_the_password() {
        assert_eq!(
            redacted("redis://:s3cret@10.0.0.5:6379/0"),
            "redis://***@10.0.0.5:6379/0"
        );
        assert_eq!(
            redacted("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
    }
}
