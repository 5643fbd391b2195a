//! `push-loadgen bench`: N subscribers over one transport against push or
//! nchan, M publications over HTTP carrying a sequence number and a send
//! time, and the figures: connected/failed, delivered/expected, lost and
//! duplicated, latency percentiles, delivered msgs/s, server CPU and RSS.
//!
//! Subscriber `j` listens on channel `bench{j % C}`; publication `i` goes to
//! channel `bench{i % C}` with the body `"{i} {µs since start}"` padded to
//! `--size`. Every wait is bounded by `--timeout`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::stats::{cpu_times, rss_kb, Histogram};
use crate::{pusher, sse};

mod poll;

#[derive(Debug, Clone)]
pub struct Options {
    pub server: String,
    pub addr: String,
    /// Where publications go, when not to `addr` (another engine sharing
    /// the channels through a broker).
    pub publish_addr: Option<String>,
    pub transport: String,
    pub subscribers: usize,
    pub channels: usize,
    pub messages: usize,
    pub rate: f64,
    pub duration: Duration,
    pub size: usize,
    pub pids: Vec<u32>,
    pub idle: bool,
    pub timeout: Duration,
    /// With `rate` 0: publication `i` waits until the deliveries of the
    /// publications before `i - window` arrived (0: no wait). Keeps a
    /// publisher that does not share the subscribers' engine from running
    /// ahead of their fan-out.
    pub window: usize,
    /// Publishing tasks, each waiting for its last publish to be answered
    /// (0: one at a rate, four as fast as possible).
    pub publishers: usize,
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    /// Deliveries per sequence number of its channel (index i / C).
    counts: Vec<u16>,
    latency: Histogram,
    last: Option<Instant>,
}

struct Shared {
    start: Instant,
    stop: AtomicBool,
    delivered: AtomicU64,
}

fn channel(i: usize, channels: usize) -> String {
    format!("bench{}", i % channels)
}

fn paths(o: &Options, ch: &str) -> (String, String) {
    match (o.server.as_str(), o.transport.as_str()) {
        ("nchan", _) => (format!("/sub/{ch}"), format!("/pub/{ch}")),
        (_, "ws") => (format!("/ws/{ch}"), format!("/publish/{ch}")),
        (_, "sse") => (format!("/sse/{ch}"), format!("/publish/{ch}")),
        // The Pusher protocol 7 as pusher-js speaks it; push's own publish.
        (_, "pusher") => (
            format!(
                "/app/{}?protocol=7&client=js&version=8.4.0&flash=false",
                pusher::KEY
            ),
            format!("/publish/{ch}"),
        ),
        // A Mercure subscriber of the topic `ch` (push.mercure_channels:
        // push's publication on channel `ch` is an update of topic `ch`).
        (_, "mercure") => (
            format!("/.well-known/mercure?topic={ch}"),
            format!("/publish/{ch}"),
        ),
        _ => (format!("/poll/{ch}"), format!("/publish/{ch}")),
    }
}

/// Parses `"{seq} {µs}..."`.
fn parse(data: &[u8]) -> Option<(usize, u64)> {
    let s = std::str::from_utf8(data.get(..data.len().min(48))?).ok()?;
    let mut it = s.split([' ', 'x']);
    let seq = it.next()?.parse().ok()?;
    let sent = it.next()?.parse().ok()?;
    Some((seq, sent))
}

fn record(shared: &Shared, seen: &Mutex<Seen>, channels: usize, data: &[u8]) {
    let Some((seq, sent)) = parse(data) else {
        return;
    };
    let now = shared.start.elapsed().as_micros() as u64;
    let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
    let idx = seq / channels;
    if s.counts.len() <= idx {
        s.counts.resize(idx + 1, 0);
    }
    s.counts[idx] = s.counts[idx].saturating_add(1);
    s.latency.record(now.saturating_sub(sent));
    s.last = Some(Instant::now());
    drop(s);
    shared.delivered.fetch_add(1, Ordering::Relaxed);
}

