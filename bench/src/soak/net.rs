//! Small raw-HTTP helpers for the soak, and a random source.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A status and body, from a request on its own connection
/// (`Connection: close`).
pub async fn request(addr: &str, head: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let exchange = async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let mut req = head.replace("\n", "\r\n").into_bytes();
        req.extend_from_slice(body);
        s.write_all(&req).await.map_err(|e| format!("write: {e}"))?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| format!("no response head: {:?}", String::from_utf8_lossy(&raw)))?;
        let status = std::str::from_utf8(&raw[..end])
            .ok()
            .and_then(|h| h.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or("no status")?;
        Ok((status, raw[end + 4..].to_vec()))
    };
    tokio::time::timeout(Duration::from_secs(15), exchange)
        .await
        .map_err(|_| "no answer within 15 s".to_string())?
}

pub async fn get(addr: &str, path: &str) -> Result<(u16, Vec<u8>), String> {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\nHost: soak\nConnection: close\n\n"),
        b"",
    )
    .await
}

pub async fn post(addr: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let head = format!(
        "POST {path} HTTP/1.1\nHost: soak\nConnection: close\nContent-Length: {}\n\n",
        body.len()
    );
    request(addr, &head, body).await
}

/// Waits until the engine counts no connection on any transport (but the
/// local socket's, with `except_ipc`: PHP workers come and go on their own).
pub async fn wait_idle(addr: &str, within: Duration, except_ipc: bool) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + within;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        if let Ok((200, body)) = get(addr, "/metrics").await {
            let text = String::from_utf8_lossy(&body);
            let open: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("push_connections{") && !l.ends_with(" 0"))
                .filter(|l| !(except_ipc && l.contains("\"ipc\"")))
                .collect();
            if open.is_empty() {
                return Ok(());
            }
            last = open.join(", ");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!(
        "connections still open {within:?} after the load: {last}"
    ))
}

/// xorshift64*: enough randomness for load shapes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A duration between `min` and `max` milliseconds.
    pub fn millis(&mut self, min: u64, max: u64) -> Duration {
        Duration::from_millis(min + self.below(max - min + 1))
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// An id's (epoch, offset), from its text.
pub fn id(text: &str) -> Option<(u64, u64)> {
    let (e, o) = text.split_once('-')?;
    Some((u64::from_str_radix(e, 16).ok()?, o.parse().ok()?))
}

/// Checks that `next` follows `prev` with no gap and no duplicate.
pub fn follows(prev: Option<(u64, u64)>, next: (u64, u64)) -> Result<(), String> {
    match prev {
        Some(p) if p.0 == next.0 && p.1 + 1 != next.1 => Err(format!(
            "{:x}-{} after {:x}-{}: a gap or a duplicate",
            next.0, next.1, p.0, p.1
        )),
        Some(p) if p.0 > next.0 => Err("an older epoch".into()),
        _ => Ok(()),
    }
}
