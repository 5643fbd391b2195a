//! push-loadgen: subscribers and publishers for push, for tests and
//! benchmarks. Every loop is bounded in count and time.
//!
//! ```text
//! push-loadgen subscribe --transport ws|sse --addr HOST:PORT --path /ws/news [--expect N] [--timeout S]
//! ```
//!
//! `subscribe` opens one subscriber, prints `ready` on stderr once
//! connected, collects message data until `--expect` messages arrived or
//! `--timeout` seconds passed, and prints a JSON array of the data on
//! stdout (WebSocket text frames as they are; SSE events' data).
//!
//! ```text
//! push-loadgen bench --server push|nchan --addr HOST:PORT --transport ws|sse|poll
//!     --subscribers N --channels C --messages M --rate R [--duration S] [--size B]
//!     [--publish-addr HOST:PORT] [--window W] [--publishers P] [--pids PID,PID]
//!     [--idle] [--timeout S]
//! ```
//!
//! `bench` runs one scenario and prints one JSON object of figures (see
//! `bench.rs`). Subscribers connect to `--addr`; publications go to
//! `--publish-addr` if given (another engine sharing the channels through
//! a broker), else to `--addr`. With `--rate 0` (as fast as possible),
//! `--window W` holds publication `i` until the publications before
//! `i - W` were delivered; `--publishers P` publishing tasks (each sends
//! its next publication when the last was answered; default one at a
//! rate, four as fast as possible). Server CPU and RSS are summed over
//! `--pids`, and also given per process in that order.
//!
//! ```text
//! push-loadgen soak --addr HOST:PORT --socket PATH --pid PID [--duration S]
//!     [--channels C] [--ws N] [--sse N] [--poll N] [--rate R] [--hostile N] [--settle S]
//! ```
//!
//! `soak` runs mixed and hostile load against an engine, samples its RSS,
//! fds and threads, prints a table and exits non-zero unless they came
//! back and no well-behaved client saw an error (`soak/mod.rs`;
//! `bench/soak.sh` runs it against `bin/push-server`).

mod bench;
mod pusher;
mod soak;
mod sse;
mod stats;
mod ws;

use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

struct Args {
    transport: String,
    addr: String,
    path: String,
    expect: usize,
    timeout: Duration,
}

