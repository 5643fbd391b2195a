//! Subscribers of the broker tests (redis.rs, redis_outage.rs): a
//! WebSocket, SSE or long-poll client in a task of its own, recording the
//! ids and data it receives and the loss signals.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::*;

/// What one subscriber received: ids and data in arrival order, and how
/// many loss signals.
#[derive(Debug, Default, Clone)]
pub struct Record {
    pub ids: Vec<String>,
    pub data: Vec<String>,
    pub lost: usize,
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Ws,
    Sse,
    Poll,
}

/// A subscriber running in a task, recording into a shared [`Record`].
pub struct Subscriber {
    pub kind: Kind,
    record: Arc<Mutex<Record>>,
    task: JoinHandle<()>,
}

impl Subscriber {
    /// Connects and returns once the engine counts the subscription.
    pub async fn start(kind: Kind, server: &Server, channel: &str) -> Subscriber {
        let before = server.hub.stats().subscribers;
        let record = Arc::new(Mutex::new(Record::default()));
        let task = match kind {
            Kind::Ws => {
                let ws = ws_open(server.addr, &format!("/ws/{channel}?format=json")).await;
                tokio::spawn(ws_loop(ws, record.clone()))
            }
            Kind::Sse => {
                let sse = sse_open(server.addr, &format!("/sse/{channel}"), &[]).await;
                assert_eq!(sse.status, 200);
                tokio::spawn(sse_loop(sse, record.clone()))
            }
            Kind::Poll => {
                // The first poll starts live: ask for the head's id first.
                let head = get(server.addr, &format!("/poll/{channel}?timeout=0")).await;
                let cursor = head.json()["cursor"].as_str().unwrap().to_owned();
                tokio::spawn(poll_loop(
                    server.addr,
                    channel.to_owned(),
                    cursor,
                    record.clone(),
                ))
            }
        };
        if !matches!(kind, Kind::Poll) {
            server.wait_subscribers(before + 1).await;
        }
        Subscriber { kind, record, task }
    }

    pub fn record(&self) -> Record {
        self.record.lock().unwrap().clone()
    }

    /// Waits until it holds `n` messages (or fails after `within`).
    pub async fn wait_for(&self, n: usize, within: Duration) -> Record {
        let started = Instant::now();
        loop {
            let r = self.record();
            if r.data.len() >= n {
                return r;
            }
            assert!(
                started.elapsed() < within,
                "{:?} subscriber: {} of {n} messages after {within:?} ({} lost signals)",
                self.kind,
                r.data.len(),
                r.lost
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn ws_loop(mut ws: Ws, record: Arc<Mutex<Record>>) {
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(text) = msg else { continue };
        let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
        let mut r = record.lock().unwrap();
        if v["type"] == "lost" {
            r.lost += 1;
        } else {
            r.ids.push(v["id"].as_str().unwrap().to_owned());
            r.data.push(v["data"].as_str().unwrap().to_owned());
        }
    }
}

async fn sse_loop(mut sse: Sse, record: Arc<Mutex<Record>>) {
    while let Some(item) = sse.next().await {
        let SseItem::Event(e) = item else { continue };
        let mut r = record.lock().unwrap();
        if e.event.as_deref() == Some("push-lost") {
            r.lost += 1;
        } else {
            r.ids.push(e.id.clone().unwrap());
            r.data.push(e.data().to_owned());
        }
    }
}

async fn poll_loop(
    addr: SocketAddr,
    channel: String,
    mut cursor: String,
    record: Arc<Mutex<Record>>,
) {
    loop {
        let path = format!("/poll/{channel}?since={}&timeout=1", enc(&cursor));
        let answer = get(addr, &path).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let v = answer.json();
        let mut r = record.lock().unwrap();
        if v["lost"] == true {
            r.lost += 1;
        }
        for m in v["messages"].as_array().unwrap() {
            r.ids.push(m["id"].as_str().unwrap().to_owned());
            r.data.push(m["data"].as_str().unwrap().to_owned());
        }
        cursor = v["cursor"].as_str().unwrap().to_owned();
    }
}

/// `(epoch, offset)` of an id's text form.
pub fn parts(id: &str) -> (String, u64) {
    let (epoch, offset) = id.split_once('-').unwrap();
    (epoch.to_owned(), offset.parse().unwrap())
}

pub fn assert_consecutive(ids: &[String], what: &str) {
    for w in ids.windows(2) {
        let (a, b) = (parts(&w[0]), parts(&w[1]));
        assert!(
            a.0 == b.0 && a.1 + 1 == b.1,
            "{what}: {} then {} are not consecutive",
            w[0],
            w[1]
        );
    }
}
