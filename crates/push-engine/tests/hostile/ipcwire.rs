//! The local socket's wire for the battery: frames built by hand, answers
//! read back, the second (well-behaved) worker, and an engine serving
//! `push.socket` next to `push.listen` with the same hub.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BufMut;
use push_engine::hub::Cursor;
use push_engine::ipc::{self, client::Client};
use push_engine::Outgoing;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::common::*;
use crate::harness::*;

/// `push.max_message_size` of this engine: frames may carry it plus
/// [`ipc::FRAME_OVERHEAD`].
pub const MAX: usize = 4096;

/// What a raw connection must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Got {
    /// Closed without an answer.
    Closed,
    /// An ERROR answer with this code; the connection stays usable.
    Error(u8),
    /// An ERROR answer with this code, then the end of the connection.
    ErrorThenClosed(u8),
    /// These answers (their kinds), in order; the connection stays usable.
    Answers(&'static [u8], usize),
}

pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    ipc::frame(kind, |b| b.put_slice(payload)).to_vec()
}

pub fn with_len(len: u32, rest: &[u8]) -> Vec<u8> {
    let mut b = len.to_be_bytes().to_vec();
    b.extend_from_slice(rest);
    b
}

/// `u8` length + bytes, as the protocol writes strings.
pub fn s(bytes: &[u8]) -> Vec<u8> {
    let mut b = vec![bytes.len() as u8];
    b.extend_from_slice(bytes);
    b
}

pub fn publish(channel: &[u8], event: &[u8], data: &[u8]) -> Vec<u8> {
    frame(
        ipc::PUBLISH,
        &[s(channel), s(event), data.to_vec()].concat(),
    )
}

pub fn wait(channel: &[u8], cursor: &[u8], timeout_ms: Option<u32>) -> Vec<u8> {
    let mut p = [s(channel), cursor.to_vec()].concat();
    if let Some(ms) = timeout_ms {
        p.extend_from_slice(&ms.to_be_bytes());
    }
    frame(ipc::WAIT, &p)
}

/// Reads answer frames until `n` have come or the connection ends.
pub async fn answers(stream: &mut UnixStream, n: usize) -> (Vec<(u8, Vec<u8>)>, bool) {
    let mut out = Vec::new();
    loop {
        if out.len() == n {
            return (out, false);
        }
        let mut len = [0u8; 4];
        let read = tokio::time::timeout(T, stream.read_exact(&mut len))
            .await
            .expect("an answer or the end within T");
        if read.is_err() {
            return (out, true);
        }
        let len = u32::from_be_bytes(len) as usize;
        assert!(
            (1..=MAX + ipc::FRAME_OVERHEAD).contains(&len),
            "answer of {len} bytes"
        );
        let mut payload = vec![0u8; len];
        stream
            .read_exact(&mut payload)
            .await
            .expect("a whole answer");
        let kind = payload.remove(0);
        out.push((kind, payload));
    }
}

/// Checks the raw connection still answers: STATS gets STATS.
pub async fn still_usable(stream: &mut UnixStream, name: &str) {
    stream.write_all(&frame(ipc::STATS, b"")).await.unwrap();
    let (got, _) = answers(stream, 1).await;
    assert_eq!(
        got.first().map(|(k, _)| *k),
        Some(ipc::R_STATS),
        "{name}: still usable"
    );
}

/// The second worker: publishes on the sentinel channel (the sentinel
/// subscribers must get it) and waits for it through the socket.
pub struct Worker(Arc<Mutex<Client>>);

impl Worker {
    pub async fn check(&self, server: &Server, sentinel: &mut Sentinel, name: &str) {
        let client = self.0.clone();
        let text = format!("worker after {name}");
        let sent = text.clone();
        let waited = tokio::task::spawn_blocking(move || {
            let mut c = client.lock().unwrap();
            let id = c
                .publish(SENTINEL, &Outgoing::new(sent))
                .expect("the worker publishes");
            let before = push_engine::Id {
                offset: id.offset - 1,
                ..id
            };
            c.wait(SENTINEL, Cursor::After(before), T, &mut || {
                std::ops::ControlFlow::Continue(())
            })
            .expect("the worker waits")
        })
        .await
        .unwrap();
        let p = waited
            .publication
            .unwrap_or_else(|| panic!("{name}: the worker got nothing"));
        assert_eq!(p.data, text.as_bytes(), "{name}: the worker");
        sentinel.received(&text, name).await;
        server.wait_subscribers(SENTINEL_SUBS).await;
    }
}

pub fn random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// An engine with `push.socket` served too: the server, the socket path,
/// what stops the socket, the second worker and the sentinel.
pub async fn start(tag: &str) -> (Server, String, CancellationToken, Worker, Sentinel) {
    let server = Server::start_with(|c| {
        c.max_message_size = MAX;
        c.max_queue_bytes = 64 * 1024;
    })
    .await;
    let path = format!(
        "{}/push-hostile-{tag}-{}.sock",
        std::env::temp_dir().display(),
        std::process::id()
    );
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    tokio::spawn(ipc::server::run(
        listener,
        path.clone(),
        server.hub.clone(),
        cancel.clone(),
        tasks.clone(),
    ));
    let p = path.clone();
    let client =
        tokio::task::spawn_blocking(move || Client::connect(&p, Duration::from_secs(1), T))
            .await
            .unwrap()
            .expect("the worker connects");
    let worker = Worker(Arc::new(Mutex::new(client)));
    let sentinel = Sentinel::open(&server).await;
    (server, path, cancel, worker, sentinel)
}
