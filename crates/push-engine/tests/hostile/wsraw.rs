//! Raw WebSocket frames for the battery: client frames built byte by byte
//! (any bits, opcode, mask and declared length), server frames parsed, and
//! a raw upgraded connection read to its end.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::common::*;

pub const CONT: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// A client frame: `fin`, reserved bits (`rsv` in the low 3 bits:
/// RSV1 = 4, RSV2 = 2, RSV3 = 1), `opcode`, masked unless `mask` is None.
pub fn frame_raw(fin: bool, rsv: u8, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    frame_len(fin, rsv, opcode, mask, payload, payload.len() as u64)
}

/// As [`frame_raw`], but the header declares `declared` bytes.
pub fn frame_len(
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: &[u8],
    declared: u64,
) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | ((rsv & 7) << 4) | (opcode & 0xf)];
    let m = if mask.is_some() { 0x80 } else { 0 };
    if declared < 126 {
        f.push(m | declared as u8);
    } else if declared <= 0xffff {
        f.push(m | 126);
        f.extend_from_slice(&(declared as u16).to_be_bytes());
    } else {
        f.push(m | 127);
        f.extend_from_slice(&declared.to_be_bytes());
    }
    match mask {
        Some(key) => {
            f.extend_from_slice(&key);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

/// A final, masked client frame.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_raw(true, 0, opcode, Some([0x37, 0xfa, 0x21, 0x3d]), payload)
}

/// A masked close frame with `code` and `reason` bytes.
pub fn close_frame(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    frame(CLOSE, &payload)
}

/// A frame from the server (never masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFrame {
    pub opcode: u8,
    pub fin: bool,
    pub payload: Vec<u8>,
}

impl ServerFrame {
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// Splits whole server frames off the front of `raw`.
pub fn server_frames(raw: &mut Vec<u8>) -> Vec<ServerFrame> {
    let mut out = Vec::new();
    loop {
        if raw.len() < 2 {
            return out;
        }
        assert_eq!(raw[1] & 0x80, 0, "a server frame is never masked");
        let (len, at) = match raw[1] & 0x7f {
            126 if raw.len() >= 4 => (u16::from_be_bytes([raw[2], raw[3]]) as usize, 4),
            127 if raw.len() >= 10 => (
                u64::from_be_bytes(raw[2..10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => return out,
            n => (n as usize, 2),
        };
        if raw.len() < at + len {
            return out;
        }
        out.push(ServerFrame {
            opcode: raw[0] & 0xf,
            fin: raw[0] & 0x80 != 0,
            payload: raw[at..at + len].to_vec(),
        });
        raw.drain(..at + len);
    }
}

/// A raw upgraded WebSocket: the stream and what it has received.
pub struct RawWs {
    pub stream: TcpStream,
    raw: Vec<u8>,
    pub frames: Vec<ServerFrame>,
}

/// How a raw WebSocket ended.
#[derive(Debug, PartialEq, Eq)]
pub enum WsEnd {
    /// A close frame with this code, then the end of the connection.
    Close(u16),
    /// The end of the connection without a close frame (pings and pongs
    /// may come before).
    Dropped,
}

impl RawWs {
    pub async fn open(addr: SocketAddr, path: &str) -> RawWs {
        let (stream, raw) = raw_upgrade(addr, path).await;
        RawWs {
            stream,
            raw,
            frames: Vec::new(),
        }
    }

    /// Writes bytes; the server may have closed already.
    pub async fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// Reads until the next frame that is not a ping.
    pub async fn next_frame(&mut self) -> Option<ServerFrame> {
        let mut buf = vec![0u8; 65536];
        loop {
            self.frames.extend(server_frames(&mut self.raw));
            if let Some(i) = self.frames.iter().position(|f| f.opcode != PING) {
                let f = self.frames.remove(i);
                return Some(f);
            }
            match timeout(T, self.stream.read(&mut buf))
                .await
                .expect("a frame within T")
            {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Reads to the end of the connection (within [`T`]); how it ended.
    pub async fn end(&mut self) -> WsEnd {
        let mut buf = vec![0u8; 65536];
        loop {
            match timeout(T, self.stream.read(&mut buf))
                .await
                .expect("the connection ends within T")
            {
                Ok(0) | Err(_) => break,
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
            }
        }
        self.frames.extend(server_frames(&mut self.raw));
        let closes: Vec<&ServerFrame> = self.frames.iter().filter(|f| f.opcode == CLOSE).collect();
        match closes.as_slice() {
            [] => {
                let others: Vec<_> = self
                    .frames
                    .iter()
                    .filter(|f| f.opcode != PING && f.opcode != PONG)
                    .collect();
                assert!(others.is_empty(), "frames before the drop: {others:?}");
                WsEnd::Dropped
            }
            // 1005: a close frame without a code (RFC 6455 7.1.5).
            [close] => WsEnd::Close(close.close_code().unwrap_or(1005)),
            many => panic!("several close frames: {many:?}"),
        }
    }
}
