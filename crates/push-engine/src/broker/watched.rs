//! The command connection's socket, watched: whether Redis has closed it,
//! and how many bytes were written to it. With both, a command that failed
//! can be told apart from one that may have run: if Redis had closed the
//! connection and not one byte was written since the command was handed
//! over, Redis never saw it, and it is safe to send again.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What is known of one connection, shared with its [`Watched`] socket.
#[derive(Debug, Default)]
pub struct Watch {
    closed: AtomicBool,
    written: AtomicU64,
}

impl Watch {
    /// Whether Redis closed the connection (end of stream or an error).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}

/// A socket that reports to its [`Watch`].
pub struct Watched<S> {
    inner: S,
    watch: Arc<Watch>,
}

impl<S> Watched<S> {
    pub fn new(inner: S) -> (Watched<S>, Arc<Watch>) {
        let watch = Arc::new(Watch::default());
        (
            Watched {
                inner,
                watch: watch.clone(),
            },
            watch,
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &polled {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                self.watch.close()
            }
            Poll::Ready(Err(_)) => self.watch.close(),
            _ => {}
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        match &polled {
            Poll::Ready(Ok(n)) => {
                self.watch.written.fetch_add(*n as u64, Ordering::SeqCst);
            }
            Poll::Ready(Err(_)) => self.watch.close(),
            Poll::Pending => {}
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn counts_what_is_written_and_sees_the_peer_close() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let (mut ours, watch) = Watched::new(ours);
        ours.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(watch.written(), 6);
        let mut buf = [0u8; 6];
        theirs.read_exact(&mut buf).await.unwrap();
        theirs.write_all(b"+PONG\r\n").await.unwrap();
        let mut answer = [0u8; 7];
        ours.read_exact(&mut answer).await.unwrap();
        assert!(!watch.is_closed());
        drop(theirs);
        assert_eq!(ours.read(&mut answer).await.unwrap(), 0);
        assert!(watch.is_closed(), "end of stream: Redis closed it");
        assert!(ours.write_all(b"PING\r\n").await.is_err());
        assert_eq!(watch.written(), 6, "nothing more went out");
    }
}
