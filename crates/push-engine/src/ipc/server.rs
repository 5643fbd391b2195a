//! The engine's side of the local socket: binding it (a stale file from a
//! crashed engine is replaced; a live engine on it is a clear error), and
//! one task per worker connection.

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use bytes::{BufMut, Bytes};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::payload::{parse_mercure_publish, parse_publish, parse_publish_from, parse_wait};
use super::*;
use crate::config::Config;
use crate::edge::mercure;
use crate::error::Error;
use crate::hub::{Cursor, Event, Hub};
use crate::metrics::Transport;
use crate::wait::resume_at;

/// Binds `config.socket`: replaces a stale socket file, refuses when an
/// engine answers on it or when the path is not a socket, then applies
/// `push.socket_mode` and `push.socket_group`.
pub fn bind(config: &Config) -> Result<std::os::unix::net::UnixListener, Error> {
    let path = Path::new(&config.socket);
    let fail = |source: io::Error| Error::Socket {
        path: config.socket.clone(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(fail(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            )))
        }
        Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(Error::SocketInUse(config.socket.clone())),
            // Nobody listens: a crashed engine's leftover.
            Err(_) => std::fs::remove_file(path).map_err(fail)?,
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(config.socket_mode))
        .map_err(fail)?;
    if !config.socket_group.is_empty() {
        let gid = group_id(&config.socket_group).map_err(fail)?;
        let c = std::ffi::CString::new(config.socket.as_bytes())
            .map_err(|e| fail(io::Error::other(e)))?;
        // SAFETY: chown on a path we just created; -1 keeps the owner.
        if unsafe { libc::chown(c.as_ptr(), u32::MAX, gid) } != 0 {
            return Err(fail(io::Error::last_os_error()));
        }
    }
    listener.set_nonblocking(true).map_err(fail)?;
    Ok(listener)
}

/// A group's id, from its name or number.
fn group_id(group: &str) -> io::Result<libc::gid_t> {
    if let Ok(gid) = group.parse() {
        return Ok(gid);
    }
    let name = std::ffi::CString::new(group).map_err(io::Error::other)?;
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut result = std::ptr::null_mut();
    // SAFETY: getgrnam_r writes into `grp` and `buf`, both ours and large enough.
    let rc = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no group {group:?}"),
        ));
    }
    Ok(grp.gr_gid)
}

/// Serves worker connections until `cancel`; then removes the socket file.
pub async fn run(
    listener: UnixListener,
    path: String,
    hub: Hub,
    cancel: CancellationToken,
    tasks: TaskTracker,
) {
    // One permit per connection: push.max_workers, like push.max_connections
    // on the HTTP side, so idle workers cannot use up the engine's files.
    let max = hub.config().max_workers;
    let permits = Arc::new(Semaphore::new(max));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        tasks.spawn(connection(stream, hub.clone(), cancel.clone(), permit));
                    }
                    Err(_) => {
                        tasks.spawn(refuse(stream, max, hub.config().request_timeout));
                    }
                },
                Err(e) => {
                    eprintln!("push: accept on {path}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = cancel.cancelled() => break,
        }
    }
    drop(listener);
    let _ = std::fs::remove_file(&path);
}

/// Reads one frame — a length of 1 to `max` bytes, then the kind and the
/// payload — as `(kind, payload)`; `None` at a clean end of stream. A
/// length over `max` is [`Error::MessageTooLarge`] (`size` the length),
/// before anything of the frame is read.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Option<(u8, Bytes)>, Error> {
    read_frame_within(r, max, None).await
}

/// [`read_frame`], with the frame's bytes after its first one to arrive
/// within `limit` (a worker may stay idle between frames for as long as it
/// likes, but not stop in the middle of one).
pub async fn read_frame_within<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
    limit: Option<Duration>,
) -> Result<Option<(u8, Bytes)>, Error> {
    read_frame_idle(r, max, None, limit).await
}

