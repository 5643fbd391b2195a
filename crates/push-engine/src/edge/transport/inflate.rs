//! The client's side of permessage-deflate ([`super::deflate`]), below
//! tungstenite: a socket wrapper whose reads hand tungstenite the client's
//! frames with every compressed message inflated into one plain frame.
//!
//! tungstenite refuses any frame with a reserved bit set, and has no hook
//! for extensions. So this reads frames ahead of it (their headers parsed
//! by tungstenite's own [`FrameHeader::parse`]): a message whose first
//! frame has RSV1 set is gathered (fragments and all), unmasked and
//! inflated — on its own: the client agreed to
//! `client_no_context_takeover` — then handed on as one final frame with an
//! all-zero mask. Everything else (plain messages, control frames, and any
//! frame this does not understand) passes through byte for byte, so
//! tungstenite still judges every protocol error itself.
//!
//! Bounded: a compressed message, and what it inflates to, may not pass
//! `push.max_message_size`; beyond it the read fails and the connection is
//! dropped, as tungstenite does with an oversized plain message.
//! Without the extension negotiated the wrapper only forwards.

use std::io::{self, Cursor};
use std::pin::Pin;
use std::task::{Context, Poll};

use flate2::{Decompress, FlushDecompress};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

use super::deflate::TAIL;

/// A socket whose compressed client messages are inflated on the way in.
pub(crate) struct Inflating<S> {
    io: S,
    /// `None`: the extension was not negotiated; reads are forwarded.
    state: Option<Box<State>>,
}

struct State {
    /// Read from the socket, not looked at yet.
    raw: Vec<u8>,
    /// For tungstenite, from `given` on.
    ready: Vec<u8>,
    given: usize,
    /// Payload bytes of a passed-through frame still to forward.
    pass: u64,
    /// A compressed message being gathered: its opcode and payload so far.
    message: Option<(Data, Vec<u8>)>,
    /// `push.max_message_size`.
    max: usize,
    /// A header this cannot read: forward everything from here on and let
    /// tungstenite say what is wrong.
    opaque: bool,
    /// The socket said end of stream.
    eof: bool,
}

fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

impl<S> Inflating<S> {
    /// `compressed`: permessage-deflate was negotiated, with messages of at
    /// most `max` bytes.
    pub(crate) fn new(io: S, compressed: bool, max: usize) -> Self {
        let state = compressed.then(|| {
            Box::new(State {
                raw: Vec::new(),
                ready: Vec::new(),
                given: 0,
                pass: 0,
                message: None,
                max,
                opaque: false,
                eof: false,
            })
        });
        Inflating { io, state }
    }
}

/// Buffers an idle connection keeps at most: a message's worth is given
/// back once it went through, so an idle WebSocket costs no more than
/// before it negotiated the extension.
const KEPT: usize = 1024;

impl State {
    fn shrink(&mut self) {
        if self.raw.is_empty() && self.raw.capacity() > KEPT {
            self.raw = Vec::new();
        }
        if self.ready.is_empty() && self.ready.capacity() > KEPT {
            self.ready = Vec::new();
        }
    }

    /// Moves what can be moved from `raw` to `ready`.
    fn process(&mut self) -> io::Result<()> {
        loop {
            if self.pass > 0 || self.opaque {
                let n = if self.opaque {
                    self.raw.len()
                } else {
                    self.raw.len().min(self.pass as usize)
                };
                self.ready.extend_from_slice(&self.raw[..n]);
                self.raw.drain(..n);
                self.pass -= (n as u64).min(self.pass);
                if self.pass > 0 || self.opaque || self.raw.is_empty() {
                    return Ok(());
                }
            }
            let mut cursor = Cursor::new(&self.raw[..]);
            let (header, length) = match FrameHeader::parse(&mut cursor) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return Ok(()),
                Err(_) => {
                    self.opaque = true;
                    continue;
                }
            };
            let head = cursor.position() as usize;
            let compressed = match (header.opcode, &self.message) {
                (OpCode::Data(Data::Text | Data::Binary), None) => header.rsv1,
                (OpCode::Data(Data::Continue), Some(_)) => !header.rsv1,
                _ => false,
            };
            if !compressed || header.rsv2 || header.rsv3 {
                self.ready.extend_from_slice(&self.raw[..head]);
                self.raw.drain(..head);
                self.pass = length;
                continue;
            }
            let gathered = self.message.as_ref().map_or(0, |(_, m)| m.len());
            if length > (self.max - gathered.min(self.max)) as u64 {
                return Err(invalid("a compressed message over push.max_message_size"));
            }
            let end = head + length as usize;
            if self.raw.len() < end {
                return Ok(());
            }
            let kind = match header.opcode {
                OpCode::Data(Data::Continue) => None,
                OpCode::Data(kind) => Some(kind),
                OpCode::Control(_) => None,
            };
            let (_, payload) = self
                .message
                .get_or_insert_with(|| (kind.unwrap_or(Data::Binary), Vec::new()));
            let at = payload.len();
            payload.extend_from_slice(&self.raw[head..end]);
            if let Some(mask) = header.mask {
                for (i, b) in payload[at..].iter_mut().enumerate() {
                    *b ^= mask[i % 4];
                }
            }
            self.raw.drain(..end);
            if header.is_final {
                if let Some((kind, payload)) = self.message.take() {
                    let plain = inflate(payload, self.max)?;
                    let frame = FrameHeader {
                        is_final: true,
                        opcode: OpCode::Data(kind),
                        // A client's frame is masked; a zero key leaves
                        // the payload as it is.
                        mask: Some([0; 4]),
                        ..FrameHeader::default()
                    };
                    frame
                        .format(plain.len() as u64, &mut self.ready)
                        .map_err(|_| invalid("a frame header"))?;
                    self.ready.extend_from_slice(&plain);
                }
            }
        }
    }
}

