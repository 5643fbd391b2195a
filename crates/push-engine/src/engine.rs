//! The engine as a process embeds it: a tokio runtime of its own, the hub,
//! and the server on `push.listen`, started and stopped from a thread that is
//! not the runtime's (PHP's), with blocking calls that wait in short slices.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::hub::{Cursor, Event, Hub, Lost};
use crate::message::{Id, Publication};
use crate::{ipc, process, server};

/// How long a blocking call sleeps before it gives its caller a chance to
/// handle signals (see [`Engine::wait`]).
pub const WAIT_SLICE: Duration = Duration::from_millis(50);

/// A running engine. Dropping it stops it (see [`Engine::stop`]). All
/// methods take `&self`, so it can be shared (`Arc`) with calls in progress.
#[derive(Debug)]
pub struct Engine {
    handle: Handle,
    stopped: AtomicBool,
    /// Taken by the first `stop`; `std::sync::Mutex` because nothing awaits
    /// while holding it.
    parts: Mutex<Option<Parts>>,
    hub: Hub,
    local_addr: SocketAddr,
    listener_fds: [i32; 2],
}

#[derive(Debug)]
struct Parts {
    runtime: Runtime,
    cancel: CancellationToken,
    server: JoinHandle<()>,
    workers: TaskTracker,
}

/// What a blocking wait ended with.
#[derive(Debug)]
pub struct Waited {
    /// The message, or `None` if the time ran out (or the wait was interrupted).
    pub publication: Option<Arc<Publication>>,
    /// Set if messages after the cursor were lost before this one.
    pub lost: Option<Lost>,
    /// Where the next wait must continue from to miss nothing.
    pub position: Id,
    /// Whether the caller's interrupt check ended the wait.
    pub interrupted: bool,
}

impl Engine {
    /// Builds the runtime, binds `config.listen` and starts serving. Binding
    /// happens before this returns, so a port in use is an error here.
    pub fn start(config: Config) -> Result<Engine> {
        config.validate()?;
        let config = Arc::new(config);
        let local = ipc::server::bind(&config)?;
        let socket_path = config.socket.clone();
        let unbind = || {
            let _ = std::fs::remove_file(&socket_path);
        };
        let listener = std::net::TcpListener::bind(&config.listen).map_err(|source| {
            unbind();
            Error::Bind {
                addr: config.listen.clone(),
                source,
            }
        })?;
        let local_addr = listener.local_addr().map_err(Error::Runtime)?;
        listener.set_nonblocking(true).map_err(Error::Runtime)?;
        let listener_fds = [listener.as_raw_fd(), local.as_raw_fd()];
        for fd in listener_fds {
            process::close_in_children(fd);
        }
        let forget = || {
            for fd in listener_fds {
                process::forget_listener(fd);
            }
            unbind();
        };

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads)
            .thread_name("push-engine")
            .enable_all()
            .build()
            .map_err(|e| {
                forget();
                Error::Runtime(e)
            })?;
        let (listener, local) = {
            let _guard = runtime.enter();
            let converted = tokio::net::TcpListener::from_std(listener)
                .and_then(|l| Ok((l, tokio::net::UnixListener::from_std(local)?)));
            converted.map_err(|e| {
                forget();
                Error::Runtime(e)
            })?
        };
        let hub = Hub::new(config.clone());
        let cancel = CancellationToken::new();
        let workers = TaskTracker::new();
        runtime.spawn(ipc::server::run(
            local,
            config.socket.clone(),
            hub.clone(),
            cancel.clone(),
            workers.clone(),
        ));
        let server = runtime.spawn(server::run(
            listener,
            hub.clone(),
            cancel.clone().cancelled_owned(),
        ));
        Ok(Engine {
            handle: runtime.handle().clone(),
            stopped: AtomicBool::new(false),
            parts: Mutex::new(Some(Parts {
                runtime,
                cancel,
                server,
                workers,
            })),
            hub,
            local_addr,
            listener_fds,
        })
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops gracefully: no new connections, subscribers are closed, and the
    /// runtime is gone within `push.shutdown_timeout`.
    /// Must not be called from inside the engine's own runtime.
    pub fn stop(&self) {
        let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(Parts {
            runtime,
            cancel,
            server,
            workers,
        }) = parts
        else {
            return;
        };
        self.stopped.store(true, Ordering::SeqCst);
        for fd in self.listener_fds {
            process::forget_listener(fd);
        }
        let limit = self.hub.config().shutdown_timeout;
        let started = Instant::now();
        cancel.cancel();
        workers.close();
        let _ = runtime.block_on(async {
            tokio::time::timeout(limit, async {
                let _ = server.await;
                workers.wait().await;
            })
            .await
        });
        // The socket file goes with the engine even if its task did not
        // get to remove it.
        let _ = std::fs::remove_file(&self.hub.config().socket);
        runtime.shutdown_timeout(limit.saturating_sub(started.elapsed()));
    }