pub async fn run(o: Options) -> Result<serde_json::Value, String> {
    raise_fd_limit();
    let shared = Arc::new(Shared {
        start: Instant::now(),
        stop: AtomicBool::new(false),
        delivered: AtomicU64::new(0),
    });
    let rss_before: u64 = o.pids.iter().map(|p| rss_kb(*p)).sum();
    let connected = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let connecting = Arc::new(Semaphore::new(256));
    let mut seens = Vec::with_capacity(o.subscribers);
    let mut tasks = Vec::with_capacity(o.subscribers);
    for j in 0..o.subscribers {
        let seen = Arc::new(Mutex::new(Seen::default()));
        seens.push((j % o.channels, seen.clone()));
        let (o2, shared2, connected2, failed2, connecting2) = (
            o.clone(),
            shared.clone(),
            connected.clone(),
            failed.clone(),
            connecting.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let ch = channel(j, o2.channels);
            let ok = subscriber(&o2, &ch, &shared2, &seen, &connecting2, &connected2).await;
            if ok.is_err() {
                failed2.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // All connected (or failed) before anything is published.
    let deadline = Instant::now() + o.timeout;
    while (connected.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed))
        < o.subscribers as u64
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Long-poll subscribers and WebSocket handshakes settle a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_by_pid: Vec<u64> = o.pids.iter().map(|p| rss_kb(*p)).collect();
    let rss_connected: u64 = rss_by_pid.iter().sum();
    let cpu_start: Vec<(f64, f64)> = o.pids.iter().map(|p| cpu_times(*p)).collect();
    let publish_start = Instant::now();
    let published = if o.idle {
        0
    } else {
        let connected = connected.load(Ordering::Relaxed);
        publish(&o, &shared, connected).await?
    };
    // Drain: until everything expected arrived, or nothing arrived for 3 s.
    let expected: u64 = seens
        .iter()
        .map(|(ch, _)| (0..published).filter(|i| i % o.channels == *ch).count() as u64)
        .sum();
    let mut last = (shared.delivered.load(Ordering::Relaxed), Instant::now());
    let deadline = Instant::now() + o.timeout;
    while shared.delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = shared.delivered.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let times_by_pid: Vec<(f64, f64)> = o
        .pids
        .iter()
        .zip(&cpu_start)
        .map(|(p, start)| {
            let now = cpu_times(*p);
            (now.0 - start.0, now.1 - start.1)
        })
        .collect();
    let cpu_by_pid: Vec<f64> = times_by_pid.iter().map(|(u, s)| u + s).collect();
    let cpu: f64 = cpu_by_pid.iter().sum();
    let cpu_sys: f64 = times_by_pid.iter().map(|(_, s)| s).sum();
    shared.stop.store(true, Ordering::SeqCst);
    for t in &tasks {
        t.abort();
    }
    let mut hist = Histogram::default();
    let (mut delivered, mut lost, mut duplicated) = (0u64, 0u64, 0u64);
    let mut last_delivery = publish_start;
    for (ch, seen) in &seens {
        let s = seen.lock().unwrap_or_else(|e| e.into_inner());
        hist.merge(&s.latency);
        if let Some(t) = s.last {
            last_delivery = last_delivery.max(t);
        }
        for i in (0..published).filter(|i| i % o.channels == *ch) {
            match s.counts.get(i / o.channels).copied().unwrap_or(0) {
                0 => lost += 1,
                n => {
                    delivered += 1;
                    duplicated += u64::from(n - 1);
                }
            }
        }
    }
    let span = last_delivery
        .duration_since(publish_start)
        .as_secs_f64()
        .max(1e-3);
    let connected = connected.load(Ordering::Relaxed);
    let ms = |us: u64| (us as f64 / 1000.0 * 100.0).round() / 100.0;
    let per_msg = |cpu: f64| {
        if delivered > 0 {
            (cpu * 1e6 / delivered as f64 * 100.0).round() / 100.0
        } else {
            0.0
        }
    };
    Ok(serde_json::json!({
        "server": o.server,
        "transport": o.transport,
        "addr": o.addr,
        "publish_addr": o.publish_addr.as_deref().unwrap_or(&o.addr),
        "subscribers": o.subscribers,
        "channels": o.channels,
        "connected": connected,
        "failed": failed.load(Ordering::Relaxed),
        "published": published,
        "expected": expected,
        "delivered": delivered,
        "lost": lost,
        "duplicated": duplicated,
        "p50_ms": ms(hist.quantile(0.50)),
        "p95_ms": ms(hist.quantile(0.95)),
        "p99_ms": ms(hist.quantile(0.99)),
        "max_ms": ms(hist.max()),
        "msgs_per_s": (delivered as f64 / span).round(),
        "cpu_s": (cpu * 1000.0).round() / 1000.0,
        "cpu_us_per_msg": per_msg(cpu),
        // The kernel's part of cpu_s (system time).
        "cpu_sys_s": (cpu_sys * 1000.0).round() / 1000.0,
        "cpu_sys_us_per_msg": per_msg(cpu_sys),
        // And the rest, in user space.
        "cpu_user_us_per_msg": per_msg(cpu - cpu_sys),
        // Per process, in the order of --pids.
        "pids": o.pids,
        "cpu_s_by_pid": cpu_by_pid.iter().map(|c| (c * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
        "cpu_us_per_msg_by_pid": cpu_by_pid.iter().map(|c| per_msg(*c)).collect::<Vec<_>>(),
        "rss_after_kb_by_pid": rss_by_pid,
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_connected,
        "rss_per_conn_bytes": (rss_connected.saturating_sub(rss_before) * 1024).checked_div(connected).unwrap_or(0),
        "duration_s": (shared.start.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    }))
}

/// Publishes over HTTP (keep-alive); returns how many were published.
async fn publish(o: &Options, shared: &Arc<Shared>, connected: u64) -> Result<usize, String> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + if o.rate > 0.0 { o.timeout } else { o.duration };
    let limit = if o.rate > 0.0 || o.messages > 0 {
        o.messages as u64
    } else {
        u64::MAX
    };
    // As fast as possible: a few publishers in parallel; at a rate: one.
    let publishers = match o.publishers {
        0 if o.rate > 0.0 => 1,
        0 => 4,
        n => n,
    };
    let interval = (o.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / o.rate));
    let mut handles = Vec::new();
    for _ in 0..publishers {
        let (client, next, done, o, shared) = (
            client.clone(),
            next.clone(),
            done.clone(),
            o.clone(),
            shared.clone(),
        );
        handles.push(tokio::spawn(async move {
            let start = Instant::now();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= limit || Instant::now() >= until {
                    return Ok::<(), String>(());
                }
                if let Some(interval) = interval {
                    tokio::time::sleep_until(start + interval * i as u32).await;
                } else if o.window > 0 && i >= o.window as u64 {
                    // Deliveries of the publications before i - window
                    // (exact for one channel, the average for several).
                    let due = (i - o.window as u64) * connected / o.channels as u64;
                    while shared.delivered.load(Ordering::Relaxed) < due {
                        if Instant::now() >= until {
                            return Ok(());
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                let ch = channel(i as usize, o.channels);
                let mut body = format!("{} {}", i, shared.start.elapsed().as_micros());
                if body.len() < o.size {
                    body.push(' ');
                    body.extend(std::iter::repeat_n('x', o.size - body.len()));
                }
                let addr = o.publish_addr.as_deref().unwrap_or(&o.addr);
                let uri = format!("http://{}{}", addr, paths(&o, &ch).1);
                let req = hyper::Request::post(uri)
                    .header("content-type", "text/plain")
                    .body(Full::new(Bytes::from(body)))
                    .map_err(|e| e.to_string())?;
                let resp = client
                    .request(req)
                    .await
                    .map_err(|e| format!("publish: {e}"))?;
                let status = resp.status();
                let _ = resp.into_body().collect().await;
                if !status.is_success() {
                    return Err(format!("publish answered {status}"));
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for h in handles {
        h.await.map_err(|e| e.to_string())??;
    }
    // Every number below `done` was published: a publisher takes numbers in
    // order and stops at the first it does not publish.
    Ok(done.load(Ordering::SeqCst) as usize)
}

/// One subscriber: connects (at most 256 connecting at once), then records
/// every message until stopped.
async fn subscriber(
    o: &Options,
    ch: &str,
    shared: &Shared,
    seen: &Mutex<Seen>,
    connecting: &Semaphore,
    connected: &AtomicU64,
) -> Result<(), String> {
    let path = paths(o, ch).0;
    match o.transport.as_str() {
        "ws" => {
            let url = format!("ws://{}{}", o.addr, path);
            let ws = {
                let _permit = connecting.acquire().await.map_err(|e| e.to_string())?;
                tokio::time::timeout(o.timeout, crate::ws::connect(&url))
                    .await
                    .map_err(|_| "connect timed out".to_string())?
                    .map_err(|e| e.to_string())?
            };
            connected.fetch_add(1, Ordering::Relaxed);
            let (_, mut rx) = ws.split();
            while let Some(msg) = rx.next().await {
                match msg {
                    Ok(Message::Text(t)) => record(shared, seen, o.channels, t.as_bytes()),
                    Ok(Message::Binary(b)) => record(shared, seen, o.channels, &b),
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        "pusher" => {
            let url = format!("ws://{}{}", o.addr, path);
            let mut ws = {
                let _permit = connecting.acquire().await.map_err(|e| e.to_string())?;
                tokio::time::timeout(o.timeout, pusher::subscribed(&url, ch))
                    .await
                    .map_err(|_| "connect timed out".to_string())??
            };
            connected.fetch_add(1, Ordering::Relaxed);
            while let Ok((event, data)) = pusher::event(&mut ws).await {
                if !event.starts_with("pusher") {
                    record(shared, seen, o.channels, data.as_bytes());
                }
            }
        }
        "sse" | "mercure" => {
            let mut stream = {
                let _permit = connecting.acquire().await.map_err(|e| e.to_string())?;
                tokio::time::timeout(o.timeout, sse::Stream::connect(&o.addr, &path, None))
                    .await
                    .map_err(|_| "connect timed out".to_string())?
                    .map_err(|e| e.to_string())?
            };
            connected.fetch_add(1, Ordering::Relaxed);
            while let Ok(Some(event)) = stream.next_event().await {
                if event.event.as_deref().unwrap_or("message") == "message" {
                    record(shared, seen, o.channels, event.data.as_bytes());
                }
            }
        }
        _ => poll::subscriber(o, &path, shared, seen, connected).await?,
    }
    Ok(())
}

fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads and writes this process's own limit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
