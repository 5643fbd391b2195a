//! The tap's one write: a frame to the idle socket with a non-blocking
//! `sendmsg`, in a chunk of its own on a chunked stream, what it leaves
//! kept for the stream's task.

use std::io::{self, IoSlice, Write as _};
use std::os::fd::RawFd;

use bytes::Bytes;

use super::{State, Wrote};

impl State {
    /// One non-blocking write of `frame` (in a chunk of its own if the
    /// stream is chunked); what it leaves is kept in `rest`.
    pub(super) fn write(&mut self, frame: &[u8]) -> Wrote {
        let Some(fd) = self.fd else {
            return Wrote::Not;
        };
        let mut size = [0u8; 20];
        let size_len = match self.chunked {
            true => {
                let mut cursor = &mut size[..];
                // 16 hex digits and CRLF fit in 20 bytes.
                let _ = write!(cursor, "{:x}\r\n", frame.len());
                20 - cursor.len()
            }
            false => 0,
        };
        let trailer: &[u8] = if self.chunked { b"\r\n" } else { b"" };
        let parts = [
            IoSlice::new(&size[..size_len]),
            IoSlice::new(frame),
            IoSlice::new(trailer),
        ];
        let total = size_len + frame.len() + trailer.len();
        match send(fd, &parts) {
            Ok(n) if n >= total => Wrote::Whole,
            Ok(n) => {
                let mut rest = Vec::with_capacity(total - n);
                let mut skip = n;
                for part in &parts {
                    let take = skip.min(part.len());
                    rest.extend_from_slice(&part[take..]);
                    skip -= take;
                }
                self.rest = Some(Bytes::from(rest));
                Wrote::Partly
            }
            Err(_) => Wrote::Not,
        }
    }
}

/// One `sendmsg` of `parts`, without blocking, and an error rather than
/// `SIGPIPE` if the peer is gone (the engine may run inside PHP, which
/// does not ignore the signal).
fn send(fd: RawFd, parts: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: an all-zero `msghdr` is valid (no address, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSlice` is ABI-compatible with `iovec` on Unix; sendmsg only reads
    // through the pointer.
    msg.msg_iov = parts.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = parts.len() as _;
    // SAFETY: `fd` is the socket of an attached writer, open while the
    // tap's lock is held (`SocketTap::attach`); `msg` points at `parts`,
    // alive for the call.
    let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
    match usize::try_from(n) {
        Ok(n) => Ok(n),
        Err(_) => Err(io::Error::last_os_error()),
    }
}