/// [`read_frame_within`], and `None` as well when no frame begins within
/// `idle`.
pub async fn read_frame_idle<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
    idle: Option<Duration>,
    limit: Option<Duration>,
) -> Result<Option<(u8, Bytes)>, Error> {
    let mut first = [0u8; 1];
    let read = r.read_exact(&mut first);
    let read = match idle {
        Some(idle) => match tokio::time::timeout(idle, read).await {
            Ok(read) => read,
            Err(_) => return Ok(None),
        },
        None => read.await,
    };
    match read {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(Error::Protocol(e.to_string())),
    }
    let rest = read_rest(r, first[0], max);
    match limit {
        Some(limit) => tokio::time::timeout(limit, rest).await.map_err(|_| {
            Error::Protocol(format!(
                "the rest of a frame did not arrive within {} s (push.request_timeout)",
                limit.as_secs_f64()
            ))
        })?,
        None => rest.await,
    }
    .map(Some)
}

async fn read_rest<R: AsyncRead + Unpin>(
    r: &mut R,
    first: u8,
    max: usize,
) -> Result<(u8, Bytes), Error> {
    let mut len = [first, 0, 0, 0];
    r.read_exact(&mut len[1..])
        .await
        .map_err(|e| Error::Protocol(e.to_string()))?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(Error::MessageTooLarge { size: len, max });
    }
    if len == 0 {
        return Err(Error::Protocol("frame of 0 bytes".into()));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)
        .await
        .map_err(|e| Error::Protocol(e.to_string()))?;
    let payload = Bytes::from(buf);
    Ok((payload[0], payload.slice(1..)))
}

fn error_frame(e: &Error) -> Bytes {
    frame(R_ERROR, |b| {
        b.put_u8(error_code(e));
        match e {
            Error::MessageTooLarge { size, max } => {
                b.put_u32(*size as u32);
                b.put_u32(*max as u32);
            }
            Error::TooManyChannels(max) => b.put_u32(*max as u32),
            Error::TooManyWorkers { max, .. } => b.put_u32(*max as u32),
            // The name alone: the worker's error says the rest.
            Error::ReservedChannel(name) => {
                b.put_slice(name.as_bytes());
                return;
            }
            _ => {}
        }
        match e {
            // The reason only: the worker says it as the engine would.
            Error::Broker(reason) | Error::InvalidUpdate(reason) => b.put_slice(reason.as_bytes()),
            e => b.put_slice(e.to_string().as_bytes()),
        }
    })
}

/// A connection over push.max_workers: told so (the worker reads it as
/// the answer to its HELLO), then closed.
async fn refuse(mut stream: UnixStream, max: usize, limit: Duration) {
    let refusal = error_frame(&Error::TooManyWorkers {
        socket: String::new(),
        max,
    });
    let _ = tokio::time::timeout(limit, stream.write_all(&refusal)).await;
}

/// One worker's connection. Garbage closes only this connection.
async fn connection(
    stream: UnixStream,
    hub: Hub,
    cancel: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let _connection = hub.metrics().connection(Transport::Ipc);
    let max = hub.config().max_message_size + FRAME_OVERHEAD;
    // A frame begun must be finished, and an answer taken, within
    // push.request_timeout: a stalled worker holds no task for ever.
    let limit = hub.config().request_timeout;
    // Between frames a worker may stay idle up to push.socket_idle_timeout;
    // then the connection is closed (the worker reconnects when it needs to).
    let idle = hub.config().socket_idle_timeout;
    let (mut rd, mut wr) = stream.into_split();
    loop {
        let next = tokio::select! {
            f = read_frame_idle(&mut rd, max, Some(idle), Some(limit)) => f,
            _ = cancel.cancelled() => return,
        };
        let (kind, payload) = match next {
            Ok(Some(f)) => f,
            // Too large to read: say so (the worker finds the answer when
            // its write fails), then close — the rest of the frame is
            // never read.
            Err(Error::MessageTooLarge { size, .. }) => {
                let max = hub.config().max_message_size;
                let too_large = error_frame(&Error::MessageTooLarge { size, max });
                let _ = tokio::time::timeout(limit, wr.write_all(&too_large)).await;
                return;
            }
            Ok(None) | Err(_) => return,
        };
        let answer = match kind {
            HELLO => match Reader(payload).u16() {
                Ok(VERSION) => frame(R_HELLO, |b| {
                    b.put_u16(VERSION);
                    b.put_u32(std::process::id());
                }),
                _ => error_frame(&Error::Protocol(format!(
                    "this engine speaks protocol {VERSION}"
                ))),
            },
            PUBLISH | PUBLISH_BINARY | PUBLISH_FROM => match publish(&hub, kind, payload).await {
                Ok(id) => frame(R_PUBLISHED, |b| put_id(b, id)),
                Err(e) => error_frame(&e),
            },
            MERCURE_PUBLISH => match mercure_publish(&hub, payload).await {
                Ok(id) => frame(R_MERCURE_PUBLISHED, |b| b.put_slice(id.as_bytes())),
                Err(e) => error_frame(&e),
            },
            WAIT => {
                let request = parse_wait(payload);
                match request {
                    Ok((channel, cursor, timeout)) => {
                        match wait(&hub, &channel, cursor, timeout, &mut rd, &cancel).await {
                            Some(answer) => answer,
                            None => return, // the worker left
                        }
                    }
                    Err(e) => error_frame(&e),
                }
            }
            STATS => {
                let json = serde_json::to_vec(&hub.engine_stats()).unwrap_or_default();
                frame(R_STATS, |b| b.put_slice(&json))
            }
            PRESENCE => match presence(&hub, payload).await {
                Ok(json) => frame(R_PRESENCE, |b| b.put_slice(&json)),
                Err(e) => error_frame(&e),
            },
            _ => return,
        };
        if !matches!(
            tokio::time::timeout(limit, wr.write_all(&answer)).await,
            Ok(Ok(()))
        ) {
            return;
        }
    }
}

