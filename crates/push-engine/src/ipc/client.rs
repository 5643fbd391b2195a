//! A worker's side of the local socket: plain blocking I/O on the calling
//! thread (no runtime, no threads), every operation bounded by a timeout,
//! long waits in short slices so the caller can handle signals.

use std::io::{self, Read};
use std::mem::ManuallyDrop;
use std::ops::ControlFlow;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use socket2::{Domain, SockAddr, Socket, Type};

use super::*;
use crate::edge::mercure::update::Head;
use crate::error::Error;
use crate::hub::presence::Member;
use crate::hub::{Cursor, Lost};
use crate::message::{Id, Outgoing, Publication};
use crate::metrics::EngineStats;
use crate::process;
use crate::wait::{Waited, WAIT_SLICE};

/// A connection to the engine, owned by the process that opened it: in a
/// forked child it is never written to nor read from (that is the
/// parent's conversation), and its descriptor is closed right after the
/// fork (see [`process::close_in_children`]), never by its `Drop`.
#[derive(Debug)]
pub struct Client {
    sock: ManuallyDrop<Socket>,
    path: String,
    io_timeout: Duration,
    engine_pid: u32,
    /// The process that opened it.
    pid: u32,
    /// Whether a forked child closes it at once (else its `Drop` does).
    closed_in_children: bool,
}

impl Drop for Client {
    fn drop(&mut self) {
        let fd = self.sock.as_raw_fd();
        if self.pid == process::pid() {
            process::forget_listener(fd);
        } else if self.closed_in_children {
            // Closed after the fork already; the number may be another
            // file's by now: leave it.
            return;
        }
        // SAFETY: dropped once, here; never used again.
        unsafe { ManuallyDrop::drop(&mut self.sock) };
    }
}