/// One message (`client_no_context_takeover`), of at most `max` bytes.
fn inflate(mut payload: Vec<u8>, max: usize) -> io::Result<Vec<u8>> {
    payload.extend_from_slice(&TAIL);
    let mut inflater = Decompress::new(false);
    let mut out = Vec::with_capacity((payload.len() * 4).min(max + 1));
    loop {
        let input = payload
            .get(inflater.total_in() as usize..)
            .unwrap_or_default();
        let before = (inflater.total_in(), inflater.total_out());
        inflater
            .decompress_vec(input, &mut out, FlushDecompress::Sync)
            .map_err(|_| invalid("a compressed message that does not inflate"))?;
        if out.len() > max {
            return Err(invalid("a message inflating past push.max_message_size"));
        }
        if inflater.total_in() as usize == payload.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        if out.len() == out.capacity() {
            // At most one byte past `max`, which the next round refuses.
            let room = out.capacity().max(64).min(max + 1 - out.len().min(max));
            out.reserve(room.max(1));
        } else if before == (inflater.total_in(), inflater.total_out()) {
            return Err(invalid("a compressed message that does not inflate"));
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Inflating<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(state) = this.state.as_mut() else {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        };
        loop {
            if state.given < state.ready.len() {
                let n = buf.remaining().min(state.ready.len() - state.given);
                buf.put_slice(&state.ready[state.given..state.given + n]);
                state.given += n;
                if state.given == state.ready.len() {
                    state.ready.clear();
                    state.given = 0;
                    state.shrink();
                }
                return Poll::Ready(Ok(()));
            }
            if state.eof {
                // What is left is a frame cut short: tungstenite gets its
                // bytes and the end of the stream.
                state.opaque = true;
                state.process()?;
                if state.ready.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            let mut chunk = [0u8; 4096];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.io).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if read.filled().is_empty() => state.eof = true,
                Poll::Ready(Ok(())) => {
                    state.raw.extend_from_slice(read.filled());
                    state.process()?;
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Inflating<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::super::deflate::compress;
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A client frame: masked, RSV1 as given.
    fn frame(out: &mut Vec<u8>, fin: bool, rsv1: bool, opcode: OpCode, payload: &[u8]) {
        let mask = [1, 2, 3, 4];
        let header = FrameHeader {
            is_final: fin,
            rsv1,
            opcode,
            mask: Some(mask),
            ..FrameHeader::default()
        };
        header.format(payload.len() as u64, out).unwrap();
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    }

    /// What tungstenite would read: (opcode, RSV1, payload unmasked) per frame.
    fn frames(mut bytes: &[u8]) -> Vec<(OpCode, bool, Vec<u8>)> {
        let mut all = Vec::new();
        while !bytes.is_empty() {
            let mut c = Cursor::new(bytes);
            let (h, len) = FrameHeader::parse(&mut c).unwrap().unwrap();
            let at = c.position() as usize;
            let mut p = bytes[at..at + len as usize].to_vec();
            if let Some(m) = h.mask {
                p.iter_mut().enumerate().for_each(|(i, b)| *b ^= m[i % 4]);
            }
            all.push((h.opcode, h.rsv1, p));
            bytes = &bytes[at + len as usize..];
        }
        all
    }

    async fn through(wire: Vec<u8>, max: usize) -> io::Result<Vec<u8>> {
        let (mut client, server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            // Byte by byte in small writes: frames cut anywhere.
            for piece in wire.chunks(7) {
                if client.write_all(piece).await.is_err() {
                    return;
                }
            }
        });
        let mut got = Vec::new();
        let read = Inflating::new(server, true, max)
            .read_to_end(&mut got)
            .await;
        let _ = writer.await;
        read.map(|_| got)
    }

    #[tokio::test]
    async fn compressed_messages_are_inflated_and_the_rest_passes_through() {
        let text = "hello, compressed world ".repeat(30);
        let packed = compress(text.as_bytes()).unwrap();
        let mut wire = Vec::new();
        frame(&mut wire, true, false, OpCode::Data(Data::Text), b"plain");
        frame(&mut wire, true, true, OpCode::Data(Data::Text), &packed);
        // Fragmented: RSV1 on the first frame only, a ping between.
        let (a, b) = packed.split_at(packed.len() / 2);
        frame(&mut wire, false, true, OpCode::Data(Data::Binary), a);
        frame(
            &mut wire,
            true,
            false,
            OpCode::Control(tokio_tungstenite::tungstenite::protocol::frame::coding::Control::Ping),
            b"p",
        );
        frame(&mut wire, true, false, OpCode::Data(Data::Continue), b);
        let got = frames(&through(wire, 1 << 20).await.unwrap());
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0], (OpCode::Data(Data::Text), false, b"plain".to_vec()));
        assert_eq!(
            got[1],
            (OpCode::Data(Data::Text), false, text.as_bytes().to_vec())
        );
        assert!(matches!(got[2].0, OpCode::Control(_)));
        assert_eq!(
            got[3],
            (OpCode::Data(Data::Binary), false, text.as_bytes().to_vec())
        );
    }

    #[tokio::test]
    async fn a_bomb_or_garbage_fails_the_read_and_bad_bits_are_left_to_tungstenite() {
        let zeros = vec![0u8; 100_000];
        let packed = compress(&zeros).unwrap();
        assert!(packed.len() < 1000);
        let mut wire = Vec::new();
        frame(&mut wire, true, true, OpCode::Data(Data::Binary), &packed);
        let e = through(wire, 10_000).await.unwrap_err();
        assert!(e.to_string().contains("max_message_size"), "{e}");

        let mut wire = Vec::new();
        frame(&mut wire, true, true, OpCode::Data(Data::Text), &[0xff; 40]);
        let e = through(wire, 10_000).await.unwrap_err();
        assert!(e.to_string().contains("does not inflate"), "{e}");

        // RSV1 on a control frame: passed on as it is, for tungstenite to refuse.
        let mut wire = Vec::new();
        frame(
            &mut wire,
            true,
            true,
            OpCode::Control(tokio_tungstenite::tungstenite::protocol::frame::coding::Control::Ping),
            b"x",
        );
        let got = frames(&through(wire, 10_000).await.unwrap());
        assert!(got[0].1, "RSV1 kept");
    }

    #[tokio::test]
    async fn without_the_extension_bytes_are_forwarded_untouched() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut wire = Vec::new();
        frame(
            &mut wire,
            true,
            true,
            OpCode::Data(Data::Text),
            b"not really compressed",
        );
        let sent = wire.clone();
        tokio::spawn(async move { client.write_all(&wire).await });
        let mut got = Vec::new();
        Inflating::new(server, false, 1 << 20)
            .read_to_end(&mut got)
            .await
            .unwrap();
        assert_eq!(got, sent);
    }

    /// Arbitrary bytes, and frames with random headers and payloads, end in
    /// bytes or an error: never a panic, never more than the bound.
    #[tokio::test]
    async fn random_input_never_panics() {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..300 {
            let len = (next() % 300) as usize;
            let mut wire: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 2 == 0 {
                // A plausible compressed frame first: RSV1 text, masked.
                let payload: Vec<u8> = (0..(next() % 64)).map(|_| next() as u8).collect();
                let mut framed = Vec::new();
                frame(
                    &mut framed,
                    next() % 3 != 0,
                    true,
                    OpCode::Data(Data::Text),
                    &payload,
                );
                framed.extend_from_slice(&wire);
                wire = framed;
            }
            if let Ok(out) = through(wire, 1000).await {
                assert!(out.len() <= 1000 + 14 + len + 80, "{}", out.len());
            }
        }
    }
}
