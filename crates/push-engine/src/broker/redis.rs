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
//! task per engine ([`run`]) holds the pub/sub connection, applies what
//! arrives to the hub, catches up after gaps and reconnections, and
//! reconnects with back-off.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionAddr, Script, Value};
use tokio_util::sync::CancellationToken;

use super::watched::{Watch, Watched};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::hub::{Applied, Cursor, Hub, Merge, Numbered, Snapshot};
use crate::message::{Id, Origin, Outgoing};
use crate::metrics::BrokerState;

/// How long a channel's head outlives its last publication, at least: a
/// head that expires gives the channel a new epoch, and subscribers of the
/// old one a (harmless) loss signal.
const HEAD_TTL_MIN: Duration = Duration::from_secs(86_400);
/// Longest pause between reconnection attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Channels caught up at once after a reconnection.
const CATCH_UP_BATCH: usize = 64;

/// A connection to Redis shared by the engine's tasks.
pub struct Redis {
    client: Client,
    url: String,
    prefix: String,
    history: usize,
    history_ttl: Duration,
    connect_timeout: Duration,
    io_timeout: Duration,
    keepalive: Duration,
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
    async fn forget_commands(&self) {
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

    fn unavailable(&self, e: &redis::RedisError) -> Error {
        Error::Broker(format!("{}: {e}", self.url))
    }

    fn head_key(&self, channel: &str) -> String {
        format!("{}:{{{channel}}}:head", self.prefix)
    }

    fn history_key(&self, channel: &str) -> String {
        format!("{}:{{{channel}}}:hist", self.prefix)
    }

    fn topic(&self, channel: &str) -> String {
        format!("{}:msg:{channel}", self.prefix)
    }

    fn topics(&self) -> String {
        format!("{}:msg:*", self.prefix)
    }
}

/// Listens to every channel's publications and applies them to `hub`,
/// until `cancel`. Reconnects with back-off; after each (re)connection
/// every mirror is caught up from the history streams, and subscribers whose
/// continuity cannot be proven get the loss signal.
pub async fn run(hub: Hub, broker: Arc<Redis>, cancel: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    let mut reported = false;
    loop {
        let outcome = tokio::select! {
            outcome = session(&hub, &broker, &mut first) => outcome,
            _ = cancel.cancelled() => return,
        };
        let metrics = hub.metrics();
        let was_ready = metrics.is_ready();
        metrics.set_ready(false);
        broker.forget_commands().await;
        metrics.set_broker(BrokerState::Disconnected);
        if let Err(e) = outcome {
            let e = match e {
                Error::Broker(reason) => reason,
                e => e.to_string(),
            };
            if was_ready || !reported {
                eprintln!("push: Redis broker {} unavailable ({e}); serving connected clients and retrying", broker.url());
                reported = true;
            }
        }
        if was_ready {
            backoff = Duration::from_millis(100);
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = cancel.cancelled() => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One pub/sub connection, from connecting to its loss.
async fn session(hub: &Hub, broker: &Redis, first: &mut bool) -> Result<()> {
    let fail = |e: redis::RedisError| broker.unavailable(&e);
    let pubsub = tokio::time::timeout(broker.connect_timeout, broker.client.get_async_pubsub())
        .await
        .map_err(|_| {
            Error::Broker(format!(
                "{}: no connection within {:?}",
                broker.url, broker.connect_timeout
            ))
        })?
        .map_err(fail)?;
    let (mut sink, mut stream) = pubsub.split();
    broker.timed(sink.psubscribe(broker.topics())).await?;
    let presence = broker.presence_topic();
    broker.timed(sink.subscribe(&presence)).await?;
    let metrics = hub.metrics();
    metrics.set_broker(BrokerState::Connected);
    if !std::mem::take(first) {
        metrics.broker_reconnected();
        eprintln!(
            "push: Redis broker {} connected again; catching up",
            broker.url
        );
    }
    catch_up_all(hub, broker).await?;
    // Ready means a publication would go through: the command connection
    // too must answer (after a restart of Redis, the old one is closed).
    broker.ping().await?;
    metrics.set_ready(true);
    let mut ping = tokio::time::interval(broker.keepalive);
    ping.tick().await;
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(msg) = msg else {
                    return Err(Error::Broker(format!("{}: connection closed", broker.url)));
                };
                if msg.get_channel_name() == presence {
                    super::presence::receive(hub, broker, msg.get_payload_bytes());
                    continue;
                }
                let Some(channel) = msg.get_channel_name().strip_prefix(&broker.topic("")) else {
                    continue;
                };
                let Some(n) = decode(msg.get_payload_bytes()) else {
                    eprintln!("push: ignored a malformed publication on Redis channel {:?}", msg.get_channel_name());
                    continue;
                };
                receive(hub, broker, channel, n).await?;
            }
            _ = ping.tick() => {
                // A connection that went silent without closing is found out here.
                broker.timed(sink.ping::<Value>()).await?;
            }
        }
    }
}

/// Applies one publication; after a gap, catches the channel up first.
async fn receive(hub: &Hub, broker: &Redis, channel: &str, n: Numbered) -> Result<()> {
    match hub.apply(channel, n.clone()) {
        Ok(Applied::Gap(last)) => {
            catch_up(hub, broker, channel, last).await?;
            let _ = hub.apply(channel, n);
        }
        Ok(_) => {}
        // A name this engine does not accept, or push.max_channels reached:
        // nothing to deliver here.
        Err(_) => {}
    }
    Ok(())
}

async fn catch_up(hub: &Hub, broker: &Redis, channel: &str, last: Id) -> Result<()> {
    let cursor = if last.epoch == 0 {
        Cursor::Live
    } else {
        Cursor::After(last)
    };
    let snap = broker.read(channel, cursor).await?;
    let _ = hub.merge(channel, snap, Merge::CatchUp);
    Ok(())
}

/// Catches every mirror up after a (re)connection.
async fn catch_up_all(hub: &Hub, broker: &Redis) -> Result<()> {
    let mirrored = hub.mirrored();
    for batch in mirrored.chunks(CATCH_UP_BATCH) {
        let all = batch
            .iter()
            .map(|(channel, last)| catch_up(hub, broker, channel, *last));
        for outcome in futures_util::future::join_all(all).await {
            outcome?;
        }
    }
    Ok(())
}

/// `epoch \n offset \n kind \n event \n data`, as `publish.lua` sends it;
/// `None` for anything else (an event name that publishing would refuse
/// included: it becomes an SSE `event:` line).
pub fn decode(payload: &[u8]) -> Option<Numbered> {
    let mut parts = payload.splitn(5, |&b| b == b'\n');
    let epoch = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let offset = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let (binary, origin) = parse_kind(parts.next()?)?;
    let event = std::str::from_utf8(parts.next()?).ok()?;
    if !event.is_empty() {
        crate::message::validate_event(event).ok()?;
    }
    let data = Bytes::copy_from_slice(parts.next()?);
    Some(Numbered {
        id: Id { epoch, offset },
        event: (!event.is_empty()).then(|| Arc::from(event)),
        data,
        binary,
        age: Duration::ZERO,
        origin,
    })
}

/// The kind field of `publish.lua` (and of the history's entries): `t`
/// (text) or `b` (binary), then, for a publication a connection sent,
/// `:connection` and, if it speaks for a user, `:user` in hex.
pub fn kind(binary: bool, origin: Option<&Origin>) -> String {
    let mut k = String::from(if binary { "b" } else { "t" });
    if let Some(o) = origin {
        k.push(':');
        k.push_str(&o.connection);
        if let Some(user) = &o.user {
            k.push(':');
            for b in user.bytes() {
                k.push_str(&format!("{b:02x}"));
            }
        }
    }
    k
}

/// A kind field as [`kind`] writes it.
pub fn parse_kind(field: &[u8]) -> Option<(bool, Option<Origin>)> {
    let text = std::str::from_utf8(field).ok()?;
    let mut parts = text.split(':');
    let binary = match parts.next()? {
        "t" => false,
        "b" => true,
        _ => return None,
    };
    let Some(connection) = parts.next() else {
        return Some((binary, None));
    };
    if connection.is_empty()
        || connection.len() > 128
        || !connection.bytes().all(|b| b.is_ascii_graphic())
    {
        return None;
    }
    let user = match parts.next() {
        None => None,
        Some(hex) => {
            if hex.len() % 2 != 0 || hex.len() > 2048 {
                return None;
            }
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?;
            Some(String::from_utf8(bytes).ok()?)
        }
    };
    if parts.next().is_some() {
        return None;
    }
    Some((
        binary,
        Some(Origin {
            connection: connection.to_owned(),
            user,
        }),
    ))
}

/// `{epoch, offset, {{"<offset>-0", age_ms, kind, event, data}…}}`, as
/// `read.lua` returns it.
fn snapshot(reply: Value) -> Result<Snapshot> {
    let bad = || Error::Broker("unexpected reply from read.lua".into());
    let Value::Array(parts) = reply else {
        return Err(bad());
    };
    let [epoch, offset, entries] = <[Value; 3]>::try_from(parts).map_err(|_| bad())?;
    let head = Id {
        epoch: number(&text(epoch).ok_or_else(bad)?)?,
        offset: number(&text(offset).ok_or_else(bad)?)?,
    };
    let Value::Array(entries) = entries else {
        return Err(bad());
    };
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let Value::Array(fields) = entry else {
            return Err(bad());
        };
        let [id, age, kind, event, data] = <[Value; 5]>::try_from(fields).map_err(|_| bad())?;
        let id = text(id).ok_or_else(bad)?;
        let offset = number(id.strip_suffix("-0").ok_or_else(bad)?)?;
        let age = number(&text(age).ok_or_else(bad)?)?;
        let event = text(event).ok_or_else(bad)?;
        let (binary, origin) = text(kind)
            .and_then(|k| parse_kind(k.as_bytes()))
            .ok_or_else(bad)?;
        let Value::BulkString(data) = data else {
            return Err(bad());
        };
        out.push(Numbered {
            id: Id {
                epoch: head.epoch,
                offset,
            },
            event: (!event.is_empty()).then(|| Arc::from(event.as_str())),
            data: Bytes::from(data),
            binary,
            age: Duration::from_millis(age),
            origin,
        });
    }
    Ok(Snapshot { head, entries: out })
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn number(s: &str) -> Result<u64> {
    s.parse()
        .map_err(|_| Error::Broker(format!("unexpected number {s:?} from Redis")))
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
    fn decodes_what_publish_lua_sends() {
        let n = decode(b"1700000000000000\n42\nt\nnews\nhello\nworld").unwrap();
        assert_eq!(
            n.id,
            Id {
                epoch: 1_700_000_000_000_000,
                offset: 42
            }
        );
        assert_eq!(n.event.as_deref(), Some("news"));
        assert_eq!(&n.data[..], b"hello\nworld");
        assert!(!n.binary);
        let n = decode(b"1\n2\nb\n\n\x00\xff").unwrap();
        assert!(n.binary && n.event.is_none());
        assert_eq!(&n.data[..], b"\x00\xff");
    }

    #[test]
    fn kinds_carry_the_origin() {
        assert_eq!(kind(false, None), "t");
        assert_eq!(parse_kind(b"b"), Some((true, None)));
        let o = Origin {
            connection: "12.34".into(),
            user: Some("a:b\nc é".into()),
        };
        let k = kind(false, Some(&o));
        assert!(!k.contains('\n'));
        assert_eq!(parse_kind(k.as_bytes()), Some((false, Some(o.clone()))));
        let payload = format!("1\n2\n{k}\nev\ndata");
        assert_eq!(decode(payload.as_bytes()).unwrap().origin, Some(o));
        let o = Origin {
            connection: "1.2".into(),
            user: None,
        };
        assert_eq!(kind(true, Some(&o)), "b:1.2");
        assert_eq!(parse_kind(b"b:1.2"), Some((true, Some(o))));
        for bad in [
            &b"x"[..],
            b"t:",
            b"t:1.2:zz",
            b"t:1.2:6",
            b"t:1.2:61:62",
            b"t:a b",
        ] {
            assert_eq!(parse_kind(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

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

    #[test]
    fn refuses_malformed_payloads() {
        for bad in [
            &b""[..],
            b"x\n1\nt\n\n",
            b"1\nx\nt\n\n",
            b"1\n2\nq\n\n",
            b"1\n2\nt\n",
            b"1\n2\nt\na\rb\ndata",
            b"1\n2\nt\na\0b\ndata",
        ] {
            assert!(decode(bad).is_none(), "{bad:?}");
        }
    }
}
