//! Well-behaved clients: each connects, checks that what it receives has
//! no gap and no duplicate, leaves, and starts again, until the soak stops.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::net::{self, follows, Rng};
use super::Shared;
use crate::sse;

pub fn spawn(shared: &Arc<Shared>) -> Vec<JoinHandle<()>> {
    let o = &shared.o;
    let mut tasks = Vec::new();
    let mut seed = 0u64;
    let mut rng = || {
        seed += 1;
        Rng::new(seed)
    };
    for _ in 0..o.ws {
        tasks.push(tokio::spawn(ws(shared.clone(), rng())));
    }
    for _ in 0..o.sse {
        tasks.push(tokio::spawn(sse(shared.clone(), rng())));
    }
    for _ in 0..o.poll {
        tasks.push(tokio::spawn(poll(shared.clone(), rng())));
    }
    for _ in 0..4 {
        tasks.push(tokio::spawn(publish(shared.clone(), rng())));
    }
    for _ in 0..2 {
        tasks.push(tokio::spawn(chat(shared.clone(), rng())));
    }
    tasks
}

fn channel(shared: &Shared, rng: &mut Rng) -> String {
    format!("soak{}", rng.below(shared.o.channels as u64))
}

/// A WebSocket subscriber in JSON mode, for a few seconds at a time.
async fn ws(shared: Arc<Shared>, mut rng: Rng) {
    while !shared.stopped() {
        let ch = channel(&shared, &mut rng);
        let url = format!("ws://{}/ws/{ch}?format=json", shared.o.addr);
        let mut socket = match crate::ws::connect(&url).await {
            Ok(s) => s,
            Err(e) => {
                shared.error("ws", format!("connect: {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let until = Instant::now() + rng.millis(500, 3000);
        let (mut prev, mut n) = (None, 0);
        let result: Result<(), String> = loop {
            match tokio::time::timeout_at(until, socket.next()).await {
                Err(_) => break Ok(()),
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
                    if v["type"] == "lost" {
                        break Err(format!("lost: {t}"));
                    }
                    let Some(id) = v["id"].as_str().and_then(net::id) else {
                        break Err(format!("an envelope without an id: {t}"));
                    };
                    if let Err(e) = follows(prev, id) {
                        break Err(e);
                    }
                    prev = Some(id);
                    n += 1;
                }
                Ok(Some(Ok(Message::Close(f)))) => {
                    break Err(format!("closed by the engine: {f:?}"))
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(e))) => break Err(e.to_string()),
                Ok(None) => break Err("the connection ended".into()),
            }
        };
        match result {
            Ok(()) => shared.ok("ws", n),
            Err(e) => shared.error("ws", e),
        }
        // Half leave with a close handshake, half just go away.
        if rng.below(2) == 0 {
            let _ = socket.send(Message::Close(None)).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Some(Ok(_)) = socket.next().await {}
            })
            .await;
        }
    }
}