    /// Whether `stop` has been called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Waits for the next message on `channel` after `cursor`, for at most
    /// `timeout`, without spinning. Every [`WAIT_SLICE`] it calls
    /// `interrupt`; returning `Break` abandons the wait (for example to let
    /// PHP run a signal handler that throws). Must be called from outside
    /// the engine's runtime (a PHP thread).
    pub fn wait(
        &self,
        channel: &str,
        cursor: Cursor,
        timeout: Duration,
        interrupt: &mut dyn FnMut() -> ControlFlow<()>,
    ) -> Result<Waited> {
        if self.is_stopped() {
            return Err(Error::ShuttingDown);
        }
        let mut sub = self.hub.subscribe(channel, cursor)?;
        let mut lost = None;
        // Fast path: something is already there.
        while let Some(event) = sub.try_recv() {
            match event {
                Event::Message(p) => return Ok(waited(Some(p), lost, sub.position(), false)),
                Event::Lost(l) => lost = Some(l),
                Event::Closed => return Err(Error::ShuttingDown),
            }
        }
        let start = sub.position();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let task = self.handle.spawn(async move {
            let outcome = tokio::time::timeout(timeout, async {
                loop {
                    match sub.recv().await {
                        Event::Message(p) => return Ok((p, lost)),
                        Event::Lost(l) => lost = Some(l),
                        Event::Closed => return Err(Error::ShuttingDown),
                    }
                }
            })
            .await;
            let _ = tx.send((outcome, lost, sub.position()));
        });
        let _abort = AbortOnDrop(Some(task), &self.handle);
        let deadline = Instant::now()
            .checked_add(timeout.saturating_add(Duration::from_secs(1)))
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
        loop {
            match rx.recv_timeout(WAIT_SLICE) {
                Ok((Ok(Ok((p, lost))), _, position)) => {
                    return Ok(waited(Some(p), lost, position, false))
                }
                Ok((Ok(Err(e)), _, _)) => return Err(e),
                Ok((Err(_elapsed), lost, position)) => {
                    return Ok(waited(None, lost, position, false))
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(Error::ShuttingDown)
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            }
            if interrupt().is_break() {
                return Ok(waited(None, lost, start, true));
            }
            if Instant::now() > deadline {
                // The runtime did not answer in time: do not hang the caller.
                return Ok(waited(None, lost, start, false));
            }
        }
    }

    /// Blocks until `stop` says so, checking it every [`WAIT_SLICE`].
    pub fn block_until(&self, stop: &mut dyn FnMut() -> ControlFlow<()>) {
        while stop().is_continue() {
            std::thread::sleep(WAIT_SLICE);
        }
    }
}

fn waited(
    publication: Option<Arc<Publication>>,
    lost: Option<Lost>,
    position: Id,
    interrupted: bool,
) -> Waited {
    Waited {
        publication,
        lost,
        position,
        interrupted,
    }
}

/// Cancels a waiting task and waits (briefly) until it is gone, so its
/// subscription is dropped before the blocking call returns.
struct AbortOnDrop<'a>(Option<JoinHandle<()>>, &'a Handle);

impl Drop for AbortOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            let _ = self
                .1
                .block_on(async { tokio::time::timeout(Duration::from_millis(200), task).await });
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}
