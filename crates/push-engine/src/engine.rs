//! The engine as a process embeds it: a tokio runtime of its own, the hub,
//! and the server on `push.listen`, started and stopped from a thread that is
//! not the runtime's (PHP's), with blocking calls that wait in short slices.

use std::future::Future;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::broker::Redis;
use crate::config::Config;
use crate::edge::mercure;
use crate::error::{Error, Result};
use crate::hub::{Cursor, Event, Hub, Lost};
use crate::message::Outgoing;
use crate::message::{Id, Publication};
use crate::wait::{resume_at, Waited, WAIT_SLICE};
use crate::{ipc, process, server};

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

impl Engine {
    /// Builds the runtime, binds `config.listen` and starts serving. Binding
    /// happens before this returns, so a port in use is an error here.
    pub fn start(config: Config) -> Result<Engine> {
        config.validate()?;
        let needed = (config.max_connections + config.max_workers) as u64 + process::SPARE_FILES;
        let why = format!(
            "push.max_connections ({}) with push.max_workers ({})",
            config.max_connections, config.max_workers
        );
        if let Some(warning) = process::raise_open_files(needed, &why) {
            eprintln!("push: {warning}");
        }
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
        let cancel = CancellationToken::new();
        let workers = TaskTracker::new();
        let hub = match &config.broker {
            None => Hub::new(config.clone()),
            Some(url) => {
                let broker = Redis::new(&config, url).inspect_err(|_| forget())?;
                Hub::with_broker(config.clone(), Arc::new(broker))
            }
        };
        // Before any worker can publish (the router installs it too, for
        // servers run without an engine).
        mercure::channels::install(&hub);
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

    /// Publishes from a thread that is not the runtime's (PHP's): at once
    /// with the memory broker, else through the shared broker, waiting at
    /// most `push.io_timeout`.
    pub fn publish(&self, channel: &str, msg: Outgoing) -> Result<Arc<Publication>> {
        if self.is_stopped() {
            return Err(Error::ShuttingDown);
        }
        if self.hub.broker().is_none() {
            return self.hub.publish(channel, msg);
        }
        let hub = self.hub.clone();
        let channel = channel.to_owned();
        self.block_on(async move { hub.send(&channel, msg).await })
    }

    /// Appends a Mercure update from a thread that is not the runtime's
    /// (PHP's `mercure_publish()`), as the hub's `POST` does
    /// ([`mercure::publish::append`]); returns its Mercure id.
    pub fn mercure_publish(&self, head: mercure::update::Head, data: Bytes) -> Result<String> {
        if self.is_stopped() {
            return Err(Error::ShuttingDown);
        }
        let hub = self.hub.clone();
        self.block_on(async move { mercure::publish::append(&hub, head, &data).await })
    }

    /// Runs `task` on the runtime from a foreign thread, waiting at most
    /// `push.io_timeout` (a shared broker that does not answer).
    fn block_on<T: Send + 'static>(
        &self,
        task: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let limit = self.hub.config().io_timeout;
        let task = self
            .handle
            .spawn(async move { tokio::time::timeout(limit, task).await });
        match self.handle.block_on(task) {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_elapsed)) => Err(Error::Broker(format!("no answer within {limit:?}"))),
            Err(_) => Err(Error::ShuttingDown),
        }
    }

    /// The members of presence `channel`, cluster-wide, from a thread that
    /// is not the runtime's (PHP's), waiting at most `push.io_timeout`.
    pub fn presence(&self, channel: &str) -> Result<Vec<crate::hub::presence::Member>> {
        if self.is_stopped() {
            return Err(Error::ShuttingDown);
        }
        let channel = crate::message::validate_channel(channel.as_bytes())?.to_owned();
        if self.hub.broker().is_none() {
            return Ok(self.hub.presence().members(&channel));
        }
        let limit = self.hub.config().io_timeout;
        let hub = self.hub.clone();
        let task = self.handle.spawn(async move {
            tokio::time::timeout(limit, hub.presence_members(&channel)).await
        });
        match self.handle.block_on(task) {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_elapsed)) => Err(Error::Broker(format!("no answer within {limit:?}"))),
            Err(_) => Err(Error::ShuttingDown),
        }
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
        let owner = process::pid();
        let mut lost = None;
        let mut start = match cursor {
            Cursor::After(id) => id,
            Cursor::Live => Id::default(),
        };
        // With the memory broker, subscribe here and take what is already
        // there without a trip through the runtime.
        let ready = match self.hub.broker() {
            Some(_) => None,
            None => {
                let mut sub = self.hub.subscribe(channel, cursor)?;
                while let Some(event) = sub.try_recv() {
                    match event {
                        Event::Message(p) => {
                            return Ok(waited(Some(p), lost, sub.position(), false))
                        }
                        Event::Lost(l) => lost = Some(l),
                        Event::Closed => return Err(Error::ShuttingDown),
                    }
                }
                start = sub.position();
                Some(sub)
            }
        };
        let (hub, channel) = (self.hub.clone(), channel.to_owned());
        let (tx, rx) = crossbeam_channel::bounded(1);
        let task = self.handle.spawn(async move {
            let mut sub = match ready {
                Some(sub) => sub,
                None => match hub.join(&channel, cursor).await {
                    Ok(sub) => sub,
                    Err(e) => {
                        let _ = tx.send((Ok(Err(e)), lost, start));
                        return;
                    }
                },
            };
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
        let _abort = AbortOnDrop(Some(task), &self.handle, owner);
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
                    return Ok(waited(None, lost, resume_at(cursor, lost, position), false))
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(Error::ShuttingDown)
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            }
            if interrupt().is_break() {
                return Ok(waited(None, lost, start, true));
            }
            if process::pid() != owner {
                // A signal handler forked: the runtime's threads are not in
                // this child, and the wait is the parent's.
                return Err(Error::Forked { pid: owner });
            }
            if Instant::now() > deadline {
                // The runtime did not answer in time: do not hang the caller.
                return Ok(waited(None, lost, resume_at(cursor, lost, start), false));
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
/// subscription is dropped before the blocking call returns. In a forked
/// child (pid other than the third field) it touches nothing: the
/// runtime's threads do not exist there, and blocking on it would hang.
struct AbortOnDrop<'a>(Option<JoinHandle<()>>, &'a Handle, u32);

impl Drop for AbortOnDrop<'_> {
    fn drop(&mut self) {
        if process::pid() != self.2 {
            std::mem::forget(self.0.take());
            return;
        }
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