/// An SSE subscriber; a third of its sessions resume from the last id of
/// the one before, and must continue exactly after it.
async fn sse(shared: Arc<Shared>, mut rng: Rng) {
    let mut last: Option<(String, String)> = None;
    while !shared.stopped() {
        let resume = last.take().filter(|_| rng.below(3) == 0);
        let ch = match &resume {
            Some((ch, _)) => ch.clone(),
            None => channel(&shared, &mut rng),
        };
        let cursor = resume.as_ref().map(|(_, id)| id.as_str());
        let mut stream =
            match sse::Stream::connect(&shared.o.addr, &format!("/sse/{ch}"), cursor).await {
                Ok(s) => s,
                Err(e) => {
                    shared.error("sse", format!("connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
        let until = Instant::now() + rng.millis(500, 3000);
        let mut prev = cursor.and_then(net::id);
        let mut n = 0;
        let result: Result<(), String> = loop {
            match tokio::time::timeout_at(until, stream.next_event()).await {
                Err(_) => break Ok(()),
                Ok(Ok(Some(e))) if e.event.is_some() => {
                    break Err(format!("event {:?}: {}", e.event, e.data))
                }
                Ok(Ok(Some(e))) => {
                    let Some(id) = e.id.as_deref().and_then(net::id) else {
                        break Err(format!("an event without an id: {e:?}"));
                    };
                    if let Err(err) = follows(prev, id) {
                        break Err(err);
                    }
                    prev = Some(id);
                    last = e.id.map(|i| (ch.clone(), i));
                    n += 1;
                }
                Ok(Ok(None)) => break Err("the stream ended".into()),
                Ok(Err(e)) => break Err(e.to_string()),
            }
        };
        match result {
            Ok(()) => shared.ok("sse", n),
            Err(e) => shared.error("sse", e),
        }
    }
}

/// A long-poll loop on one channel at a time, following its cursor.
async fn poll(shared: Arc<Shared>, mut rng: Rng) {
    while !shared.stopped() {
        let ch = channel(&shared, &mut rng);
        let mut cursor: Option<String> = None;
        let mut prev = None;
        for _ in 0..rng.below(20) + 1 {
            if shared.stopped() {
                break;
            }
            let path = match &cursor {
                Some(c) => format!("/poll/{ch}?since={c}&timeout=1"),
                None => format!("/poll/{ch}?timeout=0"),
            };
            let v: serde_json::Value = match net::get(&shared.o.addr, &path).await {
                Ok((200, body)) => serde_json::from_slice(&body).unwrap_or_default(),
                Ok((status, body)) => {
                    shared.error(
                        "poll",
                        format!("{path}: {status} {}", String::from_utf8_lossy(&body)),
                    );
                    break;
                }
                Err(e) => {
                    shared.error("poll", format!("{path}: {e}"));
                    break;
                }
            };
            if v["lost"] != false {
                shared.error("poll", format!("{path}: {v}"));
                break;
            }
            let mut bad = None;
            let messages = v["messages"].as_array().cloned().unwrap_or_default();
            for m in &messages {
                match m["id"].as_str().and_then(net::id) {
                    Some(id) => {
                        if let Err(e) = follows(prev, id) {
                            bad = Some(e);
                        }
                        prev = Some(id);
                    }
                    None => bad = Some(format!("a message without an id: {m}")),
                }
            }
            if let Some(e) = bad {
                shared.error("poll", e);
                break;
            }
            if prev.is_none() {
                prev = v["cursor"].as_str().and_then(net::id);
            }
            cursor = v["cursor"].as_str().map(str::to_owned);
            shared.ok("poll", messages.len() as u64);
        }
    }
}

/// Publishes over HTTP, its share of `--rate`.
async fn publish(shared: Arc<Shared>, mut rng: Rng) {
    let every = Duration::from_secs_f64(4.0 / shared.o.rate.max(0.01));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut i = 0u64;
    while !shared.stopped() {
        tick.tick().await;
        let ch = channel(&shared, &mut rng);
        i += 1;
        let body = format!("soak {i} {}", "x".repeat(rng.below(512) as usize));
        match net::post(&shared.o.addr, &format!("/publish/{ch}"), body.as_bytes()).await {
            Ok((200, _)) => shared.ok("publish", 1),
            Ok((status, body)) => shared.error(
                "publish",
                format!("{status} {}", String::from_utf8_lossy(&body)),
            ),
            Err(e) => shared.error("publish", e),
        }
    }
}

/// A WebSocket client publishing on `soak-chat` (client publishing is on
/// for it) and reading what everyone there says.
async fn chat(shared: Arc<Shared>, mut rng: Rng) {
    while !shared.stopped() {
        let url = format!("ws://{}/ws/soak-chat", shared.o.addr);
        let mut socket = match crate::ws::connect(&url).await {
            Ok(s) => s,
            Err(e) => {
                shared.error("ws-chat", format!("connect: {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let until = Instant::now() + rng.millis(3000, 8000);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let (mut sent, mut got) = (0u64, 0u64);
        let result: Result<(), String> = loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break Ok(()),
                _ = tick.tick() => {
                    sent += 1;
                    if let Err(e) = socket.send(Message::text(format!("chat {sent}"))).await {
                        break Err(e.to_string());
                    }
                }
                m = socket.next() => match m {
                    Some(Ok(Message::Text(_))) => got += 1,
                    Some(Ok(Message::Close(f))) => break Err(format!("closed by the engine: {f:?}")),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Err(e.to_string()),
                    None => break Err("the connection ended".into()),
                },
            }
        };
        match result {
            Ok(()) if got >= sent.saturating_sub(4) => shared.ok("ws-chat", got),
            Ok(()) => shared.error("ws-chat", format!("sent {sent}, got back {got}")),
            Err(e) => shared.error("ws-chat", e),
        }
        let _ = socket.send(Message::Close(None)).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = socket.next().await {}
        })
        .await;
    }
}