/// The members of the channel a PRESENCE frame names, as JSON.
async fn presence(hub: &Hub, payload: Bytes) -> Result<Vec<u8>, Error> {
    let channel = Reader(payload).str()?;
    let channel = crate::message::validate_channel(&channel)?;
    let limit = hub.config().io_timeout;
    let members = tokio::time::timeout(limit, hub.presence_members(channel))
        .await
        .map_err(|_| Error::Broker(format!("no answer within {limit:?}")))??;
    serde_json::to_vec(&members).map_err(|e| Error::Protocol(e.to_string()))
}

async fn publish(hub: &Hub, kind: u8, payload: Bytes) -> Result<Id, Error> {
    let (channel, msg) = match kind {
        PUBLISH_FROM => parse_publish_from(payload)?,
        PUBLISH_BINARY => parse_publish(payload).map(|(c, m)| (c, m.binary()))?,
        _ => parse_publish(payload)?,
    };
    Ok(hub.send(&channel, msg).await?.id)
}

/// A MERCURE_PUBLISH: the update appended to the hub-wide log as the
/// hub's own `POST` appends it.
async fn mercure_publish(hub: &Hub, payload: Bytes) -> Result<String, Error> {
    let (head, data) = parse_mercure_publish(payload)?;
    mercure::publish::append(hub, head, &data).await
}

/// Waits for the next message; `None` if the worker closed the connection
/// (it gave up the wait), so no waiter is left behind.
async fn wait<R: AsyncRead + Unpin>(
    hub: &Hub,
    channel: &str,
    cursor: Cursor,
    timeout: Duration,
    rd: &mut R,
    cancel: &CancellationToken,
) -> Option<Bytes> {
    let mut sub = match hub.join(channel, cursor).await {
        Ok(sub) => sub,
        Err(e) => return Some(error_frame(&e)),
    };
    let mut lost = None;
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut probe = [0u8; 1];
    loop {
        tokio::select! {
            event = sub.recv() => match event {
                Event::Message(p) => {
                    hub.metrics().delivered(Transport::Ipc, p.at);
                    return Some(frame(R_MESSAGE, |b| {
                        b.put_u8(u8::from(lost.is_some()) | (u8::from(p.text) << 1));
                        put_id(b, p.id);
                        put_str(b, p.event.as_deref().unwrap_or("").as_bytes());
                        b.put_slice(&p.data);
                    }));
                }
                Event::Lost(l) => lost = Some(l),
                Event::Closed => return Some(error_frame(&Error::ShuttingDown)),
            },
            _ = &mut deadline => {
                let position = resume_at(cursor, lost, sub.position());
                return Some(frame(R_TIMEOUT, |b| put_id(b, position)));
            }
            // Anything from the worker during a wait (normally its close)
            // ends the connection.
            _ = rd.read(&mut probe) => return None,
            _ = cancel.cancelled() => return Some(error_frame(&Error::ShuttingDown)),
        }
    }
}
