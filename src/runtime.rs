//! The per-process engine handle: started lazily (never at module start-up),
//! bound to the pid that started it, stopped at module shutdown only in that
//! process. A forked child finds the parent's engine, forgets it, and may
//! start its own.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use std::ops::ControlFlow;
use std::time::Duration;

use bytes::Bytes;
use push_engine::cursors::Cursors;
use push_engine::edge::mercure::update::Head;
use push_engine::ipc::client::Client;
use push_engine::process::{self, PidBound};
use push_engine::{Config, Cursor, Engine, EngineStats, Error, Id, Outgoing, Waited};

use crate::ini;

static ENGINE: Mutex<Option<PidBound<Arc<Engine>>>> = Mutex::new(None);
static CURSORS: Mutex<Option<Cursors>> = Mutex::new(None);
/// A worker's connection to the engine, kept across requests, and the pid
/// that opened it (a forked child opens its own).
static CLIENT: Mutex<Option<(u32, Client)>> = Mutex::new(None);

fn slot() -> MutexGuard<'static, Option<PidBound<Arc<Engine>>>> {
    ENGINE.lock().unwrap_or_else(|e| e.into_inner())
}

/// What this process is to push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It runs the engine.
    Engine,
    /// It reaches the engine of another process over `push.socket`.
    Worker,
    /// It runs none and reaches none (yet).
    Idle,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Engine => "engine",
            Role::Worker => "worker",
            Role::Idle => "idle",
        }
    }
}

/// The engine of this process, if it runs one.
pub fn engine() -> Option<Arc<Engine>> {
    let slot = slot();
    slot.as_ref()
        .and_then(|b| b.get())
        .filter(|e| !e.is_stopped())
        .cloned()
}

pub fn role() -> Role {
    if engine().is_some() {
        Role::Engine
    } else if with_client(|_| Ok(()), |_| true).is_ok() {
        Role::Worker
    } else {
        Role::Idle
    }
}

/// Runs `f` on this process's connection to the engine, opening it (again)
/// when there is none, it belongs to the parent process, or the engine
/// closed it. A failed call, or one that `keep` rejects, drops the
/// connection; the next call reconnects.
///
/// The connection is taken out of its slot for the call, and the lock is
/// not held while `f` runs: a wait runs PHP's signal handlers, and a
/// handler that calls `push_send()` (or any push_* function) again finds
/// the slot empty and opens a short-lived connection of its own, instead
/// of waiting for a lock its own thread holds.
fn with_client<R>(
    f: impl FnOnce(&mut Client) -> Result<R, Error>,
    keep: impl FnOnce(&R) -> bool,
) -> Result<R, Error> {
    let pid = process::pid();
    let taken = client_slot().take();
    let mut client = match taken {
        Some((owner, client)) if owner == pid && client.is_alive() => client,
        // Closing a connection inherited through fork() closes only our
        // copy; one the engine closed is of no use.
        _ => {
            let config = worker_config()?;
            Client::connect(&config.socket, config.connect_timeout, config.io_timeout)?
        }
    };
    let result = f(&mut client);
    if result.as_ref().is_ok_and(keep) {
        let mut slot = client_slot();
        // A nested call (from a signal handler) may have put its own back
        // meanwhile: keep one, close the other.
        if slot.is_none() {
            *slot = Some((pid, client));
        }
    }
    result
}

fn client_slot() -> MutexGuard<'static, Option<(u32, Client)>> {
    CLIENT.lock().unwrap_or_else(|e| e.into_inner())
}

/// The settings a worker uses (socket and timeouts), from INI.
fn worker_config() -> Result<Config, Error> {
    ini::config()
}

/// Publishes: in the engine process straight to the hub, elsewhere through
/// the engine's local socket.
pub fn publish(channel: &str, msg: Outgoing) -> Result<Id, Error> {
    match engine() {
        Some(engine) => Ok(engine.publish(channel, msg)?.id),
        None => with_client(|c| c.publish(channel, &msg), |_| true).map_err(not_running),
    }
}

/// Appends a Mercure update to the hub-wide log: in the engine process
/// straight to the hub, elsewhere through the engine's local socket.
pub fn mercure_publish(head: Head, data: &[u8]) -> Result<String, Error> {
    match engine() {
        Some(engine) => engine.mercure_publish(head, Bytes::copy_from_slice(data)),
        None => with_client(|c| c.mercure_publish(&head, data), |_| true).map_err(not_running),
    }
}

/// Waits for a message (see `Engine::wait` and `Client::wait`).
pub fn wait(
    channel: &str,
    cursor: Cursor,
    timeout: Duration,
    interrupt: &mut dyn FnMut() -> ControlFlow<()>,
) -> Result<Waited, Error> {
    match engine() {
        Some(engine) => engine.wait(channel, cursor, timeout, interrupt),
        // A wait given up mid-way leaves the connection unusable; closing
        // it tells the engine to drop the waiter.
        None => with_client(
            |c| c.wait(channel, cursor, timeout, interrupt),
            |w| !w.interrupted,
        )
        .map_err(not_running),
    }
}

/// The members of presence `channel`, cluster-wide: in the engine process
/// from the hub, elsewhere through the engine's local socket.
pub fn presence(channel: &str) -> Result<Vec<push_engine::hub::presence::Member>, Error> {
    match engine() {
        Some(engine) => engine.presence(channel),
        None => with_client(|c| c.presence(channel), |_| true).map_err(not_running),
    }
}

/// The engine's figures: this process's engine, or the one reached over
/// the socket; `None` if there is none.
pub fn engine_stats() -> Option<EngineStats> {
    match engine() {
        Some(engine) => Some(engine.hub().engine_stats()),
        None => with_client(|c| c.stats(), |_| true).ok(),
    }
}

/// I/O failures on the socket mean the engine is gone: say so the way a
/// missing engine is said.
fn not_running(e: Error) -> Error {
    match e {
        Error::Socket { path, .. } => Error::NotRunning { socket: path },
        e => e,
    }
}

/// Starts the engine in this process.
pub fn start(config: Config) -> Result<Arc<Engine>, Error> {
    let mut slot = slot();
    if let Some(running) = slot
        .as_ref()
        .and_then(|b| b.get())
        .filter(|e| !e.is_stopped())
    {
        return Err(Error::AlreadyRunning(running.local_addr().to_string()));
    }
    // An engine inherited through fork() is forgotten, never touched.
    if let Some(old) = slot.take() {
        drop(old.into_inner());
    }
    let engine = Arc::new(Engine::start(config)?);
    *slot = Some(PidBound::new(engine.clone()));
    Ok(engine)
}

/// Stops this process's engine, if it runs one. Returns whether it did.
pub fn stop() -> bool {
    let taken = slot().take();
    match taken.and_then(PidBound::into_inner) {
        Some(engine) => {
            engine.stop();
            true
        }
        None => false,
    }
}

/// Where this process's engine listens.
pub fn listen_addr() -> Option<SocketAddr> {
    engine().map(|e| e.local_addr())
}

/// Runs `f` on this process's cursor book.
pub fn with_cursors<R>(f: impl FnOnce(&mut Cursors) -> R) -> R {
    let mut guard = CURSORS.lock().unwrap_or_else(|e| e.into_inner());
    let book = guard.get_or_insert_with(|| {
        let capacity =
            ini::config().map_or(push_engine::cursors::DEFAULT_CAPACITY, |c| c.max_cursors);
        Cursors::new(capacity)
    });
    f(book)
}