fn bench_options(mut args: impl Iterator<Item = String>) -> Result<bench::Options, String> {
    let mut o = bench::Options {
        server: "push".into(),
        addr: "127.0.0.1:8080".into(),
        publish_addr: None,
        transport: "ws".into(),
        subscribers: 1,
        channels: 1,
        messages: 10,
        rate: 10.0,
        duration: Duration::from_secs(10),
        size: 32,
        pids: Vec::new(),
        idle: false,
        timeout: Duration::from_secs(120),
        window: 0,
        publishers: 0,
    };
    let num = |v: &str, flag: &str| {
        v.parse::<f64>()
            .map_err(|_| format!("{flag} takes a number"))
    };
    while let Some(flag) = args.next() {
        if flag == "--idle" {
            o.idle = true;
            continue;
        }
        let v = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--server" => o.server = v,
            "--addr" => o.addr = v,
            "--publish-addr" => o.publish_addr = Some(v),
            "--transport" => o.transport = v,
            "--subscribers" => o.subscribers = num(&v, &flag)? as usize,
            "--channels" => o.channels = (num(&v, &flag)? as usize).max(1),
            "--messages" => o.messages = num(&v, &flag)? as usize,
            "--rate" => o.rate = num(&v, &flag)?,
            "--duration" => o.duration = Duration::from_secs_f64(num(&v, &flag)?),
            "--size" => o.size = num(&v, &flag)? as usize,
            "--window" => o.window = num(&v, &flag)? as usize,
            "--publishers" => o.publishers = num(&v, &flag)? as usize,
            "--timeout" => o.timeout = Duration::from_secs_f64(num(&v, &flag)?),
            "--pids" => {
                o.pids = v
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse().map_err(|_| format!("bad pid {p}")))
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(o)
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(String, Args), String> {
    let command = args.next().ok_or("usage: push-loadgen subscribe --transport ws|sse --addr HOST:PORT --path PATH [--expect N] [--timeout S]")?;
    let mut a = Args {
        transport: "ws".into(),
        addr: "127.0.0.1:8080".into(),
        path: "/".into(),
        expect: usize::MAX,
        timeout: Duration::from_secs(30),
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--transport" => a.transport = value,
            "--addr" => a.addr = value,
            "--path" => a.path = value,
            "--expect" => a.expect = value.parse().map_err(|_| "--expect takes a number")?,
            "--timeout" => {
                a.timeout =
                    Duration::from_secs_f64(value.parse().map_err(|_| "--timeout takes seconds")?)
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok((command, a))
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("soak") {
        let passed = match soak::Options::parse(std::env::args().skip(2)) {
            Ok(o) => soak::run(o).await,
            Err(e) => {
                eprintln!("push-loadgen: {e}");
                std::process::exit(2);
            }
        };
        match passed {
            Ok(true) => return,
            Ok(false) => std::process::exit(1),
            Err(e) => {
                eprintln!("push-loadgen: {e}");
                std::process::exit(1);
            }
        }
    }
    if std::env::args().nth(1).as_deref() == Some("bench") {
        match bench_options(std::env::args().skip(2)) {
            Ok(o) => match bench::run(o).await {
                Ok(v) => println!("{v}"),
                Err(e) => {
                    eprintln!("push-loadgen: {e}");
                    std::process::exit(1);
                }
            },
            Err(e) => {
                eprintln!("push-loadgen: {e}");
                std::process::exit(2);
            }
        }
        return;
    }
    let (command, args) = match parse(std::env::args().skip(1)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("push-loadgen: {e}");
            std::process::exit(2);
        }
    };
    let result = match command.as_str() {
        "subscribe" => subscribe(&args).await,
        other => Err(format!("unknown command {other}")),
    };
    match result {
        Ok(data) => println!("{}", serde_json::Value::from(data)),
        Err(e) => {
            eprintln!("push-loadgen: {e}");
            std::process::exit(1);
        }
    }
}

async fn subscribe(args: &Args) -> Result<Vec<String>, String> {
    let deadline = Instant::now() + args.timeout;
    let mut data = Vec::new();
    match args.transport.as_str() {
        "ws" => {
            let url = format!("ws://{}{}", args.addr, args.path);
            let mut ws = tokio::time::timeout_at(deadline, ws::connect(&url))
                .await
                .map_err(|_| "connect timed out".to_string())?
                .map_err(|e| format!("connect {url}: {e}"))?;
            eprintln!("ready");
            while data.len() < args.expect {
                match tokio::time::timeout_at(deadline, ws.next()).await {
                    Ok(Some(Ok(Message::Text(t)))) => data.push(t.to_string()),
                    Ok(Some(Ok(Message::Binary(b)))) => {
                        data.push(String::from_utf8_lossy(&b).into_owned())
                    }
                    Ok(Some(Ok(Message::Close(f)))) => return Err(format!("closed: {f:?}")),
                    Ok(Some(Ok(_))) => {}
                    Ok(Some(Err(e))) => return Err(e.to_string()),
                    Ok(None) | Err(_) => break,
                }
            }
        }
        "sse" => {
            let mut stream = sse::Stream::connect(&args.addr, &args.path, None)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("ready");
            while data.len() < args.expect {
                match tokio::time::timeout_at(deadline, stream.next_event()).await {
                    Ok(Ok(Some(event)))
                        if event.event.as_deref().unwrap_or("message") == "message" =>
                    {
                        data.push(event.data)
                    }
                    Ok(Ok(Some(_))) => {}
                    Ok(Ok(None)) | Err(_) => break,
                    Ok(Err(e)) => return Err(e.to_string()),
                }
            }
        }
        other => return Err(format!("unknown transport {other}")),
    }
    Ok(data)
}
