//! Hostile clients, one kind after another, each checked for the refusal
//! it is due: garbage (400 or closed), a slow head (held, then given up),
//! a body over the limit (413), a bad cursor (400), a huge header (431), an
//! unmasked frame (dropped, no close frame), a text frame that is not
//! UTF-8 (close 1007), a ping flood (answered, closes cleanly), a silent
//! WebSocket (dropped by the engine or given up), garbage on the local
//! socket (closed).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::task::JoinHandle;

use super::net::{self, Rng};
use super::Shared;

pub const KINDS: &[&str] = &[
    "garbage",
    "slow-head",
    "oversized",
    "bad-cursor",
    "huge-header",
    "unmasked",
    "bad-utf8",
    "ping-flood",
    "silent-ws",
    "ipc-garbage",
];

pub fn spawn(shared: &Arc<Shared>) -> Vec<JoinHandle<()>> {
    (0..shared.o.hostile)
        .map(|i| {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut rng = Rng::new(1000 + i as u64);
                let mut k = i;
                while !shared.stopped() {
                    let kind = KINDS[k % KINDS.len()];
                    k += 1;
                    match one(&shared, kind, &mut rng).await {
                        Ok(()) => shared.ok(kind, 0),
                        Err(e) => shared.error(kind, e),
                    }
                    tokio::time::sleep(rng.millis(10, 200)).await;
                }
            })
        })
        .collect()
}

const UPGRADE: &str = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

/// A masked client frame.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    if payload.len() < 126 {
        f.push(0x80 | payload.len() as u8);
    } else {
        f.push(0x80 | 126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    let key = [7u8, 1, 9, 3];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

/// Everything the engine sends until it closes (within 10 s).
async fn drain<S: AsyncReadExt + Unpin>(s: &mut S) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    let read = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .map_err(|_| "not closed within 10 s".to_string())?;
    Ok(raw)
}

/// Opens a WebSocket by hand; the stream after the 101.
async fn upgrade(addr: &str, path: &str) -> Result<TcpStream, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: soak\r\n{UPGRADE}\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut byte)).await {
            Ok(Ok(1)) => head.push(byte[0]),
            _ => return Err("no upgrade".into()),
        }
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(format!(
            "upgrade refused: {}",
            String::from_utf8_lossy(&head)
        ));
    }
    Ok(s)
}

/// The close code of the first close frame in `raw` (server frames).
fn close_code(raw: &[u8]) -> Option<u16> {
    let mut at = 0;
    while at + 2 <= raw.len() {
        let (op, len) = (raw[at] & 0xf, (raw[at + 1] & 0x7f) as usize);
        let (len, start) = match len {
            126 if at + 4 <= raw.len() => (
                u16::from_be_bytes([raw[at + 2], raw[at + 3]]) as usize,
                at + 4,
            ),
            126 | 127 => return None,
            n => (n, at + 2),
        };
        if op == 0x8 && len >= 2 && start + 2 <= raw.len() {
            return Some(u16::from_be_bytes([raw[start], raw[start + 1]]));
        }
        at = start + len;
    }
    None
}

async fn one(shared: &Shared, kind: &str, rng: &mut Rng) -> Result<(), String> {
    let addr = shared.o.addr.as_str();
    let expect = |status: u16, want: u16| {
        if status == want {
            Ok(())
        } else {
            Err(format!("{status}, not {want}"))
        }
    };
    match kind {
        "garbage" => {
            let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            let n = rng.below(4096) as usize + 16;
            let mut bytes = rng.bytes(n);
            bytes[0] = b'\x01'; // never a method
            let _ = s.write_all(&bytes).await;
            let raw = drain(&mut s).await?;
            if raw.is_empty() || raw.starts_with(b"HTTP/1.1 400") {
                Ok(())
            } else {
                Err(format!(
                    "answered {:?}",
                    String::from_utf8_lossy(&raw[..raw.len().min(40)])
                ))
            }
        }
        "slow-head" => {
            let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            let head = b"GET /sse/soak0 HTTP/1.1\r\nHost: soak\r\nX-Slow: ";
            for chunk in head.chunks(8) {
                if s.write_all(chunk).await.is_err() {
                    return Ok(()); // closed by the engine: fine too
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Ok(())
        }
        "oversized" => {
            let body = vec![b'o'; 64 * 1024 + 1];
            let (status, _) = net::post(addr, "/publish/soak-big", &body).await?;
            expect(status, 413)
        }
        "bad-cursor" => {
            let (status, _) = net::get(addr, "/sse/soak0?lastEventId=zz-top").await?;
            expect(status, 400)
        }
        "huge-header" => {
            let head = format!(
                "GET /health HTTP/1.1\nHost: soak\nConnection: close\nX-Big: {}\n\n",
                // Twice push.max_header_size (16K): small enough that the
                // whole head is written before the engine answers 431 and
                // closes (a larger one meets a reset while writing).
                "h".repeat(32 * 1024)
            );
            let (status, _) = net::request(addr, &head, b"").await?;
            expect(status, 431)
        }
        "unmasked" => {
            let mut s = upgrade(addr, "/ws/soak0").await?;
            let _ = s.write_all(&[0x81, 0x02, b'h', b'i']).await;
            let raw = drain(&mut s).await?;
            match close_code(&raw) {
                None => Ok(()),
                Some(code) => Err(format!("close {code}, not dropped")),
            }
        }
        "bad-utf8" => {
            let mut s = upgrade(addr, "/ws/soak0").await?;
            let _ = s.write_all(&frame(0x1, b"\xff\xfe")).await;
            let raw = drain(&mut s).await?;
            match close_code(&raw) {
                Some(1007) => Ok(()),
                other => Err(format!("close {other:?}, not 1007")),
            }
        }
        "ping-flood" => {
            let mut s = upgrade(addr, "/ws/soak0").await?;
            let flood: Vec<u8> = (0..2000).flat_map(|_| frame(0x9, b"flood")).collect();
            let _ = s.write_all(&flood).await;
            let _ = s.write_all(&frame(0x8, &1000u16.to_be_bytes())).await;
            let raw = drain(&mut s).await?;
            match close_code(&raw) {
                Some(1000) => Ok(()),
                other => Err(format!("close {other:?}, not the echoed 1000")),
            }
        }
        "silent-ws" => {
            let s = upgrade(addr, "/ws/soak0").await?;
            tokio::time::sleep(rng.millis(500, 3000)).await;
            drop(s);
            Ok(())
        }
        "ipc-garbage" => {
            let mut s = UnixStream::connect(&shared.o.socket)
                .await
                .map_err(|e| e.to_string())?;
            let n = rng.below(2048) as usize + 4;
            let _ = s.write_all(&rng.bytes(n)).await;
            let _ = s.shutdown().await;
            drain(&mut s).await.map(|_| ())
        }
        other => Err(format!("unknown kind {other}")),
    }
}