impl Client {
    /// Connects and greets the engine. No engine on `path` is
    /// [`Error::NotRunning`]; one that does not answer is [`Error::Timeout`].
    pub fn connect(
        path: &str,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> Result<Client, Error> {
        let not_running = || Error::NotRunning {
            socket: path.to_owned(),
        };
        let addr = SockAddr::unix(path).map_err(|_| not_running())?;
        // socket2 creates it close-on-exec.
        let sock = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|_| not_running())?;
        match sock.connect_timeout(&addr, connect_timeout) {
            Ok(()) => {}
            Err(e)
                if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock =>
            {
                return Err(Error::Timeout {
                    socket: path.to_owned(),
                    after: connect_timeout,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Err(Error::SocketPermission {
                    socket: path.to_owned(),
                })
            }
            Err(_) => return Err(not_running()),
        }
        let closed_in_children = process::close_in_children(sock.as_raw_fd());
        let mut client = Client {
            sock: ManuallyDrop::new(sock),
            path: path.to_owned(),
            io_timeout,
            engine_pid: 0,
            pid: process::pid(),
            closed_in_children,
        };
        let (kind, payload) = client.request(&frame(HELLO, |b| b.put_u16(VERSION)))?;
        let mut r = Reader(payload);
        match kind {
            R_HELLO => {
                r.u16()?;
                client.engine_pid = r.u32()?;
                Ok(client)
            }
            R_ERROR => Err(match decode_error(r) {
                Error::TooManyWorkers { max, .. } => Error::TooManyWorkers {
                    socket: path.to_owned(),
                    max,
                },
                e => e,
            }),
            _ => Err(Error::Protocol(format!(
                "unexpected answer {kind:#x} to HELLO"
            ))),
        }
    }

    /// The engine's process id.
    pub fn engine_pid(&self) -> u32 {
        self.engine_pid
    }

    /// The socket path this client is connected to.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the idle connection is still open: an engine that stopped or
    /// restarted closed it (it becomes readable at end of stream).
    pub fn is_alive(&self) -> bool {
        if self.pid != process::pid() {
            return false;
        }
        let mut pfd = libc::pollfd {
            fd: self.sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polls one fd we own, without waiting.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n == 0
    }

    pub fn publish(&mut self, channel: &str, msg: &Outgoing) -> Result<Id, Error> {
        match self.request(&publish_frame(channel, msg))? {
            (R_PUBLISHED, payload) => Reader(payload).id(),
            (R_ERROR, payload) => match decode_error(Reader(payload)) {
                // The engine counts a frame it refused unread; the size is
                // the message's.
                Error::MessageTooLarge { max, .. } => Err(Error::MessageTooLarge {
                    size: msg.data.len(),
                    max,
                }),
                e => Err(e),
            },
            (kind, _) => Err(Error::Protocol(format!(
                "unexpected answer {kind:#x} to PUBLISH"
            ))),
        }
    }

    /// Appends a Mercure update to the engine's hub-wide log; returns its
    /// Mercure id.
    pub fn mercure_publish(&mut self, head: &Head, data: &[u8]) -> Result<String, Error> {
        let request = frame(MERCURE_PUBLISH, |b| b.put_slice(&head.envelope(data)));
        match self.request(&request)? {
            (R_MERCURE_PUBLISHED, payload) => String::from_utf8(payload.to_vec())
                .map_err(|_| Error::Protocol("an update id that is not UTF-8".into())),
            (R_ERROR, payload) => match decode_error(Reader(payload)) {
                Error::MessageTooLarge { max, .. } => Err(Error::MessageTooLarge {
                    size: data.len(),
                    max,
                }),
                e => Err(e),
            },
            (kind, _) => Err(Error::Protocol(format!(
                "unexpected answer {kind:#x} to MERCURE_PUBLISH"
            ))),
        }
    }

    /// The engine's figures.
    pub fn stats(&mut self) -> Result<EngineStats, Error> {
        match self.request(&frame(STATS, |_| {}))? {
            (R_STATS, payload) => {
                serde_json::from_slice(&payload).map_err(|e| Error::Protocol(e.to_string()))
            }
            (R_ERROR, payload) => Err(decode_error(Reader(payload))),
            (kind, _) => Err(Error::Protocol(format!(
                "unexpected answer {kind:#x} to STATS"
            ))),
        }
    }

    /// The members of presence `channel`, cluster-wide.
    pub fn presence(&mut self, channel: &str) -> Result<Vec<Member>, Error> {
        match self.request(&frame(PRESENCE, |b| put_str(b, channel.as_bytes())))? {
            (R_PRESENCE, payload) => {
                serde_json::from_slice(&payload).map_err(|e| Error::Protocol(e.to_string()))
            }
            (R_ERROR, payload) => Err(decode_error(Reader(payload))),
            (kind, _) => Err(Error::Protocol(format!(
                "unexpected answer {kind:#x} to PRESENCE"
            ))),
        }
    }

    /// Waits in the engine for the next message after `cursor`. Every
    /// [`WAIT_SLICE`] it calls `interrupt`; `Break` gives the wait up — the
    /// connection is then unusable (the engine drops the waiter when it is
    /// closed), so drop the client.
    pub fn wait(
        &mut self,
        channel: &str,
        cursor: Cursor,
        timeout: Duration,
        interrupt: &mut dyn FnMut() -> ControlFlow<()>,
    ) -> Result<Waited, Error> {
        let ms = timeout.as_millis().min(u128::from(u32::MAX)) as u32;
        let request = frame(WAIT, |b| {
            put_str(b, channel.as_bytes());
            match cursor {
                Cursor::Live => b.put_u8(0),
                Cursor::After(id) => {
                    b.put_u8(1);
                    put_id(b, id);
                }
            }
            b.put_u32(ms);
        });
        self.send(&request)?;
        // The engine answers by itself when the time is up; allow it a
        // little longer before calling it unresponsive.
        let deadline = Instant::now() + timeout + self.io_timeout;
        let Some((kind, payload)) = self.read_frame(deadline, Some(interrupt))? else {
            return Ok(Waited {
                publication: None,
                lost: None,
                position: match cursor {
                    Cursor::After(id) => id,
                    Cursor::Live => Id {
                        epoch: 0,
                        offset: 0,
                    },
                },
                interrupted: true,
            });
        };
        let mut r = Reader(payload);
        match kind {
            R_MESSAGE => {
                let flags = r.u8()?;
                let id = r.id()?;
                let event = r.str()?;
                let data = r.rest();
                let event = (!event.is_empty())
                    .then(|| Arc::from(String::from_utf8_lossy(&event).as_ref()));
                let p = Publication::new(
                    Arc::from(channel),
                    id,
                    event,
                    data,
                    flags & 2 != 0,
                    tokio::time::Instant::now(),
                );
                let requested = match cursor {
                    Cursor::After(c) => c,
                    Cursor::Live => id,
                };
                Ok(Waited {
                    publication: Some(Arc::new(p)),
                    lost: (flags & 1 != 0).then_some(Lost {
                        requested,
                        oldest: Some(id),
                    }),
                    position: id,
                    interrupted: false,
                })
            }
            R_TIMEOUT => Ok(Waited {
                publication: None,
                lost: None,
                position: r.id()?,
                interrupted: false,
            }),
            R_ERROR => Err(decode_error(r)),
            _ => Err(Error::Protocol(format!(
                "unexpected answer {kind:#x} to WAIT"
            ))),
        }
    }

    fn request(&mut self, frame: &[u8]) -> Result<(u8, Bytes), Error> {
        let sent = self.send(frame);
        let deadline = Instant::now() + self.io_timeout;
        if let Err(e) = sent {
            // An engine that refuses a frame too large to read answers
            // and closes while the rest is being written: its answer is
            // still there to read.
            let closed = matches!(&e, Error::Socket { source, .. }
                if matches!(source.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset));
            if closed {
                if let Ok(Some(answer)) = self.read_frame(deadline, None) {
                    if answer.0 == R_ERROR {
                        return Ok(answer);
                    }
                }
            }
            return Err(e);
        }
        self.read_frame(deadline, None)?
            .ok_or_else(|| Error::Protocol("request interrupted".into()))
    }

    /// A forked child must not take part in its parent's conversation.
    fn owned(&self) -> Result<(), Error> {
        if self.pid == process::pid() {
            Ok(())
        } else {
            Err(Error::Forked { pid: self.pid })
        }
    }

    fn send(&mut self, mut buf: &[u8]) -> Result<(), Error> {
        self.owned()?;
        self.sock
            .set_write_timeout(Some(self.io_timeout))
            .map_err(|e| self.io_error(e))?;
        while !buf.is_empty() {
            // MSG_NOSIGNAL: a dead engine must be an error, not a SIGPIPE
            // that kills PHP.
            match self.sock.send_with_flags(buf, libc::MSG_NOSIGNAL) {
                Ok(0) => return Err(self.io_error(io::ErrorKind::WriteZero.into())),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    return Err(Error::Timeout {
                        socket: self.path.clone(),
                        after: self.io_timeout,
                    })
                }
                Err(e) => return Err(self.io_error(e)),
            }
        }
        Ok(())
    }

    /// Reads one frame by `deadline`, in slices; `None` if `interrupt`
    /// gave up.
    fn read_frame(
        &mut self,
        deadline: Instant,
        mut interrupt: Option<&mut dyn FnMut() -> ControlFlow<()>>,
    ) -> Result<Option<(u8, Bytes)>, Error> {
        let mut len = [0u8; 4];
        if !self.read_exact(&mut len, deadline, &mut interrupt)? {
            return Ok(None);
        }
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > (1 << 30) + FRAME_OVERHEAD {
            return Err(Error::Protocol(format!("answer of {len} bytes")));
        }
        let mut buf = BytesMut::zeroed(len);
        if !self.read_exact(&mut buf, deadline, &mut interrupt)? {
            return Ok(None);
        }
        let payload = buf.freeze();
        Ok(Some((payload[0], payload.slice(1..))))
    }

    fn read_exact(
        &mut self,
        mut buf: &mut [u8],
        deadline: Instant,
        interrupt: &mut Option<&mut dyn FnMut() -> ControlFlow<()>>,
    ) -> Result<bool, Error> {
        while !buf.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout {
                    socket: self.path.clone(),
                    after: self.io_timeout,
                });
            }
            let slice = if interrupt.is_some() {
                left.min(WAIT_SLICE)
            } else {
                left
            };
            self.sock
                .set_read_timeout(Some(slice.max(Duration::from_millis(1))))
                .map_err(|e| self.io_error(e))?;
            self.owned()?;
            match (&*self.sock).read(buf) {
                Ok(0) => return Err(self.io_error(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted || is_timeout(&e) => {
                    if let Some(check) = interrupt.as_mut() {
                        if check().is_break() {
                            return Ok(false);
                        }
                        // A signal handler may have forked: the child stops here.
                        self.owned()?;
                    }
                }
                Err(e) => return Err(self.io_error(e)),
            }
        }
        Ok(true)
    }

    fn io_error(&self, e: io::Error) -> Error {
        Error::Socket {
            path: self.path.clone(),
            source: e,
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn decode_error(mut r: Reader) -> Error {
    let Ok(code) = r.u8() else {
        return Error::Protocol("empty error".into());
    };
    if code == code::TOO_LARGE {
        if let (Ok(size), Ok(max)) = (r.u32(), r.u32()) {
            return Error::MessageTooLarge {
                size: size as usize,
                max: max as usize,
            };
        }
    }
    if code == code::TOO_MANY_WORKERS {
        return Error::TooManyWorkers {
            socket: String::new(),
            max: r.u32().unwrap_or(0) as usize,
        };
    }
    if code == code::TOO_MANY_CHANNELS {
        return Error::TooManyChannels(r.u32().unwrap_or(0) as usize);
    }
    let message = String::from_utf8_lossy(&r.rest()).into_owned();
    match code {
        code::INVALID_CHANNEL => Error::InvalidChannel(message),
        code::RESERVED_CHANNEL => Error::ReservedChannel(message),
        code::INVALID_EVENT => Error::InvalidEvent(message),
        code::SHUTTING_DOWN => Error::ShuttingDown,
        code::BROKER => Error::Broker(message),
        code::INVALID_UPDATE => Error::InvalidUpdate(message),
        code::MERCURE_OFF => Error::MercureOff,
        _ => Error::Protocol(message),
    }
}
