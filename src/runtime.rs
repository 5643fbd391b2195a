//! The per-process engine handle: started lazily (never at module start-up),
//! bound to the pid that started it, stopped at module shutdown only in that
//! process. A forked child finds the parent's engine, forgets it, and may
//! start its own.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use push_engine::cursors::Cursors;
use push_engine::process::PidBound;
use push_engine::{Config, Engine, Error};

use crate::ini;

static ENGINE: Mutex<Option<PidBound<Arc<Engine>>>> = Mutex::new(None);
static CURSORS: Mutex<Option<Cursors>> = Mutex::new(None);

fn slot() -> MutexGuard<'static, Option<PidBound<Arc<Engine>>>> {
    ENGINE.lock().unwrap_or_else(|e| e.into_inner())
}

/// What this process is to push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It runs the engine.
    Engine,
    /// It runs none (calls fail with ConnectionException until workers
    /// reach an engine over `push.socket`).
    Idle,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Engine => "engine",
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

/// The engine of this process, or the error that tells how to start one.
pub fn require_engine() -> Result<Arc<Engine>, Error> {
    engine().ok_or_else(|| Error::NotRunning {
        socket: ini::value("socket"),
    })
}

pub fn role() -> Role {
    if engine().is_some() {
        Role::Engine
    } else {
        Role::Idle
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
    f(guard.get_or_insert_with(Cursors::default))
}
